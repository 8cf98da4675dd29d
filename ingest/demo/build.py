"""Build the demo corpus (``ingest/demo/bundle``) from the source copies in ``sources/``.

    python -m triedbefore.ingest.demo.build     # or: python ingest/demo/build.py

Deterministic: the same sources give byte-identical files. What goes in:

- every NHS trust, sub-ICB location / CCG and GP practice of the ODS extracts in
  ``sources/ods`` (with their ICBs and NHS England regions), through the same
  code as ``triedbefore ingest-ods``;
- the 50 NHS England 2015 vanguards as initiatives (``VG01``–``VG50``) at the
  organisations of ``sources/vanguard_sites.csv``, implementing the five new care
  models;
- the three real evaluations (``EV01``–``EV03``) and their 15 outcomes;
- the real evidence corpus of ``sources/evidence/<topic>/``: published evaluations of
  solutions tried in the NHS, the programmes and pilots they evaluated and the outcomes
  they report, each fact checked against a stored copy of its source (``sources.csv``
  of each topic names the copy read and what was taken from it);
- the illustrative records of the sample bundle (``ingest/sample``) that make
  zombies, spread and deviance visible, each marked ``illustrative=true``;
- the context of the organisations (``sources/context``: deprivation and registered
  patients of GP practices, and what they give their sub-ICB locations and ICBs),
  through the same code as ``triedbefore ingest-context``;
- design versions, core and adaptable components and FRAME adaptations
  (``sources/design``): the real versions and components of the enhanced health in care
  homes framework, and illustrative adaptations of the illustrative attempts.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from triedbefore.ingest.context import apply_context, read_context_file
from triedbefore.ingest.ods import read_extract, site_rows
from triedbefore.ontology.models import (
    AdaptationRow,
    ComponentRow,
    DesignVersionRow,
    EvaluationRow,
    InitiativeRow,
    InterchangeRow,
    OutcomeRow,
    SiteRow,
    SolutionRow,
)

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
SAMPLE = HERE.parent / "sample"
OUT = HERE / "bundle"

OGL = "Open Government Licence v3.0"
NHSE_LICENCE = f"{OGL} (NHS England website content)"
FINDINGS_LICENCE = ("Short factual results quoted from the cited page, with citation; "
                    "the publisher's own licence applies to the page")

#: The real vanguard records of the sample bundle and their ids in the demo.
RENAME = {
    "INI-0001": "VG23-EHCH", "INI-0002": "VG24", "INI-0003": "VG25", "INI-0004": "VG26",
    "INI-0005": "VG27", "INI-0006": "VG28", "INI-0007": "VG29",
    "EVAL-0001": "EV01", "EVAL-0002": "EV02", "EVAL-0003": "EV03",
    **{f"OUT-{n:04d}": f"EV{1 if n <= 6 else 2 if n <= 10 else 3:02d}-O"
       f"{n if n <= 6 else n - 6 if n <= 10 else n - 10}" for n in range(1, 16)},
}
REAL_SAMPLE_IDS = set(RENAME)

#: The five care models of the vanguard programme, as named by NHS England.
CARE_MODELS = {
    "PACS": ("Integrated primary and acute care systems (PACS)", "PACS|primary and acute care"),
    "MCP": ("Multispecialty community providers (MCP)", "MCP|multispecialty community provider"),
    "EHCH": ("Enhanced health in care homes", ""),
    "UEC": ("Urgent and emergency care networks (vanguard)", "UEC vanguard|urgent care network"),
    "ACC": ("Acute care collaboration (ACC)", "ACC|acute care collaboration|hospital chains"),
}


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def _write(out: Path, name: str, columns: list[str], rows: list[dict[str, str]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / name, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") or "" for c in columns})


def _rename(cell: str) -> str:
    return "|".join(RENAME.get(part, part) for part in cell.split("|")) if cell else cell


#: The illustrative stories the demo keeps, each for a feature no real record shows (by
#: the solution they implement; "" for initiatives that name no solution).
ILLUSTRATIVE_KEPT = {
    "SOL-TELE": "informed re-tries: a repeat that cited the evidence and adapted",
    "SOL-EHCH-X": "positive deviance: one outcome measure reported at enough sites",
    "": "resolution: initiatives that name no solution, for the resolver to propose one",
}

EVIDENCE = SOURCES / "evidence"
#: The interchange files of an evidence topic, in the order they are read.
EVIDENCE_FILES = ("sites.csv", "solutions.csv", "initiatives.csv", "outcomes.csv",
                  "evaluations.csv")
#: Columns of a topic's ``sources.csv``: one row per source read.
SOURCE_COLUMNS = ("source_id", "title", "publisher", "published_date", "doi", "url",
                  "copy_read", "records", "taken")
_ID_COLUMN = {"sites.csv": "site_id", "solutions.csv": "solution_id",
              "initiatives.csv": "initiative_id", "outcomes.csv": "outcome_id",
              "evaluations.csv": "evaluation_id"}


class EvidenceError(SystemExit):
    """A topic of the evidence corpus breaks a rule of the corpus (README.md)."""


def evidence_topics(root: Path = EVIDENCE) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def read_evidence(topic: Path) -> tuple[dict[str, list[dict[str, str]]], list[dict[str, str]]]:
    """A topic's interchange rows by file, and its sources, checked against the corpus's
    rules: every record real (``illustrative=false``), named in ``sources.csv`` with the
    copy read; every evaluation with a DOI or URL, a date, a design and a finding."""
    rows = {name: _read(topic / name) if (topic / name).is_file() else []
            for name in EVIDENCE_FILES}
    sources = _read(topic / "sources.csv")
    if sources and list(sources[0]) != list(SOURCE_COLUMNS):
        raise EvidenceError(f"{topic.name}/sources.csv: columns must be "
                            f"{', '.join(SOURCE_COLUMNS)}")
    cited: set[str] = set()
    for n, src in enumerate(sources, start=2):
        if not (src["doi"] or src["url"]) or not src["copy_read"] or not src["taken"]:
            raise EvidenceError(f"{topic.name}/sources.csv line {n}: a source needs a DOI or "
                                "URL, the address of the copy read and what was taken")
        cited.update(r for r in src["records"].split("|") if r)
    for name, found in rows.items():
        key = _ID_COLUMN[name]
        for n, row in enumerate(found, start=2):
            where = f"{topic.name}/{name} line {n} ({row.get(key)})"
            if row.get("illustrative", "false") != "false":
                raise EvidenceError(f"{where}: the evidence corpus holds real records only")
            if name != "sites.csv" and row[key] not in cited:
                raise EvidenceError(f"{where}: no row of sources.csv names this record")
            if name == "evaluations.csv":
                missing = [c for c in ("published_date", "design", "finding") if not row[c]]
                if not (row["doi"] or row["url"]) or missing:
                    raise EvidenceError(f"{where}: a real evaluation needs a DOI or URL, a "
                                        f"date, a design and a finding (missing: "
                                        f"{', '.join(missing) or 'doi/url'})")
            row["illustrative"] = "false"
    return rows, sources


def build(out: Path = OUT) -> dict[str, int]:
    """Write the bundle's files to ``out``; returns the rows of each."""
    extracts = [read_extract(p) for p in sorted((SOURCES / "ods").glob("*.csv"))]
    problems = [p for e in extracts for p in e.problems]
    if problems:
        raise SystemExit(f"ODS sources have problems: {problems[:3]}")
    sites = site_rows(extracts).rows
    context_files = [read_context_file(p) for p in sorted((SOURCES / "context").glob("*.csv"))]
    if any(f.problems for f in context_files):
        raise SystemExit(f"context sources have problems: "
                         f"{[p for f in context_files for p in f.problems][:3]}")
    sites, _coverage = apply_context(sites, context_files)
    site_ids = {r["site_id"] for r in sites}

    # Illustrative sites of the sample (care homes, wards); its real ones are in ODS.
    for row in _read(SAMPLE / "sites.csv"):
        if row["site_id"] in site_ids:
            continue
        if not row["site_id"].startswith("X-"):
            raise SystemExit(f"sample site {row['site_id']} is neither in ODS nor illustrative")
        sites.append(row | {"illustrative": "true"})
        site_ids.add(row["site_id"])

    # Solutions: the five care models (real), the sample's others (illustrative).
    solutions: list[dict[str, str]] = []
    sample_solutions = {r["solution_id"]: r for r in _read(SAMPLE / "solutions.csv")}
    for code, (name, aliases) in CARE_MODELS.items():
        base = sample_solutions.pop(f"SOL-{code}", {})
        solutions.append(base | {
            "solution_id": f"SOL-{code}", "name": name,
            "aliases": base.get("aliases") or aliases,
            "description": f"One of the five new care models of NHS England's 2015 vanguard "
                           f"programme (care model code {code}).",
            "intervention_type": "delivery_arrangements",
            "licence": NHSE_LICENCE, "illustrative": "false"})
    for row in sample_solutions.values():
        solutions.append(row | {"illustrative": "true"})

    # Initiatives: the 50 vanguards, then the evaluated Principia care-home scheme.
    mapping = {r["row_id"]: r for r in _read(SOURCES / "vanguard_sites.csv")}
    initiatives: list[dict[str, str]] = []
    for v in _read(SOURCES / "innovations" / "nhs_vanguards_2015.csv"):
        where = mapping[v["row_id"]]["site_ids"].split("|")
        missing = [s for s in where if s not in site_ids]
        if missing:
            raise SystemExit(f"{v['row_id']}: sites {missing} are not in the ODS sources")
        parts = [f"{v['care_model']} vanguard, announced {v['announced']}."]
        if v["alt_name_on_other_source"]:
            parts.append(f"Also named {v['alt_name_on_other_source']}.")
        if v["partners_named_on_source"]:
            parts.append(f"Partners: {v['partners_named_on_source']}.")
        initiatives.append({
            "initiative_id": v["row_id"], "title": v["vanguard_name"],
            "description": " ".join(parts), "solution_id": f"SOL-{v['care_model_code']}",
            "site_ids": "|".join(where), "start_date": v["announced"],
            "source_url": v["source_url"], "licence": NHSE_LICENCE, "illustrative": "false"})
    evaluations_src = {r["evaluation_id"]: r for r in
                       _read(SOURCES / "innovations" / "vanguard_evaluations.csv")}
    ev01 = evaluations_src["EV01"]
    initiatives.append({
        "initiative_id": "VG23-EHCH",
        "title": "Principia Partners in Health: enhanced support for care home residents in "
                 "Rushcliffe",
        "description": ev01["initiative"] + ". Part of the Principia vanguard (VG23).",
        "solution_id": "SOL-EHCH", "site_ids": mapping["VG23"]["site_ids"],
        "start_date": "2014-04", "source_url": ev01["source_url"],
        "licence": FINDINGS_LICENCE, "illustrative": "false"})
    # An invented attempt never weighs on a real solution's verdict: the sample's
    # illustrative attempts at a care model implement an illustrative twin of it.
    twins: dict[str, str] = {}
    for row in _read(SAMPLE / "initiatives.csv"):
        if row["initiative_id"] in REAL_SAMPLE_IDS:
            continue
        solution = row["solution_id"]
        if solution[len("SOL-"):] in CARE_MODELS:
            twins[solution] = solution = f"{solution}-X"
        initiatives.append(row | {"solution_id": solution,
                                  "learned_from": _rename(row["learned_from"]),
                                  "site_ids": _rename(row["site_ids"]),
                                  "illustrative": "true"})
    for real_id, twin in sorted(twins.items()):
        model = next(s for s in solutions if s["solution_id"] == real_id)
        solutions.append({
            "solution_id": twin, "name": f"{model['name']}: illustrative attempts",
            "description": "Invented attempts at this care model, kept apart from the real "
                           "one so that they never weigh on its verdict; they show positive "
                           "deviance and the spread of a model across sites.",
            "intervention_type": model["intervention_type"], "licence": "",
            "illustrative": "true"})

    # Outcomes and evaluations: the real ones renamed, the illustrative ones marked.
    outcomes: list[dict[str, str]] = []
    for row in _read(SAMPLE / "outcomes.csv"):
        if row["outcome_id"] in REAL_SAMPLE_IDS:
            outcomes.append(row | {"outcome_id": RENAME[row["outcome_id"]],
                                   "initiative_id": RENAME[row["initiative_id"]],
                                   "licence": FINDINGS_LICENCE, "illustrative": "false"})
        else:
            outcomes.append(row | {"initiative_id": _rename(row["initiative_id"]),
                                   "illustrative": "true"})
    evaluations: list[dict[str, str]] = []
    for row in _read(SAMPLE / "evaluations.csv"):
        if row["evaluation_id"] in REAL_SAMPLE_IDS:
            eid = RENAME[row["evaluation_id"]]
            src = evaluations_src[eid]
            evaluations.append(row | {
                "evaluation_id": eid, "initiative_ids": _rename(row["initiative_ids"]),
                "outcome_ids": _rename(row["outcome_ids"]), "url": src["source_url"],
                "evaluator": src["evaluator"], "licence": FINDINGS_LICENCE,
                "illustrative": "false"})
        else:
            evaluations.append(row | {"initiative_ids": _rename(row["initiative_ids"]),
                                      "outcome_ids": _rename(row["outcome_ids"]),
                                      "illustrative": "true"})
    # Only the illustrative stories of ILLUSTRATIVE_KEPT: the real records show the rest.
    kept = {i["initiative_id"] for i in initiatives
            if i["illustrative"] == "false" or i["solution_id"] in ILLUSTRATIVE_KEPT}
    initiatives = [i for i in initiatives if i["initiative_id"] in kept]
    solutions = [s for s in solutions
                 if s["illustrative"] == "false" or s["solution_id"] in ILLUSTRATIVE_KEPT]
    evaluations = [e for e in evaluations if e["illustrative"] == "false"
                   or set(e["initiative_ids"].split("|")) <= kept]
    outcomes = [o for o in outcomes if o["illustrative"] == "false" or o["initiative_id"] in kept]
    placed = {s for i in initiatives for s in i["site_ids"].split("|")}
    sites = [s for s in sites if s["illustrative"] != "true" or s["site_id"] in placed]
    outcome_src = _read(SOURCES / "innovations" / "vanguard_evaluation_outcomes.csv")
    real_outcomes = [o for o in outcomes if o["illustrative"] == "false"]
    if [o["measure"] for o in real_outcomes] != [o["outcome"] for o in outcome_src]:
        raise SystemExit("the real outcomes no longer follow vanguard_evaluation_outcomes.csv")

    # The real evidence corpus, topic by topic: ids are unique across the whole bundle.
    tables = {"sites.csv": sites, "solutions.csv": solutions,
              "initiatives.csv": initiatives, "outcomes.csv": outcomes,
              "evaluations.csv": evaluations}
    for topic in evidence_topics():
        found, _ = read_evidence(topic)
        for name, rows in found.items():
            key = _ID_COLUMN[name]
            taken = {r[key] for r in tables[name]}
            for row in rows:
                if row[key] in taken:
                    raise EvidenceError(f"{topic.name}/{name}: id {row[key]} is used twice")
                taken.add(row[key])
                tables[name].append(row)
    # Design versions, components and adaptations; the versions attempts follow.
    design = SOURCES / "design"
    follows = {r["initiative_id"]: r["version_id"] for r in _read(design / "follows.csv")}
    by_initiative = {i["initiative_id"]: i for i in initiatives}
    for initiative_id, version_id in follows.items():
        by_initiative[initiative_id]["version_id"] = version_id
    files: dict[str, tuple[type[InterchangeRow], list[dict[str, str]]]] = {
        "sites.csv": (SiteRow, sites), "solutions.csv": (SolutionRow, solutions),
        "initiatives.csv": (InitiativeRow, initiatives), "outcomes.csv": (OutcomeRow, outcomes),
        "evaluations.csv": (EvaluationRow, evaluations),
        "versions.csv": (DesignVersionRow, _read(design / "versions.csv")),
        "components.csv": (ComponentRow, _read(design / "components.csv")),
        "adaptations.csv": (AdaptationRow, _read(design / "adaptations.csv")),
    }
    counts: dict[str, int] = {}
    for name, (row_type, rows) in files.items():
        _write(out, name, row_type.columns(), rows)
        counts[name] = len(rows)
    return counts


if __name__ == "__main__":
    for file, n in build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT).items():
        sys.stdout.write(f"{file}: {n} rows\n")
