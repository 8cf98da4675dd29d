"""The sample bundle shipped in ingest/sample: valid by the interchange rules, and
holding the deliberate cases its README lists (checked with the stdlib only, by a
small independent reading of shared/spec/semantics.md)."""

from __future__ import annotations

import re
import statistics
from datetime import date
from pathlib import Path

import pytest
from bundle_checks import (
    COLUMNS,
    check_bundle,
    check_consistency,
    check_dates,
    check_enums,
    check_headers,
    check_numbers,
    check_references,
    check_required,
    check_unique_ids,
    parse_date,
    read_bundle,
    split_multi,
)

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"

ZOMBIES = {"INI-0021", "INI-0022", "INI-0023", "INI-0027"}
INFORMED_RETRIES = {"INI-0024"}
UNRESOLVED = {"INI-0018", "INI-0034", "INI-0039", "INI-0047", "INI-0051", "INI-0060",
              "INI-0063", "INI-0066"}
DECOY = "INI-0066"
DEVIANCE_MEASURE = "Emergency admissions from care homes per 1,000 residents"
DEVIANTS = {"OUT-0016", "OUT-0020"}
VERDICTS = {
    "SOL-VW": "works", "SOL-EHCH": "works", "SOL-D2A": "works", "SOL-FRAIL": "promising",
    "SOL-SDEC": "promising", "SOL-SPLW": "mixed", "SOL-DT": "weak_negative",
    "SOL-PMR": "inconclusive", "SOL-TELE": "does_not_work", "SOL-PAC": "does_not_work",
    "SOL-HIU": "unevaluated", "SOL-CDC": "unevaluated",
}
REAL_EVALUATIONS = {"EVAL-0001", "EVAL-0002", "EVAL-0003"}
REAL_INITIATIVES = {f"INI-000{i}" for i in range(1, 8)}


@pytest.fixture(scope="module")
def bundle():
    return read_bundle(SAMPLE)


def rows(bundle, name):
    return {row[next(iter(row))]: row for _, row in bundle[name]}


# ---------------------------------------------------------------- format checks


def test_all_files_present():
    for name in [*COLUMNS, "README.md"]:
        assert (SAMPLE / name).is_file(), name


def test_headers():
    assert check_headers(SAMPLE) == []


@pytest.mark.parametrize("check", [check_unique_ids, check_required, check_enums, check_dates,
                                   check_numbers, check_references, check_consistency])
def test_check(bundle, check):
    assert check(bundle) == []


def test_check_bundle_finds_errors(tmp_path):
    for name in COLUMNS:
        (tmp_path / name).write_bytes((SAMPLE / name).read_bytes())
    with (tmp_path / "initiatives.csv").open("a", encoding="utf-8") as f:
        f.write("INI-0001,Again,,SOL-NONE,RJ1|NOPE,2019-02-30,,finished,,,,,\n")
    problems = "\n".join(check_bundle(tmp_path))
    assert "repeats line 2" in problems
    assert "'SOL-NONE' not found" in problems and "'NOPE' not found" in problems
    assert "'2019-02-30' is not an ISO date" in problems
    assert "'finished' not in" in problems


def test_sizes(bundle):
    counts = {name: len(r) for name, r in bundle.items()}
    assert 55 <= counts["sites.csv"] <= 65
    assert 10 <= counts["solutions.csv"] <= 15
    assert 65 <= counts["initiatives.csv"] <= 75
    assert 30 <= counts["evaluations.csv"] <= 40


def test_readme_ids_exist(bundle):
    text = (SAMPLE / "README.md").read_text(encoding="utf-8")
    known = {r[next(iter(r))] for rs in bundle.values() for _, r in rs}
    mentioned = set(re.findall(r"\b(?:SOL-[A-Z0-9]+|(?:INI|OUT|EVAL)-\d{4}|X-[A-Z]{2}-\d{3})\b",
                               text))
    assert mentioned and mentioned <= known, mentioned - known


# ------------------------------------------------------------ semantics oracle

SMS = {"rct": 5, "cluster_rct": 5, "stepped_wedge": 5, "regression_discontinuity": 4,
       "matched_comparison": 4, "difference_in_differences": 3, "controlled_before_after": 3,
       "interrupted_time_series": 3, "non_randomised_trial": 3, "before_after": 1,
       "cross_sectional": 1, "economic": 1, "mixed_methods": 1}
REVIEW = {"high": 5, "moderate": 5, "low": 3, "": 3}


def level(ev):
    if ev["sms_level"]:
        return int(ev["sms_level"])
    if ev["design"] == "systematic_review":
        return REVIEW.get(ev["review_quality"])
    return SMS.get(ev["design"])


def verdict(evals):
    rated = [(level(e), e) for e in evals if level(e)]
    if not rated:
        return "unevaluated"
    p = max((lv for lv, e in rated if e["finding"] == "positive"), default=0)
    n = max((lv for lv, e in rated if e["finding"] in ("no_effect", "negative")), default=0)
    if p == n == 0:
        return "inconclusive"
    if p > n:
        strong = [e for lv, e in rated
                  if e["finding"] == "positive" and lv >= 3 and e["independent"] == "true"]
        return "works" if p >= 4 or len(strong) >= 2 else "promising"
    if n > p:
        return "does_not_work" if n >= 3 else "weak_negative"
    return "mixed"


def published(ev):
    return parse_date(ev["published_date"])[1]  # a publication date: last day of its period


def started(ini):
    return parse_date(ini["start_date"])[0]  # a start date: first day of its period


def evaluations_of(bundle, solution_id):
    inis = rows(bundle, "initiatives.csv")
    return [e for e in rows(bundle, "evaluations.csv").values()
            if any(inis[i]["solution_id"] == solution_id
                   for i in split_multi(e["initiative_ids"]))]


def classify(bundle, ini):
    """'zombie', 'informed' or None for one initiative (semantics.md, Zombie repeat)."""
    if not ini["solution_id"]:
        return None
    prior = [e for e in evaluations_of(bundle, ini["solution_id"])
             if published(e) < started(ini)]
    failed = [e for e in prior if e["finding"] in ("no_effect", "negative")
              and set(split_multi(e["initiative_ids"])) - {ini["initiative_id"]}]
    if not failed or verdict(prior) != "does_not_work":
        return None
    cited = set(split_multi(ini["learned_from"]))
    if any(e["evaluation_id"] in cited or cited & set(split_multi(e["initiative_ids"]))
           for e in prior):
        return "informed"
    return "zombie"


def test_verdicts_today(bundle):
    got = {s: verdict(evaluations_of(bundle, s)) for s in rows(bundle, "solutions.csv")}
    assert got == VERDICTS


def test_zombies_and_informed_retries(bundle):
    kinds = {i: classify(bundle, r) for i, r in rows(bundle, "initiatives.csv").items()}
    assert {i for i, k in kinds.items() if k == "zombie"} == ZOMBIES
    assert {i for i, k in kinds.items() if k == "informed"} == INFORMED_RETRIES


def test_near_misses(bundle):
    inis, evs = rows(bundle, "initiatives.csv"), rows(bundle, "evaluations.csv")
    # started before the negative trial was published
    assert started(inis["INI-0020"]) < published(evs["EVAL-0004"])
    # the evaluated initiative of a does_not_work solution is not a zombie
    assert "INI-0019" in split_multi(evs["EVAL-0004"]["initiative_ids"])
    # partial dates: published "2019" is not before "2019-06-01", but is before "2020-01"
    assert evs["EVAL-0008"]["published_date"] == "2019"
    assert inis["INI-0026"]["start_date"] == "2019-06-01"
    assert inis["INI-0027"]["start_date"] == "2020-01"
    assert classify(bundle, inis["INI-0026"]) is None
    # cites prior work, but not the telehealth evidence: still a zombie
    assert inis["INI-0022"]["learned_from"] == "EVAL-0001"


def test_unevaluated_spread(bundle):
    sites: dict[str, set[str]] = {}
    public: dict[str, set[str]] = {}
    for ini in rows(bundle, "initiatives.csv").values():
        if ini["solution_id"]:
            sites.setdefault(ini["solution_id"], set()).update(split_multi(ini["site_ids"]))
            if ini["visibility"] != "restricted":
                public.setdefault(ini["solution_id"], set()).update(split_multi(ini["site_ids"]))
    spread = {s for s, v in VERDICTS.items() if v == "unevaluated" and len(sites[s]) >= 3}
    assert spread == {"SOL-HIU"}
    assert len(public["SOL-HIU"]) >= 3  # holds even when restricted rows are hidden
    assert len(sites["SOL-CDC"]) == 2


def robust_z(outcomes):
    xs = {}
    for o in outcomes:
        if o["baseline"] and o["value"]:
            b, v = float(o["baseline"]), float(o["value"])
            sign = {"improved": 1, "worsened": -1, "no_change": 0}[o["direction"]]
            xs[o["outcome_id"]] = sign * abs(v - b) / abs(b)
    med = statistics.median(xs.values())
    mad = statistics.median(abs(x - med) for x in xs.values())
    return {k: (x - med) / (1.4826 * mad) for k, x in xs.items()}


def test_positive_deviance(bundle):
    by_measure: dict[str, list[dict[str, str]]] = {}
    for o in rows(bundle, "outcomes.csv").values():
        by_measure.setdefault(o["measure"].strip().casefold(), []).append(o)
    group = by_measure[DEVIANCE_MEASURE.casefold()]
    assert len(group) >= 8
    inis = rows(bundle, "initiatives.csv")
    assert len({inis[o["initiative_id"]]["site_ids"] for o in group}) == len(group)
    z = robust_z(group)
    assert {k for k, v in z.items() if v >= 2} == DEVIANTS
    assert all(v < 1 for k, v in z.items() if k not in DEVIANTS)  # clearly not deviants
    # no other measure has the five outcomes with baseline and value that the rule needs
    for measure, outs in by_measure.items():
        if measure != DEVIANCE_MEASURE.casefold():
            assert sum(1 for o in outs if o["baseline"] and o["value"]) < 5, measure


def test_unresolved_and_decoy(bundle):
    inis = rows(bundle, "initiatives.csv")
    assert {i for i, r in inis.items() if not r["solution_id"]} == UNRESOLVED
    assert "virtual" in inis[DECOY]["title"].lower()


def test_restricted_and_provenance(bundle):
    flagged = [(name, r[next(iter(r))]) for name, rs in bundle.items() for _, r in rs
               if r.get("visibility") == "restricted"]
    assert flagged == [("initiatives.csv", "INI-0055")]
    for eid, ev in rows(bundle, "evaluations.csv").items():
        assert not ev["doi"], eid
        assert bool(ev["url"]) == (eid in REAL_EVALUATIONS), eid
    for iid, ini in rows(bundle, "initiatives.csv").items():
        assert bool(ini["source_url"]) == (iid in REAL_INITIATIVES), iid


def test_value_mix(bundle):
    inis = rows(bundle, "initiatives.csv").values()
    precisions = {len(i["start_date"]) for i in inis}
    assert precisions == {4, 7, 10}
    years = [started(i).year for i in inis]
    assert min(years) == 2012 and max(years) == 2025
    evs = rows(bundle, "evaluations.csv").values()
    assert {e["design"] for e in evs} == set(SMS) | {"systematic_review", "qualitative",
                                                      "case_study"}
    assert {e["finding"] for e in evs} == {"positive", "mixed", "no_effect", "negative",
                                           "inconclusive"}
    assert {e["review_quality"] for e in evs if e["design"] == "systematic_review"} == {
        "high", "moderate", "low", "critically_low", ""}
    assert sum(1 for e in evs if e["sms_level"]) >= 2
    assert date.today() >= max(published(e) for e in evs)
