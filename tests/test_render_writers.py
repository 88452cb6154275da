"""Tests of the CSV, HTML and RTF writers (msc_analysis.render.writers)."""

from __future__ import annotations

import csv
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from msc_analysis import ard
from msc_analysis.render.formatting import fmt_mean_sd, fmt_n_pct
from msc_analysis.render.table import (
    Column,
    DisplayTable,
    TableBuilder,
    cell_from_ard,
    header_with_n,
)
from msc_analysis.render.writers import (
    neutralise_csv_text,
    rtf_escape,
    to_html,
    write_csv,
    write_html,
    write_rtf,
    write_table,
)


def make_table() -> DisplayTable:
    """A nested SOC/PT table with a row group, special characters and a negative number."""
    b = ard.ArdBuilder("SAF-AESOCPT")
    soc = {"AESOC": "Infections & <infestations>"}
    pt = {**soc, "AEDECOD": "=HYPERLINK(\"http://x\")"}
    b.add("USUBJID", "n", 3, groups=soc)
    b.add("USUBJID", "pct", 30.0, groups=soc)
    b.add("USUBJID", "n", 2, groups=pt)
    b.add("USUBJID", "pct", 20.0, groups=pt)
    b2 = ard.ArdBuilder("SAF-LBSUM", {"PARAMCD": "TBIL"})
    b2.add_many("CHG", {"mean": -1.5, "sd": 0.123456}, variable_level="-2", method="@method")
    a = ard.bind([b.frame(), b2.frame()])

    def fmt(n: float, pct: float) -> str:
        return fmt_n_pct(n, None, pct=pct)

    t = TableBuilder(
        "14.3.1.2", "TEAEs by SOC & PT {grade \u2265 3}", "Safety Set",
        [Column("msc", header_with_n("MSC bioreactor", 10))],
        footnotes=["TEAE: treatment-emergent adverse event <b>.", "Grade \u2265 3: severe."],
        stub_header="System organ class\n  Preferred term",
    )
    t.add_row("Infections & <infestations>",
              {"msc": cell_from_ard(a, "SAF-AESOCPT", ["n", "pct"], soc, fmt, exact_groups=True)},
              group="Any grade")
    t.add_row("=HYPERLINK(\"http://x\")",
              {"msc": cell_from_ard(a, "SAF-AESOCPT", ["n", "pct"], pt, fmt)},
              indent=1, group="Any grade")
    t.add_row("Change in TBIL, mean (SD)",
              {"msc": cell_from_ard(a, "SAF-LBSUM", ["mean", "sd"], {"PARAMCD": "TBIL"},
                                    lambda m, s: fmt_mean_sd(m, s, 1))},
              group="Laboratory")
    return t.build()


# ------------------------------------------------------------------------------------------ CSV


def test_neutralise_csv_text() -> None:
    # OWASP "CSV Injection": cells beginning with = + - @ tab CR are formulas to spreadsheets.
    assert neutralise_csv_text("=1+2") == "'=1+2"
    assert neutralise_csv_text("+cmd") == "'+cmd"
    assert neutralise_csv_text("-2+3+cmd|' /C calc'!A0") == "'-2+3+cmd|' /C calc'!A0"
    assert neutralise_csv_text("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise_csv_text("\tx") == "'\tx"
    assert neutralise_csv_text("\rx") == "'\rx"
    # numbers, and text that is a plain number, stay as they are
    assert neutralise_csv_text("-1.5") == "-1.5"
    assert neutralise_csv_text("+3") == "+3"
    assert neutralise_csv_text("-2e-3") == "-2e-3"
    assert neutralise_csv_text(-1.5) == -1.5
    assert neutralise_csv_text("Sepsis") == "Sepsis"
    assert neutralise_csv_text("") == ""


def test_write_csv_is_tidy_unrounded_and_neutralised(tmp_path: Path) -> None:
    t = make_table()
    path = write_csv(t, tmp_path / "t.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6  # one per displayed number
    assert list(rows[0]) == list(t.data.columns)
    pt_rows = [r for r in rows if r["row"] == "1"]
    assert {r["row_label"] for r in pt_rows} == {"'=HYPERLINK(\"http://x\")"}
    assert {r["group2_level"] for r in pt_rows} == {"'=HYPERLINK(\"http://x\")"}
    lab = [r for r in rows if r["analysis_id"] == "SAF-LBSUM"]
    assert [r["stat"] for r in lab] == ["-1.5", "0.123456"]  # numeric, unrounded, not prefixed
    assert {r["variable_level"] for r in lab} == {"-2"}      # plain-number text kept
    assert {r["method"] for r in lab} == {"'@method"}
    # display text starting with "-" is text, not a number: neutralised
    assert {r["cell_text"] for r in lab} == {"'-1.5 (0.12)"}
    raw = path.read_bytes()
    assert b"\r\n" not in raw


def test_write_csv_full_precision(tmp_path: Path) -> None:
    b = ard.ArdBuilder("X")
    b.add("V", "mean", 1 / 3)
    t = TableBuilder("1", "T", "P", [Column("a", "A")])
    t.add_row("r", {"a": cell_from_ard(b.frame(), "X", "mean", {}, lambda m: f"{m:.2f}")})
    path = write_csv(t.build(), tmp_path / "t.csv")
    back = pd.read_csv(path)
    assert back["stat"].iloc[0] == 1 / 3  # round-trips exactly


# ----------------------------------------------------------------------------------------- HTML


class _TableParser(HTMLParser):
    """Collects caption, header cells (with scope), body rows and footer text."""

    def __init__(self) -> None:
        super().__init__()
        self.section = ""
        self.caption = ""
        self.headers: list[tuple[str, str]] = []
        self.body: list[list[tuple[str, str, dict]]] = []
        self.foot: list[str] = []
        self._cell: list[str] | None = None
        self._attrs: dict = {}
        self._tag = ""
        self.tables = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "table":
            self.tables += 1
        if tag in ("caption", "thead", "tbody", "tfoot"):
            self.section = tag
        if tag == "tr" and self.section == "tbody":
            self.body.append([])
        if tag in ("th", "td"):
            self._cell, self._attrs, self._tag = [], a, tag
        if tag == "br" and self._cell is not None:
            self._cell.append("\n")
        if tag == "br" and self.section == "caption":
            self.caption += "\n"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self._cell is not None:
            text = "".join(self._cell)
            if self.section == "thead":
                self.headers.append((text, self._attrs.get("scope", "")))
            elif self.section == "tbody":
                self.body[-1].append((self._tag, text, self._attrs))
            elif self.section == "tfoot":
                self.foot.append(text)
            self._cell = None
        if tag == "caption":
            self.section = ""

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self.section == "caption":
            self.caption += data


def test_to_html_structure_and_escaping() -> None:
    t = make_table()
    fragment = to_html(t)
    p = _TableParser()
    p.feed(fragment)
    assert p.tables == 1 and fragment.startswith("<table")
    assert fragment.rstrip().endswith("</table>")
    assert p.caption.split("\n") == ["Table 14.3.1.2 TEAEs by SOC & PT {grade \u2265 3}",
                                     "Safety Set"]
    assert p.headers == [("System organ class\n  Preferred term", "col"),
                         ("MSC bioreactor\nN = 10", "col")]
    # group heading rows, then data rows with a row header and a data cell
    kinds = [[(tag, attrs.get("scope", "")) for tag, _, attrs in row] for row in p.body]
    assert kinds == [[("th", "rowgroup")], [("th", "row"), ("td", "")],
                     [("th", "row"), ("td", "")], [("th", "rowgroup")],
                     [("th", "row"), ("td", "")]]
    texts = [[text for _, text, _ in row] for row in p.body]
    assert texts[1] == ["Infections & <infestations>", "3 (30.0)"]
    assert texts[2] == ["=HYPERLINK(\"http://x\")", "2 (20.0)"]
    assert texts[4] == ["Change in TBIL, mean (SD)", "-1.5 (0.12)"]
    assert p.body[2][0][2]["class"] == "indent-1" and "padding-left" in p.body[2][0][2]["style"]
    assert p.foot[:2] == ["TEAE: treatment-emergent adverse event <b>.", "Grade \u2265 3: severe."]
    assert "SAF-AESOCPT, SAF-LBSUM" in p.foot[2]
    # escaped in the markup
    assert "&lt;infestations&gt;" in fragment and "<infestations>" not in fragment
    assert "&lt;b&gt;" in fragment and "&quot;http://x&quot;" in fragment
    assert fragment.count("<tbody>") == 2


def test_write_html_is_a_complete_page(tmp_path: Path) -> None:
    path = write_html(make_table(), tmp_path / "t.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert "<meta charset=\"utf-8\">" in text and "<style>" in text
    assert "<title>Table 14.3.1.2 TEAEs by SOC &amp; PT" in text
    assert text.rstrip().endswith("</html>")


# ------------------------------------------------------------------------------------------ RTF


def rtf_text(code: str) -> str:
    """Plain text of RTF: \\uN? to characters, escaped symbols kept, control words dropped."""
    code = re.sub(r"\\u(-?\d+)\?", lambda m: chr(int(m.group(1)) % 65536), code)
    code = code.replace("\\line ", "\n").replace("\\line", "\n")
    code = code.replace("\\\\", "\x00").replace("\\{", "\x01").replace("\\}", "\x02")
    code = re.sub(r"\\\*?[a-z]+-?\d* ?", "", code)
    code = code.replace("{", "").replace("}", "")
    return code.replace("\x00", "\\").replace("\x01", "{").replace("\x02", "}")


def test_rtf_escape() -> None:
    assert rtf_escape("a{b}\\c") == "a\\{b\\}\\\\c"
    assert rtf_escape("\u2265 \u00e9") == "\\u8805? \\u233?"
    assert rtf_escape("\uff01") == "\\u-255?"  # above 32767: signed 16 bit
    # UTF-16 surrogate pair: "\U0001d6fc".encode("utf-16-be") is d835 defc
    assert rtf_escape("\U0001d6fc") == "\\u-10187?\\u-8452?"
    assert rtf_escape("a\nb") == "a\\line b"


def test_write_rtf_content(tmp_path: Path) -> None:
    t = make_table()
    path = write_rtf(t, tmp_path / "t.rtf", page_header="NCT06904755 interim analysis")
    raw = path.read_bytes()
    raw.decode("ascii")  # pure ASCII
    code = raw.decode("ascii")
    assert code.startswith("{\\rtf1")
    assert code.count("{") - code.count("\\{") == code.count("}") - code.count("\\}")
    # page number fields, in the page header
    header = re.search(r"\{\\header(.*?)\\par\}\n", code, re.S)
    # (the instruction in a group of its own: else LibreOffice sets the number in Times 12 pt)
    assert header and "{\\field{\\*\\fldinst { PAGE }}}" in header[1]
    assert "{\\field{\\*\\fldinst { NUMPAGES }}}" in header[1]
    # landscape US letter (11 x 8.5 in = 15840 x 12240 twips), document and section level
    assert "\\landscape" in code and "\\paperw15840\\paperh12240" in code
    assert "\\lndscpsxn\\pgwsxn15840\\pghsxn12240" in code
    assert "{\\fonttbl{\\f0\\fmodern\\fcharset0\\fprq1 Courier New;}}" in code and "\\deff0" in code
    # 9 pt body (\fs is in half points), 10 pt titles
    assert "\\fs18{\\f0 3 (30.0)}\\cell" in code and "\\fs20\\b Table 14.3.1.2" in code
    text = rtf_text(code)
    assert "Table 14.3.1.2 TEAEs by SOC & PT {grade \u2265 3}" in text
    assert "Safety Set" in text
    assert "System organ class\n  Preferred term" in text
    assert "MSC bioreactor\nN = 10" in text
    assert "TEAE: treatment-emergent adverse event <b>." in text
    assert "Grade \u2265 3: severe." in text
    assert "NCT06904755 interim analysis" in text
    assert "Infections & <infestations>" in text and "3 (30.0)" in text
    assert "-1.5 (0.12)" in text
    assert "Any grade" in text and "Laboratory" in text
    assert "analysis id(s) SAF-AESOCPT, SAF-LBSUM." in text
    # footnotes and source come after the table
    assert code.rindex("\\row") < code.index("TEAE: treatment-emergent") < code.index("Source:")
    # the PT row is indented more than its SOC row (\li in twips: 240 per level, +1 in a group)
    soc_li = re.search(r"\\li(\d+)\\ri0\\ql\\fs18\{\\f0 Infections", code)
    pt_li = re.search(r"\\li(\d+)\\ri0\\ql\\fs18\{\\f0 =HYPERLINK", code)
    assert soc_li and pt_li and (int(soc_li[1]), int(pt_li[1])) == (240, 480)


def _rows(code: str) -> list[str]:
    return re.findall(r"\\trowd(.*?)\\row\b", code, re.S)


def test_write_rtf_header_row_and_column_widths(tmp_path: Path) -> None:
    t = make_table()
    code = write_rtf(t, tmp_path / "t.rtf").read_text("ascii")
    rows = _rows(code)
    # one header row (marked \trhdr, repeated by the word processor), then 5 body rows
    assert [("\\trhdr" in r) for r in rows] == [True] + [False] * 5
    # widths from _rel_widths: the stub's longest line is 27 characters ("Infections &
    # <infestations>"), capped at the other columns' total, 14 ("MSC bioreactor"), but not below
    # the stub's longest word with its indentation: '=HYPERLINK("http://x")' (22 characters)
    # at level 2 (indent 1, under a group heading), 2 * 240 twips = 4.44372 characters of
    # 0.6001 * 9 pt = 108.0176 twips: 26.44372. Each column gets 0.05 character for rounding
    # and its cell gaps, 2 * 108 twips = 1.99967 characters: stub and column share the 9 in
    # (12960 twips) between the 1 in margins as 28.49340 : 16.04967, the stub 0.639682 of it.
    # (Before the indentation was counted the stub got 24.0497 and the label broke.)
    for r in rows:
        assert re.findall(r"\\cellx(\d+)", r) == ["8290", "12960"]  # 8290.28
    a4 = write_rtf(t, tmp_path / "a4.rtf", paper="a4").read_text("ascii")
    # 16834 - 2 * 1440 = 13954 twips wide: 0.639682 * 13954 = 8926.1
    assert re.findall(r"\\cellx(\d+)", _rows(a4)[0]) == ["8926", "13954"]
    # header row has top and bottom rules; the last body row closes the table with a rule
    assert rows[0].count("\\clbrdrt") == 2 and rows[0].count("\\clbrdrb") == 2
    assert rows[-1].count("\\clbrdrb") == 2 and "\\clbrdr" not in rows[1]


def grouped_listing(n: int) -> DisplayTable:
    """A listing with row groups of 7 rows and alternating indentation."""
    b = TableBuilder("16.2.7.1", "Listing of serious AEs", "Safety Set",
                     [Column("a", "Term"), Column("b", "Grade", align="right")])
    for i in range(n):
        b.add_row(f"Subject {i:03d}", {"a": f"Event {i}", "b": str(i % 5 + 1)},
                  indent=i % 2, group=f"Site {i // 7}")
    return b.build()


def test_write_rtf_every_row_carries_its_own_bold_and_indent(tmp_path: Path) -> None:
    # rtflite restarted per-row attributes at each page; here each row states its own, and with
    # forced page breaks every 5 rows (mid-group) the group headings are still the bold rows.
    t = grouped_listing(30)
    for rows_per_page in (None, 5):
        code = write_rtf(t, tmp_path / "g.rtf", rows_per_page=rows_per_page).read_text("ascii")
        body = [r for r in _rows(code) if "\\trhdr" not in r]
        assert len(body) == 30 + 5  # 30 rows + 5 group headings (Site 0..4)
        for r in body:
            cells = re.findall(r"\\pard\\plain\\intbl\\sb15\\sa15\\li(\d+)\\ri0\\q[lcr]\\fs18"
                               r"\{\\f0(\\b)? ([^{}]*)\}\\cell", r)
            assert len(cells) == 3, r
            li, bold, label = cells[0]
            if label.startswith("Site "):
                assert (li, bold) == ("0", "\\b")
            else:
                i = int(label.split()[1])
                assert (li, bold) == (str(240 * (1 + i % 2)), "")
            assert all(b == "" for _, b, _ in cells[1:])


def test_write_rtf_a4_and_pagination(tmp_path: Path) -> None:
    b = TableBuilder("16.2.7.1", "Listing of serious AEs", "Safety Set",
                     [Column("a", "Term"), Column("b", "Grade", align="right")])
    for i in range(60):
        b.add_row(f"Subject {i:03d}", {"a": f"Event {i}", "b": str(i % 5 + 1)})
    t = b.build()
    code = write_rtf(t, tmp_path / "l.rtf", paper="a4", rows_per_page=20).read_text("ascii")
    assert "\\paperw16834\\paperh11909" in code  # 11.69 x 8.27 in, in twips
    # 60 rows, 20 a page: 3 pages, each after the first opened by a "page break before"
    # paragraph of its own (a \page character there gives LibreOffice a blank page)
    assert code.count("\\page") == code.count("{\\pard\\plain\\pagebb\\fs2\\par}\n") == 2
    # the column header row starts every page
    assert code.count("{\\f0 Grade}") == 3
    pages = code.split("\\page")
    assert all(len(re.findall(r"\{\\f0 Subject \d{3}\}", p)) == 20 for p in pages)
    assert "Subject 059" in pages[2] and "Subject 040" in pages[2]
    # rows_per_page=0: the word processor paginates: no page breaks, one header row
    whole = write_rtf(t, tmp_path / "w.rtf", paper="a4", rows_per_page=0).read_text("ascii")
    assert "\\page" not in whole and whole.count("\\trhdr") == 1
    # default: the writer paginates (tests/test_render_rtf_pages.py). A4 landscape is 11909 twips
    # = 595.45 pt high; less the bottom margin (54 pt) and the top one (90 pt): 451.45 pt; less
    # the header row (one line of 1.2 * 9 = 10.8 pt, 1.5 pt cell spacing, two 0.75 pt rules:
    # 13.8) and the 1.2 pt page-break paragraph: 436.45 pt for rows of 10.8 + 1.5 = 12.3 pt,
    # so 35 rows (430.5 pt; 36 would take 442.8): 60 rows take 2 pages, each opened by the
    # header row
    auto = write_rtf(t, tmp_path / "a.rtf", paper="a4").read_text("ascii")
    assert auto.count("\\pagebb") == 1 and auto.count("\\trhdr") == 2
    assert [len(re.findall(r"\{\\f0 Subject \d{3}\}", p)) for p in auto.split("\\pagebb")] == [
        35, 25]
    with pytest.raises(ValueError, match="paper"):
        write_rtf(t, tmp_path / "x.rtf", paper="legal")


def test_write_rtf_font_size_and_empty_table(tmp_path: Path) -> None:
    t = TableBuilder("1", "Empty", "", [Column("a", "A")]).build()
    code = write_rtf(t, tmp_path / "e.rtf", font_size=8).read_text("ascii")
    assert "\\fs16{\\f0 A}\\cell" in code and "\\fs18\\b Table 1 Empty\\par}" in code
    assert len(_rows(code)) == 2  # header row and one empty body row
    assert "Source:" not in code


def test_write_rtf_is_fast_on_a_long_listing(tmp_path: Path) -> None:
    # rtflite took about 60 ms a row (10 minutes for 10,000 rows); the direct writer ~0.2 s.
    body = pd.DataFrame({"label": [f"S{i}" for i in range(10_000)],
                         "a": [f"{i / 7:.2f}" for i in range(10_000)]})
    t = DisplayTable.from_frame("16.2.8.1", "Long", "Safety Set", [Column("a", "A")], body)
    start = time.perf_counter()
    write_rtf(t, tmp_path / "long.rtf")
    assert time.perf_counter() - start < 5.0
    code = (tmp_path / "long.rtf").read_text("ascii")
    pages = code.count("\\pagebb") + 1
    assert pages > 200  # about 36 rows a page
    assert len(_rows(code)) == 10_000 + pages  # body rows, and a header row on each page


# ---------------------------------------------------------------------------------- all formats


def test_write_table_is_deterministic(tmp_path: Path) -> None:
    t = make_table()
    first = write_table(t, tmp_path / "one", "t14_3_1_2")
    second = write_table(make_table(), tmp_path / "two", "t14_3_1_2")
    assert set(first) == {"csv", "html", "rtf"}
    for fmt in first:
        assert first[fmt].name == f"t14_3_1_2.{fmt}"
        assert first[fmt].read_bytes() == second[fmt].read_bytes(), fmt
