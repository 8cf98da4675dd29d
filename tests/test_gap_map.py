"""The evidence gap map: every solution is a row, those tried but never evaluated too (the
biggest gaps, drawn as empty rows with their number of initiatives); a colour legend; row
labels wrapped, never cut."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest
from triedbefore.web.app import create_app
from triedbefore.web.charts import VERDICT_COLOURS

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"

#: A solution tried three times and never evaluated, with a long name, alone in its
#: intervention type.
GAP_NAME = ("Integrated urgent care clinical assessment service with a very long name that "
            "no margin holds on one line")
GAP_BUNDLE = {
    "solutions.csv": "solution_id,name,intervention_type\n"
                     f"SOL-GAP,{GAP_NAME},governance_arrangements\n",
    "initiatives.csv": "initiative_id,title,solution_id,site_ids,start_date\n"
                       + "".join(f"INI-GAP{n},Gap attempt {n},SOL-GAP,RXF,2019-0{n}\n"
                                 for n in (1, 2, 3)),
}


@pytest.fixture
def client(store: FalkorStore, tmp_path: Path) -> Iterator[FlaskClient]:
    assert ingest(store, SAMPLE, report_dir=tmp_path).exit_code == 0
    bundle = tmp_path / "gap"
    bundle.mkdir()
    for name, text in GAP_BUNDLE.items():
        (bundle / name).write_text(text, "utf-8")
    assert ingest(store, bundle, report_dir=tmp_path).exit_code == 0
    app = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "test"})
    yield app.test_client()


def _rows(client: FlaskClient, by: str = "solution") -> dict[str, dict[str, object]]:
    data = client.get(f"/gap-map.json?by={by}&size=500").get_json()
    return {str(r["row"]): r for r in data["cells"]["items"]}


def test_every_solution_is_a_row_the_unevaluated_ones_empty(client: FlaskClient) -> None:
    solutions = client.get("/solutions.json?size=500").get_json()["solutions"]["items"]
    rows = _rows(client)
    assert set(rows) == {s["id"] for s in solutions}
    gap = rows["SOL-GAP"]
    assert gap["label"] == GAP_NAME and gap["verdict"] == "unevaluated"
    assert gap["evaluations"] == 0 and gap["initiatives"] == 3
    assert all(gap[d] == 0 for d in client.get("/gap-map.json").get_json()["domains"])
    # the others count their evaluations and initiatives
    tele = rows["SOL-TELE"]
    evaluations = client.get("/evaluations.json?solution=SOL-TELE&size=500").get_json()
    assert tele["evaluations"] == evaluations["evaluations"]["total"] > 0
    assert tele["initiatives"] == next(s["initiatives"] for s in solutions
                                       if s["id"] == "SOL-TELE")


def test_an_intervention_type_never_evaluated_is_a_row(client: FlaskClient) -> None:
    rows = _rows(client, "intervention_type")
    assert rows["governance_arrangements"]["evaluations"] == 0
    assert rows["governance_arrangements"]["initiatives"] == 3
    assert rows["delivery_arrangements"]["evaluations"] > 0


def test_empty_rows_are_drawn_with_their_initiatives(client: FlaskClient) -> None:
    page = client.get("/gap-map?size=500").get_data(as_text=True)
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert "No evaluation · tried by 3 initiatives" in svg
    assert svg.count('class="gap-empty"') == 1 + 1  # the row, and its key in the legend
    assert "1 row without any evaluation" in svg


def test_gap_map_has_a_colour_legend(client: FlaskClient) -> None:
    page = client.get("/gap-map").get_data(as_text=True)
    legend = page[page.index('<g class="legend">'):page.index("</svg>")]
    assert "Colour: the verdict of the row" in legend and "Size: evaluations" in legend
    for verdict, colour in VERDICT_COLOURS.items():
        assert f'fill="{colour}"' in legend and f">{verdict.replace('_', ' ')}<" in legend


def test_row_labels_are_wrapped_not_cut(client: FlaskClient) -> None:
    page = client.get("/gap-map?size=500").get_data(as_text=True)
    svg = page[page.index("<svg"):page.index("</svg>")]
    labels = re.findall(r'<text text-anchor="end" class="label"><title>(.*?)</title>(.*?)</text>',
                        svg)
    names = {str(r["label"]) for r in _rows(client).values()}
    assert {html.unescape(title) for title, _ in labels} == names
    for title, spans in labels:
        lines = [html.unescape(t) for t in re.findall(r"<tspan[^>]*>(.*?)</tspan>", spans)]
        assert " ".join(lines) == html.unescape(title)  # every word, in order
        assert all(len(line) <= 30 for line in lines)
    gap = next(spans for title, spans in labels if html.unescape(title) == GAP_NAME)
    assert gap.count("<tspan") >= 3
    assert '<a href="/solutions/SOL-GAP">' in svg  # the label leads to the solution


def test_csv_counts_initiatives_and_evaluations(client: FlaskClient) -> None:
    rows = list(csv.DictReader(io.StringIO(
        client.get("/gap-map.csv?size=500").get_data(as_text=True))))
    gap = next(r for r in rows if r["row"] == "SOL-GAP")
    assert gap["initiatives"] == "3" and gap["evaluations"] == "0"
