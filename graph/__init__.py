"""The triedbefore graph: one store interface over FalkorDB (embedded) and Neo4j."""

from __future__ import annotations


class GraphError(Exception):
    """Base of every error raised by ``triedbefore.graph``."""


class StoreURIError(GraphError):
    """A store URI that names no known engine or is malformed."""


class StoreUnavailable(GraphError):
    """The database cannot be reached or started."""


class QueryError(GraphError):
    """The engine rejected a statement."""


class QueryRefused(GraphError):
    """A statement was refused before it ran (for example a write in a read-only context)."""


class RequestError(Exception):
    """A question the graph cannot answer as asked: the asker's mistake, not the store's
    (the explorer answers 404 or 400, the command line exits with a one-line message)."""


class NotFound(RequestError):
    """No record with that id."""


class BadArgument(RequestError):
    """An argument outside what the question allows (e.g. a malformed date)."""
