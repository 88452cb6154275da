"""PP-MMRM rules of SAP section 7.6 that sit above the statistics core.

* The model is not fitted when fewer than 4 subjects have a baseline and a follow-up value;
  Table 14.2.4 then says so (footnote from the ``MODEL`` row) and the data issues carry a note.
* A covariance structure whose fit needed more than ``mmrm.max_iter`` optimiser iterations
  counts as not converged and the prespecified fallback order goes on.

The threshold is checked on both sides (3 subjects: not fitted; 4 subjects: fitted), the
iteration cap at the exact iteration count of a fit (cap = count: used; cap = count - 1: passed
over). The LS-mean values themselves are checked against a hand ANCOVA in
``test_prepost_analyses.py`` and against SAS PROC MIXED in ``test_stats_mmrm.py``.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from msc_analysis.analyses.prepost import (
    MMRM_MIN_SUBJECTS,
    _fit_mmrm,
    run_prepost,
)
from msc_analysis.errors import AnalysisError
from msc_analysis.io.issues import DataIssues
from msc_analysis.render.prepost_tables import mmrm_table
from msc_analysis.sap import load_sap
from msc_analysis.stats import fit_mmrm
from test_prepost_analyses import SAP_PATH, toy_study


@pytest.fixture(scope="module")
def sap():
    return load_sap(SAP_PATH)


def _study_with_il6_followup(subjects: int) -> object:
    """The toy study with IL-6 follow-up values for the first ``subjects`` subjects only."""
    study = toy_study()
    lb = study.adlb
    keep = [f"S{i:02d}" for i in range(1, subjects + 1)]
    drop = (lb["PARAMCD"] == "IL6") & (lb["ATPT"] == "") & ~lb["USUBJID"].isin(keep)
    return dataclasses.replace(study, adlb=lb.loc[~drop].reset_index(drop=True))


def _model_rows(ard: pd.DataFrame, paramcd: str) -> pd.DataFrame:
    return ard.loc[(ard["analysis_id"] == "PP-MMRM") & (ard["variable"] == "MODEL")
                   & (ard["group1_level"] == paramcd)]


def _lsmeans(ard: pd.DataFrame, paramcd: str) -> pd.DataFrame:
    return ard.loc[(ard["analysis_id"] == "PP-MMRM") & (ard["variable_level"] == "mmrm")
                   & (ard["group1_level"] == paramcd)]


def test_minimum_is_the_sap_value() -> None:
    assert MMRM_MIN_SUBJECTS == 4          # SAP section 7.6: "fewer than 4 subjects"


def test_three_subjects_are_not_fitted_and_the_table_says_so(sap) -> None:
    issues = DataIssues()
    ard = run_prepost(_study_with_il6_followup(3), sap, issues)
    model = _model_rows(ard, "IL6")
    assert model["stat_name"].tolist() == ["n"] and model["stat"].tolist() == [3.0]
    assert "MMRM not fitted: 3 subject(s)" in model["method"].iloc[0]
    assert _lsmeans(ard, "IL6").empty
    # the counts stay: 3 subjects at Day 7, the other 6 excluded with their reason
    day7 = ard.loc[(ard["analysis_id"] == "PP-MMRM") & (ard["group1_level"] == "IL6")
                   & (ard["group2_level"] == "Day 7") & (ard["variable"] == "CHG")]
    assert day7.loc[day7["stat_name"] == "n", "stat"].tolist() == [3.0]
    assert day7.loc[day7["stat_name"] == "n_excluded", "stat"].sum() == 6
    notes = issues.frame()
    hit = notes.loc[(notes["source"] == "PP-MMRM") & (notes["rule"] == "too-few-subjects")]
    assert hit["message"].tolist() == [model["method"].iloc[0].join(["IL6: ", ""])]
    # other parameters are fitted as before
    assert not _lsmeans(ard, "TBIL").empty
    table = mmrm_table(ard, sap)
    assert any("IL6: MMRM not fitted" in f for f in table.footnotes)


def test_four_subjects_are_fitted(sap) -> None:
    ard = run_prepost(_study_with_il6_followup(4), sap, DataIssues())
    assert _model_rows(ard, "IL6")["stat_name"].tolist() == ["loglik"]
    est = _lsmeans(ard, "IL6")
    assert np.isfinite(est.loc[est["stat_name"] == "estimate", "stat"]).all()


def _frame() -> pd.DataFrame:
    """A small complete-data MMRM frame: 8 subjects x 3 visits, fixed by a seeded generator."""
    rng = np.random.default_rng(20240101)
    rows = []
    for s in range(8):
        b = rng.normal(5.0, 0.5)
        u = rng.normal(0.0, 0.3)
        for k, visit in enumerate(("Day 7", "Day 14", "Day 28")):
            rows.append({"USUBJID": f"S{s}", "AVISIT": visit, "B": b,
                         "Y": -0.2 * k + 0.1 * b + u + rng.normal(0.0, 0.2)})
    return pd.DataFrame(rows)


VISITS = [SimpleNamespace(name=v) for v in ("Day 7", "Day 14", "Day 28")]


def _settings(max_iter: int) -> SimpleNamespace:
    return SimpleNamespace(covariance_order=("us", "cs"), df_method="satterthwaite",
                           max_iter=max_iter)


def test_the_fit_reports_its_iteration_count() -> None:
    res = fit_mmrm(_frame(), "Y ~ AVISIT * B", "USUBJID", "AVISIT", covariance="us",
                   visit_levels=[v.name for v in VISITS])
    assert res.converged and res.n_iter >= 1
    assert res.message.endswith(f"({res.n_iter} iterations)")
    capped = fit_mmrm(_frame(), "Y ~ AVISIT * B", "USUBJID", "AVISIT", covariance="us",
                      visit_levels=[v.name for v in VISITS], max_iter=res.n_iter - 1)
    assert not capped.converged
    assert capped.message.startswith(f"not converged within max_iter = {res.n_iter - 1}")


def test_iteration_cap_moves_to_the_next_structure() -> None:
    frame = _frame()
    us = fit_mmrm(frame, "Y ~ AVISIT * B", "USUBJID", "AVISIT", covariance="us",
                  visit_levels=[v.name for v in VISITS])
    count = us.n_iter
    at_cap = _fit_mmrm(frame, "Y ~ AVISIT * B", _settings(count), VISITS, DataIssues(), "T")
    assert at_cap.covariance == "us" and at_cap.fallback_attempts == ()
    cs = fit_mmrm(frame, "Y ~ AVISIT * B", "USUBJID", "AVISIT", covariance="cs",
                  visit_levels=[v.name for v in VISITS])
    assert cs.n_iter < count   # on these data CS converges in fewer iterations
    below = _fit_mmrm(frame, "Y ~ AVISIT * B", _settings(count - 1), VISITS, DataIssues(), "T")
    assert below.covariance == "cs"
    assert below.fallback_attempts == (
        ("us", f"not converged within max_iter = {count - 1} iterations ({count} iterations)"),)
    assert below.loglik == pytest.approx(cs.loglik, abs=1e-9)


def test_no_structure_within_the_cap_is_not_estimable(sap) -> None:
    capped = dataclasses.replace(sap, mmrm=dataclasses.replace(sap.mmrm, max_iter=1))
    issues = DataIssues()
    ard = run_prepost(toy_study(), capped, issues)
    assert ard.loc[(ard["analysis_id"] == "PP-MMRM")
                   & (ard["variable_level"] == "mmrm")].empty
    notes = issues.frame()
    ne = notes.loc[(notes["source"] == "PP-MMRM") & (notes["rule"] == "not-estimable")]
    assert len(ne) == 3                       # TBIL, INR, IL6 (the toy study's biomarkers)
    for structure in sap.mmrm.covariance_order:
        assert ne["message"].str.contains(f"{structure}: not converged").all(), structure
    with pytest.raises(AnalysisError, match="within max_iter = 1 iterations"):
        _fit_mmrm(_frame(), "Y ~ AVISIT * B", _settings(1), VISITS, DataIssues(), "T")
