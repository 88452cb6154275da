"""Writers of a :class:`~msc_analysis.render.table.DisplayTable`: CSV, HTML and RTF.

All output is byte-reproducible: no dates, no machine names, fixed line endings (``\\n``), fixed
fonts and page layout.

- CSV (:func:`write_csv`) holds the table's tidy unrounded data (the ARD rows behind every
  displayed number; for a listing, its records). Text cells that a spreadsheet would run as a
  formula are neutralised (:mod:`msc_analysis.csv_cells`, the rule of every CSV the package
  writes).
- HTML (:func:`to_html`, :func:`write_html`): an accessible ``<table>`` (caption, ``scope`` on
  header cells, one ``<tbody>`` per row group, footnotes in ``<tfoot>``), all text escaped.
- RTF (:func:`write_rtf`), written directly: a page header with "Page x of y" (RTF ``PAGE`` /
  ``NUMPAGES`` fields), title and population, column headers with N, body rows that each carry
  their own bold/indentation, footnotes, source line; landscape US letter or A4, Courier New.
  The writer breaks the pages itself and starts each page with the column-header row: Word
  repeats a header row marked ``\\trhdr`` on every page, but LibreOffice ignores ``\\trhdr``
  when it imports RTF, so a table it paginates shows its column headers on page 1 only. The
  page breaks come from an estimate of each row's height (:func:`rtf_layout`: Courier New is
  monospaced, so a cell's wrapping follows from its width), generous enough that the word
  processor never breaks a page before the writer does; the header rows keep ``\\trhdr``, so
  Word would still repeat them if it did.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from msc_analysis.csv_cells import neutralise, write_frame
from msc_analysis.render.column_text import iso_texts, texts_per_distinct
from msc_analysis.render.table import DisplayTable

__all__ = [
    "AUTO_FONT_SIZES",
    "CHAR_WIDTH_EM",
    "LINE_HEIGHT_EM",
    "TABLE_CSS",
    "RtfLayout",
    "chars_per_line",
    "line_height",
    "neutralise_csv_text",
    "rtf_escape",
    "rtf_font_size",
    "rtf_layout",
    "to_html",
    "wrapped_lines",
    "write_csv",
    "write_html",
    "write_rtf",
    "write_table",
]

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------

#: Kept under its earlier name: the package's one rule for text cells of a CSV.
neutralise_csv_text = neutralise


def _float_text(x: object) -> str:
    """Shortest round-tripping text of a float (``repr``); missing is empty."""
    if x is None or pd.isna(x):  # type: ignore[arg-type]
        return ""
    return repr(float(x))  # type: ignore[arg-type]


def _row_text(x: object) -> str:
    """Text of a table row number."""
    return str(int(x))  # type: ignore[call-overload]


def _cell_text(value: object) -> str:
    """CSV text of a table's data value: ``str``, neutralised; missing is empty."""
    return str(neutralise("" if pd.isna(value) else str(value)))  # type: ignore[arg-type]


def _record_text(value: object) -> str:
    """CSV text of one record value: floats as :func:`_float_text`, timestamps in ISO 8601
    (a date alone at midnight), other values as ``str``; missing is empty. Text is not yet
    neutralised."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return ""
    if isinstance(value, float | np.floating):
        return _float_text(value)
    if isinstance(value, pd.Timestamp):
        if value.second or value.microsecond or value.nanosecond:
            return value.isoformat()
        return value.strftime("%Y-%m-%dT%H:%M" if value.hour or value.minute else "%Y-%m-%d")
    return str(value)


def _record_column(values: pd.Series) -> list[str]:
    """CSV texts of one column of a listing's records, formatted once per distinct value."""
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) and not isinstance(dtype,
                                                                      pd.DatetimeTZDtype):
        return iso_texts(values)
    if dtype == np.float64:
        return texts_per_distinct(values, _float_text)
    return texts_per_distinct(values, lambda v: neutralise(_record_text(v)))


def _records_frame(records: pd.DataFrame) -> pd.DataFrame:
    """A listing's records as the texts of its CSV, the variable names as columns."""
    return pd.DataFrame(
        {i: _record_column(records.iloc[:, i]) for i in range(records.shape[1])},
        index=pd.RangeIndex(len(records)), dtype=object,
    ).set_axis([neutralise(str(c)) for c in records.columns], axis=1)


def write_csv(table: DisplayTable, path: str | Path) -> Path:
    """Write the table's tidy unrounded data as CSV: a listing's :attr:`DisplayTable.records`
    when it has them, else :attr:`DisplayTable.data` (the ARD rows behind the numbers).

    Floats are written at full precision (shortest round-tripping form, ``repr``), missing
    values as empty; text cells are neutralised against formula injection
    (:func:`msc_analysis.csv_cells.neutralise`; :func:`msc_analysis.csv_cells.read_csv` reads
    them back) and fields holding line breaks are quoted. A listing's records keep their
    variables as columns, one row per record; their dates and datetimes are ISO 8601
    (``YYYY-MM-DD`` for a column whose values all fall at midnight, else
    ``YYYY-MM-DDTHH:MM``), integers as integers. UTF-8, ``\\n`` line endings.

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    if table.records is not None:
        frame = _records_frame(table.records)
    else:
        frame = table.data.copy()
        for name in frame.columns:
            fmt = (_float_text if name == "stat" else _row_text if name == "row"
                   else _cell_text)
            frame[name] = texts_per_distinct(frame[name], fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_frame(frame, path)
    logger.debug("wrote %s", path)
    return path


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

#: Style sheet of the tables (classes used by :func:`to_html`), embedded by :func:`write_html`.
TABLE_CSS = """\
body { font-family: "Segoe UI", Arial, sans-serif; font-size: 11pt; margin: 2em; color: #111; }
table.msc-table { border-collapse: collapse; margin-bottom: 2em; }
table.msc-table caption { text-align: left; font-weight: bold; padding-bottom: 0.5em; }
table.msc-table caption .population { font-weight: normal; }
table.msc-table th, table.msc-table td { padding: 0.2em 0.8em; vertical-align: top; }
table.msc-table thead th { border-top: 2px solid #111; border-bottom: 1px solid #111;
  font-weight: bold; vertical-align: bottom; }
table.msc-table tbody th { text-align: left; font-weight: normal; }
table.msc-table tbody tr.group th { font-weight: bold; padding-top: 0.6em; }
table.msc-table tbody:last-of-type tr:last-child > * { border-bottom: 2px solid #111; }
table.msc-table td.left { text-align: left; }
table.msc-table td.center { text-align: center; }
table.msc-table td.right { text-align: right; }
table.msc-table tfoot td { font-size: 9pt; border: none; }
"""

_INDENT_EM = 1.5


def _esc(text: str) -> str:
    """Escape text for HTML; line breaks become ``<br>``."""
    return "<br>".join(html.escape(part, quote=True) for part in str(text).split("\n"))


def _table_id(table: DisplayTable) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{table.kind}-{table.number}").strip("-").lower()
    return slug or "table"


def to_html(table: DisplayTable) -> str:
    """The table as a self-contained, accessible HTML ``<table>`` fragment.

    The caption reads ``"Table 14.3.1.1 Title"`` followed by the population; column headers are
    ``<th scope="col">`` (lines of a header separated by ``<br>``); each row label is a
    ``<th scope="row">`` indented by its level; rows of one group sit in one ``<tbody>`` under a
    ``<th scope="rowgroup">`` heading; footnotes and the source analysis ids are in ``<tfoot>``.
    """
    ncol = len(table.columns) + 1
    out: list[str] = [f'<table class="msc-table" id="{_table_id(table)}">']
    out.append(
        f"<caption>{_esc(table.caption)}"
        + (f'<br><span class="population">{_esc(table.population)}</span>'
           if table.population else "")
        + "</caption>"
    )
    out.append("<thead>")
    out.append("<tr>")
    out.append(f'<th scope="col" class="stub">{_esc(table.stub_header)}</th>')
    for col in table.columns:
        out.append(f'<th scope="col" class="{col.align}">{_esc(col.header)}</th>')
    out.append("</tr>")
    out.append("</thead>")
    for group, rows in _row_groups(table):
        out.append("<tbody>")
        if group:
            out.append(
                f'<tr class="group"><th scope="rowgroup" colspan="{ncol}">{_esc(group)}</th></tr>'
            )
        for row in rows:
            pad = 0.8 + _INDENT_EM * row.indent
            style = f' style="padding-left: {pad:g}em"' if row.indent else ""
            cells = "".join(
                f'<td class="{col.align}">{_esc(row.text(col.key))}</td>' for col in table.columns
            )
            out.append(
                f'<tr><th scope="row" class="indent-{row.indent}"{style}>{_esc(row.label)}</th>'
                f"{cells}</tr>"
            )
        out.append("</tbody>")
    foot = [*table.footnotes, *_source_lines(table)]
    if foot:
        out.append("<tfoot>")
        for line in foot:
            out.append(f'<tr><td colspan="{ncol}">{_esc(line)}</td></tr>')
        out.append("</tfoot>")
    out.append("</table>")
    return "\n".join(out) + "\n"


def _row_groups(table: DisplayTable) -> list[tuple[str, list]]:
    """Consecutive rows with the same group, in order."""
    groups: list[tuple[str, list]] = []
    for row in table.rows:
        if groups and groups[-1][0] == row.group:
            groups[-1][1].append(row)
        else:
            groups.append((row.group, [row]))
    if not groups:
        groups.append(("", []))
    return groups


def _source_lines(table: DisplayTable) -> list[str]:
    if not table.analysis_ids:
        return []
    return [f"Source: analysis results data (ARD), analysis id(s) {', '.join(table.analysis_ids)}."]


def write_html(table: DisplayTable, path: str | Path, *, page_title: str | None = None) -> Path:
    """Write the table as a complete HTML page with minimal embedded CSS (UTF-8)."""
    path = Path(path)
    title = page_title if page_title is not None else table.caption
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title, quote=True)}</title>\n"
        f"<style>\n{TABLE_CSS}</style>\n</head>\n<body>\n"
        f"{to_html(table)}"
        "</body>\n</html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(page.encode("utf-8"))
    logger.debug("wrote %s", path)
    return path


# --------------------------------------------------------------------------------------------
# RTF
# --------------------------------------------------------------------------------------------

#: Page sizes (width, height) in inches, landscape.
PAPER_LANDSCAPE: dict[str, tuple[float, float]] = {"letter": (11.0, 8.5), "a4": (11.69, 8.27)}
#: Twips (1/1440 inch) per inch; 20 twips per point.
_TWIPS = 1440
_TWIPS_PT = 20
#: Page margins in twips: left/right 1 in, top 1.25 in (room for the header), bottom 0.75 in;
#: the header starts 0.5 in from the top edge.
_MARGIN_SIDE, _MARGIN_TOP, _MARGIN_BOTTOM, _HEADER_Y = 1440, 1800, 1080, 720
#: Indentation per level of a row label, in twips.
_INDENT_TWIPS = 240
#: "Page x of y". The field instructions sit in their own group: without it LibreOffice 7.4
#: sets the field results in its default font (Liberation Serif 12 pt), which also makes the
#: line taller than the paragraph's font says.
_PAGE_FIELD = "Page {\\field{\\*\\fldinst { PAGE }}} of {\\field{\\*\\fldinst { NUMPAGES }}}"
#: The widest "Page x of y" text allowed for in the height of the page header.
_PAGE_TEXT = "Page 9999 of 9999"
_ALIGN_CODE = {"left": "ql", "center": "qc", "right": "qr"}
#: A thin single border (0.75 pt) on one side of a cell.
_BORDER = "\\clbrdr{side}\\brdrs\\brdrw15"
#: Half the space between the texts of two cells, each side of a cell (``\\trgaph``), twips.
_CELL_GAP = 108
#: The paragraph that starts each page after the first: 1 pt high, "page break before".
#: (A ``\\page`` character in a paragraph between two tables makes LibreOffice 7.4 break twice,
#: leaving a blank page; ``\\pagebb`` on a paragraph of its own breaks once in both Word and
#: LibreOffice, and the paragraph keeps the pages' tables apart, so Word does not see one long
#: table whose ``\\trhdr`` row it would repeat above ours.)
_PAGE_BREAK = "{\\pard\\plain\\pagebb\\fs2\\par}\n"

# Page layout estimate (see :func:`rtf_layout`); lengths in points.
#: Advance width of every character of Courier New (1229 of 2048 font units), in em. Its metric
#: twin Liberation Mono, which LibreOffice substitutes, has the same width.
CHAR_WIDTH_EM = 1229 / 2048
#: Height of a single-spaced line, in em of the font size, used to paginate. Courier New (and
#: Liberation Mono) have ascent + descent = (1705 + 615) / 2048 = 1.1328 em, and LibreOffice
#: 7.4 spaces lines by exactly that (rows 11.70 pt apart at 9 pt, 10.55 pt at 8 pt, i.e. 204
#: and 181 twips of text plus 30 of \\sb15\\sa15). 1.2 em (6 % more) is the conservative figure:
#: the writer breaks a page before any word processor with slightly taller lines would.
LINE_HEIGHT_EM = 1.2
#: Space above and below the text of each cell (``\\sb15\\sa15``).
_CELL_SPACE_PT = 1.5
#: Width of a cell border (``\\brdrw15``), added to a row's height for each rule it carries.
_BORDER_PT = 0.75
#: Space above and below the title paragraph of the page header (``\\sb120\\sa120``).
_TITLE_SPACE_PT = 12.0
#: Space above the first footnote (``\\sb60``).
_FOOT_SPACE_PT = 3.0
#: Room allowed between the page header and the body when the header reaches below the top
#: margin. LibreOffice 7.4 starts the body right below the header (measured within 0.2 pt at 7
#: to 10 pt with 1 to 7 header lines); 2 pt to spare for other word processors.
_HEADER_GAP_PT = 2.0
#: Font size of a paragraph without ``\\fs``: the empty paragraph a word processor adds after a
#: table that ends the document (when there are no footnotes).
_DEFAULT_FONT_PT = 12.0
#: Font size of the page-break paragraph (``\\fs2``).
_BREAK_FONT_PT = 1.0
#: A word of a line, with the spaces before it.
_WORDS = re.compile(r"( *)([^ ]+)")


def rtf_escape(text: str) -> str:
    """Escape text for RTF: ``\\``, ``{``, ``}``; non-ASCII as ``\\uN?``; newline as ``\\line``."""
    out: list[str] = []
    for ch in str(text):
        code = ord(ch)
        if ch in "\\{}":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\line ")
        elif ch == "\t":
            out.append("\\tab ")
        elif code < 32:
            continue
        elif code < 128:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code - 65536 if code > 32767 else code}?")
        else:  # outside the BMP: a UTF-16 surrogate pair
            code -= 0x10000
            for unit in (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)):
                out.append(f"\\u{unit - 65536}?")
    return "".join(out)


# ------------------------------------------------------------------------ RTF: layout estimate


def _font_pt(font_size: float) -> float:
    """The font size actually written (``\\fs`` is in half points)."""
    return round(2 * font_size) / 2


def line_height(font_size: float) -> float:
    """Height in points of one single-spaced line at ``font_size`` (:data:`LINE_HEIGHT_EM`)."""
    return LINE_HEIGHT_EM * _font_pt(font_size)


def chars_per_line(width_twips: float, font_size: float) -> int:
    """How many Courier New characters at ``font_size`` fit in ``width_twips`` (at least 1).

    Examples
    --------
    A 9 pt character is 0.6001 * 9 = 5.4009 pt = 108.02 twips wide: 1296 twips hold 11 of them
    (12 would need 1296.2).

    >>> chars_per_line(1296, 9), chars_per_line(1297, 9)
    (11, 12)
    """
    char = CHAR_WIDTH_EM * _font_pt(font_size) * _TWIPS_PT
    return max(1, int(width_twips / char))


def wrapped_lines(text: str, chars: int) -> int:
    """Lines that ``text`` takes when wrapped at word boundaries in lines of ``chars`` characters.

    Each ``"\\n"`` starts a new line; an empty text takes one line. A line breaks at spaces (the
    space at a break takes no room; LibreOffice 7.4 breaks at any space, even before ")"); a
    word that does not fit on the line it would continue starts a new line, and a word longer
    than a line is broken into pieces of ``chars`` characters. Leading spaces count. Breaks
    after hyphens, which a word processor may also make, are not counted: they can only save
    lines.

    Examples
    --------
    >>> wrapped_lines("x" * 25, 10)           # 10 + 10 + 5
    3
    >>> wrapped_lines("Serious adverse event", 10)   # "Serious" / "adverse" / "event"
    3
    >>> wrapped_lines("Session 1\\nN = 9", 20)
    2
    """
    chars = max(1, int(chars))
    total = 0
    for line in str(text).split("\n"):
        lines, used = 1, 0
        for k, (spaces, length) in enumerate((len(m[1]), len(m[2]))
                                             for m in _WORDS.finditer(line)):
            if k == 0:
                length, spaces = length + spaces, 0
            if used and used + spaces + length <= chars:
                used += spaces + length
                continue
            if used:
                lines += 1
            more, used = divmod(length, chars)
            if used == 0:
                more, used = more - 1, chars
            lines += more
        total += lines
    return total


@dataclass(frozen=True)
class RtfLayout:
    """Where :func:`write_rtf` breaks the pages of a table, and the heights it estimated.

    Lengths are in points; rows are the body rows as written (group headings included).

    Attributes
    ----------
    pages : tuple of range
        The body rows on each page, in order.
    row_heights : tuple of float
        Estimated height of each body row (the last one includes its bottom rule).
    header_height : float
        Height of the column-header row, repeated at the top of every page.
    top, bottom : float
        Where the body may start and must end, from the top edge of the page: the top margin
        (or the bottom of the page header plus a gap if that is lower) and the paper height
        less the bottom margin.
    page_break : float
        Height of the page-break paragraph above the header row of pages 2 and on.
    tail : float
        Height of what follows the table on the last page (footnotes and source line, or the
        empty paragraph that ends the document).
    """

    pages: tuple[range, ...]
    row_heights: tuple[float, ...]
    header_height: float
    top: float
    bottom: float
    page_break: float
    tail: float

    @property
    def n_pages(self) -> int:
        """Number of pages."""
        return len(self.pages)

    def used(self, page: int) -> float:
        """Estimated height taken on page ``page`` (0-based), from ``top``: page-break
        paragraph, header row, body rows and, on the last page, the tail."""
        height = self.header_height + sum(self.row_heights[i] for i in self.pages[page])
        if page:
            height += self.page_break
        if page == len(self.pages) - 1:
            height += self.tail
        return height

    @property
    def room(self) -> float:
        """Height available on every page between ``top`` and ``bottom``."""
        return self.bottom - self.top


@dataclass(frozen=True)
class _Body:
    """Body rows of the RTF table: raw texts, indentation level and bold flag of each row."""

    texts: tuple[tuple[str, ...], ...]
    levels: tuple[int, ...]
    bold: tuple[bool, ...]


def _body(table: DisplayTable) -> _Body:
    """Body rows in display order: a bold heading row before each group, then its rows."""
    texts: list[tuple[str, ...]] = []
    levels: list[int] = []
    bold: list[bool] = []
    for group, rows in _row_groups(table):
        if group:
            texts.append((group,) + ("",) * len(table.columns))
            levels.append(0)
            bold.append(True)
        for row in rows:
            texts.append((row.label, *[row.text(c.key) for c in table.columns]))
            levels.append(row.indent + (1 if group else 0))
            bold.append(False)
    if not texts:
        texts.append(("",) * (len(table.columns) + 1))
        levels.append(0)
        bold.append(False)
    return _Body(tuple(texts), tuple(levels), tuple(bold))


def _cell_widths(edges: list[int]) -> list[int]:
    """Width of each cell's text, twips: the cell less the gap on each side."""
    return [right - left - 2 * _CELL_GAP for left, right in zip([0, *edges[:-1]], edges,
                                                                 strict=True)]


def _row_lines(texts: tuple[str, ...], widths: list[int], font_size: float,
               indent: int = 0) -> int:
    """Lines of the tallest cell of a row; the first cell is indented by ``indent`` twips."""
    return max(wrapped_lines(text, chars_per_line(width - (indent if i == 0 else 0), font_size))
               for i, (text, width) in enumerate(zip(texts, widths, strict=True)))


def _row_height(lines: int, font_size: float, rules: int) -> float:
    """Height of a table row of ``lines`` lines with ``rules`` horizontal borders."""
    return lines * line_height(font_size) + _CELL_SPACE_PT + rules * _BORDER_PT


def _header_texts(table: DisplayTable) -> tuple[str, ...]:
    return (table.stub_header, *[c.header for c in table.columns])


def _page_header_height(table: DisplayTable, text: str, font_size: float,
                        text_width: int) -> float:
    """Height of the page header: its text and "Page x of y", then title and population."""
    top = [text, _PAGE_TEXT] if text else [_PAGE_TEXT]
    lines = wrapped_lines("\n".join(top), chars_per_line(text_width, font_size))
    title_size = font_size + 1
    titles = [x for x in (table.caption, table.population) if x]
    title_lines = wrapped_lines("\n".join(titles), chars_per_line(text_width, title_size))
    return (lines * line_height(font_size) + _TITLE_SPACE_PT
            + title_lines * line_height(title_size))


def _tail_height(table: DisplayTable, font_size: float, text_width: int) -> float:
    """Height of the footnotes and source line (or of the paragraph ending the document)."""
    lines = [*table.footnotes, *_source_lines(table)]
    if not lines:
        return line_height(_DEFAULT_FONT_PT)
    chars = chars_per_line(text_width, font_size)
    return (_FOOT_SPACE_PT
            + sum(wrapped_lines(line, chars) for line in lines) * line_height(font_size))


def _paginate(heights: list[float], headings: tuple[bool, ...], room: float, tail: float
              ) -> list[int]:
    """First row of each page: greedy fill, no group heading left last on a page, and the last
    page keeps room for the tail (else its last rows start a new page)."""
    starts, used = [0], 0.0
    for i, height in enumerate(heights):
        if i > starts[-1] and used + height > room:
            first = i - 1 if headings[i - 1] and i - 1 > starts[-1] else i
            starts.append(first)
            used = sum(heights[first:i])
        used += height
    last = len(heights) - 1
    if used + tail > room and last > starts[-1]:
        first = last - 1 if headings[last - 1] and last - 1 > starts[-1] else last
        if sum(heights[first:]) + tail <= room:
            starts.append(first)
    return starts


def rtf_layout(
    table: DisplayTable,
    *,
    page_header: str = "",
    paper: str = "letter",
    font_size: float | None = None,
    rows_per_page: int | None = None,
) -> RtfLayout:
    """Where :func:`write_rtf` breaks the pages of ``table``, and the heights behind it.

    Heights are estimated from the text (Courier New: every character :data:`CHAR_WIDTH_EM`
    wide, lines :data:`LINE_HEIGHT_EM` high). Each cell's text wraps at word boundaries in its
    ``\\cellx`` width less the cell gaps (``\\trgaph108`` each side) and the label's indent; a
    row is as high as its tallest cell plus the cell spacing (``\\sb15\\sa15``) and its rules.
    A page holds, between the top margin (or the bottom of the page header if that is lower)
    and the bottom margin, the page-break paragraph (pages 2 and on), the column-header row and
    as many body rows as fit. A group heading never ends a page (it moves to the next one), and
    the last page keeps room for the footnotes and source line.

    Parameters are those of :func:`write_rtf` (``font_size`` None: :func:`rtf_font_size`).
    ``rows_per_page`` > 0 forces that many body rows a page; 0 gives one page (the word
    processor paginates).
    """
    if font_size is None:
        font_size = rtf_font_size(table, paper)
    paper_height = round(_TWIPS * PAPER_LANDSCAPE[_check_paper(paper)][1]) / _TWIPS_PT
    text_width = _text_width(paper)
    edges = _cell_edges(_rel_widths(table, text_width, font_size), text_width)
    widths = _cell_widths(edges)
    body = _body(table)
    rows = len(body.texts)
    heights = [_row_height(_row_lines(texts, widths, font_size, _INDENT_TWIPS * level),
                           font_size, 1 if i == rows - 1 else 0)
               for i, (texts, level) in enumerate(zip(body.texts, body.levels, strict=True))]
    header = _row_height(_row_lines(_header_texts(table), widths, font_size), font_size, 2)
    page_top = _HEADER_Y / _TWIPS_PT + _page_header_height(table, page_header, font_size,
                                                            text_width)
    top = max(_MARGIN_TOP / _TWIPS_PT, page_top + _HEADER_GAP_PT)
    bottom = paper_height - _MARGIN_BOTTOM / _TWIPS_PT
    page_break = line_height(_BREAK_FONT_PT)
    tail = _tail_height(table, font_size, text_width)
    if rows_per_page is None:
        # pages 2.. also hold the page-break paragraph: count it in every page's room
        starts = _paginate(heights, body.bold, bottom - top - header - page_break, tail)
    elif rows_per_page > 0:
        starts = list(range(0, rows, rows_per_page))
    else:
        starts = [0]
    ends = [*starts[1:], rows]
    return RtfLayout(
        pages=tuple(range(a, b) for a, b in zip(starts, ends, strict=True)),
        row_heights=tuple(heights), header_height=header, top=top, bottom=bottom,
        page_break=page_break, tail=tail,
    )


# ------------------------------------------------------------------------------ RTF: writing


#: Characters added to each column's width: rounding two edges to twips loses < 0.02.
_ROUNDING_ROOM = 0.05


def _longest(texts: Iterable[str], *, words: bool = False) -> int:
    """Longest line (or, with ``words``, longest space-separated word) of the texts."""
    parts = (line.split(" ") if words else [line]
             for text in texts for line in str(text).split("\n"))
    return max((len(p) for group in parts for p in group), default=0)


def _stub_chars(table: DisplayTable, font_size: float, *, words: bool = False) -> float:
    """Width in characters of the stub's longest line (or word): the stub header, the group
    headings, and each row label after its indentation as written (:func:`_body`: the row's
    level, one more under a group heading, :data:`_INDENT_TWIPS` a level)."""
    char = CHAR_WIDTH_EM * _font_pt(font_size) * _TWIPS_PT
    plain = _longest([table.stub_header, *[r.group for r in table.rows]], words=words)
    by_level: dict[int, list[str]] = {}
    for r in table.rows:
        by_level.setdefault(r.indent + (1 if r.group else 0), []).append(r.label)
    labels = [level * _INDENT_TWIPS / char + _longest(texts, words=words)
              for level, texts in by_level.items()]
    return float(max([plain, *labels]))


def _natural_and_least(table: DisplayTable, font_size: float) -> tuple[list[float], list[float]]:
    """Each column's natural width (longest line) and least width (longest word), in characters
    at ``font_size``, stub first, before the cell gaps and rounding room."""
    col_texts = [[c.header, *[r.text(c.key) for r in table.rows]] for c in table.columns]
    natural = [max(_stub_chars(table, font_size), 12.0),
               *[float(max(_longest(t), 8)) for t in col_texts]]
    least = [min(_stub_chars(table, font_size, words=True), natural[0]),
             *[float(min(max(_longest(t, words=True), 4), n))
               for t, n in zip(col_texts, natural[1:], strict=True)]]
    return natural, least


def _rel_widths(table: DisplayTable, text_width: int = 12960, font_size: float = 9
                ) -> list[float]:
    """Relative column widths (stub first), in characters, cell gaps included.

    Each column's natural width is its longest line (header or body), its least width its
    longest word (a row label's with its indentation). When the natural widths fit the page
    they share it in proportion (the stub taking no more than the other columns together, nor
    less than its longest word); when they do not, each column gets its longest word and the
    rest of the width goes in proportion to how much more each column would need, so that
    words are broken only when even the longest words do not fit side by side
    (:func:`rtf_font_size` picks a font size at which they do).
    """
    natural, least = _natural_and_least(table, font_size)
    # a little more than the word, so that rounding the edges to whole twips keeps it whole
    natural = [n + _ROUNDING_ROOM for n in natural]
    least = [m + _ROUNDING_ROOM for m in least]
    char = CHAR_WIDTH_EM * _font_pt(font_size) * _TWIPS_PT
    gap = 2 * _CELL_GAP / char
    room = text_width / char - gap * len(natural)
    least[0] = min(least[0], room / 2)  # an unbreakable stub label never takes all the width
    others = sum(natural[1:]) or natural[0]
    natural[0] = max(min(natural[0], others), least[0])
    if sum(natural) <= room or sum(least) >= room:
        widths = natural if sum(natural) <= room else least
    else:
        spare = room - sum(least)
        extra = [n - m for n, m in zip(natural, least, strict=True)]
        widths = [m + spare * e / sum(extra) for m, e in zip(least, extra, strict=True)]
    return [float(w + gap) for w in widths]


#: Font sizes :func:`rtf_font_size` tries, largest first.
AUTO_FONT_SIZES: tuple[float, ...] = (9, 8, 7)


def _words_fit(table: DisplayTable, text_width: int, font_size: float) -> bool:
    """Whether every column's longest word (:func:`_rel_widths`' least widths, rounding room
    and cell gaps included) fits side by side in ``text_width`` at ``font_size``."""
    _, least = _natural_and_least(table, font_size)
    char = CHAR_WIDTH_EM * _font_pt(font_size) * _TWIPS_PT
    need = sum(m + _ROUNDING_ROOM for m in least) + 2 * _CELL_GAP / char * len(least)
    return need <= text_width / char


def rtf_font_size(table: DisplayTable, paper: str = "letter") -> float:
    """The font size :func:`write_rtf` uses when none is given: the largest of
    :data:`AUTO_FONT_SIZES` (9, 8, 7 pt) at which the longest words of all columns fit side by
    side on the page, so that no word is broken; 7 pt when they fit at none.

    Examples
    --------
    A narrow table keeps 9 pt; 14 columns of 12-letter words (14 * (12.05 + 2) = 196.7
    characters of 9 pt, more than the 120 of a 9 in line; at 7 pt a character is 84 twips and
    a line holds 154.3, the columns 12.05 + 2.57 each: 204.7) fit at none.
    """
    text_width = _text_width(paper)
    for size in AUTO_FONT_SIZES:
        if _words_fit(table, text_width, size):
            return size
    return AUTO_FONT_SIZES[-1]


def _cell_edges(rel_widths: list[float], total: int) -> list[int]:
    """Right edges (``\\cellx``, twips from the table's left) of columns of relative widths."""
    whole = sum(rel_widths)
    edges, run = [], 0.0
    for w in rel_widths:
        run += w
        edges.append(round(total * run / whole))
    return edges


def _row_def(edges: list[int], sides: str, *, header: bool = False) -> str:
    """Row definition: one cell per edge, borders on ``sides`` ("t", "b"); ``\\trhdr`` if header."""
    borders = "".join(_BORDER.format(side=s) for s in sides)
    valign = "\\clvertalb" if header else "\\clvertalt"
    cells = "".join(f"{borders}{valign}\\cellx{x}" for x in edges)
    repeat = "\\trhdr" if header else ""
    return f"\\trowd\\trgaph108\\trleft0\\trqc\\trkeep{repeat}{cells}\n"


def _rtf_cell(text: str, align: str, font_size: float, *, indent: int = 0,
              bold: bool = False) -> str:
    """One cell: its own paragraph formatting (``\\pard\\plain``), so nothing carries over."""
    weight = "\\b" if bold else ""
    return (f"\\pard\\plain\\intbl\\sb15\\sa15\\li{indent}\\ri0\\{align}\\fs{round(2 * font_size)}"
            f"{{\\f0{weight} {text}}}\\cell\n")


def _header_row(table: DisplayTable, edges: list[int], font_size: float) -> str:
    """The column header row (at the top of every page): stub header, then each column's lines."""
    aligns = ["ql", *[_ALIGN_CODE[c.align] for c in table.columns]]
    cells = "".join(_rtf_cell(rtf_escape(text), a, font_size)
                    for text, a in zip(_header_texts(table), aligns, strict=True))
    return _row_def(edges, "tb", header=True) + cells + "\\row\n"


def _body_rows(table: DisplayTable, edges: list[int], font_size: float,
               pages: tuple[range, ...]) -> list[str]:
    """Body rows page by page, each with its own bold/indent; every page after the first starts
    with the page-break paragraph and the column header row."""
    body = _body(table)
    aligns = ["ql", *[_ALIGN_CODE[c.align] for c in table.columns]]
    plain_def, last_def = _row_def(edges, ""), _row_def(edges, "b")
    header = _header_row(table, edges, font_size)
    last = len(body.texts) - 1
    out: list[str] = []
    for k, page in enumerate(pages):
        out.append((_PAGE_BREAK if k else "") + header)
        for i in page:
            texts, level, is_bold = body.texts[i], body.levels[i], body.bold[i]
            first = _rtf_cell(rtf_escape(texts[0]), "ql", font_size,
                              indent=_INDENT_TWIPS * level, bold=is_bold)
            rest = "".join(_rtf_cell(rtf_escape(text), a, font_size)
                           for text, a in zip(texts[1:], aligns[1:], strict=True))
            out.append((last_def if i == last else plain_def) + first + rest + "\\row\n")
    return out


def _margins(suffix: str = "") -> str:
    """Margin control words; ``suffix="sxn"`` gives the section-level ones."""
    sizes = {"l": _MARGIN_SIDE, "r": _MARGIN_SIDE, "t": _MARGIN_TOP, "b": _MARGIN_BOTTOM}
    return "".join(f"\\marg{side}{suffix}{twips}" for side, twips in sizes.items())


def _check_paper(paper: str) -> str:
    if paper not in PAPER_LANDSCAPE:
        raise ValueError(f"paper must be one of {sorted(PAPER_LANDSCAPE)}, got {paper!r}")
    return paper


def _text_width(paper: str) -> int:
    """Width between the side margins, twips."""
    return round(_TWIPS * PAPER_LANDSCAPE[_check_paper(paper)][0]) - 2 * _MARGIN_SIDE


def _page_setup(paper: str) -> tuple[str, int]:
    """Document and section page setup (landscape), and the width between the margins."""
    width, height = (round(_TWIPS * x) for x in PAPER_LANDSCAPE[_check_paper(paper)])
    doc = f"\\paperw{width}\\paperh{height}{_margins()}\\landscape\n"
    sect = (f"\\sectd\\lndscpsxn\\pgwsxn{width}\\pghsxn{height}{_margins('sxn')}"
            f"\\headery{_HEADER_Y}\\footery{_HEADER_Y}\n")
    return doc + sect, _text_width(paper)


def _page_header(table: DisplayTable, text: str, font_size: float) -> str:
    """``{\\header ..}``: page header text and "Page x of y" (right), title and population."""
    fs, title_fs = round(2 * font_size), round(2 * (font_size + 1))
    top = "\\line ".join([rtf_escape(text), _PAGE_FIELD] if text else [_PAGE_FIELD])
    titles = "\\line ".join(rtf_escape(x) for x in (table.caption, table.population) if x)
    return (f"{{\\header\\pard\\plain\\qr\\f0\\fs{fs} {top}\\par\n"
            f"\\pard\\plain\\qc\\sb120\\sa120\\f0\\fs{title_fs}\\b {titles}\\par}}\n")


def _after_table(table: DisplayTable, font_size: float) -> str:
    """Footnotes, then the source line, one paragraph each."""
    lines = [*table.footnotes, *_source_lines(table)]
    return "".join(f"\\pard\\plain\\ql\\sb{60 if i == 0 else 0}\\f0\\fs{round(2 * font_size)} "
                   f"{rtf_escape(line)}\\par\n" for i, line in enumerate(lines))


def write_rtf(
    table: DisplayTable,
    path: str | Path,
    *,
    page_header: str = "",
    paper: str = "letter",
    font_size: float | None = None,
    rows_per_page: int | None = None,
) -> Path:
    """Write the table as RTF (landscape, Courier New, "Page x of y"), paginated by the writer.

    The page header (every page) holds ``page_header`` and "Page x of y" (RTF ``PAGE`` /
    ``NUMPAGES`` fields) on the right, then the caption and population, centred and bold.

    The writer breaks the pages itself (:func:`rtf_layout`) and starts every page with the
    column-header row (with its "N = x"). Word repeats a header row marked ``\\trhdr`` on each
    page of a table it breaks, but LibreOffice (7.4) ignores ``\\trhdr`` when it imports RTF,
    so a table left to the word processor loses its column headers after page 1 there. So the
    body is cut into one table per page, from an estimate of each row's height (Courier New is
    monospaced, so the wrapping of every cell follows from its width); the estimate is
    deliberately generous, so that the word processor never breaks a page before the writer
    does (a page may end a few lines short). A group heading never ends a page, and the
    footnotes and source line stay on the last page with the last rows. Each page's header
    row is still marked ``\\trhdr``, so Word repeats it should it break a page anyway.

    Each body row carries its own formatting (bold group headings, label indentation by
    level), so it is right on every page.

    Parameters
    ----------
    table : DisplayTable
        The table.
    path : str or Path
        Output file.
    page_header : str
        Text shown top right of every page above the page number (e.g. study id and data cut).
    paper : {"letter", "a4"}
        Landscape paper size.
    font_size : float, optional
        Point size of body, headers and footnotes (titles are one point larger). None
        (default): :func:`rtf_font_size`, 9 pt, or 8 or 7 pt when the longest words of the
        columns do not fit side by side at the larger size. The size used is stated in the RTF
        only (its ``\\fs`` control words).
    rows_per_page : int, optional
        None (default): the writer paginates from the estimated heights. A positive number:
        a page break (and the column header row) after every ``rows_per_page`` body rows
        (group headings count as rows), whatever their height. 0: no page breaks, the word
        processor paginates (Word repeats the header row; LibreOffice does not).

    Returns
    -------
    Path
        The path written. The file is pure ASCII (non-ASCII characters as ``\\uN?``) and carries
        no timestamp, so the same table gives the same bytes.

    Raises
    ------
    ValueError
        If ``paper`` is not ``"letter"`` or ``"a4"``.
    """
    setup, text_width = _page_setup(paper)
    if font_size is None:
        font_size = rtf_font_size(table, paper)
    edges = _cell_edges(_rel_widths(table, text_width, font_size), text_width)
    layout = rtf_layout(table, page_header=page_header, paper=paper, font_size=font_size,
                        rows_per_page=rows_per_page)
    parts = [
        "{\\rtf1\\ansi\\ansicpg1252\\uc1\\deff0\\deflang1033\n",
        "{\\fonttbl{\\f0\\fmodern\\fcharset0\\fprq1 Courier New;}}\n",
        setup,
        _page_header(table, page_header, font_size),
        *_body_rows(table, edges, font_size, layout.pages),
        _after_table(table, font_size),
        "}\n",
    ]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(parts).encode("ascii"))
    logger.debug("wrote %s (%d pages, %g pt)", path, layout.n_pages, font_size)
    return path


# --------------------------------------------------------------------------------------------
# All formats
# --------------------------------------------------------------------------------------------


def write_table(
    table: DisplayTable, out_dir: str | Path, stem: str, **rtf_options: object
) -> dict[str, Path]:
    """Write ``<stem>.csv``, ``<stem>.html`` and ``<stem>.rtf`` into ``out_dir``.

    ``rtf_options`` go to :func:`write_rtf` (page_header, paper, font_size, rows_per_page).
    Returns format -> path.
    """
    out = Path(out_dir)
    return {
        "csv": write_csv(table, out / f"{stem}.csv"),
        "html": write_html(table, out / f"{stem}.html"),
        "rtf": write_rtf(table, out / f"{stem}.rtf", **rtf_options),  # type: ignore[arg-type]
    }
