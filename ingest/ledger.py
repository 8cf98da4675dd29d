"""What one ingest run knows of its rows' ids, kept on disk.

An ingest run remembers, for every row id of the bundle, whether a valid row holds it
(and on which line), whether a row with it was rejected, whether the graph holds its
row unchanged, and whether the graph already has a node with it; and the ids it wrote
(the initiatives to resolve, the solutions and evaluations whose verdicts may change).
Held in dicts and sets, that costs about 350 bytes per row: 800 MiB for a bundle of a
million initiatives. The ledger keeps it in a SQLite file in a temporary folder that
goes when the run ends, so the run's memory does not grow with the bundle.

The loader reads and writes it a chunk of rows at a time (one statement per chunk, not
per id): a point lookup costs about 6 µs, a lookup in a chunk under 1 µs per id.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, MutableSet
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from triedbefore.graph.store import batched
from triedbefore.ontology.vocab import Label

#: Ids per lookup statement (sent as one JSON array parameter).
LOOKUP_CHUNK = 5000
#: Pages SQLite keeps in memory (negative: KiB). The file holds the rest.
CACHE_KIB = 16 * 1024

#: Ledger folders are named so (a run's process id is in the folder's ``pid`` file).
PREFIX = "triedbefore-ingest-"

_KIND = {label: number for number, label in enumerate(Label)}


class IdState(NamedTuple):
    """One id of one label as the run knows it."""

    valid: int | None  # line of the valid row holding it
    rejected: int | None  # line of the first rejected row holding it
    unchanged: bool  # the graph holds the valid row as it is
    in_graph: bool  # a node with it is in the graph (looked up for references)


#: An id the run knows nothing of.
NOWHERE = IdState(None, None, False, False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _sweep(parent: Path) -> None:
    """Remove the ledgers of runs whose process is gone (killed: its own clean-up did
    not run)."""
    for folder in parent.glob(PREFIX + "*"):
        try:
            pid = int((folder / "pid").read_text(encoding="ascii"))
        except (OSError, ValueError):
            continue  # being made, or not a ledger
        if not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


class Ledger:
    """The row ids of one ingest run. Thread-safe: the loader writes in a worker thread
    while it reads the next chunk."""

    def __init__(self, directory: str | Path | None = None) -> None:
        _sweep(Path(directory or tempfile.gettempdir()))
        self._folder = tempfile.TemporaryDirectory(prefix=PREFIX, dir=directory)
        (Path(self._folder.name) / "pid").write_text(str(os.getpid()), encoding="ascii")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(Path(self._folder.name) / "ledger.sqlite",
                                   isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "temp_store = FILE",
                       f"cache_size = -{CACHE_KIB}"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute(
            "CREATE TABLE row_ids (kind INTEGER NOT NULL, id TEXT NOT NULL, valid INTEGER, "
            "rejected INTEGER, unchanged INTEGER NOT NULL DEFAULT 0, "
            "in_graph INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (kind, id)) WITHOUT ROWID")
        self._db.execute(
            "CREATE TABLE id_sets (name TEXT NOT NULL, id TEXT NOT NULL, "
            "PRIMARY KEY (name, id)) WITHOUT ROWID")
        self._db.execute(
            "CREATE TABLE queue (seq INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "item TEXT NOT NULL)")

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._folder.cleanup()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- row ids ----------------------------------------------------------------

    def lookup(self, label: Label, ids: Iterable[str]) -> dict[str, IdState]:
        """The state of each of ``ids`` the run knows anything of (others are absent)."""
        wanted = sorted(set(ids))
        kind = _KIND[label]
        out: dict[str, IdState] = {}
        with self._lock:
            for chunk in batched(wanted, LOOKUP_CHUNK):
                for row in self._db.execute(
                        "SELECT id, valid, rejected, unchanged, in_graph FROM row_ids "
                        "WHERE kind = ? AND id IN (SELECT value FROM json_each(?))",
                        (kind, json.dumps(chunk))):
                    out[row[0]] = IdState(row[1], row[2], bool(row[3]), bool(row[4]))
        return out

    def state(self, label: Label, row_id: str) -> IdState:
        return self.lookup(label, [row_id]).get(row_id, NOWHERE)

    def accept(self, label: Label, rows: Iterable[tuple[str, int, bool]]) -> None:
        """Valid rows: (id, line, unchanged)."""
        kind = _KIND[label]
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT INTO row_ids (kind, id, valid, unchanged) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (kind, id) DO UPDATE SET valid = excluded.valid, "
                "unchanged = excluded.unchanged",
                ((kind, row_id, line, int(unchanged)) for row_id, line, unchanged in rows))

    def reject(self, label: Label, rows: Iterable[tuple[str, int]]) -> None:
        """Rejected rows: (id, line). The id stops being valid if that line held it;
        the first rejected line of an id is the one remembered."""
        kind = _KIND[label]
        rows = list(rows)
        with self._lock, self._transaction():
            self._db.executemany(
                "UPDATE row_ids SET valid = NULL WHERE kind = ? AND id = ? AND valid = ?",
                ((kind, row_id, line) for row_id, line in rows))
            self._db.executemany(
                "INSERT INTO row_ids (kind, id, rejected) VALUES (?, ?, ?) "
                "ON CONFLICT (kind, id) DO UPDATE SET "
                "rejected = coalesce(rejected, excluded.rejected)",
                ((kind, row_id, line) for row_id, line in rows))

    def mark_in_graph(self, label: Label, ids: Iterable[str]) -> None:
        kind = _KIND[label]
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT INTO row_ids (kind, id, in_graph) VALUES (?, ?, 1) "
                "ON CONFLICT (kind, id) DO UPDATE SET in_graph = 1",
                ((kind, row_id) for row_id in ids))

    def count_valid(self, label: Label) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM row_ids WHERE kind = ? AND valid IS NOT NULL",
                (_KIND[label],)).fetchone()
        return int(row[0])

    # -- sets of ids and queues -------------------------------------------------

    def id_set(self, name: str) -> IdSet:
        """A set of ids kept in the ledger; ``name`` tells the sets apart."""
        return IdSet(self, name)

    def queue(self, name: str) -> Queue:
        """A first-in first-out list of text items kept in the ledger."""
        return Queue(self, name)

    def _execute(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def _executemany(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
        with self._lock, self._transaction():
            self._db.executemany(sql, rows)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction per batch: without it every row is one (ten times slower)."""
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


class IdSet(MutableSet[str]):
    """A set of ids on disk; iteration is in id order and pages through the file (it may
    run while the set changes)."""

    PAGE = 5000

    def __init__(self, ledger: Ledger, name: str) -> None:
        self._ledger = ledger
        self._name = name

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and bool(self._ledger._execute(
            "SELECT 1 FROM id_sets WHERE name = ? AND id = ?", (self._name, item)))

    def __iter__(self) -> Iterator[str]:
        after = ""
        first = True
        while True:
            rows = self._ledger._execute(
                "SELECT id FROM id_sets WHERE name = ? AND (? OR id > ?) ORDER BY id LIMIT ?",
                (self._name, first, after, self.PAGE))
            for (row_id,) in rows:
                yield row_id
            if len(rows) < self.PAGE:
                return
            first, after = False, rows[-1][0]

    def __len__(self) -> int:
        return int(self._ledger._execute(
            "SELECT count(*) FROM id_sets WHERE name = ?", (self._name,))[0][0])

    def __bool__(self) -> bool:
        return bool(self._ledger._execute(
            "SELECT 1 FROM id_sets WHERE name = ? LIMIT 1", (self._name,)))

    def add(self, value: str) -> None:
        self.update([value])

    def discard(self, value: str) -> None:
        self._ledger._execute("DELETE FROM id_sets WHERE name = ? AND id = ?",
                              (self._name, value))

    def update(self, values: Iterable[str]) -> None:
        self._ledger._executemany("INSERT OR IGNORE INTO id_sets (name, id) VALUES (?, ?)",
                                  ((self._name, v) for v in values))

    def __repr__(self) -> str:
        return f"IdSet({self._name!r}, {len(self)} ids)"


class Queue:
    """Text items in the order they were put, read back in pages."""

    PAGE = 2000

    def __init__(self, ledger: Ledger, name: str) -> None:
        self._ledger = ledger
        self._name = name

    def put(self, items: Iterable[str]) -> None:
        self._ledger._executemany("INSERT INTO queue (name, item) VALUES (?, ?)",
                                  ((self._name, item) for item in items))

    def __len__(self) -> int:
        return int(self._ledger._execute(
            "SELECT count(*) FROM queue WHERE name = ?", (self._name,))[0][0])

    def pages(self, size: int | None = None) -> Iterator[list[str]]:
        """Every item, a page at a time, in order."""
        size = size or self.PAGE
        after = 0
        while True:
            rows = self._ledger._execute(
                "SELECT seq, item FROM queue WHERE name = ? AND seq > ? ORDER BY seq LIMIT ?",
                (self._name, after, size))
            if rows:
                yield [item for _, item in rows]
            if len(rows) < size:
                return
            after = rows[-1][0]

    def clear(self) -> None:
        self._ledger._execute("DELETE FROM queue WHERE name = ?", (self._name,))
