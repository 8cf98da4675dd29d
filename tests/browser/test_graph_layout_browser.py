"""The graph view's drawing in a real browser: a force-directed layout (fCoSE) whose node
labels never lie on one another nor on another node, on the sample graph's views and on
the demo's (a solution with 14 initiatives, an ICB with 200 neighbours), with edge labels
in words."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser

SAMPLE_VIEWS = ["solution:SOL-TELE", "solution:SOL-EHCH", "site:RXF", "site:QWO",
                "initiative:INI-0021", "evaluation:EVAL-0004"]
DEMO_VIEWS = ["solution:SOL-MCP", "solution:SOL-TELE", "site:QWO", "site:RXF"]

#: The rendered boxes of every node's label and of every node's body, from cytoscape.
BOXES = """() => {
  const cy = document.getElementById('graph-canvas')._cyreg.cy;
  const only = {includeNodes: false, includeEdges: false, includeLabels: true,
                includeMainLabels: true, includeSourceLabels: false,
                includeTargetLabels: false, includeOverlays: false};
  const body = {includeNodes: true, includeEdges: false, includeLabels: false,
                includeOverlays: false};
  return {layout: typeof window.cytoscapeFcose === 'function',
          edges: cy.edges().map(e => e.data('label')),
          nodes: cy.nodes().map(n => ({id: n.id(), label: n.data('label'),
                                       text: n.renderedBoundingBox(only),
                                       body: n.renderedBoundingBox(body)}))};
}"""


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["x1"] < b["x2"] and b["x1"] < a["x2"] and a["y1"] < b["y2"] and b["y1"] < a["y2"]


def _drawn(page: Any, url: str) -> dict[str, Any]:
    page.goto(url)
    page.wait_for_selector("#graph-canvas[data-drawn=true]", timeout=20_000)
    drawn: dict[str, Any] = page.evaluate(BOXES)
    return drawn


def _check(drawn: dict[str, Any], view: str) -> None:
    assert drawn["layout"], "the fCoSE layout did not load"
    nodes = drawn["nodes"]
    assert len(nodes) >= 2, view
    for n in nodes:
        assert n["text"]["w"] > 0 and n["text"]["h"] > 0, (view, n["label"])
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            assert not _overlap(a["text"], b["text"]), (view, a["label"], b["label"])
        for b in nodes:
            if b is not a:
                assert not _overlap(a["text"], b["body"]), (view, a["label"], b["id"])
    # edge labels are words, not constants: "implements", "tried at"
    assert drawn["edges"] and all(e == e.lower() and "_" not in e for e in drawn["edges"])


@pytest.mark.parametrize("view", SAMPLE_VIEWS)
def test_graph_labels_never_overlap_on_the_sample_graph(page: Any, page_problems: Any,
                                                       view: str) -> None:
    _check(_drawn(page, f"/graph?node={view}"), view)
    assert page_problems.all() == [], page_problems.all()


@pytest.mark.parametrize("view", DEMO_VIEWS)
def test_graph_labels_never_overlap_on_the_demo(demo_page: Any, view: str) -> None:
    _check(_drawn(demo_page, f"/graph?node={view}"), view)


def test_graph_labels_never_overlap_on_a_phone(page: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    drawn = _drawn(page, "/graph?node=solution:SOL-TELE")
    _check(drawn, "phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
