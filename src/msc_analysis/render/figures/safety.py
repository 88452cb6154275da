"""Figures of section 14.3 (safety, Safety set): AE incidence, swimmer, hepatic safety.

- F14.3.1 :func:`ae_dotplot`: % of subjects with each preferred term, with exact CI, by SOC;
- F14.3.2 :func:`swimmer`: each subject's course from the first session: sessions, AEs by CTCAE
  grade, death, transplant, ongoing at the data cut-off;
- F14.3.3 :func:`hepatic_safety`: peak ALT against peak total bilirubin, as multiples of the ULN
  (Hy's-law lines) and as multiples of baseline.
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from msc_analysis.errors import AnalysisError
from msc_analysis.render.figures._common import (
    FIGSIZE,
    GREY,
    as_float,
    check_columns,
    finish_axes,
    finite_positive,
    log_limits,
    new_figure,
    no_data,
    set_log_axis,
    short_id,
    styled,
)
from msc_analysis.render.style import OKABE_ITO, PALETTE

__all__ = ["GRADE_STYLES", "STATUS_STYLES", "ae_dotplot", "hepatic_safety", "swimmer"]

logger = logging.getLogger(__name__)

_INCIDENCE_COLUMNS = ("SOC", "PT", "n", "N", "pct", "conf_low", "conf_high")

#: CTCAE grade -> (colour, marker) in the swimmer plot (shape and colour both code the grade).
GRADE_STYLES: dict[int, tuple[str, str]] = {
    1: (OKABE_ITO["sky_blue"], "o"),
    2: (OKABE_ITO["blue"], "s"),
    3: (OKABE_ITO["orange"], "^"),
    4: (OKABE_ITO["vermillion"], "D"),
    5: (OKABE_ITO["black"], "*"),
}
_GRADE_MISSING = (GREY, "o")

#: Subject status at the end of the bar -> (legend label, marker, colour); None: no marker.
STATUS_STYLES: dict[str, tuple[str, str | None, str]] = {
    "DIED": ("Death", "X", OKABE_ITO["black"]),
    "TRANSPLANTED": ("Liver transplant", "P", OKABE_ITO["bluish_green"]),
    "ONGOING": ("Ongoing at data cut-off", ">", OKABE_ITO["blue"]),
    "COMPLETED": ("Completed follow-up", None, OKABE_ITO["black"]),
    "DISCONTINUED": ("Discontinued", "|", OKABE_ITO["reddish_purple"]),
}
_BAR_COLOUR = "#BFDDF2"  # light sky blue (Okabe-Ito sky blue on white, 40 %)


# ------------------------------------------------------------------------------------------------
# F14.3.1 AE incidence dot plot
# ------------------------------------------------------------------------------------------------


@styled
def ae_dotplot(
    incidence: pd.DataFrame,
    *,
    group: str | None = None,
    conf_level: float = 0.95,
    xlabel: str = "Subjects with the event (%)",
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """F14.3.1: incidence of each preferred term (% of subjects, exact CI), grouped by SOC.

    Rows top to bottom in input order: each SOC (first appearance) as a bold heading, its PTs
    below. A dot at ``pct`` and a line from ``conf_low`` to ``conf_high`` (Clopper-Pearson, on
    the 0-100 scale); with ``group``, one colour per group (first appearance, Okabe-Ito order)
    and the groups side by side within a PT. Without ``group``, ``n/N`` is written on the right.
    No rows: a panel saying "No events".

    Parameters
    ----------
    incidence : DataFrame
        ``SOC``, ``PT``, ``n``, ``N``, ``pct``, ``conf_low``, ``conf_high`` (percent scale);
        plus the column named by ``group`` if given.
    group : str, optional
        Column of the treatment group (multi-arm data).
    conf_level : float
        Confidence level (legend).
    xlabel : str
        X-axis label.
    figsize : (float, float), optional
        Default: 7 in wide, 0.26 in per row + 1.4 in.
    """
    required = (*_INCIDENCE_COLUMNS, *((group,) if group else ()))
    check_columns(incidence, required, "F14.3.1 ae_dotplot", "incidence")
    data = incidence.assign(_soc=incidence["SOC"].astype(str), _pt=incidence["PT"].astype(str))
    keys = list(dict.fromkeys(zip(data["_soc"], data["_pt"], strict=True)))
    socs = list(dict.fromkeys(s for s, _ in keys))
    n_rows = len(keys) + len(socs)
    fig = new_figure(figsize or (FIGSIZE[0], max(2.5, 0.26 * n_rows + 1.4)))
    if data.empty:
        no_data(fig.add_subplot(), "No events")
        return fig
    labels, positions, bold = [], [], []
    y_of: dict[tuple[str, str], float] = {}
    y = float(n_rows - 1)
    for soc in socs:
        labels.append(soc)
        positions.append(y)
        bold.append(True)
        y -= 1
        for key in (k for k in keys if k[0] == soc):
            labels.append(f"   {key[1]}")
            positions.append(y)
            bold.append(False)
            y_of[key] = y
            y -= 1
    if group:
        ax = fig.add_subplot()
        ax_text = None
        groups = list(dict.fromkeys(data[group].astype(str)))
    else:
        ax, ax_text = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [5, 0.8]})
        groups = [""]
    width = 0.6
    offsets = (np.linspace(-width / 2, width / 2, len(groups)) if len(groups) > 1
               else np.zeros(1))
    handles = []
    for gi, name in enumerate(groups):
        sub = data if not group else data.loc[data[group].astype(str) == name]
        colour = PALETTE[gi % len(PALETTE)]
        ys = np.array([y_of[(s, p)] - offsets[gi] for s, p in zip(sub["_soc"], sub["_pt"],
                                                                  strict=True)])
        pct, low, high = as_float(sub["pct"]), as_float(sub["conf_low"]), as_float(
            sub["conf_high"])
        has_ci = np.isfinite(low) & np.isfinite(high)
        ax.hlines(ys[has_ci], low[has_ci], high[has_ci], color=colour, lw=1.2,
                  gid=f"ci-{gi}")
        ax.plot(pct, ys, ls="none", marker="o", ms=5.5, color=colour, gid=f"points-{gi}")
        handles.append(Line2D([], [], color=colour, marker="o", lw=1.2, label=name if group else
                              f"% of subjects ({100 * conf_level:g}% CI, Clopper-Pearson)"))
        if ax_text is not None:
            for yi, n, big_n in zip(ys, sub["n"], sub["N"], strict=True):
                ax_text.text(0.0, yi, f"{float(n):g}/{float(big_n):g}", ha="left",
                             va="center", fontsize=9)
    ax.set_yticks(positions, labels)
    for tick_label, is_soc in zip(ax.get_yticklabels(), bold, strict=True):
        if is_soc:
            tick_label.set_fontweight("bold")
    ax.set_ylim(-0.7, n_rows - 0.3)
    top = np.nanmax([*as_float(data["conf_high"]), *as_float(data["pct"]), 1.0])
    ax.set_xlim(0, min(100.0, top * 1.08) if top < 100 else 102)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", color="#E5E5E5", lw=0.6)
    ax.set_axisbelow(True)
    finish_axes(ax)
    if ax_text is not None:
        ax_text.set_axis_off()
        ax_text.set_xlim(0, 1)
        ax_text.text(0.0, n_rows - 0.3, "n/N", ha="left", va="bottom", fontsize=9,
                     fontweight="bold")
    title = f"Dots: %; lines: {100 * conf_level:g}% CI (Clopper-Pearson)" if group else None
    fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)),
               frameon=False, title=title)
    return fig


# ------------------------------------------------------------------------------------------------
# F14.3.2 swimmer
# ------------------------------------------------------------------------------------------------


def _end_days(subjects: pd.DataFrame, cutoff: dt.date | str | pd.Timestamp | None
              ) -> np.ndarray:
    end = as_float(subjects["ENDDY"])
    missing = ~np.isfinite(end)
    if missing.any() and cutoff is not None and "TRTSDT" in subjects.columns:
        start = pd.to_datetime(subjects["TRTSDT"], errors="coerce")
        days = (pd.Timestamp(cutoff) - start).dt.days.to_numpy(float)
        ongoing = subjects["STATUS"].astype(str).str.upper().eq("ONGOING").to_numpy()
        end = np.where(missing & ongoing, days, end)
    bad = ~np.isfinite(end)
    if bad.any():
        ids = subjects.loc[bad, "USUBJID"].astype(str).tolist()
        raise AnalysisError(f"F14.3.2 swimmer: no end day (ENDDY) for subject(s) {ids}; give "
                            "ENDDY, or TRTSDT and the cut-off date for ONGOING subjects")
    return end


@styled
def swimmer(
    subjects: pd.DataFrame,
    sessions: pd.DataFrame | None = None,
    aes: pd.DataFrame | None = None,
    cutoff: dt.date | str | pd.Timestamp | None = None,
    *,
    order: str = "duration",
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """F14.3.2: each subject's course, in days since the first session (day 0).

    One horizontal bar per subject from day 0 to ``ENDDY`` (``gid = "bar-<USUBJID>"``); at its
    end a marker for the status (:data:`STATUS_STYLES`: death, transplant, an arrow for
    ongoing at the cut-off, a tick for discontinued, none for completed); sessions as small
    black triangles above the bar; AEs on the bar, colour and shape by CTCAE grade
    (:data:`GRADE_STYLES`; a missing grade in grey). Legends list only what is shown.

    Parameters
    ----------
    subjects : DataFrame
        ``USUBJID``, ``ENDDY`` (days from the first session to last contact, death, transplant
        or cut-off; as in F14.3.4's time axis), ``STATUS`` (DIED, TRANSPLANTED, ONGOING,
        COMPLETED, DISCONTINUED); optional ``TRTSDT`` (first-session date) to compute
        ``ENDDY`` of ONGOING subjects from ``cutoff`` when it is missing.
    sessions : DataFrame, optional
        ``USUBJID``, ``DAY`` (days since the first session: 0 for the first).
    aes : DataFrame, optional
        ``USUBJID``, ``DAY`` (onset, days since the first session), ``GRADE`` (1-5, missing
        allowed).
    cutoff : date, optional
        Data cut-off date (named in the legend; fills ``ENDDY`` of ONGOING subjects).
    order : {"duration", "subject"}
        Longest course at the top, or ``USUBJID`` order top to bottom.
    figsize : (float, float), optional
        Default: 7 in wide, 0.32 in per subject + 1.5 in.
    """
    check_columns(subjects, ("USUBJID", "ENDDY", "STATUS"), "F14.3.2 swimmer", "subjects")
    if sessions is not None:
        check_columns(sessions, ("USUBJID", "DAY"), "F14.3.2 swimmer", "sessions")
    if aes is not None:
        check_columns(aes, ("USUBJID", "DAY", "GRADE"), "F14.3.2 swimmer", "aes")
    if order not in ("duration", "subject"):
        raise AnalysisError(f"F14.3.2 swimmer: order must be 'duration' or 'subject', "
                            f"got {order!r}")
    k = len(subjects)
    fig = new_figure(figsize or (FIGSIZE[0], max(2.5, 0.32 * k + 1.5)))
    if k == 0:
        no_data(fig.add_subplot(), "No subjects")
        return fig
    status = subjects["STATUS"].astype(str).str.strip().str.upper()
    unknown = sorted(set(status) - set(STATUS_STYLES))
    if unknown:
        raise AnalysisError(f"F14.3.2 swimmer: unknown STATUS {unknown}; "
                            f"allowed {list(STATUS_STYLES)}")
    frame = pd.DataFrame({"USUBJID": subjects["USUBJID"].astype(str).to_numpy(),
                          "END": _end_days(subjects, cutoff), "STATUS": status.to_numpy()})
    if order == "duration":
        frame = frame.sort_values(["END", "USUBJID"], ascending=[False, True], kind="stable")
    else:
        frame = frame.sort_values("USUBJID", kind="stable")
    frame = frame.assign(Y=np.arange(k)[::-1].astype(float))
    y_of = dict(zip(frame["USUBJID"], frame["Y"], strict=True))
    ax = fig.add_subplot()
    bars = ax.barh(frame["Y"], frame["END"], left=0.0, height=0.5, color=_BAR_COLOUR,
                   edgecolor="none")
    for bar, usubjid in zip(bars, frame["USUBJID"], strict=True):
        bar.set_gid(f"bar-{usubjid}")
    handles: list = [Patch(color=_BAR_COLOUR, label="Follow-up")]
    x_max = float(frame["END"].max())
    shown_days: list[np.ndarray] = []

    if sessions is not None and len(sessions):
        s = sessions.assign(_id=sessions["USUBJID"].astype(str), _d=as_float(sessions["DAY"]))
        s = _known(s, y_of, "sessions")
        if len(s):
            ax.plot(s["_d"], s["_id"].map(y_of) + 0.38, ls="none", marker="v", ms=4,
                    color=OKABE_ITO["black"], gid="sessions")
            handles.append(Line2D([], [], ls="none", marker="v", ms=5,
                                  color=OKABE_ITO["black"], label="Session"))
            x_max = max(x_max, float(np.nanmax(s["_d"])))
            shown_days.append(s["_d"].to_numpy(float))

    if aes is not None and len(aes):
        a = aes.assign(_id=aes["USUBJID"].astype(str), _d=as_float(aes["DAY"]),
                       _g=as_float(aes["GRADE"]))
        a = _known(a, y_of, "aes")
        grades = sorted({int(g) for g in a["_g"] if np.isfinite(g)})
        for g in grades:
            colour, marker = GRADE_STYLES.get(g, _GRADE_MISSING)
            sub = a.loc[a["_g"] == g]
            ax.plot(sub["_d"], sub["_id"].map(y_of), ls="none", marker=marker,
                    ms=9 if marker == "*" else 6,
                    color=colour, markeredgecolor="white", markeredgewidth=0.4,
                    gid=f"ae-grade-{g}")
            handles.append(Line2D([], [], ls="none", marker=marker,
                                  ms=9 if marker == "*" else 6, color=colour,
                                  label=f"AE grade {g}"))
        nog = a.loc[~np.isfinite(a["_g"])]
        if len(nog):
            ax.plot(nog["_d"], nog["_id"].map(y_of), ls="none", marker="o", ms=6,
                    markerfacecolor="none", color=GREY, gid="ae-grade-missing")
            handles.append(Line2D([], [], ls="none", marker="o", ms=6, markerfacecolor="none",
                                  color=GREY, label="AE, grade missing"))
        if len(a):
            x_max = max(x_max, float(np.nanmax(a["_d"])))
            shown_days.append(a["_d"].to_numpy(float))

    for code, (text, marker, colour) in STATUS_STYLES.items():
        sub = frame.loc[frame["STATUS"] == code]
        if sub.empty or marker is None:
            continue
        x = sub["END"] + (0.012 * x_max if code == "ONGOING" else 0.0)
        ax.plot(x, sub["Y"], ls="none", marker=marker, ms=8 if marker != "|" else 12,
                mew=2.5 if marker == "|" else 1.0, color=colour, gid=f"status-{code}")
        if code == "ONGOING" and cutoff is not None:
            text = f"{text} ({pd.Timestamp(cutoff).date().isoformat()})"
        handles.append(Line2D([], [], ls="none", marker=marker, ms=8,
                              mew=2.5 if marker == "|" else 1.0, color=colour, label=text))
    ax.set_yticks(frame["Y"], [short_id(u) for u in frame["USUBJID"]])
    ax.set_ylim(-0.7, k - 0.2)
    # room left of day 0 (and of any event before it), so that markers there are not cut
    x_min = min(0.0, *(float(np.nanmin(d)) for d in shown_days if len(d)))
    ax.set_xlim(x_min - (0.02 * x_max + 1), x_max * 1.05 + 1)
    ax.set_xlabel("Days since the first session")
    ax.set_ylabel("Subject")
    finish_axes(ax)
    fig.legend(handles=handles, loc="outside right upper", frameon=False)
    return fig


def _known(frame: pd.DataFrame, y_of: dict[str, float], name: str) -> pd.DataFrame:
    """Rows of known subjects with a finite day; others are logged, not drawn."""
    keep = frame["_id"].isin(list(y_of)) & np.isfinite(frame["_d"])
    if (~keep).any():
        logger.warning("F14.3.2 swimmer: %d %s row(s) not drawn (unknown subject or no day): %s",
                       int((~keep).sum()), name, sorted(set(frame.loc[~keep, "_id"])))
    return frame.loc[keep]


# ------------------------------------------------------------------------------------------------
# F14.3.3 hepatic safety
# ------------------------------------------------------------------------------------------------

_HEPATIC_COLUMNS = ("USUBJID", "ALT_ULN", "TBIL_ULN", "ALT_BASE", "TBIL_BASE")

#: Quadrant labels of the ULN panel (eDISH), at (x, y) in axes fraction.
_QUADRANTS = (
    (0.98, 0.98, "right", "top", "Potential Hy's law"),
    (0.02, 0.98, "left", "top", "Hyperbilirubinaemia"),
    (0.98, 0.02, "right", "bottom", "Temple's corollary"),
)


#: Where a point's label may go, in order of preference: offset (points) from the point and
#: horizontal alignment (above right, below right, above left, below left, then further out).
_LABEL_SPOTS: tuple[tuple[float, float, str], ...] = (
    (3, 3, "left"), (3, -11, "left"), (-3, 3, "right"), (-3, -11, "right"),
    (3, 11, "left"), (-3, 11, "right"), (3, -19, "left"), (-3, -19, "right"),
)


def _label_points(ax: Axes, x: np.ndarray, y: np.ndarray, labels: list[str],
                  fontsize: float = 8) -> None:
    """Write each label next to its point, moving it round the point to avoid the labels
    already written and the other points (greedy, top to bottom; the last spot if none is free);
    a label set further out than next to its point gets a thin leader line.

    Positions are estimated from the axes before the figure is laid out (text boxes: 0.62 em a
    character, 1 em high), which the layout changes little; the labels are annotations
    (``gid="label"``) offset in points, so they stay next to their points whatever the layout.
    """
    to_points = 72.0 / ax.figure.dpi
    where = ax.transData.transform(np.column_stack([x, y])) * to_points
    placed: list[tuple[float, float, float, float]] = []
    dots = [(px - 3.5, py - 3.5, px + 3.5, py + 3.5) for px, py in where]
    for i in sorted(range(len(labels)), key=lambda k: (-where[k, 1], where[k, 0])):
        px, py = where[i]
        width, height = 0.62 * fontsize * len(labels[i]), fontsize
        boxes = []
        for dx, dy, ha in _LABEL_SPOTS:
            left = px + dx - (width if ha == "right" else 0.0)
            boxes.append((left, py + dy, left + width, py + dy + height))
        spot = _first_free(boxes, [*placed, *(b for j, b in enumerate(dots) if j != i)])
        dx, dy, ha = _LABEL_SPOTS[spot]
        placed.append(boxes[spot])
        # a label set further out than next to its point gets a thin line to it
        leader = {"arrowstyle": "-", "color": GREY, "lw": 0.5, "shrinkA": 0, "shrinkB": 4} \
            if spot >= 4 else None
        ax.annotate(labels[i], (x[i], y[i]), xytext=(dx, dy), textcoords="offset points",
                    ha=ha, fontsize=fontsize, color=GREY, gid="label", arrowprops=leader)


def _first_free(boxes: list[tuple[float, float, float, float]],
                obstacles: list[tuple[float, float, float, float]]) -> int:
    """Index of the first box that overlaps no obstacle (the last box if none is free)."""
    for k, box in enumerate(boxes):
        if not any(_overlap(box, b) for b in obstacles):
            return k
    return len(boxes) - 1


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Whether two boxes (left, bottom, right, top) overlap."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@styled
def hepatic_safety(
    peaks: pd.DataFrame,
    *,
    alt_limit: float = 3.0,
    tbil_limit: float = 2.0,
    label_points: bool = True,
    figsize: tuple[float, float] = FIGSIZE,
) -> Figure:
    """F14.3.3: peak ALT against peak total bilirubin (eDISH style), log axes, two panels.

    Left: multiples of the ULN with the Hy's-law lines at ``alt_limit`` x ULN (ALT, vertical)
    and ``tbil_limit`` x ULN (TBil, horizontal) and the quadrant names. Right: multiples of
    the subject's baseline (every subject starts abnormal) with dotted lines at 1 (no change)
    and dashed lines at the same multiples. One point per subject (``gid="points"``), labelled
    with the short subject id; subjects without both values of a panel are counted in it.

    Parameters
    ----------
    peaks : DataFrame
        ``USUBJID``, ``ALT_ULN``, ``TBIL_ULN`` (peak post-baseline value / ULN), ``ALT_BASE``,
        ``TBIL_BASE`` (peak post-baseline value / baseline value).
    alt_limit, tbil_limit : float
        Reference multiples (Hy's law: 3 and 2).
    label_points : bool
        Write the short subject id next to each point.
    figsize : (float, float)
        Figure size in inches.
    """
    check_columns(peaks, _HEPATIC_COLUMNS, "F14.3.3 hepatic_safety", "peaks")
    fig = new_figure(figsize)
    axes = fig.subplots(1, 2)
    panels = (("ALT_ULN", "TBIL_ULN", "x ULN"), ("ALT_BASE", "TBIL_BASE", "x baseline"))
    for ax, (xcol, ycol, unit) in zip(axes, panels, strict=True):
        x, y = as_float(peaks[xcol]), as_float(peaks[ycol])
        ok = finite_positive(x) & finite_positive(y)
        ax.set_xlabel(f"Peak ALT ({unit})")
        ax.set_ylabel(f"Peak total bilirubin ({unit})")
        ax.set_title("Multiples of ULN" if unit == "x ULN" else "Multiples of baseline")
        finish_axes(ax)
        if not ok.any():
            no_data(ax, "No values")
            continue
        refs_x = (alt_limit,) if unit == "x ULN" else (1.0, alt_limit)
        refs_y = (tbil_limit,) if unit == "x ULN" else (1.0, tbil_limit)
        ax.plot(x[ok], y[ok], ls="none", marker="o", ms=6, color=OKABE_ITO["blue"],
                alpha=0.9, gid="points")
        set_log_axis(ax, "x", *log_limits(list(x[ok]), refs=refs_x, pad=1.6))
        set_log_axis(ax, "y", *log_limits(list(y[ok]), refs=refs_y, pad=1.6))
        if label_points:
            _label_points(ax, x[ok], y[ok], [short_id(u) for u in peaks["USUBJID"][ok]])
        ax.axvline(alt_limit, color=OKABE_ITO["vermillion"], ls="--", lw=1, gid="ref-alt")
        ax.axhline(tbil_limit, color=OKABE_ITO["vermillion"], ls="--", lw=1, gid="ref-tbil")
        if unit == "x ULN":
            for qx, qy, ha, va, text in _QUADRANTS:
                ax.text(qx, qy, text, transform=ax.transAxes, ha=ha, va=va, fontsize=8,
                        color=GREY)
        else:
            ax.axvline(1.0, color=GREY, ls=":", lw=1, gid="ref-one-x")
            ax.axhline(1.0, color=GREY, ls=":", lw=1, gid="ref-one-y")
        n_out = int((~ok).sum())
        if n_out:
            ax.text(0.02, 0.02, f"{n_out} subject(s) without values", transform=ax.transAxes,
                    ha="left", va="bottom", fontsize=8, color=GREY)
    handles = [Line2D([], [], color=OKABE_ITO["vermillion"], ls="--",
                      label=f"{alt_limit:g} x ALT, {tbil_limit:g} x TBil"),
               Line2D([], [], color=GREY, ls=":", label="No change from baseline")]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
    return fig
