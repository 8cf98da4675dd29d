"""Systematic reviews and the studies they include: the evidence matrix of a solution.

After Epistemonikos's matrix: the reviews of a solution as columns, the studies as rows,
a mark where a review includes a study (``INCLUDES``), so that a reader sees how much the
reviews overlap and which studies no review has included yet (evidence newer than the
reviews, or missed by them). Everything is as of a date: a review or study published
after it is not shown (``asof.py``).
"""

from __future__ import annotations

from typing import Any

from triedbefore.graph import NotFound, queries
from triedbefore.graph.store import Store
from triedbefore.ontology import vocab
from triedbefore.ontology.vocab import Design

COUNTED_LINKS = [how.value for how in vocab.COUNTED_LINKS]
_FIELDS = ("id", "title", "design", "level", "finding", "published_date", "published_hi",
           "independent", "illustrative")


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in _FIELDS}


def evidence_matrix(store: Store, solution_id: str, when: int) -> dict[str, Any]:
    """The reviews of a solution (columns) × the studies (rows), published by day ``when``.

    The studies are the solution's own evaluations that are not reviews, and every study a
    review includes (which may evaluate another programme than this solution's). A study
    is ``in_no_review`` when none of the reviews shown includes it, and ``after_reviews``
    when it was published after the latest of them."""
    if not store.read(queries.SOLUTION_EXISTS, {"id": solution_id}):
        raise NotFound(f"no solution with id {solution_id!r}")
    rows = store.read(queries.SOLUTION_INCLUSIONS,
                      {"id": solution_id, "counted": COUNTED_LINKS, "when": when})
    reviews = [r for r in rows if r["design"] == Design.SYSTEMATIC_REVIEW.value]
    studies: dict[str, dict[str, Any]] = {
        str(r["id"]): _summary(r) for r in rows if r["design"] != Design.SYSTEMATIC_REVIEW.value}
    included: dict[str, list[str]] = {}
    for review in reviews:
        for study in review["includes"] or []:
            if study.get("published_hi") is not None and int(study["published_hi"]) > when:
                continue
            studies.setdefault(str(study["id"]), _summary(study))
            included.setdefault(str(study["id"]), []).append(str(review["id"]))
    latest = max((int(r["published_hi"]) for r in reviews), default=None)
    out = []
    for sid, study in studies.items():
        by = included.get(sid, [])
        out.append({**study, "included_by": by, "in_no_review": not by,
                    "after_reviews": latest is not None and study["published_hi"] is not None
                    and int(study["published_hi"]) > latest})
    out.sort(key=lambda s: (s["published_hi"] or 0, s["id"]))
    columns = [{**_summary(r), "includes": len([s for s in out if r["id"] in s["included_by"]])}
               for r in reviews]
    return {"reviews": columns, "studies": out,
            "in_no_review": sum(1 for s in out if s["in_no_review"]),
            "links": sum(len(s["included_by"]) for s in out)}
