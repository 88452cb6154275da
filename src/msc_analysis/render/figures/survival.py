"""F14.3.4: Kaplan-Meier curve of transplant-free survival with the numbers at risk."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from msc_analysis.render.figures._common import (
    FIGSIZE,
    as_float,
    check_columns,
    finish_axes,
    new_figure,
    no_data,
    styled,
)
from msc_analysis.render.style import OKABE_ITO

__all__ = ["DEFAULT_AT_RISK_DAYS", "kaplan_meier_plot", "step_values"]

#: Days of the numbers-at-risk table.
DEFAULT_AT_RISK_DAYS: tuple[int, ...] = (0, 14, 28, 42, 56, 70, 84)


def step_values(curve: pd.DataFrame, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Survival in force at each of ``times``: ``surv`` at the last event time <= t, else 1.

    Parameters
    ----------
    curve : DataFrame
        ``time``, ``surv`` (event times, increasing).
    times : array
        Times at which to read the step function.
    """
    t = as_float(curve["time"])
    s = as_float(curve["surv"])
    q = np.asarray(times, float)
    idx = np.searchsorted(t, q, side="right") - 1
    return np.where(idx >= 0, s[np.clip(idx, 0, None)] if s.size else 1.0, 1.0)


@styled
def kaplan_meier_plot(
    curve: pd.DataFrame,
    censored: Sequence[float] | np.ndarray = (),
    at_risk: pd.DataFrame | None = None,
    landmarks: Sequence[float] | None = None,
    *,
    max_day: float = 90.0,
    conf_level: float = 0.95,
    ylabel: str = "Transplant-free survival probability",
    figsize: tuple[float, float] = FIGSIZE,
) -> Figure:
    """F14.3.4: Kaplan-Meier step function with CI band, censor marks and numbers at risk.

    The curve starts at 1 at day 0, steps down at each event time (``gid="km"``; its y-data are
    ``[1, surv_1, ..., surv_k, surv_k]``) and stops at the last event or censored time. The
    pointwise CI is a shaded step band (``gid="ci"``; a missing limit, e.g. where S = 0,
    collapses onto the curve); censored times are "+" marks on the curve (``gid="censored"``).
    The numbers at risk are written under the x-axis at the ``at_risk`` days (only those in
    ``landmarks`` if given), which are also the x ticks.

    Parameters
    ----------
    curve : DataFrame
        ``time``, ``surv``, ``conf_low``, ``conf_high`` at the event times, increasing, as
        ``msc_analysis.analyses.survival.kaplan_meier(...).table``.
    censored : array
        Censored times.
    at_risk : DataFrame, optional
        ``day``, ``n`` (numbers at risk, e.g. ``KaplanMeier.n_at_risk(day, times)``). None: no
        table.
    landmarks : sequence of float, optional
        Days of the table and x ticks; default the ``at_risk`` days, else
        :data:`DEFAULT_AT_RISK_DAYS`.
    max_day : float
        Right end of the x-axis.
    conf_level : float
        Confidence level (legend).
    ylabel : str
        Y-axis label.
    figsize : (float, float)
        Figure size in inches.
    """
    check_columns(curve, ("time", "surv", "conf_low", "conf_high"), "F14.3.4 kaplan_meier_plot",
                  "curve")
    if at_risk is not None:
        check_columns(at_risk, ("day", "n"), "F14.3.4 kaplan_meier_plot", "at_risk")
    curve = curve.assign(_t=as_float(curve["time"])).sort_values("_t", kind="stable")
    cens = np.sort(as_float(censored))
    cens = cens[np.isfinite(cens)]
    fig = new_figure(figsize)
    if at_risk is not None:
        ax, ax_tab = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [5, 1]})
    else:
        ax, ax_tab = fig.add_subplot(), None
    if landmarks is None:
        landmarks = (sorted(as_float(at_risk["day"])) if at_risk is not None and len(at_risk)
                     else DEFAULT_AT_RISK_DAYS)
    ticks = [float(d) for d in landmarks]
    ax.set_xlim(0, max_day)
    ax.set_xticks(ticks)
    ax.set_ylabel(ylabel)
    finish_axes(ax)
    if curve.empty and cens.size == 0:
        no_data(ax, "No subjects")
        ax.set_xticks(ticks)
    else:
        t = curve["_t"].to_numpy(float)
        s, low, high = (as_float(curve[c]) for c in ("surv", "conf_low", "conf_high"))
        end = float(max([0.0, *t, *cens]))
        x = np.concatenate([[0.0], t, [end]])
        last = s[-1] if s.size else 1.0
        y = np.concatenate([[1.0], s, [last]])
        lo = np.concatenate([[1.0], np.where(np.isfinite(low), low, s), [low[-1] if s.size and
                             np.isfinite(low[-1]) else last]])
        hi = np.concatenate([[1.0], np.where(np.isfinite(high), high, s), [high[-1] if s.size and
                             np.isfinite(high[-1]) else last]])
        ax.fill_between(x, lo, hi, step="post", color=OKABE_ITO["sky_blue"], alpha=0.35,
                        lw=0, gid="ci")
        ax.plot(x, y, drawstyle="steps-post", color=OKABE_ITO["blue"], lw=1.8, gid="km")
        if cens.size:
            ax.plot(cens, step_values(curve, cens), ls="none", marker="+", ms=9, mew=1.5,
                    color=OKABE_ITO["black"], gid="censored", clip_on=False)
        ax.set_ylim(0, 1.03)
        handles = [Line2D([], [], color=OKABE_ITO["blue"], lw=1.8, label="Kaplan-Meier estimate"),
                   Patch(color=OKABE_ITO["sky_blue"], alpha=0.35,
                         label=f"{100 * conf_level:g}% CI"),
                   Line2D([], [], ls="none", marker="+", ms=9, mew=1.5,
                          color=OKABE_ITO["black"], label="Censored")]
        ax.legend(handles=handles, loc="lower left", frameon=False)
    if ax_tab is None:
        ax.set_xlabel("Days since first session")
        return fig
    ax.tick_params(labelbottom=True)
    ax_tab.set_ylim(0, 1)
    ax_tab.set_yticks([0.5], ["No. at risk"])
    ax_tab.tick_params(axis="y", length=0, labelsize=9, pad=14)
    ax_tab.tick_params(axis="x", bottom=False, labelbottom=False)
    for side in ("left", "bottom", "top", "right"):
        ax_tab.spines[side].set_visible(False)
    wanted = set(ticks)
    for day, n in zip(as_float(at_risk["day"]), at_risk["n"], strict=True):
        if day in wanted:
            ax_tab.text(day, 0.5, f"{float(n):g}", ha="center", va="center", fontsize=9,
                        gid="at-risk")
    ax.set_xlabel("Days since first session")
    return fig
