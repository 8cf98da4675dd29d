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
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from explorer_bench import Serving, measure, urls, zombie_pages  # noqa: E402
from generate import changed_bundle, ensure_bundle  # noqa: E402
from ingest_bench import machine  # noqa: E402

from triedbefore.graph.embedded import EmbeddedServer  # noqa: E402
from triedbefore.graph.engines import open_store  # noqa: E402
from triedbefore.graph.topology import DOWN_AFTER_MS, LocalTopology  # noqa: E402
from triedbefore.ingest.export import export_bundle  # noqa: E402
from triedbefore.ingest.pipeline import ingest  # noqa: E402

RESULTS = HERE / "results"
FILES = ("sites.csv", "solutions.csv", "initiatives.csv", "outcomes.csv", "evaluations.csv")


# -- the explorer's clients ---------------------------------------------------------------


def page_of(path: str) -> str:
    """The benchmark's name of the page at ``path``."""
    for prefix, name in (("/search", "search"), ("/solutions/", "solution"),
                         ("/zombies", "zombies"), ("/gap-map", "gap_map")):
        if path.startswith(prefix):
            return name
    return path


@dataclass
class Answer:
    """One request of a client: when it was sent and ended, and how."""

    sent: float
    ended: float
    path: str
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Clients:
    """C threads requesting explorer pages in a loop until stopped; each request is noted
    (when it was sent and ended, its status, the exception or the error it answered)."""

    base: str
    paths: list[str]
    count: int
    timeout_s: float = 30.0
    answers: list[Answer] = field(default_factory=list)
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
                    sent = time.monotonic()
                    status: int | None = None
                    error: str | None = None
                    try:
                        response = session.get(self.base + path, timeout=self.timeout_s)
                        status = response.status_code
                        if status != 200:
                            error = " ".join(response.text.split())[:300]
                    except requests.RequestException as exc:
                        error = f"{type(exc).__name__}: {exc}"[:300]
                    with self._lock:
                        self.answers.append(Answer(sent, time.monotonic(), path, status,
                                                   error))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout_s + 5)

    def figures(self, start: float, end: float, zero: float) -> dict[str, Any]:
        """Requests answered between ``start`` and ``end``, every failed one (times in
        seconds from ``zero``, the kill), the longest time without a successful answer
        and the requests in flight across it."""
        with self._lock:
            window = sorted((a for a in self.answers if start <= a.ended <= end),
                            key=lambda a: a.ended)
            every = list(self.answers)
        good = [start] + [a.ended for a in window if a.ok] + [end]
        gap, gap_start, gap_end = max((b - a, a, b) for a, b in zip(good, good[1:],
                                                                     strict=False))

        def entry(a: Answer) -> dict[str, Any]:
            return {"sent_s": round(a.sent - zero, 2), "ended_s": round(a.ended - zero, 2),
                    "page": page_of(a.path), "path": a.path, "status": a.status,
                    "error": a.error}

        across = [entry(a) for a in every if a.sent <= gap_start + 0.5 and a.ended >= gap_end]
        return {"requests": len(window), "failed": sum(1 for a in window if not a.ok),
                "longest_gap_s": round(gap, 2),
                "longest_gap_from_s": round(gap_start - zero, 2),
                "longest_gap_to_s": round(gap_end - zero, 2),
                "failures": [entry(a) for a in window if not a.ok],
                "in_flight_across_gap": across[:40],
                "slowest": [entry(a) | {"took_s": round(a.ended - a.sent, 2)}
                            for a in sorted(window, key=lambda a: a.sent - a.ended)[:10]]}


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


def sentinel_events(topology: LocalTopology, since_wall: float) -> list[str]:
    """The first Sentinel's log lines of the failover (``+sdown``, ``+odown``,
    ``+switch-master``…) logged after ``since_wall`` (seconds since the epoch), each with
    its time in seconds from then."""
    member = topology.members("sentinel")[0]
    try:
        lines = (member.folder / "sentinel.log").read_text(errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        # 1234:X 07 Dec 2026 11:20:01.123 # +sdown master triedbefore 127.0.0.1 5000
        parts = line.split(" ", 6)
        if len(parts) < 7 or not parts[6].startswith(("+", "-")):
            continue
        try:
            stamp = time.mktime(time.strptime(" ".join(parts[1:4]) + " "
                                              + parts[4].split(".")[0], "%d %b %Y %H:%M:%S"))
            stamp += float("0." + parts[4].split(".")[1]) if "." in parts[4] else 0.0
        except (ValueError, IndexError):
            continue
        if stamp >= since_wall - 0.5:
            found.append(f"{stamp - since_wall:+.2f} s {parts[6]}")
    return found[:40]


def explorer_events(lines: list[str], since_wall: float, until_wall: float) -> list[str]:
    """The explorer's logged warnings and errors between the two times (seconds since the
    epoch), each with its time in seconds from ``since_wall`` (the kill)."""
    found = []
    for line in lines:
        stamp, _, rest = line.partition(" ")
        try:
            when = float(stamp)
        except ValueError:
            continue  # a traceback's later lines: the first one says what it was
        if since_wall - 1.0 <= when <= until_wall:
            found.append(f"{when - since_wall:+.2f} s {rest}"[:600])
    return found


def failover(topology: LocalTopology, running: Path, base_url: str, paths: list[str], *,
             clients: int, batch_size: int, kill_after_s: float,
             after_s: float = 3.0, timeout_s: float = 600.0,
             explorer_log: Callable[[], list[str]] | None = None,
             rerun: bool = True) -> dict[str, Any]:
    """Kill the primary while ``clients`` read the explorer at ``base_url`` and the
    ingest of ``running`` runs; then run that ingest again. Returns the figures, with
    every failed request, the Sentinels' events and the explorer's logged errors, times
    in seconds from the kill."""
    uri = f"embedded:{topology.root}"
    watcher = open_store(uri)
    runs_before = len(watcher.read("MATCH (r:IngestRun) RETURN r.id AS id"))
    # found before the ingest starts: on a loaded machine asking every member takes a while
    pid, old = primary_pid(topology)
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
        ingest_running = proc.poll() is None
        killed = time.monotonic()
        killed_wall = time.time()
        os.kill(pid, signal.SIGKILL)
        new = wait_for_new_primary(topology, old, timeout=60.0)
        promoted = time.monotonic()
        out, err = proc.communicate(timeout=timeout_s)
        ingest_ended = time.monotonic()
        time.sleep(after_s)  # the explorer keeps answering after the promotion too
        ended = time.monotonic()
    reads = readers.figures(killed - 1.0, ended, killed)
    watcher.close()
    logged = explorer_events(explorer_log() if explorer_log else [], killed_wall,
                             killed_wall + (ended - killed))
    found = {
        "old_primary": old, "new_primary": new,
        "failover_s": round(promoted - killed, 2),
        "ingest_running_at_kill": ingest_running,
        "ingest_exit": proc.returncode,
        "ingest_ended_s": round(ingest_ended - killed, 2),
        "window_s": [-1.0, round(ended - killed, 2)],
        "ingest_stderr": [line for line in err.splitlines() if line.strip()],
        "reads": reads, "clients": clients,
        "sentinel_events": sentinel_events(topology, killed_wall),
        "explorer_log": logged[:60], "explorer_log_lines": len(logged),
    }
    if not rerun:
        return found
    # As the failed run's message says: the replicas checked (`db status`), then run again.
    # When the Sentinels move the primary once more during that run (the test's 1 s
    # down-after time, on a busy machine), its writes fail with the same message, and the
    # operator does the same again: once, and only after such a move.
    rerun_start = time.monotonic()
    attempts: list[dict[str, Any]] = []
    while True:
        waited, current = replicas_following(topology, new)
        found.setdefault("rerun_waited_s", waited)
        found.setdefault("primary_at_rerun", current)  # not ``new`` after a second failover
        with StallProbe(topology, current) as probe:
            again = subprocess.run(cli(uri, "ingest", str(running), "--batch-size",
                                       str(batch_size)),
                                   capture_output=True, text=True, timeout=timeout_s)
        moved_to = topology.primary()
        attempts.append({"primary": current, "exit": again.returncode,
                         "primary_after": f"{moved_to[0]}:{moved_to[1]}" if moved_to else None,
                         "stderr": [line for line in again.stderr.splitlines()
                                    if line.strip()][-3:]})
        if again.returncode == 0 or len(attempts) > 1 \
                or attempts[-1]["primary_after"] == current:
            break
        new = attempts[-1]["primary_after"] or new
    return found | {
        "rerun_attempts": attempts,
        "status_after_rerun": (after := topology.status()["members"]),
        "primary_after_rerun": next((f"127.0.0.1:{m['port']}" for m in after
                                     if m["role"] == "primary" and m["running"]), None),
        "sentinel_events_after": sentinel_events(topology, killed_wall),
        "rerun_exit": again.returncode, "rerun_s": round(time.monotonic() - rerun_start, 1),
        "rerun_stderr": [line for line in again.stderr.splitlines() if line.strip()][-5:],
        "rerun_longest_stall_s": probe.longest,
    }


class StallProbe:
    """PINGs a server every 100 ms while the block runs, as a Sentinel does: the longest
    wait for an answer (a server busy with one statement answers nothing else, and a
    Sentinel that waits longer than ``down-after-milliseconds`` starts a failover)."""

    def __init__(self, topology: LocalTopology, address: str) -> None:
        host, port = address.rsplit(":", 1)
        self.client = redis.Redis(host=host, port=int(port), socket_timeout=120,
                                  password=(topology.root / "password").read_text().strip())
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.monotonic()
            try:
                self.client.ping()
            except redis.RedisError:
                return  # the server is gone: the run's own figures say so
            self.longest = max(self.longest, round(time.monotonic() - start, 2))
            self._stop.wait(0.1)

    def __enter__(self) -> StallProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=130)
        self.client.close()


def compare_with_clean_load(uri: str, bundles: list[Path], work: Path,
                            keep_clean: bool = False) -> dict[str, Any]:
    """Export the graph at ``uri`` and its public copy, load ``bundles`` in order into a
    fresh single server and export it the same way: data rows lost and extra, per file.
    ``keep_clean``: the clean load's exports are kept in ``work`` and used again by the
    next comparison of the same bundles (they depend on the bundles alone)."""
    kept = work / ("clean-exports-" + "+".join(b.name for b in bundles))
    store = open_store(uri)
    clean_dir = work / "clean-store"
    server: EmbeddedServer | None = None
    try:
        if not (keep_clean and (kept / "done").exists()):
            shutil.rmtree(kept, ignore_errors=True)
            shutil.rmtree(clean_dir, ignore_errors=True)
            server = EmbeddedServer(clean_dir)
            server.ensure_running()
            clean = open_store(f"embedded:{clean_dir}")
            for bundle in bundles:
                result = ingest(clean, bundle)
                assert not result.errors, result.errors[:3]
            for kind, pick in (("graph", lambda s: s),
                               ("public copy", lambda s: s.public_copy())):
                export_bundle(pick(clean), kept / kind[0])
            clean.close()
            (kept / "done").write_text("")
        figures: dict[str, Any] = {}
        for kind, pick in (("graph", lambda s: s), ("public copy", lambda s: s.public_copy())):
            got, want = work / f"export-{kind[0]}-got", kept / kind[0]
            shutil.rmtree(got, ignore_errors=True)
            export_bundle(pick(store), got)
            per_file = {}
            for name in FILES:
                a = set((got / name).read_text(encoding="utf-8").splitlines()[1:])
                b = set((want / name).read_text(encoding="utf-8").splitlines()[1:])
                per_file[name] = {"rows": len(b), "lost": len(b - a), "extra": len(a - b)}
            figures[kind] = per_file
        return figures
    finally:
        store.close()
        if server is not None:
            server.stop()
            shutil.rmtree(clean_dir, ignore_errors=True)
        if not keep_clean:
            shutil.rmtree(kept, ignore_errors=True)


def rows_lost(compared: dict[str, Any]) -> int:
    return sum(f["lost"] + f["extra"] for part in compared.values() for f in part.values())


# -- the benchmark ------------------------------------------------------------------------


def replicas_following(topology: LocalTopology, primary: str, timeout_s: float = 60.0,
                       ) -> tuple[float, str]:
    """Wait until the deployment's primary of the moment (``primary``, or another one when
    the Sentinels moved the role again meanwhile) has a running replica that follows it
    with its link up and every write it had when asked, and neither is still writing a
    copy of its data (see ``LocalTopology._wait_in_step``), as an operator reading
    `db status` would; the seconds waited and that primary. Raises ``TimeoutError`` with
    the deployment's state when no replica follows."""
    start = time.monotonic()
    members: list[dict[str, Any]] = []
    while time.monotonic() - start < timeout_s:
        members = topology.status()["members"]
        heads = [m for m in members if m.get("role") == "primary" and m.get("running")]
        if len(heads) == 1 and not heads[0].get("forking"):
            now = f"127.0.0.1:{heads[0]['port']}"
            if any(m.get("role") == "replica" and m.get("running")
                   and m.get("link") == "up" and m.get("replica_of") == now
                   and not m.get("forking")
                   and m.get("offset", -1) >= heads[0].get("offset", -1) for m in members):
                return round(time.monotonic() - start, 2), now
        time.sleep(0.2)
    raise TimeoutError(f"no replica followed the primary (promoted: {primary}) within "
                       f"{timeout_s} s: {json.dumps(members)}")


def set_down_after(root: Path, down_after_ms: int) -> None:
    """A kept deployment's Sentinels set to declare the primary down after
    ``down_after_ms`` (the copy was made with whatever the run that loaded it used)."""
    layout = root / "topology.json"
    data = json.loads(layout.read_text())
    data["down_after_ms"] = down_after_ms
    layout.write_text(json.dumps(data, indent=2))
    for conf in root.glob("sentinel-*/sentinel.conf"):
        conf.write_text(re.sub(r"(?m)^(sentinel down-after-milliseconds \S+) \d+$",
                               rf"\g<1> {down_after_ms}", conf.read_text()))


def run(initiatives: int, clients: int, per_client: int, work: Path,
        workers: int, read_scaling: bool = True, rerun: bool = True,
        down_after_ms: int = DOWN_AFTER_MS) -> dict[str, Any]:
    """The benchmark. The deployment as loaded by the first ingest is kept in ``work``
    (stopped, copied) and started from that copy by the next run, which skips the first
    ingest; so are the clean load's exports."""
    bundle = ensure_bundle(work / f"bundle-{initiatives}", initiatives)
    changed = work / f"bundle-{initiatives}-changed10"
    if not changed.exists():
        changed_bundle(bundle, changed, every=10)
    root = work / f"replicated-{initiatives}"
    snapshot = work / f"replicated-{initiatives}-loaded"
    shutil.rmtree(root, ignore_errors=True)
    result: dict[str, Any] = {"initiatives": initiatives, "clients": clients,
                              "workers": workers, "machine": machine(),
                              "when": time.strftime("%Y-%m-%d %H:%M:%S"),
                              "load_at_start": os.getloadavg()}
    topology = LocalTopology(root)
    result["down_after_ms"] = down_after_ms
    if (snapshot / "loaded.json").exists():
        shutil.copytree(snapshot, root, symlinks=True)
        result.update(json.loads((snapshot / "loaded.json").read_text()))
        set_down_after(root, down_after_ms)
    else:
        topology.create(replicas=2, down_after_ms=down_after_ms)
    try:
        started = topology.start()
        result["replicas_set_aside"] = started.get("set_aside", [])
        uri = f"embedded:{topology.root}"
        if "first_ingest_s" not in result:
            store = open_store(uri)
            start = time.monotonic()
            loaded = ingest(store, bundle)
            assert not loaded.errors, loaded.errors[:3]
            result["first_ingest_s"] = round(time.monotonic() - start, 1)
            result["first_ingest_when"] = result["when"]
            store.close()
            topology.stop()
            shutil.rmtree(snapshot, ignore_errors=True)
            shutil.copytree(root, snapshot, symlinks=True,
                            ignore=shutil.ignore_patterns("*.sock", "*.pid"))
            (snapshot / "loaded.json").write_text(json.dumps(
                {k: result[k] for k in ("first_ingest_s", "first_ingest_when")}))
            topology.start()
        if read_scaling:
            _pid, primary = primary_pid(topology)
            single = f"falkordb://{primary}?password_file={topology.root / 'password'}"
            scaling: dict[str, Any] = {}
            for name, target in (("primary only", single), ("primary + 2 replicas", uri)):
                with Serving(target, separate=True, workers=workers) as served:
                    scaling[name] = measure(target, bundle, clients, per_client,
                                            base=served.base, budget_s=20.0)
            result["read_scaling"] = scaling
            result["read_scaling_run"] = {"when": time.strftime("%Y-%m-%d %H:%M:%S"),
                                          "load_at_start": os.getloadavg()}
        import random

        with Serving(uri, separate=True, workers=workers) as served:
            plan = urls(bundle, random.Random(5), 400, zombie_pages(served.base))
            paths = [p for page, items in plan.items() if page != "static_file"
                     for p in items]
            result["failover"] = failover(topology, changed, served.base, paths,
                                          clients=clients, batch_size=2000,
                                          kill_after_s=3.0, explorer_log=served.log_lines,
                                          rerun=rerun)
        if rerun:
            compared = compare_with_clean_load(uri, [bundle, changed], work, keep_clean=True)
            result["compared"] = compared
            result["rows_lost"] = rows_lost(compared)
    finally:
        topology.stop()
    result["load_at_end"] = os.getloadavg()
    return result


def _failure_lines(f: dict[str, Any]) -> list[str]:
    """Every failed request, the longest gap, the Sentinels' events and the explorer's
    logged errors of one failover, as Markdown."""
    reads = f["reads"]
    lines = ["", "Every failed request (times in seconds from the kill; the error is the "
             "client's exception or the start of the page answered):", ""]
    if reads.get("failures"):
        lines += ["| sent | ended | page | status | error |", "|---|---|---|---|---|"]
        for e in reads["failures"]:
            error = (e["error"] or "").replace("|", "/")[:160]
            lines.append(f"| {e['sent_s']} | {e['ended_s']} | {e['page']} | "
                         f"{e['status'] or '-'} | {error} |")
    else:
        lines.append("none.")
    if "longest_gap_from_s" in reads:
        across = reads.get("in_flight_across_gap") or []
        pages = sorted({e["page"] for e in across})
        lines += ["", f"The longest gap ran from {reads['longest_gap_from_s']} s to "
                  f"{reads['longest_gap_to_s']} s; {len(across)} requests were in flight "
                  f"across it ({', '.join(pages) or 'none'}). The slowest requests of the "
                  "window: " + "; ".join(f"{e['page']} {e['took_s']} s (sent at "
                                         f"{e['sent_s']} s)" for e in reads["slowest"][:5])
                  + "."]
    if f.get("sentinel_events"):
        lines += ["", "The first Sentinel's events:", "", "```"]
        lines += f["sentinel_events"][:15] + ["```"]
    lines += ["", f"The explorer logged {f.get('explorer_log_lines', 0)} warnings and "
              "errors in the window" + (":" if f.get("explorer_log") else ".")]
    if f.get("explorer_log"):
        lines += ["", "```"] + [line[:300] for line in f["explorer_log"][:15]] + ["```"]
    return lines


def report(r: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    """The results as Markdown; ``before``: a run of the same benchmark to set beside."""
    f = r["failover"]
    lines = [
        f"# Failover and read scaling, {r['initiatives']:,} initiatives, {r['clients']} "
        "clients", "",
        f"Machine: {r['machine']['cpus']} cores, {r['machine']['cpu']}; run {r['when']} with "
        "`nice`, once, while other work shared the machine (load average "
        f"{', '.join(f'{x:.1f}' for x in r['load_at_start'])} at the start, "
        f"{', '.join(f'{x:.1f}' for x in r['load_at_end'])} at the end). A deployment of "
        "one primary, 2 replicas and 3 Sentinels (`triedbefore db start --replicas 2`, "
        f"`down-after-milliseconds` {r.get('down_after_ms', 1000)}), every process on this "
        "machine; the explorer "
        f"served as `triedbefore serve --workers {r['workers']}` in a process of its own, "
        "the clients threads of another.", "",
        f"First ingest of the bundle into the deployment: {r['first_ingest_s']} s"
        + (f" (run {r['first_ingest_when']}; the deployment so loaded is kept and started "
           "again for each run)" if r.get("first_ingest_when") not in (None, r["when"])
           else "") + ".", "",
        *([f"At this run's start, {' and '.join(e['name'] for e in r['replicas_set_aside'])} "
           "could not load their own files (a FalkorDB fault, "
           "[falkordb-replica-files.md](falkordb-replica-files.md)): `db start` kept them "
           "aside and each copied the graph from the primary again.", ""]
          if r.get("replicas_set_aside") else []),
        "## Failover", "",
        "The primary killed (SIGKILL) while the explorer served "
        f"{f['clients']} clients and an ingest of the bundle with one row in ten changed ran.",
        "", "| figure | value |", "|---|---|",
        f"| failover time (kill to a new primary accepting writes) | {f['failover_s']} s |",
        f"| explorer requests answered from 1 s before the kill to 3 s after the ingest "
        f"ended | {f['reads']['requests']} |",
        f"| failed requests | {f['reads']['failed']} |",
        f"| longest gap without an answer | {f['reads']['longest_gap_s']} s |",
        f"| ingest still running at the kill | {'yes' if f['ingest_running_at_kill'] else 'no'} |",
        f"| ingest exit code, message | {f['ingest_exit']}: "
        f"`{' / '.join(f['ingest_stderr'])}` |",
        *([f"| ingest ended | {f['ingest_ended_s']} s after the kill |"]
          if "ingest_ended_s" in f else []),
    ]
    if "rerun_exit" in f:
        lines += [
            f"| the same ingest run again (after {f.get('rerun_waited_s', 0)} s waiting for a "
            f"replica to follow the new primary) | exit {f['rerun_exit']}, {f['rerun_s']} s"
            + (f", in {len(f['rerun_attempts'])} runs (the Sentinels moved the primary "
               "during the first)" if len(f.get("rerun_attempts") or []) > 1 else "") + " |",
            *([f"| the new primary's longest wait to answer a PING during the re-run "
               f"(a Sentinel's down-after time is {r.get('down_after_ms', '-')} ms) | "
               f"{f['rerun_longest_stall_s']} s |"] if "rerun_longest_stall_s" in f else []),
            f"| rows lost or different (graph and public copy vs a clean load) | "
            f"**{r['rows_lost']}** |"]
    lines += _failure_lines(f)
    if before is not None:
        b = before["failover"]
        lines += ["", f"## Before the fixes (run {before['when']})", "",
                  "The same benchmark on the same deployment before the fixes of this "
                  f"version: failover {b['failover_s']} s, {b['reads']['requests']} requests, "
                  f"**{b['reads']['failed']} failed**, longest gap "
                  f"{b['reads']['longest_gap_s']} s"
                  + (f", rows lost {before['rows_lost']}" if "rows_lost" in before else "")
                  + "."]
        lines += _failure_lines(b)
    run = r.get("read_scaling_run")
    lines += [
        "", "## Read scaling", "",
        f"The explorer benchmark at {r['clients']} clients: median / p95 ms, errors, "
        "requests per second"
        + (f" (measured {run['when']}, load average "
           + ", ".join(f"{x:.1f}" for x in run["load_at_start"])
           + " at the start)" if run else "") + ".", "",
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
    parser.add_argument("--no-read-scaling", action="store_true",
                        help="keep the read-scaling figures of the last results file")
    parser.add_argument("--stem", help="results file name (default failover-N)")
    parser.add_argument("--down-after-ms", type=int, default=DOWN_AFTER_MS,
                        help="how long the Sentinels wait before declaring the primary down "
                        f"(default {DOWN_AFTER_MS}, the deployment's own)")
    parser.add_argument("--no-rerun", action="store_true",
                        help="after the failover, neither run the ingest again nor compare "
                             "the graph with a clean load")
    parser.add_argument("--before", type=Path,
                        help="the JSON results of an earlier run, set beside in the report")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    stem = args.stem or f"failover-{args.initiatives}"
    # what is measured is the failover, not embedding: vectors off unless asked for
    os.environ.setdefault("TRIEDBEFORE_SEARCH_VECTORS", "no")
    result = run(args.initiatives, args.clients, args.requests, args.work, args.workers,
                 read_scaling=not args.no_read_scaling, rerun=not args.no_rerun,
                 down_after_ms=args.down_after_ms)
    result["search_vectors"] = os.environ["TRIEDBEFORE_SEARCH_VECTORS"]
    if "read_scaling" not in result:
        last = json.loads((RESULTS / f"failover-{args.initiatives}.json").read_text())
        result["read_scaling"] = last["read_scaling"]
        result["read_scaling_run"] = last.get("read_scaling_run") or {
            "when": last["when"], "load_at_start": last["load_at_start"]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    before = json.loads(args.before.read_text()) if args.before else None
    (RESULTS / f"{stem}.md").write_text(report(result, before))
    print(report(result, before))


if __name__ == "__main__":
    main()
