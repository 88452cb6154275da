"""Every CSV the package writes is safe to open in a spreadsheet, and its values round-trip.

A study whose adverse-event terms, body systems and one subject id are hostile (formulas, a
carriage return inside a term, a term that starts with an apostrophe, text that looks like a
number) goes through the report's writers, the safety and validate verbs and the simulate
writer. Every CSV written must hold no text cell that a spreadsheet would run as a formula,
every row must have the header's number of fields (a carriage return must not start a row),
and the package's readers must give back the values written (csv_cells.read_csv, ard.read,
the study loader).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from msc_analysis import ard as ard_mod
from msc_analysis.cli import main
from msc_analysis.csv_cells import (
    FORMULA_START,
    neutralise,
    neutralise_column,
    read_csv,
    restore,
    restore_column,
    write_frame,
)
from msc_analysis.io import DataIssues, load_study
from msc_analysis.report import analysis_step
from msc_analysis.report.build import compute
from msc_analysis.report.writing import derived_datasets, write_outputs
from msc_analysis.sap import load_sap
from msc_analysis.synthetic import SimulationSettings, simulate, write_study

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC = REPO / "data" / "synthetic"

#: Hostile texts: formulas, a carriage return inside a term (a new row, then a formula, if the
#: field is left unquoted), an apostrophe that must survive, number-looking text.
HOSTILE = ['=HYPERLINK("http://x","click")', "+1", "-cmd", "@SUM(A1)", "\tx", "'quoted",
           "Nausea\r@SUM(A1)", "-0.5", "'=already", "=1+2"]
#: A subject id that starts a formula: it reaches data_issues.csv and every dataset.
HOSTILE_SUBJECT = "-007@x"
TRICKY = [*HOSTILE, "", "'", "''", "' ", "-", "+", "@", "=", "\r", "\t", "-1", "+3", "-2e-3",
          "1e5", ".5", "-.5", "-1.", "- 1", "-1,5", "-inf", "nan", "-٣", "-1\n", "Sepsis",
          "a'b", "x=1"]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _scan(folder: Path) -> list[Path]:
    """Every CSV under ``folder`` (or the file ``folder``): no live formula, apostrophes only
    as the rule adds them, rectangular rows. Returns the files scanned."""
    files = sorted(folder.rglob("*.csv")) if folder.is_dir() else [folder]
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        width = len(rows[0])
        for number, row in enumerate(rows, start=1):
            assert len(row) == width, f"{path.name} line {number}: {row}"
            for cell in row:
                if cell.startswith(FORMULA_START):
                    assert _is_number(cell), f"{path.name} line {number}: live cell {cell!r}"
                if cell.startswith("'"):
                    assert cell[1:2] in (*FORMULA_START, "'"), f"{path.name}: {cell!r}"
    return files


def _hostile_study(folder: Path, *, unknown_subject: bool = False) -> Path:
    """data/synthetic with hostile AE terms and subject 007 renamed to a formula."""
    shutil.copytree(SYNTHETIC, folder)
    for name in ("adsl", "adae", "adlb", "advs", "adex", "screening_log"):
        path = folder / f"{name}.csv"
        path.write_bytes(path.read_bytes().replace(b"NCT06904755-01-007",
                                                   HOSTILE_SUBJECT.encode()))
    adae = pd.read_csv(folder / "adae.csv", dtype=str, keep_default_na=False)
    for i, text in enumerate(HOSTILE):
        adae.loc[i, ["AETERM", "AEDECOD"]] = text
    adae.loc[0, "AEBODSYS"] = "=1+2"
    if unknown_subject:  # an error that names the subject in the data issues
        extra = adae.iloc[[1]].assign(USUBJID="=cmd|' /C calc'!A0", AESEQ="9")
        adae = pd.concat([adae, extra], ignore_index=True)
    # as Parquet: the texts reach the outputs as they are, whatever the CSV reader does
    (folder / "adae.csv").unlink()
    adae.to_parquet(folder / "adae.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _hostile_study(tmp_path_factory.mktemp("hostile") / "study")


@pytest.fixture(scope="module")
def report(hostile: Path, tmp_path_factory: pytest.TempPathFactory):
    """The report's ARD, data issues, derived datasets and tables written from the hostile
    study (no figures, no page): the results, the tables and the folder."""
    results = compute(hostile, sap=load_sap(REPO / "sap" / "sap.toml"))
    tables = analysis_step.tables(results)
    out = tmp_path_factory.mktemp("report")
    write_outputs(results, out, tables)
    return results, tables, out


# ------------------------------------------------------------------------------------ the rule


def test_rule() -> None:
    assert neutralise('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    for text in ("+cmd", "-cmd", "@SUM(A1)", "\tx", "\rx", "-", "- 1", "-1,5", "-inf"):
        assert neutralise(text) == "'" + text
    # an apostrophe that was there gets a second one, so the reader knows which to remove
    assert neutralise("'quoted") == "''quoted" and neutralise("'") == "''"
    # plain numbers, other text and non-text values are left alone
    for value in ("-1.5", "+3", "-2e-3", "-.5", "-1.", "Sepsis", "", "a'b", -1.5, None):
        assert neutralise(value) is value
    assert neutralise("-٣") == "'-٣"  # a plain number in ASCII digits only
    assert neutralise("-1\n") == "'-1\n"


def test_restore_undoes_neutralise() -> None:
    for text in TRICKY:
        assert restore(neutralise(text)) == text, repr(text)
    assert restore("'=1") == "=1" and restore("''a") == "'a" and restore("-1") == "-1"
    assert restore(-1.0) == -1.0


@pytest.mark.parametrize("dtype", [object, "str"])
def test_columns_follow_the_rule(dtype: object) -> None:
    values = pd.Series([*TRICKY, None], dtype=dtype)
    written = neutralise_column(values)
    expected = [None if v is None else neutralise(v) for v in [*TRICKY, None]]
    assert [None if pd.isna(v) else v for v in written] == expected
    back = restore_column(written)
    assert [None if pd.isna(v) else v for v in back] == [*TRICKY, None]
    categories = pd.Series(["=x", "a", "=x", None], dtype="category")  # its categories
    assert neutralise_column(categories).tolist()[:3] == ["'=x", "a", "'=x"]
    assert restore_column(neutralise_column(categories)).tolist()[:3] == ["=x", "a", "=x"]
    numbers = pd.Series([-1.5, -np.inf, np.nan])
    assert neutralise_column(numbers) is numbers  # numbers stay numbers
    assert restore_column(numbers) is numbers


def test_write_frame_quotes_carriage_returns(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": ["x\ry", "p", 'q"\r\n'], "n": [-1.5, 2.0, np.nan]})
    text = write_frame(frame)
    assert text == 'a,n\n"x\ry",-1.5\np,2.0\n"q""\r\n",\n'
    path = tmp_path / "f.csv"
    write_frame(frame, path)
    assert path.read_bytes() == text.encode()
    back = read_csv(path, dtype={"a": str})
    assert back["a"].tolist() == frame["a"].tolist()
    assert back["n"].tolist()[:2] == [-1.5, 2.0]
    # without a carriage return: exactly pandas' text
    plain = frame.assign(a=["x", "y", "z"])
    assert write_frame(plain) == plain.to_csv(index=False, lineterminator="\n")


# ---------------------------------------------------------------------------------- the report


def test_report_csvs_hold_no_live_formula(report) -> None:
    _, _, out = report
    files = _scan(out)
    names = {p.relative_to(out).as_posix() for p in files}
    assert {"ard.csv", "data_issues.csv", "datasets/adae.csv", "datasets/adsl.csv",
            "tables/t14_3_1_2.csv", "tables/l16_2_7_1.csv"} <= names
    # the hostile texts did reach the files (neutralised)
    assert "'=HYPERLINK(\"\"http://x\"\",\"\"click\"\")" in (out / "ard.csv").read_text()
    assert f"'{HOSTILE_SUBJECT}" in (out / "data_issues.csv").read_text()


def test_ard_round_trips(report) -> None:
    results, _, out = report
    back = ard_mod.read(out / "ard.csv")
    pd.testing.assert_frame_equal(back, results.ard, check_dtype=False)
    terms = set(back["variable_level"])
    assert {"=HYPERLINK(\"http://x\",\"click\")", "-cmd", "'quoted", "Nausea\r@SUM(A1)",
            "-0.5", "'=already", "+1"} <= terms


def test_issues_round_trip(report) -> None:
    results, _, out = report
    back = read_csv(out / "data_issues.csv", dtype=str, na_values=[])
    pd.testing.assert_frame_equal(back, results.issues.frame(), check_dtype=False)
    assert HOSTILE_SUBJECT in set(back["usubjid"])


def _texts(frame: pd.DataFrame) -> pd.DataFrame:
    """The text columns of a frame, missing as ""."""
    text = [c for c in frame.columns
            if frame[c].dtype == object or isinstance(frame[c].dtype, pd.StringDtype)]
    return frame[text].astype(object).where(frame[text].notna(), "").astype(str)


def test_datasets_round_trip(report) -> None:
    results, _, out = report
    for name, frame in derived_datasets(results).items():
        back = read_csv(out / "datasets" / f"{name}.csv", dtype=str, na_values=[])
        want = _texts(frame.drop(columns=["_file", "_row"], errors="ignore"))
        pd.testing.assert_frame_equal(back[list(want.columns)], want, check_dtype=False,
                                      obj=name)
    adae = read_csv(out / "datasets" / "adae.csv", dtype=str, na_values=[])
    assert {t.strip() for t in HOSTILE} <= set(adae["AETERM"])


def test_tables_round_trip(report) -> None:
    _, tables, out = report
    from msc_analysis.report.writing import stem

    for table in tables:
        back = read_csv(out / "tables" / f"{stem(table.kind, table.number)}.csv", dtype=str,
                        na_values=[])
        source = table.records if table.records is not None else table.data
        want = _texts(source)
        pd.testing.assert_frame_equal(back[list(want.columns)], want, check_dtype=False,
                                      obj=table.number)


# ------------------------------------------------------------------------------ the other verbs


def test_safety_verb_csvs(hostile: Path, tmp_path: Path) -> None:
    assert main(["-q", "safety", "--data", str(hostile), "--out", str(tmp_path / "out")]) == 0
    files = _scan(tmp_path / "out")
    assert tmp_path / "out" / "ard.csv" in files and len(files) > 10


def test_validate_verb_issues_csv(tmp_path: Path) -> None:
    study = _hostile_study(tmp_path / "study", unknown_subject=True)
    issues = tmp_path / "issues.csv"
    assert main(["-q", "validate", str(study), "--issues", str(issues)]) == 1
    _scan(issues)
    back = read_csv(issues, dtype=str, na_values=[])
    assert "=cmd|' /C calc'!A0" in set(back["usubjid"])


def test_simulated_study_round_trips_through_the_loader(tmp_path: Path) -> None:
    data = simulate(SimulationSettings(n_subjects=4, seed=11))
    adae = data["adae"]
    terms = [HOSTILE[i % len(HOSTILE)] for i in range(len(adae))]
    data["adae"] = adae.assign(AETERM=terms)
    write_study(data, tmp_path / "study")
    _scan(tmp_path / "study")
    issues = DataIssues()
    study = load_study(tmp_path / "study", analyses=("safety",), issues=issues)
    # the loader strips blanks (a leading tab included), as for any study file
    assert study.adae["AETERM"].tolist() == [t.strip() for t in terms]
    notes = issues.frame().query("rule == 'reader' and variable == 'AETERM'")
    quoted = sum(neutralise(t) != t for t in terms)
    assert notes["message"].str.startswith(f"{quoted} value(s) beginning with an apostrophe").all()
    assert len(notes) == 1


def test_user_csv_with_apostrophes_is_read_with_a_note(tmp_path: Path) -> None:
    study = tmp_path / "study"
    shutil.copytree(SYNTHETIC, study)
    adae = pd.read_csv(study / "adae.csv", dtype=str, keep_default_na=False)
    adae.loc[0, "AETERM"] = "''s-Hertogenbosch fever"
    adae.to_csv(study / "adae.csv", index=False, lineterminator="\n")
    issues = DataIssues()
    loaded = load_study(study, analyses=("safety",), issues=issues)
    assert loaded.adae["AETERM"].iloc[0] == "'s-Hertogenbosch fever"
    found = issues.frame().query("rule == 'reader'")
    assert found[["file", "variable"]].values.tolist() == [["adae.csv", "AETERM"]]


def test_dataset_writer_neutralises_every_kind_of_text_column(tmp_path: Path) -> None:
    from msc_analysis.report.writing import write_dataset

    frame = pd.DataFrame({
        "S": pd.Series(["=a", "b"], dtype="str"),
        "O": pd.Series(["@a", 1], dtype=object),  # mixed: each value as text
        "C": pd.Categorical(["-cmd", "b"]),
        "N": [-1.5, 2.0],
        "=H": ["x", "y"],
    })
    write_dataset(frame, tmp_path / "d.csv")
    assert (tmp_path / "d.csv").read_text().splitlines() == [
        '"S","O","C","N","\'=H"', '"\'=a","\'@a","\'-cmd",-1.5,"x"', '"b","1","b",2,"y"']
    back = read_csv(tmp_path / "d.csv", dtype=str)
    assert back.columns.tolist() == ["S", "O", "C", "N", "=H"]
    assert back.iloc[0].tolist() == ["=a", "@a", "-cmd", "-1.5", "x"]
