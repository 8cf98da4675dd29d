"""Errors: a page of the site (navigation, search box, the right status) for a reader, the
JSON error envelope for a program."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from triedbefore.graph.falkor import FalkorStore
from triedbefore.web.app import create_app

NAV_LINKS = ['href="/search"', 'href="/solutions"', 'href="/gap-map"', 'href="/check"']


def _boom() -> str:
    raise RuntimeError("secret detail of the failure")


@pytest.fixture
def app(read_sample: FalkorStore) -> Flask:
    app = create_app({"STORE": read_sample, "SECRET_KEY": "test",
                      "PROPAGATE_EXCEPTIONS": False})  # as served: a failure is a 500
    app.add_url_rule("/boom", "boom", _boom)
    app.add_url_rule("/boom.json", "boom_json", _boom)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _is_site_page(html: str) -> None:
    assert html.startswith("<!doctype html>") and 'lang="en"' in html
    assert "/static/site.css" in html and '<nav aria-label="Main">' in html
    assert all(link in html for link in NAV_LINKS)
    assert 'role="search"' in html and 'name="q"' in html and 'action="/search"' in html


@pytest.mark.parametrize("url", ["/no-such-page", "/solutions/SOL-NOPE", "/sites/NOPE",
                                 "/graph?node=site:NOPE"])
def test_not_found_is_a_page_of_the_site(client: FlaskClient, url: str) -> None:
    res = client.get(url, headers={"Accept": "text/html"})
    assert res.status_code == 404 and res.mimetype == "text/html"
    html = res.get_data(as_text=True)
    _is_site_page(html)
    assert "<h1>Page not found</h1>" in html and "Not Found</h1>" not in html


def test_not_found_names_what_is_missing(client: FlaskClient) -> None:
    html = client.get("/solutions/SOL-NOPE").get_data(as_text=True)
    assert "SOL-NOPE" in html  # in the message and in the search box


def test_server_error_is_a_page_of_the_site(client: FlaskClient) -> None:
    res = client.get("/boom")
    assert res.status_code == 500 and res.mimetype == "text/html"
    html = res.get_data(as_text=True)
    _is_site_page(html)
    assert "<h1>Something went wrong</h1>" in html
    assert "secret detail" not in html  # nothing of the failure itself


def test_other_errors_keep_their_status_and_say_what_was_wrong(client: FlaskClient) -> None:
    res = client.get("/gap-map?by=colour")
    assert res.status_code == 400 and res.mimetype == "text/html"
    html = res.get_data(as_text=True)
    _is_site_page(html)
    assert "<h1>Bad Request</h1>" in html
    assert "&#39;by&#39; must be one of" in html  # the argument that was refused


@pytest.mark.parametrize("url,accept", [("/no-such-page.json", "*/*"),
                                        ("/solutions/SOL-NOPE.json", "*/*"),
                                        ("/no-such-page", "application/json")])
def test_json_requests_keep_the_json_envelope(client: FlaskClient, url: str,
                                              accept: str) -> None:
    res = client.get(url, headers={"Accept": accept})
    assert res.status_code == 404 and res.mimetype == "application/json"
    body = res.get_json()
    assert body["ok"] is False and body["status"] == 404 and body["error"]


def test_json_server_error_keeps_the_json_envelope(client: FlaskClient) -> None:
    res = client.get("/boom.json")
    assert res.status_code == 500 and res.mimetype == "application/json"
    body = res.get_json()
    assert body == {"ok": False, "status": 500, "error": body["error"]}
    assert "secret detail" not in body["error"]
