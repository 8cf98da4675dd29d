"""Nothing unmoderated leaks: every GET route of the explorer (enumerated from the app's URL
map, as tests/test_visibility.py does for restricted records) walked as an anonymous
reader, as another contributor, as a viewer and as a curator, while contributions that no
curator has accepted (submitted, a draft, one returned) carry a marker word found nowhere
else, as do a question and an answer waiting for a curator. Only their contributor and
curators may see it, and only on the contribution's own pages and the moderation queue."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from test_visibility import without_echo

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest
from triedbefore.web import auth
from triedbefore.web.app import create_app

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
PASSWORD = "correct horse battery"
MARKER = "Snorkelwort"  # in unmoderated contributions only
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
#: Routes where the contributor and curators see their own unmoderated records.
MODERATION_PAGES = re.compile(r"^/(contributions/CON-|moderation|my-contributions)")


def client_for(app: Flask, name: str | None) -> FlaskClient:
    client = app.test_client()
    if name is not None:
        token = TOKEN_RE.search(client.get("/login").get_data(as_text=True))
        assert token
        res = client.post("/login", data={"name": name, "password": PASSWORD,
                                          "csrf_token": token.group(1)})
        assert res.status_code == 302
    return client


def record(title: str, **more: Any) -> dict[str, Any]:
    return {"title": title, "description": f"{MARKER} plan in detail",
            "solution_id": "SOL-TELE", "site_ids": ["L83006"], "start_date": "2022-02",
            "status": "stopped", "why_stopped": f"{MARKER} funding ended",
            "new_site_name": f"{MARKER} Care Home", "new_site_kind": "care_home",
            "new_solution_description": MARKER,
            "lessons": [{"text": f"{MARKER} lesson about staff time", "effect": "hindered",
                         "nasss_domain": "organisation"}],
            "do_differently": f"{MARKER} would start smaller", "show_name": True,
            "show_organisation": True, "separate": True, **more}


@pytest.fixture(scope="module")
def walked(embedded_server: Any, tmp_path_factory: pytest.TempPathFactory
           ) -> Any:
    from test_export import _fresh

    store: FalkorStore = _fresh(embedded_server)
    assert ingest(store, SAMPLE).exit_code == 0
    folder = tmp_path_factory.mktemp("users")
    app = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "t", "CONSOLE_RATE": 0,
                      "USERS_FILE": str(folder / "users.json"), "RESTRICTED_ROLE": "viewer"})
    users = app.config["USERS_FILE"]
    for name, role in (("vic", "viewer"), ("cora", "curator")):
        auth.add_user(users, name, PASSWORD, role)
    for name in ("ann", "bob"):
        auth.register(users, name, PASSWORD, {"display_name": f"{MARKER} {name}",
                                              "organisation": f"{MARKER} Org",
                                              "sector": "nhs", "email": f"{MARKER}@x.org"})
    ann = client_for(app, "ann")
    token = TOKEN_RE.search(ann.get("/contribute").get_data(as_text=True))
    assert token
    headers = {"X-CSRF-Token": token.group(1)}
    ids = []
    for title, more in ((f"{MARKER} submitted attempt", {}),
                        (f"{MARKER} draft attempt", {"draft": True}),
                        (f"{MARKER} returned attempt", {})):
        res = ann.post("/contributions.json", json=record(title, **more), headers=headers)
        assert res.status_code == 200, res.get_json()
        ids.append(res.get_json()["contribution"]["id"])
    cora = client_for(app, "cora")
    token = TOKEN_RE.search(cora.get("/moderation").get_data(as_text=True))
    assert token
    assert cora.post(f"/contributions/{ids[2]}/return", data={
        "csrf_token": token.group(1), "comment": "more please"}).status_code == 302
    # an accepted record (no marker), a question about it waiting for a curator, and the
    # answer to another question waiting too: both carry the marker
    plain = {"title": "Accepted attempt", "solution_id": "SOL-TELE", "site_ids": ["L83006"],
             "start_date": "2020", "separate": True}
    done = ann.post("/contributions.json", json=plain, headers=headers).get_json()
    accepted = done["contribution"]["id"]
    curator = {"csrf_token": token.group(1)}
    assert cora.post(f"/contributions/{accepted}/accept", data=curator).status_code == 302
    initiative = done["contribution"]["initiative_id"]
    auth.register(users, "dan", PASSWORD, {"display_name": "Dan", "sector": "nhs"})
    dan = client_for(app, "dan")
    dan_token = TOKEN_RE.search(dan.get(f"/initiatives/{initiative}").get_data(as_text=True))
    assert dan_token
    for text in (f"{MARKER} question?", "A plain question?"):
        assert dan.post(f"/initiatives/{initiative}/questions", data={
            "csrf_token": dan_token.group(1), "question": text}).status_code == 302
    assert cora.post("/questions/Q-00002/accept", data={**curator, "part": "question"}
                     ).status_code == 302
    assert ann.post("/questions/Q-00002/answer", data={
        "csrf_token": headers["X-CSRF-Token"], "answer": f"{MARKER} answer"}
    ).status_code == 302
    try:
        yield app, ids, store
    finally:
        store.drop_all()
        store.close()


def urls(app: Flask, ids: list[str]) -> list[str]:
    values = {"solution_id": ["SOL-TELE"],
              "initiative_id": ["INI-C-00001", "INI-C-00004", "INI-0021"],
              "question_id": ["Q-00001", "Q-00002"], "decision": ["accept"],
              "evaluation_id": ["EVAL-0004"], "site_id": ["L83006", "SITE-C-00001"],
              "contribution_id": ids, "watch_id": ["w-0"], "code": ["cy", "en"]}
    queries = ["", f"q={MARKER}", "q=telehealth", "q=staff+time", "solution=SOL-TELE",
               "node=site:L83006", "node=initiative:INI-C-00001", "size=500",
               urlencode({"q": "MATCH (n) RETURN n"}) + "&limit=1000"]
    out: list[str] = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint in (
                "static", "graphview.vendor", "auth.login"):
            continue
        paths = [rule.rule]
        for name in rule.arguments:
            paths = [p.replace(f"<{name}>", v) for p in paths for v in values[name]]
        out += [p + ("?" + q if q else "") for p in paths for q in queries]
    return out


def walk(client: FlaskClient, app: Flask, ids: list[str]) -> dict[str, str]:
    bodies = {}
    for url in urls(app, ids):
        res = client.get(url)
        assert res.status_code < 500, (url, res.status_code)
        bodies[url] = without_echo(url, res.get_data(as_text=True))
    return bodies


def seen(bodies: dict[str, str]) -> set[str]:
    return {url for url, body in bodies.items() if MARKER in body}


@pytest.mark.parametrize("who", [None, "bob", "vic"], ids=["anonymous", "another-contributor",
                                                           "viewer"])
def test_nobody_else_sees_an_unmoderated_record_anywhere(walked: Any, who: str | None
                                                         ) -> None:
    app, ids, _store = walked
    bodies = walk(client_for(app, who), app, ids)
    assert len(bodies) > 300
    assert not seen(bodies), sorted(seen(bodies))[:10]
    # not by id either: the other contributor gets 404, as for no such record
    if who == "bob":
        client = client_for(app, who)
        assert {client.get(f"/contributions/{i}.json").status_code for i in ids} == {404}


def test_the_contributor_sees_their_records_on_their_pages_only(walked: Any) -> None:
    app, ids, _store = walked
    found = seen(walk(client_for(app, "ann"), app, ids))
    assert found and all(MODERATION_PAGES.match(url) for url in found), sorted(found)
    assert any(url.startswith("/my-contributions") for url in found)


def test_curators_see_them_in_the_queue_and_on_their_pages_only(walked: Any) -> None:
    app, ids, store = walked
    found = seen(walk(client_for(app, "cora"), app, ids))
    assert any(url.startswith("/moderation") for url in found)
    assert all(MODERATION_PAGES.match(url) for url in found), sorted(found)
    # the graph itself (what every other page, export and the console read) holds none
    everything = store.read("MATCH (n) RETURN n {.*} AS p")
    assert MARKER not in repr(everything)
