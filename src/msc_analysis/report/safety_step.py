"""The report's safety part: the SAF-* analyses, their tables and listings, and the monitoring
decision stated in words (every number in it read from the SAF-MON ARD rows)."""

from __future__ import annotations

import pandas as pd

from msc_analysis.analyses.safety import SafetyResults, run_safety
from msc_analysis.analyses.safety_monitoring import BEYOND, parse_window_method
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
    """The monitoring rule's state after the last evaluated subject, in words.

    STOP once the boundary has been crossed (ARD ``stopped_at``: stopping is absorbing, so a
    later subject whose row alone would not stop does not resume the trial), naming the
    subject at which it was crossed; CONTINUE otherwise. Subjects evaluated after the rule's
    ``max_subjects`` (ARD ``DLT_BEYOND``) are named with their DLT-like events, as the rule
    does not cover them; provisional rows (window open at the cut-off) are named too.
    """
    ard = safety.ard
    rows = ard[(ard["analysis_id"] == "SAF-MON") & (ard["variable"] == "DLT")]
    mon = sap.monitoring
    rule = (f"Rule: stop when P(rate > {mon.threshold:g} | data) > {mon.prob_cutoff:g} under a "
            f"Beta({mon.prior_a:g}, {mon.prior_b:g}) prior, from {mon.min_subjects} evaluated "
            f"subjects on ({mon.event}).")
    outside = _beyond_text(ard, int(mon.max_subjects))
    if rows.empty:
        return "\n\n".join(p for p in ("No subject has been evaluated for the monitoring rule "
                                         f"yet. {rule}", outside) if p)
    wide = rows.pivot_table(index="variable_level", columns="stat_name", values="stat",
                            aggfunc="first", dropna=False).sort_values("n")
    last = wide.iloc[-1]
    n, x = int(last["n"]), int(last["n_events"])
    scope = "the rule's " if outside else ""
    state = (f"After {scope}{n} evaluated subjects, "
             f"{x} of them with a DLT-like event, the posterior probability that the rate "
             f"exceeds {mon.threshold:g} is {fmt_num(last['post_prob'], 3)}.")
    if "stopped_at" in wide.columns:
        crossed = wide[wide["n"] == last["stopped_at"]]
    else:  # an ARD without the absorbing stop: its first stopping row
        crossed = wide[wide["decision"] == 1].iloc[:1]
    if crossed.empty:
        verdict = "Decision: CONTINUE. The stopping boundary has not been reached"
        verdict += (f" within the rule's {int(mon.max_subjects)} subjects." if outside
                    else ".")
    else:
        first = crossed.iloc[0]
        k = int(first["n"])
        verdict = (f"Decision: STOP. The stopping boundary was reached after subject {k} "
                   f"({crossed.index[0]}: {int(first['n_events'])} of the first {k} subjects "
                   "with a DLT-like event, posterior probability "
                   f"{fmt_num(first['post_prob'], 3)}); the safety review committee is to be "
                   "convened.")
        if k < int(last["n"]):
            verdict += (f" Stopping is final: the subjects evaluated after subject {k} do "
                        "not undo it.")
    caveat = _provisional_text(rows, wide, crossed.empty)
    return "\n\n".join(p for p in (verdict, outside, state, caveat, rule) if p)


def _beyond_text(ard: pd.DataFrame, max_subjects: int) -> str:
    """The subjects evaluated after the rule's ``max_subjects`` and their DLT-like events,
    from the ``DLT_BEYOND`` rows (empty when none is beyond the rule); one sentence per group
    of a grouped ARD, led by the group."""
    rows = ard[(ard["analysis_id"] == "SAF-MON") & (ard["variable"] == BEYOND)]
    totals = rows[rows["variable_level"] == ""]
    texts = []
    for (name, level), part in totals.groupby(["group1", "group1_level"], sort=False):
        stats = dict(zip(part["stat_name"], part["stat"], strict=True))
        if not {"n", "n_events"} <= set(stats):
            continue
        mine = rows[(rows["group1"] == name) & (rows["group1_level"] == level)] if name \
            else rows
        text = _beyond_sentence(int(stats["n"]), int(stats["n_events"]), mine, max_subjects)
        texts.append(f"{level}: {text}" if name else text)
    return " ".join(texts)


def _beyond_sentence(n: int, m: int, rows: pd.DataFrame, max_subjects: int) -> str:
    """``n`` subjects beyond the rule hold ``m`` DLT-like events; those holding any named
    with their number of events (their ``n_events_subject`` rows among ``rows``)."""
    subjects = rows[(rows["stat_name"] == "n_events_subject") & (rows["stat"] > 0)]
    named = ", ".join(f"{s} ({int(k)} event{'' if k == 1 else 's'})"
                      for s, k in zip(subjects["variable_level"], subjects["stat"], strict=True))
    one = n == 1
    who = (f"{n} further subject{'' if one else 's'} beyond the rule's {max_subjects} "
           f"{'holds' if one else 'hold'}")
    them = "it" if one else "them"
    if m == 0:
        return f"{who} no DLT-like event; the rule does not cover {them}."
    return (f"{who} {m} DLT-like event{'' if m == 1 else 's'} ({named}): the rule does not "
            f"cover {them}; the safety review committee must review {them}.")


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
