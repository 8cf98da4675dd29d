"""The store and ingest behaviour over the official driver: against a real Neo4j 5 server
when ``NEO4J_URI`` is set (with ``NEO4J_USERNAME``/``NEO4J_PASSWORD``; the database is
emptied first, so point it at a scratch database; skipped with that reason otherwise), and
always against FalkorDB's Bolt listener (``bolt+falkordb://``, the session's
``driver_store``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from triedbefore.graph.engines import open_store
from triedbefore.graph.neo4j_store import BoltStore, FalkorBoltStore, Neo4jStore
from triedbefore.ingest.export import export_bundle
from triedbefore.ingest.pipeline import ingest

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"

needs_neo4j = pytest.mark.skipif(not os.environ.get("NEO4J_URI"),
                                 reason="NEO4J_URI is not set: no Neo4j server configured")


@pytest.fixture(params=[pytest.param("neo4j", marks=[pytest.mark.neo4j, needs_neo4j]),
                        "driver"])
def neo4j_store(request: pytest.FixtureRequest) -> Iterator[BoltStore]:
    """A Neo4j server (``NEO4J_URI``), then FalkorDB's Bolt listener: both through the
    official driver."""
    if request.param == "driver":
        yield request.getfixturevalue("driver_store")
        return
    store = open_store(os.environ["NEO4J_URI"])
    assert isinstance(store, Neo4jStore)
    store.drop_all()
    try:
        yield store
    finally:
        store.drop_all()
        store.close()


def test_schema_is_idempotent(neo4j_store: BoltStore) -> None:
    neo4j_store.ensure_schema()
    if isinstance(neo4j_store, FalkorBoltStore):  # no SHOW, no constraints: the indexes
        indexes = neo4j_store.read(neo4j_store.dialect.index_list())
        neo4j_store.ensure_schema()
        assert neo4j_store.read(neo4j_store.dialect.index_list()) == indexes
        assert {r["label"] for r in indexes} >= {"Site", "Solution", "Initiative"}
        return
    neo4j_store.ensure_schema()
    names = {r["name"] for r in neo4j_store.read("SHOW CONSTRAINTS YIELD name RETURN name")}
    assert "tb_site_id" in names


def test_ingest_reload_and_round_trip(neo4j_store: BoltStore, tmp_path: Path) -> None:
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


def test_bad_rows_are_reported_and_good_rows_load(neo4j_store: BoltStore, tmp_path: Path
                                                  ) -> None:
    (tmp_path / "sites.csv").write_text("site_id,name,kind\nA1,Alpha,trust\nA2,Beta,castle\n")
    result = ingest(neo4j_store, tmp_path)
    assert [(e.file, e.line, e.column) for e in result.errors] == [("sites.csv", 3, "kind")]
    assert neo4j_store.read("MATCH (s:Site) RETURN count(s) AS n")[0]["n"] == 1
