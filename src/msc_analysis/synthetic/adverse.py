"""ADAE of the synthetic trial: finalise the course's adverse events.

Adds to each event drawn by :mod:`msc_analysis.synthetic.course` its session of onset, dates,
seriousness and criteria, relationships, outcome and treatment-emergence flag:

* seriousness: grade >= the term's ``serious_grade`` (default 3); grade 5 -> results in death,
  grade 4 -> life threatening, grade 3 -> requires or prolongs hospitalisation (21 CFR 312.32
  criteria, brief section 6);
* deaths: grade 5 under the causal term, outcome FATAL, end date = date of death (brief 7.4);
* outcome: resolved when the event ends before the subject's last contact, else not resolved
  (no end date);
* SESSNUM: the last session started at or before onset (blank before the first session);
* TRTEMFL: ``Y`` from the first session date up to ``teae_window_days`` after the last session
  date, else ``N``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from msc_analysis.io.schema import ADAE, RELATIONSHIP
from msc_analysis.synthetic.catalogue import AE_CATALOGUE
from msc_analysis.synthetic.course import DAY, Course, absolute
from msc_analysis.synthetic.population import STUDYID
from msc_analysis.synthetic.settings import SimulationSettings

#: Relationship levels (device, MSC, procedure) of events outside the catalogue.
_OTHER_RELATION = {"fatal": (0, 0, 1), "transplant": (0, 0, 1)}


def annotate_events(course: Course) -> None:
    """Add ``timing`` and ``sessnum_idx`` (0-based session of onset, -1 none) to events."""
    ev = course.events
    if ev.empty:
        ev["timing"] = pd.Series(dtype=object)
        ev["sessnum_idx"] = pd.Series(dtype=np.int64)
        return
    keys = ev["key"].to_numpy()
    ev["timing"] = np.asarray([AE_CATALOGUE[k].timing if k in AE_CATALOGUE else "course"
                               for k in keys], dtype=object)
    subj = ev["subj"].to_numpy()
    starts = np.where(course.done, course.start, np.inf)[subj]
    started = (starts <= ev["onset"].to_numpy()[:, None]).sum(axis=1)
    ev["sessnum_idx"] = started - 1


def build_adae(settings: SimulationSettings, course: Course, rng: np.random.Generator,
               subject_ids: list[str]) -> pd.DataFrame:
    """ADAE from the annotated events (after labs re-graded the lab-driven ones).

    Parameters
    ----------
    settings : SimulationSettings
        Settings (``teae_window_days``).
    course : Course
        Timelines with annotated events.
    rng : numpy.random.Generator
        Random generator (consumed).
    subject_ids : list of str
        USUBJID per subject.

    Returns
    -------
    pandas.DataFrame
        ADAE in schema order, sorted by USUBJID and AESEQ.
    """
    ev = course.events.copy()
    m = len(ev)
    subj = ev["subj"].to_numpy().astype(np.int64)
    onset = ev["onset"].to_numpy()
    keys = ev["key"].to_numpy()
    grade = ev["grade"].to_numpy().astype(np.int64)
    order = np.lexsort((ev["aedecod"].to_numpy().astype(str), onset, subj))
    ev, subj, onset, keys, grade = ev.iloc[order], subj[order], onset[order], keys[order], \
        grade[order]
    start_dt = absolute(course.day1[subj], onset)
    astdt = start_dt.astype("datetime64[D]")

    dur_lo = np.asarray([AE_CATALOGUE[k].duration[0] if k in AE_CATALOGUE else 0 for k in keys])
    dur_hi = np.asarray([AE_CATALOGUE[k].duration[1] if k in AE_CATALOGUE else 0 for k in keys])
    dur = rng.integers(dur_lo, dur_hi + 1) if m else np.zeros(0, dtype=np.int64)
    end_min = onset + dur * DAY
    fatal = keys == "fatal"
    txhf = keys == "transplant"
    end_min = np.where(fatal, course.t_death[subj], end_min)
    end_min = np.where(txhf, course.t_tx[subj], end_min)
    # an event ends on its start date at the earliest, and not after the last contact
    ongoing = ~fatal & (end_min > course.last_contact[subj])
    aendt = absolute(course.day1[subj], np.where(ongoing, np.nan, end_min)).astype(
        "datetime64[D]")
    aendt = np.where(np.isnat(aendt) | (aendt >= astdt), aendt, astdt)
    outcome = np.where(fatal, "FATAL", np.where(ongoing, "NOT RECOVERED/NOT RESOLVED",
                                                "RECOVERED/RESOLVED")).astype(object)

    serious_grade = np.asarray([AE_CATALOGUE[k].serious_grade if k in AE_CATALOGUE else 4
                                for k in keys])
    serious = grade >= serious_grade
    yn = np.asarray(["N", "Y"], dtype=object)
    aesdth = yn[(serious & (grade == 5)).astype(int)]
    aeslife = yn[(serious & (grade == 4)).astype(int)]
    aeshosp = yn[(serious & (grade == 3)).astype(int)]

    rel_base = np.asarray([AE_CATALOGUE[k].relation if k in AE_CATALOGUE
                           else _OTHER_RELATION[k] for k in keys], dtype=np.int64).reshape(m, 3)
    shift = rng.choice([-1, 0, 1], size=(m, 3), p=[0.25, 0.5, 0.25])
    rel = np.clip(rel_base + shift, 0, 4)
    rel = np.where(rel_base == 0, np.minimum(rel, 1), rel)  # "not related" stays not/unlikely
    rel_txt = np.asarray(RELATIONSHIP, dtype=object)[rel]

    trtsdt, trtedt = treatment_dates(course)
    first, last = trtsdt[subj], trtedt[subj]
    window = np.timedelta64(settings.teae_window_days, "D")
    te = ~np.isnat(first) & (astdt >= first) & (astdt <= last + window)
    sess = ev["sessnum_idx"].to_numpy()
    seq = _sequence(subj)
    frame = pd.DataFrame({
        "STUDYID": STUDYID,
        "USUBJID": np.asarray(subject_ids, dtype=object)[subj],
        "AESEQ": seq,
        "AETERM": ev["aeterm"].to_numpy(),
        "AEDECOD": ev["aedecod"].to_numpy(),
        "AEBODSYS": ev["aebodsys"].to_numpy(),
        "ASTDT": astdt.astype("datetime64[s]"),
        "AENDT": aendt.astype("datetime64[s]"),
        "ATOXGR": grade.astype(str),
        "AESER": yn[serious.astype(int)],
        "AESDTH": aesdth,
        "AESLIFE": aeslife,
        "AESHOSP": aeshosp,
        "AESDISAB": "N",
        "AESCONG": "N",
        "AESMIE": "N",
        "AERELDEV": rel_txt[:, 0],
        "AERELMSC": rel_txt[:, 1],
        "AERELPRC": rel_txt[:, 2],
        "AEACN": ev["action"].to_numpy(),
        "AEOUT": outcome,
        "SESSNUM": np.where(sess >= 0, sess + 1, np.nan),
        "TRTEMFL": np.where(te, "Y", "N"),
    })
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].astype("str")
    assert list(frame.columns) == list(ADAE.names)
    return frame.reset_index(drop=True)


def treatment_dates(course: Course) -> tuple[NDArray[np.datetime64], NDArray[np.datetime64]]:
    """Dates of the first and last session started (NaT without sessions)."""
    has = course.done.any(axis=1)
    first = np.where(has, np.min(np.where(course.done, course.start, np.inf), axis=1), np.nan)
    last = np.where(has, np.max(np.where(course.done, course.start, -np.inf), axis=1), np.nan)
    return (absolute(course.day1, first).astype("datetime64[D]"),
            absolute(course.day1, last).astype("datetime64[D]"))


def _sequence(subj: NDArray[np.int64]) -> NDArray[np.int64]:
    """1, 2, ... within runs of equal (sorted) subject indices."""
    if not len(subj):
        return np.zeros(0, dtype=np.int64)
    new = np.r_[True, subj[1:] != subj[:-1]]
    starts = np.flatnonzero(new)
    counts = np.diff(np.r_[starts, len(subj)])
    return np.arange(len(subj)) - np.repeat(starts, counts) + 1
