"""Attack statements through the console's HTTP API, as anonymous users (who query the
public copy, on a deployment that opens the console to them: ``CONSOLE_ANONYMOUS``) and as signed-in users (the whole graph): every one is refused with a
one-line reason (400, ``kind`` = ``refused``), and neither the graph nor its public copy
changes. The engine layer (GRAPH.RO_QUERY; EXPLAIN's query type on Neo4j) is tested on its
own in test_console.py and test_console_neo4j.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from test_console import ATTACKS

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest
from triedbefore.web import auth
from triedbefore.web.app import create_app

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
PASSWORD = "correct horse battery"

#: More attacks: procedures that write, load files or reach the network, schema changes
#: through procedures, subqueries that write, and ways of hiding a keyword.
MORE_ATTACKS = [
    "CALL db.idx.fulltext.createNodeIndex('Site', 'name')",
    "CALL db.idx.fulltext.drop('Site')",
    "CALL db.idx.vector.createNodeIndex('Site', 'v', 2, 'euclidean')",
    "CALL dbms.security.createUser('eve', 'pw', false)",
    "CALL db.createLabel('Evil')",
    "CALL db.clearQueryCaches()",
    "CALL apoc.cypher.runWrite('CREATE (:X)', {})",
    "RETURN apoc.cypher.runFirstColumnSingle('MATCH (n) DETACH DELETE n', {})",
    "CALL apoc.load.csv('file:///etc/passwd')",
    "CALL apoc.import.graphml('http://evil.example/g.xml', {})",
    "CALL apoc.export.csv.all('/tmp/out.csv', {})",
    "RETURN apoc.static.get('x')",
    "CALL gds.graph.project('g', 'Site', 'PART_OF')",
    "CALL genai.vector.encodeBatch(['x'], 'OpenAI', {})",
    "LOAD CSV WITH HEADERS FROM 'https://evil.example/x.csv' AS row RETURN row",
    "load csv from 'file:///etc/shadow' as l return l",
    "CALL { MATCH (n) DETACH DELETE n } RETURN 1",
    "CALL { WITH 1 AS x CREATE (:X) } IN TRANSACTIONS OF 10 ROWS",
    "MATCH (n) CALL { WITH n SET n.pwned = true } RETURN count(n)",
    "UNWIND range(1, 3) AS i MERGE (:X {i: i})",
    "MATCH (n) WITH n FOREACH (x IN [1] | SET n.pwned = true)",
    "CREATE CONSTRAINT FOR (n:Site) REQUIRE n.name IS UNIQUE",
    "DROP CONSTRAINT tb_site_id",
    "ALTER DATABASE neo4j SET ACCESS READ WRITE",
    "CREATE DATABASE evil",
    "START DATABASE neo4j",
    "TERMINATE TRANSACTIONS 'neo4j-transaction-1'",
    "GRANT ALL ON DATABASE * TO PUBLIC",
    "SHOW PROCEDURES",
    "USE `triedbefore` MATCH (n) RETURN n",
    "MATCH (n) RETURN n UNION CREATE (:X) RETURN 1 AS n",
    "MATCH (n) WHERE n.id = '' CREATE (:X)//' RETURN n",
    "MATCH (n) RETURN n /* unclosed comment CREATE (:X)",
    "MATCH (n) RETURN n.`name` AS `a` CREATE (:X)",
    "MATCH (n) RETURN n\u00a0CREATE (:X)",
    "MATCH (n) RETURN n\tDETACH\tDELETE n",
    "WITH 'x' AS s CALL apoc.do.when(true, 'CREATE (:X)', '', {}) YIELD value RETURN value",
    "RETURN 1 AS x; CREATE (:X)",
    "RETURN 1 AS x;;",
]


def _counts(store: Any) -> tuple[int, int, int]:
    return (store.read("MATCH (n) RETURN count(n) AS n")[0]["n"],
            store.read("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"],
            store.read("MATCH (n) WHERE n.pwned IS NOT NULL OR n:X RETURN count(n) AS n"
                       )[0]["n"])


@pytest.fixture(scope="module")
def app(embedded_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from test_export import _fresh

    store: FalkorStore = _fresh(embedded_server)
    assert ingest(store, SAMPLE).exit_code == 0
    users = tmp_path_factory.mktemp("users") / "users.json"
    auth.add_user(users, "ada", PASSWORD, "admin")
    try:
        yield create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "t",
                          "USERS_FILE": str(users), "CONSOLE_RATE": 0,
                          "CONSOLE_ANONYMOUS": True})
    finally:
        store.drop_all()
        store.close()


def _client(app: Any, signed_in: bool) -> FlaskClient:
    client = app.test_client()
    if signed_in:
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        client.post("/login", data={"name": "ada", "password": PASSWORD,
                                    "csrf_token": token.group(1)})
    return client


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "admin"])
def test_every_attack_is_refused_through_the_api_and_changes_nothing(
        app: Any, signed_in: bool) -> None:
    store = app.config["STORE"]
    client = _client(app, signed_in)
    before = (_counts(store), _counts(store.public_copy()))
    answered = []
    for statement in ATTACKS + MORE_ATTACKS:
        for res in (client.get("/console.json", query_string={"q": statement}),
                    client.get("/console.csv", query_string={"q": statement},
                               headers={"Accept": "application/json"})):
            body = res.get_json()
            assert res.status_code == 400, (statement, res.status_code, body)
            assert body["kind"] in ("refused", "bad_input"), (statement, body)
            assert "\n" not in body["error"]
            answered.append(statement)
    assert len(answered) == 2 * len(ATTACKS + MORE_ATTACKS)
    assert (_counts(store), _counts(store.public_copy())) == before


def test_the_row_and_time_limits_apply_to_anonymous_users(app: Any) -> None:
    client = _client(app, False)
    res = client.get("/console.json", query_string={
        "q": "UNWIND range(1, 5000) AS x RETURN x", "limit": 10})
    body = res.get_json()
    assert res.status_code == 200 and len(body["rows"]) == 10 and body["truncated"] is True
    too_many = client.get("/console.json", query_string={"q": "RETURN 1", "limit": 10**6})
    assert too_many.status_code == 400 and too_many.get_json()["kind"] == "bad_input"
    slow = client.get("/console.json", query_string={
        "q": "UNWIND range(1, 50000000) AS x WITH x WHERE x % 7 = 0 RETURN count(x)",
        "timeout": 50})
    assert slow.status_code == 400 and slow.get_json()["kind"] == "timeout"
