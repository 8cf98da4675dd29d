"""A NUL (or another C0 control character) in an id or a parameter is refused at the edge
with 400, in JSON for the JSON API, before any handler or the store sees it (it reached
the store and was answered 503 "store unavailable")."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from test_living import app_for, sign_in

from triedbefore.graph.falkor import FalkorStore
from triedbefore.web.app import create_app


@pytest.fixture
def client(read_sample: FalkorStore) -> FlaskClient:
    app: Flask = create_app({"STORE": read_sample, "SECRET_KEY": "test",
                             "PROPAGATE_EXCEPTIONS": False})
    return app.test_client()


@pytest.mark.parametrize("url", [
    "/solutions/a%00b.json", "/initiatives/a%00b.json", "/evaluations/a%00b.json",
    "/sites/a%00b.json", "/deviance.json?measure=%00", "/solutions/SOL-TELE%01.json",
    "/search.json?q=virtual%00ward", "/solutions.json?page=1%00", "/changes.json?since=%1b",
])
def test_control_characters_in_json_requests_are_400_json(client: FlaskClient,
                                                          url: str) -> None:
    res = client.get(url)
    assert res.status_code == 400, (url, res.status_code)
    body = res.get_json()
    assert body["ok"] is False and body["status"] == 400
    assert "control character" in body["error"]


@pytest.mark.parametrize("url", ["/solutions/a%00b", "/sites/a%00b", "/evaluations/a%7fb",
                                 "/deviance?measure=x%00"])
def test_control_characters_in_pages_are_400_pages(client: FlaskClient, url: str) -> None:
    res = client.get(url, headers={"Accept": "text/html"})
    assert res.status_code == 400 and res.mimetype == "text/html"
    html = res.get_data(as_text=True)
    assert "control character" in html and "\x00" not in html


def test_typed_text_keeps_tabs_and_line_breaks(client: FlaskClient) -> None:
    res = client.get("/search.json?q=virtual%09ward%0Ahome")
    assert res.status_code == 200


def test_watch_with_a_nul_in_its_target_is_400(store: FalkorStore, sample_copy: Path,
                                               tmp_path: Path) -> None:
    from triedbefore.ingest.pipeline import ingest

    ingest(store, sample_copy)
    viewer = app_for(store, tmp_path).test_client()
    token = sign_in(viewer)
    res = viewer.post("/watches", data={"target_kind": "solution", "target_id": "SOL\x00X"},
                      headers={"X-CSRF-Token": token, "Accept": "application/json"})
    assert res.status_code == 400
    assert "control character" in res.get_json()["error"]
    assert viewer.get("/watches.json").get_json()["watches"] == []


def test_console_statements_with_a_nul_get_the_consoles_own_error(
        client: FlaskClient) -> None:
    client.application.config["CONSOLE_ANONYMOUS"] = True  # the answers, not the sign-in
    res = client.get("/console.json?q=RETURN%201%00")
    assert res.status_code == 400
    body = res.get_json()
    assert body["kind"] == "bad_input" and "control character" in body["error"]
    ok = client.get("/console.json?q=RETURN%0A1%09AS%20n")  # typed line breaks and tabs
    assert ok.status_code == 200, ok.get_json()
