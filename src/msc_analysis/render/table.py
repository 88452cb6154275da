"""The display-table model: what a table shows, and the ARD rows behind every number.

A :class:`DisplayTable` holds display strings only (already rounded and formatted) plus ``data``,
the tidy unrounded ARD rows behind the displayed numbers, one per number, with the body row and
column each lands in (or, for a listing, ``records``: the records it shows, as data). The
writers (:mod:`msc_analysis.render.writers`) turn it into CSV (``records`` when given, else
``data``), HTML and RTF.

Tables are built with :class:`TableBuilder` and :func:`cell_from_ard`, which reads every number
from exactly one ARD row (through :func:`msc_analysis.ard.lookup`), so that a cell cannot show a
number that is not in the ARD::

    b = TableBuilder("14.3.1.1", "Overview of TEAEs", "Safety Set",
                     [Column("all", header_with_n("MSC bioreactor", 10))])
    b.add_row("Subjects with any TEAE", {
        "all": cell_from_ard(ard, "SAF-AEOV", ["n", "pct"], {"CATEGORY": "ANY"},
                             lambda n, pct: fmt_n_pct(n, None, pct=pct)),
    })
    table = b.build()
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import pandas as pd

from msc_analysis import ard as ard_mod
from msc_analysis.ard import ARD_COLUMNS, ArdError

__all__ = [
    "TRACE_COLUMNS",
    "BodyRow",
    "Cell",
    "Column",
    "DisplayTable",
    "TableBuilder",
    "cell_from_ard",
    "empty_trace",
    "header_with_n",
    "not_estimable_table",
]

#: Footnote of a table showing ``(NE)`` for a spread (see :meth:`TableBuilder.build`).
SPREAD_NE_NOTE = ("(NE): not estimable: a standard deviation or geometric CV needs at least two "
                  "values.")

#: Columns of :attr:`DisplayTable.data`: where the number lands, its text, then the ARD row.
TRACE_COLUMNS: tuple[str, ...] = (
    "table", "row", "row_group", "row_label", "column", "cell_text", *ARD_COLUMNS,
)

_ALIGNMENTS = ("left", "center", "right")


def _empty_trace_frame() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=str) for c in TRACE_COLUMNS})
    frame["row"] = frame["row"].astype("int64")
    frame["stat"] = frame["stat"].astype(float)
    return frame


#: Built once (building it costs ~5 ms); :func:`empty_trace` hands out copies.
_EMPTY_TRACE = _empty_trace_frame()


def empty_trace() -> pd.DataFrame:
    """An empty frame with :data:`TRACE_COLUMNS` (``stat`` float, ``row`` int, others str)."""
    return _EMPTY_TRACE.copy()


def header_with_n(header: str, n: float | int | None) -> str:
    """Column header with the population size on a second line: ``"MSC\\nN = 10"``."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return header
    if float(n) != int(n):
        raise ValueError(f"N must be a whole number, got {n!r}")
    return f"{header}\nN = {int(n)}"


@dataclass(frozen=True)
class Column:
    """One displayed column.

    Parameters
    ----------
    key : str
        Key of the column in every :class:`BodyRow`'s ``cells``.
    header : str
        Header text; ``"\\n"`` separates lines (e.g. ``"Session 1\\nN = 10"``).
    align : {"left", "center", "right"}
        Alignment of the body cells.
    """

    key: str
    header: str
    align: str = "center"

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a column key must not be empty")
        if self.align not in _ALIGNMENTS:
            raise ValueError(f"column {self.key!r}: align must be one of {_ALIGNMENTS}")

    @property
    def header_lines(self) -> tuple[str, ...]:
        """The header split into its lines."""
        return tuple(self.header.split("\n"))


@dataclass(frozen=True)
class BodyRow:
    """One body row: a label (stub), display strings by column key, indentation and group.

    Parameters
    ----------
    label : str
        Row label (e.g. a SOC, or a PT indented under it).
    cells : mapping
        Column key -> display string; a key not given is an empty cell.
    indent : int
        Indentation level of the label (0 for a SOC, 1 for a PT under it, ...).
    group : str
        Optional row group (e.g. the parameter of a lab summary); consecutive rows with the same
        group are shown under one group heading.
    """

    label: str
    cells: Mapping[str, str] = field(default_factory=dict)
    indent: int = 0
    group: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.indent, bool) or not isinstance(self.indent, int) or self.indent < 0:
            raise ValueError(f"row {self.label!r}: indent must be a non-negative integer")
        bad = {k: v for k, v in self.cells.items() if not isinstance(v, str)}
        if bad:
            raise TypeError(f"row {self.label!r}: cells must be display strings, got {bad}")
        object.__setattr__(self, "cells", MappingProxyType(dict(self.cells)))

    def text(self, key: str) -> str:
        """The display string in column ``key`` (``""`` when empty)."""
        return self.cells.get(key, "")


@dataclass(frozen=True, eq=False)
class DisplayTable:
    """A table ready to write: display strings, metadata and the ARD rows behind them.

    Parameters
    ----------
    number : str
        Table number, e.g. ``"14.3.1.1"``.
    title : str
        Title, e.g. ``"Overview of Treatment-Emergent Adverse Events"``.
    population : str
        Analysis set label, e.g. ``"Safety Set"``.
    columns : sequence of Column
        Displayed columns after the row-label column.
    rows : sequence of BodyRow
        Body rows in display order.
    footnotes : sequence of str
        Footnotes, in order.
    analysis_ids : sequence of str
        SAP analysis ids of the ARD rows used.
    data : DataFrame
        Tidy unrounded rows behind the displayed numbers (:data:`TRACE_COLUMNS`), written as the
        table's CSV unless ``records`` is given. A listing shows no statistics: its ``data`` is
        empty (:func:`empty_trace`).
    stub_header : str
        Header of the row-label column (``"\\n"`` separates lines).
    kind : str
        Caption prefix: ``"Table"`` (or ``"Listing"``).
    records : DataFrame, optional
        A listing's records as data: one row per record, one column per variable, values as
        they are (unrounded numbers, dates, missing values). When given it is the table's CSV
        (:func:`msc_analysis.render.writers.write_csv`) instead of ``data``; the display
        (``columns`` / ``rows``) may label, stack and format the variables as it likes.
    """

    number: str
    title: str
    population: str
    columns: tuple[Column, ...]
    rows: tuple[BodyRow, ...]
    footnotes: tuple[str, ...] = ()
    analysis_ids: tuple[str, ...] = ()
    data: pd.DataFrame = field(default_factory=empty_trace)
    stub_header: str = ""
    kind: str = "Table"
    records: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "rows", tuple(self.rows))
        object.__setattr__(self, "footnotes", tuple(self.footnotes))
        object.__setattr__(self, "analysis_ids", tuple(self.analysis_ids))
        if not self.number or not self.title:
            raise ValueError("a table needs a number and a title")
        keys = [c.key for c in self.columns]
        if len(set(keys)) != len(keys):
            raise ValueError(f"table {self.number}: duplicate column keys {keys}")
        for i, row in enumerate(self.rows):
            unknown = sorted(set(row.cells) - set(keys))
            if unknown:
                raise ValueError(
                    f"table {self.number}: row {i} ({row.label!r}) has cells for unknown "
                    f"columns {unknown}"
                )
        if self.records is not None and not isinstance(self.records, pd.DataFrame):
            raise TypeError(f"table {self.number}: records must be a DataFrame or None")
        if tuple(self.data.columns) != TRACE_COLUMNS:
            raise ValueError(
                f"table {self.number}: data columns must be {list(TRACE_COLUMNS)}, "
                f"got {list(self.data.columns)}"
            )

    @property
    def caption(self) -> str:
        """``"Table 14.3.1.1 Title"``."""
        return f"{self.kind} {self.number} {self.title}"

    @property
    def column_keys(self) -> tuple[str, ...]:
        """Keys of the displayed columns, in order."""
        return tuple(c.key for c in self.columns)

    def body_frame(self) -> pd.DataFrame:
        """The body as a frame of display strings: group, indent, label, then one column per key."""
        records = [
            {"group": r.group, "indent": r.indent, "label": r.label,
             **{k: r.text(k) for k in self.column_keys}}
            for r in self.rows
        ]
        return pd.DataFrame(records, columns=["group", "indent", "label", *self.column_keys])

    @classmethod
    def from_frame(
        cls,
        number: str,
        title: str,
        population: str,
        columns: Sequence[Column],
        body: pd.DataFrame,
        *,
        label: str = "label",
        indent: str | None = "indent",
        group: str | None = "group",
        **kwargs: object,
    ) -> DisplayTable:
        """Build a table from a frame of display strings (one row per body row).

        The frame holds the label column ``label``, optionally ``indent`` (int) and ``group``
        columns, and one column per column key. ``kwargs`` go to the constructor (footnotes,
        analysis_ids, data, stub_header, kind, records).
        """
        keys = [c.key for c in columns]
        missing = [k for k in [label, *keys] if k not in body.columns]
        if missing:
            raise ValueError(f"table {number}: body frame lacks columns {missing}")
        rows = []
        for rec in body.to_dict("records"):
            rows.append(BodyRow(
                label=str(rec[label]),
                cells={k: _display(rec[k]) for k in keys},
                indent=int(rec[indent]) if indent and indent in body.columns else 0,
                group=str(rec[group]) if group and group in body.columns else "",
            ))
        return cls(number, title, population, tuple(columns), tuple(rows), **kwargs)  # type: ignore[arg-type]


def _display(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if not isinstance(value, str):
        raise TypeError(f"body cells must be display strings, got {value!r}")
    return value


@dataclass(frozen=True, eq=False)
class Cell:
    """A display string with the ARD rows its numbers come from.

    The rows are kept as positions into ``source`` (the ARD) and read only when needed: by
    :attr:`trace`, or once per table by :meth:`TableBuilder.build`.
    """

    text: str
    source: pd.DataFrame | None = None
    positions: tuple[int, ...] = ()

    @property
    def trace(self) -> pd.DataFrame:
        """The ARD rows (``ARD_COLUMNS``) behind the text, in statistic order."""
        if self.source is None or not self.positions:
            return ard_mod.to_frame([])
        return self.source.iloc[list(self.positions)][list(ARD_COLUMNS)]


def _match_one(
    ard: pd.DataFrame,
    analysis_id: str,
    stat_name: str,
    filters: Mapping[str, object],
    variable: str | None,
    variable_level: object | None,
    exact_groups: bool = False,
) -> list[int]:
    """Positions of the ARD rows matching the filters, with the rule of :func:`ard.lookup`.

    With ``exact_groups`` a row must also have no by-variable beyond those in ``filters``.
    """
    found = ard_mod.index_for(ard).positions(
        analysis_id, stat_name, variable=variable,
        variable_level=None if variable_level is None else str(variable_level),
        levels=filters, exact_groups=exact_groups)
    return [int(i) for i in found]


def cell_from_ard(
    ard: pd.DataFrame,
    analysis_id: str,
    stat_names: str | Sequence[str],
    filters: Mapping[str, object] | None,
    formatter: Callable[..., str],
    *,
    variable: str | None = None,
    variable_level: object | None = None,
    allow_missing: bool = False,
    missing_text: str = "",
    exact_groups: bool = False,
) -> Cell:
    """Read the statistics of one cell from the ARD and format them.

    Each stat name must match exactly one ARD row (:func:`msc_analysis.ard.lookup`'s rule); the
    values are passed to ``formatter`` in the order of ``stat_names``.

    Parameters
    ----------
    ard : DataFrame
        An ARD frame.
    analysis_id : str
        The SAP analysis id.
    stat_names : str or sequence of str
        The statistics the cell shows, e.g. ``("mean", "sd")``.
    filters : mapping or None
        By-variable name -> level (e.g. ``{"PARAMCD": "TBIL", "AVISIT": "Day 7"}``).
    formatter : callable
        ``formatter(*values) -> str``, e.g. ``lambda m, s: fmt_mean_sd(m, s, 2)``.
    variable, variable_level : optional
        Further filters on the ARD's ``variable`` / ``variable_level``.
    allow_missing : bool
        When True and *no* row matches any of the stat names, return ``missing_text`` with no
        trace (e.g. a category with no events that the analysis does not emit). More than one
        matching row is always an error.
    exact_groups : bool
        When True, ``filters`` name *all* the by-variables of the row: a row with a further
        by-variable does not match. Use it for nested summaries, where the SOC row
        (``{"AESOC": s}``) would otherwise also match the PT rows under it
        (``{"AESOC": s, "AEDECOD": p}``). Without it the match is :func:`ard.lookup`'s.

    Raises
    ------
    ArdError
        When a stat name does not match exactly one row.
    """
    names = (stat_names,) if isinstance(stat_names, str) else tuple(stat_names)
    if not names:
        raise ValueError("cell_from_ard needs at least one stat name")
    filt = dict(filters or {})
    matches = [
        _match_one(ard, analysis_id, s, filt, variable, variable_level, exact_groups)
        for s in names
    ]
    if allow_missing and all(len(m) == 0 for m in matches):
        return Cell(missing_text)
    stats = ard["stat"]
    values = []
    for name, match in zip(names, matches, strict=True):
        if len(match) == 1:
            values.append(float(stats.iat[match[0]]))
        elif exact_groups:
            raise ArdError(
                f"expected one ARD row for {analysis_id}/{name} {variable or ''} with exactly "
                f"the by-variables {filt}, found {len(match)}"
            )
        else:  # raises the ARD's own error (the same matching rule)
            ard_mod.lookup(ard, analysis_id, name, variable=variable,
                           variable_level=None if variable_level is None else str(variable_level),
                           **{k: str(v) for k, v in filt.items()})
    text = formatter(*values)
    if not isinstance(text, str):
        raise TypeError(f"formatter for {analysis_id}/{names} returned {type(text).__name__}")
    return Cell(text, ard, tuple(i for match in matches for i in match))


def _trace_rows(traces: Sequence[tuple[pd.DataFrame, tuple[int, ...]]]) -> pd.DataFrame:
    """The ARD rows of every cell in order, read with one ``iloc`` per distinct ARD."""
    sources: dict[int, pd.DataFrame] = {}
    owner: list[int] = []
    positions: list[int] = []
    for source, found in traces:
        sources.setdefault(id(source), source)
        owner.extend([id(source)] * len(found))
        positions.extend(found)
    if len(sources) == 1:
        (source,) = sources.values()
        return source.iloc[positions][list(ARD_COLUMNS)].reset_index(drop=True)
    owners = pd.Series(owner)
    parts = []
    for key, source in sources.items():
        order = owners.index[owners == key]
        part = source.iloc[[positions[i] for i in order]][list(ARD_COLUMNS)]
        parts.append(part.set_axis(order))
    return pd.concat(parts).sort_index().reset_index(drop=True)


class TableBuilder:
    """Collects body rows and their ARD traces, then builds a :class:`DisplayTable`.

    Parameters
    ----------
    number, title, population : str
        As in :class:`DisplayTable`.
    columns : sequence of Column
        Displayed columns.
    footnotes : sequence of str
        Footnotes.
    stub_header : str
        Header of the row-label column.
    analysis_ids : sequence of str
        Analysis ids to list even when no cell reads them (the ids of the cells are added).
    kind : str
        Caption prefix (``"Table"``).
    """

    def __init__(
        self,
        number: str,
        title: str,
        population: str,
        columns: Sequence[Column],
        *,
        footnotes: Iterable[str] = (),
        stub_header: str = "",
        analysis_ids: Iterable[str] = (),
        kind: str = "Table",
    ) -> None:
        self.number = number
        self.title = title
        self.population = population
        self.columns = tuple(columns)
        self.footnotes = list(footnotes)
        self.stub_header = stub_header
        self.kind = kind
        self._analysis_ids = list(analysis_ids)
        self._rows: list[BodyRow] = []
        self._traces: list[tuple[pd.DataFrame, tuple[int, ...]]] = []
        self._places: list[tuple[int, str, str, str, str]] = []
        self._keys = {c.key for c in self.columns}

    def shows(self, text: str) -> bool:
        """Whether a cell added so far contains ``text`` (e.g. ``"NE"``, to add its footnote)."""
        return any(text in cell for row in self._rows for cell in row.cells.values())

    def add_row(
        self,
        label: str,
        cells: Mapping[str, Cell | str] | None = None,
        *,
        indent: int = 0,
        group: str = "",
    ) -> None:
        """Append a body row; ``cells`` maps column key -> :class:`Cell` (or a plain string)."""
        cells = dict(cells or {})
        unknown = sorted(set(cells) - self._keys)
        if unknown:
            raise ValueError(f"table {self.number}: row {label!r} names unknown columns {unknown}")
        row_index = len(self._rows)
        texts: dict[str, str] = {}
        for key, cell in cells.items():
            if isinstance(cell, Cell):
                texts[key] = cell.text
                if cell.source is not None and cell.positions:
                    self._traces.append((cell.source, cell.positions))
                    self._places.extend(
                        [(row_index, group, label, key, cell.text)] * len(cell.positions))
            else:
                texts[key] = cell
        self._rows.append(BodyRow(label, texts, indent=indent, group=group))

    def add_footnote(self, text: str) -> None:
        """Append a footnote."""
        self.footnotes.append(text)

    def build(self) -> DisplayTable:
        """The table, with ``data`` = the traces of every cell in row then column order.

        A table that shows a spread as ``(NE)`` (the SD or geometric CV of a single value,
        :func:`~msc_analysis.render.formatting.fmt_mean_sd`) gets :data:`SPREAD_NE_NOTE`.
        """
        if self.shows("(NE)") and SPREAD_NE_NOTE not in self.footnotes:
            self.footnotes.append(SPREAD_NE_NOTE)
        data = empty_trace()
        if self._traces:
            rows = _trace_rows(self._traces)
            places = pd.DataFrame(self._places,
                                  columns=["row", "row_group", "row_label", "column", "cell_text"])
            data = pd.concat([places, rows], axis=1)
            data.insert(0, "table", self.number)
            data = data[list(TRACE_COLUMNS)]
            data["row"] = data["row"].astype("int64")
            data["stat"] = data["stat"].astype(float)
        ids = list(dict.fromkeys([*self._analysis_ids, *data["analysis_id"].tolist()]))
        return DisplayTable(
            number=self.number,
            title=self.title,
            population=self.population,
            columns=self.columns,
            rows=tuple(self._rows),
            footnotes=tuple(self.footnotes),
            analysis_ids=tuple(ids),
            data=data.reset_index(drop=True),
            stub_header=self.stub_header,
            kind=self.kind,
        )


def not_estimable_table(
    number: str,
    title: str,
    population: str,
    reason: str,
    *,
    footnotes: Iterable[str] = (),
    analysis_ids: Iterable[str] = (),
    kind: str = "Table",
) -> DisplayTable:
    """A table (or listing) of the SAP whose analysis could not run on the data: one row
    ``Not estimable`` saying why (e.g. no subject in the Safety Set at the data cut-off).

    It shows no number, so it has no ARD rows.
    """
    column = Column("reason", "At the data cut-off", align="left")
    row = BodyRow("Not estimable", {"reason": reason[:1].upper() + reason[1:]})
    return DisplayTable(number, title, population, (column,), (row,),
                        footnotes=tuple(footnotes), analysis_ids=tuple(analysis_ids), kind=kind)
