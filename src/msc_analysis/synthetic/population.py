"""Candidates, screening and enrolment of the synthetic trial.

Candidates are drawn from a referral population of ALF/ACLF patients (brief section 4), measured
at screening, and checked against the protocol's eligibility criteria; the first
``n_subjects`` eligible candidates are enrolled and the others are written to the screening log
with the criteria they failed. Eligibility is evaluated on the *reported* values (as a site
would), so a check recomputed from the written files agrees exactly.

Criteria (protocol of NCT06904755, as summarised in the project briefing and the brief section 5):

* ``I1`` age 18-65 years;
* ``I2`` total bilirubin >= 171 umol/L, or rising by >= 17.1 umol/L per day (against the
  referral value recorded in the log);
* ``I3`` prothrombin activity 20-40 % or INR 1.5-2.6 (either measurement qualifies; bounds
  inclusive);
* ``I4`` hepatic encephalopathy West Haven grade <= II;
* ``I5`` raised inflammation: IL-6, TNF-alpha or CRP above the upper limit of normal (at least one);
* ``E1`` exclusion: MELD (original formula, brief 1.1) > 30.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from msc_analysis.derive.meld import meld, round_half_away
from msc_analysis.synthetic.labspec import LAB_SPECS, pta_from_inr
from msc_analysis.synthetic.settings import SimulationSettings

STUDYID = "NCT06904755"
SITEID = "01"

#: Eligibility criteria: code -> text of the screening log.
CRITERIA: dict[str, str] = {
    "I1": "Age not 18-65 years",
    "I2": "TBil < 171 umol/L and not rising >= 17.1 umol/L/day",
    "I3": "Neither PTA 20-40% nor INR 1.5-2.6",
    "I4": "Hepatic encephalopathy grade > II",
    "I5": "No raised IL-6, TNF-alpha or CRP (none above ULN)",
    "E1": "MELD > 30",
}

ETIOLOGIES = ("HBV", "HEV", "DRUG-INDUCED", "ALCOHOL", "AUTOIMMUNE", "OTHER")
_ETIOL_P = (0.65, 0.07, 0.10, 0.08, 0.04, 0.06)
#: Probability of acute-on-chronic (vs acute) liver failure by etiology.
_ACLF_P = (0.9, 0.4, 0.2, 0.95, 0.7, 0.5)
#: West Haven grade 0-IV at screening among referred candidates.
_HE_P = (0.55, 0.25, 0.13, 0.05, 0.02)

#: Parameters simulated from a latent screening level (DBIL and PTA derive from TBIL and INR).
LATENT_PARAMS = ("TBIL", "INR", "IL6", "TNFA", "CRP", "ALT", "AST", "ALB", "CREAT", "SODIUM",
                 "PLAT", "HGB", "FIBRINO", "CALCIUM")


@dataclass(frozen=True)
class Cohort:
    """Enrolled subjects at screening (arrays of length ``n``) and the screening log.

    Attributes
    ----------
    age, female, etiol, lftype, hegr, severity
        Demographics, etiology, liver-failure type, HE grade and latent severity (N(0, 1) in the
        referral population; higher is sicker).
    screen_date : numpy.ndarray of datetime64[D]
        Date of consent and screening.
    latent : dict
        Log of the true level of each latent parameter at screening.
    dbil_ratio : numpy.ndarray
        Subject's direct/total bilirubin ratio.
    screen_aval : dict
        Reported screening value (SI) of every lab parameter (NaN below the LLOQ).
    screen_orig : dict
        Reported screening result in original units (number; conventional units for TBIL, DBIL
        and CREAT, reported by the local laboratory).
    meld : numpy.ndarray
        Screening MELD (original formula).
    log : pandas.DataFrame
        The screening log of every candidate screened (enrolled and failed).
    """

    age: NDArray[np.int64]
    female: NDArray[np.bool_]
    etiol: NDArray[np.str_]
    lftype: NDArray[np.str_]
    hegr: NDArray[np.int64]
    severity: NDArray[np.float64]
    screen_date: NDArray[np.datetime64]
    latent: dict[str, NDArray[np.float64]]
    dbil_ratio: NDArray[np.float64]
    screen_aval: dict[str, NDArray[np.float64]]
    screen_orig: dict[str, NDArray[np.float64]]
    meld: NDArray[np.float64]
    log: pd.DataFrame

    @property
    def n(self) -> int:
        """Number of enrolled subjects."""
        return len(self.age)


def report(paramcd: str, values: NDArray[np.float64], conventional: bool = False
           ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Round simulated values as the laboratory reports them.

    Parameters
    ----------
    paramcd : str
        Parameter code.
    values : numpy.ndarray
        Simulated values in SI units.
    conventional : bool
        Report in the parameter's conventional unit (2 decimals) instead of SI.

    Returns
    -------
    aval, orig : numpy.ndarray
        The analysis value in SI (below-LLOQ values kept as numbers; the caller flags them) and the
        original result as a number in the reported unit.
    """
    spec = LAB_SPECS[paramcd]
    values = np.clip(values, spec.minimum, spec.maximum)
    if conventional and spec.conventional_factor is not None:
        orig = round_half_away(values / spec.conventional_factor, 2)
        return np.round(orig * spec.conventional_factor, 4), orig
    orig = round_half_away(values, spec.decimals)
    return orig, orig.copy()


def _draw_candidates(rng: np.random.Generator, m: int) -> dict[str, NDArray]:
    """Draw ``m`` referred candidates: demographics and latent screening levels."""
    c: dict[str, NDArray] = {}
    c["age"] = np.clip(np.rint(rng.normal(46.0, 12.0, m)), 15, 85).astype(np.int64)
    c["female"] = rng.random(m) < 0.2
    etiol_idx = rng.choice(len(ETIOLOGIES), size=m, p=_ETIOL_P)
    c["etiol"] = np.asarray(ETIOLOGIES)[etiol_idx]
    c["lftype"] = np.where(rng.random(m) < np.asarray(_ACLF_P)[etiol_idx], "ACLF", "ALF")
    c["hegr"] = rng.choice(5, size=m, p=_HE_P).astype(np.int64)
    z = rng.standard_normal(m)
    c["severity"] = z
    e = rng.standard_normal((len(LATENT_PARAMS), m))
    lat = {
        # Brief 4: TBil 381.6 +- 178.1 [S43], median 489.6 [S44]; section 7: median ~350-450.
        "TBIL": np.log(380.0) + 0.5 * (0.6 * z + 0.8 * e[0]),
        # INR 2.6 +- 0.9 with PTA 35 +- 12 % [S43]; centred lower since eligibility is 1.5-2.6.
        "INR": np.log(1.9) + 0.28 * (0.5 * z + 0.866 * e[1]),
        # IL-6 median 10.4-17.9, IQR ~5x [S42] -> log-normal, sdlog ~1.1.
        "IL6": np.log(14.0) + 1.1 * (0.4 * z + 0.917 * e[2]),
        "TNFA": np.log(16.0) + 0.6 * (0.3 * z + 0.954 * e[3]),
        # CRP 10-40 mg/L (brief 7; 20-32 mg/L in pre-ACLF/ACLF [S45b]).
        "CRP": np.log(18.0) + 0.55 * (0.3 * z + 0.954 * e[4]),
        # ALT 401 +- 319 U/L [S43].
        "ALT": np.log(260.0) + 0.9 * e[5],
        "ALB": np.log(np.clip(30.0 - 2.0 * z + 4.0 * e[7], 18.0, 45.0)),  # 29.7 +- 4.5 g/L [S43]
        "CREAT": np.log(68.0) + 0.3 * (0.3 * z + 0.954 * e[8]) + np.where(c["female"], -0.1, 0.0),
        "SODIUM": np.log(135.0 - 1.5 * z + 3.5 * e[9]),
        "PLAT": np.log(95.0) + 0.45 * (-0.3 * z + 0.954 * e[10]),
        "HGB": np.log(np.where(c["female"], 106.0, 118.0) + 15.0 * e[11]),
        "FIBRINO": np.log(1.5) + 0.3 * (-0.4 * z + 0.917 * e[12]),
    }
    lat["AST"] = lat["ALT"] + np.log(0.85) + 0.3 * e[6]
    alb = np.exp(lat["ALB"])
    lat["CALCIUM"] = np.log(2.05 + 0.01 * (alb - 30.0) + 0.10 * e[13])
    c["latent"] = lat  # type: ignore[assignment]
    c["dbil_ratio"] = np.clip(rng.normal(0.62, 0.06, m), 0.4, 0.85)
    # Referral (prior) bilirubin 1-3 days before screening; bilirubin was rising by ~5%/day.
    c["prior_days"] = rng.integers(1, 4, m)
    c["prior_rate"] = rng.normal(0.05, 0.04, m)
    return c


def _measure(rng: np.random.Generator, c: dict[str, NDArray]) -> None:
    """Screening measurements (reported values) of every parameter, in place."""
    m = len(c["age"])
    lat = c["latent"]
    aval: dict[str, NDArray] = {}
    orig: dict[str, NDArray] = {}
    for p in LATENT_PARAMS:
        true = np.exp(lat[p] + rng.normal(0.0, LAB_SPECS[p].noise, m))
        aval[p], orig[p] = report(p, true, conventional=p in ("TBIL", "CREAT"))
    tb_true = np.exp(lat["TBIL"])
    aval["DBIL"], orig["DBIL"] = report(
        "DBIL", np.minimum(aval["TBIL"] * c["dbil_ratio"] * np.exp(rng.normal(0, 0.03, m)),
                           0.95 * aval["TBIL"]), conventional=True)
    pta = pta_from_inr(np.exp(lat["INR"])) * np.exp(rng.normal(0.0, LAB_SPECS["PTA"].noise, m))
    aval["PTA"], orig["PTA"] = report("PTA", pta)
    prior_true = tb_true * np.exp(-c["prior_rate"] * c["prior_days"]
                                  + rng.normal(0.0, 0.03, m))
    c["prior_tbil"], _ = report("TBIL", prior_true)
    for p in ("IL6", "TNFA", "CRP"):
        blq = aval[p] < LAB_SPECS[p].lloq
        aval[p] = np.where(blq, np.nan, aval[p])
    c["aval"] = aval  # type: ignore[assignment]
    c["orig"] = orig  # type: ignore[assignment]


def eligibility_failures(c: dict[str, NDArray]) -> dict[str, NDArray[np.bool_]]:
    """Which candidates fail each criterion (True = failed), on reported values."""
    aval = c["aval"]
    rise = (aval["TBIL"] - c["prior_tbil"]) / c["prior_days"]
    with np.errstate(invalid="ignore"):
        raised = ((aval["IL6"] > LAB_SPECS["IL6"].anrhi)
                  | (aval["TNFA"] > LAB_SPECS["TNFA"].anrhi)
                  | (aval["CRP"] > LAB_SPECS["CRP"].anrhi))
    return {
        "I1": (c["age"] < 18) | (c["age"] > 65),
        "I2": ~((aval["TBIL"] >= 171.0) | (rise >= 17.1)),
        "I3": ~(((aval["PTA"] >= 20) & (aval["PTA"] <= 40))
                | ((aval["INR"] >= 1.5) & (aval["INR"] <= 2.6))),
        "I4": c["hegr"] > 2,
        "I5": ~raised,
        "E1": c["meld"] > 30,
    }


#: Longest screening period (days); beyond it (only in studies of thousands of subjects) the gaps
#: between candidates shrink proportionally, so dates stay plausible.
MAX_SCREENING_SPAN_DAYS = 3650.0


def _screening_dates(settings: SimulationSettings, rng: np.random.Generator,
                     eligible: NDArray[np.bool_]) -> NDArray[np.datetime64]:
    """Staggered screening dates: a gap of ``min + Exp(mean - min)`` days after each enrolled
    subject, 1-3 days after a screen failure (all shrunk when the span would exceed
    :data:`MAX_SCREENING_SPAN_DAYS`)."""
    m = len(eligible)
    long_gap = settings.enrol_gap_min_days + rng.exponential(
        max(settings.enrol_gap_mean_days - settings.enrol_gap_min_days, 1e-9), m)
    short_gap = rng.integers(1, 4, m).astype(float)
    gap = np.where(np.concatenate([[False], eligible[:-1]]), long_gap, short_gap)
    gap[0] = 0.0
    span = np.cumsum(gap)
    if span[-1] > MAX_SCREENING_SPAN_DAYS:  # very large simulated studies: shrink the gaps
        span = span * (MAX_SCREENING_SPAN_DAYS / span[-1])
    days = np.floor(span).astype(np.int64)
    return np.datetime64(settings.enrol_start, "D") + days


def screen(settings: SimulationSettings, rng: np.random.Generator) -> Cohort:
    """Draw and screen candidates until ``settings.n_subjects`` are eligible.

    Parameters
    ----------
    settings : SimulationSettings
        The simulation settings.
    rng : numpy.random.Generator
        Random generator (consumed).

    Returns
    -------
    Cohort
        The enrolled subjects and the screening log.
    """
    n = settings.n_subjects
    batches: list[dict[str, NDArray]] = []
    n_eligible = 0
    batch = max(64, int(n * 2))
    while n_eligible < n:
        c = _draw_candidates(rng, batch)
        _measure(rng, c)
        c["meld"] = np.asarray(meld(c["aval"]["TBIL"], c["aval"]["INR"], c["aval"]["CREAT"]),
                               dtype=float)
        c["fail"] = eligibility_failures(c)  # type: ignore[assignment]
        batches.append(c)
        n_eligible += int((~np.vstack(list(c["fail"].values())).any(axis=0)).sum())
    c = _concat(batches)
    failed = np.vstack([c["fail"][k] for k in CRITERIA])
    eligible = ~failed.any(axis=0)
    last = int(np.flatnonzero(eligible)[n - 1]) + 1
    c = {k: _cut(v, last) for k, v in c.items()}
    failed = failed[:, :last]
    eligible = eligible[:last]
    dates = _screening_dates(settings, rng, eligible)
    log = _screening_log(c, failed, eligible, dates)
    idx = np.flatnonzero(eligible)
    return Cohort(
        age=c["age"][idx], female=c["female"][idx], etiol=c["etiol"][idx],
        lftype=c["lftype"][idx], hegr=c["hegr"][idx], severity=c["severity"][idx],
        screen_date=dates[idx],
        latent={k: v[idx] for k, v in c["latent"].items()},
        dbil_ratio=c["dbil_ratio"][idx],
        screen_aval={k: v[idx] for k, v in c["aval"].items()},
        screen_orig={k: v[idx] for k, v in c["orig"].items()},
        meld=c["meld"][idx], log=log,
    )


def _concat(batches: list[dict]) -> dict:
    out: dict = {}
    for key, value in batches[0].items():
        if isinstance(value, dict):
            out[key] = {k: np.concatenate([b[key][k] for b in batches]) for k in value}
        else:
            out[key] = np.concatenate([b[key] for b in batches])
    return out


def _cut(value: object, last: int) -> object:
    if isinstance(value, dict):
        return {k: v[:last] for k, v in value.items()}
    return value[:last]  # type: ignore[index]


def subject_ids(n: int) -> tuple[list[str], list[str]]:
    """SUBJID and USUBJID of ``n`` enrolled subjects (``001`` and ``NCT06904755-01-001``)."""
    width = max(3, len(str(n)))
    subjid = [f"{i:0{width}d}" for i in range(1, n + 1)]
    return subjid, [f"{STUDYID}-{SITEID}-{s}" for s in subjid]


def _screening_log(c: dict, failed: NDArray[np.bool_], eligible: NDArray[np.bool_],
                   dates: NDArray[np.datetime64]) -> pd.DataFrame:
    m = len(eligible)
    width = max(4, len(str(m)))
    _, usubjid = subject_ids(int(eligible.sum()))
    usub = np.full(m, "", dtype=object)
    usub[eligible] = usubjid
    codes = list(CRITERIA)
    failcrit = np.full(m, "", dtype=object)
    failreas = np.full(m, "", dtype=object)
    for j in np.flatnonzero(~eligible):
        mine = [codes[i] for i in np.flatnonzero(failed[:, j])]
        failcrit[j] = ";".join(mine)
        failreas[j] = CRITERIA[mine[0]]
    aval = c["aval"]
    return pd.DataFrame({
        "STUDYID": STUDYID,
        "SCRNID": [f"S{i:0{width}d}" for i in range(1, m + 1)],
        "USUBJID": usub,
        "RFICDT": dates,
        "AGE": c["age"],
        "SEX": np.where(c["female"], "F", "M"),
        "ETIOL": c["etiol"],
        "LFTYPE": c["lftype"],
        "HEGR": c["hegr"],
        "TBIL": aval["TBIL"],
        "TBILPRV": c["prior_tbil"],
        "TBILPDT": dates - c["prior_days"].astype("timedelta64[D]"),
        "INR": aval["INR"],
        "PTA": aval["PTA"],
        "IL6": aval["IL6"],
        "TNFA": aval["TNFA"],
        "CRP": aval["CRP"],
        "CREAT": aval["CREAT"],
        "MELDSCR": c["meld"],
        "ELIGFL": np.where(eligible, "Y", "N"),
        "FAILCRIT": failcrit,
        "FAILREAS": failreas,
    })
