"""Design-quality warnings: evaluations whose design cannot carry their claim.

Warnings are shown beside verdicts and never change them (the verdict rule of
``docs/semantics.md`` lives in ``rules.py`` and does not read this module). Each
warning says why in plain English and cites a reference. A warning is raised only on
what the record says: an unknown value (no sample size, no time-series counts, no end
date, independence not stated) raises none. The choices are documented in
``docs/analytics.md`` ("Design-quality warnings").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from triedbefore.graph import queries
from triedbefore.graph.store import Store

#: An evaluation of fewer units than this is a small sample.
SMALL_SAMPLE = 50
#: EPOC: an interrupted time series needs at least three points before and after.
ITS_MIN_POINTS = 3

#: Findings that claim an effect (or its absence); mixed and inconclusive claim neither.
EFFECT_CLAIMS = frozenset({"positive", "no_effect", "negative"})

EPOC_STUDY_DESIGNS = (
    "Cochrane Effective Practice and Organisation of Care (EPOC). What study designs "
    "should be included in an EPOC review? EPOC resources for review authors, 2017",
    "https://epoc.cochrane.org/resources/epoc-resources-review-authors")
MARYLAND_SMS = (
    "Maryland Scientific Methods Scale, level 1 (What Works Centre for Local Economic "
    "Growth)", "http://www.whatworksgrowth.org/resources/the-scientific-maryland-scale/")
EPOC_INDEPENDENCE = (
    "Cochrane EPOC. Suggested risk of bias criteria for EPOC reviews, 2017 (other risks "
    "of bias, including conflicts of interest)",
    "https://epoc.cochrane.org/resources/epoc-resources-review-authors")
SMALL_SAMPLE_REF = (
    "triedbefore method: samples under 50 units (docs/analytics.md)", "/method#warnings")
EARLY_REF = (
    "Cochrane EPOC. Suggested risk of bias criteria for EPOC reviews, 2017 (selective "
    "outcome reporting; follow-up)",
    "https://epoc.cochrane.org/resources/epoc-resources-review-authors")

UNCONTROLLED = "uncontrolled_before_after"
SHORT_SERIES = "short_time_series"
SELF_EVALUATION = "self_evaluation_only"
SMALL = "small_sample"
EARLY = "published_before_end"


@dataclass(frozen=True)
class DesignWarning:
    code: str
    evaluation_id: str | None  # None: about the verdict as a whole
    reason: str
    reference: str
    url: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "evaluation_id": self.evaluation_id,
                "reason": self.reason, "reference": self.reference, "url": self.url}


def _warn(code: str, evaluation_id: str | None, reason: str,
          ref: tuple[str, str]) -> DesignWarning:
    return DesignWarning(code, evaluation_id, reason, ref[0], ref[1])


def evaluation_warnings(e: Mapping[str, Any]) -> list[DesignWarning]:
    """The warnings about one evaluation. ``e`` holds the evaluation's properties
    (``id``, ``design``, ``finding``, ``sms_level``, ``sample_size``,
    ``its_points_before``, ``its_points_after``, ``published_hi``) and ``initiatives``:
    the evaluated initiatives with ``id``, ``end_date`` and ``end_lo``."""
    out: list[DesignWarning] = []
    eid = str(e["id"])
    finding = e.get("finding")
    claims = finding in EFFECT_CLAIMS
    if e.get("design") == "before_after" and claims and (e.get("sms_level") or 1) < 2:
        out.append(_warn(
            UNCONTROLLED, eid,
            "An uncontrolled before-after comparison is used to claim "
            f"{'an effect' if finding == 'positive' else 'no effect or harm'}: without a "
            "comparison group, changes that would have happened anyway (trends, seasons, "
            "other initiatives, regression to the mean) cannot be told apart from the "
            "initiative's effect.", MARYLAND_SMS))
    if e.get("design") == "interrupted_time_series":
        before, after = e.get("its_points_before"), e.get("its_points_after")
        short = [f"{n} point{'s' if n != 1 else ''} {side}"
                 for n, side in ((before, "before"), (after, "after"))
                 if n is not None and int(n) < ITS_MIN_POINTS]
        if short:
            out.append(_warn(
                SHORT_SERIES, eid,
                f"This interrupted time series has only {' and '.join(short)} the "
                f"intervention; at least {ITS_MIN_POINTS} on each side are needed to tell a "
                "change in level or trend from ordinary variation.", EPOC_STUDY_DESIGNS))
    size = e.get("sample_size")
    if size is not None and claims and int(size) < SMALL_SAMPLE:
        out.append(_warn(
            SMALL, eid,
            f"The sample is small ({size} units, under {SMALL_SAMPLE}): chance alone can "
            "produce or hide an effect of the size usually sought.", SMALL_SAMPLE_REF))
    published = e.get("published_hi")
    if published is not None:
        early = sorted(str(i.get("id")) for i in e.get("initiatives") or ()
                       if i and i.get("end_lo") is not None and published < i["end_lo"])
        if early:
            out.append(_warn(
                EARLY, eid,
                f"Published before the initiative it evaluated ended ({', '.join(early)}): "
                "its findings cover only part of the initiative and may change.", EARLY_REF))
    return out


def verdict_warnings(verdict: str, behind: Sequence[Mapping[str, Any]]) -> list[DesignWarning]:
    """Warnings about a verdict as a whole, from the evaluations behind it (with their
    ``independent`` flag). A ``works`` verdict resting only on evaluations known to be
    by the delivering team is flagged; unknown independence is not."""
    if verdict != "works" or not behind:
        return []
    if all(b.get("independent") is False for b in behind):
        ids = ", ".join(str(b["id"]) for b in behind)
        return [_warn(
            SELF_EVALUATION, None,
            f"Self-evaluation only: every evaluation behind this works verdict ({ids}) was "
            "done by the team that delivered the initiative; no independent evaluation "
            "confirms it.", EPOC_INDEPENDENCE)]
    return []


def quality_rows(store: Store, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The properties the warnings need, for the evaluations ``ids``."""
    wanted = sorted(set(ids))
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):
        for row in store.read(queries.EVALUATION_QUALITY, {"ids": wanted[start:start + 500]}):
            row["initiatives"] = [i for i in row["initiatives"] or [] if i and i.get("id")]
            out[str(row["id"])] = row
    return out


def warnings_for(store: Store, ids: Iterable[str]) -> dict[str, list[DesignWarning]]:
    """Each evaluation's warnings (evaluations without any are left out)."""
    out: dict[str, list[DesignWarning]] = {}
    for eid, row in quality_rows(store, ids).items():
        found = evaluation_warnings(row)
        if found:
            out[eid] = found
    return out


def _shown(w: DesignWarning, rows: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A warning as pages and the CLI show it: with its evaluation's title, for people."""
    row = rows.get(w.evaluation_id or "") or {}
    return {**w.to_dict(), "evaluation_title": row.get("title") or w.evaluation_id}


def explain(store: Store, verdict: str, drivers: Sequence[str]) -> list[dict[str, Any]]:
    """The warnings to show beside a verdict: those of the evaluations behind it, then
    the verdict's own."""
    rows = quality_rows(store, drivers)
    out = [_shown(w, rows) for eid in drivers if eid in rows
           for w in evaluation_warnings(rows[eid])]
    out.extend(_shown(w, rows) for w in verdict_warnings(verdict, [rows[e] for e in drivers
                                                               if e in rows]))
    return out


def page_warnings(store: Store, verdict: str, drivers: Sequence[str],
                  evaluations: Iterable[str]) -> dict[str, Any]:
    """For a solution page: the warnings beside the verdict (``verdict_warnings``) and
    each listed evaluation's own (``evaluation_warnings``: id → warnings), in one read."""
    shown = list(evaluations)
    rows = quality_rows(store, [*drivers, *shown])
    per = {eid: [_shown(w, rows) for w in evaluation_warnings(rows[eid])]
           for eid in rows}
    beside = [w for eid in drivers for w in per.get(eid, [])]
    beside.extend(_shown(w, rows) for w in verdict_warnings(
        verdict, [rows[e] for e in drivers if e in rows]))
    return {"verdict_warnings": beside,
            "evaluation_warnings": {eid: per[eid] for eid in shown if per.get(eid)}}
