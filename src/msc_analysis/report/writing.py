"""Writing the report's files into its build folder (see :mod:`msc_analysis.report.build`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from msc_analysis import ard as ard_mod
from msc_analysis.csv_cells import neutralise, neutralise_column
from msc_analysis.render.column_text import iso_texts
from msc_analysis.render.table import DisplayTable
from msc_analysis.render.writers import write_table
from msc_analysis.report import safety_step
from msc_analysis.report.manifest import build_manifest, write_manifest
from msc_analysis.report.output_names import stem

__all__ = ["derived_datasets", "stem", "write_dataset", "write_outputs",
           "write_page_and_manifest"]


def write_outputs(results: Any, build: Path, table_list: Sequence[DisplayTable]) -> None:
    """Write the tables (CSV, HTML, RTF), the ARD, the data issues and the derived datasets
    into the build folder ``build``."""
    for table in table_list:
        write_table(table, build / "tables", stem(table.kind, table.number))
    ard_mod.write(results.ard, build / "ard.csv")
    results.issues.write(build / "data_issues.csv")
    for name, frame in derived_datasets(results).items():
        write_dataset(frame, build / "datasets" / f"{name}.csv")


def write_page_and_manifest(results: Any, build: Path, page: str, *, sap_file: Path) -> None:
    """Write report.html and, last, manifest.json, which lists every file of ``build``."""
    (build / "report.html").write_text(page, encoding="utf-8")
    outputs = sorted(str(p.relative_to(build)) for p in build.rglob("*") if p.is_file())
    manifest = build_manifest(
        inputs={name: path for name, path in results.study.files.items()},
        sap_file=sap_file, sap_settings=results.sap, cutoff=str(results.cutoff.date()),
        seed=results.sap.seed, code_dir=Path(__file__).resolve().parent,
        outputs=[*outputs, "manifest.json"],
    )
    write_manifest(manifest, build / "manifest.json")


def derived_datasets(results: Any) -> dict[str, pd.DataFrame]:
    """The derived analysis datasets written with the report (any number can be re-checked)."""
    found: dict[str, pd.DataFrame] = {"adsl": results.study.adsl, "adtte": results.tte}
    if results.prepost is not None:
        found["adlb_prepost"] = results.prepost.lab
        found["adlb_sessions"] = results.prepost.pairs
        found["adlb_visits"] = results.prepost.windows
    found.update(safety_step.datasets(results.safety))
    return found


def write_dataset(frame: pd.DataFrame, path: Path, *, chunk_rows: int = 200_000) -> None:
    """Write a derived dataset as CSV: ISO dates, shortest round-trip floats, no index.

    Written with pyarrow's CSV writer (pandas' writer formats every value in Python: over a
    minute for the 10,000-subject report's 550 MB of datasets). The columns are handed to Arrow
    without copying where pandas already holds them as Arrow or numpy arrays, and the text is
    formatted ``chunk_rows`` rows at a time. Text values are quoted, numbers are not; a missing
    value is an empty field. Floats are written with the fewest digits that read back to the
    same double (``0.1`` as ``0.1``, ``21.0`` as ``21``), dates as ``YYYY-MM-DD`` and datetimes
    as ``YYYY-MM-DDTHH:MM`` (:func:`~msc_analysis.render.column_text.iso_texts`). Text cells
    (and column names) are neutralised against formula injection
    (:mod:`msc_analysis.csv_cells`, whose :func:`~msc_analysis.csv_cells.read_csv` reads them
    back); numbers are not.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = frame.drop(columns=[c for c in ("_file", "_row") if c in frame.columns])
    columns = {neutralise(str(name)): _arrow_column(frame[name]) for name in frame.columns}
    table = pa.table(columns) if columns else pa.table({})
    with pacsv.CSVWriter(str(path), table.schema) as writer:
        for start in range(0, max(table.num_rows, 1), chunk_rows):
            writer.write_table(table.slice(start, chunk_rows))


def _arrow_column(values: pd.Series) -> pa.Array:
    """One dataset column as an Arrow array of what the CSV shows (missing values as nulls)."""
    missing = values.isna().to_numpy(dtype=bool)
    mask = missing if missing.any() else None
    if pd.api.types.is_datetime64_any_dtype(values):
        return pa.array(iso_texts(values), type=pa.string(), mask=mask)
    if pd.api.types.is_bool_dtype(values):
        text = np.where(values.to_numpy(dtype=bool, na_value=False), "True", "False")
        return pa.array(text, type=pa.string(), mask=mask)
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype=float, na_value=np.nan) if mask is not None \
            else values.to_numpy()
        return pa.array(numbers, mask=mask)
    try:
        return pa.array(neutralise_column(values), type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed object column: each value as text
        text = [None if gone else neutralise(str(v))
                for v, gone in zip(values.to_numpy(object), missing, strict=True)]
        return pa.array(text, type=pa.string())
