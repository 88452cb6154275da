"""The interim report: from a study folder to tables, figures, ARD and one HTML page.

:func:`compute` runs every analysis of the SAP on the data as known at the cut-off and returns
the ARD and the derived data, in two stages: :func:`prepare` (load, validate, cut off, derive;
:class:`~msc_analysis.report.results.Prepared`) and
:func:`msc_analysis.report.analysis_step.analyse` (the analyses;
:class:`~msc_analysis.report.results.Results`). :func:`build_report` renders the SAP's TFL list
from them and writes the output folder atomically (:mod:`msc_analysis.report.atomic`: the folder
is checked first, and only a new or empty folder or a previous report is replaced)::

    OUT/report.html          the report (self-contained)
    OUT/tables/              each table as CSV (tidy, unrounded), HTML and RTF
    OUT/figures/             each figure as PNG (300 dpi) and SVG
    OUT/ard.csv              one row per statistic, with the SAP's analysis ids
    OUT/datasets/            derived ADSL, ADLB, ADAE, ADTTE as CSV
    OUT/data_issues.csv      every warning and excluded record, with its reason
    OUT/manifest.json        inputs' SHA-256, settings, versions, commit, cut-off, seed, run time

The report produces exactly the SAP's TFL list, numbered and titled as there.
"""

from __future__ import annotations

import logging
from pathlib import Path

from msc_analysis.analyses.prepost_data import (
    PrepostData,
    analysis_population,
    lab_parameters,
    prepare_prepost,
)
from msc_analysis.derive.cutoff import apply_cutoff
from msc_analysis.errors import AnalysisError, SettingsError
from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import Study, load_study
from msc_analysis.report.atomic import REPORT, atomic_folder
from msc_analysis.report.figure_worker import FigureJob, frozen_heap
from msc_analysis.report.html_page import FigureItem
from msc_analysis.report.progress import Progress
from msc_analysis.report.results import Prepared, Results
from msc_analysis.sap import Sap, find_sap, load_sap

log = logging.getLogger(__name__)

__all__ = ["REPORT_ANALYSES", "Prepared", "Results", "build_report", "compute", "prepare"]

#: Analyses the report validates the data for.
REPORT_ANALYSES: tuple[str, ...] = ("safety", "labs", "efficacy", "exposure", "vitals", "report")


def compute(
    data: Path,
    *,
    sap: Sap,
    cutoff: str | None = None,
    progress: Progress | None = None,
) -> Results:
    """Load, cut off, derive and analyse: every ARD row of the report
    (:func:`prepare`, then :func:`msc_analysis.report.analysis_step.analyse`).

    Parameters
    ----------
    data : Path
        Study folder.
    sap : Sap
        The SAP settings.
    cutoff : str, optional
        Data cut-off date (YYYY-MM-DD); default the last date in the data.
    progress : Progress, optional
        Step display.
    """
    from msc_analysis.report.analysis_step import analyse  # the statistics libraries

    return analyse(prepare(data, sap=sap, cutoff=cutoff, progress=progress), progress=progress)


def prepare(
    data: Path,
    *,
    sap: Sap,
    cutoff: str | None = None,
    progress: Progress | None = None,
) -> Prepared:
    """Load and validate the data, apply the cut-off and derive the pre/post data (the first
    three of the report's steps). Needs no statistics library (see
    :mod:`msc_analysis.report.analysis_step`).

    Parameters are those of :func:`compute`.

    Raises
    ------
    AnalysisError
        When no subject was enrolled by the cut-off.
    """
    progress = progress or Progress(total=0, enabled=False)
    issues = DataIssues()
    progress.step("loading and validating the data")
    study = load_study(Path(data), analyses=REPORT_ANALYSES, issues=issues)
    progress.step("applying the data cut-off")
    study, day = apply_cutoff(study, cutoff, issues)
    if study.adsl.empty:
        raise AnalysisError(f"no subject was enrolled by the cut-off {day.date()}")
    progress.step("deriving the pre/post data")
    prepost = _prepost_data(study, sap, issues)
    return Prepared(sap=sap, study=study, cutoff=day, issues=issues, prepost=prepost)


def _prepost_data(study: Study, sap: Sap, issues: DataIssues) -> PrepostData | None:
    """The derived pre/post data of the primary LLOQ rule (None when there is no ADLB)."""
    if study.adlb is None:
        return None
    try:
        return prepare_prepost(study, sap, sap.lloq.primary, lab_parameters(sap),
                               analysis_population(sap))
    except AnalysisError as exc:
        issues.add(source="report", rule="no-prepost-data", severity="warning", message=str(exc))
        return None


def build_report(
    data: Path,
    out: Path,
    *,
    sap_path: Path | None = None,
    cutoff: str | None = None,
    max_subject_figures: int = 60,
    show_progress: bool = True,
    parallel: bool | None = None,
    force: bool = False,
) -> Results:
    """Build the interim report into ``out`` (atomically) and return the results.

    Parameters
    ----------
    data : Path
        Study folder (CSV, SAS transport or Parquet ADaM datasets).
    out : Path
        Output folder: new, empty or a previous report of msc-analysis (recognised by its
        manifest); replaced as a whole when the build succeeds, untouched when it fails. It may
        not be, contain or lie inside ``data``.
    sap_path : Path, optional
        The SAP settings file; default ``sap/sap.toml`` found from the current folder upward.
    cutoff : str, optional
        Data cut-off date (YYYY-MM-DD); default the last date in the data.
    max_subject_figures : int
        Per-subject figures (spaghetti, swimmer, waterfall) show at most this many subjects
        (1 or more).
    show_progress : bool
        Show the steps on standard error.
    parallel : bool, optional
        Share the figures with a second process, which starts on those drawn from the data
        alone while the analyses run (default: when that is safe, see
        :mod:`msc_analysis.report.figure_worker`); False draws them all in this process, last.
    force : bool
        Accept an ``out`` that holds other files: it is moved aside, whole, to ``OUT.kept-<n>``
        (nothing is deleted).

    Raises
    ------
    OutputError
        When ``out`` is refused (checked before anything is read) or cannot be written.
    SettingsError
        When ``max_subject_figures`` is not a whole number of 1 or more.
    """
    if isinstance(max_subject_figures, bool) or not isinstance(max_subject_figures, int) \
            or max_subject_figures < 1:
        raise SettingsError("the cap on subjects in per-subject figures must be a whole number "
                            f"of 1 or more, got {max_subject_figures!r}")
    sap_file = Path(sap_path) if sap_path is not None else find_sap()
    sap = load_sap(sap_file)
    progress = Progress(total=8, enabled=show_progress)
    with atomic_folder(Path(out), REPORT, data=Path(data), force=force) as build:
        prepared = prepare(Path(data), sap=sap, cutoff=cutoff, progress=progress)
        with frozen_heap():
            results = _write_report(prepared, build, sap_file=sap_file,
                                    max_subject_figures=max_subject_figures, parallel=parallel,
                                    progress=progress)
    progress.done(f"report written to {Path(out) / 'report.html'}")
    return results


def _write_report(prepared: Prepared, build: Path, *, sap_file: Path, max_subject_figures: int,
                  parallel: bool | None, progress: Progress) -> Results:
    """Analyse the prepared data and write every file of the report into ``build``."""
    # The figures drawn from the data alone start now, in a second process, beside the
    # analyses; the statistics libraries are imported after the fork, by this process only.
    with FigureJob(prepared, build / "figures", max_subject_figures, parallel) as job:
        from msc_analysis.report import analysis_step
        from msc_analysis.report.writing import write_outputs, write_page_and_manifest

        results = analysis_step.analyse(prepared, progress=progress)
        job.share(results)  # the figures of analysis results, for the figure process too
        progress.step("rendering tables")
        table_list = analysis_step.tables(results)
        analysis_step.check_outputs(results, table_list)
        progress.step("writing tables, data and figures")
        write_outputs(results, build, table_list)
        saved = job.result(results)
    items = [FigureItem(f.number, f.title, f.png.read_bytes(), f.alt, f.footnotes)
             for f in saved]
    page = analysis_step.report_page(results, table_list, items)
    write_page_and_manifest(results, build, page, sap_file=sap_file)
    return results
