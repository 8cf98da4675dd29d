"""Living evidence in the explorer: the list of verdict changes, Atom feeds, and the
watches of signed-in users.

- ``/changes`` (HTML, ``.json``, ``.csv``): verdict changes and new zombie repeats recorded
  by ingest runs, newest first (``?since=YYYY-MM-DD``). Restricted changes are shown to
  signed-in users only.
- ``/changes.atom``: the public Atom feed of changes on public records.
- ``/watches`` (signed in): the user's watches, what changed since they last marked them
  seen, and a form to watch an intervention type; ``POST /watches`` adds a watch (forms on
  the solution and site pages), ``POST /watches/<id>/delete`` removes one and
  ``POST /watches/seen`` marks everything seen.
- ``/watches/<id>.atom?token=…``: the Atom feed of one watch for feed readers and Teams or
  Slack connectors, which cannot sign in: the token is an HMAC of the watch id with the
  app's secret key (nothing secret is stored in the graph), and the feed holds public
  changes only.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from triedbefore.graph import changes as living
from triedbefore.graph import queries
from triedbefore.ontology.vocab import InterventionType, Label, WatchTarget
from triedbefore.web import schemas
from triedbefore.web.auth import current_user, login_required
from triedbefore.web.explore import record_names
from triedbefore.web.links import absolute_url, site_root
from triedbefore.web.negotiation import wants_json
from triedbefore.web.pages import date_arg, paginate, register_page
from triedbefore.web.stores import full_store, get_store, may_see_restricted
from triedbefore.web.wording import strength

bp = Blueprint("living", __name__)

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM = "application/atom+xml"
FEED_ENTRIES = 100
TAG = "tag:triedbefore,2026:"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# --- the change list ------------------------------------------------------------------


def changes_data() -> dict[str, Any]:
    since = date_arg("since")
    rows = living.list_changes(get_store(), since, public_only=not may_see_restricted())
    page = paginate(rows)
    page["items"] = _named(page["items"])
    return {"changes": page, "since": since}


def _named(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Changes with the titles of their initiative and evaluations, and which of their
    records are illustrative (copies)."""
    found = {**record_names(Label.SOLUTION, (r["solution_id"] for r in rows)),
             **record_names(Label.INITIATIVE, (r.get("initiative_id") for r in rows)),
             **record_names(Label.EVALUATION, (e for r in rows for e in r["evaluations"]))}
    out = []
    for r in rows:
        ids = [r["solution_id"], r.get("initiative_id"), *r["evaluations"]]
        marked = [i for i in dict.fromkeys(ids) if i and (found.get(i) or {}).get("illustrative")]
        out.append({**r, "initiative_title": (found.get(r.get("initiative_id") or "") or {})
                    .get("name"),
                    "evaluation_titles": [(found.get(e) or {}).get("name") or e
                                          for e in r["evaluations"]],
                    "illustrative": bool(marked), "illustrative_records": marked})
    return out


register_page(bp, "/changes", "changes", "changes.html", changes_data, table="changes",
              title="Evidence changes", response=schemas.ChangesPage)


# --- Atom -----------------------------------------------------------------------------


def _title(change: dict[str, Any]) -> str:
    name = change.get("solution_name") or change["solution_id"]
    if change["change_kind"] == "zombie":
        return f"{name}: new zombie repeat {change.get('initiative_id')}"
    before = str(change.get("from_verdict") or "unevaluated").replace("_", " ")
    after = str(change.get("to_verdict")).replace("_", " ")
    return f"{name}: {before} → {after} ({strength(change.get('strength'))})"


def atom_feed(title: str, feed_id: str, self_url: str, page_url: str,
              entries: list[dict[str, Any]]) -> Response:
    """An Atom 1.0 feed (RFC 4287) of changes: each entry has a stable id, the time the
    change was recorded, a link to the solution (or initiative) and the explanation."""
    ET.register_namespace("", ATOM_NS)

    def el(parent: ET.Element, tag: str, text: str | None = None,
           **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    root = site_root()
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    el(feed, "id", feed_id)
    el(feed, "title", title)
    el(feed, "updated", max((str(e["changed_at"]) for e in entries),
                            default="1970-01-01T00:00:00+00:00"))
    el(feed, "link", rel="self", href=self_url, type=ATOM)
    el(feed, "link", rel="alternate", href=page_url, type="text/html")
    author = el(feed, "author")
    el(author, "name", "triedbefore")
    el(feed, "generator", "triedbefore")
    for change in entries:
        entry = el(feed, "entry")
        el(entry, "id", TAG + "change/" + quote(str(change["id"]), safe=""))
        el(entry, "title", _title(change))
        el(entry, "updated", str(change["changed_at"]))
        target = (f"/initiatives/{quote(str(change['initiative_id']), safe='')}"
                  if change["change_kind"] == "zombie" and change.get("initiative_id")
                  else f"/solutions/{quote(str(change['solution_id']), safe='')}")
        el(entry, "link", rel="alternate", href=root + target, type="text/html")
        el(entry, "category", term=str(change["change_kind"]))
        summary = str(change.get("explanation") or "")
        if change.get("evaluations"):
            summary += " Evaluations: " + ", ".join(change["evaluations"]) + "."
        el(entry, "summary", summary.strip())
    body = ET.tostring(feed, encoding="unicode", xml_declaration=False)
    return Response('<?xml version="1.0" encoding="utf-8"?>\n' + body,
                    mimetype=ATOM, headers={"Cache-Control": "no-cache"})


@bp.route("/changes.atom")
def changes_atom() -> Response:
    rows = living.list_changes(get_store(), None, public_only=True)[:FEED_ENTRIES]
    return atom_feed("triedbefore: evidence changes", TAG + "changes",
                     absolute_url("living.changes_atom"), absolute_url("living.changes"), rows)


def feed_token(watch_id: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"watch-feed:{watch_id}".encode(), hashlib.sha256).hexdigest()[:32]


def _watch(watch_id: str) -> dict[str, Any] | None:
    rows = full_store().read(queries.WATCH_BY_ID, {"id": watch_id})  # users' own records
    return dict(rows[0]["watch"]) if rows else None


@bp.route("/watches/<watch_id>.atom")
def watch_atom(watch_id: str) -> Response:
    token = request.args.get("token", "")
    if not hmac.compare_digest(token.encode("utf-8", "surrogateescape"),
                               feed_token(watch_id).encode()):
        abort(404, "no such feed")
    watch = _watch(watch_id)
    if watch is None:
        abort(404, "no such feed")
    rows = living.watched_changes(full_store(), [watch], public_only=True)[watch_id]
    return atom_feed(f"triedbefore: {_describe(watch)}", TAG + "watch/" + watch_id,
                     absolute_url("living.watch_atom", watch_id=watch_id, token=token),
                     absolute_url("living.changes"), rows[:FEED_ENTRIES])


# --- watches ----------------------------------------------------------------------------


def _describe(watch: dict[str, Any]) -> str:
    kind = str(watch.get("target_kind", "")).replace("_", " ")
    target = str(watch.get("target_id", "")).replace("_", " ") \
        if watch.get("target_kind") == "intervention_type" else watch.get("target_id")
    return f"{kind} {target}"


def watches_data() -> dict[str, Any]:
    user = current_user()
    assert user is not None  # login_required
    # watches are the user's own records, kept in the whole graph only; the changes they
    # show are public ones unless the user may see restricted records
    store = full_store()
    watches = [dict(r["watch"]) for r in store.read(queries.WATCHES_OF_USER,
                                                    {"user": user.name})]
    new = living.watched_changes(store, watches, public_only=not may_see_restricted(),
                                 new_only=True)
    notices: dict[str, dict[str, Any]] = {}
    out = []
    for w in watches:
        found = new.get(str(w["id"]), [])
        for c in found:
            notices.setdefault(c["id"], c)
        out.append({"id": w["id"], "target_kind": w["target_kind"],
                    "target_id": w["target_id"], "label": _describe(w),
                    "created_at": w.get("created_at"), "seen_at": w.get("seen_at"),
                    "new": len(found),
                    "feed": absolute_url("living.watch_atom", watch_id=w["id"],
                                         token=feed_token(str(w["id"])))})
    ordered = sorted(notices.values(), key=lambda c: (str(c["changed_at"]), c["id"]),
                     reverse=True)
    return {"watches": out, "notices": ordered,
            "intervention_types": [t.value for t in InterventionType]}


@bp.route("/watches")
@login_required("viewer")
def watches() -> Any:
    return render_template("watches.html", **watches_data())


@bp.route("/watches.json")
@login_required("viewer")
def watches_json() -> Any:
    return jsonify({"ok": True, **watches_data()})


def _back(default: str) -> str:
    from triedbefore.web.auth import _safe_next

    target = request.form.get("next", "")
    return _safe_next(target) if target else default


@bp.route("/watches", methods=["POST"])
@login_required("viewer")
def add_watch() -> Any:
    user = current_user()
    assert user is not None
    kind = request.form.get("target_kind", "")
    target = request.form.get("target_id", "").strip()
    if kind not in {t.value for t in WatchTarget}:
        abort(400, "target_kind must be one of: " + ", ".join(t.value for t in WatchTarget))
    store = get_store()
    if kind == "intervention_type":
        if target not in {t.value for t in InterventionType}:
            abort(400, "target_id must be an intervention type: "
                  + ", ".join(t.value for t in InterventionType))
    else:
        statement = queries.SOLUTION_EXISTS if kind == "solution" else queries.SITE_EXISTS
        if not target or not store.read(statement, {"id": target}):
            abort(404, f"no {kind} with id {target!r}")
    wid = living.watch_id(user.name, kind, target)
    row, _ = full_store().write(queries.CREATE_WATCH, {"id": wid, "user": user.name,
                                             "target_kind": kind, "target_id": target,
                                             "at": _now()})
    watch = dict(row[0]["watch"]) if row else {"id": wid}
    if wants_json():
        return jsonify({"ok": True, "watch": {k: watch.get(k) for k in (
            "id", "target_kind", "target_id", "created_at", "seen_at")}})
    flash(f"Watching {_describe(watch)}.")
    return redirect(_back(url_for("living.watches")))


@bp.route("/watches/<watch_id>/delete", methods=["POST"])
@login_required("viewer")
def delete_watch(watch_id: str) -> Any:
    user = current_user()
    assert user is not None
    rows, _ = full_store().write(queries.DELETE_WATCH, {"id": watch_id, "user": user.name})
    if not rows or not rows[0]["deleted"]:
        abort(404, "no such watch")
    if wants_json():
        return jsonify({"ok": True, "deleted": watch_id})
    flash("Watch removed.")
    return redirect(url_for("living.watches"))


@bp.route("/watches/seen", methods=["POST"])
@login_required("viewer")
def mark_seen() -> Any:
    user = current_user()
    assert user is not None
    full_store().write(queries.MARK_WATCHES_SEEN, {"user": user.name, "at": _now()})
    if wants_json():
        return jsonify({"ok": True})
    flash("Marked as seen.")
    return redirect(url_for("living.watches"))


def watching(kind: str, target_id: str) -> str | None:
    """The id of the signed-in user's watch of this target, if any (for templates)."""
    user = current_user()
    if user is None:
        return None
    wid = living.watch_id(user.name, kind, target_id)
    return wid if _watch(wid) is not None else None


def watch_news() -> int:
    """How many changes the signed-in user's watches have had since last marked seen
    (for the navigation; 0 when signed out or when the store cannot say)."""
    from flask import g

    from triedbefore.graph import GraphError

    user = current_user()
    if user is None:
        return 0
    if "watch_news" not in g:
        try:
            store = full_store()
            watches = [dict(r["watch"]) for r in store.read(queries.WATCHES_OF_USER,
                                                            {"user": user.name})]
            new = living.watched_changes(store, watches,
                                         public_only=not may_see_restricted(), new_only=True)
            g.watch_news = len({c["id"] for found in new.values() for c in found})
        except GraphError:
            g.watch_news = 0
    return int(g.watch_news)


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"watching": watching, "watch_news": watch_news}
