"""The cluster pre-flight's parts that need no cluster: what a node's probe finds, and the messages.

The probe and the messages on a real two-node cluster are in ``tests/search/test_two_node_cluster.py``.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.search import cluster
from pytorch_hyperlight.search.cluster import NodeReport


def test_a_probe_loads_the_payload_and_leaves_its_marker(tmp_path: Path) -> None:
    found = cluster.probe_node(pickle.dumps({"spec": 1}), str(tmp_path / "markers"), "node-a")
    assert found["code_error"] == "" and found["storage_error"] == ""
    assert (tmp_path / "markers" / "node-a").read_text() == "node-a"


def test_a_probe_reports_code_it_cannot_import_and_storage_it_cannot_write(tmp_path) -> None:
    # a pickled reference to a module this process cannot import, as on a node without the code
    payload = pickle.dumps(SimpleNamespace).replace(b"types", b"typez")
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # a marker directory cannot be created below a file
    found = cluster.probe_node(payload, str(blocked / "markers"), "node-a")
    assert found["code_error"] == "ModuleNotFoundError: No module named 'typez'"
    assert found["storage_error"].startswith(("NotADirectoryError", "FileExistsError"))


def test_each_problem_names_its_node_and_the_fix() -> None:
    reports = [
        NodeReport("10.0.0.1", marker_seen=True),  # healthy: no message
        NodeReport("10.0.0.2", marker_seen=False),
        NodeReport("10.0.0.3", code_error="ModuleNotFoundError: No module named 'x'",
                   marker_seen=True),
        NodeReport("10.0.0.4", storage_error="PermissionError: denied"),
        NodeReport("10.0.0.5", answered=False, failure="ModuleNotFoundError: pytorch_hyperlight"),
    ]  # fmt: skip
    found = cluster.problems(reports, Path("/runs/a"), timeout_s=120)
    assert len(found) == 4
    shared, code, writable, silent = found
    assert shared.startswith("node 10.0.0.2 does not share the storage") and "results_dir" in shared
    assert code.startswith("node 10.0.0.3 cannot load") and "No module named 'x'" in code
    assert "register_pickle_by_value" in code
    assert writable.startswith("node 10.0.0.4 cannot write to the run directory /runs/a")
    assert "PermissionError: denied" in writable and "does not share" not in writable
    assert silent.startswith("node 10.0.0.5 did not finish the pre-flight check within 120 s")
    assert "pytorch_hyperlight" in silent


def test_nothing_is_checked_for_a_local_ray_or_a_cluster_of_this_node_only() -> None:
    cluster.check_cluster(object(), Path("/nonexistent"), skip=True)  # returns before any Ray call
    assert not cluster.needs_check([{"NodeID": "me"}], "me")
    assert cluster.needs_check([{"NodeID": "other"}], "me")


def test_a_random_search_resumes_only_with_its_original_n_samples(tmp_path) -> None:
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from pytorch_hyperlight.search.tuner import _check_resumable_samples

    restored = SimpleNamespace(num_samples=4, search_alg=BasicVariantGenerator())
    _check_resumable_samples(tmp_path, restored, n_trials=4, n_samples=4)
    with pytest.raises(ConfigError, match=r"started with n_samples=4\. Only a HyperOpt search"):
        _check_resumable_samples(tmp_path, restored, n_trials=6, n_samples=6)
