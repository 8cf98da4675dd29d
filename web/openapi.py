"""The OpenAPI 3.1 description of the explorer's machine-readable side, generated from the
app: every page of the registry (``web.pages.PAGES``: its ``.json`` twin, described by the
page's response model, and its ``.csv`` download), found in the app's URL map, and the
other endpoints declared in :data:`ENDPOINTS` (console, curation, feeds, watches, this
description). Component schemas are the models of ``web/schemas.py`` as pydantic renders
them (JSON Schema 2020-12).

:func:`document` builds the description of an app once; ``apidocs.py`` serves it at
``/openapi.json`` and lists it at ``/api``. A ``.json`` or ``.csv`` route without a model
(a page registered without ``response=``, or a route missing from :data:`ENDPOINTS`) makes
:func:`build` raise :class:`Undescribed`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from importlib import metadata
from typing import Annotated, Any, Literal

from flask import Flask
from pydantic import BaseModel, Field, TypeAdapter
from pydantic.json_schema import models_json_schema

from triedbefore.graph import queries
from triedbefore.graph.readonly import MAX_STATEMENT_LENGTH
from triedbefore.ontology.vocab import InterventionType, SiteKind, Verdict
from triedbefore.web import schemas as s
from triedbefore.web.pages import PAGES

JSON = "application/json"
CSV = "text/csv"
FORM = "application/x-www-form-urlencoded"
REF = "#/components/schemas/{model}"

#: Example ids from the sample bundle (``ingest/sample``), used as parameter examples.
EXAMPLES = {
    "solution_id": "SOL-TELE",
    "initiative_id": "INI-0021",
    "evaluation_id": "EVAL-0004",
    "site_id": "RBL",
    "measure": "Emergency admissions from care homes per 1,000 residents",
    "node": "solution:SOL-TELE",
}


class Undescribed(LookupError):
    """Routes of the app that the description lacks (or declared ones that are not
    routes)."""


# --- parameters -----------------------------------------------------------------------


def schema_of(tp: Any) -> dict[str, Any]:
    """The JSON Schema of a parameter's type, as the models' fields render it (inline)."""
    out = TypeAdapter(tp).json_schema(ref_template=REF, schema_generator=s.ResponseSchema)
    out.pop("title", None)
    return out


def query(name: str, tp: Any, description: str, **extra: Any) -> dict[str, Any]:
    default = extra.pop("default", None)
    schema = schema_of(tp) | ({"default": default} if default is not None else {})
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description, **extra}


def path_id(name: str, example: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema_of(s.Id),
            "description": f"The {name.removesuffix('_id')}'s id.", "example": example}


def number(lo: int, hi: int | None = None) -> Any:
    return Annotated[int, Field(ge=lo, le=hi)]


def text(**constraints: Any) -> Any:
    return Annotated[str, Field(**constraints)]


PARAMETERS: dict[str, dict[str, Any]] = {
    **{name: path_id(name, EXAMPLES[name])
       for name in ("solution_id", "initiative_id", "evaluation_id", "site_id")},
    "watch_id": path_id("watch_id", "w-0123456789abcdef0123"),
    "contribution_id": path_id("contribution_id", "CON-00001"),
    "suggest_q": query("q", text(max_length=200), "What was typed (2 characters or more; "
                       "fewer: no suggestions).", example="care home"),
    "page": query("page", number(1, 1_000_000), "Page number (1 is the first); a page past "
                  "the last is 404.", default=1),
    "size": query("size", number(1, 500), "Rows per page.", default=50),
    **{f"{table}_page": query(f"{table}_page", number(1, 1_000_000),
                              f"Page of the {table} table (1 is the first).", default=1)
       for table in ("evaluations", "attempts", "outcomes")},
    "as_of": query("as_of", date, "Answer as of this date (YYYY-MM-DD): only evidence "
                   "published and initiatives started by then. Default: today.",
                   example="2014-01-01"),
    "verdict": query("verdict", Verdict, "Only solutions with this verdict."),
    "year": query("year", number(1800, 2200), "The year slider: as of 31 December of this "
                  "year (when `as_of` is not given).", example=2015),
    "since": query("since", date, "Only changes recorded on or after this date "
                   "(YYYY-MM-DD).", example="2024-01-01"),
    "solution": query("solution", s.Id, "Only rows of this solution (id).",
                      example=EXAMPLES["solution_id"]),
    "min_lag": query("min_lag", number(0, 100_000), "Only repeats started at least this "
                     "many days after the ignored evidence.", default=0),
    "evaluations_intervention_type": query(
        "intervention_type", s.InterventionTypeFilter,
        "Only evaluations of solutions of this intervention type."),
    "domain": query("domain", s.GapDomain.__value__,
                    "Only evaluations reporting an outcome in this quality domain."),
    "by": query("by", Literal["solution", "intervention_type"], "Rows of the map: one per "
                "solution, or one per intervention type.", default="solution"),
    "colour": query("colour", Literal["verdict", "cost"], "What the map's colours show: each "
                    "row's verdict, or whether any attempt of the row reported its cost.",
                    default="verdict"),
    "measure": query("measure", s.Id, "An outcome measure (as listed in `measures`); "
                     "matched without regard to case or spacing. Unknown: 404.",
                     example=EXAMPLES["measure"]),
    "search_q": query("q", text(max_length=s.SEARCH_Q_MAX),
                      "What to search for. Empty: no results. Cut to `search_max_query_chars` "
                      "characters (500) before it is searched; `cut` says so.",
                      example="hospital at home"),
    "search_all": query("all", Literal["1"], "1: list the hits below the relevance floor "
                        "too (`listed` false)."),
    "search_size": query("size", number(1, 500), "Results per page.", default=20),
    "facet_verdict": query("verdict", Verdict, "Facet: solutions' verdict."),
    "facet_intervention_type": query("intervention_type", InterventionType,
                                     "Facet: solutions' intervention type."),
    "facet_technology": query("technology", Literal["true", "false"],
                              "Facet: solutions that are (or are not) a technology."),
    "facet_region": query("region", str, "Facet: initiatives at a site in this NHS region "
                          "(`Wales` for sites in Wales).", example="London"),
    "facet_icb": query("icb", str, "Facet: initiatives at a site in this integrated care "
                       "board or Welsh local health board (the site, or an organisation "
                       "above it, is the ICB or board).",
                       example="NHS West Yorkshire Integrated Care Board"),
    "facet_site_kind": query("site_kind", SiteKind,
                             "Facet: initiatives at a site of this kind."),
    "facet_year": query("year", text(pattern="^[0-9]{4}$"),
                        "Facet: initiatives started in this year.", example="2016"),
    "site": query("site", text(max_length=200), "Your organisation: an ODS code, or part of "
                  "its name (several matches: none is chosen and the candidates are listed).",
                  example=EXAMPLES["site_id"]),
    "check_q": query("q", text(max_length=10_000),
                     "The proposal's text. Empty: no report.",
                     example="Proposal: telehealth monitoring for COPD patients"),
    "status": query("status", s.ResolutionStatus.__value__,
                    "Only proposals with this status."),
    "candidate_status": query("status", s.CandidateStatus, "Only candidates with this status."),
    "candidate_solution": query("solution", str, "Only candidates of this solution.",
                                example="SOL-TELE"),
    "node": query("node", text(pattern="^[a-z]+:.+$", max_length=220),
                  "The centre: `<kind>:<id>`, kind one of "
                  + ", ".join(s.GraphKind.__value__.__args__)
                  + ". Required (or `kind` and `id`).", example=EXAMPLES["node"]),
    "graph_kind": query("kind", s.GraphKind.__value__, "The centre's kind (with `id`, in "
                        "place of `node`).", example="site"),
    "graph_id": query("id", text(min_length=1, max_length=200),
                      "The centre's id (with `kind`).", example=EXAMPLES["site_id"]),
    "console_q": query("q", text(max_length=MAX_STATEMENT_LENGTH),
                       "A read-only Cypher statement (required). Anything that is not a pure "
                       "read is refused.", example=queries.CONSOLE_EXAMPLE_SOLUTIONS),
    "console_limit": query("limit", number(1), "Most rows returned: 1 to the configured "
                           "maximum (`TRIEDBEFORE_CONSOLE_ROW_LIMIT`, 1000 by default); "
                           "default the smaller of 100 and that."),
    "console_timeout": query("timeout", number(1), "Time limit in milliseconds: 1 to the "
                             "configured maximum (`TRIEDBEFORE_CONSOLE_TIMEOUT_MS`, 5000 by "
                             "default), which is the default."),
    "feed_token": {"name": "token", "in": "query", "required": True,
                   "schema": {"type": "string"}, "description": "The feed's key."},
    "csrf_header": {"name": "X-CSRF-Token", "in": "header", "required": False,
                    "schema": {"type": "string"},
                    "description": "The session's CSRF token (the `csrf_token` field of any "
                                   "form the signed-in user is shown); or send it as the "
                                   "`csrf_token` form field. Missing or wrong: 400."},
}


def param(name: str | dict[str, Any]) -> dict[str, Any]:
    """A reference to one of :data:`PARAMETERS`, or (a dict) a parameter of one operation."""
    return name if isinstance(name, dict) else {"$ref": f"#/components/parameters/{name}"}


# --- operations -------------------------------------------------------------------------

ERROR_TEXT = {
    400: "A parameter is malformed or out of range, or the address, a parameter or a form "
         "field holds a control character (any request may be refused so).",
    401: "Not signed in.",
    403: "Signed in without the needed role.",
    404: "No record with that id (or no such measure), or a page past the last: the "
         "error names the last page.",
    414: "The address is longer than the explorer takes (65,000 characters).",
    429: "Too many requests from this client; `Retry-After` says when to try again.",
    503: "The graph store is unavailable or refused the query.",
}
STRING = {"type": "string"}
SIGNED_IN = [{"cookieAuth": []}]
#: Open to everyone; signed in, more is shown (restricted records) or allowed.
SIGNED_IN_SEES_MORE = [{}, {"cookieAuth": []}]
#: The console: signed in (cookie or API token); a deployment may open it to everyone.
CONSOLE_SECURITY = [{"cookieAuth": []}, {"bearerAuth": []}]


def error(status: int, html: bool = False) -> dict[str, Any]:
    """An error answer: the Error envelope (or, ``html``, an HTML page unless the request
    accepts JSON, as downloads and forms answer)."""
    content: dict[str, Any] = {JSON: {"schema": s.Error}}
    if not html:
        return {"description": ERROR_TEXT[status], "content": content}
    return {"description": ERROR_TEXT[status] + " JSON when the request accepts "
            "application/json, else an HTML page.", "content": content | {
                "text/html": {"schema": STRING}}}


def described(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split())


def operation(op_id: str, summary: str, response: type[BaseModel] | None = None, *,
              description: str = "", tag: str = "explorer", parameters: tuple[Any, ...] = (),
              errors: tuple[int, ...] = (), store: bool = True,
              security: list[Any] | None = None, form: type[BaseModel] | None = None,
              ok: str = "The page's data.", html_errors: bool = False,
              responses: dict[str, Any] | None = None) -> dict[str, Any]:
    """An operation: ``response`` is the model of its JSON answer (200), ``description``
    by default that model's docstring; ``form`` the model of its form body; ``errors`` its
    error statuses, with 503 when it reads the ``store``; ``responses`` other answers. Model
    classes stay in the dict until :func:`build` replaces them with references to their
    component schemas."""
    out: dict[str, Any] = {"operationId": op_id, "summary": summary,
                           "description": description or (described(response)
                                                          if response else ""),
                           "tags": [tag]}
    if security is not None:
        out["security"] = security
    if parameters:
        out["parameters"] = [param(p) for p in parameters]
    if form is not None:
        out["requestBody"] = {"required": True, "content": {FORM: {"schema": form}}}
    answers: dict[str, Any] = {}
    if response is not None:
        answers["200"] = {"description": ok, "content": {JSON: {"schema": response}}}
    answers |= {str(c): error(c, html_errors)
                for c in {*errors, *([503] if store else []), 414}}
    out["responses"] = dict(sorted((answers | (responses or {})).items()))
    return out


def redirect(to: str) -> dict[str, Any]:
    return {"302": {"description": f"JSON not accepted: back to {to}."}}


def atom(description: str) -> dict[str, Any]:
    return {"200": {"description": description,
                    "content": {"application/atom+xml": {"schema": STRING}}}}


#: Per page endpoint: its query parameters (names in :data:`PARAMETERS`), the error
#: statuses it answers besides 503, and whether signing in shows more.
LIST = ("page", "size")
PAGE_DOCS: dict[str, tuple[tuple[str, ...], tuple[int, ...], bool]] = {
    "explore.home": ((), (), False),
    "explore.search": (("search_q", "facet_verdict", "facet_intervention_type",
                        "facet_technology", "facet_region", "facet_icb", "facet_site_kind",
                        "facet_year", "page", "search_size", "search_all"), (400,), False),
    "explore.solutions": (("verdict", *LIST), (400,), False),
    "explore.solution": (("as_of", "year", "evaluations_page", "attempts_page",
                          "outcomes_page", "size", "site"), (400, 404), False),
    "explore.initiative": ((), (404,), False),
    "explore.evaluation": ((), (404,), False),
    "explore.evaluations": (("solution", "evaluations_intervention_type", "domain", *LIST),
                            (400,), False),
    "explore.site": ((), (404,), False),
    "explore.zombies": (("as_of", "solution", "min_lag", *LIST), (400,), False),
    "explore.gap_map": (("by", "colour", *LIST), (400,), False),
    "explore.evidence_matrix": (("as_of", "year"), (400, 404), False),
    "explore.deviance": (("measure",), (404,), False),
    "explore.check": (("check_q", "as_of", "site"), (400,), False),
    "explore.method": ((), (), False),
    "living.changes": (("since", *LIST), (400,), True),
    "graphview.graph": (("node", "graph_kind", "graph_id"), (400, 404), True),
    "explore.design": ((), (404,), False),
}


#: The form body of each page that also takes POST (its fields are its GET parameters).
PAGE_FORMS: dict[str, type[s.Form]] = {"explore.check": s.CheckForm}


def page_operation(entry: dict[str, Any], csv: bool,
                   method: str = "GET") -> dict[str, Any] | None:
    """The ``.json`` twin of a registered page, or (``csv``) its download, by ``method``;
    None when the page has no response model or no entry in :data:`PAGE_DOCS`."""
    model, docs = entry.get("response"), PAGE_DOCS.get(entry["endpoint"])
    if model is None or docs is None:
        return None
    parameters, errors, more = docs
    if any(p == "page" or p.endswith("_page") for p in parameters):
        errors = tuple(sorted({*errors, 404}))  # a page past the last
    name, tables = entry["endpoint"].split(".")[-1], entry["tables"]
    security = SIGNED_IN_SEES_MORE if more else None
    if method == "POST" and not csv:
        return operation(name + "_post", entry["title"] + " (form body)", model,
                         description=described(model) + " The same as GET, its parameters "
                         "sent as a form body (for a text too long for an address); it "
                         "only reads, so it needs no CSRF token.",
                         errors=(*errors, 400), form=PAGE_FORMS[entry["endpoint"]],
                         security=security)
    if not csv:
        return operation(name, entry["title"], model, parameters=parameters, errors=errors,
                         security=security)
    if len(tables) > 1:
        errors = (*errors, 400)
        parameters = (*parameters, {
            "name": "table", "in": "query", "required": False,
            "schema": {"type": "string", "enum": list(tables), "default": tables[0]},
            "description": "Which of the page's tables to download."})
    download = {"200": {
        "description": f"The page's `{tables[0]}` table as CSV (one column per field; lists "
                       "joined with `|`; cells that a spreadsheet would read as a formula "
                       "are prefixed with `'`).",
        "headers": {"Content-Disposition": {"schema": STRING,
                                            "description": "attachment; filename=..."}},
        "content": {CSV: {"schema": STRING}}}}
    return operation(name + "_csv", entry["title"] + " (CSV)", description=described(model),
                     tag="downloads", parameters=parameters, errors=errors, security=security,
                     html_errors=True, responses=download)


def console_operation(method: str, csv: bool) -> dict[str, Any]:
    """``/console.json`` or ``/console.csv``, by GET (shareable URLs) or POST (the form)."""
    post = method == "POST"
    bad: dict[str, Any] = {
        "description": "The statement was refused, rejected by the database or ran out of "
                       "time, or a field is out of range (see `kind`): always JSON."
                       + (" Also a missing or wrong CSRF token (the plain Error envelope; "
                          "an HTML page when JSON is not accepted)." if post else ""),
        "content": {JSON: {"schema": {"anyOf": [s.ConsoleError, s.Error]} if post
                           else s.ConsoleError}}}
    if post and csv:
        bad["content"]["text/html"] = {"schema": STRING}
    answers = {"400": bad, "401": error(401), "429": error(429, csv), "503": {
        "description": ERROR_TEXT[503] + " Also (`kind` `busy`, with `Retry-After`) when "
                       "every place for console statements stayed taken for the whole time "
                       "limit, or the console's own database server was still starting "
                       "(it copies the graph after a statement overran its limits).",
        "headers": {"Retry-After": {"schema": {"type": "integer"},
                                    "description": "Seconds to wait (when busy)."}},
        "content": {JSON: {"schema": {"anyOf": [s.ConsoleError, s.Error]}}}}}
    if csv:
        answers["200"] = {
            "description": "The result as CSV: a header of column names, then one line per "
                           "row (maps and nested lists as JSON).",
            "headers": {"X-Truncated": {"schema": {"type": "string",
                                                   "enum": ["true", "false"]},
                                        "description": "More rows than `limit`."},
                        "Content-Disposition": {"schema": STRING}},
            "content": {CSV: {"schema": STRING}}}
    return operation(
        f"console_{'csv' if csv else 'json'}_{method.lower()}",
        "Query console" + (" (CSV)" if csv else ""), None if csv else s.ConsoleResult,
        description="Run a read-only Cypher statement (a pure read; anything else is "
                    "refused) with a row limit and a time limit, both enforced by the "
                    "database; with the embedded store it runs on the console's own server, "
                    "a read-only replica stopped and started again when a statement "
                    "overruns its time or memory (400, `timeout` or `query_error`). Needs "
                    "sign-in (401 otherwise) unless the deployment opens "
                    "the console to signed-out readers (setting `console_anonymous`). Users "
                    "without the role that sees restricted records (and signed-out readers) "
                    "query the public copy of the graph, which holds none. Rate-limited per "
                    "user or client address."
                    + (" The form's POST needs the session's CSRF token." if post else ""),
        tag="console", security=CONSOLE_SECURITY, ok="The result.", html_errors=csv,
        parameters=("csrf_header",) if post else ("console_q", "console_limit",
                                                  "console_timeout"),
        form=s.ConsoleForm if post else None, responses=answers)


#: The endpoints that are not registered pages, by (Flask endpoint, method).
ENDPOINTS: dict[tuple[str, str], dict[str, Any]] = {
    **{("console.console_" + kind, method): console_operation(method, kind == "csv")
       for kind in ("json", "csv") for method in ("GET", "POST")},
    ("console.console_schema_json", "GET"): operation(
        "console_schema", "Query console schema", s.ConsoleSchema, tag="console",
        description="The labels, their property names and the relationship types, as the "
                    "console's sidebar shows them (`error` is set when the store could not "
                    "list them), for the copy of the graph the user may query. Needs "
                    "sign-in unless `console_anonymous` is set.",
        errors=(401, 429), security=CONSOLE_SECURITY),
    ("curation.curation_json", "GET"): operation(
        "curation", "Curation", s.CurationPage, tag="curation", security=SIGNED_IN,
        description=described(s.CurationPage) + " Curators and admins only.",
        parameters=("status", *LIST), errors=(400, 401, 403)),
    ("curation.decide_json", "POST"): operation(
        "curation_decide", "Record a curation decision", s.Resolution, tag="curation",
        description="Accept or reject a proposed solution for an initiative; the decision "
                    "is kept with the curator's name. Curators and admins only: signed in "
                    "(then with the session's CSRF token) or with an API token "
                    "(`Authorization: Bearer`, no CSRF token needed).",
        security=[{"cookieAuth": []}, {"bearerAuth": []}], parameters=("csrf_header",),
        form=s.DecisionForm, errors=(400, 401, 403, 404)),
    ("curation.candidates_json", "GET"): operation(
        "curation_candidates", "Candidate evaluations", s.CandidatesPage, tag="curation",
        description=described(s.CandidatesPage) + " Curators and admins only.",
        security=SIGNED_IN, parameters=("candidate_status", "candidate_solution", *LIST),
        errors=(400, 401, 403)),
    ("curation.decide_candidate_json", "POST"): operation(
        "curation_candidates_decide", "Accept or reject a candidate", s.CandidateDecision,
        tag="curation", security=SIGNED_IN, parameters=("csrf_header",),
        description="`accept` loads the candidate as an evaluation of `initiative_ids` "
                    "(repeat the field) with `finding`, and `design` and `published_date` "
                    "when not the candidate's; its id derives from the DOI or registry id and "
                    "its run records the source URL and retrieval time. `reject` keeps it "
                    "out of later fetches. Curators and admins only; needs the session's "
                    "CSRF token.",
        form=s.CandidateDecisionForm, errors=(400, 401, 403, 404)),
    ("living.changes_atom", "GET"): operation(
        "changes_atom", "Atom feed of evidence changes", tag="feeds",
        description="The latest 100 changes on public records as an Atom 1.0 feed "
                    "(RFC 4287), for feed readers and Teams or Slack connectors.",
        responses=atom("An Atom feed.")),
    ("living.watch_atom", "GET"): operation(
        "watch_atom", "Atom feed of one watch", tag="feeds", errors=(404,),
        description="The public changes one watch follows, as an Atom 1.0 feed. The address "
                    "(with its `token`) is given on the watcher's /watches page; a wrong "
                    "token is 404.",
        parameters=("feed_token",), responses=atom("An Atom feed.")),
    ("living.watches_json", "GET"): operation(
        "watches", "Watches", s.WatchesPage, tag="watches", security=SIGNED_IN,
        errors=(401,)),
    ("living.add_watch", "POST"): operation(
        "watch_add", "Watch a solution, site or intervention type", s.WatchAdded,
        tag="watches", security=SIGNED_IN, parameters=("csrf_header",), form=s.WatchForm,
        description="Adds a watch for the signed-in user (one per target; adding it again "
                    "changes nothing). Answers JSON when the request accepts it, else "
                    "redirects. Needs the session's CSRF token.",
        ok="The watch.", errors=(400, 401, 404), responses=redirect("the page the form was on")),
    ("living.delete_watch", "POST"): operation(
        "watch_delete", "Stop watching", s.WatchDeleted, tag="watches", security=SIGNED_IN,
        description="Removes one of the signed-in user's watches. Needs the session's CSRF "
                    "token.", parameters=("csrf_header",), ok="Removed.",
        errors=(400, 401, 404), responses=redirect("/watches")),
    ("living.mark_seen", "POST"): operation(
        "watch_seen", "Mark changes as seen", s.Done, tag="watches", security=SIGNED_IN,
        description="Marks every change of the signed-in user's watches as seen: \"since "
                    "your last visit\" starts again from now. Needs the session's CSRF "
                    "token.", parameters=("csrf_header",), ok="Done.", errors=(400, 401),
        responses=redirect("/watches")),
    **{(f"contribute.{name}", method): op for name, method, op in (
        ("view_json", "GET", operation(
            "contribution", "One contribution", s.ContributionPage, tag="contributions",
            security=[{"cookieAuth": []}, {"bearerAuth": []}], errors=(401, 404),
            description=described(s.ContributionPage) + " Anyone else gets 404, as for an "
            "id that does not exist.")),
        ("mine_json", "GET", operation(
            "my_contributions", "My contributions", s.MyContributionsPage,
            tag="contributions", security=[{"cookieAuth": []}, {"bearerAuth": []}],
            errors=(401,))),
        ("moderation_json", "GET", operation(
            "moderation", "Moderation queue", s.ModerationPage, tag="contributions",
            security=[{"cookieAuth": []}, {"bearerAuth": []}], errors=(401, 403))),
        ("submit_json", "POST", {**operation(
            "contribution_submit", "Record an attempt", s.ContributionSaved,
            tag="contributions", security=[{"cookieAuth": []}, {"bearerAuth": []}],
            parameters=("csrf_header",), errors=(400, 401, 403, 404, 429),
            description="The contribution as a JSON object (the fields of "
                        "ContributionData; `\"draft\": true` keeps it a draft; `\"id\"` "
                        "updates one of your own). It is saved first, then checked as an "
                        "interchange bundle is (the same messages): with problems, or an "
                        "attempt that looks the same (same solution, site and start), it "
                        "stays a draft and the answer lists them (`separate: true` says it "
                        "is a different attempt; `merge_into` adds it to one). Otherwise it "
                        "waits for moderation. Any signed-in account; saves are limited per "
                        "hour (429)."),
            "requestBody": {"required": True,
                            "content": {JSON: {"schema": s.ContributionData}}}}),
        ("accept_json", "POST", operation(
            "contribution_accept", "Accept a contribution", s.ContributionDecided,
            tag="contributions", security=[{"cookieAuth": []}, {"bearerAuth": []}],
            parameters=("csrf_header",), form=s.ContributionDecisionForm,
            errors=(400, 401, 403, 404),
            description="Loads the contribution into the graph through the ingest path "
                        "(its rows checked as a bundle's), recording who contributed it "
                        "(as they chose to be named), when, and the curator. Curators and "
                        "admins only.")),
        ("return_json", "POST", operation(
            "contribution_return", "Return a contribution", s.ContributionDecided,
            tag="contributions", security=[{"cookieAuth": []}, {"bearerAuth": []}],
            parameters=("csrf_header",), form=s.ContributionDecisionForm,
            errors=(400, 401, 403, 404),
            description="Sends the contribution back to its contributor with `comment` "
                        "(required). Curators and admins only.")),
        ("suggest_solutions", "GET", operation(
            "suggest_solutions", "Solutions as you type", s.SuggestionsPage,
            tag="contributions", parameters=("suggest_q",), errors=(400,))),
        ("suggest_sites", "GET", operation(
            "suggest_sites", "Sites as you type", s.SuggestionsPage, tag="contributions",
            parameters=("suggest_q",), errors=(400,),
            description="Sites whose ODS code is `q` or whose name matches it.")),
    )},
    ("apidocs.openapi", "GET"): operation(
        "openapi", "This description", s.OpenAPIDocument, tag="meta",
        description="The OpenAPI 3.1 description of the explorer's JSON and CSV endpoints.",
        ok="An OpenAPI 3.1 document.", store=False),
}


# --- the document -----------------------------------------------------------------------

INFO = {
    "title": "triedbefore explorer",
    "version": metadata.version("triedbefore"),
    "summary": "Has this been tried before, where, and what happened?",
    "description": "The machine-readable side of the explorer. Every page at `PATH` has a "
                   "JSON twin at `PATH.json` (the home page: `/index.json`) answering "
                   "`{\"ok\": true, ...the page's data}`; pages with a table also have a CSV "
                   "download at `PATH.csv`. Errors are `{\"ok\": false, \"error\", "
                   "\"status\"}` with status 400 (bad parameter), 401/403 (sign-in or role), "
                   "404 (unknown id) or 503 (store unavailable); the console's 400 adds "
                   "`kind`. The definitions behind verdicts, zombie repeats and deviance are "
                   "on `/method`.",
    "license": {"name": "MIT", "identifier": "MIT"},
}
TAGS = [
    {"name": "explorer", "description": "The JSON twin of each explorer page."},
    {"name": "downloads", "description": "The CSV download of each page with a table."},
    {"name": "console", "description": "Read-only Cypher queries (rate-limited)."},
    {"name": "curation", "description": "Solution resolution by curators (sign-in)."},
    {"name": "feeds", "description": "Atom feeds of evidence changes."},
    {"name": "watches", "description": "What a signed-in user follows (sign-in)."},
    {"name": "contributions", "description": "Records of attempts sent by the people who "
                                             "ran them, and their moderation (sign-in)."},
    {"name": "meta", "description": "This description."},
]
SECURITY_SCHEMES = {
    "cookieAuth": {
        "type": "apiKey", "in": "cookie", "name": "session",
        "description": "Flask's signed session cookie, set by signing in with a form POST to "
                       "`/login` (fields `name`, `password`, `csrf_token`). Roles: "
                       "contributor < viewer < curator < admin.",
    },
    "bearerAuth": {
        "type": "http", "scheme": "bearer",
        "description": "An API token made with `triedbefore user token NAME`; it acts as that "
                       "user (and role). A request with an invalid, revoked or expired token "
                       "is refused with 401. Tokens expire after `token_days` (90) days.",
    },
    "csrfToken": {
        "type": "apiKey", "in": "header", "name": "X-CSRF-Token",
        "description": "CSRF protection: every POST, PUT, PATCH or DELETE made with the "
                       "session cookie must carry the session's CSRF token, in this header or "
                       "as the `csrf_token` form field (any form the explorer shows holds "
                       "it); a missing or wrong token is 400 with the Error envelope (an HTML "
                       "page when JSON is not accepted). Requests with `Authorization: Bearer` "
                       "need none. The method is checked first: a method a route does not "
                       "take is 405 with `Allow`, never a CSRF 400.",
    },
}


def path_arguments(rule: str) -> list[str]:
    return re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", rule)


def openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path: ``<name>`` and ``<converter:name>`` → ``{name}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _walk(node: Any) -> Iterator[type[BaseModel]]:
    if isinstance(node, type) and issubclass(node, BaseModel):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _resolve(node: Any, refs: dict[type[BaseModel], Any]) -> Any:
    if isinstance(node, type) and issubclass(node, BaseModel):
        return refs[node]
    if isinstance(node, dict):
        return {k: _resolve(v, refs) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, refs) for v in node]
    return node


def _refusable(responses: dict[str, Any]) -> dict[str, Any]:
    """With 400: any id, parameter or form field holding a control character is refused
    (web/app.py), HTML or JSON as the operation's other errors."""
    if "400" in responses:
        return responses
    html = any("text/html" in (r.get("content") or {}) for code, r in responses.items()
               if code >= "400")
    return dict(sorted((responses | {"400": error(400, html)}).items()))


def build(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of ``app``'s routes."""
    by_url = {entry[kind]: (entry, kind == "csv") for entry in PAGES for kind in ("json", "csv")
              if entry.get(kind)}
    paths: dict[str, dict[str, Any]] = {}
    missing, declared = [], set()
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op = ENDPOINTS.get((rule.endpoint, method))
            if op is not None:
                declared.add((rule.endpoint, method))
            elif rule.rule in by_url:
                op = page_operation(*by_url[rule.rule], method)
            elif not rule.rule.endswith((".json", ".csv")):
                continue
            if op is None:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
                continue
            op = dict(op)
            names = path_arguments(rule.rule)
            unknown = [n for n in names if n not in PARAMETERS]
            missing += [f"{method} {rule.rule}: path parameter {n}" for n in unknown]
            if names or op.get("parameters"):
                op["parameters"] = [param(n) for n in names] + op.get("parameters", [])
            if op.get("parameters") or "requestBody" in op:
                op["responses"] = _refusable(op["responses"])
            if _held_to_parameters(rule.rule, op) and "400" not in op["responses"]:
                op["responses"] = dict(sorted({**op["responses"], "400": error(
                    400, rule.rule.endswith(".csv"))}.items()))
            paths.setdefault(openapi_path(rule.rule), {})[method.lower()] = op
    missing += [f"{m} {e}: declared, not a route" for e, m in ENDPOINTS.keys() - declared]
    if missing:
        raise Undescribed("no description for: " + "; ".join(sorted(missing)))
    models = sorted({*_walk(paths), s.Error}, key=lambda m: m.__name__)
    modes = {m: "validation" if issubclass(m, s.Form) else "serialization" for m in models}
    refs, defs = models_json_schema([(m, modes[m]) for m in models], ref_template=REF,
                                    schema_generator=s.ResponseSchema)
    return {
        "openapi": "3.1.0",
        "info": INFO,
        "servers": [{"url": "/"}],
        "tags": TAGS,
        "paths": _resolve(paths, {m: refs[(m, modes[m])] for m in models}),
        "components": {
            "schemas": dict(sorted(defs["$defs"].items())),
            "parameters": PARAMETERS,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def document(app: Flask) -> dict[str, Any]:
    """``app``'s OpenAPI document, built on first use."""
    spec = app.extensions.get("triedbefore.openapi")
    if spec is None:
        spec = app.extensions["triedbefore.openapi"] = build(app)
    return spec


# --------------------------------------------------------------------------- #
# Holding the JSON twins and downloads to their described query parameters
# --------------------------------------------------------------------------- #


def _value_problem(schema: dict[str, Any], raw: str) -> str | None:
    """Why ``raw`` (a query value) does not fit ``schema``, or None. The schemas of
    :data:`PARAMETERS` are simple: an enum, an integer range, or a string's length,
    pattern or date format."""
    if raw == "" and ("enum" in schema or schema.get("type") != "string" or any(
            k in schema for k in ("minLength", "pattern", "format"))):
        return "is empty: leave it out, or give a value"
    if "enum" in schema:
        allowed = [str(v) for v in schema["enum"]]
        return None if raw in allowed else f"must be one of: {', '.join(allowed)}"
    if schema.get("type") == "integer":
        try:
            value = int(raw)
        except ValueError:
            return "must be a whole number"
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return f"must be between {lo} and {hi}" if hi is not None else \
                f"must be at least {lo}"
        return None
    if schema.get("type") == "string":
        if len(raw) < schema.get("minLength", 0):
            return "must not be empty"
        if "maxLength" in schema and len(raw) > schema["maxLength"]:
            return f"must be at most {schema['maxLength']} characters"
        if "pattern" in schema and not re.search(schema["pattern"], raw):
            return f"must match {schema['pattern']}"
        if schema.get("format") == "date":
            try:
                if len(raw) != 10:
                    raise ValueError(raw)
                date.fromisoformat(raw)
            except ValueError:
                return "must be a date (YYYY-MM-DD)"
    return None


def _held_to_parameters(rule: str, op: dict[str, Any]) -> bool:
    """Whether :func:`query_problem` checks this operation's query (so it may answer 400)."""
    return rule.endswith((".json", ".csv")) and not rule.startswith("/console") and any(
        "$ref" not in p or not p["$ref"].endswith(PATH_PARAMETERS)
        for p in op.get("parameters", []))


PATH_PARAMETERS = ("_id",)


def query_problem(app: Flask, rule: str, method: str,
                  args: dict[str, list[str]]) -> str | None:
    """Why the query of a request to a JSON twin or download (``rule``, ``method``) breaks
    the parameters this document describes for it, or None: what a client reads here is
    what the explorer takes. (The console checks its own fields, answering in its own
    envelope with ``kind``.)"""
    if not rule.endswith((".json", ".csv")) or rule.startswith("/console"):
        return None
    try:
        spec = document(app)
    except Undescribed:  # an app with routes of its own (tests): nothing to hold them to
        return None
    op = spec["paths"].get(openapi_path(rule), {}).get(method.lower())
    if not op:
        return None
    described = spec["components"]["parameters"]
    for entry in op.get("parameters", []):
        found = described[entry["$ref"].rsplit("/", 1)[1]] if "$ref" in entry else entry
        values = args.get(found["name"]) or []
        if found["in"] != "query" or not values:
            continue
        if len(values) > 1:
            return f"parameter {found['name']!r} is given {len(values)} times"
        why = _value_problem(found["schema"], values[0])
        if why is not None:
            return f"parameter {found['name']!r} {why}"
    return None
