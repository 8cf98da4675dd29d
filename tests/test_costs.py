"""What attempts cost and what economic evaluations found, beside the verdict: the cost
summary (median, range, attempts reporting, by funder, "no cost reported"), its date cut,
the economic columns' validation, and the same figures on the solution page, the proposal
check, the gap map and the command line, with their JSON twins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from pydantic import ValidationError

from triedbefore.graph import costs
from triedbefore.graph.analytics import as_of_day
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest
from triedbefore.ontology.models import EvaluationRow, explain
from triedbefore.web import schemas
from triedbefore.web.app import create_app
from triedbefore.web.cli import cli

SOLUTIONS = ("solution_id,name,description\n"
             "SOL-C,Community falls service,Falls prevention service for older people\n"
             "SOL-N,Nothing priced,A solution whose attempts report no cost\n")
INITIATIVES = (
    "initiative_id,title,solution_id,site_ids,start_date,funder,cost_gbp\n"
    "I1,Falls service one,SOL-C,S1,2015-04,Council,100000\n"
    "I2,Falls service two,SOL-C,S1,2016,  Council ,300000\n"
    "I3,Falls service three,SOL-C,S1,2018-01-01,,\n"
    "I4,Falls service four,SOL-C,S1,2021-06,NHS England,2500000\n"
    "I5,Unpriced attempt,SOL-N,S1,2017,NHS England,\n")
EVALUATIONS = (
    "evaluation_id,initiative_ids,title,design,finding,published_date,"
    "cost_per_qaly_gbp,net_cost_per_patient_gbp,price_year\n"
    "E1,I1|I2,Falls service cost-utility study,economic,positive,2017,12000,,2016\n"
    "E2,I4,Falls service savings audit,economic,positive,2022-03,,-150,2021\n")
#: Outcomes in money (units in pounds, however written) and one that is not.
OUTCOMES = (
    "outcome_id,initiative_id,measure,baseline,value,unit,direction,period_end\n"
    "O1,I2,Annual saving on bed days,,552000,GBP,improved,2017-03\n"
    "O2,I4,Net financial benefit,,10.4,gbp million a year,improved,2022-03\n"
    "O3,I1,Falls per 1000 residents,12,9,falls per 1000 residents,improved,2016\n"
    "O4,I5,Cost per fall avoided,1250.5,980,£ per fall avoided,improved,2018\n")


def _bundle(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sites.csv").write_text("site_id,name,kind\nS1,Somewhere Trust,trust\n")
    (folder / "solutions.csv").write_text(SOLUTIONS)
    (folder / "initiatives.csv").write_text(INITIATIVES)
    (folder / "evaluations.csv").write_text(EVALUATIONS)
    (folder / "outcomes.csv").write_text(OUTCOMES)
    return folder


@pytest.fixture
def priced(store: FalkorStore, tmp_path: Path) -> FalkorStore:
    result = ingest(store, _bundle(tmp_path / "bundle"))
    assert result.problems.error_count == 0, [p.to_dict() for p in result.errors]
    return store


# --- the summary, on plain rows -----------------------------------------------------------


def test_no_attempt_reporting_a_cost_says_so() -> None:
    summary = costs.summarise([{"funder": "NHS England", "attempts": 3, "costs": []}])
    assert (summary["reported"], summary["attempts"], summary["median"]) == (0, 3, None)
    assert summary["text"] == "no cost reported"
    assert costs.summarise([])["text"] == "no cost reported"


def test_median_and_range_over_the_attempts_that_reported_a_cost() -> None:
    summary = costs.summarise([
        {"funder": "Council", "attempts": 2, "costs": [100_000.0, 300_000.0]},
        {"funder": None, "attempts": 1, "costs": [200_000.0]},
        {"funder": "NHS England", "attempts": 2, "costs": []}])
    assert (summary["median"], summary["min"], summary["max"]) == (200_000, 100_000, 300_000)
    assert (summary["reported"], summary["attempts"]) == (3, 5)
    assert summary["text"] == ("median £200,000 (range £100,000 to £300,000), from 3 of "
                               "5 attempts reporting a cost")
    funders = {f["funder"]: f for f in summary["by_funder"]}
    assert funders["Council"]["median"] == 200_000 and funders["Council"]["reported"] == 2
    assert funders[costs.NO_FUNDER]["reported"] == 1
    assert funders["NHS England"]["text"] == "no cost reported"
    assert [f["funder"] for f in summary["by_funder"]][0] == "Council"


@pytest.mark.parametrize("row, words", [
    ({"cost_per_qaly_gbp": 12000.0, "price_year": 2016}, "£12,000 per QALY gained (2016 prices)"),
    ({"net_cost_per_patient_gbp": -150.0, "price_year": 2021},
     "net saving of £150 per patient (2021 prices)"),
    ({"net_cost_per_patient_gbp": 80.0, "cost_per_qaly_gbp": 2_500_000.0, "price_year": 2020},
     "£2.5m per QALY gained; net cost of £80 per patient (2020 prices)"),
])
def test_economic_results_in_words(row: dict[str, float], words: str) -> None:
    assert costs.economic_words(row) == words


# --- the economic columns ---------------------------------------------------------------

BASE = {"evaluation_id": "E", "initiative_ids": "I", "title": "T", "design": "economic",
        "finding": "positive", "published_date": "2020"}


@pytest.mark.parametrize("cells, column, reason", [
    ({"cost_per_qaly_gbp": "-1", "price_year": "2019"}, "cost_per_qaly_gbp", "out of range"),
    ({"net_cost_per_patient_gbp": "-10", "price_year": "19"}, "price_year", "not a price year"),
    ({"net_cost_per_patient_gbp": "-10", "price_year": "2019.5"}, "price_year", "number"),
    ({"cost_per_qaly_gbp": "lots", "price_year": "2019"}, "cost_per_qaly_gbp", "not a number"),
])
def test_economic_columns_are_validated(cells: dict[str, str], column: str,
                                        reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        EvaluationRow(**BASE, **cells)
    problems = explain(caught.value)
    assert [p.column for p in problems] == [column]
    assert reason in problems[0].reason


def test_a_result_whose_source_states_no_price_year_loads_and_says_so() -> None:
    row = EvaluationRow(**BASE, cost_per_qaly_gbp="92000")
    assert row.price_year is None
    assert costs.economic_words(row.node_properties()) == (
        "£92,000 per QALY gained (price year not stated)")


def test_a_net_saving_is_negative_and_loads() -> None:
    row = EvaluationRow(**BASE, net_cost_per_patient_gbp="-150", price_year="2021")
    assert row.node_properties()["net_cost_per_patient_gbp"] == -150
    assert row.node_properties()["price_year"] == 2021


def test_a_bad_economic_cell_is_a_row_error_with_file_line_and_column(
        store: FalkorStore, tmp_path: Path) -> None:
    folder = _bundle(tmp_path / "bad")
    (folder / "evaluations.csv").write_text(
        EVALUATIONS + "E3,I3,A price year that is no year,economic,positive,2019,9000,,20\n")
    result = ingest(store, folder)
    [error] = result.errors
    assert (error.file, error.line, error.column) == ("evaluations.csv", 4, "price_year")


# --- from the graph, as of a date -------------------------------------------------------


def test_costs_as_of_a_date_count_only_attempts_started_by_then(priced: FalkorStore) -> None:
    then = costs.costs_of(priced, ["SOL-C"], as_of_day("2016-12-31"))["SOL-C"]
    # I2 started "2016": from its first day, so it counts by the end of 2016
    assert (then["attempts"], then["reported"], then["median"]) == (2, 2, 200_000)
    [council] = then["by_funder"]
    assert council["funder"] == "Council" and council["attempts"] == 2
    early = costs.costs_of(priced, ["SOL-C"], as_of_day("2015-03-31"))["SOL-C"]
    assert early["attempts"] == 0 and early["text"] == "no cost reported"
    now = costs.costs_of(priced, ["SOL-C", "SOL-N"], as_of_day(None))
    assert (now["SOL-C"]["attempts"], now["SOL-C"]["reported"]) == (4, 3)
    assert (now["SOL-C"]["min"], now["SOL-C"]["max"]) == (100_000, 2_500_000)
    assert now["SOL-N"]["text"] == "no cost reported" and now["SOL-N"]["attempts"] == 1


def test_economic_results_as_of_a_date(priced: FalkorStore) -> None:
    assert [e["id"] for e in costs.economics_of(priced, "SOL-C", as_of_day(None))] == [
        "E1", "E2"]
    assert [e["id"] for e in costs.economics_of(priced, "SOL-C",
                                                as_of_day("2022-03-30"))] == ["E1"]


def test_outcomes_measured_in_money_as_of_a_date(priced: FalkorStore) -> None:
    now = costs.money_outcomes_of(priced, "SOL-C", as_of_day(None))
    assert [(o["id"], o["value"], o["unit"]) for o in now] == [
        ("O1", 552000, "GBP"), ("O2", 10.4, "gbp million a year")]  # not O3: no money
    # by mid-2017, I4 (started 2021) had not begun; O1 was measured by March 2017
    then = costs.money_outcomes_of(priced, "SOL-C", as_of_day("2017-06-30"))
    assert [o["id"] for o in then] == ["O1"]
    assert costs.money_outcomes_of(priced, "SOL-C", as_of_day("2016-12-31")) == []
    [other] = costs.money_outcomes_of(priced, "SOL-N", as_of_day(None))
    assert (other["id"], other["baseline"], other["initiative_id"]) == ("O4", 1250.5, "I5")


@pytest.fixture
def client(priced: FalkorStore) -> FlaskClient:
    return create_app({"TESTING": True, "STORE": priced, "SECRET_KEY": "test"}).test_client()


def test_solution_page_shows_costs_and_economics_beside_the_verdict(client: FlaskClient) -> None:
    html = client.get("/solutions/SOL-C").get_data(as_text=True)
    assert "What attempts cost:" in html
    assert "median £300,000 (range £100,000 to £2.5m), from 3 of 4 attempts" in html
    assert "£12,000 per QALY gained (2016 prices)" in html
    assert "net saving of £150 per patient (2021 prices)" in html
    data = client.get("/solutions/SOL-C.json").get_json()
    schemas.SolutionPage.model_validate(data)
    assert data["costs"]["reported"] == 3 and data["verdict"]["verdict"] == "promising"
    then = client.get("/solutions/SOL-C.json?as_of=2017-06-30").get_json()
    assert (then["costs"]["attempts"], then["costs"]["median"]) == (2, 200_000)
    assert then["economics"] == []  # E1 is published "2017": from 31 December
    assert "no cost reported" in client.get("/solutions/SOL-N").get_data(as_text=True)


def test_the_costs_box_shows_outcomes_measured_in_money(client: FlaskClient) -> None:
    """A solution with no economic evaluation but an attempt that reported a saving says
    both, not "no economic result" alone beside a saving in its outcomes table."""
    html = client.get("/solutions/SOL-N").get_data(as_text=True)
    box = html.split('id="costs-h"')[1].split("</section>")[0]
    assert "No economic evaluation (cost per QALY gained, net cost per patient)" in box
    assert "Outcomes measured in money, as the attempts reported them:" in box
    assert "Cost per fall avoided: <strong>980 £ per fall avoided</strong> (from 1,250.5)" \
        in box and 'href="/initiatives/I5"' in box
    box = client.get("/solutions/SOL-C").get_data(as_text=True).split(
        'id="costs-h"')[1].split("</section>")[0]
    assert "552,000 GBP" in box and "10.4 gbp million a year" in box
    assert "Falls per 1000" not in box and "No economic evaluation" not in box
    data = client.get("/solutions/SOL-C.json").get_json()
    schemas.SolutionPage.model_validate(data)
    assert [o["id"] for o in data["money_outcomes"]] == ["O1", "O2"]
    then = client.get("/solutions/SOL-C.json?as_of=2016-12-31").get_json()
    assert then["money_outcomes"] == []
    welsh = client.get("/solutions/SOL-N", headers={"Accept-Language": "cy"}).get_data(
        as_text=True)
    assert "Canlyniadau wedi'u mesur mewn arian" in welsh


def test_economic_results_do_not_change_the_verdict(priced: FalkorStore,
                                                    tmp_path: Path) -> None:
    from triedbefore.graph import analytics

    before = analytics.verdict(priced, "SOL-C")
    folder = _bundle(tmp_path / "again")
    (folder / "evaluations.csv").write_text(EVALUATIONS.replace(",12000,,2016", ",,,"))
    ingest(priced, folder)
    after = analytics.verdict(priced, "SOL-C")
    assert (before["verdict"], before["strength"]) == (after["verdict"], after["strength"])


def test_check_shows_costs_of_each_match(client: FlaskClient) -> None:
    data = client.get("/check.json?q=community+falls+service+for+older+people").get_json()
    schemas.CheckPage.model_validate(data)
    [match] = [m for m in data["report"]["matches"] if m["solution_id"] == "SOL-C"]
    assert match["costs"]["reported"] == 3
    html = client.get("/check?q=community+falls+service+for+older+people").get_data(
        as_text=True)
    assert "median £300,000" in html


def test_gap_map_colours_by_cost_reported(client: FlaskClient) -> None:
    data = client.get("/gap-map.json?colour=cost").get_json()
    schemas.GapMapPage.model_validate(data)
    assert data["colour"] == "cost"
    rows = {r["row"]: r for r in data["cells"]["items"]}
    assert rows["SOL-C"]["costs_reported"] == 3
    html = client.get("/gap-map?colour=cost").get_data(as_text=True)
    assert "Colour: whether any attempt of the row reported its cost" in html
    assert "#005eb8" in html
    assert client.get("/gap-map?colour=price").status_code == 400


def test_cli_verdict_and_check_show_costs(priced: FalkorStore) -> None:
    uri = priced.uri.raw
    out = CliRunner().invoke(cli, ["--store", uri, "verdict", "SOL-C"]).output
    assert "Cost of attempts: median £300,000" in out
    assert "  - Council: median £200,000" in out
    assert "£12,000 per QALY gained (2016 prices)" in out
    raw = CliRunner().invoke(cli, ["--store", uri, "verdict", "SOL-C", "--as-of",
                                   "2015-12-31", "--format", "json"]).output
    data = json.loads(raw)
    assert (data["costs"]["attempts"], data["costs"]["reported"]) == (1, 1)
    assert data["economics"] == []
    out = CliRunner().invoke(cli, ["--store", uri, "verdict", "SOL-N"]).output
    assert "Cost of attempts: no cost reported" in out
    assert "Outcomes measured in money (beside the verdict, not part of it):\n  - Cost per " \
        "fall avoided: 980 £ per fall avoided (from 1,250.5), Unpriced attempt (I5)" in out
    raw = CliRunner().invoke(cli, ["--store", uri, "check", "--format", "json",
                                   "community falls service for older people"]).output
    [match] = [m for m in json.loads(raw)["matches"] if m["solution_id"] == "SOL-C"]
    assert match["costs"]["median"] == 300_000


def test_evaluation_page_shows_its_economic_result(client: FlaskClient) -> None:
    data = client.get("/evaluations/E2.json").get_json()
    schemas.EvaluationPage.model_validate(data)
    assert data["economic"] == "net saving of £150 per patient (2021 prices)"
    assert "net saving of £150 per patient" in client.get("/evaluations/E2").get_data(
        as_text=True)
    assert client.get("/evaluations/E2.json").get_json()["economic"] is not None
