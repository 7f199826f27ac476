"""The cluster pre-flight: before trial 1, every node must reach the storage and load the user's code.

On a cluster of several machines the classic failures are silent until trials fail, often hours
later: a ``results_dir`` that a worker node does not share (Ray: "Unable to set up cluster storage",
while ``fit()`` returns normally), or user code that a node cannot import (trials die with
``ActorDiedError``). :func:`check_cluster` finds both within seconds, with one small Ray task pinned
to each alive node (``NodeAffinitySchedulingStrategy``, no CPU reserved) that

1. unpickles the trial payload exactly as a trial worker will, so every module it needs is imported
   on that node (classes from notebooks, scripts and uninstalled modules travel by value, see
   :func:`~pytorch_hyperlight.search.trainable.prepare_for_workers`; whatever they import must be
   importable there), and
2. writes a marker file into the run directory, which this process then reads back: a node whose
   marker does not arrive does not share the storage.

Every problem found is reported at once, in one :class:`ConfigError` naming each node and the fix.
A local Ray the search started itself, or a cluster that is only this machine's node, is not
checked.
"""

from __future__ import annotations

import shutil
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytorch_hyperlight.errors import ConfigError

#: Seconds a node may take to start a worker, import the user's code and answer.
DEFAULT_TIMEOUT_S = 120.0
_MARKER_DIR_PREFIX = ".hyperlight-preflight-"


@dataclass(frozen=True)
class NodeReport:
    """What the pre-flight task found on one node.

    Attributes:
        address: the node's IP address as Ray knows it.
        answered: False when the task did not finish in time or could not run.
        failure: why the task could not run (e.g. this package is not installed there).
        code_error: the error unpickling the trial payload raised there, or empty.
        storage_error: the error writing the marker raised there, or empty.
        marker_seen: True when this process found the node's marker in the run directory.
    """

    address: str
    answered: bool = True
    failure: str = ""
    code_error: str = ""
    storage_error: str = ""
    marker_seen: bool = False


def probe_node(payload: bytes, marker_dir: str, token: str) -> dict[str, str]:
    """Runs on one node: load the trial payload, write the marker; report what failed."""
    from ray import cloudpickle

    found = {"hostname": socket.gethostname(), "code_error": "", "storage_error": ""}
    try:
        cloudpickle.loads(payload)
    except Exception as error:
        found["code_error"] = f"{type(error).__name__}: {error}"
    try:
        Path(marker_dir).mkdir(parents=True, exist_ok=True)
        Path(marker_dir, token).write_text(token)
    except OSError as error:
        found["storage_error"] = f"{type(error).__name__}: {error}"
    return found


def problems(reports: Sequence[NodeReport], storage_path: Path, timeout_s: float) -> list[str]:
    """One sentence per problem, naming the node and the fix (pure).

    >>> problems([NodeReport("10.0.0.3", marker_seen=False)], Path("/runs/a"), 120)[0][:41]
    'node 10.0.0.3 does not share the storage:'
    """
    found = []
    for node in reports:
        where = f"node {node.address}"
        if not node.answered:
            found.append(
                f"{where} did not finish the pre-flight check within {timeout_s:g} s"
                + (f" ({node.failure})" if node.failure else "")
                + ". Check that the node is healthy and has pytorch_hyperlight and its "
                "dependencies installed in the same versions as this process."
            )
            continue
        if node.code_error:
            found.append(
                f"{where} cannot load the module class, loader function or callbacks: "
                f"{node.code_error}. Make that code importable on every node (install it there, "
                "or put it on a shared file system at the same path), or ship it with the search: "
                "ray.cloudpickle.register_pickle_by_value(<module>) before run_hyper_opt."
            )
        if node.storage_error:
            found.append(
                f"{where} cannot write to the run directory {storage_path}: "
                f"{node.storage_error}. Point results_dir (or $HYPERLIGHT_RESULTS_DIR) at a "
                "shared file system every node can write."
            )
        elif not node.marker_seen:
            found.append(
                f"{where} does not share the storage: a file it wrote into {storage_path} is not "
                "visible here, so its trials could not save checkpoints where the search reads "
                "them. Point results_dir (or $HYPERLIGHT_RESULTS_DIR) at a file system all nodes "
                "share (NFS or similar, mounted at the same path everywhere)."
            )
    return found


def needs_check(nodes: Sequence[Mapping[str, Any]], own_node_id: str) -> bool:
    """False when the cluster is only this process's own node (nothing to share).

    >>> needs_check([{"NodeID": "a"}], "a"), needs_check([{"NodeID": "a"}, {"NodeID": "b"}], "a")
    (False, True)
    """
    return [node.get("NodeID") for node in nodes] != [own_node_id]


def check_cluster(
    payload: Any, storage_path: Path, *, skip: bool, timeout_s: float = DEFAULT_TIMEOUT_S
) -> None:
    """Check every alive node of the connected Ray cluster before the first trial.

    Args:
        payload: what the trials unpickle (the trial spec, constants and callbacks).
        storage_path: the run directory the trials will write into.
        skip: True for a local Ray this search started itself (one node: this machine).
        timeout_s: how long each node may take to answer.

    Raises:
        ConfigError: a node cannot load the code, cannot write or does not share the storage, or
            did not answer (each problem named with its node and fix).
    """
    if skip:
        return
    import ray
    from ray import cloudpickle

    nodes = [node for node in ray.nodes() if node.get("Alive")]
    if not needs_check(nodes, ray.get_runtime_context().get_node_id()):
        return
    marker_dir = storage_path / f"{_MARKER_DIR_PREFIX}{uuid.uuid4().hex[:8]}"
    try:
        reports = _run_probes(ray, nodes, cloudpickle.dumps(payload), marker_dir, timeout_s)
    finally:
        shutil.rmtree(marker_dir, ignore_errors=True)
    found = problems(reports, storage_path, timeout_s)
    if found:
        raise ConfigError(
            f"The Ray cluster is not ready for this search ({len(nodes)} nodes checked; no trial "
            "was started):\n  - " + "\n  - ".join(found)
        )


def _run_probes(
    ray: Any, nodes: Sequence[Mapping[str, Any]], payload: bytes, marker_dir: Path, timeout_s: float
) -> list[NodeReport]:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probe = ray.remote(num_cpus=0, max_retries=0)(probe_node)
    payload_ref = ray.put(payload)
    pending = {}
    for node in nodes:
        strategy = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        pending[node["NodeID"]] = probe.options(scheduling_strategy=strategy).remote(
            payload_ref, str(marker_dir), node["NodeID"]
        )
    ray.wait(list(pending.values()), num_returns=len(pending), timeout=timeout_s)
    reports = []
    for node in nodes:
        address = str(node.get("NodeManagerAddress", node["NodeID"]))
        try:
            found = ray.get(pending[node["NodeID"]], timeout=0)
        except ray.exceptions.GetTimeoutError:
            reports.append(NodeReport(address, answered=False))
            continue
        except ray.exceptions.RayError as error:
            reports.append(NodeReport(address, answered=False, failure=_first_line(error)))
            continue
        marker_seen = (marker_dir / node["NodeID"]).is_file()
        reports.append(
            NodeReport(
                address,
                code_error=found["code_error"],
                storage_error=found["storage_error"],
                marker_seen=marker_seen,
            )
        )
    return reports


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(error).__name__
