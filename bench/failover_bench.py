"""Failover and read-scaling benchmark of a replicated FalkorDB deployment on this machine.

A deployment of one primary, 2 replicas and 3 Sentinels (``triedbefore db start
--replicas 2``) is loaded with a generated bundle. Then:

- **read scaling**: the explorer benchmark (``explorer_bench.measure``) at C clients,
  with the explorer reading the primary alone (``falkordb://PRIMARY``) and then through
  the Sentinels (reads spread over the 2 replicas);
- **failover**: while the explorer serves C clients (each requesting pages in a loop)
  and an ingest of the bundle with one row in ten changed runs in a process of its own,
  the primary is killed (SIGKILL). Measured: the failover time (the kill to a new primary
  that accepts writes), the explorer's failed requests and its longest gap without an
  answer, and the ingest's exit and message. The ingest is run again; then the graph and
  its public copy are exported and compared with a clean load of the same two bundles
  into a single server: rows lost (must be 0) and rows extra.

Results go to ``bench/results/failover-<N>.json`` and ``.md``.

    nice python bench/failover_bench.py [--initiatives 100000] [--clients 32]

The test suite runs the same scenario at a small size (``tests/test_failover.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from explorer_bench import Serving, measure, urls  # noqa: E402
from generate import changed_bundle, ensure_bundle  # noqa: E402
from ingest_bench import machine  # noqa: E402

from triedbefore.graph.embedded import EmbeddedServer  # noqa: E402
from triedbefore.graph.engines import open_store  # noqa: E402
from triedbefore.graph.topology import LocalTopology  # noqa: E402
from triedbefore.ingest.export import export_bundle  # noqa: E402
from triedbefore.ingest.pipeline import ingest  # noqa: E402

RESULTS = HERE / "results"
FILES = ("sites.csv", "solutions.csv", "initiatives.csv", "outcomes.csv", "evaluations.csv")


# -- the explorer's clients ---------------------------------------------------------------


@dataclass
class Clients:
    """C threads requesting explorer pages in a loop until stopped; each answer is noted
    (when it ended, whether it was a 200)."""

    base: str
    paths: list[str]
    count: int
    timeout_s: float = 30.0
    answers: list[tuple[float, bool]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Clients:
        for i in range(self.count):
            thread = threading.Thread(target=self._client, args=(self.paths[i::self.count],),
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _client(self, paths: list[str]) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                for path in paths:
                    if self._stop.is_set():
                        return
                    try:
                        ok = session.get(self.base + path, timeout=self.timeout_s
                                         ).status_code == 200
                    except requests.RequestException:
                        ok = False
                    with self._lock:
                        self.answers.append((time.monotonic(), ok))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout_s + 5)

    def figures(self, start: float, end: float) -> dict[str, Any]:
        """Requests answered between ``start`` and ``end``, the failed ones, and the
        longest time without a successful answer."""
        with self._lock:
            window = sorted(a for a in self.answers if start <= a[0] <= end)
        good = [start] + [t for t, ok in window if ok] + [end]
        gap = max(b - a for a, b in zip(good, good[1:], strict=False))
        return {"requests": len(window), "failed": sum(1 for _, ok in window if not ok),
                "longest_gap_s": round(gap, 2)}


# -- the deployment -----------------------------------------------------------------------


def primary_pid(topology: LocalTopology) -> tuple[int, str]:
    """The pid and address of the node that is the primary now."""
    for member in topology.status()["members"]:
        if member["role"] == "primary" and member["running"]:
            return int(member["pid"]), f"127.0.0.1:{member['port']}"
    raise RuntimeError("no primary runs")


def wait_for_new_primary(topology: LocalTopology, old: str, timeout: float) -> str:
    """Until the Sentinels name a primary other than ``old`` and it accepts a write."""
    password = (topology.root / "password").read_text().strip()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = topology.primary()
        address = f"{found[0]}:{found[1]}" if found else None
        if address and address != old:
            try:
                client = redis.Redis(host=found[0], port=found[1],  # type: ignore[index]
                                     password=password, socket_timeout=1.0)
                with client:
                    if client.info("replication").get("role") == "master":
                        client.execute_command("PUBLISH", "triedbefore:probe", "1")
                        return address
            except redis.RedisError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"no new primary within {timeout:g} s")


def cli(uri: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "triedbefore.web.cli", "--store", uri, *args]


@contextmanager
def deployment(root: Path, *, replicas: int = 2, down_after_ms: int = 1000,
               ) -> Iterator[LocalTopology]:
    """A fresh replicated deployment in ``root``, stopped (by pid) afterwards."""
    topology = LocalTopology(root)
    topology.create(replicas=replicas, down_after_ms=down_after_ms)
    try:
        topology.start()
        yield topology
    finally:
        topology.stop()


# -- the scenario -------------------------------------------------------------------------


def failover(topology: LocalTopology, running: Path, base_url: str, paths: list[str], *,
             clients: int, batch_size: int, kill_after_s: float,
             after_s: float = 3.0, timeout_s: float = 600.0) -> dict[str, Any]:
    """Kill the primary while ``clients`` read the explorer at ``base_url`` and the
    ingest of ``running`` runs; then run that ingest again. Returns the figures."""
    uri = f"embedded:{topology.root}"
    watcher = open_store(uri)
    runs_before = len(watcher.read("MATCH (r:IngestRun) RETURN r.id AS id"))
    with Clients(base_url, paths, clients) as readers:
        started = time.monotonic()
        proc = subprocess.Popen(cli(uri, "ingest", str(running), "--batch-size",
                                    str(batch_size)),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # the run is recorded first: it is writing from then on
        while len(watcher.read("MATCH (r:IngestRun) RETURN r.id AS id")) == runs_before:
            if proc.poll() is not None or time.monotonic() - started > timeout_s:
                raise RuntimeError("the ingest ended before it wrote: "
                                   + (proc.communicate()[1] or "")[-2000:])
            time.sleep(0.02)
        time.sleep(kill_after_s)
        pid, old = primary_pid(topology)
        ingest_running = proc.poll() is None
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        new = wait_for_new_primary(topology, old, timeout=60.0)
        promoted = time.monotonic()
        out, err = proc.communicate(timeout=timeout_s)
        time.sleep(after_s)  # the explorer keeps answering after the promotion too
        ended = time.monotonic()
    reads = readers.figures(killed - 1.0, ended)
    watcher.close()
    rerun_start = time.monotonic()
    again = subprocess.run(cli(uri, "ingest", str(running), "--batch-size", str(batch_size)),
                           capture_output=True, text=True, timeout=timeout_s)
    return {
        "old_primary": old, "new_primary": new,
        "failover_s": round(promoted - killed, 2),
        "ingest_running_at_kill": ingest_running,
        "ingest_exit": proc.returncode,
        "ingest_stderr": [line for line in err.splitlines() if line.strip()],
        "rerun_exit": again.returncode, "rerun_s": round(time.monotonic() - rerun_start, 1),
        "rerun_stderr": [line for line in again.stderr.splitlines() if line.strip()][-5:],
        "reads": reads, "clients": clients,
    }


def compare_with_clean_load(uri: str, bundles: list[Path], work: Path) -> dict[str, Any]:
    """Export the graph at ``uri`` and its public copy, load ``bundles`` in order into a
    fresh single server and export it the same way: data rows lost and extra, per file."""
    clean_dir = work / "clean-store"
    shutil.rmtree(clean_dir, ignore_errors=True)
    server = EmbeddedServer(clean_dir)
    server.ensure_running()
    try:
        clean = open_store(f"embedded:{clean_dir}")
        for bundle in bundles:
            result = ingest(clean, bundle)
            assert not result.errors, result.errors[:3]
        store = open_store(uri)
        figures: dict[str, Any] = {}
        for kind, pick in (("graph", lambda s: s), ("public copy", lambda s: s.public_copy())):
            got, want = work / f"export-{kind[0]}-got", work / f"export-{kind[0]}-clean"
            for path in (got, want):
                shutil.rmtree(path, ignore_errors=True)
            export_bundle(pick(store), got)
            export_bundle(pick(clean), want)
            per_file = {}
            for name in FILES:
                a = set((got / name).read_text(encoding="utf-8").splitlines()[1:])
                b = set((want / name).read_text(encoding="utf-8").splitlines()[1:])
                per_file[name] = {"rows": len(b), "lost": len(b - a), "extra": len(a - b)}
            figures[kind] = per_file
        store.close()
        clean.close()
        return figures
    finally:
        server.stop()
        shutil.rmtree(clean_dir, ignore_errors=True)


def rows_lost(compared: dict[str, Any]) -> int:
    return sum(f["lost"] + f["extra"] for part in compared.values() for f in part.values())


# -- the benchmark ------------------------------------------------------------------------


def run(initiatives: int, clients: int, per_client: int, work: Path,
        workers: int) -> dict[str, Any]:
    bundle = ensure_bundle(work / f"bundle-{initiatives}", initiatives)
    changed = work / f"bundle-{initiatives}-changed10"
    if not changed.exists():
        changed_bundle(bundle, changed, every=10)
    root = work / f"replicated-{initiatives}"
    shutil.rmtree(root, ignore_errors=True)
    result: dict[str, Any] = {"initiatives": initiatives, "clients": clients,
                              "workers": workers, "machine": machine(),
                              "when": time.strftime("%Y-%m-%d %H:%M:%S"),
                              "load_at_start": os.getloadavg()}
    with deployment(root) as topology:
        uri = f"embedded:{topology.root}"
        store = open_store(uri)
        start = time.monotonic()
        loaded = ingest(store, bundle)
        assert not loaded.errors, loaded.errors[:3]
        result["first_ingest_s"] = round(time.monotonic() - start, 1)
        store.close()
        _pid, primary = primary_pid(topology)
        single = f"falkordb://{primary}?password_file={topology.root / 'password'}"
        scaling: dict[str, Any] = {}
        for name, target in (("primary only", single), ("primary + 2 replicas", uri)):
            with Serving(target, separate=True, workers=workers) as served:
                scaling[name] = measure(target, bundle, clients, per_client,
                                        base=served.base, budget_s=20.0)
        result["read_scaling"] = scaling
        import random

        plan = urls(bundle, random.Random(5), 400)
        paths = [p for page, items in plan.items() if page != "static_file" for p in items]
        with Serving(uri, separate=True, workers=workers) as served:
            result["failover"] = failover(topology, changed, served.base, paths,
                                          clients=clients, batch_size=2000,
                                          kill_after_s=3.0)
        compared = compare_with_clean_load(uri, [bundle, changed], work)
        result["compared"] = compared
        result["rows_lost"] = rows_lost(compared)
    result["load_at_end"] = os.getloadavg()
    return result


def report(r: dict[str, Any]) -> str:
    f = r["failover"]
    lines = [
        f"# Failover and read scaling, {r['initiatives']:,} initiatives, {r['clients']} "
        "clients", "",
        f"Machine: {r['machine']['cpus']} cores, {r['machine']['cpu']}; run {r['when']} with "
        "`nice`, once, while other work shared the machine (load average "
        f"{', '.join(f'{x:.1f}' for x in r['load_at_start'])} at the start, "
        f"{', '.join(f'{x:.1f}' for x in r['load_at_end'])} at the end). A deployment of "
        "one primary, 2 replicas and 3 Sentinels (`triedbefore db start --replicas 2`, "
        "`down-after-milliseconds` 1000), every process on this machine; the explorer "
        f"served as `triedbefore serve --workers {r['workers']}` in a process of its own, "
        "the clients threads of another.", "",
        f"First ingest of the bundle into the deployment: {r['first_ingest_s']} s.", "",
        "## Failover", "",
        "The primary killed (SIGKILL) while the explorer served "
        f"{f['clients']} clients and an ingest of the bundle with one row in ten changed ran.",
        "", "| figure | value |", "|---|---|",
        f"| failover time (kill to a new primary accepting writes) | {f['failover_s']} s |",
        f"| explorer requests answered from 1 s before the kill to 3 s after the promotion "
        f"| {f['reads']['requests']} |",
        f"| failed requests | {f['reads']['failed']} |",
        f"| longest gap without an answer | {f['reads']['longest_gap_s']} s |",
        f"| ingest still running at the kill | {'yes' if f['ingest_running_at_kill'] else 'no'} |",
        f"| ingest exit code, message | {f['ingest_exit']}: "
        f"`{' / '.join(f['ingest_stderr'])}` |",
        f"| the same ingest run again | exit {f['rerun_exit']}, {f['rerun_s']} s |",
        f"| rows lost or different (graph and public copy vs a clean load) | "
        f"**{r['rows_lost']}** |", "",
        "The explorer was started, with its whole-graph answers not yet computed, just "
        "before the clients and the ingest; the window above includes those first "
        "answers, computed while the ingest ran.", "",
        "## Read scaling", "",
        f"The explorer benchmark at {r['clients']} clients: median / p95 ms, errors, "
        "requests per second"
        + (f" (measured {r['read_scaling_run']['when']} on the same deployment, started "
           "again after the failover: one of its replicas is the old primary; load average "
           + ", ".join(f"{x:.1f}" for x in r["read_scaling_run"]["load_at_start"])
           + " at the start)" if "read_scaling_run" in r else "") + ".", "",
        "| page | " + " | ".join(r["read_scaling"]) + " |",
        "|---|" + "---|" * len(r["read_scaling"]),
    ]
    pages = next(iter(r["read_scaling"].values()))
    for page in pages:
        cells = [f"{m[page]['median_ms']} / {m[page]['p95_ms']}, {m[page]['errors']} err, "
                 f"{m[page]['throughput_rps']} req/s" for m in r["read_scaling"].values()]
        lines.append(f"| {page} | " + " | ".join(cells) + " |")
    lines += ["", "What 2 shared cores limit: every process here (the explorer's workers, "
              "the three database servers, the Sentinels, the clients) shares the same 2 "
              "cores with other work, so replicas add no CPU: the figures show the cost of "
              "routing reads over more servers, not the capacity replicas add on machines of "
              "their own. On separate machines each replica brings its own cores (FalkorDB "
              "runs reads in parallel up to the core count), so read capacity grows with "
              "the replicas until the explorer's own processes are the limit.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initiatives", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=20, help="per client and page")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--work", type=Path, default=HERE / "work")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    result = run(args.initiatives, args.clients, args.requests, args.work, args.workers)
    RESULTS.mkdir(exist_ok=True)
    stem = f"failover-{args.initiatives}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(report(result))
    print(report(result))


if __name__ == "__main__":
    main()
