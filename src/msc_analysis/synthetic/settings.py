"""Settings of the synthetic trial generator.

:class:`SimulationSettings` holds every number the generator draws from, with defaults taken from
the clinical brief (sections 3-5 and 7; the brief's source tags are cited per field). Settings can
be read from a TOML file with :func:`load_settings`: top-level keys are field names; the table
``[ae_rates]`` overrides per-session (or per-subject) probabilities of single adverse-event terms
by their catalogue key (see :data:`msc_analysis.synthetic.catalogue.AE_CATALOGUE`). Unknown keys
raise :class:`~msc_analysis.errors.SettingsError` naming the key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from msc_analysis.errors import SettingsError
from msc_analysis.synthetic.catalogue import AE_CATALOGUE
from msc_analysis.toml_file import read_toml

#: Default seed of the committed study in ``data/synthetic`` (the trial's registry number).
DEFAULT_SEED = 6904755


#: Largest accepted values of settings whose larger values could give data the validator
#: refuses: a session is at most 600 min planned plus pauses (ADEX EXDUR at most 24 h; it ends
#: before the next day's samples and visits, which start at 06:00), its plasma volume at most
#: 40 mL/min x 660 min x 1.05 (PLVOL at most 30,000 mL), its dose 80 +- 6 SD of 3% (MSCDOSE at
#: most 100 x 10^9 cells).
UPPER_LIMITS: Mapping[str, float] = MappingProxyType({
    "session_minutes": 600.0, "plasma_flow_ml_min": 40.0, "msc_dose": 80.0})


@dataclass(frozen=True)
class SimulationSettings:
    """Every setting of the synthetic trial (frozen; change with :func:`dataclasses.replace`).

    Parameters
    ----------
    n_subjects : int
        Number of *enrolled* subjects (candidates are screened until this many are eligible).
    seed : int
        Seed of the random generator; same seed and settings give byte-identical files.
    n_sessions : int
        Planned purification sessions per subject.
    session_interval_days : int
        Days between planned sessions (2: alternate days, sessions on study days 1, 3, 5).
    session_delay_prob : float
        Probability that a session (after the first) is postponed by one day.
    session_minutes : float
        Planned duration of a session, minutes (at most 600, see :data:`UPPER_LIMITS`).
    plasma_flow_ml_min : float
        Plasma flow through the bioreactor circuit, mL/min (plasma volume = flow x duration;
        at most 40).
    msc_dose : float
        Nominal MSC load of the bioreactor per session, 10^9 cells (at most 80).
    citrate_prob : float
        Probability a subject is anticoagulated with citrate instead of heparin (subjects with
        platelets below 50 x 10^9/L always receive citrate).
    enrol_start : datetime.date
        Date of the first informed consent.
    enrol_gap_min_days, enrol_gap_mean_days : float
        Staggered enrolment: days between consecutive enrolled subjects are
        ``min + exponential(mean - min)`` (shrunk proportionally when screening would last
        more than 10 years, i.e. only in simulated studies of thousands of subjects).
    tbil_rr_mean, tbil_rr_sd : float
        Per-session reduction ratio of total bilirubin, (pre - post)/pre: mean and SD between
        sessions; brief section 3: 0.33-0.52 immediately after DPMAS / DPMAS+PE [S22, S23].
    tbil_rebound : float
        Fraction of a session's bilirubin fall regained within 24 h (brief section 3: 0.33 -> 0.15
        and 0.52 -> 0.24 at 24 h, i.e. about 0.55 regained).
    inr_session_change : float
        Mean log ratio post/pre of INR per session (small; fully rebounds).
    cytokine_session_change, cytokine_session_sd : float
        Mean and SD of the log ratio post/pre of IL-6 and TNF-alpha per session: small and noisy,
        brief section 3 [S28].
    platelet_session_fall : float
        Mean fractional fall of platelets across a session (brief: 0.11-0.13 [S23]).
    ae_multiplier : float
        Multiplies every adverse-event probability.
    ae_rates : Mapping[str, float]
        Overrides of single catalogue probabilities by key (see
        :data:`msc_analysis.synthetic.catalogue.AE_CATALOGUE`).
    death_prob : float
        Average probability of death by Day 90 (brief section 5: 12-week survival 65-85% [S41],
        28-day transplant-free survival 62-76% [S22, S23]).
    transplant_prob : float
        Average probability of liver transplantation by Day 90.
    withdrawal_prob : float
        Probability of withdrawal of consent during the study.
    lost_prob : float
        Probability of loss to follow-up after Day 28.
    no_session_prob : float
        Probability an enrolled subject never starts a session (withdrawal before Day 1).
    session_dropout_prob : float
        Probability per remaining session that sessions stop early for a reason other than an
        adverse event (investigator decision).
    missed_sample_prob : float
        Probability a scheduled blood sample (all parameters of one time point) is missed.
    missed_param_prob : float
        Probability a single parameter of a collected sample has no result (haemolysis, volume).
    teae_window_days : int
        Days after the last session within which an AE is flagged treatment-emergent.
    """

    n_subjects: int = 10
    seed: int = DEFAULT_SEED
    n_sessions: int = 3
    session_interval_days: int = 2
    session_delay_prob: float = 0.08
    session_minutes: float = 240.0
    plasma_flow_ml_min: float = 25.0
    msc_dose: float = 1.0
    citrate_prob: float = 0.3
    enrol_start: dt.date = dt.date(2024, 4, 23)
    enrol_gap_min_days: float = 7.0
    enrol_gap_mean_days: float = 21.0
    tbil_rr_mean: float = 0.40
    tbil_rr_sd: float = 0.07
    tbil_rebound: float = 0.55
    inr_session_change: float = -0.05
    cytokine_session_change: float = -0.05
    cytokine_session_sd: float = 0.25
    platelet_session_fall: float = 0.12
    ae_multiplier: float = 1.0
    ae_rates: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    death_prob: float = 0.25
    transplant_prob: float = 0.08
    withdrawal_prob: float = 0.04
    lost_prob: float = 0.03
    no_session_prob: float = 0.02
    session_dropout_prob: float = 0.03
    missed_sample_prob: float = 0.03
    missed_param_prob: float = 0.01
    teae_window_days: int = 28

    def __post_init__(self) -> None:
        object.__setattr__(self, "ae_rates", MappingProxyType(dict(self.ae_rates)))
        self.validate()

    def __hash__(self) -> int:
        return hash(tuple(
            tuple(sorted(getattr(self, f.name).items())) if f.name == "ae_rates"
            else getattr(self, f.name) for f in fields(self)
        ))

    def validate(self) -> None:
        """Check ranges; raise :class:`SettingsError` naming the offending setting."""
        if not isinstance(self.n_subjects, int) or self.n_subjects < 1:
            raise SettingsError(f"setting n_subjects: must be an integer >= 1, got "
                                f"{self.n_subjects!r}")
        if not isinstance(self.n_sessions, int) or not 1 <= self.n_sessions <= 20:
            raise SettingsError(f"setting n_sessions: must be an integer 1-20, got "
                                f"{self.n_sessions!r}")
        if not isinstance(self.session_interval_days, int) or self.session_interval_days < 1:
            raise SettingsError("setting session_interval_days: must be an integer >= 1")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise SettingsError(f"setting seed: must be a non-negative integer, got "
                                f"{self.seed!r}")
        probs = ("session_delay_prob", "citrate_prob", "tbil_rr_mean", "tbil_rebound",
                 "platelet_session_fall", "death_prob", "transplant_prob", "withdrawal_prob",
                 "lost_prob", "no_session_prob", "session_dropout_prob", "missed_sample_prob",
                 "missed_param_prob")
        for name in probs:
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= float(value) < 1.0:
                raise SettingsError(f"setting {name}: must be a number in [0, 1), got {value!r}")
        if self.death_prob + self.transplant_prob >= 0.95:
            raise SettingsError("settings death_prob + transplant_prob: must be below 0.95")
        positive = ("session_minutes", "plasma_flow_ml_min", "msc_dose", "enrol_gap_mean_days",
                    "cytokine_session_sd", "ae_multiplier")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int | float) or float(value) < 0:
                raise SettingsError(f"setting {name}: must be a number >= 0, got {value!r}")
        for name, limit in UPPER_LIMITS.items():
            value = getattr(self, name)
            if float(value) > limit:
                raise SettingsError(f"setting {name}: must be at most {limit:g} (larger values "
                                    f"can give sessions the ADEX rules refuse), got {value!r}")
        if self.enrol_gap_min_days < 0 or self.enrol_gap_min_days > self.enrol_gap_mean_days:
            raise SettingsError("setting enrol_gap_min_days: must be between 0 and "
                                "enrol_gap_mean_days")
        if not isinstance(self.enrol_start, dt.date):
            raise SettingsError("setting enrol_start: must be a date (YYYY-MM-DD)")
        if self.teae_window_days < 0:
            raise SettingsError("setting teae_window_days: must be >= 0")
        for key, value in self.ae_rates.items():
            if key not in AE_CATALOGUE:
                raise SettingsError(f"setting ae_rates.{key}: unknown adverse-event key; known: "
                                    f"{', '.join(sorted(AE_CATALOGUE))}")
            if not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
                raise SettingsError(f"setting ae_rates.{key}: must be a probability, got "
                                    f"{value!r}")


_FIELD_NAMES = {f.name for f in fields(SimulationSettings)}


def settings_from_mapping(data: Mapping[str, Any], *, source: str = "settings",
                          base: SimulationSettings | None = None) -> SimulationSettings:
    """Build settings from a mapping (as read from TOML), on top of ``base`` (default settings).

    Parameters
    ----------
    data : Mapping
        Field names to values; ``ae_rates`` is a mapping of catalogue key to probability.
    source : str
        Name of the source used in error messages (a file name).
    base : SimulationSettings, optional
        Settings the mapping modifies.

    Raises
    ------
    SettingsError
        On an unknown key or a value of the wrong type or range.
    """
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _FIELD_NAMES:
            raise SettingsError(f"{source}: unknown setting {key!r}; known settings: "
                                f"{', '.join(sorted(_FIELD_NAMES))}")
        if key == "enrol_start" and isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError as exc:
                raise SettingsError(f"{source}: setting enrol_start: not a date "
                                    f"YYYY-MM-DD: {value!r}") from exc
        if key == "ae_rates" and not isinstance(value, Mapping):
            raise SettingsError(f"{source}: setting ae_rates must be a table of key = "
                                "probability")
        values[key] = value
    try:
        return dataclasses.replace(base or SimulationSettings(), **values)
    except SettingsError as exc:
        raise SettingsError(f"{source}: {exc}") from exc
    except TypeError as exc:  # pragma: no cover - defensive
        raise SettingsError(f"{source}: {exc}") from exc


def load_settings(path: str | Path, *, base: SimulationSettings | None = None
                  ) -> SimulationSettings:
    """Read settings from a TOML file.

    Parameters
    ----------
    path : str or Path
        The TOML file; top-level keys are :class:`SimulationSettings` fields.
    base : SimulationSettings, optional
        Settings the file modifies (default: the defaults).

    Raises
    ------
    SettingsError
        If the file is missing or malformed or names an unknown key.
    """
    path = Path(path)
    data = read_toml(path)
    return settings_from_mapping(data, source=str(path), base=base)


def settings_to_toml(settings: SimulationSettings) -> str:
    """The settings as TOML text that :func:`load_settings` reads back to equal settings."""
    lines = ["# Settings of a simulated study (msc-analysis simulate --settings FILE)."]
    table: list[str] = []
    for f in fields(settings):
        value = getattr(settings, f.name)
        if f.name == "ae_rates":
            table = [f"{k} = {float(v)!r}" for k, v in sorted(value.items())]
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, dt.date):
            text = value.isoformat()
        elif isinstance(value, float):
            text = repr(value)
        else:
            text = str(value)
        lines.append(f"{f.name} = {text}")
    lines += ["", "[ae_rates]", *table]
    return "\n".join(lines) + "\n"
