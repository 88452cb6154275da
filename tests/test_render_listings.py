"""The safety listings as files: their CSV (the records), their display, their RTF font size.

Checked by hand:

(a) a listing's CSV is its records (:attr:`DisplayTable.records`), one row per record, the
    variable names as columns: floats as their shortest round-trip text (``repr``), integers
    as integers, a date column at midnight as ``YYYY-MM-DD``, a datetime column as
    ``YYYY-MM-DDTHH:MM``, missing values empty, text neutralised against formula injection as
    in the tables' CSVs (the exact CSV text is written out below); a table without records
    still writes its ARD trace;
(b) the display of an AE listing and of a laboratory listing, cell by cell: the subject as the
    row label, the group as a heading, readable headers, stacked cells (one value a line),
    seriousness criteria / relationships / time points by short names, "LLN-ULN" ranges,
    "grade (baseline grade)";
(c) the automatic RTF font size (:func:`rtf_font_size`): 9 pt, or 8 or 7 pt when the longest
    words of the columns do not fit side by side at the larger size, worked out in characters
    of Courier New (0.6001 em) below; the column widths then hold each longest word; an
    explicit ``font_size`` still rules;
(d) the listings of the 10-subject synthetic study: each CSV reads back as the listing's
    records; each RTF uses the largest size at which its longest words fit; and, if LibreOffice
    and poppler are installed, L16.2.7.1 converts to a PDF whose first page breaks no word
    (every word pdftotext reads is a word of the listing's texts).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from msc_analysis.render.safety_tables import listing_table
from msc_analysis.render.table import Column, DisplayTable, TableBuilder
from msc_analysis.render.writers import (
    chars_per_line,
    rtf_font_size,
    rtf_layout,
    wrapped_lines,
    write_csv,
    write_rtf,
    write_table,
)
from office import PDFTOTEXT, SOFFICE, pdf_text, to_pdf

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "synthetic"
SAP_FILE = REPO / "sap" / "sap.toml"


def _texts(table: DisplayTable) -> list[list[str]]:
    return [[r.text(c.key) for c in table.columns] for r in table.rows]


# --------------------------------------------------------------------------------------------
# (a) the CSV is the records
# --------------------------------------------------------------------------------------------


def records_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": pd.Series(["S-1", "S-2", None], dtype="str"),
        "AVAL": [1 / 3, 3.0, np.nan],
        "BASE": [-0.0, 1e-20, 2.5],
        "DTHDY": np.array([4, -2, 12], dtype="int64"),
        "ASTDT": pd.to_datetime(["2025-03-03", None, "2025-03-05"]),
        "ADTM": pd.to_datetime(["2025-03-03T08:30", "2025-03-04", None], format="ISO8601"),
        "AETERM": pd.Series(['=HYPERLINK("x")', "Nausea, mild", "-1.5"], dtype="str"),
        "NOTE": pd.Series(["@cmd", "", "+3"], dtype="str"),
    })


def test_listing_csv_is_its_records(tmp_path: Path) -> None:
    table = listing_table(records_frame(), "16.2.7.2", "Deaths")
    path = write_csv(table, tmp_path / "l.csv")
    # By hand: 1/3 and 3.0 as repr; -0.0 and 1e-20 as repr; DTHDY an integer; ASTDT all at
    # midnight: dates; ADTM has a time: every value with hours and minutes (2025-03-04 at
    # 00:00 too); missing empty; '=...' and '@...' prefixed with an apostrophe, '-1.5' and
    # '+3' (plain numbers) kept; the comma and the quotes quoted as CSV does.
    assert path.read_text(encoding="utf-8") == (
        "USUBJID,AVAL,BASE,DTHDY,ASTDT,ADTM,AETERM,NOTE\n"
        "S-1,0.3333333333333333,-0.0,4,2025-03-03,2025-03-03T08:30,\"'=HYPERLINK(\"\"x\"\")\","
        "'@cmd\n"
        "S-2,3.0,1e-20,-2,,2025-03-04T00:00,\"Nausea, mild\",\n"
        ",,2.5,12,2025-03-05,,-1.5,+3\n"
    )
    back = pd.read_csv(path)
    assert back["AVAL"].iloc[0] == 1 / 3 and back["BASE"].iloc[1] == 1e-20  # exact


def test_write_table_writes_the_records_and_the_display(tmp_path: Path) -> None:
    table = listing_table(records_frame(), "16.2.7.2", "Deaths")
    paths = write_table(table, tmp_path, "l16_2_7_2")
    header = paths["csv"].read_text(encoding="utf-8").splitlines()[0]
    assert header == "USUBJID,AVAL,BASE,DTHDY,ASTDT,ADTM,AETERM,NOTE"
    html = paths["html"].read_text(encoding="utf-8")
    assert '<th scope="col" class="stub">Subject</th>' in html
    assert "nan" not in html and "NaT" not in html


def test_empty_listing_csv_has_the_variables(tmp_path: Path) -> None:
    frame = records_frame().iloc[0:0]
    path = write_csv(listing_table(frame, "16.2.7.2", "Deaths"), tmp_path / "e.csv")
    assert path.read_text(encoding="utf-8") == "USUBJID,AVAL,BASE,DTHDY,ASTDT,ADTM,AETERM,NOTE\n"


def test_a_table_without_records_writes_its_trace(tmp_path: Path) -> None:
    table = TableBuilder("1", "T", "P", [Column("a", "A")]).build()
    assert table.records is None
    text = write_csv(table, tmp_path / "t.csv").read_text(encoding="utf-8")
    assert text.startswith("table,row,row_group,row_label,column,cell_text,analysis_id,")


# --------------------------------------------------------------------------------------------
# (b) the display
# --------------------------------------------------------------------------------------------


def ae_records() -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": pd.Series(["S-01", "S-01", "S-02"], dtype="str"),
        "Group": pd.Series(["ARM A", "ARM A", "ARM B"], dtype="str"),
        "AESEQ": [1.0, 2.0, 1.0],
        "AEBODSYS": ["Infections and infestations", "Vascular disorders",
                     "Nervous system disorders"],
        "AEDECOD": ["Sepsis", "Hypotension", "Syncope"],
        "AETERM": ["sepsis", "low blood pressure", ""],
        "ASTDT": pd.to_datetime(["2025-01-20", "2025-01-12", "2025-01-13"]),
        "AENDT": pd.to_datetime(["2025-01-22", None, "2025-01-13"]),
        "AGRADEN": [5.0, 3.0, np.nan],
        "SERCRIT": ["AESDTH; AESLIFE", "AESHOSP", "AESXYZ"],
        "RELATION": ["AERELDEV: NOT RELATED; AERELMSC: missing", "AEREL: POSSIBLE", ""],
        "AEACN": ["SESSIONS DISCONTINUED", "", "NONE"],
        "AEOUT": ["FATAL", "NOT RECOVERED/NOT RESOLVED", ""],
        "TRTEMFL": ["Y", "Y", ""],
    })


def test_ae_listing_display_by_hand() -> None:
    records = ae_records()
    table = listing_table(records, "16.2.7.1", "Serious Adverse Events", "Safety Set",
                          ("SAP note.",), group="Group")
    assert table.stub_header == "Subject"
    assert [c.header for c in table.columns] == [
        "AE\nNo.", "System organ class/\nPreferred term/\nReported term", "Start/\nEnd",
        "Grade", "Serious\ncriteria", "Relationship", "Action taken/\nOutcome", "TEAE"]
    assert [c.align for c in table.columns] == ["center", "left", "left", "center", "left",
                                                "left", "left", "center"]
    assert [r.label for r in table.rows] == ["S-01", "S-01", "S-02"]
    assert [r.group for r in table.rows] == ["Group: ARM A", "Group: ARM A", "Group: ARM B"]
    assert _texts(table) == [
        ["1", "Infections and infestations\nSepsis\nsepsis", "2025-01-20\n2025-01-22", "5",
         "Death\nLife-threatening", "Device: NOT RELATED\nMSCs: missing",
         "SESSIONS DISCONTINUED\nFATAL", "Y"],
        # no end date: the stack ends with the start; no action: an empty first line keeps
        # the outcome on the outcome's line
        ["2", "Vascular disorders\nHypotension\nlow blood pressure", "2025-01-12", "3",
         "Hospitalisation", "Treatment: POSSIBLE", "\nNOT RECOVERED/NOT RESOLVED", "Y"],
        # no reported term, grade, relationship, outcome or TEAE flag; an unknown criterion
        # as it is
        ["1", "Nervous system disorders\nSyncope", "2025-01-13\n2025-01-13", "", "AESXYZ", "",
         "NONE", ""],
    ]
    assert table.footnotes == ("SAP note.", "TEAE: treatment-emergent adverse event (Y = yes).")
    # presentation only: the records keep every variable
    assert table.records is records and table.data.empty
    # grouped by a treatment variable, the heading names the treatment
    trta = listing_table(records.rename(columns={"Group": "TRTA"}), "16.2.7.1", "SAEs",
                         group="TRTA")
    assert [r.group for r in trta.rows] == ["Treatment: ARM A", "Treatment: ARM A",
                                            "Treatment: ARM B"]


def test_lab_listing_display_by_hand() -> None:
    records = pd.DataFrame({
        "USUBJID": pd.Series(["S-01", "S-01", "S-02"], dtype="str"),
        "Group": pd.Series(["All"] * 3, dtype="str"),
        "PARAMCD": ["HGB", "PLAT", "BILI"],
        "AVISIT": ["Session 1", "Day 7", ""],
        "ATPT": ["POST", "", ""],
        "ADTM": pd.to_datetime(["2025-01-10T13:37", None, None], format="ISO8601"),
        "ADT": pd.to_datetime(["2025-01-10", "2025-01-17", "2025-01-20"]),
        "AVAL": [79.0, 35.0, 116.28],
        "AVALU": ["g/L", "10^9/L", ""],
        "LLN": [130.0, np.nan, 3.0],
        "ULN": [175.0, 350.0, np.nan],
        "BASE": [80.0, 145.0, np.nan],
        "ATOXTERM": ["Anemia", "Platelet count decreased", "Blood bilirubin increased"],
        "ATOXGRN": [3.0, 3.0, 4.0],
        "BTOXGRN": [2.0, 0.0, np.nan],
        "ATOXGRNR": [3.0, 3.0, 4.0],
    })
    table = listing_table(records, "16.2.8.1", "Grade >= 3 lab values", group="Group")
    assert [c.header for c in table.columns] == [
        "Parameter", "Visit/\nTime point", "Date/time", "Value", "Normal\nrange", "Baseline",
        "CTCAE term", "Grade\n(baseline)", "Range\ngrade"]
    assert _texts(table) == [
        ["HGB", "Session 1\nPost-session", "2025-01-10T13:37", "79 g/L", "130-175", "80",
         "Anemia", "3 (2)", "3"],
        # no ADTM: the date ADT; no LLN: "<= ULN"
        ["PLAT", "Day 7", "2025-01-17", "35 10^9/L", "<= 350", "145",
         "Platelet count decreased", "3 (0)", "3"],
        # no visit, unit, ULN, baseline or baseline grade
        ["BILI", "", "2025-01-20", "116.28", ">= 3", "", "Blood bilirubin increased", "4",
         "4"],
    ]
    assert [r.group for r in table.rows] == ["Group: All"] * 3
    assert table.footnotes == (
        "Grade (baseline): CTCAE grade on the SAP's grading basis of the parameter, and in "
        "parentheses the grade of the baseline value.",
        "Range grade: CTCAE grade against the normal range and absolute cut-offs only (never "
        "relative to baseline).",
    )


# --------------------------------------------------------------------------------------------
# (c) the automatic font size
# --------------------------------------------------------------------------------------------

WORD = "abcdefghijkl"  # 12 letters


def wide_listing(n_columns: int) -> DisplayTable:
    """Subjects S-001, S-002 (stub header "Subject", 7 letters) and ``n_columns`` columns
    X0.. each holding one 12-letter word."""
    frame = pd.DataFrame({"USUBJID": ["S-001", "S-002"],
                          **{f"X{i}": [WORD, WORD] for i in range(n_columns)}})
    return listing_table(frame, "16.2.7.1", "Wide")


def test_font_size_by_hand() -> None:
    # A Courier New character is 0.6001 em: 108.02 twips at 9 pt, 96.02 at 8, 84.01 at 7; the
    # 9 in (12960 twips) line holds 119.98, 134.98, 154.26 characters. Each column needs its
    # longest word + 0.05 (rounding room) + the cell gaps 2 * 108 twips (1.9997, 2.2496,
    # 2.5710 characters). The stub's longest word is "Subject" (7).
    # 2 columns: 9.05 + 2 * 14.05 = 37.15 <= 119.98: 9 pt.
    assert rtf_font_size(wide_listing(2)) == 9
    # 8 columns: at 9 pt 9.0497 + 8 * 14.0497 = 121.45 > 119.98; at 8 pt
    # 9.2996 + 8 * 14.2996 = 123.70 <= 134.98: 8 pt.
    assert rtf_font_size(wide_listing(8)) == 8
    # 9 columns: at 8 pt 9.2996 + 9 * 14.2996 = 137.99 > 134.98; at 7 pt
    # 9.6210 + 9 * 14.6210 = 141.21 <= 154.26: 7 pt.
    assert rtf_font_size(wide_listing(9)) == 7
    # 11 columns fit at no size (7 pt: 9.6210 + 11 * 14.6210 = 170.45): the smallest, 7 pt.
    assert rtf_font_size(wide_listing(11)) == 7
    # A4 (11.69 in: 9.69 in = 13954 twips, 129.18 characters at 9 pt) takes 8 columns at 9.
    assert rtf_font_size(wide_listing(8), paper="a4") == 9


@pytest.mark.parametrize(("n_columns", "size"), [(2, 9), (8, 8), (9, 7)])
def test_auto_size_is_written_and_the_columns_hold_their_words(
        tmp_path: Path, n_columns: int, size: int) -> None:
    from msc_analysis.render.writers import _cell_edges, _cell_widths, _rel_widths

    table = wide_listing(n_columns)
    code = write_rtf(table, tmp_path / "w.rtf").read_text("ascii")
    cells = re.findall(r"\\fs(\d+)\{\\f0(?:\\b)? [^{}]*\}\\cell", code)
    assert set(cells) == {str(2 * size)}  # every cell at the chosen size
    assert f"\\fs{2 * size + 2}\\b Listing 16.2.7.1 Wide" in code  # title one point larger
    # the widths at that size hold "Subject" and every 12-letter word on one line
    widths = _cell_widths(_cell_edges(_rel_widths(table, 12960, size), 12960))
    assert chars_per_line(widths[0], size) >= len("Subject")
    assert [wrapped_lines(WORD, chars_per_line(w, size)) for w in widths[1:]] == [1] * n_columns
    # the layout (pagination) agrees with the writer
    assert rtf_layout(table) == rtf_layout(table, font_size=size)


def test_explicit_font_size_still_rules(tmp_path: Path) -> None:
    table = wide_listing(9)
    code = write_rtf(table, tmp_path / "w.rtf", font_size=9).read_text("ascii")
    assert set(re.findall(r"\\fs(\d+)\{\\f0(?:\\b)? [^{}]*\}\\cell", code)) == {"18"}
    assert rtf_layout(table, font_size=9) != rtf_layout(table)


def test_indented_stub_labels_count_their_indent() -> None:
    # A grouped listing indents its labels one level (240 twips = 2.2219 characters at 9 pt):
    # the stub's least width is the 18-character subject id + 2.2219, not 18.
    from msc_analysis.render.writers import _cell_edges, _cell_widths, _rel_widths

    frame = pd.DataFrame({"USUBJID": ["NCT06904755-01-001"], "Group": ["A"],
                          **{f"X{i}": [WORD] for i in range(7)}})
    table = listing_table(frame, "16.2.7.1", "Grouped", group="Group")
    size = rtf_font_size(table)
    # 9 pt: 18 + 2.2219 + 0.05 + 2.00 + 7 * 14.05 = 120.62 > 119.98; 8 pt: 18 + 2.4996 + 0.05
    # + 2.25 + 7 * 14.30 = 122.90 <= 134.98
    assert size == 8
    widths = _cell_widths(_cell_edges(_rel_widths(table, 12960, size), 12960))
    assert chars_per_line(widths[0] - 240, size) >= 18


# --------------------------------------------------------------------------------------------
# (d) the listings of the synthetic study
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic_listings() -> dict[str, DisplayTable]:
    from msc_analysis.analyses.safety import run_safety
    from msc_analysis.io.issues import DataIssues
    from msc_analysis.io.loading import load_study
    from msc_analysis.render.safety_tables import safety_displays
    from msc_analysis.sap import load_sap

    sap = load_sap(SAP_FILE)
    issues = DataIssues()
    results = run_safety(load_study(DATA, analyses=("safety",), issues=issues), sap, issues)
    return {stem: t for stem, t in safety_displays(results, sap).items() if t.kind == "Listing"}


def test_synthetic_listing_csvs_read_back_as_their_records(
        synthetic_listings: dict[str, DisplayTable], tmp_path: Path) -> None:
    assert sorted(synthetic_listings) == ["l16_2_7_1", "l16_2_7_2", "l16_2_7_3", "l16_2_8_1"]
    for stem, table in synthetic_listings.items():
        records = table.records
        assert records is not None and len(records) == len(table.rows) > 0, stem
        back = pd.read_csv(write_csv(table, tmp_path / f"{stem}.csv"), keep_default_na=False,
                           dtype=str)
        assert list(back.columns) == list(records.columns), stem
        for name in records.columns:
            values = records[name]
            if pd.api.types.is_float_dtype(values):
                got = pd.to_numeric(back[name].replace("", np.nan)).to_numpy(dtype=float)
                np.testing.assert_array_equal(got, values.to_numpy(dtype=float))
            elif pd.api.types.is_datetime64_any_dtype(values):
                got = pd.to_datetime(back[name].replace("", None), format="ISO8601")
                assert got.tolist() == values.tolist(), (stem, name)
            else:
                assert back[name].tolist() == [str(v) for v in values], (stem, name)
        assert table.data.empty
        assert [r.label for r in table.rows] == records["USUBJID"].tolist(), stem


def test_synthetic_listings_use_the_largest_size_their_words_fit(
        synthetic_listings: dict[str, DisplayTable]) -> None:
    from msc_analysis.render.writers import _cell_edges, _cell_widths, _rel_widths

    for stem, table in synthetic_listings.items():
        size = rtf_font_size(table)

        def fits(points: float, table: DisplayTable = table) -> bool:
            widths = _cell_widths(_cell_edges(_rel_widths(table, 12960, points), 12960))
            # every label (indented one level under its group heading) and every word of
            # every header and cell on one line of its column
            if any(chars_per_line(widths[0] - 240 * (r.indent + 1), points) < len(w)
                   for r in table.rows for w in r.label.split()):
                return False
            return all(chars_per_line(width, points) >= len(w)
                       for c, width in zip(table.columns, widths[1:], strict=True)
                       for text in [c.header, *[r.text(c.key) for r in table.rows]]
                       for w in text.split())

        assert fits(size), stem
        assert size == 9 or not fits(size + 1), stem


@pytest.mark.skipif(SOFFICE is None or PDFTOTEXT is None,
                    reason="LibreOffice (soffice) or poppler (pdftotext) is not installed: "
                           "RTF not converted")
def test_serious_ae_listing_breaks_no_word_in_libreoffice(
        synthetic_listings: dict[str, DisplayTable], tmp_path: Path) -> None:
    assert SOFFICE is not None and PDFTOTEXT is not None
    table = synthetic_listings["l16_2_7_1"]
    rtf = write_rtf(table, tmp_path / "l16_2_7_1.rtf")
    to_pdf([rtf], tmp_path)
    text = pdf_text(tmp_path / "l16_2_7_1.pdf", first=1, last=1)
    pages = rtf.read_text("ascii").count("\\pagebb") + 1
    texts = [table.caption, table.population, f"Page 1 of {pages}", table.stub_header,
             *table.footnotes, *[c.header for c in table.columns],
             *[t for r in table.rows for t in (r.label, r.group, *r.cells.values())]]
    words = {w for t in texts for w in t.split()}
    shown = text.split()
    assert len(shown) > 50  # the page was read
    broken = sorted({w for w in shown if w not in words})
    assert not broken, f"words broken over lines on page 1: {broken}"
    # every subject id on the page whole, and the page shows some
    assert [w for w in shown if w.startswith("NCT")]
