"""A FalkorDB deployment of one primary and its replicas: writes to the primary, reads to
the replicas, and Sentinel failover.

Store URIs (docs/scaling.md):

- ``falkordb+sentinel://[:PASSWORD@]HOST:PORT,HOST:PORT,…/SERVICE`` asks the Sentinels
  which server is the primary of ``SERVICE`` and which are its replicas, and asks again
  after a server is lost (a failover);
- ``falkordb://PRIMARY:PORT?replicas=HOST:PORT,HOST:PORT`` names them, without failover;
- ``embedded:PATH`` when ``PATH`` holds a local deployment that ``triedbefore db start
  --replicas N`` made (:mod:`triedbefore.graph.topology`).

``password_file=PATH`` (a file holding the password) may stand in for the password.

Three rules make the replicas safe to read:

- **acknowledged writes**: before an ingest run or a curation decision is reported done,
  :meth:`ReplicatedStore.confirm_writes` waits (Redis ``WAIT``) until ``replica_wait``
  replicas have every write made so far, for at most ``replica_wait_timeout_ms``; when
  fewer confirm, it raises :class:`ReplicationTimeout` (the writes are on the primary
  only, and a failover now could lose them);
- **read-your-writes**: after a process writes, its reads go to the primary until a
  replica has confirmed the primary's replication position taken after the write
  (replicas confirm once a second: reads after a write stay on the primary for about a
  second). A position is a replication history (its id) and an offset in it; after a
  failover the new primary carries the old history up to where it forked, so a server
  holds a process's writes exactly when its history holds that position. Reads of a
  process go only to servers that hold its writes: never a stale answer. When no server
  holds them any more (a failover lost them) the read fails once, saying so;
- **failover**: a read that a server does not answer (its connection lost, or no reply
  and no answer to a ``PING`` within ``server_timeout_s``: a hung server) is sent to the
  next server that holds what the reader must see, and the server is tried last for a
  few seconds; while none answers (the primary lost, no replica holds the writes yet) the
  read tries again for up to ``server_timeout_s``. The connections a lost server leaves
  are closed only when idle: reads under way on other connections are not cut. A write
  that the primary does not answer fails with one line, and the next statement asks the
  Sentinels for the new primary. Within
  acknowledged writes (:meth:`ReplicatedStore.acknowledged`: an ingest run, a curation
  decision) a write to another primary than the first fails too: the old primary may
  have taken writes with it that it had not passed on.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel

from triedbefore.graph import GraphError, QueryError, QueryRefused, StoreUnavailable, settings
from triedbefore.graph.dialect import FalkorDialect
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.store import Params, Row, Store, StoreURI, WriteSummary

#: Seconds a topology learned from the Sentinels is used before asking again.
REFRESH_SECONDS = 1.0
#: Seconds between two questions to the Sentinels after a server was lost.
RETRY_REFRESH_SECONDS = 0.2
#: Seconds the replicas' confirmed offsets (``INFO replication``) are reused.
OFFSETS_SECONDS = 0.05
#: Seconds to wait for a connection to one server or Sentinel.
CONNECT_TIMEOUT = 2.0
#: Seconds a server that failed a read is tried after the others.
SUSPECT_SECONDS = 5.0
#: Errors of a server that cannot answer now but another server may.
_UNAVAILABLE_REPLIES = ("LOADING", "MASTERDOWN", "NOAUTH", "TRYAGAIN")
#: The channel of the message that marks the replication stream for ``WAIT``.
ACK_CHANNEL = "triedbefore:confirm"

Address = tuple[str, int]


class ReplicationTimeout(StoreUnavailable):
    """Fewer replicas than required confirmed the writes within the time allowed."""


@dataclass(frozen=True)
class Position:
    """A point of a replication history: every write up to ``offset`` of the history
    ``replid`` (Redis's replication id and offset)."""

    replid: str
    offset: int

    @staticmethod
    def of(info: dict[str, Any]) -> Position:
        """Where a server is now, from its ``INFO replication``."""
        return Position(str(info.get("master_replid", "")),
                        int(info.get("master_repl_offset", -1)))


def holds(info: dict[str, Any], position: Position) -> bool:
    """Whether the server whose ``INFO replication`` is ``info`` has every write up to
    ``position``: its own history at or past the offset, or, after a failover, the
    history it carried on (``master_replid2``) up to where it forked from it."""
    if info.get("master_replid") == position.replid:
        return int(info.get("master_repl_offset", -1)) >= position.offset
    if info.get("master_replid2") == position.replid:
        return position.offset < int(info.get("second_repl_offset", -1))
    return False


class WritesLost(StoreUnavailable):
    """No server holds this process's latest writes any more: a failover lost them."""


def server_timeout() -> float:
    """Seconds after which a server answering neither a statement nor a PING is lost."""
    try:
        found = float(settings.SERVER_TIMEOUT_S.get())
    except ValueError:
        found = -1.0
    if not found > 0:
        raise StoreUnavailable(f"{settings.SERVER_TIMEOUT_S.env} must be a number of "
                               "seconds above 0")
    return found


@dataclass(frozen=True)
class Topology:
    """Who serves what now: the primary (None while a failover is under way) and the
    replicas that answer."""

    primary: Address | None
    replicas: tuple[Address, ...]


def _address_text(address: Address | None) -> str:
    return "none" if address is None else f"{address[0]}:{address[1]}"


def parse_addresses(text: str, what: str) -> tuple[Address, ...]:
    """``HOST:PORT,HOST:PORT`` as address pairs."""
    found: list[Address] = []
    for part in (p.strip() for p in text.split(",")):
        host, sep, port = part.rpartition(":")
        if not part or not sep or not host or not port.isdigit() or \
                not 0 < int(port) <= 65535:
            raise GraphError(f"{what}: {part!r} is not HOST:PORT")
        found.append((host.strip("[]"), int(port)))
    return tuple(found)


class Locator:
    """Finds the primary and the replicas."""

    def topology(self) -> Topology:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class StaticLocator(Locator):
    """A primary and replicas named in the URI."""

    def __init__(self, primary: Address, replicas: tuple[Address, ...]) -> None:
        self._topology = Topology(primary, replicas)

    def topology(self) -> Topology:
        return self._topology

    def describe(self) -> str:
        return f"primary {_address_text(self._topology.primary)}"


class SentinelLocator(Locator):
    """The Sentinels' answer for one service."""

    def __init__(self, sentinels: tuple[Address, ...], service: str,
                 password: str | None) -> None:
        self.service = service
        self.sentinels = sentinels
        self._sentinel = Sentinel(
            list(sentinels),
            sentinel_kwargs={"password": password, "socket_timeout": CONNECT_TIMEOUT,
                             "socket_connect_timeout": CONNECT_TIMEOUT,
                             "retry": Retry(NoBackoff(), 0)},
        )

    def topology(self) -> Topology:
        try:
            host, port = self._sentinel.discover_master(self.service)
            primary: Address | None = (str(host), int(port))
        except MasterNotFoundError:
            primary = None
        try:
            replicas = tuple((str(h), int(p))
                             for h, p in self._sentinel.discover_slaves(self.service))
        except redis.RedisError:
            replicas = ()
        if primary is None and not replicas:
            where = ", ".join(_address_text(a) for a in self.sentinels)
            raise StoreUnavailable(f"no Sentinel at {where} knows a server of the service "
                                   f"{self.service!r}")
        return Topology(primary, tuple(r for r in replicas if r != primary))

    def describe(self) -> str:
        return f"service {self.service!r} of the Sentinels " + \
            ",".join(_address_text(a) for a in self.sentinels)


class _Shared:
    """What a store and its public copy share: connections, topology, positions."""

    def __init__(self, uri: StoreURI, locator: Locator, password: str | None) -> None:
        self.uri = uri
        self.locator = locator
        self.password = password
        self.lock = threading.Lock()
        self.servers: dict[Address, FalkorStore] = {}
        self.topology: Topology | None = None
        self.learned = 0.0
        self.stale = False
        self.turn = itertools.count()
        #: The primary's position after this process's latest write: what its reads must
        #: see (None: it wrote nothing that a replica has not confirmed since).
        self.wanted: Position | None = None
        #: The primary's replication info and when it was read (reused briefly).
        self.primary_info: tuple[float, Address, dict[str, Any]] | None = None
        #: When each server last failed a read: tried after the others for a while.
        self.failed_at: dict[Address, float] = {}
        #: Writes since the last confirmation.
        self.unconfirmed = False
        #: Blocks of acknowledged writes under way, and the primary they write to.
        self.sessions = 0
        self.written_to: Address | None = None

    def current(self) -> Topology:
        now = time.monotonic()
        with self.lock:
            topology = self.topology
            wait = RETRY_REFRESH_SECONDS if self.stale else REFRESH_SECONDS
            if topology is not None and now - self.learned < wait:
                return topology
        found = self.locator.topology()
        with self.lock:
            self.topology, self.learned, self.stale = found, time.monotonic(), False
        return found

    def lost(self) -> None:
        """A server did not answer: ask the locator again soon."""
        with self.lock:
            self.stale = True
            self.learned = min(self.learned, time.monotonic() - REFRESH_SECONDS
                               + RETRY_REFRESH_SECONDS)

    def server(self, address: Address) -> FalkorStore:
        with self.lock:
            found = self.servers.get(address)
        if found is not None:
            return found
        made = FalkorStore(StoreURI("falkordb", f"falkordb://{address[0]}:{address[1]}",
                                    host=address[0], port=address[1], graph=self.uri.graph),
                           password=self.password, connect_timeout=CONNECT_TIMEOUT,
                           retry=Retry(NoBackoff(), 0),  # the next server, not this again
                           hang_timeout=server_timeout(),
                           deposed=lambda: self.deposed(address))
        with self.lock:
            found = self.servers.setdefault(address, made)
        if found is not made:
            made.close()
        return found

    def deposed(self, address: Address) -> bool:
        """Whether the locator, asked now, names another server than ``address`` the
        primary (False when it cannot tell)."""
        try:
            primary = self.locator.topology().primary
        except GraphError:
            return False
        if primary is not None and primary != address:
            self.lost()
            return True
        return False

    def failed(self, address: Address) -> None:
        """A read on ``address`` failed: its idle connections are closed (those of reads
        under way on it are theirs to lose), and it is tried last for a while."""
        with self.lock:
            store = self.servers.get(address)
            self.failed_at[address] = time.monotonic()
            if address == (self.primary_info or (0, None))[1]:
                self.primary_info = None
        if store is not None:
            store.drop_idle_connections()

    def suspect(self, address: Address) -> bool:
        with self.lock:
            when = self.failed_at.get(address)
        return when is not None and time.monotonic() - when < SUSPECT_SECONDS

    def note_write(self, address: Address) -> None:
        """After a write to the primary at ``address``: its reads must see where the
        primary is now."""
        info = self.server(address).server_info("replication")
        position = Position.of(info)
        with self.lock:
            before = self.wanted
            if before is None or before.replid != position.replid or \
                    position.offset > before.offset:
                self.wanted = position
            self.primary_info = None

    def holders(self, topology: Topology) -> tuple[list[Address], bool]:
        """The replicas that hold this process's writes, and whether the primary does
        (every replica and the primary when it wrote nothing since they confirmed).
        Raises :class:`WritesLost` when the primary's history does not hold them."""
        wanted = self.wanted
        if wanted is None:
            return list(topology.replicas), topology.primary is not None
        if topology.primary is not None:
            try:
                info = self._primary_info(topology.primary)
            except GraphError:
                info = None  # lost: the replicas are asked below
            if info is not None:
                if not holds(info, wanted):
                    with self.lock:
                        if self.wanted == wanted:
                            self.wanted = None  # said once; later reads see the graph now
                    raise WritesLost(
                        f"the primary FalkorDB server {_address_text(topology.primary)} "
                        "does not hold this process's latest writes: a failover lost them "
                        "(they were never confirmed by a replica); run the command that "
                        "made them again")
                confirmed = _confirmed(info)
                ready = [r for r in topology.replicas if confirmed.get(r, -1) >= wanted.offset]
                if len(ready) == len(topology.replicas) and ready:
                    with self.lock:
                        if self.wanted == wanted:
                            self.wanted = None
                return ready, True
        # no primary to ask (a failover under way): the replicas that hold the writes
        ready = []
        for replica in topology.replicas:
            try:
                if holds(self.server(replica).server_info("replication", bounded=True),
                         wanted):
                    ready.append(replica)
            except GraphError:
                continue
        return ready, False

    def _primary_info(self, primary: Address) -> dict[str, Any]:
        now = time.monotonic()
        cached = self.primary_info
        if cached is not None and cached[1] == primary and now - cached[0] < OFFSETS_SECONDS:
            return cached[2]
        info = self.server(primary).server_info("replication", bounded=True)
        self.primary_info = (now, primary, info)
        return info

    def close(self) -> None:
        with self.lock:
            servers = list(self.servers.values())
            self.servers.clear()
        for store in servers:
            store.close()


@dataclass(frozen=True)
class ReplicaLink:
    """One replica as its primary lists it in ``INFO replication`` (``slaveN``)."""

    address: Address
    #: ``online``; ``wait_bgsave``: waiting for a full copy; ``send_bulk``: receiving it
    state: str
    offset: int  # the replication offset it last confirmed (-1: none given)
    lag: int | None  # seconds since it last confirmed


def replicas_listed(info: dict[str, Any]) -> list[ReplicaLink]:
    """The replicas a primary's ``INFO replication`` lists."""
    return [ReplicaLink((str(value.get("ip")), int(value.get("port", 0))),
                        str(value.get("state", "unknown")), int(value.get("offset", -1)),
                        int(value["lag"]) if "lag" in value else None)
            for key, value in info.items()
            if key.startswith("slave") and isinstance(value, dict)]


def _confirmed(info: dict[str, Any]) -> dict[Address, int]:
    """The replication offsets the primary's replicas have confirmed, by address."""
    return {r.address: r.offset for r in replicas_listed(info)}


def _replica_states(info: dict[str, Any]) -> dict[Address, str]:
    """Each replica the primary lists, with its state and the seconds since it last
    confirmed (``online, lag 0 s``; ``wait_bgsave``: waiting for a full copy)."""
    return {r.address: r.state + ("" if r.lag is None else f", lag {r.lag} s")
            for r in replicas_listed(info)}


class ReplicatedStore(Store):
    """One primary for writes, its replicas for reads (see the module docstring)."""

    engine = "falkordb"

    def __init__(self, uri: StoreURI, locator: Locator, *, password: str | None = None,
                 _shared: _Shared | None = None) -> None:
        self.uri = uri
        self.dialect = FalkorDialect()
        self._shared = _shared or _Shared(uri, locator, password)
        self._public: ReplicatedStore | None = None
        if _shared is None:
            self._shared.current()  # a locator that knows no server fails here, once

    def _view(self, store: FalkorStore) -> FalkorStore:
        return store.public_copy() if self.public_only else store

    # -- where statements go ---------------------------------------------------------------

    def topology(self) -> Topology:
        """The primary and replicas statements go to now."""
        return self._shared.current()

    def _primary(self) -> tuple[Address, FalkorStore]:
        topology = self._shared.current()
        if topology.primary is None:
            self._shared.lost()
            raise StoreUnavailable(
                f"no primary FalkorDB server for {self._shared.locator.describe()} (a "
                "failover is under way, or no server is left to promote); try again")
        try:
            return topology.primary, self._view(self._shared.server(topology.primary))
        except StoreUnavailable as exc:
            self._shared.lost()
            raise StoreUnavailable(_one_line(
                f"the primary FalkorDB server {_address_text(topology.primary)} cannot be "
                f"reached ({str(exc).rpartition(': ')[2]}); if it was lost, the Sentinels "
                "promote a replica within seconds: run the command again")) from None

    def _readers(self) -> list[Address]:
        """Servers to read from, best first: the replicas holding this process's writes
        (in turn), then the primary when it holds them; servers that failed a read in the
        last seconds after the others. Raises :class:`WritesLost`."""
        topology = self._shared.current()
        ready, primary_holds = self._shared.holders(topology)
        if ready:
            start = next(self._shared.turn) % len(ready)
            ready = ready[start:] + ready[:start]
        if primary_holds and topology.primary is not None:
            ready.append(topology.primary)
        return sorted(ready, key=self._shared.suspect)  # stable: the order otherwise kept

    def read(self, query: str, params: Params | None = None, *,
             timeout_ms: int | None = None) -> list[Row]:
        rows: list[Row] = self._read_any(
            lambda s: s.read(query, params, timeout_ms=timeout_ms))
        return rows

    def _read_any(self, call: Callable[[FalkorStore], Any]) -> Any:
        """``call`` on the first server that answers, in the order of :meth:`_readers`;
        while none does, again (the servers asked anew) for up to ``server_timeout_s``."""
        failures: list[str] = []
        deadline = time.monotonic() + server_timeout()
        while True:
            for address in self._readers():
                try:
                    return call(self._view(self._shared.server(address)))
                except StoreUnavailable as exc:
                    failures.append(f"{_address_text(address)}: {exc}")
                    self._shared.failed(address)
                    self._shared.lost()
                except QueryError as exc:
                    if not str(exc).startswith(_UNAVAILABLE_REPLIES):
                        raise
                    failures.append(f"{_address_text(address)}: {exc}")
                    self._shared.failed(address)
            if time.monotonic() >= deadline:
                break
            time.sleep(RETRY_REFRESH_SECONDS)
        raise StoreUnavailable(_one_line(
            "no FalkorDB server of the deployment that holds what this read must see "
            "answered it: " + "; ".join(failures[-3:] or ["none is known now"])))

    def _write(self, call: Callable[[FalkorStore], Any]) -> Any:
        if self.public_only:
            raise QueryRefused("the public copy of the graph is read-only")
        address, primary = self._primary()
        self._same_primary(address)
        self._shared.unconfirmed = True
        try:
            result = call(primary)
            self._shared.note_write(address)
        except StoreUnavailable as exc:
            self._shared.failed(address)
            self._shared.lost()
            raise StoreUnavailable(_one_line(
                f"the primary FalkorDB server {_address_text(address)} was lost during a "
                f"write ({exc}); the write may or may not have been applied: run it again "
                "once a replica has been promoted")) from None
        except QueryError as exc:
            if "read only replica" in str(exc).lower() or "READONLY" in str(exc):
                self._shared.lost()
                raise StoreUnavailable(_one_line(
                    f"the server {_address_text(address)} is no longer the primary (a "
                    "failover); the write was not applied: run it again")) from None
            raise
        return result

    def write(self, query: str, params: Params | None = None) -> tuple[list[Row], WriteSummary]:
        result: tuple[list[Row], WriteSummary] = self._write(lambda s: s.write(query, params))
        return result

    def write_with_copy(self, query: str, params: Params | None,
                        copy_params: Params | None) -> tuple[list[Row], WriteSummary, bool]:
        result: tuple[list[Row], WriteSummary, bool] = self._write(
            lambda s: s.write_with_copy(query, params, copy_params))
        return result

    def run_schema(self, statement: str) -> None:
        self._write(lambda s: s.run_schema(statement))

    def ensure_schema(self) -> None:
        self._write(lambda s: s.ensure_schema())

    def drop_all(self) -> None:
        """Delete the graph and its public copy (tests and benchmarks)."""
        self._write(lambda s: s.drop_all())

    # -- the public copy --------------------------------------------------------------------

    def public_copy(self) -> ReplicatedStore:
        if self.public_only:
            return self
        if self._public is None:
            public = ReplicatedStore(self.uri, self._shared.locator, _shared=self._shared)
            public.public_only = True
            self._public = public
        return self._public

    def has_public_copy(self) -> bool:
        result: bool = self._read_any(lambda s: s.has_public_copy())
        return result

    def rebuild_public_copy(self) -> None:
        self._write(lambda s: s.rebuild_public_copy())

    def write_public_copy(self, query: str, params: Params | None = None) -> None:
        self._write(lambda s: s.write_public_copy(query, params))

    # -- acknowledged writes ----------------------------------------------------------------

    @contextmanager
    def acknowledged(self) -> Iterator[None]:
        shared = self._shared
        with shared.lock:
            shared.sessions += 1
        try:
            yield
            self.confirm_writes()
        finally:
            with shared.lock:
                shared.sessions -= 1
                if shared.sessions == 0:
                    shared.written_to = None

    def _same_primary(self, address: Address) -> None:
        """Within acknowledged writes, refuse to go on writing to another primary than
        the first: writes the old one had not passed on when it was lost are gone, and
        the block must not be reported done without them."""
        shared = self._shared
        with shared.lock:
            if not shared.sessions:
                return
            before = shared.written_to
            if before is None:
                shared.written_to = address
                return
        if before != address:
            raise StoreUnavailable(
                f"the primary changed from {_address_text(before)} to "
                f"{_address_text(address)} (a failover) while writes no replica had "
                "confirmed were under way: they may have been lost with the old primary; "
                "run it again")

    def confirm_writes(self) -> None:
        """Wait until ``replica_wait`` replicas have every write made so far (Redis
        ``WAIT``), for at most ``replica_wait_timeout_ms``; raise
        :class:`ReplicationTimeout` when fewer confirm."""
        if not self._shared.unconfirmed:
            return
        wanted, timeout_ms = replica_wait()
        if wanted == 0:
            self._shared.unconfirmed = False
            return
        address, primary = self._primary()
        self._same_primary(address)
        try:
            confirmed = primary.wait_for_replicas(ACK_CHANNEL, wanted, timeout_ms)
        except StoreUnavailable as exc:
            self._shared.lost()
            raise StoreUnavailable(_one_line(
                f"the primary FalkorDB server {_address_text(address)} was lost before "
                f"the replicas confirmed the writes ({exc}); run it again once a replica "
                "has been promoted")) from None
        if confirmed < wanted:
            seen = self._replicas_seen(primary)
            raise ReplicationTimeout(
                f"the writes are on the primary {_address_text(address)} but only "
                f"{confirmed} of the {wanted} replica{'s' if wanted != 1 else ''} required "
                f"({settings.REPLICA_WAIT.env}) confirmed them within {timeout_ms} ms "
                f"({settings.REPLICA_WAIT_TIMEOUT_MS.env}){seen}: they are not safe from "
                "a failover yet; check the replicas (`triedbefore db status`) and run it "
                "again")
        self._shared.unconfirmed = False

    def _replicas_seen(self, primary: FalkorStore) -> str:
        """What the primary says of its replicas after a ``WAIT`` fell short, for the
        message (``; the primary sees 1 replica: 127.0.0.1:6380 online, lag 4 s``)."""
        try:
            info = primary.server_info("replication", bounded=True)
        except GraphError:
            return ""
        described = [f"{_address_text(replica)} {state}" for replica, state
                     in sorted(_replica_states(info).items())]
        count = len(described)
        return (f"; the primary sees {count} replica{'s' if count != 1 else ''}"
                + (": " + ", ".join(described) if described else ""))

    def close(self) -> None:
        if not self.public_only:
            self._shared.close()


def replica_wait() -> tuple[int, int]:
    """The replicas an acknowledged write waits for and the longest wait, in ms."""
    try:
        wanted = int(settings.REPLICA_WAIT.get())
        timeout_ms = int(settings.REPLICA_WAIT_TIMEOUT_MS.get())
    except ValueError:
        raise StoreUnavailable(f"{settings.REPLICA_WAIT.env} and "
                               f"{settings.REPLICA_WAIT_TIMEOUT_MS.env} must be whole "
                               "numbers") from None
    if wanted < 0 or timeout_ms <= 0:
        raise StoreUnavailable(f"{settings.REPLICA_WAIT.env} must be 0 or more and "
                               f"{settings.REPLICA_WAIT_TIMEOUT_MS.env} more than 0")
    return wanted, timeout_ms


def _one_line(text: str) -> str:
    return " ".join(text.split())


def read_password(uri: StoreURI) -> str | None:
    """The deployment's password: the URI's, or the first line of ``password_file``."""
    from urllib.parse import urlsplit

    given = urlsplit(uri.raw).password if "://" in uri.raw else None
    if given:
        return given
    path = uri.options.get("password_file")
    if path:
        try:
            return Path(path).expanduser().read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise StoreUnavailable(f"cannot read the password file {path}: {exc}") from None
    return uri.options.get("password")


def open_replicated(uri: StoreURI) -> ReplicatedStore:
    """The store of a ``falkordb+sentinel://`` URI or of ``falkordb://…?replicas=``."""
    password = read_password(uri)
    locator: Locator
    if uri.protocol == "sentinel":
        locator = SentinelLocator(parse_addresses(uri.options["sentinels"], "Sentinel"),
                                  uri.options["service"], password)
    else:
        assert uri.host is not None and uri.port is not None
        locator = StaticLocator((uri.host, uri.port),
                                parse_addresses(uri.options["replicas"], "replica"))
    return ReplicatedStore(uri, locator, password=password)
