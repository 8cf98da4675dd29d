"""One mechanism for every page: a function builds the page's data; the HTML template,
the ``.json`` twin and (for pages with a table) the ``.csv`` download all render it.

Errors go through one JSON envelope ``{"ok": false, "error": message, "status": code}``
(see ``app.py``): unknown ids are 404, bad parameters 400.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import NotFound as PageNotFound

from triedbefore.graph import BadArgument, NotFound
from triedbefore.ontology.cells import neutralise

Build = Callable[..., dict[str, Any]]

#: Every registered page, for the OpenAPI description and the route tests.
PAGES: list[dict[str, Any]] = []


def _absent(name: str, raw: str | None) -> bool:
    """True when the parameter was not given. An empty value counts as not given on a page
    (its GET forms send empty fields) but is refused (400) on a JSON twin or a CSV download,
    whose OpenAPI description gives the parameter a format or a list of values that "" is
    not (the pages link to them without their empty fields)."""
    if raw is None:
        return True
    if raw != "":
        return False
    if request.path.endswith((".json", ".csv")):
        abort(400, f"parameter {name!r} is empty: leave it out, or give a value")
    return True


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if _absent(name, raw) or raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, f"parameter {name!r} must be a whole number")
    if not lo <= value <= hi:
        abort(400, f"parameter {name!r} must be between {lo} and {hi}")
    return value


def choice_arg(name: str, allowed: Iterable[str], default: str | None = None) -> str | None:
    raw = request.args.get(name)
    if _absent(name, raw) or raw is None:
        return default
    options = list(allowed)
    if raw not in options:
        abort(400, f"parameter {name!r} must be one of: {', '.join(options)}")
    return raw


def date_arg(name: str) -> str | None:
    from datetime import date

    raw = request.args.get(name)
    if _absent(name, raw) or raw is None:
        return None
    try:
        if len(raw) != 10 or raw[4] != "-" or raw[7] != "-":
            raise ValueError(raw)  # only the extended form: fromisoformat takes others
        date.fromisoformat(raw)
    except ValueError:
        abort(400, f"parameter {name!r} must be a date (YYYY-MM-DD)")
    return raw


def page_args(name: str = "page", size: int = 50) -> tuple[int, int]:
    """(page, size) from the request: ``name`` (1 is the first) and ``size`` parameters."""
    return int_arg(name, 1, 1, 1_000_000), int_arg("size", size, 1, 500)


class PastLastPage(PageNotFound):
    """404 for a page past a list's last: the error page links to the last one."""

    def __init__(self, name: str, page: int, last: int, total: int, size: int) -> None:
        super().__init__(f"parameter {name!r} is {page}, past the last page ({last}) of "
                         f"{total} row{'' if total == 1 else 's'} at {size} a page")
        self.parameter, self.last = name, last


def paged(items: list[Any], page: int, size: int, total: int,
          name: str = "page") -> dict[str, Any]:
    """One page of an ordered list of ``total`` rows, with its neighbours' numbers. A page
    past the last (a link kept after the list shrank, an address edited) is refused with
    the last page's number, not shown as an empty list under the rows' total."""
    last = max(1, -(-total // size))
    if page > last:
        raise PastLastPage(name, page, last, total, size)
    return {"items": items, "page": page, "size": size, "total": total,
            "next_page": page + 1 if page * size < total else None,
            "prev_page": page - 1 if page > 1 else None}


def paginate(rows: list[Any], size: int = 50) -> dict[str, Any]:
    """A page of an already ordered list: ``page`` and ``size`` parameters, stable order."""
    page, size = page_args("page", size)
    start = (page - 1) * size
    return paged(rows[start:start + size], page, size, len(rows))


def csv_response(rows: list[dict[str, Any]], filename: str) -> Response:
    """Rows as a CSV download. Every download has an ``illustrative`` column (``true`` for
    an invented record, ``false`` for a real one; empty for rows that are not records of
    their own), as every page shows the badge."""
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    if ILLUSTRATIVE not in columns:
        columns.append(ILLUSTRATIVE)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_illustrative_cell(row) if c == ILLUSTRATIVE
                         else neutralise(row.get(c)) for c in columns])
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


ILLUSTRATIVE = "illustrative"


def _illustrative_cell(row: dict[str, Any]) -> str:
    if ILLUSTRATIVE not in row:
        return ""
    return "true" if row[ILLUSTRATIVE] else "false"


def _build(build: Build, kwargs: dict[str, Any]) -> dict[str, Any]:
    if request.method == "POST":
        _form_as_args()
    try:
        return build(**kwargs)
    except NotFound as exc:
        abort(404, str(exc))
    except BadArgument as exc:
        abort(400, str(exc))


def _form_as_args() -> None:
    """A page that takes POST (a proposal's text is too long for an address behind some
    servers) reads its form's fields as it reads the address's parameters, the form's
    after the address's (a CSRF token sent anyway is not one of them). The page only
    reads, so its POST needs no CSRF token (``read_only``: ``web/auth.py``)."""
    from triedbefore.web.auth import CSRF_FIELD

    fields = [(k, v) for k, v in request.form.items(multi=True) if k != CSRF_FIELD]
    request.args = ImmutableMultiDict([*request.args.items(multi=True), *fields])


def register_page(bp: Blueprint, rule: str, endpoint: str, template: str, build: Build, *,
                  table: str | tuple[str, ...] | None = None, title: str = "",
                  methods: tuple[str, ...] = ("GET",),
                  decorate: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                  html_cache: Callable[[str, Callable[[], str]], str] | None = None,
                  response: type[Any] | None = None) -> None:
    """Serve ``rule`` as HTML, ``rule.json`` as JSON and, when ``table`` names the key(s)
    of the page's lists of rows, ``rule.csv`` as a CSV download (``?table=NAME`` picks one
    of several; the first is the default). ``decorate`` adds what only the HTML needs
    (charts) to the page's data. ``html_cache(key, render)`` keeps rendered pages whose
    HTML is costly, for anonymous visitors only (a signed-in page carries the session's
    CSRF token). ``response`` is the JSON twin's model (``web/schemas.py``), from which the
    OpenAPI description is generated."""

    def render(kwargs: dict[str, Any]) -> str:
        data = _build(build, kwargs)
        if decorate is not None:
            data = decorate(data)
        return render_template(template, **data)

    def html(**kwargs: Any) -> Any:
        if html_cache is None:
            return render(kwargs)
        from triedbefore.web.auth import current_user

        if current_user() is not None:
            return render(kwargs)
        from triedbefore.web.i18n import language

        return html_cache(f"html:{language()}:{request.full_path}", lambda: render(kwargs))

    def as_json(**kwargs: Any) -> Any:
        return jsonify({"ok": True, **_build(build, kwargs)})

    base = "/index" if rule == "/" else rule
    # A page only reads: its POST (a text too long for an address) needs no CSRF token.
    html.read_only = as_json.read_only = True  # type: ignore[attr-defined]
    bp.add_url_rule(rule, endpoint, html, methods=list(methods))
    bp.add_url_rule(base + ".json", endpoint + "_json", as_json, methods=list(methods))
    tables = (table,) if isinstance(table, str) else tuple(table or ())
    entry = {"rule": rule, "endpoint": f"{bp.name}.{endpoint}", "title": title or endpoint,
             "json": base + ".json", "csv": None, "methods": methods, "tables": tables,
             "response": response}
    if tables:
        def as_csv(**kwargs: Any) -> Any:
            chosen = choice_arg("table", tables, tables[0]) or tables[0]
            data = _build(build, kwargs)
            rows = data[chosen]
            if isinstance(rows, dict) and "items" in rows:
                rows = rows["items"]
            suffix = "" if chosen == tables[0] else "-" + chosen.replace("_", "-")
            name = endpoint.replace("_", "-") + suffix + ".csv"
            return csv_response(list(rows), name)

        bp.add_url_rule(base + ".csv", endpoint + "_csv", as_csv, methods=list(methods))
        entry["csv"] = base + ".csv"
    PAGES.append(entry)
