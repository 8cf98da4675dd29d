"""Explorer blueprint: registration, recording an attempt, "my contributions" and the
moderation queue.

- ``/register``: anyone may open a ``contributor`` account (rate-limited per client
  address); it can contribute at once, and everything it sends waits for moderation.
- ``/contribute`` and ``/contributions/<id>/edit``: the form. "Save draft" keeps it as
  it is; "Send for moderation" checks it with the interchange's own models and messages
  (``ingest.contributions.problems``) and offers to merge it with an attempt that looks
  the same. Whatever the button, what was typed is saved first: nothing is lost on an
  error. ``POST /contributions.json`` does the same for scripts (JSON body, with
  an API token or the session's CSRF token).
- ``/contributions/<id>``: the record, its problems and history; to its contributor and
  curators only (anyone else gets 404, as for a record that does not exist).
- ``/my-contributions``: the signed-in user's records, statuses and comments.
- ``/moderation``: the queue; ``POST /contributions/<id>/accept`` loads the record through
  the one write path, ``/return`` sends it back with a comment (curators and admins).

Unmoderated records live in the contributions file only, never in the graph, so no page
that reads the graph (search, solution pages, exports, the console) can show them.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
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

from triedbefore.graph import queries
from triedbefore.ingest import contributions as contrib
from triedbefore.ontology.rdf import concept_labels
from triedbefore.ontology.vocab import (
    Design,
    Direction,
    Finding,
    LessonEffect,
    NasssDomain,
    QualityDomain,
    Sector,
    Status,
)
from triedbefore.web import auth
from triedbefore.web.auth import current_user, login_required
from triedbefore.web.negotiation import wants_json
from triedbefore.web.stores import full_store, get_store

bp = Blueprint("contribute", __name__)

#: Blank rows the form offers beyond the filled ones, per list.
BLANK_ROWS = {"lessons": 2, "outcomes": 1, "evaluations": 1}
#: Saves and submissions one account may make per hour (spam bursts are refused, 429).
SAVES_PER_HOUR = 30
SUGGESTIONS = 10


def store_of_contributions() -> contrib.ContributionStore:
    found = current_app.extensions.get("triedbefore.contributions")
    if found is None:
        path = current_app.config.get("CONTRIBUTIONS_FILE") or \
            Path(current_app.config["USERS_FILE"]).parent / "contributions.sqlite3"
        found = current_app.extensions["triedbefore.contributions"] = \
            contrib.ContributionStore(path)
    return found


def _user() -> auth.User:
    user = current_user()
    assert user is not None  # login_required
    return user


def _is_curator(user: auth.User | None) -> bool:
    return user is not None and user.has_role("curator")


def _visible(cid: str) -> contrib.Contribution:
    """The contribution, if the signed-in user is its contributor or a curator; else 404
    (the same answer as for an id that does not exist)."""
    user = _user()
    try:
        item = store_of_contributions().get(cid, history=True)
    except contrib.ContributionNotFound:
        abort(404, f"no contribution {cid!r}")
    if item.owner != user.name and not _is_curator(user):
        abort(404, f"no contribution {cid!r}")
    return item


# --------------------------------------------------------------------------- #
# Registration
# --------------------------------------------------------------------------- #

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _sectors() -> list[tuple[str, str]]:
    labels = concept_labels("Sector")
    return [(s.value, labels.get(s.value, s.value)) for s in Sector]


@bp.route("/register", methods=["GET", "POST"])
def register() -> Any:
    form = {k: request.form.get(k, "").strip() for k in
            ("name", "display_name", "organisation", "sector", "email")}
    if request.method == "GET":
        return render_template("register.html", form=form, errors={}, sectors=_sectors())
    addr = request.remote_addr or "-"
    limiter: auth.LoginLimiter = current_app.extensions["triedbefore.register_limiter"]
    wait = limiter.retry_after("register", addr)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        limited = {"form": f"Too many accounts were opened from here. Try again in about "
                           f"{minutes} minute{'s' if minutes != 1 else ''}."}
        return render_template("register.html", form=form, errors=limited,
                               sectors=_sectors()), 429, {"Retry-After": str(int(wait) + 1)}
    errors: dict[str, str] = {}
    password = request.form.get("password", "")
    if password != request.form.get("password2", ""):
        errors["password2"] = "The two passwords differ."
    if not form["display_name"]:
        errors["display_name"] = "Give your name (you choose, for each record, whether it "\
                                 "is shown)."
    if form["sector"] not in {s.value for s in Sector}:
        errors["sector"] = "Choose the sector you work in."
    if form["email"] and not _EMAIL.fullmatch(form["email"]):
        errors["email"] = "This is not an e-mail address (or leave it empty)."
    if not errors:
        try:
            auth.register(current_app.config["USERS_FILE"], form["name"], password, form)
        except auth.UserError as exc:
            key = "password" if "password" in str(exc) else "name"
            errors[key] = str(exc)[0].upper() + str(exc)[1:] + "."
    if errors:
        return render_template("register.html", form=form, errors=errors,
                               sectors=_sectors()), 400
    limiter.failed("register", addr)  # counts registrations per address
    flash("Your account is ready: sign in to record what you tried.")
    return redirect(url_for("auth.login", next=url_for("contribute.new")))


# --------------------------------------------------------------------------- #
# The form
# --------------------------------------------------------------------------- #


def _from_form() -> dict[str, Any]:
    """The form's fields as a contribution (``contrib.clean`` drops the rest)."""
    raw: dict[str, Any] = {name: request.form.get(name, "") for name in contrib.TEXT_FIELDS}
    for name in contrib.LIST_FIELDS:
        raw[name] = [v for value in request.form.getlist(name)
                     for v in re.split(r"[|,]", value)]
    for name, columns in contrib.RECORD_FIELDS.items():
        rows: dict[int, dict[str, str]] = {}
        for key, value in request.form.items(multi=True):
            found = re.fullmatch(rf"{name}-(\d{{1,3}})-(\w+)", key)
            if found and found.group(2) in columns:
                rows.setdefault(int(found.group(1)), {})[found.group(2)] = value
        raw[name] = [rows[i] for i in sorted(rows)]
    for name in contrib.FLAG_FIELDS:
        raw[name] = request.form.get(name, "")
    return contrib.clean(raw)


def _rate_limited(user: auth.User) -> None:
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    if store_of_contributions().count_since(user.name, since) >= int(
            current_app.config.get("CONTRIBUTION_SAVES_PER_HOUR", SAVES_PER_HOUR)):
        abort(429, "too many records saved in the last hour: try again later")


def _choices() -> dict[str, Any]:
    return {"statuses": [s.value for s in Status], "effects": [e.value for e in LessonEffect],
            "domains": [(d.value, concept_labels("NasssDomain").get(d.value, d.value))
                        for d in NasssDomain],
            "directions": [d.value for d in Direction],
            "quality_domains": [d.value for d in QualityDomain],
            "designs": [d.value for d in Design], "findings": [f.value for f in Finding],
            "new_site_kinds": [k.value for k in contrib.NEW_SITE_KINDS]}


def _names(data: dict[str, Any]) -> dict[str, str]:
    """Names of the solution and sites a contribution picked, for the form's labels."""
    store = get_store()
    out: dict[str, str] = {}
    from triedbefore.graph import names
    from triedbefore.ontology.vocab import Label

    if data.get("solution_id"):
        out.update({k: v.name for k, v in names.named(
            store, Label.SOLUTION, [data["solution_id"]]).items()})
    if data.get("site_ids"):
        out.update({k: v.name for k, v in names.named(
            store, Label.SITE, data["site_ids"]).items()})
    return out


def _render_form(item: contrib.Contribution | None, data: dict[str, Any], *,
                 problems: list[contrib.FieldError] | None = None,
                 duplicates: list[dict[str, Any]] | None = None, status: int = 200) -> Any:
    shown = dict(data)
    for name, blank in BLANK_ROWS.items():
        extra = 1 if request.form.get("action") == f"more_{name}" else 0
        shown[name] = list(data.get(name) or []) + [{} for _ in range(blank + extra)]
    errors: dict[str, list[str]] = {}
    for p in problems or []:
        text = p.problem.reason + (f" (allowed: {', '.join(p.problem.allowed)})"
                                   if p.problem.allowed else "")
        errors.setdefault(p.field or "form", []).append(text)
    user = _user()
    return render_template(
        "contribute.html", item=item, data=shown, errors=errors, duplicates=duplicates or [],
        names=_names(data), curator_edit=item is not None and item.owner != user.name,
        **_choices()), status


@bp.route("/contribute", methods=["GET", "POST"])
@login_required("contributor")
def new() -> Any:
    if request.method == "GET":
        return _render_form(None, contrib.clean({}))
    return _save(None)


@bp.route("/contributions/<contribution_id>/edit", methods=["GET", "POST"])
@login_required("contributor")
def edit(contribution_id: str) -> Any:
    item = _visible(contribution_id)
    if request.method == "GET":
        return _render_form(item, item.data)
    return _save(item)


def _save(item: contrib.Contribution | None) -> Any:
    """Save what the form holds, then (``action=submit``) check it and send it for
    moderation; any problem or look-alike attempt shows the form again, saved."""
    user = _user()
    _rate_limited(user)
    data = _from_form()
    action = request.form.get("action", "draft")
    if action.startswith("merge:"):  # the contributor says it is that initiative
        data["merge_into"], action = action.removeprefix("merge:").strip(), "submit"
    elif action == "separate":  # and here that it is not any of the look-alikes
        data["separate"], action = True, "submit"
    saved, found, alike = _store(item, user, data, submit=action == "submit",
                                 curator_save=action == "curator_save")
    if action.startswith("more_"):
        return _render_form(saved, saved.data)
    if found or alike:
        flash("Saved as a draft. " + ("Correct what is marked, then send it again."
                                      if found else "It looks like an attempt already "
                                      "recorded: merge it, or say it is a different one."))
        return _render_form(saved, saved.data, problems=found, duplicates=alike, status=400
                            if found else 200)
    if saved.status == contrib.SUBMITTED and action == "submit":
        flash(f"Sent {saved.id} for moderation: a curator will read it before anyone else "
              "can see it.")
    else:
        flash(f"Saved {saved.id}.")
    return redirect(url_for("contribute.view", contribution_id=saved.id))


def _store(item: contrib.Contribution | None, user: auth.User, data: dict[str, Any], *,
           submit: bool, curator_save: bool = False
           ) -> tuple[contrib.Contribution, list[contrib.FieldError], list[dict[str, Any]]]:
    """Save ``data`` (a draft first, so nothing is lost); when ``submit`` and it has no
    problem and no look-alike, send it for moderation."""
    contributions = store_of_contributions()
    if item is not None and item.owner != user.name and not curator_save:
        abort(403, "only its contributor may send it; curators save their edits")
    if item is None:
        saved = contributions.create(user.name, data, submit=False)
    elif curator_save:
        saved = contributions.update(item.id, user.name, data, submit=None,
                                     action="edited by curator")
        return saved, contrib.problems(full_store(), saved.number, saved.data), []
    else:  # a draft until it passes the checks (a record in the queue always does)
        saved = contributions.update(item.id, user.name, data, submit=False, action="saved")
    if not submit:
        return saved, [], []
    found = contrib.problems(get_store(), saved.number, saved.data)
    alike = [] if saved.data.get("separate") else contrib.duplicates(
        get_store(), contributions, saved.number, saved.data, user.name)
    if found or alike:
        return saved, found, alike
    return contributions.update(saved.id, user.name, saved.data, submit=True,
                                action="submitted"), [], []


# --------------------------------------------------------------------------- #
# One contribution, mine, the queue
# --------------------------------------------------------------------------- #


def _problems_of(item: contrib.Contribution) -> list[dict[str, Any]]:
    if item.status == contrib.ACCEPTED:
        return []
    return [p.to_dict() for p in contrib.problems(get_store(), item.number, item.data)]


def contribution_data(contribution_id: str) -> dict[str, Any]:
    item = _visible(contribution_id)
    user = _user()
    alike = contrib.duplicates(get_store(), store_of_contributions(), item.number, item.data,
                               item.owner) if item.status != contrib.ACCEPTED else []
    waiting = contrib.same_attempt_waiting(store_of_contributions(), item) \
        if _is_curator(user) else []
    return {"contribution": item.to_dict(history=True), "problems": _problems_of(item),
            "duplicates": alike, "waiting_alike": waiting}


@bp.route("/contributions/<contribution_id>")
@login_required("contributor")
def view(contribution_id: str) -> Any:
    data = contribution_data(contribution_id)
    user = _user()
    owner = store_of_contributions().get(contribution_id).owner
    return render_template("contribution.html", **data, is_curator=_is_curator(user),
                           is_owner=owner == user.name, names=_names(
                               data["contribution"]["data"]), **_choices())


@bp.route("/contributions/<contribution_id>.json")
@login_required("contributor")
def view_json(contribution_id: str) -> Any:
    return jsonify({"ok": True, **contribution_data(contribution_id)})


def mine_data() -> dict[str, Any]:
    user = _user()
    return {"contributions": [c.to_dict() for c in
                              store_of_contributions().of_owner(user.name)]}


@bp.route("/my-contributions")
@login_required("contributor")
def mine() -> Any:
    user = _user()
    return render_template("my_contributions.html", **mine_data(),
                           to_answer=questions_for(user),
                           asked=store_of_contributions().questions(asker=user.name))


@bp.route("/my-contributions.json")
@login_required("contributor")
def mine_json() -> Any:
    return jsonify({"ok": True, **mine_data()})


def moderation_data() -> dict[str, Any]:
    contributions = store_of_contributions()
    everything = contributions.all()
    counts = Counter(c.status for c in everything)
    return {"waiting": [c.to_dict() for c in everything if c.status == contrib.SUBMITTED],
            "counts": {s: counts.get(s, 0) for s in contrib.STATUSES}}


@bp.route("/moderation")
@login_required("curator")
def moderation() -> Any:
    data = moderation_data()
    owners = {c.id: c.owner for c in store_of_contributions().waiting()}
    questions = store_of_contributions().questions()
    return render_template(
        "moderation.html", **data, owners=owners,
        questions=[q for q in questions if q["status"] == contrib.WAITING],
        answers=[q for q in questions if q["answer_status"] == contrib.WAITING])


@bp.route("/moderation.json")
@login_required("curator")
def moderation_json() -> Any:
    return jsonify({"ok": True, **moderation_data()})


# --------------------------------------------------------------------------- #
# Decisions
# --------------------------------------------------------------------------- #


def _decide(contribution_id: str, decision: str) -> dict[str, Any]:
    user = _user()
    comment = (request.form.get("comment") or "").strip() or None
    if comment is not None and len(comment) > contrib.MAX_TEXT:
        abort(400, f"a comment has at most {contrib.MAX_TEXT:,} characters")
    contributions = store_of_contributions()
    try:
        item = contributions.get(contribution_id)
        if decision == "accept":
            done, _result = contrib.accept(
                full_store(), contributions, contribution_id, moderator=user.name,
                profile=auth.profile(current_app.config["USERS_FILE"], item.owner),
                comment=comment)
        else:
            done = contrib.return_to_contributor(contributions, contribution_id,
                                                 moderator=user.name, comment=comment or "")
    except contrib.ContributionNotFound as exc:
        abort(404, str(exc))
    except contrib.ContributionError as exc:
        abort(400, str(exc))
    current_app.logger.info("%s %sed contribution %s", user.name, decision.rstrip("e"),
                            contribution_id)
    return done.to_dict()


@bp.route("/contributions/<contribution_id>/accept", methods=["POST"])
@login_required("curator")
def accept(contribution_id: str) -> Any:
    done = _decide(contribution_id, "accept")
    if wants_json():
        return jsonify({"ok": True, "contribution": done})
    flash(f"Accepted {contribution_id}: it is in the graph as {done['initiative_id']}.")
    return redirect(url_for("contribute.moderation"))


@bp.route("/contributions/<contribution_id>/accept.json", methods=["POST"])
@login_required("curator")
def accept_json(contribution_id: str) -> Any:
    return jsonify({"ok": True, "contribution": _decide(contribution_id, "accept")})


@bp.route("/contributions/<contribution_id>/return", methods=["POST"])
@login_required("curator")
def return_(contribution_id: str) -> Any:
    done = _decide(contribution_id, "return")
    if wants_json():
        return jsonify({"ok": True, "contribution": done})
    flash(f"Returned {contribution_id} to its contributor with your comment.")
    return redirect(url_for("contribute.moderation"))


@bp.route("/contributions/<contribution_id>/return.json", methods=["POST"])
@login_required("curator")
def return_json(contribution_id: str) -> Any:
    return jsonify({"ok": True, "contribution": _decide(contribution_id, "return")})


# --------------------------------------------------------------------------- #
# The JSON API for scripts
# --------------------------------------------------------------------------- #


@bp.route("/contributions.json", methods=["POST"])
@login_required("contributor")
def submit_json() -> Any:
    """A contribution as a JSON object (the fields of ``ContributionData``; ``"draft":
    true`` keeps it a draft; ``"id"`` updates one of the user's own)."""
    user = _user()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "send the contribution as a JSON object (Content-Type: application/json)")
    unknown = contrib.unknown_fields({k: v for k, v in body.items() if k != "id"})
    if unknown:
        abort(400, f"unknown fields: {', '.join(unknown)}")
    _rate_limited(user)
    item = None
    if body.get("id"):
        item = _visible(str(body["id"]))
        if item.owner != user.name:
            abort(403, "only its contributor may send it")
    data = contrib.clean(body)
    saved, found, alike = _store(item, user, data, submit=not body.get("draft"))
    return jsonify({"ok": True, "submitted": saved.status == contrib.SUBMITTED and not found
                    and not alike, "contribution": saved.to_dict(),
                    "problems": [p.to_dict() for p in found], "duplicates": alike})


# --------------------------------------------------------------------------- #
# Search as you type
# --------------------------------------------------------------------------- #


def _query() -> str:
    q = (request.args.get("q") or "").strip()
    if len(q) > 200:
        abort(400, "parameter 'q' is longer than 200 characters")
    return q


@bp.route("/suggest/solutions.json")
def suggest_solutions() -> Any:
    q = _query()
    rows = get_store().read(queries.SUGGEST_SOLUTIONS, {"q": q.casefold(),
                                                        "limit": SUGGESTIONS}) \
        if len(q) >= 2 else []
    return jsonify({"ok": True, "q": q, "items": [
        {"id": str(r["id"]), "name": str(r["name"] or r["id"]), "detail": r["detail"]}
        for r in rows]})


@bp.route("/suggest/sites.json")
def suggest_sites() -> Any:
    """Sites by ODS code (exactly) or by name (the full-text index, as search uses)."""
    from triedbefore.graph.search import fulltext
    from triedbefore.ontology.vocab import Label

    q = _query()
    items: dict[str, dict[str, Any]] = {}
    if len(q) >= 2:
        store = get_store()
        for r in store.read(queries.SITE_BY_ID, {"id": q.upper()}):
            items[str(r["id"])] = {"id": str(r["id"]), "name": str(r["name"] or r["id"]),
                                   "detail": r["detail"]}
        for hit in fulltext(store, Label.SITE, q, SUGGESTIONS):
            node = hit["node"]
            items.setdefault(str(node.get("id")), {
                "id": str(node.get("id")), "name": str(node.get("name") or node.get("id")),
                "detail": node.get("kind")})
    return jsonify({"ok": True, "q": q, "items": list(items.values())[:SUGGESTIONS]})


# --------------------------------------------------------------------------- #
# Questions to the people who tried it
# --------------------------------------------------------------------------- #

#: Questions one account may ask per hour (then 429).
QUESTIONS_PER_HOUR = 5


def public_questions(initiative_id: str) -> list[dict[str, Any]]:
    """The questions about an initiative that a curator has shown, with their answer once
    shown too. Who asked and who answered are not shown."""
    out = []
    for q in store_of_contributions().questions(initiative_id=initiative_id):
        if q["status"] != contrib.SHOWN:
            continue
        shown = q["answer_status"] == contrib.SHOWN
        out.append({"id": q["id"], "text": q["text"], "asked_at": q["asked_at"],
                    "answer": q["answer"] if shown else None,
                    "answered_at": q["answered_at"] if shown else None})
    return out


def can_ask(initiative_id: str) -> bool:
    """Whether the initiative has someone to answer: a contributor recorded it."""
    return bool(store_of_contributions().contributors_of(initiative_id))


def questions_for(user: auth.User) -> list[dict[str, Any]]:
    """Shown questions on the initiatives the user recorded, waiting for their answer."""
    contributions = store_of_contributions()
    mine = {c.initiative_id for c in contributions.of_owner(user.name) if c.published}
    return [q for q in contributions.questions(initiatives=mine)
            if q["status"] == contrib.SHOWN and q["answer_status"] in (None, contrib.REFUSED)]


@bp.app_context_processor
def _question_helpers() -> dict[str, Any]:
    def questions_waiting() -> int:
        """For the navigation: questions the signed-in contributor has to answer."""
        user = current_user()
        if user is None:
            return 0
        try:
            return len(questions_for(user))
        except Exception:  # noqa: BLE001 - the navigation never fails a page
            return 0

    return {"questions_waiting": questions_waiting}


def _back_to(initiative_id: str) -> Any:
    return redirect(url_for("explore.initiative", initiative_id=initiative_id) + "#questions")


@bp.route("/initiatives/<initiative_id>/questions", methods=["POST"])
@login_required("contributor")
def ask(initiative_id: str) -> Any:
    from triedbefore.ontology.vocab import Label

    user = _user()
    if not get_store().read(queries.existing_ids(Label.INITIATIVE), {"ids": [initiative_id]}):
        abort(404, f"no initiative with id {initiative_id!r}")
    if not can_ask(initiative_id):
        abort(400, "nobody who ran this initiative recorded it here, so nobody can answer")
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    contributions = store_of_contributions()
    if contributions.asked_since(user.name, since) >= int(
            current_app.config.get("QUESTIONS_PER_HOUR", QUESTIONS_PER_HOUR)):
        abort(429, "too many questions in the last hour: try again later")
    try:
        contributions.ask(initiative_id, user.name, request.form.get("question", ""))
    except contrib.ContributionError as exc:
        abort(400, str(exc))
    flash("Your question waits for a curator; once shown, the people who ran it see it "
          "when they sign in.")
    return _back_to(initiative_id)


@bp.route("/questions/<question_id>/answer", methods=["POST"])
@login_required("contributor")
def answer(question_id: str) -> Any:
    user = _user()
    try:
        done = store_of_contributions().answer(question_id, user.name,
                                               request.form.get("answer", ""))
    except contrib.ContributionNotFound as exc:
        abort(404, str(exc))
    except contrib.ContributionError as exc:
        abort(400, str(exc))
    flash(f"Your answer to {done['id']} waits for a curator.")
    return redirect(url_for("contribute.mine"))


@bp.route("/questions/<question_id>/<decision>", methods=["POST"])
@login_required("curator")
def moderate_question(question_id: str, decision: str) -> Any:
    if decision not in ("accept", "reject"):
        abort(404)
    user = _user()
    try:
        store_of_contributions().moderate_question(
            question_id, user.name, contrib.SHOWN if decision == "accept" else contrib.REFUSED,
            answer=request.form.get("part") == "answer")
    except contrib.ContributionNotFound as exc:
        abort(404, str(exc))
    except contrib.ContributionError as exc:
        abort(400, str(exc))
    flash(f"{question_id}: {decision}ed.")
    return redirect(url_for("contribute.moderation") + "#questions")
