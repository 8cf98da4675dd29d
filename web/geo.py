"""Offline maps: sites drawn over outlines of England and Wales as server-rendered SVG.

The outlines (``static/geo/england_outline.json``, ``wales_outline.json``) are derived
from postcode-district centroids (see ``static/geo/SOURCES.md``): silhouettes, not
boundaries. The SVG is the map every page has without JavaScript;
``static/js/enhance.js`` replaces it with a Leaflet map when it can.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from triedbefore.web.wording import concept_label, in_sentence

OUTLINE_FILE = Path(__file__).resolve().parent / "static" / "geo" / "england_outline.json"
WALES_OUTLINE_FILE = OUTLINE_FILE.with_name("wales_outline.json")

#: Required with any display of the outline (static/geo/SOURCES.md).
OUTLINE_ATTRIBUTION = (
    "Outlines of England and Wales derived from postcode district centroids. Contains "
    "Ordnance Survey "
    "data © Crown copyright and database right; contains Royal Mail data © Royal Mail "
    "copyright and database right; contains National Statistics data © Crown copyright "
    "and database right."
)

#: Horizontal scale of the equirectangular projection (true at 54° N, mid-England).
COS_LAT = math.cos(math.radians(54.0))
_MARGIN = 8.0
_NOTE_HEIGHT = 22.0  # two lines of attribution at the foot
_MAX_NAMES = 10


@functools.cache
def england_outline() -> tuple[tuple[float, float], ...]:
    """The outline as (lon, lat) points: an open ring (read once)."""
    points = json.loads(OUTLINE_FILE.read_text(encoding="utf-8"))
    return tuple((float(lon), float(lat)) for lon, lat in points)


@functools.cache
def wales_outline() -> tuple[tuple[float, float], ...]:
    """Wales's outline, made the same way (``static/geo/SOURCES.md``), drawn beside
    England's so that Welsh sites are on the map."""
    points = json.loads(WALES_OUTLINE_FILE.read_text(encoding="utf-8"))
    return tuple((float(lon), float(lat)) for lon, lat in points)


#: Degrees around the outline's bounding box that a site may lie in without widening the
#: view (coastal sites just outside the silhouette): maps of English sites share one view.
_HOME_PAD = 0.3


@functools.cache
def _home_box() -> tuple[float, float, float, float]:
    """West, east, south and north edges of the default view: the outline's box, padded."""
    outline = england_outline()
    lons = [lon for lon, _ in outline]
    lats = [lat for _, lat in outline]
    return (min(lons) - _HOME_PAD, max(lons) + _HOME_PAD, min(lats) - _HOME_PAD,
            max(lats) + _HOME_PAD)


def _coordinates(site: Mapping[str, Any]) -> tuple[float, float] | None:
    try:
        lat, lon = float(site["lat"]), float(site["lon"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None
    return lon, lat


def _site_url(site: Mapping[str, Any], root: str | None = None) -> str | None:
    """The site's ``url`` if it is a local path or http(s); else its explorer page (under
    ``root``, by default the application's root in a request)."""
    url = site.get("url")
    if isinstance(url, str) and url:
        if (url.startswith("/") and not url.startswith("//")) or \
                url.lower().startswith(("https://", "http://")):
            return url
        return None
    site_id = site.get("id")
    if site_id is None or site_id == "":
        return None
    path = "/sites/" + quote(str(site_id), safe="")
    if root is not None:
        return root + path
    try:
        from flask import has_request_context, request

        if has_request_context():
            return request.script_root + path
    except ImportError:  # pragma: no cover - flask is a dependency
        pass
    return path


def _script_root() -> str:
    """Where the explorer is mounted, in a request; the server's root otherwise."""
    try:
        from flask import has_request_context, request

        if has_request_context():
            return str(request.script_root)
    except ImportError:  # pragma: no cover - flask is a dependency
        pass
    return ""


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _label(placed: list[Mapping[str, Any]], missing: int) -> str:
    names = [str(s.get("name") or s.get("id") or "unnamed site") for s in placed]
    if not names:
        text = "Outline map of England and Wales; no site has coordinates"
    else:
        shown = "; ".join(names[:_MAX_NAMES])
        more = f" and {len(names) - _MAX_NAMES} more" if len(names) > _MAX_NAMES else ""
        text = (f"Outline map of England and Wales with {len(names)} "
                f"site{'s' if len(names) != 1 else ''}: {shown}{more}")
    if missing:
        text += (f" ({missing} site{'s' if missing != 1 else ''} without coordinates "
                 "not shown)")
    return text


@functools.lru_cache(maxsize=64)
def _outline_path(off_x: float, off_y: float, min_x: float, max_lat: float,
                  scale: float, wales: bool = False) -> str:
    """The outline's SVG path in one projection (most maps share the view of England);
    ``wales``: Wales's outline."""
    return "M" + " L".join(
        f"{_fmt(off_x + (lon * COS_LAT - min_x) * scale)},{_fmt(off_y + (max_lat - lat) * scale)}"
        for lon, lat in (wales_outline() if wales else england_outline())) + " Z"


@functools.lru_cache(maxsize=1 << 16)
def _site_mark(lon: float, lat: float, name: Any, site_id: Any, kind: Any, url: Any,
               root: str, view: tuple[float, float, float, float, float]) -> str:
    """One site's circle (in a link to its page) in one projection: most maps share the
    view of England, so a site is drawn once per process, not once per page."""
    off_x, off_y, min_x, max_lat, scale = view
    x, y = off_x + (lon * COS_LAT - min_x) * scale, off_y + (max_lat - lat) * scale
    label = str(name or site_id or "unnamed site")
    what = in_sentence(concept_label(kind, "SiteKind")) if kind else ""
    tip = f"{label} ({what})" if what else label
    circle = (f'<circle class="site" cx="{_fmt(x)}" cy="{_fmt(y)}" r="5" fill="#005eb8" '
              f'stroke="#ffffff" stroke-width="1.5"><title>{escape(tip)}</title></circle>')
    href = _site_url({"url": url, "id": site_id}, root)
    return f'<a href="{escape(href)}">{circle}</a>' if href else circle


def svg_map(sites: Iterable[Mapping[str, Any]], width: int, height: int) -> Markup:
    """An SVG map of ``sites`` (dicts with ``lat``, ``lon``, ``name``, ``id``, ``kind`` and
    optionally ``url``) over the outline of England, ``width`` × ``height`` pixels.

    Projection: equirectangular, longitudes scaled by cos 54°. The view covers England
    (with a margin) and every site (a site beyond the margin, in Scotland say, widens
    it). Each site with coordinates is a ``<circle>`` with a ``<title>`` tooltip, inside
    a link to its page; sites without coordinates are only counted in the
    ``aria-label``."""
    sites = list(sites)
    placed: list[tuple[Mapping[str, Any], float, float]] = []
    for site in sites:
        coords = _coordinates(site)
        if coords is not None:
            placed.append((site, *coords))
    west, east, south, north = _home_box()
    for _, lon, lat in placed:
        west, east = min(west, lon), max(east, lon)
        south, north = min(south, lat), max(north, lat)
    min_x, max_x = west * COS_LAT, east * COS_LAT
    min_lat, max_lat = south, north
    inner_w = max(width - 2 * _MARGIN, 1.0)
    inner_h = max(height - 2 * _MARGIN - _NOTE_HEIGHT, 1.0)
    scale = min(inner_w / max(max_x - min_x, 1e-6), inner_h / max(max_lat - min_lat, 1e-6))
    off_x = _MARGIN + (inner_w - (max_x - min_x) * scale) / 2
    off_y = _MARGIN + (inner_h - (max_lat - min_lat) * scale) / 2

    path = _outline_path(off_x, off_y, min_x, max_lat, scale)
    wales = _outline_path(off_x, off_y, min_x, max_lat, scale, True)
    label = _label([s for s, _, _ in placed], len(sites) - len(placed))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="site-map" width="{int(width)}" '
        f'height="{int(height)}" viewBox="0 0 {int(width)} {int(height)}" role="group" '
        f'aria-label="{escape(label)}">',
        f"<desc>{escape(OUTLINE_ATTRIBUTION)}</desc>",
        f'<path class="outline" d="{path}" fill="#e8edee" stroke="#aeb7bd" '
        'stroke-width="1" stroke-linejoin="round"/>',
        f'<path class="outline-wales" d="{wales}" fill="#e8edee" stroke="#aeb7bd" '
        'stroke-width="1" stroke-linejoin="round"/>',
        '<g class="sites">',
    ]
    root = _script_root()
    view = (off_x, off_y, min_x, max_lat, scale)
    for site, lon, lat in placed:
        args = (lon, lat, site.get("name"), site.get("id"), site.get("kind"), site.get("url"),
                root, view)
        try:
            parts.append(_site_mark(*args))
        except TypeError:  # a value that cannot be a cache key: drawn uncached
            parts.append(_site_mark.__wrapped__(*args))
    parts.append("</g>")
    foot = height - _MARGIN
    parts.append(
        f'<text class="attribution" x="{_fmt(_MARGIN)}" y="{_fmt(foot - 10)}" font-size="8" '
        'fill="#4c6272">Outline: contains OS, Royal Mail and ONS data</text>'
        f'<text class="attribution" x="{_fmt(_MARGIN)}" y="{_fmt(foot)}" font-size="8" '
        'fill="#4c6272">© Crown copyright, © Royal Mail copyright and database right</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
