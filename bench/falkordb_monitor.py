"""Record every command an embedded store's server runs, to replay a FalkorDB crash.

    python bench/falkordb_monitor.py DATA_DIR --out COMMANDS.log [--snapshot DIR]

The crash of FalkorDB 4.16 at 1M (``bench/falkordb_crash.py``) is not deterministic and
comes after a long sequence (a first ingest, re-ingests, analytics): the statements
that lead to it are only known if they were recorded while it happened. This attaches
a ``MONITOR`` client to the server of the store in ``DATA_DIR`` and appends each line
the server sends (time, client, command and its arguments, quoted as the server quotes
them) to ``COMMANDS.log``, until the server stops (a crash: the end of its log, with
the crash report, is copied beside the record as ``COMMANDS.log.server.log``) or this
process gets SIGTERM / SIGINT.

``--snapshot DIR`` first copies the store's files (``appendonlydir``, the password, the
configuration) to ``DIR``: the state the recorded commands start from, so that
``bench/falkordb_crash.py --replay COMMANDS.log --snapshot DIR`` can send the same
sequence to a new server holding the same graph. Take it while the store is idle
(between the suite's phases): the append-only file is synced once a second.

``MONITOR`` costs the server a copy of every command: phases recorded are slower than
the same phases unrecorded.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import redis

from triedbefore.graph.embedded import EmbeddedServer

#: the files of a store folder that hold its data (not its socket, pid, lock or log)
SNAPSHOT_FILES = ("appendonlydir", "password", "falkordb.conf")
_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "a": b"\a", "b": b"\b", "\\": b"\\",
            '"': b'"'}


def snapshot(data_dir: Path, dest: Path) -> int:
    """Copy the store's data files to ``dest`` (emptied first); the bytes copied."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for name in SNAPSHOT_FILES:
        src = data_dir / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        elif src.exists():
            shutil.copy2(src, dest / name)
    return sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())


def parse_line(line: bytes) -> tuple[float, str, list[bytes]]:
    """One ``MONITOR`` line: its time, the client (``db address``) and the command's
    arguments, unquoted (the server writes each as ``"..."`` with C-style escapes)."""
    stamp, rest = line.split(b" ", 1)
    close = rest.index(b"]")
    client = rest[1:close].decode(errors="replace")
    args: list[bytes] = []
    i, n = close + 1, len(rest)
    while i < n:
        if rest[i:i + 1] != b'"':
            i += 1
            continue
        out = bytearray()
        i += 1
        while i < n and rest[i:i + 1] != b'"':
            c = rest[i:i + 1]
            if c == b"\\" and i + 1 < n:
                nxt = chr(rest[i + 1])
                if nxt == "x":
                    out += bytes([int(rest[i + 2:i + 4], 16)])
                    i += 4
                    continue
                out += _ESCAPES.get(nxt, nxt.encode())
                i += 2
                continue
            out += c
            i += 1
        args.append(bytes(out))
        i += 1
    return float(stamp), client, args


def read_log(path: Path) -> Iterator[tuple[float, str, list[bytes]]]:
    """The commands of a record, in the order the server ran them."""
    with path.open("rb") as fh:
        for line in fh:
            line = line.rstrip(b"\n")
            if line and line[:1].isdigit():
                yield parse_line(line)


def record(data_dir: Path, out: Path) -> int:
    """Append the server's ``MONITOR`` lines to ``out`` until it stops or this process is
    told to; the number of lines."""
    server = EmbeddedServer(data_dir)
    client = redis.Redis(unix_socket_path=str(server.socket_path), password=server.password())
    conn = client.connection_pool.get_connection()
    stop = False

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    conn.send_command("MONITOR")
    if conn.read_response() not in (b"OK", "OK"):
        raise RuntimeError("the server refused MONITOR")
    lines = 0
    with out.open("ab") as fh:
        while not stop:
            try:
                if not conn.can_read(timeout=1.0):
                    continue
                reply = conn.read_response()
            except (redis.ConnectionError, OSError):
                # the server went away: keep what its log says about it
                time.sleep(1.0)
                try:
                    shutil.copy(server.log_path, out.with_name(out.name + ".server.log"))
                except OSError:
                    pass
                print(f"the server closed the connection after {lines} commands",
                      file=sys.stderr)
                break
            fh.write(reply if isinstance(reply, bytes) else str(reply).encode())
            fh.write(b"\n")
            lines += 1
    conn.disconnect()
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data_dir", type=Path, help="the embedded store's folder")
    p.add_argument("--out", type=Path, required=True, help="the record (appended to)")
    p.add_argument("--snapshot", type=Path, help="copy the store's data files here first")
    args = p.parse_args(argv)
    if args.snapshot is not None:
        size = snapshot(args.data_dir, args.snapshot)
        print(f"snapshot: {size / 1024 / 1024:.0f} MiB in {args.snapshot}", file=sys.stderr)
    lines = record(args.data_dir, args.out)
    print(f"recorded {lines} commands to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
