"""The ``msc-analysis validate DIR`` verb: load and validate a study folder, print a summary."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from msc_analysis.errors import OutputError
from msc_analysis.io.issues import ISSUE_COLUMNS, DataIssues
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
                        help="write the data issues (warnings, notes, errors) to this CSV: a "
                             "new file, or one an earlier validate wrote (replaced); never a "
                             "file in the study folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``validate``; return the exit status (errors are raised as DataError)."""
    analyses = tuple(a for a in str(args.analyses).split(",") if a.strip())
    if args.issues is not None:
        check_issues_file(args.issues, args.folder)
    issues = DataIssues()
    try:
        study = load_study(args.folder, analyses=analyses, issues=issues)
    finally:
        if args.issues is not None:
            try:
                issues.write(args.issues)
            except OSError as exc:
                raise OutputError(f"cannot write the data issues to {args.issues}: "
                                  f"{exc.strerror or exc}") from None
            log.info("data issues written to %s", args.issues)
    sys.stdout.write(summary_text(study, issues))
    return 0


def check_issues_file(path: Path, folder: Path) -> None:
    """Refuse an ``--issues`` file that would replace something the package did not write.

    Accepted: a file that does not exist yet, or a data-issues file (its first line is the
    header of :data:`~msc_analysis.io.issues.ISSUE_COLUMNS`), outside the study folder.

    Raises
    ------
    OutputError
        Naming the file and why it is refused.
    """
    target, study = path.resolve(), folder.resolve()
    if target == study or study in target.parents:
        raise OutputError(f"--issues {path} lies in the study folder {folder}: writing there "
                          "could replace the study's data; give a file outside it")
    if not path.exists():
        return
    if not path.is_file():
        raise OutputError(f"--issues {path} is not a file: give the path of a new CSV file")
    header = ",".join(ISSUE_COLUMNS)
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            first = handle.readline().strip().lstrip("\ufeff")
    except OSError as exc:
        raise OutputError(f"--issues {path} cannot be read: {exc.strerror or exc}") from None
    if first != header:
        raise OutputError(f"--issues {path} exists and is not a data-issues file of "
                          "msc-analysis: nothing was written; give a new file name")


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
