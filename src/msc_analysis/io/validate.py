"""The validation rules of a study folder.

Every rule records what it finds in a :class:`~msc_analysis.io.issues.DataIssues` with source
``validate``, naming the file, the 1-based data row (header line excluded), the subject, the
variable and the rule code. Rule codes:

- ``file-duplicate``: two files for one dataset (``adsl.csv`` and ``adsl.xpt``);
- ``file-unreadable``: a file that cannot be read;
- ``variable-duplicate``: two columns of one file with the same name (case-insensitive);
- ``dataset-missing``: a dataset the requested analyses need is absent;
- ``variable-missing``: a variable the requested analyses need is absent (schema
  ``needed_by``; ``core`` always);
- ``missing-value``: a blank subject identifier;
- ``type``: a value that does not parse as the declared type (number, whole number, ISO date
  ``YYYY-MM-DD``, ISO datetime ``YYYY-MM-DDTHH:MM``); a datetime given as a date alone is read
  as 00:00 with a warning;
- ``controlled-term``: a value outside the schema's ``allowed`` terms;
- ``key-duplicate``: two records with the same key (schema ``keys``, checked where all key
  variables are present);
- ``date-order``: dates out of order (TRTSDT after TRTEDT, ASTDT after AENDT, ...; see
  :data:`DATE_ORDER`);
- ``subject-not-in-adsl``: a USUBJID of ADLB, ADAE, ADEX or ADVS that ADSL lacks;
- ``unit-unknown``: a unit not known for a known parameter (see :mod:`msc_analysis.io.units`);
- ``impossible-value``: a value outside the schema's minimum / maximum / strictly positive, a
  laboratory / vital-sign value that cannot occur (negative concentration, INR of 0), or a date
  outside :data:`DATE_LIMITS`;
- ``dataset-empty``: an ADSL without records (a study without subjects);
- ``field-count``, ``file-truncated``, ``file-layout``: a file whose records do not match its
  header (a CSV record with more or fewer fields than the header; a SAS transport file cut
  short or holding other than its headers promise; see :mod:`msc_analysis.io.xport`);
- ``delimiter``: a CSV file whose header is one field holding another delimiter (``;``, tab).

A note (nothing wrong, but the data were changed on reading, so the change is listed):
``code-case``, a code written in lower case (``tbil``, ``y``) read in upper case: PARAMCD always,
a controlled-term value when its upper case is one of the terms. Codes are upper case in every
later layer, so that no analysis misses a record for the case of its code.

Severity policy, so that standard ADaM of other studies loads: ``type`` and
``controlled-term`` findings are *errors* for variables the requested analyses need or
interpret when present (schema ``needed_by`` and ``used_by``) and *warnings* otherwise (a
non-parsing value of an unused variable is then set to missing, and the warning says so). All
other rules always give errors. Undeclared extra variables are fine and not reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from msc_analysis.io.issues import DataIssues, Severity
from msc_analysis.io.readers import FILE_COLUMN, ROW_COLUMN, FileKind
from msc_analysis.io.schema import DatasetSchema, Variable

SOURCE = "validate"

#: At most this many errors are written into a :class:`DataError` message.
MAX_LISTED_ERRORS = 50

#: Date pairs that must be in order, per dataset: ``(earlier, later)``.
DATE_ORDER: dict[str, tuple[tuple[str, str], ...]] = {
    "ADSL": (
        ("RFICDT", "ENRLDT"),
        ("ENRLDT", "TRTSDT"),
        ("TRTSDT", "TRTEDT"),
        ("TRTSDT", "DTHDT"),
        ("TRTEDT", "DTHDT"),
        ("TRTSDT", "LTXDT"),
        ("LSTALVDT", "DTHDT"),
    ),
    "ADAE": (("ASTDT", "AENDT"),),
    "ADEX": (("ASTDTM", "AENDTM"),),
}

#: Dates outside these limits cannot belong to a subject of a trial (rule ``impossible-value``).
DATE_LIMITS: tuple[pd.Timestamp, pd.Timestamp] = (pd.Timestamp("1900-01-01"),
                                                 pd.Timestamp("2100-12-31 23:59:59"))

_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_SAS_EPOCH = pd.Timestamp("1960-01-01")
#: SAS dates and datetimes further than this from 1960 (in seconds; 250 years) are no dates.
_SAS_SECONDS_LIMIT = 250 * 365.25 * 86_400


def add(
    issues: DataIssues,
    severity: Severity,
    *,
    file: str,
    rule: str,
    message: str,
    variable: str = "",
    row: int | None = None,
    usubjid: str = "",
) -> None:
    """Record one finding of the validator."""
    issues.add(
        source=SOURCE, severity=severity, file=file, row=row, usubjid=usubjid,
        variable=variable, rule=rule, message=message,
    )


def _show(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return repr(int(value))
    if isinstance(value, pd.Timestamp):
        if value == value.normalize():
            return value.date().isoformat()
        return value.isoformat(timespec="minutes")
    return repr(value) if isinstance(value, str) else str(value)


def add_rows(
    issues: DataIssues,
    frame: pd.DataFrame,
    mask: pd.Series | np.ndarray,
    *,
    variable: str,
    rule: str,
    describe: Callable[[pd.Series], str],
    severity: Severity = "error",
) -> int:
    """Record one finding per flagged record; return how many.

    Parameters
    ----------
    issues : DataIssues
        Where to record.
    frame : pandas.DataFrame
        Records with the provenance columns.
    mask : boolean array
        The flagged records.
    variable, rule : str
        What the findings are about.
    describe : callable
        Record (a row of ``frame``) -> message.
    severity : str
        ``error`` or ``warning``.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return 0
    flagged = frame.loc[mask]
    for _, record in flagged.iterrows():
        add(
            issues, severity, file=str(record[FILE_COLUMN]), row=int(record[ROW_COLUMN]),
            usubjid=_subject(record), variable=variable, rule=rule, message=describe(record),
        )
    return len(flagged)


def add_grouped(
    issues: DataIssues,
    frame: pd.DataFrame,
    mask: pd.Series | np.ndarray,
    *,
    by: str,
    variable: str,
    rule: str,
    describe: Callable[[object, int], str],
    severity: Severity = "warning",
) -> None:
    """Record one finding per file and distinct value of ``by`` among the flagged records.

    The finding names the first flagged row; ``describe(value, count)`` gives the message.
    """
    flagged = frame.loc[np.asarray(mask, dtype=bool), [FILE_COLUMN, ROW_COLUMN, by]]
    if flagged.empty:
        return
    for (file, value), group in flagged.groupby([FILE_COLUMN, by], sort=False, dropna=False):
        add(
            issues, severity, file=str(file), row=int(group[ROW_COLUMN].iloc[0]),
            variable=variable, rule=rule, message=describe(value, len(group)),
        )


def _subject(record: pd.Series) -> str:
    value = record.get("USUBJID", "")
    return value if isinstance(value, str) else ""


def _more(count: int) -> str:
    return "" if count <= 1 else f" ({count - 1} more row(s) alike)"


# --------------------------------------------------------------------------------------------
# Presence
# --------------------------------------------------------------------------------------------

def check_required(
    frame: pd.DataFrame,
    schema: DatasetSchema,
    needed: Iterable[str],
    file: str,
    analyses: tuple[str, ...],
    issues: DataIssues,
) -> None:
    """Rule ``variable-missing``: every variable the analyses need is a column of the file."""
    for name in needed:
        if name not in frame.columns:
            users = sorted(set(schema.variable(name).needed_by) & {"core", *analyses})
            add(
                issues, "error", file=file, variable=name, rule="variable-missing",
                message=(f"{schema.name} variable {name} ({schema.variable(name).label}) is "
                         f"missing; it is needed by: {', '.join(users)}"),
            )


def check_subject_ids(frame: pd.DataFrame, dataset: str, issues: DataIssues) -> None:
    """Rule ``missing-value``: USUBJID is never blank."""
    if "USUBJID" not in frame.columns:
        return
    blank = frame["USUBJID"].astype("str").fillna("") == ""
    add_rows(
        issues, frame, blank, variable="USUBJID", rule="missing-value",
        describe=lambda _r: f"{dataset} record has no subject identifier",
    )


# --------------------------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------------------------

def coerce_types(
    frame: pd.DataFrame,
    schema: DatasetSchema,
    needed: set[str],
    kind: FileKind,
    issues: DataIssues,
) -> pd.DataFrame:
    """Rule ``type``: give each declared variable its declared type.

    Numbers become float, dates and datetimes ``datetime64[ns]``, text ``str``. A value that
    does not parse is an error when the variable is in ``needed``, otherwise a warning and the
    value is set to missing. Undeclared variables are left as read (see
    :func:`infer_undeclared`).

    Parameters
    ----------
    frame : pandas.DataFrame
        One file's records as read (with provenance columns).
    schema : DatasetSchema
        The dataset's declaration.
    needed : set of str
        Variables the requested analyses need or interpret
        (:meth:`~msc_analysis.io.schema.DatasetSchema.interpreted_by`).
    kind : {"csv", "xpt", "parquet"}
        The file format (SAS transport numbers in a date variable are SAS dates).
    issues : DataIssues
        Where findings go.

    Returns
    -------
    pandas.DataFrame
        A copy with typed declared columns.
    """
    out = frame.copy(deep=False)  # columns are replaced, never changed in place
    for name in out.columns:
        if not schema.has(name):
            continue
        var = schema.variable(name)
        severity: Severity = "error" if name in needed else "warning"
        if var.type == "char":
            out[name] = _as_text(out[name])
        elif var.type in ("num", "int"):
            out[name] = _as_number(out, var, severity, issues)
        else:
            out[name] = _as_datetime(out, var, severity, kind, issues)
    return out


def _as_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%dT%H:%M:%S").astype("str").fillna("")
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
        whole = numbers.notna() & np.isfinite(numbers) & (numbers == numbers.round())
        text = numbers.astype("str")
        text = text.mask(whole, numbers.where(whole, 0).astype("int64").astype("str"))
        return text.mask(numbers.isna(), "")
    return values.astype("str").fillna("").str.strip()


def _report_type(
    frame: pd.DataFrame, bad: pd.Series, var: Variable, severity: Severity, expected: str,
    issues: DataIssues,
) -> None:
    if not bad.any():
        return
    if severity == "error":
        add_rows(
            issues, frame, bad, variable=var.name, rule="type",
            describe=lambda r: f"value {_show(r[var.name])} is not {expected}",
        )
    else:
        first = frame.loc[bad].iloc[0]
        add(
            issues, "warning", file=str(first[FILE_COLUMN]), row=int(first[ROW_COLUMN]),
            variable=var.name, rule="type",
            message=(f"value {_show(first[var.name])} is not {expected}{_more(int(bad.sum()))};"
                     " set to missing (the requested analyses do not use this variable)"),
        )


def _as_number(
    frame: pd.DataFrame, var: Variable, severity: Severity, issues: DataIssues
) -> pd.Series:
    values = frame[var.name]
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        text = values.astype("str").fillna("").str.strip()
        numbers = _per_distinct(text, _parse_numbers)
    else:
        text = pd.Series("x", index=values.index, dtype="str").where(values.notna(), "")
        numbers = values.astype("float64")
    bad = (text != "") & ~np.isfinite(numbers.fillna(np.inf))  # unparsed, inf and nan text
    _report_type(frame, bad, var, severity, "a finite number", issues)
    numbers = numbers.mask(bad, np.nan)
    if var.type == "int":
        fraction = numbers.notna() & (numbers != numbers.round())
        _report_type(frame, fraction, var, severity, "a whole number", issues)
        numbers = numbers.mask(fraction, np.nan)
    return numbers + 0.0  # -0 is 0: the sign of a zero would show in outputs and comparisons


def _as_datetime(
    frame: pd.DataFrame, var: Variable, severity: Severity, kind: FileKind, issues: DataIssues
) -> pd.Series:
    values = frame[var.name]
    what = "an ISO 8601 date (YYYY-MM-DD)" if var.type == "date" else (
        "an ISO 8601 datetime (YYYY-MM-DDTHH:MM)")
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values.astype("datetime64[ns]")
    elif pd.api.types.is_numeric_dtype(values) and kind == "xpt":
        # SAS numbers without a date format: days (dates) or seconds (datetimes) since 1960.
        unit = "D" if var.type == "date" else "s"
        numbers = values.astype("float64")
        seconds = numbers * (86_400 if unit == "D" else 1)
        far = (seconds.abs() > _SAS_SECONDS_LIMIT).to_numpy()
        add_rows(issues, frame, far, variable=var.name, rule="impossible-value",
                 describe=lambda r: f"value {_show(r[var.name])} is impossible (as "
                 f"{'days' if unit == 'D' else 'seconds'} since 1960-01-01 it is no date "
                 f"between {DATE_LIMITS[0].year} and {DATE_LIMITS[1].year})")
        stamps = (_SAS_EPOCH + pd.to_timedelta(numbers.mask(far), unit=unit)).astype(
            "datetime64[ns]")
        add(issues, "note", file=str(frame[FILE_COLUMN].iloc[0]) if len(frame) else "",
            variable=var.name, rule="type",
            message=(f"numeric {var.name} has no SAS date format; read as "
                     f"{'days' if unit == 'D' else 'seconds'} since 1960-01-01"))
    elif pd.api.types.is_numeric_dtype(values):
        bad = values.notna()
        _report_type(frame, bad, var, severity, what, issues)
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    else:
        text = values.astype("str").fillna("").str.strip()
        stamps = _per_distinct(text, lambda distinct: _parse_stamps(distinct, var.type))
        bad = (text != "") & stamps.isna()
        if bad.any():  # a real date too far out for datetime64[ns] (2999-01-01): impossible
            far = pd.Series(False, index=text.index)
            far[bad] = text[bad].map(lambda t: _is_far_date(t, var.type)).astype(bool)
            _report_far_dates(frame, far.to_numpy(), var, issues)
            bad &= ~far
        _report_type(frame, bad, var, severity, what, issues)
        if var.type == "datetime":
            _report_date_only(frame, text.str.len().eq(10) & stamps.notna(), var, issues)
    if var.type == "date":
        timed = stamps.notna() & (stamps != stamps.dt.normalize())
        _report_type(frame, timed, var, severity, f"{what} (it has a time of day)", issues)
        stamps = stamps.mask(timed, pd.NaT)
    return stamps


def _is_far_date(text: str, kind: str) -> bool:
    """Whether ``text`` is a well-formed ISO date (``kind = "date"``) or datetime of a real
    calendar day in a year ``datetime64[ns]`` cannot hold (before 1677 or after 2262)."""
    if not re.match(_ISO_DATE if kind == "date" else _ISO_DATETIME, text):
        return False
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return False
    return not pd.Timestamp.min <= stamp <= pd.Timestamp.max


def _report_far_dates(
    frame: pd.DataFrame, far: np.ndarray, var: Variable, issues: DataIssues
) -> None:
    add_rows(issues, frame, far, variable=var.name, rule="impossible-value",
             describe=lambda r: f"value {_show(r[var.name])} is impossible ({_date_limits()})")


def _date_limits() -> str:
    return (f"dates run from {DATE_LIMITS[0].date().isoformat()} to "
            f"{DATE_LIMITS[1].date().isoformat()}")


def _per_distinct(text: pd.Series, parse: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``parse(text)``, computed once per distinct value of ``text`` and spread to every record.

    Parameters
    ----------
    text : pandas.Series
        Text values (no missing values: blank is ``""``).
    parse : callable
        Vectorised, element-wise parser: a Series of text -> a Series of the same length whose
        i-th value depends on the i-th text only.

    Returns
    -------
    pandas.Series
        The parsed values, on the index of ``text``. A column of 1.5 million records has some
        thousands of distinct values, so the parse (the costly part) runs on far fewer values;
        the result is the same as ``parse(text)`` value by value.
    """
    codes, distinct = distinct_codes(text)
    parsed = parse(distinct)
    return pd.Series(parsed.to_numpy()[codes], index=text.index)


def distinct_codes(text: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """The distinct values of a text column and each record's position among them.

    Parameters
    ----------
    text : pandas.Series
        Text values without missing values.

    Returns
    -------
    codes : numpy.ndarray
        For each record, the position of its value in ``distinct``.
    distinct : pandas.Series
        The distinct values (``str`` dtype) in order of first appearance, as
        :func:`pandas.factorize` gives them; ``distinct.to_numpy()[codes]`` is ``text``.
    """
    if isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow" and len(text):
        # Arrow's dictionary encoding: the same codes as pandas.factorize, several times faster.
        encoded = pa.chunked_array(pa.array(text.array)).dictionary_encode().combine_chunks()
        if encoded.null_count == 0:
            codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp)
            return codes, pd.Series(encoded.dictionary.to_pylist(), dtype="str")
    codes, uniques = pd.factorize(text, use_na_sentinel=False)
    return codes, pd.Series(np.asarray(uniques, dtype=object), dtype="str")


def _parse_numbers(text: pd.Series) -> pd.Series:
    """Text -> float64; blank and unparsed text -> NaN."""
    return pd.to_numeric(text.mask(text == "", None), errors="coerce").astype("float64")


def _parse_stamps(text: pd.Series, kind: str) -> pd.Series:
    """ISO 8601 date (``kind = "date"``) or datetime text -> ``datetime64[ns]``; blank, badly
    shaped and impossible values -> NaT."""
    pattern = _ISO_DATE if kind == "date" else _ISO_DATETIME
    shaped = text.str.match(pattern)
    fmt = "%Y-%m-%d" if kind == "date" else "ISO8601"
    return _nanoseconds(pd.to_datetime(text.where(shaped & (text != ""), None), format=fmt,
                                       errors="coerce"))


def _nanoseconds(stamps: pd.Series) -> pd.Series:
    """``datetime64[ns]``; dates beyond its years (1677-2262), which pandas keeps at a coarser
    unit (``2999-01-01``), become NaT instead of failing the conversion."""
    if stamps.dtype != "datetime64[ns]":
        inside = (stamps >= pd.Timestamp.min) & (stamps <= pd.Timestamp.max)
        stamps = stamps.where(inside)
    return stamps.astype("datetime64[ns]")


def _report_date_only(
    frame: pd.DataFrame, date_only: pd.Series, var: Variable, issues: DataIssues
) -> None:
    """A datetime given as a date alone is read as 00:00 of that day: say so once per file."""
    if not date_only.any():
        return
    first = frame.loc[date_only].iloc[0]
    add(
        issues, "warning", file=str(first[FILE_COLUMN]), row=int(first[ROW_COLUMN]),
        variable=var.name, rule="type",
        message=(f"value {_show(first[var.name])} has no time of day"
                 f"{_more(int(date_only.sum()))}; read as 00:00 of that day"),
    )


def infer_undeclared(frame: pd.DataFrame, schema: DatasetSchema) -> pd.DataFrame:
    """Type the undeclared text columns of a CSV file where the values leave no doubt.

    A column whose every non-blank value is a number (and none has a leading zero, which marks
    a code) becomes float; a column named ``*DT`` / ``*DTM`` whose every non-blank value is an
    ISO date / datetime becomes ``datetime64[ns]``. Anything else stays text.
    """
    out = frame.copy(deep=False)  # columns are replaced, never changed in place
    for name in out.columns:
        if schema.has(name) or name in (FILE_COLUMN, ROW_COLUMN):
            continue
        values = out[name]
        if not (pd.api.types.is_string_dtype(values) or values.dtype == object):
            continue
        text = values.astype("str").fillna("")
        filled = text != ""
        if not filled.any():
            continue
        if name.endswith(("DT", "DTM")):
            pattern = _ISO_DATE if name.endswith("DT") else _ISO_DATETIME
            if text[filled].str.match(pattern).all():
                parsed = _nanoseconds(pd.to_datetime(text.where(filled, None),
                                                     format="ISO8601", errors="coerce"))
                if parsed[filled].notna().all():
                    out[name] = parsed
                    continue
        numbers = pd.to_numeric(text.where(filled, None), errors="coerce")
        leading_zero = text[filled].str.match(r"^-?0\d").any()
        if numbers[filled].notna().all() and not leading_zero:
            out[name] = numbers.astype("float64")
    return out


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------

def normalise_codes(frame: pd.DataFrame, schema: DatasetSchema, issues: DataIssues
                    ) -> pd.DataFrame:
    """Rule ``code-case`` (a note): codes in upper case, once, for every later layer.

    PARAMCD is upper-cased whatever its value (``tbil`` is TBIL); a value of a variable with
    controlled terms is upper-cased when its upper case is one of the terms (``y`` is Y,
    ``fatal`` is FATAL; ``maybe`` stays and breaks rule ``controlled-term``). One note per
    file, variable and value changed, naming its first row and how many rows.

    Returns
    -------
    pandas.DataFrame
        ``frame``, or a copy with the codes changed.
    """
    out = frame
    for var in schema.checked:
        if var.type != "char" or var.name not in frame.columns:
            continue
        if var.allowed is None and var.name != "PARAMCD":
            continue
        text = frame[var.name].astype("str").fillna("")
        if var.allowed is not None and text.isin((*var.allowed, "")).all():
            continue  # the usual case, found at the cost of one pass
        codes, distinct = distinct_codes(text)
        upper = distinct.str.upper()
        change = (upper != distinct).to_numpy(dtype=bool, copy=True)
        if var.allowed is not None:
            change &= upper.isin(var.allowed).to_numpy()
        if not change.any():
            continue
        rows = change[codes]
        if out is frame:
            out = frame.copy(deep=False)  # columns are replaced, never changed in place
        out[var.name] = pd.Series(np.where(change, upper, distinct)[codes], index=frame.index,
                                  dtype="str")
        add_grouped(
            issues, frame, rows, by=var.name, variable=var.name, rule="code-case",
            severity="note",
            describe=lambda value, n: (f"value {_show(value)} read as {_show(str(value).upper())}"
                                       f" in {n} row(s): codes are upper case"),
        )
    return out


def check_controlled_terms(
    frame: pd.DataFrame, schema: DatasetSchema, needed: set[str], issues: DataIssues,
    used: set[str] | None = None,
) -> None:
    """Rule ``controlled-term``: values of variables with ``allowed`` terms are among them.

    Blank is allowed unless the variable is needed by the requested analyses (or ``""`` is an
    allowed term). Errors for variables the analyses need or use (``used``, a superset of
    ``needed``; default ``needed``), one per record; warnings otherwise, one per file and
    distinct value.
    """
    strict = needed if used is None else needed | used
    for var in schema.checked:
        if var.allowed is None or var.name not in frame.columns:
            continue
        values = frame[var.name].astype("str").fillna("")
        allowed = set(var.allowed)
        if var.name not in needed:
            allowed.add("")
        bad = ~values.isin(allowed)
        if not bad.any():
            continue
        terms = ", ".join(repr(t) for t in var.allowed)
        if var.name in strict:
            add_rows(
                issues, frame, bad, variable=var.name, rule="controlled-term",
                describe=lambda r, v=var.name, t=terms: f"value {_show(r[v])} is not one of {t}",
            )
        else:
            add_grouped(
                issues, frame, bad, by=var.name, variable=var.name, rule="controlled-term",
                describe=lambda value, n, t=terms: (
                    f"value {_show(value)} is not one of {t}{_more(n)}; kept as is (the "
                    "requested analyses do not use this variable)"),
            )


def check_ranges(frame: pd.DataFrame, schema: DatasetSchema, issues: DataIssues) -> None:
    """Rule ``impossible-value``: the schema's minimum, maximum and strictly-positive limits,
    and dates within :data:`DATE_LIMITS`."""
    for var in schema.checked:
        if var.name not in frame.columns:
            continue
        if var.type in ("date", "datetime"):
            values = frame[var.name]
            if pd.api.types.is_datetime64_any_dtype(values):
                far = ((values < DATE_LIMITS[0]) | (values > DATE_LIMITS[1])).to_numpy()
                _report_far_dates(frame, far, var, issues)
            continue
        if var.type not in ("num", "int"):
            continue
        if var.minimum is None and var.maximum is None and not var.strictly_positive:
            continue
        values = frame[var.name]
        low = values < var.minimum if var.minimum is not None else values < -np.inf
        high = values > var.maximum if var.maximum is not None else values > np.inf
        nonpos = values <= 0 if var.strictly_positive else values > np.inf
        limits = _describe_limits(var)
        add_rows(
            issues, frame, (low | high | nonpos).fillna(False), variable=var.name,
            rule="impossible-value",
            describe=lambda r, v=var.name, lim=limits: f"value {_show(r[v])} is impossible "
            f"({lim})",
        )


def _describe_limits(var: Variable) -> str:
    parts = []
    if var.strictly_positive:
        parts.append("must be above 0")
    if var.minimum is not None:
        parts.append(f"minimum {_show(float(var.minimum))}")
    if var.maximum is not None:
        parts.append(f"maximum {_show(float(var.maximum))}")
    unit = f" {var.unit}" if var.unit else ""
    return ", ".join(parts) + unit


def check_keys(frame: pd.DataFrame, schema: DatasetSchema, issues: DataIssues) -> None:
    """Rule ``key-duplicate``: the schema's key variables identify one record.

    Checked only when every key variable is present (other studies' ADLB / ADVS often lack
    ADTM); records with a blank key part are left to the other rules.
    """
    keys = list(schema.keys)
    if not keys or not set(keys) <= set(frame.columns):
        return
    complete = pd.Series(True, index=frame.index)
    for key in keys:
        column = frame[key]
        complete &= column.notna()
        if not (pd.api.types.is_numeric_dtype(column)
                or pd.api.types.is_datetime64_any_dtype(column)):
            # Only text can be blank: a present number or date never prints as "".
            complete &= column.astype("str") != ""
    shown = [c for c in dict.fromkeys([*keys, FILE_COLUMN, ROW_COLUMN, "USUBJID"])
             if c in frame.columns]
    subset = frame.loc[complete, shown]
    dup = subset.duplicated(keys, keep=False)
    if not dup.any():
        return
    clashes = subset.loc[dup]
    first = clashes.groupby(keys, sort=False, dropna=False)[[FILE_COLUMN, ROW_COLUMN]].transform(
        "first")
    later = clashes.duplicated(keys, keep="first")
    label = ", ".join(keys)
    for index in clashes.index[later.to_numpy()]:
        record = clashes.loc[index]
        key_text = ", ".join(_show(record[k]) for k in keys)
        where = f"{first.at[index, FILE_COLUMN]} data row {int(first.at[index, ROW_COLUMN])}"
        add(
            issues, "error", file=str(record[FILE_COLUMN]), row=int(record[ROW_COLUMN]),
            usubjid=_subject(record), variable=label, rule="key-duplicate",
            message=f"key ({label}) = ({key_text}) is already on {where}",
        )


def check_date_order(frame: pd.DataFrame, dataset: str, issues: DataIssues) -> None:
    """Rule ``date-order``: each pair of :data:`DATE_ORDER` is in order where both are given."""
    for earlier, later in DATE_ORDER.get(dataset, ()):
        if earlier not in frame.columns or later not in frame.columns:
            continue
        first, second = frame[earlier], frame[later]
        if not (pd.api.types.is_datetime64_any_dtype(first)
                and pd.api.types.is_datetime64_any_dtype(second)):
            continue
        bad = (first.notna() & second.notna() & (first > second)).to_numpy()
        add_rows(
            issues, frame, bad, variable=f"{earlier}, {later}", rule="date-order",
            describe=lambda r, a=earlier, b=later: (
                f"{a} {_show(r[a])} is after {b} {_show(r[b])}"),
        )


def check_subjects(
    frame: pd.DataFrame, dataset: str, subjects: set[str], issues: DataIssues
) -> None:
    """Rule ``subject-not-in-adsl``: every USUBJID of ``frame`` is one of ADSL's.

    One error per file and unknown subject, naming its first row and how many rows it has.
    """
    if "USUBJID" not in frame.columns:
        return
    ids = frame["USUBJID"].astype("str").fillna("")
    unknown = (ids != "") & ~ids.isin(subjects)
    flagged = frame.loc[unknown.to_numpy(), [FILE_COLUMN, ROW_COLUMN, "USUBJID"]]
    for (file, subject), group in flagged.groupby([FILE_COLUMN, "USUBJID"], sort=False):
        add(
            issues, "error", file=str(file), row=int(group[ROW_COLUMN].iloc[0]),
            usubjid=str(subject), variable="USUBJID", rule="subject-not-in-adsl",
            message=(f"{dataset} subject {subject!r} is not in ADSL"
                     f"{_more(len(group))}"),
        )


def format_errors(issues: DataIssues, folder: object, limit: int = MAX_LISTED_ERRORS) -> str:
    """The message of the :class:`~msc_analysis.errors.DataError` for the recorded errors.

    One line per error: ``<file> data row <n>: variable <V>, rule <rule>: <message>``; after
    ``limit`` lines a count of the rest.
    """
    errors = issues.errors()
    head = (f"{len(errors)} data error(s) in study folder {folder} (row numbers count data rows "
            "from 1, header line excluded):")
    lines = [head]
    for error in errors[:limit]:
        where = str(error["file"])
        if error["row"] != "":
            where += f" data row {error['row']}"
        what = f"variable {error['variable']}, " if error["variable"] else ""
        lines.append(f"  {where}: {what}rule {error['rule']}: {error['message']}")
    if len(errors) > limit:
        lines.append(f"  ... and {len(errors) - limit} more error(s) (all are in the data "
                     "issues; write them with --issues FILE)")
    return "\n".join(lines)
