"""The ``init`` verb: ``msc-analysis init DIR`` copies the SAP and the notebooks for a study.

The copies are the study's own to edit: ``DIR/sap/sap.toml`` (the settings the code reads),
``DIR/sap/SAP.md`` (the document) and ``DIR/notebooks/``. Commands run in ``DIR`` (or a folder
below it) then find ``DIR/sap/sap.toml`` instead of the package's copy. ``DIR`` must be new or
empty: nothing is overwritten.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from msc_analysis.cli import output_folder
from msc_analysis.errors import OutputError
from msc_analysis.resources import STUDY_FILES, resource_path

__all__ = ["init_study", "register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``init`` verb."""
    parser = subparsers.add_parser(
        "init", help="copy the SAP and the notebooks into a new folder, for a study to edit",
        description="Copy sap/sap.toml, sap/SAP.md and the notebooks shipped with msc-analysis "
                    "into DIR (new or empty), where they are the study's own to edit.")
    parser.add_argument("folder", metavar="DIR", type=output_folder,
                        help="a new or empty folder")
    parser.set_defaults(func=run)


def init_study(folder: Path) -> list[Path]:
    """Copy :data:`~msc_analysis.resources.STUDY_FILES` into ``folder`` (new or empty).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    OutputError
        When ``folder`` is a file or a non-empty folder (nothing is written), or cannot be
        written.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file, not a folder: give a new or empty folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise OutputError(f"{folder} is not empty: nothing was written; give a new or empty "
                          "folder (init never overwrites)")
    written = []
    try:
        for name in STUDY_FILES:
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(resource_path(name), target)
            written.append(target)
    except OSError as exc:
        raise OutputError(f"cannot write the study files to {folder}: "
                          f"{exc.strerror or exc}") from None
    return written


def run(args: argparse.Namespace) -> int:
    """Copy the files and say what to do next."""
    written = init_study(args.folder)
    sys.stdout.write(f"Wrote {len(written)} files to {args.folder}: edit sap/sap.toml and "
                     f"sap/SAP.md there; commands run in {args.folder} use them.\n")
    return 0
