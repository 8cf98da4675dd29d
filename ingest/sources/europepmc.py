"""Europe PMC REST search: evaluations and reviews of a solution, by query or DOI.

``GET https://www.ebi.ac.uk/europepmc/webservices/rest/search?query=…&format=json
&resultType=core&pageSize=…&cursorMark=…`` answers ``{"hitCount", "nextCursorMark",
"resultList": {"result": [...]}}``; the search starts at ``cursorMark=*`` and follows
``nextCursorMark`` until an answer has no results, no next mark, or the mark it was
asked with.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from triedbefore.ingest.records import (
    Found,
    clean_doi,
    design_from_publication_types,
    design_from_text,
    dig,
    guess_design,
)
from triedbefore.ingest.sources import SourceError
from triedbefore.ingest.sources.client import HttpClient
from triedbefore.ontology.vocab import CandidateSource

API = "https://www.ebi.ac.uk/europepmc/webservices/rest/search"
ARTICLE_URL = "https://europepmc.org/article/{source}/{id}"
PAGE_SIZE = 100
#: Added to a free-text query so that the search keeps evaluations and reviews.
EVALUATION_TERMS = ("evaluation OR evaluated OR effectiveness OR trial OR review "
                    "OR \"before and after\" OR qualitative")


def build_query(*, text: str | None = None, doi: str | None = None) -> str:
    """The Europe PMC query: one DOI exactly, or the text restricted to evaluations."""
    if doi:
        cleaned = clean_doi(doi) or ""
        return f'DOI:"{cleaned.replace(chr(34), "")}"'
    if not text or not text.strip():
        raise SourceError("a Europe PMC search needs a query or a DOI")
    return f"({text.strip()}) AND ({EVALUATION_TERMS})"


def search(client: HttpClient, *, text: str | None = None, doi: str | None = None,
           page_size: int = PAGE_SIZE, limit: int | None = None
           ) -> Iterator[tuple[Found, str]]:
    """Every article the search finds, page after page, with the answer's retrieval time."""
    query = build_query(text=text, doi=doi)
    cursor = "*"
    count = 0
    while True:
        answer = client.get_json(API, {"query": query, "format": "json",
                                       "resultType": "core", "pageSize": page_size,
                                       "cursorMark": cursor})
        data = answer.data
        results = dig(data, "resultList", "result")
        if not isinstance(data, dict) or not isinstance(results if results is not None else [],
                                                        list):
            raise SourceError("www.ebi.ac.uk answered without a result list")
        for item in results or []:
            found = parse_result(item)
            if found is None:
                continue
            yield found, answer.retrieved_at
            count += 1
            if limit is not None and count >= limit:
                return
        following = data.get("nextCursorMark")
        if not results or not following or following == cursor:
            return
        cursor = str(following)


def parse_result(item: Any) -> Found | None:
    """One ``resultList.result`` entry (``core`` or ``lite``) as a record."""
    if not isinstance(item, dict) or not item.get("id") or not item.get("title"):
        return None
    source = str(item.get("source") or "MED")
    types_raw = dig(item, "pubTypeList", "pubType")
    if isinstance(types_raw, list):
        types = tuple(str(t) for t in types_raw)
    elif isinstance(item.get("pubType"), str):
        types = tuple(t.strip() for t in str(item["pubType"]).split(";") if t.strip())
    else:
        types = ()
    title = str(item["title"])
    design, reason = guess_design(
        design_from_publication_types(types),
        design_from_text(title, "title"),
        design_from_text(item.get("abstractText"), "abstract"),
    )
    published = item.get("firstPublicationDate") or item.get("pubYear")
    return Found(
        source=CandidateSource.EUROPEPMC, source_id=f"{source}:{item['id']}", title=title,
        url=ARTICLE_URL.format(source=source, id=item["id"]), doi=clean_doi(item.get("doi")),
        published_date=str(published) if published else None,
        design=design, design_reason=reason, publication_types=types,
    )
