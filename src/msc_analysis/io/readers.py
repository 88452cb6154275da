"""Finding and reading the dataset files of a study folder.

A study folder holds one file per ADaM dataset, in CSV (``.csv``), SAS transport (``.xpt`` or
gzip-compressed ``.xpt.gz``, XPORT version 5 or 8) or Parquet (``.parquet``). File names are
matched case-insensitively (``ADSL.csv``, ``adsl.xpt``). A laboratory dataset may be split over
several files whose names start with ``adlb`` (the CDISC Pilot has ``adlbc`` for chemistry and
``adlbh`` for haematology); the loader stacks them into one ADLB.

The readers only normalise the *physical* representation, never the content:

- column names are upper-cased and stripped;
- text is ``str`` with surrounding blanks stripped and missing text as ``""``;
- in CSV files, a text beginning with an apostrophe loses it, and the loader notes how many
  did: the package writes every CSV so (:mod:`msc_analysis.csv_cells`), with an apostrophe
  before a text that a spreadsheet would run as a formula or that begins with an apostrophe;
- numbers are ``float64``; SAS transport IBM-float zeros that pandas decodes as 5.4e-79
  (pandas issue 50670) are set to exactly 0;
- SAS numeric variables carrying a date or datetime format become ``datetime64[ns]``;
- in SAS transport files a character value of ``"."`` (SAS's missing-value dot, which some
  producers write into character variables) becomes ``""``;
- blank lines at the end of a CSV file are dropped, with a note (a blank line between records
  is kept as a record, which the validator reports);
- two provenance columns are added: :data:`FILE_COLUMN` (the file name) and :data:`ROW_COLUMN`
  (the 1-based data row as a person counts rows in the file, header line excluded).

A damaged file is refused, never read in part: a CSV record with more or fewer fields than the
header (:mod:`msc_analysis.io.csv_shape`), a SAS transport file whose bytes do not match its
headers (:mod:`msc_analysis.io.xport`), a gzip stream cut short, an empty file, a folder or a
broken link in the place of a file.

Types are *declared* by :mod:`msc_analysis.io.schema` and enforced by
:mod:`msc_analysis.io.validate`; CSV values therefore stay text here.
"""

from __future__ import annotations

import gzip
import io
import logging
import re
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from msc_analysis.csv_cells import restore, restore_column
from msc_analysis.io.csv_shape import check_fields
from msc_analysis.io.xport import XportLayoutError, check_record_count, xport_layout

log = logging.getLogger(__name__)

FileKind = Literal["csv", "xpt", "parquet"]

#: Name of the column holding the file each record was read from.
FILE_COLUMN = "_file"
#: Name of the column holding the 1-based data row of each record in its file (header excluded).
ROW_COLUMN = "_row"
#: The provenance columns added by the readers.
PROVENANCE_COLUMNS: tuple[str, ...] = (FILE_COLUMN, ROW_COLUMN)

#: Recognised file-name endings (checked longest first) and their kind.
SUFFIXES: tuple[tuple[str, FileKind], ...] = (
    (".xpt.gz", "xpt"),
    (".parquet", "parquet"),
    (".csv", "csv"),
    (".xpt", "xpt"),
)

#: Dataset names, lower case, as they appear in file names.
DATASETS: tuple[str, ...] = ("adsl", "adex", "adlb", "adae", "advs")

_SPLIT_ADLB = re.compile(r"^adlb[a-z0-9]+$")

#: SAS format names whose values are days since 1960-01-01.
SAS_DATE_FORMATS: frozenset[str] = frozenset({
    "DATE", "DAY", "DDMMYY", "DDMMYYB", "DDMMYYC", "DDMMYYD", "DDMMYYN", "DDMMYYP", "DDMMYYS",
    "DOWNAME", "E8601DA", "B8601DA", "IS8601DA", "JULDAY", "JULIAN", "MMDDYY", "MMDDYYB",
    "MMDDYYC", "MMDDYYD", "MMDDYYN", "MMDDYYP", "MMDDYYS", "MMYY", "MMYYC", "MMYYD", "MMYYN",
    "MMYYP", "MMYYS", "MONNAME", "MONTH", "MONYY", "NENGO", "QTR", "QTRR", "WEEKDATE",
    "WEEKDATX", "WEEKDAY", "WORDDATE", "WORDDATX", "YEAR", "YYMM", "YYMMC", "YYMMD", "YYMMDD",
    "YYMMDDB", "YYMMDDC", "YYMMDDD", "YYMMDDN", "YYMMDDP", "YYMMDDS", "YYMMN", "YYMMP", "YYMMS",
    "YYMON", "YYQ", "YYQC", "YYQD", "YYQN", "YYQP", "YYQS", "YYQR", "MINGUO", "EURDFDE",
    "NLDATE",
})
#: SAS format names whose values are seconds since 1960-01-01T00:00.
SAS_DATETIME_FORMATS: frozenset[str] = frozenset({
    "DATETIME", "DATEAMPM", "DTDATE", "DTMONYY", "DTWKDATX", "DTYEAR", "DTYYQC", "E8601DT",
    "E8601DZ", "B8601DT", "B8601DN", "B8601DZ", "IS8601DT", "IS8601DZ", "MDYAMPM", "NLDATM",
})

_SAS_EPOCH = np.datetime64("1960-01-01T00:00:00", "ns")
#: SAS dates further than this from 1960 (250 years, in nanoseconds) are no dates.
_SAS_LIMIT_NS = 250 * 365.25 * 86_400 * 1e9
#: pandas decodes some IBM-float zeros as 5.397605e-79; no real value is this small.
_IBM_ZERO_LIMIT = 1e-70


@dataclass(frozen=True)
class SourceFile:
    """One dataset file found in a study folder.

    Parameters
    ----------
    dataset : str
        The dataset the file belongs to, upper case (``ADLB`` for ``adlbc.xpt``).
    part : str
        The file's dataset name as written, lower case (``adlbc``).
    path : Path
        The file.
    kind : {"csv", "xpt", "parquet"}
        The file format.
    """

    dataset: str
    part: str
    path: Path
    kind: FileKind

    @property
    def name(self) -> str:
        """The file name shown in messages."""
        return self.path.name


@dataclass(frozen=True)
class Table:
    """The contents of one file after physical normalisation.

    Parameters
    ----------
    source : SourceFile
        Where it came from.
    frame : pandas.DataFrame
        The records, with the provenance columns :data:`FILE_COLUMN` and :data:`ROW_COLUMN`.
    notes : tuple of str
        What the reader changed beyond the documented normalisation (for the data issues).
    """

    source: SourceFile
    frame: pd.DataFrame
    notes: tuple[tuple[str, str], ...] = field(default=())


def classify(path: Path) -> tuple[str, FileKind] | None:
    """Return ``(lower-case dataset part, kind)`` for a dataset file name, or None.

    Parameters
    ----------
    path : Path
        A file in a study folder.

    Returns
    -------
    tuple of (str, str) or None
        For example ``("adlbc", "xpt")`` for ``ADLBC.XPT``; None for any other file.
    """
    lower = path.name.lower()
    for suffix, kind in SUFFIXES:
        if lower.endswith(suffix):
            stem = lower[: -len(suffix)]
            if stem in DATASETS or _SPLIT_ADLB.match(stem):
                return stem, kind
            return None
    return None


def dataset_of(part: str) -> str:
    """The upper-case dataset a lower-case file part belongs to (``adlbc`` -> ``ADLB``)."""
    return "ADLB" if part.startswith("adlb") else part.upper()


def find_sources(folder: Path) -> list[SourceFile]:
    """List the dataset files in ``folder``, sorted by name.

    Parameters
    ----------
    folder : Path
        The study folder. Entries whose names are not dataset file names are ignored; an
        entry named like a dataset file that is no regular file (a folder, a broken or looping
        link) is listed all the same, so that the loader reports it instead of skipping it.

    Returns
    -------
    list of SourceFile
        Every recognised file (duplicates included; the loader reports them).
    """
    found: list[SourceFile] = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
        hit = classify(path)
        if hit is None:
            continue
        part, kind = hit
        found.append(SourceFile(dataset_of(part), part, path, kind))
    return found


def read_table(source: SourceFile) -> Table:
    """Read one dataset file into a normalised frame.

    Parameters
    ----------
    source : SourceFile
        The file.

    Returns
    -------
    Table
        The normalised frame with provenance columns, and reader notes.

    Raises
    ------
    OSError, ValueError
        When the file cannot be read; the loader turns this into a data error. The reader's own
        errors (:class:`~msc_analysis.io.xport.XportLayoutError`,
        :class:`~msc_analysis.io.csv_shape.FieldCountError`, :class:`ImpossibleValueError`)
        carry the rule broken and, where there is one, the row and the variable.
    """
    if source.path.is_dir():
        raise IsADirectoryError(f"{source.name} is a folder, not a file")
    if source.path.stat().st_size == 0:
        raise EmptyFileError("the file is empty (0 bytes)")
    if source.kind == "csv":
        check_fields(source.path)
        frame, notes = _read_csv(source.path)
        frame, blank = _drop_trailing_blank_lines(frame)
        notes = [*notes, *blank]
    elif source.kind == "parquet":
        frame, notes = _read_parquet(source.path), []
    else:
        frame, notes = _read_xpt(source.path)
    frame = frame.reset_index(drop=True)
    frame[FILE_COLUMN] = source.name
    frame[ROW_COLUMN] = np.arange(1, len(frame) + 1, dtype=np.int64)
    return Table(source, frame, tuple(notes))


def _drop_trailing_blank_lines(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Blank lines at the end of a CSV file are no records: drop them, with a note.

    (A blank line between records stays a record, so that row numbers match the file, and the
    validator reports it.)
    """
    if frame.empty or (frame.iloc[-1] != "").any():
        return frame, []  # the usual case, found at the cost of one record
    filled = (frame != "").any(axis=1).to_numpy()
    last = int(np.flatnonzero(filled)[-1]) + 1 if filled.any() else 0
    blank = len(frame) - last
    if not blank:
        return frame, []
    return frame.iloc[:last], [("", f"{blank} blank line(s) at the end of the file ignored "
                                    f"(after data row {last})")]


class EmptyFileError(ValueError):
    """A dataset file of 0 bytes."""


class ImpossibleValueError(ValueError):
    """A value the reader cannot represent (a SAS date centuries away).

    Parameters
    ----------
    variable : str
        The variable.
    row : int
        The 1-based data row of the first such value.
    message : str
        What is wrong.
    """

    rule = "impossible-value"

    def __init__(self, variable: str, row: int, message: str) -> None:
        super().__init__(message)
        self.variable = variable
        self.row = row


class DuplicateColumnsError(ValueError):
    """Two columns of a file have the same name once upper-cased."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


_MANGLED = re.compile(r"^(.+)\.(\d+)$")


def _normalise_columns(frame: pd.DataFrame) -> pd.DataFrame:
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    repeated = set(frame.columns[frame.columns.duplicated()])
    # pandas' CSV reader renames a repeated name: the second AVAL becomes AVAL.1.
    names = set(frame.columns)
    for name in names:
        match = _MANGLED.match(name)
        if match and match.group(1) in names:
            repeated.add(match.group(1))
    if repeated:
        raise DuplicateColumnsError(sorted(repeated))
    return frame


def _clean_text(values: pd.Series) -> pd.Series:
    """Text as ``str`` dtype, blanks stripped, missing as ``""``."""
    return values.astype("str").fillna("").str.strip()


def _read_csv(path: Path) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    # Every value stays text: the schema decides types, and a bad number must be reported with
    # its row rather than turning the whole column into text silently. Blank lines are kept so
    # that row numbers match what a person counts in the file.
    frame = pd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        na_values=[],
        skip_blank_lines=False,
        encoding="utf-8-sig",
    )
    frame.columns = [restore(c) for c in frame.columns]
    frame = _normalise_columns(frame)
    notes: list[tuple[str, str]] = []
    for name in frame.columns:
        values = frame[name]
        text = restore_column(values)
        if text is not values:
            restored = int((text != values).sum())
            notes.append((name, f"{restored} value(s) beginning with an apostrophe read without "
                                "it (the CSV convention for text a spreadsheet would run as a "
                                "formula, README 'CSV files and spreadsheets')"))
        frame[name] = _clean_text(text)
    return frame, notes


def _read_parquet(path: Path) -> pd.DataFrame:
    frame = _normalise_columns(pd.read_parquet(path))
    for name in frame.columns:
        values = frame[name]
        if isinstance(values.dtype, pd.CategoricalDtype):  # Parquet dictionary columns
            values = values.astype(object)
        if pd.api.types.is_bool_dtype(values):
            frame[name] = values.map({True: "Y", False: "N"}).astype("str").fillna("")
        elif pd.api.types.is_numeric_dtype(values):
            frame[name] = values.astype("float64")
        elif isinstance(values.dtype, pd.DatetimeTZDtype):
            frame[name] = _nanoseconds(values.dt.tz_localize(None))
        elif pd.api.types.is_datetime64_any_dtype(values):
            frame[name] = _nanoseconds(values)
        else:
            frame[name] = _clean_text(values.where(values.notna(), ""))
    return frame


def _nanoseconds(values: pd.Series) -> pd.Series:
    """``datetime64[ns]``, or :class:`ImpossibleValueError` for a date beyond its years
    (1677-2262), which a Parquet file can hold."""
    if values.dtype != "datetime64[ns]":
        far = np.flatnonzero(((values < pd.Timestamp.min) | (values > pd.Timestamp.max))
                             .to_numpy())
        if far.size:
            raise ImpossibleValueError(
                str(values.name), int(far[0]) + 1,
                f"value {values.iloc[far[0]]} is impossible: no date of a trial "
                f"({far.size} value(s) alike)")
    return values.astype("datetime64[ns]")


def _read_xpt(path: Path) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Read SAS transport: v5 with records over 80 bytes with pandas (fast), else pyreadstat.

    The file's layout is computed from its headers first (:mod:`msc_analysis.io.xport`) and the
    reader's record count checked against it, so a file cut short is refused, never read in
    part.
    """
    data = _xpt_bytes(path)
    layout = xport_layout(data)
    read = None
    if layout.version == 5 and layout.record_length > 80:
        read = _read_xpt_pandas(data, path.name)
    if read is None:
        read = _read_xpt_pyreadstat(path, data)
    frame, formats = read
    check_record_count(layout, len(frame))
    frame = _normalise_columns(frame)
    formats = {str(k).strip().upper(): v for k, v in formats.items()}
    notes: list[tuple[str, str]] = []
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_numeric_dtype(values):
            values = values.astype("float64")
            values = values.mask(values.abs() < _IBM_ZERO_LIMIT, 0.0)
            fmt = _format_name(formats.get(name))
            if fmt in SAS_DATE_FORMATS:
                values = _sas_to_datetime(values, unit_ns=86_400 * 10**9)
            elif fmt in SAS_DATETIME_FORMATS:
                values = _sas_to_datetime(values, unit_ns=10**9)
            frame[name] = values
        else:
            text = _clean_text(values)
            dots = text == "."
            if dots.any():
                text = text.mask(dots, "")
                notes.append((name, f"{int(dots.sum())} character value(s) '.' read as missing"))
            frame[name] = text
    return frame, notes


def _xpt_bytes(path: Path) -> bytes:
    """The whole transport file, unpacked when gzip-compressed (``.gz``)."""
    if not path.name.lower().endswith(".gz"):
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except EOFError:
        raise XportLayoutError("its gzip stream ends before its end marker: the file is cut "
                               "short", rule="file-truncated") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise XportLayoutError(f"not a valid gzip file ({exc})", rule="file-unreadable"
                               ) from None


def _format_name(fmt: object) -> str:
    """``"DATE9."`` -> ``"DATE"``; blank or missing -> ``""``."""
    if fmt is None:
        return ""
    if isinstance(fmt, bytes):
        fmt = fmt.decode("latin1")
    match = re.match(r"\s*([A-Za-z_$]*[A-Za-z_])", str(fmt))
    return match.group(1).upper() if match else ""


def _sas_to_datetime(values: pd.Series, unit_ns: int) -> pd.Series:
    """SAS day or second counts from 1960-01-01 -> ``datetime64[ns]`` (missing -> NaT).

    Raises
    ------
    ImpossibleValueError
        For a count more than 250 years from 1960 (no date of a trial; beyond 2262 it would
        not even fit ``datetime64[ns]``).
    """
    raw = values.to_numpy(dtype="float64")
    valid = np.isfinite(raw)
    far = np.flatnonzero(valid & (np.abs(raw) * unit_ns > _SAS_LIMIT_NS))
    if far.size:
        what = "days" if unit_ns > 10**9 else "seconds"
        raise ImpossibleValueError(
            str(values.name), int(far[0]) + 1,
            f"value {raw[far[0]]:g} is impossible: as {what} since 1960-01-01 it is no date "
            f"within 250 years of 1960 ({far.size} value(s) alike)")
    nanos = np.zeros(raw.shape, dtype="int64")
    nanos[valid] = np.round(raw[valid] * unit_ns).astype("int64")
    stamps = _SAS_EPOCH + nanos.astype("timedelta64[ns]")
    stamps[~valid] = np.datetime64("NaT")
    return pd.Series(stamps, index=values.index, dtype="datetime64[ns]")


def _read_xpt_pandas(data: bytes, name: str) -> tuple[pd.DataFrame, dict[str, object]] | None:
    """Read XPORT v5 with pandas, the fastest reader; None when pandas cannot be trusted.

    pandas counts the records of a file whose records are at most 80 bytes long by counting
    blank 8-byte words in the last 80-byte card, which drops real records ending in blanks;
    such (small) files are left to pyreadstat.
    """
    for encoding in ("utf-8", "latin1"):
        try:
            with pd.read_sas(io.BytesIO(data), format="xport", encoding=encoding,
                             iterator=True) as reader:
                if reader.record_length <= 80:  # type: ignore[attr-defined]
                    return None
                formats = {
                    _decode(f["name"]): f["nform"] for f in reader.fields  # type: ignore[attr-defined]
                }
                frame = reader.read()
            return frame, formats
        except UnicodeDecodeError:
            log.debug("%s is not UTF-8; reading it as Latin-1", name)
    raise ValueError(f"cannot decode the text of {name}")  # pragma: no cover


def _decode(value: object) -> str:
    return value.decode("latin1").strip() if isinstance(value, bytes) else str(value).strip()


def _read_xpt_pyreadstat(path: Path, data: bytes) -> tuple[pd.DataFrame, dict[str, object]]:
    import pyreadstat

    try:
        if not path.name.lower().endswith(".gz"):
            frame, meta = pyreadstat.read_xport(str(path), disable_datetime_conversion=True)
            return frame, dict(meta.original_variable_types)
        # pyreadstat needs a real file: write the unpacked bytes into a temporary one.
        with tempfile.TemporaryDirectory(prefix="msc_xpt_") as tmp:
            target = Path(tmp) / path.name[: -len(".gz")]
            target.write_bytes(data)
            frame, meta = pyreadstat.read_xport(str(target), disable_datetime_conversion=True)
        return frame, dict(meta.original_variable_types)
    except pyreadstat.ReadstatError as exc:
        raise ValueError(f"not a readable SAS transport file ({exc})") from exc
