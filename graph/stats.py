"""What is in a graph: nodes per label, relationships per kind, and the latest runs."""

from __future__ import annotations

from typing import Any

from triedbefore.graph import queries
from triedbefore.graph.store import Store
from triedbefore.ontology.vocab import Label, Link

#: Labels of the store's own bookkeeping, not counted as contents.
BOOKKEEPING: frozenset[Label] = frozenset({Label.GRAPH_VERSION})

#: The labels of what a bundle loads: a graph without any of them has nothing to answer.
CONTENTS: tuple[Label, ...] = (Label.SITE, Label.SOLUTION, Label.INITIATIVE, Label.OUTCOME,
                               Label.EVALUATION)

#: What every command says on such a graph.
NOTHING_LOADED = "nothing loaded yet, try `triedbefore demo`"


def _count(store: Store, statement: str) -> int:
    # A graph that was never written answers no row at all, not a count of 0.
    rows = store.read(statement)
    return int(rows[0]["n"]) if rows else 0


def graph_stats(store: Store) -> dict[str, Any]:
    """``{"store", "engine", "nodes": {label: n}, "relationships": {"From-TYPE->To": n},
    "latest_runs": [...]}`` (the five latest runs, newest first)."""
    nodes = {label.value: _count(store, queries.count_nodes(label))
             for label in Label if label not in BOOKKEEPING}
    links = {link.value: _count(store, queries.count_links(link)) for link in Link}
    runs = [r["run"] for r in store.read(queries.LATEST_RUNS, {"limit": 5})]
    return {"store": store.uri.display, "engine": store.engine, "nodes": nodes,
            "relationships": links, "latest_runs": runs}


def nothing_loaded(store: Store) -> bool:
    """Whether no site, solution, initiative, outcome or evaluation was ever loaded."""
    return not any(store.read(queries.any_node(label)) for label in CONTENTS)
