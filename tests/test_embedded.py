"""The embedded FalkorDB server: start, reuse, stop, persistence and crash recovery."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import falkordb
import pytest

from triedbefore.graph import GraphError, StoreUnavailable
from triedbefore.graph.embedded import MAX_SOCKET_PATH, EmbeddedServer, ServerStatus

MakeServer = Callable[..., EmbeddedServer]  # (data_dir, fsync=...)

CHILD = (
    "import sys\n"
    "from pathlib import Path\n"
    "from triedbefore.graph.embedded import EmbeddedServer\n"
    "print(EmbeddedServer(Path(sys.argv[1]), start_timeout=30).ensure_running())\n"
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def _is_redis(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "redis-server" and _alive(pid)
    except OSError:
        return False


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        assert time.monotonic() < deadline, f"pid {pid} still alive"
        time.sleep(0.02)


@pytest.fixture
def make_server() -> Iterator[MakeServer]:
    """Build servers; at teardown stop each one and, failing that, kill its pid."""
    made: list[EmbeddedServer] = []

    def make(data_dir: Path, fsync: str = "everysec") -> EmbeddedServer:
        server = EmbeddedServer(data_dir, fsync=fsync, start_timeout=30.0)
        made.append(server)
        return server

    yield make
    for server in made:
        pid = server.status().pid
        try:
            server.stop(timeout=10.0)
        except Exception:  # teardown goes on to the kill below
            pass
        if pid is not None and _is_redis(pid):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid)


def _write(server: EmbeddedServer, value: int) -> None:
    db = falkordb.FalkorDB(unix_socket_path=str(server.socket_path))
    try:
        db.select_graph("t").query("CREATE (:Marker {v: $v})", {"v": value})
    finally:
        db.close()


def _read(server: EmbeddedServer) -> list[int]:
    db = falkordb.FalkorDB(unix_socket_path=str(server.socket_path))
    try:
        result = db.select_graph("t").query("MATCH (m:Marker) RETURN m.v ORDER BY m.v")
        return [row[0] for row in result.result_set]
    finally:
        db.close()


def test_status_of_never_started_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "never"
    server = EmbeddedServer(data_dir)
    status = server.status()
    assert status == ServerStatus(False, None, data_dir / "falkordb.sock", data_dir,
                                  "everysec", False)
    assert json.loads(json.dumps(status.to_dict())) == {
        "running": False, "pid": None, "socket_path": str(data_dir / "falkordb.sock"),
        "data_dir": str(data_dir), "fsync": "everysec", "stale": False,
    }
    assert server.stop() is False
    assert not data_dir.exists()


def test_invalid_settings_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StoreUnavailable, match="always, everysec, no") as info:
        EmbeddedServer(tmp_path, fsync="sometimes")
    assert isinstance(info.value, GraphError)
    monkeypatch.setenv("TRIEDBEFORE_START_TIMEOUT", "7")
    assert EmbeddedServer(tmp_path).start_timeout == 7.0
    monkeypatch.setenv("TRIEDBEFORE_START_TIMEOUT", "soon")
    with pytest.raises(StoreUnavailable, match="TRIEDBEFORE_START_TIMEOUT"):
        EmbeddedServer(tmp_path)


@pytest.mark.server
def test_start_write_stop(tmp_path: Path, make_server: MakeServer) -> None:
    data_dir = tmp_path / "db"
    server = make_server(data_dir)
    pid = server.ensure_running()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert server.pid_path.read_text().strip() == str(pid)
    assert server.socket_path == data_dir / "falkordb.sock"
    assert server.socket_path.is_socket()
    status = server.status()
    assert (status.running, status.pid, status.stale) == (True, pid, False)
    _write(server, 1)
    assert _read(server) == [1]
    assert server.stop() is True
    assert not _alive(pid)
    assert not server.pid_path.exists() and not server.socket_path.exists()
    status = server.status()
    assert (status.running, status.pid, status.stale) == (False, None, False)
    assert server.stop() is False
    assert "Ready to accept connections" in server.log_path.read_text()
    assert (data_dir / "appendonlydir").is_dir() and (data_dir / "server.lock").exists()


@pytest.mark.server
def test_data_survives_restart(tmp_path: Path, make_server: MakeServer) -> None:
    server = make_server(tmp_path / "db")
    first = server.ensure_running()
    _write(server, 1)
    assert server.stop()
    second = server.ensure_running()
    assert second != first
    _write(server, 2)
    assert _read(server) == [1, 2]


def test_a_started_server_answers_with_its_indexes_built(
        tmp_path: Path, make_server: MakeServer) -> None:
    """A server answers once it has loaded its files, then builds their indexes again in
    the background: the start returns only once they are built, so the first search
    after a start finds what the next one does."""
    from triedbefore.graph.dialect import FalkorDialect

    server = make_server(tmp_path / "db")
    server.ensure_running()
    db = falkordb.FalkorDB(unix_socket_path=str(server.socket_path))
    try:
        graph = db.select_graph("t")
        graph.query("CREATE INDEX FOR (n:Site) ON (n.id)")
        graph.query("CALL db.idx.fulltext.createNodeIndex('Site', 'name')")
        graph.query("UNWIND range(1, 150000) AS i "
                    "CREATE (:Site {id: toString(i), name: 'surgery ' + toString(i % 97)})")
    finally:
        db.close()
    assert server.stop()
    server.ensure_running()
    db = falkordb.FalkorDB(unix_socket_path=str(server.socket_path))
    try:
        graph = db.select_graph("t")
        building = graph.ro_query(FalkorDialect().indexes_building()).result_set
        found = graph.ro_query("CALL db.idx.fulltext.queryNodes('Site', 'surgery') "
                               "YIELD node RETURN count(node)").result_set
        by_id = graph.ro_query("MATCH (s:Site {id: '149999'}) RETURN s.name").result_set
    finally:
        db.close()
    assert building == [[0]]
    assert found == [[150000]] and by_id == [["surgery 37"]]


@pytest.mark.server
def test_second_instance_and_processes_reuse_the_server(
    tmp_path: Path, make_server: MakeServer
) -> None:
    data_dir = tmp_path / "db"
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(data_dir)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    pids = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        pids.append(int(out))
    server = make_server(data_dir)
    assert server.ensure_running() == pids[0] == pids[1]
    assert make_server(data_dir, fsync="always").ensure_running() == pids[0]
    assert server.status().fsync == "always"  # a stricter policy is applied to the live server
    assert make_server(data_dir, fsync="no").ensure_running() == pids[0]
    assert server.status().fsync == "always"  # and never weakened
    started = [line for line in server.log_path.read_text().splitlines()
               if "Redis is starting" in line]
    assert len(started) == 1


@pytest.mark.server
def test_recovers_after_kill_9(tmp_path: Path, make_server: MakeServer) -> None:
    server = make_server(tmp_path / "db")
    old = server.ensure_running()
    _write(server, 1)
    os.kill(old, signal.SIGKILL)
    _wait_gone(old)
    status = server.status()
    assert (status.running, status.stale) == (False, True)
    new = server.ensure_running()
    assert new != old
    assert server.pid_path.read_text().strip() == str(new)
    assert _read(server) == [1]


@pytest.mark.server
def test_stale_socket_without_pid_file(tmp_path: Path, make_server: MakeServer) -> None:
    server = make_server(tmp_path / "db")
    server.data_dir.mkdir()
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(str(server.socket_path))
    leftover.close()
    assert server.socket_path.is_socket() and not server.pid_path.exists()
    status = server.status()
    assert (status.running, status.stale) == (False, True)
    server.ensure_running()
    _write(server, 1)
    assert _read(server) == [1]


@pytest.mark.server
def test_pid_file_naming_an_unrelated_process(tmp_path: Path, make_server: MakeServer) -> None:
    server = make_server(tmp_path / "db")
    server.data_dir.mkdir()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        server.pid_path.write_text(f"{sleeper.pid}\n")
        status = server.status()
        assert (status.running, status.pid, status.stale) == (False, None, True)
        assert server.stop() is False
        assert sleeper.poll() is None
        server.pid_path.write_text(f"{sleeper.pid}\n")
        pid = server.ensure_running()
        assert pid != sleeper.pid
        assert sleeper.poll() is None
        assert server.status().pid == pid
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.server
def test_lost_pid_file_finds_the_running_server(tmp_path: Path, make_server: MakeServer) -> None:
    server = make_server(tmp_path / "db")
    pid = server.ensure_running()
    server.pid_path.unlink()
    assert server.status().pid == pid
    assert server.ensure_running() == pid
    assert server.pid_path.read_text().strip() == str(pid)


@pytest.mark.server
def test_long_data_dir_path(tmp_path: Path, make_server: MakeServer) -> None:
    data_dir = tmp_path / ("a folder with spaces and a long name " + "x" * 80)
    assert len(str(data_dir)) > 110
    server = make_server(data_dir)
    assert server.socket_path.parent.name == f"triedbefore-{os.getuid()}"
    assert len(os.fsencode(server.socket_path)) <= MAX_SOCKET_PATH
    assert EmbeddedServer(data_dir).socket_path == server.socket_path
    assert EmbeddedServer(tmp_path / "other").socket_path != server.socket_path
    pid = server.ensure_running()
    assert stat.S_IMODE(server.socket_path.parent.stat().st_mode) == 0o700
    _write(server, 1)
    assert _read(server) == [1]
    assert server.status().pid == pid
    assert server.stop()
    assert not server.socket_path.exists()


@pytest.mark.server
def test_server_that_cannot_start_reports_its_log(
    tmp_path: Path, make_server: MakeServer
) -> None:
    server = make_server(tmp_path / "db")
    aof_dir = server.data_dir / "appendonlydir"
    aof_dir.mkdir(parents=True)
    (aof_dir / "appendonly.aof.manifest").write_text("this is not a manifest\n")
    with pytest.raises(StoreUnavailable, match="exited with status") as info:
        server.ensure_running()
    assert "manifest" in str(info.value).lower()
    assert not server.pid_path.exists()
    assert server.status().running is False


@pytest.mark.server
def test_stop_falls_back_to_sigterm(
    tmp_path: Path, make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(tmp_path / "db")
    pid = server.ensure_running()
    _write(server, 1)
    monkeypatch.setattr(EmbeddedServer, "_send_shutdown", lambda self, timeout: False)
    assert server.stop(timeout=10.0) is True
    assert not _alive(pid)
    assert "Received SIGTERM" in server.log_path.read_text()
    monkeypatch.undo()
    server.ensure_running()
    assert _read(server) == [1]  # SIGTERM also flushes the AOF


@pytest.mark.server
def test_stop_kills_a_server_that_does_not_respond(
    tmp_path: Path, make_server: MakeServer
) -> None:
    server = make_server(tmp_path / "db")
    pid = server.ensure_running()
    os.kill(pid, signal.SIGSTOP)  # answers neither SHUTDOWN nor SIGTERM now
    try:
        started = time.monotonic()
        assert server.stop(timeout=1.0) is True
        assert time.monotonic() - started < 5.0
        assert not _alive(pid)
        assert not server.pid_path.exists() and not server.socket_path.exists()
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGCONT)
