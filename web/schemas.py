"""Response models of the explorer's JSON side: every page's ``.json`` twin, the curation,
console, changes and watches endpoints, the pagination and error envelopes; and the JSON
Schema generator that turns them into the OpenAPI document's component schemas
(``web/openapi.py``).

Conventions: the explorer's own envelopes (a page's top-level object, pagination, the
verdict, a repeat, the error) are closed (``extra="forbid"``: ``additionalProperties:
false``), so a field added to a page without being described here fails the tests;
records read from the graph (nodes and query rows) are open (``extra="allow"``), since a
node keeps every property of its source row (for example ``x_<column>`` properties from
unknown bundle columns).

A field's docstring is its description. ``absent()`` marks a field that may be left out
of the object (a missing key, never a ``null``); ``X | None`` marks one that may be null.
Enumerations are the ontology's (``ontology/vocab.py``).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.json_schema import GenerateJsonSchema
from typing_extensions import TypeAliasType

from triedbefore.graph import quality, resolution
from triedbefore.graph.readonly import MAX_STATEMENT_LENGTH
from triedbefore.ontology.models import (
    EvaluationRow,
    InitiativeRow,
    InterchangeRow,
    SiteRow,
    SolutionRow,
)
from triedbefore.ontology.vocab import (
    DECISIONS,
    CandidateSource,
    CandidateStatus,
    ChangeKind,
    Design,
    Direction,
    Finding,
    InterventionType,
    LessonEffect,
    LessonKind,
    LinkHow,
    NasssDomain,
    QualityDomain,
    Rel,
    Sector,
    SiteKind,
    Status,
    Verdict,
    Visibility,
    WatchTarget,
)


def absent() -> Any:
    """The default of a field that may be left out of the object."""
    return Field(default=None)


class Envelope(BaseModel):
    """An object of the explorer's own: exactly these fields."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


#: The longest search query (``q``) the explorer takes at all: it is searched up to
#: ``search_max_query_chars`` of it, and the answer says so.
SEARCH_Q_MAX = 20_000


class Record(BaseModel):
    """An object read from the graph: these fields, and possibly others."""

    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)


class PageData(Envelope):
    """A JSON twin: ``{"ok": true, ...the page's data}``."""

    ok: Literal[True]


class Form(Envelope):
    """The fields of a form a client sends (a request body)."""


# --- shared types -----------------------------------------------------------------------

Id = Annotated[str, Field(min_length=1)]
Count = Annotated[int, Field(ge=0)]
Level = Annotated[int, Field(ge=0, le=5)]  # a Maryland SMS level
PartialDate = TypeAliasType("PartialDate", Annotated[str, Field(
    pattern=r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$",
    description="An ISO 8601 date kept at the precision given: YYYY, YYYY-MM or YYYY-MM-DD.")])
GAP_DOMAINS = (*(d.value for d in QualityDomain), "unspecified")
GapDomain = TypeAliasType("GapDomain", Annotated[Literal[GAP_DOMAINS], Field(
    description="A quality domain, or `unspecified` for evaluations reporting none.")])
InterventionTypeFilter = Literal[(*(t.value for t in InterventionType), "unspecified")]
SEARCH_FACETS = ("verdict", "intervention_type", "technology", "region", "icb", "site_kind",
                 "year")
SearchFacet = TypeAliasType("SearchFacet", Literal[SEARCH_FACETS])
GraphKind = TypeAliasType("GraphKind", Literal[
    "solution", "initiative", "evaluation", "site", "outcome"])
ResolutionStatus = TypeAliasType("ResolutionStatus", Literal[resolution.STATUSES])
Decision = TypeAliasType("Decision", Literal[tuple(d.value for d in DECISIONS)])

#: Descriptions of the ontology's enumerations, for API readers.
ENUM_DESCRIPTIONS: dict[type, str] = {
    Verdict: "What the evidence says about a solution (see /method#verdicts).",
    InterventionType: "Cochrane EPOC intervention type.",
    LinkHow: "How an initiative is linked to a solution: declared in the data, inferred by "
             "the matcher, suggested to a curator, or a curator's decision.",
    CandidateStatus: "Where a candidate evaluation stands in curation.",
    CandidateSource: "The service that proposed a candidate evaluation.",
}


class ResponseSchema(GenerateJsonSchema):
    """JSON Schema 2020-12 for the models: no per-property titles, no defaults (a default
    only marks a field that may be absent, see :func:`absent`), and ``PaginatedX`` for
    ``Paginated[X]``."""

    def normalize_name(self, name: str) -> str:
        return re.sub(r"[^a-zA-Z0-9.\-_]", "", name)

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def default_schema(self, schema: Any) -> dict[str, Any]:
        return self.generate_inner(schema["schema"])

    def generate(self, schema: Any, mode: Any = "validation") -> dict[str, Any]:
        out = super().generate(schema, mode)
        for definition in (out, *out.get("$defs", {}).values()):
            _describe_enum(definition)
        return out

    def generate_definitions(self, inputs: Any) -> Any:
        mapping, definitions = super().generate_definitions(inputs)
        for definition in definitions.values():
            _describe_enum(definition)
        return mapping, definitions


def _describe_enum(schema: dict[str, Any]) -> None:
    for enum, text in ENUM_DESCRIPTIONS.items():
        if "enum" in schema and schema.get("title") == enum.__name__:
            schema["description"] = text


def counts(name: str, keys: Any, doc: str) -> type[Envelope]:
    """A closed object with one count per key."""
    return create_model(name, __base__=Envelope, __doc__=doc,
                        **{str(k): (Count, ...) for k in keys})


# --- envelopes --------------------------------------------------------------------------

T = TypeVar("T")


class Paginated(Envelope, Generic[T]):
    """A page of an ordered list (parameters `page` and `size`)."""

    items: list[T]
    page: int = Field(ge=1)
    size: int = Field(ge=1, le=500)
    total: Count
    next_page: Annotated[int, Field(ge=2)] | None
    prev_page: Annotated[int, Field(ge=1)] | None


class Error(Envelope):
    """Every error of a JSON endpoint: unknown ids are 404, bad parameters 400, an
    unreachable or refusing store 503."""

    ok: Literal[False]
    error: str
    """What went wrong, in plain English."""
    status: int
    """The HTTP status code again."""


# --- graph records ----------------------------------------------------------------------


class SiteRef(Record):
    id: Id
    name: str | None = absent()
    kind: SiteKind | None = absent()
    region: str | None = absent()
    lat: float | None = absent()
    lon: float | None = absent()


class SiteSummary(Record):
    id: Id
    name: str | None = absent()
    kind: SiteKind | None = absent()


class Outcome(Record):
    id: Id
    initiative_id: Id = absent()
    measure: str | None
    domain: QualityDomain | None = absent()
    baseline: float | None
    value: float | None
    unit: str | None = absent()
    direction: Direction | None


def node(row: type[InterchangeRow], described: dict[str, str], **computed: Any) -> Any:
    """The properties of a node loaded from an interchange row: the row's columns but its id
    and references, typed as the format types them (an unknown cell is no property); the
    first and last day of each date column (``<column>_lo``, ``<column>_hi``, days since
    1970-01-01); the ingest run that wrote it; and the ``computed`` fields. ``described``:
    descriptions of fields."""
    fields: dict[str, Any] = {"id": (Id, ...)}
    for name in row.property_columns():
        info = row.model_fields[name]
        tp = PartialDate if name in row.DATE_COLUMNS else Annotated[
            (info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields[name] = (tp | None if info.default is None else tp, Field(
            ... if info.is_required() else None, description=described.get(name)))
    for name in row.DATE_COLUMNS:
        fields[f"{name}_lo"] = fields[f"{name}_hi"] = (int | None, absent())
    fields["run_id"] = (str | None, absent())
    label = row.LABEL.value
    return create_model(f"{label}Node", __base__=Record, **fields, **computed,
                        __doc__=f"The properties of one {label} node.")


ILLUSTRATIVE = {"illustrative": "true: invented to illustrate the analytics, not a real project"}
SolutionNode = node(SolutionRow, ILLUSTRATIVE)
InitiativeNode = node(InitiativeRow, ILLUSTRATIVE, declares_solution=(bool, Field(
    None, description="Whether the initiative's row named its solution.")))
EvaluationNode = node(EvaluationRow, ILLUSTRATIVE, sms_effective=(Level | None, Field(
    None, description="The SMS level it counts at: the reviewer's `sms_level`, else its "
                      "design's.")))
SiteNode = node(SiteRow, ILLUSTRATIVE | {
    "close_date": "Set when the organisation has closed; it stays in the graph."})


class IngestRun(Record):
    """The properties of one IngestRun node."""

    id: Id
    source: str | None = absent()
    status: str | None = absent()
    started_at: str | None = absent()
    ended_at: str | None = absent()
    failure: str | None = absent()
    errors_count: int | None = absent()
    warnings_count: int | None = absent()
    checksums: list[str] | None = absent()


# --- verdicts, repeats, warnings, changes -----------------------------------------------


class SideEvaluation(Record):
    """One evaluation on a side of a verdict."""

    id: Id
    title: str = absent()
    design: Design | None = absent()
    level: Level | None = absent()
    """Its effective SMS level."""
    finding: Finding = absent()
    published_date: PartialDate = absent()
    independent: bool | None = absent()
    illustrative: bool | None = absent()


class VerdictSide(Envelope):
    """The evaluations on one side of a verdict, strongest first."""

    level: Level
    """The highest SMS level on this side (P or N of /method#verdicts); 0 when none."""
    count: Count
    """How many evaluations with an SMS level are on this side."""
    evaluations: list[SideEvaluation]
    """The strongest of them (at most five), strongest first."""


class VerdictSides(Envelope):
    """What the verdict weighed: the evaluations that found a positive effect against
    those that found no effect or harm. Mixed and inconclusive findings are on neither."""

    positive: VerdictSide
    negative: VerdictSide


class SolutionVerdict(Envelope):
    """What the evidence says about one solution as of a date, and why."""

    solution_id: Id
    verdict: Verdict
    strength: Level
    """The highest SMS level behind the verdict; 0 when none."""
    as_of: date
    """The date the verdict is for."""
    evaluations: list[Id]
    """The evaluations that drove the verdict, strongest first."""
    explanation: str
    """The rule applied, in plain English (evaluations named by id)."""
    explanation_titled: str
    """The explanation with each evaluation named by its title."""
    considered: list[Id]
    """Every evaluation published by `as_of`, strongest first."""
    sides: VerdictSides


class Repeat(Envelope):
    """A zombie repeat, or an informed re-try when `cited` is present."""

    initiative_id: Id
    solution_id: Id
    ignored_evaluations: list[Id]
    """The failed evidence published before the start that the initiative did not cite
    (directly or through an initiative it evaluated), strongest first; never also in
    `cited`."""
    lag_days: int
    """Start minus the publication of the earliest failed evaluation, in days."""
    cited: list[Id] = absent()
    """Informed re-tries only: the evidence the initiative cited."""
    inferred_link: Literal[True] = absent()
    """Present when the initiative's link to the solution was inferred."""
    initiative_title: str = absent()
    """The initiative's title (pages and their twins; the CLI gives ids)."""
    solution_name: str = absent()
    ignored_evaluation_titles: list[str] = absent()
    """The titles of `ignored_evaluations`, in the same order."""
    cited_titles: list[str] = absent()
    """The titles of `cited`, in the same order."""
    illustrative: bool = absent()
    """Whether any record of the row is illustrative (invented, no real project)."""
    illustrative_records: list[Id] = absent()
    """The row's illustrative records (initiative, solution, evaluations)."""


class DesignWarning(Envelope):
    """A design that may not carry its claim (see /method#warnings). Never changes a
    verdict."""

    code: Literal[quality.UNCONTROLLED, quality.SHORT_SERIES,
                  quality.SELF_EVALUATION, quality.SMALL, quality.EARLY]
    evaluation_id: str | None
    """The evaluation it is about; null for a warning about the verdict as a whole."""
    evaluation_title: str | None = None
    """That evaluation's title (beside a verdict or in a list of evaluations)."""
    reason: str
    """Why, in plain English."""
    reference: str
    """The criterion's source."""
    url: str


class Change(Envelope):
    """A verdict change or a new zombie repeat recorded by an ingest run."""

    id: Id
    change_kind: ChangeKind
    solution_id: Id
    solution_name: str | None
    from_verdict: Verdict | None
    """The verdict before the run (null for a zombie repeat)."""
    to_verdict: Verdict
    from_strength: Level | None
    strength: Level
    evaluations: list[Id]
    """The evaluations that caused it (for a zombie repeat: those it ignored)."""
    initiative_id: str | None
    """The zombie repeat (null for a verdict change)."""
    site_ids: list[str]
    run_id: str | None
    changed_at: datetime
    visibility: Visibility
    explanation: str | None
    initiative_title: str | None = absent()
    """The zombie repeat's title (the page and its twin)."""
    evaluation_titles: list[str] = absent()
    """The titles of `evaluations`, in the same order (the page and its twin)."""
    illustrative: bool = absent()
    """Whether any record of the change is illustrative (the page and its twin)."""
    illustrative_records: list[Id] = absent()


# --- home, solutions ---------------------------------------------------------------------

GapRow = create_model(
    "GapRow", __base__=Envelope,
    __doc__="One row of the gap map: evaluations per quality domain (one property per "
            "domain, `unspecified` included).",
    row=(Id, Field(description="A solution id, or an intervention type.")),
    label=(str, ...),
    verdict=(Verdict, Field(description="The row's verdict (the commonest among its "
                                        "solutions).")),
    warnings=(Count, Field(description="Evaluations of the row with a design-quality "
                                       "warning.")),
    illustrative=(bool, Field(default=None, description="Rows by solution: whether the "
                                                        "solution is illustrative.")),
    evaluations=(Count, Field(description="Evaluations of the row, in any domain (0: a "
                                          "gap, tried but never evaluated).")),
    initiatives=(Count, Field(description="Initiatives that tried the row's solutions.")),
    costs_reported=(Count, Field(description="Initiatives of the row's solutions that "
                                             "reported a cost (`cost_gbp`).")),
    **{d: (Count, ...) for d in GAP_DOMAINS},
)


class GapMap(Envelope):
    """Evaluations per row (solution or intervention type) and quality domain."""

    by: Literal["solution", "intervention_type"]
    domains: list[GapDomain]
    cells: list[GapRow]


class HomeEvidence(Envelope):
    """A solution and what its published evaluations say today."""

    id: Id
    name: str
    verdict: Verdict
    strength: Level
    evaluations: Count
    """Evaluations published so far."""
    initiatives: Count
    latest: int
    """The year the latest evaluation was published."""


class HomePage(PageData):
    """Node counts, the latest ingest runs, the zombie repeats with the longest lag and the
    gap map by intervention type."""

    counts: dict[str, Count]
    """Nodes per label."""
    latest_runs: list[IngestRun]
    evidence: list[HomeEvidence]
    """The real (not illustrative) solutions with the most published evaluations, most
    evaluated first."""
    zombies: list[Repeat]
    """The five zombie repeats with the longest lag."""
    zombie_total: Count
    gap: GapMap


class SolutionListItem(Record):
    id: Id
    name: str
    intervention_type: InterventionType | None = absent()
    technology: bool | None = absent()
    initiatives: Count
    verdict: Verdict
    verdict_strength: int | None = absent()
    """A solution with evaluations: the SMS level behind its verdict (0: none)."""


class SolutionsPage(PageData):
    """Every solution with its verdict and number of initiatives, by name."""

    solutions: Paginated[SolutionListItem]
    verdict_filter: Verdict | None


class SolutionEvaluation(Record):
    id: Id
    title: str
    design: Design | None = absent()
    level: Level | None
    independent: bool | None = absent()
    finding: Finding
    published_date: PartialDate
    published_hi: int = absent()
    url: str | None = absent()
    doi: str | None = absent()
    evaluator: str | None = absent()


class Attempt(Record):
    """An initiative that tried the solution."""

    id: Id
    title: str
    start_date: PartialDate | None = absent()
    start_lo: int | None = absent()
    end_date: PartialDate | None = absent()
    status: Status | None = absent()
    visibility: Visibility | None = absent()
    how: LinkHow
    score: float | None = absent()
    sites: list[SiteRef]
    zombie: bool
    """A zombie repeat of this solution."""


class Similar(Envelope):
    solution_id: Id
    name: str
    score: float


class Rollup(Envelope):
    """Where the solution was tried, rolled up the organisation hierarchy (ICBs and NHS
    England regions above each site)."""

    sites: Count
    by_kind: dict[str, Count]
    """Distinct sites per site kind."""
    icbs: list[Id]
    regions: list[str]
    text: str
    """e.g. "Tried in 14 GP practices across 3 ICBs in the North West." """


class FunderCosts(Envelope):
    """What the attempts one funder paid for cost (``cost_gbp``), as of the date."""

    funder: str
    """The funder as the initiatives name it, or "funder not recorded"."""
    attempts: Count
    """Attempts started by the date with this funder."""
    reported: Count
    """Of those, how many reported a cost."""
    median: float | None
    """Median cost in pounds of those that reported one (null: none did)."""
    min: float | None
    max: float | None
    text: str
    """In words, or "no cost reported"."""


class CostSummary(Envelope):
    """What attempts at a solution cost: median and range of ``cost_gbp`` over the attempts
    started by the date that reported one, overall and by funder."""

    attempts: Count
    reported: Count
    median: float | None
    min: float | None
    max: float | None
    text: str
    """e.g. "median £120,000 (range £40,000 to £2m), from 3 of 5 attempts reporting a
    cost", or "no cost reported"."""
    by_funder: list[FunderCosts]


class EconomicResult(Envelope):
    """An evaluation's economic result, shown beside the verdict (it never changes it)."""

    id: Id
    title: str | None
    design: Design | None
    finding: Finding | None
    published_date: PartialDate | None
    published_hi: int | None
    cost_per_qaly_gbp: float | None
    """Incremental cost per QALY gained, pounds."""
    net_cost_per_patient_gbp: float | None
    """Net cost per patient, pounds; negative: a saving."""
    price_year: int | None
    illustrative: bool | None
    text: str


class SolutionPage(PageData):
    """One solution: its verdict as of a date, the evaluations and attempts behind it,
    zombie repeats, sites, outcomes and similar solutions."""

    solution: SolutionNode
    verdict: SolutionVerdict
    evaluations: Paginated[SolutionEvaluation]
    """Published by `as_of`, oldest first (parameter `evaluations_page`)."""
    attempts: Paginated[Attempt]
    """Started by `as_of`, oldest first (parameter `attempts_page`)."""
    zombies: list[Repeat]
    sites: list[SiteRef]
    """Every site of the attempts started by `as_of`."""
    outcomes: Paginated[Outcome]
    """By measure (parameter `outcomes_page`)."""
    similar: list[Similar]
    as_of: date
    evidence_years: list[int]
    rollup: Rollup
    verdict_warnings: list[DesignWarning]
    """Beside the verdict: warnings about the evaluations behind it, and about the
    verdict."""
    evaluation_warnings: dict[str, list[DesignWarning]]
    """Evaluation id → its warnings (listed evaluations with any)."""
    adapt: SolutionContext
    """Where the evidence applies, the adaptations of the attempts and, with `site`, the
    attempts in the places most like that organisation (docs/adaptations.md)."""
    costs: CostSummary
    """What the attempts started by `as_of` cost."""
    economics: list[EconomicResult]
    """Economic results of the evaluations published by `as_of`, oldest first."""
    money_outcomes: list[Outcome]
    """The attempts' outcomes measured in money (a unit starting `GBP` or `£`) by `as_of`,
    by measure: every one, beside the paged `outcomes` that hold them too."""
    lessons: Lessons
    """What the people who tried it learned, from every attempt."""


class MatrixEvaluation(Envelope):
    """An evaluation in the evidence matrix."""

    id: Id
    title: str | None
    design: Design | None
    level: Level | None
    """Its SMS level (null: shown, not counted)."""
    finding: Finding | None
    published_date: PartialDate | None
    published_hi: int | None
    independent: bool | None
    illustrative: bool | None


class MatrixReview(MatrixEvaluation):
    """A systematic review of the solution: a column of the matrix."""

    includes: Count
    """How many of the studies shown it includes."""


class MatrixStudy(MatrixEvaluation):
    """A study: a row of the matrix."""

    included_by: list[Id]
    """The reviews shown that include it."""
    in_no_review: bool
    """No review shown includes it (yet)."""
    after_reviews: bool
    """Published after the latest review shown."""


class MatrixSolution(Envelope):
    id: Id
    name: str | None
    illustrative: bool | None


class EvidenceMatrixPage(PageData):
    """A solution's systematic reviews × the studies they include (``INCLUDES``), with the
    studies no review has included yet, as of a date."""

    solution: MatrixSolution
    as_of: date
    reviews: list[MatrixReview]
    """Oldest first."""
    studies: list[MatrixStudy]
    """The solution's evaluations that are not reviews, and every study a review
    includes; oldest first."""
    in_no_review: Count
    links: Count
    """Review–study inclusions shown."""


# --- initiative, evaluation, site -------------------------------------------------------


class InitiativeSolution(Record):
    id: Id
    name: str = absent()
    how: LinkHow
    score: float | None = absent()


class InitiativeEvaluation(Record):
    id: Id
    title: str = absent()
    design: Design | None = absent()
    finding: Finding
    published_date: PartialDate = absent()
    sms_effective: Level | None = absent()


class LearnedFrom(Record):
    id: Id
    title: str | None = absent()
    kind: Literal["Evaluation", "Initiative"]


class InitiativePage(PageData):
    """One initiative: its solutions, sites, outcomes, evaluations, what it learned from,
    and whether it repeats a failure."""

    initiative: InitiativeNode
    solutions: list[InitiativeSolution]
    sites: list[SiteRef]
    outcomes: list[Outcome]
    evaluations: list[InitiativeEvaluation]
    learned_from: list[LearnedFrom]
    repeat: Repeat | None
    """Set when the initiative is a zombie repeat or an informed re-try."""
    lessons: list[InitiativeLesson]
    """What its team learned, in their words."""
    contributions: list[ContributionCredit]
    """Who contributed the record (as they chose to be named) and who accepted it."""
    questions: list[PublicQuestion]
    """Questions to the people who ran it, shown by a curator, with their answers."""
    can_ask: bool
    """Whether someone who ran it recorded it here (and so can answer a question)."""


class EvaluatedInitiative(Record):
    id: Id
    title: str = absent()
    start_date: PartialDate | None = absent()


class SolutionName(Record):
    id: Id
    name: str = absent()


class LinkedEvaluation(Record):
    id: Id
    title: str | None = absent()
    published_date: PartialDate | None = absent()
    illustrative: bool | None = absent()


class EvaluationPage(PageData):
    """One evaluation: the initiatives it evaluated, their solutions and the outcomes it
    reports."""

    evaluation: EvaluationNode
    initiatives: list[EvaluatedInitiative]
    solutions: list[SolutionName]
    outcomes: list[Outcome]
    warnings: list[DesignWarning]
    includes: list[LinkedEvaluation]
    """A systematic review's included studies (``INCLUDES``), oldest first."""
    included_in: list[LinkedEvaluation]
    """The reviews that include this evaluation, oldest first."""
    economic: str | None
    """Its economic result in words (cost per QALY, net cost per patient), if any."""


class SiteInitiative(Record):
    id: Id
    title: str
    start_date: PartialDate | None = absent()
    status: Status | None = absent()
    solution_id: str | None
    solution: str | None = absent()


class SiteOutcome(Outcome):
    measure_key: str | None = absent()
    relative_change: float | None
    peer_median: float | None
    """Median relative change of the same measure at other sites."""
    peers: Count


class TriedInside(Record):
    id: Id
    kind: SiteKind | None = absent()
    name: str | None = absent()
    initiatives: Count


class Hierarchy(Envelope):
    """The site's place in the organisation hierarchy and what was tried inside it."""

    ancestors: list[SiteSummary]
    """The organisations above, nearest first."""
    contains: dict[str, Count]
    """Organisations within it (up to three levels down), per site kind."""
    tried_inside: list[TriedInside]
    text: str


class SitePage(PageData):
    """One site: its place in the NHS hierarchy, the initiatives tried there and their
    outcomes against peers."""

    site: SiteNode
    parents: list[SiteSummary]
    children: list[SiteSummary]
    initiatives: list[SiteInitiative]
    outcomes: list[SiteOutcome]
    hierarchy: Hierarchy


# --- evaluations list, gap map, zombies, deviance ---------------------------------------


class EvaluationSummary(Record):
    id: Id
    title: str
    design: Design | None = absent()
    finding: Finding
    published_date: PartialDate
    solution_id: Id
    domains: list[GapDomain]


class EvaluationFilters(Envelope):
    solution: str | None
    intervention_type: InterventionTypeFilter | None
    domain: GapDomain | None


class EvaluationsPage(PageData):
    """Evaluations by publication date, filtered like a cell of the gap map."""

    evaluations: Paginated[EvaluationSummary]
    filters: EvaluationFilters


class GapMapPage(PageData):
    """Evaluations per solution (or intervention type) and quality domain."""

    by: Literal["solution", "intervention_type"]
    colour: Literal["verdict", "cost"]
    """What the colours show: the verdict, or whether an attempt reported a cost."""
    domains: list[GapDomain]
    cells: Paginated[GapRow]
    """One page of rows, in the order of their labels."""


class ZombieFilters(Envelope):
    solution: str | None
    min_lag: Count
    as_of: date | None


class ZombiesPage(PageData):
    """Initiatives that repeated a solution after evidence that it does not work, without
    citing it; and informed re-tries that did cite it."""

    zombies: Paginated[Repeat]
    retries: list[Repeat]
    """Informed re-tries (not paginated)."""
    filters: ZombieFilters


class Measure(Record):
    key: str
    measure: str
    outcomes: Count


class Deviant(Record):
    site_id: Id
    baseline: float
    value: float
    relative_change: float
    score: float
    """Robust z of the relative change."""
    outcome_id: Id
    initiative_id: Id = absent()
    unit: str | None = absent()


class Deviance(Envelope):
    """Sites whose outcome on one measure improved far more than their peers' (robust
    z ≥ 2)."""

    measure: str
    outcomes: Count
    median: float | None
    mad: float | None
    note: str
    deviants: list[Deviant]


class DevianceChange(Record):
    id: Id
    sites: list[str] | None = absent()
    label: str
    relative_change: float


class DeviancePage(PageData):
    """Sites whose outcome on a measure improved far more than their peers'. Without
    `measure`: the list of measures only (`result` null, no `deviants`)."""

    measures: list[Measure]
    measure: str | None
    result: Deviance | None
    deviants: list[Deviant] = absent()
    changes: list[DevianceChange]


# --- search, proposal check, method ------------------------------------------------------


class SearchWhy(Envelope):
    """Why a hit matched."""

    words: list[str]
    """Words of the query the record's text holds, as the record spells them (a typo of
    the query shows the word it stood for)."""
    meaning: float | None
    """Cosine similarity of the query's and the record's sentence vectors, when it is
    close enough to count ("similar meaning"); null otherwise."""


class SearchHit(Envelope):
    kind: Literal["solution", "initiative", "evaluation", "site", "lesson"]
    id: Id
    name: str | None
    score: float
    """Fused rank score (weighted reciprocal rank fusion of words and meaning, times the
    kind's weight), 0 to 1."""
    why: SearchWhy
    listed: bool
    """Whether the hit is above the relevance floor (false only with `all=1`)."""
    facets: dict[SearchFacet, list[str]]
    """The hit's facet values. A solution has its own (verdict, intervention type,
    technology); an initiative those of its places (region, ICB, kind of site, year
    started) and of the solutions it implements; an evaluation and a lesson those of the
    initiatives they are about."""
    illustrative: bool
    """Whether the record is illustrative (invented, no real project or organisation)."""
    initiative_id: Id | None = absent()
    """A lesson's initiative (whose page shows it)."""
    initiative_title: str | None = absent()
    zombie: bool | None = absent()
    """An initiative: whether it is a zombie repeat (started after evidence that its
    solution does not work was published, without citing it)."""
    informed_retry: bool | None = absent()
    """An initiative: whether it repeats such a solution citing that evidence."""
    finding: str | None = absent()
    """An evaluation: what it found (positive, no_effect, negative, mixed, inconclusive)."""
    verdict_strength: int | None = absent()
    """A solution with evaluations: the SMS level behind its verdict (0: none)."""


ChosenFacets = create_model(
    "ChosenFacets", __base__=Envelope, __doc__="The facet values chosen (parameters).",
    **{f: (str | None, ...) for f in SEARCH_FACETS})


class SearchResults(PageData):
    """Ranked search over solutions, initiatives, evaluations and sites, with facet counts
    and filters."""

    q: str
    results: Paginated[SearchHit]
    chosen: ChosenFacets
    facets: dict[SearchFacet, list[tuple[str, Count]]]
    """Per facet, [value, number of results] pairs, within the chosen filters (a chosen
    value is there with its number, 0 when no result has it)."""
    did_you_mean: str | None
    """The query with words the graph does not know replaced by close ones it does."""
    message: str | None
    """Why there are no results: the query has nothing to search for, or nothing close
    to it was found."""
    cut: bool
    """Whether the query was cut to `search_max_query_chars` characters."""
    listed: Count
    """Hits above the relevance floor, before the filters; `results` holds the best
    `ranked_max` of them (or of every hit, with `all=1`)."""
    below_floor: Count
    """Hits below the relevance floor, not listed (`all=1` lists them), before the
    filters."""
    ranked_max: Count
    """The most hits a search ranks for this page."""
    all: bool


class CheckMatch(Envelope):
    solution_id: Id
    name: str
    score: float
    """The matcher's confidence that the proposal is this solution (0 to 1)."""
    verdict: Verdict
    strength: Level
    explanation: str
    explanation_titled: str
    """The explanation with each evaluation named by its title."""
    evaluation_titles: dict[str, str]
    """The title of each evaluation considered (id → title)."""
    evaluations: list[Id]
    illustrative: bool
    warnings: list[DesignWarning] = absent()
    costs: CostSummary
    """What the attempts at this solution started by the date cost."""


class CheckSite(Envelope):
    id: Id
    name: str | None


class CheckInitiative(Envelope):
    """A past initiative like the proposal: the closest solution's own first, then other
    close solutions', then those only worded like it; within each, those tried nearest a
    place the proposal names first, then the most similar text."""

    initiative_id: Id
    title: str | None
    start_date: PartialDate | None
    end_date: PartialDate | None
    status: Status | None
    illustrative: bool
    sites: list[CheckSite]
    solution_id: Id | None
    """The solution it is an attempt at (the close solution it was found through)."""
    solution_name: str | None
    verdict: Verdict | None
    """That solution's verdict as of the report's date."""
    strength: Level | None
    zombie: bool
    """A zombie repeat: started after the evidence said its solution does not work, citing
    none of it."""
    informed_retry: bool
    place: str | None
    """Where it was tried, said when that is in or near a place the proposal names."""
    score: float
    """The list's order, one number: (tier + (nearness + similarity) / 5) / 3, tier 2 for
    the closest solution's initiatives, 1 for another close solution's, 0 otherwise;
    nearness 0 (elsewhere) to 4 (in the named place); non-increasing down the list."""
    similarity: float
    """The share of the proposal's words (weighted) its title and description hold."""
    reason: str
    """Why it is listed, in a sentence."""


class CheckEvaluation(Envelope):
    """An evaluation to read first."""

    evaluation_id: Id
    title: str | None
    design: Design | None
    design_label: str
    level: Level | None
    """SMS level; null when it has no strength level."""
    finding: Finding | None
    published_date: PartialDate | None
    illustrative: bool
    solution_id: Id | None
    solution_name: str | None
    reason: str
    """Why it is on the list, in a sentence."""


class CheckPlace(Envelope):
    name: str
    """As the proposal writes it ("Wakefield"), or an NHS region's name."""
    sites: list[Id]
    """The sites whose names hold it (none for a region)."""


class CheckMeaningRead(Envelope):
    """How much of the proposal its meaning is read from (its words and the places it
    names are read from all of it)."""

    characters: Count
    """Characters read, from its start (`search_max_query_chars`, cut at a word)."""
    cut: bool
    """Whether the proposal is longer than that."""


class CheckReport(Envelope):
    matches: list[CheckMatch]
    """The closest solutions."""
    zombie_risk: bool
    """Funding this would repeat a solution that does not work, without citing its
    evidence."""
    read_first: list[CheckEvaluation]
    """Evaluations to read first: those that decided the closest solution's verdict,
    strongest first, then the others considered."""
    initiatives: list[CheckInitiative]
    places: list[CheckPlace]
    """Places the proposal names, found among the graph's site names and NHS regions."""
    meaning_read: CheckMeaningRead
    as_of: date
    site_context: CheckSiteContext = absent()
    """With `site`: the proposer's organisation, its context and, per matched solution,
    the warnings when it lies outside what the evidence covered, and the attempts in places
    most like it."""


class CheckPage(PageData):
    """Before funding: the closest solutions with their verdicts, the zombie risk and what
    to read first."""

    q: str
    as_of: date | None
    report: CheckReport | None
    """Null without `q`."""
    site: str
    """The `site` parameter (empty when not given)."""
    lessons: Lessons | None
    """Lessons from people who tried the closest solutions, and their stopped attempts
    (null without `q`)."""


class MethodPage(PageData):
    """The method page (no data of its own)."""


# --- graph view -------------------------------------------------------------------------


class GraphNode(Envelope):
    id: str = Field(pattern=r"^[a-z]+:.+$")
    """`<kind>:<id>`, as the `node` parameter takes it."""
    kind: GraphKind
    label: str
    url: str | None
    """The node's explorer page (outcomes have none)."""


class GraphEdge(Envelope):
    """A relationship as stored: source → target (node ids as in `nodes`)."""

    source: str
    target: str
    type: Rel
    how: LinkHow | None
    """IMPLEMENTS links only."""


class GraphPage(PageData):
    """One node's neighbourhood (one hop): the node, its neighbours and the relationships
    between them. Restricted records are shown to signed-in users only."""

    center: GraphNode | None
    nodes: list[GraphNode]
    """The centre first."""
    edges: list[GraphEdge]
    capped: bool
    """More neighbours than `limit`: only the first `limit` are given."""
    limit: int | None
    total: Count
    """Neighbours in all."""
    kinds: list[GraphKind]


# --- changes and watches ----------------------------------------------------------------


class ChangesPage(PageData):
    """Verdict changes and new zombie repeats recorded by ingest runs, newest first.
    Restricted changes are shown to signed-in users only."""

    changes: Paginated[Change]
    since: date | None


class Watch(Envelope):
    id: Id
    target_kind: WatchTarget
    target_id: Id
    label: str
    created_at: str | None
    seen_at: str | None
    new: Count
    """Changes since the watch was last marked seen."""
    feed: str
    """The watch's Atom feed (its address holds a key)."""


class WatchesPage(PageData):
    """The signed-in user's watches, each with its feed address and the number of new
    changes, and what changed since the last visit."""

    watches: list[Watch]
    notices: list[Change]
    """What changed since the last visit, over all watches."""
    intervention_types: list[InterventionType]


class NewWatch(Envelope):
    id: Id
    target_kind: WatchTarget
    target_id: Id
    created_at: str | None
    seen_at: str | None


class WatchAdded(PageData):
    """The watch."""

    watch: NewWatch


class WatchDeleted(PageData):
    """The watch removed."""

    deleted: Id


class Done(PageData):
    """Done."""


class WatchForm(Form):
    target_kind: WatchTarget
    target_id: Id
    next: str = absent()
    csrf_token: str = absent()


# --- query console ----------------------------------------------------------------------


class ConsoleResult(PageData):
    """The statement's result."""

    columns: list[str]
    rows: list[dict[str, Any]]
    """One object per row, keyed by column; any JSON values."""
    truncated: bool
    """More rows than `limit`."""
    elapsed_ms: float = Field(ge=0)


class ConsoleError(Envelope):
    """A console statement that could not run: the Error envelope plus `kind`."""

    ok: Literal[False]
    error: str
    status: Literal[400]
    kind: Literal["refused", "query_error", "timeout", "bad_input"]
    """`refused`: not a pure read; `query_error`: the database rejected it (its message is
    passed on); `timeout`: out of time; `bad_input`: a field out of range or no
    statement."""


class ConsoleLabel(Envelope):
    label: str
    keys: list[str]


class ConsoleSchema(PageData):
    """Node labels with the property names of a sample of their nodes, and relationship
    types."""

    labels: list[ConsoleLabel]
    relationship_types: list[str]
    error: str | None


class ConsoleForm(Form):
    """The same fields as the GET parameters."""

    q: str = Field(max_length=MAX_STATEMENT_LENGTH)
    limit: str = Field(default=None, pattern=r"^[0-9]*$")
    timeout: str = Field(default=None, pattern=r"^[0-9]*$")
    csrf_token: str = absent()


class CheckForm(Form):
    """The same fields as the GET parameters: a long proposal is sent in the body (an
    address holds at most 8,190 characters behind gunicorn)."""

    q: str = Field(max_length=10_000)
    as_of: str = Field(default=None, pattern=r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")
    site: str = Field(default=None, max_length=200)


# --- curation ---------------------------------------------------------------------------


class ProposedSolution(Envelope):
    solution_id: Id
    name: str
    score: float


class Proposal(Envelope):
    initiative_id: Id
    title: str | None
    solution_id: str | None
    solution_name: str | None
    score: float | None
    status: ResolutionStatus
    candidates: list[ProposedSolution] = absent()
    """Unresolved initiatives only: the best-matching solutions."""


ResolutionCounts = counts("ResolutionCounts", resolution.STATUSES, "Initiatives per status.")


class CurationPage(PageData):
    """The resolution state of every initiative loaded without a declared solution;
    unresolved ones come with their best-matching solutions."""

    proposals: Paginated[Proposal]
    status: ResolutionStatus | None
    statuses: list[ResolutionStatus]
    counts: ResolutionCounts


class Resolution(PageData):
    """The decision recorded."""

    initiative_id: Id
    solution_id: str | None
    score: float | None
    status: Decision


class DecisionForm(Form):
    initiative_id: Id
    solution_id: Id
    decision: Decision
    csrf_token: str = absent()


class CandidateInitiative(Envelope):
    id: Id
    title: str | None


class Candidate(Envelope):
    id: Id
    solution_id: Id
    solution_name: str | None = absent()
    status: CandidateStatus
    source: CandidateSource
    source_id: Id
    title: str
    doi: str | None = absent()
    url: str | None = absent()
    published_date: str | None = absent()
    design: Design | None
    design_reason: str | None
    """Why the design was guessed: the publication type, registry field or phrase that
    decided it."""
    publication_types: list[str] = absent()
    countries: list[str] = absent()
    query: str | None = absent()
    """The search, as sent, that last found it."""
    retrieved_at: str | None = absent()
    """When the source's answer was retrieved."""
    decided_by: str | None = absent()
    decided_at: str | None = absent()
    evaluation_id: str | None = absent()
    """Accepted: the evaluation it became."""
    initiatives: list[CandidateInitiative] = absent()
    """The initiatives of its solution, to choose from when accepting it."""


CandidateCounts = counts("CandidateCounts", CandidateStatus, "Candidates per status.")


class CandidatesPage(PageData):
    """Studies that ClinicalTrials.gov and Europe PMC returned for a solution, waiting for
    (or after) a curator's decision, with the design guessed and why."""

    candidates: Paginated[Candidate]
    status: CandidateStatus | None
    solution: str | None
    statuses: list[CandidateStatus]
    counts: CandidateCounts
    designs: list[Design]
    findings: list[Finding]


class CandidateDecision(PageData):
    """The candidate as decided (an accepted one names its evaluation)."""

    candidate: Candidate


class CandidateDecisionForm(Form):
    candidate_id: Id
    decision: Literal["accept", "reject"]
    initiative_ids: Id | list[Id] = absent()
    finding: Finding = absent()
    design: str = absent()
    published_date: str = absent()
    csrf_token: str = absent()


# --- the description itself --------------------------------------------------------------


class OpenAPIDocument(Record):
    """An OpenAPI 3.1 document."""

    openapi: Literal["3.1.0"]
    info: dict[str, Any]
    paths: dict[str, Any]


# --- design once, adapt locally (web/adapt.py, graph/context.py) ---------------------------


class SiteContext(Record):
    """A site's context: kind, IMD decile and score, ONS rural-urban class, registered
    patients; `inherited` names the area a value was taken from, `sources` where each
    value came from."""

    site_id: Id
    name: str
    kind: str
    imd_decile: int | None
    rurality: str | None
    registered_patients: int | None
    inherited: dict[str, str]


class PlaceLike(Record):
    """An attempt ranked by how alike its closest site is to the chosen organisation."""

    initiative_id: Id
    title: str
    similarity: float = Field(ge=0, le=1)
    compared: dict[str, float]
    """The score (0 to 1) of each dimension compared: kind, deprivation, rurality, size."""
    site: SiteContext
    evaluations: list[Record]
    outcomes: list[Record]
    adaptations: list[Record]


class PlacesLike(Record):
    site: SiteContext
    rule: str
    """The similarity rule, in words."""
    weights: dict[str, float]
    known: list[str]
    missing: list[str]
    """Dimensions not known for the chosen organisation (left out of every comparison)."""
    attempts: list[PlaceLike]
    total: int


class Applicability(Record):
    """The contexts the solution's evaluations covered (counts of evaluated sites by kind,
    deprivation band and urban or rural), and those none covered."""

    evaluated_attempts: int
    evaluated_sites: int
    covered: dict[str, dict[str, int]]
    not_covered: list[str]


class ContextCoverage(Envelope):
    by_kind: dict[str, dict[str, int]]
    """Per kind of site: how many sites, and how many hold each context value."""
    missing: list[str]
    """Context dimensions no site in the graph holds."""


class SolutionContext(Envelope):
    applicability: Applicability
    adaptations: list[Record]
    """Every adaptation of the solution's attempts (FRAME terms)."""
    site_query: str | None
    """The `site` parameter, when given."""
    site_choices: list[Record]
    """When `site` names several sites: the candidates (none chosen)."""
    places_like: PlacesLike | None
    context_warnings: list[str]
    """When the chosen organisation's context lies outside what the evaluations covered."""
    coverage: ContextCoverage
    rule: str
    design_url: str


class CheckSiteContext(Record):
    query: str
    site: SiteContext | None
    choices: list[Record]
    solutions: list[Record]


class DesignPage(PageData):
    """A solution's national design: its versions and the attempts that follow each, its
    core and adaptable components, the map of local adaptations, the attempts that dropped
    a core component, and adaptations against outcomes (descriptive, with counts)."""

    solution: Record
    solution_id: Id
    versions: list[Record]
    components: list[Record]
    unversioned_attempts: list[str]
    attempts: int
    adapted_attempts: int
    adaptations: int
    map: list[Record]
    dropped_core: list[Record]
    against_outcomes: Record
    """Per component, the attempts that changed it and those that kept it; and by fidelity:
    the counts of attempts, of their outcomes' directions and of their evaluations'
    findings, with the warning that this is descriptive, not causal."""
    positive_deviants: list[Record]
    """Attempts that are positive deviants on a measure they report, with their
    adaptations."""
    deviance_notes: list[Record]
    """Per measure the attempts report: how many outcomes were compared, and what the
    comparison could say."""
# --- lessons and contributions ------------------------------------------------------------


class LessonItem(Envelope):
    """A lesson as its team wrote it, with the attempt it comes from."""

    id: Id
    text: str
    effect: LessonEffect | None
    initiative_id: Id
    initiative_title: str | None
    status: Status | None
    sites: list[str]
    illustrative: bool


class LessonGroup(Envelope):
    """The lessons of one NASSS domain with one effect."""

    effect: LessonEffect
    teams: Count
    """How many attempts (teams) gave a lesson of this group."""
    lessons: list[LessonItem]


class LessonDomain(Envelope):
    domain: NasssDomain
    label: str
    teams: Count
    helped: Count
    hindered: Count
    groups: list[LessonGroup]


class StoppedAttempt(Envelope):
    """An attempt that stopped, with why, in its team's words."""

    initiative_id: Id
    title: str | None
    start_date: PartialDate | None
    why: str
    sites: list[str]
    illustrative: bool


class Lessons(Envelope):
    """Lessons grouped by NASSS domain (in the framework's order) and effect, counted by
    team; what teams would do differently; stopped attempts and why."""

    teams: Count
    lessons: Count
    domains: list[LessonDomain]
    do_differently: list[LessonItem]
    stopped: list[StoppedAttempt]


class InitiativeLesson(Record):
    id: Id
    text: str
    kind: LessonKind | None
    effect: LessonEffect | None
    nasss_domain: NasssDomain | None
    illustrative: bool


class ContributionCredit(Record):
    """An accepted contribution that recorded the initiative."""

    id: Id
    contributor: str | None
    """The contributor's name, when they chose to show it."""
    organisation: str | None
    sector: Sector | None
    moderator: str
    """The curator who accepted it."""
    accepted_at: str


ContributionStatus = TypeAliasType("ContributionStatus", Literal[
    "draft", "submitted", "returned", "accepted"])


class ContributionData(Record):
    """The contribution's fields as the form and the JSON API take them: `title`,
    `description`, `solution_id` (or `new_solution_name`, `new_solution_description`),
    `site_ids` (list) and a new site (`new_site_name`, `new_site_kind`,
    `new_site_postcode`), `start_date`, `end_date`, `status`, `why_stopped`, `funder`,
    `source_url`, `learned_from` (list), `outcomes` (list of {measure, direction,
    baseline, value, unit, domain}), `evaluations` (list of {title, url, design, finding,
    published_date}), `lessons` (list of {text, effect, nasss_domain}), `do_differently`,
    `visibility` (`public` or `restricted`), `show_name`, `show_organisation`,
    `separate` (it is not the same attempt as a look-alike) and `merge_into` (an
    initiative it adds to)."""


class ContributionProblem(Envelope):
    """What stops a contribution from loading, as a bundle row's error would say it."""

    file: str
    line: int | None
    column: str | None
    reason: str
    allowed: list[str] = absent()
    field: str | None
    """The form field it belongs to (`lessons-0-text`)."""


class Duplicate(Envelope):
    """An attempt that looks the same: same solution, a same site, same start."""

    kind: Literal["initiative", "contribution"]
    id: Id
    title: str | None


class HistoryEntry(Envelope):
    at: str
    who: str
    action: str
    status: ContributionStatus
    comment: str | None
    data: ContributionData


class Contribution(Envelope):
    """A contribution: its status, the curator's comment and its fields."""

    id: Id
    status: ContributionStatus
    title: str
    initiative_id: Id
    """The initiative it records (once accepted)."""
    published: bool
    """Whether a version of it is in the graph."""
    created_at: str
    updated_at: str
    submitted_at: str | None
    comment: str | None
    """The curator's comment (a returned record says what to change)."""
    accepted_at: str | None
    moderator: str | None
    data: ContributionData
    history: list[HistoryEntry] = absent()


class ContributionPage(PageData):
    """One contribution, for its contributor and curators only: what stops it from loading,
    attempts that look the same, its history."""

    contribution: Contribution
    problems: list[ContributionProblem]
    duplicates: list[Duplicate]
    waiting_alike: list[Id]
    """For curators: other contributions of the same attempt (same solution, site,
    start)."""


class ContributionSaved(PageData):
    """A contribution saved: sent for moderation when `submitted`, else kept as a draft
    with the problems or look-alike attempts to resolve first."""

    submitted: bool
    contribution: Contribution
    problems: list[ContributionProblem]
    duplicates: list[Duplicate]


class MyContributionsPage(PageData):
    """The signed-in user's contributions with their status and the curators' comments."""

    contributions: list[Contribution]


class ModerationPage(PageData):
    """Contributions waiting for a curator, oldest first (curators and admins only)."""

    waiting: list[Contribution]
    counts: dict[ContributionStatus, Count]


class Suggestion(Envelope):
    id: Id
    name: str
    detail: str | None


class SuggestionsPage(PageData):
    """Solutions or sites whose name (or id, or ODS code) matches what was typed."""

    q: str
    items: list[Suggestion]


class ContributionDecided(PageData):
    """The contribution as decided."""

    contribution: Contribution


class PublicQuestion(Envelope):
    """A question a reader asked the people who ran an initiative (who asked is not
    shown), and their answer once a curator has shown it."""

    id: Id
    text: str
    asked_at: str
    answer: str | None
    answered_at: str | None


class ContributionDecisionForm(Form):
    comment: str = absent()
    csrf_token: str = absent()


for _model in (SolutionPage, InitiativePage, SearchHit, CheckPage, SearchResults):
    _model.model_rebuild()

