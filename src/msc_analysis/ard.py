"""The analysis results dataset (ARD): one row per statistic.

The layout follows the pharmaverse ``cards`` package and CDISC's Analysis Results Standard. Every
analysis of the package returns rows in this layout, every number in a table is read from one of
these rows, and ``ard.csv`` is written with the outputs.

Columns
-------
analysis_id
    The SAP's analysis id (``sap/sap.toml``), e.g. ``PP-SESS``.
group1, group1_level, group2, group2_level, group3, group3_level
    The by-variables in order (e.g. ``PARAMCD`` / ``TBIL``), empty when unused.
variable, variable_level
    The variable summarised and, for categorical summaries, its level.
stat_name
    One name from :data:`STAT_NAMES`.
stat
    The unrounded value (float); display rounding happens only in rendering.
method
    The method that produced the statistic (e.g. ``Wilcoxon signed-rank, exact``); empty for
    plain descriptive statistics.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msc_analysis.csv_cells import neutralise_frame, read_csv, write_frame

ARD_COLUMNS: tuple[str, ...] = (
    "analysis_id",
    "group1", "group1_level",
    "group2", "group2_level",
    "group3", "group3_level",
    "variable", "variable_level",
    "stat_name", "stat", "method",
)

#: The stat-name vocabulary: name -> meaning. A row with any other name is rejected.
STAT_NAMES: dict[str, str] = {
    "N": "population size (denominator)",
    "n": "number of subjects (or non-missing values)",
    "n_missing": "number of missing values",
    "n_excluded": "number of records or subjects excluded from the analysis",
    "n_events": "number of events",
    "n_sessions": "number of sessions (exposure for event rates)",
    "pct": "percentage of subjects, 100 * n / N",
    "mean": "arithmetic mean",
    "sd": "standard deviation (n - 1 denominator)",
    "se": "standard error",
    "median": "median",
    "q1": "first quartile (SAS QNTLDEF=5 / R type 2)",
    "q3": "third quartile (SAS QNTLDEF=5 / R type 2)",
    "min": "minimum",
    "max": "maximum",
    "geo_mean": "geometric mean",
    "geo_cv": "geometric coefficient of variation, percent: 100 * sqrt(exp(s^2) - 1)",
    "estimate": "point estimate of the method named in `method`",
    "conf_low": "lower confidence (or credible) limit",
    "conf_high": "upper confidence (or credible) limit",
    "conf_level": "confidence level of conf_low / conf_high",
    "statistic": "test statistic",
    "df": "degrees of freedom",
    "p_value": "p-value",
    "p_value_adj": "multiplicity-adjusted p-value",
    "rate": "events per 100 sessions (or per stated exposure unit)",
    "post_mean": "posterior mean",
    "post_prob": "posterior probability that the rate exceeds the threshold",
    "threshold": "decision threshold",
    "decision": "decision code: 1 stop, 0 continue",
    "boundary": "smallest number of events that triggers stopping",
    "window_closed": "1 when the subject's monitoring window had closed at the data cut-off, "
                     "0 when it was still open (the row is provisional)",
    "stopped_at": "number of evaluated subjects n at which the stopping boundary was first "
                  "crossed, on that row and every later row (stopping is absorbing); missing "
                  "before the first crossing",
    "n_events_subject": "number of qualifying events of the one subject of the row (SAF-MON: "
                        "the subject's DLT-like adverse events)",
    "prob_stop": "probability of stopping early (simulation)",
    "expected_n": "expected number of subjects treated (simulation)",
    "mcse": "Monte Carlo standard error of the preceding simulated quantity",
    "loglik": "log-likelihood",
    "value": "a plain value (count of grade shifts, a covariance element, ...)",
}


class ArdError(ValueError):
    """Raised for an ARD row that breaks the layout or the stat-name vocabulary."""


@dataclass
class ArdBuilder:
    """Collects ARD rows for one analysis id.

    Parameters
    ----------
    analysis_id : str
        The SAP's analysis id that every row gets.
    groups : mapping, optional
        By-variables shared by every row added (name -> level), in order, at most three.

    Examples
    --------
    >>> b = ArdBuilder("PP-SESS-TBIL", {"PARAMCD": "TBIL"})
    >>> b.add("AVAL", "mean", 3.5)
    >>> b.frame().loc[0, "stat"]
    3.5
    """

    analysis_id: str
    groups: Mapping[str, object] = field(default_factory=dict)
    _rows: list[dict[str, object]] = field(default_factory=list, init=False, repr=False)

    def add(
        self,
        variable: str,
        stat_name: str,
        stat: float | int | None,
        *,
        variable_level: object = "",
        method: str = "",
        groups: Mapping[str, object] | None = None,
    ) -> None:
        """Add one statistic; ``groups`` here extend the builder's own by-variables."""
        self._rows.append(
            make_row(self.analysis_id, {**self.groups, **(groups or {})}, variable, stat_name,
                     stat, variable_level=variable_level, method=method)
        )

    def add_many(
        self,
        variable: str,
        stats: Mapping[str, float | int | None],
        *,
        variable_level: object = "",
        method: str = "",
        groups: Mapping[str, object] | None = None,
    ) -> None:
        """Add several statistics of one variable (stat_name -> value)."""
        for name, value in stats.items():
            self.add(variable, name, value, variable_level=variable_level, method=method,
                     groups=groups)

    def frame(self) -> pd.DataFrame:
        """The rows collected so far as an ARD frame."""
        return to_frame(self._rows)


def make_row(
    analysis_id: str,
    groups: Mapping[str, object],
    variable: str,
    stat_name: str,
    stat: float | int | None,
    *,
    variable_level: object = "",
    method: str = "",
) -> dict[str, object]:
    """Build one ARD row as a dict, checking the stat name and the number of groups."""
    if stat_name not in STAT_NAMES:
        raise ArdError(f"stat_name {stat_name!r} is not in the ARD vocabulary (ard.STAT_NAMES)")
    if len(groups) > 3:
        raise ArdError(f"at most three by-variables are allowed, got {list(groups)}")
    row: dict[str, object] = {c: "" for c in ARD_COLUMNS}
    for i, (name, level) in enumerate(groups.items(), start=1):
        row[f"group{i}"] = name
        row[f"group{i}_level"] = "" if level is None else str(level)
    row.update(
        analysis_id=analysis_id,
        variable=variable,
        variable_level="" if variable_level is None else str(variable_level),
        stat_name=stat_name,
        stat=np.nan if stat is None else float(stat),
        method=method,
    )
    return row


def to_frame(rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """Turn rows into an ARD frame with exactly :data:`ARD_COLUMNS`, in order."""
    frame = pd.DataFrame(list(rows), columns=list(ARD_COLUMNS))
    text = [c for c in ARD_COLUMNS if c != "stat"]
    frame[text] = frame[text].fillna("").astype(str)
    frame["stat"] = pd.to_numeric(frame["stat"], errors="raise").astype(float)
    return frame


def bind(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Stack ARD frames, checking every one has the ARD layout and vocabulary."""
    parts = [validate(f) for f in frames]
    if not parts:
        return to_frame([])
    return pd.concat(parts, ignore_index=True)


def validate(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a frame has the ARD columns and only known stat names; return it unchanged."""
    if tuple(frame.columns) != ARD_COLUMNS:
        raise ArdError(f"ARD columns must be {list(ARD_COLUMNS)}, got {list(frame.columns)}")
    unknown = sorted(set(frame["stat_name"]) - set(STAT_NAMES))
    if unknown:
        raise ArdError(f"stat names not in the ARD vocabulary: {unknown}")
    return frame


class ArdIndex:
    """A hashed index of an ARD frame for fast, exact row matching.

    Rows are grouped by (analysis_id, stat_name); within a group, a row matches when its
    ``variable`` / ``variable_level`` equal the ones asked for (when given) and every
    by-variable filter (name, level) is among the row's by-variables, wherever it sits
    (group1..3). With ``exact_groups`` the row must have no other by-variable.
    """

    def __init__(self, ard: pd.DataFrame) -> None:
        self._frame_ref = weakref.ref(ard)
        self._length = len(ard)
        self._rows: dict[tuple[str, str], list[tuple[int, str, str, frozenset]]] = {}
        self._by_analysis: dict[str, list[int]] = {}
        self._group_names: list[frozenset[str]] = []  # by position; equal sets shared
        shared: dict[frozenset[str], frozenset[str]] = {}
        self._tables: dict[tuple[object, ...], dict[tuple[object, ...], list[int]]] = {}
        cols = ["analysis_id", "stat_name", "variable", "variable_level",
                "group1", "group1_level", "group2", "group2_level", "group3", "group3_level"]
        for pos, rec in enumerate(zip(*(ard[c].tolist() for c in cols), strict=True)):
            groups = frozenset((rec[i], rec[i + 1]) for i in (4, 6, 8) if rec[i])
            self._rows.setdefault((rec[0], rec[1]), []).append((pos, rec[2], rec[3], groups))
            self._by_analysis.setdefault(rec[0], []).append(pos)
            names = frozenset(g for g, _ in groups)
            self._group_names.append(shared.setdefault(names, names))
        self._stat = ard["stat"].to_numpy(dtype=float, copy=True)
        self._stat_names: dict[str, list[str]] = {}
        for analysis_id, stat_name in self._rows:
            self._stat_names.setdefault(analysis_id, []).append(stat_name)

    def matches(self, frame: pd.DataFrame) -> bool:
        """Whether this index was built for ``frame`` (same object, same length)."""
        return self._frame_ref() is frame and len(frame) == self._length

    def positions(
        self,
        analysis_id: str,
        stat_name: str,
        *,
        variable: str | None = None,
        variable_level: str | None = None,
        levels: Mapping[str, object] | None = None,
        exact_groups: bool = False,
    ) -> list[int]:
        """Row positions (``iloc``) matching the filters, in frame order.

        Answered from a hash table per (analysis id, stat name, names of the by-variables
        asked for, whether variable / variable_level are asked for), built on first use, so
        that a table of thousands of cells does not scan the rows for each of them.
        """
        wanted = frozenset((str(k), str(v)) for k, v in (levels or {}).items())
        names = tuple(sorted({g for g, _ in wanted}))
        if len(names) != len(wanted):  # one by-variable asked for at two levels
            return self._scan(analysis_id, stat_name, variable, variable_level, wanted,
                              exact_groups)
        level = None if variable_level is None else str(variable_level)
        table = self._table(analysis_id, stat_name, names, variable is not None,
                            level is not None)
        asked = dict(wanted)
        found = table.get((variable, level, tuple(asked[n] for n in names)), [])
        if exact_groups:
            return [pos for pos in found if self._group_names[pos] == frozenset(names)]
        return list(found)

    def _table(self, analysis_id: str, stat_name: str, names: tuple[str, ...], by_variable: bool,
               by_level: bool) -> dict[tuple[object, ...], list[int]]:
        """Positions of the rows of one (analysis id, stat name) keyed by (variable or None,
        variable_level or None, levels of ``names``); a row lacking one of ``names`` is left
        out, a row with a by-variable twice is entered under each of its levels."""
        key = (analysis_id, stat_name, names, by_variable, by_level)
        table = self._tables.get(key)
        if table is None:
            table = {}
            for pos, var, var_level, groups in self._rows.get((analysis_id, stat_name), ()):
                per_name = [[lv for g, lv in groups if g == n] for n in names]
                if not all(per_name):
                    continue
                for combo in itertools.product(*per_name):
                    table.setdefault((var if by_variable else None,
                                      var_level if by_level else None, combo), []).append(pos)
            self._tables[key] = table
        return table

    def _scan(self, analysis_id: str, stat_name: str, variable: str | None,
              variable_level: str | None, wanted: frozenset, exact_groups: bool) -> list[int]:
        """The matching rule row by row (the reference the hash tables follow)."""
        found = []
        for pos, var, var_level, groups in self._rows.get((analysis_id, stat_name), ()):
            if variable is not None and var != variable:
                continue
            if variable_level is not None and var_level != str(variable_level):
                continue
            if not wanted <= groups:
                continue
            if exact_groups and {g for g, _ in groups} != {g for g, _ in wanted}:
                continue
            found.append(pos)
        return found

    def has(
        self,
        analysis_id: str,
        stat_name: str | None = None,
        *,
        variable: str | None = None,
        variable_level: str | None = None,
        levels: Mapping[str, object] | None = None,
        exact_groups: bool = False,
    ) -> bool:
        """Whether any row matches the filters (of ``stat_name``, or of any stat name)."""
        names = self._stat_names.get(analysis_id, []) if stat_name is None else [stat_name]
        return any(
            self.positions(analysis_id, name, variable=variable, variable_level=variable_level,
                           levels=levels, exact_groups=exact_groups)
            for name in names
        )

    def analysis_positions(self, analysis_id: str) -> list[int]:
        """Positions (``iloc``) of every row of one analysis id, in frame order."""
        return list(self._by_analysis.get(analysis_id, ()))

    def values(self, positions: Iterable[int]) -> list[float]:
        """The ``stat`` of the rows at ``positions`` (as indexed), in order."""
        return [float(self._stat[pos]) for pos in positions]

    def one_per_stat(
        self,
        analysis_id: str,
        stat_names: Iterable[str],
        *,
        variable: str | None = None,
        variable_level: str | None = None,
        levels: Mapping[str, object] | None = None,
        exact_groups: bool = False,
    ) -> list[int] | None:
        """The position of the one matching row of each stat name, in order; None otherwise.

        None when any stat name matches no row or several rows (callers then report the
        error, or the missing cell, through :func:`lookup`'s rule).
        """
        found = []
        for name in stat_names:
            hits = self.positions(analysis_id, name, variable=variable,
                                  variable_level=variable_level, levels=levels,
                                  exact_groups=exact_groups)
            if len(hits) != 1:
                return None
            found.append(hits[0])
        return found


_INDEXES: dict[int, ArdIndex] = {}


def index_for(ard: pd.DataFrame) -> ArdIndex:
    """The (cached) :class:`ArdIndex` of ``ard``; rebuilt when the frame object changes.

    ARD frames are treated as immutable once built: a frame modified in place after indexing
    keeps its length-checked index only if its length changed.
    """
    found = _INDEXES.get(id(ard))
    if found is None or not found.matches(ard):
        if len(_INDEXES) > 64:
            _INDEXES.clear()
        found = _INDEXES[id(ard)] = ArdIndex(ard)
    return found


def lookup(
    ard: pd.DataFrame,
    analysis_id: str,
    stat_name: str,
    *,
    variable: str | None = None,
    variable_level: str | None = None,
    **levels: str,
) -> float:
    """Return the single ``stat`` matching the filters; error unless exactly one row matches.

    ``levels`` filter by by-variable name -> level, wherever the variable sits (group1..3).
    Renderers use this so that every displayed number traces to exactly one ARD row.
    """
    found = index_for(ard).positions(analysis_id, stat_name, variable=variable,
                                     variable_level=variable_level, levels=levels)
    if len(found) != 1:
        raise ArdError(
            f"expected one ARD row for {analysis_id}/{stat_name} {variable or ''} {levels}, "
            f"found {len(found)}"
        )
    return float(ard["stat"].iloc[found[0]])


def write(ard: pd.DataFrame, path: str | object) -> None:
    """Write the ARD as CSV with full precision (``%.17g`` of each float), byte-reproducibly.

    Text cells are neutralised against formula injection (:mod:`msc_analysis.csv_cells`); the
    ``stat`` column stays numeric. :func:`read` reads the file back.
    """
    from pathlib import Path

    validate(ard)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_frame(neutralise_frame(ard), Path(path), float_format="%.17g")


def read(path: str | object) -> pd.DataFrame:
    """Read an ``ard.csv`` written by :func:`write` into the ARD layout: the text columns as
    text (their neutralised cells restored, blanks as ``""``), ``stat`` as float (blank is NaN).

    Raises
    ------
    ArdError
        If the file's columns are not :data:`ARD_COLUMNS` or a stat name is unknown.
    """
    from pathlib import Path

    text = {c: str for c in ARD_COLUMNS if c != "stat"}
    frame = read_csv(Path(str(path)), dtype={**text, "stat": float},
                     na_values={"stat": [""]})
    return validate(frame)
