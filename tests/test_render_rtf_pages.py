"""The RTF writer's own pagination (msc_analysis.render.writers: rtf_layout, write_rtf).

LibreOffice (7.4) ignores ``\\trhdr`` when it imports RTF, so a table it paginates shows its
column headers on page 1 only. The writer therefore breaks the pages itself, from an estimate
of each row's height, and starts every page with the column-header row. Checked here:

(a) the estimate, against hand calculations written out (characters per line from the
    ``\\cellx`` widths, word wrapping, row heights, the page's room);
(b) the layout of a long table (300 rows, wrapping labels, group headings, footnotes) and the
    RTF written from it: one table per page, each opened by the header row; each page's
    estimated height within the page; pages filled greedily; no group heading left last on a
    page; the footnotes kept on the last page with the last rows;
(c) if LibreOffice and poppler's ``pdftotext`` are installed: the long table on letter and A4
    at 8 and 9 pt, a table whose footnotes force the last row onto a new page, and the real
    Table 14.2.1 of the 10-subject synthetic study, converted to PDF in one run of
    ``soffice``. The PDF must have exactly the writer's pages (LibreOffice added no break of
    its own), the column headers and "Page k of n" on every page, and (for the generated
    tables, whose rows carry ids) exactly the writer's rows on each page.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from msc_analysis.render.table import Column, DisplayTable, TableBuilder
from msc_analysis.render.writers import (
    CHAR_WIDTH_EM,
    LINE_HEIGHT_EM,
    chars_per_line,
    line_height,
    rtf_layout,
    wrapped_lines,
    write_rtf,
)
from office import PDFTOTEXT, SOFFICE, pdf_text, to_pdf

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "synthetic"
SAP_FILE = REPO / "sap" / "sap.toml"
PAGE_BREAK = "{\\pard\\plain\\pagebb\\fs2\\par}\n"

# --------------------------------------------------------------------------------------------
# (a) the estimate, by hand
# --------------------------------------------------------------------------------------------


def test_font_metrics() -> None:
    # Courier New: advance width 1229 of 2048 units per em; ascent + descent 1705 + 615 = 2320
    # units = 1.1328 em, which LibreOffice uses as the line height (measured: 204 twips at 9 pt);
    # the writer allows 1.2 em.
    assert CHAR_WIDTH_EM == pytest.approx(0.6001, abs=1e-4)
    assert LINE_HEIGHT_EM >= 2320 / 2048 * 1.05
    assert line_height(9) == pytest.approx(10.8)
    assert line_height(8) == pytest.approx(9.6)
    assert line_height(8.4) == pytest.approx(1.2 * 8.5)  # \fs17: half points


def test_chars_per_line() -> None:
    # a 9 pt character is 0.60009766 * 9 pt = 5.40088 pt = 108.0176 twips wide
    assert chars_per_line(1080, 9) == 9      # 10 characters need 1080.18 twips
    assert chars_per_line(1081, 9) == 10
    # a 10-character column: 10 * 108.0176 = 1080.2 twips of text, plus \trgaph108 each side
    assert chars_per_line(1296 - 216, 9) == 9 and chars_per_line(1297 - 216, 9) == 10
    # 8 pt: 96.016 twips; half the 9 in (12960 twips) text width less the gaps: 6264 twips
    assert chars_per_line(6264, 8) == 65     # 65 * 96.016 = 6241.0; 66 would need 6337.1
    assert chars_per_line(6264, 9) == 57     # 57 * 108.0176 = 6157.0; 58 would need 6265.0
    assert chars_per_line(50, 9) == 1        # never less than one


def test_wrapped_lines_hand_counts() -> None:
    assert wrapped_lines("x" * 25, 10) == 3                # a long word breaks: 10 + 10 + 5
    assert wrapped_lines("x" * 20, 10) == 2                # exactly two lines
    assert wrapped_lines("ab " + "x" * 25, 10) == 4        # "ab" / then 10 + 10 + 5
    # "Serious adverse event": "Serious adverse" is 15 characters
    assert wrapped_lines("Serious adverse event", 15) == 2  # "Serious adverse" / "event"
    assert wrapped_lines("Serious adverse event", 14) == 2  # "Serious" / "adverse event"
    assert wrapped_lines("Serious adverse event", 12) == 3  # "Serious" / "adverse" / "event"
    assert wrapped_lines("Serious adverse event", 21) == 1
    # 30 words of 4 characters: k words take 5k - 1 characters, so 11 fit in 55 (54): 11+11+8
    assert wrapped_lines(" ".join(["abcd"] * 30), 55) == 3
    # each "\n" starts a line; an empty text, or an empty line, still takes one
    assert wrapped_lines("Session 1\nN = 9", 20) == 2
    assert wrapped_lines("", 10) == 1 and wrapped_lines("a\n\nb", 10) == 3
    # leading spaces take room: "  Preferred" is 11 characters in a line of 10 (10 + 1), and
    # " term" continues the second line (1 + 1 + 4 = 6)
    assert wrapped_lines("  Preferred term", 10) == 2
    # the space at a break takes no room; trailing spaces none at all
    assert wrapped_lines("abcde fghij", 5) == 2 and wrapped_lines("abcde     ", 5) == 1


def hand_table(footnotes: tuple[str, ...] = ()) -> DisplayTable:
    """Stub and one column, half and half (the stub is capped at the other columns' width)."""
    b = TableBuilder("1", "Hand", "Safety Set", [Column("a", "Visit A\nN = 9")],
                     footnotes=footnotes)
    b.add_row(" ".join(["xxxx"] * 24), {"a": "1"})              # row 0
    b.add_row(" ".join(["abcd"] * 30), {"a": "2"}, indent=1)    # row 1
    b.add_row("short", {"a": "12 (30.0)"})                      # row 2 (last)
    return b.build()


def test_row_heights_and_page_room_by_hand() -> None:
    # Letter landscape: 9 in between the 1 in margins = 12960 twips; stub and column 6480 each
    # (the stub's 119 characters are capped at the column's 9; its longest word, 4, is
    # shorter); text 6480 - 2 * 108 = 6264
    # twips = 57 characters at 9 pt (test_chars_per_line), 55 when indented one level (240
    # twips: 6024 / 108.0176 = 55.8).
    lay = rtf_layout(hand_table())
    line = 1.2 * 9  # 10.8 pt
    # row 0: 24 words "xxxx" (119 characters) in lines of 57: 11 + 11 + 2 words, 3 lines;
    # + \sb15\sa15 (1.5 pt)
    # row 1: 30 words "abcd" in lines of 55: 3 lines (test_wrapped_lines_hand_counts)
    # row 2: one line, and the table's closing rule (0.75 pt)
    assert lay.row_heights == pytest.approx((3 * line + 1.5, 3 * line + 1.5, line + 1.5 + 0.75))
    # header row: "Visit A" / "N = 9": 2 lines, + 1.5 pt spacing + 2 rules of 0.75 pt
    assert lay.header_height == pytest.approx(2 * line + 1.5 + 1.5)
    # page 8.5 in = 612 pt, bottom margin 0.75 in = 54 pt; top margin 1.25 in = 90 pt, since
    # the page header ends higher: it starts 36 pt from the top, and holds "Page x of y"
    # (10.8 pt), 6 + 6 pt of spacing and caption + population at 10 pt (2 * 12 = 24 pt):
    # 36 + 46.8 + 2 pt gap = 84.8 < 90
    assert (lay.top, lay.bottom) == pytest.approx((90.0, 558.0))
    assert lay.page_break == pytest.approx(1.2)   # the 1 pt "page break before" paragraph
    # no footnotes, no analysis ids: the empty 12 pt paragraph that ends the document
    assert lay.tail == pytest.approx(1.2 * 12)
    assert lay.pages == (range(0, 3),)
    assert lay.used(0) == pytest.approx(lay.header_height + sum(lay.row_heights) + lay.tail)
    # A4: 8.27 in = 11909 twips = 595.45 pt, less 54
    assert rtf_layout(hand_table(), paper="a4").bottom == pytest.approx(541.45)
    # 8 pt (lines of 9.6 pt): 65 characters a line, 62 indented (6024 / 96.016 = 62.7): row 0
    # takes 65 + 55, 2 lines; row 1 12 words a line (5 * 12 - 1 = 59 characters): 12 + 12 + 6
    small = rtf_layout(hand_table(), font_size=8)
    assert small.row_heights[:2] == pytest.approx((2 * 9.6 + 1.5, 3 * 9.6 + 1.5))


def test_page_header_lowers_the_body_and_footnotes_make_the_tail() -> None:
    # page header of 3 lines + "Page x of y": 4 * 10.8 = 43.2 pt; + 12 + 24 (titles): 79.2 pt;
    # from 36 pt, plus the 2 pt gap: the body starts at 117.2 pt instead of 90
    lay = rtf_layout(hand_table(), page_header="Study\nData cut\nDraft")
    assert lay.top == pytest.approx(117.2)
    # titles are at 10 pt: 12960 / 120.02 = 107 characters a line. "Table 1" and 25 words of
    # 4 characters: "Table 1" + 20 words is 7 + 20 * 5 = 107 characters, the other 5 words a
    # second line; with the population 3 title lines of 12 pt: 36 + 10.8 + 12 + 36 + 2 = 96.8
    long = TableBuilder("1", " ".join(["word"] * 25), "Safety Set", [Column("a", "A")]).build()
    assert rtf_layout(long).top == pytest.approx(96.8)
    # footnotes: 3 pt above the first, then 10.8 pt a line; text 12960 twips = 119 characters
    # (120 would need 12962.1): a 130-character footnote takes 2 lines, a short one 1
    foot = rtf_layout(hand_table(("y" * 130, "Short.")))
    assert foot.tail == pytest.approx(3 + 3 * 10.8)


# --------------------------------------------------------------------------------------------
# (b) a long table
# --------------------------------------------------------------------------------------------

_WORDS = ("alanine aminotransferase increased hepatic encephalopathy serious adverse event "
          "bilirubin prothrombin activity interleukin tumour necrosis factor reactive "
          "protein baseline").split()


def long_table(n: int = 300, seed: int = 20250131) -> DisplayTable:
    """``n`` rows with ids R000.., some with labels wrapping over 2-4 lines, group headings
    (G00..) every 20 to 40 rows, three columns, three footnotes (one long), a source line."""
    rng = random.Random(seed)
    b = TableBuilder(
        "14.9.9", "A long table of biomarkers by visit", "Full Analysis Set",
        [Column("a", "Visit A\nN = 9"), Column("b", "Visit B\nN = 9"),
         Column("c", "Visit C\nN = 8")],
        footnotes=("Visit A: before the first session.",
                   "Labels of several lines test the wrapping estimate: "
                   + " ".join(rng.choice(_WORDS) for _ in range(30)) + ".",
                   "All values are synthetic."),
        analysis_ids=("PP-SESS",), stub_header="Parameter\n  Statistic",
    )
    group, next_group = 0, rng.randint(20, 40)
    name = "G00 " + " ".join(rng.choice(_WORDS) for _ in range(2))
    for i in range(n):
        if i == next_group:
            group, next_group = group + 1, i + rng.randint(20, 40)
            name = f"G{group:02d} " + " ".join(rng.choice(_WORDS) for _ in range(2))
        words = rng.choice([1, 2, 3, 3, 3, 12, 25])
        label = f"R{i:03d} " + " ".join(rng.choice(_WORDS) for _ in range(words))
        cells = {k: f"{rng.uniform(-99, 999):.1f} ({rng.uniform(0, 99):.2f})" for k in "abc"}
        b.add_row(label, cells, indent=rng.randint(0, 1), group=name)
    return b.build()


def rtf_pages(code: str) -> list[str]:
    """The RTF of each page: split at the page-break paragraphs."""
    return code.split(PAGE_BREAK)


def body_labels(page: str) -> list[tuple[str, bool]]:
    """(first word of the label, bold) of each body row of a page's RTF."""
    rows = re.findall(r"\\trowd(.*?)\\row\b", page, re.S)
    out = []
    for row in rows:
        if "\\trhdr" in row:
            continue
        first = re.search(r"\{\\f0(\\b)? ([^{}]*)\}\\cell", row)
        assert first
        out.append((first[2].split(" ")[0], bool(first[1])))
    return out


@pytest.mark.parametrize(("paper", "font_size"), [("letter", 9), ("a4", 8)])
def test_long_table_pages(tmp_path: Path, paper: str, font_size: float) -> None:
    table = long_table()
    lay = rtf_layout(table, paper=paper, font_size=font_size)
    code = write_rtf(table, tmp_path / "long.rtf", paper=paper,
                     font_size=font_size).read_text("ascii")
    pages = rtf_pages(code)
    assert len(pages) == lay.n_pages == code.count("\\page") + 1 >= 8
    # the pages cover the body rows (300 + one heading per group) once, in order
    n_rows = len(lay.row_heights)
    assert [i for p in lay.pages for i in p] == list(range(n_rows))
    assert n_rows == 300 + len({r.group for r in table.rows})
    for k, page in enumerate(pages):
        # one table per page, opened by the (repeatable) header row
        rows = re.findall(r"\\trowd(.*?)\\row\b", page, re.S)
        assert "\\trhdr" in rows[0] and sum("\\trhdr" in r for r in rows) == 1
        assert "{\\f0 Visit A\\line N = 9}" in rows[0]
        labels = body_labels(page)
        assert len(labels) == len(lay.pages[k])
        # within the page; and no group heading (bold) left last on a page
        assert lay.used(k) <= lay.room
        assert not labels[-1][1], f"page {k + 1} ends with the group heading {labels[-1][0]}"
    # greedy: a page ends only when the next row (a heading with its first row) did not fit.
    # (Every page's room also keeps the 1.2 pt page-break paragraph, page 1's too.)
    heights, bold = lay.row_heights, [b for p in pages for _, b in body_labels(p)]
    for k in range(lay.n_pages - 1):
        nxt = lay.pages[k + 1][0]
        take = heights[nxt] + (heights[nxt + 1] if bold[nxt] else 0)
        filled = lay.used(k) + (lay.page_break if k == 0 else 0)
        last_rows = sum(heights[i] for i in lay.pages[-1]) + lay.tail
        assert filled + take > lay.room or (k == lay.n_pages - 2
                                            and filled + last_rows > lay.room), k
    # footnotes and source after the last table, on the last page
    assert "Source: analysis results data" in pages[-1].split("\\row")[-1]


def test_group_heading_never_ends_a_page(tmp_path: Path) -> None:
    # one-line rows only: page 1 holds P of them; put a group heading at row P - 1
    plain = TableBuilder("1", "T", "S", [Column("a", "A")])
    for i in range(100):
        plain.add_row(f"R{i:03d}", {"a": "1"})
    per_page = len(rtf_layout(plain.build()).pages[0])
    b = TableBuilder("1", "T", "S", [Column("a", "A")])
    for i in range(100):
        b.add_row(f"R{i:03d}", {"a": "1"}, group="" if i < per_page - 1 else "Heading")
    table = b.build()
    lay = rtf_layout(table)
    # the heading would have been the last row of page 1: it opens page 2 instead
    assert len(lay.pages[0]) == per_page - 1 and lay.pages[1][0] == per_page - 1
    pages = rtf_pages(write_rtf(table, tmp_path / "g.rtf").read_text("ascii"))
    assert body_labels(pages[1])[0] == ("Heading", True)
    assert body_labels(pages[0])[-1] == (f"R{per_page - 2:03d}", False)


def listing(n: int, footnotes: tuple[str, ...] = ()) -> DisplayTable:
    """``n`` one-line rows R000.. under one column."""
    b = TableBuilder("16.9.9", "Footnotes that do not fit", "Safety Set",
                     [Column("a", "Visit A\nN = 9")], footnotes=footnotes)
    for i in range(n):
        b.add_row(f"R{i:03d}", {"a": f"{i}"})
    return b.build()


def tail_table() -> DisplayTable:
    """As many one-line rows as one page holds without footnotes, then six footnote lines."""
    n = len(rtf_layout(listing(200)).pages[0])
    while rtf_layout(listing(n)).n_pages > 1:
        n -= 1
    return listing(n, tuple(f"F{k} footnote." for k in range(6)))


def test_footnotes_stay_with_the_last_rows(tmp_path: Path) -> None:
    table = tail_table()
    n = len(table.rows)
    lay = rtf_layout(table)
    assert rtf_layout(listing(n)).n_pages == 1
    # without footnotes the n rows fit on one page: with six lines of footnotes
    # (3 + 6 * 10.8 = 67.8 pt) they do not, so the last row starts page 2, under the header row
    assert lay.tail == pytest.approx(3 + 6 * 10.8)
    assert lay.pages == (range(0, n - 1), range(n - 1, n))
    assert lay.used(1) <= lay.room
    code = write_rtf(table, tmp_path / "t.rtf").read_text("ascii")
    pages = rtf_pages(code)
    assert body_labels(pages[1]) == [(f"R{n - 1:03d}", False)]
    assert pages[1].index("\\trhdr") < pages[1].index(f"R{n - 1:03d}") < pages[1].index("F0 ")


def test_fixed_rows_per_page_and_no_breaks_remain_available(tmp_path: Path) -> None:
    table = long_table(60)
    fixed = rtf_layout(table, rows_per_page=25)
    assert [len(p) for p in fixed.pages] == [25, 25, len(fixed.row_heights) - 50]
    assert rtf_layout(table, rows_per_page=0).pages == (range(len(fixed.row_heights)),)
    code = write_rtf(table, tmp_path / "f.rtf", rows_per_page=25).read_text("ascii")
    assert code.count(PAGE_BREAK) == 2 and code.count("\\trhdr") == 3


def test_paginated_rtf_is_deterministic_ascii(tmp_path: Path) -> None:
    table = long_table()
    one = write_rtf(table, tmp_path / "one.rtf").read_bytes()
    two = write_rtf(long_table(), tmp_path / "two.rtf").read_bytes()
    assert one == two
    one.decode("ascii")


# --------------------------------------------------------------------------------------------
# (c) converted by LibreOffice
# --------------------------------------------------------------------------------------------

needs_office = pytest.mark.skipif(
    SOFFICE is None or PDFTOTEXT is None,
    reason="LibreOffice (apt-get install libreoffice-writer-nogui) or poppler's pdftotext "
           "(apt-get install poppler-utils) is not installed: the RTF pages were checked as "
           "written, not as laid out by a word processor")


def real_t14_2_1() -> DisplayTable:
    """Table 14.2.1 (pre/post by session) of the 10-subject synthetic study, computed as the
    report does (PP-SESS only, so it takes a second)."""
    from msc_analysis.analyses.prepost import analysis_population, lab_parameters, pp_sess
    from msc_analysis.analyses.prepost_data import prepare_prepost
    from msc_analysis.io.issues import DataIssues
    from msc_analysis.io.loading import load_study
    from msc_analysis.render.prepost_tables import sessions_table
    from msc_analysis.sap import load_sap

    sap = load_sap(SAP_FILE)
    issues = DataIssues()
    study = load_study(DATA, analyses=("labs", "exposure"), issues=issues)
    data = prepare_prepost(study, sap, sap.lloq.primary, lab_parameters(sap),
                           analysis_population(sap))
    return sessions_table(pp_sess(data, sap, issues), sap)


#: name -> (table maker, write_rtf options, rows carry ids)
CASES = {
    "long_letter_9": (long_table, {"paper": "letter", "font_size": 9}, True),
    "long_letter_8": (long_table, {"paper": "letter", "font_size": 8,
                                   "page_header": "NCT06904755 interim\nData cut 2025-01-31"},
                      True),
    "long_a4_9": (long_table, {"paper": "a4", "font_size": 9}, True),
    "long_a4_8": (long_table, {"paper": "a4", "font_size": 8}, True),
    "tail_letter_9": (tail_table, {}, True),
    "t14_2_1_letter_9": (real_t14_2_1, {"page_header": "NCT06904755 interim analysis"}, False),
    "t14_2_1_a4_8": (real_t14_2_1, {"paper": "a4", "font_size": 8}, False),
}


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    """Each case written to RTF, all converted to PDF in one run of soffice; name ->
    (table, layout, text of each PDF page)."""
    assert SOFFICE is not None and PDFTOTEXT is not None
    folder = tmp_path_factory.mktemp("rtf_pages")
    made: dict[object, DisplayTable] = {}
    found: dict[str, tuple] = {}
    for name, (maker, options, _) in CASES.items():
        if maker not in made:
            made[maker] = maker()
        table = made[maker]
        write_rtf(table, folder / f"{name}.rtf", **options)
        found[name] = (table, rtf_layout(table, **options))
    to_pdf([folder / f"{name}.rtf" for name in CASES], folder)
    out = {}
    for name, (table, lay) in found.items():
        text = pdf_text(folder / f"{name}.pdf")
        out[name] = (table, lay, text.split("\f")[:-1])  # a form feed ends every page
    return out


@needs_office
@pytest.mark.parametrize("name", list(CASES))
def test_libreoffice_keeps_the_writers_pages(converted: dict[str, tuple], name: str) -> None:
    table, lay, pdf_pages = converted[name]
    n = lay.n_pages
    # LibreOffice broke no page of its own: exactly the writer's pages
    assert len(pdf_pages) == n, f"{name}: {len(pdf_pages)} PDF pages, the writer made {n}"
    header_lines = [line for c in table.columns for line in c.header_lines]
    stub = table.stub_header.split("\n")[0]
    source = "Source: analysis results data"
    for k, page in enumerate(pdf_pages, start=1):
        assert f"Page {k} of {n}" in page, f"{name}: page {k} has no 'Page {k} of {n}'"
        assert table.caption in " ".join(page.split()), f"{name}: page {k} has no title"
        # the column headers (with N) on every page
        for line in set(header_lines):
            assert page.count(line) >= header_lines.count(line), (
                f"{name}: page {k} lacks the column header {line!r}")
        assert stub in page, f"{name}: page {k} lacks the stub header {stub!r}"
        # the footnotes and source line on the last page only
        if table.analysis_ids:
            assert (source in page) == (k == n), f"{name}: source line on page {k}"
    if table.footnotes:
        assert table.footnotes[0][:20] in pdf_pages[-1]
    if CASES[name][2]:
        # the rows carry ids (R000, headings G00): each page holds exactly the writer's rows
        ids = [(row.group.split(" ")[0], row.label.split(" ")[0]) for row in table.rows]
        order: list[str] = []
        for group, label in ids:
            if group and (not order or group not in order):
                order.append(group)
            order.append(label)
        for k, page in enumerate(pdf_pages):
            shown = re.findall(r"\b[RG]\d{2,3}\b", page)
            assert shown == [order[i] for i in lay.pages[k]], f"{name}: rows of page {k + 1}"


def test_columns_are_at_least_their_longest_word_when_the_page_allows() -> None:
    # A listing-like table: a stub, one long text column (20 words of 4 letters: 99
    # characters) and 5 columns of one 12-letter word. The full texts (12 + 99 + 5 * 12 = 171)
    # do not fit a 9 in line: 12960 twips = 120 characters of 108 twips at 9 pt, less 7 cell
    # gaps of 2 characters, 106. In proportion to the full texts, each 12-letter column would
    # get 12 / 171 * 106 = 7.4 characters and its word would break; the longest words
    # (7 + 4 + 5 * 12 = 71) fit, so each column gets its longest word and the long text the
    # rest.
    from msc_analysis.render.writers import _cell_edges, _cell_widths, _rel_widths

    columns = [Column("text", "Text"), *[Column(f"c{i}", f"C{i}") for i in range(5)]]
    b = TableBuilder("16.2.7.1", "Listing", "Safety Set", columns, stub_header="Subject")
    b.add_row("S-001", {"text": " ".join(["abcd"] * 20),
                        **{f"c{i}": "abcdefghijkl" for i in range(5)}})
    widths = _cell_widths(_cell_edges(_rel_widths(b.build(), 12960, 9), 12960))
    assert [wrapped_lines("abcdefghijkl", chars_per_line(w, 9)) for w in widths[2:]] == [1] * 5
    assert chars_per_line(widths[0], 9) >= len("Subject")
    # the long text column takes what is left: 106 - 71 = 35 characters more than its 4
    assert 4 + 30 <= chars_per_line(widths[1], 9) <= 4 + 35
