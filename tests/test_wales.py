"""All of Wales: Welsh GP practices hang from their local health board and boards from NHS
Wales (names and centroids from the ONS list), every site says its country, the roll-ups,
search facets and the map include Wales, and Scottish or Northern Irish organisations in a
bundle load as sites with their country."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from triedbefore.graph import rollup
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.ods import WALES, health_boards, ingest_ods, read_extract
from triedbefore.ingest.pipeline import ingest
from triedbefore.web.app import create_app

ODS = Path(__file__).resolve().parent / "data" / "ods"
GEOGRAPHY = Path(__file__).resolve().parents[1] / "ingest" / "geography"


def _site(store: FalkorStore, site_id: str) -> dict[str, Any]:
    rows = store.read("MATCH (t:Site {id: $id}) OPTIONAL MATCH (t)-[:PART_OF]->(p:Site) "
                      "RETURN t {.*} AS site, p.id AS parent_id", {"id": site_id})
    assert rows, f"no site {site_id}"
    return {**rows[0]["site"], "parent_id": rows[0]["parent_id"]}


@pytest.fixture
def wales(store: FalkorStore) -> FalkorStore:
    result = ingest_ods(store, [ODS / "etr.csv", ODS / "epraccur_sample_wales.csv",
                                ODS / "epraccur_sample_15N.csv", ODS / "eccg.csv"])
    assert result.exit_code == 0, [p.to_dict() for p in result.ingest.errors][:3]
    return store


def test_welsh_practice_to_board_to_nhs_wales(wales: FalkorStore) -> None:
    practice = next(o.code for o in read_extract(ODS / "epraccur_sample_wales.csv").organisations
                    if not o.close_date and o.commissioner == "7A3")
    chain = [practice]
    while (parent := _site(wales, chain[-1])["parent_id"]) is not None:
        chain.append(parent)
    assert chain[1:] == ["7A3", WALES]
    assert [_site(wales, c)["kind"] for c in chain] == [
        "gp_practice", "local_health_board", "nhs_nation"]
    site = _site(wales, practice)
    assert (site["region"], site["country"]) == ("Wales", "wales")
    board, nation = _site(wales, "7A3"), _site(wales, WALES)
    assert board["name"] == "Swansea Bay University Health Board"
    assert nation["name"] == "NHS Wales" and nation["parent_id"] is None


def test_boards_carry_the_ons_names_and_centroids(wales: FalkorStore) -> None:
    with (GEOGRAPHY / "lhb_apr2022_attributes.csv").open(encoding="utf-8") as f:
        ons = {r["LHB22NM"]: r for r in csv.DictReader(f)}
    assert len(health_boards()) == 7 == len(ons)
    for code in health_boards():
        board = _site(wales, code)
        row = ons[board["name"]]
        assert (board["lat"], board["lon"]) == (float(row["LAT"]), float(row["LONG"]))
        assert board["parent_id"] == WALES and board["country"] == "wales"
        assert "Office for National Statistics" in board["licence"]


def test_welsh_trusts_hang_from_nhs_wales_and_england_stays_english(wales: FalkorStore
                                                                    ) -> None:
    for trust in ("RQF", "RT4", "RYT"):
        assert _site(wales, trust)["parent_id"] == WALES
        assert _site(wales, trust)["country"] == "wales"
    devon = next(o.code for o in read_extract(ODS / "epraccur_sample_15N.csv").organisations
                 if not o.close_date)
    assert (_site(wales, devon)["country"], _site(wales, devon)["parent_id"]) == (
        "england", "15N")
    assert _site(wales, "Y58")["country"] == "england"


def test_rollup_counts_boards_beside_icbs_and_names_wales() -> None:
    rows = [
        {"id": "W1", "kind": "gp_practice", "name": "A",
         "ancestors": [{"id": "7A3", "kind": "local_health_board", "name": "Swansea Bay"},
                       {"id": WALES, "kind": "nhs_nation", "name": "NHS Wales"}]},
        {"id": "E1", "kind": "gp_practice", "name": "B",
         "ancestors": [{"id": "QJK", "kind": "icb", "name": "Devon"},
                       {"id": "Y58", "kind": "nhs_region", "name": "South West"}]}]
    found = rollup.rollup_of(rows)
    assert found["text"] == ("Tried in 2 GP practices across 1 ICB and 1 local health board "
                             "in the South West and Wales.")
    assert rollup.rollup_of(rows[:1])["text"] == (
        "Tried in 1 GP practice across 1 local health board in Wales.")


BUNDLE_SITES = ("site_id,name,kind,country\n"
                "S08000031,NHS Greater Glasgow and Clyde,other,scotland\n"
                "ZT001,Belfast Health and Social Care Trust,trust,northern_ireland\n"
                "XX1,Nowhere,other,atlantis\n")


def test_scottish_and_northern_irish_sites_load_with_their_country(store: FalkorStore,
                                                                   tmp_path: Path) -> None:
    (tmp_path / "sites.csv").write_text(BUNDLE_SITES, encoding="utf-8")
    result = ingest(store, tmp_path)
    [error] = result.errors
    assert (error.line, error.column) == (4, "country")
    assert set(error.allowed) == {"england", "wales", "scotland", "northern_ireland"}
    assert _site(store, "S08000031")["country"] == "scotland"
    assert _site(store, "ZT001")["country"] == "northern_ireland"


@pytest.fixture
def client(wales: FalkorStore, tmp_path: Path) -> FlaskClient:
    practice = next(o for o in read_extract(ODS / "epraccur_sample_wales.csv").organisations
                    if not o.close_date and o.commissioner == "7A3")
    (tmp_path / "solutions.csv").write_text(
        "solution_id,name\nSOL-W,Pharmacy-led minor ailments scheme\n", encoding="utf-8")
    (tmp_path / "initiatives.csv").write_text(
        "initiative_id,title,solution_id,site_ids,start_date\n"
        f"IW1,Minor ailments scheme in Swansea,SOL-W,{practice.code},2019\n"
        "IE1,Minor ailments scheme in Devon,SOL-W,15N,2020\n", encoding="utf-8")
    assert ingest(wales, tmp_path).problems.error_count == 0
    return create_app({"TESTING": True, "STORE": wales, "SECRET_KEY": "t"}).test_client()


def test_solution_rollup_map_and_facets_include_wales(client: FlaskClient) -> None:
    page = client.get("/solutions/SOL-W.json").get_json()
    assert "1 local health board" in page["rollup"]["text"]
    assert page["rollup"]["text"].endswith("in the South West and Wales.")
    assert "7A3" in page["rollup"]["icbs"]
    assert any(s["region"] == "Wales" for s in page["sites"])
    html = client.get("/solutions/SOL-W").get_data(as_text=True)
    assert 'class="outline-wales"' in html  # Wales is drawn on the map, not only England
    found = client.get("/search.json?q=minor+ailments").get_json()
    facets = {f: dict(v) for f, v in found["facets"].items()}
    assert facets["region"].get("Wales") == 1
    assert facets["icb"].get("Swansea Bay University Health Board") == 1
    only = client.get("/search.json?q=minor+ailments&region=Wales").get_json()
    assert [r["id"] for r in only["results"]["items"]] == ["IW1"]
    board = client.get("/sites/7A3.json").get_json()
    assert [a["kind"] for a in board["hierarchy"]["ancestors"]] == ["nhs_nation"]
    assert "1 initiative tried inside it" in board["hierarchy"]["text"]
