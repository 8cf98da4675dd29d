"""What the graph answers: verdicts, zombie repeats, informed re-tries, unevaluated
spread and positive deviance (``docs/semantics.md``, choices in ``docs/analytics.md``).

Reads go through the portable statements of ``queries.py``; the rules themselves
live in ``rules.py`` so that the CLI, the explorer and the benchmarks share them.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from triedbefore.graph import BadArgument, NotFound, queries
from triedbefore.graph.rules import (
    DOES_NOT_WORK,
    UNEVALUATED,
    Attempt,
    Evidence,
    Repeat,
    Verdict,
    classify_many,
    day,
    does_not_work_windows,
    iso,
    verdict_of,
)
from triedbefore.graph.store import Store
from triedbefore.graph.wording import plural
from triedbefore.ontology import vocab
from triedbefore.ontology.models import measure_key

#: IMPLEMENTS kinds that make an initiative part of a solution (a statement parameter).
COUNTED_LINKS = [how.value for how in vocab.COUNTED_LINKS]

#: Positive deviance defaults (semantics.md): robust z of the relative change.
MIN_PEERS = 5
Z_THRESHOLD = 2.0
MAD_SCALE = 1.4826


def as_of_day(as_of: str | date | None) -> int:
    """Days since 1970-01-01 of an "as of" date (ISO ``YYYY-MM-DD``; default today)."""
    if as_of is None or as_of == "":
        return day(date.today())
    if isinstance(as_of, date):
        return day(as_of)
    try:
        return day(date.fromisoformat(as_of))
    except ValueError:
        raise BadArgument(f"as-of date {as_of!r} is not a date (YYYY-MM-DD)") from None


def _evidence(row: dict[str, Any]) -> Evidence:
    level = row.get("level")
    return Evidence(
        id=str(row["id"]), finding=str(row["finding"]),
        level=int(level) if level is not None else None,
        published_hi=int(row["published_hi"]), independent=row.get("independent"),
        initiatives=frozenset(str(i) for i in row.get("initiatives") or ()),
        includes=frozenset(str(i) for i in row.get("includes") or ()))


# --- verdict --------------------------------------------------------------------


def solution_evidence(store: Store, solution_id: str) -> list[Evidence]:
    if not store.read(queries.SOLUTION_EXISTS, {"id": solution_id}):
        raise NotFound(f"no solution with id {solution_id!r}")
    rows = store.read(queries.SOLUTION_EVIDENCE, {"id": solution_id, "counted": COUNTED_LINKS})
    return [_evidence(r) for r in rows]


#: Evaluations listed on each side of a verdict (the strongest; ``count`` says how many).
SIDE_SHOWN = 5


def verdict(store: Store, solution_id: str, as_of: str | date | None = None) -> dict[str, Any]:
    """The verdict for one solution as of a date: category, strength, the evaluations that
    drove it (strongest first), both sides weighed and the rule applied, in plain English."""
    when = as_of_day(as_of)
    v = verdict_of(solution_evidence(store, solution_id), when)
    return verdict_dict(solution_id, v, when, side_details(store, v))


_TOKEN = re.compile(r"[^\s,();]*[^\s,();.]")  # an id; a sentence's full stop is not part


def explanation_ids(v: Verdict) -> set[str]:
    """The evaluations a verdict's explanation names (the rules name them by id)."""
    return set(_TOKEN.findall(v.explanation)) & set(v.shown)


def titled(explanation: str, evaluations: dict[str, dict[str, Any]]) -> str:
    """A verdict's explanation with each evaluation named by its title, for people (the
    rules list evaluation ids separated by commas, in parentheses)."""
    def title(found: re.Match[str]) -> str:
        e = evaluations.get(found.group(0))
        return f"“{e['title']}”" if e and e.get("title") else found.group(0)
    return _TOKEN.sub(title, explanation)


def side_details(store: Store, v: Verdict) -> dict[str, dict[str, Any]]:
    """What a reader needs to weigh the evaluations listed on the sides of ``v`` or named
    in its explanation: title, design, SMS level, finding, publication date, by id."""
    ids = sorted({*v.positive[:SIDE_SHOWN], *v.negative[:SIDE_SHOWN], *explanation_ids(v)})
    if not ids:
        return {}
    return {str(r["id"]): r for r in store.read(queries.EVALUATION_SUMMARIES, {"ids": ids})}


def verdict_dict(solution_id: str, v: Verdict, when: int,
                 details: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The verdict as the CLI and the explorer give it; ``details`` from
    :func:`side_details`."""
    def side(level: int, ids: tuple[str, ...]) -> dict[str, Any]:
        return {"level": level, "count": len(ids),
                "evaluations": [details.get(i) or {"id": i} for i in ids[:SIDE_SHOWN]]}

    return {"solution_id": solution_id, "verdict": v.verdict, "strength": v.strength,
            "as_of": iso(when), "evaluations": list(v.evaluations),
            "explanation": v.explanation,
            "explanation_titled": titled(v.explanation, details),
            "considered": list(v.shown),
            "sides": {"positive": side(v.positive_level, v.positive),
                      "negative": side(v.negative_level, v.negative)}}


# --- bulk reads for the whole-graph questions -------------------------------------


BATCH = 200  # solutions per statement in whole-graph reads


def solution_ids(store: Store) -> list[str]:
    return sorted(str(r["id"]) for r in store.read(queries.SOLUTION_IDS))


@dataclass
class EvidenceIndex:
    """Every solution's evaluations, read once (a batch of solutions per statement: index
    lookups, no sort of the whole graph)."""

    by_solution: dict[str, list[Evidence]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Store) -> EvidenceIndex:
        index = cls()
        ids = solution_ids(store)
        batches = ({"ids": ids[start:start + BATCH], "counted": COUNTED_LINKS}
                   for start in range(0, len(ids), BATCH))
        for rows in store.read_each(queries.EVIDENCE_OF_SOLUTIONS, batches):
            for row in rows:
                index.by_solution.setdefault(str(row["solution_id"]), []).append(_evidence(row))
        for evidence in index.by_solution.values():  # the same order whatever the store's plan
            evidence.sort(key=lambda e: e.id)
        return index

    def of(self, solution_id: str) -> list[Evidence]:
        return self.by_solution.get(solution_id, [])


def _attempt(row: dict[str, Any]) -> Attempt:
    return Attempt(str(row["id"]), str(row["solution_id"]), int(row["start_lo"]),
                   frozenset(str(x) for x in row["learned_from"] or ()),
                   str(row.get("how") or "declared"))


def iter_attempts(store: Store, solutions: dict[str, list[tuple[int, int | None]]] | None = None
                  ) -> Iterator[Attempt]:
    """Initiatives linked to a solution (declared, inferred or accepted), by solution;
    ``solutions`` maps solution ids to spans of start days ``(after, until)``: only
    initiatives started in one (``after < start <= until``; ``until`` None: no end). Not
    given: every initiative with a start date."""
    spans = solutions if solutions is not None else dict.fromkeys(solution_ids(store),
                                                                  [(-10**6, None)])
    wanted = [[sid, after, until] for sid in sorted(spans) for after, until in spans[sid]]
    batches = ({"spans": wanted[start:start + BATCH], "counted": COUNTED_LINKS}
               for start in range(0, len(wanted), BATCH))
    for rows in store.read_each(queries.ATTEMPTS_OF_SOLUTIONS, batches):
        for row in rows:
            yield _attempt(row)


# --- zombie repeats and informed re-tries ----------------------------------------


def repeats(store: Store, as_of: str | date | None = None,
            index: EvidenceIndex | None = None) -> tuple[list[Repeat], list[Repeat]]:
    """(zombie repeats, informed re-tries) among initiatives started by ``as_of``."""
    when = as_of_day(as_of)
    index = index or EvidenceIndex.load(store)
    # Only initiatives started while their solution's verdict was does_not_work (and by
    # the date asked) can be repeats: read just those.
    spans: dict[str, list[tuple[int, int | None]]] = {}
    for sid, evidence in index.by_solution.items():
        windows: list[tuple[int, int | None]] = [
            (after, min(until, when) if until is not None else when)
            for after, until in does_not_work_windows(
                [e for e in evidence if e.published_hi <= when]) if after < when]
        if windows:
            spans[sid] = windows
    by_solution: dict[str, list[Attempt]] = {}
    for attempt in iter_attempts(store, spans):
        by_solution.setdefault(attempt.solution_id, []).append(attempt)
    zombies: list[Repeat] = []
    retries: list[Repeat] = []
    for sid, attempts in by_solution.items():
        evidence = [e for e in index.of(sid) if e.published_hi <= when]
        for _, found in classify_many(attempts, evidence):
            (retries if found.cited else zombies).append(found)
    key = lambda r: (r.solution_id, r.initiative_id)  # noqa: E731
    return sorted(zombies, key=key), sorted(retries, key=key)


# --- unevaluated spread ----------------------------------------------------------


def spread(store: Store, as_of: str | date | None = None, min_sites: int = 3,
           index: EvidenceIndex | None = None) -> list[dict[str, Any]]:
    """Solutions tried at ``min_sites`` or more distinct sites whose verdict is unevaluated."""
    when = as_of_day(as_of)
    index = index or EvidenceIndex.load(store)
    # Most solutions have evidence: only the unevaluated ones' sites are read.
    ids = [sid for sid in solution_ids(store)
           if verdict_of(index.of(sid), when).verdict == UNEVALUATED]
    out = []
    batches = ({"ids": ids[start:start + BATCH], "counted": COUNTED_LINKS,
                "min_sites": min_sites} for start in range(0, len(ids), BATCH))
    for rows in store.read_each(queries.SOLUTION_SITES, batches):
        for row in rows:
            out.append({"solution_id": str(row["solution_id"]),
                        "sites": sorted(str(s) for s in row["sites"])})
    return sorted(out, key=lambda r: r["solution_id"])


# --- positive deviance -----------------------------------------------------------


@dataclass
class Deviance:
    measure: str
    outcomes: int  # outcomes of this measure with a baseline and a value
    median: float | None = None
    mad: float | None = None
    deviants: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"measure": self.measure, "outcomes": self.outcomes, "median": self.median,
                "mad": self.mad, "note": self.note, "deviants": self.deviants}


def relative_change(baseline: float, value: float, direction: str) -> float | None:
    """|value − baseline| / |baseline|, signed by the outcome's direction; None when the
    baseline is 0 (no relative change can be computed)."""
    if baseline == 0:
        return None
    size = abs(value - baseline) / abs(baseline)
    return {"improved": size, "worsened": -size}.get(direction, 0.0)


def deviance(store: Store, measure: str, *, min_peers: int = MIN_PEERS,
             threshold: float = Z_THRESHOLD) -> Deviance:
    """Sites whose outcome on ``measure`` improved far more than their peers'."""
    rows = store.read(queries.MEASURE_OUTCOMES, {"key": measure_key(measure)})
    if not rows:
        raise NotFound(f"no outcome measures {measure!r}")
    scored = []
    for row in rows:
        if row["baseline"] is None or row["value"] is None:
            continue
        x = relative_change(float(row["baseline"]), float(row["value"]), str(row["direction"]))
        if x is not None:
            scored.append((x, row))
    result = Deviance(measure, len(scored))
    if len(scored) < min_peers:
        result.note = (f"only {plural(len(scored), 'outcome')} with a baseline and a value; "
                       f"at least {min_peers} are needed to compare peers")
        return result
    xs = [x for x, _ in scored]
    med = statistics.median(xs)
    mad = statistics.median(abs(x - med) for x in xs)
    result.median, result.mad = round(med, 6), round(mad, 6)
    if mad == 0:
        result.note = ("the median absolute deviation is 0 (most outcomes changed by the same "
                       "amount), so no outcome stands out as a deviant")
        return result
    for x, row in scored:
        z = (x - med) / (MAD_SCALE * mad)
        if z < threshold:
            continue
        for site in sorted(str(s) for s in row["sites"] or []):
            result.deviants.append({
                "site_id": site, "baseline": row["baseline"], "value": row["value"],
                "relative_change": round(x, 6), "score": round(z, 3),
                "outcome_id": row["outcome_id"], "initiative_id": row["initiative_id"],
                "unit": row.get("unit")})
    result.deviants.sort(key=lambda d: (-d["score"], d["site_id"]))
    result.note = (f"{plural(len(result.deviants), 'site')} with robust z ≥ {threshold} "
                   f"among {plural(len(scored), 'outcome')}" if result.deviants else
                   f"no outcome reaches robust z ≥ {threshold}")
    return result


def measures(store: Store) -> list[dict[str, Any]]:
    return store.read(queries.MEASURES)


def zombie_risk(verdict_now: str) -> bool:
    """Funding a solution whose verdict is does_not_work now would be a zombie repeat
    (unless the proposal cites and adapts to the failed evidence)."""
    return verdict_now == DOES_NOT_WORK
