"""Searching the registries and the literature for evaluations of a solution.

:func:`fetch` runs the connectors (ClinicalTrials.gov, Europe PMC) for one solution and
stores what they return as candidates for a curator (:mod:`triedbefore.ingest.candidates`,
which also lists them and records the curator's decisions).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from triedbefore.graph.store import Store
from triedbefore.ingest.candidates import FetchResult, get_solution, store_found
from triedbefore.ingest.records import Found
from triedbefore.ingest.sources import SourceError, clinicaltrials, europepmc
from triedbefore.ingest.sources.client import HttpClient
from triedbefore.ontology.vocab import CandidateSource


def fetch(store: Store, client: HttpClient, solution_id: str, *,
          sources: Iterable[CandidateSource] | None = None, query: str | None = None,
          doi: str | None = None, condition: str | None = None,
          intervention: str | None = None, limit: int | None = None) -> FetchResult:
    """Search the sources for evaluations of a solution and store what they find as
    candidates. Without ``query`` the solution's name is the search text; ``doi`` asks
    Europe PMC for one article; ``condition`` and ``intervention`` narrow a
    ClinicalTrials.gov search."""
    solution = get_solution(store, solution_id)
    chosen = list(sources) if sources else (
        [CandidateSource.EUROPEPMC] if doi else list(CandidateSource))
    if doi and CandidateSource.CLINICALTRIALS in chosen:
        raise SourceError("--doi searches Europe PMC only; ClinicalTrials.gov records "
                          "have registry ids, not DOIs")
    text = query or (None if doi or condition or intervention else str(solution["name"]))
    result = FetchResult(solution_id)
    found: list[tuple[Found, str, str]] = []  # record, retrieved_at, query as sent
    sent_before = client.requests_sent
    for source in chosen:
        records: Iterator[tuple[Found, str]]
        if source is CandidateSource.CLINICALTRIALS:
            params = clinicaltrials.search_params(condition=condition,
                                                  intervention=intervention, text=text)
            described = "; ".join(f"{k}={v}" for k, v in params.items()
                                  if v is not None and k.startswith("query."))
            records = clinicaltrials.search(client, condition=condition,
                                            intervention=intervention, text=text,
                                            limit=limit)
        else:
            described = europepmc.build_query(text=text, doi=doi)
            records = europepmc.search(client, text=text, doi=doi, limit=limit)
        result.searches.append({"source": source.value, "query": described})
        found.extend((record, retrieved, described) for record, retrieved in records)
    result.requests = client.requests_sent - sent_before
    result.found = len(found)
    store_found(store, solution_id, found, result)
    return result
