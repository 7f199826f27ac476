"""The bad-input catalogue: each case is one wrong thing a user does and what the message must say.

Used by ``tests/test_bad_input_catalogue.py`` (every case raised, checked) and by
``docs/reliability.md`` (its table is generated from these cases: ``python -m tests.bad_inputs``
rewrites it, and a test fails when the page and the real messages differ).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from ray import tune
from torch.utils.data import DataLoader, TensorDataset

from pytorch_hyperlight import ConfigError, DataLoaderError, MetricError, RunDirError, Runner
from pytorch_hyperlight.errors import HyperlightError, RayConnectionError
from tests.models import TinyDigits, configure_dataloaders, tiny_config

SINGLE = {"metric_to_optimize": "val_acc", "metric_opt_mode": "max", "verbose": 0}
SEARCH = {**SINGLE, "n_samples": 2}


@dataclass(frozen=True)
class BadInput:
    """One bad input: how it is given, the error it raises and what its message must contain.

    Attributes:
        name: a short identifier (the test id).
        given: the input as the user writes it (shown in the docs).
        call: runs the bad call; gets a scratch directory.
        error: the exception class raised.
        expected: text naming what was expected.
        received: text naming what was given.
        fix: text telling how to fix it.
        needs_ray: found only by asking the Ray cluster (runs with the session's cluster).
    """

    name: str
    given: str
    call: Callable[[Path], Any]
    error: type[HyperlightError]
    expected: str
    received: str
    fix: str
    needs_ray: bool = False
    tags: tuple[str, ...] = field(default=())


# --- helpers -----------------------------------------------------------------------------------
def single(settings: Any = None, module: Any = TinyDigits, loaders: Any = None, **config: Any):
    """A run_single_trial call of TinyDigits with the tiny config changed by ``config``."""

    def call(_: Path) -> Any:
        runner = Runner(loaders or configure_dataloaders)
        chosen = SINGLE if settings is None else settings
        return runner.run_single_trial(module, tiny_config(**config), chosen)

    return call


def search(space: Any = None, settings: Any = None, **kwargs: Any):
    """A run_hyper_opt call of TinyDigits over ``space`` (default: lr searched)."""

    def call(_: Path) -> Any:
        chosen = space if space is not None else tiny_config(lr=tune.loguniform(1e-3, 1e-1))
        runner = Runner(configure_dataloaders)
        return runner.run_hyper_opt(TinyDigits, chosen, {**SEARCH, **(settings or {})}, **kwargs)

    return call


def loaders_of_batch_size_only(batch_size: int) -> dict[str, Any]:
    return configure_dataloaders(batch_size)


def loaders_as_list(batch_size: int, n_workers: int = 0) -> list[Any]:
    return list(configure_dataloaders(batch_size).values())


def loaders_without_train(batch_size: int, n_workers: int = 0) -> dict[str, Any]:
    loaders = configure_dataloaders(batch_size)
    return {"training": loaders["train_loader"], "val_loader": loaders["val_loader"]}


def loaders_with_a_dataset(batch_size: int, n_workers: int = 0) -> dict[str, Any]:
    loaders = configure_dataloaders(batch_size)
    return {"train_loader": loaders["train_dataset"], "val_loader": loaders["val_loader"]}


def loaders_that_raise(batch_size: int, n_workers: int = 0) -> dict[str, Any]:
    raise FileNotFoundError("/data/digits.npz")


def loaders_with_empty_train(batch_size: int, n_workers: int = 0) -> dict[str, Any]:
    loaders = configure_dataloaders(batch_size)
    empty = TensorDataset(torch.zeros(0, 64), torch.zeros(0, dtype=torch.long))
    return {**loaders, "train_loader": DataLoader(empty, batch_size=batch_size)}


class RaisesInInit(TinyDigits):
    """A module whose constructor fails (a typo in the user's own code)."""

    def __init__(self, lr: float, n_hidden: int = 16) -> None:
        super().__init__(lr, n_hidden)
        raise AttributeError("'RaisesInInit' object has no attribute 'encoder'")


def results_dir_file(tmp: Path) -> str:
    file = tmp / "results.txt"
    file.write_text("not a directory")
    return str(file)


def unwritable_results_dir(tmp: Path) -> str:
    return "/proc/hyperlight-results"  # cannot be created, even by root


def with_env_results_dir(tmp: Path) -> Any:
    import os

    os.environ["HYPERLIGHT_RESULTS_DIR"] = results_dir_file(tmp)
    return single()(tmp)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def not_a_run_dir(tmp: Path) -> Any:
    (tmp / "notes").mkdir()
    return search(resume=tmp / "notes")(tmp)


def resume_true(tmp: Path) -> Any:
    runner = Runner(configure_dataloaders, experiment_id="nothing-yet")
    return runner.run_hyper_opt(
        TinyDigits, tiny_config(lr=tune.loguniform(1e-3, 1e-1)), SEARCH, resume=True
    )


def unreachable_ray(tmp: Path) -> Any:
    return search(settings={"ray_address": f"127.0.0.1:{closed_port()}"})(tmp)


LR = tune.loguniform(1e-3, 1e-1)

CASES: tuple[BadInput, ...] = (
    # --- settings ------------------------------------------------------------------------------
    BadInput(
        "misspelled_settings_key",
        "{'metric_to_optimise': 'val_acc'}",
        single({**SINGLE, "metric_to_optimise": "val_acc"}),
        ConfigError,
        "settings key",
        "'metric_to_optimise'",
        "did you mean 'metric_to_optimize'",
    ),
    BadInput(
        "settings_is_a_list",
        "tune_config=['val_acc', 'max']",
        single(["val_acc", "max"]),
        ConfigError,
        "dict",
        "list",
        "Settings",
    ),
    BadInput(
        "metric_opt_mode_maximize",
        "metric_opt_mode='maximize'",
        single({**SINGLE, "metric_opt_mode": "maximize"}),
        ConfigError,
        "'min' or 'max'",
        "got 'maximize'",
        "Fix these keys in the settings",
    ),
    BadInput(
        "max_epochs_zero",
        "config max_epochs=0",
        single(max_epochs=0),
        ConfigError,
        "an int >= 1",
        "got 0",
        "Fix these keys in the config",
    ),
    BadInput(
        "max_epochs_string",
        "config max_epochs='10'",
        single(max_epochs="10"),
        ConfigError,
        "an int >= 1",
        "got '10'",
        "Fix these keys in the config",
    ),
    BadInput(
        "batch_size_negative",
        "config batch_size=-1",
        single(batch_size=-1),
        ConfigError,
        "an int >= 1",
        "got -1",
        "Fix these keys in the config",
    ),
    BadInput(
        "ptl_precision_bf17",
        "ptl_precision='bf17'",
        single({**SINGLE, "ptl_precision": "bf17"}),
        ConfigError,
        "one of Lightning's precisions",
        "got 'bf17'",
        "Fix these keys in the settings",
    ),
    BadInput(
        "gpus_without_cuda",
        "gpus=5 on a machine without GPUs",
        single({**SINGLE, "gpus": 5}),
        ConfigError,
        "gpus",
        "5",
        "gpus=0",
    ),
    BadInput(
        "seed_not_a_number",
        "seed='abc'",
        single({**SINGLE, "seed": "abc"}),
        ConfigError,
        "an int or None",
        "got 'abc'",
        "Fix these keys in the settings",
    ),
    BadInput(
        "n_samples_zero",
        "n_samples=0",
        search(settings={"n_samples": 0}),
        ConfigError,
        "n_samples: expected an int >= 1",
        "got 0",
        "Fix these keys in the settings",
    ),
    BadInput(
        "n_samples_negative",
        "n_samples=-3",
        search(settings={"n_samples": -3}),
        ConfigError,
        "n_samples: expected an int >= 1",
        "got -3",
        "Fix these keys in the settings",
    ),
    BadInput(
        "cpu_per_trial_zero",
        "cpu_per_trial=0",
        search(settings={"cpu_per_trial": 0}),
        ConfigError,
        "cpu_per_trial: expected a number > 0",
        "got 0",
        "Fix these keys in the settings",
    ),
    BadInput(
        "gpu_per_trial_negative",
        "gpu_per_trial=-1",
        search(settings={"gpu_per_trial": -1}),
        ConfigError,
        "gpu_per_trial: expected a number >= 0",
        "got -1",
        "Fix these keys in the settings",
    ),
    BadInput(
        "epoch_upper_limit_below_grace_period",
        "grace_period=3, epoch_upper_limit=2",
        search(settings={"grace_period": 3, "epoch_upper_limit": 2}),
        ConfigError,
        "grace_period",
        "3",
        "epoch_upper_limit",
    ),
    BadInput(
        "results_dir_is_a_file",
        "results_dir='results.txt' (a file)",
        lambda tmp: single({**SINGLE, "results_dir": results_dir_file(tmp)})(tmp),
        ConfigError,
        "writable directory",
        "results_dir=",
        "Set results_dir",
    ),
    BadInput(
        "results_dir_unwritable",
        "results_dir='/proc/hyperlight-results'",
        lambda tmp: single({**SINGLE, "results_dir": unwritable_results_dir(tmp)})(tmp),
        ConfigError,
        "writable directory",
        "results_dir='/proc/hyperlight-results'",
        "Set results_dir",
    ),
    BadInput(
        "env_results_dir_is_a_file",
        "$HYPERLIGHT_RESULTS_DIR=results.txt (a file)",
        with_env_results_dir,
        ConfigError,
        "writable directory",
        "$HYPERLIGHT_RESULTS_DIR=",
        "Set results_dir",
    ),
    # --- metrics -------------------------------------------------------------------------------
    BadInput(
        "metric_never_logged",
        "metric_to_optimize='val_f2'",
        single({**SINGLE, "metric_to_optimize": "val_f2"}),
        MetricError,
        "logged",
        "'val_f2'",
        "metric_to_optimize",
    ),
    BadInput(
        "metric_without_stage_prefix",
        "metric_to_optimize='acc'",
        single({**SINGLE, "metric_to_optimize": "acc"}),
        MetricError,
        "train_",
        "'acc'",
        "val_acc",
    ),
    BadInput(
        "metric_logged_only_at_test",
        "metric_to_optimize='test_acc'",
        single({**SINGLE, "metric_to_optimize": "test_acc"}),
        MetricError,
        "a val_ metric",
        "'test_acc'",
        "cannot select",
    ),
    # --- the loader function -------------------------------------------------------------------
    BadInput(
        "loader_function_not_callable",
        "Runner(configure_dataloaders=42)",
        lambda tmp: Runner(42),  # type: ignore[arg-type]
        ConfigError,
        "f(batch_size, n_workers=...)",
        "got int",
        "must be a function",
    ),
    BadInput(
        "loader_function_wrong_signature",
        "def configure_dataloaders(batch_size)",
        single(loaders=loaders_of_batch_size_only),
        ConfigError,
        "f(batch_size, n_workers=...)",
        "loaders_of_batch_size_only(batch_size",
        "Add an 'n_workers' keyword",
    ),
    BadInput(
        "loader_function_returns_a_list",
        "configure_dataloaders returns a list",
        single(loaders=loaders_as_list),
        DataLoaderError,
        "dict of DataLoaders",
        "list",
        "return",
    ),
    BadInput(
        "loader_function_without_train_loader",
        "configure_dataloaders returns {'training': ...}",
        single(loaders=loaders_without_train),
        DataLoaderError,
        "'train_loader'",
        "['training', 'val_loader']",
        "train_loader_name",
    ),
    BadInput(
        "loader_function_returns_a_dataset",
        "'train_loader' is a TensorDataset",
        single(loaders=loaders_with_a_dataset),
        DataLoaderError,
        "DataLoader",
        "TensorDataset",
        "DataLoader(",
    ),
    BadInput(
        "loader_function_raises",
        "configure_dataloaders raises FileNotFoundError",
        single(loaders=loaders_that_raise),
        DataLoaderError,
        "dict of DataLoaders",
        "FileNotFoundError",
        "fix the function",
    ),
    BadInput(
        "empty_train_loader",
        "'train_loader' yields no batch",
        single(loaders=loaders_with_empty_train),
        DataLoaderError,
        "at least one batch",
        "0 batches",
        "Check the dataset",
    ),
    # --- the module ----------------------------------------------------------------------------
    BadInput(
        "module_instance",
        "run_single_trial(TinyDigits(lr=0.1), ...)",
        lambda tmp: single(module=TinyDigits(lr=0.1))(tmp),
        ConfigError,
        "LightningModule",
        "an instance of TinyDigits",
        "the class itself",
    ),
    BadInput(
        "not_a_lightning_module",
        "run_single_trial(torch.nn.Linear, ...)",
        single(module=torch.nn.Linear),
        ConfigError,
        "LightningModule",
        "Linear",
        "subclass",
    ),
    BadInput(
        "module_init_raises",
        "the module's __init__ raises",
        single(module=RaisesInInit),
        ConfigError,
        "RaisesInInit(...)",
        "AttributeError",
        "Fix the module's __init__",
    ),
    BadInput(
        "config_key_not_accepted",
        "config {'n_hiden': 8}",
        single(n_hiden=8),
        ConfigError,
        "TinyDigits",
        "'n_hiden'",
        "did you mean 'n_hidden'",
    ),
    # --- the search space ----------------------------------------------------------------------
    BadInput(
        "empty_search_space",
        "search_space_config={}",
        search(space={}),
        ConfigError,
        "at least one Ray Tune domain",
        "empty dict {}",
        "tune.loguniform",
    ),
    BadInput(
        "constants_only_space",
        "a search space of constants only",
        search(space=tiny_config()),
        ConfigError,
        "no search domain",
        "'lr'",
        "tune.choice",
    ),
    BadInput(
        "plain_list_for_a_domain",
        "'n_hidden': [8, 16] next to tune domains",
        search(space=tiny_config(lr=LR, n_hidden=[8, 16])),
        ConfigError,
        "not search domains",
        "'n_hidden': [8, 16]",
        "tune.choice([8, 16])",
    ),
    BadInput(
        "list_for_lr_next_to_domains",
        "'lr': [1e-3, 3e-3] next to tune domains",
        search(space=tiny_config(lr=[1e-3, 3e-3], n_hidden=tune.choice([8, 16]))),
        ConfigError,
        "not search domains",
        "'lr': [0.001, 0.003]",
        "tune.choice([0.001, 0.003])",
    ),
    BadInput(
        "max_epochs_searched_as_a_float",
        "max_epochs=tune.uniform(2, 4)",
        search(space=tiny_config(lr=LR, max_epochs=tune.uniform(2, 4))),
        ConfigError,
        "whole number",
        "tune.uniform(2, 4)",
        "tune.randint(2, 5)",
    ),
    # --- resume --------------------------------------------------------------------------------
    BadInput(
        "resume_not_a_run_dir",
        "resume=<a folder that is not a search>",
        not_a_run_dir,
        RunDirError,
        "run directory of a search",
        "notes",
        "resume",
    ),
    BadInput(
        "resume_true_nothing_to_resume",
        "resume=True with no earlier search",
        resume_true,
        RunDirError,
        "earlier search",
        "nothing-yet",
        "resume",
    ),
    # --- the cluster ---------------------------------------------------------------------------
    BadInput(
        "cpu_per_trial_beyond_the_cluster",
        "cpu_per_trial=8 on a 2-CPU cluster",
        search(settings={"cpu_per_trial": 8}),
        ConfigError,
        "2 CPUs",
        "cpu_per_trial=8",
        "cpu_per_trial",
        needs_ray=True,
    ),
    BadInput(
        "gpu_per_trial_beyond_the_cluster",
        "gpu_per_trial=2 on a 1-GPU cluster",
        search(settings={"gpu_per_trial": 2}),
        ConfigError,
        "1 GPUs",
        "gpu_per_trial=2",
        "gpu_per_trial",
        needs_ray=True,
    ),
    BadInput(
        "unreachable_ray_address",
        "ray_address='127.0.0.1:<closed port>'",
        unreachable_ray,
        RayConnectionError,
        "Ray cluster",
        "127.0.0.1:",
        "ray_address",
    ),
)


def normalized(message: str) -> str:
    """A message on one line, with what changes from run to run (paths, ports) as placeholders."""
    text = re.sub(r"/tmp/[^\s'\"]*", "<tmp>", message)
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", text)
    text = re.sub(r"--port \d+", "--port <port>", text)
    return " ".join(text.split())


DOCS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"


def table_row(case: BadInput, message: str) -> str:
    """The catalogue's row of ``case`` in docs/reliability.md."""
    cell = normalized(message).replace("|", "\\|")
    given = case.given.replace("|", "\\|")
    return f"| `{case.name}` | {given} | {case.error.__name__} | {cell} |"


def documented_row(name: str) -> str | None:
    """The row of the case ``name`` as the docs page has it, or None."""
    prefix = f"| `{name}` |"
    for line in DOCS_PAGE.read_text(encoding="utf-8").splitlines():
        if line.startswith(prefix):
            return line
    return None


def update_documented_row(case: BadInput, message: str) -> None:
    """Write ``case``'s row into the docs table (run the tests with HYPERLIGHT_UPDATE_DOCS=1)."""
    text = DOCS_PAGE.read_text(encoding="utf-8")
    row = table_row(case, message)
    old = documented_row(case.name)
    if old is not None:
        text = text.replace(old, row)
    else:
        marker = "<!-- end of the bad-input catalogue -->"
        text = text.replace(marker, row + "\n" + marker)
    DOCS_PAGE.write_text(text, encoding="utf-8")
