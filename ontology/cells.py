"""Spreadsheet-cell rules of the interchange format (docs/interchange.md): a CSV cell a
spreadsheet would run as a formula is written with a leading apostrophe, and read back
without it, so that every CSV triedbefore writes (bundles, reports, the explorer's
downloads) is safe to open and reads back to the same values."""

from __future__ import annotations

import json
from typing import Any

#: First characters that make a spreadsheet run a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
    """Any value as a CSV cell a spreadsheet will not run as a formula (lists joined with
    ``|``; maps and nested lists as JSON text)."""
    if value is None:
        return ""
    if isinstance(value, dict) or (isinstance(value, list | tuple)
                                   and any(isinstance(v, dict | list) for v in value)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, list | tuple):
        value = "|".join(str(v) for v in value)
    return protect_cell(str(value))
