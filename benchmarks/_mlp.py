"""The digits MLP both sides of the Optuna comparison tune, and its search space, defined once.

Two hidden layers (widths searched), dropout, AdamW with learning rate and weight decay searched,
batch size searched; it logs ``train_loss``, ``val_loss``, ``val_acc`` (and the test ones) once per
epoch. Data: scikit-learn's bundled digits, split as in ``examples/digits.py``.

:data:`SPACE` is the one definition of the search space; :func:`ray_space` and :func:`suggest` turn
it into Ray Tune domains and Optuna ``trial.suggest_*`` calls, so the two sides search exactly the
same space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F

from examples.digits import N_CLASSES, N_FEATURES, configure_dataloaders

__all__ = [
    "GRID",
    "QUICK_GRID",
    "SPACE",
    "Budget",
    "DigitsMLP",
    "Parameter",
    "configure_dataloaders",
    "grid_points",
    "model_arguments",
    "ray_space",
    "suggest",
]


@dataclass(frozen=True)
class Budget:
    """The search both sides of a comparison run: the same trials, epochs, rungs and parallelism.

    Attributes:
        n_trials: trials in the search.
        max_epochs: epochs of a trial that is never stopped (ASHA's ``max_t``).
        workers: trials at once (one CPU and one torch thread each).
        grace_period: the first rung, in epochs trained.
        reduction_factor: rungs at ``grace_period * reduction_factor**k`` epochs; 1/rf go on.
        n_startup_trials: random trials before TPE (HyperOpt's ``n_initial_points``).
        batch_size_main: batch size of the re-validation and test of the model returned.
        seed: the searchers' seed and every trial's training seed.
    """

    n_trials: int = 100
    max_epochs: int = 27
    workers: int = 2
    grace_period: int = 1
    reduction_factor: int = 3
    n_startup_trials: int = 10
    batch_size_main: int = 256
    seed: int = 0

    def rungs(self) -> list[int]:
        """Epochs trained at which a trial may be stopped (both sides), below ``max_epochs``.

        >>> Budget().rungs()
        [1, 3, 9]
        """
        rungs, epochs = [], self.grace_period
        while epochs < self.max_epochs:
            rungs.append(epochs)
            epochs *= self.reduction_factor
        return rungs


@dataclass(frozen=True)
class Parameter:
    """One searched hyper-parameter.

    Attributes:
        name: the module's argument (or ``batch_size``).
        kind: ``"loguniform"``, ``"uniform"`` or ``"choice"``.
        low: lower bound (ranges).
        high: upper bound (ranges).
        choices: the values (choices).
    """

    name: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple[int, ...] = ()


SPACE = (
    Parameter("lr", "loguniform", 1e-4, 1e-1),
    Parameter("weight_decay", "loguniform", 1e-6, 1e-1),
    Parameter("width_1", "choice", choices=(32, 64, 128, 256)),
    Parameter("width_2", "choice", choices=(16, 32, 64, 128)),
    Parameter("dropout", "uniform", 0.0, 0.5),
    Parameter("batch_size", "choice", choices=(32, 64, 128)),
)


def ray_space(max_epochs: int) -> dict[str, Any]:
    """:data:`SPACE` as Ray Tune domains, plus the constant ``max_epochs``."""
    from ray import tune

    space: dict[str, Any] = {"max_epochs": max_epochs}
    for parameter in SPACE:
        if parameter.kind == "loguniform":
            space[parameter.name] = tune.loguniform(parameter.low, parameter.high)
        elif parameter.kind == "uniform":
            space[parameter.name] = tune.uniform(parameter.low, parameter.high)
        else:
            space[parameter.name] = tune.choice(list(parameter.choices))
    return space


def suggest(trial: Any) -> dict[str, Any]:
    """:data:`SPACE` sampled through an Optuna trial."""
    values: dict[str, Any] = {}
    for parameter in SPACE:
        if parameter.kind == "choice":
            values[parameter.name] = trial.suggest_categorical(parameter.name, parameter.choices)
        else:
            values[parameter.name] = trial.suggest_float(
                parameter.name, parameter.low, parameter.high, log=parameter.kind == "loguniform"
            )
    return values


#: The exhaustive reference of the search-quality benchmark: 3 x 2 x 2 x 2 = 24 points inside
#: :data:`SPACE`, around the values a person would try first.
GRID: dict[str, tuple[Any, ...]] = {
    "lr": (1e-3, 3e-3, 1e-2),
    "weight_decay": (1e-5, 1e-3),
    "width_1": (128, 256),
    "width_2": (64,),
    "dropout": (0.0, 0.2),
    "batch_size": (32,),
}

#: Two points of the grid, for ``--quick`` runs.
QUICK_GRID: dict[str, tuple[Any, ...]] = {**{k: v[:1] for k, v in GRID.items()}, "lr": (3e-3, 1e-2)}


def grid_points(grid: dict[str, tuple[Any, ...]] | None = None) -> list[dict[str, Any]]:
    """Every combination of the grid's values (:data:`GRID` by default), in a fixed order.

    >>> len(grid_points()), grid_points({"lr": (1, 2), "dropout": (0,)})
    (24, [{'lr': 1, 'dropout': 0}, {'lr': 2, 'dropout': 0}])
    """
    points: list[dict[str, Any]] = [{}]
    for name, values in (GRID if grid is None else grid).items():
        points = [{**point, name: value} for point in points for value in values]
    return points


def model_arguments(config: dict[str, Any]) -> dict[str, Any]:
    """The module's constructor arguments from a sampled config (``batch_size`` etc. left out)."""
    return {name: config[name] for name in ("lr", "weight_decay", "width_1", "width_2", "dropout")}


class DigitsMLP(pl.LightningModule):
    """A two-hidden-layer MLP on 8x8 digits, trained with AdamW."""

    def __init__(
        self, lr: float, weight_decay: float, width_1: int, width_2: int, dropout: float
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(N_FEATURES, width_1),
            torch.nn.ReLU(),
            torch.nn.Dropout(dropout),
            torch.nn.Linear(width_1, width_2),
            torch.nn.ReLU(),
            torch.nn.Dropout(dropout),
            torch.nn.Linear(width_2, N_CLASSES),
        )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.net(inputs)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.parameters(), lr=self.hparams["lr"], weight_decay=self.hparams["weight_decay"]
        )

    def _step(self, batch: Any, stage: str) -> torch.Tensor:
        inputs, targets = batch
        logits = self(inputs)
        loss = F.cross_entropy(logits, targets)
        accuracy = (logits.argmax(dim=1) == targets).float().mean()
        size = len(targets)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, batch_size=size)
        self.log(f"{stage}_acc", accuracy, on_step=False, on_epoch=True, batch_size=size)
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "test")
