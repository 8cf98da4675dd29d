"""Writes on FalkorDB: to the graph and its public copy (``FalkorStore.write_with_copy``),
the two graphs take it at once and the call returns only once both have answered; a
write refused for its memory is sent once more."""

from __future__ import annotations

import logging

import pytest
import redis

from triedbefore.graph import QueryError
from triedbefore.graph.embedded import EmbeddedServer
from triedbefore.graph.falkor import MEMORY_REFUSED, FalkorStore

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


def test_a_write_refused_for_its_memory_is_sent_once_more(
        own_server: tuple[EmbeddedServer, FalkorStore],
        caplog: pytest.LogCaptureFixture) -> None:
    """FalkorDB counts its vector index's work against the write that adds vectors (at
    1,000,000 initiatives some 250-vector writes were refused, and taken when sent
    again): a write refused for its memory is sent a second time, once; a read is not."""
    server, store = own_server
    with redis.Redis(unix_socket_path=str(server.socket_path)) as client:
        client.execute_command("GRAPH.CONFIG", "SET", "QUERY_MEM_CAPACITY", 1 << 20)
    big = "UNWIND range(1, 300000) AS x CREATE (:Site {id: toString(x)})"
    with caplog.at_level(logging.WARNING, logger="triedbefore.graph.falkor"):
        with pytest.raises(QueryError, match=MEMORY_REFUSED):
            store.write(big)
    again = [r for r in caplog.records if "sending it once more" in r.getMessage()]
    assert len(again) == 1  # once, then the refusal is the caller's
    assert store.read("MATCH (s:Site) RETURN count(s) AS n") == [{"n": 0}]  # undone
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="triedbefore.graph.falkor"):
        with pytest.raises(QueryError, match=MEMORY_REFUSED):
            store.read("UNWIND range(1, 300000) AS x RETURN collect(toString(x)) AS c")
    assert not [r for r in caplog.records if "sending it once more" in r.getMessage()]
    # many refusals are counted, not logged one by one (1,000,000 initiatives: 469)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="triedbefore.graph.falkor"):
        for _ in range(10):
            with pytest.raises(QueryError, match=MEMORY_REFUSED):
                store.write(big)
    said = [r.getMessage() for r in caplog.records if "once more" in r.getMessage()]
    assert len(said) == 1 and "(11 writes refused so far)" not in said[0]
    assert "(10 writes refused so far)" in said[0]

