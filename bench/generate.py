"""Deterministic generator of large interchange bundles, for load and query benchmarks.

    python bench/generate.py DEST --initiatives 100000 [--seed 1]

It writes the five CSV files of ``shared/spec/interchange.md`` to DEST and streams
rows as it makes them. Memory stays flat: it holds only the sites, the solutions and
a few recent ids per solution. The same seed and size always give byte-identical
files. Only ``random.Random`` is used.

Counts follow the number of initiatives *n*:
- sites: min(7000, max(50, n // 14)). ICBs in the seven NHS England regions;
  sub-ICB locations under each ICB; GP practices and care homes under a sub-ICB;
  trusts under an ICB.
- solutions: max(20, n // 200).
- outcomes: about one per initiative.
- evaluations: about one per four initiatives, each covering one to three
  initiatives of one solution.

Every value is synthetic and every id starts with ``G-``. The value mix is
realistic:
- start dates come in three precisions;
- about 5% of initiatives have no ``solution_id``;
- ``learned_from`` is set on about 12% of initiatives;
- about 1% of initiatives are restricted;
- reviews carry an AMSTAR rating and a few rows set ``sms_level``.

Each solution has a hidden effect, and its evaluations' findings follow that
effect. So some solutions acquire negative evidence, and later attempts that do
not cite it become zombie repeats without being planted.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import random
import shutil
import sys
import time
from datetime import date
from pathlib import Path

COLUMNS: dict[str, list[str]] = {
    "sites": ["site_id", "name", "kind", "parent_id", "postcode", "region", "lat", "lon"],
    "solutions": ["solution_id", "name", "aliases", "description", "intervention_type",
                  "technology", "problem", "tags"],
    "initiatives": ["initiative_id", "title", "description", "solution_id", "site_ids",
                    "start_date", "end_date", "status", "funder", "cost_gbp", "learned_from",
                    "source_url", "visibility"],
    "outcomes": ["outcome_id", "initiative_id", "measure", "domain", "baseline", "value",
                 "unit", "direction", "period_start", "period_end", "visibility"],
    "evaluations": ["evaluation_id", "initiative_ids", "title", "design", "sms_level",
                    "review_quality", "finding", "published_date", "independent",
                    "sample_size", "evaluator", "doi", "url", "outcome_ids", "visibility"],
}

# NHS England regions and their ONS centroids (lat, lon).
REGIONS = [
    ("London", 51.4923, -0.30866),
    ("South East", 51.4341, -0.96957),
    ("South West", 50.8112, -3.63343),
    ("East of England", 52.1766, 0.425889),
    ("North West", 53.8981, -2.65755),
    ("Midlands", 52.7269, -1.45821),
    ("North East and Yorkshire", 54.5378, -2.18039),
]

PLACE_HEAD = ["Ash", "Bram", "Cal", "Dun", "Elm", "Fen", "Glen", "Hart", "Kel", "Lang", "Mar",
              "Nor", "Oak", "Pen", "Red", "Stan", "Thorn", "Wey", "Whit", "Ald", "Brock",
              "Cran", "Hol", "Lind"]
PLACE_TAIL = ["bury", "field", "ford", "ham", "ley", "mouth", "ton", "wick", "worth", "stead",
              "by", "bridge", "dale", "combe"]
PRACTICE = ["Medical Centre", "Surgery", "Health Centre", "Group Practice", "Medical Practice",
            "Family Practice"]
TRUST = ["Hospitals NHS Foundation Trust", "NHS Trust", "Teaching Hospitals NHS Trust",
         "Community Health NHS Trust", "Healthcare NHS Foundation Trust"]
CARE_HOME = ["Lodge", "House", "Court", "Grange", "Manor"]

# (name, aliases, intervention type, technology, problem, tags, measures)
# A measure is (text, domain, unit, baseline low, baseline high, lower is better).
BASE_SOLUTIONS = [
    ("Virtual ward", "hospital at home|H@H|virtual hospital", "delivery_arrangements", True,
     "Avoidable admissions and long stays", "admission avoidance|frailty",
     [("Emergency admissions per 1,000 patients", "efficient", "per 1,000", 150, 400, True),
      ("Emergency readmissions within 30 days", "safe", "%", 10, 25, True)]),
    ("Enhanced health in care homes", "EHCH|care home support|aligned GP for care homes",
     "delivery_arrangements", False, "Emergency admissions from care homes",
     "care homes|older people",
     [("Emergency admissions from care homes per 1,000 residents", "efficient",
       "per 1,000 residents", 550, 900, True)]),
    ("Social prescribing link workers", "social prescribing|link workers|SPLW",
     "delivery_arrangements", False, "GP time on non-medical needs", "primary care|loneliness",
     [("GP consultations per patient per year", "efficient", "consultations", 5, 10, True)]),
    ("Frailty assessment at the front door", "acute frailty unit|frailty front door",
     "delivery_arrangements", False, "Long stays for frail older people", "frailty|ED",
     [("Same-day discharges of frail older people", "timely", "%", 8, 25, False)]),
    ("Telehealth monitoring for COPD", "home telehealth|telemonitoring|COPD telehealth",
     "delivery_arrangements", True, "COPD exacerbation admissions", "COPD|remote monitoring",
     [("COPD admissions per 1,000 patients on the register", "effective", "per 1,000",
       150, 260, True)]),
    ("Digital triage", "online consultation|total triage|e-consultation",
     "delivery_arrangements", True, "Telephone queues for GP appointments", "access|digital",
     [("Patients who find it easy to get through", "timely", "%", 40, 80, False)]),
    ("Pharmacist-led medication review", "structured medication review|SMR|care home pharmacist",
     "delivery_arrangements", False, "Polypharmacy", "medicines|care homes",
     [("Medicines per resident", "safe", "items", 6, 12, True)]),
    ("High-intensity user service", "HIU|frequent attender service", "delivery_arrangements",
     False, "Very frequent A&E attendance", "ED|case management",
     [("A&E attendances per enrolled patient per year", "efficient", "attendances", 10, 40,
       True)]),
    ("Discharge to assess", "D2A|home first", "delivery_arrangements", False,
     "Delayed discharges", "discharge|flow",
     [("Days from discharge-ready to discharge", "timely", "days", 3, 12, True)]),
    ("Same-day emergency care", "SDEC|ambulatory emergency care", "delivery_arrangements", False,
     "Short emergency admissions", "emergency care|flow",
     [("Emergency admissions with zero length of stay", "efficient", "%", 10, 30, True)]),
    ("Community diagnostic centre", "CDC|diagnostic hub", "delivery_arrangements", False,
     "Long waits for diagnostic tests", "diagnostics|waiting lists",
     [("Patients waiting over six weeks for a test", "timely", "%", 10, 45, True)]),
    ("Patient activation coaching", "health coaching|PAM coaching", "implementation_strategies",
     False, "Low confidence in self-management", "self-management|coaching",
     [("Patient Activation Measure score", "patient_centred", "score", 45, 65, False)]),
    ("Falls prevention exercise programme", "strength and balance classes|falls service",
     "delivery_arrangements", False, "Falls and fractures in older people", "falls|older people",
     [("Falls-related admissions per 1,000 people aged 65+", "safe", "per 1,000", 10, 30,
       True)]),
    ("Pay for performance for diabetes care", "P4P|quality premium",
     "financial_arrangements", False, "Variation in diabetes care processes", "diabetes|incentives",
     [("Patients receiving all eight care processes", "effective", "%", 30, 70, False)]),
    ("Integrated care board clinical networks", "clinical network|managed clinical network",
     "governance_arrangements", False, "Fragmented specialist pathways", "networks|pathways",
     [("Referral-to-treatment within 18 weeks", "timely", "%", 50, 90, False)]),
    ("Audit and feedback on antibiotic prescribing", "prescribing feedback|AMS feedback",
     "implementation_strategies", False, "Overuse of antibiotics", "antimicrobials|audit",
     [("Antibiotic items per 1,000 patients", "safe", "items", 400, 800, True)]),
    ("Remote consultation for outpatients", "video outpatients|virtual clinic",
     "delivery_arrangements", True, "Travel and waits for follow-up", "outpatients|digital",
     [("Outpatient follow-ups not attended", "efficient", "%", 5, 15, True)]),
    ("Mental health crisis café", "crisis café|safe haven", "delivery_arrangements", False,
     "A&E used for mental health crises", "mental health|crisis",
     [("Mental health A&E attendances per month", "efficient", "attendances", 40, 200, True)]),
    ("Community respiratory hub", "respiratory hub|ARI hub", "delivery_arrangements", False,
     "Winter respiratory demand", "respiratory|winter",
     [("Respiratory admissions per 1,000 patients", "efficient", "per 1,000", 10, 40, True)]),
    ("Early supported discharge for stroke", "ESD|stroke ESD", "delivery_arrangements", False,
     "Long stroke unit stays", "stroke|rehabilitation",
     [("Stroke unit length of stay", "efficient", "days", 8, 25, True)]),
]
VARIANTS = ["for children", "for people with dementia", "in rural areas", "out of hours",
            "for people with learning disabilities", "led by nurses", "in deprived areas",
            "for older people", "delivered digitally", "at scale"]

DESIGNS = [  # (design, weight)
    ("systematic_review", 4), ("rct", 5), ("cluster_rct", 4), ("stepped_wedge", 2),
    ("regression_discontinuity", 1), ("matched_comparison", 6), ("non_randomised_trial", 3),
    ("difference_in_differences", 6), ("interrupted_time_series", 7),
    ("controlled_before_after", 6), ("before_after", 18), ("cross_sectional", 6),
    ("economic", 6), ("mixed_methods", 8), ("qualitative", 9), ("case_study", 9),
]
FINDINGS = ["positive", "mixed", "no_effect", "negative", "inconclusive"]
# Weights of each finding, by the solution's hidden effect.
EFFECTS = {
    "works": [70, 15, 8, 1, 6],
    "null": [20, 20, 40, 5, 15],
    "harmful": [5, 10, 35, 40, 10],
    "uncertain": [30, 30, 15, 5, 20],
    "untested": [50, 30, 5, 0, 15],  # only qualitative work and case studies
}
EFFECT_WEIGHTS = [("works", 35), ("null", 25), ("harmful", 5), ("uncertain", 25),
                  ("untested", 10)]
UNTESTED_DESIGNS = ["qualitative", "case_study"]
EVALUATORS = ["Independent academic evaluation team", "Commissioning support unit analytics",
              "Trust quality improvement team", "Applied research collaboration",
              "National evaluation partner", "Local authority public health team"]
FUNDERS = ["NHS England", "Integrated care board", "Better Care Fund", "Health Foundation",
           "NIHR", "Local authority", "Hospital charity", ""]

FIRST_DAY = date(2008, 1, 1).toordinal()
LAST_DAY = date(2025, 12, 31).toordinal()
BASE_DAY = date(2010, 1, 1).toordinal()


def _fmt_date(ordinal: int, precision: str) -> str:
    d = date.fromordinal(ordinal)
    if precision == "day":
        return d.isoformat()
    if precision == "month":
        return f"{d.year:04d}-{d.month:02d}"
    return f"{d.year:04d}"


def _first_day(ordinal: int, precision: str) -> int:
    d = date.fromordinal(ordinal)
    if precision == "day":
        return ordinal
    return date(d.year, d.month if precision == "month" else 1, 1).toordinal()


def _last_day(ordinal: int, precision: str) -> int:
    d = date.fromordinal(ordinal)
    if precision == "day":
        return ordinal
    if precision == "year":
        return date(d.year, 12, 31).toordinal()
    nxt = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return nxt.toordinal() - 1


def _precision(rng: random.Random) -> str:
    r = rng.random()
    return "day" if r < 0.6 else "month" if r < 0.85 else "year"


def _place(rng: random.Random) -> str:
    return rng.choice(PLACE_HEAD) + rng.choice(PLACE_TAIL)


def _sms_level(design: str, review_quality: str, override: str) -> int:
    if override:
        return int(override)
    if design == "systematic_review":
        return {"high": 5, "moderate": 5, "critically_low": 0}.get(review_quality, 3)
    return {"rct": 5, "cluster_rct": 5, "stepped_wedge": 5, "regression_discontinuity": 4,
            "matched_comparison": 4, "difference_in_differences": 3,
            "controlled_before_after": 3, "interrupted_time_series": 3,
            "non_randomised_trial": 3}.get(design, 0 if design in ("qualitative", "case_study")
                                           else 1)


class _Writers:
    def __init__(self, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        self.files = {k: (dest / f"{k}.csv").open("w", newline="", encoding="utf-8")
                      for k in COLUMNS}
        self.writers = {k: csv.writer(f, lineterminator="\n") for k, f in self.files.items()}
        self.counts = dict.fromkeys(COLUMNS, 0)
        for k, w in self.writers.items():
            w.writerow(COLUMNS[k])

    def row(self, kind: str, values: list[object]) -> None:
        self.writers[kind].writerow(values)
        self.counts[kind] += 1

    def close(self) -> None:
        for f in self.files.values():
            f.close()


def _sites(rng: random.Random, out: _Writers, n_sites: int) -> list[str]:
    """Write the site hierarchy; return the ids of sites where initiatives happen."""
    n_icb = min(42, max(len(REGIONS), n_sites // 160))
    n_sub = max(n_icb, min(n_icb * 4, n_sites // 40))
    n_trust = max(n_icb, n_sites // 30)
    n_rest = max(0, n_sites - n_icb - n_sub - n_trust)
    n_home = n_rest // 20
    n_practice = n_rest - n_home
    delivery: list[str] = []
    icbs = []
    for i in range(n_icb):
        region, lat, lon = REGIONS[i % len(REGIONS)]
        lat, lon = lat + rng.gauss(0, 0.35), lon + rng.gauss(0, 0.45)
        sid = f"G-ICB-{i + 1:03d}"
        icbs.append((sid, region, lat, lon))
        out.row("sites", [sid, f"NHS {_place(rng)} and {_place(rng)} Integrated Care Board",
                          "icb", "", "", region, f"{lat:.5f}", f"{lon:.5f}"])
    subs = []
    for i in range(n_sub):
        parent, region, plat, plon = icbs[i % n_icb]
        lat, lon = plat + rng.gauss(0, 0.15), plon + rng.gauss(0, 0.2)
        sid = f"G-SUB-{i + 1:04d}"
        subs.append((sid, region, lat, lon))
        delivery.append(sid)
        out.row("sites", [sid, f"NHS {_place(rng)} sub-ICB location", "sub_icb", parent, "",
                          region, f"{lat:.5f}", f"{lon:.5f}"])
    for i in range(n_trust):
        parent, region, plat, plon = icbs[rng.randrange(n_icb)]
        kind = "ambulance_service" if i % 25 == 24 else "trust"
        name = (f"{_place(rng)} Ambulance Service NHS Trust" if kind == "ambulance_service"
                else f"{_place(rng)} {rng.choice(TRUST)}")
        sid = f"G-TR-{i + 1:04d}"
        delivery.append(sid)
        out.row("sites", [sid, name, kind, parent, "", region,
                          f"{plat + rng.gauss(0, 0.15):.5f}", f"{plon + rng.gauss(0, 0.2):.5f}"])
    for i in range(n_practice + n_home):
        parent, region, plat, plon = subs[rng.randrange(n_sub)]
        if i < n_practice:
            sid, kind = f"G-GP-{i + 1:05d}", "gp_practice"
            name = f"{_place(rng)} {rng.choice(PRACTICE)}"
        else:
            sid, kind = f"G-CH-{i - n_practice + 1:04d}", "care_home"
            name = f"{_place(rng)} {rng.choice(CARE_HOME)} Care Home"
        delivery.append(sid)
        out.row("sites", [sid, name, kind, parent, "", region,
                          f"{plat + rng.gauss(0, 0.06):.5f}", f"{plon + rng.gauss(0, 0.08):.5f}"])
    return delivery


class _Solution:
    __slots__ = ("sid", "name", "measures", "effect", "inis", "evals", "pending", "target",
                 "eval_p")

    def __init__(self, sid: str, name: str, measures: list[tuple], effect: str) -> None:
        self.sid, self.name = sid, name
        self.measures, self.effect = measures, effect
        self.inis: list[str] = []  # recent initiative ids (bounded)
        self.evals: list[tuple[str, int, str]] = []  # recent (id, last day published, finding)
        self.pending: list[tuple[str, int, list[str]]] = []  # awaiting evaluation
        self.target = 1
        self.eval_p = 0.6  # chance that a batch of initiatives gets evaluated


def _solutions(rng: random.Random, out: _Writers, n_solutions: int) -> list[_Solution]:
    sols = []
    for i in range(n_solutions):
        name, aliases, itype, tech, problem, tags, measures = BASE_SOLUTIONS[
            i % len(BASE_SOLUTIONS)]
        round_ = i // len(BASE_SOLUTIONS)
        if round_:
            variant = VARIANTS[(round_ - 1) % len(VARIANTS)]
            suffix = f" {variant}" + (f" ({round_ // len(VARIANTS) + 1})"
                                      if round_ > len(VARIANTS) else "")
            name = name + suffix
        effect = rng.choices([e for e, _ in EFFECT_WEIGHTS],
                             weights=[w for _, w in EFFECT_WEIGHTS])[0]
        sid = f"G-SOL-{i + 1:04d}"
        sols.append(_Solution(sid, name, measures, effect))
        out.row("solutions", [sid, name, aliases, f"{name}: {problem.lower()}.", itype,
                              "true" if tech else "false", problem, tags])
    return sols


def generate_bundle(dest: Path, initiatives: int, seed: int = 1) -> dict[str, int]:
    """Write a synthetic bundle of ``initiatives`` initiatives to ``dest``; return row counts
    per file (keys ``sites``, ``solutions``, ``initiatives``, ``outcomes``, ``evaluations``)."""
    rng = random.Random(seed)
    out = _Writers(Path(dest))
    try:
        delivery = _sites(rng, out, min(7000, max(50, initiatives // 14)))
        sols = _solutions(rng, out, max(20, initiatives // 200))
        popularity = [rng.paretovariate(1.2) for _ in sols]
        cum = list(itertools.accumulate(popularity))
        # the least tried third of solutions is rarely evaluated: thin evidence, varied verdicts
        rare = sorted(popularity)[len(sols) // 3]
        for sol, pop in zip(sols, popularity, strict=True):
            sol.eval_p = 0.1 if pop < rare else 0.6
        design_names = [d for d, _ in DESIGNS]
        design_weights = [w for _, w in DESIGNS]
        n_out = n_eval = 0
        span = 15.5 * 365.25
        for i in range(initiatives):
            iid = f"G-INI-{i + 1:06d}"
            day = BASE_DAY + int((i / max(1, initiatives)) * span + rng.gauss(0, 400))
            day = min(LAST_DAY, max(FIRST_DAY, day))
            precision = _precision(rng)
            start_lo = _first_day(day, precision)
            sol = None if rng.random() < 0.05 else rng.choices(sols, cum_weights=cum)[0]
            k = 1 if rng.random() < 0.8 else 2 if rng.random() < 0.75 else 3
            sites = "|".join(sorted({rng.choice(delivery) for _ in range(k)}))
            place = _place(rng)
            if sol is None:
                base = rng.choice(BASE_SOLUTIONS)
                alias = rng.choice(base[1].split("|"))
                title = f"{alias[0].upper()}{alias[1:]} pilot, {place}"
                description = f"Local pilot of {base[0].lower()} in {place}."
            else:
                title = f"{sol.name}, {place}"
                description = f"{sol.name} introduced across {place}."
            end = ""
            status = "active"
            if rng.random() < 0.5:
                end_day = day + rng.randint(365, 4 * 365)
                if end_day <= LAST_DAY:
                    end = _fmt_date(end_day, "month" if rng.random() < 0.5 else "day")
                    status = "stopped" if rng.random() < 0.15 else "completed"
            if not end and day > LAST_DAY - 120:
                status = "planned"
            if rng.random() < 0.05:
                status = ""
            learned = ""
            if sol is not None:
                prior = [e for e in sol.evals if e[1] < start_lo]
                failed = [e for e in prior if e[2] in ("no_effect", "negative")]
                # teams that find negative evidence cite it more often (informed re-tries)
                if failed and rng.random() < 0.3:
                    learned = rng.choice(failed)[0]
                elif rng.random() < 0.08:
                    if prior:
                        learned = rng.choice(prior)[0]
                    elif sol.inis:
                        learned = rng.choice(sol.inis)
            cost = f"{rng.randint(1, 400) * 2500}" if rng.random() < 0.6 else ""
            visibility = "restricted" if rng.random() < 0.01 else ""
            out.row("initiatives", [
                iid, title, description, sol.sid if sol else "", sites,
                _fmt_date(day, precision), end, status, rng.choice(FUNDERS), cost, learned, "",
                visibility])
            # outcomes: 0, 1 or 2 per initiative, one on average; none for planned ones
            outcome_ids = []
            n_outcomes = rng.choice((0, 1, 1, 1, 2)) if status != "planned" else 0
            measures = sol.measures if sol else rng.choice(BASE_SOLUTIONS)[6]
            for _ in range(n_outcomes):
                n_out += 1
                oid = f"G-OUT-{n_out:07d}"
                outcome_ids.append(oid)
                text, domain, unit, low, high, lower_better = rng.choice(measures)
                baseline = rng.uniform(low, high)
                good = sol is not None and sol.effect == "works"
                change = rng.gauss(0.12 if good else 0.0, 0.08)
                value = baseline * (1 - change if lower_better else 1 + change)
                direction = ("no_change" if abs(change) < 0.03
                             else "improved" if change > 0 else "worsened")
                p_start = min(LAST_DAY, day + rng.randint(90, 400))
                has_numbers = rng.random() < 0.9
                out.row("outcomes", [
                    oid, iid, text, domain, f"{baseline:.1f}" if has_numbers else "",
                    f"{value:.1f}" if has_numbers else "", unit, direction,
                    _fmt_date(p_start, "month"), _fmt_date(min(LAST_DAY, p_start + 364),
                                                             "month"), ""])
            if sol is None:
                continue
            sol.inis.append(iid)
            del sol.inis[:-5]
            sol.pending.append((iid, start_lo, outcome_ids))
            if len(sol.pending) < sol.target:
                continue
            if rng.random() < sol.eval_p:
                n_eval += 1
                eid = f"G-EVAL-{n_eval:06d}"
                latest = max(p[1] for p in sol.pending)
                pub_day = min(LAST_DAY, latest + rng.randint(300, 4 * 365))
                pub_precision = _precision(rng)
                if sol.effect == "untested":
                    design = rng.choice(UNTESTED_DESIGNS)
                else:
                    design = rng.choices(design_names, weights=design_weights)[0]
                finding = rng.choices(FINDINGS, weights=EFFECTS[sol.effect])[0]
                review = ""
                if design == "systematic_review":
                    review = rng.choice(("high", "moderate", "low", "critically_low", ""))
                override = ""
                if design not in ("qualitative", "case_study") and rng.random() < 0.03:
                    override = str(rng.randint(1, 5))
                reported = [o for p in sol.pending for o in p[2] if rng.random() < 0.7]
                out.row("evaluations", [
                    eid, "|".join(p[0] for p in sol.pending),
                    f"Evaluation of {sol.name.lower()} ({design.replace('_', ' ')})", design,
                    override, review, finding, _fmt_date(pub_day, pub_precision),
                    "true" if rng.random() < 0.6 else "false",
                    str(rng.randint(20, 5000)) if rng.random() < 0.6 else "",
                    rng.choice(EVALUATORS), "", "", "|".join(reported),
                    "restricted" if rng.random() < 0.01 else ""])
                if _sms_level(design, review, override):
                    sol.evals.append((eid, _last_day(pub_day, pub_precision), finding))
                    del sol.evals[:-8]
            sol.pending.clear()
            sol.target = rng.randint(1, 3)
    finally:
        out.close()
    return out.counts


def ensure_bundle(dest: Path, initiatives: int, seed: int = 1) -> Path:
    """The generated bundle at ``dest``, generating it first if absent. Generation writes
    to a temporary folder renamed on completion, so an interrupted run never leaves a
    partial bundle that a later run would mistake for a whole one."""
    if dest.exists():
        return dest
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    generate_bundle(tmp, initiatives, seed=seed)
    tmp.rename(dest)
    return dest


#: Which cell a changed row gets, per file: (column, how it changes). Key columns and
#: references never change, so a changed bundle is valid whenever the original is.
CHANGES: dict[str, str] = {
    "sites": "name",
    "solutions": "description",
    "initiatives": "cost_gbp",
    "outcomes": "value",
    "evaluations": "sample_size",
}


def _changed_cell(kind: str, value: str) -> str:
    if kind == "sites":
        return value + " (renamed)"
    if kind == "solutions":
        return (value + " Revised.").strip()
    if kind == "initiatives":
        return str(int(float(value or 0)) + 2500)
    if kind == "outcomes":
        return f"{float(value) + 1:.1f}" if value else "1.0"
    return str(int(value or 0) + 1)


def changed_bundle(src: Path, dest: Path, every: int = 100) -> dict[str, int]:
    """Copy the bundle at ``src`` to ``dest`` with one data row in ``every`` of each file
    changed (one non-key cell, see ``CHANGES``): row ``every // 2``, then every ``every``-th.
    Streams; deterministic. Returns the number of changed rows per file."""
    dest.mkdir(parents=True, exist_ok=True)
    changed: dict[str, int] = {}
    for kind, columns in COLUMNS.items():
        source = src / f"{kind}.csv"
        if not source.exists():
            continue
        changed[kind] = 0
        column = columns.index(CHANGES[kind])
        with source.open(newline="", encoding="utf-8") as fin, \
                (dest / f"{kind}.csv").open("w", newline="", encoding="utf-8") as fout:
            reader = csv.reader(fin)
            writer = csv.writer(fout, lineterminator="\n")
            header = next(reader)
            if header != columns:
                raise ValueError(f"{source}: not a generated bundle (columns {header})")
            writer.writerow(header)
            for i, row in enumerate(reader):
                if i % every == every // 2:
                    row[column] = _changed_cell(kind, row[column])
                    changed[kind] += 1
                writer.writerow(row)
    return changed


#: Version of the changes ``changed_bundle`` makes; a kept copy made by another is redone.
CHANGES_VERSION = 2


def ensure_changed_bundle(src: Path, dest: Path, every: int = 100) -> dict[str, int]:
    """``changed_bundle`` into ``dest`` unless a complete copy made the same way is there;
    the counts are kept in ``dest/changed.json``."""
    counts_file = dest / "changed.json"
    recipe = {"version": CHANGES_VERSION, "every": every}
    if counts_file.exists():
        kept = json.loads(counts_file.read_text())
        if kept.get("recipe") == recipe:
            return {k: int(v) for k, v in kept["counts"].items()}
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    counts = changed_bundle(src, tmp, every)
    (tmp / "changed.json").write_text(json.dumps({"recipe": recipe, "counts": counts}))
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="folder to write the five CSV files to")
    parser.add_argument("--initiatives", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    counts = generate_bundle(args.dest, args.initiatives, args.seed)
    print(json.dumps({**counts, "seconds": round(time.perf_counter() - t0, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

