"""The ontology, its SHACL shapes and the RDF export."""

from __future__ import annotations

import copy
import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
import rdflib
from rdflib import OWL, RDF, RDFS, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, PROV, SKOS

from triedbefore.ontology import SHAPES_PATH, OntologyError, vocab
from triedbefore.ontology.rdf import (
    TB,
    TBI,
    NodeRecord,
    RelRecord,
    build_rdf,
    concept_iri,
    instance_iri,
    load_ontology,
    write_rdf,
)
from triedbefore.ontology.vocab import Design, Label, Rel

pyshacl = pytest.importorskip("pyshacl")

SH = Namespace("http://www.w3.org/ns/shacl#")
XSD = Namespace(str(rdflib.XSD))  # a plain Namespace: pytest probes module attributes
TBSH = Namespace("https://w3id.org/triedbefore/shapes#")
ONTOLOGY_IRI = URIRef("https://w3id.org/triedbefore/ontology")
REPO = Path(__file__).resolve().parents[1]
DATA_MODEL = REPO / "docs" / "data-model.md"
TAXONOMIES = REPO / "tests" / "data" / "taxonomies"  # copied from shared/data/taxonomies

RUN = "run-2024-05-01T09-00-00Z"
RUN_2 = "run-2024-06-03T14-30-00Z"


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return load_ontology()


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return Graph().parse(SHAPES_PATH, format="turtle")


# ---------------------------------------------------------------------------
# (a) The ontology and the Python vocabularies agree
# ---------------------------------------------------------------------------


def test_ontology_header(ontology: Graph) -> None:
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in ontology
    for prop in (DCTERMS.title, DCTERMS.description, OWL.versionInfo, DCTERMS.license):
        assert ontology.value(ONTOLOGY_IRI, prop) is not None, prop


@pytest.mark.parametrize("scheme", sorted(vocab.CONCEPT_SCHEMES))
def test_concept_scheme_equals_enum(ontology: Graph, scheme: str) -> None:
    enum = vocab.CONCEPT_SCHEMES[scheme]
    concepts = set(ontology.subjects(SKOS.inScheme, TB[scheme]))
    notations = {str(ontology.value(concept, SKOS.notation)) for concept in concepts}
    assert (TB[scheme], RDF.type, SKOS.ConceptScheme) in ontology
    assert notations == {member.value for member in enum}
    assert len(notations) == len(concepts)
    for concept in concepts:
        notation = str(ontology.value(concept, SKOS.notation))
        assert concept == concept_iri(scheme, notation)
        # one English label, at most one per other language (SKOS's integrity condition)
        tags = [getattr(label, "language", None)
                for label in ontology.objects(concept, SKOS.prefLabel)]
        assert tags.count("en") == 1 and len(tags) == len(set(tags)), (concept, tags)
        assert ontology.value(concept, SKOS.definition) is not None


def test_concept_labels_by_language() -> None:
    """A Welsh label where the ontology has one, the English one where it has none."""
    from triedbefore.ontology.rdf import concept_labels

    english, welsh = concept_labels("SiteKind"), concept_labels("SiteKind", "cy")
    assert english["care_home"] == "Care home" and welsh["care_home"] == "Cartref gofal"
    assert set(welsh) == set(english) and all(welsh[k] != english[k] for k in english
                                              if k != "ward")
    assert concept_labels("Design", "cy") == concept_labels("Design")  # none in Welsh yet
    assert concept_labels("InterventionType", "cy")["delivery_arrangements"] == \
        "Trefniadau darparu"


def test_no_scheme_outside_vocab(ontology: Graph) -> None:
    schemes = {str(s) for s in ontology.subjects(RDF.type, SKOS.ConceptScheme)}
    # tb:SmsScale documents the values of tb:smsLevel; no column stores its notations.
    assert schemes == {str(TB[name]) for name in vocab.CONCEPT_SCHEMES} | {str(TB.SmsScale)}


def test_labels_equal_graph_labels(ontology: Graph) -> None:
    labels = {str(name) for name in ontology.objects(None, TB.graphLabel)}
    assert labels == {label.value for label in Label}
    for cls, name in ontology.subject_objects(TB.graphLabel):
        parent = PROV.Activity if str(name) == Label.INGEST_RUN else PROV.Entity
        assert (cls, RDFS.subClassOf, parent) in ontology
        assert ontology.value(cls, RDFS.label) is not None
        assert ontology.value(cls, RDFS.comment) is not None


def test_rels_equal_graph_types(ontology: Graph) -> None:
    types = {str(name) for name in ontology.objects(None, TB.graphType)}
    assert types == {rel.value for rel in Rel}
    for prop in ontology.subjects(TB.graphType, None):
        assert (prop, RDF.type, OWL.ObjectProperty) in ontology
        assert ontology.value(prop, RDFS.domain) is not None
        assert ontology.value(prop, RDFS.range) is not None


def test_design_sms_levels(ontology: Graph) -> None:
    for design in Design:
        level = ontology.value(concept_iri("Design", design.value), TB.smsLevel)
        assert (level.toPython() if level is not None else None) == vocab.DESIGN_SMS_LEVEL[design]
    note = str(ontology.value(concept_iri("Design", "systematic_review"), SKOS.scopeNote))
    assert "level 5" in note and "level 3" in note and "critically_low" in note


def _columns_of(ontology: Graph, cls: URIRef) -> set[str]:
    query = f"""
        SELECT DISTINCT ?name WHERE {{
            ?prop tb:column ?name ; rdfs:domain/(owl:unionOf/rdf:rest*/rdf:first)? ?covered .
            {cls.n3()} rdfs:subClassOf* ?covered .
        }}"""
    rows = ontology.query(query, initNs={"tb": TB, "rdfs": RDFS, "owl": OWL, "rdf": RDF})
    return {str(row[0]) for row in rows}  # type: ignore[index]


def _data_model_tables() -> tuple[dict[str, set[str]], dict[str, tuple[str, set[str]]]]:
    if not DATA_MODEL.exists():
        pytest.skip("docs/data-model.md is not here")
    nodes: dict[str, set[str]] = {}
    rels: dict[str, tuple[str, set[str]]] = {}
    for line in DATA_MODEL.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        name = cells[0].strip("`")
        if name in {label.value for label in Label}:
            props = re.sub(r"\([^)]*\)", "", cells[3])
            nodes[name] = {p.strip() for p in props.split(",") if p.strip()}
        elif name in {rel.value for rel in Rel}:
            source, targets = (part.strip() for part in cells[1].split("→"))
            rels[name] = (source, {t.strip() for t in targets.split(" or ")})
    return nodes, rels


def test_data_model_columns_are_in_the_ontology(ontology: Graph) -> None:
    nodes, _ = _data_model_tables()
    assert set(nodes) == {label.value for label in Label}
    classes = {str(name): cls for cls, name in ontology.subject_objects(TB.graphLabel)}
    for label, columns in nodes.items():
        assert _columns_of(ontology, classes[label]) == columns | {"id"}, label


def test_data_model_relationships_are_in_the_ontology(ontology: Graph) -> None:
    _, rels = _data_model_tables()
    assert set(rels) == {rel.value for rel in Rel}
    labels = {cls: str(name) for cls, name in ontology.subject_objects(TB.graphLabel)}
    for prop, name in ontology.subject_objects(TB.graphType):
        domain = ontology.value(prop, RDFS.domain)
        rng = ontology.value(prop, RDFS.range)
        union = ontology.value(rng, OWL.unionOf)
        targets = (
            {labels[m] for m in ontology.items(union)} if union is not None else {labels[rng]}
        )
        assert (labels[domain], targets) == rels[str(name)], name


def test_definitions_quoted_from_taxonomies(ontology: Graph) -> None:
    with (TAXONOMIES / "epoc_taxonomy_partial.csv").open(encoding="utf-8") as f:
        epoc = [row for row in csv.DictReader(f) if not row["category"]]
    assert len(epoc) == 4
    for row in epoc:
        concept = concept_iri("InterventionType", row["domain"].lower().replace(" ", "_"))
        assert str(ontology.value(concept, SKOS.definition)) == row["definition_verbatim"]
        assert ontology.value(concept, DCTERMS.source) is not None
    with (TAXONOMIES / "maryland_sms.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            concept = concept_iri("SmsScale", row["sms_level"])
            assert ontology.value(concept, TB.smsLevel) == Literal(int(row["sms_level"]))
            if row["definition_verbatim"]:
                assert str(ontology.value(concept, SKOS.definition)) == row["definition_verbatim"]
                assert ontology.value(concept, DCTERMS.source) == URIRef(row["definition_source"])


def test_shapes_enumerations_equal_schemes(ontology: Graph, shapes: Graph) -> None:
    for prop, scheme in ontology.subject_objects(TB.valueScheme):
        concepts = set(ontology.subjects(SKOS.inScheme, scheme))
        lists = [shapes.value(shape, SH["in"]) for shape in shapes.subjects(SH.path, prop)]
        assert lists, f"no shape checks {prop}"
        for members in lists:
            assert set(shapes.items(members)) == concepts, prop


def test_ontology_conforms_to_concept_shapes(ontology: Graph, shapes: Graph) -> None:
    conforms, _, text = pyshacl.validate(ontology, shacl_graph=shapes)
    assert conforms, text


# ---------------------------------------------------------------------------
# (b) The export of a realistic graph conforms and round-trips
# ---------------------------------------------------------------------------


def _records() -> tuple[list[NodeRecord], list[RelRecord]]:
    sha = "9f2c1d7e" * 8
    nodes: list[NodeRecord] = [
        (Label.INGEST_RUN, {
            "id": RUN, "source": "bundles/care-homes-2024.zip",
            "started_at": "2024-05-01T09:00:00+00:00", "ended_at": "2024-05-01T09:00:07+00:00",
            "status": "completed", "checksums": [f"sites.csv:{sha}", f"initiatives.csv:{sha}"],
            "counts_json": json.dumps({"sites.csv": {"loaded": 3}}), "errors_count": 0,
            "warnings_count": 1, "report_path": "reports/run-2024-05-01.json",
        }),
        (Label.INGEST_RUN, {
            "id": RUN_2, "source": "bundles/resolution", "started_at": "2024-06-03T14:30:00Z",
            "status": "running",
        }),
        (Label.SITE, {
            "id": "QKK", "run_id": RUN, "row_hash": "ab12", "name": "NHS South East London ICB",
            "kind": "icb", "region": "London",
        }),
        (Label.SITE, {
            "id": "RJ1", "run_id": RUN, "row_hash": "cd34",
            "name": "Guy's and St Thomas' NHS Foundation Trust", "kind": "trust",
            "postcode": "SE1 9RT", "region": "London", "lat": 51.4989, "lon": -0.1183,
            "x_ods_status": "active",
        }),
        (Label.SITE, {
            "id": "CH/0001", "run_id": RUN, "name": "Riverside Care Home", "kind": "care_home",
            "lat": 51, "lon": 0,
        }),
        (Label.SOLUTION, {
            "id": "S-EHCH", "run_id": RUN, "row_hash": "ef56",
            "name": "Enhanced Health in Care Homes", "aliases": ["EHCH", "Care home MDT"],
            "aliases_text": "EHCH Care home MDT",
            "description": "Multidisciplinary in-reach support to care homes.",
            "intervention_type": "delivery_arrangements", "technology": False,
            "problem": "Avoidable emergency admissions from care homes",
            "tags": ["care homes", "admissions"], "tags_text": "care homes admissions",
        }),
        (Label.INITIATIVE, {
            "id": "I-001", "run_id": RUN, "title": "Care home vanguard MDT",
            "start_date": "2016-04", "start_date_lo": 16892, "start_date_hi": 16921,
            "end_date": "2018-03-31", "status": "completed", "funder": "NHS England",
            "cost_gbp": 250000, "source_url": "https://example.org/vanguard",
            "visibility": "public",
        }),
        (Label.INITIATIVE, {
            "id": "I-002", "run_id": RUN, "title": "Care home in-reach team",
            "description": "GP-led weekly ward rounds in care homes.", "start_date": "2021",
            "status": "active", "visibility": "restricted",
        }),
        (Label.OUTCOME, {
            "id": "O-001", "run_id": RUN,
            "measure": "Emergency admissions from care homes per 1,000 residents",
            "domain": "effective", "baseline": 12.4, "value": 10.1, "unit": "per 1,000 residents",
            "direction": "improved", "period_start": "2016-04-01", "period_end": "2018-03",
        }),
        (Label.EVALUATION, {
            "id": "E-001", "run_id": RUN, "title": "Evaluation of the care home vanguard",
            "design": "difference_in_differences", "finding": "no_effect",
            "published_date": "2019-06-14", "published_date_hi": 18061, "independent": True,
            "sample_size": 120, "evaluator": "Improvement Analytics Unit",
            "doi": "10.5555/tb.e001", "url": "https://example.org/e-001",
        }),
        (Label.EVALUATION, {
            "id": "E-002", "run_id": RUN, "title": "Care home support: a systematic review",
            "design": "systematic_review", "review_quality": "moderate", "sms_level": 4,
            "finding": "mixed", "published_date": "2020",
        }),
    ]
    rels: list[RelRecord] = [
        (Rel.PART_OF, "RJ1", "QKK", {"run_id": RUN}),
        (Rel.PART_OF, "CH/0001", "QKK", {"run_id": RUN}),
        (Rel.IMPLEMENTS, "I-001", "S-EHCH", {"run_id": RUN, "how": "declared"}),
        (Rel.IMPLEMENTS, "I-002", "S-EHCH", {"run_id": RUN_2, "how": "inferred", "score": 0.87}),
        (Rel.TRIED_AT, "I-001", "CH/0001", {"run_id": RUN}),
        (Rel.TRIED_AT, "I-002", "RJ1", {"run_id": RUN}),
        (Rel.LEARNED_FROM, "I-002", "E-001", {"run_id": RUN, "to_label": "Evaluation"}),
        (Rel.LEARNED_FROM, "I-002", "I-001", {"run_id": RUN}),
        (Rel.HAS_OUTCOME, "I-001", "O-001", {"run_id": RUN}),
        (Rel.EVALUATED, "E-001", "I-001", {"run_id": RUN}),
        (Rel.EVALUATED, "E-002", "I-001", {"run_id": RUN}),
        (Rel.REPORTS, "E-001", "O-001", {"run_id": RUN}),
    ]
    return nodes, rels


def _validate(graph: Graph, ontology: Graph, shapes: Graph) -> tuple[bool, Graph, str]:
    conforms, report, text = pyshacl.validate(
        graph, shacl_graph=shapes, ont_graph=ontology, inference="rdfs"
    )
    return conforms, report, text


def _results(report: Graph) -> set[tuple[Any, Any, Any, Any]]:
    """(source shape, path, constraint component, focus node) of each validation result."""
    return {
        (
            report.value(result, SH.sourceShape),
            report.value(result, SH.resultPath),
            report.value(result, SH.sourceConstraintComponent),
            report.value(result, SH.focusNode),
        )
        for result in report.subjects(RDF.type, SH.ValidationResult)
    }


def test_export_conforms(ontology: Graph, shapes: Graph) -> None:
    conforms, _, text = _validate(build_rdf(*_records()), ontology, shapes)
    assert conforms, text


def test_export_content() -> None:
    graph = build_rdf(*_records())
    rj1 = instance_iri(Label.SITE, "RJ1")
    care_home = instance_iri(Label.SITE, "CH/0001")
    run = instance_iri(Label.INGEST_RUN, RUN)
    assert care_home == URIRef(f"{TBI}site/CH%2F0001")
    assert run == URIRef(f"{TBI}run/{RUN}")

    assert (rj1, RDF.type, TB.Site) in graph
    assert (rj1, RDFS.label, Literal("Guy's and St Thomas' NHS Foundation Trust")) in graph
    assert (rj1, TB.kind, URIRef("https://w3id.org/triedbefore/vocab/site_kind/trust")) in graph
    assert (rj1, TB.partOf, instance_iri(Label.SITE, "QKK")) in graph
    assert (rj1, TB.lat, Literal(51.4989, datatype=XSD.double)) in graph
    assert (rj1, TB.extra, Literal("ods_status=active")) in graph
    assert (rj1, PROV.wasGeneratedBy, run) in graph
    assert (care_home, TB.lat, Literal(51.0, datatype=XSD.double)) in graph

    assert (run, RDF.type, PROV.Activity) in graph and (run, RDF.type, TB.IngestRun) in graph
    assert (run, TB.runStatus, Literal("completed")) in graph
    assert graph.value(run, PROV.startedAtTime).datatype == XSD.dateTime
    assert len(set(graph.objects(run, TB.checksums))) == 2

    solution = instance_iri(Label.SOLUTION, "S-EHCH")
    assert set(graph.objects(solution, TB.aliases)) == {Literal("EHCH"), Literal("Care home MDT")}
    assert (solution, TB.technology, Literal(False)) in graph

    i1 = instance_iri(Label.INITIATIVE, "I-001")
    i2 = instance_iri(Label.INITIATIVE, "I-002")
    assert (i1, TB.startDate, Literal("2016-04", datatype=XSD.gYearMonth)) in graph
    assert (i1, TB.endDate, Literal("2018-03-31", datatype=XSD.date)) in graph
    assert (i2, TB.startDate, Literal("2021", datatype=XSD.gYear)) in graph
    assert (i1, TB.costGbp, Literal(250000.0, datatype=XSD.double)) in graph
    assert (i2, TB.learnedFrom, instance_iri(Label.EVALUATION, "E-001")) in graph
    assert (i2, TB.learnedFrom, i1) in graph  # target label resolved from the exported nodes

    link = graph.value(i2, TB.qualifiedImplementation)
    assert graph.value(link, TB.implementedSolution) == solution
    assert graph.value(link, TB.implementationKind) == Literal("inferred")
    assert graph.value(link, TB.score) == Literal(0.87, datatype=XSD.double)
    assert graph.value(link, PROV.wasGeneratedBy) == instance_iri(Label.INGEST_RUN, RUN_2)

    e2 = instance_iri(Label.EVALUATION, "E-002")
    assert (e2, TB.smsLevel, Literal(4, datatype=XSD.integer)) in graph
    assert (e2, TB.design, concept_iri("Design", "systematic_review")) in graph

    predicates = {str(p) for p in graph.predicates()}
    assert not any(re.search(r"(row_hash|_lo|_hi|_text|rowHash)$", p) for p in predicates)


def test_round_trip(tmp_path: Path) -> None:
    graph = build_rdf(*_records())
    turtle = write_rdf(graph, tmp_path, "turtle")
    jsonld = write_rdf(graph, tmp_path, "jsonld")
    assert (turtle.name, jsonld.name) == ("triedbefore.ttl", "triedbefore.jsonld")
    assert isomorphic(graph, Graph().parse(turtle, format="turtle"))
    assert isomorphic(graph, Graph().parse(jsonld, format="json-ld"))
    document = json.loads(jsonld.read_text(encoding="utf-8"))
    assert {"tb", "tbv", "tbi", "prov"} <= set(document["@context"])
    assert "tb:name" in jsonld.read_text(encoding="utf-8")
    with pytest.raises(OntologyError, match="unknown RDF format"):
        write_rdf(graph, tmp_path, "rdfxml")


def test_iris() -> None:
    assert concept_iri("SiteKind", "gp_practice") == URIRef(
        "https://w3id.org/triedbefore/vocab/site_kind/gp_practice"
    )
    assert concept_iri("site_kind", "gp_practice") == concept_iri("SiteKind", "gp_practice")
    assert instance_iri("Initiative", "I 1/a") == URIRef(f"{TBI}initiative/I%201%2Fa")
    with pytest.raises(OntologyError):
        concept_iri("Colour", "red")


def test_properties_outside_the_ontology_are_skipped_and_named(
        caplog: pytest.LogCaptureFixture) -> None:
    site = {"id": "RJ1", "name": "A", "kind": "trust", "colour": "red", "row_hash": "ab"}
    evaluation = {"id": "E-1", "title": "T", "design": "rct", "finding": "positive",
                  "published_date": "2020", "sms_effective": 5}
    with caplog.at_level("WARNING", logger="triedbefore.ontology.rdf"):
        graph = build_rdf([(Label.SITE, site), (Label.EVALUATION, evaluation)],
                          [(Rel.PART_OF, "RJ1", "QKK", {"run_id": RUN, "since": "2020"})])
    assert not any("red" in str(o) or "ab" == str(o) for o in graph.objects())
    assert not any(o == Literal(5) for o in graph.objects())
    assert "Site.colour" in caplog.text and "PART_OF.since" in caplog.text
    assert "row_hash" not in caplog.text and "sms_effective" not in caplog.text


def test_export_refuses_records_it_cannot_name() -> None:
    with pytest.raises(OntologyError, match="no id"):
        build_rdf([(Label.SITE, {"name": "A", "kind": "trust"})], [])
    with pytest.raises(OntologyError, match="to_label"):
        build_rdf([], [(Rel.LEARNED_FROM, "I-002", "X-9", {"run_id": RUN})])
    with pytest.raises(ValueError):
        build_rdf([], [("KNOWS", "a", "b", {})])  # type: ignore[list-item]
    with pytest.raises(OntologyError, match="cannot point"):
        build_rdf([], [(Rel.LEARNED_FROM, "I-002", "S-1", {"to_label": "Solution"})])


def test_unfit_values_become_plain_strings() -> None:
    nodes, _ = _records()
    initiative = copy.deepcopy(dict(nodes)[Label.INITIATIVE])
    initiative.update(start_date="2019-02-30", cost_gbp="a lot")
    graph = build_rdf([(Label.INITIATIVE, initiative)], [])
    subject = instance_iri(Label.INITIATIVE, "I-002")
    assert graph.value(subject, TB.startDate) == Literal("2019-02-30")
    assert graph.value(subject, TB.costGbp) == Literal("a lot")


# ---------------------------------------------------------------------------
# (c) The shapes catch errors, naming the rule that failed
# ---------------------------------------------------------------------------


def _edit_node(records: tuple[list[NodeRecord], list[RelRecord]], label: Label, node_id: str,
               **changes: Any) -> None:
    for node_label, props in records[0]:
        if node_label is label and props["id"] == node_id:
            for key, value in changes.items():
                if value is None:
                    props.pop(key, None)
                else:
                    props[key] = value
            return
    raise AssertionError(f"no {label} {node_id}")


def _broken_design(records: tuple[list[NodeRecord], list[RelRecord]]) -> None:
    _edit_node(records, Label.EVALUATION, "E-001", design="randomised")


def _initiative_without_site(records: tuple[list[NodeRecord], list[RelRecord]]) -> None:
    records[1][:] = [r for r in records[1] if not (r[0] is Rel.TRIED_AT and r[1] == "I-002")]


def _sms_level_7(records: tuple[list[NodeRecord], list[RelRecord]]) -> None:
    _edit_node(records, Label.EVALUATION, "E-001", sms_level=7)


def _fact_without_run(records: tuple[list[NodeRecord], list[RelRecord]]) -> None:
    _edit_node(records, Label.SITE, "RJ1", run_id=None)


def _run_not_exported(records: tuple[list[NodeRecord], list[RelRecord]]) -> None:
    _edit_node(records, Label.SOLUTION, "S-EHCH", run_id="run-missing")


def _latitude_95(records: tuple[list[NodeRecord], list[RelRecord]]) -> None:
    _edit_node(records, Label.SITE, "RJ1", lat=95.0)


def _evaluation_without_date(records: tuple[list[NodeRecord], list[RelRecord]]) -> None:
    _edit_node(records, Label.EVALUATION, "E-002", published_date=None)


def _impossible_date(records: tuple[list[NodeRecord], list[RelRecord]]) -> None:
    _edit_node(records, Label.INITIATIVE, "I-001", start_date="2016-02-30")


def _orphan_outcome(records: tuple[list[NodeRecord], list[RelRecord]]) -> None:
    records[1][:] = [r for r in records[1] if r[0] is not Rel.HAS_OUTCOME]


@pytest.mark.parametrize(
    ("break_records", "shape", "path", "component", "focus"),
    [
        (_broken_design, "Evaluation-design", TB.design, SH.InConstraintComponent,
         (Label.EVALUATION, "E-001")),
        (_initiative_without_site, "Initiative-triedAt", TB.triedAt, SH.MinCountConstraintComponent,
         (Label.INITIATIVE, "I-002")),
        (_sms_level_7, "Evaluation-smsLevel", TB.smsLevel, SH.MaxInclusiveConstraintComponent,
         (Label.EVALUATION, "E-001")),
        (_fact_without_run, "Fact-wasGeneratedBy", PROV.wasGeneratedBy,
         SH.MinCountConstraintComponent, (Label.SITE, "RJ1")),
        (_run_not_exported, "Fact-wasGeneratedBy", PROV.wasGeneratedBy,
         SH.ClassConstraintComponent, (Label.SOLUTION, "S-EHCH")),
        (_latitude_95, "Site-lat", TB.lat, SH.MaxInclusiveConstraintComponent, (Label.SITE, "RJ1")),
        (_evaluation_without_date, "Evaluation-publishedDate", TB.publishedDate,
         SH.MinCountConstraintComponent, (Label.EVALUATION, "E-002")),
        (_impossible_date, "Initiative-startDate", TB.startDate, SH.NodeConstraintComponent,
         (Label.INITIATIVE, "I-001")),
        (_orphan_outcome, "Outcome-initiative", None, SH.MinCountConstraintComponent,
         (Label.OUTCOME, "O-001")),
    ],
    ids=["design-not-a-concept", "initiative-without-site", "sms-level-7", "no-provenance",
         "run-not-exported", "latitude-95", "no-published-date", "impossible-date",
         "outcome-without-initiative"],
)
def test_shapes_catch(ontology: Graph, shapes: Graph, break_records: Any, shape: str,
                      path: URIRef | None, component: URIRef, focus: tuple[Label, str]) -> None:
    records = _records()
    break_records(records)
    conforms, report, text = _validate(build_rdf(*records), ontology, shapes)
    assert not conforms
    results = _results(report)
    focus_node = instance_iri(*focus)
    matching = {r for r in results if r[0] == TBSH[shape] and r[2] == component
                and r[3] == focus_node}
    assert matching, text
    if path is not None:
        assert {r[1] for r in matching} == {path}
