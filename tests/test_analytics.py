"""What the graph answers, on the sample bundle loaded into the embedded store: every
rule of docs/semantics.md with its near misses (cases listed in ingest/sample/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from triedbefore.graph import analytics
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest
from triedbefore.web.cli import cli

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"

VERDICTS = {
    "SOL-VW": ("works", 5), "SOL-EHCH": ("works", 4), "SOL-D2A": ("works", 3),
    "SOL-FRAIL": ("promising", 3), "SOL-SDEC": ("promising", 3), "SOL-SPLW": ("mixed", 3),
    "SOL-DT": ("weak_negative", 2), "SOL-PMR": ("inconclusive", 5),
    "SOL-TELE": ("does_not_work", 5), "SOL-PAC": ("does_not_work", 5),
    "SOL-HIU": ("unevaluated", 0), "SOL-CDC": ("unevaluated", 0),
}


@pytest.fixture(params=["embedded", "driver"])
def sample(request: pytest.FixtureRequest) -> FalkorStore:
    """The sample on the embedded store, then through the official driver
    (``bolt+falkordb://``): every answer below must be the same on both."""
    store: FalkorStore = request.getfixturevalue(
        "read_sample" if request.param == "embedded" else "read_driver_sample")
    return store


def test_driver_path_answers_equal_the_embedded_stores(read_sample: FalkorStore,
                                                        read_driver_sample: FalkorStore
                                                        ) -> None:
    def answers(store: FalkorStore) -> object:
        return ({s: analytics.verdict(store, s) for s in VERDICTS},
                analytics.repeats(store), analytics.spread(store),
                analytics.EvidenceIndex.load(store).by_solution)

    embedded, driver = answers(read_sample), answers(read_driver_sample)
    assert driver == embedded
    assert embedded[1][0] and embedded[2]  # there are repeats and spread to compare


def test_verdict_of_every_sample_solution(sample: FalkorStore) -> None:
    for solution_id, (expected, strength) in VERDICTS.items():
        v = analytics.verdict(sample, solution_id)
        assert (v["verdict"], v["strength"]) == (expected, strength), (solution_id, v)
        assert v["explanation"]


def test_verdict_as_of_a_date_uses_only_evidence_published_by_then(sample: FalkorStore) -> None:
    assert analytics.verdict(sample, "SOL-TELE", "2014-06-11")["verdict"] != "does_not_work"
    then = analytics.verdict(sample, "SOL-TELE", "2014-06-12")
    assert then["verdict"] == "does_not_work" and then["evaluations"][0] == "EVAL-0004"
    assert then["as_of"] == "2014-06-12"
    # EVAL-0008 is published "2019": it counts from 2019-12-31
    assert analytics.verdict(sample, "SOL-PAC", "2019-12-30")["verdict"] != "does_not_work"
    assert analytics.verdict(sample, "SOL-PAC", "2019-12-31")["verdict"] == "does_not_work"


def test_evaluations_are_ordered_strongest_first(sample: FalkorStore) -> None:
    order = analytics.verdict(sample, "SOL-VW")["evaluations"]
    assert set(order[:2]) == {"EVAL-0010", "EVAL-0013"}  # RCT and high-quality review: level 5
    assert order.index("EVAL-0012") == 2  # regression discontinuity: level 4
    assert order[-1] == "EVAL-0011"  # economic: level 1


def test_unknown_solution_and_bad_date(sample: FalkorStore) -> None:
    with pytest.raises(analytics.NotFound):
        analytics.verdict(sample, "SOL-NONE")
    with pytest.raises(analytics.BadArgument):
        analytics.verdict(sample, "SOL-VW", "2020-13-01")


def test_zombie_repeats_and_informed_retries(sample: FalkorStore) -> None:
    zombies, retries = analytics.repeats(sample)
    assert {z.initiative_id for z in zombies} == {"INI-0021", "INI-0022", "INI-0023",
                                                  "INI-0027"}
    assert [r.initiative_id for r in retries] == ["INI-0024"]
    assert retries[0].cited == ("EVAL-0004",)
    by_id = {z.initiative_id: z for z in zombies}
    assert "EVAL-0004" in by_id["INI-0021"].ignored_evaluations
    # INI-0021 started 2016-10-01; EVAL-0004 was published 2014-06-12
    assert by_id["INI-0021"].lag_days == 842
    # near misses are not zombies
    for near in ("INI-0020", "INI-0019", "INI-0026", "INI-0025"):
        assert near not in by_id


def test_zombies_as_of_a_date(sample: FalkorStore) -> None:
    zombies, _ = analytics.repeats(sample, "2017-01-01")
    assert {z.initiative_id for z in zombies} == {"INI-0021"}


def test_unevaluated_spread(sample: FalkorStore) -> None:
    spread = analytics.spread(sample)
    assert [s["solution_id"] for s in spread] == ["SOL-HIU"]
    assert len(spread[0]["sites"]) == 4


def test_positive_deviance(sample: FalkorStore) -> None:
    result = analytics.deviance(sample, "  emergency admissions from care homes per 1,000 "
                                        "RESIDENTS ")
    assert result.outcomes == 11
    assert [(d["site_id"], d["outcome_id"]) for d in result.deviants] == [
        ("X-CH-001", "OUT-0016"), ("L83056", "OUT-0020")]
    assert result.deviants[0]["score"] > result.deviants[1]["score"] >= 2


def test_deviance_needs_five_peers(sample: FalkorStore) -> None:
    measure = sample.read("MATCH (o:Outcome {id: 'OUT-0027'}) RETURN o.measure AS m")[0]["m"]
    result = analytics.deviance(sample, measure)
    assert result.deviants == [] and "at least 5" in result.note
    with pytest.raises(analytics.NotFound):
        analytics.deviance(sample, "no such measure")


def test_deviance_mad_zero_says_so(store: FalkorStore, tmp_path: Path) -> None:
    (tmp_path / "sites.csv").write_text("site_id,name,kind\nA,A,trust\n")
    (tmp_path / "initiatives.csv").write_text(
        "initiative_id,title,site_ids,start_date\n" +
        "".join(f"I{i},T,A,2020\n" for i in range(6)))
    (tmp_path / "outcomes.csv").write_text(
        "outcome_id,initiative_id,measure,baseline,value,direction\n" +
        "".join(f"O{i},I{i},M,10,{5 if i == 5 else 9},improved\n" for i in range(6)))
    ingest(store, tmp_path)
    result = analytics.deviance(store, "M")
    assert result.deviants == [] and "is 0" in result.note


def run_json(store: FalkorStore, *args: str) -> object:
    result = CliRunner().invoke(cli, ["--store", store.uri.raw, *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_cli_json_shapes(sample: FalkorStore) -> None:
    v = run_json(sample, "verdict", "SOL-TELE", "--as-of", "2020-01-01")
    assert set(v) == {"solution_id", "verdict", "strength", "as_of", "evaluations",  # type: ignore[arg-type]
                      "explanation", "explanation_titled", "warnings", "sides", "costs",
                      "economics", "money_outcomes"}
    assert set(v["sides"]) == {"positive", "negative"}  # type: ignore[call-overload]
    assert isinstance(v["warnings"], list)  # type: ignore[call-overload]
    z = run_json(sample, "zombies")
    assert isinstance(z, list) and set(z[0]) >= {"initiative_id", "solution_id",
                                                 "ignored_evaluations", "lag_days"}
    r = run_json(sample, "retries")
    assert isinstance(r, list) and r[0]["cited"] == ["EVAL-0004"]
    s = run_json(sample, "spread")
    assert s == [{"solution_id": "SOL-HIU", "sites": s[0]["sites"]}]  # type: ignore[index]
    d = run_json(sample, "deviance", "--measure",
                 "Emergency admissions from care homes per 1,000 residents")
    assert isinstance(d, list) and set(d[0]) == {"site_id", "baseline", "value",
                                                 "relative_change", "score"}
    bad = CliRunner().invoke(cli, ["--store", sample.uri.raw, "verdict", "NOPE"])
    assert bad.exit_code == 1 and "no solution with id 'NOPE'" in bad.output


@pytest.mark.parametrize("workers", [1, 2])
def test_whole_graph_answers_do_not_depend_on_batching(sample: FalkorStore,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       workers: int) -> None:
    """One solution per statement, with statements in flight or not, gives the answers
    of one statement for all."""
    from triedbefore.graph import store as store_module

    whole = analytics.repeats(sample), analytics.spread(sample), \
        analytics.EvidenceIndex.load(sample).by_solution
    monkeypatch.setattr(analytics, "BATCH", 1)
    original = store_module.Store.read_each

    def read_each(self: store_module.Store, query: str, params: object,
                  workers: int = workers) -> object:
        return original(self, query, params, workers=workers)  # type: ignore[arg-type]

    monkeypatch.setattr(store_module.Store, "read_each", read_each)
    one_by_one = analytics.repeats(sample), analytics.spread(sample), \
        analytics.EvidenceIndex.load(sample).by_solution
    assert one_by_one == whole
    assert whole[0][0] and whole[1]  # there are zombies and spread to compare
