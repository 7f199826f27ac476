"""The one place that reaches into Ray's private arguments and Ray Tune's private attributes,
state formats and developer APIs.

Everything else in the package uses Ray's public API (``ray.tune``, ``ray.tune.search``,
``ray.tune.schedulers``, ...). What is here is either private (an underscore attribute, the keys of
an object's saved state) or a developer API: ``ray.tune.search.sample`` (the classes behind
``tune.uniform``, ``tune.choice``, ...) and ``ray.tune.search.variant_generator`` (Tune's own parser
and sampler of a search space), marked ``@DeveloperAPI`` in Ray, "may change across minor
releases". Each name here says what it relies on; ``tests/search/test_tune_internals.py`` checks
each against the installed Ray, so a Ray upgrade that changes one of them fails there, loudly,
instead of silently breaking resume, the search-space checks or the results tables.

The search-space names are imported from here (``from pytorch_hyperlight.search.tune_internals
import Float``); Ray is imported only when one is first asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Ray Tune's domain and sampler classes used to read a search space (``ray.tune.search.sample``).
SAMPLE_CLASSES = (
    "Categorical",
    "Domain",
    "Float",
    "Function",
    "Integer",
    "LogUniform",
    "Normal",
    "Quantized",
)
#: Tune's search-space parser and sampler (``ray.tune.search.variant_generator``).
VARIANT_FUNCTIONS = ("assign_value", "generate_variants", "parse_spec_vars")

#: Keys of ``SearchGenerator.get_state()`` that resume changes to run more trials.
_TOTAL_SAMPLES = "total_samples"
_FINISHED = "finished"


def loopback_init_options() -> dict[str, Any]:
    """``ray.init`` options that make a library-started Ray listen on loopback only.

    ``_node_ip_address`` is a private argument of ``ray.init`` (core Ray, not Tune): without it Ray
    binds its node to the machine's outward address. No public argument does this in Ray 2.60
    (``RAY_NODE_IP_ADDRESS`` is read by ``ray start``, not by ``ray.init``), so it lives here.
    """
    return {"_node_ip_address": "127.0.0.1"}


def restored_configs(tuner: Any) -> tuple[Any, Any]:
    """``(TuneConfig, RunConfig)`` of a Tuner returned by ``Tuner.restore``.

    They were pickled into ``tuner.pkl`` when the search started; ``Tuner`` has no public getter.
    The objects are the ones ``fit`` will use, so changing them changes the resumed run.
    """
    internal = tuner._local_tuner
    return internal._tune_config, internal._run_config


def result_grid_trials(result_grid: Any) -> list[Any]:
    """The ``Trial`` objects behind a ResultGrid, in the grid's order (they carry the status)."""
    return list(result_grid._experiment_analysis.trials)


def set_sample_limit(search_algorithm: Any, n_trials: int) -> None:
    """Let a restored ``SearchGenerator`` create trials until ``n_trials`` exist.

    Its state (restored from the experiment directory) holds the trial count it stops at; the
    searcher inside it keeps its own state, so the search continues where it stopped.
    """
    state = search_algorithm.get_state()
    state[_TOTAL_SAMPLES] = n_trials
    state[_FINISHED] = False
    search_algorithm.set_state(state)


def sample_limit(search_algorithm: Any) -> int:
    """The number of trials a ``SearchGenerator`` creates in all."""
    return int(search_algorithm.get_state()[_TOTAL_SAMPLES])


def replace_restored_callbacks(tuner: Any, callbacks: Sequence[Any]) -> None:
    """Give a Tuner returned by ``Tuner.restore`` the callbacks its resumed run will call.

    The restored ``RunConfig`` holds the callbacks of the process that started the search (pickled
    into ``tuner.pkl``): dead progress views and a scheduler-state keeper bound to objects that no
    longer run. Ray 2.60 offers no public means to replace them: ``Tuner.restore`` takes ``path``,
    ``trainable``, ``resume_unfinished``, ``resume_errored``, ``restart_errored``, ``param_space``
    and ``storage_filesystem``, no run config or callbacks, and ``Tuner`` has no setter. So the
    live callbacks are written into the restored ``RunConfig`` (:func:`restored_configs`), which is
    the object ``fit`` reads them from.
    """
    _, run_config = restored_configs(tuner)
    run_config.callbacks = list(callbacks)


def __getattr__(name: str) -> Any:
    """``SAMPLE_CLASSES`` and ``VARIANT_FUNCTIONS``, from Ray on first use."""
    if name in SAMPLE_CLASSES:
        from ray.tune.search import sample

        return getattr(sample, name)
    if name in VARIANT_FUNCTIONS:
        from ray.tune.search import variant_generator

        return getattr(variant_generator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
