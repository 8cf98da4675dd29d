"""Design once, adapt locally, in the explorer: the data of the solution page's sections
(where the evidence applies, tried in places like yours, adaptations) and of a solution's
design page (versions, attempts per version, the map of local adaptations, dropped core
components, adaptations against outcomes, positive deviants), which ``explore`` registers.
The rule and the data are ``graph/context.py``'s; docs/adaptations.md describes them.
``cache`` is the explorer's cache of whole-graph answers (``explore.cached``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, request

from triedbefore.graph import NotFound, analytics, queries
from triedbefore.graph import context as ctx
from triedbefore.web.stores import get_store

Cache = Callable[[str, Callable[[], Any]], Any]

#: The longest organisation name or code the picker takes.
SITE_MAX = 200


def site_arg() -> str | None:
    """The ``site`` parameter: an ODS code or part of an organisation's name."""
    text = (request.args.get("site") or "").strip()
    if len(text) > SITE_MAX:
        abort(400, f"parameter 'site' is longer than {SITE_MAX} characters")
    return text or None


def coverage(cached: Cache) -> dict[str, Any]:
    """How many sites hold each context value, and the values no site holds (the page says
    which are missing)."""

    def compute() -> dict[str, Any]:
        rows = get_store().read(queries.CONTEXT_COVERAGE)
        by_kind = {str(r["kind"]): {"sites": int(r["sites"]), "imd": int(r["imd"]),
                                    "rurality": int(r["rurality"]),
                                    "registered_patients": int(r["patients"])}
                   for r in rows}
        missing = [name for name, key in (("deprivation", "imd"), ("rurality", "rurality"),
                                          ("size", "registered_patients"))
                   if not any(k[key] for k in by_kind.values())]
        return {"by_kind": dict(sorted(by_kind.items())), "missing": missing}

    result: dict[str, Any] = cached("context_coverage", compute)
    return result


def solution_context(solution_id: str, as_of: str | None, cached: Cache) -> dict[str, Any]:
    """The solution page's design-once sections, for the ``site`` chosen (if any)."""
    site = site_arg()
    when = analytics.as_of_day(as_of)
    data: dict[str, Any] = dict(cached(
        f"solution_context:{solution_id}:{when}:{site}",
        lambda: ctx.summary(get_store(), solution_id, site, when=when)))
    data["coverage"] = coverage(cached)
    data["rule"] = ctx.RULE
    data["design_url"] = f"/solutions/{solution_id}/design"
    return data


def design_data(solution_id: str, cached: Cache) -> dict[str, Any]:
    """A solution's national design page."""
    store = get_store()
    found = store.read(queries.SOLUTION_NODE, {"id": solution_id})
    if not found:
        raise NotFound(f"no solution with id {solution_id!r}")
    solution = found[0]["solution"]
    data: dict[str, Any] = dict(cached(f"design:{solution_id}",
                                       lambda: ctx.design(store, solution_id)))
    data["solution"] = {"id": solution_id, "name": solution.get("name") or solution_id,
                        "illustrative": solution.get("illustrative") is True}
    return data

