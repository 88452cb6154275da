"""The shape of a CSV file: how many fields each record has, counted from the bytes, and
whether a value holds a control character.

pandas fills a record with too few fields with blanks and, when every data record has one field
more than the header, silently takes the first column as the frame's index. Both hide damage (a
file cut short in its last record, a stray delimiter): :func:`check_fields` counts the fields of
every record itself and refuses a file whose records do not all have the header's count.

The count follows RFC 4180 quoting: a delimiter or line end inside double quotes is text, and a
doubled quote inside quotes keeps the quote count even, so a position is outside quotes exactly
when an even number of quote characters precedes it. Blank lines are records of their own (the
readers keep them, so that row numbers match the file) and are not counted here.

A control character (a byte below 32 other than tab, line feed and carriage return, or DEL) in
a value is refused too: no clinical text holds one, and a file cut short on a crash is often
filled up with NUL bytes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

#: At most this many rows are named in a message.
MAX_LISTED = 5


class FieldCountError(ValueError):
    """Records of a CSV file whose number of fields differs from the header's.

    Parameters
    ----------
    rows : list of (int, int)
        ``(data row, fields)`` of the first records that differ (data rows count from 1, the
        header excluded).
    total : int
        How many records differ.
    expected : int
        The header's number of fields.
    """

    rule = "field-count"

    def __init__(self, rows: list[tuple[int, int]], total: int, expected: int) -> None:
        shown = "; ".join(f"data row {row} has {n}" for row, n in rows)
        more = f" (and {total - len(rows)} more row(s))" if total > len(rows) else ""
        super().__init__(f"the header has {expected} field(s) but {shown}{more}: a delimiter "
                         "is missing or extra, or the file is cut short")
        self.rows = rows
        self.row = rows[0][0]
        self.total = total
        self.expected = expected


class ControlCharacterError(ValueError):
    """A CSV value holding a control character (NUL, BEL, ESC, ...; tab and line ends are text).

    Such bytes are no text of a clinical dataset: they come from a damaged file (a file cut
    short on a crash is often filled up with NUL bytes) or from terminal escape sequences, and
    no output can show them.
    """

    rule = "control-character"

    def __init__(self, row: int, variable: str, code: int, total: int) -> None:
        name = _CONTROL_NAMES.get(code, "")
        more = f" ({total - 1} more alike in the file)" if total > 1 else ""
        super().__init__(f"a value holds the control character U+{code:04X}{name}, which no "
                         f"text holds: the file is damaged or the text corrupt{more}")
        self.row = row
        self.variable = variable


_CONTROL_NAMES = {0: " (NUL)", 7: " (BEL)", 8: " (BS)", 27: " (ESC)", 127: " (DEL)"}
#: Byte-order marks of UTF-16 and UTF-32: such a file is left to the reader, which names its
#: encoding.
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _records(data: bytes, delimiter: int = 44) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                        np.ndarray]:
    """Record starts and stops (byte offsets) and the offsets of the delimiters outside quotes."""
    raw = np.frombuffer(data, dtype=np.uint8)
    newline = 10 if b"\n" in data else 13  # old Mac files end lines with a carriage return
    ends = np.flatnonzero(raw == newline)
    commas = np.flatnonzero(raw == delimiter)
    quotes = np.flatnonzero(raw == 34) if b'"' in data else ends[:0]
    if quotes.size:
        ends = ends[np.searchsorted(quotes, ends) % 2 == 0]
        commas = commas[np.searchsorted(quotes, commas) % 2 == 0]
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [raw.size]))
    if stops[-1] == starts[-1]:  # the file ends with a line end: no record after it
        starts, stops = starts[:-1], stops[:-1]
    return raw, starts, stops, commas


def field_counts(data: bytes, delimiter: bytes = b",") -> tuple[np.ndarray, np.ndarray]:
    """Number of fields of each record of CSV bytes, and which records are blank lines.

    Parameters
    ----------
    data : bytes
        The file's bytes (UTF-8 or any ASCII-compatible encoding).
    delimiter : bytes
        The one-byte field delimiter.

    Returns
    -------
    counts : numpy.ndarray
        Fields per record, header first.
    blank : numpy.ndarray of bool
        Records that are empty lines (no byte but a carriage return).
    """
    raw, starts, stops, commas = _records(data, delimiter[0])
    counts = np.diff(np.searchsorted(commas, np.concatenate((starts, stops[-1:] + 1)))) + 1
    length = stops - starts
    last = np.maximum(stops - 1, 0)
    blank = (length == 0) | ((length == 1) & (raw[last] == 13))
    return counts, blank


def _check_controls(data: bytes) -> None:
    raw = np.frombuffer(data, dtype=np.uint8)
    low = np.flatnonzero(raw < 32)
    found = np.union1d(low[~np.isin(raw[low], (9, 10, 13))], np.flatnonzero(raw == 127))
    if not found.size:
        return
    _, starts, _, commas = _records(data)
    at = int(found[0])
    record = int(np.searchsorted(starts, at, side="right")) - 1
    field = int(np.searchsorted(commas, at) - np.searchsorted(commas, starts[record]))
    header = next(csv.reader([data[:starts[1] if starts.size > 1 else len(data)]
                              .decode("utf-8-sig", "replace")]), [])
    variable = header[field].strip().upper() if field < len(header) else ""
    raise ControlCharacterError(record, variable, int(raw[at]), int(found.size))


def check_fields(path: Path) -> None:
    """Raise when a record's field count differs from the header's, or a value holds a
    control character.

    Parameters
    ----------
    path : Path
        A CSV file (comma-delimited).

    Raises
    ------
    FieldCountError, ControlCharacterError
        Naming the first data row (and variable) concerned.
    """
    data = path.read_bytes()
    if not data or data.startswith(_WIDE_BOMS):  # UTF-16: the CSV reader names the encoding
        return
    _check_controls(data)  # first: NUL bytes in place of the end also break the field counts
    counts, blank = field_counts(data)
    wrong = np.flatnonzero((counts != counts[0]) & ~blank)
    wrong = wrong[wrong > 0]
    if wrong.size:
        rows = [(int(i), int(counts[i])) for i in wrong[:MAX_LISTED]]
        raise FieldCountError(rows, int(wrong.size), int(counts[0]))
