"""The query console's Neo4j layer: ``Neo4jStore.query_type`` (EXPLAIN) and
``read_limited`` (a READ transaction, rolled back, at most N rows).

The tests marked ``neo4j`` run against a real Neo4j 5 server when ``NEO4J_URI`` is set
(with ``NEO4J_USERNAME``/``NEO4J_PASSWORD``; the database is emptied first, so point it at
a scratch database) and are skipped with that reason otherwise. Their driver-path variant
(FalkorDB's Bolt listener) is skipped with the call the listener fails: it runs EXPLAIN'd
statements and commits what a transaction should roll back. So the others drive the same
code with a stand-in driver, and always run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from driver_path import NO_PLAN, NO_ROLLBACK

from triedbefore.graph import QueryError, QueryRefused
from triedbefore.graph.engines import open_store
from triedbefore.graph.neo4j_store import Neo4jStore
from triedbefore.graph.readonly import run_read_only
from triedbefore.graph.store import StoreURI
from triedbefore.ingest.pipeline import ingest

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"

needs_neo4j = pytest.mark.skipif(not os.environ.get("NEO4J_URI"),
                                 reason="NEO4J_URI is not set: no Neo4j server configured")


# --------------------------------------------------------------------------- #
# Against a real server
# --------------------------------------------------------------------------- #


@pytest.fixture(params=[pytest.param("neo4j", marks=[pytest.mark.neo4j, needs_neo4j]),
                        "driver"])
def neo4j_store(request: pytest.FixtureRequest) -> Iterator[Neo4jStore]:
    """A Neo4j server (``NEO4J_URI``); the driver-path variant is skipped with the reason."""
    if request.param == "driver":
        pytest.skip(NO_ROLLBACK if request.function.__name__ == "test_console_on_neo4j"
                    else NO_PLAN)
    store = open_store(os.environ["NEO4J_URI"])
    assert isinstance(store, Neo4jStore)
    store.drop_all()
    try:
        yield store
    finally:
        store.drop_all()
        store.close()


def _count(store: Neo4jStore) -> int:
    return int(store.read("MATCH (n) RETURN count(n) AS n")[0]["n"])


@pytest.mark.parametrize("statement, kind", [
    ("MATCH (n) RETURN count(n) AS n", "r"),
    ("CALL db.labels() YIELD label RETURN label", "r"),
    ("CREATE (:Sneaky)", "w"),
    ("MATCH (n) SET n.x = 1", "rw"),
])
def test_query_type_plans_without_running(neo4j_store: Neo4jStore, statement: str,
                                          kind: str) -> None:
    before = _count(neo4j_store)
    assert neo4j_store.query_type(statement) == kind
    assert _count(neo4j_store) == before


def test_schema_statement_is_never_planned_as_a_read(neo4j_store: Neo4jStore) -> None:
    statement = "CREATE INDEX sneaky_idx IF NOT EXISTS FOR (n:Sneaky) ON (n.id)"
    try:
        kind = neo4j_store.query_type(statement)
    except QueryError:
        kind = None  # the server would not plan it: it did not run either
    assert kind != "r"
    names = {r["name"] for r in neo4j_store.read("SHOW INDEXES YIELD name RETURN name")}
    assert "sneaky_idx" not in names


def test_console_on_neo4j(neo4j_store: Neo4jStore, tmp_path: Path) -> None:
    assert ingest(neo4j_store, SAMPLE, report_dir=tmp_path).exit_code == 0
    before = _count(neo4j_store)
    result = run_read_only(neo4j_store, "MATCH (s:Site) RETURN s.id AS id", None,
                           row_limit=5, timeout_ms=5000)
    assert result.columns == ["id"] and len(result.rows) == 5 and result.truncated
    empty = run_read_only(neo4j_store, "MATCH (s:Nothing) RETURN s.id AS id", None,
                          row_limit=5, timeout_ms=5000)
    assert empty.columns == ["id"] and empty.rows == []  # Neo4j reports the columns
    for statement in ("CREATE (:Sneaky)", "MATCH (n) DETACH DELETE n",
                      "CREATE INDEX sneaky_idx IF NOT EXISTS FOR (n:Sneaky) ON (n.id)"):
        with pytest.raises((QueryRefused, QueryError)):
            run_read_only(neo4j_store, statement, None, row_limit=5, timeout_ms=5000,
                          _lexical_check=False)
    assert _count(neo4j_store) == before


# --------------------------------------------------------------------------- #
# The same code with a stand-in driver (always runs)
# --------------------------------------------------------------------------- #


class _Result:
    def __init__(self, keys: list[str], rows: list[dict[str, Any]]) -> None:
        self._keys, self._rows = keys, rows
        self.fetched: int | None = None

    def keys(self) -> list[str]:
        return self._keys

    def fetch(self, n: int) -> list[dict[str, Any]]:
        self.fetched = n
        return self._rows[:n]


class _Tx:
    def __init__(self, driver: _Driver) -> None:
        self.driver = driver

    def __enter__(self) -> _Tx:
        return self

    def __exit__(self, *exc: object) -> None:
        self.driver.log.append("tx closed")

    def run(self, query: str, params: dict[str, Any]) -> _Result:
        self.driver.log.append(f"run {query}")
        self.driver.result = _Result(["id"], [{"id": i} for i in range(10)])
        return self.driver.result

    def rollback(self) -> None:
        self.driver.log.append("rollback")

    def commit(self) -> None:  # pragma: no cover - must never be called
        self.driver.log.append("commit")


class _Session:
    def __init__(self, driver: _Driver, config: dict[str, Any]) -> None:
        self.driver = driver
        driver.session_config = config

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def begin_transaction(self, timeout: float | None = None) -> _Tx:
        self.driver.log.append(f"begin timeout={timeout}")
        return _Tx(self.driver)


class _Driver:
    def __init__(self, plan: str) -> None:
        self.plan = plan
        self.log: list[str] = []
        self.session_config: dict[str, Any] = {}
        self.result: _Result | None = None

    def execute_query(self, query: Any, params: dict[str, Any], **kwargs: Any) -> Any:
        self.log.append(f"execute {query}")
        return [], SimpleNamespace(query_type=self.plan), []

    def session(self, **config: Any) -> _Session:
        return _Session(self, config)


def _fake_store(plan: str) -> tuple[Neo4jStore, _Driver]:
    store = Neo4jStore.__new__(Neo4jStore)
    driver = _Driver(plan)
    store._driver = driver  # type: ignore[assignment]
    store.database = "neo4j"
    store.uri = StoreURI("neo4j", "neo4j://fake", host="fake")
    return store, driver


def test_read_plan_runs_in_a_read_transaction_that_is_rolled_back() -> None:
    import neo4j

    store, driver = _fake_store("r")
    result = run_read_only(store, "MATCH (n) RETURN n.id AS id", None, row_limit=3,
                           timeout_ms=1500)
    assert driver.log[0] == "execute EXPLAIN MATCH (n) RETURN n.id AS id"
    assert "begin timeout=1.5" in driver.log and "rollback" in driver.log
    assert "commit" not in driver.log
    assert driver.session_config["default_access_mode"] == neo4j.READ_ACCESS
    assert driver.result is not None and driver.result.fetched == 4  # row_limit + 1
    assert result.columns == ["id"] and len(result.rows) == 3 and result.truncated


@pytest.mark.parametrize("plan", ["w", "rw", "s", ""])
def test_plan_that_is_not_read_only_is_refused_before_running(plan: str) -> None:
    store, driver = _fake_store(plan)
    with pytest.raises(QueryRefused, match="query type"):
        run_read_only(store, "MATCH (n) RETURN n", None, row_limit=3, timeout_ms=1000)
    assert [entry for entry in driver.log if not entry.startswith("execute EXPLAIN")] == []
