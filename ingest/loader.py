"""Load an interchange bundle into a store: validate, resolve references, write in batches.

The job runs in three streaming passes over the bundle:

1. **validate** every row with the interchange models; note the ids of valid
   rows and of rejected ones in the run's ledger (a repeated id is rejected, the
   first occurrence stays). The ledger is on disk (:mod:`.ledger`) and each pass
   reads it a batch of rows at a time, so memory does not grow with the bundle;
2. **references**: every id a row refers to must name a valid row of the
   bundle or a node already in the graph; a row that refers to a rejected row
   is rejected in turn, until nothing changes;
3. **write** the accepted rows in batched ``UNWIND … MERGE`` statements.
   Unchanged rows (same ``row_hash``) are skipped, so re-loading a bundle
   writes nothing. A row's hash is written last, after its node and
   relationships, so a run that is interrupted leaves the row pending and the
   next run completes it. A batch the database refuses is split until the
   refused row is found; the rest still load.

Every node and relationship written records the run (``run_id``); the run
itself is an ``IngestRun`` node with the source, file checksums, counts and
problems.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from triedbefore.graph import GraphError, QueryError, queries, settings
from triedbefore.graph.changes import Touched
from triedbefore.graph.store import Store, batched
from triedbefore.ingest.bundle import Bundle, Problem, ProblemLog, RawRow
from triedbefore.ingest.ledger import NOWHERE as _NOWHERE
from triedbefore.ingest.ledger import IdState, Ledger, Queue
from triedbefore.ontology.cells import neutralise
from triedbefore.ontology.models import (
    ROW_TYPES,
    InterchangeRow,
    Reference,
    explain,
)
from triedbefore.ontology.vocab import Label, Link

log = logging.getLogger(__name__)

#: Links written after every node exists: their targets may come later in the bundle.
DEFERRED_LINKS: frozenset[Link] = frozenset({
    Link.SITE_PARENT,
    Link.INITIATIVE_LEARNED_FROM_EVALUATION,
    Link.INITIATIVE_LEARNED_FROM_INITIATIVE,
    Link.EVALUATION_INCLUDES,
})

#: The longest ``failure`` a run's record keeps (the step and the error's first line).
FAILURE_CHARS = 500

#: Properties set on every link of a kind (IMPLEMENTS from a bundle is "declared").
LINK_PROPERTIES: dict[Link, dict[str, Any]] = {
    Link.INITIATIVE_SOLUTION: {"how": "declared", "score": None},
}

Progress = Callable[[str, str, int], None]  # (phase, file, rows done)


def file_key(row_type: type[InterchangeRow]) -> str:
    """``sites.csv`` → ``sites``: the key used in counts."""
    return row_type.FILE.removesuffix(".csv")


@dataclass
class IngestResult:
    run_id: str
    source: str
    loaded: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    #: Every problem, counted; the first ``ingest_problem_limit`` in memory.
    problems: ProblemLog = field(default_factory=ProblemLog)
    report_paths: list[Path] = field(default_factory=list)
    resolution: dict[str, int] = field(default_factory=dict)
    #: The verdict changes and new zombie repeats the run recorded, in brief
    #: (``graph.changes.BRIEF``; the full records are in the graph).
    changes: list[dict[str, Any]] = field(default_factory=list)
    started_at: str = ""
    ended_at: str = ""

    @property
    def errors(self) -> list[Problem]:
        """The errors among the problems held in memory (``problems.error_count`` counts
        them all)."""
        return [p for p in self.problems.kept if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems.kept if p.severity != "error"]

    @property
    def exit_code(self) -> int:
        """0: every row loaded; 3: some rows (or files) rejected, the rest loaded."""
        return 3 if self.problems.error_count else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "source": self.source,
            "loaded": self.loaded,
            "written": self.written,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "errors": [p.to_dict() for p in self.errors],
            "warnings": [p.to_dict() for p in self.warnings],
            # errors and warnings list the first problems only; the report lists them all
            "problem_counts": {"errors": self.problems.error_count,
                               "warnings": self.problems.warning_count,
                               "listed": len(self.problems.kept)},
            "resolution": self.resolution,
            "changes": {kind: sum(1 for c in self.changes if c["change_kind"] == kind)
                        for kind in ("verdict", "zombie")},
            "report": [str(p) for p in self.report_paths],
        }


def new_run_id() -> str:
    return datetime.now(UTC).strftime("run-%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


def _now() -> str:
    """Microseconds: runs a second apart (curation decisions) keep their order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def row_hash(raw: RawRow) -> str:
    """Digest of a row as read (cells and unknown columns); equal digests skip the row."""
    payload = [sorted(raw.cells.items()), sorted(raw.extras.items())]
    blob = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


def _split(cell: str | None) -> list[str]:
    if not cell:
        return []
    return [part.strip() for part in cell.split("|") if part.strip()]


@dataclass
class _BatchRow:
    id: str
    line: int
    props: dict[str, Any]
    links: dict[Link, list[str]]
    hash: str

    def deferred(self) -> str:
        """The row's deferred links, as one ledger queue item."""
        return json.dumps([self.id, self.line, self.hash,
                           {lk.value: t for lk, t in self.links.items()}],
                          separators=(",", ":"))

    @classmethod
    def from_deferred(cls, item: str) -> _BatchRow:
        row_id, line, digest, links = json.loads(item)
        return cls(row_id, line, {}, {Link(k): v for k, v in links.items()}, digest)


def _targets(link: Link) -> Callable[[_BatchRow], dict[str, Any]]:
    def param(row: _BatchRow) -> dict[str, Any]:
        return {"id": row.id, "targets": row.links.get(link, [])}

    return param


def _row_id(row_type: type[InterchangeRow], raw: RawRow) -> str:
    return raw.cells.get(row_type.ID_COLUMN, "").strip()


@dataclass
class _View:
    """What the ledger knows of the ids in one chunk of rows: the rows' own ids and the
    ids their references name (read in one lookup per label, not one per id)."""

    rows: dict[str, IdState]
    targets: dict[Label, dict[str, IdState]]

    def holds(self, row_id: str, raw: RawRow) -> bool:
        """Whether this row (not another with its id) is the valid one."""
        state = self.rows.get(row_id)
        return state is not None and state.valid == raw.line


class Loader:
    """One ingest run of one bundle into one store. Its ledger of row ids is on disk
    (see :mod:`triedbefore.ingest.ledger`); :meth:`close` removes it."""

    def __init__(self, store: Store, bundle: Bundle, *, batch_size: int | None = None,
                 progress: Progress | None = None, source: str | None = None) -> None:
        self.store = store
        self.bundle = bundle
        self.batch_size = batch_size or int(settings.BATCH_SIZE.get())
        self.progress = progress
        self.result = IngestResult(run_id=new_run_id(), source=source or str(bundle.path))
        self.ledger = Ledger()
        #: Initiatives written by this run without a declared solution: resolution's work.
        self.unresolved = self.ledger.id_set("unresolved")
        #: Initiatives that existed and now declare a solution: their proposals go.
        self.redeclared = self.ledger.id_set("redeclared")
        #: Solutions and evaluations whose verdicts this run may change.
        self._touched_initiatives = self.ledger.id_set("touched-initiatives")
        self._touched_evaluations = self.ledger.id_set("touched-evaluations")
        self.touched = Touched(initiatives=self._touched_initiatives,
                               evaluations=self._touched_evaluations)
        #: Runs that did not complete: the row hashes they wrote are not trusted.
        self._unfinished: set[str] = set()
        #: Labels without a node when the run started: no row of theirs is in the graph.
        self._empty_at_start: set[Label] = set()

    def close(self) -> None:
        self.ledger.close()

    def __enter__(self) -> Loader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rejected_ids(self, label: Label, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` a rejected row held."""
        return {i for i, s in self.ledger.lookup(label, ids).items() if s.rejected is not None}

    # -- problems -------------------------------------------------------------

    def _problem(self, problem: Problem) -> None:
        self.result.problems.append(problem)

    def _reject(self, row_type: type[InterchangeRow], row_id: str, line: int) -> None:
        self.ledger.reject(row_type.LABEL, [(row_id, line)])
        key = file_key(row_type)
        self.result.rejected[key] = self.result.rejected.get(key, 0) + 1

    # -- run ------------------------------------------------------------------

    def run(self, *, then: Callable[[], None] | None = None,
            run_props: dict[str, Any] | None = None, finish: bool = True) -> IngestResult:
        """The three passes, inside the run's record (``IngestRun``: running, then completed
        or failed); ``then`` runs after the rows are written, still inside it. Once every
        accepted row is written with its hash, the record says so (``rows_written``: the
        next run trusts those hashes). With ``finish`` false the run stays ``running`` for
        the caller to end (:meth:`completed`, :meth:`failed`): the ingest entry point
        (:func:`triedbefore.ingest.pipeline.run`), which does what every write needs after
        it, ends the run only once that is done too."""
        result = self.result
        result.started_at = _now()
        self.store.ensure_schema()
        self._unfinished = {str(r["id"]) for r in self.store.read(
            queries.UNFINISHED_RUNS, {"id": result.run_id})}
        checksums = [f"{name}:{self.bundle.checksum(name)}" for name in sorted(self.bundle.members)]
        self._record_run({"source": result.source, "started_at": result.started_at,
                          "status": "running", "checksums": checksums, **(run_props or {})})
        result.problems.extend(self.bundle.problems)  # files not read at all
        try:
            self._validate()
            self._check_references()
            self._write()
            if then is not None:
                then()
        except BaseException as exc:
            self.failed("writing the rows", exc)
            raise
        self._record_run({
            "rows_written": True,
            "counts_json": json.dumps({k: result.loaded.get(k, 0) for k in result.loaded}),
            "written_json": json.dumps(result.written),
            "errors_count": result.problems.error_count,
            "warnings_count": result.problems.warning_count,
        })
        if finish:
            self.completed()
        return result

    def completed(self) -> dict[str, Any]:
        """Record the run as completed; what was recorded."""
        self.result.ended_at = _now()
        done = {"status": "completed", "ended_at": self.result.ended_at}
        self._record_run(done)
        return done

    def failed(self, step: str, exc: BaseException) -> None:
        """Record the run as failed in ``step`` (what it was doing), with the error."""
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        what = type(exc).__name__ + (f": {reason}" if reason else "")
        self.result.ended_at = _now()
        try:
            self._record_run({"status": "failed", "ended_at": self.result.ended_at,
                              "failure": f"{step}: {what}"[:FAILURE_CHARS]})
        except GraphError as lost:  # the store itself failed: the error raised says so
            log.debug("run %s: could not record its failure: %s", self.result.run_id, lost)

    def _record_run(self, props: dict[str, Any]) -> None:
        self.store.write(queries.UPSERT_RUN, {"id": self.result.run_id, "props": props})

    def _chunks(self, row_type: type[InterchangeRow]) -> Iterator[list[RawRow]]:
        """The file's rows again (problems were reported on the first read), a batch at a
        time."""
        return batched(self.bundle.rows(row_type, ProblemLog(0, spool=False), warn=False),
                       self.batch_size)

    # -- pass 1: validate -----------------------------------------------------

    def _validate(self) -> None:
        for row_type in ROW_TYPES:
            if row_type.FILE not in self.bundle.members:
                continue
            known = int(self.store.read(queries.count_nodes(row_type.LABEL))[0]["n"]) > 0
            if not known:
                self._empty_at_start.add(row_type.LABEL)
            chunk: list[RawRow] = []
            done = 0
            for raw in self.bundle.rows(row_type, self.result.problems):
                chunk.append(raw)
                if len(chunk) >= self.batch_size:
                    self._validate_chunk(row_type, chunk, known)
                    done += len(chunk)
                    chunk = []
                    if self.progress:
                        self.progress("validate", row_type.FILE, done)
            self._validate_chunk(row_type, chunk, known)

    def _validate_chunk(self, row_type: type[InterchangeRow], chunk: list[RawRow],
                        known: bool) -> None:
        """Validate rows; a row whose digest the graph already holds was valid when loaded
        and is accepted as unchanged without validating it again."""
        if not chunk:
            return
        label = row_type.LABEL
        key = file_key(row_type)
        ids = [_row_id(row_type, raw) for raw in chunk]
        before = self.ledger.lookup(label, (i for i in ids if i))
        stored: dict[str, Any] = {}
        if known:
            stored = self._stored_hashes(label, [i for i in ids if i])
        valid: dict[str, tuple[int, bool]] = {}  # id → (line, unchanged)
        rejected: dict[str, int] = {}
        for raw, row_id in zip(chunk, ids, strict=True):
            earlier = valid[row_id][0] if row_id in valid else (
                before[row_id].valid if row_id in before else None)
            if earlier is not None:
                self._problem(Problem(
                    row_type.FILE, raw.line, row_type.ID_COLUMN,
                    f"id {row_id!r} repeats the row on line {earlier}; "
                    "the first occurrence is kept"))
                self.result.rejected[key] = self.result.rejected.get(key, 0) + 1
                continue
            if row_id and stored.get(row_id) is not None and stored[row_id] == row_hash(raw):
                valid[row_id] = (raw.line, True)
                continue
            try:
                row_type.model_validate(raw.cells)
            except ValidationError as exc:
                for fp in explain(exc):
                    self._problem(Problem(row_type.FILE, raw.line, fp.column, fp.reason,
                                          fp.allowed))
                if row_id:
                    rejected.setdefault(row_id, raw.line)
                self.result.rejected[key] = self.result.rejected.get(key, 0) + 1
                continue
            valid[row_id] = (raw.line, False)
        self.ledger.accept(label, ((i, line, same) for i, (line, same) in valid.items()))
        # the first rejected line of an id is kept (an earlier chunk's, if it had one)
        self.ledger.reject(label, rejected.items())

    def _stored_hashes(self, label: Label, ids: list[str]) -> dict[str, str | None]:
        """The row hash of each of ``ids`` the graph holds (None: not trusted, written by a
        run that did not complete)."""
        return {str(r["id"]): None if r["run_id"] in self._unfinished else r["hash"]
                for r in self.store.read(queries.existing_hashes(label), {"ids": ids})}

    # -- pass 2: references ---------------------------------------------------

    def _view(self, row_type: type[InterchangeRow], chunk: list[RawRow]) -> _View:
        rows = self.ledger.lookup(row_type.LABEL, (_row_id(row_type, r) for r in chunk))
        wanted: dict[Label, set[str]] = {}
        for raw in chunk:
            if not (state := rows.get(_row_id(row_type, raw))) or state.valid != raw.line:
                continue
            for ref in row_type.REFERENCES:
                for target_id in _split(raw.cells.get(ref.column)):
                    for label in ref.targets:
                        wanted.setdefault(label, set()).add(target_id)
        return _View(rows, {label: self.ledger.lookup(label, ids)
                            for label, ids in wanted.items()})

    def _ref_chunks(self) -> Iterator[tuple[type[InterchangeRow], list[tuple[RawRow, str]],
                                            _View]]:
        """Accepted rows of every file that has reference columns, a chunk at a time,
        with what the ledger knows of the ids they hold and name."""
        for row_type in ROW_TYPES:
            if not row_type.REFERENCES or row_type.FILE not in self.bundle.members:
                continue
            for chunk in self._chunks(row_type):
                view = self._view(row_type, chunk)
                rows = [(raw, row_id) for raw in chunk
                        if view.holds(row_id := _row_id(row_type, raw), raw)]
                if rows:
                    yield row_type, rows, view

    @staticmethod
    def _target_state(view: _View, ref: Reference, target_id: str
                      ) -> tuple[str, Label | None]:
        """("ok", label) | ("rejected", label) | ("external", None)."""
        rejected_label: Label | None = None
        for label in ref.targets:
            state = view.targets.get(label, {}).get(target_id)
            if state is None:
                continue
            if state.valid is not None:
                return "ok", label
            if state.in_graph and state.rejected is None:
                return "ok", label
            if state.rejected is not None and rejected_label is None:
                rejected_label = label
        if rejected_label is not None:
            return "rejected", rejected_label
        return "external", None

    def _check_references(self) -> None:
        # First round: look up, in the graph, the ids a chunk's rows name that are not in
        # the bundle; then check the chunk's rows.
        changed = False
        for row_type, rows, view in self._ref_chunks():
            external: dict[Label, set[str]] = {}
            for raw, _row_id in rows:
                for ref in row_type.REFERENCES:
                    for target_id in _split(raw.cells.get(ref.column)):
                        state, _ = self._target_state(view, ref, target_id)
                        if state == "external":
                            for label in ref.targets:
                                external.setdefault(label, set()).add(target_id)
            for label, wanted in external.items():
                known = view.targets.setdefault(label, {})
                for found in self._lookup_graph(label, wanted):
                    known[found] = known.get(found, _NOWHERE)._replace(in_graph=True)
            changed |= self._reject_bad_references(row_type, rows, view)
        # Then again until nothing changes (a rejection may cascade, even backwards).
        while changed:
            changed = False
            for row_type, rows, view in self._ref_chunks():
                changed |= self._reject_bad_references(row_type, rows, view)

    def _reject_bad_references(self, row_type: type[InterchangeRow],
                               rows: list[tuple[RawRow, str]], view: _View) -> bool:
        rejected = False
        for raw, row_id in rows:
            problem = self._first_bad_reference(view, row_type, raw)
            if problem is not None:
                self._problem(problem)
                self._reject(row_type, row_id, raw.line)
                rejected = True
        return rejected

    def _first_bad_reference(self, view: _View, row_type: type[InterchangeRow],
                             raw: RawRow) -> Problem | None:
        for ref in row_type.REFERENCES:
            for target_id in _split(raw.cells.get(ref.column)):
                state, label = self._target_state(view, ref, target_id)
                names = " or ".join(t.value.lower() for t in ref.targets)
                if state == "rejected" and label is not None:
                    line = view.targets[label][target_id].rejected
                    target_file = next(t.FILE for t in ROW_TYPES if t.LABEL is label)
                    return Problem(row_type.FILE, raw.line, ref.column,
                                   f"refers to {names} {target_id!r}, which was rejected "
                                   f"({target_file} line {line})")
                if state == "external":
                    return Problem(row_type.FILE, raw.line, ref.column,
                                   f"refers to {names} {target_id!r}, which is neither in the "
                                   "bundle nor in the graph")
        return None

    def _lookup_graph(self, label: Label, wanted: set[str]) -> list[str]:
        """Which of ``wanted`` the graph holds (noted in the ledger too)."""
        ids = sorted(wanted)
        statement = queries.existing_ids(label)
        found: list[str] = []
        for start in range(0, len(ids), self.batch_size):
            rows = self.store.read(statement, {"ids": ids[start:start + self.batch_size]})
            found.extend(str(r["id"]) for r in rows)
        self.ledger.mark_in_graph(label, found)
        return found

    # -- pass 3: write --------------------------------------------------------

    def _links_of(self, view: _View, row_type: type[InterchangeRow], model: InterchangeRow
                  ) -> dict[Link, list[str]]:
        links: dict[Link, list[str]] = {}
        refs = model.references()
        for ref in row_type.REFERENCES:
            for link in ref.links:
                links[link] = []
            for target_id in refs[ref.column]:
                state, label = self._target_state(view, ref, target_id)
                if state != "ok" or label is None:  # pragma: no cover - checked in pass 2
                    continue
                link = next(lk for lk in ref.links if lk.other is label)
                if target_id not in links[link]:
                    links[link].append(target_id)
        return links

    def _write(self) -> None:
        """Write the accepted rows that changed, a batch at a time. One batch is written
        (in a worker thread) while the next is prepared: the database and the parsing and
        validation of rows work at the same time. Each file's batches finish before the
        next file starts, since its rows may link to the file before."""
        with ThreadPoolExecutor(1, thread_name_prefix="ingest-write") as pool:
            for row_type in ROW_TYPES:
                if row_type.FILE not in self.bundle.members:
                    continue
                self._write_file(row_type, pool)
        self._write_deferred()

    def _write_file(self, row_type: type[InterchangeRow], pool: ThreadPoolExecutor) -> None:
        key = file_key(row_type)
        self.result.loaded[key] = self.ledger.count_valid(row_type.LABEL)
        self.result.written.setdefault(key, 0)
        self.result.unchanged.setdefault(key, 0)
        pending: Future[None] | None = None
        unchanged = 0
        done = 0

        def send(batch: list[_BatchRow]) -> None:
            nonlocal pending, done
            if pending is not None:
                pending.result()
            pending = pool.submit(self._write_batch, row_type, batch)
            done += len(batch)
            if self.progress:
                self.progress("write", row_type.FILE, done)

        batch: list[_BatchRow] = []
        try:
            for chunk in self._chunks(row_type):
                view = self._view(row_type, chunk)
                for raw in chunk:
                    row_id = _row_id(row_type, raw)
                    if not view.holds(row_id, raw):
                        continue
                    if view.rows[row_id].unchanged:
                        unchanged += 1
                        continue
                    model = row_type.model_validate(raw.cells)
                    props = model.node_properties()
                    props.update(raw.extras)
                    batch.append(_BatchRow(row_id, raw.line, props,
                                           self._links_of(view, row_type, model),
                                           row_hash(raw)))
                    if len(batch) >= self.batch_size:
                        send(batch)
                        batch = []
            if batch:
                send(batch)
        finally:
            if pending is not None:
                pending.result()
        self.result.unchanged[key] += unchanged

    def _write_batch(self, row_type: type[InterchangeRow], batch: list[_BatchRow]) -> None:
        label = row_type.LABEL
        key = file_key(row_type)
        # (a label without a node when the run started holds only this run's rows, and
        # a row id is in one batch only: none of this batch's rows is there)
        existing = ({} if label in self._empty_at_start else
                    self._stored_hashes(label, [b.id for b in batch]))
        changed = [b for b in batch if existing.get(b.id) != b.hash]
        self.result.unchanged[key] += len(batch) - len(changed)
        if not changed:
            return
        self._touch(label, changed, existing)
        # Rows new to the graph are created (nodes and links), the others merged and their
        # links made exactly the row's. A new row whose links are all written in this
        # batch is created with its hash; the others get it once their links are written.
        new = [b for b in changed if b.id not in existing]
        deferred = {b.id for b in new if any(lk in DEFERRED_LINKS and targets
                                             for lk, targets in b.links.items())}

        def node(b: _BatchRow) -> dict[str, Any]:
            return {"id": b.id, "props": {k: v for k, v in b.props.items() if v is not None}}

        hashed = self._apply(row_type, queries.create_nodes_hashed(label),
                             [b for b in new if b.id not in deferred],
                             lambda b: {**node(b), "hash": b.hash})
        fresh = hashed + self._apply(row_type, queries.create_nodes(label),
                                     [b for b in new if b.id in deferred], node)
        known = self._apply(row_type, queries.upsert_nodes(label),
                            [b for b in changed if b.id in existing],
                            lambda b: {"id": b.id, "props": {
                                "id": b.id, **{k: v for k, v in b.props.items()
                                               if v is not None}}})
        changed = fresh + known
        now: list[_BatchRow] = []
        later: list[_BatchRow] = []
        for b in changed:
            if any(lk in DEFERRED_LINKS and (targets or b.id in existing)
                   for lk, targets in b.links.items()):
                later.append(_BatchRow(b.id, b.line, {}, b.links, b.hash))
            else:
                now.append(b)
        for link in sorted({lk for b in changed for lk in b.links if lk not in DEFERRED_LINKS}):
            rel_props = LINK_PROPERTIES.get(link, {})
            linked = {b.id for b in self._apply(
                row_type, queries.create_links(link), [b for b in fresh if b.links.get(link)],
                _targets(link), rel_props=rel_props)}
            fresh = [b for b in fresh if b.id in linked or not b.links.get(link)]
            known = self._apply(row_type, queries.sync_links(link), known, _targets(link),
                                rel_props=rel_props)
        changed = fresh + known
        ok_ids = {b.id for b in changed}
        # a row created with its hash whose links the database refused is not complete
        self._apply(row_type, queries.set_row_hashes(label),
                    [b for b in hashed if b.id not in ok_ids],
                    lambda b: {"id": b.id, "hash": None})
        if label is Label.INITIATIVE:
            self.unresolved.update(b.id for b in changed
                                   if not b.links.get(Link.INITIATIVE_SOLUTION))
            self.redeclared.update(b.id for b in changed
                                   if b.links.get(Link.INITIATIVE_SOLUTION) and b.id in existing)
        hashed_ids = {b.id for b in hashed}
        now = [b for b in now if b.id in ok_ids and b.id not in hashed_ids]
        self._deferred(label).put(b.deferred() for b in later if b.id in ok_ids)
        self._apply(row_type, queries.set_row_hashes(label), now,
                    lambda b: {"id": b.id, "hash": b.hash})
        self.result.written[key] += len(changed)

    def _touch(self, label: Label, changed: list[_BatchRow], existing: dict[str, Any]) -> None:
        """Note the solutions whose evidence these rows may change: those they were linked
        to before the write (read now) and those they will be linked to."""
        old = [b.id for b in changed if b.id in existing]
        if label is Label.INITIATIVE:
            if old:
                self.touched.solutions_of(self.store, queries.SOLUTIONS_OF_INITIATIVES, old)
            self.touched.solutions.update(
                t for b in changed for t in b.links.get(Link.INITIATIVE_SOLUTION, []))
            self._touched_initiatives.update(b.id for b in changed)
        elif label is Label.EVALUATION:
            if old:
                self.touched.solutions_of(self.store, queries.SOLUTIONS_OF_EVALUATIONS, old)
            self._touched_evaluations.update(b.id for b in changed)

    def _deferred(self, label: Label) -> Queue:
        return self.ledger.queue(f"deferred-{label.value}")

    def _write_deferred(self) -> None:
        for row_type in ROW_TYPES:
            queue = self._deferred(row_type.LABEL)
            for page in queue.pages(self.batch_size):
                chunk = [_BatchRow.from_deferred(item) for item in page]
                for link in sorted({lk for b in chunk for lk in b.links if lk in DEFERRED_LINKS}):
                    chunk = self._apply(row_type, queries.sync_links(link), chunk,
                                        _targets(link), rel_props=LINK_PROPERTIES.get(link, {}))
                self._apply(row_type, queries.set_row_hashes(row_type.LABEL), chunk,
                            lambda b: {"id": b.id, "hash": b.hash})
            queue.clear()

    def _apply(self, row_type: type[InterchangeRow], statement: str, rows: list[_BatchRow],
               param: Callable[[_BatchRow], dict[str, Any]], *,
               rel_props: dict[str, Any] | None = None) -> list[_BatchRow]:
        """Run one batched statement; isolate rows the database refuses. Returns the rows
        that succeeded."""
        if not rows:
            return rows
        params: dict[str, Any] = {"rows": [param(b) for b in rows],
                                  "run_id": self.result.run_id}
        if rel_props is not None:
            params["rel_props"] = rel_props
        try:
            self.store.write(statement, params)
            return rows
        except QueryError as exc:
            if len(rows) == 1:
                row = rows[0]
                self._problem(Problem(row_type.FILE, row.line, None,
                                      f"the database refused this row: {exc}"))
                self._reject(row_type, row.id, row.line)
                return []
            mid = len(rows) // 2
            return (self._apply(row_type, statement, rows[:mid], param, rel_props=rel_props)
                    + self._apply(row_type, statement, rows[mid:], param, rel_props=rel_props))


def _private(path: Path) -> Any:
    """A file only its owner may read (0600, whatever the umask): reports quote the rows."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "w", newline="", encoding="utf-8")


def write_report(result: IngestResult, directory: Path) -> list[Path]:
    """Write the run's problems as ``<run>.problems.json`` and ``.csv``, every one of them,
    a problem at a time (they may be millions), readable by their owner only."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    json_path = directory / f"{result.run_id}.problems.json"
    csv_path = directory / f"{result.run_id}.problems.csv"
    tmp = json_path.with_suffix(".tmp")
    counts = {"errors": result.problems.error_count,
              "warnings": result.problems.warning_count}
    with _private(tmp) as fh:
        fh.write(json.dumps({"run_id": result.run_id, "source": result.source,
                             "problem_counts": counts}, ensure_ascii=False)[:-1])
        fh.write(', "problems": [')
        for i, p in enumerate(result.problems):
            fh.write(("\n  " if i == 0 else ",\n  ") + json.dumps(
                p.to_dict() | {"severity": p.severity}, ensure_ascii=False))
        fh.write("\n]}\n")
    os.replace(tmp, json_path)
    tmp = csv_path.with_suffix(".tmp")
    with _private(tmp) as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "line", "column", "severity", "reason", "allowed"])
        for p in result.problems:
            writer.writerow([neutralise(str(v)) for v in (
                p.file, "" if p.line is None else p.line, p.column or "", p.severity, p.reason,
                "|".join(p.allowed))])
    os.replace(tmp, csv_path)
    return [json_path, csv_path]
