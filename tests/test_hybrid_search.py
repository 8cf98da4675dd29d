"""Hybrid search: the fusion rule, vectors kept by the write path, typos and "did you
mean", the relevance floor, the proposal check by meaning, and bad queries."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from triedbefore.graph import (
    GraphError,
    embedding,
    hybrid,
    queries,
    settings,
    static_embedding,
    vectors,
)
from triedbefore.graph import search as searching
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest
from triedbefore.ontology.vocab import Label
from triedbefore.web.app import create_app
from triedbefore.web.cli import cli

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
needs_model = pytest.mark.skipif(not embedding.available(),
                                 reason="the sentence model package is not installed")

BAD_QUERIES = {
    "empty": "",
    "spaces": "   ",
    "long": ("hospital at home for frail older people " * 300)[:10_000],
    "non_latin": "在宅医療 病院 التطبيب عن بعد",
    "emoji": "😀🏥💊",
    "punctuation": "?!.,;:()[]{}\"'-*&^%$#@",
    "common_words": "of the",
}


@pytest.fixture
def client(read_sample: FalkorStore) -> FlaskClient:
    return create_app({"TESTING": True, "STORE": read_sample,
                       "SECRET_KEY": "test"}).test_client()


def _vector_rows(store: FalkorStore) -> int:
    return sum(int(r["n"]) for r in store.read(
        "MATCH (n) WHERE n.embedded_hash IS NOT NULL RETURN count(n) AS n"))


def _text_rows() -> int:
    return sum(sum(1 for _ in csv.DictReader((SAMPLE / name).open(encoding="utf-8")))
               for name in ("solutions.csv", "initiatives.csv", "evaluations.csv"))


# --- the fusion rule ------------------------------------------------------------------------


def test_reciprocal_rank_fusion_follows_the_documented_rule() -> None:
    k, w, m = hybrid.RRF_K, hybrid.WORDS_WEIGHT, hybrid.MEANING_WEIGHT
    best = (w + m) / (k + 1)
    assert hybrid.rrf(1, 1) == pytest.approx(1.0)
    assert hybrid.rrf(3, None) == pytest.approx(w / (k + 3) / best)
    assert hybrid.rrf(None, 2) == pytest.approx(m / (k + 2) / best)
    assert hybrid.rrf(2, 5) == pytest.approx((w / (k + 2) + m / (k + 5)) / best)
    assert hybrid.rrf(None, None) == 0.0
    # found by both rankings beats first place in one only; a better rank scores more
    assert hybrid.rrf(2, 2) > hybrid.rrf(None, 1) > hybrid.rrf(None, 2)
    # the matcher's confidence raises the words' weight up to twofold
    assert hybrid.rrf(1, 3, confidence=1.0) == pytest.approx(
        min(1.0, (2 * w / (k + 1) + m / (k + 3)) / best))
    assert hybrid.rrf(2, None, confidence=0.5) == pytest.approx(1.5 * w / (k + 2) / best)


# --- vectors kept by the write path ---------------------------------------------------------


def _rows(name: str) -> int:
    return sum(1 for _ in csv.DictReader((SAMPLE / name).open(encoding="utf-8")))


def _model_calls() -> tuple[int, int]:
    """Texts the transformer and the static model were asked for so far."""
    return embedding.calls, static_embedding.calls


def _rewrite(bundle: Path, name: str, change: dict[str, str]) -> str:
    """Change the first row of a bundle's file; its id."""
    path = bundle / name
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    rows[0].update(change)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return next(iter(rows[0].values()))


@needs_model
def test_ingest_embeds_new_and_changed_rows_only(store: FalkorStore, tmp_path: Path,
                                                fresh_kept: Path) -> None:
    assert settings.SEARCH_MODEL.get() == "mixed"
    asked, asked_static = _model_calls()
    ingest(store, SAMPLE)
    assert _vector_rows(store) == _text_rows()
    # solutions by the transformer (their whole texts, and each part for search), the bulk
    # rows by the static model
    parts = sum(len(vectors.solution_part_texts(r)) for r in store.read(queries.SOLUTION_TEXTS))
    assert embedding.calls - asked == _rows("solutions.csv") + parts
    assert static_embedding.calls - asked_static == \
        _rows("initiatives.csv") + _rows("evaluations.csv")
    assert store.public_copy().read(
        "MATCH (n:Solution) WHERE n.embedded_hash IS NOT NULL RETURN count(n) AS n"
    )[0]["n"] == 12  # the public copy holds them too
    # the vectors stored are the model's (sent as integers, scaled back by the statement)
    statement = ("MATCH (n:Initiative) RETURN n.id AS id, n.title AS title, n.description "
                 "AS description, n.embedding AS v ORDER BY n.id LIMIT 3")
    public = {r["id"]: r["v"] for r in store.public_copy().read(statement)}
    for r in store.read(statement):
        model = static_embedding.embed([vectors.text_of(Label.INITIATIVE, r)])[0]
        assert np.allclose(np.array(r["v"]), model, atol=1e-4)
        assert np.allclose(np.array(public[r["id"]]), model, atol=1e-4)

    before = _model_calls()
    ingest(store, SAMPLE)  # unchanged: nothing to embed
    assert _model_calls() == before

    bundle = tmp_path / "bundle"
    shutil.copytree(SAMPLE, bundle)
    sid = _rewrite(bundle, "solutions.csv",
                   {"description": "Acute care in the patient's own home, led by a consultant."})
    iid = _rewrite(bundle, "initiatives.csv",
                   {"description": "Nurses visit frail patients at home after discharge."})
    hashes = {i: store.read("MATCH (n {id: $id}) RETURN n.embedded_hash AS h", {"id": i})[0]["h"]
              for i in (sid, iid)}
    ran, asked_static = embedding.computed, static_embedding.calls
    ingest(store, bundle)
    # the changed solution by the transformer (its whole text and its new description),
    # the changed initiative by the static model
    assert (embedding.computed - ran, static_embedding.calls - asked_static) == (2, 1)
    for i, before_hash in hashes.items():
        after = store.read("MATCH (n {id: $id}) RETURN n.embedded_hash AS h", {"id": i})[0]["h"]
        assert after and after != before_hash
    assert str(hashes[iid]).startswith("static:") and not str(hashes[sid]).startswith("static:")


@needs_model
def test_changing_the_model_setting_re_embeds_the_rows_whose_model_changed(
        store: FalkorStore, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(store, SAMPLE)
    monkeypatch.setenv(settings.SEARCH_MODEL.env, "static")
    asked, asked_static = _model_calls()
    ingest(store, SAMPLE)  # the rows are unchanged; the solutions' model is not
    assert (embedding.calls - asked, static_embedding.calls - asked_static) == \
        (0, _rows("solutions.csv"))
    assert store.read("MATCH (n) WHERE n.embedded_hash IS NOT NULL AND NOT "
                      "n.embedded_hash STARTS WITH 'static:' RETURN count(n) AS n")[0]["n"] == 0
    hits = hybrid.search(store, "remote monitoring of lung disease at home", 5)["hits"]
    assert hits and hits[0]["id"] == "SOL-TELE"


def test_no_vectors_when_turned_off(store: FalkorStore,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.SEARCH_VECTORS.env, "no")
    asked = embedding.calls
    ingest(store, SAMPLE)
    assert embedding.calls == asked and _vector_rows(store) == 0
    hits = hybrid.search(store, "telehealth", 5)["hits"]
    assert hits and hits[0]["id"] == "SOL-TELE" and hits[0]["why"]["meaning"] is None


# --- retrieval --------------------------------------------------------------------------


@needs_model
def test_typo_finds_the_solution_and_offers_the_spelling(read_sample: FalkorStore) -> None:
    result = hybrid.search(read_sample, "telehelth", 10)
    assert result["did_you_mean"] == "telehealth"
    top = [h for h in result["hits"] if h["kind"] == "solution"][:3]
    assert "SOL-TELE" in [h["id"] for h in top]
    tele = next(h for h in top if h["id"] == "SOL-TELE")
    assert tele["why"]["words"] == ["telehealth"]  # as the record spells it
    assert hybrid.search(read_sample, "telehealth", 10)["did_you_mean"] is None


@needs_model
@pytest.mark.parametrize(("query", "meant"), [
    ("drone delivery of blood samples", None),  # real words the graph lacks: no "deliver"
    ("gofal iechyd o bell", None),               # "bell" is a word, not a misspelt "well"
    ("telehelth for copd", "telehealth for copd"),
    ("drone delivery by telehelth", "drone delivery by telehealth"),
    ("hospital at hom", "hospital at home"),     # the last word cut short as it was typed
    ("hom visits at hospital", None),            # only the last word is taken as cut short
    ("virtual war", None),                       # "war" is a word
])
def test_did_you_mean_never_corrects_a_real_word(read_sample: FalkorStore, query: str,
                                                 meant: str | None) -> None:
    assert hybrid.did_you_mean(read_sample, query) == meant


@needs_model
def test_paraphrase_matches_by_meaning(read_sample: FalkorStore) -> None:
    result = hybrid.search(read_sample, "a nurse rings people at home to read their oxygen "
                                        "levels and breathing", 10)
    solutions = [h for h in result["hits"] if h["kind"] == "solution"]
    assert "SOL-TELE" in [h["id"] for h in solutions[:3]]
    tele = next(h for h in solutions if h["id"] == "SOL-TELE")
    assert tele["why"]["meaning"] is not None and tele["why"]["meaning"] >= \
        hybrid.MEANING_FLOOR


@needs_model
def test_relevance_floor_hides_weak_hits_unless_asked(read_sample: FalkorStore) -> None:
    listed = hybrid.search(read_sample, "care homes", 0)
    every = hybrid.search(read_sample, "care homes", 0, everything=True)
    assert listed["below_floor"] > 0
    assert len(every["hits"]) == len(listed["hits"]) + listed["below_floor"]
    assert all(h["listed"] for h in listed["hits"])
    assert not all(h["listed"] for h in every["hits"])
    for h in listed["hits"]:
        assert h["why"]["words"] and len(h["why"]["words"]) >= 1 or \
            h["why"]["meaning"] is not None


def test_search_page_facets_count_only_listed_hits(client: FlaskClient) -> None:
    data = client.get("/search.json?q=frailty+assessment").get_json()
    every = client.get("/search.json?q=frailty+assessment&all=1").get_json()
    assert data["below_floor"] > 0 and every["all"] is True and not data["all"]
    assert data["results"]["total"] < every["results"]["total"] <= \
        data["results"]["total"] + data["below_floor"]
    assert all(r["listed"] for r in data["results"]["items"])
    counted = sum(n for _, n in data["facets"].get("year", []))
    assert counted == sum(1 for r in _all_pages(client, "frailty+assessment")
                          if r["facets"].get("year"))
    assert sum(n for _, n in every["facets"].get("year", [])) >= counted


def _all_pages(client: FlaskClient, q: str) -> list[dict[str, Any]]:
    data = client.get(f"/search.json?q={q}&size=500").get_json()
    assert data["results"]["total"] <= 500
    return list(data["results"]["items"])


def test_search_page_says_when_more_are_listed_than_it_ranks(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page ranks the best ``SEARCH_SHOWN_MAX`` hits and says how many are listed in
    all; its second page numbers its rows on from the first's."""
    from triedbefore.web import explore

    every = client.get("/search.json?q=care+homes&size=500").get_json()
    listed = every["listed"]
    assert every["results"]["total"] == min(listed, explore.SEARCH_SHOWN_MAX) > 3
    monkeypatch.setattr(explore, "SEARCH_SHOWN_MAX", 3)
    # (another spelling of the query: the answers of the first are cached)
    data = client.get("/search.json?q=homes+care&size=2").get_json()
    listed = data["listed"]
    assert data["results"]["total"] == 3 < listed
    html = client.get("/search?q=homes+care&size=2&page=2").get_data(as_text=True)
    assert f"The best 3 of {listed} matches are ranked here" in html
    assert '<ol class="results" start="3">' in html
    weaker = client.get("/search?q=homes+care&size=2&all=1").get_data(as_text=True)
    assert f"The best 3 of {listed + data['below_floor']} matches, weaker ones included" \
        in weaker
    # past the last page: refused, not "3 results" above an empty list
    past = client.get("/search?q=homes+care&size=2&page=3")
    html = past.get_data(as_text=True)
    assert past.status_code == 404 and "past the last page (2)" in html
    assert '<a href="/search?q=homes+care&amp;size=2&amp;page=2">Go to the last page (2)</a>' \
        in html and 'value="homes care"' in html


def test_search_facets_count_within_the_chosen_filters(client: FlaskClient) -> None:
    """A facet's numbers are those of the results shown: after a choice, no value offers
    results the page will not show."""
    data = client.get("/search.json?q=care+homes&size=500").get_json()
    years = dict(data["facets"]["year"])
    year = max(years, key=lambda y: years[y])
    chosen = client.get(f"/search.json?q=care+homes&size=500&year={year}").get_json()
    shown = chosen["results"]["items"]
    assert len(shown) == chosen["results"]["total"] == years[year]
    for facet, values in chosen["facets"].items():
        for value, n in values:
            assert n == sum(1 for r in shown if value in r["facets"].get(facet, [])), \
                (facet, value)
    html = client.get(f"/search?q=care+homes&year={year}").get_data(as_text=True)
    if chosen["below_floor"]:  # not counted against the filters: not given as a number
        assert "Weaker matches are not shown." in html


def test_a_verdict_chosen_keeps_the_attempts_and_evaluations_of_the_solutions_judged_so(
        demo_client: FlaskClient) -> None:
    """Choosing "does not work" keeps the solutions judged so and, with them, the attempts
    at them and the evaluations of those attempts, not the solutions alone; an
    initiative of another solution goes."""
    q = {"q": "telehealth copd", "size": 500}
    every = demo_client.get("/search.json", query_string=q).get_json()["results"]["items"]
    judged = {r["id"] for r in every if r["kind"] == "solution"
              and r["facets"]["verdict"] == ["does_not_work"]}
    assert judged
    chosen = demo_client.get("/search.json", query_string={
        **q, "verdict": "does_not_work"}).get_json()["results"]["items"]
    kinds = {r["kind"] for r in chosen}
    assert {"solution", "initiative", "evaluation"} <= kinds, kinds
    assert {r["id"] for r in chosen if r["kind"] == "solution"} == judged
    for r in chosen:
        if r["kind"] == "initiative":  # it implements one of them
            page = demo_client.get(f"/initiatives/{r['id']}.json").get_json()
            assert {s["id"] for s in page["solutions"]} & judged, (r["id"], page["solutions"])
    others = [r for r in every if r["kind"] == "initiative"
              and "does_not_work" not in r["facets"].get("verdict", [])]
    assert others and not {r["id"] for r in others} & {r["id"] for r in chosen}
    html = demo_client.get("/search", query_string={**q, "verdict": "does_not_work"}
                           ).get_data(as_text=True)
    # a badge gives a solution's verdict, never an initiative's
    assert html.count('class="badge verdict-') == sum(
        1 for r in chosen[:20] if r["kind"] == "solution")


@needs_model
def test_search_page_says_when_nothing_is_close(client: FlaskClient) -> None:
    data = client.get("/search.json?q=xqzvbn").get_json()
    assert data["results"]["total"] == 0 and data["listed"] == 0
    assert data["message"] == hybrid.NOTHING_CLOSE
    html = client.get("/search?q=xqzvbn").get_data(as_text=True)
    assert "Nothing close to this was found" in html


def test_search_marks_zombie_repeats_among_initiatives(client: FlaskClient) -> None:
    """An innovator searching for an idea sees which attempts at it repeated a failure."""
    rows = client.get("/zombies.json?size=500").get_json()["zombies"]["items"]
    zombie = rows[0]
    title = zombie["initiative_title"]
    data = client.get("/search.json", query_string={"q": title, "size": 500}).get_json()
    hits = {r["id"]: r for r in data["results"]["items"] if r["kind"] == "initiative"}
    assert hits[zombie["initiative_id"]]["zombie"] is True
    assert not any(r["zombie"] for i, r in hits.items() if i not in {
        z["initiative_id"] for z in rows})
    html = client.get("/search", query_string={"q": title}).get_data(as_text=True)
    assert "zombie repeat" in html


def test_search_shows_the_strength_of_a_verdict_and_what_an_evaluation_found(
        client: FlaskClient) -> None:
    """A commissioner reads the same verdict in the list as on the solution's page (with
    its SMS level), and each evaluation's finding."""
    data = client.get("/search.json?q=telehealth+copd&size=500").get_json()
    solutions = [r for r in data["results"]["items"] if r["kind"] == "solution"
                 and r["facets"]["verdict"] != ["unevaluated"]]
    assert solutions
    for r in solutions:
        page = client.get(f"/solutions/{r['id']}.json").get_json()["verdict"]
        assert (r["facets"]["verdict"], r["verdict_strength"]) == \
            ([page["verdict"]], page["strength"])
    evaluations = [r for r in data["results"]["items"] if r["kind"] == "evaluation"]
    assert evaluations
    for r in evaluations:
        assert r["finding"] == client.get(f"/evaluations/{r['id']}.json").get_json()[
            "evaluation"]["finding"]
    html = client.get("/search?q=telehealth+copd").get_data(as_text=True)
    assert "SMS level" in html and "found " in html
    # the solutions list says the same
    listed = {r["id"]: r for r in client.get("/solutions.json?size=500").get_json()[
        "solutions"]["items"]}
    for r in solutions:
        assert listed[r["id"]]["verdict_strength"] == r["verdict_strength"]
    assert "SMS level" in client.get("/solutions").get_data(as_text=True)


def test_the_search_download_holds_every_result_not_the_page(client: FlaskClient) -> None:
    import csv
    import io
    import re

    html = client.get("/search?q=care+homes&page=2").get_data(as_text=True)
    link = re.search(r'href="(/search\.csv\?[^"]+)"', html)
    assert link is not None
    url = link.group(1).replace("&amp;", "&")
    rows = list(csv.DictReader(io.StringIO(client.get(url).get_data(as_text=True))))
    total = client.get("/search.json?q=care+homes").get_json()["results"]["total"]
    assert len(rows) == total > 20  # more than the page's 20


def test_search_page_shows_why_and_did_you_mean(client: FlaskClient) -> None:
    html = client.get("/search?q=telehelth").get_data(as_text=True)
    assert "Did you mean" in html and "q=telehealth" in html
    assert "words matched: telehealth" in html


@needs_model
def test_check_finds_solutions_and_initiatives_by_meaning(read_sample: FalkorStore) -> None:
    text = ("We want a nurse to ring people with lung disease each morning and read the "
            "oxygen levels their home devices send.")
    report = searching.check(read_sample, text)
    assert "SOL-TELE" in [m["solution_id"] for m in report["matches"][:3]]
    assert report["initiatives"] and report["initiatives"][0]["solution_id"] == "SOL-TELE"


def test_a_query_that_is_a_records_id_lists_that_record_first(read_demo: FalkorStore) -> None:
    """A commissioner pastes a trust's ODS code, a researcher a solution's id: that record
    comes first, and what the model places near a code's letters is not listed."""
    for q, kind in (("RBL", "site"), ("rbl", "site"), ("SOL-IC-HAH", "solution"),
                    ("IC-E02", "evaluation")):
        found = hybrid.search(read_demo, q, 0)
        first = found["hits"][0]
        assert (first["kind"], first["id"]) == (kind, q.upper()), found["hits"][:3]
        assert first["score"] == 1.0 and first["why"]["words"] == [q.upper()]
        assert all(h["why"]["words"] or (h["why"]["meaning"] or 0) >= hybrid.MEANING_SURE
                   for h in found["hits"][1:]), found["hits"][1:4]


def test_a_one_word_query_lists_the_records_named_with_it_first(
        read_demo: FalkorStore) -> None:
    """"Sheffield": the initiatives named after Sheffield before a solution the model only
    places near the city's name."""
    hits = hybrid.search(read_demo, "Sheffield", 0)["hits"]
    assert "sheffield" in hits[0]["why"]["words"] and "sheffield" in hits[0]["name"].lower()
    unworded = [h for h in hits if not h["why"]["words"]]
    assert unworded and hits[0]["score"] > max(u["score"] for u in unworded), hits[:5]


@pytest.mark.parametrize("query", [
    "hospital at home for frail older people", "telehelth", "virtual ward", "Sheffield",
    "someone phones patients after discharge to check their tablets", "RBL",
])
def test_the_indexes_asked_at_once_answer_as_one_after_the_other(
        read_demo: FalkorStore, monkeypatch: pytest.MonkeyPatch, query: str) -> None:
    """A search sends its index queries at once (``SEARCH_FANOUT``); its answer is the one
    they give one after the other, hit for hit, and an index's failure is the search's."""
    monkeypatch.setattr(hybrid, "SEARCH_FANOUT", 1)
    alone = hybrid.search(read_demo, query, 0, everything=True)
    monkeypatch.setattr(hybrid, "SEARCH_FANOUT", 8)
    for _ in range(3):
        assert hybrid.search(read_demo, query, 0, everything=True) == alone
    assert alone["hits"]

    def broken(*_: Any, **__: Any) -> list[Any]:
        raise GraphError("the index is unavailable")

    monkeypatch.setattr(hybrid, "fulltext", broken)
    with pytest.raises(GraphError, match="the index is unavailable"):
        hybrid.search(read_demo, query + " again", 0)


def test_a_forked_worker_searches_on_threads_of_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """gunicorn forks its workers: a pool made before the fork has no threads in the
    child, and work given to it would never run. The child makes its own."""
    import os

    monkeypatch.setattr(hybrid, "SEARCH_FANOUT", 8)
    parent = hybrid._fanout()
    assert [parent.submit(lambda n=n: n * 2).result(timeout=10) for n in range(16)] == [
        n * 2 for n in range(16)]
    pid = os.fork()
    if pid == 0:  # the child: only the pool, no store (its connections are the parent's)
        code = 1
        try:
            pool = hybrid._fanout()
            futures = [pool.submit(lambda n=n: n + 1) for n in range(16)]
            code = 0 if pool is not parent and [f.result(timeout=10) for f in futures] \
                == list(range(1, 17)) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BAD_QUERIES))
def test_bad_queries_never_fail(name: str, client: FlaskClient, store_uri: str) -> None:
    q = BAD_QUERIES[name]
    html = client.get("/search", query_string={"q": q})
    page = client.get("/search.json", query_string={"q": q})
    if name == "long":  # searched up to search_max_query_chars, and the answer says so
        assert page.get_json()["cut"] is True
        text = html.get_data(as_text=True)
        assert "only its beginning was searched" in text and '<a href="/check">' in text
        assert 'name="q" type="search" maxlength="600" value="hospital at home' in text
        longer = client.get("/search.json", query_string={"q": "a" * 20_001})
        assert longer.status_code == 400  # past what the explorer takes at all: a clear 400
        assert "at most 20000 characters" in longer.get_json()["error"]
    assert html.status_code == 200, html.get_data(as_text=True)[:500]
    assert page.status_code == 200
    data = page.get_json()
    if name in ("emoji", "punctuation"):
        assert data["results"]["total"] == 0 and "no letters or digits" in data["message"]
    if name == "common_words":  # not every record that holds "the"
        assert data["results"]["total"] == 0 and data["message"] == hybrid.ONLY_COMMON
        assert "Only very common words" in html.get_data(as_text=True)
    cli_run = CliRunner().invoke(cli, ["--store", store_uri, "search", q or " ",
                                       "--format", "json"])
    assert cli_run.exit_code == 0, cli_run.output
    assert isinstance(json.loads(cli_run.output), list)
    text_run = CliRunner().invoke(cli, ["--store", store_uri, "search", q or " "])
    assert text_run.exit_code == 0, text_run.output


def test_query_is_cut_before_embedding(read_sample: FalkorStore,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    monkeypatch.setattr(vectors, "query_vector", lambda text, label=None: seen.append(text))
    monkeypatch.setenv(settings.SEARCH_MAX_QUERY_CHARS.env, "40")
    result = hybrid.search(read_sample, "telehealth monitoring for people with COPD " * 50)
    assert result["cut"] and seen and len(seen[0]) <= 40
    assert seen[0] == "telehealth monitoring for people with"  # at a word boundary
    assert hybrid.search(read_sample, "x" * 10_000)["cut"]




def test_vector_search_on_the_store(read_sample: FalkorStore) -> None:
    if not vectors.enabled() or not _vector_rows(read_sample):
        pytest.skip("no vectors in this graph")
    near = vectors.nearest(read_sample, Label.SOLUTION,
                           vectors.query_vector("remote monitoring of lung disease"), 3)
    assert len(near) == 3 and near[0][1] >= near[-1][1]


def test_letter_filter_never_drops_a_word_within_the_edits() -> None:
    """The cheap check before the edit distance passes every word the edit distance
    would accept (one or two edits of any kind), and still rules most others out."""
    words = ["telehealth", "frailty", "discharge", "pharmacist", "consultation", "wards"]
    alphabet = "abcdefghijklmnopqrstuvwxyzé"

    def one_edit(w: str) -> set[str]:
        out = {w[:i] + w[i + 1:] for i in range(len(w))}
        out |= {w[:i] + c + w[i:] for i in range(len(w) + 1) for c in alphabet}
        out |= {w[:i] + c + w[i + 1:] for i in range(len(w)) for c in alphabet}
        out |= {w[:i] + w[i + 1] + w[i] + w[i + 2:] for i in range(len(w) - 1)}
        return out

    for word in words:
        near = one_edit(word)
        for other in near:
            assert hybrid.few_new_letters(hybrid.letters(word), hybrid.letters(other), 1)
        for other in list(near)[::40]:
            for twice in one_edit(other):
                assert hybrid.few_new_letters(hybrid.letters(word), hybrid.letters(twice), 2)
    ruled_out = [(a, b) for a in words for b in words if a != b and not
                 hybrid.few_new_letters(hybrid.letters(a), hybrid.letters(b), 2)]
    assert len(ruled_out) > len(words) * (len(words) - 1) // 2


def test_fulltext_passes_share_a_round_trip_and_rank_as_one_by_one(
        read_sample: FalkorStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The every-word passes go to the engine together; the hits are those the passes
    run one by one would give, in the same order."""
    from triedbefore.graph.dialect import fulltext_terms
    from triedbefore.graph.fulltext import fulltext

    text = "telehealth about Stockport"
    one = read_sample.dialect.fulltext_query(Label.INITIATIVE)
    expected: dict[str, None] = {}
    for words, every in ((["telehealth", "about", "stockport"], True),
                         (["telehealth", "stockport"], True),
                         (["telehealth", "stockport"], False)):
        for r in read_sample.read(one, {"q": fulltext_terms(read_sample.dialect, words, every),
                                        "limit": 10}):
            expected.setdefault(str(r["node"]["id"]))
    reads: list[str] = []
    read = read_sample.read

    def counting(statement: str, params: dict[str, Any] | None = None) -> Any:
        reads.append(statement)
        return read(statement, params)

    monkeypatch.setattr(read_sample, "read", counting)
    hits = fulltext(read_sample, Label.INITIATIVE, text, 10)
    assert [str(h["node"]["id"]) for h in hits] == list(expected)[:10]
    assert len(expected) > 1 and len(reads) == 2  # not one round trip per pass


def test_no_statement_writes_more_vectors_than_the_write_batch(
        store: FalkorStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine indexes every vector a statement writes before it answers anything
    else (a Sentinel's PING included): ingest and the public copy's rebuild write them a
    few at a time, and every vector still arrives, indexed, in both graphs."""
    from triedbefore.graph import falkor

    monkeypatch.setattr(vectors, "VECTOR_WRITE_BATCH", 3)
    monkeypatch.setattr(falkor, "VECTOR_WRITE_BATCH", 3)
    sizes: list[int] = []
    run = FalkorStore._run

    def counted(self: FalkorStore, query: str, params: Any, **kw: Any) -> Any:
        if query and "vecf32(" in query and not kw.get("read_only"):
            sizes.append(len((params or {}).get("rows") or (params or {}).get("ids") or []))
        return run(self, query, params, **kw)

    monkeypatch.setattr(FalkorStore, "_run", counted)
    ingest(store, SAMPLE)
    store.rebuild_public_copy()
    retyped = _vector_rows(store)
    assert retyped > 3 and sizes and max(sizes) <= 3
    assert sum(sizes) >= 2 * retyped  # each vector written to the graph, then its copy
    assert all(size > 0 for size in sizes)  # never a statement over a whole label
    copy = store.public_copy()
    for label in vectors.VECTOR_LABELS:
        there = {r["id"] for r in copy.read(queries.vector_node_ids(label))}
        assert there <= {r["id"] for r in store.read(queries.vector_node_ids(label))}
        assert there == {r["id"] for r in copy.read(f"MATCH (n:{label.value}) RETURN n.id AS id")}
    # vectors again in the rebuilt copy, found by its vector index
    found = copy.read(store.dialect.vector_query(Label.INITIATIVE),
                      {"k": 3, "v": vectors.query_vector("frail patients at home",
                                                         Label.INITIATIVE)})
    assert len(found) == 3
