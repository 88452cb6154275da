"""The shape of a CSV file: how many fields each record has, counted from the bytes.

pandas fills a record with too few fields with blanks and, when every data record has one field
more than the header, silently takes the first column as the frame's index. Both hide damage (a
file cut short in its last record, a stray delimiter): :func:`check_fields` counts the fields of
every record itself and refuses a file whose records do not all have the header's count.

The count follows RFC 4180 quoting: a delimiter or line end inside double quotes is text, and a
doubled quote inside quotes keeps the quote count even, so a position is outside quotes exactly
when an even number of quote characters precedes it. Blank lines are records of their own (the
readers keep them, so that row numbers match the file) and are not counted here.
"""

from __future__ import annotations

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
    raw = np.frombuffer(data, dtype=np.uint8)
    newline = 10 if b"\n" in data else 13  # old Mac files end lines with a carriage return
    ends = np.flatnonzero(raw == newline)
    commas = np.flatnonzero(raw == delimiter[0])
    quotes = np.flatnonzero(raw == 34) if b'"' in data else ends[:0]
    if quotes.size:
        ends = ends[np.searchsorted(quotes, ends) % 2 == 0]
        commas = commas[np.searchsorted(quotes, commas) % 2 == 0]
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [raw.size]))
    if stops[-1] == starts[-1]:  # the file ends with a line end: no record after it
        starts, stops = starts[:-1], stops[:-1]
    counts = np.diff(np.searchsorted(commas, np.concatenate((starts, stops[-1:] + 1)))) + 1
    length = stops - starts
    last = np.maximum(stops - 1, 0)
    blank = (length == 0) | ((length == 1) & (raw[last] == 13))
    return counts, blank


def check_fields(path: Path) -> None:
    """Raise :class:`FieldCountError` when a record's field count differs from the header's.

    Parameters
    ----------
    path : Path
        A CSV file (comma-delimited).
    """
    data = path.read_bytes()
    if not data or b"\x00" in data:  # UTF-16 or binary: the CSV reader says what it is
        return
    counts, blank = field_counts(data)
    wrong = np.flatnonzero((counts != counts[0]) & ~blank)
    wrong = wrong[wrong > 0]
    if wrong.size:
        rows = [(int(i), int(counts[i])) for i in wrong[:MAX_LISTED]]
        raise FieldCountError(rows, int(wrong.size), int(counts[0]))
