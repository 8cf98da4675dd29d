"""An embedded server's files are compacted after an ingest run: a server that starts
replays the statements appended to its append-only file before their indexes exist (the
demo's 22 MB took 50 s to load), and loads a snapshot at once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from triedbefore.graph import embedded
from triedbefore.graph.embedded import EmbeddedServer
from triedbefore.graph.engines import open_store
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
COUNT = "MATCH (n) RETURN count(n) AS n"


def _persistence(server: EmbeddedServer) -> dict[str, int]:
    with redis.Redis(unix_socket_path=str(server.socket_path)) as client:
        info = client.info("persistence")
    return {k: int(v) for k, v in info.items() if isinstance(v, int)}


def _rewritten(server: EmbeddedServer, timeout: float = 30.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        info = _persistence(server)
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return info
        assert time.monotonic() < deadline, info
        time.sleep(0.05)


def test_an_ingest_leaves_the_embedded_servers_files_quick_to_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "COMPACT_MIN_BYTES", 1)  # the sample appends under 4 MB
    store = open_store(f"embedded:{tmp_path / 'db'}")
    server = EmbeddedServer(tmp_path / "db")
    try:
        before = _persistence(server)["aof_rewrites"] if server.status().running else 0
        assert ingest(store, SAMPLE).exit_code == 0
        info = _rewritten(server)
        assert info["aof_rewrites"] > before
        assert info["aof_current_size"] - info["aof_base_size"] < info["aof_base_size"]
        nodes = store.read(COUNT)
        # nothing more appended since: nothing to rewrite
        assert store.compact() is False
        store.close()
        assert server.stop()
        log_from = (tmp_path / "db" / "falkordb.log").stat().st_size
        store = open_store(f"embedded:{tmp_path / 'db'}")
        assert store.read(COUNT) == nodes  # the snapshot holds everything
        started = (tmp_path / "db" / "falkordb.log").read_text()[log_from:]
        assert "DB loaded from base file" in started
        assert "DB loaded from incr file" not in started  # no statement replayed
    finally:
        store.close()
        server.stop()


def test_a_server_run_by_someone_else_keeps_its_own_rules(
        own_server: tuple[EmbeddedServer, FalkorStore],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Through a falkordb:// address the store does not rewrite the server's files."""
    monkeypatch.setattr(embedded, "COMPACT_MIN_BYTES", 1)
    server, store = own_server
    store.write("UNWIND range(1, 2000) AS i CREATE (:Site {id: toString(i)})")
    before = _persistence(server)["aof_rewrites"]
    assert store.compact() is False
    assert _persistence(server)["aof_rewrites"] == before


def test_a_start_compacts_files_left_long_to_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store whose files were written without a compaction (an older version, or a run
    killed before its end) is compacted once its server has started, so the start after
    that is quick."""
    monkeypatch.setattr(embedded, "COMPACT_MIN_BYTES", 1)
    server = EmbeddedServer(tmp_path / "db")
    server.ensure_running()
    try:
        with redis.Redis(unix_socket_path=str(server.socket_path)) as client:
            for i in range(20):
                client.execute_command("GRAPH.QUERY", "g", f"CREATE (:Site {{id: '{i}'}})")
            assert client.info("persistence")["aof_rewrites"] == 0
        assert server.stop()
        server.ensure_running()  # replays the statements, then asks for the rewrite
        info = _rewritten(server)
        assert info["aof_rewrites"] == 1
        assert server.stop()
        log = tmp_path / "db" / "falkordb.log"
        log_from = log.stat().st_size
        server.ensure_running()
        started = log.read_text()[log_from:]
        assert "DB loaded from incr file" not in started
        with redis.Redis(unix_socket_path=str(server.socket_path)) as client:
            rows = client.execute_command("GRAPH.RO_QUERY", "g", "MATCH (s:Site) RETURN count(s)")
        assert rows[1] == [[20]]
        assert _persistence(server)["aof_rewrites"] == 0  # nothing appended: no rewrite
    finally:
        server.stop()
