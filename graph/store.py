"""The store interface and the URI that selects its engine.

``open_store("embedded:/data")`` (in :mod:`triedbefore.graph.engines`) starts (or
reuses) the embedded FalkorDB server in that folder; ``falkordb://`` and
``falkordb+unix://`` connect to a FalkorDB server someone already runs; ``neo4j://``,
``neo4j+s://`` and ``bolt://`` connect to Neo4j with the official driver.

Protocol and dialect are separate choices: ``bolt+falkordb://`` speaks Bolt through the
same official driver to FalkorDB's (experimental) Bolt listener and sends FalkorDB's
dialect, a test and development aid for the driver path (docs/scaling.md).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from triedbefore.graph import StoreURIError, settings
from triedbefore.graph.dialect import Dialect

Row = dict[str, Any]
Params = Mapping[str, Any]

NEO4J_SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")

#: FalkorDB's Bolt listener: the official driver, FalkorDB's dialect.
FALKOR_BOLT_SCHEME = "bolt+falkordb"

#: A replicated FalkorDB deployment found through its Sentinels.
FALKOR_SENTINEL_SCHEME = "falkordb+sentinel"

#: The one graph FalkorDB's Bolt listener serves to managed transactions: it ignores the
#: database a session names.
FALKOR_BOLT_GRAPH = "falkordb"


@dataclass(frozen=True)
class StoreURI:
    """A parsed store URI."""

    engine: str  # "embedded", "falkordb" or "neo4j": the dialect the store sends
    raw: str
    path: Path | None = None  # embedded data folder or unix socket
    host: str | None = None
    port: int | None = None
    graph: str = "triedbefore"
    options: dict[str, str] = field(default_factory=dict)
    #: "native" (FalkorDB's own protocol) or "bolt" (the official Neo4j driver)
    protocol: str = "native"

    @property
    def display(self) -> str:
        """The URI without any password, for messages and provenance."""
        parts = urlsplit(self.raw)
        if parts.password:
            netloc = parts.netloc.split("@", 1)[1]
            return parts._replace(netloc=netloc).geturl()
        return self.raw


def parse_store_uri(uri: str | None = None) -> StoreURI:
    """Parse a store URI (default: ``TRIEDBEFORE_STORE`` or ``embedded:``)."""
    raw = (uri if uri else settings.STORE.get()).strip()
    graph = settings.GRAPH_NAME.get()
    if raw == "embedded" or raw.startswith("embedded:"):
        rest = raw[len("embedded:"):] if raw.startswith("embedded:") else ""
        query = ""
        if "?" in rest:
            rest, query = rest.split("?", 1)
        options = {k: v[-1] for k, v in parse_qs(query).items()}
        path = Path(unquote(rest)).expanduser() if rest else settings.data_dir()
        return StoreURI("embedded", raw, path=path.resolve(), graph=options.get("graph", graph),
                        options=options)
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    graph = options.get("graph", graph)
    if scheme == FALKOR_SENTINEL_SCHEME:
        return _falkor_sentinel_uri(raw, parts, options, graph)
    if scheme == "falkordb":
        if not parts.hostname:
            raise StoreURIError(
                f"store URI {raw!r}: falkordb:// needs a host, e.g. falkordb://127.0.0.1:6379")
        try:
            port = parts.port or 6379
        except ValueError as exc:
            raise StoreURIError(f"store URI {raw!r}: {exc}") from None
        return StoreURI("falkordb", raw, host=parts.hostname, port=port, graph=graph,
                        options=options,
                        protocol="replicated" if options.get("replicas") else "native")
    if scheme == "falkordb+unix":
        if not parts.path:
            raise StoreURIError(f"store URI {raw!r}: falkordb+unix:// needs a socket path")
        return StoreURI("falkordb", raw, path=Path(unquote(parts.path)), graph=graph,
                        options=options)
    if scheme in NEO4J_SCHEMES:
        if not parts.hostname:
            raise StoreURIError(f"store URI {raw!r}: a Neo4j URI needs a host")
        try:
            neo4j_port = parts.port
        except ValueError as exc:
            raise StoreURIError(f"store URI {raw!r}: {exc}") from None
        return StoreURI("neo4j", raw, host=parts.hostname, port=neo4j_port, graph=graph,
                        options=options, protocol="bolt")
    if scheme == FALKOR_BOLT_SCHEME:
        return _falkor_bolt_uri(raw, parts.hostname, parts, options)
    raise StoreURIError(
        f"store URI {raw!r} names no known engine; use embedded:[PATH], falkordb://HOST:PORT, "
        "falkordb+sentinel://HOST:PORT,…/SERVICE, "
        "falkordb+unix:///PATH.sock, neo4j://HOST, neo4j+s://HOST, bolt://HOST or "
        "bolt+falkordb://HOST:PORT?public=HOST:PORT"
    )


def _falkor_sentinel_uri(raw: str, parts: Any, options: dict[str, str],
                         graph: str) -> StoreURI:
    """``falkordb+sentinel://[:PASSWORD@]HOST:PORT,HOST:PORT/SERVICE``: the Sentinels of
    a replicated FalkorDB deployment, which name its primary and replicas."""
    hosts = parts.netloc.rpartition("@")[2]
    service = unquote(parts.path.strip("/"))
    if not hosts or not service:
        raise StoreURIError(
            f"store URI {raw!r}: falkordb+sentinel:// needs the Sentinels and the service, "
            "e.g. falkordb+sentinel://127.0.0.1:26379,127.0.0.1:26380/triedbefore")
    for address in hosts.split(","):
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise StoreURIError(f"store URI {raw!r}: Sentinel {address!r} is not HOST:PORT")
    return StoreURI("falkordb", raw, graph=graph, protocol="sentinel",
                    options={**options, "sentinels": hosts, "service": service})


def _falkor_bolt_uri(raw: str, host: str | None, parts: Any,
                     options: dict[str, str]) -> StoreURI:
    """``bolt+falkordb://HOST:PORT[/falkordb]?public=HOST:PORT``. The listener serves one
    graph whatever the session names, so the public copy needs a second server."""
    if not host:
        raise StoreURIError(f"store URI {raw!r}: bolt+falkordb:// needs a host and port")
    try:
        port = parts.port
    except ValueError as exc:
        raise StoreURIError(f"store URI {raw!r}: {exc}") from None
    if port is None:
        raise StoreURIError(f"store URI {raw!r}: bolt+falkordb:// needs the Bolt port "
                            "(the BOLT_PORT module argument of the server)")
    named = unquote(parts.path.strip("/")) or options.get("graph", FALKOR_BOLT_GRAPH)
    if named != FALKOR_BOLT_GRAPH:
        raise StoreURIError(
            f"store URI {raw!r}: FalkorDB's Bolt listener serves only the graph "
            f"{FALKOR_BOLT_GRAPH!r} (it ignores the database a session names)")
    public = options.get("public", "")
    if not re.fullmatch(r"[^:/?#\s]+:\d{1,5}", public):
        raise StoreURIError(
            f"store URI {raw!r}: bolt+falkordb:// needs ?public=HOST:PORT, a second "
            "FalkorDB Bolt listener for the public copy (one listener serves one graph)")
    return StoreURI("falkordb", raw, host=host, port=port, graph=FALKOR_BOLT_GRAPH,
                    options=options, protocol="bolt")


@dataclass
class WriteSummary:
    nodes_created: int = 0
    nodes_deleted: int = 0
    relationships_created: int = 0
    relationships_deleted: int = 0
    properties_set: int = 0

    def __iadd__(self, other: WriteSummary) -> WriteSummary:
        self.nodes_created += other.nodes_created
        self.nodes_deleted += other.nodes_deleted
        self.relationships_created += other.relationships_created
        self.relationships_deleted += other.relationships_deleted
        self.properties_set += other.properties_set
        return self

    @property
    def changed(self) -> bool:
        return any((self.nodes_created, self.nodes_deleted, self.relationships_created,
                    self.relationships_deleted, self.properties_set))


READ_WORKERS = 2  # statements in flight in Store.read_each

#: Rows per write when copying into the public copy.
COPY_BATCH = 2000

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last may be shorter), read as they come: for
    statements that take their ids or rows a batch at a time."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch

#: Labels of records that belong to one user (watches): never in the public copy.
PRIVATE_LABELS: frozenset[str] = frozenset({"Watch"})

#: Properties the public copy never gets: the runs' counts (they count restricted rows),
#: the rows' digests (the graph's bookkeeping for the next ingest), and a
#: solution's verdict on all evidence (restricted evidence included; the copy keeps
#: ``public_verdict``, the verdict on what anonymous readers see).
NOT_COPIED: frozenset[str] = frozenset({"counts_json", "written_json", "row_hash",
                                        "verdict", "verdict_strength", "failure",
                                        "rows_written"})

#: Visibility values anonymous readers may not see (docs/interchange.md).
HIDDEN_FROM_PUBLIC: tuple[str, ...] = ("restricted",)


def public_name(base: str) -> str:
    """The name of the public-only copy of the graph (or database) ``base``."""
    return settings.PUBLIC_GRAPH.get() or f"{base}-public"


class Store(ABC):
    """One graph database. Every statement is parameterised; each call is one transaction.

    Every store has a **public copy**: the same graph without restricted records (a second
    FalkorDB graph, a second Neo4j database), rebuilt by :meth:`rebuild_public_copy` after
    every ingest and curation decision. Readers who may not see restricted records read
    only the copy, so no statement (the console's included) can reach those records.
    """

    engine: str
    dialect: Dialect
    uri: StoreURI
    #: True for a store on the public copy: it refuses writes.
    public_only: bool = False

    @abstractmethod
    def public_copy(self) -> Store:
        """A store reading the public copy (refusing writes); the same object each time."""

    @abstractmethod
    def has_public_copy(self) -> bool:
        """Whether the public copy exists (it does after the first rebuild)."""

    @abstractmethod
    def rebuild_public_copy(self) -> None:
        """Replace the public copy with this graph minus its restricted records."""

    @abstractmethod
    def write_public_copy(self, query: str, params: Params | None = None) -> None:
        """Apply one write to the public copy too (a curation decision: statements that
        match records by id do nothing there when the record is restricted)."""

    def write_with_copy(self, query: str, params: Params | None,
                        copy_params: Params | None) -> tuple[list[Row], WriteSummary, bool]:
        """Run a write on this graph and then, with ``copy_params`` (unless None), on its
        public copy, which must exist. Errors of the first write are raised; the last
        value says whether the copy took the second (False: the copy is out of step)."""
        result = self.write(query, params)
        if copy_params is None:
            return (*result, True)
        from triedbefore.graph import GraphError

        try:
            self.write_public_copy(query, copy_params)
        except GraphError:
            return (*result, False)
        return (*result, True)

    def copy_visible_into(self, write: Callable[[str, Params], Any]) -> None:
        """Write this graph's visible nodes and links through ``write`` (a statement and
        its parameters) into an empty graph with the same schema: plain reads and batched
        ``UNWIND … CREATE`` writes, on either engine. ``NOT_COPIED`` properties and
        users' own records (``PRIVATE_LABELS``) stay out.

        A batch of ids at a time, so memory stays flat in the size of the graph; one write
        is in flight while the next batch is read (the two databases work at once)."""
        from triedbefore.graph import queries
        from triedbefore.ontology.vocab import Label, Link

        hidden = {"hidden": list(HIDDEN_FROM_PUBLIC)}
        visible: dict[Label, list[str]] = {}
        with ThreadPoolExecutor(1, thread_name_prefix="copy") as pool:
            pending: Future[Any] | None = None

            def send(statement: str, rows: list[Row]) -> None:
                nonlocal pending
                if pending is not None:
                    pending.result()
                pending = pool.submit(write, statement, {"rows": rows})

            for label in Label:
                if label in PRIVATE_LABELS:
                    continue
                ids = visible[label] = [str(r["id"]) for r in self.read(
                    queries.visible_node_ids(label), hidden) if r["id"] is not None]
                for start in range(0, len(ids), COPY_BATCH):
                    rows = [{"props": {k: v for k, v in r["props"].items()
                                       if k not in NOT_COPIED}}
                            for r in self.read(queries.nodes_by_ids(label),
                                               {"ids": ids[start:start + COPY_BATCH]})]
                    send(queries.copy_nodes(label), rows)
            if pending is not None:  # every node is in before the first link
                pending.result()
                pending = None
            for link in Link:
                ids = visible.get(link.source, [])
                if link.target in PRIVATE_LABELS:
                    continue
                for start in range(0, len(ids), COPY_BATCH):
                    rows = self.read(queries.visible_links_from(link),
                                     {"ids": ids[start:start + COPY_BATCH], **hidden})
                    if rows:
                        send(queries.copy_links(link), rows)
            if pending is not None:
                pending.result()

    @abstractmethod
    def read(self, query: str, params: Params | None = None, *,
             timeout_ms: int | None = None) -> list[Row]:
        """Run a read-only statement; rows are dicts keyed by the RETURN names."""

    @abstractmethod
    def write(self, query: str, params: Params | None = None) -> tuple[list[Row], WriteSummary]:
        """Run one statement in its own write transaction (atomic: all of it or none)."""

    @abstractmethod
    def run_schema(self, statement: str) -> None:
        """Run one schema statement, ignoring 'already exists' answers."""

    @abstractmethod
    def close(self) -> None:
        """Release connections (the embedded server keeps running)."""

    def compact(self) -> bool:
        """After a run of writes, have the store's files made quick to load again, in the
        background; whether that was asked. The base store has nothing to do."""
        return False

    def confirm_writes(self) -> None:
        """Return once the writes made so far may be reported done: on a replicated
        deployment, once enough replicas hold them (``replica_wait``). One server, or a
        Neo4j cluster (which commits on a majority), has nothing to wait for."""
        return None

    @contextmanager
    def acknowledged(self) -> Iterator[None]:
        """Writes that are reported done (an ingest run, a curation decision): the block
        ends with :meth:`confirm_writes`. On a replicated deployment every write of the
        block goes to one primary: after a failover the next write fails, since the
        earlier ones may have been lost with the old primary."""
        yield
        self.confirm_writes()

    def read_each(self, query: str, params: Iterable[Params], *,
                  workers: int = READ_WORKERS) -> Iterator[list[Row]]:
        """The rows of ``query`` for each parameter set, in order, with up to ``workers``
        statements in flight: the server runs one while this process reads another's
        rows (both engines' clients are safe to share between threads)."""
        if workers <= 1:
            for p in params:
                yield self.read(query, p)
            return
        with ThreadPoolExecutor(workers, thread_name_prefix="read") as pool:
            pending: deque[Future[list[Row]]] = deque()
            for p in params:
                pending.append(pool.submit(self.read, query, p))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def ensure_schema(self) -> None:
        """Create constraints and indexes idempotently."""
        for statement in self.dialect.schema_statements():
            self.run_schema(statement)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class WrappedStore(Store):
    """A store that passes every call to another (``main``), for wrappers that change one
    or two of them (mirroring writes to the public copy, noting whether a write changed
    anything). Closing it leaves ``main`` open: its owner closes it."""

    def __init__(self, main: Store) -> None:
        self.main = main
        self.engine = main.engine
        self.dialect = main.dialect
        self.uri = main.uri

    def read(self, query: str, params: Params | None = None, *,
             timeout_ms: int | None = None) -> list[Row]:
        return self.main.read(query, params, timeout_ms=timeout_ms)

    def read_each(self, query: str, params: Iterable[Params], *,
                  workers: int = READ_WORKERS) -> Iterator[list[Row]]:
        return self.main.read_each(query, params, workers=workers)

    def write(self, query: str, params: Params | None = None) -> tuple[list[Row], WriteSummary]:
        return self.main.write(query, params)

    def public_copy(self) -> Store:
        return self.main.public_copy()

    def has_public_copy(self) -> bool:
        return self.main.has_public_copy()

    def rebuild_public_copy(self) -> None:
        self.main.rebuild_public_copy()

    def write_public_copy(self, query: str, params: Params | None = None) -> None:
        self.main.write_public_copy(query, params)

    def run_schema(self, statement: str) -> None:
        self.main.run_schema(statement)

    def ensure_schema(self) -> None:
        self.main.ensure_schema()

    def confirm_writes(self) -> None:
        self.main.confirm_writes()

    @contextmanager
    def acknowledged(self) -> Iterator[None]:
        with self.main.acknowledged():
            yield

    def close(self) -> None:
        """``main`` is closed by its owner."""
