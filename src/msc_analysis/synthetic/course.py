"""Timeline of each enrolled subject: disposition, purification sessions and adverse events.

Times are minutes from 00:00 of study day 1 (the planned day of the first session), as floats;
:func:`absolute` turns them into datetimes. The order of events is:

1. disposition: death, liver transplant, withdrawal and loss to follow-up are drawn first
   (death risk rises with the latent severity, so sicker subjects die more often);
2. events that end sessions early (the onset of a fatal event, of the deterioration before a
   transplant, of severe disease-course events) are placed on the timeline;
3. sessions run one after another (vectorised over subjects): each draws its intra-session and
   post-session adverse events; an event's action may interrupt or stop the session or
   discontinue further sessions, which decides whether the next session starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from msc_analysis.synthetic.catalogue import (
    AE_CATALOGUE,
    FATAL_CAUSES,
    TRANSPLANT_CAUSE,
    AeTerm,
)
from msc_analysis.synthetic.population import Cohort
from msc_analysis.synthetic.settings import SimulationSettings

DAY = 1440.0

#: Session actions of the adverse-event data (ADAE AEACN).
NONE, INTERRUPTED, STOPPED, DISCONTINUED, NOT_APPLICABLE = (
    "NONE", "SESSION INTERRUPTED", "SESSION STOPPED", "SESSIONS DISCONTINUED", "NOT APPLICABLE")


@dataclass
class Course:
    """Timeline of the enrolled subjects (arrays of length n, or n x K for sessions).

    Attributes
    ----------
    day1 : numpy.ndarray of datetime64[D]
        Date of study day 1 (planned first session).
    screen_min, baseline_min : numpy.ndarray
        Times of the screening and baseline samples.
    enrol_date : numpy.ndarray of datetime64[D]
        Date of enrolment.
    anticoag : numpy.ndarray of str
        HEPARIN or CITRATE.
    done : numpy.ndarray of bool, n x K
        Session started.
    start, end, pre_min, post_min, planned, frac, msc, pause : numpy.ndarray, n x K
        Session start and end, PRE and POST sample times, planned duration (min), fraction of
        the planned plasma processed, MSC dose (10^9 cells), paused minutes.
    status, reason : numpy.ndarray of object, n x K
        SESSSTAT and INTRREAS.
    died, transplanted : numpy.ndarray of bool
        Observed death and transplant.
    t_death, t_tx, last_contact, data_end : numpy.ndarray
        Times of death, transplant, last contact, and end of sample collection.
    eos, dcsreas : numpy.ndarray of object
        EOSSTT and DCSREAS.
    events : pandas.DataFrame
        Adverse events (one row each), finalised by :mod:`msc_analysis.synthetic.adverse`.
    """

    day1: NDArray[np.datetime64]
    screen_min: NDArray[np.float64]
    baseline_min: NDArray[np.float64]
    enrol_date: NDArray[np.datetime64]
    anticoag: NDArray[np.str_]
    done: NDArray[np.bool_]
    start: NDArray[np.float64]
    end: NDArray[np.float64]
    pre_min: NDArray[np.float64]
    post_min: NDArray[np.float64]
    planned: NDArray[np.float64]
    frac: NDArray[np.float64]
    msc: NDArray[np.float64]
    pause: NDArray[np.float64]
    status: NDArray[np.object_]
    reason: NDArray[np.object_]
    died: NDArray[np.bool_]
    transplanted: NDArray[np.bool_]
    t_death: NDArray[np.float64]
    t_tx: NDArray[np.float64]
    last_contact: NDArray[np.float64]
    data_end: NDArray[np.float64]
    eos: NDArray[np.object_]
    dcsreas: NDArray[np.object_]
    events: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def n_sessions_done(self) -> NDArray[np.int64]:
        """Sessions started per subject."""
        return self.done.sum(axis=1)


def absolute(day1: NDArray[np.datetime64], minutes: NDArray[np.float64]
             ) -> NDArray[np.datetime64]:
    """Datetimes (minute resolution, NaT where ``minutes`` is NaN) from day-1 minutes."""
    minutes = np.asarray(minutes, dtype=float)
    base = np.broadcast_to(np.asarray(day1).astype("datetime64[m]"), minutes.shape)
    out = np.full(minutes.shape, np.datetime64("NaT"), dtype="datetime64[m]")
    ok = ~np.isnan(minutes)
    out[ok] = base[ok] + np.rint(minutes[ok]).astype(np.int64).astype("timedelta64[m]")
    return out


def _trunc_exp(rng: np.random.Generator, rate: float, lo: float, hi: float, m: int
               ) -> NDArray[np.float64]:
    """Exponential(rate) truncated to [lo, hi] by inversion."""
    u = rng.random(m)
    return lo - np.log1p(-u * (1.0 - np.exp(-rate * (hi - lo)))) / rate


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-x))


def _grade(rng: np.random.Generator, probs: tuple[float, ...], m: int) -> NDArray[np.int64]:
    cum = np.cumsum(np.asarray(probs, dtype=float))
    cum = cum / cum[-1]
    return (np.searchsorted(cum, rng.random(m), side="right") + 1).astype(np.int64)


class _EventLog:
    """Collects adverse events as column arrays."""

    def __init__(self) -> None:
        self.parts: list[dict[str, NDArray]] = []

    def add(self, subj: NDArray[np.int64], key: str | NDArray[np.object_],
            onset: NDArray[np.float64],
            grade: NDArray[np.int64], action: NDArray[np.object_], session: int = -1,
            aeterm: str | None = None, aedecod: str | None = None,
            aebodsys: str | None = None) -> NDArray[np.int64]:
        """Add events; return their ids."""
        m = len(subj)
        start = sum(len(p["subj"]) for p in self.parts)
        keys = np.full(m, key, dtype=object) if isinstance(key, str) else key.astype(object)

        def lookup(attr: str, given: str | None) -> NDArray[np.object_]:
            if given is not None:
                return np.full(m, given, dtype=object)
            return np.asarray([getattr(AE_CATALOGUE[k], attr) for k in keys], dtype=object)

        self.parts.append({
            "subj": np.asarray(subj, dtype=np.int64),
            "key": keys,
            "aeterm": lookup("aeterm", aeterm),
            "aedecod": lookup("aedecod", aedecod),
            "aebodsys": lookup("aebodsys", aebodsys),
            "onset": np.asarray(onset, dtype=float),
            "grade": np.asarray(grade, dtype=np.int64),
            "action": np.asarray(action, dtype=object),
            "draw_session": np.full(m, session, dtype=np.int64),
        })
        return np.arange(start, start + m)

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=["subj", "key", "aeterm", "aedecod", "aebodsys",
                                         "onset", "grade", "action", "draw_session"])
        return pd.DataFrame({k: np.concatenate([p[k] for p in self.parts])
                             for k in self.parts[0]})


def _rate(term: AeTerm, settings: SimulationSettings) -> float:
    base = settings.ae_rates.get(term.key, term.rate)
    return float(base) * settings.ae_multiplier


def simulate_course(settings: SimulationSettings, cohort: Cohort, rng: np.random.Generator
                    ) -> Course:
    """Simulate disposition, sessions and adverse events of the enrolled cohort.

    Parameters
    ----------
    settings : SimulationSettings
        The simulation settings.
    cohort : Cohort
        Enrolled subjects from :func:`msc_analysis.synthetic.population.screen`.
    rng : numpy.random.Generator
        Random generator (consumed).

    Returns
    -------
    Course
        The subjects' timelines and raw adverse events.
    """
    n, K = cohort.n, settings.n_sessions
    log = _EventLog()

    # --- schedule around day 1 -------------------------------------------------------------
    s_off = rng.integers(2, 4, n)  # screening 2-3 days before day 1
    day1 = cohort.screen_date + s_off.astype("timedelta64[D]")
    screen_min = -s_off * DAY + 480.0 + 5.0 * rng.integers(0, 25, n)
    enrol_date = cohort.screen_date + np.timedelta64(1, "D")
    baseline_min = 360.0 + 5.0 * rng.integers(0, 18, n)  # day 1, 06:00-07:25, before session 1
    citrate = (rng.random(n) < settings.citrate_prob) | (
        cohort.screen_aval["PLAT"] < 50.0)
    anticoag = np.where(citrate, "CITRATE", "HEPARIN")

    # --- disposition ---------------------------------------------------------------------
    risk = cohort.severity
    p_death = _sigmoid(_logit(max(settings.death_prob, 1e-9)) + 0.8 * risk)
    death = rng.random(n) < p_death
    t_death = np.where(death, _trunc_exp(rng, 0.05, 0.3, 89.0, n) * DAY, np.inf)
    p_tx = min(settings.transplant_prob / max(1.0 - settings.death_prob, 1e-9), 0.99)
    tx = ~death & (rng.random(n) < _sigmoid(_logit(max(p_tx, 1e-9)) + 0.5 * risk))
    t_tx = np.where(tx, _trunc_exp(rng, 0.07, 2.0, 60.0, n) * DAY, np.inf)
    withdraw = rng.random(n) < settings.withdrawal_prob
    t_wd = np.where(withdraw, rng.uniform(1.0, 85.0, n) * DAY, np.inf)
    no_sess = rng.random(n) < settings.no_session_prob
    t_wd = np.where(no_sess, rng.uniform(-0.6, -0.05, n) * DAY, t_wd)
    lost = rng.random(n) < settings.lost_prob
    t_lost = np.where(lost, rng.uniform(28.5, 85.0, n) * DAY, np.inf)
    t_d90 = (89.0 + rng.integers(0, 4, n)) * DAY + 600.0

    died = t_death < np.minimum(t_wd, t_lost)
    t_leave = np.minimum(t_wd, t_lost)
    transplanted = t_tx < np.minimum(t_leave, t_death)
    last_contact = np.minimum.reduce([t_death, t_wd, t_lost, t_d90])
    dcsreas = np.select(
        [died, (t_wd <= t_lost) & (t_wd < t_d90), t_lost < t_d90],
        ["DEATH", "WITHDRAWAL BY SUBJECT", "LOST TO FOLLOW-UP"], "").astype(object)
    eos = np.where(dcsreas != "", "DISCONTINUED", "COMPLETED").astype(object)
    data_end = np.minimum.reduce([last_contact, t_tx])

    # --- events that stop sessions: fatal, pre-transplant deterioration, course events ---
    stop_at = data_end.copy()
    stop_src = np.full(n, -1, dtype=np.int64)

    def tighten(subj: NDArray[np.int64], times: NDArray[np.float64],
                ids: NDArray[np.int64]) -> None:
        earlier = times < stop_at[subj]
        # subjects appear once per call, so plain fancy assignment is safe
        stop_at[subj[earlier]] = times[earlier]
        stop_src[subj[earlier]] = ids[earlier]

    d_idx = np.flatnonzero(died)
    if len(d_idx):
        weights = np.asarray([c.weight for c in FATAL_CAUSES])
        cause = rng.choice(len(FATAL_CAUSES), size=len(d_idx), p=weights / weights.sum())
        onset = t_death[d_idx] - rng.uniform(0.5, 5.0, len(d_idx)) * DAY
        onset = np.maximum(onset, np.minimum(t_death[d_idx] - 0.1 * DAY, 0.5 * DAY))
        for ci, c in enumerate(FATAL_CAUSES):
            sel = cause == ci
            if sel.any():
                ids = log.add(d_idx[sel], "fatal", onset[sel], np.full(sel.sum(), 5),
                              np.full(sel.sum(), "", dtype=object), aeterm=c.aeterm,
                              aedecod=c.aedecod, aebodsys=c.aebodsys)
                tighten(d_idx[sel], onset[sel], ids)
    t_idx = np.flatnonzero(transplanted)
    if len(t_idx):
        onset = t_tx[t_idx] - rng.uniform(1.0, 4.0, len(t_idx)) * DAY
        onset = np.maximum(onset, np.minimum(t_tx[t_idx] - 0.2 * DAY, 0.5 * DAY))
        ids = log.add(t_idx, "transplant", onset, np.full(len(t_idx), 4),
                      np.full(len(t_idx), "", dtype=object), aeterm=TRANSPLANT_CAUSE.aeterm,
                      aedecod=TRANSPLANT_CAUSE.aedecod, aebodsys=TRANSPLANT_CAUSE.aebodsys)
        tighten(t_idx, onset, ids)
    for term in (t for t in AE_CATALOGUE.values() if t.timing == "course"):
        p = _rate(term, settings) * np.where(died, term.nonsurvivor, 1.0)
        hi = np.minimum(data_end / DAY, 28.0)
        subj = np.flatnonzero((rng.random(n) < np.minimum(p, 1.0)) & (hi > 0.5))
        if not len(subj):
            continue
        onset = rng.uniform(0.3, hi[subj]) * DAY
        grade = _grade(rng, term.grades, len(subj))
        ids = log.add(subj, term.key, onset, grade, np.full(len(subj), "", dtype=object))
        stops = (grade >= 3) & (rng.random(len(subj)) < 0.5)
        tighten(subj[stops], onset[stops], ids[stops])
    pre = AE_CATALOGUE["catheter_pain"]
    subj = np.flatnonzero(rng.random(n) < _rate(pre, settings))
    onset = -DAY + 840.0 + rng.uniform(0.0, 300.0, len(subj))  # catheter placed on day -1
    subj, onset = subj[onset < data_end[subj]], onset[onset < data_end[subj]]
    log.add(subj, pre.key, onset, _grade(rng, pre.grades, len(subj)),
            np.full(len(subj), NONE, dtype=object))

    # --- sessions --------------------------------------------------------------------------
    shape = (n, K)
    done = np.zeros(shape, dtype=bool)
    start = np.full(shape, np.nan)
    end = np.full(shape, np.nan)
    pre_min = np.full(shape, np.nan)
    post_min = np.full(shape, np.nan)
    planned = np.full(shape, np.nan)
    frac = np.full(shape, np.nan)
    pause = np.full(shape, np.nan)
    msc = np.full(shape, np.nan)
    status = np.full(shape, "", dtype=object)
    reason = np.full(shape, "", dtype=object)
    active = np.ones(n, dtype=bool)
    day = np.zeros(n)
    intra_terms = [t for t in AE_CATALOGUE.values() if t.timing == "intra"]
    post_terms = [t for t in AE_CATALOGUE.values() if t.timing == "post"]
    for k in range(K):
        if k > 0:
            day = day + settings.session_interval_days + (
                rng.random(n) < settings.session_delay_prob)
        s_time = day * DAY + 480.0 + 5.0 * rng.integers(0, 25, n)
        go = active & (s_time < stop_at)
        idx = np.flatnonzero(go)
        m = len(idx)
        d0 = np.rint(rng.normal(settings.session_minutes, 10.0, m) / 5.0) * 5.0
        d0 = np.maximum(d0, 30.0)
        st = s_time[idx]
        # intra-session events
        ev_subj, ev_onset, ev_grade, ev_action, ev_key = [], [], [], [], []
        for term in intra_terms:
            mult = np.where(citrate[idx], term.citrate, term.heparin)
            if k == 0:
                mult = mult * term.first_session
            hit = rng.random(m) < np.minimum(_rate(term, settings) * mult, 1.0)
            j = np.flatnonzero(hit)
            grade = _grade(rng, term.grades, len(j))
            act = _intra_action(rng, term, grade, k == K - 1)
            ev_subj.append(j)
            ev_onset.append(st[j] + rng.uniform(0.05, 0.9, len(j)) * d0[j])
            ev_grade.append(grade)
            ev_action.append(act)
            ev_key.append(np.full(len(j), term.key, dtype=object))
        # non-AE interruptions (circuit clotting) and stops (vascular access failure)
        clot = rng.random(m) < 0.05
        clot_t = st + rng.uniform(0.2, 0.9, m) * d0
        access = rng.random(m) < 0.01
        access_t = st + rng.uniform(0.2, 0.9, m) * d0
        j_all = np.concatenate(ev_subj) if ev_subj else np.zeros(0, dtype=np.int64)
        on_all = np.concatenate(ev_onset) if ev_onset else np.zeros(0)
        gr_all = np.concatenate(ev_grade) if ev_grade else np.zeros(0, dtype=np.int64)
        ac_all = np.concatenate(ev_action) if ev_action else np.zeros(0, dtype=object)
        ky_all = np.concatenate(ev_key) if ev_key else np.zeros(0, dtype=object)
        stops_ev = np.isin(ac_all, [STOPPED, DISCONTINUED])
        stop_t = np.full(m, np.inf)
        np.minimum.at(stop_t, j_all[stops_ev], on_all[stops_ev])
        stop_t = np.where(access & (access_t < stop_t), access_t, stop_t)
        keep = on_all <= stop_t[j_all]
        j_all, on_all, gr_all, ac_all, ky_all = (a[keep] for a in
                                                 (j_all, on_all, gr_all, ac_all, ky_all))
        interrupt_ev = ac_all == INTERRUPTED
        n_pause = np.bincount(j_all[interrupt_ev], minlength=m) + (clot & (clot_t < stop_t))
        pause_min = np.zeros(m)
        for i in range(int(n_pause.max()) if m else 0):
            pause_min += np.where(n_pause > i, rng.uniform(15.0, 40.0, m), 0.0)
        pause_min = np.rint(pause_min / 5.0) * 5.0
        stopped = np.isfinite(stop_t)
        e_time = np.where(stopped, stop_t + rng.uniform(5.0, 20.0, m), st + d0 + pause_min)
        frac_k = np.where(stopped, np.clip((stop_t - st - pause_min) / d0, 0.05, 1.0), 1.0)
        # status and reason: the stopping event of a stopped session, else the first
        # interrupting event (an adverse event before circuit clotting)
        stat = np.where(stopped, "STOPPED", np.where(n_pause > 0, "INTERRUPTED", "COMPLETED"))
        why = np.full(m, "", dtype=object)
        order = np.lexsort((on_all, j_all))
        for mask in (interrupt_ev, np.isin(ac_all, [STOPPED, DISCONTINUED])):
            sel = order[mask[order]]
            first, pos = np.unique(j_all[sel], return_index=True)
            why[first] = np.asarray(["ADVERSE EVENT: " + AE_CATALOGUE[x].aedecod
                                     for x in ky_all[sel][pos]], dtype=object)
        why[(stat == "INTERRUPTED") & (why == "")] = "CIRCUIT CLOTTING"
        why[stopped & access & (access_t <= stop_t)] = "VASCULAR ACCESS DYSFUNCTION"
        # record session
        pre_lag = rng.uniform(5.0, 30.0, m)
        post_lag = rng.uniform(5.0, 30.0, m)
        done[idx, k] = True
        start[idx, k] = st
        end[idx, k] = np.rint(e_time)
        pre_min[idx, k] = st - np.rint(pre_lag)
        post_min[idx, k] = end[idx, k] + np.rint(post_lag)
        planned[idx, k] = d0
        frac[idx, k] = frac_k
        pause[idx, k] = pause_min
        msc[idx, k] = np.round(rng.normal(settings.msc_dose, 0.03 * settings.msc_dose, m), 2)
        status[idx, k] = stat
        reason[idx, k] = why
        log.add(idx[j_all], ky_all, on_all, gr_all, ac_all, session=k)
        disc = np.zeros(n, dtype=bool)
        disc[idx[j_all[ac_all == DISCONTINUED]]] = True
        # post-session events
        for term in post_terms:
            mult = np.where(citrate[idx], term.citrate, term.heparin)
            hit = rng.random(m) < np.minimum(_rate(term, settings) * mult, 1.0)
            j = np.flatnonzero(hit)
            if term.effect in ("platelets", "fibrinogen"):
                onset = post_min[idx[j], k]
            elif term.effect == "fever":
                onset = end[idx[j], k] + 10.0
            else:
                onset = end[idx[j], k] + rng.uniform(*term.post_hours, len(j)) * 60.0
            ok = onset < data_end[idx[j]]
            j, onset = j[ok], onset[ok]
            grade = _grade(rng, term.grades, len(j))
            if term.effect in ("platelets", "fibrinogen") or k == K - 1:
                act = np.full(len(j), NOT_APPLICABLE if k == K - 1 else NONE, dtype=object)
            else:
                severe = (grade >= 3) & (rng.random(len(j)) < 0.6)
                act = np.where(severe, DISCONTINUED, NONE).astype(object)
            ids = log.add(idx[j], term.key, onset, grade, act, session=k)
            sev = act == DISCONTINUED
            tighten(idx[j][sev], onset[sev], ids[sev])
        active = go.copy()
        if k < K - 1:
            disc |= go & (rng.random(n) < settings.session_dropout_prob)
        active[disc] = False
        # sessions ended here: later events cannot be what discontinued them
        gone = np.flatnonzero(disc)
        tighten(gone, end[gone, k], np.full(len(gone), -2, dtype=np.int64))

    events = log.frame()
    course = Course(
        day1=day1, screen_min=screen_min, baseline_min=baseline_min, enrol_date=enrol_date,
        anticoag=anticoag, done=done, start=start, end=end, pre_min=pre_min, post_min=post_min,
        planned=planned, frac=frac, msc=msc, pause=pause, status=status, reason=reason,
        died=died, transplanted=transplanted, t_death=np.where(died, t_death, np.nan),
        t_tx=np.where(transplanted, t_tx, np.nan), last_contact=last_contact,
        data_end=data_end, eos=eos, dcsreas=dcsreas, events=events,
    )
    _course_actions(course, stop_src)
    return course


def _intra_action(rng: np.random.Generator, term: AeTerm, grade: NDArray[np.int64],
                  last: bool) -> NDArray[np.object_]:
    """Action on the session of an intra-session event of each grade."""
    u = rng.random(len(grade))
    act = np.select(
        [grade <= 1, grade == 2, grade == 3],
        [NONE, np.where(u < 0.5, INTERRUPTED, NONE), np.where(u < 0.7, STOPPED, INTERRUPTED)],
        DISCONTINUED,
    ).astype(object)
    if term.key == "anaphylaxis":
        act[:] = DISCONTINUED
    if last:
        act[act == DISCONTINUED] = STOPPED
    return act


def _course_actions(course: Course, stop_src: NDArray[np.int64]) -> None:
    """Actions of events not drawn within a session (fatal, transplant, course, pre)."""
    ev = course.events
    if ev.empty:
        return
    subj = ev["subj"].to_numpy()
    onset = ev["onset"].to_numpy()
    start = np.where(course.done, course.start, -np.inf)
    last_start = start.max(axis=1)[subj]
    all_done = course.done.all(axis=1)[subj]
    ids = np.arange(len(ev))
    is_src = stop_src[subj] == ids
    action = np.select(
        [onset < last_start, all_done, is_src & ~all_done],
        [NONE, NOT_APPLICABLE, DISCONTINUED], NOT_APPLICABLE).astype(object)
    blank = ev["action"].to_numpy() == ""
    ev.loc[blank, "action"] = action[blank]
