"""Whole-graph answers computed once per graph version and shared by every process
(``web/answers.py``): a fresh process loads them, an ingest that changes the graph
makes new ones, and the kept answers equal a recompute."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import RowsSource, ingest, run
from triedbefore.web import answers

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"

#: Pages whose first request needs the whole-graph answers.
PAGES = ("/index.json", "/search.json?q=telehealth", "/solutions.json",
         "/solutions/SOL-TELE.json", "/zombies.json", "/gap-map.json",
         "/gap-map.json?by=intervention_type")


def _slow_compute(log: str) -> str:
    with open(log, "a") as fh:
        fh.write("computed\n")
    time.sleep(0.5)
    return "answer"


def _get_shared(root: str, log: str, out: Any) -> None:
    out.put(answers.AnswerFiles(root, ("store", "g"), (1, "run-1", "t")).get(
        "verdicts", lambda: _slow_compute(log)))


def test_an_answer_is_computed_once_per_version_by_concurrent_processes(
        tmp_path: Path) -> None:
    log = tmp_path / "computed.log"
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_get_shared, args=(str(tmp_path / "a"), str(log), out))
             for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert [out.get(timeout=5) for _ in procs] == ["answer"] * 3
    assert log.read_text().splitlines() == ["computed"]


def test_a_new_version_is_computed_again_and_older_versions_go(tmp_path: Path) -> None:
    calls: list[int] = []

    def files(version: int) -> answers.AnswerFiles:
        return answers.AnswerFiles(tmp_path, ("store", "g"), (version, f"run-{version}", "t"))

    for version in (1, 1, 2, 2, 3):
        assert files(version).get("stats", lambda v=version: calls.append(v) or v) == version
    assert calls == [1, 2, 3]
    kept = {p for p in files(3).store_dir.iterdir()}
    assert kept == {files(3).folder, files(2).folder}  # the one before stays for a while
    # another store, or the same version number after the graph was made again, is its own
    other = answers.AnswerFiles(tmp_path, ("store", "g"), (3, "run-other", "t"))
    assert other.get("stats", lambda: "fresh") == "fresh"


def test_answers_are_not_read_from_a_folder_others_may_write(tmp_path: Path) -> None:
    files = answers.AnswerFiles(tmp_path, ("store", "g"), (1, "r", "t"))
    assert files.get("stats", lambda: "mine") == "mine"
    files.folder.chmod(0o777)
    try:
        assert files.get("stats", lambda: "recomputed") == "recomputed"
    finally:
        files.folder.chmod(0o700)


_FRESH = textwrap.dedent("""
    import json, sys
    from triedbefore.web import explore
    from triedbefore.web.app import create_app
    uri, folder, pages = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    client = create_app({"TESTING": True, "STORE_URI": uri, "SECRET_KEY": "t",
                         "ANSWERS_DIR": folder}).test_client()
    status = {page: client.get(page).status_code for page in pages}
    print(json.dumps({"status": status, "computed": dict(explore.COMPUTED)}))
""")


def _fresh_process(store: FalkorStore, folder: Path) -> dict[str, Any]:
    """A new explorer process's first request of every page: their status codes and the
    answers that process computed."""
    done = subprocess.run([sys.executable, "-c", _FRESH, store.uri.raw, str(folder),
                           json.dumps(PAGES)], capture_output=True, text=True, timeout=120,
                          check=True)
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


def _pages(store: FalkorStore, folder: Path | None) -> dict[str, Any]:
    """Every page's JSON, from answers held in no process's memory: kept ones when
    ``folder`` holds them, else computed."""
    from triedbefore.web import explore
    from triedbefore.web.app import create_app

    explore.forget()
    client = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "t",
                         "ANSWERS_DIR": str(folder) if folder else None}).test_client()
    out = {}
    for page in PAGES:
        res = client.get(page)
        assert res.status_code == 200, (page, res.get_data(as_text=True)[:300])
        out[page] = res.get_json()
    explore.forget()
    return out


def _shared_computed() -> dict[str, int]:
    from triedbefore.web import explore

    return {n: c for n, c in explore.COMPUTED.items() if explore._shared(n)}


def test_a_fresh_process_loads_the_answers_it_does_not_compute_them(
        store: FalkorStore, tmp_path: Path) -> None:
    from triedbefore.web import explore
    from triedbefore.web.app import create_app

    assert ingest(store, SAMPLE).exit_code == 0
    folder = tmp_path / "answers"
    # the explorer that starts first computes them (warm), once
    app = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "t",
                      "ANSWERS_DIR": str(folder)})
    explore.forget()
    explore.COMPUTED.clear()
    with app.test_request_context("/"):
        explore.warm()
    computed = _shared_computed()
    assert {"verdicts", "zombie_rows", "evidence", "gap:solution", "stats"} <= set(computed)
    assert set(computed.values()) == {1}
    explore.forget()
    # a new process (a restarted explorer, another worker) computes none of them
    fresh = _fresh_process(store, folder)
    assert set(fresh["status"].values()) == {200}, fresh["status"]
    assert {n: c for n, c in fresh["computed"].items() if explore._shared(n)} == {}
    # without the kept answers, the same process would have computed them
    other = _fresh_process(store, tmp_path / "empty")
    assert {"verdicts", "zombie_rows", "gap:solution"} <= set(other["computed"])


NEW_EVIDENCE = {
    "solutions.csv": [{"solution_id": "SOL-NEW", "name": "Bedside falls sensors",
                       "description": "Pressure sensors under mattresses alert staff.",
                       "intervention_type": "delivery_arrangements",
                       "technology": "true"}],
    "initiatives.csv": [
        {"initiative_id": f"INI-NEW-{n}", "title": f"Falls sensors on ward {n}",
         "solution_id": "SOL-NEW", "site_ids": site, "start_date": start}
        for n, (site, start) in enumerate((("04N", "2015-01"), ("03R", "2016-01"),
                                           ("QT1", "2021-06")))],
    "evaluations.csv": [{"evaluation_id": "EVAL-NEW", "initiative_ids": "INI-NEW-0|INI-NEW-1",
                         "title": "Falls sensors did not reduce falls",
                         "design": "rct", "finding": "negative",
                         "published_date": "2018-05", "independent": "true"}],
}


def test_kept_answers_follow_an_ingest_and_equal_a_recompute(
        store: FalkorStore, tmp_path: Path) -> None:
    from triedbefore.web import explore

    assert ingest(store, SAMPLE).exit_code == 0
    folder = tmp_path / "answers"
    before = _pages(store, folder)  # computed and kept for this version
    assert _pages(store, folder) == before
    result = run(store, RowsSource("new evidence", NEW_EVIDENCE))
    assert result.exit_code == 0, result.errors[:3]
    explore.COMPUTED.clear()
    after = _pages(store, folder)  # the version changed: computed again, and kept
    assert {"verdicts", "zombie_rows", "gap:solution"} <= set(_shared_computed())
    explore.COMPUTED.clear()
    assert _pages(store, folder) == after  # now loaded
    assert _shared_computed() == {}
    assert _pages(store, None) == after  # exact: the same as computing them afresh
    # and the ingest's change shows
    assert after != before
    rows = {r["row"]: r for r in after["/gap-map.json"]["cells"]["items"]}
    assert "SOL-NEW" in rows and "SOL-NEW" not in {
        r["row"] for r in before["/gap-map.json"]["cells"]["items"]}
    assert [z["initiative_id"] for z in after["/zombies.json"]["zombies"]["items"]
            if z["solution_id"] == "SOL-NEW"] == ["INI-NEW-2"]
