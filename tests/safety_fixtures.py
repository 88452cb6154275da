"""A small study written out by hand for the safety tests.

Ten Safety Set subjects (S01-S10; arm A = S01-S05, arm B = S06-S10) and one subject outside the
Safety Set (S11). First session 2025-01-10, last 2025-01-14, three sessions each. The adverse
events are chosen so that every count of the AE tables can be worked out by hand (see the
comments and tests/test_safety_ae.py).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from msc_analysis.sap import load_sap

REPO = Path(__file__).resolve().parents[1]
SUBJECTS = [f"S{i:02d}" for i in range(1, 12)]
NR = "NOT RELATED"


def sap():  # type: ignore[no-untyped-def]
    """The project's SAP settings (TEAE window 28 days)."""
    return replace(load_sap(REPO / "sap" / "sap.toml"), teae_window_days=28)


def adsl() -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": SUBJECTS,
        "SAFFL": ["Y"] * 10 + ["N"],
        "TRT01A": ["ARM A"] * 5 + ["ARM B"] * 5 + ["ARM A"],
        "TRT01AN": [1.0] * 5 + [2.0] * 5 + [1.0],
        "TRTSDT": pd.to_datetime(["2025-01-10"] * 11),
        "TRTEDT": pd.to_datetime(["2025-01-14"] * 11),
        "DTHFL": [""] * 6 + ["Y"] + [""] * 4,
        "DTHDT": pd.to_datetime([None] * 6 + ["2025-01-22"] + [None] * 4),
    })


def _ae(subj: str, seq: int, pt: str, soc: str, onset: str | None, grade: str, *,
        dev: str = NR, msc: str = NR, prc: str = NR, ser: str = "N", hosp: str = "N",
        dth: str = "N", acn: str = "NONE", out: str = "RECOVERED/RESOLVED") -> dict:
    return {"USUBJID": subj, "AESEQ": float(seq), "AETERM": pt.lower(), "AEDECOD": pt,
            "AEBODSYS": soc, "ASTDT": pd.Timestamp(onset) if onset else pd.NaT,
            "AENDT": pd.NaT, "ATOXGR": grade, "AESER": ser, "AESHOSP": hosp, "AESDTH": dth,
            "AESLIFE": "N", "AERELDEV": dev, "AERELMSC": msc, "AERELPRC": prc, "AEACN": acn,
            "AEOUT": out}


VASC, GEN = "Vascular disorders", "General disorders and administration site conditions"
SKIN, INF = "Skin and subcutaneous tissue disorders", "Infections and infestations"
GI = "Gastrointestinal disorders"


def adae() -> pd.DataFrame:
    rows = [
        # S01: hypotension twice (grade 2 then 3) and pyrexia; AE1 device-related, AE2
        # procedure-related
        _ae("S01", 1, "Hypotension", VASC, "2025-01-10", "2", dev="POSSIBLY RELATED"),
        _ae("S01", 2, "Hypotension", VASC, "2025-01-12", "3", msc="UNLIKELY RELATED",
            prc="PROBABLY RELATED"),
        _ae("S01", 3, "Pyrexia", GEN, "2025-01-11", "1"),
        # S02: serious pyrexia (hospitalisation), MSC-related, session stopped
        _ae("S02", 1, "Pyrexia", GEN, "2025-01-13", "2", msc="PROBABLY RELATED", ser="Y",
            hosp="Y", acn="SESSION STOPPED"),
        # S03: urticaria without a grade, procedure-related
        _ae("S03", 1, "Urticaria", SKIN, "2025-01-11", "", prc="DEFINITELY RELATED"),
        # S04: hypotension without an onset date (conservatively treatment-emergent), MSC
        # relationship missing (conservatively related)
        _ae("S04", 1, "Hypotension", VASC, None, "1", msc=""),
        # S05: before the first session -> not treatment-emergent
        _ae("S05", 1, "Nausea", GI, "2025-01-05", "1"),
        # S06: 29 days after the last session -> beyond the 28-day window
        _ae("S06", 1, "Nausea", GI, "2025-02-12", "1"),
        # S07: fatal sepsis, serious (death), not related
        _ae("S07", 1, "Sepsis", INF, "2025-01-20", "5", ser="Y", dth="Y", out="FATAL"),
        # S11: outside the Safety Set
        _ae("S11", 1, "Pyrexia", GEN, "2025-01-11", "1"),
    ]
    frame = pd.DataFrame(rows)
    frame["_file"] = "adae.csv"
    frame["_row"] = np.arange(1, len(frame) + 1)
    return frame


def adex() -> pd.DataFrame:
    rows = []
    for subj in SUBJECTS:
        for k, day in ((1, "10"), (2, "12"), (3, "14")):
            rows.append({"USUBJID": subj, "SESSNUM": float(k),
                         "ASTDTM": pd.Timestamp(f"2025-01-{day}T09:00"),
                         "AENDTM": pd.Timestamp(f"2025-01-{day}T13:00"), "EXDUR": 240.0,
                         "PLVOL": 6000.0, "MSCDOSE": 1.0, "ANTICOAG": "CITRATE",
                         "SESSSTAT": "COMPLETED", "INTRREAS": ""})
    return pd.DataFrame(rows)


def study(**overrides: object) -> SimpleNamespace:
    """The datasets as a loaded study would hold them (no ADLB / ADVS unless given)."""
    parts = {"adsl": adsl(), "adae": adae(), "adex": adex(), "adlb": None, "advs": None}
    parts.update(overrides)
    return SimpleNamespace(**parts)
