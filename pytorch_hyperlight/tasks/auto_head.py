"""Fine-tuning tasks that replace a model's classifier head and train it with its own learning rate.

:class:`AAutoClsHeadClassificationWeightDecayTask` takes a (typically pre-trained) model, replaces
its classifier attribute (named by :meth:`~AAutoClsHeadClassificationWeightDecayTask._get_classifier_module_name`)
with a new :class:`FCClassifier` of ``n_classes`` outputs, and splits the parameters into three
optimizer groups:

| group | parameters | learning rate | weight decay |
|---|---|---|---|
| classifier | the new head's | ``classifier_lr`` | 0 |
| rest_no_decay | the others whose name contains one of ``no_weight_decay_param_names`` | ``rest_lr`` | 0 |
| rest_decay | all the others | ``rest_lr`` | ``weight_decay`` |

Two ready optimizer set-ups: :class:`AAutoClsHeadClassificationTaskWDAdamWStepLR` (AdamW, the rates
times ``step_lr_gamma`` every ``step_lr_step_size`` epochs) and
:class:`AAutoClsHeadClassificationTaskWDAdamWWarmup` (AdamW, linear warm-up over ``warmup`` steps,
then linear decay to 0 at ``n_train_steps``).

Example:
    >>> from torch import nn
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.body, self.fc = nn.Linear(8, 4), nn.Linear(4, 1000)
    ...     def forward(self, x):
    ...         return self.fc(self.body(x))
    >>> class FineTuned(AAutoClsHeadClassificationTaskWDAdamWStepLR):
    ...     def __init__(self, hparams):
    ...         super().__init__(hparams, Net(), nn.CrossEntropyLoss())
    ...     def _get_classifier_module_name(self):
    ...         return "fc"
    >>> hparams = {"n_classes": 3, "classifier_dropout": 0.2, "classifier_lr": 1e-3,
    ...            "rest_lr": 1e-5, "weight_decay": 0.01, "no_weight_decay_param_names": ["bias"],
    ...            "step_lr_step_size": 1, "step_lr_gamma": 0.6}
    >>> [(group["lr"], group["weight_decay"], len(group["params"]))
    ...  for group in FineTuned(hparams).get_optimizer_params()]
    [(0.001, 0, 4), (1e-05, 0, 1), (1e-05, 0.01, 1)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pytorch_lightning.utilities.types import OptimizerLRScheduler
from torch import nn

from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.tasks.classification_task import AClassificationTask, Criterion
from pytorch_hyperlight.tasks.hparams import require_hparams, step_lr_arguments
from pytorch_hyperlight.tasks.schedules import get_linear_schedule_with_warmup

#: The keys every auto-head task reads.
AUTO_HEAD_HPARAMS = (
    "n_classes",
    "classifier_dropout",
    "classifier_lr",
    "rest_lr",
    "weight_decay",
    "no_weight_decay_param_names",
)


class FCClassifier(nn.Module):
    """A two-layer classifier head: Linear, ReLU, Dropout, Linear.

    Weights start from ``N(0, 0.02)`` and biases at 0, so a new head adds no bias of its own to a
    pre-trained model.

    Args:
        n_features: the size of the features the head receives (and of its hidden layer).
        n_classes: the number of outputs (logits).
        dropout: the dropout probability between the two layers.

    Example:
        >>> import torch
        >>> FCClassifier(16, 3, dropout=0.1)(torch.zeros(5, 16)).shape
        torch.Size([5, 3])
    """

    def __init__(self, n_features: int, n_classes: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        self.classifier0 = nn.Linear(n_features, n_features)
        self.classifier1 = nn.Linear(n_features, n_classes)
        for layer in (self.classifier0, self.classifier1):
            nn.init.normal_(layer.weight, mean=0.0, std=0.02)
            nn.init.zeros_(layer.bias)

    def forward(self, pooled_output: torch.Tensor) -> torch.Tensor:
        """The logits of the pooled features."""
        hidden = self.dropout(F.relu(self.classifier0(pooled_output)))
        return self.classifier1(hidden)


def split_parameters(
    named_parameters: Iterable[tuple[str, nn.Parameter]],
    classifier_name: str,
    no_weight_decay_param_names: Sequence[str],
) -> dict[str, list[nn.Parameter]]:
    """The parameters in the groups ``classifier``, ``rest_no_decay`` and ``rest_decay``.

    A parameter is the classifier's when its name starts with ``classifier_name + "."``; of the
    others, those whose name contains one of ``no_weight_decay_param_names`` are not decayed.

    >>> model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    >>> {name: len(group) for name, group in split_parameters(
    ...     model.named_parameters(), "1", ["bias"]).items()}
    {'classifier': 2, 'rest_no_decay': 1, 'rest_decay': 1}
    """
    prefix = classifier_name + "."
    groups: dict[str, list[nn.Parameter]] = {
        "classifier": [],
        "rest_no_decay": [],
        "rest_decay": [],
    }
    for name, param in named_parameters:
        if name.startswith(prefix):
            groups["classifier"].append(param)
        elif any(no_decay in name for no_decay in no_weight_decay_param_names):
            groups["rest_no_decay"].append(param)
        else:
            groups["rest_decay"].append(param)
    return groups


class AAutoClsHeadClassificationWeightDecayTask(AClassificationTask):
    """A classification task that puts a new :class:`FCClassifier` head on ``model``.

    Subclasses name the head's attribute in :meth:`_get_classifier_module_name` (``"fc"`` for a
    torchvision ResNet, ``"head"`` for a ViT, ...) and define ``configure_optimizers`` using
    :meth:`get_optimizer_params`. The old head must have ``in_features`` (an ``nn.Linear``).

    Args:
        hparams: the config: ``n_classes``, ``classifier_dropout``, ``classifier_lr``, ``rest_lr``,
            ``weight_decay``, ``no_weight_decay_param_names`` and the optimizer set-up's keys.
        model: the network whose head is replaced (in place).
        criterion: the loss, called as ``criterion(logits, target)``.

    Raises:
        ConfigError: a key is missing; the model has no such head attribute, or it has no
            ``in_features``.
    """

    required_hparams: ClassVar[tuple[str, ...]] = AUTO_HEAD_HPARAMS

    def __init__(self, hparams: Mapping[str, Any], model: nn.Module, criterion: Criterion) -> None:
        if isinstance(hparams, Mapping):
            require_hparams(hparams, self.required_hparams, owner=type(self).__name__)
            name = self._get_classifier_module_name()
            n_features = self._head_in_features(model, name)
            setattr(model, name, self._build_classifier(hparams, n_features))
        super().__init__(hparams, model, criterion)

    def _head_in_features(self, model: nn.Module, name: str) -> int:
        old_classifier = getattr(model, name, None)
        if old_classifier is None:
            raise ConfigError(
                f"{type(self).__name__}._get_classifier_module_name() returned {name!r}, but "
                f"{type(model).__name__} has no such attribute. Return the name of the model's "
                f"classifier attribute (its children: {[child for child, _ in model.named_children()]})."
            )
        n_features = getattr(old_classifier, "in_features", None)
        if not isinstance(n_features, int):
            raise ConfigError(
                f"The model's classifier {name!r} ({type(old_classifier).__name__}) has no "
                "'in_features', so the size of the new head's input is unknown. Name an nn.Linear "
                "head, or set it to nn.Linear(n_features, n_classes) before calling super().__init__."
            )
        return n_features

    def _get_classifier_module_name(self) -> str:
        """Abstract: the attribute name of the model's classifier head (e.g. ``"fc"``)."""
        raise NotImplementedError(
            f"{type(self).__name__} must define _get_classifier_module_name(), returning the "
            "attribute name of the model's classifier head (for example 'fc' or 'head')."
        )

    def _build_classifier(self, hparams: Mapping[str, Any], n_features: int) -> nn.Module:
        """The new head: an :class:`FCClassifier` with ``n_classes`` outputs."""
        return FCClassifier(n_features, hparams["n_classes"], hparams["classifier_dropout"])

    def get_param_groups(self) -> dict[str, list[nn.Parameter]]:
        """The model's parameters in the groups ``classifier``, ``rest_no_decay``, ``rest_decay``.

        Raises:
            ConfigError: the classifier has no parameters.
        """
        name = self._get_classifier_module_name()
        groups = split_parameters(
            self.model.named_parameters(), name, self.hparams["no_weight_decay_param_names"]
        )
        if not groups["classifier"]:
            raise ConfigError(
                f"The model's classifier {name!r} has no parameters, so nothing would train the "
                "new head. Check _get_classifier_module_name()."
            )
        return groups

    def get_optimizer_params(self) -> list[dict[str, Any]]:
        """Optimizer parameter groups: lr ``classifier_lr`` / ``rest_lr``; weight decay on rest_decay only."""
        return [
            {
                "params": params,
                "lr": self.hparams[f"{group_name.split('_')[0]}_lr"],
                "weight_decay": self.hparams["weight_decay"] if group_name == "rest_decay" else 0,
            }
            for group_name, params in self.get_param_groups().items()
        ]


class AAutoClsHeadClassificationTaskWDAdamWStepLR(AAutoClsHeadClassificationWeightDecayTask):
    """AdamW on the three parameter groups; every rate times ``step_lr_gamma`` each ``step_lr_step_size`` epochs.

    Config keys: those of :class:`AAutoClsHeadClassificationWeightDecayTask` plus
    ``step_lr_step_size`` and ``step_lr_gamma`` (or ``lr_step_epochs``/``lr_step_factor``).
    """

    def _check_hparams(self, hparams: Mapping[str, Any]) -> None:
        super()._check_hparams(hparams)
        step_lr_arguments(hparams, owner=type(self).__name__)

    def configure_optimizers(self) -> OptimizerLRScheduler:
        """``torch.optim.AdamW`` over the parameter groups and a per-epoch ``StepLR``."""
        optimizer = torch.optim.AdamW(self.get_optimizer_params())
        step_size, gamma = step_lr_arguments(self.hparams, owner=type(self).__name__)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch", "frequency": 1},
        }


class AAutoClsHeadClassificationTaskWDAdamWWarmup(AAutoClsHeadClassificationWeightDecayTask):
    """AdamW on the three parameter groups; linear warm-up over ``warmup`` steps, then linear decay.

    Config keys: those of :class:`AAutoClsHeadClassificationWeightDecayTask` plus ``warmup``;
    ``n_train_steps`` comes from the Runner (with a plain Trainer, the Trainer's estimate is used).
    """

    required_hparams: ClassVar[tuple[str, ...]] = (*AUTO_HEAD_HPARAMS, "warmup")

    def configure_optimizers(self) -> OptimizerLRScheduler:
        """``torch.optim.AdamW`` over the parameter groups and a per-step warm-up/decay schedule."""
        optimizer = torch.optim.AdamW(self.get_optimizer_params(), betas=(0.9, 0.999), eps=1e-8)
        scheduler = get_linear_schedule_with_warmup(
            optimizer, self.hparams["warmup"], self._n_train_steps()
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1},
        }
