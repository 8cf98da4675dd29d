"""Explorer blueprint: curation of solution resolution (curators and admins only).

``/curation`` lists the resolution state of every initiative loaded without a declared
solution (read only: :func:`resolution.proposals`), filterable with ``?status=``; each
proposal has Accept / Reject buttons, and an unresolved initiative a choice of its five
best-matching solutions. ``POST /curation/decide`` records the decision with the
curator's name. ``/curation.json`` is the JSON twin (also signed-in only).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from triedbefore.graph import resolution
from triedbefore.graph.analytics import NotFound
from triedbefore.web.app import get_store, wants_json
from triedbefore.web.auth import current_user, login_required
from triedbefore.web.pages import choice_arg, paginate

bp = Blueprint("curation", __name__)

STATUSES = ("inferred", "suggested", "unresolved", "accepted", "rejected")
CANDIDATES = 5


def curation_data() -> dict[str, Any]:
    status = choice_arg("status", STATUSES)
    store = get_store()
    rows = resolution.proposals(store)
    counts = Counter(r.status for r in rows)
    shown = [r for r in rows if status is None or r.status == status]
    page = paginate(shown, current_app.config["PAGE_SIZE"])
    names: dict[str, str] | None = None
    items: list[dict[str, Any]] = []
    for proposal in page["items"]:
        item = proposal.to_dict()
        if proposal.status == "unresolved":
            if names is None:
                names = resolution.solution_names(store)
            item["candidates"] = [
                {"solution_id": sid, "name": names.get(sid, sid), "score": score}
                for sid, score in resolution.candidates(store, proposal.text,
                                                        exclude=proposal.rejected,
                                                        k=CANDIDATES)]
        items.append(item)
    page["items"] = items
    return {"proposals": page, "status": status, "statuses": list(STATUSES),
            "counts": {s: counts.get(s, 0) for s in STATUSES}}


@bp.route("/curation")
@login_required("curator")
def curation() -> Any:
    return render_template("curation.html", **curation_data())


@bp.route("/curation.json")
@login_required("curator")
def curation_json() -> Any:
    return jsonify({"ok": True, **curation_data()})


def _back() -> str:
    """The list the form came from: its status filter and page, if they are valid."""
    args: dict[str, Any] = {}
    status = request.form.get("status", "")
    if status in STATUSES:
        args["status"] = status
    page = request.form.get("page", "")
    if page.isdigit() and 1 < int(page) <= 1_000_000:
        args["page"] = int(page)
    return url_for("curation.curation", **args)


def _decide() -> resolution.Resolution:
    initiative_id = request.form.get("initiative_id", "").strip()
    solution_id = request.form.get("solution_id", "").strip()
    decision = request.form.get("decision", "")
    if not initiative_id or not solution_id:
        abort(400, "give initiative_id and solution_id")
    if decision not in resolution.DECISIONS:
        abort(400, f"decision must be one of: {', '.join(resolution.DECISIONS)}")
    user = current_user()
    assert user is not None  # login_required
    try:
        done = resolution.decide(get_store(), initiative_id, solution_id, decision,
                                 who=user.name)
    except NotFound as exc:
        abort(404, str(exc))
    current_app.logger.info("%s %s %s for %s", user.name, decision, solution_id,
                            initiative_id)
    return done


@bp.route("/curation/decide", methods=["POST"])
@login_required("curator")
def decide() -> Any:
    done = _decide()
    if wants_json():
        return jsonify({"ok": True, **done.to_dict()})
    flash(f"{done.status.capitalize()} {done.solution_id} for {done.initiative_id}.")
    return redirect(_back())


@bp.route("/curation/decide.json", methods=["POST"])
@login_required("curator")
def decide_json() -> Any:
    return jsonify({"ok": True, **_decide().to_dict()})
