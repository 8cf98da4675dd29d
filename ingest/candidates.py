"""Candidate evaluations kept for a curator: storing what the connectors found, listing
candidates, and a curator's decisions. No HTTP here: the connectors that search the
registries and the literature are in :mod:`triedbefore.ingest.sources`.

Candidates are ``Candidate`` nodes linked to a solution (``CANDIDATE_FOR``), with their
title, DOI or registry id, URL, publication date and the design guessed with the reason.
They are not facts: the analytics never read them. Storing them again is idempotent (the
id is derived from the solution and the record's DOI or registry id) and never touches a
candidate a curator has decided: a rejected one is never proposed again for that
solution. Records already in the graph as evaluations (same DOI or same derived id) are
not proposed.

:func:`accept` loads the candidate as an ``Evaluation`` row through the ingest entry
point (the same validation, reference checks and provenance as ``triedbefore ingest``,
rows held in memory): its id is derived from the DOI or registry id, its ``url`` is the
record's, and the run that wrote it has the record's URL as ``source`` and the retrieval
time as ``retrieved_at``. The curator says which initiatives it evaluated and what it
found; the design and date default to the candidate's. :func:`reject` remembers the
refusal. Every store, decision and acceptance is one run of the entry point, so the public
copy and the graph version follow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from triedbefore.graph import NotFound, queries
from triedbefore.graph.analytics import COUNTED_LINKS
from triedbefore.graph.changes import Touched
from triedbefore.graph.store import Store
from triedbefore.ingest import CandidateError
from triedbefore.ingest.bundle import Bundle
from triedbefore.ingest.loader import IngestResult
from triedbefore.ingest.pipeline import RowsSource, Source, run
from triedbefore.ingest.records import Found, candidate_id, clean_doi
from triedbefore.ontology.models import EvaluationRow
from triedbefore.ontology.vocab import CandidateSource, CandidateStatus, Design, Finding

BATCH = 500


class CandidateNotFound(CandidateError, NotFound):
    """No candidate (or no solution) with that id."""


@dataclass
class FetchResult:
    solution_id: str
    searches: list[dict[str, str]] = field(default_factory=list)
    found: int = 0
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=lambda: {
        "rejected": 0, "accepted": 0, "in_graph": 0})
    requests: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"solution_id": self.solution_id, "searches": self.searches,
                "found": self.found, "new": self.new, "updated": self.updated,
                "skipped": self.skipped, "requests": self.requests}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def get_solution(store: Store, solution_id: str) -> dict[str, Any]:
    rows = store.read(queries.SOLUTION_EXISTS, {"id": solution_id})
    if not rows:
        raise CandidateNotFound(f"no solution with id {solution_id!r}")
    return rows[0]


def evaluation_id_for(doi: str | None, source_id: str) -> str:
    """The evaluation id an accepted candidate gets (see ``Found.evaluation_id``)."""
    return Found(CandidateSource.EUROPEPMC, source_id, "", "", doi=clean_doi(doi)
                 ).evaluation_id()


# --- storing what the connectors found ------------------------------------------------

class FoundCandidates(Source):
    """The records a search found for one solution, stored as candidates."""

    def __init__(self, solution_id: str, found: list[tuple[Found, str, str]],
                 result: FetchResult) -> None:
        self.solution_id = solution_id
        self.found = found
        self.result = result
        sources = sorted({record.source.value for record, _, _ in found})
        self.label = f"candidates:{solution_id}:{','.join(sources) or 'none'}"

    def apply(self, graph: Store, result: IngestResult, touched: Touched) -> None:
        _store_found(graph, self.solution_id, self.found, self.result, result.run_id)


def store_found(store: Store, solution_id: str, found: list[tuple[Found, str, str]],
                result: FetchResult) -> None:
    """Store (record, retrieved_at, query as sent) triples as candidates of a solution;
    ``result`` receives what was new, updated and skipped."""
    run(store, FoundCandidates(solution_id, found, result))


def _store_found(store: Store, solution_id: str, found: list[tuple[Found, str, str]],
                 result: FetchResult, run_id: str) -> None:
    by_id: dict[str, tuple[Found, str, str]] = {}
    for item in found:  # the same record twice (two sources, two pages): the first one,
        cid = candidate_id(solution_id, item[0].key)  # unless only a later one has a design
        if cid not in by_id or (by_id[cid][0].design is None and item[0].design is not None):
            by_id[cid] = item
    ids = list(by_id)
    states: dict[str, str] = {}
    known_ids: set[str] = set()
    known_dois: set[str] = set()
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        states.update({str(r["id"]): str(r["status"]) for r in store.read(
            queries.CANDIDATE_STATES, {"ids": chunk})})
        records = [by_id[i][0] for i in chunk]
        for r in store.read(queries.EVALUATIONS_KNOWN, {
                "ids": [f.evaluation_id() for f in records],
                "dois": [f.doi.lower() for f in records if f.doi]}):
            known_ids.add(str(r["id"]))
            if r.get("doi"):
                known_dois.add(str(r["doi"]))
    rows: list[dict[str, Any]] = []
    for cid, (record, retrieved_at, described) in by_id.items():
        state = states.get(cid)
        if state in (CandidateStatus.REJECTED, CandidateStatus.ACCEPTED):
            result.skipped[state] += 1
            continue
        if record.evaluation_id() in known_ids or (record.doi and
                                                    record.doi.lower() in known_dois):
            result.skipped["in_graph"] += 1
            continue
        (result.updated if state else result.new).append(cid)
        rows.append({"id": cid, "solution_id": solution_id, "props": {
            "title": record.title, "source": record.source.value,
            "source_id": record.source_id, "doi": record.doi, "url": record.url,
            "published_date": record.published_date,
            "design": record.design.value if record.design else None,
            "design_reason": record.design_reason,
            "publication_types": list(record.publication_types) or None,
            "countries": list(record.countries) or None,
            "query": described, "retrieved_at": retrieved_at}})
        rows[-1]["props"] = {k: v for k, v in rows[-1]["props"].items() if v is not None}
    for start in range(0, len(rows), BATCH):
        store.write(queries.UPSERT_CANDIDATES, {"rows": rows[start:start + BATCH],
                                                "run_id": run_id})


# --- reading ---------------------------------------------------------------------------

CANDIDATE_FIELDS = ("id", "solution_id", "solution_name", "status", "source", "source_id",
                    "title", "doi", "url", "published_date", "design", "design_reason",
                    "publication_types", "countries", "query", "retrieved_at",
                    "decided_by", "decided_at", "evaluation_id")


def _row(row: dict[str, Any]) -> dict[str, Any]:
    props = dict(row["candidate"] or {})
    props["solution_id"] = row["solution_id"]
    props["solution_name"] = row["solution_name"]
    out = {name: props.get(name) for name in CANDIDATE_FIELDS}
    for name in ("publication_types", "countries"):
        out[name] = list(out[name] or [])
    return out


def list_candidates(store: Store, *, status: CandidateStatus | None = None,
                    solution_id: str | None = None) -> list[dict[str, Any]]:
    """Candidates (of one status, of one solution), by solution, newest first."""
    statuses = [status.value] if status else [s.value for s in CandidateStatus]
    rows = [_row(r) for r in store.read(queries.CANDIDATES_LIST, {"statuses": statuses})]
    if solution_id is not None:
        rows = [r for r in rows if r["solution_id"] == solution_id]
    rows.sort(key=lambda r: (str(r["solution_id"]), str(r["id"])))
    rows.sort(key=lambda r: str(r["published_date"] or ""), reverse=True)
    rows.sort(key=lambda r: str(r["solution_id"]))
    return rows


def get_candidate(store: Store, cid: str) -> dict[str, Any]:
    rows = store.read(queries.CANDIDATE_NODE, {"id": cid})
    if not rows:
        raise CandidateNotFound(f"no candidate with id {cid!r}")
    return _row(rows[0])


def solution_initiatives(store: Store, solution_id: str) -> list[dict[str, Any]]:
    """The initiatives of a solution (declared, inferred or accepted links)."""
    return store.read(queries.SOLUTION_INITIATIVES, {"id": solution_id,
                                                     "counted": COUNTED_LINKS})


# --- decisions ---------------------------------------------------------------------------

class CandidateDecision(Source):
    """A curator's decision on a candidate; an accepted one brings its evaluation row."""

    def __init__(self, candidate: dict[str, Any], status: CandidateStatus, who: str, *,
                 row: dict[str, str] | None = None) -> None:
        self.candidate = candidate
        self.status = status
        self.who = who
        self.row = row
        self.evaluation_id = row["evaluation_id"] if row else None
        self.label = str(candidate["url"] or candidate["id"]) if row else \
            f"curation:{who}"

    def open(self) -> Bundle:
        if self.row is None:
            return super().open()
        return RowsSource(self.label, {EvaluationRow.FILE: [self.row]}).open()

    def run_props(self) -> dict[str, Any]:
        if self.row is None or not self.candidate["retrieved_at"]:
            return {}
        return {"retrieved_at": self.candidate["retrieved_at"]}

    def apply(self, graph: Store, result: IngestResult, touched: Touched) -> None:
        if result.errors:
            return  # the evaluation was refused: the candidate stays proposed
        graph.write(queries.DECIDE_CANDIDATE, {"id": self.candidate["id"],
                                               "status": self.status.value, "who": self.who,
                                               "at": _now(),
                                               "evaluation_id": self.evaluation_id})


def reject(store: Store, cid: str, *, who: str = "curator") -> dict[str, Any]:
    """Reject a candidate: it stays, marked rejected, and is never proposed again."""
    candidate = get_candidate(store, cid)
    if candidate["status"] == CandidateStatus.ACCEPTED:
        raise CandidateError(f"candidate {cid} was accepted as evaluation "
                             f"{candidate['evaluation_id']}; it cannot be rejected now")
    run(store, CandidateDecision(candidate, CandidateStatus.REJECTED, who))
    return get_candidate(store, cid)


def accept(store: Store, cid: str, *, initiative_ids: Iterable[str], finding: Finding | str,
           design: Design | str | None = None, published_date: str | None = None,
           who: str = "curator") -> dict[str, Any]:
    """Load a candidate as an evaluation of the given initiatives (see the module
    docstring); returns the candidate, now accepted, with ``evaluation_id``."""
    candidate = get_candidate(store, cid)
    chosen_design = design or candidate["design"]
    if not chosen_design:
        raise CandidateError(f"the design of {cid} is unknown "
                             f"({candidate['design_reason'] or 'not guessed'}); give one")
    published = published_date or candidate["published_date"]
    if not published:
        raise CandidateError(f"{cid} has no publication date; give one")
    wanted = [i.strip() for i in initiative_ids if i and i.strip()]
    if not wanted:
        known = [str(r["id"]) for r in solution_initiatives(store, candidate["solution_id"])]
        hint = (f"; the initiatives of {candidate['solution_id']}: {', '.join(known[:20])}"
                if known else "")
        raise CandidateError(f"name the initiative(s) {cid} evaluated{hint}")
    evaluation_id = evaluation_id_for(candidate["doi"], str(candidate["source_id"]))
    earlier = [str(r["id"]) for r in store.read(queries.EVALUATION_INITIATIVES,
                                                {"id": evaluation_id})]
    initiatives = list(dict.fromkeys(earlier + wanted))
    row = {"evaluation_id": evaluation_id, "initiative_ids": "|".join(initiatives),
           "title": candidate["title"], "design": str(chosen_design),
           "finding": str(finding), "published_date": published,
           "doi": candidate["doi"] or "", "url": candidate["url"] or ""}
    result = run(store, CandidateDecision(candidate, CandidateStatus.ACCEPTED, who, row=row))
    if result.errors:
        problem = result.errors[0]
        raise CandidateError(f"{cid} cannot be loaded: {problem.column}: {problem.reason}"
                             + (f" (allowed: {', '.join(problem.allowed)})"
                                if problem.allowed else ""))
    return get_candidate(store, cid)
