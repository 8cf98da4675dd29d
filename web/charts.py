"""Server-rendered SVG charts: readable without JavaScript, printable, accessible.

Every chart is an ``<svg>`` with an ``aria-label`` and a ``<title>`` per mark; all text
is escaped. A chart whose marks are links is ``role="group"`` (its links stay reachable by
keyboard and screen reader: an image's content is not), one without is ``role="img"``.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from triedbefore.web.wording import change_text, concept_label

VERDICT_COLOURS = {
    "works": "#007f3b", "promising": "#78be20", "mixed": "#ffb81c",
    "inconclusive": "#768692", "weak_negative": "#ed8b00", "does_not_work": "#d5281b",
    "unevaluated": "#aeb7bd",
}


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


def _point(a: dict[str, Any], cx: float, cy: int, zombie: bool, width: int) -> str:
    """One attempt: a dot and its name, linked to the initiative (its id is the link
    target, its name the label). Labels right of the middle sit left of their dot."""
    ident = escape(a["id"])
    name = str(a.get("title") or a["id"])
    started = f", started {a['start_date']}" if a.get("start_date") else ""
    full = f"{name}{started}{' — zombie repeat' if zombie else ''}"
    dot = 'r="7" class="zombie"' if zombie else 'r="5" class="attempt"'
    suffix = " (zombie)" if zombie else ""
    left = cx > width * 0.55
    tx, anchor = (cx - 10, "end") if left else (cx + 10, "start")
    return (f'<a href="/initiatives/{ident}" class="point" aria-label="{escape(full)}">'
            f'<title>{escape(full)} ({ident})</title>'
            f'<circle cx="{cx:.1f}" cy="{cy}" {dot}/>'
            f'<text x="{tx:.1f}" y="{cy + 4}" text-anchor="{anchor}" class="label">'
            f'<tspan class="short">{escape(shorten(name))}{suffix}</tspan>'
            f'<tspan class="full">{escape(name)}{suffix}</tspan></text></a>')


def timeline(attempts: list[dict[str, Any]], evaluations: list[dict[str, Any]],
             zombie_ids: set[str], width: int = 900) -> Markup:
    """Attempts as dots on a time axis, labelled by name (zombie repeats highlighted),
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
                            a["id"] in zombie_ids, width))
    parts.append("</svg>")
    return Markup("".join(parts))


def gap_map(rows: list[str], columns: list[str], cells: dict[tuple[str, str], int],
            colours: dict[str, str], links: dict[tuple[str, str], str],
            labels: dict[str, str]) -> Markup:
    """A bubble grid: rows × columns, bubble area ∝ count, colour per row."""
    if not rows:
        return Markup("<p>No evaluations yet.</p>")
    cell, left, top = 70, 260, 110
    width, height = left + cell * len(columns) + 120, top + cell * len(rows) + 20
    biggest = max(cells.values() or [1])
    parts = [f'<svg class="gapmap" viewBox="0 0 {width} {height}" role="group" '
             f'aria-label="Evidence gap map: {len(rows)} rows by {len(columns)} quality '
             'domains; bubble size is the number of evaluations">']
    for j, column in enumerate(columns):
        cx = left + cell * j + cell / 2
        parts.append(f'<text x="{cx:.0f}" y="{top - 12}" text-anchor="start" '
                     f'transform="rotate(-35 {cx:.0f} {top - 12})" class="axis">'
                     f'{escape(concept_label(column, "QualityDomain"))}</text>')
    for i, row in enumerate(rows):
        cy = top + cell * i + cell / 2
        parts.append(f'<text x="{left - 10}" y="{cy + 4:.0f}" text-anchor="end" '
                     f'class="label">{escape(labels.get(row, row))[:40]}</text>')
        for j, column in enumerate(columns):
            n = cells.get((row, column), 0)
            if not n:
                continue
            cx = left + cell * j + cell / 2
            r = 6 + 24 * (n / biggest) ** 0.5
            parts.append(
                f'<a href="{escape(links[(row, column)])}"><circle cx="{cx:.0f}" cy="{cy:.0f}" '
                f'r="{r:.1f}" fill="{colours.get(row, "#768692")}" fill-opacity="0.8">'
                f'<title>{escape(labels.get(row, row))} × '
                f'{escape(concept_label(column, "QualityDomain"))}: {n} '
                f'evaluation{"s" if n != 1 else ""}</title></circle>'
                f'<text x="{cx:.0f}" y="{cy + 4:.0f}" text-anchor="middle" class="count">{n}'
                '</text></a>')
    parts.append("</svg>")
    return Markup("".join(parts))


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
