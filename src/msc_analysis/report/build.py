"""The interim report: from a study folder to tables, figures, ARD and one HTML page.

:func:`compute` runs every analysis of the SAP on the data as known at the cut-off and returns
the ARD and the derived data, in two steps: :func:`prepare` (load, cut off, derive) and
:func:`analyse`. :func:`build_report` renders the SAP's TFL list from them and writes the
output folder atomically::

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from msc_analysis import ard as ard_mod
from msc_analysis.analyses.population import analysis_sets, demographics, disposition
from msc_analysis.analyses.prepost import analysis_population, lab_parameters, run_prepost
from msc_analysis.analyses.prepost_data import MELD_COMPONENTS, PrepostData, prepare_prepost
from msc_analysis.analyses.survival import transplant_free_survival
from msc_analysis.derive.baseline import derive_baseline, first_session_start
from msc_analysis.derive.cutoff import apply_cutoff
from msc_analysis.derive.lloq import substitute_lloq
from msc_analysis.derive.meld_visits import meld_by_visit
from msc_analysis.derive.tte import derive_transplant_free_survival
from msc_analysis.errors import AnalysisError
from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import Study, load_study
from msc_analysis.render import population_tables
from msc_analysis.render.prepost_tables import prepost_tables
from msc_analysis.render.table import DisplayTable
from msc_analysis.report import figures_step, safety_step
from msc_analysis.report.atomic import atomic_folder
from msc_analysis.report.figure_worker import FigureJob
from msc_analysis.report.html_page import FigureItem, Section, TextItem, render_page
from msc_analysis.report.progress import Progress
from msc_analysis.sap import Sap, check_traceability, find_sap, load_sap

log = logging.getLogger(__name__)

#: Analyses the report validates the data for.
REPORT_ANALYSES: tuple[str, ...] = ("safety", "labs", "efficacy", "exposure", "vitals", "report")

#: Report sections: title and the TFL ids that go in it, in order of the SAP's list.
SECTIONS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("Analysis sets and subject disposition", lambda t: t in ("T14.1.1", "T14.1.2")),
    ("Demographic and baseline characteristics", lambda t: t == "T14.1.3"),
    ("Safety", lambda t: t.startswith(("T14.3.1", "T14.3.4", "T14.3.5", "T14.3.6"))
     or t in ("F14.3.1", "F14.3.2", "F14.3.3")),
    ("Bayesian safety monitoring", lambda t: t.startswith("T14.3.7") or t == "F14.3.5"),
    ("Biomarkers before and after sessions, and over follow-up",
     lambda t: t.startswith(("T14.2", "F14.2")) and t != "T14.2.8"),
    ("Transplant-free survival", lambda t: t in ("T14.2.8", "F14.3.4")),
    ("Listings", lambda t: t.startswith("L")),
)


@dataclass
class Prepared:
    """The data as known at the cut-off, derived for the analyses: what
    :func:`prepare` gives and :func:`analyse` takes.

    Figures drawn from the data alone (:data:`~msc_analysis.report.figures_step.DATA_FIGURES`)
    need nothing more, so the report can start drawing them while the analyses run.
    """

    sap: Sap
    study: Study
    cutoff: pd.Timestamp
    issues: DataIssues
    prepost: PrepostData | None
    #: ARD frames computed while preparing (disposition, analysis sets, demographics).
    frames: list[pd.DataFrame] = field(default_factory=list)


@dataclass
class Results:
    """Everything the analyses produced: ARD, derived data and the data issues."""

    sap: Sap
    study: Study
    cutoff: pd.Timestamp
    issues: DataIssues
    ard: pd.DataFrame
    prepost: PrepostData | None
    tte: pd.DataFrame
    safety: Any
    extra: dict[str, Any] = field(default_factory=dict)


def compute(
    data: Path,
    *,
    sap: Sap,
    cutoff: str | None = None,
    progress: Progress | None = None,
) -> Results:
    """Load, cut off, derive and analyse: every ARD row of the report
    (:func:`prepare`, then :func:`analyse`).

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
    return analyse(prepare(data, sap=sap, cutoff=cutoff, progress=progress), progress=progress)


def prepare(
    data: Path,
    *,
    sap: Sap,
    cutoff: str | None = None,
    progress: Progress | None = None,
) -> Prepared:
    """Load and validate the data, apply the cut-off, describe the subjects and derive the
    pre/post data (the first three of the report's steps).

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

    progress.step("subject disposition and baseline characteristics")
    by = "TRT01A" if "TRT01A" in study.adsl.columns else None
    frames = [disposition(study.adsl, by=by), analysis_sets(study.adsl, by=by)]
    prepost = _prepost_data(study, sap, issues)
    saf = _safety_set(study)
    log_params = {p: s.scale == "log" for p, s in sap.parameters.items()}
    frames.append(demographics(saf, baseline_characteristics(study, saf, sap),
                               log_params=log_params, by=by))
    return Prepared(sap=sap, study=study, cutoff=day, issues=issues, prepost=prepost,
                    frames=frames)


def analyse(prepared: Prepared, *, progress: Progress | None = None) -> Results:
    """Run the safety, pre/post and survival analyses on prepared data; bind the ARD.

    Parameters
    ----------
    prepared : Prepared
        From :func:`prepare` (its issues are added to, its frames are not changed).
    progress : Progress, optional
        Step display.
    """
    progress = progress or Progress(total=0, enabled=False)
    study, sap, issues = prepared.study, prepared.sap, prepared.issues
    frames = list(prepared.frames)

    progress.step("safety analyses")
    safety = safety_step.run(study, sap, issues, cutoff=prepared.cutoff)
    frames.append(safety.ard)

    progress.step("pre/post and follow-up analyses")
    frames.append(run_prepost(study, sap, issues, primary=prepared.prepost))

    progress.step("transplant-free survival")
    tte = derive_transplant_free_survival(_safety_set(study), horizon_days=90, issues=issues)
    frames.append(transplant_free_survival(tte, conf_level=sap.conf_level))

    ard = ard_mod.bind(frames)
    return Results(sap=sap, study=study, cutoff=prepared.cutoff, issues=issues, ard=ard,
                   prepost=prepared.prepost, tte=tte, safety=safety)


def _safety_set(study: Study) -> pd.DataFrame:
    """ADSL rows of the safety set (every subject when there is no SAFFL)."""
    return study.adsl[study.adsl.get("SAFFL", "Y") == "Y"]


def baseline_characteristics(study: Study, subjects: pd.DataFrame, sap: Sap) -> pd.DataFrame:
    """Baseline value of each DEMO parameter for ``subjects``: laboratory baselines (last value
    before the first session, below-LLOQ values per the SAP's primary rule) and MELD scores
    computed from them. Columns USUBJID, PARAMCD, BASE."""
    columns = ["USUBJID", "PARAMCD", "BASE"]
    wanted = sap.analysis("DEMO").parameters
    scores = [p for p in wanted if p in MELD_COMPONENTS]
    labs = [p for p in wanted if p not in MELD_COMPONENTS]
    needed = set(labs).union(*(MELD_COMPONENTS[p] for p in scores))
    if study.adlb is None:
        return pd.DataFrame(columns=columns)
    lab = study.adlb[study.adlb["PARAMCD"].isin(needed)
                     & study.adlb["USUBJID"].isin(subjects["USUBJID"])]
    lloq = {code: p.lloq for code, p in sap.parameters.items()}
    lab = substitute_lloq(lab, sap.lloq.primary, lloq)
    derived = derive_baseline(lab, first_session_start(study.adsl, study.adex))
    base = derived.loc[derived["ABLFL"] == "Y", columns]
    meld = meld_by_visit(tuple(subjects["USUBJID"]), subjects, base,
                         pd.DataFrame(columns=["USUBJID", "PARAMCD", "AVISIT", "AVAL", "ANL01FL"]),
                         scores, (), baseline="Baseline")
    meld = meld.loc[meld["AVISIT"] == "Baseline", columns]
    found = pd.concat([base[base["PARAMCD"].isin(labs)], meld], ignore_index=True)
    return found.sort_values(["PARAMCD", "USUBJID"], kind="stable").reset_index(drop=True)


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


def tables(results: Results) -> list[DisplayTable]:
    """Every table and listing of the SAP's TFL list, in the list's order."""
    sap, ard = results.sap, results.ard
    built: dict[str, DisplayTable] = {
        "T14.1.1": population_tables.disposition_table(ard, sap),
        "T14.1.2": population_tables.analysis_sets_table(ard, sap),
        "T14.1.3": population_tables.demographics_table(ard, sap),
        "T14.2.8": population_tables.survival_table(ard, sap),
    }
    for table in prepost_tables(ard, sap):
        built[f"T{table.number}"] = table
    built.update(safety_step.tables(results.safety, sap))
    return [built[t.id] for t in sap.tfls if t.id in built]


def build_report(
    data: Path,
    out: Path,
    *,
    sap_path: Path | None = None,
    cutoff: str | None = None,
    max_subject_figures: int = 60,
    show_progress: bool = True,
    parallel: bool | None = None,
) -> Results:
    """Build the interim report into ``out`` (atomically) and return the results.

    Parameters
    ----------
    data : Path
        Study folder (CSV, SAS transport or Parquet ADaM datasets).
    out : Path
        Output folder; replaced as a whole when the build succeeds, untouched when it fails.
    sap_path : Path, optional
        The SAP settings file; default ``sap/sap.toml`` found from the current folder upward.
    cutoff : str, optional
        Data cut-off date (YYYY-MM-DD); default the last date in the data.
    max_subject_figures : int
        Per-subject figures (spaghetti, swimmer, waterfall) show at most this many subjects.
    show_progress : bool
        Show the steps on standard error.
    parallel : bool, optional
        Share the figures with a second process, which starts on those drawn from the data
        alone while the analyses run (default: when that is safe, see
        :mod:`msc_analysis.report.figure_worker`); False draws them all in this process, last.
    """
    from msc_analysis.report.writing import write_outputs, write_page_and_manifest

    sap_file = Path(sap_path) if sap_path is not None else find_sap()
    sap = load_sap(sap_file)
    progress = Progress(total=8, enabled=show_progress)
    prepared = prepare(Path(data), sap=sap, cutoff=cutoff, progress=progress)
    with atomic_folder(Path(out)) as build:
        # the figures drawn from the data alone start now, beside the analyses
        with FigureJob(prepared, build / "figures", max_subject_figures, parallel) as job:
            results = analyse(prepared, progress=progress)
            progress.step("rendering tables")
            table_list = tables(results)
            _check_traceability(results, table_list)
            progress.step("writing tables, data and figures")
            write_outputs(results, build, table_list)
            saved = job.result(results)
        items = [FigureItem(f.number, f.title, f.png.read_bytes(), f.alt, f.footnotes)
                 for f in saved]
        write_page_and_manifest(results, build, _page(results, table_list, items),
                                sap_file=sap_file)
    progress.done(f"report written to {Path(out) / 'report.html'}")
    return results


def _check_traceability(results: Results, table_list: Sequence[DisplayTable]) -> None:
    """Add a data issue for each SAP output whose analyses have no ARD row or that is not
    produced (:func:`msc_analysis.sap.check_traceability`)."""
    sap = results.sap
    produced = {("T" if t.kind == "Table" else "L") + t.number: t.title for t in table_list}
    produced.update({t.id: t.title for t in sap.tfls
                     if t.kind == "figure" and t.id in figures_step.BUILDERS})
    for problem in check_traceability(sap, results.ard, produced):
        results.issues.add(source="traceability", rule="sap-traceability",
                           severity="warning", message=problem)


def _page(results: Results, table_list: list[DisplayTable],
          figure_items: Sequence[FigureItem]) -> str:
    sap = results.sap
    items: dict[str, Any] = {}
    for t in table_list:
        items[("T" if t.kind == "Table" else "L") + t.number] = t
    for fig in figure_items:
        items[f"F{fig.number}"] = fig
    sections = []
    for title, member in SECTIONS:
        chosen = [items[t.id] for t in sap.tfls if member(t.id) and t.id in items]
        if title == "Bayesian safety monitoring":
            chosen.insert(0, TextItem(safety_step.monitoring_decision(results.safety, sap)))
        sections.append(Section(title, tuple(chosen)))
    adsl = results.study.adsl
    set_counts = ", ".join(
        f"{s.label} {int((adsl[s.flag] == 'Y').sum()) if s.flag in adsl else len(adsl)}"
        for s in sap.analysis_sets.values())
    meta = [
        ("Study", f"{sap.study_id}: {sap.title}"),
        ("Data cut-off", str(results.cutoff.date())),
        ("Analysis sets (subjects)", set_counts),
        ("Data issues", f"{len(results.issues)} (listed in data_issues.csv)"),
        ("Analysis", "Interim analysis: descriptive only, no formal hypothesis testing "
                     "(SAP section on the interim analysis)."),
    ]
    return render_page(f"{sap.study_id} interim safety report", meta, sections)
