"""Sentence vectors in the graph: kept current by the write path, searched by meaning.

Each solution, initiative and evaluation holds the vector of its text
(``dialect.VECTOR_PROPERTY``) and a hash of that text (``VECTOR_HASH``). Ingest rewrites a
new or changed row's node whole, which drops both; :func:`update`, a step of every
ingest run, embeds the nodes without one, in batches. An unchanged re-ingest rewrites
nothing, so it embeds nothing.

Two models fill them (``settings.SEARCH_MODEL``, :func:`model_for`): the transformer
(:mod:`graph.embedding`) and the static model distilled from it
(:mod:`graph.static_embedding`, a table look-up: fast enough for the bulk rows at
ingest). A query is embedded by the model of the label it is compared with (two
vectors at most; the static one costs well under a millisecond). A node's hash names its
model, so a changed setting re-embeds the nodes whose model changed.

Searching asks the engine's vector index for the nearest nodes (:func:`nearest`). When
the model package is not installed, nothing is embedded and search is lexical only.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from types import ModuleType
from typing import Any

import numpy as np

from triedbefore.graph import embedding, queries, settings, static_embedding
from triedbefore.graph.dialect import VECTOR_LABELS, VECTOR_SCALE, VECTOR_WRITE_BATCH
from triedbefore.graph.store import Store
from triedbefore.ontology.vocab import Label

#: Nodes read, embedded and written at once: by the transformer (whose cost per row
#: dwarfs the read's), by the static model (reading them is the cost: fewer, larger reads).
UPDATE_BATCH = 256
STATIC_UPDATE_BATCH = 2000
#: The labels each ``search_model`` setting embeds with the static model.
STATIC_LABELS: dict[str, frozenset[Label]] = {
    "transformer": frozenset(),
    "mixed": frozenset({Label.INITIATIVE, Label.EVALUATION}),
    "static": frozenset(VECTOR_LABELS),
}
#: Nodes asked of the vector index at least: FalkorDB 4.16's index, asked for the 3
#: nearest of 12 solutions, returned 1 (10: 3); asked for 50, all 12, in order.
NEAREST_ASKED = 100
_QUERY_CACHE: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
_QUERY_CACHE_LOCK = threading.Lock()


def _new_lock_after_fork() -> None:
    global _QUERY_CACHE_LOCK  # (a thread of the parent may have held it at the fork)
    _QUERY_CACHE_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_after_fork)
_QUERY_CACHE_SIZE = 512


def text_of(label: Label, row: dict[str, Any]) -> str:
    """The text a node's vector is made from: what it is called and what it is."""
    if label is Label.SOLUTION:
        parts = [row.get("name"), *(row.get("aliases") or ()), row.get("description"),
                 row.get("problem"), *(row.get("tags") or ())]
    else:
        parts = [row.get("title") or row.get("name"), row.get("description")]
    return ". ".join(str(p).strip() for p in parts if p and str(p).strip())


def enabled() -> bool:
    return settings.SEARCH_VECTORS.get().strip().lower() not in ("no", "false", "0", "off") \
        and embedding.available()


def model_for(label: Label) -> ModuleType:
    """The model that embeds ``label``'s nodes (and the queries compared with them)."""
    choice = settings.SEARCH_MODEL.get().strip().lower()
    if choice not in STATIC_LABELS:
        raise ValueError(f"{settings.SEARCH_MODEL.env} must be one of "
                         f"{', '.join(STATIC_LABELS)}, not {choice!r}")
    return static_embedding if label in STATIC_LABELS[choice] else embedding


def update(store: Store, batch: int | None = None) -> dict[str, int]:
    """Embed every node of ``VECTOR_LABELS`` without a vector of its label's model; per
    label, how many."""
    counts: dict[str, int] = {}
    if not enabled():
        return counts
    for label in VECTOR_LABELS:
        model = model_for(label)
        static = model is static_embedding
        size = batch or (STATIC_UPDATE_BATCH if static else UPDATE_BATCH)
        # The ids first, in one pass (a pass per batch cost quadratic time), then the texts
        # of a batch at a time by id.
        missing = [r["id"] for r in store.read(queries.vectors_missing_ids(label),
                                               {"static": static})]
        statement = queries.vectors_missing(label)
        setter = store.dialect.set_vectors(label)
        done = 0
        for at in range(0, len(missing), size):
            rows = store.read(statement, {"ids": missing[at:at + size], "static": static})
            if not rows:
                continue
            texts = [text_of(label, r) for r in rows]
            if static:
                made = model.embed(texts)
            else:  # records' texts, kept on disk; a solution's parts too (search's warm-up)
                made = embedding.embed(texts, keep=True)
                if label is Label.SOLUTION:
                    embedding.embed([t for r in rows for t in solution_part_texts(r)],
                                    keep=True)
            vectors = np.rint(made * VECTOR_SCALE).astype(np.int64).tolist()
            written = [{"id": r["id"], "vector": v, "hash": model.text_hash(t)}
                       for r, t, v in zip(rows, texts, vectors, strict=True)]
            for start in range(0, len(written), VECTOR_WRITE_BATCH):  # short statements
                store.write(setter, {"rows": written[start:start + VECTOR_WRITE_BATCH]})
            done += len(rows)
        if done:
            counts[label.value] = done
    return counts


def query_vector(text: str, label: Label = Label.SOLUTION) -> list[float] | None:
    """The vector of a query to compare with ``label``'s nodes (remembered for the last
    few hundred queries), or None without the model."""
    if not enabled():
        return None
    model = model_for(label)
    key = (model.MODEL_NAME, text)
    with _QUERY_CACHE_LOCK:  # (searches run in threads: the explorer's and a search's own)
        found = _QUERY_CACHE.get(key)
        if found is not None:
            _QUERY_CACHE.move_to_end(key)
            return found
    found = [float(x) for x in model.embed([text])[0]]
    with _QUERY_CACHE_LOCK:
        _QUERY_CACHE[key] = found
        while len(_QUERY_CACHE) > _QUERY_CACHE_SIZE:
            _QUERY_CACHE.popitem(last=False)
    return found


def text_vector(text: str, label: Label = Label.SOLUTION) -> list[float] | None:
    """The vector of a record's text to compare with ``label``'s nodes (a text embedded by
    the ingest that wrote it is remembered, not computed again), or None without the
    model."""
    if not enabled():
        return None
    return [float(x) for x in model_for(label).embed([text])[0]]


def texts_vectors(texts: list[str]) -> Any:
    """Unit vectors (a numpy array, one row per text) of texts that are not nodes, such as
    each alias of a solution, or None without the model. A text embedded before in this
    process is not computed again."""
    if not enabled():
        return None
    model = model_for(Label.SOLUTION)
    return model.embed(texts) if model is static_embedding else embedding.embed(texts, keep=True)


def solution_part_texts(row: dict[str, Any]) -> list[str]:
    """A solution's texts taken one by one (its name, each alias, its description, its
    problem): search compares a query with each (``hybrid.solution_parts``)."""
    return [str(p).strip() for p in (row.get("name"), *(row.get("aliases") or ()),
                                     row.get("description"), row.get("problem"))
            if p and str(p).strip()]


def nearest(store: Store, label: Label, vector: list[float] | None,
            k: int) -> list[tuple[str, float]]:
    """The ``k`` nodes of ``label`` nearest ``vector`` by meaning: (id, cosine), nearest
    first. Empty without a vector, or on a graph without vectors yet."""
    if vector is None or k <= 0:
        return []
    rows = store.read(store.dialect.vector_query(label),
                      {"v": vector, "k": max(k, NEAREST_ASKED)})
    out = [(str(r["id"]), float(r["similarity"])) for r in rows if r["id"] is not None]
    out.sort(key=lambda p: -p[1])
    return out[:k]
