"""The two faces of the plan agree: sap/SAP.md against sap/sap.toml.

The TFL list, the appendix tables and the monitoring tables of SAP.md are parsed and compared with
the settings. The stopping boundaries and operating characteristics printed in SAP.md are
recomputed here from the settings with scipy.stats.beta (posterior) and an exact enumeration of
the binomial paths written out below (not with the package's monitoring code), so the document,
the settings and an independent calculation must all agree.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scipy import stats as sps

from msc_analysis.errors import SettingsError
from msc_analysis.sap import Sap, load_sap, marked_table, read_tfl_list

REPO = Path(__file__).resolve().parents[1]
SAP_MD = REPO / "sap" / "SAP.md"
TEXT = SAP_MD.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def sap() -> Sap:
    return load_sap(REPO / "sap" / "sap.toml")


def _num(cell: str) -> float | None:
    return None if cell in ("-", "none") else float(cell)


def _yes(cell: str) -> bool:
    assert cell in ("yes", "no"), cell
    return cell == "yes"


# ------------------------------------------------------------------------------------------------
# TFL list
# ------------------------------------------------------------------------------------------------


def test_tfl_list_of_the_document_equals_the_settings(sap: Sap) -> None:
    doc = read_tfl_list(SAP_MD)
    assert [t.id for t in doc] == [t.id for t in sap.tfls]
    for d, s in zip(doc, sap.tfls, strict=True):
        assert (d.title, d.population, d.analysis_ids) == (s.title, s.population,
                                                          s.analysis_ids), d.id


def test_every_analysis_is_shown_by_some_tfl(sap: Sap) -> None:
    shown = {aid for t in sap.tfls for aid in t.analysis_ids}
    assert shown == set(sap.analyses)


def test_numbering_follows_ich_e3(sap: Sap) -> None:
    for t in sap.tfls:
        root = t.number.split(".")[:2]
        if t.kind == "listing":
            assert root == ["16", "2"], t.id
        else:
            assert root[0] == "14" and root[1] in ("1", "2", "3"), t.id
        if t.analysis_ids and t.analysis_ids[0].startswith("SAF-"):
            assert t.number.startswith("14.3"), t.id
        if t.analysis_ids and t.analysis_ids[0].startswith("PP-"):
            assert t.number.startswith("14.2"), t.id


# ------------------------------------------------------------------------------------------------
# Appendix A tables
# ------------------------------------------------------------------------------------------------


def test_parameter_table(sap: Sap) -> None:
    rows = marked_table(TEXT, "parameters")
    assert [r["PARAMCD"] for r in rows] == list(sap.parameters)
    for r in rows:
        p = sap.parameters[r["PARAMCD"]]
        assert r["Label"] == p.label and r["Unit"] == p.unit and r["Scale"] == p.scale
        assert int(r["Decimals"]) == p.decimals
        assert _yes(r["Biomarker"]) == p.biomarker and _yes(r["Holm"]) == p.holm
        assert (_num(r["ULN"]), _num(r["LLN"]), _num(r["LLOQ"])) == (p.uln, p.lln, p.lloq)
        assert r["CTCAE term"] == (p.ctcae_term or "-")
        assert r["Grade basis"] == (p.grade_basis or "-")


def test_visit_table(sap: Sap) -> None:
    rows = marked_table(TEXT, "visits")
    assert [r["Visit"] for r in rows] == [v.name for v in sap.visits]
    for r, v in zip(rows, sap.visits, strict=True):
        low, high = (int(x) for x in r["Window (study days)"].split(" to "))
        assert (float(r["AVISITN"]), int(r["Target day"]), low, high) == (
            v.avisitn, v.target_day, v.window_low, v.window_high)
        assert _yes(r["Follow-up"]) == v.followup


def test_analysis_table(sap: Sap) -> None:
    rows = marked_table(TEXT, "analyses")
    assert [r["Analysis id"] for r in rows] == list(sap.analyses)
    for r in rows:
        a = sap.analyses[r["Analysis id"]]
        assert (r["Title"], r["Population"], r["Method"]) == (a.title, a.population, a.method)
        listed = () if r["Parameters"] == "-" else tuple(r["Parameters"].split(", "))
        assert listed == a.parameters


def test_key_settings_table(sap: Sap) -> None:
    values = {r["Setting"]: r["Value"] for r in marked_table(TEXT, "settings")}
    m, mm, v = sap.monitoring, sap.mmrm, sap.vitals
    expected = {
        "conf_level": sap.conf_level, "ctcae_version": sap.ctcae_version, "seed": sap.seed,
        "sessions": sap.sessions, "teae_window_days": sap.teae_window_days,
        "session_ae_window_hours": sap.session_ae_window_hours, "key_visit": sap.key_visit,
        "lloq.primary": sap.lloq.primary, "lloq.sensitivity": sap.lloq.sensitivity,
        "mmrm.covariance_order": ", ".join(mm.covariance_order), "mmrm.df_method": mm.df_method,
        "mmrm.baseline_by_visit": "yes" if mm.baseline_by_visit else "no",
        "mmrm.max_iter": mm.max_iter,
        "vitals.hypotension_sbp": v.hypotension_sbp, "vitals.sbp_drop": v.sbp_drop,
        "vitals.fever_temp": v.fever_temp,
        "monitoring.prior_a": m.prior_a, "monitoring.prior_b": m.prior_b,
        "monitoring.threshold": m.threshold, "monitoring.prob_cutoff": m.prob_cutoff,
        "monitoring.min_subjects": m.min_subjects, "monitoring.max_subjects": m.max_subjects,
        "monitoring.window_days": m.window_days, "monitoring.min_grade": m.min_grade,
        "monitoring.n_sim": m.n_sim, "monitoring.seed": m.seed,
    }
    assert set(values) == set(expected)
    for key, want in expected.items():
        got = values[key]
        if isinstance(want, int | float) and not isinstance(want, bool):
            assert float(got) == float(want), key
        else:
            assert got == str(want), key


def test_decimals_table(sap: Sap) -> None:
    rows = {r["Statistic"]: r["Rule"] for r in marked_table(TEXT, "decimals")}
    expected = {k: f"raw + {v}" for k, v in sap.decimals.relative.items()}
    expected |= {k: str(v) for k, v in sap.decimals.fixed.items()}
    assert rows == expected


# ------------------------------------------------------------------------------------------------
# Monitoring: boundaries and exact operating characteristics, recomputed independently
# ------------------------------------------------------------------------------------------------


def posterior_exceeds(sap: Sap, x: int, n: int) -> float:
    """P(p > threshold | x events in n) under the Beta(a + x, b + n - x) posterior."""
    m = sap.monitoring
    return float(sps.beta.sf(m.threshold, m.prior_a + x, m.prior_b + n - x))


def boundaries(sap: Sap) -> list[int | None]:
    """Smallest x with posterior probability above the cut-off, for n = 1..max_subjects."""
    m = sap.monitoring
    out: list[int | None] = []
    for n in range(1, m.max_subjects + 1):
        hits = [x for x in range(n + 1) if posterior_exceeds(sap, x, n) > m.prob_cutoff]
        out.append(hits[0] if hits else None)
    return out


def exact_oc(sap: Sap, rate: float) -> tuple[float, float]:
    """P(stop) and E[number treated] by walking the distribution of x over n, absorbing stops."""
    m = sap.monitoring
    bnd = boundaries(sap)
    alive = {0: 1.0}
    p_stop = expected_n = 0.0
    for n in range(1, m.max_subjects + 1):
        step: dict[int, float] = {}
        for x, prob in alive.items():
            step[x + 1] = step.get(x + 1, 0.0) + prob * rate
            step[x] = step.get(x, 0.0) + prob * (1.0 - rate)
        alive = {}
        for x, prob in step.items():
            b = bnd[n - 1]
            if n >= m.min_subjects and b is not None and x >= b:
                p_stop += prob
                expected_n += prob * n
            else:
                alive[x] = prob
    expected_n += sum(alive.values()) * m.max_subjects
    return p_stop, expected_n


def test_boundary_table_recomputed_from_the_settings(sap: Sap) -> None:
    rows = marked_table(TEXT, "boundaries")
    m = sap.monitoring
    bnd = boundaries(sap)
    assert [int(r["n"]) for r in rows] == list(range(1, m.max_subjects + 1))
    for r, b in zip(rows, bnd, strict=True):
        n = int(r["n"])
        assert _yes(r["Rule applied"]) == (n >= m.min_subjects)
        assert _num(r["Stop if events >="]) == b
        if b is None:
            # even n events out of n do not reach the cut-off
            assert float(r["P(p > threshold) with one event fewer"]) == pytest.approx(
                posterior_exceeds(sap, n, n), abs=5e-5)
        else:
            at = posterior_exceeds(sap, b, n)
            assert at > m.prob_cutoff
            assert float(r["P(p > threshold) with boundary events"]) == pytest.approx(at, abs=5e-5)
            below = posterior_exceeds(sap, b - 1, n)
            assert below <= m.prob_cutoff
            assert float(r["P(p > threshold) with one event fewer"]) == pytest.approx(below,
                                                                                      abs=5e-5)


def test_boundary_hand_check() -> None:
    # Hand calculation, independent of scipy's beta: with prior Beta(0.3, 2.7), one event in one
    # subject gives the posterior Beta(1.3, 2.7); a vague Beta(1, 1) prior gives Beta(2, 1) whose
    # survival function is 1 - t^2, so P(p > 0.2) = 0.96 (the SAP's argument against it).
    assert float(sps.beta.sf(0.2, 2, 1)) == pytest.approx(1 - 0.2**2, abs=1e-12)
    # Beta(1.3, 2.7) at 0.2 by numerical integration of the density (midpoint rule).
    from math import gamma

    const = gamma(4.0) / (gamma(1.3) * gamma(2.7))
    k = 200_000
    h = 0.8 / k
    area = sum(const * (0.2 + (i + 0.5) * h) ** 0.3 * (1 - (0.2 + (i + 0.5) * h)) ** 1.7
               for i in range(k)) * h
    assert area == pytest.approx(0.6642, abs=5e-5)  # SAP.md table 9.3, n = 1


def test_operating_characteristics_recomputed_from_the_settings(sap: Sap) -> None:
    rows = marked_table(TEXT, "oc")
    m = sap.monitoring
    assert [float(r["True event rate"]) for r in rows] == pytest.approx(list(m.true_rates))
    for r, rate in zip(rows, m.true_rates, strict=True):
        p_stop, e_n = exact_oc(sap, rate)
        assert float(r["P(stop)"]) == pytest.approx(p_stop, abs=5e-5)
        assert float(r["Expected number of subjects"]) == pytest.approx(e_n, abs=5e-4)
        assert float(r["P(at least one event in 10 subjects)"]) == pytest.approx(
            1 - (1 - rate) ** m.max_subjects, abs=5e-5)


def test_operating_characteristic_hand_checks(sap: Sap) -> None:
    # With boundaries 2 (n = 2, 3), 3 (n = 4..7), 4 (n = 8..10): the trial stops at n = 2 exactly
    # when both first subjects have the event, so P(stop at 2) = r^2; the total is at least that
    # and at most P(X >= 2 in 10) (every stop needs >= 2 events).
    assert boundaries(sap) == [None, 2, 2, 3, 3, 3, 3, 4, 4, 4]
    for rate in (0.1, 0.3, 0.5):
        p_stop, e_n = exact_oc(sap, rate)
        at_least_two = 1 - (1 - rate) ** 10 - 10 * rate * (1 - rate) ** 9
        assert rate**2 < p_stop < at_least_two
        assert 2 < e_n < 10
    # Sample-size rationale of SAP section 4: 1 - 0.85^10 = 0.8031
    assert 1 - 0.85**10 == pytest.approx(0.8031, abs=5e-5)
    assert "1 - 0.85^10 = 0.803" in TEXT


def test_sample_size_figures_in_the_text() -> None:
    # Clopper-Pearson upper limit for 0/10 at 95 %: 1 - 0.025^(1/10) (R binom.test(0, 10)).
    assert 1 - 0.025 ** (1 / 10) == pytest.approx(0.3085, abs=5e-5)
    assert float(sps.beta.ppf(0.975, 1, 10)) == pytest.approx(0.3085, abs=5e-5)
    assert "0.3085" in TEXT
    # CI half-width factor of a GMR from 10 pairs with log-SD 0.3.
    import math

    factor = math.exp(sps.t.ppf(0.975, 9) * 0.3 / math.sqrt(10))
    assert factor == pytest.approx(1.24, abs=5e-3)
    assert "2.2622" in TEXT and f"{sps.t.ppf(0.975, 9):.4f}" == "2.2622"


# ------------------------------------------------------------------------------------------------
# Parser
# ------------------------------------------------------------------------------------------------


def test_marked_table_errors() -> None:
    with pytest.raises(SettingsError, match="expected one table marked sap:nothing"):
        marked_table(TEXT, "nothing")
    broken = "<!-- sap:x -->\n| a | b |\n|---|---|\n| 1 |\n<!-- /sap:x -->"
    with pytest.raises(SettingsError, match="row 1 has 1 cells"):
        marked_table(broken, "x")
    ok = "<!-- sap:x -->\n| a | b |\n|---|---|\n| 1 | x \\| y |\n<!-- /sap:x -->"
    assert marked_table(ok, "x") == [{"a": "1", "b": "x | y"}]


def test_package_simulation_agrees_with_the_documented_exact_values(sap: Sap) -> None:
    # SAP.md section 9.4 states that the simulated operating characteristics of SAF-MONOC agree
    # with the exact ones within a few Monte Carlo standard errors; check that claim with the
    # settings' own n_sim and seed.
    from msc_analysis.stats.monitoring import MonitoringRule, simulate_operating_characteristics

    m = sap.monitoring
    sim = simulate_operating_characteristics(MonitoringRule.from_settings(m), m.true_rates,
                                             m.n_sim, m.seed)
    rows = marked_table(TEXT, "oc")
    for r, (_, s) in zip(rows, sim.iterrows(), strict=True):
        assert abs(s["prob_stop"] - float(r["P(stop)"])) < 4 * s["prob_stop_mcse"] + 5e-5
        assert s["prob_stop_mcse"] <= 0.0016
        assert abs(s["expected_n"] - float(r["Expected number of subjects"])) < (
            4 * s["expected_n_mcse"] + 5e-4)
