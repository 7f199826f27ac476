"""Run every benchmark and rewrite the results part of docs/benchmarks.md.

Each script runs in its own process (``python benchmarks/<script>.py --json ...``), one after the
other, so none inherits another's imports, Ray or memory. Their sections are rendered into the
page between the two marker lines; the hand-written text around them ("Where the time goes") is
kept. A script that fails is named in the page and makes this command exit with status 1; the
others still run.

    python benchmarks/run_all.py                 # full sizes (about half an hour on 2 idle cores)
    python benchmarks/run_all.py --quick         # proves every script works; prints, writes nothing
    python benchmarks/run_all.py --quick --output /tmp/page.md   # ... and renders into a copy
    python benchmarks/run_all.py --only vs_optuna,epoch_overhead
    python benchmarks/run_all.py --keep-json results/     # also keep each script's section
    python benchmarks/run_all.py --from-json results/     # only render kept sections again
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/

from benchmarks._report import ROOT, Section, render, replace_generated, section_from_json

HERE = Path(__file__).resolve().parent
#: The scripts, cheapest first.
SCRIPTS = (
    "import_time",
    "single_trial_overhead",
    "search_overhead",
    "figure_layout",
    "core_efficiency",
    "epoch_overhead",
    "profile_search",
    "vs_optuna",
    "search_quality",
)


def run_script(name: str, quick: bool, workdir: Path, timeout_s: float) -> Section | None:
    """Run one script; its section, or None when it failed (its output is on this console)."""
    out = workdir / f"{name}.json"
    command = [sys.executable, str(HERE / f"{name}.py"), "--json", str(out)]
    if quick:
        command.append("--quick")
    print(f"\n$ {shlex.join(command)}", flush=True)
    try:
        completed = subprocess.run(command, cwd=ROOT, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        print(f"{name} ran past {timeout_s:.0f} s", flush=True)
        return None
    if completed.returncode != 0 or not out.exists():
        print(f"{name} failed with exit status {completed.returncode}", flush=True)
        return None
    return section_from_json(json.loads(out.read_text(encoding="utf-8")))


def run_scripts(
    names: list[str], quick: bool, timeout_s: float, keep: Path | None
) -> tuple[list[Section], list[str]]:
    """Run the scripts one after the other; their sections, and the names of those that failed."""
    sections: list[Section] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hyperlight-bench-all-") as workdir:
        for name in names:
            section = run_script(name, quick, Path(workdir), timeout_s)
            if section is None:
                failures.append(f"{name}.py")
                continue
            sections.append(section)
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                (keep / f"{name}.json").write_text(json.dumps(section.to_json(), indent=1))
    return sections, failures


def kept_sections(folder: Path, names: list[str]) -> list[Section]:
    """The sections kept by ``--keep-json`` (in the scripts' order)."""
    paths = [folder / f"{name}.json" for name in names if (folder / f"{name}.json").exists()]
    if not paths:
        raise SystemExit(f"{folder} holds no section of {', '.join(names)} (*.json)")
    return [section_from_json(json.loads(path.read_text(encoding="utf-8"))) for path in paths]


def _kept_command(folder: Path) -> str:
    path = folder / "command.txt"
    return path.read_text().strip() if path.exists() else "python benchmarks/run_all.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes; docs stay untouched")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="page to rewrite between its markers (default: docs/benchmarks.md, not with --quick)",
    )
    parser.add_argument("--only", default="", help="comma-separated script names (no .py)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per script")
    parser.add_argument("--keep-json", type=Path, default=None, help="copy each section here")
    parser.add_argument(
        "--from-json", type=Path, default=None, help="run nothing: render the sections kept here"
    )
    args = parser.parse_args(argv)
    names = [n for n in SCRIPTS if not args.only or n in args.only.split(",")]
    unknown = set(filter(None, args.only.split(","))) - set(SCRIPTS)
    if unknown:
        parser.error(f"unknown script(s) {sorted(unknown)}; choose from {', '.join(SCRIPTS)}")
    output = args.output or (None if args.quick else ROOT / "docs" / "benchmarks.md")
    timeout_s = args.timeout or (900.0 if args.quick else 4 * 3600.0)
    if args.from_json is not None:
        sections, failures = kept_sections(args.from_json, names), []
        command = _kept_command(args.from_json)
    else:
        sections, failures = run_scripts(names, args.quick, timeout_s, args.keep_json)
        command = shlex.join(["python", "benchmarks/run_all.py", *(argv or sys.argv[1:])])
        if args.keep_json is not None:
            args.keep_json.mkdir(parents=True, exist_ok=True)
            (args.keep_json / "command.txt").write_text(command + "\n", encoding="utf-8")
    generated = render(sections, command, failures)
    if output is None:
        print("\n" + generated)
    else:
        page = output.read_text(encoding="utf-8")
        output.write_text(replace_generated(page, generated), encoding="utf-8")
        print(f"\nrewrote the results in {output}")
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
