"""Ray's lifecycle for a search: use it, connect to it, or start it on loopback; stop only our own.

Three cases, checked in this order by :func:`ray_session`:

1. Ray is already initialised in this process by the user (``ray.init``): use it, never shut it down.
2. An address is given (``ray_address`` or ``$RAY_ADDRESS``): connect to it; disconnect afterwards.
   Whenever an address is given, something must listen there: that is checked within seconds first
   (``ray.init`` would otherwise hang for minutes), so a mistyped address never goes unnoticed.
3. Otherwise a private local Ray that listens on loopback only, without dashboard, quietly. With
   ``keep=True`` (what a search asks for) it stays up after the block, so that the next search in
   this process (a notebook running several) reuses it instead of paying ``ray.init`` and
   ``ray.shutdown`` again (about 3-6 s); it is started again when what the next search needs differs
   (console output, the CPUs and GPUs this process sees), and shut down at interpreter exit, when
   another address is used, or by :func:`shutdown_library_ray`. A watchdog
   (:mod:`~pytorch_hyperlight.search.reaper`) stops every process of that Ray within seconds if this
   process dies without shutting it down.

The address is resolved once per search (:func:`resolve_target`, before Ray starts);
:func:`ray_session` takes the resolved :class:`RayTarget`. :func:`configure_environment` sets the
environment variables Ray reads at import time (only where the user has not set them), so it runs
before ``ray`` is imported.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytorch_hyperlight.errors import ConfigError, RayConnectionError
from pytorch_hyperlight.search import tune_internals

#: Environment defaults for a quiet Ray that stays on loopback (see docs/user-guide/search.md).
RAY_ENVIRONMENT: Mapping[str, str] = {
    # Else a local Ray listens on the machine's external address.
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    # Ray 2.60 writes ~/.ray/auth_token on a local start; a later `ray start` + driver then disagree.
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    # With RunConfig(verbose=0) and log_to_driver=False: no console lines from Tune.
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
}

_CONNECT_TIMEOUT_S = 2.0

if TYPE_CHECKING:
    from pytorch_hyperlight.search.reaper import Watchdog


@dataclass(frozen=True)
class RaySessionInfo:
    """What the search learned about the cluster it runs on.

    Attributes:
        started_here: True when the library started (or connected to) this Ray, and so stops it
            (a local one it keeps: when no longer needed, at the latest at exit).
        address: the cluster address, or ``"local"`` for a private local Ray.
        node_resources: per alive node, its total ``{"CPU": .., "GPU": .., ...}``.
        reused: True for a local Ray that an earlier search in this process started and kept.
    """

    started_here: bool
    address: str
    node_resources: tuple[Mapping[str, float], ...] = field(default_factory=tuple)
    reused: bool = False


@dataclass(frozen=True)
class RayTarget:
    """Where a search runs, resolved once before Ray starts (:func:`resolve_target`).

    Attributes:
        address: the cluster to connect to (already found listening), or None for a local Ray.
    """

    address: str | None

    @property
    def is_local(self) -> bool:
        """True when no address is given: the Ray of this process, or a local one started here."""
        return self.address is None


def configure_environment() -> None:
    """Set Ray's environment defaults (loopback, no auth token, quiet) without overriding the user's.

    Call before ``import ray``; calling it again is harmless.
    """
    for name, value in RAY_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def resolve_address(ray_address: str | None) -> str | None:
    """The cluster address to connect to: the setting, else ``$RAY_ADDRESS``, else None (start local).

    >>> resolve_address("127.0.0.1:6379")
    '127.0.0.1:6379'
    >>> resolve_address("local") is None
    True
    """
    address = ray_address if ray_address is not None else os.environ.get("RAY_ADDRESS") or None
    if address in (None, "", "local"):
        return None
    return address


def parse_host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``host:port`` or ``ray://host:port`` address; None for ``auto``.

    >>> parse_host_port("ray://10.0.0.5:10001")
    ('10.0.0.5', 10001)
    >>> parse_host_port("127.0.0.1:6379")
    ('127.0.0.1', 6379)
    >>> parse_host_port("auto") is None
    True
    """
    if address == "auto":
        return None
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rstrip("/").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(
            f"ray_address must look like 'host:port' (e.g. '127.0.0.1:6379'), 'ray://host:port' or "
            f"'auto', got {address!r}."
        )
    return host.strip("[]"), int(port)


def check_reachable(address: str, timeout_s: float = _CONNECT_TIMEOUT_S) -> None:
    """Fail within ``timeout_s`` with :class:`RayConnectionError` when nothing listens at ``address``."""
    host_port = parse_host_port(address)
    if host_port is None:
        return
    try:
        with socket.create_connection(host_port, timeout=timeout_s):
            pass
    except OSError as error:
        raise RayConnectionError(
            f"No Ray cluster answers at ray_address={address!r} ({error}). Start one with "
            f"`ray start --head --port {host_port[1]}` on that machine, fix the address, or leave "
            "ray_address (and $RAY_ADDRESS) unset to run on a local Ray."
        ) from error


def resolve_target(ray_address: str | None) -> RayTarget:
    """The setting (else ``$RAY_ADDRESS``) resolved, and checked to answer within seconds.

    Raises:
        ConfigError: the address is malformed.
        RayConnectionError: nothing listens at the address.
    """
    configure_environment()
    address = resolve_address(ray_address)
    if address is not None:
        check_reachable(address)  # a wrong address is an error even when Ray is already running
    return RayTarget(address)


def local_resources() -> dict[str, float]:
    """CPUs and GPUs a local Ray started by this process would have (checked before starting it)."""
    gpus = 0
    try:
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # a broken CUDA setup must not stop a CPU search
        gpus = 0
    return {"CPU": float(os.cpu_count() or 1), "GPU": float(gpus)}


@contextmanager
def ray_session(
    target: RayTarget | str | None, *, verbose: int = 1, keep: bool = False
) -> Iterator[RaySessionInfo]:
    """Use, connect to or start Ray for the duration of the ``with`` block.

    Args:
        target: where to run, from :func:`resolve_target`; a string or None is resolved here
            (``ray_address``: an existing cluster's address; None: ``$RAY_ADDRESS``, else local).
        verbose: 2 forwards the workers' output to this console; below that they stay quiet.
        keep: leave a local Ray started by the library running after the block, for the next
            search in this process (see the module's docstring); False: shut it down.

    Yields:
        What the session knows about the cluster (:class:`RaySessionInfo`).

    Raises:
        RayConnectionError: nothing listens at the given address.
    """
    if not isinstance(target, RayTarget):
        target = resolve_target(target)
    configure_environment()
    import ray

    with _lock:
        _forget_if_not_running(ray)
        users_ray = ray.is_initialized() and _kept is None
    if users_ray:
        yield RaySessionInfo(False, "existing", _node_resources(ray))
        return
    quiet = verbose < 2
    init_kwargs: dict[str, Any] = {
        "log_to_driver": not quiet,
        "logging_level": logging.WARNING if quiet else logging.INFO,
    }
    if target.address is not None:
        shutdown_library_ray()  # a driver joins one cluster at a time
        ray.init(address=target.address, **init_kwargs)
        try:
            yield RaySessionInfo(True, target.address, _node_resources(ray))
        finally:
            ray.shutdown()  # disconnects this driver; the cluster keeps running
        return
    reused = _local_ray(ray, init_kwargs)
    keep_running = keep
    try:
        yield RaySessionInfo(True, "local", _node_resources(ray), reused=reused)
    except BaseException as error:
        # A search that failed leaves a healthy Ray; Ctrl-C or an exit stops everything.
        keep_running = keep and isinstance(error, Exception)
        raise
    finally:
        if not keep_running:
            shutdown_library_ray()


# --- the local Ray this library started (kept between searches) -----------------------------------
@dataclass(frozen=True)
class _KeptRay:
    """A local Ray the library started: what it was started for, its GCS, and its watchdog."""

    started_for: tuple[Any, ...]
    gcs_address: str
    watchdog: Watchdog | None


_kept: _KeptRay | None = None
_lock = threading.RLock()
_exit_hook_registered = False


def _local_ray(ray: Any, init_kwargs: Mapping[str, Any]) -> bool:
    """Reuse the kept local Ray when it was started for the same; else start one. True: reused."""
    global _kept, _exit_hook_registered
    started_for = (*sorted(init_kwargs.items()), *sorted(local_resources().items()))
    with _lock:
        if _kept is not None and _kept.started_for == started_for:
            return True
        shutdown_library_ray()
        from pytorch_hyperlight.search.reaper import start_watchdog

        watchdog = start_watchdog()
        try:
            with watchdog.tagging() if watchdog else contextlib.nullcontext():
                ray.init(
                    address="local",
                    include_dashboard=False,
                    **tune_internals.loopback_init_options(),
                    **init_kwargs,
                )
        except BaseException:
            if watchdog is not None:
                watchdog.stop()  # it removes what a failed start left behind
            raise
        _kept = _KeptRay(started_for, ray.get_runtime_context().gcs_address, watchdog)
        if not _exit_hook_registered:
            # Registered after ray.init, so it runs before Ray's own exit hook (LIFO).
            atexit.register(shutdown_library_ray)
            _exit_hook_registered = True
        return False


def _forget_if_not_running(ray: Any) -> None:
    """The user shut our kept Ray down (and maybe started their own): stop its watchdog, forget it."""
    global _kept
    if _kept is None:
        return
    if ray.is_initialized() and ray.get_runtime_context().gcs_address == _kept.gcs_address:
        return
    kept, _kept = _kept, None
    if kept.watchdog is not None:
        kept.watchdog.stop()


def library_ray_running() -> bool:
    """True while a local Ray started by this library is kept running in this process."""
    return _kept is not None


def shutdown_library_ray() -> None:
    """Shut down the local Ray this library started and kept, if any; a user's Ray is left alone.

    Runs at interpreter exit; call it to free that Ray's memory (about 0.7 GB) earlier, or before
    calling ``ray.init`` yourself.
    """
    global _kept
    with _lock:
        if _kept is None:
            return
        import ray

        _forget_if_not_running(ray)  # never shut down a Ray the user started meanwhile
        kept, _kept = _kept, None
        if kept is None:
            return
        ray.shutdown()
        if kept.watchdog is not None:
            kept.watchdog.stop()


def _node_resources(ray_module: Any) -> tuple[Mapping[str, float], ...]:
    nodes = [node for node in ray_module.nodes() if node.get("Alive")]
    return tuple(dict(node.get("Resources", {})) for node in nodes)
