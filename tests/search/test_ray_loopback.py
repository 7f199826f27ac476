"""A Ray started by the library listens on loopback only, has no dashboard, and is shut down after."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import textwrap

import pytest

_SCRIPT = textwrap.dedent(
    """
    import json, os, psutil
    from pytorch_hyperlight.search.ray_session import ray_session

    def ray_listeners():
        me = psutil.Process()
        family = {p.pid for p in me.children(recursive=True)} | {me.pid}
        return sorted(
            {(c.laddr.ip, c.laddr.port) for c in psutil.net_connections(kind="inet")
             if c.status == psutil.CONN_LISTEN and c.pid in family}
        )

    with ray_session(None) as info:
        import ray
        listening = ray_listeners()
        started_here = info.started_here
    print(json.dumps({
        "started_here": started_here,
        "listening": listening,
        "initialized_after": ray.is_initialized(),
    }))
    """
)


def _is_loopback(host: str) -> bool:
    address = ipaddress.ip_address(host)
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


@pytest.mark.slow
def test_library_started_ray_listens_on_loopback_only_without_dashboard_and_stops() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    completed = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard only: a busy machine starts processes slowly
        env=env,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["started_here"] is True
    assert report["listening"], "expected Ray's own processes to listen somewhere"
    assert all(_is_loopback(host) for host, _port in report["listening"]), report["listening"]
    assert 8265 not in {port for _host, port in report["listening"]}  # no dashboard
    assert report["initialized_after"] is False
