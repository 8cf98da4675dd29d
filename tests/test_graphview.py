"""The graph view, the vendored front-end libraries and the offline SVG map."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest
from triedbefore.web import geo
from triedbefore.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "ingest" / "sample"
NODE_MODULES = ROOT / "node_modules"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def app(read_sample: FalkorStore) -> Flask:
    return create_app({"TESTING": True, "STORE": read_sample, "SECRET_KEY": "t"})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# --------------------------------------------------------------------------- #
# Graph view
# --------------------------------------------------------------------------- #


def test_solution_neighbourhood_lists_its_initiatives(client: FlaskClient) -> None:
    res = client.get("/graph.json?node=solution:SOL-TELE")
    assert res.status_code == 200
    data = res.get_json()
    assert data["ok"] is True
    assert data["center"]["id"] == "solution:SOL-TELE"
    assert data["center"]["kind"] == "solution" and data["center"]["label"]
    nodes = {n["id"]: n for n in data["nodes"]}
    assert data["nodes"][0]["id"] == "solution:SOL-TELE"
    initiatives = [n for n in data["nodes"] if n["kind"] == "initiative"]
    assert len(initiatives) >= 3
    assert all(n["id"].startswith("initiative:") and n["label"] for n in initiatives)
    implements = [e for e in data["edges"] if e["type"] == "IMPLEMENTS"]
    # Initiative -[:IMPLEMENTS]-> Solution: the stored direction is kept.
    assert {e["source"] for e in implements} == {n["id"] for n in initiatives}
    assert all(e["target"] == "solution:SOL-TELE" for e in implements)
    assert all(e["source"] in nodes and e["target"] in nodes for e in data["edges"])
    assert data["capped"] is False and data["total"] == len(data["edges"])


def test_initiative_neighbourhood_has_both_directions(client: FlaskClient) -> None:
    solution = client.get("/graph.json?node=solution:SOL-TELE").get_json()
    initiative = next(n["id"] for n in solution["nodes"] if n["kind"] == "initiative")
    data = client.get(f"/graph.json?node={initiative}").get_json()
    kinds = {n["kind"] for n in data["nodes"]}
    assert {"solution", "site"} <= kinds
    assert any(e["type"] == "TRIED_AT" and e["source"] == initiative for e in data["edges"])
    assert any(e["type"] == "IMPLEMENTS" and e["target"] == "solution:SOL-TELE"
               for e in data["edges"])


def test_graph_page_lists_neighbours_as_links(client: FlaskClient) -> None:
    res = client.get("/graph?node=solution:SOL-TELE")
    assert res.status_code == 200
    body = res.get_data(as_text=True)
    assert "Implemented by" in body
    assert re.search(r'href="/graph\?node=initiative(:|%3A)INI-', body)
    assert "/vendor/cytoscape/dist/cytoscape.min.js" in body
    assert re.search(r'<script src="/static/js/graph\.js" defer>', body)
    assert "<script>" not in body and "onclick" not in body  # no inline script
    assert '<label for="graph-kind">' in body and '<label for="graph-id">' in body


def test_form_parameters_and_empty_page(client: FlaskClient) -> None:
    page = client.get("/graph")
    assert page.status_code == 200 and b'<form class="graph-pick"' in page.data
    assert b"cytoscape" not in page.data
    by_form = client.get("/graph.json?kind=solution&id=SOL-TELE").get_json()
    assert by_form["center"]["id"] == "solution:SOL-TELE"


def test_unknown_node_is_404_json(client: FlaskClient) -> None:
    res = client.get("/graph.json?node=solution:NOPE")
    assert res.status_code == 404
    assert res.get_json() == {"ok": False, "error": "no solution with id 'NOPE'",
                              "status": 404}
    assert client.get("/graph?node=site:NOPE").status_code == 404


@pytest.mark.parametrize("query", [
    "node=SOL-TELE", "node=planet:X", "node=solution:", "node=ingestrun:R1",
    "node=solution:" + "x" * 201, "node=solution:a%0Ab", "kind=planet&id=X",
    "",
])
def test_bad_node_parameter_is_400(client: FlaskClient, query: str) -> None:
    res = client.get(f"/graph.json?{query}")
    assert res.status_code == 400
    body = res.get_json()
    assert body["ok"] is False and body["status"] == 400


def test_neighbour_cap_is_reported(app: Flask) -> None:
    app.config["GRAPH_NEIGHBOUR_LIMIT"] = 2
    data = app.test_client().get("/graph.json?node=solution:SOL-TELE").get_json()
    assert data["capped"] is True and data["limit"] == 2
    assert len(data["edges"]) == 2 and data["total"] > 2
    page = app.test_client().get("/graph?node=solution:SOL-TELE").get_data(as_text=True)
    assert "only the first 2" in page


def test_restricted_records_are_hidden_from_anonymous_readers(store: FalkorStore,
                                                              tmp_path: Path) -> None:
    (tmp_path / "solutions.csv").write_text("solution_id,name\nS1,Thing\n")
    (tmp_path / "sites.csv").write_text("site_id,name,kind\nX1,Place,trust\n")
    (tmp_path / "initiatives.csv").write_text(
        "initiative_id,title,solution_id,site_ids,start_date,visibility\n"
        "I1,Open one,S1,X1,2020,public\nI2,Secret one,S1,X1,2021,restricted\n")
    ingest(store, tmp_path)
    client = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "t"}).test_client()
    data = client.get("/graph.json?node=solution:S1").get_json()
    assert [n["id"] for n in data["nodes"]] == ["solution:S1", "initiative:I1"]
    assert client.get("/graph.json?node=initiative:I2").status_code == 404


def test_names_with_markup_are_escaped_in_the_graph_page(store: FalkorStore,
                                                         tmp_path: Path) -> None:
    (tmp_path / "solutions.csv").write_text("solution_id,name\nS1,<script>alert(1)</script>\n")
    ingest(store, tmp_path)
    client = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "t"}).test_client()
    body = client.get("/graph?node=solution:S1").data
    assert b"<script>alert(1)</script>" not in body
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in body


# --------------------------------------------------------------------------- #
# Vendored libraries
# --------------------------------------------------------------------------- #

needs_npm = pytest.mark.skipif(
    not (NODE_MODULES / "cytoscape" / "dist" / "cytoscape.min.js").is_file()
    or not (NODE_MODULES / "leaflet" / "dist" / "leaflet.js").is_file(),
    reason="node_modules not installed (run `npm ci`)")


def test_package_json_pins_the_front_end_libraries() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    deps = package["dependencies"]
    assert set(deps) >= {"cytoscape", "leaflet"}
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", deps[name]) for name in ("cytoscape", "leaflet"))
    lock = json.loads((ROOT / "package-lock.json").read_text())
    for name in ("cytoscape", "leaflet"):
        assert lock["packages"][f"node_modules/{name}"]["version"] == deps[name]


@needs_npm
def test_vendor_serves_allowed_files_with_long_cache(client: FlaskClient) -> None:
    res = client.get("/vendor/cytoscape/dist/cytoscape.min.js")
    assert res.status_code == 200
    assert res.data == (NODE_MODULES / "cytoscape/dist/cytoscape.min.js").read_bytes()
    assert "javascript" in res.mimetype
    assert res.cache_control.max_age and res.cache_control.public
    version = json.loads((NODE_MODULES / "cytoscape/package.json").read_text())["version"]
    pinned = client.get(f"/vendor/cytoscape/dist/cytoscape.min.js?v={version}")
    assert pinned.cache_control.max_age == 365 * 24 * 3600
    css = client.get("/vendor/leaflet/dist/leaflet.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert client.get("/vendor/leaflet/dist/images/marker-icon.png").status_code == 200
    page = client.get("/graph?node=solution:SOL-TELE").get_data(as_text=True)
    assert f"/vendor/cytoscape/dist/cytoscape.min.js?v={version}" in page


@pytest.mark.parametrize("path", [
    "../package.json", "leaflet/package.json", "cytoscape/dist/cytoscape.cjs.js",
    "%2e%2e/package.json", "leaflet/dist/../package.json", "/etc/passwd",
    "leaflet/dist/leaflet.js/", "@neo4j-cypher/language-support/package.json",
])
def test_vendor_refuses_paths_outside_the_allow_list(client: FlaskClient, path: str) -> None:
    assert client.get(f"/vendor/{path}", follow_redirects=True).status_code == 404


# --------------------------------------------------------------------------- #
# Offline map
# --------------------------------------------------------------------------- #


def test_outline_is_inside_englands_bounding_box() -> None:
    points = json.loads((ROOT / "web/static/geo/england_outline.json").read_text())
    assert 50 <= len(points) <= 300
    for lon, lat in points:
        assert -6.5 <= lon <= 1.8 and 49.8 <= lat <= 55.9, (lon, lat)
    lons = [p[0] for p in points]
    lats = [p[1] for p in points]
    # It spans England: Cornwall to East Anglia, the south coast to Northumberland.
    assert min(lons) < -5 and max(lons) > 1.5 and min(lats) < 50.3 and max(lats) > 55.3
    assert points[0] != points[-1]  # an open ring
    sources = (ROOT / "web/static/geo/SOURCES.md").read_text()
    assert "Royal Mail" in sources and "Ordnance Survey" in sources


SITES = [
    {"id": "RJ1", "name": "Guy's <b>& St Thomas'</b>", "kind": "trust",
     "lat": 51.4982, "lon": -0.1185},
    {"id": "QT1", "name": "Nottingham", "kind": "icb", "lat": 53.1285, "lon": -1.00654},
    {"id": "W1", "name": "Cardiff", "kind": "trust", "lat": 51.48, "lon": -3.18},
    {"id": "NOPOS", "name": "Nowhere", "kind": "other", "lat": None, "lon": None},
    {"id": "BAD", "name": "Bad", "kind": "other", "lat": "x", "lon": 1},
    {"id": "JS", "name": "Script", "lat": 52.0, "lon": -1.0, "url": "javascript:alert(1)"},
]


def test_svg_map_is_valid_xml_with_one_circle_per_placed_site() -> None:
    svg = geo.svg_map(SITES, 300, 340)
    root = ET.fromstring(str(svg))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "group" and "4 sites" in root.get("aria-label", "")
    assert "2 sites without coordinates" in root.get("aria-label", "")
    assert root.get("width") == "300" and root.get("height") == "340"
    circles = root.findall(f".//{SVG}circle")
    assert len(circles) == 4
    for circle in circles:
        x, y = float(circle.get("cx", "-1")), float(circle.get("cy", "-1"))
        assert 0 <= x <= 300 and 0 <= y <= 340
    titles = [c.find(f"{SVG}title").text for c in circles]  # type: ignore[union-attr]
    assert "Guy's <b>& St Thomas'</b> (NHS trust)" in titles
    assert "Nottingham (integrated care board)" in titles  # the ontology's labels
    assert root.find(f"{SVG}path") is not None
    links = root.findall(f".//{SVG}a")
    assert [a.get("href") for a in links] == ["/sites/RJ1", "/sites/QT1", "/sites/W1"]
    # North is up and west is left: Nottingham above London, Cardiff left of both.
    cx = {t.split(" (")[0]: (float(c.get("cx", 0)), float(c.get("cy", 0)))
          for t, c in zip(titles, circles, strict=True)}
    assert cx["Nottingham"][1] < cx["Guy's <b>& St Thomas'</b>"][1]
    assert cx["Cardiff"][0] < cx["Nottingham"][0] < cx["Guy's <b>& St Thomas'</b>"][0]


def test_svg_map_draws_a_site_where_each_map_puts_it() -> None:
    """Sites are drawn once per view and reused: a site must still land where each map's
    own projection puts it, and a changed name must show."""
    london = SITES[0]
    alone = ET.fromstring(str(geo.svg_map([london], 300, 340)))
    wide = ET.fromstring(str(geo.svg_map([london, {"id": "FAR", "name": "Shetland",
                                                   "lat": 60.3, "lon": -1.3}], 300, 340)))
    again = ET.fromstring(str(geo.svg_map([london], 300, 340)))
    at = [(c.get("cx"), c.get("cy")) for c in (m.find(f".//{SVG}circle")
                                               for m in (alone, wide, again))]
    assert at[0] == at[2] != at[1]  # Shetland widens the view and moves London
    renamed = str(geo.svg_map([{**london, "name": "St Thomas'"}], 300, 340))
    assert "St Thomas&#39; (NHS trust)" in renamed and "Guy" not in renamed
    odd = str(geo.svg_map([{"id": "L", "name": ["a", "list"], "lat": 52.0, "lon": -1.0}],
                          200, 200))  # not a cache key: drawn all the same
    assert "[&#39;a&#39;, &#39;list&#39;]" in odd
    ET.fromstring(odd)


def test_svg_map_escapes_markup_in_names() -> None:
    svg = str(geo.svg_map([{"id": 'a"b', "name": "<script>alert(1)</script>",
                            "lat": 52.0, "lon": -1.0}], 200, 200))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    ET.fromstring(svg)


def test_svg_map_without_sites_still_draws_england() -> None:
    root = ET.fromstring(str(geo.svg_map([], 120, 160)))
    assert root.findall(f".//{SVG}circle") == []
    assert "no site has coordinates" in root.get("aria-label", "")
    assert root.find(f"{SVG}path") is not None


# --------------------------------------------------------------------------- #
# Scripts: no inline code, no eval
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("name", ["enhance.js", "graph.js"])
def test_scripts_use_no_eval(name: str) -> None:
    text = (ROOT / "web/static/js" / name).read_text()
    assert "eval(" not in text and "new Function" not in text
    assert ".innerHTML" not in text and "document.write" not in text
