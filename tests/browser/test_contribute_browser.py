"""The contribution flow in a real browser: a contributor registers, records a stopped
attempt with lessons at a real GP practice of the sample (picking the solution and the
practice by typing), a curator accepts it, and an anonymous reader then finds it by search
and sees its lessons on the solution page and in the proposal check. The form, the
moderation queue, "my contributions" and the solution page with lessons are kept as
screenshots at desktop and phone widths (docs/screenshots/)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
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

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "ingest" / "sample"
PASSWORD = "correct horse battery"
#: A real GP practice of the sample (its ODS code and name) and a solution tried there.
PRACTICE, PRACTICE_NAME = "L83006", "Mayflower Medical Group"
SOLUTION, SOLUTION_NAME = "SOL-TELE", "Telehealth remote monitoring"
LESSON = "Nurses had no protected time to review the readings"
WHY = "The practice could not staff the daily monitoring after the pilot nurse left"
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def server(embedded_server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[str]:
    """The explorer on a graph of its own (the sample): this test writes to it."""
    name = f"browser_contrib_{uuid.uuid4().hex[:12]}"
    uri = StoreURI("falkordb", f"falkordb+unix://{embedded_server.socket_path}?graph={name}",
                   path=embedded_server.socket_path, graph=name)
    store = FalkorStore(uri, socket_path=embedded_server.socket_path)
    http = None
    try:
        assert ingest(store, SAMPLE).exit_code == 0
        users = tmp_path_factory.mktemp("users") / "users.json"
        auth.add_user(users, "cora", PASSWORD, "curator")
        app = create_app({"STORE": store, "SECRET_KEY": "test", "USERS_FILE": str(users)})
        http = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=http.serve_forever, name="contrib", daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{http.server_port}"
        http.shutdown()
        thread.join(timeout=10)
    finally:
        if http is not None:
            http.server_close()
        store.drop_all()
        store.close()


def context_for(browser: Any, base: str, errors: list[str],
                viewport: dict[str, int] | None = None) -> Any:
    context = browser.new_context(base_url=base, viewport=viewport or VIEWPORTS["desktop"],
                                  locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(10_000)
    context.route(lambda url: not url.startswith(base + "/"),
                  lambda route: route.abort("internetdisconnected"))
    context.on("page", lambda p: p.on("pageerror", lambda exc: errors.append(str(exc))))
    return context


def sign_in(page: Any, name: str) -> None:
    page.goto("/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def pick(page: Any, selector: str, typed: str, value: str) -> None:
    """Type into a search-as-you-type field and wait for the suggestion ``value``."""
    field = page.locator(selector)
    field.click()
    field.press_sequentially(typed, delay=30)
    list_id = field.get_attribute("list")
    page.wait_for_function(
        "([id, value]) => [...document.getElementById(id).options]"
        ".some(o => o.value === value)", arg=[list_id, value])
    options = page.evaluate(
        "(id) => [...document.getElementById(id).options].map(o => [o.value, o.label])",
        list_id)
    assert any(v == value for v, _label in options), options
    field.fill(value)  # what choosing the suggestion puts in the field


def shoot(page: Any, screenshots: Path, name: str, element: str | None = None) -> None:
    """The page (its first three screens), or one ``element`` of it, at both widths; the
    page never wider than the screen."""
    for kind, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        width, height = page.evaluate("() => [document.documentElement.scrollWidth, "
                                      "document.documentElement.scrollHeight]")
        assert width <= viewport["width"] + 1, f"{name} is wider than a {kind} screen"
        if element is not None:
            page.locator(element).screenshot(path=str(screenshots / f"{name}-{kind}.png"),
                                             animations="disabled", caret="hide")
            continue
        page.screenshot(path=str(screenshots / f"{name}-{kind}.png"), full_page=True,
                        clip={"x": 0, "y": 0, "width": viewport["width"],
                              "height": min(height, 3 * viewport["height"])},
                        animations="disabled", caret="hide")
    page.set_viewport_size(VIEWPORTS["desktop"])


def test_register_record_a_stopped_attempt_accept_and_find_its_lessons(
        browser: Any, server: str, screenshots: Path) -> None:
    from playwright.sync_api import expect

    errors: list[str] = []
    # a contributor registers and records a stopped attempt with lessons
    ann_context = context_for(browser, server, errors)
    page = ann_context.new_page()
    page.goto("/register")
    page.get_by_label("User name").fill("ann")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("The password again").fill(PASSWORD)
    page.get_by_label("Your name").fill("Dr Ann Example")
    page.get_by_label("Your organisation").fill(PRACTICE_NAME)
    page.get_by_label("Sector").select_option("nhs")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Your account is ready")).to_be_visible()
    page.get_by_label("User name").fill("ann")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Record an attempt")).to_be_visible()

    page.locator("#f-title").fill("Telehealth for COPD at Mayflower")
    pick(page, "#f-solution_id", "telehea", SOLUTION)
    pick(page, "#f-site_ids-1", "mayflower", PRACTICE)
    page.locator("#f-start_date").fill("2021-04")
    page.locator("#f-end_date").fill("2022-01")
    page.locator("#f-status").select_option("stopped")
    page.get_by_label("If it stopped: why").fill(WHY)
    page.locator("#f-lessons-0-text").fill(LESSON)
    page.locator("#f-lessons-0-effect").select_option("hindered")
    page.locator("#f-lessons-0-nasss_domain").select_option("organisation")
    page.locator("#f-lessons-1-text").fill("Patients liked seeing their own readings")
    page.locator("#f-lessons-1-effect").select_option("helped")
    page.locator("#f-lessons-1-nasss_domain").select_option("adopters")
    page.get_by_label("What we would do differently").fill(
        "Agree protected nurse time before the start")
    page.get_by_label("Show my name with it").check()
    # first an error: nothing typed is lost, and the interchange's message is shown
    page.locator("#f-start_date").fill("2021-13")
    shoot(page, screenshots, "contribute")
    page.get_by_role("button", name="Send for moderation").click()
    expect(page.get_by_role("heading", name="What to correct")).to_be_visible()
    expect(page.get_by_text("month 13 does not exist").first).to_be_visible()
    expect(page.locator("#f-lessons-0-text")).to_have_value(LESSON)
    page.locator("#f-start_date").fill("2021-04")
    page.get_by_role("button", name="Send for moderation").click()
    expect(page.get_by_text("Waiting for moderation")).to_be_visible()
    page.goto("/my-contributions")
    expect(page.get_by_text("Waiting for moderation")).to_be_visible()
    shoot(page, screenshots, "my-contributions")

    # an anonymous reader sees nothing of it yet
    anonymous = context_for(browser, server, errors)
    reader = anonymous.new_page()
    reader.goto("/search?q=protected+time")
    expect(reader.get_by_text(LESSON)).to_have_count(0)

    # a curator accepts it from the queue
    cora_context = context_for(browser, server, errors)
    curator = cora_context.new_page()
    sign_in(curator, "cora")
    curator.goto("/moderation")
    expect(curator.get_by_role("link", name="Telehealth for COPD at Mayflower")).to_be_visible()
    shoot(curator, screenshots, "moderation")
    curator.get_by_role("link", name="Review").click()
    curator.get_by_role("button", name="Accept and publish").click()
    expect(curator.get_by_text("Accepted CON-")).to_be_visible()

    # the contributor sees it accepted
    page.goto("/my-contributions")
    expect(page.get_by_text("Accepted", exact=True)).to_be_visible()

    # an anonymous reader finds it by search, and sees the lessons where they plan
    reader.goto("/search?q=protected+time")
    expect(reader.get_by_text(LESSON)).to_be_visible()
    reader.get_by_role("link", name="Telehealth for COPD at Mayflower").first.click()
    expect(reader.get_by_text("Dr Ann Example")).to_be_visible()
    expect(reader.get_by_text(WHY)).to_be_visible()
    reader.goto(f"/solutions/{SOLUTION}")
    section = reader.locator("section.lessons-section")
    expect(section.get_by_role("heading", name="The organisation")).to_be_visible()
    expect(section.get_by_text(LESSON)).to_be_visible()
    expect(section.get_by_text(WHY)).to_be_visible()
    expect(reader.locator("svg.timeline rect.stopped")).to_have_count(1)
    shoot(reader, screenshots, "solution-lessons", "section.lessons-section")
    reader.goto("/check?q=Proposal%3A+telehealth+monitoring+for+COPD+patients")
    lessons = reader.locator("section.lessons-section")
    expect(lessons.get_by_role("heading", name="Lessons from people who tried it")
           ).to_be_visible()
    expect(lessons.get_by_text(LESSON)).to_be_visible()
    expect(lessons.get_by_text(WHY)).to_be_visible()
    for context in (ann_context, anonymous, cora_context):
        context.close()
    assert errors == [], errors
