"""The labelled set of ``bench/quality_search.py`` (paraphrases, typos, proposals) keeps its
rules, and the checker that enforces them catches a file that breaks them."""

from __future__ import annotations

import csv
import hashlib
import random
import shutil
import sys
from pathlib import Path

import pytest

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import quality_search as qs  # noqa: E402


def test_labelled_set_keeps_its_rules() -> None:
    """Ids of the demo bundle (the first of each row a real solution), a note wherever
    several ids are acceptable, at most one content word shared with each expected
    solution's name, one or two typos, 3-6 sentences, and the split the hash gives."""
    assert qs.problems() == []


def test_labelled_set_is_large_enough_and_30_percent_held_out() -> None:
    sizes = {"paraphrases.csv": 100, "typos.csv": 50, "proposals.csv": 30}
    for name, least in sizes.items():
        rows = qs.load(name)
        assert len(rows) >= least, name
        assert {r["split"] for r in rows} == {"dev", "test"}, name
        assert sum(r["split"] == "test" for r in rows) == round(0.3 * len(rows)), name
    personas = {r["persona"] for r in qs.load("paraphrases.csv")}
    assert personas == {"nurse", "GP", "manager", "commissioner", "patient"}


def test_the_hash_split_is_reproducible() -> None:
    """The held-out rows are the 30 % with the smallest SHA-256 digests of their text,
    whatever the order the rows are read in."""
    rows = qs.load("paraphrases.csv")
    texts = [r["query"] for r in rows]
    shuffled = texts[:]
    random.Random(3).shuffle(shuffled)
    assert qs.held_out(shuffled) == qs.held_out(texts)
    digests = sorted(hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts)
    cut = digests[round(0.3 * len(texts)) - 1]
    assert {r["query"] for r in rows if r["split"] == "test"} == {
        t for t in texts if hashlib.sha256(t.encode("utf-8")).hexdigest() <= cut}


def test_older_files_keep_their_modulo_rule() -> None:
    """``resolution.csv`` and ``search_queries.csv`` hold out rows whose digest is 0-2
    modulo 10, new rows included."""
    for name, column in (("resolution.csv", "title"), ("search_queries.csv", "query")):
        for row in qs.load(name):
            digest = int(hashlib.sha256(row[column].encode("utf-8")).hexdigest(), 16)
            assert row["split"] == ("test" if digest % 10 < 3 else "dev"), row[column]


def test_content_words_and_typos() -> None:
    assert qs.shared_content_words("home telehealth for people",
                                   "Home telehealth for people with long-term conditions") \
        == {"home", "telehealth", "people"}
    assert qs.shared_content_words("a visit at the nursing homes", "Enhanced health in care "
                                   "homes") == {"home"}
    assert qs.content_words("it is what it is") == set()
    assert qs.stem("access") == "access" and qs.stem("therapies") == "therapy"
    assert qs.edits("telehelth copd", "telehealth copd") == 1
    assert qs.edits("hosptial at hme", "hospital at home") == 2  # a swap is one typo
    assert qs.edits("hospital", "hospital at home") is None
    assert qs.sentences("One. Two! Three? £300,000 is 3.5 times more.") == 4


@pytest.mark.parametrize(("name", "column", "value", "complaint"), [
    ("paraphrases.csv", "query", "acute hospital at home for frail patients", "shares"),
    ("paraphrases.csv", "expected_solution_ids", "SOL-NOPE", "not in the demo bundle"),
    ("paraphrases.csv", "expected_solution_ids", "SOL-TELE", "is illustrative"),
    ("paraphrases.csv", "split", "flip", "the hash says"),
    ("typos.csv", "query", "telehealth copd", "0 typos"),
    ("typos.csv", "notes", "", "no note"),
    ("proposals.csv", "proposal", "Too short. Two sentences.", "2 sentences"),
    ("proposals.csv", "expected_initiative_solution_ids", "", "no expected_initiative"),
])
def test_the_checker_catches_a_broken_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           name: str, column: str, value: str,
                                           complaint: str) -> None:
    shutil.copytree(qs.QUALITY, tmp_path, dirs_exist_ok=True)
    rows = qs.load(name)
    target = next((r for r in rows if qs.ids(r["expected_solution_ids"])[1:]), rows[0]) \
        if column == "notes" else rows[0]
    if column == "split":
        target["split"] = "dev" if target["split"] == "test" else "test"
    else:
        target[column] = value
    with (tmp_path / name).open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    monkeypatch.setattr(qs, "QUALITY", tmp_path)
    found = qs.problems()
    assert found and all(p.startswith(name) for p in found)
    assert any(complaint in p for p in found), found


def test_ranks_count_solutions_and_all_kinds() -> None:
    hits = [{"kind": "initiative", "id": "INI-1"}, {"kind": "solution", "id": "SOL-A"},
            {"kind": "solution", "id": "SOL-B"}]
    assert qs.ranks(hits, ("SOL-B", "SOL-X")) == (2, 3)
    assert qs.ranks(hits, ("SOL-X",)) == (None, None)


def test_the_harness_runs_the_search_and_check_on_the_demo(read_demo: FalkorStore) -> None:
    """The harness's own calls on the demo graph (real search and check): rows come back
    measured, with the expected ids and ranks within the limit."""
    rows = qs.load("typos.csv")[:4]
    measured = qs.run_queries(read_demo, rows, "expected_solution_ids")
    assert [m["query"] for m in measured] == [r["query"] for r in rows]
    assert all(m["rank"] is None or 1 <= m["rank"] <= qs.SEARCH_LIMIT for m in measured)
    assert qs.query_figures(measured)["all"]["queries"] == 4
    checked = qs.run_proposals(read_demo)
    assert len(checked) == len(qs.load("proposals.csv"))
    declared = qs.demo_declared_solutions()
    for c in checked:  # an initiative belongs to the solution the bundle declares for it
        if c["first_initiative"] in declared:
            assert c["first_initiative_solution"] == declared[c["first_initiative"]]
    figures = qs.proposal_figures(checked)
    assert figures["all"]["proposals"] == len(checked)


def test_the_harness_refuses_a_broken_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A labelled set that breaks its rules stops the run before any graph is built."""
    shutil.copytree(qs.QUALITY, tmp_path, dirs_exist_ok=True)
    with (tmp_path / "typos.csv").open("a", encoding="utf-8") as f:
        f.write("telehealth,telehealth,SOL-TELEHEALTH-LTC,,dev\n")
    monkeypatch.setattr(qs, "QUALITY", tmp_path)
    monkeypatch.setattr(qs, "Graphs", None)  # building a graph would fail the test
    assert qs.main([]) == 2
    assert "0 typos" in capsys.readouterr().err


def test_the_catalogue_bundle_loads(store: FalkorStore, tmp_path: Path) -> None:
    """The older set's catalogue and resolution rows load as a valid bundle."""
    result = ingest(store, qs.write_catalogue_bundle(tmp_path / "catalogue"))
    assert result.errors == [] and result.exit_code == 0
    assert result.loaded["initiatives"] == len(qs.load("resolution.csv")) + 1  # and the seed
    assert result.loaded["solutions"] == len(qs.load("solutions.csv"))
