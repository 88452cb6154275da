"""The house style of the report's figures and a deterministic figure writer.

- Colours: the Okabe-Ito palette (Okabe & Ito, "Color Universal Design", 2008), distinguishable
  with the common colour-vision deficiencies. Yellow comes last in the cycle (low contrast on
  white).
- Fonts: DejaVu Sans (shipped with matplotlib, so the same glyphs on every machine) at sizes
  legible when a figure is printed at its saved size: 10 pt text, 9 pt ticks and legends, 11 pt
  titles, for figures 6.5 in (portrait page) or 9 in (landscape page) wide.
- :func:`save_figure` writes PNG at 300 dpi and SVG (and optionally PDF) with fixed metadata (no
  dates, no software version) and a fixed ``svg.hashsalt``, so the same figure gives the same
  bytes on every run. The PNG is rendered by matplotlib's Agg and encoded by
  :func:`msc_analysis.render.png.encode_png` (twice as fast as Pillow's encoder on plots).

Use::

    with figure_style():
        fig, ax = plt.subplots(figsize=figure_size("portrait"))
        ...
        save_figure(fig, out_dir / "f14_2_1")
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from cycler import cycler
from matplotlib.figure import Figure

from msc_analysis.render.png import encode_png

__all__ = [
    "DPI",
    "OKABE_ITO",
    "PALETTE",
    "SVG_HASHSALT",
    "apply_style",
    "figure_size",
    "figure_style",
    "png_bytes",
    "rc_params",
    "save_figure",
]

logger = logging.getLogger(__name__)

#: The Okabe-Ito colours by name.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: Colour cycle of the figures (Okabe-Ito, strongest first, yellow last).
PALETTE: tuple[str, ...] = tuple(
    OKABE_ITO[name]
    for name in ("blue", "vermillion", "bluish_green", "reddish_purple", "orange", "sky_blue",
                 "black", "yellow")
)

#: Resolution of raster output.
DPI = 300
#: Salt of the ids matplotlib writes into SVG files (fixed, so ids are reproducible).
SVG_HASHSALT = "msc-analysis"

#: Figure widths in inches: text width of a portrait and of a landscape US-letter / A4 page.
_WIDTHS = {"portrait": 6.5, "landscape": 9.0}

_FORMATS = ("png", "svg", "pdf")
_METADATA: dict[str, dict[str, Any]] = {
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
}


def rc_params() -> dict[str, Any]:
    """The matplotlib settings of the house style."""
    return {
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans"],
        "font.size": 10,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "legend.fontsize": 9,
        "figure.titlesize": 12,
        "axes.prop_cycle": cycler(color=list(PALETTE)),
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": False,
        "lines.linewidth": 1.5,
        "lines.markersize": 5,
        "figure.dpi": 100,
        "savefig.dpi": DPI,
        "savefig.bbox": "standard",
        "svg.hashsalt": SVG_HASHSALT,
        "svg.fonttype": "path",
        "pdf.fonttype": 42,
        "image.cmap": "cividis",
    }


def apply_style() -> None:
    """Set the house style globally (``matplotlib.rcParams``)."""
    mpl.rcParams.update(rc_params())


@contextmanager
def figure_style() -> Iterator[None]:
    """Context in which the house style applies (the previous settings come back after)."""
    with mpl.rc_context(rc_params()):
        yield


def figure_size(page: str = "portrait", aspect: float = 0.62) -> tuple[float, float]:
    """Figure size (width, height) in inches for a ``"portrait"`` or ``"landscape"`` page.

    ``aspect`` is height / width.
    """
    if page not in _WIDTHS:
        raise ValueError(f"page must be one of {sorted(_WIDTHS)}, got {page!r}")
    if aspect <= 0:
        raise ValueError("aspect must be positive")
    width = _WIDTHS[page]
    return (width, round(width * aspect, 3))


def save_figure(
    fig: Figure,
    path: str | Path,
    formats: Sequence[str] = ("png", "svg"),
    *,
    dpi: int = DPI,
) -> dict[str, Path]:
    """Save a figure deterministically in each format: ``<path without suffix>.<format>``.

    PNG at ``dpi`` (300), SVG with fonts as paths; metadata that would change between runs
    (dates, software versions) is removed and the SVG hash salt is fixed, so the same figure gives
    identical bytes.

    Parameters
    ----------
    fig : Figure
        The figure.
    path : str or Path
        Output path; its suffix, if any, is replaced by each format's.
    formats : sequence of {"png", "svg", "pdf"}
        Formats to write.
    dpi : int
        Resolution of the PNG.

    Returns
    -------
    dict
        Format -> path written.
    """
    unknown = [f for f in formats if f not in _FORMATS]
    if unknown:
        raise ValueError(f"unknown figure formats {unknown}; use {list(_FORMATS)}")
    stem = Path(path)
    if stem.suffix.lstrip(".").lower() in _FORMATS:
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    with mpl.rc_context({"svg.hashsalt": SVG_HASHSALT, "svg.fonttype": "path",
                         "pdf.fonttype": 42}):
        for fmt in formats:
            target = stem.parent / f"{stem.name}.{fmt}"
            if fmt == "png":
                target.write_bytes(png_bytes(fig, dpi))
            else:
                fig.savefig(target, format=fmt, dpi=dpi, metadata=dict(_METADATA[fmt]))
            written[fmt] = target
            logger.debug("wrote %s", target)
    return written


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as a PNG file at ``dpi``: rendered by Agg, encoded by
    :func:`~msc_analysis.render.png.encode_png` (no text chunks, so no date or version)."""
    sink = io.BytesIO()
    with mpl.rc_context({"savefig.bbox": "standard"}):
        fig.savefig(sink, format="rgba", dpi=dpi)
    pixels = np.frombuffer(sink.getvalue(), dtype=np.uint8)
    width, height = _rendered_size(fig.get_size_inches() * dpi, pixels.size // 4)
    return encode_png(pixels.reshape(height, width, 4), dpi)


def _rendered_size(size: np.ndarray, n_pixels: int) -> tuple[int, int]:
    """Width and height in pixels that Agg rendered for a figure of ``size`` (inches * dpi).

    Agg truncates each dimension to whole pixels; matplotlib 3.10 and later first add 1e-8 so
    that 204.99999999999997 (2.05 in at 100 dpi) gives 205. The rule that accounts for the
    ``n_pixels`` rendered is the one used.
    """
    for tolerance in (1e-8, 0.0):
        width, height = (int(v + tolerance) for v in size)
        if width * height == n_pixels:
            return width, height
    raise RuntimeError(f"rendered {n_pixels} pixels for a figure of {size[0]:g} x {size[1]:g} "
                       "pixels; is a bounding box other than 'standard' set?")
