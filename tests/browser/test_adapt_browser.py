"""Design once, adapt locally, in a browser on the demo corpus: a solution page with an
organisation picked (where the evidence applies, places like yours for a real GP practice,
the adaptations), and a design page; each without a serious accessibility violation, kept
as screenshots at both widths (docs/screenshots/places-like-*.png, design-*.png)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_every_page_browser import blocking_violations, describe, keep_screenshot

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
#: A real GP practice of the demo (Trinity Medical Centre, Wakefield: IMD 2019 practice
#: score and January 2021 list size from the demo's context sources).
PRACTICE = "B87017"


def _keep_sections(page: Any, first: str, last: str, path: Path,
                   viewport: dict[str, int]) -> None:
    """The page from the top of ``first`` to the end of ``last``, at most three screens."""
    top = page.locator(first).bounding_box()
    bottom = page.locator(last).bounding_box()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    y = max(0, top["y"] + page.evaluate("() => window.scrollY") - 8)
    height = min(bottom["y"] + bottom["height"] - top["y"] + 16, 3 * viewport["height"])
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide",
                    clip={"x": 0, "y": y, "width": max(width, viewport["width"]),
                          "height": height})


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_places_like_yours_for_a_real_practice(demo_page: Any, screenshots: Path,
                                               size: str) -> None:
    from playwright.sync_api import expect

    page = demo_page
    page.set_viewport_size(VIEWPORTS[size])
    page.goto("/solutions/SOL-EHCH", wait_until="networkidle")
    expect(page.get_by_role("heading", name="Where the evidence applies")).to_be_visible()
    page.get_by_label("Your organisation (ODS code or name)").fill("Trinity Medical Centre")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_load_state("networkidle")
    section = page.locator("section.places-like")
    # several practices have that name: the page lists them and the reader picks one
    expect(section).to_contain_text("names several organisations")
    section.locator("li", has_text=PRACTICE).get_by_role("link").click()
    page.wait_for_load_state("networkidle")
    expect(section.get_by_role("link", name="Trinity Medical Centre").first).to_be_visible()
    expect(section).to_contain_text(PRACTICE)
    expect(section).to_contain_text("IMD decile")
    expect(section).to_contain_text("Outside the evidence")
    rows = section.locator("tbody tr")
    assert rows.count() >= 5
    scores = [float(t.split()[0]) for t in rows.locator("td:first-child").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
    expect(page.locator("section.applies")).to_contain_text("Not in this graph for any site")
    _keep_sections(page, "section.applies", "section.places-like",
                   screenshots / f"places-like-{size}.png", VIEWPORTS[size])
    violations = blocking_violations(page)
    assert not violations, describe(violations, f"/solutions/SOL-EHCH?site=… ({size})")


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_design_page(demo_page: Any, screenshots: Path, size: str) -> None:
    from playwright.sync_api import expect

    page = demo_page
    page.set_viewport_size(VIEWPORTS[size])
    page.goto("/solutions/SOL-EHCH-X/design", wait_until="networkidle")
    expect(page.get_by_role("heading", name="Attempts that dropped a core component")
           ).to_be_visible()
    expect(page.get_by_text("Descriptive, not causal", exact=False)).to_be_visible()
    expect(page.locator("#dropped-h + ul li")).to_have_count(2)
    keep_screenshot(page, screenshots / f"design-{size}.png", VIEWPORTS[size])
    violations = blocking_violations(page)
    assert not violations, describe(violations, f"/solutions/SOL-EHCH-X/design ({size})")
