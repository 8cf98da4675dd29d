"""A curator's decision on a proposed link between an initiative and a solution, written
through the ingest entry point: the decision is a run of its own (``IngestRun`` with
source ``curation:<who>``), so the public copy, the verdicts it changes and the graph
version follow it like any other write."""

from __future__ import annotations

from triedbefore.graph.changes import Touched
from triedbefore.graph.resolution import Resolution, apply_decision, check_decision
from triedbefore.graph.store import Store
from triedbefore.ingest.loader import IngestResult
from triedbefore.ingest.pipeline import Source, run


class Decision(Source):
    """Accept or reject one initiative's link to one solution."""

    def __init__(self, initiative_id: str, solution_id: str, decision: str, *,
                 who: str) -> None:
        self.initiative_id = initiative_id
        self.solution_id = solution_id
        self.decision = decision
        self.who = who
        self.label = f"curation:{who}"
        self.done: Resolution | None = None

    def apply(self, graph: Store, result: IngestResult, touched: Touched) -> None:
        self.done = apply_decision(graph, self.initiative_id, self.solution_id, self.decision,
                                   who=self.who, run_id=result.run_id,
                                   touched=touched.solutions)


def decide(store: Store, initiative_id: str, solution_id: str, decision: str, *,
           who: str = "curator") -> Resolution:
    """Record a curator's decision (``accepted`` or ``rejected``) on a link. Raises
    ``NotFound`` for an unknown initiative or solution, ``BadArgument`` for another
    decision, before anything is written."""
    check_decision(store, initiative_id, solution_id, decision)
    source = Decision(initiative_id, solution_id, decision, who=who)
    run(store, source)
    assert source.done is not None  # apply ran, or run raised
    return source.done
