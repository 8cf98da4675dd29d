"""Export: the interchange round trip, and RDF validated against the SHACL shapes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import rdflib

from triedbefore.graph.embedded import EmbeddedServer
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.store import Store, StoreURI
from triedbefore.ingest.export import export_bundle, export_rdf
from triedbefore.ingest.pipeline import ingest
from triedbefore.ontology import ONTOLOGY_PATH, SHAPES_PATH

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"



def _fresh(server: EmbeddedServer) -> FalkorStore:
    name = f"t_{uuid.uuid4().hex[:12]}"
    uri = StoreURI("falkordb", f"falkordb+unix://{server.socket_path}?graph={name}",
                   path=server.socket_path, graph=name)
    return FalkorStore(uri, socket_path=server.socket_path)


def test_round_trip_gives_identical_files(any_store: Store, embedded_server: EmbeddedServer,
                                          tmp_path: Path) -> None:
    """On the embedded store and through the official driver (``bolt+falkordb://``)."""
    first = ingest(any_store, SAMPLE)
    assert first.exit_code == 0, first.errors[:5]
    export_bundle(any_store, tmp_path / "a")
    if any_store.uri.protocol == "bolt":  # one graph per listener: emptied, then reloaded
        any_store.drop_all()  # type: ignore[attr-defined]
        other: Store = any_store
    else:
        other = _fresh(embedded_server)
    try:
        again = ingest(other, tmp_path / "a")
        assert again.exit_code == 0, again.errors[:5]
        assert again.loaded == first.loaded
        export_bundle(other, tmp_path / "b")
    finally:
        if other is not any_store:
            other.drop_all()  # type: ignore[attr-defined]
            other.close()
    for name in ("sites.csv", "solutions.csv", "initiatives.csv", "outcomes.csv",
                 "evaluations.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    # and the export holds every row that was loaded
    rows = len((tmp_path / "a" / "initiatives.csv").read_text().splitlines()) - 1
    assert rows >= first.loaded["initiatives"]


@pytest.mark.parametrize("fmt", ["turtle", "jsonld"])
def test_rdf_export_conforms_to_the_shapes(store: FalkorStore, tmp_path: Path, fmt: str) -> None:
    from pyshacl import validate

    result = ingest(store, SAMPLE)
    path = export_rdf(store, tmp_path, fmt)
    data = rdflib.Graph().parse(path, format="json-ld" if fmt == "jsonld" else "turtle")
    tb = rdflib.Namespace("https://w3id.org/triedbefore/ontology#")
    initiatives = set(data.subjects(rdflib.RDF.type, tb.Initiative))
    assert len(initiatives) == result.loaded["initiatives"]
    conforms, _graph, text = validate(
        data, shacl_graph=rdflib.Graph().parse(SHAPES_PATH),
        ont_graph=rdflib.Graph().parse(ONTOLOGY_PATH), inference="rdfs")
    assert conforms, text[:3000]
