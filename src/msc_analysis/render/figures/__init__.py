"""Figures of the interim report: pure functions from derived frames / ARD rows to a Figure.

Each function returns a :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot state) drawn in
the house style of :mod:`msc_analysis.render.style`; the caller saves it with
:func:`~msc_analysis.render.style.save_figure` and closes it (``fig.clear()`` or dropping it).

=========  ===========================================  ======================================
Figure     Function                                     Module
=========  ===========================================  ======================================
F14.2.1    :func:`spaghetti`, :func:`spaghetti_grid`    :mod:`.biomarkers`
F14.2.2    :func:`prepost_paired`                       :mod:`.biomarkers`
F14.2.3    :func:`waterfall`                            :mod:`.biomarkers`
F14.2.4    :func:`forest`                               :mod:`.biomarkers`
F14.3.1    :func:`ae_dotplot`                           :mod:`.safety`
F14.3.2    :func:`swimmer`                              :mod:`.safety`
F14.3.3    :func:`hepatic_safety`                       :mod:`.safety`
F14.3.4    :func:`kaplan_meier_plot`                    :mod:`.survival`
F14.3.5    :func:`monitoring_plot`                      :mod:`.monitoring`
=========  ===========================================  ======================================
"""

from msc_analysis.render.figures._common import ParameterSpec
from msc_analysis.render.figures.biomarkers import (
    DEFAULT_VISITS,
    forest,
    mean_ci_by_visit,
    prepost_paired,
    spaghetti,
    spaghetti_grid,
    waterfall,
)
from msc_analysis.render.figures.monitoring import monitoring_plot
from msc_analysis.render.figures.safety import (
    GRADE_STYLES,
    STATUS_STYLES,
    ae_dotplot,
    hepatic_safety,
    swimmer,
)
from msc_analysis.render.figures.survival import (
    DEFAULT_AT_RISK_DAYS,
    kaplan_meier_plot,
    step_values,
)

__all__ = [
    "DEFAULT_AT_RISK_DAYS",
    "DEFAULT_VISITS",
    "GRADE_STYLES",
    "STATUS_STYLES",
    "ParameterSpec",
    "ae_dotplot",
    "forest",
    "hepatic_safety",
    "kaplan_meier_plot",
    "mean_ci_by_visit",
    "monitoring_plot",
    "prepost_paired",
    "spaghetti",
    "spaghetti_grid",
    "step_values",
    "swimmer",
    "waterfall",
]
