"""Adverse-event catalogue of the synthetic trial: MedDRA terms, rates, grades and relationships.

Each :class:`AeTerm` is one kind of event the generator can draw. Rates are per session for events
tied to a session (``intra``: during the session; ``post``: in the hours after it) and per subject
for events of the disease course (``course``) or before the first session (``pre``). Defaults
follow the clinical brief, section 3 (adverse-event frequencies) and section 7, item 4:

* intra-procedure hypotension in 70 of 181 DPMAS patients over 670 sessions [S25] -> 0.10 per
  session, more at the first session;
* bleeding is the most frequent complication (DPMAS complications in 16% of 229 patients,
  bleeding 14.3-14.9% [S23, S24]) -> catheter-site, upper GI and nasal bleeding, more with heparin
  [S34];
* citrate toxicity 3% of apheresis procedures [S30] -> hypocalcaemia / paraesthesia / cramps with
  citrate;
* urticaria and infusion (anaphylactoid) reactions 0.12-1%, anaphylaxis rare [S31, S32];
* vasovagal reactions 2.8% of ALSS patients, 78% at the first session [S33];
* catheter infection, fever (more frequent after MSC [S38]), platelet and fibrinogen decrease.

Terms are MedDRA preferred terms with their primary system organ class. Relationship levels index
:data:`msc_analysis.io.schema.RELATIONSHIP` (0 not related ... 4 definitely related) for device,
MSC and procedure; the generator moves each by -1/0/+1 at random.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Timing = Literal["pre", "intra", "post", "course"]
#: Lab or vital sign an event is made consistent with.
Effect = Literal["", "hypotension", "fever", "platelets", "fibrinogen", "calcium", "haemoglobin"]


@dataclass(frozen=True)
class AeTerm:
    """One adverse-event kind.

    Parameters
    ----------
    key : str
        Catalogue key (used in settings ``[ae_rates]``).
    aeterm : str
        Reported (verbatim) term.
    aedecod : str
        MedDRA preferred term.
    aebodsys : str
        MedDRA primary system organ class.
    timing : {"pre", "intra", "post", "course"}
        When the event happens (see module docstring).
    rate : float
        Probability per session (intra, post) or per subject (pre, course).
    grades : tuple of float
        Probabilities of CTCAE grades 1-4 (grade 5 only through the fatal causes).
    relation : tuple of int
        Typical relationship levels to device, MSC and procedure (0-4).
    duration : tuple of int
        Range of days from onset to resolution.
    heparin, citrate : float
        Rate multipliers by anticoagulant.
    first_session : float
        Rate multiplier at the first session.
    post_hours : tuple of float
        Onset window after the end of the session (post events), hours.
    serious_grade : int
        Lowest grade at which the event is serious (5: only when fatal).
    effect : str
        Lab or vital sign the generator makes consistent with the event.
    nonsurvivor : float
        Rate multiplier for subjects who die (course events).
    """

    key: str
    aeterm: str
    aedecod: str
    aebodsys: str
    timing: Timing
    rate: float
    grades: tuple[float, float, float, float]
    relation: tuple[int, int, int]
    duration: tuple[int, int]
    heparin: float = 1.0
    citrate: float = 1.0
    first_session: float = 1.0
    post_hours: tuple[float, float] = (0.5, 20.0)
    serious_grade: int = 3
    effect: Effect = ""
    nonsurvivor: float = 1.0


GEN = "General disorders and administration site conditions"
INF = "Infections and infestations"

_TERMS: tuple[AeTerm, ...] = (
    AeTerm("hypotension", "Hypotension during purification", "Hypotension", "Vascular disorders",
           "intra", 0.10, (0.55, 0.38, 0.07, 0.0), (2, 1, 3), (0, 0), first_session=1.5,
           effect="hypotension"),
    AeTerm("presyncope", "Vasovagal reaction", "Presyncope", "Nervous system disorders",
           "intra", 0.005, (0.0, 1.0, 0.0, 0.0), (1, 0, 3), (0, 0), first_session=6.0),
    AeTerm("hypocalcaemia", "Citrate-related hypocalcaemia", "Hypocalcaemia",
           "Metabolism and nutrition disorders", "intra", 0.06, (0.5, 0.45, 0.05, 0.0),
           (1, 0, 3), (0, 1), heparin=0.1, effect="calcium"),
    AeTerm("paraesthesia", "Perioral tingling", "Paraesthesia", "Nervous system disorders",
           "intra", 0.04, (0.85, 0.15, 0.0, 0.0), (1, 0, 3), (0, 0), heparin=0.0),
    AeTerm("muscle_spasms", "Muscle cramps", "Muscle spasms",
           "Musculoskeletal and connective tissue disorders", "intra", 0.02,
           (0.8, 0.2, 0.0, 0.0), (1, 0, 3), (0, 0), heparin=0.2),
    AeTerm("urticaria", "Urticaria", "Urticaria", "Skin and subcutaneous tissue disorders",
           "intra", 0.025, (0.7, 0.28, 0.02, 0.0), (2, 2, 2), (0, 2)),
    AeTerm("infusion_reaction", "Chills and rigors during purification",
           "Infusion related reaction", "Injury, poisoning and procedural complications",
           "intra", 0.015, (0.5, 0.45, 0.05, 0.0), (3, 2, 3), (0, 1)),
    AeTerm("anaphylaxis", "Anaphylactic reaction", "Anaphylactic reaction",
           "Immune system disorders", "intra", 0.003, (0.0, 0.0, 0.8, 0.2), (3, 3, 3), (0, 2)),
    AeTerm("nausea", "Nausea", "Nausea", "Gastrointestinal disorders", "intra", 0.02,
           (0.85, 0.15, 0.0, 0.0), (1, 1, 2), (0, 1)),
    AeTerm("catheter_bleeding", "Bleeding at catheter site", "Catheter site haemorrhage", GEN,
           "post", 0.03, (0.7, 0.25, 0.05, 0.0), (2, 0, 3), (0, 2), citrate=0.5,
           post_hours=(0.5, 20.0)),
    AeTerm("gi_bleeding", "Upper gastrointestinal bleeding",
           "Upper gastrointestinal haemorrhage", "Gastrointestinal disorders", "post", 0.02,
           (0.2, 0.4, 0.35, 0.05), (1, 0, 2), (2, 7), citrate=0.5, post_hours=(2.0, 36.0),
           effect="haemoglobin"),
    AeTerm("epistaxis", "Nosebleed", "Epistaxis", "Respiratory, thoracic and mediastinal disorders",
           "post", 0.015, (0.8, 0.2, 0.0, 0.0), (1, 0, 2), (0, 1), citrate=0.5,
           post_hours=(1.0, 24.0)),
    AeTerm("pyrexia", "Fever after purification", "Pyrexia", GEN, "post", 0.04,
           (0.85, 0.13, 0.02, 0.0), (2, 2, 2), (0, 2), effect="fever"),
    AeTerm("thrombocytopenia", "Platelet count decreased after session", "Thrombocytopenia",
           "Blood and lymphatic system disorders", "post", 0.03, (0.1, 0.35, 0.45, 0.1),
           (2, 1, 3), (2, 7), serious_grade=5, effect="platelets"),
    AeTerm("fibrinogen", "Fibrinogen decreased after session", "Blood fibrinogen decreased",
           "Investigations", "post", 0.01, (0.0, 0.4, 0.5, 0.1), (2, 1, 3), (1, 5),
           serious_grade=5, effect="fibrinogen"),
    AeTerm("device_infection", "Catheter-related infection", "Device related infection", INF,
           "post", 0.015, (0.0, 0.4, 0.5, 0.1), (2, 0, 3), (5, 14), post_hours=(18.0, 40.0)),
    AeTerm("catheter_pain", "Pain at catheter insertion site", "Catheter site pain", GEN, "pre",
           0.06, (0.9, 0.1, 0.0, 0.0), (1, 0, 3), (1, 4)),
    AeTerm("hepatic_encephalopathy", "Worsening hepatic encephalopathy",
           "Hepatic encephalopathy", "Nervous system disorders", "course", 0.08,
           (0.0, 0.4, 0.45, 0.15), (0, 0, 1), (3, 10), nonsurvivor=5.0),
    AeTerm("ascites", "Ascites", "Ascites", "Gastrointestinal disorders", "course", 0.08,
           (0.4, 0.5, 0.1, 0.0), (0, 0, 0), (7, 30), nonsurvivor=2.0),
    AeTerm("peritonitis", "Spontaneous bacterial peritonitis", "Peritonitis bacterial", INF,
           "course", 0.03, (0.0, 0.2, 0.7, 0.1), (0, 0, 1), (7, 14), nonsurvivor=3.0),
    AeTerm("hypokalaemia", "Low potassium", "Hypokalaemia", "Metabolism and nutrition disorders",
           "course", 0.05, (0.6, 0.3, 0.1, 0.0), (0, 0, 1), (1, 5)),
)

#: Catalogue of drawable events by key.
AE_CATALOGUE: dict[str, AeTerm] = {t.key: t for t in _TERMS}


@dataclass(frozen=True)
class FatalCause:
    """A cause of death, coded as a grade 5 adverse event.

    Parameters
    ----------
    aeterm, aedecod, aebodsys : str
        Reported term, MedDRA preferred term and system organ class.
    weight : float
        Relative frequency among deaths.
    """

    aeterm: str
    aedecod: str
    aebodsys: str
    weight: float


#: Causes of death (deaths from disease progression graded 5 under the causal term, brief
#: section 7, item 4; CTCAE: death is grade 5 of the causal AE [S16]).
FATAL_CAUSES: tuple[FatalCause, ...] = (
    FatalCause("Progression of liver failure", "Hepatic failure", "Hepatobiliary disorders", 0.6),
    FatalCause("Sepsis", "Sepsis", INF, 0.15),
    FatalCause("Variceal bleeding", "Upper gastrointestinal haemorrhage",
               "Gastrointestinal disorders", 0.1),
    FatalCause("Acute kidney injury", "Acute kidney injury", "Renal and urinary disorders", 0.1),
    FatalCause("Multiple organ failure", "Multiple organ dysfunction syndrome", GEN, 0.05),
)

#: Event preceding a liver transplant (grade 4, life-threatening).
TRANSPLANT_CAUSE = FatalCause("Progression of liver failure", "Hepatic failure",
                              "Hepatobiliary disorders", 1.0)
