"""Shared helpers of the figure functions: styled figure creation, input checks, empty panels.

Every public figure function is wrapped in :func:`styled`, so its artists are created under the
house style (:func:`msc_analysis.render.style.figure_style`) and the figure is laid out once
inside it (tick labels then keep the style when the caller saves outside the style context); that
layout is then kept (the layout engine is switched off), so saving in several formats does not
lay the figure out again.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from msc_analysis.errors import AnalysisError
from msc_analysis.render.style import OKABE_ITO, figure_style

__all__ = [
    "FIGSIZE",
    "GREY",
    "ParameterSpec",
    "check_columns",
    "finish_axes",
    "new_figure",
    "no_data",
    "short_id",
    "styled",
]

#: Default figure size (inches): legible at report width.
FIGSIZE: tuple[float, float] = (7.0, 4.5)
#: Colour of individual-subject lines (neutral, behind the summaries).
GREY = "#8C8C8C"
#: Tick label size (points) set explicitly on every axes.
TICK_SIZE = 9

P = ParamSpec("P")


def styled(func: Callable[P, Figure]) -> Callable[P, Figure]:
    """Run a figure function under the house style and lay the figure out once inside it."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Figure:
        with figure_style():
            fig = func(*args, **kwargs)
            engine = fig.get_layout_engine()
            if engine is not None:  # lays out (and creates the ticks) without drawing it all
                engine.execute(fig)
            else:
                fig.draw_without_rendering()
        # Keep the layout just computed: without this, every save (PNG, then SVG) would run the
        # constrained-layout solver again, a third of the time of saving a figure.
        fig.set_layout_engine("none")
        return fig

    return wrapper


def new_figure(figsize: tuple[float, float] = FIGSIZE) -> Figure:
    """A figure with an Agg canvas and constrained layout (no pyplot state)."""
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def finish_axes(ax: Axes) -> None:
    """Fix the tick label size so ticks created later keep the house style."""
    ax.tick_params(labelsize=TICK_SIZE)


def no_data(ax: Axes, message: str = "No data") -> None:
    """Mark a panel as empty with a centred message and no ticks."""
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center",
            fontsize=10, color=OKABE_ITO["black"], gid="no-data")
    ax.set_xticks([])
    ax.set_yticks([])


def check_columns(frame: pd.DataFrame, required: Iterable[str], figure: str, name: str) -> None:
    """Raise :class:`AnalysisError` naming the figure, the input and the missing columns."""
    if not isinstance(frame, pd.DataFrame):
        raise AnalysisError(f"{figure}: input {name!r} must be a DataFrame, "
                            f"got {type(frame).__name__}")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise AnalysisError(f"{figure}: input {name!r} lacks column(s) {missing}; "
                            f"it has {list(frame.columns)}")


def short_id(usubjid: Any) -> str:
    """Subject label for a tick: the part after the last ``-`` of ``USUBJID`` (all if none)."""
    text = str(usubjid)
    return text.rsplit("-", 1)[-1] if "-" in text else text


def as_float(values: Any) -> np.ndarray:
    """Values as a float array (pandas NA -> NaN)."""
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)


def finite_positive(x: np.ndarray) -> np.ndarray:
    """Mask of finite, strictly positive values (plottable on a log axis)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & (x > 0)


def log_limits(values: Sequence[float], refs: Sequence[float] = (), pad: float = 1.5
               ) -> tuple[float, float]:
    """Limits of a log axis covering positive ``values`` and reference lines, padded by ``pad``."""
    data = [v for v in [*values, *refs] if math.isfinite(v) and v > 0]
    if not data:
        return (0.1, 10.0)
    low, high = min(data) / pad, max(data) * pad
    return (low, high)


@dataclass(frozen=True)
class ParameterSpec:
    """What a biomarker panel needs to know of a parameter.

    Attributes
    ----------
    paramcd : str
        Parameter code (``PARAMCD``).
    label : str
        Axis label (e.g. ``"Total bilirubin"``).
    unit : str
        Unit shown with the label (``""`` for none).
    log_scale : bool
        Log axis and geometric summaries.
    """

    paramcd: str
    label: str
    unit: str = ""
    log_scale: bool = False

    @classmethod
    def from_parameter(cls, parameter: Any) -> ParameterSpec:
        """From an object with ``paramcd``, ``label``, ``unit`` and ``scale`` (the SAP's)."""
        return cls(str(parameter.paramcd), str(parameter.label), str(parameter.unit or ""),
                   str(getattr(parameter, "scale", "linear")) == "log")

    def axis_label(self) -> str:
        """``"label (unit)"``, or the label alone when there is no unit."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


_MANTISSAS: tuple[tuple[float, ...], ...] = (
    (1.0,),
    (1.0, 2.0, 5.0),
    (1.0, 1.5, 2.0, 3.0, 5.0, 7.0),
    (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0),
)


def log_ticks(low: float, high: float, minimum: int = 4) -> list[float]:
    """Readable tick positions on a log axis from ``low`` to ``high``.

    The coarsest of 1-2-5-style mantissa sets giving at least ``minimum`` ticks in range.
    """
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0 or high <= low:
        return []
    e_low, e_high = math.floor(math.log10(low)), math.ceil(math.log10(high))
    ticks: list[float] = []
    for mantissas in _MANTISSAS:
        ticks = [round(m * 10.0**e, 10) for e in range(e_low, e_high + 1) for m in mantissas]
        ticks = [t for t in ticks if low <= t <= high]
        if len(ticks) >= minimum:
            break
    return ticks


def set_log_axis(ax: Axes, which: str, low: float, high: float) -> None:
    """Log scale on ``which`` ("x" or "y") with limits and plain-number ticks (no minor ticks)."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    (ax.set_xlim if which == "x" else ax.set_ylim)(low, high)
    axis.set_major_locator(FixedLocator(log_ticks(low, high)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_locator(NullLocator())
