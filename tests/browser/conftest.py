"""Browser tests: the explorer, loaded with the sample bundle, served on a free loopback
port, and driven in a real headless Chromium through Playwright's sync API.

Chromium is Debian's package (``/usr/bin/chromium``; ``bash .ci/setup`` installs it), never
Playwright's own browser download. A missing Chromium or Playwright fails these tests, it
does not skip them: CI installs both. ``TRIEDBEFORE_CHROMIUM`` names another binary.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from triedbefore.graph.embedded import EmbeddedServer
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.store import StoreURI
from triedbefore.ingest.pipeline import ingest
from triedbefore.web.app import create_app

SAMPLE = Path(__file__).resolve().parents[2] / "ingest" / "sample"
DEMO = Path(__file__).resolve().parents[2] / "ingest" / "demo" / "bundle"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("TRIEDBEFORE_CHROMIUM", "/usr/bin/chromium")
# As this machine's notes require: no GPU, no network chatter of Chromium's own (the
# machine's network is closed), a fresh profile (Playwright makes one per launch).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SETUP_HINT = "run `bash .ci/setup` (it installs Debian's chromium and the dev extras)"


@pytest.fixture(scope="session")
def sample_store(embedded_server: EmbeddedServer,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[FalkorStore]:
    """A graph of its own on the session's server, holding the sample bundle."""
    name = f"browser_{uuid.uuid4().hex[:12]}"
    uri = StoreURI("falkordb", f"falkordb+unix://{embedded_server.socket_path}?graph={name}",
                   path=embedded_server.socket_path, graph=name)
    store = FalkorStore(uri, socket_path=embedded_server.socket_path)
    try:
        ingest(store, SAMPLE, report_dir=tmp_path_factory.mktemp("reports"))
        yield store
    finally:
        store.drop_all()
        store.close()


@pytest.fixture(scope="session")
def live_server(sample_store: FalkorStore) -> Iterator[str]:
    """The explorer served on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    app = create_app({"STORE": sample_store, "SECRET_KEY": "test"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="explorer", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def demo_server(embedded_server: EmbeddedServer,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The explorer on the demo corpus (real organisations, long names and source
    addresses), served like ``live_server``; yields its base URL."""
    name = f"browser_demo_{uuid.uuid4().hex[:12]}"
    uri = StoreURI("falkordb", f"falkordb+unix://{embedded_server.socket_path}?graph={name}",
                   path=embedded_server.socket_path, graph=name)
    store = FalkorStore(uri, socket_path=embedded_server.socket_path)
    server = None
    try:
        assert ingest(store, DEMO, report_dir=tmp_path_factory.mktemp("reports")).exit_code == 0
        server = make_server("127.0.0.1", 0, create_app({"STORE": store, "SECRET_KEY": "test"}),
                             threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="demo", daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_port}"
        server.shutdown()
        thread.join(timeout=10)
    finally:
        if server is not None:
            server.server_close()
        store.drop_all()
        store.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"Chromium is missing ({CHROMIUM} not found): {SETUP_HINT}", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the Python package playwright is not installed: {SETUP_HINT}",
                    pytrace=False)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Problems:
    """What the page reported: console errors and uncaught exceptions, plus the requests
    it made to other hosts (answered with a network error: see ``page``)."""

    console: list[str] = field(default_factory=list)
    uncaught: list[str] = field(default_factory=list)
    offsite: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return self.console + self.uncaught


@pytest.fixture
def page_problems() -> Problems:
    return Problems()


@pytest.fixture
def page(browser: Any, live_server: str, page_problems: Problems) -> Iterator[Any]:
    """A fresh context and page whose relative URLs resolve against the live server.

    Requests to any other host are aborted, as on a machine without internet, so the run
    is the same everywhere (and never waits on a slow network); the pages must work
    without them. The failed loads those requests log, and the browser's own request for
    /favicon.ico, are not counted as the page's console errors."""
    origin = live_server + "/"
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900},
                                  locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(10_000)

    def offsite(route: Any) -> None:
        page_problems.offsite.append(route.request.url)
        route.abort("internetdisconnected")

    context.route(lambda url: not url.startswith(origin), offsite)

    def on_console(msg: Any) -> None:
        if msg.type != "error":
            return
        url = str((msg.location or {}).get("url") or "")
        if msg.text.startswith("Failed to load resource") and (
                not url.startswith(origin) or url == origin + "favicon.ico"):
            return
        page_problems.console.append(f"{msg.text} (at {url or 'unknown'})")

    p = context.new_page()
    p.on("console", on_console)
    p.on("pageerror", lambda exc: page_problems.uncaught.append(str(exc)))
    try:
        yield p
    finally:
        context.close()


@pytest.fixture
def demo_page(browser: Any, demo_server: str) -> Iterator[Any]:
    """A page on the demo's server, which fails its test on an uncaught exception (the
    ``page`` fixture allows only the sample's server)."""
    context = browser.new_context(base_url=demo_server, viewport={"width": 1366, "height": 900},
                                  locale="en-GB", timezone_id="Europe/London")
    context.route(lambda url: not url.startswith(demo_server + "/"),
                  lambda route: route.abort("internetdisconnected"))
    errors: list[str] = []
    p = context.new_page()
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield p
        assert errors == [], errors
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
