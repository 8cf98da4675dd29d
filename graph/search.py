"""Search and the proposal check.

Search ranks solutions by the text matcher (names, aliases, descriptions,
problems, tags; typos, abbreviations and a health-service synonym table) and
initiatives, evaluations and sites by the engine's full-text index. Scores are
on one scale: the matcher's confidence for solutions; for the other kinds the
full-text score relative to the best hit of that kind, times the kind's weight
(``KIND_WEIGHTS``), so a solution that matches well comes first.

The proposal check answers the commissioner: which solutions the proposal is,
what the evidence says about each now, whether funding it would be a zombie
repeat, and which evaluations to read first.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from triedbefore.graph import analytics, asof
from triedbefore.graph.dialect import fulltext_terms
from triedbefore.graph.matching import AUTO_LINK_THRESHOLD, STOPWORDS, SUGGEST_THRESHOLD
from triedbefore.graph.resolution import solution_matcher, solution_names
from triedbefore.graph.rules import DOES_NOT_WORK, iso, verdict_of
from triedbefore.graph.store import Store
from triedbefore.ontology.vocab import Label

KIND_WEIGHTS: dict[Label, float] = {
    Label.INITIATIVE: 0.8,
    Label.EVALUATION: 0.7,
    Label.SITE: 0.4,
}
NAME_FIELD = {Label.INITIATIVE: "title", Label.EVALUATION: "title", Label.SITE: "name"}
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_QUERY_WORDS = 32


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())[:MAX_QUERY_WORDS]


def fulltext(store: Store, label: Label, text: str, limit: int) -> list[dict[str, Any]]:
    """The best ``limit`` nodes of ``label`` for ``text``, in passes that stop once
    ``limit`` are found: nodes with every word; then with every word that is not a stop
    word ("for", "at", "does"); then with any word that is not a stop word. (The engine's
    cost grows with the number of nodes that match, and one stop word alone matches half
    of a large graph.)"""
    query = words(text)
    if not fulltext_terms(store.dialect, query):
        return []
    content = [w for w in query if w not in STOPWORDS] or query
    passes: list[str] = []
    for some, every in ((query, True), (content, True), (content, False)):
        if every and len(set(some)) < 2:
            continue
        terms = fulltext_terms(store.dialect, some, every)
        if terms and terms not in passes:
            passes.append(terms)
    statement = store.dialect.fulltext_query(label)
    found: dict[Any, dict[str, Any]] = {}
    for terms in passes:
        for r in store.read(statement, {"q": terms, "limit": limit}):
            found.setdefault(r["node"].get("id"), {"node": r["node"],
                                                    "score": float(r["score"])})
        if len(found) >= limit:
            break
    return list(found.values())[:limit]


def search(store: Store, text: str, limit: int = 10) -> list[dict[str, Any]]:
    """Ranked hits of every kind: ``{"kind", "id", "name", "score"}``."""
    if not text.strip():
        return []
    hits: list[dict[str, Any]] = []
    matcher = solution_matcher(store)
    names = solution_names(store)
    for sid, score in matcher.match(text, k=limit):
        if score >= SUGGEST_THRESHOLD / 2:
            hits.append({"kind": "solution", "id": sid, "name": names.get(sid, sid),
                         "score": round(score, 4)})
    for label, weight in KIND_WEIGHTS.items():
        found = fulltext(store, label, text, limit)
        if not found:
            continue
        top = max(f["score"] for f in found) or 1.0
        for f in found:
            node = f["node"]
            hits.append({"kind": label.value.lower(), "id": node.get("id"),
                         "name": node.get(NAME_FIELD[label]),
                         "score": round(weight * f["score"] / top * _best(hits), 4)})
    hits.sort(key=lambda h: (-h["score"], h["kind"], str(h["id"])))
    return hits[:limit]


def _best(hits: list[dict[str, Any]]) -> float:
    """Scale for full-text hits: below the best solution match when there is one."""
    best = max((h["score"] for h in hits if h["kind"] == "solution"), default=0.0)
    return best if best > 0 else 1.0


def _cites(text: str, ref: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(ref)}(?![\w-])", text, re.IGNORECASE) is not None


def check(store: Store, text: str, as_of: str | date | None = None,
          limit: int = 5) -> dict[str, Any]:
    """The proposal check: closest solutions with their verdicts, zombie risk, what to read
    first, and the closest past initiatives."""
    when = analytics.as_of_day(as_of)
    matcher = solution_matcher(store)
    matches: list[dict[str, Any]] = []
    read_first: list[str] = []
    risk = False
    for sid, score in matcher.match(text, k=limit):
        if score < SUGGEST_THRESHOLD:
            continue
        evidence = analytics.solution_evidence(store, sid)
        v = verdict_of(evidence, when)
        matches.append({"solution_id": sid, "score": round(score, 4), "verdict": v.verdict,
                        "strength": v.strength, "explanation": v.explanation,
                        "evaluations": list(v.evaluations)})
        if score >= AUTO_LINK_THRESHOLD and v.verdict == DOES_NOT_WORK:
            # Citing the evidence (an evaluation or an initiative it evaluated) makes the
            # proposal an informed re-try, as for initiatives (semantics.md, condition 3).
            known = [e for e in evidence if e.published_hi <= when]
            cited = {e.id for e in known} | set().union(*(e.initiatives for e in known))
            risk = risk or not any(_cites(text, ref) for ref in cited)
        for eid in list(v.evaluations) + list(v.shown):
            if eid not in read_first:
                read_first.append(eid)
    # only initiatives started by the date (asof): a few more are read for those cut
    initiatives = [{"initiative_id": f["node"].get("id"), "title": f["node"].get("title"),
                    "start_date": f["node"].get("start_date"), "score": round(f["score"], 4)}
                   for f in fulltext(store, Label.INITIATIVE, text, limit * 4)
                   if asof.started_by(f["node"].get("start_date_lo"), when)][:limit]
    return {"matches": matches, "zombie_risk": risk, "read_first": read_first[:limit],
            "initiatives": initiatives, "as_of": iso(when)}
