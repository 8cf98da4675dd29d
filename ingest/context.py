"""Site context from official open data: deprivation, rurality and size.

Reads the files as their publishers issue them and adds their values to the sites the
graph (or the demo build) already holds, keeping every other column of those sites:

- **deprivation**: OHID Fingertips indicator 93553 "Deprivation score (IMD 2019)" (the
  English Indices of Deprivation 2019 score of a GP practice's registered population),
  the CSV of ``…/api/all_data/csv/by_indicator_id?indicator_ids=93553``; columns
  ``Indicator Name``, ``Area Code``, ``Area Type``, ``Time period``, ``Value``;
- **size**: NHS Digital "Patients registered at a GP practice", the totals file
  ``gp-reg-pat-prac-all.csv`` (``EXTRACT_DATE``, ``CODE`` or ``ORG_CODE``,
  ``NUMBER_OF_PATIENTS``);
- **rurality**: an ONS 2011 rural-urban classification keyed by site code: a CSV with an
  ODS code column (``code``, ``ods_code``, ``site_id``, ``practice_code`` or
  ``ORG_CODE``) and ``RUC11CD`` (A1…F2) or ``RUC11`` (the class name).

Derived values, each saying so in its source column:

- ``imd_decile``: the decile of a site's score among the sites of its kind holding one,
  1 = most deprived (the indices publish deciles for small areas, not for practices);
- a sub-ICB location's and an ICB's ``imd_score``: the mean of their practices' scores
  weighted by registered patients, over the practices that have both; their
  ``registered_patients``: the sum over their practices with a count.

The rows are written through the ingest entry point (:func:`triedbefore.ingest.pipeline.run`),
like the ODS extracts: one ``IngestRun``, idempotent, every value with its source and
licence. A row of a file that cannot be read (a score that is not a number, an unknown
rural-urban code) is a problem naming the file, line, column and, for a code, the
allowed values; the other rows load.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from triedbefore.graph import queries
from triedbefore.graph.store import Store
from triedbefore.ingest import IngestError
from triedbefore.ingest.bundle import Problem, ProblemLog
from triedbefore.ingest.loader import IngestResult, Progress
from triedbefore.ingest.pipeline import RowsSource, run
from triedbefore.ontology.models import SiteRow
from triedbefore.ontology.vocab import Rurality, SiteKind

FINGERTIPS_URL = ("https://fingertips.phe.org.uk/api/all_data/csv/by_indicator_id"
                  "?indicator_ids=93553&child_area_type_id=7")
FINGERTIPS_SOURCE = ("OHID Fingertips, indicator 93553 Deprivation score (IMD 2019), "
                     "GP practices: " + FINGERTIPS_URL)
REGISTRATIONS_URL = ("https://digital.nhs.uk/data-and-information/publications/statistical/"
                     "patients-registered-at-a-gp-practice")
RUC_URL = ("https://www.ons.gov.uk/methodology/geography/geographicalproducts/"
           "ruralurbanclassifications/2011ruralurbanclassification")
OGL = "Open Government Licence v3.0"
LICENCES = {
    "imd": (f"{OGL}: Office for Health Improvement and Disparities, Fingertips (IMD 2019 "
            "score by GP practice); English Indices of Deprivation 2019, MHCLG"),
    "patients": (f"{OGL}: NHS Digital, Patients registered at a GP practice"),
    "rurality": (f"{OGL}: Office for National Statistics, 2011 Rural-Urban Classification"),
}

#: The context columns of ``sites.csv`` this job writes.
CONTEXT_COLUMNS: tuple[str, ...] = (
    "imd_score", "imd_decile", "imd_year", "imd_source", "rurality", "rurality_source",
    "registered_patients", "registered_patients_date", "registered_patients_source",
    "context_licence")

#: ONS 2011 rural-urban codes (small areas) and class names → ``Rurality``.
RUC_CODES: dict[str, Rurality] = {
    "A1": Rurality.URBAN_MAJOR_CONURBATION, "B1": Rurality.URBAN_MINOR_CONURBATION,
    "C1": Rurality.URBAN_CITY_AND_TOWN, "C2": Rurality.URBAN_CITY_AND_TOWN_SPARSE,
    "D1": Rurality.RURAL_TOWN_AND_FRINGE, "D2": Rurality.RURAL_TOWN_AND_FRINGE_SPARSE,
    "E1": Rurality.RURAL_VILLAGE_AND_DISPERSED, "E2": Rurality.RURAL_VILLAGE_AND_DISPERSED_SPARSE,
    "F1": Rurality.RURAL_VILLAGE_AND_DISPERSED,
    "F2": Rurality.RURAL_VILLAGE_AND_DISPERSED_SPARSE,
}
RUC_NAMES: dict[str, Rurality] = {
    "urban major conurbation": Rurality.URBAN_MAJOR_CONURBATION,
    "urban minor conurbation": Rurality.URBAN_MINOR_CONURBATION,
    "urban city and town": Rurality.URBAN_CITY_AND_TOWN,
    "urban city and town in a sparse setting": Rurality.URBAN_CITY_AND_TOWN_SPARSE,
    "rural town and fringe": Rurality.RURAL_TOWN_AND_FRINGE,
    "rural town and fringe in a sparse setting": Rurality.RURAL_TOWN_AND_FRINGE_SPARSE,
    "rural village and dispersed": Rurality.RURAL_VILLAGE_AND_DISPERSED,
    "rural village and dispersed in a sparse setting":
        Rurality.RURAL_VILLAGE_AND_DISPERSED_SPARSE,
    "rural village": Rurality.RURAL_VILLAGE_AND_DISPERSED,
    "rural village in a sparse setting": Rurality.RURAL_VILLAGE_AND_DISPERSED_SPARSE,
    "rural hamlets and isolated dwellings": Rurality.RURAL_VILLAGE_AND_DISPERSED,
    "rural hamlets and isolated dwellings in a sparse setting":
        Rurality.RURAL_VILLAGE_AND_DISPERSED_SPARSE,
}
_CODE_COLUMNS = ("code", "ods_code", "site_id", "practice_code", "org_code")
#: Kinds whose context is derived from their practices.
AREA_KINDS = (SiteKind.SUB_ICB.value, SiteKind.ICB.value)


class ContextUnreadable(IngestError):
    """No given path is a context file this job understands."""


@dataclass
class ContextFile:
    """The values one file gives, by site code."""

    path: Path
    kind: str  # "imd", "patients" or "rurality"
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    rows: int = 0


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def _cell(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _extract_date(text: str) -> str | None:
    """``01JAN2021`` (NHS Digital) or an ISO date → ``2021-01-01``."""
    text = text.strip()
    for fmt in ("%d%b%Y", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def read_context_file(path: str | Path, *, source: str | None = None) -> ContextFile:
    """Read one file, recognised by its header. Raises :class:`ContextUnreadable` when the
    header is none of the three layouts."""
    path = Path(path)
    try:
        fh = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ContextUnreadable(f"{path}: cannot be read ({exc.strerror})") from None
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except (StopIteration, csv.Error, UnicodeDecodeError):
            raise ContextUnreadable(f"{path}: no readable header") from None
        names = [h.strip() for h in header]
        lower = [n.lower() for n in names]
        if {"area code", "value", "indicator name"} <= set(lower):
            out = ContextFile(path, "imd")
            _read_fingertips(out, reader, lower, source)
        elif "number_of_patients" in lower and ("code" in lower or "org_code" in lower):
            out = ContextFile(path, "patients")
            _read_registrations(out, reader, lower, source)
        elif ("ruc11cd" in lower or "ruc11" in lower) and any(c in lower for c in _CODE_COLUMNS):
            out = ContextFile(path, "rurality")
            _read_rurality(out, reader, lower, source)
        else:
            raise ContextUnreadable(
                f"{path}: not a context file this job reads (OHID Fingertips indicator CSV, "
                "NHS Digital gp-reg-pat-prac-all.csv, or a rural-urban file with a code "
                "column and RUC11CD or RUC11)")
    return out


def _rows(reader: Any, width: int, out: ContextFile) -> Iterable[tuple[int, list[str]]]:
    line = 1
    try:
        for cells in reader:
            line = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            out.rows += 1
            if len(cells) != width:
                out.problems.append(Problem(out.path.name, line, None,
                                            f"row has {len(cells)} cells but the header "
                                            f"has {width}"))
                continue
            yield line, cells
    except (csv.Error, UnicodeDecodeError) as exc:
        out.problems.append(Problem(out.path.name, line + 1, None,
                                    f"the rest of the file cannot be read: {exc}"))


def _read_fingertips(out: ContextFile, reader: Any, lower: list[str],
                     source: str | None) -> None:
    at = {name: lower.index(name) for name in ("area code", "area type", "value",
                                               "indicator name", "time period")
          if name in lower}
    for line, cells in _rows(reader, len(lower), out):
        if "area type" in at and cells[at["area type"]].strip() in ("England", "Country"):
            continue
        code = cells[at["area code"]].strip()
        text = cells[at["value"]].strip()
        if not text:
            continue  # no value published: unknown
        value = _number(text)
        if value is None or value < 0:
            out.problems.append(Problem(out.path.name, line, "Value",
                                        f"{text!r} is not a deprivation score"))
            continue
        name = cells[at["indicator name"]]
        year = re.search(r"IMD (\d{4})", name)
        period = cells[at["time period"]].strip() if "time period" in at else ""
        edition = year.group(1) if year else (period if re.fullmatch(r"\d{4}", period) else "")
        out.values[code] = {"imd_score": _cell(value), "imd_year": edition,
                            "imd_source": source or FINGERTIPS_SOURCE}


def _read_registrations(out: ContextFile, reader: Any, lower: list[str],
                        source: str | None) -> None:
    code_at = lower.index("code") if "code" in lower else lower.index("org_code")
    n_at = lower.index("number_of_patients")
    date_at = lower.index("extract_date") if "extract_date" in lower else None
    sex_at = lower.index("sex") if "sex" in lower else None
    age_at = lower.index("age") if "age" in lower else None
    for line, cells in _rows(reader, len(lower), out):
        if sex_at is not None and cells[sex_at].strip().upper() != "ALL":
            continue
        if age_at is not None and cells[age_at].strip().upper() != "ALL":
            continue
        text = cells[n_at].strip()
        if not text.isdigit():
            out.problems.append(Problem(out.path.name, line, "NUMBER_OF_PATIENTS",
                                        f"{text!r} is not a whole number of patients"))
            continue
        when = _extract_date(cells[date_at]) if date_at is not None else None
        if date_at is not None and when is None:
            out.problems.append(Problem(out.path.name, line, "EXTRACT_DATE",
                                        f"{cells[date_at]!r} is not a date"))
            continue
        label = f"NHS Digital, Patients registered at a GP practice ({when or 'date not given'})"
        out.values[cells[code_at].strip()] = {
            "registered_patients": text, "registered_patients_date": when or "",
            "registered_patients_source": source or f"{label}: {REGISTRATIONS_URL}"}


def _read_rurality(out: ContextFile, reader: Any, lower: list[str],
                   source: str | None) -> None:
    code_at = next(lower.index(c) for c in _CODE_COLUMNS if c in lower)
    by_code = "ruc11cd" in lower
    at = lower.index("ruc11cd") if by_code else lower.index("ruc11")
    allowed = tuple(RUC_CODES) if by_code else tuple(RUC_NAMES)
    for line, cells in _rows(reader, len(lower), out):
        text = cells[at].strip()
        value = RUC_CODES.get(text.upper()) if by_code else RUC_NAMES.get(
            " ".join(text.lower().split()))
        if value is None:
            out.problems.append(Problem(out.path.name, line, "RUC11CD" if by_code else "RUC11",
                                        f"{text!r} is not an ONS 2011 rural-urban class",
                                        allowed))
            continue
        out.values[cells[code_at].strip()] = {
            "rurality": value.value,
            "rurality_source": source or f"ONS 2011 Rural-Urban Classification: {RUC_URL}"}


# --- applying the values to site rows --------------------------------------------------

@dataclass
class Coverage:
    """What the context files covered, per kind of site."""

    sites: dict[str, int] = field(default_factory=dict)
    imd: dict[str, int] = field(default_factory=dict)
    rurality: dict[str, int] = field(default_factory=dict)
    patients: dict[str, int] = field(default_factory=dict)
    unmatched: dict[str, int] = field(default_factory=dict)  # file → codes not in the sites

    def to_dict(self) -> dict[str, Any]:
        return {"sites": self.sites, "imd": self.imd, "rurality": self.rurality,
                "registered_patients": self.patients, "unmatched": self.unmatched}


def _deciles(rows: list[dict[str, str]]) -> None:
    """``imd_decile`` of every row with a score, among the rows of its kind: 1 = the most
    deprived tenth (highest scores)."""
    by_kind: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row.get("imd_score"):
            by_kind.setdefault(row["kind"], []).append(row)
    for group in by_kind.values():
        group.sort(key=lambda r: (-float(r["imd_score"]), r["site_id"]))
        n = len(group)
        for rank, row in enumerate(group):
            row["imd_decile"] = str(rank * 10 // n + 1)


def apply_context(sites: list[dict[str, str]], files: Iterable[ContextFile]
                  ) -> tuple[list[dict[str, str]], Coverage]:
    """The site rows with the files' values (and the derived area values) put in; the
    values a file does not give are kept as they were. Rows are new dicts."""
    files = list(files)
    rows = [dict(row) for row in sites]
    by_id = {row["site_id"]: row for row in rows}
    coverage = Coverage()
    kinds_given: set[str] = set()
    for ctx in files:
        kinds_given.add(ctx.kind)
        matched = 0
        for code, values in ctx.values.items():
            row = by_id.get(code)
            if row is None:
                continue
            matched += 1
            row.update(values)
            licences = [part for part in (row.get("context_licence") or "").split(" | ")
                        if part]
            if LICENCES[ctx.kind] not in licences:
                licences.append(LICENCES[ctx.kind])
            row["context_licence"] = " | ".join(sorted(licences))
        coverage.unmatched[ctx.path.name] = len(ctx.values) - matched
    if "imd" in kinds_given or "patients" in kinds_given:
        _derive_areas(rows, by_id)
    if "imd" in kinds_given:
        _deciles(rows)
    for row in rows:
        kind = row["kind"]
        coverage.sites[kind] = coverage.sites.get(kind, 0) + 1
        for key, column in (("imd", "imd_score"), ("rurality", "rurality"),
                            ("patients", "registered_patients")):
            if row.get(column):
                counts = getattr(coverage, key)
                counts[kind] = counts.get(kind, 0) + 1
    return rows, coverage


def _derive_areas(rows: list[dict[str, str]], by_id: Mapping[str, dict[str, str]]) -> None:
    """Sub-ICB locations and ICBs: patient-weighted mean score and summed patients of
    their open and closed practices (practice → sub-ICB location → ICB)."""
    members: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row["kind"] != SiteKind.GP_PRACTICE.value:
            continue
        parent = by_id.get(row.get("parent_id") or "")
        while parent is not None and parent["kind"] in AREA_KINDS:
            members.setdefault(parent["site_id"], []).append(row)
            parent = by_id.get(parent.get("parent_id") or "")
    for area_id, practices in members.items():
        area = by_id[area_id]
        counted = [p for p in practices if p.get("registered_patients")]
        weighted = [p for p in counted if p.get("imd_score")]
        if counted:
            dates = sorted({p.get("registered_patients_date") or "" for p in counted} - {""})
            area["registered_patients"] = str(sum(int(p["registered_patients"])
                                                  for p in counted))
            area["registered_patients_date"] = dates[-1] if len(dates) == 1 else ""
            area["registered_patients_source"] = (
                f"Derived by triedbefore: the sum over {len(counted)} of its "
                f"{len(practices)} GP practices of "
                f"{counted[0].get('registered_patients_source', '')}")
        if weighted:
            total = sum(int(p["registered_patients"]) for p in weighted)
            if total > 0:
                score = sum(float(p["imd_score"]) * int(p["registered_patients"])
                            for p in weighted) / total
                area["imd_score"] = _cell(score)
                years = {p.get("imd_year") or "" for p in weighted}
                area["imd_year"] = years.pop() if len(years) == 1 else ""
                area["imd_source"] = (
                    f"Derived by triedbefore: the mean of the scores of {len(weighted)} of "
                    f"its {len(practices)} GP practices weighted by registered patients; "
                    f"scores from {weighted[0].get('imd_source', '')}")
        if counted or weighted:
            licences = {part for p in weighted or counted
                        for part in (p.get("context_licence") or "").split(" | ") if part}
            area["context_licence"] = " | ".join(sorted(licences))


# --- loading into the graph -------------------------------------------------------------

def _as_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def graph_site_rows(store: Store, *, batch: int = 5000) -> list[dict[str, str]]:
    """Every site of the graph as an interchange row (its parent as ``parent_id``)."""
    ids = sorted(str(r["id"]) for r in store.read(queries.SITE_IDS))
    out: list[dict[str, str]] = []
    columns = SiteRow.columns()
    for start in range(0, len(ids), batch):
        for record in store.read(queries.SITE_ROWS, {"ids": ids[start:start + batch]}):
            props = dict(record["props"])
            row = {c: _as_cell(props.get(c)) for c in columns}
            row["site_id"] = str(props["id"])
            row["parent_id"] = _as_cell(record["parent_id"])
            row.update({k: _as_cell(v) for k, v in props.items() if k.startswith("x_")})
            out.append(row)
    return out


def keep_context(store: Store, rows: list[dict[str, str]], *, batch: int = 5000) -> None:
    """Give ``rows`` (site rows about to be loaded from another source, such as an ODS
    extract) the context values the graph holds for the same sites, so that loading them
    does not remove those values."""
    ids = [row["site_id"] for row in rows]
    held: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), batch):
        for record in store.read(queries.SITE_ROWS, {"ids": ids[start:start + batch]}):
            props = dict(record["props"])
            if any(props.get(c) is not None for c in CONTEXT_COLUMNS):
                held[str(props["id"])] = props
    for row in rows:
        kept = held.get(row["site_id"])
        if kept is None:
            continue
        for column in CONTEXT_COLUMNS:
            if not row.get(column) and kept.get(column) is not None:
                row[column] = _as_cell(kept[column])


@dataclass
class ContextResult:
    """A context load: the ingest run, the files read and what they covered."""

    ingest: IngestResult
    files: list[dict[str, Any]]
    coverage: Coverage

    @property
    def exit_code(self) -> int:
        return self.ingest.exit_code

    def to_dict(self) -> dict[str, Any]:
        out = self.ingest.to_dict()
        out["files"] = self.files
        out["coverage"] = self.coverage.to_dict()
        return out


def ingest_context(store: Store, paths: Iterable[str | Path], *,
                   batch_size: int | None = None, progress: Progress | None = None,
                   report_dir: Path | None = None) -> ContextResult:
    """Add the context files' values to the graph's sites, through the ingest entry point.
    Only the sites whose context changes are written."""
    given = [Path(p) for p in paths]
    if not given:
        raise ContextUnreadable("no context file given")
    files = [read_context_file(p) for p in given]
    store.ensure_schema()
    sites = graph_site_rows(store)
    rows, coverage = apply_context(sites, files)
    before = {row["site_id"]: row for row in sites}
    changed = [row for row in rows if row != before.get(row["site_id"])]
    digest = hashlib.sha256()
    for path in sorted(given):
        digest.update(path.read_bytes())
    source = RowsSource(", ".join(str(p) for p in given), {SiteRow.FILE: changed},
                        digest=digest.hexdigest())
    result = run(store, source, batch_size=batch_size, progress=progress)
    problems = ProblemLog()
    for ctx in files:
        problems.extend(ctx.problems)
    problems.extend(result.problems)
    result.problems.close()
    result.problems = problems
    if result.problems and report_dir is not None:
        from triedbefore.ingest.loader import write_report

        result.report_paths = write_report(result, report_dir)
    info = [{"file": ctx.path.name, "kind": ctx.kind, "rows": ctx.rows,
             "values": len(ctx.values), "rejected": len(ctx.problems),
             "not_in_graph": coverage.unmatched.get(ctx.path.name, 0)} for ctx in files]
    return ContextResult(result, info, coverage)
