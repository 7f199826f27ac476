"""The two kinds of run, from the Runner's call to the saved run directory.

- :mod:`~pytorch_hyperlight.runs.single_trial`: ``run_single_trial``: prepare -> fit -> re-validate
  -> test -> save.
- :mod:`~pytorch_hyperlight.runs.search`: ``run_hyper_opt``: prepare -> Ray Tune search -> the best
  model re-validated and tested -> save.

They sit above ``trial/`` (Lightning), ``search/`` (Ray Tune) and ``results/`` (run directories) and
are the only modules that use all three.
"""
