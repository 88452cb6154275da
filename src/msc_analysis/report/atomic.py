"""Output folders replaced atomically, by the rules of
:mod:`msc_analysis.report.output_folder`.

The output is built in a work folder next to ``OUT`` (``.OUT.building-<pid>-<random>``, holding
a marker file that names msc-analysis, the process and the target, and the build in ``new/``)
and moved into place only when the whole build succeeded. A previous output is swapped with the
new one in one step on Linux (``renameat2`` with ``RENAME_EXCHANGE``), so that ``OUT`` holds at
every instant either the complete previous output or the complete new one; the previous output
then sits in the work folder, which is removed. Elsewhere two renames are used, and a run killed
between them leaves the previous output in the work folder, from where the next run puts it back.

A run that is killed (so that no clean-up code runs) leaves its work folder behind. Every run
removes, at its start, the work folders in its parent folder (whatever their target) whose
process has ended, recognised by their name and by the marker inside, never by the name alone.
An error writing the output (a read-only location, a missing permission, a full disk) is an
:class:`OutputError` naming the folder; the previous output stays as it was.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import json
import logging
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from msc_analysis.report.output_folder import (
    PRODUCER,
    REPORT,
    SAFETY,
    OutputError,
    OutputKind,
    OutputPlan,
    check_output,
    manifest_marker,
    reason,
)

log = logging.getLogger(__name__)

__all__ = ["PRODUCER", "REPORT", "SAFETY", "OutputError", "OutputKind", "OutputPlan",
           "atomic_folder", "check_output", "manifest_marker", "remove_abandoned_work"]

#: The marker file of a work folder.
WORK_MARKER = "msc-analysis-work.json"
#: Sub-folders of a work folder: the build, and (two-rename swap only) the previous output.
NEW, OLD = "new", "old"
#: Errors that mean the output location cannot be written, whichever file they name.
_WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})
_WORK_NAME = re.compile(r"^\.(?P<target>.+)\.building-(?P<pid>\d+)-[A-Za-z0-9_]+$")


@contextmanager
def atomic_folder(target: str | Path, kind: OutputKind = REPORT, *,
                  data: str | Path | None = None, force: bool = False) -> Iterator[Path]:
    """Yield an empty build folder that takes the place of ``target`` when the block succeeds.

    The target is checked first (:func:`check_output`); nothing is created when it is refused.
    On any exception the build folder is removed and ``target`` is left as it was.

    Raises
    ------
    OutputError
        When ``target`` is refused or cannot be written.
    """
    plan = check_output(target, kind, data=data, force=force)
    made = _missing_folders(plan.target.parent)
    try:
        work = _guarded(plan, lambda: _start(plan))
    except BaseException:
        _remove_empty(made)
        raise
    try:
        with _output_errors(plan):
            yield work / NEW
            _commit(plan, work)
    except BaseException:
        _clear_work(work, plan.target)
        _remove_empty(made)
        raise
    _clear_work(work, plan.target)


def _guarded(plan: OutputPlan, step: Callable[[], Any]) -> Any:
    """Run ``step``; an OSError that concerns the output becomes an :class:`OutputError`."""
    with _output_errors(plan):
        return step()


@contextmanager
def _output_errors(plan: OutputPlan) -> Iterator[None]:
    """Turn an OSError about writing the output into an :class:`OutputError` naming it."""
    try:
        yield
    except OSError as exc:
        if _about_output(exc, plan.target.parent):
            raise OutputError(f"cannot write the {plan.kind.noun} to {plan.shown}: "
                              f"{reason(exc)}") from exc
        raise


def _about_output(exc: OSError, parent: Path) -> bool:
    """Whether an error is about writing the output (a full or read-only disk, or a file in
    the output's parent folder), rather than, say, about reading an input."""
    if exc.errno in _WRITE_ERRORS:
        return True
    names = [n for n in (exc.filename, exc.filename2) if n is not None]
    if not names:
        return exc.errno in (errno.EACCES, errno.EPERM)
    parent = parent.absolute()
    for name in names:
        path = Path(os.fsdecode(name)).absolute()
        if path == parent or parent in path.parents:
            return True
    return False


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    while not os.path.lexists(folder) and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed run created (deepest first), those left empty."""
    for folder in folders:
        _remove_if_empty(folder)


def _start(plan: OutputPlan) -> Path:
    """Create the parent folder, remove abandoned work folders there and make this run's."""
    parent = plan.target.parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_work(parent)
    work = Path(tempfile.mkdtemp(prefix=f".{plan.target.name}.building-{os.getpid()}-",
                                 dir=parent))
    try:
        marker = {"producer": PRODUCER, "pid": os.getpid(), "started": _start_time(os.getpid()),
                  "host": socket.gethostname(), "target": plan.target.name}
        (work / WORK_MARKER).write_text(json.dumps(marker, sort_keys=True) + "\n",
                                        encoding="utf-8")
        (work / NEW).mkdir()  # with the user's usual permissions (mkdtemp's are 0700)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return work


def _commit(plan: OutputPlan, work: Path) -> None:
    """Put the build in place of the target, as the plan says."""
    build, target = work / NEW, plan.target
    if plan.action == "create":
        build.rename(target)  # also replaces an empty folder, in one step
        return
    if plan.action == "move-aside":
        assert plan.aside is not None
        target.rename(plan.aside)
        try:
            build.rename(target)
        except BaseException:
            plan.aside.rename(target)
            raise
        log.warning("moved the previous contents of %s aside to %s (--force); nothing was "
                    "deleted", plan.shown, plan.aside)
        return
    try:  # the folder may have changed during the run
        again: OutputPlan | None = check_output(target, plan.kind)
    except OutputError:
        again = None
    if again is None or again.action != "replace" or again.carry != plan.carry:
        raise OutputError(f"output folder {plan.shown} changed during the run and is no longer "
                          f"only a previous {plan.kind.noun}; nothing was replaced")
    for name in plan.carry:
        _link_or_copy(target / name, build / name)
        log.info("kept %s in %s (not written by msc-analysis)", name, plan.shown)
    if _exchange(build, target):
        return
    target.rename(work / OLD)
    try:
        build.rename(target)
    except BaseException:
        (work / OLD).rename(target)
        raise


def _link_or_copy(source: Path, destination: Path) -> None:
    """Hard-link (else copy) a file or folder; symbolic links are copied as links."""
    if os.path.lexists(destination):
        raise OutputError(f"cannot keep {source}: the new output has a file of that name")

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst, follow_symlinks=False)
        except OSError:
            shutil.copy2(src, dst, follow_symlinks=False)

    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, destination, symlinks=True, copy_function=link)
    else:
        link(str(source), str(destination))


@functools.cache
def _renameat2() -> Any:
    """The C library's ``renameat2`` (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                     ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two folders in one step; False where the system or file system cannot."""
    func = _renameat2()
    if func is None:
        return False
    if func(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
            _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(first), None, str(second))


def _clear_work(work: Path, target: Path) -> None:
    """Remove a work folder: its build or previous output first, the marker last (so that a
    kill on the way leaves a folder the next run still recognises). A previous output moved
    away by a two-rename swap is first put back if the target is missing."""
    try:
        old = work / OLD
        if old.is_dir() and not os.path.lexists(target):
            old.rename(target)
            log.warning("put the previous output back at %s (a run was stopped while "
                        "replacing it)", target)
        for name in (NEW, OLD):
            if os.path.lexists(work / name):
                shutil.rmtree(work / name)
        (work / WORK_MARKER).unlink(missing_ok=True)
        work.rmdir()
    except OSError as exc:
        log.warning("could not remove the work folder %s: %s", work, reason(exc))


def _start_time(pid: int) -> int | None:
    """A process's start time in clock ticks since boot (Linux), to tell a reused id."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[19]) if len(fields) > 19 else None


def _process_runs(pid: int, started: int | None = None) -> bool:
    """Whether the process that made a work folder still runs (on this machine).

    A process that has ended but not been reaped (a zombie) has ended; a process whose start
    time differs from ``started`` is another one that got the same id.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    if stat[stat.rfind(")") + 2:].split()[:1] == ["Z"]:
        return False
    return started is None or _start_time(pid) == started


def _read_marker(work: Path) -> dict[str, Any] | None:
    try:
        marker = json.loads((work / WORK_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("producer") == PRODUCER else None


def remove_abandoned_work(parent: Path) -> list[Path]:
    """Remove the work folders in ``parent`` whose process has ended (runs that were killed).

    A folder is removed only when its name has the work folders' pattern and it holds the
    marker of msc-analysis naming the same process and target (or is empty); folders of running
    processes, of other machines, and folders that merely look alike are kept. Returns the
    folders removed.
    """
    removed: list[Path] = []
    try:
        entries = sorted(Path(parent).iterdir())
    except OSError:
        return removed
    for folder in entries:
        match = _WORK_NAME.match(folder.name)
        if not match or folder.is_symlink() or not folder.is_dir():
            continue
        try:
            if _abandoned(folder, match):
                _clear_work(folder, folder.with_name(match["target"]))
                log.info("removed %s, left by a run that did not finish", folder.name)
                removed.append(folder)
        except OSError as exc:
            log.warning("could not check the work folder %s: %s", folder, reason(exc))
    return removed


def _abandoned(folder: Path, match: re.Match[str]) -> bool:
    """Whether a folder named like a work folder is one of msc-analysis whose run ended (an
    empty one of an ended process is removed here)."""
    marker = _read_marker(folder)
    pid = int(match["pid"])
    if marker is None:
        if not any(folder.iterdir()) and not _process_runs(pid):
            _remove_if_empty(folder)
        else:
            log.info("left %s: it looks like a work folder but holds no marker of "
                     "msc-analysis", folder)
        return False
    return (marker.get("pid") == pid and marker.get("target") == match["target"]
            and marker.get("host") == socket.gethostname()
            and not _process_runs(pid, marker.get("started")))
