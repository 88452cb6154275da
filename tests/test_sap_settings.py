"""Tests of the SAP settings loader on sap/sap.toml and edited copies of it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from msc_analysis.errors import SettingsError
from msc_analysis.sap import Analysis, Parameter, Sap, Tfl, Visit, load_sap, parse_sap

REPO = Path(__file__).resolve().parents[1]
SAP_TOML = REPO / "sap" / "sap.toml"
TEXT = SAP_TOML.read_text(encoding="utf-8")

# The analysis ids and TFL ids of the project briefing (the contract other modules code against).
BRIEFING_ANALYSES = (
    "DISP", "ASETS", "DEMO", "SURV-TFS",
    "PP-SESS", "PP-RR", "PP-FU", "PP-MMRM", "PP-MELD", "PP-HOLM", "PP-LLOQ",
    "SAF-AEOV", "SAF-AESOCPT", "SAF-AEGRADE", "SAF-AEREL", "SAF-AESER", "SAF-AESESS",
    "SAF-LBSUM", "SAF-LBSHIFT", "SAF-LBG3", "SAF-EXPO", "SAF-VS",
    "SAF-MON", "SAF-MONBND", "SAF-MONOC",
)
BRIEFING_TFLS = {
    "T14.1.1": ("DISP",), "T14.1.2": ("ASETS",), "T14.1.3": ("DEMO",),
    "T14.2.1": ("PP-SESS",), "T14.2.2": ("PP-RR",), "T14.2.3": ("PP-FU",),
    "T14.2.4": ("PP-MMRM",), "T14.2.5": ("PP-MELD",), "T14.2.6": ("PP-HOLM",),
    "T14.2.7": ("PP-LLOQ",), "T14.2.8": ("SURV-TFS",),
    "T14.3.1.1": ("SAF-AEOV",), "T14.3.1.2": ("SAF-AESOCPT",), "T14.3.1.3": ("SAF-AEGRADE",),
    "T14.3.1.4": ("SAF-AEREL",), "T14.3.1.5": ("SAF-AESER",), "T14.3.1.6": ("SAF-AESESS",),
    "T14.3.4.1": ("SAF-LBSUM",), "T14.3.4.2": ("SAF-LBSHIFT",), "T14.3.4.3": ("SAF-LBG3",),
    "T14.3.5.1": ("SAF-EXPO",), "T14.3.6.1": ("SAF-VS",), "T14.3.7.1": ("SAF-MON",),
    "T14.3.7.2": ("SAF-MONBND",), "T14.3.7.3": ("SAF-MONOC",),
    "L16.2.7.1": (), "L16.2.7.2": (), "L16.2.7.3": (), "L16.2.8.1": (),
    "F14.2.1": ("PP-FU",), "F14.2.2": ("PP-SESS",), "F14.2.3": ("PP-FU",),
    "F14.2.4": ("PP-SESS",), "F14.3.1": ("SAF-AESOCPT",), "F14.3.2": ("SAF-EXPO",),
    "F14.3.3": ("SAF-LBSUM",), "F14.3.4": ("SURV-TFS",), "F14.3.5": ("SAF-MON",),
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sap" / "sap.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str, text: str = TEXT) -> str:
    """Replace the first occurrence of ``old`` (which must exist) by ``new``."""
    assert old in text, old
    return text.replace(old, new, 1)


def drop_table(header: str, text: str = TEXT) -> str:
    """Remove a ``[header]`` table up to the next blank line."""
    pattern = re.compile(rf"^\[{re.escape(header)}\]\n(?:[^\n]+\n)*\n", re.MULTILINE)
    out, count = pattern.subn("", text)
    assert count == 1, header
    return out


def load_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as info:
        load_sap(path)
    message = str(info.value)
    assert str(path) in message  # every settings error names the file
    return message


# ------------------------------------------------------------------------------------------------
# The repository's settings
# ------------------------------------------------------------------------------------------------


def test_repository_settings_load_with_the_contract_values() -> None:
    sap = load_sap(SAP_TOML)
    assert isinstance(sap, Sap)
    assert sap.study_id == "NCT06904755"
    assert sap.conf_level == 0.95
    assert sap.ctcae_version == "5.0"
    assert isinstance(sap.seed, int)
    assert {c: s.flag for c, s in sap.analysis_sets.items()} == {
        "ENRL": "ENRLFL", "SAF": "SAFFL", "FAS": "FASFL", "PP": "PPROTFL"}
    assert sap.biomarkers == ("TBIL", "INR", "PTA", "IL6", "TNFA", "CRP")
    assert all(isinstance(p, Parameter) for p in sap.parameters.values())
    assert sap.parameters["IL6"].scale == "log" and sap.parameters["IL6"].lloq == 1.5
    assert sap.parameters["TBIL"].uln == 21.0  # clinical brief section 2 (UK Pathology Harmony)
    assert sap.lloq.primary == "half" and sap.lloq.sensitivity == "lloq"
    assert [v.name for v in sap.visits] == ["Screening", "Baseline", "Day 7", "Day 14", "Day 28"]
    assert all(isinstance(v, Visit) for v in sap.visits)
    assert [v.name for v in sap.followup_visits] == ["Day 7", "Day 14", "Day 28"]
    assert sap.key_visit == "Day 7"
    assert sap.teae_window_days == 28
    assert sap.session_ae_window_hours == 24.0
    assert sap.sessions == 3
    assert tuple(sap.analyses) == BRIEFING_ANALYSES
    assert all(isinstance(a, Analysis) for a in sap.analyses.values())
    assert {t.id: t.analysis_ids for t in sap.tfls} == BRIEFING_TFLS
    assert all(isinstance(t, Tfl) for t in sap.tfls)
    mon = sap.monitoring
    assert (mon.prior_a, mon.prior_b, mon.threshold, mon.prob_cutoff) == (0.3, 2.7, 0.20, 0.80)
    assert (mon.min_subjects, mon.max_subjects) == (2, 10)
    assert mon.true_rates == pytest.approx([0.05 * k for k in range(1, 11)])


def test_selectors_resolve_against_parameters() -> None:
    sap = load_sap(SAP_TOML)
    assert sap.analyses["PP-SESS"].parameters == sap.biomarkers
    # The Holm family: the five biomarkers TBil, INR, IL-6, TNF-alpha, CRP (PTA is the other
    # expression of the INR measurement and stays out of the family, SAP section 7.8).
    assert sap.analyses["PP-HOLM"].parameters == ("TBIL", "INR", "IL6", "TNFA", "CRP")
    assert sap.analyses["PP-LLOQ"].parameters == ("IL6", "TNFA", "CRP")
    assert sap.analyses["PP-MELD"].parameters == ("MELD", "MELDNA", "MELD3")
    assert sap.analyses["SAF-VS"].parameters == ("SYSBP", "DIABP", "PULSE", "TEMP")
    assert set(sap.analyses["SAF-LBSHIFT"].parameters) == {
        "TBIL", "INR", "ALT", "AST", "CREAT", "PLAT", "HGB", "FIBRINO", "CALCIUM"}
    assert sap.analyses["PP-SESS"].methods == ("descriptive", "paired-t", "signed-rank",
                                               "sign-test")


def test_decimals_rule() -> None:
    sap = load_sap(SAP_TOML)
    # TBIL is collected with 1 decimal: mean/median/quartiles 2, SD 3, min/max 1.
    assert sap.decimals_for("mean", "TBIL") == 2
    assert sap.decimals_for("median", "TBIL") == 2
    assert sap.decimals_for("sd", "TBIL") == 3
    assert sap.decimals_for("min", "TBIL") == 1
    # INR has 2 decimals; PTA 0.
    assert sap.decimals_for("sd", "INR") == 4
    assert sap.decimals_for("mean", "PTA") == 1
    assert sap.decimals_for("pct") == 1
    assert sap.decimals_for("p_value") == 4
    assert sap.decimals_for("n", "INR") == 0
    assert sap.decimals.ratio == 3
    assert sap.decimals.p_value_floor == 0.0001


def test_lloq_substitution() -> None:
    sap = load_sap(SAP_TOML)
    assert sap.lloq.substitute(1.5) == 0.75
    assert sap.lloq.substitute(1.5, sap.lloq.sensitivity) == 1.5
    with pytest.raises(SettingsError):
        sap.lloq.substitute(1.5, "zero")


def test_finds_sap_from_a_subfolder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(REPO / "tests")
    assert load_sap().source == str((REPO / "sap" / "sap.toml").resolve())
    monkeypatch.chdir(tmp_path)  # no sap/sap.toml here or above: the SAP shipped in the package
    shipped = load_sap()
    assert "resources" in Path(shipped.source).parts and shipped.tfls == load_sap(SAP_TOML).tfls
    import msc_analysis.resources as resources

    monkeypatch.setattr(resources, "resource_path", lambda name: tmp_path / "missing" / name)
    with pytest.raises(SettingsError, match=r"no sap/sap\.toml found.*package's own copy"):
        load_sap()


def test_settings_are_frozen_and_replace_rechecks() -> None:
    sap = load_sap(SAP_TOML)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sap.conf_level = 0.9  # type: ignore[misc]
    ninety = dataclasses.replace(sap, conf_level=0.90)
    assert ninety.conf_level == 0.90
    assert ninety.alpha == pytest.approx(0.10)
    with pytest.raises(SettingsError, match="conf_level"):
        dataclasses.replace(sap, conf_level=1.2)
    with pytest.raises(SettingsError, match="key_visit"):
        dataclasses.replace(sap, key_visit="Baseline")


def test_lookups_name_unknown_items() -> None:
    sap = load_sap(SAP_TOML)
    assert sap.analysis("PP-SESS").population == "FAS"
    assert sap.tfl("L16.2.7.2").title == "Deaths"
    assert sap.visit("Day 14").window_low == 11
    with pytest.raises(SettingsError, match="did you mean 'PP-SESS'"):
        sap.analysis("PP-SES")
    with pytest.raises(SettingsError, match="no TFL"):
        sap.tfl("T99.1")
    with pytest.raises(SettingsError, match="no visit"):
        sap.visit("Day 90")


# ------------------------------------------------------------------------------------------------
# Changing a setting changes the analysis
# ------------------------------------------------------------------------------------------------


def test_conf_level_change_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, edited("conf_level = 0.95", "conf_level = 0.90"))
    assert load_sap(path).conf_level == 0.90


def test_dropping_a_parameter_removes_it_from_the_analyses(tmp_path: Path) -> None:
    before = load_sap(SAP_TOML)
    sap = load_sap(write(tmp_path, drop_table("parameters.IL6")))
    assert "IL6" not in sap.parameters
    for aid, analysis in sap.analyses.items():
        assert "IL6" not in analysis.parameters
        assert analysis.parameters == tuple(p for p in before.analyses[aid].parameters
                                            if p != "IL6")
    assert sap.analyses["PP-HOLM"].parameters == ("TBIL", "INR", "TNFA", "CRP")
    assert sap.analyses["PP-LLOQ"].parameters == ("TNFA", "CRP")


def test_dropping_an_explicitly_named_parameter_is_an_error(tmp_path: Path) -> None:
    text = edited('parameters = ["@holm"]', 'parameters = ["TBIL", "IL6"]')
    message = load_error(tmp_path, drop_table("parameters.IL6", text))
    assert "[analyses.PP-HOLM]" in message and "'IL6'" in message


def test_an_analysis_whose_selection_becomes_empty_is_an_error(tmp_path: Path) -> None:
    text = TEXT
    for code in ("MELD", "MELDNA", "MELD3"):
        text = drop_table(f"parameters.{code}", text)
    message = load_error(tmp_path, text)
    assert "select no parameter" in message


# ------------------------------------------------------------------------------------------------
# Unknown keys at every level
# ------------------------------------------------------------------------------------------------

UNKNOWN_KEYS = [
    # (anchor line to insert after, inserted line, table named in the message, key, suggestion)
    ("[study]\n", "conf_levl = 0.9\n", "[study]", "conf_levl", "conf_level"),
    ("[analysis_sets.SAF]\n", "flags = \"SAFFL\"\n", "[analysis_sets.SAF]", "flags", "flag"),
    ("[lloq]", "\nprimery = \"half\"", "[lloq]", "primery", "primary"),
    ("[decimals.relative]", "\nmeen = 1", "[decimals.relative]", "meen", "mean"),
    ("[decimals]", "\nratios = 3", "[decimals]", "ratios", "ratio"),
    ("[mmrm]", "\ndf_metod = \"satterthwaite\"", "[mmrm]", "df_metod", "df_method"),
    ("[vitals]", "\nfever_tmp = 38.0", "[vitals]", "fever_tmp", "fever_temp"),
    ("[parameters.TBIL]\n", "decimels = 1\n", "[parameters.TBIL]", "decimels", "decimals"),
    ("[[visits]]\n", "window_hi = 3\n", "[[visits]] #1", "window_hi", "window_high"),
    ("[analyses.PP-SESS]\n", "populaton = \"FAS\"\n", "[analyses.PP-SESS]", "populaton",
     "population"),
    ("[monitoring]\n", "prior_aa = 1.0\n", "[monitoring]", "prior_aa", "prior_a"),
    ("[[tfls]]\n", "analysis_id = [\"DISP\"]\n", "[[tfls]] #1", "analysis_id", "analysis_ids"),
]


@pytest.mark.parametrize(("anchor", "line", "table", "key", "suggestion"), UNKNOWN_KEYS,
                         ids=[u[3] for u in UNKNOWN_KEYS])
def test_unknown_key_names_file_table_and_key(tmp_path: Path, anchor: str, line: str,
                                              table: str, key: str, suggestion: str) -> None:
    message = load_error(tmp_path, edited(anchor, anchor + line))
    assert table in message
    assert f"unknown key {key!r}" in message
    assert f"did you mean {suggestion!r}" in message


def test_unknown_top_level_table(tmp_path: Path) -> None:
    message = load_error(tmp_path, TEXT + "\n[monitorng]\nprior_a = 1\n")
    assert "unknown table 'monitorng'" in message and "did you mean 'monitoring'" in message


def test_unknown_analysis_set_code(tmp_path: Path) -> None:
    message = load_error(tmp_path, TEXT + '\n[analysis_sets.ITT]\nflag = "ITTFL"\n')
    assert "unknown analysis set 'ITT'" in message


def test_missing_required_key(tmp_path: Path) -> None:
    message = load_error(tmp_path, edited("key_visit = \"Day 7\"", ""))
    assert "[study]" in message and "'key_visit'" in message


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    message = load_error(tmp_path, TEXT + "\n[study\n")
    assert "not valid TOML" in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_sap(tmp_path / "nope.toml")


def test_text_that_is_not_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "sap.toml"
    path.write_bytes(TEXT.encode("utf-8") + "\n# Révision\n".encode("latin1"))
    line = TEXT.count("\n") + 2
    with pytest.raises(SettingsError, match=rf"sap.toml: not UTF-8 text: byte 0xE9 on line "
                                            rf"{line} "):
        load_sap(path)


def test_a_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "sap.toml"
    path.write_bytes(b"\xef\xbb\xbf" + TEXT.encode("utf-8"))
    assert dataclasses.replace(load_sap(path), source=str(SAP_TOML)) == load_sap(SAP_TOML)


# ------------------------------------------------------------------------------------------------
# Wrong types and out-of-range values
# ------------------------------------------------------------------------------------------------

BAD_VALUES = [
    ("conf_level = 0.95", 'conf_level = "0.95"', "[study] key 'conf_level': must be a number"),
    ("conf_level = 0.95", "conf_level = 1.0", "[study] key 'conf_level': 1.0 is outside"),
    ("conf_level = 0.95", "conf_level = 0", "[study] key 'conf_level': 0.0 is outside"),
    ("conf_level = 0.95", "conf_level = true", "[study] key 'conf_level': must be a number"),
    ("seed = 6904755", "seed = 1.5", "[study] key 'seed': must be an integer"),
    ("seed = 6904755", "seed = true", "[study] key 'seed': must be an integer"),
    ('ctcae_version = "5.0"', 'ctcae_version = "4.03"', "[study] key 'ctcae_version'"),
    ("teae_window_days = 28", "teae_window_days = -1", "[study] key 'teae_window_days'"),
    ('scale = "log"', 'scale = "logarithmic"', "[parameters.TBIL] key 'scale'"),
    ("decimals = 1\nbiomarker", "decimals = 1.5\nbiomarker", "[parameters.TBIL] key 'decimals'"),
    ("biomarker = true", 'biomarker = "yes"', "[parameters.TBIL] key 'biomarker'"),
    ("uln = 21.0", "uln = -21.0", "[parameters.TBIL] key 'uln'"),
    ('primary = "half"', 'primary = "zero"', "[lloq] key 'primary'"),
    ("prob_cutoff = 0.80", "prob_cutoff = 1.2", "[monitoring] key 'prob_cutoff'"),
    ("prior_a = 0.3", "prior_a = 0", "[monitoring] key 'prior_a'"),
    ("min_subjects = 2", "min_subjects = 11", "[monitoring] key 'min_subjects'"),
    ("true_rates = [0.05,", 'true_rates = ["a", 0.05,', "[monitoring] key 'true_rates'"),
    ('method = "mmrm"', 'method = "mmmr"', "[analyses.PP-MMRM] key 'method'"),
    ('df_method = "satterthwaite"', 'df_method = "kr"', "[mmrm] key 'df_method'"),
    ('covariance_order = ["us",', 'covariance_order = ["un",', "[mmrm] key 'covariance_order'"),
    ('kind = "table"', 'kind = "tabel"', "key 'kind'"),
    ('number = "14.1.1"', 'number = "16.1.1"', "key 'number'"),
    ("window_high = 10", "window_high = 5", "target_day 7 is outside its window"),
    ("window_low = 11", "window_low = 10", "non-overlapping windows"),
    ("pct = 1", "pct = 1.0", "[decimals.fixed] key 'pct': must be an integer"),
]


@pytest.mark.parametrize(("old", "new", "expected"), BAD_VALUES, ids=[b[1] for b in BAD_VALUES])
def test_bad_values_are_errors(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert expected in load_error(tmp_path, edited(old, new))


def test_unknown_decimals_stat_name(tmp_path: Path) -> None:
    message = load_error(tmp_path, edited("[decimals.fixed]", "[decimals.fixed]\npvalue = 4"))
    assert "[decimals.fixed] unknown key 'pvalue'" in message and "'p_value'" in message


# ------------------------------------------------------------------------------------------------
# Cross-checks
# ------------------------------------------------------------------------------------------------

CROSS = [
    ('analysis_ids = ["DISP"]', 'analysis_ids = ["DISPO"]', "analysis id 'DISPO' is not in "
     "[analyses]; did you mean 'DISP'?"),
    ('population = "FAS"\nmethod = "descriptive+paired-t+signed-rank+sign-test"',
     'population = "FAX"\nmethod = "descriptive+paired-t+signed-rank+sign-test"',
     "[analyses.PP-SESS] population 'FAX' is not an analysis set"),
    ('parameters = ["@scores"]', 'parameters = ["MELD", "MELDNA", "MELD30"]',
     "parameter 'MELD30' is not in [parameters]; did you mean 'MELD3'?"),
    ('parameters = ["@biomarkers"]', 'parameters = ["@biomarker"]',
     "unknown parameter selector '@biomarker'"),
    ('key_visit = "Day 7"', 'key_visit = "Day 8"', "key_visit 'Day 8' is not a visit"),
    ('title = "Deaths"', 'title = "Serious Adverse Events"', "duplicate TFL titles"),
    ('flag = "SAFFL"', 'flag = "SAFETYFL"', "[analysis_sets.SAF] key 'flag'"),
    ("holm = true\nuln = 21.0", "holm = true", "[parameters.TBIL] key 'uln': (or lln) is required"),
]


@pytest.mark.parametrize(("old", "new", "expected"), CROSS, ids=[c[2][:30] for c in CROSS])
def test_cross_checks(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert expected in load_error(tmp_path, edited(old, new))


def test_tfl_population_must_exist(tmp_path: Path) -> None:
    text = edited('title = "Deaths"\npopulation = "SAF"', 'title = "Deaths"\npopulation = "ALL"')
    assert "L16.2.7.2 population 'ALL'" in load_error(tmp_path, text)


def test_parse_sap_accepts_a_mapping() -> None:
    import tomllib

    data = tomllib.loads(TEXT)
    assert parse_sap(data, "mem.toml").source == "mem.toml"
    data["study"]["extra"] = 1
    with pytest.raises(SettingsError, match=r"mem.toml: \[study\] unknown key 'extra'"):
        parse_sap(data, "mem.toml")


def test_misspelt_required_key_points_at_the_typo(tmp_path: Path) -> None:
    message = load_error(tmp_path, edited("decimals = 1\nbiomarker", "decimls = 1\nbiomarker"))
    assert "[parameters.TBIL] is missing the required key 'decimals'" in message
    assert "found unknown key 'decimls'" in message
