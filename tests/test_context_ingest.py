"""The site context ingest: the official files as published (OHID Fingertips IMD 2019 by
GP practice, NHS Digital patients registered at a GP practice, an ONS rural-urban file by
site code), their row errors, the derived area values, the load through the ingest entry
point, and an ODS reload that keeps the context."""

from __future__ import annotations

from pathlib import Path

import pytest

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.context import (
    ContextUnreadable,
    apply_context,
    ingest_context,
    read_context_file,
)
from triedbefore.ingest.pipeline import ingest

ROOT = Path(__file__).resolve().parents[1]
CONTEXT = ROOT / "ingest" / "demo" / "sources" / "context"
BUNDLE = Path(__file__).resolve().parent / "data" / "adapt"
FINGERTIPS_HEADER = ("Indicator ID,Indicator Name,Parent Code,Parent Name,Area Code,Area Name,"
                     "Area Type,Sex,Age,Category Type,Category,Time period,Value\n")
REG_HEADER = ("PUBLICATION,EXTRACT_DATE,TYPE,CCG_CODE,ONS_CCG_CODE,CODE,POSTCODE,SEX,AGE,"
              "NUMBER_OF_PATIENTS\n")


def test_the_real_files_are_read_as_published() -> None:
    imd = read_context_file(CONTEXT / "fingertips_93553_imd2019_gp.csv")
    assert imd.kind == "imd" and not imd.problems
    assert len(imd.values) == 6545  # the GP rows; the two England rows are skipped
    assert imd.values["A81001"]["imd_score"] == "32.36"
    assert imd.values["A81001"]["imd_year"] == "2019"
    assert "indicator_ids=93553" in imd.values["A81001"]["imd_source"]
    patients = read_context_file(CONTEXT / "gp-reg-pat-prac-all_2021-01.csv")
    assert patients.kind == "patients" and not patients.problems
    assert len(patients.values) == 6658
    assert patients.values["A84002"]["registered_patients"] == "5903"
    assert patients.values["A84002"]["registered_patients_date"] == "2021-01-01"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_row_errors_name_file_line_column_and_allowed_values(tmp_path: Path) -> None:
    imd = read_context_file(_write(tmp_path / "imd.csv", FINGERTIPS_HEADER
                                   + "93553,Deprivation score (IMD 2019),E92000001,England,"
                                   "X-P1,P1,GP,Persons,All ages,,,2019,abc\n"
                                   "93553,Deprivation score (IMD 2019),E92000001,England,"
                                   "X-P2,P2,GP,Persons,All ages,,,2019,12.5\n"))
    assert [(p.file, p.line, p.column) for p in imd.problems] == [("imd.csv", 2, "Value")]
    assert imd.values == {"X-P2": {"imd_score": "12.5", "imd_year": "2019",
                                   "imd_source": imd.values["X-P2"]["imd_source"]}}
    ruc = read_context_file(_write(tmp_path / "ruc.csv", "code,RUC11CD\nX-P1,C1\nX-P2,Z9\n"
                                   "X-P3,e2\n"))
    assert [(p.line, p.column) for p in ruc.problems] == [(3, "RUC11CD")]
    assert "A1" in ruc.problems[0].allowed and "F2" in ruc.problems[0].allowed
    assert ruc.values["X-P1"]["rurality"] == "urban_city_and_town"
    assert ruc.values["X-P3"]["rurality"] == "rural_village_and_dispersed_sparse"
    named = read_context_file(_write(tmp_path / "named.csv",
                                     "ods_code,RUC11\nX-P1,Rural town and fringe\n"
                                     "X-P2,Suburb\n"))
    assert named.values["X-P1"]["rurality"] == "rural_town_and_fringe"
    assert [(p.line, p.column) for p in named.problems] == [(3, "RUC11")]
    reg = read_context_file(_write(tmp_path / "reg.csv", REG_HEADER
                                   + "GP_PRAC_PAT_LIST,01JAN2021,GP,00L,E1,X-P1,NE1,ALL,ALL,"
                                   "many\n"
                                   "GP_PRAC_PAT_LIST,99XXX2021,GP,00L,E1,X-P2,NE1,ALL,ALL,5\n"
                                   "GP_PRAC_PAT_LIST,01JAN2021,GP,00L,E1,X-P3,NE1,ALL,ALL\n"))
    assert [(p.line, p.column) for p in reg.problems] == [
        (2, "NUMBER_OF_PATIENTS"), (3, "EXTRACT_DATE"), (4, None)]
    with pytest.raises(ContextUnreadable, match="not a context file"):
        read_context_file(_write(tmp_path / "other.csv", "a,b\n1,2\n"))
    with pytest.raises(ContextUnreadable, match="cannot be read"):
        read_context_file(tmp_path / "missing.csv")


def test_deciles_and_area_values_are_derived() -> None:
    sites = [{"site_id": "S", "kind": "sub_icb", "parent_id": "I"},
             {"site_id": "I", "kind": "icb", "parent_id": ""},
             *({"site_id": f"P{n}", "kind": "gp_practice", "parent_id": "S"} for n in range(10))]
    imd = read_context_file(CONTEXT / "fingertips_93553_imd2019_gp.csv")
    imd.values = {f"P{n}": {"imd_score": str(10 + n * 5), "imd_year": "2019",
                            "imd_source": "test"} for n in range(10)}
    reg = read_context_file(CONTEXT / "gp-reg-pat-prac-all_2021-01.csv")
    reg.values = {f"P{n}": {"registered_patients": "1000", "registered_patients_date":
                            "2021-01-01", "registered_patients_source": "test"}
                  for n in range(5)}
    rows, coverage = apply_context(sites, [imd, reg])
    by_id = {r["site_id"]: r for r in rows}
    assert by_id["P9"]["imd_decile"] == "1" and by_id["P0"]["imd_decile"] == "10"
    # the area: weighted over the five practices with both a score and a count
    assert by_id["S"]["imd_score"] == "20" and by_id["S"]["registered_patients"] == "5000"
    assert by_id["I"]["imd_score"] == "20" and by_id["I"]["registered_patients"] == "5000"
    assert "5 of its 10 GP practices" in by_id["S"]["imd_source"]
    assert coverage.imd == {"gp_practice": 10, "sub_icb": 1, "icb": 1}
    assert coverage.patients == {"gp_practice": 5, "sub_icb": 1, "icb": 1}
    assert coverage.rurality == {}


def test_ingest_context_adds_values_and_keeps_the_rest(store: FalkorStore,
                                                       tmp_path: Path) -> None:
    assert ingest(store, BUNDLE).exit_code == 0
    ruc = _write(tmp_path / "ruc.csv", "code,RUC11CD\nX-T1,B1\nX-P1,D2\nNOT-HERE,A1\n")
    first = ingest_context(store, [ruc])
    assert first.exit_code == 0
    assert first.ingest.written["sites"] == 2
    assert first.files[0]["not_in_graph"] == 1
    rows = store.read("MATCH (t:Site) WHERE t.id IN ['X-T1', 'X-P1'] "
                      "OPTIONAL MATCH (t)-[:PART_OF]->(p:Site) RETURN t.id AS id, "
                      "t.rurality AS r, t.name AS name, t.imd_score AS imd, p.id AS parent "
                      "ORDER BY id")
    assert rows == [{"id": "X-P1", "r": "rural_town_and_fringe_sparse",
                     "name": "Test practice one", "imd": 45.2, "parent": "X-S1"},
                    {"id": "X-T1", "r": "urban_minor_conurbation", "name": "Test trust",
                     "imd": None, "parent": None}]
    again = ingest_context(store, [ruc])
    assert again.ingest.written.get("sites", 0) == 0  # idempotent
    bad = _write(tmp_path / "bad.csv", "code,RUC11CD\nX-P2,Q7\n")
    result = ingest_context(store, [bad])
    assert result.exit_code == 3
    assert [p.column for p in result.ingest.problems] == ["RUC11CD"]


def test_an_ods_reload_keeps_the_context(store: FalkorStore, tmp_path: Path) -> None:
    from triedbefore.ingest.ods import ingest_ods

    sample = ROOT / "tests" / "data" / "ods"
    extracts = sorted(sample.glob("*.csv"))
    assert extracts
    ingest_ods(store, extracts)
    code = str(store.read("MATCH (t:Site {kind: 'gp_practice'}) RETURN t.id AS id "
                          "ORDER BY id LIMIT 1")[0]["id"])
    ruc = _write(tmp_path / "ruc.csv", f"code,RUC11CD\n{code},E1\n")
    assert ingest_context(store, [ruc]).exit_code == 0
    ingest_ods(store, extracts)
    assert store.read("MATCH (t:Site {id: $id}) RETURN t.rurality AS r", {"id": code}) == [
        {"r": "rural_village_and_dispersed"}]
