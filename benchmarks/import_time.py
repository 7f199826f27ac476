"""``import pytorch_hyperlight`` against ``import lightning.pytorch``, each in a fresh interpreter.

Each import runs in its own new Python process (nothing cached in memory; the files are in the
page cache after the first round, as on a machine in use), alternated over ``--rounds`` rounds.
The child measures its own wall time and CPU time around the import statement; the CPU ratio is
the steadier one on a busy machine. Also printed: which heavy packages each import pulls in.

    python benchmarks/import_time.py              # 7 rounds
    python benchmarks/import_time.py --quick
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/

from benchmarks._report import Measure, add_common_arguments, finish_section, median, start_section
from benchmarks._report import ratio as ratio_of

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("pytorch_hyperlight", "lightning.pytorch")
HEAVY = (
    "torch",
    "lightning",
    "pytorch_lightning",
    "ray",
    "matplotlib",
    "wandb",
    "pandas",
    "optuna",
)
_CHILD = """
import json, resource, sys, time
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
wall, used = time.perf_counter(), cpu()
import {module}
wall, used = time.perf_counter() - wall, cpu() - used
heavy = [name for name in {heavy!r} if name in sys.modules]
print(json.dumps({{"wall": wall, "cpu": used, "heavy": heavy}}))
"""


@dataclass(frozen=True)
class ImportTiming:
    """One import in a new interpreter: wall and CPU seconds, and the heavy packages it loaded."""

    wall: float
    cpu: float
    heavy: list[str]


def time_import(module: str) -> ImportTiming:
    """Time ``import module`` in a new interpreter."""
    code = _CHILD.format(module=module, heavy=HEAVY)
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return ImportTiming(**json.loads(completed.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if args.quick:
        args.rounds = 1
    section = start_section(
        "import_time.py",
        f"import pytorch_hyperlight vs import lightning.pytorch, fresh interpreters, "
        f"{args.rounds} alternated rounds",
        args.quick,
    )
    for module in MODULES if not args.quick else ():  # warm the page cache
        time_import(module)
    results: dict[str, list[ImportTiming]] = {module: [] for module in MODULES}
    for round_index in range(args.rounds):
        order = MODULES if round_index % 2 == 0 else tuple(reversed(MODULES))
        for module in order:
            results[module].append(time_import(module))
    for kind in ("wall", "cpu"):
        ours = median(getattr(r, kind) for r in results["pytorch_hyperlight"])
        base = median(getattr(r, kind) for r in results["lightning.pytorch"])
        section.add(Measure(
            key=f"import_{kind}", label=f"import pytorch_hyperlight / import lightning.pytorch "
            f"({kind} time)", value=ratio_of(ours, base), target="<= 0.2", ours=ours,
            reference=base,
            detail=", ".join(f"{getattr(r, kind):.3f}" for r in results["pytorch_hyperlight"])
            + " s vs " + ", ".join(f"{getattr(r, kind):.3f}" for r in results["lightning.pytorch"])
            + " s",
        ))  # fmt: skip
    for module in MODULES:
        section.note(f"import {module} loads: {', '.join(results[module][0].heavy)}")
    finish_section(section, args.json)


if __name__ == "__main__":
    main()
