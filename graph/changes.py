"""Living evidence: what each ingest run changed about the evidence.

After an ingest run (and its solution resolution), the verdict of every solution the
run touched is computed from its evidence and compared with the verdict recorded on the
solution by earlier runs (``Solution.verdict``; none recorded means ``unevaluated``). A
difference becomes a ``VerdictChange`` node (``change_kind`` ``verdict``): the solution,
the verdict before and after, the strength, the evaluations that caused it, the run and
when. Zombie repeats of the touched solutions that no earlier run reported become
``VerdictChange`` nodes of ``change_kind`` ``zombie``, in the same list; a solution's first
recorded verdict is its baseline, whose existing zombie repeats are not news.

A solution whose evidence includes records hidden from anonymous readers (restricted
evaluations, or evaluations reached only through restricted initiatives) has two
verdicts: the one on all its evidence, and the one on the evidence the public copy holds.
Each is recorded (``verdict``, ``public_verdict``) and each difference is a change: the
first, resting on hidden evidence, is ``restricted``; the second is ``public`` and has
``scope`` ``public`` (its id ends in ``:public``), so that anonymous readers hear of every
change of the verdict they see, whatever else the same run added, and signed-in readers
who see everything are not told the same change twice.

"Touched" means: the solutions the run's initiatives were linked to before and after it,
the solutions of the initiatives its evaluations evaluated before and after it, and the
solutions resolution linked or unlinked. Only their evidence (and, for zombie repeats of
solutions with a recorded verdict, their attempts started while their verdict was
``does_not_work``) is read, so an update of a few rows costs a few index lookups however
large the graph, and a first load reads the evidence once and no attempts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSet, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from triedbefore.graph import BadArgument, queries
from triedbefore.graph.analytics import (
    BATCH,
    COUNTED_LINKS,
    _evidence,
    iter_attempts,
    solution_ids,
)
from triedbefore.graph.rules import (
    UNEVALUATED,
    Evidence,
    classify_many,
    does_not_work_windows,
    verdict_of,
)
from triedbefore.graph.store import HIDDEN_FROM_PUBLIC, Store, batched
from triedbefore.graph.wording import days
from triedbefore.ontology.vocab import ChangeKind, Visibility

T = TypeVar("T")

#: Most changes one listing returns.
LIST_LIMIT = 10_000


@dataclass
class Touched:
    """What an ingest run touched, collected while it writes. The sets of initiatives
    and evaluations may be on disk (an ingest run's ledger): they grow with the bundle."""

    solutions: set[str] = field(default_factory=set)
    evaluations: MutableSet[str] = field(default_factory=set)
    initiatives: MutableSet[str] = field(default_factory=set)
    everything: bool = False  # resolution reconsidered every initiative

    def solutions_of(self, store: Store, statement: str, ids: Iterable[str]) -> None:
        for batch in batched(ids, 2000):
            self.solutions.update(str(r["id"]) for r in store.read(
                statement, {"ids": batch, "counted": COUNTED_LINKS}))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _chunks(ids: Iterable[T], size: int = BATCH) -> Iterator[list[T]]:
    return batched(ids, size)


def _reach(store: Store, statement: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = sorted(set(ids))
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(wanted, 1000):
        for row in store.read(statement, {"ids": chunk}):
            out[str(row["id"])] = row
    return out


def _visibility(rows: Iterable[dict[str, Any] | None]) -> str:
    restricted = any(r is not None and r.get("visibility") == Visibility.RESTRICTED.value
                     for r in rows)
    return (Visibility.RESTRICTED if restricted else Visibility.PUBLIC).value


#: What a brief list of changes keeps of each.
BRIEF = ("id", "change_kind", "solution_id", "initiative_id")


def record_changes(store: Store, run_id: str, touched: Touched, at: str | None = None, *,
                   brief: bool = False) -> list[dict[str, Any]]:
    """Compare the touched solutions' verdicts with the recorded ones, record the
    differences and the new zombie repeats, and return the changes written (with
    ``brief``, only their ``BRIEF`` fields: a first load changes every solution's verdict,
    and the full changes, as recorded, hold every evaluation and site they reach)."""
    at = at or _now()
    ids = solution_ids(store) if touched.everything else sorted(touched.solutions)
    changes: list[dict[str, Any]] = []
    # Solutions are independent of each other: a chunk at a time, so that the evidence in
    # memory is one chunk's, not the whole graph's.
    for chunk in _chunks(ids):
        written = _record_chunk(store, run_id, chunk, touched, at)
        changes.extend([{k: c[k] for k in BRIEF if k in c} for c in written] if brief
                       else written)
    return changes


def _record_chunk(store: Store, run_id: str, ids: list[str], touched: Touched,
                  at: str) -> list[dict[str, Any]]:
    evidence: dict[str, list[Evidence]] = {}
    recorded: dict[str, dict[str, Any]] = {}
    for row in store.read(queries.EVIDENCE_OF_SOLUTIONS, {"ids": ids, "counted": COUNTED_LINKS}):
        evidence.setdefault(str(row["solution_id"]), []).append(_evidence(row))
    visible: dict[str, list[Evidence]] = {}
    for row in store.read(queries.VISIBLE_EVIDENCE_OF_SOLUTIONS,
                          {"ids": ids, "counted": COUNTED_LINKS,
                           "hidden": list(HIDDEN_FROM_PUBLIC)}):
        visible.setdefault(str(row["solution_id"]), []).append(_evidence(row))
    for row in store.read(queries.RECORDED_VERDICTS, {"ids": ids}):
        recorded[str(row["id"])] = row
    changes: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    public_updates: list[dict[str, Any]] = []
    hides: set[str] = set()  # solutions with evidence anonymous readers do not see
    for sid in ids:
        if sid not in recorded:
            continue  # not (or no longer) in the graph
        found, shown = evidence.get(sid, []), visible.get(sid, [])
        if set(found) != set(shown):
            hides.add(sid)
        before = recorded[sid].get("verdict") or UNEVALUATED
        before_strength = int(recorded[sid].get("strength") or 0)
        v = verdict_of(found)
        if (v.verdict, v.strength) != (before, before_strength) or \
                recorded[sid].get("verdict") is None and v.verdict != UNEVALUATED:
            updates.append({"id": sid, "verdict": v.verdict, "strength": v.strength})
        if v.verdict != before:
            changes.append(_verdict_change(f"{run_id}:{sid}", recorded[sid], before,
                                           before_strength, v, found, touched, at))
        # the verdict anonymous readers see: before this recording existed, the one
        # recorded on all the evidence is the best guess of what they saw
        public_before = recorded[sid].get("public_verdict")
        public_strength = recorded[sid].get("public_strength")
        if public_before is None:
            public_before, public_strength = before, before_strength
        pv = verdict_of(shown) if sid in hides else v
        if (pv.verdict, pv.strength) != (public_before, int(public_strength or 0)) or \
                recorded[sid].get("public_verdict") is None:
            public_updates.append({"id": sid, "verdict": pv.verdict, "strength": pv.strength})
        if sid in hides and pv.verdict != public_before:
            change = _verdict_change(f"{run_id}:{sid}:public", recorded[sid], public_before,
                                     int(public_strength or 0), pv, shown, touched, at)
            change["scope"] = "public"
            changes.append(change)
    reach = _reach(store, queries.EVALUATIONS_REACH,
                   {e for c in changes for e in c["evaluations"]})
    for change in changes:
        rows = [reach.get(e) for e in change["evaluations"]]
        change["site_ids"] = sorted({s for r in rows if r for s in r["sites"] or [] if s})
        change["visibility"] = _visibility(rows)
        if change["solution_id"] in hides and change.get("scope") != "public":
            change["visibility"] = Visibility.RESTRICTED.value  # it rests on hidden evidence
    changes.extend(_new_zombies(store, evidence, recorded, touched, at))
    for batch in _chunks(updates, 1000):
        store.write(queries.SET_RECORDED_VERDICTS, {"rows": batch})
    for batch in _chunks(public_updates, 1000):
        store.write(queries.SET_RECORDED_PUBLIC_VERDICTS, {"rows": batch})
    for start in range(0, len(changes), 1000):
        store.write(queries.RECORD_CHANGES, {"run_id": run_id, "rows": [
            {"id": c["id"], "props": {k: v for k, v in c.items() if k != "id"}}
            for c in changes[start:start + 1000]]})
    return changes


def _verdict_change(change_id: str, solution: dict[str, Any], before: str,
                    before_strength: int, v: Any, evidence: list[Evidence], touched: Touched,
                    at: str) -> dict[str, Any]:
    mine = sorted(e.id for e in evidence if e.id in touched.evaluations)
    return {"id": change_id, "change_kind": ChangeKind.VERDICT.value,
            "solution_id": solution["id"], "solution_name": solution.get("name"),
            "from_verdict": before, "to_verdict": v.verdict,
            "from_strength": before_strength, "strength": v.strength,
            "evaluations": mine or list(v.evaluations) or list(v.shown),
            "explanation": v.explanation, "changed_at": at}


def _new_zombies(store: Store, evidence: dict[str, list[Evidence]],
                 recorded: dict[str, dict[str, Any]], touched: Touched,
                 at: str) -> list[dict[str, Any]]:
    """Zombie repeats this run revealed: a repeat of an initiative the run wrote, or one
    that the evidence before the run did not make a repeat (the evidence before is the
    evidence now without the evaluations the run wrote). A solution whose verdict is
    recorded for the first time is a baseline: the repeats already in the data are
    listed by the zombie question, not as news (so a first load reads no attempts)."""
    spans: dict[str, list[tuple[int, int | None]]] = {}
    for sid, found in evidence.items():
        if sid not in recorded or recorded[sid].get("verdict") is None:
            continue
        windows = does_not_work_windows(found)
        if windows:
            spans[sid] = windows
    if not spans:
        return []
    attempts: dict[str, list[Any]] = {}
    for attempt in iter_attempts(store, spans):
        attempts.setdefault(attempt.solution_id, []).append(attempt)
    found_rows: list[dict[str, Any]] = []
    for sid, mine in attempts.items():
        now = verdict_of(evidence[sid])  # once per solution: it is the same for each repeat
        earlier = [e for e in evidence[sid] if e.id not in touched.evaluations]
        known = {r.initiative_id for _, r in classify_many(mine, earlier) if not r.cited} \
            if len(earlier) < len(evidence[sid]) else None
        for _, repeat in classify_many(mine, evidence[sid]):
            if repeat.cited:
                continue  # an informed re-try, not a zombie
            if repeat.initiative_id not in touched.initiatives and (
                    known is None or repeat.initiative_id in known):
                continue  # a repeat before this run too
            found_rows.append({
                "id": f"zombie:{sid}:{repeat.initiative_id}",
                "change_kind": ChangeKind.ZOMBIE.value, "solution_id": sid,
                "solution_name": recorded[sid].get("name"),
                "initiative_id": repeat.initiative_id,
                "from_verdict": None, "to_verdict": now.verdict,
                "from_strength": None, "strength": now.strength,
                "evaluations": list(repeat.ignored_evaluations),
                "explanation": (
                    f"New zombie repeat: initiative {repeat.initiative_id} started "
                    f"{days(repeat.lag_days)} after evidence that the solution does not work "
                    f"was published ({', '.join(repeat.ignored_evaluations)}), without "
                    "citing it" + (" (its solution link is inferred)"
                                   if repeat.inferred_link else "") + "."),
                "changed_at": at})
    if not found_rows:
        return []
    reported: set[str] = set()
    for chunk in _chunks([r["id"] for r in found_rows], 1000):
        reported.update(str(r["id"])
                        for r in store.read(queries.EXISTING_CHANGES, {"ids": chunk}))
    new = [r for r in found_rows if r["id"] not in reported]
    reach = _reach(store, queries.INITIATIVES_REACH, {r["initiative_id"] for r in new})
    evaluations = _reach(store, queries.EVALUATIONS_REACH,
                         {e for r in new for e in r["evaluations"]})
    for row in new:
        initiative = reach.get(row["initiative_id"])
        row["site_ids"] = sorted(s for s in (initiative or {}).get("sites") or [] if s)
        row["visibility"] = _visibility([initiative] + [evaluations.get(e)
                                                        for e in row["evaluations"]])
    return new


# --- reading the changes ----------------------------------------------------------


def since_bound(since: str | date | None) -> str:
    """The ``changed_at`` lower bound of a ``--since`` date (ISO ``YYYY-MM-DD``)."""
    if since is None or since == "":
        return ""
    if isinstance(since, date):
        return since.isoformat()
    try:
        return date.fromisoformat(since).isoformat()
    except ValueError:
        raise BadArgument(f"since date {since!r} is not a date (YYYY-MM-DD)") from None


def list_changes(store: Store, since: str | date | None = None, *,
                 public_only: bool = False, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    """Recorded changes, newest first (``changed_at`` on or after ``since``)."""
    rows = store.read(queries.CHANGES_SINCE, {"since": since_bound(since), "limit": limit})
    return [change_dict(dict(row["change"])) for row in rows
            if _shown(row["change"], public_only)]


def _shown(change: Any, public_only: bool) -> bool:
    """Anonymous readers see the public changes; readers of everything see the changes on
    all the evidence, not their public-scope copies."""
    if public_only:
        return bool(change.get("visibility") != Visibility.RESTRICTED.value)
    return bool(change.get("scope") != "public")


CHANGE_KEYS = ("id", "change_kind", "solution_id", "solution_name", "from_verdict",
               "to_verdict", "from_strength", "strength", "evaluations", "initiative_id",
               "site_ids", "run_id", "changed_at", "visibility", "explanation")


def change_dict(change: dict[str, Any]) -> dict[str, Any]:
    """A change in its documented JSON shape (every key present, lists never null)."""
    out = {k: change.get(k) for k in CHANGE_KEYS}
    out["evaluations"] = list(change.get("evaluations") or [])
    out["site_ids"] = list(change.get("site_ids") or [])
    out["visibility"] = change.get("visibility") or Visibility.PUBLIC.value
    return out


# --- watches ---------------------------------------------------------------------------


def watch_id(user: str, target_kind: str, target_id: str) -> str:
    """One watch per user and target: the id is derived from them."""
    import hashlib

    digest = hashlib.sha256(f"{user}\x00{target_kind}\x00{target_id}".encode()).hexdigest()
    return "w-" + digest[:20]


def matches(watch: dict[str, Any], change: dict[str, Any], types: dict[str, Any]) -> bool:
    """Whether a change concerns what a watch follows (``types``: solution id →
    intervention type)."""
    kind, target = watch.get("target_kind"), watch.get("target_id")
    if kind == "solution":
        return bool(change.get("solution_id") == target)
    if kind == "site":
        return target in (change.get("site_ids") or [])
    if kind == "intervention_type":
        return bool(types.get(str(change.get("solution_id"))) == target)
    return False


def intervention_types(store: Store, solution_ids_: Iterable[str]) -> dict[str, Any]:
    ids = sorted(set(solution_ids_))
    out: dict[str, Any] = {}
    for chunk in _chunks(ids, 1000):
        for row in store.read(queries.SOLUTION_FACETS, {"ids": chunk}):
            out[str(row["id"])] = row.get("intervention_type")
    return out


def watched_changes(store: Store, watches: Sequence[dict[str, Any]], *,
                    public_only: bool, since: str | None = None,
                    new_only: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Per watch id, the changes it follows, newest first: all since ``since``, or with
    ``new_only`` those recorded after the watch was last marked seen."""
    if not watches:
        return {}
    bound = since or ""
    if new_only:
        bound = min(str(w.get("seen_at") or "") for w in watches)
    found = [change_dict(dict(r["change"])) for r in store.read(
        queries.CHANGES_SINCE, {"since": bound, "limit": LIST_LIMIT})
        if _shown(r["change"], public_only)]
    types = intervention_types(store, (c["solution_id"] for c in found)) if any(
        w.get("target_kind") == "intervention_type" for w in watches) else {}
    out: dict[str, list[dict[str, Any]]] = {}
    for w in watches:
        seen = str(w.get("seen_at") or "")
        out[str(w["id"])] = [c for c in found if matches(w, c, types)
                             and (not new_only or str(c["changed_at"]) > seen)]
    return out
