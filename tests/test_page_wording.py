"""What the explorer's pages say, on the demo corpus: records by name (ids only as link
targets and in the JSON twins), the illustrative badge on every illustrative record they
list, an ``illustrative`` column in every CSV download, and wording for people (plurals,
the ontology's labels, no "SMS 0", no raw scores, relative changes read the way the
measure runs)."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from triedbefore.graph import queries
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ontology.rdf import concept_labels
from triedbefore.ontology.vocab import Label, SiteKind
from triedbefore.web import wording

BUNDLE = Path(__file__).resolve().parents[1] / "ingest" / "demo" / "bundle"
MEASURE = "Emergency admissions from care homes per 1,000 residents"
DEVIANCE = "/deviance?measure=" + quote(MEASURE)
KINDS = {"initiatives": Label.INITIATIVE, "solutions": Label.SOLUTION,
         "evaluations": Label.EVALUATION, "sites": Label.SITE}
LINK = re.compile(r'<a href="/(initiatives|solutions|evaluations|sites)/([^"/?#]+)">([^<]*)</a>'
                  r'(\s*<span class="badge illustrative")?')
#: The pages whose tables list records of other kinds, by name and with the badge.
LISTING_PAGES = ["/", "/zombies", "/search?q=telehealth", "/search?q=care+homes",
                 "/evaluations", "/evaluations?solution=SOL-TELE", DEVIANCE, "/solutions",
                 "/changes", "/gap-map"]


def _records(store: FalkorStore, links: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """Name and illustrative mark of each linked record, read from the graph."""
    found: dict[tuple[str, str], dict] = {}
    for kind, label in KINDS.items():
        ids = sorted({i for k, i in links if k == kind})
        for row in store.read(queries.names_of(label), {"ids": ids}):
            found[(kind, row["id"])] = row
    return found


def _main(page: str) -> str:
    return page.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", _main(page)))


@pytest.mark.parametrize("url", LISTING_PAGES + ["/solutions/SOL-TELE", "/initiatives/INI-0021",
                                                 "/sites/X-CH-001"])
def test_record_links_read_names_not_ids(demo_client: FlaskClient, read_demo: FalkorStore,
                                         url: str) -> None:
    page = demo_client.get(url).get_data(as_text=True)
    links = [(kind, ident, html.unescape(text).strip())
             for kind, ident, text, _ in LINK.findall(_main(page))]
    assert links, url
    records = _records(read_demo, [(k, i) for k, i, _ in links])
    for kind, ident, text in links:
        assert text != ident, f"{url}: a link to {kind}/{ident} reads its id"
        if (kind, ident) in records:
            assert text == records[(kind, ident)]["name"], (url, kind, ident)


@pytest.mark.parametrize("url", LISTING_PAGES + ["/solutions/SOL-TELE"])
def test_every_listed_illustrative_record_has_the_badge(demo_client: FlaskClient,
                                                        read_demo: FalkorStore,
                                                        url: str) -> None:
    page = _main(demo_client.get(url).get_data(as_text=True))
    links = LINK.findall(page)
    records = _records(read_demo, [(k, i) for k, i, _, _ in links])
    marked = 0
    for kind, ident, _, badge in links:
        illustrative = bool(records[(kind, ident)]["illustrative"])
        assert bool(badge) == illustrative, f"{url}: {kind}/{ident}"
        marked += illustrative
    assert marked, f"{url} lists no illustrative record: the test shows nothing"


@pytest.mark.parametrize("url", [
    "/zombies.csv", "/zombies.csv?table=retries", "/search.csv?q=telehealth", "/evaluations.csv",
    "/solutions.csv", "/deviance.csv?measure=" + quote(MEASURE),
    "/deviance.csv?table=deviants&measure=" + quote(MEASURE),
    "/solutions/SOL-TELE.csv?table=outcomes", "/solutions/SOL-TELE.csv?table=evaluations",
    "/initiatives/INI-0021.csv?table=outcomes", "/initiatives/INI-0019.csv?table=evaluations",
    "/evaluations/EVAL-0004.csv?table=initiatives",
    "/sites/X-CH-001.csv?table=outcomes", "/sites/X-CH-001.csv?table=initiatives",
    "/changes.csv", "/gap-map.csv",
])
def test_every_csv_has_an_illustrative_column(demo_client: FlaskClient, url: str) -> None:
    response = demo_client.get(url)
    assert response.status_code == 200, url
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows, url
    assert {r["illustrative"] for r in rows} <= {"true", "false"}, url
    assert "true" in {r["illustrative"] for r in rows}, url
    real = demo_client.get(url.replace(".csv", ".json")).get_json()
    assert real["ok"] is True


def test_csv_marks_real_records_false(demo_client: FlaskClient) -> None:
    rows = list(csv.DictReader(io.StringIO(demo_client.get("/solutions.csv?size=50")
                                           .get_data(as_text=True))))
    by_id = {r["id"]: r["illustrative"] for r in rows}
    assert by_id["SOL-EHCH"] == "false" and by_id["SOL-TELE"] == "true"


WORDING_PAGES = LISTING_PAGES + [
    "/solutions/SOL-TELE", "/solutions/SOL-ACC", "/initiatives/INI-0021",
    "/initiatives/LP-I01", "/evaluations/EVAL-0004", "/sites/X-CH-001", "/sites/QWO",
    "/sites/Y63", "/gap-map", "/gap-map?by=intervention_type",
    "/search?q=telehealth&site_kind=sub_icb", "/search?q=hospital+at+home"]


@pytest.mark.parametrize("url", WORDING_PAGES)
def test_pages_are_worded_for_people(demo_client: FlaskClient, url: str) -> None:
    response = demo_client.get(url)
    assert response.status_code == 200, url
    text = _text(response.get_data(as_text=True))
    for wrong in ("SMS 0", "level 0", "Icb", "(s)"):
        assert wrong not in text, (url, wrong)
    assert not re.search(r"\b(sub[ _]icb|gp[ _]practice|nhs[ _]region|care_home)\b", text), url
    assert not re.search(r"(?<![\d.,])1 (days|watches|initiatives|sites|evaluations)\b", text)
    assert not re.search(r"\b(score|similarity|match) \d", text), url
    assert not re.search(r"[+-]\d+(\.\d+)?%", text), (url, "a signed change")


def test_plurals_follow_the_count(demo_client: FlaskClient) -> None:
    zombies = _text(demo_client.get("/zombies").get_data(as_text=True))
    assert re.search(r"\b842 days\b", zombies) and not re.search(r"\b1 days\b", zombies)
    home = _text(demo_client.get("/").get_data(as_text=True))
    assert re.search(r"\b\d+\s+verdict changes\b", home) and "verdictchange" not in home
    assert re.search(r"\b0\s+watches\b", home) and "watchs" not in home
    assert wording.plural(1, "watch") == "1 watch"
    assert wording.plural(2, "verdict change") == "2 verdict changes"
    assert wording.plural(3, "local authority") == "3 local authorities"


def test_labels_come_from_the_ontology(demo_client: FlaskClient) -> None:
    labels = concept_labels("SiteKind")
    assert set(labels) == {k.value for k in SiteKind}
    assert labels["sub_icb"] == "Sub-ICB location"
    search = _text(demo_client.get("/search?q=telehealth").get_data(as_text=True))
    for heading in ("ICB", "Site kind", "Sub-ICB location", "Solution uses technology", "Yes"):
        assert re.search(rf"(^|\s){re.escape(heading)}(\s|$)", search), heading
    assert not re.search(r"\btrue\b", search)
    site = _text(demo_client.get("/sites/QWO").get_data(as_text=True))
    assert "Integrated care board" in site
    evaluation = _text(demo_client.get("/evaluations/EVAL-0004").get_data(as_text=True))
    assert "Cluster randomised controlled trial" in evaluation and "cluster rct" not in evaluation
    region = _text(demo_client.get("/sites/Y63").get_data(as_text=True))
    assert re.search(r"\d+ sub-ICB locations", region) and "sub icb" not in region


def test_strength_zero_reads_no_strength_level(demo_client: FlaskClient) -> None:
    page = _text(demo_client.get("/changes").get_data(as_text=True))
    assert "no strength level" in page
    assert wording.strength(0) == wording.strength(None) == "no strength level"
    assert wording.strength(4) == "SMS level 4"
    from triedbefore.web.living import _title
    title = _title({"solution_id": "SOL-X", "solution_name": "X", "change_kind": "verdict",
                    "from_verdict": "promising", "to_verdict": "unevaluated", "strength": 0})
    assert title == "X: promising → unevaluated (no strength level)"


def test_relative_change_follows_the_measure(demo_client: FlaskClient,
                                             read_demo: FalkorStore) -> None:
    # The demo's Plymouth care home: admissions from 780 to 452 per 1,000 residents, an
    # improvement (a fall in admissions), which the analytics score +0.4205.
    row = next(r for r in read_demo.read(queries.MEASURE_OUTCOMES,
                                          {"key": MEASURE.lower()}) if "X-CH-001" in r["sites"])
    assert (row["baseline"], row["value"], row["direction"]) == (780.0, 452.0, "improved")
    site = _text(demo_client.get("/sites/X-CH-001").get_data(as_text=True))
    assert "42.1% lower (improvement)" in site and "+42.1%" not in site
    deviance = demo_client.get(DEVIANCE).get_data(as_text=True)
    assert "42.1% lower (improvement)" in _text(deviance)
    chart = deviance.split('<svg class="bars"', 1)[1].split("</svg>", 1)[0]
    assert "42.1% lower (improvement)</title>" in chart and "+42.1%" not in chart
    assert "better" in chart and "+" not in re.sub(r"<[^>]+>", "", chart).replace(
        "Oakfield", "")
    # the JSON keeps the number
    change = next(c for c in demo_client.get(DEVIANCE.replace("/deviance", "/deviance.json"))
                  .get_json()["changes"] if c["id"] == row["outcome_id"])
    assert change["relative_change"] == pytest.approx(0.4205)
    assert wording.change_text(-0.05, 10, 10.5) == "5.0% higher (worse)"
    assert wording.change_text(-0.2, 50, 40) == "20.0% lower (worse)"


def test_json_twins_keep_ids_and_scores(demo_client: FlaskClient) -> None:
    zombies = demo_client.get("/zombies.json").get_json()["zombies"]["items"]
    row = next(z for z in zombies if z["initiative_id"] == "INI-0021")
    assert row["solution_id"] == "SOL-TELE" and row["ignored_evaluations"] == ["EVAL-0004"]
    assert row["initiative_title"] == "Telehealth for people with COPD in Stockport"
    assert row["illustrative"] is True and "INI-0021" in row["illustrative_records"]
    hits = demo_client.get("/search.json?q=telehealth").get_json()["results"]["items"]
    assert all(isinstance(h["score"], float) for h in hits)
    assert all(isinstance(h["illustrative"], bool) for h in hits)
