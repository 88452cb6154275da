"""Typed, frozen settings of the statistical analysis plan, read from ``sap/sap.toml``.

``sap/SAP.md`` is the document a reviewer reads; ``sap/sap.toml`` is the same plan as settings the
code reads. :func:`load_sap` reads the TOML file with :mod:`tomllib`, checks every table and key
(an unknown or misspelt key is an error naming the file, the table and the key, with the closest
known key as a suggestion), checks types and ranges, resolves parameter selectors and cross-checks
the references between tables. The result is a tree of frozen dataclasses; change a setting with
:func:`dataclasses.replace` (``replace(sap, conf_level=0.90)``), which re-runs the checks of
:class:`Sap`.

Parameter selectors
-------------------
An analysis lists its parameters either by code (``"TBIL"``) or by a selector starting with ``@``,
resolved against ``[parameters]`` when the file is loaded:

``@biomarkers``
    parameters with ``biomarker = true`` (the key secondary endpoints);
``@holm``
    parameters with ``holm = true`` (the Holm family at the key visit);
``@lloq``
    biomarker parameters with an ``lloq``;
``@labs``, ``@scores``, ``@vitals``
    parameters of category ``lab``, ``score`` or ``vital``;
``@graded``
    parameters with a ``ctcae_term`` (graded by CTCAE).

Removing a parameter's table from ``[parameters]`` therefore removes it from every analysis that
selects it, so its results disappear from the outputs. Naming a parameter explicitly that is not
in ``[parameters]`` is an error (a typo must never silently drop results), and so is an analysis
whose parameter list resolves to nothing although the analysis needs parameters.
"""

from __future__ import annotations

import difflib
import itertools
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from msc_analysis.errors import SettingsError
from msc_analysis.toml_file import read_toml

#: File name searched for by :func:`load_sap` when no path is given.
SAP_RELATIVE_PATH = Path("sap") / "sap.toml"

log = logging.getLogger(__name__)

#: Analysis-set codes and the ADSL flag each must use.
ANALYSIS_SET_FLAGS: dict[str, str] = {
    "ENRL": "ENRLFL",
    "SAF": "SAFFL",
    "FAS": "FASFL",
    "PP": "PPROTFL",
}

#: Method vocabulary of ``[analyses.*].method`` (several joined by ``+``): key -> meaning.
METHODS: dict[str, str] = {
    "counts": "numbers and percentages of subjects",
    "descriptive": "n, mean, SD, median, Q1, Q3, min, max (+ geometric mean and CV on log scale)",
    "t-test": "one-sample t-test and t interval of a mean",
    "paired-t": "paired t-test on the parameter's scale (log: geometric mean ratio and its CI)",
    "signed-rank": "Wilcoxon signed-rank test with Hodges-Lehmann estimate and CI (R wilcox.test)",
    "sign-test": "exact sign test",
    "mmrm": "mixed model for repeated measures (REML, prespecified covariance fallback order)",
    "holm": "Holm step-down adjustment of p-values",
    "kaplan-meier": "Kaplan-Meier estimate with CI",
    "clopper-pearson": "Clopper-Pearson exact CI of a proportion",
    "poisson-exact": "exact Poisson CI of an event rate",
    "shift": "shift table of baseline grade by worst post-baseline grade",
    "beta-binomial": "Bayesian beta-binomial posterior and stopping rule",
    "operating-characteristics": "probability of stopping and expected sample size, by simulation",
    "listing": "data listing, no statistics",
}

#: Parameter selectors usable in ``[analyses.*].parameters``.
SELECTORS: tuple[str, ...] = ("@biomarkers", "@holm", "@lloq", "@labs", "@scores", "@vitals",
                              "@graded")

#: Methods that need at least one parameter.
_PARAMETER_METHODS = frozenset({"paired-t", "signed-rank", "sign-test", "mmrm", "holm", "shift"})

COVARIANCE_STRUCTURES: dict[str, str] = {
    "us": "unstructured",
    "toeph": "heterogeneous Toeplitz",
    "toep": "Toeplitz",
    "ar1h": "heterogeneous first-order autoregressive",
    "ar1": "first-order autoregressive",
    "csh": "heterogeneous compound symmetry",
    "cs": "compound symmetry",
}

DF_METHODS: tuple[str, ...] = ("satterthwaite", "kenward-roger")

GRADE_BASES: tuple[str, ...] = ("", "abnormal-baseline", "absolute", "lln", "uln",
                                 "uln-or-baseline")

LLOQ_RULES: tuple[str, ...] = ("half", "lloq")

RELATIONSHIP_VARIABLES: tuple[str, ...] = ("AERELDEV", "AERELMSC", "AERELPRC")


# --------------------------------------------------------------------------------------------
# The settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnalysisSet:
    """An analysis set (population).

    Parameters
    ----------
    code : str
        ``ENRL``, ``SAF``, ``FAS`` or ``PP``.
    flag : str
        The ADSL flag variable (``Y``/``N``) that defines membership.
    label : str
        Display label, e.g. ``Safety Set``.
    definition : str
        The SAP definition in words.
    """

    code: str
    flag: str
    label: str
    definition: str


@dataclass(frozen=True)
class Parameter:
    """A laboratory, score or vital-sign parameter.

    Parameters
    ----------
    paramcd : str
        Parameter code (ADLB/ADVS ``PARAMCD``; ``MELD``, ``MELDNA``, ``MELD3`` for scores).
    label : str
        Display label with unit.
    unit : str
        Unit of the analysis value (SI for laboratory values).
    scale : {"log", "linear"}
        Scale of the inferential analyses: ``log`` gives geometric means and ratios.
    decimals : int
        Decimals of the raw (collected) value; display rules of statistics build on it.
    biomarker : bool
        A key secondary endpoint (TBIL, INR, PTA, IL6, TNFA, CRP).
    uln : float or None
        Default upper limit of normal (ADLB ``ANRHI`` takes precedence when present).
    lloq : float or None
        Default lower limit of quantitation (ADLB ``LLOQ`` takes precedence when present).
    lln : float or None
        Default lower limit of normal (ADLB ``ANRLO`` takes precedence when present). *Added.*
    category : {"lab", "score", "vital"}
        Source of the parameter: ADLB, derived score, or ADVS. *Added.*
    holm : bool
        Member of the Holm family at the key visit (PP-HOLM). *Added.*
    ctcae_term : str
        CTCAE v5.0 term used to grade the parameter; empty when not graded. *Added.*
    grade_basis : {"", "abnormal-baseline", "absolute", "lln", "uln", "uln-or-baseline"}
        How CTCAE grades are computed: ``abnormal-baseline`` multiples of ULN (or LLN) when the
        baseline is normal and of the baseline when it is abnormal; ``absolute`` cut-offs;
        multiples of ``lln`` or ``uln``; ``uln-or-baseline`` both ULN and baseline criteria, as
        CTCAE lists them for creatinine. *Added.*
    """

    paramcd: str
    label: str
    unit: str
    scale: Literal["log", "linear"]
    decimals: int
    biomarker: bool
    uln: float | None = None
    lloq: float | None = None
    lln: float | None = None
    category: Literal["lab", "score", "vital"] = "lab"
    holm: bool = False
    ctcae_term: str = ""
    grade_basis: str = ""


@dataclass(frozen=True)
class Lloq:
    """Handling of values below the lower limit of quantitation.

    ``half`` substitutes LLOQ/2, ``lloq`` substitutes the LLOQ itself.
    """

    primary: Literal["half", "lloq"] = "half"
    sensitivity: Literal["half", "lloq"] = "lloq"

    def substitute(self, lloq: float, rule: str | None = None) -> float:
        """Value substituted for a result below ``lloq`` under ``rule`` (default: primary)."""
        rule = self.primary if rule is None else rule
        if rule == "half":
            return lloq / 2.0
        if rule == "lloq":
            return float(lloq)
        raise SettingsError(f"unknown LLOQ rule {rule!r}; expected one of {list(LLOQ_RULES)}")


@dataclass(frozen=True)
class Visit:
    """A scheduled visit and its analysis window in study days (Day 1 = first session start).

    Parameters
    ----------
    name : str
        ``AVISIT`` value, e.g. ``Day 7``.
    avisitn : float
        ``AVISITN`` value.
    target_day : int
        Target study day.
    window_low, window_high : int
        Inclusive window in study days; windows of different visits do not overlap.
    followup : bool
        A follow-up visit analysed by PP-FU and PP-MMRM (Days 7, 14, 28). *Added.*
    """

    name: str
    avisitn: float
    target_day: int
    window_low: int
    window_high: int
    followup: bool = False

    def contains(self, study_day: float) -> bool:
        """Whether ``study_day`` falls in the window (inclusive)."""
        return self.window_low <= study_day <= self.window_high


@dataclass(frozen=True)
class Analysis:
    """One analysis of the SAP; its id is the ``analysis_id`` of its ARD rows.

    Parameters
    ----------
    id : str
        Analysis id, e.g. ``PP-SESS``.
    title : str
        Short title.
    population : str
        Analysis-set code.
    method : str
        Method keys of :data:`METHODS` joined by ``+`` (``descriptive+paired-t+signed-rank``).
    parameters : tuple of str
        Parameter codes analysed, selectors resolved, in ``[parameters]`` order.
    """

    id: str
    title: str
    population: str
    method: str
    parameters: tuple[str, ...] = ()

    @property
    def methods(self) -> tuple[str, ...]:
        """The method keys of :attr:`method`."""
        return tuple(m.strip() for m in self.method.split("+") if m.strip())


@dataclass(frozen=True)
class Monitoring:
    """Bayesian beta-binomial monitoring of the DLT-like event (see SAP section 9).

    Parameters
    ----------
    event : str
        The definition of the monitored event in words.
    prior_a, prior_b : float
        Beta prior of the event probability.
    threshold : float
        The unacceptable event rate p*.
    prob_cutoff : float
        Stop when the posterior P(p > threshold | data) exceeds this cut-off.
    min_subjects : int
        The rule applies only once this many subjects have been evaluated.
    max_subjects : int
        Planned number of subjects.
    true_rates : tuple of float
        True event rates for the operating characteristics.
    n_sim : int
        Number of simulated trials per true rate.
    seed : int
        Seed of the simulation.
    window_days : int
        Events count if their onset is from the first session start to this many days after
        the end of the last session. *Added.*
    min_grade : int
        An AE counts if serious, or of CTCAE grade >= ``min_grade`` (and related). *Added.*
    related_to : tuple of str
        ADAE relationship variables considered (device, MSC). *Added.*
    """

    event: str
    prior_a: float
    prior_b: float
    threshold: float
    prob_cutoff: float
    min_subjects: int
    max_subjects: int
    true_rates: tuple[float, ...]
    n_sim: int
    seed: int
    window_days: int = 7
    min_grade: int = 3
    related_to: tuple[str, ...] = ("AERELDEV", "AERELMSC")


@dataclass(frozen=True)
class Tfl:
    """A table, figure or listing of the SAP's TFL list.

    Parameters
    ----------
    number : str
        ICH E3 number without prefix, e.g. ``14.2.1`` or ``16.2.7.1``.
    title : str
        Title, identical in SAP.md, sap.toml and the produced output.
    kind : {"table", "figure", "listing"}
        Output kind.
    population : str
        Analysis-set code.
    analysis_ids : tuple of str
        Analyses whose ARD rows feed the output (empty for listings).
    footnotes : tuple of str
        Footnotes printed under the output.
    """

    number: str
    title: str
    kind: Literal["table", "figure", "listing"]
    population: str
    analysis_ids: tuple[str, ...] = ()
    footnotes: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """Prefixed number identifying the output: ``T14.2.1``, ``F14.2.1``, ``L16.2.7.1``."""
        return {"table": "T", "figure": "F", "listing": "L"}[self.kind] + self.number


@dataclass(frozen=True)
class Decimals:
    """Display decimals per statistic (stored values are never rounded).

    Parameters
    ----------
    relative : mapping
        stat name -> decimals added to the raw value's decimals (mean: 1, sd: 2, min: 0 ...).
    fixed : mapping
        stat name -> fixed decimals (pct: 1, p_value: 4 ...); wins over ``relative``.
    max_decimals : int
        Upper bound of any relative rule.
    ratio : int
        Decimals of ratios on the log scale (geometric mean ratios and their limits).
    p_value_floor : float
        Smaller p-values are shown as ``<`` floor (``<0.0001``); p-values above 1 - floor are
        shown as ``>`` 1 - floor.
    """

    relative: Mapping[str, int]
    fixed: Mapping[str, int]
    max_decimals: int = 4
    ratio: int = 3
    p_value_floor: float = 0.0001

    def for_stat(self, stat_name: str, raw_decimals: int = 0) -> int:
        """Decimals for ``stat_name`` of a parameter collected with ``raw_decimals`` decimals."""
        if stat_name in self.fixed:
            return int(self.fixed[stat_name])
        if stat_name in self.relative:
            return min(raw_decimals + int(self.relative[stat_name]), self.max_decimals)
        return min(raw_decimals, self.max_decimals)


@dataclass(frozen=True)
class Mmrm:
    """MMRM settings (PP-MMRM).

    Parameters
    ----------
    covariance_order : tuple of str
        Covariance structures tried in order until one converges (first is ``us``).
    df_method : {"satterthwaite", "kenward-roger"}
        Denominator degrees of freedom.
    baseline_by_visit : bool
        Include the baseline-by-visit interaction in the fixed effects.
    max_iter : int
        Iteration limit of the REML optimiser before a fit counts as not converged.
    """

    covariance_order: tuple[str, ...] = ("us", "toeph", "ar1h", "csh", "cs")
    df_method: str = "satterthwaite"
    baseline_by_visit: bool = True
    max_iter: int = 500


@dataclass(frozen=True)
class VitalThresholds:
    """Thresholds of the vital-sign summaries around sessions (SAF-VS).

    Parameters
    ----------
    hypotension_sbp : float
        Systolic blood pressure below this (mmHg) counts as hypotension.
    sbp_drop : float
        A fall of systolic pressure of at least this (mmHg) from the pre-session value also counts.
    fever_temp : float
        Temperature at or above this (degrees C) counts as fever (CTCAE v5.0 grade 1 from 38.0).
    """

    hypotension_sbp: float = 90.0
    sbp_drop: float = 20.0
    fever_temp: float = 38.0


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SettingsError(message)


@dataclass(frozen=True)
class Sap:
    """The whole analysis plan as settings.

    Attributes beyond the briefing's contract are marked *Added* in the field descriptions.

    Parameters
    ----------
    study_id : str
        Study identifier.
    conf_level : float
        Confidence level of every interval, strictly between 0 and 1.
    ctcae_version : str
        ``5.0``.
    seed : int
        Seed of every random step of the analyses.
    analysis_sets : dict
        code -> :class:`AnalysisSet`.
    parameters : dict
        PARAMCD -> :class:`Parameter`, in file order.
    lloq : Lloq
        Below-LLOQ substitution rules.
    visits : tuple of Visit
        Scheduled visits in order.
    key_visit : str
        Visit of the Holm sensitivity analysis.
    teae_window_days : int
        An AE is treatment-emergent when its onset is from the first session start up to this
        many days after the end of the last session.
    analyses : dict
        id -> :class:`Analysis`.
    monitoring : Monitoring
        Bayesian monitoring rule.
    tfls : tuple of Tfl
        The TFL list.
    title : str
        Study title. *Added.*
    sessions : int
        Planned sessions per subject (3). *Added.*
    session_ae_window_hours : float
        An AE is session-related when its onset is during a session or within this many hours
        after its end (24). *Added.*
    decimals : Decimals
        Display decimals per statistic. *Added.*
    mmrm : Mmrm
        MMRM covariance fallback order and df method. *Added.*
    vitals : VitalThresholds
        Hypotension and fever thresholds. *Added.*
    source : str
        The file the settings were read from (for messages). *Added.*
    """

    study_id: str
    conf_level: float
    ctcae_version: str
    seed: int
    analysis_sets: dict[str, AnalysisSet]
    parameters: dict[str, Parameter]
    lloq: Lloq
    visits: tuple[Visit, ...]
    key_visit: str
    teae_window_days: int
    analyses: dict[str, Analysis]
    monitoring: Monitoring
    tfls: tuple[Tfl, ...]
    title: str = ""
    sessions: int = 3
    session_ae_window_hours: float = 24.0
    decimals: Decimals = field(default_factory=lambda: Decimals(relative={}, fixed={}))
    mmrm: Mmrm = field(default_factory=Mmrm)
    vitals: VitalThresholds = field(default_factory=VitalThresholds)
    source: str = "sap.toml"

    def __post_init__(self) -> None:
        src = self.source
        _check(isinstance(self.conf_level, float | int) and not isinstance(self.conf_level, bool)
               and 0.0 < float(self.conf_level) < 1.0,
               f"{src}: [study] conf_level must be a number strictly between 0 and 1, "
               f"got {self.conf_level!r}")
        _check(self.ctcae_version == "5.0",
               f"{src}: [study] ctcae_version {self.ctcae_version!r} is not implemented; "
               "only CTCAE '5.0' is")
        _check(self.teae_window_days >= 0,
               f"{src}: [study] teae_window_days must be >= 0, got {self.teae_window_days}")
        _check(self.sessions >= 1, f"{src}: [study] sessions must be >= 1, got {self.sessions}")
        _check(self.session_ae_window_hours >= 0,
               f"{src}: [study] session_ae_window_hours must be >= 0")
        visit_names = [v.name for v in self.visits]
        _check(self.key_visit in visit_names,
               f"{src}: [study] key_visit {self.key_visit!r} is not a visit of [[visits]] "
               f"{visit_names}{_suggest(self.key_visit, visit_names)}")
        _check(any(v.name == self.key_visit and v.followup for v in self.visits),
               f"{src}: [study] key_visit {self.key_visit!r} must be a follow-up visit")
        for a in self.analyses.values():
            _check(a.population in self.analysis_sets,
                   f"{src}: [analyses.{a.id}] population {a.population!r} is not an analysis set "
                   f"{sorted(self.analysis_sets)}{_suggest(a.population, self.analysis_sets)}")
            for p in a.parameters:
                _check(p in self.parameters,
                       f"{src}: [analyses.{a.id}] parameter {p!r} is not in [parameters]"
                       f"{_suggest(p, self.parameters)}")
        for t in self.tfls:
            _check(t.population in self.analysis_sets,
                   f"{src}: [[tfls]] {t.id} population {t.population!r} is not an analysis set "
                   f"{sorted(self.analysis_sets)}{_suggest(t.population, self.analysis_sets)}")
            for aid in t.analysis_ids:
                _check(aid in self.analyses,
                       f"{src}: [[tfls]] {t.id} analysis id {aid!r} is not in [analyses]"
                       f"{_suggest(aid, self.analyses)}")

    # -- conveniences -----------------------------------------------------------------------

    @property
    def alpha(self) -> float:
        """Two-sided significance level, ``1 - conf_level``."""
        return 1.0 - float(self.conf_level)

    @property
    def biomarkers(self) -> tuple[str, ...]:
        """Codes of the biomarker parameters, in file order."""
        return tuple(p.paramcd for p in self.parameters.values() if p.biomarker)

    @property
    def followup_visits(self) -> tuple[Visit, ...]:
        """The follow-up visits (Days 7, 14, 28), in order."""
        return tuple(v for v in self.visits if v.followup)

    def visit(self, name: str) -> Visit:
        """The visit called ``name`` (SettingsError if unknown)."""
        for v in self.visits:
            if v.name == name:
                return v
        names = [v.name for v in self.visits]
        raise SettingsError(f"{self.source}: no visit {name!r} in [[visits]]"
                            f"{_suggest(name, names)}")

    def analysis(self, analysis_id: str) -> Analysis:
        """The analysis ``analysis_id`` (SettingsError if unknown)."""
        try:
            return self.analyses[analysis_id]
        except KeyError:
            raise SettingsError(f"{self.source}: no analysis {analysis_id!r} in [analyses]"
                                f"{_suggest(analysis_id, self.analyses)}") from None

    def tfl(self, tfl_id: str) -> Tfl:
        """The TFL with id ``tfl_id`` (``T14.2.1``; SettingsError if unknown)."""
        for t in self.tfls:
            if t.id == tfl_id:
                return t
        ids = [t.id for t in self.tfls]
        raise SettingsError(f"{self.source}: no TFL {tfl_id!r} in [[tfls]]{_suggest(tfl_id, ids)}")

    def decimals_for(self, stat_name: str, paramcd: str | None = None) -> int:
        """Display decimals of ``stat_name`` for parameter ``paramcd`` (raw decimals 0 if None)."""
        raw = self.parameters[paramcd].decimals if paramcd is not None else 0
        return self.decimals.for_stat(stat_name, raw)


# --------------------------------------------------------------------------------------------
# Reading and checking
# --------------------------------------------------------------------------------------------


def _suggest(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class _Table:
    """One TOML table being read: takes keys with type checks, then rejects leftovers."""

    def __init__(self, data: Any, name: str, source: str, label: str | None = None) -> None:
        self.label = f"[{name}]" if label is None else label
        if not isinstance(data, dict):
            raise SettingsError(f"{source}: {self.label} must be a table, "
                                f"got {type(data).__name__}")
        self.data = dict(data)
        self.name = name
        self.source = source
        self.seen: set[str] = set()

    def error(self, key: str, message: str) -> SettingsError:
        return SettingsError(f"{self.source}: {self.label} key {key!r}: {message}")

    def _get(self, key: str, required: bool) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required:
                unknown = [k for k in self.data if k not in self.seen]
                hint = _suggest(key, unknown).replace("did you mean", "found unknown key")
                raise SettingsError(f"{self.source}: {self.label} is missing the required key "
                                    f"{key!r}{hint}")
            return None
        return self.data[key]

    def str(self, key: str, default: str | None = None, *, choices: Iterable[str] | None = None,
            nonempty: bool = True) -> str:
        value = self._get(key, default is None)
        if value is None:
            return default  # type: ignore[return-value]
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, got {type(value).__name__} {value!r}")
        if nonempty and not value.strip():
            raise self.error(key, "must not be empty")
        if choices is not None:
            allowed = list(choices)
            if value not in allowed:
                raise self.error(key,
                                 f"{value!r} is not one of {allowed}{_suggest(value, allowed)}")
        return value

    def int(self, key: str, default: int | None = None, *, low: int | None = None,
            high: int | None = None) -> int:
        value = self._get(key, default is None)
        if value is None:
            return default  # type: ignore[return-value]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, got {type(value).__name__} {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.error(key, f"{value} is outside [{low}, {high}]")
        return value

    def float(self, key: str, default: float | None = None, *, required: bool | None = None,
              low: float | None = None, high: float | None = None, open_low: bool = False,
              open_high: bool = False) -> float | None:
        need = default is None if required is None else required
        value = self._get(key, need)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, got {type(value).__name__} {value!r}")
        value = float(value)
        bad = not math.isfinite(value)
        if low is not None:
            bad |= value <= low if open_low else value < low
        if high is not None:
            bad |= value >= high if open_high else value > high
        if bad:
            lo = "(" if open_low else "["
            hi = ")" if open_high else "]"
            raise self.error(key, f"{value!r} is outside {lo}{low}, {high}{hi}")
        return value

    def bool(self, key: str, default: bool | None = None) -> bool:
        value = self._get(key, default is None)
        if value is None:
            return default  # type: ignore[return-value]
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {type(value).__name__} {value!r}")
        return value

    def str_list(self, key: str, default: tuple[str, ...] | None = None, *,
                 choices: Iterable[str] | None = None) -> tuple[str, ...]:
        value = self._get(key, default is None)
        if value is None:
            return default  # type: ignore[return-value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, f"must be a list of strings, got {value!r}")
        if choices is not None:
            allowed = list(choices)
            for v in value:
                if v not in allowed:
                    raise self.error(key, f"{v!r} is not one of {allowed}{_suggest(v, allowed)}")
        return tuple(value)

    def float_list(self, key: str, *, low: float, high: float) -> tuple[float, ...]:
        value = self._get(key, True)
        if (not isinstance(value, list) or not value
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
            raise self.error(key, f"must be a non-empty list of numbers, got {value!r}")
        out = tuple(float(v) for v in value)
        for v in out:
            if not low < v < high:
                raise self.error(key, f"{v!r} is outside ({low}, {high})")
        return out

    def int_map(self, key: str) -> dict[str, int]:
        sub = self.table(key)
        out: dict[str, int] = {}
        for k in list(sub.data):
            out[k] = sub.int(k, low=0, high=10)
        sub.done()
        return out

    def table(self, key: str, *, required: bool = True) -> _Table:
        value = self._get(key, required)
        return _Table({} if value is None else value, f"{self.name}.{key}".lstrip("."),
                      self.source)

    def tables(self, key: str) -> dict[str, _Table]:
        """Sub-tables keyed by name (``[analyses.PP-SESS]``), in file order."""
        parent = self.table(key)
        out = {k: _Table(v, f"{parent.name}.{k}", self.source) for k, v in parent.data.items()}
        parent.seen.update(parent.data)
        return out

    def array(self, key: str) -> list[_Table]:
        """An array of tables (``[[visits]]``)."""
        value = self._get(key, True)
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, "must be an array of tables ([[" + key + "]])")
        return [_Table(v, f"{key}.{i}", self.source, label=f"[[{key}]] #{i}")
                for i, v in enumerate(value, start=1)]

    def done(self) -> None:
        """Reject any key that was not read."""
        for key in self.data:
            if key not in self.seen:
                raise SettingsError(
                    f"{self.source}: {self.label} unknown key {key!r}"
                    f"{_suggest(key, sorted(self.seen))}"
                )


def _study(t: _Table) -> dict[str, Any]:
    out = {
        "study_id": t.str("study_id"),
        "title": t.str("title", ""),
        "conf_level": t.float("conf_level", low=0.0, high=1.0, open_low=True, open_high=True),
        "ctcae_version": t.str("ctcae_version", choices=("5.0",)),
        "seed": t.int("seed", low=0, high=2**32 - 1),
        "sessions": t.int("sessions", 3, low=1, high=50),
        "teae_window_days": t.int("teae_window_days", low=0, high=365),
        "session_ae_window_hours": t.float("session_ae_window_hours", 24.0, low=0.0, high=168.0),
        "key_visit": t.str("key_visit"),
    }
    t.done()
    return out


def _analysis_sets(tables: dict[str, _Table], source: str) -> dict[str, AnalysisSet]:
    out: dict[str, AnalysisSet] = {}
    for code, t in tables.items():
        if code not in ANALYSIS_SET_FLAGS:
            raise SettingsError(f"{source}: [analysis_sets] unknown analysis set {code!r}; "
                                f"expected {list(ANALYSIS_SET_FLAGS)}"
                                f"{_suggest(code, ANALYSIS_SET_FLAGS)}")
        flag = t.str("flag", choices=(ANALYSIS_SET_FLAGS[code],))
        out[code] = AnalysisSet(code=code, flag=flag, label=t.str("label"),
                                definition=t.str("definition"))
        t.done()
    missing = [c for c in ANALYSIS_SET_FLAGS if c not in out]
    if missing:
        raise SettingsError(f"{source}: [analysis_sets] is missing {missing}")
    return out


def _parameters(tables: dict[str, _Table], source: str) -> dict[str, Parameter]:
    out: dict[str, Parameter] = {}
    if not tables:
        raise SettingsError(f"{source}: [parameters] must list at least one parameter")
    for code, t in tables.items():
        if not code.isascii() or not code.replace("_", "").isalnum() or len(code) > 8:
            raise SettingsError(f"{source}: [parameters.{code}] is not a valid PARAMCD "
                                "(letters, digits and _, 8 characters at most)")
        p = Parameter(
            paramcd=code,
            label=t.str("label"),
            unit=t.str("unit"),
            scale=t.str("scale", choices=("log", "linear")),  # type: ignore[arg-type]
            decimals=t.int("decimals", low=0, high=6),
            biomarker=t.bool("biomarker", False),
            uln=t.float("uln", required=False, low=0.0, open_low=True),
            lloq=t.float("lloq", required=False, low=0.0, open_low=True),
            lln=t.float("lln", required=False, low=0.0, open_low=True),
            category=t.str("category", "lab",  # type: ignore[arg-type]
                           choices=("lab", "score", "vital")),
            holm=t.bool("holm", False),
            ctcae_term=t.str("ctcae_term", "", nonempty=False),
            grade_basis=t.str("grade_basis", "", choices=GRADE_BASES, nonempty=False),
        )
        t.done()
        if p.holm and not p.biomarker:
            raise t.error("holm", "only biomarker parameters can be in the Holm family")
        if bool(p.ctcae_term) != bool(p.grade_basis):
            raise t.error("grade_basis", "ctcae_term and grade_basis must be given together")
        if p.grade_basis in ("uln", "uln-or-baseline") and p.uln is None:
            raise t.error("uln", f"is required for grade_basis {p.grade_basis!r}")
        if p.grade_basis == "abnormal-baseline" and p.uln is None and p.lln is None:
            raise t.error("uln", "(or lln) is required for grade_basis 'abnormal-baseline'")
        if p.grade_basis == "lln" and p.lln is None:
            raise t.error("lln", "is required for grade_basis 'lln'")
        if p.uln is not None and p.lln is not None and p.lln >= p.uln:
            raise t.error("lln", f"{p.lln} must be below uln {p.uln}")
        out[code] = p
    return out


def _lloq(t: _Table) -> Lloq:
    out = Lloq(primary=t.str("primary", choices=LLOQ_RULES),  # type: ignore[arg-type]
               sensitivity=t.str("sensitivity", choices=LLOQ_RULES))  # type: ignore[arg-type]
    t.done()
    if out.primary == out.sensitivity:
        raise t.error("sensitivity", "must differ from the primary rule")
    return out


def _visits(tables: list[_Table], source: str) -> tuple[Visit, ...]:
    out: list[Visit] = []
    for t in tables:
        v = Visit(
            name=t.str("name"),
            avisitn=t.float("avisitn"),  # type: ignore[arg-type]
            target_day=t.int("target_day", low=-365, high=365),
            window_low=t.int("window_low", low=-365, high=365),
            window_high=t.int("window_high", low=-365, high=365),
            followup=t.bool("followup", False),
        )
        t.done()
        if not v.window_low <= v.target_day <= v.window_high:
            raise SettingsError(f"{source}: [[visits]] {v.name!r}: target_day {v.target_day} is "
                                f"outside its window [{v.window_low}, {v.window_high}]")
        out.append(v)
    names = [v.name for v in out]
    if len(set(names)) != len(names):
        raise SettingsError(f"{source}: [[visits]] names are not unique: {names}")
    for a, b in itertools.pairwise(out):
        if not (a.avisitn < b.avisitn and a.window_high < b.window_low):
            raise SettingsError(f"{source}: [[visits]] {a.name!r} and {b.name!r} must be in "
                                "increasing order with non-overlapping windows")
    if not any(v.followup for v in out):
        raise SettingsError(f"{source}: [[visits]] has no follow-up visit (followup = true)")
    return tuple(out)


def _resolve(spec: tuple[str, ...], params: dict[str, Parameter], where: str,
             source: str) -> tuple[str, ...]:
    tests: dict[str, Callable[[Parameter], bool]] = {
        "@biomarkers": lambda p: p.biomarker,
        "@holm": lambda p: p.holm,
        "@lloq": lambda p: p.biomarker and p.lloq is not None,
        "@labs": lambda p: p.category == "lab",
        "@scores": lambda p: p.category == "score",
        "@vitals": lambda p: p.category == "vital",
        "@graded": lambda p: bool(p.ctcae_term),
    }
    wanted: set[str] = set()
    for item in spec:
        if item.startswith("@"):
            if item not in tests:
                raise SettingsError(f"{source}: [{where}] unknown parameter selector {item!r}; "
                                    f"expected one of {list(SELECTORS)}{_suggest(item, SELECTORS)}")
            wanted.update(code for code, p in params.items() if tests[item](p))
        else:
            if item not in params:
                raise SettingsError(f"{source}: [{where}] parameter {item!r} is not in "
                                    f"[parameters]{_suggest(item, params)}")
            wanted.add(item)
    return tuple(code for code in params if code in wanted)


def _analyses(tables: dict[str, _Table], params: dict[str, Parameter],
              source: str) -> dict[str, Analysis]:
    out: dict[str, Analysis] = {}
    for aid, t in tables.items():
        method = t.str("method")
        keys = [m.strip() for m in method.split("+")]
        for m in keys:
            if m not in METHODS:
                raise t.error("method", f"unknown method {m!r}; expected keys of {list(METHODS)}"
                                        f"{_suggest(m, METHODS)}")
        spec = t.str_list("parameters", ())
        resolved = _resolve(spec, params, t.name, source)
        if not resolved and (spec or _PARAMETER_METHODS.intersection(keys)):
            raise SettingsError(f"{source}: [{t.name}] parameters {list(spec)} select no "
                                "parameter of [parameters]")
        out[aid] = Analysis(id=aid, title=t.str("title"), population=t.str("population"),
                            method="+".join(keys), parameters=resolved)
        t.done()
    return out


def _monitoring(t: _Table) -> Monitoring:
    m = Monitoring(
        event=t.str("event"),
        prior_a=t.float("prior_a", low=0.0, open_low=True),  # type: ignore[arg-type]
        prior_b=t.float("prior_b", low=0.0, open_low=True),  # type: ignore[arg-type]
        threshold=t.float("threshold", low=0.0, high=1.0,  # type: ignore[arg-type]
                          open_low=True, open_high=True),
        prob_cutoff=t.float("prob_cutoff", low=0.0, high=1.0,  # type: ignore[arg-type]
                            open_low=True, open_high=True),
        min_subjects=t.int("min_subjects", low=1, high=1000),
        max_subjects=t.int("max_subjects", low=1, high=1000),
        true_rates=t.float_list("true_rates", low=0.0, high=1.0),
        n_sim=t.int("n_sim", low=100, high=10_000_000),
        seed=t.int("seed", low=0, high=2**32 - 1),
        window_days=t.int("window_days", 7, low=0, high=365),
        min_grade=t.int("min_grade", 3, low=1, high=5),
        related_to=t.str_list("related_to", ("AERELDEV", "AERELMSC"),
                              choices=RELATIONSHIP_VARIABLES),
    )
    t.done()
    if m.min_subjects > m.max_subjects:
        raise t.error("min_subjects", f"{m.min_subjects} exceeds max_subjects {m.max_subjects}")
    return m


def _decimals(t: _Table) -> Decimals:
    from msc_analysis.ard import STAT_NAMES

    relative = t.int_map("relative")
    fixed = t.int_map("fixed")
    for name, stat in (("relative", relative), ("fixed", fixed)):
        for key in stat:
            if key not in STAT_NAMES:
                raise SettingsError(f"{t.source}: [decimals.{name}] unknown key {key!r}: not an "
                                    f"ARD stat name{_suggest(key, STAT_NAMES)}")
    d = Decimals(relative=relative, fixed=fixed,
                 max_decimals=t.int("max_decimals", 4, low=0, high=10),
                 ratio=t.int("ratio", 3, low=0, high=10),
                 p_value_floor=t.float("p_value_floor", 0.0001, low=0.0,  # type: ignore[arg-type]
                                       high=0.5, open_low=True, open_high=True))
    t.done()
    return d


def _mmrm(t: _Table) -> Mmrm:
    m = Mmrm(covariance_order=t.str_list("covariance_order", choices=COVARIANCE_STRUCTURES),
             df_method=t.str("df_method", choices=DF_METHODS),
             baseline_by_visit=t.bool("baseline_by_visit", True),
             max_iter=t.int("max_iter", 500, low=1, high=100_000))
    t.done()
    if not m.covariance_order or len(set(m.covariance_order)) != len(m.covariance_order):
        raise t.error("covariance_order", "must be a non-empty list without repeats")
    return m


def _vitals(t: _Table) -> VitalThresholds:
    v = VitalThresholds(
        hypotension_sbp=t.float("hypotension_sbp", low=40.0, high=200.0),  # type: ignore[arg-type]
        sbp_drop=t.float("sbp_drop", low=0.0, high=200.0, open_low=True),  # type: ignore[arg-type]
        fever_temp=t.float("fever_temp", low=35.0, high=43.0),  # type: ignore[arg-type]
    )
    t.done()
    return v


def _tfls(tables: list[_Table], source: str) -> tuple[Tfl, ...]:
    out: list[Tfl] = []
    for t in tables:
        kind = t.str("kind", choices=("table", "figure", "listing"))
        tfl = Tfl(number=t.str("number"), title=t.str("title"), kind=kind,  # type: ignore[arg-type]
                  population=t.str("population"),
                  analysis_ids=t.str_list("analysis_ids", ()),
                  footnotes=t.str_list("footnotes", ()))
        t.done()
        parts = tfl.number.split(".")
        if not all(p.isdigit() for p in parts) or len(parts) < 3:
            raise t.error("number", f"{tfl.number!r} is not an ICH E3 number like '14.2.1'")
        expected_root = "16" if kind == "listing" else "14"
        if parts[0] != expected_root:
            raise t.error("number", f"a {kind} is numbered under {expected_root}, "
                                    f"got {tfl.number!r}")
        if kind != "listing" and not tfl.analysis_ids:
            raise t.error("analysis_ids", f"{tfl.id} must name the analyses it shows")
        out.append(tfl)
    ids = [t.id for t in out]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise SettingsError(f"{source}: [[tfls]] duplicate TFL ids {dup}")
    titles = [t.title for t in out]
    dup = sorted({i for i in titles if titles.count(i) > 1})
    if dup:
        raise SettingsError(f"{source}: [[tfls]] duplicate TFL titles {dup}")
    return tuple(out)


_TOP_KEYS = ("study", "analysis_sets", "lloq", "decimals", "mmrm", "vitals", "parameters",
             "visits", "analyses", "monitoring", "tfls")


def parse_sap(data: Mapping[str, Any], source: str = "sap.toml") -> Sap:
    """Build :class:`Sap` from the parsed TOML document ``data``.

    Parameters
    ----------
    data : mapping
        The result of :func:`tomllib.load`.
    source : str
        Name of the file for messages.

    Returns
    -------
    Sap

    Raises
    ------
    SettingsError
        On an unknown or missing key, a wrong type, an out-of-range value or a broken reference.
    """
    root = _Table(data, "", source)
    for key in data:
        if key not in _TOP_KEYS:
            raise SettingsError(f"{source}: [top level] unknown table {key!r}"
                                f"{_suggest(key, _TOP_KEYS)}")
    study = _study(root.table("study"))
    analysis_sets = _analysis_sets(root.tables("analysis_sets"), source)
    lloq = _lloq(root.table("lloq"))
    decimals = _decimals(root.table("decimals"))
    mmrm = _mmrm(root.table("mmrm"))
    vitals = _vitals(root.table("vitals"))
    parameters = _parameters(root.tables("parameters"), source)
    visits = _visits(root.array("visits"), source)
    analyses = _analyses(root.tables("analyses"), parameters, source)
    monitoring = _monitoring(root.table("monitoring"))
    tfls = _tfls(root.array("tfls"), source)
    root.done()
    return Sap(analysis_sets=analysis_sets, parameters=parameters, lloq=lloq, visits=visits,
               analyses=analyses, monitoring=monitoring, tfls=tfls, decimals=decimals,
               mmrm=mmrm, vitals=vitals, source=source, **study)


def find_sap(start: Path | None = None) -> Path:
    """Find ``sap/sap.toml`` in ``start`` (default: the current folder) or a parent folder; where
    there is none, the SAP shipped with the package (the trial's, logged as such).

    Raises
    ------
    SettingsError
        When there is none and the package's own copy is missing too.
    """
    from msc_analysis.resources import resource_path

    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / SAP_RELATIVE_PATH
        if candidate.is_file():
            return candidate
    shipped = resource_path(SAP_RELATIVE_PATH.as_posix())
    if shipped.is_file():
        log.info("no %s in %s or a folder above it: using the SAP shipped with msc-analysis "
                 "(msc-analysis init DIR copies it to edit)", SAP_RELATIVE_PATH.as_posix(), here)
        return shipped
    raise SettingsError(f"no {SAP_RELATIVE_PATH.as_posix()} found in {here} or any parent "
                        "folder, and the package's own copy is missing; pass the path of the "
                        "settings file")


def load_sap(path: str | Path | None = None) -> Sap:
    """Read and check the analysis settings.

    Parameters
    ----------
    path : str or Path, optional
        The settings file. ``None`` looks for ``sap/sap.toml`` in the current folder and then in
        each parent folder.

    Returns
    -------
    Sap
        Frozen settings.

    Raises
    ------
    SettingsError
        The file is missing or unreadable, is not UTF-8 text, is not valid TOML, or breaks a
        rule (the message names the file, the table and the key).
    """
    file = find_sap() if path is None else Path(path)
    data = read_toml(file)
    return parse_sap(data, str(file))
