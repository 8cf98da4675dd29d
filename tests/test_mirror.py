"""An ingest writes to the public copy as it goes (graph/mirror.py): after runs that add,
change, hide and reveal records, the copy equals the one a full rebuild makes."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest

ROOT = Path(__file__).resolve().parents[1]


def full_snapshot(store: Any) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """Every node and link with all their properties."""
    nodes = {(r["label"], r["props"].get("id")): r["props"] for r in store.read(
        "MATCH (n) RETURN labels(n)[0] AS label, n {.*} AS props")}
    rels: dict[Any, list[Any]] = {}
    for r in store.read("MATCH (a)-[e]->(b) RETURN a.id AS a, type(e) AS t, b.id AS b, "
                        "e {.*} AS props"):
        rels.setdefault((r["a"], r["t"], r["b"]), []).append(r["props"])
    return nodes, rels


def assert_same(got: Any, want: Any) -> None:
    for part, name in ((0, "nodes"), (1, "links")):
        extra = sorted(set(got[part]) - set(want[part]), key=str)
        lost = sorted(set(want[part]) - set(got[part]), key=str)
        changed = [(k, got[part][k], want[part][k]) for k in set(got[part]) & set(want[part])
                   if got[part][k] != want[part][k]]
        assert not (extra or lost or changed), (name, extra[:3], lost[:3], changed[:3])


def rewrite(path: Path, change: Any) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    for i, row in enumerate(rows):
        change(i, row)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fields)
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("mirror") / "bundle"
    subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), str(dest),
                    "--initiatives", "600", "--seed", "5"], check=True, capture_output=True)
    return dest


@pytest.mark.server
def test_mirrored_copy_equals_a_rebuilt_one(store: FalkorStore, generated: Path,
                                            tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rebuilds: list[str] = []
    real = FalkorStore.rebuild_public_copy

    def counting(self: FalkorStore) -> None:
        rebuilds.append(self.graph_name)
        real(self)

    monkeypatch.setattr(FalkorStore, "rebuild_public_copy", counting)
    bundle = tmp_path / "b"
    shutil.copytree(generated, bundle)

    def check() -> None:
        mirrored = full_snapshot(store.public_copy())
        assert not [k for k, props in mirrored[0].items()
                    if props.get("visibility") == "restricted"]
        real(store)
        assert_same(mirrored, full_snapshot(store.public_copy()))

    # 1. a first load into an empty graph: its copy starts empty and follows the writes
    assert ingest(store, bundle).exit_code == 0
    assert rebuilds == [store.graph_name]  # only to create the empty copy
    hidden = store.read("MATCH (i:Initiative {visibility: 'restricted'}) RETURN i.id AS id "
                        "ORDER BY id")
    assert hidden, "the generated bundle has restricted initiatives"
    check()

    # 2. records hidden, revealed (with links other records hold to them) and changed
    revealed = {r["id"] for r in hidden[:3]}
    state: dict[str, Any] = {"hide": set()}

    def initiatives(i: int, row: dict[str, str]) -> None:
        if row["initiative_id"] in revealed:
            row["visibility"] = "public"
        elif i % 40 == 7 and row["visibility"] != "restricted":
            row["visibility"] = "restricted"
            state["hide"].add(row["initiative_id"])
        elif i % 25 == 3:
            row["title"] += " (renamed)"

    rewrite(bundle / "initiatives.csv", initiatives)
    rewrite(bundle / "outcomes.csv",
            lambda i, row: row.update(value=str(float(row["value"] or 0) + 1))
            if i % 30 == 0 else None)
    rewrite(bundle / "evaluations.csv",
            lambda i, row: row.update(visibility="restricted") if i % 17 == 0 else None)
    rebuilds.clear()
    result = ingest(store, bundle)
    assert result.exit_code == 0 and result.written["initiatives"] > 0
    assert rebuilds == []  # written as it went
    public = store.public_copy()
    shown = {r["id"] for r in public.read("MATCH (i:Initiative) RETURN i.id AS id")}
    assert revealed <= shown and not (state["hide"] & shown)
    assert public.read("MATCH (x)-[]->(i:Initiative) WHERE i.id IN $ids RETURN count(x) AS n",
                       {"ids": sorted(revealed)})[0]["n"] > 0  # their links came too
    check()

    # 3. an unchanged re-run adds its record to both
    assert sum(ingest(store, bundle).written.values()) == 0
    assert rebuilds == []
    check()


@pytest.mark.server
def test_a_run_that_did_not_finish_leads_to_a_rebuild(store: FalkorStore, generated: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert ingest(store, generated).exit_code == 0
    store.write("MATCH (r:IngestRun) SET r.public_in_step = null")  # as if killed
    rebuilds: list[str] = []
    real = FalkorStore.rebuild_public_copy
    monkeypatch.setattr(FalkorStore, "rebuild_public_copy",
                        lambda self: (rebuilds.append("x"), real(self))[1])
    assert ingest(store, generated).exit_code == 0
    assert rebuilds == ["x"]
