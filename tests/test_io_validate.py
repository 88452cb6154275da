"""One test per validation rule: a broken copy of the valid fixture study gives a message that
names the file, the data row (1-based, header excluded), the variable and the rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from io_fixtures import valid_frames, write_study
from msc_analysis.errors import DataError, SettingsError
from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import load_study
from msc_analysis.io.schema import ANALYSES

ALL = tuple(a for a in ANALYSES if a != "core")


def _broken(tmp_path: Path, dataset: str, row: int, variable: str, value: str) -> Path:
    """Write the valid study with data row ``row`` (1-based) of ``variable`` set to ``value``."""
    frames = valid_frames()
    frames[dataset].loc[row - 1, variable] = value
    return write_study(tmp_path / "study", frames)


def _error(folder: Path, analyses: tuple[str, ...] = ALL) -> str:
    with pytest.raises(DataError) as caught:
        load_study(folder, analyses=analyses)
    return str(caught.value)


def _line(message: str, *parts: str) -> str:
    """The one error line containing every part (fails when there is none)."""
    lines = [ln for ln in message.splitlines() if all(p in ln for p in parts)]
    assert lines, f"no line with {parts} in:\n{message}"
    return lines[0]


def test_valid_study_loads_clean_for_every_analysis(tmp_path: Path) -> None:
    issues = DataIssues()
    study = load_study(write_study(tmp_path / "s"), analyses=ALL, issues=issues)
    assert len(issues) == 0
    assert [len(study.adsl), len(study.adex), len(study.adlb), len(study.adae),
            len(study.advs)] == [3, 6, 18, 2, 6]
    assert study.adsl["TRTSDT"].dtype == "datetime64[ns]"
    assert study.adex["ASTDTM"].iloc[0] == pd.Timestamp("2025-03-03 09:00")
    assert study.adsl["AGE"].tolist() == [41.0, 42.0, 43.0]
    assert study.adsl["LTXFL"].tolist() == ["", "", ""]
    assert study.adlb["_row"].tolist() == list(range(1, 19))


def test_variable_missing(tmp_path: Path) -> None:
    frames = valid_frames()
    frames["adsl"] = frames["adsl"].drop(columns="SAFFL")
    folder = write_study(tmp_path / "s", frames)
    line = _line(_error(folder, ("safety",)), "adsl.csv", "variable SAFFL",
                 "rule variable-missing")
    assert "needed by: safety" in line
    # Not needed by the labs analyses: loads.
    assert "SAFFL" not in load_study(folder, analyses=("labs",)).adsl.columns


def test_dataset_missing(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "s")
    (folder / "adae.csv").unlink()
    _line(_error(folder, ("safety",)), "rule dataset-missing", "ADAE", "safety")
    assert load_study(folder, analyses=("labs",)).adae is None


def test_missing_subject_id(tmp_path: Path) -> None:
    message = _error(_broken(tmp_path, "adlb", 4, "USUBJID", ""))
    _line(message, "adlb.csv data row 4", "variable USUBJID", "rule missing-value")


def test_type_number_is_error_when_needed(tmp_path: Path) -> None:
    message = _error(_broken(tmp_path, "adsl", 2, "AGE", "forty"), ("report",))
    line = _line(message, "adsl.csv data row 2", "variable AGE", "rule type")
    assert "'forty' is not a finite number" in line


def test_type_date_is_error_when_needed(tmp_path: Path) -> None:
    message = _error(_broken(tmp_path, "adsl", 3, "TRTSDT", "2025-02-30"), ("safety",))
    line = _line(message, "adsl.csv data row 3", "variable TRTSDT", "rule type")
    assert "'2025-02-30' is not an ISO 8601 date" in line


def test_type_datetime_is_error_when_needed(tmp_path: Path) -> None:
    message = _error(_broken(tmp_path, "adex", 5, "ASTDTM", "03/07/2025 09:00"), ("exposure",))
    _line(message, "adex.csv data row 5", "variable ASTDTM", "rule type", "datetime")


def test_type_whole_number(tmp_path: Path) -> None:
    message = _error(_broken(tmp_path, "adex", 2, "SESSNUM", "1.5"), ("exposure",))
    _line(message, "adex.csv data row 2", "variable SESSNUM", "rule type", "whole number")


def test_type_is_warning_when_not_needed_and_value_set_missing(tmp_path: Path) -> None:
    issues = DataIssues()
    folder = _broken(tmp_path, "adsl", 2, "MELDSCR", "n/a")
    study = load_study(folder, analyses=("safety",), issues=issues)
    assert len(study.adsl) == 3  # no record dropped
    assert np.isnan(study.adsl.loc[1, "MELDSCR"])
    frame = issues.frame()
    assert frame[["file", "row", "variable", "rule", "severity"]].values.tolist() == [
        ["adsl.csv", "2", "MELDSCR", "type", "warning"]]
    assert "set to missing" in frame["message"].iloc[0]


def test_controlled_term_is_error_when_needed(tmp_path: Path) -> None:
    message = _error(_broken(tmp_path, "adsl", 2, "SAFFL", "yes"), ("safety",))
    line = _line(message, "adsl.csv data row 2", "variable SAFFL", "rule controlled-term")
    assert "'yes' is not one of 'Y', 'N'" in line


def test_controlled_term_blank_is_error_when_needed(tmp_path: Path) -> None:
    message = _error(_broken(tmp_path, "adsl", 1, "SAFFL", ""), ("safety",))
    _line(message, "adsl.csv data row 1", "variable SAFFL", "rule controlled-term")


def test_controlled_term_is_warning_when_not_used(tmp_path: Path) -> None:
    issues = DataIssues()
    study = load_study(_broken(tmp_path, "adsl", 2, "AGEU", "YRS"), analyses=ALL,
                       issues=issues)
    assert study.adsl.loc[1, "AGEU"] == "YRS"  # kept
    rows = issues.frame()[["file", "row", "variable", "rule", "severity"]].values.tolist()
    assert rows == [["adsl.csv", "2", "AGEU", "controlled-term", "warning"]]


@pytest.mark.parametrize(("dataset", "variable", "value", "analysis"), [
    ("adae", "AEOUT", "RESOLVED", "safety"),
    ("adae", "ATOXGR", "6", "safety"),
    ("adae", "AERELDEV", "MAYBE", "safety"),
    ("adsl", "DTHFL", "N", "efficacy"),
    ("adex", "SESSSTAT", "DONE", "exposure"),
])
def test_controlled_term_is_error_when_used(tmp_path: Path, dataset: str, variable: str,
                                            value: str, analysis: str) -> None:
    # Variables the analyses interpret when present (schema used_by): a bad value is an error,
    # not a warning saying that no analysis uses it.
    message = _error(_broken(tmp_path, dataset, 2, variable, value), (analysis,))
    line = _line(message, f"{dataset}.csv data row 2", f"variable {variable}",
                 "rule controlled-term")
    assert f"value {value!r} is not one of" in line


@pytest.mark.parametrize("value", ["0", "6", "1.5", "Grade 3", "severe"])
def test_recognised_ae_toxicity_grade_outside_ctcae_is_an_error(tmp_path: Path,
                                                                value: str) -> None:
    # AETOXGR is not in this trial's files, but the AE analyses grade by it when present.
    frames = valid_frames()
    frames["adae"] = frames["adae"].drop(columns=["ATOXGR"])
    frames["adae"]["AETOXGR"] = ["2", value]
    message = _error(write_study(tmp_path / "study", frames), ("safety",))
    _line(message, "adae.csv data row 2", "variable AETOXGR", "rule controlled-term")


def test_lower_case_codes_are_upper_cased_once_and_listed(tmp_path: Path) -> None:
    frames = valid_frames()
    frames["adlb"]["PARAMCD"] = frames["adlb"]["PARAMCD"].str.replace("TBIL", "tbil")
    frames["adsl"].loc[1, "SAFFL"] = "y"
    issues = DataIssues()
    study = load_study(write_study(tmp_path / "study", frames), analyses=ALL, issues=issues)
    assert "tbil" not in set(study.adlb["PARAMCD"])
    assert (study.adlb["PARAMCD"] == "TBIL").sum() == 6
    assert study.adsl["SAFFL"].tolist() == ["Y", "Y", "Y"]
    notes = issues.frame()[["file", "row", "variable", "rule", "severity"]].values.tolist()
    assert notes == [["adlb.csv", "1", "PARAMCD", "code-case", "note"],
                     ["adsl.csv", "2", "SAFFL", "code-case", "note"]]


@pytest.mark.parametrize("value", ["0", "-0", "0.0"])
def test_zero_concentration_is_impossible(tmp_path: Path, value: str) -> None:
    # A bilirubin of 0 is no measurement (and broke the log-scale analyses of the report).
    message = _error(_broken(tmp_path, "adlb", 2, "AVAL", value), ("labs",))
    line = _line(message, "adlb.csv data row 2", "variable AVAL", "rule impossible-value")
    assert "TBIL value 0 umol/L is impossible (must be above 0 and at most 10000)" in line


@pytest.mark.parametrize(("value", "shown"), [("1899-12-31", "1899-12-31"),
                                              ("2999-01-01", "'2999-01-01'")])
def test_dates_far_in_the_past_or_future_are_impossible(tmp_path: Path, value: str,
                                                        shown: str) -> None:
    message = _error(_broken(tmp_path, "adae", 1, "ASTDT", value), ("safety",))
    line = _line(message, "adae.csv data row 1", "variable ASTDT", "rule impossible-value")
    assert f"value {shown} is impossible (dates run from 1900-01-01 to 2100-12-31)" in line


def test_study_without_subjects_is_an_error(tmp_path: Path) -> None:
    frames = {name: frame.iloc[:0] for name, frame in valid_frames().items()}
    message = _error(write_study(tmp_path / "study", frames), ("safety",))
    _line(message, "adsl.csv: rule dataset-empty: ADSL (adsl.csv) has no records")


def test_key_duplicate(tmp_path: Path) -> None:
    message = _error(_broken(tmp_path, "adex", 2, "SESSNUM", "1"))
    line = _line(message, "adex.csv data row 2", "variable USUBJID, SESSNUM",
                 "rule key-duplicate")
    assert "already on adex.csv data row 1" in line


def test_key_not_checked_without_key_variables(tmp_path: Path) -> None:
    frames = valid_frames()
    frames["adlb"] = frames["adlb"].drop(columns="ADTM")
    frames["adlb"]["ADT"] = "2025-03-03"  # every record now shares subject, parameter, date
    study = load_study(write_study(tmp_path / "s", frames), analyses=("labs",))
    assert len(study.adlb) == 18


@pytest.mark.parametrize(
    ("dataset", "row", "variable", "value", "pair"),
    [
        ("adsl", 1, "TRTEDT", "2025-03-02", "TRTSDT, TRTEDT"),
        ("adsl", 3, "DTHDT", "2025-03-01", "TRTSDT, DTHDT"),
        ("adsl", 2, "ENRLDT", "2025-02-28", "RFICDT, ENRLDT"),
        ("adae", 2, "AENDT", "2025-03-01", "ASTDT, AENDT"),
        ("adex", 4, "AENDTM", "2025-03-07T08:00", "ASTDTM, AENDTM"),
    ],
)
def test_date_order(
    tmp_path: Path, dataset: str, row: int, variable: str, value: str, pair: str
) -> None:
    message = _error(_broken(tmp_path, dataset, row, variable, value))
    line = _line(message, f"{dataset}.csv data row {row}", f"variable {pair}",
                 "rule date-order")
    assert "is after" in line


def test_subject_not_in_adsl(tmp_path: Path) -> None:
    message = _error(_broken(tmp_path, "adae", 2, "USUBJID", "MSC-01-999"))
    line = _line(message, "adae.csv data row 2", "variable USUBJID", "rule subject-not-in-adsl")
    assert "'MSC-01-999' is not in ADSL" in line


def test_unknown_unit(tmp_path: Path) -> None:
    message = _error(_broken(tmp_path, "adlb", 1, "AVALU", "mg/mL"), ("labs",))
    line = _line(message, "adlb.csv data row 1", "variable AVALU", "rule unit-unknown")
    assert "TBIL has 'mg/mL', which cannot be converted to umol/L" in line


def test_unknown_unit_from_param_label(tmp_path: Path) -> None:
    # No AVALU: the unit is read from PARAM, as in the CDISC Pilot.
    frames = valid_frames()
    frames["adlb"] = frames["adlb"].drop(columns="AVALU")
    frames["adlb"].loc[2, "PARAM"] = "Prothrombin INR (seconds)"
    frames["adlb"].loc[2, "PARAMCD"] = "INR"
    message = _error(write_study(tmp_path / "s", frames))
    _line(message, "adlb.csv data row 3", "variable PARAM", "rule unit-unknown", "'seconds'")


def test_unit_conversion_bilirubin_mg_dl(tmp_path: Path) -> None:
    # 14.62 mg/dL x 17.1 = 250.002 umol/L (conventional factor, see io/units.py).
    frames = valid_frames()
    tbil = frames["adlb"]["PARAMCD"] == "TBIL"
    frames["adlb"].loc[tbil, "AVALU"] = "mg/dL"
    frames["adlb"].loc[tbil, "AVAL"] = "14.62"
    issues = DataIssues()
    study = load_study(write_study(tmp_path / "s", frames), analyses=("labs",), issues=issues)
    lab = study.adlb[study.adlb["PARAMCD"] == "TBIL"]
    assert lab["AVAL"].tolist() == pytest.approx([250.002] * 6, abs=1e-9)
    assert set(lab["AVALU"]) == {"umol/L"}
    other = study.adlb[study.adlb["PARAMCD"] == "CRP"]
    assert other["AVAL"].tolist() == [12.5] * 6
    notes = issues.frame()
    assert notes["rule"].tolist() == ["unit-converted"]
    assert "6 value(s) converted from mg/dL to umol/L (x 17.1)" in notes["message"].iloc[0]


@pytest.mark.parametrize(
    ("dataset", "row", "variable", "value", "what"),
    [
        ("adsl", 2, "AGE", "150", "maximum 120"),
        ("adex", 1, "SESSNUM", "0", "minimum 1"),
        ("adlb", 3, "AVAL", "0", "INR"),  # rows 3-4 are INR: an INR of 0 is impossible
        ("adlb", 5, "AVAL", "-1", "CRP"),  # a negative concentration
        ("advs", 1, "AVAL", "3.7", "TEMP"),  # 3.7 C: a misplaced decimal point
    ],
)
def test_impossible_value(
    tmp_path: Path, dataset: str, row: int, variable: str, value: str, what: str
) -> None:
    message = _error(_broken(tmp_path, dataset, row, variable, value))
    line = _line(message, f"{dataset}.csv data row {row}", f"variable {variable}",
                 "rule impossible-value")
    assert what in line


def test_every_error_is_listed_and_recorded(tmp_path: Path) -> None:
    frames = valid_frames()
    frames["adsl"].loc[0, "AGE"] = "x"
    frames["adae"].loc[1, "USUBJID"] = "NOBODY"
    frames["adlb"].loc[0, "AVALU"] = "g"
    issues = DataIssues()
    with pytest.raises(DataError) as caught:
        load_study(write_study(tmp_path / "s", frames), analyses=ALL, issues=issues)
    message = str(caught.value)
    assert message.startswith("3 data error(s) in study folder")
    assert "header line excluded" in message.splitlines()[0]
    assert len(message.splitlines()) == 4
    assert sorted(e["rule"] for e in issues.errors()) == [
        "subject-not-in-adsl", "type", "unit-unknown"]


def test_error_list_is_capped_with_a_count(tmp_path: Path) -> None:
    frames = valid_frames()
    big = pd.concat([frames["adlb"]] * 10, ignore_index=True)
    big["AVALU"] = "furlongs"
    big["ADTM"] = [f"2025-03-{1 + i // 60:02d}T{(i // 60) % 24:02d}:{i % 60:02d}"
                   for i in range(len(big))]
    big["USUBJID"] = [f"X{i}" for i in range(len(big))]  # 180 subjects missing from ADSL
    frames["adlb"] = big
    message = _error(write_study(tmp_path / "s", frames))
    lines = message.splitlines()
    assert lines[0].startswith("183 data error(s)")
    assert len(lines) == 1 + 50 + 1
    assert lines[-1].startswith("  ... and 133 more error(s)")


def test_unknown_analysis_name(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="unknown analysis 'safty'"):
        load_study(write_study(tmp_path / "s"), analyses=("safty",))


def test_folder_missing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_study(tmp_path / "nowhere")


def test_datetime_without_time_is_a_warning(tmp_path: Path) -> None:
    issues = DataIssues()
    study = load_study(_broken(tmp_path, "advs", 2, "ADTM", "2025-03-03"), analyses=ALL,
                       issues=issues)
    assert study.advs.loc[1, "ADTM"] == pd.Timestamp("2025-03-03 00:00")
    rows = issues.frame()[["file", "row", "variable", "rule", "severity"]].values.tolist()
    assert rows == [["advs.csv", "2", "ADTM", "type", "warning"]]


def test_variable_duplicate(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "s")
    text = (folder / "adae.csv").read_text().splitlines()
    text[0] = text[0].replace("AETERM", "aeseq")
    (folder / "adae.csv").write_text("\n".join(text) + "\n")
    message = _error(folder)
    _line(message, "adae.csv: variable AESEQ, rule variable-duplicate")


def test_type_infinite_number(tmp_path: Path) -> None:
    message = _error(_broken(tmp_path, "adlb", 2, "AVAL", "inf"), ("labs",))
    _line(message, "adlb.csv data row 2", "variable AVAL", "rule type", "finite number")


def test_repeated_values_are_typed_and_reported_row_by_row(tmp_path: Path) -> None:
    # Text is parsed once per distinct value and spread back to the records: a value repeated
    # on several rows must still give one error per row, and each row its own parsed value.
    frames = valid_frames()
    lab = frames["adlb"]
    lab.loc[[1, 4, 9], "AVAL"] = "x1"  # the same bad number on data rows 2, 5 and 10
    lab.loc[[2, 6], "ADTM"] = "2025-03-03T25:00"  # the same impossible time on rows 3 and 7
    message = _error(write_study(tmp_path / "s", frames))
    for row in (2, 5, 10):
        _line(message, f"adlb.csv data row {row}:", "variable AVAL", "rule type",
              "'x1' is not a finite number")
    for row in (3, 7):
        _line(message, f"adlb.csv data row {row}:", "variable ADTM", "rule type", "datetime")
    assert message.count("rule type") == 5


def test_repeated_values_keep_their_row_values(tmp_path: Path) -> None:
    frames = valid_frames()
    lab = frames["adlb"]
    lab["AVAL"] = ["7", "0.5", "7", " 12 ", "1e2", "0.5"] * (len(lab) // 6)
    lab["ADTM"] = ["2025-03-03T08:30", "2025-03-04T09:00"] * (len(lab) // 2)
    study = load_study(write_study(tmp_path / "s", frames), analyses=ALL)
    # the fixture's labs are in SI units already (no conversion), so AVAL is as written
    assert study.adlb["AVAL"].tolist() == [7.0, 0.5, 7.0, 12.0, 100.0, 0.5] * (len(lab) // 6)
    assert study.adlb["ADTM"].tolist() == [pd.Timestamp("2025-03-03 08:30"),
                                           pd.Timestamp("2025-03-04 09:00")] * (len(lab) // 2)
