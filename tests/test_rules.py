"""The rules of docs/semantics.md, case by case, on plain records."""

from __future__ import annotations

from datetime import date

import pytest

from triedbefore.graph.rules import (
    NEGATIVE,
    POSITIVE,
    Attempt,
    Evidence,
    classify,
    day,
    strength_order,
    verdict_of,
)
from triedbefore.ontology.models import date_bounds

D2020 = day(date(2020, 6, 1))


def ev(eid: str, finding: str, level: int | None, *, independent: bool | None = None,
       published: str = "2019-01-01", initiatives: tuple[str, ...] = ("X",)) -> Evidence:
    return Evidence(eid, finding, level, date_bounds(published)[1], independent,
                    frozenset(initiatives))


@pytest.mark.parametrize("evidence, expected, strength", [
    ([], "unevaluated", 0),
    ([ev("q", "positive", None)], "unevaluated", 0),                 # qualitative only
    ([ev("a", "mixed", 3), ev("b", "inconclusive", 5)], "inconclusive", 5),
    ([ev("a", "positive", 4)], "works", 4),
    ([ev("a", "positive", 3, independent=True),
      ev("b", "positive", 3, independent=True)], "works", 3),
    ([ev("a", "positive", 3, independent=True),
      ev("b", "positive", 3, independent=False)], "promising", 3),
    ([ev("a", "positive", 2)], "promising", 2),
    ([ev("a", "positive", 5), ev("b", "no_effect", 3)], "works", 5),
    ([ev("a", "no_effect", 3)], "does_not_work", 3),
    ([ev("a", "negative", 5), ev("b", "positive", 4)], "does_not_work", 5),
    ([ev("a", "negative", 2), ev("b", "positive", 1)], "weak_negative", 2),
    ([ev("a", "positive", 3), ev("b", "negative", 3)], "mixed", 3),
    ([ev("a", "mixed", 5), ev("b", "positive", 1)], "promising", 1),  # mixed does not move P
])
def test_verdict_table(evidence: list[Evidence], expected: str, strength: int) -> None:
    v = verdict_of(evidence)
    assert (v.verdict, v.strength) == (expected, strength)
    assert v.explanation.lower().startswith(expected.replace("_", " ")[:5])


def test_as_of_uses_the_last_day_of_a_partial_publication_date() -> None:
    e = ev("a", "no_effect", 5, published="2019")
    assert verdict_of([e], day(date(2019, 12, 30))).verdict == "unevaluated"
    assert verdict_of([e], day(date(2019, 12, 31))).verdict == "does_not_work"


def test_strength_order_prefers_level_then_independence() -> None:
    items = [ev("self", "positive", 3, independent=False), ev("ind", "positive", 3,
             independent=True), ev("rct", "no_effect", 5)]
    assert [e.id for e in strength_order(items)] == ["rct", "ind", "self"]


FAILED = ev("E1", "no_effect", 5, published="2019", initiatives=("I0",))


def attempt(start: str, cites: tuple[str, ...] = (), iid: str = "I1") -> Attempt:
    return Attempt(iid, "S", date_bounds(start)[0], frozenset(cites))


def test_zombie_repeat_and_its_lag() -> None:
    r = classify(attempt("2020-01"), [FAILED])
    assert r is not None and not r.cited
    assert r.ignored_evaluations == ("E1",)
    assert r.lag_days == 1  # published 2019 (read as 2019-12-31), started 2020-01-01


def test_started_before_the_evidence_was_published_is_not_a_zombie() -> None:
    assert classify(attempt("2019-06-01"), [FAILED]) is None


def test_citing_the_evidence_or_its_initiative_is_an_informed_retry() -> None:
    for cites in (("E1",), ("I0",)):
        r = classify(attempt("2021", cites), [FAILED])
        assert r is not None and r.cited == cites


def test_the_evaluated_initiative_itself_is_not_a_zombie() -> None:
    own = ev("E1", "no_effect", 5, published="2019", initiatives=("I1",))
    assert classify(attempt("2020"), [own]) is None


def test_no_zombie_when_the_verdict_then_was_not_does_not_work() -> None:
    weak = ev("E1", "no_effect", 2, published="2019", initiatives=("I0",))
    assert classify(attempt("2020"), [weak]) is None   # weak_negative, not does_not_work
    later_positive = ev("E2", "positive", 5, published="2019-06", initiatives=("I0",))
    assert classify(attempt("2020"), [FAILED, later_positive]) is None  # mixed by then
    after_start = ev("E2", "positive", 5, published="2021", initiatives=("I0",))
    assert classify(attempt("2020"), [FAILED, after_start]) is not None


def test_classify_many_agrees_with_classify() -> None:
    """The memoised whole-solution pass gives exactly the per-attempt rule's answers."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from triedbefore.graph.rules import classify_many

    findings = st.sampled_from(["positive", "mixed", "no_effect", "negative", "inconclusive"])
    evidence_st = st.lists(st.builds(
        Evidence, id=st.sampled_from([f"E{i}" for i in range(8)]), finding=findings,
        level=st.one_of(st.none(), st.integers(1, 5)), published_hi=st.integers(0, 40),
        independent=st.one_of(st.none(), st.booleans()),
        initiatives=st.frozensets(st.sampled_from([f"I{i}" for i in range(6)]), min_size=0,
                                  max_size=3)), max_size=8, unique_by=lambda e: e.id)
    attempts_st = st.lists(st.builds(
        Attempt, id=st.sampled_from([f"I{i}" for i in range(6)]), solution_id=st.just("S"),
        start_lo=st.integers(0, 45),
        learned_from=st.frozensets(st.sampled_from(["E1", "E2", "I0", "I3", "X"]), max_size=2)),
        max_size=6, unique_by=lambda a: a.id)

    @settings(max_examples=1000, deadline=None)
    @given(evidence_st, attempts_st)
    def check(evidence: list[Evidence], attempts: list[Attempt]) -> None:
        many = {a.id: r for a, r in classify_many(attempts, evidence)}
        for a in attempts:
            one = classify(a, evidence)
            assert many.get(a.id) == one, (a, evidence)

    check()


def test_repeats_start_only_inside_the_does_not_work_windows() -> None:
    """The spans the whole-graph pass reads initiatives from are exactly the start days
    at which the verdict from the evidence published before was does_not_work: no repeat
    is lost, and nothing else need be read."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from triedbefore.graph.rules import does_not_work_windows, negative_wins

    evidence_st = st.lists(st.builds(
        Evidence, id=st.sampled_from([f"E{i}" for i in range(8)]),
        finding=st.sampled_from(["positive", "mixed", "no_effect", "negative"]),
        level=st.one_of(st.none(), st.integers(1, 5)), published_hi=st.integers(0, 30),
        independent=st.one_of(st.none(), st.booleans()),
        initiatives=st.frozensets(st.sampled_from(["I0", "I1", "I2"]), min_size=1, max_size=2)),
        max_size=8, unique_by=lambda e: e.id)

    @settings(max_examples=800, deadline=None)
    @given(evidence_st, st.integers(0, 35))
    def check(evidence: list[Evidence], start: int) -> None:
        windows = does_not_work_windows(evidence)
        inside = any(after < start and (until is None or start <= until)
                     for after, until in windows)
        before = [e for e in evidence if e.published_hi < start]
        p = max((e.level for e in before if e.level and e.finding in POSITIVE), default=0)
        n = max((e.level for e in before if e.level and e.finding in NEGATIVE), default=0)
        assert inside == negative_wins(p, n)
        if classify(Attempt("I9", "S", start), evidence) is not None:
            assert inside
        for (_, until), (after, _) in zip(windows, windows[1:], strict=False):
            assert until is not None and until <= after  # ordered, not overlapping

    check()


# --- both sides of a verdict ------------------------------------------------------

WAKEFIELD = ev("rct", "no_effect", 5, independent=True)
TORBAY = ev("ba", "positive", 1, independent=False)


@pytest.mark.parametrize("evidence, verdict, positive, negative", [
    ([], "unevaluated", (), ()),
    ([ev("q", "positive", None)], "unevaluated", (), ()),               # not counted
    ([ev("a", "mixed", 3), ev("b", "inconclusive", 5)], "inconclusive", (), ()),
    # does_not_work names the level-1 positive result its explanation mentions
    ([WAKEFIELD, TORBAY], "does_not_work", ("ba",), ("rct",)),
    ([ev("a", "positive", 4), ev("b", "negative", 2), ev("c", "no_effect", 3)],
     "works", ("a",), ("c", "b")),
    ([ev("a", "positive", 2), ev("b", "positive", 3)], "promising", ("b", "a"), ()),
    ([ev("a", "negative", 2), ev("b", "positive", 1)], "weak_negative", ("b",), ("a",)),
    ([ev("a", "positive", 3), ev("b", "negative", 3), ev("c", "positive", 1)],
     "mixed", ("a", "c"), ("b",)),
    # strongest first: level, then independent before not, then the most recent
    ([ev("old", "no_effect", 3, independent=True, published="2015"),
      ev("new", "no_effect", 3, independent=True, published="2018"),
      ev("self", "negative", 3, independent=False, published="2019"),
      ev("m", "mixed", 5)], "does_not_work", (), ("new", "old", "self")),
])
def test_a_verdict_names_the_evaluations_on_both_sides(
        evidence: list[Evidence], verdict: str, positive: tuple[str, ...],
        negative: tuple[str, ...]) -> None:
    v = verdict_of(evidence)
    assert v.verdict == verdict
    assert (v.positive, v.negative) == (positive, negative)
    assert (v.positive_level, v.negative_level) == (
        max((e.level or 0 for e in evidence if e.id in positive), default=0),
        max((e.level or 0 for e in evidence if e.id in negative), default=0))


def test_both_sides_hold_only_what_was_published_by_the_date() -> None:
    later = ev("later", "positive", 4, published="2021")
    assert verdict_of([WAKEFIELD, TORBAY, later], day(date(2020, 1, 1))).positive == ("ba",)
    assert verdict_of([WAKEFIELD, TORBAY, later]).positive == ("later", "ba")


# --- an informed re-try's evaluations: ignored or cited, never both -----------------

E_RCT = ev("E1", "no_effect", 5, published="2019", initiatives=("I0",))
E_REVIEW = ev("E2", "no_effect", 4, published="2019", initiatives=("I0", "I2"))
E_OWN = ev("E3", "negative", 3, published="2019", initiatives=("I2",))


@pytest.mark.parametrize("cites, ignored, cited", [
    ((), ("E1", "E2", "E3"), ()),                   # a zombie ignores every failed one
    (("E1",), ("E2", "E3"), ("E1",)),               # cited: not ignored
    (("E1", "E2", "E3"), (), ("E1", "E2", "E3")),   # heeded all of it
    (("I2",), ("E1",), ("I2",)),                    # citing an initiative heeds its evaluations
    (("I0",), ("E3",), ("I0",)),
])
def test_an_evaluation_is_ignored_or_cited_never_both(
        cites: tuple[str, ...], ignored: tuple[str, ...], cited: tuple[str, ...]) -> None:
    from triedbefore.graph.rules import classify_many

    evidence = [E_RCT, E_REVIEW, E_OWN]
    one = classify(attempt("2020-01", cites), evidence)
    many = dict(classify_many([attempt("2020-01", cites)], evidence))
    for found in (one, *many.values()):
        assert found is not None
        assert (found.ignored_evaluations, found.cited) == (ignored, cited)
        assert not set(found.ignored_evaluations) & set(found.cited)
        assert found.lag_days == 1  # from the earliest failed evidence, cited or not


# --- reviews and the studies they include: no double counting ------------------------------


def rv(eid: str, finding: str, level: int | None, includes: tuple[str, ...] = (), *,
       independent: bool | None = True) -> Evidence:
    """An evaluation that may include others (a systematic review), published 2019."""
    return Evidence(eid, finding, level, date_bounds("2019")[1], independent,
                    frozenset({"X"}), frozenset(includes))


@pytest.mark.parametrize("evidence, expected, strength", [
    # two independent positive level-3 evaluations: works (the table's rule) ...
    ([rv("R", "positive", 3), rv("A", "positive", 3)], "works", 3),
    # ... but not when one is a review that includes the other: one line of evidence
    ([rv("R", "positive", 3, ("A",)), rv("A", "positive", 3)], "promising", 3),
    # a third study the review did not include makes two distinct ones again
    ([rv("R", "positive", 3, ("A",)), rv("A", "positive", 3), rv("B", "positive", 3)],
     "works", 3),
    # two reviews pooling a common study overlap, even when that study is not evidence here
    ([rv("R1", "positive", 3, ("S",)), rv("R2", "positive", 3, ("S", "T"))], "promising", 3),
    # two reviews of different studies are distinct
    ([rv("R1", "positive", 3, ("S",)), rv("R2", "positive", 3, ("T",))], "works", 3),
    # a chain: R1 includes A, R2 includes A and B: R1, R2, A and B are one group
    ([rv("R1", "positive", 3, ("A",)), rv("R2", "positive", 3, ("A", "B")),
      rv("A", "positive", 3), rv("B", "positive", 3)], "promising", 3),
    # inclusion never moves P or N: where the table decides by level, nothing changes
    ([rv("R", "positive", 5, ("A",)), rv("A", "positive", 5)], "works", 5),
    ([rv("R", "no_effect", 3, ("A",)), rv("A", "no_effect", 3)], "does_not_work", 3),
    ([rv("R", "positive", 3, ("A",)), rv("A", "negative", 3)], "mixed", 3),
    # a self-evaluation included by a review still does not count as independent
    ([rv("R", "positive", 3, ("A",)), rv("A", "positive", 3, independent=False),
      rv("B", "positive", 3)], "works", 3),
])
def test_a_review_and_its_included_studies_count_once(evidence: list[Evidence], expected: str,
                                                      strength: int) -> None:
    v = verdict_of(evidence)
    assert (v.verdict, v.strength) == (expected, strength)


def test_the_explanation_says_when_inclusion_merged_evaluations() -> None:
    v = verdict_of([rv("R", "positive", 3, ("A",)), rv("A", "positive", 3)])
    assert "a review and the studies it includes count once" in v.explanation
    assert "2 such evaluations make 1 distinct one" in v.explanation
    plain = verdict_of([rv("R", "positive", 3), rv("A", "positive", 3)])
    assert "count once" not in plain.explanation
    assert "2 distinct independent evaluations" in plain.explanation


def test_inclusion_agrees_with_the_table_when_nothing_is_included() -> None:
    """Without INCLUDES links the refinement changes nothing (every verdict of the table)."""
    import itertools

    findings = ("positive", "no_effect", "negative", "mixed")
    for combo in itertools.product(findings, (3, 4), (True, False), repeat=2):
        (f1, l1, i1), (f2, l2, i2) = combo[:3], combo[3:]
        a = Evidence("a", f1, l1, 0, i1)
        b = Evidence("b", f2, l2, 0, i2)
        linked = verdict_of([Evidence("a", f1, l1, 0, i1, includes=frozenset({"z"})), b])
        assert verdict_of([a, b]).verdict == linked.verdict


@pytest.mark.parametrize("evidence, says", [
    # independence not recorded: the two strong positives are named, not "there are none"
    ([ev("a", "positive", 3), ev("b", "positive", 3)],
     "(there are none; at level 3 or above, a, b are not known to be independent)"),
    ([ev("a", "positive", 3, independent=True), ev("b", "positive", 3, independent=False)],
     "(there is only one; at level 3 or above, b is not independent)"),
    ([ev("a", "positive", 3, independent=False), ev("b", "positive", 3)],
     "(there are none; at level 3 or above, b is not known to be independent and a is "
     "not independent)"),
    # nothing at level 3 or above: nothing to explain
    ([ev("a", "positive", 2)], "(there are none)."),
])
def test_a_promising_verdict_says_why_strong_positives_did_not_count(
        evidence: list[Evidence], says: str) -> None:
    v = verdict_of(evidence)
    assert v.verdict == "promising" and says in v.explanation
