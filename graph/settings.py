"""Every setting of triedbefore, declared once.

Each setting has an environment variable, a default and a line of help. The
README's configuration table documents them, and a test checks that every
setting here appears there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: str
    help: str

    def get(self) -> str:
        value = os.environ.get(self.env, "")
        return value if value != "" else self.default


STORE = Setting(
    "store", "TRIEDBEFORE_STORE", "embedded:",
    "Store URI: embedded:[PATH], falkordb://HOST:PORT[?replicas=HOST:PORT,…], "
    "falkordb+sentinel://HOST:PORT,…/SERVICE, falkordb+unix:///PATH.sock, "
    "neo4j://…, neo4j+s://…, bolt://…, bolt+falkordb://…?public=… (tests and development)",
)
DATA_DIR = Setting(
    "data_dir", "TRIEDBEFORE_DATA_DIR", platformdirs.user_data_dir("triedbefore"),
    "Folder of the embedded store when the URI is plain `embedded:`; also holds ingest reports",
)
GRAPH_NAME = Setting(
    "graph", "TRIEDBEFORE_GRAPH", "triedbefore", "Graph (FalkorDB) or database name prefix",
)
FSYNC = Setting(
    "fsync", "TRIEDBEFORE_FSYNC", "everysec",
    "Embedded store AOF fsync policy: always, everysec or no",
)
START_TIMEOUT = Setting(
    "start_timeout", "TRIEDBEFORE_START_TIMEOUT", "120",
    "Seconds to wait for the embedded server to accept connections (it replays its AOF first)",
)
NEO4J_USER = Setting("neo4j_user", "NEO4J_USERNAME", "neo4j", "Neo4j user name")
NEO4J_PASSWORD = Setting("neo4j_password", "NEO4J_PASSWORD", "", "Neo4j password")
NEO4J_DATABASE = Setting(
    "neo4j_database", "NEO4J_DATABASE", "neo4j", "Neo4j database name",
)
BATCH_SIZE = Setting(
    "batch_size", "TRIEDBEFORE_BATCH_SIZE", "2000", "Rows per write transaction during ingest",
)
INGEST_PROBLEM_LIMIT = Setting(
    "ingest_problem_limit", "TRIEDBEFORE_INGEST_PROBLEM_LIMIT", "1000",
    "Problems an ingest run keeps in memory and prints; the rest are counted and written "
    "to the report only",
)
INGEST_MAX_ROWS = Setting(
    "ingest_max_rows", "TRIEDBEFORE_INGEST_MAX_ROWS", "5000000",
    "Most rows read from one file of a bundle; the rows after it are not read (an error)",
)
INGEST_MAX_FILE_MB = Setting(
    "ingest_max_file_mb", "TRIEDBEFORE_INGEST_MAX_FILE_MB", "2048",
    "Largest uncompressed size of one file in a .zip bundle, in MiB; a larger file is not "
    "read (an error)",
)
INGEST_MAX_RATIO = Setting(
    "ingest_max_ratio", "TRIEDBEFORE_INGEST_MAX_RATIO", "100",
    "Largest compression ratio (uncompressed size / compressed size) of a file over 1 MiB "
    "in a .zip bundle; a file compressed more is not read (an error)",
)

SECRET_KEY = Setting(
    "secret_key", "TRIEDBEFORE_SECRET_KEY", "",
    "Key signing the explorer's session cookies; empty: a random key kept in DATA_DIR",
)
CONSOLE_ROW_LIMIT = Setting(
    "console_row_limit", "TRIEDBEFORE_CONSOLE_ROW_LIMIT", "1000",
    "Most rows the query console returns",
)
CONSOLE_TIMEOUT_MS = Setting(
    "console_timeout_ms", "TRIEDBEFORE_CONSOLE_TIMEOUT_MS", "5000",
    "Time limit of one console query, in milliseconds",
)
CONSOLE_ANONYMOUS = Setting(
    "console_anonymous", "TRIEDBEFORE_CONSOLE_ANONYMOUS", "no",
    "yes: signed-out readers may use the query console (on the public copy); no: the "
    "console needs sign-in",
)
CONSOLE_QUERIES = Setting(
    "console_queries", "TRIEDBEFORE_CONSOLE_QUERIES", "1",
    "Console statements the database runs at once, per explorer process; one that runs "
    "past its time limit frees its place when the console's replica is killed for it "
    "(console_server shared: when the database has finished with it)",
)
QUERY_MEMORY_MB = Setting(
    "query_memory_mb", "TRIEDBEFORE_QUERY_MEMORY_MB", "1024",
    "Most memory one query may use in the embedded FalkorDB server (its "
    "QUERY_MEM_CAPACITY), in MB; 0: no limit",
)
CONSOLE_SERVER = Setting(
    "console_server", "TRIEDBEFORE_CONSOLE_SERVER", "replica",
    "replica: with the embedded store, console statements run on a read-only replica the "
    "explorer starts and supervises (killed and started again when a statement overruns "
    "its time or memory); shared: on the store's own server",
)
CONSOLE_MEMORY_MB = Setting(
    "console_memory_mb", "TRIEDBEFORE_CONSOLE_MEMORY_MB", "1024",
    "Memory the console's replica may use beyond its copy of the graph, in MiB (its "
    "address-space limit); a statement past it stops the replica, which starts again; "
    "0: no limit",
)
HTTP_CACHE_TTL = Setting(
    "http_cache_ttl", "TRIEDBEFORE_HTTP_CACHE_TTL", "86400",
    "Seconds an answer of ClinicalTrials.gov or Europe PMC is reused from the on-disk "
    "cache (DATA_DIR/cache/http); 0 turns the cache off",
)

WORKERS = Setting(
    "workers", "TRIEDBEFORE_WORKERS", "1",
    "Processes serving the explorer (`serve`, `demo`); more than 1 uses gunicorn, each "
    "process with its own threads and cache",
)
MATCH_WORKERS = Setting(
    "match_workers", "TRIEDBEFORE_MATCH_WORKERS", "0",
    "Processes that match initiatives to solutions when many are resolved at once "
    "(forked; 0: one per core; 1: none)",
)
CONSOLE_RATE = Setting(
    "console_rate", "TRIEDBEFORE_CONSOLE_RATE", "60",
    "Most query console requests per minute per signed-in user or anonymous client "
    "address (0: no limit)",
)
PUBLIC_GRAPH = Setting(
    "public_graph", "TRIEDBEFORE_PUBLIC_GRAPH", "",
    "Name of the public-only copy (FalkorDB graph or Neo4j database); empty: the graph or "
    "database name followed by `-public`",
)
RESTRICTED_ROLE = Setting(
    "restricted_role", "TRIEDBEFORE_RESTRICTED_ROLE", "curator",
    "Least explorer role that sees restricted records: viewer, curator or admin",
)

PUBLIC_URL = Setting(
    "public_url", "TRIEDBEFORE_PUBLIC_URL", "",
    "The explorer's public base URL (https://…), used for the absolute links of feeds and "
    "printed pages; empty: root-relative links. Never taken from the request's Host header",
)
TOKEN_DAYS = Setting(
    "token_days", "TRIEDBEFORE_TOKEN_DAYS", "90",
    "Days a new API token lasts (`user token --days` overrides); 0: no expiry",
)
SEARCH_MAX_QUERY_CHARS = Setting(
    "search_max_query_chars", "TRIEDBEFORE_SEARCH_MAX_QUERY_CHARS", "500",
    "Longest search query, in characters: a longer one is cut (at a word boundary) before "
    "it is embedded and searched, and the answer says so",
)
SEARCH_VECTORS = Setting(
    "search_vectors", "TRIEDBEFORE_SEARCH_VECTORS", "yes",
    "yes: ingest embeds new or changed solutions, initiatives and evaluations and search "
    "compares meanings too (when the model package is installed); no: words only",
)
SEARCH_MODEL = Setting(
    "search_model", "TRIEDBEFORE_SEARCH_MODEL", "mixed",
    "Which sentence model embeds what: mixed: the transformer (all-MiniLM-L6-v2) for "
    "solutions, the static model distilled from it for initiatives and evaluations (the "
    "bulk rows: fast ingest); transformer: the transformer for all; static: the static "
    "model for all. A change re-embeds the rows whose model changed at the next ingest",
)
MODEL_CACHE = Setting(
    "model_cache", "TRIEDBEFORE_MODEL_CACHE",
    str(Path(platformdirs.user_cache_dir("triedbefore")) / "models"),
    "Folder of the static sentence model's table, distilled from the transformer on this "
    "machine (by `.ci/setup`, else on first use; 30 to 45 s of CPU; never downloaded), "
    "and of the transformer's vectors of records' texts (never users' queries)",
)

REPLICA_WAIT = Setting(
    "replica_wait", "TRIEDBEFORE_REPLICA_WAIT", "1",
    "Replicated FalkorDB deployments: replicas that must hold an ingest run's or a "
    "curation decision's writes before it is reported done (Redis WAIT); 0: none",
)
REPLICA_WAIT_TIMEOUT_MS = Setting(
    "replica_wait_timeout_ms", "TRIEDBEFORE_REPLICA_WAIT_TIMEOUT_MS", "5000",
    "Longest wait for those replicas, in milliseconds; fewer in time: the run or decision "
    "fails with a message saying so (its writes are on the primary only)",
)

SERVER_TIMEOUT_S = Setting(
    "server_timeout_s", "TRIEDBEFORE_SERVER_TIMEOUT_S", "10",
    "Replicated FalkorDB deployments: seconds after which a server that answers neither a "
    "statement nor a PING counts as lost (a read goes to another server that holds what it "
    "must see; a write fails, saying it may or may not have been applied); also the "
    "longest a read waits for such a server during a failover. Longer statements of a "
    "server that answers are waited for",
)

SETTINGS: tuple[Setting, ...] = (
    STORE, DATA_DIR, GRAPH_NAME, FSYNC, START_TIMEOUT,
    NEO4J_USER, NEO4J_PASSWORD, NEO4J_DATABASE, BATCH_SIZE, INGEST_PROBLEM_LIMIT,
    INGEST_MAX_ROWS, INGEST_MAX_FILE_MB, INGEST_MAX_RATIO, MATCH_WORKERS, WORKERS,
    SECRET_KEY, CONSOLE_ROW_LIMIT, CONSOLE_TIMEOUT_MS, CONSOLE_ANONYMOUS, CONSOLE_QUERIES,
    QUERY_MEMORY_MB, CONSOLE_SERVER, CONSOLE_MEMORY_MB, HTTP_CACHE_TTL, CONSOLE_RATE,
    PUBLIC_GRAPH, RESTRICTED_ROLE, TOKEN_DAYS, PUBLIC_URL,
    REPLICA_WAIT, REPLICA_WAIT_TIMEOUT_MS, SEARCH_MAX_QUERY_CHARS, SEARCH_VECTORS,
    SEARCH_MODEL, MODEL_CACHE, SERVER_TIMEOUT_S,
)


def data_dir() -> Path:
    return Path(DATA_DIR.get()).expanduser()
