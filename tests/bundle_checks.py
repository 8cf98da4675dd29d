"""Pure-CSV checks of an interchange bundle (shared/spec/interchange.md), stdlib only.

Each check returns a list of problems as strings ``"file:line: column: reason"``;
an empty list means the bundle passes. The tests of the shipped sample and of the
benchmark generator both use these functions, so the two stay valid by the same rules.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

COLUMNS: dict[str, list[str]] = {
    "sites.csv": ["site_id", "name", "kind", "parent_id", "postcode", "region", "lat", "lon"],
    "solutions.csv": ["solution_id", "name", "aliases", "description", "intervention_type",
                      "technology", "problem", "tags"],
    "initiatives.csv": ["initiative_id", "title", "description", "solution_id", "site_ids",
                        "start_date", "end_date", "status", "funder", "cost_gbp",
                        "learned_from", "source_url", "visibility"],
    "outcomes.csv": ["outcome_id", "initiative_id", "measure", "domain", "baseline", "value",
                     "unit", "direction", "period_start", "period_end", "visibility"],
    "evaluations.csv": ["evaluation_id", "initiative_ids", "title", "design", "sms_level",
                        "review_quality", "finding", "published_date", "independent",
                        "sample_size", "evaluator", "doi", "url", "outcome_ids", "visibility"],
}

ID_COLUMN = {
    "sites.csv": "site_id",
    "solutions.csv": "solution_id",
    "initiatives.csv": "initiative_id",
    "outcomes.csv": "outcome_id",
    "evaluations.csv": "evaluation_id",
}

REQUIRED: dict[str, list[str]] = {
    "sites.csv": ["site_id", "name", "kind"],
    "solutions.csv": ["solution_id", "name"],
    "initiatives.csv": ["initiative_id", "title", "site_ids", "start_date"],
    "outcomes.csv": ["outcome_id", "initiative_id", "measure", "direction"],
    "evaluations.csv": ["evaluation_id", "initiative_ids", "title", "design", "finding",
                        "published_date"],
}

# Allowed values, copied from interchange.md.
VISIBILITY = ["public", "restricted"]
ENUMS: dict[str, dict[str, list[str]]] = {
    "sites.csv": {
        "kind": ["trust", "icb", "sub_icb", "pcn", "gp_practice", "care_home", "hospital",
                 "ward", "community_service", "ambulance_service", "local_authority", "other"],
    },
    "solutions.csv": {
        "intervention_type": ["delivery_arrangements", "financial_arrangements",
                              "governance_arrangements", "implementation_strategies"],
        "technology": ["true", "false"],
    },
    "initiatives.csv": {
        "status": ["planned", "active", "completed", "stopped"],
        "visibility": VISIBILITY,
    },
    "outcomes.csv": {
        "domain": ["safe", "effective", "patient_centred", "timely", "efficient", "equitable"],
        "direction": ["improved", "no_change", "worsened"],
        "visibility": VISIBILITY,
    },
    "evaluations.csv": {
        "design": ["systematic_review", "rct", "cluster_rct", "stepped_wedge",
                   "regression_discontinuity", "matched_comparison", "non_randomised_trial",
                   "difference_in_differences", "interrupted_time_series",
                   "controlled_before_after", "before_after", "cross_sectional", "economic",
                   "mixed_methods", "qualitative", "case_study"],
        "sms_level": ["1", "2", "3", "4", "5"],
        "review_quality": ["high", "moderate", "low", "critically_low"],
        "finding": ["positive", "mixed", "no_effect", "negative", "inconclusive"],
        "independent": ["true", "false"],
        "visibility": VISIBILITY,
    },
}

DATES: dict[str, list[str]] = {
    "initiatives.csv": ["start_date", "end_date"],
    "outcomes.csv": ["period_start", "period_end"],
    "evaluations.csv": ["published_date"],
}

NUMBERS: dict[str, list[str]] = {
    "sites.csv": ["lat", "lon"],
    "initiatives.csv": ["cost_gbp"],
    "outcomes.csv": ["baseline", "value"],
}
INTEGERS: dict[str, list[str]] = {"evaluations.csv": ["sample_size"]}

# (file, column, multi-valued, target files)
REFERENCES: list[tuple[str, str, bool, tuple[str, ...]]] = [
    ("sites.csv", "parent_id", False, ("sites.csv",)),
    ("initiatives.csv", "solution_id", False, ("solutions.csv",)),
    ("initiatives.csv", "site_ids", True, ("sites.csv",)),
    ("initiatives.csv", "learned_from", True, ("evaluations.csv", "initiatives.csv")),
    ("outcomes.csv", "initiative_id", False, ("initiatives.csv",)),
    ("evaluations.csv", "initiative_ids", True, ("initiatives.csv",)),
    ("evaluations.csv", "outcome_ids", True, ("outcomes.csv",)),
]

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")

Row = tuple[int, dict[str, str]]


def read_rows(path: Path) -> Iterator[Row]:
    """Yield (physical line of the row's start, row) for one CSV file; header is line 1."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        reader.fieldnames  # noqa: B018 - reads the header, so line_num counts it
        line = reader.line_num + 1
        for row in reader:
            yield line, {k.strip().lower(): (v or "") for k, v in row.items() if k is not None}
            line = reader.line_num + 1


def read_bundle(folder: Path) -> dict[str, list[Row]]:
    """All rows of every bundle file present in ``folder``."""
    return {name: list(read_rows(folder / name)) for name in COLUMNS if (folder / name).exists()}


def split_multi(cell: str) -> list[str]:
    return [part.strip() for part in cell.split("|") if part.strip()]


def parse_date(text: str) -> tuple[date, date] | None:
    """First and last day of an ISO date of any precision, or None if it is not one."""
    m = _DATE.match(text)
    if not m:
        return None
    year, month, day = int(m[1]), m[2], m[3]
    try:
        if day is not None:
            d = date(year, int(month), int(day))
            return d, d
        if month is not None:
            first = date(year, int(month), 1)
            nxt = date(year + int(month) // 12, int(month) % 12 + 1, 1)
            return first, date.fromordinal(nxt.toordinal() - 1)
        return date(year, 1, 1), date(year, 12, 31)
    except ValueError:
        return None


def check_headers(folder: Path) -> list[str]:
    problems = []
    for name, cols in COLUMNS.items():
        path = folder / name
        if not path.exists():
            continue
        with path.open(newline="", encoding="utf-8-sig") as f:
            header = [h.strip().lower() for h in next(csv.reader(f), [])]
        if header != cols:
            problems.append(f"{name}:1: header {header} != {cols}")
    return problems


def check_encoding(folder: Path) -> list[str]:
    problems = []
    for name in COLUMNS:
        path = folder / name
        if path.exists():
            try:
                path.read_bytes().decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.append(f"{name}: not UTF-8: {exc}")
    return problems


def check_unique_ids(bundle: dict[str, list[Row]]) -> list[str]:
    problems = []
    for name, rows in bundle.items():
        seen: dict[str, int] = {}
        for line, row in rows:
            key = row[ID_COLUMN[name]]
            if key in seen:
                problems.append(f"{name}:{line}: {ID_COLUMN[name]}: {key!r} repeats line "
                                f"{seen[key]}")
            seen.setdefault(key, line)
    return problems


def check_required(bundle: dict[str, list[Row]]) -> list[str]:
    return [f"{name}:{line}: {col}: empty required value"
            for name, rows in bundle.items() for line, row in rows
            for col in REQUIRED[name] if not row.get(col, "").strip()]


def check_enums(bundle: dict[str, list[Row]]) -> list[str]:
    problems = []
    for name, rows in bundle.items():
        for col, allowed in ENUMS.get(name, {}).items():
            for line, row in rows:
                value = row.get(col, "")
                if value and value not in allowed:
                    problems.append(f"{name}:{line}: {col}: {value!r} not in {allowed}")
    return problems


def check_dates(bundle: dict[str, list[Row]]) -> list[str]:
    problems = []
    for name, rows in bundle.items():
        for col in DATES.get(name, []):
            for line, row in rows:
                value = row.get(col, "")
                if value and parse_date(value) is None:
                    problems.append(f"{name}:{line}: {col}: {value!r} is not an ISO date")
    return problems


def check_numbers(bundle: dict[str, list[Row]]) -> list[str]:
    problems = []
    for name, rows in bundle.items():
        for line, row in rows:
            for col in NUMBERS.get(name, []):
                value = row.get(col, "")
                if value and not _NUMBER.match(value):
                    problems.append(f"{name}:{line}: {col}: {value!r} is not a number")
            for col in INTEGERS.get(name, []):
                value = row.get(col, "")
                if value and not value.isdigit():
                    problems.append(f"{name}:{line}: {col}: {value!r} is not an integer")
    return problems


def check_references(bundle: dict[str, list[Row]]) -> list[str]:
    ids = {name: {row[ID_COLUMN[name]] for _, row in rows} for name, rows in bundle.items()}
    problems = []
    for name, col, multi, targets in REFERENCES:
        known = set().union(*(ids.get(t, set()) for t in targets))
        for line, row in bundle.get(name, []):
            cell = row.get(col, "")
            for ref in split_multi(cell) if multi else [cell.strip()] if cell.strip() else []:
                if ref not in known:
                    problems.append(f"{name}:{line}: {col}: {ref!r} not found in "
                                    f"{'/'.join(targets)}")
    return problems


def check_consistency(bundle: dict[str, list[Row]]) -> list[str]:
    """Sense checks beyond the format: dates in order, reported outcomes belong to
    an evaluated initiative, reviews alone carry review_quality, no self-parent."""
    problems = []
    for line, row in bundle.get("initiatives.csv", []):
        start, end = parse_date(row["start_date"]), parse_date(row.get("end_date", ""))
        if start and end and end[1] < start[0]:
            problems.append(f"initiatives.csv:{line}: end_date: before start_date")
    for line, row in bundle.get("sites.csv", []):
        if row.get("parent_id") and row["parent_id"] == row["site_id"]:
            problems.append(f"sites.csv:{line}: parent_id: site is its own parent")
    outcome_ini = {row["outcome_id"]: row["initiative_id"]
                   for _, row in bundle.get("outcomes.csv", [])}
    for line, row in bundle.get("evaluations.csv", []):
        evaluated = set(split_multi(row["initiative_ids"]))
        for oid in split_multi(row.get("outcome_ids", "")):
            if oid in outcome_ini and outcome_ini[oid] not in evaluated:
                problems.append(f"evaluations.csv:{line}: outcome_ids: {oid} measures "
                                f"{outcome_ini[oid]}, which this evaluation did not evaluate")
        if row.get("review_quality") and row["design"] != "systematic_review":
            problems.append(f"evaluations.csv:{line}: review_quality: set on a "
                            f"{row['design']}")
    return problems


def check_bundle(folder: Path) -> list[str]:
    """Every check above, on the bundle in ``folder``."""
    problems = check_encoding(folder) + check_headers(folder)
    bundle = read_bundle(folder)
    for check in (check_unique_ids, check_required, check_enums, check_dates, check_numbers,
                  check_references, check_consistency):
        problems += check(bundle)
    return problems
