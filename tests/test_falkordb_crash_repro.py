"""The FalkorDB crash reproduction (bench/falkordb_crash_repro.py): its detection of a
server that died and its reading of the crash report, on runs that cannot crash (the
crash itself would take the test's server down, and is not deterministic)."""

from __future__ import annotations

import importlib
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
repro = importlib.import_module("falkordb_crash_repro")

LOG = """\
7729:M 07 Dec 2026 14:24:10.001 * Ready to accept connections unix


=== REDIS BUG REPORT START: Cut & paste starting from here ===
7730:M 07 Dec 2026 14:24:17.592 # Redis 8.2.3 crashed by signal: 11, si_code: 1
7730:M 07 Dec 2026 14:24:17.592 # Accessing address: 0x1a74
7730:M 07 Dec 2026 14:24:17.592 # Crashed running the instruction at: 0x7f06360877ed

------ STACK TRACE ------
EIP:
falkordb.so(+0x1a877ed)[0x7f06360877ed]

7731 thread-pool-0
libc.so.6(pthread_cond_wait+0x1e8)[0x7f06376a65d8]

7734 thread-pool-thr *
libc.so.6(+0x3c050)[0x7f063765a050]
falkordb.so(GB_AxB_saxpy3_flopcount+0x6c8)[0x7f0636089388]
falkordb.so(Delta_mxm+0xf4)[0x7f06348960d4]

7735 thread-pool-thr
libc.so.6(pthread_cond_wait+0x1e8)[0x7f06376a65d8]
"""


def test_the_report_gives_the_signal_and_the_crashed_threads_stack() -> None:
    report = repro.crash_report(LOG).splitlines()
    assert report[0].endswith("crashed by signal: 11, si_code: 1")
    assert report[1].endswith("Accessing address: 0x1a74")
    assert report[2].endswith("instruction at: 0x7f06360877ed")
    stack = report[report.index("7734 thread-pool-thr *"):]
    assert stack[-1] == "falkordb.so(Delta_mxm+0xf4)[0x7f06348960d4]"
    assert len(stack) == 4  # the starred thread only, not the ones after or before it
    assert not any("pthread_cond_wait" in line for line in report)


def test_a_log_without_a_crash_report_gives_none() -> None:
    assert repro.crash_report(LOG.split("\n\n\n")[0]) == ""


def test_a_small_graph_survives_its_rounds(tmp_path: Path) -> None:
    # 100 sources: too few for a hyper hash, so the race has nothing to race on
    outcome = repro.attempt(tmp_path / "try", nodes=2000, every=20, readers=2, rounds=2,
                            grow=100)
    assert outcome.crashed_in is None
    assert outcome.rounds == 2


def test_a_server_that_dies_in_a_round_is_reported(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    servers: list[Any] = []
    real_round = repro.one_round

    def dying_round(server: Any, *args: Any) -> bool:
        servers.append(server)
        if len(servers) == 2:  # the second round: the server dies while it runs
            server.proc.send_signal(signal.SIGKILL)
        return bool(real_round(server, *args))

    monkeypatch.setattr(repro, "one_round", dying_round)
    outcome = repro.attempt(tmp_path / "try", nodes=2000, every=20, readers=2, rounds=5,
                            grow=100)
    assert outcome.crashed_in == 2
    assert servers[0].proc.poll() is not None
    assert outcome.report == ""  # killed, not crashed: the log holds no report


# -- what the store does about it ---------------------------------------------------------


def test_the_store_reads_each_relationship_type_alone_after_new_nodes(
        store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a write that created nodes, in the graph or its public copy, the store reads
    every relationship type once before it returns (the reproduction's ``--settle``,
    under which the crash did not happen); a write that created none sends nothing
    more."""
    from triedbefore.graph import queries
    from triedbefore.graph.falkor import FalkorStore
    from triedbefore.ontology.vocab import Label, Rel

    settles = [queries.SETTLE_RELS]
    assert all(f"[:{rel.value}]" in queries.SETTLE_RELS for rel in Rel)
    sent: list[tuple[str, str]] = []
    run = FalkorStore._run

    def spy(self: FalkorStore, query: str, params: Any, **kw: Any) -> Any:
        sent.append((self.uri.graph, query))
        return run(self, query, params, **kw)

    monkeypatch.setattr(FalkorStore, "_run", spy)
    site = queries.copy_nodes(Label.SITE)
    store.write(site, {"rows": [{"props": {"id": "S1"}}, {"props": {"id": "S2"}}]})
    after = [q for _, q in sent[sent.index((store.uri.graph, site)) + 1:]]
    assert after == settles  # every type, right after the write, in one statement
    sent.clear()
    store.write(site, {"rows": []})  # no node created: no reads
    assert [q for _, q in sent] == [site]
    store.rebuild_public_copy()
    sent.clear()
    _, _, copied = store.write_with_copy(site, {"rows": [{"props": {"id": "S3"}}]},
                                         {"rows": [{"props": {"id": "S3"}}]})
    assert copied
    graphs = {graph for graph, q in sent if q in settles}
    assert graphs == {store.uri.graph, store.public_copy().uri.graph}
    for graph in graphs:
        assert [q for g, q in sent if g == graph and q in settles] == settles
    sent.clear()
    store.write_public_copy(site, {"rows": [{"props": {"id": "S4"}}]})
    assert [q for _, q in sent if q in settles] == settles
