"""The explorer: a Flask application factory (no app object at import time)."""

from __future__ import annotations

import os
import secrets
from typing import Any
from urllib.parse import urlencode

from flask import Flask, abort, jsonify, render_template, request
from flask_babel import lazy_gettext
from markupsafe import Markup, escape
from werkzeug import exceptions as werkzeug_errors
from werkzeug.exceptions import HTTPException

from triedbefore.graph import BadArgument, GraphError, NotFound, settings
from triedbefore.graph.replicated import ReplicationTimeout
from triedbefore.ontology.cells import show_controls
from triedbefore.web.negotiation import wants_json
from triedbefore.web.pages import PastLastPage


def _displayed(value: Any) -> Any:
    """Every ``{{ … }}`` of the templates: text shows its bidirectional control characters
    as markers (``[U+202E]``), so that no record's name displays as another."""
    if isinstance(value, Markup):
        return Markup(show_controls(str(value)))
    if isinstance(value, str):
        return show_controls(value)
    return value


def _yes(setting: settings.Setting) -> bool:
    """A yes/no setting; anything else is refused rather than guessed."""
    value = setting.get().strip().lower()
    if value in ("yes", "true", "1", "on"):
        return True
    if value in ("no", "false", "0", "off"):
        return False
    raise ValueError(f"{setting.env} must be yes or no, not {value!r}")


def _secret_key() -> str:
    configured = settings.SECRET_KEY.get()
    if configured:
        return configured
    path = settings.data_dir() / "secret_key"
    try:
        return path.read_text().strip()
    except OSError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


#: Sent with every response. The pages load scripts and styles from this origin only, with
#: no inline script or style, and images from it plus the OpenStreetMap tiles of the site
#: maps (the browser tests fail on any CSP violation).
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'",
    "img-src 'self' data: https://tile.openstreetmap.org",
    "font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'",
    "frame-ancestors 'none'", "form-action 'self'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


#: What a reader is told, by status; other statuses say werkzeug's name and description.
ERROR_TEXT = {
    404: (lazy_gettext("Page not found"), lazy_gettext("There is no page at this address.")),
    500: (lazy_gettext("Something went wrong"),
          lazy_gettext("The explorer failed to build this page; the failure is logged.")),
    503: (lazy_gettext("Service unavailable"),
          lazy_gettext("The graph store is unavailable or refused the query.")),
}


def error_page(exc: HTTPException) -> Any:
    """An error as a page of the site (its navigation, a search box), with the error's
    status and headers. If that page cannot be built, a plain one says the same."""
    if exc.code is None or exc.code < 400 or exc.response is not None:
        return exc
    title, message = ERROR_TEXT.get(exc.code, (exc.name, exc.description or exc.name))
    if exc.description and exc.description != type(exc).description and exc.code != 500:
        message = exc.description  # what exactly was not found, or was wrong
    response = exc.get_response()
    try:
        last_page = None
        if isinstance(exc, PastLastPage) and request.method == "GET":
            title = str(lazy_gettext("Past the last page"))
            last_page = (exc.last, request.path + "?" + urlencode(
                {**request.args.to_dict(), exc.parameter: str(exc.last)}))
        typed = request.args.get("q") if request.method == "GET" else None
        query = typed or request.path.rstrip("/").rsplit("/", 1)[-1]
        html = render_template("error.html", title=title, message=message, status=exc.code,
                               query="".join(c for c in query[:200] if c not in _CONTROL),
                               last_page=last_page)
    except Exception:  # noqa: BLE001 - the error page must not fail in turn
        html = (f'<!doctype html><html lang="en"><title>{escape(title)}</title>'
                f'<h1>{escape(title)}</h1><p>{escape(message)}</p><p><a href="/">Home</a></p>')
    response.set_data(html)
    response.content_type = "text/html; charset=utf-8"
    return response


#: C0 control characters and DEL. No id holds one, and the store cannot hold a NUL.
_CONTROL = frozenset(chr(c) for c in (*range(0x20), 0x7F))
#: Those a parameter or form field may hold: text typed in a box (a console statement).
_TYPED = frozenset("\t\n\r")


def control_character_in_request() -> str | None:
    """Where the request holds a control character no id or value may hold: the path
    (any of them), or a query parameter or form field (any but tab and line breaks)."""
    if not _CONTROL.isdisjoint(request.path):
        return "the address"
    for where, values in (("parameter", request.args), ("form field", request.form)):
        for name, value in values.items(multi=True):
            if not (_CONTROL - _TYPED).isdisjoint(value) or \
                    not (_CONTROL - _TYPED).isdisjoint(name):
                return f"the {where} {name!r}"
    return None


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the explorer. ``STORE_URI`` selects the store (None: the default store);
    ``STORE`` may give an open :class:`Store` directly (tests)."""
    app = Flask(__name__)
    app.config.from_mapping(
        STORE_URI=None, STORE=None, PAGE_SIZE=50,
        CONSOLE_ROW_LIMIT=int(settings.CONSOLE_ROW_LIMIT.get()),
        CONSOLE_TIMEOUT_MS=int(settings.CONSOLE_TIMEOUT_MS.get()),
        CONSOLE_RATE=int(settings.CONSOLE_RATE.get()),
        CONSOLE_ANONYMOUS=_yes(settings.CONSOLE_ANONYMOUS),
        CONSOLE_QUERIES=int(settings.CONSOLE_QUERIES.get()),
        CONSOLE_SERVER=settings.CONSOLE_SERVER.get(),
        CONSOLE_MEMORY_MB=int(settings.CONSOLE_MEMORY_MB.get()),
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        RESTRICTED_ROLE=settings.RESTRICTED_ROLE.get(),
        PUBLIC_URL=settings.PUBLIC_URL.get(),
        USERS_FILE=str(settings.data_dir() / "users.json"),
        # whole-graph answers shared by every process, per graph version (None: not kept)
        ANSWERS_DIR=str(settings.data_dir() / "cache" / "answers"),
        MAX_URL_LENGTH=65_000,
        NODE_MODULES=None,  # None: the package's own front-end files (web/graphview.py)
    )
    if test_config:
        app.config.update(test_config)
    from triedbefore.web.auth import ROLES

    @app.before_request
    def refuse_control_characters() -> Any:
        """Refused at the edge, before any handler or the store sees them (a NUL reached
        the store and was answered 503): 400, in JSON for the JSON API."""
        where = control_character_in_request()
        if where is None:
            return None
        message = (f"{where} holds a control character (U+0000 to U+001F or U+007F), "
                   "which no id or value may hold")
        if request.path.startswith("/console") and wants_json():  # the console's envelope
            return jsonify({"ok": False, "error": message, "status": 400,
                            "kind": "bad_input"}), 400
        raise werkzeug_errors.BadRequest(message)

    if app.config["RESTRICTED_ROLE"] not in ROLES:
        raise ValueError(f"restricted_role must be one of {', '.join(ROLES)}")
    from triedbefore.web.links import check_public_url, site_root

    app.config["PUBLIC_URL"] = check_public_url(str(app.config.get("PUBLIC_URL") or ""))
    app.jinja_env.globals["site_root"] = site_root
    app.jinja_env.finalize = _displayed
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key()

    from triedbefore.web import (
        apidocs,
        auth,
        console,
        contribute,
        curation,
        explore,
        graphview,
        i18n,
        living,
    )

    i18n.init_app(app)
    auth.init_app(app)
    for module in (explore, living, console, curation, graphview, apidocs, auth, contribute):
        app.register_blueprint(module.bp)

    @app.after_request
    def security_headers(response: Any) -> Any:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config.get("PREFER_HTTPS"):
            response.headers.setdefault("Strict-Transport-Security",
                                        "max-age=31536000; includeSubDomains")
        return response

    @app.before_request
    def address_length() -> None:
        """An address longer than ``MAX_URL_LENGTH`` is 414 (JSON on the JSON routes), the
        same whichever server runs the app."""
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or \
            request.full_path
        if len(raw) > int(app.config["MAX_URL_LENGTH"]):
            abort(414, f"the address is longer than {app.config['MAX_URL_LENGTH']} characters")

    @app.before_request
    def described_query() -> None:
        """The JSON twins and downloads take what the OpenAPI document says they take
        (its types, values, lengths and formats): anything else is 400."""
        from triedbefore.web.openapi import query_problem

        if request.url_rule is None or request.routing_exception is not None:
            return
        why = query_problem(app, request.url_rule.rule, request.method,
                            request.args.to_dict(flat=False))
        if why is not None:
            abort(400, why)

    @app.template_filter("web_link")
    def web_link(value: Any) -> str | None:
        """A link target only for http(s) addresses: data never becomes a ``javascript:``
        or ``data:`` link."""
        text = str(value or "").strip()
        return text if text.lower().startswith(("https://", "http://")) else None

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if wants_json():
            # the error's own headers stay (405's Allow, 429's Retry-After…)
            headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
            return jsonify({"ok": False, "error": exc.description, "status": exc.code}), \
                exc.code, headers
        return error_page(exc)

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound) -> Any:
        return http_error(werkzeug_errors.NotFound(str(exc)))

    @app.errorhandler(BadArgument)
    def bad_argument(exc: BadArgument) -> Any:
        return http_error(werkzeug_errors.BadRequest(str(exc)))

    @app.errorhandler(GraphError)
    def graph_error(exc: GraphError) -> Any:
        app.logger.warning("store error: %s", exc)
        body = {"ok": False, "error": "the graph store is unavailable or refused the query",
                "status": 503}
        if wants_json():
            return jsonify(body), 503
        return error_page(werkzeug_errors.ServiceUnavailable(body["error"]))

    @app.errorhandler(ReplicationTimeout)
    def not_replicated(exc: ReplicationTimeout) -> Any:
        """A change the primary holds but too few replicas confirmed in time: said so."""
        app.logger.warning("store error: %s", exc)
        body = {"ok": False, "status": 503,
                "error": "the change is saved on the primary database server, but no "
                         "replica confirmed it in time: it is not yet safe from a server "
                         "failure"}
        if wants_json():
            return jsonify(body), 503
        return error_page(werkzeug_errors.ServiceUnavailable(body["error"]))

    return app
