"""Design once, adapt locally: "tried in places like yours", where the evidence applies,
adaptations against outcomes, and a solution's national design (docs/adaptations.md).

Context of a site: its kind, deprivation (IMD decile), rurality (ONS class) and size
(registered patients). A value the site lacks is taken from the nearest area it is part
of (its sub-ICB location, then its ICB) and marked so; a value neither holds is unknown.

Similarity of two contexts (:func:`similarity`, the rule the explorer shows): a weighted
mean over the dimensions both sides know, each scored 0 to 1:

- kind (weight 0.4): 1 the same kind, 0.5 the same family (primary care: GP practice,
  PCN, care home; area: sub-ICB location, ICB, NHS region, local authority; provider:
  trust, hospital, ward, community or ambulance service), else 0;
- deprivation (0.25): 1 − |decile difference| / 9;
- rurality (0.2): 1 the same ONS class, 0.75 both urban or both rural, else 0;
- size (0.15): 1 − |log10 of the ratio of registered patients|, at least 0 (ten times
  larger or smaller scores 0).

A dimension unknown on either side is left out, not counted as a difference; the row
says which dimensions were compared. Nothing here changes a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from triedbefore.graph import NotFound, analytics, queries
from triedbefore.graph.store import Store
from triedbefore.ontology.vocab import COUNTED_LINKS, FrameFidelity, Rurality, SiteKind

COUNTED = [how.value for how in COUNTED_LINKS]

#: Weights of the similarity rule, by dimension (they sum to 1).
WEIGHTS: dict[str, float] = {"kind": 0.4, "deprivation": 0.25, "rurality": 0.2, "size": 0.15}
#: Families of kinds: two kinds of one family are half alike.
FAMILIES: dict[str, str] = {  # SiteKind members are their str values
    SiteKind.GP_PRACTICE: "primary care", SiteKind.PCN: "primary care",
    SiteKind.CARE_HOME: "primary care",
    SiteKind.SUB_ICB: "area", SiteKind.ICB: "area", SiteKind.NHS_REGION: "area",
    SiteKind.LOCAL_AUTHORITY: "area",
    SiteKind.TRUST: "provider", SiteKind.HOSPITAL: "provider", SiteKind.WARD: "provider",
    SiteKind.COMMUNITY_SERVICE: "provider", SiteKind.AMBULANCE_SERVICE: "provider",
}
RULE = ("Similarity is a weighted mean, over the dimensions both places have, of: kind "
        "(weight 0.4: 1 the same kind, 0.5 the same family — primary care, area, provider "
        "— else 0), deprivation (0.25: 1 minus the difference of IMD deciles divided by 9), "
        "rurality (0.2: 1 the same ONS class, 0.75 both urban or both rural, else 0) and "
        "size (0.15: 1 minus the base-10 logarithm of the ratio of registered patients, "
        "at least 0). A dimension either place lacks is left out, not counted as a "
        "difference; a value a site lacks is taken from the area it is part of, and said "
        "so.")
#: Deprivation bands the applicability summary uses (IMD deciles).
BANDS: tuple[tuple[str, range], ...] = (
    ("most deprived (IMD deciles 1–3)", range(1, 4)),
    ("middle (IMD deciles 4–7)", range(4, 8)),
    ("least deprived (IMD deciles 8–10)", range(8, 11)),
)
NOT_CAUSAL = ("Descriptive, not causal: attempts that kept or changed a part differ in "
              "other ways too, and the groups are small. Read the counts before any share.")


@dataclass(frozen=True)
class Context:
    """What is known of a site's context, and where each value came from."""

    site_id: str
    name: str
    kind: str
    imd_decile: int | None = None
    imd_score: float | None = None
    imd_year: int | None = None
    rurality: str | None = None
    patients: int | None = None
    patients_date: str | None = None
    #: Value name → the site it came from, when it is an area's (not the site's own).
    inherited: Mapping[str, str] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    illustrative: bool = False

    @property
    def rural(self) -> bool | None:
        return None if self.rurality is None else Rurality(self.rurality).rural

    def band(self) -> str | None:
        return band_of(self.imd_decile)

    def to_dict(self) -> dict[str, Any]:
        return {"site_id": self.site_id, "name": self.name, "kind": self.kind,
                "imd_decile": self.imd_decile, "imd_score": self.imd_score,
                "imd_year": self.imd_year, "rurality": self.rurality,
                "rural": self.rural, "registered_patients": self.patients,
                "registered_patients_date": self.patients_date,
                "inherited": dict(self.inherited), "sources": dict(self.sources),
                "illustrative": self.illustrative}


def band_of(decile: int | None) -> str | None:
    if decile is None:
        return None
    return next(name for name, deciles in BANDS if decile in deciles)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _context(chain: Sequence[Mapping[str, Any]]) -> Context:
    """A site's context from itself and the areas above it (nearest first)."""
    own = chain[0]
    inherited: dict[str, str] = {}
    sources: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, keys in (("deprivation", ("imd_decile", "imd_score", "imd_year", "imd_source")),
                       ("rurality", ("rurality", "rurality_source")),
                       ("size", ("registered_patients", "registered_patients_date",
                                 "registered_patients_source"))):
        for level, node in enumerate(chain):
            if node.get(keys[0]) is None:
                continue
            if level > 0 and name == "size":
                break  # the size of the area a site is in is not the site's size
            values.update({k: node.get(k) for k in keys})
            sources[name] = str(node.get(keys[-1]) or "")
            if level > 0:
                inherited[name] = str(node.get("id"))
            break
    return Context(
        site_id=str(own["id"]), name=str(own.get("name") or own["id"]),
        kind=str(own.get("kind") or "other"), imd_decile=_int(values.get("imd_decile")),
        imd_score=values.get("imd_score"), imd_year=_int(values.get("imd_year")),
        rurality=values.get("rurality"), patients=_int(values.get("registered_patients")),
        patients_date=values.get("registered_patients_date"), inherited=inherited,
        sources=sources, illustrative=own.get("illustrative") is True)


def contexts(store: Store, site_ids: Iterable[str]) -> dict[str, Context]:
    ids = sorted(set(site_ids))
    if not ids:
        return {}
    return {str(r["id"]): _context(r["chain"])
            for r in store.read(queries.SITE_CONTEXTS, {"ids": ids})}


def find_site(store: Store, text: str, limit: int = 10) -> list[dict[str, Any]]:
    """Sites whose ODS code is ``text`` or whose name holds it, the exact code first."""
    text = text.strip()
    if not text:
        return []
    return [dict(r) for r in store.read(queries.SITE_LOOKUP, {"q": text, "limit": limit})]


# --- the similarity rule ---------------------------------------------------------------

def kind_score(a: str, b: str) -> float:
    if a == b:
        return 1.0
    family = FAMILIES.get(a)
    return 0.5 if family is not None and family == FAMILIES.get(b) else 0.0


def similarity(mine: Context, theirs: Context) -> tuple[float, dict[str, float]]:
    """The similarity of two contexts (0 to 1) and the score of each dimension compared."""
    parts: dict[str, float] = {"kind": kind_score(mine.kind, theirs.kind)}
    if mine.imd_decile is not None and theirs.imd_decile is not None:
        parts["deprivation"] = 1 - abs(mine.imd_decile - theirs.imd_decile) / 9
    if mine.rurality is not None and theirs.rurality is not None:
        parts["rurality"] = (1.0 if mine.rurality == theirs.rurality
                             else 0.75 if mine.rural == theirs.rural else 0.0)
    if mine.patients and theirs.patients:
        parts["size"] = max(0.0, 1 - abs(math.log10(mine.patients / theirs.patients)))
    total = sum(WEIGHTS[k] for k in parts)
    score = sum(WEIGHTS[k] * v for k, v in parts.items()) / total
    return round(score, 3), {k: round(v, 3) for k, v in parts.items()}


# --- a solution's attempts, with context ------------------------------------------------

def _attempts(store: Store, solution_id: str) -> list[dict[str, Any]]:
    if not store.read(queries.SOLUTION_EXISTS, {"id": solution_id}):
        raise NotFound(f"no solution with id {solution_id!r}")
    rows = [dict(r) for r in store.read(queries.SOLUTION_ATTEMPT_CONTEXT,
                                        {"id": solution_id, "counted": COUNTED})]
    adaptations: dict[str, list[dict[str, Any]]] = {}
    for r in store.read(queries.SOLUTION_ADAPTATIONS, {"id": solution_id, "counted": COUNTED}):
        a = {k: v for k, v in dict(r["adaptation"]).items()
             if k not in ("row_hash", "run_id")}
        a["component_id"] = r["component_id"]
        adaptations.setdefault(str(r["initiative_id"]), []).append(a)
    for row in rows:
        row["evaluations"] = sorted((dict(e) for e in row["evaluations"] or []),
                                    key=lambda e: (e.get("published_date_hi") or 0, e["id"]))
        row["outcomes"] = sorted((dict(o) for o in row["outcomes"] or []),
                                 key=lambda o: str(o["id"]))
        row["adaptations"] = adaptations.get(str(row["id"]), [])
        row["sites"] = sorted(str(s) for s in row["sites"] or [])
    return rows


def _published(evaluation: Mapping[str, Any], when: int | None) -> bool:
    hi = evaluation.get("published_date_hi")
    return when is None or hi is None or int(hi) <= when


def places_like(store: Store, site_id: str, solution_id: str, *, limit: int = 10,
                when: int | None = None) -> dict[str, Any]:
    """The attempts at ``solution_id`` ranked by how alike their places are to
    ``site_id``'s (the closest of an attempt's sites counts)."""
    attempts = _attempts(store, solution_id)
    ctx = contexts(store, [site_id, *(s for a in attempts for s in a["sites"])])
    if site_id not in ctx:
        raise NotFound(f"no site with id {site_id!r}")
    mine = ctx[site_id]
    ranked: list[dict[str, Any]] = []
    for attempt in attempts:
        best: tuple[float, dict[str, float], Context] | None = None
        for sid in attempt["sites"]:
            if sid not in ctx:
                continue
            score, parts = similarity(mine, ctx[sid])
            if best is None or (score, len(parts)) > (best[0], len(best[1])):
                best = (score, parts, ctx[sid])
        if best is None:
            continue
        evaluations = [e for e in attempt["evaluations"] if _published(e, when)]
        ranked.append({
            "initiative_id": attempt["id"], "title": attempt["title"],
            "start_date": attempt["start_date"], "status": attempt["status"],
            "illustrative": attempt["illustrative"] is True,
            "similarity": best[0], "compared": best[1], "site": best[2].to_dict(),
            "same_site": best[2].site_id == site_id,
            "evaluations": [{k: e.get(k) for k in ("id", "title", "finding", "design",
                                                    "published_date", "illustrative")}
                            for e in evaluations],
            "outcomes": attempt["outcomes"], "adaptations": attempt["adaptations"]})
    ranked.sort(key=lambda r: (-r["similarity"], -len(r["compared"]), r["initiative_id"]))
    known = [d for d in ("deprivation", "rurality", "size")
             if getattr(mine, {"deprivation": "imd_decile", "rurality": "rurality",
                               "size": "patients"}[d]) is not None]
    return {"site": mine.to_dict(), "solution_id": solution_id, "rule": RULE,
            "weights": WEIGHTS, "known": ["kind", *known],
            "missing": [d for d in ("deprivation", "rurality", "size") if d not in known],
            "attempts": ranked[:limit], "total": len(ranked)}


# --- where the evidence applies ----------------------------------------------------------

def applicability(store: Store, solution_id: str, *, when: int | None = None,
                  attempts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The contexts the solution's evaluations covered, and those none did."""
    attempts = _attempts(store, solution_id) if attempts is None else attempts
    evaluated = [a for a in attempts
                 if any(_published(e, when) for e in a["evaluations"])]
    ctx = contexts(store, {s for a in attempts for s in a["sites"]})
    sites = [ctx[s] for a in evaluated for s in a["sites"] if s in ctx]
    tried = [ctx[s] for a in attempts for s in a["sites"] if s in ctx]
    kinds = _count(c.kind for c in sites)
    bands = _count(c.band() for c in sites if c.band() is not None)
    rurality = _count(("rural" if c.rural else "urban") for c in sites if c.rural is not None)
    gaps: list[str] = []
    for kind in sorted({c.kind for c in tried} - set(kinds)):
        gaps.append(f"no evaluation of an attempt at a {_kind_words(kind)}")
    if sites and bands:
        for name, _ in BANDS:
            if name not in bands:
                label, deciles = name.split(" (", 1)
                gaps.append(f"no evaluation in a {label} place ({deciles}")
    elif sites:
        gaps.append("the deprivation of the evaluated places is not known")
    if sites and rurality:
        for broad in ("urban", "rural"):
            if broad not in rurality:
                gaps.append(f"no evaluation in {'an' if broad == 'urban' else 'a'} "
                            f"{broad} place")
    elif sites:
        gaps.append("the rurality of the evaluated places is not known")
    return {"solution_id": solution_id, "evaluated_attempts": len(evaluated),
            "evaluated_sites": len(sites),
            "covered": {"kinds": kinds, "deprivation": bands, "rurality": rurality},
            "unknown": {"deprivation": sum(1 for c in sites if c.imd_decile is None),
                        "rurality": sum(1 for c in sites if c.rurality is None)},
            "not_covered": gaps,
            "note": "This qualifies the verdict; it changes no verdict."}


def _count(values: Iterable[str | None]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        if v is not None:
            out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def _kind_words(kind: str) -> str:
    return kind.replace("_", " ").replace("icb", "ICB").replace("gp ", "GP ").replace(
        "sub ICB", "sub-ICB location").replace("pcn", "PCN").replace("nhs ", "NHS ")


def outside(applies: Mapping[str, Any], mine: Context) -> list[str]:
    """Warnings when ``mine`` lies outside what the evaluations covered (none when inside,
    and none when the evaluations covered nothing known: the verdict says so already)."""
    covered = applies["covered"]
    if not applies["evaluated_sites"]:
        return []
    warnings: list[str] = []
    if mine.kind not in covered["kinds"]:
        warnings.append(f"No evaluation of this solution studied an attempt at a "
                        f"{_kind_words(mine.kind)}, as {mine.name} is.")
    band = mine.band()
    if band is not None and covered["deprivation"] and band not in covered["deprivation"]:
        warnings.append(f"{mine.name} is among the {band}; no evaluated attempt was in such "
                        "a place.")
    if mine.rural is not None and covered["rurality"]:
        broad = "rural" if mine.rural else "urban"
        if broad not in covered["rurality"]:
            article = "an" if broad == "urban" else "a"
            warnings.append(f"{mine.name} is {broad}; no evaluated attempt was in {article} "
                            f"{broad} place.")
    return warnings


# --- adaptations against outcomes; the national design ------------------------------------

def _attempt_result(attempt: Mapping[str, Any]) -> str:
    """How an attempt went, by its outcomes' directions: improved (some improved, none
    worsened), worsened (some worsened, none improved), mixed, no change, or unknown."""
    directions = {o.get("direction") for o in attempt["outcomes"]}
    if not directions:
        return "not measured"
    if "improved" in directions and "worsened" not in directions:
        return "improved"
    if "worsened" in directions and "improved" not in directions:
        return "worsened"
    if directions == {"no_change"}:
        return "no change"
    return "mixed"


def _group(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    results = _count(_attempt_result(a) for a in attempts)
    findings = _count(e.get("finding") for a in attempts for e in a["evaluations"])
    return {"attempts": len(attempts), "outcomes": results, "findings": findings,
            "initiative_ids": [a["id"] for a in attempts]}


def design(store: Store, solution_id: str) -> dict[str, Any]:
    """A solution's national design: versions with the attempts that follow each, its
    components, the map of local adaptations, attempts that dropped a core component, and
    adaptations against outcomes (descriptive, with counts)."""
    attempts = _attempts(store, solution_id)
    versions = [{k: v for k, v in dict(r["version"]).items()
                 if k not in ("row_hash", "run_id") and not k.endswith(("_lo", "_hi"))}
                for r in store.read(queries.SOLUTION_VERSIONS, {"id": solution_id})]
    components = []
    for r in store.read(queries.SOLUTION_COMPONENTS, {"id": solution_id}):
        c = {k: v for k, v in dict(r["component"]).items() if k not in ("row_hash", "run_id")}
        c["versions"] = sorted(str(v) for v in r["versions"] or [])
        components.append(c)
    by_version: dict[str, list[str]] = {str(v["id"]): [] for v in versions}
    unversioned: list[str] = []
    for a in attempts:
        for v in a["versions"] or []:
            by_version.setdefault(str(v), []).append(str(a["id"]))
        if not a["versions"]:
            unversioned.append(str(a["id"]))
    for v in versions:
        v["attempts"] = by_version.get(str(v["id"]), [])
        v["components"] = [c["id"] for c in components
                           if not c["versions"] or v["id"] in c["versions"]]
    core = {str(c["id"]) for c in components if c.get("role") == "core"}
    adaptations = [dict(ad, initiative_id=a["id"]) for a in attempts for ad in a["adaptations"]]
    dropped = [ad for ad in adaptations
               if ad.get("component_id") in core
               and (ad.get("fidelity") == FrameFidelity.INCONSISTENT
                    or ad.get("nature") in ("removing", "drift"))]
    # Map: per component (and for changes to no named component), who changed it and how.
    mapped: list[dict[str, Any]] = []
    for c in [*components, {"id": None, "name": "No named component", "role": None}]:
        mine = [ad for ad in adaptations if ad.get("component_id") == c["id"]]
        if c["id"] is None and not mine:
            continue
        mapped.append({"component_id": c["id"], "name": c["name"], "role": c.get("role"),
                       "adaptations": mine,
                       "attempts": sorted({str(ad["initiative_id"]) for ad in mine})})
    # Adaptations against outcomes: per component, the attempts that changed it and the
    # others; and by fidelity.
    by_id = {str(a["id"]): a for a in attempts}
    groups: list[dict[str, Any]] = []
    for entry in mapped:
        if entry["component_id"] is None:
            continue
        changed = [by_id[i] for i in entry["attempts"]]
        kept = [a for a in attempts if str(a["id"]) not in entry["attempts"]]
        groups.append({"component_id": entry["component_id"], "name": entry["name"],
                       "role": entry["role"], "changed": _group(changed),
                       "kept": _group(kept)})
    fidelity_of: dict[str, str] = {}
    for a in attempts:
        values = {ad.get("fidelity") for ad in a["adaptations"]}
        fidelity_of[str(a["id"])] = (
            "none recorded" if not values else
            "fidelity-inconsistent" if "inconsistent" in values else
            "unknown" if "unknown" in values else "fidelity-consistent only")
    by_fidelity = {name: _group([a for a in attempts if fidelity_of[str(a["id"])] == name])
                   for name in ("fidelity-consistent only", "fidelity-inconsistent",
                                "unknown", "none recorded")}
    deviants, notes = _positive_deviants(store, attempts)
    return {"solution_id": solution_id, "versions": versions, "components": components,
            "unversioned_attempts": unversioned, "attempts": len(attempts),
            "adapted_attempts": len({str(ad["initiative_id"]) for ad in adaptations}),
            "adaptations": len(adaptations), "map": mapped, "dropped_core": dropped,
            "against_outcomes": {"by_component": groups, "by_fidelity": by_fidelity,
                                 "warning": NOT_CAUSAL},
            "positive_deviants": deviants, "deviance_notes": notes}


def _positive_deviants(store: Store, attempts: list[dict[str, Any]]
                       ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The attempts that are positive deviants on a measure they report (the explorer's
    positive deviance: an improvement far above the peers that measured the same thing,
    robust z ≥ 2; docs/analytics.md), with their adaptations; and per measure, what the
    comparison could say."""
    by_id = {str(a["id"]): a for a in attempts}
    found: dict[str, list[dict[str, Any]]] = {}
    notes: list[dict[str, Any]] = []
    for measure in sorted({str(o["measure"]) for a in attempts for o in a["outcomes"]
                           if o.get("measure")}):
        try:
            result = analytics.deviance(store, measure)
        except NotFound:  # pragma: no cover - the measure was just read
            continue
        notes.append({"measure": measure, "outcomes": result.outcomes, "note": result.note})
        for d in result.deviants:
            if str(d["initiative_id"]) in by_id:
                found.setdefault(str(d["initiative_id"]), []).append(
                    {"measure": measure, "score": d["score"],
                     "relative_change": d["relative_change"]})
    deviants = [{"initiative_id": i, "title": by_id[i]["title"], "measures": found[i],
                 "adaptations": by_id[i]["adaptations"]} for i in sorted(found)]
    return deviants, notes


def summary(store: Store, solution_id: str, site_id: str | None = None, *,
            when: int | None = None) -> dict[str, Any]:
    """What a solution page shows: the design in brief, where the evidence applies and,
    for a chosen site, the places like it (with the warnings for its context)."""
    attempts = _attempts(store, solution_id)
    applies = applicability(store, solution_id, when=when, attempts=attempts)
    adapted = [dict(ad, initiative_id=a["id"], initiative_title=a["title"])
               for a in attempts for ad in a["adaptations"]]
    out: dict[str, Any] = {"applicability": applies, "adaptations": adapted,
                           "site_query": None, "site_choices": [], "places_like": None,
                           "context_warnings": []}
    if site_id:
        out["site_query"] = site_id
        found = find_site(store, site_id)
        exact = [f for f in found if f["exact"]]
        chosen = exact[0] if exact else (found[0] if len(found) == 1 else None)
        out["site_choices"] = [] if chosen else found
        if chosen is not None:
            like = places_like(store, str(chosen["id"]), solution_id, when=when)
            mine = contexts(store, [str(chosen["id"])])[str(chosen["id"])]
            out["places_like"] = like
            out["context_warnings"] = outside(applies, mine)
    return out


def for_check(store: Store, site: str, solution_ids: Sequence[str], *,
              when: int | None = None, limit: int = 3) -> dict[str, Any]:
    """The proposal check for a proposer's organisation: per matched solution, whether the
    proposer's context lies outside what its evaluations covered, and the attempts in the
    places most like the proposer's."""
    found = find_site(store, site)
    exact = [f for f in found if f["exact"]]
    chosen = exact[0] if exact else (found[0] if len(found) == 1 else None)
    if chosen is None:
        return {"query": site, "site": None, "choices": found, "solutions": []}
    mine = contexts(store, [str(chosen["id"])])[str(chosen["id"])]
    per: list[dict[str, Any]] = []
    for sid in solution_ids:
        attempts = _attempts(store, sid)
        applies = applicability(store, sid, when=when, attempts=attempts)
        like = places_like(store, mine.site_id, sid, limit=limit, when=when)
        per.append({"solution_id": sid, "warnings": outside(applies, mine),
                    "not_covered": applies["not_covered"],
                    "places_like": like["attempts"]})
    return {"query": site, "site": mine.to_dict(), "choices": [], "solutions": per,
            "rule": RULE}


def today() -> int:
    """Today as days since 1970-01-01 (the graph's day numbers)."""
    return (date.today() - date(1970, 1, 1)).days
