"""Candidate evaluations: fetched from recorded Europe PMC and ClinicalTrials.gov answers
(replayed through the real client), stored in the graph, accepted into evaluations with
provenance or rejected for good; from the library, the CLI and the curation page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from click.testing import CliRunner
from sources_replay import epmc_pages, fixture

from triedbefore.graph import analytics
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest import CandidateError
from triedbefore.ingest import candidates as cands
from triedbefore.ingest.pipeline import ingest
from triedbefore.ingest.sources import SourceError, clinicaltrials
from triedbefore.ingest.sources import candidates as fetching
from triedbefore.ingest.sources.client import HttpClient
from triedbefore.ontology.vocab import CandidateSource, CandidateStatus
from triedbefore.web import auth
from triedbefore.web.app import create_app
from triedbefore.web.cli import cli

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
PASSWORD = "correct horse battery"
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
BJHP = "10.1111/bjhp.12807"
COUNT = "MATCH (c:Candidate)-[:CANDIDATE_FOR]->(s:Solution) RETURN count(c) AS n"


@pytest.fixture
def sample(store: FalkorStore) -> FalkorStore:
    assert ingest(store, SAMPLE).exit_code == 0
    return store


@pytest.fixture
def client(tmp_path: Path) -> HttpClient:
    return HttpClient(cache_dir=tmp_path / "cache", cache_ttl=0, sleep=lambda s: None)


def fetch_epmc(store: FalkorStore, client: HttpClient, solution: str = "SOL-TELE"
               ) -> cands.FetchResult:
    with responses.RequestsMock() as rsps:
        epmc_pages(rsps)
        return fetching.fetch(store, client, solution, sources=[CandidateSource.EUROPEPMC],
                           query="telehealth COPD", limit=None)


def by_doi(store: FalkorStore, doi: str) -> dict[str, Any]:
    return next(c for c in cands.list_candidates(store) if c["doi"] == doi)


def test_fetch_stores_candidates_and_is_idempotent(sample: FalkorStore,
                                                   client: HttpClient) -> None:
    first = fetch_epmc(sample, client)
    assert first.found == 8 and len(first.new) == 5 and first.requests == 3
    assert first.searches[0]["source"] == "europepmc"
    assert first.searches[0]["query"].startswith("(telehealth COPD) AND (")
    listed = cands.list_candidates(sample, status=CandidateStatus.PROPOSED)
    assert len(listed) == 5 and {c["solution_id"] for c in listed} == {"SOL-TELE"}
    one = by_doi(sample, BJHP)
    assert one["id"].startswith("CAN-") and one["source"] == "europepmc"
    assert one["url"].startswith("https://europepmc.org/article/")
    assert one["published_date"] == "2025-09-01" and one["retrieved_at"]
    assert one["status"] == "proposed" and one["solution_name"]
    again = fetch_epmc(sample, client)
    assert again.new == [] and sorted(again.updated) == sorted(first.new)
    assert sample.read(COUNT)[0]["n"] == 5
    assert {c["id"] for c in cands.list_candidates(sample)} == set(first.new)


def test_candidates_are_not_evidence(sample: FalkorStore, client: HttpClient) -> None:
    before = analytics.verdict(sample, "SOL-TELE")
    fetch_epmc(sample, client)
    after = analytics.verdict(sample, "SOL-TELE")
    assert after["evaluations"] == before["evaluations"]


def test_reject_is_remembered_across_a_refetch(sample: FalkorStore, client: HttpClient) -> None:
    fetch_epmc(sample, client)
    target = by_doi(sample, BJHP)
    done = cands.reject(sample, target["id"], who="cora")
    assert done["status"] == "rejected" and done["decided_by"] == "cora"
    again = fetch_epmc(sample, client)
    assert again.skipped["rejected"] == 1 and target["id"] not in again.updated + again.new
    assert cands.get_candidate(sample, target["id"])["status"] == "rejected"
    proposed = {c["id"] for c in cands.list_candidates(sample, status=CandidateStatus.PROPOSED)}
    assert target["id"] not in proposed and len(proposed) == 4
    # the same record for another solution is a candidate of its own
    other = fetch_epmc(sample, client, "SOL-VW")
    assert len(other.new) == 5


def test_accept_loads_an_evaluation_with_provenance(sample: FalkorStore,
                                                    client: HttpClient) -> None:
    fetch_epmc(sample, client)
    target = by_doi(sample, BJHP)
    initiatives = [r["id"] for r in cands.solution_initiatives(sample, "SOL-TELE")]
    assert "INI-0019" in initiatives
    done = cands.accept(sample, target["id"], initiative_ids=["INI-0019"], finding="positive",
                        design="rct", who="cora")
    assert done["status"] == "accepted" and done["evaluation_id"].startswith("EVAL-DOI-")
    evaluation = sample.read(
        "MATCH (e:Evaluation {id: $id})-[:EVALUATED]->(i:Initiative) "
        "MATCH (r:IngestRun {id: e.run_id}) "
        "RETURN e {.*} AS e, collect(i.id) AS initiatives, r {.*} AS run",
        {"id": done["evaluation_id"]})[0]
    e, run = evaluation["e"], evaluation["run"]
    assert (e["doi"], e["url"], e["design"], e["finding"]) == (
        BJHP, target["url"], "rct", "positive")
    assert e["published_date"] == "2025-09-01" and e["sms_effective"] == 5
    assert evaluation["initiatives"] == ["INI-0019"]
    assert run["source"] == target["url"] and run["retrieved_at"] == target["retrieved_at"]
    assert run["status"] == "completed"
    assert done["evaluation_id"] in analytics.verdict(sample, "SOL-TELE")["evaluations"]
    # the id is derived from the DOI: accepting it for another solution adds initiatives
    other = fetch_epmc(sample, client, "SOL-VW")
    assert other.skipped["in_graph"] == 1  # already an evaluation: not proposed again
    again = fetch_epmc(sample, client)
    assert again.skipped["accepted"] == 1
    with pytest.raises(CandidateError, match="accepted as evaluation"):
        cands.reject(sample, target["id"])


def test_accept_needs_initiatives_a_design_and_valid_values(sample: FalkorStore,
                                                            client: HttpClient) -> None:
    fetch_epmc(sample, client)
    erratum = next(c for c in cands.list_candidates(sample) if c["title"] == "Department of Error.")
    assert erratum["design"] is None
    with pytest.raises(CandidateError, match="design of .* is unknown"):
        cands.accept(sample, erratum["id"], initiative_ids=["INI-0019"], finding="positive")
    with pytest.raises(CandidateError, match=r"name the initiative\(s\).*INI-0019"):
        cands.accept(sample, erratum["id"], initiative_ids=[], finding="positive",
                     design="case_study")
    with pytest.raises(CandidateError, match="INI-NOPE.*neither in the bundle nor"):
        cands.accept(sample, erratum["id"], initiative_ids=["INI-NOPE"], finding="positive",
                     design="case_study")
    with pytest.raises(CandidateError, match="allowed: positive"):
        cands.accept(sample, erratum["id"], initiative_ids=["INI-0019"], finding="great",
                     design="case_study")
    assert cands.get_candidate(sample, erratum["id"])["status"] == "proposed"
    with pytest.raises(cands.CandidateNotFound):
        cands.accept(sample, "CAN-nope", initiative_ids=["INI-0019"], finding="positive")
    with pytest.raises(cands.CandidateNotFound, match="no solution"):
        fetching.fetch(sample, client, "SOL-NOPE")


def test_clinicaltrials_candidates(sample: FalkorStore, client: HttpClient) -> None:
    page = {"studies": [fixture("clinicaltrials_gov_v2/NCT03630471.json"),
                        fixture("clinicaltrials_gov_v2/NCT05594173.json")]}  # synthetic list
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, clinicaltrials.API, json=page)
        result = fetching.fetch(sample, client, "SOL-TELE",
                             sources=[CandidateSource.CLINICALTRIALS], intervention="telehealth")
    assert len(result.new) == 2
    assert result.searches == [{"source": "clinicaltrials",
                                "query": "query.intr=telehealth; query.locn=United Kingdom"}]
    trial = next(c for c in cands.list_candidates(sample) if c["source_id"] == "NCT03630471")
    assert trial["design"] == "rct" and "allocation randomized" in trial["design_reason"]
    done = cands.accept(sample, trial["id"], initiative_ids=["INI-0020"], finding="no_effect")
    assert done["evaluation_id"] == "EVAL-NCT03630471"
    with pytest.raises(SourceError, match="Europe PMC only"):
        fetching.fetch(sample, client, "SOL-TELE", sources=[CandidateSource.CLINICALTRIALS],
                    doi=BJHP)


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


def run(store_uri: str, tmp_path: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--store", store_uri, *args],
                              env={"TRIEDBEFORE_DATA_DIR": str(tmp_path / "data")})


def test_cli_fetch_list_accept_reject(sample: FalkorStore, store_uri: str,
                                      tmp_path: Path) -> None:
    with responses.RequestsMock() as rsps:
        epmc_pages(rsps)
        res = run(store_uri, tmp_path, "candidates", "fetch", "SOL-TELE", "--source",
                  "europepmc", "--query", "telehealth", "--format", "json")
    assert res.exit_code == 0, res.output
    fetched = json.loads(res.output)
    assert set(fetched) == {"solution_id", "searches", "found", "new", "updated", "skipped",
                            "requests"} and len(fetched["new"]) == 5
    assert list((tmp_path / "data" / "cache" / "http").glob("*.json"))  # cached on disk
    listed = json.loads(run(store_uri, tmp_path, "candidates", "--format", "json").output)
    assert len(listed) == 5 and set(listed[0]) == set(cands.CANDIDATE_FIELDS)
    table = run(store_uri, tmp_path, "candidates", "list", "--status", "proposed")
    assert table.exit_code == 0 and "candidate" in table.output.splitlines()[0]
    target = next(c for c in listed if c["doi"] == BJHP)
    res = run(store_uri, tmp_path, "candidates", "accept", target["id"], "--initiative",
              "INI-0019", "--finding", "mixed", "--design", "qualitative")
    assert res.exit_code == 0 and "as evaluation EVAL-DOI-" in res.output, res.output
    other = next(c for c in listed if c["doi"] != BJHP)
    res = run(store_uri, tmp_path, "candidates", "reject", other["id"], "--format", "json")
    assert res.exit_code == 0 and json.loads(res.output)["status"] == "rejected"
    rejected = json.loads(run(store_uri, tmp_path, "candidates", "--status", "rejected",
                              "--format", "json").output)
    assert [c["id"] for c in rejected] == [other["id"]]


@pytest.mark.parametrize(("body", "message"), [
    (requests.exceptions.ConnectionError("Failed to resolve 'www.ebi.ac.uk'\n(DNS)"),
     "cannot reach www.ebi.ac.uk: offline, DNS failure or connection refused"),
    ('{"resultList": ', "www.ebi.ac.uk sent an answer that is not valid JSON"),
])
def test_cli_source_errors_are_one_line(sample: FalkorStore, store_uri: str, tmp_path: Path,
                                        body: Any, message: str) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, "https://www.ebi.ac.uk/europepmc/webservices/rest/search",
                 body=body)
        res = run(store_uri, tmp_path, "candidates", "fetch", "SOL-TELE", "--source",
                  "europepmc")
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("triedbefore: error: " + message)
    assert "Traceback" not in res.output


def test_cli_candidate_errors_are_one_line(sample: FalkorStore, store_uri: str,
                                           tmp_path: Path) -> None:
    for args, message in (
            (("accept", "CAN-nope", "--initiative", "INI-0019", "--finding", "positive"),
             "no candidate with id 'CAN-nope'"),
            (("reject", "CAN-nope"), "no candidate with id 'CAN-nope'"),
            (("fetch", "SOL-NOPE"), "no solution with id 'SOL-NOPE'")):
        res = run(store_uri, tmp_path, "candidates", *args)
        assert res.exit_code == 1, res.output
        assert res.stderr.strip() == f"triedbefore: error: {message}"


# --------------------------------------------------------------------------- #
# The curation page
# --------------------------------------------------------------------------- #


def signed_in(store: FalkorStore, tmp_path: Path, role: str = "curator") -> Any:
    users = tmp_path / "users.json"
    auth.add_user(users, "cora", PASSWORD, role)
    app = create_app({"TESTING": True, "STORE": store, "USERS_FILE": str(users),
                      "SECRET_KEY": "test-secret"})
    web = app.test_client()
    token = TOKEN_RE.search(web.get("/login").get_data(as_text=True))
    assert token
    res = web.post("/login", data={"name": "cora", "password": PASSWORD,
                                   "csrf_token": token.group(1)})
    assert res.status_code == 302
    return web


def page_token(web: Any, path: str) -> str:
    found = TOKEN_RE.search(web.get(path).get_data(as_text=True))
    assert found
    return found.group(1)


def test_curation_page_accepts_and_rejects(sample: FalkorStore, client: HttpClient,
                                           tmp_path: Path) -> None:
    fetch_epmc(sample, client)
    web = signed_in(sample, tmp_path)
    html = web.get("/curation/candidates").get_data(as_text=True)
    assert "<h1>Curation: candidate evaluations</h1>" in html
    assert "Department of Error." in html and 'name="initiative_ids"' in html
    assert 'publication type &#34;observational study&#34;' in html
    assert 'href="/curation/candidates"' in web.get("/curation").get_data(as_text=True)
    data = web.get("/curation/candidates.json?status=proposed").get_json()
    assert data["ok"] and data["counts"] == {"proposed": 5, "accepted": 0, "rejected": 0}
    item = next(c for c in data["candidates"]["items"] if c["doi"] == BJHP)
    assert any(i["id"] == "INI-0019" for i in item["initiatives"])
    assert item["design"] == "cross_sectional"  # the abstract of the page that had one
    assert item["design_reason"] == 'the abstract says "cross-sectional"'
    token = page_token(web, "/curation/candidates")
    res = web.post("/curation/candidates/decide", data={
        "candidate_id": item["id"], "decision": "accept", "initiative_ids": ["INI-0019"],
        "finding": "positive", "design": "", "published_date": "", "csrf_token": token})
    assert res.status_code == 302
    done = cands.get_candidate(sample, item["id"])
    assert done["status"] == "accepted" and done["decided_by"] == "cora"
    design = sample.read("MATCH (e:Evaluation {id: $id}) RETURN e.design AS d",
                         {"id": done["evaluation_id"]})
    assert design == [{"d": "cross_sectional"}]
    erratum = next(c for c in data["candidates"]["items"] if c["title"] == "Department of Error.")
    res = web.post("/curation/candidates/decide", data={
        "candidate_id": erratum["id"], "decision": "accept", "initiative_ids": ["INI-0019"],
        "finding": "positive", "csrf_token": token}, headers={"Accept": "application/json"})
    assert res.status_code == 400 and "design" in res.get_json()["error"]
    res = web.post("/curation/candidates/decide", data={
        "candidate_id": erratum["id"], "decision": "reject", "csrf_token": token})
    assert res.status_code == 302
    html = web.get("/curation/candidates?status=rejected").get_data(as_text=True)
    assert "Department of Error." in html and "rejected by cora" in html


def test_curation_decisions(sample: FalkorStore, client: HttpClient, tmp_path: Path) -> None:
    fetch_epmc(sample, client)
    web = signed_in(sample, tmp_path)
    listing = web.get("/curation/candidates.json").get_json()["candidates"]["items"]
    known = next(c for c in listing if c["design"] is not None)
    other = next(c for c in listing if c["id"] != known["id"])
    token = page_token(web, "/curation/candidates")
    res = web.post("/curation/candidates/decide", data={
        "candidate_id": known["id"], "decision": "accept", "initiative_ids": ["INI-0019"],
        "finding": "negative", "csrf_token": token, "status": "proposed"})
    assert res.status_code == 302 and res.headers["Location"].endswith(
        "/curation/candidates?status=proposed")
    page = web.get(res.headers["Location"]).get_data(as_text=True)
    assert "as evaluation EVAL-" in page
    assert cands.get_candidate(sample, known["id"])["decided_by"] == "cora"
    res = web.post("/curation/candidates/decide.json", data={
        "candidate_id": other["id"], "decision": "reject"}, headers={"X-CSRF-Token": token})
    assert res.status_code == 200 and res.get_json()["candidate"]["status"] == "rejected"
    bad = web.post("/curation/candidates/decide.json", data={
        "candidate_id": other["id"], "decision": "maybe"}, headers={"X-CSRF-Token": token})
    assert bad.status_code == 400 and bad.get_json()["ok"] is False
    missing = web.post("/curation/candidates/decide.json", data={
        "candidate_id": "CAN-nope", "decision": "reject"}, headers={"X-CSRF-Token": token})
    assert missing.status_code == 404
    no_token = web.post("/curation/candidates/decide.json", data={
        "candidate_id": other["id"], "decision": "reject"})
    assert no_token.status_code == 400
    viewer = signed_in(sample, tmp_path / "v", role="viewer")
    assert viewer.get("/curation/candidates.json").status_code == 403
