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


def _shim(tmp_path: Path) -> Path:
    """The card's folders as the ``triedbefore`` namespace they ship as."""
    shim = tmp_path / "shim" / "triedbefore"
    shim.mkdir(parents=True)
    for folder in ("graph", "ingest", "ontology", "web"):
        (shim / folder).symlink_to(ROOT / folder, target_is_directory=True)
    return shim.parent


def test_import_contracts_hold(tmp_path: Path) -> None:
    """The walls of the README's layout section: `lint-imports` with pyproject's contracts."""
    shim = _shim(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(shim))
    proc = subprocess.run([_tool("lint-imports"), "--no-cache", str(ROOT / "pyproject.toml")],
                          cwd=shim, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_import_contracts_catch_a_breach(tmp_path: Path) -> None:
    """The contracts are live: the same check on a copy where graph imports web fails."""
    import shutil as sh

    copy = tmp_path / "copy" / "triedbefore"
    for folder in ("graph", "ingest", "ontology", "web"):
        sh.copytree(ROOT / folder, copy / folder,
                    ignore=sh.ignore_patterns("__pycache__", "static", "templates", "*.csv"))
    (copy / "graph" / "breach.py").write_text("from triedbefore.web import negotiation\n")
    env = dict(os.environ, PYTHONPATH=str(copy.parent))
    proc = subprocess.run([_tool("lint-imports"), "--no-cache", str(ROOT / "pyproject.toml")],
                          cwd=copy.parent, env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "graph imports only ontology BROKEN" in proc.stdout


def test_the_explorer_loads_no_http_client(tmp_path: Path) -> None:
    """HTTP stays in ingest.sources: building the explorer imports neither the connectors
    nor requests (the CLI loads them only for `candidates fetch`)."""
    code = ("import sys\n"
            "from triedbefore.web.app import create_app\n"
            "create_app({'TESTING': True, 'SECRET_KEY': 't', 'STORE_URI': 'falkordb://x:1'})\n"
            "loaded = sorted(m for m in sys.modules if m == 'requests' or "
            "m.startswith('triedbefore.ingest.sources'))\n"
            "print(','.join(loaded) or 'none')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env=dict(os.environ, TRIEDBEFORE_DATA_DIR=str(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "none"
