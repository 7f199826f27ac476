"""The linear warm-up then linear decay learning-rate schedule, in plain torch.

The same schedule as ``transformers.get_linear_schedule_with_warmup`` (which the original imported),
without the transformers dependency: the learning rate grows linearly from 0 to the optimizer's rate
over ``warmup_steps`` steps, then falls linearly to 0 at ``total_steps``.

Example:
    >>> [linear_warmup_decay_factor(step, warmup_steps=2, total_steps=6) for step in range(7)]
    [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0]
"""

from __future__ import annotations

import functools
import numbers

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from pytorch_hyperlight.errors import ConfigError


def linear_warmup_decay_factor(step: int, *, warmup_steps: float, total_steps: float) -> float:
    """The multiplier of the base learning rate at optimizer step ``step`` (counted from 0).

    ``step / warmup_steps`` during the warm-up, then ``(total_steps - step) / (total_steps -
    warmup_steps)``, never below 0 (transformers' formula, including its guards against division by 0).
    """
    if step < warmup_steps:
        return float(step) / float(max(1, warmup_steps))
    return max(0.0, float(total_steps - step) / float(max(1, total_steps - warmup_steps)))


def _check_step_count(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ConfigError(
            f"{name} must be a number >= 0 (of optimizer steps), got {value!r} of type "
            f"{type(value).__name__}."
        )


def get_linear_schedule_with_warmup(
    optimizer: Optimizer,
    num_warmup_steps: float,
    num_training_steps: float,
    last_epoch: int = -1,
) -> LambdaLR:
    """A scheduler applying :func:`linear_warmup_decay_factor` to every parameter group.

    Step it once per optimizer step (Lightning: ``"interval": "step"``). The signature is
    transformers', so code written for it keeps working.

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        num_warmup_steps: steps of the linear warm-up from 0.
        num_training_steps: the total number of optimizer steps; the rate reaches 0 there.
        last_epoch: the index of the last step when resuming (-1: start).

    Raises:
        ConfigError: a step count is not an int >= 0.

    Example:
        >>> import torch
        >>> optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> scheduler = get_linear_schedule_with_warmup(optimizer, 2, 6)
        >>> optimizer.param_groups[0]["lr"]
        0.0
    """
    _check_step_count("num_warmup_steps (the config's 'warmup')", num_warmup_steps)
    _check_step_count("num_training_steps (the config's 'n_train_steps')", num_training_steps)
    factor = functools.partial(
        linear_warmup_decay_factor, warmup_steps=num_warmup_steps, total_steps=num_training_steps
    )
    return LambdaLR(optimizer, factor, last_epoch)
