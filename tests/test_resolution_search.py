"""Solution resolution with curator decisions, search and the proposal check on the sample."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from triedbefore.graph import analytics, resolution, search
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.curation import decide
from triedbefore.ingest.pipeline import ingest
from triedbefore.web.cli import cli

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
EXPECTED = {"INI-0018": "SOL-EHCH", "INI-0034": "SOL-VW", "INI-0039": "SOL-SPLW",
            "INI-0047": "SOL-DT", "INI-0051": "SOL-PMR", "INI-0060": "SOL-D2A",
            "INI-0063": "SOL-SDEC"}
DECOY = "INI-0066"


@pytest.fixture
def sample(store: FalkorStore) -> FalkorStore:
    result = ingest(store, SAMPLE)
    assert result.exit_code == 0
    assert sum(result.resolution.values()) == 8  # resolution ran as part of ingest
    return store


def links(store: FalkorStore, iid: str) -> dict[str, str]:
    rows = store.read("MATCH (:Initiative {id: $id})-[l:IMPLEMENTS]->(s:Solution) "
                      "RETURN s.id AS s, l.how AS how", {"id": iid})
    return {r["s"]: r["how"] for r in rows}


def test_ingest_resolves_initiatives_without_solution(sample: FalkorStore) -> None:
    for iid, sid in EXPECTED.items():
        got = links(sample, iid)
        assert sid in got and got[sid] in ("inferred", "suggested"), (iid, got)
    assert "inferred" not in links(sample, DECOY).values()
    state = {r.initiative_id: r for r in resolution.resolve(sample)}
    assert set(state) == set(EXPECTED) | {DECOY}
    inferred = [r for r in state.values() if r.status == "inferred"]
    assert inferred and all(EXPECTED.get(r.initiative_id) == r.solution_id for r in inferred)
    assert all(r.score is not None and 0 < r.score <= 1 for r in inferred)


def test_resolution_is_idempotent(sample: FalkorStore) -> None:
    before = sample.read("MATCH ()-[l:IMPLEMENTS]->() RETURN l.how AS how, l.run_id AS run "
                         "ORDER BY how, run")
    resolution.resolve(sample)
    after = sample.read("MATCH ()-[l:IMPLEMENTS]->() RETURN l.how AS how, l.run_id AS run "
                        "ORDER BY how, run")
    assert before == after


def test_curator_decisions_survive_reingestion(sample: FalkorStore) -> None:
    decide(sample, "INI-0034", "SOL-VW", "rejected")
    decide(sample, DECOY, "SOL-HIU", "accepted")
    again = ingest(sample, SAMPLE)
    assert sum(again.written.values()) == 0
    state = {(r.initiative_id, r.status): r for r in resolution.resolve(sample)}
    assert ("INI-0034", "rejected") in state
    assert links(sample, "INI-0034").get("SOL-VW") == "rejected"   # never proposed again
    assert links(sample, DECOY) == {"SOL-HIU": "accepted"}
    assert state[(DECOY, "accepted")].solution_id == "SOL-HIU"


def test_declared_solution_replaces_inferred_links(sample: FalkorStore, tmp_path: Path) -> None:
    with open(SAMPLE / "initiatives.csv", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        row = next(r for r in reader if r["initiative_id"] == "INI-0034")
        fields = reader.fieldnames
    row["solution_id"] = "SOL-SDEC"
    with open(tmp_path / "initiatives.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields or [])
        writer.writeheader()
        writer.writerow(row)
    assert ingest(sample, tmp_path).exit_code == 0
    assert links(sample, "INI-0034") == {"SOL-SDEC": "declared"}


def test_inferred_link_counts_for_analytics(sample: FalkorStore) -> None:
    decide(sample, "INI-0063", "SOL-SDEC", "accepted")
    assert "INI-0063" in {i for i in [a.id for a in analytics.iter_attempts(sample)]}


def test_unknown_ids_in_decisions(sample: FalkorStore) -> None:
    with pytest.raises(analytics.NotFound):
        decide(sample, "INI-NOPE", "SOL-VW", "accepted")
    with pytest.raises(analytics.NotFound):
        decide(sample, "INI-0034", "SOL-NOPE", "accepted")


@pytest.mark.parametrize("query, expected", [
    ("hospital at home", "SOL-VW"),
    ("virtual wrds for frail patients", "SOL-VW"),
    ("SDEC", "SOL-SDEC"),
    ("link workers connecting patients to community groups", "SOL-SPLW"),
    ("remote monitoring of COPD at home", "SOL-TELE"),
])
def test_search_finds_the_solution_in_the_top_three(sample: FalkorStore, query: str,
                                                    expected: str) -> None:
    hits = search.search(sample, query, limit=10)
    top = [h["id"] for h in hits if h["kind"] == "solution"][:3]
    assert expected in top, hits[:5]
    assert all(set(h) == {"kind", "id", "name", "score", "why", "listed"} for h in hits)


def test_search_mixes_kinds_and_survives_query_syntax(sample: FalkorStore) -> None:
    hits = search.search(sample, "Wirral")
    assert {h["kind"] for h in hits} & {"initiative", "site"}
    for nasty in ('"unbalanced', "a:b", "%", "*", "(((", "@field:x", "\\", "~1"):
        search.search(sample, nasty)  # never a syntax error from the engine
    assert search.search(sample, "   ") == []


def test_proposal_check_flags_a_zombie(sample: FalkorStore) -> None:
    text = ("Proposal: telehealth home monitoring for people with COPD, daily readings "
            "of oxygen saturation reviewed by a community matron")
    report = search.check(sample, text)
    assert report["matches"][0]["solution_id"] == "SOL-TELE"
    assert report["matches"][0]["verdict"] == "does_not_work"
    assert report["zombie_risk"] is True
    assert "EVAL-0004" in [e["evaluation_id"] for e in report["read_first"]]
    cited = search.check(sample, text + ". We build on the lessons of EVAL-0004.")
    assert cited["zombie_risk"] is False
    then = search.check(sample, text, as_of="2013-01-01")
    assert then["zombie_risk"] is False  # nothing was known in 2013


def test_proposal_check_for_something_that_works(sample: FalkorStore) -> None:
    report = search.check(sample, "Virtual ward (hospital at home) for frail older people")
    assert report["matches"][0]["solution_id"] == "SOL-VW"
    assert report["matches"][0]["verdict"] == "works" and report["zombie_risk"] is False


def test_cli_resolve_search_check_json(sample: FalkorStore) -> None:
    def run(*args: str) -> object:
        res = CliRunner().invoke(cli, ["--store", sample.uri.raw, *args, "--format", "json"])
        assert res.exit_code == 0, res.output
        return json.loads(res.output)

    resolved = run("resolve")
    assert isinstance(resolved, list)
    assert all(set(r) == {"initiative_id", "solution_id", "score", "status"} for r in resolved)
    decided = run("resolve", "--reject", "INI-0034", "SOL-VW")
    assert decided == [{"initiative_id": "INI-0034", "solution_id": "SOL-VW", "score": None,
                        "status": "rejected"}]
    hits = run("search", "hospital", "at", "home", "--limit", "3")
    assert isinstance(hits, list) and len(hits) <= 3
    report = run("check", "telehealth for COPD")
    assert set(report) == {"matches", "zombie_risk", "read_first",  # type: ignore[arg-type]
                           "initiatives", "places", "as_of"}
    assert set(report["matches"][0]) == {  # type: ignore[index]
        "solution_id", "name", "score", "verdict", "strength", "explanation", "illustrative",
        "costs"}


def test_fulltext_prefers_every_word_then_any(sample: FalkorStore) -> None:
    from triedbefore.graph.dialect import FalkorDialect, Neo4jDialect, fulltext_terms
    from triedbefore.ontology.vocab import Label

    words = ["COPD", "Sutton", "Stockport", "x"]  # 4, 6 and 9 letters: 0, 1 and 2 edits
    assert fulltext_terms(FalkorDialect(), words) == "copd|%sutton%|%%stockport%%|x"
    assert fulltext_terms(FalkorDialect(), words, every=True) == \
        "copd %sutton% %%stockport%% x"
    assert fulltext_terms(Neo4jDialect(), words, every=True) == \
        "+copd +sutton~1 +stockport~2 +x"
    # enough nodes with every word: only those come back
    both = search.fulltext(sample, Label.INITIATIVE, "telehealth Stockport", limit=1)
    assert [h["node"]["id"] for h in both] == ["INI-0021"]
    # too few: the nodes with any word follow, the ones with every word first
    more = search.fulltext(sample, Label.INITIATIVE, "telehealth Stockport", limit=10)
    ids = [h["node"]["id"] for h in more]
    assert ids[0] == "INI-0021" and len(ids) > 1 and len(ids) == len(set(ids))
    assert {"INI-0019", "INI-0023"} <= set(ids)


def test_fulltext_leaves_stop_words_out_once_every_word_fails(
        sample: FalkorStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from triedbefore.ontology.vocab import Label

    sent: list[str] = []
    read = sample.read

    def recording(statement: str, params: dict[str, object] | None = None) -> object:
        # the passes a statement runs: $q, or $q0, $q1 … (several in one round trip)
        sent.extend(str(params[k]) for k in sorted(params or {})
                    if k == "q" or (k[0] == "q" and k[1:].isdigit()))
        return read(statement, params)

    monkeypatch.setattr(sample, "read", recording)
    # no initiative has "about": every word fails, every content word finds INI-0021
    hits = search.fulltext(sample, Label.INITIATIVE, "telehealth about Stockport", limit=1)
    assert [h["node"]["id"] for h in hits] == ["INI-0021"]
    assert sent == ["%%telehealth%% %about% %%stockport%%", "%%telehealth%% %%stockport%%"]
    sent.clear()
    more = search.fulltext(sample, Label.INITIATIVE, "telehealth about Stockport", limit=10)
    assert more[0]["node"]["id"] == "INI-0021" and len(more) > 1
    # the any-word pass never sends a stop word: alone it matches most of a large graph
    assert sent[-1] == "%%telehealth%%|%%stockport%%"
    sent.clear()
    # only stop words: they are the query
    search.fulltext(sample, Label.INITIATIVE, "for the", limit=10)
    assert sent == ["for the", "for|the"]


def _pid_and_match(text: str, k: int) -> tuple[int, list[tuple[str, float]]]:
    import os

    return os.getpid(), resolution._FORKED[0].match(text, k=k)


def test_matching_shared_out_to_processes_gives_the_same_answers(
        sample: FalkorStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    matcher = resolution.solution_matcher(sample)
    with open(SAMPLE / "initiatives.csv", newline="", encoding="utf-8") as fh:
        texts = [f"{r['title']}. {r['description']}" for r in csv.DictReader(fh)]
    jobs = [(t, 5) for t in texts * 3]
    alone = [matcher.match(t, k=k) for t, k in jobs]
    monkeypatch.setattr(resolution, "PARALLEL_FROM", 10)
    monkeypatch.setenv("TRIEDBEFORE_MATCH_WORKERS", "2")
    monkeypatch.setattr(resolution, "_match_forked", _pid_and_match)
    shared: list = resolution.match_all(matcher, jobs)  # type: ignore[type-arg]
    assert [m for _, m in shared] == alone
    pids = {pid for pid, _ in shared}
    assert pids and os.getpid() not in pids
    monkeypatch.setenv("TRIEDBEFORE_MATCH_WORKERS", "1")  # one worker: all matched here
    assert resolution.match_all(matcher, jobs[:20]) == alone[:20]
