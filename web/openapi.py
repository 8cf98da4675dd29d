"""The OpenAPI 3.1 description of the explorer's machine-readable side: every page's
``.json`` twin, its ``.csv`` download, the curation endpoints and the description itself.

``SPEC`` is a plain dict built once at import; ``apidocs.py`` serves it at
``/openapi.json`` and lists it at ``/api``. ``tests/test_openapi.py`` validates it against
the OpenAPI 3.1 schema, checks that every JSON rule of ``web.pages.PAGES`` (and every
``.json`` route of the app) has a path here, and validates real responses from the sample
bundle against the response schemas.

Conventions: the explorer's own envelopes (a page's top-level object, pagination, the
verdict, a repeat, the error) are closed (``additionalProperties: false``), so a field
added to a page without being described here fails the test; records read from the
graph (nodes and query rows) are open, since a node keeps every property of its source
row (for example ``x_<column>`` properties from unknown bundle columns).
"""

from __future__ import annotations

from typing import Any

from triedbefore.graph import queries
from triedbefore.graph.readonly import MAX_STATEMENT_LENGTH
from triedbefore.graph.resolution import DECISIONS
from triedbefore.graph.rules import VERDICTS
from triedbefore.ontology.vocab import (
    Design,
    Direction,
    Finding,
    InterventionType,
    QualityDomain,
    Rel,
    SiteKind,
    Status,
)

Schema = dict[str, Any]

JSON = "application/json"
CSV = "text/csv"

#: Example ids from the sample bundle (``ingest/sample``), used as parameter examples.
EXAMPLES = {
    "solution_id": "SOL-TELE",
    "initiative_id": "INI-0021",
    "evaluation_id": "EVAL-0004",
    "site_id": "RBL",
    "measure": "Emergency admissions from care homes per 1,000 residents",
    "node": "solution:SOL-TELE",
}

DOMAINS = [d.value for d in QualityDomain] + ["unspecified"]
INTERVENTION_TYPES = [t.value for t in InterventionType]
LINK_KINDS = ["declared", "inferred", "suggested", "accepted", "rejected"]
RESOLUTION_STATUSES = ["inferred", "suggested", "unresolved", "accepted", "rejected"]
CANDIDATE_STATUSES = ["proposed", "accepted", "rejected"]
CANDIDATE_SOURCES = ["clinicaltrials", "europepmc"]
SEARCH_FACETS = ("verdict", "intervention_type", "technology", "region", "icb", "site_kind",
                 "year")
#: Node kinds of the graph view (``node=<kind>:<id>``).
GRAPH_KINDS = ["solution", "initiative", "evaluation", "site", "outcome"]
CONSOLE_ERROR_KINDS = ["refused", "query_error", "timeout", "bad_input"]


# --- schema helpers -------------------------------------------------------------------


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or null (JSON Schema 2020-12: no ``nullable`` keyword in OpenAPI 3.1)."""
    if "$ref" in schema or "enum" in schema or "const" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    kind = schema["type"]
    return {**schema, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}


def array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


def closed(properties: dict[str, Schema], required: list[str] | None = None,
           description: str = "") -> Schema:
    """An object with exactly these properties (``required``: all of them by default)."""
    out: Schema = {"type": "object", "properties": properties,
                   "required": list(properties) if required is None else required,
                   "additionalProperties": False}
    if description:
        out["description"] = description
    return out


def record(properties: dict[str, Schema], required: list[str], description: str = "") -> Schema:
    """An object read from the graph: these properties, and possibly others."""
    out: Schema = {"type": "object", "properties": properties, "required": required,
                   "additionalProperties": True}
    if description:
        out["description"] = description
    return out


def page(properties: dict[str, Schema], required: list[str] | None = None,
         description: str = "") -> Schema:
    """A JSON twin: ``{"ok": true, ...the page's data}``."""
    req = ["ok", *(list(properties) if required is None else required)]
    return closed({"ok": {"const": True}, **properties}, req, description)


def paginated(item: str) -> Schema:
    return {"allOf": [ref("Pagination"),
                      {"properties": {"items": array(ref(item))}}],
            "description": f"One page of {item} rows."}


STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
ID = {"type": "string", "minLength": 1}
NSTR = nullable(STR)
NINT = nullable(INT)
NNUM = nullable(NUM)
NBOOL = nullable(BOOL)
DAY = {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
LEVEL = {"type": "integer", "minimum": 0, "maximum": 5}
COUNT = {"type": "integer", "minimum": 0}


def enum(values: list[str] | tuple[str, ...], description: str = "") -> Schema:
    out: Schema = {"type": "string", "enum": list(values)}
    if description:
        out["description"] = description
    return out


SCHEMAS: dict[str, Schema] = {
    # --- shared pieces ---------------------------------------------------------------
    "Error": closed({
        "ok": {"const": False},
        "error": {"type": "string", "description": "What went wrong, in plain English."},
        "status": {"type": "integer", "description": "The HTTP status code again."},
    }, description="Every error of a JSON endpoint: unknown ids are 404, bad parameters "
                   "400, an unreachable or refusing store 503."),
    "PartialDate": {"type": "string", "pattern": r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$",
                    "description": "An ISO 8601 date kept at the precision given: YYYY, "
                                   "YYYY-MM or YYYY-MM-DD."},
    "VerdictName": enum(VERDICTS, "What the evidence says about a solution "
                                  "(see /method#verdicts)."),
    "Finding": enum([f.value for f in Finding]),
    "Design": enum([d.value for d in Design]),
    "Direction": enum([d.value for d in Direction]),
    "SiteKind": enum([k.value for k in SiteKind]),
    "Status": enum([s.value for s in Status]),
    "InterventionType": enum(INTERVENTION_TYPES, "Cochrane EPOC intervention type."),
    "QualityDomain": enum([d.value for d in QualityDomain]),
    "LinkKind": enum(LINK_KINDS, "How an initiative is linked to a solution: declared in "
                                 "the data, inferred by the matcher, suggested to a curator, "
                                 "or a curator's decision."),
    "Pagination": closed({
        "items": {"type": "array"},
        "page": {"type": "integer", "minimum": 1},
        "size": {"type": "integer", "minimum": 1, "maximum": 500},
        "total": COUNT,
        "next_page": nullable({"type": "integer", "minimum": 2}),
        "prev_page": nullable({"type": "integer", "minimum": 1}),
    }, description="A page of an ordered list (parameters `page` and `size`)."),
    "Verdict": closed({
        "solution_id": ID,
        "verdict": ref("VerdictName"),
        "strength": {**LEVEL, "description": "The highest SMS level behind the verdict; 0 "
                                             "when none."},
        "as_of": {**DAY, "description": "The date the verdict is for."},
        "evaluations": {**array(ID), "description": "The evaluations that drove the "
                                                    "verdict, strongest first."},
        "explanation": {"type": "string", "description": "The rule applied, in plain "
                                                         "English."},
        "considered": {**array(ID), "description": "Every evaluation published by `as_of`, "
                                                   "strongest first."},
    }),
    "Repeat": closed({
        "initiative_id": ID,
        "solution_id": ID,
        "ignored_evaluations": {**array(ID), "description": "The failed evidence published "
                                                            "before the start, strongest "
                                                            "first."},
        "lag_days": {"type": "integer", "description": "Start minus the publication of the "
                                                       "earliest ignored evaluation, in days."},
        "cited": {**array(ID), "description": "Informed re-tries only: the evidence the "
                                              "initiative cited."},
        "inferred_link": {"const": True, "description": "Present when the initiative's link "
                                                        "to the solution was inferred."},
    }, ["initiative_id", "solution_id", "ignored_evaluations", "lag_days"],
        "A zombie repeat, or an informed re-try when `cited` is present."),
    "SiteRef": record({"id": ID, "name": NSTR, "kind": nullable(ref("SiteKind")),
                       "region": NSTR, "lat": NNUM, "lon": NNUM}, ["id"]),
    "SiteSummary": record({"id": ID, "name": NSTR, "kind": nullable(ref("SiteKind"))}, ["id"]),
    "Outcome": record({
        "id": ID, "initiative_id": ID, "measure": NSTR,
        "domain": nullable(ref("QualityDomain")), "baseline": NNUM, "value": NNUM,
        "unit": NSTR, "direction": nullable(ref("Direction")),
    }, ["id", "measure", "baseline", "value", "direction"]),
    # --- graph nodes (every property of the node but its row hash) ---------------------
    "SolutionNode": record({
        "id": ID, "name": STR, "description": NSTR, "problem": NSTR,
        "intervention_type": nullable(ref("InterventionType")), "technology": NBOOL,
        "aliases": nullable(array(STR)), "tags": nullable(array(STR)), "run_id": NSTR,
        "licence": NSTR, "illustrative": NBOOL,
    }, ["id", "name"], "A Solution node's properties."),
    "InitiativeNode": record({
        "id": ID, "title": STR, "description": NSTR,
        "start_date": ref("PartialDate"), "end_date": nullable(ref("PartialDate")),
        "start_date_lo": NINT, "start_date_hi": NINT, "end_date_lo": NINT, "end_date_hi": NINT,
        "status": nullable(ref("Status")), "funder": NSTR, "cost_gbp": NNUM,
        "visibility": NSTR, "run_id": NSTR, "source_url": NSTR, "licence": NSTR,
        "illustrative": {**NBOOL, "description": "true: invented to illustrate the "
                                                 "analytics, not a real project"},
    }, ["id", "title"], "An Initiative node's properties."),
    "EvaluationNode": record({
        "id": ID, "title": STR, "design": nullable(ref("Design")),
        "finding": ref("Finding"), "published_date": ref("PartialDate"),
        "published_date_lo": NINT, "published_date_hi": NINT, "evaluator": NSTR,
        "independent": NBOOL, "sample_size": NINT, "sms_effective": nullable(LEVEL),
        "url": NSTR, "doi": NSTR, "visibility": NSTR, "run_id": NSTR, "licence": NSTR,
        "illustrative": NBOOL,
    }, ["id", "title", "finding", "published_date"], "An Evaluation node's properties."),
    "SiteNode": record({
        "id": ID, "name": STR, "kind": ref("SiteKind"), "region": NSTR, "postcode": NSTR,
        "lat": NNUM, "lon": NNUM, "run_id": NSTR,
        "open_date": nullable(ref("PartialDate")), "close_date": {
            **nullable(ref("PartialDate")),
            "description": "Set when the organisation has closed; it stays in the graph."},
        "source_url": NSTR, "licence": NSTR, "illustrative": NBOOL,
    }, ["id", "name", "kind"], "A Site node's properties."),
    "IngestRun": record({
        "id": ID, "source": NSTR, "status": NSTR, "started_at": NSTR, "ended_at": NSTR,
        "errors_count": NINT, "warnings_count": NINT, "checksums": nullable(array(STR)),
    }, ["id"], "An IngestRun node's properties."),
    # --- home ------------------------------------------------------------------------
    "HomePage": page({
        "counts": {"type": "object", "additionalProperties": COUNT,
                   "description": "Nodes per label."},
        "latest_runs": array(ref("IngestRun")),
        "zombies": {**array(ref("Repeat")), "description": "The five zombie repeats with "
                                                           "the longest lag."},
        "zombie_total": COUNT,
        "gap": {**ref("GapMap"), "unevaluatedProperties": False},
    }),
    # --- solutions -------------------------------------------------------------------
    "SolutionListItem": record({
        "id": ID, "name": STR, "intervention_type": nullable(ref("InterventionType")),
        "technology": NBOOL, "initiatives": COUNT, "verdict": ref("VerdictName"),
    }, ["id", "name", "initiatives", "verdict"]),
    "PaginatedSolutions": paginated("SolutionListItem"),
    "SolutionsPage": page({
        "solutions": ref("PaginatedSolutions"),
        "verdict_filter": nullable(ref("VerdictName")),
    }),
    "SolutionEvaluation": record({
        "id": ID, "title": STR, "design": nullable(ref("Design")), "level": nullable(LEVEL),
        "independent": NBOOL, "finding": ref("Finding"),
        "published_date": ref("PartialDate"), "published_hi": INT,
        "url": NSTR, "doi": NSTR, "evaluator": NSTR,
    }, ["id", "title", "finding", "published_date", "level"]),
    "Attempt": record({
        "id": ID, "title": STR, "start_date": nullable(ref("PartialDate")),
        "start_lo": NINT, "end_date": nullable(ref("PartialDate")),
        "status": nullable(ref("Status")), "visibility": NSTR, "how": ref("LinkKind"),
        "score": NNUM, "sites": array(ref("SiteRef")),
        "zombie": {"type": "boolean", "description": "A zombie repeat of this solution."},
    }, ["id", "title", "how", "sites", "zombie"], "An initiative that tried the solution."),
    "DesignWarning": closed({
        "code": enum(["uncontrolled_before_after", "short_time_series", "self_evaluation_only",
                      "small_sample", "published_before_end"]),
        "evaluation_id": {**NSTR, "description": "The evaluation it is about; null for a "
                                                 "warning about the verdict as a whole."},
        "reason": {"type": "string", "description": "Why, in plain English."},
        "reference": {"type": "string", "description": "The criterion's source."},
        "url": STR,
    }, description="A design that may not carry its claim (see /method#warnings). Never "
                   "changes a verdict."),
    "Change": closed({
        "id": ID,
        "change_kind": enum(["verdict", "zombie"]),
        "solution_id": ID,
        "solution_name": NSTR,
        "from_verdict": {**nullable(ref("VerdictName")),
                         "description": "The verdict before the run (null for a zombie "
                                        "repeat)."},
        "to_verdict": ref("VerdictName"),
        "from_strength": nullable(LEVEL),
        "strength": LEVEL,
        "evaluations": {**array(ID), "description": "The evaluations that caused it (for a "
                                                    "zombie repeat: those it ignored)."},
        "initiative_id": {**NSTR, "description": "The zombie repeat (null for a verdict "
                                                 "change)."},
        "site_ids": array(STR),
        "run_id": NSTR,
        "changed_at": {"type": "string", "format": "date-time"},
        "visibility": enum(["public", "restricted"]),
        "explanation": NSTR,
    }, description="A verdict change or a new zombie repeat recorded by an ingest run."),
    "PaginatedChanges": paginated("Change"),
    "ChangesPage": page({"changes": ref("PaginatedChanges"), "since": nullable(DAY)},
                        description="Newest first. Restricted changes are included only "
                                    "for signed-in users."),
    "Watch": closed({
        "id": ID, "target_kind": enum(["solution", "site", "intervention_type"]),
        "target_id": ID, "label": STR, "created_at": NSTR, "seen_at": NSTR,
        "new": {**COUNT, "description": "Changes since the watch was last marked seen."},
        "feed": {"type": "string", "description": "The watch's Atom feed (its address "
                                                  "holds a key)."},
    }),
    "WatchesPage": page({
        "watches": array(ref("Watch")),
        "notices": {**array(ref("Change")),
                    "description": "What changed since the last visit, over all watches."},
        "intervention_types": array(ref("InterventionType")),
    }),
    "SolutionPage": page({
        "solution": ref("SolutionNode"),
        "verdict": ref("Verdict"),
        "evaluations": {**paginated("SolutionEvaluation"),
                        "description": "Published by `as_of`, oldest first (parameter "
                                       "`evaluations_page`)."},
        "attempts": {**paginated("Attempt"),
                     "description": "Started by `as_of`, oldest first (parameter "
                                    "`attempts_page`)."},
        "zombies": array(ref("Repeat")),
        "sites": {**array(ref("SiteRef")), "description": "Every site of the attempts "
                                                          "started by `as_of`."},
        "outcomes": {**paginated("Outcome"), "description": "By measure (parameter "
                                                            "`outcomes_page`)."},
        "similar": array(closed({"solution_id": ID, "score": NUM})),
        "as_of": DAY,
        "evidence_years": array(INT),
        "rollup": closed({
            "sites": COUNT,
            "by_kind": {"type": "object", "additionalProperties": COUNT,
                        "description": "Distinct sites per site kind."},
            "icbs": array(ID), "regions": array(STR),
            "text": {**STR, "description": "e.g. \"Tried in 14 GP practices across 3 ICBs "
                                           "in the North West.\""},
        }, description="Where the solution was tried, rolled up the organisation hierarchy "
                       "(ICBs and NHS England regions above each site)."),
        "verdict_warnings": {**array(ref("DesignWarning")),
                             "description": "Beside the verdict: warnings about the "
                                            "evaluations behind it, and about the verdict."},
        "evaluation_warnings": {"type": "object",
                                "additionalProperties": array(ref("DesignWarning")),
                                "description": "Evaluation id → its warnings (listed "
                                               "evaluations with any)."},
    }),
    # --- initiative, evaluation, site ------------------------------------------------
    "InitiativePage": page({
        "initiative": ref("InitiativeNode"),
        "solutions": array(record({"id": ID, "name": STR, "how": ref("LinkKind"),
                                   "score": NNUM}, ["id", "how"])),
        "sites": array(ref("SiteRef")),
        "outcomes": array(ref("Outcome")),
        "evaluations": array(record({
            "id": ID, "title": STR, "design": nullable(ref("Design")),
            "finding": ref("Finding"), "published_date": ref("PartialDate"),
            "sms_effective": nullable(LEVEL)}, ["id", "finding"])),
        "learned_from": array(record({"id": ID, "title": NSTR,
                                      "kind": enum(["Evaluation", "Initiative"])},
                                     ["id", "kind"])),
        "repeat": {**nullable(ref("Repeat")),
                   "description": "Set when the initiative is a zombie repeat or an "
                                  "informed re-try."},
    }),
    "EvaluationPage": page({
        "evaluation": ref("EvaluationNode"),
        "initiatives": array(record({"id": ID, "title": STR,
                                     "start_date": nullable(ref("PartialDate"))}, ["id"])),
        "solutions": array(record({"id": ID, "name": STR}, ["id"])),
        "outcomes": array(ref("Outcome")),
        "warnings": array(ref("DesignWarning")),
    }),
    "SiteInitiative": record({
        "id": ID, "title": STR, "start_date": nullable(ref("PartialDate")),
        "status": nullable(ref("Status")), "solution_id": NSTR, "solution": NSTR,
    }, ["id", "title", "solution_id"]),
    "SiteOutcome": {"allOf": [ref("Outcome"), record({
        "measure_key": NSTR,
        "relative_change": NNUM,
        "peer_median": {**NNUM, "description": "Median relative change of the same measure "
                                               "at other sites."},
        "peers": COUNT,
    }, ["relative_change", "peer_median", "peers"])]},
    "SitePage": page({
        "site": ref("SiteNode"),
        "parents": array(ref("SiteSummary")),
        "children": array(ref("SiteSummary")),
        "initiatives": array(ref("SiteInitiative")),
        "outcomes": array(ref("SiteOutcome")),
        "hierarchy": closed({
            "ancestors": {**array(ref("SiteSummary")),
                          "description": "The organisations above, nearest first."},
            "contains": {"type": "object", "additionalProperties": COUNT,
                         "description": "Organisations within it (up to three levels down), "
                                        "per site kind."},
            "tried_inside": array(record({"id": ID, "kind": nullable(ref("SiteKind")),
                                          "name": NSTR, "initiatives": COUNT},
                                         ["id", "initiatives"])),
            "text": STR,
        }, description="The site's place in the organisation hierarchy and what was tried "
                       "inside it."),
    }),
    # --- evaluations list, gap map ---------------------------------------------------
    "EvaluationSummary": record({
        "id": ID, "title": STR, "design": nullable(ref("Design")),
        "finding": ref("Finding"), "published_date": ref("PartialDate"), "solution_id": ID,
        "domains": array(enum(DOMAINS)),
    }, ["id", "title", "finding", "published_date", "solution_id", "domains"]),
    "PaginatedEvaluations": paginated("EvaluationSummary"),
    "EvaluationsPage": page({
        "evaluations": ref("PaginatedEvaluations"),
        "filters": closed({"solution": NSTR,
                           "intervention_type": nullable(enum([*INTERVENTION_TYPES,
                                                               "unspecified"])),
                           "domain": nullable(enum(DOMAINS))}),
    }),
    "GapRow": {
        "type": "object",
        "properties": {
            "row": {**ID, "description": "A solution id, or an intervention type."},
            "label": STR,
            "verdict": {**ref("VerdictName"),
                        "description": "The row's verdict (the commonest among its "
                                       "solutions)."},
            "warnings": {**COUNT, "description": "Evaluations of the row with a "
                                                 "design-quality warning."},
        },
        "required": ["row", "label", "verdict", *DOMAINS, "warnings"],
        "additionalProperties": {**COUNT, "description": "Evaluations per quality domain "
                                                         "(one property per domain)."},
    },
    "GapMap": {
        "type": "object",
        "properties": {"by": enum(["solution", "intervention_type"]),
                       "domains": array(enum(DOMAINS)),
                       "cells": array(ref("GapRow"))},
        "required": ["by", "domains", "cells"],
        "description": "Evaluations per row (solution or intervention type) and quality "
                       "domain.",
    },
    "PaginatedGapRows": paginated("GapRow"),
    "GapMapPage": page({
        "by": enum(["solution", "intervention_type"]),
        "domains": array(enum(DOMAINS)),
        "cells": {**ref("PaginatedGapRows"), "description": "One page of rows, in the "
                                                            "order of their labels."},
    }),
    # --- zombies ---------------------------------------------------------------------
    "PaginatedRepeats": paginated("Repeat"),
    "ZombiesPage": page({
        "zombies": ref("PaginatedRepeats"),
        "retries": {**array(ref("Repeat")), "description": "Informed re-tries (not "
                                                           "paginated)."},
        "filters": closed({"solution": NSTR, "min_lag": COUNT, "as_of": nullable(DAY)}),
    }),
    # --- positive deviance -----------------------------------------------------------
    "Measure": record({"key": STR, "measure": STR, "outcomes": COUNT},
                      ["key", "measure", "outcomes"]),
    "Deviant": record({
        "site_id": ID, "baseline": NUM, "value": NUM, "relative_change": NUM,
        "score": {**NUM, "description": "Robust z of the relative change."},
        "outcome_id": ID, "initiative_id": ID, "unit": NSTR,
    }, ["site_id", "baseline", "value", "relative_change", "score", "outcome_id"]),
    "Deviance": closed({
        "measure": STR, "outcomes": COUNT, "median": NNUM, "mad": NNUM, "note": STR,
        "deviants": array(ref("Deviant")),
    }, description="Sites whose outcome on one measure improved far more than their "
                   "peers' (robust z ≥ 2)."),
    "DeviancePage": page({
        "measures": array(ref("Measure")),
        "measure": NSTR,
        "result": nullable(ref("Deviance")),
        "deviants": array(ref("Deviant")),
        "changes": array(record({"id": ID, "sites": nullable(array(STR)), "label": STR,
                                 "relative_change": NUM}, ["id", "label",
                                                           "relative_change"])),
    }, ["measures", "measure", "result", "changes"],
        "Without `measure`: the list of measures only (`result` null, no `deviants`)."),
    # --- search and proposal check -----------------------------------------------------
    "SearchHit": closed({
        "kind": enum(["solution", "initiative", "evaluation", "site"]),
        "id": ID,
        "name": NSTR,
        "score": NUM,
        "facets": {"type": "object",
                   "propertyNames": enum(SEARCH_FACETS),
                   "additionalProperties": array(STR)},
    }),
    "PaginatedSearchHits": paginated("SearchHit"),
    "SearchResults": page({
        "q": STR,
        "results": ref("PaginatedSearchHits"),
        "chosen": closed({f: NSTR for f in SEARCH_FACETS},
                         description="The facet values chosen (parameters)."),
        "facets": {"type": "object", "propertyNames": enum(SEARCH_FACETS),
                   "additionalProperties": array(
                       {"type": "array", "prefixItems": [STR, COUNT], "items": False,
                        "minItems": 2}),
                   "description": "Per facet, [value, number of results] pairs (before "
                                  "the chosen filters)."},
    }),
    "CheckMatch": closed({
        "solution_id": ID, "score": NUM, "verdict": ref("VerdictName"), "strength": LEVEL,
        "explanation": STR, "evaluations": array(ID),
        "warnings": array(ref("DesignWarning")),
    }, ["solution_id", "score", "verdict", "strength", "explanation", "evaluations"]),
    "CheckReport": closed({
        "matches": {**array(ref("CheckMatch")), "description": "The closest solutions."},
        "zombie_risk": {"type": "boolean",
                        "description": "Funding this would repeat a solution that does not "
                                       "work, without citing its evidence."},
        "read_first": {**array(ID), "description": "Evaluations to read first."},
        "initiatives": array(closed({"initiative_id": ID, "title": NSTR,
                                     "start_date": nullable(ref("PartialDate")),
                                     "score": NUM})),
        "as_of": DAY,
    }),
    "CheckPage": page({
        "q": STR,
        "as_of": nullable(DAY),
        "report": {**nullable(ref("CheckReport")), "description": "Null without `q`."},
    }),
    "MethodPage": page({}, description="The method page has no data of its own."),
    # --- graph view ------------------------------------------------------------------
    "GraphNode": closed({
        "id": {"type": "string", "pattern": "^[a-z]+:.+$",
               "description": "`<kind>:<id>`, as the `node` parameter takes it."},
        "kind": enum(GRAPH_KINDS),
        "label": STR,
        "url": {**NSTR, "description": "The node's explorer page (outcomes have none)."},
    }),
    "GraphEdge": closed({
        "source": STR, "target": STR, "type": enum([r.value for r in Rel]),
        "how": {**nullable(ref("LinkKind")), "description": "IMPLEMENTS links only."},
    }, description="A relationship as stored: source → target (node ids as in `nodes`)."),
    "GraphPage": page({
        "center": nullable(ref("GraphNode")),
        "nodes": {**array(ref("GraphNode")), "description": "The centre first."},
        "edges": array(ref("GraphEdge")),
        "capped": {"type": "boolean", "description": "More neighbours than `limit`: only "
                                                     "the first `limit` are given."},
        "limit": NINT,
        "total": {**COUNT, "description": "Neighbours in all."},
        "kinds": array(enum(GRAPH_KINDS)),
    }, description="One node's neighbourhood (one hop). Restricted records are left out "
                   "unless the request is signed in."),
    # --- query console ---------------------------------------------------------------
    "ConsoleResult": page({
        "columns": array(STR),
        "rows": {**array({"type": "object"}), "description": "One object per row, keyed "
                                                            "by column; any JSON values."},
        "truncated": {"type": "boolean", "description": "More rows than `limit`."},
        "elapsed_ms": {"type": "number", "minimum": 0},
    }),
    "ConsoleError": closed({
        "ok": {"const": False}, "error": STR, "status": {"const": 400},
        "kind": enum(CONSOLE_ERROR_KINDS, "`refused`: not a pure read; `query_error`: the "
                                          "database rejected it (its message is passed "
                                          "on); `timeout`: out of time; `bad_input`: a "
                                          "field out of range or no statement."),
    }, description="A console statement that could not run: the Error envelope plus "
                   "`kind`."),
    "ConsoleSchema": page({
        "labels": array(closed({"label": STR, "keys": array(STR)})),
        "relationship_types": array(STR),
        "error": NSTR,
    }, description="Node labels with the property names of a sample of their nodes, and "
                   "relationship types."),
    # --- curation --------------------------------------------------------------------
    "Proposal": closed({
        "initiative_id": ID, "title": NSTR, "solution_id": NSTR, "solution_name": NSTR,
        "score": NNUM, "status": enum(RESOLUTION_STATUSES),
        "candidates": {**array(closed({"solution_id": ID, "name": STR, "score": NUM})),
                       "description": "Unresolved initiatives only: the best-matching "
                                      "solutions."},
    }, ["initiative_id", "title", "solution_id", "solution_name", "score", "status"]),
    "PaginatedProposals": paginated("Proposal"),
    "CurationPage": page({
        "proposals": ref("PaginatedProposals"),
        "status": nullable(enum(RESOLUTION_STATUSES)),
        "statuses": array(enum(RESOLUTION_STATUSES)),
        "counts": closed({s: COUNT for s in RESOLUTION_STATUSES}),
    }),
    "Resolution": page({
        "initiative_id": ID, "solution_id": NSTR, "score": NNUM,
        "status": enum(list(DECISIONS)),
    }, description="The decision recorded."),
    "Candidate": closed({
        "id": ID, "solution_id": ID, "solution_name": NSTR,
        "status": enum(CANDIDATE_STATUSES), "source": enum(CANDIDATE_SOURCES),
        "source_id": ID, "title": STR, "doi": NSTR, "url": NSTR, "published_date": NSTR,
        "design": nullable(ref("Design")),
        "design_reason": {**NSTR, "description": "Why the design was guessed: the "
                                                 "publication type, registry field or "
                                                 "phrase that decided it."},
        "publication_types": array(STR), "countries": array(STR),
        "query": {**NSTR, "description": "The search, as sent, that last found it."},
        "retrieved_at": {**NSTR, "description": "When the source's answer was retrieved."},
        "decided_by": NSTR, "decided_at": NSTR,
        "evaluation_id": {**NSTR, "description": "Accepted: the evaluation it became."},
        "initiatives": {**array(closed({"id": ID, "title": NSTR})),
                        "description": "The initiatives of its solution, to choose from "
                                       "when accepting it."},
    }, ["id", "solution_id", "status", "source", "source_id", "title", "design",
        "design_reason"]),
    "PaginatedCandidates": paginated("Candidate"),
    "CandidatesPage": page({
        "candidates": ref("PaginatedCandidates"),
        "status": nullable(enum(CANDIDATE_STATUSES)),
        "solution": NSTR,
        "statuses": array(enum(CANDIDATE_STATUSES)),
        "counts": closed({s: COUNT for s in CANDIDATE_STATUSES}),
        "designs": array(ref("Design")),
        "findings": array(STR),
    }),
    "CandidateDecision": page({"candidate": ref("Candidate")},
                              description="The candidate as decided (an accepted one "
                                          "names its evaluation)."),
}


# --- parameters -----------------------------------------------------------------------


def query(name: str, schema: Schema, description: str, **extra: Any) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description, **extra}


def path_id(name: str, what: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": ID,
            "description": f"The {what}'s id.", "example": EXAMPLES[name]}


PARAMETERS: dict[str, Schema] = {
    "solution_id": path_id("solution_id", "solution"),
    "initiative_id": path_id("initiative_id", "initiative"),
    "evaluation_id": path_id("evaluation_id", "evaluation"),
    "site_id": path_id("site_id", "site"),
    "page": query("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000,
                           "default": 1}, "Page number (1 is the first)."),
    "size": query("size", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                  "Rows per page."),
    **{f"{table}_page": query(f"{table}_page", {"type": "integer", "minimum": 1,
                                                "maximum": 1_000_000, "default": 1},
                              f"Page of the {table} table (1 is the first).")
       for table in ("evaluations", "attempts", "outcomes")},
    "as_of": query("as_of", {"type": "string", "format": "date"},
                   "Answer as of this date (YYYY-MM-DD): only evidence published and "
                   "initiatives started by then. Default: today.", example="2014-01-01"),
    "verdict": query("verdict", ref("VerdictName"), "Only solutions with this verdict."),
    "year": query("year", {"type": "integer", "minimum": 1800, "maximum": 2200},
                  "The year slider: as of 31 December of this year (when `as_of` is not "
                  "given).", example=2015),
    "since": query("since", {"type": "string", "format": "date"},
                   "Only changes recorded on or after this date (YYYY-MM-DD).",
                   example="2024-01-01"),
    "solution": query("solution", ID, "Only rows of this solution (id).",
                      example=EXAMPLES["solution_id"]),
    "min_lag": query("min_lag", {"type": "integer", "minimum": 0, "maximum": 100_000,
                                 "default": 0},
                     "Only repeats started at least this many days after the ignored "
                     "evidence."),
    "evaluations_intervention_type": query(
        "intervention_type", enum([*INTERVENTION_TYPES, "unspecified"]),
        "Only evaluations of solutions of this intervention type."),
    "domain": query("domain", enum(DOMAINS), "Only evaluations reporting an outcome in "
                                             "this quality domain."),
    "by": query("by", {**enum(["solution", "intervention_type"]), "default": "solution"},
                "Rows of the map: one per solution, or one per intervention type."),
    "measure": query("measure", {"type": "string", "minLength": 1},
                     "An outcome measure (as listed in `measures`); matched without regard "
                     "to case or spacing. Unknown: 404.", example=EXAMPLES["measure"]),
    "search_q": query("q", {"type": "string", "maxLength": 2000},
                      "What to search for. Empty: no results.", example="hospital at home"),
    "search_size": query("size", {"type": "integer", "minimum": 1, "maximum": 500,
                                  "default": 20}, "Results per page."),
    "facet_verdict": query("verdict", ref("VerdictName"), "Facet: solutions' verdict."),
    "facet_intervention_type": query("intervention_type", ref("InterventionType"),
                                     "Facet: solutions' intervention type."),
    "facet_technology": query("technology", enum(["true", "false"]),
                              "Facet: solutions that are (or are not) a technology."),
    "facet_region": query("region", STR, "Facet: initiatives at a site in this NHS region.",
                          example="London"),
    "facet_icb": query("icb", STR, "Facet: initiatives at a site in this integrated care "
                       "board (the site, or an organisation above it, is the ICB).",
                       example="NHS West Yorkshire Integrated Care Board"),
    "facet_site_kind": query("site_kind", ref("SiteKind"),
                             "Facet: initiatives at a site of this kind."),
    "facet_year": query("year", {"type": "string", "pattern": "^[0-9]{4}$"},
                        "Facet: initiatives started in this year.", example="2016"),
    "check_q": query("q", {"type": "string", "maxLength": 10_000},
                     "The proposal's text. Empty: no report.",
                     example="Proposal: telehealth monitoring for COPD patients"),
    "status": query("status", enum(RESOLUTION_STATUSES), "Only proposals with this status."),
    "candidate_status": query("status", enum(CANDIDATE_STATUSES),
                              "Only candidates with this status."),
    "candidate_solution": query("solution", STR, "Only candidates of this solution.",
                                example="SOL-TELE"),
    "node": query("node", {"type": "string", "pattern": "^[a-z]+:.+$", "maxLength": 220},
                  "The centre: `<kind>:<id>`, kind one of " + ", ".join(GRAPH_KINDS)
                  + ". Required (or `kind` and `id`).", example=EXAMPLES["node"]),
    "graph_kind": query("kind", enum(GRAPH_KINDS), "The centre's kind (with `id`, in place "
                                                   "of `node`).", example="site"),
    "graph_id": query("id", {"type": "string", "minLength": 1, "maxLength": 200},
                      "The centre's id (with `kind`).", example=EXAMPLES["site_id"]),
    "console_q": query("q", {"type": "string", "maxLength": MAX_STATEMENT_LENGTH},
                       "A read-only Cypher statement (required). Anything that is not a pure "
                       "read is refused.", example=queries.CONSOLE_EXAMPLE_SOLUTIONS),
    "console_limit": query("limit", {"type": "integer", "minimum": 1},
                           "Most rows returned: 1 to the configured maximum "
                           "(`TRIEDBEFORE_CONSOLE_ROW_LIMIT`, 1000 by default); default the "
                           "smaller of 100 and that."),
    "console_timeout": query("timeout", {"type": "integer", "minimum": 1},
                             "Time limit in milliseconds: 1 to the configured maximum "
                             "(`TRIEDBEFORE_CONSOLE_TIMEOUT_MS`, 5000 by default), which is "
                             "the default."),
    "csrf_header": {"name": "X-CSRF-Token", "in": "header", "required": False, "schema": STR,
                    "description": "The session's CSRF token (the `csrf_token` field of any "
                                   "form the signed-in user is shown); or send it as the "
                                   "`csrf_token` form field. Missing or wrong: 400."},
}


def param(name: str) -> Schema:
    return {"$ref": f"#/components/parameters/{name}"}


# --- responses ------------------------------------------------------------------------

ERROR_TEXT = {
    400: "A parameter is malformed or out of range.",
    401: "Not signed in.",
    403: "Signed in without the needed role.",
    429: "Too many requests from this client; `Retry-After` says when to try again.",
    404: "No record with that id (or no such measure).",
    503: "The graph store is unavailable or refused the query.",
}


SIGN_IN_REDIRECT = {"description": "Not signed in, and JSON not accepted: a redirect to "
                                   "the sign-in page.",
                    "headers": {"Location": {"schema": STR,
                                             "description": "/login?next=..."}}}


def error(status: int, csv: bool = False) -> Schema:
    content: dict[str, Any] = {JSON: {"schema": ref("Error")}}
    if csv:  # a CSV download answers errors as an HTML page unless JSON is accepted
        content["text/html"] = {"schema": STR}
        return {"description": ERROR_TEXT[status] + " JSON when the request accepts "
                               "application/json, else an HTML page.", "content": content}
    return {"description": ERROR_TEXT[status], "content": content}


def operation(op_id: str, summary: str, description: str, schema: str,
              parameters: list[str], errors: list[int], tag: str, *,
              csv_of: str | None = None) -> dict[str, Any]:
    """The ``.json`` operation, or (``csv_of``: the table's key) the ``.csv`` one."""
    if csv_of is None:
        ok = {"description": "The page's data.", "content": {JSON: {"schema": ref(schema)}}}
    else:
        ok = {"description": f"The page's `{csv_of}` table as CSV (one column per field; "
                             "lists joined with `|`; cells that a spreadsheet would read "
                             "as a formula are prefixed with `'`).",
              "headers": {"Content-Disposition": {"schema": STR,
                                                  "description": "attachment; filename=..."}},
              "content": {CSV: {"schema": STR}}}
    out: dict[str, Any] = {
        "operationId": op_id + ("_csv" if csv_of else ""),
        "summary": summary + (" (CSV)" if csv_of else ""),
        "description": description,
        "tags": [tag],
        "responses": {"200": ok, **{str(s): error(s, csv_of is not None)
                                    for s in sorted({*errors, 503})}},
    }
    if parameters:
        out["parameters"] = [param(p) for p in parameters]
    return out


def explorer_page(path: str, op_id: str, summary: str, description: str, schema: str,
                  parameters: list[str], errors: list[int], *,
                  csv: str | tuple[str, ...] | None = None) -> dict[str, Any]:
    """``path.json`` and, for a page with tables, ``path.csv`` (``?table=`` picks one of
    several; the first is the default)."""
    base = "/index" if path == "/" else path
    out = {base + ".json": {"get": operation(op_id, summary, description, schema,
                                             parameters, errors, "explorer")}}
    if csv is not None:
        tables = (csv,) if isinstance(csv, str) else csv
        op = operation(op_id, summary, description, schema, parameters,
                       sorted({*errors, 400}) if len(tables) > 1 else errors, "downloads",
                       csv_of=tables[0])
        if len(tables) > 1:
            op["parameters"] = [*op.get("parameters", []), {
                "name": "table", "in": "query", "required": False,
                "schema": {"type": "string", "enum": list(tables), "default": tables[0]},
                "description": "Which of the page's tables to download."}]
        out[base + ".csv"] = {"get": op}
    return out


LIST = ["page", "size"]


def with_optional_sign_in(paths: dict[str, Any]) -> dict[str, Any]:
    """Operations open to everyone that show more (restricted records) when signed in."""
    for item in paths.values():
        for op in item.values():
            op["security"] = [{}, {"cookieAuth": []}]
    return paths


CONSOLE_FORM = closed({
    "q": {"type": "string", "maxLength": MAX_STATEMENT_LENGTH},
    "limit": {"type": "string", "pattern": "^[0-9]*$"},
    "timeout": {"type": "string", "pattern": "^[0-9]*$"},
    "csrf_token": STR,
}, ["q"], "The same fields as the GET parameters.")


def console_operation(method: str, csv: bool) -> dict[str, Any]:
    """``/console.json`` or ``/console.csv``, by GET (shareable URLs) or POST (the form)."""
    bad: dict[str, Any] = {
        "description": "The statement was refused, rejected by the database or ran out of "
                       "time, or a field is out of range (see `kind`): always JSON."
                       + (" Also a missing or wrong CSRF token (the plain Error envelope; "
                          "an HTML page when JSON is not accepted)." if method == "post"
                          else ""),
        "content": {JSON: {"schema": ref("ConsoleError") if method == "get"
                           else {"anyOf": [ref("ConsoleError"), ref("Error")]}}}}
    if method == "post" and csv:
        bad["content"]["text/html"] = {"schema": STR}
    if csv:
        ok = {"description": "The result as CSV: a header of column names, then one line "
                             "per row (maps and nested lists as JSON).",
              "headers": {"X-Truncated": {"schema": enum(["true", "false"]),
                                          "description": "More rows than `limit`."},
                          "Content-Disposition": {"schema": STR}},
              "content": {CSV: {"schema": STR}}}
    else:
        ok = {"description": "The result.", "content": {JSON: {"schema": ref("ConsoleResult")}}}
    responses: dict[str, Any] = {"200": ok, "400": bad}
    responses.update({str(s): error(s, csv) for s in (429, 503)})
    out: dict[str, Any] = {
        "operationId": f"console_{'csv' if csv else 'json'}_{method}",
        "summary": "Query console" + (" (CSV)" if csv else ""),
        "description": "Run a read-only Cypher statement (a pure read; anything else is "
                       "refused) with a row limit and a time limit. Anonymous users and users "
                       "without the role that sees restricted records query the public copy "
                       "of the graph, which holds none. Rate-limited per user or client "
                       "address." + (" The form's POST needs the session's CSRF token."
                                     if method == "post" else ""),
        "tags": ["console"],
        "security": [{}, {"cookieAuth": []}],
        "responses": responses,
    }
    if method == "get":
        out["parameters"] = [param("console_q"), param("console_limit"),
                             param("console_timeout")]
    else:
        out["parameters"] = [param("csrf_header")]
        out["requestBody"] = {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": CONSOLE_FORM}}}
    return out


PATHS: dict[str, Any] = {
    **explorer_page("/", "home", "Home", "Node counts, the latest ingest runs, the zombie "
                    "repeats with the longest lag and the gap map by intervention type.",
                    "HomePage", [], []),
    **explorer_page("/search", "search", "Search", "Ranked search over solutions, "
                    "initiatives, evaluations and sites, with facet counts and filters.",
                    "SearchResults",
                    ["search_q", "facet_verdict", "facet_intervention_type",
                     "facet_technology", "facet_region", "facet_icb", "facet_site_kind",
                     "facet_year",
                     "page", "search_size"], [400], csv="results"),
    **explorer_page("/solutions", "solutions", "Solutions", "Every solution with its "
                    "verdict and number of initiatives, by name.", "SolutionsPage",
                    ["verdict", *LIST], [400], csv="solutions"),
    **explorer_page("/solutions/{solution_id}", "solution", "Solution", "One solution: its "
                    "verdict as of a date, the evaluations and attempts behind it, zombie "
                    "repeats, sites, outcomes and similar solutions.", "SolutionPage",
                    ["solution_id", "as_of", "year", "evaluations_page", "attempts_page",
                     "outcomes_page", "size"], [400, 404],
                    csv=("evaluations", "attempts", "outcomes")),
    **with_optional_sign_in(explorer_page(
        "/changes", "changes", "Evidence changes", "Verdict changes and new zombie repeats "
        "recorded by ingest runs, newest first. Restricted changes are shown to signed-in "
        "users only.", "ChangesPage", ["since", *LIST], [400], csv="changes")),
    "/changes.atom": {"get": {
        "operationId": "changes_atom", "summary": "Atom feed of evidence changes",
        "description": "The latest 100 changes on public records as an Atom 1.0 feed "
                       "(RFC 4287), for feed readers and Teams or Slack connectors.",
        "tags": ["feeds"],
        "responses": {"200": {"description": "An Atom feed.",
                              "content": {"application/atom+xml": {"schema": STR}}},
                      "503": error(503)}}},
    "/watches/{watch_id}.atom": {"get": {
        "operationId": "watch_atom", "summary": "Atom feed of one watch",
        "description": "The public changes one watch follows, as an Atom 1.0 feed. The "
                       "address (with its `token`) is given on the watcher's /watches "
                       "page; a wrong token is 404.",
        "tags": ["feeds"],
        "parameters": [{"name": "watch_id", "in": "path", "required": True, "schema": ID,
                        "description": "The watch's id.", "example": "w-0123456789abcdef0123"},
                       {"name": "token", "in": "query", "required": True, "schema": STR,
                        "description": "The feed's key."}],
        "responses": {"200": {"description": "An Atom feed.",
                              "content": {"application/atom+xml": {"schema": STR}}},
                      "404": error(404), "503": error(503)}}},
    "/watches.json": {"get": {
        **operation("watches", "Watches", "The signed-in user's watches, each with its "
                    "feed address and the number of new changes, and what changed since "
                    "the last visit.", "WatchesPage", [], [401], "watches"),
        "security": [{"cookieAuth": []}],
    }},
    "/watches": {"post": {
        "operationId": "watch_add", "summary": "Watch a solution, site or intervention type",
        "description": "Adds a watch for the signed-in user (one per target; adding it "
                       "again changes nothing). Answers JSON when the request accepts it, "
                       "else redirects. Needs the session's CSRF token.",
        "tags": ["watches"], "security": [{"cookieAuth": []}],
        "parameters": [param("csrf_header")],
        "requestBody": {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": closed({
                "target_kind": enum(["solution", "site", "intervention_type"]),
                "target_id": ID, "next": STR, "csrf_token": STR,
            }, ["target_kind", "target_id"])}}},
        "responses": {"200": {"description": "The watch.", "content": {JSON: {"schema": closed(
            {"ok": {"const": True}, "watch": closed({
                "id": ID, "target_kind": enum(["solution", "site", "intervention_type"]),
                "target_id": ID, "created_at": NSTR, "seen_at": NSTR})})}}},
            "302": {"description": "Back to the page the form was on."},
            **{str(s): error(s) for s in (400, 401, 404, 503)}}}},
    "/watches/{watch_id}/delete": {"post": {
        "operationId": "watch_delete", "summary": "Stop watching",
        "description": "Removes one of the signed-in user's watches. Needs the session's "
                       "CSRF token.",
        "tags": ["watches"], "security": [{"cookieAuth": []}],
        "parameters": [{"name": "watch_id", "in": "path", "required": True, "schema": ID,
                        "description": "The watch's id.",
                        "example": "w-0123456789abcdef0123"}, param("csrf_header")],
        "responses": {"200": {"description": "Removed.", "content": {JSON: {"schema": closed(
            {"ok": {"const": True}, "deleted": ID})}}},
            "302": {"description": "Back to /watches."},
            **{str(s): error(s) for s in (400, 401, 404, 503)}}}},
    "/watches/seen": {"post": {
        "operationId": "watch_seen", "summary": "Mark changes as seen",
        "description": "Marks every change of the signed-in user's watches as seen: "
                       "\"since your last visit\" starts again from now. Needs the "
                       "session's CSRF token.",
        "tags": ["watches"], "security": [{"cookieAuth": []}],
        "parameters": [param("csrf_header")],
        "responses": {"200": {"description": "Done.", "content": {JSON: {"schema": closed(
            {"ok": {"const": True}})}}},
            "302": {"description": "Back to /watches."},
            **{str(s): error(s) for s in (400, 401, 503)}}}},
    **explorer_page("/initiatives/{initiative_id}", "initiative", "Initiative",
                    "One initiative: its solutions, sites, outcomes, evaluations, what it "
                    "learned from, and whether it repeats a failure.", "InitiativePage",
                    ["initiative_id"], [404], csv=("outcomes", "evaluations", "sites")),
    **explorer_page("/evaluations/{evaluation_id}", "evaluation", "Evaluation",
                    "One evaluation: the initiatives it evaluated, their solutions and the "
                    "outcomes it reports.", "EvaluationPage", ["evaluation_id"], [404],
                    csv=("outcomes", "initiatives")),
    **explorer_page("/evaluations", "evaluations", "Evaluations", "Evaluations by "
                    "publication date, filtered like a cell of the gap map.",
                    "EvaluationsPage",
                    ["solution", "evaluations_intervention_type", "domain", *LIST], [400],
                    csv="evaluations"),
    **explorer_page("/sites/{site_id}", "site", "Site", "One site: its place in the NHS "
                    "hierarchy, the initiatives tried there and their outcomes against "
                    "peers.", "SitePage", ["site_id"], [404], csv=("initiatives", "outcomes")),
    **explorer_page("/zombies", "zombies", "Zombie repeats", "Initiatives that repeated a "
                    "solution after evidence that it does not work, without citing it; and "
                    "informed re-tries that did cite it.", "ZombiesPage",
                    ["as_of", "solution", "min_lag", *LIST], [400], csv=("zombies", "retries")),
    **explorer_page("/gap-map", "gap_map", "Evidence gap map", "Evaluations per solution "
                    "(or intervention type) and quality domain.", "GapMapPage", ["by", *LIST],
                    [400], csv="cells"),
    **explorer_page("/deviance", "deviance", "Positive deviance", "Sites whose outcome on "
                    "a measure improved far more than their peers'.", "DeviancePage",
                    ["measure"], [404], csv=("changes", "deviants")),
    **explorer_page("/check", "check", "Proposal check", "Before funding: the closest "
                    "solutions with their verdicts, the zombie risk and what to read first.",
                    "CheckPage", ["check_q", "as_of"], [400]),
    **explorer_page("/method", "method", "Method", "The method page (no data).",
                    "MethodPage", [], []),
    **with_optional_sign_in(explorer_page(
        "/graph", "graph", "Graph view", "One node's neighbourhood (one hop): the node, its "
        "neighbours and the relationships between them. Restricted records are shown to "
        "signed-in users only.", "GraphPage", ["node", "graph_kind", "graph_id"], [400, 404],
        csv="edges")),
    "/console.json": {"get": console_operation("get", False),
                      "post": console_operation("post", False)},
    "/console.csv": {"get": console_operation("get", True),
                     "post": console_operation("post", True)},
    "/console/schema.json": {"get": {
        **operation("console_schema", "Query console schema", "The labels, their property "
                    "names and the relationship types, as the console's sidebar shows them "
                    "(`error` is set when the store could not list them), for the copy of "
                    "the graph the user may query.", "ConsoleSchema", [], [429], "console"),
        "security": [{}, {"cookieAuth": []}],
    }},
    "/curation.json": {"get": {
        **operation("curation", "Curation", "The resolution state of every initiative "
                    "loaded without a declared solution; unresolved ones come with their "
                    "best-matching solutions. Curators and admins only.", "CurationPage",
                    ["status", *LIST], [400, 401, 403], "curation"),
        "security": [{"cookieAuth": []}],
    }},
    "/curation/decide.json": {"post": {
        **operation("curation_decide", "Record a curation decision", "Accept or reject a "
                    "proposed solution for an initiative; the decision is kept with the "
                    "curator's name. Curators and admins only: signed in (then with the "
                    "session's CSRF token) or with an API token (`Authorization: Bearer`, "
                    "no CSRF token needed).", "Resolution", [], [400, 401, 403, 404],
                    "curation"),
        "security": [{"cookieAuth": []}, {"bearerAuth": []}],
        "parameters": [param("csrf_header")],
        "requestBody": {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": closed({
                "initiative_id": ID, "solution_id": ID,
                "decision": enum(list(DECISIONS)), "csrf_token": STR,
            }, ["initiative_id", "solution_id", "decision"])}}},
    }},
    "/curation/candidates.json": {"get": {
        **operation("curation_candidates", "Candidate evaluations", "Studies that "
                    "ClinicalTrials.gov and Europe PMC returned for a solution, waiting for "
                    "(or after) a curator's decision, with the design guessed and why. "
                    "Curators and admins only.", "CandidatesPage",
                    ["candidate_status", "candidate_solution", *LIST], [400, 401, 403],
                    "curation"),
        "security": [{"cookieAuth": []}],
    }},
    "/curation/candidates/decide.json": {"post": {
        **operation("curation_candidates_decide", "Accept or reject a candidate",
                    "`accept` loads the candidate as an evaluation of `initiative_ids` "
                    "(repeat the field) with `finding`, and `design` and `published_date` "
                    "when not the candidate's; its id derives from the DOI or registry id "
                    "and its run records the source URL and retrieval time. `reject` "
                    "keeps it out of later fetches. Curators and admins only; needs the "
                    "session's CSRF token.", "CandidateDecision", [],
                    [400, 401, 403, 404], "curation"),
        "security": [{"cookieAuth": []}],
        "parameters": [param("csrf_header")],
        "requestBody": {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": closed({
                "candidate_id": ID, "decision": enum(["accept", "reject"]),
                "initiative_ids": {"oneOf": [ID, array(ID)]},
                "finding": STR, "design": STR, "published_date": STR, "csrf_token": STR,
            }, ["candidate_id", "decision"])}}},
    }},
    "/openapi.json": {"get": {
        "operationId": "openapi", "summary": "This description", "tags": ["meta"],
        "description": "The OpenAPI 3.1 description of the explorer's JSON and CSV "
                       "endpoints.",
        "responses": {"200": {"description": "An OpenAPI 3.1 document.",
                              "content": {JSON: {"schema": {
                                  "type": "object", "required": ["openapi", "info", "paths"],
                                  "properties": {"openapi": {"const": "3.1.0"}}}}}}},
    }},
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "triedbefore explorer",
        "version": "0.1.0",
        "summary": "Has this been tried before, where, and what happened?",
        "description": "The machine-readable side of the explorer. Every page at `PATH` "
                       "has a JSON twin at `PATH.json` (the home page: `/index.json`) "
                       "answering `{\"ok\": true, ...the page's data}`; pages with a table "
                       "also have a CSV download at `PATH.csv`. Errors are "
                       "`{\"ok\": false, \"error\", \"status\"}` with status 400 (bad "
                       "parameter), 401/403 (sign-in or role), 404 (unknown id) or 503 "
                       "(store unavailable); the console's 400 adds `kind`. The definitions "
                       "behind verdicts, zombie repeats and deviance are on `/method`.",
        "license": {"name": "MIT", "identifier": "MIT"},
    },
    "servers": [{"url": "/"}],
    "tags": [
        {"name": "explorer", "description": "The JSON twin of each explorer page."},
        {"name": "downloads", "description": "The CSV download of each page with a table."},
        {"name": "console", "description": "Read-only Cypher queries (rate-limited)."},
        {"name": "curation", "description": "Solution resolution by curators (sign-in)."},
        {"name": "feeds", "description": "Atom feeds of evidence changes."},
        {"name": "watches", "description": "What a signed-in user follows (sign-in)."},
        {"name": "meta", "description": "This description."},
    ],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "parameters": PARAMETERS,
        "securitySchemes": {
            "cookieAuth": {
                "type": "apiKey", "in": "cookie", "name": "session",
                "description": "Flask's signed session cookie, set by signing in with a "
                               "form POST to `/login` (fields `name`, `password`, "
                               "`csrf_token`). Roles: viewer < curator < admin.",
            },
            "bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "An API token made with `triedbefore user token NAME`; it "
                               "acts as that user (and role). A request with an invalid "
                               "token is refused with 401.",
            },
        },
    },
}
