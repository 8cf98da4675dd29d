"""The explorer's layout in a real browser, on the sample bundle: every page type fits a
phone's screen, the search results come before a long list of filters on a phone, the
site map covers none of the facts beside it, and the attempts table's rows are as tall as
their text (not stretched to the map's height).
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}

#: One page of every type a reader meets (the query console and curation need a role).
PAGE_TYPES = {
    "home": "/",
    "search": "/search?q=hospital+at+home",
    "solutions": "/solutions",
    "solution": "/solutions/SOL-TELE",
    "initiative": "/initiatives/INI-0021",
    "evaluation": "/evaluations/EVAL-0004",
    "evaluations": "/evaluations",
    "site": "/sites/RXF",
    "site-icb": "/sites/QWO",
    "zombies": "/zombies",
    "gap-map": "/gap-map",
    "deviance": "/deviance?measure=Emergency+admissions+from+care+homes+per+1%2C000+residents",
    "check": "/check?q=Proposal%3A+telehealth+monitoring+for+COPD+patients",
    "method": "/method",
    "graph": "/graph?node=solution:SOL-TELE",
    "changes": "/changes",
    "login": "/login",
    "api": "/api",
    "not-found": "/no-such-page",
}

#: The elements that stick out past the right edge of the screen, for the message.
WIDE = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                 && ![...e.children].some(c => c.getBoundingClientRect().right
                                               > window.innerWidth + 1))
    .slice(0, 5).map(e => e.tagName + '.' + (e.className.baseVal ?? e.className))"""


@pytest.mark.parametrize("name", list(PAGE_TYPES))
def test_no_page_is_wider_than_a_phone(page: Any, name: str) -> None:
    page.set_viewport_size(PHONE)
    page.goto(PAGE_TYPES[name], wait_until="networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (name, width, page.evaluate(WIDE))


def test_wide_tables_scroll_in_their_own_box_on_a_phone(page: Any) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/solutions/SOL-TELE", wait_until="networkidle")
    boxes = page.locator("main .table-scroll")
    assert boxes.count() >= 3  # evidence, attempts, outcomes
    assert page.locator("main table").count() == boxes.count()  # every table in one
    scrolling = page.locator("main .table-scroll[role=region]")
    assert scrolling.count() >= 1
    first = scrolling.first
    # a keyboard can reach and scroll it; it is named for a screen reader
    assert first.get_attribute("tabindex") == "0" and first.get_attribute("aria-label")
    assert first.evaluate("el => el.scrollWidth > el.clientWidth")


def test_verdicts_are_read_without_scrolling_on_a_phone(page: Any) -> None:
    """The solutions table's verdict column is on screen whole: a verdict and its SMS
    level wrap between the two rather than run past the screen's edge (the columns after
    it scroll)."""
    page.set_viewport_size(PHONE)
    page.goto("/solutions", wait_until="networkidle")
    assert page.locator("main table .badge[class*=verdict-]").count() >= 3
    past = page.evaluate("""() => [...document.querySelectorAll(
        'main table .badge[class*=verdict-]')].filter(
            b => b.getBoundingClientRect().right > window.innerWidth
        ).map(b => b.textContent)""")
    assert past == [], past
    # each part stays whole: a verdict's words never break across lines
    parts = page.locator("main table .badge .part")
    assert parts.count() >= 3
    for part in parts.all()[:10]:
        assert part.evaluate("el => el.getClientRects().length") == 1, part.text_content()


def test_evidence_rows_are_cards_on_a_phone_and_a_table_on_a_wide_screen(page: Any) -> None:
    """On a phone each evaluation is a card, every field under its column's name and on
    screen (its finding was past the edge, behind a sideways scroll); a wide screen keeps
    the table with its header row."""
    page.set_viewport_size(PHONE)
    page.goto("/solutions/SOL-TELE", wait_until="networkidle")
    table = page.locator("section[aria-labelledby=evidence-h] table.stack")
    cells = table.locator("tbody td")
    assert cells.count() >= 8
    past = table.evaluate("""t => [...t.querySelectorAll('tbody td')].filter(
        td => td.getBoundingClientRect().right > window.innerWidth + 1).length""")
    assert past == 0
    labels = table.evaluate("""t => [...t.querySelectorAll('tbody td:not(.lead)')].filter(
        td => td.offsetParent).map(td => getComputedStyle(td, '::before').content)""")
    assert '"Finding"' in labels and all(label not in ("none", '""') for label in labels)
    assert not table.locator("thead").is_visible() or table.locator("thead").bounding_box()[
        "height"] <= 1
    assert table.get_attribute("role") == "table"  # still a table to a screen reader
    page.set_viewport_size(DESKTOP)
    assert table.locator("thead th").first.is_visible()
    assert table.evaluate("t => getComputedStyle(t).display") == "table"


def test_search_results_come_before_the_filters_on_a_phone(page: Any) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/search?q=hospital+at+home", wait_until="networkidle")
    top = page.evaluate("document.querySelector('ol.results').getBoundingClientRect().top")
    assert top < 1000, top
    filters = page.locator("details.facets")
    assert filters.evaluate("el => el.open") is False
    summary = filters.locator("summary")
    assert summary.text_content() == "Filters"  # the page's words (Welsh: "Hidlwyr")
    summary.click()  # one tap opens them
    assert filters.evaluate("el => el.open") is True
    assert filters.get_by_role("link").first.is_visible()


def test_search_filters_stay_open_on_a_wide_screen(page: Any) -> None:
    page.set_viewport_size(DESKTOP)
    page.goto("/search?q=hospital+at+home", wait_until="networkidle")
    filters = page.locator("details.facets")
    assert filters.evaluate("el => el.open") is True
    assert filters.get_by_role("link").first.is_visible()
    assert not filters.locator("summary").is_visible()


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


@pytest.mark.parametrize("site", ["RXF", "QWO", "03R"])
def test_site_map_covers_none_of_the_facts(demo_page: Any, site: str) -> None:
    """On the demo, whose organisations have long source addresses and licences."""
    page = demo_page
    page.goto(f"/sites/{site}", wait_until="networkidle")
    site_map = page.locator("#site-map")
    box = site_map.bounding_box()
    assert box and box["width"] > 150, box
    terms = page.locator("dl.facts dt").all_inner_texts()
    assert {"Source", "Licence"} <= set(terms) and ("Within" in terms
                                                    or "Organisations within" in terms)
    for fact in page.locator("dl.facts dt, dl.facts dd, dl.facts dd *").all():
        for rect in fact.evaluate(
                "el => [...el.getClientRects()].map(r => ({x: r.x, y: r.y, "
                "width: r.width, height: r.height}))"):
            assert not _overlap(rect, box), (site, fact.inner_text(), rect, box)


def test_attempts_rows_are_as_tall_as_their_text(page: Any, live_server: str) -> None:
    page.set_viewport_size(DESKTOP)
    solutions = page.request.get(live_server + "/solutions.json?size=100").json()
    few = [s["id"] for s in solutions["solutions"]["items"] if 1 <= s["initiatives"] <= 3]
    assert few  # a short table beside a tall map
    for solution in few:
        page.goto(f"/solutions/{solution}", wait_until="networkidle")
        rows = page.evaluate("""() => [...document.querySelectorAll(
            'section[aria-labelledby=tried-h] tbody tr')].map(tr => {
                const text = Math.max(...[...tr.cells].map(td => {
                    const r = document.createRange(); r.selectNodeContents(td);
                    return r.getBoundingClientRect().height; }));
                return [tr.getBoundingClientRect().height, text]; })""")
        assert rows, solution
        for height, text in rows:
            assert height <= text + 24, (solution, height, text)


def test_gap_map_labels_fit_and_the_legend_shows(page: Any) -> None:
    page.set_viewport_size(DESKTOP)
    page.goto("/gap-map", wait_until="networkidle")
    svg = page.locator("svg.gapmap")
    box = svg.bounding_box()
    assert box
    labels = svg.locator("text.label")
    assert labels.count() > 0
    for label in labels.all():
        inner = label.bounding_box()
        assert inner and inner["x"] >= box["x"] - 0.5, (label.text_content(), inner, box)
        assert inner["x"] + inner["width"] <= box["x"] + box["width"] + 0.5
    legend = svg.locator("g.legend")
    assert legend.is_visible() and "Colour: the verdict of the row" in legend.text_content()
