"""Drawing and saving the report's figures, shared with a second process when that is safe.

Drawing the figures and saving each as a 300-dpi PNG and an SVG takes longer than the
analyses, tables and datasets together. On a machine with two cores the work is shared:
:class:`FigureJob` forks a child process as soon as the data are prepared
(:func:`msc_analysis.report.build.prepare`), and the child draws the figures that need nothing
but those data (:data:`~msc_analysis.report.figures_step.DATA_FIGURES`: trajectories, pre/post
values, waterfalls, swimmer and hepatic plots) while this process runs the analyses. As soon as
they are done, this process makes the figures of analysis results into small
:class:`~msc_analysis.report.figures_step.Drawing` objects and sends them to the child
(:meth:`FigureJob.share`); it then writes the tables, ARD and datasets and joins in. Both take
the next figure from one shared counter (those drawn from the data first, then the drawings),
so the work balances itself whatever each figure costs. The files are the same bytes whichever
process draws a figure (same data, same deterministic writer).

The child is forked (it inherits the data in memory; nothing is pickled but the drawings and the
small list of saved figures), so it is used only where forking is safe: on a platform with
``fork`` and in a process that runs a single thread. A Jupyter kernel runs several threads,
which a fork would copy in an unknown state, so in a notebook (or with ``parallel=False``)
every figure is drawn in the calling process, after the rest, in the SAP's order.

The child never outlives the build: on Linux it asks the kernel to kill it when its parent dies
(``prctl(PR_SET_PDEATHSIG)``, checked against a parent that died before), and everywhere it
closes its copies of the parent's pipe ends, so that a child waiting for the drawings reads the
end of the pipe when the parent is killed, and exits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from msc_analysis.errors import MscError
from msc_analysis.render.style import save_figure
from msc_analysis.report import figures_step
from msc_analysis.report.output_names import stem

log = logging.getLogger(__name__)

__all__ = ["FigureJob", "SavedFigure", "can_fork", "draw_and_save", "frozen_heap",
           "make_drawings"]


@dataclass(frozen=True)
class SavedFigure:
    """A figure written to disk: SAP number and title, alternative text, footnotes, PNG path."""

    number: str
    title: str
    alt: str
    footnotes: tuple[str, ...]
    png: Path


def _figure_tfls(data: Any, early: bool | None = None) -> list[Any]:
    """The figures of the SAP's TFL list, in its order: all of them (``early`` None), those
    drawn from the prepared data alone (True) or those that need the analyses (False)."""
    return [t for t in data.sap.tfls if t.kind == "figure"
            and (early is None or (t.id in figures_step.DATA_FIGURES) == early)]


def _work_order(data: Any) -> list[Any]:
    """The order in which the processes take the figures: those drawn from the data alone (the
    child starts on them at once), then those of analysis results, each in the SAP's order."""
    return _figure_tfls(data, early=True) + _figure_tfls(data, early=False)


def _draw_one(data: Any, tfl: Any, folder: Path, max_subjects: int,
              drawing: figures_step.Drawing | None = None) -> SavedFigure:
    """Draw one figure (from ``drawing`` if given, else from ``data``), save it as PNG and SVG
    in ``folder`` and close it."""
    build, alt = figures_step.BUILDERS[tfl.id]
    fig = drawing.draw() if drawing is not None else build(data, max_subjects)
    try:
        paths = save_figure(fig, folder / stem("figure", tfl.number))
    finally:
        plt.close(fig)
    note = figures_step.cap_note(data, tfl.id, max_subjects)
    notes = (*tfl.footnotes, note) if note else tuple(tfl.footnotes)
    return SavedFigure(tfl.number, tfl.title, alt, notes, paths["png"])


def draw_and_save(results: Any, folder: Path, max_subjects: int) -> list[SavedFigure]:
    """Draw each figure of the SAP's TFL list, save it as PNG and SVG in ``folder``, close it.

    One figure is open at a time, so memory does not grow with the number of figures.
    """
    return [_draw_one(results, tfl, Path(folder), max_subjects) for tfl in _figure_tfls(results)]


def make_drawings(results: Any, max_subjects: int) -> dict[str, figures_step.Drawing]:
    """The figures of analysis results in the SAP's list, as drawings (by figure id)."""
    return {t.id: figures_step.DRAWINGS[t.id](results, max_subjects)
            for t in _figure_tfls(results, early=False)}


Drawings = Callable[[], dict[str, figures_step.Drawing]]


def _draw_shared(data: Any, folder: Path, max_subjects: int, counter: Any,
                 drawings: Drawings) -> list[tuple[int, SavedFigure]]:
    """Draw the figures not yet taken: each process takes the next index of :func:`_work_order`
    from ``counter``; a figure of analysis results is drawn from ``drawings()`` (called only
    when one is taken). Returns (position in the SAP's figure list, saved figure) pairs."""
    everything = _figure_tfls(data)
    order = _work_order(data)
    drawn = []
    while True:
        with counter.get_lock():
            index = counter.value
            counter.value += 1
        if index >= len(order):
            return drawn
        tfl = order[index]
        drawing = None if tfl.id in figures_step.DATA_FIGURES else drawings()[tfl.id]
        drawn.append((everything.index(tfl), _draw_one(data, tfl, folder, max_subjects, drawing)))


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Leave the objects alive on entry out of the garbage collector's passes until exit.

    Each full pass of the collector visits every object that can hold references: after the
    imports and the data are loaded that is a few hundred thousand, and the report's figures
    trigger many passes. Objects kept for the whole build (modules, the data) need not be
    visited again; new objects are collected as usual. A forked child inherits the frozen state,
    so it does not write to (and copy) the parent's memory pages to collect them either.

    Nested use (or a freeze by the caller) is respected: only the outermost exit unfreezes.
    """
    outermost = gc.get_freeze_count() == 0
    gc.freeze()
    try:
        yield
    finally:
        if outermost:
            gc.unfreeze()


def can_fork() -> bool:
    """Whether a child may be forked safely: ``fork`` exists and only one thread is running."""
    return ("fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1)


_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int, parents_ends: tuple[Connection, ...]) -> None:
    """Make this forked child end when its parent ``parent`` does.

    On Linux the kernel kills the child when the parent dies; a parent that died before that was
    set is seen by :func:`os.getppid`. Everywhere, the child closes its copies of the pipe ends
    the parent uses (``parents_ends``), so that reading from the parent gives end-of-file once
    the parent has gone.
    """
    for end in parents_ends:
        end.close()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the pipes still end
            pass
    if os.getppid() != parent:
        os._exit(1)


def _child(conn: Connection, inbox: Connection, data: Any, folder: Path, max_subjects: int,
           counter: Any, parent: int | None = None,
           parents_ends: tuple[Connection, ...] = ()) -> None:
    """Body of the forked child: draw figures from the shared counter (the drawings of analysis
    results come through ``inbox`` when first needed), send back what it drew or its error.

    ``parent`` is the parent's process id and ``parents_ends`` its ends of the two pipes
    (:func:`_die_with_parent`)."""
    if parent is not None:
        _die_with_parent(parent, parents_ends)
    received: list[dict[str, figures_step.Drawing]] = []

    def drawings() -> dict[str, figures_step.Drawing]:
        if not received:
            received.append(inbox.recv())
        return received[0]

    try:
        conn.send(("ok", _draw_shared(data, folder, max_subjects, counter, drawings)))
    except BaseException as exc:  # everything goes back to the parent, which reports it
        with counter.get_lock():  # the parent must not wait for figures nobody will draw
            counter.value = len(_work_order(data))
        if isinstance(exc, OSError):  # re-raised as such (a full disk is the output's error)
            conn.send(("oserror", exc.errno, exc.strerror or str(exc), exc.filename))
        else:
            conn.send(("error", isinstance(exc, MscError), str(exc) or type(exc).__name__,
                       traceback.format_exc()))
    finally:
        conn.close()
        inbox.close()


class FigureJob:
    """The report's figures, shared with a forked child when possible, else drawn here.

    Parameters
    ----------
    data : Prepared or Results
        What the figures drawn from the data alone are drawn from: the prepared data
        (:func:`msc_analysis.report.build.prepare`) or the complete results.
    folder : Path
        Where the PNG and SVG files go.
    max_subjects : int
        Cap on subjects in per-subject figures.
    parallel : bool, optional
        True: fork a child (when :func:`can_fork`); False: draw in this process; None (default):
        fork when :func:`can_fork`.

    Use it as a context manager, which starts it and, if the block fails, stops the child::

        with FigureJob(prepared, folder, 60) as job:
            results = analyse(prepared)
            job.share(results)           # the child may now draw the figures of results too
            ...                          # other work
            saved = job.result(results)  # this process draws what is left, then collects
    """

    def __init__(self, data: Any, folder: Path, max_subjects: int,
                 parallel: bool | None = None) -> None:
        self._data = data
        self._folder = Path(folder)
        self._max_subjects = max_subjects
        self._parallel = can_fork() if parallel is None else (parallel and can_fork())
        self._process: Any = None
        self._conn: Connection | None = None
        self._outbox: Connection | None = None
        self._sender: threading.Thread | None = None
        self._counter: Any = None
        self._drawings: dict[str, figures_step.Drawing] | None = None

    @property
    def in_child(self) -> bool:
        """Whether a forked child shares the drawing."""
        return self._parallel

    def start(self) -> FigureJob:
        """Fork the child (parallel mode); in serial mode nothing happens until :meth:`result`."""
        if not self._parallel:
            return self
        context = multiprocessing.get_context("fork")
        self._counter = context.Value("i", 0)
        receive, send = context.Pipe(duplex=False)  # child -> parent: what it drew
        inbox, outbox = context.Pipe(duplex=False)  # parent -> child: the drawings
        self._process = context.Process(
            target=_child, name="msc-analysis figures", daemon=True,
            args=(send, inbox, self._data, self._folder, self._max_subjects, self._counter,
                  os.getpid(), (receive, outbox)))
        with frozen_heap():  # the child does not collect (and copy) the parent's objects
            self._process.start()
        send.close()
        inbox.close()
        self._conn, self._outbox = receive, outbox
        log.debug("figures shared with child process %s", self._process.pid)
        return self

    def __enter__(self) -> FigureJob:
        return self.start()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.stop()

    def stop(self) -> None:
        """End the child if it is still running (after a failure elsewhere in the build)."""
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join()
        for conn in (self._conn, self._outbox):
            if conn is not None:
                conn.close()

    def share(self, results: Any) -> None:
        """Make the figures of analysis results into drawings and hand them to the child.

        Call it as soon as the analyses are done, so that the child never waits for them. The
        drawings are sent by a background thread: the child reads them only when it takes its
        first figure of analysis results, and this process goes on meanwhile. In serial mode
        there is no child, and nothing is done.
        """
        if self._drawings is not None or not self._parallel:
            return
        self._drawings = make_drawings(results, self._max_subjects)
        self._sender = threading.Thread(target=self._send, args=(self._drawings,),
                                        name="msc-analysis figure drawings", daemon=True)
        self._sender.start()

    def _send(self, drawings: dict[str, figures_step.Drawing]) -> None:
        assert self._outbox is not None
        try:
            self._outbox.send(drawings)
        except OSError:  # the child has ended (it needed none, or failed: result() says so)
            pass

    def result(self, results: Any = None) -> list[SavedFigure]:
        """Every saved figure, in the SAP's order, once all are written.

        Parameters
        ----------
        results : Results, optional
            The complete results, which the figures of analysis results are drawn from
            (default: the job's ``data``, when that is already complete).

        In serial mode this draws them all; in parallel mode this process shares the drawings
        (if :meth:`share` was not called), draws the figures nobody has taken yet, then
        collects the child's.

        Raises
        ------
        MscError
            When the child failed: its error message (an MscError of the child is re-raised
            as such; any other error is reported with the child's traceback in the log).
        OSError
            When the child could not write a figure (re-raised with its number and file).
        """
        results = self._data if results is None else results
        if not self._parallel:
            return draw_and_save(results, self._folder, self._max_subjects)
        assert self._conn is not None and self._process is not None
        self.share(results)
        drawings = self._drawings
        assert drawings is not None
        mine = _draw_shared(self._data, self._folder, self._max_subjects, self._counter,
                            lambda: drawings)
        try:
            message = self._conn.recv()
        except EOFError:
            message = None
        finally:
            self._conn.close()
            self._process.join()
            if self._sender is not None:  # ends once the child has read or has ended
                self._sender.join()
        if message is None:
            raise MscError(f"the figure process ended without a result "
                           f"(exit code {self._process.exitcode})")
        if message[0] == "oserror":
            _, number, text, filename = message
            raise OSError(number, text, filename)
        if message[0] != "ok":
            _, is_msc, text, trace = message
            if is_msc:
                raise MscError(text)
            log.error("figure process failed:\n%s", trace)
            raise RuntimeError(f"drawing the figures failed: {text}")
        log.debug("figures drawn here: %s; in the child: %s", [i for i, _ in mine],
                  [i for i, _ in message[1]])
        return [saved for _, saved in sorted([*mine, *message[1]], key=lambda pair: pair[0])]
