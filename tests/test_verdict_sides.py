"""A verdict names both sides it weighed (the P side and the N side of semantics.md), with
what a reader needs to judge each evaluation, in the library, the CLI and the explorer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from triedbefore.graph import analytics
from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.rules import NEGATIVE, POSITIVE
from triedbefore.graph.wording import design
from triedbefore.web.app import create_app
from triedbefore.web.cli import cli

FIELDS = {"id", "title", "design", "level", "finding", "published_date"}


def _check_sides(v: dict[str, Any]) -> None:
    for name, findings in (("positive", POSITIVE), ("negative", NEGATIVE)):
        side = v["sides"][name]
        listed = side["evaluations"]
        assert len(listed) == min(side["count"], analytics.SIDE_SHOWN)
        assert all(FIELDS <= set(e) and e["finding"] in findings for e in listed), listed
        levels = [e["level"] for e in listed]
        assert levels == sorted(levels, reverse=True)            # strongest first
        assert side["level"] == (levels[0] if levels else 0)     # P or N
        if "considered" in v:  # the CLI's JSON leaves it out
            assert {e["id"] for e in listed} <= set(v["considered"])


@pytest.mark.parametrize("solution_id", ["SOL-TELE", "SOL-PAC", "SOL-VW", "SOL-SPLW",
                                         "SOL-DT", "SOL-PMR", "SOL-HIU"])
def test_every_verdict_lists_both_sides(read_sample: FalkorStore, solution_id: str) -> None:
    _check_sides(analytics.verdict(read_sample, solution_id))


def test_does_not_work_names_the_positive_result_it_outweighed(read_sample: FalkorStore) -> None:
    v = analytics.verdict(read_sample, "SOL-TELE")
    assert v["verdict"] == "does_not_work"
    positive, negative = v["sides"]["positive"], v["sides"]["negative"]
    assert negative["level"] == 5 and positive["level"] == 1
    assert f"(level {positive['level']})" in v["explanation"]
    assert "EVAL-0005" in {e["id"] for e in positive["evaluations"]}  # Torbay, before/after
    then = analytics.verdict(read_sample, "SOL-TELE", "2014-06-12")  # before Torbay's
    assert then["sides"]["positive"] == {"level": 0, "count": 0, "evaluations": []}


def test_cli_verdict_shows_both_sides(read_sample: FalkorStore) -> None:
    runner = CliRunner()
    args = ["--store", read_sample.uri.raw, "verdict", "SOL-TELE"]
    data = json.loads(runner.invoke(cli, [*args, "--format", "json"]).output)
    _check_sides(data)
    text = runner.invoke(cli, args).output
    for side in ("positive", "negative"):
        for e in data["sides"][side]["evaluations"]:
            assert e["title"] in text and e["published_date"] in text
    # the stronger side first
    assert text.index(data["sides"]["negative"]["evaluations"][0]["title"]) < \
        text.index(data["sides"]["positive"]["evaluations"][0]["title"])


@pytest.fixture
def client(read_sample: FalkorStore) -> FlaskClient:
    app = create_app({"TESTING": True, "STORE": read_sample, "SECRET_KEY": "test"})
    return app.test_client()


def test_solution_page_verdict_box_shows_both_sides(client: FlaskClient) -> None:
    data = client.get("/solutions/SOL-TELE.json").get_json()
    _check_sides(data["verdict"])
    page = client.get("/solutions/SOL-TELE").data.decode()
    box = page[page.index('id="verdict-h"'):page.index('id="evidence-h"')]  # the verdict box
    for side in ("positive", "negative"):
        for e in data["verdict"]["sides"][side]["evaluations"]:
            assert f'href="/evaluations/{e["id"]}"' in box
            assert e["title"] in box and e["published_date"] in box
            assert design(e["design"]) in box  # "cluster randomised controlled trial"
    # the stronger side first, each under its heading
    assert box.index("Found no effect or harm") < box.index("Found a positive effect")


@pytest.mark.parametrize("solution_id", ["SOL-TELE", "SOL-PAC", "SOL-VW", "SOL-SPLW"])
def test_explanations_name_evaluations_by_title_for_people(client: FlaskClient,
                                                             read_sample: FalkorStore,
                                                             solution_id: str) -> None:
    """The rule's words name evaluations by id (JSON keeps them); the page and the CLI's
    text name them by title."""
    import re

    data = client.get(f"/solutions/{solution_id}.json").get_json()["verdict"]
    named = set(re.findall(r"EVAL-\d+", data["explanation"]))
    assert named, data["explanation"]  # the sample's verdicts name their evidence
    titles = {e["id"]: e["title"] for side in data["sides"].values()
              for e in side["evaluations"]}
    for eid in named:
        assert eid not in data["explanation_titled"]
        if eid in titles:
            assert titles[eid] in data["explanation_titled"]
    page = client.get(f"/solutions/{solution_id}").data.decode()
    box = page[page.index('id="verdict-h"'):page.index('id="evidence-h"')]
    from html.parser import HTMLParser

    class Text(HTMLParser):
        words: list[str] = []

        def handle_data(self, data: str) -> None:
            self.words.append(data)

    reader = Text()
    reader.feed(box)
    prose = " ".join(reader.words)  # what a reader sees: no attribute, no link target
    found = re.search(r"\bEVAL-\d+", prose)
    assert not found, prose[max(0, found.start() - 200):found.end() + 50]
    text = CliRunner().invoke(cli, ["--store", read_sample.uri.raw, "verdict",
                                    solution_id]).output
    assert not re.search(r"\bEVAL-\d+", text.split("\n", 2)[1]), text
