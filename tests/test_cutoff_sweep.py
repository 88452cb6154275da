"""A report at every data cut-off (SAP section 10: the committee may ask for one at any cut-off,
and the first sentinel reviews come after one or two subjects).

The sweep runs the report's compute and table path (:func:`msc_analysis.report.build.prepare`,
then :mod:`msc_analysis.report.analysis_step`'s ``analyse``, ``tables`` and ``check_outputs``;
no figures) at the distinct dates of data/synthetic, from the day before the first date to the
day after the last, and of a simulated 30-subject study. Every cut-off gives every table and
listing of the SAP's TFL list, or, before the first enrolment, the one clear error. A handful of
representative early cut-offs run the whole ``report`` verb, figures included, through the
command line.

A cut-off costs one to four seconds, so the suite sweeps every date up to three weeks after the
first session in data/synthetic (where the data are fewest and most outputs rest on one or two
subjects; up to the first session in the simulated study) and every :data:`STRIDE`-th date after
(four times as far apart in the simulated study);
``MSC_CUTOFF_SWEEP=all`` sweeps every date (about 4 minutes for data/synthetic and 13 for the
simulated study). Each MMRM fit and the folder's loading are done once per distinct input (both
are deterministic, so a repeated input gives the same result).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from msc_analysis.analyses import prepost
from msc_analysis.cli import main
from msc_analysis.errors import AnalysisError
from msc_analysis.io.issues import DataIssues
from msc_analysis.render.table import DisplayTable
from msc_analysis.report import analysis_step, build
from msc_analysis.sap import load_sap

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "synthetic"
SAP_FILE = REPO / "sap" / "sap.toml"
SAP = load_sap(SAP_FILE)
#: Every table and listing of the SAP's TFL list (the figures are drawn by the report verb).
TABLE_IDS = [t.id for t in SAP.tfls if t.kind != "figure"]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
DAY = pd.Timedelta(days=1)
#: After the early dates, the suite sweeps every STRIDE-th date (see the module's description).
STRIDE = 16
EVERY_DATE = os.environ.get("MSC_CUTOFF_SWEEP", "") == "all"


def study_dates(folder: Path) -> list[str]:
    """Every distinct date in the folder's CSV files, with the day before the first and the
    day after the last (YYYY-MM-DD, sorted)."""
    found: set[str] = set()
    for path in sorted(folder.glob("*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for column in frame.columns:
            values = frame[column]
            found.update(v[:10] for v in values[values.str.match(_DATE)])
    days = sorted(found)
    first, last = pd.Timestamp(days[0]), pd.Timestamp(days[-1])
    return [str((first - DAY).date()), *days, str((last + DAY).date())]


def first_enrolment(folder: Path) -> str:
    """The first ENRLDT of the folder's ADSL."""
    return str(pd.read_csv(folder / "adsl.csv", dtype=str)["ENRLDT"].min())


def swept_dates(folder: Path, early_days: int, stride: int = STRIDE) -> list[str]:
    """The dates the suite sweeps: every date up to ``early_days`` after the first session,
    then every ``stride``-th date, and the last (every date with :data:`EVERY_DATE`)."""
    days = study_dates(folder)
    if EVERY_DATE:
        return days
    first = pd.Timestamp(pd.read_csv(folder / "adsl.csv", dtype=str)["TRTSDT"].dropna().min())
    early = [d for d in days if d <= str((first + early_days * DAY).date())]
    return sorted({*early, *days[len(early)::stride], days[-1]})


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fit each distinct MMRM input once and load each folder once (deterministic steps, so
    a repeat gives the same result; the issues found while loading are replayed)."""
    fits: dict[tuple[str, str], object] = {}
    fit = prepost._fit_mmrm

    def fit_once(frame: pd.DataFrame, formula: str, *args: object, **kwargs: object) -> object:
        key = (formula, frame.to_csv(index=False))
        if key not in fits:
            fits[key] = fit(frame, formula, *args, **kwargs)
        return fits[key]

    loaded: dict[Path, tuple[object, DataIssues]] = {}
    load = build.load_study

    def load_once(folder: Path, *, analyses: object, issues: DataIssues) -> object:
        if folder not in loaded:
            found = DataIssues()
            loaded[folder] = (load(folder, analyses=analyses, issues=found), found)
        study, found = loaded[folder]
        issues.extend(found)
        return study

    monkeypatch.setattr(prepost, "_fit_mmrm", fit_once)
    monkeypatch.setattr(build, "load_study", load_once)
    yield


def report_tables(folder: Path, cutoff: str) -> tuple[object, list[DisplayTable]]:
    """The report's results and tables at ``cutoff`` (no figures, nothing written)."""
    results = analysis_step.analyse(build.prepare(folder, sap=SAP, cutoff=cutoff))
    tables = analysis_step.tables(results)
    analysis_step.check_outputs(results, tables)
    analysis_step.report_page(results, tables, [])
    return results, tables


def table_id(table: DisplayTable) -> str:
    return ("T" if table.kind == "Table" else "L") + table.number


def assert_complete(tables: list[DisplayTable], where: str) -> None:
    """Every table and listing of the SAP, each with a body or saying it has no records."""
    assert [table_id(t) for t in tables] == TABLE_IDS, where
    for t in tables:
        if t.kind == "Listing" and not t.rows:
            assert "No records." in t.footnotes, (where, t.number)
        else:
            assert t.rows, (where, t.number)


def sweep(folder: Path, days: list[str]) -> dict[str, int]:
    """Compute and tables at each day; counts of reports and of the errors before enrolment."""
    enrolled = first_enrolment(folder)
    counts = {"report": 0, "error": 0}
    for day in days:
        if day < enrolled:
            with pytest.raises(AnalysisError, match=f"no subject was enrolled by the cut-off "
                                                     f"{day}"):
                build.prepare(folder, sap=SAP, cutoff=day)
            counts["error"] += 1
            continue
        _, tables = report_tables(folder, day)
        assert_complete(tables, f"{folder.name} at {day}")
        counts["report"] += 1
    return counts


def test_study_dates_run_from_the_day_before_the_first_to_the_day_after_the_last() -> None:
    days = study_dates(DATA)
    assert (days[0], days[-1], len(days)) == ("2024-04-19", "2024-11-26", 98)
    swept = swept_dates(DATA, 21)
    # every date to 2024-05-17, three weeks after the first session (subject 001, 2024-04-26;
    # subject 002 enrolled on 2024-05-13 and never treated), then every STRIDE-th
    assert swept[:12] == days[:12] and days[12] == "2024-05-23"
    assert swept[12:] == [*days[12::STRIDE], days[-1]] or EVERY_DATE


def test_the_dates_of_the_synthetic_study_give_complete_reports(fast: None) -> None:
    days = swept_dates(DATA, 21)
    counts = sweep(DATA, days)
    # 2024-04-19, 2024-04-20 (a screening laboratory date) and 2024-04-23 (first consent) come
    # before the first enrolment (2024-04-24)
    assert counts == {"report": len(days) - 3, "error": 3}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated 30-subject study."""
    folder = tmp_path_factory.mktemp("sim30") / "study"
    assert main(["-q", "simulate", "--subjects", "30", "--seed", "20240501",
                 "--out", str(folder)]) == 0
    return folder


def test_the_dates_of_a_simulated_30_subject_study_give_complete_reports(
        simulated: Path, fast: None) -> None:
    days = swept_dates(simulated, 0, stride=4 * STRIDE)
    counts = sweep(simulated, days)
    enrolled = first_enrolment(simulated)
    assert counts == {"report": sum(d >= enrolled for d in days),
                      "error": sum(d < enrolled for d in days)}
    assert counts["error"] >= 1  # the day before the first date


def test_an_mmrm_interval_too_wide_to_back_transform_is_not_estimable(simulated: Path) -> None:
    # 2025-03-15: Day 28 of a log-scale biomarker rests on very few subjects and the fit's
    # Satterthwaite df is tiny: the upper limit on the log scale (about 58000) overflows exp
    issues = DataIssues()
    prepared = build.prepare(simulated, sap=SAP, cutoff="2025-03-15")
    ard = prepost.pp_mmrm(prepared.prepost, SAP, issues)
    high = ard[(ard["variable"] == "RATIO") & (ard["stat_name"] == "conf_high")]
    assert high["stat"].isna().any() and not high["stat"].isna().all()
    notes = issues.frame().query("source == 'PP-MMRM' and rule == 'not-estimable'")
    assert notes["message"].str.contains("conf_high of the ratio not estimable").any()
    assert prepost._exp(1000.0) != prepost._exp(1000.0)  # NaN
    assert prepost._exp(0.0) == 1.0


# --------------------------------------------------------------------------------------------
# What the tables say at the earliest cut-offs of data/synthetic
# --------------------------------------------------------------------------------------------
# 2024-04-24: subject 001 enrolled, first session on 2024-04-26; 2024-04-26: that session done.


def _table(tables: list[DisplayTable], tfl_id: str) -> DisplayTable:
    return next(t for t in tables if table_id(t) == tfl_id)


def _cells(table: DisplayTable) -> list[str]:
    return [row.text(k) for row in table.rows for k in table.column_keys]


def test_enrolled_but_not_treated_every_safety_and_prepost_table_says_why(fast: None) -> None:
    results, tables = report_tables(DATA, "2024-04-24")
    sets = _table(tables, "T14.1.2").body_frame().set_index("label")
    assert sets.loc["Enrolled Set"].iloc[-1] == "1 (100)"
    assert sets.loc["Safety Set"].iloc[-1] == "0"
    for tfl_id in ("T14.1.3", "T14.3.1.1", "T14.3.5.1", "T14.3.7.1"):
        t = _table(tables, tfl_id)
        assert [r.label for r in t.rows] == ["Not estimable"]
        assert _cells(t) == ["No subject in the Safety Set (no session started by the data "
                             "cut-off)"]
    for tfl_id in ("T14.2.1", "T14.2.4", "T14.2.7"):
        assert _cells(_table(tables, tfl_id)) == [
            "No subject in the Full Analysis Set at the data cut-off"]
    # the design tables of the monitoring rule need no subject
    assert len(_table(tables, "T14.3.7.2").rows) == 10
    # SAFFL and FASFL of 001 are Y in adsl.csv: each change is listed
    changed = results.issues.frame().query("rule == 'flag-at-cutoff'")
    assert changed["variable"].tolist() == ["SAFFL", "FASFL"]
    assert set(changed["usubjid"]) == {"NCT06904755-01-001"}


def test_one_subject_treated_the_tables_say_what_is_not_estimable(fast: None) -> None:
    _, tables = report_tables(DATA, "2024-04-26")
    survival = _table(tables, "T14.2.8")
    assert _cells(survival).count("NE") == 2  # Days 28 and 90: nobody followed up that long
    assert any("no subject was followed up to that day" in f for f in survival.footnotes)
    followup = _table(tables, "T14.2.3")
    day7 = followup.body_frame()
    assert "NE" in set(day7["v1"]) and any(f.startswith("NE: not estimable") for f in
                                           followup.footnotes)
    sessions = _table(tables, "T14.2.1").body_frame()
    t_test = sessions.index[sessions["label"] == "Paired t-test"]
    assert len(t_test) == 6  # one subject: no t-test of any biomarker, each says NE
    assert sessions.loc[t_test[0] + 1, "s1"] == "NE"
    holm = _table(tables, "T14.2.6").body_frame()
    assert set(holm["est"]) == {"NE"}
    # calcium has no graded post-baseline value yet
    shift = _table(tables, "T14.3.4.2")
    assert "Not estimable: no subject with a baseline and a post-baseline grade" in [
        r.label for r in shift.rows]
    grade3 = _table(tables, "T14.3.4.3").body_frame().set_index("label")
    assert grade3.loc["Calcium (mmol/L)", ["c0_n", "c0_ci", "c0_w"]].tolist() == [
        "0/0", "NE", "0"]


# --------------------------------------------------------------------------------------------
# The report verb at representative early cut-offs, figures included
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cutoff", ["2024-04-25", "2024-04-26"])
def test_report_verb_at_an_early_cutoff(cutoff: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "report"
    assert main(["-q", "report", "--data", str(DATA), "--out", str(out), "--cutoff", cutoff,
                 "--sap", str(SAP_FILE), "--serial"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    names = {p.name for p in (out / "tables").glob("*.csv")}
    assert len(names) == len(TABLE_IDS)
    figures = [t for t in SAP.tfls if t.kind == "figure"]
    assert len(list((out / "figures").glob("*.png"))) == len(figures)
    assert f"{cutoff}" in (out / "report.html").read_text(encoding="utf-8")


def test_report_verb_before_the_first_enrolment_is_a_one_line_error(tmp_path: Path,
                                                                     capsys) -> None:
    assert main(["-q", "report", "--data", str(DATA), "--out", str(tmp_path / "r"),
                 "--cutoff", "2024-04-23", "--sap", str(SAP_FILE)]) == 1
    err = capsys.readouterr().err
    assert err == "error: no subject was enrolled by the cut-off 2024-04-23\n"
    assert not (tmp_path / "r").exists()


def test_report_verb_on_a_study_whose_sessions_have_not_started(tmp_path: Path,
                                                                capsys) -> None:
    """ADEX with its header only (a first interim before any session)."""
    study = tmp_path / "study"
    study.mkdir()
    for path in DATA.glob("*.csv"):
        (study / path.name).write_bytes(path.read_bytes())
    header = (DATA / "adex.csv").read_text(encoding="utf-8").splitlines()[0]
    (study / "adex.csv").write_text(header + "\n", encoding="utf-8")
    out = tmp_path / "report"
    assert main(["-q", "report", "--data", str(study), "--out", str(out), "--cutoff",
                 "2024-06-10", "--sap", str(SAP_FILE), "--serial"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    issues = pd.read_csv(out / "data_issues.csv", dtype=str, keep_default_na=False)
    # 001 and 003 are flagged SAFFL = Y in adsl.csv and enrolled by then; no session is
    # recorded, so they are not in the Safety Set: each change is listed
    saf = issues[(issues["rule"] == "flag-at-cutoff") & (issues["variable"] == "SAFFL")]
    assert saf["usubjid"].tolist() == ["NCT06904755-01-001", "NCT06904755-01-003"]
    overview = pd.read_csv(out / "tables" / "t14_3_1_1.csv", dtype=str)
    assert overview.empty  # a table without numbers has no rows behind it
    assert "No subject in the Safety Set" in (out / "tables" / "t14_3_1_1.html").read_text(
        encoding="utf-8")
