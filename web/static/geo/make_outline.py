"""Derive an approximate outline of England from postcode-district centroids (stdlib only).

The shared data has no boundary polygons (see ``/work/shared/data/geography/SOURCES.md``,
"Missing"), so the outline is computed from what there is: the centroids of England's
postcode districts in ``postcode_outcodes.csv``. Steps:

1. keep England's outcodes (Scottish and Welsh postcode areas dropped, cross-border
   districts assigned by hand: see ``NOT_ENGLAND``, ``WELSH_DISTRICTS`` and
   ``ENGLISH_EXCEPTIONS``);
2. project to a plane where distances are roughly isotropic (x = lon·cos 54°, y = lat);
3. Delaunay-triangulate (Bowyer–Watson) and keep the largest group of points joined by
   edges shorter than ``ISLAND_GAP`` (this drops the Isles of Scilly, which no outline
   at this scale could show);
4. compute the "chi-shape" concave hull of that group (Duckham et al. 2008, "Efficient
   generation of simple polygons for characterizing the shape of a set of points in the
   plane", Pattern Recognition 41): starting from the triangulation, repeatedly remove
   the boundary triangle with the longest boundary edge while that edge is longer than
   ``MAX_EDGE`` and the polygon stays simple;
5. simplify the ring (Visvalingam–Whyatt) to at most ``MAX_POINTS`` points.

Because it joins district *centroids*, the outline runs inside the true coast and border
(by up to half a district, i.e. a few km in towns and 10–20 km in sparse rural areas),
estuaries narrower than ``MAX_EDGE`` are bridged and the simplification cuts corners:
it is a recognisable silhouette for a locator map, not a boundary.

Usage: ``python make_outline.py [postcode_outcodes.csv] [england_outline.json]``; with
``--wales``, the same steps over Wales's outcodes (``is_welsh``) write ``wales_outline.json``.
The output is a JSON list of ``[lon, lat]`` points (WGS84, 4 decimals), an open ring
(the last point is not repeated), anticlockwise.
"""

from __future__ import annotations

import csv
import heapq
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = Path("/work/shared/data/geography/postcode_outcodes.csv")
DEFAULT_OUTPUT = HERE / "england_outline.json"
WALES_OUTPUT = HERE / "wales_outline.json"

#: Postcode areas wholly or almost wholly outside England (Scotland, Wales; Northern
#: Ireland's BT was already removed from the source file).
NOT_ENGLAND = frozenset({
    # Scotland
    "AB", "DD", "DG", "EH", "FK", "G", "HS", "IV", "KA", "KW", "KY", "ML", "PA", "PH",
    "TD", "ZE",
    # Wales
    "CF", "LD", "LL", "NP", "SA",
})
#: Districts in Welsh areas of an otherwise English area, and the reverse.
WELSH_DISTRICTS = frozenset({"CH5", "CH6", "CH7", "CH8"} |
                            {f"SY{n}" for n in range(15, 26)})
ENGLISH_EXCEPTIONS = frozenset({"TD15"})  # Berwick-upon-Tweed

COS54 = math.cos(math.radians(54.0))
#: Longest boundary edge (projected degrees of latitude, ~111 km each: 0.18 is ~20 km)
#: the chi-shape keeps; smaller values carve deeper into sparse rural districts.
MAX_EDGE = 0.18
#: Points further than this (~33 km) from every other group are islands, left out.
ISLAND_GAP = 0.3
MAX_POINTS = 240

Point = tuple[float, float]


def is_english(outcode: str) -> bool:
    match = re.match(r"[A-Z]+", outcode)
    if match is None:
        return False
    if outcode in ENGLISH_EXCEPTIONS:
        return True
    return match.group() not in NOT_ENGLAND and outcode not in WELSH_DISTRICTS


WELSH_AREAS = frozenset({"CF", "LD", "LL", "NP", "SA"})


def is_welsh(outcode: str) -> bool:
    """Wales's postcode areas, and the Welsh districts of cross-border areas."""
    match = re.match(r"[A-Z]+", outcode)
    return match is not None and (match.group() in WELSH_AREAS or outcode in WELSH_DISTRICTS)


def read_points(source: Path, keep: Callable[[str], bool] = is_english) -> list[Point]:
    """The outcode centroids of one country (England by default) as projected (x, y),
    duplicates removed."""
    seen: set[Point] = set()
    with source.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if not keep(row["outcode"]):
                continue
            lat, lon = float(row["latitude"]), float(row["longitude"])
            seen.add((round(lon * COS54, 6), round(lat, 6)))
    return sorted(seen)


# --- Delaunay triangulation (Bowyer–Watson) ------------------------------------------

Triangle = tuple[int, int, int]


def _circumcircle(p: list[Point], t: Triangle) -> tuple[float, float, float]:
    (ax, ay), (bx, by), (cx, cy) = p[t[0]], p[t[1]], p[t[2]]
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    a2, b2, c2 = ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy
    ux = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d
    uy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d
    return ux, uy, (ax - ux) ** 2 + (ay - uy) ** 2


def delaunay(points: list[Point]) -> list[Triangle]:
    """Triangles (indices into ``points``) of the Delaunay triangulation."""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    span = max(max(xs) - min(xs), max(ys) - min(ys)) * 20
    mx, my = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    p = list(points) + [(mx - span, my - span), (mx + span, my - span), (mx, my + span)]
    n = len(points)
    tris: dict[Triangle, tuple[float, float, float]] = {}
    first = (n, n + 1, n + 2)
    tris[first] = _circumcircle(p, first)
    for i in range(n):
        x, y = p[i]
        bad = [t for t, (ux, uy, r2) in tris.items() if (x - ux) ** 2 + (y - uy) ** 2 < r2]
        edges: dict[tuple[int, int], int] = {}
        for t in bad:
            del tris[t]
            for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
                key = (min(a, b), max(a, b))
                edges[key] = edges.get(key, 0) + 1
        for (a, b), count in edges.items():
            if count == 1:
                t = (a, b, i)
                tris[t] = _circumcircle(p, t)
    return [t for t in tris if max(t) < n]


# --- keep the mainland ---------------------------------------------------------------

def _length(points: list[Point], a: int, b: int) -> float:
    return math.dist(points[a], points[b])


def largest_group(points: list[Point], tris: list[Triangle]) -> list[Point]:
    """The largest set of points joined by triangulation edges of length ≤ ISLAND_GAP."""
    parent = list(range(len(points)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for t in tris:
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            if _length(points, a, b) <= ISLAND_GAP:
                parent[find(a)] = find(b)
    groups: dict[int, list[Point]] = {}
    for i, pt in enumerate(points):
        groups.setdefault(find(i), []).append(pt)
    return max(groups.values(), key=len)


# --- chi-shape -----------------------------------------------------------------------

def chi_shape(points: list[Point], tris: list[Triangle]) -> list[int]:
    """Boundary ring (point indices) of the chi-shape with length threshold MAX_EDGE."""
    alive = set(tris)
    by_edge: dict[tuple[int, int], set[Triangle]] = {}
    for t in tris:
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            by_edge.setdefault((min(a, b), max(a, b)), set()).add(t)
    boundary = {e for e, ts in by_edge.items() if len(ts) == 1}
    on_boundary = {v for e in boundary for v in e}
    queue = [(-_length(points, *e), e) for e in boundary]
    heapq.heapify(queue)
    while queue:
        neg, edge = heapq.heappop(queue)
        if -neg <= MAX_EDGE:
            break
        if edge not in boundary:
            continue
        (tri,) = by_edge[edge]
        third = next(v for v in tri if v not in edge)
        if third in on_boundary:
            continue  # removing this triangle would pinch the polygon
        alive.discard(tri)
        boundary.discard(edge)
        for a, b in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0])):
            key = (min(a, b), max(a, b))
            by_edge[key].discard(tri)
            if key != edge:
                boundary.add(key)
                heapq.heappush(queue, (-_length(points, *key), key))
        on_boundary.add(third)
    # Walk the boundary into a ring.
    nxt: dict[int, list[int]] = {}
    for a, b in boundary:
        nxt.setdefault(a, []).append(b)
        nxt.setdefault(b, []).append(a)
    if any(len(v) != 2 for v in nxt.values()):
        raise RuntimeError("boundary is not a simple ring")
    start = min(nxt)
    ring, prev, cur = [start], None, start
    while True:
        a, b = nxt[cur]
        step = a if a != prev else b
        if step == start:
            break
        ring.append(step)
        prev, cur = cur, step
    if len(ring) != len(boundary):
        raise RuntimeError("boundary has more than one ring")
    return ring


# --- simplification ------------------------------------------------------------------

def _area(a: Point, b: Point, c: Point) -> float:
    return abs((b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])) / 2


def simplify(ring: list[Point], keep: int) -> list[Point]:
    """Visvalingam–Whyatt on a closed ring: drop the least significant point until ``keep``."""
    pts = list(ring)
    while len(pts) > keep:
        n = len(pts)
        areas = [_area(pts[i - 1], pts[i], pts[(i + 1) % n]) for i in range(n)]
        pts.pop(min(range(n), key=areas.__getitem__))
    return pts


def _crosses(p1: Point, p2: Point, p3: Point, p4: Point) -> bool:
    def orient(a: Point, b: Point, c: Point) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(p3, p4, p1), orient(p3, p4, p2)
    d3, d4 = orient(p1, p2, p3), orient(p1, p2, p4)
    return d1 * d2 < 0 and d3 * d4 < 0


def is_simple(ring: list[Point]) -> bool:
    n = len(ring)
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue
            if _crosses(ring[i], ring[(i + 1) % n], ring[j], ring[(j + 1) % n]):
                return False
    return True


def signed_area(ring: list[Point]) -> float:
    pairs = zip(ring, ring[1:] + ring[:1], strict=True)
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in pairs) / 2


def outline(source: Path, keep: Callable[[str], bool] = is_english) -> list[list[float]]:
    points = read_points(source, keep)
    points = largest_group(points, delaunay(points))
    ring = [points[i] for i in chi_shape(points, delaunay(points))]
    keep = MAX_POINTS
    simple = simplify(ring, keep)
    while not is_simple(simple):  # extremely unlikely; keep more detail until simple
        keep += 10
        simple = simplify(ring, keep)
    if signed_area(simple) < 0:
        simple.reverse()
    return [[round(x / COS54, 4), round(y, 4)] for x, y in simple]


def main(argv: list[str]) -> int:
    wales = "--wales" in argv
    argv = [a for a in argv if a != "--wales"]
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    output = Path(argv[2]) if len(argv) > 2 else (WALES_OUTPUT if wales else DEFAULT_OUTPUT)
    ring = outline(source, is_welsh if wales else is_english)
    text = "[\n" + ",\n".join(json.dumps(p) for p in ring) + "\n]\n"
    output.write_text(text, encoding="utf-8")
    print(f"{output}: {len(ring)} points", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
