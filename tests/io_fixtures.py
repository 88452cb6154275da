"""A tiny valid study folder written from code, for the io tests.

:func:`valid_frames` gives the five datasets as text frames (CSV cells) that satisfy every
validation rule for every analysis; tests break one cell and check the message.
:func:`write_study` writes them to a folder.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from msc_analysis.io.schema import SCHEMAS

SUBJECTS = ("MSC-01-001", "MSC-01-002", "MSC-01-003")


def _adsl() -> pd.DataFrame:
    rows = []
    for i, subject in enumerate(SUBJECTS, start=1):
        dead = i == 3
        rows.append({
            "STUDYID": "NCT06904755", "USUBJID": subject, "SUBJID": subject[-3:],
            "SITEID": "01", "AGE": str(40 + i), "AGEU": "YEARS", "SEX": "MF"[i % 2],
            "TRT01A": "MSC-ALSS", "ETIOL": "HBV", "LFTYPE": "ACLF", "HEGRBL": "1",
            "MELDSCR": "24.5", "RFICDT": "2025-03-01", "ENRLDT": "2025-03-02",
            "TRTSDT": "2025-03-03", "TRTEDT": "2025-03-07", "NSESS": "2", "ENRLFL": "Y",
            "SAFFL": "Y", "FASFL": "Y", "PPROTFL": "Y",
            "EOSSTT": "DISCONTINUED" if dead else "COMPLETED",
            "DCSREAS": "DEATH" if dead else "", "DTHFL": "Y" if dead else "",
            "DTHDT": "2025-03-20" if dead else "", "LTXFL": "", "LTXDT": "",
            "LSTALVDT": "2025-03-19" if dead else "2025-05-31",
        })
    return pd.DataFrame(rows)


def _adex() -> pd.DataFrame:
    rows = []
    for subject in SUBJECTS:
        for sess, day in ((1, "03"), (2, "07")):
            rows.append({
                "STUDYID": "NCT06904755", "USUBJID": subject, "SESSNUM": str(sess),
                "ASTDTM": f"2025-03-{day}T09:00", "AENDTM": f"2025-03-{day}T15:00",
                "EXDUR": "360", "PLVOL": "6000", "MSCDOSE": "1.5", "ANTICOAG": "CITRATE",
                "SESSSTAT": "COMPLETED", "INTRREAS": "",
            })
    return pd.DataFrame(rows)


_LABS = (  # PARAMCD, PARAM, unit, value
    ("TBIL", "Total Bilirubin (umol/L)", "umol/L", "250"),
    ("INR", "Prothrombin INR", "ratio", "2.1"),
    ("CRP", "C-Reactive Protein (mg/L)", "mg/L", "12.5"),
)


def _adlb() -> pd.DataFrame:
    rows = []
    for subject in SUBJECTS:
        for code, param, unit, value in _LABS:
            for atpt, hour in (("PRE", "08:30"), ("POST", "15:30")):
                rows.append({
                    "STUDYID": "NCT06904755", "USUBJID": subject, "PARAMCD": code,
                    "PARAM": param, "AVAL": value, "AVALU": unit, "LBORRES": value,
                    "LBORRESU": unit, "ADTM": f"2025-03-03T{hour}", "ADT": "2025-03-03",
                    "ADY": "1", "AVISIT": "Session 1", "AVISITN": "101", "ATPT": atpt,
                    "SESSNUM": "1", "ANRLO": "", "ANRHI": "", "LLOQ": "", "BLQFL": "",
                })
    return pd.DataFrame(rows)


def _adae() -> pd.DataFrame:
    rows = []
    for seq, subject in enumerate(SUBJECTS[:2], start=1):
        rows.append({
            "STUDYID": "NCT06904755", "USUBJID": subject, "AESEQ": str(seq),
            "AETERM": "Fever", "AEDECOD": "Pyrexia",
            "AEBODSYS": "General disorders and administration site conditions",
            "ASTDT": "2025-03-04", "AENDT": "2025-03-05", "ATOXGR": "1", "AESER": "N",
            "AESDTH": "N", "AESLIFE": "N", "AESHOSP": "N", "AESDISAB": "N", "AESCONG": "N",
            "AESMIE": "N", "AERELDEV": "POSSIBLY RELATED", "AERELMSC": "UNLIKELY RELATED",
            "AERELPRC": "POSSIBLY RELATED", "AEACN": "NONE", "AEOUT": "RECOVERED/RESOLVED",
            "SESSNUM": "1", "TRTEMFL": "Y",
        })
    return pd.DataFrame(rows)


def _advs() -> pd.DataFrame:
    rows = []
    for subject in SUBJECTS:
        for atpt, hour, temp in (("PRE", "08:45", "36.8"), ("POST", "15:15", "37.1")):
            rows.append({
                "STUDYID": "NCT06904755", "USUBJID": subject, "PARAMCD": "TEMP",
                "PARAM": "Temperature (C)", "AVAL": temp, "AVALU": "C",
                "ADTM": f"2025-03-03T{hour}", "AVISIT": "Session 1", "AVISITN": "101",
                "ATPT": atpt, "SESSNUM": "1",
            })
    return pd.DataFrame(rows)


def valid_frames() -> dict[str, pd.DataFrame]:
    """The five datasets of a tiny valid study, as text cells, columns in schema order."""
    frames = {"adsl": _adsl(), "adex": _adex(), "adlb": _adlb(), "adae": _adae(),
              "advs": _advs()}
    for name, frame in frames.items():
        declared = SCHEMAS[name.upper()].names
        assert list(frame.columns) == list(declared), name
    return frames


def write_study(
    folder: Path, frames: dict[str, pd.DataFrame] | None = None, suffix: str = ".csv"
) -> Path:
    """Write ``frames`` (default :func:`valid_frames`) as CSV files into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in (frames or valid_frames()).items():
        frame.to_csv(folder / f"{name}{suffix}", index=False, lineterminator="\n")
    return folder
