"""Crashes and restarts.

- An ingest process killed (SIGKILL) at random points, again and again: running the same
  ingest once more completes, and the graph (and its public copy) equals a clean load.
- The embedded server killed (SIGKILL) while clients write: after the automatic restart
  (stale pid and socket recovered) every write the client was told had committed is
  there, with the default fsync policy (``everysec``: a crash of the server process loses
  nothing) and with ``always``.
- Neo4j unreachable: the CLI and the explorer give a one-line message, never a traceback.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from triedbefore.graph import GraphError, StoreUnavailable
from triedbefore.graph.embedded import EmbeddedServer
from triedbefore.graph.engines import open_store
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.store import StoreURI
from triedbefore.ingest.pipeline import ingest

ROOT = Path(__file__).resolve().parents[1]
#: ``embedding``: a text's vector differs in its last float bits with the batch it was
#: embedded in (the matrix products' shapes); ``embedded_hash``, compared, names the text.
IGNORED = {"run_id", "row_hash", "embedding"}
KILLS = 5
SEED = 20261126

INGEST = """
import sys
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.store import parse_store_uri
from triedbefore.ingest.pipeline import ingest
uri = parse_store_uri(sys.argv[1])
store = FalkorStore(uri, socket_path=uri.path)
print("started", flush=True)
result = ingest(store, sys.argv[2], batch_size=int(sys.argv[3]))
print("done", result.exit_code, flush=True)
"""


def _store(server: EmbeddedServer, name: str) -> FalkorStore:
    uri = StoreURI("falkordb", f"falkordb+unix://{server.socket_path}?graph={name}",
                   path=server.socket_path, graph=name)
    return FalkorStore(uri, socket_path=server.socket_path)


def snapshot(store: Any) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """Every node but the runs' own records (ingest runs, the verdict changes each run
    reports, the graph version they bump), and every relationship, with their properties
    (but the run that wrote them)."""
    nodes = {}
    for row in store.read("MATCH (n) WHERE NOT n:IngestRun AND NOT n:VerdictChange "
                          "AND NOT n:GraphVersion RETURN labels(n)[0] AS label, n {.*} AS props"):
        props = {k: v for k, v in row["props"].items() if k not in IGNORED}
        nodes[(row["label"], props["id"])] = props
    rels = {}
    for row in store.read("MATCH (a)-[e]->(b) RETURN a.id AS a, type(e) AS t, b.id AS b, "
                          "e {.*} AS props"):
        rels[(row["a"], row["t"], row["b"])] = {
            k: v for k, v in row["props"].items() if k not in IGNORED | {"decided_at"}}
    return nodes, rels


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("generated") / "bundle"
    subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), str(dest),
                    "--initiatives", "1500", "--seed", "3"], check=True,
                   capture_output=True)
    return dest


def _run_ingest(store: FalkorStore, bundle: Path, batch: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", INGEST, store.uri.raw, str(bundle),
                             str(batch)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.server
def test_killed_ingests_then_a_rerun_equal_a_clean_load(
        embedded_server: EmbeddedServer, bundle: Path) -> None:
    clean = _store(embedded_server, f"t_clean_{uuid.uuid4().hex[:8]}")
    target = _store(embedded_server, f"t_killed_{uuid.uuid4().hex[:8]}")
    try:
        proc = _run_ingest(clean, bundle, 100)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
        started = time.monotonic()
        out, err = proc.communicate(timeout=600)
        duration = time.monotonic() - started  # the ingest itself, imports left out
        assert proc.returncode == 0 and "done 0" in out, err[-2000:]
        rng = random.Random(SEED)
        killed_mid_run = 0
        for _ in range(KILLS):
            proc = _run_ingest(target, bundle, 100)
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "started"
            time.sleep(rng.uniform(0.02, duration * 0.8))
            if proc.poll() is None:
                killed_mid_run += 1
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert killed_mid_run >= KILLS - 1  # the kills landed inside the runs
        proc = _run_ingest(target, bundle, 100)
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0 and "done 0" in out, err[-2000:]
        for got, want in ((snapshot(target), snapshot(clean)),
                          (snapshot(target.public_copy()), snapshot(clean.public_copy()))):
            for part, name in ((0, "nodes"), (1, "relationships")):
                extra = {k: got[part][k] for k in set(got[part]) - set(want[part])}
                lost = {k: want[part][k] for k in set(want[part]) - set(got[part])}
                changed = {k: (got[part][k], want[part][k]) for k in set(got[part]) &
                           set(want[part]) if got[part][k] != want[part][k]}
                assert not (extra or lost or changed), (
                    name, list(extra.items())[:3], list(lost.items())[:3],
                    list(changed.items())[:3], len(extra), len(lost), len(changed))
        # the killed runs are recorded as runs that never completed
        statuses = [r["s"] for r in target.read("MATCH (r:IngestRun) RETURN r.status AS s")]
        assert statuses.count("completed") >= 1 and len(statuses) == KILLS + 1
        # and once more: nothing left to write
        again = ingest(target, bundle, batch_size=100)
        assert sum(again.written.values()) == 0
    finally:
        for s in (clean, target):
            s.drop_all()
            s.close()


# --- the embedded server killed during writes ------------------------------------------


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Any]:
    made: list[EmbeddedServer] = []

    def make(fsync: str) -> EmbeddedServer:
        server = EmbeddedServer(tmp_path / f"db-{fsync}", fsync=fsync, start_timeout=60.0)
        made.append(server)
        return server

    yield make
    for server in made:
        pid = server.status().pid
        try:
            server.stop(timeout=10.0)
        except Exception:  # noqa: BLE001 - the kill below
            if pid is not None:
                os.kill(pid, signal.SIGKILL)


@pytest.mark.server
@pytest.mark.parametrize("fsync", ["everysec", "always"])
def test_killed_server_keeps_every_acknowledged_write(own_server: Any, fsync: str) -> None:
    server: EmbeddedServer = own_server(fsync)
    rng = random.Random(SEED)
    for round_ in range(3):
        pid = server.ensure_running()
        acknowledged: list[int] = []
        failures: list[BaseException] = []
        stop = threading.Event()

        def writer(base: int, stop: threading.Event, acknowledged: list[int],
                   failures: list[BaseException]) -> None:
            store = _store(server, "crash")
            try:
                i = base
                while not stop.is_set():
                    store.write("UNWIND range($a, $b) AS i CREATE (:Marker {v: i})",
                                {"a": i, "b": i + 9})
                    acknowledged.extend(range(i, i + 10))  # the server said: committed
                    i += 10
            except GraphError as exc:
                failures.append(exc)
            finally:
                store.close()

        threads = [threading.Thread(target=writer, args=(round_ * 10**8 + t * 10**7, stop,
                                                         acknowledged, failures))
                   for t in range(3)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60  # every writer running (a loaded machine is slow)
        while len(acknowledged) < 10 * len(threads) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.1, 0.8))
        os.kill(pid, signal.SIGKILL)
        for t in threads:
            t.join(timeout=30)
        stop.set()
        assert failures, "the writers should have lost their connection"
        assert len(acknowledged) > 0
        status = server.status()
        assert status.running is False and status.stale is True
        new = server.ensure_running()  # recovers the stale pid and socket, replays the AOF
        assert new != pid and server.status().stale is False
        store = _store(server, "crash")
        try:
            stored = {r["v"] for r in store.read(
                "MATCH (m:Marker) WHERE m.v >= $lo AND m.v < $hi RETURN m.v AS v",
                {"lo": round_ * 10**8, "hi": (round_ + 1) * 10**8})}
        finally:
            store.close()
        missing = set(acknowledged) - stored
        assert not missing, f"{len(missing)} acknowledged writes lost (fsync={fsync})"


@pytest.mark.server
def test_a_stopped_embedded_server_is_started_again(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """A crashed embedded server (here: SIGKILL) is started again by the next statement:
    a read is answered from the replayed append-only file; a write in flight is reported,
    not repeated, and the next write works."""
    data = tmp_path / "db"
    store = open_store(f"embedded:{data}?fsync=always")
    server = EmbeddedServer(data)
    try:
        store.write("CREATE (:Marker {v: 1}), (:Site {id: 'S1', name: 'A site'})")
        public = store.public_copy()
        store.rebuild_public_copy()
        assert public.read("MATCH (s:Site) RETURN s.id AS id") == [{"id": "S1"}]

        def kill() -> int:
            pid = server.status().pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while server.status().running and time.monotonic() < deadline:
                time.sleep(0.05)
            return pid

        first = kill()
        assert store.read("MATCH (m:Marker) RETURN m.v AS v") == [{"v": 1}]
        second = server.status().pid
        assert second not in (None, first)
        assert "stopped" in caplog.text and "started again" in caplog.text

        kill()
        with pytest.raises(StoreUnavailable):
            store.write("CREATE (:Marker {v: 2})")
        assert server.status().running  # started again for the next statement
        store.write("CREATE (:Marker {v: 3})")
        assert {r["v"] for r in store.read("MATCH (m:Marker) RETURN m.v AS v")} <= {1, 2, 3}
        assert {1, 3} <= {r["v"] for r in store.read("MATCH (m:Marker) RETURN m.v AS v")}

        kill()  # the public copy shares the connections, and the restart
        assert public.read("MATCH (s:Site) RETURN s.id AS id") == [{"id": "S1"}]
    finally:
        store.close()
        server.stop(timeout=10.0)


def test_a_server_that_cannot_start_again_is_a_clear_error(tmp_path: Path) -> None:
    """Without a way to start the server (an external one), a lost server is the usual
    one-line StoreUnavailable."""
    server = EmbeddedServer(tmp_path / "db")
    server.ensure_running()
    store = FalkorStore(StoreURI("falkordb", "x", graph="g"), socket_path=server.socket_path)
    try:
        server.stop(timeout=10.0)
        with pytest.raises(StoreUnavailable, match="lost connection"):
            store.read("RETURN 1 AS one")
    finally:
        store.close()
        server.stop(timeout=10.0)


# --- Neo4j unavailable ----------------------------------------------------------------


def test_unreachable_neo4j_is_a_clear_message_not_a_traceback(tmp_path: Path) -> None:
    env = dict(os.environ, NEO4J_PASSWORD="x", TRIEDBEFORE_DATA_DIR=str(tmp_path))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "triedbefore.web.cli", "--store",
                           "bolt://127.0.0.1:9", "stats"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    assert out.strip().startswith("triedbefore: error: cannot reach Neo4j at bolt://127.0.0.1:9")
    assert len(out.strip().splitlines()) == 1
    assert time.monotonic() - started < 60


def test_unreachable_neo4j_in_the_explorer_is_503(tmp_path: Path) -> None:
    from triedbefore.web.app import create_app

    app = create_app({"TESTING": True, "STORE_URI": "bolt://127.0.0.1:9",
                      "SECRET_KEY": "t", "USERS_FILE": str(tmp_path / "u.json")})
    client = app.test_client()
    res = client.get("/solutions.json")
    assert res.status_code == 503
    assert res.get_json() == {"ok": False, "status": 503,
                              "error": "the graph store is unavailable or refused the query"}
    page = client.get("/solutions")
    assert page.status_code == 503 and b"Traceback" not in page.data
