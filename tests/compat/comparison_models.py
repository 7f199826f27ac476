"""The model cells of the original ``examples/image_classification/boring_mnist_model_comparison.ipynb``.

Cells 13 (``LitPrettyBoringMNIST``), 22 (``LeNetSimplifiedBoringMNIST``) and 23
(``LitSuperBoringMNIST``), moved out of the test module because a search sends the module class to
Ray workers, which import it by module name. Cell 12 (``LeNetBoringMNIST``) and the loader cells 4-5
are the same as in ``boring_mnist.ipynb``: they come from ``tests/compat/notebook_models.py``.

Changed only where digits forces it: the convolutions pad by 1 and ``fc1`` takes ``8 * 2 * 2`` inputs
(an 8x8 image would shrink to nothing before the second pooling; MNIST's 28x28 left ``8 * 5 * 5``).

This module imports :mod:`pytorch_hyperlight.tasks.classification` at import time, so
``tests/compat/conftest.py`` keeps pytest from importing it while collecting doctests: until that
module exists, only the tests that use these classes fail.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from tests.compat.notebook_models import LeNetBoringMNIST

# ruff sorts a module it cannot find (yet) as third-party: keep this import apart
# isort: split
from pytorch_hyperlight.tasks.classification import (
    ClassificationTaskAdamStepLR,
    ClassificationTaskAdamWWarmup,
)


# [cell 13]
class LitPrettyBoringMNIST(ClassificationTaskAdamStepLR):
    def __init__(self, hparams):
        n_classes = hparams["n_classes"]
        model = LeNetBoringMNIST(n_classes)
        criterion = nn.CrossEntropyLoss()
        super().__init__(hparams, model, criterion)


# [cell 22]
class LeNetSimplifiedBoringMNIST(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.fc1 = nn.Linear(8 * 2 * 2, 30)
        self.fc2 = nn.Linear(30, n_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, int(x.nelement() / x.shape[0]))
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return x


# [cell 23]
class LitSuperBoringMNIST(ClassificationTaskAdamWWarmup):
    def __init__(self, hparams):
        n_classes = hparams["n_classes"]
        model = LeNetSimplifiedBoringMNIST(n_classes)
        criterion = nn.CrossEntropyLoss()
        super().__init__(hparams, model, criterion)
