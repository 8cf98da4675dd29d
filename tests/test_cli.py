"""The command line, the store URI, the documented settings and the README contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from triedbefore.graph import StoreURIError, settings
from triedbefore.graph.embedded import EmbeddedServer
from triedbefore.graph.store import parse_store_uri
from triedbefore.web.cli import cli

ROOT = Path(__file__).resolve().parents[1]
GOOD_SITES = "site_id,name,kind\nA1,Alpha,trust\nA2,Beta,ward\n"


def run(store_uri: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--store", store_uri, *args])
    return result.exit_code, result.output


# --- README and CI contract -----------------------------------------------------


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text().splitlines()
    assert readme[0].startswith("# ")
    block_start = readme.index("```sh")
    commands = readme[block_start + 1:readme.index("```", block_start + 1)]
    assert len(commands) == 2
    demo, tests = commands
    assert "triedbefore demo" in demo
    assert "pytest" in tests
    assert tests in (ROOT / ".ci" / "run").read_text().splitlines()


def test_every_setting_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    for setting in settings.SETTINGS:
        assert f"`{setting.env}`" in readme, setting.name
        assert f"| {setting.name} |" in readme, setting.name


# --- store URIs -----------------------------------------------------------------


def test_store_uris(tmp_path: Path) -> None:
    u = parse_store_uri(f"embedded:{tmp_path}?fsync=always")
    assert (u.engine, u.path, u.options["fsync"]) == ("embedded", tmp_path, "always")
    assert parse_store_uri("embedded:").path == settings.data_dir().resolve()
    u = parse_store_uri("falkordb://db.example:6380?graph=g2")
    assert (u.engine, u.host, u.port, u.graph) == ("falkordb", "db.example", 6380, "g2")
    u = parse_store_uri("falkordb+unix:///run/f.sock")
    assert (u.engine, u.path) == ("falkordb", Path("/run/f.sock"))
    for raw in ("neo4j://h", "neo4j+s://x.databases.neo4j.io", "bolt://h:7687"):
        assert parse_store_uri(raw).engine == "neo4j"
    assert parse_store_uri("neo4j://user:secret@h").display == "neo4j://h"
    for bad in ("postgres://h", "falkordb://", "nonsense", "neo4j://127.0.0.1:abc",
                "bolt://h:99999", "falkordb://h:abc"):
        with pytest.raises(StoreURIError):
            parse_store_uri(bad)


@pytest.mark.parametrize("args", [
    ["serve", "--port", "-1"], ["serve", "--port", "99999"], ["demo", "--port", "65536"],
    ["--store", "neo4j://127.0.0.1:abc", "stats"],
    ["--store", "neo4j://127.0.0.1:abc", "serve", "--port", "5112"],
    ["--store", "bolt://h:99999", "stats"], ["--store", "falkordb://h:abc", "stats"],
])
def test_bad_arguments_are_one_line_usage_errors(args: list[str]) -> None:
    """Finding 11: a bad argument is refused before anything is served, in one line, with
    exit code 2 (no traceback, never another port)."""
    from click.testing import CliRunner

    from triedbefore.web.cli import cli

    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output and result.exception is None or \
        isinstance(result.exception, SystemExit)
    errors = [line for line in result.output.splitlines() if "rror" in line]
    assert len(errors) == 1, result.output


def test_store_uri_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRIEDBEFORE_STORE", f"embedded:{tmp_path}")
    assert parse_store_uri().path == tmp_path


# --- commands -------------------------------------------------------------------


def test_ingest_exit_codes_and_json(store_uri: str, tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "sites.csv").write_text(GOOD_SITES)
    code, out = run(store_uri, "ingest", str(good), "--format", "json",
                    "--report-dir", str(tmp_path / "r"))
    assert code == 0
    data = json.loads(out)
    assert data["loaded"] == {"sites": 2} and data["errors"] == []
    assert data["run_id"].startswith("run-")

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "sites.csv").write_text(GOOD_SITES + "A3,Gamma,castle\n")
    code, out = run(store_uri, "ingest", str(bad), "--format", "json",
                    "--report-dir", str(tmp_path / "r"))
    assert code == 3
    data = json.loads(out)
    assert data["errors"] == [{"file": "sites.csv", "line": 4, "column": "kind",
                               "reason": "'castle' is not an allowed value",
                               "allowed": data["errors"][0]["allowed"]}]
    assert "castle" not in data["errors"][0]["allowed"] and "ward" in data["errors"][0]["allowed"]

    code, out = run(store_uri, "ingest", str(tmp_path / "nothing-here"))
    assert code == 2
    assert "no such file or folder" in out


def test_ingest_table_output(store_uri: str, tmp_path: Path) -> None:
    (tmp_path / "sites.csv").write_text(GOOD_SITES + "A3,,ward\n")
    code, out = run(store_uri, "ingest", str(tmp_path), "--report-dir", str(tmp_path / "r"))
    assert code == 3
    assert "sites.csv:4 [name]: required value is empty" in out
    assert "report:" in out


def test_stats_and_export(store_uri: str, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "sites.csv").write_text(GOOD_SITES)
    assert run(store_uri, "ingest", str(tmp_path / "in"))[0] == 0
    code, out = run(store_uri, "stats", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["nodes"]["Site"] == 2 and data["engine"] == "falkordb"
    assert data["latest_runs"][0]["status"] == "completed"
    code, out = run(store_uri, "export", str(tmp_path / "out"), "--format", "json")
    assert code == 0 and json.loads(out)["files"]["sites.csv"] == 2
    assert (tmp_path / "out" / "sites.csv").read_text().splitlines()[1].startswith("A1,Alpha,trust")


def test_unreachable_store_is_one_line_error(tmp_path: Path) -> None:
    code, out = run(f"falkordb+unix://{tmp_path}/none.sock", "stats")
    assert code == 1
    assert out.startswith("triedbefore: error: cannot reach FalkorDB")
    assert "Traceback" not in out


@pytest.mark.server
def test_demo_and_db_commands_as_a_real_process(tmp_path: Path) -> None:
    """The console script loads the sample into an embedded store it starts itself."""
    data = tmp_path / "data"
    env = dict(os.environ, TRIEDBEFORE_STORE=f"embedded:{data}",
               TRIEDBEFORE_DATA_DIR=str(tmp_path / "home"))
    exe = [sys.executable, "-m", "triedbefore.web.cli"]
    try:
        proc = subprocess.run([*exe, "demo", "--no-serve"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "initiatives" in proc.stdout
        status = subprocess.run([*exe, "db", "status", "--format", "json"], env=env,
                                capture_output=True, text=True, timeout=60)
        info = json.loads(status.stdout)
        assert info["running"] is True and info["pid"] > 0
        stats = subprocess.run([*exe, "stats", "--format", "json"], env=env,
                               capture_output=True, text=True, timeout=60)
        assert json.loads(stats.stdout)["nodes"]["Initiative"] > 0
        stop = subprocess.run([*exe, "db", "stop"], env=env, capture_output=True, text=True,
                              timeout=60)
        assert stop.stdout.strip() == "stopped"
        assert EmbeddedServer(data).status().running is False
    finally:
        EmbeddedServer(data).stop()
