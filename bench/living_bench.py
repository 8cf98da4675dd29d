"""Living-evidence benchmark: what recording verdict changes costs an ingest.

For one size, a deterministic bundle (``bench/generate.py``) is loaded into two fresh
graphs on one embedded server, one with verdict changes recorded (the default) and one
without (the entry point's recording step replaced by one that records nothing, for the
measurement only); then both are re-loaded unchanged, and
both load an update of 20 new evaluations (randomised trials finding no effect) of
existing initiatives. Finally the recording is timed alone over every solution (the
worst case: a run that touched them all). Results go to
``bench/results/living-<size>.json`` and ``.md``.

    python bench/living_bench.py [--initiatives 100000]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import ensure_bundle  # noqa: E402
from ingest_bench import machine  # noqa: E402

from triedbefore.graph import changes as living  # noqa: E402
from triedbefore.graph.analytics import solution_ids  # noqa: E402
from triedbefore.graph.embedded import EmbeddedServer  # noqa: E402
from triedbefore.graph.falkor import FalkorStore  # noqa: E402
from triedbefore.graph.store import StoreURI  # noqa: E402
from triedbefore.ingest.pipeline import ingest  # noqa: E402

RESULTS = HERE / "results"


def _store(server: EmbeddedServer) -> FalkorStore:
    name = "living_" + uuid.uuid4().hex[:8]
    uri = StoreURI("falkordb", f"falkordb+unix://{server.socket_path}?graph={name}",
                   path=server.socket_path, graph=name)
    return FalkorStore(uri, socket_path=server.socket_path)


def _update(bundle: Path, dest: Path, n: int = 20) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    with open(bundle / "evaluations.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0])
    with open(dest / "evaluations.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, restval="")
        writer.writeheader()
        for i, row in enumerate(rows[::max(1, len(rows) // n)][:n]):
            writer.writerow({"evaluation_id": f"UPD-{i}", "initiative_ids": row["initiative_ids"],
                             "title": "A later trial", "design": "rct", "finding": "no_effect",
                             "published_date": "2015", "independent": "true"})
    return dest


def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return round(time.perf_counter() - start, 2), out


def _unrecorded(store: Any, bundle: Path) -> Any:
    """An ingest whose verdict-change recording step records nothing: the baseline."""
    from triedbefore.ingest import pipeline

    real = pipeline.record
    pipeline.record = lambda *args, **kwargs: []  # type: ignore[assignment]
    try:
        return ingest(store, bundle)
    finally:
        pipeline.record = real


def run(size: int, work: Path) -> dict[str, Any]:
    bundle = ensure_bundle(work / f"bundle-{size}", size)
    update = _update(bundle, work / f"update-{size}")
    server = EmbeddedServer(work / "store")
    server.ensure_running()
    out: dict[str, Any] = {"initiatives": size}
    try:
        with_, without = _store(server), _store(server)
        out["first_without"], _ = _timed(lambda: _unrecorded(without, bundle))
        out["first_with"], first = _timed(lambda: ingest(with_, bundle))
        out["first_changes"] = first.to_dict()["changes"]
        out["unchanged_without"], _ = _timed(lambda: _unrecorded(without, bundle))
        out["unchanged_with"], _ = _timed(lambda: ingest(with_, bundle))
        out["update_without"], _ = _timed(lambda: _unrecorded(without, update))
        out["update_with"], upd = _timed(lambda: ingest(with_, update))
        out["update_changes"] = upd.to_dict()["changes"]
        out["record_all"], found = _timed(lambda: living.record_changes(
            without, "bench", living.Touched(everything=True)))
        out["record_all_changes"] = len(found)
        out["solutions"] = len(solution_ids(without))
        with_.drop_all()
        without.drop_all()
    finally:
        server.stop()
    return out


def report(r: dict[str, Any], when: str, m: dict[str, Any]) -> str:
    return "\n".join([
        f"# Living-evidence benchmark, {r['initiatives']:,} initiatives", "",
        f"Machine: {m['cpus']} cores, {m['cpu']}, {m['memory_gib']} GiB. Run {when}. "
        "Embedded store; one run (the machine is shared: compare the columns of one row, "
        "not runs).", "",
        "| ingest | without recording (s) | with recording (s) | changes recorded |",
        "|---|---|---|---|",
        f"| first load | {r['first_without']} | {r['first_with']} | {r['first_changes']} |",
        f"| unchanged re-load | {r['unchanged_without']} | {r['unchanged_with']} | 0 |",
        f"| update: 20 new evaluations | {r['update_without']} | {r['update_with']} | "
        f"{r['update_changes']} |", "",
        f"Recording alone over all {r['solutions']} solutions, none recorded before (a first "
        f"load: every verdict is a change, zombie repeats are the baseline): "
        f"{r['record_all']} s for {r['record_all_changes']} changes.", ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initiatives", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tb-living-") as tmp:
        result = run(args.initiatives, Path(tmp))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    m = machine()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"living-{args.initiatives}.json").write_text(
        json.dumps({"benchmark": "living", "when": when, "machine": m, **result}, indent=2)
        + "\n", encoding="utf-8")
    text = report(result, when, m)
    (RESULTS / f"living-{args.initiatives}.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
