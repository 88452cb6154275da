"""The report's derived-dataset CSV writer and the hepatic-safety figure's peak table.

The expected texts and numbers are written out by hand from the inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from msc_analysis.report.figures_step import _peak_multiples
from msc_analysis.report.writing import write_dataset


def test_dataset_csv_text(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "AVAL": [1.0, np.nan, 0.1 + 0.2, 21.0],
        "TEXT": ["x", "", "=1", 'say "a,b"'],
        "ADT": pd.to_datetime(["2024-01-01", None, "2024-01-03", "2024-01-04"]),
        "ADTM": pd.to_datetime(["2024-01-01T10:05", None, "2024-01-03T00:00",
                                "2024-01-04T23:59"]),
        "N": [1, 2, 3, 4],
        "_row": [2, 3, 4, 5],
    })
    path = tmp_path / "d.csv"
    write_dataset(frame, path)
    assert path.read_text().splitlines() == [
        '"AVAL","TEXT","ADT","ADTM","N"',  # _row/_file (load bookkeeping) are not written
        '1,"x","2024-01-01","2024-01-01T10:05",1',
        ',"",,,2',
        # the shortest text that reads back to the same double (not 0.3); a text a
        # spreadsheet would run as a formula is neutralised (csv_cells)
        '0.30000000000000004,"\'=1","2024-01-03","2024-01-03T00:00",3',
        '21,"say ""a,b""","2024-01-04","2024-01-04T23:59",4',
    ]


def test_dataset_csv_round_trip_in_chunks(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=1001) * 1e3, "s": [f"s{i}" for i in range(1001)]})
    path = tmp_path / "d.csv"
    write_dataset(frame, path, chunk_rows=100)  # 11 chunks, one header
    back = pd.read_csv(path)
    assert back["x"].to_numpy().tobytes() == frame["x"].to_numpy().tobytes()  # bit for bit
    assert back["s"].tolist() == frame["s"].tolist()


def test_dataset_csv_mixed_object_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"o": pd.Series([1, "a", None, 2.5], dtype=object)})
    write_dataset(frame, tmp_path / "d.csv")
    assert (tmp_path / "d.csv").read_text().splitlines() == ['"o"', '"1"', '"a"', "", '"2.5"']


def test_peak_multiples_by_hand() -> None:
    post = pd.DataFrame({
        "USUBJID": ["B", "B", "B", "A", "A", "A", "C"],
        "PARAMCD": ["ALT", "ALT", "TBIL", "ALT", "TBIL", "TBIL", "TBIL"],
        "AVAL": [80.0, 120.0, 300.0, 60.0, 200.0, 200.0, 50.0],
        "ANRHI": [40.0, 40.0, np.nan, np.nan, 21.0, 20.0, 21.0],
        "BASE": [40.0, 40.0, 150.0, 0.0, 100.0, 100.0, np.nan],
    })
    got = _peak_multiples(post, {"ALT": 50.0, "TBIL": 17.1}).set_index("USUBJID")
    assert list(got.index) == ["A", "B", "C"]
    # A: ALT 60 with no ANRHI -> SAP ULN 50 -> 1.2; zero baseline -> no baseline multiple.
    # TBIL ties at 200: the first record (ANRHI 21) is the peak -> 200/21; 200/100 = 2.
    assert got.loc["A", "ALT_ULN"] == pytest.approx(1.2)
    assert np.isnan(got.loc["A", "ALT_BASE"])
    assert got.loc["A", "TBIL_ULN"] == pytest.approx(200 / 21)
    assert got.loc["A", "TBIL_BASE"] == pytest.approx(2.0)
    # B: ALT peak 120 / 40 = 3, 120 / 40 = 3; TBIL 300 / 17.1 (no ANRHI), 300 / 150 = 2.
    assert got.loc["B", "ALT_ULN"] == pytest.approx(3.0)
    assert got.loc["B", "ALT_BASE"] == pytest.approx(3.0)
    assert got.loc["B", "TBIL_ULN"] == pytest.approx(300 / 17.1)
    # C: no ALT; TBIL 50 / 21 with a missing baseline.
    assert np.isnan(got.loc["C", "ALT_ULN"]) and np.isnan(got.loc["C", "ALT_BASE"])
    assert got.loc["C", "TBIL_ULN"] == pytest.approx(50 / 21)
    assert np.isnan(got.loc["C", "TBIL_BASE"])
