"""Writers of a :class:`~msc_analysis.render.table.DisplayTable`: CSV, HTML and RTF.

All output is byte-reproducible: no dates, no machine names, fixed line endings (``\\n``), fixed
fonts and page layout.

- CSV (:func:`write_csv`) holds the table's tidy unrounded data (the ARD rows behind every
  displayed number). Text cells that a spreadsheet would run as a formula are neutralised.
- HTML (:func:`to_html`, :func:`write_html`): an accessible ``<table>`` (caption, ``scope`` on
  header cells, one ``<tbody>`` per row group, footnotes in ``<tfoot>``), all text escaped.
- RTF (:func:`write_rtf`), written directly: a page header with "Page x of y" (RTF ``PAGE`` /
  ``NUMPAGES`` fields), title and population, column headers with N as a repeating header row
  (``\\trhdr``), body rows that each carry their own bold/indentation, footnotes, source line;
  landscape US letter or A4, Courier New.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path

import pandas as pd

from msc_analysis.render.table import DisplayTable

__all__ = [
    "TABLE_CSS",
    "neutralise_csv_text",
    "rtf_escape",
    "to_html",
    "write_csv",
    "write_html",
    "write_rtf",
    "write_table",
]

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------

#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise_csv_text(value: object) -> object:
    """Prefix a text value that a spreadsheet would run as a formula with an apostrophe.

    A text beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
    ``'``; a text that is a plain number (``"-1.5"``, ``"+3"``, ``"-2e-3"``) is left alone, as are
    non-text values (numbers stay numbers).

    Examples
    --------
    >>> neutralise_csv_text("=1+2"), neutralise_csv_text("-1.5"), neutralise_csv_text(-1.5)
    ("'=1+2", '-1.5', -1.5)
    """
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def _float_text(x: object) -> str:
    """Shortest round-tripping text of a float (``repr``); missing is empty."""
    if x is None or pd.isna(x):  # type: ignore[arg-type]
        return ""
    return repr(float(x))  # type: ignore[arg-type]


def write_csv(table: DisplayTable, path: str | Path) -> Path:
    """Write the table's tidy unrounded data (:attr:`DisplayTable.data`) as CSV.

    Floats are written at full precision (shortest round-tripping form), missing as empty; text
    cells are neutralised against formula injection (:func:`neutralise_csv_text`). UTF-8, ``\\n``
    line endings.

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    frame = table.data.copy()
    for name in frame.columns:
        if name == "stat":
            frame[name] = [_float_text(v) for v in frame[name]]
        elif name == "row":
            frame[name] = [str(int(v)) for v in frame[name]]
        else:
            frame[name] = [neutralise_csv_text("" if pd.isna(v) else str(v)) for v in frame[name]]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
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
#: Twips (1/1440 inch) per inch.
_TWIPS = 1440
#: Page margins in twips: left/right 1 in, top 1.25 in (room for the header), bottom 0.75 in;
#: the header starts 0.5 in from the top edge.
_MARGIN_SIDE, _MARGIN_TOP, _MARGIN_BOTTOM, _HEADER_Y = 1440, 1800, 1080, 720
#: Indentation per level of a row label, in twips.
_INDENT_TWIPS = 240
_PAGE_FIELD = "Page {\\field{\\*\\fldinst PAGE }} of {\\field{\\*\\fldinst NUMPAGES }}"
_ALIGN_CODE = {"left": "ql", "center": "qc", "right": "qr"}
#: A thin single border (0.75 pt) on one side of a cell.
_BORDER = "\\clbrdr{side}\\brdrs\\brdrw15"


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


def _rtf_rows(table: DisplayTable) -> tuple[list[list[str]], list[int], list[bool]]:
    """Body rows as escaped text, with the indentation level and bold flag of each row."""
    body: list[list[str]] = []
    indents: list[int] = []
    bold: list[bool] = []
    for group, rows in _row_groups(table):
        if group:
            body.append([rtf_escape(group)] + [""] * len(table.columns))
            indents.append(0)
            bold.append(True)
        for row in rows:
            cells = [rtf_escape(row.text(c.key)) for c in table.columns]
            body.append([rtf_escape(row.label), *cells])
            indents.append(row.indent + (1 if group else 0))
            bold.append(False)
    if not body:
        body.append([""] * (len(table.columns) + 1))
        indents.append(0)
        bold.append(False)
    return body, indents, bold


def _rel_widths(table: DisplayTable) -> list[float]:
    """Relative column widths from the longest text of each column (stub at most half)."""
    stub = max(
        [len(line) for line in table.stub_header.split("\n")]
        + [len(r.label) + 2 * r.indent for r in table.rows]
        + [len(r.group) for r in table.rows]
        + [12]
    )
    cols = [
        max([len(line) for line in c.header_lines] + [len(r.text(c.key)) for r in table.rows] + [8])
        for c in table.columns
    ]
    total = sum(cols) or 1
    stub = min(stub, total)  # the stub never takes more than half the width
    return [float(stub), *[float(c) for c in cols]]


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
    """The column header row (repeated on every page): stub header, then each column's lines."""
    texts = [table.stub_header.split("\n"), *[c.header_lines for c in table.columns]]
    aligns = ["ql", *[_ALIGN_CODE[c.align] for c in table.columns]]
    cells = "".join(_rtf_cell("\\line ".join(rtf_escape(x) for x in lines), a, font_size)
                    for lines, a in zip(texts, aligns, strict=True))
    return _row_def(edges, "tb", header=True) + cells + "\\row\n"


def _body_rows(table: DisplayTable, edges: list[int], font_size: float,
               rows_per_page: int | None) -> list[str]:
    """Body rows, each with its own bold/indent; a page break and the header every N rows."""
    body, indents, bold = _rtf_rows(table)
    aligns = ["ql", *[_ALIGN_CODE[c.align] for c in table.columns]]
    plain_def, last_def = _row_def(edges, ""), _row_def(edges, "b")
    per_page = rows_per_page if rows_per_page and rows_per_page > 0 else len(body)
    out = [_header_row(table, edges, font_size)]
    for i, (cells, level, is_bold) in enumerate(zip(body, indents, bold, strict=True)):
        if i and i % per_page == 0:
            out.append("{\\pard\\plain\\fs2\\page\\par}\n" + _header_row(table, edges, font_size))
        row_def = last_def if i == len(body) - 1 else plain_def
        first = _rtf_cell(cells[0], "ql", font_size, indent=_INDENT_TWIPS * level, bold=is_bold)
        rest = "".join(_rtf_cell(text, a, font_size) for text, a in zip(cells[1:], aligns[1:],
                                                                           strict=True))
        out.append(row_def + first + rest + "\\row\n")
    return out


def _margins(suffix: str = "") -> str:
    """Margin control words; ``suffix="sxn"`` gives the section-level ones."""
    sizes = {"l": _MARGIN_SIDE, "r": _MARGIN_SIDE, "t": _MARGIN_TOP, "b": _MARGIN_BOTTOM}
    return "".join(f"\\marg{side}{suffix}{twips}" for side, twips in sizes.items())


def _page_setup(paper: str) -> tuple[str, int]:
    """Document and section page setup (landscape), and the width between the margins."""
    if paper not in PAPER_LANDSCAPE:
        raise ValueError(f"paper must be one of {sorted(PAPER_LANDSCAPE)}, got {paper!r}")
    width, height = (round(_TWIPS * x) for x in PAPER_LANDSCAPE[paper])
    doc = f"\\paperw{width}\\paperh{height}{_margins()}\\landscape\n"
    sect = (f"\\sectd\\lndscpsxn\\pgwsxn{width}\\pghsxn{height}{_margins('sxn')}"
            f"\\headery{_HEADER_Y}\\footery{_HEADER_Y}\n")
    return doc + sect, width - 2 * _MARGIN_SIDE


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
    font_size: float = 9,
    rows_per_page: int | None = None,
) -> Path:
    """Write the table as RTF (landscape, Courier New, "Page x of y").

    The page header (every page) holds ``page_header`` and "Page x of y" (RTF ``PAGE`` /
    ``NUMPAGES`` fields) on the right, then the caption and population, centred and bold. The
    column headers form an RTF header row (``\\trhdr``) that Word and LibreOffice repeat on every
    page; they paginate the body themselves. Each body row carries its own formatting (bold group
    headings, label indentation by level), so it is right on every page. Footnotes and the
    source line (analysis ids) follow the table.

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
    font_size : float
        Point size of body, headers and footnotes (titles are one point larger).
    rows_per_page : int, optional
        Force a page break (and repeat the column header row) after every ``rows_per_page`` body
        rows (group headings count as rows). Default: the word processor paginates.

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
    edges = _cell_edges(_rel_widths(table), text_width)
    parts = [
        "{\\rtf1\\ansi\\ansicpg1252\\uc1\\deff0\\deflang1033\n",
        "{\\fonttbl{\\f0\\fmodern\\fcharset0\\fprq1 Courier New;}}\n",
        setup,
        _page_header(table, page_header, font_size),
        *_body_rows(table, edges, font_size, rows_per_page),
        _after_table(table, font_size),
        "}\n",
    ]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(parts).encode("ascii"))
    logger.debug("wrote %s", path)
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
