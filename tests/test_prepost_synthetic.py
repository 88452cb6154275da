"""The pre/post analyses on the synthetic study (data/synthetic): they run, give values in the
ranges the clinical brief describes, and count every exclusion in the ARD and the data issues."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from msc_analysis.analyses.prepost import PP_IDS, run_prepost
from msc_analysis.ard import lookup
from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import load_study
from msc_analysis.render.prepost_tables import prepost_tables
from msc_analysis.sap import load_sap

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "synthetic"

pytestmark = pytest.mark.skipif(not (DATA / "adlb.csv").exists(),
                                reason="data/synthetic not generated")


@pytest.fixture(scope="module")
def run():
    sap = load_sap(REPO / "sap" / "sap.toml")
    issues = DataIssues()
    study = load_study(DATA, analyses=("efficacy", "labs"), issues=issues)
    before = len(issues)
    ard = run_prepost(study, sap, issues)
    return sap, study, ard, issues.frame().iloc[before:]


def test_every_analysis_id_has_rows(run) -> None:
    _, _, ard, _ = run
    assert set(ard["analysis_id"]) == set(PP_IDS)


def test_tbil_reduction_ratio_as_the_brief_describes(run) -> None:
    """Clinical brief section 3 / 7: per-session TBil reduction ratio about 0.3-0.5."""
    _, study, ard, _ = run
    rr = lookup(ard, "PP-RR", "mean", variable="RR", variable_level="", PARAMCD="TBIL")
    assert 0.3 <= rr <= 0.5
    # and it is the mean over FAS subjects of each subject's mean (pre - post) / pre
    lb = study.adlb
    fas = set(study.adsl.loc[study.adsl["FASFL"] == "Y", "USUBJID"])
    tb = lb.loc[(lb["PARAMCD"] == "TBIL") & lb["ATPT"].isin(["PRE", "POST"])
                & lb["USUBJID"].isin(fas)]
    wide = tb.pivot_table(index=["USUBJID", "SESSNUM"], columns="ATPT", values="AVAL").dropna()
    per_subject = ((wide["PRE"] - wide["POST"]) / wide["PRE"]).groupby(level=0).mean()
    assert rr == pytest.approx(per_subject.mean(), rel=1e-12)
    for k in (1, 2, 3):
        gmr = lookup(ard, "PP-SESS", "estimate", variable="RATIO", variable_level="paired-t",
                     PARAMCD="TBIL", SESSNUM=str(k))
        assert 0.4 < gmr < 0.8


def test_exclusions_in_ard_match_the_data_issues(run) -> None:
    _, _, ard, issues = run
    excluded = issues.loc[issues["severity"] == "excluded"]
    assert len(excluded) > 0
    for aid in PP_IDS:
        in_ard = ard.loc[(ard["analysis_id"] == aid) & (ard["stat_name"] == "n_excluded"),
                         "stat"].sum()
        assert in_ard == (excluded["source"] == aid).sum(), aid


def test_tables_render_from_the_ard(run) -> None:
    sap, _, ard, _ = run
    tables = prepost_tables(ard, sap)
    assert [t.number for t in tables] == [f"14.2.{i}" for i in range(1, 8)]
    for t in tables:
        assert len(t.data) > 0
        assert np.isfinite(t.data["stat"]).all()
