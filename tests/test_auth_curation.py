"""Explorer accounts (hashing, sign-in, rate limit, roles, CSRF, session cookie), the
curation page on the sample and the ``user`` CLI."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from triedbefore.graph import resolution
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest
from triedbefore.web import auth
from triedbefore.web.app import create_app
from triedbefore.web.cli import cli

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
PASSWORD = "correct horse battery"
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
LINKS = ("MATCH (:Initiative {id: $id})-[l:IMPLEMENTS]->(s:Solution) "
         "RETURN l.how AS how, s.id AS sid, l.decided_by AS who ORDER BY sid")


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "users.json"
    auth.add_user(path, "cora", PASSWORD, "curator")
    auth.add_user(path, "vic", PASSWORD, "viewer")
    auth.add_user(path, "ada", PASSWORD, "admin")
    return path


def make_app(store: FalkorStore, users_file: Path, **extra: Any) -> Flask:
    return create_app({"TESTING": True, "STORE": store, "USERS_FILE": str(users_file),
                       "SECRET_KEY": "test-secret", **extra})


@pytest.fixture
def app(store: FalkorStore, users_file: Path) -> Flask:
    assert ingest(store, SAMPLE).exit_code == 0
    return make_app(store, users_file)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    found = TOKEN_RE.search(page.get_data(as_text=True))
    assert found, "no csrf_field() in the form"
    return found.group(1)


def sign_in(client: FlaskClient, name: str, password: str = PASSWORD, **kw: Any) -> Any:
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf_token": token(client)}, **kw)


def links(store: FalkorStore, iid: str) -> list[dict[str, Any]]:
    return store.read(LINKS, {"id": iid})


# --------------------------------------------------------------------------- #
# The users file
# --------------------------------------------------------------------------- #


def test_password_is_stored_hashed_in_a_private_file(users_file: Path) -> None:
    text = users_file.read_text()
    assert PASSWORD not in text
    data = json.loads(text)
    stored = data["users"]["cora"]
    assert stored["role"] == "curator"
    assert stored["password_hash"].split(":")[0] in ("scrypt", "pbkdf2")
    assert stat.S_IMODE(os.stat(users_file).st_mode) == 0o600
    assert not [p for p in users_file.parent.iterdir() if p.name.endswith(".tmp")]
    user = auth.verify(users_file, "cora", PASSWORD)
    assert user == auth.User("cora", "curator", stored["created_at"])


def test_wrong_password_and_unknown_user_are_refused(users_file: Path) -> None:
    assert auth.verify(users_file, "cora", PASSWORD + "!") is None
    assert auth.verify(users_file, "cora", "") is None
    assert auth.verify(users_file, "nobody", PASSWORD) is None
    assert auth.verify(users_file.parent / "absent.json", "cora", PASSWORD) is None


def test_add_user_checks_and_replaces(users_file: Path) -> None:
    with pytest.raises(auth.UserError, match="exists"):
        auth.add_user(users_file, "cora", PASSWORD, "admin")
    with pytest.raises(auth.UserError, match="role"):
        auth.add_user(users_file, "eve", PASSWORD, "root")
    with pytest.raises(auth.UserError, match="at least"):
        auth.add_user(users_file, "eve", "short", "viewer")
    with pytest.raises(auth.UserError, match="user name"):
        auth.add_user(users_file, "../eve", PASSWORD, "viewer")
    auth.add_user(users_file, "cora", "a new password", "admin", replace=True)
    assert auth.verify(users_file, "cora", PASSWORD) is None
    assert auth.verify(users_file, "cora", "a new password") is not None
    assert [(u.name, u.role) for u in auth.list_users(users_file)] == [
        ("ada", "admin"), ("cora", "admin"), ("vic", "viewer")]


def test_roles_are_ordered() -> None:
    admin, curator, viewer = (auth.User("a", r) for r in ("admin", "curator", "viewer"))
    assert admin.has_role("curator") and curator.has_role("curator")
    assert not viewer.has_role("curator") and viewer.has_role("viewer")
    assert not auth.User("x", "unknown").has_role("viewer")


# --------------------------------------------------------------------------- #
# Sign-in, rate limit, session
# --------------------------------------------------------------------------- #


def test_login_page_is_accessible_and_sign_in_works(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert '<label for="login-name">' in page and 'id="login-name"' in page
    assert '<label for="login-password">' in page and 'type="password"' in page
    assert "<h1>" in page and "<script>" not in page.split("</main>")[0]
    done = sign_in(client, "cora")
    assert done.status_code == 302 and done.headers["Location"] == "/"
    with client.session_transaction() as sess:
        assert sess["user"] == "cora"


def test_wrong_password_is_refused_with_an_alert(client: FlaskClient) -> None:
    res = sign_in(client, "cora", "not the password")
    assert res.status_code == 401
    body = res.get_data(as_text=True)
    assert 'role="alert"' in body and "not right" in body
    with client.session_transaction() as sess:
        assert "user" not in sess


def test_rate_limit_kicks_in_after_five_failures(client: FlaskClient) -> None:
    for _ in range(5):
        assert sign_in(client, "cora", "wrong password").status_code == 401
    blocked = sign_in(client, "cora")  # even the right password now
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    assert 'role="alert"' in blocked.get_data(as_text=True)
    with client.session_transaction() as sess:
        assert "user" not in sess
    # another name from the same address, and the same name elsewhere, are not blocked
    assert sign_in(client, "ada").status_code == 302
    other = sign_in(client, "cora", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 302


def test_limiter_window_expires_and_success_resets() -> None:
    now = [1000.0]
    limiter = auth.LoginLimiter(max_failures=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("Cora", "1.2.3.4") == 0
        limiter.failed("Cora", "1.2.3.4")
    assert limiter.retry_after("cora", "1.2.3.4") == pytest.approx(60)  # name case-folded
    now[0] += 61
    assert limiter.retry_after("cora", "1.2.3.4") == 0
    limiter.failed("cora", "1.2.3.4")
    limiter.succeeded("cora", "1.2.3.4")
    assert limiter.retry_after("cora", "1.2.3.4") == 0


def test_open_redirect_after_login_is_refused(client: FlaskClient) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        tok = token(client)
        res = client.post("/login", data={"name": "cora", "password": PASSWORD,
                                          "csrf_token": tok, "next": target})
        assert res.headers["Location"] == "/", target
    tok = token(client, "/login?next=/curation%3Fstatus%3Dunresolved")
    res = client.post("/login", data={"name": "cora", "password": PASSWORD,
                                      "csrf_token": tok, "next": "/curation?status=unresolved"})
    assert res.headers["Location"] == "/curation?status=unresolved"


def test_session_cookie_is_httponly_and_lax(app: Flask, store: FalkorStore,
                                            users_file: Path) -> None:
    res = sign_in(app.test_client(), "cora")
    cookie = res.headers["Set-Cookie"]
    assert cookie.startswith("session=") and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = make_app(store, users_file, PREFER_HTTPS=True)
    assert secure.config["SESSION_COOKIE_SECURE"] is True
    res = sign_in(secure.test_client(), "cora")
    assert "Secure" in res.headers["Set-Cookie"] and "HttpOnly" in res.headers["Set-Cookie"]


def test_logout_clears_the_session(client: FlaskClient) -> None:
    sign_in(client, "cora")
    assert client.get("/curation").status_code == 200
    tok = token(client, "/curation")
    assert client.post("/logout").status_code == 400  # CSRF applies to logout too
    res = client.post("/logout", data={"csrf_token": tok})
    assert res.status_code == 302 and res.headers["Location"] == "/login"
    with client.session_transaction() as sess:
        assert "user" not in sess and "csrf" not in sess
    assert client.get("/curation").status_code == 302
    assert "You have signed out." in client.get("/login").get_data(as_text=True)


def test_changed_password_ends_other_sessions(client: FlaskClient, users_file: Path) -> None:
    sign_in(client, "cora")
    assert client.get("/curation").status_code == 200
    auth.add_user(users_file, "cora", "another password", "curator", replace=True)
    assert client.get("/curation").status_code == 302


# --------------------------------------------------------------------------- #
# Roles on the curation page
# --------------------------------------------------------------------------- #


def test_anonymous_is_sent_to_login_or_refused_with_401(client: FlaskClient) -> None:
    page = client.get("/curation?status=unresolved")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login?next=")
    assert "curation" in page.headers["Location"]
    data = client.get("/curation.json")
    assert data.status_code == 401
    assert data.get_json() == {"ok": False, "error": "sign in first", "status": 401}


def test_viewer_is_forbidden(client: FlaskClient) -> None:
    sign_in(client, "vic")
    assert client.get("/curation").status_code == 403
    res = client.get("/curation.json")
    assert res.status_code == 403 and res.get_json()["ok"] is False
    tok = token(client)
    res = client.post("/curation/decide", data={
        "initiative_id": "INI-0066", "solution_id": "SOL-HIU", "decision": "accepted",
        "csrf_token": tok})
    assert res.status_code == 403


def test_curator_and_admin_see_the_sample_proposals(app: Flask, store: FalkorStore) -> None:
    for name in ("cora", "ada"):
        client = app.test_client()
        sign_in(client, name)
        page = client.get("/curation")
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        for iid in ("INI-0018", "INI-0034", "INI-0047", "INI-0066"):
            assert iid in body
        assert "Virtual ward" in body or "SOL-VW" in body
        assert 'name="csrf_token"' in body and "<script>" not in body.split("</main>")[0]
    data = client.get("/curation.json?size=500").get_json()
    assert data["ok"] is True
    rows = {(p["initiative_id"], p["solution_id"], p["status"]) for p in data["proposals"]["items"]}
    assert ("INI-0034", "SOL-VW", "inferred") in rows or \
        ("INI-0034", "SOL-VW", "suggested") in rows
    ids = [p["initiative_id"] for p in data["proposals"]["items"]]
    assert ids == sorted(ids)
    resolved = {(r.initiative_id, r.solution_id, r.status) for r in resolution.resolve(store)}
    assert rows == resolved  # the page shows what resolution decided
    for item in data["proposals"]["items"]:
        assert set(item) >= {"initiative_id", "title", "solution_id", "solution_name",
                             "score", "status"}
        assert item["title"]
        if item["status"] == "unresolved":
            assert 0 < len(item["candidates"]) <= 5
        else:
            assert item["solution_name"]


def test_status_filter(client: FlaskClient) -> None:
    sign_in(client, "cora")
    data = client.get("/curation.json?status=inferred").get_json()
    assert data["proposals"]["items"]
    assert {p["status"] for p in data["proposals"]["items"]} == {"inferred"}
    assert data["counts"]["inferred"] == data["proposals"]["total"]
    assert client.get("/curation.json?status=bogus").status_code == 400
    page = client.get("/curation?status=accepted")
    assert page.status_code == 200 and "Nothing to show" in page.get_data(as_text=True)


def test_proposals_reads_only(store: FalkorStore, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ingest(store, SAMPLE).exit_code == 0
    expected = {(r.initiative_id, r.solution_id, r.status) for r in resolution.resolve(store)}

    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("proposals() wrote to the store")

    monkeypatch.setattr(store, "write", refuse)
    got = resolution.proposals(store)
    assert {(p.initiative_id, p.solution_id, p.status) for p in got} == expected
    assert all(p.solution_name for p in got if p.solution_id)


def test_rejected_solution_is_shown_and_not_offered_again(client: FlaskClient,
                                                          store: FalkorStore) -> None:
    sign_in(client, "cora")
    tok = token(client, "/curation")
    res = client.post("/curation/decide", data={
        "initiative_id": "INI-0034", "solution_id": "SOL-VW", "decision": "rejected",
        "csrf_token": tok})
    assert res.status_code == 302
    assert [(r["how"], r["sid"]) for r in links(store, "INI-0034")] == [("rejected", "SOL-VW")]
    items = [p for p in client.get("/curation.json?size=500").get_json()["proposals"]["items"]
             if p["initiative_id"] == "INI-0034"]
    assert {p["status"] for p in items} == {"rejected", "unresolved"}
    unresolved = next(p for p in items if p["status"] == "unresolved")
    offered = [c["solution_id"] for c in unresolved["candidates"]]
    assert 0 < len(offered) <= 5 and "SOL-VW" not in offered
    page = client.get("/curation?status=unresolved").get_data(as_text=True)
    assert '<label for="link-INI-0034">Link to solution</label>' in page
    assert '<select id="link-INI-0034" name="solution_id"' in page
    assert f'<option value="{offered[0]}">' in page
    # accepting one of the offered candidates from the select
    res = client.post("/curation/decide", data={
        "initiative_id": "INI-0034", "solution_id": offered[0], "decision": "accepted",
        "csrf_token": tok})
    assert res.status_code == 302
    assert sorted((r["how"], r["sid"]) for r in links(store, "INI-0034")) == sorted(
        [("rejected", "SOL-VW"), ("accepted", offered[0])])


# --------------------------------------------------------------------------- #
# Decisions and CSRF
# --------------------------------------------------------------------------- #


def test_curator_accepts_with_the_csrf_token(client: FlaskClient, store: FalkorStore) -> None:
    sign_in(client, "cora")
    tok = token(client, "/curation")
    res = client.post("/curation/decide", data={
        "initiative_id": "INI-0066", "solution_id": "SOL-HIU", "decision": "accepted",
        "status": "unresolved", "csrf_token": tok})
    assert res.status_code == 302
    assert res.headers["Location"] == "/curation?status=unresolved"
    assert links(store, "INI-0066") == [{"how": "accepted", "sid": "SOL-HIU", "who": "cora"}]
    page = client.get("/curation?status=accepted").get_data(as_text=True)
    assert 'role="status"' in page and "Accepted SOL-HIU for INI-0066." in page
    assert "INI-0066" in page


def test_decide_json_twin_and_bad_input(client: FlaskClient, store: FalkorStore) -> None:
    sign_in(client, "ada")
    tok = token(client, "/curation")
    res = client.post("/curation/decide.json", headers={"X-CSRF-Token": tok}, data={
        "initiative_id": "INI-0066", "solution_id": "SOL-HIU", "decision": "accepted"})
    assert res.status_code == 200
    assert res.get_json() == {"ok": True, "initiative_id": "INI-0066", "solution_id": "SOL-HIU",
                              "score": None, "status": "accepted"}
    bad = client.post("/curation/decide.json", data={
        "initiative_id": "INI-0066", "solution_id": "SOL-HIU", "decision": "maybe",
        "csrf_token": tok})
    assert bad.status_code == 400 and bad.get_json()["ok"] is False
    missing = client.post("/curation/decide.json", data={
        "initiative_id": "INI-NOPE", "solution_id": "SOL-HIU", "decision": "accepted",
        "csrf_token": tok})
    assert missing.status_code == 404


@pytest.mark.parametrize("given", [None, "", "forged-token", "é-not-ascii"])
def test_post_without_the_right_token_is_refused(client: FlaskClient, store: FalkorStore,
                                                 given: str | None) -> None:
    sign_in(client, "cora")
    token(client, "/curation")
    before = links(store, "INI-0066")
    form = {"initiative_id": "INI-0066", "solution_id": "SOL-HIU", "decision": "accepted"}
    if given is not None:
        form["csrf_token"] = given
    res = client.post("/curation/decide", data=form)
    assert res.status_code == 400
    res = client.post("/curation/decide.json", data=form)
    assert res.status_code == 400 and res.get_json()["ok"] is False
    assert "token" in res.get_json()["error"]
    assert links(store, "INI-0066") == before


def test_token_of_another_session_is_refused(app: Flask, store: FalkorStore) -> None:
    mallory, victim = app.test_client(), app.test_client()
    foreign = token(mallory)
    sign_in(victim, "cora")
    before = links(store, "INI-0066")
    res = victim.post("/curation/decide", data={
        "initiative_id": "INI-0066", "solution_id": "SOL-HIU", "decision": "accepted",
        "csrf_token": foreign})
    assert res.status_code == 400
    assert links(store, "INI-0066") == before


def test_login_itself_needs_the_token(client: FlaskClient) -> None:
    client.get("/login")
    res = client.post("/login", data={"name": "cora", "password": PASSWORD})
    assert res.status_code == 400
    with client.session_transaction() as sess:
        assert "user" not in sess


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


def test_cli_user_add_and_list(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    runner = CliRunner()
    res = runner.invoke(cli, ["user", "add", "curt", "--role", "curator", "--users-file",
                              str(path)], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert res.exit_code == 0, res.output
    assert PASSWORD not in res.output and PASSWORD not in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert auth.verify(path, "curt", PASSWORD) == auth.User(
        "curt", "curator", json.loads(path.read_text())["users"]["curt"]["created_at"])
    res = runner.invoke(cli, ["user", "add", "vera", "--password-stdin", "--users-file",
                              str(path)], input="stdin password\n")
    assert res.exit_code == 0, res.output
    assert auth.verify(path, "vera", "stdin password") is not None
    res = runner.invoke(cli, ["user", "list", "--users-file", str(path), "--format", "json"])
    assert res.exit_code == 0, res.output
    listed = json.loads(res.output)
    assert [(u["name"], u["role"]) for u in listed] == [("curt", "curator"), ("vera", "viewer")]
    assert all(set(u) == {"name", "role", "created_at"} for u in listed)
    table = runner.invoke(cli, ["user", "list", "--users-file", str(path)])
    assert table.exit_code == 0 and "curt" in table.output and "hash" not in table.output


def test_cli_user_add_refusals(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    runner = CliRunner()
    mismatch = runner.invoke(cli, ["user", "add", "curt", "--users-file", str(path)],
                             input=f"{PASSWORD}\nsomething else\n")
    assert mismatch.exit_code != 0 and not path.exists()
    short = runner.invoke(cli, ["user", "add", "curt", "--password-stdin", "--users-file",
                                str(path)], input="short\n")
    assert short.exit_code == 1 and "at least" in short.output
    role = runner.invoke(cli, ["user", "add", "curt", "--role", "root", "--users-file",
                               str(path)], input="x\n")
    assert role.exit_code == 2
    ok = runner.invoke(cli, ["user", "add", "curt", "--password-stdin", "--users-file",
                             str(path)], input=f"{PASSWORD}\n")
    assert ok.exit_code == 0
    again = runner.invoke(cli, ["user", "add", "curt", "--password-stdin", "--users-file",
                                str(path)], input=f"{PASSWORD}\n")
    assert again.exit_code == 1 and "exists" in again.output
    replaced = runner.invoke(cli, ["user", "add", "curt", "--role", "admin", "--replace",
                                   "--password-stdin", "--users-file", str(path)],
                             input="a new password\n")
    assert replaced.exit_code == 0
    assert auth.verify(path, "curt", "a new password") == auth.User(
        "curt", "admin", json.loads(path.read_text())["users"]["curt"]["created_at"])


def test_cli_default_users_file_is_in_the_data_dir(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIEDBEFORE_DATA_DIR", str(tmp_path / "dd"))
    res = CliRunner().invoke(cli, ["user", "add", "dee", "--password-stdin"],
                             input=f"{PASSWORD}\n")
    assert res.exit_code == 0, res.output
    assert auth.verify(tmp_path / "dd" / "users.json", "dee", PASSWORD) is not None
