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

    def schema_statements(self) -> list[str]:
        out = [self.unique_constraint(label) for label in KEYED_LABELS]
        out += [f"CREATE INDEX tb_{label.value.lower()}_{prop} IF NOT EXISTS "
                f"FOR (n:{label.value}) ON (n.{prop})"
                for label, props in PROPERTY_INDEXES.items() for prop in props]
        out += [self.fulltext_index(label) for label in FULLTEXT_FIELDS]
        return out

    def fulltext_query(self, label: Label) -> str:
        FULLTEXT_FIELDS[label]  # only labels with a full-text index can be searched
        return (f"CALL db.index.fulltext.queryNodes('{fulltext_index_name(label)}', $q) "
                "YIELD node, score WITH node, score ORDER BY score DESC LIMIT $limit "
                "RETURN node {.id, .name, .title, .text, .kind, .start_date, .start_date_lo} "
                "AS node, score")

    def _terms(self, words: list[str], every: bool) -> str:
        # Lucene: terms are OR-ed by default, `+` makes one required, `word~1` allows one
        # edit.
        must = "+" if every else ""
        return " ".join(f"{must}{w}~1" if len(w) >= 5 else must + w for w in _clean(words))


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
        return out

    def index_list(self) -> str:
        """The graph's indexes: ``label``, ``properties`` and ``types`` (property → index
        kinds)."""
        return "CALL db.indexes() YIELD label, properties, types RETURN label, properties, types"

    def fulltext_query(self, label: Label) -> str:
        FULLTEXT_FIELDS[label]  # only labels with a full-text index can be searched
        return (f"CALL db.idx.fulltext.queryNodes('{label.value}', $q) "
                "YIELD node, score WITH node, score ORDER BY score DESC LIMIT $limit "
                "RETURN node {.id, .name, .title, .text, .kind, .start_date, .start_date_lo} "
                "AS node, score")

    def _terms(self, words: list[str], every: bool) -> str:
        # RediSearch: `|` is OR, a space AND, `%word%` allows one edit.
        return (" " if every else "|").join(f"%{w}%" if len(w) >= 5 else w
                                            for w in _clean(words))


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
