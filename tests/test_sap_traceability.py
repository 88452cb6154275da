"""Tests of msc_analysis.sap.check_traceability on small synthetic ARD frames."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from msc_analysis.ard import make_row, to_frame
from msc_analysis.sap import Sap, check_traceability, load_sap

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sap() -> Sap:
    return load_sap(REPO / "sap" / "sap.toml")


def complete_ard(sap: Sap, conf_level: float | None = None) -> pd.DataFrame:
    """One row per analysis (per parameter when it has any), plus a conf_level row each."""
    level = sap.conf_level if conf_level is None else conf_level
    rows = []
    for aid, analysis in sap.analyses.items():
        for paramcd in analysis.parameters or ("",):
            groups = {"PARAMCD": paramcd} if paramcd else {}
            rows.append(make_row(aid, groups, "AVAL", "n", 10))
            rows.append(make_row(aid, groups, "AVAL", "conf_level", level))
    return to_frame(rows)


def produced(sap: Sap) -> dict[str, str]:
    return {t.id: t.title for t in sap.tfls}


def test_a_complete_ard_traces(sap: Sap) -> None:
    assert check_traceability(sap, complete_ard(sap), produced(sap)) == []
    assert check_traceability(sap, complete_ard(sap)) == []
    # produced outputs may also come as (id, title) pairs
    assert check_traceability(sap, complete_ard(sap), list(produced(sap).items())) == []


def test_missing_and_unknown_analysis_ids(sap: Sap) -> None:
    ard = complete_ard(sap)
    ard = ard[ard["analysis_id"] != "PP-RR"]
    extra = to_frame([make_row("PP-EXTRA", {}, "AVAL", "n", 3)])
    problems = check_traceability(sap, pd.concat([ard, extra], ignore_index=True))
    assert problems == ["analysis PP-RR of sap.toml has no row in the ARD",
                        "ARD analysis id 'PP-EXTRA' is not in sap.toml [analyses]"]


def test_rows_for_a_parameter_the_analysis_does_not_list(sap: Sap) -> None:
    # Dropping IL6 from the settings must make its rows disappear: rows left over are reported.
    params = {k: v for k, v in sap.parameters.items() if k != "IL6"}
    analyses = {k: dataclasses.replace(a, parameters=tuple(p for p in a.parameters if p != "IL6"))
                for k, a in sap.analyses.items()}
    dropped = dataclasses.replace(sap, parameters=params, analyses=analyses)
    problems = check_traceability(dropped, complete_ard(sap))
    flagged = sorted(p.split()[3] for p in problems)
    assert flagged == sorted(a for a in sap.analyses if "IL6" in sap.analyses[a].parameters)
    assert all("['IL6']" in p for p in problems)
    assert check_traceability(dropped, complete_ard(dropped)) == []


def test_conf_level_must_follow_the_settings(sap: Sap) -> None:
    ninety = dataclasses.replace(sap, conf_level=0.90)
    assert check_traceability(ninety, complete_ard(ninety)) == []
    problems = check_traceability(ninety, complete_ard(sap))
    assert len(problems) == len(sap.analyses)
    assert problems[0].endswith("have conf_level [0.95], none at the conf_level 0.9 of sap.toml")


def test_achieved_levels_of_exact_intervals_are_allowed(sap: Sap) -> None:
    # An exact sign-test interval reports its achieved coverage (n = 10: 1 - 2 * 11 / 1024 =
    # 0.978515625); beside intervals at the requested level it is not a problem.
    achieved = to_frame([make_row("PP-SESS", {"PARAMCD": "TBIL"}, "CHG", "conf_level",
                                  1 - 2 * 11 / 1024)])
    ard = pd.concat([complete_ard(sap), achieved], ignore_index=True)
    assert check_traceability(sap, ard) == []


def test_tfl_list_against_produced_outputs(sap: Sap) -> None:
    outputs = produced(sap)
    del outputs["F14.3.5"]
    outputs["T14.1.2"] = "Analysis Populations"
    outputs["T14.9.9"] = "Something Else"
    problems = check_traceability(sap, complete_ard(sap), outputs)
    assert problems == [
        "T14.1.2 was produced with title 'Analysis Populations', the TFL list says "
        "'Analysis Sets'",
        "F14.3.5 'Posterior Probability of an Unacceptable Event Rate After Each Subject' of the "
        "TFL list was not produced",
        "T14.9.9 'Something Else' was produced but is not in the TFL list",
    ]


def test_an_analysis_listing_no_parameters_may_use_its_own_codes(sap: Sap) -> None:
    # SURV-TFS lists no laboratory parameters; its ADTTE code TFS is not a dropped parameter
    assert sap.analysis("SURV-TFS").parameters == ()
    ard = pd.concat([complete_ard(sap), to_frame([
        make_row("SURV-TFS", {"PARAMCD": "TFS"}, "AVAL", "N", 9)])], ignore_index=True)
    assert check_traceability(sap, ard, produced(sap)) == []
