"""Loading a study folder: read, type, validate, convert units, and hand back a :class:`Study`.

Example (not run)::

    study = load_study("data/synthetic", analyses=("safety",), issues=DataIssues())
    study.adsl.shape

Every frame carries two provenance columns, ``_file`` (file name) and ``_row`` (1-based data row
in that file, header line excluded), so that later steps can name the record in
:class:`~msc_analysis.io.issues.DataIssues` when they exclude it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from msc_analysis.errors import DataError, SettingsError
from msc_analysis.io import units, validate
from msc_analysis.io.issues import DataIssues
from msc_analysis.io.readers import (
    FILE_COLUMN,
    ROW_COLUMN,
    DuplicateColumnsError,
    SourceFile,
    Table,
    find_sources,
    read_table,
)
from msc_analysis.io.schema import ANALYSES, SCHEMAS, DatasetSchema

log = logging.getLogger(__name__)

#: Datasets whose subjects must all be in ADSL.
SUBJECT_DATASETS: tuple[str, ...] = ("ADLB", "ADAE", "ADEX", "ADVS")
#: Datasets whose parameter values are converted to SI units.
UNIT_DATASETS: tuple[str, ...] = ("ADLB", "ADVS")


@dataclass(frozen=True)
class Study:
    """The validated datasets of one study folder.

    Attributes
    ----------
    adsl, adex, adlb, adae, advs : pandas.DataFrame or None
        The datasets (None when the folder has no file for it). ADLB stacks every ``adlb*``
        file (the CDISC Pilot's ``adlbc`` and ``adlbh``). Dates and datetimes are
        ``datetime64[ns]``, numbers float, text ``str`` without surrounding blanks (missing text
        ``""``); ADLB / ADVS values of the trial's parameters are in SI units (AVALU says which).
        Columns ``_file`` and ``_row`` give each record's file and 1-based data row.
    folder : Path
        The study folder.
    files : dict of str to Path
        Each file read, keyed by its lower-case dataset name as written in the file name
        (``adsl``, ``adae``; ``adlbc`` and ``adlbh`` for a split ADLB).
    analyses : tuple of str
        The analyses the data were validated for (``core`` always included).
    """

    adsl: pd.DataFrame
    adex: pd.DataFrame | None
    adlb: pd.DataFrame | None
    adae: pd.DataFrame | None
    advs: pd.DataFrame | None
    folder: Path
    files: Mapping[str, Path] = field(default_factory=dict)
    analyses: tuple[str, ...] = ("core",)

    def dataset(self, name: str) -> pd.DataFrame | None:
        """The dataset ``name`` (case-insensitive: ``"ADSL"`` or ``"adsl"``)."""
        key = name.lower()
        if key not in ("adsl", "adex", "adlb", "adae", "advs"):
            raise KeyError(name)
        return getattr(self, key)

    def paths(self, name: str) -> tuple[Path, ...]:
        """The files dataset ``name`` was read from (two for the Pilot's ADLB)."""
        prefix = name.lower()
        return tuple(p for k, p in self.files.items()
                     if k == prefix or (prefix == "adlb" and k.startswith("adlb")))

    def summary(self) -> pd.DataFrame:
        """One row per dataset read: dataset, files, rows, subjects."""
        rows = []
        for name in ("adsl", "adex", "adlb", "adae", "advs"):
            frame = getattr(self, name)
            if frame is None:
                continue
            subjects = frame["USUBJID"].nunique() if "USUBJID" in frame.columns else 0
            rows.append({
                "dataset": name.upper(),
                "files": ", ".join(p.name for p in self.paths(name)),
                "rows": len(frame),
                "subjects": int(subjects),
            })
        return pd.DataFrame(rows, columns=["dataset", "files", "rows", "subjects"])


def check_analyses(analyses: Iterable[str]) -> tuple[str, ...]:
    """Validate analysis names against :data:`~msc_analysis.io.schema.ANALYSES`.

    Returns
    -------
    tuple of str
        ``core`` followed by the requested names, without repeats.

    Raises
    ------
    SettingsError
        For a name that is not an analysis.
    """
    if isinstance(analyses, str):
        analyses = (analyses,)
    wanted: list[str] = ["core"]
    for name in analyses:
        name = str(name).strip().lower()
        if name not in ANALYSES:
            raise SettingsError(
                f"unknown analysis {name!r}; choose from {', '.join(ANALYSES)}")
        if name not in wanted:
            wanted.append(name)
    return tuple(wanted)


def load_study(
    folder: str | Path,
    analyses: Iterable[str] = ("core",),
    issues: DataIssues | None = None,
) -> Study:
    """Read and validate the ADaM datasets of a study folder.

    Parameters
    ----------
    folder : str or Path
        Folder holding ``adsl``, ``adex``, ``adlb`` (or ``adlb*`` parts), ``adae``, ``advs`` as
        CSV, SAS transport (``.xpt``, ``.xpt.gz``) or Parquet; names are case-insensitive.
    analyses : iterable of str
        Analyses the data must support (see :data:`~msc_analysis.io.schema.ANALYSES`);
        decides which datasets and variables are required and which findings are errors.
        ``core`` is always included.
    issues : DataIssues, optional
        Receives every finding: warnings, notes (unit conversions, reader fixes) and, when
        loading fails, the errors too.

    Returns
    -------
    Study
        The typed, validated datasets.

    Raises
    ------
    DataError
        When any rule gives an error; the message lists each (file, data row, variable, rule).
    SettingsError
        For an unknown analysis name.
    """
    started = time.perf_counter()
    root = Path(folder)
    wanted = check_analyses(analyses)
    found = DataIssues()
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise DataError(f"{root}: rule folder-missing: the study folder {what}")

    sources = find_sources(root)
    present = {s.dataset for s in sources}
    groups = _group_sources(sources, found)
    frames: dict[str, pd.DataFrame] = {}
    files: dict[str, Path] = {}
    for dataset, sources in groups.items():
        schema = SCHEMAS[dataset]
        frame = _load_dataset(schema, sources, wanted, found)
        if frame is not None:
            frames[dataset] = frame
            files.update({s.part: s.path for s in sources})

    for schema in SCHEMAS.values():
        users = sorted(set(schema.needed_by) & set(wanted))
        if users and schema.name not in present:
            validate.add(
                found, "error", file=root.name, rule="dataset-missing",
                message=(f"no {schema.name} file ({schema.name.lower()}.csv, .xpt, .xpt.gz or "
                         f".parquet) in {root}; it is needed by: {', '.join(users)}"),
            )

    for dataset, frame in frames.items():
        frames[dataset] = _validate_dataset(SCHEMAS[dataset], frame, wanted, found)
    if "ADSL" in frames and frames["ADSL"].empty:
        names = ", ".join(s.name for s in groups["ADSL"])
        validate.add(found, "error", file=names, rule="dataset-empty",
                     message=f"ADSL ({names}) has no records: a study without subjects cannot "
                             "be analysed")

    if "ADSL" in frames and "USUBJID" in frames["ADSL"].columns:
        subjects = set(frames["ADSL"]["USUBJID"].astype("str"))
        for dataset in SUBJECT_DATASETS:
            if dataset in frames:
                validate.check_subjects(frames[dataset], dataset, subjects, found)

    if issues is not None:
        issues.extend(found)
    if found.errors():
        raise DataError(validate.format_errors(found, root))

    study = Study(
        adsl=frames["ADSL"],
        adex=frames.get("ADEX"),
        adlb=frames.get("ADLB"),
        adae=frames.get("ADAE"),
        advs=frames.get("ADVS"),
        folder=root,
        files=files,
        analyses=wanted,
    )
    log.info("loaded %s for %s in %.2f s: %s", root, ", ".join(wanted),
             time.perf_counter() - started,
             "; ".join(f"{r.dataset} {r.rows} rows" for r in study.summary().itertuples()))
    return study


def _group_sources(sources: list[SourceFile], found: DataIssues) -> dict[str, list[SourceFile]]:
    """Group files by dataset; two files for one dataset are an error (rule file-duplicate)."""
    by_part: dict[str, list[SourceFile]] = {}
    for source in sources:
        by_part.setdefault(source.part, []).append(source)
    groups: dict[str, list[SourceFile]] = {}
    for part, same in by_part.items():
        if len(same) > 1:
            names = " and ".join(s.name for s in same)
            validate.add(
                found, "error", file=same[0].name, rule="file-duplicate",
                message=f"two files for dataset {part.upper()}: {names}; keep one",
            )
            continue
        groups.setdefault(same[0].dataset, []).append(same[0])
    adlb = groups.get("ADLB", [])
    if len(adlb) > 1 and any(s.part == "adlb" for s in adlb):
        names = " and ".join(s.name for s in adlb)
        validate.add(
            found, "error", file=adlb[0].name, rule="file-duplicate",
            message=(f"ADLB is given whole and in parts: {names}; keep either the one adlb "
                     "file or the adlb* parts"),
        )
        del groups["ADLB"]
    return groups


def _load_dataset(
    schema: DatasetSchema,
    sources: list[SourceFile],
    wanted: tuple[str, ...],
    found: DataIssues,
) -> pd.DataFrame | None:
    """Read, check presence and type each file of one dataset, and stack them."""
    interpreted = set(schema.interpreted_by(wanted))
    parts: list[pd.DataFrame] = []
    for source in sources:
        started = time.perf_counter()
        try:
            table = read_table(source)
        except DuplicateColumnsError as exc:
            for name in exc.names:
                validate.add(found, "error", file=source.name, variable=name,
                             rule="variable-duplicate",
                             message=f"variable {name} appears more than once in the header")
            continue
        except Exception as exc:  # any reader's failure on a damaged or foreign file
            _record_unreadable(source, exc, found)
            continue
        _record_notes(table, found)
        frame = table.frame
        if _wrong_delimiter(frame, source, found):
            continue
        validate.check_required(frame, schema, schema.required_for(wanted), source.name,
                                wanted, found)
        frame = validate.coerce_types(frame, schema, interpreted, source.kind, found)
        if source.kind == "csv":
            frame = validate.infer_undeclared(frame, schema)
        log.info("read %s: %d rows, %d variables (%.2f s)", source.name, len(frame),
                 frame.shape[1] - 2, time.perf_counter() - started)
        parts.append(frame)
    if not parts:
        return None
    return _stack(parts)


def _record_unreadable(source: SourceFile, exc: Exception, found: DataIssues) -> None:
    """Record why a file could not be read: its rule, row and variable when the reader knows
    them (rule ``file-unreadable`` otherwise)."""
    log.debug("reading %s failed", source.path, exc_info=True)
    rule = str(getattr(exc, "rule", "file-unreadable"))
    if isinstance(exc, UnicodeDecodeError) and source.kind == "csv":
        reason = _decode_problem(source.path, exc)
    elif isinstance(exc, OSError) and exc.strerror:
        reason = exc.strerror
    else:
        reason = str(exc) or type(exc).__name__
    what = "cannot read" if rule == "file-unreadable" else "refused"
    validate.add(found, "error", file=source.name, row=getattr(exc, "row", None),
                 variable=str(getattr(exc, "variable", "")), rule=rule,
                 message=f"{what} {source.path}: {reason}")


def _decode_problem(path: Path, exc: UnicodeDecodeError) -> str:
    """Where a CSV file stops being UTF-8: the byte and its line (1 = header)."""
    try:
        data = path.read_bytes()
        data.decode("utf-8-sig")
    except UnicodeDecodeError as found:
        line = data.count(b"\n", 0, found.start) + 1
        byte = data[found.start:found.start + 1].hex().upper()
        return (f"the file is not UTF-8 text: byte 0x{byte} on line {line} (the header is "
                "line 1) is no UTF-8 character; save the file as UTF-8")
    except OSError:
        pass
    return f"the file is not UTF-8 text ({exc})"


#: Delimiters other than the comma that a one-column CSV header may reveal.
_OTHER_DELIMITERS: tuple[tuple[str, str], ...] = ((";", "semicolons"), ("\t", "tabs"),
                                                  ("|", "vertical bars"))


def _wrong_delimiter(frame: pd.DataFrame, source: SourceFile, found: DataIssues) -> bool:
    """Rule ``delimiter``: a CSV whose header is one field holding another delimiter."""
    columns = [c for c in frame.columns if c not in (FILE_COLUMN, ROW_COLUMN)]
    if source.kind != "csv" or len(columns) != 1:
        return False
    for delimiter, name in _OTHER_DELIMITERS:
        if delimiter in columns[0]:
            shown = columns[0] if len(columns[0]) <= 60 else columns[0][:57] + "..."
            validate.add(found, "error", file=source.name, rule="delimiter",
                         message=(f"the header is one field, {shown!r}, separated by {name}: "
                                  "fields must be separated by commas"))
            return True
    return False


def _record_notes(table: Table, found: DataIssues) -> None:
    for variable, message in table.notes:
        validate.add(found, "note", file=table.source.name, variable=variable,
                     rule="reader", message=message)


def _stack(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack the parts of a dataset; columns typed differently across parts become text."""
    if len(parts) == 1:
        return parts[0]
    kinds: dict[str, set[str]] = {}
    for part in parts:
        for name in part.columns:
            kinds.setdefault(name, set()).add(_kind(part[name]))
    mixed = {name for name, k in kinds.items() if len(k) > 1}
    if mixed:
        parts = [p.assign(**{n: validate._as_text(p[n]) for n in mixed if n in p.columns})
                 for p in parts]
    stacked = pd.concat(parts, ignore_index=True, sort=False)
    for name in stacked.columns:
        if kinds[name] == {"text"} or name in mixed:
            stacked[name] = stacked[name].astype("str").fillna("")
    order = [c for c in stacked.columns if c not in (FILE_COLUMN, ROW_COLUMN)]
    return stacked[[*order, FILE_COLUMN, ROW_COLUMN]]


def _kind(values: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    if pd.api.types.is_numeric_dtype(values):
        return "number"
    return "text"


def _validate_dataset(
    schema: DatasetSchema, frame: pd.DataFrame, wanted: tuple[str, ...], found: DataIssues
) -> pd.DataFrame:
    """Upper-case codes, apply the single-dataset rules; convert units of ADLB / ADVS."""
    needed = set(schema.required_for(wanted))
    frame = validate.normalise_codes(frame, schema, found)
    validate.check_subject_ids(frame, schema.name, found)
    validate.check_controlled_terms(frame, schema, needed, found,
                                    used=set(schema.interpreted_by(wanted)))
    validate.check_ranges(frame, schema, found)
    validate.check_keys(frame, schema, found)
    validate.check_date_order(frame, schema.name, found)
    if schema.name in UNIT_DATASETS:
        frame = units.to_si(frame, schema.name, found)
        units.check_values(frame, schema.name, found)
    return frame
