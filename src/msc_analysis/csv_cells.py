"""Text cells of the package's CSV files, safe to open in a spreadsheet: the one rule.

A spreadsheet runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula, and a tab
or carriage return before one of them is skipped (OWASP, "CSV Injection"), so an adverse-event
term such as ``=HYPERLINK("http://x","click")`` would become a live link. Every CSV the package
writes (the tables' data, ``ard.csv``, ``data_issues.csv``, ``datasets/*.csv``, a simulated
study) therefore writes text cells through :func:`neutralise`:

- a text beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
  apostrophe (``'``), which makes the spreadsheet show it as text, apostrophe included;
- a text beginning with an apostrophe gets one more, so that the rule can be undone without
  ambiguity;
- a text that is a plain decimal number (``-0.5``, ``+3``, ``-2e-3``) is left alone: a
  spreadsheet reads it as that number, which runs nothing;
- numbers (numeric columns) are written as numbers and never changed.

So every text cell of those files that begins with an apostrophe had one added: a reader undoes
the rule by removing the first character of such a cell (:func:`restore`). The package's own
readers do (:func:`read_csv`, :func:`msc_analysis.ard.read`, the study reader of
:mod:`msc_analysis.io.readers`), and README.md shows the same step in R and SAS.

:func:`write_frame` writes a frame as CSV with ``\\n`` line endings and quotes every field that
holds a line break, carriage returns included (Python's CSV writer quotes a carriage return only
when it is part of the line ending, so a term with one would otherwise start a new row there).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["FORMULA_START", "neutralise", "neutralise_column", "neutralise_frame", "read_csv",
           "restore", "restore_column", "write_frame"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_START: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"
#: First characters of a text that :func:`neutralise` may prefix.
_PREFIXED_START = (*FORMULA_START, _QUOTE)
_PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def neutralise(value: object) -> object:
    """The CSV text of a cell: an apostrophe before a text that a spreadsheet would run as a
    formula, or that begins with an apostrophe; anything else unchanged.

    Examples
    --------
    >>> neutralise("=1+2"), neutralise("'a"), neutralise("-1.5"), neutralise(-1.5)
    ("'=1+2", "''a", '-1.5', -1.5)
    """
    if not isinstance(value, str) or not value.startswith(_PREFIXED_START):
        return value
    if value[0] != _QUOTE and _PLAIN_NUMBER.fullmatch(value):
        return value
    return _QUOTE + value


def restore(value: object) -> object:
    """Undo :func:`neutralise`: a text beginning with an apostrophe loses it.

    Examples
    --------
    >>> restore("'=1+2"), restore("''a"), restore("-1.5")
    ('=1+2', "'a", '-1.5')
    """
    if isinstance(value, str) and value.startswith(_QUOTE):
        return value[1:]
    return value


def _flags(values: pd.Series, needles: tuple[str, ...], test: Callable[[str], bool]
           ) -> pd.Series:
    """``test`` of each value of a column of Python objects (False for values other than
    text). First the texts are joined, each after a NUL character, and searched for
    ``needles`` (substring searches in C), which must occur wherever ``test`` may be true:
    most columns have no such text."""
    array = values.to_numpy(dtype=object)
    try:
        joined = "\0" + "\0".join(array)
    except TypeError:  # values other than text: try the distinct ones
        found = any(isinstance(v, str) and test(v) for v in pd.unique(array))
    else:
        found = any(needle in joined for needle in needles)
    if not found:
        return pd.Series(False, index=values.index)
    return values.map(lambda v: isinstance(v, str) and test(v)).astype(bool)


def _starting_with(values: pd.Series, prefixes: tuple[str, ...]) -> pd.Series:
    """Whether each value is a text beginning with one of ``prefixes``."""
    if isinstance(values.dtype, pd.StringDtype):
        return values.str.startswith(prefixes).fillna(False).astype(bool)
    return _flags(values, tuple("\0" + p for p in prefixes), lambda v: v.startswith(prefixes))


def _containing_cr(values: pd.Series) -> pd.Series:
    """Whether each value is a text holding a carriage return."""
    if isinstance(values.dtype, pd.StringDtype):
        return values.str.contains("\r", regex=False).fillna(False).astype(bool)
    return _flags(values, ("\r",), lambda v: "\r" in v)


def _is_text(values: pd.Series | pd.Index) -> bool:
    return isinstance(values.dtype, pd.StringDtype) or values.dtype == object


def _apply(values: pd.Series, starts: tuple[str, ...], rule: Callable[[object], object]
           ) -> pd.Series:
    """``rule`` of each text of a column that begins with one of ``starts`` (of the categories
    of a categorical column); the column itself when there is none, and for a column of
    numbers, dates or booleans."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = pd.Series(values.cat.categories)
        renamed = _apply(categories, starts, rule)
        return values if renamed is categories else values.cat.rename_categories(list(renamed))
    if not _is_text(values):
        return values
    flagged = _starting_with(values, starts)
    if not flagged.any():
        return values
    out = values.copy()
    out[flagged] = values[flagged].map(rule)
    return out


def neutralise_column(values: pd.Series) -> pd.Series:
    """:func:`neutralise` of every value of a column. A column of numbers, dates or booleans,
    and a column with no text that begins with one of the rule's characters (one vectorised
    test), is returned as it is; a categorical column has its categories neutralised."""
    return _apply(values, _PREFIXED_START, neutralise)


def restore_column(values: pd.Series) -> pd.Series:
    """:func:`restore` of every value of a column (the inverse of :func:`neutralise_column`);
    the column itself when no text begins with an apostrophe."""
    return _apply(values, (_QUOTE,), restore)


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with its column names and every text column neutralised
    (:func:`neutralise_column`); numeric, date and boolean columns are unchanged."""
    out = pd.DataFrame({i: neutralise_column(frame.iloc[:, i]) for i in range(frame.shape[1])},
                       index=frame.index)
    out.columns = [neutralise(str(c)) for c in frame.columns]
    return out


def _has_carriage_return(frame: pd.DataFrame) -> bool:
    """Whether a column name or a text value holds a carriage return."""
    if any("\r" in str(c) for c in frame.columns):
        return True
    for i in range(frame.shape[1]):
        values = frame.iloc[:, i]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = pd.Series(values.cat.categories)
        if _is_text(values) and _containing_cr(values).any():
            return True
    return False


def write_frame(frame: pd.DataFrame, path: str | Path | None = None, *,
                float_format: str | None = None) -> str | None:
    """Write ``frame`` as CSV (no index, ``\\n`` line endings, UTF-8), as
    ``frame.to_csv(path, index=False, lineterminator="\\n")``, but with every field that holds
    a carriage return quoted. Values are written as given: neutralise them first
    (:func:`neutralise_frame`).

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows.
    path : str or Path, optional
        The file to write; None returns the text.
    float_format : str, optional
        As for :meth:`pandas.DataFrame.to_csv`.

    Returns
    -------
    str or None
        The CSV text when ``path`` is None.
    """
    options: dict[str, Any] = {"index": False, "float_format": float_format}
    if not _has_carriage_return(frame):
        return frame.to_csv(path, lineterminator="\n", encoding="utf-8", **options)
    # The writer quotes the characters of its line ending: end lines with "\r\n", so that a
    # field holding "\r" is quoted, then end them with "\n". Outside quotes, the only "\r\n"
    # are line endings (a quoted field's quotes come in pairs: split on them, the parts
    # outside quotes are the even ones).
    parts = frame.to_csv(None, lineterminator="\r\n", **options).split('"')
    parts[::2] = [part.replace("\r\n", "\n") for part in parts[::2]]
    text = '"'.join(parts)
    if path is None:
        return text
    Path(path).write_bytes(text.encode("utf-8"))
    return None


def read_csv(path: str | Path, **options: Any) -> pd.DataFrame:
    """Read a CSV file the package wrote, its text cells restored (:func:`restore_column`).

    ``options`` go to :func:`pandas.read_csv`; by default an empty field is missing and no other
    text is (``keep_default_na=False, na_values=[""]``: an adverse event called ``NA`` stays
    text). Pass ``dtype=str`` to read every value as text.
    """
    options = {"keep_default_na": False, "na_values": [""], **options}
    frame = pd.read_csv(path, **options)
    frame.columns = [restore(c) for c in frame.columns]
    for i in range(frame.shape[1]):
        frame.isetitem(i, restore_column(frame.iloc[:, i]))
    return frame
