"""The ``msc-analysis`` command line: simulate, validate, safety, report.

Each layer registers its own verb through a ``register(subparsers)`` function in a module named
``command``; this module only assembles them, sets up logging and turns
:class:`~msc_analysis.errors.MscError` into a plain message and exit status 1. It also holds the
argument types the verbs share (:func:`positive_int`, :func:`existing_file`,
:func:`output_folder`): a value they refuse is a usage error (a message naming the option,
exit status 2), before anything is read or written.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from msc_analysis import __version__
from msc_analysis.errors import MscError

#: Modules that each add one verb, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "msc_analysis.synthetic.command",
    "msc_analysis.io.command",
    "msc_analysis.analyses.command",
    "msc_analysis.report.command",
    "msc_analysis.resources.command",
)

log = logging.getLogger("msc_analysis")

#: Thread pools of the numerical libraries (OpenBLAS, OpenMP, MKL) the command line runs with
#: one thread, unless these variables are set (to something other than ""). The analyses work
#: on many small matrices, where the pool's threads cost more than they save (the 10-subject
#: pre/post analyses took 2.8 times as long with OpenBLAS's default pool on 2 cores), and the
#: report gives the second core to its figure process.
NATIVE_THREAD_VARIABLES: tuple[str, ...] = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                            "MKL_NUM_THREADS")


def limit_native_threads() -> None:
    """One thread for the numerical libraries' pools (see :data:`NATIVE_THREAD_VARIABLES`).

    Takes effect only before numpy is first imported: :func:`main` calls it before importing
    the verbs' modules.
    """
    for name in NATIVE_THREAD_VARIABLES:
        if not os.environ.get(name):  # unset or empty: the libraries' default pool
            os.environ[name] = "1"


def positive_int(text: str) -> int:
    """An argument that must be a whole number of 1 or more (``--max-subject-figures 5``)."""
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {text!r}")
    return value


def existing_file(text: str) -> Path:
    """An argument that must name an existing file (a settings file)."""
    path = Path(text)
    if not text.strip():
        raise argparse.ArgumentTypeError("needs the path of a file, got an empty string")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no file {text}")
    return path


def output_folder(text: str) -> Path:
    """An argument that names an output folder: a non-empty path (what may be written there
    is checked by :func:`msc_analysis.report.output_folder.check_output`)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("needs the path of a folder, got an empty string")
    return Path(text)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered verb."""
    parser = argparse.ArgumentParser(
        prog="msc-analysis",
        description="Analyses, tables and interim reports for trial NCT06904755.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    limit_native_threads()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except MscError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1


def run() -> None:
    """The console entry point: :func:`main`, then exit with its status.

    Before exiting, every object is frozen (:func:`gc.freeze`): the interpreter's clean-up
    would otherwise run full garbage-collection passes over the whole heap, which took 0.3 s
    after a report, to free memory the end of the process frees anyway. (Not done in
    :func:`main`, which tests and notebooks call in a process that goes on.)
    """
    status = main()
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    run()
