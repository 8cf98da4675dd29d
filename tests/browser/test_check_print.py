"""The proposal check printed (it goes into funding papers): in print media the report
stands alone, without the navigation and the form, with the proposal it checked and the
full address of each solution and evaluation it names; it prints to PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.browser

PROPOSAL = ("We propose telehealth for people with COPD in three Wakefield practices: "
            "daily readings from home reviewed by community respiratory nurses.")
URL = f"/check?q={quote(PROPOSAL)}"


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _after(page: Any, selector: str) -> str:
    content: str = page.locator(selector).first.evaluate(
        "el => getComputedStyle(el, '::after').content")
    return content


def test_printed_check_shows_the_report_alone_with_addresses(
        page: Any, live_server: str, screenshots: Path) -> None:
    expect = _expect()
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(URL)
    proposal = page.locator("blockquote.proposal")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(proposal).to_be_hidden()  # on screen the form holds the proposal
    assert _after(page, ".read-first a[data-url]") in ("none", "normal")

    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.locator("form.check")).to_be_hidden()
    expect(page.get_by_label("Proposal text")).to_be_hidden()
    expect(proposal).to_be_visible()
    expect(proposal).to_contain_text("three Wakefield practices")
    expect(page.locator(".similar li").first).to_contain_text(
        "Home telehealth for COPD, Wakefield")
    address = _after(page, ".read-first a[data-url]")
    assert f"{live_server}/evaluations/EVAL-" in address, address
    assert f"{live_server}/solutions/SOL-TELE" in _after(page, ".match a[data-url]")
    # black on white, whatever the screen colours
    colour = page.locator(".check-report a").first.evaluate("el => getComputedStyle(el).color")
    assert colour == "rgb(0, 0, 0)", colour
    page.screenshot(path=str(screenshots / "check-print.png"), full_page=True)

    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 5_000
