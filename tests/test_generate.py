"""bench/generate.py: deterministic, counts as documented, valid by the interchange rules."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from bundle_checks import check_bundle

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "generate.py"
_spec = importlib.util.spec_from_file_location("bench_generate", SCRIPT)
assert _spec and _spec.loader
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)

FILES = ["sites", "solutions", "initiatives", "outcomes", "evaluations"]


def data_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f)) - 1


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    dest = tmp_path_factory.mktemp("tiny")
    return dest, generate.generate_bundle(dest, 300)


def test_same_seed_gives_identical_files(tiny, tmp_path):
    first, _ = tiny
    generate.generate_bundle(tmp_path / "again", 300)
    generate.generate_bundle(tmp_path / "other", 300, seed=2)
    for name in FILES:
        data = (first / f"{name}.csv").read_bytes()
        assert data == (tmp_path / "again" / f"{name}.csv").read_bytes(), name
    assert (first / "initiatives.csv").read_bytes() != (
        tmp_path / "other" / "initiatives.csv").read_bytes()


def test_counts_match_files(tiny):
    dest, counts = tiny
    assert sorted(counts) == sorted(FILES)
    for name in FILES:
        assert data_rows(dest / f"{name}.csv") == counts[name], name
    assert counts["initiatives"] == 300
    assert counts["sites"] == 50 and counts["solutions"] == 20
    assert 240 <= counts["outcomes"] <= 360
    assert 50 <= counts["evaluations"] <= 100


def test_counts_scale(tmp_path):
    counts = generate.generate_bundle(tmp_path, 7000)
    assert counts["sites"] == 500 and counts["solutions"] == 35
    assert 0.9 <= counts["outcomes"] / 7000 <= 1.1
    assert 0.18 <= counts["evaluations"] / 7000 <= 0.33


def test_bundle_passes_checks(tiny):
    dest, _ = tiny
    assert check_bundle(dest) == []


def test_value_mix(tiny):
    dest, _ = tiny
    with (dest / "initiatives.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {len(r["start_date"]) for r in rows} == {4, 7, 10}
    assert 0 < sum(1 for r in rows if not r["solution_id"]) < 0.15 * len(rows)
    assert sum(1 for r in rows if r["learned_from"]) > 0
    with (dest / "sites.csv").open(newline="", encoding="utf-8") as f:
        kinds = {r["kind"] for r in csv.DictReader(f)}
    assert {"icb", "sub_icb", "trust", "gp_practice"} <= kinds


def test_cli(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), "--initiatives", "60"],
                          capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    assert report["initiatives"] == 60
    assert data_rows(tmp_path / "initiatives.csv") == 60
