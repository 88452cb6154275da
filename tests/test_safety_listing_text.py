"""Listing cells (:func:`msc_analysis.render.safety_tables.listing_table`): every value shown as
it is, one body row per record.

The texts are worked out by hand from the display rules of the listings: whole numbers without
decimals, other numbers in full (``repr``), a date at midnight as ``YYYY-MM-DD``, a date with a
time as ``YYYY-MM-DDTHH:MM``, missing values blank. The cells are formatted once per distinct
value, so repeated values (and ``-0.0`` beside ``0.0``) are checked on every row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_analysis.render.safety_tables import listing_table


def test_listing_cells_row_by_row() -> None:
    frame = pd.DataFrame({
        "USUBJID": pd.Series(["S-1", "S-2", "S-1", None, "S-2"], dtype="str"),
        "AVAL": [3.0, 2.5, 3.0, np.nan, -0.0],
        "ADTM": pd.to_datetime(["2025-03-03T08:30", "2025-03-04", None, "2025-03-03T08:30",
                                "2025-03-04"], format="ISO8601").astype("datetime64[ns]"),
        "DTHDY": np.array([4, 12, 4, 4, 1], dtype="int64"),
    })
    table = listing_table(frame, "16.2.7.2", "Deaths")
    assert [c.header for c in table.columns] == ["USUBJID", "AVAL", "ADTM", "DTHDY"]
    assert [r.label for r in table.rows] == ["1", "2", "3", "4", "5"]
    got = [[r.text(c.key) for c in table.columns] for r in table.rows]
    assert got == [
        ["S-1", "3", "2025-03-03T08:30", "4"],
        ["S-2", "2.5", "2025-03-04", "12"],
        ["S-1", "3", "", "4"],
        ["", "", "2025-03-03T08:30", "4"],
        ["S-2", "0", "2025-03-04", "1"],
    ]
    assert table.kind == "Listing" and table.stub_header == "No."
    assert table.footnotes == ()


def test_empty_listing_says_no_records() -> None:
    frame = pd.DataFrame({"USUBJID": pd.Series([], dtype="str"),
                          "AVAL": pd.Series([], dtype=float)})
    table = listing_table(frame, "16.2.7.1", "Serious Adverse Events", footnotes=("Note.",))
    assert table.rows == ()
    assert table.footnotes == ("No records.", "Note.")
