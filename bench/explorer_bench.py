"""Explorer benchmark: page latency under concurrent clients, loopback only.

Loads a generated bundle into a fresh embedded store, serves the explorer with a
threaded WSGI server on 127.0.0.1 (an ephemeral port), warms each page once (the
whole-graph answers are cached until the graph changes; the cold time is
reported), then runs C client threads, each issuing a bounded number of requests
over the search, solution, zombie and gap-map pages. Reports median, p95 and
errors per page; the named baseline ``static_file`` (the stylesheet, served by the
same server) gives the server's floor. Results go to ``bench/results/explorer-<N>.json``
and ``.md``.

    python bench/explorer_bench.py [--initiatives 100000] [--clients 8] [--requests 40]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import ensure_bundle  # noqa: E402
from ingest_bench import machine  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from triedbefore.graph.embedded import EmbeddedServer  # noqa: E402
from triedbefore.graph.engines import open_store  # noqa: E402
from triedbefore.ingest.pipeline import ingest  # noqa: E402
from triedbefore.web.app import create_app  # noqa: E402

RESULTS = HERE / "results"
BASELINE = "static_file"


#: Pages of the zombie list the clients read (at most: a smaller graph has fewer).
ZOMBIE_PAGES = 5


def zombie_pages(base: str, timeout_s: float = 120.0) -> int:
    """How many of the zombie list's first ``ZOMBIE_PAGES`` pages the explorer at ``base``
    has (a page past the last is a 404, which would count as an error)."""
    listed = requests.get(base + "/zombies.json", timeout=timeout_s).json()["zombies"]
    return max(1, min(ZOMBIE_PAGES, -(-int(listed["total"]) // int(listed["size"]))))


def urls(bundle: Path, rng: random.Random, n: int,
         zombie_pages: int = ZOMBIE_PAGES) -> dict[str, list[str]]:
    with open(bundle / "solutions.csv", newline="", encoding="utf-8") as fh:
        solutions = [(r["solution_id"], r["name"]) for r in csv.DictReader(fh)]
    picks = [rng.choice(solutions) for _ in range(n)]
    return {
        BASELINE: ["/static/site.css"] * n,
        "search": [f"/search?q={quote(name.split()[0] + ' ' + name.split()[-1])}"
                   for _, name in picks],
        "solution": [f"/solutions/{quote(sid)}" for sid, _ in picks],
        "zombies": [f"/zombies?page={rng.randint(1, zombie_pages)}" for _ in range(n)],
        "gap_map": ["/gap-map"] * n,
    }


class Serving:
    """The explorer on ``uri``, served by a threaded WSGI server on 127.0.0.1 (an ephemeral
    port): in a thread of this process, or with ``separate`` in a child process of its
    own (``--serve``), so the clients do not share the server's interpreter and its peak
    memory and CPU time are its own (``peak_rss_mib``, ``cpu_s`` once stopped)."""

    def __init__(self, uri: str, *, separate: bool = False, start_timeout: float = 1800.0,
                 workers: int = 1, answers_dir: Path | None = None) -> None:
        self.uri, self.separate, self.start_timeout = uri, separate, start_timeout
        self.workers = workers
        #: Where the explorer keeps its whole-graph answers (None: the data folder's).
        self.answers_dir = answers_dir
        #: Seconds from launching the server to its saying it is ready (with ``separate``).
        self.start_s: float | None = None
        self.base = ""
        self.stats: dict[str, float] = {}
        self._http: Any = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: Path | None = None

    def __enter__(self) -> Serving:
        if not self.separate:
            app = create_app({"STORE_URI": self.uri, "SECRET_KEY": "bench"})
            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
            self._http = make_server("127.0.0.1", 0, app, threaded=True)
            threading.Thread(target=self._http.serve_forever, daemon=True).start()
            self.base = f"http://127.0.0.1:{self._http.server_port}"
            return self
        self._tmp = Path(tempfile.mkdtemp(prefix="explorer-"))
        port_file, log = self._tmp / "port", self._tmp / "log"
        started = time.perf_counter()
        extra = ["--answers-dir", str(self.answers_dir)] if self.answers_dir else []
        with open(log, "wb") as err:
            self._proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--serve", self.uri,
                 "--port-file", str(port_file), "--workers", str(self.workers), *extra],
                stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + self.start_timeout
        while not port_file.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError("the explorer server did not start: "
                                   + log.read_text(errors="replace")[-2000:])
            time.sleep(0.05)
        self.start_s = round(time.perf_counter() - started, 2)
        self.base = f"http://127.0.0.1:{int(port_file.read_text())}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._proc is not None:
            self._proc.send_signal(signal.SIGTERM)
            _pid, _status, usage = os.wait4(self._proc.pid, 0)
            self._proc.returncode = 0
            self.stats = {"peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
                          "cpu_s": round(usage.ru_utime + usage.ru_stime, 2)}
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def log_lines(self) -> list[str]:
        """What the separate server has logged so far (its warnings and errors, each line
        starting with the time it was logged, seconds since the epoch)."""
        if self._tmp is None:
            return []
        try:
            return (self._tmp / "log").read_text(errors="replace").splitlines()
        except OSError:
            return []


def serve(uri: str, port_file: Path, workers: int = 1, answers_dir: Path | None = None
          ) -> None:
    """Serve the explorer as ``triedbefore serve --workers N`` does, until SIGTERM; write
    the port to ``port_file`` once ready."""
    from triedbefore.web.serving import serve as run

    logging.basicConfig(level=logging.WARNING,
                        format="%(created).3f %(process)d %(levelname)s %(name)s %(message)s")

    def ready(_host: str, port: int) -> None:
        tmp = port_file.with_name(port_file.name + ".tmp")
        tmp.write_text(str(port))
        tmp.rename(port_file)

    config: dict[str, Any] = {"STORE_URI": uri, "SECRET_KEY": "bench"}
    if answers_dir is not None:
        config["ANSWERS_DIR"] = str(answers_dir)
    run(lambda: create_app(config), "127.0.0.1", 0, workers=workers, ready=ready, quiet=True)


def measure(uri: str, bundle: Path, clients: int, per_client: int, *, cold: bool = True,
            budget_s: float | None = None, timeout_s: float = 30.0,
            base: str | None = None) -> dict[str, Any]:
    """Measure each page with ``clients`` concurrent clients, ``per_client`` requests each,
    on the explorer at ``base`` (a URL), or on one served here on ``uri`` (a store that
    holds ``bundle``). ``cold``: time one first request per page before (a failed or slow
    one is reported, not raised); ``budget_s``: clients start no request after that many
    seconds of a page's run, so a slow page costs bounded time (the requests done are
    reported)."""
    if base is None:
        with Serving(uri) as served:
            return measure(uri, bundle, clients, per_client, cold=cold, budget_s=budget_s,
                           timeout_s=timeout_s, base=served.base)
    rng = random.Random(3)
    plan = urls(bundle, rng, clients * per_client, zombie_pages(base, max(timeout_s, 120.0)))
    first = first_requests(base, plan, timeout_s) if cold else {}
    figures: dict[str, Any] = {}
    for page, items in plan.items():
        times: list[float] = []
        errors = [0]
        lock = threading.Lock()
        deadline = time.perf_counter() + budget_s if budget_s else None

        def client(chunk: list[str], times: list[float] = times, errors: list[int] = errors,
                   lock: threading.Lock = lock, deadline: float | None = deadline) -> None:
            with requests.Session() as s:
                for path in chunk:
                    start = time.perf_counter()
                    if deadline is not None and start > deadline:
                        return
                    try:
                        ok = s.get(base + path, timeout=timeout_s).status_code == 200
                    except requests.RequestException:
                        ok = False
                    elapsed = (time.perf_counter() - start) * 1000
                    with lock:
                        times.append(elapsed)
                        errors[0] += 0 if ok else 1

        threads = [threading.Thread(target=client, args=(items[i::clients],))
                   for i in range(clients)]
        wall = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - wall
        times.sort()
        figures[page] = {"median_ms": round(statistics.median(times), 1),
                         "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
                         "errors": errors[0], "requests": len(times), "planned": len(items),
                         "throughput_rps": round(len(times) / wall, 1),
                         "cold_ms": first.get(page)}
    base_median = figures[BASELINE]["median_ms"] or 1
    for f in figures.values():
        f[f"median_over_{BASELINE}"] = round(f["median_ms"] / base_median, 1)
    return figures


def first_requests(base: str, plan: dict[str, list[str]], timeout_s: float = 30.0
                   ) -> dict[str, float | None]:
    """Milliseconds of one first request per page (None: it failed), one after another:
    what the first visitors of a server just started wait."""
    first: dict[str, float | None] = {}
    with requests.Session() as s:
        for page, items in plan.items():
            start = time.perf_counter()
            try:
                ok = s.get(base + items[0], timeout=max(timeout_s, 300)).ok
            except requests.RequestException:
                ok = False
            first[page] = round((time.perf_counter() - start) * 1000, 1) if ok else None
    return first


def run(initiatives: int, clients: int, per_client: int, work: Path,
        loaded: Path | None = None, workers: int = 1) -> dict[str, Any]:
    """``loaded``: the data folder of an embedded store that already holds the bundle
    (kept as it is); otherwise the bundle is loaded into a fresh one, removed after."""
    bundle = work / f"bundle-{initiatives}"
    ensure_bundle(bundle, initiatives)
    data_dir = loaded or work / f"explorer-store-{initiatives}"
    if loaded is None:
        shutil.rmtree(data_dir, ignore_errors=True)
    server = EmbeddedServer(data_dir)
    server.ensure_running()
    try:
        uri = f"embedded:{data_dir}"
        if loaded is None:
            store = open_store(uri)
            result = ingest(store, bundle)
            assert not result.errors, result.errors[:3]
            store.close()
        with Serving(uri, separate=True, workers=workers) as served:
            pages = measure(uri, bundle, clients, per_client, base=served.base)
        return {"initiatives": initiatives, "clients": clients, "workers": workers,
                "machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M:%S"),
                "pages": pages}
    finally:
        server.stop()
        if loaded is None:
            shutil.rmtree(data_dir, ignore_errors=True)


def report(r: dict[str, Any]) -> str:
    lines = [f"# Explorer benchmark, {r['initiatives']:,} initiatives, {r['clients']} "
             "concurrent clients", "",
             f"Machine: {r['machine']['cpus']} cores, {r['machine']['cpu']}. Run {r['when']}. "
             f"The explorer served as `triedbefore serve --workers {r.get('workers', 1)}` "
             "on 127.0.0.1 in a process of its own (the clients are threads of another); "
             "embedded store.", "",
             "| page | median (ms) | p95 (ms) | errors | requests | req/s | first (cold) ms | "
             f"median / `{BASELINE}` |", "|---|---|---|---|---|---|---|---|"]
    for page, f in r["pages"].items():
        lines.append(f"| {page} | {f['median_ms']} | {f['p95_ms']} | {f['errors']} | "
                     f"{f['requests']} | {f['throughput_rps']} | {f['cold_ms']} | "
                     f"{f[f'median_over_{BASELINE}']} |")
    lines += ["", "Target: p95 under 150 ms for search, solution, zombie and gap-map pages "
              "with 8 clients at 100k initiatives.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initiatives", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=40, help="per client and page")
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--loaded", type=Path, default=None,
                        help="data folder of an embedded store already holding the bundle")
    parser.add_argument("--serve", metavar="URI", help=argparse.SUPPRESS)
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--answers-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="server processes, as `triedbefore serve --workers` "
                             "(default: one per core)")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port_file, args.workers, args.answers_dir)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    result = run(args.initiatives, args.clients, args.requests, args.work, args.loaded,
                 args.workers)
    RESULTS.mkdir(exist_ok=True)
    stem = f"explorer-{args.initiatives}-{args.clients}c"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(report(result))
    print(report(result))


if __name__ == "__main__":
    main()
