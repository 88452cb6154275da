"""Shared test fixtures and paths."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def small_adsl() -> pd.DataFrame:
    """Five subjects with population flags and end-of-study status, counted by hand in tests."""
    return _small_adsl()


def _small_adsl() -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": [f"S{i}" for i in range(1, 6)],
        "AGE": [30, 45, 52, 61, 38],
        "SEX": ["M", "F", "M", "M", "F"],
        "ETIOL": ["HBV", "HBV", "ALCOHOL", "HBV", "DRUG-INDUCED"],
        "ENRLFL": ["Y"] * 5,
        "SAFFL": ["Y", "Y", "Y", "Y", "N"],
        "FASFL": ["Y", "Y", "N", "Y", "N"],
        "PPROTFL": ["Y", "N", "N", "Y", "N"],
        "EOSSTT": ["COMPLETED", "DISCONTINUED", "DISCONTINUED", "ONGOING", "DISCONTINUED"],
        "DCSREAS": ["", "DEATH", "LIVER TRANSPLANT", "", "WITHDRAWAL BY SUBJECT"],
        "DTHFL": ["", "Y", "", "", ""],
        "LTXFL": ["", "", "Y", "", ""],
    })


