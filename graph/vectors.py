"""Sentence vectors in the graph: kept current by the write path, searched by meaning.

Each solution, initiative and evaluation holds the vector of its text
(``dialect.VECTOR_PROPERTY``) and a hash of that text (``VECTOR_HASH``). Ingest rewrites a
new or changed row's node whole, which drops both; :func:`update`, a step of every
ingest run, embeds the nodes without one, in batches. An unchanged re-ingest rewrites
nothing, so it embeds nothing.

Searching asks the engine's vector index for the nearest nodes (:func:`nearest`). When
the model package is not installed, nothing is embedded and search is lexical only.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from triedbefore.graph import embedding, queries, settings
from triedbefore.graph.dialect import VECTOR_LABELS
from triedbefore.graph.store import Store
from triedbefore.ontology.vocab import Label

#: Nodes read, embedded and written at once.
UPDATE_BATCH = 256
#: Nodes asked of the vector index at least: FalkorDB 4.16's index, asked for the 3
#: nearest of 12 solutions, returned 1 (10: 3); asked for 50, all 12, in order.
NEAREST_ASKED = 100
_QUERY_CACHE: OrderedDict[str, list[float]] = OrderedDict()
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


def update(store: Store, batch: int = UPDATE_BATCH) -> dict[str, int]:
    """Embed every node of ``VECTOR_LABELS`` without a vector; per label, how many."""
    counts: dict[str, int] = {}
    if not enabled():
        return counts
    for label in VECTOR_LABELS:
        statement = queries.vectors_missing(label)
        setter = store.dialect.set_vectors(label)
        done: list[str] = []
        while True:
            rows = store.read(statement, {"limit": batch, "skip": done[-batch:]})
            if not rows:
                break
            texts = [text_of(label, r) for r in rows]
            vectors = embedding.embed(texts)
            store.write(setter, {"rows": [
                {"id": r["id"], "vector": [float(x) for x in v],
                 "hash": embedding.text_hash(t)}
                for r, t, v in zip(rows, texts, vectors, strict=True)]})
            done.extend(str(r["id"]) for r in rows)
            if len(rows) < batch:
                break
        if done:
            counts[label.value] = len(done)
    return counts


def query_vector(text: str) -> list[float] | None:
    """The vector of a query (remembered for the last few hundred queries), or None
    without the model."""
    if not enabled():
        return None
    found = _QUERY_CACHE.get(text)
    if found is None:
        found = [float(x) for x in embedding.embed([text])[0]]
        _QUERY_CACHE[text] = found
        while len(_QUERY_CACHE) > _QUERY_CACHE_SIZE:
            _QUERY_CACHE.popitem(last=False)
    else:
        _QUERY_CACHE.move_to_end(text)
    return found


def text_vector(text: str) -> list[float] | None:
    """The vector of a record's text (a text embedded by the ingest that wrote it is
    remembered, not computed again), or None without the model."""
    if not enabled():
        return None
    return [float(x) for x in embedding.embed([text])[0]]


def texts_vectors(texts: list[str]) -> Any:
    """Unit vectors (a numpy array, one row per text) of texts that are not nodes, such as
    each alias of a solution, or None without the model. A text embedded before in this
    process is not computed again."""
    if not enabled():
        return None
    return embedding.embed(texts)


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
