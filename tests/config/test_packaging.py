"""The command line is installed as `hyperlight`; Hydra stays optional and lazy."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from tests.config.helpers import ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def test_the_hyperlight_script_names_an_existing_callable() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module_name, _, function_name = scripts["hyperlight"].partition(":")
    assert callable(getattr(importlib.import_module(module_name), function_name))


def test_hydra_is_in_the_hydra_extra_and_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = " ".join(project["optional-dependencies"]["hydra"])
    assert "hydra-core" in extra and "hydra-zen" in extra
    pins = (ROOT / "constraints.txt").read_text().lower()
    assert "hydra-core==" in pins and "hydra_zen==" in pins.replace("-", "_")


def test_importing_the_package_and_the_command_line_does_not_import_hydra() -> None:
    code = (
        "import sys, pytorch_hyperlight, pytorch_hyperlight.cli, pytorch_hyperlight.config\n"
        "print(','.join(m for m in ('hydra', 'omegaconf', 'hydra_zen') if m in sys.modules))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert completed.stdout.strip() == ""


@pytest.mark.parametrize("missing", ["hydra", "hydra_zen"])
def test_a_missing_hydra_install_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    from pytorch_hyperlight.config import _imports

    monkeypatch.setitem(sys.modules, missing, None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"pip install 'pytorch-hyperlight\[hydra\]'"):
        _imports.require(missing)


def test_the_command_line_reports_a_missing_hydra_with_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytorch_hyperlight import cli

    monkeypatch.setitem(sys.modules, "hydra", None)
    assert cli.main(["show", "--config-dir", str(ROOT / "examples" / "conf")]) == 1
    assert "pytorch-hyperlight[hydra]" in capsys.readouterr().err
