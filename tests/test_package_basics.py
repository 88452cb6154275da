"""The package works outside the repository: its own SAP, ``init``, ``python -m``, types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from msc_analysis.cli import main
from msc_analysis.resources import STUDY_FILES, resource_path
from msc_analysis.sap import find_sap, load_sap

REPO = Path(__file__).resolve().parents[1]


def test_shipped_files_are_the_repository_files() -> None:
    for name in STUDY_FILES:
        assert resource_path(name).read_bytes() == (REPO / name).read_bytes(), name
    assert (REPO / "src" / "msc_analysis" / "py.typed").is_file()
    assert "MIT License" in (REPO / "LICENSE").read_text()


def test_outside_any_study_the_shipped_sap_is_used(tmp_path: Path) -> None:
    found = find_sap(tmp_path)
    assert found.read_bytes() == (REPO / "sap" / "sap.toml").read_bytes()
    assert load_sap(found).tfls == load_sap(REPO / "sap" / "sap.toml").tfls


def test_init_copies_the_study_files_and_commands_then_use_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = tmp_path / "study"
    assert main(["-q", "init", str(study)]) == 0
    for name in STUDY_FILES:
        assert (study / name).read_bytes() == (REPO / name).read_bytes(), name
    assert find_sap(study / "notebooks") == (study / "sap" / "sap.toml").resolve()
    # never overwrites: a non-empty folder or a file is refused, and left as it was
    (study / "sap" / "sap.toml").write_text("# edited\n")
    assert main(["-q", "init", str(study)]) == 1
    assert "is not empty: nothing was written" in capsys.readouterr().err
    assert (study / "sap" / "sap.toml").read_text() == "# edited\n"
    a_file = tmp_path / "file.txt"
    a_file.write_text("mine")
    assert main(["-q", "init", str(a_file)]) == 1
    assert a_file.read_text() == "mine"


def test_python_dash_m_runs_the_command_line() -> None:
    done = subprocess.run([sys.executable, "-m", "msc_analysis", "--version"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("msc-analysis ")
