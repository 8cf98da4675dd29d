"""Records of attempts sent by the people who ran them, kept until a curator accepts them.

A **contribution** is what one contributor says about one attempt: what was tried (a
solution of the graph, or a new one proposed), where (sites of the graph, or one new
site that is not in the NHS data: a care home, a local authority, a voluntary or supplier
site), when, its status (and why it stopped), the outcomes measured, evaluations, what it
learned from, its lessons (each helped or got in the way, tagged with one NASSS domain)
and what the team would do differently.

Contributions wait in :class:`ContributionStore`, a SQLite file beside the users file
(``DATA_DIR/contributions.sqlite3``, mode 0600), **never in the graph**: nothing a page, a
search, an export or the query console reads can show a record nobody has moderated.
Every version is kept (``history``): drafts, submissions, a curator's edits, returns
with their comment, acceptances.

A contribution becomes interchange rows (:func:`to_files`) and is checked by the
interchange's own models (:func:`problems`: the same pydantic models and the same
messages as a bundle, plus the references the loader would check). A curator's accept
loads those rows through the one write path (:func:`accept`: ``ingest.pipeline.run``),
with a ``Contribution`` node recording who contributed it (as they chose to be named),
when, and which curator accepted it; its run's source is ``contribution:<id>``. An
accepted contribution updated by its contributor waits for moderation again; the graph
keeps the accepted version until then.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from triedbefore.graph import NotFound, queries
from triedbefore.graph.analytics import COUNTED_LINKS
from triedbefore.graph.changes import Touched
from triedbefore.graph.store import Store
from triedbefore.ingest import IngestError
from triedbefore.ingest.bundle import MemoryBundle, Problem
from triedbefore.ingest.loader import IngestResult
from triedbefore.ingest.pipeline import Source, run
from triedbefore.ontology.models import ROW_TYPE_BY_FILE, explain
from triedbefore.ontology.vocab import (
    Label,
    LessonKind,
    Link,
    Sector,
    SiteKind,
    Status,
    Visibility,
)

#: Where a contribution stands.
DRAFT, SUBMITTED, RETURNED, ACCEPTED = "draft", "submitted", "returned", "accepted"
STATUSES = (DRAFT, SUBMITTED, RETURNED, ACCEPTED)
#: Kinds of the one new site a contribution may create: places the NHS data does not list.
NEW_SITE_KINDS = (SiteKind.CARE_HOME, SiteKind.LOCAL_AUTHORITY, SiteKind.COMMUNITY_SERVICE,
                  SiteKind.OTHER)
#: Most items of each list a contribution holds (a form, not a bundle).
MAX_ITEMS = 30
#: Longest free text outside lessons (descriptions, reasons), in characters.
MAX_TEXT = 10_000
#: The name shown for a contributor who chose not to be named.
UNNAMED = "a contributor who chose not to be named"


class ContributionError(IngestError):
    """A contribution that cannot be stored or decided as asked."""


class ContributionNotFound(ContributionError, NotFound):
    """No contribution with that id (or not one the user may see)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- #
# What a contribution holds
# --------------------------------------------------------------------------- #

#: The fields of a contribution and their kinds: text, a list of texts, a list of
#: records (dicts of text), or a yes/no.
TEXT_FIELDS = ("title", "description", "solution_id", "new_solution_name",
               "new_solution_description", "new_site_name", "new_site_kind",
               "new_site_postcode", "start_date", "end_date", "status", "why_stopped",
               "do_differently", "funder", "source_url", "visibility", "merge_into")
LIST_FIELDS = ("site_ids", "learned_from")
RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "lessons": ("text", "effect", "nasss_domain"),
    "outcomes": ("measure", "direction", "baseline", "value", "unit", "domain"),
    "evaluations": ("title", "url", "design", "finding", "published_date"),
}
FLAG_FIELDS = ("show_name", "show_organisation", "separate")


def clean(data: Mapping[str, Any]) -> dict[str, Any]:
    """A contribution's fields as stored: known fields only, text stripped, empty list
    items dropped, at most :data:`MAX_ITEMS` of each list. Unknown fields are dropped (the
    JSON API reports them, see :func:`unknown_fields`)."""
    out: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = data.get(name)
        out[name] = "" if value is None else str(value).strip()
    for name in LIST_FIELDS:
        value = data.get(name) or []
        if isinstance(value, str):
            value = value.replace(",", "|").split("|")
        out[name] = [str(v).strip() for v in value if str(v).strip()][:MAX_ITEMS]
    for name, columns in RECORD_FIELDS.items():
        items = data.get(name) or []
        kept = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, Mapping):
                continue
            record = {c: "" if item.get(c) is None else str(item.get(c)).strip()
                      for c in columns}
            if any(record.values()):
                kept.append(record)
        out[name] = kept[:MAX_ITEMS]
    for name in FLAG_FIELDS:
        value = data.get(name)
        out[name] = value is True or str(value).lower() in ("true", "on", "yes", "1")
    if not out["visibility"]:
        out["visibility"] = Visibility.PUBLIC.value
    return out


def unknown_fields(data: Mapping[str, Any]) -> list[str]:
    known = {*TEXT_FIELDS, *LIST_FIELDS, *RECORD_FIELDS, *FLAG_FIELDS, "draft"}
    return sorted(str(k) for k in data if k not in known)


@dataclass
class Contribution:
    """One contribution as stored."""

    id: str
    owner: str
    status: str
    data: dict[str, Any]
    created_at: str
    updated_at: str
    submitted_at: str | None = None
    comment: str | None = None
    accepted_at: str | None = None
    moderator: str | None = None
    #: Whether a version of it is in the graph (it was accepted once).
    published: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def number(self) -> int:
        return int(self.id.rsplit("-", 1)[-1])

    @property
    def initiative_id(self) -> str:
        """The initiative it records: its own, or the one it was merged into."""
        merged = str(self.data.get("merge_into") or "")
        return merged or f"INI-C-{self.number:05d}"

    def to_dict(self, *, history: bool = False) -> dict[str, Any]:
        out = {"id": self.id, "status": self.status, "title": self.data.get("title") or "",
               "initiative_id": self.initiative_id, "published": self.published,
               "created_at": self.created_at, "updated_at": self.updated_at,
               "submitted_at": self.submitted_at, "comment": self.comment,
               "accepted_at": self.accepted_at, "moderator": self.moderator,
               "data": self.data}
        if history:
            out["history"] = self.history
        return out


# --------------------------------------------------------------------------- #
# Rows and problems
# --------------------------------------------------------------------------- #


def row_ids(number: int) -> dict[str, str]:
    """The ids of the rows contribution ``number`` makes (stable across its versions)."""
    return {"initiative": f"INI-C-{number:05d}", "site": f"SITE-C-{number:05d}",
            "solution": f"SOL-C-{number:05d}", "lesson": f"LES-C-{number:05d}",
            "outcome": f"OUT-C-{number:05d}", "evaluation": f"EVA-C-{number:05d}"}


def to_files(number: int, data: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Interchange rows of a contribution, by file: the same cells a bundle would hold."""
    ids = row_ids(number)
    visibility = str(data.get("visibility") or Visibility.PUBLIC.value)
    merged = str(data.get("merge_into") or "")
    initiative = merged or ids["initiative"]
    files: dict[str, list[dict[str, str]]] = {}
    site_ids = list(data.get("site_ids") or [])
    if data.get("new_site_name") or data.get("new_site_kind"):
        files["sites.csv"] = [{"site_id": ids["site"], "name": str(data["new_site_name"]),
                               "kind": str(data.get("new_site_kind") or ""),
                               "postcode": str(data.get("new_site_postcode") or "")}]
        site_ids.append(ids["site"])
    solution_id = str(data.get("solution_id") or "")
    if not solution_id and data.get("new_solution_name"):
        files["solutions.csv"] = [{"solution_id": ids["solution"],
                                   "name": str(data["new_solution_name"]),
                                   "description": str(data.get("new_solution_description")
                                                      or "")}]
        solution_id = ids["solution"]
    if not merged:
        files["initiatives.csv"] = [{
            "initiative_id": initiative, "title": str(data.get("title") or ""),
            "description": str(data.get("description") or ""), "solution_id": solution_id,
            "site_ids": "|".join(site_ids), "start_date": str(data.get("start_date") or ""),
            "end_date": str(data.get("end_date") or ""), "status": str(data.get("status") or ""),
            "funder": str(data.get("funder") or ""),
            "learned_from": "|".join(data.get("learned_from") or []),
            "source_url": str(data.get("source_url") or ""), "visibility": visibility}]
    outcomes = [{"outcome_id": f"{ids['outcome']}-{n}", "initiative_id": initiative,
                 "measure": o.get("measure", ""), "direction": o.get("direction", ""),
                 "baseline": o.get("baseline", ""), "value": o.get("value", ""),
                 "unit": o.get("unit", ""), "domain": o.get("domain", ""),
                 "visibility": visibility}
                for n, o in enumerate(data.get("outcomes") or [], start=1)]
    if outcomes:
        files["outcomes.csv"] = outcomes
    evaluations = [{"evaluation_id": f"{ids['evaluation']}-{n}", "initiative_ids": initiative,
                    "title": e.get("title", ""), "url": e.get("url", ""),
                    "design": e.get("design", ""), "finding": e.get("finding", ""),
                    "published_date": e.get("published_date", ""), "visibility": visibility}
                   for n, e in enumerate(data.get("evaluations") or [], start=1)]
    if evaluations:
        files["evaluations.csv"] = evaluations
    lessons = [{"lesson_id": f"{ids['lesson']}-{n}", "initiative_id": initiative,
                "text": item.get("text", ""), "kind": LessonKind.LESSON.value,
                "effect": item.get("effect", ""), "nasss_domain": item.get("nasss_domain", ""),
                "visibility": visibility}
               for n, item in enumerate(data.get("lessons") or [], start=1)]
    for kind, column in ((LessonKind.WHY_STOPPED, "why_stopped"),
                         (LessonKind.DO_DIFFERENTLY, "do_differently")):
        if data.get(column):
            lessons.append({"lesson_id": f"{ids['lesson']}-{kind.value}",
                            "initiative_id": initiative, "text": str(data[column]),
                            "kind": kind.value, "effect": "", "nasss_domain": "",
                            "visibility": visibility})
    if lessons:
        files["lessons.csv"] = lessons
    return files


#: A problem's place in the form: the file's list field (None: a field of its own) and
#: the form field of each column.
FORM_PLACES: dict[str, tuple[str | None, dict[str, str]]] = {
    "sites.csv": (None, {"name": "new_site_name", "kind": "new_site_kind",
                         "postcode": "new_site_postcode"}),
    "solutions.csv": (None, {"name": "new_solution_name",
                             "description": "new_solution_description"}),
    "initiatives.csv": (None, {}),
    "outcomes.csv": ("outcomes", {}),
    "evaluations.csv": ("evaluations", {}),
    "lessons.csv": ("lessons", {}),
}


@dataclass(frozen=True)
class FieldError:
    """A problem of a contribution, named as in a bundle (file, line, column, reason,
    allowed values) and by the form field it belongs to (``lessons-2-text``)."""

    problem: Problem
    field: str | None

    def to_dict(self) -> dict[str, Any]:
        return {**self.problem.to_dict(), "field": self.field}


def _form_field(file: str, line: int | None, column: str | None,
                row: Mapping[str, str] | None) -> str | None:
    listed, columns = FORM_PLACES.get(file, (None, {}))
    if column is None:
        return None
    if file == "lessons.csv" and row is not None and row.get("kind") != LessonKind.LESSON:
        return str(row.get("kind") == LessonKind.WHY_STOPPED and "why_stopped"
                   or "do_differently")
    if listed is not None and line is not None:
        return f"{listed}-{line - 2}-{column}"
    if file == "initiatives.csv" and column == "solution_id":
        return "solution_id"
    return columns.get(column, column)


def problems(store: Store, number: int, data: Mapping[str, Any]) -> list[FieldError]:
    """Everything that would stop the contribution from loading, with the messages a
    bundle gets: each row checked by its interchange model, then its references against
    the graph (and the contribution's own rows). Line ``n + 1`` is the ``n``-th row of a
    file, as in a bundle whose first row is line 2. Contribution rules come on top: a
    stopped attempt says why; at least one site; the solution is named or proposed."""
    files = to_files(number, data)
    found: list[FieldError] = []

    def add(file: str, line: int | None, column: str | None, reason: str,
            allowed: tuple[str, ...] = (), row: Mapping[str, str] | None = None) -> None:
        found.append(FieldError(Problem(file, line, column, reason, allowed),
                                _form_field(file, line, column, row)))

    valid: dict[str, set[str]] = {}
    for file, rows in files.items():
        row_type = ROW_TYPE_BY_FILE[file]
        for line, row in enumerate(rows, start=2):
            try:
                model = row_type.model_validate({k: v for k, v in row.items()})
            except ValidationError as exc:
                for item in explain(exc):
                    add(file, line, item.column, item.reason, item.allowed, row)
                continue
            valid.setdefault(file, set()).add(model.row_id)
    for name in TEXT_FIELDS:
        if len(str(data.get(name) or "")) > MAX_TEXT:
            found.append(FieldError(Problem("initiatives.csv", 2, name,
                                            f"is longer than {MAX_TEXT:,} characters"), name))
    if not data.get("merge_into"):
        if not data.get("solution_id") and not data.get("new_solution_name"):
            add("initiatives.csv", 2, "solution_id",
                "pick the solution that was tried, or propose a new one")
        if not (data.get("site_ids") or data.get("new_site_name")):
            add("initiatives.csv", 2, "site_ids",
                "required value is empty: pick where it was tried, or add a new site")
        if data.get("status") == Status.STOPPED and not data.get("why_stopped"):
            found.append(FieldError(Problem("lessons.csv", None, "text",
                                            "a stopped attempt says why it stopped"),
                                    "why_stopped"))
        kind = str(data.get("new_site_kind") or "")
        if (data.get("new_site_name") or kind) and kind and \
                kind not in {k.value for k in NEW_SITE_KINDS}:
            add("sites.csv", 2, "kind", f"{kind!r} is not an allowed value for a new site "
                "(NHS organisations are picked from the list)",
                tuple(k.value for k in NEW_SITE_KINDS))
    for file, column in (("initiatives.csv", "source_url"),):
        url = str(data.get(column) or "")
        if url and not url.lower().startswith(("https://", "http://")):
            add(file, 2, column, "a link starts with https:// or http://")
    for n, evaluation in enumerate(data.get("evaluations") or [], start=2):
        url = evaluation.get("url", "")
        if url and not url.lower().startswith(("https://", "http://")):
            add("evaluations.csv", n, "url", "a link starts with https:// or http://")
    found.extend(_reference_problems(store, number, data, valid))
    return found


def _reference_problems(store: Store, number: int, data: Mapping[str, Any],
                        valid: dict[str, set[str]]) -> list[FieldError]:
    ids = row_ids(number)
    out: list[FieldError] = []

    def missing(label: Label, wanted: list[str]) -> list[str]:
        if not wanted:
            return []
        there = {str(r["id"]) for r in store.read(queries.existing_ids(label),
                                                  {"ids": wanted})}
        return [w for w in wanted if w not in there]

    def add(column: str, field_name: str, reason: str) -> None:
        out.append(FieldError(Problem("initiatives.csv", 2, column, reason), field_name))

    merged = str(data.get("merge_into") or "")
    if merged:
        if missing(Label.INITIATIVE, [merged]):
            add("initiative_id", "merge_into", f"no initiative {merged!r} to merge into")
        return out
    solution = str(data.get("solution_id") or "")
    if solution and missing(Label.SOLUTION, [solution]):
        add("solution_id", "solution_id",
            f"refers to {solution!r}, which is not a solution in the graph")
    for site in missing(Label.SITE, list(data.get("site_ids") or [])):
        add("site_ids", "site_ids",
            f"refers to {site!r}, which is not a site in the graph (pick it from the list, "
            "or add a new site)")
    cited = list(data.get("learned_from") or [])
    unknown = set(missing(Label.EVALUATION, cited)) & set(missing(Label.INITIATIVE, cited))
    for ref in cited:
        if ref in unknown and ref != ids["initiative"]:
            add("learned_from", "learned_from",
                f"refers to {ref!r}, which is neither an evaluation nor an initiative in "
                "the graph")
    return out


def duplicates(store: Store, contributions: ContributionStore, number: int,
               data: Mapping[str, Any], owner: str) -> list[dict[str, Any]]:
    """Attempts that look like this one: the same solution, a same site and the same start.
    Initiatives in the graph the reader's ``store`` shows, and the owner's own other
    contributions (another contributor's waiting records are not shown to them)."""
    solution = str(data.get("solution_id") or "")
    start = str(data.get("start_date") or "")
    sites = list(data.get("site_ids") or [])
    if not (solution and start and sites) or data.get("merge_into"):
        return []
    found = [{"kind": "initiative", "id": str(r["id"]), "title": r["title"]}
             for r in store.read(queries.SAME_ATTEMPTS, {
                 "solution": solution, "sites": sites, "start": start,
                 "counted": COUNTED_LINKS})
             if str(r["id"]) != row_ids(number)["initiative"]]
    for other in contributions.of_owner(owner):
        if other.number == number or other.status == ACCEPTED:
            continue  # an accepted one is in the graph: found above
        if other.data.get("solution_id") == solution and \
                other.data.get("start_date") == start and \
                set(other.data.get("site_ids") or []) & set(sites):
            found.append({"kind": "contribution", "id": other.id,
                          "title": other.data.get("title") or ""})
    return found


def same_attempt_waiting(contributions: ContributionStore, item: Contribution
                         ) -> list[str]:
    """For curators: other contributions, of anyone, waiting with the same solution, site
    and start."""
    data = item.data
    if not (data.get("solution_id") and data.get("start_date") and data.get("site_ids")):
        return []
    out = []
    for other in contributions.all():
        if other.id == item.id or other.status not in (SUBMITTED, ACCEPTED):
            continue
        if other.data.get("solution_id") == data["solution_id"] and \
                other.data.get("start_date") == data["start_date"] and \
                set(other.data.get("site_ids") or []) & set(data["site_ids"]):
            out.append(other.id)
    return out


# --------------------------------------------------------------------------- #
# The store of contributions
# --------------------------------------------------------------------------- #

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contributions (
    number INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    submitted_at TEXT,
    comment TEXT,
    accepted_at TEXT,
    moderator TEXT,
    published INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS contributions_owner ON contributions (owner);
CREATE TABLE IF NOT EXISTS history (
    number INTEGER NOT NULL,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    comment TEXT
);
CREATE INDEX IF NOT EXISTS history_number ON history (number);
CREATE TABLE IF NOT EXISTS questions (
    number INTEGER PRIMARY KEY AUTOINCREMENT,
    initiative_id TEXT NOT NULL,
    asker TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL,
    asked_at TEXT NOT NULL,
    moderator TEXT,
    answer TEXT,
    answered_by TEXT,
    answered_at TEXT,
    answer_status TEXT
);
CREATE INDEX IF NOT EXISTS questions_initiative ON questions (initiative_id);
"""

#: Where a question (and its answer) stands: waiting for a curator, shown, or refused.
WAITING, SHOWN, REFUSED = "submitted", "accepted", "rejected"
#: Longest question or answer, in characters.
MAX_QUESTION = 2000


def question_id(number: int) -> str:
    return f"Q-{number:05d}"


def _question_number(qid: str) -> int:
    head, _, tail = qid.strip().partition("-")
    if head != "Q" or not tail.isdigit() or len(tail) > 9:
        raise ContributionNotFound(f"no question {qid!r}")
    return int(tail)


def _question(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": question_id(row["number"]), "initiative_id": row["initiative_id"],
            "asker": row["asker"], "text": row["text"], "status": row["status"],
            "asked_at": row["asked_at"], "answer": row["answer"],
            "answered_by": row["answered_by"], "answered_at": row["answered_at"],
            "answer_status": row["answer_status"]}


def contribution_id(number: int) -> str:
    return f"CON-{number:05d}"


def parse_id(cid: str) -> int:
    head, _, tail = cid.strip().partition("-")
    if head != "CON" or not tail.isdigit() or len(tail) > 9:
        raise ContributionNotFound(f"no contribution {cid!r}")
    return int(tail)


class ContributionStore:
    """Contributions in a SQLite file (created with mode 0600). Safe across threads and
    processes (SQLite's own locking; one connection per call)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._ready = False

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            with self._lock:
                if not self.path.exists():
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
                    os.close(fd)
                with contextlib.closing(sqlite3.connect(self.path)) as db:
                    db.executescript(_SCHEMA)
                    db.commit()
                self._ready = True
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()

    # -- reading -------------------------------------------------------------------------

    def _load(self, db: sqlite3.Connection, row: sqlite3.Row, *, history: bool = False
              ) -> Contribution:
        item = Contribution(
            contribution_id(row["number"]), row["owner"], row["status"], json.loads(row["data"]),
            row["created_at"], row["updated_at"], row["submitted_at"], row["comment"],
            row["accepted_at"], row["moderator"], bool(row["published"]))
        if history:
            item.history = [
                {"at": h["at"], "who": h["who"], "action": h["action"], "status": h["status"],
                 "comment": h["comment"], "data": json.loads(h["data"])}
                for h in db.execute("SELECT * FROM history WHERE number = ? ORDER BY rowid",
                                    (row["number"],))]
        return item

    def get(self, cid: str, *, history: bool = False) -> Contribution:
        number = parse_id(cid)
        with self._db() as db:
            row = db.execute("SELECT * FROM contributions WHERE number = ?",
                             (number,)).fetchone()
            if row is None:
                raise ContributionNotFound(f"no contribution {cid!r}")
            return self._load(db, row, history=history)

    def _list(self, statement: str, args: tuple[Any, ...] = ()) -> list[Contribution]:
        with self._db() as db:
            return [self._load(db, r) for r in db.execute(statement, args)]

    def of_owner(self, owner: str) -> list[Contribution]:
        return self._list("SELECT * FROM contributions WHERE owner = ? ORDER BY number",
                          (owner,))

    def all(self) -> list[Contribution]:
        return self._list("SELECT * FROM contributions ORDER BY number")

    def waiting(self) -> list[Contribution]:
        """What waits for a curator: submitted records, oldest first."""
        return self._list("SELECT * FROM contributions WHERE status = ? ORDER BY number",
                          (SUBMITTED,))

    def count_since(self, owner: str, since: str) -> int:
        with self._db() as db:
            row = db.execute("SELECT count(*) AS n FROM history WHERE who = ? AND at >= ? "
                             "AND action IN ('submitted', 'saved')", (owner, since)).fetchone()
            return int(row["n"])

    # -- writing -------------------------------------------------------------------------

    def create(self, owner: str, data: dict[str, Any], *, submit: bool) -> Contribution:
        now = _now()
        status = SUBMITTED if submit else DRAFT
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO contributions (owner, status, data, created_at, updated_at, "
                "submitted_at) VALUES (?, ?, ?, ?, ?, ?)",
                (owner, status, json.dumps(data), now, now, now if submit else None))
            number = int(cur.lastrowid or 0)
            self._log(db, number, owner, "submitted" if submit else "saved", status, data)
        return self.get(contribution_id(number))

    def update(self, cid: str, who: str, data: dict[str, Any], *, submit: bool | None,
               action: str) -> Contribution:
        """Store a new version. ``submit``: True sends it for moderation, False makes it
        a draft (out of the queue until sent again; an accepted version stays in the
        graph), None keeps the status (a curator's edit)."""
        item = self.get(cid)
        now = _now()
        status = item.status if submit is None else (SUBMITTED if submit else DRAFT)
        with self._db() as db:
            db.execute("UPDATE contributions SET data = ?, status = ?, updated_at = ?, "
                       "submitted_at = CASE WHEN ? THEN ? ELSE submitted_at END "
                       "WHERE number = ?",
                       (json.dumps(data), status, now, bool(submit), now, item.number))
            self._log(db, item.number, who, action, status, data)
        return self.get(cid)

    def decide(self, cid: str, who: str, status: str, *, comment: str | None = None
               ) -> Contribution:
        item = self.get(cid)
        now = _now()
        with self._db() as db:
            if status == ACCEPTED:
                db.execute("UPDATE contributions SET status = ?, accepted_at = ?, moderator = ?, "
                           "comment = ?, published = 1, updated_at = ? WHERE number = ?",
                           (status, now, who, comment, now, item.number))
            else:
                db.execute("UPDATE contributions SET status = ?, comment = ?, updated_at = ? "
                           "WHERE number = ?", (status, comment, now, item.number))
            self._log(db, item.number, who, "accepted" if status == ACCEPTED else "returned",
                      status, item.data, comment)
        return self.get(cid)

    # -- questions to the people who tried it ---------------------------------------------

    def contributors_of(self, initiative_id: str) -> set[str]:
        """The accounts whose accepted contributions recorded the initiative: those who
        answer questions about it."""
        return {c.owner for c in self.all()
                if c.published and c.initiative_id == initiative_id}

    def ask(self, initiative_id: str, asker: str, text: str) -> dict[str, Any]:
        text = text.strip()
        if not text:
            raise ContributionError("write the question")
        if len(text) > MAX_QUESTION:
            raise ContributionError(f"a question has at most {MAX_QUESTION:,} characters "
                                    f"(this one has {len(text):,})")
        with self._db() as db:
            cur = db.execute("INSERT INTO questions (initiative_id, asker, text, status, "
                             "asked_at) VALUES (?, ?, ?, ?, ?)",
                             (initiative_id, asker, text, WAITING, _now()))
            number = int(cur.lastrowid or 0)
        return self.question(question_id(number))

    def question(self, qid: str) -> dict[str, Any]:
        with self._db() as db:
            row = db.execute("SELECT * FROM questions WHERE number = ?",
                             (_question_number(qid),)).fetchone()
        if row is None:
            raise ContributionNotFound(f"no question {qid!r}")
        return _question(row)

    def questions(self, *, initiative_id: str | None = None,
                  initiatives: set[str] | None = None, asker: str | None = None
                  ) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = [_question(r) for r in db.execute("SELECT * FROM questions ORDER BY number")]
        return [q for q in rows
                if (initiative_id is None or q["initiative_id"] == initiative_id)
                and (initiatives is None or q["initiative_id"] in initiatives)
                and (asker is None or q["asker"] == asker)]

    def asked_since(self, asker: str, since: str) -> int:
        with self._db() as db:
            row = db.execute("SELECT count(*) AS n FROM questions WHERE asker = ? AND "
                             "asked_at >= ?", (asker, since)).fetchone()
            return int(row["n"])

    def answer(self, qid: str, who: str, text: str) -> dict[str, Any]:
        question = self.question(qid)
        text = text.strip()
        if question["status"] != SHOWN:
            raise ContributionError(f"{qid} is not shown yet: it waits for a curator")
        if who not in self.contributors_of(question["initiative_id"]):
            raise ContributionError("only the people who recorded the initiative answer")
        if not text:
            raise ContributionError("write the answer")
        if len(text) > MAX_QUESTION:
            raise ContributionError(f"an answer has at most {MAX_QUESTION:,} characters "
                                    f"(this one has {len(text):,})")
        with self._db() as db:
            db.execute("UPDATE questions SET answer = ?, answered_by = ?, answered_at = ?, "
                       "answer_status = ? WHERE number = ?",
                       (text, who, _now(), WAITING, _question_number(qid)))
        return self.question(qid)

    def moderate_question(self, qid: str, who: str, decision: str, *, answer: bool = False
                          ) -> dict[str, Any]:
        """A curator shows (``accepted``) or refuses (``rejected``) a question, or
        (``answer``) its answer."""
        if decision not in (SHOWN, REFUSED):
            raise ContributionError(f"decision must be {SHOWN} or {REFUSED}")
        question = self.question(qid)
        column = "answer_status" if answer else "status"
        if question[column] != WAITING:
            raise ContributionError(f"{qid}: its {'answer' if answer else 'question'} does "
                                    "not wait for moderation")
        statement = ("UPDATE questions SET answer_status = ?, moderator = ? WHERE number = ?"
                     if answer else
                     "UPDATE questions SET status = ?, moderator = ? WHERE number = ?")
        with self._db() as db:
            db.execute(statement, (decision, who, _question_number(qid)))
        return self.question(qid)

    @staticmethod
    def _log(db: sqlite3.Connection, number: int, who: str, action: str, status: str,
             data: dict[str, Any], comment: str | None = None) -> None:
        db.execute("INSERT INTO history (number, at, who, action, status, data, comment) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (number, _now(), who, action, status, json.dumps(data), comment))


# --------------------------------------------------------------------------- #
# Accepting: the one write path
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Attribution:
    """What the graph records of who contributed: only what the contributor chose to show.
    Never an account name or a contact."""

    name: str | None
    organisation: str | None
    sector: str | None

    @classmethod
    def of(cls, profile: Mapping[str, Any], data: Mapping[str, Any]) -> Attribution:
        name = str(profile.get("display_name") or "").strip() or None
        organisation = str(profile.get("organisation") or "").strip() or None
        sector = str(profile.get("sector") or "") or None
        shown_org = bool(data.get("show_organisation"))
        return cls(name if data.get("show_name") else None,
                   organisation if shown_org else None,
                   sector if shown_org and sector in {s.value for s in Sector} else None)


class AcceptedContribution(Source):
    """A contribution's rows, and its ``Contribution`` node linked to the initiative it
    records."""

    def __init__(self, item: Contribution, attribution: Attribution, moderator: str) -> None:
        self.item = item
        self.attribution = attribution
        self.moderator = moderator
        self.label = f"contribution:{item.id}"
        self.accepted_at = _now()

    def open(self) -> MemoryBundle:
        return MemoryBundle(self.label, to_files(self.item.number, self.item.data))

    def apply(self, graph: Store, result: IngestResult, touched: Touched) -> None:
        if result.errors:
            return  # nothing is recorded as contributed unless all of it loaded
        if self.item.published:
            self._remove_dropped(graph, touched)
        props = {"id": self.item.id, "moderator": self.moderator,
                 "accepted_at": self.accepted_at, "submitted_at": self.item.submitted_at,
                 "contributor": self.attribution.name,
                 "organisation": self.attribution.organisation,
                 "sector": self.attribution.sector,
                 "visibility": self.item.data.get("visibility") or Visibility.PUBLIC.value}
        props = {k: v for k, v in props.items() if v is not None}
        graph.write(queries.upsert_nodes(Label.CONTRIBUTION),
                    {"rows": [{"id": self.item.id, "props": props}],
                     "run_id": result.run_id})
        graph.write(queries.sync_links(Link.CONTRIBUTION_INITIATIVE),
                    {"rows": [{"id": self.item.id, "targets": [self.item.initiative_id]}],
                     "run_id": result.run_id, "rel_props": {}})


    def _remove_dropped(self, graph: Store, touched: Touched) -> None:
        """An update of an accepted record: the lessons, outcomes and evaluations its new
        version no longer holds leave the graph (the solutions whose evidence loses an
        evaluation have their verdict recorded again)."""
        ids = row_ids(self.item.number)
        files = to_files(self.item.number, self.item.data)
        for label, file, key in ((Label.LESSON, "lessons.csv", "lesson"),
                                 (Label.OUTCOME, "outcomes.csv", "outcome"),
                                 (Label.EVALUATION, "evaluations.csv", "evaluation")):
            column = ROW_TYPE_BY_FILE[file].ID_COLUMN
            keep = [row[column] for row in files.get(file, [])]
            dropped = [str(r["id"]) for r in graph.read(queries.contributed_ids(label), {
                "prefix": f"{ids[key]}-", "keep": keep})]
            if not dropped:
                continue
            if label is Label.EVALUATION:
                touched.solutions_of(graph, queries.SOLUTIONS_OF_EVALUATIONS, dropped)
            graph.write(queries.delete_nodes_by_ids(label), {"ids": dropped})


def accept(store: Store, contributions: ContributionStore, cid: str, *, moderator: str,
           profile: Mapping[str, Any], comment: str | None = None) -> tuple[Contribution,
                                                                            IngestResult]:
    """Load a submitted contribution into the graph through the one write path, and mark
    it accepted. Refused (nothing written) when it is not waiting for moderation or when
    any of its rows would be rejected."""
    item = contributions.get(cid)
    if item.status != SUBMITTED:
        raise ContributionError(f"{cid} is {item.status}, not waiting for moderation")
    found = problems(store, item.number, item.data)
    if found:
        raise ContributionError(f"{cid} cannot be accepted as it is: "
                                + "; ".join(str(p.problem) for p in found[:5]))
    source = AcceptedContribution(item, Attribution.of(profile, item.data), moderator)
    result = run(store, source)
    if result.errors:
        raise ContributionError(f"{cid} was not accepted: "
                                + "; ".join(str(p) for p in result.errors[:5]))
    return contributions.decide(cid, moderator, ACCEPTED, comment=comment), result


def return_to_contributor(contributions: ContributionStore, cid: str, *, moderator: str,
                          comment: str) -> Contribution:
    item = contributions.get(cid)
    if item.status != SUBMITTED:
        raise ContributionError(f"{cid} is {item.status}, not waiting for moderation")
    if not comment.strip():
        raise ContributionError("say what the contributor should change (a comment)")
    return contributions.decide(cid, moderator, RETURNED, comment=comment.strip())


def default_path() -> Path:
    from triedbefore.graph import settings

    return settings.data_dir() / "contributions.sqlite3"
