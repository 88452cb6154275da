"""Reading the machine-checked parts of ``sap/SAP.md``.

The document marks the tables that must agree with ``sap/sap.toml`` with HTML comments, e.g.::

    <!-- sap:tfl-list -->
    | ID | Title | Population | Analysis ids |
    |---|---|---|---|
    | T14.1.1 | Subject Disposition | ENRL | DISP |
    <!-- /sap:tfl-list -->

:func:`marked_table` returns the rows of such a table; :func:`read_tfl_list` the TFL list. The
tests compare them with the settings so the two faces of the plan cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from msc_analysis.errors import SettingsError

_CELL_SPLIT = re.compile(r"(?<!\\)\|")


@dataclass(frozen=True)
class DocumentTfl:
    """One row of the TFL list of SAP.md.

    Parameters
    ----------
    id : str
        Prefixed number (``T14.2.1``, ``F14.2.1``, ``L16.2.7.1``).
    title : str
        Title.
    population : str
        Analysis-set code.
    analysis_ids : tuple of str
        Analysis ids behind the output (empty for listings).
    """

    id: str
    title: str
    population: str
    analysis_ids: tuple[str, ...]


def _cells(line: str) -> list[str]:
    inner = line.strip()
    if inner.startswith("|"):
        inner = inner[1:]
    if inner.endswith("|"):
        inner = inner[:-1]
    return [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(inner)]


def marked_table(text: str, marker: str, source: str = "SAP.md") -> list[dict[str, str]]:
    """Rows of the Markdown table between ``<!-- sap:marker -->`` and ``<!-- /sap:marker -->``.

    Parameters
    ----------
    text : str
        The document.
    marker : str
        The marker name, e.g. ``tfl-list``.
    source : str
        Name of the document for messages.

    Returns
    -------
    list of dict
        One dict per body row, keyed by the header cells.
    """
    pattern = re.compile(rf"<!--\s*sap:{re.escape(marker)}\s*-->(.*?)<!--\s*/sap:"
                         rf"{re.escape(marker)}\s*-->", re.DOTALL)
    found = pattern.findall(text)
    if len(found) != 1:
        raise SettingsError(f"{source}: expected one table marked sap:{marker}, found {len(found)}")
    lines = [ln for ln in found[0].splitlines() if ln.strip().startswith("|")]
    if len(lines) < 2:
        raise SettingsError(f"{source}: the table marked sap:{marker} has no rows")
    header = _cells(lines[0])
    rows = []
    for number, line in enumerate(lines[2:], start=1):
        cells = _cells(line)
        if len(cells) != len(header):
            raise SettingsError(f"{source}: table sap:{marker} row {number} has {len(cells)} "
                                f"cells, the header has {len(header)}")
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def read_tfl_list(path: str | Path) -> tuple[DocumentTfl, ...]:
    """The TFL list of SAP.md (the table marked ``sap:tfl-list``).

    Columns: ``ID``, ``Title``, ``Population``, ``Analysis ids`` (comma-separated, ``-`` when none).
    """
    file = Path(path)
    rows = marked_table(file.read_text(encoding="utf-8"), "tfl-list", str(file))
    out = []
    for row in rows:
        ids = row["Analysis ids"]
        analysis_ids = () if ids in ("", "-", "—") else tuple(
            i.strip().strip("`") for i in ids.split(",") if i.strip())
        out.append(DocumentTfl(id=row["ID"].strip("`"), title=row["Title"],
                               population=row["Population"], analysis_ids=analysis_ids))
    return tuple(out)
