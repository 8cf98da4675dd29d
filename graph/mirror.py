"""Keeping the public copy in step with an ingest, without copying the whole graph.

An ingest writes through :class:`MirroringStore`: each write runs on the graph and then on
its public copy. Every statement an ingest runs finds its records by id, so on the copy
it does the same to the visible records and nothing to the restricted ones, which are
not there. Three things need more than the same statement:

- node upserts: rows whose visibility is hidden are deleted from the copy instead (a
  record that becomes restricted leaves it);
- a record that was restricted and becomes visible is copied whole at the end, with the
  links that other records hold to it (:meth:`MirroringStore.finish`);
- rows of other writes that make records with a hidden visibility (verdict changes that
  rest on restricted evidence) are left out;
- the ingest runs' row counts, the rows' digests and the solutions' verdicts on all
  evidence (restricted included) stay out of the copy, as in a full rebuild.

If a write to the copy fails, mirroring stops and the copy is rebuilt in full instead
(:attr:`MirroringStore.in_step` is False). The result is the same graph a full rebuild
gives: ``tests/test_mirror.py`` compares the two after runs that add, change, hide and
reveal records.
"""

from __future__ import annotations

from typing import Any

from triedbefore.graph import GraphError, queries
from triedbefore.graph.dialect import (
    VECTOR_HASH,
    VECTOR_LABELS,
    VECTOR_PROPERTY,
    VECTOR_SCALE,
)
from triedbefore.graph.store import (
    COPY_BATCH,
    HIDDEN_FROM_PUBLIC,
    NOT_COPIED,
    PRIVATE_LABELS,
    Params,
    Row,
    Store,
    WrappedStore,
    WriteSummary,
)
from triedbefore.ontology.vocab import Label, Link

_UPSERTS: dict[str, Label] = {queries.upsert_nodes(label): label for label in Label}
_CREATES: dict[str, Label] = {queries.create_nodes(label): label for label in Label}
#: Creates that write the rows' digests too: the copy gets the nodes without them.
_CREATES_HASHED: dict[str, Label] = {queries.create_nodes_hashed(label): label
                                     for label in Label}
#: Row digests are the graph's bookkeeping for the next ingest: not in the copy.
_ROW_HASHES = frozenset(queries.set_row_hashes(label) for label in Label)


def _without_hidden(params: Params | None) -> Params | None:
    """``params`` without the rows that make records anonymous readers may not see (rows
    whose ``props`` carry a hidden visibility, such as verdict changes that rest on
    restricted evidence)."""
    rows = params.get("rows") if params is not None else None
    if params is None or not isinstance(rows, list):
        return params
    kept = [r for r in rows if not (isinstance(r, dict) and isinstance(r.get("props"), dict)
                                    and r["props"].get("visibility") in HIDDEN_FROM_PUBLIC)]
    return params if len(kept) == len(rows) else {**params, "rows": kept}


class MirroringStore(WrappedStore):
    """A store whose writes also go to its public copy (reads go to the graph only)."""

    def __init__(self, main: Store) -> None:
        super().__init__(main)
        self.in_step = True
        #: Records that were in the graph, restricted, and are now visible: copied whole.
        self.revealed: dict[Label, set[str]] = {}
        #: Labels without a node when the run started (none of their rows can be revealed).
        self.empty_at_start = {label for label in Label
                               if not main.read(queries.any_node(label))}

    # -- writes ------------------------------------------------------------------------

    def write(self, query: str, params: Params | None = None) -> tuple[list[Row], WriteSummary]:
        if not self.in_step:
            return self.main.write(query, params)
        label = _UPSERTS.get(query) or _CREATES.get(query) or _CREATES_HASHED.get(query)
        if label is not None and params is not None:
            return self._upsert(label, query, params)
        if query in _ROW_HASHES or query == queries.SET_RECORDED_VERDICTS:
            return self.main.write(query, params)  # not in the copy (NOT_COPIED)
        if query == queries.UPSERT_RUN and params is not None:
            copy: Params | None = {**params, "props": {
                k: v for k, v in params["props"].items() if k not in NOT_COPIED}}
        else:
            copy = _without_hidden(params)
        rows, summary, copied = self.main.write_with_copy(query, params, copy)
        self.in_step = copied  # else the copy is rebuilt in full after the run
        return rows, summary

    def _upsert(self, label: Label, query: str, params: Params
                ) -> tuple[list[Row], WriteSummary]:
        """Upsert nodes in the graph; in the copy, upsert the visible ones and delete the
        hidden ones. Note the records revealed: in the graph before, not in the copy."""
        ids = [r["id"] for r in params["rows"]]
        in_main: set[str] = set()
        in_copy: set[str] = set()
        # rows new to the graph: nothing to reveal or delete
        created = query in _CREATES or query in _CREATES_HASHED
        if not created and label not in self.empty_at_start:  # else none was there before
            statement = queries.existing_ids(label)
            in_main = {str(r["id"]) for r in self.main.read(statement, {"ids": ids})}
            if in_main:
                in_copy = {str(r["id"]) for r in self.main.public_copy().read(
                    statement, {"ids": sorted(in_main)})}
        shown: list[dict[str, Any]] = []
        hidden: list[str] = []
        for row in params["rows"]:
            if row["props"].get("visibility") in HIDDEN_FROM_PUBLIC:
                hidden.append(row["id"])
            else:
                shown.append(row)
                if row["id"] in in_main and row["id"] not in in_copy:
                    self.revealed.setdefault(label, set()).add(row["id"])
        if query in _CREATES_HASHED:  # the digests are not copied (NOT_COPIED)
            shown = [{k: v for k, v in row.items() if k != "hash"} for row in shown]
            copy: Params | None = {**params, "rows": shown} if shown else None
        else:
            copy = params if not hidden else ({**params, "rows": shown} if shown else None)
        rows, summary, copied = self.main.write_with_copy(query, params, copy)
        if copied and hidden and not created:
            try:
                self.main.write_public_copy(queries.delete_nodes_by_ids(label), {"ids": hidden})
            except GraphError:
                copied = False
        self.in_step = copied
        return rows, summary

    def finish(self) -> None:
        """Copy the revealed records whole (their properties and every link to or from a
        visible record). Runs after the ingest's last write."""
        if not self.in_step or not self.revealed:
            return
        hide = {"hidden": list(HIDDEN_FROM_PUBLIC)}
        try:
            for label, found in self.revealed.items():
                ids = sorted(found)
                for start in range(0, len(ids), COPY_BATCH):
                    chunk = ids[start:start + COPY_BATCH]
                    rows = [{"props": {k: v for k, v in r["props"].items()
                                       if k not in NOT_COPIED}}
                            for r in self.main.read(queries.nodes_by_ids(label), {"ids": chunk})]
                    self.main.write_public_copy(queries.replace_nodes(label), {"rows": rows})
                    vectors = [{"id": r["props"]["id"],
                                "vector": [round(float(x) * VECTOR_SCALE)
                                           for x in r["props"][VECTOR_PROPERTY]],
                                "hash": r["props"].get(VECTOR_HASH)} for r in rows
                               if r["props"].get(VECTOR_PROPERTY) is not None]
                    if label in VECTOR_LABELS and vectors:  # copied as lists: vectors again
                        self.main.write_public_copy(self.main.dialect.set_vectors(label),
                                                    {"rows": vectors})
            for link in Link:
                if link.source in PRIVATE_LABELS or link.target in PRIVATE_LABELS:
                    continue
                for end, statement in ((link.source, queries.visible_links_from(link)),
                                       (link.target, queries.visible_links_to(link))):
                    ids = sorted(self.revealed.get(end, ()))
                    for start in range(0, len(ids), COPY_BATCH):
                        rows = self.main.read(statement,
                                              {"ids": ids[start:start + COPY_BATCH], **hide})
                        if rows:
                            self.main.write_public_copy(queries.merge_links(link),
                                                        {"rows": rows})
        except GraphError:
            self.in_step = False

    # -- everything else is the graph's (WrappedStore) -------------------------------------

    def rebuild_public_copy(self) -> None:
        self.main.rebuild_public_copy()
        self.in_step = True
        self.revealed = {}
