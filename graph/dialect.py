"""The few statements that differ between Neo4j 5 and FalkorDB.

Everything else the project sends is portable Cypher in ``queries.py``.
Here live schema DDL (constraints, indexes, full-text indexes) and the
full-text query call. Labels and property names come from the ontology.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from triedbefore.ontology.vocab import Label

#: Labels whose ``id`` is unique.
KEYED_LABELS: tuple[Label, ...] = tuple(Label)

#: Full-text indexed properties per label (strings only; lists are indexed via ``*_text``).
FULLTEXT_FIELDS: dict[Label, tuple[str, ...]] = {
    Label.SOLUTION: ("name", "aliases_text", "description", "problem", "tags_text"),
    Label.INITIATIVE: ("title", "description"),
    Label.EVALUATION: ("title", "evaluator"),
    Label.SITE: ("name",),
    Label.LESSON: ("text",),
}

#: Labels whose nodes carry a sentence vector (``VECTOR_PROPERTY``), with the hash of the
#: text it was made from (``VECTOR_HASH``): what search, resolution and the proposal check
#: compare by meaning.
VECTOR_LABELS: tuple[Label, ...] = (Label.SOLUTION, Label.INITIATIVE, Label.EVALUATION)
VECTOR_PROPERTY = "embedding"
VECTOR_HASH = "embedded_hash"
VECTOR_DIMENSIONS = 384
#: Vectors are sent to the store as integers, each component times this (a precision of
#: 1e-5, beyond what a cosine's ranking feels), and divided back by the statement: the
#: statement's text is a quarter as long, and Python writes integers eight times faster
#: than floats (the vectors' text was half an ingest's cost of embedding).
VECTOR_SCALE = 100_000
#: Vectors written by one statement at most. The engine adds each to its vector index
#: (HNSW) while the statement commits, and a FalkorDB server answers nothing else
#: meanwhile, not even a Sentinel's PING: 2,000 at once held it for up to 6.5 s on a
#: loaded machine, past a replicated deployment's 5 s down-after time (a failover).
VECTOR_WRITE_BATCH = 250
#: FalkorDB's vector index (HNSW): links per node (M), candidates kept while a vector is
#: added (efConstruction) and while one is searched (efRuntime). Adding costs the
#: server per vector; at 100,000 initiatives (``bench/vector_index_bench.py``,
#: ``bench/results/vector-index-99000.md``) M 16 / efConstruction 64 took 0.19 ms
#: against 0.39 ms for 32 / 200, with recall@10 0.904 against 0.912. efRuntime 200:
#: FalkorDB's default of 10 returned one node of three asked for.
FALKOR_HNSW = (16, 64, 200)

#: Other indexed properties: the change list is read by recording time, watches by user.
PROPERTY_INDEXES: dict[Label, tuple[str, ...]] = {
    Label.VERDICT_CHANGE: ("changed_at",),
    Label.WATCH: ("user",),
}

#: Neo4j administration (run on its ``system`` database): the public copy's database.
SHOW_DATABASE = "SHOW DATABASES YIELD name WHERE name = $name RETURN name"
CREATE_DATABASE = "CREATE DATABASE $name IF NOT EXISTS WAIT"


def fulltext_index_name(label: Label) -> str:
    return f"tb_text_{label.value.lower()}"


def vector_index_name(label: Label) -> str:
    return f"tb_vector_{label.value.lower()}"


#: Fuzzy matching of the full-text side: a word of ``FUZZY_ONE`` letters or more may be
#: one edit away (a typo: "telehelth"), one of ``FUZZY_TWO`` or more two edits away
#: ("rehabilitaion" for "rehabilitation"); shorter words match as written ("copd" is not
#: "cope"). Both engines allow at most two edits.
FUZZY_ONE, FUZZY_TWO = 5, 8


def fuzzy_edits(word: str) -> int:
    return 2 if len(word) >= FUZZY_TWO else 1 if len(word) >= FUZZY_ONE else 0


class Dialect(ABC):
    name: str

    @abstractmethod
    def schema_statements(self) -> list[str]:
        """DDL creating the indexes this engine needs, in order."""

    @abstractmethod
    def fulltext_query(self, label: Label) -> str:
        """A statement with parameters ``$q`` and ``$limit`` yielding ``node`` (a map of
        its ``id``, ``name``, ``title``, ``start_date`` and ``start_date_lo``, not the whole
        node) and ``score`` (higher is better). The map is built after ``LIMIT``, for the best
        ``$limit`` hits only: a common word matches most of a large graph, and building it
        for every hit cost five times the search itself."""

    def fulltext_passes(self, label: Label) -> list[str]:
        """:meth:`fulltext_query` for one and for two passes at once (``$q0``, ``$q1``; a
        round trip saved), each pass's best ``$limit`` rows tagged with its ``pass``."""
        one = self.fulltext_query(label)
        if one.count("$q)") != 1:
            raise ValueError("the full-text query takes its terms as $q")
        branches = [one.replace("$q)", f"$q{i})") + f", {i} AS pass" for i in range(2)]
        return [branches[0], " UNION ALL ".join(branches)]

    @abstractmethod
    def vector_query(self, label: Label) -> str:
        """A statement with parameters ``$v`` (a unit vector) and ``$k`` yielding the ``$k``
        nearest nodes of ``label`` by meaning: ``id`` and ``similarity`` (the cosine,
        higher is nearer; see :meth:`similarity`)."""

    @abstractmethod
    def set_vectors(self, label: Label) -> str:
        """A statement setting ``VECTOR_PROPERTY`` and ``VECTOR_HASH`` from ``$rows`` =
        [{id, vector, hash}], ``vector`` in integers (``VECTOR_SCALE``)."""

    @abstractmethod
    def _terms(self, words: list[str], every: bool) -> str:
        """The engine's full-text query text for cleaned words: any of them, or
        ``every`` one of them."""


class Neo4jDialect(Dialect):
    name = "neo4j"

    def unique_constraint(self, label: Label) -> str:
        return (f"CREATE CONSTRAINT tb_{label.value.lower()}_id IF NOT EXISTS "
                f"FOR (n:{label.value}) REQUIRE n.id IS UNIQUE")

    def fulltext_index(self, label: Label) -> str:
        fields = ", ".join(f"n.{f}" for f in FULLTEXT_FIELDS[label])
        return (f"CREATE FULLTEXT INDEX {fulltext_index_name(label)} IF NOT EXISTS "
                f"FOR (n:{label.value}) ON EACH [{fields}]")

    def vector_index(self, label: Label) -> str:
        return (f"CREATE VECTOR INDEX {vector_index_name(label)} IF NOT EXISTS "
                f"FOR (n:{label.value}) ON (n.{VECTOR_PROPERTY}) OPTIONS {{indexConfig: {{"
                f"`vector.dimensions`: {VECTOR_DIMENSIONS}, "
                "`vector.similarity_function`: 'cosine'}}")

    def schema_statements(self) -> list[str]:
        out = [self.unique_constraint(label) for label in KEYED_LABELS]
        out += [f"CREATE INDEX tb_{label.value.lower()}_{prop} IF NOT EXISTS "
                f"FOR (n:{label.value}) ON (n.{prop})"
                for label, props in PROPERTY_INDEXES.items() for prop in props]
        out += [self.fulltext_index(label) for label in FULLTEXT_FIELDS]
        out += [self.vector_index(label) for label in VECTOR_LABELS]
        return out

    def vector_query(self, label: Label) -> str:
        # Neo4j's score for cosine is (1 + cosine) / 2.
        return (f"CALL db.index.vector.queryNodes('{vector_index_name(label)}', $k, $v) "
                "YIELD node, score RETURN node.id AS id, 2 * score - 1 AS similarity")

    def set_vectors(self, label: Label) -> str:
        return (f"UNWIND $rows AS r MATCH (n:{label.value} {{id: r.id}}) "
                f"SET n.{VECTOR_PROPERTY} = [x IN r.vector | x / {VECTOR_SCALE}.0], "
                f"n.{VECTOR_HASH} = r.hash")

    def fulltext_query(self, label: Label) -> str:
        FULLTEXT_FIELDS[label]  # only labels with a full-text index can be searched
        return (f"CALL db.index.fulltext.queryNodes('{fulltext_index_name(label)}', $q) "
                "YIELD node, score WITH node, score ORDER BY score DESC LIMIT $limit "
                "RETURN node {.id, .name, .title, .text, .kind, .region, .start_date, "
                ".start_date_lo} AS node, score")

    def _terms(self, words: list[str], every: bool) -> str:
        # Lucene: terms are OR-ed by default, `+` makes one required, `word~N` allows N
        # edits.
        must = "+" if every else ""
        return " ".join(f"{must}{w}~{fuzzy_edits(w)}" if fuzzy_edits(w) else must + w
                        for w in _clean(words))


def _clean(words: list[str]) -> list[str]:
    return [w for w in (("".join(ch for ch in word.lower() if ch.isalnum())) for word in words)
            if w]


class FalkorDialect(Dialect):
    """FalkorDB 4.16: unnamed range indexes; unique constraints are a Redis command
    (``GRAPH.CONSTRAINT``) issued by the store, not Cypher."""

    name = "falkordb"

    def range_index(self, label: Label) -> str:
        return f"CREATE INDEX FOR (n:{label.value}) ON (n.id)"

    def fulltext_index(self, label: Label) -> str:
        fields = ", ".join(f"n.{f}" for f in FULLTEXT_FIELDS[label])
        return f"CREATE FULLTEXT INDEX FOR (n:{label.value}) ON ({fields})"

    def schema_statements(self) -> list[str]:
        return [statement for _key, statement in self._schema()]

    def _schema(self) -> list[tuple[tuple[str, str, str], str]]:
        """Each index as ((label, property, RANGE or FULLTEXT), its DDL): the store on
        FalkorDB's Bolt listener skips those :meth:`index_list` already shows, since the
        listener's answer to 'already indexed' is an error without a reason."""
        out = [((label.value, "id", "RANGE"), self.range_index(label))
               for label in KEYED_LABELS]
        out += [((label.value, prop, "RANGE"),
                 f"CREATE INDEX FOR (n:{label.value}) ON (n.{prop})")
                for label, props in PROPERTY_INDEXES.items() for prop in props]
        out += [((label.value, FULLTEXT_FIELDS[label][0], "FULLTEXT"),
                 self.fulltext_index(label)) for label in FULLTEXT_FIELDS]
        out += [((label.value, VECTOR_PROPERTY, "VECTOR"), self.vector_index(label))
                for label in VECTOR_LABELS]
        return out

    def vector_index(self, label: Label) -> str:
        m, construction, runtime = FALKOR_HNSW
        return (f"CREATE VECTOR INDEX FOR (n:{label.value}) ON (n.{VECTOR_PROPERTY}) "
                f"OPTIONS {{dimension: {VECTOR_DIMENSIONS}, similarityFunction: 'cosine', "
                f"M: {m}, efConstruction: {construction}, efRuntime: {runtime}}}")

    def vector_query(self, label: Label) -> str:
        # FalkorDB's score for cosine is the distance, 1 - cosine.
        return (f"CALL db.idx.vector.queryNodes('{label.value}', '{VECTOR_PROPERTY}', $k, "
                "vecf32($v)) YIELD node, score RETURN node.id AS id, 1 - score AS similarity")

    def set_vectors(self, label: Label) -> str:
        return (f"UNWIND $rows AS r MATCH (n:{label.value} {{id: r.id}}) "
                f"SET n.{VECTOR_PROPERTY} = vecf32([x IN r.vector | x / {VECTOR_SCALE}.0]), "
                f"n.{VECTOR_HASH} = r.hash")

    def retype_vectors(self, label: Label) -> str:
        """Vectors read back (as lists) and written again, in a copy of the graph, become
        vectors again, so the copy's index holds them: the nodes ``$ids``, a batch of
        ``VECTOR_WRITE_BATCH`` at a time (the whole label at once held a server for 55 s
        at 100,000 initiatives)."""
        return (f"UNWIND $ids AS x MATCH (n:{label.value} {{id: x}}) "
                f"WHERE n.{VECTOR_PROPERTY} IS NOT NULL "
                f"SET n.{VECTOR_PROPERTY} = vecf32(n.{VECTOR_PROPERTY})")

    def index_list(self) -> str:
        """The graph's indexes: ``label``, ``properties`` and ``types`` (property → index
        kinds)."""
        return "CALL db.indexes() YIELD label, properties, types RETURN label, properties, types"

    def indexes_building(self) -> str:
        """How many of the graph's indexes are still being built (``building``). A server
        that has loaded its files answers at once, then builds its indexes again in the
        background; meanwhile a full-text or vector search misses records."""
        return ("CALL db.indexes() YIELD status WHERE status <> 'OPERATIONAL' "
                "RETURN count(status) AS building")

    def fulltext_query(self, label: Label) -> str:
        FULLTEXT_FIELDS[label]  # only labels with a full-text index can be searched
        return (f"CALL db.idx.fulltext.queryNodes('{label.value}', $q) "
                "YIELD node, score WITH node, score ORDER BY score DESC LIMIT $limit "
                "RETURN node {.id, .name, .title, .text, .kind, .region, .start_date, "
                ".start_date_lo} AS node, score")

    def _terms(self, words: list[str], every: bool) -> str:
        # RediSearch: `|` is OR, a space AND, `%word%` allows one edit, `%%word%%` two.
        return (" " if every else "|").join(
            "%" * fuzzy_edits(w) + w + "%" * fuzzy_edits(w) for w in _clean(words))


def missing_indexes(dialect: FalkorDialect, indexes: list[dict[str, Any]]) -> list[str]:
    """The DDL of ``dialect``'s schema whose index ``indexes`` (rows of
    :meth:`FalkorDialect.index_list`) does not show."""
    have = {(str(r["label"]), str(prop), str(kind)) for r in indexes
            for prop, kinds in (r.get("types") or {}).items() for kind in kinds}
    return [statement for key, statement in dialect._schema() if key not in have]


def fulltext_terms(dialect: Dialect, words: list[str], every: bool = False) -> str:
    """The ``$q`` value for a full-text query: any word matches (or, with ``every``, all
    of them must), words of five letters or more also with one typo. Only lower-case
    alphanumerics reach the engine's query parser, so user text cannot change the
    query's structure. A parameter, never part of a statement."""
    return dialect._terms(words, every)
