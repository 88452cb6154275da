"""The ``msc-analysis safety`` verb: every safety table, its ARD and the data issues.

``msc-analysis safety --data DIR --out DIR [--by VAR] [--sap FILE] [--cutoff DATE] [--force]``
loads the
study folder, keeps the data known at the cut-off date when one is given (as the report does,
:func:`msc_analysis.derive.cutoff.apply_cutoff`; default: all data, the cut-off being the last
date in them), runs the SAF-* analyses whose datasets are present (logging those skipped and
why) and writes, atomically (:mod:`msc_analysis.report.atomic`: ``OUT`` must be a new or empty
folder or a previous safety output, and is replaced only when the whole run succeeded), to ``OUT``:

- ``tables/``: each table and listing as CSV (the ARD rows behind every cell), HTML and RTF,
  named after its number (``t14_3_1_1.csv``, ``l16_2_7_1.html``);
- ``ard.csv``: the ARD rows of every analysis;
- ``data_issues.csv``: every warning, note and excluded record;
- ``manifest.json``: inputs' SHA-256, settings, versions, commit, the files written, and the
  marker of a safety output of msc-analysis (which a later run may replace).
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from msc_analysis.cli import existing_file, output_folder
from msc_analysis.errors import AnalysisError, SettingsError

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``safety`` verb to the command line."""
    parser = subparsers.add_parser(
        "safety",
        help="safety tables (ICH E3 14.3), listings and their ARD",
        description=("Run the safety analyses of the SAP on a study folder (this trial's CSV "
                     "files or standard ADaM such as the CDISC pilot) and write the tables, "
                     "listings, ard.csv, data_issues.csv and manifest.json into the output "
                     "folder, which is replaced only when the whole run succeeded."),
    )
    parser.add_argument("--data", required=True, type=Path, metavar="DIR",
                        help="study folder with adsl, adae, adlb, adex, advs")
    parser.add_argument("--out", required=True, type=output_folder, metavar="DIR",
                        help="output folder: new, empty or a previous safety output of "
                             "msc-analysis (replaced as a whole when the run succeeds; "
                             "anything else is refused; never the data folder)")
    parser.add_argument("--force", action="store_true",
                        help="accept an output folder that holds other files: it is moved "
                             "aside, whole, to DIR.kept-<n> (nothing is deleted)")
    parser.add_argument("--by", default=None, metavar="VAR",
                        help="grouping variable, one column per level (e.g. TRTA); denominators "
                             "from ADSL SAFFL = 'Y' by the ADSL equivalent (TRT01A)")
    parser.add_argument("--sap", default=None, type=existing_file, metavar="FILE",
                        help="SAP settings (default: sap/sap.toml in this folder or above)")
    parser.add_argument("--cutoff", default=None, metavar="DATE",
                        help="data cut-off date YYYY-MM-DD: data after it are left out and "
                             "monitoring rows whose window is still open are marked "
                             "provisional (default: the last date in the data)")
    parser.set_defaults(func=run)


def _analyses_for(folder: Path) -> tuple[str, ...]:
    """The loader's analyses to validate for: safety, plus those whose datasets exist."""
    from msc_analysis.io.readers import find_sources

    present = {s.dataset for s in find_sources(folder)} if folder.is_dir() else set()
    wanted = ["safety"]
    for dataset, analysis in (("ADLB", "labs"), ("ADEX", "exposure"), ("ADVS", "vitals")):
        if dataset in present:
            wanted.append(analysis)
    return tuple(wanted)


def _cutoff_date(text: str) -> str:
    """The ``YYYY-MM-DD`` cut-off date checked, or a SettingsError saying what is wrong."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(text).strip()):
        raise SettingsError(f"--cutoff {text!r} is not a date of the form YYYY-MM-DD")
    try:
        return date.fromisoformat(str(text).strip()).isoformat()
    except ValueError as exc:
        raise SettingsError(f"--cutoff {text!r} is not a valid date: {exc}") from None


def run(args: argparse.Namespace) -> int:
    """Run the ``safety`` verb; return the exit status.

    Nothing is written to ``--out`` unless the whole run succeeds (then the folder is replaced
    in one step); a refused or failed run leaves it as it was.
    """
    from msc_analysis.analyses.safety import run_safety
    from msc_analysis.derive.cutoff import apply_cutoff
    from msc_analysis.io.issues import DataIssues
    from msc_analysis.io.loading import load_study
    from msc_analysis.render.safety_tables import write_safety_outputs
    from msc_analysis.report.atomic import SAFETY, atomic_folder
    from msc_analysis.sap import find_sap, load_sap

    sap_file = Path(args.sap) if args.sap is not None else find_sap()
    sap = load_sap(sap_file)
    issues = DataIssues()
    out = Path(args.out)
    with atomic_folder(out, SAFETY, data=Path(args.data), force=args.force) as build:
        study = load_study(args.data, analyses=_analyses_for(Path(args.data)), issues=issues)
        if args.by is not None and not str(args.by).strip():
            raise SettingsError("--by needs a variable name")
        day = None
        if args.cutoff is not None:
            study, day = apply_cutoff(study, _cutoff_date(args.cutoff), issues)
            if study.adsl.empty:  # as the report (msc_analysis.report.build.prepare)
                raise AnalysisError(f"no subject was enrolled by the cut-off {day.date()}")
        results = run_safety(study, sap, issues, by=args.by, cutoff=day)
        written = write_safety_outputs(results, sap, build)
        issues.write(build / "data_issues.csv")
        _write_manifest(build, study.files, sap, sap_file,
                        str(day.date()) if day is not None else "last date in the data")
    for aid, reason in results.skipped.items():
        log.warning("%s skipped: %s", aid, reason)
    log.info("safety: %d tables and listings, %d ARD rows written to %s", len(written),
             len(results.ard), out)
    return 0


def _write_manifest(build: Path, inputs: Mapping[str, Path], sap: object, sap_file: Path,
                    cutoff: str) -> None:
    """Write ``manifest.json`` (last): inputs, settings, software and every file written."""
    from msc_analysis.report.manifest import build_manifest, write_manifest

    outputs = sorted(p.relative_to(build).as_posix() for p in build.rglob("*") if p.is_file())
    manifest = build_manifest(inputs=inputs, sap_file=sap_file, sap_settings=sap, cutoff=cutoff,
                              seed=getattr(sap, "seed", None),
                              code_dir=Path(__file__).resolve().parent,
                              outputs=[*outputs, "manifest.json"], output="safety")
    write_manifest(manifest, build / "manifest.json")
