"""Failover of a replicated deployment (one primary, 2 replicas, 3 Sentinels) on a small
graph: the scenario of ``bench/failover_bench.py``.

While the explorer serves concurrent clients and an ingest runs, the primary is killed
(SIGKILL). The Sentinels promote a replica; the explorer keeps answering; the ingest fails
with one line and, run again, completes; the graph and its public copy then equal a clean
load of the same bundles (exports compared), and the run acknowledged before the kill is
there.
"""

from __future__ import annotations

import importlib
import random
import sys
from pathlib import Path

import pytest

from triedbefore.graph.engines import open_store
from triedbefore.ingest.pipeline import ingest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
bench = importlib.import_module("failover_bench")
generate = importlib.import_module("generate")


@pytest.mark.server
def test_the_primary_killed_under_reads_and_an_ingest(tmp_path: Path) -> None:
    base = generate.ensure_bundle(tmp_path / "base", 300, seed=4)
    changed = tmp_path / "changed"
    generate.changed_bundle(base, changed, every=2)
    with bench.deployment(tmp_path / "db", down_after_ms=1000) as topology:
        uri = f"embedded:{topology.root}"
        store = open_store(uri)
        acknowledged = ingest(store, base)  # reported done: a replica holds it
        assert acknowledged.exit_code == 0, acknowledged.errors[:3]
        store.close()
        plan = bench.urls(base, random.Random(5), 40)
        paths = [p for page, items in plan.items() if page != "static_file" for p in items]
        with bench.Serving(uri) as served:
            found = bench.failover(topology, changed, served.base, paths, clients=8,
                                   batch_size=20, kill_after_s=0.3, after_s=1.0)
        assert found["new_primary"] != found["old_primary"]
        assert found["ingest_running_at_kill"]
        # the ingest fails with one clear line
        assert found["ingest_exit"] == 1
        assert len(found["ingest_stderr"]) == 1, found["ingest_stderr"]
        assert found["ingest_stderr"][0].startswith("triedbefore: error: the primary ")
        # the explorer kept answering while there was no primary
        reads = found["reads"]
        assert reads["requests"] > 0 and reads["failed"] == 0, found
        assert reads["longest_gap_s"] < max(3.0, found["failover_s"]), found
        # a re-run completes, and nothing is lost or different
        assert found["rerun_exit"] == 0, found["rerun_stderr"]
        store = open_store(uri)
        runs = store.read("MATCH (r:IngestRun {id: $id}) RETURN r.status AS s",
                          {"id": acknowledged.run_id})
        assert runs == [{"s": "completed"}]
        store.close()
        compared = bench.compare_with_clean_load(uri, [base, changed], tmp_path)
        assert bench.rows_lost(compared) == 0, compared
        assert compared["graph"]["initiatives.csv"]["rows"] == 300
