"""Recording a server's commands (bench/falkordb_monitor.py) and replaying them on a copy
of its store (bench/falkordb_crash.py --replay): what a FalkorDB crash needs to be sent
upstream as the sequence that led to it."""

from __future__ import annotations

import importlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from triedbefore.graph.embedded import EmbeddedServer

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
monitor = importlib.import_module("falkordb_monitor")
crash = importlib.import_module("falkordb_crash")

NODES = "MATCH (n) RETURN n.id, n.text ORDER BY n.id"


def _graph(client: redis.Redis, name: str) -> list[list[bytes]]:
    return list(client.execute_command("GRAPH.RO_QUERY", name, NODES)[1])


def test_a_recorded_sequence_replays_onto_its_snapshot(tmp_path: Path) -> None:
    store = tmp_path / "store"
    server = EmbeddedServer(store)
    server.ensure_running()
    client = redis.Redis(unix_socket_path=str(server.socket_path))
    recorder = None
    try:
        client.execute_command("GRAPH.QUERY", "g", "CREATE (:N {id: 0, text: 'before'})")
        time.sleep(1.2)  # the append-only file is synced once a second
        assert monitor.snapshot(store, tmp_path / "snap") > 0
        recorder = subprocess.Popen([sys.executable, str(BENCH / "falkordb_monitor.py"),
                                     str(store), "--out", str(tmp_path / "rec.log")])
        deadline = time.monotonic() + 20
        while b"cmd=monitor" not in client.execute_command("CLIENT", "LIST"):
            assert time.monotonic() < deadline, "the recorder did not attach"
            time.sleep(0.1)
        # quotes, a newline, a tab, a backslash and a non-ASCII letter survive the record
        tricky = 'a "quoted" é\n\tback\\slash'
        for i in range(1, 4):
            client.execute_command("GRAPH.QUERY", "g", f"CYPHER t={_literal(tricky)} "
                                   f"CREATE (:N {{id: {i}, text: $t + '{i}'}})")
        client.execute_command("GRAPH.QUERY", "building", "CREATE (:N {id: 9, text: 'x'})")
        client.execute_command("RENAME", "building", "public")
        client.execute_command("GRAPH.RO_QUERY", "g", NODES)
        client.info("persistence")  # not replayed: the connection's own
        expected = {name: _graph(client, name) for name in ("g", "public")}
        time.sleep(0.5)
        recorder.send_signal(signal.SIGTERM)
        assert recorder.wait(timeout=20) == 0
    finally:
        if recorder is not None and recorder.poll() is None:
            recorder.kill()
        client.close()
        server.stop()

    recorded = [args for _t, _c, args in monitor.read_log(tmp_path / "rec.log")]
    assert [b"GRAPH.QUERY", b"g", f"CYPHER t={_literal(tricky)} CREATE (:N {{id: 1, text: "
            f"$t + '1'}})".encode()] in recorded
    sent, crashed = crash.replay(tmp_path / "rec.log", tmp_path / "snap", tmp_path / "again")
    assert crashed is None
    # the graph commands and RENAME, not INFO nor CLIENT LIST: 3 + 1 + 1 + 2 reads
    assert sent == sum(1 for a in recorded if crash.replayed(a)) == 8
    replayed = EmbeddedServer(tmp_path / "again")
    replayed.ensure_running()
    client = redis.Redis(unix_socket_path=str(replayed.socket_path))
    try:
        assert {name: _graph(client, name) for name in ("g", "public")} == expected
        assert [row[1] for row in expected["g"]] == [
            b"before", *(f"{tricky}{i}".encode() for i in range(1, 4))]
    finally:
        client.close()
        replayed.stop()


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
