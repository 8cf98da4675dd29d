"""NHS organisations from the ODS extracts: layouts, hierarchy, closed organisations,
district centroids, the change report between two extracts, idempotent reloads and the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from triedbefore.graph import queries
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.ods import (
    ODS_LICENCE,
    centroid,
    ingest_ods,
    read_extract,
    site_rows,
    title_case,
)
from triedbefore.ingest.pipeline import ingest
from triedbefore.ontology.vocab import SiteKind
from triedbefore.web.cli import cli

ODS = Path(__file__).resolve().parent / "data" / "ods"


def sites(store: FalkorStore, *ids: str) -> dict[str, dict[str, Any]]:
    return {str(r["id"]): dict(r) for r in store.read(queries.SITE_STATES, {"ids": list(ids)})}


def node(store: FalkorStore, site_id: str) -> dict[str, Any]:
    rows = store.read(queries.SITE_DETAIL, {"id": site_id})
    assert rows, site_id
    return dict(rows[0]["site"])


# --- reading ------------------------------------------------------------------------


def test_trust_extract_27_columns() -> None:
    extract = read_extract(ODS / "etr.csv")
    assert extract.layout == 27 and not extract.problems
    assert len(extract.organisations) == 273
    by_code = {o.code: o for o in extract.organisations}
    ra7 = by_code["RA7"]
    assert ra7.kind is SiteKind.TRUST
    assert ra7.name == "University Hospitals Bristol and Weston NHS Foundation Trust"
    assert ra7.region_code == "Y58" and ra7.icb_code == "QUY"
    assert sum(1 for o in extract.organisations if o.close_date) == 68
    assert by_code["G6V2S"].open_date == "2024-11-01"


def test_older_trust_extract_24_columns() -> None:
    extract = read_extract(ODS / "etr_c2016.csv")
    assert extract.layout == 24 and not extract.problems
    assert len(extract.organisations) == 241
    rows = {r["site_id"]: r for r in site_rows([extract]).rows}
    # column 4 holds the old area-team codes: the parent is the (former) region
    assert rows["R1A"]["parent_id"] == "Y55"
    assert rows["Y55"]["name"] == "Midlands and East of England (former region)"
    assert rows["Y55"]["kind"] == "nhs_region"


def test_practices_only_gp_practices_with_their_commissioner() -> None:
    extracts = [read_extract(ODS / "eccg.csv"), read_extract(ODS / "epraccur_sample_15N.csv")]
    practices = extracts[1]
    assert len(practices.organisations) + practices.skipped == 259
    assert all(o.kind is SiteKind.GP_PRACTICE for o in practices.organisations)
    rows = {r["site_id"]: r for r in site_rows(extracts).rows}
    code = practices.organisations[0].code
    assert rows[code]["parent_id"] == "15N"
    assert rows["15N"]["parent_id"] == "QJK"
    assert rows["QJK"]["parent_id"] == "Y58" and rows["QJK"]["kind"] == "icb"
    assert rows["QJK"]["name"] == "NHS Devon Integrated Care Board"
    assert rows["Y58"]["name"] == "South West"


def test_names_and_centroids() -> None:
    assert title_case("NHS WEST YORKSHIRE ICB - 03R") == "NHS West Yorkshire ICB - 03R"
    assert title_case("KING'S COLLEGE HOSPITAL NHS FOUNDATION TRUST") == \
        "King's College Hospital NHS Foundation Trust"
    assert title_case("Already Mixed") == "Already Mixed"
    assert title_case("NEWHAM - SUB-ICB REPORTING ENTITY") == "Newham - Sub-ICB Reporting Entity"
    assert title_case("STOKE-ON-TRENT") == "Stoke-on-Trent"
    assert centroid("SE1 7EH") == centroid("SE17EH") is not None
    assert centroid("ZZ9 9ZZ") is None and centroid(None) is None


def test_bad_rows_are_row_errors_and_good_rows_load(store: FalkorStore, tmp_path: Path) -> None:
    good = next(csv.reader((ODS / "etr.csv").open(encoding="utf-8")))
    bad_date = list(good)
    bad_date[0], bad_date[10] = "RZ1", "20241399"
    no_name = list(good)
    no_name[0], no_name[1] = "RZ2", ""
    path = tmp_path / "etr.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
        writer.writerows([good, bad_date, no_name, good[:5]])
    result = ingest_ods(store, [path])
    errors = [p.to_dict() for p in result.ingest.errors]
    assert {"file": "etr.csv", "line": 2, "column": "11 (open date)",
            "reason": "'20241399' is not a date (expected YYYYMMDD)"} in errors
    assert {"file": "etr.csv", "line": 3, "column": "2 (name)",
            "reason": "required value is empty"} in errors
    assert any(e["line"] == 4 and "5 columns" in e["reason"] for e in errors)
    assert result.exit_code == 3
    assert set(sites(store, good[0], "RZ1", "RZ2")) == {good[0]}


# --- loading ------------------------------------------------------------------------


@pytest.fixture
def loaded(store: FalkorStore) -> FalkorStore:
    first = ingest_ods(store, [ODS / "etr.csv", ODS / "eccg.csv",
                               ODS / "epraccur_sample_15N.csv"])
    assert first.first_load and first.exit_code == 0
    return store


def test_hierarchy_practice_to_region(loaded: FalkorStore) -> None:
    practice = next(o.code for o in read_extract(ODS / "epraccur_sample_15N.csv").organisations
                    if not o.close_date)
    chain = [practice]
    while True:
        parent = sites(loaded, chain[-1])[chain[-1]]["parent_id"]
        if parent is None:
            break
        chain.append(parent)
    kinds = [sites(loaded, c)[c]["kind"] for c in chain]
    assert kinds == ["gp_practice", "sub_icb", "icb", "nhs_region"]
    assert chain[1:] == ["15N", "QJK", "Y58"]
    site = node(loaded, practice)
    assert site["region"] == "South West"
    assert site["licence"] == ODS_LICENCE and site["source_url"].startswith("https://")


def test_closed_organisations_stay_marked_closed(loaded: FalkorStore) -> None:
    ccg = node(loaded, "04N")
    assert ccg["name"] == "NHS Rushcliffe CCG"
    assert ccg["close_date"] == "2020-03-31" and ccg["open_date"] == "2013-04-01"


def test_coordinates_from_district_centroid_unless_the_site_has_its_own(
        store: FalkorStore, tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "sites.csv").write_text("site_id,name,kind,lat,lon\nRJ1,Guy's,trust,51.5,-0.09\n",
                                      encoding="utf-8")
    ingest(store, bundle)
    ingest_ods(store, [ODS / "etr.csv"])
    assert (node(store, "RJ1")["lat"], node(store, "RJ1")["lon"]) == (51.5, -0.09)
    g6v2s = node(store, "G6V2S")  # NW1 0PE
    assert (g6v2s["lat"], g6v2s["lon"]) == pytest.approx(centroid("NW1 0PE"), abs=1e-6)


def test_newer_extract_reports_what_changed(loaded: FalkorStore) -> None:
    result = ingest_ods(loaded, [ODS / "etr_2026-07.csv"])
    assert not result.first_load and result.exit_code == 0
    changes = result.changes
    assert {"id": "RA7", "from": "University Hospitals Bristol and Weston NHS Foundation Trust",
            "to": "Bristol NHS Foundation Trust"} in changes["renamed"]
    assert {"id": "RVJ", "name": "North Bristol NHS Trust",
            "close_date": "2026-06-30"} in changes["closed"]
    moved = {c["id"]: (c["from"], c["to"]) for c in changes["moved"]}
    assert moved["G6V2S"] == ("QMJ", "Z9B2Z")  # an ICB merger to a new code
    opened = {c["id"] for c in changes["opened"]}
    assert {"K0N6A", "Z9B2Z"} <= opened
    assert node(loaded, "RA7")["name"] == "Bristol NHS Foundation Trust"
    assert node(loaded, "RVJ")["close_date"] == "2026-06-30"
    new_icb = sites(loaded, "Z9B2Z")["Z9B2Z"]
    assert new_icb["kind"] == "icb" and new_icb["parent_id"] == "Y56"
    # the organisations not in the newer extract are still there
    assert "04N" in sites(loaded, "04N")


def test_identical_reload_changes_nothing(loaded: FalkorStore) -> None:
    again = ingest_ods(loaded, [ODS / "etr.csv", ODS / "eccg.csv",
                                ODS / "epraccur_sample_15N.csv"])
    assert again.ingest.written == {"sites": 0}
    assert again.ingest.unchanged["sites"] == again.ingest.loaded["sites"]
    assert all(not v for v in again.changes.values())


# --- the command line ------------------------------------------------------------------


def test_cli_json_and_table(store_uri: str) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["--store", store_uri, "ingest-ods", str(ODS / "etr.csv"),
                                "--format", "json"])
    assert first.exit_code == 0, first.output
    data = json.loads(first.output)
    assert data["first_load"] is True
    assert set(data["changes"]) == {"opened", "closed", "reopened", "renamed", "moved"}
    assert data["files"] == [{"file": "etr.csv", "extract": "etr", "layout_columns": 27,
                              "organisations": 273, "skipped": 0, "rejected": 0}]
    second = runner.invoke(cli, ["--store", store_uri, "ingest-ods",
                                 str(ODS / "etr_2026-07.csv")])
    assert second.exit_code == 0, second.output
    assert "renamed  RA7" in second.output
    assert "University Hospitals Bristol and Weston NHS Foundation Trust → Bristol NHS " \
           "Foundation Trust" in second.output


@pytest.mark.parametrize("name", ["etr_missing.csv", "notods.csv"])
def test_cli_errors_are_one_line(store_uri: str, tmp_path: Path, name: str) -> None:
    result = CliRunner().invoke(cli, ["--store", store_uri, "ingest-ods", str(tmp_path / name)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("triedbefore: error:")
    assert "Traceback" not in result.output
