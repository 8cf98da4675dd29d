"""Shared fixtures: one embedded FalkorDB server per test session (started and stopped
here), and a fresh empty graph on it for every test."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from driver_path import bolt_uri, start_bolt_server
from flask.testing import FlaskClient

from triedbefore.graph.embedded import EmbeddedServer
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.store import Store, StoreURI

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
DEMO = Path(__file__).resolve().parents[1] / "ingest" / "demo" / "bundle"


@pytest.fixture(scope="session", autouse=True)
def default_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The default data folder (``TRIEDBEFORE_DATA_DIR``) is a temporary one for the whole
    session, so no test reads or writes the user's own, and an embedded server a test
    started there without meaning to is stopped at the end."""
    folder = tmp_path_factory.mktemp("default-data")
    before = os.environ.get("TRIEDBEFORE_DATA_DIR")
    os.environ["TRIEDBEFORE_DATA_DIR"] = str(folder)
    try:
        yield folder
    finally:
        EmbeddedServer(folder).stop()
        if before is None:
            os.environ.pop("TRIEDBEFORE_DATA_DIR", None)
        else:
            os.environ["TRIEDBEFORE_DATA_DIR"] = before


@pytest.fixture(scope="session", autouse=True)
def kept_vectors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Records' vectors are kept on disk for the session in a temporary file, not in the
    user's cache (a test that counts model runs takes a file of its own)."""
    from triedbefore.graph import embedding

    path = tmp_path_factory.mktemp("kept-vectors") / "vectors.sqlite3"
    embedding.KEPT_FILE = path
    try:
        yield path
    finally:
        embedding.KEPT_FILE = None


@pytest.fixture
def fresh_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty file of kept vectors, and nothing remembered in memory: model runs count."""
    from triedbefore.graph import embedding

    monkeypatch.setattr(embedding, "KEPT_FILE", tmp_path / "kept-vectors.sqlite3")
    embedding._remembered.clear()
    return tmp_path / "kept-vectors.sqlite3"


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(tmp_path_factory.mktemp("store"))
    server.ensure_running()
    try:
        yield server
    finally:
        server.stop()


def _new_graph(server: EmbeddedServer, prefix: str) -> FalkorStore:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    uri = StoreURI("falkordb", f"falkordb+unix://{server.socket_path}?graph={name}",
                   path=server.socket_path, graph=name)
    return FalkorStore(uri, socket_path=server.socket_path)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[EmbeddedServer, FalkorStore]]:
    """A server of its own (for a test that changes its settings or its files), and a
    store of graph ``g`` on it through its ``falkordb+unix://`` address."""
    server = EmbeddedServer(tmp_path / "db")
    server.ensure_running()
    uri = StoreURI("falkordb", f"falkordb+unix://{server.socket_path}?graph=g",
                   path=server.socket_path, graph="g")
    store = FalkorStore(uri, socket_path=server.socket_path)
    try:
        yield server, store
    finally:
        store.close()
        server.stop()


@pytest.fixture
def store(embedded_server: EmbeddedServer) -> Iterator[FalkorStore]:
    """An empty graph of its own on the session's server."""
    s = _new_graph(embedded_server, "t")
    try:
        yield s
    finally:
        s.drop_all()
        s.close()


def _fingerprint(store: FalkorStore) -> tuple[object, ...]:
    """What a write would change: the graph version, and the counts of nodes and links."""
    version = store.read("OPTIONAL MATCH (v:GraphVersion {id: 'graph'}) RETURN v.version AS v")
    nodes = store.read("MATCH (n) RETURN count(n) AS n")
    links = store.read("MATCH ()-[r]->() RETURN count(r) AS n")
    return version[0]["v"], nodes[0]["n"], links[0]["n"]


def _read_only(shared: FalkorStore, name: str) -> Iterator[FalkorStore]:
    """A graph shared by the tests that only read it: one that writes to it fails."""
    before = _fingerprint(shared)
    yield shared
    assert _fingerprint(shared) == before, \
        f"a test wrote to the shared {name} graph: give it a graph of its own (`store`)"


@pytest.fixture(scope="module")
def _module_sample(embedded_server: EmbeddedServer) -> Iterator[FalkorStore]:
    from triedbefore.ingest.pipeline import ingest

    s = _new_graph(embedded_server, "s")
    try:
        assert ingest(s, SAMPLE).exit_code == 0
        yield s
    finally:
        s.drop_all()
        s.close()


@pytest.fixture
def read_sample(_module_sample: FalkorStore) -> Iterator[FalkorStore]:
    """The sample bundle, loaded once per test module and shared by the tests that only
    read it. A test that writes to it fails: use ``store`` and load what it needs."""
    yield from _read_only(_module_sample, "sample")


@pytest.fixture(scope="session")
def _session_demo(embedded_server: EmbeddedServer) -> Iterator[FalkorStore]:
    from triedbefore.ingest.pipeline import ingest

    s = _new_graph(embedded_server, "demo")
    try:
        result = ingest(s, DEMO)
        assert result.errors == [] and result.exit_code == 0, result.errors[:3]
        yield s
    finally:
        s.drop_all()
        s.close()


@pytest.fixture
def read_demo(_session_demo: FalkorStore) -> Iterator[FalkorStore]:
    """The demo corpus (real organisations and evaluations, and illustrative records),
    loaded once per test session and shared by the tests that only read it."""
    yield from _read_only(_session_demo, "demo")


@pytest.fixture
def demo_client(read_demo: FalkorStore) -> FlaskClient:
    """The explorer on the shared demo graph."""
    from triedbefore.web.app import create_app

    return create_app({"TESTING": True, "STORE": read_demo, "SECRET_KEY": "test"}).test_client()


@pytest.fixture
def store_uri(store: FalkorStore) -> str:
    """The URI of ``store``, for the CLI."""
    return store.uri.raw


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled sample."""
    dest = tmp_path / "sample"
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    return dest


# --------------------------------------------------------------------------- #
# The driver path: the official neo4j driver, over Bolt, to FalkorDB's listener
# --------------------------------------------------------------------------- #

@pytest.fixture(scope="session")
def bolt_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedServer,
                                                                             EmbeddedServer]]:
    """Two embedded servers with FalkorDB's Bolt listener: the graph and its public copy
    (one listener serves one graph)."""
    main = start_bolt_server(tmp_path_factory.mktemp("bolt"))
    try:
        public = start_bolt_server(tmp_path_factory.mktemp("bolt-public"))
        try:
            yield main, public
        finally:
            public.stop()
    finally:
        main.stop()


@pytest.fixture
def driver_store(bolt_servers: tuple[EmbeddedServer, EmbeddedServer]) -> Iterator[Store]:
    """The store over the official driver (``bolt+falkordb://``), emptied before and after;
    its graph is the session's one listener graph, so a test has it to itself."""
    from triedbefore.graph.engines import open_store

    s = open_store(bolt_uri(bolt_servers))
    s.drop_all()  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        s.drop_all()  # type: ignore[attr-defined]
        s.close()


@pytest.fixture(params=["embedded", "driver"])
def any_store(request: pytest.FixtureRequest) -> Store:
    """An empty store: the embedded one (FalkorDB's own protocol), then the driver path."""
    store: Store = request.getfixturevalue("store" if request.param == "embedded"
                                           else "driver_store")
    return store


@pytest.fixture(scope="module")
def _driver_sample(bolt_servers: tuple[EmbeddedServer, EmbeddedServer]) -> Iterator[Store]:
    """The sample loaded through the driver path, once per module that asks (the module's
    other tests must not use ``driver_store``: there is one listener graph)."""
    from triedbefore.graph.engines import open_store
    from triedbefore.ingest.pipeline import ingest

    s = open_store(bolt_uri(bolt_servers))
    s.drop_all()  # type: ignore[attr-defined]
    try:
        assert ingest(s, SAMPLE).exit_code == 0
        yield s
    finally:
        s.drop_all()  # type: ignore[attr-defined]
        s.close()


@pytest.fixture
def read_driver_sample(_driver_sample: Store) -> Iterator[Store]:
    """The sample through the driver path, shared read-only like ``read_sample``."""
    before = _fingerprint(_driver_sample)  # type: ignore[arg-type]
    yield _driver_sample
    assert _fingerprint(_driver_sample) == before, \
        "a test wrote to the shared driver-path sample: give it a store of its own"
