"""The ``msc-analysis validate DIR`` verb: load and validate a study folder, print a summary."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import Study, load_study
from msc_analysis.io.schema import ANALYSES

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``validate`` verb to the command line."""
    parser = subparsers.add_parser(
        "validate",
        help="check a study folder against the data model",
        description=(
            "Read the ADaM datasets of a study folder (CSV, SAS transport .xpt / .xpt.gz, "
            "Parquet), check them against the declared schemas and print what was read. Exit "
            "status 1 with every error listed when a rule is broken."
        ),
    )
    parser.add_argument("folder", metavar="DIR", type=Path, help="the study folder")
    parser.add_argument(
        "--analyses",
        default="core",
        metavar="LIST",
        help=("comma-separated analyses the data must support, from: "
              f"{', '.join(ANALYSES)} (default: core, i.e. only what every analysis needs)"),
    )
    parser.add_argument("--issues", type=Path, metavar="FILE",
                        help="write the data issues (warnings, notes, errors) to this CSV")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``validate``; return the exit status (errors are raised as DataError)."""
    analyses = tuple(a for a in str(args.analyses).split(",") if a.strip())
    issues = DataIssues()
    try:
        study = load_study(args.folder, analyses=analyses, issues=issues)
    finally:
        if args.issues is not None:
            issues.write(args.issues)
            log.info("data issues written to %s", args.issues)
    sys.stdout.write(summary_text(study, issues))
    return 0


def summary_text(study: Study, issues: DataIssues) -> str:
    """The summary ``validate`` prints: datasets, files, rows, subjects and issue counts."""
    table = study.summary()
    lines = [f"Study folder {study.folder} is valid for: {', '.join(study.analyses)}"]
    widths = {c: max(len(c), *(len(str(v)) for v in table[c])) for c in table.columns}
    header = "  ".join(c.ljust(widths[c]) for c in table.columns)
    lines.append(header)
    for record in table.itertuples(index=False):
        cells = []
        for name, value in zip(table.columns, record, strict=True):
            text = str(value)
            cells.append(text.rjust(widths[name]) if name in ("rows", "subjects")
                         else text.ljust(widths[name]))
        lines.append("  ".join(cells).rstrip())
    counts = issues.frame()["severity"].value_counts()
    detail = ", ".join(f"{int(counts.get(s, 0))} {s}(s)" for s in ("warning", "note"))
    lines.append(f"Subjects in ADSL: {study.adsl['USUBJID'].nunique()}")
    lines.append(f"Data issues: {len(issues)} ({detail})")
    return "\n".join(lines) + "\n"
