"""Files shipped inside the package: the default SAP (``sap/sap.toml`` and ``sap/SAP.md``) and
the notebooks, so that an installed package works outside the repository and ``msc-analysis
init`` can copy them for a study.

In the repository these are links to the canonical files (``sap/`` and ``notebooks/`` at the
root); building a wheel copies their contents.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["STUDY_FILES", "resource_path"]

#: The files ``msc-analysis init`` copies, by their path in a study folder.
STUDY_FILES: tuple[str, ...] = (
    "sap/SAP.md",
    "sap/sap.toml",
    "notebooks/README.md",
    "notebooks/interim_report.ipynb",
    "notebooks/explore_biomarkers.ipynb",
)


def resource_path(name: str) -> Path:
    """The path of a shipped file (``"sap/sap.toml"``); the package is installed as files."""
    return Path(str(files(__name__).joinpath(name)))
