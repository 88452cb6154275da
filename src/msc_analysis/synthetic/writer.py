"""Writing a simulated study as CSV files, byte for byte reproducibly.

Formatting rules (the data model of :mod:`msc_analysis.io.schema`):

* dates ``YYYY-MM-DD``, datetimes ``YYYY-MM-DDTHH:MM``; missing values are empty fields;
* ``int`` variables as integers; ``num`` variables with the shortest decimal representation
  that reads back to the same double (``350.1``, ``2``, ``0.05``);
* text as is, quoted only when it contains a comma, quote or line break, and neutralised
  against formula injection (:mod:`msc_analysis.csv_cells`: an apostrophe before a text that
  begins with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or an apostrophe, unless it
  is a plain number; the study reader removes it);
* UTF-8, ``\\n`` line endings, columns in declared order, a header row.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from msc_analysis.csv_cells import neutralise_column, write_frame
from msc_analysis.errors import DataError
from msc_analysis.io.schema import SCHEMAS, SCREENING_LOG, DatasetSchema, VarType

log = logging.getLogger(__name__)

#: File name of each dataset.
FILE_NAMES: dict[str, str] = {
    "adsl": "adsl.csv", "adex": "adex.csv", "adlb": "adlb.csv", "adae": "adae.csv",
    "advs": "advs.csv", "screening_log": "screening_log.csv",
}


def schema_of(name: str) -> DatasetSchema:
    """Declared schema of a dataset returned by :func:`~msc_analysis.synthetic.simulate`."""
    if name == "screening_log":
        return SCREENING_LOG
    return SCHEMAS[name.upper()]


def format_column(values: pd.Series, vartype: VarType) -> NDArray[np.object_]:
    """Format one column as CSV text according to its declared type.

    Parameters
    ----------
    values : pandas.Series
        The column.
    vartype : {"char", "num", "int", "date", "datetime"}
        Declared type.

    Returns
    -------
    numpy.ndarray of object
        One string per value (``""`` for missing).
    """
    if vartype in ("date", "datetime"):
        arr = pd.to_datetime(values).to_numpy().astype(
            "datetime64[D]" if vartype == "date" else "datetime64[m]")
        text = np.datetime_as_string(arr, unit="D" if vartype == "date" else "m")
        out = text.astype(object)
        out[np.isnat(arr)] = ""
        return out
    if vartype == "int":
        num = pd.to_numeric(values).to_numpy(dtype=float)
        out = np.full(len(num), "", dtype=object)
        ok = ~np.isnan(num)
        out[ok] = pa.array(np.rint(num[ok]).astype(np.int64)).cast(pa.string()).to_numpy(
            zero_copy_only=False)
        return out
    if vartype == "num":
        num = pd.to_numeric(values).to_numpy(dtype=float)
        out = np.full(len(num), "", dtype=object)
        ok = ~np.isnan(num)
        # pyarrow prints the shortest round-trip representation ("350.1", "2")
        out[ok] = pa.array(num[ok]).cast(pa.string()).to_numpy(zero_copy_only=False)
        return out
    text = neutralise_column(values).astype(object).to_numpy()
    return np.where(pd.isna(text), "", text).astype(object)


def to_csv_text(frame: pd.DataFrame, schema: DatasetSchema) -> str:
    """The CSV text of one dataset.

    Raises
    ------
    DataError
        If the frame's columns are not the schema's variables in declared order.
    """
    if list(frame.columns) != list(schema.names):
        raise DataError(f"{schema.name}: columns {list(frame.columns)} differ from the declared "
                        f"variables {list(schema.names)}")
    formatted = pd.DataFrame({v.name: format_column(frame[v.name], v.type)
                              for v in schema.variables})
    return write_frame(formatted)  # type: ignore[return-value]


def write_study(datasets: dict[str, pd.DataFrame], out_dir: str | Path) -> dict[str, Path]:
    """Write simulated datasets as CSV files into ``out_dir`` (created if needed).

    Parameters
    ----------
    datasets : dict of str to pandas.DataFrame
        As returned by :func:`~msc_analysis.synthetic.simulate`.
    out_dir : str or Path
        Output folder.

    Returns
    -------
    dict of str to Path
        The file written for each dataset.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, frame in datasets.items():
        path = out / FILE_NAMES[name]
        text = to_csv_text(frame, schema_of(name))
        with path.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        written[name] = path
        log.info("wrote %s (%d rows)", path.name, len(frame))
    return written
