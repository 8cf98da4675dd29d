"""The explorer's pages and their JSON twins, on a temporary store per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.loader import ingest
from triedbefore.web.app import create_app

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"


@pytest.fixture
def client(store: FalkorStore) -> FlaskClient:
    ingest(store, SAMPLE)
    app = create_app({"TESTING": True, "STORE": store})
    return app.test_client()


def test_home_and_its_json_twin(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and b"Has this been tried before?" in page.data
    data = client.get("/index.json").get_json()
    assert data["ok"] is True and data["counts"]["Initiative"] == 70


def test_solution_page_lists_evidence_and_attempts(client: FlaskClient) -> None:
    data = client.get("/solutions/SOL-TELE.json").get_json()
    assert data["solution"]["id"] == "SOL-TELE"
    assert any(e["id"] == "EVAL-0004" for e in data["evaluations"])
    assert len(data["initiatives"]) >= 3
    assert all(i["sites"] for i in data["initiatives"])  # every attempt names its sites
    page = client.get("/solutions/SOL-TELE")
    assert page.status_code == 200 and data["solution"]["name"].encode() in page.data


def test_unknown_id_is_404_and_bad_parameter_400_as_json(client: FlaskClient) -> None:
    missing = client.get("/solutions/NOPE.json")
    assert missing.status_code == 404
    assert missing.get_json() == {"ok": False, "error": "no solution with id 'NOPE'",
                                  "status": 404}
    bad = client.get("/solutions.json?page=zero")
    assert bad.status_code == 400 and bad.get_json()["ok"] is False


def test_markup_in_titles_is_escaped(store: FalkorStore, tmp_path: Path) -> None:
    (tmp_path / "solutions.csv").write_text(
        "solution_id,name\nS1,<script>alert(1)</script>\n")
    ingest(store, tmp_path)
    client = create_app({"TESTING": True, "STORE": store}).test_client()
    body = client.get("/solutions/S1").data
    assert b"<script>alert(1)</script>" not in body
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in body
