"""Contributions: registration, the form, moderation through the one write path, "my
contributions", attribution and privacy, lessons where they are needed, and bad input
and abuse (the visibility walk over every route is in test_contribution_visibility.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest import contributions as contrib
from triedbefore.ingest.pipeline import ingest
from triedbefore.web import auth
from triedbefore.web.app import create_app
from triedbefore.web.cli import cli

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
PASSWORD = "correct horse battery"
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
#: A real GP practice of the sample (NHS ODS), and a solution of the sample.
PRACTICE, PRACTICE_NAME = "L83006", "Mayflower Medical Group"
SOLUTION = "SOL-TELE"
MARK = "Zqxjv-unmoderated-marker"


def make_app(store: FalkorStore, tmp_path: Path, **extra: Any) -> Flask:
    users = tmp_path / "data" / "users.json"
    auth.add_user(users, "cora", PASSWORD, "curator")
    auth.add_user(users, "vic", PASSWORD, "viewer")
    return create_app({"TESTING": True, "STORE": store, "USERS_FILE": str(users),
                       "SECRET_KEY": "test", **extra})


@pytest.fixture
def app(store: FalkorStore, tmp_path: Path) -> Flask:
    assert ingest(store, SAMPLE).exit_code == 0
    return make_app(store, tmp_path)


def token(client: FlaskClient, path: str = "/login") -> str:
    found = TOKEN_RE.search(client.get(path).get_data(as_text=True))
    assert found, path
    return found.group(1)


def sign_in(client: FlaskClient, name: str) -> str:
    res = client.post("/login", data={"name": name, "password": PASSWORD,
                                      "csrf_token": token(client)})
    assert res.status_code == 302, res.get_data(as_text=True)[:500]
    return token(client, "/login")


def register(client: FlaskClient, name: str, **profile: str) -> Any:
    form = {"name": name, "password": PASSWORD, "password2": PASSWORD,
            "display_name": profile.get("display_name", "Dr Ann Example"),
            "organisation": profile.get("organisation", "Mayflower Medical Group"),
            "sector": profile.get("sector", "nhs"),
            "email": profile.get("email", f"{name}@example.org")}
    return client.post("/register", data={**form, "csrf_token": token(client, "/register")})


def contributor(app: Flask, name: str = "ann", **profile: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    assert register(client, name, **profile).status_code == 302
    return client, sign_in(client, name)


def stopped_attempt(**more: str) -> dict[str, str]:
    form = {"title": "Telehealth for COPD at Mayflower", "solution_id": SOLUTION,
            "site_ids": PRACTICE, "start_date": "2021-04", "end_date": "2022-01",
            "status": "stopped", "why_stopped": "Staff time for set-up was underestimated",
            "lessons-0-text": "Nurses had no protected time for the monitoring",
            "lessons-0-effect": "hindered", "lessons-0-nasss_domain": "organisation",
            "lessons-1-text": "Patients liked the kit", "lessons-1-effect": "helped",
            "lessons-1-nasss_domain": "adopters",
            "do_differently": "Agree protected time before the start",
            "show_name": "true", "show_organisation": "true", "separate": "true"}
    return {**form, **more}


def send(client: FlaskClient, csrf: str, form: dict[str, str], action: str = "submit",
         path: str = "/contribute") -> Any:
    return client.post(path, data={**form, "action": action, "csrf_token": csrf})


def waiting_id(app: Flask) -> str:
    from triedbefore.web.contribute import store_of_contributions

    with app.app_context():
        return store_of_contributions().all()[-1].id


def accept(app: Flask, cid: str) -> Any:
    curator = app.test_client()
    csrf = sign_in(curator, "cora")
    return curator.post(f"/contributions/{cid}/accept", data={"csrf_token": csrf})


# --------------------------------------------------------------------------- #
# Registration
# --------------------------------------------------------------------------- #


def test_anyone_registers_as_a_contributor_with_a_profile(app: Flask) -> None:
    client = app.test_client()
    res = register(client, "ann")
    assert res.status_code == 302
    users = app.config["USERS_FILE"]
    assert [(u.name, u.role) for u in auth.list_users(users) if u.name == "ann"] == [
        ("ann", "contributor")]
    assert auth.profile(users, "ann")["sector"] == "nhs"
    assert "password" not in json.dumps(auth.profile(users, "ann"))
    # a contributor is the lowest role: no curation, no restricted records
    sign_in(client, "ann")
    assert client.get("/curation").status_code == 403
    assert client.get("/moderation").status_code == 403
    assert client.get("/contribute").status_code == 200
    # a taken name, a bad sector and differing passwords are refused with reasons
    again = app.test_client()
    res = register(again, "ANN")
    assert res.status_code == 400 and "taken" in res.get_data(as_text=True)
    bad = register(app.test_client(), "bob", sector="aliens")
    assert bad.status_code == 400 and "Choose the sector" in bad.get_data(as_text=True)


def test_registration_is_rate_limited_per_address(store: FalkorStore, tmp_path: Path) -> None:
    assert ingest(store, SAMPLE).exit_code == 0
    app = make_app(store, tmp_path, REGISTER_MAX=2)
    client = app.test_client()
    assert register(client, "a1").status_code == 302
    assert register(client, "a2").status_code == 302
    refused = register(client, "a3")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "a3" not in {u.name for u in auth.list_users(app.config["USERS_FILE"])}


# --------------------------------------------------------------------------- #
# The form: validation as the interchange, nothing lost, drafts
# --------------------------------------------------------------------------- #


def test_an_error_keeps_everything_typed_and_says_what_the_interchange_says(
        app: Flask) -> None:
    client, csrf = contributor(app)
    form = stopped_attempt(**{"start_date": "2021-13", "lessons-0-effect": "",
                              "lessons-1-text": "x" * 20_000})
    res = send(client, csrf, form)
    page = res.get_data(as_text=True)
    assert res.status_code == 400
    # the interchange's own messages (ontology/models.py), on the fields they belong to
    assert "month 13 does not exist" in page
    assert "20,000 characters long; a lesson has at most 2,000 characters" in page
    assert 'id="e-lessons-0-effect"' in page and 'id="e-lessons-1-text"' in page
    # nothing is lost: every value is in the form again, and stored as a draft
    for value in ("Telehealth for COPD at Mayflower", "Nurses had no protected time",
                  "Agree protected time before the start", "2021-13"):
        assert value in page
    cid = waiting_id(app)
    saved = client.get(f"/contributions/{cid}.json").get_json()["contribution"]
    assert saved["status"] == "draft"
    assert saved["data"]["lessons"][1]["text"] == "x" * 20_000


def test_a_stopped_attempt_says_why_and_new_sites_are_not_nhs(app: Flask) -> None:
    client, csrf = contributor(app)
    res = send(client, csrf, stopped_attempt(why_stopped="", new_site_name="A new trust",
                                             new_site_kind="trust"))
    page = res.get_data(as_text=True)
    assert "a stopped attempt says why it stopped" in page
    assert "not an allowed value for a new site" in page


def test_drafts_are_saved_without_checks_and_sent_later(app: Flask) -> None:
    client, csrf = contributor(app)
    res = send(client, csrf, {"title": "Half written", "start_date": "soon"}, "draft")
    assert res.status_code == 302
    cid = waiting_id(app)
    assert client.get(f"/contributions/{cid}.json").get_json()["contribution"][
        "status"] == "draft"
    res = send(client, csrf, stopped_attempt(), "submit", f"/contributions/{cid}/edit")
    assert res.status_code == 302
    assert client.get(f"/contributions/{cid}.json").get_json()["contribution"][
        "status"] == "submitted"


def test_more_lessons_rows_keep_what_was_typed(app: Flask) -> None:
    client, csrf = contributor(app)
    page = send(client, csrf, stopped_attempt(), "more_lessons").get_data(as_text=True)
    assert 'name="lessons-4-text"' in page  # two filled, two blank, one more
    assert "Patients liked the kit" in page


# --------------------------------------------------------------------------- #
# Moderation through the one write path
# --------------------------------------------------------------------------- #


def test_accepted_through_the_write_path_with_provenance(app: Flask, store: FalkorStore,
                                                         tmp_path: Path) -> None:
    client, csrf = contributor(app)
    assert send(client, csrf, stopped_attempt()).status_code == 302
    cid = waiting_id(app)
    # waiting: not in the graph at all
    assert not store.read("MATCH (n) WHERE n.id STARTS WITH 'INI-C-' OR n.id = $c "
                          "RETURN n.id AS id", {"c": cid})
    assert accept(app, cid).status_code == 302
    initiative = contrib.row_ids(int(cid.split("-")[1]))["initiative"]
    rows = store.read(
        "MATCH (c:Contribution)-[:RECORDS]->(i:Initiative {id: $id})-[:TRIED_AT]->(t:Site) "
        "MATCH (r:IngestRun {id: c.run_id}) "
        "RETURN c.contributor AS who, c.organisation AS org, c.moderator AS moderator, "
        "c.accepted_at AS at, r.source AS source, i.status AS status, t.id AS site",
        {"id": initiative})
    assert rows == [{"who": "Dr Ann Example", "org": "Mayflower Medical Group",
                     "moderator": "cora", "at": rows[0]["at"], "source": f"contribution:{cid}",
                     "status": "stopped", "site": PRACTICE}]
    lessons = store.read("MATCH (:Initiative {id: $id})-[:HAS_LESSON]->(x:Lesson) "
                         "RETURN x.kind AS kind, x.effect AS effect ORDER BY kind, effect",
                         {"id": initiative})
    assert [(r["kind"], r["effect"]) for r in lessons] == [
        ("do_differently", None), ("lesson", "helped"), ("lesson", "hindered"),
        ("why_stopped", None)]
    # the contributor sees the status on "my contributions"
    mine = client.get("/my-contributions").get_data(as_text=True)
    assert "Accepted" in mine and cid in mine
    # and anyone sees the lessons on the solution page, the initiative page and the check
    anonymous = app.test_client()
    solution = anonymous.get(f"/solutions/{SOLUTION}.json").get_json()["lessons"]
    organisation = next(d for d in solution["domains"] if d["domain"] == "organisation")
    assert organisation["hindered"] == 1 and organisation["teams"] == 1
    assert solution["stopped"][0]["why"] == "Staff time for set-up was underestimated"
    # as of a date before the attempt ended, its lessons were not knowable yet
    then = anonymous.get(f"/solutions/{SOLUTION}.json?as_of=2021-06-01").get_json()["lessons"]
    assert then["lessons"] == 0 and then["stopped"] == []
    later = anonymous.get(f"/solutions/{SOLUTION}.json?as_of=2022-06-01").get_json()["lessons"]
    assert later["lessons"] == 2
    page = anonymous.get(f"/initiatives/{initiative}").get_data(as_text=True)
    assert "Dr Ann Example" in page and "accepted" in page and "cora" in page
    # the RDF export attributes it (PROV-O) and conforms to the shapes; the bundle export
    # holds its lessons
    from pyshacl import validate
    from rdflib import Graph, URIRef
    from rdflib.namespace import PROV, RDFS

    from triedbefore.ingest.export import export_bundle, export_rdf
    from triedbefore.ontology import ONTOLOGY_PATH, SHAPES_PATH
    from triedbefore.ontology.rdf import instance_iri
    from triedbefore.ontology.vocab import Label

    data = Graph().parse(export_rdf(store, tmp_path / "rdf", "turtle"), format="turtle")
    agent = data.value(instance_iri(Label.CONTRIBUTION, cid), PROV.wasAttributedTo)
    assert isinstance(agent, URIRef) and str(data.value(agent, RDFS.label)) == "Dr Ann Example"
    conforms, _graph, text = validate(data, shacl_graph=Graph().parse(SHAPES_PATH),
                                      ont_graph=Graph().parse(ONTOLOGY_PATH), inference="rdfs")
    assert conforms, text[:2000]
    counts = export_bundle(store, tmp_path / "bundle")
    assert counts["lessons.csv"] == 4


def test_return_with_a_comment_then_update_an_accepted_record_moderated_again(
        app: Flask, store: FalkorStore) -> None:
    client, csrf = contributor(app)
    send(client, csrf, stopped_attempt())
    cid = waiting_id(app)
    curator = app.test_client()
    ccsrf = sign_in(curator, "cora")
    assert curator.post(f"/contributions/{cid}/return",
                        data={"csrf_token": ccsrf, "comment": ""}).status_code == 400
    assert curator.post(f"/contributions/{cid}/return", data={
        "csrf_token": ccsrf, "comment": "Which ward?"}).status_code == 302
    mine = client.get("/my-contributions").get_data(as_text=True)
    assert "Returned to you" in mine and "Which ward?" in mine
    send(client, csrf, stopped_attempt(), "submit", f"/contributions/{cid}/edit")
    assert accept(app, cid).status_code == 302
    initiative = f"INI-C-{int(cid.split('-')[1]):05d}"
    # an update of an accepted record waits again; the graph keeps the accepted version
    send(client, csrf, stopped_attempt(title="Telehealth for COPD, second go"), "submit",
         f"/contributions/{cid}/edit")
    item = client.get(f"/contributions/{cid}.json").get_json()["contribution"]
    assert item["status"] == "submitted" and item["published"]
    title = "MATCH (i:Initiative {id: $id}) RETURN i.title AS t"
    assert store.read(title, {"id": initiative})[0]["t"] == "Telehealth for COPD at Mayflower"
    assert accept(app, cid).status_code == 302
    assert store.read(title, {"id": initiative})[0]["t"] == "Telehealth for COPD, second go"
    # a lesson removed by an update leaves the graph (and the public copy) when accepted
    lessons = ("MATCH (:Initiative {id: $id})-[:HAS_LESSON]->(x:Lesson {kind: 'lesson'}) "
               "RETURN x.text AS text ORDER BY text")
    assert len(store.read(lessons, {"id": initiative})) == 2
    fewer = {k: v for k, v in stopped_attempt(title="Telehealth for COPD, second go").items()
             if not k.startswith("lessons-1-")}
    send(client, csrf, fewer, "submit", f"/contributions/{cid}/edit")
    assert accept(app, cid).status_code == 302
    assert [r["text"] for r in store.read(lessons, {"id": initiative})] == [
        "Nurses had no protected time for the monitoring"]
    assert [r["text"] for r in store.public_copy().read(lessons, {"id": initiative})] == [
        "Nurses had no protected time for the monitoring"]
    history = [h["action"] for h in client.get(f"/contributions/{cid}.json").get_json()[
        "contribution"]["history"]]
    assert history.count("accepted") == 3 and "returned" in history


def test_a_curator_edits_before_accepting(app: Flask, store: FalkorStore) -> None:
    client, csrf = contributor(app)
    send(client, csrf, stopped_attempt())
    cid = waiting_id(app)
    curator = app.test_client()
    ccsrf = sign_in(curator, "cora")
    res = curator.post(f"/contributions/{cid}/edit", data={
        **stopped_attempt(title="Edited by the curator"), "action": "curator_save",
        "csrf_token": ccsrf})
    assert res.status_code == 302
    assert accept(app, cid).status_code == 302
    assert store.read("MATCH (i:Initiative {title: 'Edited by the curator'}) "
                      "RETURN i.id AS id")
    history = client.get(f"/contributions/{cid}.json").get_json()["contribution"]["history"]
    assert any(h["action"] == "edited by curator" and h["who"] == "cora" for h in history)


# --------------------------------------------------------------------------- #
# Attribution, privacy, restricted
# --------------------------------------------------------------------------- #


def test_name_and_organisation_only_when_chosen_and_never_an_email(app: Flask,
                                                                   store: FalkorStore) -> None:
    client, csrf = contributor(app, "hidden", display_name="Secret Person",
                               organisation="Hidden Org", email="secret@example.org")
    form = {k: v for k, v in stopped_attempt().items()
            if k not in ("show_name", "show_organisation")}
    send(client, csrf, form)
    cid = waiting_id(app)
    assert accept(app, cid).status_code == 302
    initiative = f"INI-C-{int(cid.split('-')[1]):05d}"
    anonymous = app.test_client()
    for url in (f"/initiatives/{initiative}", f"/initiatives/{initiative}.json",
                f"/solutions/{SOLUTION}", "/search?q=protected+time"):
        text = anonymous.get(url).get_data(as_text=True)
        for secret in ("Secret Person", "Hidden Org", "secret@example.org", "hidden"):
            assert secret not in text, (url, secret)
    assert "chose not to be named" in anonymous.get(f"/initiatives/{initiative}").get_data(
        as_text=True)
    everything = json.dumps(store.read("MATCH (n) RETURN n {.*} AS p"), default=str)
    for secret in ("Secret Person", "Hidden Org", "secret@example.org"):
        assert secret not in everything


def test_a_restricted_record_reaches_only_users_who_may_see_restricted(app: Flask) -> None:
    client, csrf = contributor(app)
    send(client, csrf, stopped_attempt(visibility="restricted",
                                       title=f"Restricted attempt {MARK}"))
    cid = waiting_id(app)
    assert accept(app, cid).status_code == 302
    initiative = f"INI-C-{int(cid.split('-')[1]):05d}"
    assert app.test_client().get(f"/initiatives/{initiative}").status_code == 404
    found = app.test_client().get("/search.json?q=restricted+attempt").get_json()
    assert initiative not in {r.get("id") for r in found["results"]["items"]}
    assert initiative not in app.test_client().get(f"/solutions/{SOLUTION}").get_data(
        as_text=True)
    curator = app.test_client()
    sign_in(curator, "cora")  # restricted_role is curator by default
    assert curator.get(f"/initiatives/{initiative}").status_code == 200


# --------------------------------------------------------------------------- #
# Bad input and abuse
# --------------------------------------------------------------------------- #


def test_markup_is_text_and_links_are_only_http(app: Flask) -> None:
    client, csrf = contributor(app)
    script = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    form = stopped_attempt(title=f"Attempt {script}", **{"lessons-0-text": f"Lesson {script}"},
                           source_url="javascript:alert(1)")
    page = send(client, csrf, form).get_data(as_text=True)
    assert "a link starts with https:// or http://" in page
    send(client, csrf, {**form, "source_url": "https://example.org/x"}, "submit",
         f"/contributions/{waiting_id(app)}/edit")
    cid = waiting_id(app)
    assert accept(app, cid).status_code == 302
    initiative = f"INI-C-{int(cid.split('-')[1]):05d}"
    for url in (f"/initiatives/{initiative}", f"/solutions/{SOLUTION}",
                f"/contributions/{cid}"):
        c = client if url.startswith("/contributions") else app.test_client()
        text = c.get(url).get_data(as_text=True)
        assert "<script>alert" not in text and "<img src=x" not in text, url
        assert "&lt;script&gt;" in text, url


def test_duplicates_are_detected_and_offered_for_merging(app: Flask, store: FalkorStore
                                                         ) -> None:
    client, csrf = contributor(app)
    form = {k: v for k, v in stopped_attempt().items() if k != "separate"}
    send(client, csrf, form)
    first = waiting_id(app)
    assert accept(app, first).status_code == 302
    other, ocsrf = contributor(app, "bob")
    res = send(other, ocsrf, {**form, "title": "Our telehealth project",
                              "lessons-0-text": "Second team: same problem with time"})
    page = res.get_data(as_text=True)
    initiative = f"INI-C-{int(first.split('-')[1]):05d}"
    assert "Is this one of these?" in page and f'value="merge:{initiative}"' in page
    second = waiting_id(app)
    assert other.get(f"/contributions/{second}.json").get_json()["contribution"][
        "status"] == "draft"
    res = send(other, ocsrf, {**form, "title": "Our telehealth project",
                              "lessons-0-text": "Second team: same problem with time"},
               f"merge:{initiative}", f"/contributions/{second}/edit")
    assert res.status_code == 302
    assert accept(app, second).status_code == 302
    # one initiative, two teams' contributions, lessons added up
    assert store.read("MATCH (c:Contribution)-[:RECORDS]->(:Initiative {id: $id}) "
                      "RETURN count(c) AS n", {"id": initiative})[0]["n"] == 2
    assert not store.read("MATCH (i:Initiative {id: $id}) RETURN i.id AS id",
                          {"id": f"INI-C-{int(second.split('-')[1]):05d}"})


def test_spam_bursts_hit_the_rate_limit(store: FalkorStore, tmp_path: Path) -> None:
    assert ingest(store, SAMPLE).exit_code == 0
    app = make_app(store, tmp_path, CONTRIBUTION_SAVES_PER_HOUR=3)
    client, csrf = contributor(app)
    codes = [send(client, csrf, {"title": f"spam {n}"}, "draft").status_code
             for n in range(5)]
    assert codes == [302, 302, 302, 429, 429]


def test_unknown_references_name_the_id(app: Flask) -> None:
    client, csrf = contributor(app)
    page = send(client, csrf, stopped_attempt(solution_id="SOL-NOPE", site_ids="ZZZ99",
                                              learned_from="EVAL-NOPE")).get_data(as_text=True)
    assert "SOL-NOPE" in page and "ZZZ99" in page and "EVAL-NOPE" in page


def test_suggestions_find_solutions_and_sites_by_name_or_code(app: Flask) -> None:
    client = app.test_client()
    sites = client.get("/suggest/sites.json?q=mayflower").get_json()["items"]
    assert (PRACTICE, PRACTICE_NAME) in [(s["id"], s["name"]) for s in sites]
    by_code = client.get(f"/suggest/sites.json?q={PRACTICE.lower()}").get_json()["items"]
    assert by_code[0]["id"] == PRACTICE
    solutions = client.get("/suggest/solutions.json?q=telehea").get_json()["items"]
    assert SOLUTION in [s["id"] for s in solutions]


# --------------------------------------------------------------------------- #
# The CLI
# --------------------------------------------------------------------------- #


def test_cli_submit_list_accept_return_and_lessons(store: FalkorStore, tmp_path: Path
                                                   ) -> None:
    assert ingest(store, SAMPLE).exit_code == 0
    users = tmp_path / "users.json"
    auth.register(users, "ann", PASSWORD, {"display_name": "Ann", "sector": "nhs"})
    record = tmp_path / "attempt.json"
    record.write_text(json.dumps({
        "title": "CLI attempt", "solution_id": SOLUTION, "site_ids": [PRACTICE],
        "start_date": "2020", "status": "stopped", "why_stopped": "Funding ended",
        "lessons": [{"text": "Funding for one year is too short", "effect": "hindered",
                     "nasss_domain": "organisation"}], "show_name": True}), encoding="utf-8")
    base = ["--store", store.uri.raw, "contributions"]
    files = ["--users-file", str(users), "--contributions-file",
             str(tmp_path / "contributions.sqlite3")]
    runner = CliRunner()
    sent = runner.invoke(cli, [*base, "submit", str(record), "--user", "ann", *files,
                               "--format", "json"])
    assert sent.exit_code == 0, sent.output
    cid = json.loads(sent.output)["contribution"]["id"]
    listed = runner.invoke(cli, [*base, "list", "--status", "submitted", *files,
                                 "--format", "json"])
    assert [c["id"] for c in json.loads(listed.output)["contributions"]] == [cid]
    bad = runner.invoke(cli, [*base, "return", cid, *files])
    assert bad.exit_code != 0 and "comment" in bad.output
    done = runner.invoke(cli, [*base, "accept", cid, "--moderator", "cora", *files,
                               "--format", "json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["contribution"]["status"] == "accepted"
    lessons = runner.invoke(cli, ["--store", store.uri.raw, "lessons", SOLUTION,
                                  "--format", "json"])
    data = json.loads(lessons.output)
    assert data["solution_id"] == SOLUTION
    assert data["lessons"]["stopped"][0]["why"] == "Funding ended"
    table = runner.invoke(cli, ["--store", store.uri.raw, "lessons", SOLUTION])
    assert "The organisation" in table.output and "Funding for one year" in table.output
    # a bad file is refused with the interchange's messages, and nothing is sent
    record.write_text(json.dumps({"title": "x", "solution_id": SOLUTION,
                                  "site_ids": [PRACTICE], "start_date": "20x0"}))
    bad = runner.invoke(cli, [*base, "submit", str(record), "--user", "ann", *files])
    assert bad.exit_code == 3 and "ISO 8601" in bad.output


# --------------------------------------------------------------------------- #
# Questions to the people who tried it
# --------------------------------------------------------------------------- #


def test_questions_are_moderated_answered_publicly_and_rate_limited(
        store: FalkorStore, tmp_path: Path) -> None:
    assert ingest(store, SAMPLE).exit_code == 0
    app = make_app(store, tmp_path, QUESTIONS_PER_HOUR=2)
    client, csrf = contributor(app)
    send(client, csrf, stopped_attempt())
    cid = waiting_id(app)
    assert accept(app, cid).status_code == 302
    initiative = f"INI-C-{int(cid.split('-')[1]):05d}"
    reader, rcsrf = contributor(app, "reader")
    # nobody recorded INI-0021 here: nobody to ask
    assert reader.post("/initiatives/INI-0021/questions", data={
        "csrf_token": rcsrf, "question": "How?"}).status_code == 400
    question = "How much nurse time per patient did the monitoring take?"
    res = reader.post(f"/initiatives/{initiative}/questions",
                      data={"csrf_token": rcsrf, "question": question})
    assert res.status_code == 302
    # waiting: not on the initiative page, not for its contributor yet
    assert question not in app.test_client().get(f"/initiatives/{initiative}").get_data(
        as_text=True)
    assert question not in client.get("/my-contributions").get_data(as_text=True)
    curator = app.test_client()
    ccsrf = sign_in(curator, "cora")
    queue = curator.get("/moderation").get_data(as_text=True)
    assert question in queue
    qid = re.search(r"Question (Q-\d+)", queue)
    assert qid
    assert curator.post(f"/questions/{qid.group(1)}/accept", data={
        "csrf_token": ccsrf, "part": "question"}).status_code == 302
    # the contributor sees it on sign-in (the navigation says so) and answers
    assert "1 question to you" in client.get("/").get_data(as_text=True)
    assert question in client.get("/my-contributions").get_data(as_text=True)
    assert reader.post(f"/questions/{qid.group(1)}/answer", data={
        "csrf_token": rcsrf, "answer": "Not mine to answer"}).status_code == 400
    answer = "About ten minutes a day for each patient, more in winter"
    assert client.post(f"/questions/{qid.group(1)}/answer", data={
        "csrf_token": csrf, "answer": answer}).status_code == 302
    assert answer not in app.test_client().get(f"/initiatives/{initiative}").get_data(
        as_text=True)
    assert curator.post(f"/questions/{qid.group(1)}/accept", data={
        "csrf_token": ccsrf, "part": "answer"}).status_code == 302
    page = app.test_client().get(f"/initiatives/{initiative}.json").get_json()
    assert [(q["text"], q["answer"]) for q in page["questions"]] == [(question, answer)]
    assert "reader" not in json.dumps(page["questions"])  # who asked is not shown
    # rate-limited: the third question within the hour is refused
    reader.post(f"/initiatives/{initiative}/questions",
                data={"csrf_token": rcsrf, "question": "Second?"})
    assert reader.post(f"/initiatives/{initiative}/questions", data={
        "csrf_token": rcsrf, "question": "Third?"}).status_code == 429
    # markup is text
    other, ocsrf = contributor(app, "third")
    other.post(f"/initiatives/{initiative}/questions",
               data={"csrf_token": ocsrf, "question": "<script>alert(1)</script>"})
    assert "<script>alert(1)" not in curator.get("/moderation").get_data(as_text=True)
