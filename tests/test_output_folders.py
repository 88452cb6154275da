"""Output folders never destroy anything the package did not write; swaps are atomic; killed
runs leave nothing behind (``--out`` of report, safety and simulate;
:mod:`msc_analysis.report.atomic`).

The refusals are checked before any data are read, so these tests run the command line itself.
Kills are real SIGKILLs of a child Python process, stopped at a chosen step of the swap.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from msc_analysis.cli import main
from msc_analysis.errors import SettingsError
from msc_analysis.report import atomic
from msc_analysis.report.atomic import (
    REPORT,
    SAFETY,
    OutputError,
    atomic_folder,
    check_output,
    manifest_marker,
    remove_abandoned_work,
)
from msc_analysis.synthetic.command import SIMULATED_STUDY

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "synthetic"
SAP = REPO / "sap" / "sap.toml"


def fake_report(folder: Path, text: str = "previous", kind: str = "report") -> Path:
    """A small folder marked as an output of ``kind`` by its manifest, as the package writes."""
    (folder / "tables").mkdir(parents=True)
    (folder / "report.html").write_text(text)
    (folder / "tables" / "t14_1.csv").write_text(text)
    manifest = {**manifest_marker(kind),
                "outputs": ["manifest.json", "report.html", "tables/t14_1.csv"]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder`` (hidden ones too): file bytes, None for a folder."""
    return {p.relative_to(folder).as_posix(): None if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*"))}


def study_copy(tmp_path: Path) -> Path:
    data = tmp_path / "study"
    shutil.copytree(DATA, data)
    return data


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run the command line; return the exit status and standard error."""
    status = main(["-q", *argv])
    return status, capsys.readouterr().err


def assert_plain_error(err: str, *words: str) -> None:
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


# --- the output folder and the data folder -------------------------------------------------


@pytest.mark.parametrize("where", ["same", "parent", "inside"])
@pytest.mark.parametrize("force", [False, True])
def test_out_is_never_the_data_folder_nor_around_or_inside_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str, force: bool) -> None:
    data = study_copy(tmp_path)
    out = {"same": data, "parent": tmp_path, "inside": data / "report"}[where]
    before = snapshot(tmp_path)
    status, err = run(capsys, "report", "--data", str(data), "--out", str(out), "--sap", str(SAP),
                      *(["--force"] if force else []))
    assert status == 1
    assert_plain_error(err, "data folder", str(out))
    assert snapshot(tmp_path) == before  # the data and everything else as they were


@pytest.mark.parametrize("where", ["same", "parent"])
def test_safety_out_is_never_the_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             where: str) -> None:
    data = study_copy(tmp_path)
    out = data if where == "same" else tmp_path
    before = snapshot(tmp_path)
    status, err = run(capsys, "safety", "--data", str(data), "--out", str(out),
                      "--sap", str(SAP), "--force")
    assert status == 1
    assert_plain_error(err, "data folder")
    assert snapshot(tmp_path) == before


def test_a_symbolic_link_to_the_data_folder_is_the_data_folder(tmp_path: Path) -> None:
    data = study_copy(tmp_path)
    (tmp_path / "link").symlink_to(data)
    with pytest.raises(OutputError, match="is the data folder"):
        check_output(tmp_path / "link", REPORT, data=data, force=True)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(OutputError, match=r"cannot use .*loop as the output folder"):
        check_output(tmp_path / "loop", REPORT)


# --- what an output folder may hold -------------------------------------------------------


def test_a_folder_with_files_the_package_did_not_write_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    before = snapshot(tmp_path)
    status, err = run(capsys, "report", "--data", str(DATA), "--out", str(out),
                      "--sap", str(SAP))
    assert status == 1
    assert_plain_error(err, "notes.txt", "--force", "out.kept-1", "nothing is deleted")
    assert snapshot(tmp_path) == before  # no .building-* or .old-* folder either


@pytest.mark.parametrize("verb", ["report", "safety", "simulate"])
def test_out_naming_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      verb: str) -> None:
    out = tmp_path / "results.txt"
    out.write_text("a file")
    before = snapshot(tmp_path)
    args = {"report": ["--data", str(DATA), "--sap", str(SAP)],
            "safety": ["--data", str(DATA), "--sap", str(SAP)],
            "simulate": ["--subjects", "3"]}[verb]
    status, err = run(capsys, verb, *args, "--out", str(out), "--force")
    assert status == 1
    assert_plain_error(err, "is a file, not a folder")
    assert snapshot(tmp_path) == before


def test_a_previous_report_with_other_files_is_refused(tmp_path: Path) -> None:
    out = fake_report(tmp_path / "out")
    (out / "tables" / "my_edit.csv").write_text("mine")
    (out / "drafts").mkdir()
    with pytest.raises(OutputError, match=r"files msc-analysis did not write \(drafts/, "
                                          r"tables/my_edit\.csv\)"):
        check_output(out, REPORT)
    before = snapshot(tmp_path)
    with pytest.raises(OutputError), atomic_folder(out, REPORT):
        pass
    assert snapshot(tmp_path) == before


def test_another_kind_of_output_is_not_a_previous_report(tmp_path: Path) -> None:
    out = fake_report(tmp_path / "out", kind="safety")
    assert check_output(out, SAFETY).action == "replace"
    with pytest.raises(OutputError, match="holds no previous report"):
        check_output(out, REPORT)


def test_a_previous_report_is_replaced_whole(tmp_path: Path) -> None:
    out = fake_report(tmp_path / "out")
    with atomic_folder(out, REPORT) as build:
        fake_report(build, "new")
        assert (out / "report.html").read_text() == "previous"  # nothing visible until the end
    assert snapshot(out) == snapshot(fake_report(tmp_path / "expected", "new"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["expected", "out"]


def test_a_report_of_an_earlier_version_is_recognised_by_its_manifest(tmp_path: Path) -> None:
    out = fake_report(tmp_path / "out")
    legacy = {"software": {"msc-analysis": "0.1.0"},
              "outputs": ["manifest.json", "report.html", "tables/t14_1.csv"]}
    (out / "manifest.json").write_text(json.dumps(legacy))
    assert check_output(out, REPORT).action == "replace"
    (out / "manifest.json").write_text(json.dumps({**legacy, "software": {}}))
    with pytest.raises(OutputError, match="holds no previous report"):
        check_output(out, REPORT)


def test_force_moves_a_foreign_folder_aside_and_deletes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    (tmp_path / "out.kept-1").mkdir()  # taken: the next free name is used
    with atomic_folder(out, REPORT, force=True) as build:
        fake_report(build, "new")
    assert (out / "report.html").read_text() == "new"
    assert snapshot(tmp_path / "out.kept-2") == {"notes.txt": b"my notes"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.kept-1", "out.kept-2"]


def test_force_does_not_move_the_current_folder_aside(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    monkeypatch.chdir(out / "sub")
    with pytest.raises(OutputError, match="contains the current folder"):
        check_output(out, REPORT, force=True)


def test_empty_and_new_folders_are_accepted_and_parents_created(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "a" / "b" / "new"):
        with atomic_folder(out, REPORT) as build:
            fake_report(build, "new")
        assert (out / "report.html").read_text() == "new"
    assert (tmp_path / "empty").stat().st_mode & 0o077  # the user's permissions, not 0700


def test_a_failed_run_removes_the_folders_it_created(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_folder(tmp_path / "a" / "b" / "out") as build:
        fake_report(build)
        raise RuntimeError("failed")
    assert list(tmp_path.iterdir()) == []


def test_simulate_keeps_the_files_it_did_not_write(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "study"
    assert run(capsys, "simulate", "--subjects", "3", "--seed", "1", "--out", str(out))[0] == 0
    (out / "README.md").write_text("how this study was made")
    (out / "define").mkdir()
    (out / "define" / "define.xml").write_text("<odm/>")
    first = (out / "adsl.csv").read_bytes()
    assert check_output(out, SIMULATED_STUDY).carry == ("README.md", "define")
    assert run(capsys, "simulate", "--subjects", "4", "--seed", "2", "--out", str(out))[0] == 0
    assert (out / "adsl.csv").read_bytes() != first
    assert (out / "README.md").read_text() == "how this study was made"
    assert (out / "define" / "define.xml").read_text() == "<odm/>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study"]


def test_simulate_refuses_a_study_it_did_not_simulate(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "adsl.csv").write_text("USUBJID\nS1\n")  # someone's data, same file name
    (real / "simulation.toml").write_text("n_subjects = 3\n")  # not written by simulate
    before = snapshot(tmp_path)
    status, err = run(capsys, "simulate", "--subjects", "3", "--out", str(real))
    assert status == 1
    assert_plain_error(err, "holds no previous simulated study", "adsl.csv")
    assert snapshot(tmp_path) == before


# --- command-line arguments ----------------------------------------------------------------


@pytest.mark.parametrize(("argv", "message"), [
    (["report", "--max-subject-figures", "-5"], "must be a whole number of 1 or more, got '-5'"),
    (["report", "--max-subject-figures", "0"], "must be a whole number of 1 or more, got '0'"),
    (["report", "--max-subject-figures", "2.5"], "must be a whole number, got '2.5'"),
    (["report", "--out", ""], "argument --out: needs the path of a folder"),
    (["report", "--sap", "."], "argument --sap: . is a folder, not a file"),
    (["report", "--sap", "no/such.toml"], "argument --sap: no file no/such.toml"),
    (["safety", "--out", ""], "argument --out: needs the path of a folder"),
    (["safety", "--sap", "."], "argument --sap: . is a folder, not a file"),
    (["simulate", "--out", ""], "argument --out: needs the path of a folder"),
    (["simulate", "--settings", "."], "argument --settings: . is a folder, not a file"),
])
def test_bad_arguments_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        argv: list[str], message: str) -> None:
    defaults = {"report": ["--data", str(DATA), "--out", str(tmp_path / "r")],
                "safety": ["--data", str(DATA), "--out", str(tmp_path / "r")],
                "simulate": ["--out", str(tmp_path / "r")]}[argv[0]]
    with pytest.raises(SystemExit) as stop:
        main([argv[0], *defaults, *argv[1:]])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_the_library_refuses_a_cap_below_one(tmp_path: Path) -> None:
    from msc_analysis.report.build import build_report

    with pytest.raises(SettingsError, match="1 or more, got -5"):
        build_report(DATA, tmp_path / "r", sap_path=SAP, max_subject_figures=-5,
                     show_progress=False)
    assert list(tmp_path.iterdir()) == []


# --- errors writing the output -------------------------------------------------------------


@pytest.mark.parametrize(("code", "reason"), [(errno.EACCES, "Permission denied"),
                                               (errno.EROFS, "Read-only file system")])
def test_an_unwritable_location_is_one_line_naming_the_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        code: int, reason: str) -> None:
    out = fake_report(tmp_path / "out")
    before = snapshot(tmp_path)

    def refuse(*args: object, **kwargs: object) -> str:
        raise OSError(code, os.strerror(code), str(tmp_path / ".out.building-1-x"))

    monkeypatch.setattr(atomic.tempfile, "mkdtemp", refuse)
    status, err = run(capsys, "report", "--data", str(DATA), "--out", str(out),
                      "--sap", str(SAP))
    assert status == 1
    assert_plain_error(err, f"cannot write the report to {out}: {reason}")
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="needs POSIX permissions")
def test_a_folder_without_write_permission(tmp_path: Path) -> None:
    # A real permission error: the parent folder is read-only (mode 555). Root ignores modes,
    # so as root the command runs without the capabilities that let it (setpriv).
    out = fake_report(tmp_path / "parent" / "out")
    before = snapshot(tmp_path)
    command = [sys.executable, "-m", "msc_analysis.cli", "-q", "report", "--data", str(DATA),
               "--out", str(out), "--sap", str(SAP)]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("as root, needs setpriv to drop the capability to ignore permissions")
        command = ["setpriv", "--inh-caps=-all",
                   "--bounding-set=-dac_override,-dac_read_search,-fowner", *command]
    (tmp_path / "parent").chmod(0o555)
    try:
        done = _python_run(command)
    finally:
        (tmp_path / "parent").chmod(0o755)
    assert done.returncode == 1, done.stderr
    assert_plain_error(done.stderr, f"cannot write the report to {out}: Permission denied")
    assert snapshot(tmp_path) == before


def _python_run(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_a_full_disk_is_one_line_and_the_previous_output_stays(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from msc_analysis.synthetic import command

    out = tmp_path / "study"
    assert run(capsys, "simulate", "--subjects", "3", "--out", str(out))[0] == 0
    before = snapshot(tmp_path)

    def full(datasets: object, folder: Path) -> None:
        (Path(folder) / "adsl.csv").write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # a write names no file

    monkeypatch.setattr(command, "write_study", full)
    status, err = run(capsys, "simulate", "--subjects", "3", "--out", str(out))
    assert status == 1
    assert_plain_error(err, f"cannot write the simulated study to {out}: No space left")
    assert snapshot(tmp_path) == before


def test_an_error_reading_an_input_is_not_called_an_output_error(tmp_path: Path) -> None:
    unreadable = OSError(errno.EACCES, "Permission denied", "/elsewhere/adsl.csv")
    with pytest.raises(OSError) as raised, atomic_folder(tmp_path / "out") as build:
        fake_report(build)
        raise unreadable
    assert raised.value is unreadable
    assert list(tmp_path.iterdir()) == []


def _mount_tmpfs(folder: Path, options: str) -> None:
    """Mount a small tmpfs at ``folder`` (root only; skip where not permitted)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small file system needs root on Linux")
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount is not permitted here: {done.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real file system of 192 KiB (mounted as root; skipped elsewhere)."""
    folder = tmp_path / "disk"
    _mount_tmpfs(folder, "size=192k")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_really_full_disk(small_disk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = small_disk / "study"
    assert run(capsys, "simulate", "--subjects", "2", "--out", str(out))[0] == 0  # ~90 KiB
    before = snapshot(small_disk)
    status, err = run(capsys, "simulate", "--subjects", "10", "--out", str(out))  # ~250 KiB
    assert status == 1
    assert_plain_error(err, f"cannot write the simulated study to {out}: No space left on "
                            "device")
    assert snapshot(small_disk) == before


def test_a_really_read_only_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "ro"
    _mount_tmpfs(folder, "ro,size=64k")
    try:
        out = folder / "report"
        status, err = run(capsys, "report", "--data", str(DATA), "--out", str(out),
                          "--sap", str(SAP))
        assert status == 1
        assert_plain_error(err, f"cannot write the report to {out}: Read-only file system")
        status, err = run(capsys, "safety", "--data", str(DATA), "--out", str(out),
                          "--sap", str(SAP))
        assert status == 1
        assert_plain_error(err, f"cannot write the safety output to {out}: Read-only")
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


# --- killed runs ---------------------------------------------------------------------------

#: A child Python process that builds a small report into argv[1] and is killed (SIGKILL, no
#: clean-up) at the step named by argv[2].
KILLED_BUILD = textwrap.dedent("""
    import json, os, signal, sys
    from pathlib import Path
    from msc_analysis.report import atomic

    target, step = Path(sys.argv[1]), sys.argv[2]

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if step == "after-exchange":
        exchange = atomic._exchange
        atomic._exchange = lambda a, b: exchange(a, b) and die()
    elif step == "removing-old":
        def rmtree(path, *args, **kwargs):
            (Path(path) / "manifest.json").unlink()  # the old report's marker goes first
            die()
        atomic.shutil.rmtree = rmtree
    elif step == "between-renames":
        atomic._exchange = lambda a, b: False  # as where renameat2 is missing
        rename = Path.rename
        Path.rename = lambda self, to: die() if self.name == "new" else rename(self, to)
    with atomic.atomic_folder(target) as build:
        (build / "report.html").write_text("new")
        manifest = {**atomic.manifest_marker("report"),
                    "outputs": ["manifest.json", "report.html"]}
        (build / "manifest.json").write_text(json.dumps(manifest))
""")


def _python(code: str, *args: str, **popen: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, text=True,
                            **popen)  # type: ignore[call-overload]


def _work_folders(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".building-" in p.name)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("step", ["after-exchange", "removing-old", "between-renames"])
def test_a_kill_during_the_swap_leaves_a_complete_report(tmp_path: Path, step: str) -> None:
    out = fake_report(tmp_path / "out")
    previous = snapshot(out)
    killed = _python(KILLED_BUILD, str(out), step)
    assert killed.wait(timeout=60) == -signal.SIGKILL
    assert len(_work_folders(tmp_path)) == 1  # the killed run's, with the marker inside
    if step == "between-renames":
        assert not out.exists()  # two renames are not one step: the next run repairs it
    else:
        assert (out / "report.html").read_text() == "new"  # complete, swapped in one step
        assert sorted(snapshot(out)) == ["manifest.json", "report.html"]
    # the next run of any target in that folder removes the killed run's work folder
    with atomic_folder(tmp_path / "other") as build:
        (build / "x.txt").write_text("x")
    assert _work_folders(tmp_path) == []
    if step == "between-renames":
        assert snapshot(out) == previous  # put back


def test_abandoned_work_folders_are_recognised_by_their_marker(tmp_path: Path) -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    dead = int(ended.stdout)

    def work(name: str, pid: int, marked: bool = True, target: str | None = None) -> Path:
        folder = tmp_path / f".{name}.building-{pid}-abc_12"
        (folder / "new").mkdir(parents=True)
        (folder / "new" / "half.txt").write_text("half")
        if marked:
            marker = {"producer": "msc-analysis", "pid": pid, "target": target or name,
                      "host": atomic.socket.gethostname(), "started": None}
            (folder / atomic.WORK_MARKER).write_text(json.dumps(marker))
        return folder

    work("report", dead)                      # a killed build: removed
    work("other", dead)                       # another target's: removed too
    running = work("report", os.getpid())     # a build in progress: kept
    lookalike = work("mine", dead, marked=False)  # a user's folder of that name: kept
    wrong = work("x", dead, target="y")       # a marker of another folder: kept
    empty = tmp_path / f".empty.building-{dead}-zz"
    empty.mkdir()                             # killed before its marker: nothing to lose
    removed = remove_abandoned_work(tmp_path)
    assert sorted(p.name for p in removed) == [f".other.building-{dead}-abc_12",
                                               f".report.building-{dead}-abc_12"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [running.name, lookalike.name, wrong.name])
    assert (lookalike / "new" / "half.txt").read_text() == "half"


#: A child Python process that starts a report build whose forked figure process waits for the
#: drawings, prints the figure process's id and sleeps (until it is killed).
BUILD_WITH_FIGURE_PROCESS = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from types import SimpleNamespace
    from msc_analysis.report.atomic import atomic_folder
    from msc_analysis.report.figure_worker import FigureJob

    # one figure of analysis results: the figure process waits for its drawing
    tfl = SimpleNamespace(kind="figure", id="F-WAITS", number="0", title="", footnotes=())
    data = SimpleNamespace(sap=SimpleNamespace(tfls=[tfl]))
    with atomic_folder(Path(sys.argv[1])) as build:
        job = FigureJob(data, build / "figures", 60, parallel=True).start()
        print(job._process.pid, flush=True)
        time.sleep(600)
""")


def _ended(pid: int) -> bool:
    """Whether a process has ended (a zombie nobody reaped has ended too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] == "Z"


@pytest.mark.skipif(not hasattr(signal, "SIGKILL") or not hasattr(os, "fork"),
                    reason="needs fork and SIGKILL")
def test_killing_a_build_leaves_no_process_and_no_folder(tmp_path: Path) -> None:
    out = fake_report(tmp_path / "out")
    previous = snapshot(out)
    build = _python(BUILD_WITH_FIGURE_PROCESS, str(out), stdout=subprocess.PIPE)
    assert build.stdout is not None
    figure_process = int(build.stdout.readline())
    assert not _ended(figure_process)
    build.kill()
    build.wait(timeout=30)
    deadline = time.monotonic() + 30
    while not _ended(figure_process):
        if time.monotonic() > deadline:
            os.kill(figure_process, signal.SIGKILL)
            pytest.fail("the figure process outlived the killed build")
        time.sleep(0.05)
    assert snapshot(out) == previous
    assert len(_work_folders(tmp_path)) == 1
    with atomic_folder(tmp_path / "other") as folder:
        (folder / "x.txt").write_text("x")
    assert _work_folders(tmp_path) == []
    assert snapshot(out) == previous
