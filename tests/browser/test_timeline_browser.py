"""The solution timeline in a real browser: points named, the full name shown on keyboard
focus and hover, and only what was known on the date asked."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser

NORTH_DEVON = "Remote monitoring of COPD patients at home, North Devon"  # INI-0022


def _shown(page: Any, selector: str) -> bool:
    return bool(page.eval_on_selector(selector, "e => getComputedStyle(e).display !== 'none'"))


def test_keyboard_focus_shows_a_points_full_name(page: Any) -> None:
    page.goto("/solutions/SOL-TELE")
    point = 'svg.timeline a[href="/initiatives/INI-0022"]'
    short, full = f"{point} tspan.short", f"{point} tspan.full"
    assert _shown(page, short) and not _shown(page, full)
    assert page.text_content(short).startswith("Remote monitoring of COPD")
    assert page.text_content(short) != NORTH_DEVON + " (zombie)"
    for _ in range(300):  # the keyboard reaches the point
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == "/initiatives/INI-0022":
            break
    else:
        pytest.fail("the timeline's points are not reachable with the keyboard")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')").startswith(
        NORTH_DEVON + ", started 2018-03")
    assert _shown(page, full) and not _shown(page, short)
    assert page.text_content(full) == NORTH_DEVON + " (zombie)"
    page.mouse.click(5, 5)  # focus leaves; hovering shows the name too
    page.hover('svg.timeline a[href="/initiatives/INI-0021"] circle')
    assert _shown(page, 'svg.timeline a[href="/initiatives/INI-0021"] tspan.full')


def test_timeline_as_of_a_date_draws_only_what_was_known(page: Any) -> None:
    page.goto("/solutions/SOL-TELE?as_of=2014-01-01")
    drawn = page.eval_on_selector_all(
        'svg.timeline a[href^="/initiatives/"]', "els => els.map(e => e.getAttribute('href'))")
    assert drawn == ["/initiatives/INI-0019", "/initiatives/INI-0020"]
    assert page.locator("svg.timeline circle.zombie").count() == 0
    page.goto("/solutions/SOL-TELE")
    assert page.locator("svg.timeline circle.zombie").count() == 3
