"""The proposal check shows the right neighbours, by name: the closest solution's own
initiatives first (those in the place the proposal names first), then those only worded
like it, in score order; what to read first with design, strength, finding, date and why;
names, not ids or raw scores, on the page and in the CLI; the JSON twin carries the same."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from triedbefore.graph import queries, search
from triedbefore.graph.falkor import FalkorStore
from triedbefore.web import schemas
from triedbefore.web.app import create_app
from triedbefore.web.cli import cli

README_EXAMPLE = "Proposal: telehealth monitoring for COPD patients"
WAKEFIELD = ("We propose telehealth for people with COPD in three Wakefield practices: "
             "patients send daily oxygen saturation and symptom readings from home, and "
             "community respiratory nurses review the alerts, to cut emergency admissions.")
PROPOSALS = [README_EXAMPLE, WAKEFIELD, "Hospital at home for frail patients in Devon",
             "Care home support across London", "Social prescribing link workers",
             "High-intensity user service for people who call 999 very often"]
ID_AS_TEXT = re.compile(r"\b(?:SOL|INI|EVAL)-[A-Z0-9]+\b|\bEV\d+\b|\bVG\d+")
RAW_SCORE = re.compile(r"\b0\.\d{3,}|\bmatch \d")


@pytest.fixture
def demo(read_demo: FalkorStore) -> FalkorStore:
    return read_demo


@pytest.fixture
def sample_client(read_sample: FalkorStore) -> FlaskClient:
    return create_app({"TESTING": True, "STORE": read_sample,
                       "SECRET_KEY": "test"}).test_client()


def _report(client: FlaskClient, text: str, **args: str) -> dict[str, Any]:
    query = "&".join(f"{k}={quote(v)}" for k, v in {"q": text, **args}.items())
    response = client.get(f"/check.json?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()
    schemas.CheckPage.model_validate(data)
    report: dict[str, Any] = data["report"]
    return report


class _Text(HTMLParser):
    """The text a reader sees in the report section (not the form, not link targets)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth or ("class", "check-report") in attrs:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag not in ("br",):
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


def _report_text(client: FlaskClient, text: str, site: str = "") -> str:
    response = client.get(f"/check?q={quote(text)}" + (f"&site={site}" if site else ""))
    assert response.status_code == 200
    parser = _Text()
    parser.feed(response.get_data(as_text=True).replace("<br>", " "))
    out = " ".join(parser.parts)
    assert "Similar past initiatives" in out
    return out


# --- the neighbours ---------------------------------------------------------------------


@pytest.mark.parametrize("client_name", ["sample_client", "demo_client"])
def test_readme_example_lists_the_telehealth_solutions_initiatives_first(
        client_name: str, request: pytest.FixtureRequest) -> None:
    client: FlaskClient = request.getfixturevalue(client_name)
    report = _report(client, README_EXAMPLE)
    assert report["matches"][0]["solution_id"] == "SOL-TELE"
    own = client.get("/solutions/SOL-TELE.json?size=100").get_json()["attempts"]["items"]
    own_ids = {a["id"] for a in own}
    listed = [i["initiative_id"] for i in report["initiatives"]]
    assert set(listed[:len(own_ids)]) == own_ids, listed  # all of them, before any other
    assert all(i["solution_id"] == "SOL-TELE" and i["verdict"] == "does_not_work"
               for i in report["initiatives"][:len(own_ids)])
    assert "coaching" not in report["initiatives"][0]["title"].lower()


@pytest.mark.parametrize("client_name", ["sample_client", "demo_client"])
def test_a_paragraph_naming_wakefield_lists_wakefield_first(
        client_name: str, request: pytest.FixtureRequest) -> None:
    client: FlaskClient = request.getfixturevalue(client_name)
    report = _report(client, WAKEFIELD)
    first = report["initiatives"][0]
    assert first["title"] == "Home telehealth for COPD, Wakefield", report["initiatives"]
    assert "Wakefield" in [p["name"] for p in report["places"]]
    assert first["place"] and "Wakefield" in first["place"] and "Wakefield" in first["reason"]
    # Elsewhere, the same solution's initiatives still come before those only worded alike.
    tiers = [i["solution_id"] == "SOL-TELE" for i in report["initiatives"]]
    assert tiers == sorted(tiers, reverse=True), tiers


def test_place_words_are_not_what_the_solutions_describe(read_sample: FalkorStore) -> None:
    assert [p.name for p in search.find_places(read_sample, WAKEFIELD)] == ["Wakefield"]
    assert search.find_places(read_sample, "Care Home support. Hospital at Home pilot") == []
    assert search.find_places(read_sample, "") == []


VIRTUAL_WARDS = ("We propose community virtual wards for people at high predicted risk of "
                 "emergency admission: a multidisciplinary team case-manages them at home "
                 "with daily ward rounds, to cut emergency admissions.")


@pytest.mark.parametrize(("cited", "risk"), [
    ("", True),
    # the Nuffield Trust's evaluation, as a proposer would cite it
    (" We have read 'Impact of \u2018virtual wards\u2019 on hospital use: a research study "
     "using propensity matched controls and a cost analysis' (Nuffield Trust, 2013).", False),
    (" See https://www.nuffieldtrust.org.uk/our-work/projects/examining-effectiveness-"
     "virtual-wards/ for the evidence.", False),
    (" The three case sites were studied (doi:10.5334/IJIC.1150).", False),  # a DOI
    (" The virtual wards in Croydon, Devon and Wandsworth were evaluated.", False),  # its title
    (" We have read the evidence on virtual wards.", True),  # words, not a citation
])
def test_a_proposal_citing_the_failed_evidence_as_people_cite_it_is_no_zombie_risk(
        read_demo: FalkorStore, cited: str, risk: bool) -> None:
    report = search.check(read_demo, VIRTUAL_WARDS + cited)
    closest = report["matches"][0]
    assert closest["verdict"] == "does_not_work", closest
    assert report["zombie_risk"] is risk, (cited, closest["solution_id"])


def test_a_long_proposal_is_read_whole_for_its_places_and_says_how_much_by_meaning(
        demo_client: FlaskClient) -> None:
    """A business case names its place late: the place is found however far in, and the
    report says the meaning was read from the proposal's beginning."""
    leads = ["Governance", "Finance", "Estates", "Workforce", "Digital", "Procurement",
             "Clinical Safety", "Quality", "Risk", "Benefits", "Communications", "Training",
             "Equality", "Sustainability", "Pharmacy", "Research"]
    filler = " ".join(f"Each quarter the {lead} lead reports to the Programme Board on the "
                      f"{lead} plan and its risks." for lead in leads) * 5
    text = WAKEFIELD.replace(" in three Wakefield practices", "") + " " + filler + \
        "We will start in three Wakefield practices."
    assert len(text) > 8000 and text.index("Wakefield") > 7000
    report = _report(demo_client, text)
    assert "Wakefield" in [p["name"] for p in report["places"]], report["places"]
    assert report["meaning_read"]["cut"] is True
    assert report["meaning_read"]["characters"] <= 500
    short = _report(demo_client, WAKEFIELD)["meaning_read"]
    assert short == {"characters": len(WAKEFIELD), "cut": False}
    html = demo_client.post("/check", data={"q": text}).get_data(as_text=True)
    assert "compared by meaning from its first" in html


def test_every_evaluation_behind_a_verdict_is_named_by_its_title(
        read_demo: FalkorStore) -> None:
    """The design warnings name the evaluations behind each verdict: by title, never a bare
    id ("small sample IC-E18")."""
    report = search.check(read_demo, VIRTUAL_WARDS)
    for match in report["matches"]:
        assert set(match["evaluations"]) <= set(match["evaluation_titles"]), match
        assert all(title != eid for eid, title in match["evaluation_titles"].items())


def test_an_organisation_name_with_several_matches_offers_them_as_choices(
        demo_client: FlaskClient) -> None:
    """"Wirral" names several organisations: each is a button that checks the same
    proposal again for that organisation, the proposal kept."""
    html = demo_client.post("/check", data={"q": WAKEFIELD, "site": "Wirral"}).get_data(
        as_text=True)
    form = re.search(r'<form method="post" action="/check" class="site-choices">(.*?)</form>',
                     html, re.S)
    assert form, html[html.find("Your organisation"):][:600]
    choices = re.findall(r'<button type="submit" name="site" value="([^"]+)"', form.group(1))
    assert len(choices) >= 2 and "RBL" in choices, choices
    assert 'name="q" value="We propose telehealth' in form.group(1)
    chosen = demo_client.post("/check", data={"q": WAKEFIELD, "site": "RBL"}).get_data(
        as_text=True)
    assert "Wirral University Teaching Hospital" in chosen and "site-choices" not in chosen


@pytest.mark.parametrize(("text", "places"), [
    # "Teaching" is in teaching hospitals' names all over England and Wales: no one place
    ("Telehealth for COPD patients of Wirral University Teaching Hospital.", ["Wirral"]),
    ("We will partner with the Teaching Hospitals in the region.", []),
    # headings and sentences open with capitals: "Key" and "Learning" are ordinary words
    ("12. Learning from elsewhere\nKey performance indicators are set. We will work with "
     "Leeds, Bradford and Sheffield.", ["Leeds", "Bradford", "Sheffield"]),
    # an inner word of an organisation's name says what kind of body it is
    ("Our Learning Disability services will join.", []),
    ("Hospital at home for frail patients in Devon", ["Devon"]),
    ("Telehealth for COPD in Manchester", ["Manchester"]),  # 27 sites, all in one region
    # a place opening a sentence, when its name goes on with "and", "upon", "of"
    ("Cardiff and Vale University Health Board proposes a virtual ward.", ["Cardiff"]),
    ("Newcastle upon Tyne Hospitals will lead it.", ["Newcastle", "Tyne"]),
    ("Isle of Wight NHS Trust proposes remote monitoring for COPD.", ["Isle of Wight"]),
    ("Key performance indicators: Leeds and Wakefield will share a ward.",
     ["Leeds", "Wakefield"]),
])
def test_places_are_named_places_not_ordinary_capitalised_words(
        read_demo: FalkorStore, text: str, places: list[str]) -> None:
    assert [p.name for p in search.find_places(read_demo, text)] == places


def test_a_place_keeps_only_its_own_region_s_sites(read_demo: FalkorStore) -> None:
    """"Devon Road Surgery" outside the South West is not in Devon."""
    devon = search.find_places(read_demo, "Hospital at home in Devon")[0]
    regions = {str(r["region"]) for r in read_demo.read(
        queries.SITE_CHAINS, {"ids": sorted(devon.sites)}) if r["region"]}
    assert len(regions) == 1 and devon.sites, (regions, devon.sites)


@pytest.mark.parametrize("text", PROPOSALS)
def test_similar_initiatives_are_in_score_order_with_what_a_reader_needs(
        demo_client: FlaskClient, text: str) -> None:
    report = _report(demo_client, text)
    scores = [i["score"] for i in report["initiatives"]]
    assert scores and scores == sorted(scores, reverse=True), scores
    for i in report["initiatives"]:
        assert i["title"] and i["reason"].endswith(".")
        assert i["sites"] and all(s["name"] for s in i["sites"]), i
        assert isinstance(i["illustrative"], bool) and isinstance(i["zombie"], bool)
        if i["solution_id"]:
            assert i["solution_name"] and i["verdict"]


def test_zombie_marks_and_badges_agree_with_the_solution_page(demo_client: FlaskClient) -> None:
    report = _report(demo_client, README_EXAMPLE)
    page = demo_client.get("/solutions/SOL-TELE.json?size=100").get_json()["attempts"]["items"]
    zombies = {a["id"] for a in page if a["zombie"]}
    assert zombies  # the demo has zombie repeats of telehealth
    listed = {i["initiative_id"]: i for i in report["initiatives"]}
    assert {k for k, i in listed.items() if i["zombie"]} == zombies
    assert any(i["illustrative"] for i in listed.values())
    html = demo_client.get(f"/check?q={quote(README_EXAMPLE)}").get_data(as_text=True)
    similar = html[html.index('<ol class="similar">'):]
    assert similar.count("zombie repeat") == len(zombies)
    assert 'class="badge illustrative"' in similar


def test_as_of_lists_no_initiative_started_later(sample_client: FlaskClient) -> None:
    report = _report(sample_client, README_EXAMPLE, as_of="2017-01-01")
    starts = [i["start_date"] for i in report["initiatives"]]
    assert starts and all(s is None or s[:10] <= "2017-01-01" for s in starts), starts
    assert "INI-0023" not in [i["initiative_id"] for i in report["initiatives"]]


# --- read first ---------------------------------------------------------------------------


def test_read_first_says_design_level_finding_date_and_why(sample_client: FlaskClient) -> None:
    report = _report(sample_client, README_EXAMPLE)
    first = report["read_first"][0]
    assert first["level"] == 5 and first["finding"] == "no_effect"
    assert first["title"] and first["published_date"] and first["design_label"]
    assert "strongest" in first["reason"] and "Telehealth monitoring for COPD" in first["reason"]
    text = _report_text(sample_client, README_EXAMPLE)
    assert first["title"] in text and first["reason"] in text
    assert f"{first['design_label'].capitalize()} · SMS level 5 · found no effect" in text


def test_read_first_without_a_strength_level_says_so(sample_client: FlaskClient) -> None:
    text = "High-intensity user service for people who call 999 very often"
    report = _report(sample_client, text)
    assert report["read_first"] and all(e["level"] is None for e in report["read_first"])
    seen = _report_text(sample_client, text)
    assert "no strength level" in seen
    assert not re.search(r"SMS (?:level )?0\b", seen), seen


# --- names, not ids; no raw scores ---------------------------------------------------------


@pytest.mark.parametrize(("text", "name", "sid"), [
    (README_EXAMPLE, "Telehealth monitoring for COPD", "SOL-TELE"),
    (WAKEFIELD, "Telehealth monitoring for COPD", "SOL-TELE"),
    ("Enhanced health in care homes", "Enhanced health in care homes", "SOL-EHCH"),  # warned
])
def test_the_report_shows_names_not_ids_or_scores(demo_client: FlaskClient, text: str,
                                                  name: str, sid: str) -> None:
    seen = _report_text(demo_client, text)
    assert name in seen
    assert not ID_AS_TEXT.search(seen), ID_AS_TEXT.findall(seen)
    assert not RAW_SCORE.search(seen), RAW_SCORE.findall(seen)
    html = demo_client.get(f"/check?q={quote(text)}").get_data(as_text=True)
    assert f'href="/solutions/{sid}"' in html  # ids stay as link targets
    # with an organisation: its places like it, each solution named, no similarity score
    mine = _report_text(demo_client, text, "RBL")
    assert f"{name}: tried in places like yours" in mine or "places like yours" not in mine
    assert "Wirral University Teaching Hospital" in mine
    assert not ID_AS_TEXT.search(mine), ID_AS_TEXT.findall(mine)
    assert not re.search(r"\b[01]\.\d\d\b", mine), re.findall(r"\b[01]\.\d\d\b", mine)
    assert not re.search(r"\b0 adaptations\b", mine)


def test_json_twin_carries_names_reasons_badges_and_scores(demo_client: FlaskClient) -> None:
    report = _report(demo_client, WAKEFIELD)
    match = report["matches"][0]
    assert match["name"] == "Telehealth monitoring for COPD" and match["illustrative"] is True
    assert 0 < match["score"] <= 1 and "EVAL-0004" in match["explanation"]
    assert "EVAL-0004" not in match["explanation_titled"]
    assert {"initiative_id", "title", "sites", "start_date", "end_date", "status",
            "solution_name", "verdict", "zombie", "informed_retry", "illustrative", "score",
            "similarity", "reason", "place"} <= set(report["initiatives"][0])
    assert {"evaluation_id", "title", "design", "level", "finding", "published_date",
            "illustrative", "reason"} <= set(report["read_first"][0])


def test_cli_check_shows_names_and_no_raw_scores(demo: FalkorStore) -> None:
    res = CliRunner().invoke(cli, ["--store", demo.uri.raw, "check", WAKEFIELD])
    assert res.exit_code == 0, res.output
    assert "Telehealth monitoring for COPD" in res.output
    assert "Home telehealth for COPD, Wakefield" in res.output
    assert not ID_AS_TEXT.search(res.output), ID_AS_TEXT.findall(res.output)
    assert not re.search(r"\d\.\d{3,}", res.output), res.output
    lines = res.output.splitlines()
    similar = lines.index("Similar past initiatives:")
    assert lines[similar + 1].startswith("  1. Home telehealth for COPD, Wakefield")
    as_json = CliRunner().invoke(cli, ["--store", demo.uri.raw, "check", WAKEFIELD,
                                       "--format", "json"])
    assert '"solution_id": "SOL-TELE"' in as_json.output  # ids in JSON


# --- print --------------------------------------------------------------------------------


def test_pages_link_a_print_stylesheet_that_hides_navigation_and_forms(
        sample_client: FlaskClient) -> None:
    html = sample_client.get(f"/check?q={quote(README_EXAMPLE)}").get_data(as_text=True)
    link = re.search(r'<link rel="stylesheet" href="([^"]*print\.css)" media="print">', html)
    assert link, "no print stylesheet"
    css = sample_client.get(link.group(1)).get_data(as_text=True)
    hidden = re.search(r"([^{}]*)\{\s*display:\s*none", css)
    assert hidden and {"nav", "form", "header"} <= {s.strip() for s in hidden.group(1).split(",")}
    assert "attr(data-url)" in css
