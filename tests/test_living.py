"""Living evidence: verdict changes recorded per ingest, the change list (CLI, JSON,
Atom feeds), watches, design-quality warnings and time travel."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import feedparser
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from triedbefore.graph import analytics, queries
from triedbefore.graph import changes as living
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.quality import (
    EARLY,
    SELF_EVALUATION,
    SHORT_SERIES,
    SMALL,
    UNCONTROLLED,
    evaluation_warnings,
    verdict_warnings,
)
from triedbefore.graph.rules import VERDICTS
from triedbefore.ingest.pipeline import ingest
from triedbefore.ontology.vocab import Verdict
from triedbefore.web import auth
from triedbefore.web.app import create_app
from triedbefore.web.cli import cli

ATOM = "{http://www.w3.org/2005/Atom}"
PASSWORD = "correct horse battery"
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')

#: A randomised trial finding no effect: SOL-FRAIL goes from promising to does_not_work.
FLIP = {"evaluation_id": "EVAL-FLIP", "initiative_ids": "INI-0041",
        "title": "Randomised trial of front-door frailty screening", "design": "rct",
        "finding": "no_effect", "published_date": "2020-05", "independent": "true",
        "sample_size": "2400", "visibility": "public"}


def add_rows(bundle: Path, file: str, *rows: dict[str, str]) -> None:
    """Append rows to a bundle file, adding any new columns to its header."""
    path = bundle / file
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        existing = list(reader)
    header += [k for row in rows for k in row if k not in header]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows([*existing, *rows])


#: The explorer's configured public address (``PUBLIC_URL``).
BASE = "https://triedbefore.example.org"


def app_for(store: FalkorStore, tmp_path: Path) -> Flask:
    app = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "test-key",
                      "USERS_FILE": str(tmp_path / "users.json"), "PUBLIC_URL": BASE})
    auth.add_user(app.config["USERS_FILE"], "vic", PASSWORD, "viewer")
    return app


def sign_in(client: FlaskClient) -> str:
    token = TOKEN_RE.search(client.get("/login").get_data(as_text=True))
    assert token
    res = client.post("/login", data={"name": "vic", "password": PASSWORD,
                                      "csrf_token": token.group(1)})
    assert res.status_code == 302
    again = TOKEN_RE.search(client.get("/login").get_data(as_text=True))
    assert again
    return again.group(1)


def parse_atom(body: bytes) -> list[dict[str, Any]]:
    """Validate a feed twice: feedparser must read it as well-formed Atom 1.0, and the
    document must carry the elements RFC 4287 requires (feed and entry ids, titles,
    updated times, links; unique entry ids). Returns the entries as feedparser sees them."""
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    root = ET.fromstring(body)
    assert root.tag == ATOM + "feed"
    for tag in ("id", "title", "updated"):
        assert (root.findtext(ATOM + tag) or "").strip(), tag
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    rels = {link.get("rel"): link.get("href") for link in root.findall(ATOM + "link")}
    assert rels.get("self", "").startswith("http") and rels.get("alternate", "")
    ids = []
    for entry in root.findall(ATOM + "entry"):
        entry_id = entry.findtext(ATOM + "id") or ""
        assert re.match(r"^[a-z][a-z0-9+.-]*:", entry_id), entry_id  # an IRI
        ids.append(entry_id)
        assert (entry.findtext(ATOM + "title") or "").strip()
        datetime.fromisoformat(entry.findtext(ATOM + "updated") or "")
        link = entry.find(ATOM + "link")
        assert link is not None and (link.get("href") or "").startswith("http")
    assert len(ids) == len(set(ids)), "entry ids repeat"
    assert len(parsed.entries) == len(ids)
    return list(parsed.entries)


def changes_of(store: FalkorStore, sid: str, kind: str = "verdict") -> list[dict[str, Any]]:
    return [c for c in living.list_changes(store) if c["solution_id"] == sid
            and c["change_kind"] == kind]


# --- verdict changes ------------------------------------------------------------------


def test_first_ingest_records_every_verdict_as_a_baseline(store: FalkorStore,
                                                          sample_copy: Path) -> None:
    result = ingest(store, sample_copy)
    found = living.list_changes(store)
    verdicts = {c["solution_id"]: c for c in found if c["change_kind"] == "verdict"}
    for sid in ("SOL-TELE", "SOL-FRAIL", "SOL-VW"):
        expected = analytics.verdict(store, sid)
        assert verdicts[sid]["from_verdict"] == "unevaluated"
        assert verdicts[sid]["to_verdict"] == expected["verdict"]
        assert verdicts[sid]["strength"] == expected["strength"]
        assert verdicts[sid]["run_id"] == result.run_id
    # solutions without any counted evaluation stay unevaluated: no change
    assert all(c["to_verdict"] != "unevaluated" for c in verdicts.values())
    # the zombie repeats already in a first load are the baseline, not news
    assert not [c for c in found if c["change_kind"] == "zombie"]
    assert analytics.repeats(store)[0]
    assert result.to_dict()["changes"] == {"verdict": len(verdicts), "zombie": 0}
    # the run's result lists each change in brief; the graph holds the whole record
    assert sorted(result.changes, key=lambda c: c["id"]) == sorted(
        ({"id": c["id"], "change_kind": "verdict", "solution_id": c["solution_id"]}
         for c in verdicts.values()), key=lambda c: c["id"])
    # nothing changed: nothing recorded
    again = ingest(store, sample_copy)
    assert again.changes == [] and len(living.list_changes(store)) == len(found)


def test_one_new_evaluation_flips_a_verdict_once_everywhere(
        store: FalkorStore, sample_copy: Path, tmp_path: Path) -> None:
    ingest(store, sample_copy)
    assert analytics.verdict(store, "SOL-FRAIL")["verdict"] == "promising"
    app = app_for(store, tmp_path)
    viewer = app.test_client()
    token = sign_in(viewer)
    for kind, target in (("solution", "SOL-FRAIL"), ("site", "X-WD-002"),
                         ("intervention_type", "delivery_arrangements")):
        res = viewer.post("/watches", data={"target_kind": kind, "target_id": target},
                          headers={"X-CSRF-Token": token, "Accept": "application/json"})
        assert res.status_code == 200, res.get_json()
    assert viewer.get("/watches.json").get_json()["notices"] == []

    add_rows(sample_copy, "evaluations.csv", FLIP)
    second = ingest(store, sample_copy)
    ingest(store, sample_copy)  # and once more, unchanged

    flips = changes_of(store, "SOL-FRAIL")
    assert len(flips) == 2  # the first ingest's, and this one
    flip = next(c for c in flips if c["run_id"] == second.run_id)
    assert (flip["from_verdict"], flip["to_verdict"], flip["strength"]) == \
        ("promising", "does_not_work", 5)
    assert flip["evaluations"] == ["EVAL-FLIP"]
    assert "X-WD-002" in flip["site_ids"] and flip["visibility"] == "public"
    assert [c["id"] for c in living.list_changes(store) if c["run_id"] == second.run_id
            and c["change_kind"] == "verdict"] == [flip["id"]]

    # the CLI lists it once
    out = CliRunner().invoke(cli, ["--store", store.uri.raw, "changes", "--format", "json"])
    assert out.exit_code == 0, out.output
    listed = json.loads(out.output)
    assert [c["id"] for c in listed].count(flip["id"]) == 1
    assert set(listed[0]) == set(living.CHANGE_KEYS)

    # the public feed has one entry for it
    anonymous = app.test_client()
    entries = parse_atom(anonymous.get("/changes.atom").data)
    mine = [e for e in entries if e.id.endswith("change/" + flip["id"].replace(":", "%3A"))]
    assert len(mine) == 1
    assert "promising → does not work" in mine[0].title
    assert mine[0].link.endswith("/solutions/SOL-FRAIL")

    # each watch's notice list and feed hold it once
    data = viewer.get("/watches.json").get_json()
    assert [c["id"] for c in data["notices"]].count(flip["id"]) == 1
    # the flip also makes later frailty initiatives zombie repeats: the same list
    zombies = [c for c in changes_of(store, "SOL-FRAIL", "zombie")
               if c["run_id"] == second.run_id]
    assert zombies and all(c["evaluations"] == ["EVAL-FLIP"] for c in zombies)
    counts = {w["target_id"]: w["new"] for w in data["watches"]}
    assert counts["SOL-FRAIL"] == counts["delivery_arrangements"] == 1 + len(zombies)
    assert counts["X-WD-002"] == 1 + sum("X-WD-002" in c["site_ids"] for c in zombies)
    assert sorted(c["id"] for c in data["notices"]) == sorted(
        [flip["id"], *(c["id"] for c in zombies)])
    page = viewer.get("/watches").get_data(as_text=True)
    assert page.count("badge verdict-promising") == 1
    assert f"({len(data['notices'])} new)" in page  # in the navigation, on every page
    for watch in data["watches"]:
        assert watch["feed"].startswith(BASE + "/watches/")
        feed = anonymous.get(watch["feed"].removeprefix(BASE))
        assert feed.status_code == 200
        assert [e.id for e in parse_atom(feed.data)].count(mine[0].id) == 1
    # a wrong key is no feed
    assert anonymous.get(f"/watches/{data['watches'][0]['id']}.atom?token=x").status_code \
        == 404
    # marked seen: nothing new, the feed keeps its history
    viewer.post("/watches/seen", headers={"X-CSRF-Token": token})
    assert viewer.get("/watches.json").get_json()["notices"] == []
    assert " new)" not in viewer.get("/changes").get_data(as_text=True)


def test_new_zombie_repeat_is_a_change(store: FalkorStore, sample_copy: Path) -> None:
    ingest(store, sample_copy)
    before = {c["id"] for c in living.list_changes(store)}
    add_rows(sample_copy, "initiatives.csv", {
        "initiative_id": "INI-ZOMBIE", "title": "Telehealth kits for COPD, again",
        "solution_id": "SOL-TELE", "site_ids": "RWJ", "start_date": "2023-04",
        "status": "active"})
    run = ingest(store, sample_copy)
    new = [c for c in living.list_changes(store) if c["id"] not in before]
    assert [(c["change_kind"], c["initiative_id"]) for c in new] == [("zombie", "INI-ZOMBIE")]
    assert new[0]["run_id"] == run.run_id and new[0]["site_ids"] == ["RWJ"]
    assert "EVAL-0004" in new[0]["evaluations"]
    ingest(store, sample_copy)
    assert [c["id"] for c in living.list_changes(store)].count(new[0]["id"]) == 1


def test_restricted_changes_stay_out_of_public_lists(store: FalkorStore, sample_copy: Path,
                                                     tmp_path: Path) -> None:
    ingest(store, sample_copy)
    add_rows(sample_copy, "evaluations.csv", {**FLIP, "visibility": "restricted"})
    ingest(store, sample_copy)
    flip = [c for c in changes_of(store, "SOL-FRAIL") if c["to_verdict"] == "does_not_work"]
    assert flip and flip[0]["visibility"] == "restricted"
    app = app_for(store, tmp_path)
    anonymous = app.test_client()
    ids = [c["id"] for c in anonymous.get("/changes.json?size=500").get_json()
           ["changes"]["items"]]
    assert flip[0]["id"] not in ids
    assert flip[0]["id"].replace(":", "%3A") not in anonymous.get("/changes.atom") \
        .get_data(as_text=True)
    app.config["RESTRICTED_ROLE"] = "viewer"  # a deployment where viewers see them
    viewer = app.test_client()
    sign_in(viewer)
    assert flip[0]["id"] in [c["id"] for c in viewer.get("/changes.json?size=500")
                             .get_json()["changes"]["items"]]


def test_a_public_change_is_listed_when_the_same_run_adds_restricted_evidence(
        store: FalkorStore, sample_copy: Path, tmp_path: Path) -> None:
    """Finding 9: one run adds a public trial that flips SOL-FRAIL to does_not_work for
    anonymous readers and a restricted trial that says otherwise; the public lists and the
    feed carry the public flip, and readers of everything see the change on all the
    evidence instead (once)."""
    ingest(store, sample_copy)
    add_rows(sample_copy, "evaluations.csv", FLIP, {
        **FLIP, "evaluation_id": "EVAL-HIDDEN", "finding": "positive",
        "title": "Restricted trial of frailty screening", "visibility": "restricted"})
    second = ingest(store, sample_copy)
    app = app_for(store, tmp_path)
    anonymous = app.test_client()
    public = [c for c in anonymous.get("/changes.json?size=500").get_json()["changes"]
              ["items"] if c["solution_id"] == "SOL-FRAIL" and c["run_id"] == second.run_id
              and c["change_kind"] == "verdict"]
    assert len(public) == 1, public
    assert (public[0]["from_verdict"], public[0]["to_verdict"]) == ("promising",
                                                                    "does_not_work")
    assert public[0]["visibility"] == "public" and "EVAL-HIDDEN" not in public[0]["evaluations"]
    assert public[0]["to_verdict"] == analytics.verdict(store.public_copy(), "SOL-FRAIL")[
        "verdict"]
    feed = anonymous.get("/changes.atom").get_data(as_text=True)
    assert public[0]["id"].replace(":", "%3A") in feed
    # everything: the change on all the evidence, restricted, and not the public copy of it
    everything = [c for c in living.list_changes(store) if c["solution_id"] == "SOL-FRAIL"
                  and c["run_id"] == second.run_id and c["change_kind"] == "verdict"]
    full = analytics.verdict(store, "SOL-FRAIL")["verdict"]
    assert [c["to_verdict"] for c in everything] == ([full] if full != "promising" else [])
    assert all(c["visibility"] == "restricted" for c in everything)
    # an identical run records nothing more
    listed = len(living.list_changes(store.public_copy(), public_only=True))
    ingest(store, sample_copy)
    assert len(living.list_changes(store.public_copy(), public_only=True)) == listed


def test_changes_cli_since_and_errors(store: FalkorStore, sample_copy: Path) -> None:
    ingest(store, sample_copy)
    runner = CliRunner()
    base = ["--store", store.uri.raw, "changes"]
    out = runner.invoke(cli, [*base, "--since", "2999-01-01", "--format", "json"])
    assert out.exit_code == 0 and json.loads(out.output) == []
    out = runner.invoke(cli, [*base, "--since", "2000-01-01"])
    assert out.exit_code == 0 and "unevaluated → does not work" in out.output
    out = runner.invoke(cli, [*base, "--since", "soon"])
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "not a date" in out.output


def test_verdict_vocabulary_matches_the_rules() -> None:
    assert set(VERDICTS) == {v.value for v in Verdict}


# --- design-quality warnings ------------------------------------------------------------


def ev(**props: Any) -> dict[str, Any]:
    base = {"id": "E", "design": "rct", "finding": "positive", "sms_level": None,
            "sample_size": None, "its_points_before": None, "its_points_after": None,
            "published_hi": 20_000, "initiatives": []}
    return {**base, **props}


@pytest.mark.parametrize(("props", "codes"), [
    ({"design": "before_after"}, [UNCONTROLLED]),
    ({"design": "before_after", "finding": "no_effect"}, [UNCONTROLLED]),
    ({"design": "before_after", "finding": "mixed"}, []),  # claims no effect either way
    ({"design": "before_after", "sms_level": 2}, []),  # adjusted for confounders
    ({"design": "interrupted_time_series", "its_points_before": 2, "its_points_after": 12},
     [SHORT_SERIES]),
    ({"design": "interrupted_time_series", "its_points_before": 3, "its_points_after": 3},
     []),
    ({"design": "interrupted_time_series"}, []),  # counts unknown: no guess
    ({"sample_size": 49}, [SMALL]),
    ({"sample_size": 50}, []),
    ({"initiatives": [{"id": "I", "end_date": "2025", "end_lo": 20_089}]}, [EARLY]),
    ({"initiatives": [{"id": "I", "end_date": "2020", "end_lo": 18_262}]}, []),
    ({"initiatives": [{"id": "I", "end_date": None, "end_lo": None}]}, []),
])
def test_evaluation_warnings(props: dict[str, Any], codes: list[str]) -> None:
    found = evaluation_warnings(ev(**props))
    assert [w.code for w in found] == codes
    for w in found:
        assert w.reason.endswith(".") and w.reference and w.url


def test_self_evaluation_only_needs_known_self_evaluations() -> None:
    mine = [{"id": "A", "independent": False}, {"id": "B", "independent": False}]
    assert [w.code for w in verdict_warnings("works", mine)] == [SELF_EVALUATION]
    assert verdict_warnings("works", [*mine[:1], {"id": "C", "independent": None}]) == []
    assert verdict_warnings("works", [*mine[:1], {"id": "C", "independent": True}]) == []
    assert verdict_warnings("promising", mine) == []


def test_warnings_are_shown_and_leave_verdicts_alone(store: FalkorStore, sample_copy: Path,
                                                     tmp_path: Path) -> None:
    ingest(store, sample_copy)
    before = {sid: analytics.verdict(store, sid) for sid in analytics.solution_ids(store)}
    add_rows(sample_copy, "evaluations.csv", {
        "evaluation_id": "EVAL-ITS", "initiative_ids": "INI-0041",
        "title": "A short series", "design": "interrupted_time_series",
        "finding": "mixed", "published_date": "2018", "its_points_before": "2",
        "its_points_after": "8"})
    result = ingest(store, sample_copy)
    assert not result.errors
    app = app_for(store, tmp_path)
    client = app.test_client()
    page = client.get("/evaluations/EVAL-ITS.json").get_json()
    assert [w["code"] for w in page["warnings"]] == [SHORT_SERIES]
    assert page["evaluation"]["its_points_before"] == 2
    html = client.get("/evaluations/EVAL-ITS").get_data(as_text=True)
    assert "only 2 points before" in html and "epoc.cochrane.org" in html
    solution = client.get("/solutions/SOL-TELE.json").get_json()
    assert set(solution["evaluation_warnings"]) >= {"EVAL-0005"}
    gap = {r["row"]: r for r in client.get("/gap-map.json").get_json()["cells"]["items"]}
    assert gap["SOL-FRAIL"]["warnings"] >= 1 and gap["SOL-VW"]["warnings"] == 0
    assert "design warnings" in client.get("/gap-map").get_data(as_text=True)
    for sid, verdict in before.items():  # mixed findings move no verdict; warnings none
        after = analytics.verdict(store, sid)
        assert (after["verdict"], after["strength"]) == (verdict["verdict"],
                                                         verdict["strength"]), sid


def test_its_point_counts_are_validated(store: FalkorStore, sample_copy: Path) -> None:
    add_rows(sample_copy, "evaluations.csv", {
        "evaluation_id": "EVAL-BAD", "initiative_ids": "INI-0041", "title": "Bad counts",
        "design": "interrupted_time_series", "finding": "mixed", "published_date": "2018",
        "its_points_before": "-1"})
    result = ingest(store, sample_copy)
    assert [(p.file, p.column) for p in result.errors] == [("evaluations.csv",
                                                            "its_points_before")]


# --- time travel ----------------------------------------------------------------------


def test_time_travel_on_the_solution_and_check_pages(store: FalkorStore, sample_copy: Path,
                                                     tmp_path: Path) -> None:
    ingest(store, sample_copy)
    client = app_for(store, tmp_path).test_client()
    today = client.get("/solutions/SOL-TELE.json").get_json()
    then = client.get("/solutions/SOL-TELE.json?as_of=2012-12-31").get_json()
    by_year = client.get("/solutions/SOL-TELE.json?year=2012").get_json()
    assert then == by_year
    assert then["verdict"] == analytics.verdict(store, "SOL-TELE", "2012-12-31")
    assert then["evaluations"]["total"] < today["evaluations"]["total"]
    later = client.get("/solutions/SOL-TELE.json?as_of=2015-12-31").get_json()
    assert later["evaluations"]["items"] and all(
        e["published_hi"] <= analytics.as_of_day("2015-12-31")
        for e in later["evaluations"]["items"])
    assert later["evaluations"]["total"] < today["evaluations"]["total"]
    html = client.get("/solutions/SOL-TELE?year=2012").get_data(as_text=True)
    assert 'type="range"' in html and 'name="year"' in html
    assert 'value="2012-12-31"' in html  # the date field shows the date the year stands for
    assert "as of 2012-12-31" in html
    for shown in (2012, 2016):  # the slider marks the years of evidence known by then
        html_then = client.get(f"/solutions/SOL-TELE?year={shown}").get_data(as_text=True)
        for year in today["evidence_years"]:
            assert (f'<option value="{year}"' in html_then) == (year <= shown), (shown, year)
    assert client.get("/solutions/SOL-TELE.json?year=12345").status_code == 400
    check = client.get("/check.json?q=telehealth+home+monitoring+COPD&as_of=2010-01-01")
    report = check.get_json()["report"]
    assert report["as_of"] == "2010-01-01"
    assert all("warnings" in m for m in report["matches"])


def test_recorded_verdicts_are_not_exported(store: FalkorStore, sample_copy: Path,
                                            tmp_path: Path) -> None:
    from triedbefore.ingest.export import export_bundle, export_rdf

    ingest(store, sample_copy)
    assert store.read(queries.RECORDED_VERDICTS, {"ids": ["SOL-TELE"]})[0]["verdict"] == \
        "does_not_work"
    export_bundle(store, tmp_path / "out")
    header = (tmp_path / "out" / "solutions.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "verdict" not in header
    store.write(queries.CREATE_WATCH, {"id": "w-1", "user": "vic", "target_kind": "solution",
                                       "target_id": "SOL-TELE", "at": "2026-01-01T00:00:00"})
    text = export_rdf(store, tmp_path / "rdf", "turtle").read_text(encoding="utf-8")
    assert "VerdictChange" in text and "w-1" not in text


def test_feed_links_never_follow_the_host_header(store: FalkorStore, sample_copy: Path,
                                                tmp_path: Path) -> None:
    """Finding 8: the links of the feeds and the watch list come from ``PUBLIC_URL`` (or
    are root-relative without it), whatever Host the request names."""
    assert ingest(store, sample_copy).exit_code == 0
    evil = {"Host": "evil.example"}
    for base in (BASE, ""):
        app = app_for(store, tmp_path / ("configured" if base else "relative"))
        app.config["PUBLIC_URL"] = base
        anonymous = app.test_client()
        body = anonymous.get("/changes.atom", headers=evil).data
        assert b"evil.example" not in body
        root = ET.fromstring(body)
        hrefs = [link.get("href") or "" for link in root.iter(ATOM + "link")]
        assert hrefs and all(h.startswith(base + "/") for h in hrefs), hrefs
        viewer = app.test_client()
        made = viewer.post("/watches", data={"target_kind": "solution",
                                             "target_id": "SOL-FRAIL",
                                             "csrf_token": sign_in(viewer)})
        assert made.status_code == 302
        bearer = {**evil, "Authorization": "Bearer " + auth.add_token(
            app.config["USERS_FILE"], "vic").token}  # cookies are not sent to another host
        watches = viewer.get("/watches.json", headers=bearer).get_json()["watches"]
        assert watches and all(w["feed"].startswith(base + "/watches/") for w in watches)
        feed = anonymous.get(watches[0]["feed"].removeprefix(base), headers=evil)
        assert feed.status_code == 200 and b"evil.example" not in feed.data
        assert b"evil.example" not in viewer.get(
            "/check?q=telehealth+for+COPD", headers=evil).data


def test_a_public_url_must_be_an_http_address(store: FalkorStore, tmp_path: Path) -> None:
    for bad in ("javascript:alert(1)", "evil.example", "https://x.example/?a=1",
                "https://user:pw@x.example"):
        with pytest.raises(ValueError, match="public_url"):
            create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "t",
                        "PUBLIC_URL": bad})
