"""An ingest run keeps the objects older than it out of the garbage collector's full
collections (ingest/pipeline.py), and gives them back to it when it ends."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest import pipeline
from triedbefore.ingest.pipeline import ingest


class _Node:
    """An object that can be part of a reference cycle."""

    def __init__(self) -> None:
        self.other: object = None


def _held_by_collector(obj: object) -> bool:
    """Whether a collection of the oldest generation would walk ``obj`` (a frozen object is
    in none of the three generations)."""
    return any(o is obj for o in gc.get_objects())


def test_full_collections_during_a_run_leave_older_objects_out(
        store: FalkorStore, sample_copy: Path) -> None:
    older = [object()]  # a container the collector tracks, made before the run
    assert _held_by_collector(older)
    seen: list[tuple[bool, int]] = []

    def progress(phase: str, file: str, done: int) -> None:
        if not seen:
            seen.append((_held_by_collector(older), gc.get_freeze_count()))

    ingest(store, sample_copy, batch_size=1, progress=progress)
    assert seen, "the run reported no progress"
    walked, frozen = seen[0]
    assert not walked, "a full collection during the run walks the objects older than it"
    assert frozen > 0
    # after the run the collector has them again: nothing stays frozen
    assert gc.get_freeze_count() == 0
    assert _held_by_collector(older)


def test_garbage_older_than_a_run_is_collected_once_every_run_has_ended() -> None:
    first, second = _Node(), _Node()
    first.other, second.other = second, first  # a cycle: only the collector frees it
    gone = weakref.ref(first)
    with pipeline._older_objects_frozen():
        with pipeline._older_objects_frozen():  # another run at the same time
            del first, second
        gc.collect()
        assert gone() is not None  # frozen while a run goes on
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gone() is None
