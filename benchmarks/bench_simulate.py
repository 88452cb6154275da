"""Benchmark of the synthetic trial generator.

Times ``simulate`` for 10, 1,000 and 100,000 enrolled subjects (and ``write_study`` up to
``--write-max`` subjects) and prints wall time and peak memory: the process's maximum resident
set size after the step (sizes run in increasing order, so it is the peak of the largest run so
far) and, up to ``--trace-max`` subjects, tracemalloc's peak of Python and NumPy allocations in
a second, traced run (tracing slows the run down, so it is not timed).

Usage::

    .venv/bin/python benchmarks/bench_simulate.py [--sizes 10 1000 100000] [--write-max 10000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1_000, 100_000])
    parser.add_argument("--write-max", type=int, default=10_000,
                        help="also time writing the CSV files up to this many subjects")
    parser.add_argument("--trace-max", type=int, default=1_000,
                        help="measure tracemalloc peaks up to this many subjects")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
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
            print(f"{n:>9,} {'write':>9} {seconds:>8.2f} {max_rss_mib():>12,.0f} {'-':>11} "
                  f"{rows:>11,}")
        del data
    return 0


if __name__ == "__main__":
    sys.exit(main())
