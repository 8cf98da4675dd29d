"""Living evidence in a real browser: the time-travel control of the solution page (with
and without JavaScript) and a design-quality warning. Screenshots of both land in
docs/screenshots/ for review."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def test_year_slider_travels_in_time(page: Any, page_problems: Any,
                                     screenshots: Path) -> None:
    expect = _expect()
    page.goto("/solutions/SOL-TELE", wait_until="networkidle")
    expect(page.locator("section.verdict .badge")).to_contain_text("does not work")
    control = page.locator(".time-travel")
    slider = control.get_by_role("slider", name="Or move through the years with evidence")
    expect(slider).to_be_visible()
    control.screenshot(path=str(screenshots / "time-travel-control.png"))
    # the slider's first position is the year before any evidence: nothing was known
    slider.focus()
    slider.press("Home")
    page.wait_for_url("**/solutions/SOL-TELE?as_of=*-12-31")
    first = int(slider.get_attribute("min") or 0)
    assert page.url.endswith(f"as_of={first}-12-31"), page.url
    expect(page.locator("#verdict-h")).to_contain_text(f"as of {first}-12-31")
    expect(page.locator("section.verdict .badge")).to_contain_text("unevaluated")
    expect(page.get_by_label("As of", exact=True)).to_have_value(f"{first}-12-31")
    expect(page.locator("section[aria-labelledby=evidence-h]")).to_contain_text(
        "No evaluation published")
    # one step on at a time, the verdict follows the evidence published by then
    slider.press("ArrowRight")
    page.wait_for_url(f"**as_of={first + 1}-12-31")
    expect(page.locator("#year-shown")).to_have_text(str(first + 1))
    page.screenshot(path=str(screenshots / "time-travel-solution.png"), full_page=True)
    assert page_problems.all() == [], page_problems.all()


def test_time_travel_works_without_javascript(browser: Any, live_server: str,
                                              screenshots: Path) -> None:
    expect = _expect()
    context = browser.new_context(base_url=live_server, java_script_enabled=False,
                                  viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto("/solutions/SOL-TELE")
        page.get_by_label("As of", exact=True).fill("2014-01-01")
        page.get_by_role("button", name="Show", exact=True).click()
        page.wait_for_url("**/solutions/SOL-TELE?as_of=2014-01-01")
        expect(page.locator("#verdict-h")).to_contain_text("as of 2014-01-01")
        page.locator("#year").fill("2016")  # a range input takes a value without scripts
        page.get_by_role("button", name="Show that year").click()
        page.wait_for_url("**/solutions/SOL-TELE?year=2016")
        expect(page.locator("#verdict-h")).to_contain_text("as of 2016-12-31")
        expect(page.locator("section.verdict .badge")).to_contain_text("does not work")
    finally:
        context.close()


def test_design_warning_is_shown_with_its_reason(page: Any, page_problems: Any,
                                                 screenshots: Path) -> None:
    expect = _expect()
    page.goto("/evaluations/EVAL-0005", wait_until="networkidle")
    warning = page.get_by_role("complementary", name="This design may not carry its claim")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("uncontrolled before after")
    expect(warning).to_contain_text("without a comparison group")
    expect(warning.get_by_role("link", name="Maryland Scientific Methods Scale")).to_be_visible()
    warning.screenshot(path=str(screenshots / "design-warning.png"))
    page.screenshot(path=str(screenshots / "design-warning-evaluation.png"), full_page=True)
    # beside the evidence table of its solution too
    page.goto("/solutions/SOL-TELE")
    expect(page.locator(".warning-tag").first).to_be_visible()
    assert page_problems.all() == [], page_problems.all()
