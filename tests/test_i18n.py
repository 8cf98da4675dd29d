"""The interface in Welsh: the language from the browser or the reader's switch, the
Welsh catalogue complete for the navigation, the home page, search, the solution page and
the proposal check, and no user-facing text in those templates outside the catalogue."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from triedbefore.graph.falkor import FalkorStore
from triedbefore.web.app import create_app

WEB = Path(__file__).resolve().parents[1] / "web"
TEMPLATES = WEB / "templates"
CATALOGUE = WEB / "translations" / "cy" / "LC_MESSAGES"
#: The templates the Welsh catalogue covers (the pages the issue names, and the macros and
#: the frame they are built from).
COVERED = ("base.html", "home.html", "search.html", "solution.html", "check.html",
           "_macros.html", "error.html")
#: Text that is the same in every language: the product's name, formats, separators.
UNTRANSLATED = {"triedbefore", "JSON", "CSV", "doi"}

_LITERAL = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
_CALL = re.compile(rf"\b(?:_|gettext|ngettext)\(\s*(?:{_LITERAL})(?:\s*,\s*(?:{_LITERAL}))?")
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_TRANS = re.compile(r"\{%-?\s*trans\b.*?%\}.*?\{%-?\s*endtrans\s*-?%\}", re.S)
_WORDS = re.compile(r"[A-Za-z]{2,}")


class _Text(HTMLParser):
    """The text and the attributes people read, of a template with its tags blanked."""

    SHOWN = ("title", "aria-label", "placeholder", "alt", "label")

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.extend(v for k, v in attrs if k in self.SHOWN and v)

    def handle_data(self, data: str) -> None:
        self.found.append(data)


def untranslated(source: str) -> list[str]:
    """The user-facing text of a template that no translation call or block holds: text
    between the tags, shown attributes, and string literals with words and spaces in
    its expressions (a literal that only names a value, such as ``'positive'``, passes)."""
    source = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
    source = _TRANS.sub("", source)
    problems: list[str] = []
    for tag in _TAG.findall(source):
        bare = _CALL.sub("_(", tag)
        for literal in re.findall(_LITERAL, bare):
            text = literal[1:-1]
            if _WORDS.search(text) and " " in text.strip():
                problems.append(f"literal {literal} in {tag[:80]}")
    parser = _Text()
    parser.feed(_TAG.sub(" ", source))
    for text in parser.found:
        if set(_WORDS.findall(text)) - UNTRANSLATED:
            problems.append(f"text {' '.join(text.split())!r}")
    return problems


@pytest.mark.parametrize("name", COVERED)
def test_no_user_facing_text_outside_the_catalogue(name: str) -> None:
    problems = untranslated((TEMPLATES / name).read_text(encoding="utf-8"))
    assert not problems, f"{name}: text not marked for translation: {problems}"


@pytest.mark.parametrize("snippet, caught", [
    ("<p>Hello there</p>", True),
    ("<p>{{ _('Hello there') }}</p>", False),
    ('<input placeholder="Type here">', True),
    ("{{ 'Found a positive effect' if x else y }}", True),
    ("{{ _('Found a positive effect') if x else y }}", False),
    ("{{ ngettext('%(num)s day', '%(num)s days', n) }}", False),
    ("{% trans %}Several words here{% endtrans %}", False),
    ("{{ x | replace('_', ' ') }} · {{ v }}", False),
])
def test_the_check_catches_plain_text(snippet: str, caught: bool) -> None:
    assert bool(untranslated(snippet)) is caught


def _catalogue() -> dict[object, object]:
    with (CATALOGUE / "messages.po").open("rb") as f:
        catalog = read_po(f, locale="cy")
    return {m.id: m.string for m in catalog if m.id}


def test_every_message_of_the_covered_templates_is_translated() -> None:
    catalogue = _catalogue()
    for name in COVERED:
        for _line, message, _comments, _context in extract_from_file(
                "jinja2", str(TEMPLATES / name)):
            key = message if isinstance(message, str) else message[0]
            entry = next((v for k, v in catalogue.items()
                          if k == key or (isinstance(k, tuple) and k[0] == key)), None)
            assert entry, f"{name}: {key!r} is not in the Welsh catalogue"
            forms = entry if isinstance(entry, tuple) else (entry,)
            assert all(forms), f"{name}: {key!r} has no Welsh translation"


def test_the_committed_mo_is_the_compiled_po() -> None:
    with (CATALOGUE / "messages.po").open("rb") as f:
        catalog = read_po(f, locale="cy")
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    with (CATALOGUE / "messages.mo").open("rb") as f:
        committed = read_mo(f)
    fresh = read_mo(compiled)
    def table(catalog: Any) -> dict[object, object]:
        def key(value: object) -> object:
            return tuple(value) if isinstance(value, list | tuple) else value
        return {key(m.id): key(m.string) for m in catalog if m.id}

    assert table(fresh) == table(committed), (
        "messages.mo is stale: run `pybabel compile -d web/translations`")


@pytest.fixture
def client(read_sample: FalkorStore) -> FlaskClient:
    return create_app({"TESTING": True, "STORE": read_sample, "SECRET_KEY": "t"}).test_client()


WELSH = {"Accept-Language": "cy-GB,cy;q=0.9,en;q=0.5"}


@pytest.mark.parametrize("url, welsh, english", [
    ("/", "A roddwyd cynnig ar hyn o'r blaen?", "Has this been tried before?"),
    ("/search?q=telehealth", "Mireinio", "Refine"),
    ("/search?q=telehealth", "Dyfarniad ar y datrysiad", "Verdict on the solution"),
    ("/search?q=telehealth", "Ddim yn gweithio", "Does not work"),  # a facet's value
    # the ontology's Welsh label of a concept (skos:prefLabel @cy)
    ("/search?q=telehealth", ">Trefniadau darparu</a>", ">Delivery arrangements</a>"),
    # the phone's folded filters, named by the page for the script
    ("/search?q=telehealth", 'data-folded="Hidlwyr"', 'data-folded="Filters"'),
    ("/search?q=the", "Dim ond geiriau cyffredin iawn", "Only very common words"),
    ("/solutions/SOL-TELE", "Yr hyn y mae'r dystiolaeth yn ei ddweud",
     "What the evidence says"),
    ("/check?q=telehealth+monitoring+for+COPD", "Y datrysiadau agosaf", "Closest solutions"),
    # the error pages: a missing page, and a page past the last
    ("/no-such-page", "Heb ddod o hyd i'r dudalen", "Page not found"),
    ("/search?q=telehealth&page=99", "Ewch i'r dudalen olaf (1)", "Go to the last page"),
])
def test_the_browser_language_chooses_welsh(client: FlaskClient, url: str, welsh: str,
                                            english: str) -> None:
    cy = client.get(url, headers=WELSH)
    html = cy.get_data(as_text=True)
    assert welsh in html and english not in html
    assert '<html lang="cy">' in html and "Chwilio" in html  # the navigation too
    assert "Accept-Language" in cy.headers.get("Vary", "")
    en = client.get(url, headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert english in en and '<html lang="en">' in en


def test_the_switch_is_remembered_and_goes_back(client: FlaskClient) -> None:
    english = {"Accept-Language": "en"}
    assert "Cymraeg" in client.get("/", headers=english).get_data(as_text=True)
    switched = client.get("/language/cy?next=/solutions/SOL-TELE", headers=english)
    assert switched.status_code == 302
    assert switched.headers["Location"].endswith("/solutions/SOL-TELE")
    page = client.get("/solutions/SOL-TELE", headers=english).get_data(as_text=True)
    assert "Tystiolaeth" in page and ">English</a>" in page
    client.get("/language/en?next=/", headers=english)
    assert "Has this been tried before?" in client.get("/", headers=WELSH).get_data(
        as_text=True)
    assert client.get("/language/fr").status_code == 404
    for away in ("https://example.org/", "//example.org/x", "javascript:alert(1)"):
        gone = client.get(f"/language/cy?next={away}")
        assert gone.headers["Location"].endswith("/") and "example" not in gone.headers[
            "Location"]
