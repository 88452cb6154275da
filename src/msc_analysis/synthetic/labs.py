"""ADLB of the synthetic trial: every laboratory parameter at every scheduled time point.

Model (log scale, per subject and parameter)::

    log value(t) = latent level at screening + drift * (t - t_screen)
                   + sum over sessions k of L_k * g(t - end_k) + event effects + noise

* ``drift`` depends on the outcome (improving survivors, worsening non-survivors; brief section
  4-5, TBil lower at 1 month after MSC therapy [S46b]);
* ``L_k`` is the session's log ratio post/pre (TBil: ``log(1 - RR)`` with RR ~ 0.3-0.5 [S22,
  S23]; platelets -10-15% [S23]; cytokines small and noisy [S28]), scaled by the fraction of plasma
  processed when a session was stopped early;
* ``g(tau) = (1 - rebound) exp(-tau / persist) + rebound exp(-tau / 0.25 d)``: the part of a
  session's change that rebounds within ~24 h, and the rest which fades over days (TBil at 24 h
  about 45% of the immediate fall [S22, S23]);
* INR and PTA are two measurements of one latent coagulation state with independent errors, PTA
  following a monotone decreasing curve of INR (brief 1.5), never computed from the reported INR.

Adverse events drawn by the course are made consistent with labs: a thrombocytopenia or
fibrinogen-decrease event lowers the POST value of its session into the CTCAE band of its grade,
a hypocalcaemia event the POST calcium, a gastrointestinal bleed lowers later haemoglobin; the
events' grades are then re-derived from the reported values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from msc_analysis.io.schema import ADLB, LAB_PARAMETERS
from msc_analysis.synthetic.course import DAY, Course, absolute
from msc_analysis.synthetic.labspec import CITRATE_CALCIUM_EFFECT, LAB_SPECS, pta_from_inr
from msc_analysis.synthetic.population import LATENT_PARAMS, STUDYID, Cohort, report
from msc_analysis.synthetic.settings import SimulationSettings

#: Follow-up visits: name, study day, +- jitter in days (AVISITN is the study day).
FOLLOW_UP: tuple[tuple[str, int, int], ...] = (("Day 7", 7, 0), ("Day 14", 14, 1),
                                               ("Day 28", 28, 2))

#: CTCAE v5 bands (brief section 2) used to make lab-driven adverse events consistent:
#: thresholds below which grade 1, 2, 3, 4 start (grade 1 below the LLN).
CTCAE_LOW: dict[str, tuple[float, float, float, float]] = {
    "PLAT": (125.0, 75.0, 50.0, 25.0),     # <LLN-75, <75-50, <50-25, <25 x 10^9/L
    "FIBRINO": (2.0, 1.5, 1.0, 0.5),       # <1.0-0.75, <0.75-0.5, <0.5-0.25, <0.25 x LLN
    "CALCIUM": (2.10, 2.0, 1.75, 1.5),     # <LLN-2.0, <2.0-1.75, <1.75-1.5, <1.5 mmol/L
}
_EFFECT_PARAM = {"platelets": "PLAT", "fibrinogen": "FIBRINO", "calcium": "CALCIUM"}
_FLOOR = {"PLAT": 8.0, "FIBRINO": 0.3, "CALCIUM": 1.3}


def ctcae_low_grade(paramcd: str, values: NDArray[np.float64]) -> NDArray[np.int64]:
    """CTCAE grade (0-4) of a decrease, from :data:`CTCAE_LOW`."""
    thresholds = CTCAE_LOW[paramcd]
    v = np.asarray(values, dtype=float)
    return sum((v < t).astype(np.int64) for t in thresholds)  # type: ignore[return-value]


def slot_layout(n_sessions: int) -> list[tuple[str, float, str, float]]:
    """Time points of ADLB: (AVISIT, AVISITN, ATPT, SESSNUM) in schedule order.

    Screening (AVISITN -1), Baseline (0), Session k PRE/POST (100 + k), Day 7/14/28 (7, 14, 28).
    """
    slots = [("Screening", -1.0, "", np.nan), ("Baseline", 0.0, "", np.nan)]
    for k in range(1, n_sessions + 1):
        slots += [(f"Session {k}", 100.0 + k, "PRE", float(k)),
                  (f"Session {k}", 100.0 + k, "POST", float(k))]
    slots += [(name, float(day), "", np.nan) for name, day, _ in FOLLOW_UP]
    return slots


def _g(tau: NDArray[np.float64], rebound: float, persist: float) -> NDArray[np.float64]:
    with np.errstate(invalid="ignore", over="ignore"):
        out = (1.0 - rebound) * np.exp(-tau / persist) + rebound * np.exp(-tau / 0.25)
    return np.where(tau >= 0, out, 0.0)


def fixed_decimals(values: NDArray[np.float64], decimals: NDArray[np.int64] | int
                   ) -> pa.StringArray:
    """Format non-negative numbers with a fixed number of decimals (vectorised, via Arrow).

    Parameters
    ----------
    values : numpy.ndarray
        Non-negative values (NaN gives ``""``).
    decimals : int or numpy.ndarray of int
        Decimals per value (0-4).

    Returns
    -------
    pyarrow.StringArray
        The strings, e.g. ``350.1``, ``2``, ``0.05``.
    """
    v = np.asarray(values, dtype=float)
    d = np.broadcast_to(np.asarray(decimals, dtype=np.int64), v.shape)
    nan = np.isnan(v)
    scale = 10 ** d
    k = np.rint(np.where(nan, 0.0, v) * scale).astype(np.int64)
    whole = pa.array(k // scale).cast(pa.string())
    frac = pa.array(k % scale).cast(pa.string())
    out = whole
    for dec in np.unique(d):
        if dec == 0:
            continue
        padded = pc.utf8_lpad(frac, width=int(dec), padding="0")
        joined = pc.binary_join_element_wise(whole, padded, ".")
        out = pc.if_else(pa.array(d == dec), joined, out)
    if nan.any():
        out = pc.if_else(pa.array(nan), pa.scalar(""), out)
    return out


def simulate_labs(settings: SimulationSettings, cohort: Cohort, course: Course,
                  rng: np.random.Generator, subject_ids: list[str]) -> pd.DataFrame:
    """Build ADLB and re-grade lab-driven adverse events in ``course.events`` (in place).

    Parameters
    ----------
    settings : SimulationSettings
        Settings.
    cohort : Cohort
        Enrolled subjects.
    course : Course
        Their timelines (events are updated).
    rng : numpy.random.Generator
        Random generator (consumed).
    subject_ids : list of str
        USUBJID of each subject.

    Returns
    -------
    pandas.DataFrame
        ADLB in schema order, sorted by USUBJID, PARAMCD (declared order) and ADTM.
    """
    n, K = cohort.n, settings.n_sessions
    slots = slot_layout(K)
    S = len(slots)
    times = np.full((n, S), np.nan)
    times[:, 0] = course.screen_min
    times[:, 1] = course.baseline_min
    times[:, 2:2 + 2 * K:2] = course.pre_min
    times[:, 3:3 + 2 * K:2] = course.post_min
    for j, (_, day, jit) in enumerate(FOLLOW_UP):
        shift = rng.integers(-jit, jit + 1, n) if jit else np.zeros(n, dtype=np.int64)
        times[:, 2 + 2 * K + j] = (day - 1 + shift) * DAY + 360.0 + 5.0 * rng.integers(0, 18, n)
    present = ~np.isnan(times) & (times < course.data_end[:, None])
    present[:, 0] = True
    missed = rng.random((n, S)) < settings.missed_sample_prob
    missed[:, 0] = False
    present &= ~missed
    times = np.where(present, times, np.nan)

    group = np.where(course.died, 1, np.where(course.transplanted, 2, 0))
    t_rel = (times - course.screen_min[:, None]) / DAY
    ends = course.end  # n x K
    frac = np.nan_to_num(course.frac, nan=0.0)
    citrate = course.anticoag == "CITRATE"
    ev = course.events
    values: dict[str, NDArray[np.float64]] = {}
    inr_state = None
    for p in LATENT_PARAMS:
        spec = LAB_SPECS[p]
        drift = np.choose(group, [spec.drift_survivor, spec.drift_death,
                                  0.5 * (spec.drift_survivor + spec.drift_death)])
        drift = drift + rng.normal(0.0, spec.drift_sd, n)
        logv = cohort.latent[p][:, None] + drift[:, None] * t_rel
        if p == "TBIL":
            rr = np.clip(rng.normal(settings.tbil_rr_mean, settings.tbil_rr_sd, (n, K)),
                         0.05, 0.8)
            eff = frac * np.log1p(-rr)
            rebound, persist = settings.tbil_rebound, spec.persist_days
        else:
            mean, sd = spec.session_mean, spec.session_sd
            if p == "INR":
                mean = settings.inr_session_change
            elif p in ("IL6", "TNFA"):
                mean, sd = settings.cytokine_session_change, settings.cytokine_session_sd
            elif p == "PLAT":
                mean = float(np.log1p(-settings.platelet_session_fall))
            eff = rng.normal(mean, sd, (n, K))
            if p == "CALCIUM":
                eff = eff + np.where(citrate, CITRATE_CALCIUM_EFFECT, 0.0)[:, None]
            eff = eff * frac
            rebound, persist = spec.rebound, spec.persist_days
        for k in range(K):
            tau = (times - ends[:, k:k + 1]) / DAY
            logv = logv + np.nan_to_num(eff[:, k:k + 1] * _g(tau, rebound, persist))
        if p == "HGB" and not ev.empty:
            logv = logv + _bleed_effect(ev, times)
        if p == "INR":
            inr_state = logv + rng.normal(0.0, 0.03, (n, S))
            logv = inr_state + rng.normal(0.0, 0.02, (n, S))
        else:
            logv = logv + rng.normal(0.0, spec.noise, (n, S))
        values[p] = np.exp(logv)
    assert inr_state is not None
    pta = pta_from_inr(np.exp(inr_state)) * np.exp(
        rng.normal(0.0, LAB_SPECS["PTA"].noise, (n, S)))

    # report (round) everything; screening from the cohort (already reported)
    aval: dict[str, NDArray[np.float64]] = {}
    orig: dict[str, NDArray[np.float64]] = {}
    for p in LATENT_PARAMS:
        aval[p], orig[p] = report(p, values[p])
    aval["PTA"], orig["PTA"] = report("PTA", pta)
    dbil = np.minimum(aval["TBIL"] * cohort.dbil_ratio[:, None]
                      * np.exp(rng.normal(0.0, 0.03, (n, S))), 0.95 * aval["TBIL"])
    aval["DBIL"], orig["DBIL"] = report("DBIL", dbil)
    _apply_lab_events(course, aval, orig, rng)
    for p in LAB_PARAMETERS:
        aval[p][:, 0] = cohort.screen_aval[p]
        orig[p][:, 0] = cohort.screen_orig[p]
    return _assemble(settings, cohort, course, subject_ids, times, present, aval, orig, rng,
                     slots)


def _bleed_effect(ev: pd.DataFrame, times: NDArray[np.float64]) -> NDArray[np.float64]:
    """Log fall of haemoglobin after gastrointestinal bleeding (6% per grade above 1, fading
    over about 10 days)."""
    out = np.zeros_like(times)
    bleeds = ev[(ev["aedecod"] == "Upper gastrointestinal haemorrhage") & (ev["grade"] >= 2)]
    for row in bleeds.itertuples(index=False):
        tau = (times[row.subj] - row.onset) / DAY
        drop = -0.06 * (row.grade - 1) * np.exp(-np.clip(tau, 0, None) / 10.0)
        out[row.subj] += np.where(tau >= 0, np.nan_to_num(drop), 0.0)
    return out


def _apply_lab_events(course: Course, aval: dict[str, NDArray[np.float64]],
                      orig: dict[str, NDArray[np.float64]], rng: np.random.Generator) -> None:
    """Lower POST values for lab-driven events and re-grade the events from the values."""
    ev = course.events
    if ev.empty:
        return
    keys = ev["key"].to_numpy()
    for key, param in (("thrombocytopenia", "PLAT"), ("fibrinogen", "FIBRINO"),
                       ("hypocalcaemia", "CALCIUM")):
        rows = np.flatnonzero(keys == key)
        if not len(rows):
            continue
        subj = ev["subj"].to_numpy()[rows]
        k = ev["draw_session"].to_numpy()[rows]
        col = 3 + 2 * k  # POST slot of the session
        grade = ev["grade"].to_numpy()[rows]
        thr = CTCAE_LOW[param]
        upper = np.asarray(thr)[grade - 1]
        lower = np.where(grade < 4, np.asarray((*thr, 0.0))[grade], _FLOOR[param])
        lower = np.maximum(lower, _FLOOR[param])
        target = rng.uniform(lower, upper)
        natural = aval[param][subj, col]
        new = np.where(np.isnan(natural), np.nan, np.minimum(natural, target))
        new_aval, _ = report(param, new)
        # keep below the band's upper bound after rounding
        step = 10.0 ** -LAB_SPECS[param].decimals
        new_aval = np.where(new_aval >= upper, upper - step, new_aval)
        aval[param][subj, col] = new_aval
        orig[param][subj, col] = new_aval
        regraded = ctcae_low_grade(param, new_aval)
        graded = np.where(np.isnan(new_aval), grade, np.maximum(regraded, 1))
        ev.loc[ev.index[rows], "grade"] = graded


def _assemble(settings: SimulationSettings, cohort: Cohort, course: Course,
              subject_ids: list[str], times: NDArray[np.float64],
              present: NDArray[np.bool_], aval: dict[str, NDArray[np.float64]],
              orig: dict[str, NDArray[np.float64]], rng: np.random.Generator,
              slots: list[tuple[str, float, str, float]]) -> pd.DataFrame:
    n, S = times.shape
    params = list(LAB_PARAMETERS)
    P = len(params)
    # order slots by time within subject (follow-up visits may fall between sessions)
    order = np.argsort(np.where(np.isnan(times), np.inf, times), axis=1, kind="stable")
    rows_n = np.arange(n)[:, None]
    times = times[rows_n, order]
    present = present[rows_n, order]
    slot_idx = np.broadcast_to(np.arange(S), (n, S))[rows_n, order]
    mask = np.broadcast_to(present[:, None, :], (n, P, S)).copy()
    # single results missing (haemolysis, volume); never at screening
    lost = rng.random((n, P, S)) < settings.missed_param_prob
    lost &= (slot_idx != 0)[:, None, :]
    mask &= ~lost
    flat = np.flatnonzero(mask)
    del mask, lost
    subj = flat // (P * S)
    par = (flat // S) % P
    pos = flat % S
    flat_ns = subj * S + pos
    slot = slot_idx.reshape(-1)[flat_ns]
    tmin = times.reshape(-1)[flat_ns]
    value = np.stack([aval[p][rows_n, order] for p in params], axis=1).reshape(-1)[flat]
    original = np.stack([orig[p][rows_n, order] for p in params], axis=1).reshape(-1)[flat]

    specs = [LAB_SPECS[p] for p in params]
    female = cohort.female[subj]
    anrlo = np.asarray([s.anrlo for s in specs])[par]
    anrhi = np.asarray([s.anrhi for s in specs])[par]
    anrlo_f = np.asarray([s.anrlo_f if s.anrlo_f is not None else s.anrlo for s in specs])[par]
    anrhi_f = np.asarray([s.anrhi_f if s.anrhi_f is not None else s.anrhi for s in specs])[par]
    anrlo = np.where(female, anrlo_f, anrlo)
    anrhi = np.where(female, anrhi_f, anrhi)
    lloq = np.asarray([s.lloq if s.lloq is not None else np.nan for s in specs])[par]
    with np.errstate(invalid="ignore"):
        blq = original < lloq
    conv_params = np.asarray([p in ("TBIL", "DBIL", "CREAT") for p in params])
    conventional = conv_params[par] & (slot == 0)
    decimals = np.asarray([s.decimals for s in specs])[par]
    decimals = np.where(conventional, 2, decimals)
    lborres = fixed_decimals(original, decimals)
    if blq.any():
        texts = np.asarray(["<" + (f"{s.lloq:.1f}" if s.lloq is not None else "")
                            for s in specs], dtype=object)
        lborres = pc.replace_with_mask(lborres, pa.array(blq),
                                       pa.array(texts[par[blq]], type=pa.string()))
    value = np.where(blq, np.nan, value)
    units = np.asarray([LAB_PARAMETERS[p][1] for p in params], dtype=object)
    unit_cats = list(dict.fromkeys([*units.tolist(), "mg/dL"]))
    unit_code = np.asarray([unit_cats.index(u) for u in units])[par]
    unit_code_orig = np.where(conventional, unit_cats.index("mg/dL"), unit_code)

    adtm = absolute(course.day1[subj], tmin).astype("datetime64[s]")
    adt = adtm.astype("datetime64[D]")
    first = np.where(course.done, course.start, np.nan)
    has_trt = course.done.any(axis=1)
    first_min = np.where(has_trt, np.nanmin(np.where(course.done, first, np.inf), axis=1),
                         np.nan)
    trtsdt = absolute(course.day1, first_min).astype("datetime64[D]")
    delta = (adt - trtsdt[subj]).astype("timedelta64[D]").astype(float)
    ady = np.where(np.isnat(trtsdt[subj]), np.nan, np.where(delta >= 0, delta + 1, delta))

    visit_names = list(dict.fromkeys(s[0] for s in slots))
    visit_code = np.asarray([visit_names.index(s[0]) for s in slots])[slot]
    atpt_names = ["", "PRE", "POST"]
    atpt_code = np.asarray([atpt_names.index(s[2]) for s in slots])[slot]
    data = {
        "STUDYID": pd.Categorical.from_codes(np.zeros(len(subj), dtype=np.int64), [STUDYID]),
        "USUBJID": pd.Categorical.from_codes(subj, subject_ids),
        "PARAMCD": pd.Categorical.from_codes(par, params),
        "PARAM": pd.Categorical.from_codes(par, [LAB_PARAMETERS[p][0] for p in params]),
        "AVAL": value,
        "AVALU": pd.Categorical.from_codes(unit_code, unit_cats),
        "LBORRES": pd.Series(lborres, dtype=pd.StringDtype("pyarrow", na_value=np.nan)),
        "LBORRESU": pd.Categorical.from_codes(unit_code_orig, unit_cats),
        "ADTM": adtm,
        "ADT": adt.astype("datetime64[s]"),
        "ADY": ady,
        "AVISIT": pd.Categorical.from_codes(visit_code, visit_names),
        "AVISITN": np.asarray([s[1] for s in slots])[slot],
        "ATPT": pd.Categorical.from_codes(atpt_code, atpt_names),
        "SESSNUM": np.asarray([s[3] for s in slots])[slot],
        "ANRLO": anrlo,
        "ANRHI": anrhi,
        "LLOQ": lloq,
        "BLQFL": pd.Categorical.from_codes(blq.astype(np.int64), ["", "Y"]),
    }
    frame = pd.DataFrame(data)
    assert list(frame.columns) == list(ADLB.names)
    return frame
