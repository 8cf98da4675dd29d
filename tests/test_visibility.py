"""Restricted records everywhere: every route of the explorer (pages, JSON twins, CSV
downloads, search, facets and counts, gap map, zombies, graph view, console) shows, finds,
counts and exports restricted records only to users with the role that may see them.

The graph is the sample bundle plus restricted records whose text carries a marker word
found nowhere else. The test walks every GET route of the app with parameters that aim at
those records, as an anonymous reader, as a signed-in user without the role, and as one with
it: the first two must never see the marker or the restricted ids; the last must see them.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from triedbefore.graph import QueryRefused
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest
from triedbefore.web import auth
from triedbefore.web.app import create_app

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
PASSWORD = "correct horse battery"
MARKER = "Quillwort"  # in restricted records only
RESTRICTED_IDS = ("INI-0055", "INI-Q1", "OUT-Q1", "EVAL-Q1", "EVAL-Q2")
EXTRA = {
    "initiatives.csv": [
        # a restricted repeat of a failed solution (would be a zombie), at a public site
        "INI-Q1,Quillwort telehealth pilot,Quillwort secret plan,SOL-TELE,RBL,2019,,active,"
        "Quillwort Trust,1000,,,restricted",
    ],
    "outcomes.csv": [
        "OUT-Q1,INI-Q1,Quillwort admissions,effective,10,5,per 1000,improved,,,restricted",
    ],
    "evaluations.csv": [
        # restricted evaluation of a restricted initiative, and of a public one
        "EVAL-Q1,INI-Q1,Quillwort evaluation,rct,,,positive,2020,true,50,Quillwort Unit,,,"
        "OUT-Q1,restricted",
        "EVAL-Q2,INI-0021,Quillwort review of a public attempt,rct,,,positive,2012,true,,,,,,"
        "restricted",
    ],
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("bundle") / "sample"
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("__init__.py", "__pycache__",
                                                                "*.md"))
    for name, rows in EXTRA.items():
        with open(dest / name, "a", encoding="utf-8") as fh:
            fh.write("\n".join(rows) + "\n")
    return dest


@pytest.fixture(scope="module")
def loaded(embedded_server: Any, bundle: Path) -> Any:
    from test_export import _fresh

    store: FalkorStore = _fresh(embedded_server)
    result = ingest(store, bundle)
    assert result.exit_code == 0, result.errors[:3]
    try:
        yield store
    finally:
        store.drop_all()
        store.close()


def make_app(store: FalkorStore, tmp_path: Path, role: str = "viewer") -> Flask:
    app = create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "t",
                      "USERS_FILE": str(tmp_path / "users.json"), "RESTRICTED_ROLE": role,
                      "CONSOLE_RATE": 0})
    for name, user_role in (("vic", "viewer"), ("cora", "curator"), ("ada", "admin")):
        auth.add_user(app.config["USERS_FILE"], name, PASSWORD, user_role)
    return app


def client_for(app: Flask, name: str | None) -> FlaskClient:
    client = app.test_client()
    if name is not None:
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        res = client.post("/login", data={"name": name, "password": PASSWORD,
                                          "csrf_token": token.group(1)})
        assert res.status_code == 302
    return client


#: Values for each route parameter and query parameter, aimed at restricted records.
PATH_VALUES = {"solution_id": ["SOL-TELE", "SOL-HIU"],
               "initiative_id": ["INI-0055", "INI-Q1", "INI-0021"],
               "evaluation_id": ["EVAL-Q1", "EVAL-Q2"], "site_id": ["RBL", "RJZ"]}
QUERIES = [
    "", "q=Quillwort", "q=telehealth", "q=high+intensity+users", "q=Quillwort&region=London",
    "as_of=2030-01-01", "solution=SOL-TELE", "solution=SOL-HIU", "by=solution",
    "by=intervention_type", "measure=Quillwort+admissions", "table=retries",
    "table=attempts", "table=evaluations", "table=outcomes", "table=initiatives",
    "node=initiative:INI-Q1", "node=initiative:INI-0021", "node=evaluation:EVAL-Q2",
    "node=site:RBL", "node=solution:SOL-TELE", "size=500",
    urlencode({"q": "MATCH (n) RETURN n"}) + "&limit=1000",
    urlencode({"q": "MATCH (n) WHERE n.visibility = 'restricted' RETURN n.id AS id"}),
    urlencode({"q": "MATCH (i:Initiative {id: 'INI-Q1'}) RETURN i"}),
    urlencode({"q": "MATCH (a)-[r]->(b) RETURN a.id, type(r), b.id"}) + "&limit=1000",
]


def urls(app: Flask) -> list[str]:
    out: list[str] = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint in (
                "static", "graphview.vendor", "auth.login"):
            continue
        paths = [rule.rule]
        for name in rule.arguments:
            paths = [p.replace(f"<{name}>", v) for p in paths
                     for v in PATH_VALUES.get(name, ["unknown-id"])]
        out += [p + ("?" + q if q else "") for p in paths for q in QUERIES]
    return out


def without_echo(url: str, body: str) -> str:
    """The body without the request's own words (pages repeat the query in their form and
    links, and a 404 names the id asked for): what is left came from the graph."""
    parts = urlsplit(url)
    values = [v for _, v in parse_qsl(parts.query)] + [unquote(parts.path.rsplit("/", 1)[-1])]
    values += [v.split(":", 1)[-1] for v in values]
    values += [v.removesuffix(".json").removesuffix(".csv") for v in values]
    text = unquote_plus(unquote_plus(html.unescape(body)))
    for value in sorted(values, key=len, reverse=True):
        for variant in (value, json.dumps(value)[1:-1]):
            if variant:
                text = text.replace(variant, "")
    return text


def leaks(body: str) -> list[str]:
    found = [MARKER] if MARKER in body else []
    found += [i for i in RESTRICTED_IDS if re.search(re.escape(i) + r"(?![0-9])", body)]
    return found


def walk(client: FlaskClient, app: Flask) -> dict[str, str]:
    bodies = {}
    for url in urls(app):
        res = client.get(url)
        assert res.status_code < 500, (url, res.status_code)
        bodies[url] = without_echo(url, res.get_data(as_text=True))
    return bodies


def test_anonymous_readers_never_see_restricted_records(loaded: FalkorStore,
                                                        tmp_path: Path) -> None:
    app = make_app(loaded, tmp_path)
    bodies = walk(client_for(app, None), app)
    assert len(bodies) > 500
    leaked = {url: leaks(body) for url, body in bodies.items() if leaks(body)}
    assert not leaked, dict(list(leaked.items())[:5])


def test_signed_in_users_without_the_role_see_what_anonymous_readers_see(
        loaded: FalkorStore, tmp_path: Path) -> None:
    app = make_app(loaded, tmp_path, role="curator")
    bodies = walk(client_for(app, "vic"), app)
    leaked = {url: leaks(body) for url, body in bodies.items() if leaks(body)}
    assert not leaked, dict(list(leaked.items())[:5])


def test_by_default_only_curators_see_restricted_records(
        loaded: FalkorStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 10: least privilege unless a deployment says otherwise."""
    monkeypatch.delenv("TRIEDBEFORE_RESTRICTED_ROLE", raising=False)
    app = create_app({"TESTING": True, "STORE": loaded, "SECRET_KEY": "t",
                      "USERS_FILE": str(tmp_path / "users.json")})
    assert app.config["RESTRICTED_ROLE"] == "curator"
    for name, role in (("vic", "viewer"), ("cora", "curator")):
        auth.add_user(app.config["USERS_FILE"], name, PASSWORD, role)
    url = "/initiatives/INI-Q1.json"
    assert client_for(app, "vic").get(url).status_code == 404
    assert client_for(app, "cora").get(url).status_code == 200


def test_users_with_the_role_see_restricted_records_everywhere(loaded: FalkorStore,
                                                               tmp_path: Path) -> None:
    app = make_app(loaded, tmp_path, role="curator")
    client = client_for(app, "cora")
    seen = {url for url, body in walk(client, app).items() if leaks(body)}
    for url in ("/initiatives/INI-Q1.json", "/sites/RJZ.json", "/evaluations/EVAL-Q1.csv",
                "/search.json?q=Quillwort", "/solutions/SOL-TELE.json",
                "/solutions/SOL-TELE.csv?table=attempts", "/graph.json?node=initiative:INI-Q1",
                "/deviance.json?measure=Quillwort+admissions", "/evaluations.json?size=500",
                "/console.json?" + urlencode({"q": "MATCH (i:Initiative {id: 'INI-Q1'}) "
                                                   "RETURN i"})):
        assert url in seen, url


def test_counts_facets_and_analytics_leave_restricted_records_out(loaded: FalkorStore,
                                                                  tmp_path: Path) -> None:
    app = make_app(loaded, tmp_path)
    anonymous, viewer = client_for(app, None), client_for(app, "vic")
    total = loaded.read("MATCH (i:Initiative) RETURN count(i) AS n")[0]["n"]
    public = loaded.read("MATCH (i:Initiative) WHERE i.visibility <> 'restricted' "
                         "RETURN count(i) AS n")[0]["n"]
    assert total - public == 2
    assert anonymous.get("/index.json").get_json()["counts"]["Initiative"] == public
    assert viewer.get("/index.json").get_json()["counts"]["Initiative"] == total
    # ingest runs: no row counts in the public copy (they count restricted rows)
    runs = anonymous.get("/index.json").get_json()["latest_runs"]
    assert runs and all(r.get("counts_json") is None for r in runs)
    # the solution list counts attempts
    def attempts(client: FlaskClient) -> int:
        rows = client.get("/solutions.json?size=500").get_json()["solutions"]["items"]
        return int(next(r["initiatives"] for r in rows if r["id"] == "SOL-HIU"))
    assert attempts(viewer) == attempts(anonymous) + 1
    # the restricted evaluation counts in the viewer's verdict evidence only
    anon_eval = anonymous.get("/solutions/SOL-TELE.json").get_json()["verdict"]["evaluations"]
    viewer_eval = viewer.get("/solutions/SOL-TELE.json").get_json()["verdict"]["evaluations"]
    assert "EVAL-Q2" in viewer_eval and "EVAL-Q2" not in anon_eval
    # zombies are computed from what the reader may see (the restricted positive review
    # of INI-0021 changes the evidence the later attempts ignored)
    anon_z = {z["initiative_id"] for z in anonymous.get("/zombies.json?size=500")
              .get_json()["zombies"]["items"]}
    viewer_z = {z["initiative_id"] for z in viewer.get("/zombies.json?size=500")
                .get_json()["zombies"]["items"]}
    assert anon_z != viewer_z and "INI-Q1" not in anon_z
    # search facets
    facets = anonymous.get("/search.json?q=telehealth").get_json()["facets"]
    assert MARKER not in json.dumps(facets)


def test_the_public_copy_follows_every_ingest_and_refuses_writes(
        loaded: FalkorStore, tmp_path: Path) -> None:
    public = loaded.public_copy()
    assert public.read("MATCH (n) WHERE n.visibility = 'restricted' RETURN count(n) AS n"
                       )[0]["n"] == 0
    with pytest.raises(QueryRefused):
        public.write("CREATE (:Site {id: 'X'})")
    # a record made restricted by a later ingest leaves the copy; made public, it comes back
    rows = list(csv.DictReader(io.StringIO((SAMPLE / "initiatives.csv").read_text("utf-8"))))
    row = next(r for r in rows if r["initiative_id"] == "INI-0021")
    folder = tmp_path / "b"
    folder.mkdir()

    def load(visibility: str) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(row))
        writer.writeheader()
        writer.writerow({**row, "visibility": visibility})
        (folder / "initiatives.csv").write_text(buf.getvalue(), encoding="utf-8")
        assert ingest(loaded, folder).exit_code == 0

    load("restricted")
    assert not public.read("MATCH (i:Initiative {id: 'INI-0021'}) RETURN i.id AS id")
    load("")
    assert public.read("MATCH (i:Initiative {id: 'INI-0021'}) RETURN i.id AS id")
    # a curation decision is followed too
    from triedbefore.ingest.curation import decide

    decide(loaded, "INI-0021", "SOL-HIU", "accepted")
    assert public.read("MATCH (:Initiative {id: 'INI-0021'})-[l:IMPLEMENTS]->"
                       "(:Solution {id: 'SOL-HIU'}) RETURN l.how AS how") == [{"how": "accepted"}]
    decide(loaded, "INI-0021", "SOL-HIU", "rejected")
    assert loaded.public_copy() is public


def test_a_graph_loaded_before_the_copy_existed_gets_one(loaded: FalkorStore,
                                                         tmp_path: Path) -> None:
    loaded.public_copy().drop_all()
    assert not loaded.has_public_copy()
    app = make_app(loaded, tmp_path)
    res = client_for(app, None).get("/initiatives/INI-0021.json")
    assert res.status_code == 200
    assert loaded.has_public_copy()
    assert client_for(app, None).get("/initiatives/INI-Q1.json").status_code == 404


def test_public_export_leaves_restricted_records_out(loaded: FalkorStore, tmp_path: Path
                                                     ) -> None:
    from click.testing import CliRunner

    from triedbefore.web.cli import cli

    runner = CliRunner()
    for flag, expect in (("--public", False), (None, True)):
        out = tmp_path / (flag or "all")
        args = ["--store", loaded.uri.raw, "export", str(out)] + ([flag] if flag else [])
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        text = "".join(p.read_text("utf-8") for p in out.glob("*.csv"))
        assert (MARKER in text) is expect
        assert ("INI-0055" in text) is expect


@pytest.mark.parametrize("server", [
    pytest.param("neo4j", marks=[pytest.mark.neo4j, pytest.mark.skipif(
        not __import__("os").environ.get("NEO4J_URI"),
        reason="NEO4J_URI is not set: no Neo4j server configured")]),
    "driver"])
def test_neo4j_public_copy_is_a_second_database_without_restricted_records(
        tmp_path: Path, request: pytest.FixtureRequest, server: str) -> None:
    """On Neo4j a second database; through the driver on FalkorDB's Bolt listener
    (``bolt+falkordb://``), the graph of a second listener."""
    import os

    from triedbefore.graph.engines import open_store

    store: Any = (open_store(os.environ["NEO4J_URI"]) if server == "neo4j"
                  else request.getfixturevalue("driver_store"))
    try:
        store.drop_all()
        folder = tmp_path / "b"
        folder.mkdir()
        (folder / "sites.csv").write_text("site_id,name,kind\nS1,Site,trust\n")
        (folder / "initiatives.csv").write_text(
            "initiative_id,title,site_ids,start_date,visibility\n"
            "I1,Open,S1,2020,public\nI2,Quillwort,S1,2021,restricted\n")
        assert ingest(store, folder).exit_code == 0
        public = store.public_copy()
        assert store.has_public_copy()
        if server == "neo4j":
            assert public.database != store.database
        else:
            assert public.uri.port != store.uri.port
        ids = sorted(r["id"] for r in public.read("MATCH (i:Initiative) RETURN i.id AS id"))
        assert ids == ["I1"]
        assert sorted(r["id"] for r in store.read("MATCH (i:Initiative) RETURN i.id AS id")
                      ) == ["I1", "I2"]
        assert public.read("MATCH (:Initiative {id: 'I1'})-[:TRIED_AT]->(s:Site) "
                           "RETURN s.id AS id") == [{"id": "S1"}]
        with pytest.raises(QueryRefused):
            public.write("CREATE (:X)")
    finally:
        store.drop_all()
        store.public_copy().drop_all()
        store.close()


def test_watches_stay_out_of_the_public_copy(loaded: FalkorStore) -> None:
    loaded.write("CREATE (:Watch {id: 'w-test', user: 'vic', target_kind: 'solution', "
                 "target_id: 'SOL-TELE'})")
    try:
        loaded.rebuild_public_copy()
        assert loaded.public_copy().read("MATCH (w:Watch) RETURN count(w) AS n")[0]["n"] == 0
    finally:
        loaded.write("MATCH (w:Watch {id: 'w-test'}) DETACH DELETE w")
        loaded.rebuild_public_copy()


def test_the_public_copy_holds_no_verdict_shaped_by_restricted_evidence(
        loaded: FalkorStore) -> None:
    """A solution's verdict on all evidence (restricted included) stays in the graph; the
    public copy holds only the verdict on the evidence anonymous readers see, and it is
    the verdict the public copy's own evidence gives."""
    from triedbefore.graph import analytics

    main = {r["id"]: r for r in loaded.read(
        "MATCH (s:Solution) RETURN s.id AS id, s.verdict AS verdict, "
        "s.public_verdict AS public_verdict")}
    assert any(r["verdict"] != r["public_verdict"] for r in main.values()), \
        "the fixture should make restricted evidence move a verdict"
    public = loaded.public_copy()
    for row in public.read("MATCH (s:Solution) RETURN s.id AS id, s.verdict AS verdict, "
                           "s.verdict_strength AS strength, s.public_verdict AS public"):
        assert row["verdict"] is None and row["strength"] is None, row
        assert row["public"] == analytics.verdict(public, row["id"])["verdict"], row
    # and after a full rebuild of the copy
    loaded.rebuild_public_copy()
    assert public.read("MATCH (s:Solution) WHERE s.verdict IS NOT NULL RETURN s.id") == []
