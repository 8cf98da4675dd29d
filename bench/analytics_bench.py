"""Analytics benchmark: whole-graph recompute and per-question latency.

Loads a generated bundle (``bench/generate.py``) into a fresh embedded store,
then measures the whole-graph answers (zombie repeats and re-tries, unevaluated
spread, full solution resolution) once each, and the latency of one verdict, one
search and one proposal check over many inputs (median and p95). The named
baseline, ``point_read``, is the store round trip of a one-node read by id in
the same process; latencies are also reported as ratios to it. Results go to
``bench/results/analytics-<N>.json`` and ``.md``.

    python bench/analytics_bench.py [--initiatives 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import ensure_bundle  # noqa: E402
from ingest_bench import machine  # noqa: E402

from triedbefore.graph import analytics, resolution, search  # noqa: E402
from triedbefore.graph.embedded import EmbeddedServer  # noqa: E402
from triedbefore.graph.engines import open_store  # noqa: E402
from triedbefore.graph.store import Store  # noqa: E402
from triedbefore.ingest.pipeline import ingest  # noqa: E402

RESULTS = HERE / "results"
BASELINE = "point_read"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def latencies(fn: Callable[[Any], Any], inputs: list[Any]) -> dict[str, float]:
    fn(inputs[0])  # warm caches (matcher build, query plans)
    times = []
    for item in inputs:
        start = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"median_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2), "n": len(times)}


def queries_for(bundle: Path, n: int, rng: random.Random) -> list[str]:
    """Search inputs: solution names with a typo, or the labelled queries when present."""
    labelled = HERE / "quality" / "search_queries.csv"
    out: list[str] = []
    if labelled.exists():
        with open(labelled, newline="", encoding="utf-8") as fh:
            out = [row["query"] for row in csv.DictReader(fh)]
    with open(bundle / "solutions.csv", newline="", encoding="utf-8") as fh:
        names = [row["name"] for row in csv.DictReader(fh)]
    while len(out) < n:
        name = list(rng.choice(names))
        i = rng.randrange(len(name))
        name[i] = rng.choice("aeioust")
        out.append("".join(name))
    rng.shuffle(out)
    return out[:n]


def measure(store: Store, bundle: Path, n_queries: int) -> dict[str, Any]:
    """Whole-graph recompute and per-question latency on a store that holds ``bundle``
    (the bundle gives the search texts)."""
    rng = random.Random(7)
    recompute: dict[str, float] = {}
    recompute["evidence_index_s"], index = timed(lambda: analytics.EvidenceIndex.load(store))
    recompute["zombies_and_retries_s"], (zombies, retries) = timed(
        lambda: analytics.repeats(store, index=index))
    recompute["spread_s"], spread = timed(lambda: analytics.spread(store, index=index))
    recompute["resolution_full_s"], resolved = timed(lambda: resolution.resolve(store))
    recompute["total_s"] = round(sum(recompute.values()), 2)
    solutions = [r["id"] for r in store.read("MATCH (s:Solution) RETURN s.id AS id")]
    sample_ids = [rng.choice(solutions) for _ in range(n_queries)]
    texts = queries_for(bundle, n_queries, rng)
    base = latencies(lambda sid: store.read("MATCH (s:Solution {id: $id}) RETURN s.id AS id",
                                            {"id": sid}), sample_ids)
    verdict = latencies(lambda sid: analytics.verdict(store, sid), sample_ids)
    searching = latencies(lambda q: search.search(store, q), texts)
    checking = latencies(lambda q: search.check(store, q), texts[: max(20, n_queries // 4)])
    for figures in (verdict, searching, checking):
        figures[f"median_over_{BASELINE}"] = round(figures["median_ms"] / base["median_ms"], 1)
    return {
        "recompute": {k: round(v, 2) for k, v in recompute.items()},
        "found": {"zombies": len(zombies), "retries": len(retries), "spread": len(spread),
                  "resolved": len(resolved)},
        f"baseline_{BASELINE}": base, "verdict": verdict, "search": searching,
        "check": checking,
    }


def run(initiatives: int, n_queries: int, work: Path) -> dict[str, Any]:
    bundle = work / f"bundle-{initiatives}"
    ensure_bundle(bundle, initiatives)
    data_dir = work / f"analytics-store-{initiatives}"
    shutil.rmtree(data_dir, ignore_errors=True)
    server = EmbeddedServer(data_dir)
    server.ensure_running()
    try:
        store: Store = open_store(f"embedded:{data_dir}")
        load_s, result = timed(lambda: ingest(store, bundle))
        assert not result.errors, result.errors[:3]
        return {
            "initiatives": initiatives, "machine": machine(),
            "when": time.strftime("%Y-%m-%d %H:%M:%S"),
            "ingest_with_resolution_s": round(load_s, 2),
            **measure(store, bundle, n_queries),
        }
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def report(r: dict[str, Any]) -> str:
    rc = r["recompute"]
    return "\n".join([
        f"# Analytics benchmark, {r['initiatives']:,} initiatives", "",
        f"Machine: {r['machine']['cpus']} cores, {r['machine']['cpu']}, "
        f"{r['machine']['memory_gib']} GiB. Run {r['when']}. Embedded store.", "",
        "| whole-graph answer | seconds |", "|---|---|",
        f"| evidence index (read once, shared) | {rc['evidence_index_s']} |",
        f"| zombie repeats + informed re-tries | {rc['zombies_and_retries_s']} |",
        f"| unevaluated spread | {rc['spread_s']} |",
        f"| solution resolution (all unresolved initiatives) | {rc['resolution_full_s']} |",
        f"| **total recompute** | **{rc['total_s']}** |", "",
        f"Found: {r['found']}.", "",
        f"| question | median (ms) | p95 (ms) | n | median / `{BASELINE}` |",
        "|---|---|---|---|---|",
        f"| baseline `{BASELINE}` (one node by id) | {r[f'baseline_{BASELINE}']['median_ms']} | "
        f"{r[f'baseline_{BASELINE}']['p95_ms']} | {r[f'baseline_{BASELINE}']['n']} | 1 |",
        *[f"| {name} | {r[name]['median_ms']} | {r[name]['p95_ms']} | {r[name]['n']} | "
          f"{r[name][f'median_over_{BASELINE}']} |" for name in ("verdict", "search", "check")],
        "", "Targets: recompute under 60 s at 1M initiatives; verdict and search under 50 ms "
        "median at 100k; proposal check under 300 ms median.", ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initiatives", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--store", metavar="URI",
                        help="measure a store that already holds --bundle (nothing is loaded "
                             "or removed); the figures go to --out")
    parser.add_argument("--bundle", type=Path, help="with --store: the bundle it holds")
    parser.add_argument("--out", type=Path, help="with --store: where the figures go (JSON)")
    args = parser.parse_args()
    if args.store:
        store = open_store(args.store)
        try:
            figures = measure(store, args.bundle, args.queries)
        finally:
            store.close()
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
        return
    args.work.mkdir(parents=True, exist_ok=True)
    result = run(args.initiatives, args.queries, args.work)
    RESULTS.mkdir(exist_ok=True)
    stem = f"analytics-{args.initiatives}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(report(result))
    print(report(result))


if __name__ == "__main__":
    main()
