"""`triedbefore serve`: one process with threads, or gunicorn worker processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from processes import children

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest
from triedbefore.web import explore

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_then_stops_on_sigterm(store: FalkorStore, store_uri: str,
                                             workers: int) -> None:
    ingest(store, SAMPLE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "triedbefore.web.cli", "--store", store_uri, "serve",
         "--port", "0", "--workers", str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TRIEDBEFORE_SECRET_KEY": "test"})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/ \((\d+) workers?;", line)
        assert found, (line, proc.stderr.read() if proc.poll() is not None else "")
        assert int(found.group(2)) == workers
        base = f"http://127.0.0.1:{found.group(1)}"
        for _ in range(6):
            res = requests.get(base + "/solutions/SOL-TELE.json", timeout=60)
            assert res.status_code == 200
            assert res.json()["verdict"]["verdict"] == "does_not_work"
        assert requests.get(base + "/solutions/NOPE.json", timeout=30).status_code == 404
        _long_proposals_and_addresses(base)
        # with several workers, the command's process is gunicorn's master over them
        wanted = workers if workers > 1 else 0
        deadline = time.monotonic() + 10
        while len(children(proc.pid)) != wanted and time.monotonic() < deadline:
            time.sleep(0.1)
        seen = len(children(proc.pid))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, log = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode is not None
    # every worker booted once: none died and was started again (its error would be here)
    assert seen == wanted, log
    assert log.count("Booting worker") == (workers if workers > 1 else 0), log
    # no control socket at the one path per user that two explorers would share
    assert "Control socket" not in log, log


def _long_proposals_and_addresses(base: str) -> None:
    """A proposal longer than gunicorn's 8,190-character request line is checked by POST,
    as the page's form sends it (no CSRF token: the check only reads); an address too
    long for the server in front of the app is refused in the JSON envelope, whichever
    server it is."""
    proposal = "Telehealth monitoring for COPD patients at home, read by nurses daily. " * 125
    assert 8190 < len(proposal) <= 10_000
    res = requests.post(base + "/check.json", data={"q": proposal}, timeout=120)
    assert res.status_code == 200, res.text[:300]
    assert res.json()["report"]["matches"][0]["solution_id"] == "SOL-TELE"
    page = requests.post(base + "/check", data={"q": proposal}, timeout=120)
    assert page.status_code == 200 and "Telehealth monitoring for COPD" in page.text
    # the longest text the search box takes, in the widest characters, fits the line
    widest = "\U0001F3E5" * explore.SEARCH_INPUT_MAX  # 4 bytes each, 12 in the address
    res = requests.get(base + "/search", params={"q": widest, "region": "South East"},
                       timeout=120)
    assert res.status_code == 200 and "only its beginning was searched" in res.text
    assert f'maxlength="{explore.SEARCH_INPUT_MAX}"' in res.text
    res = requests.get(base + "/solutions.json?q=" + "x" * 70_000, timeout=60)
    assert res.status_code == 414 and res.headers["Content-Type"] == "application/json"
    assert res.json()["status"] == 414 and not res.json()["ok"], res.text


def test_serve_with_an_unreachable_store_is_one_line(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "triedbefore.web.cli", "--store",
         f"falkordb+unix://{tmp_path}/none.sock", "serve", "--workers", "2"],
        capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_is_ready_once_the_shared_answers_are_kept(
        store: FalkorStore, store_uri: str, workers: int, tmp_path: Path) -> None:
    """The address is printed only once the whole-graph answers of the graph's version are
    on disk, and the workers load them: serving pages computes none again."""
    ingest(store, SAMPLE)
    answers = tmp_path / "data" / "cache" / "answers"
    proc = subprocess.Popen(
        [sys.executable, "-m", "triedbefore.web.cli", "--store", store_uri, "serve",
         "--port", "0", "--workers", str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TRIEDBEFORE_SECRET_KEY": "test",
             "TRIEDBEFORE_DATA_DIR": str(tmp_path / "data")})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, (line, proc.stderr.read() if proc.poll() is not None else "")
        kept = {p: p.stat().st_mtime_ns for p in answers.rglob("*.pickle")}
        assert len(kept) >= 10, sorted(p.name for p in kept)  # before any request
        base = f"http://127.0.0.1:{found.group(1)}"
        for page in ("/gap-map.json", "/zombies.json", "/solutions/SOL-TELE.json",
                     "/search.json?q=telehealth", "/index.json") * 2:
            assert requests.get(base + page, timeout=60).status_code == 200, page
        assert {p: p.stat().st_mtime_ns for p in answers.rglob("*.pickle")} == kept
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
