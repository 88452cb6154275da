"""Output folders that never destroy anything the package did not write, replaced atomically.

Rules for an output folder ``OUT`` (the report's, ``safety``'s and ``simulate``'s ``--out``):

* ``OUT`` is refused when it is the data folder, lies inside it or contains it (always, even
  with ``force``), when it is a file, and when it is a non-empty folder that does not hold a
  previous output of the same kind written by msc-analysis (:class:`OutputKind`: a report or a
  safety output is recognised by its ``manifest.json``, which names msc-analysis and the kind of
  output and lists every file written; a simulated study by its ``simulation.toml``). A
  previous report or safety output that also holds other files is refused too. Each refusal is
  an :class:`OutputError` saying why and how to proceed.
* ``force`` accepts a non-empty folder that is not a previous output: it is moved aside, whole,
  to ``OUT.kept-<n>`` next to it (nothing is deleted) and the new output takes its place.
* A simulated study's folder keeps the files that ``simulate`` did not write (a README, for
  example): they are carried into the new folder (hard links, or copies).

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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from msc_analysis.errors import MscError

log = logging.getLogger(__name__)

__all__ = ["PRODUCER", "REPORT", "SAFETY", "OutputError", "OutputKind", "OutputPlan",
           "atomic_folder", "check_output", "manifest_marker", "remove_abandoned_work"]

#: The name written into every marker; an output or work folder without it is never removed.
PRODUCER = "msc-analysis"
#: The marker file of a work folder.
WORK_MARKER = "msc-analysis-work.json"
#: Sub-folders of a work folder: the build, and (two-rename swap only) the previous output.
NEW, OLD = "new", "old"
#: Errors that mean the output location cannot be written, whichever file they name.
_WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})
_WORK_NAME = re.compile(r"^\.(?P<target>.+)\.building-(?P<pid>\d+)-[A-Za-z0-9_]+$")


class OutputError(MscError):
    """The output folder is refused, or cannot be written (the message names it)."""


@dataclass(frozen=True)
class OutputKind:
    """A kind of output folder the package writes.

    Parameters
    ----------
    name : str
        Short name (``"report"``), written as ``output`` in the manifest.
    noun : str
        What messages call it (``"report"``, ``"safety output"``).
    owned_files : callable
        Given an existing folder, the relative paths (POSIX) of the files msc-analysis wrote
        there if it holds a previous output of this kind, else None.
    keeps_other_files : bool
        Whether other files in a previous output are carried into the new one (a study folder,
        where users keep notes) instead of the folder being refused.
    """

    name: str
    noun: str
    owned_files: Callable[[Path], frozenset[str] | None]
    keeps_other_files: bool = False


def manifest_marker(kind: str) -> dict[str, str]:
    """The manifest fields that mark a folder as an output of ``kind`` written by the package."""
    return {"producer": PRODUCER, "output": kind}


def _manifest_outputs(kind: str) -> Callable[[Path], frozenset[str] | None]:
    """The files listed by ``manifest.json`` when it marks an output of ``kind``.

    A report written before the marker existed is recognised by its manifest's software
    versions (msc-analysis) and its outputs (report.html and manifest.json).
    """

    def owned(folder: Path) -> frozenset[str] | None:
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict):
            return None
        outputs = manifest.get("outputs")
        if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
            return None
        marked = all(manifest.get(k) == v for k, v in manifest_marker(kind).items())
        software = manifest.get("software")
        legacy = (kind == "report" and "producer" not in manifest
                  and isinstance(software, dict) and PRODUCER in software
                  and {"report.html", "manifest.json"} <= set(outputs))
        return frozenset(outputs) if marked or legacy else None

    return owned


REPORT = OutputKind("report", "report", _manifest_outputs("report"))
SAFETY = OutputKind("safety", "safety output", _manifest_outputs("safety"))


@dataclass(frozen=True)
class OutputPlan:
    """What a run will do with its output folder (:func:`check_output`).

    ``action`` is ``"create"`` (new or empty folder), ``"replace"`` (a previous output of the
    same kind; ``carry`` lists the top-level entries that are kept) or ``"move-aside"``
    (``force``: the folder goes to ``aside``).
    """

    target: Path
    shown: Path
    kind: OutputKind
    action: Literal["create", "replace", "move-aside"]
    carry: tuple[str, ...] = ()
    aside: Path | None = None


def check_output(target: str | Path, kind: OutputKind = REPORT, *,
                 data: str | Path | None = None, force: bool = False) -> OutputPlan:
    """Decide whether ``target`` may receive an output of ``kind`` (see the module's rules).

    Parameters
    ----------
    target : str or Path
        The output folder as given.
    kind : OutputKind
        What is written.
    data : str or Path, optional
        The input data folder: the output may not be, contain or lie inside it.
    force : bool
        Accept a non-empty folder that holds no previous output (it is moved aside).

    Raises
    ------
    OutputError
        When the folder is refused, with the reason and how to proceed.
    """
    shown = Path(target)
    if not str(target).strip():
        raise OutputError("the output folder is an empty path: give the path of a folder")
    try:
        resolved = shown.resolve()
        if resolved.parent == resolved:
            raise OutputError(f"output folder {shown} is the root of the file system: give "
                              "a folder for the output")
        if data is not None:
            _check_apart(resolved, Path(data).resolve(), shown, Path(data))
        if not os.path.lexists(resolved):
            return OutputPlan(resolved, shown, kind, "create")
        if not resolved.is_dir():
            raise OutputError(f"output folder {shown} is a file, not a folder: give the path "
                              f"of a new or empty folder or of a previous {kind.noun}")
        if not any(resolved.iterdir()):
            return OutputPlan(resolved, shown, kind, "create")
        return _plan_for_contents(resolved, shown, kind, force)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop of symbolic links
        reason = _reason(exc) if isinstance(exc, OSError) else str(exc)
        raise OutputError(f"cannot use {shown} as the output folder: {reason}") from None


def _check_apart(out: Path, data: Path, shown: Path, data_shown: Path) -> None:
    """Refuse an output folder that is, lies in or contains the data folder (even forced)."""
    if out == data:
        where = "is the data folder"
    elif data in out.parents:
        where = f"lies inside the data folder {data_shown}"
    elif out in data.parents:
        where = f"contains the data folder {data_shown}"
    else:
        return
    raise OutputError(f"output folder {shown} {where}: writing there could replace the study's "
                      "data; give an output folder outside the data folder (--force does not "
                      "change this)")


def _plan_for_contents(folder: Path, shown: Path, kind: OutputKind,
                       force: bool) -> OutputPlan:
    """The plan for a non-empty existing folder (refused unless it is a previous output)."""
    owned = kind.owned_files(folder)
    if owned is not None:
        extra = _files_not_in(folder, owned)
        if not extra:
            return OutputPlan(folder, shown, kind, "replace")
        if kind.keeps_other_files:
            carry = tuple(sorted({name.split("/")[0].rstrip("/") for name in extra}))
            return OutputPlan(folder, shown, kind, "replace", carry=carry)
        problem = (f"holds a previous {kind.noun} of msc-analysis and also files msc-analysis "
                   f"did not write ({_some(extra)})")
    else:
        problem = (f"is not empty and holds no previous {kind.noun} of msc-analysis "
                   f"({_some(sorted(p.name for p in folder.iterdir()))})")
    aside = _aside_name(folder)
    if not force:
        raise OutputError(f"output folder {shown} {problem}; nothing was written. Give a new or "
                          f"empty folder, or use --force to move this folder aside, whole, to "
                          f"{aside.name} (nothing is deleted) and write the {kind.noun} in its "
                          "place")
    here = Path.cwd().resolve()
    if here == folder or folder in here.parents:
        raise OutputError(f"output folder {shown} contains the current folder; --force does "
                          "not move it aside: give another output folder")
    return OutputPlan(folder, shown, kind, "move-aside", aside=aside)


def _files_not_in(folder: Path, owned: frozenset[str]) -> list[str]:
    """Relative paths in ``folder`` that are not among ``owned`` files or their folders
    (folders end in ``/``; symbolic links count as files and are not followed)."""
    folders = {p.as_posix() for name in owned for p in Path(name).parents}
    extra = []
    for root, dirs, files in os.walk(folder):
        base = Path(root).relative_to(folder)
        for name in sorted(dirs):
            rel = (base / name).as_posix()
            if (Path(root) / name).is_symlink():
                dirs.remove(name)
                files.append(name)
            elif rel not in folders:
                dirs.remove(name)
                extra.append(rel + "/")
        extra.extend(rel for rel in ((base / n).as_posix() for n in sorted(files))
                     if rel not in owned)
    return sorted(extra)


def _some(names: Sequence[str], shown: int = 3) -> str:
    """``a, b, c and 4 more``."""
    head = ", ".join(names[:shown])
    return head if len(names) <= shown else f"{head} and {len(names) - shown} more"


def _aside_name(folder: Path) -> Path:
    """The first free ``<name>.kept-<n>`` next to ``folder``."""
    n = 1
    while os.path.lexists(folder.with_name(f"{folder.name}.kept-{n}")):
        n += 1
    return folder.with_name(f"{folder.name}.kept-{n}")


def _reason(exc: OSError) -> str:
    """An OSError as a short reason on one line (``No space left on device``)."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


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
                              f"{_reason(exc)}") from exc
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
        log.warning("could not remove the work folder %s: %s", work, _reason(exc))


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
            log.warning("could not check the work folder %s: %s", folder, _reason(exc))
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
