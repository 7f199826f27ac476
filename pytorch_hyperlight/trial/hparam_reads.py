"""Which hyper-parameter keys a module reads, watched during the dry run to catch misspelt keys.

A searched key that the module never reads (``n_hiden`` where it reads ``n_hidden``) makes every
trial train the same model, whatever value is drawn. So during the one-batch dry run, and only
there, the module's hyper-parameters are mappings that record each key read:

- ``__init__(self, hparams)``: ``hparams`` is a :class:`HparamReads.recording` copy of the config (a
  ``dict`` subclass that behaves like the plain dict a real fit passes);
- ``self.save_hyperparameters(...)``: the mapping Lightning keeps as ``self.hparams`` records too
  (:meth:`HparamReads.watch`, installed by
  :func:`pytorch_hyperlight.trial.lightning.hparams_watched_class`);
- keyword constructors: every argument the module receives counts as read (unknown keys are
  already an error of :func:`pytorch_hyperlight.trial.building.check_config`).

A key counts as read through ``h[key]``, ``h.get(key)``, ``key in h``, ``h.setdefault(key)`` and
``self.hparams.key``, in ``__init__``, ``configure_optimizers``, the steps or the callbacks;
``h.items()`` / ``h.values()`` outside Lightning's own code read every key. Copies made with
``h.copy()``, ``copy.copy`` or ``copy.deepcopy`` keep recording. Copies made by CPython without
calling any method (``dict(h)``, ``{**h}``, ``f(**h)``) cannot be watched; this is what lets
Lightning copy the mapping without every key counting as read.

Watching never makes the dry run fail where training would not: code that insists on an exact
``dict`` (``OmegaConf.create(hparams)``, ``yaml.safe_dump``) fails on a subclass, so a dry run that
fails while watching runs again unwatched (:func:`pytorch_hyperlight.trial.dry_run.dry_run`), and
then the reads are unknown and no key is reported.

Example:
    >>> reads = HparamReads()
    >>> hparams = reads.recording({"lr": 0.1, "n_hiden": 8, "max_epochs": 2})
    >>> hparams["lr"], hparams.get("n_hidden", 64)
    (0.1, 64)
    >>> sorted(reads.read_keys())
    ['lr', 'n_hidden']
    >>> unread_keys(hparams, reads.read_keys())
    ['n_hiden']
    >>> closest_read_key("n_hiden", reads.read_keys())
    'n_hidden'
"""

from __future__ import annotations

import copy
import difflib
import sys
import warnings
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from pytorch_hyperlight.errors import ConfigError, UnreadConfigKeyWarning
from pytorch_hyperlight.settings import FRAMEWORK_CONFIG_KEYS

#: Top-level package names of Lightning: its own iterations over a mapping are not the module's reads.
_LIGHTNING_PACKAGES = frozenset({"lightning", "pytorch_lightning", "lightning_fabric"})


def _called_from_lightning(depth: int) -> bool:
    """Whether the frame ``depth`` levels above the caller runs Lightning's own code."""
    caller = sys._getframe(depth + 1)
    return str(caller.f_globals.get("__name__", "")).split(".")[0] in _LIGHTNING_PACKAGES


if TYPE_CHECKING:
    _MappingBase = dict[Any, Any]
else:  # a plain mixin, so that the recording class's layout is its dict base's own
    _MappingBase = object


class _Recording(_MappingBase):
    """Records key reads into the class's ``_reads`` (bound by :meth:`HparamReads._type`).

    A mixin combined with ``dict`` (the ``hparams`` argument) or with Lightning's ``AttributeDict``
    (``self.hparams``); adding nothing to the layout, it lets an ``AttributeDict`` change its class
    to the combination in place. Neither ``__iter__`` nor ``keys`` is overridden, so CPython's fast
    dict copy (``dict(h)``, ``AttributeDict(h)``, ``d.update(h)``) reads nothing.
    """

    __slots__ = ()
    _reads: HparamReads
    _plain: type

    def __getitem__(self, key: Any) -> Any:
        self._reads.record(key)
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._reads.record(key)
        return super().get(key, default)

    def __contains__(self, key: Any) -> bool:
        self._reads.record(key)
        return super().__contains__(key)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self._reads.record(key)
        return super().setdefault(key, default)

    def items(self) -> Any:
        if not _called_from_lightning(1):
            self._reads.everything = True
        return super().items()

    def values(self) -> Any:
        if not _called_from_lightning(1):
            self._reads.everything = True
        return super().values()

    def copy(self) -> Any:
        return type(self)(self)

    def __copy__(self) -> Any:
        return type(self)(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        result = type(self)()
        memo[id(self)] = result
        result.update(copy.deepcopy(dict(self), memo))
        return result

    def __reduce_ex__(self, protocol: Any) -> Any:
        return self._plain, (dict(self),)  # pickled as the plain mapping it stands for


class HparamReads:
    """The keys one dry run saw the module read, shared by all its recording mappings.

    Attributes:
        keys: every key read so far (strings only).
        everything: a whole-mapping read (``items()``/``values()``) happened: every key counts.
        observable: False when a mapping could not be watched (then nothing is known).
    """

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.everything = False
        self.observable = True
        self._types: dict[type, type] = {}

    def record(self, key: Any) -> None:
        """Note one read of ``key``."""
        if isinstance(key, str):
            self.keys.add(key)

    def record_all(self, keys: Iterable[Any]) -> None:
        """Note reads of every key in ``keys``."""
        for key in keys:
            self.record(key)

    def _type(self, base: type) -> type:
        if base not in self._types:
            namespace = {"_reads": self, "_plain": base, "__module__": __name__}
            name = f"Recording{base.__name__[0].upper()}{base.__name__[1:]}"
            self._types[base] = type(name, (_Recording, base), namespace)
        return self._types[base]

    def recording(self, mapping: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``mapping`` (a plain dict) that records its reads here."""
        recording: dict[str, Any] = self._type(dict)(mapping)
        return recording

    def watch(self, mapping: Any) -> Any:
        """Make ``mapping`` (e.g. Lightning's ``AttributeDict``) record its reads here, in place.

        Its class becomes a recording subclass of its own class, so everything holding it (the
        module, Lightning) sees the same object. A mapping that cannot be watched (not a ``dict``,
        e.g. an OmegaConf config) makes the reads unknown (:attr:`observable` False).
        """
        if isinstance(mapping, _Recording):
            return mapping
        if not isinstance(mapping, dict):
            self.observable = False
            return mapping
        try:
            # object.__setattr__: an AttributeDict would store '__class__' as a key instead
            object.__setattr__(mapping, "__class__", self._type(type(mapping)))
        except TypeError:  # a layout that cannot change class
            self.observable = False
        return mapping

    def read_keys(self) -> frozenset[str] | None:
        """The keys read; None when any key may have been read (a whole-mapping read, or a
        mapping that could not be watched), so that no key can be called unread."""
        if self.everything or not self.observable:
            return None
        return frozenset(self.keys)


def unread_keys(keys: Iterable[str], read: Collection[str]) -> list[str]:
    """The keys, in order, that neither the module nor the framework read.

    >>> unread_keys(["lr", "n_hiden", "max_epochs", "batch_size"], {"lr", "n_hidden"})
    ['n_hiden']
    """
    return [key for key in keys if key not in read and key not in FRAMEWORK_CONFIG_KEYS]


def closest_read_key(key: str, read: Collection[str]) -> str | None:
    """The read key (or framework key) closest to ``key`` by spelling, or None if none is close.

    >>> closest_read_key("max_epoch", {"lr"}), closest_read_key("momentum", {"lr"})
    ('max_epochs', None)
    """
    candidates = sorted(set(read) | set(FRAMEWORK_CONFIG_KEYS))
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    return close[0] if close else None


def describe_unread(keys: Iterable[str], read: Collection[str]) -> str:
    """``'n_hiden' (did you mean 'n_hidden'?), 'x'``: each key with the closest key the module read.

    >>> describe_unread(["n_hiden", "colour"], {"n_hidden", "lr"})
    "'n_hiden' (did you mean 'n_hidden'?), 'colour'"
    """
    parts = []
    for key in keys:
        close = closest_read_key(key, read)
        parts.append(f"{key!r} (did you mean {close!r}?)" if close else repr(key))
    return ", ".join(parts)


#: Why a key can be read without the dry run seeing it, and what to do then.
_UNWATCHED_READS = (
    "Reads through a copy made by dict(hparams), {**hparams} or **hparams cannot be watched: read "
    "the key from hparams (or self.hparams) itself."
)


def report_unread_keys(
    keys: Iterable[str],
    read: Collection[str] | None,
    *,
    class_name: str,
    searched: Collection[str] = (),
    stacklevel: int = 2,
) -> None:
    """Raise for searched keys the module never read; warn for its other unread keys.

    Args:
        keys: the config's (or search space's) top-level keys.
        read: the keys the dry run saw the module read; None: unknown (nothing is reported).
        class_name: the module class, for the messages.
        searched: the keys whose values are searched (an unread one is an error).
        stacklevel: passed to :func:`warnings.warn` (the user's call, counted from here).

    Raises:
        ConfigError: a searched key the module never read, with the closest key it did read.
    """
    if read is None:
        return
    unread = unread_keys(keys, read)
    seen = f"{class_name} read: {sorted(read)}."
    unread_searched = [key for key in unread if key in searched]
    if unread_searched:
        many = len(unread_searched) > 1
        raise ConfigError(
            f"Search space key{'s' if many else ''} {describe_unread(unread_searched, read)} "
            f"{'are' if many else 'is'} never read by {class_name}: the one-batch dry run watched "
            "its hyper-parameter reads (hparams[key], hparams.get(key), key in hparams, "
            "self.hparams.key; in __init__, configure_optimizers, the steps and the callbacks) and "
            "saw none, so every trial would train the same model whatever value is drawn. "
            f"{seen} Rename each to a key the module reads, or remove it from the search space. "
            f"{_UNWATCHED_READS}"
        )
    others = [key for key in unread if key not in searched]
    if others:
        warnings.warn(
            f"Config key{'s' if len(others) > 1 else ''} {describe_unread(others, read)} "
            f"{'were' if len(others) > 1 else 'was'} never read by {class_name} in the one-batch "
            f"dry run: misspelt? {seen} If a callback or your own code reads them, ignore this "
            "(category pytorch_hyperlight.errors.UnreadConfigKeyWarning).",
            UnreadConfigKeyWarning,
            stacklevel=stacklevel,
        )
