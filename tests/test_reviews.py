"""Systematic reviews and the studies they include: the ``included_evaluation_ids`` column,
its ``INCLUDES`` relationship (references checked, export and RDF round trip, shapes), no
double counting in the verdict, and the evidence matrix (page, JSON and CSV twins)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from pyshacl import validate
from rdflib import Graph, Namespace, URIRef

from triedbefore.graph import analytics
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.export import export_bundle, export_rdf
from triedbefore.ingest.pipeline import ingest
from triedbefore.ontology import ONTOLOGY_PATH
from triedbefore.web import schemas
from triedbefore.web.app import create_app

TB = Namespace("https://w3id.org/triedbefore/ontology#")
SHAPES = ONTOLOGY_PATH.with_name("shapes.ttl")
SITES = "site_id,name,kind\nS1,Somewhere Trust,trust\n"
SOLUTIONS = "solution_id,name\nSOL-R,Reviewed solution\nSOL-O,Other solution\n"
INITIATIVES = ("initiative_id,title,solution_id,site_ids,start_date\n"
               "I1,First attempt,SOL-R,S1,2010\n"
               "I2,Second attempt,SOL-R,S1,2011\n"
               "I3,Attempt at another solution,SOL-O,S1,2011\n")
HEADER = ("evaluation_id,initiative_ids,title,design,review_quality,finding,published_date,"
          "independent,included_evaluation_ids\n")
# The review comes first: it names studies defined later in the same file.
EVALUATIONS = (HEADER
               + "R,I1|I2,Review of the solution,systematic_review,low,positive,2014,true,A|B\n"
               "A,I1,Study of the first attempt,controlled_before_after,,positive,2012,true,\n"
               "B,I3,Study of another programme,controlled_before_after,,positive,2012,true,\n"
               "C,I2,Later study no review includes,controlled_before_after,,positive,2016,"
               "true,\n")


def _bundle(folder: Path, evaluations: str = EVALUATIONS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("sites.csv", SITES), ("solutions.csv", SOLUTIONS),
                       ("initiatives.csv", INITIATIVES), ("evaluations.csv", evaluations)):
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def reviewed(store: FalkorStore, tmp_path: Path) -> FalkorStore:
    result = ingest(store, _bundle(tmp_path / "bundle"))
    assert result.problems.error_count == 0, [p.to_dict() for p in result.errors]
    return store


def _includes(store: FalkorStore) -> list[tuple[str, str]]:
    rows = store.read("MATCH (r:Evaluation)-[:INCLUDES]->(s:Evaluation) "
                      "RETURN r.id AS r, s.id AS s ORDER BY r, s")
    return [(row["r"], row["s"]) for row in rows]


def test_a_review_includes_studies_named_later_in_the_file(reviewed: FalkorStore) -> None:
    assert _includes(reviewed) == [("R", "A"), ("R", "B")]


def test_a_review_and_its_study_are_not_two_confirmations(reviewed: FalkorStore) -> None:
    # R and A are independent positive level-3 evaluations, but R includes A
    then = analytics.verdict(reviewed, "SOL-R", "2015-12-31")
    assert then["verdict"] == "promising"
    assert "a review and the studies it includes count once" in then["explanation"]
    # C, published 2016 and in no review, is a second distinct line of evidence
    now = analytics.verdict(reviewed, "SOL-R")
    assert now["verdict"] == "works"


def test_without_the_inclusion_the_table_would_say_works(store: FalkorStore,
                                                         tmp_path: Path) -> None:
    ingest(store, _bundle(tmp_path / "plain", EVALUATIONS.replace(",true,A|B\n", ",true,\n")))
    assert _includes(store) == []
    assert analytics.verdict(store, "SOL-R", "2015-12-31")["verdict"] == "works"


@pytest.mark.parametrize("row, reason", [
    ("R2,I1,Review of nothing known,systematic_review,low,positive,2014,true,NOPE\n",
     "NOPE"),
    ("R2,I1,A trial cannot include,rct,,positive,2014,true,A\n",
     "only a systematic_review includes other evaluations"),
    ("R2,I1,Includes itself,systematic_review,low,positive,2014,true,R2\n",
     "a review cannot include itself"),
])
def test_inclusions_are_checked_like_any_reference(store: FalkorStore, tmp_path: Path,
                                                   row: str, reason: str) -> None:
    result = ingest(store, _bundle(tmp_path / "bad", EVALUATIONS + row))
    [error] = result.errors
    assert (error.file, error.line, error.column) == ("evaluations.csv", 6,
                                                      "included_evaluation_ids")
    assert reason in error.reason
    assert _includes(store) == [("R", "A"), ("R", "B")]


def test_a_review_including_a_rejected_study_is_rejected_in_turn(store: FalkorStore,
                                                                  tmp_path: Path) -> None:
    bad = EVALUATIONS.replace("B,I3,Study of another programme,controlled_before_after,,"
                              "positive,2012", "B,I3,Study of another programme,"
                              "controlled_before_after,,positive,2012-13")
    result = ingest(store, _bundle(tmp_path / "rejected", bad))
    assert sorted((e.line, e.column) for e in result.errors) == [
        (2, "included_evaluation_ids"), (4, "published_date")]
    assert _includes(store) == []


def test_export_round_trip_keeps_the_inclusions(reviewed: FalkorStore, tmp_path: Path) -> None:
    out = tmp_path / "export"
    export_bundle(reviewed, out)
    with (out / "evaluations.csv").open(encoding="utf-8", newline="") as f:
        rows = {r["evaluation_id"]: r for r in csv.DictReader(f)}
    assert rows["R"]["included_evaluation_ids"] == "A|B"
    assert rows["A"]["included_evaluation_ids"] == ""
    reviewed.drop_all()
    result = ingest(reviewed, out)
    assert result.problems.error_count == 0
    assert _includes(reviewed) == [("R", "A"), ("R", "B")]


def test_rdf_export_has_the_inclusions_and_conforms(reviewed: FalkorStore,
                                                    tmp_path: Path) -> None:
    path = export_rdf(reviewed, tmp_path / "rdf", "turtle")
    graph = Graph().parse(path, format="turtle")
    reviews = {str(o).rsplit("/", 1)[-1] for o in graph.objects(None, TB.includes)}
    assert reviews == {"A", "B"}
    assert (None, TB.includes, None) in graph
    ontology = Graph().parse(ONTOLOGY_PATH, format="turtle")
    conforms, _, text = validate(graph, shacl_graph=Graph().parse(SHAPES, format="turtle"),
                                 ont_graph=ontology, inference="none")
    assert conforms, text
    # a review that includes a node that is not an evaluation breaks the shape
    subject = next(graph.subjects(TB.includes, None))
    site = next(s for s in graph.subjects() if isinstance(s, URIRef) and "/site/" in str(s))
    graph.add((subject, TB.includes, site))
    assert not validate(graph, shacl_graph=Graph().parse(SHAPES, format="turtle"),
                        ont_graph=ontology, inference="none")[0]


@pytest.fixture
def client(reviewed: FalkorStore) -> FlaskClient:
    return create_app({"TESTING": True, "STORE": reviewed, "SECRET_KEY": "t"}).test_client()


def test_evidence_matrix_json(client: FlaskClient) -> None:
    data = client.get("/solutions/SOL-R/evidence-matrix.json").get_json()
    schemas.EvidenceMatrixPage.model_validate(data)
    assert [r["id"] for r in data["reviews"]] == ["R"]
    assert data["reviews"][0]["includes"] == 2
    studies = {s["id"]: s for s in data["studies"]}
    assert set(studies) == {"A", "B", "C"}  # B evaluates another programme: R includes it
    assert studies["A"]["included_by"] == ["R"] and not studies["A"]["in_no_review"]
    assert studies["C"]["in_no_review"] and studies["C"]["after_reviews"]
    assert (data["in_no_review"], data["links"]) == (1, 2)
    then = client.get("/solutions/SOL-R/evidence-matrix.json?as_of=2013-06-01").get_json()
    assert then["reviews"] == [] and [s["id"] for s in then["studies"]] == ["A"]
    assert then["studies"][0]["in_no_review"] and not then["studies"][0]["after_reviews"]
    assert client.get("/solutions/NOPE/evidence-matrix.json").status_code == 404


def test_evidence_matrix_page_and_csv(client: FlaskClient) -> None:
    html = client.get("/solutions/SOL-R/evidence-matrix").get_data(as_text=True)
    assert "Review of the solution" in html and "Review 1" in html
    assert html.count("included by review 1") == 2
    assert "not yet</strong> (published after the latest review)" in html
    assert 'href="/solutions/SOL-R/evidence-matrix"' in client.get(
        "/solutions/SOL-R").get_data(as_text=True)
    rows = list(csv.DictReader(client.get("/solutions/SOL-R/evidence-matrix.csv")
                               .get_data(as_text=True).splitlines()))
    assert {r["id"]: r["included_by"] for r in rows} == {"A": "R", "B": "R", "C": ""}


def test_evaluation_pages_name_the_review_and_its_studies(client: FlaskClient) -> None:
    review = client.get("/evaluations/R.json").get_json()
    schemas.EvaluationPage.model_validate(review)
    assert [e["id"] for e in review["includes"]] == ["A", "B"] and review["included_in"] == []
    study = client.get("/evaluations/A.json").get_json()
    assert [e["id"] for e in study["included_in"]] == ["R"] and study["includes"] == []
    html = client.get("/evaluations/A").get_data(as_text=True)
    assert "Included in reviews" in html and 'href="/evaluations/R"' in html
