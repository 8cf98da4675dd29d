"""The solution timeline labels its points by name: shortened beside the dot, the full
name in the mark's tooltip and accessible name; the initiative's id stays the link."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from flask.testing import FlaskClient

from triedbefore.graph.falkor import FalkorStore
from triedbefore.web import charts
from triedbefore.web.app import create_app

SVG = "{http://www.w3.org/2000/svg}"
LONG = "Targeted telehealth after COPD admission, Plymouth (redesigned)"


def _svg(markup: str) -> ET.Element:
    return ET.fromstring(markup.replace('<svg ', '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def _points(root: ET.Element) -> list[ET.Element]:
    return [a for a in root.iter(f"{SVG}a") if a.get("href", "").startswith("/initiatives/")]


def test_shorten_keeps_short_names_and_cuts_long_ones_at_a_word() -> None:
    assert charts.shorten("Home telehealth for COPD") == "Home telehealth for COPD"
    short = charts.shorten(LONG)
    assert len(short) <= charts.LABEL_CHARS and short.endswith("…")
    assert LONG.startswith(short[:-1]) and LONG[len(short) - 1] == " "
    assert charts.shorten("x" * 60) == "x" * (charts.LABEL_CHARS - 1) + "…"


def test_points_are_labelled_by_name_with_the_full_name_on_hover_and_focus() -> None:
    attempts = [{"id": "INI-0024", "title": LONG, "start_date": "2019-05", "start_lo": 17652},
                {"id": "INI-0019", "title": "Home telehealth for COPD, Wakefield",
                 "start_date": "2012-04", "start_lo": 15431}]
    root = _svg(str(charts.timeline(attempts, [], {"INI-0024"})))
    assert root.get("role") == "group"  # its links are reachable, not an image's parts
    points = {a.get("href"): a for a in _points(root)}
    assert set(points) == {"/initiatives/INI-0024", "/initiatives/INI-0019"}
    long = points["/initiatives/INI-0024"]
    label = "".join(long.find(f"{SVG}text").itertext())
    short = long.find(f"{SVG}text/{SVG}tspan[@class='short']").text
    full = long.find(f"{SVG}text/{SVG}tspan[@class='full']").text
    assert short == charts.shorten(LONG) + " (zombie)" and full == LONG + " (zombie)"
    assert "INI-0024" not in label
    assert LONG in long.find(f"{SVG}title").text
    assert long.get("aria-label") == f"{LONG}, started 2019-05 — zombie repeat"
    wakefield = points["/initiatives/INI-0019"]
    assert wakefield.get("aria-label") == "Home telehealth for COPD, Wakefield, started 2012-04"


@pytest.fixture
def client(read_sample: FalkorStore) -> FlaskClient:
    return create_app({"TESTING": True, "STORE": read_sample, "SECRET_KEY": "t"}).test_client()


def test_solution_timeline_shows_names_not_ids(client: FlaskClient) -> None:
    html = client.get("/solutions/SOL-TELE").data.decode()
    start = html.index('<svg class="timeline"')
    root = _svg(html[start:html.index("</svg>", start) + 6])
    points = _points(root)
    titles = {a["id"]: a["title"] for a in
              client.get("/solutions/SOL-TELE.json?size=500").get_json()["attempts"]["items"]}
    assert len(points) == len(titles)
    for a in points:
        ident = a.get("href").rsplit("/", 1)[1]
        shown = a.find(f"{SVG}text/{SVG}tspan[@class='short']").text or ""
        assert not re.search(r"INI-\d", shown), shown
        assert shown.removesuffix(" (zombie)") == charts.shorten(titles[ident])
        assert a.get("aria-label", "").startswith(titles[ident])
