"""What may be written where: the rules that keep the package from replacing anything it did not
write (:func:`check_output`); :mod:`msc_analysis.report.atomic` writes an output by them.

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
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from msc_analysis.errors import OutputError

__all__ = ["PRODUCER", "REPORT", "SAFETY", "OutputError", "OutputKind", "OutputPlan",
           "check_output", "manifest_marker", "reason"]

#: The name written into every marker; an output or work folder without it is never removed.
PRODUCER = "msc-analysis"


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
        why = reason(exc) if isinstance(exc, OSError) else str(exc)
        raise OutputError(f"cannot use {shown} as the output folder: {why}") from None


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


def reason(exc: OSError) -> str:
    """An OSError as a short reason on one line (``No space left on device``)."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return " ".join(str(text).split())

