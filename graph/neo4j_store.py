"""Stores that speak Bolt through the official ``neo4j`` driver: managed transactions with
retries.

Protocol and dialect are separate choices. :class:`Neo4jStore` sends the Neo4j dialect to
a Neo4j server (the production engine). :class:`FalkorBoltStore` sends FalkorDB's dialect
to FalkorDB's experimental Bolt listener (the ``BOLT_PORT`` module argument): a test and
development aid that runs the driver path (driver, sessions, the wire protocol, result
and summary decoding, error mapping) on any machine. What that listener cannot do is
listed in docs/scaling.md ("FalkorDB's Bolt listener"); the store works around it.
"""

from __future__ import annotations

import atexit
import dataclasses
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import neo4j
from neo4j import GraphDatabase, Query, RoutingControl
from neo4j import exceptions as nex

from triedbefore.graph import QueryError, QueryRefused, StoreUnavailable, StoreURIError, settings
from triedbefore.graph.dialect import (
    CREATE_DATABASE,
    SHOW_DATABASE,
    FalkorDialect,
    Neo4jDialect,
    missing_indexes,
)
from triedbefore.graph.falkor_wire import params_header
from triedbefore.graph.store import (
    Params,
    Row,
    Store,
    StoreURI,
    WriteSummary,
    public_name,
)

#: Prefix that makes Neo4j plan a statement without running it.
_EXPLAIN = "EXPLAIN "


def _one_line(exc: BaseException | str) -> str:
    """The driver's message on one line (its connection errors span several)."""
    return " ".join(str(exc).split())


def _query_error(exc: nex.Neo4jError) -> QueryError:
    message = _one_line(exc.message or str(exc))
    if "TransactionTimedOut" in (exc.code or ""):  # ...Transaction.TransactionTimedOut*
        return QueryError(f"Query timed out: {message}")
    return QueryError(message)


def _plain(value: Any) -> Any:
    if isinstance(value, neo4j.graph.Node | neo4j.graph.Relationship):
        return dict(value.items())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


#: The driver's default ``max_transaction_retry_time`` (seconds).
DEFAULT_RETRY_SECONDS = 30.0


def _retry_time(uri: StoreURI) -> float:
    """The driver's ``max_transaction_retry_time`` from the URI option ``retry`` (seconds;
    the driver's default without it)."""
    raw = uri.options.get("retry")
    if raw is None:
        return DEFAULT_RETRY_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        raise StoreURIError(f"store URI {uri.display!r}: retry={raw!r} is not a number of "
                            "seconds") from None
    if not seconds >= 0:
        raise StoreURIError(f"store URI {uri.display!r}: retry must be 0 or more seconds")
    return seconds


class BoltStore(Store):
    """What every store over the official driver shares: one driver, managed transactions
    (``execute_query``), reads routed as READ and writes as WRITE, driver errors mapped to
    :class:`StoreUnavailable` and :class:`QueryError` with one-line messages."""

    engine: str
    #: Database named in every transaction (None: the server's default).
    database: str | None
    _driver: neo4j.Driver

    #: Connections the driver may hold (the driver's default: 100).
    _pool_size = 100

    def _connect(self, url: str, auth: tuple[str, str] | None, what: str) -> neo4j.Driver:
        driver = GraphDatabase.driver(url, auth=auth,
                                      max_transaction_retry_time=_retry_time(self.uri),
                                      max_connection_pool_size=self._pool_size)
        try:
            driver.verify_connectivity()
        except (nex.ServiceUnavailable, nex.SessionExpired, nex.AuthError, nex.DatabaseError,
                OSError) as exc:
            driver.close()
            raise StoreUnavailable(f"cannot reach {what} at {self.uri.display}: "
                                   f"{_one_line(exc)}") from None
        return driver

    def _statement(self, query: str, params: Params | None) -> tuple[str, dict[str, Any]]:
        """The text and the Bolt parameters sent for a statement."""
        return query, dict(params or {})

    def _execute(self, query: str, params: Params | None, routing: RoutingControl,
                 timeout_ms: int | None = None) -> Any:
        text, values = self._statement(query, params)
        q: Any = Query(text, timeout=timeout_ms / 1000) if timeout_ms else text
        try:
            return self._driver.execute_query(q, values, database_=self.database,
                                              routing_=routing)
        except (nex.ServiceUnavailable, nex.SessionExpired) as exc:
            raise StoreUnavailable(
                f"{self._server} at {self.uri.display} is unavailable: {_one_line(exc)}"
            ) from None
        except nex.Neo4jError as exc:
            raise _query_error(exc) from None

    @property
    def _server(self) -> str:
        return "Neo4j"

    def read(self, query: str, params: Params | None = None, *,
             timeout_ms: int | None = None) -> list[Row]:
        records, _summary, _keys = self._execute(query, params, RoutingControl.READ, timeout_ms)
        return [{k: _plain(v) for k, v in r.items()} for r in records]

    def write(self, query: str, params: Params | None = None) -> tuple[list[Row], WriteSummary]:
        if self.public_only:
            raise QueryRefused("the public copy of the graph is read-only")
        return self._write(query, params)

    def _write(self, query: str, params: Params | None = None
               ) -> tuple[list[Row], WriteSummary]:
        records, summary, _keys = self._execute(query, params, RoutingControl.WRITE)
        c = summary.counters
        return ([{k: _plain(v) for k, v in r.items()} for r in records],
                WriteSummary(c.nodes_created, c.nodes_deleted, c.relationships_created,
                             c.relationships_deleted, c.properties_set))

    def run_schema(self, statement: str) -> None:
        if self.public_only:
            raise QueryRefused("the public copy of the graph is read-only")
        self._execute(statement, None, RoutingControl.WRITE)

    def drop_all(self) -> None:
        """Delete every node of this database in batches (tests and `db reset`)."""
        from triedbefore.graph.queries import DELETE_SOME

        while True:
            rows, _ = self._write(DELETE_SOME, {"limit": 10_000})
            if not rows or not rows[0].get("deleted"):
                return

    def close(self) -> None:
        if self.public_only and not self._own_driver:
            return  # the driver is the main store's
        self._driver.close()

    _own_driver = True


class Neo4jStore(BoltStore):
    """Neo4j 5. URI, user, password and database come from the URI or the environment
    (``NEO4J_USERNAME``, ``NEO4J_PASSWORD``, ``NEO4J_DATABASE``)."""

    engine = "neo4j"

    def __init__(self, uri: StoreURI, *, _public_of: Neo4jStore | None = None) -> None:
        self.uri = uri
        self.dialect = Neo4jDialect()
        self._public: Neo4jStore | None = None
        if _public_of is not None:  # the public database, through the same driver
            self.public_only = True
            self._own_driver = False
            self.database = uri.options["database"]
            self._driver = _public_of._driver
            return
        parts = urlsplit(uri.raw)
        user = unquote(parts.username) if parts.username else settings.NEO4J_USER.get()
        password = unquote(parts.password) if parts.password else settings.NEO4J_PASSWORD.get()
        host = parts.hostname or "localhost"
        netloc = f"{host}:{parts.port}" if parts.port else host
        self.database = uri.options.get("database", settings.NEO4J_DATABASE.get())
        self._driver = self._connect(f"{parts.scheme}://{netloc}", (user, password), "Neo4j")

    def query_type(self, query: str, params: Params | None = None) -> str:
        """What a statement would do, from its plan (``EXPLAIN`` plans without running):
        ``r`` read only, ``rw`` read and write, ``w`` write only, ``s`` schema."""
        _records, summary, _keys = self._execute(_EXPLAIN + query, params, RoutingControl.READ)
        return str(summary.query_type or "")

    def read_limited(self, query: str, params: Params | None = None, *, max_rows: int,
                     timeout_ms: int) -> tuple[list[str], list[Row]]:
        """The columns and at most ``max_rows`` rows of a statement, run in a READ
        transaction with a timeout. The transaction is rolled back, never committed, and
        closing it stops the server's work on the rest of the result."""
        try:
            with self._driver.session(database=self.database,
                                      default_access_mode=neo4j.READ_ACCESS,
                                      fetch_size=min(max_rows, 1000)) as session:
                with session.begin_transaction(timeout=timeout_ms / 1000) as tx:
                    result = tx.run(query, dict(params or {}))
                    keys = list(result.keys())
                    records: list[Any] = result.fetch(max_rows)
                    tx.rollback()
        except (nex.ServiceUnavailable, nex.SessionExpired) as exc:
            raise StoreUnavailable(
                f"Neo4j at {self.uri.display} is unavailable: {_one_line(exc)}") from None
        except nex.Neo4jError as exc:
            raise _query_error(exc) from None
        return keys, [{k: _plain(v) for k, v in r.items()} for r in records]

    # -- the public copy: a second database --------------------------------------

    def public_copy(self) -> Neo4jStore:
        if self.public_only:
            return self
        if self._public is None:
            name = public_name(self.database or "neo4j")
            uri = dataclasses.replace(self.uri, graph=name,
                                      options={**self.uri.options, "database": name})
            self._public = Neo4jStore(uri, _public_of=self)
        return self._public

    def _system(self, statement: str, params: dict[str, Any]) -> list[Any]:
        try:
            records, _summary, _keys = self._driver.execute_query(
                statement, params, database_="system", routing_=RoutingControl.WRITE)
        except (nex.ServiceUnavailable, nex.SessionExpired) as exc:
            raise StoreUnavailable(
                f"Neo4j at {self.uri.display} is unavailable: {_one_line(exc)}") from None
        except nex.Neo4jError as exc:
            raise QueryError(
                f"the public copy needs a second database ({exc.message}); on Neo4j "
                "Community create none and point TRIEDBEFORE_PUBLIC_GRAPH at a database "
                "you may use") from None
        return list(records)

    def has_public_copy(self) -> bool:
        return bool(self._system(SHOW_DATABASE, {"name": self.public_copy().database}))

    def rebuild_public_copy(self) -> None:
        """Copy the visible nodes and links into the public database, emptied first. The
        copy is not atomic: while it runs, its readers may see part of the graph (never a
        restricted record)."""
        if self.public_only:
            raise QueryRefused("the public copy of the graph is read-only")
        public = self.public_copy()
        if not self.has_public_copy():
            self._system(CREATE_DATABASE, {"name": public.database})
        public.drop_all()
        for statement in public.dialect.schema_statements():
            public._execute(statement, None, RoutingControl.WRITE)
        self.copy_visible_into(public._write)

    def write_public_copy(self, query: str, params: Params | None = None) -> None:
        if self.public_only:
            raise QueryRefused("the public copy of the graph is read-only")
        self.public_copy()._write(query, params)


class FalkorBoltStore(BoltStore):
    """FalkorDB's dialect over its Bolt listener (``bolt+falkordb://HOST:PORT?public=
    HOST:PORT``), for tests and development, never production. Differences from
    :class:`Neo4jStore`, each forced by the listener (docs/scaling.md):

    - parameters travel as FalkorDB's escaped ``CYPHER name=value`` header, not as Bolt
      parameters: the listener splices a Bolt string parameter into the statement without
      escaping ``'`` (so a value can add clauses), and drops the connection, or stops the
      server, when a statement's parameters exceed about 4 KB;
    - it cannot plan without running (``EXPLAIN`` runs the statement) nor roll back, so it
      is no planning store: the console's guard is the lexical check alone;
    - it serves one graph, so the public copy is the graph of a second listener;
    - uniqueness constraints are a Redis command it does not carry: none are created;
    - after a connection closes, it often answers no new one (the handshake waits
      forever), so the stores of one process share one driver per listener, holding one
      connection that is never closed (``close`` leaves it open), and read one statement
      at a time.
    """

    engine = "falkordb"
    database = None  # the listener ignores the name; managed transactions get "falkordb"
    _pool_size = 1

    def __init__(self, uri: StoreURI, *, _public_of: FalkorBoltStore | None = None) -> None:
        self.uri = uri
        self.dialect: FalkorDialect = FalkorDialect()
        self._public: FalkorBoltStore | None = None
        if _public_of is not None:
            self.public_only = True
        key = (str(uri.host), int(uri.port or 0), _retry_time(uri))
        with _shared_lock:
            driver = _shared.get(key)
            if driver is None:
                # The listener refuses every user name and password: no authentication.
                driver = _shared[key] = self._connect(f"bolt://{uri.host}:{uri.port}", None,
                                                      "FalkorDB (Bolt)")
        self._driver = driver

    @property
    def _server(self) -> str:
        return "FalkorDB (Bolt)"

    def _statement(self, query: str, params: Params | None) -> tuple[str, dict[str, Any]]:
        return params_header(params) + query, {}

    def _execute(self, query: str, params: Params | None, routing: RoutingControl,
                 timeout_ms: int | None = None) -> Any:
        """As :class:`BoltStore`, in an explicit transaction of a session that names no
        database: ``execute_query`` costs 45 ms a statement on this listener (an explicit
        transaction 0.5 ms), and a session's auto-commit ``run`` works on a graph named
        after the first key of its metadata (``db``, ``mode``…). No retries: a test aid.
        The listener ignores ``timeout_ms``."""
        text, values = self._statement(query, params)
        mode = neo4j.READ_ACCESS if routing == RoutingControl.READ else neo4j.WRITE_ACCESS
        try:
            with self._driver.session(default_access_mode=mode) as session:
                with session.begin_transaction() as tx:
                    result = tx.run(text, values)
                    keys = list(result.keys())
                    records = list(result)
                    summary = result.consume()
                    tx.commit()
        except (nex.ServiceUnavailable, nex.SessionExpired, nex.IncompleteCommit) as exc:
            raise StoreUnavailable(
                f"{self._server} at {self.uri.display} is unavailable: {_one_line(exc)}"
            ) from None
        except nex.Neo4jError as exc:
            raise _query_error(exc) from None
        return records, summary, keys

    def read_each(self, query: str, params: Iterable[Params], *,
                  workers: int = 1) -> Iterator[list[Row]]:
        """One statement at a time: the store holds one connection."""
        return super().read_each(query, params, workers=1)

    def ensure_schema(self) -> None:
        """The indexes not there yet (the listener answers a repeated index with an error
        that gives no reason, so 'already there' is read, not inferred)."""
        if self.public_only:
            raise QueryRefused("the public copy of the graph is read-only")
        self._ensure_schema()

    def _ensure_schema(self) -> None:
        existing = self.read(self.dialect.index_list())
        for statement in missing_indexes(self.dialect, existing):
            self._execute(statement, None, RoutingControl.WRITE)

    # -- the public copy: the graph of a second listener ---------------------------

    def public_copy(self) -> FalkorBoltStore:
        if self.public_only:
            return self
        if self._public is None:
            host, _, port = self.uri.options["public"].rpartition(":")
            uri = dataclasses.replace(self.uri, raw=f"bolt+falkordb://{host}:{port}",
                                      host=host, port=int(port), options={})
            self._public = FalkorBoltStore(uri, _public_of=self)
        return self._public

    def has_public_copy(self) -> bool:
        """Whether the public listener's graph has been built (it has the schema)."""
        return bool(self.public_copy().read(self.dialect.index_list()))

    def rebuild_public_copy(self) -> None:
        """As on Neo4j: emptied, the schema, then the visible nodes and links (not
        atomic)."""
        if self.public_only:
            raise QueryRefused("the public copy of the graph is read-only")
        public = self.public_copy()
        public.drop_all()
        public._ensure_schema()
        self.copy_visible_into(public._write)

    def write_public_copy(self, query: str, params: Params | None = None) -> None:
        if self.public_only:
            raise QueryRefused("the public copy of the graph is read-only")
        self.public_copy()._write(query, params)

    def drop_all(self) -> None:
        super().drop_all()
        if not self.public_only:
            self.public_copy().drop_all()

    def close(self) -> None:
        """The shared driver stays open (see the class); it is closed when the process
        exits."""


#: FalkorDB's Bolt listener: one driver per (host, port, retry time) for the process.
_shared: dict[tuple[str, int, float], neo4j.Driver] = {}
_shared_lock = threading.Lock()


@atexit.register
def _close_shared() -> None:
    with _shared_lock:
        for driver in _shared.values():
            driver.close()
        _shared.clear()
