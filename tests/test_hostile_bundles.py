"""Bundles built to hurt: a zip bomb, millions of bad rows, NUL bytes in cells, links to
files outside the bundle. Each ends in a run with clear errors (file, line, column,
limit), the clean rows loaded, memory bounded by the problem limit, and reports only
their owner may read."""

from __future__ import annotations

import csv
import json
import stat
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import RowsSource, ingest, run
from triedbefore.web.cli import cli

SITES_HEADER = "site_id,name,kind\n"
SOLUTIONS = ("solution_id,name,intervention_type\n"
             "SOL-A,A solution,delivery_arrangements\n"
             "SOL-B,Another,delivery_arrangements\n")


def _ids(store: FalkorStore, label: str) -> list[str]:
    return sorted(str(r["id"]) for r in store.read(f"MATCH (n:{label}) RETURN n.id AS id"))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _bomb(path: Path, rows: int) -> Path:
    """A .zip whose sites.csv repeats one row (so it compresses hundreds of times), beside a
    good solutions.csv."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("sites.csv", "w") as fh:
            fh.write(SITES_HEADER.encode())
            line = b"S1,The same site again and again,trust\n"
            block = line * 10_000
            for _ in range(rows // 10_000):
                fh.write(block)
        zf.writestr("solutions.csv", SOLUTIONS)
    return path


def test_a_zip_bomb_is_one_clear_error_and_the_rest_loads(
        store: FalkorStore, tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "bomb.zip", 100_000)  # 3.8 MB in about 20 KB
    assert bomb.stat().st_size < 40_000
    reports = tmp_path / "reports"
    result = ingest(store, bomb, report_dir=reports)
    assert [p.file for p in result.problems] == ["sites.csv"]
    (error,) = result.errors
    assert error.line is None and "compressed" in error.reason
    assert "ingest_max_ratio" in error.reason and "not read" in error.reason
    assert _ids(store, "Site") == []
    assert _ids(store, "Solution") == ["SOL-A", "SOL-B"]  # nothing else lost
    assert result.exit_code == 3
    assert all(_mode(p) == 0o600 for p in result.report_paths)


def test_a_zip_member_larger_than_the_limit_is_not_read(
        store: FalkorStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIEDBEFORE_INGEST_MAX_FILE_MB", "1")
    monkeypatch.setenv("TRIEDBEFORE_INGEST_MAX_RATIO", "100000")
    result = ingest(store, _bomb(tmp_path / "big.zip", 100_000))
    (error,) = result.errors
    assert error.file == "sites.csv" and "more than the limit of 1 MiB" in error.reason
    assert "ingest_max_file_mb" in error.reason
    assert _ids(store, "Solution") == ["SOL-A", "SOL-B"]


def test_a_zip_holding_only_a_bomb_is_a_run_with_one_error(
        store: FalkorStore, tmp_path: Path) -> None:
    path = tmp_path / "only.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("sites.csv", SITES_HEADER + "S1,Same,trust\n" * 100_000)
    result = ingest(store, path)
    assert len(result.errors) == 1 and result.exit_code == 3
    assert store.read("MATCH (r:IngestRun) RETURN r.errors_count AS n")[0]["n"] == 1


def test_problems_past_the_limit_are_counted_and_reported_not_held(
        store: FalkorStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """3,000 copies of one row: 2,999 problems, ten held in memory and printed, every one
    in the report and in the counts."""
    monkeypatch.setenv("TRIEDBEFORE_INGEST_PROBLEM_LIMIT", "10")
    bundle = tmp_path / "repeats"
    bundle.mkdir()
    (bundle / "sites.csv").write_text(SITES_HEADER + "S1,Same,trust\n" * 3000)
    reports = tmp_path / "reports"
    result = ingest(store, bundle, report_dir=reports)
    assert len(result.problems.kept) == 10 and result.problems.truncated
    assert result.problems.error_count == 2999 and len(result.problems) == 2999
    assert _ids(store, "Site") == ["S1"]
    out = result.to_dict()
    assert len(out["errors"]) == 10
    assert out["problem_counts"] == {"errors": 2999, "warnings": 0, "listed": 10}
    json_report, csv_report = result.report_paths
    report = json.loads(json_report.read_text())
    assert report["problem_counts"]["errors"] == 2999
    assert len(report["problems"]) == 2999
    assert [p["line"] for p in report["problems"]] == list(range(3, 3002))
    with csv_report.open(newline="") as fh:
        assert len(list(csv.reader(fh))) == 3000
    assert _mode(json_report) == 0o600 and _mode(csv_report) == 0o600
    run_node = store.read("MATCH (r:IngestRun) RETURN r.errors_count AS n")[0]
    assert run_node["n"] == 2999


def test_the_cli_prints_the_first_problems_and_the_totals(
        store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIEDBEFORE_INGEST_PROBLEM_LIMIT", "5")
    bundle = tmp_path / "repeats"
    bundle.mkdir()
    (bundle / "sites.csv").write_text(SITES_HEADER + "S1,Same,trust\n" * 200)
    reports = tmp_path / "reports"
    done = CliRunner().invoke(cli, ["--store", store_uri, "ingest", str(bundle),
                                    "--report-dir", str(reports), "--format", "json"])
    assert done.exit_code == 3, done.output
    out = json.loads(done.output)
    assert len(out["errors"]) == 5 and out["problem_counts"]["errors"] == 199
    text = CliRunner().invoke(cli, ["--store", store_uri, "ingest", str(bundle)])
    assert "… and 194 more (199 errors and 0 warnings in all)" in text.output


def test_rows_past_the_row_limit_are_one_error(
        store: FalkorStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIEDBEFORE_INGEST_MAX_ROWS", "5")
    bundle = tmp_path / "long"
    bundle.mkdir()
    rows = "".join(f"S{i},Site {i},trust\n" for i in range(8))
    (bundle / "sites.csv").write_text(SITES_HEADER + rows + "\n")
    result = ingest(store, bundle)
    (error,) = result.errors
    assert (error.file, error.line) == ("sites.csv", 7)
    assert "more than 5 rows" in error.reason and "ingest_max_rows" in error.reason
    assert _ids(store, "Site") == [f"S{i}" for i in range(5)]


def test_nul_in_cells_rejects_the_row_and_the_clean_rows_load(
        store: FalkorStore, tmp_path: Path) -> None:
    bundle = tmp_path / "nul"
    bundle.mkdir()
    (bundle / "sites.csv").write_bytes(
        b"site_id,name,kind,note\n"
        b"S1,Clean,trust,\n"
        b"S\x002,Id with a NUL,trust,\n"
        b"S3,Name with a \x00,trust,\n"
        b"S4,Extra column with one,trust,a\x00b\n"
        b"S5,Clean too,trust,\n"
        b"S\x1b6,An id with an escape,trust,\n"
        b"S7,A name with an escape \x1b is fine,trust,\n")
    (bundle / "solutions.csv").write_text(SOLUTIONS)
    result = ingest(store, bundle, report_dir=tmp_path / "reports")
    places = sorted((p.file, p.line, p.column) for p in result.errors)
    assert places == [("sites.csv", 3, "site_id"), ("sites.csv", 4, "name"),
                      ("sites.csv", 5, "note"), ("sites.csv", 7, "site_id")]
    assert all("NUL" in p.reason for p in result.errors[:3])
    assert "control character" in result.errors[3].reason
    assert _ids(store, "Site") == ["S1", "S5", "S7"]
    assert _ids(store, "Solution") == ["SOL-A", "SOL-B"]
    assert result.exit_code == 3 and len(result.report_paths) == 2
    # the same in rows held in memory (ODS extracts, curation)
    memory = run(store, RowsSource("memory", {"sites.csv": [
        {"site_id": "M1", "name": "Fine", "kind": "trust"},
        {"site_id": "M\x002", "name": "Not fine", "kind": "trust"},
        {"site_id": "M\x7f3", "name": "Not fine either", "kind": "trust"}]}))
    assert [(p.line, p.column) for p in memory.errors] == [(3, "site_id"), (4, "site_id")]
    assert "M1" in _ids(store, "Site")


def test_links_in_a_folder_bundle_are_not_followed(
        store: FalkorStore, tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$SECRETHASH:19000:0:99999:7:::\n")
    bundle = tmp_path / "linked"
    bundle.mkdir()
    (bundle / "sites.csv").symlink_to(secret)
    (bundle / "solutions.csv").write_text(SOLUTIONS)
    reports = tmp_path / "reports"
    result = ingest(store, bundle, report_dir=reports)
    (error,) = result.problems
    assert error.file == "sites.csv" and "symbolic link" in error.reason
    assert _ids(store, "Solution") == ["SOL-A", "SOL-B"]
    for path in result.report_paths:
        assert "SECRETHASH" not in path.read_text() and _mode(path) == 0o600
    assert "SECRETHASH" not in json.dumps(result.to_dict())


def test_a_folder_of_links_only_is_refused_without_reading_them(
        store: FalkorStore, tmp_path: Path) -> None:
    bundle = tmp_path / "links"
    bundle.mkdir()
    outside = tmp_path / "outside.csv"
    outside.write_text(SITES_HEADER + "S1,Outside,trust\n")
    (bundle / "sites.csv").symlink_to(outside)
    result = ingest(store, bundle)
    assert [p.file for p in result.errors] == ["sites.csv"]
    assert _ids(store, "Site") == []

