"""The store and ingest behaviour against a real Neo4j 5 server.

Runs when ``NEO4J_URI`` is set (with ``NEO4J_USERNAME``/``NEO4J_PASSWORD``; the database
is emptied first, so point it at a scratch database), and is skipped with that reason
otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from triedbefore.graph.engines import open_store
from triedbefore.graph.neo4j_store import Neo4jStore
from triedbefore.ingest.export import export_bundle
from triedbefore.ingest.pipeline import ingest

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"

pytestmark = [
    pytest.mark.neo4j,
    pytest.mark.skipif(not os.environ.get("NEO4J_URI"),
                       reason="NEO4J_URI is not set: no Neo4j server configured"),
]


@pytest.fixture
def neo4j_store() -> Iterator[Neo4jStore]:
    store = open_store(os.environ["NEO4J_URI"])
    assert isinstance(store, Neo4jStore)
    store.drop_all()
    try:
        yield store
    finally:
        store.drop_all()
        store.close()


def test_schema_is_idempotent(neo4j_store: Neo4jStore) -> None:
    neo4j_store.ensure_schema()
    neo4j_store.ensure_schema()
    names = {r["name"] for r in neo4j_store.read("SHOW CONSTRAINTS YIELD name RETURN name")}
    assert "tb_site_id" in names


def test_ingest_reload_and_round_trip(neo4j_store: Neo4jStore, tmp_path: Path) -> None:
    first = ingest(neo4j_store, SAMPLE)
    assert first.exit_code == 0, first.errors[:5]
    second = ingest(neo4j_store, SAMPLE)
    assert sum(second.written.values()) == 0
    export_bundle(neo4j_store, tmp_path / "a")
    neo4j_store.drop_all()
    assert ingest(neo4j_store, tmp_path / "a").exit_code == 0
    export_bundle(neo4j_store, tmp_path / "b")
    for name in ("sites.csv", "initiatives.csv", "evaluations.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_bad_rows_are_reported_and_good_rows_load(neo4j_store: Neo4jStore, tmp_path: Path
                                                  ) -> None:
    (tmp_path / "sites.csv").write_text("site_id,name,kind\nA1,Alpha,trust\nA2,Beta,castle\n")
    result = ingest(neo4j_store, tmp_path)
    assert [(e.file, e.line, e.column) for e in result.errors] == [("sites.csv", 3, "kind")]
    assert neo4j_store.read("MATCH (s:Site) RETURN count(s) AS n")[0]["n"] == 1
