"""Listing cells (:func:`msc_analysis.render.safety_tables.listing_table`): every value shown as
it is, one body row per record, the subject as the row label.

The texts are worked out by hand from the display rules of the listings: whole numbers without
decimals, other numbers to 15 significant digits (``format(x, ".15g")``: every digit of a
decimal value read into a double, without arithmetic noise), a date at midnight as
``YYYY-MM-DD``, a date with a time as ``YYYY-MM-DDTHH:MM``, missing values blank (never
``nan`` / ``NaT``). The cells are formatted once per distinct value, so repeated values (and
``-0.0`` beside ``0.0``) are checked on every row. The relationship text of the AE listings
reads ``missing`` for a missing relationship (the records, and the display).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import safety_fixtures as fx
from msc_analysis.analyses.safety_listings import listing_serious_aes
from msc_analysis.render.safety_tables import listing_table


def test_listing_cells_row_by_row() -> None:
    frame = pd.DataFrame({
        "USUBJID": pd.Series(["S-1", "S-2", "S-1", None, "S-2"], dtype="str"),
        "AVAL": [3.0, 2.5, 3.0, np.nan, -0.0],
        "ADTM": pd.to_datetime(["2025-03-03T08:30", "2025-03-04", None, "2025-03-03T08:30",
                                "2025-03-04"], format="ISO8601").astype("datetime64[ns]"),
        "DTHDY": np.array([4, 12, 4, 4, 1], dtype="int64"),
        "XNOTE": pd.Series(["a", None, "", "b c", "a"], dtype="str"),
    })
    table = listing_table(frame, "16.2.7.2", "Deaths")
    # the subject is the row label; AVAL "Value", ADTM "Date/time", DTHDY "Study\nday"; a
    # variable the label map does not know is headed by its name
    assert table.stub_header == "Subject"
    assert [c.header for c in table.columns] == ["Value", "Date/time", "Study\nday", "XNOTE"]
    assert [r.label for r in table.rows] == ["S-1", "S-2", "S-1", "", "S-2"]
    got = [[r.text(c.key) for c in table.columns] for r in table.rows]
    assert got == [
        ["3", "2025-03-03T08:30", "4", "a"],
        ["2.5", "2025-03-04", "12", ""],
        ["3", "", "4", ""],
        ["", "2025-03-03T08:30", "4", "b c"],
        ["0", "2025-03-04", "1", "a"],
    ]
    assert all(r.group == "" for r in table.rows)  # no group column named
    assert table.kind == "Listing"
    # the column's note (Study day) follows the SAP's footnotes (none here)
    assert table.footnotes == ("Study day: day of death relative to the first session (day 1 "
                               "= the day of the first session).",)
    assert table.data.empty and table.records is frame


def test_numbers_to_15_significant_digits() -> None:
    # 99.18 (mg/dL) converted to umol/L and back holds 99.17999999999999: shown 99.18; 1/3 to
    # 15 digits; 1e16 is whole (no decimals); the CSV keeps the doubles (test_render_listings)
    frame = pd.DataFrame({"USUBJID": ["S-1"] * 5,
                          "AVAL": [99.17999999999999, 1 / 3, 1e-20, 1e16, float("inf")]})
    table = listing_table(frame, "16.2.8.1", "Lab")
    assert [r.text("c0") for r in table.rows] == ["99.18", "0.333333333333333", "1e-20",
                                                  "10000000000000000", "inf"]


def test_empty_listing_says_no_records() -> None:
    frame = pd.DataFrame({"USUBJID": pd.Series([], dtype="str"),
                          "AVAL": pd.Series([], dtype=float)})
    table = listing_table(frame, "16.2.7.1", "Serious Adverse Events", footnotes=("Note.",))
    assert table.rows == ()
    assert table.footnotes == ("No records.", "Note.")
    assert [c.header for c in table.columns] == ["Value"]


def test_missing_relationship_reads_missing() -> None:
    # The fixture's serious AEs are S02 (pyrexia; MSC "PROBABLY RELATED") and S07 (sepsis, not
    # related); S02's device relationship is made missing (NaN in a text column).
    ae = fx.adae()
    ae["AERELDEV"] = pd.Series(ae["AERELDEV"].tolist(), dtype="str")
    ae.loc[ae["USUBJID"] == "S02", "AERELDEV"] = np.nan
    listing = listing_serious_aes(fx.study(adae=ae), fx.sap())
    assert listing["USUBJID"].tolist() == ["S02", "S07"]
    assert listing["RELATION"].tolist() == [
        "AERELDEV: missing; AERELMSC: PROBABLY RELATED; AERELPRC: NOT RELATED",
        "AERELDEV: NOT RELATED; AERELMSC: NOT RELATED; AERELPRC: NOT RELATED",
    ]
    table = listing_table(listing, "16.2.7.1", "Serious Adverse Events", group="Group")
    rel = next(c.key for c in table.columns if c.header == "Relationship")
    assert [r.text(rel) for r in table.rows] == [
        "Device: missing\nMSCs: PROBABLY RELATED\nProcedure: NOT RELATED",
        "Device: NOT RELATED\nMSCs: NOT RELATED\nProcedure: NOT RELATED",
    ]
    assert "nan" not in " ".join(r.text(c.key) for r in table.rows for c in table.columns)
