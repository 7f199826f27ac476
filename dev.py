#!/usr/bin/env python3
"""Set up the project's environment and run its jobs. Needs only Python 3.10+ with venv and pip.

    python3 dev.py demo    # set up .venv (first time only) and run the digits search example
    python3 dev.py test    # set up .venv (first time only), then ruff, mypy, docs build and pytest
    python3 dev.py setup   # only set up .venv

The environment is reinstalled only when constraints.txt or pyproject.toml change (a stamp file
holds their hash), so a second call starts in seconds.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("HYPERLIGHT_VENV", ROOT / ".venv"))
STAMP = VENV / ".hyperlight-installed"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def _inputs_hash() -> str:
    digest = hashlib.sha256()
    for name in ("constraints.txt", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _run(*command: str | os.PathLike[str], env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    completed = subprocess.run([str(part) for part in command], cwd=ROOT, env=env)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def setup() -> None:
    """Create .venv and install the pinned dependencies, unless already done for these pins."""
    wanted = _inputs_hash()
    if STAMP.exists() and STAMP.read_text().strip() == wanted and PYTHON.exists():
        print(f"Environment {VENV} is up to date.", flush=True)
        return
    print(f"Setting up {VENV} (about 2 minutes, once)...", flush=True)
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    # torch is pinned in constraints.txt; installing it on the same line keeps pip from
    # choosing a CUDA build.
    _run(
        PYTHON,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-c",
        "constraints.txt",
        "-e",
        ".[dev]",
    )
    STAMP.write_text(wanted + "\n")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("WANDB_MODE", "offline")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("NO_MKDOCS_2_WARNING", "1")  # mkdocs-material prints an end-of-life banner
    return env


def demo(args: list[str]) -> None:
    """Run the main job: a search on the bundled digits data, printing results and saving plots."""
    setup()
    _run(PYTHON, "examples/digits.py", *args, env=_env())


def test(args: list[str]) -> None:
    """Lint, type-check, build the docs and run the test suite."""
    setup()
    env = _env()
    _run(BIN / "ruff", "check", "pytorch_hyperlight", "tests", "examples", "benchmarks", "dev.py")
    _run(
        BIN / "ruff",
        "format",
        "--check",
        "pytorch_hyperlight",
        "tests",
        "examples",
        "benchmarks",
        "dev.py",
    )
    _run(BIN / "mypy", "pytorch_hyperlight")
    _run(BIN / "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(VENV / "site"), env=env)
    _run(PYTHON, "-m", "pytest", *args, env=env)


def main(argv: list[str]) -> None:
    commands = {"setup": lambda _args: setup(), "demo": demo, "test": test}
    if not argv or argv[0] not in commands:
        print(__doc__)
        sys.exit(2)
    commands[argv[0]](argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
