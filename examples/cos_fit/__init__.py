"""Seed 000's experiment: single-hidden-layer sigmoid networks fitting cos(x) on [-2pi, 2pi].

Four configurations, neurons 10 and 100 times batch sizes 20 and 200, trained three ways:

- ``python -m examples.cos_fit.python_api``: the Runner's grid search in Python;
- ``hyperlight tune --config-dir examples/cos_fit/conf data.batch_size=20,200 model.num_neurons=10,100``
  then ``python -m examples.cos_fit.plot <run_dir>``: the command line;
- ``python -m examples.cos_fit.zen``: hydra-zen's ``launch`` driving ``hyperlight_task``.

Each saves the seed's plot of every fit against the truth. As in the seed, the best fit is batch
size 20 with 100 neurons. ``--fast`` (or ``trainer.max_epochs=5``) trains 5 epochs instead of 30.
"""
