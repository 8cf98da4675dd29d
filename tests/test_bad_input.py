"""The bad-input corpus (``tests/data/bad/``): each case is a bundle and its
``expected.json`` (the problems, as file/line/column/reason, and the rows that load).

Every case is loaded on top of ``_base``; the test proves the report is exactly the
expected one and that the graph already loaded is unchanged apart from the good rows
(nodes and relationships compared property by property). Then what the cases store is
followed out: formula-looking text protected in every CSV written, markup escaped on every
page, Cypher-looking ids usable as ids.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from driver_path import NO_EMPTIED_GRAPH

from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.store import Store
from triedbefore.ingest.export import export_bundle
from triedbefore.ingest.pipeline import ingest
from triedbefore.web.app import create_app

CORPUS = Path(__file__).resolve().parent / "data" / "bad"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("_"))
IGNORED = {"run_id", "row_hash"}

Snapshot = tuple[dict[tuple[str, str], dict[str, Any]],
                 set[tuple[str, str, str, str, str]]]


def expected(case: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / case / "expected.json").read_text("utf-8"))
    return data


def materialise(case: str, dest: Path) -> Path:
    """The case's bundle in ``dest``; generated files (too large to keep) written here."""
    shutil.copytree(CORPUS / case, dest, ignore=shutil.ignore_patterns("expected.json"))
    gen = expected(case).get("generate")
    if gen:
        lines = [gen["header"]]
        if "rows" in gen:
            lines += [r.replace("{huge}", "h" * gen["huge"]) for r in gen["rows"]]
        else:
            bad = gen.get("bad", {})
            lines += [bad.get(str(i)) or gen["repeat"].format(i=i) for i in range(gen["count"])]
        (dest / gen["file"]).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


def snapshot(store: Store) -> Snapshot:
    nodes = {}
    # (ingest runs and the verdict changes each run reports are the runs' own records, the
    # graph version the store's bookkeeping)
    for row in store.read("MATCH (n) WHERE NOT n:IngestRun AND NOT n:VerdictChange "
                          "AND NOT n:GraphVersion RETURN labels(n)[0] AS label, n {.*} AS props"):
        props = {k: v for k, v in row["props"].items() if k not in IGNORED}
        nodes[(row["label"], props["id"])] = props
    rels = {(r["a"], r["ai"], r["t"], r["b"], r["bi"]) for r in store.read(
        "MATCH (a)-[e]->(b) WHERE NOT a:VerdictChange AND NOT b:VerdictChange "
        "RETURN labels(a)[0] AS a, a.id AS ai, type(e) AS t, "
        "labels(b)[0] AS b, b.id AS bi")}
    return nodes, rels


def load_case(store: Store, case: str, tmp_path: Path) -> tuple[Any, Snapshot, Snapshot]:
    base = ingest(store, CORPUS / "_base")
    assert base.exit_code == 0, base.errors
    before = snapshot(store)
    result = ingest(store, materialise(case, tmp_path / case))
    return result, before, snapshot(store)


@pytest.mark.parametrize("case", CASES)
def test_corpus_case_reports_exactly_and_changes_only_good_rows(
        any_store: Store, tmp_path: Path, case: str) -> None:
    """On the embedded store and through the official driver (``bolt+falkordb://``)."""
    store = any_store
    if case == "huge_file" and store.uri.protocol == "bolt":
        pytest.skip(NO_EMPTIED_GRAPH)
    spec = expected(case)
    result, (nodes0, rels0), (nodes1, rels1) = load_case(store, case, tmp_path)

    # the report: exactly these problems, each at its file, line and column
    got = sorted(((p.file, p.line, p.column) for p in result.errors), key=str)
    want = sorted(((e["file"], e["line"], e["column"]) for e in spec["errors"]), key=str)
    assert got == want, [str(p) for p in result.errors]
    by_place = {(p.file, p.line, p.column): p for p in result.errors}
    for e in spec["errors"]:
        problem = by_place[(e["file"], e["line"], e["column"])]
        assert e["reason"] in problem.reason, str(problem)
        if "allowed_contains" in e:
            assert e["allowed_contains"] in problem.allowed
    assert result.exit_code == (3 if spec["errors"] else 0)

    # the graph: what was there is unchanged (but the rows the case updates), and the
    # only new nodes are the case's good rows
    updated = {(label, i) for label, ids in spec.get("updated", {}).items() for i in ids}
    for key, props in nodes0.items():
        if key not in updated:
            assert nodes1.get(key) == props, key
    added = {k for k in nodes1 if k not in nodes0}
    if "added_count" in spec:
        counts: dict[str, int] = {}
        for label, _ in added:
            counts[label] = counts.get(label, 0) + 1
        assert counts == spec["added_count"]
    else:
        assert added == {(label, i) for label, ids in spec["added"].items() for i in ids}
    touched = {k[1] for k in added | updated}
    assert {r for r in rels0 if r[1] not in touched and r[4] not in touched} <= rels1
    assert all(r[1] in touched or r[4] in touched for r in rels1 - rels0)
    for key, props in spec.get("stored", {}).items():
        label, _, node_id = key.partition(":")
        for name, value in props.items():
            assert nodes1[(label, node_id)].get(name) == value, (key, name)

    # loading the same bundle again changes nothing and reports the same problems
    again = ingest(store, tmp_path / case)
    assert sorted(((p.file, p.line, p.column) for p in again.errors), key=str) == want
    assert sum(again.written.values()) == 0
    assert snapshot(store) == (nodes1, rels1)


# --- what the stored data does next ------------------------------------------------------


def _cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text)) for c in row]


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_formula_cells_are_protected_in_every_csv_written(store: FalkorStore,
                                                          tmp_path: Path) -> None:
    load_case(store, "formula_injection", tmp_path)
    risky = [c for spec in expected("formula_injection")["stored"].values()
             for v in spec.values() for c in ([v] if isinstance(v, str) else ["|".join(v)])
             if c[:1] in "=+-@"]
    assert len(risky) >= 5

    def assert_protected(text: str, where: str) -> None:
        for cell in _cells(text):
            # a negative number is data to a spreadsheet, not a formula
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r") or _number(cell), \
                (where, cell)

    # the interchange export, which reads back to the same values
    export_bundle(store, tmp_path / "out")
    for name in ("sites.csv", "solutions.csv"):
        assert_protected((tmp_path / "out" / name).read_text("utf-8"), name)
    assert "'=HYPERLINK(" in (tmp_path / "out" / "sites.csv").read_text("utf-8")
    # explorer downloads and the console's CSV
    app = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "t",
                      "USERS_FILE": str(tmp_path / "users.json")})
    client = app.test_client()
    for url in ("/sites/" + quote("=CMD1", safe="") + ".csv",
                "/search.csv?q=HYPERLINK", "/solutions.csv", "/graph.csv?node=site:A2"):
        res = client.get(url)
        assert res.status_code == 200, url
        assert_protected(res.get_data(as_text=True), url)
    # the problem report of an ingest naming such a cell
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "sites.csv").write_text('site_id,name,kind\n=1+2,"=HYPERLINK(""x"")",=kind\n')
    report = ingest(store, bad, report_dir=tmp_path / "reports")
    problems_csv = next(p for p in report.report_paths if p.suffix == ".csv")
    assert_protected(problems_csv.read_text("utf-8"), "problems.csv")


def test_export_of_formula_cells_reads_back_to_the_same_graph(
        store: FalkorStore, embedded_server: Any, tmp_path: Path) -> None:
    from test_export import _fresh

    load_case(store, "formula_injection", tmp_path)
    export_bundle(store, tmp_path / "a")
    other = _fresh(embedded_server)
    try:
        assert ingest(other, tmp_path / "a").exit_code == 0
        assert snapshot(other)[0] == snapshot(store)[0]
    finally:
        other.drop_all()
        other.close()


def test_markup_is_escaped_on_every_page(store: FalkorStore, tmp_path: Path) -> None:
    load_case(store, "markup_and_script", tmp_path)
    app = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "t",
                      "USERS_FILE": str(tmp_path / "users.json")})
    client = app.test_client()
    pages = ["/", "/sites/X1", "/solutions/SOL-XSS", "/initiatives/I-XSS", "/solutions",
             "/search?q=script", "/search?q=Bold", "/graph?node=site:X1", "/zombies",
             "/gap-map", "/check?q=" + quote("<script>alert(1)</script> textarea")]
    for url in pages:
        res = client.get(url)
        assert res.status_code == 200, url
        html = res.get_data(as_text=True)
        for raw in ('<script>alert("site")', "<img src=x onerror", "<svg onload",
                    "</textarea><script>", "<b>Bold</b>", "<script>alert(1)"):
            assert raw not in html, (url, raw)
        assert 'href="javascript:' not in html, url
    assert "&lt;script&gt;alert(" in client.get("/sites/X1").get_data(as_text=True)


def test_cypher_looking_ids_work_as_ids(store: FalkorStore, tmp_path: Path) -> None:
    load_case(store, "cypher_looking_text", tmp_path)
    site = "x'}) MATCH (n) DETACH DELETE n //"
    app = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "t",
                      "USERS_FILE": str(tmp_path / "users.json")})
    client = app.test_client()
    ini = client.get("/initiatives/I-CY.json").get_json()
    assert sorted(s["id"] for s in ini["sites"]) == sorted([site, "A2` RETURN 1 //"])
    # the graph view takes the id as a parameter, so any id works there
    res = client.get("/graph.json?" + urlencode({"node": "site:" + site}))
    assert res.status_code == 200, res.get_json()
    assert "initiative:I-CY" in {n["id"] for n in res.get_json()["nodes"]}
    solution = 'SOL"}) CALL db.clearQueryCaches() //'
    assert client.get("/search.json?q=hacked").status_code == 200
    assert store.read("MATCH (s:Solution {id: $id}) RETURN s.name AS n",
                      {"id": solution})[0]["n"] == "MATCH (n) SET n.hacked = true"
    # nothing ran: no property was set by the text, the rest of the graph is still there
    assert store.read("MATCH (n) WHERE n.hacked IS NOT NULL RETURN count(n) AS n")[0]["n"] == 0
    assert store.read("MATCH (n:Site) RETURN count(n) AS n")[0]["n"] == 4


@pytest.mark.parametrize("batch_size", [1, 2, 3])
@pytest.mark.parametrize("case", ["conflicting_duplicates", "dangling_references",
                                  "update_and_bad_rows", "missing_required"])
def test_chunk_boundaries_change_no_report_and_no_row(
        store: FalkorStore, tmp_path: Path, case: str, batch_size: int) -> None:
    """The loader reads its ledger a batch of rows at a time: a duplicate, a reference or
    a rejection that spans batches is found as within one."""
    spec = expected(case)
    assert ingest(store, CORPUS / "_base").exit_code == 0
    nodes0, _ = snapshot(store)
    result = ingest(store, materialise(case, tmp_path / case), batch_size=batch_size)
    got = sorted(((p.file, p.line, p.column) for p in result.errors), key=str)
    assert got == sorted(((e["file"], e["line"], e["column"]) for e in spec["errors"]), key=str)
    by_place = {(p.file, p.line, p.column): p for p in result.errors}
    for e in spec["errors"]:
        assert e["reason"] in by_place[(e["file"], e["line"], e["column"])].reason
    nodes1, _ = snapshot(store)
    added = {k for k in nodes1 if k not in nodes0}
    if "added" in spec:
        assert added == {(label, i) for label, ids in spec["added"].items() for i in ids}
