"""The generator is vectorised: a 5,000-subject study is quick; other schedules stay valid."""

from __future__ import annotations

import time

import pandas as pd

from msc_analysis.synthetic import SimulationSettings, simulate


def test_five_thousand_subjects_quickly() -> None:
    start = time.perf_counter()
    data = simulate(SimulationSettings(n_subjects=5000, seed=99))
    seconds = time.perf_counter() - start
    assert len(data["adsl"]) == 5000
    assert data["adsl"]["USUBJID"].is_unique
    assert len(data["adlb"]) > 5000 * 100
    # about 1 s on a laptop core; the bound leaves room for slow CI machines
    assert seconds < 20


def test_other_schedules() -> None:
    settings = SimulationSettings(n_subjects=300, seed=4, n_sessions=6, session_interval_days=1)
    data = simulate(settings)
    adex, adlb = data["adex"], data["adlb"]
    assert adex["SESSNUM"].max() == 6
    assert set(adlb.loc[adlb["AVISIT"] == "Session 6", "ATPT"].astype(str)) == {"PRE", "POST"}
    # consecutive days: session k on study day k (+ postponements)
    first = adex[adex["SESSNUM"] == 1].set_index("USUBJID")["ASTDTM"].dt.normalize()
    sixth = adex[adex["SESSNUM"] == 6].set_index("USUBJID")["ASTDTM"].dt.normalize()
    gap = (sixth - first.loc[sixth.index]).dt.days
    assert (gap >= 5).all() and (gap <= 10).all()
    # ADLB keys stay unique when follow-up visits fall among the sessions
    assert not adlb.duplicated(["USUBJID", "PARAMCD", "ADTM"]).any()
    assert (data["adsl"]["NSESS"] <= 6).all()


def test_settings_change_the_data_as_documented() -> None:
    base = SimulationSettings(n_subjects=800, seed=8)
    none = simulate(SimulationSettings(n_subjects=800, seed=8, ae_multiplier=0.0,
                                       death_prob=0.0, transplant_prob=0.0))
    assert none["adae"].empty  # no adverse events without rates, deaths or transplants
    assert (none["adsl"]["DTHFL"] == "").all() and (none["adsl"]["LTXFL"] == "").all()
    many = simulate(SimulationSettings(n_subjects=800, seed=8, ae_rates={"hypotension": 0.5}))
    hypo = (many["adae"]["AEDECOD"] == "Hypotension").sum()
    assert hypo > 2 * (simulate(base)["adae"]["AEDECOD"] == "Hypotension").sum()
    strong = simulate(SimulationSettings(n_subjects=800, seed=8, tbil_rr_mean=0.5))
    weak = simulate(SimulationSettings(n_subjects=800, seed=8, tbil_rr_mean=0.3))

    def mean_rr(data: dict[str, pd.DataFrame]) -> float:
        tb = data["adlb"][(data["adlb"]["PARAMCD"] == "TBIL") & (data["adlb"]["ATPT"] != "")]
        w = tb.pivot_table(index=["USUBJID", "SESSNUM"], columns="ATPT", values="AVAL",
                           observed=True)
        return float(((w["PRE"] - w["POST"]) / w["PRE"]).mean())

    assert mean_rr(strong) - mean_rr(weak) > 0.15
