"""Warm start: how soon a started explorer answers the first request of every page.

    python bench/warm_start.py --loaded DATA_DIR [--initiatives 100000] [--workers 2]

On an embedded store that already holds the generated bundle (``--loaded``, kept as it
is), the explorer is started as ``triedbefore serve --workers N`` in a process of its
own, three times: with no kept answers (it computes them before it says it is ready),
again on the same graph version (it loads them), and once more after a small ingest
changed the graph (a new version: computed again). Each time: seconds from launch to
ready, then one first request per page (ms). Results go to
``bench/results/warm-start-<N>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import explorer_bench  # noqa: E402
from generate import ensure_bundle  # noqa: E402
from ingest_bench import machine  # noqa: E402

from triedbefore.graph.embedded import EmbeddedServer  # noqa: E402
from triedbefore.graph.engines import open_store  # noqa: E402
from triedbefore.ingest.pipeline import RowsSource, run  # noqa: E402

RESULTS = HERE / "results"
TARGET_MS = 1000.0


def start(uri: str, bundle: Path, answers: Path, workers: int) -> dict[str, Any]:
    with explorer_bench.Serving(uri, separate=True, workers=workers,
                                answers_dir=answers) as served:
        plan = explorer_bench.urls(bundle, random.Random(5), 1,
                                   explorer_bench.zombie_pages(served.base))
        return {"start_s": served.start_s,
                "first_ms": explorer_bench.first_requests(served.base, plan)}


def measure(data_dir: Path, bundle: Path, workers: int) -> dict[str, Any]:
    server = EmbeddedServer(data_dir)
    server.ensure_running()
    uri = f"embedded:{data_dir}"
    answers = Path(tempfile.mkdtemp(prefix="answers-"))
    try:
        out = {"new_version": start(uri, bundle, answers, workers),
               "restart": start(uri, bundle, answers, workers)}
        store = open_store(uri)
        try:  # one new solution: the graph changes, so does its version
            result = run(store, RowsSource("warm-start bench", {"solutions.csv": [{
                "solution_id": f"G-WARM-{int(time.time())}", "name": "Warm start probe",
                "intervention_type": "delivery_arrangements"}]}))
            assert result.exit_code == 0, result.errors[:3]
        finally:
            store.close()
        out["after_ingest"] = start(uri, bundle, answers, workers)
        return out
    finally:
        shutil.rmtree(answers, ignore_errors=True)
        server.stop()


def report(r: dict[str, Any]) -> str:
    lines = [f"# Warm start, {r['initiatives']:,} initiatives", "",
             f"Machine: {r['machine']['cpus']} cores, {r['machine']['cpu']}. Run {r['when']}, "
             f"load average at the start {', '.join(f'{x:.1f}' for x in r['load_average'])} "
             "(other work on the machine slows every figure). The explorer served as "
             f"`triedbefore serve --workers {r['workers']}` in a process of its own; start: "
             "seconds from launch until it says it is ready; then one first request per "
             "page, one after another.", "",
             "| start | start s | " + " | ".join(r["pages"]) + " | slowest page |",
             "|---" * (len(r["pages"]) + 3) + "|"]
    names = {"new_version": "no answers kept (computed)", "restart": "restart (loaded)",
             "after_ingest": "after an ingest (new version: computed)"}
    for key, label in names.items():
        f = r[key]
        pages = [f["first_ms"].get(p) for p in r["pages"]]
        worst = max((v if v is not None else float("inf")) for v in pages[1:])
        lines.append(f"| {label} | {f['start_s']} | "
                     + " | ".join("failed" if v is None else f"{v:,.0f}" for v in pages)
                     + f" | {worst:,.0f} |")
    lines += ["", f"Target: the first request of every page within {TARGET_MS:,.0f} ms after "
              "a start (the static file is the server's floor, not a page).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loaded", type=Path, required=True,
                        help="data folder of an embedded store holding the bundle")
    parser.add_argument("--initiatives", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    bundle = ensure_bundle(args.work / f"bundle-{args.initiatives}", args.initiatives)
    load, when = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M:%S")
    figures = measure(args.loaded, bundle, args.workers)
    pages = list(figures["new_version"]["first_ms"])
    result = {"initiatives": args.initiatives, "workers": args.workers, "machine": machine(),
              "load_average": load, "when": when,
              "pages": pages, **figures}
    RESULTS.mkdir(exist_ok=True)
    stem = f"warm-start-{args.initiatives}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(report(result))
    print(report(result))


if __name__ == "__main__":
    main()
