"""The graph view's drawing in a real browser: a force-directed layout (fCoSE) whose node
labels never lie on one another nor on another node, on the sample graph's views and on
the demo's (a solution with 14 initiatives, an ICB with 200 neighbours), with edge labels
in words."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from triedbefore.graph.embedded import EmbeddedServer
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.store import StoreURI
from triedbefore.ingest.pipeline import ingest
from triedbefore.web.app import create_app

pytestmark = pytest.mark.browser

DEMO = Path(__file__).resolve().parents[2] / "ingest" / "demo" / "bundle"

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


@pytest.fixture(scope="module")
def demo_server(embedded_server: EmbeddedServer,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The explorer on the demo corpus, served on a free port."""
    name = f"browser_demo_{uuid.uuid4().hex[:12]}"
    uri = StoreURI("falkordb", f"falkordb+unix://{embedded_server.socket_path}?graph={name}",
                   path=embedded_server.socket_path, graph=name)
    store = FalkorStore(uri, socket_path=embedded_server.socket_path)
    server = None
    try:
        assert ingest(store, DEMO, report_dir=tmp_path_factory.mktemp("reports")).exit_code == 0
        app = create_app({"STORE": store, "SECRET_KEY": "test"})
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="demo", daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_port}"
        server.shutdown()
        thread.join(timeout=10)
    finally:
        if server is not None:
            server.server_close()
        store.drop_all()
        store.close()


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


@pytest.fixture
def demo_page(browser: Any, demo_server: str) -> Iterator[Any]:
    """A page on the demo's server (the ``page`` fixture allows only the sample's)."""
    context = browser.new_context(base_url=demo_server,
                                  viewport={"width": 1366, "height": 900})
    context.route(lambda url: not url.startswith(demo_server + "/"),
                  lambda route: route.abort("internetdisconnected"))
    errors: list[str] = []
    p = context.new_page()
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield p
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("view", DEMO_VIEWS)
def test_graph_labels_never_overlap_on_the_demo(demo_page: Any, view: str) -> None:
    _check(_drawn(demo_page, f"/graph?node={view}"), view)


def test_graph_labels_never_overlap_on_a_phone(page: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    drawn = _drawn(page, "/graph?node=solution:SOL-TELE")
    _check(drawn, "phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
