"""API tokens for the write endpoints, and the access rules around them: a token acts as
its user without a CSRF token (browsers never send it on their own), an invalid or revoked
token is 401 (never silently anonymous), a token of a user without the role is 403; every
form of the app carries the CSRF field; the session cookie's flags; the sign-in and console
rate limits."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest
from triedbefore.web import auth
from triedbefore.web.app import create_app
from triedbefore.web.cli import cli

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
PASSWORD = "correct horse battery"


@pytest.fixture
def app(store: FalkorStore, tmp_path: Path) -> Any:
    assert ingest(store, SAMPLE).exit_code == 0
    users = tmp_path / "users.json"
    auth.add_user(users, "cora", PASSWORD, "curator")
    auth.add_user(users, "vic", PASSWORD, "viewer")
    return create_app({"TESTING": True, "STORE": store, "SECRET_KEY": "t",
                       "USERS_FILE": str(users), "PREFER_HTTPS": True})


def _proposal(app: Any) -> dict[str, str]:
    from triedbefore.graph import resolution

    found = next(p for p in resolution.proposals(app.config["STORE"]) if p.solution_id)
    return {"initiative_id": found.initiative_id, "solution_id": str(found.solution_id),
            "decision": "accepted"}


def test_a_curators_token_writes_without_csrf(app: Any) -> None:
    token = auth.add_token(app.config["USERS_FILE"], "cora", "script").token
    client = app.test_client()
    res = client.post("/curation/decide.json", data=_proposal(app),
                      headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["status"] == "accepted"
    # the file keeps only a hash
    text = Path(app.config["USERS_FILE"]).read_text()
    assert token.split("_", 2)[2] not in text


@pytest.mark.parametrize("token", ["", "tb_000000000000_" + "x" * 43, "nonsense",
                                   "tb_zz_short"])
def test_an_invalid_token_is_401_not_anonymous(app: Any, token: str) -> None:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}x"}
    for method, url in (("POST", "/curation/decide.json"), ("GET", "/solutions.json"),
                        ("GET", "/console.json?q=RETURN+1")):
        res = client.open(url, method=method, data=_proposal(app) if method == "POST" else None,
                          headers=headers)
        assert res.status_code == 401, (url, res.status_code)
        assert res.get_json()["ok"] is False


def test_revoked_tokens_and_viewer_tokens_cannot_write(app: Any) -> None:
    users = app.config["USERS_FILE"]
    curator = auth.add_token(users, "cora").token
    viewer = auth.add_token(users, "vic").token
    client = app.test_client()
    denied = client.post("/curation/decide.json", data=_proposal(app),
                         headers={"Authorization": f"Bearer {viewer}"})
    assert denied.status_code == 403
    assert auth.revoke_tokens(users, "cora") == 1
    gone = client.post("/curation/decide.json", data=_proposal(app),
                       headers={"Authorization": f"Bearer {curator}"})
    assert gone.status_code == 401


def test_a_cookie_session_still_needs_its_csrf_token(app: Any) -> None:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    client.post("/login", data={"name": "cora", "password": PASSWORD,
                                "csrf_token": token.group(1)})
    assert client.post("/curation/decide.json", data=_proposal(app)).status_code == 400


def test_cli_makes_and_revokes_tokens(tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    auth.add_user(users, "cora", PASSWORD, "curator")
    runner = CliRunner()
    made = runner.invoke(cli, ["user", "token", "cora", "--users-file", str(users),
                               "--format", "json"])
    assert made.exit_code == 0, made.output
    token = json.loads(made.output)["token"]
    assert auth.token_user(users, token) == auth.User("cora", "curator",
                                                      auth.list_users(users)[0].created_at)
    revoked = runner.invoke(cli, ["user", "token", "cora", "--revoke", "--users-file",
                                  str(users)])
    assert revoked.exit_code == 0 and "revoked 1 token" in revoked.output
    assert auth.token_user(users, token) is None
    missing = runner.invoke(cli, ["user", "token", "nobody", "--users-file", str(users)])
    assert missing.exit_code == 1 and "Traceback" not in missing.output


def test_every_form_carries_the_csrf_field(app: Any) -> None:
    client: FlaskClient = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    client.post("/login", data={"name": "cora", "password": PASSWORD,
                                "csrf_token": token.group(1)})
    pages = ["/", "/search?q=x", "/console", "/curation", "/curation?status=unresolved",
             "/login", "/solutions/SOL-TELE", "/graph?node=site:RBL"]
    forms = 0
    for url in pages:
        html = client.get(url).get_data(as_text=True)
        for form in re.findall(r"<form\b.*?</form>", html, re.S | re.I):
            if re.search(r'method="post"', form, re.I):
                forms += 1
                assert 'name="csrf_token"' in form, (url, form[:200])
    assert forms >= 4


def test_session_cookie_flags(app: Any) -> None:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    res = client.post("/login", data={"name": "cora", "password": PASSWORD,
                                      "csrf_token": token.group(1)})
    cookie = res.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert res.headers["Strict-Transport-Security"].startswith("max-age=")


def test_console_rate_limit(app: Any) -> None:
    app.config["CONSOLE_RATE"] = 3
    app.config["CONSOLE_ANONYMOUS"] = True  # counted per address when signed out
    client = app.test_client()
    answers = [client.get("/console.json?q=RETURN+1+AS+x").status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]
    res = client.get("/console.json?q=RETURN+1+AS+x")
    assert int(res.headers["Retry-After"]) >= 1
    assert client.get("/console?q=RETURN+1+AS+x").status_code == 429
    assert client.get("/solutions.json").status_code == 200  # only the console is limited


def test_login_rate_limit(app: Any) -> None:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    codes = [client.post("/login", data={"name": "cora", "password": "wrong password",
                                         "csrf_token": token.group(1)}).status_code
             for _ in range(6)]
    assert codes == [401] * 5 + [429]
    right = client.post("/login", data={"name": "cora", "password": PASSWORD,
                                        "csrf_token": token.group(1)})
    assert right.status_code == 429  # even the right password waits


def _signed_in(app: Any, name: str) -> FlaskClient:
    client: FlaskClient = app.test_client()
    with client.session_transaction() as session:
        session["csrf"] = "t0ken"
    res = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": "t0ken"})
    assert res.status_code == 302
    return client


def test_signing_out_ends_the_session_even_for_a_copied_cookie(app: Any) -> None:
    client = _signed_in(app, "vic")
    other_device = _signed_in(app, "vic")
    cookie = client.get_cookie("session")
    assert cookie is not None
    copy: FlaskClient = app.test_client()
    copy.set_cookie("session", cookie.value)
    assert copy.get("/watches.json").status_code == 200
    with client.session_transaction() as session:
        session["csrf"] = "t0ken"
    assert client.post("/logout", data={"csrf_token": "t0ken"}).status_code == 302
    assert copy.get("/watches.json").status_code == 401
    assert copy.get("/initiatives/INI-0055.json").status_code == 404  # restricted: unseen
    assert other_device.get("/watches.json").status_code == 200  # only that session ended


def test_tokens_expire_and_record_their_last_use(app: Any, monkeypatch: Any) -> None:
    users = Path(app.config["USERS_FILE"])
    made = auth.add_token(users, "cora")
    assert made.expires_at is not None
    lasts = datetime.fromisoformat(made.expires_at) - datetime.now(UTC)
    assert timedelta(days=89) < lasts <= timedelta(days=90)  # token_days' default
    client = app.test_client()
    headers = {"Authorization": f"Bearer {made.token}"}
    assert client.get("/watches.json", headers=headers).status_code == 200
    listed = auth.list_tokens(users, "cora")
    assert listed[0]["last_used"] == datetime.now(UTC).date().isoformat()
    assert "hash" not in listed[0] and listed[0]["expired"] is False
    data = json.loads(users.read_text())
    for stored in data["users"]["cora"]["tokens"].values():
        stored["expires_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    users.write_text(json.dumps(data))
    assert client.get("/watches.json", headers=headers).status_code == 401
    assert auth.list_tokens(users, "cora")[0]["expired"] is True
    monkeypatch.setenv("TRIEDBEFORE_TOKEN_DAYS", "0")
    assert auth.add_token(users, "cora").expires_at is None


def test_cli_shows_when_a_token_expires(tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    auth.add_user(users, "cora", PASSWORD, "curator")
    runner = CliRunner()
    made = runner.invoke(cli, ["user", "token", "cora", "--days", "7", "--users-file",
                               str(users), "--format", "json"])
    assert made.exit_code == 0, made.output
    answer = json.loads(made.output)
    assert answer["expires_at"].startswith(
        (datetime.now(UTC) + timedelta(days=7)).date().isoformat()[:8])
    text = runner.invoke(cli, ["user", "token", "cora", "--users-file", str(users)])
    assert text.exit_code == 0
    assert text.stdout.strip().startswith("tb_") and len(text.stdout.splitlines()) == 1
    assert "expires 20" in text.stderr
    bad = runner.invoke(cli, ["user", "token", "cora", "--days", "-1", "--users-file",
                              str(users)])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
