"""Server-rendered SVG charts: readable without JavaScript, printable, accessible.

Every chart is an ``<svg>`` with an ``aria-label`` and a ``<title>`` per mark; all text
is escaped. A chart whose marks are links is ``role="group"`` (its links stay reachable by
keyboard and screen reader: an image's content is not), one without is ``role="img"``.
"""

from __future__ import annotations

import textwrap
from typing import Any

from markupsafe import Markup, escape

from triedbefore.web.wording import change_text, concept_label

VERDICT_COLOURS = {
    "works": "#007f3b", "promising": "#78be20", "mixed": "#ffb81c",
    "inconclusive": "#768692", "weak_negative": "#ed8b00", "does_not_work": "#d5281b",
    "unevaluated": "#aeb7bd",
}

#: The gap map coloured by cost: whether any attempt of the row reported what it cost.
COST_COLOURS = {"cost_reported": "#005eb8", "no_cost_reported": "#aeb7bd"}


def _year(days: int) -> float:
    return 1970 + days / 365.2425


#: Characters of an initiative's name shown beside its dot on a timeline (the full name
#: is its tooltip, its accessible name and is shown on hover and keyboard focus).
LABEL_CHARS = 28


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    """``text`` in at most ``limit`` characters: cut at a word when one ends late enough,
    with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:–-(") + "…"


def _point(a: dict[str, Any], cx: float, cy: int, zombie: bool, width: int,
           stopped: str | None = None) -> str:
    """One attempt: a dot and its name, linked to the initiative (its id is the link
    target, its name the label). Labels right of the middle sit left of their dot. A
    stopped attempt with its reason is a hollow square, the reason in its title."""
    ident = escape(a["id"])
    name = str(a.get("title") or a["id"])
    started = f", started {a['start_date']}" if a.get("start_date") else ""
    why = f" — stopped: {stopped}" if stopped is not None else ""
    full = f"{name}{started}{' — zombie repeat' if zombie else ''}{why}"
    dot = 'r="7" class="zombie"' if zombie else 'r="5" class="attempt"'
    suffix = (" (zombie" if zombie else " (") + (", stopped)" if zombie else "stopped)") \
        if stopped is not None else (" (zombie)" if zombie else "")
    if stopped is not None:
        half = 7 if zombie else 5
        shape = (f'<rect x="{cx - half:.1f}" y="{cy - half}" width="{2 * half}" '
                 f'height="{2 * half}" class="stopped{" zombie" if zombie else ""}"/>')
    else:
        shape = f'<circle cx="{cx:.1f}" cy="{cy}" {dot}/>'
    left = cx > width * 0.55
    tx, anchor = (cx - 10, "end") if left else (cx + 10, "start")
    return (f'<a href="/initiatives/{ident}" class="point" aria-label="{escape(full)}">'
            f'<title>{escape(full)} ({ident})</title>{shape}'
            f'<text x="{tx:.1f}" y="{cy + 4}" text-anchor="{anchor}" class="label">'
            f'<tspan class="short">{escape(shorten(name))}{suffix}</tspan>'
            f'<tspan class="full">{escape(name)}{suffix}</tspan></text></a>')


def timeline(attempts: list[dict[str, Any]], evaluations: list[dict[str, Any]],
             zombie_ids: set[str], width: int = 900, *,
             stopped: dict[str, str] | None = None) -> Markup:
    """Attempts as dots on a time axis, labelled by name (zombie repeats highlighted;
    ``stopped``: initiative id → why it stopped, drawn as a square with the reason),
    evaluation publication dates as ticks coloured by finding."""
    points = [a for a in attempts if a.get("start_lo") is not None]
    evs = [e for e in evaluations if e.get("published_hi") is not None]
    if not points and not evs:
        return Markup("<p>No dated attempts or evaluations.</p>")
    years = [_year(a["start_lo"]) for a in points] + [_year(e["published_hi"]) for e in evs]
    lo, hi = int(min(years)), int(max(years)) + 1
    pad, row_h = 40, 18
    height = pad * 2 + row_h * (len(points) + 1) + 40

    def x(year: float) -> float:
        return pad + (year - lo) / max(hi - lo, 1) * (width - 2 * pad)

    # a group, not an image: its dots and ticks are links that keyboards and screen
    # readers reach
    parts = [f'<svg class="timeline" viewBox="0 0 {width} {height}" role="group" '
             f'aria-label="Timeline of {len(points)} attempts and {len(evs)} evaluations">']
    for year in range(lo, hi + 1):
        parts.append(f'<line x1="{x(year):.1f}" y1="{pad - 10}" x2="{x(year):.1f}" '
                     f'y2="{height - 20}" class="grid"/><text x="{x(year):.1f}" '
                     f'y="{height - 5}" text-anchor="middle" class="axis">{year}</text>')
    for e in evs:
        colour = {"positive": "#007f3b", "no_effect": "#d5281b", "negative": "#8a1538"}.get(
            str(e.get("finding")), "#768692")
        about = (f'{e.get("title") or e["id"]}: {str(e.get("finding")).replace("_", " ")}, '
                 f'published {e.get("published_date")}')
        parts.append(
            f'<a href="/evaluations/{escape(e["id"])}" aria-label="{escape(about)}">'
            f'<line x1="{x(_year(e["published_hi"])):.1f}"'
            f' y1="{pad - 20}" x2="{x(_year(e["published_hi"])):.1f}" y2="{height - 25}" '
            f'stroke="{colour}" stroke-width="2" stroke-dasharray="4 3"><title>'
            f'{escape(about)} ({escape(e["id"])})</title></line></a>')
    for row, a in enumerate(points):
        parts.append(_point(a, x(_year(a["start_lo"])), pad + row_h * (row + 1),
                            a["id"] in zombie_ids, width, (stopped or {}).get(a["id"])))
    parts.append("</svg>")
    return Markup("".join(parts))


def gap_map(rows: list[str], columns: list[str], cells: dict[tuple[str, str], int],
            colours: dict[str, str], links: dict[tuple[str, str], str],
            labels: dict[str, str], empty: dict[str, int] | None = None,
            row_links: dict[str, str] | None = None,
            key: tuple[str, dict[str, str]] | None = None) -> Markup:
    """A bubble grid: rows × columns, bubble area ∝ count, colour per row, and a legend.

    ``empty`` holds the rows without any evaluation (the biggest gaps), with their number
    of initiatives: each is drawn as a dashed band saying so. Row labels wrap, never cut
    (the whole label is also the row's ``<title>``); ``row_links`` makes them links.
    ``key``: what the colours mean (a title and name → colour), the verdicts by default."""
    meaning, key_colours = key or ("the verdict of the row", VERDICT_COLOURS)
    if not rows:
        return Markup("<p>No evaluations yet.</p>")
    empty, row_links = empty or {}, row_links or {}
    cell, left, top, line = 70, 260, 110, 15
    wrapped = {row: textwrap.wrap(labels.get(row, row), GAP_LABEL_CHARS) or [row]
               for row in rows}
    heights = [max(cell, line * len(wrapped[row]) + 20) for row in rows]
    grid_w = cell * len(columns)
    width = left + grid_w + 120
    legend_y = top + sum(heights) + 30
    biggest = max(cells.values() or [1])
    radius = lambda n: 6 + 24 * (n / biggest) ** 0.5  # noqa: E731 - one formula, twice
    legend, legend_h = _gap_legend(width, legend_y, biggest, radius, meaning, key_colours)
    height = legend_y + legend_h
    parts = [f'<svg class="gapmap" viewBox="0 0 {width} {height}" role="group" '
             f'aria-label="Evidence gap map: {len(rows)} rows by {len(columns)} quality '
             f'domains; bubble size is the number of evaluations, colour {escape(meaning)}; '
             f'{len(empty)} row{"s" if len(empty) != 1 else ""} without any evaluation">']
    for j, column in enumerate(columns):
        cx = left + cell * j + cell / 2
        parts.append(f'<text x="{cx:.0f}" y="{top - 12}" text-anchor="start" '
                     f'transform="rotate(-35 {cx:.0f} {top - 12})" class="axis">'
                     f'{escape(concept_label(column, "QualityDomain"))}</text>')
    y0 = top
    for i, row in enumerate(rows):
        cy = y0 + heights[i] / 2
        full = escape(labels.get(row, row))
        first = cy + 4 - line * (len(wrapped[row]) - 1) / 2
        spans = "".join(f'<tspan x="{left - 10}" y="{first + line * k:.0f}">{escape(text)}'
                        '</tspan>' for k, text in enumerate(wrapped[row]))
        label = f'<text text-anchor="end" class="label"><title>{full}</title>{spans}</text>'
        if row in row_links:
            label = f'<a href="{escape(row_links[row])}">{label}</a>'
        parts.append(label)
        if row in empty:
            n = empty[row]
            tried = (f"tried by {n} initiative{'s' if n != 1 else ''}" if n
                     else "not tried yet")
            parts.append(
                f'<rect x="{left + 4}" y="{cy - 16:.0f}" width="{grid_w - 8}" height="32" '
                f'rx="16" class="gap-empty"><title>{full}: no evaluation; {tried}</title>'
                f'</rect><text x="{left + grid_w / 2:.0f}" y="{cy + 5:.0f}" '
                f'text-anchor="middle" class="gap-note">No evaluation · {tried}</text>')
        for j, column in enumerate(columns):
            n = cells.get((row, column), 0)
            if not n:
                continue
            cx = left + cell * j + cell / 2
            parts.append(
                f'<a href="{escape(links[(row, column)])}"><circle cx="{cx:.0f}" cy="{cy:.0f}" '
                f'r="{radius(n):.1f}" fill="{colours.get(row, "#768692")}" fill-opacity="0.8">'
                f'<title>{full} × {escape(concept_label(column, "QualityDomain"))}: {n} '
                f'evaluation{"s" if n != 1 else ""}</title></circle>'
                f'<text x="{cx:.0f}" y="{cy + 4:.0f}" text-anchor="middle" class="count">{n}'
                '</text></a>')
        y0 += heights[i]
    parts.extend(legend)
    parts.append("</svg>")
    return Markup("".join(parts))


#: Characters per line of a gap map's row label (about the width of its margin).
GAP_LABEL_CHARS = 30


def _gap_legend(width: int, y: float, biggest: int, radius: Any,
                meaning: str = "the verdict of the row",
                colours: dict[str, str] | None = None) -> tuple[list[str], float]:
    """The gap map's key: what the colours, the sizes and the dashed band mean."""
    parts = [f'<g class="legend"><text x="10" y="{y:.0f}" class="legend-title">'
             f'Colour: {escape(meaning)}</text>']
    x, row_y = 10.0, y + 24
    for verdict, colour in (colours or VERDICT_COLOURS).items():
        name = verdict.replace("_", " ")
        step = 30 + 7.5 * len(name)
        if x + step > width:
            x, row_y = 10.0, row_y + 24
        parts.append(f'<circle cx="{x + 8:.0f}" cy="{row_y - 4:.0f}" r="8" fill="{colour}" '
                     f'fill-opacity="0.8"/><text x="{x + 22:.0f}" y="{row_y:.0f}" '
                     f'class="label">{escape(name)}</text>')
        x += step
    size_y = row_y + 40
    parts.append(f'<text x="10" y="{size_y:.0f}" class="legend-title">Size: evaluations</text>')
    x = 150.0
    for n in sorted({1, biggest}):
        r = radius(n)
        parts.append(f'<circle cx="{x + r:.0f}" cy="{size_y - 4:.0f}" r="{r:.1f}" '
                     f'fill="#aeb7bd" fill-opacity="0.8"/><text x="{x + 2 * r + 6:.0f}" '
                     f'y="{size_y:.0f}" class="label">{n}</text>')
        x += 2 * r + 40
    parts.append(f'<rect x="{x:.0f}" y="{size_y - 16:.0f}" width="60" height="24" rx="12" '
                 f'class="gap-empty"/><text x="{x + 68:.0f}" y="{size_y:.0f}" class="label">'
                 'no evaluation at all: the biggest gap</text></g>')
    return parts, size_y + 30 - y


def bars(items: list[dict[str, Any]], value_key: str, label_key: str, highlight: set[str],
         width: int = 800) -> Markup:
    """Horizontal bars of one relative change per item, signed by the outcome's direction:
    improvements to the right of zero, changes for the worse to the left."""
    if not items:
        return Markup("<p>Nothing to chart.</p>")
    bar_h, left = 22, 320
    values = [float(i[value_key]) for i in items]
    lo, hi = min(0.0, *values), max(0.0, *values)
    span = (hi - lo) or 1.0
    height = bar_h * len(items) + 30

    def x(v: float) -> float:
        return left + (v - lo) / span * (width - left - 20)

    height += 20
    parts = [f'<svg class="bars" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Relative change of {len(items)} outcomes: improvements to the '
             'right, changes for the worse to the left">',
             f'<line x1="{x(0):.1f}" y1="0" x2="{x(0):.1f}" y2="{height - 30}" class="grid"/>']
    # the ends of the axis are labelled where they do not crowd "no change"
    ticks = [(0.0, "middle")] + [(end, anchor) for end, anchor in ((lo, "start"), (hi, "end"))
                                 if abs(x(end) - x(0)) > 130]
    for tick, anchor in ticks:
        parts.append(f'<text x="{x(tick):.1f}" y="{height - 8}" text-anchor="{anchor}" '
                     f'class="axis">{_tick(tick)}</text>')
    for k, item in enumerate(items):
        v = float(item[value_key])
        y = k * bar_h + 4
        cls = "bar deviant" if str(item.get("id")) in highlight else "bar"
        parts.append(
            f'<text x="{left - 8}" y="{y + 14}" text-anchor="end" class="label">'
            f'{escape(_short(str(item[label_key]), 44))}</text>'
            f'<rect x="{min(x(0), x(v)):.1f}" y="{y}" '
            f'width="{max(abs(x(v) - x(0)), 1.5):.1f}" height="{bar_h - 6}" class="{cls}">'
            f'<title>{escape(item[label_key])}: '
            f'{escape(change_text(v, item.get("baseline"), item.get("value")))}</title></rect>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _tick(value: float) -> str:
    return ("no change" if value == 0 else
            f"{abs(value):.0%} {'better' if value > 0 else 'worse'}")


def _short(text: str, size: int) -> str:
    """A label cut to ``size`` characters, with an ellipsis (the full text is in the mark's
    title)."""
    return text if len(text) <= size else text[:size - 1].rstrip() + "…"
