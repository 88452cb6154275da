"""synthetic layer: the seeded synthetic trial NCT06904755 in ADaM form.

``simulate(settings)`` returns the datasets, ``write_study(datasets, folder)`` writes them as CSV
files; ``msc-analysis simulate`` does both (see :mod:`msc_analysis.synthetic.command`).
"""

from msc_analysis.synthetic.dictionary import data_dictionary_markdown
from msc_analysis.synthetic.generator import DATASETS, simulate
from msc_analysis.synthetic.settings import (
    DEFAULT_SEED,
    SimulationSettings,
    load_settings,
    settings_to_toml,
)
from msc_analysis.synthetic.writer import write_study

__all__ = [
    "DATASETS",
    "DEFAULT_SEED",
    "SimulationSettings",
    "data_dictionary_markdown",
    "load_settings",
    "settings_to_toml",
    "simulate",
    "write_study",
]
