"""Atomic report folders and the manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from msc_analysis.report.atomic import atomic_folder, manifest_marker
from msc_analysis.report.manifest import build_manifest, sha256_file, write_manifest


def _previous_report(target: Path) -> None:
    """A folder marked as a report of the package, holding old.txt."""
    target.mkdir()
    (target / "old.txt").write_text("old")
    write_manifest({**manifest_marker("report"), "outputs": ["manifest.json", "old.txt"]},
                   target / "manifest.json")


def test_atomic_folder_replaces_on_success(tmp_path) -> None:
    target = tmp_path / "report"
    _previous_report(target)
    with atomic_folder(target) as build:
        (build / "new.txt").write_text("new")
        assert not (target / "new.txt").exists()  # nothing visible until the end
    assert (target / "new.txt").read_text() == "new"
    assert not (target / "old.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no temporary folders left


def test_atomic_folder_leaves_target_untouched_on_failure(tmp_path) -> None:
    target = tmp_path / "report"
    _previous_report(target)
    with pytest.raises(RuntimeError), atomic_folder(target) as build:
        (build / "half.txt").write_text("half")
        raise RuntimeError("failed half-way")
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json", "old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_manifest_hashes_inputs_and_names_no_paths(tmp_path) -> None:
    data = tmp_path / "adsl.csv"
    data.write_bytes(b"USUBJID\nS1\n")
    manifest = build_manifest(inputs={"ADSL": data}, sap_file=None, sap_settings={"a": (1, 2)},
                              cutoff="2024-06-01", seed=7, code_dir=tmp_path, outputs=["x"])
    assert manifest["inputs"]["ADSL"] == {
        "file": "adsl.csv", "sha256": hashlib.sha256(b"USUBJID\nS1\n").hexdigest()}
    assert sha256_file(data) == hashlib.sha256(data.read_bytes()).hexdigest()
    assert manifest["sap"]["settings"] == {"a": [1, 2]}
    assert manifest["software"]["numpy"] != "not installed"
    path = tmp_path / "manifest.json"
    write_manifest(manifest, path)
    text = path.read_text()
    assert str(tmp_path) not in text
    assert json.loads(text)["data_cutoff"] == "2024-06-01"


def test_folders_of_killed_builds_are_removed_by_the_next_build(tmp_path) -> None:
    import os
    import socket
    import subprocess
    import sys

    from msc_analysis.report.atomic import WORK_MARKER

    # A process that has ended: its id is free (ids are not reused this quickly on Linux).
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    dead_pid = int(ended.stdout)

    def work_folder(target: str, pid: int) -> Path:
        folder = tmp_path / f".{target}.building-{pid}-abc123"
        (folder / "new").mkdir(parents=True)
        (folder / "new" / "half.txt").write_text("half")
        (folder / WORK_MARKER).write_text(json.dumps({
            "producer": "msc-analysis", "pid": pid, "target": target,
            "host": socket.gethostname(), "started": None}))
        return folder

    work_folder("report", dead_pid)
    running = work_folder("report", os.getpid())  # a build in progress
    work_folder("other", dead_pid)  # another target's, killed too: removed as well
    with atomic_folder(tmp_path / "report") as build:
        (build / "new.txt").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["report", running.name])


def test_command_line_runs_numerical_libraries_single_threaded() -> None:
    # The numpy that a fresh `msc-analysis` process loads sees OPENBLAS_NUM_THREADS=1, unless
    # the user set it; an empty value counts as unset.
    import os
    import subprocess
    import sys

    code = ("import os, sys; from msc_analysis.cli import limit_native_threads; "
            "limit_native_threads(); import numpy; "
            "print(os.environ['OPENBLAS_NUM_THREADS'], os.environ['OMP_NUM_THREADS'])")
    for given, expected in ((None, "1 1"), ("", "1 1"), ("2", "2 1")):
        env = {k: v for k, v in os.environ.items()
               if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        if given is not None:
            env["OPENBLAS_NUM_THREADS"] = given
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        assert " ".join(out) == expected, (given, out)
    # and nothing numerical is imported before main() sets them
    out = subprocess.run([sys.executable, "-c", "import sys, msc_analysis.cli; "
                          "print('numpy' in sys.modules)"], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
