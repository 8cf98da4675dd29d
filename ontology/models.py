"""pydantic models of the five interchange v1 row types (``spec/interchange.md``).

Cells arrive as strings; an empty cell is unknown (``None``), never zero.
Enumerated columns use the ontology's enums (``vocab``), so the allowed values
are the ontology's. Dates keep the precision given (``YYYY``, ``YYYY-MM`` or
``YYYY-MM-DD``); :func:`date_bounds` gives the first and last day of the period.
"""

from __future__ import annotations

import calendar
import functools
import math
import re
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from triedbefore.ontology.vocab import (
    ComponentRole,
    Country,
    Design,
    Direction,
    Finding,
    FrameFidelity,
    FrameGoal,
    FrameLevel,
    FrameNature,
    FramePlanned,
    FrameReason,
    FrameWhat,
    FrameWhen,
    FrameWho,
    InterventionType,
    Label,
    LessonEffect,
    LessonKind,
    Link,
    NasssDomain,
    QualityDomain,
    ReviewQuality,
    Rurality,
    SiteKind,
    Status,
    Visibility,
)

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
EPOCH = date(1970, 1, 1)


@functools.lru_cache(maxsize=65536)
def date_bounds(value: str) -> tuple[int, int]:
    """First and last day of a partial ISO date, as days since 1970-01-01."""
    m = _DATE_RE.match(value)
    if not m:
        raise ValueError(f"{value!r} is not an ISO 8601 date (YYYY, YYYY-MM or YYYY-MM-DD)")
    year = int(m.group(1))
    if m.group(3):
        d = date(year, int(m.group(2)), int(m.group(3)))
        return (d - EPOCH).days, (d - EPOCH).days
    if m.group(2):
        month = int(m.group(2))
        last = calendar.monthrange(year, month)[1]
        return (date(year, month, 1) - EPOCH).days, (date(year, month, last) - EPOCH).days
    return (date(year, 1, 1) - EPOCH).days, (date(year, 12, 31) - EPOCH).days


def day_to_iso(days: int) -> str:
    return date.fromordinal(EPOCH.toordinal() + days).isoformat()


def _check_date(value: str) -> str:
    m = _DATE_RE.match(value)
    if not m:
        raise ValueError("not an ISO 8601 date; use YYYY, YYYY-MM or YYYY-MM-DD")
    year = int(m.group(1))
    if year < 1800 or year > 2200:
        raise ValueError(f"year {year} is outside 1800–2200")
    if m.group(2):
        month = int(m.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"month {m.group(2)} does not exist")
        if m.group(3):
            day = int(m.group(3))
            last = calendar.monthrange(year, month)[1]
            if not 1 <= day <= last:
                raise ValueError(f"{value} does not exist (that month has {last} days)")
    return value


def _split_multi(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split("|") if part.strip()]
    return value


def _parse_bool(value: Any) -> Any:
    if isinstance(value, str):
        low = value.strip().lower()
        if low == "true":
            return True
        if low == "false":
            return False
        raise ValueError("not a boolean; allowed values: true, false")
    return value


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


PartialDate = Annotated[str, AfterValidator(_check_date)]
MultiValue = Annotated[list[str], BeforeValidator(_split_multi)]
Bool = Annotated[bool | None, BeforeValidator(_parse_bool)]
Number = Annotated[float, AfterValidator(_finite)] | None
Text = Annotated[str, Field(min_length=1)]


@dataclass(frozen=True)
class Reference:
    """A column holding ids of other records; each id becomes a relationship."""

    column: str
    links: tuple[Link, ...]  # the link an id makes, by the label it names, tried in order
    many: bool = True
    targets: tuple[Label, ...] = ()  # the labels an id may name, derived from ``links``

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(link.other for link in self.links))


_PROPERTY_COLUMNS: dict[type, tuple[str, ...]] = {}
#: Per row type, what an empty cell of each column reads as (None or its default).
_UNKNOWN: dict[type, dict[str, Any]] = {}


class InterchangeRow(BaseModel):
    """Common behaviour of the five row types."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    FILE: ClassVar[str]
    LABEL: ClassVar[Label]
    ID_COLUMN: ClassVar[str]
    REFERENCES: ClassVar[tuple[Reference, ...]] = ()
    #: Date columns: read as start dates (first day) or publication dates (last day).
    DATE_COLUMNS: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unknown(cls, data: Any) -> Any:
        """An empty cell is unknown: None, or the column's documented default. (One pass
        over the row rather than a validator per field: a tenth of an ingest's CPU.)"""
        if not isinstance(data, dict):
            return data
        unknown = _UNKNOWN.get(cls)
        if unknown is None:
            unknown = _UNKNOWN[cls] = {
                name: f.default if isinstance(f.default, Enum) else None
                for name, f in cls.model_fields.items()}
        empty = [name for name, value in data.items() if name in unknown and (
            value is None or (isinstance(value, str) and not value.strip()))]
        if not empty:
            return data
        return {**data, **{name: unknown[name] for name in empty}}

    @property
    def row_id(self) -> str:
        return str(getattr(self, self.ID_COLUMN))

    @classmethod
    def columns(cls) -> list[str]:
        return list(cls.model_fields)

    @classmethod
    def required_columns(cls) -> list[str]:
        return [name for name, f in cls.model_fields.items() if f.is_required()]

    @classmethod
    def reference_columns(cls) -> set[str]:
        return {r.column for r in cls.REFERENCES}

    @classmethod
    def property_columns(cls) -> tuple[str, ...]:
        """The columns that become node properties: all but the id and the references."""
        cached = _PROPERTY_COLUMNS.get(cls)
        if cached is None:
            refs = cls.reference_columns()
            cached = _PROPERTY_COLUMNS[cls] = tuple(
                name for name in cls.model_fields if name != cls.ID_COLUMN and name not in refs)
        return cached

    def node_properties(self) -> dict[str, Any]:
        """Properties of this row's node: every non-reference column (None removes)."""
        props: dict[str, Any] = {}
        for name in self.property_columns():
            value = getattr(self, name)
            if isinstance(value, Enum):
                value = value.value
            elif isinstance(value, list) and not value:
                value = None
            props[name] = value
        for column in self.DATE_COLUMNS:
            value = getattr(self, column)
            if value is None:
                props[f"{column}_lo"] = props[f"{column}_hi"] = None
            else:
                props[f"{column}_lo"], props[f"{column}_hi"] = date_bounds(value)
        return props

    def references(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for ref in self.REFERENCES:
            value = getattr(self, ref.column)
            if value is None:
                out[ref.column] = []
            elif isinstance(value, list):
                out[ref.column] = list(value)
            else:
                out[ref.column] = [str(value)]
        return out


class SiteRow(InterchangeRow):
    FILE = "sites.csv"
    LABEL = Label.SITE
    ID_COLUMN = "site_id"
    REFERENCES = (Reference("parent_id", (Link.SITE_PARENT,), many=False),)
    DATE_COLUMNS = ("open_date", "close_date")

    site_id: Text
    name: Text
    kind: SiteKind
    parent_id: str | None = None
    postcode: str | None = None
    region: str | None = None
    lat: Annotated[float, Field(ge=-90, le=90), AfterValidator(_finite)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180), AfterValidator(_finite)] | None = None
    open_date: PartialDate | None = None
    close_date: PartialDate | None = None
    source_url: str | None = None
    licence: str | None = None
    illustrative: Bool = None
    # Context (issue 22): each value with where it came from.
    imd_score: Annotated[float, Field(ge=0), AfterValidator(_finite)] | None = None
    imd_decile: Annotated[int, Field(ge=1, le=10)] | None = None
    imd_year: Annotated[int, Field(ge=2000, le=2100)] | None = None
    imd_source: str | None = None
    rurality: Rurality | None = None
    rurality_source: str | None = None
    registered_patients: Annotated[int, Field(ge=0)] | None = None
    registered_patients_date: PartialDate | None = None
    registered_patients_source: str | None = None
    context_licence: str | None = None
    country: Country | None = None


class SolutionRow(InterchangeRow):
    FILE = "solutions.csv"
    LABEL = Label.SOLUTION
    ID_COLUMN = "solution_id"

    solution_id: Text
    name: Text
    aliases: MultiValue = []
    description: str | None = None
    intervention_type: InterventionType | None = None
    technology: Bool = None
    problem: str | None = None
    tags: MultiValue = []
    licence: str | None = None
    illustrative: Bool = None

    def node_properties(self) -> dict[str, Any]:
        props = super().node_properties()
        # Lists are not full-text indexed; their text twins are.
        props["aliases_text"] = " | ".join(self.aliases) or None
        props["tags_text"] = " | ".join(self.tags) or None
        return props


class InitiativeRow(InterchangeRow):
    FILE = "initiatives.csv"
    LABEL = Label.INITIATIVE
    ID_COLUMN = "initiative_id"
    REFERENCES = (
        Reference("solution_id", (Link.INITIATIVE_SOLUTION,), many=False),
        Reference("site_ids", (Link.INITIATIVE_SITE,)),
        Reference("learned_from", (Link.INITIATIVE_LEARNED_FROM_EVALUATION,
                                   Link.INITIATIVE_LEARNED_FROM_INITIATIVE)),
        Reference("version_id", (Link.INITIATIVE_VERSION,), many=False),
    )
    DATE_COLUMNS = ("start_date", "end_date")

    initiative_id: Text
    title: Text
    description: str | None = None
    solution_id: str | None = None
    site_ids: Annotated[MultiValue, Field(min_length=1)]
    start_date: PartialDate
    end_date: PartialDate | None = None
    status: Status | None = None
    funder: str | None = None
    cost_gbp: Annotated[float, Field(ge=0), AfterValidator(_finite)] | None = None
    learned_from: MultiValue = []
    source_url: str | None = None
    licence: str | None = None
    illustrative: Bool = None
    visibility: Visibility = Visibility.PUBLIC
    version_id: str | None = None

    def node_properties(self) -> dict[str, Any]:
        props = super().node_properties()
        # Whether the row names its solution (resolution reads the initiatives that do not
        # by this property, instead of counting every initiative's links).
        props["declares_solution"] = self.solution_id is not None
        return props


class OutcomeRow(InterchangeRow):
    FILE = "outcomes.csv"
    LABEL = Label.OUTCOME
    ID_COLUMN = "outcome_id"
    REFERENCES = (
        Reference("initiative_id", (Link.OUTCOME_INITIATIVE,), many=False),
    )
    DATE_COLUMNS = ("period_start", "period_end")

    outcome_id: Text
    initiative_id: Text
    measure: Text
    domain: QualityDomain | None = None
    baseline: Number = None
    value: Number = None
    unit: str | None = None
    direction: Direction
    period_start: PartialDate | None = None
    period_end: PartialDate | None = None
    licence: str | None = None
    illustrative: Bool = None
    visibility: Visibility = Visibility.PUBLIC

    def node_properties(self) -> dict[str, Any]:
        props = super().node_properties()
        props["measure_key"] = measure_key(self.measure)
        return props


def measure_key(measure: str) -> str:
    """Outcomes measure the same thing when their text is equal after trimming and case
    folding (semantics.md); inner runs of spaces count as one."""
    return " ".join(measure.split()).casefold()


#: The years a price year may take.
PRICE_YEARS = (1900, 2100)


class EvaluationRow(InterchangeRow):
    FILE = "evaluations.csv"
    LABEL = Label.EVALUATION
    ID_COLUMN = "evaluation_id"
    REFERENCES = (
        Reference("initiative_ids", (Link.EVALUATION_INITIATIVE,)),
        Reference("outcome_ids", (Link.EVALUATION_OUTCOME,)),
        Reference("included_evaluation_ids", (Link.EVALUATION_INCLUDES,)),
    )
    DATE_COLUMNS = ("published_date",)

    evaluation_id: Text
    initiative_ids: Annotated[MultiValue, Field(min_length=1)]
    title: Text
    design: Design
    sms_level: Annotated[int, Field(ge=1, le=5)] | None = None
    review_quality: ReviewQuality | None = None
    finding: Finding
    published_date: PartialDate
    independent: Bool = None
    sample_size: Annotated[int, Field(ge=0)] | None = None
    its_points_before: Annotated[int, Field(ge=0)] | None = None
    its_points_after: Annotated[int, Field(ge=0)] | None = None
    evaluator: str | None = None
    doi: str | None = None
    url: str | None = None
    outcome_ids: MultiValue = []
    # An economic result, shown beside the verdict (never changing it): cost per QALY
    # gained (not negative), net cost per patient (negative: a saving), at the prices of
    # ``price_year`` (empty when the source does not state it: never guessed).
    cost_per_qaly_gbp: Annotated[float, Field(ge=0), AfterValidator(_finite)] | None = None
    net_cost_per_patient_gbp: Number = None
    price_year: int | None = None
    # A systematic review's included studies: other evaluations (``INCLUDES``).
    included_evaluation_ids: MultiValue = []
    licence: str | None = None
    illustrative: Bool = None
    visibility: Visibility = Visibility.PUBLIC

    @field_validator("price_year", mode="after")
    @classmethod
    def _price_year(cls, value: int | None) -> int | None:
        if value is None:
            return None
        if not PRICE_YEARS[0] <= value <= PRICE_YEARS[1]:
            raise ValueError(f"{value} is not a price year ({PRICE_YEARS[0]}–{PRICE_YEARS[1]})")
        return value

    @field_validator("included_evaluation_ids", mode="after")
    @classmethod
    def _included(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if not value:
            return value
        if "design" in info.data and info.data["design"] is not Design.SYSTEMATIC_REVIEW:
            raise ValueError("only a systematic_review includes other evaluations")
        if info.data.get("evaluation_id") in value:
            raise ValueError("a review cannot include itself")
        return value

    @field_validator("doi", mode="after")
    @classmethod
    def _strip_resolver(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
            if value.lower().startswith(prefix):
                return value[len(prefix):]
        return value

    def node_properties(self) -> dict[str, Any]:
        from triedbefore.ontology.vocab import effective_sms_level

        props = super().node_properties()
        props["sms_effective"] = effective_sms_level(self.design, self.sms_level,
                                                     self.review_quality)
        return props


#: ``|``-separated cells of enumerated values.
WhoList = Annotated[list[FrameWho], BeforeValidator(_split_multi)]
GoalList = Annotated[list[FrameGoal], BeforeValidator(_split_multi)]
ReasonList = Annotated[list[FrameReason], BeforeValidator(_split_multi)]


class DesignVersionRow(InterchangeRow):
    """One version of a solution's national design (a framework revised in a later year)."""

    FILE = "versions.csv"
    LABEL = Label.DESIGN_VERSION
    ID_COLUMN = "version_id"
    REFERENCES = (Reference("solution_id", (Link.VERSION_SOLUTION,), many=False),)
    DATE_COLUMNS = ("published_date",)

    version_id: Text
    solution_id: Text
    name: Text
    published_date: PartialDate | None = None
    description: str | None = None
    source_url: str | None = None
    licence: str | None = None
    illustrative: Bool = None


class ComponentRow(InterchangeRow):
    """A part of a solution: core (every attempt keeps it) or adaptable (CFIR)."""

    FILE = "components.csv"
    LABEL = Label.COMPONENT
    ID_COLUMN = "component_id"
    REFERENCES = (
        Reference("solution_id", (Link.COMPONENT_SOLUTION,), many=False),
        Reference("version_ids", (Link.COMPONENT_VERSION,)),
    )

    component_id: Text
    solution_id: Text
    name: Text
    role: ComponentRole
    version_ids: MultiValue = []
    description: str | None = None
    source_url: str | None = None
    licence: str | None = None
    illustrative: Bool = None


class AdaptationRow(InterchangeRow):
    """One modification an initiative made, in the terms of FRAME (Wiltsey Stirman et al.
    2019): what, when, planned or not, by whom, at what level, how, whether it kept the
    core, and why."""

    FILE = "adaptations.csv"
    LABEL = Label.ADAPTATION
    ID_COLUMN = "adaptation_id"
    REFERENCES = (
        Reference("initiative_id", (Link.ADAPTATION_INITIATIVE,), many=False),
        Reference("component_id", (Link.ADAPTATION_COMPONENT,), many=False),
    )

    adaptation_id: Text
    initiative_id: Text
    component_id: str | None = None
    what: FrameWhat
    nature: FrameNature | None = None
    level: FrameLevel | None = None
    stage: FrameWhen | None = None
    planned: FramePlanned | None = None
    decided_by: WhoList = []
    fidelity: FrameFidelity
    goals: GoalList = []
    reasons: ReasonList = []
    description: str | None = None
    source_url: str | None = None
    licence: str | None = None
    illustrative: Bool = None
    visibility: Visibility = Visibility.PUBLIC

    def node_properties(self) -> dict[str, Any]:
        props = super().node_properties()
        for column in ("decided_by", "goals", "reasons"):
            values = getattr(self, column)
            props[column] = [v.value for v in values] or None
        return props


#: Longest lesson text, in characters: a lesson is a few sentences another team can act on.
LESSON_MAX = 2000


def _lesson_text(value: str) -> str:
    if len(value) > LESSON_MAX:
        raise ValueError(f"is {len(value):,} characters long; a lesson has at most "
                         f"{LESSON_MAX:,} characters (split it into several lessons)")
    return value


class LessonRow(InterchangeRow):
    """One lesson of an initiative, in the words of the people who ran it."""

    FILE = "lessons.csv"
    LABEL = Label.LESSON
    ID_COLUMN = "lesson_id"
    REFERENCES = (
        Reference("initiative_id", (Link.LESSON_INITIATIVE,), many=False),
    )

    lesson_id: Text
    initiative_id: Text
    text: Annotated[Text, AfterValidator(_lesson_text)]
    kind: LessonKind = LessonKind.LESSON
    effect: LessonEffect | None = Field(default=None, validate_default=True)
    nasss_domain: NasssDomain | None = Field(default=None, validate_default=True)
    licence: str | None = None
    illustrative: Bool = None
    visibility: Visibility = Visibility.PUBLIC

    @field_validator("effect", "nasss_domain", mode="after")
    @classmethod
    def _a_lesson_says_how(cls, value: Any, info: ValidationInfo) -> Any:
        """A lesson (not the other kinds) says whether it helped and what it is about, so
        that lessons from different teams add up."""
        if value is None and info.data.get("kind") is LessonKind.LESSON:
            raise ValueError("required value is empty: a lesson says "
                             + ("whether it helped or got in the way (helped, hindered)"
                                if info.field_name == "effect" else
                                "which NASSS domain it is about"))
        return value


#: Row types in load order: a file's references point only to earlier files,
#: except ``learned_from``, ``parent_id`` and ``included_evaluation_ids``, which are linked
#: after all nodes exist.
ROW_TYPES: tuple[type[InterchangeRow], ...] = (
    SiteRow, SolutionRow, DesignVersionRow, ComponentRow, InitiativeRow, OutcomeRow,
    EvaluationRow, AdaptationRow, LessonRow,
)
ROW_TYPE_BY_FILE: dict[str, type[InterchangeRow]] = {t.FILE: t for t in ROW_TYPES}
ROW_TYPE_BY_LABEL: dict[Label, type[InterchangeRow]] = {t.LABEL: t for t in ROW_TYPES}


@dataclass(frozen=True)
class FieldProblem:
    column: str | None
    reason: str
    allowed: tuple[str, ...] = ()


def explain(error: ValidationError) -> list[FieldProblem]:
    """Turn a pydantic error into one problem per column, with allowed values."""
    problems: list[FieldProblem] = []
    for item in error.errors(include_url=False):
        loc = item.get("loc") or ()
        column = str(loc[0]) if loc else None
        kind = item.get("type", "")
        value = item.get("input")
        allowed: tuple[str, ...] = ()
        if kind == "value_error":  # a validator's own words (an empty cell may reach it)
            reason = str(item.get("ctx", {}).get("error", item["msg"]))
        elif kind == "missing" or value is None or (kind == "string_too_short" and value == ""):
            reason = "required value is empty"
        elif kind == "enum":
            expected = str(item.get("ctx", {}).get("expected", ""))
            allowed = tuple(v.strip(" '") for v in re.split(r",\s*|\s+or\s+", expected) if v)
            reason = f"{value!r} is not an allowed value"
        elif kind == "too_short" and column in ("site_ids", "initiative_ids"):
            reason = "required value is empty"
        elif kind == "extra_forbidden":
            reason = "unknown column"
        elif kind in ("float_parsing", "int_parsing", "int_from_float"):
            reason = f"{value!r} is not a {'whole ' if 'int' in kind else ''}number"
        elif kind.startswith(("greater_than", "less_than")):
            reason = f"{value!r} is out of range ({item['msg'].removeprefix('Input should be ')})"
        else:
            reason = item["msg"]
        problems.append(FieldProblem(column, reason, allowed))
    return problems
