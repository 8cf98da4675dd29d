"""Bidirectional control characters (U+202E RIGHT-TO-LEFT OVERRIDE and its kin) in the
data are shown as visible markers wherever people read them (the explorer's pages, its
CSV downloads), so that no name displays as another (issue "Hold under hostile input",
finding 13); the JSON twins and exported bundles keep the values as stored."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.export import export_bundle
from triedbefore.ingest.pipeline import ingest
from triedbefore.ontology.cells import BIDI_CONTROLS, neutralise, protect_cell, show_controls
from triedbefore.web.app import create_app

#: A name whose override reverses the text after it when displayed unguarded.
SPOOF = "Virtual wards \u202eevil\u2066 (fdp.exe)"


@pytest.mark.parametrize("control", sorted(BIDI_CONTROLS))
def test_every_control_is_shown_as_a_marker(control: str) -> None:
    shown = show_controls(f"a{control}b")
    assert shown == f"a[U+{ord(control):04X}]b"
    assert not BIDI_CONTROLS & set(neutralise(f"={control}x"))
    assert neutralise(f"={control}x").startswith("'=")  # still no formula
    assert protect_cell(f"a{control}b") == f"a{control}b"  # bundles keep the value


def test_pages_and_downloads_show_markers(store: FalkorStore, sample_copy: Path,
                                          tmp_path: Path) -> None:
    path = sample_copy / "solutions.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Virtual wards (hospital at home)", SPOOF), encoding="utf-8")
    assert ingest(store, sample_copy).exit_code == 0
    client = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "t"}).test_client()
    for url in ("/solutions/SOL-VW", "/solutions", "/search?q=virtual+wards"):
        page = client.get(url).get_data(as_text=True)
        assert not BIDI_CONTROLS & set(page), url
        assert "Virtual wards [U+202E]evil[U+2066] (fdp.exe)" in page, url
    rows = list(csv.reader(io.StringIO(client.get("/solutions.csv").get_data(as_text=True))))
    assert not BIDI_CONTROLS & {c for row in rows for cell in row for c in cell}
    assert any("[U+202E]" in cell for row in rows for cell in row)
    # the data as stored: JSON and the exported bundle keep the characters
    assert client.get("/solutions/SOL-VW.json").get_json()["solution"]["name"] == SPOOF
    export_bundle(store, tmp_path / "out")
    assert SPOOF in (tmp_path / "out" / "solutions.csv").read_text(encoding="utf-8")
