"""ruff on the whole project; mypy --strict on graph/ and ingest/ (the card's rule)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; run `bash .ci/setup`")
    return found


def test_ruff_is_clean() -> None:
    proc = subprocess.run([_tool("ruff"), "check", "--output-format", "concise", "."],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_on_graph_and_ingest(tmp_path: Path) -> None:
    # The card's folders ship as triedbefore.<folder>; give mypy the same layout.
    shim = tmp_path / "triedbefore"
    shim.mkdir()
    for folder in ("graph", "ingest", "ontology", "web"):
        (shim / folder).symlink_to(ROOT / folder, target_is_directory=True)
    env = dict(os.environ, MYPYPATH=str(tmp_path))
    proc = subprocess.run(
        [_tool("mypy"), "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / ".mypy_cache"), "--namespace-packages",
         "--explicit-package-bases", "-p", "triedbefore.graph", "-p", "triedbefore.ingest"],
        cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
