"""Explorer blueprint: the API description.

``/openapi.json`` serves the OpenAPI 3.1 description of every JSON twin and CSV download
of the explorer's pages, the graph view, the query console and curation (generated from
the app's routes and their response models by :func:`triedbefore.web.openapi.document`);
``/api`` lists the same endpoints for people, with example links on the sample bundle's
ids.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, current_app, jsonify, render_template

from triedbefore.web.openapi import EXAMPLES, document

bp = Blueprint("apidocs", __name__)


#: Query parameters whose examples make an endpoint's link show something.
LINKED_PARAMETERS = ("node", "q", "measure")


def _parameters(spec: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in operation.get("parameters", []):
        if "$ref" in p:
            p = spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
        out.append(p)
    return out


def _example_url(spec: dict[str, Any], path: str, operation: dict[str, Any]) -> str | None:
    """``path`` with its path parameters filled in from the sample bundle's ids and the
    main query parameter's example, or None when a path parameter has no example."""
    url = path
    for name, value in EXAMPLES.items():
        url = url.replace("{" + name + "}", quote(value, safe=""))
    if "{" in url:
        return None
    query = {p["name"]: p["example"] for p in _parameters(spec, operation)
             if p["in"] == "query" and p["name"] in LINKED_PARAMETERS and "example" in p}
    return url + ("?" + urlencode(query) if query else "")


def _endpoints(spec: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            rows.append({
                "method": method.upper(), "path": path, "summary": operation["summary"],
                "description": operation.get("description", ""), "tag": operation["tags"][0],
                "params": [p["name"] for p in _parameters(spec, operation)
                           if p["in"] == "query"],
                "secured": {"cookieAuth": []} in operation.get("security", []),
                "optional": {} in operation.get("security", []),
                "url": _example_url(spec, path, operation) if method == "get" else None,
                "statuses": sorted(operation["responses"]),
            })
    return rows


@bp.route("/openapi.json")
def openapi() -> Any:
    return jsonify(document(current_app))


@bp.route("/api")
def api() -> Any:
    spec = document(current_app)
    tags = [(t["name"], t["description"]) for t in spec["tags"]]
    return render_template("api.html", info=spec["info"], tags=tags, endpoints=_endpoints(spec))
