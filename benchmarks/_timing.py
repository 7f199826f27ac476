"""Shared by the benchmarks: time the steps of a library function without changing it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from types import ModuleType


def record_phases(module: ModuleType, names: Iterable[str], phases: dict[str, float]) -> None:
    """Wrap ``module.<name>`` for each name so that each call stores its duration in ``phases``."""

    def wrap(name: str) -> None:
        function = getattr(module, name)

        def timed(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phases[name] = time.perf_counter() - started

        setattr(module, name, timed)

    for name in names:
        wrap(name)


def record_calls(
    owner: object, names: Iterable[str], calls: list[tuple[str, float, float]]
) -> Callable[[], None]:
    """Wrap ``owner.<name>`` for each name so that each call appends ``(name, start, end)`` to
    ``calls``, in wall-clock seconds (``time.time()``: comparable with other processes' clocks).

    Returns:
        A function that puts the original attributes back.
    """
    originals = {name: getattr(owner, name) for name in names}

    def wrap(name: str) -> None:
        function = getattr(owner, name)

        def timed(*args: object, **kwargs: object) -> object:
            started = time.time()
            try:
                return function(*args, **kwargs)
            finally:
                calls.append((name, started, time.time()))

        setattr(owner, name, timed)

    for name in originals:
        wrap(name)

    def restore() -> None:
        for name, original in originals.items():
            setattr(owner, name, original)

    return restore
