"""The HTTP client and the two connectors, offline: recorded real answers replayed through
the real client code with ``responses`` (see tests/data/api_fixtures/SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from sources_replay import epmc_pages, fixture

from triedbefore.ingest.records import design_from_text
from triedbefore.ingest.sources import SourceError, clinicaltrials, europepmc
from triedbefore.ingest.sources.client import HttpClient, retry_after_seconds, user_agent
from triedbefore.ontology.vocab import CandidateSource, Design

EPMC = europepmc.API
CTGOV = clinicaltrials.API


def params_of(request: Any) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(request.url).query).items()}


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(tmp_path: Path, sleeps: list[float], clock: Clock) -> HttpClient:
    return HttpClient(cache_dir=tmp_path / "cache", cache_ttl=3600, sleep=sleeps.append,
                      clock=clock)


# --------------------------------------------------------------------------- #
# Connectors: pagination to the end, parsing, design with its reason
# --------------------------------------------------------------------------- #


def test_europepmc_follows_the_cursor_to_the_end(client: HttpClient) -> None:
    with responses.RequestsMock() as rsps:
        asked = epmc_pages(rsps)
        found = list(europepmc.search(client, text="telehealth COPD", page_size=5))
        sent = [params_of(c.request) for c in rsps.calls]
        agents = {c.request.headers["User-Agent"] for c in rsps.calls}
    first = fixture("europepmc/search_cancer_page2.json")
    second = fixture("europepmc/search_cancer_core_first3.json")
    assert asked == ["*", first["nextCursorMark"], second["nextCursorMark"]]
    assert len(found) == 5 + 3  # the second page repeats three articles; fetch dedupes
    assert all(p["query"].startswith("(telehealth COPD) AND (evaluation") for p in sent)
    assert all(p["format"] == "json" and p["resultType"] == "core" for p in sent)
    assert agents == {user_agent()} and user_agent().startswith("triedbefore/")
    assert "+https://" in user_agent()
    records = {f.source_id: f for f, _ in found}
    lancet = records["MED:39709209"]
    assert lancet.doi == "10.1016/s0140-6736(24)02600-x"
    assert lancet.url == "https://europepmc.org/article/MED/39709209"
    assert lancet.published_date == "2025-12-01" and lancet.source is CandidateSource.EUROPEPMC
    observational = next(f for f, _ in found if "observational study" in f.publication_types)
    assert observational.design is Design.CROSS_SECTIONAL
    assert observational.design_reason == 'publication type "observational study"'
    erratum = next(f for f, _ in found if f.title == "Department of Error.")
    assert erratum.design is None and "no publication type" in erratum.design_reason


def test_europepmc_by_doi_asks_for_that_doi(client: HttpClient) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, EPMC, json=fixture("europepmc/search_no_results.json"))
        assert list(europepmc.search(client, doi="https://doi.org/10.1111/bjhp.12807")) == []
        assert params_of(rsps.calls[0].request)["query"] == 'DOI:"10.1111/bjhp.12807"'


def test_clinicaltrials_follows_page_tokens_in_the_uk(client: HttpClient) -> None:
    # The list wrappers and tokens are synthetic; the study objects are real recordings.
    pages = {
        None: {"studies": [fixture("clinicaltrials_gov_v2/NCT03630471.json"),
                           fixture("clinicaltrials_gov_v2/NCT05594173.json")],
               "nextPageToken": "tok-2", "totalCount": 3},
        "tok-2": {"studies": [fixture("clinicaltrials_gov_v2/NCT03418623.json")]},
    }
    asked: list[dict[str, str]] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        params = params_of(request)
        asked.append(params)
        return 200, {}, json.dumps(pages[params.get("pageToken")])

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, CTGOV, callback=answer,
                          content_type="application/json")
        found = [f for f, _ in clinicaltrials.search(client, condition="depression",
                                                     intervention="problem solving")]
    assert [a.get("pageToken") for a in asked] == [None, "tok-2"]
    assert all(a["query.locn"] == "United Kingdom" and a["query.cond"] == "depression"
               and a["query.intr"] == "problem solving" for a in asked)
    assert [f.source_id for f in found] == ["NCT03630471", "NCT05594173", "NCT03418623"]
    trial, cohort, _ = found
    assert trial.design is Design.RCT
    assert trial.design_reason == "ClinicalTrials.gov design: interventional, allocation randomized"
    assert trial.url == "https://clinicaltrials.gov/study/NCT03630471"
    assert trial.published_date == "2018-08-14" and trial.countries == ("India",)
    assert trial.evaluation_id() == "EVAL-NCT03630471"
    assert cohort.published_date == "2022-11-21"  # results first posted
    assert cohort.design is None and cohort.publication_types == ("observational",)


def test_a_search_needs_terms(client: HttpClient) -> None:
    with pytest.raises(SourceError, match="condition, an intervention or a text"):
        list(clinicaltrials.search(client))
    with pytest.raises(SourceError, match="query or a DOI"):
        list(europepmc.search(client, text="  "))


@pytest.mark.parametrize(("text", "design", "phrase"), [
    ("A stepped-wedge cluster randomised trial of virtual wards", Design.STEPPED_WEDGE,
     "stepped-wedge"),
    ("A cluster randomized trial in general practice", Design.CLUSTER_RCT, "cluster randomized"),
    ("We used difference-in-differences against matched areas",
     Design.DIFFERENCE_IN_DIFFERENCES, "difference-in-differences"),
    ("Semi-structured interviews with staff", Design.QUALITATIVE, "Semi-structured interviews"),
    ("A cost-effectiveness analysis", Design.ECONOMIC, "cost-effectiveness"),
    ("An interrupted time series analysis of admissions", Design.INTERRUPTED_TIME_SERIES,
     "interrupted time series"),
])
def test_design_from_text_says_why(text: str, design: Design, phrase: str) -> None:
    assert design_from_text(text, "abstract") == (design, f'the abstract says "{phrase}"')
    assert design_from_text("Telehealth for COPD", "title") == (None, "")


# --------------------------------------------------------------------------- #
# The client: retries, Retry-After, timeouts, offline, malformed JSON, cache
# --------------------------------------------------------------------------- #


def test_429_then_success_honours_retry_after(client: HttpClient, sleeps: list[float]) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, EPMC, status=429, headers={"Retry-After": "7"})
        rsps.add(responses.GET, EPMC, json=fixture("europepmc/search_no_results.json"))
        answer = client.get_json(EPMC, {"query": "x"})
        assert len(rsps.calls) == 2
    assert sleeps == [7.0]
    assert answer.data["hitCount"] == 0 and not answer.from_cache


def test_retry_after_as_an_http_date() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT", 1445412480.0) == 30.0
    assert retry_after_seconds("12", 0) == 12.0
    assert retry_after_seconds("soon", 0) is None and retry_after_seconds(None, 0) is None


def test_too_long_a_retry_after_is_an_error(client: HttpClient, sleeps: list[float]) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, EPMC, status=503, headers={"Retry-After": "3600"})
        with pytest.raises(SourceError, match="asks to wait 3600 s"):
            client.get_json(EPMC, {"query": "x"})
    assert sleeps == []


def test_5xx_is_retried_with_backoff(client: HttpClient, sleeps: list[float]) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, EPMC, status=503)
        rsps.add(responses.GET, EPMC, status=502)
        rsps.add(responses.GET, EPMC, json={"ok": 1})
        assert client.get_json(EPMC).data == {"ok": 1}
    assert sleeps == [1.0, 2.0]


def test_5xx_that_persists_is_one_line(client: HttpClient, sleeps: list[float]) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, EPMC, status=500)
        with pytest.raises(SourceError) as err:
            client.get_json(EPMC)
        assert len(rsps.calls) == 5
    assert str(err.value) == "www.ebi.ac.uk answered HTTP 500 (5 attempts); try again later"
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_other_4xx_is_not_retried(client: HttpClient) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, CTGOV, status=400, body="bad\nquery.cond")
        with pytest.raises(SourceError, match=r"^clinicaltrials.gov answered HTTP 400: bad "):
            client.get_json(CTGOV)
        assert len(rsps.calls) == 1


def test_timeout_is_retried_then_reported(client: HttpClient, sleeps: list[float]) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, EPMC, body=requests.exceptions.ReadTimeout("read timed out"))
        rsps.add(responses.GET, EPMC, json={"ok": 1})
        assert client.get_json(EPMC).data == {"ok": 1}
    assert sleeps == [1.0]
    quick = HttpClient(cache_dir=client.cache_dir, cache_ttl=0, attempts=2,
                       sleep=sleeps.append, timeout=(1.0, 2.5))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, EPMC, body=requests.exceptions.ConnectTimeout("timed out"))
        with pytest.raises(SourceError) as err:
            quick.get_json(EPMC)
    assert str(err.value) == "www.ebi.ac.uk did not answer within 2.5 s (2 attempts)"


def test_offline_or_refused_is_one_line_at_once(client: HttpClient, sleeps: list[float]) -> None:
    refused = requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='clinicaltrials.gov', port=443): Max retries exceeded\n"
        "(Caused by NameResolutionError: Failed to resolve 'clinicaltrials.gov')")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, CTGOV, body=refused)
        with pytest.raises(SourceError) as err:
            client.get_json(CTGOV, {"query.term": "x"})
    message = str(err.value)
    assert message.startswith("cannot reach clinicaltrials.gov: offline, DNS failure or "
                              "connection refused")
    assert "\n" not in message and sleeps == []


def test_malformed_json_is_one_line(client: HttpClient) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, EPMC, body='{"hitCount": 3, "resultList": {', status=200,
                 content_type="application/json")
        with pytest.raises(SourceError) as err:
            client.get_json(EPMC)
    assert str(err.value).startswith("www.ebi.ac.uk sent an answer that is not valid JSON")
    assert "\n" not in str(err.value)
    assert not list(client.cache_dir.glob("*.json")) if client.cache_dir.exists() else True


def test_cache_hit_then_expiry(client: HttpClient, clock: Clock) -> None:
    body = fixture("europepmc/search_no_results.json")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, EPMC, json=body)
        first = client.get_json(EPMC, {"query": "x", "pageSize": 5})
        clock.now += 3599
        again = client.get_json(EPMC, {"pageSize": 5, "query": "x"})  # same URL, any order
        assert len(rsps.calls) == 1
        clock.now += 2  # past the hour
        later = client.get_json(EPMC, {"query": "x", "pageSize": 5})
        assert len(rsps.calls) == 2
    assert not first.from_cache and again.from_cache and not later.from_cache
    assert again.data == body and again.retrieved_at == first.retrieved_at
    assert later.retrieved_at != first.retrieved_at
    assert len(list(client.cache_dir.glob("*.json"))) == 1


def test_cache_off_and_corrupt_cache(tmp_path: Path) -> None:
    off = HttpClient(cache_dir=tmp_path / "c", cache_ttl=0)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, EPMC, json={"a": 1})
        off.get_json(EPMC)
        off.get_json(EPMC)
        assert len(rsps.calls) == 2
    assert not (tmp_path / "c").exists()
    on = HttpClient(cache_dir=tmp_path / "c", cache_ttl=60)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, EPMC, json={"a": 1})
        on.get_json(EPMC)
        next((tmp_path / "c").glob("*.json")).write_text("{not json", encoding="utf-8")
        assert on.get_json(EPMC).data == {"a": 1}
        assert len(rsps.calls) == 2
