"""The ``msc-analysis safety`` verb on the synthetic trial and on the CDISC pilot.

Published pilot numbers: Atorus CDISC_pilot_replication outputs/14-5.01.rtf (commit 69b4fb6e),
subjects with any TEAE Placebo 65 [281 events], Xanomeline Low Dose 77 [412], High Dose 76 [433].
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from msc_analysis.ard import ARD_COLUMNS
from msc_analysis.cli import main
from msc_analysis.report.atomic import SAFETY, check_output

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC = REPO / "data" / "synthetic"
PILOT = REPO.parent / "shared" / "data" / "cdisc_pilot01"
SAP = REPO / "sap" / "sap.toml"

TABLES = ("t14_3_1_1", "t14_3_1_2", "t14_3_1_3", "t14_3_1_4", "t14_3_1_5", "t14_3_1_6",
          "t14_3_4_1", "t14_3_4_2", "t14_3_4_3", "t14_3_5_1", "t14_3_6_1", "t14_3_7_1",
          "t14_3_7_2", "t14_3_7_3", "l16_2_7_1", "l16_2_7_2", "l16_2_7_3", "l16_2_8_1")


def _run(out: Path, data: Path, *extra: str) -> int:
    return main(["-q", "safety", "--data", str(data), "--out", str(out), "--sap", str(SAP),
                 *extra])


@pytest.fixture(scope="module")
def synthetic_out(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("safety") / "run1"
    assert _run(out, SYNTHETIC) == 0
    return out


def test_synthetic_run_writes_every_output(synthetic_out: Path) -> None:
    for stem in TABLES:
        for ext in ("csv", "html", "rtf"):
            assert (synthetic_out / "tables" / f"{stem}.{ext}").is_file(), f"{stem}.{ext}"
    ard = pd.read_csv(synthetic_out / "ard.csv", keep_default_na=False)
    assert tuple(ard.columns) == ARD_COLUMNS
    assert {f"SAF-{x}" for x in ("AEOV", "AESOCPT", "AEGRADE", "AEREL", "AESER", "AESESS",
                                 "LBSUM", "LBSHIFT", "LBG3", "EXPO", "VS", "MON", "MONBND",
                                 "MONOC")} == set(ard["analysis_id"])
    assert (synthetic_out / "data_issues.csv").is_file()


def test_the_output_is_marked_and_may_be_replaced(synthetic_out: Path) -> None:
    manifest = json.loads((synthetic_out / "manifest.json").read_text())
    assert manifest["producer"] == "msc-analysis" and manifest["output"] == "safety"
    assert manifest["inputs"]["adsl"]["file"] == "adsl.csv"
    assert check_output(synthetic_out, SAFETY).action == "replace"  # every file listed


def _keys(frame: pd.DataFrame) -> set[tuple[object, ...]]:
    """ARD rows as tuples, the statistic as a float (the two CSV writers format it apart)."""
    text = [c for c in ARD_COLUMNS if c != "stat"]
    stat = pd.to_numeric(frame["stat"], errors="coerce").astype(float)
    return {(*row, "nan" if pd.isna(v) else float(v))
            for row, v in zip(map(tuple, frame[text].to_numpy()), stat, strict=True)}


def test_every_table_number_traces_to_the_ard(synthetic_out: Path) -> None:
    ard = pd.read_csv(synthetic_out / "ard.csv", keep_default_na=False, dtype=str)
    keys = _keys(ard)
    for stem in TABLES:
        if stem.startswith("l"):
            continue
        trace = pd.read_csv(synthetic_out / "tables" / f"{stem}.csv", keep_default_na=False,
                            dtype=str)
        assert len(trace), stem
        assert _keys(trace) <= keys, stem


def test_same_input_gives_byte_identical_outputs(synthetic_out: Path) -> None:
    again = synthetic_out.parent / "run2"
    assert _run(again, SYNTHETIC) == 0
    first = sorted(p.relative_to(synthetic_out) for p in synthetic_out.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert first == second
    for rel in first:
        if rel.name == "manifest.json":  # the run time differs; everything else the same
            m1, m2 = (json.loads((d / rel).read_text()) for d in (synthetic_out, again))
            m1.pop("run_time_utc"), m2.pop("run_time_utc")
            assert m1 == m2
            continue
        assert (synthetic_out / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_by_treatment_on_the_single_arm_trial(tmp_path: Path) -> None:
    assert _run(tmp_path, SYNTHETIC, "--by", "TRTA") == 0
    ard = pd.read_csv(tmp_path / "ard.csv", keep_default_na=False)
    ard["stat"] = pd.to_numeric(ard["stat"], errors="coerce")
    header = ard[(ard["analysis_id"] == "SAF-AEOV") & (ard["variable"] == "SAFFL")]
    adsl = pd.read_csv(SYNTHETIC / "adsl.csv", keep_default_na=False)
    arm = adsl.loc[adsl["SAFFL"] == "Y", "TRT01A"].unique().tolist()
    assert header["group1"].tolist() == ["TRTA"] and header["group1_level"].tolist() == arm
    assert header["stat"].tolist() == [float((adsl["SAFFL"] == "Y").sum())]


def test_unknown_grouping_variable_is_a_plain_error(tmp_path: Path, capsys) -> None:
    assert _run(tmp_path, SYNTHETIC, "--by", "NOSUCHVAR") == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "NOSUCHVAR" in err and "Traceback" not in err


@pytest.mark.skipif(not PILOT.is_dir(), reason="CDISC pilot data not available")
def test_pilot_run_by_trta(tmp_path: Path) -> None:
    assert _run(tmp_path, PILOT, "--by", "TRTA") == 0
    for stem in ("t14_3_1_1", "t14_3_1_2", "t14_3_4_1"):
        assert (tmp_path / "tables" / f"{stem}.html").is_file()
    assert not (tmp_path / "tables" / "t14_3_5_1.csv").exists()   # no ADEX in the pilot
    issues = pd.read_csv(tmp_path / "data_issues.csv", keep_default_na=False)
    skipped = set(issues.loc[issues["rule"] == "analysis-skipped", "source"])
    assert skipped == {"SAF-AESESS", "SAF-EXPO", "SAF-VS"}
    ard = pd.read_csv(tmp_path / "ard.csv", keep_default_na=False)
    ard["stat"] = pd.to_numeric(ard["stat"], errors="coerce")
    any_teae = ard[(ard["analysis_id"] == "SAF-AEOV") & (ard["variable"] == "TEAE")]
    n = any_teae[any_teae["stat_name"] == "n"].set_index("group1_level")["stat"].to_dict()
    ev = any_teae[any_teae["stat_name"] == "n_events"].set_index("group1_level")["stat"]
    assert n == {"Placebo": 65.0, "Xanomeline Low Dose": 77.0, "Xanomeline High Dose": 76.0}
    assert ev.to_dict() == {"Placebo": 281.0, "Xanomeline Low Dose": 412.0,
                            "Xanomeline High Dose": 433.0}
    html = (tmp_path / "tables" / "t14_3_1_1.html").read_text()
    assert "Placebo<br>N = 86" in html or "N = 86" in html


def test_cutoff_marks_open_monitoring_windows(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    # 2024-09-18: subject 009's last session was on 2024-09-15 (data/synthetic/adsl.csv TRTEDT),
    # so its 7-day window runs to 2024-09-22 and its row is provisional (SAP 9.1); subject 010
    # (first session 2024-09-26) is not yet treated.
    out = tmp_path / "cut"
    assert _run(out, SYNTHETIC, "--cutoff", "2024-09-18") == 0
    table = pd.read_csv(out / "tables" / "t14_3_7_1.csv", keep_default_na=False)
    marked = table[table["cell_text"].str.endswith("(provisional)")]
    assert marked["cell_text"].tolist() == ["NCT06904755-01-009 (provisional)"]
    assert marked["stat_name"].tolist() == ["window_closed"]
    issues = pd.read_csv(out / "data_issues.csv", keep_default_na=False)
    warn = issues[issues["rule"] == "monitoring-window-open"]
    assert warn["usubjid"].tolist() == ["NCT06904755-01-009"]
    assert "closes on 2024-09-22" in warn["message"].iloc[0]
    assert "2024-09-22" in (out / "tables" / "t14_3_7_1.html").read_text()
    assert _run(tmp_path / "bad", SYNTHETIC, "--cutoff", "2024-02-30") == 1
    assert "--cutoff '2024-02-30' is not a valid date" in capsys.readouterr().err


def test_a_cutoff_before_any_enrolment_is_one_line_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    status = main(["-q", "safety", "--data", str(SYNTHETIC), "--out", str(out), "--sap", str(SAP),
                       "--cutoff", "2000-01-01"])
    err = capsys.readouterr().err
    assert status == 1
    assert err == "error: no subject was enrolled by the cut-off 2000-01-01\n"
    assert not out.exists()
