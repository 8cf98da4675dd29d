"""Generated requests against the OpenAPI description (the schemathesis idea, with
hypothesis over ``web/openapi.py``): for every GET operation, parameters drawn from their
schemas (valid values, values just outside their bounds, and arbitrary text) must give a
documented status, never a 5xx, with a body that validates against the schema documented
for that status."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_openapi import SAMPLE, Checker, app_for, deref, operations

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest

#: Operations that need a signed-in user or a statement are fuzzed in the console tests.
SKIPPED = ("/console", "/curation")
IDS = {"solution_id": ["SOL-TELE", "SOL-HIU"], "initiative_id": ["INI-0021", "INI-0055"],
       "evaluation_id": ["EVAL-0004"], "site_id": ["RBL"]}
junk = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=30)


def value_strategy(param: dict[str, Any]) -> st.SearchStrategy[str]:
    schema = deref(param.get("schema", {}))
    options: list[st.SearchStrategy[str]] = [junk]
    if "enum" in schema:
        options.append(st.sampled_from([str(v) for v in schema["enum"]]))
    if schema.get("type") == "integer":
        lo, hi = schema.get("minimum", -10), schema.get("maximum", 10**6)
        options.append(st.integers(lo - 2, min(hi, lo + 1000) + 2).map(str))
        options.append(st.just(str(hi + 1)))
    if schema.get("format") == "date":
        options.append(st.dates().map(lambda d: d.isoformat()))
    if "example" in param:
        options.append(st.just(str(param["example"])))
    if param["name"] in IDS:
        options.append(st.sampled_from(IDS[param["name"]]))
    return st.one_of(*options)


def request_strategy(path: str, op: dict[str, Any]) -> st.SearchStrategy[str]:
    params = [deref(p) for p in op.get("parameters", [])]
    path_params = [p for p in params if p["in"] == "path"]
    query_params = [p for p in params if p["in"] == "query"]

    @st.composite
    def build(draw: Any) -> str:
        url = path
        for p in path_params:
            # an id is one path segment ("/" in it is another route)
            value = draw(value_strategy(p).filter(lambda v: v.strip() != "" and "/" not in v))
            url = url.replace("{" + p["name"] + "}", quote(value, safe=""))
        query = {}
        for p in query_params:
            if draw(st.booleans()):
                query[p["name"]] = draw(value_strategy(p))
        return url + ("?" + urlencode(query) if query else "")

    return build()


GET_OPERATIONS = [(path, op) for path, method, op in operations()
                  if method == "get" and not path.startswith(SKIPPED)]


@pytest.fixture(scope="module")
def fuzz_app(embedded_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from test_export import _fresh

    store: FalkorStore = _fresh(embedded_server)
    ingest(store, SAMPLE)
    try:
        yield app_for(store, tmp_path_factory.mktemp("fuzz"))
    finally:
        store.drop_all()
        store.close()


@pytest.mark.parametrize("path,op", GET_OPERATIONS, ids=[p for p, _ in GET_OPERATIONS])
def test_generated_requests_get_documented_answers(fuzz_app: Any, path: str,
                                                   op: dict[str, Any]) -> None:
    client = fuzz_app.test_client()

    @settings(max_examples=30, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(url=request_strategy(path, op))
    def check(url: str) -> None:
        checker = Checker()
        res = checker(client, url)
        assert res.status_code < 500, (url, res.get_data(as_text=True)[:300])
        failures = checker.failures
        if res.mimetype == "text/csv" and not res.get_data().strip():
            # an empty table downloads as an empty file (its columns come from its rows)
            failures = [f for f in failures if not f.endswith("CSV without a header row")]
        assert not failures, failures

    check()


def test_the_fuzzed_operations_cover_every_public_get(tmp_path: Path) -> None:
    paths = {p for p, _ in GET_OPERATIONS}
    assert {"/solutions/{solution_id}.json", "/search.json", "/graph.json",
            "/zombies.csv"} <= paths
    assert len(paths) >= 20
