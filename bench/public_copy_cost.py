"""What the public copy costs a first ingest, against FalkorDB's bulk loader.

    python bench/public_copy_cost.py BUNDLE [--rounds N] [--vectors]

Every ingest writes each row twice: into the graph and into its public copy (the graph
without restricted records, which anonymous readers read). One idea for bringing ingest
nearer the bulk loader is to have no copy while nothing in the graph is restricted (the
copy would be the graph itself until the first restricted record arrives). This measures
what that idea could gain before anything is built: the same first ingest

- **with the copy**, as the product runs it, and
- **without it**: the graph alone, the copy's writes and its rebuild left out (a patch in
  the measuring process only; the product has no such setting),

each in a child process into a fresh embedded store, and FalkorDB's bulk loader on the same
bundle (``bench/bulk_baseline.py``), one after the other, ``--rounds`` times. CPU seconds
of the ingest process and of the database server are given beside wall seconds, since on
a shared machine wall seconds follow the load. Medians go to
``bench/results/ingest-public-copy-<initiatives>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bulk_baseline  # noqa: E402

#: One first ingest in a fresh embedded store; argv: bundle, "copy" or "graph-only", folder.
CHILD = r'''
import json, os, sys, time
from pathlib import Path
from triedbefore.graph.embedded import EmbeddedServer
from triedbefore.graph.engines import open_store
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest import pipeline

def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

bundle, variant, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
if variant == "graph-only":  # the copy's writes and rebuild left out
    pipeline._mirror = lambda store, previous: (store.ensure_schema(), None)[1]
    FalkorStore.rebuild_public_copy = lambda self: None
store = open_store(f"embedded:{folder}")
store.read("RETURN 1")
server = EmbeddedServer(folder)
pid = server.status().pid
db0, cpu0, wall0 = cpu(pid), time.process_time(), time.monotonic()
result = pipeline.ingest(store, Path(bundle))
figures = {"wall_s": time.monotonic() - wall0, "process_cpu_s": time.process_time() - cpu0,
           "server_cpu_s": cpu(pid) - db0, "exit": result.exit_code,
           "copy": store.has_public_copy(), "load": os.getloadavg()[0]}
store.close()
server.stop()
print(json.dumps(figures))
'''

VARIANTS = ("copy", "graph-only")


def ingest_once(bundle: Path, variant: str, work: Path, vectors: bool) -> dict[str, Any]:
    env = dict(os.environ, TRIEDBEFORE_SEARCH_VECTORS="yes" if vectors else "no")
    with tempfile.TemporaryDirectory(dir=work) as folder:
        out = subprocess.run([sys.executable, "-c", CHILD, str(bundle), variant,
                              str(Path(folder) / "db")], env=env, check=True,
                             capture_output=True, text=True)
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if figures["exit"] != 0 or figures["copy"] != (variant == "copy"):
        raise SystemExit(f"{variant}: unexpected run {figures}")
    return figures


def bulk_once(bundle: Path, work: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=work) as folder:
        b = bulk_baseline.run(bundle, Path(folder))
    return {"wall_s": b["total_s"], "cpu_s": b["load_cpu_s"] + b["server_cpu_s"],
            "load": os.getloadavg()[0]}


def median(runs: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 2)


def summary(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    bulk_wall, bulk_cpu = median(runs["bulk"], "wall_s"), median(runs["bulk"], "cpu_s")
    out: dict[str, Any] = {"bulk": {"wall_s": bulk_wall, "cpu_s": bulk_cpu}}
    for variant in VARIANTS:
        wall = median(runs[variant], "wall_s")
        cpu = round(statistics.median(r["process_cpu_s"] + r["server_cpu_s"]
                                      for r in runs[variant]), 2)
        out[variant] = {"wall_s": wall, "process_cpu_s": median(runs[variant], "process_cpu_s"),
                        "server_cpu_s": median(runs[variant], "server_cpu_s"), "cpu_s": cpu,
                        "x_bulk_wall": round(wall / bulk_wall, 2),
                        "x_bulk_cpu": round(cpu / bulk_cpu, 2)}
    return out


def pct(before: float, after: float) -> str:
    return f"{round(100 * (before - after) / before)} %"


def report(result: dict[str, Any]) -> str:
    s = result["summary"]
    lines = [
        f"# What the public copy costs a first ingest, {result['initiatives']:,} initiatives",
        "",
        f"`python bench/public_copy_cost.py {result['bundle_name']} --rounds "
        f"{result['rounds']}{' --vectors' if result['vectors'] else ''}`, run "
        f"{result['started']}; load average {result['load_start']} at the start, "
        f"{result['load_end']} at the end. Sentence vectors "
        f"{'on' if result['vectors'] else 'off'}. Medians of {result['rounds']} rounds, each "
        "round the three loads one after the other; CPU seconds are the ingest process's "
        "and the database server's together.",
        "",
        "| what | wall s | CPU s (process + server) | × bulk loader, wall | × bulk loader, CPU |",
        "|---|---|---|---|---|",
        f"| bulk loader (load + indexes) | {s['bulk']['wall_s']} | {s['bulk']['cpu_s']} | 1 | 1 |",
    ]
    names = {"copy": "first ingest, with the public copy (as the product runs)",
             "graph-only": "first ingest, the graph alone (copy left out)"}
    for variant in VARIANTS:
        v = s[variant]
        lines.append(f"| {names[variant]} | {v['wall_s']} | {v['cpu_s']} "
                     f"({v['process_cpu_s']} + {v['server_cpu_s']}) | {v['x_bulk_wall']} | "
                     f"{v['x_bulk_cpu']} |")
    copy, alone, bulk = s["copy"], s["graph-only"], s["bulk"]
    process_x = round(alone["process_cpu_s"] / bulk["cpu_s"], 2)
    lines += ["", f"Leaving the copy out saves {pct(copy['wall_s'], alone['wall_s'])} of the wall "
              f"time and {pct(copy['cpu_s'], alone['cpu_s'])} of the CPU seconds (the server's "
              f"{pct(copy['server_cpu_s'], alone['server_cpu_s'])}, the process's "
              f"{pct(copy['process_cpu_s'], alone['process_cpu_s'])}). The graph alone is still "
              f"{alone['x_bulk_wall']}× the bulk loader's wall time: the ingest process's own "
              f"CPU seconds ({alone['process_cpu_s']}) are {process_x}× the loader's whole load."]
    lines += ["", "Every round:", "", "| round | what | wall s | process CPU s | server CPU s "
              "| load average |", "|---|---|---|---|---|---|"]
    for i in range(result["rounds"]):
        for variant in (*VARIANTS, "bulk"):
            r = result["runs"][variant][i]
            process = round(r["process_cpu_s"], 2) if "process_cpu_s" in r else "-"
            server = round(r["server_cpu_s"], 2) if "server_cpu_s" in r else "-"
            lines.append(f"| {i + 1} | {variant} | {round(r['wall_s'], 2)} | {process} | "
                         f"{server} | {round(r['load'], 1)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    import time

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--vectors", action="store_true", help="sentence vectors on")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--results", type=Path, default=HERE / "results")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="public-copy-cost-"))
    work.mkdir(parents=True, exist_ok=True)
    with open(args.bundle / "initiatives.csv", encoding="utf-8", newline="") as fh:
        initiatives = sum(1 for _ in csv.reader(fh)) - 1
    result: dict[str, Any] = {
        "bundle_name": args.bundle.name, "initiatives": initiatives, "rounds": args.rounds,
        "vectors": args.vectors, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_start": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
        "runs": {"copy": [], "graph-only": [], "bulk": []}}
    for i in range(args.rounds):
        for variant in VARIANTS:
            result["runs"][variant].append(ingest_once(args.bundle, variant, work, args.vectors))
            print(i + 1, variant, result["runs"][variant][-1], flush=True)
        result["runs"]["bulk"].append(bulk_once(args.bundle, work))
        print(i + 1, "bulk", result["runs"]["bulk"][-1], flush=True)
    result["load_end"] = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    result["summary"] = summary(result["runs"])
    suffix = "-vectors" if args.vectors else ""
    out = args.results / f"ingest-public-copy-{initiatives}{suffix}"
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(report(result))
    print(report(result))


if __name__ == "__main__":
    main()
