"""RDF export of the property graph, following ``triedbefore.ttl``.

``build_rdf`` turns node and relationship records, as read from the graph, into an rdflib
graph that ``shapes.ttl`` validates; ``write_rdf`` serialises it as Turtle or JSON-LD. No
database access happens here.

Mapping. Graph property names map to predicates through the ``tb:column`` annotations of
``triedbefore.ttl``, read once at import: a property applies to the classes of its
``rdfs:domain`` (a class, a superclass or an ``owl:unionOf``). A property with
``tb:valueScheme`` takes the concept IRI of the stored notation; any other takes a literal
of its ``rdfs:range``. Relationship types map to the object property with that
``tb:graphType``; its domain and range give the labels of both ends.

Values.
- Partial dates (range ``tb:PartialDate``) keep their precision: ``2019`` is
  ``xsd:gYear``, ``2019-06`` ``xsd:gYearMonth``, ``2019-06-14`` ``xsd:date``.
- Lists (aliases, tags, checksums) give one triple per item; their order is not kept.
- A value that does not fit its range (a date that does not exist, a number that is not a
  number) is written as a plain string, so that validation reports it; an enumerated value
  that is not in its scheme still gets an IRI under the scheme, which the shapes reject.
- ``rdfs:label`` is the value of a property marked ``tb:labelSource`` (name, title,
  measure), else ``"<Label> <id>"``.
- Provenance: ``run_id`` becomes ``prov:wasGeneratedBy tbi:run/<run_id>``; IngestRun
  nodes are typed ``prov:Activity`` and ``tb:IngestRun``. A contribution is
  ``prov:wasAttributedTo`` a ``prov:Agent`` of its own, named as its contributor chose.

Relationships. Each is one triple; ``run_id`` on relationships is not exported, except
on IMPLEMENTS, which also gets a ``tb:ImplementationLink`` (``tb:qualifiedImplementation``)
carrying ``how``, ``score`` and the run that wrote the link. The target label of
LEARNED_FROM comes from the record's ``to_label``, else from the nodes exported with it.

Properties outside the model. The graph's own bookkeeping (``row_hash``,
``sms_effective`` and the derived ``*_lo``, ``*_hi``, ``*_text``) is skipped. Unknown
columns kept as ``x_<column>`` are exported as ``tb:extra "<column>=<value>"``. Any other
property the ontology does not name is skipped and logged once per ``build_rdf`` call as a
warning naming the label and property, so a gap between the graph and the ontology shows
without stopping the export.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rdflib import OWL, RDF, RDFS, XSD, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCTERMS, PROV, SKOS
from rdflib.term import Node

from triedbefore.ontology import ONTOLOGY_PATH, OntologyError
from triedbefore.ontology.vocab import Label, Rel

_LOG = logging.getLogger(__name__)

TB = Namespace("https://w3id.org/triedbefore/ontology#")
TBV = Namespace("https://w3id.org/triedbefore/vocab/")
TBI = Namespace("https://w3id.org/triedbefore/id/")

NodeRecord = tuple[Label, dict[str, Any]]
RelRecord = tuple[Rel, str, str, dict[str, Any]]

PREFIXES: dict[str, str] = {
    "tb": str(TB),
    "tbv": str(TBV),
    "tbi": str(TBI),
    "prov": str(PROV),
    "skos": str(SKOS),
    "rdfs": str(RDFS),
    "xsd": str(XSD),
    "dcterms": str(DCTERMS),
}

#: The compact JSON-LD ``@context`` of the export.
JSONLD_CONTEXT: dict[str, str] = dict(PREFIXES)

#: Output file name and rdflib format per ``write_rdf`` format.
_FORMATS: dict[str, tuple[str, str]] = {
    "turtle": ("turtle", "triedbefore.ttl"),
    "ttl": ("turtle", "triedbefore.ttl"),
    "jsonld": ("json-ld", "triedbefore.jsonld"),
    "json-ld": ("json-ld", "triedbefore.jsonld"),
}

#: IRI path segment per label where it is not the label in lower case.
_SEGMENTS: dict[Label, str] = {Label.INGEST_RUN: "run"}

_INTERNAL = frozenset({"row_hash", "sms_effective", "measure_key", "declares_solution",
                       "verdict", "verdict_strength", "public_verdict",
                       "public_verdict_strength", "embedding", "embedded_hash"})
_INTERNAL_SUFFIXES = ("_lo", "_hi", "_text")
_REL_KEYS = frozenset({"run_id", "to_label"})
_PARTIAL_DATES = (
    (re.compile(r"\d{4}"), XSD.gYear),
    (re.compile(r"\d{4}-\d{2}"), XSD.gYearMonth),
    (re.compile(r"\d{4}-\d{2}-\d{2}"), XSD.date),
)


@dataclass(frozen=True)
class _Column:
    """One graph property of one class and the predicate it maps to."""

    name: str
    predicate: URIRef
    range: URIRef | None
    scheme: str | None  # local name of the concept scheme of an enumerated column
    label_source: bool

    def term(self, value: Any) -> Node:
        if self.scheme is not None:
            return concept_iri(self.scheme, str(value))
        return _literal(value, self.range)


@dataclass(frozen=True)
class _RelType:
    predicate: URIRef
    source: Label
    targets: tuple[Label, ...]


@dataclass(frozen=True)
class _Model:
    classes: dict[Label, URIRef]
    columns: dict[URIRef, dict[str, _Column]]  # class IRI -> graph property -> column
    rels: dict[Rel, _RelType]
    schemes: frozenset[str]


def load_ontology() -> Graph:
    """A fresh graph holding ``triedbefore.ttl``."""
    graph = Graph()
    graph.parse(ONTOLOGY_PATH, format="turtle")
    return graph


def concept_iri(scheme: str, notation: str) -> URIRef:
    """The IRI of a concept: ``tbv:<scheme in lower_snake_case>/<notation>``.

    ``scheme`` is the scheme's local name (``"SiteKind"``) or its snake form
    (``"site_kind"``). The notation is not checked against the scheme: the shapes do that.
    """
    snake = _snake(scheme)
    if snake not in _MODEL.schemes:
        raise OntologyError(f"no concept scheme {scheme!r} in the ontology")
    return URIRef(f"{TBV}{snake}/{quote(notation, safe='')}")


def concept_labels(scheme: str, lang: str = "en") -> dict[str, str]:
    """The ``skos:prefLabel`` of each concept of a scheme, by notation: what people read in
    place of an enumeration's value (``concept_labels("SiteKind")["sub_icb"]`` is
    "Sub-ICB location"). ``lang``: the label in that language where the ontology has one
    (``concept_labels("SiteKind", "cy")["care_home"]`` is "Cartref gofal"), else the
    English one. ``scheme`` as for :func:`concept_iri`."""
    snake = _snake(scheme)
    if snake not in _MODEL.schemes:
        raise OntologyError(f"no concept scheme {scheme!r} in the ontology")
    return {**_LABELS.get("en", {}).get(snake, {}),
            **(_LABELS.get(lang, {}).get(snake, {}) if lang != "en" else {})}


def instance_iri(label: Label | str, id: str) -> URIRef:
    """The IRI of a node: ``tbi:<label in lower case>/<id percent-encoded>``.

    IngestRun nodes are ``tbi:run/<id>``.
    """
    node_label = Label(label)
    segment = _SEGMENTS.get(node_label, node_label.value.lower())
    return URIRef(f"{TBI}{segment}/{quote(str(id), safe='')}")


def build_rdf(nodes: Iterable[NodeRecord], rels: Iterable[RelRecord]) -> Graph:
    """The RDF graph of the given nodes and relationships (see the module docstring)."""
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    # Turtle abbreviates tbi:site/RJ1 as site:RJ1 and tbv:design/rct as design:rct.
    for node_label in Label:
        segment = _SEGMENTS.get(node_label, node_label.value.lower())
        graph.bind(segment, f"{TBI}{segment}/")
    for scheme in sorted(_MODEL.schemes):
        graph.bind(scheme, f"{TBV}{scheme}/")
    known: dict[str, set[Label]] = {}
    unmapped: set[tuple[str, str]] = set()
    for label, props in nodes:
        node_label = Label(label)
        node_id = _add_node(graph, node_label, props, unmapped)
        known.setdefault(node_id, set()).add(node_label)
    for rel_type, from_id, to_id, props in rels:
        _add_rel(graph, Rel(rel_type), str(from_id), str(to_id), props, known, unmapped)
    if unmapped:
        _LOG.warning("The RDF file leaves out these properties, which the triedbefore "
                     "vocabulary does not define: %s",
                     ", ".join(f"{owner}.{key}" for owner, key in sorted(unmapped)))
    return graph


def write_rdf(graph: Graph, dest: Path, fmt: str) -> Path:
    """Write ``graph`` into the folder ``dest`` and return the file written.

    ``fmt`` ``"turtle"`` writes ``triedbefore.ttl``; ``"jsonld"`` writes
    ``triedbefore.jsonld`` with the compact ``JSONLD_CONTEXT``.
    """
    try:
        rdflib_format, file_name = _FORMATS[fmt.lower()]
    except KeyError:
        raise OntologyError(
            f"unknown RDF format {fmt!r}; use one of {', '.join(sorted(_FORMATS))}"
        ) from None
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    if rdflib_format == "json-ld":
        text = graph.serialize(format="json-ld", context=JSONLD_CONTEXT, auto_compact=True)
    else:
        text = graph.serialize(format="turtle")
    partial = path.with_name(path.name + ".part")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path


# ---------------------------------------------------------------------------
# Records to triples
# ---------------------------------------------------------------------------


def _add_node(graph: Graph, label: Label, props: Mapping[str, Any],
              unmapped: set[tuple[str, str]]) -> str:
    raw_id = props.get("id")
    if _is_empty(raw_id):
        raise OntologyError(f"a {label.value} record has no id")
    node_id = str(raw_id)
    cls = _MODEL.classes[label]
    subject = instance_iri(label, node_id)
    graph.add((subject, RDF.type, cls))
    if label is Label.INGEST_RUN:
        graph.add((subject, RDF.type, PROV.Activity))
    else:
        run_id = props.get("run_id")
        if not _is_empty(run_id):
            graph.add((subject, PROV.wasGeneratedBy, instance_iri(Label.INGEST_RUN, str(run_id))))
    columns = _MODEL.columns[cls]
    shown = _add_columns(graph, subject, columns, props, skip={"run_id"},
                         owner=label.value, unmapped=unmapped)
    graph.add((subject, RDFS.label, Literal(shown or f"{label.value} {node_id}")))
    if label is Label.CONTRIBUTION:
        _attribute(graph, subject, node_id, props)
    return node_id


#: The name of the agent of a contribution whose contributor chose not to be named.
UNNAMED_CONTRIBUTOR = "A contributor who chose not to be named"


def _attribute(graph: Graph, subject: URIRef, node_id: str, props: Mapping[str, Any]) -> None:
    """PROV-O attribution of a contribution: ``prov:wasAttributedTo`` an agent of its own
    (``tbi:contributor/<contribution id>``), labelled with the name the contributor chose
    to show. No account name or contact is exported, so that no record links two
    contributions of a contributor who chose not to be named."""
    agent = URIRef(f"{TBI}contributor/{quote(node_id, safe='')}")
    name = props.get("contributor")
    graph.add((agent, RDF.type, PROV.Agent))
    graph.add((agent, RDFS.label, Literal(UNNAMED_CONTRIBUTOR if _is_empty(name) else str(name))))
    graph.add((subject, PROV.wasAttributedTo, agent))


def _add_rel(graph: Graph, rel: Rel, from_id: str, to_id: str, props: Mapping[str, Any],
             known: Mapping[str, set[Label]], unmapped: set[tuple[str, str]]) -> None:
    spec = _MODEL.rels[rel]
    target = _target_label(rel, spec, to_id, props, known)
    subject = instance_iri(spec.source, from_id)
    obj = instance_iri(target, to_id)
    graph.add((subject, spec.predicate, obj))
    if rel is not Rel.IMPLEMENTS:
        unmapped.update((rel.value, key) for key in props
                        if key not in _REL_KEYS and not _is_internal(key))
        return
    link = URIRef(f"{subject}/implements/{quote(to_id, safe='')}")
    graph.add((subject, TB.qualifiedImplementation, link))
    graph.add((link, RDF.type, TB.ImplementationLink))
    graph.add((link, TB.implementedSolution, obj))
    run_id = props.get("run_id")
    if not _is_empty(run_id):
        graph.add((link, PROV.wasGeneratedBy, instance_iri(Label.INGEST_RUN, str(run_id))))
    _add_columns(graph, link, _MODEL.columns[TB.ImplementationLink], props, skip=_REL_KEYS,
                 owner=rel.value, unmapped=unmapped)


def _target_label(rel: Rel, spec: _RelType, to_id: str, props: Mapping[str, Any],
                  known: Mapping[str, set[Label]]) -> Label:
    if len(spec.targets) == 1:
        return spec.targets[0]
    given = props.get("to_label")
    if not _is_empty(given):
        label = Label(str(given))
        if label not in spec.targets:
            raise OntologyError(f"{rel.value} cannot point to a {label.value}")
        return label
    candidates = [label for label in spec.targets if label in known.get(to_id, ())]
    if len(candidates) != 1:
        names = " or ".join(label.value for label in spec.targets)
        raise OntologyError(
            f"{rel.value} to {to_id!r}: give to_label ({names}); the exported nodes do not decide"
        )
    return candidates[0]


def _add_columns(graph: Graph, subject: URIRef, columns: Mapping[str, _Column],
                 props: Mapping[str, Any], *, skip: Iterable[str], owner: str,
                 unmapped: set[tuple[str, str]]) -> str | None:
    """Add the mapped properties of ``props``; return the label text if one was found.

    Properties that are neither mapped, ``x_`` extras nor internal go to ``unmapped``.
    """
    skipped = set(skip)
    shown: str | None = None
    for key, value in props.items():
        if key in skipped:
            continue
        column = columns.get(key)
        if column is None:
            if key.startswith("x_"):
                if not _is_empty(value):
                    graph.add((subject, TB.extra, Literal(f"{key[2:]}={value}")))
                continue
            if not _is_internal(key):
                unmapped.add((owner, key))
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if _is_empty(item):
                continue
            graph.add((subject, column.predicate, column.term(item)))
            if column.label_source and shown is None:
                shown = str(item)
    return shown


def _is_internal(key: str) -> bool:
    return key in _INTERNAL or key.endswith(_INTERNAL_SUFFIXES)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value == ""
    if isinstance(value, (list, tuple)):
        return all(_is_empty(item) for item in value)
    return False


def _literal(value: Any, datatype: URIRef | None) -> Literal:
    """A literal of ``datatype``, or a plain string when the value does not fit it."""
    if datatype == TB.PartialDate:
        return _partial_date(value)
    if datatype is None or datatype in (XSD.string, RDFS.Literal):
        return Literal(str(value))
    try:
        if datatype == XSD.boolean:
            return Literal(_boolean(value))
        if datatype == XSD.integer:
            return Literal(_integer(value), datatype=XSD.integer)
        if datatype == XSD.double:
            if isinstance(value, bool):
                raise ValueError(value)
            return Literal(float(value), datatype=XSD.double)
        if datatype == XSD.dateTime:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            return Literal(moment.isoformat(), datatype=XSD.dateTime)
    except (TypeError, ValueError):
        return Literal(str(value))
    return Literal(str(value), datatype=datatype)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ValueError(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    return int(str(value).strip())


def _partial_date(value: Any) -> Literal:
    text = value.isoformat() if isinstance(value, date) else str(value).strip()
    for pattern, datatype in _PARTIAL_DATES:
        if pattern.fullmatch(text):
            try:
                if datatype == XSD.date:
                    date.fromisoformat(text)
                elif datatype == XSD.gYearMonth:
                    date.fromisoformat(f"{text}-01")
            except ValueError:
                break
            return Literal(text, datatype=datatype)
    return Literal(text)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# ---------------------------------------------------------------------------
# The mapping, read from the ontology
# ---------------------------------------------------------------------------


def _read_model(ontology: Graph) -> _Model:
    classes: dict[Label, URIRef] = {}
    for cls, name in ontology.subject_objects(TB.graphLabel):
        classes[Label(str(name))] = _iri(cls)
    missing = set(Label) - set(classes)
    if missing:
        raise OntologyError(f"the ontology has no class for {sorted(missing)}")
    labels = {cls: label for label, cls in classes.items()}

    schemes = frozenset(
        _snake(_local_name(scheme)) for scheme in ontology.subjects(RDF.type, SKOS.ConceptScheme)
    )

    columns: dict[URIRef, dict[str, _Column]] = {cls: {} for cls in classes.values()}
    columns[TB.ImplementationLink] = {}
    for prop, name in ontology.subject_objects(TB.column):
        scheme = ontology.value(prop, TB.valueScheme)
        rng = ontology.value(prop, RDFS.range)
        column = _Column(
            name=str(name),
            predicate=_iri(prop),
            range=_iri(rng) if isinstance(rng, URIRef) else None,
            scheme=_local_name(scheme) if scheme is not None else None,
            label_source=(prop, TB.labelSource, Literal(True)) in ontology,
        )
        domains = _classes(ontology, ontology.value(prop, RDFS.domain))
        for cls, mapping in columns.items():
            if not domains.intersection(_superclasses(ontology, cls)):
                continue
            if column.name in mapping:
                raise OntologyError(
                    f"two properties have tb:column {column.name!r} on {cls}: "
                    f"{mapping[column.name].predicate} and {column.predicate}"
                )
            mapping[column.name] = column

    rels: dict[Rel, _RelType] = {}
    for prop, name in ontology.subject_objects(TB.graphType):
        source = _classes(ontology, ontology.value(prop, RDFS.domain))
        targets = _classes(ontology, ontology.value(prop, RDFS.range))
        if len(source) != 1 or not targets or not (source | targets) <= labels.keys():
            raise OntologyError(f"{prop}: domain and range must be graph classes")
        (source_cls,) = source
        rels[Rel(str(name))] = _RelType(
            predicate=_iri(prop),
            source=labels[source_cls],
            targets=tuple(sorted((labels[cls] for cls in targets), key=list(Label).index)),
        )
    missing_rels = set(Rel) - set(rels)
    if missing_rels:
        raise OntologyError(f"the ontology has no object property for {sorted(missing_rels)}")
    return _Model(classes=classes, columns=columns, rels=rels, schemes=schemes)


def _classes(ontology: Graph, node: Node | None) -> set[URIRef]:
    """The classes named by a domain or range: a class IRI or an ``owl:unionOf``."""
    if node is None:
        return set()
    if isinstance(node, URIRef):
        return {node}
    union = ontology.value(node, OWL.unionOf)
    if union is None:
        return set()
    return {member for member in Collection(ontology, union) if isinstance(member, URIRef)}


def _superclasses(ontology: Graph, cls: URIRef) -> set[URIRef]:
    return {
        node for node in ontology.transitive_objects(cls, RDFS.subClassOf)
        if isinstance(node, URIRef)
    }


def _iri(node: Node) -> URIRef:
    if not isinstance(node, URIRef):
        raise OntologyError(f"expected an IRI in the ontology, found {node!r}")
    return node


def _local_name(node: Node) -> str:
    text = str(node)
    return re.split(r"[#/]", text)[-1]


def _read_labels(ontology: Graph) -> dict[str, dict[str, dict[str, str]]]:
    """Language tag → scheme → notation → that language's ``skos:prefLabel``."""
    labels: dict[str, dict[str, dict[str, str]]] = {}
    for concept, scheme in ontology.subject_objects(SKOS.inScheme):
        notation = ontology.value(concept, SKOS.notation)
        if notation is None:
            continue
        for label in ontology.objects(concept, SKOS.prefLabel):
            lang = getattr(label, "language", None) or "en"
            labels.setdefault(lang, {}).setdefault(_snake(_local_name(scheme)), {})[
                str(notation)] = str(label)
    return labels


_ONTOLOGY = load_ontology()
_MODEL = _read_model(_ONTOLOGY)
_LABELS = _read_labels(_ONTOLOGY)
