"""The explorer in English or Welsh (Cymraeg): Flask-Babel with gettext catalogues.

The language is the reader's choice (``/language/<code>``, remembered in a cookie), else
the browser's (``Accept-Language``), else English. The Welsh catalogue
(``translations/cy/LC_MESSAGES/messages.po``, compiled to ``messages.mo`` beside it)
covers the navigation, the home page, search, the solution page and the proposal check;
``tests/test_i18n.py`` fails on any user-facing text in those templates that is not in
it. Records (names, titles, descriptions) and the analytics' explanations stay in the
language they were written in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, redirect, request
from flask_babel import Babel, get_locale, lazy_gettext
from flask_babel import ngettext as ngettext_

#: The languages of the interface: code → its own name (as a switch shows it).
LANGUAGES = {"en": "English", "cy": "Cymraeg"}
DEFAULT = "en"
COOKIE = "lang"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

bp = Blueprint("i18n", __name__)

#: Verdict names as readers see them (the values stay English in the data and the API).
VERDICT_WORDS = {
    "works": lazy_gettext("works"), "promising": lazy_gettext("promising"),
    "mixed": lazy_gettext("mixed"), "inconclusive": lazy_gettext("inconclusive"),
    "weak_negative": lazy_gettext("weak negative"),
    "does_not_work": lazy_gettext("does not work"),
    "unevaluated": lazy_gettext("unevaluated"),
}
#: Search's messages (``graph/hybrid.py``, English in the JSON), as readers see them.
SEARCH_MESSAGES = {
    "Type a word or two to search for.": lazy_gettext("Type a word or two to search for."),
    "Nothing to search for: the query has no letters or digits.": lazy_gettext(
        "Nothing to search for: the query has no letters or digits."),
    "Only very common words were given: add a word that says what you are looking for.":
        lazy_gettext("Only very common words were given: add a word that says what you are "
                     "looking for."),
    "Nothing close to this was found: it may not have been tried yet, or it may be "
    "described in other words.": lazy_gettext(
        "Nothing close to this was found: it may not have been tried yet, or it may be "
        "described in other words."),
}
#: Findings of an evaluation, likewise.
FINDING_WORDS = {
    "positive": lazy_gettext("positive"), "mixed": lazy_gettext("mixed"),
    "no_effect": lazy_gettext("no effect"), "negative": lazy_gettext("negative"),
    "inconclusive": lazy_gettext("inconclusive"),
}


def kind_words(kind: str) -> str:
    """The kind of a search result (a solution, initiative, evaluation, site or lesson)."""
    return count_words(kind.capitalize(), 1) if kind in (
        "solution", "initiative", "evaluation", "site", "lesson") else kind


def count_words(label: str, count: int) -> str:
    """A count of the graph's nodes of one label, as the home page lists them."""
    forms = {
        "Site": ngettext_("site", "sites", count),
        "Solution": ngettext_("solution", "solutions", count),
        "Initiative": ngettext_("initiative", "initiatives", count),
        "Outcome": ngettext_("outcome", "outcomes", count),
        "Evaluation": ngettext_("evaluation", "evaluations", count),
        "Lesson": ngettext_("lesson", "lessons", count),
        "Contribution": ngettext_("contribution", "contributions", count),
        "DesignVersion": ngettext_("design version", "design versions", count),
        "Component": ngettext_("component", "components", count),
        "Adaptation": ngettext_("adaptation", "adaptations", count),
        "Candidate": ngettext_("candidate", "candidates", count),
        "VerdictChange": ngettext_("verdict change", "verdict changes", count),
        "Watch": ngettext_("watch", "watches", count),
        "GraphVersion": ngettext_("graph version", "graph versions", count),
    }
    return str(forms.get(label, label))


def select_locale() -> str:
    """The reader's choice (cookie), else the browser's preference, else English."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), DEFAULT) or DEFAULT


def language() -> str:
    """The language of the page being built (``<html lang>``)."""
    return str(get_locale() or DEFAULT)


def _local(target: str | None) -> str:
    """Where to go back to: a path of this site only (never another host)."""
    parts = urlsplit(target or "/")
    if parts.scheme or parts.netloc or not (target or "/").startswith("/") or \
            (target or "").startswith("//"):
        return "/"
    return target or "/"


@bp.route("/language/<code>")
def choose(code: str) -> Any:
    """Remember the reader's language and go back to the page they were on."""
    if code not in LANGUAGES:
        abort(404, f"no language {code!r}; the explorer speaks {', '.join(LANGUAGES)}")
    response = redirect(_local(request.args.get("next")))
    response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax",
                        httponly=True)
    return response


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(languages=LANGUAGES, language=language)

    @app.after_request
    def vary(response: Any) -> Any:
        """A page's language follows the browser's and the cookie's: caches must know."""
        if response.mimetype == "text/html":
            response.vary.add("Accept-Language")
            response.vary.add("Cookie")
        return response

    app.jinja_env.filters["verdict_words"] = lambda v: VERDICT_WORDS.get(
        str(v), str(v or "").replace("_", " "))
    app.jinja_env.filters["finding_words"] = lambda v: FINDING_WORDS.get(
        str(v), str(v or "").replace("_", " "))
    app.jinja_env.filters["kind_words"] = lambda v: kind_words(str(v))
    app.jinja_env.filters["search_message"] = lambda v: SEARCH_MESSAGES.get(str(v), v)
    app.jinja_env.filters["count_words"] = count_words
