"""The one way into the graph: every write, whatever brings it, is one run of :func:`run`.

A write's **source** (:class:`Source`) brings rows for the interchange loader (a bundle
on disk, NHS organisations from ODS extracts, an accepted candidate evaluation, later a
contributed record), writes of its own (a curator's decision, candidates found in a
registry), or both. :func:`run` always does the whole sequence, in this order; no caller
can skip a step:

1. record the run: an ``IngestRun`` node with the source, checksums and status;
2. validate the rows, check their references and write them (:class:`~.loader.Loader`);
3. the source's own writes, inside the same run;
4. embed the rows new or changed in meaning: solutions, initiatives and evaluations
   without a sentence vector (``graph/vectors.py``), in batches;
5. resolve solutions for initiatives loaded without one (those the run wrote; every one
   when solutions changed or the source asks);
6. record what the run changed about the evidence: verdict changes and new zombie
   repeats (``VerdictChange`` nodes);
7. keep the public copy (the graph without restricted records) in step: each write is
   made to it too when it was in step before the run, otherwise it is rebuilt at the end;
8. when anything changed, bump the graph version held in the graph and give its copy the
   same number, so every process reading either (every explorer worker) knows its cached
   answers are stale (a run that changed nothing, such as an unchanged re-load, leaves
   every cache warm);
9. write the problem report, when there are problems and a folder for it;
10. on a replicated deployment, wait until ``replica_wait`` replicas hold every write
    before the run is done, and fail it if the primary changed while it wrote
    (:meth:`~triedbefore.graph.store.Store.acknowledged`).

The run's record says ``completed`` only once every step is done. A step that fails
leaves it ``failed``, with the step and the error (``failure``, kept out of the public
copy); once the rows are written (``rows_written``) the next run trusts their digests
and does the later steps again.

Row sources are read as a stream (:class:`~.bundle.Bundle`) or held in memory
(:class:`~.bundle.MemoryBundle`); nothing is written to a temporary file to get rows in.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from triedbefore.graph import GraphError, queries, vectors
from triedbefore.graph.changes import Touched
from triedbefore.graph.changes import record_changes as record
from triedbefore.graph.mirror import MirroringStore
from triedbefore.graph.resolution import resolve as resolve_solutions
from triedbefore.graph.store import Params, Row, Store, WrappedStore, WriteSummary, batched
from triedbefore.ingest.bundle import Bundle, MemoryBundle, open_bundle
from triedbefore.ingest.loader import IngestResult, Loader, Progress, write_report

log = logging.getLogger(__name__)


class Source:
    """What one write brings. The base brings nothing: a run of it only resolves (when
    ``resolve_all``), keeps the public copy in step and bumps the version."""

    #: Provenance: the run's ``source``.
    label: str = "triedbefore"
    #: Reconsider every initiative without a declared solution, not only the run's own.
    resolve_all: bool = False

    def open(self) -> Bundle:
        """The rows for the loader (an empty bundle when the source has none)."""
        return MemoryBundle(self.label, {})

    def run_props(self) -> dict[str, Any]:
        """Properties the run's ``IngestRun`` node records besides the usual ones."""
        return {}

    def apply(self, graph: Store, result: IngestResult, touched: Touched) -> None:
        """The source's own writes, after its rows: made on ``graph`` (which mirrors them
        to the public copy), noting in ``touched`` the solutions whose evidence they may
        change."""

    def loaded(self, loader: Loader) -> None:
        """Read what the loader knows of the rows (rejected ids) before it is closed."""


class BundleSource(Source):
    """An interchange bundle on disk: a folder or a .zip of CSV files."""

    def __init__(self, path: str | Path, *, label: str | None = None) -> None:
        self.path = Path(path)
        self.label = label or str(path)

    def open(self) -> Bundle:
        return open_bundle(self.path)


class RowsSource(Source):
    """Rows held in memory: interchange file name → rows of column → cell text."""

    def __init__(self, label: str, files: dict[str, list[dict[str, str]]], *,
                 digest: str | None = None) -> None:
        self.label = label
        self.files = files
        self.digest = digest

    def open(self) -> Bundle:
        return MemoryBundle(self.label, self.files, digest=self.digest)


class ResolveAll(Source):
    """Reconsider the solution of every initiative loaded without one."""

    label = "resolution"
    resolve_all = True


class PublicCopy(Source):
    """Nothing new: makes the public copy when the graph has none (a graph loaded before
    copies existed) and bumps the version."""

    label = "public-copy"


def run(store: Store, source: Source, *, batch_size: int | None = None,
        progress: Progress | None = None, report_dir: Path | None = None) -> IngestResult:
    """Write what ``source`` brings into ``store``, with every step that follows a write
    (see the module docstring). The problem report goes to ``report_dir``.

    Raises :class:`~triedbefore.ingest.BundleUnreadable` when nothing could be read.
    """
    with _older_objects_frozen(), source.open() as bundle:
        loader = Loader(store, bundle, batch_size=batch_size, progress=progress,
                        source=source.label)
        # Done only once it is safe: on a replicated deployment, once replicas hold it.
        with store.acknowledged():
            try:
                return _run(store, source, loader, report_dir)
            finally:
                loader.close()


#: Runs in progress in this process; the objects older than the first are frozen meanwhile.
_frozen_runs = 0
_frozen_lock = threading.Lock()


@contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """Leave the objects that existed before the run out of the cyclic garbage collector's
    full collections until it ends (``gc.freeze``). A run makes containers by the million,
    so a full collection comes every 70,000 or so, and each one walked every object of the
    process (its imported modules, classes and schemas: about 90,000, none of them
    garbage): a cost per row that grew with the program, 4.3 of 32.9 CPU seconds of a
    first ingest of 100,000 initiatives. Nothing is lost: the objects are collected as
    before once the last run ends (``gc.unfreeze``), and freeing by reference count is
    unchanged."""
    global _frozen_runs
    with _frozen_lock:
        if _frozen_runs == 0:
            gc.freeze()
        _frozen_runs += 1
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen_runs -= 1
            if _frozen_runs == 0:
                gc.unfreeze()


def ingest(store: Store, path: str | Path, *, batch_size: int | None = None,
           progress: Progress | None = None, report_dir: Path | None = None,
           source: str | None = None) -> IngestResult:
    """Load a bundle (folder or .zip): :func:`run` of a :class:`BundleSource`."""
    return run(store, BundleSource(path, label=source), batch_size=batch_size,
               progress=progress, report_dir=report_dir)


def _run(store: Store, source: Source, loader: Loader,
         report_dir: Path | None) -> IngestResult:
    run_id = loader.result.run_id
    previous = store.read(queries.PREVIOUS_RUN, {"id": run_id})
    mirror = _mirror(store, previous)
    graph = _Tracked(mirror or store)
    loader.store = graph
    touched = loader.touched
    result = loader.run(then=_then(source, graph, loader), run_props=source.run_props(),
                        finish=False)
    step = ""
    try:
        step = "finishing the rows"
        source.loaded(loader)
        for ids in batched(loader.redeclared, loader.batch_size):
            graph.write(queries.DROP_SHADOWED_BY_IDS, {"ids": ids})
        step = "computing the sentence vectors"
        vectors.update(graph)
        # New or changed solutions may match any unresolved initiative; otherwise only the
        # initiatives this run wrote need a look, unless the run before stopped short of
        # resolving (killed): then the initiatives it wrote, now unchanged, need one too.
        finished = not previous or previous[0].get("resolved") is True
        everything = source.resolve_all or bool(result.written.get("solutions")) or not finished
        only = None if everything else loader.unresolved
        step = "resolving initiatives to solutions"
        if only is None or only:
            for r in resolve_solutions(graph, run_id=run_id, only=only,
                                       touched=touched.solutions):
                result.resolution[r.status] = result.resolution.get(r.status, 0) + 1
        graph.write(queries.UPSERT_RUN, {"id": run_id, "props": {"resolved": True}})
        if previous and previous[0].get("public_in_step") is not True:
            # the run before stopped short (killed): its changes may be unrecorded
            touched.everything = True
        if touched.evaluations:  # the solutions their initiatives belong to now
            touched.solutions_of(graph, queries.SOLUTIONS_OF_EVALUATIONS, touched.evaluations)
        step = "recording verdict changes"
        result.changes = record(graph, run_id, touched, brief=True)
        # Anonymous readers read a copy without restricted records.
        step = "updating the public copy"
        if mirror is not None:
            mirror.finish()
        if mirror is None or not mirror.in_step:
            store.rebuild_public_copy()
            graph.changed = True
        # The next run may write to the copy as it goes: it is in step now.
        in_step = {"id": run_id, "props": {"public_in_step": True}}
        store.write(queries.UPSERT_RUN, in_step)
        store.write_public_copy(queries.UPSERT_RUN, in_step)
        step = "moving the graph's version on"
        if graph.changed:
            _bump_version(store, run_id)
    except BaseException as exc:
        loader.failed(step, exc)
        _public_record(store, run_id, {"status": "failed", "ended_at": result.ended_at},
                       quiet=True)  # a lost store: the error raised says so
        raise
    _public_record(store, run_id, loader.completed())
    store.compact()  # the next start loads the files quickly (embedded server)
    if report_dir is not None and result.problems:
        result.report_paths = write_report(result, report_dir)
    return result


def _public_record(store: Store, run_id: str, props: dict[str, Any], *,
                   quiet: bool = False) -> None:
    """The run's end in the public copy too (anonymous readers see the runs there), when
    the copy is there and takes it: a copy out of step is rebuilt by the next run."""
    try:
        store.write_public_copy(queries.UPSERT_RUN, {"id": run_id, "props": props})
    except GraphError as exc:
        (log.debug if quiet else log.warning)(
            "run %s: the public copy did not take the run's end: %s", run_id, exc)


class _Tracked(WrappedStore):
    """The run's view of the store: notes whether any write changed the graph besides the
    run's own record."""

    def __init__(self, main: Store) -> None:
        super().__init__(main)
        self.changed = False

    def write(self, query: str, params: Params | None = None) -> tuple[list[Row], WriteSummary]:
        rows, summary = self.main.write(query, params)
        if summary.changed and query != queries.UPSERT_RUN:
            self.changed = True
        return rows, summary

    def rebuild_public_copy(self) -> None:
        self.main.rebuild_public_copy()
        self.changed = True


def _then(source: Source, graph: Store, loader: Loader) -> Callable[[], None]:
    def apply() -> None:
        source.apply(graph, loader.result, loader.touched)

    return apply


def _bump_version(store: Store, run_id: str) -> None:
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    rows, _ = store.write(queries.BUMP_GRAPH_VERSION, {"run_id": run_id, "at": at})
    store.write_public_copy(queries.SET_GRAPH_VERSION,
                            {"version": rows[0]["version"], "run_id": run_id, "at": at})


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
