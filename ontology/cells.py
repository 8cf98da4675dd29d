"""Spreadsheet-cell rules of the interchange format (docs/interchange.md): a CSV cell a
spreadsheet would run as a formula is written with a leading apostrophe, and read back
without it, so that every CSV triedbefore writes (bundles, reports, the explorer's
downloads) is safe to open and reads back to the same values.

Text shown to people (the explorer's pages, its CSV downloads and the problem reports) also
shows the bidirectional control characters (U+202E RIGHT-TO-LEFT OVERRIDE and its kin) as
visible markers, ``[U+202E]``, instead of letting them reorder what follows: a name holding
one would display as another (``show_controls``). Bundles (``protect_cell``) keep them, so
an export reads back to the same values."""

from __future__ import annotations

import json
from typing import Any

#: First characters that make a spreadsheet run a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


#: Characters that change the display order of the text around them: the embeddings and
#: overrides (U+202A-U+202E), the isolates (U+2066-U+2069) and the marks (U+200E, U+200F,
#: U+061C).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                          "\u200e\u200f\u061c")
_SHOWN = {ord(c): f"[U+{ord(c):04X}]" for c in BIDI_CONTROLS}


def show_controls(text: str) -> str:
    """``text`` with each bidirectional control character replaced by a visible marker
    (``[U+202E]``), so it displays in the order it is stored."""
    return text.translate(_SHOWN) if any(c in BIDI_CONTROLS for c in text) else text


def formula_like(text: str) -> bool:
    """Whether a spreadsheet would run the cell, leading apostrophes aside."""
    return text.lstrip("'").startswith(FORMULA_START)


def protect_cell(text: str) -> str:
    """The cell as CSV text a spreadsheet shows and never runs: a formula-looking value
    gets a leading apostrophe (the spreadsheet mark for text). ``unprotect_cell`` undoes it
    exactly, so the bundle the exporter writes reads back to the same values."""
    return "'" + text if formula_like(text) else text


def unprotect_cell(text: str) -> str:
    """Drop the apostrophe ``protect_cell`` added (one, and only before a formula-looking
    value)."""
    if text.startswith("'") and formula_like(text[1:]):
        return text[1:]
    return text


def neutralise(value: Any) -> str:
    """Any value as a CSV cell a spreadsheet will not run as a formula and that displays in
    the order it is stored (lists joined with ``|``; maps and nested lists as JSON text;
    bidirectional controls shown as markers)."""
    if value is None:
        return ""
    if isinstance(value, dict) or (isinstance(value, list | tuple)
                                   and any(isinstance(v, dict | list) for v in value)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, list | tuple):
        value = "|".join(str(v) for v in value)
    return protect_cell(show_controls(str(value)))
