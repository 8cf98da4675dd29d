"""Serving the explorer: one process with threads, or pre-forked worker processes.

Pages are mostly Python work (templates, charts, the rules), which one interpreter
runs on one core at a time. ``workers`` > 1 serves with gunicorn: that many
processes, each with its own threads and store connections. ``workers`` = 1 serves from
this process with Werkzeug's threaded server.

The whole-graph answers the pages share are computed once per graph version and kept
on disk for every process (``web/answers.py``). The server reports itself ready only
once they are there: with several workers, the main process computes (or loads) them
before it forks the workers, which start with them in memory.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from triedbefore.graph import GraphError

Ready = Callable[[str, int], None]


def warm(app: Flask) -> None:
    """Compute or load the shared whole-graph answers, before the server takes requests."""
    from triedbefore.web import explore

    try:
        with app.test_request_context("/"):
            explore.warm()
    except GraphError as exc:  # the first visitor sees the error, with its message
        app.logger.warning("warming the explorer's answers failed: %s", exc)


def warm_in_background(app: Flask) -> None:
    """:func:`warm` in a thread: a worker started after the graph changed computes or
    loads the new version's answers while requests that need one wait for it (a worker
    blocked in its start would be stopped by gunicorn's timeout)."""
    threading.Thread(target=warm, args=(app,), name="warm", daemon=True).start()


def warm_ahead(make_app: Callable[[], Flask]) -> None:
    """Compute (or load) the shared answers in this process before it starts the workers:
    they are kept on disk, and the workers, forked from this process, start with them in
    memory. The store's connections are closed (each worker opens its own)."""
    app = make_app()
    warm(app)
    store = app.extensions.pop("triedbefore_store", None)
    if store is not None:
        store.close()


def serve(make_app: Callable[[], Flask], host: str, port: int, *, workers: int = 1,
          threads: int = 8, ready: Ready | None = None, quiet: bool = False) -> None:
    """Serve until interrupted (SIGINT or SIGTERM). ``make_app`` builds the application
    (in each worker when there are several); ``ready(host, port)`` is called once the
    socket listens (``port`` 0 picks a free port: ``ready`` gets the real one)."""
    if workers <= 1:
        _threaded(make_app(), host, port, ready, quiet)
    else:
        _Gunicorn(make_app, host, port, workers, threads, ready, quiet).run()


def _json_errors_handler() -> type:
    """Werkzeug's request handler, whose own errors (sent before the app sees the request:
    a request line over 64 KiB is 414, a malformed one 400) are the explorer's JSON
    envelope rather than http.server's HTML page."""
    from werkzeug.serving import WSGIRequestHandler

    class Handler(WSGIRequestHandler):
        def send_error(self, code: int, message: str | None = None,
                       explain: str | None = None) -> None:
            text = message or self.responses.get(code, ("error",))[0]
            body = json.dumps({"ok": False, "error": text, "status": code}).encode()
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.writelines([body])  # (not a store write)

    return Handler


def _threaded(app: Flask, host: str, port: int, ready: Ready | None, quiet: bool) -> None:
    from werkzeug.serving import make_server

    if quiet:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    http = make_server(host, port, app, threaded=True, request_handler=_json_errors_handler())
    if threading.current_thread() is threading.main_thread():
        # SIGTERM ends the process as Ctrl-C does: the exit handlers run (the query
        # console's server, started by this process, is stopped with it).
        signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    warm(app)  # the socket listens: requests wait for the answers rather than fail
    if ready is not None:
        ready(host, http.server_port)
    try:
        http.serve_forever()
    finally:
        http.server_close()


try:
    from gunicorn import util as _gunicorn_util
    from gunicorn.app.base import BaseApplication
    from gunicorn.workers.gthread import ThreadWorker
except ImportError:  # pragma: no cover - gunicorn is a dependency on every supported OS
    BaseApplication = ThreadWorker = object


def _json_error(sock: Any, status: int, reason: str, message: str) -> None:
    """gunicorn's own answer to a request it refuses before the app sees it (a request
    line over 8,190 characters is 414, a malformed one 400), in the explorer's JSON
    envelope, as the single-process server's (:func:`_json_errors_handler`)."""
    if status == 414:
        message = (f"the address is longer than {_LINE_MAX} characters (a long proposal "
                   "is sent by POST, as the proposal check's form does)")
    body = json.dumps({"ok": False, "error": message, "status": status}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    _gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


class _Worker(ThreadWorker):  # type: ignore[misc, valid-type]
    """gunicorn's threaded worker, its own error answers in the JSON envelope. gunicorn
    has no hook for them: its error handler calls ``gunicorn.util.write_error``, which
    each worker process replaces once it has forked (the arbiter keeps gunicorn's)."""

    def init_process(self) -> None:
        _gunicorn_util.write_error = _json_error
        super().init_process()


#: gunicorn's largest bound on the request line (the app's own, ``MAX_URL_LENGTH``, is
#: higher: longer lines get gunicorn's 414, in the JSON envelope).
_LINE_MAX = 8190


class _Gunicorn(BaseApplication):  # type: ignore[misc, valid-type]
    def __init__(self, make_app: Callable[[], Flask], host: str, port: int, workers: int,
                 threads: int, ready: Ready | None, quiet: bool) -> None:
        if BaseApplication is object:
            raise RuntimeError("serving with several workers needs gunicorn "
                               "(pip install gunicorn)")
        self._make_app, self._ready = make_app, ready
        self._options = {
            "bind": f"{host}:{port}", "workers": workers, "threads": threads,
            "worker_class": _Worker, "timeout": 120, "graceful_timeout": 10,
            "limit_request_line": _LINE_MAX,
            "accesslog": None, "errorlog": "-", "loglevel": "warning" if quiet else "info",
            "when_ready": self._when_ready, "post_worker_init": self._post_worker_init,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn 25.1+ opens a control socket at one path per user
            # ($HOME/.gunicorn/gunicorn.ctl): two explorers on one machine would take it
            # from each other. This command starts and stops its own workers.
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Flask:
        return self._make_app()

    def _when_ready(self, server: Any) -> None:
        warm_ahead(self._make_app)  # before the workers start: they load the answers
        if self._ready is not None:
            host, port = server.LISTENERS[0].sock.getsockname()[:2]
            self._ready(str(host), int(port))

    @staticmethod
    def _post_worker_init(worker: Any) -> None:
        warm_in_background(worker.wsgi)
