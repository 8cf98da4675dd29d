"""A write to the graph and its public copy (``FalkorStore.write_with_copy``): the two
graphs take it at once, and the call returns only once both have answered."""

from __future__ import annotations

import pytest

from triedbefore.graph import QueryError
from triedbefore.graph.falkor import FalkorStore

WRITE = "UNWIND $rows AS r CREATE (:Site {id: r.id, share: 10 / r.parts})"
COUNT = "MATCH (s:Site) WHERE s.id STARTS WITH 'copied-' RETURN count(s) AS n"


def _count(store: FalkorStore) -> int:
    return int(store.read(COUNT)[0]["n"])


def test_both_graphs_take_the_write(store: FalkorStore) -> None:
    params = {"rows": [{"id": f"copied-{i}", "parts": 2} for i in range(50)]}
    _, summary, copied = store.write_with_copy(WRITE, params, params)
    assert copied and summary.nodes_created == 50
    assert _count(store) == 50 and _count(store.public_copy()) == 50


def test_a_failed_write_leaves_no_copy_write_running(store: FalkorStore) -> None:
    """The graph's write fails (a division by zero); the copy's, under way at the same
    time, has finished when the error is raised: nothing writes after the call."""
    bad = {"rows": [{"id": "copied-bad", "parts": 0}]}
    good = {"rows": [{"id": f"copied-{i}", "parts": 1} for i in range(2000)]}
    with pytest.raises(QueryError):
        store.write_with_copy(WRITE, bad, good)
    assert _count(store.public_copy()) == 2000
    assert _count(store) == 0


def test_a_copy_that_refuses_the_write_is_reported_out_of_step(store: FalkorStore) -> None:
    params = {"rows": [{"id": "copied-0", "parts": 1}]}
    refused = {"rows": [{"id": "copied-0", "parts": 0}]}
    _, summary, copied = store.write_with_copy(WRITE, params, refused)
    assert summary.nodes_created == 1 and not copied
    assert _count(store) == 1 and _count(store.public_copy()) == 0
