"""The explorer in a real browser (headless Chromium via Playwright), on the sample bundle:
the journeys a commissioner takes, keyboard access and the charts. Every page type's
clean console, accessibility and screenshots: test_every_page_browser.py.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser

NAV = ["triedbefore", "Search", "Solutions", "Zombie repeats", "Evidence gap map",
       "Positive deviance", "Proposal check"]


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def test_search_from_the_home_page(page: Any) -> None:
    expect = _expect()
    page.goto("/")
    box = page.get_by_role("searchbox", name="Describe the idea, the problem, or a place")
    box.fill("hospital at home")
    box.press("Enter")
    page.wait_for_url("**/search?q=hospital+at+home")
    results = page.locator("ol.results")
    expect(results.get_by_role("link", name="Virtual wards (hospital at home)")).to_be_visible()
    expect(page.get_by_role("heading", level=2, name="result")).to_be_visible()


def test_solution_page_shows_the_verdict_and_zombie_repeats(page: Any) -> None:
    expect = _expect()
    page.goto("/solutions/SOL-TELE")
    expect(page.get_by_role("heading", level=1)).to_have_text("Telehealth monitoring for COPD")
    badge = page.locator("section.verdict .badge")
    expect(badge).to_contain_text("does not work")
    zombies = page.locator("tr.zombie-row")
    expect(zombies.first).to_be_visible()
    assert zombies.count() >= 1
    expect(zombies.first).to_contain_text("zombie repeat")
    # highlighted: the row's background differs from an ordinary row's
    background = zombies.first.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent"), background
    timeline = page.locator("svg.timeline")
    expect(timeline).to_be_visible()
    # a labelled group: its points are links (an image's parts would be hidden)
    assert timeline.get_attribute("role") == "group" and timeline.get_attribute("aria-label")
    assert timeline.locator("circle.zombie").count() >= 1
    box = timeline.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 50, box
    # the map of where it was tried: the server's SVG, or the Leaflet map that replaces it
    site_map = page.locator("#site-map")
    expect(site_map).to_be_visible()
    map_box = site_map.bounding_box()
    assert map_box and map_box["width"] > 150 and map_box["height"] > 150, map_box


def test_proposal_check_warns_of_a_zombie_risk(page: Any) -> None:
    expect = _expect()
    page.goto("/check")
    page.get_by_label("Proposal text").fill(
        "Proposal: telehealth monitoring for COPD patients. Patients send daily oxygen "
        "saturation readings from home and a nurse triages the alerts, to cut emergency "
        "admissions.")
    with page.expect_navigation():  # the form posts the proposal (it can be long)
        page.get_by_role("button", name="Check").click()
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Zombie risk")
    expect(page.locator(".match").first).to_contain_text("Telehealth monitoring for COPD")


def test_keyboard_reaches_the_skip_link_then_the_navigation(page: Any) -> None:
    expect = _expect()
    page.goto("/")
    focused = page.locator(":focus")
    page.keyboard.press("Tab")
    expect(focused).to_have_text("Skip to content")
    box = focused.bounding_box()  # the skip link comes on screen when focused
    assert box and box["x"] >= 0 and box["y"] >= 0, box
    for name in NAV:
        page.keyboard.press("Tab")
        expect(focused).to_have_text(name)
        assert focused.evaluate("el => !!el.closest('nav')"), name
    # following the skip link moves the focus to the main content
    page.goto("/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    # the search input is labelled, for screen readers too
    search = page.get_by_role("searchbox", name="Describe the idea, the problem, or a place")
    expect(search).to_be_visible()
    search.focus()
    expect(search).to_be_focused()


def test_gap_map_draws_bubbles(page: Any) -> None:
    expect = _expect()
    page.goto("/gap-map")
    svg = page.locator("svg.gapmap")
    expect(svg).to_be_visible()
    assert svg.get_attribute("role") == "group" and svg.get_attribute("aria-label")
    circles = svg.locator("circle")
    assert circles.count() > 0
    expect(circles.first).to_be_visible()
    box = circles.first.bounding_box()
    assert box and box["width"] > 5, box


def test_graph_view_lists_and_draws_the_neighbourhood(page: Any, page_problems: Any) -> None:
    expect = _expect()
    page.goto("/graph?node=solution:SOL-TELE")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Graph: Telehealth monitoring for COPD")
    expect(page.get_by_role("heading", level=2, name="connection")).to_be_visible()
    neighbours = page.locator("section[aria-labelledby=neighbours-h] li a")
    assert neighbours.count() >= 6  # its initiatives and evaluations at least
    expect(page.get_by_role("link", name="COPD telehealth service, Sutton").first).to_be_visible()
    # graph.js shows the figure only once cytoscape has drawn the neighbourhood
    figure = page.locator("#graph-figure")
    expect(figure).to_be_visible()
    expect(figure.locator("canvas").first).to_be_attached()
    box = page.locator("#graph-canvas").bounding_box()
    assert box and box["width"] > 200 and box["height"] > 150, box
    assert page_problems.all() == [], page_problems.all()
