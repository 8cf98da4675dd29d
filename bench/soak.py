"""Soak benchmark: many concurrent clients against `triedbefore serve` while an ingest runs.

Loopback only and bounded in time. It loads a generated bundle (100k initiatives by
default) into a fresh embedded store, starts `triedbefore serve` on it as a separate
process (127.0.0.1, a free port), then runs C client threads for D seconds over the
explorer's pages, downloads, search, graph view and console. After a short warm-up a
second generated bundle (another seed: the same ids, changed rows) is ingested by a
separate `triedbefore ingest` process while the clients go on.

It reports, per minute: requests, 5xx, other errors, median and p95 latency, and the
resident memory of the serve process and of the database server; then checks that no row
was lost (every id of both bundles is in the graph, every public one in the public copy)
and that memory is stable (the last minute's serve RSS against the second minute's).
Results go to ``bench/results/soak-<N>.json`` and ``.md``.

    nice -n 10 python bench/soak.py [--initiatives 100000] [--clients 50] [--seconds 300]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import ensure_bundle  # noqa: E402
from ingest_bench import machine  # noqa: E402

from triedbefore.graph.embedded import EmbeddedServer  # noqa: E402
from triedbefore.graph.engines import open_store  # noqa: E402
from triedbefore.ingest.pipeline import ingest  # noqa: E402
from triedbefore.ontology.models import ROW_TYPES  # noqa: E402

RESULTS = HERE / "results"
WARM_UP = 15.0  # seconds of load before the concurrent ingest starts
MEMORY_GROWTH = 1.25  # stable: the serve process's last-minute RSS within this of the second


def rss_mib(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ids_of(bundle: Path) -> dict[str, tuple[set[str], set[str]]]:
    """Per label: every id of the bundle, and the ids of its public rows."""
    out: dict[str, tuple[set[str], set[str]]] = {}
    for row_type in ROW_TYPES:
        every: set[str] = set()
        public: set[str] = set()
        with open(bundle / row_type.FILE, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                every.add(row[row_type.ID_COLUMN])
                if (row.get("visibility") or "public") != "restricted":
                    public.add(row[row_type.ID_COLUMN])
        out[row_type.LABEL.value] = (every, public)
    return out


def plan(bundle: Path, rng: random.Random) -> list[str]:
    """A pool of request paths over every kind of page."""
    def column(name: str, key: str, n: int) -> list[str]:
        with open(bundle / name, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if (r.get("visibility") or "") != "restricted"]
        return [r[key] for r in rng.sample(rows, min(n, len(rows)))]

    solutions = column("solutions.csv", "solution_id", 50)
    initiatives = column("initiatives.csv", "initiative_id", 300)
    sites = column("sites.csv", "site_id", 200)
    evaluations = column("evaluations.csv", "evaluation_id", 200)
    words = ["virtual ward", "care home", "telehealth", "frailty", "discharge",
             "falls prevention", "social prescribing", "hospital at home"]
    paths = ["/", "/solutions", "/solutions.json?page=2", "/zombies", "/zombies.csv",
             "/gap-map", "/gap-map.json?by=intervention_type", "/evaluations?page=3",
             "/method", "/static/site.css", "/openapi.json"]
    paths += [f"/solutions/{quote(s)}" for s in solutions[:20]]
    paths += [f"/solutions/{quote(s)}.json" for s in solutions[20:40]]
    paths += [f"/initiatives/{quote(i)}" for i in initiatives[:150]]
    paths += [f"/initiatives/{quote(i)}.json" for i in initiatives[150:]]
    paths += [f"/sites/{quote(s)}.json" for s in sites[:100]]
    paths += [f"/graph.json?node=site:{quote(s)}" for s in sites[100:]]
    paths += [f"/evaluations/{quote(e)}" for e in evaluations]
    paths += ["/search?" + urlencode({"q": w}) for w in words]
    paths += ["/check.json?" + urlencode({"q": w + " for older people"}) for w in words]
    paths += ["/console.json?" + urlencode({"q": q, "limit": 50, "timeout": 2000}) for q in (
        "MATCH (s:Solution) RETURN s.id AS id, s.name AS name ORDER BY id",
        "MATCH (i:Initiative)-[:TRIED_AT]->(t:Site) RETURN t.region AS region, "
        "count(i) AS n ORDER BY n DESC",
        "MATCH (e:Evaluation) RETURN e.finding AS finding, count(e) AS n")]
    return paths


class Recorder:
    def __init__(self, start: float) -> None:
        self.start = start
        self.lock = threading.Lock()
        self.minutes: dict[int, dict[str, Any]] = {}
        self.server_errors: list[str] = []
        self.failures: list[str] = []

    def add(self, when: float, path: str, status: int | None, ms: float) -> None:
        minute = int((when - self.start) // 60)
        with self.lock:
            m = self.minutes.setdefault(minute, {"times": [], "5xx": 0, "errors": 0,
                                                 "status": {}})
            m["times"].append(ms)
            key = str(status) if status is not None else "no answer"
            m["status"][key] = m["status"].get(key, 0) + 1
            if status is None:
                m["errors"] += 1
                if len(self.failures) < 20:
                    self.failures.append(path)
            elif status >= 500:
                m["5xx"] += 1
                if len(self.server_errors) < 20:
                    self.server_errors.append(f"{status} {path}")


def run(initiatives: int, clients: int, seconds: int, work: Path) -> dict[str, Any]:
    bundle_a = ensure_bundle(work / f"bundle-{initiatives}", initiatives)
    bundle_b = ensure_bundle(work / f"bundle-{initiatives}-seed2", initiatives, seed=2)
    data_dir = work / f"soak-store-{initiatives}"
    shutil.rmtree(data_dir, ignore_errors=True)
    db = EmbeddedServer(data_dir)
    db.ensure_running()
    uri = f"embedded:{data_dir}"
    env = dict(os.environ, TRIEDBEFORE_STORE=uri, TRIEDBEFORE_DATA_DIR=str(work / "soak-home"),
               TRIEDBEFORE_CONSOLE_RATE="0", TRIEDBEFORE_SECRET_KEY="soak")
    serve = None
    serve_log = None
    try:
        t0 = time.perf_counter()
        store = open_store(uri)
        first = ingest(store, bundle_a)
        assert not first.errors, first.errors[:3]
        first_s = round(time.perf_counter() - t0, 1)
        port = free_port()
        # The server's log goes to a file: a pipe nobody reads fills up and then blocks
        # the server on its next log line.
        serve_log = (work / f"soak-serve-{initiatives}.log").open("w", encoding="utf-8")
        serve = subprocess.Popen(
            [sys.executable, "-m", "triedbefore.web.cli", "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=serve_log, text=True)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/static/site.css", timeout=5)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or serve.poll() is not None:
                    raise RuntimeError("serve did not start") from None
                time.sleep(0.3)
        rng = random.Random(7)
        pool = plan(bundle_a, rng)
        with requests.Session() as s:  # warm the whole-graph caches once
            for path in ("/", "/zombies", "/gap-map", "/solutions"):
                s.get(base + path, timeout=300)

        start = time.monotonic()
        stop_at = start + seconds
        recorder = Recorder(start)
        memory: list[dict[str, Any]] = []
        ingest_info: dict[str, Any] = {}

        def client(seed: int) -> None:
            r = random.Random(seed)
            with requests.Session() as s:
                while time.monotonic() < stop_at:
                    path = r.choice(pool)
                    began = time.monotonic()
                    try:
                        status: int | None = s.get(base + path, timeout=60).status_code
                    except requests.RequestException:
                        status = None
                    recorder.add(began, path, status, (time.monotonic() - began) * 1000)

        def sample_memory() -> None:
            while time.monotonic() < stop_at:
                memory.append({"t": round(time.monotonic() - start, 1),
                               "serve_mib": rss_mib(serve.pid if serve else None),
                               "db_mib": rss_mib(db.status().pid)})
                time.sleep(5)

        def concurrent_ingest() -> None:
            time.sleep(WARM_UP)
            began = time.monotonic()
            proc = subprocess.run(
                [sys.executable, "-m", "triedbefore.web.cli", "ingest", str(bundle_b),
                 "--format", "json"], env=env, capture_output=True, text=True,
                timeout=max(60, seconds * 3))
            ingest_info.update({"start_s": round(began - start, 1),
                                "end_s": round(time.monotonic() - start, 1),
                                "exit_code": proc.returncode})
            try:
                report = json.loads(proc.stdout)
                ingest_info.update({"errors": len(report["errors"]),
                                    "written": report["written"]})
            except (ValueError, KeyError):
                ingest_info["stderr"] = proc.stderr[-4000:]

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        threads += [threading.Thread(target=sample_memory),
                    threading.Thread(target=concurrent_ingest)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        # no lost rows: every id of both bundles in the graph, every public id in the copy
        expected = ids_of(bundle_a)
        for label, (every, public) in ids_of(bundle_b).items():
            expected[label][0].update(every)
            expected[label][1].difference_update(every - public)  # B may restrict a row
            expected[label][1].update(public)
        store = open_store(uri)
        public_store = store.public_copy()
        rows: dict[str, Any] = {}
        for label, (every, public) in expected.items():
            got = {str(r["id"]) for r in store.read(f"MATCH (n:{label}) RETURN n.id AS id")}  # noqa: S608
            got_public = {str(r["id"]) for r in public_store.read(
                f"MATCH (n:{label}) RETURN n.id AS id")}  # noqa: S608
            rows[label] = {"expected": len(every), "in_graph": len(got),
                           "missing": len(every - got), "unexpected": len(got - every),
                           "expected_public": len(public), "in_public_copy": len(got_public),
                           "missing_public": len(public - got_public),
                           "restricted_in_public_copy": len(got_public - public)}
        store.close()

        minutes = []
        for minute, m in sorted(recorder.minutes.items()):
            times = sorted(m["times"])
            mem = [x["serve_mib"] for x in memory if minute * 60 <= x["t"] < (minute + 1) * 60
                   and x["serve_mib"] is not None]
            dbm = [x["db_mib"] for x in memory if minute * 60 <= x["t"] < (minute + 1) * 60
                   and x["db_mib"] is not None]
            minutes.append({"minute": minute + 1, "requests": len(times), "5xx": m["5xx"],
                            "errors": m["errors"], "status": m["status"],
                            "median_ms": round(statistics.median(times), 1),
                            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
                            "serve_rss_mib": max(mem) if mem else None,
                            "db_rss_mib": max(dbm) if dbm else None})
        second = next((m["serve_rss_mib"] for m in minutes if m["minute"] == 2), None)
        last = minutes[-1]["serve_rss_mib"] if minutes else None
        total = sum(m["requests"] for m in minutes)
        return {
            "initiatives": initiatives, "clients": clients, "seconds": seconds,
            "machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M:%S"),
            "load_average_at_end": os.getloadavg(),
            "first_ingest_s": first_s, "concurrent_ingest": ingest_info,
            "requests": total, "requests_per_s": round(total / seconds, 1),
            "5xx": sum(m["5xx"] for m in minutes),
            "errors": sum(m["errors"] for m in minutes),
            "server_errors": recorder.server_errors, "failed_requests": recorder.failures,
            "minutes": minutes, "rows": rows,
            "lost_rows": sum(r["missing"] + r["missing_public"] for r in rows.values()),
            "restricted_in_public_copy": sum(r["restricted_in_public_copy"]
                                             for r in rows.values()),
            "serve_rss_growth": round(last / second, 3) if second and last else None,
            "memory": memory,
        }
    finally:
        if serve is not None and serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=20)
            except subprocess.TimeoutExpired:
                serve.kill()
        if serve_log is not None:
            serve_log.close()
        db.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def report(r: dict[str, Any]) -> str:
    growth = r["serve_rss_growth"]
    ok = (r["5xx"] == 0 and r["errors"] == 0 and r["lost_rows"] == 0
          and r["restricted_in_public_copy"] == 0
          and r["concurrent_ingest"].get("exit_code") == 0
          and growth is not None and growth <= MEMORY_GROWTH)
    ing = r["concurrent_ingest"]
    lines = [
        f"# Soak benchmark, {r['initiatives']:,} initiatives, {r['clients']} clients, "
        f"{r['seconds']} s", "",
        f"Machine: {r['machine']['cpus']} cores, {r['machine']['cpu']}, "
        f"{r['machine']['memory_gib']} GiB. Run {r['when']}; load average at the end "
        f"{', '.join(f'{x:.1f}' for x in r['load_average_at_end'])} (the machine is shared). "
        "`triedbefore serve` (Flask's threaded server) on 127.0.0.1 against the embedded "
        "store; clients over pages, JSON and CSV twins, search, proposal check, graph view "
        "and console.", "",
        f"- Verdict: **{'pass' if ok else 'FAIL'}** (zero 5xx, every request answered, the "
        "concurrent ingest completed, no lost rows, no restricted row in the public copy, "
        f"serve memory in the last minute at most {MEMORY_GROWTH}x the second's).",
        f"- Requests: {r['requests']:,} ({r['requests_per_s']} /s); 5xx: {r['5xx']}; "
        f"no answer (timeout or connection error): {r['errors']}.",
        f"- First load: {r['first_ingest_s']} s. Concurrent ingest of a second bundle (same "
        f"ids, changed rows) from {ing.get('start_s')} s to {ing.get('end_s')} s, exit "
        f"{ing.get('exit_code')}, {ing.get('errors')} row errors.",
        f"- Rows lost: {r['lost_rows']}; restricted rows in the public copy: "
        f"{r['restricted_in_public_copy']}.",
        f"- Serve process memory, last minute against the second: x{r['serve_rss_growth']}.",
        "", "| minute | requests | 5xx | no answer | median (ms) | p95 (ms) | serve RSS (MiB) "
        "| database RSS (MiB) |", "|---|---|---|---|---|---|---|---|"]
    for m in r["minutes"]:
        lines.append(f"| {m['minute']} | {m['requests']} | {m['5xx']} | {m['errors']} | "
                     f"{m['median_ms']} | {m['p95_ms']} | {m['serve_rss_mib']} | "
                     f"{m['db_rss_mib']} |")
    lines += ["", "| label | ids in both bundles | in the graph | missing | public ids | "
              "in the public copy | missing | restricted in the copy |",
              "|---|---|---|---|---|---|---|---|"]
    for label, x in r["rows"].items():
        lines.append(f"| {label} | {x['expected']} | {x['in_graph']} | {x['missing']} | "
                     f"{x['expected_public']} | {x['in_public_copy']} | {x['missing_public']} "
                     f"| {x['restricted_in_public_copy']} |")
    if r["server_errors"] or r["failed_requests"]:
        lines += ["", "First failures: " + ", ".join(r["server_errors"] + r["failed_requests"])]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initiatives", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--work", type=Path, default=HERE / "work")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    result = run(args.initiatives, args.clients, args.seconds, args.work)
    RESULTS.mkdir(exist_ok=True)
    stem = f"soak-{args.initiatives}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(report(result))
    print(report(result))


if __name__ == "__main__":
    main()
