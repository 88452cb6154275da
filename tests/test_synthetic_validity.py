"""The generator always writes data its own validator accepts (issue 11).

``msc-analysis simulate --subjects 10000 --seed 3`` wrote ADVS records with a duplicate key
(USUBJID, PARAMCD, ADTM) that ``msc-analysis validate`` refused: a follow-up visit's vital signs
(drawn at 07:30-08:25) could fall on the PRE measurement of a session held the same day (session
3 on study day 7 after two postponements). Follow-up vital signs on a session day are now taken
before the session.

Each study here is written as CSV and read back by :func:`msc_analysis.io.loading.load_study`,
the function behind ``msc-analysis validate``, for every analysis (the strictest requirements).

Why this grid: writing, reading and validating a study costs about 0.2 s however small it is
(per-column work) and about 0.8 s at 300 subjects, and the file must stay well under 40 s on a
busy 2-core machine (about 12 s idle). So the small sizes (1-10 subjects: studies without
adverse events, with one death or transplant in a tiny cohort) get the most seeds, the larger
sizes (which meet the rarer schedules) fewer: 41 distinct seeds, about 1,100 subjects. Seed 1 at
300 subjects gave the duplicate key before the fix; the collision hits roughly one subject in 5,000
with the default settings, so the grid alone cannot be relied on to meet it. Settings that put
every follow-up visit on a session day (daily sessions) make it common: they are checked through
the validator and directly. The 10,000-subject run is in ``benchmarks/bench_simulate.py``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from msc_analysis.errors import SettingsError
from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import load_study
from msc_analysis.io.schema import ANALYSES
from msc_analysis.synthetic import SimulationSettings, simulate, write_study

#: (subjects, seeds): more seeds where a run is cheap; no seed used twice.
GRID: tuple[tuple[int, tuple[int, ...]], ...] = (
    (1, tuple(range(2, 10))),
    (2, tuple(range(10, 17))),
    (3, tuple(range(17, 23))),
    (5, tuple(range(23, 29))),
    (10, tuple(range(29, 34))),
    (30, tuple(range(34, 38))),
    (100, tuple(range(38, 41))),
    (300, (1, 41)),
)
CASES = [(n, seed) for n, seeds in GRID for seed in seeds]

#: Daily sessions, 20 planned: the Day 7 and Day 14 visits fall on session days.
DAILY = {"n_sessions": 20, "session_interval_days": 1}


def _validate(settings: SimulationSettings, folder: Path) -> DataIssues:
    """Simulate, write and validate a study; return the data issues (raises on an error)."""
    write_study(simulate(settings), folder)
    issues = DataIssues()
    load_study(folder, analyses=ANALYSES, issues=issues)  # DataError lists every error
    return issues


@pytest.mark.parametrize(("n_subjects", "seed"), CASES,
                         ids=[f"n{n}-seed{s}" for n, s in CASES])
def test_simulated_study_passes_validation(n_subjects: int, seed: int, tmp_path: Path) -> None:
    issues = _validate(SimulationSettings(n_subjects=n_subjects, seed=seed), tmp_path)
    assert issues.errors() == []


@pytest.mark.parametrize("seed", [1, 2])
def test_follow_up_visits_on_session_days_pass_validation(seed: int, tmp_path: Path) -> None:
    # before the fix, each of these studies had duplicate ADVS keys
    issues = _validate(SimulationSettings(n_subjects=100, seed=seed, **DAILY), tmp_path)
    assert issues.errors() == []


@pytest.mark.parametrize("extra", [
    {"no_session_prob": 0.99},  # nobody starts a session: empty ADEX, no treatment dates
    {"ae_multiplier": 0.0, "death_prob": 0.0, "transplant_prob": 0.0},  # empty ADAE
], ids=["no-sessions", "no-events"])
def test_edge_studies_pass_validation(extra: dict[str, float], tmp_path: Path) -> None:
    issues = _validate(SimulationSettings(n_subjects=3, seed=11, **extra), tmp_path)
    assert issues.errors() == []


def test_follow_up_vitals_precede_a_same_day_session() -> None:
    data = simulate(SimulationSettings(n_subjects=300, seed=5, **DAILY))
    vs = data["advs"]
    vs = vs[vs["PARAMCD"] == "SYSBP"].assign(DAY=lambda f: f["ADTM"].dt.normalize())
    visits = vs[vs["AVISITN"].isin([7.0, 14.0, 28.0])]
    pre = vs[vs["ATPT"] == "PRE"]
    same_day = visits.merge(pre, on=["USUBJID", "DAY"], suffixes=("", "_PRE"))
    assert len(same_day) > 300  # the situation is common with daily sessions
    assert (same_day["ADTM"] < same_day["ADTM_PRE"]).all()
    start = data["adex"].assign(DAY=lambda f: f["ASTDTM"].dt.normalize())
    with_start = visits.merge(start, on=["USUBJID", "DAY"])
    assert (with_start["ADTM"] < with_start["ASTDTM"]).all()
    # and nothing else moved: every subject's vital signs keep distinct times
    assert not vs.duplicated(["USUBJID", "ADTM"]).any()


def test_extreme_allowed_settings_pass_validation(tmp_path: Path) -> None:
    settings = SimulationSettings(n_subjects=60, seed=7, session_minutes=600.0,
                                  plasma_flow_ml_min=40.0, msc_dose=80.0, ae_multiplier=20.0,
                                  **DAILY)
    issues = _validate(settings, tmp_path)
    assert issues.errors() == []


@pytest.mark.parametrize(("name", "value"), [("session_minutes", 601.0),
                                             ("plasma_flow_ml_min", 40.5),
                                             ("msc_dose", 81.0)])
def test_settings_that_would_give_invalid_sessions_are_refused(name: str, value: float) -> None:
    # a longer session, faster flow or larger dose could exceed ADEX EXDUR (24 h), PLVOL
    # (30,000 mL) or MSCDOSE (100 x 10^9 cells), which the validator refuses
    with pytest.raises(SettingsError, match=f"setting {name}: must be"):
        dataclasses.replace(SimulationSettings(), **{name: value})

