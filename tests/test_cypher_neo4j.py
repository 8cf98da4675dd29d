"""Every Cypher statement triedbefore can send is valid Neo4j 5 Cypher.

Checked by Neo4j's own front end (npm ``@neo4j-cypher/language-support`` via
``cypherlint/lint.mjs``), which needs ``npm ci`` at the project root. All statements
are linted in one node process, once per test session.
"""

from __future__ import annotations

import functools
import re
import textwrap
import types
from typing import Any

import pytest

from triedbefore.ontology.vocab import Label, Rel

try:
    from cypherlint import collect
except ImportError:  # tests/ imported as a package
    from tests.cypherlint import collect

#: FalkorDB-only forms from the engine comparison; Neo4j must reject each.
FALKORDB_ONLY = (
    "CALL db.idx.fulltext.queryNodes('Solution', $q) YIELD node RETURN node",
    "CALL db.idx.vector.queryNodes('Solution', 'embedding', 5, vecf32($v)) "
    "YIELD node, score RETURN node",
    "RETURN vecf32([1.0])",
    "CREATE INDEX ON :Site(id)",
    "DROP INDEX ON :Site(id)",
    "CALL db.indexes()",
)

#: Unnamed range index: the one FalkorDB schema form that Neo4j 5 accepts as well.
PORTABLE_RANGE_INDEX = re.compile(r"CREATE INDEX FOR \(n:\w+\) ON \(n\.\w+\)")

ID_DEPRECATED = "MATCH (n) RETURN id(n) AS i"
CARTESIAN_ONLY = "MATCH (a:Site), (b:Site) RETURN a.id, b.id"


@functools.cache
def neo4j_statements() -> dict[str, str]:
    return collect.collect_statements()


@functools.cache
def falkor_statements() -> dict[str, str]:
    return collect.falkor_only_statements()


@functools.cache
def lint_results() -> dict[str, dict[str, Any]]:
    """Statement → lint result, for every statement any test here looks at."""
    statements = list(dict.fromkeys([
        *neo4j_statements().values(), *falkor_statements().values(),
        *FALKORDB_ONLY, ID_DEPRECATED, CARTESIAN_ONLY,
    ]))
    return dict(zip(statements, collect.lint(statements), strict=True))


def _report(bad: dict[str, tuple[str, list[str]]]) -> str:
    lines = []
    for name, (statement, messages) in bad.items():
        lines.append(f"{name}\n    {statement}")
        lines += [f"    {m}" for m in messages]
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# Neo4j conformance
# --------------------------------------------------------------------------- #


def test_collector_covers_every_source() -> None:
    statements = neo4j_statements()
    assert statements, "no Cypher statement collected"
    module = collect.queries_module()
    missing_builders = [name for name in collect.builders(module)
                        if not any(key.startswith(f"{name}(") for key in statements)]
    assert not missing_builders, f"builders with no collected statement: {missing_builders}"
    uncollected = [name for name in collect.string_constants(module)
                   if name not in statements and f"{name}[0]" not in statements]
    assert not uncollected, (
        f"UPPER_CASE strings in graph/queries.py that do not start like a statement: "
        f"{uncollected}; queries.py holds statements only")
    assert any(key.startswith("Neo4jDialect.schema_statements()") for key in statements)


def test_every_statement_is_valid_neo4j_5() -> None:
    results = lint_results()
    bad = {}
    for name, statement in neo4j_statements().items():
        messages = collect.problems(results[statement])
        if messages:
            bad[name] = (statement, messages)
    assert not bad, (f"{len(bad)} of {len(neo4j_statements())} statements are not valid "
                     f"Neo4j 5 Cypher:\n{_report(bad)}")


# --------------------------------------------------------------------------- #
# The check can fail
# --------------------------------------------------------------------------- #


def test_falkordb_dialect_fails_neo4j_lint() -> None:
    statements = falkor_statements()
    must_fail = {n: s for n, s in statements.items() if not PORTABLE_RANGE_INDEX.fullmatch(s)}
    assert any(n.startswith("FalkorDialect.fulltext_query(") for n in must_fail)
    assert any(n.startswith("FalkorDialect.schema_statements()") for n in must_fail)
    results = lint_results()
    passed = {n: (s, ["no error"]) for n, s in must_fail.items() if not results[s]["errors"]}
    assert not passed, f"FalkorDB-only statements that Neo4j accepted:\n{_report(passed)}"


@pytest.mark.parametrize("statement", FALKORDB_ONLY)
def test_falkordb_only_form_fails_neo4j_lint(statement: str) -> None:
    assert lint_results()[statement]["errors"], statement


def test_deprecated_warning_counts_as_problem() -> None:
    results = lint_results()
    assert any("deprecated" in m for m in collect.problems(results[ID_DEPRECATED]))
    assert results[CARTESIAN_ONLY]["warnings"]
    assert collect.problems(results[CARTESIAN_ONLY]) == []


def test_lint_without_package_fails_with_instruction(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Any) -> None:
    monkeypatch.setattr(collect, "LANGUAGE_SUPPORT", tmp_path / "absent")
    with pytest.raises(collect.LinterUnavailable, match="npm ci"):
        collect.lint(["RETURN 1"])


# --------------------------------------------------------------------------- #
# Builders take ontology enums only
# --------------------------------------------------------------------------- #


def _module_with(*funcs: Any) -> types.ModuleType:
    module = types.ModuleType("sample_queries")
    module.BUILDERS = {f.__name__: f for f in funcs}  # type: ignore[attr-defined]
    module.GOOD = "MATCH (n:Site) RETURN n"  # type: ignore[attr-defined]
    return module


def test_builders_expand_over_every_enum_combination() -> None:
    def link(src: Label, rel: Rel) -> str:
        if rel is Rel.REPORTS:
            raise ValueError("refused")
        return f"MATCH (a:{src.value})-[:{rel.value}]->(b) RETURN b"

    statements = collect.collect_statements(_module_with(link))
    assert statements["GOOD"] == "MATCH (n:Site) RETURN n"
    assert statements["link(Label.SITE, Rel.PART_OF)"] == (
        "MATCH (a:Site)-[:PART_OF]->(b) RETURN b")
    assert sum(k.startswith("link(") for k in statements) == len(Label) * (len(Rel) - 1)


def test_builder_with_text_parameter_is_rejected() -> None:
    def by_name(label: Label, name: str) -> str:
        return f"MATCH (n:{label.value}) WHERE n.name = '{name}' RETURN n"

    with pytest.raises(collect.CollectionError, match="name"):
        collect.collect_statements(_module_with(by_name))


def test_builder_without_annotation_is_rejected() -> None:
    def untyped(label):  # type: ignore[no-untyped-def]
        return f"MATCH (n:{label}) RETURN n"

    with pytest.raises(collect.CollectionError, match="label"):
        collect.collect_statements(_module_with(untyped))


# --------------------------------------------------------------------------- #
# Source scan
# --------------------------------------------------------------------------- #


def test_no_cypher_outside_queries_and_dialect() -> None:
    files = collect.source_files()
    assert any(p.name == "queries.py" for p in files)
    violations = collect.scan_sources()
    assert not violations, "\n".join(violations)


OFFENDING = textwrap.dedent('''
    """Match (n) in a docstring is prose: MATCH (n) RETURN n."""

    def find(tx, name, label):
        """MATCH (n) RETURN n -- docstrings are skipped."""
        note = "Return the newest run; match (case-insensitive) names. Create a site."
        other = [f"call {name} on {label}", "merge({T}, {F})", "With the default, return 0.",
                 "WITH <urn:g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }", "RETURN"]
        tx.run("MATCH (s:Site {name: $name}) RETURN s", name=name)
        tx.run(f"MERGE (n:{label} {{id: $id}})")
        tx.run("  OPTIONAL MATCH (a)-[:TRIED_AT]->(b) RETURN b")
        tx.run("CALL db.index.fulltext.queryNodes('x', $q) YIELD node RETURN node")
        tx.run("WITH 1 AS x RETURN x")
        tx.run("UNWIND $rows AS r CREATE (n:Site) SET n = r")
        tx.run("CREATE CONSTRAINT c IF NOT EXISTS FOR (n:Site) REQUIRE n.id IS UNIQUE")
        tx.run("match (n) detach delete n")
        return note, other
''')


def test_scanner_flags_cypher_literals() -> None:
    found = collect.cypher_literals(OFFENDING)
    assert [line for line, _ in found] == [9, 10, 11, 12, 13, 14, 15, 16]
    assert found[1][1] == "MERGE (n:{…} {id: $id})"


def test_scanner_flags_formatting_outside_builders() -> None:
    source = textwrap.dedent('''
        from triedbefore.graph.queries import cypher_builder

        X = f"MATCH (n:{LABEL}) RETURN n"

        @cypher_builder
        def ok(label):
            return f"MATCH (n:{label.value}) RETURN n"

        def by_name(name):
            a = "MATCH (n) WHERE n.name = '%s' RETURN n" % name
            b = "MATCH (n) WHERE n.name = '{}' RETURN n".format(name)
            return a + b
    ''')
    found = collect.formatting_outside_builders(source)
    assert [line for line, _ in found] == [4, 11, 12]


def test_scan_sources_walks_the_shipped_folders(tmp_path: Any) -> None:
    (tmp_path / "graph").mkdir()
    (tmp_path / "ingest").mkdir()
    (tmp_path / "graph" / "queries.py").write_text(
        'COUNT = "MATCH (n) RETURN count(n)"\n'
        'def by_label(label):\n    return f"MATCH (n:{label}) RETURN n"\n')
    (tmp_path / "graph" / "dialect.py").write_text('DDL = "CREATE INDEX FOR (n:Site) ON (n.id)"\n')
    (tmp_path / "ingest" / "load.py").write_text('Q = "MERGE (s:Site {id: $id})"\n')
    violations = collect.scan_sources(tmp_path)
    assert len(violations) == 2, violations
    assert violations[0].startswith("graph/queries.py:3: f-string")
    assert violations[1].startswith("ingest/load.py:1: Cypher outside graph/queries.py")
