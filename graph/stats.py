"""What is in a graph: nodes per label, relationships per kind, and the latest runs."""

from __future__ import annotations

from typing import Any

from triedbefore.graph import queries
from triedbefore.graph.store import Store
from triedbefore.ontology.vocab import Label, Link

#: Labels of the store's own bookkeeping, not counted as contents.
BOOKKEEPING: frozenset[Label] = frozenset({Label.GRAPH_VERSION})


def graph_stats(store: Store) -> dict[str, Any]:
    """``{"store", "engine", "nodes": {label: n}, "relationships": {"From-TYPE->To": n},
    "latest_runs": [...]}`` (the five latest runs, newest first)."""
    nodes = {label.value: int(store.read(queries.count_nodes(label))[0]["n"])
             for label in Label if label not in BOOKKEEPING}
    links = {link.value: int(store.read(queries.count_links(link))[0]["n"]) for link in Link}
    runs = [r["run"] for r in store.read(queries.LATEST_RUNS, {"limit": 5})]
    return {"store": store.uri.display, "engine": store.engine, "nodes": nodes,
            "relationships": links, "latest_runs": runs}
