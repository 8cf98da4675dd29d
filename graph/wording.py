"""Numbers and counts written for people: plurals, SMS levels, shares and scores.

The analytics keep exact values (the JSON answers carry them); what a person reads
(the explanations of verdicts, the command line's tables) goes through these, so that
nobody reads "1 evaluation(s)", "SMS level 0" or 0.420513.
"""

from __future__ import annotations

from triedbefore.ontology.rdf import concept_labels

#: Plurals that do not follow the spelling rules of :func:`plural_noun`.
_IRREGULAR = {"analysis": "analyses"}


def plural_noun(noun: str) -> str:
    """The English plural of a noun phrase (its last word): "watches", "local
    authorities", "verdict changes"."""
    if noun in _IRREGULAR:
        return _IRREGULAR[noun]
    if noun.endswith(("s", "sh", "ch", "x", "z")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return noun[:-1] + "ies"
    return noun + "s"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 day``, ``2 days``, ``1,200 sites`` (``many``: the plural when irregular)."""
    if count == 1:
        return f"1 {word}"
    return f"{count:,} {many or plural_noun(word)}"


def level(value: int | None) -> str:
    """A Maryland SMS level, or that there is none (never "level 0")."""
    return f"SMS level {value}" if value else "no strength level"


def percent(share: float | None, digits: int = 1) -> str:
    """0.420513 → ``42.1%``."""
    if share is None:
        return ""
    return f"{share * 100:.{digits}f}%"


def number(value: float | int | None, digits: int = 2) -> str:
    """A measured value, at most ``digits`` decimals, thousands separated: ``1,234.5``."""
    if value is None:
        return ""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def change(relative: float | None) -> str:
    """A relative change signed by the outcome's direction (positive: it improved), as
    people say it: ``42.1% better``, ``5.0% worse``, ``no change``."""
    if relative is None:
        return ""
    if relative == 0:
        return "no change"
    return f"{percent(abs(relative))} {'better' if relative > 0 else 'worse'}"


def days(count: int) -> str:
    return plural(count, "day")


def design(value: str | None) -> str:
    """``cluster_rct`` → ``cluster randomised controlled trial``: the ontology's label, as
    read inside a sentence."""
    if not value:
        return "design not recorded"
    label = concept_labels("Design").get(value, value.replace("_", " "))
    return label[0].lower() + label[1:]
