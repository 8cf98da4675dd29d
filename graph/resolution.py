"""Solution resolution: initiatives loaded without ``solution_id`` get a solution.

Each such initiative's title and description are matched against every
solution's name, aliases and description (``matching.py``). At or above the
automatic threshold, with a clear margin over the runner-up, the link is made
and marked ``inferred`` with its score; otherwise, above the suggestion
threshold, it is a ``suggested`` link that counts for nothing until a curator
accepts it. A curator's ``accepted`` or ``rejected`` decision is an
``IMPLEMENTS`` relationship with that ``how``; ingest only ever replaces
``declared`` links, so decisions survive re-ingestion, and a rejected solution is
never proposed again for that initiative.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from triedbefore.graph import BadArgument, NotFound, queries, settings, vectors
from triedbefore.graph.analytics import COUNTED_LINKS
from triedbefore.graph.matching import (
    SUGGEST_THRESHOLD,
    SolutionMatcher,
    SolutionText,
    resolve_decision,
)
from triedbefore.graph.store import Store
from triedbefore.ontology import vocab
from triedbefore.ontology.vocab import Label, LinkHow

PAGE = 5000
DECISIONS: tuple[str, ...] = tuple(how.value for how in vocab.DECISIONS)
#: Where resolution leaves an initiative loaded without a declared solution.
STATUSES: tuple[str, ...] = (LinkHow.INFERRED.value, LinkHow.SUGGESTED.value, "unresolved",
                             LinkHow.ACCEPTED.value, LinkHow.REJECTED.value)

_MATCHERS: dict[tuple[str, str], tuple[tuple[Any, ...], SolutionMatcher, dict[str, str]]] = {}


def _matcher_entry(store: Store) -> tuple[tuple[Any, ...], SolutionMatcher, dict[str, str]]:
    row = store.read(queries.SOLUTIONS_VERSION)
    version = tuple(row[0].values()) if row else ()
    key = (store.uri.raw, store.uri.graph)
    cached = _MATCHERS.get(key)
    if cached is not None and cached[0] == version:
        return cached
    texts = [SolutionText(
        id=str(r["id"]), name=str(r["name"]), aliases=tuple(r.get("aliases") or ()),
        description=r.get("description") or "", problem=r.get("problem") or "",
        tags=tuple(r.get("tags") or ())) for r in store.read(queries.SOLUTION_TEXTS)]
    entry = (version, SolutionMatcher(texts), {t.id: t.name for t in texts})
    _MATCHERS[key] = entry
    return entry


def solution_matcher(store: Store) -> SolutionMatcher:
    """The matcher over the store's solutions, rebuilt only when the solutions change."""
    return _matcher_entry(store)[1]


PARALLEL_FROM = 2000  # texts: fewer are matched in this process
_FORKED: list[SolutionMatcher] = []  # the matcher forked workers inherit


def _match_forked(text: str, k: int) -> list[tuple[str, float]]:
    return _FORKED[0].match(text, k=k)


def match_workers() -> int:
    configured = int(settings.MATCH_WORKERS.get() or 0)
    return configured if configured > 0 else (os.cpu_count() or 1)


def match_all(matcher: SolutionMatcher,
              jobs: list[tuple[str, int]]) -> list[list[tuple[str, float]]]:
    """``matcher.match(text, k)`` for each (text, k), in order. Many texts are shared out
    to forked processes (the matcher is pure Python and CPU-bound; a fork inherits it
    without copying); few, or where fork is unavailable, are matched here."""
    workers = min(match_workers(), len(jobs) // (PARALLEL_FROM // 2) or 1)
    if workers < 2 or len(jobs) < PARALLEL_FROM or \
            "fork" not in multiprocessing.get_all_start_methods():
        return [matcher.match(text, k=k) for text, k in jobs]
    _FORKED[:] = [matcher]
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.starmap(_match_forked, jobs, chunksize=250)
    finally:
        _FORKED.clear()


@dataclass(frozen=True)
class Resolution:
    initiative_id: str
    solution_id: str | None
    score: float | None
    status: str  # inferred | suggested | accepted | rejected | unresolved

    def to_dict(self) -> dict[str, Any]:
        return {"initiative_id": self.initiative_id, "solution_id": self.solution_id,
                "score": self.score, "status": self.status}


def _row_pages(store: Store, only: AbstractSet[str] | None = None
               ) -> Iterator[list[dict[str, Any]]]:
    """Initiatives without a declared solution (or those of ``only``), in id order, a page
    at a time: only their ids are held all at once."""
    if only is not None:
        ids = sorted(only)
        statement = queries.UNRESOLVED_BY_IDS
    else:
        # set by ingest from the row's solution_id (counting every initiative's declared
        # links instead takes minutes at a million initiatives)
        ids = sorted(str(r["id"]) for r in store.read(queries.UNRESOLVED_IDS))
        statement = queries.UNRESOLVED_PAGE
    for start in range(0, len(ids), PAGE):
        rows = store.read(statement, {"ids": ids[start:start + PAGE]})
        if rows:
            yield sorted(rows, key=lambda r: str(r["id"]))


def _pages(store: Store, only: AbstractSet[str] | None = None) -> Iterator[dict[str, Any]]:
    for page in _row_pages(store, only):
        yield from page


def resolve(store: Store, *, run_id: str | None = None, only: AbstractSet[str] | None = None,
            touched: set[str] | None = None) -> list[Resolution]:
    """Propose or link a solution for every initiative without a declared one (or only
    for the ids in ``only``). Returns the state of each, curator decisions included.
    ``touched`` receives the solutions that gained or lost an inferred initiative."""
    run_id = run_id or "resolve-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    store.write(queries.DROP_SHADOWED_LINKS)
    matcher = solution_matcher(store)
    out: list[Resolution] = []
    by_meaning = _by_meaning(store) if vectors.enabled() else None
    for rows in _row_pages(store, only):
        changes = _resolve_page(matcher, rows, out, touched, by_meaning)
        if changes:
            store.write(queries.SET_RESOLUTION, {"rows": changes, "run_id": run_id})
    return out


#: An initiative whose words match no solution is proposed to a curator (never linked)
#: for the solution nearest its meaning when the cosine of their sentence vectors is at
#: least this, and this much above the runner-up's; its score is the cosine times the
#: suggestion threshold, so it ranks below every match by words.
MEANING_SUGGEST = 0.6
MEANING_MARGIN = 0.05


def _by_meaning(store: Store) -> Callable[[str, set[str]], tuple[str, float] | None]:
    def nearest(text: str, rejected: set[str]) -> tuple[str, float] | None:
        near = [(sid, c) for sid, c in vectors.nearest(
            store, Label.SOLUTION, vectors.text_vector(text), 5) if sid not in rejected]
        if not near or near[0][1] < MEANING_SUGGEST or (
                len(near) > 1 and near[0][1] - near[1][1] < MEANING_MARGIN):
            return None
        return near[0][0], SUGGEST_THRESHOLD * near[0][1]

    return nearest


def _resolve_page(matcher: SolutionMatcher, rows: list[dict[str, Any]],
                  out: list[Resolution], touched: set[str] | None,
                  by_meaning: Callable[[str, set[str]], tuple[str, float] | None] | None = None
                  ) -> list[dict[str, Any]]:
    """Resolve one page of initiatives: their states go to ``out``; returns the links to
    write."""
    changes: list[dict[str, Any]] = []
    open_rows = [r for r in rows if not any(
        link and link.get("how") == "accepted" for link in r["links"] or [])]
    matches = iter(match_all(matcher, [
        (_initiative_text(r), 5 + sum(1 for link in r["links"] or []
                                      if link and link.get("how") in DECISIONS))
        for r in open_rows]))
    for row in rows:
        iid = str(row["id"])
        links = [link for link in row["links"] or [] if link]
        decided = [link for link in links if link.get("how") in DECISIONS]
        accepted = [link for link in decided if link["how"] == "accepted"]
        if accepted:
            out.extend(Resolution(iid, str(a["solution_id"]), a.get("score"), "accepted")
                       for a in accepted)
            continue
        rejected = {str(link["solution_id"]) for link in decided}
        out.extend(Resolution(iid, s, None, "rejected") for s in sorted(rejected))
        candidates = [(sid, score) for sid, score in next(matches) if sid not in rejected]
        decision = resolve_decision(candidates)
        if decision is None and by_meaning is not None:
            near = by_meaning(vectors.text_of(Label.INITIATIVE, row), rejected)
            decision = (near[0], near[1], "suggested") if near else None
        current = [(str(link["solution_id"]), link.get("how"), link.get("score"))
                   for link in links if link.get("how") in ("inferred", "suggested")]
        if decision is None:
            out.append(Resolution(iid, None, None, "unresolved"))
            wanted: list[tuple[str, Any, Any]] = []
        else:
            sid, score, how = decision
            score = round(score, 4)
            out.append(Resolution(iid, sid, score, how))
            wanted = [(sid, how, score)]
        if current != wanted:
            if touched is not None:
                touched.update(c[0] for c in current + wanted if c[1] == "inferred")
            changes.append({"id": iid, "solutions": [w[0] for w in wanted],
                            "how": wanted[0][1] if wanted else None,
                            "score": wanted[0][2] if wanted else None})
    return changes


@dataclass(frozen=True)
class Proposal:
    """The current resolution state of one initiative's link, as last written: what
    :func:`resolve` reports, read without writing anything."""

    initiative_id: str
    title: str
    solution_id: str | None
    solution_name: str | None
    score: float | None
    status: str  # inferred | suggested | accepted | rejected | unresolved
    #: The initiative's title and description, as the matcher reads them.
    text: str = field(default="", repr=False, compare=False)
    #: Solutions a curator rejected for this initiative (never proposed again).
    rejected: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"initiative_id": self.initiative_id, "title": self.title,
                "solution_id": self.solution_id, "solution_name": self.solution_name,
                "score": self.score, "status": self.status}


def solution_names(store: Store) -> dict[str, str]:
    """Solution id → name (cached with the matcher)."""
    return _matcher_entry(store)[2]


def solution_matcher_and_names(store: Store) -> tuple[SolutionMatcher, dict[str, str]]:
    """:func:`solution_matcher` and :func:`solution_names` from one look at the
    solutions' version (a read of the store each)."""
    _version, matcher, names = _matcher_entry(store)
    return matcher, names


def _initiative_text(row: dict[str, Any]) -> str:
    # A full stop keeps the title's last word and the description's first apart.
    return ". ".join(str(t) for t in (row.get("title"), row.get("description")) if t)


def proposals(store: Store, *, only: AbstractSet[str] | None = None) -> list[Proposal]:
    """The resolution state of every initiative without a declared solution (or only of
    those in ``only``) as the links in the store record it: the rows :func:`resolve`
    returns (ordered by initiative id), but nothing is written and nothing is matched
    again. An initiative whose only links are rejections is ``unresolved`` (besides its
    ``rejected`` rows)."""
    names = solution_names(store)
    out: list[Proposal] = []
    for row in _pages(store, only):
        iid, title, text = str(row["id"]), str(row.get("title") or ""), _initiative_text(row)
        links = sorted((link for link in row["links"] or [] if link),
                       key=lambda link: str(link["solution_id"]))
        accepted = [link for link in links if link.get("how") == "accepted"]
        rejected = [link for link in links if link.get("how") == "rejected"]
        current = [link for link in links if link.get("how") in ("inferred", "suggested")]
        rejected_ids = tuple(str(link["solution_id"]) for link in rejected)
        shown: list[tuple[dict[str, Any] | None, str]]
        if accepted:
            shown = [(link, "accepted") for link in accepted]
        else:
            shown = [(link, "rejected") for link in rejected]
            shown += [(link, str(link["how"])) for link in current] or [(None, "unresolved")]
        for link, status in shown:
            sid = None if link is None else str(link["solution_id"])
            score = None if link is None or status == "rejected" else link.get("score")
            out.append(Proposal(iid, title, sid, names.get(sid) if sid else None,
                                None if score is None else float(score), status, text,
                                () if accepted else rejected_ids))
    out.sort(key=lambda p: p.initiative_id)  # stable: each initiative's rows keep order
    return out


def candidates(store: Store, text: str, *, exclude: Iterable[str] = (),
               k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` solutions that best match ``text``, leaving out ``exclude`` (rejected
    ones), as (solution id, score), best first. Reads only."""
    skip = set(exclude)
    matcher = solution_matcher(store)
    return [(sid, score) for sid, score in matcher.match(text, k=k + len(skip))
            if sid not in skip][:k]


def check_decision(store: Store, initiative_id: str, solution_id: str, decision: str) -> None:
    """Raise :class:`BadArgument` or :class:`NotFound` unless the decision can be made."""
    if decision not in DECISIONS:
        raise BadArgument(f"decision must be one of: {', '.join(DECISIONS)}")
    if not store.read(queries.INITIATIVE_EXISTS, {"id": initiative_id}):
        raise NotFound(f"no initiative with id {initiative_id!r}")
    if not store.read(queries.SOLUTION_EXISTS, {"id": solution_id}):
        raise NotFound(f"no solution with id {solution_id!r}")


def apply_decision(store: Store, initiative_id: str, solution_id: str, decision: str, *,
                   who: str, run_id: str, touched: set[str]) -> Resolution:
    """Write a curator's decision (``accepted`` or ``rejected``) on a link; ``touched``
    receives the solutions whose attempts it may change. The ingest entry point calls this
    inside a run (``triedbefore.ingest.curation.decide``, which has made
    :func:`check_decision` before the run), and keeps the public copy and the graph version
    in step."""
    at = datetime.now(UTC).isoformat(timespec="seconds")
    touched.update(str(r["id"]) for r in store.read(
        queries.SOLUTIONS_OF_INITIATIVES, {"ids": [initiative_id], "counted": COUNTED_LINKS}))
    touched.add(solution_id)
    store.write(queries.DECIDE_LINK, {"initiative_id": initiative_id,
                                      "solution_id": solution_id, "how": decision,
                                      "who": who, "at": at, "run_id": run_id})
    if decision == LinkHow.ACCEPTED:
        store.write(queries.DROP_OTHER_PROPOSALS, {"initiative_id": initiative_id,
                                                   "solution_id": solution_id})
    return Resolution(initiative_id, solution_id, None, decision)
