"""Explorer pages. One function builds each page's data; the HTML template, the
``.json`` twin and the ``.csv`` download (pages with a table) all render it."""

from __future__ import annotations

import bisect
import statistics
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, TypeVar

from flask import Blueprint, abort, current_app, g, request

from triedbefore.graph import (
    GraphError,
    NotFound,
    analytics,
    asof,
    costs,
    hybrid,
    quality,
    queries,
    resolution,
    reviews,
    rollup,
)
from triedbefore.graph import search as searching
from triedbefore.graph.analytics import COUNTED_LINKS
from triedbefore.graph.dialect import VECTOR_HASH, VECTOR_PROPERTY
from triedbefore.graph.rules import VERDICTS, iso, verdict_of
from triedbefore.graph.stats import graph_stats
from triedbefore.graph.store import Store
from triedbefore.ontology.models import measure_key
from triedbefore.ontology.vocab import InterventionType, Label, QualityDomain, SiteKind
from triedbefore.web import adapt, answers, charts, lessons, schemas, wording
from triedbefore.web.pages import (
    choice_arg,
    date_arg,
    int_arg,
    page_args,
    paged,
    paginate,
    register_page,
)
from triedbefore.web.stores import get_store

bp = Blueprint("explore", __name__)
wording.register(bp)
T = TypeVar("T")

_CACHE: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = OrderedDict()
CACHE_ENTRIES = 4096  # least recently used answers are dropped beyond this
_CACHE_LOCK = threading.Lock()  # guards the table and the per-answer locks, briefly
_COMPUTING: dict[tuple[Any, ...], threading.Lock] = {}
#: Whole-graph answers (a fixed set, not one per page asked) that are kept on disk per
#: graph version and shared by every process (``web/answers.py``); ``gap...`` names too.
SHARED_ANSWERS = frozenset({
    "evidence", "repeats", "verdict_results", "verdicts", "verdict_strengths", "zombie_rows",
    "sites_placed", "site_points", "solution_first_days", "stats", "solutions",
    "home_evidence", "illustrative_records", "warned", "gap_solutions",
    "gap_svg:intervention_type", "retries_named"})
#: How many times this process computed each answer (not loaded, not from memory).
COMPUTED: Counter[str] = Counter()


#: The search box's longest text, in characters: any text this long, each character
#: percent-encoded from up to four bytes (12 characters of address), leaves room in the
#: request line gunicorn takes (``serving._LINE_MAX``) for the other parameters. Longer
#: than what is searched (``search_max_query_chars``), so the page can say it was cut.
SEARCH_INPUT_MAX = 600


@bp.app_context_processor
def _search_input() -> dict[str, Any]:
    return {"search_input_max": SEARCH_INPUT_MAX}


@bp.app_context_processor
def _illustrative_records() -> dict[str, Any]:
    """Every page says so when the graph holds illustrative records."""
    def count() -> int:
        rows = get_store().read(queries.ILLUSTRATIVE_COUNT)
        return int(rows[0]["n"]) if rows else 0

    try:
        return {"illustrative_records": cached("illustrative_records", count)}
    except GraphError:
        return {"illustrative_records": 0}


def graph_version() -> tuple[Any, ...]:
    """What whole-graph answers depend on: the graph version held in the graph (every
    write through the ingest entry point bumps it, whichever process or worker made it).
    Read once per request."""
    if "graph_version" not in g:
        row = get_store().read(queries.GRAPH_VERSION)
        g.graph_version = tuple(row[0].values()) if row else ()
    version: tuple[Any, ...] = g.graph_version
    return version


def cached(name: str, compute: Callable[[], T]) -> T:
    """Whole-graph answers, recomputed only when the graph version changes. One thread
    computes a given answer while the others wanting it wait; different answers are
    computed concurrently (answers may need others: repeats needs the evidence index)."""
    store = get_store()
    version = graph_version()
    key = (store.uri.raw, store.uri.graph, name)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]  # type: ignore[no-any-return]
    with _CACHE_LOCK:
        lock = _COMPUTING.setdefault(key, threading.Lock())
    with lock:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]  # type: ignore[no-any-return]
        try:
            value = _computed(store, version, name, compute)
        except BaseException:
            with _CACHE_LOCK:  # an unknown id must not leave its lock behind
                if key not in _CACHE:
                    _COMPUTING.pop(key, None)
            raise
        with _CACHE_LOCK:
            _CACHE[key] = (version, value)
            _CACHE.move_to_end(key)
            while len(_CACHE) > CACHE_ENTRIES:
                dropped, _ = _CACHE.popitem(last=False)
                _COMPUTING.pop(dropped, None)
    return value


def _shared(name: str) -> bool:
    return name in SHARED_ANSWERS or name.startswith("gap:")


def _computed(store: Store, version: tuple[Any, ...], name: str, compute: Callable[[], T]) -> T:
    """``compute()``, or the answer another process computed for this graph version."""
    def counted() -> T:
        COMPUTED[name] += 1
        return compute()

    folder = current_app.config.get("ANSWERS_DIR")
    if not folder or not version or version[0] is None or not _shared(name):
        return counted()
    files = answers.AnswerFiles(folder, (store.uri.raw, store.uri.graph), version)
    return files.get(name, counted)


def repeats() -> tuple[list[Any], list[Any]]:
    return cached("repeats", lambda: analytics.repeats(get_store(), index=evidence_index()))


def evidence_index() -> analytics.EvidenceIndex:
    return cached("evidence", lambda: analytics.EvidenceIndex.load(get_store()))


def sites_placed() -> dict[str, dict[str, Any]]:
    """Every site's kind, name and the ICB and region above it, by id (roll-ups)."""
    return cached("sites_placed", lambda: {
        str(r["id"]): r for r in get_store().read(queries.SITES_WITH_ANCESTORS)})


def site_points() -> dict[str, dict[str, Any]]:
    """Every site's name, kind, region and coordinates, by id (pages with maps list only
    their sites' ids)."""
    def compute() -> dict[str, dict[str, Any]]:
        rows = get_store().read(queries.SITE_POINTS)
        return {str(r["id"]): {k: v for k, v in r.items() if k != "visibility"}
                for r in rows}

    return cached("site_points", compute)


def verdict_results() -> dict[str, tuple[str, int]]:
    """Today's verdict of every solution with evaluations and the SMS level behind it,
    each judged once (``verdicts``, ``verdict_strengths`` read them)."""
    def compute() -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        for sid, ev in evidence_index().by_solution.items():
            judged = verdict_of(ev)
            out[sid] = (judged.verdict, judged.strength)
        return out

    return cached("verdict_results", compute)


def verdicts() -> dict[str, str]:
    """Today's verdict of every solution with evaluations (the rest are unevaluated)."""
    return cached("verdicts", lambda: {sid: v for sid, (v, _) in verdict_results().items()})


def verdict_today(solution_id: str) -> str:
    return verdicts().get(solution_id, "unevaluated")


def verdict_strengths() -> dict[str, int]:
    """The SMS level behind today's verdict of every solution with evaluations."""
    return cached("verdict_strengths",
                  lambda: {sid: level for sid, (_, level) in verdict_results().items()})


def zombie_rows(as_of: str | None = None) -> dict[str, Any]:
    """Zombie repeats and re-tries as rows, and the zombie rows by solution: today's, or
    those known as of a date (every page marks the zombies of the date it shows)."""
    def compute() -> dict[str, Any]:
        zombies, retries = (repeats() if as_of is None else
                            analytics.repeats(get_store(), as_of, index=evidence_index()))
        rows = [z.to_dict() for z in zombies]
        retry_rows = [r.to_dict() for r in retries]
        by_solution: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_solution.setdefault(row["solution_id"], []).append(row)
        retries_by_solution: dict[str, list[dict[str, Any]]] = {}
        for row in retry_rows:
            retries_by_solution.setdefault(row["solution_id"], []).append(row)
        return {"zombies": rows, "retries": retry_rows,
                "by_solution": by_solution, "retries_by_solution": retries_by_solution,
                "by_initiative": {r.initiative_id: r.to_dict() for r in zombies + retries},
                "longest": sorted(rows, key=lambda z: -z["lag_days"])[:5]}

    return cached("zombie_rows" if as_of is None else f"zombie_rows:{as_of}", compute)


def solution_first_days() -> dict[str, tuple[int | None, int | None]]:
    """Every solution's first initiative start and first publication (days), which say
    from when it is knowable (``asof.solution_known``)."""
    def compute() -> dict[str, tuple[int | None, int | None]]:
        starts = {str(r["id"]): r["first_start"] for r in get_store().read(
            queries.SOLUTION_FIRST_STARTS, {"counted": COUNTED_LINKS})}
        published = {sid: min(e.published_hi for e in ev)
                     for sid, ev in evidence_index().by_solution.items() if ev}
        return {sid: (starts.get(sid), published.get(sid))
                for sid in set(starts) | set(published)}

    return cached("solution_first_days", compute)


def record_names(label: Label, ids: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """The name (or title) and illustrative mark of each of ``ids``, nodes of ``label``, by
    id: what a page shows in place of an id (read for the rows of one page)."""
    wanted = sorted({str(i) for i in ids if i})
    if not wanted:
        return {}
    return {str(r["id"]): {"name": r["name"], "illustrative": bool(r["illustrative"])}
            for r in get_store().read(queries.names_of(label), {"ids": wanted})}


def named_repeats(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Zombie repeats or re-tries with the names of their initiative, solution and
    evaluations, and which of these records are illustrative (``illustrative_records``;
    ``illustrative`` when any is). Copies: the cached rows stay the analytics' own."""
    cited = {e for r in rows for e in r.get("cited") or []}
    found = {**record_names(Label.INITIATIVE, [r["initiative_id"] for r in rows] + list(cited)),
             **record_names(Label.SOLUTION, (r["solution_id"] for r in rows)),
             **record_names(Label.EVALUATION, [e for r in rows
                                               for e in r["ignored_evaluations"]] + list(cited))}

    def name(record_id: str) -> str:
        return str((found.get(record_id) or {}).get("name") or record_id)

    out = []
    for r in rows:
        ids = [r["initiative_id"], r["solution_id"], *r["ignored_evaluations"],
               *(r.get("cited") or [])]
        marked = [i for i in dict.fromkeys(ids) if (found.get(i) or {}).get("illustrative")]
        named = {**r, "initiative_title": name(r["initiative_id"]),
                 "solution_name": name(r["solution_id"]),
                 "ignored_evaluation_titles": [name(e) for e in r["ignored_evaluations"]],
                 "illustrative": bool(marked), "illustrative_records": marked}
        if r.get("cited"):
            named["cited_titles"] = [name(e) for e in r["cited"]]
        out.append(named)
    return out


def warm() -> None:
    """Compute the whole-graph answers the pages share (zombie repeats, verdicts, the gap
    map, headline counts) ahead of the first visitor. Needs a request context."""
    zombie_rows()
    verdicts()
    verdict_strengths()
    site_points()
    sites_placed()
    cached("stats", lambda: graph_stats(get_store()))
    for by in GAP_AXES:
        gap_data(by)
    # what the home and solution pages need besides (the matcher is this process's own)
    evidence_index()
    solution_first_days()
    cached("solutions", _solutions_rows)
    cached("home_evidence", home_evidence)
    _illustrative_records()
    resolution.solution_names(get_store())
    cached("retries_named", lambda: named_repeats(zombie_rows()["retries"]))


def forget() -> None:
    """Drop the answers held in this process's memory (those kept on disk stay)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _COMPUTING.clear()


def _as_of() -> str | None:
    """``as_of`` (a date), or ``year`` (the year slider of the solution page, read as the
    last day of that year)."""
    found = date_arg("as_of")
    if found is None and request.args.get("year"):
        found = f"{int_arg('year', 2000, 1800, 2200):04d}-12-31"
    return found


# --- home ------------------------------------------------------------------------


HOME_EVIDENCE = 12  # solutions in the home page's table of published evidence


def home_data() -> dict[str, Any]:
    stats = cached("stats", lambda: graph_stats(get_store()))
    rows = zombie_rows()
    return {"counts": stats["nodes"], "latest_runs": stats["latest_runs"],
            "evidence": cached("home_evidence", home_evidence),
            "zombies": named_repeats(rows["longest"]), "zombie_total": len(rows["zombies"]),
            "gap": gap_data("intervention_type")}


def home_evidence() -> list[dict[str, Any]]:
    """The real (not illustrative) solutions with the most published evaluations: what the
    home page leads with."""
    index = evidence_index()
    listed = cached("solutions", _solutions_rows)
    out = []
    for s in listed:
        evidence = index.of(s["id"])
        if s.get("illustrative") or not evidence:
            continue
        v = verdict_of(evidence)
        out.append({"id": s["id"], "name": s["name"], "verdict": v.verdict,
                    "strength": v.strength, "evaluations": len(evidence),
                    "initiatives": s["initiatives"],
                    "latest": int(iso(max(e.published_hi for e in evidence))[:4])})
    out.sort(key=lambda r: (-r["evaluations"], r["name"].lower()))
    return out[:HOME_EVIDENCE]


# --- solutions -------------------------------------------------------------------


def _solutions_rows() -> list[dict[str, Any]]:
    rows = get_store().read(queries.SOLUTIONS_LIST, {"counted": COUNTED_LINKS})
    strengths = verdict_strengths()
    for row in rows:
        row["verdict"] = verdict_today(row["id"])
        if row["id"] in strengths:  # the SMS level behind it, as the solution's page says
            row["verdict_strength"] = strengths[row["id"]]
    return rows


def solutions_data() -> dict[str, Any]:
    rows = cached("solutions", _solutions_rows)
    verdict = choice_arg("verdict", VERDICTS)
    if verdict:
        rows = [r for r in rows if r["verdict"] == verdict]
    return {"solutions": paginate(rows), "verdict_filter": verdict}


TABLE_SIZE = 25  # rows per table on a solution page (?size= for more)
TIMELINE_POINTS = 300
SOLUTION_TABLES = ("evaluations", "attempts", "outcomes")


def solution_data(solution_id: str) -> dict[str, Any]:
    as_of = _as_of()
    size = page_args("size", TABLE_SIZE)[1]
    pages = tuple(page_args(f"{table}_page")[0] for table in SOLUTION_TABLES)
    data: dict[str, Any] = cached(f"solution:{solution_id}:{as_of}:{pages}:{size}",
                                  lambda: _solution_data(solution_id, as_of, pages, size))
    return {**data, "adapt": adapt.solution_context(solution_id, as_of, cached)}


def _solution_data(solution_id: str, as_of: str | None, pages: tuple[int, ...],
                   size: int) -> dict[str, Any]:
    """A solution's page: its verdict, and one page of each of its evidence, attempts
    and outcomes tables (a solution can have been tried thousands of times)."""
    store = get_store()
    found = store.read(queries.SOLUTION_NODE, {"id": solution_id})
    if not found:
        raise NotFound(f"no solution with id {solution_id!r}")
    when = analytics.as_of_day(as_of)
    solution = {k: v for k, v in found[0]["solution"].items()
                if k not in ("row_hash", "aliases_text", "tags_text", *VECTOR_KEYS)}
    evidence = [e for e in evidence_index().of(solution_id)
                if asof.published_by(e.published_hi, when)]
    judged = verdict_of(evidence, when)
    verdict = analytics.verdict_dict(solution_id, judged, when,
                                     analytics.side_details(store, judged))
    ev_page, at_page, out_page = pages
    common = {"id": solution_id, "counted": COUNTED_LINKS, "when": when, "limit": size}
    # Every list is cut at the date (asof.knowable); the paged reads apply the same rule
    # in their statements, so that their totals agree.
    evaluations = asof.cut(store.read(queries.SOLUTION_EVALUATIONS,
                                      {**common, "skip": (ev_page - 1) * size}), when)
    attempts = [asof.as_then(a, when) for a in asof.cut(store.read(
        queries.SOLUTION_ATTEMPTS, {**common, "skip": (at_page - 1) * size}), when)]
    counted = store.read(queries.SOLUTION_ATTEMPT_SITES, common)
    zombies = {z["initiative_id"]: z
               for z in zombie_rows(as_of)["by_solution"].get(solution_id, [])}
    for a in attempts:
        a["sites"] = [s for s in a["sites"] or [] if s]
        a["zombie"] = a["id"] in zombies
    points = site_points()
    site_ids = sorted(counted[0]["ids"] or [])
    sites = [points[sid] for sid in site_ids if sid in points]
    placed = sites_placed()
    outcomes = store.read(queries.SOLUTION_OUTCOMES, {**common, "skip": (out_page - 1) * size})
    outcome_total = store.read(queries.SOLUTION_OUTCOME_COUNT, common)[0]["total"]
    matcher = cached("solution_matcher", lambda: resolution.solution_matcher(store))
    text = ". ".join(str(solution.get(k) or "") for k in ("name", "description", "problem"))
    first = solution_first_days()
    names = resolution.solution_names(store)
    similar = [{"solution_id": sid, "name": names.get(sid, sid), "score": round(score, 3)}
               for sid, score in matcher.match(text, k=12)
               if sid != solution_id and score >= 0.05
               and asof.solution_known(*first.get(sid, (None, None)), when)][:5]
    years = sorted({int(iso(e.published_hi)[:4]) for e in evidence})
    warnings = quality.page_warnings(store, verdict["verdict"], verdict["evaluations"],
                                     [e["id"] for e in evaluations])
    return {"solution": solution, "verdict": verdict,
            "evaluations": paged(evaluations, ev_page, size, len(evidence),
                                 f"{SOLUTION_TABLES[0]}_page"),
            "attempts": paged(attempts, at_page, size, int(counted[0]["total"]),
                              f"{SOLUTION_TABLES[1]}_page"),
            "zombies": list(zombies.values()),
            "sites": sites, "outcomes": paged(outcomes, out_page, size, int(outcome_total),
                                                 f"{SOLUTION_TABLES[2]}_page"),
            "similar": similar, "as_of": iso(when), "evidence_years": years,
            "rollup": rollup.rollup_of(placed[sid] for sid in site_ids if sid in placed),
            "costs": costs.costs_of(store, [solution_id], when)[solution_id],
            "economics": costs.economics_of(store, solution_id, when),
            "money_outcomes": costs.money_outcomes_of(store, solution_id, when),
            "lessons": lessons.of_solutions(store, [solution_id],
                                            known_by=None if as_of is None else when),
            **warnings}


def _solution_html(data: dict[str, Any]) -> dict[str, Any]:
    from triedbefore.web.geo import svg_map

    # The timeline draws a sample of the attempts (every n-th, oldest first) and every
    # zombie repeat; the evaluations of the page's evidence table are marked on it.
    sid, as_of = data["solution"]["id"], data["as_of"]
    zombie_ids = {z["initiative_id"] for z in data["zombies"]}
    # stopped attempts with why they stopped are evidence too: always drawn, with the reason
    stopped = {s["initiative_id"]: s["why"] for s in data["lessons"]["stopped"]}

    def draw() -> tuple[Any, Any]:
        store = get_store()
        total = data["attempts"]["total"]
        step = max(1, -(-total // TIMELINE_POINTS))
        sample = store.read(queries.SOLUTION_ATTEMPT_SAMPLE, {
            "id": sid, "counted": COUNTED_LINKS, "when": analytics.as_of_day(as_of),
            "step": step})[0]["sample"]
        drawn = {a["id"]: a for a in sample}
        missing = sorted((zombie_ids | set(stopped)) - set(drawn))
        if missing:
            drawn.update((a["id"], a) for a in store.read(queries.INITIATIVE_POINTS,
                                                          {"ids": missing}))
        when = analytics.as_of_day(as_of)
        points = sorted(asof.cut(drawn.values(), when),
                        key=lambda a: (a["start_lo"] or 0, a["id"]))
        marks = [{"id": e.id, "finding": e.finding, "published_hi": e.published_hi,
                  "published_date": iso(e.published_hi)}
                 for e in evidence_index().of(sid) if asof.published_by(e.published_hi, when)]
        marks = marks[::max(1, -(-len(marks) // TIMELINE_POINTS))]
        return (charts.timeline(points, marks, zombie_ids, stopped=stopped),
                svg_map(data["sites"], 420, 480))

    data["timeline_svg"], data["map_svg"] = cached(f"solution_svg:{sid}:{as_of}", draw)
    data["sampled"] = data["attempts"]["total"] > TIMELINE_POINTS
    # The year slider runs from the year before the first evidence (or the year shown,
    # when earlier: a later first year is not told) to this year; the years of evidence
    # it marks stop at the date shown.
    published = [e.published_hi for e in evidence_index().of(sid)]
    shown = int(as_of[:4])
    data["slider_years"] = ((min(shown, int(iso(min(published))[:4]) - 1),
                             max(shown, date.today().year)) if published else None)
    data["colour"] = charts.VERDICT_COLOURS.get(data["verdict"]["verdict"], "#768692")
    return data


def _site_html(data: dict[str, Any]) -> dict[str, Any]:
    from triedbefore.web.geo import svg_map

    data["map_svg"] = svg_map([data["site"]], 300, 340)
    return data


def _gap_html(data: dict[str, Any]) -> dict[str, Any]:
    rows = data["cells"]
    return {**data, "svg": cached(f"gap_svg:{data['by']}:{data.get('colour')}:{rows['page']}:"
                                  f"{rows['size']}",
                                  lambda: gap_svg({**data, "cells": rows["items"]}))}


def _deviance_html(data: dict[str, Any]) -> dict[str, Any]:
    data["chart"] = charts.bars(data["changes"], "relative_change", "label",
                                {d["outcome_id"] for d in data.get("deviants") or []})
    return data


def _home_html(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "gap_svg": cached("gap_svg:intervention_type",
                                      lambda: gap_svg(data["gap"]))}


# --- initiative, evaluation, site --------------------------------------------------


def initiative_data(initiative_id: str) -> dict[str, Any]:
    rows = get_store().read(queries.INITIATIVE_DETAIL, {"id": initiative_id})
    if not rows:
        raise NotFound(f"no initiative with id {initiative_id!r}")
    row = rows[0]
    initiative = {k: v for k, v in row["initiative"].items()
                  if k not in ("row_hash", *VECTOR_KEYS)}
    repeat = zombie_rows()["by_initiative"].get(initiative_id)
    repeat = named_repeats([repeat])[0] if repeat else None
    return {"initiative": initiative, "solutions": row["solutions"] or [],
            "sites": row["sites"] or [], "outcomes": row["outcomes"] or [],
            "evaluations": row["evaluations"] or [], "learned_from": row["learned_from"] or [],
            "repeat": repeat, **lessons.of_initiative(get_store(), initiative_id),
            **_questions(initiative_id)}


def _questions(initiative_id: str) -> dict[str, Any]:
    """Questions to the people who ran it (shown by a curator), and whether anyone can
    answer one."""
    from triedbefore.web.contribute import can_ask, public_questions

    return {"questions": public_questions(initiative_id), "can_ask": can_ask(initiative_id)}


def evaluation_data(evaluation_id: str) -> dict[str, Any]:
    rows = get_store().read(queries.EVALUATION_DETAIL, {"id": evaluation_id,
                                                        "counted": COUNTED_LINKS})
    if not rows:
        raise NotFound(f"no evaluation with id {evaluation_id!r}")
    row = rows[0]
    evaluation = {k: v for k, v in row["evaluation"].items()
                  if k not in ("row_hash", *VECTOR_KEYS)}
    solutions = list({s["id"]: s for s in row["solutions"] or []}.values())
    by_date = lambda e: (str(e.get("published_date") or ""), str(e["id"]))  # noqa: E731
    economic = (costs.economic_words(evaluation) if any(
        evaluation.get(k) is not None for k in ("cost_per_qaly_gbp", "net_cost_per_patient_gbp"))
        else None)
    return {"evaluation": evaluation, "initiatives": row["initiatives"] or [],
            "solutions": solutions, "outcomes": row["outcomes"] or [],
            "includes": sorted(row["includes"] or [], key=by_date),
            "included_in": sorted(row["included_in"] or [], key=by_date),
            "economic": economic,
            "warnings": [w.to_dict() for w in quality.warnings_for(
                get_store(), [evaluation_id]).get(evaluation_id, [])]}


def measure_changes(key: str) -> tuple[dict[str, float], list[float]]:
    """Every outcome's relative change on one measure (by outcome id, and sorted): what a
    site's outcome is compared with, read once per measure and graph version."""
    def compute() -> tuple[dict[str, float], list[float]]:
        found: dict[str, float] = {}
        for p in get_store().read(queries.MEASURE_OUTCOMES, {"key": key}):
            if p["baseline"] in (None, 0) or p["value"] is None:
                continue
            change = analytics.relative_change(float(p["baseline"]), float(p["value"]),
                                               p["direction"])
            if change is not None:
                found[str(p["outcome_id"])] = change
        return found, sorted(found.values())

    return cached(f"measure_changes:{key}", compute)


def site_data(site_id: str) -> dict[str, Any]:
    store = get_store()
    rows = store.read(queries.SITE_DETAIL, {"id": site_id})
    if not rows:
        raise NotFound(f"no site with id {site_id!r}")
    site = {k: v for k, v in rows[0]["site"].items() if k != "row_hash"}
    initiatives = store.read(queries.SITE_INITIATIVES, {"id": site_id,
                                                        "counted": COUNTED_LINKS})
    outcomes = store.read(queries.SITE_OUTCOMES, {"id": site_id})
    for o in outcomes:  # against peers: the median change of the same measure elsewhere
        o["relative_change"] = None
        o["peer_median"] = None
        o["peers"] = 0
        if o["baseline"] is None or o["value"] is None:
            continue
        o["relative_change"] = analytics.relative_change(float(o["baseline"]),
                                                         float(o["value"]), o["direction"])
        by_outcome, ordered = measure_changes(o["measure_key"])
        values = ordered
        if o["id"] in by_outcome:  # the others: one occurrence of its own change out
            at = bisect.bisect_left(ordered, by_outcome[o["id"]])
            values = ordered[:at] + ordered[at + 1:]
        o["peers"] = len(values)
        o["peer_median"] = round(statistics.median(values), 4) if values else None
    return {"site": site, "parents": rows[0]["parents"] or [],
            "children": rows[0]["children"] or [], "initiatives": initiatives,
            "outcomes": outcomes, "hierarchy": rollup.site_rollup(store, site_id)}


# --- zombie repeats ----------------------------------------------------------------


def zombies_data() -> dict[str, Any]:
    as_of = _as_of()
    solution = request.args.get("solution") or None
    min_lag = int_arg("min_lag", 0, 0, 100_000)
    # the rows of the date asked (today's by default), indexed by solution once per graph
    # version and date: a request copies nothing unless it filters by lag
    cached_rows = zombie_rows(as_of)
    all_rows = (cached_rows["by_solution"].get(solution, []) if solution
                else cached_rows["zombies"])
    retry_rows = (cached_rows["retries_by_solution"].get(solution, []) if solution
                  else cached_rows["retries"])
    if min_lag:  # not cached per value: any number of values could be asked for
        all_rows = [z for z in all_rows if z["lag_days"] >= min_lag]
    page = paginate(all_rows)
    page["items"] = named_repeats(page["items"])
    # every re-try is listed, with the names of its records: named once per graph version
    retries = cached("retries_named" if as_of is None and solution is None else
                     f"retries_named:{as_of}:{solution}", lambda: named_repeats(retry_rows))
    return {"zombies": page, "retries": retries,
            "filters": {"solution": solution, "min_lag": min_lag, "as_of": as_of}}


# --- evidence gap map --------------------------------------------------------------

DOMAINS = [d.value for d in QualityDomain] + ["unspecified"]


GAP_AXES = ("solution", "intervention_type")


def gap_data(by: str) -> dict[str, Any]:
    return cached(f"gap:{by}", lambda: _gap_data(by))


def _gap_data(by: str) -> dict[str, Any]:
    """Every solution (or intervention type) is a row, those without any evaluation too:
    they are the biggest gaps. A row counts its initiatives and its evaluations."""
    rows = cached("gap", lambda: get_store().read(queries.GAP_MAP, {"counted": COUNTED_LINKS}))
    solutions = cached("gap_solutions", lambda: get_store().read(
        queries.SOLUTIONS_LIST, {"counted": COUNTED_LINKS}))

    def key_of(row: dict[str, Any], sid: str) -> str:
        return sid if by == "solution" else (row["intervention_type"] or "unspecified")

    cells: dict[tuple[str, str], set[str]] = {}
    labels: dict[str, str] = {}
    members: dict[str, set[str]] = {}
    initiatives: Counter[str] = Counter()
    evaluated: dict[str, set[str]] = {}
    for solution in solutions:
        key = key_of(solution, solution["id"])
        labels[key] = solution["name"] if by == "solution" else wording.concept_label(
            key, "InterventionType")
        members.setdefault(key, set()).add(solution["id"])
        initiatives[key] += int(solution["initiatives"] or 0)
    for row in rows:
        key = key_of(row, row["solution_id"])
        labels.setdefault(key, row["name"] if by == "solution" else wording.concept_label(
            key, "InterventionType"))
        members.setdefault(key, set()).add(row["solution_id"])
        evaluated.setdefault(key, set()).add(row["evaluation_id"])
        for domain in [d for d in row["domains"] or [] if d] or ["unspecified"]:
            cells.setdefault((key, domain), set()).add(row["evaluation_id"])
    priced = {str(r["solution_id"]): int(r["reported"]) for r in cached(
        "gap_costs", lambda: get_store().read(queries.SOLUTION_COST_COUNTS,
                                              {"counted": COUNTED_LINKS}))}
    flagged = set(cached("warned", lambda: sorted(quality.warnings_for(
        get_store(), {str(r["evaluation_id"]) for r in rows}))))
    warned: dict[str, set[str]] = {}
    for row in rows:
        if row["evaluation_id"] in flagged:
            warned.setdefault(key_of(row, row["solution_id"]), set()).add(row["evaluation_id"])
    table = []
    for key in sorted(labels, key=lambda k: (labels[k].lower(), k)):
        # a row's colour: its solution's verdict, or the commonest among its solutions
        counts = Counter(verdict_today(sid) for sid in sorted(members[key]))
        table.append({"row": key, "label": labels[key], "verdict": counts.most_common(1)[0][0],
                      **{d: len(cells.get((key, d), ())) for d in DOMAINS},
                      "warnings": len(warned.get(key, ())),
                      "evaluations": len(evaluated.get(key, ())),
                      "initiatives": initiatives[key],
                      "costs_reported": sum(priced.get(sid, 0) for sid in members[key])})
    return {"by": by, "domains": DOMAINS, "cells": table}


#: What the gap map's colours can show: the verdict, or whether any attempt reported a cost.
GAP_COLOURS = ("verdict", "cost")


def _row_colour(row: dict[str, Any], colour: str) -> str:
    if colour == "cost":
        return charts.COST_COLOURS["cost_reported" if row.get("costs_reported")
                                   else "no_cost_reported"]
    return charts.VERDICT_COLOURS.get(row["verdict"], "#768692")


def gap_svg(data: dict[str, Any]) -> Any:
    param = "solution" if data["by"] == "solution" else "intervention_type"
    counts = {(r["row"], d): r[d] for r in data["cells"] for d in DOMAINS if r[d]}
    colour = data.get("colour") or "verdict"
    return charts.gap_map(
        [r["row"] for r in data["cells"]], DOMAINS, counts,
        {r["row"]: _row_colour(r, colour) for r in data["cells"]},
        {k: f"/evaluations?{param}={k[0]}&domain={k[1]}" for k in counts},
        {r["row"]: r["label"] for r in data["cells"]},
        empty={r["row"]: r["initiatives"] for r in data["cells"] if not r["evaluations"]},
        row_links=({r["row"]: f"/solutions/{r['row']}" for r in data["cells"]}
                   if data["by"] == "solution" else {}),
        key=("whether any attempt of the row reported its cost", charts.COST_COLOURS)
        if colour == "cost" else None)


GAP_ROWS = 50  # rows per page of the gap map (a national graph has thousands of solutions)


def gap_map_data() -> dict[str, Any]:
    """One page of the gap map's rows (``page`` and ``size``), in the order of their
    labels."""
    by = choice_arg("by", list(GAP_AXES), "solution") or "solution"
    colour = choice_arg("colour", list(GAP_COLOURS), "verdict") or "verdict"
    data = gap_data(by)
    page = paginate(data["cells"], GAP_ROWS)
    if by == "solution":  # a row is a solution: it may be illustrative
        marks = record_names(Label.SOLUTION, (r["row"] for r in page["items"]))
        page["items"] = [{**r, "illustrative": bool(marks.get(r["row"], {}).get(
            "illustrative"))} for r in page["items"]]
    return {"by": by, "colour": colour, "domains": data["domains"], "cells": page}


def evaluations_data() -> dict[str, Any]:
    solution = request.args.get("solution") or None
    itype = choice_arg("intervention_type", [t.value for t in InterventionType]
                       + ["unspecified"])
    domain = choice_arg("domain", DOMAINS)
    rows = cached("gap", lambda: get_store().read(queries.GAP_MAP, {"counted": COUNTED_LINKS}))
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if solution and row["solution_id"] != solution:
            continue
        if itype and (row["intervention_type"] or "unspecified") != itype:
            continue
        domains = [d for d in row["domains"] or [] if d] or ["unspecified"]
        if domain and domain not in domains:
            continue
        out.setdefault(row["evaluation_id"], {
            "id": row["evaluation_id"], "title": row["title"], "design": row["design"],
            "finding": row["finding"], "published_date": row["published_date"],
            "solution_id": row["solution_id"], "solution_name": row["name"],
            "domains": domains})
    ordered = sorted(out.values(), key=lambda e: (str(e["published_date"]), e["id"]))
    page = paginate(ordered)
    marks = {**record_names(Label.EVALUATION, (e["id"] for e in page["items"])),
             **record_names(Label.SOLUTION, (e["solution_id"] for e in page["items"]))}
    page["items"] = [{**e, "illustrative": marks.get(e["id"], {}).get("illustrative", False),
                      "solution_illustrative": marks.get(e["solution_id"], {}).get(
                          "illustrative", False)} for e in page["items"]]
    return {"evaluations": page,
            "filters": {"solution": solution, "intervention_type": itype, "domain": domain}}


# --- positive deviance ---------------------------------------------------------------


def deviance_data() -> dict[str, Any]:
    store = get_store()
    measure = request.args.get("measure") or None
    measures = analytics.measures(store)
    if not measure:
        return {"measures": measures, "measure": None, "result": None, "changes": [],
                "deviants": []}
    result = analytics.deviance(store, measure)
    rows = store.read(queries.MEASURE_OUTCOMES, {"key": measure_key(measure)})
    sites = record_names(Label.SITE, [s for row in rows for s in row["sites"] or []]
                         + [d["site_id"] for d in result.deviants])
    changes = []
    for row in rows:
        if row["baseline"] is None or row["value"] is None:
            continue
        x = analytics.relative_change(float(row["baseline"]), float(row["value"]),
                                      row["direction"])
        if x is not None:
            names = [str(sites.get(s, {}).get("name") or s) for s in row["sites"] or []]
            changes.append({"id": row["outcome_id"], "sites": row["sites"],
                            "site_names": names,
                            "label": ", ".join(names) or row["outcome_id"],
                            "relative_change": round(x, 4), "baseline": row["baseline"],
                            "value": row["value"],
                            **_marks([row["outcome_id"]] if row["illustrative"] else [],
                                     row["sites"] or [], sites)})
    changes.sort(key=lambda c: -c["relative_change"])
    invented = {str(r["outcome_id"]) for r in rows if r["illustrative"]}
    deviants = [{**d, "site_name": sites.get(d["site_id"], {}).get("name") or d["site_id"],
                 **_marks([d["outcome_id"]] if d["outcome_id"] in invented else [],
                          [d["site_id"]], sites)}
                for d in result.deviants]
    return {"measures": measures, "measure": measure, "result": result.to_dict(),
            "deviants": deviants, "changes": changes}


def _marks(marked: list[str], ids: Iterable[str],
           found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A row's illustrative records: ``marked`` and those of ``ids`` that ``found`` marks."""
    records = marked + [i for i in ids if (found.get(i) or {}).get("illustrative")]
    return {"illustrative": bool(records), "illustrative_records": records}


# --- search and proposal check --------------------------------------------------------

#: A record's sentence vector and its text's hash: the graph's, not the reader's.
VECTOR_KEYS = (VECTOR_PROPERTY, VECTOR_HASH)
FACETS = ("verdict", "intervention_type", "technology", "region", "icb", "site_kind", "year")


#: The most hits a search page ranks (best first); the answer says when more are listed.
SEARCH_SHOWN_MAX = 60


def search_data() -> dict[str, Any]:
    q = (request.args.get("q") or "").strip()
    if len(q) > schemas.SEARCH_Q_MAX:
        abort(400, f"parameter 'q' is longer than {schemas.SEARCH_Q_MAX} characters")
    everything = choice_arg("all", ["1"]) == "1"
    chosen = {f: request.args.get(f) or None for f in FACETS}
    choice_arg("verdict", VERDICTS)
    choice_arg("intervention_type", [t.value for t in InterventionType])
    choice_arg("technology", ["true", "false"])
    choice_arg("site_kind", [k.value for k in SiteKind])
    empty = {"did_you_mean": None, "message": None, "cut": False, "listed": 0,
             "below_floor": 0, "all": everything, "ranked_max": SEARCH_SHOWN_MAX}
    if not q:
        return {"q": q, "results": paginate([]), "facets": {}, "chosen": chosen, **empty}
    searched, _ = hybrid.clean_query(q)
    found = cached(f"search:{int(everything)}:{searched}",
                   lambda: _search_results(q, everything))
    results = found["results"]
    kept = [r for r in results if all(
        v is None or v in r["facets"].get(f, []) for f, v in chosen.items())]
    return {"q": q, "results": paginate(kept, 20), "chosen": chosen,
            "facets": _facet_counts(kept, chosen),
            **{k: found[k] for k in ("did_you_mean", "message", "cut", "listed",
                                     "below_floor")},
            "all": everything, "ranked_max": SEARCH_SHOWN_MAX}


def _facet_counts(results: list[dict[str, Any]],
                  chosen: dict[str, str | None]) -> dict[str, list[tuple[str, int]]]:
    """Per facet, the values of the results as filtered, with their numbers: each one
    narrows what is shown (a chosen value is kept, with its number, to be removed)."""
    counts: dict[str, Counter[str]] = {f: Counter() for f in FACETS}
    for r in results:
        for f, vals in r["facets"].items():
            counts[f].update(vals)
    for f, value in chosen.items():
        if value is not None:
            counts[f][value] += 0  # shown with its number (0 when nothing has it)
    return {f: sorted(c.items()) for f, c in counts.items() if c}


def _search_results(q: str, everything: bool = False) -> dict[str, Any]:
    """Ranked hits (those listed: above the relevance floor, or all of them with
    ``everything``) with the facet values of each and what a reader needs beside its
    name: a solution's verdict strength, an evaluation's finding, whether an initiative
    repeated a failure. The page counts the facets of the hits it shows."""
    store = get_store()
    report = hybrid.search(store, q, SEARCH_SHOWN_MAX, everything=everything)
    hits = report["hits"]
    sol_ids = [h["id"] for h in hits if h["kind"] == "solution"]
    ini_ids = [h["id"] for h in hits if h["kind"] == "initiative"]
    eval_ids = [h["id"] for h in hits if h["kind"] == "evaluation"]
    evaluations = {str(r["id"]): r for r in store.read(
        queries.EVALUATION_FINDINGS, {"ids": eval_ids})} if eval_ids else {}
    of_lesson = {str(r["id"]): r for r in store.read(queries.LESSON_INITIATIVES, {
        "ids": [h["id"] for h in hits if h["kind"] == "lesson"]})}
    # An evaluation or a lesson has the facets of the initiatives it is about, and an
    # initiative those of its solutions too: a verdict chosen keeps the attempts at the
    # solutions judged so, and what was found and learned there.
    about = list(dict.fromkeys([*ini_ids, *(str(r["initiative_id"]) for r in of_lesson.values()),
                                *(str(i) for r in evaluations.values()
                                  for i in r["initiatives"] or [])]))
    initiatives = {r["id"]: r for r in store.read(queries.INITIATIVE_FACETS,
                                                  {"ids": about, "counted": COUNTED_LINKS})}
    icbs: dict[str, set[str]] = {}
    for row in store.read(queries.INITIATIVE_ICBS, {"ids": about}):
        names = icbs.setdefault(str(row["id"]), set())
        names.update(n for n in row["icbs"] or [] if n)
        if row["kind"] in ("icb", "local_health_board") and row["name"]:
            names.add(str(row["name"]))
    # every solution's type and technology: the solutions list's rows, kept per version
    solutions = {r["id"]: r for r in cached("solutions", _solutions_rows)}

    def solution_values(sid: str) -> dict[str, list[str]]:
        s = solutions.get(sid)
        if s is None:
            return {}
        return {"verdict": [verdict_today(sid)],
                "intervention_type": [s["intervention_type"]] if s["intervention_type"]
                else [],
                "technology": [] if s["technology"] is None
                else ["true" if s["technology"] else "false"]}

    def initiative_values(iids: Iterable[str]) -> dict[str, list[str]]:
        values: dict[str, set[str]] = {}
        for iid in iids:
            i = initiatives.get(iid)
            if i is None:
                continue
            own = [{"region": {r for r in i["regions"] or [] if r},
                    "icb": icbs.get(iid, set()),
                    "site_kind": {k for k in i["kinds"] or [] if k},
                    "year": {str(i["start_date"])[:4]} if i["start_date"] else set()},
                   *({f: set(v) for f, v in solution_values(str(sid)).items()}
                     for sid in i["solutions"] or [])]
            for part in own:
                for f, vals in part.items():
                    values.setdefault(f, set()).update(vals)
        return {f: sorted(vals) for f, vals in values.items() if vals}

    marks: dict[str, dict[str, dict[str, Any]]] = {
        kind.value.lower(): record_names(kind, (h["id"] for h in hits
                                                if h["kind"] == kind.value.lower()))
        for kind in (Label.SOLUTION, Label.INITIATIVE, Label.EVALUATION, Label.SITE,
                     Label.LESSON)}
    findings = {eid: r["finding"] for eid, r in evaluations.items()}
    strengths = verdict_strengths() if sol_ids else {}
    repeated = zombie_rows() if ini_ids else {"zombies": [], "retries": []}
    zombies = {z["initiative_id"] for z in repeated["zombies"]}
    retries = {r["initiative_id"] for r in repeated["retries"]}
    results: list[dict[str, Any]] = []
    for hit in hits:
        values: dict[str, list[str]] = {}
        if hit["kind"] == "initiative":  # a new attempt at what was shown not to work
            hit = {**hit, "zombie": hit["id"] in zombies,
                   "informed_retry": hit["id"] in retries}
        elif hit["kind"] == "evaluation":
            hit = {**hit, "finding": findings.get(hit["id"])}
        elif hit["kind"] == "solution" and hit["id"] in strengths:
            hit = {**hit, "verdict_strength": strengths[hit["id"]]}
        if hit["kind"] == "solution":
            values = solution_values(hit["id"])
        elif hit["kind"] == "initiative":
            values = initiative_values([hit["id"]])
        elif hit["kind"] == "evaluation" and hit["id"] in evaluations:
            values = initiative_values(
                str(i) for i in evaluations[hit["id"]]["initiatives"] or [])
        elif hit["kind"] == "lesson" and hit["id"] in of_lesson:
            values = initiative_values([str(of_lesson[hit["id"]]["initiative_id"])])
        if hit["kind"] == "lesson":  # a lesson is read on its initiative's page
            if hit["id"] not in of_lesson:
                continue
            hit = {**hit, "initiative_id": of_lesson[hit["id"]]["initiative_id"],
                   "initiative_title": of_lesson[hit["id"]]["initiative_title"]}
        results.append({**hit, "facets": values, "illustrative": bool(
            marks.get(hit["kind"], {}).get(str(hit["id"]), {}).get("illustrative"))})
    return {"results": results,
            **{k: report[k] for k in ("did_you_mean", "message", "cut", "listed",
                                      "below_floor")}}


def check_data() -> dict[str, Any]:
    text = (request.args.get("q") or "").strip()
    if len(text) > 10_000:
        abort(400, "parameter 'q' is longer than 10000 characters")
    as_of = _as_of()
    site = adapt.site_arg()
    if not text:
        return {"q": "", "report": None, "as_of": as_of, "site": site or "", "lessons": None}
    report = searching.check(get_store(), text, as_of, site=site)
    for match in report["matches"]:
        match["warnings"] = quality.explain(get_store(), match["verdict"],
                                            match["evaluations"])
    tried = [m["solution_id"] for m in report["matches"]]
    return {"q": text, "as_of": as_of, "report": report, "site": site or "",
            "lessons": lessons.of_solutions(get_store(), tried, known_by=None if as_of is None
                                            else analytics.as_of_day(as_of))}


def evidence_matrix_data(solution_id: str) -> dict[str, Any]:
    """A solution's reviews × the studies they include, and the studies no review has
    included yet, as of the date asked."""
    as_of = _as_of()
    when = analytics.as_of_day(as_of)

    def compute() -> dict[str, Any]:
        store = get_store()
        found = store.read(queries.SOLUTION_NODE, {"id": solution_id})
        if not found:
            raise NotFound(f"no solution with id {solution_id!r}")
        node = found[0]["solution"]
        return {"solution": {"id": solution_id, "name": node.get("name"),
                             "illustrative": node.get("illustrative")},
                "as_of": iso(when), **reviews.evidence_matrix(store, solution_id, when)}

    return dict(cached(f"matrix:{solution_id}:{when}", compute))


def method_data() -> dict[str, Any]:
    return {}


def design_data(solution_id: str) -> dict[str, Any]:
    """A solution's design page (``web/adapt.py``)."""
    return adapt.design_data(solution_id, cached)


# --- routes ---------------------------------------------------------------------------

register_page(bp, "/", "home", "home.html", home_data, title="Home", decorate=_home_html,
              html_cache=cached, response=schemas.HomePage)
register_page(bp, "/search", "search", "search.html", search_data, table="results",
              title="Search", response=schemas.SearchResults)
register_page(bp, "/solutions", "solutions", "solutions.html", solutions_data,
              table="solutions", title="Solutions", response=schemas.SolutionsPage)
register_page(bp, "/solutions/<solution_id>", "solution", "solution.html", solution_data,
              table=("evaluations", "attempts", "outcomes"), title="Solution",
              decorate=_solution_html, response=schemas.SolutionPage)
register_page(bp, "/solutions/<solution_id>/evidence-matrix", "evidence_matrix",
              "evidence_matrix.html", evidence_matrix_data, table="studies",
              title="Evidence matrix", response=schemas.EvidenceMatrixPage)
register_page(bp, "/initiatives/<initiative_id>", "initiative", "initiative.html",
              initiative_data, table=("outcomes", "evaluations", "sites"),
              title="Initiative", response=schemas.InitiativePage)
register_page(bp, "/evaluations/<evaluation_id>", "evaluation", "evaluation.html",
              evaluation_data, table=("outcomes", "initiatives"), title="Evaluation",
              response=schemas.EvaluationPage)
register_page(bp, "/evaluations", "evaluations", "evaluations.html", evaluations_data,
              table="evaluations", title="Evaluations", response=schemas.EvaluationsPage)
register_page(bp, "/sites/<site_id>", "site", "site.html", site_data,
              table=("initiatives", "outcomes"),
              title="Site", decorate=_site_html, response=schemas.SitePage)
register_page(bp, "/zombies", "zombies", "zombies.html", zombies_data,
              table=("zombies", "retries"),
              title="Zombie repeats", response=schemas.ZombiesPage)
register_page(bp, "/gap-map", "gap_map", "gap_map.html", gap_map_data, table="cells",
              title="Evidence gap map", decorate=_gap_html, html_cache=cached,
              response=schemas.GapMapPage)
register_page(bp, "/deviance", "deviance", "deviance.html", deviance_data,
              table=("changes", "deviants"),
              title="Positive deviance", decorate=_deviance_html,
              response=schemas.DeviancePage)
# POST as well as GET: a long proposal does not fit in an address behind gunicorn (8,190
# characters for the whole request line).
register_page(bp, "/check", "check", "check.html", check_data, title="Proposal check",
              methods=("GET", "POST"), response=schemas.CheckPage)
register_page(bp, "/solutions/<solution_id>/design", "design", "design.html", design_data,
              title="Design and adaptations", response=schemas.DesignPage)
register_page(bp, "/method", "method", "method.html", method_data, title="Method",
              response=schemas.MethodPage)



@bp.app_template_filter("merge_page")
def _merge_page(args: dict[str, str], page: int, name: str = "page") -> str:
    from urllib.parse import urlencode

    return urlencode({**args, name: page})


@bp.app_template_filter("with_arg")
def _with_arg(args: dict[str, str], name: str, value: str) -> str:
    from urllib.parse import urlencode

    return urlencode({**{k: v for k, v in args.items() if k != "page"}, name: value})


@bp.app_template_filter("without_empty")
def _without_empty(args: dict[str, str]) -> dict[str, str]:
    """A page's query without its empty fields: the JSON twins refuse empty values."""
    return {k: v for k, v in args.items() if v != ""}


@bp.app_template_filter("without")
def _without(args: dict[str, str], name: str) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in args.items() if k not in (name, "page")})


@bp.app_template_filter("design_name")
def _design_name(value: str | None) -> str:
    """An evaluation design as people name it (``cluster_rct``: cluster randomised
    controlled trial)."""
    from triedbefore.graph.wording import design

    return design(value)
