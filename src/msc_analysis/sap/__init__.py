"""The statistical analysis plan as typed, frozen settings (``sap/sap.toml``).

>>> from msc_analysis.sap import load_sap
>>> sap = load_sap()            # finds sap/sap.toml here or in a parent folder  # doctest: +SKIP
>>> sap.conf_level                                                               # doctest: +SKIP
0.95
"""

from msc_analysis.sap.document import DocumentTfl, marked_table, read_tfl_list
from msc_analysis.sap.settings import (
    METHODS,
    SELECTORS,
    Analysis,
    AnalysisSet,
    Decimals,
    Lloq,
    Mmrm,
    Monitoring,
    Parameter,
    Sap,
    Tfl,
    Visit,
    VitalThresholds,
    find_sap,
    load_sap,
    parse_sap,
)
from msc_analysis.sap.traceability import check_traceability

__all__ = [
    "METHODS",
    "SELECTORS",
    "Analysis",
    "AnalysisSet",
    "Decimals",
    "DocumentTfl",
    "Lloq",
    "Mmrm",
    "Monitoring",
    "Parameter",
    "Sap",
    "Tfl",
    "Visit",
    "VitalThresholds",
    "check_traceability",
    "find_sap",
    "load_sap",
    "marked_table",
    "parse_sap",
    "read_tfl_list",
]
