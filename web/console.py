"""The query console: researchers run their own read-only Cypher against the graph.

``/console`` is the page (a Cypher editor, row-limit and timeout fields, the schema, example
statements, the result as a table); ``/console.json`` and ``/console.csv`` are its twins;
``/console/schema.json`` is the schema sidebar as JSON. Every route takes ``q`` (the
statement), ``limit`` (rows, 1 to ``CONSOLE_ROW_LIMIT``, default the smaller of 100 and
that) and ``timeout`` (milliseconds, 1 to ``CONSOLE_TIMEOUT_MS``, default the maximum), by
GET (shareable URLs) or by POST from the page's form (CSRF-protected app-wide, see
``auth.py``).

Statements run through :func:`triedbefore.graph.readonly.run_read_only`, which refuses
anything that is not a pure read. Answers:

- ``/console.json``: ``{"ok": true, "columns", "rows", "truncated", "elapsed_ms"}``;
  ``rows`` are objects keyed by column.
- A refused statement, a statement the database rejects (its message is passed on) and a
  statement that runs out of time are all **400**, with the envelope ``{"ok": false,
  "error", "status": 400, "kind"}``, ``kind`` being ``refused``, ``query_error`` or
  ``timeout`` (whose message says "timed out"). Not 408: browsers and proxies may repeat
  a request answered 408, which would run an expensive statement again. The page shows
  the same message in an alert (``role="alert"``), also with status 400; ``.csv`` errors
  use the JSON envelope.
- A statement that finds every place for console statements taken for its whole time
  limit is 503 with ``Retry-After`` (``kind`` ``busy``); an unreachable store is 503, as
  everywhere in the explorer.

The console needs sign-in (a redirect to ``/login`` for the page, 401 for its twins) unless
``CONSOLE_ANONYMOUS`` (setting ``console_anonymous``) opens it to signed-out readers.
Statements run on the store ``get_store`` gives the request: the whole graph for users
who may see restricted records, and for everyone else the public copy, a second graph
(database) holding no restricted record at all, so no statement can reach one however it
is written. With the embedded store they run on the console's own server, a read-only
replica of it (:mod:`triedbefore.graph.console_server`, setting ``console_server``), which
is killed and started again when a statement overruns its time or memory, so the pages'
server never runs one. Console requests are rate-limited per signed-in user, or per client address
when signed out (``CONSOLE_RATE``).
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from triedbefore.graph import QueryError, QueryRefused, queries
from triedbefore.graph.console_server import (
    ConsoleServerStopped,
    ConsoleSupervisor,
    supervisor_for,
)
from triedbefore.graph.readonly import (
    MAX_STATEMENT_LENGTH,
    QueryBusy,
    QueryTimedOut,
    ReadResult,
    run_read_only,
)
from triedbefore.ontology.cells import neutralise
from triedbefore.ontology.vocab import Label
from triedbefore.web.pages import PAGES
from triedbefore.web.stores import full_store, get_store

bp = Blueprint("console", __name__)

#: Default row limit (when the configured maximum is larger).
DEFAULT_ROWS = 100
#: Nodes per label sampled for the schema sidebar's property names.
SCHEMA_SAMPLE = 1000

#: (title, statement) of the examples the page offers.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("Solutions by number of initiatives", queries.CONSOLE_EXAMPLE_SOLUTIONS),
    ("Evaluations of each solution", queries.CONSOLE_EXAMPLE_EVALUATIONS),
    ("Sites with the most initiatives", queries.CONSOLE_EXAMPLE_SITES),
    ("What links to what", queries.CONSOLE_EXAMPLE_LINKS),
    ("Outcome measures and how often they were reported", queries.CONSOLE_EXAMPLE_MEASURES),
    ("Initiatives that cite prior work", queries.CONSOLE_EXAMPLE_LEARNED_FROM),
)

_HEADINGS = {"refused": "Refused", "timeout": "Timed out", "busy": "The console is busy",
             "query_error": "The database could not run the statement",
             "bad_input": "Check the form"}


class _BadInput(ValueError):
    """A form field out of range."""


class RateLimiter:
    """At most ``CONSOLE_RATE`` console requests per minute per signed-in user (or, for
    anonymous users, per client address); 0 turns the limit off. Kept in memory, per
    process."""

    WINDOW = 60.0

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str, limit: int) -> float:
        """0 when the request may run (and is counted), else seconds until it may."""
        if limit <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= self.WINDOW:
                hits.popleft()
            if len(hits) >= limit:
                return self.WINDOW - (now - hits[0])
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle clients
                for k in [k for k, v in self._hits.items() if not v]:
                    del self._hits[k]
            return 0.0


@bp.before_request
def _signed_in() -> Any:
    """Signed-out readers are sent to sign in (401 for the JSON and CSV twins) unless the
    deployment opens the console to them."""
    from triedbefore.web.auth import current_user

    if current_app.config["CONSOLE_ANONYMOUS"] or current_user() is not None:
        return None
    if request.path.endswith((".json", ".csv")):
        return jsonify({"ok": False, "error": "sign in to use the query console",
                        "status": 401}), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _rate_limited() -> Any:
    """A 429 answer when this client has used up its console requests, else None."""
    from triedbefore.web.auth import current_user
    from triedbefore.web.negotiation import wants_json

    limiter: RateLimiter = current_app.extensions.setdefault("triedbefore.console_limiter",
                                                             RateLimiter())
    user = current_user()
    key = f"user:{user.name}" if user else f"addr:{request.remote_addr or '-'}"
    wait = limiter.retry_after(key, int(current_app.config["CONSOLE_RATE"]))
    if wait <= 0:
        return None
    message = (f"too many console requests; try again in {int(wait) + 1} seconds")
    headers = {"Retry-After": str(int(wait) + 1)}
    if wants_json():
        return jsonify({"ok": False, "error": message, "status": 429}), 429, headers
    return render_template("console.html", form=_request(), result=None, table=None,
                           error={"error": message, "kind": "rate_limited"},
                           error_heading="Slow down", schema={"labels": [],
                                                              "relationship_types": [],
                                                              "error": None},
                           examples=EXAMPLES, urls=None), 429, headers


def _limits() -> tuple[int, int]:
    cfg = current_app.config
    return max(1, int(cfg["CONSOLE_ROW_LIMIT"])), max(1, int(cfg["CONSOLE_TIMEOUT_MS"]))


def _source() -> Mapping[str, str]:
    return request.form if request.method == "POST" else request.args


def _int_field(name: str, default: int, hi: int) -> int:
    raw = (_source().get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _BadInput(f"{name} must be a whole number") from None
    if not 1 <= value <= hi:
        raise _BadInput(f"{name} must be between 1 and {hi}")
    return value


def _request() -> dict[str, Any]:
    """The statement and limits asked for; ``error`` when a field is out of range."""
    max_rows, max_timeout = _limits()
    form: dict[str, Any] = {"q": _source().get("q") or "", "limit": min(DEFAULT_ROWS, max_rows),
                            "timeout": max_timeout, "max_rows": max_rows,
                            "max_timeout": max_timeout, "error": None}
    try:
        form["limit"] = _int_field("limit", form["limit"], max_rows)
        form["timeout"] = _int_field("timeout", max_timeout, max_timeout)
        if len(form["q"]) > MAX_STATEMENT_LENGTH:
            raise _BadInput(f"the statement is longer than {MAX_STATEMENT_LENGTH} characters")
    except _BadInput as exc:
        form["error"] = {"error": str(exc), "kind": "bad_input"}
    return form


def _supervisor() -> ConsoleSupervisor | None:
    """The supervisor of the console's own server (a replica of the embedded store), or
    None when statements run on the store's server (``CONSOLE_SERVER`` ``shared``, or a
    store the explorer does not run)."""
    mode = str(current_app.config["CONSOLE_SERVER"])
    if mode == "shared":
        return None
    if mode != "replica":
        current_app.logger.error("console_server %r is not replica or shared: replica",
                                 mode)
    uri = full_store().uri
    if uri.engine != "embedded":
        return None
    return supervisor_for(uri, memory_limit_mb=int(current_app.config["CONSOLE_MEMORY_MB"]))


def _run(form: dict[str, Any]) -> tuple[ReadResult | None, dict[str, str] | None]:
    """The result, or the error as ``{"error", "kind"}``."""
    slots = max(1, int(current_app.config["CONSOLE_QUERIES"]))
    try:
        store = get_store()  # which graph this reader may read (and the public copy made)
        supervisor = _supervisor()
        if supervisor is not None:
            result = supervisor.run(form["q"], public=store.public_only,
                                    row_limit=form["limit"], timeout_ms=form["timeout"],
                                    slots=slots)
        else:
            result = run_read_only(store, form["q"], None, row_limit=form["limit"],
                                   timeout_ms=form["timeout"], slots=slots)
    except QueryRefused as exc:
        return None, {"error": str(exc), "kind": "refused"}
    except QueryBusy as exc:
        return None, {"error": str(exc), "kind": "busy"}
    except QueryTimedOut as exc:
        return None, {"error": str(exc), "kind": "timeout"}
    except ConsoleServerStopped as exc:
        return None, {"error": str(exc), "kind": "query_error"}
    except QueryError as exc:
        return None, {"error": f"the database could not run the statement: {exc}",
                      "kind": "query_error"}
    return result, None


def _status(error: dict[str, str]) -> tuple[int, dict[str, str]]:
    """400 for the statement's own faults; 503 with ``Retry-After`` when the console is
    busy."""
    if error["kind"] == "busy":
        return 503, {"Retry-After": str(max(1, _limits()[1] // 1000))}
    return 400, {}


def _error_json(error: dict[str, str]) -> Any:
    status, headers = _status(error)
    return jsonify({"ok": False, "error": error["error"], "status": status,
                    "kind": error["kind"]}), status, headers


def _answer() -> tuple[ReadResult | None, dict[str, str] | None]:
    form = _request()
    if form["error"] is not None:
        return None, form["error"]
    if not form["q"].strip():
        return None, {"error": "parameter 'q' (the statement) is required", "kind": "bad_input"}
    return _run(form)


def schema() -> dict[str, Any]:
    """Labels with the property names of a sample of their nodes, and relationship types."""
    store = get_store()
    _rows, timeout = _limits()
    known = {label.value: label for label in Label}
    try:
        labels = [str(r["label"]) for r in store.read(queries.CONSOLE_LABELS,
                                                      timeout_ms=timeout)]
        types = [str(r["type"]) for r in store.read(queries.CONSOLE_RELATIONSHIP_TYPES,
                                                    timeout_ms=timeout)]
        entries = []
        for name in labels:
            keys: list[str] = []
            if name in known:
                keys = [str(r["key"]) for r in store.read(
                    queries.console_label_keys(known[name]), {"sample": SCHEMA_SAMPLE},
                    timeout_ms=timeout)]
            entries.append({"label": name, "keys": keys})
    except QueryError as exc:
        current_app.logger.warning("console schema: %s", exc)
        return {"labels": [], "relationship_types": [], "error": "the schema could not be read"}
    return {"labels": entries, "relationship_types": types, "error": None}


def _cell(value: Any) -> str:
    """A value as the page shows it: text as is, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return neutralise(value)
    if isinstance(value, int | float):
        return value  # a number is never a formula (and -1 must stay a number)
    if isinstance(value, Mapping) or (isinstance(value, list)
                                      and any(isinstance(v, Mapping | list) for v in value)):
        return neutralise(json.dumps(value, ensure_ascii=False))
    return neutralise(value)


def _urls(form: dict[str, Any]) -> dict[str, str]:
    args = {"q": form["q"], "limit": form["limit"], "timeout": form["timeout"]}
    return {"share": url_for("console.console", **args),
            "json": url_for("console.console_json", **args),
            "csv": url_for("console.console_csv", **args)}


@bp.route("/console", methods=["GET", "POST"])
def console() -> Any:
    limited = _rate_limited()
    if limited is not None:
        return limited
    form = _request()
    result: ReadResult | None = None
    error = form["error"]
    if error is None and form["q"].strip():
        result, error = _run(form)
    table = None
    if result is not None:
        table = [[_cell(row[c]) for c in result.columns] for row in result.rows]
    page = render_template(
        "console.html", form=form, result=result, table=table, error=error,
        error_heading=_HEADINGS.get(error["kind"], "Error") if error else None,
        schema=schema(), examples=EXAMPLES, urls=_urls(form) if form["q"].strip() else None)
    if error:
        return (page, *_status(error))
    return page, 200


@bp.route("/console.json", methods=["GET", "POST"])
def console_json() -> Any:
    limited = _rate_limited()
    if limited is not None:
        return limited
    result, error = _answer()
    if error is not None or result is None:
        return _error_json(error or {"error": "no result", "kind": "query_error"})
    return jsonify({"ok": True, **result.to_dict()})


@bp.route("/console.csv", methods=["GET", "POST"])
def console_csv() -> Any:
    limited = _rate_limited()
    if limited is not None:
        return limited
    result, error = _answer()
    if error is not None or result is None:
        return _error_json(error or {"error": "no result", "kind": "query_error"})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([neutralise(c) for c in result.columns])
    for row in result.rows:
        writer.writerow([_csv_cell(row[c]) for c in result.columns])
    return Response(buf.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="console.csv"',
        "X-Truncated": "true" if result.truncated else "false"})


@bp.route("/console/schema.json")
def console_schema_json() -> Any:
    limited = _rate_limited()
    if limited is not None:
        return limited
    return jsonify({"ok": True, **schema()})


PAGES.append({"rule": "/console", "endpoint": "console.console", "title": "Query console",
              "json": "/console.json", "csv": "/console.csv", "methods": ("GET", "POST")})
