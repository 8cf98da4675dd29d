"""Every Cypher statement triedbefore sends, in the portable Neo4j 5 subset.

Statements are module-level constants (UPPER_CASE names) or builders marked
with ``@cypher_builder``, whose only arguments are ontology enums (``Label``,
``Rel``) so a builder can never splice user text into a statement. The Neo4j
conformance test collects every constant and calls every builder with every
member of its argument enums, then lints the result with Neo4j's own front end.
Engine-specific statements live in ``dialect.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from triedbefore.ontology.vocab import Label, Link, Rel

F = TypeVar("F", bound=Callable[..., str])

#: Builders registered by ``@cypher_builder``, by name.
BUILDERS: dict[str, Callable[..., str]] = {}


def cypher_builder(func: F) -> F:
    """Register a statement builder whose arguments are all ontology enums."""
    BUILDERS[func.__name__] = func
    return func


# --- ingest -----------------------------------------------------------------

@cypher_builder
def existing_hashes(label: Label) -> str:
    """Row hashes of the nodes with the given ids (``$ids``), and the run that wrote each."""
    return (f"UNWIND $ids AS id MATCH (n:{label.value} {{id: id}}) "
            "RETURN n.id AS id, n.row_hash AS hash, n.run_id AS run_id")


#: Properties of a row's node written by others than ingest (the recorded verdict of a
#: solution, graph/changes.py): kept when ingest rewrites the row.
KEPT_ON_UPSERT: dict[Label, tuple[str, ...]] = {
    Label.SOLUTION: ("verdict", "verdict_strength", "public_verdict",
                     "public_verdict_strength"),
}


@cypher_builder
def upsert_nodes(label: Label) -> str:
    """Create or update nodes from ``$rows`` = [{id, props}] (``props`` without nulls and
    with the id): the node's properties become exactly the row's, plus ``KEPT_ON_UPSERT``.

    (Not ``SET n += r.props`` with nulls for the removed values: FalkorDB 4.16 loses or
    keeps the wrong properties when one ``SET`` removes several.)"""
    kept = KEPT_ON_UPSERT.get(label, ())
    carry = "".join(f", n.{key} AS kept_{key}" for key in kept)
    restore = "".join(f", n.{key} = kept_{key}" for key in kept)
    return (f"UNWIND $rows AS r MERGE (n:{label.value} {{id: r.id}}) "
            f"WITH n, r{carry} "
            f"SET n = r.props, n.run_id = $run_id{restore}")


@cypher_builder
def create_nodes(label: Label) -> str:
    """Create nodes from ``$rows`` = [{id, props}] whose ids the graph does not hold (the
    unique constraint on the id refuses a duplicate)."""
    return (f"UNWIND $rows AS r CREATE (n:{label.value} {{id: r.id}}) "
            "SET n += r.props, n.run_id = $run_id")


@cypher_builder
def create_nodes_hashed(label: Label) -> str:
    """:func:`create_nodes` with each row's hash (``r.hash``) in the same statement: for rows
    whose links are all written in the same batch (a run stopped before they are is not
    trusted by the next, ``UNFINISHED_RUNS``), one statement fewer per row."""
    return (f"UNWIND $rows AS r CREATE (n:{label.value} {{id: r.id}}) "
            "SET n += r.props, n.run_id = $run_id, n.row_hash = r.hash")


@cypher_builder
def set_row_hashes(label: Label) -> str:
    """Mark rows as fully written (their hash is set last, so a crash leaves them pending)."""
    return (f"UNWIND $rows AS r MATCH (n:{label.value} {{id: r.id}}) "
            "SET n.row_hash = r.hash")


@cypher_builder
def sync_links(link: Link) -> str:
    """Make the owner's links of one kind exactly ``r.targets`` for each of ``$rows``.

    Links that ingest does not own (``how`` other than ``declared``, e.g. inferred
    solution links) are kept. New links record the run; ``$rel_props`` is set on all.
    """
    owner, other = link.owner.value, link.other.value
    if link.owner is link.source:
        old, new = (f"(a)-[old:{link.rel.value}]->(b:{other})",
                    f"(a)-[e:{link.rel.value}]->(b)")
    else:
        old, new = (f"(a)<-[old:{link.rel.value}]-(b:{other})",
                    f"(a)<-[e:{link.rel.value}]-(b)")
    return (
        f"UNWIND $rows AS r MATCH (a:{owner} {{id: r.id}}) "
        f"OPTIONAL MATCH {old} "
        "WHERE NOT b.id IN r.targets AND coalesce(old.how, 'declared') = 'declared' "
        "DELETE old "
        "WITH DISTINCT a, r "
        "UNWIND r.targets AS tid "
        f"MATCH (b:{other} {{id: tid}}) "
        f"MERGE {new} "
        "ON CREATE SET e.run_id = $run_id "
        "SET e += $rel_props"
    )


@cypher_builder
def create_links(link: Link) -> str:
    """Links of one kind from owners that have none yet (nodes this run created): one to
    each of ``r.targets`` for each of ``$rows``; ``$rel_props`` is set on all."""
    owner, other = link.owner.value, link.other.value
    new = (f"(a)-[e:{link.rel.value}]->(b)" if link.owner is link.source
           else f"(a)<-[e:{link.rel.value}]-(b)")
    return (f"UNWIND $rows AS r MATCH (a:{owner} {{id: r.id}}) "
            "UNWIND r.targets AS tid "
            f"MATCH (b:{other} {{id: tid}}) "
            f"CREATE {new} "
            "SET e.run_id = $run_id, e += $rel_props")


@cypher_builder
def existing_ids(label: Label) -> str:
    """Which of ``$ids`` exist as nodes of a label."""
    return f"UNWIND $ids AS id MATCH (n:{label.value} {{id: id}}) RETURN n.id AS id"


#: The names behind the ids of a compact FalkorDB reply, in id order (``graph/falkor.py``
#: reads them again whenever the graph's schema version is not the one they were read at).
SCHEMA_LABELS = "CALL db.labels() YIELD label RETURN label"
#: The cheapest statement: the server checks the schema version it is sent with.
SCHEMA_PROBE = "RETURN 0 AS probe"
SCHEMA_PROPERTY_KEYS = "CALL db.propertyKeys() YIELD propertyKey RETURN propertyKey"
SCHEMA_RELATIONSHIP_TYPES = (
    "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType"
)

UPSERT_RUN = "MERGE (r:IngestRun {id: $id}) SET r += $props"

RUN_NODE = "MATCH (r:IngestRun {id: $id}) RETURN r {.*} AS props"

#: What the graph holds about sites about to be reloaded (ODS): compared to report changes.
SITE_STATES = (
    "UNWIND $ids AS id MATCH (t:Site {id: id}) "
    "OPTIONAL MATCH (t)-[:PART_OF]->(p:Site) "
    "RETURN t.id AS id, t.name AS name, t.kind AS kind, t.postcode AS postcode, "
    "t.close_date AS close_date, t.lat AS lat, t.lon AS lon, p.id AS parent_id"
)

#: The run before ``$id``: whether it got as far as resolving solutions (a run killed
#: earlier leaves initiatives written but never resolved).
PREVIOUS_RUN = (
    "MATCH (r:IngestRun) WHERE r.id <> $id "
    "RETURN r.id AS id, r.resolved AS resolved, r.public_in_step AS public_in_step "
    "ORDER BY r.started_at DESC LIMIT 1"
)

#: Runs other than ``$id`` that stopped or failed before all their rows were written: the
#: row hashes they wrote are not trusted (a row may have been created without all its
#: links). A run that failed in a later step (``rows_written``) wrote them whole.
UNFINISHED_RUNS = (
    "MATCH (r:IngestRun) WHERE r.id <> $id AND coalesce(r.status, '') <> 'completed' "
    "AND coalesce(r.rows_written, false) = false "
    "RETURN r.id AS id"
)

#: Whether the graph has any node (a fresh graph's public copy starts empty).
ANY_NODE = "MATCH (n) RETURN n.id AS id LIMIT 1"


@cypher_builder
def any_node(label: Label) -> str:
    """One node of a label, if there is any."""
    return f"MATCH (n:{label.value}) RETURN n.id AS id LIMIT 1"


@cypher_builder
def names_by_ids(label: Label) -> str:
    """What people call the nodes of a label with the ids in ``$ids`` (name, title or
    measure), and whether each is illustrative."""
    return (f"UNWIND $ids AS x MATCH (n:{label.value} {{id: x}}) "
            "RETURN n.id AS id, coalesce(n.name, n.title, n.measure, n.id) AS name, "
            "n.illustrative AS illustrative")

# --- export and stats --------------------------------------------------------

#: Reference columns per label, from the interchange models (column, link).
_EXPORT_COLUMNS: dict[Label, tuple[tuple[str, Link], ...]] = {}


def _export_columns() -> None:
    from triedbefore.ontology.models import ROW_TYPES

    for row_type in ROW_TYPES:
        _EXPORT_COLUMNS[row_type.LABEL] = tuple(
            (ref.column, link) for ref in row_type.REFERENCES for link in ref.links
        )


_export_columns()


@cypher_builder
def export_page(label: Label) -> str:
    """Nodes with the given ``$ids``, with the ids of every reference column."""
    comprehensions = []
    # Each comprehension gets its own variables: FalkorDB confuses reused ones.
    for i, (_column, link) in enumerate(_EXPORT_COLUMNS.get(label, ())):
        if link.owner is link.source:
            pattern = f"(n)-[e{i}:{link.rel.value}]->(m{i}:{link.other.value})"
        else:
            pattern = f"(n)<-[e{i}:{link.rel.value}]-(m{i}:{link.other.value})"
        comprehensions.append(
            f", [{pattern} WHERE coalesce(e{i}.how, 'declared') = 'declared' | m{i}.id]"
            f" AS {link.name.lower()}"
        )
    return (f"UNWIND $ids AS id MATCH (n:{label.value} {{id: id}}) "
            "RETURN n {.*} AS props" + "".join(comprehensions))


@cypher_builder
def all_ids(label: Label) -> str:
    return f"MATCH (n:{label.value}) RETURN n.id AS id"


@cypher_builder
def count_nodes(label: Label) -> str:
    return f"MATCH (n:{label.value}) RETURN count(n) AS n"


@cypher_builder
def count_links(link: Link) -> str:
    return (f"MATCH (:{link.source.value})-[e:{link.rel.value}]->(:{link.target.value}) "
            "RETURN count(e) AS n")


LATEST_RUNS = (
    "MATCH (r:IngestRun) RETURN r {.*} AS run ORDER BY r.started_at DESC LIMIT $limit"
)


@cypher_builder
def property_keys(label: Label) -> str:
    """Every property name used on nodes of a label."""
    return f"MATCH (n:{label.value}) UNWIND keys(n) AS k RETURN DISTINCT k AS key ORDER BY key"


@cypher_builder
def export_links(link: Link) -> str:
    """Every link of one kind with its properties, in a stable order."""
    return (f"MATCH (a:{link.source.value})-[e:{link.rel.value}]->(b:{link.target.value}) "
            "RETURN a.id AS source, b.id AS target, e {.*} AS props ORDER BY source, target")

DELETE_SOME = (
    "MATCH (n) WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS deleted"
)

# --- explorer ----------------------------------------------------------------


# --- analytics -----------------------------------------------------------------
# ``$counted``: the IMPLEMENTS kinds that make an initiative part of a solution
# (declared, inferred, accepted); suggestions and rejections do not.

SOLUTION_EVIDENCE = (
    "MATCH (s:Solution {id: $id})<-[l:IMPLEMENTS]-(:Initiative)<-[:EVALUATED]-(e:Evaluation) "
    "WHERE l.how IN $counted "
    "WITH DISTINCT e "
    "MATCH (e)-[:EVALUATED]->(j:Initiative) "
    "WITH e, collect(j.id) AS initiatives "
    "RETURN e.id AS id, e.finding AS finding, e.sms_effective AS level, "
    "e.published_date_hi AS published_hi, e.independent AS independent, initiatives, "
    "[(e)-[:INCLUDES]->(x:Evaluation) | x.id] AS includes"
)


# The evaluations listed on the sides of a verdict, in the order of $ids.
EVALUATION_SUMMARIES = (
    "UNWIND $ids AS id MATCH (e:Evaluation {id: id}) "
    "RETURN e.id AS id, e.title AS title, e.design AS design, e.sms_effective AS level, "
    "e.finding AS finding, e.published_date AS published_date, "
    "e.independent AS independent, e.illustrative AS illustrative"
)

# The distinct sites of the given solutions, for those tried at $min_sites or more.
SOLUTION_SITES = (
    "UNWIND $ids AS sid "
    "MATCH (s:Solution {id: sid})<-[l:IMPLEMENTS]-(:Initiative)-[:TRIED_AT]->(t:Site) "
    "WHERE l.how IN $counted "
    "WITH sid, collect(DISTINCT t.id) AS sites "
    "WHERE size(sites) >= $min_sites "
    "RETURN sid AS solution_id, sites ORDER BY solution_id"
)

SOLUTION_EXISTS = "MATCH (s:Solution {id: $id}) RETURN s.id AS id, s.name AS name"

MEASURE_OUTCOMES = (
    "MATCH (i:Initiative)-[:HAS_OUTCOME]->(o:Outcome {measure_key: $key}) "
    "OPTIONAL MATCH (i)-[:TRIED_AT]->(t:Site) "
    "RETURN o.id AS outcome_id, i.id AS initiative_id, o.baseline AS baseline, "
    "o.value AS value, o.direction AS direction, o.unit AS unit, "
    "o.illustrative AS illustrative, collect(t.id) AS sites ORDER BY outcome_id"
)

MEASURES = (
    "MATCH (o:Outcome) RETURN o.measure_key AS key, min(o.measure) AS measure, "
    "count(o) AS outcomes ORDER BY outcomes DESC, key"
)

# --- solution resolution -----------------------------------------------------------

SOLUTION_TEXTS = (
    "MATCH (s:Solution) RETURN s.id AS id, s.name AS name, s.aliases AS aliases, "
    "s.description AS description, s.problem AS problem, s.tags AS tags ORDER BY id"
)

SOLUTIONS_VERSION = (
    "MATCH (s:Solution) RETURN count(s) AS n, max(s.run_id) AS run, "
    "max(s.row_hash) AS digest"
)


SET_RESOLUTION = (
    "UNWIND $rows AS r MATCH (i:Initiative {id: r.id}) "
    "OPTIONAL MATCH (i)-[old:IMPLEMENTS]->(:Solution) "
    "WHERE old.how IN ['inferred', 'suggested'] "
    "DELETE old "
    "WITH DISTINCT i, r "
    "UNWIND r.solutions AS sid "
    "MATCH (s:Solution {id: sid}) "
    "MERGE (i)-[e:IMPLEMENTS]->(s) "
    "SET e.how = r.how, e.score = r.score, e.run_id = $run_id"
)

DROP_SHADOWED_LINKS = (
    "MATCH (i:Initiative)-[:IMPLEMENTS {how: 'declared'}]->(:Solution) "
    "MATCH (i)-[old:IMPLEMENTS]->(:Solution) WHERE old.how IN ['inferred', 'suggested'] "
    "DELETE old RETURN count(old) AS dropped"
)

DECIDE_LINK = (
    "MATCH (i:Initiative {id: $initiative_id}), (s:Solution {id: $solution_id}) "
    "MERGE (i)-[e:IMPLEMENTS]->(s) "
    "SET e.how = $how, e.decided_by = $who, e.decided_at = $at, e.run_id = $run_id "
    "RETURN e.how AS how"
)

DROP_OTHER_PROPOSALS = (
    "MATCH (i:Initiative {id: $initiative_id})-[old:IMPLEMENTS]->(s:Solution) "
    "WHERE old.how IN ['inferred', 'suggested'] AND s.id <> $solution_id "
    "DELETE old"
)

INITIATIVE_EXISTS = "MATCH (i:Initiative {id: $id}) RETURN i.id AS id, i.title AS title"

UNRESOLVED_BY_IDS = (
    "UNWIND $ids AS id MATCH (i:Initiative {id: id}) "
    "OPTIONAL MATCH (i)-[d:IMPLEMENTS]->(:Solution) WHERE d.how = 'declared' "
    "WITH i, count(d) AS declared WHERE declared = 0 "
    "RETURN i.id AS id, i.title AS title, i.description AS description, "
    "[(i)-[l:IMPLEMENTS]->(s:Solution) | {solution_id: s.id, how: l.how, score: l.score}] "
    "AS links"
)

DROP_SHADOWED_BY_IDS = (
    "UNWIND $ids AS id MATCH (i:Initiative {id: id})-[old:IMPLEMENTS]->(:Solution) "
    "WHERE old.how IN ['inferred', 'suggested'] DELETE old"
)

# --- explorer pages ------------------------------------------------------------------
# Each pattern comprehension has its own variable names: FalkorDB confuses reused ones.

SOLUTIONS_LIST = (
    "MATCH (s:Solution) "
    "OPTIONAL MATCH (s)<-[l:IMPLEMENTS]-(i:Initiative) WHERE l.how IN $counted "
    "RETURN s.id AS id, s.name AS name, s.intervention_type AS intervention_type, "
    "s.technology AS technology, s.illustrative AS illustrative, "
    "count(DISTINCT i) AS initiatives ORDER BY name, id"
)

SOLUTION_NODE = "MATCH (s:Solution {id: $id}) RETURN s {.*} AS solution"

# "As of $when" (a day number), in Cypher: the rule of graph/asof.py (an initiative `i`
# started, an evaluation `e` published, an outcome `o` measured by then).
_STARTED_BY = "(i.start_date_lo IS NULL OR i.start_date_lo <= $when) "
_PUBLISHED_BY = "e.published_date_hi <= $when "
_MEASURED_BY = "coalesce(o.period_end_hi, o.period_start_hi, $when) <= $when "

# The solution page reads one page of each of its tables ($skip, $limit), in a stable
# order; "as of" filters sit after a WITH, so that the traversal from the solution stays
# the plan.
_ATTEMPTS_BY = (
    "MATCH (s:Solution {id: $id})<-[l:IMPLEMENTS]-(i:Initiative) WHERE l.how IN $counted "
    "WITH i, l WHERE " + _STARTED_BY
)

SOLUTION_ATTEMPTS = (
    _ATTEMPTS_BY
    + "WITH i, l ORDER BY i.start_date_lo, i.id SKIP $skip LIMIT $limit "
    "OPTIONAL MATCH (i)-[:TRIED_AT]->(t:Site) "
    "RETURN i.id AS id, i.title AS title, i.start_date AS start_date, "
    "i.start_date_lo AS start_lo, i.end_date AS end_date, i.status AS status, "
    "i.visibility AS visibility, l.how AS how, l.score AS score, "
    "i.illustrative AS illustrative, "
    "collect(t {.id, .name, .kind, .region, .lat, .lon}) AS sites ORDER BY start_lo, id"
)

# How many attempts, and the distinct sites they were tried at (one traversal for both).
SOLUTION_ATTEMPT_SITES = (
    _ATTEMPTS_BY
    + "OPTIONAL MATCH (i)-[:TRIED_AT]->(t:Site) "
    "RETURN count(DISTINCT i) AS total, collect(DISTINCT t.id) AS ids"
)

# Every $step-th dated attempt, oldest first (the timeline's sample).
SOLUTION_ATTEMPT_SAMPLE = (
    _ATTEMPTS_BY
    + "WITH i WHERE i.start_date_lo IS NOT NULL "
    "WITH i ORDER BY i.start_date_lo, i.id "
    "WITH collect(i {.id, .title, .start_date, start_lo: i.start_date_lo}) AS dated "
    "RETURN [k IN range(0, size(dated) - 1, $step) | dated[k]] AS sample"
)

SITE_POINTS = (
    "MATCH (t:Site) RETURN t.id AS id, t.name AS name, t.kind AS kind, t.region AS region, "
    "t.lat AS lat, t.lon AS lon, t.visibility AS visibility"
)

INITIATIVE_POINTS = (
    "UNWIND $ids AS iid MATCH (i:Initiative {id: iid}) "
    "RETURN i.id AS id, i.title AS title, i.start_date AS start_date, "
    "i.start_date_lo AS start_lo ORDER BY start_lo, id"
)

SOLUTION_EVALUATIONS = (
    "MATCH (s:Solution {id: $id})<-[l:IMPLEMENTS]-(:Initiative)<-[:EVALUATED]-(e:Evaluation) "
    "WHERE l.how IN $counted "
    "WITH DISTINCT e WHERE " + _PUBLISHED_BY
    + "WITH e ORDER BY e.published_date_hi, e.id SKIP $skip LIMIT $limit "
    "RETURN e.id AS id, e.title AS title, e.design AS design, "
    "e.sms_effective AS level, e.independent AS independent, e.finding AS finding, "
    "e.published_date AS published_date, e.published_date_hi AS published_hi, "
    "e.url AS url, e.doi AS doi, e.evaluator AS evaluator, e.illustrative AS illustrative "
    "ORDER BY published_hi, id"
)

# What the attempts at each of the solutions $ids cost, as of $when: by funder (as
# written), how many attempts and the costs of those that reported one (collect skips
# the empty ones).
SOLUTION_COSTS = (
    "UNWIND $ids AS sid "
    "MATCH (s:Solution {id: sid})<-[l:IMPLEMENTS]-(i:Initiative) WHERE l.how IN $counted "
    "WITH DISTINCT sid, i WHERE " + _STARTED_BY
    + "RETURN sid AS solution_id, i.funder AS funder, count(i) AS attempts, "
    "collect(i.cost_gbp) AS costs ORDER BY solution_id, funder"
)

# The economic results (cost per QALY, net cost per patient) of a solution's
# evaluations published by $when.
SOLUTION_ECONOMICS = (
    "MATCH (s:Solution {id: $id})<-[l:IMPLEMENTS]-(:Initiative)<-[:EVALUATED]-(e:Evaluation) "
    "WHERE l.how IN $counted "
    "WITH DISTINCT e WHERE " + _PUBLISHED_BY
    + "AND (e.cost_per_qaly_gbp IS NOT NULL OR e.net_cost_per_patient_gbp IS NOT NULL) "
    "RETURN e.id AS id, e.title AS title, e.design AS design, e.finding AS finding, "
    "e.published_date AS published_date, e.cost_per_qaly_gbp AS cost_per_qaly_gbp, "
    "e.net_cost_per_patient_gbp AS net_cost_per_patient_gbp, e.price_year AS price_year, "
    "e.published_date_hi AS published_hi, e.illustrative AS illustrative "
    "ORDER BY published_hi, id"
)

# A solution's evaluations published by $when, each with the evaluations it includes
# (a systematic review's included studies), for the evidence matrix.
SOLUTION_INCLUSIONS = (
    "MATCH (s:Solution {id: $id})<-[l:IMPLEMENTS]-(:Initiative)<-[:EVALUATED]-(e:Evaluation) "
    "WHERE l.how IN $counted "
    "WITH DISTINCT e WHERE " + _PUBLISHED_BY
    + "RETURN e.id AS id, e.title AS title, e.design AS design, e.sms_effective AS level, "
    "e.finding AS finding, e.published_date AS published_date, "
    "e.published_date_hi AS published_hi, e.independent AS independent, "
    "e.illustrative AS illustrative, "
    "[(e)-[:INCLUDES]->(x:Evaluation) | x {.id, .title, .design, level: x.sms_effective, "
    ".finding, .published_date, published_hi: x.published_date_hi, .independent, "
    ".illustrative}] AS includes ORDER BY published_hi, id"
)

# Outcomes as of $when: of initiatives started by then, measured by then.
_OUTCOMES_BY = (
    "MATCH (s:Solution {id: $id})<-[l:IMPLEMENTS]-(i:Initiative)-[:HAS_OUTCOME]->(o:Outcome) "
    "WHERE l.how IN $counted "
    "WITH i, o WHERE " + _STARTED_BY + "AND " + _MEASURED_BY
)

SOLUTION_OUTCOME_COUNT = _OUTCOMES_BY + "RETURN count(o) AS total"

SOLUTION_OUTCOMES = (
    _OUTCOMES_BY
    + "WITH i, o ORDER BY o.measure, o.id SKIP $skip LIMIT $limit "
    "RETURN o.id AS id, i.id AS initiative_id, o.measure AS measure, o.domain AS domain, "
    "o.baseline AS baseline, o.value AS value, o.unit AS unit, o.direction AS direction, "
    "i.title AS initiative, o.illustrative AS illustrative "
    "ORDER BY measure, id"
)

# A solution's outcomes measured in money (a unit starting with the currency's code, in
# any case, or its sign), every one, for its costs beside the verdict. (FalkorDB 4.16
# answers no row when a list predicate, any(p IN $list WHERE ...), reads a variable
# passed on by WITH: two plain tests instead.)
SOLUTION_MONEY_OUTCOMES = (
    _OUTCOMES_BY
    + "AND (toUpper(o.unit) STARTS WITH $money_code OR o.unit STARTS WITH $money_sign) "
    "RETURN o.id AS id, i.id AS initiative_id, o.measure AS measure, o.baseline AS baseline, "
    "o.value AS value, o.unit AS unit, o.direction AS direction, i.title AS initiative, "
    "o.illustrative AS illustrative "
    "ORDER BY measure, id"
)

# The first start of each solution's initiatives (a solution is knowable from then on).
SOLUTION_FIRST_STARTS = (
    "MATCH (s:Solution)<-[l:IMPLEMENTS]-(i:Initiative) WHERE l.how IN $counted "
    "AND i.start_date_lo IS NOT NULL "
    "RETURN s.id AS id, min(i.start_date_lo) AS first_start"
)

INITIATIVE_DETAIL = (
    "MATCH (i:Initiative {id: $id}) "
    "RETURN i {.*} AS initiative, "
    "[(i)-[l1:IMPLEMENTS]->(s1:Solution) | {id: s1.id, name: s1.name, how: l1.how, "
    "score: l1.score}] AS solutions, "
    "[(i)-[:TRIED_AT]->(t2:Site) | t2 {.id, .name, .kind, .region, .lat, .lon, "
    ".illustrative}] AS sites, "
    "[(i)-[:HAS_OUTCOME]->(o3:Outcome) | o3 {.id, .measure, .domain, .baseline, .value, "
    ".unit, .direction, .illustrative}] AS outcomes, "
    "[(e4:Evaluation)-[:EVALUATED]->(i) | e4 {.id, .title, .design, .finding, "
    ".published_date, .sms_effective, .illustrative}] AS evaluations, "
    "[(i)-[:LEARNED_FROM]->(x5) | {id: x5.id, title: coalesce(x5.title, x5.id), "
    "kind: labels(x5)[0]}] AS learned_from"
)

EVALUATION_DETAIL = (
    "MATCH (e:Evaluation {id: $id}) "
    "RETURN e {.*} AS evaluation, "
    "[(e)-[:EVALUATED]->(i1:Initiative) | i1 {.id, .title, .start_date, .illustrative}] "
    "AS initiatives, "
    "[(e)-[:EVALUATED]->(:Initiative)-[l2:IMPLEMENTS]->(s2:Solution) "
    "WHERE l2.how IN $counted | {id: s2.id, name: s2.name}] AS solutions, "
    "[(e)-[:REPORTS]->(o3:Outcome) | o3 {.id, .measure, .domain, .baseline, .value, .unit, "
    ".direction, .illustrative}] AS outcomes, "
    "[(e)-[:INCLUDES]->(x4:Evaluation) | x4 {.id, .title, .published_date, .illustrative}] "
    "AS includes, "
    "[(e)<-[:INCLUDES]-(x5:Evaluation) | x5 {.id, .title, .published_date, .illustrative}] "
    "AS included_in"
)

SITE_DETAIL = (
    "MATCH (t:Site {id: $id}) "
    "RETURN t {.*} AS site, "
    "[(t)-[:PART_OF]->(p1:Site) | p1 {.id, .name, .kind}] AS parents, "
    "[(c2:Site)-[:PART_OF]->(t) | c2 {.id, .name, .kind}] AS children"
)

SITE_INITIATIVES = (
    "MATCH (t:Site {id: $id})<-[:TRIED_AT]-(i:Initiative) "
    "OPTIONAL MATCH (i)-[l:IMPLEMENTS]->(s:Solution) WHERE l.how IN $counted "
    "RETURN i.id AS id, i.title AS title, i.start_date AS start_date, i.status AS status, "
    "i.illustrative AS illustrative, s.id AS solution_id, s.name AS solution "
    "ORDER BY start_date, id"
)

SITE_OUTCOMES = (
    "MATCH (t:Site {id: $id})<-[:TRIED_AT]-(i:Initiative)-[:HAS_OUTCOME]->(o:Outcome) "
    "RETURN o.id AS id, i.id AS initiative_id, o.measure AS measure, "
    "o.measure_key AS measure_key, o.baseline AS baseline, o.value AS value, "
    "o.unit AS unit, o.direction AS direction, o.illustrative AS illustrative "
    "ORDER BY measure, id"
)

# Roll-ups over the organisation hierarchy (Site-PART_OF->Site: practice → sub-ICB
# location → ICB → NHS England region).

SOLUTION_SITE_ROLLUP = (
    "MATCH (s:Solution {id: $id})<-[l:IMPLEMENTS]-(:Initiative)-[:TRIED_AT]->(t:Site) "
    "WHERE l.how IN $counted "
    "WITH DISTINCT t "
    "OPTIONAL MATCH (t)-[:PART_OF*1..4]->(a:Site) "
    "WHERE a.kind IN ['icb', 'nhs_region', 'local_health_board', 'nhs_nation'] "
    "RETURN t.id AS id, t.kind AS kind, t.name AS name, "
    "collect(DISTINCT a {.id, .kind, .name}) AS ancestors ORDER BY id"
)

# Every site with its ICB and region above it: the solution page's roll-up, read once.
SITES_WITH_ANCESTORS = (
    "MATCH (t:Site) "
    "OPTIONAL MATCH (t)-[:PART_OF*1..4]->(a:Site) "
    "WHERE a.kind IN ['icb', 'nhs_region', 'local_health_board', 'nhs_nation'] "
    "RETURN t.id AS id, t.kind AS kind, t.name AS name, "
    "collect(DISTINCT a {.id, .kind, .name}) AS ancestors"
)

SITE_ANCESTORS = (
    "MATCH (t:Site {id: $id})-[:PART_OF*1..4]->(a:Site) "
    "RETURN a.id AS id, a.name AS name, a.kind AS kind"
)

SITE_DESCENDANT_KINDS = (
    "MATCH (t:Site {id: $id})<-[:PART_OF*1..3]-(d:Site) "
    "RETURN d.kind AS kind, count(DISTINCT d) AS n ORDER BY kind"
)

SITE_DESCENDANTS_TRIED = (
    "MATCH (t:Site {id: $id})<-[:PART_OF*1..3]-(d:Site)<-[:TRIED_AT]-(i:Initiative) "
    "RETURN d.id AS id, d.kind AS kind, d.name AS name, count(DISTINCT i) AS initiatives, "
    "collect(DISTINCT i.id) AS initiative_ids ORDER BY id"
)

#: The ICBs each of ``$ids`` (initiatives) rolls up to: its sites' ICB ancestors, or the
#: sites themselves when they are ICBs (the search facet "icb").
INITIATIVE_ICBS = (
    "UNWIND $ids AS id MATCH (i:Initiative {id: id})-[:TRIED_AT]->(t:Site) "
    "OPTIONAL MATCH (t)-[:PART_OF*1..3]->(a:Site) "
    "WHERE a.kind IN ['icb', 'local_health_board'] "
    "RETURN id, t.kind AS kind, t.name AS name, collect(DISTINCT a.name) AS icbs"
)

@cypher_builder
def names_of(label: Label) -> str:
    """The name (or title) of each node of ``label`` among ``$ids``, and whether it is
    illustrative: what a page shows in place of an id."""
    return (f"UNWIND $ids AS id MATCH (n:{label.value} {{id: id}}) "
            "RETURN n.id AS id, coalesce(n.name, n.title) AS name, "
            "n.illustrative AS illustrative")


@cypher_builder
def citations_of(label: Label) -> str:
    """How people cite each node of ``label`` among ``$ids``: its title, DOI and web
    address (the proposal check's test of whether a proposal cites the evidence)."""
    return (f"UNWIND $ids AS id MATCH (n:{label.value} {{id: id}}) "
            "RETURN n.id AS id, n.title AS title, n.doi AS doi, n.url AS url")


#: How many records are marked illustrative (the explorer then says so on every page).
ILLUSTRATIVE_COUNT = (
    "MATCH (n) WHERE n.illustrative = true RETURN count(n) AS n"
)

GAP_MAP = (
    "MATCH (s:Solution)<-[l:IMPLEMENTS]-(:Initiative)<-[:EVALUATED]-(e:Evaluation) "
    "WHERE l.how IN $counted "
    "OPTIONAL MATCH (e)-[:REPORTS]->(o:Outcome) "
    "RETURN s.id AS solution_id, s.name AS name, s.intervention_type AS intervention_type, "
    "e.id AS evaluation_id, e.title AS title, e.design AS design, e.finding AS finding, "
    "e.published_date AS published_date, collect(DISTINCT o.domain) AS domains"
)

# How many attempts at each solution reported a cost (the gap map's cost colouring).
SOLUTION_COST_COUNTS = (
    "MATCH (s:Solution)<-[l:IMPLEMENTS]-(i:Initiative) "
    "WHERE l.how IN $counted AND i.cost_gbp IS NOT NULL "
    "RETURN s.id AS solution_id, count(DISTINCT i) AS reported"
)

SOLUTION_FACETS = (
    "UNWIND $ids AS id MATCH (s:Solution {id: id}) "
    "RETURN s.id AS id, s.name AS name, s.intervention_type AS intervention_type, "
    "s.technology AS technology, s.description AS description"
)

#: What search shows of each evaluation it lists besides its title: its finding; and the
#: initiatives it evaluated, whose places and solutions are its facets.
EVALUATION_FINDINGS = (
    "UNWIND $ids AS id MATCH (e:Evaluation {id: id}) "
    "RETURN e.id AS id, e.finding AS finding, "
    "[(e)-[:EVALUATED]->(i:Initiative) | i.id] AS initiatives"
)

INITIATIVE_FACETS = (
    "UNWIND $ids AS id MATCH (i:Initiative {id: id}) "
    "RETURN i.id AS id, i.title AS title, i.start_date AS start_date, "
    "[(i)-[:TRIED_AT]->(t1:Site) | t1.region] AS regions, "
    "[(i)-[:TRIED_AT]->(t2:Site) | t2.kind] AS kinds, "
    "[(i)-[l3:IMPLEMENTS]->(s3:Solution) WHERE l3.how IN $counted | s3.id] AS solutions"
)

# The graph's version: one node whose counter every write through the ingest entry point
# increases (on the graph, then the same value on its public copy), so that every process
# reading either knows when its cached whole-graph answers are stale.
GRAPH_VERSION = (
    "OPTIONAL MATCH (v:GraphVersion {id: 'graph'}) "
    "RETURN v.version AS version, v.run_id AS run_id, v.changed_at AS changed_at"
)

BUMP_GRAPH_VERSION = (
    "MERGE (v:GraphVersion {id: 'graph'}) "
    "SET v.version = coalesce(v.version, 0) + 1, v.run_id = $run_id, v.changed_at = $at "
    "RETURN v.version AS version"
)

SET_GRAPH_VERSION = (
    "MERGE (v:GraphVersion {id: 'graph'}) "
    "SET v.version = $version, v.run_id = $run_id, v.changed_at = $at"
)

# --- graph view ----------------------------------------------------------------------
# ``$hidden``: the visibility values the reader may not see (e.g. ['restricted']); a
# node without ``visibility`` is public.


@cypher_builder
def neighbourhood(label: Label) -> str:
    """The node of ``label`` with id ``$id`` and up to ``$limit`` of its neighbours (one
    hop, any relationship, either direction), ordered by relationship type, neighbour label
    and id. One row per relationship; a node without visible neighbours gives one row whose
    neighbour columns are null, an unknown or hidden node gives none. ``direction`` is
    ``out`` when the node is the relationship's start."""
    if label is Label.INGEST_RUN:
        raise ValueError("ingest runs are not part of the explorable graph")
    return (
        f"MATCH (n:{label.value} {{id: $id}}) "
        "WHERE NOT coalesce(n.visibility, 'public') IN $hidden "
        "OPTIONAL MATCH (n)-[r]-(m) "
        "WHERE NOT coalesce(m.visibility, 'public') IN $hidden "
        "RETURN coalesce(n.name, n.title, n.measure, n.id) AS center_name, "
        "labels(m)[0] AS neighbour_label, m.id AS neighbour_id, "
        "coalesce(m.name, m.title, m.measure, m.id) AS neighbour_name, "
        "type(r) AS rel_type, r.how AS rel_how, "
        "CASE WHEN startNode(r) = n THEN 'out' ELSE 'in' END AS direction "
        "ORDER BY rel_type, neighbour_label, neighbour_id LIMIT $limit"
    )


@cypher_builder
def neighbourhood_size(label: Label) -> str:
    """How many relationships join the node of ``label`` with id ``$id`` to visible
    neighbours (see ``neighbourhood``)."""
    if label is Label.INGEST_RUN:
        raise ValueError("ingest runs are not part of the explorable graph")
    return (
        f"MATCH (n:{label.value} {{id: $id}})-[r]-(m) "
        "WHERE NOT coalesce(m.visibility, 'public') IN $hidden "
        "RETURN count(r) AS n"
    )

# --- the public-only copy (graph/store.py) ---------------------------------------------
# The copy of the graph anonymous readers use: its visible nodes and links, copied.

@cypher_builder
def visible_node_ids(label: Label) -> str:
    """The ids of a label's nodes whose visibility is not in ``$hidden``."""
    return (f"MATCH (n:{label.value}) WHERE NOT coalesce(n.visibility, 'public') IN $hidden "
            "RETURN n.id AS id")


@cypher_builder
def nodes_by_ids(label: Label) -> str:
    """The properties of a label's nodes with the ids in ``$ids``."""
    return f"UNWIND $ids AS x MATCH (n:{label.value} {{id: x}}) RETURN n {{.*}} AS props"


@cypher_builder
def visible_links_from(link: Link) -> str:
    """The links of one kind from the source nodes with the ids in ``$ids`` to visible
    nodes, with their properties."""
    # (The WITH keeps the plan starting from the sources found by id: when both ends
    # have the same label the engine may otherwise scan from the far end.)
    return (f"UNWIND $ids AS x MATCH (a:{link.source.value} {{id: x}}) "
            f"WITH a MATCH (a)-[e:{link.rel.value}]->(b:{link.target.value}) "
            "WHERE NOT coalesce(b.visibility, 'public') IN $hidden "
            "RETURN a.id AS source, b.id AS target, e {.*} AS props")


@cypher_builder
def visible_links_to(link: Link) -> str:
    """The links of one kind to the target nodes with the ids in ``$ids`` from visible
    nodes, with their properties."""
    return (f"UNWIND $ids AS x MATCH (b:{link.target.value} {{id: x}}) "
            f"WITH b MATCH (a:{link.source.value})-[e:{link.rel.value}]->(b) "
            "WHERE NOT coalesce(a.visibility, 'public') IN $hidden "
            "RETURN a.id AS source, b.id AS target, e {.*} AS props")


@cypher_builder
def delete_nodes_by_ids(label: Label) -> str:
    """Delete the nodes of a label with the ids in ``$ids``, with their links."""
    return f"UNWIND $ids AS x MATCH (n:{label.value} {{id: x}}) DETACH DELETE n"


@cypher_builder
def replace_nodes(label: Label) -> str:
    """Write ``$rows`` = [{props}] as nodes of a label, replacing all their properties."""
    return (f"UNWIND $rows AS r MERGE (n:{label.value} {{id: r.props.id}}) "
            "SET n = r.props")


@cypher_builder
def merge_links(link: Link) -> str:
    """Write ``$rows`` = [{source, target, props}] as links of one kind, replacing the
    properties of those that exist."""
    return (f"UNWIND $rows AS r MATCH (a:{link.source.value} {{id: r.source}}) "
            f"MATCH (b:{link.target.value} {{id: r.target}}) "
            f"MERGE (a)-[e:{link.rel.value}]->(b) SET e = r.props")


@cypher_builder
def copy_nodes(label: Label) -> str:
    """Create ``$rows`` = [{props}] as new nodes of a label (the copy starts empty)."""
    return f"UNWIND $rows AS r CREATE (n:{label.value}) SET n = r.props"


@cypher_builder
def copy_links(link: Link) -> str:
    """Create ``$rows`` = [{source, target, props}] as new links of one kind (the copy
    starts empty)."""
    return (f"UNWIND $rows AS r MATCH (a:{link.source.value} {{id: r.source}}) "
            f"MATCH (b:{link.target.value} {{id: r.target}}) "
            f"CREATE (a)-[e:{link.rel.value}]->(b) SET e = r.props")


# --- query console (web/console.py) ---------------------------------------------------
# The schema sidebar; run read-only like the researchers' own statements.

CONSOLE_LABELS = "CALL db.labels() YIELD label RETURN label ORDER BY label"

CONSOLE_RELATIONSHIP_TYPES = (
    "CALL db.relationshipTypes() YIELD relationshipType "
    "RETURN relationshipType AS type ORDER BY type"
)


@cypher_builder
def console_label_keys(label: Label) -> str:
    """Property names found on a sample of ``$sample`` nodes of a label (a full scan per
    page view would cost too much on a large graph)."""
    return (f"MATCH (n:{label.value}) WITH n LIMIT $sample UNWIND keys(n) AS key "
            "RETURN DISTINCT key ORDER BY key")


# Example statements offered by the console (portable: Neo4j 5 and FalkorDB).

CONSOLE_EXAMPLE_SOLUTIONS = (
    "MATCH (s:Solution) "
    "OPTIONAL MATCH (s)<-[l:IMPLEMENTS]-(i:Initiative) "
    "WHERE l.how IN ['declared', 'inferred', 'accepted'] "
    "RETURN s.id AS solution, s.name AS name, count(DISTINCT i) AS initiatives "
    "ORDER BY initiatives DESC, solution"
)

CONSOLE_EXAMPLE_EVALUATIONS = (
    "MATCH (e:Evaluation)-[:EVALUATED]->(:Initiative)-[:IMPLEMENTS]->(s:Solution) "
    "RETURN DISTINCT s.name AS solution, e.id AS evaluation, e.design AS design, "
    "e.finding AS finding, e.published_date AS published ORDER BY solution, published"
)

CONSOLE_EXAMPLE_SITES = (
    "MATCH (i:Initiative)-[:TRIED_AT]->(t:Site) "
    "RETURN t.id AS site_id, t.name AS site, t.kind AS kind, count(DISTINCT i) AS initiatives "
    "ORDER BY initiatives DESC, site LIMIT 20"
)

CONSOLE_EXAMPLE_LINKS = (
    "MATCH (a)-[r]->(b) "
    "RETURN labels(a)[0] AS source, type(r) AS relationship, labels(b)[0] AS target, "
    "count(r) AS n ORDER BY n DESC, relationship"
)

CONSOLE_EXAMPLE_MEASURES = (
    "MATCH (i:Initiative)-[:HAS_OUTCOME]->(o:Outcome) "
    "RETURN o.measure AS measure, o.domain AS domain, count(DISTINCT i) AS initiatives "
    "ORDER BY initiatives DESC, measure"
)

CONSOLE_EXAMPLE_LEARNED_FROM = (
    "MATCH (i:Initiative)-[:LEARNED_FROM]->(x) "
    "RETURN i.id AS initiative, i.title AS title, labels(x)[0] AS cites, x.id AS cited_id "
    "ORDER BY initiative, cited_id"
)

SOLUTION_IDS = "MATCH (s:Solution) RETURN s.id AS id"

EVIDENCE_OF_SOLUTIONS = (
    "UNWIND $ids AS sid "
    "MATCH (s:Solution {id: sid})<-[l:IMPLEMENTS]-(:Initiative)<-[:EVALUATED]-(e:Evaluation) "
    "WHERE l.how IN $counted "
    "WITH DISTINCT sid, e "
    "MATCH (e)-[:EVALUATED]->(j:Initiative) "
    "WITH sid, e, collect(j.id) AS initiatives "
    "RETURN sid AS solution_id, e.id AS id, e.finding AS finding, e.sms_effective AS level, "
    "e.published_date_hi AS published_hi, e.independent AS independent, initiatives, "
    "[(e)-[:INCLUDES]->(x:Evaluation) | x.id] AS includes"
)

# The same evidence as the public copy holds it: without the evaluations and initiatives
# whose visibility is in $hidden. (The visibility filter comes after a WITH: in the MATCH,
# FalkorDB plans a scan of every evaluation for each solution, 50 times slower at 100k.)
VISIBLE_EVIDENCE_OF_SOLUTIONS = (
    "UNWIND $ids AS sid "
    "MATCH (s:Solution {id: sid})<-[l:IMPLEMENTS]-(i:Initiative)<-[:EVALUATED]-(e:Evaluation) "
    "WHERE l.how IN $counted "
    "WITH sid, i, e WHERE NOT coalesce(i.visibility, 'public') IN $hidden "
    "AND NOT coalesce(e.visibility, 'public') IN $hidden "
    "WITH DISTINCT sid, e "
    "MATCH (e)-[:EVALUATED]->(j:Initiative) "
    "WHERE NOT coalesce(j.visibility, 'public') IN $hidden "
    "WITH sid, e, collect(j.id) AS initiatives "
    "RETURN sid AS solution_id, e.id AS id, e.finding AS finding, e.sms_effective AS level, "
    "e.published_date_hi AS published_hi, e.independent AS independent, initiatives, "
    "[(e)-[:INCLUDES]->(x:Evaluation) WHERE NOT coalesce(x.visibility, 'public') IN $hidden "
    "| x.id] AS includes"
)

# $spans: [[solution id, after, until]]: the solution's initiatives that started in the
# span (after < start <= until; until null: no end); a solution's spans do not overlap.
# (The WITH keeps the start filter after the traversal: as a MATCH predicate FalkorDB
# plans it as a scan of every initiative.)
ATTEMPTS_OF_SOLUTIONS = (
    "UNWIND $spans AS span "
    "MATCH (s:Solution {id: span[0]})<-[l:IMPLEMENTS]-(i:Initiative) WHERE l.how IN $counted "
    "WITH span, l, i WHERE i.start_date_lo > span[1] "
    "AND (span[2] IS NULL OR i.start_date_lo <= span[2]) "
    "OPTIONAL MATCH (i)-[:LEARNED_FROM]->(x) "
    "RETURN i.id AS id, span[0] AS solution_id, i.start_date_lo AS start_lo, l.how AS how, "
    "collect(x.id) AS learned_from"
)

# declares_solution: set by ingest from the row's solution_id (counting every initiative's
# declared links instead takes minutes at a million initiatives).
UNRESOLVED_IDS = "MATCH (i:Initiative) WHERE i.declares_solution = false RETURN i.id AS id"

UNRESOLVED_PAGE = (
    "UNWIND $ids AS id MATCH (i:Initiative {id: id}) "
    "RETURN i.id AS id, i.title AS title, i.description AS description, "
    "[(i)-[l:IMPLEMENTS]->(s:Solution) | {solution_id: s.id, how: l.how, score: l.score}] "
    "AS links"
)

# --- candidate evaluations (ingest/sources/candidates.py) ------------------------------
# A Candidate is found for one solution (CANDIDATE_FOR); its status is proposed, accepted
# or rejected. Fetching writes only new and still-proposed candidates, so a curator's
# decision is never overwritten.

CANDIDATE_STATES = (
    "UNWIND $ids AS id MATCH (c:Candidate {id: id}) RETURN c.id AS id, c.status AS status"
)

# Only proposed candidates are rewritten: their properties become the connector's record
# (no nulls: FalkorDB 4.16 mishandles a SET that removes several properties).
UPSERT_CANDIDATES = (
    "UNWIND $rows AS r MATCH (s:Solution {id: r.solution_id}) "
    "MERGE (c:Candidate {id: r.id}) "
    "SET c = r.props, c.id = r.id, c.status = 'proposed', c.run_id = $run_id "
    "MERGE (c)-[e:CANDIDATE_FOR]->(s) "
    "ON CREATE SET e.run_id = $run_id"
)

EVALUATIONS_KNOWN = (
    "MATCH (e:Evaluation) "
    "WHERE e.id IN $ids OR (e.doi IS NOT NULL AND toLower(e.doi) IN $dois) "
    "RETURN e.id AS id, toLower(e.doi) AS doi"
)

CANDIDATES_LIST = (
    "MATCH (c:Candidate)-[:CANDIDATE_FOR]->(s:Solution) "
    "WHERE c.status IN $statuses "
    "RETURN c {.*} AS candidate, s.id AS solution_id, s.name AS solution_name"
)

CANDIDATE_NODE = (
    "MATCH (c:Candidate {id: $id})-[:CANDIDATE_FOR]->(s:Solution) "
    "RETURN c {.*} AS candidate, s.id AS solution_id, s.name AS solution_name"
)

DECIDE_CANDIDATE = (
    "MATCH (c:Candidate {id: $id}) "
    "SET c.status = $status, c.decided_by = $who, c.decided_at = $at, "
    "c.evaluation_id = $evaluation_id "
    "RETURN c.status AS status"
)

EVALUATION_INITIATIVES = (
    "MATCH (e:Evaluation {id: $id})-[:EVALUATED]->(i:Initiative) RETURN i.id AS id"
)

SOLUTION_INITIATIVES = (
    "MATCH (s:Solution {id: $id})<-[l:IMPLEMENTS]-(i:Initiative) WHERE l.how IN $counted "
    "RETURN DISTINCT i.id AS id, i.title AS title ORDER BY id"
)

# --- the proposal check (graph/search.py) ------------------------------------------------

#: The most recent ``$limit`` initiatives of a solution started by ``$when`` (or undated).
CHECK_SOLUTION_INITIATIVES = (
    "MATCH (s:Solution {id: $id})<-[l:IMPLEMENTS]-(i:Initiative) WHERE l.how IN $counted "
    "WITH DISTINCT i WHERE i.start_date_lo IS NULL OR i.start_date_lo <= $when "
    "WITH i ORDER BY i.start_date_lo DESC, i.id LIMIT $limit "
    "RETURN i.id AS id"
)

#: What the check shows of each of ``$ids`` (initiatives): dates, status, sites, the
#: solutions it is counted for and what it learned from (for the zombie rule).
CHECK_INITIATIVES = (
    "UNWIND $ids AS id MATCH (i:Initiative {id: id}) "
    "RETURN i.id AS id, i.title AS title, i.description AS description, "
    "i.start_date AS start_date, i.start_date_lo AS start_lo, i.end_date AS end_date, "
    "i.status AS status, i.illustrative AS illustrative, "
    "[(i)-[:TRIED_AT]->(t1:Site) | t1 {.id, .name, .kind, .region}] AS sites, "
    "[(i)-[l2:IMPLEMENTS]->(s2:Solution) WHERE l2.how IN $counted | {id: s2.id, how: l2.how}] "
    "AS solutions, "
    "[(i)-[:LEARNED_FROM]->(x3) | x3.id] AS learned_from"
)

#: Each of ``$ids`` (sites) with the sites above it (sub-ICB location, ICB, NHS region).
SITE_CHAINS = (
    "UNWIND $ids AS id MATCH (t:Site {id: id}) "
    "OPTIONAL MATCH (t)-[:PART_OF*1..4]->(a:Site) "
    "RETURN t.id AS id, t.name AS name, t.kind AS kind, t.region AS region, "
    "collect(DISTINCT a {.id, .kind, .name}) AS ancestors"
)

# --- living evidence: verdict changes and watches (graph/changes.py) ---------------------

SOLUTIONS_OF_INITIATIVES = (
    "UNWIND $ids AS id MATCH (i:Initiative {id: id})-[l:IMPLEMENTS]->(s:Solution) "
    "WHERE l.how IN $counted RETURN DISTINCT s.id AS id"
)

SOLUTIONS_OF_EVALUATIONS = (
    "UNWIND $ids AS id "
    "MATCH (e:Evaluation {id: id})-[:EVALUATED]->(:Initiative)-[l:IMPLEMENTS]->(s:Solution) "
    "WHERE l.how IN $counted RETURN DISTINCT s.id AS id"
)

RECORDED_VERDICTS = (
    "UNWIND $ids AS id MATCH (s:Solution {id: id}) "
    "RETURN s.id AS id, s.name AS name, s.intervention_type AS intervention_type, "
    "s.verdict AS verdict, s.verdict_strength AS strength, "
    "s.public_verdict AS public_verdict, s.public_verdict_strength AS public_strength"
)

SET_RECORDED_VERDICTS = (
    "UNWIND $rows AS r MATCH (s:Solution {id: r.id}) "
    "SET s.verdict = r.verdict, s.verdict_strength = r.strength"
)

# The verdict on the evidence anonymous readers see (graph/changes.py).
SET_RECORDED_PUBLIC_VERDICTS = (
    "UNWIND $rows AS r MATCH (s:Solution {id: r.id}) "
    "SET s.public_verdict = r.verdict, s.public_verdict_strength = r.strength"
)

EVALUATIONS_REACH = (
    "UNWIND $ids AS id MATCH (e:Evaluation {id: id}) "
    "OPTIONAL MATCH (e)-[:EVALUATED]->(:Initiative)-[:TRIED_AT]->(t:Site) "
    "RETURN e.id AS id, e.visibility AS visibility, collect(DISTINCT t.id) AS sites"
)

INITIATIVES_REACH = (
    "UNWIND $ids AS id MATCH (i:Initiative {id: id}) "
    "OPTIONAL MATCH (i)-[:TRIED_AT]->(t:Site) "
    "RETURN i.id AS id, i.visibility AS visibility, collect(DISTINCT t.id) AS sites"
)

EXISTING_CHANGES = (
    "UNWIND $ids AS id MATCH (c:VerdictChange {id: id}) RETURN c.id AS id"
)

RECORD_CHANGES = (
    "UNWIND $rows AS r MERGE (c:VerdictChange {id: r.id}) "
    "ON CREATE SET c += r.props, c.run_id = $run_id"
)

CHANGES_SINCE = (
    "MATCH (c:VerdictChange) WHERE c.changed_at >= $since "
    "RETURN c {.*} AS change ORDER BY c.changed_at DESC, c.id LIMIT $limit"
)

CREATE_WATCH = (
    "MERGE (w:Watch {id: $id}) "
    "ON CREATE SET w.user = $user, w.target_kind = $target_kind, w.target_id = $target_id, "
    "w.created_at = $at, w.seen_at = $at "
    "RETURN w {.*} AS watch"
)

WATCHES_OF_USER = (
    "MATCH (w:Watch {user: $user}) RETURN w {.*} AS watch ORDER BY w.created_at, w.id"
)

WATCH_BY_ID = "MATCH (w:Watch {id: $id}) RETURN w {.*} AS watch"

DELETE_WATCH = (
    "MATCH (w:Watch {id: $id, user: $user}) DELETE w RETURN count(*) AS deleted"
)

MARK_WATCHES_SEEN = (
    "MATCH (w:Watch {user: $user}) SET w.seen_at = $at RETURN count(w) AS n"
)

SITE_EXISTS = "MATCH (t:Site {id: $id}) RETURN t.id AS id, t.name AS name"

EVALUATION_QUALITY = (
    "UNWIND $ids AS id MATCH (e:Evaluation {id: id}) "
    "OPTIONAL MATCH (e)-[:EVALUATED]->(i:Initiative) "
    "RETURN e.id AS id, e.title AS title, e.design AS design, e.finding AS finding, "
    "e.sms_level AS sms_level, "
    "e.sms_effective AS level, e.independent AS independent, e.sample_size AS sample_size, "
    "e.its_points_before AS its_points_before, e.its_points_after AS its_points_after, "
    "e.published_date AS published_date, e.published_date_hi AS published_hi, "
    "collect({id: i.id, end_date: i.end_date, end_lo: i.end_date_lo}) AS initiatives"
)


# --- design once, adapt locally: site context, places like yours, adaptations ---------
# (graph/context.py, ingest/context.py)

SITE_IDS = "MATCH (t:Site) RETURN t.id AS id"

# Sites as interchange rows: every property and the parent's id.
SITE_ROWS = (
    "UNWIND $ids AS id MATCH (t:Site {id: id}) "
    "OPTIONAL MATCH (t)-[:PART_OF]->(p:Site) RETURN t {.*} AS props, p.id AS parent_id"
)

# The context of sites, and of their parent and grandparent (the areas they are in).
SITE_CONTEXTS = (
    "UNWIND $ids AS id MATCH (t:Site {id: id}) "
    "OPTIONAL MATCH (t)-[:PART_OF]->(p:Site) "
    "OPTIONAL MATCH (p)-[:PART_OF]->(q:Site) "
    "RETURN t.id AS id, [x IN [t, p, q] WHERE x IS NOT NULL | x {.id, .name, .kind, "
    ".imd_score, .imd_decile, .imd_year, .imd_source, .rurality, .rurality_source, "
    ".registered_patients, .registered_patients_date, .registered_patients_source, "
    ".illustrative}] AS chain"
)

# Sites whose code is $q, or whose name holds $q (case folded): the organisation picker.
SITE_LOOKUP = (
    "MATCH (t:Site) WHERE t.id = $q OR toLower(t.name) CONTAINS toLower($q) "
    "WITH t, t.id = $q AS exact ORDER BY exact DESC, t.close_date IS NULL DESC, t.name, t.id "
    "LIMIT $limit "
    "RETURN t.id AS id, t.name AS name, t.kind AS kind, t.close_date AS close_date, exact"
)

# A solution's attempts (counted links) with their sites, design version, evaluations and
# outcomes: the rows "places like yours", "where the evidence applies" and the design
# page read.
SOLUTION_ATTEMPT_CONTEXT = (
    "MATCH (s:Solution {id: $id})<-[l:IMPLEMENTS]-(i:Initiative) WHERE l.how IN $counted "
    "RETURN i.id AS id, i.title AS title, i.start_date AS start_date, "
    "i.start_date_lo AS start_lo, i.status AS status, i.illustrative AS illustrative, "
    "[(i)-[:TRIED_AT]->(t:Site) | t.id] AS sites, "
    "[(i)-[:FOLLOWS]->(v:DesignVersion) | v.id] AS versions, "
    "[(e:Evaluation)-[:EVALUATED]->(i) | e {.id, .title, .finding, .design, "
    ".published_date, .published_date_hi, .sms_effective, .illustrative}] AS evaluations, "
    "[(i)-[:HAS_OUTCOME]->(o:Outcome) | o {.id, .measure, .direction, .baseline, .value, "
    ".unit}] AS outcomes "
    "ORDER BY start_lo, id"
)

# The adaptations of a solution's attempts, with the component each changed.
SOLUTION_ADAPTATIONS = (
    "MATCH (s:Solution {id: $id})<-[l:IMPLEMENTS]-(i:Initiative)<-[:ADAPTS]-(a:Adaptation) "
    "WHERE l.how IN $counted "
    "OPTIONAL MATCH (a)-[:MODIFIES]->(c:Component) "
    "WITH a, i, c ORDER BY i.id, a.id "
    "RETURN a {.*} AS adaptation, i.id AS initiative_id, c.id AS component_id"
)

# A solution's design versions (oldest first) and components, each with its versions.
SOLUTION_VERSIONS = (
    "MATCH (v:DesignVersion)-[:VERSION_OF]->(s:Solution {id: $id}) "
    "WITH v ORDER BY v.published_date_lo, v.id RETURN v {.*} AS version"
)
SOLUTION_COMPONENTS = (
    "MATCH (c:Component)-[:COMPONENT_OF]->(s:Solution {id: $id}) "
    "OPTIONAL MATCH (c)-[:IN_VERSION]->(v:DesignVersion) "
    "WITH c, collect(v.id) AS versions ORDER BY c.role, c.id "
    "RETURN c {.*} AS component, versions"
)

# How many sites hold each kind of context value (the demo says which are missing).
CONTEXT_COVERAGE = (
    "MATCH (t:Site) RETURN t.kind AS kind, count(t) AS sites, "
    "count(t.imd_score) AS imd, count(t.rurality) AS rurality, "
    "count(t.registered_patients) AS patients"
)

# --- FalkorDB: relation matrices made whole after new nodes (graph/falkor.py) ----------


@cypher_builder
def settle_rel(rel: Rel) -> str:
    """One part of :data:`SETTLE_RELS`: a small traversal over ``rel``."""
    return f"MATCH (a) WITH a LIMIT 10 MATCH (a)-[:{rel.value}]->(b) RETURN count(b) AS n"


#: Each relationship type read in turn, in one statement sent alone after a write that
#: created nodes. When new nodes make FalkorDB 4.16 grow a relationship type's matrix,
#: the first statement to read it drops the matrix's row lookup table (its hyper hash),
#: and two statements that then read it at once rebuild the table together and can crash
#: the server (``bench/results/falkordb-crash-repro.md``). Read alone first, it is
#: rebuilt once. One statement (its parts run one after another), not one per type: a
#: round trip each made every small write several times slower.
SETTLE_RELS = " UNION ALL ".join(settle_rel(rel) for rel in Rel)


# --- sentence vectors (graph/vectors.py) ------------------------------------------------


@cypher_builder
def vectors_missing_ids(label: Label) -> str:
    """The ids of the nodes of ``label`` without a sentence vector (new, or rewritten by
    ingest, which drops it) or with one of the other model (``$static``: whether the
    label's model is the static one, whose hashes start ``static:``): one pass over the
    label, however many batches embed them."""
    return (f"MATCH (n:{label.value}) WHERE n.embedded_hash IS NULL OR "
            "(n.embedded_hash STARTS WITH 'static:') <> $static RETURN n.id AS id")


@cypher_builder
def vectors_missing(label: Label) -> str:
    """Of the nodes ``$ids`` (of :func:`vectors_missing_ids`), those still without a
    sentence vector of their model (``$static``): id and the texts a vector is made
    from."""
    return (f"UNWIND $ids AS x MATCH (n:{label.value} {{id: x}}) WHERE n.embedded_hash IS "
            "NULL OR (n.embedded_hash STARTS WITH 'static:') <> $static "
            "RETURN n.id AS id, n.name AS name, n.aliases AS aliases, n.title AS title, "
            "n.description AS description, n.problem AS problem, n.tags AS tags")


@cypher_builder
def vector_node_ids(label: Label) -> str:
    """The ids of the nodes of ``label`` that hold a sentence vector (or a list that was
    one, in a copy being built)."""
    return f"MATCH (n:{label.value}) WHERE n.embedding IS NOT NULL RETURN n.id AS id"


@cypher_builder
def vector_texts(label: Label) -> str:
    """The texts behind nodes' vectors (``$ids``): name or title, for "why it matched"."""
    return (f"UNWIND $ids AS x MATCH (n:{label.value} {{id: x}}) "
            "RETURN n.id AS id, n.name AS name, n.title AS title, n.aliases AS aliases, "
            "n.tags AS tags, n.description AS description, n.text AS text")


# --- the query console's row limit (graph/readonly.py) --------------------------------


def console_bounded(statement: str, *, wrap: bool) -> str:
    """A researcher's statement (already checked read-only) that the engine stops after
    ``$console_rows`` rows: ``LIMIT`` appended to its final ``RETURN``, or (``wrap``) the
    whole statement run as a subquery. The statement is the researcher's own text, which
    the console exists to run; nothing else is ever composed this way."""
    if wrap:
        return "CALL {\n" + statement + "\n}\nRETURN * LIMIT $console_rows"
    return statement + "\nLIMIT $console_rows"


# --- contributions and lessons ---------------------------------------------------------

#: Initiatives that look like the same attempt as a contribution: the same solution, a
#: same site and the same start (as written).
SAME_ATTEMPTS = (
    "MATCH (s:Solution {id: $solution})<-[l:IMPLEMENTS]-(i:Initiative)-[:TRIED_AT]->(t:Site) "
    "WHERE l.how IN $counted AND t.id IN $sites AND i.start_date = $start "
    "RETURN DISTINCT i.id AS id, i.title AS title ORDER BY id"
)

#: The lessons of the initiatives of the solutions in ``$ids`` (counted links), with the
#: initiative each comes from, its status and sites.
SOLUTIONS_LESSONS = (
    "UNWIND $ids AS sid "
    "MATCH (s:Solution {id: sid})<-[l:IMPLEMENTS]-(i:Initiative)-[:HAS_LESSON]->(x:Lesson) "
    "WHERE l.how IN $counted "
    "OPTIONAL MATCH (i)-[:TRIED_AT]->(t:Site) "
    "RETURN sid AS solution_id, x.id AS id, x.text AS text, x.kind AS kind, "
    "x.effect AS effect, x.nasss_domain AS nasss_domain, x.illustrative AS illustrative, "
    "i.id AS initiative_id, i.title AS initiative_title, i.status AS status, "
    "i.start_date AS start_date, i.end_date_hi AS end_hi, collect(DISTINCT t.name) AS sites "
    "ORDER BY solution_id, initiative_id, id"
)

#: An initiative's lessons.
INITIATIVE_LESSONS = (
    "MATCH (i:Initiative {id: $id})-[:HAS_LESSON]->(x:Lesson) "
    "RETURN x.id AS id, x.text AS text, x.kind AS kind, x.effect AS effect, "
    "x.nasss_domain AS nasss_domain, x.illustrative AS illustrative ORDER BY id"
)

#: Who contributed an initiative's record (as they chose to be named) and who accepted it.
INITIATIVE_CONTRIBUTIONS = (
    "MATCH (c:Contribution)-[:RECORDS]->(i:Initiative {id: $id}) "
    "RETURN c.id AS id, c.contributor AS contributor, c.organisation AS organisation, "
    "c.sector AS sector, c.moderator AS moderator, c.accepted_at AS accepted_at "
    "ORDER BY id"
)

#: The initiatives the lessons in ``$ids`` belong to (search hits on lessons).
LESSON_INITIATIVES = (
    "UNWIND $ids AS lid MATCH (i:Initiative)-[:HAS_LESSON]->(x:Lesson {id: lid}) "
    "RETURN x.id AS id, i.id AS initiative_id, i.title AS initiative_title"
)

#: Solutions whose name, alias or id holds ``$q`` (lower case), for search as you type.
SUGGEST_SOLUTIONS = (
    "MATCH (s:Solution) WHERE toLower(s.name) CONTAINS $q OR toLower(s.id) CONTAINS $q "
    "OR toLower(coalesce(s.aliases_text, '')) CONTAINS $q "
    "RETURN s.id AS id, s.name AS name, s.intervention_type AS detail ORDER BY name LIMIT $limit"
)

#: A site by its id (an ODS code), for search as you type.
SITE_BY_ID = "MATCH (t:Site {id: $id}) RETURN t.id AS id, t.name AS name, t.kind AS detail"


@cypher_builder
def contributed_ids(label: Label) -> str:
    """The ids of a label's nodes that start with ``$prefix`` (the rows one contribution
    made) and are not in ``$keep`` (the rows its accepted version makes): what an update
    removed."""
    return (f"MATCH (n:{label.value}) WHERE n.id STARTS WITH $prefix AND NOT n.id IN $keep "
            "RETURN n.id AS id")



# --- a solution's meaning through its own initiatives (graph/hybrid.py) ------------------

#: The solutions each initiative of ``$ids`` counts for (``$counted`` links).
INITIATIVE_SOLUTIONS = (
    "UNWIND $ids AS id MATCH (i:Initiative {id: id})-[l:IMPLEMENTS]->(s:Solution) "
    "WHERE l.how IN $counted RETURN i.id AS initiative, s.id AS solution"
)
