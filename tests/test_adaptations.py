"""Design versions, core and adaptable components, FRAME adaptations and site context:
interchange rows (with their row errors), the ontology terms, the RDF export and the
bundle round trip."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import SKOS

from triedbefore.graph.embedded import EmbeddedServer
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.store import StoreURI
from triedbefore.ingest.export import export_bundle, export_rdf
from triedbefore.ingest.pipeline import ingest
from triedbefore.ontology import ONTOLOGY_PATH, SHAPES_PATH
from triedbefore.ontology.rdf import TB, concept_iri, instance_iri, load_ontology
from triedbefore.ontology.vocab import ADAPTATION_SCHEMES, FrameFidelity, FrameWho, Label

DATA = Path(__file__).resolve().parent / "data"
BUNDLE = DATA / "adapt"
BAD = DATA / "adapt_bad"


def _fresh(server: EmbeddedServer) -> FalkorStore:
    name = f"t_{uuid.uuid4().hex[:12]}"
    uri = StoreURI("falkordb", f"falkordb+unix://{server.socket_path}?graph={name}",
                   path=server.socket_path, graph=name)
    return FalkorStore(uri, socket_path=server.socket_path)


def test_bundle_loads_versions_components_adaptations_and_context(store: FalkorStore) -> None:
    result = ingest(store, BUNDLE)
    assert result.exit_code == 0, result.errors[:5]
    assert result.loaded["versions"] == 2
    assert result.loaded["components"] == 3
    assert result.loaded["adaptations"] == 4
    rows = store.read(
        "MATCH (a:Adaptation {id: 'X-A2'})-[:ADAPTS]->(i:Initiative)-[:FOLLOWS]->(v:DesignVersion),"
        " (a)-[:MODIFIES]->(c:Component)-[:COMPONENT_OF]->(s:Solution) "
        "RETURN a.fidelity AS fidelity, a.decided_by AS by, a.reasons AS reasons, i.id AS i,"
        " v.id AS v, c.role AS role, s.id AS s")
    assert rows == [{"fidelity": "inconsistent", "by": ["administrator"],
                     "reasons": ["workforce", "resources"], "i": "X-I2", "v": "X-V1",
                     "role": "core", "s": "X-SOL"}]
    site = store.read("MATCH (s:Site {id: 'X-P1'}) RETURN s.imd_score AS score, "
                      "s.imd_decile AS decile, s.rurality AS rurality, "
                      "s.registered_patients AS patients, s.registered_patients_date AS at")
    assert site == [{"score": 45.2, "decile": 1, "rurality": "urban_city_and_town",
                     "patients": 12000, "at": "2021-01-01"}]


def test_adaptation_row_errors_name_the_column_and_the_allowed_values(
        store: FalkorStore) -> None:
    assert ingest(store, BUNDLE).exit_code == 0
    result = ingest(store, BAD)
    assert result.exit_code == 3
    by_line = {(p.line, p.column): p for p in result.errors}
    fidelity = by_line[(2, "fidelity")]
    assert fidelity.file == "adaptations.csv"
    assert set(fidelity.allowed) == {f.value for f in FrameFidelity}
    assert "neither in the bundle nor in the graph" in by_line[(3, "initiative_id")].reason
    assert set(by_line[(4, "decided_by")].allowed) == {w.value for w in FrameWho}
    assert "neither in the bundle nor in the graph" in by_line[(5, "component_id")].reason
    assert result.loaded["adaptations"] == 1
    assert result.rejected["adaptations"] == 4
    assert store.read("MATCH (a:Adaptation {id: 'X-B5'}) RETURN a.what AS what") == [
        {"what": "context"}]


def test_site_context_values_are_checked() -> None:
    from pydantic import ValidationError

    from triedbefore.ontology.models import SiteRow, explain

    base = {"site_id": "A", "name": "A", "kind": "gp_practice"}
    for column, value in (("imd_decile", "11"), ("imd_decile", "0"), ("rurality", "rural"),
                          ("registered_patients", "-3"), ("registered_patients_date", "2021-13"),
                          ("imd_score", "x")):
        with pytest.raises(ValidationError) as info:
            SiteRow.model_validate(base | {column: value})
        assert [p.column for p in explain(info.value)] == [column], (column, value)
    ok = SiteRow.model_validate(base | {"imd_decile": "10", "rurality": "rural_town_and_fringe"})
    assert ok.node_properties()["rurality"] == "rural_town_and_fringe"


def test_frame_schemes_are_in_the_ontology_with_their_source() -> None:
    graph = load_ontology()
    frame = rdflib.URIRef("https://doi.org/10.1186/s13012-019-0898-y")
    for name, enum in ADAPTATION_SCHEMES.items():
        scheme = TB[name]
        assert (scheme, rdflib.RDF.type, SKOS.ConceptScheme) in graph
        notations = {str(graph.value(c, SKOS.notation))
                     for c in graph.subjects(SKOS.inScheme, scheme)}
        assert notations == {m.value for m in enum}, name
        if name.startswith("Frame"):
            assert graph.value(scheme, rdflib.URIRef("http://purl.org/dc/terms/source")) == frame
    for cls in ("DesignVersion", "Component", "Adaptation"):
        assert graph.value(TB[cls], TB.graphLabel) == rdflib.Literal(cls)


@pytest.mark.parametrize("fmt", ["turtle", "jsonld"])
def test_rdf_export_of_adaptations_conforms(store: FalkorStore, tmp_path: Path,
                                            fmt: str) -> None:
    from pyshacl import validate

    assert ingest(store, BUNDLE).exit_code == 0
    path = export_rdf(store, tmp_path, fmt)
    data = rdflib.Graph().parse(path, format="json-ld" if fmt == "jsonld" else "turtle")
    a2 = instance_iri(Label.ADAPTATION, "X-A2")
    assert (a2, TB.fidelity, concept_iri("FrameFidelity", "inconsistent")) in data
    assert (a2, TB.adapts, instance_iri(Label.INITIATIVE, "X-I2")) in data
    assert (a2, TB.modifies, instance_iri(Label.COMPONENT, "X-C-ROUND")) in data
    assert set(data.objects(a2, TB.modificationReason)) == {
        concept_iri("FrameReason", "workforce"), concept_iri("FrameReason", "resources")}
    assert (instance_iri(Label.COMPONENT, "X-C-ROUND"), TB.inVersion,
            instance_iri(Label.DESIGN_VERSION, "X-V2")) in data
    assert (instance_iri(Label.INITIATIVE, "X-I1"), TB.follows,
            instance_iri(Label.DESIGN_VERSION, "X-V2")) in data
    assert (instance_iri(Label.SITE, "X-P1"), TB.rurality,
            concept_iri("Rurality", "urban_city_and_town")) in data
    conforms, _graph, text = validate(
        data, shacl_graph=rdflib.Graph().parse(SHAPES_PATH),
        ont_graph=rdflib.Graph().parse(ONTOLOGY_PATH), inference="rdfs")
    assert conforms, text[:3000]
    # an unknown FRAME value fails the shapes
    data.add((a2, TB.planned, concept_iri("FramePlanned", "whenever")))
    conforms, _graph, text = validate(
        data, shacl_graph=rdflib.Graph().parse(SHAPES_PATH),
        ont_graph=rdflib.Graph().parse(ONTOLOGY_PATH), inference="rdfs")
    assert not conforms and "Adaptation-planned" in text


def _table(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_bundle_round_trip_keeps_adaptations(store: FalkorStore,
                                             embedded_server: EmbeddedServer,
                                             tmp_path: Path) -> None:
    first = ingest(store, BUNDLE)
    assert first.exit_code == 0
    counts = export_bundle(store, tmp_path / "a")
    assert counts["adaptations.csv"] == 4 and counts["versions.csv"] == 2
    assert counts["components.csv"] == 3
    other = _fresh(embedded_server)
    try:
        again = ingest(other, tmp_path / "a")
        assert again.exit_code == 0, again.errors[:5]
        assert again.loaded == first.loaded
        export_bundle(other, tmp_path / "b")
    finally:
        other.drop_all()
        other.close()
    for name in ("sites.csv", "initiatives.csv", "versions.csv", "components.csv",
                 "adaptations.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    rows = {r["adaptation_id"]: r for r in _table(tmp_path / "a" / "adaptations.csv")}
    assert rows["X-A1"]["decided_by"] == "delivery_team|practitioner"
    assert rows["X-A1"]["component_id"] == "X-C-WHO"
    inits = {r["initiative_id"]: r for r in _table(tmp_path / "a" / "initiatives.csv")}
    assert inits["X-I1"]["version_id"] == "X-V2"


def test_graph_without_adaptations_exports_the_five_files(store: FalkorStore,
                                                         tmp_path: Path) -> None:
    ingest(store, Path(__file__).resolve().parents[1] / "ingest" / "sample")
    counts = export_bundle(store, tmp_path)
    assert set(counts) == {"sites.csv", "solutions.csv", "initiatives.csv", "outcomes.csv",
                           "evaluations.csv"}
    assert not (tmp_path / "adaptations.csv").exists()


def test_a_restricted_adaptation_stays_out_of_the_public_copy(store: FalkorStore,
                                                              tmp_path: Path) -> None:
    assert ingest(store, BUNDLE).exit_code == 0
    (tmp_path / "adaptations.csv").write_text(
        "adaptation_id,initiative_id,what,fidelity,description,visibility\n"
        "X-R1,X-I1,content,consistent,Not for the public.,restricted\n"
        "X-R2,X-I1,context,unknown,For everyone.,\n", encoding="utf-8")
    assert ingest(store, tmp_path).exit_code == 0
    copy = store.public_copy()
    seen = copy.read("MATCH (a:Adaptation) WHERE a.id IN ['X-R1', 'X-R2'] RETURN a.id AS id")
    assert seen == [{"id": "X-R2"}]
    assert len(store.read("MATCH (a:Adaptation) WHERE a.id IN ['X-R1', 'X-R2'] "
                          "RETURN a.id AS id")) == 2
