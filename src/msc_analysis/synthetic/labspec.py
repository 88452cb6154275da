"""Laboratory model of the synthetic trial: reference ranges, assay limits, reporting and dynamics.

One :class:`LabSpec` per parameter of :data:`msc_analysis.io.schema.LAB_PARAMETERS`. Values are
simulated on the log scale around a subject's screening level (see
:mod:`msc_analysis.synthetic.labs`); the numbers here are the brief's (section 2 reference
intervals and assay limits, section 4 baseline values and time courses, section 3 per-session
changes) or, where the brief gives none, typical clinical values marked as such.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class LabSpec:
    """Simulation and reporting settings of one laboratory parameter.

    Parameters
    ----------
    paramcd : str
        Parameter code.
    decimals : int
        Decimals of the reported (original) result.
    anrlo, anrhi : float
        Reference range (male / both sexes).
    anrlo_f, anrhi_f : float, optional
        Reference range for females when it differs.
    lloq : float, optional
        Lower limit of quantitation; results below are reported ``"<LLOQ"``.
    drift_survivor, drift_death : float
        Log change per day after screening for subjects alive at Day 90 without transplant, and
        for subjects who die (transplanted subjects use the mean of the two).
    drift_sd : float
        Between-subject SD of the drift.
    session_mean, session_sd : float
        Mean and SD of the log ratio post/pre across one session.
    rebound : float
        Fraction of a session's change gone within about 24 h (1: fully transient).
    persist_days : float
        Time constant (days) of the decay of the part of a session's change that does not rebound.
    noise : float
        SD of the within-subject sample-to-sample variation (log scale).
    minimum, maximum : float
        Physiological bounds of simulated values.
    conventional_unit : str, optional
        Unit of the local laboratory that reports screening results in conventional units.
    conventional_factor : float, optional
        SI value = conventional value x factor.
    """

    paramcd: str
    decimals: int
    anrlo: float
    anrhi: float
    anrlo_f: float | None = None
    anrhi_f: float | None = None
    lloq: float | None = None
    drift_survivor: float = 0.0
    drift_death: float = 0.0
    drift_sd: float = 0.005
    session_mean: float = 0.0
    session_sd: float = 0.02
    rebound: float = 1.0
    persist_days: float = 3.0
    noise: float = 0.05
    minimum: float = 0.0
    maximum: float = 1e6
    conventional_unit: str | None = None
    conventional_factor: float | None = None


#: Reference ranges: TBil 0-21 umol/L (UK Pathology Harmony [S20]); INR 0.8-1.1 [S19];
#: IL-6 < 7 pg/mL (Elecsys 95th percentile [S17]); TNF-alpha < 8.1 pg/mL (brief: not verified,
#: method-specific [S18]); CRP <= 5 mg/L [S21]; others typical adult ranges (not from the brief).
#: LLOQ: IL-6 1.5 pg/mL (Elecsys analytical sensitivity [S17]); CRP 3 mg/L (cobas technical range
#: from 0.3 mg/dL [S10]); TNF-alpha 4.0 pg/mL (assumed).
LAB_SPECS: dict[str, LabSpec] = {s.paramcd: s for s in (
    LabSpec("TBIL", 1, 0.0, 21.0, drift_survivor=-0.015, drift_death=0.015, drift_sd=0.008,
            noise=0.04, minimum=3.0, maximum=1500.0, conventional_unit="mg/dL",
            conventional_factor=17.1, persist_days=7.0),
    LabSpec("DBIL", 1, 0.0, 6.8, minimum=1.0, maximum=1200.0, conventional_unit="mg/dL",
            conventional_factor=17.1),
    LabSpec("INR", 2, 0.8, 1.1, drift_survivor=-0.008, drift_death=0.01, drift_sd=0.005,
            noise=0.04, minimum=0.8, maximum=10.0),
    LabSpec("PTA", 0, 70.0, 130.0, noise=0.08, minimum=5.0, maximum=150.0),
    LabSpec("IL6", 1, 0.0, 7.0, lloq=1.5, drift_survivor=-0.03, drift_death=0.02, drift_sd=0.015,
            noise=0.3, minimum=0.2, maximum=5000.0),
    LabSpec("TNFA", 1, 0.0, 8.1, lloq=4.0, drift_survivor=-0.015, drift_death=0.01,
            noise=0.2, minimum=0.5, maximum=1000.0),
    LabSpec("CRP", 1, 0.0, 5.0, lloq=3.0, drift_survivor=-0.02, drift_death=0.02, drift_sd=0.01,
            session_mean=-0.03, session_sd=0.06, noise=0.12, minimum=0.3, maximum=350.0),
    LabSpec("ALT", 0, 0.0, 40.0, drift_survivor=-0.05, drift_death=-0.02, drift_sd=0.015,
            session_mean=-0.10, session_sd=0.05, rebound=0.8, noise=0.1, minimum=5.0,
            maximum=10000.0),
    LabSpec("AST", 0, 0.0, 40.0, drift_survivor=-0.05, drift_death=-0.015, drift_sd=0.015,
            session_mean=-0.10, session_sd=0.05, rebound=0.8, noise=0.1, minimum=5.0,
            maximum=10000.0),
    LabSpec("ALB", 1, 35.0, 50.0, drift_survivor=0.003, drift_death=-0.004, drift_sd=0.002,
            session_mean=0.0, session_sd=0.03, noise=0.04, minimum=15.0, maximum=55.0),
    LabSpec("CREAT", 0, 59.0, 104.0, anrlo_f=45.0, anrhi_f=84.0, drift_survivor=0.0,
            drift_death=0.02, drift_sd=0.006, session_mean=-0.05, session_sd=0.03, noise=0.06,
            minimum=20.0, maximum=1200.0, conventional_unit="mg/dL",
            conventional_factor=88.4),
    LabSpec("SODIUM", 0, 135.0, 145.0, drift_sd=0.001, session_sd=0.008, noise=0.012,
            minimum=115.0, maximum=160.0),
    LabSpec("PLAT", 0, 125.0, 350.0, drift_survivor=0.01, drift_death=-0.01, noise=0.06,
            session_sd=0.04, rebound=0.45, persist_days=3.0, minimum=5.0, maximum=900.0),
    LabSpec("HGB", 0, 130.0, 175.0, anrlo_f=115.0, anrhi_f=150.0, drift_death=-0.005,
            drift_sd=0.003, session_mean=-0.03, session_sd=0.02, rebound=0.7,
            persist_days=5.0, noise=0.03, minimum=40.0, maximum=200.0),
    LabSpec("FIBRINO", 2, 2.0, 4.0, drift_survivor=0.01, drift_death=-0.01, drift_sd=0.005,
            session_mean=-0.10, session_sd=0.05, rebound=0.6, persist_days=2.0, noise=0.08,
            minimum=0.2, maximum=8.0),
    LabSpec("CALCIUM", 2, 2.10, 2.55, drift_sd=0.001, session_mean=-0.01, session_sd=0.02,
            noise=0.03, minimum=1.2, maximum=3.2),
)}

#: Extra mean log change of calcium across a citrate session (citrate chelates calcium [S34]).
CITRATE_CALCIUM_EFFECT = -0.05

#: Monotone decreasing relation of prothrombin activity to INR in liver failure, fitted to the
#: protocol's equivalent bands (PTA 40% ~ INR 1.5, PTA 20% ~ INR 2.6; brief section 5, not
#: verified) and PTA 100% at INR 1.0: ``PTA = 100 / (1 + a (INR - 1)^b)``.
PTA_A = 2.69
PTA_B = 0.843


def pta_from_inr(inr_true: ArrayLike) -> NDArray[np.float64]:
    """Expected prothrombin activity (%) at a true INR (noise is added by the caller)."""
    x = np.maximum(np.asarray(inr_true, dtype=float) - 1.0, 0.0)
    return 100.0 / (1.0 + PTA_A * x**PTA_B)
