"""Text of whole columns: each distinct value formatted once, and ISO 8601 dates.

Listings, listing CSVs and the derived datasets turn every value of large columns into text.
Formatting each distinct value once and spreading the texts back by position gives the same
texts as formatting value by value, at a fraction of the cost when values repeat.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["iso_texts", "texts_per_distinct"]


def iso_texts(values: pd.Series) -> list[str]:
    """ISO 8601 text of each value of a datetime column; missing is empty.

    ``YYYY-MM-DD`` when every value falls at midnight, else ``YYYY-MM-DDTHH:MM``, with seconds
    (or fractions of them) when any value has them: the whole column at one precision, none
    lost.
    """
    stamps = values.to_numpy(dtype="datetime64[ns]")
    missing = np.isnat(stamps)
    known = stamps[~missing]
    unit = "D"
    for finer in ("m", "s", "us", "ns"):
        if (known != known.astype(f"datetime64[{unit}]")).any():
            unit = finer
        else:
            break
    text = np.datetime_as_string(stamps, unit=unit).astype(object)
    text[missing] = ""
    return text.tolist()


def texts_per_distinct(values: pd.Series, fmt: Callable[[object], str]) -> list[str]:
    """``fmt`` of every value of a column, computed once per distinct value.

    Distinct values are told apart exactly as ``fmt`` sees them: floats by their bit pattern
    (so ``-0.0`` and ``0.0`` stay apart; every NaN of one pattern is one value), integers,
    booleans, timestamps and text by value. Columns of other types (objects, where ``1``,
    ``1.0`` and ``True`` would count as one value) are formatted value by value.
    """
    dtype = values.dtype
    if dtype == np.float64:
        codes, bits = pd.factorize(values.to_numpy().view(np.int64))
        distinct: list[object] = bits.view(np.float64).tolist()
    elif isinstance(dtype, pd.StringDtype) or (
            isinstance(dtype, np.dtype) and dtype.kind in ("i", "u", "b", "M")):
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        distinct = list(uniques)
    else:
        return [fmt(v) for v in values]
    texts = np.array([fmt(v) for v in distinct], dtype=object)
    return texts[codes].tolist()
