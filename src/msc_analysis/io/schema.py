"""Declared schemas of the trial's ADaM datasets.

One :class:`DatasetSchema` per dataset. The validator (:mod:`msc_analysis.io.validate`), the
synthetic generator (:mod:`msc_analysis.synthetic`) and the tests all read these declarations, so
the data model is written down exactly once. ``data/synthetic/README.md`` is the same model as a
data dictionary for readers; a test checks the two agree.

Variables are *required* only for the analyses that need them (``needed_by``), so standard ADaM
from other studies (for example the CDISC Pilot 01 datasets) loads as long as it carries what the
requested analyses use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

VarType = Literal["char", "num", "int", "date", "datetime"]

#: Analyses a variable can be needed by. ``core`` is needed by every analysis.
ANALYSES: tuple[str, ...] = ("core", "safety", "labs", "efficacy", "exposure", "vitals", "report")

NY = ("Y", "N")
YBLANK = ("Y", "")
RELATIONSHIP = ("NOT RELATED", "UNLIKELY RELATED", "POSSIBLY RELATED", "PROBABLY RELATED",
                "DEFINITELY RELATED")
#: CTCAE grades (1 mild to 5 death); blank when not graded.
GRADES = ("1", "2", "3", "4", "5", "")
#: Analyses that read the follow-up of a subject (deaths, transplants, last contact, status):
#: the data cut-off, the survival analysis, the monitoring rule and the disposition table.
_FOLLOW_UP = ("safety", "efficacy", "report")
#: Analyses that read laboratory values beyond the required variables.
_LABS = ("labs", "efficacy")
#: Analyses that read adverse events.
_AE = ("safety",)


@dataclass(frozen=True)
class Variable:
    """One variable of a dataset.

    Parameters
    ----------
    name : str
        Upper-case ADaM variable name (8 characters at most).
    type : {"char", "num", "int", "date", "datetime"}
        Storage type. Dates are ISO 8601 ``YYYY-MM-DD`` in CSV, SAS dates in transport files.
    label : str
        Variable label (40 characters at most, as SAS transport allows).
    unit : str, optional
        Unit of a numeric variable, when fixed.
    allowed : tuple of str, optional
        Controlled terminology; values outside it are an error (blank allowed unless required).
    needed_by : tuple of str
        Analyses (see :data:`ANALYSES`) for which the variable must be present.
    used_by : tuple of str
        Analyses that interpret the variable when it is present (it need not be): a value that
        breaks its type or terminology is then an error, as for ``needed_by``, rather than a
        warning saying the value is not used.
    minimum, maximum : float, optional
        Inclusive range of possible values; outside it is an error (an impossible value).
    strictly_positive : bool
        A value of 0 or below is impossible (an INR of 0, a negative concentration).
    """

    name: str
    type: VarType
    label: str
    unit: str | None = None
    allowed: tuple[str, ...] | None = None
    needed_by: tuple[str, ...] = ()
    used_by: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    strictly_positive: bool = False


@dataclass(frozen=True)
class DatasetSchema:
    """The declared structure of one ADaM dataset.

    Parameters
    ----------
    name : str
        Dataset name, upper case (``ADSL``); files are matched case-insensitively.
    label : str
        Dataset label.
    keys : tuple of str
        Variables whose combination is unique per record.
    variables : tuple of Variable
        The declared variables, in the order files are written.
    needed_by : tuple of str
        Analyses for which the dataset itself must be present.
    recognised : tuple of Variable
        Variables this trial's files do not carry but other studies' data may, which the
        analyses interpret when present (the CDISC pilot's severity ``AESEV``): typed and
        checked like declared variables, never required, not in :attr:`names`.
    """

    name: str
    label: str
    keys: tuple[str, ...]
    variables: tuple[Variable, ...]
    needed_by: tuple[str, ...] = ()
    recognised: tuple[Variable, ...] = ()
    _index: dict[str, Variable] = field(default_factory=dict, init=False, repr=False,
                                        compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index",
                           {v.name: v for v in (*self.variables, *self.recognised)})

    @property
    def checked(self) -> tuple[Variable, ...]:
        """The declared and the recognised variables: those the validator types and checks."""
        return (*self.variables, *self.recognised)

    @property
    def names(self) -> tuple[str, ...]:
        """Variable names in declared order."""
        return tuple(v.name for v in self.variables)

    def variable(self, name: str) -> Variable:
        """Return the declared variable ``name`` (KeyError if undeclared)."""
        return self._index[name]

    def has(self, name: str) -> bool:
        """Whether ``name`` is a declared variable."""
        return name in self._index

    def required_for(self, analyses: tuple[str, ...] | list[str]) -> tuple[str, ...]:
        """Names of the variables needed by any of ``analyses`` (``core`` always included)."""
        wanted = {"core", *analyses}
        return tuple(v.name for v in self.variables if wanted.intersection(v.needed_by))

    def interpreted_by(self, analyses: tuple[str, ...] | list[str]) -> tuple[str, ...]:
        """Names of the variables any of ``analyses`` needs or uses when present.

        A bad value of one of these is an error; of any other variable, a warning.
        """
        wanted = {"core", *analyses}
        return tuple(v.name for v in self.checked
                     if wanted.intersection((*v.needed_by, *v.used_by)))


def _v(name: str, type_: VarType, label: str, **kw: object) -> Variable:
    return Variable(name, type_, label, **kw)  # type: ignore[arg-type]


_STUDY = (
    _v("STUDYID", "char", "Study Identifier"),
    _v("USUBJID", "char", "Unique Subject Identifier", needed_by=("core",)),
)

ADSL = DatasetSchema(
    name="ADSL",
    label="Subject-Level Analysis Dataset",
    keys=("USUBJID",),
    needed_by=("core",),
    variables=(
        *_STUDY,
        _v("SUBJID", "char", "Subject Identifier for the Study"),
        _v("SITEID", "char", "Study Site Identifier"),
        _v("AGE", "int", "Age", unit="years", minimum=0, maximum=120, needed_by=("report",)),
        _v("AGEU", "char", "Age Units", allowed=("YEARS",)),
        _v("SEX", "char", "Sex", allowed=("M", "F", "U"), needed_by=("report",)),
        _v("TRT01A", "char", "Actual Treatment for Period 01"),
        _v("ETIOL", "char", "Etiology of Liver Failure",
           allowed=("HBV", "HEV", "DRUG-INDUCED", "ALCOHOL", "AUTOIMMUNE", "OTHER"),
           used_by=("report",)),
        _v("LFTYPE", "char", "Liver Failure Type", allowed=("ALF", "ACLF"), used_by=("report",)),
        _v("HEGRBL", "int", "Baseline Hepatic Encephalopathy Grade", unit="West Haven grade",
           minimum=0, maximum=4, used_by=("report",)),
        _v("MELDSCR", "num", "MELD Score at Screening", minimum=6, maximum=40, used_by=("report",)),
        _v("RFICDT", "date", "Date of Informed Consent", used_by=("report",)),
        _v("ENRLDT", "date", "Date of Enrolment", used_by=("report",)),
        _v("TRTSDT", "date", "Date of First Session", needed_by=("safety", "efficacy")),
        _v("TRTEDT", "date", "Date of Last Session", used_by=("safety", "exposure")),
        _v("NSESS", "int", "Number of Sessions Started", minimum=0, maximum=50,
           used_by=("exposure",)),
        _v("ENRLFL", "char", "Enrolled Population Flag", allowed=NY, used_by=("report",)),
        _v("SAFFL", "char", "Safety Population Flag", allowed=NY, needed_by=("safety",)),
        _v("FASFL", "char", "Full Analysis Set Population Flag", allowed=NY,
           needed_by=("efficacy",)),
        _v("PPROTFL", "char", "Per-Protocol Population Flag", allowed=NY,
           used_by=("efficacy", "report")),
        _v("EOSSTT", "char", "End of Study Status",
           allowed=("COMPLETED", "DISCONTINUED", "ONGOING"), used_by=_FOLLOW_UP),
        _v("DCSREAS", "char", "Reason for Discontinuation from Study"),
        _v("DTHFL", "char", "Subject Death Flag", allowed=YBLANK, used_by=_FOLLOW_UP),
        _v("DTHDT", "date", "Date of Death", used_by=_FOLLOW_UP),
        _v("LTXFL", "char", "Liver Transplant Flag", allowed=YBLANK, used_by=_FOLLOW_UP),
        _v("LTXDT", "date", "Date of Liver Transplant", used_by=_FOLLOW_UP),
        _v("LSTALVDT", "date", "Date Last Known Alive", used_by=_FOLLOW_UP),
    ),
)

ADEX = DatasetSchema(
    name="ADEX",
    label="Exposure Analysis Dataset (one row per purification session)",
    keys=("USUBJID", "SESSNUM"),
    needed_by=("exposure",),
    variables=(
        *_STUDY,
        _v("SESSNUM", "int", "Session Number", minimum=1, maximum=50, needed_by=("exposure",)),
        _v("ASTDTM", "datetime", "Session Start Datetime", needed_by=("exposure",),
           used_by=("safety",)),
        _v("AENDTM", "datetime", "Session End Datetime", needed_by=("exposure",),
           used_by=("safety",)),
        _v("EXDUR", "num", "Session Duration", unit="min", minimum=0, maximum=24 * 60,
           used_by=("exposure",)),
        _v("PLVOL", "num", "Plasma Volume Processed", unit="mL", minimum=0, maximum=30000,
           used_by=("exposure",)),
        _v("MSCDOSE", "num", "MSC Dose Loaded in Bioreactor", unit="10^9 cells", minimum=0,
           maximum=100, used_by=("exposure",)),
        _v("ANTICOAG", "char", "Anticoagulant", allowed=("HEPARIN", "CITRATE"),
           used_by=("exposure",)),
        _v("SESSSTAT", "char", "Session Completion Status",
           allowed=("COMPLETED", "INTERRUPTED", "STOPPED"), used_by=("exposure",)),
        _v("INTRREAS", "char", "Reason Session Interrupted or Stopped"),
    ),
)

ADLB = DatasetSchema(
    name="ADLB",
    label="Laboratory Analysis Dataset",
    keys=("USUBJID", "PARAMCD", "ADTM"),
    needed_by=("labs",),
    variables=(
        *_STUDY,
        _v("PARAMCD", "char", "Parameter Code", needed_by=("labs", "efficacy")),
        _v("PARAM", "char", "Parameter", needed_by=("labs",)),
        _v("AVAL", "num", "Analysis Value", needed_by=("labs", "efficacy")),
        _v("AVALU", "char", "Analysis Value Unit"),
        _v("LBORRES", "char", "Result in Original Units"),
        _v("LBORRESU", "char", "Original Units"),
        _v("ADTM", "datetime", "Analysis Datetime", needed_by=("efficacy",), used_by=_LABS),
        _v("ADT", "date", "Analysis Date", used_by=_LABS),
        _v("ADY", "int", "Analysis Relative Day", used_by=_LABS),
        _v("AVISIT", "char", "Analysis Visit", needed_by=("labs",)),
        _v("AVISITN", "num", "Analysis Visit (N)", needed_by=("labs",), used_by=_LABS),
        _v("ATPT", "char", "Analysis Timepoint", allowed=("PRE", "POST", ""), used_by=_LABS),
        _v("SESSNUM", "int", "Session Number", minimum=1, maximum=50, used_by=_LABS),
        _v("ANRLO", "num", "Analysis Normal Range Lower Limit", used_by=_LABS),
        _v("ANRHI", "num", "Analysis Normal Range Upper Limit", used_by=_LABS),
        _v("LLOQ", "num", "Lower Limit of Quantitation", minimum=0, used_by=_LABS),
        _v("BLQFL", "char", "Below LLOQ Flag", allowed=YBLANK, used_by=_LABS),
    ),
)

ADAE = DatasetSchema(
    name="ADAE",
    label="Adverse Events Analysis Dataset",
    keys=("USUBJID", "AESEQ"),
    needed_by=("safety",),
    variables=(
        *_STUDY,
        _v("AESEQ", "int", "Sequence Number", minimum=1, used_by=_AE),
        _v("AETERM", "char", "Reported Term for the Adverse Event"),
        _v("AEDECOD", "char", "Dictionary-Derived Term", needed_by=("safety",)),
        _v("AEBODSYS", "char", "Body System or Organ Class", needed_by=("safety",)),
        _v("ASTDT", "date", "Analysis Start Date", used_by=_AE),
        _v("AENDT", "date", "Analysis End Date", used_by=_AE),
        _v("ATOXGR", "char", "Analysis Toxicity Grade", allowed=GRADES,
           used_by=_AE),
        _v("AESER", "char", "Serious Event", allowed=(*NY, ""), used_by=_AE),
        _v("AESDTH", "char", "Results in Death", allowed=(*NY, ""), used_by=_AE),
        _v("AESLIFE", "char", "Is Life Threatening", allowed=(*NY, ""), used_by=_AE),
        _v("AESHOSP", "char", "Requires or Prolongs Hospitalization", allowed=(*NY, ""),
           used_by=_AE),
        _v("AESDISAB", "char", "Persist or Signif Disability/Incapacity", allowed=(*NY, ""),
           used_by=_AE),
        _v("AESCONG", "char", "Congenital Anomaly or Birth Defect", allowed=(*NY, ""), used_by=_AE),
        _v("AESMIE", "char", "Other Medically Important Serious Event", allowed=(*NY, ""),
           used_by=_AE),
        _v("AERELDEV", "char", "Relationship to Device", allowed=(*RELATIONSHIP, ""), used_by=_AE),
        _v("AERELMSC", "char", "Relationship to MSC", allowed=(*RELATIONSHIP, ""), used_by=_AE),
        _v("AERELPRC", "char", "Relationship to Procedure", allowed=(*RELATIONSHIP, ""),
           used_by=_AE),
        _v("AEACN", "char", "Action Taken with Sessions",
           allowed=("NONE", "SESSION INTERRUPTED", "SESSION STOPPED", "SESSIONS DISCONTINUED",
                    "NOT APPLICABLE", ""), used_by=_AE),
        _v("AEOUT", "char", "Outcome of Adverse Event",
           allowed=("RECOVERED/RESOLVED", "RECOVERING/RESOLVING", "NOT RECOVERED/NOT RESOLVED",
                    "RECOVERED/RESOLVED WITH SEQUELAE", "FATAL", "UNKNOWN", ""), used_by=_AE),
        _v("SESSNUM", "int", "Session After Which the AE Began", minimum=1, maximum=50,
           used_by=_AE),
        _v("TRTEMFL", "char", "Treatment Emergent Analysis Flag", allowed=(*YBLANK, "N"),
           used_by=_AE),
    ),
    recognised=(
        _v("AETOXGR", "char", "Standard Toxicity Grade", allowed=GRADES, used_by=_AE),
        _v("AESEV", "char", "Severity/Intensity", allowed=("MILD", "MODERATE", "SEVERE", ""),
           used_by=_AE),
    ),
)

ADVS = DatasetSchema(
    name="ADVS",
    label="Vital Signs Analysis Dataset",
    keys=("USUBJID", "PARAMCD", "ADTM"),
    needed_by=("vitals",),
    variables=(
        *_STUDY,
        _v("PARAMCD", "char", "Parameter Code", needed_by=("vitals",)),
        _v("PARAM", "char", "Parameter", needed_by=("vitals",)),
        _v("AVAL", "num", "Analysis Value", needed_by=("vitals",)),
        _v("AVALU", "char", "Analysis Value Unit"),
        _v("ADTM", "datetime", "Analysis Datetime", used_by=("vitals",)),
        _v("AVISIT", "char", "Analysis Visit"),
        _v("AVISITN", "num", "Analysis Visit (N)", used_by=("vitals",)),
        _v("ATPT", "char", "Analysis Timepoint", allowed=("PRE", "DURING", "POST", "")),
        _v("SESSNUM", "int", "Session Number", minimum=1, maximum=50, used_by=("vitals",)),
    ),
)

#: Screening log of the synthetic trial (every candidate screened): not an ADaM dataset and not
#: in :data:`SCHEMAS`, declared here so that its data dictionary is generated like the others.
SCREENING_LOG = DatasetSchema(
    name="SCREENING_LOG",
    label="Screening Log (all candidates screened)",
    keys=("SCRNID",),
    variables=(
        _v("STUDYID", "char", "Study Identifier"),
        _v("SCRNID", "char", "Screening Number"),
        _v("USUBJID", "char", "Unique Subject Identifier if Enrolled"),
        _v("RFICDT", "date", "Date of Informed Consent and Screening"),
        _v("AGE", "int", "Age", unit="years", minimum=0, maximum=120),
        _v("SEX", "char", "Sex", allowed=("M", "F", "U")),
        _v("ETIOL", "char", "Etiology of Liver Failure",
           allowed=("HBV", "HEV", "DRUG-INDUCED", "ALCOHOL", "AUTOIMMUNE", "OTHER")),
        _v("LFTYPE", "char", "Liver Failure Type", allowed=("ALF", "ACLF")),
        _v("HEGR", "int", "Hepatic Encephalopathy Grade", unit="West Haven grade",
           minimum=0, maximum=4),
        _v("TBIL", "num", "Total Bilirubin at Screening", unit="umol/L", strictly_positive=True),
        _v("TBILPRV", "num", "Total Bilirubin at Referral", unit="umol/L",
           strictly_positive=True),
        _v("TBILPDT", "date", "Date of Referral Total Bilirubin"),
        _v("INR", "num", "Prothrombin INR at Screening", unit="ratio", strictly_positive=True),
        _v("PTA", "num", "Prothrombin Activity at Screening", unit="%", minimum=0,
           maximum=200),
        _v("IL6", "num", "Interleukin 6 at Screening", unit="pg/mL", strictly_positive=True),
        _v("TNFA", "num", "TNF Alpha at Screening", unit="pg/mL", strictly_positive=True),
        _v("CRP", "num", "C-Reactive Protein at Screening", unit="mg/L",
           strictly_positive=True),
        _v("CREAT", "num", "Creatinine at Screening", unit="umol/L", strictly_positive=True),
        _v("MELDSCR", "num", "MELD Score at Screening", minimum=6, maximum=40),
        _v("ELIGFL", "char", "Eligible and Enrolled Flag", allowed=NY),
        _v("FAILCRIT", "char", "Eligibility Criteria Failed (codes)"),
        _v("FAILREAS", "char", "First Eligibility Criterion Failed"),
    ),
)

#: Every declared dataset, by name.
SCHEMAS: dict[str, DatasetSchema] = {s.name: s for s in (ADSL, ADEX, ADLB, ADAE, ADVS)}

#: Laboratory parameters of this trial: code -> (label, SI unit).
LAB_PARAMETERS: dict[str, tuple[str, str]] = {
    "TBIL": ("Total Bilirubin (umol/L)", "umol/L"),
    "DBIL": ("Direct Bilirubin (umol/L)", "umol/L"),
    "INR": ("Prothrombin INR", "ratio"),
    "PTA": ("Prothrombin Activity (%)", "%"),
    "IL6": ("Interleukin 6 (pg/mL)", "pg/mL"),
    "TNFA": ("Tumor Necrosis Factor Alpha (pg/mL)", "pg/mL"),
    "CRP": ("C-Reactive Protein (mg/L)", "mg/L"),
    "ALT": ("Alanine Aminotransferase (U/L)", "U/L"),
    "AST": ("Aspartate Aminotransferase (U/L)", "U/L"),
    "ALB": ("Albumin (g/L)", "g/L"),
    "CREAT": ("Creatinine (umol/L)", "umol/L"),
    "SODIUM": ("Sodium (mmol/L)", "mmol/L"),
    "PLAT": ("Platelets (10^9/L)", "10^9/L"),
    "HGB": ("Hemoglobin (g/L)", "g/L"),
    "FIBRINO": ("Fibrinogen (g/L)", "g/L"),
    "CALCIUM": ("Calcium (mmol/L)", "mmol/L"),
}

#: Vital-sign parameters: code -> (label, unit).
VS_PARAMETERS: dict[str, tuple[str, str]] = {
    "SYSBP": ("Systolic Blood Pressure (mmHg)", "mmHg"),
    "DIABP": ("Diastolic Blood Pressure (mmHg)", "mmHg"),
    "PULSE": ("Pulse Rate (beats/min)", "beats/min"),
    "TEMP": ("Temperature (C)", "C"),
}
