"""What people call records: the names the command line's tables show instead of ids
(which stay in the JSON answers), and whether each record is illustrative."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from triedbefore.graph import queries
from triedbefore.graph.store import Store
from triedbefore.ontology.vocab import Label

BATCH = 500  # ids per statement


@dataclass(frozen=True)
class Named:
    id: str
    name: str
    illustrative: bool = False


def named(store: Store, label: Label, ids: Iterable[str]) -> dict[str, Named]:
    """The name of each node of ``label`` with one of ``ids`` (its name, title or measure;
    its id when it has none). An id with no node is left out."""
    wanted = sorted(set(ids))
    out: dict[str, Named] = {}
    batches = ({"ids": wanted[start:start + BATCH]} for start in range(0, len(wanted), BATCH))
    for rows in store.read_each(queries.names_by_ids(label), batches):
        for row in rows:
            out[str(row["id"])] = Named(str(row["id"]), str(row["name"]),
                                        row.get("illustrative") is True)
    return out


def name_of(found: dict[str, Named], node_id: str) -> str:
    """The name, or the id when the node is not there (a dangling reference)."""
    return found[node_id].name if node_id in found else node_id
