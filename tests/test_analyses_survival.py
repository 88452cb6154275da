"""Kaplan-Meier transplant-free survival against R survfit and a hand derivation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_analysis.analyses.survival import kaplan_meier, transplant_free_survival
from msc_analysis.derive.tte import derive_transplant_free_survival
from msc_analysis.io.issues import DataIssues

# R: library(survival)
#    summary(survfit(Surv(time, status) ~ 1, data = subset(aml, x == "Maintained")))
# (aml, Maintained arm; R documentation example output, conf.type = "log" default)
AML_TIME = np.array([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161], float)
AML_STATUS = np.array([1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
R_AML = pd.DataFrame({
    "time": [9, 13, 18, 23, 31, 34, 48],
    "n_risk": [11, 10, 8, 7, 5, 4, 2],
    "surv": [0.909, 0.818, 0.716, 0.614, 0.491, 0.368, 0.184],
    "se": [0.0867, 0.1163, 0.1397, 0.1526, 0.1642, 0.1627, 0.1535],
    "conf_low": [0.7541, 0.6192, 0.4884, 0.3769, 0.2549, 0.1549, 0.0359],
    "conf_high": [1.000, 1.000, 1.000, 0.999, 0.946, 0.875, 0.944],
})


def test_kaplan_meier_matches_r_survfit_aml() -> None:
    km = kaplan_meier(AML_TIME, AML_STATUS)
    got = km.table
    np.testing.assert_array_equal(got["time"], R_AML["time"])
    np.testing.assert_array_equal(got["n_risk"], R_AML["n_risk"])
    np.testing.assert_allclose(got["surv"], R_AML["surv"], atol=5e-4)
    np.testing.assert_allclose(got["se"], R_AML["se"], atol=5e-5)
    np.testing.assert_allclose(got["conf_low"], R_AML["conf_low"], atol=5e-5)
    np.testing.assert_allclose(got["conf_high"], R_AML["conf_high"], atol=5e-4)


def _adsl() -> pd.DataFrame:
    d = pd.Timestamp
    return pd.DataFrame({
        "USUBJID": ["S1", "S2", "S3", "S4", "S5"],
        "TRTSDT": [d("2024-05-01"), d("2024-05-01"), d("2024-05-01"), d("2024-05-01"), pd.NaT],
        "DTHDT": [d("2024-05-11"), pd.NaT, d("2024-09-01"), pd.NaT, pd.NaT],
        "LTXDT": [pd.NaT, d("2024-05-21"), pd.NaT, pd.NaT, pd.NaT],
        "LSTALVDT": [d("2024-05-11"), d("2024-05-21"), d("2024-09-01"), d("2024-07-01"), pd.NaT],
    })


def test_derivation_events_censoring_horizon_and_exclusions() -> None:
    issues = DataIssues()
    tte = derive_transplant_free_survival(_adsl(), horizon_days=90, issues=issues)
    assert list(tte["USUBJID"]) == ["S1", "S2", "S3", "S4"]
    assert list(tte["AVAL"]) == [10.0, 20.0, 90.0, 61.0]  # death, transplant, horizon, last alive
    assert list(tte["CNSR"]) == [0, 0, 1, 1]
    assert [r["usubjid"] for r in issues.frame().to_dict("records")] == ["S5"]


def test_landmark_estimates_by_hand() -> None:
    # events at 10 (4 at risk) and 20 (3 at risk); censored 61 and 90
    tte = derive_transplant_free_survival(_adsl(), horizon_days=90, issues=DataIssues())
    ard = transplant_free_survival(tte, conf_level=0.95, landmarks=(28, 90))
    est = ard[(ard["stat_name"] == "estimate")].set_index("group2_level")["stat"]
    s28 = (3 / 4) * (2 / 3)
    assert est["28"] == pytest.approx(s28, abs=1e-12)
    assert est["90"] == pytest.approx(s28, abs=1e-12)
    se = ard[(ard["stat_name"] == "se")].set_index("group2_level")["stat"]
    greenwood = s28 * np.sqrt(1 / (4 * 3) + 1 / (3 * 2))
    assert se["28"] == pytest.approx(greenwood, rel=1e-10)
    low = ard[(ard["stat_name"] == "conf_low")].set_index("group2_level")["stat"]
    assert low["28"] == pytest.approx(s28 * np.exp(-1.959963985 * greenwood / s28), rel=1e-8)
    n_risk = ard[(ard["stat_name"] == "n")].set_index("group2_level")["stat"]
    assert n_risk["28"] == 2 and n_risk["90"] == 1


def test_conf_level_is_used() -> None:
    tte = derive_transplant_free_survival(_adsl(), horizon_days=90, issues=DataIssues())
    wide = transplant_free_survival(tte, conf_level=0.95)
    narrow = transplant_free_survival(tte, conf_level=0.90)
    lo95 = wide[wide["stat_name"] == "conf_low"]["stat"].iloc[0]
    lo90 = narrow[narrow["stat_name"] == "conf_low"]["stat"].iloc[0]
    assert lo90 > lo95
