"""The engine's full-text index, searched in passes (search, the proposal check's
places and initiatives, hybrid retrieval's words)."""

from __future__ import annotations

import re
from typing import Any

from triedbefore.graph.dialect import fulltext_terms
from triedbefore.graph.matching import STOPWORDS
from triedbefore.graph.store import Store
from triedbefore.ontology.vocab import Label

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_QUERY_WORDS = 32


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())[:MAX_QUERY_WORDS]


def fulltext(store: Store, label: Label, text: str, limit: int) -> list[dict[str, Any]]:
    """The best ``limit`` nodes of ``label`` for ``text``, in passes that stop once
    ``limit`` are found: nodes with every word; then with every word that is not a stop
    word ("for", "at", "does"); then with any word that is not a stop word. (The engine's
    cost grows with the number of nodes that match, and one stop word alone matches half
    of a large graph.) The every-word passes go in one round trip."""
    query = words(text)
    if not fulltext_terms(store.dialect, query):
        return []
    content = [w for w in query if w not in STOPWORDS] or query
    passes: list[str] = []
    every_word: list[str] = []  # the passes that need every word
    for some, every in ((query, True), (content, True), (content, False)):
        if every and len(set(some)) < 2:
            continue
        terms = fulltext_terms(store.dialect, some, every)
        if terms and terms not in passes:
            passes.append(terms)
            if every:
                every_word.append(terms)
    statements = store.dialect.fulltext_passes(label)
    found: dict[Any, dict[str, Any]] = {}
    # The every-word passes in one round trip (each is cheap: few nodes hold every word;
    # a round trip was most of a pass's time), then, if they found too few, the
    # any-word pass.
    for group in (every_word, passes[len(every_word):]):
        if not group or len(found) >= limit:
            continue
        rows = store.read(statements[len(group) - 1],
                          {"limit": limit, **{f"q{i}": t for i, t in enumerate(group)}})
        rows.sort(key=lambda r: int(r["pass"]))  # stable: a pass's own order is kept
        for r in rows:
            found.setdefault(r["node"].get("id"), {"node": r["node"],
                                                    "score": float(r["score"])})
    return list(found.values())[:limit]


__all__ = ["MAX_QUERY_WORDS", "fulltext", "words"]
