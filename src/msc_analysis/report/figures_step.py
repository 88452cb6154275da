"""The report's figures: inputs built from ARD rows and derived data, drawn in the SAP's order.

Each ``_fNN`` function builds the input frame of one figure of :mod:`msc_analysis.render.figures`
from the report's results and draws it; :data:`BUILDERS` maps the SAP's figure ids to them (and
their alternative text). :mod:`msc_analysis.report.figure_worker` draws and saves them. The
figures of :data:`DATA_FIGURES` take the prepared data (``sap``, ``study``, ``cutoff`` and
``prepost`` of :class:`~msc_analysis.report.results.Prepared`); the others take the complete
results, and are also available as :class:`Drawing` objects (:data:`DRAWINGS`) that another
process can draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from msc_analysis.derive.baseline import derive_baseline, first_session_start
from msc_analysis.derive.tte import HORIZON_DAYS
from msc_analysis.render import figures as fg
from msc_analysis.report.results import safety_set

#: Figures drawn from the prepared data alone (the study at the cut-off, the pre/post data, the
#: SAP): no analysis result, so the report can draw them while the analyses run
#: (:mod:`msc_analysis.report.figure_worker`). The others show ARD rows or the survival data.
DATA_FIGURES: frozenset[str] = frozenset({"F14.2.1", "F14.2.2", "F14.2.3", "F14.3.2",
                                          "F14.3.3"})

#: Figures that draw each subject and show at most ``max_subjects`` of them (:func:`_capped`).
CAPPED_FIGURES: frozenset[str] = frozenset({"F14.2.1", "F14.2.2", "F14.2.3", "F14.3.2"})


@dataclass(frozen=True)
class Drawing:
    """One figure function of :mod:`msc_analysis.render.figures` and its arguments: all a process
    needs to draw a figure of analysis results. Small, and it pickles (the function by name,
    the arguments are frames and numbers), so the process that ran the analyses can hand it to
    the figure process."""

    function: Callable[..., Figure]
    kwargs: dict[str, Any]

    def draw(self) -> Figure:
        """The figure."""
        return self.function(**self.kwargs)


def _capped(frame: pd.DataFrame, max_subjects: int) -> pd.DataFrame:
    """The rows of the first ``max_subjects`` subjects by identifier."""
    keep = sorted(frame["USUBJID"].unique())[:max_subjects]
    return frame[frame["USUBJID"].isin(keep)]


def cap_note(results: Any, figure_id: str, max_subjects: int) -> str | None:
    """The footnote of a per-subject figure that cannot show every treated subject, else None.

    Subjects beyond the cap are left out of the drawing only; the note says so, so that none
    vanishes unannounced (the tables, listings and analyses include every subject).
    """
    if figure_id not in CAPPED_FIGURES:
        return None
    adsl = results.study.adsl
    treated = adsl[adsl["TRTSDT"].notna()] if "TRTSDT" in adsl.columns else adsl
    n = int(treated["USUBJID"].nunique())
    if n <= max_subjects:
        return None
    return (f"Display limited to the first {max_subjects} subjects by subject identifier "
            f"(of {n} treated subjects; --max-subject-figures); the tables, listings and "
            "analyses include every subject.")


def _followup_values(results: Any) -> pd.DataFrame:
    """Baseline and windowed follow-up values (one per subject, parameter and visit)."""
    sap, data = results.sap, results.prepost
    if data is None:
        return pd.DataFrame(columns=["USUBJID", "PARAMCD", "AVISIT", "AVISITN", "AVAL", "PCHG"])
    base = data.base.assign(AVISIT="Baseline", AVISITN=float(sap.visit("Baseline").avisitn),
                            AVAL=data.base["BASE"], PCHG=np.nan)
    followup = {v.name for v in sap.followup_visits}
    win = data.windows[(data.windows["ANL01FL"] == "Y") & data.windows["AVISIT"].isin(followup)]
    cols = ["USUBJID", "PARAMCD", "AVISIT", "AVISITN", "AVAL", "PCHG"]
    return pd.concat([base[cols], win[cols]], ignore_index=True)


def _f14_2_1(results: Any, max_subjects: int) -> Figure:
    sap = results.sap
    values = _followup_values(results)
    # the mean and CI use every subject; only the individual lines are capped
    means = []
    for code in sap.biomarkers:
        part = values[values["PARAMCD"] == code]
        if not part.empty:
            log = sap.parameters[code].scale == "log"
            means.append(fg.mean_ci_by_visit(part, log, sap.conf_level).assign(PARAMCD=code))
    mean_ci = pd.concat(means, ignore_index=True) if means else None
    specs = [fg.ParameterSpec.from_parameter(sap.parameters[p]) for p in sap.biomarkers]
    return fg.spaghetti_grid(_capped(values, max_subjects), specs, mean_ci=mean_ci,
                             conf_level=sap.conf_level)


def _plain_label(label: str) -> str:
    """A parameter label without its unit in brackets (the figure adds the unit)."""
    return label.split(" (")[0]


def _biomarker_specs(results: Any, codes: Any) -> list[fg.ParameterSpec]:
    """Row specs of the SAP's biomarkers among ``codes``, in SAP order (plain labels).

    Biomarkers with no value in ``codes`` are left out; when none has a value, all are kept so
    that the figure says there are no values.
    """
    sap = results.sap
    present = set(codes)
    chosen = [c for c in sap.biomarkers if c in present] or list(sap.biomarkers)
    specs = []
    for code in chosen:
        param = sap.parameters[code]
        specs.append(fg.ParameterSpec(code, _plain_label(param.label), param.unit or "",
                                      param.scale == "log"))
    return specs


def _f14_2_2(results: Any, max_subjects: int) -> Figure:
    """Pre/post values per session: one row per SAP biomarker with a session value."""
    pairs = results.prepost.pairs if results.prepost is not None else pd.DataFrame(
        columns=["USUBJID", "PARAMCD", "SESSNUM", "PRE", "POST"])
    pairs = pairs[pairs["PARAMCD"].isin(results.sap.biomarkers)
                  & (pairs["PRE"].notna() | pairs["POST"].notna())]
    specs = _biomarker_specs(results, pairs["PARAMCD"].unique())
    return fg.prepost_paired(_capped(pairs, max_subjects), specs)


def _f14_2_3(results: Any, max_subjects: int) -> Figure:
    """Waterfall of percent change: one row per SAP biomarker with a value at a shown visit."""
    visits = ("Day 7", "Day 28")
    values = _followup_values(results)
    values = values[values["PARAMCD"].isin(results.sap.biomarkers) & values["PCHG"].notna()
                    & values["AVISIT"].isin(visits)]
    specs = _biomarker_specs(results, values["PARAMCD"].unique())
    return fg.waterfall(_capped(values, max_subjects), specs, visits=visits)


def _f14_2_4(results: Any, max_subjects: int) -> Drawing:
    ard, sap = results.ard, results.sap
    rows = ard[(ard["analysis_id"] == "PP-SESS") & (ard["variable"] == "RATIO")
               & (ard["variable_level"] == "paired-t")]
    records = []
    for (code, session), part in rows.groupby(["group1_level", "group2_level"], sort=False):
        stat = part.set_index("stat_name")["stat"]
        records.append({"label": f"{sap.parameters[code].label.split(' (')[0]}, session {session}",
                        "estimate": stat.get("estimate"), "conf_low": stat.get("conf_low"),
                        "conf_high": stat.get("conf_high"), "n": stat.get("n")})
    gmr = pd.DataFrame(records, columns=["label", "estimate", "conf_low", "conf_high", "n"])
    pct = f"{100 * sap.conf_level:g}"
    return Drawing(fg.forest, {"gmr": gmr, "conf_level": sap.conf_level,
                               "xlabel": f"Geometric mean ratio post/pre ({pct}% CI, log scale)"})


def _f14_3_1(results: Any, max_subjects: int) -> Drawing:
    ard, sap = results.ard, results.sap
    rows = ard[(ard["analysis_id"] == "SAF-AESOCPT") & (ard["variable"] == "AEDECOD")]
    records = []
    for (soc, pt), part in rows.groupby(["group1_level", "variable_level"], sort=False):
        stat = part.set_index("stat_name")["stat"]
        records.append({"SOC": soc, "PT": pt, "n": stat["n"], "N": stat["N"],
                        "pct": stat["pct"], "conf_low": 100 * stat["conf_low"],
                        "conf_high": 100 * stat["conf_high"]})
    incidence = pd.DataFrame(records, columns=["SOC", "PT", "n", "N", "pct", "conf_low",
                                               "conf_high"])
    pct = f"{100 * sap.conf_level:g}"
    return Drawing(fg.ae_dotplot, {
        "incidence": incidence, "conf_level": sap.conf_level,
        "xlabel": f"Subjects with the TEAE, % (Clopper-Pearson {pct}% CI)"})


def _days(dates: pd.Series, start: pd.Series) -> pd.Series:
    return (dates.dt.normalize() - start).dt.days.astype(float)


def _start_of(subjects: pd.Series, start: pd.Series) -> pd.Series:
    """Each record's subject's ``start`` (``subjects.map(start)``, which pandas cannot do
    with an empty datetime ``start``: no subject treated at an early cut-off)."""
    return pd.Series(start.reindex(subjects).to_numpy(), index=subjects.index)


def _f14_3_2(results: Any, max_subjects: int) -> Figure:
    study = results.study
    adsl = study.adsl[study.adsl["TRTSDT"].notna()] if "TRTSDT" in study.adsl else study.adsl
    adsl = _capped(adsl, max_subjects)
    start = adsl.set_index("USUBJID")["TRTSDT"]
    end = adsl.set_index("USUBJID").get("LSTALVDT", start)
    for var in ("LTXDT", "DTHDT"):
        if var in adsl.columns:
            end = adsl.set_index("USUBJID")[var].fillna(end)
    status = adsl.set_index("USUBJID")["EOSSTT"].astype(str).replace("", "ONGOING")
    if "LTXFL" in adsl.columns:
        status = status.mask(adsl.set_index("USUBJID")["LTXFL"] == "Y", "TRANSPLANTED")
    if "DTHFL" in adsl.columns:
        status = status.mask(adsl.set_index("USUBJID")["DTHFL"] == "Y", "DIED")
    subjects = pd.DataFrame({"USUBJID": start.index, "TRTSDT": start.to_numpy(),
                             "ENDDY": _days(end, start).to_numpy(),
                             "STATUS": status.to_numpy()})
    sessions = aes = None
    if study.adex is not None:
        ex = study.adex[study.adex["USUBJID"].isin(start.index)]
        sessions = pd.DataFrame({"USUBJID": ex["USUBJID"],
                                 "DAY": _days(ex["ASTDTM"], _start_of(ex["USUBJID"], start))})
    if study.adae is not None and "ASTDT" in study.adae.columns:
        ae = study.adae[study.adae["USUBJID"].isin(start.index) & study.adae["ASTDT"].notna()]
        grade = ae["ATOXGR"] if "ATOXGR" in ae.columns else pd.Series("", index=ae.index)
        aes = pd.DataFrame({"USUBJID": ae["USUBJID"],
                            "DAY": _days(ae["ASTDT"], _start_of(ae["USUBJID"], start)),
                            "GRADE": grade.astype(str)})
    return fg.swimmer(subjects, sessions, aes, cutoff=results.cutoff)


def _f14_3_3(results: Any, max_subjects: int) -> Figure:
    study, sap = results.study, results.sap
    cols = ["USUBJID", "ALT_ULN", "TBIL_ULN", "ALT_BASE", "TBIL_BASE"]
    if study.adlb is None:
        return fg.hepatic_safety(pd.DataFrame(columns=cols))
    # the Safety Set (the SAP's population of F14.3.3): a subject never treated has no
    # post-baseline value, only screening values
    saf = safety_set(study)["USUBJID"]
    lab = study.adlb[study.adlb["PARAMCD"].isin(["ALT", "TBIL"]) & study.adlb["USUBJID"].isin(saf)]
    with_base = derive_baseline(lab, first_session_start(study.adsl, study.adex))
    post = with_base[(with_base["PREFL"] != "Y") & with_base["AVAL"].notna()]
    records = _peak_multiples(post, {code: sap.parameters[code].uln for code in ("ALT", "TBIL")})
    # every subject is shown: a safety signal must not fall outside a display cap
    return fg.hepatic_safety(records[cols], label_points=len(records) <= max_subjects)


def _peak_multiples(post: pd.DataFrame, default_uln: dict[str, float]) -> pd.DataFrame:
    """Each subject's peak post-baseline value of each parameter, in ULN and baseline multiples.

    The peak is the first record with the subject's highest ``AVAL`` of that parameter; its ULN
    is the record's ``ANRHI``, else ``default_uln`` (the SAP's); a zero baseline gives no
    baseline multiple. One row per subject (sorted), ``<code>_ULN`` and ``<code>_BASE`` columns.
    """
    subjects = pd.Index(sorted(post["USUBJID"].unique()), name="USUBJID")
    wide = pd.DataFrame(index=subjects)
    for code, uln_default in default_uln.items():
        values = post[post["PARAMCD"] == code]
        peaks = values.loc[values.groupby("USUBJID", sort=True)["AVAL"].idxmax()]
        peaks = peaks.set_index("USUBJID")
        uln = peaks["ANRHI"].fillna(uln_default) if "ANRHI" in peaks else uln_default
        base = peaks["BASE"].where(peaks["BASE"] != 0)
        wide[f"{code}_ULN"] = (peaks["AVAL"] / uln).reindex(subjects)
        wide[f"{code}_BASE"] = (peaks["AVAL"] / base).reindex(subjects)
    return wide.reset_index()


def _f14_3_4(results: Any, max_subjects: int) -> Drawing:
    # imported here: statsmodels is not needed by the figures drawn from the data alone,
    # which the report's figure process draws before the analyses have imported it
    from msc_analysis.analyses.survival import kaplan_meier

    tte, sap = results.tte, results.sap
    time = tte["AVAL"].to_numpy(float)
    km = kaplan_meier(time, 1 - tte["CNSR"].to_numpy(int), sap.conf_level)
    # numbers at risk every two weeks and at the Day 90 horizon; they are also the x ticks
    days = [*fg.DEFAULT_AT_RISK_DAYS, HORIZON_DAYS]
    at_risk = pd.DataFrame({"day": days, "n": [km.n_at_risk(d, time) for d in days]})
    censored = tte.loc[tte["CNSR"] == 1, "AVAL"].to_numpy(float)
    pct = f"{100 * sap.conf_level:g}"
    return Drawing(fg.kaplan_meier_plot, {
        "curve": km.table, "censored": censored, "at_risk": at_risk,
        "max_day": HORIZON_DAYS, "conf_level": sap.conf_level,
        "ylabel": f"Transplant-free survival ({pct}% CI)"})


def _f14_3_5(results: Any, max_subjects: int) -> Drawing:
    # imported here, as in _f14_3_4: the figure process need not import the analyses (scipy)
    from msc_analysis.analyses.safety_monitoring import BEYOND

    ard, mon = results.ard, results.sap.monitoring
    rows = ard[(ard["analysis_id"] == "SAF-MON") & (ard["variable"] == "DLT")]
    wide = rows.pivot_table(index="group1_level" if rows["group1"].eq("SUBJSEQ").all()
                            else "group2_level", columns="stat_name", values="stat",
                            aggfunc="first")
    monitor = pd.DataFrame({"n": wide.get("n", pd.Series(dtype=float)),
                            "events": wide.get("n_events", pd.Series(dtype=float)),
                            "post_prob": wide.get("post_prob", pd.Series(dtype=float))})
    for name in ("decision", "stopped_at"):  # the rule's value; the first crossing, absorbing
        if name in wide.columns:
            monitor[name] = wide[name]
    if "window_closed" in wide.columns:  # SAP 9.1: window open at the cut-off
        monitor["provisional"] = wide["window_closed"] == 0
    monitor = monitor.sort_values("n").reset_index(drop=True)
    # subjects evaluated after the rule's max_subjects: their number and DLT-like events
    outside = ard[(ard["analysis_id"] == "SAF-MON") & (ard["variable"] == BEYOND)
                  & (ard["variable_level"] == "")].set_index("stat_name")["stat"]
    beyond = ((float(outside["n"]), float(outside["n_events"]))
              if {"n", "n_events"} <= set(outside.index) else None)
    return Drawing(fg.monitoring_plot, {
        "monitor": monitor, "threshold": mon.threshold, "prob_cutoff": mon.prob_cutoff,
        "min_subjects": mon.min_subjects, "max_subjects": mon.max_subjects, "beyond": beyond})


#: The figures of analysis results (ARD rows, survival data) as drawings: made where the results
#: are, drawn in any process (:mod:`msc_analysis.report.figure_worker`).
DRAWINGS: dict[str, Callable[[Any, int], Drawing]] = {
    "F14.2.4": _f14_2_4,
    "F14.3.1": _f14_3_1,
    "F14.3.4": _f14_3_4,
    "F14.3.5": _f14_3_5,
}


def _drawn(drawing: Callable[[Any, int], Drawing]) -> Callable[[Any, int], Figure]:
    """A figure builder that makes the drawing and draws it."""
    def build(results: Any, max_subjects: int) -> Figure:
        return drawing(results, max_subjects).draw()
    return build


BUILDERS: dict[str, tuple[Callable[[Any, int], Figure], str]] = {
    "F14.2.1": (_f14_2_1, "Individual biomarker trajectories over visits with the mean and CI"),
    "F14.2.2": (_f14_2_2, "Pre- and post-session values of each subject for each biomarker, "
                          "one row per biomarker and one panel per session"),
    "F14.2.3": (_f14_2_3, "Waterfalls of percent change from baseline in each biomarker, one "
                          "row per biomarker, at Day 7 and Day 28"),
    "F14.2.4": (_drawn(_f14_2_4), "Forest plot of post/pre geometric mean ratios per biomarker"),
    "F14.3.1": (_drawn(_f14_3_1), "Dot plot of TEAE incidence by preferred term with exact CIs"),
    "F14.3.2": (_f14_3_2, "Swimmer plot of each subject's course: sessions, AEs, outcome"),
    "F14.3.3": (_f14_3_3, "Peak ALT against peak total bilirubin, in ULN and baseline multiples"),
    "F14.3.4": (_drawn(_f14_3_4),
                "Kaplan-Meier curve of transplant-free survival with numbers at risk"),
    "F14.3.5": (_drawn(_f14_3_5),
                "Posterior probability of an excess DLT-like rate after each subject"),
}
