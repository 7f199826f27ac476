"""Entry point of one benchmark side in a fresh child process (run by ``_search_run.run_side``).

    python benchmarks/_side.py --side ours --budget '{"n_trials": 4, ...}' --out result.json

Sides: ``ours`` (``run_hyper_opt``), ``optuna`` (worker processes sharing a journal file),
``optuna-threads`` (``n_jobs``), ``bare`` (a plain Lightning loop per worker process, the same fixed
configs as ``--space fixed``). ``--space`` picks what ``ours`` searches: ``search`` (the MLP's space),
``grid`` (:data:`GRID`), ``quick-grid`` (two of its points) or ``fixed`` (one config, batch sizes from ``--batch-sizes``). Everything is
written under a temporary directory that is removed at the end; only ``--out`` remains.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ and examples/

from benchmarks._environment import quiet

#: The config of ``--space fixed`` and of the bare loops: a good MLP, only the batch size varies.
FIXED = {"lr": 3e-3, "weight_decay": 1e-4, "width_1": 128, "width_2": 64, "dropout": 0.1}


def ours_space(kind: str, max_epochs: int, batch_sizes: list[int]) -> dict[str, Any] | None:
    """The param space ``ours`` searches for ``--space`` (None: the MLP's own search space)."""
    from ray import tune

    from benchmarks._mlp import GRID, QUICK_GRID

    if kind == "search":
        return None
    if kind in ("grid", "quick-grid"):
        grid = GRID if kind == "grid" else QUICK_GRID
        return {"max_epochs": max_epochs, **{k: tune.grid_search(list(v)) for k, v in grid.items()}}
    return {"max_epochs": max_epochs, **FIXED, "batch_size": tune.grid_search(batch_sizes)}


def bare_worker(batch_size: int, epochs: int, seed: int, out: str) -> None:
    """A plain Lightning fit of :data:`FIXED` at one batch size; its epochs go to ``out``."""
    quiet()
    import lightning.pytorch as pl
    import torch

    from benchmarks._mlp import DigitsMLP, configure_dataloaders
    from benchmarks._optuna_side import EpochLog
    from benchmarks._timeline import EpochRecord

    torch.set_num_threads(1)
    records: list[EpochRecord] = []
    loaders = configure_dataloaders(batch_size)
    pl.seed_everything(seed, workers=True, verbose=False)
    trainer = pl.Trainer(max_epochs=epochs, callbacks=[EpochLog(str(batch_size), batch_size, records)],
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, deterministic=True,
                         accelerator="cpu", devices=1)  # fmt: skip
    trainer.fit(DigitsMLP(**FIXED), loaders["train_loader"], loaders["val_loader"])
    Path(out).write_text(json.dumps([dataclasses.asdict(r) for r in records]), encoding="utf-8")


def run_bare(budget: Any, workdir: Path, batch_sizes: list[int]) -> dict[str, Any]:
    """Each batch size in its own process (``budget.workers`` at a time), like trials of a search."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    called = time.time()
    records: list[dict[str, Any]] = []
    for first in range(0, len(batch_sizes), budget.workers):
        chunk = batch_sizes[first : first + budget.workers]
        outs = [str(workdir / f"bare_{first + i}.json") for i in range(len(chunk))]
        processes = [
            context.Process(target=bare_worker, args=(size, budget.max_epochs, budget.seed, out))
            for size, out in zip(chunk, outs)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        for index, out in enumerate(outs):
            for record in json.loads(Path(out).read_text(encoding="utf-8")):
                records.append({**record, "trial": f"{first + index}"})
    return {"side": "bare", "budget": dataclasses.asdict(budget), "called": called,
            "done": time.time(), "calls": [], "epochs": records}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--side", required=True, choices=("ours", "optuna", "optuna-threads", "bare")
    )
    parser.add_argument("--budget", required=True, help="the Budget's fields as JSON")
    parser.add_argument(
        "--space", default="search", choices=("search", "grid", "quick-grid", "fixed")
    )
    parser.add_argument(
        "--batch-sizes", default="32,64", help="batch sizes of --space fixed / bare"
    )
    parser.add_argument("--settings", default="{}", help="ours: settings to change, as JSON")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    quiet()
    from benchmarks._mlp import Budget

    budget = Budget(**json.loads(args.budget))
    batch_sizes = [int(size) for size in args.batch_sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="hyperlight-bench-") as workdir:
        if args.side == "ours":
            from benchmarks import _ours_side

            space = ours_space(args.space, budget.max_epochs, batch_sizes)
            changes = json.loads(args.settings)
            outcome = _ours_side.run(budget, Path(workdir), space, **changes)
        elif args.side == "bare":
            outcome = run_bare(budget, Path(workdir), batch_sizes)
        else:
            from benchmarks import _optuna_side

            run = _optuna_side.run_processes if args.side == "optuna" else _optuna_side.run_threads
            outcome = run(budget, Path(workdir))
    args.out.write_text(json.dumps(outcome), encoding="utf-8")


if __name__ == "__main__":
    main()
