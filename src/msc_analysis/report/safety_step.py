"""The report's safety part: the SAF-* analyses, their tables and listings, and the monitoring
decision stated in words (every number in it read from the SAF-MON ARD rows)."""

from __future__ import annotations

import pandas as pd

from msc_analysis.analyses.safety import SafetyResults, run_safety
from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import Study
from msc_analysis.render.formatting import fmt_num
from msc_analysis.render.safety_tables import safety_displays
from msc_analysis.render.table import DisplayTable
from msc_analysis.sap import Sap


def run(study: Study, sap: Sap, issues: DataIssues) -> SafetyResults:
    """Every safety analysis of the SAP on the study (one column: the single arm)."""
    return run_safety(study, sap, issues)


def tables(safety: SafetyResults, sap: Sap) -> dict[str, DisplayTable]:
    """Safety tables and listings keyed by TFL id (``T14.3.1.1``, ``L16.2.7.1``)."""
    found = {}
    for table in safety_displays(safety, sap).values():
        found[("T" if table.kind == "Table" else "L") + table.number] = table
    return found


def datasets(safety: SafetyResults) -> dict[str, pd.DataFrame]:
    """Derived safety datasets written with the report: ADAE with TRTEMFL, graded ADLB."""
    found = {}
    if safety.data.ae is not None:
        found["adae"] = safety.data.ae.frame
    if safety.data.lab is not None:
        found["adlb_graded"] = safety.data.lab
    return found


def monitoring_decision(safety: SafetyResults, sap: Sap) -> str:
    """The monitoring rule's state after the last evaluated subject, in words."""
    ard = safety.ard
    rows = ard[(ard["analysis_id"] == "SAF-MON") & (ard["variable"] == "DLT")]
    mon = sap.monitoring
    rule = (f"Rule: stop when P(rate > {mon.threshold:g} | data) > {mon.prob_cutoff:g} under a "
            f"Beta({mon.prior_a:g}, {mon.prior_b:g}) prior, from {mon.min_subjects} evaluated "
            f"subjects on ({mon.event}).")
    if rows.empty:
        return f"No subject has been evaluated for the monitoring rule yet. {rule}"
    wide = rows.pivot_table(index="variable_level", columns="stat_name", values="stat",
                            aggfunc="first").sort_values("n")
    last = wide.iloc[-1]
    stops = wide[wide["decision"] == 1]
    state = (f"After {int(last['n'])} evaluated subjects with {int(last['n_events'])} "
             f"DLT-like event(s), the posterior probability that the rate exceeds "
             f"{mon.threshold:g} is {fmt_num(last['post_prob'], 3)}.")
    if stops.empty:
        verdict = "Decision: CONTINUE. The stopping boundary has not been reached."
    else:
        first = stops.iloc[0]
        verdict = (f"Decision: STOP. The stopping boundary was reached after subject "
                   f"{int(first['n'])} ({int(first['n_events'])} events); the safety review "
                   f"committee is to be convened.")
    return f"{verdict}\n\n{state}\n\n{rule}"
