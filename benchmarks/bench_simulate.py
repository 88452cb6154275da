"""Benchmark of the synthetic trial generator, and a check that its output is valid.

Times ``simulate`` for 10, 1,000, 10,000 and 100,000 enrolled subjects (and ``write_study`` up to
``--write-max`` subjects) and prints wall time and peak memory: the process's maximum resident
set size after the step (sizes run in increasing order, so it is the peak of the largest run so
far) and, up to ``--trace-max`` subjects, tracemalloc's peak of Python and NumPy allocations in
a second, traced run (tracing slows the run down, so it is not timed).

Up to ``--validate-max`` subjects the written study is also read back and validated by
``load_study`` (what ``msc-analysis validate`` runs) for every analysis; the ``validate`` line
gives the time and the result, ``valid`` or the number of errors per rule, and the exit status
is 1 when any study was refused (the generator must always write data its validator accepts).

Usage::

    .venv/bin/python benchmarks/bench_simulate.py [--sizes 10 1000 10000 100000]
        [--write-max 10000] [--validate-max 10000] [--seed 1]
    .venv/bin/python benchmarks/bench_simulate.py --sizes 10000 --seed 3   # issue 11's study
"""

from __future__ import annotations

import argparse
import collections
import logging
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from msc_analysis.errors import DataError
from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import load_study
from msc_analysis.io.schema import ANALYSES
from msc_analysis.synthetic import SimulationSettings, simulate, write_study


def max_rss_mib() -> float:
    """Maximum resident set size of this process so far, MiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def timed(func: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``func``; return its result and wall seconds."""
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start


def traced_peak(func: Callable[[], Any]) -> float:
    """Peak traced allocation (MiB) while running ``func``."""
    tracemalloc.start()
    func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def validation_result(folder: Path) -> str:
    """Validate a study folder for every analysis; ``valid`` or the errors counted per rule."""
    issues = DataIssues()
    try:
        load_study(folder, analyses=ANALYSES, issues=issues)
    except DataError:
        pass
    rules = collections.Counter(str(e["rule"]) for e in issues.errors())
    if not rules:
        return "valid"
    return "REFUSED: " + ", ".join(f"{n} {rule}" for rule, n in sorted(rules.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1_000, 10_000, 100_000])
    parser.add_argument("--write-max", type=int, default=10_000,
                        help="also time writing the CSV files up to this many subjects")
    parser.add_argument("--trace-max", type=int, default=1_000,
                        help="measure tracemalloc peaks up to this many subjects")
    parser.add_argument("--validate-max", type=int, default=10_000,
                        help="also validate the written study up to this many subjects")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)  # the loader's per-file lines would break up the table
    refused = 0
    print(f"{'subjects':>9} {'step':>9} {'seconds':>8} {'max RSS MiB':>12} "
          f"{'traced MiB':>11} {'rows':>11}")
    for n in sorted(args.sizes):
        settings = SimulationSettings(n_subjects=n, seed=args.seed)
        data, seconds = timed(lambda s=settings: simulate(s))
        rows = sum(len(f) for f in data.values())
        traced = (f"{traced_peak(lambda s=settings: simulate(s)):>11.0f}"
                  if n <= args.trace_max else f"{'-':>11}")
        print(f"{n:>9,} {'simulate':>9} {seconds:>8.2f} {max_rss_mib():>12,.0f} {traced} "
              f"{rows:>11,}")
        if n <= args.write_max:
            with tempfile.TemporaryDirectory() as tmp:
                _, seconds = timed(lambda d=data, t=tmp: write_study(d, Path(t)))
                print(f"{n:>9,} {'write':>9} {seconds:>8.2f} {max_rss_mib():>12,.0f} "
                      f"{'-':>11} {rows:>11,}")
                if n <= args.validate_max:
                    result, seconds = timed(lambda t=tmp: validation_result(Path(t)))
                    refused += result != "valid"
                    print(f"{n:>9,} {'validate':>9} {seconds:>8.2f} {max_rss_mib():>12,.0f} "
                          f"{'-':>11} {rows:>11,}  seed {args.seed}: {result}")
        del data
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
