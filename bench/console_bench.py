"""The query console on its own server, measured on a generated graph.

    nice -n 10 python bench/console_bench.py [--initiatives 100000] [--out bench/results]

Loads a generated bundle (bench/generate.py) into an embedded store of its own, serves
the explorer in a thread (threaded HTTP server, loopback only) with the console on its
replica (``console_server`` ``replica``), and measures, with ``/solutions.json`` requested
every 0.1 s throughout:

- the replica's first copy of the graph (the first console statement);
- two runaway statements at once (a ``reduce`` FalkorDB cannot stop inside its 5 s
  limit): their answers, the pages meanwhile (p50 and max) and how soon the console
  answers again (the replica killed and copied again);
- the memory bomb ``RETURN size(range(1, 150000000))``: its answer, the primary's peak
  memory before and after, the replica's address space against its limit, and how soon
  the console answers again.

Writes ``console-<n>.json`` and ``console-<n>.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

SLOW = "RETURN size(reduce(acc = '', x IN range(1, 300000) | acc + 'xxxxxxxxxx')) AS n"
HUGE = "RETURN size(range(1, 150000000))"
NORMAL = "MATCH (r:IngestRun) RETURN count(r) AS n"
PASSWORD = "long enough password"


def _kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Pages:
    """``/solutions.json`` every 0.1 s in a thread, with each answer's time."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.times: list[tuple[float, float, int]] = []  # (when, seconds, status)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                status = requests.get(f"{self.base}/solutions.json", timeout=60).status_code
            except requests.RequestException:
                status = 0
            self.times.append((started, time.monotonic() - started, status))
            time.sleep(0.1)

    def __enter__(self) -> Pages:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float) -> dict[str, Any]:
        took = [t for when, t, _s in self.times if start <= when <= end]
        bad = sum(1 for when, _t, s in self.times if start <= when <= end and s != 200)
        if not took:
            return {"requests": 0}
        return {"requests": len(took), "p50_ms": round(statistics.median(took) * 1000, 1),
                "max_ms": round(max(took) * 1000, 1), "not_200": bad}


def _session(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    session.post(f"{base}/login", data={"name": "ada", "password": PASSWORD,
                                        "csrf_token": token}, allow_redirects=False)
    return session


def _console(session: requests.Session, base: str, q: str) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    answer = session.get(f"{base}/console.json", params={"q": q}, timeout=300)
    return answer.status_code, answer.json(), time.monotonic() - started


def _until_answered(session: requests.Session, base: str) -> float:
    started = time.monotonic()
    while _console(session, base, NORMAL)[0] != 200:
        if time.monotonic() - started > 300:
            raise RuntimeError("the console never answered again")
        time.sleep(0.05)
    return round(time.monotonic() - started, 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initiatives", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)

    import generate

    from triedbefore.graph.console_server import stop_console_server, supervisor_for
    from triedbefore.graph.embedded import EmbeddedServer
    from triedbefore.graph.engines import open_store
    from triedbefore.ingest.pipeline import ingest
    from triedbefore.web import auth
    from triedbefore.web.app import create_app

    results: dict[str, Any] = {"initiatives": args.initiatives, "console_timeout_ms": 5000,
                               "console_memory_mb": 1024}
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        bundle, data = Path(tmp) / "bundle", Path(tmp) / "db"
        generate.main([str(bundle), "--initiatives", str(args.initiatives)])
        primary = EmbeddedServer(data)
        store = open_store(f"embedded:{data}")
        try:
            started = time.monotonic()
            assert ingest(store, bundle).exit_code in (0, 3)
            results["ingest_s"] = round(time.monotonic() - started, 1)
            users = Path(tmp) / "users.json"
            auth.add_user(users, "ada", PASSWORD, "viewer")
            app = create_app({"STORE": store, "SECRET_KEY": "b", "USERS_FILE": str(users),
                              "CONSOLE_RATE": 0, "CONSOLE_TIMEOUT_MS": 5000,
                              "CONSOLE_QUERIES": 1, "CONSOLE_SERVER": "replica",
                              "CONSOLE_MEMORY_MB": 1024})
            http = make_server("127.0.0.1", 0, app, threaded=True)
            threading.Thread(target=http.serve_forever, daemon=True).start()
            base = f"http://127.0.0.1:{http.server_port}"
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            session = _session(base)
            for _ in range(3):  # the whole-graph answers cached, as a running explorer has
                requests.get(f"{base}/solutions.json", timeout=300)
            console = supervisor_for(store.uri, memory_limit_mb=1024)
            primary_pid = primary.status().pid
            assert primary_pid is not None
            results["primary_rss_mib"] = _kb(primary_pid, "VmRSS") // 1024
            with Pages(base) as pages:
                time.sleep(3.0)
                t0 = time.monotonic()
                status, body, took = _console(session, base, NORMAL)
                results["first_statement"] = {"status": status, "seconds": round(took, 2),
                                              "kind": body.get("kind")}
                results["first_answer_s"] = round(
                    took + (0 if status == 200 else _until_answered(session, base)), 2)
                pid = console.pid()
                assert pid is not None
                results["replica_rss_mib"] = _kb(pid, "VmRSS") // 1024
                results["replica_limit_mib"] = resource.prlimit(
                    pid, resource.RLIMIT_AS)[0] // 2**20
                results["pages_alone"] = pages.between(0, t0)
                results["pages_first_copy"] = pages.between(t0, time.monotonic())

                answers: list[tuple[int, dict[str, Any], float]] = []
                runners = [threading.Thread(
                    target=lambda: answers.append(_console(session, base, SLOW)))
                    for _ in range(2)]
                t1 = time.monotonic()
                for runner in runners:
                    runner.start()
                for runner in runners:
                    runner.join()
                t2 = time.monotonic()
                again = _until_answered(session, base)
                t3 = time.monotonic()
                results["runaway"] = {
                    "answers": [{"status": s, "kind": b.get("kind"), "seconds": round(t, 2),
                                 "error": b.get("error")} for s, b, t in answers],
                    "console_again_s": again, "pages_during": pages.between(t1, t2),
                    "pages_while_copying_again": pages.between(t2, t3)}

                pid = console.pid()
                assert pid is not None
                limit = resource.prlimit(pid, resource.RLIMIT_AS)[0]
                hwm_before = _kb(primary_pid, "VmHWM")
                t4 = time.monotonic()
                status, body, took = _console(session, base, HUGE)
                again = _until_answered(session, base)
                results["memory_bomb"] = {
                    "status": status, "error": body.get("error"), "seconds": round(took, 2),
                    "replica_limit_mib": limit // 2**20,
                    "primary_peak_before_mib": hwm_before // 1024,
                    "primary_peak_after_mib": _kb(primary_pid, "VmHWM") // 1024,
                    "console_again_s": again,
                    "pages_during": pages.between(t4, time.monotonic())}
                results["pages_total"] = pages.between(0, time.monotonic())
            http.shutdown()
            results["restarts"] = console.restarts
            console.close()
        finally:
            stop_console_server(data)
            store.close()
            primary.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"console-{args.initiatives}"
    (args.out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / f"{name}.md").write_text(_markdown(results))
    print(_markdown(results))
    return 0


def _markdown(r: dict[str, Any]) -> str:
    run, bomb = r["runaway"], r["memory_bomb"]
    lines = [
        f"# The query console on its own server: {r['initiatives']:,} initiatives",
        "",
        "`bench/console_bench.py`: the explorer in a thread, the console on its replica "
        "(`console_server` `replica`, `console_timeout_ms` 5000, `console_memory_mb` 1024, "
        "`console_queries` 1), `/solutions.json` requested every 0.1 s throughout. A "
        "machine of 2 cores shared with other work, so times are upper bounds.",
        "",
        f"- Ingest {r['ingest_s']} s; primary {r['primary_rss_mib']} MiB resident; replica "
        f"{r['replica_rss_mib']} MiB resident, address space limited to "
        f"{r['replica_limit_mib']} MiB.",
        f"- First console statement: {r['first_statement']['status']} in "
        f"{r['first_statement']['seconds']} s (the replica starts and copies the graph in the "
        f"background); the console first answered after {r['first_answer_s']} s.",
        "",
        "| | console answers | console answers again after | /solutions.json meanwhile |",
        "|---|---|---|---|",
        "| alone | | | " + _pages(r["pages_alone"]) + " |",
        "| replica's first copy | | | " + _pages(r["pages_first_copy"]) + " |",
        "| 2 runaway `reduce` statements | " + "; ".join(
            f"{a['status']} {a['kind']} in {a['seconds']} s" for a in run["answers"])
        + f" | {run['console_again_s']} s | " + _pages(run["pages_during"])
        + "; while copying again: " + _pages(run["pages_while_copying_again"]) + " |",
        f"| `{HUGE}` | {bomb['status']} in {bomb['seconds']} s | {bomb['console_again_s']} s "
        f"| " + _pages(bomb["pages_during"]) + " |",
        "",
        f"The memory bomb: the primary's peak resident memory {bomb['primary_peak_before_mib']}"
        f" MiB before, {bomb['primary_peak_after_mib']} MiB after; the replica (limit "
        f"{bomb['replica_limit_mib']} MiB) stopped at its first allocation past the limit. "
        f"Console servers killed or lost: {r['restarts']}. Pages over the whole run: "
        + _pages(r["pages_total"]) + ".",
        "",
        "Messages: " + "; ".join(f"\"{a['error']}\"" for a in run["answers"])
        + f"; \"{bomb['error']}\".",
        "",
    ]
    return "\n".join(lines)


def _pages(p: dict[str, Any]) -> str:
    if not p.get("requests"):
        return "none"
    return (f"{p['requests']} requests, p50 {p['p50_ms']} ms, max {p['max_ms']} ms"
            + (f", {p['not_200']} not 200" if p.get("not_200") else ""))


if __name__ == "__main__":
    sys.exit(main())
