"""Writing the report's output folder, atomically (see :mod:`msc_analysis.report.build`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from msc_analysis import ard as ard_mod
from msc_analysis.render.style import save_figure
from msc_analysis.render.table import DisplayTable
from msc_analysis.render.writers import write_table
from msc_analysis.report import safety_step
from msc_analysis.report.atomic import atomic_folder
from msc_analysis.report.html_page import FigureItem
from msc_analysis.report.manifest import build_manifest, write_manifest

#: Columns written for datetimes and dates in derived datasets.
DATE_FORMAT = "%Y-%m-%d"


def stem(kind: str, number: str) -> str:
    """File stem of an output: ``t14_3_1_1``, ``f14_2_1``, ``l16_2_7_1``."""
    return kind[0].lower() + number.replace(".", "_")


def write_outputs(
    results: Any,
    table_list: Sequence[DisplayTable],
    figure_specs: Sequence[Any],
    out: Path,
    *,
    sap_file: Path,
    page: Callable[[Sequence[FigureItem]], str],
) -> None:
    """Write tables, figures, ARD, derived datasets, data issues, report page and manifest.

    Everything is written into a temporary folder first and moved to ``out`` at the end.
    """
    with atomic_folder(out) as build:
        for table in table_list:
            write_table(table, build / "tables", stem(table.kind, table.number))
        items = []
        for spec in figure_specs:
            paths = save_figure(spec.figure, build / "figures" / stem("figure", spec.number))
            plt.close(spec.figure)
            items.append(FigureItem(spec.number, spec.title, paths["png"].read_bytes(),
                                    spec.alt, tuple(spec.footnotes)))
        ard_mod.write(results.ard, build / "ard.csv")
        results.issues.write(build / "data_issues.csv")
        for name, frame in derived_datasets(results).items():
            write_dataset(frame, build / "datasets" / f"{name}.csv")
        (build / "report.html").write_text(page(items), encoding="utf-8")
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


def write_dataset(frame: pd.DataFrame, path: Path) -> None:
    """Write a derived dataset as CSV: ISO dates, full-precision floats, no index."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = frame.drop(columns=[c for c in ("_file", "_row") if c in frame.columns])
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            times = out[col].dropna()
            has_time = bool((times != times.dt.normalize()).any())
            fmt = "%Y-%m-%dT%H:%M" if has_time else DATE_FORMAT
            out[col] = out[col].dt.strftime(fmt).fillna("")
    out.to_csv(path, index=False, float_format="%.15g", lineterminator="\n")
