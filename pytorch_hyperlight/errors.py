"""Exceptions raised by pytorch_hyperlight (and the one warning category it issues).

Every error the library raises on purpose derives from :class:`HyperlightError`, so callers can catch
them all at once. Each message says what was expected, what was received and how to fix it.
"""

from __future__ import annotations


class HyperlightError(Exception):
    """Root of every error raised on purpose by pytorch_hyperlight."""


class ConfigError(HyperlightError, ValueError):
    """A configuration or settings value is unknown, missing or of the wrong type or range."""


class DataLoaderError(HyperlightError, ValueError):
    """``configure_dataloaders`` returned something other than the expected loaders."""


class MetricError(HyperlightError, ValueError):
    """The metric to optimise is not logged, or logged metric names break the naming convention."""


class NonFiniteMetricError(HyperlightError, ArithmeticError):
    """A logged metric became NaN or infinite; the trial was stopped."""


class RayConnectionError(HyperlightError, ConnectionError):
    """No Ray cluster answers at the given address."""


class SearchError(HyperlightError, RuntimeError):
    """A hyper-parameter search could not produce a result (for example: every trial failed)."""


class RunDirError(HyperlightError, ValueError):
    """A run directory is missing, incomplete, or a run name is used twice."""


class UnreadConfigKeyWarning(UserWarning):
    """A config key that the module never read during the dry run (a misspelt key?).

    Issued for a single trial's config keys and a search space's constants; a searched key that is
    never read is a :class:`ConfigError` instead. Silence it when a callback reads the key:
    ``warnings.filterwarnings("ignore", category=UnreadConfigKeyWarning)``.
    """
