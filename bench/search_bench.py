"""Search benchmark: hybrid search and the proposal check at scale, and what the vectors
cost the first ingest.

A deterministic bundle (``bench/generate.py``) is loaded twice into fresh embedded
stores by the real command line, in a child process, one after the other in the same
run: once with ``TRIEDBEFORE_SEARCH_VECTORS=no`` (words only, the baseline) and once with
the sentence vectors (``search_model`` as set; default ``mixed``); the rows/s of both and
their ratio are reported, with the machine's load average during each. Then, on the store
with vectors, search and the proposal check are asked of the explorer's JSON pages in
this process (``/search.json``, ``/check.json``: the explorer's real code path): the
labelled queries of ``bench/quality`` (paraphrases, typos) and generated solution names,
each once after a warm-up; median and p95 in milliseconds. ``--latency-only`` measures
them again on the store the last run left; ``--vectors-only`` loads only the store with
vectors (at 1M, where one first ingest takes most of an hour: the ratio to words only is
then not measured); ``--fanout-ab`` also compares search with its index queries sent at
once against one after the other, alternating in this process. Results go to
``bench/results/search-<N>.json`` and ``.md``, with the models named, the package's size
on disk and install time (measured by ``--install-time`` or given).

    nice python bench/search_bench.py [--initiatives 100000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import ensure_bundle  # noqa: E402

from triedbefore.graph import embedding, settings, static_embedding  # noqa: E402
from triedbefore.graph.embedded import EmbeddedServer  # noqa: E402
from triedbefore.graph.engines import open_store  # noqa: E402
from triedbefore.web.app import create_app  # noqa: E402  (all code loaded at the start)

RESULTS = HERE / "results"
QUALITY = HERE / "quality"


def ingest(data: Path, bundle: Path, vectors: bool) -> dict[str, Any]:
    """A first ingest by the CLI in a child process: seconds and rows."""
    env = {**os.environ, "TRIEDBEFORE_SEARCH_VECTORS": "yes" if vectors else "no"}
    store = f"embedded:{data}"
    cmd = [sys.executable, "-m", "triedbefore.web.cli", "--store", store, "ingest",
           str(bundle), "--format", "json"]
    load = os.getloadavg()[0]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    load = round((load + os.getloadavg()[0]) / 2, 1)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode not in (0, 3):
        raise SystemExit(f"ingest failed ({out.returncode}): {out.stderr[-2000:]}")
    loaded = json.loads(out.stdout)["loaded"]
    rows = sum(int(v) for v in loaded.values())
    # CPU of the command and of the database server it started (still running: its whole
    # life is this ingest): what the ingest costs whatever else shares the machine.
    cli_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    server_pid = _server_pid(data)
    server_cpu = _cpu_seconds(server_pid)
    return {"server_peak_mib": _peak_mib(server_pid), "seconds": round(seconds, 2),
            "rows": rows, "rows_per_s": round(rows / seconds, 1),
            "load_average": load, "cpu_s": {
                "command": round(cli_cpu, 1),
                "database": None if server_cpu is None else round(server_cpu, 1),
                "total": None if server_cpu is None else round(cli_cpu + server_cpu, 1)}}


def package_size() -> int:
    """Bytes on disk of the model package."""
    zip_path = embedding.model_zip()
    return sum(p.stat().st_size for p in zip_path.parent.rglob("*") if p.is_file())


def _queries(bundle: Path, n_names: int = 100) -> list[str]:
    out: list[str] = []
    for name in ("paraphrases.csv", "typos.csv"):
        with (QUALITY / name).open(newline="", encoding="utf-8") as f:
            out += [r["query"] for r in csv.DictReader(f)]
    with (bundle / "solutions.csv").open(newline="", encoding="utf-8") as f:
        out += [r["name"] for _, r in zip(range(n_names), csv.DictReader(f), strict=False)]
    return out


def _proposals() -> list[str]:
    with (QUALITY / "proposals.csv").open(newline="", encoding="utf-8") as f:
        return [r["proposal"] for r in csv.DictReader(f)]


def _stats(times: list[float]) -> dict[str, float]:
    ms = sorted(t * 1000 for t in times)
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[max(0, int(0.95 * len(ms)) - 1)], 1),
            "max_ms": round(ms[-1], 1)}


def latency(data: Path, bundle: Path) -> dict[str, Any]:
    """Search and the proposal check as the explorer answers them (``/search.json``,
    ``/check.json``: retrieval, facets, page building), each query once: no answer comes
    from the explorer's cache of answers, whose whole-graph answers (the verdicts) are
    warm, as on a running explorer."""
    store = open_store(f"embedded:{data}")
    app = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "bench"})
    client = app.test_client()
    queries = list(dict.fromkeys(_queries(bundle)))

    def get(path: str, text: str) -> float:
        start = time.perf_counter()
        answer = client.get(path, query_string={"q": text})
        took = time.perf_counter() - start
        if answer.status_code != 200:
            raise SystemExit(f"{path} {text!r}: {answer.status_code}")
        return took

    get("/search.json", "warm up the model and the matcher")
    get("/check.json", "Proposal: warm up the proposal check for older people")
    server = _server_pid(data)
    load = os.getloadavg()[0]
    cpu = (time.process_time(), _cpu_seconds(server))
    times = [get("/search.json", q) for q in queries]
    search_cpu = (time.process_time(), _cpu_seconds(server))
    checks = [get("/check.json", p) for p in _proposals()]
    check_cpu = (time.process_time(), _cpu_seconds(server))
    return {"search": _stats(times), "check": _stats(checks),
            "search_cpu_ms": _cpu_ms(cpu, search_cpu, len(times)),
            "check_cpu_ms": _cpu_ms(search_cpu, check_cpu, len(checks)),
            "load_average": round((load + os.getloadavg()[0]) / 2, 1),
            "path": "explorer: /search.json and /check.json (Flask test client, in process)"}


def fanout_ab(data: Path, bundle: Path, rounds: int = 6, per_round: int = 120) -> dict[str, Any]:
    """Search with its index queries sent at once (``hybrid.SEARCH_FANOUT``) against one
    after the other, in this process on one store: ``rounds`` rounds of ``per_round``
    queries, the two ways alternating which goes first, each round with no search answer
    or query vector kept from the one before."""
    from triedbefore.graph import hybrid, vectors
    from triedbefore.web import explore

    store = open_store(f"embedded:{data}")
    client = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "bench"}).test_client()
    queries = list(dict.fromkeys(_queries(bundle)))[:per_round]
    client.get("/search.json", query_string={"q": "warm up the model and the matcher"})
    ways = {"one after the other": 1, "at once": hybrid.SEARCH_FANOUT}
    medians: dict[str, list[float]] = {w: [] for w in ways}
    cpu: dict[str, list[float]] = {w: [] for w in ways}
    kept = hybrid.SEARCH_FANOUT
    try:
        for n in range(rounds):
            for way in (list(ways) if n % 2 == 0 else list(ways)[::-1]):
                hybrid.SEARCH_FANOUT = ways[way]
                for key in [k for k in explore._CACHE if str(k[2]).startswith("search:")]:
                    del explore._CACHE[key]
                vectors._QUERY_CACHE.clear()
                times, started = [], time.process_time()
                for q in queries:
                    start = time.perf_counter()
                    client.get("/search.json", query_string={"q": q})
                    times.append(time.perf_counter() - start)
                medians[way].append(round(1000 * statistics.median(times), 1))
                cpu[way].append(round(1000 * (time.process_time() - started) / len(queries), 1))
    finally:
        hybrid.SEARCH_FANOUT = kept
    return {"rounds": rounds, "queries_per_round": len(queries), "threads": kept,
            "round_medians_ms": medians, "client_cpu_ms": cpu,
            "median_of_medians_ms": {w: statistics.median(m) for w, m in medians.items()},
            "load_average": round(os.getloadavg()[0], 1)}


def _fanout_rows(f: dict[str, Any] | None) -> list[str]:
    if not f:
        return []
    m, c = f["median_of_medians_ms"], f["client_cpu_ms"]
    return [f"| search median, index queries at once ({f['threads']} threads) against one "
            f"after the other ({f['rounds']} alternating rounds of {f['queries_per_round']} "
            f"queries, median of the rounds' medians) | {m['at once']:.1f} against "
            f"{m['one after the other']:.1f} ms (client CPU "
            f"{statistics.median(c['at once']):.1f} against "
            f"{statistics.median(c['one after the other']):.1f} ms) | |"]


def _server_pid(data: Path) -> int | None:
    try:
        return int((data / "falkordb.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _peak_mib(pid: int | None) -> int | None:
    """The database server's peak resident set (``VmHWM``), MiB: its whole life is the
    ingest."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        return None
    return None


def _cpu_seconds(pid: int | None) -> float | None:
    """CPU seconds (user + system) the database process has used, from /proc."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_ms(before: tuple[float, float | None], after: tuple[float, float | None],
            n: int) -> dict[str, float | None]:
    """Mean CPU milliseconds per request, of this process and of the database: what a
    request costs on a core of its own, whatever else shares the machine."""
    own = 1000 * (after[0] - before[0]) / n
    db = None if before[1] is None or after[1] is None else 1000 * (after[1] - before[1]) / n
    return {"explorer": round(own, 1), "database": None if db is None else round(db, 1),
            "total": None if db is None else round(own + db, 1)}


def _ingest_cpu_rows(wo: dict[str, Any], w: dict[str, Any]) -> list[str]:
    a, b = wo.get("cpu_s") or {}, w.get("cpu_s") or {}
    if not a.get("total") or not b.get("total"):
        return []
    return [f"| CPU of the first ingest (command + database), words only / with vectors | "
            f"{a['command']} + {a['database']} = {a['total']} s / {b['command']} + "
            f"{b['database']} = {b['total']} s: "
            f"{100 * (b['total'] - a['total']) / a['total']:.1f} % more | ≤ 25 % |"]


def _cpu_rows(lat: dict[str, Any]) -> list[str]:
    out = []
    for name, key in (("search", "search_cpu_ms"), ("proposal check", "check_cpu_ms")):
        c = lat.get(key)
        if c:
            out.append(f"| CPU per {name} (explorer + database), mean | {c['explorer']} + "
                       f"{c['database']} = {c['total']} ms | |")
    return out


def _before(b: dict[str, Any] | None) -> list[str]:
    if not b:
        return []
    return [f"First measured on the same store (load {b.get('load_average')}): search "
            f"median / p95 {b['search']['median_ms']} / {b['search']['p95_ms']} ms, check "
            f"median {b['check']['median_ms']} ms.", ""]


def report(r: dict[str, Any]) -> str:
    w, wo = r["ingest_with_vectors"], r["ingest_without_vectors"] or {}
    s, c = r["latency"]["search"], r["latency"]["check"]
    return "\n".join([
        f"# Search benchmark: {r['initiatives']:,} initiatives",
        "",
        f"Machine: {r['machine']}. Run {r['at']}"
        + (f"; search and check measured {r['latency_at']}" if r.get("latency_at") else "")
        + f". {r['contention']}",
        "",
        f"Model: {r['model']} ({r['model_package']}, {r['model_mib']} MiB on disk; "
        + ("install time not measured in this run" if r["install_s"] is None
           else f"install {r['install_s']} s")
        + " with its two small runtime packages, `tokenizers` and "
        "`safetensors`; no deep-learning framework).",
        "",
        f"Setting `search_model` = `{r.get('search_model')}`; static model "
        f"{r.get('static_model')}, table {r.get('static_table_mib')} MiB.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        (f"| first ingest, words only (load {wo.get('load_average')}) | {wo['seconds']} s, "
         f"{wo['rows_per_s']:,} rows/s | |" if wo else
         "| first ingest, words only | not run (`--vectors-only`) | |"),
        f"| first ingest, with vectors (load {w.get('load_average')}) | {w['seconds']} s, "
        f"{w['rows_per_s']:,} rows/s | at most 25 % slower |",
        *([f"| slowdown for the vectors | {r['slowdown_pct']} % | ≤ 25 % |"]
          if r.get("slowdown_pct") is not None else []),
        *([f"| peak resident set of the database server, first ingest with vectors | "
           f"{w['server_peak_mib']:,} MiB | |"] if w.get("server_peak_mib") else []),
        *_ingest_cpu_rows(wo, w),
        *([f"| embedding cost per embedded row | {r['embed_ms_per_row']} ms | |"]
          if r.get("embed_ms_per_row") is not None else []),
        f"| search median / p95 ({s['n']} queries) | {s['median_ms']} / {s['p95_ms']} ms | "
        "< 50 / < 150 ms |",
        f"| proposal check median / p95 ({c['n']} proposals) | {c['median_ms']} / "
        f"{c['p95_ms']} ms | < 300 ms median |",
        f"| load average while searching | {r['latency'].get('load_average')} | |",
        *_cpu_rows(r["latency"]),
        *_fanout_rows(r.get("fanout_ab")),
        "",
        *_before(r.get("latency_before")),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initiatives", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--install-time", type=float, default=None,
                        help="seconds `pip install` of the model took (else not measured)")
    parser.add_argument("--contention", default="",
                        help="a sentence on other load on the machine during the run")
    parser.add_argument("--latency-only", action="store_true",
                        help="measure search and the check again on the store the last "
                             "run left (its ingest figures are kept)")
    parser.add_argument("--vectors-only", action="store_true",
                        help="load only the store with vectors (no words-only baseline)")
    parser.add_argument("--fanout-ab", action="store_true",
                        help="also compare search with its index queries sent at once "
                             "against one after the other, in this process")
    parser.add_argument("--name", default=None,
                        help="results file name (default search-<initiatives>)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    stem = args.name or f"search-{args.initiatives}"
    bundle = ensure_bundle(args.work / f"bundle-{args.initiatives}", args.initiatives)
    data = args.work / f"search-{args.initiatives}-vec"
    if args.latency_only:
        result = json.loads((RESULTS / f"{stem}.json").read_text())
        result["latency_before"] = result.get("latency_before") or result["latency"]
    else:
        runs: dict[str, dict[str, Any]] = {}
        for vectors in (True,) if args.vectors_only else (False, True):
            where = args.work / f"search-{args.initiatives}-{'vec' if vectors else 'words'}"
            if where.exists():
                EmbeddedServer(where).stop()
                shutil.rmtree(where)
            runs["with" if vectors else "without"] = ingest(where, bundle, vectors)
            if not vectors:
                EmbeddedServer(where).stop()
                shutil.rmtree(where)
        store = open_store(f"embedded:{data}")
        embedded = sum(int(r["n"]) for r in store.read(
            "MATCH (n) WHERE n.embedded_hash IS NOT NULL RETURN count(n) AS n"))
        extra = runs["with"]["seconds"] - runs["without"]["seconds"] \
            if "without" in runs else None
        result = {
            "initiatives": args.initiatives,
            "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}; "
                       f"Python {platform.python_version()}",
            "at": time.strftime("%Y-%m-%d %H:%M:%S"),
            "contention": args.contention,
            "search_model": settings.SEARCH_MODEL.get(),
            "model": f"{embedding.MODEL_NAME} ({embedding.DIMENSIONS} dimensions)",
            "static_model": f"{static_embedding.MODEL_NAME} ({static_embedding.DIMENSIONS} "
                            "dimensions, distilled here)",
            "static_table_mib": round(static_embedding.ensure().stat().st_size / 2**20, 1),
            "model_package": embedding.MODEL_PACKAGE,
            "model_mib": round(package_size() / 2**20, 1),
            "install_s": args.install_time,
            "ingest_without_vectors": runs.get("without"),
            "ingest_with_vectors": runs["with"],
            "slowdown_pct": None if extra is None else
            round(100 * extra / runs["without"]["seconds"], 1),
            "embedded_rows": embedded,
            "embed_ms_per_row": round(1000 * extra / embedded, 3)
            if embedded and extra is not None else None,
        }
    result["latency"] = latency(data, bundle)
    result["latency_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
    if args.fanout_ab:
        result["fanout_ab"] = fanout_ab(data, bundle)
    EmbeddedServer(data).stop()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(report(result))
    print(report(result))


if __name__ == "__main__":
    main()
