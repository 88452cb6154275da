"""Reproducible files: the committed default study regenerates byte for byte.

The command documented in data/synthetic/README.md is run into a temporary folder and every
file is compared with the committed one; two runs with the same seed give the same bytes, a
different seed different data.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from msc_analysis.synthetic import SimulationSettings, command, simulate, write_study
from msc_analysis.synthetic.writer import FILE_NAMES

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "data" / "synthetic"
FILES = sorted([*FILE_NAMES.values(), command.SETTINGS_FILE])


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    command.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_readme_states_the_command() -> None:
    readme = (DEFAULT / "README.md").read_text(encoding="utf-8")
    assert "msc-analysis simulate --subjects 10 --seed 6904755 --out data/synthetic" in readme


def test_default_study_regenerates_byte_identical(tmp_path: Path) -> None:
    # the README's command: msc-analysis simulate --subjects 10 --seed 6904755 --out DIR
    assert _run(["simulate", "--subjects", "10", "--seed", "6904755", "--out",
                 str(tmp_path)]) == 0
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (DEFAULT / name).read_bytes(), name


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    settings = SimulationSettings(n_subjects=40, seed=5)
    write_study(simulate(settings), tmp_path / "a")
    write_study(simulate(settings), tmp_path / "b")
    write_study(simulate(SimulationSettings(n_subjects=40, seed=6)), tmp_path / "c")
    for name in FILE_NAMES.values():
        a = (tmp_path / "a" / name).read_bytes()
        assert a == (tmp_path / "b" / name).read_bytes(), name
        assert a != (tmp_path / "c" / name).read_bytes(), name


def test_csv_format(tmp_path: Path) -> None:
    write_study(simulate(SimulationSettings(n_subjects=20, seed=3)), tmp_path)
    adlb = (tmp_path / "adlb.csv").read_bytes()
    assert b"\r" not in adlb and adlb.endswith(b"\n")
    header, first = adlb.decode().split("\n")[:2]
    assert header.startswith("STUDYID,USUBJID,PARAMCD,PARAM,AVAL,")
    fields = first.split(",")
    # ADTM YYYY-MM-DDTHH:MM, ADT YYYY-MM-DD
    assert len(fields[8]) == 16 and fields[8][10] == "T" and len(fields[9]) == 10
    adsl = (tmp_path / "adsl.csv").read_text().splitlines()
    ages = [row.split(",")[4] for row in adsl[1:]]
    assert all(a.isdigit() for a in ages)  # int variables without decimals


def test_sessions_option_and_settings_file(tmp_path: Path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text("n_subjects = 7\nseed = 9\ndeath_prob = 0.1\n[ae_rates]\nhypotension = 0.5\n")
    out = tmp_path / "out"
    assert _run(["simulate", "--settings", str(toml), "--sessions", "5", "--out", str(out)]) == 0
    adsl = (out / "adsl.csv").read_text().splitlines()
    assert len(adsl) == 8
    recorded = (out / command.SETTINGS_FILE).read_text()
    assert "n_sessions = 5" in recorded and "hypotension = 0.5" in recorded
    # the recorded settings reproduce the run
    again = tmp_path / "again"
    assert _run(["simulate", "--settings", str(out / command.SETTINGS_FILE), "--out",
                 str(again)]) == 0
    for name in FILES:
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_unknown_key_in_settings_file_is_a_clear_error(tmp_path: Path) -> None:
    from msc_analysis.errors import SettingsError

    toml = tmp_path / "bad.toml"
    toml.write_text("n_subjects = 7\ndeath_rate = 0.1\n")
    with pytest.raises(SettingsError, match="death_rate"):
        _run(["simulate", "--settings", str(toml), "--out", str(tmp_path / "o")])
