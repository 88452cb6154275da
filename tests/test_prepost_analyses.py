"""Pre/post analyses (PP-*) on a hand-made study, against independent references.

The toy study has 9 analysis-set subjects (S01-S09) and one subject outside the Full Analysis Set
(S10). Session 1 total bilirubin uses the Hollander & Wolfe (1973, p. 29) depression data of R's
``?wilcox.test`` example (values x 100): pre = x, post = y. R documents

    > wilcox.test(x, y, paired = TRUE, alternative = "greater")
    V = 40, p-value = 0.01953

so for post - pre (y - x) V = 9*10/2 - 40 = 5 and the two-sided exact p-value is
2 * 0.01953 = 20/512 = 0.0390625 (the null distribution is symmetric). The Hodges-Lehmann estimate
and its exact interval are recomputed here from the Walsh averages and by enumerating the 2^9 sign
patterns (Bauer 1972), independently of the package's code.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from msc_analysis.analyses.prepost import run_prepost
from msc_analysis.analyses.prepost_data import prepare_prepost, prepost_meld
from msc_analysis.ard import STAT_NAMES, lookup
from msc_analysis.io.issues import DataIssues
from msc_analysis.sap import load_sap
from msc_analysis.sap.settings import parse_sap

REPO = Path(__file__).resolve().parents[1]
SAP_PATH = REPO / "sap" / "sap.toml"

SUBJ = [f"S{i:02d}" for i in range(1, 10)]
HW_X = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
HW_Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
TB_PRE1 = [100 * v for v in HW_X]
TB_POST1 = [100 * v for v in HW_Y]
TB_PRE2 = [170, 60, 150, 230, 160, 170, 150, 280, 125]
TB_POST2 = [100, 45, None, 150, 100, 110, 95, 200, 90]        # S03: no post value
TB_D7 = [300, 40, 140, 210, 150, 160, 140, 260, 120]          # S01: the brief's MELD example
TB_D14 = [140, 35, 130, 200, 140, 150, 130, 250, None]        # S09 died on day 12
TB_D28 = [130, 30, 120, 190, 130, 140, 120, 240, None]        # S08 transplanted on day 20
IL6_PRE1 = [12, 8, 20, 5, 30, 9, 15, 7, 11]
IL6_POST1 = [10, None, 18, None, 25, 8, 12, 6, 10]           # None: below LLOQ 1.5
IL6_D7 = [9, None, 15, 4, 20, 7, 10, 6, 9]
INR_PRE1 = [2.0, 2.1, 2.2, 1.9, 2.4, 2.0, 1.8, 2.6, 2.3]
INR_D7 = [2.0, 1.9, 2.0, 1.7, 2.1, 1.9, 1.7, 2.2, 2.0]


def _t(day: int, hhmm: str) -> pd.Timestamp:
    return pd.Timestamp("2024-01-01") + pd.Timedelta(days=day - 1 if day > 0 else day) + \
        pd.Timedelta(hours=int(hhmm[:2]), minutes=int(hhmm[3:]))


def toy_study() -> object:
    """A small study as the loader returns it (datetime64, float, str)."""
    lb: list[dict[str, object]] = []

    def add(s: str, p: str, v: float | None, when: pd.Timestamp, atpt: str = "",
            sess: float = np.nan, lloq: float = np.nan) -> None:
        blq = "Y" if v is None and not np.isnan(lloq) else ""
        lb.append({"USUBJID": s, "PARAMCD": p, "AVAL": np.nan if v is None else float(v),
                   "ADTM": when, "ATPT": atpt, "SESSNUM": sess, "LLOQ": lloq, "BLQFL": blq})

    for i, s in enumerate(SUBJ):
        add(s, "TBIL", 200.0, _t(-1, "08:00"))
        add(s, "TBIL", TB_PRE1[i], _t(1, "09:00"), "PRE", 1)   # at session start: baseline
        add(s, "TBIL", TB_POST1[i], _t(1, "15:30"), "POST", 1)
        add(s, "TBIL", TB_PRE2[i], _t(2, "09:00"), "PRE", 2)
        if TB_POST2[i] is not None:
            add(s, "TBIL", TB_POST2[i], _t(2, "15:30"), "POST", 2)
        add(s, "TBIL", TB_D7[i], _t(6 if s == "S07" else 7, "08:00"))
        if TB_D14[i] is not None:
            add(s, "TBIL", TB_D14[i], _t(14, "08:00"))
        if TB_D28[i] is not None:
            add(s, "TBIL", TB_D28[i], _t(28, "08:00"))
        add(s, "IL6", IL6_PRE1[i], _t(1, "09:00"), "PRE", 1, lloq=1.5)
        add(s, "IL6", IL6_POST1[i], _t(1, "15:30"), "POST", 1, lloq=1.5)
        add(s, "IL6", IL6_D7[i], _t(7, "08:00"), lloq=1.5)
        add(s, "INR", INR_PRE1[i], _t(1, "09:00"), "PRE", 1)
        add(s, "INR", INR_PRE1[i] - 0.1 * (i % 3 + 1), _t(1, "15:30"), "POST", 1)
        add(s, "INR", INR_D7[i], _t(7, "08:00"))
        for p, v in (("CREAT", 80.0), ("SODIUM", 130.0), ("ALB", 30.0)):
            add(s, p, v, _t(-1, "08:00"))
            add(s, p, v, _t(7, "08:00"))
    add("S07", "TBIL", 999.0, _t(8, "08:00"))                  # tie with day 6: not chosen
    add("S10", "TBIL", 500.0, _t(1, "09:00"), "PRE", 1)        # outside the FAS
    add("S10", "TBIL", 100.0, _t(1, "15:30"), "POST", 1)
    adlb = pd.DataFrame(lb)
    adlb["ADT"] = adlb["ADTM"].dt.normalize()
    adlb["_file"] = "adlb.csv"
    adlb["_row"] = np.arange(1, len(adlb) + 1)
    subjects = [*SUBJ, "S10"]
    adsl = pd.DataFrame({
        "USUBJID": subjects,
        "FASFL": ["Y"] * 9 + ["N"],
        "SEX": ["F"] + ["M"] * 9,
        "TRTSDT": pd.to_datetime(["2024-01-01"] * 10),
        "DTHFL": [""] * 8 + ["Y", ""],
        "DTHDT": pd.to_datetime([pd.NaT] * 8 + ["2024-01-12", pd.NaT]),
        "LTXFL": [""] * 7 + ["Y", "", ""],
        "LTXDT": pd.to_datetime([pd.NaT] * 7 + ["2024-01-20", pd.NaT, pd.NaT]),
    })
    ex = [{"USUBJID": s, "SESSNUM": k, "ASTDTM": _t(k, "09:00"), "AENDTM": _t(k, "15:00")}
          for s in subjects for k in (1, 2)]
    ex.append({"USUBJID": "S05", "SESSNUM": 3, "ASTDTM": _t(3, "09:00"),
               "AENDTM": _t(3, "15:00")})                         # session without samples
    return dataclasses.make_dataclass("Toy", ["adsl", "adlb", "adex"])(
        adsl, adlb, pd.DataFrame(ex))


@pytest.fixture(scope="module")
def sap():
    return load_sap(SAP_PATH)


@pytest.fixture(scope="module")
def result(sap):
    issues = DataIssues()
    ard = run_prepost(toy_study(), sap, issues)
    return ard, issues.frame()


def _get(ard: pd.DataFrame, aid: str, stat: str, **kw: object) -> float:
    variable = kw.pop("variable", None)
    level = kw.pop("variable_level", None)
    return lookup(ard, aid, stat, variable=variable, variable_level=level,
                  **{k: str(v) for k, v in kw.items()})


def _exact_hl_interval(d: np.ndarray, conf: float) -> tuple[float, float, float]:
    """HL estimate and the exact interval from first principles (no package code).

    R's wilcox.test (exact, two-sided): ``qu <- qsignrank(alpha/2, n)`` (smallest q with
    P(V <= q) >= alpha/2; 1 if 0), ``ql <- n(n+1)/2 - qu``, interval
    ``c(diffs[qu], diffs[ql + 1])`` of the sorted Walsh averages (1-based).
    """
    n = d.size
    walsh = sorted((d[i] + d[j]) / 2 for i in range(n) for j in range(i, n))
    # exact null distribution of V by enumerating all 2^n sign patterns
    counts: dict[int, int] = {}
    for signs in itertools.product((0, 1), repeat=n):
        v = sum(r for r, s in zip(range(1, n + 1), signs, strict=True) if s)
        counts[v] = counts.get(v, 0) + 1
    total = 2 ** n
    alpha = 1 - conf
    cum, qu = 0, 0
    for v in range(n * (n + 1) // 2 + 1):
        cum += counts.get(v, 0)
        if cum / total >= alpha / 2:
            qu = max(v, 1)
            break
    ql = n * (n + 1) // 2 - qu
    return float(np.median(walsh)), float(walsh[qu - 1]), float(walsh[ql])


def test_population_and_only_fas_subjects(result) -> None:
    ard, _ = result
    assert _get(ard, "PP-SESS", "N", variable="USUBJID") == 9
    # S10 (not in FAS) would make 10 pairs in session 1
    assert _get(ard, "PP-SESS", "n", variable="PRE", PARAMCD="TBIL", SESSNUM=1) == 9
    assert set(ard["stat_name"]) <= set(STAT_NAMES)
    assert set(ard["analysis_id"]) == {"PP-SESS", "PP-RR", "PP-FU", "PP-MMRM", "PP-MELD",
                                       "PP-HOLM", "PP-LLOQ"}


def test_session_signed_rank_matches_r_and_hand_hl(result) -> None:
    ard, _ = result
    g = {"PARAMCD": "TBIL", "SESSNUM": 1, "variable": "CHG", "variable_level": "signed-rank"}
    assert _get(ard, "PP-SESS", "statistic", **g) == 5.0                     # R: V = 45 - 40
    assert _get(ard, "PP-SESS", "p_value", **g) == pytest.approx(20 / 512, abs=1e-12)
    d = np.array(TB_POST1) - np.array(TB_PRE1)
    hl, low, high = _exact_hl_interval(d, 0.95)
    assert _get(ard, "PP-SESS", "estimate", **g) == pytest.approx(hl, rel=1e-12)
    assert _get(ard, "PP-SESS", "conf_low", **g) == pytest.approx(low, rel=1e-12)
    assert _get(ard, "PP-SESS", "conf_high", **g) == pytest.approx(high, rel=1e-12)
    assert "Wilcoxon signed rank exact test" in ard.loc[
        (ard["analysis_id"] == "PP-SESS") & (ard["variable_level"] == "signed-rank"),
        "method"].iloc[0]


def test_session_geometric_mean_ratio_by_numpy_logs(result) -> None:
    ard, _ = result
    logr = np.log(np.array(TB_POST1) / np.array(TB_PRE1))
    n = logr.size
    half = sps.t.ppf(0.975, n - 1) * logr.std(ddof=1) / math.sqrt(n)
    g = {"PARAMCD": "TBIL", "SESSNUM": 1, "variable": "RATIO", "variable_level": "paired-t"}
    assert _get(ard, "PP-SESS", "estimate", **g) == pytest.approx(math.exp(logr.mean()), 1e-12)
    assert _get(ard, "PP-SESS", "conf_low", **g) == pytest.approx(
        math.exp(logr.mean() - half), rel=1e-12)
    assert _get(ard, "PP-SESS", "conf_high", **g) == pytest.approx(
        math.exp(logr.mean() + half), rel=1e-12)
    # geometric mean of the pre values
    assert _get(ard, "PP-SESS", "geo_mean", variable="PRE", PARAMCD="TBIL", SESSNUM=1) == \
        pytest.approx(math.exp(np.mean(np.log(TB_PRE1))), rel=1e-12)
    # reduction ratio mean of session 1 by hand: mean of (pre - post) / pre
    rr = [(a - b) / a for a, b in zip(TB_PRE1, TB_POST1, strict=True)]
    assert _get(ard, "PP-SESS", "mean", variable="RR", PARAMCD="TBIL", SESSNUM=1) == \
        pytest.approx(sum(rr) / len(rr), rel=1e-12)


def test_per_subject_mean_reduction_ratio(result) -> None:
    ard, _ = result
    means = []
    for i in range(9):
        rrs = [(TB_PRE1[i] - TB_POST1[i]) / TB_PRE1[i]]
        if TB_POST2[i] is not None:                     # S03 has only session 1
            rrs.append((TB_PRE2[i] - TB_POST2[i]) / TB_PRE2[i])
        means.append(sum(rrs) / len(rrs))
    g = {"PARAMCD": "TBIL", "variable": "RR"}
    assert _get(ard, "PP-RR", "n", variable_level="", **g) == 9
    assert _get(ard, "PP-RR", "mean", **g) == pytest.approx(sum(means) / 9, rel=1e-12)
    assert _get(ard, "PP-RR", "n_sessions", **g) == 17
    # S02's mean RR, (-14.7/50 + 15/60) / 2 = -0.022, is the only negative one and the smallest
    # in absolute value: V = 45 - 1 = 44; sign patterns with V >= 44: {all +}, {only rank 1 -},
    # so the exact two-sided p = 2 * 2 / 512
    assert means[1] == pytest.approx(-0.022, abs=5e-4)
    assert min(abs(m) for m in means) == abs(means[1])
    sr = {**g, "variable_level": "signed-rank"}
    assert _get(ard, "PP-RR", "statistic", **sr) == 44.0
    assert _get(ard, "PP-RR", "p_value", **sr) == pytest.approx(4 / 512, abs=1e-12)
    hl, low, high = _exact_hl_interval(np.array(means), 0.95)
    assert _get(ard, "PP-RR", "estimate", **sr) == pytest.approx(hl, rel=1e-12)
    # one-sample t interval of the mean RR: mean +- t(0.975, 8) * sd / 3
    m, sd = np.mean(means), np.std(means, ddof=1)
    tt = {**g, "variable_level": "t-test"}
    assert (_get(ard, "PP-RR", "conf_low", **tt), _get(ard, "PP-RR", "conf_high", **tt)) == \
        pytest.approx((m - sps.t.ppf(0.975, 8) * sd / 3, m + sps.t.ppf(0.975, 8) * sd / 3),
                      rel=1e-12)
    assert (_get(ard, "PP-RR", "conf_low", **sr), _get(ard, "PP-RR", "conf_high", **sr)) == \
        pytest.approx((low, high), rel=1e-12)


def test_exclusions_are_counted_with_reasons_and_listed(result) -> None:
    ard, issues = result
    assert _get(ard, "PP-SESS", "n_excluded", variable="CHG", PARAMCD="TBIL", SESSNUM=2,
                variable_level="no post-session value") == 1
    assert _get(ard, "PP-SESS", "n_excluded", variable="CHG", PARAMCD="TBIL", SESSNUM=3,
                variable_level="no pre- or post-session value") == 1
    assert _get(ard, "PP-FU", "n_excluded", variable="CHG", PARAMCD="TBIL", AVISIT="Day 14",
                variable_level="death before the visit") == 1
    assert _get(ard, "PP-FU", "n_excluded", variable="CHG", PARAMCD="TBIL", AVISIT="Day 28",
                variable_level="death before the visit") == 1
    assert _get(ard, "PP-FU", "n_excluded", variable="CHG", PARAMCD="TBIL", AVISIT="Day 28",
                variable_level="liver transplant before the visit") == 1
    fu = issues.loc[(issues["source"] == "PP-FU") & (issues["severity"] == "excluded")]
    ltx = fu.loc[fu["message"].str.contains("taken after liver transplant")]
    assert ltx["usubjid"].tolist() == ["S08"] and ltx["file"].tolist() == ["adlb.csv"]
    assert ltx["row"].tolist() != [""]
    tie = fu.loc[fu["message"].str.contains("closer to the target day")]
    assert tie["usubjid"].tolist() == ["S07"]
    sess = issues.loc[(issues["source"] == "PP-SESS") & (issues["usubjid"] == "S03")]
    assert sess["message"].str.contains("TBIL SESSNUM 2: no post-session value").any()
    # n at Day 28 = 9 - death - transplant
    assert _get(ard, "PP-FU", "n", variable="CHG", variable_level="", PARAMCD="TBIL",
                AVISIT="Day 28") == 7


def test_follow_up_uses_window_choice_and_derived_baseline(result) -> None:
    ard, _ = result
    # Day 7 of S07 is the day-6 value (tie with day 8 -> earlier); baseline = session-1 pre
    chg7 = np.array(TB_D7) - np.array(TB_PRE1)
    assert _get(ard, "PP-FU", "mean", variable="CHG", PARAMCD="TBIL", AVISIT="Day 7") == \
        pytest.approx(chg7.mean(), rel=1e-12)
    assert _get(ard, "PP-FU", "mean", variable="AVAL", PARAMCD="TBIL", AVISIT="Baseline") == \
        pytest.approx(np.mean(TB_PRE1), rel=1e-12)
    logr = np.log(np.array(TB_D7) / np.array(TB_PRE1))
    assert _get(ard, "PP-FU", "estimate", variable="RATIO", variable_level="paired-t",
                PARAMCD="TBIL", AVISIT="Day 7") == pytest.approx(math.exp(logr.mean()), 1e-12)


def test_lloq_substitution_primary_and_sensitivity(result) -> None:
    ard, _ = result
    post_half = [1.5 / 2 if v is None else v for v in IL6_POST1]
    post_lloq = [1.5 if v is None else v for v in IL6_POST1]
    assert _get(ard, "PP-SESS", "mean", variable="POST", PARAMCD="IL6", SESSNUM=1) == \
        pytest.approx(np.mean(post_half), rel=1e-12)
    assert _get(ard, "PP-LLOQ", "mean", variable="POST", PARAMCD="IL6", SESSNUM=1) == \
        pytest.approx(np.mean(post_lloq), rel=1e-12)
    assert _get(ard, "PP-LLOQ", "n", variable="BLQFL", variable_level="Y", PARAMCD="IL6") == 3
    # PP-LLOQ covers the @lloq parameters only (IL6, TNFA, CRP)
    assert "TBIL" not in set(ard.loc[ard["analysis_id"] == "PP-LLOQ", "group1_level"])


def test_holm_adjustment_by_hand(result) -> None:
    ard, _ = result
    rows = ard.loc[(ard["analysis_id"] == "PP-HOLM") & (ard["stat_name"] == "p_value")]
    p = dict(zip(rows["group1_level"], rows["stat"], strict=True))
    # the family present in the toy data: TBIL, INR, IL6 (TNFA and CRP have no data)
    assert sorted(p) == ["IL6", "INR", "TBIL"]
    # each raw p is PP-FU's paired-t p at the key visit (Day 7)
    for code, value in p.items():
        var = "RATIO"
        assert value == _get(ard, "PP-FU", "p_value", variable=var, variable_level="paired-t",
                             PARAMCD=code, AVISIT="Day 7")
    order = sorted(p, key=p.get)
    adj, running = {}, 0.0
    for i, code in enumerate(order):                   # Holm: (m - i) * p, cumulative max, <= 1
        running = max(running, min(1.0, (3 - i) * p[code]))
        adj[code] = running
    for code in p:
        assert _get(ard, "PP-HOLM", "p_value_adj", PARAMCD=code) == pytest.approx(adj[code])


def test_meld_matches_brief_worked_example(sap) -> None:
    data = prepare_prepost(toy_study(), sap, "half", ["TBIL", "INR", "CREAT", "SODIUM", "ALB"])
    table = prepost_meld(data, ["MELD", "MELDNA", "MELD3"], ["Day 7"])
    s1 = table.loc[(table["USUBJID"] == "S01") & (table["AVISIT"] == "Day 7")]
    # clinical brief 1.1-1.3: TBil 300 umol/L, INR 2.0, creatinine 80 umol/L -> MELD 25;
    # Na 130 -> MELD-Na 28; female, albumin 30 g/L -> MELD 3.0 29
    assert s1.set_index("PARAMCD")["AVAL"].to_dict() == {"MELD": 25.0, "MELDNA": 28.0,
                                                          "MELD3": 29.0}


def test_every_ci_follows_sap_conf_level(sap) -> None:
    sap90 = dataclasses.replace(sap, conf_level=0.90)
    ard = run_prepost(toy_study(), sap90, DataIssues())
    conf = ard.loc[ard["stat_name"] == "conf_level"]
    assert len(conf) == (ard["stat_name"] == "conf_low").sum() > 20
    # t and signed-rank intervals have exactly the requested level
    continuous = conf.loc[conf["variable_level"] != "sign-test", "stat"]
    assert len(continuous) > 20 and (continuous == 0.90).all()
    # the sign test's order-statistic interval reports its achieved level: n = 9 non-zero
    # differences, (x(2), x(8)) covers with 1 - 2 P(Bin(9, 1/2) <= 1) = 1 - 2 * 10/512
    sign = conf.loc[(conf["variable_level"] == "sign-test") & (conf["group1_level"] == "TBIL")
                    & (conf["group2_level"] == "1"), "stat"]
    assert sign.tolist() == [pytest.approx(1 - 20 / 512)]
    logr = np.log(np.array(TB_POST1) / np.array(TB_PRE1))
    half = sps.t.ppf(0.95, 8) * logr.std(ddof=1) / 3.0
    assert _get(ard, "PP-SESS", "conf_low", variable="RATIO", variable_level="paired-t",
                PARAMCD="TBIL", SESSNUM=1) == pytest.approx(math.exp(logr.mean() - half), 1e-12)


def test_dropping_a_parameter_from_the_sap_removes_its_rows() -> None:
    with SAP_PATH.open("rb") as fh:
        raw = tomllib.load(fh)
    del raw["parameters"]["IL6"]
    sap = parse_sap(raw, source="sap.toml (IL6 removed)")
    ard = run_prepost(toy_study(), sap, DataIssues())
    assert "IL6" not in set(ard["group1_level"])
    assert "TBIL" in set(ard["group1_level"])


def test_deterministic(sap, result) -> None:
    b = run_prepost(toy_study(), sap, DataIssues())
    pd.testing.assert_frame_equal(result[0], b)


def test_mmrm_with_one_visit_equals_ancova_by_hand(result) -> None:
    """INR has follow-up data at Day 7 only, so the MMRM is the ANCOVA
    log(D7/BASE) ~ log(BASE): its LS mean at the mean covariate is mean(y), with standard error
    s / sqrt(n) (s the residual SD, n - 2 df). Computed here with numpy least squares."""
    ard, _ = result
    y = np.log(np.array(INR_D7) / np.array(INR_PRE1))
    x = np.log(np.array(INR_PRE1))
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    n = y.size
    s = math.sqrt(resid @ resid / (n - 2))
    half = sps.t.ppf(0.975, n - 2) * s / math.sqrt(n)
    g = {"PARAMCD": "INR", "AVISIT": "Day 7", "variable": "RATIO", "variable_level": "mmrm"}
    assert _get(ard, "PP-MMRM", "estimate", **g) == pytest.approx(math.exp(y.mean()), rel=1e-6)
    assert _get(ard, "PP-MMRM", "conf_low", **g) == pytest.approx(math.exp(y.mean() - half),
                                                                   rel=1e-6)
    assert _get(ard, "PP-MMRM", "conf_high", **g) == pytest.approx(math.exp(y.mean() + half),
                                                                    rel=1e-6)
    assert _get(ard, "PP-MMRM", "df", **g) == pytest.approx(n - 2, rel=1e-6)
    # TBIL has three visits: one LS mean per visit and the subjects behind each
    assert _get(ard, "PP-MMRM", "n", variable="CHG", PARAMCD="TBIL", AVISIT="Day 28") == 7
    for visit in ("Day 7", "Day 14", "Day 28"):
        assert np.isfinite(_get(ard, "PP-MMRM", "estimate", variable="RATIO",
                                PARAMCD="TBIL", AVISIT=visit))


def test_sample_after_transplant_is_counted_at_its_visit(result) -> None:
    ard, _ = result
    assert _get(ard, "PP-FU", "n_excluded", variable="AVAL", PARAMCD="TBIL", AVISIT="Day 28",
                variable_level="taken after liver transplant") == 1
    assert _get(ard, "PP-FU", "n_excluded", variable="AVAL", PARAMCD="TBIL", AVISIT="Day 7",
                variable_level="another sample in the window is closer to the target day") == 1


def test_every_excluded_record_is_listed_once_per_analysis(result) -> None:
    ard, issues = result
    excluded = issues.loc[issues["severity"] == "excluded"]
    for aid in ("PP-SESS", "PP-RR", "PP-FU", "PP-MMRM", "PP-MELD", "PP-HOLM", "PP-LLOQ"):
        in_ard = ard.loc[(ard["analysis_id"] == aid) & (ard["stat_name"] == "n_excluded"),
                         "stat"].sum()
        assert in_ard == (excluded["source"] == aid).sum(), aid


def test_precomputed_primary_data_gives_the_same_ard(sap, result) -> None:
    from msc_analysis.analyses.prepost import analysis_population, lab_parameters

    data = prepare_prepost(toy_study(), sap, sap.lloq.primary, lab_parameters(sap),
                           analysis_population(sap))
    pd.testing.assert_frame_equal(run_prepost(toy_study(), sap, DataIssues(), primary=data),
                                  result[0])


def test_visit_values_and_reasons_subject_by_subject(sap) -> None:
    # The analysed values and the reasons for the others at each visit, checked one subject
    # at a time against the rule: no baseline -> "no baseline value"; no analysed value in
    # the window -> death / transplant before the visit or no value (missing_reason);
    # otherwise the window's analysed value. By hand for the toy study: TBIL Day 14 has no
    # value for S09 (died day 12), Day 28 none for S08 (transplant day 20) nor S09.
    from msc_analysis.analyses.prepost import (
        REASON_NO_BASELINE,
        _followup,
        _visit_values,
        lab_parameters,
    )
    from msc_analysis.derive.visits import REASON_DEATH, REASON_TRANSPLANT

    data = prepare_prepost(toy_study(), sap, sap.lloq.primary, lab_parameters(sap))
    visits = {v.name: v for v in _followup(sap)}
    w = data.windows
    for p in ("TBIL", "IL6", "INR", "PTA"):
        for visit in visits.values():
            values, excluded = _visit_values(data, p, visit)
            assert list(values.columns) == ["USUBJID", "AVAL", "BASE", "CHG", "PCHG"]
            assert values["USUBJID"].tolist() + excluded["USUBJID"].tolist() != []
            for s in data.subjects:
                has_base = ((data.base["USUBJID"] == s) & (data.base["PARAMCD"] == p)).any()
                at = w.loc[(w["USUBJID"] == s) & (w["PARAMCD"] == p)
                           & (w["AVISIT"] == visit.name) & (w["ANL01FL"] == "Y")]
                if has_base and len(at):
                    row = values.loc[values["USUBJID"] == s].iloc[0]
                    assert row["AVAL"] == at["AVAL"].iloc[-1]
                    assert row["BASE"] == at["BASE"].iloc[-1]
                    assert s not in excluded["USUBJID"].tolist()
                else:
                    reason = excluded.loc[excluded["USUBJID"] == s, "REASON"].tolist()
                    expected = (REASON_NO_BASELINE if not has_base
                                else data.missing_reason(s, visit))
                    assert reason == [expected]
    _, excluded = _visit_values(data, "TBIL", visits["Day 14"])
    assert excluded[["USUBJID", "REASON"]].values.tolist() == [["S09", REASON_DEATH]]
    _, excluded = _visit_values(data, "TBIL", visits["Day 28"])
    assert excluded[["USUBJID", "REASON"]].values.tolist() == [
        ["S08", REASON_TRANSPLANT], ["S09", REASON_DEATH]]
