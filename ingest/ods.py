"""NHS organisations from the Organisation Data Service (ODS) bulk extracts.

Reads the official headerless CSV extracts — NHS trusts (``etr``), sub-ICB
locations and former CCGs (``eccg``) and GP practices (``epraccur``) — in
their 27-column layout, and the older 24-column trust layout, and turns each
organisation into an interchange site row:

- ``kind``: trust, sub-ICB location, GP practice; the ICBs and NHS England
  regions they belong to are added from the reference geography
  (``ingest/geography``), so the hierarchy GP practice → sub-ICB location →
  ICB → region is complete (``parent_id``);
- names in title case, postcode, open and close dates (a closed organisation
  stays, with its close date);
- ``lat``/``lon`` from the centroid of the postcode district, unless the site
  already has coordinates of its own.

The rows are written through the ingest entry point (:func:`triedbefore.ingest.pipeline.run`),
so an ODS load is an ``IngestRun`` like any other: batched, idempotent (an
unchanged organisation is not written again), every node records its run, and the
public copy, resolution, verdict changes and the graph version follow.
Before writing, the graph's current state of the same organisations is read,
and the load reports what changed: organisations opened (new to the graph),
closed, reopened, renamed and moved to another parent.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from triedbefore.graph import queries
from triedbefore.graph.store import Store
from triedbefore.ingest import BundleUnreadable
from triedbefore.ingest.bundle import Problem, ProblemLog
from triedbefore.ingest.context import keep_context
from triedbefore.ingest.loader import IngestResult, Loader, Progress, write_report
from triedbefore.ingest.pipeline import RowsSource, run
from triedbefore.ontology.models import SiteRow
from triedbefore.ontology.vocab import Country, Label, SiteKind

#: Where every ODS-derived site says it came from, and under which licence.
ODS_SOURCE_URL = "https://digital.nhs.uk/services/organisation-data-service"
ODS_LICENCE = ("Open Government Licence v3.0. Contains data from the NHS England "
               "Organisation Data Service, licensed under the Open Government Licence v3.0.")
ONS_SOURCE_URL = "https://geoportal.statistics.gov.uk/"
ONS_LICENCE = ("Open Government Licence v3.0. Source: Office for National Statistics licensed "
               "under the Open Government Licence v3.0. Contains OS data © Crown copyright "
               "and database right.")

#: The extracts understood, by the start of the file name.
EXTRACTS: dict[str, SiteKind] = {
    "etr": SiteKind.TRUST,
    "eccg": SiteKind.SUB_ICB,
    "epraccur": SiteKind.GP_PRACTICE,
}
#: Load order: parents before children, so a practice finds its sub-ICB location.
_ORDER = {"etr": 0, "eccg": 1, "epraccur": 2}

#: Column numbers (1-based, as in the ODS layout) of the fields read.
COL_CODE, COL_NAME, COL_REGION, COL_ICB, COL_POSTCODE = 1, 2, 3, 4, 10
COL_OPEN, COL_CLOSE, COL_STATUS, COL_ROLE, COL_COMMISSIONER, COL_SETTING = 11, 12, 13, 14, 15, 26
COL_GOR = 24  # trusts: the former Government Office Region letter (W: Wales)
COLUMN_NAMES = {
    COL_CODE: "organisation code", COL_NAME: "name", COL_REGION: "national grouping",
    COL_ICB: "high level health geography", COL_POSTCODE: "postcode",
    COL_OPEN: "open date", COL_CLOSE: "close date", COL_STATUS: "status code",
    COL_COMMISSIONER: "commissioner", COL_SETTING: "prescribing setting",
}
#: Prescribing setting of a GP practice in ``epraccur``; other settings are skipped.
GP_PRACTICE_SETTING = "4"
_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_CODE = re.compile(r"^[A-Z0-9]{3,6}$")


class OdsUnreadable(BundleUnreadable):
    """None of the paths is a readable ODS extract: nothing was loaded."""


def column(number: int) -> str:
    """How a problem names an ODS column: ``11 (open date)``."""
    name = COLUMN_NAMES.get(number)
    return f"{number} ({name})" if name else str(number)


# --- reference geography -------------------------------------------------------------

@dataclass(frozen=True)
class Region:
    code: str
    name: str
    lat: float | None
    lon: float | None


@dataclass(frozen=True)
class Icb:
    code: str
    name: str
    region_code: str | None
    lat: float | None
    lon: float | None


def _geo_rows(name: str) -> list[dict[str, str]]:
    text = files("triedbefore.ingest.geography").joinpath(name).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _float(text: str | None) -> float | None:
    return float(text) if text else None


@cache
def regions() -> dict[str, Region]:
    """NHS England regions by ODS code (``Y56`` …), with their ONS centroids."""
    return {r["ods_code"]: Region(r["ods_code"], r["name"], _float(r["latitude"]),
                                  _float(r["longitude"]))
            for r in _geo_rows("nhs_regions.csv")}


@cache
def icbs() -> dict[str, Icb]:
    """ICBs by ODS code (``QKK`` …): ONS name, region, ONS centroid."""
    centroids = {r["ICB23CD"]: r for r in _geo_rows("icb_apr2023_attributes.csv")}
    region_of = {r["icb_code"]: r["region_code"] for r in _geo_rows("icb_regions.csv")}
    out: dict[str, Icb] = {}
    for r in _geo_rows("icb_names_codes_dec2024.csv"):
        c = centroids.get(r["ICB24CD"], {})
        out[r["ICB24CDH"]] = Icb(r["ICB24CDH"], r["ICB24NM"], region_of.get(r["ICB24CDH"]),
                                 _float(c.get("LAT")), _float(c.get("LONG")))
    return out


@dataclass(frozen=True)
class HealthBoard:
    code: str  # ODS code (7A1 …), the commissioner of Welsh GP practices
    ons_code: str  # W11…
    name: str
    lat: float | None
    lon: float | None


#: The site NHS Wales: ODS's national grouping of Welsh GP practices (``epraccur`` column 3).
WALES = "W00"
WALES_NAME = "NHS Wales"
WALES_REGION = "Wales"  # the ``region`` of every site in Wales
_WALES_ONS = "W92000004"


@cache
def health_boards() -> dict[str, HealthBoard]:
    """The local health boards of Wales by ODS code: ONS name and centroid."""
    attributes = {r["LHB22CD"]: r for r in _geo_rows("lhb_apr2022_attributes.csv")}
    out: dict[str, HealthBoard] = {}
    for r in _geo_rows("lhb_codes.csv"):
        a = attributes[r["lhb_code"]]
        out[r["ods_code"]] = HealthBoard(r["ods_code"], r["lhb_code"], a["LHB22NM"],
                                         _float(a["LAT"]), _float(a["LONG"]))
    return out


@cache
def wales_centroid() -> tuple[float | None, float | None]:
    """The ONS centroid of Wales (where the site NHS Wales is drawn)."""
    row = next(r for r in _geo_rows("ctry_dec2022_attributes.csv")
               if r["CTRY22CD"] == _WALES_ONS)
    return _float(row["LAT"]), _float(row["LONG"])


@cache
def outcodes() -> dict[str, tuple[float, float]]:
    """Postcode district (outcode) → centroid (lat, lon)."""
    return {r["outcode"]: (float(r["latitude"]), float(r["longitude"]))
            for r in _geo_rows("postcode_outcodes.csv")}


def centroid(postcode: str | None) -> tuple[float, float] | None:
    """The centroid of a postcode's district (``SE1 7EH`` → ``SE1``), if known."""
    if not postcode:
        return None
    outcode = postcode.strip().upper().split()[0] if postcode.strip() else ""
    if " " not in postcode.strip() and len(outcode) > 4:
        outcode = outcode[:-3]  # a postcode written without its space
    return outcodes().get(outcode)


# --- names ---------------------------------------------------------------------------

_UPPER = {"NHS", "ICB", "CCG", "GP", "GPS", "UK", "PCN", "MDT", "HQ", "PMS", "APMS", "UCC",
          "NHSE", "OOH", "II", "III", "IV"}
_LOWER = {"AND", "OF", "THE", "FOR", "IN", "ON", "AT", "TO", "UPON", "WITH", "BY"}


def title_case(name: str) -> str:
    """ODS upper-case names in title case; acronyms, codes and small words kept as usual.

    ``NHS WEST YORKSHIRE ICB - 03R`` → ``NHS West Yorkshire ICB - 03R``;
    ``KING'S LYNN AND WEST NORFOLK`` → ``King's Lynn and West Norfolk``.
    """
    if not name or name != name.upper():
        return name
    words = name.split(" ")
    out = []
    for i, word in enumerate(words):
        bare = word.strip("(),.&-'/")
        if bare in _UPPER or any(ch.isdigit() for ch in word):
            out.append(word)
        elif bare in _LOWER and i > 0:
            out.append(word.lower())
        else:  # each part of a hyphenated word on its own: SUB-ICB is Sub-ICB
            out.append("-".join(
                part if part.strip("(),.&'/") in _UPPER
                else part.lower() if j > 0 and part in _LOWER
                else re.sub(r"[A-Z]+", lambda m: m.group(0).capitalize(), part)
                .replace("'S", "'s") for j, part in enumerate(word.split("-"))))
    text = " ".join(out)
    return re.sub(r"\bMc([a-z])", lambda m: "Mc" + m.group(1).upper(), text)


def iso_date(text: str) -> str | None:
    """ODS ``YYYYMMDD`` → ISO ``YYYY-MM-DD`` (``None`` when empty)."""
    if not text:
        return None
    m = _DATE.match(text)
    try:
        if not m:
            raise ValueError
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    except ValueError:
        raise ValueError(f"{text!r} is not a date (expected YYYYMMDD)") from None


# --- reading extracts ----------------------------------------------------------------

@dataclass
class Organisation:
    """One row of an ODS extract, as read."""

    file: str
    line: int
    code: str
    name: str
    kind: SiteKind
    region_code: str | None
    icb_code: str | None
    postcode: str | None
    open_date: str | None
    close_date: str | None
    commissioner: str | None = None
    layout: int = 27
    gor: str | None = None  # trusts: former Government Office Region letter

    @property
    def welsh(self) -> bool:
        """In Wales: a practice of ODS's Welsh grouping or of a Welsh health board, or a
        trust of the Welsh GOR."""
        return (self.region_code == WALES or self.gor == "W"
                or (self.commissioner or "") in health_boards())


@dataclass
class Extract:
    """The organisations of one extract file, and its problems."""

    path: Path
    name: str  # etr / eccg / epraccur
    kind: SiteKind
    organisations: list[Organisation] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: int = 0  # rows that are not organisations of this kind (e.g. not GP practices)
    layout: int | None = None


def extract_name(path: Path) -> str:
    """``etr_2026-07.csv`` → ``etr``; raise :class:`OdsUnreadable` for other names."""
    stem = path.name.lower()
    for name in sorted(EXTRACTS, key=len, reverse=True):
        if stem.startswith(name):
            return name
    raise OdsUnreadable(f"{path}: not an ODS extract name (expected a file whose name starts "
                        f"with {', '.join(sorted(EXTRACTS))})")


def read_extract(path: str | Path) -> Extract:
    """Read one headerless ODS extract; row problems are kept, good rows are returned."""
    path = Path(path)
    name = extract_name(path)
    if not path.is_file():
        raise OdsUnreadable(f"{path}: no such file")
    extract = Extract(path, name, EXTRACTS[name])
    with open(path, "rb") as raw:
        data = raw.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # older extracts are Windows-1252
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            extract.problems.append(Problem(path.name, reader.line_num, None,
                                            f"malformed CSV: {exc}"))
            break
        line = reader.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        org = _organisation(extract, line, cells)
        if org is not None:
            extract.organisations.append(org)
    if line == 0:
        raise OdsUnreadable(f"{path}: the file is empty")
    if not extract.organisations and extract.problems and all(
            p.column is None for p in extract.problems):
        raise OdsUnreadable(f"{path}: not an ODS extract ({extract.problems[0].reason})")
    return extract


def _organisation(extract: Extract, line: int, cells: list[str]) -> Organisation | None:
    file = extract.path.name
    width = len(cells)
    allowed = (27, 24) if extract.name == "etr" else (27,)
    if width not in allowed:
        extract.problems.append(Problem(
            file, line, None, f"row has {width} columns; the {extract.name} layout has "
            f"{' or '.join(str(n) for n in allowed)}"))
        return None
    if extract.layout is None:
        extract.layout = width

    def cell(number: int) -> str:
        return cells[number - 1].strip()

    code = cell(COL_CODE).upper()
    problem: tuple[int, str] | None = None
    if not code:
        problem = (COL_CODE, "required value is empty")
    elif not _CODE.match(code):
        problem = (COL_CODE, f"{code!r} is not an ODS code (3 to 6 letters or digits)")
    elif not cell(COL_NAME):
        problem = (COL_NAME, "required value is empty")
    if problem is None:
        try:
            open_date = iso_date(cell(COL_OPEN))
        except ValueError as exc:
            problem = (COL_OPEN, str(exc))
    if problem is None:
        try:
            close_date = iso_date(cell(COL_CLOSE))
        except ValueError as exc:
            problem = (COL_CLOSE, str(exc))
    if problem is not None:
        extract.problems.append(Problem(file, line, column(problem[0]), problem[1]))
        return None
    commissioner = None
    if extract.name == "epraccur":
        if cell(COL_SETTING) != GP_PRACTICE_SETTING:
            extract.skipped += 1
            return None
        commissioner = cell(COL_COMMISSIONER).upper() or None
    return Organisation(
        file=file, line=line, code=code, name=title_case(cell(COL_NAME)), kind=extract.kind,
        region_code=cell(COL_REGION).upper() or None, icb_code=cell(COL_ICB).upper() or None,
        postcode=cell(COL_POSTCODE).upper() or None, open_date=open_date,
        close_date=close_date, commissioner=commissioner, layout=width,
        gor=(cell(COL_GOR).upper() or None) if extract.name == "etr" else None)


# --- site rows -----------------------------------------------------------------------

def _cells(**values: Any) -> dict[str, str]:
    """Interchange ``sites.csv`` cells: every column, empty when unknown."""
    out = {name: "" for name in SiteRow.columns()}
    for key, value in values.items():
        if value is None:
            out[key] = ""
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, float):
            out[key] = repr(round(value, 6))
        else:
            out[key] = str(value)
    return out


def region_name(code: str | None) -> str | None:
    region = regions().get(code or "")
    return region.name if region else None


def _place(org: Organisation) -> tuple[str | None, str | None]:
    """An organisation's ``region`` and ``country``: its NHS England region and England,
    or Wales and Wales; unknown otherwise."""
    if org.welsh:
        return WALES_REGION, Country.WALES.value
    if org.region_code in regions() or (org.icb_code or "") in icbs():
        return region_name(org.region_code), Country.ENGLAND.value
    return region_name(org.region_code), None


@dataclass
class SiteRows:
    """Interchange site rows built from extracts, with where each came from."""

    rows: list[dict[str, str]] = field(default_factory=list)
    origin: list[tuple[str, int | None]] = field(default_factory=list)  # (file, line)
    problems: list[Problem] = field(default_factory=list)


def site_rows(extracts: Iterable[Extract], *, known_sites: set[str] | None = None,
              coordinates: dict[str, tuple[float, float]] | None = None,
              all_reference: bool = True) -> SiteRows:
    """The site rows of the extracts, preceded by the regions and ICBs they need.

    ``known_sites``: ids already in the graph (a practice's commissioner may be there);
    ``coordinates``: sites whose own coordinates must be kept (not district centroids);
    ``all_reference``: add every current region and ICB, not only those referred to.
    """
    extracts = sorted(extracts, key=lambda e: _ORDER[e.name])
    known = set(known_sites or ())
    coordinates = coordinates or {}
    out = SiteRows()
    for extract in extracts:
        out.problems.extend(extract.problems)
    orgs = [o for e in extracts for o in e.organisations]
    in_load = {o.code for o in orgs}
    sub_icbs = {o.code for o in orgs if o.kind is SiteKind.SUB_ICB} | known
    used_regions: set[str] = set(regions()) if all_reference else set()
    placeholder_icbs: dict[str, str | None] = {}
    used_icbs: set[str] = {c for c, i in icbs().items() if i.region_code} if all_reference \
        else set()

    def icb_parent(org: Organisation) -> str | None:
        if org.layout != 27 or not org.icb_code or org.icb_code in ("Q99",):
            return None
        if org.icb_code in icbs():
            used_icbs.add(org.icb_code)
            return org.icb_code
        if org.kind is SiteKind.GP_PRACTICE:
            return None  # practices' other codes (YAC…) are not ICBs
        if re.match(r"^[A-Z0-9]{3,5}$", org.icb_code) and org.icb_code not in in_load:
            placeholder_icbs.setdefault(org.icb_code, org.region_code)
            return org.icb_code
        return None

    def region_parent(org: Organisation) -> str | None:
        if org.region_code in regions():
            used_regions.add(org.region_code)
            return org.region_code
        return None

    # Wales: practices hang from their local health board, boards and trusts from NHS Wales.
    used_boards: set[str] = set(health_boards()) if all_reference else set()

    def welsh_parent(org: Organisation) -> str | None:
        if not org.welsh:
            return None
        if org.kind is SiteKind.GP_PRACTICE and (org.commissioner or "") in health_boards():
            used_boards.add(org.commissioner or "")
            return org.commissioner
        used_boards.add(WALES)
        return WALES

    parents: dict[str, str | None] = {}
    for org in orgs:
        parent: str | None
        if org.kind is SiteKind.GP_PRACTICE:
            if org.commissioner and org.commissioner in sub_icbs:
                parent = org.commissioner
            else:
                parent = welsh_parent(org) or icb_parent(org) or region_parent(org)
        elif org.layout == 24:
            parent = region_parent(org) or welsh_parent(org)  # column 4: old area teams
        else:
            parent = icb_parent(org) or region_parent(org) or welsh_parent(org)
        parents[org.code] = parent
        if org.region_code in regions():
            used_regions.add(org.region_code)
    for region in placeholder_icbs.values():
        if region in regions():
            used_regions.add(region)
    for code in sorted(used_icbs):
        if icbs()[code].region_code:
            used_regions.add(icbs()[code].region_code or "")
    # regions, then ICBs, then NHS Wales and its boards, then organisations
    england = Country.ENGLAND.value
    for code in sorted(c for c in used_regions if c in regions()):
        r = regions()[code]
        out.rows.append(_cells(site_id=code, name=r.name, kind=SiteKind.NHS_REGION.value,
                               region=r.name, lat=r.lat, lon=r.lon,
                               source_url=ONS_SOURCE_URL if r.lat is not None else
                               ODS_SOURCE_URL,
                               licence=ONS_LICENCE if r.lat is not None else ODS_LICENCE,
                               country=england))
        out.origin.append(("nhs_regions.csv", None))
    for code in sorted(used_icbs):
        i = icbs()[code]
        out.rows.append(_cells(site_id=code, name=i.name, kind=SiteKind.ICB.value,
                               parent_id=i.region_code, region=region_name(i.region_code),
                               lat=i.lat, lon=i.lon, source_url=ONS_SOURCE_URL,
                               licence=ONS_LICENCE, country=england))
        out.origin.append(("icb_names_codes_dec2024.csv", None))
    if used_boards:
        lat, lon = wales_centroid()
        out.rows.append(_cells(site_id=WALES, name=WALES_NAME, kind=SiteKind.NHS_NATION.value,
                               region=WALES_REGION, lat=lat, lon=lon,
                               source_url=ONS_SOURCE_URL, licence=ONS_LICENCE,
                               country=Country.WALES.value))
        out.origin.append(("ctry_dec2022_attributes.csv", None))
    for code in sorted(used_boards - {WALES}):
        b = health_boards()[code]
        out.rows.append(_cells(site_id=code, name=b.name,
                               kind=SiteKind.LOCAL_HEALTH_BOARD.value, parent_id=WALES,
                               region=WALES_REGION, lat=b.lat, lon=b.lon,
                               source_url=ONS_SOURCE_URL, licence=ONS_LICENCE,
                               country=Country.WALES.value))
        out.origin.append(("lhb_apr2022_attributes.csv", None))
    for code, region in sorted(placeholder_icbs.items()):
        if code in icbs():
            continue
        out.rows.append(_cells(
            site_id=code, name=f"Integrated care board {code}", kind=SiteKind.ICB.value,
            parent_id=region if region in regions() else None, region=region_name(region),
            source_url=ODS_SOURCE_URL, licence=ODS_LICENCE))
        out.origin.append(("ods", None))
    for org in orgs:
        own = coordinates.get(org.code)
        point = own if own is not None else centroid(org.postcode)
        region, country = _place(org)
        out.rows.append(_cells(
            site_id=org.code, name=org.name, kind=org.kind.value, parent_id=parents[org.code],
            postcode=org.postcode, region=region,
            lat=point[0] if point else None, lon=point[1] if point else None,
            open_date=org.open_date, close_date=org.close_date,
            source_url=ODS_SOURCE_URL, licence=ODS_LICENCE, country=country))
        out.origin.append((org.file, org.line))
    return out


# --- loading -------------------------------------------------------------------------

class _OdsSource(RowsSource):
    """The site rows built from the extracts, held in memory; notes which were rejected."""

    def __init__(self, label: str, rows: list[dict[str, str]], digest: str) -> None:
        super().__init__(label, {SiteRow.FILE: rows}, digest=digest)
        self.rows = rows
        self.rejected: set[str] = set()

    def loaded(self, loader: Loader) -> None:
        self.rejected = loader.rejected_ids(
            Label.SITE, (row.get(SiteRow.ID_COLUMN, "").strip() for row in self.rows))


@dataclass
class OdsResult:
    """An ODS load: the ingest run, what changed, and what was skipped."""

    ingest: IngestResult
    files: list[dict[str, Any]] = field(default_factory=list)
    changes: dict[str, list[Any]] = field(default_factory=dict)
    first_load: bool = False

    @property
    def exit_code(self) -> int:
        return self.ingest.exit_code

    def to_dict(self) -> dict[str, Any]:
        out = self.ingest.to_dict()
        out["files"] = self.files
        out["first_load"] = self.first_load
        out["changes"] = self.changes
        return out


#: The ODS column each site column comes from, to name a problem by the extract's column.
_SITE_COLUMNS = {"site_id": column(COL_CODE), "name": column(COL_NAME),
                 "postcode": column(COL_POSTCODE), "open_date": column(COL_OPEN),
                 "close_date": column(COL_CLOSE)}

CHANGE_KINDS = ("opened", "closed", "reopened", "renamed", "moved")


def _state(store: Store, ids: list[str], batch: int) -> dict[str, dict[str, Any]]:
    state: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), batch):
        for row in store.read(queries.SITE_STATES, {"ids": ids[start:start + batch]}):
            state[str(row["id"])] = dict(row)
    return state


def _changes(rows: list[dict[str, str]], state: dict[str, dict[str, Any]]
             ) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {k: [] for k in CHANGE_KINDS}
    for cells in rows:
        sid = cells["site_id"]
        old = state.get(sid)
        if old is None:
            changes["opened"].append({"id": sid, "name": cells["name"], "kind": cells["kind"],
                                      "open_date": cells["open_date"] or None})
            continue
        close_date = cells["close_date"] or None
        if close_date and not old.get("close_date"):
            changes["closed"].append({"id": sid, "name": cells["name"], "close_date": close_date})
        elif not close_date and old.get("close_date"):
            changes["reopened"].append({"id": sid, "name": cells["name"],
                                        "was_closed": old["close_date"]})
        if old.get("name") != cells["name"]:
            changes["renamed"].append({"id": sid, "from": old.get("name"), "to": cells["name"]})
        parent = cells["parent_id"] or None
        if (old.get("parent_id") or None) != parent:
            changes["moved"].append({"id": sid, "name": cells["name"],
                                     "from": old.get("parent_id"), "to": parent})
    return changes


def ingest_ods(store: Store, paths: Iterable[str | Path], *, batch_size: int | None = None,
               progress: Progress | None = None, report_dir: Path | None = None) -> OdsResult:
    """Load ODS extracts into ``store`` and report what changed.

    Raises :class:`OdsUnreadable` when no path is a readable extract.
    """
    files_in = [Path(p) for p in paths]
    if not files_in:
        raise OdsUnreadable("no ODS extract given")
    extracts = [read_extract(p) for p in files_in]
    digest = hashlib.sha256()
    for path in sorted(files_in):
        digest.update(path.read_bytes())
    store.ensure_schema()
    # What the graph already holds about these organisations.
    preliminary = site_rows(extracts)
    ids = [r["site_id"] for r in preliminary.rows]
    batch = batch_size or 2000
    state = _state(store, ids, batch)
    known_sites = {sid for sid, s in state.items() if s.get("kind") == SiteKind.SUB_ICB.value}
    extra = sorted({o.commissioner for e in extracts for o in e.organisations
                    if o.commissioner} - set(ids))
    for start in range(0, len(extra), batch):
        known_sites.update(str(r["id"]) for r in store.read(
            queries.existing_ids(Label.SITE), {"ids": extra[start:start + batch]}))
    coordinates: dict[str, tuple[float, float]] = {}
    for sid, s in state.items():
        if s.get("lat") is None or s.get("lon") is None:
            continue
        point = (float(s["lat"]), float(s["lon"]))
        district = centroid(s.get("postcode"))
        if district is None or (abs(district[0] - point[0]) > 1e-6
                                or abs(district[1] - point[1]) > 1e-6):
            if s.get("kind") not in (SiteKind.ICB.value, SiteKind.NHS_REGION.value,
                                     SiteKind.LOCAL_HEALTH_BOARD.value,
                                     SiteKind.NHS_NATION.value):
                coordinates[sid] = point  # its own coordinates, not a district centroid
    built = site_rows(extracts, known_sites=known_sites, coordinates=coordinates)
    keep_context(store, built.rows, batch=batch)  # deprivation, rurality, size stay
    org_ids = {o.code for e in extracts for o in e.organisations}
    first_load = not any(sid in state for sid in org_ids)
    changes = _changes(built.rows, state)
    source = _OdsSource(", ".join(str(path) for path in files_in), built.rows,
                        digest.hexdigest())
    result = run(store, source, batch_size=batch_size, progress=progress)
    rejected = source.rejected
    # Name problems by the extract file and line they came from.
    mapped = ProblemLog()
    mapped.extend(built.problems)
    for prob in result.problems:
        if (prob.file == SiteRow.FILE and prob.line is not None
                and 2 <= prob.line < len(built.origin) + 2):
            file, line = built.origin[prob.line - 2]
            col = (_SITE_COLUMNS.get(prob.column or "", prob.column) if line is not None
                   else prob.column)
            mapped.append(Problem(file, line, col, prob.reason, prob.allowed, prob.severity))
        else:
            mapped.append(prob)
    result.problems.close()
    result.problems = mapped
    for kind in CHANGE_KINDS:
        changes[kind] = [c for c in changes[kind] if c["id"] not in rejected]
    if result.problems:
        result.rejected["sites"] = result.rejected.get("sites", 0) + len(built.problems)
        if report_dir is not None:
            result.report_paths = write_report(result, report_dir)
    files_info = [{"file": e.path.name, "extract": e.name, "layout_columns": e.layout,
                   "organisations": len(e.organisations), "skipped": e.skipped,
                   "rejected": len(e.problems)} for e in extracts]
    return OdsResult(result, files_info, changes, first_load)
