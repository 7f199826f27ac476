"""Ray's lifecycle for a search: use it, connect to it, or start it on loopback; stop only our own.

Three cases, checked in this order by :func:`ray_session`:

1. Ray is already initialised in this process (the user called ``ray.init``): use it, never shut it down.
2. An address is given (``ray_address`` or ``$RAY_ADDRESS``): connect to it; disconnect afterwards.
   Whenever an address is given, something must listen there: that is checked within seconds first
   (``ray.init`` would otherwise hang for minutes), so a mistyped address never goes unnoticed.
3. Otherwise start a private local Ray that listens on loopback only, without dashboard, quietly,
   and shut it down afterwards. A watchdog (:mod:`~pytorch_hyperlight.search.reaper`) stops every
   process of that Ray within seconds if this process dies without shutting it down.

:func:`configure_environment` sets the environment variables Ray reads at import time (only where the
user has not set them), so it runs before ``ray`` is imported.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pytorch_hyperlight.errors import ConfigError, RayConnectionError

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


@dataclass(frozen=True)
class RaySessionInfo:
    """What the search learned about the cluster it runs on.

    Attributes:
        started_here: True when this session started the local Ray (and will shut it down).
        address: the cluster address, or ``"local"`` for a private local Ray.
        node_resources: per alive node, its total ``{"CPU": .., "GPU": .., ...}``.
    """

    started_here: bool
    address: str
    node_resources: tuple[Mapping[str, float], ...] = field(default_factory=tuple)


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
def ray_session(ray_address: str | None, *, verbose: int = 1) -> Iterator[RaySessionInfo]:
    """Use, connect to or start Ray for the duration of the ``with`` block.

    Args:
        ray_address: an existing cluster's address; None: ``$RAY_ADDRESS``, else a local Ray.
        verbose: 2 forwards the workers' output to this console; below that they stay quiet.

    Yields:
        What the session knows about the cluster (:class:`RaySessionInfo`).

    Raises:
        RayConnectionError: nothing listens at the given address.
    """
    configure_environment()
    address = resolve_address(ray_address)
    if address is not None:
        check_reachable(address)  # a wrong address is an error even when Ray is already running
    import ray

    if ray.is_initialized():
        yield RaySessionInfo(False, "existing", _node_resources(ray))
        return
    quiet = verbose < 2
    init_kwargs: dict[str, Any] = {
        "log_to_driver": not quiet,
        "logging_level": logging.WARNING if quiet else logging.INFO,
    }
    watchdog = None
    if address is not None:
        ray.init(address=address, **init_kwargs)
    else:
        from pytorch_hyperlight.search.reaper import start_watchdog

        watchdog = start_watchdog()
        try:
            with watchdog.tagging() if watchdog else contextlib.nullcontext():
                ray.init(
                    address="local",
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",
                    **init_kwargs,
                )
        except BaseException:
            if watchdog is not None:
                watchdog.stop()  # it removes what a failed start left behind
            raise
    try:
        yield RaySessionInfo(True, address or "local", _node_resources(ray))
    finally:
        # Disconnects a driver from a remote cluster; stops only a local Ray started above.
        ray.shutdown()
        if watchdog is not None:
            watchdog.stop()


def _node_resources(ray_module: Any) -> tuple[Mapping[str, float], ...]:
    nodes = [node for node in ray_module.nodes() if node.get("Alive")]
    return tuple(dict(node.get("Resources", {})) for node in nodes)
