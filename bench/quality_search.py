"""Quality of search and of the proposal check on the demo graph, as users phrase things.

The labelled set (``bench/quality``), written before retrieval was tuned and without
looking at what search returns:

* ``paraphrases.csv``: queries as a nurse, GP, manager, commissioner or patient would say
  them, sharing at most one content word with the name of any solution they expect
  (:func:`shared_content_words`; checked by :func:`problems`, which fails loudly);
* ``typos.csv``: plausible queries with one or two typos (the intended query is given
  beside it, and :func:`edits` counts the typos);
* ``proposals.csv``: proposal paragraphs (3 to 6 sentences) with the solutions the
  proposal check should find closest and the solution the first similar initiative should
  belong to;
* the older ``search_queries.csv`` and ``resolution.csv``, labelled against the matcher's
  own catalogue (``solutions.csv``).

Expected ids of the first three are solution ids of the demo bundle
(``ingest/demo/bundle/solutions.csv``); ``|`` separates ids a reader could not tell apart
from the words (the ``notes`` column says why). In each of these files, 30 % of
the rows are held out (``split=test``, :func:`held_out`): those whose text (query or
proposal) has the smallest SHA-256 digests (hex, compared as strings), 30 % of the rows
rounded to the nearest row. (The older files hold out rows whose digest, as an integer,
is 0, 1 or 2 modulo 10, which gave 21 % to 37 % on files this small.) The split was
fixed when the files were written, before any run; a row added later changes which rows
are held out, so rows are added only with a new round of figures on both splits.

The harness builds the demo graph in an embedded store in a temporary folder (as
``triedbefore demo --no-serve`` does) and runs the functions the CLI and the API call, so
it measures whatever retrieval the code has. Results go to
``bench/results/quality_search.json`` and ``.md`` (or ``--name``).

    python bench/quality_search.py [--name quality_search-baseline]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
QUALITY = HERE / "quality"
RESULTS = HERE / "results"
DEMO_SOLUTIONS = ROOT / "ingest" / "demo" / "bundle" / "solutions.csv"
DEMO_INITIATIVES = ROOT / "ingest" / "demo" / "bundle" / "initiatives.csv"
SPLITS = ("dev", "test", "all")
LABELLED = ("paraphrases.csv", "typos.csv", "proposals.csv")

#: Words that carry no content for the paraphrase rule: English function words (articles,
#: pronouns, prepositions, conjunctions, auxiliaries, common adverbs and quantifiers).
#: Everything else counts, health-service words included ("care", "home", "people").
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be been before being
below between both but by can could did do does doing down during each either else even
every few for from further had has have having he her here hers herself him himself his
how i if in into is it its itself just may me might more most must my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some
such than that the their theirs them themselves then there these they this those through
to too under until up upon very was we were what when where which while who whom why will
with within without would you your yours yourself yourselves s t d ll m re ve
""".split())

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


def stem(word: str) -> str:
    """A light suffix stripper, so that "homes" and "home", "wards" and "ward",
    "therapies" and "therapy", "practitioners" and "practitioner" count as one word."""
    if word.endswith("ss"):
        return word
    for suffix, repl in (("ies", "y"), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: len(word) - len(suffix)] + repl
    return word


def content_words(text: str) -> set[str]:
    """The stemmed words of ``text`` that are not in :data:`STOPWORDS`."""
    return {stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS}


def shared_content_words(query: str, name: str) -> set[str]:
    return content_words(query) & content_words(name)


HELD_OUT_SHARE = 0.3


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def held_out(texts: list[str]) -> set[str]:
    """The texts held out: the 30 % (rounded) whose SHA-256 digests are smallest."""
    return set(sorted(texts, key=digest)[:round(HELD_OUT_SHARE * len(texts))])


def split_of(text: str, test: set[str]) -> str:
    return "test" if text in test else "dev"


def ids(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split("|") if part.strip())


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (a swap of two neighbours is one typo)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def edits(query: str, intended: str) -> int | None:
    """Typos in ``query`` against ``intended``: the edit distances of the words, summed
    (``None`` when the two do not have the same number of words)."""
    q, i = query.split(), intended.split()
    if len(q) != len(i):
        return None
    return sum(edit_distance(x, y) for x, y in zip(q, i, strict=True))


def sentences(text: str) -> int:
    return len(_SENTENCE_END.findall(text.strip()))


def load(name: str) -> list[dict[str, str]]:
    with (QUALITY / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def demo_solutions() -> dict[str, dict[str, str]]:
    with DEMO_SOLUTIONS.open(newline="", encoding="utf-8") as f:
        return {row["solution_id"]: row for row in csv.DictReader(f)}


def text_of(name: str, row: dict[str, str]) -> str:
    """The text a row's split is drawn from."""
    return row["proposal"] if name == "proposals.csv" else row.get("query") or row["title"]


def problems() -> list[str]:
    """Every way the labelled set breaks its own rules (empty when it is well formed)."""
    solutions = demo_solutions()
    out: list[str] = []
    for name in LABELLED:
        rows = load(name)
        test = held_out([text_of(name, row) for row in rows])
        for n, row in enumerate(rows, 2):
            where = f"{name}:{n}"
            text = text_of(name, row)
            if row["split"] != split_of(text, test):
                out.append(f"{where}: split {row['split']!r}, the hash says "
                           f"{split_of(text, test)!r}")
            columns = ("expected_solution_ids", "expected_initiative_solution_ids") \
                if name == "proposals.csv" else ("expected_solution_ids",)
            for column in columns:
                expected = ids(row[column])
                if not expected:
                    out.append(f"{where}: no {column}")
                unknown = [s for s in expected if s not in solutions]
                if unknown:
                    out.append(f"{where}: {column} not in the demo bundle: {unknown}")
                elif expected and solutions[expected[0]].get("illustrative") == "true":
                    out.append(f"{where}: the first of {column} is illustrative")
                if len(expected) > 1 and not row.get("notes"):
                    out.append(f"{where}: several acceptable ids and no note saying why")
            if name == "paraphrases.csv":
                for sid in ids(row["expected_solution_ids"]):
                    if sid in solutions:
                        shared = shared_content_words(text, solutions[sid]["name"])
                        if len(shared) > 1:
                            out.append(f"{where}: shares {sorted(shared)} with the name of "
                                       f"{sid} ({solutions[sid]['name']!r})")
                if row.get("persona") not in ("nurse", "GP", "manager", "commissioner",
                                              "patient"):
                    out.append(f"{where}: persona {row.get('persona')!r}")
            if name == "typos.csv":
                count = edits(text, row["intended"])
                if count not in (1, 2):
                    out.append(f"{where}: {count} typos against {row['intended']!r}")
            if name == "proposals.csv" and not 3 <= sentences(text) <= 6:
                out.append(f"{where}: {sentences(text)} sentences")
    return out


# --------------------------------------------------------------------------- the graphs


def write_catalogue_bundle(folder: Path) -> Path:
    """A bundle of the matcher's labelled catalogue (``bench/quality/solutions.csv``) and
    of the ``resolution.csv`` rows as initiatives without a solution (``RES-0001`` … in
    file order), all at one placeholder site, for the older query set and resolution.

    One more initiative declares its solution (``SEED``), as real bundles do: on a graph
    whose first links are the ones resolution infers, the engine's cached plan of the read
    that lists them (made by ingest before any link had ``how``) answers ``how`` with null
    afterwards, and every initiative would read as unresolved (see the report)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "solutions.csv").write_bytes((QUALITY / "solutions.csv").read_bytes())
    with (folder / "sites.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["site_id", "name", "kind"])
        w.writerow(["BENCH-SITE", "Benchmark site", "other"])
    with (folder / "initiatives.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["initiative_id", "title", "description", "site_ids", "start_date",
                    "solution_id"])
        w.writerow(["SEED", "Seed initiative with a declared solution", "", "BENCH-SITE",
                    "2024-01-01", SEED_SOLUTION])
        for n, row in enumerate(load("resolution.csv"), 1):
            w.writerow([resolution_id(n), row["title"], row["description"], "BENCH-SITE",
                        "2024-01-01", ""])
    return folder


SEED_SOLUTION = "SOL-ACP"


def resolution_id(n: int) -> str:
    return f"RES-{n:04d}"


def cut_static_vectors(dimensions: int) -> None:
    """Make this process's static model keep only its vectors' first ``dimensions``
    components (its table is rotated onto its principal axes, largest first)."""
    import numpy as np

    from triedbefore.graph import static_embedding

    whole = static_embedding._Static.embed  # noqa: SLF001 - an experiment's switch

    def cut(self: Any, texts: list[str]) -> Any:
        out = whole(self, texts)
        out[:, dimensions:] = 0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.maximum(norms, 1e-12)).astype(np.float32)

    static_embedding._Static.embed = cut  # type: ignore[method-assign]  # noqa: SLF001


class Graphs:
    """The demo graph (as ``triedbefore demo --no-serve`` loads it) and the catalogue graph,
    on one embedded server in ``work``; stopped on exit."""

    def __init__(self, work: Path) -> None:
        from triedbefore.graph.embedded import EmbeddedServer
        from triedbefore.graph.engines import open_store
        from triedbefore.ingest.pipeline import ingest
        from triedbefore.web.cli import demo_bundle

        self.server = EmbeddedServer(work / "db")
        self.server.ensure_running()
        self.timings: dict[str, float] = {}
        start = time.perf_counter()
        self.demo = open_store(f"embedded:{work / 'db'}?graph=demo")
        result = ingest(self.demo, demo_bundle())
        if result.exit_code != 0 or result.errors:
            raise SystemExit(f"the demo bundle did not load: {result.errors[:3]}")
        self.timings["demo_ingest_s"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        self.catalogue = open_store(f"embedded:{work / 'db'}?graph=catalogue")
        result = ingest(self.catalogue, write_catalogue_bundle(work / "catalogue"))
        if result.exit_code != 0 or result.errors:
            raise SystemExit(f"the catalogue bundle did not load: {result.errors[:3]}")
        self.timings["catalogue_ingest_s"] = round(time.perf_counter() - start, 2)

    def __enter__(self) -> Graphs:
        return self

    def __exit__(self, *exc: object) -> None:
        for store in (self.demo, self.catalogue):
            store.close()
        self.server.stop()


# --------------------------------------------------------------------------- measuring


SEARCH_LIMIT = 10  # the CLI's default


def search_hits(store: Any, text: str) -> list[dict[str, Any]]:
    """The hits of the search the CLI and the API run (a list of hits, or a report that
    holds them under ``hits`` or ``results``)."""
    from triedbefore.graph import search as searching

    found: Any = searching.search(store, text, SEARCH_LIMIT)
    if isinstance(found, dict):
        found = found.get("hits") or found.get("results") or []
    return list(found)


def listed_hits(store: Any, text: str) -> int:
    """How many hits of every kind search lists above its relevance floor (no limit):
    the noise a reader scrolls through."""
    from triedbefore.graph import search as searching

    return len(searching.search(store, text, 0))


def ranks(hits: list[dict[str, Any]], expected: tuple[str, ...]) -> tuple[int | None, int | None]:
    """1-based rank of the first expected solution among the solution hits, and among all
    hits of every kind (``None`` when it is not listed)."""
    solutions = [h for h in hits if h.get("kind") == "solution"]
    among = next((n for n, h in enumerate(solutions, 1) if h.get("id") in expected), None)
    overall = next((n for n, h in enumerate(hits, 1)
                    if h.get("kind") == "solution" and h.get("id") in expected), None)
    return among, overall


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - start) * 1000.0


def run_queries(store: Any, rows: list[dict[str, str]], column: str,
                text_column: str = "query") -> list[dict[str, Any]]:
    out = []
    for row in rows:
        expected = ids(row[column])
        hits, ms = _timed(search_hits, store, row[text_column])
        among, overall = ranks(hits, expected)
        out.append({"split": row["split"], "query": row[text_column],
                    "expected": list(expected), "rank": among, "rank_all_kinds": overall,
                    "got": [h.get("id") for h in hits if h.get("kind") == "solution"][:3],
                    "ms": round(ms, 1), "listed_hits": listed_hits(store, row[text_column])})
    return out


def query_figures(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for split in SPLITS:
        rows = [r for r in results if split == "all" or r["split"] == split]
        out[split] = {
            "queries": len(rows),
            "top1": _ratio(sum(1 for r in rows if r["rank"] == 1), len(rows)),
            "top3": _ratio(sum(1 for r in rows if r["rank"] and r["rank"] <= 3), len(rows)),
            "top3_all_kinds": _ratio(sum(1 for r in rows if r["rank_all_kinds"]
                                         and r["rank_all_kinds"] <= 3), len(rows)),
            "listed": _ratio(sum(1 for r in rows if r["rank"]), len(rows)),
            "listed_hits_median": statistics.median(r["listed_hits"] for r in rows)
            if rows else None,
        }
    return out


def demo_declared_solutions() -> dict[str, str]:
    """Initiative id → the solution the demo bundle declares for it."""
    with DEMO_INITIATIVES.open(newline="", encoding="utf-8") as f:
        return {r["initiative_id"]: r["solution_id"] for r in csv.DictReader(f)
                if r["solution_id"]}


def run_proposals(store: Any) -> list[dict[str, Any]]:
    """The proposal check as the CLI and the API run it, on every proposal paragraph."""
    from triedbefore.graph import search as searching

    declared = demo_declared_solutions()
    out = []
    for row in load("proposals.csv"):
        closest, first_of = ids(row["expected_solution_ids"]), \
            ids(row["expected_initiative_solution_ids"])
        report, ms = _timed(searching.check, store, row["proposal"])
        matches = [m["solution_id"] for m in report.get("matches") or []]
        initiatives = report.get("initiatives") or []
        first = initiatives[0] if initiatives else None
        belongs = None
        if first is not None:
            belongs = declared.get(str(first["initiative_id"])) or first.get("solution_id")
        out.append({"split": row["split"], "proposal": row["proposal"],
                    "expected_closest": list(closest),
                    "expected_first_initiative_solution": list(first_of),
                    "closest": matches[:3],
                    "closest_top1": bool(matches) and matches[0] in closest,
                    "first_initiative": first["initiative_id"] if first else None,
                    "first_initiative_solution": belongs,
                    "first_initiative_ok": belongs in first_of,
                    "ms": round(ms, 1)})
    return out


def proposal_figures(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for split in SPLITS:
        rows = [r for r in results if split == "all" or r["split"] == split]
        out[split] = {
            "proposals": len(rows),
            "first_initiative": _ratio(sum(1 for r in rows if r["first_initiative_ok"]),
                                       len(rows)),
            "closest_top1": _ratio(sum(1 for r in rows if r["closest_top1"]), len(rows))}
    return out


def run_resolution(store: Any) -> list[dict[str, Any]]:
    """Resolution as ingest left it (``resolution.proposals``: automatic links and
    suggestions) and the best candidate a curator is shown (``resolution.candidates``)."""
    from triedbefore.graph import resolution

    state: dict[str, list[Any]] = {}
    for p in resolution.proposals(store):
        state.setdefault(p.initiative_id, []).append(p)
    out = []
    for n, row in enumerate(load("resolution.csv"), 1):
        iid = resolution_id(n)
        text = ". ".join(t for t in (row["title"], row["description"]) if t)
        best = resolution.candidates(store, text, k=1)
        inferred = [p.solution_id for p in state.get(iid, []) if p.status == "inferred"]
        out.append({"split": row["split"], "title": row["title"],
                    "expected": row["expected_solution_id"] or None,
                    "best": best[0][0] if best else None,
                    "best_score": round(best[0][1], 3) if best else None,
                    "auto_linked": inferred[0] if inferred else None})
    return out


def resolution_figures(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for split in SPLITS:
        rows = [r for r in results if split == "all" or r["split"] == split]
        positives = [r for r in rows if r["expected"]]
        links = [r for r in rows if r["auto_linked"]]
        out[split] = {
            "rows": len(rows), "with_expected_solution": len(positives),
            "top1": _ratio(sum(1 for r in positives if r["best"] == r["expected"]),
                           len(positives)),
            "auto_links": len(links),
            "auto_link_precision": _ratio(sum(1 for r in links
                                              if r["auto_linked"] == r["expected"]),
                                          len(links)),
            "auto_link_coverage": _ratio(sum(1 for r in positives
                                             if r["auto_linked"] == r["expected"]),
                                         len(positives)),
            "decoys_auto_linked": sum(1 for r in links if not r["expected"])}
    return out


# --------------------------------------------------------------------------- targets


#: The issue's targets, on the held-out split. ``None``: no worse than the baseline run.
TARGETS: dict[str, tuple[str, str, float | None]] = {
    "paraphrase_top3": ("paraphrases", "top3", 0.95),
    "typo_top3": ("typos", "top3", 0.95),
    "existing_queries_top1": ("existing_queries", "top1", None),
    "existing_queries_top3": ("existing_queries", "top3", None),
    "resolution_top1": ("resolution", "top1", 0.97),
    "auto_link_precision": ("resolution", "auto_link_precision", 1.0),
    "proposal_first_initiative": ("proposals", "first_initiative", 0.90),
}
BASELINE = "quality_search-baseline"


def targets(figures: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, Any]:
    out = {}
    for name, (section, key, target) in TARGETS.items():
        value = figures[section]["test"][key]
        goal = target
        if goal is None and baseline is not None:
            goal = baseline["figures"][section]["test"][key]
        out[name] = {"target": goal, "dev": figures[section]["dev"][key], "test": value,
                     "all": figures[section]["all"][key],
                     "met": None if goal is None or value is None else value >= goal}
    return out


# --------------------------------------------------------------------------- report


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _rank(r: dict[str, Any]) -> str:
    return f"rank {r['rank']}" if r["rank"] else "not listed"


def write_markdown(data: dict[str, Any], path: Path) -> None:
    f = data["figures"]
    lines = [
        f"# Search quality on the demo graph ({data['name']})", "",
        f"Run {data['run_at']}; Python {data['python']}; commit {data['commit']}. The demo "
        "bundle loaded into an embedded store as `triedbefore demo --no-serve` does; "
        "search and the proposal check are the functions the CLI and the API call "
        f"(`graph.search.search(store, text, {SEARCH_LIMIT})`, `graph.search.check`). "
        "Labelled set: `bench/quality` (see `bench/quality_search.py`); `test` rows are "
        "held out from tuning. Targets are the issue's, on the `test` split.", "",
        "## Targets (held-out split)", "",
        "| measure | target | dev | test | all | met |", "|---|---|---|---|---|---|"]
    for name, t in data["targets"].items():
        goal = _pct(t["target"]) + ("" if TARGETS[name][2] is not None else " (baseline)")
        met = "—" if t["met"] is None else "yes" if t["met"] else "NO"
        lines.append(f"| {name} | {goal} | {_pct(t['dev'])} | {_pct(t['test'])} | "
                     f"{_pct(t['all'])} | {met} |")
    lines += ["", "## Search", "",
              "Rank of the first expected solution among the solution hits (top-1, top-3); "
              "`top-3 all kinds` counts initiatives, evaluations and sites listed above it "
              f"too; `listed`: among the {SEARCH_LIMIT} hits at all.", "",
              "| set | split | queries | top-1 | top-3 | top-3 all kinds | listed | "
              "hits listed (median) |",
              "|---|---|---|---|---|---|---|---|"]
    for section, label in (("paraphrases", "paraphrases"), ("typos", "typos"),
                           ("existing_queries", "existing queries (catalogue graph)")):
        for split in SPLITS:
            s = f[section][split]
            lines.append(f"| {label} | {split} | {s['queries']} | {_pct(s['top1'])} | "
                         f"{_pct(s['top3'])} | {_pct(s['top3_all_kinds'])} | "
                         f"{_pct(s['listed'])} | {s.get('listed_hits_median', '—')} |")
    lines += ["", "## Proposal check", "",
              "| split | proposals | first similar initiative of the expected solution | "
              "closest solution top-1 |", "|---|---|---|---|"]
    for split in SPLITS:
        s = f["proposals"][split]
        lines.append(f"| {split} | {s['proposals']} | {_pct(s['first_initiative'])} | "
                     f"{_pct(s['closest_top1'])} |")
    lines += ["", "## Resolution (catalogue graph)", "",
              "Initiatives of `resolution.csv` loaded without a solution into a graph of the "
              "matcher's labelled catalogue; top-1 is the best candidate a curator is shown "
              "(`resolution.candidates`), automatic links are those ingest made "
              "(`resolution.proposals`, status `inferred`).", "",
              "| split | rows | with solution | top-1 | auto-links | precision | coverage | "
              "decoys auto-linked |", "|---|---|---|---|---|---|---|---|"]
    for split in SPLITS:
        s = f["resolution"][split]
        lines.append(f"| {split} | {s['rows']} | {s['with_expected_solution']} | "
                     f"{_pct(s['top1'])} | {s['auto_links']} | "
                     f"{_pct(s['auto_link_precision'])} | {_pct(s['auto_link_coverage'])} | "
                     f"{s['decoys_auto_linked']} |")
    lines += ["", "The catalogue graph also holds one initiative with a declared solution: "
              "without it, `resolution.proposals` read every initiative as `unresolved` on "
              "the server that ran the ingest (the engine's cached plan of `UNRESOLVED_PAGE`, "
              "made before any link had `how` or `score`, answers those properties with "
              "nulls afterwards; the same text with one more space answers correctly)."]
    changes = QUALITY / "changes.md"
    if changes.exists():
        lines += ["", "## Changes measured", "", changes.read_text(encoding="utf-8").strip()]
    sp = data["speed"]
    lines += ["", "## Time (this machine, not a benchmark)", "",
              f"Demo ingest {sp['demo_ingest_s']} s; search median {sp['search_median_ms']} ms "
              f"(max {sp['search_max_ms']} ms) over {sp['searches']} queries; proposal check "
              f"median {sp['check_median_ms']} ms (max {sp['check_max_ms']} ms).", ""]
    shown = "dev and test" if data["test_misses_shown"] else "dev"
    lines += ["## Misses", "",
              f"Queries of the {shown} split whose expected solution is not first. "
              + ("" if data["test_misses_shown"] else
                 "Held-out misses are counted, not listed, so that tuning cannot read them "
                 "(`--show-test-misses` lists them, for the final round of figures)."), ""]
    for section in ("paraphrases", "typos", "existing_queries"):
        misses = data["misses"][section]
        lines += [f"### {section} ({len(misses)} listed, "
                  f"{data['hidden_misses'][section]} held-out not listed)", ""]
        for m in misses:
            lines.append(f"- [{m['split']}] \"{m['query']}\": expected "
                         f"{' | '.join(m['expected'])}; {_rank(m)}; got "
                         f"{', '.join(m['got']) or 'no solution'}")
        lines.append("")
    misses = data["misses"]["proposals"]
    lines += [f"### proposals ({len(misses)} listed, {data['hidden_misses']['proposals']} "
              "held-out not listed)", ""]
    for m in misses:
        lines.append(f"- [{m['split']}] \"{m['proposal'][:90]}…\": expected "
                     f"{' | '.join(m['expected_closest'])}; closest "
                     f"{', '.join(m['closest']) or 'none'}; first similar initiative "
                     f"{m['first_initiative'] or 'none'} ({m['first_initiative_solution']})")
    misses = data["misses"]["resolution"]
    lines += ["", f"### resolution ({len(misses)} listed, "
              f"{data['hidden_misses']['resolution']} held-out not listed)", ""]
    for m in misses:
        lines.append(f"- [{m['split']}] {m['title']}: expected {m['expected'] or 'nothing'}; "
                     f"best {m['best']} ({m['best_score']}); auto-linked "
                     f"{m['auto_linked'] or 'no'}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _misses(results: dict[str, list[dict[str, Any]]], show_test: bool
            ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int]]:
    wrong: dict[str, list[dict[str, Any]]] = {
        "paraphrases": [r for r in results["paraphrases"] if r["rank"] != 1],
        "typos": [r for r in results["typos"] if r["rank"] != 1],
        "existing_queries": [r for r in results["existing_queries"] if r["rank"] != 1],
        "proposals": [r for r in results["proposals"]
                      if not (r["closest_top1"] and r["first_initiative_ok"])],
        "resolution": [r for r in results["resolution"]
                       if (r["expected"] and r["best"] != r["expected"])
                       or (r["auto_linked"] and r["auto_linked"] != r["expected"])]}
    hidden = {k: 0 if show_test else sum(1 for r in v if r["split"] == "test")
              for k, v in wrong.items()}
    shown = {k: [{key: value for key, value in r.items() if key != "ms"} for r in v
                 if show_test or r["split"] != "test"] for k, v in wrong.items()}
    return shown, hidden


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="quality_search",
                        help=f"results file name in bench/results (`{BASELINE}` for the "
                             "figures before tuning)")
    parser.add_argument("--show-test-misses", action="store_true",
                        help="list the held-out split's misses too")
    parser.add_argument("--static-dimensions", type=int, default=None,
                        help="measure the static model's vectors cut to their first D "
                             "principal components (the rest zero, unit length again): "
                             "the cosines of D-dimensional vectors on the same indexes")
    args = parser.parse_args(argv)
    if args.static_dimensions:
        cut_static_vectors(args.static_dimensions)
    broken = problems()
    if broken:
        print("the labelled set breaks its rules:", *broken, sep="\n  ", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="quality-search-") as tmp, Graphs(Path(tmp)) as g:
        results = {
            "paraphrases": run_queries(g.demo, load("paraphrases.csv"), "expected_solution_ids"),
            "typos": run_queries(g.demo, load("typos.csv"), "expected_solution_ids"),
            "existing_queries": run_queries(g.catalogue, load("search_queries.csv"),
                                            "expected_solution_id"),
            "proposals": run_proposals(g.demo),
            "resolution": run_resolution(g.catalogue)}
        timings = g.timings
    figures = {name: query_figures(results[name])
               for name in ("paraphrases", "typos", "existing_queries")}
    figures["proposals"] = proposal_figures(results["proposals"])
    figures["resolution"] = resolution_figures(results["resolution"])
    baseline_path = RESULTS / f"{BASELINE}.json"
    baseline = json.loads(baseline_path.read_text(encoding="utf-8")) \
        if args.name != BASELINE and baseline_path.exists() else None
    search_ms = sorted(r["ms"] for k in ("paraphrases", "typos", "existing_queries")
                       for r in results[k])
    check_ms = sorted(r["ms"] for r in results["proposals"])
    misses, hidden = _misses(results, args.show_test_misses)
    data: dict[str, Any] = {
        "name": args.name, "run_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "python": platform.python_version(), "commit": _commit(),
        "search_limit": SEARCH_LIMIT, "figures": figures,
        "targets": targets(figures, baseline if args.name != BASELINE else
                           {"figures": figures}),
        "speed": {**timings, "searches": len(search_ms),
                  "search_median_ms": round(statistics.median(search_ms), 1),
                  "search_max_ms": search_ms[-1],
                  "check_median_ms": round(statistics.median(check_ms), 1),
                  "check_max_ms": check_ms[-1]},
        "test_misses_shown": args.show_test_misses, "misses": misses,
        "hidden_misses": hidden}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(data, indent=2) + "\n",
                                               encoding="utf-8")
    write_markdown(data, RESULTS / f"{args.name}.md")
    for name, t in data["targets"].items():
        print(f"{name}: dev {_pct(t['dev'])} test {_pct(t['test'])} all {_pct(t['all'])} "
              f"target {_pct(t['target'])}")
    print(f"proposal closest top-1: test {_pct(figures['proposals']['test']['closest_top1'])}")
    for name in ("paraphrases", "typos"):
        print(f"{name} hits listed (median): dev {figures[name]['dev']['listed_hits_median']} "
              f"test {figures[name]['test']['listed_hits_median']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
