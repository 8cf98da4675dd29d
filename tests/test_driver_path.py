"""The store over the official ``neo4j`` driver, against a real Bolt server on every
machine: FalkorDB's Bolt listener (``bolt+falkordb://``, the session's ``bolt_servers``).

Here: the store URI, error mapping to the project's own errors with one-line messages (a
refused statement, a dropped connection and an unreachable server through the real
driver; a timeout with a stand-in driver, since the listener ignores timeouts), the
workarounds the store applies, and the listener's faults they work around (each test of a
fault fails the day FalkorDB fixes it, so the workaround and docs/scaling.md can go).
The store-level tests parametrised over the driver path live with their subjects
(ingest, the bad-input corpus, export, analytics, the console, the public copy).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import neo4j
import pytest
from driver_path import start_bolt_server
from neo4j import exceptions as nex

from triedbefore.graph import QueryError, StoreUnavailable, StoreURIError
from triedbefore.graph.embedded import MAX_BOLT_PORT, EmbeddedServer
from triedbefore.graph.engines import open_store
from triedbefore.graph.neo4j_store import FalkorBoltStore, Neo4jStore
from triedbefore.graph.readonly import QueryTimedOut, run_read_only
from triedbefore.graph.store import StoreURI, parse_store_uri

# --------------------------------------------------------------------------- #
# The store URI: protocol and dialect as separate choices
# --------------------------------------------------------------------------- #


def test_bolt_falkordb_uri_is_falkordbs_dialect_over_bolt() -> None:
    uri = parse_store_uri("bolt+falkordb://127.0.0.1:7690?public=127.0.0.1:7691")
    assert (uri.engine, uri.protocol, uri.host, uri.port, uri.graph) == (
        "falkordb", "bolt", "127.0.0.1", 7690, "falkordb")
    assert parse_store_uri("bolt://h:7687").protocol == "bolt"
    assert parse_store_uri("bolt://h:7687").engine == "neo4j"
    assert parse_store_uri("falkordb://h:6379").protocol == "native"
    assert parse_store_uri("bolt+falkordb://h:1/falkordb?public=h:2").graph == "falkordb"


@pytest.mark.parametrize("raw, message", [
    ("bolt+falkordb://127.0.0.1:7690", "needs ?public=HOST:PORT"),
    ("bolt+falkordb://127.0.0.1?public=h:2", "needs the Bolt port"),
    ("bolt+falkordb://h:1/mygraph?public=h:2", "serves only the graph 'falkordb'"),
    ("bolt+falkordb://h:1?graph=g&public=h:2", "serves only the graph 'falkordb'"),
    ("bolt+falkordb://:1?public=h:2", "needs a host"),
])
def test_bolt_falkordb_uri_mistakes_are_one_line_errors(raw: str, message: str) -> None:
    with pytest.raises(StoreURIError, match=re.escape(message)) as failed:
        parse_store_uri(raw)
    assert "\n" not in str(failed.value)


def test_bolt_port_above_what_falkordb_takes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="FalkorDB ignores a higher one"):
        EmbeddedServer(tmp_path, bolt_port=MAX_BOLT_PORT + 1)


def test_driver_store_is_the_bolt_store_with_falkordbs_dialect(driver_store: Any) -> None:
    assert isinstance(driver_store, FalkorBoltStore)
    assert (driver_store.engine, driver_store.dialect.name) == ("falkordb", "falkordb")
    assert isinstance(driver_store._driver, neo4j.Driver)  # the official driver
    # the stores of a process share one driver per listener; closing one leaves it open
    again = open_store(driver_store.uri.raw)
    assert again._driver is driver_store._driver  # type: ignore[attr-defined]
    again.close()
    assert driver_store.read("RETURN 1 AS x") == [{"x": 1}]


# --------------------------------------------------------------------------- #
# Error mapping: the project's own errors, one line each
# --------------------------------------------------------------------------- #


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert text and "\n" not in text, text
    return text


@pytest.mark.parametrize("statement", ["RETRUN 1", "MATCH (n RETURN n",
                                        "RETURN nosuchfunction(1) AS x"])
def test_a_refused_statement_is_a_query_error(driver_store: Any, statement: str) -> None:
    with pytest.raises(QueryError) as failed:
        driver_store.read(statement)
    _one_line(failed.value)
    with pytest.raises(QueryError):
        driver_store.write(statement)
    assert driver_store.read("RETURN 1 AS x") == [{"x": 1}]  # the connection still works


def test_a_dropped_connection_is_store_unavailable(tmp_path: Path) -> None:
    server = start_bolt_server(tmp_path / "s")
    try:
        store = open_store(f"bolt+falkordb://127.0.0.1:{server.bolt_port}"
                           f"?public=127.0.0.1:{server.bolt_port}&retry=0")
        assert store.read("RETURN 1 AS x") == [{"x": 1}]
    finally:
        server.stop()
    for call in (lambda: store.read("RETURN 1 AS x"), lambda: store.write("CREATE (:X)")):
        with pytest.raises(StoreUnavailable) as lost:
            call()
        assert "FalkorDB (Bolt)" in _one_line(lost.value) and "unavailable" in str(lost.value)


def test_an_unreachable_listener_is_store_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="cannot reach FalkorDB") as failed:
        open_store("bolt+falkordb://127.0.0.1:9?public=127.0.0.1:9&retry=0")
    _one_line(failed.value)


class _TimingOutDriver:
    """A stand-in driver: FalkorDB's listener ignores timeouts (docs/scaling.md)."""

    def execute_query(self, *args: Any, **kwargs: Any) -> Any:
        raise nex.Neo4jError._hydrate_neo4j(
            code="Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration",
            message="The transaction has been terminated.\nRetry your operation")


def test_a_timeout_is_a_one_line_query_error_and_the_consoles_timeout() -> None:
    store = Neo4jStore.__new__(Neo4jStore)
    store._driver = _TimingOutDriver()  # type: ignore[assignment]
    store.database = "neo4j"
    store.uri = StoreURI("neo4j", "neo4j://fake", host="fake", protocol="bolt")
    with pytest.raises(QueryError, match="^Query timed out: ") as failed:
        store.read("MATCH (n) RETURN n", timeout_ms=10)
    _one_line(failed.value)
    with pytest.raises(QueryTimedOut):  # the console's planning step times out too
        run_read_only(store, "MATCH (n) RETURN n", None, row_limit=1, timeout_ms=10)


# --------------------------------------------------------------------------- #
# What the store works around, and the listener's faults behind it
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("value", [
    "it's", "back\\slash", "x' RETURN 1 AS pwn //", 'dou"ble', "é – ☃ 😀", "line\nbreak",
    "x" * 60_000,
])
def test_any_string_parameter_round_trips(driver_store: Any, value: str) -> None:
    assert driver_store.read("RETURN $v AS v", {"v": value}) == [{"v": value}]
    rows, summary = driver_store.write("CREATE (n:Probe {id: $v}) RETURN n.id AS id",
                                       {"v": value})
    assert rows == [{"id": value}] and summary.nodes_created == 1


def test_parameters_far_beyond_the_listeners_4kb_go_through(driver_store: Any) -> None:
    """(Results stay under 64 KB a record: the listener sends a longer one so that the
    driver waits for it forever.)"""
    big = "x" * 500_000
    assert driver_store.read("RETURN size($v) AS n", {"v": big}) == [{"n": 500_000}]
    rows = [{"id": f"id-{i}", "props": {"name": f"it's {i}", "n": i, "xs": [1.5, None]}}
            for i in range(3000)]
    assert driver_store.read("UNWIND $rows AS r RETURN count(r) AS n, "
                             "max(r.props.n) AS top", {"rows": rows}) == [{"n": 3000,
                                                                           "top": 2999}]


@pytest.fixture
def listener(driver_store: Any) -> Iterator[neo4j.Driver]:
    """The listener's own behaviour, through the store's driver (a driver of its own would
    open and close a connection, after which the listener often answers no new one)."""
    yield driver_store._driver


def _count(driver: neo4j.Driver, label: str) -> int:
    records, _, _ = driver.execute_query(f"MATCH (n:{label}) RETURN count(n) AS n")
    return int(records[0]["n"])


def test_fault_a_bolt_string_parameter_is_spliced_into_the_statement(
        listener: neo4j.Driver) -> None:
    records, _, _ = listener.execute_query("RETURN $v AS v", v="x' RETURN 1 AS pwn //")
    assert records[0].keys() == ["pwn"]  # the value ended the statement's own text


def test_fault_explain_runs_the_statement(listener: neo4j.Driver) -> None:
    _, summary, _ = listener.execute_query("EXPLAIN CREATE (:Canary)")
    assert summary.query_type is None and _count(listener, "Canary") == 1


def test_fault_a_rolled_back_transaction_is_committed(listener: neo4j.Driver) -> None:
    with listener.session(default_access_mode=neo4j.READ_ACCESS) as session:
        with session.begin_transaction() as tx:
            tx.run("CREATE (:Canary)").consume()
            tx.rollback()
    assert _count(listener, "Canary") == 1  # in a READ transaction, too


def test_fault_the_database_name_is_ignored(listener: neo4j.Driver) -> None:
    listener.execute_query("CREATE (:Canary)", database_="another")
    assert _count(listener, "Canary") == 1  # in the one graph of the listener


def test_fault_every_error_is_unknown(listener: neo4j.Driver) -> None:
    with pytest.raises(nex.DatabaseError) as failed:
        listener.execute_query("RETRUN 1")
    assert failed.value.code == "Neo.DatabaseError.General.UnknownError"



def test_a_server_with_a_bolt_port_listens_and_keeps_no_append_only_file(
        bolt_servers: tuple[EmbeddedServer, EmbeddedServer]) -> None:
    import redis

    for server in bolt_servers:
        assert f"Bolt protocol initialized. Port: {server.bolt_port}" in \
            server.log_path.read_text(errors="replace")
        client = redis.Redis(unix_socket_path=str(server.socket_path), decode_responses=True)
        try:  # FalkorDB stops at the first write over Bolt when the AOF is on
            assert client.config_get("appendonly") == {"appendonly": "no"}
        finally:
            client.close()
