"""Where a first ingest's time goes: its passes, and every statement it sends.

    python bench/ingest_profile.py [--initiatives 100000] [--work bench/work]

Loads the generated bundle (``bench/generate.py``) into a fresh embedded store with the
ingest entry point in this process, timing the loader's three passes and every statement
(by its text, the graph's and the public copy's apart: wall seconds, as the writer
thread waits for them), with the CPU seconds of this process and of the database server.
On a busy machine wall times include waiting for a core; CPU seconds do not. Results go to
``bench/results/ingest-profile-<N>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bulk_baseline  # noqa: E402
from generate import ensure_bundle  # noqa: E402
from ingest_bench import machine  # noqa: E402

from triedbefore.graph import falkor  # noqa: E402
from triedbefore.graph.embedded import EmbeddedServer  # noqa: E402
from triedbefore.graph.engines import open_store  # noqa: E402
from triedbefore.ingest import loader as loading  # noqa: E402
from triedbefore.ingest.pipeline import ingest  # noqa: E402

RESULTS = HERE / "results"
PASSES = ("_validate", "_check_references", "_write")


def profile(bundle: Path, data_dir: Path) -> dict[str, Any]:
    EmbeddedServer(data_dir).stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    server = EmbeddedServer(data_dir)
    pid = server.ensure_running()
    store = open_store(f"embedded:{data_dir}")
    statements: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    lock = threading.Lock()
    passes: dict[str, float] = {}
    run = falkor.FalkorStore._run

    def timed_run(self: Any, query: str, params: Any, **kw: Any) -> Any:
        start = time.perf_counter()
        try:
            return run(self, query, params, **kw)
        finally:
            key = ("public copy: " if self.public_only else "") + " ".join(query.split())
            with lock:
                statements[key][0] += 1
                statements[key][1] += time.perf_counter() - start

    originals = {name: getattr(loading.Loader, name) for name in PASSES}

    def timed_pass(name: str) -> Any:
        def call(self: Any) -> Any:
            start = time.perf_counter()
            try:
                return originals[name](self)
            finally:
                passes[name.strip("_")] = round(time.perf_counter() - start, 2)
        return call

    falkor.FalkorStore._run = timed_run  # type: ignore[method-assign]
    for name in PASSES:
        setattr(loading.Loader, name, timed_pass(name))
    try:
        cpu0 = bulk_baseline.cpu_seconds(pid)
        own0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        start = time.perf_counter()
        result = ingest(store, bundle)
        wall = time.perf_counter() - start
        out = {"wall_s": round(wall, 2),
               "ingest_cpu_s": round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - own0, 2),
               "server_cpu_s": round(bulk_baseline.cpu_seconds(pid) - cpu0, 2),
               "passes_s": passes, "written": result.written,
               "statements": sorted(({"statement": k, "count": int(n), "wall_s": round(s, 2)}
                                     for k, (n, s) in statements.items()),
                                    key=lambda r: -r["wall_s"])}
    finally:
        falkor.FalkorStore._run = run  # type: ignore[method-assign]
        for name, fn in originals.items():
            setattr(loading.Loader, name, fn)
        store.close()
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return out


def report(r: dict[str, Any]) -> str:
    lines = [f"# Where a first ingest's time goes, {r['initiatives']:,} initiatives", "",
             f"Machine: {r['machine']['cpus']} cores, {r['machine']['cpu']}. Run {r['when']}, "
             f"load average at the start {', '.join(f'{x:.1f}' for x in r['load_average'])} "
             "(other work on the machine: wall times include waiting for a core, CPU seconds "
             "do not).", "",
             f"Wall {r['wall_s']} s; CPU seconds: ingest process {r['ingest_cpu_s']}, "
             f"database server {r['server_cpu_s']}. Passes (wall s): "
             + ", ".join(f"{k} {v}" for k, v in r["passes_s"].items()) + ".", "",
             "| statement | count | wall s |", "|---|---|---|"]
    for s in r["statements"][:25]:
        text = s["statement"] if len(s["statement"]) <= 110 else s["statement"][:107] + "…"
        lines.append(f"| `{text}` | {s['count']} | {s['wall_s']} |")
    return "\n".join(lines + [""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initiatives", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=HERE / "work")
    args = parser.parse_args()
    bundle = ensure_bundle(args.work / f"bundle-{args.initiatives}", args.initiatives)
    load, when = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M:%S")
    figures = profile(bundle, args.work / f"profile-store-{args.initiatives}")
    result = {"initiatives": args.initiatives, "machine": machine(), "load_average": load,
              "when": when, **figures}
    RESULTS.mkdir(exist_ok=True)
    stem = f"ingest-profile-{args.initiatives}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(report(result))
    print(report(result))


if __name__ == "__main__":
    main()
