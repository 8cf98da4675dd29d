"""Explorer accounts: sign-in, roles and CSRF protection.

Users live in a JSON file (``app.config["USERS_FILE"]``, default ``DATA_DIR/users.json``)
kept with mode 0600 and replaced atomically on every change. Passwords are stored only as
werkzeug hashes (its default, scrypt). Roles are ordered: ``contributor`` < ``viewer`` <
``curator`` < ``admin``; :func:`login_required` lets in the named role and every higher
one. Anyone may register (``/register``, rate-limited per client address like sign-ins):
a registered account is a ``contributor`` with a profile (name, organisation, sector, and
an optional e-mail address that is never shown to anyone).

The session is Flask's signed cookie (``session``: HttpOnly, SameSite=Lax, Secure when
``PREFER_HTTPS`` is set). It holds the user's name, a fingerprint of their password hash
(so changing a password, or removing the user, ends their other sessions) and a session id
that the users file lists under the user (the :data:`MAX_SESSIONS` latest sign-ins):
signing out removes it there, so a copy of the cookie no longer works.

API tokens expire after ``TOKEN_DAYS`` days (setting ``token_days``, 90; 0: never), and
record the day they were last used.

CSRF: :func:`init_app` installs a ``before_request`` hook that refuses (400) every POST,
PUT, PATCH or DELETE whose ``csrf_token`` form field (or ``X-CSRF-Token`` header, for
scripts) does not match the session's token, except to a view marked ``read_only``: a
page that changes nothing and takes POST only because its text can be too long for an
address (the proposal check), so a forged request gains nothing and an expired session
does not lose the proposal. Templates put the field in each form with
``{{ csrf_field() }}``; ``csrf_token()`` gives the bare token (e.g. for a meta tag).

Sign-in rate limit: after ``LOGIN_MAX_FAILURES`` (5) failed sign-ins for one user name
from one client address within ``LOGIN_WINDOW_SECONDS`` (300), further attempts for that
pair are refused with 429 until the oldest failure is out of the window; a success clears
the count. The counts are kept in memory, per process: they reset on restart and each
worker process counts on its own. Behind a reverse proxy the client address is the
proxy's unless the app is wrapped in ``werkzeug.middleware.proxy_fix.ProxyFix``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup, escape
from werkzeug.security import check_password_hash, generate_password_hash

try:  # POSIX: serialise concurrent writers of the users file
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

ROLES = ("contributor", "viewer", "curator", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 8
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Sessions kept per user (the latest sign-ins); an older one is ended by a newer sign-in.
MAX_SESSIONS = 20

bp = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])


class UserError(ValueError):
    """A user name, role or password that cannot be stored."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: str = ""

    def has_role(self, role: str) -> bool:
        """True if this user may do what ``role`` may (roles are ordered)."""
        return _RANK.get(self.role, -1) >= _RANK[role]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "created_at": self.created_at}


# --------------------------------------------------------------------------- #
# The users file
# --------------------------------------------------------------------------- #


def _load(path: Path) -> dict[str, dict[str, Any]]:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    data = json.loads(raw) if raw.strip() else {}
    users = data.get("users", {}) if isinstance(data, dict) else {}
    return {str(k): v for k, v in users.items() if isinstance(v, dict)}


def _write(path: Path, users: dict[str, dict[str, Any]]) -> None:
    """Replace ``path`` atomically with a file of mode 0600 (written, flushed, renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".users.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"version": 1, "users": users}, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.chmod(path, 0o600)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside ``path`` (read-modify-write of the users file)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def validate(name: str, password: str | None, role: str) -> None:
    if not NAME_RE.fullmatch(name):
        raise UserError("a user name is 1-64 letters, digits or . _ @ - "
                        "(starting with a letter or digit)")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise UserError(f"a password has at least {MIN_PASSWORD} characters")


def add_user(path: str | os.PathLike[str], name: str, password: str, role: str, *,
             replace: bool = False) -> User:
    """Store a user with a hash of ``password``. An existing name is an error unless
    ``replace`` (then its password and role are replaced)."""
    validate(name, password, role)
    file = Path(path)
    with _locked(file):
        users = _load(file)
        if name in users and not replace:
            raise UserError(f"user {name!r} exists (replace it with --replace)")
        created = users.get(name, {}).get("created_at") or \
            datetime.now(UTC).isoformat(timespec="seconds")
        users[name] = {"role": role, "password_hash": generate_password_hash(password),
                       "created_at": created}
        _write(file, users)
    return User(name, role, created)


#: What a profile holds: the name and organisation a contributor may choose to show, their
#: sector, and an e-mail address kept for the explorer's operators only (never shown).
PROFILE_FIELDS = ("display_name", "organisation", "sector", "email")
PROFILE_LIMITS = {"display_name": 100, "organisation": 200, "sector": 40, "email": 254}


def register(path: str | os.PathLike[str], name: str, password: str,
             profile: dict[str, str]) -> User:
    """A new ``contributor`` account with its profile; an existing name is an error (a
    registration never replaces an account)."""
    validate(name, password, "contributor")
    kept = {k: str(profile.get(k) or "").strip()[:PROFILE_LIMITS[k]] for k in PROFILE_FIELDS}
    file = Path(path)
    with _locked(file):
        users = _load(file)
        if name in users or any(n.casefold() == name.casefold() for n in users):
            raise UserError("that user name is taken: choose another")
        created = datetime.now(UTC).isoformat(timespec="seconds")
        users[name] = {"role": "contributor", "password_hash": generate_password_hash(password),
                       "created_at": created, "profile": kept}
        _write(file, users)
    return User(name, "contributor", created)


def profile(path: str | os.PathLike[str], name: str) -> dict[str, str]:
    """A user's profile (empty for accounts made without one)."""
    entry = _entry(path, name) or {}
    stored = entry.get("profile") or {}
    return {k: str(stored.get(k) or "") for k in PROFILE_FIELDS}


def list_users(path: str | os.PathLike[str]) -> list[User]:
    return [User(name, str(entry.get("role", "")), str(entry.get("created_at", "")))
            for name, entry in sorted(_load(Path(path)).items())]


def _entry(path: str | os.PathLike[str], name: str) -> dict[str, Any] | None:
    return _load(Path(path)).get(name)


#: Checked against when the name is unknown, so that answers take as long either way.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


def verify(path: str | os.PathLike[str], name: str, password: str) -> User | None:
    """The user if ``password`` is theirs, else None."""
    entry = _entry(path, name)
    stored = str(entry.get("password_hash", "")) if entry else ""
    ok = check_password_hash(stored or _DUMMY_HASH, password)
    if not (ok and entry and stored) or entry.get("role") not in ROLES:
        return None
    return User(name, str(entry["role"]), str(entry.get("created_at", "")))


# --------------------------------------------------------------------------- #
# API tokens
# --------------------------------------------------------------------------- #

TOKEN_PREFIX = "tb_"
_TOKEN_RE = re.compile(r"tb_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})")


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_days() -> int:
    """Days an API token lasts (setting ``token_days``; 0: no expiry)."""
    from triedbefore.graph import settings

    raw = settings.TOKEN_DAYS.get()
    try:
        days = int(raw)
    except ValueError:
        raise UserError(f"{settings.TOKEN_DAYS.env}={raw!r} is not a whole number of days"
                        ) from None
    if days < 0:
        raise UserError(f"{settings.TOKEN_DAYS.env} must be 0 or more")
    return days


@dataclass(frozen=True)
class Token:
    """A new API token: the secret (shown once) and when it expires (None: never)."""

    token: str
    expires_at: str | None


def add_token(path: str | os.PathLike[str], name: str, label: str = "", *,
              days: int | None = None) -> Token:
    """A new API token for user ``name``, shown once: only its SHA-256 is stored. It
    expires after ``days`` (default the ``token_days`` setting; 0: never)."""
    days = token_days() if days is None else days
    if days < 0:
        raise UserError("a token lasts 0 (no expiry) or more days")
    file = Path(path)
    now = datetime.now(UTC)
    expires = (now + timedelta(days=days)).isoformat(timespec="seconds") if days else None
    with _locked(file):
        users = _load(file)
        if name not in users:
            raise UserError(f"no user {name!r}")
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        tokens = users[name].setdefault("tokens", {})
        tokens[token_id] = {"hash": _token_hash(secret), "label": label,
                            "created_at": now.isoformat(timespec="seconds"),
                            "expires_at": expires}
        _write(file, users)
    return Token(f"{TOKEN_PREFIX}{token_id}_{secret}", expires)


def _expired(stored: dict[str, Any], now: datetime) -> bool:
    expires = stored.get("expires_at")
    if not expires:
        return False
    try:
        return datetime.fromisoformat(str(expires)) <= now
    except ValueError:
        return True  # an expiry that cannot be read is not trusted


def revoke_tokens(path: str | os.PathLike[str], name: str) -> int:
    """Remove every API token of user ``name``; the number removed."""
    file = Path(path)
    with _locked(file):
        users = _load(file)
        if name not in users:
            raise UserError(f"no user {name!r}")
        count = len(users[name].pop("tokens", {}) or {})
        _write(file, users)
    return count


def token_user(path: str | os.PathLike[str], token: str) -> User | None:
    """The user an API token belongs to, or None (malformed, unknown, revoked or expired).
    The token's ``last_used`` day is recorded (one write a day at most)."""
    found = _TOKEN_RE.fullmatch(token.strip())
    if not found:
        return None
    token_id, secret = found.groups()
    now = datetime.now(UTC)
    for name, entry in _load(Path(path)).items():
        stored = (entry.get("tokens") or {}).get(token_id)
        if stored and entry.get("role") in ROLES and hmac.compare_digest(
                str(stored.get("hash", "")), _token_hash(secret)):
            if _expired(stored, now):
                return None
            if stored.get("last_used") != now.date().isoformat():
                _mark_used(Path(path), name, token_id, now.date().isoformat())
            return User(name, str(entry["role"]), str(entry.get("created_at", "")))
    return None


def _mark_used(file: Path, name: str, token_id: str, day: str) -> None:
    with _locked(file):
        users = _load(file)
        stored = (users.get(name, {}).get("tokens") or {}).get(token_id)
        if stored is not None:
            stored["last_used"] = day
            _write(file, users)


def list_tokens(path: str | os.PathLike[str], name: str) -> list[dict[str, Any]]:
    """The tokens of user ``name`` (never their hashes): id, label, created, expiry, last
    used day and whether it has expired."""
    entry = _entry(path, name)
    if entry is None:
        raise UserError(f"no user {name!r}")
    now = datetime.now(UTC)
    return [{"id": token_id, "label": str(t.get("label", "")),
             "created_at": t.get("created_at"), "expires_at": t.get("expires_at"),
             "last_used": t.get("last_used"), "expired": _expired(t, now)}
            for token_id, t in sorted((entry.get("tokens") or {}).items())]


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _check_token() -> None:
    """A request with ``Authorization: Bearer`` must carry a valid token (401 otherwise);
    it is then that token's user, whatever its cookies say."""
    token = _bearer()
    if token is None:
        return
    user = token_user(current_app.config["USERS_FILE"], token)
    if user is None:
        abort(401, "the API token is not valid (unknown, malformed or revoked)")
    g.auth_user = user
    g.auth_token = True


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _session_hash(sid: str) -> str:
    """What the users file keeps of a session id (a stolen file gives no live cookie)."""
    return hashlib.sha256(sid.encode()).hexdigest()


def start_session(path: str | os.PathLike[str], name: str) -> str:
    """A new session id for ``name``, listed in the users file (the latest
    :data:`MAX_SESSIONS` only)."""
    file = Path(path)
    sid = secrets.token_urlsafe(24)
    with _locked(file):
        users = _load(file)
        if name not in users:
            raise UserError(f"no user {name!r}")
        sessions = users[name].get("sessions") or {}
        sessions[_session_hash(sid)] = datetime.now(UTC).isoformat(timespec="seconds")
        latest = sorted(sessions.items(), key=lambda item: item[1])[-MAX_SESSIONS:]
        users[name]["sessions"] = dict(latest)
        _write(file, users)
    return sid


def end_session(path: str | os.PathLike[str], name: str, sid: str) -> None:
    """Remove one session of ``name``: a copy of its cookie stops working."""
    file = Path(path)
    with _locked(file):
        users = _load(file)
        sessions = (users.get(name) or {}).get("sessions") or {}
        if sessions.pop(_session_hash(sid), None) is not None:
            _write(file, users)


# --------------------------------------------------------------------------- #
# Sign-in rate limit
# --------------------------------------------------------------------------- #


class LoginLimiter:
    """Failed sign-ins per (name, client address), in memory; see the module docstring."""

    MAX_KEYS = 10_000

    def __init__(self, max_failures: int = 5, window: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, name: str, addr: str) -> float:
        """Seconds until ``name`` may try again from ``addr`` (0: now)."""
        key = (name.casefold(), addr)
        with self._lock:
            now = self.clock()
            times = self._recent(key, now)
            if not times:
                self._failures.pop(key, None)
            if len(times) < self.max_failures:
                return 0.0
            return max(0.0, times[0] + self.window - now)

    def failed(self, name: str, addr: str) -> None:
        key = (name.casefold(), addr)
        with self._lock:
            now = self.clock()
            times = self._recent(key, now)
            times.append(now)
            self._failures[key] = times
            if len(self._failures) > self.MAX_KEYS:  # forget the stalest pairs
                stalest = sorted(self._failures, key=lambda k: self._failures[k][-1])
                for old in stalest[:len(self._failures) - self.MAX_KEYS]:
                    del self._failures[old]

    def succeeded(self, name: str, addr: str) -> None:
        with self._lock:
            self._failures.pop((name.casefold(), addr), None)


def limiter() -> LoginLimiter:
    found: LoginLimiter = current_app.extensions["triedbefore.login_limiter"]
    return found


# --------------------------------------------------------------------------- #
# Session, roles and CSRF
# --------------------------------------------------------------------------- #


def current_user() -> User | None:
    """The signed-in user, read from the users file once per request (so a removed user
    or a changed role or password takes effect at once)."""
    if "auth_user" in g:
        cached: User | None = g.auth_user
        return cached
    user: User | None = None
    name = session.get("user")
    sid = session.get("sid")
    if isinstance(name, str) and isinstance(sid, str):
        entry = _entry(current_app.config["USERS_FILE"], name)
        if entry and entry.get("role") in ROLES and hmac.compare_digest(
                str(session.get("pw", "")), _fingerprint(str(entry.get("password_hash", "")))
        ) and _session_hash(sid) in (entry.get("sessions") or {}):
            user = User(name, str(entry["role"]), str(entry.get("created_at", "")))
    g.auth_user = user
    return user


def login_required(role: str = "viewer") -> Callable[[F], F]:
    """Let in users with ``role`` or a higher one. Anonymous: a redirect to /login for a
    page, 401 (JSON envelope) for ``.json``; signed in without the role: 403."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            from triedbefore.web.negotiation import wants_json

            user = current_user()
            if user is None:
                if wants_json():
                    abort(401, "sign in first")
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not user.has_role(role):
                abort(403, f"this needs the {role} role")
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, escape(csrf_token()))


def _check_csrf() -> None:
    if request.method not in UNSAFE_METHODS:
        return
    if request.routing_exception is not None:
        return  # no such route, or not this method: 404 or 405 (with Allow), not a CSRF 400
    if g.get("auth_token"):
        return  # a bearer token is never sent by a browser on its own: no CSRF risk
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "read_only", False):
        return  # a page that only reads (POST carries a text too long for an address)
    expected = session.get("csrf")
    given = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), expected.encode()):
        abort(400, "the form's security token is missing or out of date; "
                   "reload the page and try again")


def init_app(app: Flask) -> None:
    """Cookie settings, the CSRF check on every unsafe request, the login limiter and the
    template helpers ``csrf_field()``, ``csrf_token()`` and ``current_user()``."""
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if app.config.get("SESSION_COOKIE_SAMESITE") not in ("Lax", "Strict"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if app.config.get("PREFER_HTTPS"):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.extensions["triedbefore.login_limiter"] = LoginLimiter(
        int(app.config.get("LOGIN_MAX_FAILURES", 5)),
        float(app.config.get("LOGIN_WINDOW_SECONDS", 300)))
    # registrations per client address: counted like failed sign-ins
    app.extensions["triedbefore.register_limiter"] = LoginLimiter(
        int(app.config.get("REGISTER_MAX", 5)),
        float(app.config.get("REGISTER_WINDOW_SECONDS", 3600)))
    app.before_request(_check_token)
    app.before_request(_check_csrf)
    app.jinja_env.globals.update(csrf_field=csrf_field, csrf_token=csrf_token,
                                 current_user=current_user)


# --------------------------------------------------------------------------- #
# Routes
# --------------------------------------------------------------------------- #


def _safe_next(target: str | None) -> str:
    """A local path to go back to; anything else (another host, a scheme) is refused."""
    if not target or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return url_for("explore.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("explore.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_url = request.values.get("next", "")
    if request.method == "GET":
        return render_template("login.html", next=next_url, error=None, name="")
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    addr = request.remote_addr or "-"
    wait = limiter().retry_after(name, addr)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        error = (f"Too many failed sign-ins for this name. Try again in about {minutes} "
                 f"minute{'s' if minutes != 1 else ''}.")
        return render_template("login.html", next=next_url, error=error, name=name), 429, \
            {"Retry-After": str(int(wait) + 1)}
    user = verify(current_app.config["USERS_FILE"], name, password) if name else None
    if user is None:
        limiter().failed(name, addr)
        current_app.logger.info("failed sign-in for %r from %s", name, addr)
        return render_template("login.html", next=next_url, name=name,
                               error="The name or password is not right."), 401
    limiter().succeeded(name, addr)
    entry = _entry(current_app.config["USERS_FILE"], name) or {}
    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    session["user"] = user.name
    session["pw"] = _fingerprint(str(entry.get("password_hash", "")))
    session["sid"] = start_session(current_app.config["USERS_FILE"], user.name)
    g.pop("auth_user", None)
    flash(f"Signed in as {user.name} ({user.role}).")
    return redirect(_safe_next(next_url))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    name, sid = session.get("user"), session.get("sid")
    if isinstance(name, str) and isinstance(sid, str):
        end_session(current_app.config["USERS_FILE"], name, sid)
    session.clear()
    g.pop("auth_user", None)
    flash("You have signed out.")
    return redirect(url_for("auth.login"))
