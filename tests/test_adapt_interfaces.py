"""Places like yours, where the evidence applies and the design page through the command
line (``like``, ``design``, ``check --site``, ``ingest-context``; ``--format json``) and the
explorer (the solution page with ``?site=``, its JSON twin, the proposal check and
``/solutions/<id>/design``): the same answers as ``graph/context.py``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from triedbefore.graph import context as ctx
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest
from triedbefore.web.app import create_app
from triedbefore.web.cli import cli

BUNDLE = Path(__file__).resolve().parent / "data" / "adapt"


def run(store_uri: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--store", store_uri, *args])
    return result.exit_code, result.output


def test_cli_like_design_and_check_site(store: FalkorStore, store_uri: str) -> None:
    assert ingest(store, BUNDLE).exit_code == 0
    code, out = run(store_uri, "like", "X-ME", "X-SOL", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    expected = ctx.places_like(store, "X-ME", "X-SOL", when=ctx.today())
    assert [a["initiative_id"] for a in data["attempts"]] == [
        a["initiative_id"] for a in expected["attempts"]]
    assert data["site"]["site_id"] == "X-ME" and data["warnings"] == []
    assert "rule" in data and data["applicability"]["evaluated_attempts"] == 3
    code, out = run(store_uri, "like", "Test rural", "X-SOL")
    assert code == 0, out
    assert "Places like Test rural practice" in out and "warning:" in out
    code, out = run(store_uri, "like", "Test practice", "X-SOL")  # several: none chosen
    assert code == 1 and "names several sites" in out
    code, out = run(store_uri, "like", "X-ME", "NOPE")
    assert code == 1 and "NOPE" in out
    code, out = run(store_uri, "design", "X-SOL", "--format", "json")
    assert code == 0, out
    design = json.loads(out)
    assert [d["id"] for d in design["dropped_core"]] == ["X-A2"]
    assert "not causal" in design["against_outcomes"]["warning"]
    code, out = run(store_uri, "design", "X-SOL")
    assert code == 0 and "dropped core: X-I2 X-C-ROUND" in out
    code, out = run(store_uri, "check", "Test care model", "--site", "X-RU", "--format",
                    "json")
    assert code == 0, out
    report = json.loads(out)
    assert report["site_context"]["site"]["site_id"] == "X-RU"
    [solution] = [s for s in report["site_context"]["solutions"]
                  if s["solution_id"] == "X-SOL"]
    assert any("rural" in w for w in solution["warnings"])
    code, out = run(store_uri, "check", "Test care model", "--site", "X-RU")
    assert "outside the evidence (X-SOL)" in out


def test_cli_ingest_context(store: FalkorStore, store_uri: str, tmp_path: Path) -> None:
    assert ingest(store, BUNDLE).exit_code == 0
    ruc = tmp_path / "ruc.csv"
    ruc.write_text("code,RUC11CD\nX-T1,A1\nX-P2,nope\n", encoding="utf-8")
    code, out = run(store_uri, "ingest-context", str(ruc), "--format", "json")
    assert code == 3, out
    data = json.loads(out)
    assert data["files"][0]["kind"] == "rurality" and data["files"][0]["rejected"] == 1
    assert data["errors"][0]["column"] == "RUC11CD" and "C1" in data["errors"][0]["allowed"]
    other = tmp_path / "other.csv"
    other.write_text("x,y\n1,2\n", encoding="utf-8")
    code, out = run(store_uri, "ingest-context", str(other))
    assert code == 2 and "not a context file" in out


def test_explorer_solution_page_check_and_design(store: FalkorStore, tmp_path: Path) -> None:
    assert ingest(store, BUNDLE).exit_code == 0
    app = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "test",
                      "USERS_FILE": str(tmp_path / "users.json")})
    client = app.test_client()
    page = client.get("/solutions/X-SOL.json?site=X-RU").get_json()
    adapt = page["adapt"]
    assert adapt["places_like"]["site"]["site_id"] == "X-RU"
    assert any("rural" in w for w in adapt["context_warnings"])
    assert "no evaluation in a rural place" in adapt["applicability"]["not_covered"]
    assert sorted(a["id"] for a in adapt["adaptations"]) == ["X-A1", "X-A2", "X-A3", "X-A4"]
    assert adapt["coverage"]["missing"] == []
    html = client.get("/solutions/X-SOL?site=X-RU").get_data(as_text=True)
    assert "Tried in places like yours" in html and "Outside the evidence" in html
    assert "Where the evidence applies" in html and "How attempts adapted it" in html
    several = client.get("/solutions/X-SOL.json?site=Test+practice").get_json()["adapt"]
    assert several["places_like"] is None and len(several["site_choices"]) >= 3
    none = client.get("/solutions/X-SOL.json").get_json()["adapt"]
    assert none["places_like"] is None and none["site_query"] is None
    assert client.get("/solutions/X-SOL.json?site=" + "x" * 201).status_code == 400
    check = client.get("/check.json?q=Test+care+model&site=X-RU").get_json()
    assert check["site"] == "X-RU"
    assert check["report"]["site_context"]["site"]["site_id"] == "X-RU"
    design = client.get("/solutions/X-SOL/design.json").get_json()
    assert [v["id"] for v in design["versions"]] == ["X-V1", "X-V2"]
    assert design["positive_deviants"][0]["initiative_id"] == "X-I1"
    html = client.get("/solutions/X-SOL/design").get_data(as_text=True)
    assert "Descriptive, not causal" in html and "Attempts that dropped a core component" in html
    assert client.get("/solutions/NOPE/design.json").status_code == 404


def test_the_page_says_which_context_is_missing(store: FalkorStore, tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[1] / "ingest" / "sample"
    assert ingest(store, sample).exit_code == 0  # no site has any context
    app = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "test",
                      "USERS_FILE": str(tmp_path / "users.json")})
    client = app.test_client()
    adapt = client.get("/solutions/SOL-TELE.json").get_json()["adapt"]
    assert adapt["coverage"]["missing"] == ["deprivation", "rurality", "size"]
    # nothing known of the evaluated places: said once, not as a gap in every band
    assert adapt["applicability"]["not_covered"][-2:] == [
        "the deprivation of the evaluated places is not known",
        "the rurality of the evaluated places is not known"]
    html = client.get("/solutions/SOL-TELE").get_data(as_text=True)
    assert "Not in this graph for any site: <strong>deprivation, rurality, size</strong>" in html
