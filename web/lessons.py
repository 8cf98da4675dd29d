"""Lessons as readers see them: grouped by NASSS domain, counted by team, helped vs got in
the way. The counts add up what the people who ran the attempts tagged: lessons with the
same domain and the same effect form one group, and the number of teams is the number of
distinct initiatives in it. Nothing is generated: every text is shown as written."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from triedbefore.graph import queries
from triedbefore.graph.analytics import COUNTED_LINKS
from triedbefore.graph.store import Store
from triedbefore.ontology.rdf import concept_labels
from triedbefore.ontology.vocab import LessonEffect, LessonKind, NasssDomain, Status


def _lesson(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "text": row["text"], "effect": row.get("effect"),
            "initiative_id": row["initiative_id"], "initiative_title": row["initiative_title"],
            "status": row.get("status"), "sites": [s for s in row.get("sites") or [] if s],
            "illustrative": bool(row.get("illustrative"))}


def summarise(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Lesson rows (``queries.SOLUTIONS_LESSONS``) as the page shows them: per NASSS
    domain (in the framework's order), the lessons that helped and those that got in the
    way, each group with its number of teams; then what teams would do differently, and
    the stopped attempts with why they stopped."""
    labels = concept_labels("NasssDomain")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    differently: list[dict[str, Any]] = []
    stopped: dict[str, dict[str, Any]] = {}
    teams: set[str] = set()
    total = 0
    seen: set[str] = set()
    for row in rows:
        if row["id"] in seen:  # one lesson, reached through two solutions
            continue
        seen.add(row["id"])
        teams.add(str(row["initiative_id"]))
        kind = row.get("kind") or LessonKind.LESSON.value
        if kind == LessonKind.WHY_STOPPED:
            stopped[str(row["initiative_id"])] = {
                "initiative_id": row["initiative_id"], "title": row["initiative_title"],
                "start_date": row.get("start_date"), "why": row["text"],
                "sites": [s for s in row.get("sites") or [] if s],
                "illustrative": bool(row.get("illustrative"))}
        elif kind == LessonKind.DO_DIFFERENTLY:
            differently.append(_lesson(row))
        else:
            total += 1
            key = (str(row.get("nasss_domain")), str(row.get("effect")))
            groups.setdefault(key, []).append(_lesson(row))
    domains = []
    for domain in NasssDomain:
        sides = []
        for effect in LessonEffect:
            items = groups.get((domain.value, effect.value), [])
            if items:
                sides.append({"effect": effect.value,
                              "teams": len({i["initiative_id"] for i in items}),
                              "lessons": items})
        if sides:
            domains.append({"domain": domain.value, "label": labels.get(domain.value,
                                                                          domain.value),
                            "teams": len({i["initiative_id"] for s in sides
                                          for i in s["lessons"]}),
                            "helped": sum(len(s["lessons"]) for s in sides
                                          if s["effect"] == LessonEffect.HELPED),
                            "hindered": sum(len(s["lessons"]) for s in sides
                                            if s["effect"] == LessonEffect.HINDERED),
                            "groups": sides})
    return {"teams": len(teams), "lessons": total, "domains": domains,
            "do_differently": differently, "stopped": list(stopped.values())}


def of_solutions(store: Store, solution_ids: list[str], *,
                 known_by: int | None = None) -> dict[str, Any]:
    """The lessons of the solutions' attempts. ``known_by`` (days since 1970-01-01): only
    those of attempts that had ended by then, as a page "as of" a past date shows what was
    knowable then (lessons are recorded after the fact; their own date is not kept)."""
    rows = store.read(queries.SOLUTIONS_LESSONS, {"ids": solution_ids,
                                                  "counted": COUNTED_LINKS})
    if known_by is not None:
        rows = [r for r in rows if r.get("end_hi") is not None and r["end_hi"] <= known_by]
    return summarise(rows)


def of_initiative(store: Store, initiative_id: str) -> dict[str, Any]:
    """An initiative's own lessons, and who contributed its record (as they chose)."""
    lessons = store.read(queries.INITIATIVE_LESSONS, {"id": initiative_id})
    credits = store.read(queries.INITIATIVE_CONTRIBUTIONS, {"id": initiative_id})
    return {"lessons": [{k: (bool(v) if k == "illustrative" else v) for k, v in r.items()}
                        for r in lessons],
            "contributions": credits}


STOPPED = Status.STOPPED.value
