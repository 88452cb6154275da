"""Visit windows: assignment at window edges, one value per window (closest to target, earlier
on ties), and the reasons for a missing visit value. Expected values worked out by hand."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from msc_analysis.derive.visits import (
    REASON_AFTER_TRANSPLANT,
    REASON_DEATH,
    REASON_NO_VALUE,
    REASON_NOT_CHOSEN,
    REASON_OUTSIDE,
    REASON_TRANSPLANT,
    assign_visit_windows,
    drop_after_transplant,
    missing_reason,
    study_day,
)


@dataclass(frozen=True)
class V:
    name: str
    avisitn: float
    target_day: int
    window_low: int
    window_high: int


VISITS = (V("Day 7", 7, 7, 5, 10), V("Day 14", 14, 14, 11, 20), V("Day 28", 28, 28, 21, 35))
START = pd.DataFrame({"USUBJID": ["S1"], "TRTSDT": pd.to_datetime(["2024-01-01"])})


def _lb(days: list[int], values: list[float], atpt: list[str] | None = None) -> pd.DataFrame:
    adt = [pd.Timestamp("2024-01-01") + pd.Timedelta(days=d - 1) for d in days]
    return pd.DataFrame({"USUBJID": "S1", "PARAMCD": "TBIL", "AVAL": values,
                         "ADT": pd.to_datetime(adt), "ADTM": pd.to_datetime(adt),
                         "ATPT": atpt or [""] * len(days)})


def test_study_day_has_no_day_zero() -> None:
    dates = pd.Series(pd.to_datetime(["2023-12-31", "2024-01-01", "2024-01-07"]))
    first = pd.Series(pd.to_datetime(["2024-01-01"] * 3))
    assert study_day(dates, first).tolist() == [-1.0, 1.0, 7.0]


def test_window_edges_are_inclusive() -> None:
    # days 4 (outside), 5 (low edge Day 7), 10 (high edge Day 7), 11 (low edge Day 14),
    # 35 (high edge Day 28), 36 (outside)
    out = assign_visit_windows(_lb([4, 5, 10, 11, 35, 36], [1, 2, 3, 4, 5, 6]), VISITS, START)
    assert out["AVISIT"].tolist() == ["", "Day 7", "Day 7", "Day 14", "Day 28", ""]
    assert out["WINREAS"].iloc[0] == REASON_OUTSIDE and out["WINREAS"].iloc[5] == REASON_OUTSIDE
    # Day 7 window holds days 5 (|5-7| = 2) and 10 (|10-7| = 3): day 5 is analysed
    assert out["ANL01FL"].tolist() == ["", "Y", "", "Y", "Y", ""]
    assert out["WINREAS"].iloc[2] == REASON_NOT_CHOSEN


def test_tie_in_distance_takes_the_earlier_sample() -> None:
    # target 14: days 12 and 16 are both 2 days away -> day 12; session samples are ignored
    out = assign_visit_windows(_lb([16, 12, 14], [9.0, 8.0, 1.0], ["", "", "PRE"]),
                               VISITS, START)
    assert len(out) == 2
    chosen = out.loc[out["ANL01FL"] == "Y"]
    assert chosen["AVAL"].tolist() == [8.0] and chosen["ADY"].tolist() == [12.0]


def test_ady_in_data_is_used_when_present() -> None:
    lb = _lb([3], [1.0]).assign(ADY=[7])
    out = assign_visit_windows(lb, VISITS, START)
    assert out["AVISIT"].tolist() == ["Day 7"]


def test_overlapping_windows_go_to_the_closest_target_then_the_earlier_visit() -> None:
    visits = (V("A", 1, 10, 5, 20), V("B", 2, 20, 10, 30))
    out = assign_visit_windows(_lb([14, 15, 16], [1.0, 2.0, 3.0]), visits, START)
    # day 14: |14-10| = 4 < 6 -> A; day 15: 5 = 5 tie -> earlier visit A; day 16 -> B
    assert out["AVISIT"].tolist() == ["A", "A", "B"]


def test_transplant_and_death_reasons() -> None:
    adsl = pd.DataFrame({"USUBJID": ["S1", "S2", "S3"],
                         "DTHDT": pd.to_datetime([pd.NaT, "2024-01-12", pd.NaT]),
                         "LTXDT": pd.to_datetime(["2024-01-09", pd.NaT, pd.NaT])})
    start = pd.DataFrame({"USUBJID": ["S1", "S2", "S3"],
                          "TRTSDT": pd.to_datetime(["2024-01-01"] * 3)})
    day7, day14 = VISITS[0], VISITS[1]
    # S1 transplant on day 9: within Day 7 window end (day 10)
    assert missing_reason(adsl, "S1", day7, start) == REASON_TRANSPLANT
    # S2 died on day 12: after Day 7 window (ends day 10), within Day 14 window
    assert missing_reason(adsl, "S2", day7, start) == REASON_NO_VALUE
    assert missing_reason(adsl, "S2", day14, start) == REASON_DEATH
    assert missing_reason(adsl, "S3", day14, start) == REASON_NO_VALUE
    lb = pd.DataFrame({"USUBJID": ["S1", "S1", "S2"], "PARAMCD": "TBIL", "AVAL": [1.0, 2.0, 3.0],
                       "ADT": pd.to_datetime(["2024-01-09", "2024-01-10", "2024-01-20"])})
    kept, dropped = drop_after_transplant(lb, adsl)
    assert kept["AVAL"].tolist() == [1.0, 3.0]
    assert dropped["AVAL"].tolist() == [2.0]
    assert dropped["REASON"].tolist() == [REASON_AFTER_TRANSPLANT]


def test_missing_reasons_at_many_subjects_by_hand() -> None:
    # First session 2024-01-01 for all but S6; Day 7 window ends on day 10 = 2024-01-10.
    from msc_analysis.derive.visits import missing_reason_at, missing_reasons_at

    first = pd.to_datetime(["2024-01-01"] * 5 + [None])
    death = pd.to_datetime([None, "2024-01-10", "2024-01-09", "2024-01-05", "2024-01-11",
                            "2024-01-02"])
    transplant = pd.to_datetime([None, None, "2024-01-09", "2024-01-08", None, None])
    expected = [
        REASON_NO_VALUE,    # S1: no event
        REASON_DEATH,       # S2: death on the last day of the window (day 10)
        REASON_TRANSPLANT,  # S3: transplant and death the same day: the transplant
        REASON_DEATH,       # S4: death (day 5) before the transplant (day 8)
        REASON_NO_VALUE,    # S5: death after the window
        REASON_NO_VALUE,    # S6: no first session
    ]
    day7 = VISITS[0]
    got = missing_reasons_at(day7, pd.Series(first), pd.Series(death), pd.Series(transplant))
    assert got.tolist() == expected
    assert [missing_reason_at(day7, f, d, t)
            for f, d, t in zip(first, death, transplant, strict=True)] == expected
