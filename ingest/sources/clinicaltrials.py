"""ClinicalTrials.gov API v2: studies by condition, intervention or free text with a
location in the United Kingdom.

``GET https://clinicaltrials.gov/api/v2/studies?query.cond=…&query.intr=…&query.term=…
&query.locn=United Kingdom&pageSize=…&pageToken=…`` answers ``{"studies": [...],
"nextPageToken": "…"}``; the search follows ``nextPageToken`` until an answer has none.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from triedbefore.ingest.records import (
    Found,
    design_from_text,
    dig,
    guess_design,
)
from triedbefore.ingest.sources import SourceError
from triedbefore.ingest.sources.client import HttpClient
from triedbefore.ontology.vocab import CandidateSource, Design

API = "https://clinicaltrials.gov/api/v2/studies"
STUDY_URL = "https://clinicaltrials.gov/study/{nct}"
COUNTRY = "United Kingdom"
PAGE_SIZE = 100


def search_params(*, condition: str | None = None, intervention: str | None = None,
                  text: str | None = None, page_size: int = PAGE_SIZE) -> dict[str, Any]:
    if not (condition or intervention or text):
        raise SourceError("a ClinicalTrials.gov search needs a condition, an intervention "
                          "or a text")
    return {"query.cond": condition, "query.intr": intervention, "query.term": text,
            "query.locn": COUNTRY, "pageSize": page_size, "format": "json"}


def search(client: HttpClient, *, condition: str | None = None,
           intervention: str | None = None, text: str | None = None,
           page_size: int = PAGE_SIZE, limit: int | None = None
           ) -> Iterator[tuple[Found, str]]:
    """Every study the search finds, page after page, with the answer's retrieval time."""
    params = search_params(condition=condition, intervention=intervention, text=text,
                           page_size=page_size)
    seen_tokens: set[str] = set()
    count = 0
    while True:
        answer = client.get_json(API, params)
        data = answer.data
        if not isinstance(data, dict) or not isinstance(data.get("studies", []), list):
            raise SourceError("clinicaltrials.gov answered without a list of studies")
        for study in data.get("studies", []):
            found = parse_study(study)
            if found is None:
                continue
            yield found, answer.retrieved_at
            count += 1
            if limit is not None and count >= limit:
                return
        token = data.get("nextPageToken")
        if not token or token in seen_tokens:
            return
        seen_tokens.add(token)
        params = {**params, "pageToken": token}


def parse_study(study: Any) -> Found | None:
    """A study object of the API (``protocolSection``…) as a record; None without an id."""
    protocol = dig(study, "protocolSection")
    nct = dig(protocol, "identificationModule", "nctId")
    if not isinstance(nct, str) or not nct:
        return None
    ident = protocol["identificationModule"]
    title = ident.get("officialTitle") or ident.get("briefTitle") or nct
    status = protocol.get("statusModule") or {}
    results_date = dig(status, "resultsFirstPostDateStruct", "date")
    posted = dig(status, "studyFirstPostDateStruct", "date")
    design_module = protocol.get("designModule") or {}
    study_type = str(design_module.get("studyType") or "").lower()
    locations = dig(protocol, "contactsLocationsModule", "locations") or []
    countries = tuple(sorted({str(loc["country"]) for loc in locations
                              if isinstance(loc, dict) and loc.get("country")}))
    summary = dig(protocol, "descriptionModule", "briefSummary")
    design, reason = guess_design(
        _registry_design(design_module, f"{title} {summary or ''}"),
        design_from_text(title, "title"),
        design_from_text(summary, "summary"),
    )
    return Found(
        source=CandidateSource.CLINICALTRIALS, source_id=nct, title=str(title),
        url=STUDY_URL.format(nct=nct), doi=None,
        published_date=str(results_date or posted) if (results_date or posted) else None,
        design=design, design_reason=reason,
        publication_types=(study_type,) if study_type else (),
        countries=countries,
        extra={"overall_status": status.get("overallStatus"),
               "date_kind": "results first posted" if results_date else "first posted"},
    )


def _registry_design(module: dict[str, Any], text: str) -> tuple[Design | None, str]:
    """The design the registry's own fields name (allocation, model, study type)."""
    info = module.get("designInfo") or {}
    study_type = str(module.get("studyType") or "")
    allocation = str(info.get("allocation") or "")
    model = str(info.get("interventionModel") or "")
    where = f"ClinicalTrials.gov design: {study_type.lower() or 'unknown type'}"
    if study_type == "INTERVENTIONAL":
        if allocation == "RANDOMIZED":
            phrase, _ = design_from_text(
                f"{text} {info.get('interventionModelDescription') or ''}", "")
            if phrase in (Design.CLUSTER_RCT, Design.STEPPED_WEDGE):
                return phrase, f"{where}, allocation randomized, described as {phrase.value}"
            return Design.RCT, f"{where}, allocation randomized"
        if allocation == "NON_RANDOMIZED":
            return Design.NON_RANDOMISED_TRIAL, f"{where}, allocation non-randomized"
        if model == "SINGLE_GROUP":
            return Design.BEFORE_AFTER, f"{where}, single group"
    if study_type == "OBSERVATIONAL" and info.get("timePerspective") == "CROSS_SECTIONAL":
        return Design.CROSS_SECTIONAL, f"{where}, cross-sectional time perspective"
    return None, ""
