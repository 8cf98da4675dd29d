"""What a request wants back: JSON (a ``.json`` twin, the API, or ``Accept``) or HTML."""

from __future__ import annotations

from flask import request


def wants_json() -> bool:
    return request.path.endswith(".json") or request.path.startswith("/api/") or \
        request.accept_mimetypes.best == "application/json"
