"""The graph view and the front end's vendored libraries.

``/graph?node=<kind>:<id>`` shows one node's neighbourhood (one hop). The page lists the
neighbours grouped by relationship, as links, so it is complete without JavaScript and
by keyboard; ``static/js/graph.js`` draws the same neighbourhood with cytoscape from the
JSON twin ``/graph.json?node=…``. The form on the page sends ``kind`` and ``id``, which
are accepted in place of ``node``.

``/vendor/<file>`` serves an allow-list of files of pinned npm packages (nothing comes
from a CDN). ``vendor.json`` is the allow-list: per package, its licence file and the
served files; the build reads it too. An installed package carries the files, licences and
versions in ``vendor/<package>/`` (copied in at build time, see ``setup.py``); a source
checkout serves them from its ``node_modules`` (``npm ci``). ``app.config["NODE_MODULES"]``,
when set, names another folder laid out like ``node_modules``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, abort, current_app, request, send_from_directory, url_for

from triedbefore.graph import BadArgument, NotFound, queries
from triedbefore.ontology.vocab import Label, Rel
from triedbefore.web import schemas
from triedbefore.web.pages import register_page
from triedbefore.web.stores import get_store

bp = Blueprint("graphview", __name__)

# --------------------------------------------------------------------------- #
# Vendored front-end libraries
# --------------------------------------------------------------------------- #

_HERE = Path(__file__).resolve().parent
#: Per npm package: ``licence`` (its licence file) and ``files`` (the files served).
VENDOR_MANIFEST: dict[str, dict[str, Any]] = json.loads(
    (_HERE / "vendor.json").read_text("utf-8"))
#: The only files ``/vendor/`` serves, as ``<package>/<path in the package>``.
VENDOR_FILES = frozenset(f"{package}/{file}" for package, entry in VENDOR_MANIFEST.items()
                         for file in entry["files"])
#: The installed package's copy, made at build time (absent in a source checkout).
PACKAGED_VENDOR = _HERE / "vendor"
#: A source checkout's npm packages, served when there is no packaged copy.
SOURCE_NODE_MODULES = _HERE.parent / "node_modules"
#: With ``?v=<package version>`` the URL changes with every upgrade: cache for a year.
LONG_CACHE = 365 * 24 * 3600
SHORT_CACHE = 24 * 3600


@functools.cache
def _package_version(node_modules: str, package: str) -> str | None:
    try:
        data = json.loads((Path(node_modules) / package / "package.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, str) else None


def vendor_root() -> str:
    """The folder the vendored files are served from: ``NODE_MODULES`` when configured,
    else the installed package's copy, else the source checkout's ``node_modules``."""
    configured = current_app.config.get("NODE_MODULES")
    if configured:
        return str(configured)
    return str(PACKAGED_VENDOR if PACKAGED_VENDOR.is_dir() else SOURCE_NODE_MODULES)


def _version_of(filename: str) -> str | None:
    return _package_version(vendor_root(), filename.split("/", 1)[0])


@bp.app_template_global()
def vendor_url(filename: str) -> str:
    """URL of a vendored file, versioned so that it can be cached for long."""
    if filename not in VENDOR_FILES:
        raise ValueError(f"{filename} is not a vendored file")
    version = _version_of(filename)
    if version is None:
        return url_for("graphview.vendor", filename=filename)
    return url_for("graphview.vendor", filename=filename, v=version)


@bp.route("/vendor/<path:filename>")
def vendor(filename: str) -> Any:
    if filename not in VENDOR_FILES:
        abort(404, "no such file")
    version = _version_of(filename)
    pinned = version is not None and request.args.get("v") == version
    response = send_from_directory(vendor_root(), filename,
                                   max_age=LONG_CACHE if pinned else SHORT_CACHE)
    response.cache_control.public = True
    if pinned:
        response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --------------------------------------------------------------------------- #
# The graph view
# --------------------------------------------------------------------------- #

#: Node kinds in ``node=<kind>:<id>``, with their labels and explorer detail pages.
KINDS: dict[str, Label] = {
    "solution": Label.SOLUTION,
    "initiative": Label.INITIATIVE,
    "evaluation": Label.EVALUATION,
    "site": Label.SITE,
    "outcome": Label.OUTCOME,
}
KIND_OF: dict[str, str] = {label.value: kind for kind, label in KINDS.items()}
DETAIL_PAGES: dict[str, str] = {"solution": "solutions", "initiative": "initiatives",
                                "evaluation": "evaluations", "site": "sites"}
#: Most neighbours shown (config ``GRAPH_NEIGHBOUR_LIMIT``).
NEIGHBOUR_LIMIT = 200
MAX_ID_LENGTH = 200

#: Headings for the lists: (relationship, direction seen from the centre) → text.
REL_TITLES: dict[tuple[str, str], str] = {
    (Rel.IMPLEMENTS.value, "out"): "Implements",
    (Rel.IMPLEMENTS.value, "in"): "Implemented by",
    (Rel.TRIED_AT.value, "out"): "Tried at",
    (Rel.TRIED_AT.value, "in"): "Initiatives tried here",
    (Rel.PART_OF.value, "out"): "Part of",
    (Rel.PART_OF.value, "in"): "Contains",
    (Rel.LEARNED_FROM.value, "out"): "Learned from",
    (Rel.LEARNED_FROM.value, "in"): "Cited as prior work by",
    (Rel.HAS_OUTCOME.value, "out"): "Outcomes",
    (Rel.HAS_OUTCOME.value, "in"): "Outcome of",
    (Rel.EVALUATED.value, "out"): "Evaluated",
    (Rel.EVALUATED.value, "in"): "Evaluated by",
    (Rel.REPORTS.value, "out"): "Reports",
    (Rel.REPORTS.value, "in"): "Reported by",
    (Rel.INCLUDES.value, "out"): "Includes (studies of this review)",
    (Rel.INCLUDES.value, "in"): "Included in reviews",
}


def parse_node(raw: str) -> tuple[str, str]:
    """``<kind>:<id>`` → (kind, id); BadArgument if malformed."""
    kind, sep, node_id = raw.partition(":")
    if not sep or kind not in KINDS:
        raise BadArgument(f"parameter 'node' must look like <kind>:<id> with kind one of "
                          f"{', '.join(KINDS)}")
    _check_id(node_id)
    return kind, node_id


def _check_id(node_id: str) -> None:
    if not node_id or len(node_id) > MAX_ID_LENGTH or not node_id.isprintable():
        raise BadArgument(f"the node id must be 1 to {MAX_ID_LENGTH} printable characters")


def _requested_node() -> tuple[str, str] | None:
    raw = request.args.get("node", "").strip()
    if raw:
        return parse_node(raw)
    kind = request.args.get("kind", "").strip()
    node_id = request.args.get("id", "").strip()
    if not kind and not node_id:
        return None
    if kind not in KINDS:
        raise BadArgument(f"parameter 'kind' must be one of {', '.join(KINDS)}")
    _check_id(node_id)
    return kind, node_id


def _hidden_visibility() -> list[str]:
    """Restricted records are for users with the role that may see them (the public copy
    ``get_store`` gives everyone else holds none; this filter is a second guard)."""
    from triedbefore.web.stores import may_see_restricted

    return [] if may_see_restricted() else ["restricted"]


def _detail_url(kind: str, node_id: str) -> str | None:
    page = DETAIL_PAGES.get(kind)
    if page is None:
        return None
    return f"{request.script_root}/{page}/{quote(node_id, safe='')}"


def _node(kind: str, node_id: str, name: Any) -> dict[str, Any]:
    return {"id": f"{kind}:{node_id}", "kind": kind, "label": str(name or node_id),
            "url": _detail_url(kind, node_id)}


def graph_data() -> dict[str, Any]:
    """The requested node and its neighbours: ``nodes`` (the centre first) and ``edges``
    (source → target as stored). Without a node the page shows only its form; the JSON
    and CSV twins answer 400."""
    requested = _requested_node()
    if requested is None:
        if request.path.endswith((".json", ".csv")):
            raise BadArgument("parameter 'node' is required (node=<kind>:<id>)")
        return {"center": None, "nodes": [], "edges": [], "capped": False,
                "limit": None, "total": 0, "kinds": list(KINDS)}
    kind, node_id = requested
    label = KINDS[kind]
    limit = int(current_app.config.get("GRAPH_NEIGHBOUR_LIMIT", NEIGHBOUR_LIMIT))
    hidden = _hidden_visibility()
    store = get_store()
    rows = store.read(queries.neighbourhood(label),
                      {"id": node_id, "hidden": hidden, "limit": limit + 1})
    if not rows:
        raise NotFound(f"no {kind} with id {node_id!r}")
    center = _node(kind, node_id, rows[0]["center_name"])
    rows = [r for r in rows if r["neighbour_label"] is not None]
    capped = len(rows) > limit
    rows = rows[:limit]
    total = len(rows)
    if capped:
        counted = store.read(queries.neighbourhood_size(label),
                             {"id": node_id, "hidden": hidden})
        total = int(counted[0]["n"]) if counted else total
    nodes: dict[str, dict[str, Any]] = {center["id"]: center}
    edges: list[dict[str, Any]] = []
    for row in rows:
        other_kind = KIND_OF.get(row["neighbour_label"])
        if other_kind is None or row["neighbour_id"] is None:
            continue
        other = _node(other_kind, str(row["neighbour_id"]), row["neighbour_name"])
        nodes.setdefault(other["id"], other)
        source, target = ((center["id"], other["id"]) if row["direction"] == "out"
                          else (other["id"], center["id"]))
        edges.append({"source": source, "target": target, "type": row["rel_type"],
                      "how": row["rel_how"]})
    return {"center": center, "nodes": list(nodes.values()), "edges": edges,
            "capped": capped, "limit": limit, "total": total, "kinds": list(KINDS)}


def _graph_html(data: dict[str, Any]) -> dict[str, Any]:
    """Group the neighbours by relationship and direction for the lists."""
    center = data["center"]
    nodes = {n["id"]: n for n in data["nodes"]}
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for edge in data["edges"]:
        outgoing = center is not None and edge["source"] == center["id"]
        direction = "out" if outgoing else "in"
        other = nodes[edge["target"] if outgoing else edge["source"]]
        key = (edge["type"], direction)
        group = groups.setdefault(key, {
            "type": edge["type"], "direction": direction,
            "title": REL_TITLES.get(key, f"{edge['type']} ({direction})"), "items": []})
        group["items"].append({**other, "how": edge["how"]})
    data["groups"] = sorted(groups.values(), key=lambda g: (g["title"], g["type"]))
    requested = request.args.get("node", "")
    data["picked_kind"] = center["kind"] if center else request.args.get("kind", "solution")
    data["picked_id"] = (center["id"].partition(":")[2] if center
                         else request.args.get("id", requested.partition(":")[2]))
    return data


register_page(bp, "/graph", "graph", "graph.html", graph_data, table="edges",
              title="Graph view", decorate=_graph_html, response=schemas.GraphPage)
