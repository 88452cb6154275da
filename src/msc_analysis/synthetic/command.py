"""The ``simulate`` verb: write a seeded synthetic study.

``msc-analysis simulate --subjects N --seed S --out DIR [--sessions K] [--settings FILE.toml]``
writes adsl.csv, adex.csv, adlb.csv, adae.csv, advs.csv, screening_log.csv and simulation.toml
(every setting of the run, readable again with ``--settings``) into DIR. Options given on the
command line override the settings file, which overrides the defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from msc_analysis.synthetic.generator import simulate
from msc_analysis.synthetic.settings import (
    SimulationSettings,
    load_settings,
    settings_to_toml,
)
from msc_analysis.synthetic.writer import write_study

log = logging.getLogger(__name__)

#: File recording the settings of a run, next to the data.
SETTINGS_FILE = "simulation.toml"


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
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="output folder (created if needed)")
    parser.add_argument("--sessions", type=int, default=None, metavar="K",
                        help="planned purification sessions per subject (default 3)")
    parser.add_argument("--settings", type=Path, default=None, metavar="FILE",
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
    datasets = simulate(settings)
    written = write_study(datasets, args.out)
    settings_file = Path(args.out) / SETTINGS_FILE
    with settings_file.open("w", encoding="utf-8", newline="") as handle:
        handle.write(settings_to_toml(settings))
    log.info("simulated %d subjects with seed %d into %s (%d files)", settings.n_subjects,
             settings.seed, args.out, len(written))
    return 0
