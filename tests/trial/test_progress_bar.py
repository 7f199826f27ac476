"""The progress bar within a single trial's epochs: where it shows, what it shows, how it leaves."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as lightning_pytorch
import pytest
import torch

from pytorch_hyperlight import Runner
from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.trial import progress_bar
from pytorch_hyperlight.trial.lightning import namespace_of
from pytorch_hyperlight.trial.progress_bar import (
    ENV_VAR,
    HtmlTqdm,
    NotebookOutput,
    forced_by_environment,
    progress_bar_mode,
)
from tests.models import TinyDigits, configure_dataloaders, tiny_config

SETTINGS = {"metric_to_optimize": "val_acc", "metric_opt_mode": "max"}


def screen(raw: str) -> list[str]:
    """What a terminal shows after ``raw``: a carriage return goes back to the line's start."""
    lines = []
    for chunk in raw.split("\n"):
        line = ""
        for part in chunk.split("\r"):
            line = part + line[len(part) :]
        lines.append(line.rstrip())
    return lines


# --- where it shows --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("verbose", "terminal", "notebook", "forced", "expected"),
    [
        (1, True, False, None, "terminal"),
        (1, False, False, None, None),  # a log file or CI: nothing
        (1, False, False, True, "terminal"),  # ... unless forced
        (1, True, False, False, None),
        (1, False, True, None, "notebook"),
        (0, True, True, True, None),  # silent means silent
        (2, True, False, None, "terminal"),
    ],
)
def test_the_bar_shows_where_someone_watches(verbose, terminal, notebook, forced, expected) -> None:
    mode = progress_bar_mode(verbose, is_terminal=terminal, in_notebook=notebook, forced=forced)
    assert mode == expected


def test_the_environment_variable_is_on_off_or_an_error() -> None:
    assert [forced_by_environment(v) for v in ("1", "yes", "0", "off", "", None)] == [
        True, True, False, False, None, None
    ]  # fmt: skip
    with pytest.raises(ConfigError, match=f"{ENV_VAR} must be 1 .* or 0 .*'maybe'"):
        forced_by_environment("maybe")


def test_the_running_loss_comes_from_what_training_step_returned() -> None:
    loss = torch.tensor(0.5)
    assert progress_bar.loss_of(loss) is loss and progress_bar.loss_of({"loss": loss}) is loss
    assert progress_bar.loss_of(None) is None and progress_bar.loss_of(torch.ones(3)) is None


# --- a single trial in a terminal ------------------------------------------------------------------
@pytest.fixture
def every_batch_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redraw after every batch: what is drawn must not depend on how fast the machine is."""
    monkeypatch.setattr(progress_bar, "_REDRAW_SECONDS", {progress_bar.TERMINAL: 0.0,
                                                          progress_bar.NOTEBOOK: 0.0})  # fmt: skip


@pytest.mark.usefixtures("every_batch_drawn")
def test_terminal_bar_counts_batches_and_gives_way_to_each_epoch_row(capsys, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "1")  # captured stdout is not a terminal: force the bar
    titles: list[str | None] = []
    from pytorch_hyperlight.metrics import plotting

    original = plotting.plot_trial_metrics

    def plot(*args: Any, title: str | None = None, **kwargs: Any) -> Any:
        titles.append(title)
        return original(*args, title=title, **kwargs)

    monkeypatch.setattr(plotting, "plot_trial_metrics", plot)
    runner = Runner(configure_dataloaders, is_debug=True)  # 2 epochs of 3 batches

    result = runner.run_single_trial(TinyDigits, tiny_config(), SETTINGS)

    raw = capsys.readouterr().out
    bars = [part for part in raw.split("\r") if part.startswith("epoch ")]
    assert any(part.startswith("epoch 0  3/3 |") for part in bars)  # batches done / total
    assert any(part.startswith("epoch 1  1/3 |") for part in bars)
    assert any("batches/s" in part and "loss=" in part for part in bars)  # rate, running loss
    assert any(part.startswith("epoch 1 (validating)") for part in bars)
    shown = [line for line in screen(raw) if line]
    assert not any("batches/s" in line for line in shown)  # every bar was cleared ...
    assert shown[0].split()[:2] == ["epoch", "train_acc"]  # ... for the table
    assert [line.split()[0] for line in shown[2:4]] == ["0", "1"]
    assert shown[4].startswith("best epoch")
    assert titles == [f"single-trial-TinyDigits: best val_acc={_best(result):.4g} at epoch "
                      f"{result['best_epoch']}"]  # fmt: skip


def _best(result: dict[str, Any]) -> float:
    history = result["metrics"].df
    rows = history[(history["stage"] == "val") & (history["epoch"] == result["best_epoch"])]
    return float(rows["val_acc"].iloc[0])


def test_no_bar_where_stdout_is_not_a_terminal(capsys, monkeypatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    Runner(configure_dataloaders, is_debug=True).run_single_trial(
        TinyDigits, tiny_config(), SETTINGS
    )
    raw = capsys.readouterr().out
    assert "\r" not in raw and "batches/s" not in raw  # logs stay clean
    assert raw.splitlines()[0].split()[:2] == ["epoch", "train_acc"]


def test_a_progress_bar_of_the_user_replaces_ours(monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "1")
    own = lightning_pytorch.callbacks.TQDMProgressBar(refresh_rate=0)
    runner = Runner(configure_dataloaders, is_debug=True, pl_callbacks=[own])
    result = runner.run_single_trial(TinyDigits, tiny_config(), {**SETTINGS, "verbose": 1})
    bar = result["trainer"].progress_bar_callback
    assert type(bar) is lightning_pytorch.callbacks.TQDMProgressBar  # a copy of the user's


# --- a notebook ------------------------------------------------------------------------------------
class FakeDisplay:
    """IPython's display: one output whose content is replaced in place."""

    def __init__(self) -> None:
        self.pages: list[str] = []
        self.outputs = 0

    def __call__(self, content: Any, display_id: bool = False) -> FakeDisplay:
        self.outputs += 1
        self.pages.append(content.data)
        return self

    def update(self, content: Any) -> None:
        self.pages.append(content.data)


def test_notebook_bar_is_one_html_output_updated_in_place(capsys) -> None:
    shown = FakeDisplay()
    output = NotebookOutput(show=shown)
    for epoch in range(2):
        bar = HtmlTqdm(total=3, desc=f"epoch {epoch}", output=output, mininterval=0, leave=False)
        for _ in range(3):
            bar.update(1)
        bar.set_postfix({"loss": "0.5"})
        bar.close()
    assert shown.outputs == 1  # both epochs drew into the same output
    assert any(
        '<progress value="2" max="3"' in page and "epoch 0  2/3" in page for page in shown.pages
    )
    assert any("epoch 1  3/3" in page and "loss=0.5" in page for page in shown.pages)
    assert shown.pages[-1] == ""  # cleared at the end of the epoch
    assert capsys.readouterr().out == ""  # nothing on stdout


@pytest.mark.filterwarnings("ignore:.*LeafSpec")
@pytest.mark.usefixtures("every_batch_drawn")
def test_notebook_mode_bar_draws_html_during_a_fit(capsys, monkeypatch) -> None:
    shown = FakeDisplay()
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", shown)
    namespace = namespace_of(TinyDigits)
    bar = namespace.bind(
        progress_bar.EpochProgressBar, base=namespace.module.callbacks.TQDMProgressBar
    )(mode=progress_bar.NOTEBOOK)
    loaders = configure_dataloaders(512)
    trainer = lightning_pytorch.Trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=1,
                                        callbacks=[bar], logger=False, enable_checkpointing=False,
                                        enable_model_summary=False, num_sanity_val_steps=0)  # fmt: skip
    trainer.fit(TinyDigits(lr=0.01), loaders["train_loader"], loaders["val_loader"])
    assert shown.outputs == 1
    assert any("epoch 1" in page and "2/2" in page for page in shown.pages)
    assert shown.pages[-1] == ""
    assert capsys.readouterr().out == ""
