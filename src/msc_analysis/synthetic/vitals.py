"""ADVS of the synthetic trial: blood pressure, pulse and temperature around each session.

Time points: Screening, Baseline, each session PRE (10 min before the start), DURING (1 h into
the session, or at the onset of a hypotension / anaphylaxis event) and POST (10 min after the
end), and the Day 7, 14 and 28 visits (07:30-08:25; on a session day before the session, see
:func:`before_same_day_session`). Vital signs are made consistent with the adverse events:

* a session has a DURING systolic pressure below 90 mmHg if and only if a Hypotension or
  Anaphylactic reaction event began in it (CTCAE: hypotension, anaphylaxis with hypotension);
  the pressure falls by at least 20 mmHg from PRE;
* a session has a POST temperature of 38.0 C or more if and only if a Pyrexia event began after
  it, within the CTCAE fever band of its grade (38.0-39.0, >39.0-40.0, >40.0 C).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from msc_analysis.io.schema import ADVS, VS_PARAMETERS
from msc_analysis.synthetic.course import DAY, Course, absolute
from msc_analysis.synthetic.labs import FOLLOW_UP
from msc_analysis.synthetic.population import STUDYID
from msc_analysis.synthetic.settings import SimulationSettings

#: Fever bands by grade (CTCAE v5, brief section 2), deg C.
FEVER_BANDS = {1: (38.0, 39.0), 2: (39.1, 40.0), 3: (40.1, 40.6), 4: (40.1, 40.8)}
#: Systolic pressure bands during hypotension by grade, mmHg.
HYPOTENSION_SBP = {1: (80.0, 89.0), 2: (72.0, 86.0), 3: (62.0, 78.0), 4: (50.0, 68.0)}


def vs_slot_layout(n_sessions: int) -> list[tuple[str, float, str, float]]:
    """Time points of ADVS: (AVISIT, AVISITN, ATPT, SESSNUM) in schedule order."""
    slots = [("Screening", -1.0, "", np.nan), ("Baseline", 0.0, "", np.nan)]
    for k in range(1, n_sessions + 1):
        slots += [(f"Session {k}", 100.0 + k, tp, float(k)) for tp in ("PRE", "DURING", "POST")]
    slots += [(name, float(day), "", np.nan) for name, day, _ in FOLLOW_UP]
    return slots


def before_same_day_session(visits: NDArray[np.float64], start: NDArray[np.float64]
                            ) -> NDArray[np.float64]:
    """Times of follow-up visits, moved before a session held the same day.

    A visit's vital signs are drawn at 07:30-08:25, a session's PRE measurement is 10 minutes
    before its start (08:00-10:00), so a visit on a session day (Day 7 after two postponed
    sessions, any visit with daily sessions) could fall on or after it. The visit is done
    before the session instead: at the latest 5 minutes before the PRE measurement.

    Parameters
    ----------
    visits : numpy.ndarray, n x V
        Visit times (minutes from 00:00 of study day 1).
    start : numpy.ndarray, n x K
        Session start times (NaN for sessions not started).

    Returns
    -------
    numpy.ndarray, n x V
        The visit times, earlier where a session starts the same day.
    """
    same_day = np.floor(visits / DAY)[:, :, None] == np.floor(start / DAY)[:, None, :]
    latest = np.where(same_day, start[:, None, :] - 15.0, np.inf).min(axis=2)
    return np.minimum(visits, latest)


def simulate_vitals(settings: SimulationSettings, course: Course, rng: np.random.Generator,
                    subject_ids: list[str], female: NDArray[np.bool_]) -> pd.DataFrame:
    """Build ADVS, consistent with the course's hypotension and fever events.

    Parameters
    ----------
    settings : SimulationSettings
        Settings.
    course : Course
        Subject timelines with finalised adverse events.
    rng : numpy.random.Generator
        Random generator (consumed).
    subject_ids : list of str
        USUBJID of each subject.
    female : numpy.ndarray of bool
        Sex of each subject.

    Returns
    -------
    pandas.DataFrame
        ADVS in schema order, sorted by USUBJID, PARAMCD and ADTM.
    """
    n, K = len(subject_ids), settings.n_sessions
    slots = vs_slot_layout(K)
    S = len(slots)
    times = np.full((n, S), np.nan)
    times[:, 0] = course.screen_min + 20.0
    times[:, 1] = course.baseline_min + 20.0
    during = course.start + np.minimum(60.0, (course.end - course.start) / 2.0)
    ev = course.events
    hypo_grade = np.zeros((n, K), dtype=np.int64)
    fever_grade = np.zeros((n, K), dtype=np.int64)
    if not ev.empty:
        sess = ev["sessnum_idx"].to_numpy()
        subj = ev["subj"].to_numpy()
        dec = ev["aedecod"].to_numpy()
        grade = ev["grade"].to_numpy()
        onset = ev["onset"].to_numpy()
        intra = ev["timing"].to_numpy() == "intra"
        hyp = intra & np.isin(dec, ["Hypotension", "Anaphylactic reaction"])
        order = np.flatnonzero(hyp)[np.argsort(-onset[hyp], kind="stable")]
        during[subj[order], sess[order]] = onset[order]  # the earliest onset wins
        np.maximum.at(hypo_grade, (subj[hyp], sess[hyp]), np.minimum(grade[hyp], 4))
        fev = (dec == "Pyrexia") & (ev["key"].to_numpy() == "pyrexia")
        np.maximum.at(fever_grade, (subj[fev], sess[fev]), np.minimum(grade[fev], 4))
    times[:, 2:2 + 3 * K:3] = course.start - 10.0
    times[:, 3:3 + 3 * K:3] = np.rint(during)
    times[:, 4:4 + 3 * K:3] = course.end + 10.0
    for j, (_, day, _) in enumerate(FOLLOW_UP):
        times[:, 2 + 3 * K + j] = (day - 1) * DAY + 450.0 + 5.0 * rng.integers(0, 12, n)
    times[:, 2 + 3 * K:] = before_same_day_session(times[:, 2 + 3 * K:], course.start)
    present = ~np.isnan(times) & (times < course.data_end[:, None])
    present[:, 0] = True
    times = np.where(present, times, np.nan)

    sbp0 = rng.normal(np.where(female, 108.0, 114.0), 11.0)
    pulse0 = rng.normal(88.0, 11.0, n)
    temp0 = rng.normal(36.8, 0.25, n)
    sbp = sbp0[:, None] + rng.normal(0.0, 7.0, (n, S))
    pulse = pulse0[:, None] + rng.normal(0.0, 6.0, (n, S))
    temp = temp0[:, None] + rng.normal(0.0, 0.2, (n, S))
    during_cols = np.arange(3, 3 + 3 * K, 3)
    pre_cols = during_cols - 1
    post_cols = during_cols + 1
    sbp[:, during_cols] -= rng.normal(4.0, 4.0, (n, K))
    sbp = np.maximum(sbp, 92.0)
    hyp_any = hypo_grade > 0
    if hyp_any.any():
        lo, hi = _band_arrays(HYPOTENSION_SBP, hypo_grade)
        low = rng.uniform(lo, hi)
        low = np.minimum(low, sbp[:, pre_cols] - 20.0)
        sbp[:, during_cols] = np.where(hyp_any, low, sbp[:, during_cols])
        pulse[:, during_cols] = np.where(hyp_any, pulse[:, during_cols] + rng.uniform(
            10.0, 30.0, (n, K)), pulse[:, during_cols])
    sbp = np.rint(sbp)
    dbp = np.rint(np.minimum(sbp * rng.normal(0.62, 0.04, (n, S)), sbp - 20.0))
    temp = np.minimum(temp, 37.8)
    fev_any = fever_grade > 0
    if fev_any.any():
        lo, hi = _band_arrays(FEVER_BANDS, fever_grade)
        hot = np.round(rng.uniform(lo, hi), 1)
        temp[:, post_cols] = np.where(fev_any, hot, temp[:, post_cols])
        pulse[:, post_cols] = np.where(fev_any, pulse[:, post_cols] + 12.0, pulse[:, post_cols])
    temp = np.round(temp, 1)
    pulse = np.rint(np.clip(pulse, 45.0, 170.0))
    return _assemble(course, subject_ids, times, present, slots,
                     {"SYSBP": sbp, "DIABP": dbp, "PULSE": pulse, "TEMP": temp})


def _band_arrays(bands: dict[int, tuple[float, float]], grade: NDArray[np.int64]
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    lo = np.asarray([0.0] + [bands[g][0] for g in range(1, 5)])
    hi = np.asarray([0.0] + [bands[g][1] for g in range(1, 5)])
    return lo[grade], hi[grade]


def _assemble(course: Course, subject_ids: list[str], times: NDArray[np.float64],
              present: NDArray[np.bool_], slots: list[tuple[str, float, str, float]],
              values: dict[str, NDArray[np.float64]]) -> pd.DataFrame:
    n, S = times.shape
    params = list(VS_PARAMETERS)
    P = len(params)
    order = np.argsort(np.where(np.isnan(times), np.inf, times), axis=1, kind="stable")
    rows_n = np.arange(n)[:, None]
    times = times[rows_n, order]
    present = present[rows_n, order]
    slot_idx = np.broadcast_to(np.arange(S), (n, S))[rows_n, order]
    v = np.stack([values[p][rows_n, order] for p in params], axis=1)
    mask = np.broadcast_to(present[:, None, :], (n, P, S))
    subj = np.broadcast_to(np.arange(n)[:, None, None], (n, P, S))[mask]
    par = np.broadcast_to(np.arange(P)[None, :, None], (n, P, S))[mask]
    slot = np.broadcast_to(slot_idx[:, None, :], (n, P, S))[mask]
    tmin = np.broadcast_to(times[:, None, :], (n, P, S))[mask]
    visit_names = list(dict.fromkeys(s[0] for s in slots))
    atpt_names = ["", "PRE", "DURING", "POST"]
    units = list(dict.fromkeys(VS_PARAMETERS[p][1] for p in params))
    frame = pd.DataFrame({
        "STUDYID": pd.Categorical.from_codes(np.zeros(len(subj), dtype=np.int64), [STUDYID]),
        "USUBJID": pd.Categorical.from_codes(subj, subject_ids),
        "PARAMCD": pd.Categorical.from_codes(par, params),
        "PARAM": pd.Categorical.from_codes(par, [VS_PARAMETERS[p][0] for p in params]),
        "AVAL": v[mask],
        "AVALU": pd.Categorical.from_codes(
            np.asarray([units.index(VS_PARAMETERS[p][1]) for p in params])[par], units),
        "ADTM": absolute(course.day1[subj], tmin).astype("datetime64[s]"),
        "AVISIT": pd.Categorical.from_codes(
            np.asarray([visit_names.index(s[0]) for s in slots])[slot], visit_names),
        "AVISITN": np.asarray([s[1] for s in slots])[slot],
        "ATPT": pd.Categorical.from_codes(
            np.asarray([atpt_names.index(s[2]) for s in slots])[slot], atpt_names),
        "SESSNUM": np.asarray([s[3] for s in slots])[slot],
    })
    assert list(frame.columns) == list(ADVS.names)
    return frame
