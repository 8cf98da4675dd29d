"""FalkorDB backend: the embedded default and external FalkorDB servers."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from falkordb import FalkorDB
from falkordb.edge import Edge
from falkordb.node import Node
from falkordb.query_result import QueryResult
from redis._parsers.helpers import parse_info
from redis.backoff import NoBackoff
from redis.retry import Retry

from triedbefore.graph import GraphError, QueryError, QueryRefused, StoreUnavailable, queries
from triedbefore.graph.dialect import (
    KEYED_LABELS,
    VECTOR_LABELS,
    VECTOR_WRITE_BATCH,
    FalkorDialect,
)
from triedbefore.graph.embedded import compact_files
from triedbefore.graph.falkor_wire import (
    STAT_NAMES,
    NotPlain,
    decode_rows,
    params_header,
    statistics,
)
from triedbefore.graph.store import (
    Params,
    Row,
    Store,
    StoreURI,
    WriteSummary,
    public_name,
)

_log = logging.getLogger(__name__)

#: A half-built public copy older than this (seconds) was left by a crash: deleted.
STALE_COPY_SECONDS = 3600

_ALREADY = ("already indexed", "already exists", "constraint already")

#: Times a statement is sent again when the graph's schema changed under it.
_SCHEMA_RETRIES = 10  # about 2 s of waiting in all
#: FalkorDB's refusal of a statement over ``QUERY_MEM_CAPACITY``.
MEMORY_REFUSED = "mem consumption exceeded capacity"


def _power_of_ten(n: int) -> bool:
    while n >= 10 and n % 10 == 0:
        n //= 10
    return n == 1


#: Guards the making of a store's thread for its public copy's writes.
_COPY_WRITER_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Names:
    """The names behind the label, property key and relationship type ids of compact
    replies, at one schema version of one graph: immutable, so the explorer's threads
    share them and a reply is decoded with the names its statement was sent with.

    Ids are positions in the graph's lists of names, and a graph deleted and created
    again (the public copy is rebuilt and renamed over the old one) numbers the same
    names differently. Every statement carries the version (``version`` argument of
    ``GRAPH.QUERY``): the server refuses one sent with another version before running
    it, and its reply gives the version, at which the names are read again and the
    statement sent again. The version is a digest of the ordered names (a graph made
    again with the same names has the same version), so names read at a version map
    every reply at that version."""

    version: int = 0  # the version of a graph with no names
    labels: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()
    relationships: tuple[str, ...] = ()


class _Reply(list[Any]):
    """A compact reply, with the names of the version its statement was sent with."""

    names: _Names


class _Decoding:
    """What the client's reply parser asks of a graph: the names of the reply's ids. An id
    past them (a write that added a key while it ran: ids only grow within a graph) reads
    the names again."""

    def __init__(self, store: FalkorStore, names: _Names) -> None:
        self.schema = self
        self._store = store
        self._names = names

    def _get(self, kind: str, index: int) -> str:
        names: tuple[str, ...] = getattr(self._names, kind)
        if index >= len(names):
            self._names = self._store._read_names(self._names.version)
            names = getattr(self._names, kind)
        return names[index]

    def get_label(self, index: int) -> str:
        return self._get("labels", index)

    def get_property(self, index: int) -> str:
        return self._get("properties", index)

    def get_relation(self, index: int) -> str:
        return self._get("relationships", index)


def _PROBE(graph: str) -> list[Any]:  # noqa: N802 - a command, like a constant
    """The cheapest statement the server checks the schema version of."""
    return ["GRAPH.RO_QUERY", graph, queries.SCHEMA_PROBE, "--compact"]


def _version_mismatch(response: Any) -> int | None:
    """The graph's schema version when the server refused a statement sent with another."""
    if (isinstance(response, list) and len(response) == 2
            and isinstance(response[0], redis.ResponseError)
            and str(response[0]) == "version mismatch"):
        return int(response[1])
    return None


def _plain(value: Any) -> Any:
    """Result values as plain Python: nodes and edges become property dicts."""
    if isinstance(value, Node | Edge):
        return dict(value.properties)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


class FalkorStore(Store):
    engine = "falkordb"

    def __init__(self, uri: StoreURI, *, socket_path: Path | None = None,
                 restart: Callable[[], object] | None = None,
                 client_options: Mapping[str, Any] | None = None,
                 _public_of: FalkorStore | None = None, password: str | None = None,
                 connect_timeout: float | None = None, retry: Retry | None = None,
                 hang_timeout: float | None = None,
                 deposed: Callable[[], bool] | None = None) -> None:
        """``restart``: for a server this process may start (the embedded one), starts it
        again when it has stopped (see ``_run``). ``client_options``: more options of the
        FalkorDB client of a unix socket (credentials, retries). ``password``: the server's
        (else the URI's ``password`` option); ``connect_timeout``: seconds to wait for a
        connection (None: the operating system's); ``retry``: the client's retries of a
        lost connection (None: its default); ``hang_timeout``: seconds after which a
        server that answers neither a statement nor a ``PING`` counts as lost
        (:meth:`_guarded`; None: statements wait for their reply however long);
        ``deposed``: whether another server is the primary now (a replicated deployment's;
        a write without a reply is given up once it says so)."""
        self.uri = uri
        self.dialect = FalkorDialect()
        self._public: FalkorStore | None = None
        self._copy_pool: ThreadPoolExecutor | None = None
        #: Counts the writes refused for their memory and sent again (logged at 1, 10,
        #: 100…); ``next`` on it is one step, whichever threads write.
        self._memory_refusals = itertools.count(1)
        self._restart: Callable[[], object] | None = (
            restart if _public_of is None else _public_of._restart)
        self._db: FalkorDB
        self._hang_timeout: float | None = (
            hang_timeout if _public_of is None else _public_of._hang_timeout)
        self._reads: redis.Redis | None = None if _public_of is None else _public_of._reads
        self._deposed: Callable[[], bool] | None = (
            deposed if _public_of is None else _public_of._deposed)
        if _public_of is not None:  # the public copy shares its main store's connections
            self.public_only = True
            self._db = _public_of._db
            self._graph = self._db.select_graph(uri.graph)
            self._names = _Names()
            return
        try:
            password = password or uri.options.get("password")
            if socket_path is not None:
                options: dict[str, Any] = {"password": password,
                                           "socket_connect_timeout": connect_timeout}
                if retry is not None:
                    options["retry"] = retry
                options.update(client_options or {})
                self._db = FalkorDB(unix_socket_path=str(socket_path), **options)
            else:
                self._db = FalkorDB(host=uri.host or "127.0.0.1", port=uri.port or 6379,
                                    password=password,
                                    socket_connect_timeout=connect_timeout, retry=retry)
                if hang_timeout is not None:
                    # reads have connections of their own, whose every wait (the
                    # handshake, a reply under way) is bounded; writes wait for the
                    # server however long (a write is never sent elsewhere)
                    self._reads = redis.Redis(
                        host=uri.host or "127.0.0.1", port=uri.port or 6379,
                        password=password, socket_timeout=hang_timeout,
                        socket_connect_timeout=connect_timeout, decode_responses=True,
                        retry=Retry(NoBackoff(), 0))
            (self._reads or self._db.connection).ping()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise StoreUnavailable(f"cannot reach FalkorDB at {uri.display}: {exc}") from None
        self._graph = self._db.select_graph(uri.graph)
        #: The names of the graph's ids, at the version statements are sent with.
        self._names = _Names()

    @property
    def graph_name(self) -> str:
        return str(self._graph.name)

    def _run(self, query: str, params: Params | None, *, read_only: bool,
             timeout_ms: int | None = None, text: str | None = None,
             again: bool = False) -> list[Any] | None:
        """Run one statement; the compact reply (None: a read of a graph not yet created).
        ``text``: the statement with its parameters already encoded.

        A write refused for its memory (``QUERY_MEM_CAPACITY``) is sent once more: the
        engine counts the vector index's own work against the write that adds vectors,
        and that grows with the index. At 1,000,000 initiatives, past 637,000 vectors,
        about one write of 250 vectors in six (a few MB of parameters) was refused after
        0.6 s (the others took 0.06 s), and each was taken when sent again. A refused
        statement is undone whole, so sending it again is safe."""
        if text is None:
            text = params_header(params) + query
        command: list[Any] = ["GRAPH.RO_QUERY" if read_only else "GRAPH.QUERY",
                              self._graph.name, text, "--compact"]
        if timeout_ms is not None:
            command += ["timeout", int(timeout_ms)]
        names = self._names
        try:
            for attempt in range(_SCHEMA_RETRIES):
                response = self._execute([*command, "version", names.version], read_only)
                version = _version_mismatch(response)
                if version is None and read_only:
                    # The server checks the version when the statement arrives and runs it
                    # later, on a worker thread: a graph made again in between has other
                    # names. Still at the version after the reply, the reply has its names.
                    version = _version_mismatch(self._execute(
                        [*_PROBE(self._graph.name), "version", names.version], True))
                if version is None:
                    break
                if attempt:  # another client is changing the schema now: let it finish
                    time.sleep(0.002 * 2 ** attempt)
                names = self._names = self._read_names(version)  # not run: send it again
            else:
                raise QueryError("the graph's schema kept changing while the statement was "
                                 "sent; try again")
        except redis.ResponseError as exc:
            message = str(exc)
            if read_only and "empty key" in message:
                return None  # the graph has no data yet
            if not read_only and not again and MEMORY_REFUSED in message:
                refused = next(self._memory_refusals)
                if _power_of_ten(refused):  # 1, 10, 100…: a count, not a flood
                    _log.warning("a write to %s was refused for its memory (%s); sending it "
                                 "once more (%d writes refused so far)", self.uri.display,
                                 message, refused)
                return self._run(query, params, read_only=False, timeout_ms=timeout_ms,
                                 text=text, again=True)
            raise QueryError(message) from None
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(f"lost connection to FalkorDB at {self.uri.display}: {exc}"
                                   ) from None
        for part in (response[0], response[-1]) if response else ():
            if isinstance(part, redis.ResponseError):
                raise QueryError(str(part)) from None
        reply = _Reply(response)
        reply.names = names
        return reply

    def _read_names(self, version: int) -> _Names:
        """The graph's names now, for ``version`` (read-only: never creates a graph).
        Names read after the version changed again are caught by the next statement,
        which the server refuses: they are never used for a reply of another version."""

        def names(statement: str) -> tuple[str, ...]:
            try:
                response = self._execute(
                    ["GRAPH.RO_QUERY", self._graph.name, statement, "--compact"], True)
            except redis.ResponseError as exc:
                if "empty key" in str(exc):
                    return ()  # no graph (any more): the next statement finds out
                raise
            return tuple(str(next(iter(row.values())))
                         for row in decode_rows(list(response)))

        try:
            return _Names(version, names(queries.SCHEMA_LABELS),
                          names(queries.SCHEMA_PROPERTY_KEYS),
                          names(queries.SCHEMA_RELATIONSHIP_TYPES))
        except (redis.ConnectionError, redis.TimeoutError) as exc:  # also while decoding
            raise StoreUnavailable(f"lost connection to FalkorDB at {self.uri.display}: {exc}"
                                   ) from None

    def _execute(self, command: list[Any], read_only: bool) -> Any:
        if self._reads is not None and read_only:
            return self._guarded(command)
        if self._deposed is not None and not read_only:
            return self._guarded(command, deposed=self._deposed)
        try:
            return self._db.connection.execute_command(*command)
        except redis.ConnectionError as exc:
            # The embedded server stopped (a crash): start it again, which replays its
            # append-only file, and run a read once more. A write is not repeated: it
            # may or may not have been applied, so its caller hears of it (an ingest
            # run is idempotent and can be run again).
            if self._restart is None or not self._restarted(exc) or not read_only:
                raise
            return self._db.connection.execute_command(*command)

    def _guarded(self, command: list[Any],
                 deposed: Callable[[], bool] | None = None) -> Any:
        """``command``'s reply, waiting as long as the server answers: after half of
        ``hang_timeout`` without a reply it is sent a ``PING`` on a connection of its own,
        and one that does not answer within the other half counts as lost (a server that
        hangs with its connections open, e.g. stopped by SIGSTOP, would hold the statement
        for ever; a long statement of a server that answers is waited for).

        A write (``deposed`` given) is never given up for a missing ``PING`` (a server
        committing a large write answers nothing meanwhile): only once ``deposed`` says
        another server is the primary now. A write to a primary that hangs for good (a
        FalkorDB 4.16 primary once did, every thread waiting on a lock) then fails once
        the Sentinels have promoted a replica, instead of waiting for ever."""
        assert self._hang_timeout is not None
        hang_timeout = self._hang_timeout
        client = self._db.connection if deposed is not None else self._reads
        assert client is not None
        pool: Any = client.connection_pool
        conn: Any = pool.get_connection()
        try:
            conn.send_command(*command)
            while not conn.can_read(timeout=hang_timeout / 2):
                if deposed is not None:
                    if deposed():
                        raise redis.TimeoutError(
                            "no reply, and another server is the primary now (a failover)")
                elif not self._answers_ping(hang_timeout / 2):
                    raise redis.TimeoutError(
                        f"no reply within {hang_timeout:g} s, and no answer to a PING: the "
                        "server hangs")
            return conn.read_response()
        except (redis.ConnectionError, redis.TimeoutError):
            conn.disconnect()  # a reply may still come: never read it as another's
            raise
        finally:
            pool.release(conn)

    def _answers_ping(self, timeout: float) -> bool:
        """Whether the server answers a ``PING`` within ``timeout`` seconds, on a new
        connection (the pooled ones may all wait for replies)."""
        assert self._reads is not None
        kwargs = self._reads.connection_pool.connection_kwargs
        try:
            with redis.Redis(host=kwargs.get("host", "127.0.0.1"), port=kwargs.get("port", 6379),
                             password=kwargs.get("password"), socket_timeout=timeout,
                             socket_connect_timeout=timeout,
                             retry=Retry(NoBackoff(), 0)) as probe:
                return bool(probe.ping())
        except (redis.RedisError, OSError):
            return False

    def _restarted(self, exc: Exception) -> bool:
        """Start the embedded server again after ``exc`` lost it; False if it could not be
        started. Logged: a server that stops is a fault to look into (its log says why)."""
        assert self._restart is not None
        try:
            self._restart()
        except GraphError as err:
            _log.error("the embedded FalkorDB server at %s stopped (%s) and could not be "
                       "started again: %s", self.uri.display, exc, err)
            return False
        _log.warning("the embedded FalkorDB server at %s stopped (%s); it was started again "
                     "(its log in the data folder says why it stopped)", self.uri.display, exc)
        return True

    def _rows(self, response: list[Any] | None) -> list[Row]:
        if not response:
            return []
        try:
            return decode_rows(response)
        except NotPlain:  # nodes, edges, paths…: named with the reply's own names
            known = response.names if isinstance(response, _Reply) else self._names
            result = QueryResult(_Decoding(self, known), response)
            if not result.header:
                return []
            names = [col[1] if isinstance(col, list | tuple) else col for col in result.header]
            return [{name: _plain(v) for name, v in zip(names, row, strict=True)}
                    for row in result.result_set]

    def read(self, query: str, params: Params | None = None, *,
             timeout_ms: int | None = None) -> list[Row]:
        return self._rows(self._run(query, params, read_only=True, timeout_ms=timeout_ms))

    def write(self, query: str, params: Params | None = None) -> tuple[list[Row], WriteSummary]:
        if self.public_only:
            raise QueryRefused("the public copy of the graph is read-only")
        response = self._run(query, params, read_only=False)
        stats = statistics(response or [])
        summary = WriteSummary(*(int(stats.get(name, 0)) for name in STAT_NAMES))
        if summary.nodes_created:
            self._settle()
        return self._rows(response), summary

    def _settle(self) -> None:
        """After new nodes: each relationship type read once, alone, so that two readers
        at once never rebuild a grown matrix's lookup table together (a FalkorDB 4.16
        crash, :data:`~triedbefore.graph.queries.SETTLE_RELS`)."""
        self._run(queries.SETTLE_RELS, None, read_only=True)

    def run_schema(self, statement: str) -> None:
        if self.public_only:
            raise QueryRefused("the public copy of the graph is read-only")
        try:
            self._graph.query(statement)
        except redis.ResponseError as exc:
            if not any(token in str(exc).lower() for token in _ALREADY):
                raise QueryError(f"{exc} (in: {statement})") from None

    def ensure_schema(self) -> None:
        super().ensure_schema()
        existing = set()
        try:
            for row in self._graph.list_constraints():
                existing.add((row.get("label"), tuple(row.get("properties") or ())))
        except redis.ResponseError:
            pass
        for label in KEYED_LABELS:
            if (label.value, ("id",)) in existing:
                continue
            try:
                self._graph.create_node_unique_constraint(label.value, "id")
            except redis.ResponseError as exc:
                if not any(token in str(exc).lower() for token in _ALREADY):
                    raise QueryError(f"unique constraint on {label.value}.id: {exc}") from None

    def drop_all(self) -> None:
        """Delete this graph and its public copy entirely (tests and `db reset`)."""
        try:
            self._graph.delete()
        except redis.ResponseError:
            pass
        if not self.public_only:
            self.public_copy().drop_all()

    # -- the public copy ----------------------------------------------------------

    def public_copy(self) -> FalkorStore:
        if self.public_only:
            return self
        if self._public is None:
            name = public_name(self.uri.graph)
            self._public = FalkorStore(dataclasses.replace(self.uri, graph=name),
                                       _public_of=self)
        return self._public

    def has_public_copy(self) -> bool:
        try:
            if self._reads is not None:
                return bool(self._guarded(["EXISTS", public_name(self.uri.graph)]))
            return bool(self._db.connection.exists(public_name(self.uri.graph)))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(f"lost connection to FalkorDB at {self.uri.display}: {exc}"
                                   ) from None

    def rebuild_public_copy(self) -> None:
        """Copy the visible nodes and links into a new graph with plain reads and writes,
        then RENAME it over the public copy: readers of the copy see the old one or the new
        one, never a graph being built. (Not ``GRAPH.COPY``: it forks the server, and when
        another fork is running, such as the full-text index's garbage collection or an
        AOF rewrite, the copy can leave the whole server waiting forever.)"""
        if self.public_only:
            raise QueryRefused("the public copy of the graph is read-only")
        conn = self._db.connection
        target = public_name(self.uri.graph)
        building = f"{target}~{int(time.time())}~{secrets.token_hex(4)}"
        try:
            self._drop_stale_copies(target)
            if not conn.exists(self.uri.graph):  # nothing loaded: nothing public either
                if conn.exists(target):
                    conn.execute_command("GRAPH.DELETE", target)
                return
            new = FalkorStore(dataclasses.replace(self.uri, graph=building), _public_of=self)
            new.public_only = False  # writable while it is being built
            try:
                new.ensure_schema()
                self.copy_visible_into(new.write)
                for label in VECTOR_LABELS:  # copied as lists: vectors again, indexed
                    ids = [r["id"] for r in new.read(queries.vector_node_ids(label))]
                    for at in range(0, len(ids), VECTOR_WRITE_BATCH):
                        new.write(FalkorDialect().retype_vectors(label),
                                  {"ids": ids[at:at + VECTOR_WRITE_BATCH]})
                conn.execute_command("RENAME", building, target)
            except BaseException:
                if conn.exists(building):
                    conn.execute_command("GRAPH.DELETE", building)
                raise
        except redis.ResponseError as exc:
            raise QueryError(f"rebuilding the public copy: {exc}") from None
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(f"lost connection to FalkorDB at {self.uri.display}: {exc}"
                                   ) from None

    def write_public_copy(self, query: str, params: Params | None = None) -> None:
        if self.public_only:
            raise QueryRefused("the public copy of the graph is read-only")
        if self.has_public_copy():
            copy = self.public_copy()
            if statistics(copy._run(query, params, read_only=False) or []).get(
                    "Nodes created"):
                copy._settle()

    def write_with_copy(self, query: str, params: Params | None,
                        copy_params: Params | None) -> tuple[list[Row], WriteSummary, bool]:
        """As the base class, with both writes under way at once: the graph and its copy
        are two graphs of one server, which runs them on two of its threads (the vector
        index's work, the largest part of a first ingest's, is paid by each graph). The
        parameters are encoded once when both writes share them. The copy's write is
        always waited for, also when the graph's fails: none is left running."""
        if self.public_only:
            raise QueryRefused("the public copy of the graph is read-only")
        text = params_header(params) + query
        copying = None
        if copy_params is not None:
            copying = self._copy_writer().submit(
                self._write_copy, query, copy_params,
                text if copy_params is params else None)
        try:
            response = self._run(query, params, read_only=False, text=text)
            stats = statistics(response or [])
            summary = WriteSummary(*(int(stats.get(name, 0)) for name in STAT_NAMES))
            if summary.nodes_created:
                self._settle()
        finally:
            copied = copying.result() if copying is not None else True
        return self._rows(response), summary, copied

    def _copy_writer(self) -> ThreadPoolExecutor:
        with _COPY_WRITER_LOCK:
            if self._copy_pool is None:
                self._copy_pool = ThreadPoolExecutor(2, thread_name_prefix="public-copy")
            return self._copy_pool

    def _write_copy(self, query: str, params: Params, text: str | None) -> bool:
        """One write on the public copy; whether it took it."""
        try:
            copy = self.public_copy()
            if statistics(copy._run(query, params, read_only=False, text=text)
                          or []).get("Nodes created"):
                copy._settle()
        except GraphError:
            return False
        return True

    def _drop_stale_copies(self, target: str) -> None:
        conn = self._db.connection
        now = time.time()
        for raw in conn.execute_command("GRAPH.LIST") or []:
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            head, _, rest = name.partition("~")
            stamp = rest.partition("~")[0]
            if head == target and stamp.isdigit() and now - int(stamp) > STALE_COPY_SECONDS:
                conn.execute_command("GRAPH.DELETE", name)

    # -- replication ------------------------------------------------------------------------

    def server_info(self, section: str, *, bounded: bool = False) -> dict[str, Any]:
        """One section of the server's ``INFO`` (its role, replication offsets);
        ``bounded``: on the reads' connections (a server that hangs is lost after
        ``hang_timeout``)."""
        try:
            if bounded and self._reads is not None:
                parse: Any = parse_info  # untyped in redis
                return dict(parse(self._guarded(["INFO", section])))
            return dict(self._db.connection.info(section))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(f"lost connection to FalkorDB at {self.uri.display}: {exc}"
                                   ) from None
        except redis.ResponseError as exc:
            raise QueryError(str(exc)) from None

    def wait_for_replicas(self, channel: str, replicas: int, timeout_ms: int) -> int:
        """How many replicas hold every write made on this server so far, waiting up to
        ``timeout_ms`` for ``replicas`` of them. ``WAIT`` counts the writes of its own
        connection: a message published on that connection first (replicated like a
        write, stored nowhere) comes after every earlier write of every connection."""
        pool = self._db.connection.connection_pool
        try:
            conn = pool.get_connection()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(f"lost connection to FalkorDB at {self.uri.display}: {exc}"
                                   ) from None
        try:
            conn.send_command("PUBLISH", channel, "confirm")
            conn.read_response()
            conn.send_command("WAIT", replicas, timeout_ms)
            return int(conn.read_response())
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            conn.disconnect()
            raise StoreUnavailable(f"lost connection to FalkorDB at {self.uri.display}: {exc}"
                                   ) from None
        except redis.ResponseError as exc:
            raise QueryError(str(exc)) from None
        finally:
            pool.release(conn)

    def drop_idle_connections(self) -> None:
        """Close the connections no statement is using (a server that was lost or that
        closed them); statements under way on others keep theirs."""
        for client in (self._db.connection, self._reads):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.connection_pool.disconnect(inuse_connections=False)

    def compact(self) -> bool:
        """For the embedded server (one this process may start): :func:`compact_files`.
        Asked at the end of an ingest run, when no write of the run is left to make."""
        if self._restart is None or self.public_only:
            return False  # a server run by someone else keeps its own rules
        try:
            return compact_files(self._db.connection)
        except redis.RedisError as exc:  # only a slower next start: not the run's failure
            _log.warning("could not have %s rewrite its files: %s", self.uri.display, exc)
            return False

    def close(self) -> None:
        if self.public_only:
            return  # the connections are the main store's
        if self._copy_pool is not None:
            self._copy_pool.shutdown(wait=True)
            self._copy_pool = None
        for client in (self._db.connection, self._reads):
            try:
                if client is not None:
                    client.close()
            except Exception:  # noqa: BLE001 - closing must never raise
                pass
