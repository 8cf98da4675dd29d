"""The distribution installs one import namespace, with its data files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_only_the_triedbefore_namespace(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    wheel = next(tmp_path.glob("triedbefore-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"triedbefore", next(t for t in tops if t.endswith(".dist-info"))}
    for needed in ("triedbefore/graph/store.py", "triedbefore/web/cli.py",
                   "triedbefore/ontology/triedbefore.ttl", "triedbefore/ontology/shapes.ttl",
                   "triedbefore/ingest/sample/initiatives.csv",
                   "triedbefore/ingest/demo/bundle/sites.csv",
                   "triedbefore/ingest/demo/bundle/evaluations.csv",
                   "triedbefore/ingest/geography/postcode_outcodes.csv",
                   "triedbefore/ingest/geography/nhs_regions.csv",
                   "triedbefore/web/templates/solution.html", "triedbefore/web/static/site.css"):
        assert needed in names, needed
    entry = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "triedbefore = triedbefore.web.cli:main" in entry
