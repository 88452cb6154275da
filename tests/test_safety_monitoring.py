"""SAF-MON / SAF-MONBND / SAF-MONOC: the DLT-like event per subject and the ARD rows.

The DLT-like event is the SAP's (sap/sap.toml [monitoring]): serious or CTCAE grade >= 3, and
possibly / probably / definitely related to the device (AERELDEV) or the MSCs (AERELMSC), onset
from the first session to 7 days after the last. In tests/safety_fixtures.py only S02 has one
(serious pyrexia probably related to the MSCs): S01's grade 3 hypotension is related to the
procedure only, S07's fatal sepsis is not related, S04's MSC-related hypotension is grade 1.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

import safety_fixtures as fx
from msc_analysis.analyses.safety_data import prepare_safety
from msc_analysis.analyses.safety_monitoring import (
    dlt_subjects,
    monitoring_after_each_subject,
    monitoring_boundaries,
    monitoring_operating_characteristics,
)
from msc_analysis.ard import lookup
from msc_analysis.render.safety_tables import (
    monitoring_boundaries_table,
    monitoring_oc_table,
    monitoring_table,
)


def test_dlt_like_events_per_subject() -> None:
    ae = fx.adae()
    extra = pd.DataFrame([
        # S05: grade 3, device-related, but 11 days after the last session (window 7 days)
        fx._ae("S05", 2, "Hypotension", fx.VASC, "2025-01-25", "3", dev="POSSIBLY RELATED"),
        # S06: grade 3, device relationship missing (counts as related), within the window
        fx._ae("S06", 2, "Hypotension", fx.VASC, "2025-01-15", "3", dev=""),
    ])
    data = prepare_safety(fx.study(adae=pd.concat([ae, extra], ignore_index=True)), fx.sap())
    subjects = dlt_subjects(data)
    assert subjects["USUBJID"].tolist() == [f"S{i:02d}" for i in range(1, 11)]
    assert subjects.loc[subjects["DLTFL"], "USUBJID"].tolist() == ["S02", "S06"]


def test_monitoring_rows_after_each_subject() -> None:
    data = prepare_safety(fx.study(), fx.sap())
    ard = monitoring_after_each_subject(data)

    def m(stat: str, seq: int) -> float:
        return lookup(ard, "SAF-MON", stat, variable="DLT", SUBJSEQ=str(seq))

    assert [m("n_events", k) for k in range(1, 11)] == [0] + [1] * 9
    assert [m("n", k) for k in range(1, 11)] == list(range(1, 11))
    # Beta(0.3, 2.7) prior: posterior mean after 1 event in 2 subjects = 1.3 / 5
    assert m("post_mean", 2) == pytest.approx(1.3 / 5)
    assert all(m("decision", k) == 0 for k in range(1, 11))
    assert math.isnan(m("boundary", 1)) and m("boundary", 2) == 2
    assert ard.loc[ard["group1"] == "SUBJSEQ", "variable_level"].iloc[0] == "S01"
    table = monitoring_table(ard, data.sap)
    assert [r.text("dec") for r in table.rows] == ["continue"] * 10
    assert table.rows[1].text("x") == "1/2"


def test_boundaries_and_operating_characteristics_rows() -> None:
    sap = fx.sap()
    bnd = monitoring_boundaries(sap=sap)
    assert [lookup(bnd, "SAF-MONBND", "boundary", variable="DLT", NEVAL=str(n))
            for n in range(2, 11)] == [2, 2, 3, 3, 3, 3, 4, 4, 4]
    table = monitoring_boundaries_table(bnd, sap)
    assert table.rows[0].text("bnd") == "no stopping" and table.rows[1].text("bnd") == "2"
    oc = monitoring_operating_characteristics(sap=sap)
    rates = oc.loc[oc["stat_name"] == "prob_stop", "group1_level"].tolist()
    assert rates == [f"{r:g}" for r in sap.monitoring.true_rates]
    for rate in rates:
        sim = lookup(oc, "SAF-MONOC", "prob_stop", variable="STOP", TRUE_RATE=rate)
        mcse = lookup(oc, "SAF-MONOC", "mcse", variable="STOP", TRUE_RATE=rate)
        exact = lookup(oc, "SAF-MONOC", "estimate", variable="STOP_EXACT", TRUE_RATE=rate)
        assert abs(sim - exact) < 4 * mcse + 1e-12
        en = lookup(oc, "SAF-MONOC", "expected_n", variable="N_TREATED", TRUE_RATE=rate)
        en_exact = lookup(oc, "SAF-MONOC", "estimate", variable="N_TREATED_EXACT",
                          TRUE_RATE=rate)
        en_mcse = lookup(oc, "SAF-MONOC", "mcse", variable="N_TREATED", TRUE_RATE=rate)
        assert abs(en - en_exact) < 4 * en_mcse + 1e-12
    assert len(monitoring_oc_table(oc, sap).rows) == len(rates)


def test_monitoring_and_ae_tables_share_one_definition_of_related() -> None:
    # CDISC spellings such as "PROBABLE" are related in the AE tables (derive.teae); the rule
    # counts such an event too, so the tables and the stopping rule cannot disagree.
    ae = fx.adae()
    extra = pd.DataFrame([
        # S06: grade 3, device relationship "PROBABLE", within the 7-day window
        fx._ae("S06", 2, "Hypotension", fx.VASC, "2025-01-15", "3", dev="PROBABLE"),
    ])
    data = prepare_safety(fx.study(adae=pd.concat([ae, extra], ignore_index=True)), fx.sap())
    frame = data.ae.frame
    assert (frame.loc[(frame["USUBJID"] == "S06") & (frame["AESEQ"] == 2),
                      "REL_AERELDEV"] == "Y").all()
    subjects = dlt_subjects(data)
    assert subjects.loc[subjects["DLTFL"], "USUBJID"].tolist() == ["S02", "S06"]


def test_subjects_beyond_the_rule_size_are_listed_not_monitored() -> None:
    import dataclasses as dc

    from msc_analysis.io.issues import DataIssues

    sap = fx.sap()
    small = dc.replace(sap, monitoring=dc.replace(sap.monitoring, max_subjects=6,
                                                  min_subjects=2))
    issues = DataIssues()
    data = prepare_safety(fx.study(), small, issues)
    ard = monitoring_after_each_subject(data)
    seqs = ard.loc[ard["group1"] == "SUBJSEQ", "group1_level"].astype(int)
    assert seqs.max() == 6  # ten treated subjects, the rule covers the first six
    beyond = issues.frame()
    beyond = beyond[beyond["rule"] == "beyond-max-subjects"]
    assert beyond["usubjid"].tolist() == ["S07", "S08", "S09", "S10"]
