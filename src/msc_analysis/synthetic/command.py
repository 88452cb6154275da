"""The ``simulate`` verb: write a seeded synthetic study.

``msc-analysis simulate --subjects N --seed S --out DIR [--sessions K] [--settings FILE.toml]``
writes adsl.csv, adex.csv, adlb.csv, adae.csv, advs.csv, screening_log.csv and simulation.toml
(every setting of the run, readable again with ``--settings``) into DIR. Options given on the
command line override the settings file, which overrides the defaults.

DIR is written atomically (:mod:`msc_analysis.report.atomic`): it must be new, empty or a study
simulated before (recognised by its ``simulation.toml``), and is replaced in one step when the
whole run succeeded. Files of that folder that ``simulate`` did not write (a README, for
example) are kept. Any other folder is refused; ``--force`` moves it aside, whole, to
``DIR.kept-<n>``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from msc_analysis.cli import existing_file, output_folder
from msc_analysis.report.atomic import OutputKind, atomic_folder
from msc_analysis.synthetic.generator import simulate
from msc_analysis.synthetic.settings import (
    SimulationSettings,
    load_settings,
    settings_to_toml,
)
from msc_analysis.synthetic.writer import FILE_NAMES, write_study

log = logging.getLogger(__name__)

#: File recording the settings of a run, next to the data.
SETTINGS_FILE = "simulation.toml"


def simulated_files(folder: Path) -> frozenset[str] | None:
    """The files ``simulate`` wrote in ``folder``, if it holds a simulated study (recognised by
    the first line of :data:`SETTINGS_FILE` as :func:`settings_to_toml` writes it), else None."""
    header = settings_to_toml(SimulationSettings()).splitlines()[0]
    try:
        with (folder / SETTINGS_FILE).open(encoding="utf-8") as handle:
            first = handle.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError):
        return None
    if first != header:
        return None
    return frozenset(name for name in (*FILE_NAMES.values(), SETTINGS_FILE)
                     if (folder / name).is_file() and not (folder / name).is_symlink())


#: A simulated study as an output folder: the files of a previous one are replaced, other files
#: are kept.
SIMULATED_STUDY = OutputKind("simulate", "simulated study", simulated_files,
                             keeps_other_files=True)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` verb."""
    parser = subparsers.add_parser(
        "simulate",
        help="write a seeded synthetic study (ADaM CSV files)",
        description="Simulate the NCT06904755 trial and write ADSL, ADEX, ADLB, ADAE, ADVS and "
                    "the screening log as CSV files.",
    )
    parser.add_argument("--subjects", type=int, default=None, metavar="N",
                        help="number of enrolled subjects (default 10)")
    parser.add_argument("--seed", type=int, default=None, metavar="S",
                        help="random seed (default 6904755)")
    parser.add_argument("--out", type=output_folder, required=True, metavar="DIR",
                        help="output folder: new, empty or a study simulated before (its "
                             "files are replaced, others kept); anything else is refused")
    parser.add_argument("--force", action="store_true",
                        help="accept an output folder that holds other files: it is moved "
                             "aside, whole, to DIR.kept-<n> (nothing is deleted)")
    parser.add_argument("--sessions", type=int, default=None, metavar="K",
                        help="planned purification sessions per subject (default 3)")
    parser.add_argument("--settings", type=existing_file, default=None, metavar="FILE",
                        help="TOML file of simulation settings")
    parser.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> SimulationSettings:
    """Settings from the defaults, the settings file and the command-line options."""
    settings = load_settings(args.settings) if args.settings else SimulationSettings()
    overrides = {name: value for name, value in (("n_subjects", args.subjects),
                                                 ("seed", args.seed),
                                                 ("n_sessions", args.sessions))
                 if value is not None}
    return dataclasses.replace(settings, **overrides) if overrides else settings


def run(args: argparse.Namespace) -> int:
    """Simulate and write the study; return 0."""
    settings = settings_from_args(args)
    with atomic_folder(Path(args.out), SIMULATED_STUDY,
                       force=args.force) as build:
        written = write_study(simulate(settings), build)
        with (build / SETTINGS_FILE).open("w", encoding="utf-8", newline="") as handle:
            handle.write(settings_to_toml(settings))
    log.info("simulated %d subjects with seed %d into %s (%d files)", settings.n_subjects,
             settings.seed, args.out, len(written))
    return 0
