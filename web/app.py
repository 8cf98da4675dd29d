"""The explorer: a Flask application factory (no app object at import time)."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from triedbefore.graph import GraphError
from triedbefore.graph.store import Store, open_store


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the explorer. ``STORE_URI`` selects the store (None: the default store);
    ``STORE`` may give an open :class:`Store` directly (tests)."""
    app = Flask(__name__)
    app.config.from_mapping(STORE_URI=None, STORE=None, PAGE_SIZE=50)
    if test_config:
        app.config.update(test_config)

    from triedbefore.web import explore

    app.register_blueprint(explore.bp)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if _wants_json():
            return jsonify({"ok": False, "error": exc.description, "status": exc.code}), exc.code
        return exc

    @app.errorhandler(GraphError)
    def graph_error(exc: GraphError) -> Any:
        app.logger.warning("store error: %s", exc)
        body = {"ok": False, "error": "the graph store is unavailable or refused the query",
                "status": 503}
        if _wants_json():
            return jsonify(body), 503
        return f"<h1>Service unavailable</h1><p>{body['error']}</p>", 503

    @app.teardown_appcontext
    def close_store(_exc: BaseException | None) -> None:
        store = g.pop("store", None)
        if store is not None and app.config["STORE"] is None:
            store.close()

    return app


def _wants_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


def get_store() -> Store:
    from flask import current_app

    if "store" not in g:
        g.store = current_app.config["STORE"] or open_store(current_app.config["STORE_URI"])
    store: Store = g.store
    return store
