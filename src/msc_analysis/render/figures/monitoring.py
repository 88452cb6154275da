"""F14.3.5: posterior probability of an unacceptable event rate after each subject."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from msc_analysis.errors import AnalysisError
from msc_analysis.render.figures._common import (
    FIGSIZE,
    GREY,
    as_float,
    finish_axes,
    new_figure,
    no_data,
    styled,
)
from msc_analysis.render.style import OKABE_ITO

__all__ = ["monitoring_plot"]


@styled
def monitoring_plot(
    monitor: pd.DataFrame,
    threshold: float,
    prob_cutoff: float,
    min_subjects: int,
    *,
    max_subjects: int | None = None,
    beyond: tuple[float, float] | None = None,
    figsize: tuple[float, float] = FIGSIZE,
) -> Figure:
    """F14.3.5: P(event rate > threshold | data) after each subject, against the stopping rule.

    The posterior probability after each evaluated subject (line and dots, ``gid="post_prob"``;
    a dot is vermillion where the rule's ``decision`` is stop, ``gid="stop"``), each labelled
    with ``events/n`` (subjects with the event / evaluated: a subject counts once however many
    events it had); a dashed horizontal line at ``prob_cutoff`` (``gid="cutoff"``) and a
    dotted vertical line at ``min_subjects`` (``gid="min-subjects"``). Stopping is absorbing:
    from the first crossing of the boundary (``stopped_at``) to the right edge the plot is
    shaded (``gid="stopped"``) and labelled ``"Stopped at subject k"``
    (``gid="stopped-label"``), with a legend entry, so that a later point under the cut-off
    cannot read as a resumed trial. Provisional points (a subject whose monitoring window was
    still open at the data cut-off, SAP section 9.1) are open circles (``gid="provisional"``)
    with a legend entry. Subjects evaluated after the rule's ``max_subjects`` (``beyond``) are
    named in the axes title (``gid="beyond"``): their number, their DLT-like events, and that
    the rule does not cover them.

    Parameters
    ----------
    monitor : DataFrame
        ``n`` (subjects evaluated so far), ``events`` (subjects with the event so far; ``x``
        is accepted, as
        from :func:`msc_analysis.stats.monitoring.monitor`), ``post_prob``; optionally
        ``decision`` (1 stop, 0 continue: the rule at this ``n``; without it a point stops
        when its probability exceeds ``prob_cutoff`` from ``min_subjects`` on),
        ``stopped_at`` (the ``n`` of the first crossing, on that row and every later one,
        NaN before) and ``provisional`` (bool: the subject's window was open at the cut-off).
    threshold : float
        Unacceptable event rate (y-axis label).
    prob_cutoff : float
        Stop when the posterior probability exceeds this.
    min_subjects : int
        Stopping is allowed from this many subjects on.
    max_subjects : int, optional
        Right end of the x-axis (default: the largest ``n``).
    beyond : (float, float), optional
        Subjects evaluated after the rule's ``max_subjects`` and their DLT-like events
        (ARD ``DLT_BEYOND`` ``n`` and ``n_events``); None when no subject is beyond the rule.
    figsize : (float, float)
        Figure size in inches.
    """
    events_col = "events" if "events" in monitor.columns else "x"
    missing = [c for c in ("n", events_col, "post_prob") if c not in monitor.columns]
    if missing:
        raise AnalysisError(f"F14.3.5 monitoring_plot: input 'monitor' lacks column(s) {missing} "
                            f"('events' or 'x'); it has {list(monitor.columns)}")
    data = monitor.assign(_n=as_float(monitor["n"]), _x=as_float(monitor[events_col]),
                          _p=as_float(monitor["post_prob"])).sort_values("_n", kind="stable")
    fig = new_figure(figsize)
    ax = fig.add_subplot()
    n, x, p = (data[c].to_numpy(float) for c in ("_n", "_x", "_p"))
    right = max([float(max_subjects or 0), float(min_subjects), *n[np.isfinite(n)], 1.0])
    ax.axhline(prob_cutoff, color=OKABE_ITO["vermillion"], ls="--", lw=1.2, gid="cutoff")
    ax.axvline(min_subjects, color=GREY, ls=":", lw=1.2, gid="min-subjects")
    ax.set_xlim(0.5, right + 0.5)
    ax.set_ylim(0, 1.05)
    ax.set_xticks(np.arange(1, int(right) + 1))
    ax.set_xlabel("Subjects evaluated")
    ax.set_ylabel(f"P(event rate > {threshold:g} | data)")
    finish_axes(ax)
    handles = [Line2D([], [], color=OKABE_ITO["vermillion"], ls="--",
                      label=f"Stopping cut-off ({prob_cutoff:g})"),
               Line2D([], [], color=GREY, ls=":", label=f"Minimum subjects ({min_subjects})")]
    if data.empty:
        no_data(ax, "No subjects evaluated")
        fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
        return fig
    if beyond is not None:
        k, m = (float(v) for v in beyond)
        size = "max_subjects" if max_subjects is None else f"{max_subjects}"
        title = ax.set_title(
            f"{k:g} further subject{'' if k == 1 else 's'} beyond the rule's {size}: "
            f"{m:g} DLT-like event{'' if m == 1 else 's'}, not covered by the rule",
            loc="left", fontsize=8, color=OKABE_ITO["vermillion"] if m else GREY)
        title.set_gid("beyond")
    ax.plot(n, p, color=OKABE_ITO["blue"], marker="o", ms=5, lw=1.5, gid="post_prob")
    if "decision" in data.columns:
        stop = as_float(data["decision"]) == 1
    else:
        stop = (p > prob_cutoff) & (n >= min_subjects)
    crossed = as_float(data["stopped_at"]) if "stopped_at" in data.columns else np.array([])
    crossed = crossed[np.isfinite(crossed)]
    if crossed.size:
        first = float(crossed[0])
        ax.axvspan(first - 0.25, right + 0.5, color=OKABE_ITO["vermillion"], alpha=0.08, lw=0,
                   gid="stopped")
        ax.annotate(f"Stopped at subject {first:g}", (first - 0.15, 0.03),
                    xycoords=("data", "axes fraction"), ha="left", va="bottom", fontsize=8,
                    color=OKABE_ITO["vermillion"], gid="stopped-label")
        handles.append(Patch(color=OKABE_ITO["vermillion"], alpha=0.15,
                             label=f"After the stop (boundary crossed at subject {first:g})"))
    if stop.any():
        ax.plot(n[stop], p[stop], ls="none", marker="o", ms=7, color=OKABE_ITO["vermillion"],
                gid="stop")
        handles.append(Line2D([], [], ls="none", marker="o", ms=7,
                              color=OKABE_ITO["vermillion"], label="Rule met (stop)"))
    prov = (data["provisional"].fillna(False).astype(bool).to_numpy()
            if "provisional" in data.columns else np.zeros(len(data), dtype=bool))
    if prov.any():
        for hit, colour in ((prov & ~stop, OKABE_ITO["blue"]),
                            (prov & stop, OKABE_ITO["vermillion"])):
            if hit.any():
                ax.plot(n[hit], p[hit], ls="none", marker="o", ms=7, mfc="white",
                        color=colour, mew=1.5, gid="provisional")
        handles.append(Line2D([], [], ls="none", marker="o", ms=7, mfc="white",
                              color=OKABE_ITO["blue"], mew=1.5,
                              label="Provisional (window open at the cut-off)"))
    for ni, xi, pi in zip(n, x, p, strict=True):
        if np.isfinite(pi):
            ax.annotate(f"{xi:g}/{ni:g}", (ni, pi), xytext=(0, 6), textcoords="offset points",
                        ha="center", fontsize=8, color=GREY, gid="events-label")
    handles.insert(0, Line2D([], [], color=OKABE_ITO["blue"], marker="o", ms=5,
                             label="Posterior probability (label: subjects with event / "
                                   "evaluated)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
    return fig
