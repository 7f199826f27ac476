"""Training one configuration: the code path shared by the single trial and the search's trials.

- :mod:`~pytorch_hyperlight.trial.lightning`: the module's Lightning namespace, Trainer options, quiet mode
- :mod:`~pytorch_hyperlight.trial.building`: config checks and building the module
- :mod:`~pytorch_hyperlight.trial.hparam_reads`: which hyper-parameter keys the module reads
- :mod:`~pytorch_hyperlight.trial.data`: calling ``configure_dataloaders`` and picking the loaders
- :mod:`~pytorch_hyperlight.trial.epoch_recorder`: THE per-epoch recorder and its sinks (display, NaN guard)
- :mod:`~pytorch_hyperlight.trial.callbacks`: callback checks, early stopping with a grace period
- :mod:`~pytorch_hyperlight.trial.trainer`: loaders, seeded module and Trainer, alike for fit and dry run
- :mod:`~pytorch_hyperlight.trial.dry_run`: the first epoch on one batch per stage, before training
- :mod:`~pytorch_hyperlight.trial.fit`: ``dry_run``, ``fit_trial``, ``evaluate_checkpoint``
- :mod:`~pytorch_hyperlight.trial.prepare`: ``prepare_trial``: checks, loaders, spec and dry run, once
"""
