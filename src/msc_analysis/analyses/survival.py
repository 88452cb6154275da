"""SURV-TFS: Kaplan-Meier transplant-free survival, descriptive, at the SAP's landmark days.

The Kaplan-Meier estimate and Greenwood standard error come from statsmodels'
``SurvfuncRight``; the confidence interval is R ``survfit``'s default ("log"):
``exp(log S +/- z * se(S) / S)``, upper limit capped at 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.duration.survfunc import SurvfuncRight

from msc_analysis.ard import ArdBuilder

METHOD = "Kaplan-Meier, Greenwood SE, log-transformed CI (R survfit default)"


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier curve: event times with survival, SE, CI and numbers at risk."""

    table: pd.DataFrame  # time, n_risk, n_event, surv, se, conf_low, conf_high
    n: int
    n_events: int

    def at(self, day: float) -> pd.Series:
        """Survival row in force at ``day`` (the last event time <= day; S = 1 before any)."""
        before = self.table[self.table["time"] <= day]
        if before.empty:
            return pd.Series({"surv": 1.0, "se": 0.0, "conf_low": 1.0, "conf_high": 1.0})
        return before.iloc[-1][["surv", "se", "conf_low", "conf_high"]]

    def estimable_at(self, day: float, times: np.ndarray) -> bool:
        """Whether S(``day``) is estimated: the follow-up reaches ``day`` (R ``summary`` of a
        ``survfit`` reports no time beyond the last one), or the curve has already reached 0."""
        if times.size == 0:
            return False
        if float(times.max()) >= day:
            return True
        return bool(len(self.table)) and float(self.table["surv"].iloc[-1]) == 0.0

    def n_at_risk(self, day: float, times: np.ndarray) -> int:
        """Number of subjects still at risk at ``day`` (time >= day)."""
        return int((times >= day).sum())


def kaplan_meier(time: np.ndarray, event: np.ndarray, conf_level: float = 0.95) -> KaplanMeier:
    """Kaplan-Meier estimate with R's default log-transformed pointwise CI.

    Parameters
    ----------
    time : array
        Follow-up times.
    event : array
        1 for an event, 0 for a censored time.
    conf_level : float
        Confidence level of the pointwise intervals.
    """
    time = np.asarray(time, float)
    event = np.asarray(event, int)
    if time.size == 0:
        empty = pd.DataFrame(columns=["time", "n_risk", "n_event", "surv", "se", "conf_low",
                                      "conf_high"])
        return KaplanMeier(empty, 0, 0)
    sf = SurvfuncRight(time, event)
    z = sps.norm.ppf(0.5 + conf_level / 2)
    surv = np.asarray(sf.surv_prob, float)
    se = np.asarray(sf.surv_prob_se, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        se_log = np.where(surv > 0, se / surv, np.nan)
        low = np.where(surv > 0, surv * np.exp(-z * se_log), np.nan)
        high = np.where(surv > 0, np.minimum(1.0, surv * np.exp(z * se_log)), np.nan)
    table = pd.DataFrame({
        "time": np.asarray(sf.surv_times, float),
        "n_risk": np.asarray(sf.n_risk, float),
        "n_event": np.asarray(sf.n_events, float),
        "surv": surv,
        "se": se,
        "conf_low": low,
        "conf_high": high,
    })
    return KaplanMeier(table, int(time.size), int(event.sum()))


def transplant_free_survival(
    tte: pd.DataFrame, conf_level: float = 0.95, landmarks: Sequence[int] = (28, 90)
) -> pd.DataFrame:
    """SURV-TFS ARD rows: N, events, and S(t) with SE and CI at each landmark day (missing
    when no subject's follow-up reaches the day: not estimable).

    Parameters
    ----------
    tte : DataFrame
        From :func:`msc_analysis.derive.tte.derive_transplant_free_survival` (AVAL, CNSR).
    conf_level : float
        Confidence level (the SAP's).
    landmarks : sequence of int
        Days at which the survival probability is reported.
    """
    time = tte["AVAL"].to_numpy(float)
    event = 1 - tte["CNSR"].to_numpy(int)
    km = kaplan_meier(time, event, conf_level)
    b = ArdBuilder("SURV-TFS", {"PARAMCD": "TFS"})
    b.add("AVAL", "N", km.n)
    b.add("AVAL", "n_events", km.n_events)
    for day in landmarks:
        # beyond the follow-up (e.g. at an early cut-off) S(day) is not estimable: missing
        row = km.at(day) if km.estimable_at(day, time) else pd.Series(
            np.nan, index=["surv", "se", "conf_low", "conf_high"])
        at_day = {"DAY": day}
        b.add("AVAL", "n", km.n_at_risk(day, time), groups=at_day)
        b.add("AVAL", "estimate", row["surv"], method=METHOD, groups=at_day)
        b.add("AVAL", "se", row["se"], method=METHOD, groups=at_day)
        b.add("AVAL", "conf_low", row["conf_low"], method=METHOD, groups=at_day)
        b.add("AVAL", "conf_high", row["conf_high"], method=METHOD, groups=at_day)
        b.add("AVAL", "conf_level", conf_level, groups=at_day)
    return b.frame()
