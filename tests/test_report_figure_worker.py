"""The report's figure job: drawn in a forked child or in this process, the same files; the
child's figures need only the prepared data; an error in the child reaches the caller; a failure
elsewhere in the build stops the child."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from msc_analysis.errors import AnalysisError, MscError
from msc_analysis.report import figures_step
from msc_analysis.report.analysis_step import analyse
from msc_analysis.report.build import Prepared, Results, prepare
from msc_analysis.report.figure_worker import FigureJob, can_fork
from msc_analysis.sap import load_sap

REPO = Path(__file__).resolve().parents[1]
SAP = load_sap(REPO / "sap" / "sap.toml")
#: The figures these tests draw (cheap ones): one drawn from the prepared data alone, which the
#: child draws, and one of analysis results, which the parent draws.
FIGURE = "F14.3.2"
LATE = "F14.3.4"


@pytest.fixture
def needs_fork() -> None:
    """Skip unless a child can be forked now (checked when the test runs: earlier tests, such
    as the notebook tests, may have left threads running)."""
    if not can_fork():
        pytest.skip("fork is not available here, or several threads run")


def _two_figures(sap: Any) -> Any:
    return dataclasses.replace(sap, tfls=tuple(t for t in sap.tfls
                                               if t.kind != "figure" or t.id in (FIGURE, LATE)))


@pytest.fixture(scope="module")
def prepared() -> Prepared:
    """The 10-subject study's prepared data, with the SAP's list cut to two figures."""
    data = prepare(REPO / "data" / "synthetic", sap=SAP)
    return dataclasses.replace(data, sap=_two_figures(SAP))


@pytest.fixture(scope="module")
def results(prepared: Prepared) -> Results:
    """The complete results of :func:`prepared`."""
    return analyse(prepared)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_the_data_figures_need_only_the_prepared_data(prepared: Prepared) -> None:
    # Prepared has no ARD, survival data or safety results: a figure of DATA_FIGURES that
    # used one would fail here (AttributeError), not silently in the child.
    import matplotlib.pyplot as plt

    assert not hasattr(prepared, "ard")
    for figure_id in sorted(figures_step.DATA_FIGURES):
        plt.close(figures_step.BUILDERS[figure_id][0](prepared, 60))
    assert figures_step.DATA_FIGURES <= set(figures_step.BUILDERS)


def test_preparing_and_drawing_the_data_figures_import_no_statistics_library() -> None:
    # The figure process is forked once the data are prepared; the report imports scipy.stats
    # and statsmodels (0.7 s) only after that, in the parent. A module-level import of either
    # on the way to the figures of DATA_FIGURES would put that time back before the fork.
    code = """
import sys
from pathlib import Path
import matplotlib.pyplot as plt
from msc_analysis.report import figures_step
from msc_analysis.report.build import prepare
from msc_analysis.sap import load_sap
repo = Path(sys.argv[1])
prepared = prepare(repo / "data" / "synthetic", sap=load_sap(repo / "sap" / "sap.toml"))
for figure_id in sorted(figures_step.DATA_FIGURES):
    plt.close(figures_step.BUILDERS[figure_id][0](prepared, 60))
print(sorted(m for m in ("scipy.stats", "statsmodels") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code, str(REPO)], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.usefixtures("needs_fork")
def test_forked_and_serial_jobs_write_the_same_files(prepared: Prepared, results: Results,
                                                     tmp_path: Path) -> None:
    with FigureJob(results, tmp_path / "serial", 60, parallel=False) as job:
        assert not job.in_child
        serial = job.result()
    # as in the report: the child starts from the prepared data, the rest comes later
    with FigureJob(prepared, tmp_path / "forked", 60, parallel=True) as job:
        assert job.in_child
        forked = job.result(results)
    assert [(f.number, f.title, f.alt, f.footnotes) for f in serial] == \
        [(f.number, f.title, f.alt, f.footnotes) for f in forked]
    assert [f.number for f in serial] == ["14.3.2", "14.3.4"]
    assert _files(tmp_path / "serial") == _files(tmp_path / "forked")
    assert sorted(_files(tmp_path / "forked")) == ["f14_3_2.png", "f14_3_2.svg",
                                                   "f14_3_4.png", "f14_3_4.svg"]


def _timed_figure(seconds: float, title: str, marks: str) -> Any:
    """A figure that takes ``seconds`` to make and leaves a file ``<title>.pid`` in ``marks``
    saying which process drew it (module level, so that a Drawing of it pickles)."""
    import os

    import matplotlib.pyplot as plt

    time.sleep(seconds)
    (Path(marks) / f"{title}.pid").write_text(str(os.getpid()))
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.set_title(title)
    return fig


@pytest.mark.usefixtures("needs_fork")
def test_shared_figures_come_back_in_the_sap_order(results: Results, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Six figures of very different cost, taken by the child and this process from one
    # counter: those drawn from the data alone first, then the drawings of analysis results
    # (sent to the child by share()). Whoever draws which, the list comes back in the SAP's
    # order, each figure once; the child, free early, draws figures of results too.
    import os

    marks = tmp_path / "marks"
    marks.mkdir()
    tfls = [t for t in SAP.tfls if t.kind == "figure"][:6]
    assert [t.id in figures_step.DATA_FIGURES for t in tfls] == [True, True, True, False, False,
                                                                 True]
    sap = dataclasses.replace(SAP, tfls=tuple(tfls))
    for tfl, seconds in zip(tfls, (0.6, 0.0, 0.3, 0.5, 0.5, 0.0), strict=True):
        drawing = figures_step.Drawing(_timed_figure, {"seconds": seconds, "title": tfl.id,
                                                       "marks": str(marks)})
        if tfl.id in figures_step.DATA_FIGURES:
            monkeypatch.setitem(figures_step.BUILDERS, tfl.id,
                                (lambda r, m, d=drawing: d.draw(), "alt"))
        else:
            monkeypatch.setitem(figures_step.DRAWINGS, tfl.id, lambda r, m, d=drawing: d)
    six = dataclasses.replace(results, sap=sap)
    with FigureJob(six, tmp_path / "figures", 60, parallel=True) as job:
        job.share(six)
        time.sleep(1.5)  # this process is busy elsewhere: the child takes everything it can
        saved = job.result()
    assert [f.number for f in saved] == [t.number for t in tfls]
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted(
        f"f{t.number.replace('.', '_')}.{ext}" for t in tfls for ext in ("png", "svg"))
    drawers = {p.stem: int(p.read_text()) for p in marks.iterdir()}
    assert sorted(drawers) == sorted(t.id for t in tfls)
    child_drew = {fid for fid, pid in drawers.items() if pid != os.getpid()}
    assert child_drew & {"F14.2.4", "F14.3.1"}  # a figure of analysis results, in the child


def test_drawings_pickle_and_draw_the_same_figure(results: Results, tmp_path: Path) -> None:
    # What the figure process receives is a pickled copy: it must draw the same file.
    import pickle

    from msc_analysis.render.style import save_figure
    from msc_analysis.report.figure_worker import make_drawings

    drawings = make_drawings(results, 60)
    assert sorted(drawings) == [LATE]
    copy = pickle.loads(pickle.dumps(drawings))
    direct = save_figure(figures_step.BUILDERS[LATE][0](results, 60), tmp_path / "direct")
    sent = save_figure(copy[LATE].draw(), tmp_path / "sent")
    for fmt in ("png", "svg"):
        assert direct[fmt].read_bytes() == sent[fmt].read_bytes()


def test_every_figure_is_drawn_from_the_data_or_from_a_drawing() -> None:
    assert not figures_step.DATA_FIGURES & set(figures_step.DRAWINGS)
    assert figures_step.DATA_FIGURES | set(figures_step.DRAWINGS) == set(figures_step.BUILDERS)
    assert {t.id for t in SAP.tfls if t.kind == "figure"} <= set(figures_step.BUILDERS)


def _child_has_taken_the_figure(job: FigureJob) -> None:
    """Wait until the child has taken the (only) figure drawn from the data alone, so that it,
    not this process, draws it."""
    deadline = time.perf_counter() + 20
    while job._counter.value < 1:
        assert time.perf_counter() < deadline, "the child took no figure"
        time.sleep(0.01)


def _failing(exc: BaseException) -> Any:
    def build(results: Any, max_subjects: int) -> Any:
        raise exc
    return build


@pytest.mark.usefixtures("needs_fork")
def test_an_error_in_the_child_reaches_the_caller(results: Results, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    alt = figures_step.BUILDERS[FIGURE][1]
    monkeypatch.setitem(figures_step.BUILDERS, FIGURE,
                        (_failing(AnalysisError("no exposure data for F14.3.2")), alt))
    with FigureJob(results, tmp_path, 60, parallel=True) as job:
        _child_has_taken_the_figure(job)
        with pytest.raises(MscError, match=r"no exposure data for F14\.3\.2"):
            job.result()
    monkeypatch.setitem(figures_step.BUILDERS, FIGURE, (_failing(ValueError("bad axis")), alt))
    with FigureJob(results, tmp_path, 60, parallel=True) as job:
        _child_has_taken_the_figure(job)
        with pytest.raises(RuntimeError, match="drawing the figures failed: bad axis"):
            job.result()
    # a file the child cannot write (a full disk) comes back as the OSError it is, which the
    # output folder turns into a one-line message naming the folder (test_output_folders.py)
    full = OSError(28, "No space left on device", str(tmp_path / "f14_3_2.png"))
    monkeypatch.setitem(figures_step.BUILDERS, FIGURE, (_failing(full), alt))
    with FigureJob(results, tmp_path, 60, parallel=True) as job:
        _child_has_taken_the_figure(job)
        with pytest.raises(OSError, match="No space left on device") as raised:
            job.result()
    assert raised.value.errno == 28 and raised.value.filename == full.filename


@pytest.mark.usefixtures("needs_fork")
def test_a_failure_elsewhere_stops_the_child(results: Results, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(results: Any, max_subjects: int) -> Any:
        time.sleep(60)

    monkeypatch.setitem(figures_step.BUILDERS, FIGURE, (slow, "slow"))
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="tables failed"):
        with FigureJob(results, tmp_path, 60, parallel=True) as job:
            raise RuntimeError("tables failed")
    assert time.perf_counter() - start < 10
    assert job._process is not None and not job._process.is_alive()


def test_no_fork_while_other_threads_run(results: Results, tmp_path: Path) -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not can_fork()
        with FigureJob(results, tmp_path, 60, parallel=True) as job:
            assert not job.in_child  # asked for, but unsafe: drawn here
            assert [f.number for f in job.result()] == ["14.3.2", "14.3.4"]
    finally:
        release.set()
        other.join()


def test_capped_figures_say_how_many_subjects_they_leave_out(results: Results,
                                                             tmp_path: Path) -> None:
    # 9 treated subjects in data/synthetic: with a cap of 3 the per-subject swimmer plot
    # (F14.3.2) says it shows 3 of 9; the KM curve (not per subject) has no such note; with
    # the default cap of 60 nothing is left out and no note is added.
    assert figures_step.cap_note(results, "F14.3.2", 3) == (
        "Display limited to the first 3 subjects by subject identifier (of 9 treated subjects; "
        "--max-subject-figures); the tables, listings and analyses include every subject.")
    assert figures_step.cap_note(results, "F14.3.4", 3) is None
    assert figures_step.cap_note(results, "F14.3.2", 60) is None
    assert figures_step.cap_note(results, "F14.3.2", 9) is None
    sap = dataclasses.replace(SAP, tfls=tuple(t for t in SAP.tfls if t.id == "F14.3.2"))
    with FigureJob(dataclasses.replace(results, sap=sap), tmp_path, 3, parallel=False) as job:
        (saved,) = job.result()
    assert saved.footnotes[-1].startswith("Display limited to the first 3 subjects")
