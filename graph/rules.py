"""The rules of ``docs/semantics.md`` as pure functions: no database here.

The analytics module reads the graph and hands these functions plain records,
so one implementation serves the CLI, the explorer and the benchmarks.

Dates are whole days since 1970-01-01. A publication date counts from the last
day of its period (``published_hi``), a start date from the first day
(``start_lo``), so nobody is accused on a guess.

Choices the definitions leave open (documented in ``docs/analytics.md``):

- Independence never changes P or N. It decides ``works`` at level 3 (two
  independent positive evaluations, as the table says) and breaks ties when
  evaluations are ordered by strength: level, then independent before
  self-evaluation, then the most recent.
- "Evaluations published before I's start" means ``published_hi < start_lo``.
- "As of D" includes an evaluation when ``published_hi <= D``.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from triedbefore.graph.wording import plural
from triedbefore.ontology.models import EPOCH
from triedbefore.ontology.vocab import Verdict as VerdictName

# The verdict names of the ontology, as plain strings.
WORKS = VerdictName.WORKS.value
PROMISING = VerdictName.PROMISING.value
MIXED = VerdictName.MIXED.value
INCONCLUSIVE = VerdictName.INCONCLUSIVE.value
WEAK_NEGATIVE = VerdictName.WEAK_NEGATIVE.value
DOES_NOT_WORK = VerdictName.DOES_NOT_WORK.value
UNEVALUATED = VerdictName.UNEVALUATED.value
VERDICTS = tuple(v.value for v in VerdictName)

POSITIVE = frozenset({"positive"})
NEGATIVE = frozenset({"no_effect", "negative"})


def day(value: date) -> int:
    return (value - EPOCH).days


def iso(days: int) -> str:
    return date.fromordinal(EPOCH.toordinal() + days).isoformat()


@dataclass(frozen=True)
class Evidence:
    """One evaluation as the rules see it."""

    id: str
    finding: str
    level: int | None  # effective SMS level; None: shown but not counted
    published_hi: int
    independent: bool | None = None
    initiatives: frozenset[str] = frozenset()  # the initiatives it evaluated
    includes: frozenset[str] = frozenset()  # a review's included studies (evaluation ids)

    @property
    def counted(self) -> bool:
        return self.level is not None


def strength_order(evidence: Iterable[Evidence]) -> list[Evidence]:
    """Strongest first: SMS level, independent before not, most recent, then id."""
    return sorted(evidence, key=lambda e: (-(e.level or 0), e.independent is not True,
                                           -e.published_hi, e.id))


@dataclass(frozen=True)
class Verdict:
    verdict: str
    strength: int  # the highest SMS level behind the verdict, 0 when none
    evaluations: tuple[str, ...]  # strongest first: the ones that drove it
    shown: tuple[str, ...]  # every evaluation considered, strongest first
    explanation: str
    positive_level: int = 0  # P
    negative_level: int = 0  # N
    # Both sides, so that a verdict names what it weighed against what: every counted
    # evaluation with a positive finding (the P side) and every one finding no effect or
    # harm (the N side), each strongest first.
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()


def distinct_groups(evidence: Sequence[Evidence]) -> list[list[Evidence]]:
    """The evaluations grouped so that no group shares data with another: a review and a
    study it includes are one group, as are two reviews that include a common study
    (docs/semantics.md, "distinct evaluations"). Each group strongest first, the groups in
    the order of their strongest member."""
    ids = {e.id for e in evidence}
    parent = {e.id: e.id for e in evidence}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    shared: dict[str, str] = {}  # an included study → the first evaluation seen with it
    for e in evidence:
        for study in e.includes:
            if study in ids:
                parent[root(study)] = root(e.id)
            if study in shared:
                parent[root(shared[study])] = root(e.id)
            else:
                shared[study] = e.id
    groups: dict[str, list[Evidence]] = {}
    for e in strength_order(evidence):
        groups.setdefault(root(e.id), []).append(e)
    return list(groups.values())


def negative_wins(p: int, n: int) -> bool:
    """The ``does_not_work`` rule: N > P and N ≥ 3 (P, N: highest positive and negative
    SMS levels)."""
    return n > p and n >= 3


def _names(evidence: Sequence[Evidence]) -> str:
    return ", ".join(e.id for e in evidence)


def _not_independent(positives: Sequence[Evidence]) -> str:
    """Why positive evaluations at level 3 or above did not count as independent ones:
    their independence is not known, or they were not independent."""
    strong = [e for e in positives if (e.level or 0) >= 3]
    unknown = [e for e in strong if e.independent is None]
    dependent = [e for e in strong if e.independent is False]
    parts = [f"{_names(found)} " + ("is" if len(found) == 1 else "are") + f" {why}"
             for found, why in ((unknown, "not known to be independent"),
                                (dependent, "not independent")) if found]
    return "; at level 3 or above, " + " and ".join(parts) if parts else ""


def _above(side: str, level: int) -> str:
    """How the winning side compares with the other one, which may have no evaluation."""
    if not level:
        finding = "a positive effect" if side == "positive" else "no effect or harm"
        return f"with no counted evaluation finding {finding}"
    return f"above the strongest {side} one (level {level})"


def verdict_of(evidence: Iterable[Evidence], as_of: int | None = None) -> Verdict:
    """The verdict from the evaluations published on or before ``as_of`` (all if None)."""
    pool = [e for e in evidence if as_of is None or e.published_hi <= as_of]
    shown = tuple(e.id for e in strength_order(pool))
    counted = [e for e in pool if e.counted]
    if not counted:
        why = ("No evaluation with a strength level has been published"
               if not pool else
               f"The evaluation published ({_names(pool)}) is qualitative, a case study or a "
               "critically low-quality review, which explains how and why but cannot show "
               "whether it worked" if len(pool) == 1 else
               f"The {len(pool)} evaluations published ({_names(strength_order(pool))}) are "
               "qualitative, case studies or critically low-quality reviews, which explain how "
               "and why but cannot show whether it worked")
        return Verdict(UNEVALUATED, 0, (), shown,
                       f"Unevaluated. {why}, so there is no verdict on effect.")
    positives = strength_order(e for e in counted if e.finding in POSITIVE)
    negatives = strength_order(e for e in counted if e.finding in NEGATIVE)
    p = positives[0].level or 0 if positives else 0
    n = negatives[0].level or 0 if negatives else 0
    return replace(_weigh(counted, positives, negatives, p, n, shown),
                   positive=tuple(e.id for e in positives),
                   negative=tuple(e.id for e in negatives))


def _weigh(counted: list[Evidence], positives: list[Evidence], negatives: list[Evidence],
           p: int, n: int, shown: tuple[str, ...]) -> Verdict:
    """The verdict table of semantics.md, once some evaluation has a strength level."""
    if p == 0 and n == 0:
        drivers = strength_order(counted)
        return Verdict(
            INCONCLUSIVE, max(e.level or 0 for e in counted), tuple(e.id for e in drivers), shown,
            f"Inconclusive. {plural(len(counted), 'evaluation')} with a strength level "
            f"({_names(drivers)}) found only mixed or inconclusive results, so neither a "
            "positive nor a negative finding moves the verdict.", 0, 0)
    if p > n:
        strong_independent = [e for e in positives if (e.level or 0) >= 3 and e.independent]
        # a review and a study it includes count once (distinct_groups)
        groups = distinct_groups(strong_independent)
        distinct = [g[0] for g in groups]
        overlap = ("" if len(groups) == len(strong_independent) else
                   f"; a review and the studies it includes count once, so "
                   f"{len(strong_independent)} such evaluations make "
                   f"{plural(len(groups), 'distinct one')}")
        drivers = [e for e in positives if (e.level or 0) == p] or positives[:1]
        if p >= 4:
            rule = (f"the strongest positive evaluation is at SMS level {p} "
                    f"({_names(drivers)}), {_above('negative', n)}, and "
                    "level 4 or 5 designs can attribute the effect")
            return Verdict(WORKS, p, tuple(e.id for e in positives), shown,
                           f"Works. {rule[0].upper()}{rule[1:]}.", p, n)
        if len(distinct) >= 2:
            return Verdict(
                WORKS, p, tuple(e.id for e in strength_order(strong_independent)), shown,
                f"Works. Positive findings (highest SMS level {p}) "
                + (f"outweigh negative ones (level {n})" if n else
                   "meet no finding of no effect or harm")
                + f", and {len(distinct)} distinct independent evaluations at level 3 "
                f"or above agree ({_names(strength_order(strong_independent))}){overlap}.",
                p, n)
        return Verdict(
            PROMISING, p, tuple(e.id for e in positives), shown,
            f"Promising. The strongest positive evaluation is at SMS level {p} "
            f"({_names(drivers)}), {_above('negative', n)}, but a works "
            "verdict needs a level 4–5 design or two distinct independent positive evaluations "
            "at level 3 or above (there " + {0: "are none", 1: "is only one"}.get(
                len(distinct), f"are {len(distinct)}") + f"{overlap}"
            + _not_independent(positives) + ").", p, n)
    if n > p:
        drivers = [e for e in negatives if (e.level or 0) == n] or negatives[:1]
        if negative_wins(p, n):
            return Verdict(
                DOES_NOT_WORK, n, tuple(e.id for e in negatives), shown,
                f"Does not work. The strongest evaluation finding no effect or harm is at SMS "
                f"level {n} ({_names(drivers)}), {_above('positive', p)}; a "
                "level 3 or higher design can attribute the absence of effect.", p, n)
        return Verdict(
            WEAK_NEGATIVE, n, tuple(e.id for e in negatives), shown,
            "Weak negative. Evaluations finding no effect or harm "
            + (f"outweigh positive ones (levels {n} against {p})" if p else
               "meet no positive finding")
            + f", but the strongest is only SMS level {n} "
            f"({_names(drivers)}), too weak to attribute the absence of effect.", p, n)
    drivers = strength_order([e for e in counted if e.finding in POSITIVE | NEGATIVE
                              and (e.level or 0) == p])
    return Verdict(
        MIXED, p, tuple(e.id for e in drivers), shown,
        f"Mixed. Positive and negative findings are equally strong (SMS level {p}): "
        f"{_names(drivers)}.", p, n)


@dataclass(frozen=True)
class Attempt:
    """One initiative as the zombie rule sees it."""

    id: str
    solution_id: str
    start_lo: int
    learned_from: frozenset[str] = frozenset()
    how: str = "declared"  # how it is linked to its solution


@dataclass(frozen=True)
class Repeat:
    """A zombie repeat, or an informed re-try when ``cited`` is not empty."""

    initiative_id: str
    solution_id: str
    ignored_evaluations: tuple[str, ...]  # the failed evidence not cited, strongest first
    lag_days: int  # start − publication of the earliest failed evidence
    cited: tuple[str, ...] = ()
    inferred_link: bool = False
    verdict_then: Verdict | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "initiative_id": self.initiative_id,
            "solution_id": self.solution_id,
            "ignored_evaluations": list(self.ignored_evaluations),
            "lag_days": self.lag_days,
        }
        if self.cited:
            out["cited"] = list(self.cited)
        if self.inferred_link:
            out["inferred_link"] = True
        return out


def heeds(attempt: Attempt, evaluation: Evidence) -> bool:
    """Whether the attempt cites the evaluation, or an initiative it evaluated: such an
    evaluation is listed as cited, never as ignored."""
    return evaluation.id in attempt.learned_from or bool(
        evaluation.initiatives & attempt.learned_from)


def classify(attempt: Attempt, evidence: Sequence[Evidence]) -> Repeat | None:
    """Zombie repeat, informed re-try (``cited`` set), or None, per semantics.md."""
    before = [e for e in evidence if e.published_hi < attempt.start_lo]
    failed = [e for e in before if e.finding in NEGATIVE and e.initiatives - {attempt.id}]
    if not failed:
        return None
    then = verdict_of(before)
    if then.verdict != DOES_NOT_WORK:
        return None
    prior_initiatives = set().union(*(e.initiatives for e in before))
    cited = sorted(attempt.learned_from & ({e.id for e in before} | prior_initiatives))
    ordered = strength_order(e for e in failed if not heeds(attempt, e))
    lag = attempt.start_lo - min(e.published_hi for e in failed)
    return Repeat(attempt.id, attempt.solution_id, tuple(e.id for e in ordered), lag,
                  tuple(cited), attempt.how == "inferred", then)


def does_not_work_windows(evidence: Sequence[Evidence]) -> list[tuple[int, int | None]]:
    """The spans of start days at which the verdict from the evidence published before the
    start is ``does_not_work``: ``(after, until)`` holds the days ``after < day <=
    until`` (``until`` None: no end). Only initiatives started in one can be repeats."""
    windows: list[tuple[int, int | None]] = []
    p = n = 0
    opened: int | None = None
    ordered = sorted(evidence, key=lambda e: e.published_hi)
    for i, e in enumerate(ordered):
        if e.level is not None:
            if e.finding in POSITIVE:
                p = max(p, e.level)
            elif e.finding in NEGATIVE:
                n = max(n, e.level)
        if i + 1 < len(ordered) and ordered[i + 1].published_hi == e.published_hi:
            continue  # evidence of one day counts together, from the next day on
        wins = negative_wins(p, n)
        if wins and opened is None:
            opened = e.published_hi
        elif not wins and opened is not None:
            windows.append((opened, e.published_hi))
            opened = None
    if opened is not None:
        windows.append((opened, None))
    return windows


def _strength_key(e: Evidence) -> tuple[int, bool, int, str]:
    return (-(e.level or 0), e.independent is not True, -e.published_hi, e.id)


def classify_many(attempts: Sequence[Attempt], evidence: Sequence[Evidence]
                  ) -> Iterable[tuple[Attempt, Repeat]]:
    """``classify`` for every attempt at one solution, in time linear in the attempts and
    the evidence (plus the size of the answers): attempts are taken in start order while
    the evidence published before each start is extended incrementally: the running P
    and N decide ``does_not_work`` exactly as :func:`verdict_of` does, and the failed
    evaluations are kept in strength order."""
    if not any(e.finding in NEGATIVE for e in evidence):
        return
    ordered = sorted(evidence, key=lambda e: (e.published_hi, e.id))
    dates = [e.published_hi for e in ordered]
    position = {e.id: i for i, e in enumerate(ordered)}
    first_seen: dict[str, int] = {}  # initiative → first position of an evaluation of it
    for i, e in enumerate(ordered):
        for initiative in e.initiatives:
            first_seen.setdefault(initiative, i)
    p = n = 0
    failed: list[tuple[tuple[int, bool, int, str], Evidence]] = []  # strength order
    failed_by_date: list[Evidence] = []
    snapshot: tuple[Evidence, ...] = ()
    extended = 0
    for attempt in sorted(attempts, key=lambda a: (a.start_lo, a.id)):
        k = bisect_left(dates, attempt.start_lo)
        if k > extended:
            for e in ordered[extended:k]:
                if e.level is not None:
                    if e.finding in POSITIVE:
                        p = max(p, e.level)
                    elif e.finding in NEGATIVE:
                        n = max(n, e.level)
                if e.finding in NEGATIVE and e.initiatives:  # it evaluated someone
                    insort(failed, (_strength_key(e), e))
                    failed_by_date.append(e)
            extended = k
            snapshot = tuple(e for _, e in failed)
        if not failed_by_date or not negative_wins(p, n):
            continue
        # an evaluation of this initiative alone does not count against it
        mine = [e for e in snapshot if e.initiatives == {attempt.id}] if attempt.id in \
            first_seen else []
        others = snapshot if not mine else tuple(e for e in snapshot if e not in mine)
        if not others:
            continue
        earliest = next(e for e in failed_by_date if not mine or e not in mine)
        cited = sorted(ref for ref in attempt.learned_from
                       if position.get(ref, k) < k or first_seen.get(ref, k) < k)
        ignored = tuple(e for e in others if not heeds(attempt, e)) if cited else others
        yield attempt, Repeat(attempt.id, attempt.solution_id, tuple(e.id for e in ignored),
                              attempt.start_lo - earliest.published_hi, tuple(cited),
                              attempt.how == "inferred")
