"""What the command line prints for people: plain answers on an empty store, names
rather than ids in its tables, an illustrative column, no raw floats, plurals and
wording; and the RDF export says only what a user needs to know."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from triedbefore.graph import analytics
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest
from triedbefore.web.cli import cli

HINT = "nothing loaded yet, try `triedbefore demo`"
MEASURE = "Emergency admissions from care homes per 1,000 residents"

#: Every command that only reads the graph (check's wording is the proposal check's own).
READ_COMMANDS = [
    ["stats"], ["verdict", "SOL-TELE"], ["verdict", "SOL-TELE", "--as-of", "2014-01-01"],
    ["zombies"], ["retries"], ["spread"], ["deviance", "--measure", MEASURE],
    ["search", "telehealth"], ["check", "telehealth for COPD"], ["changes"],
    ["candidates"], ["candidates", "list"], ["export", "{tmp}/out"],
    ["export", "{tmp}/rdf", "--rdf", "turtle"],
]

#: A number with more than two decimals, or a bare fraction such as 0.42 (a share or a
#: score that people should read as a percentage or a level).
RAW_FLOAT = re.compile(r"(?<![\w.])\d+\.\d{3,}(?![\w.])|(?<![\w.])0\.\d+(?![\w.%])")


def invoke(store_uri: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--store", store_uri, *args])


def _args(command: list[str], tmp_path: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp_path)) for a in command]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_every_read_command_answers_plainly_on_an_empty_store(
        store_uri: str, tmp_path: Path, command: list[str]) -> None:
    result = invoke(store_uri, *_args(command, tmp_path))
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.output
    assert "Traceback" not in result.output and result.exit_code in (0, 1)
    if command[0] != "check":
        assert HINT in result.output.lower(), result.output


@pytest.mark.parametrize("command", [c for c in READ_COMMANDS if c[0] != "export"],
                         ids=" ".join)
def test_json_on_an_empty_store_is_zeros_or_empty(store_uri: str, command: list[str]) -> None:
    result = invoke(store_uri, *command, "--format", "json")
    assert "Traceback" not in result.output
    if result.exit_code == 1:  # an unknown id: one line on stderr, nothing to parse
        assert result.output.startswith("triedbefore: error:") and HINT in result.output.lower()
        return
    data = json.loads(result.output)
    if command[0] == "stats":
        assert set(data["nodes"].values()) == {0} and set(data["relationships"].values()) == {0}
        assert data["latest_runs"] == []
    elif command[0] == "check":
        assert data["matches"] == []
    else:
        assert data == []


def test_stats_on_an_empty_store_shows_zeros(store_uri: str) -> None:
    result = invoke(store_uri, "stats")
    assert result.exit_code == 0
    assert re.search(r"^Site\s+0\s*$", result.output, re.M), result.output


# --- names, the illustrative column, numbers and words, on the demo and the sample -----


@pytest.fixture
def demo(read_demo: FalkorStore) -> FalkorStore:
    return read_demo


def _columns(output: str, header: str) -> tuple[list[str], list[list[str]]]:
    """The header and rows of the table whose header line starts with ``header``."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rule = lines[start + 1]
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", rule)]

    def cut(line: str) -> list[str]:
        return [line[a:(spans[k + 1][0] if k + 1 < len(spans) else None)].strip()
                for k, (a, _) in enumerate(spans)]

    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        rows.append(cut(line))
    return cut(lines[start]), rows


def _names(store: FalkorStore, label: str) -> dict[str, tuple[str, bool]]:
    key = "title" if label in ("Initiative", "Evaluation") else "name"
    rows = store.read(f"MATCH (n:{label}) RETURN n.id AS id, n.{key} AS name, "
                      "n.illustrative AS illustrative")
    return {r["id"]: (r["name"], bool(r["illustrative"])) for r in rows}


@pytest.mark.parametrize("command", ["zombies", "retries"])
def test_repeat_tables_show_names_and_an_illustrative_column(
        demo: FalkorStore, command: str) -> None:
    zombies, retries = analytics.repeats(demo)
    found = zombies if command == "zombies" else retries
    assert found
    initiatives = _names(demo, "Initiative")
    solutions = _names(demo, "Solution")
    evaluations = _names(demo, "Evaluation")
    result = invoke(demo.uri.raw, command)
    header, rows = _columns(result.output, "initiative")
    assert len(rows) == len(found)
    flagged = False
    for r, row in zip(found, rows, strict=True):
        cell = dict(zip(header, row, strict=True))
        assert cell["initiative"] == initiatives[r.initiative_id][0]
        assert cell["solution"].startswith(solutions[r.solution_id][0])
        assert r.initiative_id not in result.output and r.solution_id not in result.output
        shown = [initiatives[r.initiative_id], solutions[r.solution_id],
                 *(evaluations[e] for e in r.ignored_evaluations),
                 *((evaluations | initiatives)[c] for c in r.cited)]
        flagged = flagged or any(flag for _, flag in shown)
        assert cell["illustrative"] == ("yes" if any(flag for _, flag in shown) else "")
        assert re.fullmatch(r"\d[\d,]* days?", cell["lag"]), cell["lag"]
        assert cell["lag"] != "1 days"
    assert flagged  # the demo's repeats show illustrative records
    # ids stay in the JSON
    data = json.loads(invoke(demo.uri.raw, command, "--format", "json").output)
    assert [d["initiative_id"] for d in data] == [r.initiative_id for r in found]


def test_retries_never_list_an_evaluation_as_both_ignored_and_cited(
        read_sample: FalkorStore) -> None:
    _, retries = analytics.repeats(read_sample)
    assert retries
    for r in retries:
        assert not set(r.ignored_evaluations) & set(r.cited), r


def test_deviance_table_names_sites_without_raw_floats(demo: FalkorStore) -> None:
    found = analytics.deviance(demo, MEASURE)
    assert found.deviants
    sites = _names(demo, "Site")
    result = invoke(demo.uri.raw, "deviance", "--measure", MEASURE)
    header, rows = _columns(result.output, "site")
    cells = [dict(zip(header, r, strict=True)) for r in rows]
    assert "yes" in {c.get("illustrative") for c in cells}  # an illustrative care home
    for d, row in zip(found.deviants, rows, strict=True):
        cell = dict(zip(header, row, strict=True))
        assert cell["site"] == sites[d["site_id"]][0]
        assert cell["relative change"] == (
            f"{abs(d['relative_change']) * 100:.1f}% "
            f"{'better' if d['relative_change'] >= 0 else 'worse'}")
    assert not RAW_FLOAT.search(result.output), result.output
    data = json.loads(invoke(demo.uri.raw, "deviance", "--measure", MEASURE,
                             "--format", "json").output)
    assert data[0]["relative_change"] == found.deviants[0]["relative_change"]  # JSON keeps it


@pytest.mark.parametrize("command", [
    ["verdict", "SOL-TELE"], ["verdict", "SOL-HIU"], ["verdict", "SOL-VW"],
    ["verdict", "SOL-TELE", "--as-of", "2013-01-01"], ["zombies"], ["retries"], ["spread"],
    ["deviance", "--measure", MEASURE], ["search", "hospital at home for frail patients"],
    ["search", "telehealth"], ["changes"], ["stats"],
])
@pytest.mark.parametrize("graph", ["read_sample", "demo"])
def test_no_raw_floats_and_no_level_zero_in_the_cli(request: pytest.FixtureRequest, graph: str,
                                                   command: list[str]) -> None:
    if graph == "demo":  # the demo's unevaluated and well-evaluated solutions are real ones
        command = [{"SOL-HIU": "SOL-ACC", "SOL-VW": "SOL-TELECARE"}.get(c, c) for c in command]
    result = invoke(request.getfixturevalue(graph).uri.raw, *command)
    assert result.exit_code == 0, result.output
    assert not RAW_FLOAT.search(result.output), RAW_FLOAT.search(result.output)
    assert not re.search(r"\b(level|SMS) 0\b", result.output), result.output
    assert not re.search(r"\b1 (days|evaluations|sites|outcomes)\b", result.output)
    assert "(s)" not in result.output


def test_unevaluated_verdict_says_no_strength_level(read_sample: FalkorStore) -> None:
    out = invoke(read_sample.uri.raw, "verdict", "SOL-HIU").output
    assert "no strength level" in out


def test_verdict_explanations_never_say_level_zero(read_sample: FalkorStore) -> None:
    for sid in analytics.solution_ids(read_sample):
        for as_of in (None, "2013-01-01", "2016-01-01"):
            text = analytics.verdict(read_sample, sid, as_of)["explanation"]
            assert not re.search(r"\blevel 0\b|\(s\)", text), (sid, as_of, text)


def test_design_names_are_the_ontology_labels() -> None:
    from rdflib.namespace import SKOS

    from triedbefore.graph.wording import design
    from triedbefore.ontology.rdf import load_ontology
    from triedbefore.ontology.vocab import Design

    graph = load_ontology()
    labels = {str(graph.value(c, SKOS.notation)): str(graph.value(c, SKOS.prefLabel))
              for c in graph.subjects(SKOS.notation, None)}
    for d in Design:  # every design has a label of its own, read inside a sentence
        assert labels[d.value] and design(d.value) == labels[d.value][0].lower() + \
            labels[d.value][1:]


# --- the RDF export's message ---------------------------------------------------------


def test_rdf_export_of_a_loaded_graph_says_only_where_it_wrote(
        store: FalkorStore, sample_copy: Path, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """Every property the product itself writes (ingest runs' counts included) is in the
    vocabulary, so exporting a graph it loaded has nothing to warn about."""
    from triedbefore.ingest.pipeline import ResolveAll, run

    assert ingest(store, sample_copy).exit_code == 0
    run(store, ResolveAll())  # a run of another kind
    with caplog.at_level("WARNING"):
        result = invoke(store.uri.raw, "export", str(tmp_path / "rdf"), "--rdf", "turtle")
    assert result.exit_code == 0
    assert result.output == f"wrote {tmp_path / 'rdf' / 'triedbefore.ttl'}\n"
    assert not caplog.records, caplog.text


# --- words -------------------------------------------------------------------------


@pytest.mark.parametrize("count, word, expected", [
    (0, "day", "0 days"), (1, "day", "1 day"), (2, "day", "2 days"),
    (1, "verdict change", "1 verdict change"), (3, "verdict change", "3 verdict changes"),
    (1, "watch", "1 watch"), (2, "watch", "2 watches"), (1_200, "site", "1,200 sites"),
])
def test_plural(count: int, word: str, expected: str) -> None:
    from triedbefore.graph.wording import plural

    assert plural(count, word) == expected


@pytest.mark.parametrize("fn, value, expected", [
    ("level", 0, "no strength level"), ("level", None, "no strength level"),
    ("level", 3, "SMS level 3"), ("percent", 0.420513, "42.1%"),
    ("change", 0.420513, "42.1% better"), ("change", -0.05, "5.0% worse"),
    ("change", 0.0, "no change"), ("number", 780.0, "780"), ("number", 12.3456, "12.35"),
    ("number", 1234.5, "1,234.5"), ("design", "cluster_rct",
                                    "cluster randomised controlled trial"),
    ("design", None, "design not recorded"),
])
def test_numbers_and_levels_for_people(fn: str, value: object, expected: str) -> None:
    from triedbefore.graph import wording

    assert getattr(wording, fn)(value) == expected


def test_ingest_says_what_it_changed_in_words(store_uri: str, sample_copy: Path) -> None:
    from triedbefore.graph.wording import plural

    out = invoke(store_uri, "ingest", str(sample_copy)).output
    recorded = json.loads(invoke(store_uri, "changes", "--format", "json").output)
    verdicts = sum(1 for c in recorded if c["change_kind"] == "verdict")
    assert verdicts > 1 and f"{verdicts} verdict changes recorded" in out, out
    # one verdict moves: the trial that sank patient activation coaching now finds an effect
    evaluations = sample_copy / "evaluations.csv"
    evaluations.write_text(evaluations.read_text().replace(
        "rct,,,no_effect,2019,true,860", "rct,,,positive,2019,true,860", 1))
    out = invoke(store_uri, "ingest", str(sample_copy)).output
    assert "1 verdict change recorded" in out, out
    assert plural(1, "verdict change") == "1 verdict change"
    listed = invoke(store_uri, "changes").output
    assert f"{verdicts + 1} changes, newest first:" in listed, listed


def test_resolve_accounts_and_db_status_answer_plainly_when_there_is_nothing(
        store_uri: str, tmp_path: Path) -> None:
    out = invoke(store_uri, "resolve").output
    assert "No initiative is waiting for a solution." in out and HINT in out.lower()
    out = CliRunner().invoke(cli, ["user", "list", "--users-file",
                                   str(tmp_path / "users.json")]).output
    assert out == "No accounts yet; add one with `triedbefore user add NAME`.\n"
    out = CliRunner().invoke(cli, ["--store", f"embedded:{tmp_path / 'db'}", "db",
                                   "status"]).output
    assert re.search(r"running: no$", out, re.M) and "None" not in out and "False" not in out


def test_a_new_zombie_repeat_one_day_after_the_evidence_says_1_day(
        store_uri: str, sample_copy: Path) -> None:
    initiatives = sample_copy / "initiatives.csv"
    whole = initiatives.read_text()
    initiatives.write_text("".join(line for line in whole.splitlines(keepends=True)
                                   if not line.startswith("INI-0027,")))
    invoke(store_uri, "ingest", str(sample_copy))
    initiatives.write_text(whole)  # Wirral's coaching service, started the day after the trial
    invoke(store_uri, "ingest", str(sample_copy))
    found = json.loads(invoke(store_uri, "changes", "--format", "json").output)
    zombie = next(c for c in found if c["change_kind"] == "zombie")
    assert zombie["initiative_id"] == "INI-0027"
    assert " started 1 day after " in zombie["explanation"], zombie["explanation"]
