"""The ingest ledger: the row ids of one run, on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from triedbefore.ingest.ledger import IdSet, IdState, Ledger, Queue
from triedbefore.ontology.vocab import Label


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    with Ledger(tmp_path) as book:
        yield book  # type: ignore[misc]


def test_accepted_rejected_and_graph_ids_per_label(ledger: Ledger) -> None:
    ledger.accept(Label.INITIATIVE, [("I-1", 2, False), ("I-2", 3, True)])
    ledger.reject(Label.INITIATIVE, [("I-3", 4)])
    ledger.mark_in_graph(Label.SITE, ["I-1", "S-9"])
    got = ledger.lookup(Label.INITIATIVE, ["I-1", "I-2", "I-3", "I-4", "I-1"])
    assert got == {"I-1": IdState(2, None, False, False), "I-2": IdState(3, None, True, False),
                   "I-3": IdState(None, 4, False, False)}
    # labels are apart: a site with the same id is another row
    assert ledger.lookup(Label.SITE, ["I-1", "S-9"]) == {
        "I-1": IdState(None, None, False, True), "S-9": IdState(None, None, False, True)}
    assert ledger.count_valid(Label.INITIATIVE) == 2
    assert ledger.state(Label.EVALUATION, "I-1") == IdState(None, None, False, False)


def test_reject_keeps_the_first_line_and_drops_only_that_lines_validity(ledger: Ledger) -> None:
    ledger.reject(Label.SITE, [("S-1", 5)])
    ledger.accept(Label.SITE, [("S-1", 9, False)])  # a later row with the id is valid
    ledger.reject(Label.SITE, [("S-1", 7)])  # another line: the valid row stays
    assert ledger.state(Label.SITE, "S-1") == IdState(9, 5, False, False)
    ledger.reject(Label.SITE, [("S-1", 9)])  # the valid row itself
    assert ledger.state(Label.SITE, "S-1") == IdState(None, 5, False, False)
    assert ledger.count_valid(Label.SITE) == 0


def test_lookups_larger_than_one_statement(ledger: Ledger,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import triedbefore.ingest.ledger as module

    monkeypatch.setattr(module, "LOOKUP_CHUNK", 7)
    ids = [f"I-{n:03d}" for n in range(50)]
    ledger.accept(Label.INITIATIVE, [(i, n, False) for n, i in enumerate(ids)])
    assert {i: s.valid for i, s in ledger.lookup(Label.INITIATIVE, ids).items()} == {
        i: n for n, i in enumerate(ids)}


def test_id_set_pages_in_order_and_survives_changes_while_iterating(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(IdSet, "PAGE", 3)
    touched = ledger.id_set("touched")
    other = ledger.id_set("other")
    assert not touched and len(touched) == 0
    touched.update(["b", "a", "d", "c", "e", "a", "g", "f"])
    other.add("zz")
    assert list(touched) == ["a", "b", "c", "d", "e", "f", "g"]
    assert len(touched) == 7 and touched and "c" in touched and "zz" not in touched
    assert 3 not in touched
    seen = []
    for item in touched:
        seen.append(item)
        touched.discard(item)
    assert seen == ["a", "b", "c", "d", "e", "f", "g"] and not touched
    assert list(other) == ["zz"]


def test_queue_gives_items_back_in_order_a_page_at_a_time(ledger: Ledger) -> None:
    q: Queue = ledger.queue("deferred")
    q.put(str(n) for n in range(7))
    ledger.queue("else").put(["x"])
    assert list(q.pages(3)) == [["0", "1", "2"], ["3", "4", "5"], ["6"]]
    assert list(q.pages(7)) == [[str(n) for n in range(7)]]
    assert len(q) == 7
    q.clear()
    assert list(q.pages(3)) == [] and len(ledger.queue("else")) == 1


def test_close_removes_the_file(tmp_path: Path) -> None:
    book = Ledger(tmp_path)
    book.accept(Label.SITE, [("S-1", 2, False)])
    assert [p.name for p in tmp_path.iterdir()][0].startswith("triedbefore-ingest-")
    book.close()
    assert list(tmp_path.iterdir()) == []


def test_loader_removes_its_ledger_after_a_run(store: object, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from triedbefore.ingest import loader

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made: list[Path] = []

    class Recorded(Ledger):
        def __init__(self) -> None:
            super().__init__()
            made.append(Path(self._folder.name))

    monkeypatch.setattr(loader, "Ledger", Recorded)
    sample = Path(__file__).resolve().parents[1] / "ingest" / "sample"
    from triedbefore.ingest.pipeline import ingest

    result = ingest(store, sample)  # type: ignore[arg-type]
    assert result.exit_code == 0 and result.loaded["initiatives"] > 0
    assert len(made) == 1 and made[0].parent == tmp_path and not made[0].exists()


def test_a_killed_runs_ledger_is_removed_by_the_next_run(tmp_path: Path) -> None:
    import subprocess
    import sys

    # a run killed before its clean-up: its folder stays, with its (now dead) pid
    code = ("import os, sys; from triedbefore.ingest.ledger import Ledger; "
            "b = Ledger(sys.argv[1]); os._exit(0)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    left = [p for p in tmp_path.iterdir()]
    assert len(left) == 1 and (left[0] / "ledger.sqlite").exists()
    with Ledger(tmp_path) as live:
        # the dead run's folder went; a live run's stays while it runs
        assert [p.name for p in tmp_path.iterdir()] == [Path(live._folder.name).name]
        Ledger(tmp_path).close()
        assert (Path(live._folder.name) / "ledger.sqlite").exists()
    assert list(tmp_path.iterdir()) == []
