"""Below-LLOQ substitution: LLOQ/2 (primary) or LLOQ (sensitivity), by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_analysis.derive.lloq import substitute_lloq
from msc_analysis.errors import DataError, SettingsError


def _lb() -> pd.DataFrame:
    return pd.DataFrame({
        "PARAMCD": ["IL6", "IL6", "IL6", "CRP", "TBIL"],
        "AVAL": [np.nan, 1.0, 12.0, 0.2, 300.0],
        "LLOQ": [1.5, np.nan, 1.5, np.nan, np.nan],
        "BLQFL": ["Y", "", "", "", ""],
    })


def test_half_rule_substitutes_half_the_lloq() -> None:
    out = substitute_lloq(_lb(), "half", {"IL6": 1.5, "CRP": 0.3})
    # row 0 flagged (own LLOQ 1.5) -> 0.75; row 1 AVAL 1.0 < SAP LLOQ 1.5 -> 0.75;
    # row 3 CRP 0.2 < 0.3 -> 0.15; rows 2 and 4 untouched.
    assert out["AVAL"].tolist() == pytest.approx([0.75, 0.75, 12.0, 0.15, 300.0])
    assert out["BLQFL"].tolist() == ["Y", "Y", "", "Y", ""]
    assert out["AVALIMP"].tolist() == ["LLOQ/2", "LLOQ/2", "", "LLOQ/2", ""]
    assert np.isnan(out["AVALORIG"].iloc[0]) and out["AVALORIG"].iloc[1] == 1.0


def test_lloq_rule_substitutes_the_lloq() -> None:
    out = substitute_lloq(_lb(), "lloq", {"IL6": 1.5, "CRP": 0.3})
    assert out["AVAL"].tolist() == pytest.approx([1.5, 1.5, 12.0, 0.3, 300.0])
    assert out["AVALIMP"].tolist() == ["LLOQ", "LLOQ", "", "LLOQ", ""]


def test_value_at_the_lloq_is_not_below_it() -> None:
    lb = pd.DataFrame({"PARAMCD": ["IL6"], "AVAL": [1.5]})
    out = substitute_lloq(lb, "half", {"IL6": 1.5})
    assert out["AVAL"].iloc[0] == 1.5 and out["BLQFL"].iloc[0] == ""


def test_flagged_record_without_any_lloq_is_a_data_error() -> None:
    lb = pd.DataFrame({"PARAMCD": ["TNFA"], "AVAL": [np.nan], "BLQFL": ["Y"]})
    with pytest.raises(DataError, match=r"row 1: PARAMCD TNFA .*LLOQ"):
        substitute_lloq(lb, "half", {})


def test_unknown_rule_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="zero"):
        substitute_lloq(_lb(), "zero", {})


def test_sap_lloq_is_looked_up_per_parameter_and_input_untouched() -> None:
    # SAP LLOQs: IL6 5 (a value of 3 is below: 2.5 under the half rule), CRP none (its value
    # stays), a record without PARAMCD has no SAP LLOQ either; the caller's frame is unchanged.
    lb = pd.DataFrame({"PARAMCD": pd.Series(["IL6", "CRP", None, "IL6"], dtype=str),
                       "AVAL": [3.0, 0.1, 0.2, 7.0]})
    before = lb.copy()
    out = substitute_lloq(lb, "half", {"IL6": 5.0, "CRP": None})
    pd.testing.assert_frame_equal(lb, before)
    assert out["AVAL"].tolist() == [2.5, 0.1, 0.2, 7.0]
    assert out["BLQFL"].tolist() == ["Y", "", "", ""]
    assert out["AVALIMP"].tolist() == ["LLOQ/2", "", "", ""]
