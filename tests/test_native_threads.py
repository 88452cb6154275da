"""The same bytes whatever the thread count of the native numerical libraries.

OpenBLAS adds the partial sums of a product in an order that depends on its thread count, so an
MMRM fit gave log-likelihoods differing in the 12th digit with 1 and with 2 threads, and the
notebook's ARD (a kernel with the default pool) differed from the command line's (one thread).
The statistics that reach the ARD now run with one thread whatever the caller set
(:mod:`msc_analysis.stats.threads`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from msc_analysis.stats.threads import one_native_thread, single_threaded

REPO = Path(__file__).resolve().parents[1]


def _blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_one_native_thread_limits_the_pools_and_restores_them() -> None:
    if not _blas_threads():
        pytest.skip("no BLAS thread pool is loaded in this process")
    with threadpool_limits(limits=2):
        assert set(_blas_threads()) == {2}
        with one_native_thread():
            assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {2}

        @single_threaded
        def inside() -> list[int]:
            return _blas_threads()

        assert set(inside()) == {1}
        assert set(_blas_threads()) == {2}


def _report(out: Path, threads: str) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env.update(OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads)
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from msc_analysis.cli import main; "
         "sys.exit(main(sys.argv[1:]))", "-q", "report", "--data", str(REPO / "data/synthetic"),
         "--out", str(out), "--sap", str(REPO / "sap/sap.toml"), "--serial"],
        env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr


def test_report_is_the_same_bytes_with_one_and_two_blas_threads(tmp_path: Path) -> None:
    _report(tmp_path / "one", "1")
    _report(tmp_path / "two", "2")
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.csv"))
    assert Path("ard.csv") in files and len(files) > 30
    differing = [str(f) for f in files
                 if (tmp_path / "one" / f).read_bytes() != (tmp_path / "two" / f).read_bytes()]
    assert differing == []
