"""Figures of section 14.2 (biomarkers, Full Analysis Set).

- F14.2.1 :func:`spaghetti` / :func:`spaghetti_grid`: individual trajectories over the scheduled
  visits with the (geometric) mean and its confidence interval;
- F14.2.2 :func:`prepost_paired`: pre- and post-session values, one row of panels per
  parameter, one panel per session;
- F14.2.3 :func:`waterfall`: percent change from baseline per subject, one row of panels per
  parameter, one panel per visit (default Day 7 and Day 28);
- F14.2.4 :func:`forest`: geometric mean ratios post/pre with confidence intervals.

Each function takes derived data frames (or rows built from the ARD by the caller) and returns a
:class:`matplotlib.figure.Figure`; the caller saves it (``render.style.save_figure``) and closes it.
The figures over several parameters take them as :class:`ParameterSpec` objects, in the order
drawn: :func:`spaghetti_grid` (one panel each), :func:`prepost_paired` and :func:`waterfall` (one
row of panels each; one parameter gives one row).
"""

from __future__ import annotations

import logging
import math
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from scipy import special

from msc_analysis.errors import AnalysisError
from msc_analysis.render.figures._common import (
    FIGSIZE,
    GREY,
    ParameterSpec,
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
from msc_analysis.render.formatting import fmt_ci, fmt_num
from msc_analysis.render.style import OKABE_ITO

__all__ = [
    "DEFAULT_VISITS",
    "PREPOST_ROW_HEIGHT",
    "WATERFALL_ROW_HEIGHT",
    "forest",
    "mean_ci_by_visit",
    "prepost_paired",
    "spaghetti",
    "spaghetti_grid",
    "waterfall",
]

logger = logging.getLogger(__name__)

#: Scheduled visits of the biomarker profiles: (AVISIT, AVISITN), AVISITN being the study day.
DEFAULT_VISITS: tuple[tuple[str, float], ...] = (
    ("Baseline", 0.0), ("Day 7", 7.0), ("Day 14", 14.0), ("Day 28", 28.0))

_VALUE_COLUMNS = ("USUBJID", "AVISIT", "AVISITN", "AVAL")
_MEAN_COLUMNS = ("AVISIT", "AVISITN", "estimate", "conf_low", "conf_high")
_PAIR_COLUMNS = ("USUBJID", "SESSNUM", "PRE", "POST")
_PCHG_COLUMNS = ("USUBJID", "AVISIT", "PCHG")
_FOREST_COLUMNS = ("label", "estimate", "conf_low", "conf_high", "n")

_DECREASE = OKABE_ITO["blue"]
_INCREASE = OKABE_ITO["vermillion"]
_NO_CHANGE = GREY


def _pct(conf_level: float) -> str:
    return f"{100 * conf_level:g}%"


def _filter_param(frame: pd.DataFrame, paramcd: str | None) -> pd.DataFrame:
    if paramcd is not None and "PARAMCD" in frame.columns:
        return frame.loc[frame["PARAMCD"].astype(str) == str(paramcd)]
    return frame


# ------------------------------------------------------------------------------------------------
# F14.2.1 spaghetti
# ------------------------------------------------------------------------------------------------


def mean_ci_by_visit(values: pd.DataFrame, log_scale: bool, conf_level: float = 0.95
                     ) -> pd.DataFrame:
    """Mean (geometric mean on the log scale) and t confidence interval at each visit.

    Linear: ``mean +/- t(1 - alpha/2, n - 1) * sd / sqrt(n)``; log: the same on ``log(AVAL)``,
    back-transformed (non-positive values are left out). The interval is missing when n < 2.

    Parameters
    ----------
    values : DataFrame
        Columns ``AVISIT``, ``AVISITN``, ``AVAL``.
    log_scale : bool
        Geometric mean and interval.
    conf_level : float
        Confidence level.

    Returns
    -------
    DataFrame
        ``AVISIT``, ``AVISITN``, ``n``, ``estimate``, ``conf_low``, ``conf_high``, by AVISITN.
    """
    check_columns(values, ("AVISIT", "AVISITN", "AVAL"), "mean_ci_by_visit", "values")
    rows = []
    frame = values.assign(_x=as_float(values["AVAL"]), _n=as_float(values["AVISITN"]))
    for (visitn, visit), grp in frame.groupby(["_n", "AVISIT"], sort=True):
        x = grp["_x"].to_numpy(float)
        x = x[finite_positive(x)] if log_scale else x[np.isfinite(x)]
        if log_scale:
            x = np.log(x)
        n = int(x.size)
        est = float(np.mean(x)) if n else math.nan
        if n >= 2:
            # t quantile as scipy.special.stdtrit (what scipy.stats.t.ppf computes), so that
            # drawing this figure does not import scipy.stats
            t = float(special.stdtrit(n - 1, 0.5 + conf_level / 2))
            half = t * float(np.std(x, ddof=1)) / math.sqrt(n)
            low, high = est - half, est + half
        else:
            low = high = math.nan
        if log_scale:
            est, low, high = math.exp(est), math.exp(low), math.exp(high)
        rows.append({"AVISIT": str(visit), "AVISITN": float(visitn), "n": n, "estimate": est,
                     "conf_low": low, "conf_high": high})
    return pd.DataFrame(rows, columns=["AVISIT", "AVISITN", "n", "estimate", "conf_low",
                                       "conf_high"])


def _visit_axis(values: pd.DataFrame, mean_ci: pd.DataFrame | None,
                visits: Sequence[tuple[str, float]] | None) -> list[tuple[str, float]]:
    """Visits (name, AVISITN) shown on the x-axis: the scheduled ones plus any in the data."""
    found: dict[str, float] = {str(v): float(n) for v, n in (visits or DEFAULT_VISITS)}
    for frame in (values, mean_ci):
        if frame is None or frame.empty:
            continue
        for v, n in zip(frame["AVISIT"].astype(str), as_float(frame["AVISITN"]), strict=True):
            found.setdefault(v, float(n))
    return sorted(found.items(), key=lambda item: (item[1], item[0]))


def _draw_spaghetti(ax: Axes, values: pd.DataFrame, spec: ParameterSpec,
                    mean_ci: pd.DataFrame | None, conf_level: float,
                    visits: Sequence[tuple[str, float]] | None) -> None:
    values = values.assign(_x=as_float(values["AVISITN"]), _y=as_float(values["AVAL"]))
    values = values.loc[np.isfinite(values["_y"])]
    n_hidden = 0
    if spec.log_scale:
        keep = finite_positive(values["_y"].to_numpy(float))
        n_hidden = int((~keep).sum())
        values = values.loc[keep]
    if values.empty:
        no_data(ax, f"{spec.label}: no values")
        ax.set_title(spec.label)
        return
    if mean_ci is None:
        mean_ci = mean_ci_by_visit(values.drop(columns=["_x", "_y"]), spec.log_scale, conf_level)
    axis_visits = _visit_axis(values, mean_ci, visits)
    for usubjid, grp in values.sort_values(["USUBJID", "_x"], kind="stable").groupby(
            "USUBJID", sort=True):
        ax.plot(grp["_x"], grp["_y"], color=GREY, lw=0.8, alpha=0.8, marker=".", ms=4,
                gid=f"subject-{usubjid}", zorder=1)
    m = mean_ci.assign(_x=as_float(mean_ci["AVISITN"])).sort_values("_x", kind="stable")
    est = as_float(m["estimate"])
    low, high = as_float(m["conf_low"]), as_float(m["conf_high"])
    ok = np.isfinite(est)
    err = np.vstack([np.where(np.isfinite(low), est - low, 0.0),
                     np.where(np.isfinite(high), high - est, 0.0)])
    ax.errorbar(m["_x"].to_numpy(float)[ok], est[ok], yerr=err[:, ok], color=OKABE_ITO["black"],
                lw=1.8, marker="o", ms=5, capsize=3, zorder=3, gid="mean")
    ax.set_xticks([n for _, n in axis_visits], [v for v, _ in axis_visits])
    xs = [n for _, n in axis_visits]
    span = (max(xs) - min(xs)) or 1.0
    ax.set_xlim(min(xs) - 0.05 * span, max(xs) + 0.05 * span)
    observed = set(values["AVISIT"].astype(str))
    for visit, n in axis_visits:
        if visit not in observed:
            ax.text(n, 0.5, "no values", transform=ax.get_xaxis_transform(), rotation=90,
                    ha="center", va="center", fontsize=9, color=GREY, gid=f"no-values-{visit}")
    if spec.log_scale:
        ys = [*values["_y"], *low[np.isfinite(low)], *high[np.isfinite(high)]]
        set_log_axis(ax, "y", *log_limits(ys, pad=1.15))
    if n_hidden:
        ax.text(0.99, 0.99, f"{n_hidden} value(s) <= 0 not shown", transform=ax.transAxes,
                ha="right", va="top", fontsize=9, color=GREY)
    ax.set_ylabel(spec.axis_label())
    ax.set_title(spec.label)
    finish_axes(ax)


def _spaghetti_legend(log_scale: bool, conf_level: float) -> list[Line2D]:
    what = "Geometric mean" if log_scale else "Mean"
    return [
        Line2D([], [], color=GREY, lw=0.8, marker=".", label="Individual subjects"),
        Line2D([], [], color=OKABE_ITO["black"], lw=1.8, marker="o",
               label=f"{what} ({_pct(conf_level)} CI)"),
    ]


@styled
def spaghetti(
    values: pd.DataFrame,
    paramcd: str,
    label: str,
    unit: str = "",
    log_scale: bool = False,
    mean_ci: pd.DataFrame | None = None,
    *,
    conf_level: float = 0.95,
    visits: Sequence[tuple[str, float]] | None = None,
    figsize: tuple[float, float] = FIGSIZE,
) -> Figure:
    """F14.2.1: individual trajectories of one biomarker over the scheduled visits.

    One thin grey line per subject (``gid = "subject-<USUBJID>"``), with the mean and its
    confidence interval (geometric, on a log axis, when ``log_scale``) in black (``gid="mean"``).
    The x position of a visit is its ``AVISITN`` (the study day); a scheduled visit without any
    value is labelled "no values".

    Parameters
    ----------
    values : DataFrame
        ``USUBJID``, ``AVISIT``, ``AVISITN``, ``AVAL`` (and optionally ``PARAMCD``, then only
        rows of ``paramcd`` are used). Missing ``AVAL`` is skipped; on a log axis values <= 0
        are not shown (the panel says how many).
    paramcd, label, unit : str
        Parameter code, label and unit (axis label ``"label (unit)"``).
    log_scale : bool
        Log y-axis and geometric mean.
    mean_ci : DataFrame, optional
        ``AVISIT``, ``AVISITN``, ``estimate``, ``conf_low``, ``conf_high`` (optionally
        ``PARAMCD``), e.g. from the PP-FU ARD rows. Default: :func:`mean_ci_by_visit` of
        ``values`` (t interval).
    conf_level : float
        Confidence level, for the legend and the default interval.
    visits : sequence of (str, float), optional
        Scheduled visits (AVISIT, AVISITN) always on the x-axis; default :data:`DEFAULT_VISITS`.
    figsize : (float, float)
        Figure size in inches.
    """
    check_columns(values, _VALUE_COLUMNS, "F14.2.1 spaghetti", "values")
    if mean_ci is not None:
        check_columns(mean_ci, _MEAN_COLUMNS, "F14.2.1 spaghetti", "mean_ci")
        mean_ci = _filter_param(mean_ci, paramcd)
    spec = ParameterSpec(paramcd, label, unit, log_scale)
    fig = new_figure(figsize)
    ax = fig.add_subplot()
    _draw_spaghetti(ax, _filter_param(values, paramcd), spec, mean_ci, conf_level, visits)
    ax.set_title("")
    ax.set_xlabel("Visit")
    ax.legend(handles=_spaghetti_legend(log_scale, conf_level), loc="best", frameon=False)
    return fig


@styled
def spaghetti_grid(
    values: pd.DataFrame,
    parameters: Sequence[ParameterSpec],
    mean_ci: pd.DataFrame | None = None,
    *,
    ncols: int = 3,
    conf_level: float = 0.95,
    visits: Sequence[tuple[str, float]] | None = None,
    panel_size: tuple[float, float] = (2.9, 2.4),
) -> Figure:
    """F14.2.1 as small multiples: one :func:`spaghetti` panel per parameter.

    Parameters
    ----------
    values : DataFrame
        ``PARAMCD``, ``USUBJID``, ``AVISIT``, ``AVISITN``, ``AVAL``.
    parameters : sequence of ParameterSpec
        Panels in order (``ParameterSpec.from_parameter(sap.parameters[code])`` builds one).
    mean_ci : DataFrame, optional
        ``PARAMCD``, ``AVISIT``, ``AVISITN``, ``estimate``, ``conf_low``, ``conf_high``; default
        computed per parameter by :func:`mean_ci_by_visit`.
    ncols : int
        Panels per row.
    conf_level : float
        Confidence level.
    visits : sequence of (str, float), optional
        Scheduled visits always on the x-axis.
    panel_size : (float, float)
        Size of one panel in inches.
    """
    check_columns(values, ("PARAMCD", *_VALUE_COLUMNS), "F14.2.1 spaghetti_grid", "values")
    if mean_ci is not None:
        check_columns(mean_ci, ("PARAMCD", *_MEAN_COLUMNS), "F14.2.1 spaghetti_grid", "mean_ci")
    specs = list(parameters)
    if not specs:
        fig = new_figure(FIGSIZE)
        no_data(fig.add_subplot(), "No parameters")
        return fig
    ncols = max(1, min(ncols, len(specs)))
    nrows = math.ceil(len(specs) / ncols)
    fig = new_figure((panel_size[0] * ncols, panel_size[1] * nrows + 0.5))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, spec in enumerate(specs):
        ax = axes[i // ncols][i % ncols]
        mc = None if mean_ci is None else _filter_param(mean_ci, spec.paramcd)
        _draw_spaghetti(ax, _filter_param(values, spec.paramcd), spec, mc, conf_level, visits)
        ax.set_ylabel(spec.unit)
        ax.tick_params(axis="x", labelrotation=35)
        for tick_label in ax.get_xticklabels():
            tick_label.set_horizontalalignment("right")
    for j in range(len(specs), nrows * ncols):
        axes[j // ncols][j % ncols].set_axis_off()
    any_log = any(s.log_scale for s in specs)
    handles = _spaghetti_legend(False, conf_level)
    if any_log:
        handles[1].set_label(f"Mean ({_pct(conf_level)} CI; geometric on log axes)")
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
    return fig


# ------------------------------------------------------------------------------------------------
# F14.2.2 and F14.2.3: one row of panels per parameter
# ------------------------------------------------------------------------------------------------

#: Height in inches of one row of panels of :func:`prepost_paired` (one parameter).
PREPOST_ROW_HEIGHT = 2.0
#: Height in inches of one row of panels of :func:`waterfall` (taller: subject ids, x label).
WATERFALL_ROW_HEIGHT = 2.2
#: Height in inches added to the rows for the column titles and the shared legend.
_GRID_MARGIN = 0.8
#: Characters of a 10 pt axis label per inch (DejaVu Sans: about 13.5), for wrapping.
_CHARS_PER_INCH = 13
#: Width in inches of one character of a 9 pt tick label (DejaVu Sans digits: 0.074).
_TICK_CHAR = 0.075
#: Space in inches one rotated 9 pt tick label needs along the x-axis (its line height).
_TICK_PITCH = 0.16


def _as_specs(parameters: ParameterSpec | Sequence[ParameterSpec], figure: str
              ) -> list[ParameterSpec]:
    """The parameters as a list, checked to be :class:`ParameterSpec` objects."""
    specs = [parameters] if isinstance(parameters, ParameterSpec) else list(parameters)
    for spec in specs:
        if not isinstance(spec, ParameterSpec):
            raise AnalysisError(
                f"{figure}: parameters must be ParameterSpec objects (e.g. "
                f"ParameterSpec.from_parameter(sap.parameters['TBIL'])), got {spec!r}")
    return specs


def _check_rows(frame: pd.DataFrame, columns: Sequence[str], specs: Sequence[ParameterSpec],
                figure: str, name: str) -> None:
    """Column check; with several parameters the rows must say theirs (``PARAMCD``)."""
    needed = (*columns, "PARAMCD") if len(specs) > 1 else tuple(columns)
    check_columns(frame, needed, figure, name)


def _rows_figure(nrows: int, ncols: int, row_height: float,
                 figsize: tuple[float, float] | None) -> tuple[Figure, np.ndarray]:
    """A figure of ``nrows`` x ``ncols`` panels, y shared within each row.

    Default size: :data:`FIGSIZE` wide; ``row_height`` per row plus a margin for the column
    titles and the legend, and never less tall than :data:`FIGSIZE` (one row keeps its size).
    """
    size = figsize or (FIGSIZE[0], max(FIGSIZE[1], nrows * row_height + _GRID_MARGIN))
    fig = new_figure(size)
    return fig, fig.subplots(nrows, ncols, sharey="row", squeeze=False)


def _row_label(text: str, unit: str, length: float) -> str:
    """Y-axis label of one row: ``"text (unit)"``, wrapped to fit ``length`` inches.

    When it is too long for one line, the words are wrapped and the unit gets its own line.
    """
    width = max(12, int(length * _CHARS_PER_INCH))
    full = f"{text} ({unit})" if unit else text
    if len(full) <= width:
        return full
    lines = textwrap.wrap(text, width) or [text]
    return "\n".join([*lines, f"({unit})"] if unit else lines)


def _empty_row(row: Sequence[Axes], message: str) -> None:
    """Every panel of a row without values says so (``gid="no-data"``)."""
    for ax in row:
        no_data(ax, message)


def _top_titles(axes: np.ndarray, titles: Sequence[str]) -> None:
    """Column titles on the top row only."""
    for ax, title in zip(axes[0], titles, strict=True):
        ax.set_title(title)


# ------------------------------------------------------------------------------------------------
# F14.2.2 pre/post paired plots
# ------------------------------------------------------------------------------------------------


def _summary(x: np.ndarray, log_scale: bool) -> float:
    x = x[finite_positive(x)] if log_scale else x[np.isfinite(x)]
    if not x.size:
        return math.nan
    return float(np.exp(np.mean(np.log(x)))) if log_scale else float(np.mean(x))


def _session_values(pairs: pd.DataFrame, spec: ParameterSpec) -> pd.DataFrame:
    """Rows of one parameter with ``_pre``/``_post`` (NaN when not plottable) and ``_s``."""
    data = _filter_param(pairs, spec.paramcd)
    data = data.assign(_pre=as_float(data["PRE"]), _post=as_float(data["POST"]),
                       _s=as_float(data["SESSNUM"]))
    ok = finite_positive if spec.log_scale else np.isfinite
    data = data.assign(_pre=data["_pre"].where(ok(data["_pre"].to_numpy(float))),
                       _post=data["_post"].where(ok(data["_post"].to_numpy(float))))
    return data.loc[(data["_pre"].notna() | data["_post"].notna()) & np.isfinite(data["_s"])]


def _draw_prepost_panel(ax: Axes, grp: pd.DataFrame, spec: ParameterSpec) -> None:
    """One session of one parameter: a line per subject and the (geometric) mean."""
    code = spec.paramcd
    grp = grp.sort_values("USUBJID", kind="stable")
    for usubjid, pre, post in zip(grp["USUBJID"], grp["_pre"].to_numpy(float),
                                  grp["_post"].to_numpy(float), strict=True):
        if math.isfinite(pre) and math.isfinite(post):
            colour = _DECREASE if post < pre else _INCREASE if post > pre else _NO_CHANGE
            ax.plot([0, 1], [pre, post], color=colour, lw=0.9, marker="o", ms=3.5,
                    alpha=0.85, gid=f"subject-{code}-{usubjid}")
        else:
            x, y = (0, pre) if math.isfinite(pre) else (1, post)
            ax.plot([x], [y], color=GREY, marker="o", ms=3.5, ls="none",
                    gid=f"single-{code}-{usubjid}")
    both = grp.loc[grp["_pre"].notna() & grp["_post"].notna()]
    if grp.empty:
        ax.text(0.5, 0.5, "No values", transform=ax.transAxes, ha="center", va="center",
                fontsize=9, color=GREY, gid=f"no-values-{code}")
    elif both.empty:
        ax.text(0.5, 0.5, "No paired values", transform=ax.transAxes, ha="center",
                va="center", fontsize=9, color=GREY, gid=f"no-pairs-{code}")
    else:
        ax.plot([0, 1], [_summary(both["_pre"].to_numpy(float), spec.log_scale),
                         _summary(both["_post"].to_numpy(float), spec.log_scale)],
                color=OKABE_ITO["black"], lw=2.5, marker="D", ms=6, zorder=4,
                gid=f"summary-{code}")
    ax.set_xticks([0, 1], ["Pre", "Post"])
    ax.set_xlim(-0.3, 1.3)
    finish_axes(ax)


def _mean_label(specs: Sequence[ParameterSpec]) -> str:
    """Legend text of the summary line: geometric, arithmetic, or both kinds of axes."""
    logs = {s.log_scale for s in specs}
    if logs == {True}:
        return "Geometric mean (subjects with both values)"
    if logs == {False}:
        return "Mean (subjects with both values)"
    return "Mean of subjects with both values (geometric on log axes)"


@styled
def prepost_paired(
    pairs: pd.DataFrame,
    parameters: ParameterSpec | Sequence[ParameterSpec],
    *,
    row_height: float = PREPOST_ROW_HEIGHT,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """F14.2.2: pre- versus post-session values, one row per parameter, one column per session.

    In each panel every subject is a line from PRE to POST
    (``gid = "subject-<PARAMCD>-<USUBJID>"``), blue when the value fell, vermillion when it
    rose, grey when unchanged; a subject with only one of the two values is a grey marker
    (``gid = "single-<PARAMCD>-<USUBJID>"``). The mean of the subjects with both values is the
    thick black line (``gid = "summary-<PARAMCD>"``): geometric, on a log y-axis, for a
    parameter whose ``log_scale`` is true (values <= 0 are then not shown). The panels of a row
    share its y-axis, labelled with the parameter's label and unit; the sessions (columns) are
    those with a value of any parameter, titled on the top row; one legend below. A session
    without values of a parameter says "No values"; a parameter without any value has a row of
    "No values" panels (``gid="no-data"``).

    Parameters
    ----------
    pairs : DataFrame
        ``USUBJID``, ``SESSNUM``, ``PRE``, ``POST`` and, with several parameters, ``PARAMCD``
        (with one parameter, only its rows are used when ``PARAMCD`` is present), as from
        :func:`msc_analysis.derive.sessions.derive_session_pairs`.
    parameters : ParameterSpec or sequence of ParameterSpec
        The rows, top to bottom (``ParameterSpec.from_parameter(sap.parameters[code])`` builds
        one; give the label without the unit, which the axis adds). One parameter: one row.
    row_height : float
        Height of one row in inches (default :data:`PREPOST_ROW_HEIGHT`).
    figsize : (float, float), optional
        Figure size in inches; default :data:`FIGSIZE` wide and ``row_height`` per row (at
        least :data:`FIGSIZE` tall).

    Examples
    --------
    >>> specs = [ParameterSpec("TBIL", "Total bilirubin", "umol/L", log_scale=True),
    ...          ParameterSpec("PTA", "Prothrombin activity", "%")]
    >>> fig = prepost_paired(pairs, specs)  # doctest: +SKIP
    """
    figure = "F14.2.2 prepost_paired"
    specs = _as_specs(parameters, figure)
    _check_rows(pairs, _PAIR_COLUMNS, specs, figure, "pairs")
    rows = [_session_values(pairs, spec) for spec in specs]
    sessions = sorted({float(s) for data in rows for s in data["_s"].unique()})
    if not specs or not sessions:
        fig = new_figure(figsize or FIGSIZE)
        what = f"{specs[0].label}: no" if len(specs) == 1 else "No"
        no_data(fig.add_subplot(), f"{what} session values")
        return fig
    fig, axes = _rows_figure(len(specs), len(sessions), row_height, figsize)
    # room for the y label: the row less its tick labels (and, one row, the title and legend)
    room = (fig.get_figheight() - _GRID_MARGIN if len(specs) == 1 else row_height) - 0.4
    for row, spec, data in zip(axes, specs, rows, strict=True):
        row[0].set_ylabel(_row_label(spec.label, spec.unit, room))
        if data.empty:
            _empty_row(row, "No values")
            continue
        for ax, sess in zip(row, sessions, strict=True):
            _draw_prepost_panel(ax, data.loc[data["_s"] == sess], spec)
        if spec.log_scale:
            ys = [*data["_pre"].dropna(), *data["_post"].dropna()]
            set_log_axis(row[0], "y", *log_limits(ys, pad=1.15))
    _top_titles(axes, [f"Session {s:g}" for s in sessions])
    handles = [Line2D([], [], color=_DECREASE, marker="o", ms=3.5, label="Decrease"),
               Line2D([], [], color=_INCREASE, marker="o", ms=3.5, label="Increase"),
               Line2D([], [], color=OKABE_ITO["black"], lw=2.5, marker="D",
                      label=_mean_label(specs))]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    return fig


# ------------------------------------------------------------------------------------------------
# F14.2.3 waterfall
# ------------------------------------------------------------------------------------------------


def _draw_waterfall_panel(ax: Axes, grp: pd.DataFrame, spec: ParameterSpec, visit: str,
                          panel_width: float) -> None:
    """One visit of one parameter: bars sorted from the largest rise to the largest fall.

    The bars carry the subject ids, level when they fit side by side in ``panel_width``
    inches, rotated when their line height does, else none (the x label counts the bars).
    """
    n_missing = int(grp["_y"].isna().sum())
    grp = grp.loc[grp["_y"].notna()]
    grp = grp.assign(_id=grp["USUBJID"].astype(str)).sort_values(
        ["_y", "_id"], ascending=[False, True], kind="stable")
    finish_axes(ax)
    if grp.empty:
        ax.text(0.5, 0.5, f"No values at {visit}", transform=ax.transAxes, ha="center",
                va="center", fontsize=10, gid="no-data")
        ax.set_xticks([])
        return
    y = grp["_y"].to_numpy(float)
    colours = [_DECREASE if v < 0 else _INCREASE if v > 0 else _NO_CHANGE for v in y]
    bars = ax.bar(np.arange(y.size), y, color=colours, width=0.8)
    for bar, usubjid in zip(bars, grp["_id"], strict=True):
        bar.set_gid(f"bar-{spec.paramcd}-{usubjid}")
    ax.axhline(0, color=OKABE_ITO["black"], lw=0.8)
    ax.set_xlim(-0.7, y.size - 0.3)
    ids = [short_id(u) for u in grp["_id"]]
    pitch = panel_width / y.size
    if pitch >= _TICK_PITCH:
        level = pitch >= _TICK_CHAR * max(len(i) for i in ids) + 0.08
        ax.set_xticks(np.arange(y.size), ids, rotation=0 if level else 90)
        what = "Subject"
    else:  # too many bars for legible ids: count them instead
        ax.set_xticks([])
        what = f"{y.size} subjects"
    if n_missing:
        what += f" ({n_missing} without a value)" if what == "Subject" else (
            f", {n_missing} without a value")
    ax.set_xlabel(what)


@styled
def waterfall(
    pchg: pd.DataFrame,
    parameters: ParameterSpec | Sequence[ParameterSpec],
    *,
    visits: Sequence[str] = ("Day 7", "Day 28"),
    row_height: float = WATERFALL_ROW_HEIGHT,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """F14.2.3: percent change from baseline per subject, one row per parameter, one column per
    visit.

    In each panel the bars run from the largest increase (left) to the largest decrease
    (right), ties by ``USUBJID``; blue for a decrease, vermillion for an increase, grey for no
    change; each bar has ``gid = "bar-<PARAMCD>-<USUBJID>"``. The bars are labelled with the
    subject id (the part after the last ``-``) when there is room, else the axis counts them.
    The panels of a row share its y-axis ("<label>, % change"); visits are titled on the top
    row; one legend below. A visit without values says so (``gid="no-data"``); subjects with a
    missing ``PCHG`` at a visit are counted in the panel's x-axis label.

    Parameters
    ----------
    pchg : DataFrame
        ``USUBJID``, ``AVISIT``, ``PCHG`` (percent, e.g. -35.2) and, with several parameters,
        ``PARAMCD`` (with one parameter, only its rows are used when ``PARAMCD`` is present).
    parameters : ParameterSpec or sequence of ParameterSpec
        The rows, top to bottom. Only ``paramcd`` and ``label`` are used (the axis is a percent
        change whatever the unit). One parameter: one row.
    visits : sequence of str
        ``AVISIT`` values, one column each.
    row_height : float
        Height of one row in inches (default :data:`WATERFALL_ROW_HEIGHT`).
    figsize : (float, float), optional
        Figure size in inches; default :data:`FIGSIZE` wide and ``row_height`` per row (at
        least :data:`FIGSIZE` tall).
    """
    figure = "F14.2.3 waterfall"
    specs = _as_specs(parameters, figure)
    _check_rows(pchg, _PCHG_COLUMNS, specs, figure, "pchg")
    if not visits or not specs:
        fig = new_figure(figsize or FIGSIZE)
        no_data(fig.add_subplot(), "No visits" if specs else "No parameters")
        return fig
    fig, axes = _rows_figure(len(specs), len(visits), row_height, figsize)
    panel_width = (fig.get_figwidth() - 1.2) / len(visits)
    # room for the y label: the row less its tick and x labels (one row: title, legend)
    room = (fig.get_figheight() - _GRID_MARGIN if len(specs) == 1 else row_height) - 0.7
    for row, spec in zip(axes, specs, strict=True):
        data = _filter_param(pchg, spec.paramcd)
        data = data.assign(_y=as_float(data["PCHG"]), _v=data["AVISIT"].astype(str))
        for ax, visit in zip(row, visits, strict=True):
            _draw_waterfall_panel(ax, data.loc[data["_v"] == str(visit)], spec, str(visit),
                                  panel_width)
        row[0].set_ylabel(_row_label(spec.label, "% change", room))
    _top_titles(axes, [str(v) for v in visits])
    handles = [Patch(color=_INCREASE, label="Increase"), Patch(color=_DECREASE, label="Decrease")]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
    return fig


# ------------------------------------------------------------------------------------------------
# F14.2.4 forest
# ------------------------------------------------------------------------------------------------


@styled
def forest(
    gmr: pd.DataFrame,
    *,
    xlabel: str = "Geometric mean ratio, post/pre (log scale)",
    estimate_label: str = "GMR",
    conf_level: float = 0.95,
    decimals: int = 2,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """F14.2.4: forest plot of geometric mean ratios with confidence intervals.

    One line per row, top to bottom in input order: a square at the estimate (a black diamond
    when the optional bool column ``pooled`` is true) and the interval as a horizontal line;
    log x-axis with a dashed reference line at 1 (``gid="reference"``). A text column on the
    right gives ``n`` and ``estimate (low, high)`` at ``decimals`` (SAS rounding). A row with a
    missing or non-positive estimate is shown as "NE" with no marker.

    Parameters
    ----------
    gmr : DataFrame
        ``label``, ``estimate``, ``conf_low``, ``conf_high``, ``n``; optional ``pooled`` (bool).
    xlabel : str
        X-axis label.
    estimate_label : str
        Header of the estimate column.
    conf_level : float
        Confidence level (column header).
    decimals : int
        Decimals of the text column.
    figsize : (float, float), optional
        Default: 7 in wide, 0.32 in per row + 1.3 in.
    """
    check_columns(gmr, _FOREST_COLUMNS, "F14.2.4 forest", "gmr")
    k = len(gmr)
    fig = new_figure(figsize or (FIGSIZE[0], max(2.5, 0.32 * k + 1.3)))
    if k == 0:
        no_data(fig.add_subplot(), "No estimates")
        return fig
    ax, ax_text = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 1.5]})
    est, low, high = as_float(gmr["estimate"]), as_float(gmr["conf_low"]), as_float(
        gmr["conf_high"])
    pooled = (gmr["pooled"].fillna(False).astype(bool).to_numpy() if "pooled" in gmr.columns
              else np.zeros(k, bool))
    y = np.arange(k)[::-1].astype(float)
    ok = finite_positive(est)
    ci_ok = ok & finite_positive(low) & finite_positive(high)
    ax.hlines(y[ci_ok], low[ci_ok], high[ci_ok], color=OKABE_ITO["black"], lw=1.2, gid="ci")
    plain, pool = ok & ~pooled, ok & pooled
    ax.plot(est[plain], y[plain], ls="none", marker="s", ms=6, color=OKABE_ITO["blue"],
            gid="estimate")
    if pool.any():
        ax.plot(est[pool], y[pool], ls="none", marker="D", ms=8, color=OKABE_ITO["black"],
                gid="pooled")
    ax.axvline(1.0, color=GREY, ls="--", lw=1, gid="reference", zorder=0)
    set_log_axis(ax, "x", *log_limits([*est[ok], *low[ci_ok], *high[ci_ok]], refs=(1.0,),
                                      pad=1.1))
    ax.set_yticks(y, [str(s) for s in gmr["label"]])
    ax.set_ylim(-0.7, k + 0.4)
    ax.set_xlabel(xlabel)
    finish_axes(ax)
    ax_text.set_axis_off()
    ax_text.set_xlim(0, 1)
    header_y = k - 0.1
    ax_text.text(0.12, header_y, "n", ha="center", va="center", fontsize=9, fontweight="bold")
    ax_text.text(0.3, header_y, f"{estimate_label} ({_pct(conf_level)} CI)", ha="left",
                 va="center", fontsize=9, fontweight="bold")
    for yi, row_est, lo, hi, n in zip(y, est, low, high, gmr["n"], strict=True):
        n_text = "" if pd.isna(n) else f"{float(n):g}"
        if math.isfinite(row_est) and row_est > 0:
            txt = f"{fmt_num(row_est, decimals)} {fmt_ci(lo, hi, decimals)}".rstrip()
        else:
            txt = "NE"
        ax_text.text(0.12, yi, n_text, ha="center", va="center", fontsize=9)
        ax_text.text(0.3, yi, txt, ha="left", va="center", fontsize=9, gid="estimate-text")
    return fig
