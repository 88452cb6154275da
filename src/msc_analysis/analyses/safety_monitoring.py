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
  ``conf_low`` / ``conf_high``, ``threshold``, ``boundary``, ``decision`` (1 stop, 0
  continue) and ``window_closed``: 1 when the subject's monitoring window had closed at the
  data cut-off, 0 when the row is provisional (SAP section 9.1). Its ``method`` states the
  window, the cut-off and why the window counts as closed (:func:`window_method`; read back
  with :func:`parse_window_method`). Each provisional subject also gets a data-issues warning
  (rule ``monitoring-window-open``). Two more rows per subject: ``stopped_at``, the ``n`` at
  which the stopping boundary was first crossed, on that row and on every later row (NaN
  before: stopping is absorbing, whatever ``decision`` says at a later ``n``), and
  ``n_events_subject``, the number of the subject's own DLT-like events.
  Subjects evaluated after the rule's ``max_subjects`` are outside the rule but not out of
  sight: each has a row ``variable = "DLT_BEYOND"`` (``SUBJSEQ`` = ``max_subjects`` + 1, ...)
  with its ``n_events_subject``, and the group has two rows ``DLT_BEYOND`` without a subject:
  ``n`` (subjects beyond the rule) and ``n_events`` (their DLT-like events); none when no
  subject is beyond the rule. Each such subject is also a data-issues note
  (``beyond-max-subjects``).
- The counted events themselves (the DLT adjudication records: term, onset, grade,
  relationship and why each qualified) are a derived frame, :func:`dlt_events`, that
  :func:`msc_analysis.analyses.safety.run_safety` returns with the ARD rows; Table 14.3.7.1
  names them on each subject's row.

Monitoring window at the cut-off
--------------------------------
A subject's window runs from the first session (``TRTSDT``) to ``window_days`` after the last
(``TRTEDT``, else ``TRTSDT``). It counts as closed at the cut-off when it ended on or before the
cut-off date, when the subject already has a DLT-like event (known as soon as it happens), or
when the subject died or was transplanted on or before the cut-off, before the window ended (the
window cannot be completed). Otherwise the subject is still inside the window: counted, as every
treated subject, as evaluated without the event so far, but the row is provisional. The flag
changes none of the rule's numbers.
- SAF-MONBND: for n = 1 .. ``max_subjects`` (by-variable ``NEVAL``) the smallest number of
  events that stops (``boundary``, NaN when none) and the posterior probability there.
- SAF-MONOC: for each true rate (by-variable ``TRUE_RATE``): simulated ``prob_stop`` and
  ``expected_n`` each with its ``mcse`` (variables ``STOP`` and ``N_TREATED``), and the exact
  values (``estimate`` of variables ``STOP_EXACT`` and ``N_TREATED_EXACT``).
"""

from __future__ import annotations

import math
import re
from typing import Any

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

__all__ = ["BEYOND", "WINDOW_REASONS", "dlt_events", "dlt_subjects",
           "monitoring_after_each_subject",
           "monitoring_boundaries", "monitoring_operating_characteristics",
           "parse_window_method", "rule_from_sap", "window_method"]

#: Why a subject's monitoring window counts as closed at the cut-off (``"open"``: it does not).
WINDOW_REASONS: dict[str, str] = {
    "ended": "window ended on or before the cut-off",
    "event": "DLT-like event",
    "death": "died before the window ended",
    "transplant": "transplanted before the window ended",
    "open": "window open at the cut-off: row provisional",
    "no-cutoff": "no date in the data: no cut-off",
}
#: ``variable`` of the SAF-MON rows of subjects evaluated after the rule's ``max_subjects``.
BEYOND = "DLT_BEYOND"
_WINDOW_METHOD = re.compile(r"window (\S+) to (\S+); cut-off (\S+); ")


def window_method(start: pd.Timestamp, end: pd.Timestamp, cutoff: pd.Timestamp | None,
                  reason: str) -> str:
    """The ``method`` of a ``window_closed`` ARD row, e.g. ``"window 2024-09-10 to 2024-09-22;
    cut-off 2024-09-18; window open at the cut-off: row provisional"``."""
    cut = "none" if cutoff is None or pd.isna(cutoff) else str(cutoff.date())
    return f"window {start.date()} to {end.date()}; cut-off {cut}; {WINDOW_REASONS[reason]}"


def parse_window_method(method: str) -> tuple[str, str, str] | None:
    """``(window start, window end, cut-off)`` as ISO dates from :func:`window_method`'s text
    (None when ``method`` is not such a text)."""
    found = _WINDOW_METHOD.match(str(method))
    return None if found is None else (found.group(1), found.group(2), found.group(3))


def rule_from_sap(sap: object) -> MonitoringRule:
    """The stopping rule of the SAP's ``[monitoring]`` table."""
    mon = getattr(sap, "monitoring", None)
    if mon is None:
        raise AnalysisError("the SAP settings have no [monitoring] table")
    return MonitoringRule.from_settings(mon)


def dlt_subjects(data: SafetyData) -> pd.DataFrame:
    """One row per treated Safety Set subject in evaluation order, with the DLT-like flag.

    Untreated subjects (no ``TRTSDT``) are left out and noted in ``data.issues``.

    Returns
    -------
    DataFrame
        ``USUBJID``, :data:`GROUP`, ``TRTSDT``, ``TRTEDT``, ``DLTFL`` (bool), ``N_DLT``
        (qualifying AEs, the rows of :func:`dlt_events`), ``WINDOW_END`` (``TRTEDT``, else
        ``TRTSDT``, + ``window_days``), ``WINDOW_CLOSED`` (bool: closed at ``data.cutoff``)
        and ``WINDOW_REASON`` (a key of :data:`WINDOW_REASONS`); see the module docstring.
    """
    subj = _treated(data, record=True)
    hits = _qualifying(data, subj).groupby("USUBJID").size()
    subj["N_DLT"] = subj["USUBJID"].map(hits).fillna(0).astype(int)
    subj["DLTFL"] = subj["N_DLT"] > 0
    mon = data.sap.monitoring  # type: ignore[attr-defined]
    return _window_state(subj, data, int(mon.window_days)).reset_index(drop=True)


#: Columns of :func:`dlt_events`.
EVENT_COLUMNS: tuple[str, ...] = ("USUBJID", GROUP, "SUBJSEQ", "IN_RULE", "AESEQ", "AETERM",
                                  "AEDECOD", "ASTDT", "AGRADEN", "SERFL", "WINDOW_START",
                                  "WINDOW_END", "RELATION", "REASON")


def dlt_events(data: SafetyData) -> pd.DataFrame:
    """The DLT adjudication records: every adverse event that counts as DLT-like (SAP 9.1).

    One row per qualifying AE of a treated Safety Set subject, subjects in evaluation order
    (as in SAF-MON), each subject's events by onset (no onset last), then ``AESEQ``.

    Returns
    -------
    DataFrame
        :data:`EVENT_COLUMNS`: the subject, its group and its place in the evaluation order
        (``SUBJSEQ``, 1, 2, ... within the group, as the ARD's by-variable), ``IN_RULE``
        (``SUBJSEQ`` <= ``max_subjects``), the AE's ``AESEQ``, ``AETERM``, ``AEDECOD``, onset
        ``ASTDT``, grade ``AGRADEN``, ``SERFL``, the subject's window (``WINDOW_START`` the first
        session, ``WINDOW_END`` ``window_days`` after the last), ``RELATION`` (the assessments
        that made it related, e.g. ``"AERELMSC: PROBABLY RELATED"``, ``missing`` for a missing
        one) and ``REASON``, why it qualified, in words (e.g. ``"serious, grade 2; related:
        AERELMSC PROBABLY RELATED; onset 2025-01-13, in the window 2025-01-10 to
        2025-01-21"``).
    """
    mon = data.sap.monitoring  # type: ignore[attr-defined]
    subj = _treated(data, record=False)
    subj["SUBJSEQ"] = subj.groupby(GROUP, sort=False).cumcount() + 1
    subj["IN_RULE"] = subj["SUBJSEQ"] <= int(mon.max_subjects)
    subj["_ORDER"] = np.arange(len(subj))
    events = _qualifying(data, subj)
    if events.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})
    events = events.merge(subj[["USUBJID", GROUP, "SUBJSEQ", "IN_RULE", "_ORDER"]],
                          on="USUBJID")
    events = events.sort_values(["_ORDER", "ASTDT", "AESEQ"], na_position="last",
                                kind="stable")
    return events[list(EVENT_COLUMNS)].reset_index(drop=True)


def _treated(data: SafetyData, *, record: bool) -> pd.DataFrame:
    """Treated Safety Set subjects in evaluation order (``TRTSDT``, then ``USUBJID``):
    ``USUBJID``, :data:`GROUP`, ``TRTSDT``, ``TRTEDT``; the untreated ones noted in
    ``data.issues`` when ``record``."""
    subj = data.adsl[["USUBJID", GROUP]].copy()
    subj["TRTSDT"] = (pd.to_datetime(data.adsl["TRTSDT"]) if "TRTSDT" in data.adsl.columns
                      else pd.NaT)
    subj["TRTEDT"] = (pd.to_datetime(data.adsl["TRTEDT"]) if "TRTEDT" in data.adsl.columns
                      else pd.NaT)
    untreated = subj["TRTSDT"].isna()
    if record:
        for s in subj.loc[untreated, "USUBJID"]:
            data.issues.add(source="SAF-MON", file="adsl", usubjid=str(s), variable="TRTSDT",
                            rule="not-treated", severity="excluded",
                            message="no first-session date: not evaluated by the monitoring "
                                    "rule")
    return subj.loc[~untreated].sort_values(["TRTSDT", "USUBJID"], kind="stable")


def _qualifying(data: SafetyData, subj: pd.DataFrame) -> pd.DataFrame:
    """The AEs of the subjects ``subj`` that are DLT-like (SAP 9.1), with ``WINDOW_START``,
    ``WINDOW_END``, ``RELATION`` and ``REASON`` (see :func:`dlt_events`)."""
    mon = data.sap.monitoring  # type: ignore[attr-defined]
    if data.ae is None or not len(data.ae.frame):
        return pd.DataFrame(columns=["USUBJID", *EVENT_COLUMNS[4:]])
    frame = data.ae.frame.drop(columns=["TRTSDT", "TRTEDT"], errors="ignore")
    ae = frame.merge(subj[["USUBJID", "TRTSDT", "TRTEDT"]], on="USUBJID")
    # "related" as the AE tables derive it (derive.teae.derive_relationship: possibly,
    # probably or definitely related; a missing assessment counts as related)
    used = [v for v in mon.related_to if f"REL_{v}" in ae.columns]
    if used:
        related = (ae[[f"REL_{v}" for v in used]] == "Y").any(axis=1).to_numpy()
    else:
        used = [c[len("REL_"):] for c in ae.columns if c.startswith("REL_")]
        related = (ae["RELANYFL"] == "Y").to_numpy()
    serious = (ae["SERFL"] == "Y").to_numpy()
    severe = serious | (ae["AGRADEN"] >= mon.min_grade).to_numpy()
    onset = pd.to_datetime(ae["ASTDT"]) if "ASTDT" in ae.columns else pd.Series(
        pd.NaT, index=ae.index)
    end = ae["TRTEDT"].fillna(ae["TRTSDT"]) + pd.Timedelta(days=int(mon.window_days))
    in_window = (onset.isna() | ((onset >= ae["TRTSDT"]) & (onset <= end))).to_numpy()
    hit = related & severe & in_window
    out = ae.loc[hit].copy()
    out["ASTDT"] = onset[hit]
    out["WINDOW_START"] = out["TRTSDT"]
    out["WINDOW_END"] = end[hit]
    for col in ("AESEQ", "AETERM", "AEDECOD"):
        if col not in out.columns:
            out[col] = np.nan if col == "AESEQ" else ""
    out["RELATION"] = [_relation(row, used) for _, row in out.iterrows()]
    out["REASON"] = [_reason(row) for _, row in out.iterrows()]
    return out[["USUBJID", *EVENT_COLUMNS[4:]]]


def _relation(ae: pd.Series, used: list[str]) -> str:
    """The relationship assessments that make ``ae`` related, ``"AERELMSC: PROBABLY
    RELATED"`` (``missing`` for a missing assessment, which counts as related)."""
    parts = []
    for var in used:
        if ae.get(f"REL_{var}") != "Y":
            continue
        value = ae.get(var)
        text = "" if value is None or (isinstance(value, float) and math.isnan(value)) \
            else str(value).strip()
        parts.append(f"{var}: {text or 'missing'}")
    return "; ".join(parts)


def _reason(ae: pd.Series) -> str:
    """Why ``ae`` counts as DLT-like (SAP 9.1), in words: seriousness and grade, relationship,
    onset in the window."""
    grade = ae["AGRADEN"]
    severity = [t for t in ("serious" if ae["SERFL"] == "Y" else "",
                            "no grade" if pd.isna(grade) else f"grade {grade:g}") if t]
    parts = []
    for part in (p for p in str(ae["RELATION"]).split("; ") if p):
        var, _, value = part.partition(": ")
        parts.append(f"{var} missing (counts as related)" if value == "missing"
                     else f"{var} {value}")
    related = ", ".join(parts) or "yes"
    window = f"{ae['WINDOW_START'].date()} to {ae['WINDOW_END'].date()}"
    onset = (f"no onset date (counts), window {window}" if pd.isna(ae["ASTDT"]) else
             f"onset {ae['ASTDT'].date()}, in the window {window}")
    return f"{', '.join(severity)}; related: {related}; {onset}"


def _window_state(subj: pd.DataFrame, data: SafetyData, window_days: int) -> pd.DataFrame:
    """Add ``WINDOW_END``, ``WINDOW_CLOSED`` and ``WINDOW_REASON`` at ``data.cutoff``."""
    subj = subj.copy()
    subj["WINDOW_END"] = subj["TRTEDT"].fillna(subj["TRTSDT"]) + pd.Timedelta(days=window_days)
    cutoff = data.cutoff
    reason = pd.Series("open", index=subj.index, dtype=object)
    if cutoff is None or pd.isna(cutoff):
        reason[:] = "no-cutoff"
    else:
        # first match wins: the order of the reasons is the order of the checks
        ends = subj["WINDOW_END"]
        outcome = {}
        for var, key in (("DTHDT", "death"), ("LTXDT", "transplant")):
            if var not in data.adsl.columns:
                outcome[key] = pd.Series(False, index=subj.index)
                continue
            date = pd.to_datetime(subj["USUBJID"].map(data.adsl.set_index("USUBJID")[var]))
            outcome[key] = (date <= cutoff) & (date < ends)
        checks = [(ends <= cutoff, "ended"), (subj["DLTFL"], "event"),
                  (outcome["death"], "death"), (outcome["transplant"], "transplant")]
        for hit, key in reversed(checks):
            reason = reason.mask(hit.fillna(False).astype(bool), key)
    subj["WINDOW_REASON"] = reason.astype(str)
    subj["WINDOW_CLOSED"] = subj["WINDOW_REASON"] != "open"
    return subj


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
        beyond = part.iloc[rule.max_subjects:]
        for subj in beyond["USUBJID"]:
            data.issues.add(source="SAF-MON", file="adsl", usubjid=str(subj), variable="USUBJID",
                            rule="beyond-max-subjects", severity="excluded",
                            message=f"evaluated after the rule's {rule.max_subjects} subjects "
                                    "(sap.toml [monitoring] max_subjects): outside the rule")
        part = part.iloc[:rule.max_subjects]
        res = monitor(part["DLTFL"].to_numpy(), rule, data.conf_level)
        for i, (subj, row) in enumerate(zip(part.itertuples(index=False),
                                            res.itertuples(index=False), strict=True), start=1):
            g = {**groups, "SUBJSEQ": str(i)}
            kw = {"variable_level": str(subj.USUBJID), "groups": g, "method": method}
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
            _window_row(b, data, subj, g)
            b.add("DLT", "stopped_at", None if np.isnan(row.stopped_at) else row.stopped_at,
                  **{**kw, "method": f"{method}; stopping is absorbing: n at the first crossing "
                                     "of the boundary, on every later row"})
            b.add("DLT", "n_events_subject", subj.N_DLT,
                  **{**kw, "method": "DLT-like events of the subject (SAP 9.1)"})
        _beyond_rows(b, beyond, groups, rule.max_subjects)
    return b.frame()


def _beyond_rows(b: ArdBuilder, beyond: pd.DataFrame, groups: dict[str, str],
                 max_subjects: int) -> None:
    """The :data:`BEYOND` rows of the subjects evaluated after the rule's ``max_subjects``
    (rows of :func:`dlt_subjects`): each subject's ``n_events_subject`` and the group's ``n``
    and ``n_events`` (nothing when no subject is beyond the rule)."""
    if beyond.empty:
        return
    method = (f"evaluated after the rule's max_subjects = {max_subjects}: outside the rule; "
              "DLT-like events (SAP 9.1)")
    for i, subj in enumerate(beyond.itertuples(index=False), start=max_subjects + 1):
        b.add(BEYOND, "n_events_subject", subj.N_DLT, variable_level=str(subj.USUBJID),
              groups={**groups, "SUBJSEQ": str(i)}, method=method)
    b.add(BEYOND, "n", len(beyond), groups=groups, method=method)
    b.add(BEYOND, "n_events", int(beyond["N_DLT"].sum()), groups=groups, method=method)


def _window_row(b: ArdBuilder, data: SafetyData, subj: Any, groups: dict[str, str]) -> None:
    """The ``window_closed`` row of one evaluated subject (a row of :func:`dlt_subjects`),
    and a data-issues warning when the window is still open at the cut-off."""
    method = window_method(subj.TRTSDT, subj.WINDOW_END, data.cutoff, subj.WINDOW_REASON)
    b.add("DLT", "window_closed", int(subj.WINDOW_CLOSED), variable_level=str(subj.USUBJID),
          groups=groups, method=method)
    if subj.WINDOW_CLOSED:
        return
    days = int(data.sap.monitoring.window_days)
    data.issues.add(
        source="SAF-MON", file="adsl", usubjid=str(subj.USUBJID), variable="TRTEDT",
        rule="monitoring-window-open", severity="warning",
        message=f"monitoring window open at the cut-off {pd.Timestamp(data.cutoff).date()}: it "
                f"closes on {subj.WINDOW_END.date()} (last session + {days} days); the subject "
                "counts as evaluated without a DLT-like event so far and the subject's row of "
                "Table 14.3.7.1 is provisional")


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
