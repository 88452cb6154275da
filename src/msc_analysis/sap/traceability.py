"""Traceability between the SAP settings, the ARD and the produced outputs.

The report test calls :func:`check_traceability` with the ARD it wrote and the outputs it
produced; an empty list means the three agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from msc_analysis.sap.settings import Sap


def _produced(produced_tfls: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = produced_tfls.items() if isinstance(produced_tfls, Mapping) else produced_tfls
    return {str(k): str(v) for k, v in items}


def check_traceability(
    sap: Sap,
    ard: pd.DataFrame,
    produced_tfls: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
) -> list[str]:
    """List every disagreement between the settings, an ARD and the outputs produced.

    Parameters
    ----------
    sap : Sap
        The settings.
    ard : DataFrame
        The ARD the report wrote (columns of :data:`msc_analysis.ard.ARD_COLUMNS`).
    produced_tfls : mapping or iterable of (id, title), optional
        The outputs produced, keyed by TFL id (``T14.2.1``, ``F14.2.1``, ``L16.2.7.1``) with their
        titles. ``None`` skips the TFL checks.

    Returns
    -------
    list of str
        Problems found, empty when everything traces:

        - an analysis id of the settings with no ARD row, or an ARD analysis id not in the
          settings;
        - an ARD row for a parameter (a by-variable ``PARAMCD``) that its analysis does not list
          (for example a parameter dropped from ``[parameters]``);
        - an analysis with ``conf_level`` rows none of which equals ``sap.conf_level`` (its
          intervals were not computed at the configured level). Single rows may differ: exact
          discrete intervals report their achieved level (sign test, small-n signed-rank);
        - a TFL of the list that was not produced, an output that is not in the list, or a title
          that differs.
    """
    problems: list[str] = []
    ard_ids = set(ard["analysis_id"].astype(str))
    for aid in sap.analyses:
        if aid not in ard_ids:
            problems.append(f"analysis {aid} of sap.toml has no row in the ARD")
    for aid in sorted(ard_ids - set(sap.analyses)):
        problems.append(f"ARD analysis id {aid!r} is not in sap.toml [analyses]")

    for aid, analysis in sap.analyses.items():
        rows = ard[ard["analysis_id"] == aid]
        if rows.empty or not analysis.parameters:
            continue  # an analysis that lists no parameters has none to drop
        levels: set[str] = set()
        for i in (1, 2, 3):
            hit = rows[f"group{i}"] == "PARAMCD"
            levels.update(rows.loc[hit, f"group{i}_level"].astype(str))
        extra = sorted(levels - set(analysis.parameters))
        if extra:
            problems.append(f"ARD rows of {aid} for parameters {extra} that [analyses.{aid}] "
                            f"does not list {list(analysis.parameters)}")

    conf = ard.loc[ard["stat_name"] == "conf_level"]
    for aid, rows in conf.groupby("analysis_id", sort=True):
        levels = rows["stat"].astype(float).to_numpy()
        if not np.isclose(levels, float(sap.conf_level), rtol=0, atol=1e-12).any():
            problems.append(f"ARD rows of {aid} have conf_level {sorted(set(levels.tolist()))}, "
                            f"none at the conf_level {sap.conf_level} of sap.toml")

    if produced_tfls is not None:
        produced = _produced(produced_tfls)
        planned = {t.id: t.title for t in sap.tfls}
        for tid, title in planned.items():
            if tid not in produced:
                problems.append(f"{tid} {title!r} of the TFL list was not produced")
            elif produced[tid] != title:
                problems.append(f"{tid} was produced with title {produced[tid]!r}, the TFL list "
                                f"says {title!r}")
        for tid in sorted(set(produced) - set(planned)):
            problems.append(f"{tid} {produced[tid]!r} was produced but is not in the TFL list")
    return problems
