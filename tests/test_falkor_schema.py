"""Nodes and edges in compact FalkorDB replies carry label, property key and relationship
type ids; the names behind them must be those of the graph as it is when the reply is
made, even after another connection or process deleted the graph and made it again with
the same names in another order (the public copy is rebuilt and renamed over the old)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triedbefore.graph.embedded import EmbeddedServer
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.store import StoreURI

LABELS = ("Evaluation", "Site", "Solution")


def _open(server: EmbeddedServer, graph: str) -> FalkorStore:
    uri = StoreURI("falkordb", f"falkordb+unix://{server.socket_path}?graph={graph}",
                   path=server.socket_path, graph=graph)
    return FalkorStore(uri, socket_path=server.socket_path)


def _consistent(store: FalkorStore) -> None:
    """``RETURN n`` (decoded through the id maps) equals ``properties(n)`` (a plain map,
    names from the server) for every node of every label, and likewise for edges."""
    for label in LABELS:
        nodes = store.read(f"MATCH (n:{label}) RETURN n, properties(n) AS p ORDER BY n.id")
        for row in nodes:
            assert row["n"] == row["p"], (label, row)
    for row in store.read("MATCH ()-[r]->() RETURN r, properties(r) AS p"):
        assert row["r"] == row["p"], row


def _build(store: FalkorStore, keys: list[str], tag: str) -> None:
    for label in LABELS:
        props = {key: f"{label}-{key}-{tag}" for key in keys}
        store.write(f"CREATE (n:{label}) SET n = $props, n.id = $id",
                    {"props": props, "id": f"{label}-{tag}"})
    store.write("MATCH (a:Site), (b:Solution) CREATE (a)-[r:TRIED]->(b) SET r = $props",
                {"props": {key: f"r-{key}-{tag}" for key in reversed(keys)}})


def test_a_graph_made_again_by_another_connection_is_decoded_with_its_own_names(
        embedded_server: EmbeddedServer) -> None:
    reader = _open(embedded_server, "schema_again")
    other = _open(embedded_server, "schema_again")
    try:
        _build(other, ["finding", "design", "start_date", "name"], "one")
        _consistent(reader)  # the reader learns the first graph's names
        before = reader.read("MATCH (n:Evaluation) RETURN n")[0]["n"]
        assert before["finding"] == "Evaluation-finding-one"
        other.drop_all()
        _build(other, ["x_extra", "start_date", "name", "design", "finding"], "two")
        _consistent(reader)
        after = reader.read("MATCH (n:Evaluation) RETURN n")[0]["n"]
        assert after["finding"] == "Evaluation-finding-two"
        assert after["x_extra"] == "Evaluation-x_extra-two"
    finally:
        other.drop_all()
        reader.close()
        other.close()


def test_a_public_copy_rebuilt_under_a_reader_is_decoded_with_its_own_names(
        embedded_server: EmbeddedServer) -> None:
    """The sequence of the report: the explorer reads the public copy, another process's
    ingest rebuilds it (new graph renamed over the old) with an extra column."""
    from triedbefore.ingest.pipeline import PublicCopy, RowsSource, run

    explorer = _open(embedded_server, "schema_copy")
    public = explorer.public_copy()
    ingest = _open(embedded_server, "schema_copy")
    evaluation = {"evaluation_id": "EV01", "initiative_ids": "INI-1", "title": "An evaluation",
                  "design": "matched_comparison", "finding": "positive",
                  "published_date": "2020-01"}
    files: dict[str, list[dict[str, str]]] = {
        "sites.csv": [{"site_id": "S1", "name": "A site", "kind": "trust"}],
        "solutions.csv": [{"solution_id": "SOL-1", "name": "A solution",
                           "intervention_type": "delivery_arrangements"}],
        "initiatives.csv": [{"initiative_id": "INI-1", "title": "An initiative",
                             "solution_id": "SOL-1", "site_ids": "S1",
                             "start_date": "2019-01"}],
        "evaluations.csv": [evaluation],
    }
    try:
        run(ingest, RowsSource("first", files))
        first = public.read("MATCH (e:Evaluation {id: 'EV01'}) RETURN e")[0]["e"]
        assert first["finding"] == "positive"
        ingest.drop_all()
        files["evaluations.csv"] = [{"x_note": "an extra column", **evaluation}]
        files["initiatives.csv"] = [{"x_budget": "100", **files["initiatives.csv"][0]}]
        run(ingest, RowsSource("second", files))
        run(ingest, PublicCopy())
        for label in LABELS:
            for row in public.read(f"MATCH (n:{label}) RETURN n, properties(n) AS p"):
                assert row["n"] == row["p"], (label, row)
        again = public.read("MATCH (e:Evaluation {id: 'EV01'}) RETURN e")[0]["e"]
        assert again["finding"] == "positive" and again["design"] == "matched_comparison"
    finally:
        ingest.drop_all()
        explorer.close()
        ingest.close()


# -- another process changes the schema while this one reads ---------------------------

_CHANGER = textwrap.dedent("""
    import sys
    from falkordb import FalkorDB
    conn = FalkorDB(unix_socket_path=sys.argv[1]).connection
    graph = sys.argv[2]
    for line in sys.stdin:
        op, _, arg = line.strip().partition(" ")
        if op == "recreate":
            keys = arg.split(",")
            if conn.exists(graph):
                conn.execute_command("GRAPH.DELETE", graph)
            for label in ("Evaluation", "Site", "Solution"):
                props = ", ".join(f"{k}: '{label}-{k}'" for k in keys)
                conn.execute_command("GRAPH.QUERY", graph,
                                     f"CREATE (:{label} {{id: '{label}', {props}}})")
        elif op == "add":
            conn.execute_command("GRAPH.QUERY", graph,
                                 f"MATCH (n) SET n.{arg} = labels(n)[0] + '-{arg}'")
        print("ok", flush=True)
""")


@pytest.fixture(scope="module")
def changer(embedded_server: EmbeddedServer) -> Iterator[Any]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHANGER, str(embedded_server.socket_path), "schema_mixed"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None

    def send(command: str) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(command + "\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "ok"

    try:
        yield send
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


KEYS = ["a", "b", "c", "d", "e", "finding", "design"]
step = st.one_of(
    st.permutations(KEYS).flatmap(
        lambda keys: st.integers(1, len(keys)).map(lambda n: ("recreate", ",".join(keys[:n])))),
    st.sampled_from([f"p{i}" for i in range(6)]).map(lambda k: ("add", k)),
    st.just(("read", "")),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=6))
def test_reads_stay_right_while_another_process_changes_the_schema(
        embedded_server: EmbeddedServer, changer: Any, steps: list[tuple[str, str]]) -> None:
    reader = _open(embedded_server, "schema_mixed")
    try:
        changer("recreate a,b")
        _consistent(reader)
        for op, arg in steps:
            if op != "read":
                changer(f"{op} {arg}")
            _consistent(reader)
            for row in reader.read("MATCH (n) RETURN n"):
                label = str(row["n"]["id"])
                assert all(value == f"{label}-{key}" for key, value in row["n"].items()
                           if key != "id"), row
    finally:
        reader.close()


def test_a_write_returning_a_key_it_adds_is_decoded(store: FalkorStore) -> None:
    """A statement runs at the version it was sent with, but a write may add keys as it
    runs: an id past the names read reads them again."""
    store.write("CREATE (:Site {id: 'S1', name: 'first'})")
    store.read("MATCH (n:Site) RETURN n")
    rows, _ = store.write("MATCH (n:Site) SET n.brand_new = 'added', n.another = 2 RETURN n")
    assert rows[0]["n"] == {"id": "S1", "name": "first", "brand_new": "added", "another": 2}


def test_threads_reading_while_the_graph_is_made_again_never_mislabel(
        embedded_server: EmbeddedServer) -> None:
    """The explorer's threads share one store: a thread reading the names again must not
    change the names another thread decodes its reply with."""
    import threading

    reader = _open(embedded_server, "schema_threads")
    other = _open(embedded_server, "schema_threads")
    orders = [["a", "b", "c", "finding"], ["finding", "c", "b", "a"], ["c", "finding", "a"]]
    failures: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                for row in reader.read("MATCH (n) RETURN n, properties(n) AS p"):
                    if row["n"] != row["p"]:
                        failures.append(repr(row))
            except Exception as exc:  # noqa: BLE001 - a graph being made again may be empty
                if "schema kept changing" in str(exc):
                    failures.append(str(exc))
    try:
        _build(other, orders[0], "0")
        threads = [threading.Thread(target=read) for _ in range(3)]
        for t in threads:
            t.start()
        for i in range(30):
            other.drop_all()
            _build(other, orders[i % len(orders)], str(i))
        stop.set()
        for t in threads:
            t.join(timeout=20)
        assert failures == []
    finally:
        stop.set()
        other.drop_all()
        reader.close()
        other.close()
