"""Atomic output folders: a failed run leaves no half-written report.

Outputs are built in a temporary folder next to the target and moved into place only when the
whole build succeeded; a previous report at the target is replaced in one rename step.

A build that is killed (so that no clean-up code runs) leaves its temporary folder behind. Each
temporary folder's name carries the id of the process that made it
(``.report.building-<pid>-<random>``), and the next build of the same target removes those whose
process no longer runs.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["atomic_folder", "remove_abandoned_builds"]


def _building_prefix(target: Path) -> str:
    return f".{target.name}.building-"


def _process_runs(pid: int) -> bool:
    """Whether a process with this id exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_abandoned_builds(target: Path) -> list[Path]:
    """Remove the temporary build folders of ``target`` whose building process has ended.

    Returns the folders removed. Folders of running processes (a build in progress) are kept.
    """
    target = Path(target)
    pattern = re.compile(re.escape(_building_prefix(target)) + r"(\d+)-")
    removed = []
    if not target.parent.is_dir():
        return removed
    for folder in sorted(target.parent.iterdir()):
        match = pattern.match(folder.name)
        if match and folder.is_dir() and not _process_runs(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            log.info("removed %s, left by a build that did not finish", folder.name)
            removed.append(folder)
    return removed


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield a temporary build folder that replaces ``target`` when the block succeeds.

    On any exception the temporary folder is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_builds(target)
    build = Path(tempfile.mkdtemp(prefix=f"{_building_prefix(target)}{os.getpid()}-",
                                  dir=target.parent))
    try:
        yield build
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        old.rmdir()
        target.rename(old)
    build.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
