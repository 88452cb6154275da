"""The report's analysis stage: every analysis of the SAP on the prepared data, and the tables
and the report page built from the results.

This module imports the statistics libraries (scipy.stats, statsmodels: about 0.7 s to
import). :mod:`msc_analysis.report.build` imports it only once the data are prepared, after
the figure process is forked, so that the figures drawn from the data alone do not wait for
those imports (the figure process does not need them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from msc_analysis import ard as ard_mod
from msc_analysis.analyses.population import analysis_sets, demographics, disposition
from msc_analysis.analyses.prepost import PP_IDS, run_prepost
from msc_analysis.analyses.prepost_data import MELD_COMPONENTS, analysis_population
from msc_analysis.analyses.safety import NO_SUBJECTS
from msc_analysis.analyses.survival import transplant_free_survival
from msc_analysis.derive.baseline import derive_baseline, first_session_start
from msc_analysis.derive.lloq import substitute_lloq
from msc_analysis.derive.meld_visits import meld_by_visit
from msc_analysis.derive.tte import HORIZON_DAYS, derive_transplant_free_survival
from msc_analysis.io.loading import Study
from msc_analysis.render import population_tables
from msc_analysis.render.prepost_tables import prepost_tables
from msc_analysis.render.table import DisplayTable, not_estimable_table
from msc_analysis.report import figures_step, safety_step
from msc_analysis.report.html_page import FigureItem, Section, TextItem, render_page
from msc_analysis.report.progress import Progress
from msc_analysis.report.results import Prepared, Results, safety_set
from msc_analysis.sap import Sap, check_traceability

__all__ = ["SECTIONS", "analyse", "baseline_characteristics", "check_outputs", "report_page",
           "tables"]

#: Key of :attr:`Results.extra <msc_analysis.report.results.Results.extra>`: analysis id ->
#: why the analysis did not run (its tables say so).
NOT_RUN = "not_run"

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


def analyse(prepared: Prepared, *, progress: Progress | None = None) -> Results:
    """Run the SAP's analyses on prepared data and bind the ARD: disposition, analysis sets and
    demographics; safety; pre/post and follow-up; transplant-free survival.

    Parameters
    ----------
    prepared : Prepared
        From :func:`msc_analysis.report.build.prepare` (its issues are added to).
    progress : Progress, optional
        Step display.
    """
    progress = progress or Progress(total=0, enabled=False)
    study, sap, issues = prepared.study, prepared.sap, prepared.issues
    progress.step("disposition, baseline characteristics and safety analyses")
    by = "TRT01A" if "TRT01A" in study.adsl.columns else None
    saf = safety_set(study)
    log_params = {p: s.scale == "log" for p, s in sap.parameters.items()}
    frames = [disposition(study.adsl, by=by), analysis_sets(study.adsl, by=by),
              demographics(saf, baseline_characteristics(study, saf, sap),
                           log_params=log_params, by=by)]

    safety = safety_step.run(study, sap, issues, cutoff=prepared.cutoff)
    frames.append(safety.ard)

    progress.step("pre/post and follow-up analyses")
    not_run = dict(safety.skipped)
    if saf.empty:
        not_run["DEMO"] = NO_SUBJECTS
    if prepared.prepost is None:  # no pre/post data (e.g. no FAS subject at an early cut-off)
        not_run.update(dict.fromkeys(PP_IDS, _no_prepost_reason(study, sap)))
    else:
        frames.append(run_prepost(study, sap, issues, primary=prepared.prepost))

    progress.step("transplant-free survival")
    tte = derive_transplant_free_survival(saf, horizon_days=HORIZON_DAYS, issues=issues)
    frames.append(transplant_free_survival(tte, conf_level=sap.conf_level))

    return Results(sap=sap, study=study, cutoff=prepared.cutoff, issues=issues,
                   ard=ard_mod.bind(frames), prepost=prepared.prepost, tte=tte, safety=safety,
                   extra={NOT_RUN: not_run})


def _no_prepost_reason(study: Study, sap: Sap) -> str:
    """Why the pre/post analyses have no data, in words for the tables."""
    aset = sap.analysis_sets[analysis_population(sap)]
    adsl = study.adsl
    if aset.flag in adsl.columns and not (adsl[aset.flag] == "Y").any():
        return f"no subject in the {aset.label} at the data cut-off"
    return "no pre/post data (see data_issues.csv)"


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


def tables(results: Results) -> list[DisplayTable]:
    """Every table and listing of the SAP's TFL list, in the list's order.

    A table or listing whose analysis did not run (for example no subject in the Safety Set
    at an early cut-off) says so: one row ``Not estimable`` with the reason
    (:func:`~msc_analysis.render.table.not_estimable_table`).
    """
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
    not_run: dict[str, str] = results.extra.get(NOT_RUN, {})
    with_rows = set(ard["analysis_id"])
    for t in sap.tfls:
        if t.kind == "figure" or (t.id in built and (
                t.kind == "listing" or with_rows.intersection(t.analysis_ids))):
            continue
        reasons = [not_run[a] for a in t.analysis_ids if a in not_run]
        reason = reasons[0] if reasons else "no results with the data at the cut-off"
        population = (sap.analysis_sets[t.population].label if t.population in sap.analysis_sets
                      else t.population)
        built[t.id] = not_estimable_table(t.number, t.title, population, reason,
                                          footnotes=t.footnotes, analysis_ids=t.analysis_ids,
                                          kind=t.kind.capitalize())
    return [built[t.id] for t in sap.tfls if t.id in built]


def check_outputs(results: Results, table_list: Sequence[DisplayTable]) -> None:
    """Add a data issue for each SAP output whose analyses have no ARD row or that is not
    produced (:func:`msc_analysis.sap.check_traceability`)."""
    sap = results.sap
    produced = {("T" if t.kind == "Table" else "L") + t.number: t.title for t in table_list}
    produced.update({t.id: t.title for t in sap.tfls
                     if t.kind == "figure" and t.id in figures_step.BUILDERS})
    for problem in check_traceability(sap, results.ard, produced):
        results.issues.add(source="traceability", rule="sap-traceability",
                           severity="warning", message=problem)


def report_page(results: Results, table_list: Sequence[DisplayTable],
                figure_items: Sequence[FigureItem]) -> str:
    """report.html: the study's key facts, then the SAP's tables, figures and listings by
    section (:data:`SECTIONS`), with the monitoring decision opening its section."""
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
