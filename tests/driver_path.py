"""The driver path's test helpers: Bolt servers on free ports, the store URI, and why a
store test stays with the stand-in driver (or a real Neo4j) on that path. Fixtures using
them are in conftest.py."""

from __future__ import annotations

from pathlib import Path

from triedbefore.graph.embedded import EmbeddedServer

#: Why a store test stays with the stand-in driver (or a real Neo4j) on this path; each
#: names the failing call (docs/scaling.md, "FalkorDB's Bolt listener").
NO_PLAN = ("FalkorDB's Bolt listener runs EXPLAIN'd statements (execute_query('EXPLAIN "
           "CREATE (:X)') creates the node; summary.query_type is None): the stand-in "
           "driver and NEO4J_URI test query_type")
NO_ROLLBACK = ("FalkorDB's Bolt listener commits each statement at once (tx.rollback() "
               "after tx.run('CREATE …') leaves the node): the stand-in driver and NEO4J_URI "
               "test read_limited's rolled-back READ transaction")
NO_ENGINE_GUARD = ("FalkorDB's Bolt listener runs writes in READ transactions "
                   "(session(default_access_mode=READ_ACCESS).begin_transaction().run('CREATE "
                   "(:X)') creates the node) and cannot plan without running nor roll back: "
                   "on the driver path the console's guard is the lexical check; the engine "
                   "layer is tested on GRAPH.RO_QUERY here and with the stand-in driver and "
                   "NEO4J_URI in test_console_neo4j.py")
NO_MESSAGE = ("FalkorDB's Bolt listener reports every error as "
              "Neo.DatabaseError.General.UnknownError 'An unknown error occurred' "
              "(execute_query('RETRUN 1')): the engine's message is tested on the embedded "
              "store and with NEO4J_URI")
NO_TEMPORAL = ("FalkorDB's Bolt listener stops the whole server on a temporal result "
               "(execute_query(\"RETURN date('2020-01-01')\"): assertion 'Unhandled value "
               "type' in resultset_replybolt.c): temporal values are tested on the embedded "
               "store and with NEO4J_URI")
NO_EMPTIED_GRAPH = ("FalkorDB 4.16 fault: once the listener's graph held this case's 20,000 "
                    "sites and was emptied node by node (the listener has no GRAPH.DELETE), "
                    "MATCH (i:Initiative) RETURN i.id fails with 'Attempted to access "
                    "undefined attribute' (over FalkorDB's own protocol too), breaking the "
                    "tests after it; the case runs on the embedded store")
NO_SCHEMA_ADMIN = ("FalkorDB's Bolt listener has no SHOW, no constraints (GRAPH.CONSTRAINT "
                   "is a Redis command) and no databases: NEO4J_URI tests Neo4j's schema")


def _free_bolt_port() -> int:
    """A TCP port free on every interface (the listener binds them all), at most 32767
    (FalkorDB ignores a higher BOLT_PORT without a word)."""
    import random
    import socket

    from triedbefore.graph.embedded import MAX_BOLT_PORT

    for _ in range(200):
        port = random.randint(20000, MAX_BOLT_PORT)
        with socket.socket() as probe:
            try:
                probe.bind(("", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free TCP port for the Bolt listener")


def start_bolt_server(folder: Path) -> EmbeddedServer:
    """An embedded server with a Bolt listener on a free port. Its log says the listener
    opened (not a test connection: after a connection closes the listener often answers no
    new one)."""
    for _ in range(5):
        server = EmbeddedServer(folder, bolt_port=_free_bolt_port())
        server.ensure_running()
        if f"Bolt protocol initialized. Port: {server.bolt_port}" in server.log_path.read_text(
                errors="replace"):
            return server
        server.stop()  # the port was taken between the probe and the start: another one
    raise RuntimeError("the Bolt listener did not open")


def bolt_uri(servers: tuple[EmbeddedServer, EmbeddedServer]) -> str:
    """The store URI of the driver path; ``retry=0``: a lost server fails at once."""
    main, public = servers
    return (f"bolt+falkordb://127.0.0.1:{main.bolt_port}"
            f"?public=127.0.0.1:{public.bolt_port}&retry=0")
