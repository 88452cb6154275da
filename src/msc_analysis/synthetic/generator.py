"""The seeded synthetic trial: ``simulate(settings) -> {dataset name: DataFrame}``.

The generator screens candidates (:mod:`~msc_analysis.synthetic.population`), simulates each
enrolled subject's course, sessions and adverse events (:mod:`~msc_analysis.synthetic.course`),
laboratory values (:mod:`~msc_analysis.synthetic.labs`), vital signs
(:mod:`~msc_analysis.synthetic.vitals`) and assembles ADaM datasets in the declared schemas of
:mod:`msc_analysis.io.schema`. Each step draws from its own random stream, spawned from the seed,
so the output depends only on the seed and the settings.

In memory, dates and datetimes are ``datetime64[s]``, numbers float (integer variables without
missing values int64), text ``str``; in the two large datasets (ADLB, ADVS) coded text columns
are ``category`` to keep memory small (``LBORRES`` is ``str``).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from msc_analysis.synthetic.adverse import annotate_events, build_adae
from msc_analysis.synthetic.course import simulate_course
from msc_analysis.synthetic.labs import simulate_labs
from msc_analysis.synthetic.population import screen, subject_ids
from msc_analysis.synthetic.settings import SimulationSettings
from msc_analysis.synthetic.subjects import build_adex, build_adsl
from msc_analysis.synthetic.vitals import simulate_vitals

log = logging.getLogger(__name__)

#: Names of the datasets :func:`simulate` returns, in writing order.
DATASETS: tuple[str, ...] = ("adsl", "adex", "adlb", "adae", "advs", "screening_log")


def simulate(settings: SimulationSettings | None = None) -> dict[str, pd.DataFrame]:
    """Simulate the trial.

    Parameters
    ----------
    settings : SimulationSettings, optional
        Settings (defaults: 10 subjects, seed 6904755).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``adsl``, ``adex``, ``adlb``, ``adae``, ``advs`` (columns in schema order) and
        ``screening_log`` (every candidate screened, with the criteria failed).
    """
    settings = settings or SimulationSettings()
    streams = [np.random.default_rng(s) for s in
               np.random.SeedSequence(settings.seed).spawn(6)]
    rng_pop, rng_course, rng_labs, rng_vitals, rng_ae, rng_ex = streams
    cohort = screen(settings, rng_pop)
    subjid, usubjid = subject_ids(cohort.n)
    course = simulate_course(settings, cohort, rng_course)
    annotate_events(course)
    adlb = simulate_labs(settings, cohort, course, rng_labs, usubjid)
    advs = simulate_vitals(settings, course, rng_vitals, usubjid, cohort.female)
    adae = build_adae(settings, course, rng_ae, usubjid)
    adex = build_adex(settings, course, rng_ex, usubjid)
    adsl = build_adsl(settings, cohort, course, adlb, subjid, usubjid)
    screening = cohort.log.copy()
    for col in screening.columns:
        if screening[col].dtype == object:
            screening[col] = screening[col].astype("str")
    for col in ("RFICDT", "TBILPDT"):
        screening[col] = screening[col].astype("datetime64[s]")
    log.info("simulated %d subjects (%d screened), %d lab rows, %d AEs", cohort.n,
             len(screening), len(adlb), len(adae))
    return {"adsl": adsl, "adex": adex, "adlb": adlb, "adae": adae, "advs": advs,
            "screening_log": screening}
