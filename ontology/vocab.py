"""Closed vocabularies of the triedbefore ontology.

These enumerations mirror the SKOS concept schemes and the graph names
(`tb:graphLabel`, `tb:graphType`) declared in ``triedbefore.ttl``; the test
suite proves the two identical, so a typo in code raises instead of writing a
label or value the ontology does not know.
"""

from __future__ import annotations

from enum import StrEnum


class Label(StrEnum):
    """Node labels in the property graph (one per OWL class)."""

    SITE = "Site"
    SOLUTION = "Solution"
    INITIATIVE = "Initiative"
    OUTCOME = "Outcome"
    EVALUATION = "Evaluation"
    INGEST_RUN = "IngestRun"
    CANDIDATE = "Candidate"
    VERDICT_CHANGE = "VerdictChange"
    WATCH = "Watch"
    GRAPH_VERSION = "GraphVersion"
    DESIGN_VERSION = "DesignVersion"
    COMPONENT = "Component"
    ADAPTATION = "Adaptation"
    LESSON = "Lesson"
    CONTRIBUTION = "Contribution"


class Rel(StrEnum):
    """Relationship types in the property graph (one per OWL object property)."""

    PART_OF = "PART_OF"
    IMPLEMENTS = "IMPLEMENTS"
    TRIED_AT = "TRIED_AT"
    LEARNED_FROM = "LEARNED_FROM"
    HAS_OUTCOME = "HAS_OUTCOME"
    EVALUATED = "EVALUATED"
    REPORTS = "REPORTS"
    CANDIDATE_FOR = "CANDIDATE_FOR"
    VERSION_OF = "VERSION_OF"
    COMPONENT_OF = "COMPONENT_OF"
    IN_VERSION = "IN_VERSION"
    FOLLOWS = "FOLLOWS"
    ADAPTS = "ADAPTS"
    MODIFIES = "MODIFIES"
    INCLUDES = "INCLUDES"
    HAS_LESSON = "HAS_LESSON"
    RECORDS = "RECORDS"


class LinkHow(StrEnum):
    """How an initiative's ``IMPLEMENTS`` link to a solution was made (``how``)."""

    DECLARED = "declared"  # the initiative's own row named the solution
    INFERRED = "inferred"  # resolution linked it automatically, with its score
    SUGGESTED = "suggested"  # resolution proposed it to a curator; counts for nothing yet
    ACCEPTED = "accepted"  # a curator accepted a proposal
    REJECTED = "rejected"  # a curator refused it: never proposed again


#: Links that make an initiative part of a solution (the others count for nothing).
COUNTED_LINKS: tuple[LinkHow, ...] = (LinkHow.DECLARED, LinkHow.INFERRED, LinkHow.ACCEPTED)

#: A curator's decisions on a proposed link.
DECISIONS: tuple[LinkHow, ...] = (LinkHow.ACCEPTED, LinkHow.REJECTED)


class SiteKind(StrEnum):
    TRUST = "trust"
    ICB = "icb"
    SUB_ICB = "sub_icb"
    PCN = "pcn"
    GP_PRACTICE = "gp_practice"
    CARE_HOME = "care_home"
    HOSPITAL = "hospital"
    WARD = "ward"
    COMMUNITY_SERVICE = "community_service"
    AMBULANCE_SERVICE = "ambulance_service"
    LOCAL_AUTHORITY = "local_authority"
    NHS_REGION = "nhs_region"
    LOCAL_HEALTH_BOARD = "local_health_board"
    NHS_NATION = "nhs_nation"
    OTHER = "other"


class Country(StrEnum):
    """The UK country a site is in (sites.country)."""

    ENGLAND = "england"
    WALES = "wales"
    SCOTLAND = "scotland"
    NORTHERN_IRELAND = "northern_ireland"


class Status(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    COMPLETED = "completed"
    STOPPED = "stopped"


class Design(StrEnum):
    SYSTEMATIC_REVIEW = "systematic_review"
    RCT = "rct"
    CLUSTER_RCT = "cluster_rct"
    STEPPED_WEDGE = "stepped_wedge"
    REGRESSION_DISCONTINUITY = "regression_discontinuity"
    MATCHED_COMPARISON = "matched_comparison"
    NON_RANDOMISED_TRIAL = "non_randomised_trial"
    DIFFERENCE_IN_DIFFERENCES = "difference_in_differences"
    INTERRUPTED_TIME_SERIES = "interrupted_time_series"
    CONTROLLED_BEFORE_AFTER = "controlled_before_after"
    BEFORE_AFTER = "before_after"
    CROSS_SECTIONAL = "cross_sectional"
    ECONOMIC = "economic"
    MIXED_METHODS = "mixed_methods"
    QUALITATIVE = "qualitative"
    CASE_STUDY = "case_study"


#: Default Maryland SMS level of each design (semantics.md); ``None`` = no level.
#: A systematic review's level depends on its AMSTAR 2 rating (see ``review_sms_level``).
DESIGN_SMS_LEVEL: dict[Design, int | None] = {
    Design.RCT: 5,
    Design.CLUSTER_RCT: 5,
    Design.STEPPED_WEDGE: 5,
    Design.REGRESSION_DISCONTINUITY: 4,
    Design.MATCHED_COMPARISON: 4,
    Design.DIFFERENCE_IN_DIFFERENCES: 3,
    Design.CONTROLLED_BEFORE_AFTER: 3,
    Design.INTERRUPTED_TIME_SERIES: 3,
    Design.NON_RANDOMISED_TRIAL: 3,
    Design.BEFORE_AFTER: 1,
    Design.CROSS_SECTIONAL: 1,
    Design.ECONOMIC: 1,
    Design.MIXED_METHODS: 1,
    Design.QUALITATIVE: None,
    Design.CASE_STUDY: None,
    Design.SYSTEMATIC_REVIEW: None,
}


class Finding(StrEnum):
    POSITIVE = "positive"
    MIXED = "mixed"
    NO_EFFECT = "no_effect"
    NEGATIVE = "negative"
    INCONCLUSIVE = "inconclusive"


class QualityDomain(StrEnum):
    SAFE = "safe"
    EFFECTIVE = "effective"
    PATIENT_CENTRED = "patient_centred"
    TIMELY = "timely"
    EFFICIENT = "efficient"
    EQUITABLE = "equitable"


class InterventionType(StrEnum):
    DELIVERY_ARRANGEMENTS = "delivery_arrangements"
    FINANCIAL_ARRANGEMENTS = "financial_arrangements"
    GOVERNANCE_ARRANGEMENTS = "governance_arrangements"
    IMPLEMENTATION_STRATEGIES = "implementation_strategies"


class Direction(StrEnum):
    IMPROVED = "improved"
    NO_CHANGE = "no_change"
    WORSENED = "worsened"


class ReviewQuality(StrEnum):
    HIGH = "high"
    MODERATE = "moderate"
    LOW = "low"
    CRITICALLY_LOW = "critically_low"


class Visibility(StrEnum):
    PUBLIC = "public"
    RESTRICTED = "restricted"


class CandidateStatus(StrEnum):
    """Where a candidate evaluation (found by a connector) stands in curation."""

    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class CandidateSource(StrEnum):
    """The connectors that propose candidate evaluations (``Candidate.source``)."""

    CLINICALTRIALS = "clinicaltrials"
    EUROPEPMC = "europepmc"


class Verdict(StrEnum):
    """The evidence verdict for a solution (docs/semantics.md)."""

    WORKS = "works"
    PROMISING = "promising"
    MIXED = "mixed"
    INCONCLUSIVE = "inconclusive"
    WEAK_NEGATIVE = "weak_negative"
    DOES_NOT_WORK = "does_not_work"
    UNEVALUATED = "unevaluated"


class ChangeKind(StrEnum):
    """What an ingest changed about a solution's evidence."""

    VERDICT = "verdict"
    ZOMBIE = "zombie"


class WatchTarget(StrEnum):
    """What a signed-in user can follow."""

    SOLUTION = "solution"
    SITE = "site"
    INTERVENTION_TYPE = "intervention_type"


# --- Design once, adapt locally (CFIR core/periphery, FRAME, site context) ----------


class ComponentRole(StrEnum):
    """CFIR: what every attempt must keep (core) or may adapt (the adaptable periphery)."""

    CORE = "core"
    ADAPTABLE = "adaptable"


class FrameWhat(StrEnum):
    """FRAME: what was modified."""

    CONTENT = "content"
    CONTEXT = "context"
    TRAINING = "training"
    EVALUATION = "evaluation"
    IMPLEMENTATION_AND_SCALE_UP = "implementation_and_scale_up"


class FrameWhen(StrEnum):
    """FRAME: when in the process the modification was made."""

    PRE_IMPLEMENTATION = "pre_implementation"
    IMPLEMENTATION = "implementation"
    SCALE_UP = "scale_up"
    MAINTENANCE = "maintenance"


class FramePlanned(StrEnum):
    """FRAME: whether the modification was planned (proactive or reactive) or not."""

    PLANNED_PROACTIVE = "planned_proactive"
    PLANNED_REACTIVE = "planned_reactive"
    UNPLANNED_REACTIVE = "unplanned_reactive"


class FrameWho(StrEnum):
    """FRAME: who participated in the decision to modify."""

    POLITICAL_LEADERS = "political_leaders"
    PROGRAMME_LEADER = "programme_leader"
    FUNDER = "funder"
    ADMINISTRATOR = "administrator"
    PROGRAMME_MANAGER = "programme_manager"
    DEVELOPER = "developer"
    RESEARCHER = "researcher"
    DELIVERY_TEAM = "delivery_team"
    PRACTITIONER = "practitioner"
    COMMUNITY_MEMBERS = "community_members"
    RECIPIENTS = "recipients"


class FrameLevel(StrEnum):
    """FRAME: at what level of delivery the modification was made (for whom or what)."""

    INDIVIDUAL_RECIPIENT = "individual_recipient"
    COHORT = "cohort"
    POPULATION = "population"
    TARGETED_GROUP = "targeted_group"
    INDIVIDUAL_PRACTITIONER = "individual_practitioner"
    UNIT = "unit"
    ORGANISATION = "organisation"
    NETWORK = "network"


class FrameNature(StrEnum):
    """FRAME: the nature of a change to content or context."""

    TAILORING = "tailoring"
    PACKAGING = "packaging"
    ADDING = "adding"
    REMOVING = "removing"
    SHORTENING = "shortening"
    LENGTHENING = "lengthening"
    SUBSTITUTING = "substituting"
    REORDERING = "reordering"
    SPREADING = "spreading"
    INTEGRATING_INTO_OTHER = "integrating_into_other"
    INTEGRATING_OTHER = "integrating_other"
    REPEATING = "repeating"
    LOOSENING_STRUCTURE = "loosening_structure"
    DEPARTING_AND_RETURNING = "departing_and_returning"
    DRIFT = "drift"


class FrameFidelity(StrEnum):
    """FRAME: whether the modification kept the core elements."""

    CONSISTENT = "consistent"
    INCONSISTENT = "inconsistent"
    UNKNOWN = "unknown"


class FrameGoal(StrEnum):
    """FRAME: the goal of the modification."""

    INCREASE_REACH = "increase_reach"
    INCREASE_RETENTION = "increase_retention"
    IMPROVE_FEASIBILITY = "improve_feasibility"
    IMPROVE_FIT = "improve_fit"
    ADDRESS_CULTURAL_FACTORS = "address_cultural_factors"
    IMPROVE_EFFECTIVENESS = "improve_effectiveness"
    REDUCE_COST = "reduce_cost"
    INCREASE_SATISFACTION = "increase_satisfaction"


class FrameReason(StrEnum):
    """FRAME: the contextual factors behind the modification, grouped as the explorer
    names them (fit the population, the workforce, the resources, the culture, the rules,
    the organisation)."""

    POPULATION = "population"
    WORKFORCE = "workforce"
    RESOURCES = "resources"
    CULTURE = "culture"
    RULES = "rules"
    ORGANISATION = "organisation"


class Rurality(StrEnum):
    """The ONS 2011 rural-urban classification of small areas (England and Wales)."""

    URBAN_MAJOR_CONURBATION = "urban_major_conurbation"
    URBAN_MINOR_CONURBATION = "urban_minor_conurbation"
    URBAN_CITY_AND_TOWN = "urban_city_and_town"
    URBAN_CITY_AND_TOWN_SPARSE = "urban_city_and_town_sparse"
    RURAL_TOWN_AND_FRINGE = "rural_town_and_fringe"
    RURAL_TOWN_AND_FRINGE_SPARSE = "rural_town_and_fringe_sparse"
    RURAL_VILLAGE_AND_DISPERSED = "rural_village_and_dispersed"
    RURAL_VILLAGE_AND_DISPERSED_SPARSE = "rural_village_and_dispersed_sparse"

    @property
    def rural(self) -> bool:
        return self.value.startswith("rural_")


#: The schemes of issue 22 (adaptations and site context), by their ontology name.
ADAPTATION_SCHEMES: dict[str, type[StrEnum]] = {
    "ComponentRole": ComponentRole,
    "FrameWhat": FrameWhat,
    "FrameWhen": FrameWhen,
    "FramePlanned": FramePlanned,
    "FrameWho": FrameWho,
    "FrameLevel": FrameLevel,
    "FrameNature": FrameNature,
    "FrameFidelity": FrameFidelity,
    "FrameGoal": FrameGoal,
    "FrameReason": FrameReason,
    "Rurality": Rurality,
}
class NasssDomain(StrEnum):
    """The seven domains of the NASSS framework (Greenhalgh et al., 2017): what a lesson
    is about, so that lessons from different teams add up."""

    CONDITION = "condition"
    TECHNOLOGY = "technology"
    VALUE = "value"
    ADOPTERS = "adopters"
    ORGANISATION = "organisation"
    WIDER = "wider"
    TIME = "time"


class LessonEffect(StrEnum):
    """Whether what a lesson describes helped the attempt or got in its way."""

    HELPED = "helped"
    HINDERED = "hindered"


class LessonKind(StrEnum):
    """What a row of ``lessons.csv`` records about an attempt."""

    LESSON = "lesson"  # something learned, which helped or got in the way
    DO_DIFFERENTLY = "do_differently"  # what the team would do differently
    WHY_STOPPED = "why_stopped"  # why a stopped attempt stopped


class Sector(StrEnum):
    """Where a contributor works (given when they register)."""

    NHS = "nhs"
    SOCIAL_CARE = "social_care"
    LOCAL_AUTHORITY = "local_authority"
    VOLUNTARY = "voluntary"
    SUPPLIER = "supplier"
    PATIENT_CARER = "patient_carer"


#: Concept schemes by their local name in the ontology (``tb:SiteKind`` …).
CONCEPT_SCHEMES: dict[str, type[StrEnum]] = {
    "SiteKind": SiteKind,
    "Country": Country,
    "Status": Status,
    "Design": Design,
    "Finding": Finding,
    "QualityDomain": QualityDomain,
    "InterventionType": InterventionType,
    "Direction": Direction,
    "ReviewQuality": ReviewQuality,
    "Visibility": Visibility,
    "CandidateStatus": CandidateStatus,
    "Verdict": Verdict,
    "ChangeKind": ChangeKind,
    "WatchTarget": WatchTarget,
    "LinkHow": LinkHow,
    **ADAPTATION_SCHEMES,
    "NasssDomain": NasssDomain,
    "LessonEffect": LessonEffect,
    "LessonKind": LessonKind,
    "Sector": Sector,
}


def review_sms_level(quality: ReviewQuality | None) -> int | None:
    """SMS level of a systematic review from its AMSTAR 2 rating (semantics.md)."""
    if quality in (ReviewQuality.HIGH, ReviewQuality.MODERATE):
        return 5
    if quality is ReviewQuality.CRITICALLY_LOW:
        return None
    return 3


def effective_sms_level(
    design: Design, sms_level: int | None, review_quality: ReviewQuality | None
) -> int | None:
    """The level an evaluation counts at: a reviewer's ``sms_level`` overrides the design's."""
    if sms_level is not None:
        return sms_level
    if design is Design.SYSTEMATIC_REVIEW:
        return review_sms_level(review_quality)
    return DESIGN_SMS_LEVEL[design]


class Link(StrEnum):
    """Each concrete relationship an interchange column produces: ``From-TYPE->To``;
    and ``CANDIDATE_FOR``, which the literature and registry connectors write.

    ``LEARNED_FROM`` may point at an evaluation or at an initiative, so it has
    two members. The owner is the node whose row holds the reference column.
    """

    SITE_PARENT = "Site-PART_OF->Site"
    INITIATIVE_SOLUTION = "Initiative-IMPLEMENTS->Solution"
    INITIATIVE_SITE = "Initiative-TRIED_AT->Site"
    INITIATIVE_LEARNED_FROM_EVALUATION = "Initiative-LEARNED_FROM->Evaluation"
    INITIATIVE_LEARNED_FROM_INITIATIVE = "Initiative-LEARNED_FROM->Initiative"
    OUTCOME_INITIATIVE = "Initiative-HAS_OUTCOME->Outcome"
    EVALUATION_INITIATIVE = "Evaluation-EVALUATED->Initiative"
    EVALUATION_OUTCOME = "Evaluation-REPORTS->Outcome"
    CANDIDATE_SOLUTION = "Candidate-CANDIDATE_FOR->Solution"
    VERSION_SOLUTION = "DesignVersion-VERSION_OF->Solution"
    COMPONENT_SOLUTION = "Component-COMPONENT_OF->Solution"
    COMPONENT_VERSION = "Component-IN_VERSION->DesignVersion"
    INITIATIVE_VERSION = "Initiative-FOLLOWS->DesignVersion"
    ADAPTATION_INITIATIVE = "Adaptation-ADAPTS->Initiative"
    ADAPTATION_COMPONENT = "Adaptation-MODIFIES->Component"
    EVALUATION_INCLUDES = "Evaluation-INCLUDES->Evaluation"
    LESSON_INITIATIVE = "Initiative-HAS_LESSON->Lesson"
    CONTRIBUTION_INITIATIVE = "Contribution-RECORDS->Initiative"

    @property
    def source(self) -> Label:
        return _LINK_PARTS[self][0]

    @property
    def rel(self) -> Rel:
        return _LINK_PARTS[self][1]

    @property
    def target(self) -> Label:
        return _LINK_PARTS[self][2]

    @property
    def owner(self) -> Label:
        """The label whose row holds the reference (HAS_OUTCOME is held by the outcome)."""
        return self.target if self in _HELD_BY_TARGET else self.source

    @property
    def other(self) -> Label:
        return self.source if self in _HELD_BY_TARGET else self.target


#: Links whose reference column is in the target's row (an outcome or a lesson names its
#: initiative).
_HELD_BY_TARGET = frozenset({Link.OUTCOME_INITIATIVE, Link.LESSON_INITIATIVE})

_LINK_PARTS: dict[Link, tuple[Label, Rel, Label]] = {
    link: (Label(link.value.split("-", 1)[0]), Rel(link.value.split("-", 2)[1]),
           Label(link.value.rsplit(">", 1)[1]))
    for link in Link
}
