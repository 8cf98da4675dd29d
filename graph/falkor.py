"""FalkorDB backend: the embedded default and external FalkorDB servers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis
from falkordb import FalkorDB
from falkordb.edge import Edge
from falkordb.node import Node

from triedbefore.graph import QueryError, StoreUnavailable
from triedbefore.graph.dialect import KEYED_LABELS, FalkorDialect
from triedbefore.graph.store import Params, Row, Store, StoreURI, WriteSummary

_ALREADY = ("already indexed", "already exists", "constraint already")


def _plain(value: Any) -> Any:
    """Result values as plain Python: nodes and edges become property dicts."""
    if isinstance(value, Node | Edge):
        return dict(value.properties)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


class FalkorStore(Store):
    engine = "falkordb"

    def __init__(self, uri: StoreURI, *, socket_path: Path | None = None) -> None:
        self.uri = uri
        self.dialect = FalkorDialect()
        try:
            if socket_path is not None:
                self._db = FalkorDB(unix_socket_path=str(socket_path))
            else:
                self._db = FalkorDB(host=uri.host or "127.0.0.1", port=uri.port or 6379,
                                    password=uri.options.get("password"))
            self._db.connection.ping()
        except (redis.ConnectionError, OSError) as exc:
            raise StoreUnavailable(f"cannot reach FalkorDB at {uri.display}: {exc}") from None
        self._graph = self._db.select_graph(uri.graph)

    @property
    def graph_name(self) -> str:
        return str(self._graph.name)

    def _run(self, query: str, params: Params | None, *, read_only: bool,
             timeout_ms: int | None = None) -> Any:
        try:
            if read_only:
                return self._graph.ro_query(query, dict(params or {}), timeout=timeout_ms)
            return self._graph.query(query, dict(params or {}), timeout=timeout_ms)
        except redis.ResponseError as exc:
            message = str(exc)
            if read_only and "empty key" in message:
                return None  # the graph has no data yet
            raise QueryError(message) from None
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(f"lost connection to FalkorDB at {self.uri.display}: {exc}"
                                   ) from None

    @staticmethod
    def _rows(result: Any) -> list[Row]:
        if result is None or not result.header:
            return []
        names = [col[1] if isinstance(col, list | tuple) else col for col in result.header]
        return [{name: _plain(v) for name, v in zip(names, row, strict=True)}
                for row in result.result_set]

    def read(self, query: str, params: Params | None = None, *,
             timeout_ms: int | None = None) -> list[Row]:
        return self._rows(self._run(query, params, read_only=True, timeout_ms=timeout_ms))

    def write(self, query: str, params: Params | None = None) -> tuple[list[Row], WriteSummary]:
        result = self._run(query, params, read_only=False)
        summary = WriteSummary(
            nodes_created=result.nodes_created,
            nodes_deleted=result.nodes_deleted,
            relationships_created=result.relationships_created,
            relationships_deleted=result.relationships_deleted,
            properties_set=result.properties_set,
        )
        return self._rows(result), summary

    def run_schema(self, statement: str) -> None:
        try:
            self._graph.query(statement)
        except redis.ResponseError as exc:
            if not any(token in str(exc).lower() for token in _ALREADY):
                raise QueryError(f"{exc} (in: {statement})") from None

    def ensure_schema(self) -> None:
        super().ensure_schema()
        existing = set()
        try:
            for row in self._graph.list_constraints():
                existing.add((row.get("label"), tuple(row.get("properties") or ())))
        except redis.ResponseError:
            pass
        for label in KEYED_LABELS:
            if (label.value, ("id",)) in existing:
                continue
            try:
                self._graph.create_node_unique_constraint(label.value, "id")
            except redis.ResponseError as exc:
                if not any(token in str(exc).lower() for token in _ALREADY):
                    raise QueryError(f"unique constraint on {label.value}.id: {exc}") from None

    def drop_all(self) -> None:
        """Delete this graph entirely (tests and `db reset`)."""
        try:
            self._graph.delete()
        except redis.ResponseError:
            pass

    def close(self) -> None:
        try:
            self._db.connection.close()
        except Exception:  # noqa: BLE001 - closing must never raise
            pass
