"""Bayesian safety monitoring: SAF-MON, SAF-MONBND, SAF-MONOC (SAP section 9).

The monitored DLT-like event is the SAP's ``[monitoring]`` definition: an adverse event that is
serious or of CTCAE grade >= ``min_grade``, related to the device or the MSCs (``related_to``;
"related" as the AE tables derive it: possibly, probably or definitely related, a missing
assessment counting as related), with onset from the first session
to ``window_days`` after the last session. A subject counts once (has the event or not), and
subjects are evaluated in the order of their first session (``TRTSDT``, then ``USUBJID``).

- SAF-MON: after each subject (by-variable ``SUBJSEQ`` = 1, 2, ...; ``variable = "DLT"``,
  ``variable_level`` = the subject), ``n``, ``n_events`` (subjects with the event so far),
  ``post_mean``, ``post_prob`` = P(rate > threshold), the equal-tailed credible interval
  ``conf_low`` / ``conf_high``, ``threshold``, ``boundary`` and ``decision`` (1 stop, 0
  continue).
- SAF-MONBND: for n = 1 .. ``max_subjects`` (by-variable ``NEVAL``) the smallest number of
  events that stops (``boundary``, NaN when none) and the posterior probability there.
- SAF-MONOC: for each true rate (by-variable ``TRUE_RATE``): simulated ``prob_stop`` and
  ``expected_n`` each with its ``mcse`` (variables ``STOP`` and ``N_TREATED``), and the exact
  values (``estimate`` of variables ``STOP_EXACT`` and ``N_TREATED_EXACT``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_analysis.analyses.safety_data import GROUP, SafetyData, add_header, as_safety_data
from msc_analysis.ard import ArdBuilder
from msc_analysis.errors import AnalysisError
from msc_analysis.io.issues import DataIssues
from msc_analysis.stats.monitoring import (
    MonitoringRule,
    exact_operating_characteristics,
    monitor,
    simulate_operating_characteristics,
)

__all__ = ["dlt_subjects", "monitoring_after_each_subject", "monitoring_boundaries",
           "monitoring_operating_characteristics", "rule_from_sap"]


def rule_from_sap(sap: object) -> MonitoringRule:
    """The stopping rule of the SAP's ``[monitoring]`` table."""
    mon = getattr(sap, "monitoring", None)
    if mon is None:
        raise AnalysisError("the SAP settings have no [monitoring] table")
    return MonitoringRule.from_settings(mon)


def dlt_subjects(data: SafetyData) -> pd.DataFrame:
    """One row per treated Safety Set subject in evaluation order, with the DLT-like flag.

    Returns
    -------
    DataFrame
        ``USUBJID``, :data:`GROUP`, ``TRTSDT``, ``DLTFL`` (bool), ``N_DLT`` (qualifying AEs).
    """
    mon = data.sap.monitoring  # type: ignore[attr-defined]
    subj = data.adsl[["USUBJID", GROUP]].copy()
    subj["TRTSDT"] = (pd.to_datetime(data.adsl["TRTSDT"]) if "TRTSDT" in data.adsl.columns
                      else pd.NaT)
    subj["TRTEDT"] = (pd.to_datetime(data.adsl["TRTEDT"]) if "TRTEDT" in data.adsl.columns
                      else pd.NaT)
    untreated = subj["TRTSDT"].isna()
    for s in subj.loc[untreated, "USUBJID"]:
        data.issues.add(source="SAF-MON", file="adsl", usubjid=str(s), variable="TRTSDT",
                        rule="not-treated", severity="excluded",
                        message="no first-session date: not evaluated by the monitoring rule")
    subj = subj.loc[~untreated].sort_values(["TRTSDT", "USUBJID"], kind="stable")
    subj["N_DLT"] = 0
    if data.ae is not None and len(data.ae.frame):
        frame = data.ae.frame.drop(columns=["TRTSDT", "TRTEDT"], errors="ignore")
        ae = frame.merge(subj[["USUBJID", "TRTSDT", "TRTEDT"]], on="USUBJID")
        # "related" as the AE tables derive it (derive.teae.derive_relationship: possibly,
        # probably or definitely related; a missing assessment counts as related)
        flags = [f"REL_{v}" for v in mon.related_to if f"REL_{v}" in ae.columns]
        if flags:
            related = (ae[flags] == "Y").any(axis=1).to_numpy()
        else:
            related = (ae["RELANYFL"] == "Y").to_numpy()
        severe = (ae["SERFL"] == "Y").to_numpy() | (ae["AGRADEN"] >= mon.min_grade).to_numpy()
        onset = pd.to_datetime(ae["ASTDT"]) if "ASTDT" in ae.columns else pd.Series(
            pd.NaT, index=ae.index)
        end = ae["TRTEDT"].fillna(ae["TRTSDT"]) + pd.Timedelta(days=int(mon.window_days))
        in_window = (onset.isna() | ((onset >= ae["TRTSDT"]) & (onset <= end))).to_numpy()
        hits = ae.loc[related & severe & in_window].groupby("USUBJID").size()
        subj["N_DLT"] = subj["USUBJID"].map(hits).fillna(0).astype(int)
    subj["DLTFL"] = subj["N_DLT"] > 0
    return subj.reset_index(drop=True)


def monitoring_after_each_subject(study: object, sap: object = None,
                                  issues: DataIssues | None = None,
                                  by: str | None = None) -> pd.DataFrame:
    """SAF-MON: posterior of the DLT-like event rate after each evaluated subject."""
    data = as_safety_data(study, sap, issues, by)
    rule = rule_from_sap(data.sap)
    subjects = dlt_subjects(data)
    b = ArdBuilder("SAF-MON")
    add_header(b, data)
    method = (f"Beta({rule.prior_a:g}, {rule.prior_b:g}) prior; stop when "
              f"P(rate > {rule.threshold:g}) > {rule.prob_cutoff:g} from n = "
              f"{rule.min_subjects}")
    for level, groups, _ in data.each_group():
        part = subjects.loc[subjects[GROUP] == level]
        for subj in part["USUBJID"].iloc[rule.max_subjects:]:
            data.issues.add(source="SAF-MON", file="adsl", usubjid=str(subj), variable="USUBJID",
                            rule="beyond-max-subjects", severity="excluded",
                            message=f"evaluated after the rule's {rule.max_subjects} subjects "
                                    "(sap.toml [monitoring] max_subjects): outside the rule")
        part = part.iloc[:rule.max_subjects]
        res = monitor(part["DLTFL"].to_numpy(), rule, data.conf_level)
        for i, (subj, row) in enumerate(zip(part["USUBJID"], res.itertuples(index=False),
                                            strict=True), start=1):
            g = {**groups, "SUBJSEQ": str(i)}
            kw = {"variable_level": str(subj), "groups": g, "method": method}
            b.add("DLT", "n", row.n, **kw)
            b.add("DLT", "n_events", row.x, **kw)
            b.add("DLT", "post_mean", row.post_mean, **kw)
            b.add("DLT", "post_prob", row.post_prob, **kw)
            b.add("DLT", "conf_low", row.conf_low, **kw)
            b.add("DLT", "conf_high", row.conf_high, **kw)
            b.add("DLT", "conf_level", data.conf_level, **kw)
            b.add("DLT", "threshold", rule.threshold, **kw)
            b.add("DLT", "boundary", None if np.isnan(row.boundary) else row.boundary, **kw)
            b.add("DLT", "decision", row.decision, **kw)
    return b.frame()


def monitoring_boundaries(study: object = None, sap: object = None,
                          issues: DataIssues | None = None,
                          by: str | None = None) -> pd.DataFrame:
    """SAF-MONBND: stopping boundary for n = 1 .. max_subjects (needs only the SAP)."""
    settings = sap if sap is not None else getattr(study, "sap", None)
    rule = rule_from_sap(settings)
    b = ArdBuilder("SAF-MONBND")
    method = (f"smallest x with n >= {rule.min_subjects} and "
              f"P(rate > {rule.threshold:g} | x, n) > {rule.prob_cutoff:g}")
    bnd = rule.boundary()
    for n in range(1, rule.max_subjects + 1):
        x = bnd[n - 1]
        g = {"NEVAL": str(n)}
        b.add("DLT", "boundary", None if np.isnan(x) else x, groups=g, method=method)
        b.add("DLT", "post_prob", None if np.isnan(x) else float(rule.prob_exceeds(x, n)),
              groups=g, method=method)
        b.add("DLT", "threshold", rule.threshold, groups=g, method=method)
    return b.frame()


def monitoring_operating_characteristics(study: object = None, sap: object = None,
                                         issues: DataIssues | None = None,
                                         by: str | None = None) -> pd.DataFrame:
    """SAF-MONOC: probability of stopping and expected number treated, by true rate."""
    settings = sap if sap is not None else getattr(study, "sap", None)
    rule = rule_from_sap(settings)
    mon = settings.monitoring  # type: ignore[union-attr]
    sim = simulate_operating_characteristics(rule, mon.true_rates, mon.n_sim, mon.seed)
    exact = exact_operating_characteristics(rule, mon.true_rates)
    b = ArdBuilder("SAF-MONOC")
    sim_method = f"Monte Carlo, {int(mon.n_sim)} trials per rate, seed {int(mon.seed)}"
    exact_method = "exact recursion over the number of events"
    for s, e in zip(sim.itertuples(index=False), exact.itertuples(index=False), strict=True):
        g = {"TRUE_RATE": f"{s.true_rate:g}"}
        b.add("STOP", "prob_stop", s.prob_stop, groups=g, method=sim_method)
        b.add("STOP", "mcse", s.prob_stop_mcse, groups=g, method=sim_method)
        b.add("STOP_EXACT", "estimate", e.prob_stop, groups=g, method=exact_method)
        b.add("N_TREATED", "expected_n", s.expected_n, groups=g, method=sim_method)
        b.add("N_TREATED", "mcse", s.expected_n_mcse, groups=g, method=sim_method)
        b.add("N_TREATED_EXACT", "estimate", e.expected_n, groups=g, method=exact_method)
    return b.frame()
