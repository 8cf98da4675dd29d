"""Neo4j backend: the official driver over Bolt, managed transactions with retries."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import unquote, urlsplit

import neo4j
from neo4j import GraphDatabase, Query, RoutingControl
from neo4j import exceptions as nex

from triedbefore.graph import QueryError, QueryRefused, StoreUnavailable, settings
from triedbefore.graph.dialect import CREATE_DATABASE, SHOW_DATABASE, Neo4jDialect
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


def _one_line(exc: BaseException) -> str:
    """The driver's message on one line (its connection errors span several)."""
    return " ".join(str(exc).split())


def _query_error(exc: nex.Neo4jError) -> QueryError:
    message = exc.message or str(exc)
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


class Neo4jStore(Store):
    """Neo4j 5. URI, user, password and database come from the URI or the environment
    (``NEO4J_USERNAME``, ``NEO4J_PASSWORD``, ``NEO4J_DATABASE``)."""

    engine = "neo4j"

    def __init__(self, uri: StoreURI, *, _public_of: Neo4jStore | None = None) -> None:
        self.uri = uri
        self.dialect = Neo4jDialect()
        self._public: Neo4jStore | None = None
        self._driver: neo4j.Driver
        if _public_of is not None:  # the public database, through the same driver
            self.public_only = True
            self.database = uri.options["database"]
            self._driver = _public_of._driver
            return
        parts = urlsplit(uri.raw)
        user = unquote(parts.username) if parts.username else settings.NEO4J_USER.get()
        password = unquote(parts.password) if parts.password else settings.NEO4J_PASSWORD.get()
        host = parts.hostname or "localhost"
        netloc = f"{host}:{parts.port}" if parts.port else host
        self.database = uri.options.get("database", settings.NEO4J_DATABASE.get())
        self._driver = GraphDatabase.driver(f"{parts.scheme}://{netloc}", auth=(user, password))
        try:
            self._driver.verify_connectivity()
        except (nex.ServiceUnavailable, nex.AuthError, OSError) as exc:
            self._driver.close()
            raise StoreUnavailable(f"cannot reach Neo4j at {uri.display}: {_one_line(exc)}"
                                   ) from None

    def _execute(self, query: str, params: Params | None, routing: RoutingControl,
                 timeout_ms: int | None = None) -> Any:
        q: Any = Query(query, timeout=timeout_ms / 1000) if timeout_ms else query
        try:
            return self._driver.execute_query(q, dict(params or {}), database_=self.database,
                                              routing_=routing)
        except (nex.ServiceUnavailable, nex.SessionExpired) as exc:
            raise StoreUnavailable(
                f"Neo4j at {self.uri.display} is unavailable: {_one_line(exc)}") from None
        except nex.Neo4jError as exc:
            raise _query_error(exc) from None

    def read(self, query: str, params: Params | None = None, *,
             timeout_ms: int | None = None) -> list[Row]:
        records, _summary, _keys = self._execute(query, params, RoutingControl.READ, timeout_ms)
        return [{k: _plain(v) for k, v in r.items()} for r in records]

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

    # -- the public copy: a second database --------------------------------------

    def public_copy(self) -> Neo4jStore:
        if self.public_only:
            return self
        if self._public is None:
            name = public_name(self.database)
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

    def close(self) -> None:
        if self.public_only:
            return  # the driver is the main store's
        self._driver.close()
