"""Run a researcher's statement read-only: the query console's engine layer.

:func:`run_read_only` refuses anything that is not a pure read, in three layers:

1. **Lexical check** (:func:`check_statement`), on the statement with comments, string
   literals and back-quoted names set aside, so ``n.name = 'CREATE'`` or ``// DELETE``
   are not refused. Refused: the write and schema clauses (CREATE, MERGE, SET, DELETE,
   DETACH, REMOVE, DROP, FOREACH, INSERT, ALTER, RENAME), ``LOAD CSV`` (files and URLs),
   ``CALL { … } IN TRANSACTIONS`` and ``USING PERIODIC COMMIT``, ``EXPLAIN`` and ``PROFILE``
   (FalkorDB runs the statement anyway), administration (SHOW, USE, GRANT, DENY, REVOKE,
   START, STOP, TERMINATE, …), more than one statement (``;``; one trailing ``;`` is
   dropped), procedures not on :data:`ALLOWED_PROCEDURES`, and namespaced functions of
   plug-ins or with a file, network or write name (``apoc.*``, ``dbms.*``, ``genai.*``,
   ``*.load*``, …). A keyword used as a name is refused too (``RETURN 1 AS set``): quote
   it in back-ticks. The check is deliberately conservative; it is the only guard against
   ``LOAD CSV`` and read-only but unwanted procedures on FalkorDB, which runs both in
   ``GRAPH.RO_QUERY``.
2. **The engine**: FalkorDB runs the statement with ``GRAPH.RO_QUERY`` (``Store.read``),
   which refuses every write, with its ``TIMEOUT``. Neo4j first plans it with ``EXPLAIN``
   and refuses unless the plan's query type is ``r`` (read only), then runs it in a READ
   transaction with a timeout, which is rolled back, never committed.
3. **Limits**, enforced by the engine: ``timeout_ms`` is passed to it (FalkorDB's
   query ``TIMEOUT``, Neo4j's transaction timeout), and at most ``row_limit + 1`` rows leave
   it (``truncated`` says whether there were more). Neo4j streams, so the transaction is
   closed after ``row_limit + 1`` rows. FalkorDB answers a query with its whole result, so
   the statement is bounded before it is sent (:func:`bounded`): ``LIMIT n`` is appended
   when its last clause is a ``RETURN`` without one, and anything else that returns rows
   (``UNION``, a ``LIMIT`` of its own) runs as ``CALL { … } RETURN * LIMIT n`` (whose
   columns FalkorDB gives in alphabetical order). The embedded server also caps each
   query's memory (``QUERY_MEM_CAPACITY``, setting ``query_memory_mb``).
4. **A deadline of its own**: FalkorDB checks its timeout between records, not inside
   one expression (``reduce`` over a long list runs on past it), so the explorer stops
   waiting at ``timeout_ms`` plus :data:`GRACE_MS` and answers "timed out". The statement
   keeps its place (one of ``slots``) until the engine has finished with it, so statements
   that outrun their limit can never hold more than ``slots`` of the engine's threads and
   pages keep being served; a statement that finds no free place within its time limit is
   refused as :class:`QueryBusy`. On the console's own server
   (:mod:`triedbefore.graph.console_server`) ``on_overrun`` kills that server at this
   point, which ends the statement and frees its place at once.

An engine that refuses a statement as a write raises :class:`QueryRefused`; a statement
that runs out of time raises :class:`QueryTimedOut`; any other engine error (a syntax
error, an unknown function) stays a :class:`QueryError` with the engine's message.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from triedbefore.graph import QueryError, QueryRefused, queries
from triedbefore.graph.store import Params, Row, Store

__all__ = [
    "ALLOWED_PROCEDURES", "GRACE_MS", "MAX_STATEMENT_LENGTH", "QueryBusy", "QueryRefused",
    "QueryTimedOut", "ReadResult", "bounded", "check_statement", "jsonable", "run_read_only",
]

#: Longest statement accepted, in characters.
MAX_STATEMENT_LENGTH = 20_000

#: Procedures the console may call (lower case): catalogue listings and index lookups.
ALLOWED_PROCEDURES: frozenset[str] = frozenset({
    "db.labels", "db.relationshiptypes", "db.propertykeys",
    "db.indexes", "db.constraints", "db.schema.visualization",
    "db.idx.fulltext.querynodes", "db.idx.fulltext.queryrelationships",
    "db.index.fulltext.querynodes", "db.index.fulltext.queryrelationships",
    "db.idx.vector.querynodes", "db.index.vector.querynodes",
})


#: How long past a statement's time limit the explorer still waits for the engine's answer.
GRACE_MS = 500


class QueryTimedOut(QueryError):
    """The statement ran out of its time limit (and was stopped, or is being)."""


class QueryBusy(QueryError):
    """Every place for a console statement stayed taken for the whole time limit."""


@dataclass(frozen=True)
class ReadResult:
    """The answer to a console statement. ``rows`` are dicts in ``columns`` order, every
    value JSON-serialisable. ``columns`` is empty when the engine returned no row and does
    not report the columns (FalkorDB)."""

    columns: list[str]
    rows: list[dict[str, Any]]
    truncated: bool
    elapsed_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows, "truncated": self.truncated,
                "elapsed_ms": self.elapsed_ms}


@runtime_checkable
class PlanningStore(Protocol):
    """A store that can tell a read from a write before running it (Neo4j)."""

    def query_type(self, query: str, params: Params | None = None) -> str:
        """``r``, ``rw``, ``w`` or ``s`` for the statement, without running it."""

    def read_limited(self, query: str, params: Params | None = None, *, max_rows: int,
                     timeout_ms: int) -> tuple[list[str], list[Row]]:
        """Columns and at most ``max_rows`` rows, in a READ transaction that is rolled
        back."""


# --------------------------------------------------------------------------- #
# Lexical check
# --------------------------------------------------------------------------- #

#: Where the check and the engines could disagree, the check takes the stricter reading:
#: a ``//`` comment ends at any line break (FalkorDB's runs to ``\n``), a block comment at
#: the first ``*/``, and a number ends where its digits do (engines read ``1CREATE`` as
#: ``1 CREATE`` and ``$1CREATE`` as ``$1 CREATE``).
_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<comment>//[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*|/\*.*?\*/)"
    r"|(?P<string>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<quoted>`(?:[^`]|``)*`)"
    r"|(?P<param>\$(?:[^\W\d]\w*|\d+|`(?:[^`]|``)*`))"
    r"|(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<word>\w+)"
    r"|(?P<other>.)",
    re.DOTALL,
)

_WRITES = "writes to the graph"
_SCHEMA = "changes the schema"
_ADMIN = "administers the database"
_BATCHES = "commits in batches"
_RUNS = "is not allowed: on FalkorDB it runs the statement instead of planning it"

#: Unquoted keywords refused wherever they are used as keywords: (as shown, why).
_REFUSED_WORDS: dict[str, tuple[str, str]] = {
    "CREATE": ("CREATE", "writes to the graph or its schema"), "MERGE": ("MERGE", _WRITES),
    "SET": ("SET", _WRITES), "DELETE": ("DELETE", _WRITES),
    "DETACH": ("DETACH DELETE", _WRITES), "NODETACH": ("NODETACH DELETE", _WRITES),
    "REMOVE": ("REMOVE", _WRITES), "FOREACH": ("FOREACH", _WRITES),
    "INSERT": ("INSERT", _WRITES), "DROP": ("DROP", _SCHEMA), "ALTER": ("ALTER", _SCHEMA),
    "RENAME": ("RENAME", _SCHEMA), "LOAD": ("LOAD CSV", "reads files or URLs"),
    "TRANSACTIONS": ("IN TRANSACTIONS", "commits a subquery in batches"),
    "PERIODIC": ("USING PERIODIC COMMIT", _BATCHES),
    "COMMIT": ("USING PERIODIC COMMIT", _BATCHES),
    "EXPLAIN": ("EXPLAIN", _RUNS), "PROFILE": ("PROFILE", _RUNS),
    "USE": ("USE", "switches to another database"), "SHOW": ("SHOW", _ADMIN),
    "GRANT": ("GRANT", _ADMIN), "DENY": ("DENY", _ADMIN), "REVOKE": ("REVOKE", _ADMIN),
    "START": ("START", _ADMIN), "STOP": ("STOP", _ADMIN), "TERMINATE": ("TERMINATE", _ADMIN),
    "ENABLE": ("ENABLE", _ADMIN), "DEALLOCATE": ("DEALLOCATE", _ADMIN),
    "REALLOCATE": ("REALLOCATE", _ADMIN),
}

#: First name parts of functions and procedures that belong to plug-ins or the server.
_REFUSED_NAMESPACES: dict[str, str] = {
    "apoc": "APOC can write, read files and URLs and run other statements",
    "dbms": "dbms.* administers the server",
    "genai": "genai.* calls external services",
    "gds": "gds.* runs graph algorithms that can write",
    "tx": "tx.* changes the transaction", "cdc": "cdc.* reads the change log",
}

#: Name parts (prefixes, lower case) of functions and procedures that write or reach out.
_REFUSED_PARTS = ("create", "load", "import", "export", "write", "delete", "merge", "drop",
                  "set", "http", "url", "file", "periodic", "cypher", "run", "trigger")


@dataclass(frozen=True)
class _Token:
    kind: str  # word, name (back-quoted), param, number, string, other
    text: str  # for a word: the text; for a name: the unquoted text
    start: int


def _tokens(statement: str) -> list[_Token]:
    """The statement's tokens without spaces, comments and string literals (a string
    becomes one ``string`` token). Unterminated strings, names and comments are refused:
    where they end decides what the engine runs."""
    out: list[_Token] = []
    for m in _TOKEN.finditer(statement):
        kind = m.lastgroup or "other"
        text = m.group()
        if kind in ("space", "comment"):
            continue
        if kind == "other":
            if text in ("'", '"'):
                raise QueryRefused("refused: a string literal is not closed")
            if text == "`":
                raise QueryRefused("refused: a back-quoted name is not closed")
            if text == "/" and statement.startswith("/*", m.start()):
                raise QueryRefused("refused: a /* comment is not closed")
        if kind == "quoted":
            text = text[1:-1].replace("``", "`")
        out.append(_Token("name" if kind == "quoted" else kind, text, m.start()))
    return out


def _is(token: _Token, punctuation: str) -> bool:
    return token.kind == "other" and token.text == punctuation


def _qualified_name(tokens: list[_Token], i: int) -> tuple[str, int]:
    """The dotted name starting at ``tokens[i]`` and the index after it."""
    parts: list[str] = []
    while i < len(tokens) and tokens[i].kind in ("word", "name"):
        parts.append(tokens[i].text)
        if i + 1 < len(tokens) and _is(tokens[i + 1], "."):
            i += 2
            continue
        i += 1
        break
    return ".".join(parts), i


def _refused_name(name: str, what: str) -> str | None:
    """Why a function or procedure name is refused, or None."""
    parts = name.lower().split(".")
    if parts[0] in _REFUSED_NAMESPACES:
        return f"refused: {what} {name}: {_REFUSED_NAMESPACES[parts[0]]}"
    for part in parts:
        if part.startswith(_REFUSED_PARTS):
            return (f"refused: {what} {name} may write, or read files or the network; "
                    "the console only reads the graph")
    return None


def _is_keyword(tokens: list[_Token], i: int) -> bool:
    """False where a word is a name: a property or namespace part (after ``.``), a label
    or relationship type (after ``:``) or a map key (before ``:``)."""
    before = tokens[i - 1] if i > 0 else None
    if before is not None and _is(before, ":"):
        return False
    if before is not None and _is(before, ".") and i > 1 and (
            tokens[i - 2].kind in ("word", "name", "param")
            or any(_is(tokens[i - 2], p) for p in ")]}")):
        return False  # a property of an expression (``1.SET`` is still a keyword)
    return not (i + 1 < len(tokens) and _is(tokens[i + 1], ":"))


def check_statement(statement: str) -> str:
    """The statement to send (one trailing ``;`` removed) if it passes the lexical check;
    :class:`QueryRefused` with a one-line reason otherwise."""
    if not statement.strip():
        raise QueryRefused("refused: the statement is empty")
    if len(statement) > MAX_STATEMENT_LENGTH:
        raise QueryRefused(f"refused: the statement is longer than {MAX_STATEMENT_LENGTH} "
                           "characters")
    tokens = _tokens(statement)
    cut: int | None = None
    if tokens and _is(tokens[-1], ";"):
        cut = tokens[-1].start
        tokens = tokens[:-1]
    if not tokens:
        raise QueryRefused("refused: the statement has no clause")
    for i, token in enumerate(tokens):
        if _is(token, ";"):
            raise QueryRefused("refused: one statement at a time (remove the ';')")
        if token.kind not in ("word", "name"):
            continue
        after_dot = i > 0 and _is(tokens[i - 1], ".")
        if token.kind == "word" and _is_keyword(tokens, i):
            word = token.text.upper()
            refused = _REFUSED_WORDS.get(word)
            if refused is not None:
                shown, reason = refused
                hint = ""
                if i > 0 and tokens[i - 1].kind == "word" and tokens[i - 1].text.upper() == "AS":
                    hint = f" (to use it as a name, quote it: `{token.text}`)"
                raise QueryRefused(
                    f"refused: {shown} {reason}; the console only reads the graph{hint}")
            if word == "CALL":
                _check_call(tokens, i)
                continue
        if not after_dot:  # a (namespaced) function call: name(.name)* (
            name, end = _qualified_name(tokens, i)
            if end < len(tokens) and _is(tokens[end], "(") and "." in name:
                why = _refused_name(name, "function")
                if why is not None:
                    raise QueryRefused(why)
    return statement[:cut] if cut is not None else statement


def _check_call(tokens: list[_Token], i: int) -> None:
    """``CALL`` at ``tokens[i]``: a subquery, or a procedure on the allow-list."""
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if nxt is not None and (_is(nxt, "{") or _is(nxt, "(")):
        return  # a subquery: its clauses are checked like the rest of the statement
    name, _end = _qualified_name(tokens, i + 1)
    if not name:
        raise QueryRefused("refused: CALL must name a procedure or open a subquery")
    why = _refused_name(name, "procedure")
    if why is not None:
        raise QueryRefused(why)
    if name.lower() not in ALLOWED_PROCEDURES:
        raise QueryRefused(
            f"refused: procedure {name} is not on the console's read-only list "
            f"({', '.join(sorted(ALLOWED_PROCEDURES))})")


def bounded(statement: str) -> str:
    """``statement`` (already checked) rewritten so that the engine itself stops after
    ``$console_rows`` rows (:func:`queries.console_bounded`): ``LIMIT`` appended to a final
    ``RETURN`` that has none, or the whole statement wrapped in ``CALL { … } RETURN *
    LIMIT``; unchanged when it has no ``RETURN`` of its own (a procedure call from the
    allow-list, whose answer the schema bounds)."""
    tokens = _tokens(statement)
    depth = 0
    last_return: int | None = None
    union = limited = False
    for i, token in enumerate(tokens):
        if token.kind == "other":
            if token.text in "([{":
                depth += 1
            elif token.text in ")]}":
                depth -= 1
            continue
        if depth or token.kind != "word" or not _is_keyword(tokens, i):
            continue
        word = token.text.upper()
        if word == "RETURN":
            last_return, limited = i, False
        elif word == "UNION":
            union = True
        elif word == "LIMIT" and last_return is not None:
            limited = True
    if last_return is None:
        return statement
    return queries.console_bounded(statement, wrap=union or limited)


# --------------------------------------------------------------------------- #
# Values
# --------------------------------------------------------------------------- #


_DURATION_FIELDS = ("years", "months", "days", "hours", "minutes", "seconds", "microseconds")


def _iso_duration(value: Any) -> str:
    """An ISO 8601 duration (``P1Y2M3DT4H5M6.5S``) from a relativedelta-like value."""
    years, months, days, hours, minutes, seconds, micro = (
        int(getattr(value, a) or 0) for a in _DURATION_FIELDS)
    date_part = "".join(f"{n}{unit}" for n, unit in ((years, "Y"), (months, "M"),
                                                      (days, "D")) if n)
    secs = seconds + micro / 1_000_000
    time_part = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M")) if n)
    if secs:
        time_part += f"{secs:g}S"
    if not date_part and not time_part:
        return "PT0S"
    return "P" + date_part + ("T" + time_part if time_part else "")


def jsonable(value: Any) -> Any:
    """A result value as JSON: nodes and relationships as property maps, paths as
    ``{"nodes": [...], "relationships": [...]}``, temporal values as ISO text, anything
    else unknown as its text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    iso = getattr(value, "iso_format", None) or getattr(value, "isoformat", None)
    if callable(iso):
        return str(iso())
    if all(hasattr(value, a) for a in _DURATION_FIELDS):  # FalkorDB: a relativedelta
        return _iso_duration(value)
    nodes = getattr(value, "nodes", None)
    links = getattr(value, "relationships", None)
    if links is None:
        links = getattr(value, "edges", None)
    if nodes is not None and links is not None:  # a path (neo4j: attributes, falkordb: methods)
        return {"nodes": [jsonable(n) for n in (nodes() if callable(nodes) else nodes)],
                "relationships": [jsonable(r) for r in (links() if callable(links) else links)]}
    properties = getattr(value, "properties", None)
    if isinstance(properties, Mapping):  # a FalkorDB node or edge
        return jsonable(properties)
    items = getattr(value, "items", None)
    if callable(items) and hasattr(value, "element_id"):  # a Neo4j node or relationship
        return jsonable(dict(items()))
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


# --------------------------------------------------------------------------- #
# Running
# --------------------------------------------------------------------------- #

_TIMED_OUT = re.compile(r"timed out|TransactionTimedOut", re.IGNORECASE)
_MEMORY = re.compile(r"mem consumption exceeded|MemoryLimitExceeded|memory limit",
                     re.IGNORECASE)
_NOT_READ_ONLY = re.compile(r"only on read-only queries|in read access mode", re.IGNORECASE)


_SLOTS: dict[int, threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


def _slots(count: int) -> threading.BoundedSemaphore:
    """The places for console statements in this process (one set per size)."""
    with _SLOTS_LOCK:
        return _SLOTS.setdefault(count, threading.BoundedSemaphore(count))


def _with_deadline(call: Callable[[int], Any], timeout_ms: int, slots: int,
                   on_overrun: Callable[[], str] | None = None) -> Any:
    """``call(ms)`` in a thread of its own holding one of ``slots`` places until it
    returns; its answer, or :class:`QueryTimedOut` when it has none ``GRACE_MS`` after the
    time limit (the thread and its place stay until the engine answers). ``on_overrun``
    then stops the engine from outside (a console server of its own, killed and started
    again) and says so, which ends the statement and frees its place."""
    started = time.monotonic()
    places = _slots(max(1, slots))
    if not places.acquire(timeout=timeout_ms / 1000):
        raise QueryBusy("the console is busy with other statements; try again in a few "
                        "seconds")
    left_ms = max(1, timeout_ms - int((time.monotonic() - started) * 1000))
    box: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["value"] = call(left_ms)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc
        finally:
            places.release()
            done.set()

    threading.Thread(target=work, name="console-statement", daemon=True).start()
    if not done.wait((left_ms + GRACE_MS) / 1000):
        stopped = f"; {on_overrun()}" if on_overrun is not None else ""
        raise QueryTimedOut(f"the query timed out (limit {timeout_ms} ms){stopped}")
    if "error" in box:
        raise box["error"]
    return box["value"]


def run_read_only(store: Store, query: str, params: dict[str, Any] | None = None, *,
                  row_limit: int, timeout_ms: int, slots: int = 1,
                  on_overrun: Callable[[], str] | None = None,
                  _lexical_check: bool = True) -> ReadResult:
    """Run ``query`` read-only on ``store``: at most ``row_limit`` rows, stopped after
    ``timeout_ms``, at most ``slots`` such statements at once in this process. Raises
    :class:`QueryRefused` (not a pure read), :class:`QueryTimedOut`, :class:`QueryBusy`
    or :class:`QueryError` (the engine's message). ``on_overrun``: called when the engine
    has not answered ``GRACE_MS`` past the limit, to stop it from outside; what it returns
    ends the "timed out" message. ``_lexical_check=False`` is for tests of the engine
    layer alone."""
    if row_limit < 1:
        raise ValueError("row_limit must be at least 1")
    if timeout_ms < 1:
        raise ValueError("timeout_ms must be at least 1 (0 would mean no limit)")
    statement = check_statement(query) if _lexical_check else query
    started = time.perf_counter()

    def call(ms: int) -> tuple[list[str], list[Row]]:
        if isinstance(store, PlanningStore):
            kind = store.query_type(statement, params)
            if kind != "r":
                raise QueryRefused(
                    f"refused: the database plans this statement as query type {kind!r}, "
                    "not 'r' (read only)")
            return store.read_limited(statement, params, max_rows=row_limit + 1,
                                      timeout_ms=ms)
        sent = bounded(statement)
        found = store.read(sent, {**(params or {}), "console_rows": row_limit + 1}
                           if sent != statement else params, timeout_ms=ms)
        return (list(found[0]) if found else []), found

    try:
        columns, rows = _with_deadline(call, timeout_ms, slots, on_overrun)
    except QueryError as exc:
        if isinstance(exc, QueryTimedOut | QueryBusy):
            raise
        message = str(exc)
        if _TIMED_OUT.search(message):
            raise QueryTimedOut(f"the query timed out (limit {timeout_ms} ms)") from None
        if _MEMORY.search(message):
            raise QueryError(f"the query needed more memory than one query may use "
                             f"({message})") from None
        if _NOT_READ_ONLY.search(message):
            raise QueryRefused(f"refused by the database as not read-only: {message}"
                               ) from None
        raise
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    truncated = len(rows) > row_limit
    shown = [{c: jsonable(row.get(c)) for c in columns} for row in rows[:row_limit]]
    return ReadResult(columns, shown, truncated, elapsed)
