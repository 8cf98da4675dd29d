"""The one HTTP client of the connectors.

One ``requests.Session`` per client, with explicit (connect, read) timeouts, a
descriptive User-Agent, retries with exponential backoff on 429 and 5xx answers and
on timeouts (a ``Retry-After`` header, in seconds or as an HTTP date, is honoured),
and an on-disk cache of JSON answers under ``DATA_DIR/cache/http`` that expires after
``http_cache_ttl`` seconds. Every failure (offline, DNS, refused connection, timeout,
an error status, a body that is not JSON) becomes one :class:`SourceError` whose
message is one line.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from triedbefore.graph import settings
from triedbefore.ingest.sources import SourceError

PROJECT_URL = "https://w3id.org/triedbefore"
#: Seconds to wait for a connection, and for each read of the answer.
TIMEOUT: tuple[float, float] = (5.0, 30.0)
#: Statuses worth asking again for.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 5
BACKOFF = 1.0  # seconds before the first retry; doubled each time
MAX_BACKOFF = 30.0
#: A server that asks for a longer pause than this gets an error instead of a wait.
MAX_RETRY_AFTER = 120.0


def user_agent() -> str:
    try:
        release = version("triedbefore")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        release = "0"
    return f"triedbefore/{release} (+{PROJECT_URL})"


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class Answer:
    """One JSON answer: its data, the URL asked, when it was retrieved, from the cache?"""

    data: Any
    url: str
    retrieved_at: str
    from_cache: bool


class HttpClient:
    """GET JSON from public APIs politely; see the module docstring."""

    def __init__(self, *, cache_dir: Path | None = None, cache_ttl: float | None = None,
                 timeout: tuple[float, float] = TIMEOUT, attempts: int = ATTEMPTS,
                 backoff: float = BACKOFF, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time,
                 session: requests.Session | None = None) -> None:
        self.cache_dir = cache_dir if cache_dir is not None else (
            settings.data_dir() / "cache" / "http")
        self.cache_ttl = float(settings.HTTP_CACHE_TTL.get()) if cache_ttl is None else cache_ttl
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.sleep = sleep
        self.clock = clock
        self.session = session or requests.Session()
        self.session.headers.update({"User-Agent": user_agent(),
                                     "Accept": "application/json"})
        self.requests_sent = 0

    def close(self) -> None:
        self.session.close()

    # -- cache ------------------------------------------------------------------

    def _cache_path(self, url: str) -> Path:
        return self.cache_dir / (hashlib.sha256(url.encode("utf-8")).hexdigest() + ".json")

    def _cached(self, url: str) -> Answer | None:
        if self.cache_ttl <= 0:
            return None
        path = self._cache_path(url)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            fetched = float(entry["fetched"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if self.clock() - fetched > self.cache_ttl or entry.get("url") != url:
            return None
        return Answer(entry["data"], url, str(entry["retrieved_at"]), True)

    def _store(self, answer: Answer, fetched: float) -> None:
        if self.cache_ttl <= 0:
            return
        path = self._cache_path(answer.url)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"url": answer.url, "fetched": fetched,
                                       "retrieved_at": answer.retrieved_at,
                                       "data": answer.data}), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs a request next time

    # -- requests ---------------------------------------------------------------

    def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> Answer:
        """The JSON body of ``GET url?params`` (from the cache while it is fresh)."""
        full = url + ("?" + urlencode(sorted((k, str(v)) for k, v in params.items()
                                              if v is not None)) if params else "")
        cached = self._cached(full)
        if cached is not None:
            return cached
        host = urlsplit(full).netloc or full
        attempt = 0
        while True:
            attempt += 1
            wait: float | None = None
            try:
                self.requests_sent += 1
                response = self.session.get(full, timeout=self.timeout)
            except requests.Timeout:
                if attempt >= self.attempts:
                    raise SourceError(
                        f"{host} did not answer within {self.timeout[1]:g} s "
                        f"({attempt} attempt{'s' if attempt > 1 else ''})") from None
            except requests.ConnectionError as exc:
                raise SourceError(
                    f"cannot reach {host}: offline, DNS failure or connection refused "
                    f"({_one_line(type(exc).__name__)})") from None
            except requests.RequestException as exc:
                raise SourceError(f"request to {host} failed: {_one_line(str(exc))}") from None
            else:
                if response.status_code in RETRY_STATUSES:
                    wait = retry_after_seconds(response.headers.get("Retry-After"),
                                               self.clock())
                    if wait is not None and wait > MAX_RETRY_AFTER:
                        raise SourceError(
                            f"{host} answered HTTP {response.status_code} and asks to wait "
                            f"{wait:.0f} s; try again later")
                    if attempt >= self.attempts:
                        raise SourceError(
                            f"{host} answered HTTP {response.status_code} "
                            f"({attempt} attempts); try again later")
                elif response.status_code >= 400:
                    raise SourceError(
                        f"{host} answered HTTP {response.status_code}: "
                        f"{_one_line(response.text, 120) or response.reason}")
                else:
                    return self._answer(full, host, response)
            if wait is None:
                wait = min(MAX_BACKOFF, self.backoff * 2 ** (attempt - 1))
            self.sleep(wait)

    def _answer(self, url: str, host: str, response: requests.Response) -> Answer:
        try:
            data = response.json()
        except ValueError as exc:
            raise SourceError(
                f"{host} sent an answer that is not valid JSON ({_one_line(str(exc), 80)})"
            ) from None
        fetched = self.clock()
        answer = Answer(data, url, datetime.fromtimestamp(fetched, UTC).isoformat(
            timespec="seconds"), False)
        self._store(answer, fetched)
        return answer
