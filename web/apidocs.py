"""Explorer blueprint: the API description.

``/openapi.json`` serves the OpenAPI 3.1 description of every JSON twin, CSV download and
curation endpoint (:data:`triedbefore.web.openapi.SPEC`, built once at import); ``/api``
lists the same endpoints for people, with example links.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template

from triedbefore.web.openapi import EXAMPLES, SPEC

bp = Blueprint("apidocs", __name__)


def _example_url(path: str) -> str | None:
    """``path`` with its path parameters filled in from the sample bundle's ids, or None
    when a parameter has no example."""
    url = path
    for name, value in EXAMPLES.items():
        url = url.replace("{" + name + "}", value)
    return None if "{" in url else url


def _endpoints() -> list[dict[str, Any]]:
    rows = []
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            names = []
            for p in operation.get("parameters", []):
                target = p
                if "$ref" in p:
                    target = SPEC["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
                if target["in"] == "query":
                    names.append(target["name"])
            rows.append({
                "method": method.upper(), "path": path, "summary": operation["summary"],
                "description": operation.get("description", ""), "tag": operation["tags"][0],
                "params": names, "secured": bool(operation.get("security")),
                "url": _example_url(path) if method == "get" else None,
                "statuses": sorted(operation["responses"]),
            })
    return rows


@bp.route("/openapi.json")
def openapi() -> Any:
    return jsonify(SPEC)


@bp.route("/api")
def api() -> Any:
    tags = [(t["name"], t["description"]) for t in SPEC["tags"]]
    return render_template("api.html", info=SPEC["info"], tags=tags, endpoints=_endpoints())
