"""Browser tests: the explorer, loaded with the sample bundle, served on a free loopback
port, and driven in a real headless Chromium through Playwright's sync API.

Chromium is Debian's package (``/usr/bin/chromium``; ``bash .ci/setup`` installs it), never
Playwright's own browser download. A missing Chromium or Playwright fails these tests, it
does not skip them: CI installs both. ``TRIEDBEFORE_CHROMIUM`` names another binary.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from triedbefore.graph.embedded import EmbeddedServer
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.store import StoreURI
from triedbefore.ingest.pipeline import ingest
from triedbefore.web import auth
from triedbefore.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "ingest" / "sample"
#: Screenshots of the pages, kept in the repository: the README shows some of them.
SCREENSHOTS = ROOT / "docs" / "screenshots"
DEMO = ROOT / "ingest" / "demo" / "bundle"
CHROMIUM = os.environ.get("TRIEDBEFORE_CHROMIUM", "/usr/bin/chromium")
# As this machine's notes require: no GPU, no network chatter of Chromium's own (the
# machine's network is closed), a fresh profile (Playwright makes one per launch).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SETUP_HINT = "run `bash .ci/setup` (it installs Debian's chromium and the dev extras)"
#: The live server's one account, a curator, for the pages behind the sign-in.
CURATOR = ("cora", "correct horse battery")


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
def live_server(sample_store: FalkorStore,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The explorer served on 127.0.0.1 (a free port) in a thread; yields its base URL.
    Its users file holds one curator (:data:`CURATOR`). Its console is open to signed-out
    readers (``CONSOLE_ANONYMOUS``), so the page tests see it as such a deployment shows it."""
    users = tmp_path_factory.mktemp("users") / "users.json"
    auth.add_user(users, *CURATOR, "curator")
    app = create_app({"STORE": sample_store, "SECRET_KEY": "test", "USERS_FILE": str(users),
                      "CONSOLE_ANONYMOUS": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["PUBLIC_URL"] = f"http://127.0.0.1:{server.server_port}"  # printed links
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


def new_page(browser: Any, live_server: str, problems: Problems, *,
             viewport: dict[str, int] | None = None, **options: Any) -> tuple[Any, Any]:
    """A fresh context (closed by the caller) and page whose relative URLs resolve against
    the live server; ``options`` go to ``new_context`` (e.g. ``storage_state``).

    Requests to any other host are aborted, as on a machine without internet, so the run
    is the same everywhere (and never waits on a slow network); the pages must work
    without them. The failed loads those requests log, and the browser's own request for
    /favicon.ico, are not counted as the page's console errors."""
    origin = live_server + "/"
    context = browser.new_context(base_url=live_server,
                                  viewport=viewport or {"width": 1280, "height": 900},
                                  locale="en-GB", timezone_id="Europe/London", **options)
    context.set_default_timeout(10_000)

    def offsite(route: Any) -> None:
        problems.offsite.append(route.request.url)
        route.abort("internetdisconnected")

    context.route(lambda url: not url.startswith(origin), offsite)

    def on_console(msg: Any) -> None:
        if msg.type != "error":
            return
        url = str((msg.location or {}).get("url") or "")
        if msg.text.startswith("Failed to load resource") and (
                not url.startswith(origin) or url == origin + "favicon.ico"):
            return
        problems.console.append(f"{msg.text} (at {url or 'unknown'})")

    p = context.new_page()
    p.on("console", on_console)
    p.on("pageerror", lambda exc: problems.uncaught.append(str(exc)))
    return context, p


@pytest.fixture
def page(browser: Any, live_server: str, page_problems: Problems) -> Iterator[Any]:
    """A page of a fresh context, 1280x900 (see :func:`new_page`)."""
    context, p = new_page(browser, live_server, page_problems)
    try:
        yield p
    finally:
        context.close()


@pytest.fixture
def open_page(browser: Any, live_server: str,
              page_problems: Problems) -> Iterator[Callable[..., Any]]:
    """Opens pages of other sizes or sessions: ``open_page(viewport=..., storage_state=...)``
    (see :func:`new_page`); their problems go to ``page_problems``, their contexts close
    at the end of the test."""
    contexts: list[Any] = []

    def opener(**options: Any) -> Any:
        context, p = new_page(browser, live_server, page_problems, **options)
        contexts.append(context)
        return p

    try:
        yield opener
    finally:
        for context in contexts:
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
def curator_session(browser: Any, live_server: str) -> dict[str, Any]:
    """The storage state (cookies) of a browser signed in as the curator, for
    ``open_page(storage_state=...)``. The sign-in comes back to the sign-in page, which
    shows (and so clears) its "Signed in as" message."""
    from playwright.sync_api import expect

    context = browser.new_context(base_url=live_server)
    try:
        page = context.new_page()
        page.goto("/login?next=%2Flogin")
        page.get_by_label("User name").fill(CURATOR[0])
        page.get_by_label("Password").fill(CURATOR[1])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("You are signed in as")).to_be_visible()
        state: dict[str, Any] = context.storage_state()
        return state
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Iterator[Path]:
    """The folder screenshots are written to. At the end of the session those written in
    it are reduced to 256 colours: a third of the size, the same to the eye, so that
    the repository can keep them."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    started = time.time()
    yield SCREENSHOTS
    for png in sorted(SCREENSHOTS.glob("*.png")):
        if png.stat().st_mtime >= started:
            shrink_png(png)


def shrink_png(path: Path) -> None:
    """Rewrites a screenshot as a 256-colour PNG (no dithering: text stays crisp)."""
    from PIL import Image

    with Image.open(path) as image:
        if image.mode == "P":
            return
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                                              dither=Image.Dither.NONE)
    small.save(path)
