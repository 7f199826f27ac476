"""What users run: the digits main job; the README's example stays within 15 lines.

The README's example itself runs, with the checks of what it promises, in test_docs_code_blocks.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.ray
def test_digits_main_job_prints_the_trials_and_test_metrics_and_saves_plots(
    ray_cluster: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from examples import digits

    result = digits.main(["--n-samples", "2", "--debug"])

    out = capsys.readouterr().out
    assert "Trials, best first (val_f1):" in out
    assert len(result["trials"]) == 2
    assert all(trial_id in out for trial_id in result["trials"]["trial_id"])
    assert f"Best model (trial {result['best_trial_id']}" in out
    assert "test_acc" in out and "test_f1" in out
    run_dir = Path(result["run_dir"])
    for name in ["metrics.png", "plots/learning_curves.png", "plots/best_so_far.png"]:
        assert (run_dir / name).stat().st_size > 1000, name
        assert str(run_dir / name) in out
    assert 0.0 <= result["metrics_last"]["test_acc"] <= 1.0


def _readme_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## In 15 lines", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README lost its example"
    return match.group(1)


def test_readme_example_is_at_most_15_lines() -> None:
    assert len(_readme_example().strip().splitlines()) <= 15
