"""The CPU seconds of an ingest, checkout against checkout, measured at the same time.

    python bench/ingest_cpu.py BUNDLE CHECKOUT [CHECKOUT ...] [--label NAME ...] [--repeat N]

Each checkout (a folder with its own ``.venv``, e.g. a ``git worktree`` of an older commit)
runs ``triedbefore ingest BUNDLE`` into a fresh embedded store of its own, then the same
bundle again (the unchanged re-ingest), as the suite does: the CLI in a child process,
whose user + system CPU seconds come from ``wait4`` (with the processes it forks), and the
database server's from ``/proc``. The checkouts run **at the same time**, one pair of runs
after another, with vectors off: on a shared machine the CPU seconds of the same work rise
with the load (cache and core sharing), so only runs made side by side compare. Results
go to ``bench/results/ingest-cpu-<rows>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bulk_baseline import cpu_seconds  # noqa: E402
from ingest_bench import machine  # noqa: E402

RESULTS = HERE / "results"


def _cli(python: str, store: str, *args: str) -> list[str]:
    return [python, "-m", "triedbefore.web.cli", "--store", store, *args]


def one_checkout(root: Path, bundle: Path, work: Path) -> dict[str, Any]:
    """First ingest and unchanged re-ingest of ``bundle`` with the checkout at ``root``."""
    python = str(root / ".venv" / "bin" / "python")
    env = dict(os.environ, TRIEDBEFORE_SEARCH_VECTORS="no", TRIEDBEFORE_DATA_DIR=str(work))
    store = f"embedded:{work / 'db'}"
    start = ("from triedbefore.graph.embedded import EmbeddedServer as E; "
             f"print(E({str(work / 'db')!r}).ensure_running())")
    pid = int(subprocess.run([python, "-c", start], env=env, capture_output=True, text=True,
                             check=True).stdout.split()[-1])
    out: dict[str, Any] = {"checkout": str(root), "commit": subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
        text=True, check=False).stdout.strip()}
    try:
        for phase in ("first_ingest", "reingest_unchanged"):
            server0 = cpu_seconds(pid)
            began = time.perf_counter()
            with tempfile.TemporaryFile() as log:
                proc = subprocess.Popen(_cli(python, store, "ingest", str(bundle), "--format",
                                             "json"), stdout=log, stderr=log, env=env)
                _pid, status, usage = os.wait4(proc.pid, 0)
                code = os.waitstatus_to_exitcode(status)
                if code not in (0, 3):
                    log.seek(0)
                    raise SystemExit(f"{root}: ingest failed ({code}): "
                                     f"{log.read().decode(errors='replace')[-2000:]}")
            out[phase] = {"wall_s": round(time.perf_counter() - began, 2),
                          "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
                          "server_cpu_s": round(cpu_seconds(pid) - server0, 2),
                          "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}
    finally:
        subprocess.run(_cli(python, store, "db", "stop"), env=env, capture_output=True,
                       check=False)
    return out


def compare(bundle: Path, roots: list[Path], labels: list[str], repeat: int,
            work: Path) -> dict[str, Any]:
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    runs: list[dict[str, Any]] = []
    for round_ in range(repeat):
        load = os.getloadavg()
        found: dict[str, dict[str, Any]] = {}

        def measure(label: str, root: Path, slot: Path, found: dict[str, Any]) -> None:
            shutil.rmtree(slot, ignore_errors=True)
            slot.mkdir(parents=True)
            try:
                found[label] = one_checkout(root, bundle, slot)
            finally:
                shutil.rmtree(slot, ignore_errors=True)

        threads = [threading.Thread(target=measure, args=(label, root, work / f"{i}", found))
                   for i, (label, root) in enumerate(zip(labels, roots, strict=True))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        runs.append({"round": round_ + 1, "load_average_start": [round(x, 2) for x in load],
                     "load_average_end": [round(x, 2) for x in os.getloadavg()],
                     "checkouts": [found[label] | {"label": label} for label in labels]})
        print(json.dumps(runs[-1]), flush=True)
    return {"bundle": str(bundle), "machine": machine(),
            "started": started, "runs": runs}


def report(results: dict[str, Any]) -> str:
    lines = [f"# Ingest CPU, checkout against checkout ({results['bundle']})", "",
             f"Run {results['started']}; each round runs the checkouts at the same time "
             "(vectors off). CPU seconds: the `triedbefore ingest` process (with what it "
             "forks) / the database server.", "",
             "| round | load | checkout | commit | first ingest CPU s | re-ingest CPU s |",
             "|---|---|---|---|---|---|"]
    for run in results["runs"]:
        for c in run["checkouts"]:
            f, r = c["first_ingest"], c["reingest_unchanged"]
            lines.append(f"| {run['round']} | {run['load_average_start'][0]} | {c['label']} | "
                         f"{c['commit']} | {f['cpu_s']} / {f['server_cpu_s']} | "
                         f"{r['cpu_s']} / {r['server_cpu_s']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("checkouts", type=Path, nargs="+")
    parser.add_argument("--label", action="append", default=[])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work", type=Path, default=HERE / "work" / "ingest-cpu")
    parser.add_argument("--name", default=None, help="results file name (default: by rows)")
    args = parser.parse_args()
    labels = args.label or [str(c) for c in args.checkouts]
    if len(labels) != len(args.checkouts):
        parser.error("give one --label per checkout, or none")
    results = compare(args.bundle.resolve(), [c.resolve() for c in args.checkouts], labels,
                      args.repeat, args.work)
    rows = sum(max(0, len(p.read_text().splitlines()) - 1) for p in args.bundle.glob("*.csv"))
    name = args.name or f"ingest-cpu-{rows}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(report(results))
    print(report(results))


if __name__ == "__main__":
    main()
