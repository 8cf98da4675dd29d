"""The statements a first load sends: no stored digests read for labels the graph does not
hold yet, and a new row's digest written with its node when its links are written in the
same batch; a run stopped between the node and its links is completed by the next."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from triedbefore.graph import queries
from triedbefore.graph.embedded import EmbeddedServer
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.store import Params, Row, Store, StoreURI, WrappedStore, WriteSummary
from triedbefore.ingest.pipeline import ingest
from triedbefore.ontology.vocab import Label, Link

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"


class Counting(WrappedStore):
    """Counts the statements sent; with ``stop_at``, stops (as a killed process would)
    when that statement is sent the first time."""

    def __init__(self, main: Store, stop_at: str | None = None) -> None:
        super().__init__(main)
        self.sent: Counter[str] = Counter()
        self.stop_at = stop_at

    def _note(self, query: str) -> None:
        self.sent[query] += 1
        if query == self.stop_at:
            raise KeyboardInterrupt("stopped")

    def read(self, query: str, params: Params | None = None, *,
             timeout_ms: int | None = None) -> list[Row]:
        self._note(query)
        return self.main.read(query, params, timeout_ms=timeout_ms)

    def write(self, query: str, params: Params | None = None) -> tuple[list[Row], WriteSummary]:
        self._note(query)
        return self.main.write(query, params)


@pytest.fixture
def clean(embedded_server: EmbeddedServer) -> Iterator[FalkorStore]:
    name = f"clean_{uuid.uuid4().hex[:12]}"
    s = FalkorStore(StoreURI("falkordb", f"falkordb+unix://{embedded_server.socket_path}"
                             f"?graph={name}", path=embedded_server.socket_path, graph=name),
                    socket_path=embedded_server.socket_path)
    try:
        yield s
    finally:
        s.drop_all()
        s.close()


def snapshot(store: Store) -> tuple[dict[object, object], set[tuple[object, ...]]]:
    """Nodes (their properties but the run that wrote them) and relationships."""
    nodes = {(r["l"], r["p"]["id"]): {k: v for k, v in r["p"].items() if k != "run_id"}
             for r in store.read("MATCH (n) WHERE NOT n:IngestRun AND NOT n:VerdictChange "
                                 "AND NOT n:GraphVersion RETURN labels(n)[0] AS l, "
                                 "n {.*} AS p")}
    links = {(r["a"], r["t"], r["b"]) for r in store.read(
        "MATCH (a)-[e]->(b) RETURN a.id AS a, type(e) AS t, b.id AS b")}
    return nodes, links


def test_a_first_load_reads_no_digests_and_writes_them_with_the_nodes(
        store: FalkorStore) -> None:
    counting = Counting(store)
    assert ingest(counting, SAMPLE).exit_code == 0
    for label in Label:
        assert counting.sent[queries.existing_hashes(label)] == 0, label
    # initiatives have links of their own batch and deferred ones (learned from)
    assert counting.sent[queries.create_nodes_hashed(Label.INITIATIVE)] >= 1
    learned = {r["id"] for r in store.read(
        "MATCH (i:Initiative)-[:LEARNED_FROM]->() RETURN DISTINCT i.id AS id")}
    assert learned  # the sample has some: their digests are written after those links
    assert counting.sent[queries.set_row_hashes(Label.INITIATIVE)] >= 1
    # every row has its digest, and the public copy none
    assert store.read("MATCH (n:Initiative) WHERE n.row_hash IS NULL RETURN count(n) AS n"
                      ) == [{"n": 0}]
    assert store.public_copy().read("MATCH (n) WHERE n.row_hash IS NOT NULL "
                                    "RETURN count(n) AS n") == [{"n": 0}]
    # a second load of the same rows reads the digests and writes nothing
    again = Counting(store)
    assert sum(ingest(again, SAMPLE).written.values()) == 0
    assert again.sent[queries.existing_hashes(Label.INITIATIVE)] >= 1


@pytest.mark.parametrize("link", [Link.INITIATIVE_SOLUTION, Link.OUTCOME_INITIATIVE])
def test_a_run_stopped_before_the_links_of_rows_made_with_their_digest(
        store: FalkorStore, clean: FalkorStore, link: Link) -> None:
    """The rows were created with their digest, their links never written: the next run
    does not trust digests written by a run that did not complete, and writes them."""
    stopping = Counting(store, stop_at=queries.create_links(link))
    with pytest.raises(KeyboardInterrupt):
        ingest(stopping, SAMPLE)
    assert stopping.sent[queries.create_nodes_hashed(link.owner)] >= 1
    assert ingest(store, SAMPLE).exit_code == 0
    assert ingest(clean, SAMPLE).exit_code == 0
    assert snapshot(store) == snapshot(clean)
    assert snapshot(store.public_copy()) == snapshot(clean.public_copy())
