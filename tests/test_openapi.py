"""The OpenAPI description (``web/openapi.py``, served at ``/openapi.json``): valid
OpenAPI 3.1, complete (every page's JSON twin and CSV download, and every ``.json`` route of
the app, has a path; every path is a route), and true: real responses on the sample bundle
validate against the schema documented for their status, for every documented path,
status and query parameter."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from triedbefore.graph import GraphError
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.loader import ingest
from triedbefore.web import auth
from triedbefore.web.app import create_app
from triedbefore.web.openapi import EXAMPLES, SPEC
from triedbefore.web.pages import PAGES

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
MEASURE = EXAMPLES["measure"]
PASSWORD = "correct horse battery"
#: The console's example statement, as the description gives it.
STATEMENT = SPEC["components"]["parameters"]["console_q"]["example"]
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
SPEC_URI = "urn:triedbefore:openapi"
REGISTRY: Registry[Any] = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(SPEC))
UNDOCUMENTED_METHODS = {"HEAD", "OPTIONS"}


def openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path: ``<name>`` and ``<converter:name>`` → ``{name}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def deref(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        found: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found[part.replace("~1", "/").replace("~0", "~")]
        node = found
    return node


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            yield path, method, op


def find_operation(path: str, method: str) -> tuple[str, dict[str, Any]]:
    for template, item in SPEC["paths"].items():
        pattern = "".join("[^/]+" if part.startswith("{") else re.escape(part)
                          for part in re.split(r"(\{[^}]+\})", template))
        if re.fullmatch(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not in the description")


def query_parameters(op: dict[str, Any]) -> set[str]:
    return {p["name"] for p in map(deref, op.get("parameters", [])) if p["in"] == "query"}


def app_for(store: Any, tmp_path: Path) -> Flask:
    return create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "test",
                       "USERS_FILE": str(tmp_path / "users.json")})


# --- the description itself -------------------------------------------------------------


def test_the_description_is_valid_openapi_3_1() -> None:
    assert SPEC["openapi"] == "3.1.0"
    validate(SPEC, cls=OpenAPIV31SpecValidator)  # also resolves every $ref
    for name, schema in SPEC["components"]["schemas"].items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as exc:  # pragma: no cover - the message names the schema
            raise AssertionError(f"components/schemas/{name}: {exc}") from exc


def test_every_page_and_json_route_is_described_and_every_path_is_a_route(
        tmp_path: Path) -> None:
    app = app_for(None, tmp_path)  # imports every blueprint, so PAGES is complete
    documented = {path: {m.upper() for m in item} for path, item in SPEC["paths"].items()}
    missing = []
    for entry in PAGES:
        for url in (entry["json"], entry["csv"]):
            if url is None:
                continue
            path = openapi_path(url)
            if not set(entry["methods"]) <= documented.get(path, set()):
                missing.append(f"{entry['endpoint']}: {path} {entry['methods']}")
    for rule in app.url_map.iter_rules():
        if rule.rule.endswith((".json", ".csv")):
            path = openapi_path(rule.rule)
            methods = set(rule.methods or ()) - UNDOCUMENTED_METHODS
            if not methods <= documented.get(path, set()):
                missing.append(f"{rule.endpoint}: {path} {sorted(methods)}")
    assert not missing, "not in web/openapi.py: " + "; ".join(missing)
    assert {"/curation.json", "/console.json", "/graph.json", "/openapi.json"} <= set(documented)

    adapter = app.url_map.bind("localhost")
    for path, method, op in operations():
        url = path
        for p in map(deref, op.get("parameters", [])):
            if p["in"] == "path":
                assert "example" in p, f"{path}: path parameter {p['name']} has no example"
                url = url.replace("{" + p["name"] + "}", p["example"])
        adapter.match(url, method=method.upper())  # raises NotFound / MethodNotAllowed


def test_api_page_lists_every_path(store: FalkorStore, tmp_path: Path) -> None:
    client = app_for(store, tmp_path).test_client()
    page = client.get("/api")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>API</h1>" in html and 'href="/openapi.json"' in html
    assert all(path in html for path in SPEC["paths"])
    assert 'href="/solutions/SOL-TELE.json"' in html
    served = client.get("/openapi.json")
    assert served.status_code == 200 and served.get_json() == SPEC


# --- real responses against the description ----------------------------------------------


SEARCH_FACETS = "verdict=works&intervention_type=delivery_arrangements&technology=true"

#: GET requests on the sample covering every documented path, status and query parameter
#: (but curation's, below).
REQUESTS: list[str] = [
    "/index.json",
    "/search.json", "/search.json?q=hospital+at+home",
    f"/search.json?q=care+homes&{SEARCH_FACETS}&page=1&size=5",
    "/search.json?q=care+homes&region=London&site_kind=care_home&year=2016",
    "/search.json?q=care+homes&icb=NHS+West+Yorkshire+Integrated+Care+Board",
    "/search.json?q=x&site_kind=castle",
    "/solutions.json", "/solutions.json?verdict=does_not_work",
    "/solutions.json?page=2&size=5", "/solutions.json?page=zero",
    "/solutions/SOL-TELE.json", "/solutions/SOL-TELE.json?as_of=2014-01-01",
    "/solutions/SOL-TELE.json?as_of=2020-13-45", "/solutions/NOPE.json",
    "/solutions/SOL-TELE.json?size=2&attempts_page=2&evaluations_page=2&outcomes_page=2",
    "/solutions/SOL-TELE.json?attempts_page=0",
    "/initiatives/INI-0021.json", "/initiatives/NOPE.json",
    "/evaluations/EVAL-0004.json", "/evaluations/NOPE.json",
    "/evaluations.json", "/evaluations.json?solution=SOL-TELE",
    "/evaluations.json?intervention_type=delivery_arrangements&domain=effective&page=1&size=5",
    "/evaluations.json?intervention_type=unspecified", "/evaluations.json?domain=colour",
    "/sites/RBL.json", "/sites/NOPE.json",
    "/zombies.json", "/zombies.json?as_of=2020-01-01&solution=SOL-TELE&min_lag=100&size=2",
    "/zombies.json?min_lag=-1",
    "/gap-map.json", "/gap-map.json?by=intervention_type", "/gap-map.json?by=colour",
    "/gap-map.json?page=2&size=1",
    "/deviance.json", "/deviance.json?" + urlencode({"measure": MEASURE}),
    "/deviance.json?measure=No+such+measure",
    "/check.json", "/check.json?q=telehealth+monitoring+for+COPD",
    "/check.json?q=telehealth+for+COPD&as_of=2014-01-01", "/check.json?as_of=yesterday",
    "/method.json", "/openapi.json",
    "/graph.json?node=solution:SOL-TELE", "/graph.json?kind=site&id=RBL", "/graph.json",
    "/graph.json?node=castle:X", "/graph.json?node=solution:NOPE",
    # CSV downloads; errors as JSON when the client accepts it
    "/search.csv?q=telehealth&size=10&page=1", "/search.csv?q=x&technology=maybe",
    "/solutions.csv?verdict=works", "/solutions.csv?size=0",
    "/solutions/SOL-TELE.csv?as_of=2016-01-01", "/solutions/NOPE.csv",
    "/solutions/SOL-TELE.csv?as_of=nope",
    "/evaluations.csv?solution=SOL-TELE&domain=effective",
    "/evaluations.csv?intervention_type=castle",
    "/sites/RBL.csv", "/sites/NOPE.csv",
    "/zombies.csv?min_lag=0&page=1&size=3&as_of=2022-01-01&solution=SOL-TELE",
    "/zombies.csv?as_of=2022-02-30",
    "/gap-map.csv?by=intervention_type", "/gap-map.csv?by=x",
    "/deviance.csv?" + urlencode({"measure": MEASURE}), "/deviance.csv?measure=nothing",
    "/graph.csv?node=initiative:INI-0021", "/graph.csv?node=site:NOPE", "/graph.csv?kind=x",
    # pages with several tables: ?table= picks one
    "/solutions/SOL-TELE.csv?table=attempts", "/solutions/SOL-TELE.csv?table=outcomes",
    "/solutions/SOL-TELE.csv?table=nope", "/solutions/SOL-TELE.json?year=2015",
    "/initiatives/INI-0021.csv", "/initiatives/INI-0021.csv?table=sites",
    "/initiatives/NOPE.csv", "/initiatives/INI-0021.csv?table=nope",
    "/evaluations/EVAL-0004.csv?table=initiatives", "/evaluations/NOPE.csv",
    "/evaluations/EVAL-0004.csv?table=nope",
    "/sites/RBL.csv?table=outcomes", "/sites/RBL.csv?table=nope",
    "/zombies.csv?table=retries", "/zombies.csv?table=nope",
    "/deviance.csv?table=deviants&" + urlencode({"measure": MEASURE}),
    "/deviance.csv?table=nope",
]


class Checker:
    """Sends requests, validates each answer against the description, and records which
    (path, method, status) and query parameters were exercised."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.seen: set[tuple[str, str, str]] = set()
        self.params: set[tuple[str, str, str]] = set()

    def __call__(self, client: FlaskClient, url: str, method: str = "GET",
                 **kwargs: Any) -> Any:
        kwargs.setdefault("headers", {"Accept": "application/json"})
        res = client.open(url, method=method, **kwargs)
        parts = urlsplit(url)
        template, op = find_operation(parts.path, method)
        where = f"{method} {url} -> {res.status_code}"
        status = str(res.status_code)
        self.seen.add((template, method.lower(), status))
        names = {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
        unknown = names - query_parameters(op)
        if unknown:
            self.failures.append(f"{where}: undocumented parameters {sorted(unknown)}")
        # a CSV download takes its JSON twin's parameters: exercising either counts
        twin = template.removesuffix(".csv") + ".json" if template.endswith(".csv") else template
        self.params |= {(twin, method.lower(), n) for n in names}
        if status not in op["responses"]:
            self.failures.append(f"{where}: status not documented "
                                 f"({res.get_data(as_text=True)[:200]})")
            return res
        content = op["responses"][status].get("content")
        if content is None:  # a redirect
            if not res.headers.get("Location"):
                self.failures.append(f"{where}: no Location")
        elif res.mimetype not in content:
            self.failures.append(f"{where}: {res.mimetype} not in {sorted(content)}")
        elif res.mimetype == "application/json":
            schema = {"$ref": SPEC_URI + "#" + pointer(
                "paths", template, method.lower(), "responses", status, "content",
                "application/json", "schema")}
            validator = Draft202012Validator(schema, registry=REGISTRY,
                                             format_checker=Draft202012Validator.FORMAT_CHECKER)
            for error in list(validator.iter_errors(res.get_json()))[:3]:
                self.failures.append(f"{where}: at {error.json_path}: {error.message[:300]}")
        elif res.mimetype == "text/csv":
            header = res.get_data(as_text=True).partition("\n")[0]
            if not header.strip():
                self.failures.append(f"{where}: CSV without a header row")
        return res


def csrf_token(client: FlaskClient) -> str:
    """The session's CSRF token, from the sign-in form."""
    found = TOKEN_RE.search(client.get("/login").get_data(as_text=True))
    assert found, "no CSRF token on /login"
    return found.group(1)


def sign_in(client: FlaskClient, name: str) -> str:
    res = client.post("/login", data={"name": name, "password": PASSWORD,
                                      "csrf_token": csrf_token(client)})
    assert res.status_code == 302, res.status_code
    return csrf_token(client)


def exercise_console(check: Checker, app: Flask) -> None:
    run = urlencode({"q": STATEMENT, "limit": 5, "timeout": 2000})
    form = {"q": STATEMENT, "limit": "3"}
    anonymous = app.test_client()
    token = csrf_token(anonymous)
    html_only = {"Accept": "text/html"}
    check(anonymous, "/console.json?" + run)  # the public copy
    check(anonymous, "/console.csv?" + run)
    check(anonymous, "/console/schema.json")
    for url in ("/console.json", "/console.csv"):
        check(anonymous, url, "POST", data=form)  # no CSRF token: 400
        check(anonymous, url, "POST", data=form,
              headers={"X-CSRF-Token": token, "Accept": "application/json"})
    check(anonymous, "/console.csv", "POST", data=form, headers=html_only)  # 400 as HTML
    # the rate limit: 429 once a client's requests for the minute are used up
    rate = app.config["CONSOLE_RATE"]
    app.config["CONSOLE_RATE"] = 1
    try:
        for url in ("/console.json?" + run, "/console.csv?" + run, "/console/schema.json"):
            assert check(anonymous, url).status_code == 429
        for url in ("/console.json", "/console.csv"):
            assert check(anonymous, url, "POST", data=form, headers={
                "X-CSRF-Token": token, "Accept": "application/json"}).status_code == 429
    finally:
        app.config["CONSOLE_RATE"] = rate

    viewer = app.test_client()
    token = sign_in(viewer, "vic")
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    result = check(viewer, "/console.json?" + run).get_json()
    assert result["ok"] and result["rows"], result
    check(viewer, "/console.json?q=")  # no statement: 400 bad_input
    check(viewer, "/console.json?" + urlencode({"q": STATEMENT, "limit": 0}))  # 400
    check(viewer, "/console.csv?" + urlencode({"q": STATEMENT, "limit": 2, "timeout": 1000}))
    check(viewer, "/console.csv?q=&limit=1&timeout=1")  # 400
    check(viewer, "/console/schema.json")
    for url in ("/console.json", "/console.csv"):
        check(viewer, url, "POST", data={**form, "csrf_token": token})
        check(viewer, url, "POST", data={**form, "timeout": "0"}, headers=headers)  # 400


def exercise_candidates(check: Checker, app: Flask, store: FalkorStore, tmp_path: Path) -> None:
    from sources_replay import epmc_pages

    from triedbefore.ingest.sources import candidates as cands
    from triedbefore.ingest.sources.client import HttpClient
    from triedbefore.ontology.vocab import CandidateSource

    with responses.RequestsMock() as rsps:
        epmc_pages(rsps)
        cands.fetch(store, HttpClient(cache_dir=tmp_path / "http", cache_ttl=0), "SOL-TELE",
                    sources=[CandidateSource.EUROPEPMC], query="telehealth")
    reject = {"candidate_id": "CAN-nope", "decision": "reject"}
    anonymous = app.test_client()
    token = csrf_token(anonymous)
    check(anonymous, "/curation/candidates.json")  # 401
    check(anonymous, "/curation/candidates/decide.json", "POST", data=reject,
          headers={"X-CSRF-Token": token, "Accept": "application/json"})  # 401
    viewer = app.test_client()
    token = sign_in(viewer, "vic")
    check(viewer, "/curation/candidates.json")  # 403
    check(viewer, "/curation/candidates/decide.json", "POST", data=reject,
          headers={"X-CSRF-Token": token, "Accept": "application/json"})  # 403
    curator = app.test_client()
    token = sign_in(curator, "cora")
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    listing = check(curator, "/curation/candidates.json?status=proposed&solution=SOL-TELE"
                             "&page=1&size=3").get_json()
    check(curator, "/curation/candidates.json?status=maybe")  # 400
    items = listing["candidates"]["items"]
    accepted = check(curator, "/curation/candidates/decide.json", "POST", headers=headers,
                     data={"candidate_id": items[0]["id"], "decision": "accept",
                           "initiative_ids": "INI-0019", "finding": "positive",
                           "design": "case_study"})
    assert accepted.status_code == 200, accepted.get_json()
    check(curator, "/curation/candidates/decide.json", "POST", headers=headers,
          data={"candidate_id": items[1]["id"], "decision": "reject"})
    check(curator, "/curation/candidates/decide.json", "POST", headers=headers,
          data={"candidate_id": items[2]["id"], "decision": "maybe"})  # 400
    check(curator, "/curation/candidates/decide.json", "POST", headers=headers, data=reject)


def exercise_living(check: Checker, app: Flask) -> None:
    """Changes, feeds and watches: every documented answer."""
    anonymous = app.test_client()
    check(anonymous, "/changes.json?since=2000-01-01&page=1&size=5")
    check(anonymous, "/changes.json?since=yesterday")  # 400
    check(anonymous, "/changes.csv?since=2000-01-01")
    check(anonymous, "/changes.csv?since=yesterday")  # 400
    check(anonymous, "/changes.atom")
    check(anonymous, "/watches.json")  # 401
    token = csrf_token(anonymous)
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    watch = {"target_kind": "solution", "target_id": "SOL-TELE"}
    check(anonymous, "/watches", "POST", data=watch, headers=headers)  # 401
    check(anonymous, "/watches/seen", "POST", headers=headers)  # 401
    check(anonymous, "/watches/w-0/delete", "POST", headers=headers)  # 401

    viewer = app.test_client()
    token = sign_in(viewer, "vic")
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    html = {"X-CSRF-Token": token, "Accept": "text/html"}
    check(viewer, "/watches", "POST", data=watch)  # no CSRF token: 400
    check(viewer, "/watches", "POST", data={**watch, "target_kind": "x"}, headers=headers)
    check(viewer, "/watches", "POST", data={**watch, "target_id": "SOL-NOPE"}, headers=headers)
    made = check(viewer, "/watches", "POST", data=watch, headers=headers).get_json()
    check(viewer, "/watches", "POST", headers=html,
          data={"target_kind": "intervention_type", "target_id": "delivery_arrangements",
                "next": "/watches"})  # 302
    listing = check(viewer, "/watches.json").get_json()
    feed = next(w["feed"] for w in listing["watches"] if w["id"] == made["watch"]["id"])
    check(viewer, feed.replace("http://localhost", ""))
    check(anonymous, f"/watches/{made['watch']['id']}.atom?token=nope")  # 404
    check(viewer, "/watches/seen", "POST", headers=headers)
    check(viewer, "/watches/seen", "POST", headers=html)  # 302
    check(viewer, "/watches/seen", "POST")  # no CSRF token: 400
    check(viewer, f"/watches/{made['watch']['id']}/delete", "POST", headers=headers)
    check(viewer, f"/watches/{made['watch']['id']}/delete", "POST", headers=headers)  # 404
    other = next(w["id"] for w in listing["watches"] if w["id"] != made["watch"]["id"])
    check(viewer, f"/watches/{other}/delete", "POST", headers=html)  # 302
    check(viewer, f"/watches/{other}/delete", "POST")  # no CSRF token: 400


def test_real_responses_match_the_description(store: FalkorStore, tmp_path: Path) -> None:
    ingest(store, SAMPLE)
    app = app_for(store, tmp_path)
    users = app.config["USERS_FILE"]
    auth.add_user(users, "cora", PASSWORD, "curator")
    auth.add_user(users, "vic", PASSWORD, "viewer")
    check = Checker()

    client = app.test_client()
    for url in REQUESTS:
        check(client, url)
    csv = client.get("/solutions.csv")  # a browser's request: no JSON accepted
    assert csv.mimetype == "text/csv" and csv.get_data(as_text=True).startswith("id,")

    # curation: 401 anonymous, 403 for a viewer, then a curator's list and decisions
    decision = {"initiative_id": "INI-0001", "solution_id": "SOL-TELE", "decision": "accepted"}
    check(client, "/curation.json")
    check(client, "/curation/decide.json", "POST", data=decision)  # no CSRF token: 400
    anonymous = TOKEN_RE.search(client.get("/login").get_data(as_text=True))
    assert anonymous
    check(client, "/curation/decide.json", "POST", data=decision,
          headers={"X-CSRF-Token": anonymous.group(1), "Accept": "application/json"})
    viewer = app.test_client()
    viewer_token = sign_in(viewer, "vic")
    check(viewer, "/curation.json?status=suggested")
    check(viewer, "/curation/decide.json", "POST", data=decision,
          headers={"X-CSRF-Token": viewer_token, "Accept": "application/json"})
    curator = app.test_client()
    token = sign_in(curator, "cora")
    listing = check(curator, "/curation.json").get_json()
    check(curator, "/curation.json?status=unresolved&page=1&size=5")
    check(curator, "/curation.json?status=maybe")
    proposal = next(p for p in listing["proposals"]["items"] if p["solution_id"])
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    decided = check(curator, "/curation/decide.json", "POST", headers=headers,
                    data={"initiative_id": proposal["initiative_id"],
                          "solution_id": proposal["solution_id"], "decision": "accepted"})
    assert decided.status_code == 200, decided.get_json()
    check(curator, "/curation/decide.json", "POST", headers=headers,
          data={"initiative_id": "INI-NOPE", "solution_id": proposal["solution_id"],
                "decision": "rejected"})

    exercise_candidates(check, app, store, tmp_path)
    exercise_console(check, app)
    exercise_living(check, app)

    assert not check.failures, "\n".join(check.failures)

    # every documented path and status (but 503, below) and query parameter was exercised
    documented = {(path, method, status) for path, method, op in operations()
                  for status in op["responses"] if status != "503"}
    assert documented <= check.seen, sorted(documented - check.seen)
    params = {(path.removesuffix(".csv") + ".json" if path.endswith(".csv") else path,
               method, name) for path, method, op in operations()
              for name in query_parameters(op)}
    assert params <= check.params, sorted(params - check.params)


class BrokenStore:
    """A store that refuses everything, as an unreachable server does."""

    def __getattr__(self, name: str) -> Any:
        raise GraphError("the store is down")


def test_store_errors_match_the_description(tmp_path: Path) -> None:
    app = app_for(BrokenStore(), tmp_path)
    auth.add_user(app.config["USERS_FILE"], "vic", PASSWORD, "viewer")
    client = app.test_client()
    sign_in(client, "vic")
    check = Checker()
    for url in ("/index.json", "/solutions.json", "/solutions/SOL-TELE.json",
                "/zombies.csv", "/search.json?q=telehealth", "/graph.json?node=site:RBL",
                "/console.json?" + urlencode({"q": STATEMENT})):
        res = check(client, url)
        assert res.status_code == 503, (url, res.status_code)
    assert not check.failures, "\n".join(check.failures)


@pytest.mark.parametrize("name", sorted(SPEC["components"]["schemas"]))
def test_every_schema_is_used(name: str) -> None:
    text = repr({k: v for k, v in SPEC.items() if k != "components"}) + \
        repr({k: v for k, v in SPEC["components"]["schemas"].items() if k != name})
    assert f"#/components/schemas/{name}'" in text, f"{name} is never referred to"
