"""A replicated FalkorDB deployment: store URIs, servers on loopback with a password,
`triedbefore db` for a local deployment, writes to the primary and reads to the replicas,
read-your-writes, and acknowledged writes that wait for a replica (``WAIT``).

Replicas are held still with SIGSTOP (and let go with SIGCONT) to make them lag.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from triedbefore.graph import QueryError, StoreUnavailable, StoreURIError
from triedbefore.graph.embedded import EmbeddedServer, process_alive
from triedbefore.graph.engines import open_store
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.replicated import (
    ReplicatedStore,
    ReplicationTimeout,
    StaticLocator,
    Topology,
)
from triedbefore.graph.store import StoreURI, parse_store_uri
from triedbefore.graph.topology import LocalTopology, free_port, free_ports

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"

pytestmark = pytest.mark.server


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "triedbefore.web.cli", *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTopology]:
    topology = LocalTopology(tmp_path_factory.mktemp("replicated") / "db")
    topology.create(replicas=2, down_after_ms=60_000)  # no failover in these tests
    try:
        topology.start()
        yield topology
    finally:
        topology.stop()


def _members(topology: LocalTopology, role: str) -> list[dict[str, Any]]:
    return [m for m in topology.status()["members"] if m["role"] == role and m["running"]]


def _password(topology: LocalTopology) -> str:
    return (topology.root / "password").read_text().strip()


def _graph_reads(port: int, password: str) -> int:
    with redis.Redis(port=port, password=password) as client:
        stats = client.info("commandstats")
    return int(stats.get("cmdstat_graph.RO_QUERY", {}).get("calls", 0))


@contextmanager
def _replicas_held(topology: LocalTopology) -> Iterator[None]:
    """The replicas stopped (SIGSTOP) for the block: they take no writes and answer
    nothing."""
    pids = [int(m["pid"]) for m in _members(topology, "replica")]
    assert len(pids) == 2
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def _caught_up(store: ReplicatedStore, timeout: float = 10.0) -> None:
    """Until this process's reads may go to the replicas again."""
    deadline = time.monotonic() + timeout
    while store._shared.wanted is not None:  # noqa: SLF001
        assert time.monotonic() < deadline, "the replicas did not catch up"
        store.read("RETURN 1 AS one")
        time.sleep(0.05)


# -- store URIs -----------------------------------------------------------------------------


def test_store_uris_for_replicated_deployments() -> None:
    u = parse_store_uri("falkordb+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26380/tb?graph=g")
    assert (u.engine, u.protocol, u.graph) == ("falkordb", "sentinel", "g")
    assert (u.options["sentinels"], u.options["service"]) == \
        ("10.0.0.1:26379,10.0.0.2:26380", "tb")
    assert "s3cret" not in u.display
    u = parse_store_uri("falkordb://10.0.0.1:6379?replicas=10.0.0.2:6379,10.0.0.3:6379")
    assert (u.protocol, u.host, u.port) == ("replicated", "10.0.0.1", 6379)
    assert parse_store_uri("falkordb://10.0.0.1:6379").protocol == "native"
    for bad in ("falkordb+sentinel://10.0.0.1:26379", "falkordb+sentinel:///tb",
                "falkordb+sentinel://10.0.0.1/tb"):
        with pytest.raises(StoreURIError):
            parse_store_uri(bad)


# -- the servers ---------------------------------------------------------------------------


def test_every_process_listens_on_loopback_and_requires_the_password(
        deployment: LocalTopology) -> None:
    password = _password(deployment)
    assert stat.S_IMODE(os.stat(deployment.root / "password").st_mode) == 0o600
    for member in deployment.status()["members"]:
        assert member["running"], member
        folder = Path(member["folder"])
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        cmdline = Path(f"/proc/{member['pid']}/cmdline").read_bytes().decode()
        assert password not in cmdline
        with redis.Redis(port=member["port"], retry=Retry(NoBackoff(), 0)) as anonymous:
            with pytest.raises(redis.AuthenticationError):
                anonymous.ping()
        with redis.Redis(port=member["port"], password=password) as client:
            assert client.ping()
            if member["kind"] == "node":
                assert client.config_get("bind") == {"bind": "127.0.0.1"}
                assert stat.S_IMODE(os.stat(folder / "falkordb.conf").st_mode) == 0o600
        listening = [line.split()[3] for line in subprocess.run(
            ["ss", "-Hltn", f"sport = :{member['port']}"], capture_output=True,
            text=True).stdout.splitlines() if line.strip()]
        if listening:  # ss is there: the one listener is on 127.0.0.1
            assert listening == [f"127.0.0.1:{member['port']}"]


def test_a_server_started_as_a_replica_of_another_gets_its_writes(tmp_path: Path) -> None:
    primary = EmbeddedServer(tmp_path / "p", port=free_port())
    primary.ensure_running()
    replica = EmbeddedServer(tmp_path / "r", replica_of=f"127.0.0.1:{primary.port}",
                             password=primary.password())
    try:
        replica.ensure_running()
        uri = StoreURI("falkordb", "falkordb+unix://x", graph="g")
        writer = FalkorStore(uri, socket_path=primary.socket_path, password=primary.password())
        reader = FalkorStore(uri, socket_path=replica.socket_path, password=replica.password())
        writer.write("UNWIND range(1, 1000) AS i CREATE (:Site {id: toString(i)})")
        deadline = time.monotonic() + 10
        while reader.read("MATCH (s:Site) RETURN count(s) AS n") != [{"n": 1000}]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(QueryError, match="(?i)read only replica"):
            reader.write("CREATE (:Site {id: 'x'})")
        writer.close()
        reader.close()
    finally:
        replica.stop()
        primary.stop()


# -- triedbefore db --------------------------------------------------------------------------


def test_a_deployment_s_ports_are_distinct_and_free() -> None:
    """Each member listens on a port of its own: the ports are taken together (a port let
    go before the next is asked for may come back, and a Sentinel then found a data node
    answering on its port)."""
    import socket

    ports = free_ports(300)
    assert len(set(ports)) == 300
    for port in ports[:20]:  # and free: each can be listened on now
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
            listener.bind(("127.0.0.1", port))


def test_db_starts_reports_and_stops_a_local_deployment_by_pid(tmp_path: Path) -> None:
    store = f"embedded:{tmp_path / 'db'}"
    started = _cli("--store", store, "db", "start", "--replicas", "1", "--sentinels", "1",
                   "--format", "json")
    assert started.returncode == 0, started.stderr
    try:
        status = json.loads(_cli("--store", store, "db", "status", "--format", "json").stdout)
        roles = sorted((m["name"], m["role"]) for m in status["members"])
        assert roles == [("node-0", "primary"), ("node-1", "replica"),
                         ("sentinel-1", "sentinel")]
        node0 = next(m for m in status["members"] if m["name"] == "node-0")
        assert status["primary"] == f"127.0.0.1:{node0['port']}"
        pids = [m["pid"] for m in status["members"]]
        assert all(process_alive(pid) for pid in pids)
        assert (tmp_path / "db" / "node-1" / "falkordb.pid").read_text().strip() == \
            str(next(m["pid"] for m in status["members"] if m["name"] == "node-1"))
        loaded = _cli("--store", store, "ingest", str(SAMPLE))
        assert loaded.returncode == 0, loaded.stderr
        table = _cli("--store", store, "db", "status")
        assert "node-1" in table.stdout and "replica" in table.stdout
    finally:
        stopped = _cli("--store", store, "db", "stop", "--format", "json")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout)["stopped"] == {
        "sentinel-1": True, "node-1": True, "node-0": True}
    deadline = time.monotonic() + 10
    while any(process_alive(pid) for pid in pids):
        assert time.monotonic() < deadline
        time.sleep(0.05)


# -- reads, writes and acknowledged writes -----------------------------------------------


def test_writes_go_to_the_primary_and_reads_to_the_replicas(
        deployment: LocalTopology) -> None:
    password = _password(deployment)
    primary = _members(deployment, "primary")[0]["port"]
    replicas = [m["port"] for m in _members(deployment, "replica")]
    root = deployment.root
    for uri in (f"embedded:{root}",
                f"falkordb://127.0.0.1:{primary}?password_file={root / 'password'}"
                f"&replicas=" + ",".join(f"127.0.0.1:{p}" for p in replicas)):
        store = open_store(uri)
        assert isinstance(store, ReplicatedStore)
        store.write("MERGE (:Site {id: 'routing'})")
        store.confirm_writes()
        _caught_up(store)
        before = {p: _graph_reads(p, password) for p in [primary, *replicas]}
        for _ in range(20):
            assert store.read("MATCH (s:Site {id: 'routing'}) RETURN count(s) AS n") == \
                [{"n": 1}]
        after = {p: _graph_reads(p, password) for p in [primary, *replicas]}
        assert after[primary] == before[primary]
        assert all(after[p] > before[p] for p in replicas)  # both, in turn
        store.close()


def test_a_process_reads_its_own_writes_while_the_replicas_lag(
        deployment: LocalTopology) -> None:
    store = open_store(f"embedded:{deployment.root}")
    assert isinstance(store, ReplicatedStore)
    store.write("MERGE (s:Site {id: 'ryw'}) SET s.n = 0")
    store.confirm_writes()
    _caught_up(store)
    with _replicas_held(deployment), ThreadPoolExecutor(1) as pool:
        store.write("MATCH (s:Site {id: 'ryw'}) SET s.n = 1")
        # a replica stopped answers nothing: a read sent there would never return
        read = pool.submit(store.read, "MATCH (s:Site {id: 'ryw'}) RETURN s.n AS n")
        assert read.result(timeout=10) == [{"n": 1}]
    _caught_up(store)
    store.close()


def test_an_acknowledged_write_waits_for_a_replica(deployment: LocalTopology) -> None:
    store = open_store(f"embedded:{deployment.root}")
    assert isinstance(store, ReplicatedStore)
    with _replicas_held(deployment):
        store.write("MERGE (:Site {id: 'waited'})")
        done = threading.Event()
        waited = threading.Thread(target=lambda: (store.confirm_writes(), done.set()))
        started = time.monotonic()
        waited.start()
        time.sleep(0.5)
        assert not done.is_set()  # no replica has it yet
    waited.join(timeout=10)
    assert done.is_set() and time.monotonic() - started >= 0.5
    # fewer replicas than required in time: said so, in one line, after the timeout
    with _replicas_held(deployment):
        store.write("MERGE (:Site {id: 'not waited'})")
        os.environ["TRIEDBEFORE_REPLICA_WAIT_TIMEOUT_MS"] = "200"
        try:
            with pytest.raises(ReplicationTimeout, match=r"only 0 of the 1 replica .*; the primary sees 2 replicas: "
                               r"127\.0\.0\.1:\d+ online, lag \d+ s, 127"):
                store.confirm_writes()
        finally:
            del os.environ["TRIEDBEFORE_REPLICA_WAIT_TIMEOUT_MS"]
    store.confirm_writes()  # once they are back
    store.close()


def test_an_ingest_is_reported_done_only_once_replicas_have_it(
        deployment: LocalTopology) -> None:
    """Three replicas required of a deployment of two: the run fails, in one line."""
    uri = f"embedded:{deployment.root}"
    started = time.monotonic()
    short = _cli("--store", uri, "ingest", str(SAMPLE),
                 env={"TRIEDBEFORE_REPLICA_WAIT": "3",
                      "TRIEDBEFORE_REPLICA_WAIT_TIMEOUT_MS": "1500"})
    assert short.returncode == 1
    assert time.monotonic() - started >= 1.5  # it waited
    lines = [line for line in short.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(
        "triedbefore: error: the writes are on the primary"), short.stderr
    assert "only 2 of the 3 replicas" in lines[0]
    again = _cli("--store", uri, "ingest", str(SAMPLE))
    assert again.returncode == 0, again.stderr


def test_a_curation_decision_no_replica_confirmed_is_answered_so(
        deployment: LocalTopology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from triedbefore.ingest.pipeline import ingest
    from triedbefore.web import auth
    from triedbefore.web.app import create_app

    store = open_store(f"embedded:{deployment.root}")
    assert ingest(store, SAMPLE).exit_code == 0
    users = tmp_path / "users.json"
    auth.add_user(users, "cora", "correct horse battery", "curator")
    app = create_app({"TESTING": True, "STORE": store, "USERS_FILE": str(users),
                      "SECRET_KEY": "test-secret"})
    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"name": "cora", "password": "correct horse battery",
                                "csrf_token": csrf})
    page = client.get("/curation").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    monkeypatch.setenv("TRIEDBEFORE_REPLICA_WAIT", "3")  # of two replicas
    monkeypatch.setenv("TRIEDBEFORE_REPLICA_WAIT_TIMEOUT_MS", "300")
    res = client.post("/curation/decide.json", headers={"X-CSRF-Token": csrf}, data={
        "initiative_id": "INI-0066", "solution_id": "SOL-HIU", "decision": "accepted"})
    assert res.status_code == 503
    assert "no replica confirmed it in time" in res.get_json()["error"]
    monkeypatch.setenv("TRIEDBEFORE_REPLICA_WAIT", "1")
    res = client.post("/curation/decide.json", headers={"X-CSRF-Token": csrf}, data={
        "initiative_id": "INI-0066", "solution_id": "SOL-HIU", "decision": "accepted"})
    assert res.status_code == 200, res.get_data(as_text=True)
    store.close()


def test_acknowledged_writes_stop_when_the_primary_changes_under_them(
        deployment: LocalTopology) -> None:
    """A failover between two writes of one run: the old primary may have taken the first
    with it, so the second fails instead of going on with the new primary."""
    primary = _members(deployment, "primary")[0]["port"]
    other = _members(deployment, "replica")[0]["port"]
    locator = StaticLocator(("127.0.0.1", primary), ())
    uri = StoreURI("falkordb", "falkordb://test", graph="triedbefore")
    store = ReplicatedStore(uri, locator, password=_password(deployment))

    def failover_to(port: int) -> None:
        locator._topology = Topology(("127.0.0.1", port), ())  # noqa: SLF001
        store._shared.topology = None  # noqa: SLF001 - asked again at the next statement

    with pytest.raises(StoreUnavailable, match="the primary changed from 127.0.0.1:"):
        with store.acknowledged():
            store.write("MERGE (:Site {id: 'first of the run'})")
            failover_to(other)
            store.write("MERGE (:Site {id: 'second of the run'})")
    failover_to(primary)
    with store.acknowledged():  # a new run writes to the primary of the moment
        store.write("MERGE (:Site {id: 'next run'})")
    assert store.read("MATCH (s:Site {id: 'second of the run'}) RETURN s.id AS id") == []
    store.close()


def test_one_server_of_a_deployment_is_reached_with_its_password_file(
        deployment: LocalTopology) -> None:
    primary = _members(deployment, "primary")[0]["port"]
    store = open_store(f"falkordb://127.0.0.1:{primary}"
                       f"?password_file={deployment.root / 'password'}")
    assert isinstance(store, FalkorStore)
    store.write("MERGE (:Site {id: 'password file'})")
    assert store.read("MATCH (s:Site {id: 'password file'}) RETURN s.id AS id") == \
        [{"id": "password file"}]
    store.close()


# -- a server that hangs -------------------------------------------------------------------


def test_a_hung_replica_costs_at_most_the_server_timeout(
        deployment: LocalTopology, monkeypatch: pytest.MonkeyPatch) -> None:
    """A replica stopped with SIGSTOP keeps its connections open and answers nothing: a
    read sent to it waits at most ``server_timeout_s``, then goes to another server, and
    the reads after it go elsewhere at once."""
    monkeypatch.setenv("TRIEDBEFORE_SERVER_TIMEOUT_S", "1")
    monkeypatch.setenv("TRIEDBEFORE_REPLICA_WAIT", "2")
    writer = open_store(f"embedded:{deployment.root}")
    assert isinstance(writer, ReplicatedStore)
    writer.write("MERGE (s:Site {id: 'hung'}) SET s.n = 7")
    writer.confirm_writes()  # both replicas hold it
    writer.close()
    store = open_store(f"embedded:{deployment.root}")  # a reader that wrote nothing
    query = "MATCH (s:Site {id: 'hung'}) RETURN s.n AS n"

    def timed() -> tuple[float, list[dict[str, Any]]]:
        started = time.monotonic()
        rows = store.read(query)
        return time.monotonic() - started, rows

    for _ in range(4):  # a connection to each replica in the pool
        assert store.read(query) == [{"n": 7}]
    hung = int(_members(deployment, "replica")[0]["pid"])
    pool = ThreadPoolExecutor(6)
    os.kill(hung, signal.SIGSTOP)
    try:
        answers = [f.result(timeout=15) for f in [pool.submit(timed) for _ in range(12)]]
        assert all(rows == [{"n": 7}] for _, rows in answers)
        assert max(took for took, _ in answers) < 2.5, answers  # 1 s, and the next server
        started = time.monotonic()
        for _ in range(10):  # the hung replica is tried after the others now
            assert store.read(query) == [{"n": 7}]
        assert time.monotonic() - started < 1.0
    finally:
        os.kill(hung, signal.SIGCONT)
        pool.shutdown(wait=True)
    store.close()



# -- a replica's own files ------------------------------------------------------------------


def _rewritten(port: int, password: str) -> None:
    """The server at ``port`` rewrites its append-only file: the graph goes into its base."""
    with redis.Redis(port=port, password=password) as client:
        client.execute_command("BGREWRITEAOF")
        deadline = time.monotonic() + 30
        while True:
            info = client.info("persistence")
            if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
                return
            assert time.monotonic() < deadline, "the rewrite did not finish"
            time.sleep(0.05)


def _spoil(files: Path) -> bytes:
    """Overwrite the middle of the base file in ``files`` (what a server fault while
    writing it leaves); its original bytes."""
    base = next(files.glob("*.base.rdb"))
    data = base.read_bytes()
    assert len(data) > 1000, "the base holds the graph"
    middle = len(data) // 2
    base.write_bytes(data[:middle] + b"\xff" * 64 + data[middle + 64:])
    return data


def test_a_replica_that_cannot_load_its_files_copies_the_graph_again(tmp_path: Path) -> None:
    """A replica's server that exits while loading its own files is started empty by
    `db start`, its files kept aside, and copies the graph from the primary; a primary's
    unloadable files are never set aside."""
    root = tmp_path / "db"
    store = f"embedded:{root}"
    assert _cli("--store", store, "db", "start", "--replicas", "1", "--sentinels", "1"
                ).returncode == 0
    try:
        assert _cli("--store", store, "ingest", str(SAMPLE)).returncode == 0
        topology = LocalTopology(root)
        password = _password(topology)
        for member in topology.members("node"):
            _rewritten(member.port, password)
        primary_port = topology.members("node")[0].port
        with redis.Redis(port=primary_port, password=password) as client:
            client.execute_command("WAIT", 1, 10_000)
        expected = _node_count(primary_port, password)
        assert expected > 10
    finally:
        assert _cli("--store", store, "db", "stop").returncode == 0
    spoiled = (root / "node-1" / "appendonlydir").glob("*.base.rdb").__next__().name
    original = _spoil(root / "node-1" / "appendonlydir")
    started = _cli("--store", store, "db", "start", "--format", "json")
    try:
        assert started.returncode == 0, started.stderr
        found = json.loads(started.stdout)
        assert [e["name"] for e in found["set_aside"]] == ["node-1"]
        kept = Path(found["set_aside"][0]["kept_in"])
        assert kept.parent == root / "node-1" and (kept / spoiled).read_bytes() != original
        assert "could not load its own files" in started.stderr
        replica = next(m for m in found["members"] if m["name"] == "node-1")
        assert replica["running"] and replica["role"] == "replica"
        assert _node_count(replica["port"], password) == expected
    finally:
        assert _cli("--store", store, "db", "stop").returncode == 0
    # The next start loads the files the replica wrote since.
    again = _cli("--store", store, "db", "start", "--format", "json")
    try:
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["set_aside"] == []
    finally:
        assert _cli("--store", store, "db", "stop").returncode == 0
    # A primary's files are the graph itself: they stay where they are, and start fails.
    primary_files = root / "appendonlydir"
    _spoil(primary_files)
    spoiled_primary = {p.name: p.read_bytes() for p in primary_files.iterdir()}
    failed = _cli("--store", store, "db", "start")
    try:
        assert failed.returncode != 0
        assert "while loading its append-only file" in failed.stderr
        assert not list(root.glob("appendonlydir.*"))
        assert {p.name: p.read_bytes() for p in primary_files.iterdir()} == spoiled_primary
    finally:
        _cli("--store", store, "db", "stop")


def _node_count(port: int, password: str) -> int:
    with redis.Redis(port=port, password=password) as client:
        reply = client.execute_command("GRAPH.RO_QUERY", "triedbefore",
                                       "MATCH (n) RETURN count(n)")
    return int(reply[1][0][0])


def test_start_returns_once_the_first_copies_are_sent(tmp_path: Path) -> None:
    """`db start` returns when every replica is in step and no server is still in the
    fork that sent a replica its first copy (a graph created at that moment once left a
    FalkorDB 4.16 primary waiting on its own lock for good)."""
    topology = LocalTopology(tmp_path / "db")
    topology.create(replicas=2, down_after_ms=60_000)
    try:
        topology.start()
        nodes = [m for m in topology.status()["members"] if m["kind"] == "node"]
        assert len(nodes) == 3 and all(m["running"] for m in nodes)
        assert all(m["forking"] is False for m in nodes), nodes
        primary = next(m for m in nodes if m["role"] == "primary")
        assert primary["replicas"] == 2
        assert all(m["link"] == "up" for m in nodes if m["role"] == "replica")
    finally:
        topology.stop()


def test_a_write_to_a_primary_that_hangs_fails_once_another_is_primary(
        deployment: LocalTopology, monkeypatch: pytest.MonkeyPatch) -> None:
    """A primary that stops answering without closing its connections (SIGSTOP here; a
    FalkorDB 4.16 primary once did so for good, every thread waiting on a lock): the write
    under way waits while the primary is still the primary (a large write answers nothing
    until it commits), and fails, saying it may or may not have been applied, once
    another server is the primary; it does not wait for ever."""
    monkeypatch.setenv("TRIEDBEFORE_SERVER_TIMEOUT_S", "1")
    primary = _members(deployment, "primary")[0]
    other = _members(deployment, "replica")[0]["port"]
    locator = StaticLocator(("127.0.0.1", primary["port"]), ())
    uri = StoreURI("falkordb", "falkordb://test", graph="triedbefore")
    store = ReplicatedStore(uri, locator, password=_password(deployment))
    store.write("MERGE (:Site {id: 'before the hang'})")
    os.kill(int(primary["pid"]), signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(1) as pool:
            write = pool.submit(store.write, "MERGE (:Site {id: 'during the hang'})")
            time.sleep(2.5)  # several PING-less half-timeouts: still the primary, waited for
            assert not write.done()
            locator._topology = Topology(("127.0.0.1", other), ())  # noqa: SLF001
            with pytest.raises(StoreUnavailable, match="was lost during a write .*no reply, "
                               "and another server is the primary now.*may or may not "
                               "have been applied"):
                write.result(timeout=10)
    finally:
        os.kill(int(primary["pid"]), signal.SIGCONT)
        store.close()
