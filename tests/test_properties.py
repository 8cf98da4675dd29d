"""Property-based tests (hypothesis) of the CSV reader and the interchange row models.

- Any table written as RFC 4180 CSV reads back cell for cell, each row named by its first
  physical line; formula protection (``protect_cell``) reads back to the exact value.
- Arbitrary bytes after a header never raise: every row is either yielded or reported,
  with a line inside the file.
- The row models accept every well-formed row and turn anything else into per-column
  problems (never another exception); date bounds are ordered and exact.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from triedbefore.ingest.bundle import Bundle, Problem
from triedbefore.ontology import models
from triedbefore.ontology.cells import protect_cell, unprotect_cell
from triedbefore.ontology.models import ROW_TYPES, SiteRow, date_bounds, explain
from triedbefore.ontology.vocab import Design, Finding, SiteKind, Status, Visibility

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

#: Any text a cell may hold (NUL is the one character CSV files cannot carry).
cell_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                    max_size=40)
#: Any text an id may hold: no control character (web/app.py refuses them in addresses).
id_text = st.text(st.characters(blacklist_characters="\x7f", blacklist_categories=("Cs", "Cc")),
                  max_size=40)


def read_rows(data: bytes, tmp: Path) -> tuple[list[Any], list[Problem]]:
    """Rows of ``sites.csv`` holding ``data``, read through a .zip bundle (in memory)."""
    archive = tmp / "b.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("sites.csv", data)
    problems: list[Problem] = []
    with Bundle(archive) as bundle:
        rows = list(bundle.rows(SiteRow, problems))
    return rows, problems


@SETTINGS
@given(rows=st.lists(st.tuples(id_text, cell_text, cell_text), max_size=12),
       crlf=st.booleans(), bom=st.booleans())
def test_any_table_reads_back_cell_for_cell_with_first_line_numbers(
        tmp_path_factory: Any, rows: list[tuple[str, str, str]], crlf: bool, bom: bool) -> None:
    buf = io.StringIO()
    # (Python's writer quotes a lone \r only when it is part of the line terminator)
    writer = csv.writer(buf, lineterminator="\r\n" if crlf else "\n",
                        quoting=csv.QUOTE_MINIMAL if crlf else csv.QUOTE_ALL)
    writer.writerow(["site_id", "name", "kind"])
    expected_lines = []
    line = 2
    kept = []
    for row in rows:
        start = buf.tell()
        writer.writerow([protect_cell(c) for c in row])
        written = buf.getvalue()[start:]
        kept.append(row)
        expected_lines.append(line)
        # physical lines: the reader splits on \n only (a lone \r stays inside its line)
        line += written.count("\n")
    data = (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")
    got, problems = read_rows(data, tmp_path_factory.mktemp("csv"))
    assert problems == []
    assert [r.line for r in got] == expected_lines
    assert [(r.cells["site_id"], r.cells["name"], r.cells["kind"]) for r in got] == kept


@SETTINGS
@given(body=st.binary(max_size=400))
def test_arbitrary_bytes_never_raise_and_every_problem_names_a_line_of_the_file(
        tmp_path_factory: Any, body: bytes) -> None:
    data = b"site_id,name,kind\n" + body
    got, problems = read_rows(data, tmp_path_factory.mktemp("csv"))
    physical = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    for row in got:
        assert 2 <= row.line <= physical
        assert set(row.cells) == {"site_id", "name", "kind"}
    for p in problems:
        assert p.file == "sites.csv"
        assert p.line is None or 1 <= p.line <= physical, (p, physical)
    lines = [r.line for r in got] + [p.line for p in problems if p.line]
    assert len(lines) == len(set(lines))  # no row both yielded and reported, or twice


@SETTINGS
@given(value=cell_text)
def test_formula_protection_round_trips_and_never_starts_a_formula(value: str) -> None:
    protected = protect_cell(value)
    assert unprotect_cell(protected) == value
    assert not protected.startswith(("=", "+", "-", "@", "\t", "\r"))


# --- row models ------------------------------------------------------------------------

ids = st.text(st.characters(blacklist_characters="|\x00", blacklist_categories=("Cs", "Z", "Cc")),
              min_size=1, max_size=12)
names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30) \
    .filter(lambda s: s.strip() != "")
days = st.dates(min_value=date(1800, 1, 1), max_value=date(2200, 12, 31))
partial_dates = st.one_of(days.map(date.isoformat), days.map(lambda d: d.isoformat()[:7]),
                          days.map(lambda d: d.isoformat()[:4]))


@SETTINGS
@given(row_type=st.sampled_from(ROW_TYPES), data=st.data())
def test_any_cells_validate_or_give_per_column_problems(row_type: Any, data: Any) -> None:
    columns = row_type.columns()
    cells = data.draw(st.dictionaries(st.sampled_from(columns), cell_text, max_size=len(columns)))
    try:
        row = row_type.model_validate(cells)
    except ValidationError as exc:
        problems = explain(exc)
        assert problems
        for p in problems:
            assert p.column in columns and p.reason
    else:
        assert row.row_id.strip() == row.row_id and row.row_id
        props = row.node_properties()
        for column in row.DATE_COLUMNS:
            if props.get(column) is not None:
                assert props[f"{column}_lo"] <= props[f"{column}_hi"]


@SETTINGS
@given(site_id=ids, name=names, kind=st.sampled_from(list(SiteKind)),
       lat=st.one_of(st.none(), st.floats(-90, 90)), parent=st.one_of(st.none(), ids))
def test_well_formed_site_rows_validate(site_id: str, name: str, kind: SiteKind,
                                        lat: float | None, parent: str | None) -> None:
    cells = {"site_id": site_id, "name": name, "kind": kind.value,
             "lat": "" if lat is None else repr(lat), "parent_id": parent or ""}
    row = SiteRow.model_validate(cells)
    assert row.site_id == site_id.strip() and row.kind is kind
    assert row.lat == lat
    assert row.references() == {"parent_id": [parent.strip()] if parent and parent.strip()
                                 else []}


@SETTINGS
@given(iid=ids, title=names, sites=st.lists(ids, min_size=1, max_size=4), start=partial_dates,
       status=st.one_of(st.none(), st.sampled_from(list(Status))),
       visibility=st.one_of(st.none(), st.sampled_from(list(Visibility))),
       cost=st.one_of(st.none(), st.floats(0, 1e9)))
def test_well_formed_initiative_rows_validate(iid: str, title: str, sites: list[str],
                                              start: str, status: Status | None,
                                              visibility: Visibility | None,
                                              cost: float | None) -> None:
    sites = [s for s in sites if s.strip()] or ["X"]
    cells = {"initiative_id": iid, "title": title, "site_ids": "|".join(sites),
             "start_date": start, "status": status.value if status else "",
             "visibility": visibility.value if visibility else "",
             "cost_gbp": "" if cost is None else repr(cost)}
    row = models.InitiativeRow.model_validate(cells)
    assert row.references()["site_ids"] == [s.strip() for s in sites]
    assert row.visibility is (visibility or Visibility.PUBLIC)
    props = row.node_properties()
    assert props["start_date_lo"] == date_bounds(start)[0]
    assert props["visibility"] == (visibility or Visibility.PUBLIC).value


@SETTINGS
@given(eid=ids, title=names, design=st.sampled_from(list(Design)),
       finding=st.sampled_from(list(Finding)), published=partial_dates,
       level=st.integers(-3, 9))
def test_evaluation_levels_outside_one_to_five_are_refused(eid: str, title: str, design: Design,
                                                           finding: Finding, published: str,
                                                           level: int) -> None:
    cells = {"evaluation_id": eid, "initiative_ids": "I1", "title": title,
             "design": design.value, "finding": finding.value, "published_date": published,
             "sms_level": str(level)}
    try:
        row = models.EvaluationRow.model_validate(cells)
    except ValidationError as exc:
        assert not 1 <= level <= 5
        assert [p.column for p in explain(exc)] == ["sms_level"]
    else:
        assert 1 <= level <= 5 and row.sms_level == level


@SETTINGS
@given(day=days)
def test_date_bounds_are_exact_for_days_months_and_years(day: date) -> None:
    epoch = date(1970, 1, 1)
    n = (day - epoch).days
    assert date_bounds(day.isoformat()) == (n, n)
    lo, hi = date_bounds(day.isoformat()[:7])
    assert lo <= n <= hi and (date(day.year, day.month, 1) - epoch).days == lo
    lo, hi = date_bounds(str(day.year).zfill(4))
    assert lo <= n <= hi and hi - lo in (364, 365)
