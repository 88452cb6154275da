"""Statistics core: pure functions matching R (and SAS where stated).

The functions know nothing of the trial's data layouts or the SAP; they take arrays and return
small frozen result objects (scipy.stats style) or plain dicts named with ARD stat names.
"""

from msc_analysis.stats.descriptive import describe, holm, sas_quantile
from msc_analysis.stats.intervals import clopper_pearson, poisson_exact_ci
from msc_analysis.stats.mmrm import MmrmResult, fit_mmrm, fit_mmrm_with_fallback
from msc_analysis.stats.paired import paired_t, sign_test
from msc_analysis.stats.results import (
    ConfidenceInterval,
    PairedTResult,
    SignedRankResult,
    SignTestResult,
    StatsInputError,
)
from msc_analysis.stats.signed_rank import psignrank, qsignrank, wilcoxon_signed_rank

__all__ = [
    "ConfidenceInterval",
    "MmrmResult",
    "PairedTResult",
    "SignTestResult",
    "SignedRankResult",
    "StatsInputError",
    "clopper_pearson",
    "describe",
    "fit_mmrm",
    "fit_mmrm_with_fallback",
    "holm",
    "paired_t",
    "poisson_exact_ci",
    "psignrank",
    "qsignrank",
    "sas_quantile",
    "sign_test",
    "wilcoxon_signed_rank",
]
