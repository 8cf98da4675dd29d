"""The API keeps its documented contract where a schema-driven fuzzer looks (issue "Hold
under hostile input", finding 12): empty values of date and enum parameters are refused on
the JSON twins and downloads, a method a route does not take is 405 with ``Allow`` before
any CSRF check, an address too long is 414 in the JSON envelope on JSON routes (from the
app and from the server in front of it), and the OpenAPI document describes CSRF and 414."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from triedbefore.graph.falkor import FalkorStore
from triedbefore.web.app import create_app
from triedbefore.web.openapi import document
from triedbefore.web.serving import _json_errors_handler


@pytest.fixture
def app(read_sample: FalkorStore) -> Flask:
    return create_app({"TESTING": True, "STORE": read_sample, "SECRET_KEY": "t"})


@pytest.mark.parametrize("url", [
    "/changes.json?since=", "/changes.csv?since=", "/solutions.json?verdict=",
    "/zombies.json?as_of=", "/gap-map.json?by=", "/evaluations.json?domain=",
    "/solutions.json?page=",
])
def test_empty_values_are_refused_on_twins_and_downloads(app: Flask, url: str) -> None:
    answer = app.test_client().get(url, headers={"Accept": "application/json"})
    assert answer.status_code == 400, url
    body = answer.get_json()
    assert body["ok"] is False and "is empty" in body["error"]


def test_pages_still_take_empty_form_fields_and_link_twins_without_them(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/changes?since=").status_code == 200
    page = client.get("/evaluations?domain=&solution=SOL-TELE").get_data(as_text=True)
    assert "/evaluations.json?solution=SOL-TELE" in page
    assert "domain=" not in page.split("/evaluations.json?", 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("url", ["/solutions.json", "/solutions", "/changes.atom",
                                 "/openapi.json"])
def test_a_method_a_route_does_not_take_is_405_with_allow(app: Flask, method: str,
                                                          url: str) -> None:
    answer = app.test_client().open(url, method=method)  # and no CSRF token
    assert answer.status_code == 405, (method, url, answer.status_code)
    assert "GET" in answer.headers["Allow"]
    if url.endswith(".json"):
        assert answer.get_json() == {"ok": False, "status": 405,
                                     "error": answer.get_json()["error"]}


def test_a_long_address_is_414_json_on_json_routes(app: Flask) -> None:
    client = app.test_client()
    long = "x" * 66_000
    answer = client.get(f"/search.json?q={long}")
    assert answer.status_code == 414 and answer.get_json()["status"] == 414
    page = client.get(f"/search?q={long}")
    assert page.status_code == 414 and page.content_type.startswith("text/html")


@pytest.fixture
def served(app: Flask) -> Iterator[int]:
    http = make_server("127.0.0.1", 0, app, threaded=True,
                       request_handler=_json_errors_handler())
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield http.server_port
    finally:
        http.shutdown()


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_servers_own_414_is_json(served: int) -> None:
    """A request line over 64 KiB never reaches the app: werkzeug answers it."""
    answer = _raw(served, b"GET /solutions.json?q=" + b"x" * 70_000 + b" HTTP/1.1\r\n"
                  b"Host: x\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 414 " in head.split(b"\r\n")[0]
    assert b"Content-Type: application/json" in head
    assert b'"status": 414' in body


def test_the_description_states_csrf_and_414(app: Flask) -> None:
    spec: dict[str, Any] = document(app)
    csrf = spec["components"]["securitySchemes"]["csrfToken"]
    assert csrf["in"] == "header" and csrf["name"] == "X-CSRF-Token"
    assert "405" in csrf["description"] and "Allow" in csrf["description"]
    for path, item in spec["paths"].items():
        for op in item.values():
            if isinstance(op, dict) and "responses" in op and path.endswith(".json"):
                assert "414" in op["responses"], path


@pytest.mark.parametrize("url", [
    "/search.json?q=" + "x" * 20_001, "/search.csv?year=null", "/search.json?year=20161",
    "/evaluations.json?solution=", "/zombies.csv?solution=", "/deviance.json?measure=",
    "/solutions.json?verdict=works&verdict=mixed", "/solutions.json?size=501",
    "/graph.json?node=nokind",
])
def test_twins_take_only_what_the_description_says(app: Flask, url: str) -> None:
    """The fuzzer's "schema-violating request accepted": the twins and downloads check
    their query against the OpenAPI document's parameter schemas."""
    answer = app.test_client().get(url, headers={"Accept": "application/json"})
    assert answer.status_code == 400, url
    assert answer.get_json()["error"].startswith("parameter ")
    assert "400" in document(app)["paths"][url.split("?")[0]]["get"]["responses"]


def test_described_values_still_work(app: Flask) -> None:
    client = app.test_client()
    for url in ("/search.json?q=telehealth&year=2016", "/solutions.json?verdict=works&size=500",
                "/zombies.json?solution=SOL-TELE&as_of=2020-01-01", "/changes.json?since=2020-01-01"):
        assert client.get(url).status_code == 200, url
