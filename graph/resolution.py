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

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from triedbefore.graph import queries
from triedbefore.graph.analytics import NotFound
from triedbefore.graph.matching import SolutionMatcher, SolutionText, resolve_decision
from triedbefore.graph.store import Store

PAGE = 5000
DECISIONS = ("accepted", "rejected")

_MATCHERS: dict[tuple[str, str], tuple[tuple[Any, ...], SolutionMatcher]] = {}


def solution_matcher(store: Store) -> SolutionMatcher:
    """The matcher over the store's solutions, rebuilt only when the solutions change."""
    row = store.read(queries.SOLUTIONS_VERSION)
    version = tuple(row[0].values()) if row else ()
    key = (store.uri.raw, store.uri.graph)
    cached = _MATCHERS.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    texts = [SolutionText(
        id=str(r["id"]), name=str(r["name"]), aliases=tuple(r.get("aliases") or ()),
        description=r.get("description") or "", problem=r.get("problem") or "",
        tags=tuple(r.get("tags") or ())) for r in store.read(queries.SOLUTION_TEXTS)]
    matcher = SolutionMatcher(texts)
    _MATCHERS[key] = (version, matcher)
    return matcher


@dataclass(frozen=True)
class Resolution:
    initiative_id: str
    solution_id: str | None
    score: float | None
    status: str  # inferred | suggested | accepted | rejected | unresolved

    def to_dict(self) -> dict[str, Any]:
        return {"initiative_id": self.initiative_id, "solution_id": self.solution_id,
                "score": self.score, "status": self.status}


def _pages(store: Store, only: set[str] | None = None) -> Iterable[dict[str, Any]]:
    """Initiatives without a declared solution, a window of ids at a time."""
    if only is not None:
        ids = sorted(only)
        for start in range(0, len(ids), PAGE):
            yield from store.read(queries.UNRESOLVED_BY_IDS, {"ids": ids[start:start + PAGE]})
        return
    after = ""
    while True:
        ids = [str(r["id"]) for r in store.read(queries.INITIATIVE_IDS_PAGE,
                                                 {"after": after, "limit": PAGE})]
        if not ids:
            return
        yield from store.read(queries.UNRESOLVED_PAGE, {"after": after, "limit": PAGE})
        if len(ids) < PAGE:
            return
        after = ids[-1]


def resolve(store: Store, *, run_id: str | None = None,
            only: set[str] | None = None) -> list[Resolution]:
    """Propose or link a solution for every initiative without a declared one (or only
    for the ids in ``only``). Returns the state of each, curator decisions included."""
    run_id = run_id or "resolve-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    store.write(queries.DROP_SHADOWED_LINKS)
    matcher = solution_matcher(store)
    out: list[Resolution] = []
    changes: list[dict[str, Any]] = []
    for row in _pages(store, only):
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
        # A full stop keeps the title's last word and the description's first apart.
        text = ". ".join(str(t) for t in (row.get("title"), row.get("description")) if t)
        candidates = [(sid, score) for sid, score in matcher.match(text, k=5 + len(rejected))
                      if sid not in rejected]
        decision = resolve_decision(candidates)
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
            changes.append({"id": iid, "solutions": [w[0] for w in wanted],
                            "how": wanted[0][1] if wanted else None,
                            "score": wanted[0][2] if wanted else None})
    for start in range(0, len(changes), PAGE):
        store.write(queries.SET_RESOLUTION, {"rows": changes[start:start + PAGE],
                                             "run_id": run_id})
    return out


def decide(store: Store, initiative_id: str, solution_id: str, decision: str, *,
           who: str = "curator") -> Resolution:
    """Record a curator's decision (``accepted`` or ``rejected``) on a link."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
    if not store.read(queries.INITIATIVE_EXISTS, {"id": initiative_id}):
        raise NotFound(f"no initiative with id {initiative_id!r}")
    if not store.read(queries.SOLUTION_EXISTS, {"id": solution_id}):
        raise NotFound(f"no solution with id {solution_id!r}")
    at = datetime.now(UTC).isoformat(timespec="seconds")
    store.write(queries.DECIDE_LINK, {"initiative_id": initiative_id,
                                      "solution_id": solution_id, "how": decision,
                                      "who": who, "at": at, "run_id": f"curation-{at}"})
    if decision == "accepted":
        store.write(queries.DROP_OTHER_PROPOSALS, {"initiative_id": initiative_id,
                                                   "solution_id": solution_id})
    return Resolution(initiative_id, solution_id, None, decision)
