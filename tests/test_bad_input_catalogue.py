"""The bad-input catalogue: each wrong input fails early, with a short message of ours that says
what was expected, what was given and how to fix it; docs/reliability.md shows the same messages."""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Any

import pytest

from pytorch_hyperlight.errors import HyperlightError
from pytorch_hyperlight.search import ray_session, space
from tests import bad_inputs
from tests.bad_inputs import CASES, BadInput

PACKAGE_DIR = Path(bad_inputs.__file__).resolve().parents[1] / "pytorch_hyperlight"


@pytest.fixture
def trainings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every real (not dry-run) Trainer built: one would start a training epoch."""
    import pytorch_hyperlight.trial.fit as fit

    built: list[str] = []
    real_build = fit.build_trainer

    def recording(spec: Any, *args: Any, **kwargs: Any) -> Any:
        built.append(spec.lmodule_class.__qualname__)
        return real_build(spec, *args, **kwargs)

    monkeypatch.setattr(fit, "build_trainer", recording)
    return built


@pytest.fixture
def no_ray_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Ray work started before the bad input was reported")

    monkeypatch.setattr(ray_session, "ray_session", refuse)


def _raise(case: BadInput, tmp_path: Path) -> HyperlightError:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(case.error) as caught:
        case.call(scratch)
    return caught.value


def _check(case: BadInput, error: HyperlightError, trainings: list[str], results: Path) -> None:
    message = str(error)
    for part in (case.expected, case.received, case.fix):
        assert part in message, f"{part!r} not in {message!r}"
    assert len(message.splitlines()) <= 6, message
    assert isinstance(error, HyperlightError)
    raised_at = Path(traceback.extract_tb(error.__traceback__)[-1].filename).resolve()
    assert PACKAGE_DIR in raised_at.parents, f"raised in {raised_at}, not by pytorch_hyperlight"
    assert trainings == [], "a training Trainer was built before the error"
    assert list(results.rglob("*.ckpt")) == []
    if os.environ.get("HYPERLIGHT_UPDATE_DOCS") == "1":
        bad_inputs.update_documented_row(case, message)
    assert bad_inputs.documented_row(case.name) == bad_inputs.table_row(case, message), (
        "docs/reliability.md's catalogue differs from the real message; rerun this test with "
        "HYPERLIGHT_UPDATE_DOCS=1 to update it"
    )


def test_the_catalogue_covers_at_least_30_bad_inputs() -> None:
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.usefixtures("no_ray_work")
@pytest.mark.parametrize("case", [c for c in CASES if not c.needs_ray], ids=lambda c: c.name)
def test_bad_input_fails_early_with_a_clear_message(
    case: BadInput, tmp_path: Path, results_dir: Path, trainings: list[str]
) -> None:
    _check(case, _raise(case, tmp_path), trainings, results_dir)


@pytest.mark.ray
@pytest.mark.parametrize("case", [c for c in CASES if c.needs_ray], ids=lambda c: c.name)
def test_bad_input_found_by_asking_ray_fails_before_any_trial(
    case: BadInput, tmp_path: Path, results_dir: Path, trainings: list[str], ray_cluster: Any
) -> None:
    _check(case, _raise(case, tmp_path), trainings, results_dir)


def test_grid_values_with_hyperopt_are_sampled_as_choice_with_a_note() -> None:
    """Not an error: HyperOpt cannot enumerate a grid, so the values become tune.choice (noted)."""
    from ray import tune

    prepared = space.prepare_search_space(
        {"lr": tune.uniform(0, 1), "n_hidden": tune.grid_search([8, 16])}, "hyperopt"
    )
    assert prepared.n_grid_points == 1
    assert "grid values of n_hidden are sampled as tune.choice" in prepared.notes[0]
    assert "searcher='grid'" in prepared.notes[0]


def test_lightning_accepts_exactly_the_precisions_the_settings_accept() -> None:
    """The settings' precision list is a copy of Lightning's; this fails when Lightning changes."""
    import typing

    from lightning.fabric import connector

    from pytorch_hyperlight.settings import PRECISIONS

    lightning_values = {
        value
        for group in typing.get_args(connector._PRECISION_INPUT)
        for value in typing.get_args(group)
    }
    assert set(PRECISIONS) == lightning_values
