"""Explorer pages. One function builds each page's data; the HTML template and the
``.json`` twin both render it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, render_template, request

from triedbefore.graph import queries
from triedbefore.web.app import get_store
from triedbefore.web.cli import graph_stats

bp = Blueprint("explore", __name__)


def _render(template: str, data: dict[str, Any], as_json: bool) -> Any:
    if as_json:
        return jsonify({"ok": True, **data})
    return render_template(template, **data)


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, f"parameter {name!r} must be a whole number")
    if not lo <= value <= hi:
        abort(400, f"parameter {name!r} must be between {lo} and {hi}")
    return value


def home_data() -> dict[str, Any]:
    stats = graph_stats(get_store())
    return {"counts": stats["nodes"], "latest_runs": stats["latest_runs"]}


def solutions_data() -> dict[str, Any]:
    limit = current_app.config["PAGE_SIZE"]
    page = _int_arg("page", 1, 1, 1_000_000)
    rows = get_store().read(queries.SOLUTIONS_PAGE, {"offset": (page - 1) * limit,
                                                     "limit": limit + 1})
    return {"solutions": rows[:limit], "page": page, "next_page": page + 1 if len(rows) > limit
            else None}


def solution_data(solution_id: str) -> dict[str, Any]:
    rows = get_store().read(queries.SOLUTION_DETAIL, {"id": solution_id})
    if not rows:
        abort(404, f"no solution with id {solution_id!r}")
    row = rows[0]
    solution = {k: v for k, v in row["solution"].items()
                if k not in ("row_hash", "aliases_text", "tags_text")}
    initiatives = sorted(row["initiatives"] or [],
                         key=lambda i: (i.get("start_date") or "", i["id"]))
    for initiative in initiatives:
        initiative["sites"] = sorted(initiative.get("sites") or [])
    evaluations = sorted({e["id"]: e for e in row["evaluations"] or []}.values(),
                         key=lambda e: (e.get("published_date") or "", e["id"]))
    return {"solution": solution, "initiatives": initiatives, "evaluations": evaluations}


def _page(path: str, endpoint: str, template: str,
          build: Callable[..., dict[str, Any]]) -> None:
    def html(**kwargs: Any) -> Any:
        return _render(template, build(**kwargs), False)

    def as_json(**kwargs: Any) -> Any:
        return _render(template, build(**kwargs), True)

    bp.add_url_rule(path, endpoint, html)
    bp.add_url_rule(path.rstrip("/") + ".json" if path != "/" else "/index.json",
                    endpoint + "_json", as_json)


_page("/", "home", "home.html", home_data)
_page("/solutions", "solutions", "solutions.html", solutions_data)
_page("/solutions/<solution_id>", "solution", "solution.html", solution_data)
