"""The solution matcher (``triedbefore.graph.matching``): unit cases and the labelled set."""

from __future__ import annotations

import csv
import statistics
import sys
import time
from pathlib import Path

import pytest

from triedbefore.graph.matching import (
    AUTO_LINK_MARGIN,
    AUTO_LINK_THRESHOLD,
    SUGGEST_THRESHOLD,
    SolutionMatcher,
    SolutionText,
    resolve_decision,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "ingest" / "sample"
sys.path.insert(0, str(ROOT / "bench"))

import quality_matching as quality  # noqa: E402


@pytest.fixture(scope="module")
def matcher() -> SolutionMatcher:
    return SolutionMatcher(quality.load_solutions())


@pytest.fixture(scope="module")
def sample_matcher() -> SolutionMatcher:
    return SolutionMatcher(quality.load_solutions(SAMPLE / "solutions.csv"))


def top(m: SolutionMatcher, text: str) -> str | None:
    found = m.match(text, k=3)
    return found[0][0] if found else None


# --------------------------------------------------------------------------- basics


def test_len_and_scores_in_unit_interval_best_first(matcher: SolutionMatcher) -> None:
    assert len(matcher) == 40
    found = matcher.match("virtual ward for frail older people", k=10)
    assert 1 < len(found) <= 10
    scores = [s for _id, s in found]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("text", ["", "   ", "the and of for", ".,;!?", "2024", "from 2019 to 2023"])
def test_empty_or_contentless_text_matches_nothing(matcher: SolutionMatcher, text: str) -> None:
    assert matcher.match(text) == []
    assert resolve_decision(matcher.match(text)) is None


def test_k_and_empty_catalogue() -> None:
    m = SolutionMatcher([SolutionText("A", "Virtual wards")])
    assert m.match("virtual ward", k=0) == []
    assert SolutionMatcher([]).match("virtual ward") == []
    assert len(SolutionMatcher([])) == 0


def test_unknown_words_match_nothing_and_dilute(matcher: SolutionMatcher) -> None:
    assert matcher.match("zxqv blorfing plimbotron") == []
    plain = dict(matcher.match("virtual ward"))["SOL-VW"]
    diluted = dict(matcher.match("virtual ward zxqv blorfing plimbotron wibbleflop"))["SOL-VW"]
    assert diluted < plain


def test_capitalised_unknown_words_weigh_less_than_lower_case(matcher: SolutionMatcher) -> None:
    # place names say nothing about the solution; unknown ordinary words say it is something else
    place = dict(matcher.match("Virtual ward, Little Snoring and Great Wibbleton"))["SOL-VW"]
    other = dict(matcher.match("virtual ward little snoring and great wibbleton"))["SOL-VW"]
    assert place > other


# --------------------------------------------------------------------------- language


@pytest.mark.parametrize(("text", "expected"), [
    ("social prescibing link worker", "SOL-SPLW"),          # one letter missing
    ("discharge to asess beds", "SOL-D2A"),                 # one letter missing
    ("pulmonary rehabilitaion classes", "SOL-PR"),          # transposition
    ("trusted assesor", "SOL-TA"),
    ("lung cancer screeing", "SOL-TLHC"),
    ("falls prevntion in residential homes", "SOL-CHFP"),
])
def test_typos(matcher: SolutionMatcher, text: str, expected: str) -> None:
    assert top(matcher, text) == expected


def test_typo_does_not_change_first_letter_or_strip_a_prefix(matcher: SolutionMatcher) -> None:
    # "deprescribing" is not a typo of "prescribing" (social prescribing)
    assert top(matcher, "deprescribing for care home residents") == "SOL-PMR"


def test_truncations() -> None:
    m = SolutionMatcher([SolutionText("P", "Physiotherapy first contact"),
                         SolutionText("Q", "Psychiatric liaison")])
    assert top(m, "physio") == "P"
    assert top(m, "psych team") == "Q"


@pytest.mark.parametrize(("text", "expected"), [
    ("SDEC evidence", "SOL-SDEC"),
    ("EHCH", "SOL-EHCH"),
    ("HIU", "SOL-HIU"),
    ("H@H expansion", "SOL-VW"),
    ("D2A beds", "SOL-D2A"),
    ("MHSTs in secondary schools", "SOL-MHST"),             # plural acronym
    ("A and G for dermatology", "SOL-AG"),                  # "A and G" = A&G
])
def test_aliases_and_acronyms(matcher: SolutionMatcher, text: str, expected: str) -> None:
    assert top(matcher, text) == expected


def test_acronyms_generated_from_names() -> None:
    m = SolutionMatcher([
        SolutionText("PIFU", "Patient-initiated follow-up"),
        SolutionText("UCR", "Urgent community response"),
        SolutionText("SDEC", "Same-day emergency care"),
        SolutionText("OTHER", "Community diagnostic centre"),
    ])
    assert top(m, "PIFU in rheumatology") == "PIFU"
    assert top(m, "ucr team") == "UCR"
    assert top(m, "SDEC unit") == "SDEC"


@pytest.mark.parametrize(("text", "expected"), [
    ("hospital at home", "VW"),
    ("frequent attenders at A&E", "ED"),
    ("accident and emergency frequent attenders", "ED"),
    ("GP aligned to each nursing home", "CH"),
    ("video appointments", "VC"),
])
def test_synonyms(text: str, expected: str) -> None:
    m = SolutionMatcher([
        SolutionText("VW", "Virtual wards", description="Acute care for patients."),
        SolutionText("VC", "Virtual consultations", description="Video consultation clinics."),
        SolutionText("ED", "Emergency department frequent attender service"),
        SolutionText("CH", "General practice support for care homes"),
    ])
    assert top(m, text) == expected


def test_case_punctuation_and_plurals_fold(matcher: SolutionMatcher) -> None:
    reference = matcher.match("virtual ward")
    assert matcher.match("VIRTUAL-WARDS!!!") == reference
    assert matcher.match("Virtual Wards.") == reference


def test_negated_words_do_not_count(matcher: SolutionMatcher) -> None:
    said = dict(matcher.match("Headsets for children. It is a virtual ward."))
    negated = dict(matcher.match("Headsets for children. It is not a virtual ward."))
    assert negated.get("SOL-VW", 0.0) < said["SOL-VW"]


def test_confusable_pairs(matcher: SolutionMatcher) -> None:
    assert top(matcher, "video clinics for outpatient follow-up") == "SOL-VC"
    assert top(matcher, "acute care at home for frail patients") == "SOL-VW"
    assert top(matcher, "care home residents falls and fractures") == "SOL-CHFP"
    assert top(matcher, "care home residents polypharmacy review") == "SOL-PMR"


def test_ranking_is_stable() -> None:
    sols = quality.load_solutions()
    a = SolutionMatcher(sols)
    b = SolutionMatcher(list(reversed(sols)))
    for text in ("care homes", "frailty at the front door", "remote monitoring", "coaching"):
        assert a.match(text, k=10) == a.match(text, k=10)
        assert a.match(text, k=10) == b.match(text, k=10)
    twins = SolutionMatcher([SolutionText("X2", "Home reablement"),
                             SolutionText("X1", "Home reablement")])
    assert [s for s, _ in twins.match("reablement")] == ["X1", "X2"]  # ties: by id


def test_explain_names_the_shared_terms(matcher: SolutionMatcher) -> None:
    best = matcher.explain("Same day emergency care unit", k=1)[0]
    assert best["solution_id"] == "SOL-SDEC"
    assert best["score"] == matcher.match("Same day emergency care unit", k=1)[0][1]
    assert any(t.startswith("\u00a7") for t in best["terms"])  # the whole name was found


# --------------------------------------------------------------------------- decisions


def test_thresholds_are_ordered() -> None:
    assert 0.0 < SUGGEST_THRESHOLD < AUTO_LINK_THRESHOLD <= 1.0
    assert 0.0 < AUTO_LINK_MARGIN < AUTO_LINK_THRESHOLD


def test_resolve_decision_thresholds_and_margin() -> None:
    auto, margin = AUTO_LINK_THRESHOLD, AUTO_LINK_MARGIN
    assert resolve_decision([]) is None
    assert resolve_decision([("A", auto)]) == ("A", auto, "inferred")
    assert resolve_decision([("A", 0.99), ("B", 0.99 - margin + 0.01)]) == ("A", 0.99, "suggested")
    assert resolve_decision([("A", 0.99), ("B", 0.99 - margin - 0.01)]) == ("A", 0.99, "inferred")
    assert resolve_decision([("A", auto - 0.01)]) == ("A", auto - 0.01, "suggested")
    assert resolve_decision([("A", SUGGEST_THRESHOLD)])[2] == "suggested"  # type: ignore[index]
    assert resolve_decision([("A", SUGGEST_THRESHOLD - 0.01)]) is None
    # the best is found even if the list is not sorted
    assert resolve_decision([("B", 0.2), ("A", 0.97)]) == ("A", 0.97, "inferred")


def test_decoy_is_not_auto_linked(matcher: SolutionMatcher, sample_matcher: SolutionMatcher) -> None:
    text = quality.initiative_text(
        "Virtual reality headsets for children on the ward",
        "Virtual reality distraction during cannulation and dressing changes on the children's "
        "ward; not a virtual ward or hospital-at-home service.")
    for m in (matcher, sample_matcher):
        decision = resolve_decision(m.match(text))
        assert decision is None or decision[2] != "inferred"
        assert m.match(text)[0][1] < AUTO_LINK_THRESHOLD


def test_sample_bundle_resolution(sample_matcher: SolutionMatcher) -> None:
    """The sample's unresolved initiatives resolve as its README says, and every declared
    initiative ranks its own solution first."""
    expected = {"INI-0018": "SOL-EHCH", "INI-0034": "SOL-VW", "INI-0039": "SOL-SPLW",
                "INI-0047": "SOL-DT", "INI-0051": "SOL-PMR", "INI-0060": "SOL-D2A",
                "INI-0063": "SOL-SDEC", "INI-0066": None}
    with (SAMPLE / "initiatives.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        found = sample_matcher.match(quality.initiative_text(row["title"], row["description"]))
        if row["solution_id"]:
            assert found and found[0][0] == row["solution_id"], row["initiative_id"]
            continue
        decision = resolve_decision(found)
        want = expected[row["initiative_id"]]
        if want is None:
            assert decision is None or decision[2] != "inferred"
        else:
            assert decision is not None and decision[:1] == (want,) and decision[2] == "inferred"


# --------------------------------------------------------------------------- labelled set


def test_labelled_set_meets_targets(matcher: SolutionMatcher) -> None:
    result = quality.evaluate(matcher)
    res, srch = result["resolution"], result["search"]
    assert res["all"]["top1_accuracy"] >= 0.90, result["misses"]["resolution"]
    assert res["all"]["auto_link_precision"] >= 0.98, result["misses"]["resolution"]
    assert res["all"]["decoys_auto_linked"] == 0
    assert srch["all"]["top3_accuracy"] >= 0.90, result["misses"]["search"]
    # the held-out rows too
    assert res["test"]["top1_accuracy"] >= 0.90
    assert res["test"]["auto_link_precision"] >= 0.98
    assert srch["test"]["top3_accuracy"] >= 0.90


def test_labelled_set_is_well_formed() -> None:
    ids = {s.id for s in quality.load_solutions()}
    resolution = quality.load_rows("resolution.csv")
    search = quality.load_rows("search_queries.csv")
    assert len(ids) == 40 and len(resolution) >= 80 and len(search) >= 60
    assert sum(1 for r in resolution if not r["expected_solution_id"]) >= 10
    for row in (*resolution, *search):
        assert row["split"] in ("dev", "test")
        assert not row["expected_solution_id"] or row["expected_solution_id"] in ids
    share = sum(1 for r in (*resolution, *search) if r["split"] == "test") / (
        len(resolution) + len(search))
    assert 0.2 <= share <= 0.4


def test_speed_smoke() -> None:
    """Generous bounds (the benchmark reports the real figures)."""
    real = quality.load_solutions()
    catalogue = quality.synthetic_catalogue(500, real)
    start = time.perf_counter()
    m = SolutionMatcher(catalogue)
    assert time.perf_counter() - start < 2.0
    queries = [r["query"] for r in quality.load_rows("search_queries.csv")]
    timings = []
    for q in queries:
        start = time.perf_counter()
        m.match(q)
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.005
