"""ADSL and ADEX of the synthetic trial.

Population flags (documented in ``data/synthetic/README.md``):

* ``ENRLFL`` = Y for every enrolled subject (ADSL holds enrolled subjects only; screen failures
  are in the screening log);
* ``SAFFL`` = Y when at least one session was started;
* ``FASFL`` = Y when at least one session has both a PRE and a POST total-bilirubin result;
* ``PPROTFL`` = Y when FASFL = Y, all planned sessions were started and none was stopped early.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_analysis.io.schema import ADEX, ADSL
from msc_analysis.synthetic.adverse import treatment_dates
from msc_analysis.synthetic.course import Course, absolute
from msc_analysis.synthetic.population import SITEID, STUDYID, Cohort
from msc_analysis.synthetic.settings import SimulationSettings

#: Actual treatment of every subject.
TREATMENT = "MSC-ALSS"


def build_adex(settings: SimulationSettings, course: Course, rng: np.random.Generator,
               subject_ids: list[str]) -> pd.DataFrame:
    """ADEX: one row per session started.

    Parameters
    ----------
    settings : SimulationSettings
        Settings (plasma flow).
    course : Course
        Timelines.
    rng : numpy.random.Generator
        Random generator (consumed).
    subject_ids : list of str
        USUBJID per subject.

    Returns
    -------
    pandas.DataFrame
        ADEX in schema order, sorted by USUBJID and SESSNUM.
    """
    subj, k = np.nonzero(course.done)
    start = course.start[subj, k]
    end = course.end[subj, k]
    dur = end - start
    pause = course.pause[subj, k]
    plvol = np.rint(settings.plasma_flow_ml_min * np.maximum(dur - pause, 0.0)
                    * rng.uniform(0.95, 1.05, len(subj)) / 10.0) * 10.0
    frame = pd.DataFrame({
        "STUDYID": STUDYID,
        "USUBJID": np.asarray(subject_ids, dtype=object)[subj],
        "SESSNUM": (k + 1).astype(np.int64),
        "ASTDTM": absolute(course.day1[subj], start).astype("datetime64[s]"),
        "AENDTM": absolute(course.day1[subj], end).astype("datetime64[s]"),
        "EXDUR": dur,
        "PLVOL": plvol,
        "MSCDOSE": course.msc[subj, k],
        "ANTICOAG": course.anticoag[subj],
        "SESSSTAT": course.status[subj, k],
        "INTRREAS": course.reason[subj, k],
    })
    for col in ("STUDYID", "USUBJID", "ANTICOAG", "SESSSTAT", "INTRREAS"):
        frame[col] = frame[col].astype("str")
    assert list(frame.columns) == list(ADEX.names)
    return frame


def build_adsl(settings: SimulationSettings, cohort: Cohort, course: Course,
               adlb: pd.DataFrame, subjid: list[str], subject_ids: list[str]) -> pd.DataFrame:
    """ADSL: one row per enrolled subject.

    Parameters
    ----------
    settings : SimulationSettings
        Settings (planned sessions).
    cohort : Cohort
        Enrolled subjects.
    course : Course
        Timelines.
    adlb : pandas.DataFrame
        ADLB (for the FAS and PP flags).
    subjid, subject_ids : list of str
        SUBJID and USUBJID per subject.

    Returns
    -------
    pandas.DataFrame
        ADSL in schema order.
    """
    n, K = cohort.n, settings.n_sessions
    nsess = course.done.sum(axis=1)
    trtsdt, trtedt = treatment_dates(course)
    tb = adlb[(adlb["PARAMCD"] == "TBIL") & adlb["ATPT"].isin(["PRE", "POST"])
              & adlb["AVAL"].notna()]
    subj_code = tb["USUBJID"].cat.codes.to_numpy() if hasattr(tb["USUBJID"], "cat") else \
        pd.Index(subject_ids).get_indexer(tb["USUBJID"])
    sess = tb["SESSNUM"].to_numpy().astype(np.int64) - 1
    is_post = (tb["ATPT"] == "POST").to_numpy()
    has_pre = np.zeros((n, K), dtype=bool)
    has_post = np.zeros((n, K), dtype=bool)
    has_pre[subj_code[~is_post], sess[~is_post]] = True
    has_post[subj_code[is_post], sess[is_post]] = True
    paired = has_pre & has_post
    fas = paired.any(axis=1)
    stopped = (course.status == "STOPPED").any(axis=1)
    pp = fas & (nsess == K) & ~stopped
    yn = np.asarray(["N", "Y"], dtype=object)
    dthdt = absolute(course.day1, course.t_death).astype("datetime64[D]")
    ltxdt = absolute(course.day1, course.t_tx).astype("datetime64[D]")
    lstalvdt = absolute(course.day1, course.last_contact).astype("datetime64[D]")
    frame = pd.DataFrame({
        "STUDYID": STUDYID,
        "USUBJID": subject_ids,
        "SUBJID": subjid,
        "SITEID": SITEID,
        "AGE": cohort.age,
        "AGEU": "YEARS",
        "SEX": np.where(cohort.female, "F", "M"),
        "TRT01A": TREATMENT,
        "ETIOL": cohort.etiol,
        "LFTYPE": cohort.lftype,
        "HEGRBL": cohort.hegr,
        "MELDSCR": cohort.meld,
        "RFICDT": cohort.screen_date.astype("datetime64[s]"),
        "ENRLDT": course.enrol_date.astype("datetime64[s]"),
        "TRTSDT": trtsdt.astype("datetime64[s]"),
        "TRTEDT": trtedt.astype("datetime64[s]"),
        "NSESS": nsess.astype(np.int64),
        "ENRLFL": "Y",
        "SAFFL": yn[(nsess > 0).astype(int)],
        "FASFL": yn[fas.astype(int)],
        "PPROTFL": yn[pp.astype(int)],
        "EOSSTT": course.eos,
        "DCSREAS": course.dcsreas,
        "DTHFL": np.where(course.died, "Y", ""),
        "DTHDT": dthdt.astype("datetime64[s]"),
        "LTXFL": np.where(course.transplanted, "Y", ""),
        "LTXDT": ltxdt.astype("datetime64[s]"),
        "LSTALVDT": lstalvdt.astype("datetime64[s]"),
    })
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].astype("str")
    assert list(frame.columns) == list(ADSL.names)
    return frame
