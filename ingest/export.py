"""Write the graph back out: as an interchange bundle, or as RDF with the ontology's IRIs.

The bundle export is canonical (rows in id order, multi-valued cells sorted
where order carries no meaning, numbers without trailing ``.0``), so that
ingest → export → ingest into an empty store → export gives identical files.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from triedbefore.graph import queries
from triedbefore.graph.store import Store
from triedbefore.ingest import IngestError
from triedbefore.ontology.cells import protect_cell
from triedbefore.ontology.models import ROW_TYPES, InterchangeRow
from triedbefore.ontology.vocab import Label, Link

PAGE = 5000

#: Properties the graph keeps for itself; never exported as columns.
INTERNAL = {"run_id", "row_hash", "aliases_text", "tags_text", "sms_effective", "measure_key",
            "declares_solution", "embedding", "embedded_hash"}

RDF_FORMATS = ("turtle", "jsonld")


def _is_internal(key: str) -> bool:
    return key in INTERNAL or key.endswith(("_lo", "_hi"))


def format_cell(value: Any) -> str:
    """A property as an interchange cell; text a spreadsheet would run as a formula is
    protected (``ontology.cells.protect_cell``; the reader undoes it), numbers are written as they
    are."""
    if isinstance(value, str):
        return protect_cell(value)
    if isinstance(value, list):
        return protect_cell("|".join(_plain_cell(v) for v in value))
    return _plain_cell(value)


def _plain_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def iter_nodes(store: Store, label: Label) -> Iterator[dict[str, Any]]:
    """Nodes of a label in id order, each with its properties and reference ids. The ids
    are sorted here and the nodes fetched by id, a page at a time (index lookups)."""
    ids = sorted(str(r["id"]) for r in store.read(queries.all_ids(label)))
    statement = queries.export_page(label)
    for start in range(0, len(ids), PAGE):
        rows = store.read(statement, {"ids": ids[start:start + PAGE]})
        yield from sorted(rows, key=lambda r: str(r["props"]["id"]))


#: Files this project adds to the interchange v1 contract (design versions, components,
#: adaptations, lessons): written only when the graph holds rows for them, so that a graph
#: without any exports the five files it always did.
WHEN_NOT_EMPTY = frozenset({"versions.csv", "components.csv", "adaptations.csv", "lessons.csv"})


def export_bundle(store: Store, dest: Path) -> dict[str, int]:
    """Write the interchange files into ``dest``; returns rows per file. The v1 files are
    always written; this project's additions (``WHEN_NOT_EMPTY``) only when the graph holds
    rows for them, so that a graph without any exports the v1 bundle exactly."""
    dest.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for row_type in ROW_TYPES:
        path = dest / row_type.FILE
        count = _export_file(store, row_type, path)
        if count == 0 and row_type.FILE in WHEN_NOT_EMPTY:
            path.unlink()
            continue
        counts[row_type.FILE] = count
    return counts


def _export_file(store: Store, row_type: type[InterchangeRow], path: Path) -> int:
    label = row_type.LABEL
    columns = row_type.columns()
    known = set(columns)
    extras = sorted(
        str(r["key"]) for r in store.read(queries.property_keys(label))
        if str(r["key"]).startswith("x_") and str(r["key"])[2:] not in known
    )
    ref_links = {ref.column: ref.links for ref in row_type.REFERENCES}
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns + [e[2:] for e in extras])
        for record in iter_nodes(store, label):
            props = record["props"]
            row: list[str] = []
            for column in columns:
                if column == row_type.ID_COLUMN:
                    row.append(format_cell(props.get("id")))
                elif column in ref_links:
                    ids: list[str] = []
                    for link in ref_links[column]:
                        ids.extend(str(i) for i in record.get(link.name.lower()) or [])
                    row.append(protect_cell("|".join(sorted(set(ids)))))
                else:
                    row.append(format_cell(props.get(column)))
            row.extend(format_cell(props.get(e)) for e in extras)
            writer.writerow(row)
            count += 1
    os.replace(tmp, path)
    return count


def export_rdf(store: Store, dest: Path, fmt: str) -> Path:
    """Write the graph as RDF (``turtle`` or ``jsonld``) into ``dest``; returns the file."""
    from triedbefore.ontology.rdf import build_rdf, write_rdf

    if fmt not in RDF_FORMATS:
        raise IngestError(f"unknown RDF format {fmt!r}; allowed: {', '.join(RDF_FORMATS)}")

    def nodes() -> Iterator[tuple[Label, dict[str, Any]]]:
        for label in Label:
            if label is Label.CANDIDATE:
                continue  # candidates are proposals for curators, not facts
            if label is Label.WATCH:
                continue  # explorer users' own data, not part of the knowledge graph
            if label is Label.GRAPH_VERSION:
                continue  # the store's bookkeeping
            for record in iter_nodes(store, label):
                yield label, {k: v for k, v in record["props"].items()}

    def rels() -> Iterator[tuple[Any, str, str, dict[str, Any]]]:
        for link in Link:
            if link is Link.CANDIDATE_SOLUTION:
                continue
            for row in store.read(queries.export_links(link)):
                props = dict(row["props"] or {})
                if props.get("how") in ("suggested", "rejected"):
                    continue  # proposals and refusals are not facts
                if link.rel.value == "LEARNED_FROM":
                    props["to_label"] = link.target.value
                yield link.rel, str(row["source"]), str(row["target"]), props

    dest.mkdir(parents=True, exist_ok=True)
    return write_rdf(build_rdf(nodes(), rels()), dest, fmt)
