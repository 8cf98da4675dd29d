"""Tried in places like yours: the similarity rule (table-driven), the ranking of a
solution's attempts for a chosen site, where the evidence applies and the warning when a
proposer's context lies outside it; adaptations against outcomes and the design."""

from __future__ import annotations

from pathlib import Path

import pytest

from triedbefore.graph import NotFound
from triedbefore.graph import context as ctx
from triedbefore.graph.context import Context, similarity
from triedbefore.graph.falkor import FalkorStore
from triedbefore.ingest.pipeline import ingest

BUNDLE = Path(__file__).resolve().parent / "data" / "adapt"


def _c(kind: str = "gp_practice", decile: int | None = None, rurality: str | None = None,
       patients: int | None = None) -> Context:
    return Context("X", "X", kind, imd_decile=decile, rurality=rurality, patients=patients)


@pytest.mark.parametrize(("mine", "theirs", "score", "compared"), [
    # kind alone: same, same family, other family
    (_c(), _c(), 1.0, {"kind": 1.0}),
    (_c("gp_practice"), _c("pcn"), 0.5, {"kind": 0.5}),
    (_c("sub_icb"), _c("icb"), 0.5, {"kind": 0.5}),
    (_c("gp_practice"), _c("trust"), 0.0, {"kind": 0.0}),
    (_c("other"), _c("trust"), 0.0, {"kind": 0.0}),
    # deprivation: deciles 1 and 10 are as far apart as can be
    (_c(decile=1), _c(decile=10), 0.4 / 0.65, {"kind": 1.0, "deprivation": 0.0}),
    (_c(decile=2), _c(decile=2), 1.0, {"kind": 1.0, "deprivation": 1.0}),
    (_c(decile=1), _c(decile=4), (0.4 + 0.25 * (1 - 3 / 9)) / 0.65,
     {"kind": 1.0, "deprivation": 1 - 3 / 9}),
    # rurality: same class, same broad class, other broad class
    (_c(rurality="urban_city_and_town"), _c(rurality="urban_city_and_town"), 1.0,
     {"kind": 1.0, "rurality": 1.0}),
    (_c(rurality="urban_city_and_town"), _c(rurality="urban_major_conurbation"),
     (0.4 + 0.2 * 0.75) / 0.6, {"kind": 1.0, "rurality": 0.75}),
    (_c(rurality="urban_city_and_town"), _c(rurality="rural_town_and_fringe"), 0.4 / 0.6,
     {"kind": 1.0, "rurality": 0.0}),
    # size: a tenfold difference scores 0, twice as large scores 1 - log10(2)
    (_c(patients=1000), _c(patients=10000), 0.4 / 0.55, {"kind": 1.0, "size": 0.0}),
    (_c(patients=5000), _c(patients=10000), (0.4 + 0.15 * (1 - 0.30103)) / 0.55,
     {"kind": 1.0, "size": 1 - 0.30103}),
    # a dimension either side lacks is left out, not counted as a difference
    (_c(decile=3), _c(), 1.0, {"kind": 1.0}),
    (_c(decile=3, rurality="rural_town_and_fringe"), _c(rurality="rural_town_and_fringe"), 1.0,
     {"kind": 1.0, "rurality": 1.0}),
    # everything known
    (_c("gp_practice", 1, "urban_city_and_town", 11000),
     _c("gp_practice", 2, "urban_city_and_town", 9000),
     0.4 + 0.25 * (8 / 9) + 0.2 + 0.15 * (1 - abs(__import__("math").log10(11000 / 9000))),
     None),
])
def test_similarity_rule(mine: Context, theirs: Context, score: float,
                         compared: dict[str, float] | None) -> None:
    got, parts = similarity(mine, theirs)
    assert got == pytest.approx(score, abs=1e-3)
    if compared is not None:
        assert parts == pytest.approx(compared, abs=1e-3)
    assert similarity(theirs, mine)[0] == got  # symmetric


def test_weights_and_rule_text_agree() -> None:
    assert sum(ctx.WEIGHTS.values()) == pytest.approx(1.0)
    for dimension, weight in ctx.WEIGHTS.items():
        assert f"{dimension} (" in ctx.RULE and f"{weight}" in ctx.RULE


@pytest.fixture
def loaded(store: FalkorStore) -> FalkorStore:
    assert ingest(store, BUNDLE).exit_code == 0
    return store


def test_places_like_yours_ranks_attempts_by_context(loaded: FalkorStore) -> None:
    like = ctx.places_like(loaded, "X-ME", "X-SOL")
    order = [a["initiative_id"] for a in like["attempts"]]
    # X-P3 (decile 2, urban, 9,000) and X-P1 (decile 1, urban, 12,000) are practices like
    # X-ME (decile 1, urban, 11,000); the rural, least deprived practice X-P2 comes after;
    # the sub-ICB location and the trust (other kinds) last.
    assert order[:2] in (["X-I1", "X-I3"], ["X-I3", "X-I1"])
    assert order.index("X-I2") > 1 and set(order[3:]) == {"X-I4", "X-I5"}
    first = like["attempts"][0]
    assert set(first["compared"]) == {"kind", "deprivation", "rurality", "size"}
    scores = [a["similarity"] for a in like["attempts"]]
    assert scores == sorted(scores, reverse=True)
    i1 = next(a for a in like["attempts"] if a["initiative_id"] == "X-I1")
    assert [e["finding"] for e in i1["evaluations"]] == ["positive"]
    assert [a["id"] for a in i1["adaptations"]] == ["X-A1"]
    assert [o["direction"] for o in i1["outcomes"]] == ["improved"]
    assert like["missing"] == []
    # the trust has no context of its own nor an area above it: compared on kind only
    i5 = next(a for a in like["attempts"] if a["initiative_id"] == "X-I5")
    assert i5["compared"] == {"kind": 0.0}


def test_places_like_uses_the_area_when_the_site_has_no_value(loaded: FalkorStore) -> None:
    like = ctx.places_like(loaded, "X-NC", "X-SOL")
    site = like["site"]
    assert site["imd_decile"] == 3 and site["inherited"] == {"deprivation": "X-S1"}
    assert site["registered_patients"] is None  # the size of an area is not a site's
    assert like["missing"] == ["rurality", "size"]
    with pytest.raises(NotFound):
        ctx.places_like(loaded, "NOPE", "X-SOL")


def test_where_the_evidence_applies_and_the_warning(loaded: FalkorStore) -> None:
    applies = ctx.applicability(loaded, "X-SOL")
    # evaluated: X-I1 (X-P1, decile 1, urban), X-I3 (X-P3, decile 2, urban), X-I4 (X-S1)
    assert applies["covered"]["kinds"] == {"gp_practice": 2, "sub_icb": 1}
    assert applies["covered"]["rurality"] == {"urban": 2}
    assert "no evaluation in a rural place" in applies["not_covered"]
    assert "no evaluation of an attempt at a trust" in applies["not_covered"]
    assert any(g.startswith("no evaluation in a least deprived place")
               for g in applies["not_covered"])
    rural = ctx.contexts(loaded, ["X-RU"])["X-RU"]
    warnings = ctx.outside(applies, rural)
    assert any("rural" in w for w in warnings)
    assert any("least deprived" in w for w in warnings)
    inside = ctx.contexts(loaded, ["X-ME"])["X-ME"]
    assert ctx.outside(applies, inside) == []
    trust = ctx.contexts(loaded, ["X-T1"])["X-T1"]
    assert ctx.outside(applies, trust) == [
        "No evaluation of this solution studied an attempt at a trust, as Test trust is."]


def test_design_versions_dropped_core_and_adaptations_against_outcomes(
        loaded: FalkorStore) -> None:
    d = ctx.design(loaded, "X-SOL")
    assert [v["id"] for v in d["versions"]] == ["X-V1", "X-V2"]
    v1, v2 = d["versions"]
    assert v1["attempts"] == ["X-I2"] and v2["attempts"] == ["X-I1", "X-I3", "X-I4"]
    assert set(v1["components"]) == {"X-C-ALIGN", "X-C-WHO"}
    assert set(v2["components"]) == {"X-C-ALIGN", "X-C-ROUND", "X-C-WHO"}
    assert d["unversioned_attempts"] == ["X-I5"]
    assert [(a["id"], a["initiative_id"]) for a in d["dropped_core"]] == [("X-A2", "X-I2")]
    groups = {g["component_id"]: g for g in d["against_outcomes"]["by_component"]}
    assert groups["X-C-ROUND"]["changed"]["attempts"] == 1
    assert groups["X-C-ROUND"]["changed"]["outcomes"] == {"worsened": 1}
    assert groups["X-C-ROUND"]["kept"]["attempts"] == 4
    assert groups["X-C-ROUND"]["kept"]["outcomes"] == {"improved": 3, "no change": 1}
    assert groups["X-C-WHO"]["changed"]["findings"] == {"positive": 1}
    fid = d["against_outcomes"]["by_fidelity"]
    assert fid["fidelity-inconsistent"]["initiative_ids"] == ["X-I2"]
    assert fid["none recorded"]["initiative_ids"] == ["X-I5"]
    assert "not causal" in d["against_outcomes"]["warning"]
    # X-I1 halved its admissions while its four peers on the measure moved by 10% or less
    assert [p["initiative_id"] for p in d["positive_deviants"]] == ["X-I1"]
    assert [a["id"] for a in d["positive_deviants"][0]["adaptations"]] == ["X-A1"]
    assert d["positive_deviants"][0]["measures"][0]["score"] >= 2
    assert d["deviance_notes"][0]["outcomes"] == 5


def test_summary_for_a_site_named_or_coded(loaded: FalkorStore) -> None:
    by_code = ctx.summary(loaded, "X-SOL", "X-RU")
    assert by_code["places_like"]["site"]["site_id"] == "X-RU"
    assert by_code["context_warnings"]
    by_name = ctx.summary(loaded, "X-SOL", "proposer practice")
    assert by_name["places_like"]["site"]["site_id"] == "X-ME"
    assert by_name["context_warnings"] == []
    several = ctx.summary(loaded, "X-SOL", "Test practice")
    assert several["places_like"] is None and len(several["site_choices"]) > 1
