"""What the original tests and notebooks imported from torchvision and transformers, rebuilt offline.

- ``MNIST(..., train=True/False, download=True, transform=ToTensor())`` -> :func:`digits_train_test`:
  scikit-learn's bundled 8x8 digits (nothing to download) as ``1 x 8 x 8`` float images in [0, 1],
  the shape and range ``ToTensor()`` gave MNIST's ``1 x 28 x 28`` images, with a fixed train/test split
  (digits has none of its own).
- ``MNIST.classes`` -> :data:`DIGITS_CLASSES`: the same ten names.
- ``transformers.get_linear_schedule_with_warmup`` -> :func:`get_linear_schedule_with_warmup`: the same
  formula on torch's ``LambdaLR`` (transformers is not a dependency).
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch.utils.data import TensorDataset

#: ``torchvision.datasets.MNIST.classes``: digits has the same ten classes.
DIGITS_CLASSES = [
    "0 - zero",
    "1 - one",
    "2 - two",
    "3 - three",
    "4 - four",
    "5 - five",
    "6 - six",
    "7 - seven",
    "8 - eight",
    "9 - nine",
]

_TEST_FRACTION = 0.2
_SPLIT_SEED = 0


def digits_train_test() -> tuple[TensorDataset, TensorDataset]:
    """The digits images as MNIST's ``(train, test)`` datasets of ``(1 x 8 x 8 image, label)`` pairs.

    The split is the same on every call (a fixed generator), as MNIST's train and test files are.

    >>> train, test = digits_train_test()
    >>> len(train), len(test), tuple(train[0][0].shape), float(train[0][0].max()) <= 1.0
    (1438, 359, (1, 8, 8), True)
    """
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(_SPLIT_SEED))
    n_test = int(len(labels) * _TEST_FRACTION)
    test_idx, train_idx = order[:n_test], order[n_test:]
    return (
        TensorDataset(images[train_idx], labels[train_idx]),
        TensorDataset(images[test_idx], labels[test_idx]),
    )


def get_linear_schedule_with_warmup(
    optimizer: torch.optim.Optimizer, num_warmup_steps: int, num_training_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """transformers' schedule: the lr rises linearly to its initial value, then falls linearly to 0.

    >>> optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> scheduler = get_linear_schedule_with_warmup(optimizer, 2, 6)
    >>> [scheduler.lr_lambdas[0](step) for step in range(7)]
    [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0]
    """

    def lr_lambda(current_step: int) -> float:
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(
            0.0,
            float(num_training_steps - current_step)
            / float(max(1, num_training_steps - num_warmup_steps)),
        )

    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
