"""The ``report`` verb: ``msc-analysis report --data DIR --out OUT [--cutoff DATE]``."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date
from pathlib import Path

from msc_analysis.errors import SettingsError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``report`` verb."""
    parser = subparsers.add_parser(
        "report", help="build the interim report (tables, figures, ARD, report.html)",
        description="Build the interim report of a study folder into OUT, atomically.")
    parser.add_argument("--data", required=True, type=Path, help="study folder (ADaM datasets)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (replaced)")
    parser.add_argument("--cutoff", default=None,
                        help="data cut-off date YYYY-MM-DD (default: the last date in the data)")
    parser.add_argument("--sap", default=None, type=Path,
                        help="SAP settings file (default: sap/sap.toml here or above)")
    parser.add_argument("--max-subject-figures", type=int, default=60,
                        help="cap on subjects drawn in per-subject figures (default 60)")
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
                 parallel=False if args.serial else None)
    sys.stdout.write(f"Report: {args.out / 'report.html'}\n")
    return 0
