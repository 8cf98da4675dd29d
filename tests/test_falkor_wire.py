"""FalkorDB's wire format: parameters encoded by triedbefore reach the server intact, and
compact replies decode to the same values the client library would give."""

from __future__ import annotations

from typing import Any

import pytest
from falkordb.helpers import stringify_param_value
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triedbefore.graph.falkor import FalkorStore
from triedbefore.graph.falkor_wire import encode, params_header

TRICKY = ['', 'plain', 'say "hi"', 'back\\slash', 'ends with \\', '\\"', 'line\nbreak',
          'tab\there', 'crlf\r\n', 'naïve café', '日本語', 'emoji 🧟', "it's", '`tick`',
          '{not: "a map"}', "$param", "x' OR 1=1 //", 'null', 'CYPHER a=1']

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**62), max_value=2**62),
    # (the server prints doubles with 15 significant digits)
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: float(f"{f:.12g}")),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            max_size=20),
)
keys = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(keys, inner, max_size=4), max_leaves=12)


def test_encoding_matches_the_client_library_on_plain_values() -> None:
    value = {"rows": [{"id": "a", "n": 3, "ok": True, "no": None, "xs": ["p", 'q"'],
                       "m": {"k": 1.5}}]}
    assert encode(value) == stringify_param_value(value).replace("True", "true")


def test_header_names_every_parameter() -> None:
    header = params_header({"ids": ["a", "b"], "n": 2})
    assert header == 'CYPHER `ids`=["a","b"] `n`=2 '
    assert params_header({}) == ""


@pytest.mark.parametrize("bad", ["", "a`b"])
def test_keys_that_cannot_be_identifiers_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        encode({bad: 1})


def test_tricky_strings_round_trip(store: FalkorStore) -> None:
    store.write("CREATE (:Probe {id: 'first'})")  # a read needs the graph to exist
    rows = store.read("UNWIND $xs AS x RETURN x", {"xs": TRICKY})
    assert [r["x"] for r in rows] == TRICKY
    store.write("UNWIND $rows AS r CREATE (n:Probe) SET n = r.props",
                {"rows": [{"props": {"id": str(i), "text": t}} for i, t in enumerate(TRICKY)]})
    back = store.read("MATCH (n:Probe) WHERE n.id <> 'first' RETURN n.id AS id, n.text AS text")
    assert {r["id"]: r["text"] for r in back} == {str(i): t for i, t in enumerate(TRICKY)}


def test_writes_report_what_they_changed(store: FalkorStore) -> None:
    _, summary = store.write("UNWIND range(1, 3) AS i CREATE (:Probe {id: toString(i)})")
    assert (summary.nodes_created, summary.properties_set) == (3, 3)
    _, summary = store.write("MATCH (n:Probe) DETACH DELETE n")
    assert summary.nodes_deleted == 3


def test_nodes_in_results_still_decode(store: FalkorStore) -> None:
    store.write("CREATE (:Probe {id: 'n1', xs: [1, 2]})-[:NEAR {w: 0.5}]->(:Probe {id: 'n2'})")
    rows = store.read("MATCH (a:Probe {id: 'n1'})-[e]->(b) RETURN a, e, b.id AS b")
    assert rows == [{"a": {"id": "n1", "xs": [1, 2]}, "e": {"w": 0.5}, "b": "n2"}]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=values)
def test_any_value_round_trips(store: FalkorStore, value: Any) -> None:
    store.write("MERGE (:Probe {id: 'first'})")
    rows = store.read("RETURN $v AS v", {"v": value})
    assert rows == [{"v": value}]
