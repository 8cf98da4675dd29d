"""Words for people: counts with their nouns ("1 day", "3 watches"), the ontology's labels
in place of enumeration values ("Sub-ICB location", not "sub_icb"), strength levels and
relative changes read the way the measure runs. Template filters of every page; the JSON
twins and CSV downloads keep the raw values."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint
from flask_babel import lazy_gettext

from triedbefore.graph import wording as graph_wording
from triedbefore.graph.wording import plural_noun
from triedbefore.ontology.rdf import concept_labels
from triedbefore.web.i18n import VERDICT_WORDS, language

#: Search facets as headings (an initiative, an evaluation and a lesson have their
#: solutions' verdict, type and technology: the headings say whose).
FACET_LABELS = {
    "verdict": lazy_gettext("Verdict on the solution"),
    "intervention_type": lazy_gettext("Type of solution"),
    "technology": lazy_gettext("Solution uses technology"),
    "region": lazy_gettext("NHS England region or Wales"),
    "icb": lazy_gettext("ICB or local health board"),
    "site_kind": lazy_gettext("Site kind"), "year": lazy_gettext("Year started"),
}
#: The ontology's concept scheme of each facet whose values are enumerations.
FACET_SCHEMES = {"intervention_type": "InterventionType", "site_kind": "SiteKind",
                 "verdict": "Verdict"}
_YES_NO = {"true": lazy_gettext("Yes"), "false": lazy_gettext("No")}


def plural(count: Any, one: str, many: str | None = None) -> str:
    """``count`` with its noun: "1 day", "2 days", "1 watch", "0 watches" (a count that is
    not a number is shown as given, with the plural)."""
    try:
        return graph_wording.plural(int(count), one, many)
    except (TypeError, ValueError):
        return f"{count} {many or plural_noun(one)}"


def label_words(label: str) -> str:
    """A graph label as words: "VerdictChange" is "verdict change"."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", label).lower()


def concept_label(value: Any, scheme: str, lang: str = "en") -> str:
    """The ontology's label of an enumeration value (in ``lang`` where the ontology has
    one); an unknown value as written."""
    if value is None:
        return ""
    return concept_labels(scheme, lang).get(str(value), str(value).replace("_", " "))


def in_sentence(label: str) -> str:
    """A label inside a sentence: "integrated care board", but "NHS trust", "GP practice"
    and "sub-ICB location" keep their capitals."""
    if label[:2].isupper():
        return label
    return label[:1].lower() + label[1:]


def kind_label(value: Any, count: int | None = None) -> str:
    """A site kind for people: "GP practice"; with ``count``, "14 GP practices"."""
    label = concept_label(value, "SiteKind")
    if count is None:
        return label
    return plural(count, in_sentence(label))


def facet_label(facet: str) -> str:
    return str(FACET_LABELS.get(facet, facet.replace("_", " ").capitalize()))


def facet_value(value: Any, facet: str) -> str:
    """A facet's value for people (``technology`` "true" is "Yes", ``site_kind``
    "sub_icb" is "Sub-ICB location")."""
    if facet == "technology":
        return str(_YES_NO.get(str(value), str(value)))
    if facet == "verdict":
        words = VERDICT_WORDS.get(str(value))
        if words is not None:
            text = str(words)
            return text[:1].upper() + text[1:]
    if facet in FACET_SCHEMES:  # a label standing alone: in the reader's language
        return concept_label(value, FACET_SCHEMES[facet], language())
    return str(value)


strength = graph_wording.level


def change_text(relative: Any, baseline: Any = None, value: Any = None) -> str:
    """A relative change as the measure runs: "42.1% lower (improvement)" when the value
    fell and the outcome improved, "5.0% higher (worse)"; without baseline and value (a
    median of changes), "8.1% improvement". ``relative`` is signed by the outcome's
    direction (positive: improved), as the analytics compute it."""
    if relative is None:
        return ""
    if float(relative) == 0:
        return "no change"
    judged = "improvement" if relative > 0 else "worse"
    if baseline is None or value is None or float(baseline) in (0, float(value)):
        return f"{abs(float(relative)):.1%} {judged}"
    # the size from the figures themselves (the change shown may be rounded)
    size = abs(float(value) - float(baseline)) / abs(float(baseline))
    moved = "lower" if float(value) < float(baseline) else "higher"
    return f"{size:.1%} {moved} ({judged})"


def measured(value: float | None) -> str:
    """A value as its source reported it, written for people: ``552,000`` (not
    ``552000.0``), ``0.968`` (up to six decimals: no figure rounded away)."""
    return graph_wording.number(value, 6)


def register(bp: Blueprint) -> None:
    """The filters, for every template of the app."""
    bp.add_app_template_filter(plural, "plural")
    bp.add_app_template_filter(plural_noun, "plural_noun")
    bp.add_app_template_filter(label_words, "label_words")
    bp.add_app_template_filter(concept_label, "concept_label")
    bp.add_app_template_filter(kind_label, "kind_label")
    bp.add_app_template_filter(facet_label, "facet_label")
    bp.add_app_template_filter(facet_value, "facet_value")
    bp.add_app_template_filter(strength, "strength")
    bp.add_app_template_filter(change_text, "change_text")
    bp.add_app_template_filter(measured, "number")
