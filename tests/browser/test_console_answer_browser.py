"""The console's answer to a statement sent from its form is in view when the page comes
back, at desktop and phone widths: the message of a refused or stopped statement (and the
first rows of a result) below the editor, with the Run button, never off-screen under a
page that opens at its top."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 900},
                                      {"width": 390, "height": 844}])
def test_the_answer_is_in_view_after_running_a_statement(
        open_page: Any, viewport: dict[str, int]) -> None:
    page = open_page(viewport=viewport)
    page.goto("/console")
    page.locator("#q").fill("MATCH (n) CREATE (:Solution)")
    page.locator("#console-form button[type=submit]").first.click()
    page.wait_for_load_state("networkidle")
    alert = page.get_by_role("alert")
    assert "refused" in alert.inner_text().lower()
    box, height = alert.bounding_box(), page.viewport_size["height"]
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= height, box
    run = page.locator("#console-form button[type=submit]").first.bounding_box()
    assert run is not None and 0 <= run["y"] <= height  # and the Run button with it
