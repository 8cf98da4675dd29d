"""Ingest benchmark: first load, unchanged re-load, rows/s and peak memory.

For each size, a deterministic bundle is generated (``bench/generate.py``), then
loaded into a fresh embedded store by the real command line in a child process
(so its peak memory is that process's own, from ``wait4``), then loaded again
unchanged. The named baseline, ``raw_merge``, runs in this process on the same
server: the same rows written as plain ``UNWIND … MERGE`` of nodes with no
validation, references, relationships or provenance: the engine's floor for
this write path. Results go to ``bench/results/ingest.json`` and ``ingest.md``.

    python bench/ingest_bench.py [--sizes 10000 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import ensure_bundle  # noqa: E402

from triedbefore.graph.embedded import EmbeddedServer  # noqa: E402
from triedbefore.graph.engines import open_store  # noqa: E402
from triedbefore.ontology.models import ROW_TYPES  # noqa: E402

RESULTS = HERE / "results"
BASELINE = "raw_merge"


def run_cli_usage(store: str, *args: str) -> dict[str, Any]:
    """One CLI run in a child process: wall ``seconds``, ``cpu_s`` (user + system),
    ``peak_kib`` (its peak RSS, from ``wait4``) and ``output`` (its JSON)."""
    cmd = [sys.executable, "-m", "triedbefore.web.cli", "--store", store, *args,
           "--format", "json"]
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0, 3):
            err.seek(0)
            message = err.read().decode(errors="replace").strip().splitlines()
            raise SystemExit(f"{' '.join(args[:1])} failed with exit code {proc.returncode}: "
                             f"{message[-1] if message else 'no message'}")
        out.seek(0)
        data = json.loads(out.read().decode())
    return {"seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_kib": usage.ru_maxrss, "output": data}


def run_cli(store: str, *args: str) -> tuple[float, int, dict[str, Any]]:
    """Wall seconds, peak RSS (KiB) and JSON output of one CLI run in a child process."""
    run = run_cli_usage(store, *args)
    return run["seconds"], run["peak_kib"], run["output"]


def raw_merge(store_uri: str, bundle: Path, batch: int = 2000) -> float:
    """The baseline: nodes only, straight from CSV, no validation."""
    store = open_store(store_uri)
    store.ensure_schema()  # the same indexes triedbefore has: MERGE needs the id index
    start = time.perf_counter()
    for row_type in ROW_TYPES:
        statement = (f"UNWIND $rows AS r MERGE (n:{row_type.LABEL.value} {{id: r.id}}) "
                     "SET n += r.props")
        rows: list[dict[str, Any]] = []
        with open(bundle / row_type.FILE, newline="", encoding="utf-8") as fh:
            for rec in csv.DictReader(fh):
                rid = rec.pop(row_type.ID_COLUMN)
                rows.append({"id": rid, "props": {k: v for k, v in rec.items() if v}})
                if len(rows) >= batch:
                    store.write(statement, {"rows": rows})
                    rows = []
        if rows:
            store.write(statement, {"rows": rows})
    seconds = time.perf_counter() - start
    store.close()
    return seconds


def server_peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        mem_kib = 0
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_kib / 2**20, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def bench_size(size: int, repeat: int, work: Path) -> dict[str, Any]:
    bundle = work / f"bundle-{size}"
    ensure_bundle(bundle, size)
    rows = sum(sum(1 for _ in open(bundle / t.FILE, encoding="utf-8")) - 1 for t in ROW_TYPES)
    first, again, rss, base, server_kib, disk = [], [], [], [], [], []
    for i in range(repeat):
        data_dir = work / f"store-{size}-{i}"
        shutil.rmtree(data_dir, ignore_errors=True)
        server = EmbeddedServer(data_dir)
        server.ensure_running()
        try:
            uri = f"embedded:{data_dir}"
            seconds, peak, out = run_cli(uri, "ingest", str(bundle))
            assert not out["errors"], out["errors"][:3]
            first.append(seconds)
            rss.append(peak)
            seconds, peak, out = run_cli(uri, "ingest", str(bundle))
            assert sum(out["written"].values()) == 0, out["written"]
            again.append(seconds)
            rss.append(peak)
            base.append(raw_merge(f"{uri}?graph=baseline", bundle))
            server_kib.append(server_peak_kib(server.ensure_running()))
            disk.append(dir_size(data_dir))
        finally:
            server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
    med_first = statistics.median(first)
    return {
        "initiatives": size,
        "rows": rows,
        "repeat": repeat,
        "first_ingest_s": round(med_first, 2),
        "first_ingest_rows_per_s": round(rows / med_first),
        "reingest_unchanged_s": round(statistics.median(again), 2),
        "reingest_over_first": round(statistics.median(again) / med_first, 3),
        f"baseline_{BASELINE}_s": round(statistics.median(base), 2),
        f"first_ingest_over_{BASELINE}": round(med_first / statistics.median(base), 2),
        "peak_python_rss_mib": round(max(rss) / 1024, 1),
        "peak_server_rss_mib": round(max(server_kib) / 1024, 1),
        "disk_bytes_with_baseline_graph": max(disk),
        "runs_first_s": [round(x, 2) for x in first],
        "runs_reingest_s": [round(x, 2) for x in again],
    }


def report(results: dict[str, Any]) -> str:
    lines = ["# Ingest benchmark", "",
             f"Machine: {results['machine']['cpus']} cores, {results['machine']['cpu']}, "
             f"{results['machine']['memory_gib']} GiB; Python {results['machine']['python']}.",
             f"Run {results['when']}. Medians of {results['sizes'][0]['repeat']} runs per size. "
             f"Baseline `{BASELINE}`: the same rows as plain node MERGEs, no validation, "
             "references, relationships or provenance, on the same server.", "",
             "| initiatives | rows | first ingest (s) | rows/s | unchanged re-ingest (s) | "
             "re-ingest / first | baseline (s) | first / baseline | peak Python RSS (MiB) | "
             "peak server RSS (MiB) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["sizes"]:
        lines.append(
            f"| {r['initiatives']:,} | {r['rows']:,} | {r['first_ingest_s']} | "
            f"{r['first_ingest_rows_per_s']:,} | {r['reingest_unchanged_s']} | "
            f"{r['reingest_over_first']} | {r[f'baseline_{BASELINE}_s']} | "
            f"{r[f'first_ingest_over_{BASELINE}']} | {r['peak_python_rss_mib']} | "
            f"{r['peak_server_rss_mib']} |")
    lines += ["", "Targets (100k initiatives): first ingest under 60 s; unchanged re-ingest "
              "under a third of that; peak Python memory under 1 GB.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=HERE / "work")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = {"benchmark": "ingest", "baseline": BASELINE, "machine": machine(),
               "when": time.strftime("%Y-%m-%d %H:%M:%S"),
               "sizes": [bench_size(size, args.repeat, args.work) for size in args.sizes]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "ingest.md").write_text(report(results))
    print(report(results))


if __name__ == "__main__":
    main()
