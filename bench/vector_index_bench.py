"""What FalkorDB's vector index (HNSW) costs per vector written, and what it finds, by its
build parameters.

For each (M, efConstruction) pair asked for, a fresh graph on a temporary embedded
server gets N initiatives (the generated bundle's, by id), then the static model's
vectors of their texts, written as ingest writes them (the dialect's ``set_vectors``,
``VECTOR_WRITE_BATCH`` at a time). Measured: the server's CPU seconds for the vector
writes (ratio against the same writes with no index, in the same run), and recall@10 of
the index's search (efRuntime as configured) against exact cosine ranking, for 200
other initiatives' vectors as queries. Every statement is the product's own
(``graph/dialect.py``, ``graph/queries.py``); the pairs are set through ``FALKOR_HNSW``.

    python bench/vector_index_bench.py [--initiatives 99000] [--pairs 32,200 16,64 16,100]
        [--dimensions 384 128]

``--dimensions``: the static model's vectors cut to their first D components (its table
is rotated onto its principal axes, largest first) and made unit length again, each D on
indexes of that dimension; recall is against exact ranking in the same D.

Results go to ``bench/results/vector-index-<N>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import ensure_bundle  # noqa: E402
from ingest_bench import machine  # noqa: E402

from triedbefore.graph import dialect as dialect_module  # noqa: E402
from triedbefore.graph import queries, static_embedding, vectors  # noqa: E402
from triedbefore.graph.dialect import VECTOR_SCALE, VECTOR_WRITE_BATCH, FalkorDialect  # noqa: E402
from triedbefore.graph.embedded import EmbeddedServer  # noqa: E402
from triedbefore.graph.engines import open_store  # noqa: E402
from triedbefore.ontology.vocab import Label  # noqa: E402

RESULTS = HERE / "results"
QUERIES = 200


def _server_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def texts(bundle: Path, n: int) -> list[tuple[str, str]]:
    out = []
    with (bundle / "initiatives.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.append((row["initiative_id"], vectors.text_of(Label.INITIATIVE, row)))
            if len(out) == n:
                break
    return out


def one(pair: tuple[int, int] | None, ids: list[str], scaled: list[list[int]],
        unit: np.ndarray, query_vectors: np.ndarray, exact: np.ndarray) -> dict[str, Any]:
    """A fresh graph with ``pair`` (None: no vector index): the vector writes' server CPU
    and the index's recall@10."""
    with tempfile.TemporaryDirectory(prefix="tb-hnsw-") as tmp:
        store = open_store(f"embedded:{tmp}/db")
        try:
            if pair is not None:
                dialect_module.FALKOR_HNSW = (pair[0], pair[1], dialect_module.FALKOR_HNSW[2])
                store.write(FalkorDialect().vector_index(Label.INITIATIVE))
            store.write(FalkorDialect().range_index(Label.INITIATIVE))  # lookups by id
            for at in range(0, len(ids), 2000):
                store.write(queries.copy_nodes(Label.INITIATIVE),
                            {"rows": [{"props": {"id": i}} for i in ids[at:at + 2000]]})
            pid = EmbeddedServer(Path(tmp) / "db").status().pid
            assert pid is not None
            setter = FalkorDialect().set_vectors(Label.INITIATIVE)
            cpu, wall = _server_cpu(pid), time.monotonic()
            for at in range(0, len(ids), VECTOR_WRITE_BATCH):
                store.write(setter, {"rows": [
                    {"id": i, "vector": v, "hash": "bench"}
                    for i, v in zip(ids[at:at + VECTOR_WRITE_BATCH],
                                    scaled[at:at + VECTOR_WRITE_BATCH], strict=True)]})
            cpu, wall = _server_cpu(pid) - cpu, time.monotonic() - wall
            found = 0
            if pair is not None:
                position = {i: n for n, i in enumerate(ids)}
                search = FalkorDialect().vector_query(Label.INITIATIVE)
                for q, want in zip(query_vectors, exact, strict=True):
                    rows = store.read(search, {"k": 10, "v": [float(x) for x in q]})
                    found += len({position[r["id"]] for r in rows} & set(want.tolist()))
            return {"pair": list(pair) if pair else None, "server_cpu_s": round(cpu, 2),
                    "wall_s": round(wall, 1),
                    "ms_per_vector": round(1000 * cpu / len(ids), 3),
                    "recall_at_10": round(found / (10 * len(exact)), 3) if pair else None}
        finally:
            EmbeddedServer(Path(tmp) / "db").stop()
            store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initiatives", type=int, default=99_000)
    parser.add_argument("--pairs", nargs="+", default=["32,200", "16,64", "16,100"])
    parser.add_argument("--dimensions", nargs="+", type=int,
                        default=[dialect_module.VECTOR_DIMENSIONS])
    parser.add_argument("--work", type=Path, default=HERE / "work")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    bundle = ensure_bundle(args.work / "bundle-100000", 100_000)
    rows = texts(bundle, args.initiatives + QUERIES)
    full = static_embedding.embed([t for _, t in rows]).astype(np.float32)
    ids = [i for i, _ in rows[:args.initiatives]]
    result: dict[str, Any] = {"initiatives": args.initiatives, "queries": QUERIES,
                              "when": time.strftime("%Y-%m-%d %H:%M:%S"),
                              "machine": machine(), "load_at_start": os.getloadavg(),
                              "ef_runtime": dialect_module.FALKOR_HNSW[2],
                              "write_batch": VECTOR_WRITE_BATCH, "runs": []}
    for dimensions in args.dimensions:
        unit = full[:, :dimensions]
        unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
        base, query_vectors = unit[:args.initiatives], unit[args.initiatives:]
        exact = np.argsort(-(query_vectors @ base.T), axis=1)[:, :10]
        scaled = np.rint(base * VECTOR_SCALE).astype(np.int64).tolist()
        dialect_module.VECTOR_DIMENSIONS = dimensions
        for pair in [None, *(tuple(int(x) for x in p.split(",")) for p in args.pairs)]:
            run = one(pair, ids, scaled, unit, query_vectors, exact)  # type: ignore[arg-type]
            run["dimensions"] = dimensions
            result["runs"].append(run)
            print(json.dumps(run), flush=True)
    result["load_at_end"] = os.getloadavg()
    stem = RESULTS / f"vector-index-{args.initiatives}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    base_cpu = {r["dimensions"]: r["server_cpu_s"] for r in result["runs"] if r["pair"] is None}
    lines = [f"# FalkorDB's vector index by its build parameters, {args.initiatives:,} "
             "initiatives", "",
             f"Run {result['when']} on {result['machine']['cpus']} cores (load average "
             f"{', '.join(f'{x:.1f}' for x in result['load_at_start'])} at the start), "
             "each pair on a fresh graph of a temporary embedded server. Vectors: the "
             "static model's, of the generated initiatives' texts, written "
             f"{VECTOR_WRITE_BATCH} per statement as ingest writes them. Recall@10: of "
             f"{QUERIES} other initiatives' vectors as queries, the share of the exact 10 "
             f"nearest (cosine) the index returns (efRuntime {result['ef_runtime']}). The "
             "server's CPU seconds do not depend on the machine's load as wall time does.",
             "", "| dimensions | M, efConstruction | server CPU for the writes, s | "
             "ms per vector | of which the index | recall@10 |", "|---|---|---|---|---|---|"]
    for run in result["runs"]:
        index = (run["server_cpu_s"] - base_cpu[run["dimensions"]]) * 1000 / args.initiatives
        pair = "no index" if run["pair"] is None else ", ".join(map(str, run["pair"]))
        lines.append(f"| {run['dimensions']} | {pair} "
                     f"| {run['server_cpu_s']} | {run['ms_per_vector']} | "
                     f"{'-' if run['pair'] is None else f'{index:.3f}'} | "
                     f"{'-' if run['recall_at_10'] is None else run['recall_at_10']} |")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
