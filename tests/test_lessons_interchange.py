"""Lessons in the interchange (``lessons.csv``), the ontology (Lesson, Contribution and the
NASSS scheme), the SHACL shapes, and the bundle and RDF round trips."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import pytest
import rdflib
from rdflib import RDF, RDFS, Graph, Literal, Namespace
from rdflib.namespace import PROV, SKOS

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.export import export_bundle, export_rdf
from triedbefore.ingest.pipeline import ingest
from triedbefore.ontology import ONTOLOGY_PATH, SHAPES_PATH
from triedbefore.ontology.models import LESSON_MAX, LessonRow
from triedbefore.ontology.rdf import TB, UNNAMED_CONTRIBUTOR, build_rdf, concept_iri, instance_iri
from triedbefore.ontology.vocab import Label, NasssDomain, Rel

pyshacl = pytest.importorskip("pyshacl")

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
SH = Namespace("http://www.w3.org/ns/shacl#")
TBSH = Namespace("https://w3id.org/triedbefore/shapes#")
RUN = "run-2026-01-01T00-00-00Z"
LESSON_COLUMNS = ["lesson_id", "initiative_id", "text", "kind", "effect", "nasss_domain",
                  "illustrative"]


def _bundle(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    """The sample bundle plus a lessons.csv of ``rows`` (marked illustrative)."""
    folder = tmp_path / "bundle"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("*.py", "*.md",
                                                                    "__pycache__"))
    with open(folder / "lessons.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, LESSON_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({"illustrative": "true", **row})
    return folder


GOOD = [
    {"lesson_id": "LES-1", "initiative_id": "INI-0001", "kind": "lesson", "effect": "hindered",
     "nasss_domain": "organisation", "text": "Staff time for set-up was underestimated"},
    {"lesson_id": "LES-2", "initiative_id": "INI-0001", "kind": "do_differently",
     "effect": "", "nasss_domain": "", "text": "=Agree protected time before the start"},
    {"lesson_id": "LES-3", "initiative_id": "INI-0002", "kind": "", "effect": "helped",
     "nasss_domain": "adopters", "text": "A named GP per care home <b>helped</b>"},
]


def test_nasss_domains_are_a_scheme_with_the_papers_codes() -> None:
    ontology = Graph().parse(ONTOLOGY_PATH)
    codes = {str(ontology.value(c, SKOS.notation))
             for c in ontology.subjects(SKOS.inScheme, TB.NasssDomain)}
    assert codes == {"condition", "technology", "value", "adopters", "organisation", "wider",
                     "time"} == {d.value for d in NasssDomain}
    source = ontology.value(TB.NasssDomain, rdflib.DCTERMS.source)
    assert str(source) == "https://doi.org/10.2196/jmir.8775"


def test_lessons_load_export_and_load_again_identically(store: FalkorStore, tmp_path: Path,
                                                        embedded_server: Any) -> None:
    first = ingest(store, _bundle(tmp_path, GOOD))
    assert first.exit_code == 0, first.errors[:5]
    assert first.loaded["lessons"] == 3
    export_bundle(store, tmp_path / "a")
    text = (tmp_path / "a" / "lessons.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("lesson_id,initiative_id,text,kind,effect")
    assert "'=Agree protected time" in text  # a formula is written as text
    rows = list(csv.DictReader((tmp_path / "a" / "lessons.csv").open(encoding="utf-8")))
    assert {r["lesson_id"]: r["kind"] for r in rows} == {
        "LES-1": "lesson", "LES-2": "do_differently", "LES-3": "lesson"}
    store.drop_all()
    again = ingest(store, tmp_path / "a")
    assert again.exit_code == 0, again.errors[:5]
    assert again.loaded == first.loaded
    export_bundle(store, tmp_path / "b")
    assert (tmp_path / "a" / "lessons.csv").read_bytes() == \
        (tmp_path / "b" / "lessons.csv").read_bytes()


def test_bad_lessons_are_row_errors_and_the_good_ones_load(store: FalkorStore,
                                                           tmp_path: Path) -> None:
    bad = [
        {"lesson_id": "LES-LONG", "initiative_id": "INI-0001", "effect": "helped",
         "nasss_domain": "time", "text": "x" * 20_000},
        {"lesson_id": "LES-ENUM", "initiative_id": "INI-0001", "effect": "great",
         "nasss_domain": "time", "text": "t"},
        {"lesson_id": "LES-NODOMAIN", "initiative_id": "INI-0001", "effect": "helped",
         "nasss_domain": "", "text": "t"},
        {"lesson_id": "LES-NOINI", "initiative_id": "INI-NOPE", "effect": "helped",
         "nasss_domain": "time", "text": "t"},
    ]
    result = ingest(store, _bundle(tmp_path, GOOD[:1] + bad))
    assert result.exit_code == 3
    assert result.loaded["lessons"] == 1
    by_line = {(e.line, e.column): e for e in result.errors if e.file == "lessons.csv"}
    long = by_line[(3, "text")]
    assert "20,000 characters" in long.reason and f"{LESSON_MAX:,}" in long.reason
    assert by_line[(4, "effect")].allowed == ("helped", "hindered")
    assert "NASSS domain" in by_line[(5, "nasss_domain")].reason
    assert "INI-NOPE" in by_line[(6, "initiative_id")].reason


def test_rdf_export_of_lessons_conforms(store: FalkorStore, tmp_path: Path) -> None:
    assert ingest(store, _bundle(tmp_path, GOOD)).exit_code == 0
    path = export_rdf(store, tmp_path / "rdf", "turtle")
    data = Graph().parse(path, format="turtle")
    lesson = instance_iri(Label.LESSON, "LES-1")
    assert (lesson, TB.nasssDomain, concept_iri("NasssDomain", "organisation")) in data
    assert (instance_iri(Label.INITIATIVE, "INI-0001"), TB.hasLesson, lesson) in data
    conforms, _graph, text = pyshacl.validate(
        data, shacl_graph=Graph().parse(SHAPES_PATH), ont_graph=Graph().parse(ONTOLOGY_PATH),
        inference="rdfs")
    assert conforms, text[:3000]


def _records(contributor: str | None = "Ann Example",
             lesson: dict[str, Any] | None = None) -> tuple[list[Any], list[Any]]:
    contribution: dict[str, Any] = {
        "id": "CON-1", "run_id": RUN, "moderator": "cur", "sector": "nhs",
        "accepted_at": "2026-01-01T10:00:00+00:00", "submitted_at": "2026-01-01T09:00:00+00:00"}
    if contributor is not None:
        contribution["contributor"] = contributor
    nodes = [
        (Label.INGEST_RUN, {"id": RUN, "source": "contribution:CON-1",
                            "started_at": "2026-01-01T10:00:00Z", "status": "completed"}),
        (Label.SITE, {"id": "C81001", "run_id": RUN, "name": "A practice", "kind": "gp_practice"}),
        (Label.INITIATIVE, {"id": "INI-C-1", "run_id": RUN, "title": "Tried it",
                            "start_date": "2024-01", "status": "stopped"}),
        (Label.LESSON, lesson or {"id": "LES-C-1", "run_id": RUN, "text": "It was slow",
                                  "kind": "lesson", "effect": "hindered",
                                  "nasss_domain": "organisation"}),
        (Label.CONTRIBUTION, contribution),
    ]
    rels = [(Rel.TRIED_AT, "INI-C-1", "C81001", {}), (Rel.HAS_LESSON, "INI-C-1", "LES-C-1", {}),
            (Rel.RECORDS, "CON-1", "INI-C-1", {})]
    return nodes, rels


def _validate(graph: Graph) -> tuple[bool, Graph, str]:
    conforms, report, text = pyshacl.validate(
        graph, shacl_graph=Graph().parse(SHAPES_PATH), ont_graph=Graph().parse(ONTOLOGY_PATH),
        inference="rdfs")
    return conforms, report, text


def test_a_contribution_is_attributed_to_an_agent_named_as_chosen() -> None:
    graph = build_rdf(*_records())
    conforms, _report, text = _validate(graph)
    assert conforms, text
    contribution = instance_iri(Label.CONTRIBUTION, "CON-1")
    agent = graph.value(contribution, PROV.wasAttributedTo)
    assert (agent, RDF.type, PROV.Agent) in graph
    assert graph.value(agent, RDFS.label) == Literal("Ann Example")
    assert (contribution, TB.records, instance_iri(Label.INITIATIVE, "INI-C-1")) in graph
    unnamed = build_rdf(*_records(contributor=None))
    agent = unnamed.value(contribution, PROV.wasAttributedTo)
    assert unnamed.value(agent, RDFS.label) == Literal(UNNAMED_CONTRIBUTOR)
    assert _validate(unnamed)[0]


@pytest.mark.parametrize(("records", "shape"), [
    (_records(contributor="ann@example.org"), "Contribution-contributor"),
    (_records(lesson={"id": "LES-C-1", "run_id": RUN, "text": "t", "kind": "lesson",
                      "nasss_domain": "time"}), "Lesson"),
    (_records(lesson={"id": "LES-C-1", "run_id": RUN, "text": "t", "kind": "lesson",
                      "effect": "helped", "nasss_domain": "weather"}), "Lesson-nasssDomain"),
], ids=["email-as-contributor", "lesson-without-effect", "domain-not-nasss"])
def test_shapes_catch(records: tuple[list[Any], list[Any]], shape: str) -> None:
    conforms, report, text = _validate(build_rdf(*records))
    assert not conforms
    shapes = {report.value(r, SH.sourceShape) for r in report.subjects(RDF.type,
                                                                         SH.ValidationResult)}
    assert TBSH[shape] in shapes, text
    if shape == "Lesson":
        assert "NASSS" in text


def test_the_model_gives_the_same_messages_as_a_bundle() -> None:
    from pydantic import ValidationError

    from triedbefore.ontology.models import explain

    with pytest.raises(ValidationError) as caught:
        LessonRow(lesson_id="L", initiative_id="I", text="x" * 20_000, effect="helped",
                  nasss_domain="time")
    assert [p.column for p in explain(caught.value)] == ["text"]
