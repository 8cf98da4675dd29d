"""Every page type of the explorer, checked as a real site is: loaded once at desktop width
(1366x900) and once at phone width (390x844), each load with no console error or uncaught
exception, no serious or critical accessibility violation found by axe-core (the npm
package, injected from node_modules: a test tool, never served to users), and a full-page
screenshot kept in docs/screenshots/ (``<page>-desktop.png``, ``<page>-phone.png``; the
README shows some of them)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
#: The impacts that fail the check (axe's scale: minor, moderate, serious, critical).
BLOCKING = ("serious", "critical")
#: One address for each page type: (path, status, needs the curator's session).
PAGES: dict[str, tuple[str, int, bool]] = {
    "home": ("/", 200, False),
    "search": ("/search?q=hospital+at+home", 200, False),
    "solutions": ("/solutions", 200, False),
    "solution": ("/solutions/SOL-TELE", 200, False),
    "evidence-matrix": ("/solutions/SOL-TELE/evidence-matrix", 200, False),
    "initiative": ("/initiatives/INI-0021", 200, False),
    "evaluation": ("/evaluations/EVAL-0004", 200, False),
    "evaluations": ("/evaluations", 200, False),
    "site": ("/sites/RBL", 200, False),
    "zombies": ("/zombies", 200, False),
    "gap-map": ("/gap-map", 200, False),
    "deviance": ("/deviance?measure=Emergency+admissions+from+care+homes+per+1%2C000+residents",
                 200, False),
    "check": ("/check?q=Proposal%3A+telehealth+monitoring+for+COPD+patients", 200, False),
    "method": ("/method", 200, False),
    "graph": ("/graph?node=solution:SOL-TELE", 200, False),
    "changes": ("/changes", 200, False),
    "console": ("/console?q=MATCH+(s%3ASolution)+RETURN+s.name+AS+name+LIMIT+5", 200, False),
    "api": ("/api", 200, False),
    "login": ("/login", 200, False),
    "not-found": ("/solutions/NO-SUCH-SOLUTION", 404, False),
    "watches": ("/watches", 200, True),
    "curation": ("/curation", 200, True),
    "candidates": ("/curation/candidates", 200, True),
    "register": ("/register", 200, False),
    "contribute-form": ("/contribute", 200, True),
    "moderation-queue": ("/moderation", 200, True),
    "my-contributions-list": ("/my-contributions", 200, True),
}

RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.map(String).join(' '), html: n.html,
                              summary: n.failureSummary || ''}))}));
}"""


def keep_screenshot(page: Any, path: Path, viewport: dict[str, int]) -> None:
    """The page as a person scrolls it, at most three screens high (the long pages' ends
    add little to a review and much to the file), as wide as it lays out: a page wider
    than the screen shows so."""
    width, height = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    clip = {"x": 0, "y": 0, "width": max(width, viewport["width"]),
            "height": min(height, 3 * viewport["height"])}
    page.screenshot(path=str(path), full_page=True, clip=clip, animations="disabled",
                    caret="hide")


def blocking_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the loaded page. The script goes in
    through the DevTools protocol (``evaluate``), which the page's Content Security Policy
    does not govern, so the page is checked with its real policy."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text("utf-8"))
    return [v for v in page.evaluate(RUN_AXE) if v["impact"] in BLOCKING]


def describe(violations: list[dict[str, Any]], where: str, limit: int = 8) -> str:
    """The failure message: each rule with its impact, then the offending nodes."""
    lines = [f"{len(violations)} serious or critical accessibility violation(s) on {where}:"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:limit]:
            html, summary = (" ".join(node[k].split()) for k in ("html", "summary"))
            lines.append(f"    {node['target']}  {html[:120]}  -- {summary[:240]}")
        if len(v["nodes"]) > limit:
            lines.append(f"    ... and {len(v['nodes']) - limit} more")
    return "\n".join(lines)


def test_axe_core_is_a_test_tool_not_served(page: Any) -> None:
    """axe-core is installed for the tests (``npm ci``) and the explorer does not serve it."""
    assert AXE.is_file(), f"{AXE} is missing: run `npm ci`"
    assert page.request.get("/vendor/axe-core/axe.min.js").status == 404


@pytest.mark.parametrize("size", list(VIEWPORTS))
@pytest.mark.parametrize("name", list(PAGES))
def test_page_is_accessible_and_screenshot(open_page: Any, page_problems: Any,
                                           request: pytest.FixtureRequest, screenshots: Path,
                                           name: str, size: str) -> None:
    """One load per page type and size: it answers, runs its scripts cleanly, has no
    serious or critical axe-core violation, and is kept as a screenshot."""
    path, status, signed_in = PAGES[name]
    options: dict[str, Any] = {"viewport": VIEWPORTS[size]}
    if signed_in:
        options["storage_state"] = request.getfixturevalue("curator_session")
    page = open_page(**options)
    response = page.goto(path, wait_until="networkidle")
    assert response is not None and response.status == status, (name, response and
                                                                 response.status, page.url)
    assert page.url.endswith(path), f"{name}: ended on {page.url}"
    assert page.get_by_role("heading", level=1).first.is_visible(), name
    if status == 200:
        scripts = page.locator("script[src]").evaluate_all("els => els.map(e => e.src)")
        assert any(s.endswith("/static/js/enhance.js") for s in scripts), (name, scripts)
    keep_screenshot(page, screenshots / f"{name}-{size}.png", VIEWPORTS[size])
    violations = blocking_violations(page)
    assert not violations, describe(violations, f"{path} ({size})")
    problems = [p for p in page_problems.all()
                if not (status != 200 and p.startswith("Failed to load resource")
                        and f"status of {status}" in p)]
    assert problems == [], problems


def _rgb(css: str) -> tuple[float, float, float]:
    """``rgb(r, g, b)`` as computed by the browser."""
    r, g, b = (float(v) for v in css[css.index("(") + 1:css.index(")")].split(",")[:3])
    return r, g, b


def _contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """WCAG 2 contrast ratio of two sRGB colours."""
    def luminance(c: tuple[float, ...]) -> float:
        lin = [v / 255 / 12.92 if v / 255 <= 0.03928 else ((v / 255 + 0.055) / 1.055) ** 2.4
               for v in c]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_gap_map_counts_are_legible_on_every_bubble(page: Any) -> None:
    """axe-core does not measure text drawn over SVG shapes: the count in each bubble
    needs a contrast of 4.5 against the bubble (as painted over white) or against a halo
    painted beneath it."""
    page.goto("/gap-map")
    marks = page.locator("svg.gapmap a:has(text.count)").evaluate_all("""els => els.map(a => {
      const text = getComputedStyle(a.querySelector('text.count'));
      const circle = a.querySelector('circle');
      const bubble = getComputedStyle(circle);
      return {label: circle.textContent, fill: text.fill, stroke: text.stroke,
              width: parseFloat(text.strokeWidth), order: text.paintOrder,
              bubble: bubble.fill, opacity: parseFloat(bubble.fillOpacity)};
    })""")
    assert marks, "no bubbles on the gap map"
    for mark in marks:
        text = _rgb(mark["fill"])
        painted = tuple(mark["opacity"] * v + (1 - mark["opacity"]) * 255
                        for v in _rgb(mark["bubble"]))
        halo = (mark["stroke"] != "none" and mark["width"] >= 2
                and mark["order"].startswith("stroke"))
        best = max(_contrast(text, painted),
                   _contrast(text, _rgb(mark["stroke"])) if halo else 0.0)
        assert best >= 4.5, (mark["label"], mark, round(best, 2))


def test_readme_shows_screenshots_these_tests_write() -> None:
    """The README's pictures are screenshots of page types this module loads, so every run
    of the suite refreshes them."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    shown = re.findall(r'<img src="docs/screenshots/([a-z-]+)-(desktop|phone)\.png"', readme)
    assert {name for name, _ in shown} >= {"search", "solution", "check", "zombies", "gap-map"}
    for name, size in shown:
        assert name in PAGES and size in VIEWPORTS, (name, size)
