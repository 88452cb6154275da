"""The report's safety part: the SAF-* analyses, their tables and listings, and the monitoring
decision stated in words (every number in it read from the SAF-MON ARD rows)."""

from __future__ import annotations

import pandas as pd

from msc_analysis.analyses.safety import SafetyResults, run_safety
from msc_analysis.analyses.safety_monitoring import parse_window_method
from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import Study
from msc_analysis.render.formatting import fmt_num
from msc_analysis.render.safety_tables import safety_displays
from msc_analysis.render.table import DisplayTable
from msc_analysis.sap import Sap


def run(study: Study, sap: Sap, issues: DataIssues,
        cutoff: pd.Timestamp | None = None) -> SafetyResults:
    """Every safety analysis of the SAP on the study (one column: the single arm), with the
    data as known at ``cutoff`` (the report's cut-off date; default: the last date in the
    data), which tells SAF-MON whose monitoring window is still open."""
    return run_safety(study, sap, issues, cutoff=cutoff)


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
    caveat = _provisional_text(rows, wide, stops.empty)
    return "\n\n".join(p for p in (verdict, state, caveat, rule) if p)


def _provisional_text(rows: pd.DataFrame, wide: pd.DataFrame, continuing: bool) -> str:
    """Which evaluated subjects' rows are provisional (window open at the cut-off), from the
    ``window_closed`` rows and their ``method`` (empty when none is)."""
    if "window_closed" not in wide.columns:
        return ""
    open_rows = rows[(rows["stat_name"] == "window_closed") & (rows["stat"] == 0)]
    if open_rows.empty:
        return ""
    parts = []
    cutoff = ""
    for subj, method in zip(open_rows["variable_level"], open_rows["method"], strict=True):
        dates = parse_window_method(method)
        parts.append(f"{subj} (window closes {dates[1]})" if dates else str(subj))
        cutoff = cutoff or (dates[2] if dates else "")
    k = len(parts)
    at = f" {cutoff}" if cutoff else ""
    one = k == 1
    head = (f"Provisional: {k} of the {len(wide)} evaluated subjects "
            f"{'was' if one else 'were'} still inside the monitoring window at the data "
            f"cut-off{at} without a DLT-like event so far: {', '.join(parts)}. "
            f"{'This subject counts' if one else 'They count'} as evaluated without the "
            "event, ")
    rows_text, window, row = (("a provisional row", "its window has", "its row is") if one
                              else ("provisional rows", "their windows have", "their rows are"))
    if continuing:
        return head + (f"so the decision to continue rests on {rows_text} of Table 14.3.7.1 "
                       f"and is to be confirmed once {window} closed.")
    return head + (f"so {row} provisional in Table 14.3.7.1; an event there could "
                   "only confirm the stop or bring it earlier.")
