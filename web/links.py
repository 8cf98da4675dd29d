"""Absolute links (Atom feeds, printed pages) under the configured public base URL.

The request's ``Host`` header is never used: anyone can send any host, and a link built
from it would send feed readers (or a shared cache's readers) elsewhere. With
``PUBLIC_URL`` (setting ``public_url``) set, links are that URL followed by the path; without
it they are root-relative (``/solutions/SOL-1``), which feed readers resolve against the
feed's own address.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, url_for


def check_public_url(value: str) -> str:
    """``value`` without a trailing ``/`` if it is an http(s) URL with a host and no query,
    fragment or credentials; ValueError otherwise."""
    text = value.strip().rstrip("/")
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment or parts.username or parts.password:
        raise ValueError(f"public_url must be an http(s) address such as "
                         f"https://triedbefore.example.org, not {value!r}")
    return text


def site_root() -> str:
    """The configured public base URL (no trailing ``/``), or "" for root-relative links."""
    return str(current_app.config.get("PUBLIC_URL") or "")


def absolute_url(endpoint: str, **values: Any) -> str:
    """``url_for(endpoint)`` under :func:`site_root`."""
    return site_root() + url_for(endpoint, **values)
