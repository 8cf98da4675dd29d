"""Hybrid retrieval: words and meaning, fused into one ranking.

Two rankings are made for each kind of record (solution, initiative, evaluation, site):

- **words**: solutions by the text matcher (names, aliases, descriptions, problems, tags;
  typos, abbreviations, synonyms), the other kinds by the engine's full-text index with
  fuzzy matching (``dialect.fuzzy_edits``: one edit for words of 5+ letters, two for 8+);
- **meaning**: the nearest records to the query's sentence vector in the engine's vector
  index (solutions, initiatives and evaluations; see ``graph/vectors.py``).

They are fused by **weighted reciprocal rank fusion**: a record's score is the sum over
the rankings it is in of ``weight / (RRF_K + rank)`` (rank 1 first; ``WORDS_WEIGHT`` 1,
times 1 + the matcher's confidence for a solution, or for another record the share of the
query's neighbouring words its name holds together (for a one-word query, whether its
name holds the word: "Sheffield" lists the initiatives named so before what the model
places near a city's name); ``MEANING_WEIGHT`` 1.5), divided by
the best possible sum (first in both; capped at 1) so that it lies in [0, 1], times the
weight of its kind (``KIND_WEIGHTS``: a solution that matches well
comes first). ``RRF_K`` = 2, not the 60 of Cormack, Clarke and Büttcher (2009): their
constant suits rankings of thousands of documents; here a kind has tens to hundreds of
candidates, and with 60 the first and the tenth place scored nearly alike, so a record
found by both rankings far down beat the one meaning ranked first. The constants were
chosen on the development split of ``bench/quality`` (paraphrase and typo queries);
the held-out split was scored once, after.

A **relevance floor** keeps noise out: a record is listed when its words match well
(``WORDS_FLOOR``: the matcher's score for a solution, the share of the query's content
words found in the record's text for the others) or its meaning is close
(``MEANING_FLOOR``, cosine of the sentence vectors), each raised to within a margin of
the best hit (:func:`floors`), except that a record at ``MEANING_SURE`` or nearer is
always listed. A query no record holds a word of lists only what is that near. The rest
are counted and listed only on request.

Within the words ranking of initiatives, evaluations, sites and lessons, a record holding
the query's words **next to each other** comes before one holding them apart
(:func:`adjacent_share`), above all in its name or title: "virtual ward" ranks "Virtual
ward pilot in a Sheffield general practice" above "Virtual reality headsets for children
on the ward" (whose description says it is no virtual ward). The full-text index's order
breaks ties. Solutions keep the matcher's ranking, which reads names and
aliases as phrases already.

A query that is a record's **id** ("RBL", a trust's ODS code; "SOL-TELE") lists that
record first, and besides it only records holding the query as a word or surely near in
meaning.

Each hit says **why it matched**: the query's words it holds (as written, or the word
the query's spelling stood for) and, when its meaning is close, "similar meaning".
"""

from __future__ import annotations

import os
import re
import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from triedbefore.graph import queries, settings, vectors
from triedbefore.graph.analytics import COUNTED_LINKS
from triedbefore.graph.dialect import VECTOR_LABELS, fuzzy_edits
from triedbefore.graph.embedding import known_word
from triedbefore.graph.fulltext import fulltext
from triedbefore.graph.matching import (
    STOPWORDS,
    SUGGEST_THRESHOLD,
    SolutionMatcher,
    edit_distance,
    stem,
)
from triedbefore.graph.resolution import solution_matcher, solution_matcher_and_names
from triedbefore.graph.store import Store
from triedbefore.ontology.vocab import Label

#: The constant of reciprocal rank fusion and the weight of each ranking (see the module
#: docstring).
RRF_K = 2
WORDS_WEIGHT = 1.0
MEANING_WEIGHT = 1.5
KIND_WEIGHTS: dict[Label, float] = {
    Label.SOLUTION: 1.0,
    Label.INITIATIVE: 0.8,
    Label.EVALUATION: 0.7,
    Label.SITE: 0.4,
    Label.LESSON: 0.6,
}
NAME_FIELD = {Label.SOLUTION: "name", Label.INITIATIVE: "title", Label.EVALUATION: "title",
              Label.SITE: "name", Label.LESSON: "text"}
#: Listed when the words match at least this well (0 to 1)…
WORDS_FLOOR = 0.5
#: … or the meaning is at least this close (cosine of the sentence vectors; unrelated
#: texts score about 0 to 0.2 with this model).
MEANING_FLOOR = 0.30
#: … and, for either, within this much of the best hit of its kind: a record holding
#: one of two words, or far less near in meaning than the best, is noise once another
#: record holds both or is much nearer (see :func:`floors`).
WORDS_MARGIN = 0.34
MEANING_MARGIN = 0.15
#: A record this near in meaning is listed however near the best one is: two solutions
#: can both be close (a second trial of the same idea under another name).
MEANING_SURE = 0.70
#: Records read from each ranking, per kind, before fusion.
POOL = 60
#: The answer's message when nothing is listed although the query has words.
NOTHING_CLOSE = ("Nothing close to this was found: it may not have been tried yet, or it "
                 "may be described in other words.")
#: … and when its words are all too common to tell records apart ("the", "of a").
ONLY_COMMON = ("Only very common words were given: add a word that says what you are "
               "looking for.")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def max_query_chars() -> int:
    return max(1, int(settings.SEARCH_MAX_QUERY_CHARS.get()))


def clean_query(text: str) -> tuple[str, bool]:
    """The query as searched: spaces collapsed, cut to ``search_max_query_chars``
    characters (at a word boundary when there is one); and whether it was cut."""
    text = " ".join(text.split())
    limit = max_query_chars()
    if len(text) <= limit:
        return text, False
    cut = text[:limit]
    if " " in cut and not text[limit].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut, True


def query_words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass
class Hit:
    kind: Label
    id: str
    name: str | None = None
    words_score: float = 0.0  # 0 to 1
    #: The matcher's, for a solution; for another record, the share of the query's
    #: neighbouring words its name holds together (``named_adjacent``), or for a one-word
    #: query whether its name holds the word (``named_words``).
    confidence: float = 0.0
    words_rank: int | None = None
    meaning: float | None = None  # cosine
    meaning_rank: int | None = None
    matched: list[str] = field(default_factory=list)
    #: The share of the query's pairs of neighbouring content words its text holds next to
    #: each other (:func:`adjacent_share`), a pair in its name counting twice one held only
    #: in its description (0 to 1).
    adjacent: float = 0.0
    #: … the same share in its name or title alone.
    named_adjacent: float = 0.0
    #: For a one-word query, whether its name or title holds the word (0 or 1).
    named_words: float = 0.0
    #: The query is this record's id ("RBL", "SOL-TELE"): it comes first.
    exact: bool = False
    score: float = 0.0
    #: The floors this hit is held to (:func:`floors`; the absolute ones until set).
    words_floor: float = WORDS_FLOOR
    meaning_floor: float = MEANING_FLOOR

    def listed(self) -> bool:
        return self.words_score >= self.words_floor or self.close()

    def close(self) -> bool:
        return self.meaning is not None and self.meaning >= min(self.meaning_floor,
                                                                 MEANING_SURE)

    def why(self) -> dict[str, Any]:
        close = self.close()
        return {"words": self.matched,
                "meaning": round(self.meaning, 4) if close and self.meaning is not None
                else None}

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value.lower(), "id": self.id, "name": self.name,
                "score": round(self.score, 4), "why": self.why(),
                "listed": self.listed()}


def floors(best_words: float, best_meaning: float | None) -> tuple[float, float]:
    """The words and meaning floors of the hits of one kind, given the best words score
    of any hit and the best cosine among the hits of that kind (a short alias lies nearer
    a short query than an initiative's paragraph can): the absolute floors
    (``WORDS_FLOOR``, ``MEANING_FLOOR``), raised to within ``WORDS_MARGIN`` and
    ``MEANING_MARGIN`` of the best. A hit is listed when it reaches either."""
    words = max(WORDS_FLOOR, best_words - WORDS_MARGIN)
    meaning = MEANING_FLOOR if best_meaning is None else \
        max(MEANING_FLOOR, best_meaning - MEANING_MARGIN)
    return words, meaning


def rrf(words_rank: int | None, meaning_rank: int | None, confidence: float = 0.0) -> float:
    """Reciprocal rank fusion of one record's ranks (1 first; None: not ranked), each
    ranking with its weight, scaled to [0, 1] by the best possible sum. ``confidence``
    (0 to 1: the matcher's, for a solution) raises the words' weight up to twofold: a
    solution the words name outright stays first."""
    return min(1.0, rrf_sum(words_rank, meaning_rank, confidence))


def rrf_sum(words_rank: int | None, meaning_rank: int | None,
            confidence: float = 0.0) -> float:
    """:func:`rrf` before the cap at 1: what orders the proposal check's closest
    solutions that both reach the cap (two the words name outright, one nearer in
    meaning than the other)."""
    words = WORDS_WEIGHT * (1.0 + confidence)
    total = sum(weight / (RRF_K + rank) for weight, rank in (
        (words, words_rank), (MEANING_WEIGHT, meaning_rank)) if rank is not None)
    return total / ((WORDS_WEIGHT + MEANING_WEIGHT) / (RRF_K + 1))


def search(store: Store, text: str, limit: int = 10, *,
           everything: bool = False) -> dict[str, Any]:
    """Hits of every kind for ``text``, best first: ``{"hits": [...], "listed": n,
    "below_floor": n, "did_you_mean": str | None, "cut": bool, "message": str | None}``
    (``listed``: the hits above the relevance floor, of which ``hits`` gives at most
    ``limit``; ``message``: why nothing is listed). ``everything`` lists the hits below
    the relevance floor too."""
    query, cut = clean_query(text)
    words = query_words(query)
    if not words or all(w in STOPWORDS for w in words):
        message = ("Type a word or two to search for." if not query else
                   "Nothing to search for: the query has no letters or digits." if not words
                   else ONLY_COMMON)
        return {"hits": [], "listed": 0, "below_floor": 0, "did_you_mean": None,
                "cut": cut, "message": message, "query": query}
    pool = max(POOL, limit)
    hits: dict[tuple[Label, str], Hit] = {}

    def hit(kind: Label, hid: str) -> Hit:
        return hits.setdefault((kind, hid), Hit(kind, hid))

    matcher, names = solution_matcher_and_names(store)  # one read of the version
    # Solutions: the matcher's ranking, or, when it finds none, the full-text index's hits
    # (a typo of a word the matcher's vocabulary lacks). The index's hits that share one
    # common word ("GP", "hospital") pushed the solutions meaning found out of the list.
    ranking = matcher.match(query, k=pool)
    ranked_solutions = [sid for sid, score in ranking if score >= SUGGEST_THRESHOLD / 2]
    matched = dict(ranking)
    # The engine's indexes are asked at once (SEARCH_FANOUT): each kind's words, then each
    # kind's meaning once the query's vectors are made here meanwhile.
    worded = {label: _fanout().submit(fulltext, store, label, query, pool)
              for label in KIND_WEIGHTS
              if not (label is Label.SOLUTION and ranked_solutions)}
    wanted = {label: vectors.query_vector(query, label) for label in VECTOR_LABELS}
    meant = {label: _fanout().submit(vectors.nearest, store, label, wanted[label], pool)
             for label in VECTOR_LABELS}
    for label in KIND_WEIGHTS:
        ids = ranked_solutions if label is Label.SOLUTION else []
        found = worded[label].result() if label in worded else []
        for f in found:
            node = f["node"]
            if str(node.get("id")) not in ids:
                ids.append(str(node.get("id")))
        for rank, hid in enumerate(ids[:pool], start=1):
            h = hit(label, hid)
            h.words_rank = rank
            h.words_score = matched.get(hid, 0.0) if label is Label.SOLUTION else 0.0
            h.confidence = h.words_score
    # Each kind is compared with the query's vector by the model of its nodes.
    near = {label: job.result() for label, job in meant.items()}
    # A solution is as near as its own initiatives only where one model embeds both:
    # the static model's cosines, put beside the transformer's, cost dev paraphrases 6 points.
    same_model = vectors.model_for(Label.INITIATIVE) is vectors.model_for(Label.SOLUTION)
    near[Label.SOLUTION] = solution_meaning(
        store, vectors.query_vector(query, Label.SOLUTION), near[Label.SOLUTION],
        near.get(Label.INITIATIVE, []) if same_model else [])[:pool]
    for label, nearest in near.items():
        for rank, (nid, cosine) in enumerate(nearest, start=1):
            h = hit(label, nid)
            h.meaning, h.meaning_rank = cosine, rank
    exact = _exact_ids(store, query)
    for label, rid in exact:
        hit(label, rid).exact = True
    _words_matched(store, query, list(hits.values()), names)
    for label, rid in exact:
        h = hit(label, rid)
        h.matched, h.words_score = [rid], 1.0
    one_word = len({w for w in words if w not in STOPWORDS}) < 2
    for label in KIND_WEIGHTS:
        if label is not Label.SOLUTION:
            group = [h for h in hits.values() if h.kind is label and h.words_rank is not None]
            _phrases_first(group)
            for h in group:  # named by the query (as a phrase): as sure as the matcher's
                h.confidence = h.named_words if one_word else h.named_adjacent
    best_words = max((h.words_score for h in hits.values()), default=0.0)
    # No record holds any of the query's words, even misspelt: the query is nothing the
    # graph speaks of (letters at random, another language). Nearness of meaning alone
    # then lists only what is surely near: the model places any text somewhere.
    unknown = not any(h.matched for h in hits.values())
    for kind in {h.kind for h in hits.values()}:
        group = [h for h in hits.values() if h.kind is kind]
        words_floor, meaning_floor = floors(
            best_words, max((h.meaning for h in group if h.meaning is not None), default=None))
        if unknown or exact:  # (an id asked for: what its meaning is near is noise)
            meaning_floor = max(meaning_floor, MEANING_SURE)
        for h in group:
            h.words_floor, h.meaning_floor = words_floor, meaning_floor
    for h in hits.values():
        h.score = 1.0 if h.exact else \
            KIND_WEIGHTS[h.kind] * rrf(h.words_rank, h.meaning_rank, h.confidence)
    ranked = sorted(hits.values(), key=lambda h: (not h.exact, -h.score, h.kind.value, h.id))
    listed = [h for h in ranked if h.listed()]
    shown = ranked if everything else listed
    suggestion = did_you_mean(store, query, matcher)
    return {"hits": [h.as_dict() for h in shown[:limit]] if limit else
            [h.as_dict() for h in shown],
            "listed": len(listed), "below_floor": len(ranked) - len(listed),
            "did_you_mean": suggestion, "cut": cut,
            "message": NOTHING_CLOSE if ranked and not listed else None, "query": query}


#: Index queries one search sends at once (its kinds' words and meaning: eight); the
#: engine answers them on its own threads. 1: one after the other.
SEARCH_FANOUT = 8
_FANOUT: dict[int, ThreadPoolExecutor] = {}
_FANOUT_LOCK = threading.Lock()


def _fanout() -> Executor:
    """The threads a search's index queries run on (one pool per process, made at first
    use); with ``SEARCH_FANOUT`` 1, none: each runs when asked."""
    if SEARCH_FANOUT <= 1:
        return _Inline()
    with _FANOUT_LOCK:
        pool = _FANOUT.get(SEARCH_FANOUT)
        if pool is None:
            pool = _FANOUT[SEARCH_FANOUT] = ThreadPoolExecutor(
                SEARCH_FANOUT, thread_name_prefix="search-index")
        return pool


def _forget_pools() -> None:
    """In a forked child (gunicorn's workers): the parent's threads are not there, so its
    pool would take work and never run it; the child makes its own at first use."""
    global _FANOUT_LOCK
    _FANOUT.clear()
    _FANOUT_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools)


class _Inline(Executor):
    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - given back by result(), as a pool does
            future.set_exception(exc)
        return future


#: The kinds of record a query may name by id (a site's is its ODS code).
ID_LABELS = (Label.SOLUTION, Label.INITIATIVE, Label.EVALUATION, Label.SITE)
_ID_LIKE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{1,63}")
#: Longer than this, a query without a digit or a separator is read as a word, not a code
#: (ODS codes have 3 to 6 characters: "RBL", "M85066").
ID_PLAIN_MAX = 6


def _exact_ids(store: Store, query: str) -> list[tuple[Label, str]]:
    """The records whose id the query is, as written or in capitals ("rbl": the trust
    RBL): a researcher or a commissioner pastes a code."""
    text = query.strip()
    if not _ID_LIKE.fullmatch(text) or (len(text) > ID_PLAIN_MAX and not any(
            c.isdigit() or c in "-_.:" for c in text)):
        return []  # a long plain word ("telehealth") is no code: four reads saved
    ids = sorted({text, text.upper()})
    return [(label, str(r["props"]["id"])) for label in ID_LABELS
            for r in store.read(queries.nodes_by_ids(label), {"ids": ids})]


def _phrases_first(group: list[Hit]) -> None:
    """The words ranking of one kind, records holding the query's words next to each
    other first, the full-text index's order among equals."""
    for rank, h in enumerate(sorted(group, key=lambda h: (-h.adjacent, h.words_rank or 0)),
                             start=1):
        h.words_rank = rank


def adjacent_share(content: list[str], fields: list[list[str]],
                   forms: dict[str, set[str]]) -> float:
    """The share of the query's pairs of neighbouring content words (``content``, in the
    query's order) that some field of a record holds next to each other, in either
    order, stopwords between them skipped (so "hospital at home" holds the pair
    hospital, home). ``fields``: each field's words; ``forms``: the words of a record
    that stand for each query word (itself, its stem's other forms, the record's
    spelling of a typo)."""
    pairs = len(content) - 1
    found: set[int] = set()
    if pairs >= 1:
        _adjacent_pairs(fields, _stands_for(content, forms), found)
    return len(found) / pairs if pairs >= 1 else 0.0


def _stands_for(content: list[str], forms: dict[str, set[str]]) -> dict[str, set[int]]:
    """Each word of a record's text that stands for a query word: the query words' places."""
    out: dict[str, set[int]] = {}
    for i, word in enumerate(content):
        for form in forms.get(word, ()):
            out.setdefault(form, set()).add(i)
    return out


_NONE: frozenset[int] = frozenset()


def _adjacent_pairs(fields: list[list[str]], stands_for: dict[str, set[int]],
                    found: set[int]) -> None:
    """Add to ``found`` each pair ``i`` (query words ``i`` and ``i + 1``) that some field
    holds next to each other, either way round, stopwords skipped."""
    for words in fields:
        before: set[int] | frozenset[int] = _NONE
        for w in words:
            if w in STOPWORDS:
                continue
            here = stands_for.get(w, _NONE)
            if here and before:
                for i in here:
                    if i + 1 in before:
                        found.add(i)
                    if i - 1 in before:
                        found.add(i - 1)
            before = here


def _words_matched(store: Store, query: str, hits: list[Hit],
                   names: dict[str, str]) -> None:
    """Fill each hit's name, the query's content words its text holds (or a word of its
    text the query's spelling stood for), and, for records other than solutions, the
    share of the query's content words found (their ``words_score``)."""
    content = [w for w in dict.fromkeys(query_words(query)) if w not in STOPWORDS] or \
        list(dict.fromkeys(query_words(query)))
    by_kind: dict[Label, list[Hit]] = {}
    hits_by_key: dict[tuple[Label, str], Hit] = {}
    for h in hits:
        by_kind.setdefault(h.kind, []).append(h)
        hits_by_key[(h.kind, h.id)] = h
    # Each record's texts: its names (name or title, aliases), and the rest; and its words.
    owned: dict[tuple[Label, str], tuple[dict[str, Any], list[str], list[str], set[str]]] = {}
    for kind, group in by_kind.items():
        texts = {str(r["id"]): r for r in store.read(queries.vector_texts(kind),
                                                     {"ids": [h.id for h in group]})}
        for h in group:
            row = texts.get(h.id, {})
            named = [str(p) for p in (row.get("name"), row.get("title"),
                                      *(row.get("aliases") or ())) if p]
            rest = [str(p) for p in (row.get("description"), row.get("text"),
                                     *(row.get("tags") or ())) if p]
            owned[(kind, h.id)] = (row, named, rest, set(query_words(" ".join(named + rest))))
    # Each query word's forms in the hits' texts, found once for all hits: itself, a word
    # of the same stem, or one within the fuzzy rule's edits (the record's spelling).
    every = set().union(*(own for *_, own in owned.values())) if owned else set()
    stems = {w: stem(w) for w in every}  # once per word, not once per query word
    masks: dict[str, int] | None = None
    forms: dict[str, list[tuple[int, str]]] = {}
    for word in content:
        root, edits = stem(word), fuzzy_edits(word)
        found = [(0 if w == word else 1, w) for w, s in stems.items()
                 if w == word or s == root]
        if edits and not found:  # a word the texts hold as written is no typo
            if masks is None:
                masks = {w: letters(w) for w in every}
            mine = letters(word)
            found += [(1 + d, w) for w, m in masks.items()
                      if abs(len(w) - len(word)) <= edits and w != word
                      and few_new_letters(mine, m, edits) and stems[w] != root
                      and (d := edit_distance(word, w, edits)) <= edits]
        forms[word] = sorted(found)
    stands_for = _stands_for(content, {word: {w for _, w in found}
                                       for word, found in forms.items()})
    pairs = len(content) - 1
    for (kind, hid), (row, named, rest, own) in owned.items():
        h = hits_by_key[(kind, hid)]
        if h.name is None:
            h.name = names.get(hid) if kind is Label.SOLUTION else \
                row.get(NAME_FIELD[kind]) or row.get("name")
        h.matched = [next(w for _, w in forms[word] if w in own) for word in content
                     if any(w in own for _, w in forms[word])]
        share = len(h.matched) / len(content) if content else 0.0
        h.words_score = max(h.words_score, share)
        if kind is Label.SOLUTION or h.words_rank is None:
            continue  # what follows orders the words ranking of the other kinds
        if len(content) == 1 and h.matched:  # a one-word query: is the word in its name?
            in_name = set(query_words(" ".join(named)))
            h.named_words = float(any(w in in_name for _, w in forms[content[0]]))
        if len(h.matched) > 1 and pairs >= 1:
            # A pair held next to each other in the record's name counts fully, one held
            # only in its description half: the name is what the record is.
            named_pairs: set[int] = set()
            _adjacent_pairs([query_words(t) for t in named], stands_for, named_pairs)
            every_pair = set(named_pairs)
            _adjacent_pairs([query_words(t) for t in rest], stands_for, every_pair)
            names_only = len(named_pairs) / pairs
            h.adjacent = (names_only + len(every_pair) / pairs) / 2
            h.named_adjacent = names_only


def letters(word: str) -> int:
    """The letters of a word as a bit set (a letter's code modulo 64: letters that share a
    bit only let more words through :func:`few_new_letters`, never fewer)."""
    mask = 0
    for c in word:
        mask |= 1 << (ord(c) & 63)
    return mask


def few_new_letters(a: int, b: int, edits: int) -> bool:
    """Whether words with the letter sets ``a`` and ``b`` may be ``edits`` edits apart:
    an edit brings at most one letter the other word lacks, each way. Checked before the
    edit distance, which costs a hundred times more, for each word of a text or of the
    vocabulary."""
    return (b & ~a).bit_count() <= edits and (a & ~b).bit_count() <= edits


@dataclass(frozen=True)
class _Parts:
    owners: tuple[str, ...]  # the solution of each row
    matrix: Any  # numpy array: one unit vector per row


_PARTS: dict[tuple[str, str], tuple[int, _Parts | None]] = {}


def solution_parts(store: Store) -> _Parts | None:
    """The vectors of each solution's texts taken one by one (its name, each alias, its
    description and its problem), made once per version of the solutions: a text that
    did not change is not embedded again. None without the model."""
    matcher = solution_matcher(store)  # rebuilt when the solutions change
    key = (store.uri.raw, store.uri.graph)
    cached = _PARTS.get(key)
    if cached is not None and cached[0] == id(matcher):
        return cached[1]
    owners: list[str] = []
    texts: list[str] = []
    for r in store.read(queries.SOLUTION_TEXTS):
        for part in vectors.solution_part_texts(r):
            owners.append(str(r["id"]))
            texts.append(part)
    matrix = vectors.texts_vectors(texts) if texts else None
    parts = None if matrix is None else _Parts(tuple(owners), matrix)
    _PARTS[key] = (id(matcher), parts)
    return parts


def solution_meaning(store: Store, vector: list[float] | None,
                     solutions: list[tuple[str, float]],
                     initiatives: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Solutions by meaning, nearest first: (id, cosine), where a solution's cosine is the
    best of its whole text's (``solutions``, from the vector index), of each of its own
    texts (:func:`solution_parts`: an alias or a description alone can be much nearer a
    short query than all of them run together), and of its own initiatives among the
    ``initiatives`` nearest the query (their descriptions say what people did, which is
    how people describe a solution)."""
    best = dict(solutions)
    parts = solution_parts(store) if vector is not None else None
    if parts is not None:
        cosines = parts.matrix @ np.asarray(vector, dtype=np.float32)
        for sid, cosine in zip(parts.owners, cosines.tolist(), strict=True):
            if cosine > best.get(sid, -1.0):
                best[sid] = cosine
    if initiatives:
        of = dict(initiatives)
        for r in store.read(queries.INITIATIVE_SOLUTIONS,
                            {"ids": list(of), "counted": COUNTED_LINKS}):
            sid, cosine = str(r["solution"]), of.get(str(r["initiative"]), -1.0)
            if cosine > best.get(sid, -1.0):
                best[sid] = cosine
    return sorted(best.items(), key=lambda p: (-p[1], p[0]))


@dataclass(frozen=True)
class _Vocabulary:
    words: frozenset[str]
    stems: frozenset[str]
    ordered: tuple[str, ...]  # sorted: the first of equally close candidates wins
    masks: tuple[int, ...] = ()  # ``letters`` of each word of ``ordered``


_VOCABULARIES: dict[tuple[str, str], tuple[int, _Vocabulary]] = {}


def _vocabulary(store: Store, matcher: SolutionMatcher | None = None) -> _Vocabulary:
    """The words (four letters or more) of the solutions' names, aliases, tags,
    descriptions and problems, with their stems; made once per version of the solutions
    (not on every search)."""
    if matcher is None:
        matcher = solution_matcher(store)  # rebuilt when the solutions change
    key = (store.uri.raw, store.uri.graph)
    cached = _VOCABULARIES.get(key)
    if cached is not None and cached[0] == id(matcher):
        return cached[1]
    words: set[str] = set()
    for r in store.read(queries.SOLUTION_TEXTS):
        for part in (r.get("name"), r.get("description"), r.get("problem"),
                     *(r.get("aliases") or ()), *(r.get("tags") or ())):
            words.update(w for w in query_words(str(part or "")) if len(w) >= 4
                         and w.isalpha())
    ordered = tuple(sorted(words))
    vocabulary = _Vocabulary(frozenset(words), frozenset(stem(w) for w in words), ordered,
                             tuple(letters(w) for w in ordered))
    _VOCABULARIES[key] = (id(matcher), vocabulary)
    return vocabulary


def did_you_mean(store: Store, query: str,
                 matcher: SolutionMatcher | None = None) -> str | None:
    """The query with each word that is not in the graph's vocabulary (the solutions'
    names, aliases, tags and descriptions) but one or two edits from a word that is
    (``fuzzy_edits``, at least one), replaced by it; None when there is no such word. A
    word the graph does not know finds weak hits at best, however many the others find.
    A real word (one of the sentence model's, :func:`~.embedding.known_word`) is never
    replaced: "delivery" is no misspelling of "deliver", nor "bell" of "well". The
    query's last word, of three letters and known to neither, may be a word cut short as
    it was typed: the shortest word of the vocabulary it begins ("hom": "home")."""
    known = _vocabulary(store, matcher)
    vocabulary, known_stems, ordered = known.words, known.stems, known.ordered
    changed = False
    out: list[str] = []
    tokens = re.split(r"(\W+)", query)
    last = max((n for n, t in enumerate(tokens) if t.isalpha()), default=-1)
    for n, token in enumerate(tokens):
        lower = token.lower()
        if n == last and len(lower) == 3 and lower.isalpha() and lower not in STOPWORDS \
                and lower not in vocabulary and not known_word(lower):
            # the query's last word cut short as it was typed ("hospital at hom")
            longer = sorted((w for w in ordered if w.startswith(lower) and len(w) <= 5),
                            key=lambda w: (len(w), w))
            if longer:
                changed = True
                out.append(longer[0])
                continue
        if not lower.isalpha() or lower in STOPWORDS or len(lower) < 4 or \
                lower in vocabulary or stem(lower) in known_stems or known_word(lower):
            out.append(token)
            continue
        limit = max(1, fuzzy_edits(lower))
        mine = letters(lower)
        best: tuple[int, str] | None = None
        for candidate, mask in zip(ordered, known.masks, strict=True):
            if abs(len(candidate) - len(lower)) > limit or \
                    not few_new_letters(mine, mask, limit):
                continue
            d = edit_distance(lower, candidate, limit)
            if d <= limit and (best is None or d < best[0]):
                best = (d, candidate)
        if best is None:
            out.append(token)
            continue
        changed = True
        out.append(best[1])
    if not changed:
        return None
    suggestion = "".join(out)
    return suggestion if suggestion.lower() != query.lower() else None


__all__ = ["KIND_WEIGHTS", "MEANING_FLOOR", "MEANING_MARGIN", "RRF_K", "WORDS_FLOOR",
           "WORDS_MARGIN", "clean_query", "did_you_mean", "floors", "rrf", "rrf_sum", "search",
           "solution_meaning", "solution_parts"]
