"""Load an interchange bundle into a store: validate, resolve references, write in batches.

The job runs in three streaming passes over the bundle:

1. **validate** every row with the interchange models; collect the ids of
   valid rows and of rejected ones (a repeated id is rejected, the first
   occurrence stays);
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
import os
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from triedbefore.graph import QueryError, queries, settings
from triedbefore.graph.changes import Touched
from triedbefore.graph.mirror import MirroringStore
from triedbefore.graph.store import Store
from triedbefore.ingest.bundle import Bundle, Problem, RawRow, open_bundle, protect_cell
from triedbefore.ontology.models import (
    ROW_TYPES,
    InterchangeRow,
    Reference,
    explain,
)
from triedbefore.ontology.vocab import Label, Link

#: Links written after every node exists: their targets may come later in the bundle.
DEFERRED_LINKS: frozenset[Link] = frozenset({
    Link.SITE_PARENT,
    Link.INITIATIVE_LEARNED_FROM_EVALUATION,
    Link.INITIATIVE_LEARNED_FROM_INITIATIVE,
})

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
    problems: list[Problem] = field(default_factory=list)
    report_paths: list[Path] = field(default_factory=list)
    resolution: dict[str, int] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    started_at: str = ""
    ended_at: str = ""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != "error"]

    @property
    def exit_code(self) -> int:
        """0: every row loaded; 3: some rows (or files) rejected, the rest loaded."""
        return 3 if self.errors else 0

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
            "resolution": self.resolution,
            "changes": {kind: sum(1 for c in self.changes if c["change_kind"] == kind)
                        for kind in ("verdict", "zombie")},
            "report": [str(p) for p in self.report_paths],
        }


def new_run_id() -> str:
    return datetime.now(UTC).strftime("run-%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
class _Accepted:
    """Ids of one file's rows: accepted (id → line) and rejected."""

    valid: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    unchanged: set[str] = field(default_factory=set)  # valid rows the graph already holds


@dataclass
class _BatchRow:
    id: str
    line: int
    props: dict[str, Any]
    links: dict[Link, list[str]]
    hash: str


def _targets(link: Link) -> Callable[[_BatchRow], dict[str, Any]]:
    def param(row: _BatchRow) -> dict[str, Any]:
        return {"id": row.id, "targets": row.links.get(link, [])}

    return param


class Loader:
    """One ingest run of one bundle into one store."""

    def __init__(self, store: Store, bundle: Bundle, *, batch_size: int | None = None,
                 progress: Progress | None = None, source: str | None = None) -> None:
        self.store = store
        self.bundle = bundle
        self.batch_size = batch_size or int(settings.BATCH_SIZE.get())
        self.progress = progress
        self.result = IngestResult(run_id=new_run_id(), source=source or str(bundle.path))
        self.ids: dict[Label, _Accepted] = {t.LABEL: _Accepted() for t in ROW_TYPES}
        self.in_graph: dict[Label, set[str]] = {t.LABEL: set() for t in ROW_TYPES}
        self.deferred: list[tuple[Label, _BatchRow]] = []
        #: Initiatives written by this run without a declared solution: resolution's work.
        self.unresolved: set[str] = set()
        #: Initiatives that existed and now declare a solution: their proposals go.
        self.redeclared: set[str] = set()
        #: Solutions and evaluations whose verdicts this run may change.
        self.touched = Touched()

    # -- problems -------------------------------------------------------------

    def _problem(self, problem: Problem) -> None:
        self.result.problems.append(problem)

    def _reject(self, row_type: type[InterchangeRow], row_id: str, line: int) -> None:
        accepted = self.ids[row_type.LABEL]
        if accepted.valid.get(row_id) == line:
            del accepted.valid[row_id]
        accepted.rejected.setdefault(row_id, line)
        key = file_key(row_type)
        self.result.rejected[key] = self.result.rejected.get(key, 0) + 1

    # -- run ------------------------------------------------------------------

    def run(self) -> IngestResult:
        result = self.result
        result.started_at = _now()
        self.store.ensure_schema()
        checksums = [f"{name}:{self.bundle.checksum(name)}" for name in sorted(self.bundle.members)]
        self._record_run({"source": result.source, "started_at": result.started_at,
                          "status": "running", "checksums": checksums})
        try:
            self._validate()
            self._check_references()
            self._write()
        except BaseException:
            self._record_run({"status": "failed", "ended_at": _now()})
            raise
        result.ended_at = _now()
        self._record_run({
            "status": "completed",
            "ended_at": result.ended_at,
            "counts_json": json.dumps({k: result.loaded.get(k, 0) for k in result.loaded}),
            "written_json": json.dumps(result.written),
            "errors_count": len(result.errors),
            "warnings_count": len(result.warnings),
        })
        return result

    def _record_run(self, props: dict[str, Any]) -> None:
        self.store.write(queries.UPSERT_RUN, {"id": self.result.run_id, "props": props})

    # -- pass 1: validate -----------------------------------------------------

    def _validate(self) -> None:
        for row_type in ROW_TYPES:
            if row_type.FILE not in self.bundle.members:
                continue
            known = int(self.store.read(queries.count_nodes(row_type.LABEL))[0]["n"]) > 0
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
        accepted = self.ids[row_type.LABEL]
        key = file_key(row_type)
        stored: dict[str, Any] = {}
        if known:
            ids = [raw.cells.get(row_type.ID_COLUMN, "").strip() for raw in chunk]
            stored = {str(r["id"]): r["hash"] for r in self.store.read(
                queries.existing_hashes(row_type.LABEL), {"ids": [i for i in ids if i]})}
        for raw in chunk:
            row_id = raw.cells.get(row_type.ID_COLUMN, "").strip()
            if row_id in accepted.valid:
                self._problem(Problem(
                    row_type.FILE, raw.line, row_type.ID_COLUMN,
                    f"id {row_id!r} repeats the row on line {accepted.valid[row_id]}; "
                    "the first occurrence is kept"))
                self.result.rejected[key] = self.result.rejected.get(key, 0) + 1
                continue
            if row_id and stored.get(row_id) is not None and stored[row_id] == row_hash(raw):
                accepted.valid[row_id] = raw.line
                accepted.unchanged.add(row_id)
                continue
            try:
                row_type.model_validate(raw.cells)
            except ValidationError as exc:
                for fp in explain(exc):
                    self._problem(Problem(row_type.FILE, raw.line, fp.column, fp.reason,
                                          fp.allowed))
                if row_id:
                    accepted.rejected.setdefault(row_id, raw.line)
                self.result.rejected[key] = self.result.rejected.get(key, 0) + 1
                continue
            accepted.valid[row_id] = raw.line

    # -- pass 2: references ---------------------------------------------------

    def _ref_rows(self) -> Iterator[tuple[type[InterchangeRow], RawRow, str]]:
        """Accepted rows of every file that has reference columns."""
        for row_type in ROW_TYPES:
            if not row_type.REFERENCES or row_type.FILE not in self.bundle.members:
                continue
            accepted = self.ids[row_type.LABEL]
            for raw in self.bundle.rows(row_type, [], warn=False):
                row_id = raw.cells.get(row_type.ID_COLUMN, "").strip()
                if accepted.valid.get(row_id) == raw.line:
                    yield row_type, raw, row_id

    def _target_state(self, ref: Reference, target_id: str) -> tuple[str, Label | None]:
        """("ok", label) | ("rejected", label) | ("unknown", None) | ("external", None)."""
        rejected_label: Label | None = None
        for label in ref.targets:
            accepted = self.ids[label]
            if target_id in accepted.valid:
                return "ok", label
            if target_id in self.in_graph[label] and target_id not in accepted.rejected:
                return "ok", label
            if target_id in accepted.rejected and rejected_label is None:
                rejected_label = label
        if rejected_label is not None:
            return "rejected", rejected_label
        return "external", None

    def _check_references(self) -> None:
        # First round: find ids that are not in the bundle and look them up in the graph.
        external: dict[Label, set[str]] = {t.LABEL: set() for t in ROW_TYPES}
        for row_type, raw, _row_id in self._ref_rows():
            for ref in row_type.REFERENCES:
                for target_id in _split(raw.cells.get(ref.column)):
                    state, _ = self._target_state(ref, target_id)
                    if state == "external":
                        for label in ref.targets:
                            external[label].add(target_id)
        for label, wanted in external.items():
            self._lookup_graph(label, wanted)
        # Then reject until nothing changes (a rejection may cascade, even backwards).
        changed = True
        while changed:
            changed = False
            for row_type, raw, row_id in self._ref_rows():
                problem = self._first_bad_reference(row_type, raw)
                if problem is not None:
                    self._problem(problem)
                    self._reject(row_type, row_id, raw.line)
                    changed = True

    def _first_bad_reference(self, row_type: type[InterchangeRow], raw: RawRow) -> Problem | None:
        for ref in row_type.REFERENCES:
            for target_id in _split(raw.cells.get(ref.column)):
                state, label = self._target_state(ref, target_id)
                names = " or ".join(t.value.lower() for t in ref.targets)
                if state == "rejected" and label is not None:
                    line = self.ids[label].rejected[target_id]
                    target_file = next(t.FILE for t in ROW_TYPES if t.LABEL is label)
                    return Problem(row_type.FILE, raw.line, ref.column,
                                   f"refers to {names} {target_id!r}, which was rejected "
                                   f"({target_file} line {line})")
                if state == "external":
                    return Problem(row_type.FILE, raw.line, ref.column,
                                   f"refers to {names} {target_id!r}, which is neither in the "
                                   "bundle nor in the graph")
        return None

    def _lookup_graph(self, label: Label, wanted: set[str]) -> None:
        ids = sorted(wanted)
        statement = queries.existing_ids(label)
        for start in range(0, len(ids), self.batch_size):
            rows = self.store.read(statement, {"ids": ids[start:start + self.batch_size]})
            self.in_graph[label].update(str(r["id"]) for r in rows)

    # -- pass 3: write --------------------------------------------------------

    def _links_of(self, row_type: type[InterchangeRow], model: InterchangeRow
                  ) -> dict[Link, list[str]]:
        links: dict[Link, list[str]] = {}
        refs = model.references()
        for ref in row_type.REFERENCES:
            for link in ref.links:
                links[link] = []
            for target_id in refs[ref.column]:
                state, label = self._target_state(ref, target_id)
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
        accepted = self.ids[row_type.LABEL]
        self.result.loaded[key] = len(accepted.valid)
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
            for raw in self.bundle.rows(row_type, [], warn=False):
                row_id = raw.cells.get(row_type.ID_COLUMN, "").strip()
                if accepted.valid.get(row_id) != raw.line:
                    continue
                if row_id in accepted.unchanged:
                    unchanged += 1
                    continue
                model = row_type.model_validate(raw.cells)
                props = model.node_properties()
                props.update(raw.extras)
                batch.append(_BatchRow(row_id, raw.line, props, self._links_of(row_type, model),
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
        existing = {
            str(r["id"]): r["hash"]
            for r in self.store.read(queries.existing_hashes(label), {"ids": [b.id for b in batch]})
        }
        changed = [b for b in batch if existing.get(b.id) != b.hash]
        self.result.unchanged[key] += len(batch) - len(changed)
        if not changed:
            return
        self._touch(label, changed, existing)
        # Rows new to the graph are created (nodes and links), the others merged and their
        # links made exactly the row's.
        fresh = self._apply(row_type, queries.create_nodes(label),
                            [b for b in changed if b.id not in existing],
                            lambda b: {"id": b.id, "props": {
                                k: v for k, v in b.props.items() if v is not None}})
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
        if label is Label.INITIATIVE:
            self.unresolved.update(b.id for b in changed
                                   if not b.links.get(Link.INITIATIVE_SOLUTION))
            self.redeclared.update(b.id for b in changed
                                   if b.links.get(Link.INITIATIVE_SOLUTION) and b.id in existing)
        now = [b for b in now if b.id in ok_ids]
        self.deferred.extend((label, b) for b in later if b.id in ok_ids)
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
            self.touched.initiatives.update(b.id for b in changed)
        elif label is Label.EVALUATION:
            if old:
                self.touched.solutions_of(self.store, queries.SOLUTIONS_OF_EVALUATIONS, old)
            self.touched.evaluations.update(b.id for b in changed)

    def _write_deferred(self) -> None:
        by_label: dict[Label, list[_BatchRow]] = {}
        for label, row in self.deferred:
            by_label.setdefault(label, []).append(row)
        for label, rows in by_label.items():
            row_type = next(t for t in ROW_TYPES if t.LABEL is label)
            links = {lk for b in rows for lk in b.links if lk in DEFERRED_LINKS}
            for start in range(0, len(rows), self.batch_size):
                chunk = rows[start:start + self.batch_size]
                for link in sorted(links):
                    chunk = self._apply(row_type, queries.sync_links(link), chunk,
                                        _targets(link), rel_props=LINK_PROPERTIES.get(link, {}))
                self._apply(row_type, queries.set_row_hashes(label), chunk,
                            lambda b: {"id": b.id, "hash": b.hash})
        self.deferred = []

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


def ingest(store: Store, path: str | Path, *, batch_size: int | None = None,
           progress: Progress | None = None, report_dir: Path | None = None,
           source: str | None = None, resolve: bool = True,
           record_changes: bool = True) -> IngestResult:
    """Load a bundle (folder or .zip) into ``store``; the report goes to ``report_dir``.
    The store's public copy (the graph without restricted records) follows: each write
    is made to it too when it was in step with the graph before the run; otherwise it is
    rebuilt at the end.

    Raises :class:`~triedbefore.ingest.BundleUnreadable` when nothing could be read.
    """
    with open_bundle(path) as bundle:
        loader = Loader(store, bundle, batch_size=batch_size, progress=progress, source=source)
        previous = store.read(queries.PREVIOUS_RUN, {"id": loader.result.run_id})
        mirror = _mirror(store, previous)
        graph: Store = mirror or store
        loader.store = graph
        result = loader.run()
    redeclared = sorted(loader.redeclared)
    for start in range(0, len(redeclared), loader.batch_size):
        graph.write(queries.DROP_SHADOWED_BY_IDS,
                    {"ids": redeclared[start:start + loader.batch_size]})
    if resolve:
        from triedbefore.graph.resolution import resolve as resolve_solutions

        # New or changed solutions may match any unresolved initiative; otherwise only the
        # initiatives this run wrote need a look, unless the run before stopped short of
        # resolving (killed): then the initiatives it wrote, now unchanged, need one too.
        finished = not previous or previous[0].get("resolved") is True
        only = None if result.written.get("solutions") or not finished else loader.unresolved
        if only is None or only:
            for r in resolve_solutions(graph, run_id=result.run_id, only=only,
                                       touched=loader.touched.solutions):
                result.resolution[r.status] = result.resolution.get(r.status, 0) + 1
    # done (or, with resolve=False, skipped as asked): nothing is left for the next run
    graph.write(queries.UPSERT_RUN, {"id": result.run_id, "props": {"resolved": True}})
    if record_changes:
        from triedbefore.graph.changes import record_changes as record

        touched = loader.touched
        if previous and previous[0].get("public_in_step") is not True:
            # the run before stopped short (killed): its changes may be unrecorded
            touched.everything = True
        if touched.evaluations:  # the solutions their initiatives belong to now
            touched.solutions_of(graph, queries.SOLUTIONS_OF_EVALUATIONS,
                                 sorted(touched.evaluations))
        result.changes = record(graph, result.run_id, touched)
    # Anonymous readers read a copy without restricted records.
    if mirror is not None:
        mirror.finish()
    if mirror is None or not mirror.in_step:
        store.rebuild_public_copy()
    # The next run may write to the copy as it goes: it is in step now.
    in_step = {"id": result.run_id, "props": {"public_in_step": True}}
    store.write(queries.UPSERT_RUN, in_step)
    store.write_public_copy(queries.UPSERT_RUN, in_step)
    if report_dir is not None and result.problems:
        result.report_paths = write_report(result, report_dir)
    return result


def _mirror(store: Store, previous: list[dict[str, Any]]) -> MirroringStore | None:
    """A store writing to the public copy too, when the copy is in step with the graph:
    the run before left it so (and it holds that run), or the graph is empty (the copy
    starts empty). None: the copy is rebuilt after the run."""
    if previous:
        if previous[0].get("public_in_step") is not True or not store.has_public_copy():
            return None
        there = store.public_copy().read(queries.PREVIOUS_RUN, {"id": ""})
        if not there or there[0].get("id") != previous[0].get("id") or \
                there[0].get("public_in_step") is not True:
            return None
        return MirroringStore(store)
    if store.read(queries.ANY_NODE):
        return None
    store.ensure_schema()
    store.rebuild_public_copy()  # empty, with the schema
    return MirroringStore(store) if store.has_public_copy() else None


def neutralise(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (lists joined with ``|``; maps
    and nested lists as JSON text)."""
    if value is None:
        return ""
    if isinstance(value, dict) or (isinstance(value, list | tuple)
                                   and any(isinstance(v, dict | list) for v in value)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, list | tuple):
        value = "|".join(str(v) for v in value)
    return protect_cell(str(value))


def write_report(result: IngestResult, directory: Path) -> list[Path]:
    """Write the run's problems as ``<run>.problems.json`` and ``.csv``."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{result.run_id}.problems.json"
    csv_path = directory / f"{result.run_id}.problems.csv"
    tmp = json_path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"run_id": result.run_id, "source": result.source,
                               "problems": [p.to_dict() | {"severity": p.severity}
                                            for p in result.problems]},
                              indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, json_path)
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "line", "column", "severity", "reason", "allowed"])
        for p in result.problems:
            writer.writerow([neutralise(str(v)) for v in (
                p.file, "" if p.line is None else p.line, p.column or "", p.severity, p.reason,
                "|".join(p.allowed))])
    return [json_path, csv_path]

