"""What a connector finds: one record per study or article, and its design guessed
with the reason.

The design is guessed from the strongest signal first: the source's publication types
(Europe PMC ``pubType``) or registry design fields (ClinicalTrials.gov
``designModule``), then phrases of the title, then of the abstract or summary. Each
guess says which signal decided it; a record with no signal has no design (a curator
gives one on accepting it).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from triedbefore.ontology.vocab import CandidateSource, Design


@dataclass(frozen=True)
class Found:
    """One study or article a connector returned."""

    source: CandidateSource
    source_id: str  # NCT number, or "<Europe PMC source>:<id>" (e.g. MED:39709209)
    title: str
    url: str
    doi: str | None = None
    published_date: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD
    design: Design | None = None
    design_reason: str = ""
    publication_types: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        """What identifies the record across sources and fetches: its DOI if it has one."""
        if self.doi:
            return "doi:" + self.doi.lower()
        return f"{self.source.value}:{self.source_id}"

    def evaluation_id(self) -> str:
        """The id an accepted candidate's evaluation gets, derived from its DOI or
        registry id, so that accepting the same record twice writes one evaluation."""
        if self.doi:
            digest = hashlib.sha1(self.doi.lower().encode("utf-8")).hexdigest()[:12]
            return f"EVAL-DOI-{digest}"
        return "EVAL-" + re.sub(r"[^A-Za-z0-9]+", "-", self.source_id).strip("-")


def candidate_id(solution_id: str, key: str) -> str:
    """A candidate's id: one per solution and record."""
    digest = hashlib.sha1(f"{solution_id}\n{key}".encode()).hexdigest()[:12]
    return f"CAN-{digest}"


def clean_doi(value: str | None) -> str | None:
    if not value:
        return None
    doi = value.strip()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        if doi.lower().startswith(prefix):
            doi = doi[len(prefix):]
    return doi or None


#: Publication types (lower case) that name a design outright.
PUBLICATION_TYPES: tuple[tuple[str, Design], ...] = (
    ("systematic review", Design.SYSTEMATIC_REVIEW),
    ("meta-analysis", Design.SYSTEMATIC_REVIEW),
    ("randomized controlled trial", Design.RCT),
    ("pragmatic clinical trial", Design.RCT),
    ("controlled clinical trial", Design.NON_RANDOMISED_TRIAL),
    ("observational study", Design.CROSS_SECTIONAL),
    ("case reports", Design.CASE_STUDY),
)

#: Phrases of a title or abstract, strongest design first.
PHRASES: tuple[tuple[str, Design], ...] = (
    (r"systematic review|meta-analy[sz]is", Design.SYSTEMATIC_REVIEW),
    (r"stepped[- ]wedge", Design.STEPPED_WEDGE),
    (r"cluster[- ]randomi[sz]ed", Design.CLUSTER_RCT),
    (r"randomi[sz]ed (?:controlled )?trial|randomi[sz]ed controlled", Design.RCT),
    (r"regression discontinuity", Design.REGRESSION_DISCONTINUITY),
    (r"propensity[- ]score|matched (?:comparison|control)", Design.MATCHED_COMPARISON),
    (r"difference[- ]in[- ]differences?", Design.DIFFERENCE_IN_DIFFERENCES),
    (r"interrupted time[- ]series", Design.INTERRUPTED_TIME_SERIES),
    (r"controlled before[- ]and[- ]after", Design.CONTROLLED_BEFORE_AFTER),
    (r"non[- ]randomi[sz]ed|quasi[- ]experimental", Design.NON_RANDOMISED_TRIAL),
    (r"cost[- ]effectiveness|cost[- ]utility|economic evaluation", Design.ECONOMIC),
    (r"mixed[- ]methods?", Design.MIXED_METHODS),
    (r"qualitative|semi[- ]structured interviews?|focus groups?", Design.QUALITATIVE),
    (r"before[- ]and[- ]after|pre[- ]post", Design.BEFORE_AFTER),
    (r"cross[- ]sectional", Design.CROSS_SECTIONAL),
    (r"case stud(?:y|ies)|case reports?", Design.CASE_STUDY),
)
_PHRASES = tuple((re.compile(rf"\b(?:{p})", re.IGNORECASE), d) for p, d in PHRASES)


def design_from_text(text: str | None, where: str) -> tuple[Design | None, str]:
    """The first design whose phrase ``text`` contains, with the reason."""
    if not text:
        return None, ""
    for pattern, design in _PHRASES:
        found = pattern.search(text)
        if found:
            return design, f'the {where} says "{found.group(0)}"'
    return None, ""


def design_from_publication_types(types: tuple[str, ...]) -> tuple[Design | None, str]:
    lowered = {t.lower(): t for t in types}
    for name, design in PUBLICATION_TYPES:
        if name in lowered:
            return design, f'publication type "{lowered[name]}"'
    return None, ""


def guess_design(*signals: tuple[Design | None, str]) -> tuple[Design | None, str]:
    """The first signal that names a design; else none, saying so."""
    for design, reason in signals:
        if design is not None:
            return design, reason
    return None, "no publication type, design field or phrase names a design"


def dig(obj: Any, *path: str) -> Any:
    """``obj[path[0]][path[1]]…`` through nested JSON objects; None where one is missing."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj
