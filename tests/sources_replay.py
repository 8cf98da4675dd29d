"""Replaying recorded Europe PMC answers (tests/data/api_fixtures) through the real
client, for the candidate, CLI and explorer tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

from triedbefore.ingest.sources import europepmc

FIXTURES = Path(__file__).resolve().parent / "data" / "api_fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def epmc_pages(rsps: responses.RequestsMock) -> list[str]:
    """Three real Europe PMC bodies served at the cursor marks they announce: 5 articles,
    then 3 (repeating 3 of the first page), then none. Returns the cursor marks asked."""
    first = fixture("europepmc/search_cancer_page2.json")
    second = fixture("europepmc/search_cancer_core_first3.json")
    last = fixture("europepmc/search_no_results.json")
    by_cursor = {"*": first, first["nextCursorMark"]: second, second["nextCursorMark"]: last}
    asked: list[str] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        cursor = parse_qs(urlsplit(request.url).query)["cursorMark"][-1]
        asked.append(cursor)
        return 200, {}, json.dumps(by_cursor[cursor])

    rsps.add_callback(responses.GET, europepmc.API, callback=answer,
                      content_type="application/json")
    return asked
