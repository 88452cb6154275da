"""Simulation settings: defaults, TOML loading, validation with clear errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from msc_analysis.errors import SettingsError
from msc_analysis.synthetic import SimulationSettings, load_settings, settings_to_toml
from msc_analysis.synthetic.settings import settings_from_mapping


def test_defaults() -> None:
    s = SimulationSettings()
    assert (s.n_subjects, s.seed, s.n_sessions) == (10, 6904755, 3)
    assert s.enrol_start == dt.date(2024, 4, 23)
    assert 0.3 <= s.tbil_rr_mean <= 0.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.n_subjects = 5  # type: ignore[misc]
    assert hash(s) == hash(SimulationSettings())


def test_toml_round_trip(tmp_path: Path) -> None:
    s = SimulationSettings(n_subjects=33, seed=2, enrol_start=dt.date(2025, 1, 2),
                           ae_rates={"pyrexia": 0.1, "hypotension": 0.25}, tbil_rr_mean=0.45)
    path = tmp_path / "s.toml"
    path.write_text(settings_to_toml(s))
    assert load_settings(path) == s


def test_partial_file_keeps_defaults(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('n_subjects = 4\nenrol_start = "2024-05-01"\n')
    s = load_settings(path)
    assert s.n_subjects == 4 and s.enrol_start == dt.date(2024, 5, 1)
    assert s.n_sessions == 3


@pytest.mark.parametrize(("text", "needle"), [
    ("death_rate = 0.1\n", "death_rate"),
    ("[ae_rates]\nhypotensoin = 0.1\n", "hypotensoin"),
    ("n_subjects = 0\n", "n_subjects"),
    ("death_prob = 1.5\n", "death_prob"),
    ("n_sessions = 2.5\n", "n_sessions"),
    ("[ae_rates]\npyrexia = 2\n", "pyrexia"),
    ('enrol_start = "yesterday"\n', "enrol_start"),
    ("n_subjects = \n", "not valid TOML"),
])
def test_bad_settings_name_the_key(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=needle) as info:
        load_settings(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "none.toml")


def test_mapping_overrides_base() -> None:
    base = SimulationSettings(n_subjects=50)
    s = settings_from_mapping({"seed": 3}, base=base)
    assert s.n_subjects == 50 and s.seed == 3


def test_settings_file_that_is_not_utf8_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_bytes(b"n_subjects = 12\n# R\xe9vision\n")
    with pytest.raises(SettingsError, match=r"settings.toml: not UTF-8 text: byte 0xE9 on line 2 "):
        load_settings(path)
