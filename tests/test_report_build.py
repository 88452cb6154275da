"""The interim report end to end on data/synthetic: completeness, traceability, determinism,
cut-off, atomic writing and settings that change the analysis."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from msc_analysis.cli import main
from msc_analysis.io.issues import DataIssues
from msc_analysis.report.atomic import REPORT, check_output, manifest_marker
from msc_analysis.report.build import compute
from msc_analysis.report.writing import stem
from msc_analysis.sap import check_traceability, load_sap

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "synthetic"
SAP = load_sap(REPO / "sap" / "sap.toml")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The report built twice from the same inputs, through the command line: the first with
    the figures drawn in a forked child where possible (the default), the second all in this
    process (``--serial``), so that identical outputs also show the two ways agree."""
    base = tmp_path_factory.mktemp("reports")
    first, second = base / "first", base / "second"
    for out, extra in ((first, []), (second, ["--serial"])):
        assert main(["-q", "report", "--data", str(DATA), "--out", str(out),
                     "--sap", str(REPO / "sap" / "sap.toml"), *extra]) == 0
    return first, second


def test_every_tfl_of_the_sap_is_written(reports: tuple[Path, Path]) -> None:
    out = reports[0]
    for tfl in SAP.tfls:
        if tfl.kind == "figure":
            for ext in ("png", "svg"):
                assert (out / "figures" / f"{stem('figure', tfl.number)}.{ext}").is_file()
        else:
            for ext in ("csv", "html", "rtf"):
                assert (out / "tables" / f"{stem(tfl.kind, tfl.number)}.{ext}").is_file(), tfl.id
    produced = {p.stem for p in (out / "tables").glob("*.csv")}
    produced |= {p.stem for p in (out / "figures").glob("*.png")}
    assert produced == {stem(t.kind, t.number) for t in SAP.tfls}  # nothing the list lacks
    for name in ("report.html", "ard.csv", "data_issues.csv", "manifest.json"):
        assert (out / name).is_file()
    assert (out / "datasets" / "adsl.csv").is_file() and (out / "datasets" / "adae.csv").is_file()


def test_ard_traces_to_the_sap_both_ways(reports: tuple[Path, Path]) -> None:
    out = reports[0]
    ard = pd.read_csv(out / "ard.csv", dtype=str, keep_default_na=False)
    ard["stat"] = pd.to_numeric(ard["stat"], errors="coerce")  # blank = missing statistic
    html = (out / "report.html").read_text(encoding="utf-8")
    titles = {t.id: t.title for t in SAP.tfls
              if f"{t.number} {t.title}" in html.replace("&#x27;", "'")}
    assert len(titles) == len(SAP.tfls)
    assert check_traceability(SAP, ard, titles) == []
    issues = pd.read_csv(out / "data_issues.csv", dtype=str, keep_default_na=False)
    assert "traceability" not in set(issues["source"])


def test_every_table_number_traces_to_ard_rows(reports: tuple[Path, Path]) -> None:
    out = reports[0]
    ard = pd.read_csv(out / "ard.csv", dtype=str, keep_default_na=False)
    def keyed(frame: pd.DataFrame) -> set[tuple[str, ...]]:
        value = pd.to_numeric(frame["stat"], errors="coerce").map(lambda x: f"{x:.12g}")
        return set(zip(frame["analysis_id"], frame["stat_name"], frame["variable"],
                       frame["variable_level"], value, strict=True))

    keys = keyed(ard)
    for path in (out / "tables").glob("t*.csv"):
        data = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert len(data), path.name  # every table shows numbers, each with its ARD row
        assert keyed(data) <= keys, path.name


def test_same_inputs_give_identical_outputs(reports: tuple[Path, Path]) -> None:
    first, second = reports
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for rel in files:
        if rel.name == "manifest.json":
            continue
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel
    m1 = json.loads((first / "manifest.json").read_text())
    m2 = json.loads((second / "manifest.json").read_text())
    m1.pop("run_time_utc"), m2.pop("run_time_utc")
    assert m1 == m2


def test_manifest_records_inputs_settings_and_software(reports: tuple[Path, Path]) -> None:
    manifest = json.loads((reports[0] / "manifest.json").read_text())
    assert set(manifest["inputs"]) == {"adsl", "adex", "adlb", "adae", "advs"}
    assert manifest["inputs"]["adsl"]["file"] == "adsl.csv"
    assert len(manifest["inputs"]["adsl"]["sha256"]) == 64
    assert manifest["sap"]["settings"]["conf_level"] == SAP.conf_level
    assert manifest["seed"] == SAP.seed
    assert manifest["software"]["pandas"] == pd.__version__
    assert manifest["data_cutoff"] == "2024-11-25"
    assert str(REPO) not in json.dumps(manifest)  # no machine path


def test_report_page_is_self_contained(reports: tuple[Path, Path]) -> None:
    html = (reports[0] / "report.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    assert html.count("<img ") == sum(t.kind == "figure" for t in SAP.tfls)
    assert 'src="data:image/png;base64,' in html
    assert "Data cut-off" in html and "2024-11-25" in html
    assert "Decision: " in html  # the monitoring decision in words


def test_cutoff_excludes_later_data_and_lists_it() -> None:
    full = compute(DATA, sap=SAP)
    early = compute(DATA, sap=SAP, cutoff="2024-06-30")
    assert len(early.study.adsl) < len(full.study.adsl)
    assert early.study.adsl["ENRLDT"].max() <= pd.Timestamp("2024-06-30")
    assert early.study.adae["ASTDT"].max() <= pd.Timestamp("2024-06-30")
    cut = early.issues.frame()
    cut = cut[cut["source"] == "cut-off"]
    assert set(cut["severity"]) == {"excluded"}
    removed = len(full.study.adsl) - len(early.study.adsl)
    assert (cut["rule"] == "enrolled-after-cutoff").sum() == removed
    # SAP 9.1: the cut-off reaches SAF-MON. Subject 004's first session, its only one by then,
    # was on 2024-06-29 (TRTSDT in data/synthetic/adsl.csv): its window (to 2024-07-06) is
    # open on 2024-06-30; 001 (window to 2024-05-03) and 003 (to 2024-06-17) are closed.
    ard = early.ard
    flags = ard[(ard["analysis_id"] == "SAF-MON") & (ard["stat_name"] == "window_closed")]
    assert dict(zip(flags["variable_level"].str[-3:], flags["stat"], strict=True)) == {
        "001": 1.0, "003": 1.0, "004": 0.0}
    warn = early.issues.frame()
    warn = warn[warn["rule"] == "monitoring-window-open"]
    assert warn["usubjid"].tolist() == ["NCT06904755-01-004"]
    assert "closes on 2024-07-06" in warn["message"].iloc[0]
    full_flags = full.ard[full.ard["stat_name"] == "window_closed"]
    assert len(full_flags) == 9 and (full_flags["stat"] == 1).all()


def test_confidence_level_setting_reaches_every_interval() -> None:
    sap90 = dataclasses.replace(SAP, conf_level=0.90)
    ard = compute(DATA, sap=sap90).ard
    by = ["analysis_id", "group1_level", "group2_level", "group3_level", "variable",
          "variable_level"]
    levels = ard.loc[ard["stat_name"] == "conf_level"]
    at_90 = levels[levels["stat"].round(12) == 0.9]
    assert set(at_90["analysis_id"]) == set(levels["analysis_id"])  # every analysis with CIs
    # the only other levels are the ones rank and sign methods report as achieved when a
    # handful of differences cannot reach 90 % (as R's wilcox.test and binom-based CIs do)
    n = ard.loc[ard["stat_name"] == "n"].set_index(by)["stat"]
    for rec in levels[levels["stat"].round(12) != 0.9].itertuples(index=False):
        assert rec.variable_level in ("sign-test", "signed-rank"), rec
        assert n.loc[tuple(getattr(rec, c) for c in by)] <= 8, rec


def test_a_failed_run_leaves_the_previous_report(tmp_path: Path, capsys) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.html").write_text("previous report")
    (out / "manifest.json").write_text(json.dumps(
        {**manifest_marker("report"), "outputs": ["manifest.json", "report.html"]}))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "adsl.csv").write_text("USUBJID,AGE\nS1,abc\n")
    assert main(["-q", "report", "--data", str(bad), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err and "adsl" in err.lower()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "report"]  # no work folder


def test_a_report_is_marked_as_one_and_may_be_replaced(reports: tuple[Path, Path]) -> None:
    manifest = json.loads((reports[0] / "manifest.json").read_text())
    assert manifest["producer"] == "msc-analysis" and manifest["output"] == "report"
    plan = check_output(reports[0], REPORT)  # every file listed: nothing of anyone else's
    assert plan.action == "replace" and plan.carry == ()


def test_bad_cutoff_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["report", "--data", str(DATA), "--out", str(tmp_path / "r"),
                 "--cutoff", "2024-13-45"]) == 1
    assert "--cutoff '2024-13-45' is not a valid date" in capsys.readouterr().err


def test_compute_is_usable_without_writing() -> None:
    res = compute(DATA, sap=SAP)
    assert isinstance(res.issues, DataIssues)
    assert set(res.ard["analysis_id"]) == set(SAP.analyses)
