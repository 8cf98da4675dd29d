"""Search quality rules: the relative relevance floor, a solution's meaning as the
nearest of its own texts and initiatives (kept current when solutions change), and the
proposal check's closest solutions in the order of search's fusion."""

from __future__ import annotations

import csv
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from triedbefore.graph import embedding, hybrid, queries, vectors
from triedbefore.graph import search as searching
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.matching import SUGGEST_THRESHOLD
from triedbefore.ingest.pipeline import ingest
from triedbefore.ontology.vocab import Label

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
needs_model = pytest.mark.skipif(not embedding.available(),
                                 reason="the sentence model package is not installed")

W, M = hybrid.WORDS_FLOOR, hybrid.MEANING_FLOOR
WM, MM = hybrid.WORDS_MARGIN, hybrid.MEANING_MARGIN


# --- the relevance floor --------------------------------------------------------------------


@pytest.mark.parametrize(("best_words", "best_meaning", "expected"), [
    (0.0, None, (W, M)),                        # nothing found: the absolute floors
    (W, M, (W, M)),                             # weak best hits: the absolute floors
    (1.0, None, (1.0 - WM, M)),                 # every word held by one: within the margin
    (1.0, 1.0, (1.0 - WM, 1.0 - MM)),
    (0.6, M + MM / 2, (W, M)),                  # the best close to the floors: no higher
    (0.9, 0.62, (max(W, 0.9 - WM), 0.62 - MM)),
])
def test_floors_rise_to_within_a_margin_of_the_best(
        best_words: float, best_meaning: float | None, expected: tuple[float, float]) -> None:
    assert hybrid.floors(best_words, best_meaning) == pytest.approx(expected)


@pytest.mark.parametrize(("words", "meaning", "floors", "listed", "close"), [
    (1.0, None, (W, M), True, False),            # the words alone list it
    (0.5, None, (1.0 - WM, M), False, False),    # one word of two, another holds both
    (0.0, 0.45, (W, M), True, True),             # the meaning alone lists it
    (0.0, 0.45, (W, 0.85 - MM), False, False),   # far below the best of its kind
    (0.5, 0.75, (1.0 - WM, 0.85 - MM), True, True),
    (0.0, None, (W, M), False, False),
    # surely near however near the best is: a second solution as close as 0.80 to a query
    # the first one names outright (cosine 1.0) is listed
    (0.5, hybrid.MEANING_SURE, (1.0 - WM, 1.0 - MM), True, True),
    (0.5, hybrid.MEANING_SURE - 0.01, (1.0 - WM, 1.0 - MM), False, False),
])
def test_a_hit_is_listed_when_it_reaches_either_floor(
        words: float, meaning: float | None, floors: tuple[float, float], listed: bool,
        close: bool) -> None:
    hit = hybrid.Hit(Label.INITIATIVE, "X", words_score=words, meaning=meaning,
                     words_floor=floors[0], meaning_floor=floors[1])
    assert hit.listed() is listed
    assert (hit.why()["meaning"] is not None) is close  # "similar meaning" only when close


def test_the_sum_before_the_cap_orders_records_at_the_cap() -> None:
    named_and_nearest, named = (1, 1, 1.0), (2, 2, 1.0)
    assert hybrid.rrf(*named_and_nearest) == hybrid.rrf(*named) == 1.0
    assert hybrid.rrf_sum(*named_and_nearest) > hybrid.rrf_sum(*named) > 1.0
    assert hybrid.rrf_sum(3, None) == pytest.approx(hybrid.rrf(3, None))


@needs_model
def test_hospital_at_home_lists_its_own_records_first_and_not_the_noise(
        read_sample: FalkorStore) -> None:
    listed = hybrid.search(read_sample, "hospital at home", 0)
    every = hybrid.search(read_sample, "hospital at home", 0, everything=True)
    ids = [h["id"] for h in listed["hits"]]
    # the records holding both of the query's words, the Wirral initiative among them, lead
    lead = [h for h in listed["hits"][:5]]
    assert all({w.rstrip("s") for w in h["why"]["words"]} >= {"hospital", "home"}
               for h in lead), [(h["name"], h["why"]) for h in lead]
    assert ids[0] == "SOL-VW" and "INI-0034" in [h["id"] for h in lead]
    # the diagnostic centre holds "hospital" once and is not near in meaning: not listed
    assert "SOL-CDC" not in ids
    assert "SOL-CDC" in [h["id"] for h in every["hits"]]
    assert 3 * len(ids) <= len(every["hits"])  # the floors cut at least two thirds
    for h in listed["hits"]:  # why it matched reads right: its words, or close meaning
        assert h["why"]["words"] or h["why"]["meaning"] is not None


@needs_model
def test_a_query_no_record_holds_a_word_of_lists_only_what_is_surely_near(
        read_sample: FalkorStore) -> None:
    """Letters at random, or a language the graph is not written in: the model still
    places the query somewhere, near something. Nothing is listed unless it is surely
    near, and the answer says nothing close was found; the weaker matches are counted."""
    for text in ("xqzvbn", "qwpzx vbnmkj", "الرعاية الصحية عن بعد"):
        found = hybrid.search(read_sample, text, 0)
        assert found["hits"] == [], (text, found["hits"][:3])
        assert found["below_floor"] > 0 and found["listed"] == 0
        assert found["message"] == hybrid.NOTHING_CLOSE
        every = hybrid.search(read_sample, text, 0, everything=True)
        assert all(not h["listed"] for h in every["hits"]) and every["hits"]
    # a query whose words the graph holds is not held to that
    assert hybrid.search(read_sample, "hospital at home", 0)["message"] is None


@needs_model
def test_a_record_holding_every_word_of_the_query_is_listed_whatever_ranked_it(
        read_sample: FalkorStore) -> None:
    """The words' share counts for every hit, also those only meaning ranked: a solution
    whose text holds all the query's words is not hidden behind one the words ranked."""
    found = hybrid.search(read_sample, "hospital at home", 0, everything=True)
    for h in found["hits"]:
        if {w.rstrip("s") for w in h["why"]["words"]} >= {"hospital", "home"}:
            assert h["listed"], h


# --- words next to each other -----------------------------------------------------------------

_FORMS = {"virtual": {"virtual"}, "ward": {"ward", "wards"}, "hospital": {"hospital"},
          "home": {"home", "homes"}, "frail": {"frail"}}


@pytest.mark.parametrize(("content", "fields", "share"), [
    (["virtual", "ward"], [["virtual", "ward", "pilot"]], 1.0),
    (["virtual", "ward"], [["virtual", "reality", "headsets", "children", "ward"]], 0.0),
    (["virtual", "ward"], [["wards", "virtual"]], 1.0),            # either order, any form
    (["virtual", "ward"], [["virtual"], ["ward"]], 0.0),           # not across two fields
    (["hospital", "home", "frail"], [["hospital", "home", "older", "frail"]], 0.5),
    (["hospital", "home", "frail"], [["frail", "home", "hospital"]], 1.0),  # reversed
    (["hospital"], [["hospital", "home"]], 0.0),                   # one word: no pair
    (["virtual", "ward"], [], 0.0),
])
def test_the_share_of_neighbouring_query_words_a_record_holds_together(
        content: list[str], fields: list[list[str]], share: float) -> None:
    assert hybrid.adjacent_share(content, fields, _FORMS) == pytest.approx(share)


@needs_model
def test_records_named_with_the_query_as_a_phrase_rank_above_its_words_apart(
        read_demo: FalkorStore) -> None:
    """"virtual ward": the real virtual ward initiatives, named so, come before the
    illustrative "Virtual reality headsets for children on the ward", which holds both
    words apart in its title (and says in its description that it is no virtual ward)."""
    found = hybrid.search(read_demo, "virtual ward", 0, everything=True)
    initiatives = [h["id"] for h in found["hits"] if h["kind"] == "initiative"]
    assert "INI-0066" in initiatives
    for real in ("LP-I04", "IC-I08"):  # Sheffield's pilot; NHS England South East's
        assert initiatives.index(real) < initiatives.index("INI-0066"), initiatives


# --- a solution's meaning -------------------------------------------------------------------


@needs_model
def test_a_solution_is_as_near_as_its_nearest_text(read_sample: FalkorStore) -> None:
    vector = vectors.query_vector("acute care at home")  # an alias of SOL-VW, alone
    whole = dict(vectors.nearest(read_sample, Label.SOLUTION, vector, 50))
    near = hybrid.solution_meaning(read_sample, vector, list(whole.items()), [])
    assert near[0][0] == "SOL-VW" and near[0][1] == pytest.approx(1.0, abs=1e-3)
    assert whole["SOL-VW"] < 0.9  # the whole text, name to tags, is much less near
    # an initiative near the query lends its cosine to its solution
    lent = dict(hybrid.solution_meaning(read_sample, None, [("SOL-VW", 0.2)],
                                        [("INI-0031", 0.93)]))
    assert lent["SOL-VW"] == pytest.approx(0.93)


@needs_model
def test_solution_texts_are_embedded_again_only_when_they_change(
        store: FalkorStore, tmp_path: Path, fresh_kept: Path) -> None:
    ingest(store, SAMPLE)
    first = hybrid.solution_parts(store)
    assert first is not None and len(set(first.owners)) == 12
    ran = embedding.computed
    ingest(store, SAMPLE)  # unchanged: the same vectors, nothing embedded
    assert hybrid.solution_parts(store) is first and embedding.computed == ran

    bundle = tmp_path / "bundle"
    shutil.copytree(SAMPLE, bundle)
    path = bundle / "solutions.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    rows[0]["description"] = "Acute care in the patient's own home, led by a consultant."
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    ran = embedding.computed
    ingest(store, bundle)  # the changed solution's whole text and its new description
    assert embedding.computed - ran == 2
    again = hybrid.solution_parts(store)
    assert again is not first and again is not None
    assert embedding.computed - ran == 2  # made by the ingest, nothing more for search
    assert len(again.owners) == len(first.owners)


@needs_model
def test_a_started_explorer_reads_the_solutions_texts_vectors_the_ingest_kept(
        store: FalkorStore, fresh_kept: Path) -> None:
    ingest(store, SAMPLE)
    # another process: nothing remembered in memory, no parts made yet
    embedding._remembered.clear()
    hybrid._PARTS.clear()
    ran = embedding.computed
    parts = hybrid.solution_parts(store)
    assert parts is not None and len(set(parts.owners)) == 12
    assert embedding.computed == ran  # read from the kept file, not embedded again
    expected = embedding.embed(list(vectors.solution_part_texts(
        store.read(queries.SOLUTION_TEXTS)[0])))
    assert np.allclose(parts.matrix[:len(expected)], expected, atol=1e-6)
    # users' queries are never kept
    kept = sqlite3.connect(fresh_kept).execute("SELECT count(*) FROM vector").fetchone()[0]
    embedding._remembered.clear()
    vectors.query_vector("someone phones patients after discharge to check their tablets")
    assert sqlite3.connect(fresh_kept).execute(
        "SELECT count(*) FROM vector").fetchone()[0] == kept


# --- the proposal check's closest solutions ---------------------------------------------------


class _Matcher:
    def __init__(self, found: list[tuple[str, float]]) -> None:
        self.found = found

    def match(self, text: str, k: int = 5) -> list[tuple[str, float]]:
        return self.found[:k]


def test_closest_solutions_follow_the_fusion_not_the_words_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    meaning = [("SOL-B", 0.8), ("SOL-C", 0.7), ("SOL-A", 0.2), ("SOL-D", 0.3)]
    monkeypatch.setattr(vectors, "query_vector", lambda text: None)
    monkeypatch.setattr(hybrid, "solution_meaning", lambda *args: meaning)
    matcher: Any = _Matcher([("SOL-A", 0.40), ("SOL-B", 0.36), ("SOL-E", 0.1)])
    closest = searching._closest(None, matcher, "a proposal", 5)  # type: ignore[arg-type]
    # SOL-B: second by words, first by meaning, leads SOL-A (first by words only)
    assert [sid for sid, _ in closest] == ["SOL-B", "SOL-A", "SOL-C"]
    scores = dict(closest)
    assert scores["SOL-A"] == 0.40 and scores["SOL-B"] == 0.36  # the matcher's scores
    # by meaning alone: its cosine below the suggestion threshold (never a zombie risk)
    assert scores["SOL-C"] == pytest.approx(SUGGEST_THRESHOLD * 0.7)
    assert "SOL-D" not in scores and "SOL-E" not in scores  # below both floors
