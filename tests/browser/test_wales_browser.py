"""The map without tiles draws Wales beside England (the browser tests run offline, so
the Leaflet map falls back to the outlines), and the Welsh interface works in the browser."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_offline_map_draws_england_and_wales(page: Any) -> None:
    page.goto("/sites/RBL")
    page.wait_for_selector("#site-map .leaflet-container, #site-map.leaflet-container",
                           timeout=15_000)
    outline = "#site-map .leaflet-overlay-pane path[fill='#e8edee']"  # not the site marks
    page.wait_for_function(f"() => document.querySelectorAll(\"{outline}\").length >= 2",
                           timeout=15_000)
    assert page.locator(outline).count() == 2
    text = page.locator("#site-map .leaflet-control-attribution").text_content() or ""
    assert "Outlines of England and Wales" in text


def test_the_language_switch_in_the_browser(page: Any) -> None:
    page.goto("/")
    page.get_by_role("link", name="Cymraeg", exact=True).click()
    page.wait_for_url("**/")
    assert page.locator("html").get_attribute("lang") == "cy"
    assert page.get_by_role("heading", level=1).text_content() == (
        "A roddwyd cynnig ar hyn o'r blaen?")
    page.get_by_role("link", name="English", exact=True).click()
    assert page.locator("html").get_attribute("lang") == "en"
