"""Match free text to solutions: resolution of initiatives, search, proposal checks.

Pure Python (standard library only, no model, no network). A
:class:`SolutionMatcher` is built once from the solutions' texts;
:meth:`SolutionMatcher.match` returns the best solutions for a piece of text,
each with a confidence in [0, 1]; :func:`resolve_decision` turns that list into
the decision for an initiative loaded without ``solution_id``. For an
initiative, match ``f"{title}. {description}"`` (just the title when there is no
description) and ask for at least two candidates, so the margin can be checked.
:meth:`SolutionMatcher.explain` says why each candidate matched.

How text becomes terms (the same for solutions and for queries)
---------------------------------------------------------------
1. Accents removed, lower case, split into words. ``&`` and ``@`` stay inside a
   word (``A&E``, ``H@H``, ``BP@home``) and "A and E" is read as ``a&e``. A
   hyphenated word is split into its parts (``hospital-at-home``) unless its
   first part is a prefix such as ``e``, ``pre``, ``non`` or ``co``, which is
   joined on (``e-consultation`` → ``econsultation``).
2. Negation: the words after ``not`` (up to four content words, never past a
   comma or full stop) are dropped, so "VR headsets, not a virtual ward" does not
   speak for virtual wards.
3. A small stemmer folds plurals and common endings (``homes``/``home``,
   ``assessment``/``assessing``/``assess``, ``referral``/``referred``/``refer``).
4. Synonyms: a phrase of a group in :data:`SYNONYMS` also counts as the group's
   first phrase, so "hospital at home", "H@H" and "virtual ward" share terms, as
   do "A&E" and "emergency department", "GP" and "general practice", "nursing
   home" and "care home". The words as written are kept too. The table is short,
   general health-service vocabulary (not tuned to one solution); extend it there.
5. Stop words (``the``, ``for``, …, and question words such as ``anyone``,
   ``tried``, ``evidence``) and one-letter words are dropped. Generic project
   words (``service``, ``programme``, ``pilot``, ``project``, ``team``,
   ``hospital``, ``patient``, …) count 0.3 of their weight: every title has some.
6. Each name and alias is also a *phrase term*, present when the text contains
   its words together and in order (stop words skipped, but never across ``and``
   / ``or`` or punctuation), so "discharge to assess" in a title counts for more
   than its three words. A one-word name or alias counts half a phrase.
7. Acronyms are generated from every name and alias of three or more words
   ("Same-day emergency care" → ``sdec``, with and without stop words) and
   indexed with weight 2 (tags' weight: generated, so less sure than an alias).

A query word found in no solution is tried as a typo of a vocabulary word and
counted at 0.8: one edit (a letter changed, added or dropped, or two adjacent
letters swapped) for words of 5 or more letters; for 8 or more letters also the
double edits that include an extra letter in the query; for 4 letters only a
swap. The first letter must agree (or be swapped with the second), so
"deprescribing" is not read as "prescribing". It is also tried as a truncation
(a word of 5 or more letters that begins vocabulary words: ``physio``; 0.7).

Scoring
-------
For a solution S, each query term t that S holds adds
``weight(t) × idf(t) × field(t, S) / 3``, where ``idf(t) = ln(1 + N / df(t))``
over the N solutions, ``weight`` is the term's weight from above (1 normally)
and ``field`` the heaviest field of S holding t: name and aliases 3, tags 2,
problem 1.5, description 1. The sum is S's *evidence* E; candidates are ranked
by E (ties by solution id, so the order is stable). The query's *mass* M is the
evidence a solution holding every query term in its name would get, plus, for
each word found in no solution at all, half the idf of a term found in one
solution (a quarter when the word is capitalised: likely a place or
organisation name, which says nothing about the solution; a lower-case unknown
word says the text is about something the catalogue does not describe).

The score combines three features through a logistic function::

    coverage  C = E / M                  share of the query the solution explains
    strength  G = ln(1 + E / ln(1 + N))  how much matched, in units of a term
                                         found in one solution (size-independent)
    relative  R = E / E of the best      1 for the best candidate
    score = 1 / (1 + exp(-(a·C + b·G + r·R + c)))

``a``, ``b``, ``r`` and ``c`` were fitted by logistic regression on the five best
candidates of every development-split row of the labelled set in
``bench/quality`` (``python bench/quality_matching.py --fit``; the test split
was held out), with "is this candidate the expected solution?" as the outcome.
So a score estimates the chance that the candidate is the right solution, and
a close runner-up (R near 1) scores nearly as high as the best.

Speed: an inverted index; only solutions that share a term with the query are
scored, and a term found in more than a tenth of a large catalogue (over 50
solutions) only adds to solutions already found through rarer terms.

Decisions (:func:`resolve_decision`)
------------------------------------
* ``"inferred"`` (linked automatically) when the best score is at least
  :data:`AUTO_LINK_THRESHOLD` (0.85) **and** at least :data:`AUTO_LINK_MARGIN`
  (0.15) above the runner-up's score: two plausible solutions are never
  chosen between automatically;
* otherwise ``"suggested"`` to a curator when the best score is at least
  :data:`SUGGEST_THRESHOLD` (0.35), a close race above 0.85 included;
* otherwise nothing.

Why these values: on the development split every automatic link at 0.85 or
more was right, no decoy (an initiative with no solution in the catalogue)
reached 0.7, and correct best candidates below 0.85 were rare, so 0.85 keeps a
safety gap above the decoys while linking about nine in ten initiatives that
have a solution. Below 0.35 the best candidate was right in none of the
development rows, and between 0.35 and 0.85 in about half: worth a curator's
look, not a link. The test-split figures are in
``bench/results/quality_matching.md``.
"""

from __future__ import annotations

import bisect
import heapq
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple, TypedDict

__all__ = [
    "AUTO_LINK_MARGIN",
    "AUTO_LINK_THRESHOLD",
    "Explanation",
    "SUGGEST_THRESHOLD",
    "SYNONYMS",
    "SolutionMatcher",
    "SolutionText",
    "resolve_decision",
]

#: At or above this score (and with the margin below) a link is made automatically.
AUTO_LINK_THRESHOLD: float = 0.85
#: From this score up to the automatic threshold, a suggestion for a curator.
SUGGEST_THRESHOLD: float = 0.35
#: The best score must beat the runner-up by this much to be linked automatically.
AUTO_LINK_MARGIN: float = 0.15

# Logistic calibration of the confidence (see the module docstring).
_COEF_COVERAGE = 6.57
_COEF_EVIDENCE = 3.22
_COEF_RELATIVE = 11.51
_INTERCEPT = -16.88

_PHRASE_MARK = "\u00a7"  # starts the term of a whole name or alias
_FIELD_WEIGHTS = {"name": 3.0, "aliases": 3.0, "tags": 2.0, "problem": 1.5, "description": 1.0}
_MAX_FIELD = 3.0
_ACRONYM_WEIGHT = 2.0  # an acronym generated from a name or alias
_SINGLE_WORD_PHRASE = 0.5  # a one-word name or alias, written out: half a phrase
_TYPO_WEIGHT = 0.8
_FUZZY_MEMORY = 200_000  # words whose fuzzy alternatives a matcher remembers
_PREFIX_WEIGHT = 0.7
_GENERIC_WEIGHT = 0.3
_UNKNOWN_WEIGHT = 0.5  # × idf of a term found in one solution
_UNKNOWN_PROPER_WEIGHT = 0.25
_COMMON_DF_SHARE = 0.1  # a term in more than this share of solutions is "common"…
_COMMON_DF_MIN = 50  # …when it is also in more than this many solutions

#: Synonym groups. Each phrase of a group is read as the group's first phrase.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("virtual ward", "hospital at home", "h@h", "acute care at home", "virtual hospital",
     "virtual beds"),
    ("emergency department", "a&e", "a and e", "accident and emergency", "ed",
     "emergency room", "casualty", "eds"),
    ("general practice", "gp", "gps", "gp practice", "gp surgery", "general practitioner",
     "family doctor", "gp surgeries"),
    ("care home", "nursing home", "residential home", "care facility", "residential care",
     "care home resident", "nursing home resident"),
    ("older people", "elderly", "elderly people", "older adults", "older person",
     "elderly patients", "older patients", "the elderly"),
    ("frailty", "frail"),
    ("copd", "chronic obstructive pulmonary disease"),
    ("hypertension", "high blood pressure"),
    ("blood pressure", "bp"),
    ("medication", "medicines", "medicine", "medications"),
    ("community pharmacy", "chemist", "high street pharmacy", "local pharmacy"),
    ("physiotherapy", "physio", "physiotherapist"),
    ("rehabilitation", "rehab"),
    ("ambulance", "999"),
    ("admission", "admit", "admitting", "hospitalisation", "hospitalization"),
    ("telemonitoring", "telehealth", "remote monitoring", "home monitoring",
     "remote patient monitoring"),
    ("video consultation", "video appointment", "video call", "video clinic"),
    ("online", "web", "internet"),
    ("telephone", "phone"),
    ("medication review", "medicines review", "medicine review", "deprescribing",
     "deprescribe", "medicines optimisation", "medicines optimization",
     "medication optimisation", "polypharmacy review"),
    ("frequent attender", "frequent flyer", "frequent flier", "repeat attender", "high user",
     "frequent user", "high intensity user", "high intensity use"),
    ("deterioration", "deteriorating", "deteriorate", "getting worse", "becoming unwell",
     "getting unwell", "unwell"),
    ("admission avoidance", "avoid admission", "avoiding admission", "prevent admission",
     "preventing admission", "instead of admission", "instead of admitting",
     "alternative to admission", "avoidable admission"),
    ("children", "child", "kids", "paediatric", "pediatric", "cyp",
     "children and young people"),
    ("loneliness", "lonely", "social isolation", "isolation", "isolated"),
    ("diabetes", "diabetic"),
    ("cancer", "oncology", "tumour", "tumor"),
    ("smoking", "smoker", "smokers", "tobacco"),
    ("stop smoking", "smoking cessation", "quit smoking", "quitting smoking"),
    ("prediabetes", "non diabetic hyperglycaemia", "nondiabetic hyperglycaemia", "ndh",
     "pre diabetes"),
    ("musculoskeletal", "msk", "muscle and joint"),
    ("end of life", "palliative", "last year of life", "dying"),
    ("referral", "refer", "referring"),
    ("consultant", "specialist", "hospital specialist"),
    ("wellbeing", "well being"),
    ("primary care network", "pcn", "pcns"),
    ("multidisciplinary team", "mdt", "multi disciplinary team"),
    ("out of hours", "ooh", "after hours"),
    ("long term condition", "ltc", "ltcs", "chronic condition", "chronic disease",
     "long term illness"),
    ("mental health", "mental illness", "emotional distress"),
    ("psychiatric", "psych"),
    ("ward round", "home round", "care home round"),
    ("fall", "fallen", "faller"),
    ("same day", "same-day", "sameday"),
    ("follow up", "followup", "follow-up"),
    ("111", "nhs 111"),
)

STOPWORDS = frozenset("""
a about above after again against all also am an and any are around as at be because been
before being below between both but by can could did do does doing don done down during each
either etc few for from further get gets getting got had has have having he her here hers him
his how i if in into is it its itself just let like make makes may me might more most much must
my near need needs no nor of off on once one only or other our ours out over own per please
same she should so some such than that the their theirs them then there these they this those
through to too two under until up upon us use used using very via want was we were what when
where whether which while who whom why will with within without would you your yours
anyone anybody someone tried try trying work works working evidence does did done
""".split()) - {"same", "up", "down"}

_GENERIC = frozenset(
    "service programme program project pilot scheme model pathway implementation rollout roll "
    "expansion phase initiative team unit new local redesign development trust hospital "
    "patient people".split())

_NEGATORS: tuple[tuple[str, ...], ...] = (("not",),)
_CONJUNCTIONS = frozenset({"and", "or"})
_NEGATOR_STARTS = frozenset(neg[0] for neg in _NEGATORS)
_NEGATION_SPAN = 4
_JOIN_PREFIXES = frozenset({"e", "x", "pre", "non", "co", "re", "multi", "sub", "de", "anti"})

_WORD_RE = re.compile(r"[A-Za-z0-9@&']+(?:-[A-Za-z0-9@&']+)*|[.,;:!?()\[\]|/]")
_CLAUSE_END = frozenset(".,;:!?()[]|/")


@dataclass(frozen=True)
class SolutionText:
    """The texts of one solution that the matcher reads."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    problem: str = ""
    tags: tuple[str, ...] = ()


class Explanation(TypedDict):
    """One candidate of :meth:`SolutionMatcher.explain`."""

    solution_id: str
    score: float  # as in match()
    coverage: float  # share of the query's weight this solution explains
    strength: float  # ln(1 + evidence / idf of a term found in one solution)
    relative: float  # evidence / evidence of the best candidate
    evidence: float
    query_mass: float
    terms: list[str]  # query terms found in the solution


# --------------------------------------------------------------------------- text


class _Word(NamedTuple):
    stem: str
    surface: str  # lower case, as written
    clause: int
    proper: bool  # capitalised or all capitals in the source
    synonym: bool = False  # part of a synonym phrase, or the canonical form put in its place


def _fold(text: str) -> str:
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    """A light suffix stripper; leaves acronyms, numbers and short words alone."""
    if len(word) <= 3 or not word.isalpha():
        return word
    w = word
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        w = w[:-1]
    for suffix, keep in (("ation", 4), ("ment", 4), ("ness", 4), ("ing", 3), ("ed", 3),
                         ("al", 4), ("ly", 5)):
        if w.endswith(suffix) and len(w) - len(suffix) >= keep:
            w = w[: -len(suffix)]
            if suffix in ("ing", "ed", "al") and len(w) > 3 and w[-1] == w[-2] \
                    and w[-1] not in "lsz":
                w = w[:-1]
            break
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return w


_GENERIC_STEMS = frozenset(_stem(w) for w in _GENERIC)


def _raw_words(text: str) -> list[tuple[str, bool, int]]:
    """(lower-case word, proper?, clause number) for each word of ``text``."""
    out: list[tuple[str, bool, int]] = []
    clause = 0
    for m in _WORD_RE.finditer(_fold(text)):
        token = m.group(0)
        if token in _CLAUSE_END:
            clause += 1
            continue
        proper = token[0].isupper()
        low = token.lower()
        if low.isalnum():
            out.append((low, proper, clause))
            continue
        parts = [p for p in low.split("-") if p]
        if len(parts) > 1 and (parts[0] in _JOIN_PREFIXES or len(parts[0]) == 1):
            parts = ["".join(parts)]
        for part in parts:
            part = part.replace("'s", "").replace("'", "")
            if part == "&":
                part = "and"
            part = part.strip("&@")
            if part:
                out.append((part, proper, clause))
    if not any(len(w) == 1 for w, _p, _c in out):
        return out
    # "A and E", "A & G": two single letters joined by "and" are one abbreviation
    joined: list[tuple[str, bool, int]] = []
    i = 0
    while i < len(out):
        if i + 2 < len(out) and out[i + 1][0] == "and" and len(out[i][0]) == 1 \
                and len(out[i + 2][0]) == 1 and out[i][0].isalpha() and out[i + 2][0].isalpha():
            joined.append((out[i][0] + "&" + out[i + 2][0], out[i][1], out[i][2]))
            i += 3
            continue
        joined.append(out[i])
        i += 1
    return joined


class _PhraseTable:
    """Longest-match rewriting of phrases (sequences of stems)."""

    def __init__(self) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}

    def add(self, phrase: tuple[str, ...], replacement: tuple[str, ...]) -> None:
        if not phrase:
            return
        entries = self._by_first.setdefault(phrase[0], [])
        if any(p == phrase for p, _ in entries):
            return
        entries.append((phrase, replacement))
        entries.sort(key=lambda e: -len(e[0]))

    def find_all(self, words: Sequence[_Word], i: int) -> list[tuple[int, tuple[str, ...]]]:
        """Every phrase starting at ``words[i]``, longest first."""
        entries = self._by_first.get(words[i].stem)
        if not entries:
            return []
        n = len(words)
        return [(len(phrase), replacement) for phrase, replacement in entries
                if i + len(phrase) <= n and all(
                    words[i + j].stem == phrase[j] and words[i + j].clause == words[i].clause
                    for j in range(1, len(phrase)))]

    def find(self, words: Sequence[_Word], i: int) -> tuple[int, tuple[str, ...]] | None:
        """Length and replacement of the longest phrase starting at ``words[i]``."""
        entries = self._by_first.get(words[i].stem)
        if not entries:
            return None
        n = len(words)
        for phrase, replacement in entries:
            k = len(phrase)
            if i + k <= n and all(words[i + j].stem == phrase[j]
                                  and words[i + j].clause == words[i].clause
                                  for j in range(1, k)):
                return k, replacement
        return None

    def rewrite(self, words: list[_Word]) -> tuple[list[_Word], list[_Word]]:
        """(the words, with those inside a phrase flagged; the words with phrases replaced)."""
        if not any(w.stem in self._by_first for w in words):
            return words, words
        original: list[_Word] = []
        rewritten: list[_Word] = []
        i = 0
        n = len(words)
        while i < n:
            found = self.find(words, i)
            if found is None:
                original.append(words[i])
                rewritten.append(words[i])
                i += 1
                continue
            k, replacement = found
            clause = words[i].clause
            original.extend(_Word(w.stem, w.surface, w.clause, w.proper, True)
                            for w in words[i:i + k])
            rewritten.extend(_Word(stem, stem, clause, False, True) for stem in replacement)
            i += k
        return original, rewritten


def _plain_stems(text: str) -> tuple[str, ...]:
    return tuple(_stem(w) for w, _p, _c in _raw_words(text))


def _build_synonyms() -> _PhraseTable:
    table = _PhraseTable()
    for group in SYNONYMS:
        canonical = _plain_stems(group[0])
        for phrase in group:
            stems = _plain_stems(phrase)
            if stems != canonical:
                table.add(stems, canonical)
    return table


_SYNONYM_TABLE = _build_synonyms()


def _drop_negated(words: list[_Word]) -> list[_Word]:
    if not any(w.surface in _NEGATOR_STARTS for w in words):
        return words
    out: list[_Word] = []
    i = 0
    n = len(words)
    while i < n:
        negator = next((neg for neg in _NEGATORS if i + len(neg) <= n and all(
            words[i + j].surface == neg[j] for j in range(len(neg)))), None)
        if negator is None:
            out.append(words[i])
            i += 1
            continue
        clause = words[i].clause
        i += len(negator)
        content = 0
        while i < n and words[i].clause == clause and content < _NEGATION_SPAN:
            if words[i].surface not in STOPWORDS:
                content += 1
            i += 1
    return out


def _analyse(text: str) -> tuple[list[_Word], list[_Word]]:
    """Content words of ``text`` after negation and stemming: as written, and with
    synonyms replaced by their canonical form."""
    words = [_Word(_stem(w), w, c, p) for w, p, c in _raw_words(text)]
    original, rewritten = _SYNONYM_TABLE.rewrite(_drop_negated(words))
    content = _content(original)
    return content, content if rewritten is original else _content(rewritten)


def _content(words: Sequence[_Word]) -> list[_Word]:
    """Words that are not stop words; "and" / "or" stay, as phrase boundaries only."""
    return [w for w in words if w.surface in _CONJUNCTIONS or (
        len(w.stem) > 1 and w.surface not in STOPWORDS and w.stem not in STOPWORDS)]


def _terms(words: Sequence[_Word]) -> list[_Word]:
    return [w for w in words if w.surface not in _CONJUNCTIONS]


def _acronyms(text: str) -> set[str]:
    """Acronyms of a name or alias of three or more words (with and without stop words)."""
    out: set[str] = set()
    for part in re.split(r"[():;,]", text):
        words = [w for w, _p, _c in _raw_words(part)]
        for keep_stop in (False, True):
            letters = [w[0] for w in words if w[0].isalpha() and (keep_stop or w not in STOPWORDS)]
            if len(letters) >= 3:
                acronym = "".join(letters)
                if acronym not in STOPWORDS:
                    out.add(acronym)
    return out


def _edits1(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def _osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance, or ``limit + 1`` once it exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, prev2[j - 2] + 1)
            cur[j] = value
            best = min(best, value)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[len(b)]


# --------------------------------------------------------------------------- matcher


class _Slot(NamedTuple):
    """One query term: the index terms it may stand for, and its weight in the query mass."""

    alternatives: tuple[tuple[str, float], ...]  # (index term, weight)
    mass: float
    fuzzy: bool = False  # a typo or truncation of the query word


class SolutionMatcher:
    """Inverted index over solution texts; see the module docstring for the scoring."""

    def __init__(self, solutions: Iterable[SolutionText]) -> None:
        self._ids: list[str] = []
        postings: dict[str, dict[int, float]] = {}
        phrase_owners: list[tuple[tuple[str, ...], int]] = []
        surfaces: dict[str, str] = {}
        for doc, sol in enumerate(solutions):
            self._ids.append(sol.id)
            named = [sol.name, *sol.aliases]
            acronyms: set[str] = set()
            for text in named:
                acronyms |= _acronyms(text)
            fields: tuple[tuple[str, Sequence[str]], ...] = (
                ("name", (sol.name,)),
                ("aliases", sol.aliases),
                ("tags", sol.tags),
                ("problem", (sol.problem,)),
                ("description", (sol.description,)),
            )
            for field, texts in fields:
                weight = _FIELD_WEIGHTS[field]
                for text in texts:
                    if not text:
                        continue
                    original, rewritten = _analyse(text)
                    both = original if rewritten is original else (*original, *rewritten)
                    for word in _terms(both):
                        entry = postings.get(word.stem)
                        if entry is None:
                            postings[word.stem] = {doc: weight}
                        elif entry.get(doc, 0.0) < weight:
                            entry[doc] = weight
                        if word.surface not in surfaces and len(word.surface) >= 4 \
                                and word.surface.isalpha() and not word.synonym:
                            surfaces[word.surface] = word.stem
                    if field in ("name", "aliases"):
                        sequences = (original,) if rewritten is original \
                            else (original, rewritten)
                        for sequence in sequences:
                            for clause in _clauses(sequence):
                                phrase_owners.append((clause, doc))
            for acronym in acronyms:  # generated: indexed as written, a little lighter
                stem = _stem(acronym)
                entry = postings.setdefault(stem, {})
                if entry.get(doc, 0.0) < _ACRONYM_WEIGHT:
                    entry[doc] = _ACRONYM_WEIGHT
                phrase_owners.append(((stem,), doc))
        self._n = len(self._ids)
        self._phrases = _PhraseTable()
        for phrase, doc in phrase_owners:
            term = _PHRASE_MARK + " ".join(phrase)
            self._phrases.add(phrase, (term,))
            postings.setdefault(term, {})[doc] = _MAX_FIELD if len(phrase) > 1 \
                else _MAX_FIELD * _SINGLE_WORD_PHRASE
        self._postings: dict[str, tuple[tuple[int, float], ...]] = {
            term: tuple(docs.items()) for term, docs in postings.items()}
        self._posting_maps = postings  # the same, by document
        n = max(self._n, 1)
        self._idf: dict[str, float] = {
            term: math.log(1.0 + n / len(docs)) for term, docs in self._postings.items()}
        self._unit = math.log(1.0 + n)  # idf of a term found in one solution
        self._common_df = max(_COMMON_DF_MIN, int(_COMMON_DF_SHARE * n))
        self._surfaces = surfaces
        self._sorted_surfaces = sorted(surfaces)
        deletes: dict[str, list[str]] = {}
        for surface in surfaces:
            if len(surface) >= 4:
                for variant in _edits1(surface):
                    deletes.setdefault(variant, []).append(surface)
        self._deletes = deletes
        self._fuzzy_seen: dict[str, tuple[tuple[str, float], ...]] = {}

    def __len__(self) -> int:
        return self._n

    # ----------------------------------------------------------------- query side

    def _fuzzy(self, surface: str) -> tuple[tuple[str, float], ...]:
        """Vocabulary stems a word not in the vocabulary may stand for (typo, truncation);
        remembered per word (place names and other unknown words recur in many texts)."""
        known = self._fuzzy_seen.get(surface)
        if known is None:
            if len(self._fuzzy_seen) >= _FUZZY_MEMORY:
                self._fuzzy_seen.clear()
            known = self._fuzzy_seen[surface] = self._fuzzy_uncached(surface)
        return known

    def _fuzzy_uncached(self, surface: str) -> tuple[tuple[str, float], ...]:
        found: dict[str, float] = {}
        size = len(surface)
        if size >= 4:
            limit = 1 if size < 8 else 2
            probes = {surface} | _edits1(surface)
            if limit == 2:
                probes |= {d2 for d1 in _edits1(surface) for d2 in _edits1(d1)}
            candidates: set[str] = set()
            for probe in probes:
                candidates.update(self._deletes.get(probe, ()))
                if probe in self._surfaces:
                    candidates.add(probe)
            for cand in candidates:
                distance = _osa_distance(surface, cand, limit)
                if distance > limit:
                    continue
                if cand[0] != surface[0] and not (cand[:2] == surface[1::-1]):
                    continue  # typos seldom change the first letter
                if size == 4 and not (len(cand) == 4 and sorted(cand) == sorted(surface)):
                    continue  # 4 letters: only a swap of two adjacent letters
                stem = self._surfaces[cand]
                found[stem] = max(found.get(stem, 0.0), _TYPO_WEIGHT)
        if size >= 5:
            start = bisect.bisect_left(self._sorted_surfaces, surface)
            for cand in self._sorted_surfaces[start:start + 8]:
                if not cand.startswith(surface):
                    break
                stem = self._surfaces[cand]
                found[stem] = max(found.get(stem, 0.0), _PREFIX_WEIGHT)
        return tuple(sorted(found.items()))

    def _slots(self, text: str) -> tuple[list[_Slot], float]:
        """Query slots and the mass of the words that are in no solution."""
        original, rewritten = _analyse(text)
        slots: dict[str, _Slot] = {}
        unknown: dict[str, float] = {}
        for word in (*_terms(original), *_terms(rewritten),
                     *self._phrase_terms(original, rewritten)):
            stem = word.stem
            if stem in slots:
                continue
            generic = _GENERIC_WEIGHT if stem in _GENERIC_STEMS else 1.0
            if stem in self._postings:
                slots[stem] = _Slot(((stem, generic),), self._idf[stem] * generic)
                continue
            if stem.isdigit() or word.synonym or stem.startswith(_PHRASE_MARK):
                continue
            alternatives = self._fuzzy(word.surface) if word.surface.isalpha() else ()
            if alternatives:
                mass = max(self._idf[t] * w for t, w in alternatives) * generic
                slots[stem] = _Slot(tuple((t, w * generic) for t, w in alternatives), mass, True)
            else:
                share = _UNKNOWN_PROPER_WEIGHT if word.proper else _UNKNOWN_WEIGHT
                unknown[stem] = max(unknown.get(stem, 0.0), share * self._unit * generic)
        return list(slots.values()), sum(unknown.values())

    def _phrase_terms(self, *sequences: list[_Word]) -> list[_Word]:
        """A phrase term for each solution name or alias written out in the text."""
        found: list[_Word] = []
        for words in sequences:
            for i in range(len(words)):
                for _k, replacement in self._phrases.find_all(words, i):
                    found.append(_Word(replacement[0], replacement[0], words[i].clause, False))
        return found

    # ----------------------------------------------------------------- scoring

    def _evidence(self, slots: list[_Slot]) -> dict[int, float]:
        weighted: list[tuple[int, _Slot]] = []
        for slot in slots:
            df = max(len(self._postings[t]) for t, _w in slot.alternatives)
            weighted.append((df, slot))
        weighted.sort(key=lambda item: item[0])
        scores: dict[int, float] = {}
        for df, (alternatives, _mass, _fuzzy) in weighted:
            restrict = df > self._common_df and bool(scores)
            best: dict[int, float] = {}
            for term, weight in alternatives:
                factor = weight * self._idf[term] / _MAX_FIELD
                if restrict and len(scores) < df:
                    # a common term only adds to documents already found: look those up
                    by_doc = self._posting_maps[term]
                    for doc in scores:
                        field = by_doc.get(doc)
                        if field is not None:
                            value = factor * field
                            if value > best.get(doc, 0.0):
                                best[doc] = value
                    continue
                for doc, field in self._postings[term]:
                    if restrict and doc not in scores:
                        continue
                    value = factor * field
                    if value > best.get(doc, 0.0):
                        best[doc] = value
            for doc, value in best.items():
                scores[doc] = scores.get(doc, 0.0) + value
        return scores

    def _features(self, evidence: float, mass: float,
                  best: float) -> tuple[float, float, float]:
        """(coverage, strength, relative) of a candidate: the inputs of the confidence."""
        coverage = min(1.0, evidence / mass) if mass > 0 else 0.0
        strength = math.log1p(evidence / self._unit) if self._unit > 0 else 0.0
        relative = evidence / best if best > 0 else 0.0
        return coverage, strength, relative

    def _confidence(self, evidence: float, mass: float, best: float) -> float:
        coverage, strength, relative = self._features(evidence, mass, best)
        z = (_COEF_COVERAGE * coverage + _COEF_EVIDENCE * strength
             + _COEF_RELATIVE * relative + _INTERCEPT)
        return 1.0 / (1.0 + math.exp(-z))

    def _rank(self, text: str, k: int) -> tuple[list[tuple[int, float]], list[_Slot], float]:
        """(best documents with their evidence, the query's slots, the query's mass)."""
        if k <= 0 or not text or not text.strip() or not self._n:
            return [], [], 0.0
        slots, unknown = self._slots(text)
        if not slots:
            return [], [], unknown
        mass = sum(slot.mass for slot in slots) + unknown
        scores = self._evidence(slots)
        return self._top(scores, k), slots, mass

    def _top(self, scores: dict[int, float], k: int) -> list[tuple[int, float]]:
        """The ``k`` best documents, ties broken by solution id (the k-th best score is
        found first, so only the documents at or above it are sorted)."""
        if len(scores) > 4 * k:
            kth = heapq.nlargest(k, scores.values())[-1]
            pool = [(doc, ev) for doc, ev in scores.items() if ev >= kth]
        else:
            pool = list(scores.items())
        return sorted(pool, key=lambda item: (-item[1], self._ids[item[0]]))[:k]

    def vocabulary(self) -> dict[str, str]:
        """The words of the solutions' texts (four letters or more), each with its stem:
        the graph's own vocabulary, for "did you mean"."""
        return self._surfaces

    def describes(self, text: str) -> bool:
        """Whether a word of ``text``, as written (no typo or truncation), is in a
        solution's text or is a generic project word: such a word says what was done, not
        where (the proposal check's place names)."""
        original, rewritten = _analyse(text)
        return any(w.stem in self._postings or w.stem in _GENERIC_STEMS
                   for w in (*_terms(original), *_terms(rewritten)))

    def match(self, text: str, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` best solutions for ``text`` as (solution id, confidence), best first.

        Ties are broken by solution id, so the order is stable."""
        ranked, _slots, mass = self._rank(text, k)
        best = ranked[0][1] if ranked else 0.0
        return [(self._ids[doc], round(self._confidence(ev, mass, best), 4))
                for doc, ev in ranked]

    def coverage(self, text: str, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` best documents for ``text`` with their coverage (the share of the
        query's weight each explains, as in :meth:`explain`), best first: a similarity
        that does not depend on the other candidates."""
        ranked, _slots, mass = self._rank(text, k)
        best = ranked[0][1] if ranked else 0.0
        return [(self._ids[doc], round(self._features(ev, mass, best)[0], 4))
                for doc, ev in ranked]

    def explain(self, text: str, k: int = 5) -> list[Explanation]:
        """Why each of the ``k`` best solutions matched: its score, coverage, evidence and
        the query terms it shares (a term starting with ``§`` is a whole name or alias;
        ``~`` marks a typo or truncation of the query word)."""
        ranked, slots, mass = self._rank(text, k)
        best = ranked[0][1] if ranked else 0.0
        out: list[Explanation] = []
        for doc, evidence in ranked:
            coverage, strength, relative = self._features(evidence, mass, best)
            shared: list[str] = []
            for slot in slots:
                for term, _weight in slot.alternatives:
                    if any(d == doc for d, _f in self._postings[term]):
                        shared.append("~" + term if slot.fuzzy else term)
                        break
            out.append({"solution_id": self._ids[doc],
                        "score": round(self._confidence(evidence, mass, best), 4),
                        "coverage": round(coverage, 4), "strength": round(strength, 4),
                        "relative": round(relative, 4),
                        "evidence": round(evidence, 4), "query_mass": round(mass, 4),
                        "terms": shared})
        return out


def _clauses(words: Sequence[_Word]) -> list[tuple[str, ...]]:
    groups: dict[int, list[str]] = {}
    for word in words:
        groups.setdefault(word.clause, []).append(word.stem)
    return [tuple(stems) for stems in groups.values()]


def resolve_decision(candidates: list[tuple[str, float]]) -> tuple[str, float, str] | None:
    """Decision for an initiative from :meth:`SolutionMatcher.match` output.

    ``("inferred")`` when the best score is at least :data:`AUTO_LINK_THRESHOLD`
    and at least :data:`AUTO_LINK_MARGIN` above the runner-up's; ``"suggested"``
    when it is at least :data:`SUGGEST_THRESHOLD` otherwise; ``None`` below that.
    """
    if not candidates:
        return None
    ordered = sorted(candidates, key=lambda c: -c[1])
    best_id, best = ordered[0]
    runner_up = ordered[1][1] if len(ordered) > 1 else 0.0
    if best >= AUTO_LINK_THRESHOLD and best - runner_up >= AUTO_LINK_MARGIN:
        return best_id, best, "inferred"
    if best >= SUGGEST_THRESHOLD:
        return best_id, best, "suggested"
    return None


def edit_distance(a: str, b: str, limit: int) -> int:
    """Edits (insert, delete, change, swap two letters) from ``a`` to ``b``, or
    ``limit + 1`` once past ``limit``."""
    return _osa_distance(a, b, limit)


def stem(word: str) -> str:
    """The matcher's stem of a lower-case word ("patients" → "patient")."""
    return _stem(word)
