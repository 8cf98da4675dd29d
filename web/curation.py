"""Explorer blueprint: curation of solution resolution (curators and admins only).

``/curation`` lists the resolution state of every initiative loaded without a declared
solution (read only: :func:`resolution.proposals`), filterable with ``?status=``; each
proposal has Accept / Reject buttons, and an unresolved initiative a choice of its five
best-matching solutions. ``POST /curation/decide`` records the decision with the
curator's name. ``/curation.json`` is the JSON twin (also signed-in only).

``/curation/candidates`` lists the candidate evaluations the registry and literature
connectors found (``?status=``, ``?solution=``), each proposed one with a form to accept
it (the initiatives it evaluated, its finding, the design and date if not the guessed
ones) or reject it; ``POST /curation/candidates/decide`` records the decision and
``/curation/candidates.json`` is the JSON twin.
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

from triedbefore.graph import BadArgument, NotFound, resolution
from triedbefore.ingest import CandidateError
from triedbefore.ingest import candidates as cands
from triedbefore.ingest.curation import decide as record_decision
from triedbefore.ontology.vocab import CandidateStatus, Design, Finding
from triedbefore.web.auth import current_user, login_required
from triedbefore.web.negotiation import wants_json
from triedbefore.web.pages import choice_arg, paginate
from triedbefore.web.stores import full_store, get_store

bp = Blueprint("curation", __name__)

STATUSES = resolution.STATUSES
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
        done = record_decision(full_store(), initiative_id, solution_id, decision,
                               who=user.name)
    except NotFound as exc:
        abort(404, str(exc))
    except BadArgument as exc:
        abort(400, str(exc))
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


# --- candidate evaluations -------------------------------------------------------------

CANDIDATE_STATUSES = tuple(s.value for s in CandidateStatus)
CANDIDATE_DECISIONS = ("accept", "reject")  # the form's verbs for CandidateStatus


def candidates_data() -> dict[str, Any]:
    status = choice_arg("status", CANDIDATE_STATUSES)
    solution = request.args.get("solution", "").strip() or None
    store = get_store()
    rows = cands.list_candidates(store, solution_id=solution)
    counts = Counter(r["status"] for r in rows)
    shown = [r for r in rows if status is None or r["status"] == status]
    page = paginate(shown, current_app.config["PAGE_SIZE"])
    initiatives: dict[str, list[dict[str, Any]]] = {}
    for item in page["items"]:
        sid = str(item["solution_id"])
        if sid not in initiatives:
            initiatives[sid] = [{"id": r["id"], "title": r["title"]}
                                for r in cands.solution_initiatives(store, sid)]
        item["initiatives"] = initiatives[sid]
    return {"candidates": page, "status": status, "solution": solution,
            "statuses": list(CANDIDATE_STATUSES),
            "counts": {s: counts.get(s, 0) for s in CANDIDATE_STATUSES},
            "designs": [d.value for d in Design], "findings": [f.value for f in Finding]}


@bp.route("/curation/candidates")
@login_required("curator")
def candidates() -> Any:
    return render_template("candidates.html", **candidates_data())


@bp.route("/curation/candidates.json")
@login_required("curator")
def candidates_json() -> Any:
    return jsonify({"ok": True, **candidates_data()})


def _decide_candidate() -> dict[str, Any]:
    cid = request.form.get("candidate_id", "").strip()
    decision = request.form.get("decision", "")
    if not cid:
        abort(400, "give candidate_id")
    if decision not in CANDIDATE_DECISIONS:
        abort(400, f"decision must be one of: {', '.join(CANDIDATE_DECISIONS)}")
    user = current_user()
    assert user is not None  # login_required
    store = full_store()
    try:
        if decision == "reject":
            done = cands.reject(store, cid, who=user.name)
        else:
            finding = request.form.get("finding", "")
            if finding not in {f.value for f in Finding}:
                abort(400, f"finding must be one of: {', '.join(f.value for f in Finding)}")
            done = cands.accept(
                store, cid, initiative_ids=request.form.getlist("initiative_ids"),
                finding=finding, design=request.form.get("design", "").strip() or None,
                published_date=request.form.get("published_date", "").strip() or None,
                who=user.name)
    except cands.CandidateNotFound as exc:
        abort(404, str(exc))
    except CandidateError as exc:
        abort(400, str(exc))
    current_app.logger.info("%s %sed candidate %s", user.name, decision.rstrip("e"), cid)
    return done


def _back_to_candidates() -> str:
    args: dict[str, Any] = {}
    status = request.form.get("status", "")
    if status in CANDIDATE_STATUSES:
        args["status"] = status
    return url_for("curation.candidates", **args)


@bp.route("/curation/candidates/decide", methods=["POST"])
@login_required("curator")
def decide_candidate() -> Any:
    done = _decide_candidate()
    if wants_json():
        return jsonify({"ok": True, "candidate": done})
    if done["status"] == CandidateStatus.ACCEPTED:
        flash(f"Accepted {done['id']} as evaluation {done['evaluation_id']}.")
    else:
        flash(f"Rejected {done['id']}: it will not be proposed again.")
    return redirect(_back_to_candidates())


@bp.route("/curation/candidates/decide.json", methods=["POST"])
@login_required("curator")
def decide_candidate_json() -> Any:
    return jsonify({"ok": True, "candidate": _decide_candidate()})
