"""The query console: read-only Cypher through graph/readonly.py and web/console.py,
on the embedded FalkorDB store with the sample bundle loaded."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import pytest
from driver_path import NO_ENGINE_GUARD, NO_MESSAGE, NO_TEMPORAL
from flask.testing import FlaskClient

from triedbefore.graph import QueryError, QueryRefused, queries
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.readonly import (
    QueryTimedOut,
    ReadResult,
    check_statement,
    jsonable,
    run_read_only,
)
from triedbefore.web import auth
from triedbefore.web.app import create_app

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"

COUNT_NODES = "MATCH (n) RETURN count(n) AS n"
COUNT_LINKS = "MATCH ()-[r]->() RETURN count(r) AS n"
HEAVY = "UNWIND range(1, 50000000) AS x WITH x WHERE x % 7 = 0 RETURN count(x)"

#: Statements the console must refuse, before they reach the engine.
ATTACKS = [
    "CREATE (:X)",
    "create (:x {name: 'lower case'})",
    "MERGE (s:Site {id: 'NEW'})",
    "MATCH (n) SET n.x = 1",
    "MATCH (n:Site) DELETE n",
    "MATCH (n) DETACH DELETE n",
    "MATCH (n) REMOVE n.name",
    "DROP INDEX ON :Site(id)",
    "CREATE INDEX FOR (n:Site) ON (n.name)",
    "EXPLAIN CREATE (:X)",
    "PROFILE MATCH (n) SET n.x=1",
    "LOAD CSV FROM 'file:///etc/passwd' AS l RETURN l",
    "CALL dbms.procedures()",
    "CALL apoc.load.json('http://x')",
    "MATCH (n) RETURN n; MATCH (m) DETACH DELETE m",
    "MATCH (n) WHERE n.name = 'x' CREATE (:Y) RETURN n",
    "MATCH (n) WHERE n.name = 'it\\'s' CREATE (:Y) RETURN n",
    "MATCH (n) /* just a comment */ CREATE (:Y) // and another\nRETURN n",
    "MATCH (n)CREATE(:Y)",
    "FOREACH (x IN [1, 2] | CREATE (:Z))",
    "CALL { CREATE (:Z) } IN TRANSACTIONS",
    "USING PERIODIC COMMIT LOAD CSV FROM 'file:///x.csv' AS l CREATE (:Z)",
    "RETURN apoc.util.sleep(100)",
    "CALL `apoc.load.json`('http://x')",
    "CALL algo.pageRank('Site', 'PART_OF')",
    "SHOW USERS",
    "USE system MATCH (n) RETURN n",
    "RETURN 'unclosed",
    "",
    # lexer edges, where the check must read at least as much code as the engines do
    "WITH 1 AS x LIMIT 1CREATE (:X) RETURN 1",
    "RETURN $1CREATE (:X)",
    "UNWIND [1] AS x WITH x LIMIT 1.SET x.y = 1 RETURN x",
    "RETURN 1 AS a // a comment ends at any line break\u2028CREATE (:X)",
    "RETURN 'a\\\\' AS x CREATE (:X)",
    "MATCH (n) RETURN n.name AS set",
]

#: Statements that only look dangerous: the words are in strings, comments or names.
HARMLESS = [
    "MATCH (n) WHERE n.name = 'CREATE' RETURN n",
    "MATCH (n) WHERE n.name = \"DETACH DELETE\" RETURN n",
    "MATCH (n) // DELETE everything\nRETURN count(n) AS n",
    "MATCH (n) /* SET n.x = 1 */ RETURN count(n) AS n",
    "MATCH (n:Site) RETURN n.set AS `set`, n.delete AS `DELETE` LIMIT 1",
    "RETURN {create: 1, merge: 2} AS m",
    "CALL db.labels() YIELD label RETURN label",
    "MATCH (n) RETURN count(n) AS n;",
    "MATCH (n) WHERE n.lat > 1.5e-3 RETURN count(n) AS n",
    "RETURN 'it\\'s a CREATE' AS x, \"LOAD CSV\" AS y",
]


@pytest.fixture(params=["embedded", "driver"])
def loaded(request: pytest.FixtureRequest) -> FalkorStore:
    """The shared sample graph: the console only reads (a test that wrote would fail). On
    the embedded store, then through the official driver (``bolt+falkordb://``)."""
    store: FalkorStore = request.getfixturevalue(
        "read_sample" if request.param == "embedded" else "read_driver_sample")
    return store


def _embedded_only(store: FalkorStore, reason: str) -> None:
    if store.uri.protocol == "bolt":
        pytest.skip(reason)


def _counts(store: FalkorStore) -> tuple[int, int]:
    return (store.read(COUNT_NODES)[0]["n"], store.read(COUNT_LINKS)[0]["n"])


def _csrf(client: FlaskClient) -> str:
    with client.session_transaction() as session:
        session["csrf"] = "test-token"
    return "test-token"


@pytest.fixture
def app(read_sample: FalkorStore, tmp_path: Path) -> Any:
    users = tmp_path / "users.json"
    auth.add_user(users, "researcher", "long enough password", "viewer")
    return create_app({"TESTING": True, "STORE": read_sample, "SECRET_KEY": "test",
                       "USERS_FILE": str(users), "CONSOLE_ROW_LIMIT": 50,
                       "CONSOLE_TIMEOUT_MS": 5000})


@pytest.fixture
def client(app: Any) -> FlaskClient:
    client = app.test_client()
    token = _csrf(client)
    signed_in = client.post("/login", data={"name": "researcher", "password":
                                            "long enough password", "csrf_token": token})
    assert signed_in.status_code == 302
    return client


# --------------------------------------------------------------------------- #
# The library
# --------------------------------------------------------------------------- #


def test_read_returns_columns_and_rows(loaded: FalkorStore) -> None:
    result = run_read_only(loaded, "MATCH (s:Solution) RETURN s.id AS id, s.name AS name "
                           "ORDER BY id", None, row_limit=100, timeout_ms=5000)
    assert isinstance(result, ReadResult)
    assert result.columns == ["id", "name"]
    assert len(result.rows) == 12 and result.truncated is False
    assert result.rows[0] == {"id": result.rows[0]["id"], "name": result.rows[0]["name"]}
    assert result.elapsed_ms >= 0


def test_row_limit_truncates_and_says_so(loaded: FalkorStore) -> None:
    result = run_read_only(loaded, "MATCH (s:Site) RETURN s.id AS id", None, row_limit=5,
                           timeout_ms=5000)
    assert len(result.rows) == 5 and result.truncated is True
    exact = run_read_only(loaded, "MATCH (s:Solution) RETURN s.id AS id", None, row_limit=12,
                          timeout_ms=5000)
    assert len(exact.rows) == 12 and exact.truncated is False


def test_parameters_are_passed(loaded: FalkorStore) -> None:
    result = run_read_only(loaded, "MATCH (s:Solution {id: $id}) RETURN s.name AS name",
                           {"id": "SOL-TELE"}, row_limit=10, timeout_ms=5000)
    assert len(result.rows) == 1


@pytest.mark.parametrize("statement", ATTACKS)
def test_attacks_are_refused_and_change_nothing(loaded: FalkorStore, statement: str) -> None:
    before = _counts(loaded)
    with pytest.raises(QueryRefused) as refused:
        run_read_only(loaded, statement, None, row_limit=10, timeout_ms=2000)
    reason = str(refused.value)
    assert reason.startswith("refused: ") and "\n" not in reason
    assert _counts(loaded) == before


def test_refusals_name_the_reason() -> None:
    reasons = {}
    for statement in ("CREATE (:X)", "EXPLAIN MATCH (n) RETURN n", "CALL dbms.procedures()",
                      "LOAD CSV FROM 'file:///etc/passwd' AS l RETURN l",
                      "MATCH (n) RETURN n; MATCH (m) RETURN m", "CALL algo.BFS(1, 2, 3)"):
        with pytest.raises(QueryRefused) as refused:
            check_statement(statement)
        reasons[statement] = str(refused.value)
    assert "CREATE writes" in reasons["CREATE (:X)"]
    assert "FalkorDB" in reasons["EXPLAIN MATCH (n) RETURN n"]
    assert "dbms.procedures" in reasons["CALL dbms.procedures()"]
    assert "LOAD CSV" in reasons["LOAD CSV FROM 'file:///etc/passwd' AS l RETURN l"]
    assert "one statement" in reasons["MATCH (n) RETURN n; MATCH (m) RETURN m"]
    assert "algo.BFS" in reasons["CALL algo.BFS(1, 2, 3)"]
    assert "db.labels" in reasons["CALL algo.BFS(1, 2, 3)"]  # the allow-list is named


@pytest.mark.parametrize("statement", HARMLESS)
def test_words_in_strings_comments_and_names_are_not_refused(loaded: FalkorStore,
                                                             statement: str) -> None:
    run_read_only(loaded, statement, None, row_limit=10, timeout_ms=5000)


def test_trailing_semicolon_is_dropped() -> None:
    assert check_statement("RETURN 1 AS x;  // done") == "RETURN 1 AS x"
    assert check_statement("RETURN ';' AS x") == "RETURN ';' AS x"


@pytest.mark.parametrize("statement", [
    "CREATE (:Sneaky)",
    "MATCH (s:Solution) SET s.name = 'changed'",
    "MATCH (s:Site) DETACH DELETE s",
    "MERGE (:Sneaky {id: 1})",
    "EXPLAIN CREATE (:Sneaky)",
    "PROFILE CREATE (:Sneaky)",
    "MATCH (n) WITH n LIMIT 1 FOREACH (x IN [1] | CREATE (:Sneaky))",
    "CREATE INDEX FOR (n:Sneaky) ON (n.id)",
])
def test_engine_refuses_a_write_that_slips_past_the_lexical_check(
        loaded: FalkorStore, statement: str) -> None:
    _embedded_only(loaded, NO_ENGINE_GUARD)
    before = _counts(loaded)
    with pytest.raises(QueryRefused, match="refused by the database as not read-only"):
        run_read_only(loaded, statement, None, row_limit=10, timeout_ms=2000,
                      _lexical_check=False)
    # and store.read itself goes through GRAPH.RO_QUERY
    with pytest.raises(QueryError, match="read-only"):
        loaded.read(statement)
    assert _counts(loaded) == before
    assert loaded.read("MATCH (n:Sneaky) RETURN count(n) AS n")[0]["n"] == 0
    assert loaded.read("MATCH (s:Solution {name: 'changed'}) RETURN count(s) AS n")[0]["n"] == 0


def test_engine_errors_keep_the_engine_message(loaded: FalkorStore) -> None:
    _embedded_only(loaded, NO_MESSAGE)
    with pytest.raises(QueryError) as failed:
        run_read_only(loaded, "MATCH (n RETURN n", None, row_limit=10, timeout_ms=2000)
    assert not isinstance(failed.value, QueryTimedOut)
    assert "Invalid input" in str(failed.value)


def test_bad_limits_are_programming_errors(loaded: FalkorStore) -> None:
    with pytest.raises(ValueError):
        run_read_only(loaded, "RETURN 1", None, row_limit=0, timeout_ms=100)
    with pytest.raises(ValueError):
        run_read_only(loaded, "RETURN 1", None, row_limit=1, timeout_ms=0)  # 0 = no limit


def test_values_become_json() -> None:
    import datetime
    import json

    from dateutil.relativedelta import relativedelta

    value = jsonable({"d": datetime.date(2020, 1, 2), "t": datetime.datetime(2020, 1, 2, 3, 4),
                      "du": relativedelta(days=3, hours=2), "nan": float("nan"),
                      "l": (1, "a", None), "b": b"\x01"})
    assert value == {"d": "2020-01-02", "t": "2020-01-02T03:04:00", "du": "P3DT2H",
                     "nan": "nan", "l": [1, "a", None], "b": "01"}
    json.dumps(value)


def test_paths_and_temporal_values_from_falkordb_are_serialisable(loaded: FalkorStore) -> None:
    _embedded_only(loaded, NO_TEMPORAL)
    import json

    result = run_read_only(
        loaded, "MATCH p = (i:Initiative)-[:TRIED_AT]->(s:Site) "
        "RETURN p, i, date('2020-01-01') AS d, duration({days: 3}) AS du LIMIT 1",
        None, row_limit=1, timeout_ms=5000)
    row = result.rows[0]
    assert set(row["p"]) == {"nodes", "relationships"} and len(row["p"]["nodes"]) == 2
    assert row["p"]["nodes"][0]["id"] == row["i"]["id"]
    assert row["d"] == "2020-01-01" and row["du"] == "P3D"
    json.dumps(result.to_dict())


def test_example_and_schema_statements_run_read_only(loaded: FalkorStore) -> None:
    from triedbefore.web.console import EXAMPLES

    for _title, statement in EXAMPLES:
        result = run_read_only(loaded, statement, None, row_limit=100, timeout_ms=5000)
        assert result.rows, statement
    for statement in (queries.CONSOLE_LABELS, queries.CONSOLE_RELATIONSHIP_TYPES):
        assert run_read_only(loaded, statement, None, row_limit=100, timeout_ms=5000).rows


# --------------------------------------------------------------------------- #
# The web console
# --------------------------------------------------------------------------- #


def test_the_console_needs_sign_in_by_default(app: Any) -> None:
    anonymous = app.test_client()
    page = anonymous.get("/console?q=RETURN+1+AS+n")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert "The query console needs an account" in anonymous.get(
        page.headers["Location"]).get_data(as_text=True)
    for twin in ("/console.json", "/console.csv", "/console/schema.json"):
        answer = anonymous.get(twin, query_string={"q": "RETURN 1 AS n"})
        assert answer.status_code == 401, twin
        assert answer.get_json()["ok"] is False


def test_anonymous_console_users_read_the_public_copy(app: Any) -> None:
    app.config["CONSOLE_ANONYMOUS"] = True
    anonymous = app.test_client()
    assert anonymous.get("/console").status_code == 200
    answer = anonymous.get("/console.json", query_string={
        "q": "MATCH (i:Initiative) RETURN i.visibility AS v, count(i) AS n ORDER BY v"})
    assert answer.status_code == 200
    assert all(row["v"] != "restricted" for row in answer.get_json()["rows"])
    found = anonymous.get("/console.json", query_string={
        "q": "MATCH (i:Initiative {id: 'INI-0055'}) RETURN i"}).get_json()
    assert found["ok"] and found["rows"] == []


def test_readme_says_who_may_use_the_console(app: Any) -> None:
    """The README says it once and means it: the console needs sign-in unless
    `console_anonymous` opens it (as the answers above show), and no other paragraph says
    who may use it."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    paragraphs = [" ".join(p.split()) for p in readme.split("\n\n")]
    console = [p for p in paragraphs if "query console** (`/console`" in p]
    assert len(console) == 1 and "needs sign-in" in console[0]
    assert "`console_anonymous`" in console[0] and "no role gives it more" in console[0]
    for p in paragraphs:
        if p is not console[0]:
            assert not ("console" in p and any(
                said in p for said in ("open to everyone", "needs sign-in", "signed in or not",
                                       "without signing in"))), p
    assert app.test_client().get("/console.json", query_string={"q": "RETURN 1 AS n"}) \
        .status_code == 401


def test_page_has_editor_schema_and_examples(client: FlaskClient) -> None:
    page = client.get("/console")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<label for="q">' in html and '<textarea id="q" name="q"' in html
    assert 'name="csrf_token"' in html
    assert 'max="50"' in html and 'max="5000"' in html  # the configured maxima
    assert "<code>Solution</code>" in html and "<code>IMPLEMENTS</code>" in html
    assert "<code>intervention_type</code>" in html  # property names of a label
    assert "Solutions by number of initiatives" in html and "/console?q=MATCH" in html
    assert "js/console.js" in html and 'role="alert"' not in html


def test_example_link_runs_the_statement(client: FlaskClient) -> None:
    page = client.get("/console", query_string={"q": queries.CONSOLE_EXAMPLE_SOLUTIONS})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<th scope="col">initiatives</th>' in html and "Telehealth monitoring" in html
    assert "/console.csv?" in html and "/console.json?" in html


def test_json_twin(client: FlaskClient) -> None:
    data = client.get("/console.json", query_string={
        "q": "MATCH (s:Solution) RETURN s.id AS id ORDER BY id", "limit": 3}).get_json()
    assert data["ok"] is True and data["columns"] == ["id"]
    assert len(data["rows"]) == 3 and data["truncated"] is True
    assert isinstance(data["elapsed_ms"], int | float)


def test_post_from_the_form_needs_the_csrf_token(client: FlaskClient) -> None:
    statement = "MATCH (s:Solution) RETURN count(s) AS solutions"
    refused = client.post("/console", data={"q": statement})
    assert refused.status_code == 400
    token = _csrf(client)
    page = client.post("/console", data={"q": statement, "limit": "10", "timeout": "1000",
                                         "csrf_token": token})
    assert page.status_code == 200 and "<td>12</td>" in page.get_data(as_text=True)


def test_refused_statement_in_page_json_and_csv(client: FlaskClient,
                                                loaded: FalkorStore) -> None:
    before = _counts(loaded)
    statement = "MATCH (n) DETACH DELETE n"
    page = client.get("/console", query_string={"q": statement})
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert 'role="alert"' in html and "DETACH DELETE writes to the graph" in html
    answer = client.get("/console.json", query_string={"q": statement})
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["ok"] is False and body["status"] == 400 and body["kind"] == "refused"
    assert body["error"].startswith("refused: DETACH DELETE")
    assert client.get("/console.csv", query_string={"q": statement}).status_code == 400
    assert _counts(loaded) == before


def test_syntax_error_is_400_with_the_engine_message(client: FlaskClient) -> None:
    answer = client.get("/console.json", query_string={"q": "MATCH (n RETURN n"})
    body = answer.get_json()
    assert answer.status_code == 400 and body["kind"] == "query_error"
    assert "Invalid input" in body["error"]


def test_bad_limits_are_400(client: FlaskClient) -> None:
    for args in ({"limit": "51"}, {"limit": "0"}, {"timeout": "5001"}, {"timeout": "x"}, {}):
        answer = client.get("/console.json", query_string={"q": "RETURN 1 AS x", **args}
                            if args else {})
        assert answer.status_code == 400, args
        assert answer.get_json()["ok"] is False
    page = client.get("/console", query_string={"q": "RETURN 1 AS x", "limit": "999"})
    assert page.status_code == 400 and 'role="alert"' in page.get_data(as_text=True)


def test_timeout_is_applied(client: FlaskClient) -> None:
    started = time.monotonic()
    answer = client.get("/console.json", query_string={"q": HEAVY, "timeout": 100})
    elapsed = time.monotonic() - started
    body = answer.get_json()
    assert answer.status_code == 400 and body["kind"] == "timeout"
    assert "timed out" in body["error"]
    assert elapsed < 9  # FalkorDB stops it coarsely; the full run takes about 11 s


def test_csv_twin_neutralises_formulas(client: FlaskClient) -> None:
    answer = client.get("/console.csv", query_string={
        "q": "RETURN '=HYPERLINK(\"http://x\")' AS `=evil`, '+1' AS plus, -3 AS n, "
             "['@a', 'b'] AS l, {k: 1} AS m, null AS nothing"})
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0] == ["'=evil", "plus", "n", "l", "m", "nothing"]
    assert rows[1] == ["'=HYPERLINK(\"http://x\")", "'+1", "-3", "'@a|b", '{"k": 1}', ""]


def test_csv_of_a_real_query(client: FlaskClient) -> None:
    answer = client.get("/console.csv", query_string={
        "q": "MATCH (s:Solution) RETURN s.id AS id, s.name AS name ORDER BY id", "limit": 5})
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0] == ["id", "name"] and len(rows) == 6
    assert answer.headers["X-Truncated"] == "true"


def test_schema_json(client: FlaskClient) -> None:
    data = client.get("/console/schema.json").get_json()
    labels = {entry["label"]: entry["keys"] for entry in data["labels"]}
    assert "id" in labels["Solution"] and "IMPLEMENTS" in data["relationship_types"]


def test_markup_in_results_is_escaped(client: FlaskClient) -> None:
    page = client.get("/console", query_string={"q": "RETURN '<script>x</script>' AS s"})
    html = page.get_data(as_text=True)
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
