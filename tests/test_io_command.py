"""The ``msc-analysis validate DIR`` verb: exit status, summary, issues file, no traceback."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from io_fixtures import valid_frames, write_study
from msc_analysis import cli

PILOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cdisc_pilot01"


@pytest.fixture
def io_only_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real ``cli.main`` with only this verb registered (other verbs may not exist yet)."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("msc_analysis.io.command",))


def test_valid_folder_exit_0_with_summary(
    io_only_cli: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_study(tmp_path / "s")
    status = cli.main(["validate", str(folder), "--analyses", "safety,labs"])
    out = capsys.readouterr().out
    assert status == 0
    assert "is valid for: core, safety, labs" in out
    assert "ADLB     adlb.csv    18         3" in out
    assert "Data issues: 0" in out


def test_broken_folder_exit_1_error_message_no_traceback(
    io_only_cli: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = valid_frames()
    frames["adsl"].loc[1, "SAFFL"] = "maybe"
    folder = write_study(tmp_path / "s", frames)
    issues_file = tmp_path / "out" / "issues.csv"
    status = cli.main(["validate", str(folder), "--analyses", "safety",
                       "--issues", str(issues_file)])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.err.startswith("error: 1 data error(s) in study folder")
    assert "adsl.csv data row 2: variable SAFFL, rule controlled-term" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""
    written = pd.read_csv(issues_file, dtype=str, keep_default_na=False)
    assert written[["file", "row", "variable", "rule", "severity"]].values.tolist() == [
        ["adsl.csv", "2", "SAFFL", "controlled-term", "error"]]


def test_unknown_analysis_exit_1(
    io_only_cli: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["validate", str(write_study(tmp_path / "s")), "--analyses", "saftey"])
    assert status == 1
    assert capsys.readouterr().err.startswith("error: unknown analysis 'saftey'")


@pytest.mark.skipif(not PILOT.is_dir(), reason="CDISC pilot data not available")
def test_pilot_validates(
    io_only_cli: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issues_file = tmp_path / "issues.csv"
    status = cli.main(["validate", str(PILOT), "--issues", str(issues_file)])
    out = capsys.readouterr().out
    assert status == 0
    assert "ADLB     adlbc.xpt, adlbh.xpt.gz  124196       254" in out
    assert "Subjects in ADSL: 254" in out
    assert "Data issues: 6 (3 warning(s), 3 note(s))" in out
    assert len(pd.read_csv(issues_file)) == 6


_ALL_VERBS = all(importlib.util.find_spec(m) is not None for m in cli.COMMAND_MODULES)


@pytest.mark.skipif(not _ALL_VERBS, reason="not every verb module exists yet")
def test_full_cli_validate_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = valid_frames()
    frames["adae"].loc[0, "USUBJID"] = "GHOST"
    status = cli.main(["validate", str(write_study(tmp_path / "s", frames))])
    err = capsys.readouterr().err
    assert status == 1
    assert "error: " in err
    assert "adae.csv data row 1: variable USUBJID, rule subject-not-in-adsl" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("where", ["data-file", "in-folder", "user-file", "folder"])
def test_issues_file_never_replaces_what_the_package_did_not_write(
    io_only_cli: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    folder = write_study(tmp_path / "s")
    target = {"data-file": folder / "adsl.csv", "in-folder": folder / "issues.csv",
              "user-file": tmp_path / "notes.csv", "folder": tmp_path / "dir"}[where]
    if where == "user-file":
        target.write_text("my,own\nnotes,here\n")
    if where == "folder":
        target.mkdir()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    status = cli.main(["validate", str(folder), "--issues", str(target)])
    err = capsys.readouterr().err
    assert status == 1 and err.startswith(f"error: --issues {target} ") and "Traceback" not in err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_issues_file_of_an_earlier_run_is_replaced(
    io_only_cli: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_study(tmp_path / "s")
    issues_file = tmp_path / "issues.csv"
    assert cli.main(["validate", str(folder), "--issues", str(issues_file)]) == 0
    issues_file.write_text(issues_file.read_text() + "x,,,,,,note,an earlier line\n")
    assert cli.main(["validate", str(folder), "--issues", str(issues_file)]) == 0
    assert "an earlier line" not in issues_file.read_text()
