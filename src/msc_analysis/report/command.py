"""The ``report`` verb: ``msc-analysis report --data DIR --out OUT [--cutoff DATE] [--force]``."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date
from pathlib import Path

from msc_analysis.cli import existing_file, output_folder, positive_int
from msc_analysis.errors import SettingsError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``report`` verb."""
    parser = subparsers.add_parser(
        "report", help="build the interim report (tables, figures, ARD, report.html)",
        description=(
            "Build the interim report of a study folder into OUT, atomically: OUT is replaced "
            "only when the whole build succeeded, and then in one step. OUT must be a new or "
            "empty folder or a previous report of msc-analysis (recognised by its "
            "manifest.json, and holding only the files listed there); it may not be, contain "
            "or lie inside the data folder. Anything else is refused and left as it was."))
    parser.add_argument("--data", required=True, type=Path, help="study folder (ADaM datasets)")
    parser.add_argument("--out", required=True, type=output_folder,
                        help="output folder: new, empty or a previous report (replaced)")
    parser.add_argument("--force", action="store_true",
                        help="accept an OUT that holds other files: it is moved aside, whole, "
                             "to OUT.kept-<n> (nothing is deleted; never for the data folder)")
    parser.add_argument("--cutoff", default=None,
                        help="data cut-off date YYYY-MM-DD (default: the last date in the data)")
    parser.add_argument("--sap", default=None, type=existing_file,
                        help="SAP settings file (default: sap/sap.toml here or above)")
    parser.add_argument("--max-subject-figures", type=positive_int, default=60, metavar="N",
                        help="cap on subjects drawn in per-subject figures, 1 or more "
                             "(default 60)")
    parser.add_argument("--serial", action="store_true",
                        help="draw the figures in this process, after the rest (default: in a "
                             "second process, side by side with writing the tables)")
    parser.set_defaults(func=run)


def check_date(text: str) -> date:
    """Parse a YYYY-MM-DD cut-off date, or raise a SettingsError saying what is wrong."""
    if not _DATE.match(text):
        raise SettingsError(f"--cutoff {text!r} is not a date of the form YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise SettingsError(f"--cutoff {text!r} is not a valid date: {exc}") from None


def run(args: argparse.Namespace) -> int:
    """Build the report and say where it is."""
    from msc_analysis.report.build import build_report

    if args.cutoff is not None:
        check_date(args.cutoff)
    build_report(args.data, args.out, sap_path=args.sap, cutoff=args.cutoff,
                 max_subject_figures=args.max_subject_figures, show_progress=not args.quiet,
                 parallel=False if args.serial else None, force=args.force)
    sys.stdout.write(f"Report: {args.out / 'report.html'}\n")
    return 0
