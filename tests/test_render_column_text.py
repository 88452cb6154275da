"""Column texts computed once per distinct value, and ISO 8601 dates (hand-written expected
texts)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_analysis.render.column_text import iso_texts, texts_per_distinct


def test_iso_texts_one_precision_per_column() -> None:
    dates = pd.Series(pd.to_datetime(["2024-01-01", None, "2024-01-03"]))
    assert iso_texts(dates) == ["2024-01-01", "", "2024-01-03"]
    minutes = pd.Series(pd.to_datetime(["2024-01-01T10:05", "2024-01-03T00:00"]))
    assert iso_texts(minutes) == ["2024-01-01T10:05", "2024-01-03T00:00"]
    seconds = pd.Series(pd.to_datetime(["2024-01-01T10:05:07", "2024-01-03T00:00:00"]))
    assert iso_texts(seconds) == ["2024-01-01T10:05:07", "2024-01-03T00:00:00"]


def test_texts_per_distinct_formats_each_distinct_value_once() -> None:
    calls: list[object] = []

    def fmt(v: object) -> str:
        calls.append(v)
        return repr(v)

    values = pd.Series([1.5, -0.0, 1.5, 0.0, np.nan, 1.5])
    assert texts_per_distinct(values, fmt) == ["1.5", "-0.0", "1.5", "0.0", "nan", "1.5"]
    assert len(calls) == 4  # 1.5, -0.0, 0.0 and NaN: -0.0 and 0.0 kept apart
    calls.clear()
    text = pd.Series(["a", "b", "a", "a"], dtype="str")
    assert texts_per_distinct(text, fmt) == ["'a'", "'b'", "'a'", "'a'"]
    assert len(calls) == 2


def test_texts_per_distinct_object_columns_value_by_value() -> None:
    # 1, 1.0 and True are equal as keys; in an object column each keeps its own text
    values = pd.Series([1, 1.0, True], dtype=object)
    assert texts_per_distinct(values, str) == ["1", "1.0", "True"]
