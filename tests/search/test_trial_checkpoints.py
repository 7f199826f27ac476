"""When a search trial hands Tune a checkpoint (CheckpointPolicy), without Ray or Lightning; and that
Ray's checkpoint bookkeeping then never deletes the best epoch's checkpoint."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from pytorch_hyperlight.search.trial_checkpoints import (
    SAVE,
    SKIP,
    TENTATIVE,
    CheckpointPolicy,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(
    policy: CheckpointPolicy,
    values: Sequence[float | None],
    *,
    clock: Clock | None = None,
    seconds_per_epoch: float = 1.0,
    stale: bool = False,
) -> list[tuple[int, float]]:
    """``(epoch, score)`` of the epochs that keep a checkpoint; ``stale``: the metric is logged in
    the module's own on_train_epoch_end (absent at epoch 0's end, then a step behind)."""
    kept = []
    for epoch, value in enumerate(values):
        if clock is not None:
            clock.now += seconds_per_epoch
        early = (values[epoch - 1] if epoch else None) if stale else value
        saved = policy.at_epoch_end(early)
        decision = policy.at_record(early, value, saved, last=epoch == len(values) - 1)
        if decision.keep:
            kept.append((epoch, decision.score))
    return kept


def test_only_improvements_and_the_last_epoch_keep_a_checkpoint() -> None:
    policy = CheckpointPolicy("max", every_s=None)
    kept = run(policy, [0.5, 0.6, 0.6, 0.55, 0.7, 0.65])
    assert [epoch for epoch, _ in kept] == [0, 1, 4, 5]
    assert policy.best == 0.7


def test_min_mode_improves_downwards() -> None:
    kept = run(CheckpointPolicy("min", every_s=None), [0.9, 1.0, 0.8, 0.85])
    assert [epoch for epoch, _ in kept] == [0, 2, 3]


def test_a_checkpoint_is_due_after_checkpoint_every_s_seconds() -> None:
    clock = Clock()
    policy = CheckpointPolicy("max", every_s=2.5, clock=clock)
    kept = run(policy, [0.5, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4], clock=clock)
    # improvement at 0 (t=1); due at t>=3.5 -> epoch 3 (t=4), then epoch 6 (t=7); last epoch 7
    assert [epoch for epoch, _ in kept] == [0, 3, 6, 7]


def test_zero_seconds_keeps_every_epoch_and_none_never_for_time() -> None:
    assert len(run(CheckpointPolicy("max", every_s=0), [0.5, 0.4, 0.3])) == 3
    clock = Clock()
    policy = CheckpointPolicy("max", every_s=None, clock=clock)
    assert [e for e, _ in run(policy, [0.5, 0.4, 0.3], clock=clock, seconds_per_epoch=1e6)] == [
        0,
        2,
    ]


def test_a_kept_checkpoint_that_is_no_improvement_ranks_below_the_best_one() -> None:
    """So that Tune's num_to_keep keeps the best epoch's checkpoint, also on a tie."""
    kept = dict(run(CheckpointPolicy("max", every_s=0), [0.5, 0.7, 0.7, 0.6]))
    assert kept[1] == 0.7 and kept[2] < 0.7 and kept[2] > 0.6 and kept[3] == 0.6
    kept = dict(run(CheckpointPolicy("min", every_s=None), [0.5, 0.3, 0.3]))
    assert kept[1] == 0.3 and kept[2] > 0.3  # the last epoch ties: ranked below (min: larger)
    kept = dict(run(CheckpointPolicy("max", every_s=None), [0.5, None]))
    assert kept[1] == -math.inf  # the metric missing at the last epoch: ranked last


def test_a_metric_logged_in_the_modules_own_epoch_end_hook_is_decided_on_the_complete_row() -> None:
    policy = CheckpointPolicy("max", every_s=None)
    assert policy.at_epoch_end(None) == TENTATIVE  # absent at epoch 0's end: written tentatively
    policy = CheckpointPolicy("max", every_s=None)
    kept = run(policy, [0.5, 0.6, 0.4, 0.8, 0.3], stale=True)
    assert [epoch for epoch, _ in kept] == [0, 1, 3, 4]  # as if read in time
    assert policy.late and policy.at_epoch_end(0.9) == TENTATIVE


def test_the_policy_state_restores_the_best_so_far_and_lateness() -> None:
    policy = CheckpointPolicy("max", every_s=None)
    run(policy, [0.5, 0.8])
    resumed = CheckpointPolicy("max", every_s=None)
    resumed.load_state_dict(policy.state_dict())
    assert resumed.best == 0.8 and not resumed.late
    assert resumed.at_epoch_end(0.7) == SKIP and resumed.at_epoch_end(0.9) == SAVE


@pytest.mark.ray
def test_rays_bookkeeping_keeps_the_best_epochs_checkpoint_with_these_scores(tmp_path) -> None:
    """Ray 2.60's ``_CheckpointManager`` (what ``CheckpointConfig(num_to_keep=1, ...)`` drives)
    keeps the best-scored checkpoints plus the latest; a later kept checkpoint with the same
    metric would push out the best one, the score ranks it below instead. (Pins Ray's behaviour,
    a private class: this test is the one place that touches it.)"""
    from ray.train import Checkpoint, CheckpointConfig
    from ray.train._internal.checkpoint_manager import _CheckpointManager
    from ray.train._internal.session import _TrainingResult

    config = CheckpointConfig(
        num_to_keep=1, checkpoint_score_attribute="score", checkpoint_score_order="max"
    )
    manager = _CheckpointManager(config)
    kept = run(CheckpointPolicy("max", every_s=0), [0.5, 0.7, 0.7, 0.6])
    for epoch, score in kept:
        folder = tmp_path / f"checkpoint_{epoch}"
        folder.mkdir()
        checkpoint = Checkpoint.from_directory(str(folder))
        manager.register_checkpoint(_TrainingResult(checkpoint, {"score": score, "epoch": epoch}))
    assert manager.best_checkpoint_result.metrics["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_1", "checkpoint_3"]


def test_a_checkpoint_keeps_the_reports_sent_without_one_before_it(tmp_path) -> None:
    """What :func:`catch_up` sends again when the driver died before it got them; a Lightning file
    cut short makes the folder unusable."""
    import pyarrow.fs

    from pytorch_hyperlight.search.trial_checkpoints import (
        CHECKPOINT_FILE,
        read_reports,
        write_report,
    )

    (tmp_path / CHECKPOINT_FILE).write_bytes(b"x" * 10)
    write_report(tmp_path, {"epoch": 3, "val_acc": 0.9}, earlier=[{"epoch": 1}, {"epoch": 2}])
    local = pyarrow.fs.LocalFileSystem()
    stored = read_reports(local, str(tmp_path))
    assert stored == [{"epoch": 1}, {"epoch": 2}, {"epoch": 3, "val_acc": 0.9}]
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"x" * 4)
    assert read_reports(local, str(tmp_path)) is None
