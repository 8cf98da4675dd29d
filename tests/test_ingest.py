"""Bundle ingestion on the embedded engine: happy path, idempotence, updates, and every
bad-input rule of spec/interchange.md."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from triedbefore.graph import QueryError
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest import BundleUnreadable
from triedbefore.ingest.pipeline import ingest

SITES = """site_id,name,kind,parent_id,postcode,region,lat,lon
QYG,NHS Cheshire and Merseyside ICB,icb,,,North West,53.3247,-2.38572
RBL,Wirral University Teaching Hospital NHS Foundation Trust,trust,QYG,CH49 5PE,North West,,
N81001,Example Practice,gp_practice,QYG,,North West,,
"""
SOLUTIONS = """solution_id,name,aliases,description,intervention_type,technology,problem,tags
SOL-VW,Virtual wards,Hospital at home|VW,Acute care at home,delivery_arrangements,true,Bed pressure,frailty
"""
INITIATIVES = """initiative_id,title,solution_id,site_ids,start_date,learned_from,status,cost_gbp
I1,Wirral virtual ward,SOL-VW,RBL|QYG,2019-06,,active,120000
I2,Second ward,SOL-VW,N81001,2021,E1,completed,
"""
OUTCOMES = """outcome_id,initiative_id,measure,baseline,value,direction
O1,I1,Emergency admissions per 1000,40,30,improved
"""
EVALUATIONS = """evaluation_id,initiative_ids,title,design,finding,published_date,independent,outcome_ids
E1,I1,Evaluation of the Wirral ward,rct,no_effect,2020,true,O1
"""
GOOD = {"sites.csv": SITES, "solutions.csv": SOLUTIONS, "initiatives.csv": INITIATIVES,
        "outcomes.csv": OUTCOMES, "evaluations.csv": EVALUATIONS}


def write_bundle(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return folder


def links(store: FalkorStore, rel: str) -> list[tuple[str, str]]:
    rows = store.read(f"MATCH (a)-[:{rel}]->(b) RETURN a.id AS a, b.id AS b ORDER BY a, b")
    return [(r["a"], r["b"]) for r in rows]


def node(store: FalkorStore, label: str, node_id: str) -> dict[str, Any] | None:
    rows = store.read(f"MATCH (n:{label} {{id: $id}}) RETURN n {{.*}} AS n", {"id": node_id})
    return rows[0]["n"] if rows else None


def errors(result: Any) -> list[tuple[str, int | None, str | None]]:
    return [(p.file, p.line, p.column) for p in result.errors]


# --- happy path ---------------------------------------------------------------


def test_good_bundle_loads_every_row_and_relationship(store: FalkorStore, tmp_path: Path) -> None:
    result = ingest(store, write_bundle(tmp_path / "b", GOOD))
    assert result.exit_code == 0, result.errors
    assert result.loaded == {"sites": 3, "solutions": 1, "initiatives": 2, "outcomes": 1,
                             "evaluations": 1}
    assert links(store, "TRIED_AT") == [("I1", "QYG"), ("I1", "RBL"), ("I2", "N81001")]
    assert links(store, "PART_OF") == [("N81001", "QYG"), ("RBL", "QYG")]
    assert links(store, "IMPLEMENTS") == [("I1", "SOL-VW"), ("I2", "SOL-VW")]
    assert links(store, "LEARNED_FROM") == [("I2", "E1")]
    assert links(store, "HAS_OUTCOME") == [("I1", "O1")]
    assert links(store, "EVALUATED") == [("E1", "I1")]
    assert links(store, "REPORTS") == [("E1", "O1")]
    sol = node(store, "Solution", "SOL-VW")
    assert sol is not None
    assert sol["aliases"] == ["Hospital at home", "VW"] and sol["technology"] is True
    ini = node(store, "Initiative", "I1")
    assert ini is not None
    assert ini["cost_gbp"] == 120000 and ini["start_date"] == "2019-06"
    # partial dates: first and last day of the period, as days since 1970-01-01
    assert (ini["start_date_lo"], ini["start_date_hi"]) == (18048, 18077)
    ev = node(store, "Evaluation", "E1")
    assert ev is not None and ev["sms_effective"] == 5 and ev["published_date_hi"] == 18627


def test_provenance_every_fact_records_its_run(store: FalkorStore, tmp_path: Path) -> None:
    result = ingest(store, write_bundle(tmp_path / "b", GOOD))
    runs = store.read("MATCH (r:IngestRun) RETURN r {.*} AS r")
    assert len(runs) == 1
    run = runs[0]["r"]
    assert run["id"] == result.run_id and run["status"] == "completed"
    assert sorted(c.split(":")[0] for c in run["checksums"]) == sorted(GOOD)
    assert json.loads(run["counts_json"])["initiatives"] == 2
    missing = store.read("MATCH (n) WHERE NOT n:IngestRun AND n.run_id IS NULL "
                         "RETURN count(n) AS n")
    assert missing[0]["n"] == 0
    missing_rel = store.read("MATCH ()-[e]->() WHERE e.run_id <> $run OR e.run_id IS NULL "
                             "RETURN count(e) AS n", {"run": result.run_id})
    assert missing_rel[0]["n"] == 0


def test_reload_is_idempotent_and_writes_nothing(store: FalkorStore, tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b", GOOD)
    first = ingest(store, bundle)
    before = store.read("MATCH (n) WHERE NOT n:IngestRun RETURN n.id AS id, n.run_id AS run "
                        "ORDER BY id")
    second = ingest(store, bundle)
    assert second.exit_code == 0
    assert sum(second.written.values()) == 0
    assert second.unchanged == first.loaded
    after = store.read("MATCH (n) WHERE NOT n:IngestRun RETURN n.id AS id, n.run_id AS run "
                       "ORDER BY id")
    assert before == after  # nothing rewritten: every fact still names the first run
    assert store.read("MATCH ()-[e]->() RETURN count(e) AS n")[0]["n"] == 11


def test_newer_row_updates_properties_and_relationships(store: FalkorStore, tmp_path: Path
                                                        ) -> None:
    ingest(store, write_bundle(tmp_path / "a", GOOD))
    changed = INITIATIVES.replace("I1,Wirral virtual ward,SOL-VW,RBL|QYG,2019-06,,active,120000",
                                  "I1,Wirral virtual ward (phase 2),SOL-VW,RBL,2019-06,,,")
    result = ingest(store, write_bundle(tmp_path / "b", {"initiatives.csv": changed}))
    assert result.written["initiatives"] == 1 and result.unchanged["initiatives"] == 1
    ini = node(store, "Initiative", "I1")
    assert ini is not None
    assert ini["title"] == "Wirral virtual ward (phase 2)"
    assert "status" not in ini and "cost_gbp" not in ini  # emptied cells are removed
    assert ini["run_id"] == result.run_id
    assert links(store, "TRIED_AT") == [("I1", "RBL"), ("I2", "N81001")]
    i2 = node(store, "Initiative", "I2")
    assert i2 is not None and i2["run_id"] != result.run_id


def test_zip_bundle_with_top_folder(store: FalkorStore, tmp_path: Path) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, content in GOOD.items():
            zf.writestr(f"export/{name}", content)
    result = ingest(store, archive)
    assert result.exit_code == 0 and result.loaded["initiatives"] == 2


def test_reference_to_a_node_already_in_the_graph(store: FalkorStore, tmp_path: Path) -> None:
    ingest(store, write_bundle(tmp_path / "a", {"sites.csv": SITES, "solutions.csv": SOLUTIONS}))
    only = "initiative_id,title,solution_id,site_ids,start_date\nI9,Later,SOL-VW,RBL,2024\n"
    result = ingest(store, write_bundle(tmp_path / "b", {"initiatives.csv": only}))
    assert result.exit_code == 0
    assert links(store, "TRIED_AT") == [("I9", "RBL")]


def test_bom_crlf_case_insensitive_header_and_multiline_cell(store: FalkorStore, tmp_path: Path
                                                              ) -> None:
    text = ('\ufeffSite_ID,NAME,Kind\r\nA1,"Line one\r\nline two",trust\r\nA2,Plain,ward\r\n'
            'A3,"Quoted, with comma",other\r\n')
    result = ingest(store, write_bundle(tmp_path / "b", {"sites.csv": text}))
    assert result.exit_code == 0, result.errors
    a1 = node(store, "Site", "A1")
    assert a1 is not None and a1["name"] == "Line one\r\nline two"
    assert result.loaded["sites"] == 3


def test_unknown_columns_are_kept_as_x_properties_with_a_warning(store: FalkorStore,
                                                                 tmp_path: Path) -> None:
    text = "site_id,name,kind,ODS Role\nA1,Alpha,trust,RO197\n"
    result = ingest(store, write_bundle(tmp_path / "b", {"sites.csv": text}))
    assert result.exit_code == 0
    assert [(w.file, w.line, w.column) for w in result.warnings] == [("sites.csv", 1, "ODS Role")]
    assert "x_ods_role" in result.warnings[0].reason
    a1 = node(store, "Site", "A1")
    assert a1 is not None and a1["x_ods_role"] == "RO197"


def test_header_only_file_is_valid_and_loads_nothing(store: FalkorStore, tmp_path: Path) -> None:
    result = ingest(store, write_bundle(tmp_path / "b", {"sites.csv": "site_id,name,kind\n"}))
    assert result.exit_code == 0 and result.loaded["sites"] == 0


# --- bad input ------------------------------------------------------------------


def test_row_errors_name_file_line_column_and_allowed_values(store: FalkorStore, tmp_path: Path
                                                             ) -> None:
    sites = ("site_id,name,kind,lat\n"
             "A1,Alpha,trust,\n"
             "A2,,trust,\n"             # empty required value
             "A3,Gamma,spaceship,\n"    # value outside the enumeration
             "A4,Delta,ward,95\n"       # latitude out of range
             "A5,Epsilon,ward,north\n")  # not a number
    initiatives = ("initiative_id,title,site_ids,start_date,cost_gbp\n"
                   "I1,Ok,A1,2019-02-28,\n"
                   "I2,Bad day,A1,2019-02-30,\n"     # date that does not exist
                   "I3,Bad format,A1,28/02/2019,\n"  # not ISO 8601
                   "I4,Bad cost,A1,2019,lots\n")
    evaluations = ("evaluation_id,initiative_ids,title,design,finding,published_date,sms_level\n"
                   "E1,I1,Strong,rct,positive,2020,7\n")
    result = ingest(store, write_bundle(tmp_path / "b", {
        "sites.csv": sites, "initiatives.csv": initiatives, "evaluations.csv": evaluations}))
    assert result.exit_code == 3
    got = {(p.file, p.line, p.column): p for p in result.errors}
    assert set(got) == {
        ("sites.csv", 3, "name"), ("sites.csv", 4, "kind"), ("sites.csv", 5, "lat"),
        ("sites.csv", 6, "lat"), ("initiatives.csv", 3, "start_date"),
        ("initiatives.csv", 4, "start_date"), ("initiatives.csv", 5, "cost_gbp"),
        ("evaluations.csv", 2, "sms_level"),
    }
    assert got[("sites.csv", 4, "kind")].allowed[:3] == ("trust", "icb", "sub_icb")
    assert "spaceship" in got[("sites.csv", 4, "kind")].reason
    assert "does not exist" in got[("initiatives.csv", 3, "start_date")].reason
    # good rows still load
    assert [r["id"] for r in store.read("MATCH (s:Site) RETURN s.id AS id ORDER BY id")] == ["A1"]
    assert [r["id"] for r in store.read("MATCH (i:Initiative) RETURN i.id AS id")] == ["I1"]


def test_dangling_reference_is_a_row_error(store: FalkorStore, tmp_path: Path) -> None:
    initiatives = ("initiative_id,title,site_ids,start_date,solution_id\n"
                   "I1,Somewhere,NOWHERE,2020,\n"
                   "I2,Unknown solution,A1,2020,SOL-X\n"
                   "I3,Fine,A1,2020,\n")
    result = ingest(store, write_bundle(tmp_path / "b", {
        "sites.csv": "site_id,name,kind\nA1,Alpha,trust\n", "initiatives.csv": initiatives}))
    assert errors(result) == [("initiatives.csv", 2, "site_ids"),
                              ("initiatives.csv", 3, "solution_id")]
    assert "neither in the bundle nor in the graph" in result.errors[0].reason
    assert result.loaded["initiatives"] == 1


def test_rows_referring_to_a_rejected_row_are_rejected_in_turn(store: FalkorStore,
                                                               tmp_path: Path) -> None:
    sites = "site_id,name,kind,parent_id\nP,Parent,icb,\nBAD,,trust,P\nCHILD,Child,ward,BAD\n"
    initiatives = ("initiative_id,title,site_ids,start_date,learned_from\n"
                   "I1,At bad site,CHILD,2020,\n"
                   "I2,Cites the evaluation of I1,P,2021,E1\n"
                   "I3,Independent,P,2021,\n")
    evaluations = ("evaluation_id,initiative_ids,title,design,finding,published_date\n"
                   "E1,I1,Evaluation of I1,rct,negative,2020\n")
    outcomes = "outcome_id,initiative_id,measure,direction\nO1,I1,Admissions,improved\n"
    result = ingest(store, write_bundle(tmp_path / "b", {
        "sites.csv": sites, "initiatives.csv": initiatives, "evaluations.csv": evaluations,
        "outcomes.csv": outcomes}))
    assert set(errors(result)) == {
        ("sites.csv", 3, "name"), ("sites.csv", 4, "parent_id"),
        ("initiatives.csv", 2, "site_ids"), ("outcomes.csv", 2, "initiative_id"),
        ("evaluations.csv", 2, "initiative_ids"),
        ("initiatives.csv", 3, "learned_from"),  # cascades backwards through the evaluation
    }
    assert [r["id"] for r in store.read("MATCH (n) WHERE NOT n:IngestRun AND NOT n:GraphVersion "
                                        "RETURN n.id AS id "
                                        "ORDER BY id")] == ["I3", "P"]


def test_repeated_id_keeps_the_first_row(store: FalkorStore, tmp_path: Path) -> None:
    sites = "site_id,name,kind\nA1,First,trust\nA2,Other,ward\nA1,Second,ward\n"
    result = ingest(store, write_bundle(tmp_path / "b", {"sites.csv": sites}))
    assert errors(result) == [("sites.csv", 4, "site_id")]
    assert "line 2" in result.errors[0].reason
    a1 = node(store, "Site", "A1")
    assert a1 is not None and a1["name"] == "First"


def test_bytes_that_are_not_utf8_reject_only_their_row(store: FalkorStore, tmp_path: Path
                                                       ) -> None:
    data = b"site_id,name,kind\nA1,Alpha,trust\n" + b"A2,Caf\xe9 Royal,ward\n" + \
        b"A3,Gamma,ward\n"
    result = ingest(store, write_bundle(tmp_path / "b", {"sites.csv": data}))
    assert errors(result) == [("sites.csv", 3, None)]
    assert "not UTF-8" in result.errors[0].reason
    assert result.loaded["sites"] == 2


def test_windows_1252_file_with_bom_is_reported_row_by_row(store: FalkorStore, tmp_path: Path
                                                           ) -> None:
    data = b"\xef\xbb\xbfsite_id,name,kind\r\nA1,St Mary\x92s,trust\r\nA2,Plain,ward\r\n"
    result = ingest(store, write_bundle(tmp_path / "b", {"sites.csv": data}))
    assert errors(result) == [("sites.csv", 2, None)]
    assert result.loaded["sites"] == 1


def test_unclosed_quote_says_the_rest_cannot_be_read(store: FalkorStore, tmp_path: Path) -> None:
    sites = 'site_id,name,kind\nA1,Alpha,trust\nA2,"Never closed,ward\nA3,Gamma,ward\nA4,D,ward\n'
    result = ingest(store, write_bundle(tmp_path / "b", {"sites.csv": sites}))
    assert errors(result) == [("sites.csv", 3, None)]
    assert "never closed" in result.errors[0].reason
    assert "lines 3–5" in result.errors[0].reason
    assert result.loaded["sites"] == 1


def test_wrong_number_of_cells(store: FalkorStore, tmp_path: Path) -> None:
    sites = "site_id,name,kind\nA1,Alpha,trust,extra\nA2,Beta,ward\n"
    result = ingest(store, write_bundle(tmp_path / "b", {"sites.csv": sites}))
    assert errors(result) == [("sites.csv", 2, None)]
    assert result.loaded["sites"] == 1


def test_missing_required_column_is_a_file_error(store: FalkorStore, tmp_path: Path) -> None:
    result = ingest(store, write_bundle(tmp_path / "b", {
        "sites.csv": "site_id,name\nA1,Alpha\n",
        "solutions.csv": SOLUTIONS}))
    assert errors(result) == [("sites.csv", 1, None)]
    assert "kind" in result.errors[0].reason
    assert result.loaded.get("solutions") == 1


def test_not_a_bundle_reads_nothing(store: FalkorStore, tmp_path: Path) -> None:
    with pytest.raises(BundleUnreadable):
        ingest(store, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleUnreadable):
        ingest(store, tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BundleUnreadable):
        ingest(store, tmp_path / "notes.txt")
    assert store.read("MATCH (n) RETURN count(n) AS n") == [] or \
        store.read("MATCH (n) RETURN count(n) AS n")[0]["n"] == 0


def test_report_files_are_written(store: FalkorStore, tmp_path: Path) -> None:
    sites = "site_id,name,kind\nA1,=HYPERLINK(\"http://x\"),spaceship\n"
    result = ingest(store, write_bundle(tmp_path / "b", {"sites.csv": sites}),
                    report_dir=tmp_path / "reports")
    paths = {p.suffix: p for p in result.report_paths}
    data = json.loads(paths[".json"].read_text())
    assert data["problems"][0]["line"] == 2 and data["problems"][0]["column"] == "kind"
    text = paths[".csv"].read_text()
    assert "sites.csv,2,kind,error" in text


def test_cypher_looking_text_is_stored_as_data(store: FalkorStore, tmp_path: Path) -> None:
    sites = ("site_id,name,kind\n"
             "\"x'}) MATCH (n) DETACH DELETE n //\",\"Robert'); DROP TABLE--\",trust\n"
             "A2,\"$param {braces} `ticks`\",ward\n")
    result = ingest(store, write_bundle(tmp_path / "b", {"sites.csv": sites}))
    assert result.exit_code == 0
    names = [r["n"] for r in store.read("MATCH (s:Site) RETURN s.name AS n ORDER BY s.id")]
    assert names == ["$param {braces} `ticks`", "Robert'); DROP TABLE--"]


class RefusingStore:
    """A real store that refuses writes touching one id, as a database constraint would."""

    def __init__(self, inner: FalkorStore, bad_id: str) -> None:
        self._inner = inner
        self._bad = bad_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _check(self, params: Any) -> None:
        rows = (params or {}).get("rows") or []
        if any(r.get("id") == self._bad for r in rows):
            raise QueryError("constraint violation")

    def write(self, query: str, params: Any = None) -> Any:
        self._check(params)
        return self._inner.write(query, params)

    def write_with_copy(self, query: str, params: Any, copy_params: Any) -> Any:
        self._check(params)
        return self._inner.write_with_copy(query, params, copy_params)


def test_one_refused_row_never_drops_the_rest_of_its_batch(store: FalkorStore, tmp_path: Path
                                                           ) -> None:
    sites = "site_id,name,kind\n" + "".join(f"S{i:03d},Site {i},ward\n" for i in range(50))
    refusing = RefusingStore(store, "S017")
    result = ingest(refusing, write_bundle(tmp_path / "b", {"sites.csv": sites}),  # type: ignore[arg-type]
                    batch_size=20)
    assert errors(result) == [("sites.csv", 19, None)]
    assert "refused" in result.errors[0].reason
    assert store.read("MATCH (s:Site) RETURN count(s) AS n")[0]["n"] == 49


def test_deferred_links_across_batches_are_completed(store: FalkorStore, tmp_path: Path) -> None:
    """Rows citing later rows (learned_from, parent_id) in many batches all finish."""
    sites = "site_id,name,kind,parent_id\n" + "".join(
        f"S{i:03d},Site {i},ward,S{i + 1:03d}\n" for i in range(30)) + "S030,Top,icb,\n"
    initiatives = "initiative_id,title,site_ids,start_date,learned_from\n" + "".join(
        f"I{i:03d},Attempt {i},S000,2020,I{i + 1:03d}\n" for i in range(30)) + \
        "I030,First,S000,2019,\n"
    bundle = write_bundle(tmp_path / "b", {"sites.csv": sites, "initiatives.csv": initiatives})
    first = ingest(store, bundle, batch_size=7)
    assert first.exit_code == 0
    assert len(links(store, "PART_OF")) == 30 and len(links(store, "LEARNED_FROM")) == 30
    pending = store.read("MATCH (n) WHERE NOT n:IngestRun AND NOT n:GraphVersion "
                         "AND n.row_hash IS NULL RETURN count(n) AS n")
    assert pending[0]["n"] == 0
    again = ingest(store, bundle, batch_size=7)
    assert sum(again.written.values()) == 0


def test_a_rewritten_row_holds_exactly_its_new_values(store: FalkorStore, tmp_path: Path
                                                      ) -> None:
    """Values emptied in a later bundle go, the others change, none is lost (several
    removed at once once lost a value that stayed on FalkorDB); a solution keeps the
    verdict recorded for it."""
    from triedbefore.ontology.models import EvaluationRow

    head = ("evaluation_id,initiative_ids,title,design,sms_level,review_quality,finding,"
            "published_date,independent,sample_size,evaluator,doi,url,outcome_ids\n")
    base = {"sites.csv": "site_id,name,kind\nS1,Site,trust\n",
            "solutions.csv": "solution_id,name\nSOL1,Remote clinics\n",
            "initiatives.csv": "initiative_id,title,solution_id,site_ids,start_date\n"
                               "I1,Pilot,SOL1,S1,2019\n"}
    first = head + ("E1,I1,Matched study,matched_comparison,2,,no_effect,2025-12,true,3556,"
                    "National partner,10.1/x,https://example.org/e1,\n")
    second = head + "E1,I1,Case study,case_study,,,inconclusive,2025-09,false,,Local team,,,\n"
    assert ingest(store, write_bundle(tmp_path / "a", {**base, "evaluations.csv": first})
                  ).exit_code == 0
    verdict = store.read("MATCH (s:Solution {id: 'SOL1'}) RETURN s.verdict AS v")[0]["v"]
    assert verdict is not None
    renamed = {**base, "solutions.csv": "solution_id,name\nSOL1,Remote outpatient clinics\n"}
    assert ingest(store, write_bundle(tmp_path / "b", {**renamed, "evaluations.csv": first})
                  ).exit_code == 0
    assert ingest(store, write_bundle(tmp_path / "c", {**renamed, "evaluations.csv": second})
                  ).exit_code == 0
    row = dict(zip(head.strip().split(","), second.splitlines()[1].split(","), strict=True))
    want = {k: v for k, v in EvaluationRow.model_validate(row).node_properties().items()
            if v is not None}
    # the public copy keeps the verdict on public evidence only (public_verdict)
    for graph, kept in ((store, "verdict"), (store.public_copy(), "public_verdict")):
        got = graph.read("MATCH (e:Evaluation {id: 'E1'}) RETURN e {.*} AS e")[0]["e"]
        got = {k: v for k, v in got.items()
               if k not in ("id", "run_id", "row_hash", "embedding", "embedded_hash")}
        assert got == want
        assert graph.read("MATCH (s:Solution {id: 'SOL1'}) RETURN s {.*} AS s"
                          )[0]["s"].get(kept) is not None
