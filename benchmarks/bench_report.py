"""Benchmark of ``msc-analysis report``: wall time and peak memory by study size.

Runs the report on the 10-subject study of ``data/synthetic`` and on simulated studies of other
sizes (``msc-analysis simulate --subjects N --seed S``), each build in its own child process so
that the peak memory is that run's alone. The report shares its figures with a second (forked)
process, so the peak is that of the whole process tree: the summed proportional set size (PSS,
``/proc/PID/smaps_rollup``: each page shared by k processes counted 1/k in each, so pages the
fork shares are counted once) of the build and its children, sampled every 0.1 s, or the
largest single process's ``ru_maxrss`` if that is larger. Sampling is not free (reading the
page tables of a 500 MB process takes about 15 ms, 0.4 s of CPU in a 5-second build that keeps
both cores busy), so the time is that of the ``--repeat`` builds run without sampling (the best
kept) and the memory that of one more build, sampled. Per-subject
figures are capped (``--max-subject-figures``). Targets: 10 subjects in a few seconds; 10,000 in
under a minute and under 4 GB, the cost growing roughly linearly with the number of subjects.

Usage::

    .venv/bin/python benchmarks/bench_report.py                      # 10, 1000, 10000 subjects
    .venv/bin/python benchmarks/bench_report.py --sizes 10 1000
    .venv/bin/python benchmarks/bench_report.py --profile 10000      # cProfile of one build

Nothing is written into the repository: studies and reports go to a temporary folder (or
``--work DIR``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_STUDY = REPO / "data" / "synthetic"
DEFAULT_STUDY_SIZE = 10
#: Targets: seconds and peak memory (MiB) by number of subjects.
TARGETS: dict[int, tuple[float, float]] = {10: (5.0, 4096.0), 10_000: (60.0, 4096.0)}


@dataclass(frozen=True)
class Run:
    """One timed child process (``stopped`` when it hit the time limit and was killed)."""

    seconds: float
    peak_mib: float
    status: int
    stopped: bool = False


def _pss_kib(pid: int) -> int:
    """Proportional set size (KiB) of a process, 0 if it has gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    """The process and all its descendants (Linux ``/proc/PID/task/TID/children``)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except (OSError, ValueError):
                pass
    return found


def tree_pss_kib(pid: int) -> int:
    """Summed proportional set size (KiB) of a process and its descendants."""
    return sum(_pss_kib(p) for p in _descendants(pid))


def timed(command: list[str], *, cwd: Path = REPO, limit: float | None = None,
          sample_memory: bool = True) -> Run:
    """Run ``command`` as a child process; wall time and the peak memory of its process tree.

    A child still running after ``limit`` seconds is killed; its peak memory so far is kept.
    Without ``sample_memory`` the tree is not sampled (nothing competes with the build for the
    processors) and the peak is the largest single process's ``ru_maxrss``.
    """
    errors = tempfile.TemporaryFile()
    interval = 0.1 if sample_memory else 0.01  # without sampling, only the end is watched
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errors)
    stopped = False
    tree_peak = 0
    try:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if sample_memory:
                tree_peak = max(tree_peak, tree_pss_kib(proc.pid))
            if limit is not None and time.perf_counter() - start > limit:
                proc.kill()
                stopped = True
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(interval)
    except BaseException:
        proc.kill()
        os.wait4(proc.pid, 0)
        raise
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0 and not stopped:
        errors.seek(0)
        sys.stderr.write(errors.read().decode(errors="replace")[-4000:])
    errors.close()
    # Linux reports ru_maxrss in KiB (the largest process of the tree, children included).
    peak = max(usage.ru_maxrss, tree_peak)
    return Run(seconds=seconds, peak_mib=peak / 1024, status=code, stopped=stopped)


def cli(*args: str) -> list[str]:
    """The ``msc-analysis`` command line run with this interpreter."""
    return [sys.executable, "-m", "msc_analysis.cli", "-q", *args]


def study_for(size: int, seed: int, work: Path) -> tuple[Path, Run | None]:
    """The study folder of ``size`` subjects: the shipped one for 10, else simulated."""
    if size == DEFAULT_STUDY_SIZE and DEFAULT_STUDY.is_dir():
        return DEFAULT_STUDY, None
    folder = work / f"study_{size}"
    run = timed(cli("simulate", "--subjects", str(size), "--seed", str(seed),
                    "--out", str(folder)))
    if run.status != 0:
        raise SystemExit(f"simulating {size} subjects failed (exit {run.status})")
    return folder, run


def verdict(size: int, run: Run) -> str:
    """``ok`` / ``MISSED`` against the target of that size, if there is one."""
    if run.stopped:
        return "MISSED (stopped at the time limit)"
    if size not in TARGETS:
        return ""
    seconds, mib = TARGETS[size]
    met = run.seconds <= seconds and run.peak_mib <= mib
    return f"{'ok' if met else 'MISSED'} (< {seconds:g} s, < {mib / 1024:g} GB)"


def profile(size: int, seed: int, work: Path, max_figures: int, top: int) -> None:
    """Build one report under cProfile and print the top functions by cumulative time."""
    study, _ = study_for(size, seed, work)
    stats_file = work / f"report_{size}.prof"
    out = work / f"report_{size}_profiled"
    command = [sys.executable, "-m", "cProfile", "-o", str(stats_file), "-m", "msc_analysis.cli",
               "-q", "report", "--data", str(study), "--out", str(out),
               "--max-subject-figures", str(max_figures)]
    run = timed(command)
    print(f"profiled build of {size} subjects: {run.seconds:.1f} s (with profiler overhead)")
    import pstats

    for key in ("cumulative", "tottime"):
        print(f"\n--- top {top} by {key} ---")
        pstats.Stats(str(stats_file)).sort_stats(key).print_stats(top)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1_000, 10_000],
                        help="numbers of subjects (10 uses data/synthetic)")
    parser.add_argument("--seed", type=int, default=20240423, help="simulation seed")
    parser.add_argument("--max-subject-figures", type=int, default=60,
                        help="cap on subjects in per-subject figures")
    parser.add_argument("--repeat", type=int, default=1,
                        help="timed builds per size (best kept); one more measures memory")
    parser.add_argument("--limit", type=float, default=900.0,
                        help="seconds after which a build is stopped (default 900)")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for simulated studies and reports (default: temporary)")
    parser.add_argument("--profile", type=int, default=None, metavar="N",
                        help="instead: profile one build of N subjects with cProfile")
    parser.add_argument("--top", type=int, default=35, help="functions shown by --profile")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.profile is not None:
            profile(args.profile, args.seed, work, args.max_subject_figures, args.top)
            return 0
        print(f"{'subjects':>9} {'simulate s':>11} {'report s':>9} {'peak MiB':>9} "
              f"{'ms/subject':>11}  target")
        for size in args.sizes:
            study, sim = study_for(size, args.seed, work)
            command = cli("report", "--data", str(study), "--out", str(work / f"report_{size}"),
                          "--max-subject-figures", str(args.max_subject_figures))
            runs = []
            for _ in range(max(1, args.repeat)):  # timed, not sampled
                runs.append(timed(command, limit=args.limit, sample_memory=False))
                if runs[-1].stopped:
                    break
                if runs[-1].status != 0:
                    raise SystemExit(f"report on {size} subjects failed "
                                     f"(exit {runs[-1].status})")
            if not runs[-1].stopped:  # one more build, for the memory of the process tree
                sampled = timed(command, limit=args.limit)
                if sampled.status != 0 and not sampled.stopped:
                    raise SystemExit(f"report on {size} subjects failed (exit {sampled.status})")
                runs.append(dataclasses.replace(sampled, seconds=float("inf")))
            best = min(runs, key=lambda r: r.seconds)
            peak = max(r.peak_mib for r in runs)
            shown = Run(best.seconds, peak, best.status, best.stopped)
            sim_text = f"{sim.seconds:11.1f}" if sim else f"{'(shipped)':>11}"
            mark = ">" if shown.stopped else " "
            print(f"{size:>9} {sim_text} {mark}{shown.seconds:8.2f} {shown.peak_mib:9.0f} "
                  f"{1000 * shown.seconds / size:11.2f}  {verdict(size, shown)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
