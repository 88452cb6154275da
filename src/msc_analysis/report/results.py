"""What the report's two stages produce: the prepared data and the complete results.

:func:`msc_analysis.report.build.prepare` gives :class:`Prepared` (the data as known at the
cut-off, derived); :func:`msc_analysis.report.analysis_step.analyse` gives :class:`Results`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from msc_analysis.analyses.prepost_data import PrepostData
from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import Study
from msc_analysis.sap import Sap

__all__ = ["Prepared", "Results", "safety_set"]


@dataclass
class Prepared:
    """The data as known at the cut-off, derived for the analyses: what
    :func:`~msc_analysis.report.build.prepare` gives and
    :func:`~msc_analysis.report.analysis_step.analyse` takes.

    Figures drawn from the data alone (:data:`~msc_analysis.report.figures_step.DATA_FIGURES`)
    need nothing more, so the report can start drawing them while the analyses run.
    """

    sap: Sap
    study: Study
    cutoff: pd.Timestamp
    issues: DataIssues
    prepost: PrepostData | None


@dataclass
class Results:
    """Everything the analyses produced: ARD, derived data and the data issues."""

    sap: Sap
    study: Study
    cutoff: pd.Timestamp
    issues: DataIssues
    ard: pd.DataFrame
    prepost: PrepostData | None
    tte: pd.DataFrame
    safety: Any
    extra: dict[str, Any] = field(default_factory=dict)


def safety_set(study: Study) -> pd.DataFrame:
    """ADSL rows of the safety set (every subject when there is no SAFFL)."""
    return study.adsl[study.adsl.get("SAFFL", "Y") == "Y"]
