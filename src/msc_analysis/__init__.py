"""msc-analysis: analyses, tables, figures and interim reports for trial NCT06904755."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("msc-analysis")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
