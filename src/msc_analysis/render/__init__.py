"""Rendering: tables (CSV, HTML, RTF) and figures from ARD rows and derived data.

- :mod:`~msc_analysis.render.formatting`: SAS-style rounding and cell formats.
- :mod:`~msc_analysis.render.table`: the display-table model and the ARD cell builder.
- :mod:`~msc_analysis.render.writers`: CSV, HTML and RTF writers.
- :mod:`~msc_analysis.render.style`: figure style and the deterministic figure writer
  (imported on demand, as it loads matplotlib).
"""

from msc_analysis.render.formatting import (
    DEFAULT_DECIMALS_RULE,
    DecimalsRule,
    decimals_for,
    fmt_ci,
    fmt_mean_sd,
    fmt_median_q1q3,
    fmt_min_max,
    fmt_n,
    fmt_n_pct,
    fmt_num,
    fmt_p,
    round_half_away,
)
from msc_analysis.render.table import (
    BodyRow,
    Cell,
    Column,
    DisplayTable,
    TableBuilder,
    cell_from_ard,
    header_with_n,
)
from msc_analysis.render.writers import to_html, write_csv, write_html, write_rtf, write_table

__all__ = [
    "DEFAULT_DECIMALS_RULE",
    "BodyRow",
    "Cell",
    "Column",
    "DecimalsRule",
    "DisplayTable",
    "TableBuilder",
    "cell_from_ard",
    "decimals_for",
    "fmt_ci",
    "fmt_mean_sd",
    "fmt_median_q1q3",
    "fmt_min_max",
    "fmt_n",
    "fmt_n_pct",
    "fmt_num",
    "fmt_p",
    "header_with_n",
    "round_half_away",
    "to_html",
    "write_csv",
    "write_html",
    "write_rtf",
    "write_table",
]
