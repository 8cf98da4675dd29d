"""Opening the store a URI names: the one place that knows every engine's store class."""

from __future__ import annotations

from triedbefore.graph import settings
from triedbefore.graph.store import Store, StoreURI, parse_store_uri


def open_store(uri: str | StoreURI | None = None) -> Store:
    """Open the store a URI names, starting the embedded server when needed."""
    parsed = uri if isinstance(uri, StoreURI) else parse_store_uri(uri)
    if parsed.engine == "embedded" and parsed.path is not None:
        from triedbefore.graph.topology import LocalTopology

        if LocalTopology.exists(parsed.path):  # made by `triedbefore db start --replicas`
            return LocalTopology(parsed.path).open_store(parsed)
    if parsed.engine == "falkordb" and parsed.protocol in ("sentinel", "replicated"):
        from triedbefore.graph.replicated import open_replicated

        return open_replicated(parsed)
    if parsed.engine == "embedded":
        from triedbefore.graph.embedded import EmbeddedServer
        from triedbefore.graph.falkor import FalkorStore

        fsync = parsed.options.get("fsync", settings.FSYNC.get())
        server = EmbeddedServer(parsed.path or settings.data_dir(), fsync=fsync)
        server.ensure_running()
        return FalkorStore(parsed, socket_path=server.socket_path,
                           restart=server.ensure_running,
                           client_options={"credential_provider": server.credentials()})
    if parsed.engine == "falkordb" and parsed.protocol == "bolt":
        from triedbefore.graph.neo4j_store import FalkorBoltStore

        return FalkorBoltStore(parsed)
    if parsed.engine == "falkordb":
        from triedbefore.graph.falkor import FalkorStore
        from triedbefore.graph.replicated import read_password

        return FalkorStore(parsed, socket_path=parsed.path, password=read_password(parsed))
    from triedbefore.graph.neo4j_store import Neo4jStore

    return Neo4jStore(parsed)
