"""Every Cypher statement triedbefore can send, and Neo4j's own front end to check them.

Statements come from ``triedbefore.graph.queries`` (UPPER_CASE constants and the
builders in ``BUILDERS``) and from the dialects in ``triedbefore.graph.dialect``.
Builders and dialect methods take ontology enums only; each is called with every
combination of members of its parameters' enums. ``lint`` runs ``lint.mjs``
(``@neo4j-cypher/language-support``) on a batch in one node process.

``scan_sources`` checks the Python sources: Cypher-looking string literals may live
only in ``graph/queries.py`` and ``graph/dialect.py``, and in ``queries.py`` string
formatting (f-strings, ``%``, ``.format``) may appear only inside builders.
"""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
import itertools
import json
import re
import shutil
import subprocess
import typing
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LINT_SCRIPT = Path(__file__).with_name("lint.mjs")
LANGUAGE_SUPPORT = PROJECT_ROOT / "node_modules" / "@neo4j-cypher" / "language-support"

QUERIES_MODULE = "triedbefore.graph.queries"
DIALECT_MODULE = "triedbefore.graph.dialect"
VOCAB_MODULE = "triedbefore.ontology.vocab"

#: Folders whose Python sources are scanned (they ship as ``triedbefore.<name>``).
SOURCE_DIRS = ("graph", "ingest", "web", "ontology")
#: The only files where Cypher statements may be written.
STATEMENT_FILES = ("graph/queries.py", "graph/dialect.py")
SKIP_DIRS = frozenset({"node_modules", ".venv", "venv", "__pycache__", "build"})

#: A combination of enum members that a builder refuses raises one of these;
#: it yields no statement, so nothing is linted for it.
REFUSED = (ValueError, LookupError)

_DECORATOR = "cypher_builder"


class CollectionError(Exception):
    """A statement source breaks the rules that make statements checkable."""


class LinterUnavailable(RuntimeError):
    """node or the npm package ``@neo4j-cypher/language-support`` is missing."""


# --------------------------------------------------------------------------- #
# What looks like Cypher
# --------------------------------------------------------------------------- #

#: Leading line comments and a ``CYPHER 5`` / ``EXPLAIN`` / ``PROFILE`` prefix.
_LEAD = r"\A\s*(?://[^\n]*\n\s*)*(?:(?i:CYPHER\s+\d+|EXPLAIN|PROFILE)\s+)?"

#: First keyword of a statement (for constants of ``queries.py``; any case).
_CLAUSE_START = re.compile(
    _LEAD + r"(?i:OPTIONAL\s+MATCH|MATCH|MERGE|CREATE|UNWIND|CALL|WITH|RETURN|DETACH"
    r"|DELETE|SET|REMOVE|FOREACH|LOAD\s+CSV|SHOW|DROP|ALTER|USE|TERMINATE)\b"
)

#: A node pattern start: ``()``, ``(:``, ``({key:``, ``(n)``, ``(n:``, ``(n {``.
_NODE = r"\(\s*(?:[):]|\{\s*(?:\w+|`[^`]+`)\s*:|(?:[A-Za-z_]\w*|`[^`]+`)\s*[:){])"

#: Statement starts for the source scan, tuned so prose does not match: forms with a
#: structural marker match in any case, bare keywords only in upper case.
_STATEMENT_START = re.compile(
    _LEAD
    + r"(?:"
    + r"(?i:(?:OPTIONAL\s+)?MATCH\s*" + _NODE + r")"
    + r"|(?i:(?:OPTIONAL\s+)?MATCH\s+\w+\s*=\s*(?:shortestPath|allShortestPaths)?\s*\()"
    + r"|(?i:MERGE\s*" + _NODE + r")"
    + r"|(?i:CREATE\s*" + _NODE + r")"
    + r"|(?i:CALL\s+(?:db|dbms|tx|cdc|apoc|gds|vec)\.\w)"
    + r"|CALL\s*\{"
    + r"|(?i:DETACH\s+DELETE\s+\w)"
    + r"|(?i:LOAD\s+CSV\s)"
    + r"|UNWIND\s+\S+\s+AS\s+\w"
    + r"|CREATE\s+(?:OR\s+REPLACE\s+)?(?:[A-Z]+\s+)*(?:INDEX|CONSTRAINT)\b"
    + r"|DROP\s+(?:INDEX|CONSTRAINT)\b"
    + r"|SHOW\s+[A-Z]{3,}"
    + r"|WITH\s+(?![<%])\S.*?\b(?:RETURN|MATCH|MERGE|CREATE|UNWIND|SET|CALL)\b"
    + r"|WITH\s+(?![<%])\S.*?\bDELETE\s+(?!\{)"
    + r"|RETURN\s+\S"
    + r")",
    re.DOTALL,
)


def looks_like_statement(text: str) -> bool:
    """True if ``text`` starts like a Cypher statement (any clause keyword)."""
    return bool(_CLAUSE_START.match(text))


def looks_like_cypher_literal(text: str) -> bool:
    """True if a string literal in source code starts like a Cypher statement."""
    return bool(_STATEMENT_START.match(text))


# --------------------------------------------------------------------------- #
# Collecting statements
# --------------------------------------------------------------------------- #


def _member_name(member: enum.Enum) -> str:
    return f"{type(member).__name__}.{member.name}"


def _enum_parameters(name: str, func: Callable[..., Any]) -> list[type[enum.Enum]]:
    """The enum class of each parameter of ``func``; anything else is an error."""
    try:
        hints = typing.get_type_hints(func)
    except Exception as exc:  # an unresolvable annotation is a broken rule too
        raise CollectionError(f"{name}: cannot resolve annotations: {exc}") from exc
    enums: list[type[enum.Enum]] = []
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise CollectionError(f"{name}: *{param.name} parameters are not allowed; "
                                  "every argument must be an ontology enum")
        hint = hints.get(param.name)
        if not (isinstance(hint, type) and issubclass(hint, enum.Enum)
                and hint.__module__ == VOCAB_MODULE):
            raise CollectionError(
                f"{name}: parameter {param.name!r} is annotated {hint!r}; statement "
                f"builders may take only ontology enums from {VOCAB_MODULE}, so no "
                "user text can reach a statement")
        enums.append(hint)
    return enums


def _as_statements(name: str, value: object) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield name, value
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        for i, item in enumerate(value):
            yield f"{name}[{i}]", item
    else:
        raise CollectionError(f"{name} returned {type(value).__name__}, not a statement")


def expand(name: str, func: Callable[..., Any]) -> dict[str, str]:
    """Call ``func`` with every combination of its enum parameters' members.

    Keys look like ``merge_node(Label.SITE)``. Combinations ``func`` refuses
    (``ValueError``/``LookupError``) are left out; if it refuses all, that is an error.
    """
    enums = _enum_parameters(name, func)
    out: dict[str, str] = {}
    for args in itertools.product(*(list(e) for e in enums)):
        call = f"{name}({', '.join(_member_name(a) for a in args)})"
        try:
            value = func(*args)
        except REFUSED:
            continue
        out.update(_as_statements(call, value))
    if not out:
        raise CollectionError(f"{name} produced no statement for any argument combination")
    return out


def constant_statements(module: ModuleType) -> dict[str, str]:
    """UPPER_CASE module attributes that are statements (or lists/tuples of them)."""
    out: dict[str, str] = {}
    for name, value in vars(module).items():
        if not name.isupper() or name.startswith("_"):
            continue
        if isinstance(value, str) and looks_like_statement(value):
            out[name] = value
        elif (isinstance(value, (list, tuple)) and value
              and all(isinstance(v, str) and looks_like_statement(v) for v in value)):
            out.update(_as_statements(name, value))
    return out


def string_constants(module: ModuleType) -> list[str]:
    """Names of every UPPER_CASE ``str`` attribute of ``module``."""
    return [n for n, v in vars(module).items()
            if n.isupper() and not n.startswith("_") and isinstance(v, str)]


def _returns_statements(func: Callable[..., Any]) -> bool:
    try:
        ret = typing.get_type_hints(func).get("return")
    except Exception:
        return False
    if ret is str:
        return True
    origin = typing.get_origin(ret)
    args = typing.get_args(ret)
    return (origin in (list, tuple, Sequence)
            and bool(args) and args[0] is str and all(a in (str, Ellipsis) for a in args))


def dialect_statements(dialect: object) -> dict[str, str]:
    """Every public method of ``dialect`` annotated to return ``str`` or a list of ``str``,
    called with every combination of its enum parameters."""
    cls = type(dialect)
    out: dict[str, str] = {}
    for attr in sorted(dir(cls)):
        if attr.startswith("_"):
            continue
        func = inspect.getattr_static(cls, attr)
        if isinstance(func, (staticmethod, classmethod)):
            func = func.__func__
        if not inspect.isfunction(func) or not _returns_statements(func):
            continue
        out.update(expand(f"{cls.__name__}.{attr}", getattr(dialect, attr)))
    return out


def queries_module() -> ModuleType:
    return importlib.import_module(QUERIES_MODULE)


def builders(module: ModuleType) -> dict[str, Callable[..., Any]]:
    found = getattr(module, "BUILDERS", None)
    if not isinstance(found, dict):
        raise CollectionError(f"{module.__name__} has no BUILDERS registry")
    return found


def collect_statements(module: ModuleType | None = None,
                       dialect: object | None = None) -> dict[str, str]:
    """Name → statement for everything triedbefore can send to Neo4j.

    Defaults: ``triedbefore.graph.queries`` and ``Neo4jDialect()``.
    """
    if module is None:
        module = queries_module()
    if dialect is None:
        dialect = importlib.import_module(DIALECT_MODULE).Neo4jDialect()
    out = constant_statements(module)
    for name, func in builders(module).items():
        _merge(out, expand(name, func))
    _merge(out, dialect_statements(dialect))
    return out


def falkor_only_statements() -> dict[str, str]:
    """Name → statement for ``FalkorDialect()`` statements that Neo4jDialect never sends."""
    dialect = importlib.import_module(DIALECT_MODULE)
    neo4j = set(dialect_statements(dialect.Neo4jDialect()).values())
    return {n: s for n, s in dialect_statements(dialect.FalkorDialect()).items()
            if s not in neo4j}


def _merge(into: dict[str, str], new: dict[str, str]) -> None:
    clash = into.keys() & new.keys()
    if clash:
        raise CollectionError(f"two statement sources share the names {sorted(clash)}")
    into.update(new)


# --------------------------------------------------------------------------- #
# Linting
# --------------------------------------------------------------------------- #


def lint(statements: list[str], timeout: float | None = None) -> list[dict[str, Any]]:
    """Lint each statement as Neo4j 5 Cypher; one result per statement, same order.

    A result is ``{"errors": [...], "warnings": [...]}`` with items
    ``{"message", "line", "character"}``; undeclared-parameter errors are dropped.
    """
    node = shutil.which("node")
    if node is None:
        raise LinterUnavailable("node is not on PATH; the Cypher lint needs node >= 20")
    if not (LANGUAGE_SUPPORT / "package.json").is_file():
        raise LinterUnavailable(
            f"{LANGUAGE_SUPPORT} is missing: run `npm ci` in {PROJECT_ROOT} "
            "to install @neo4j-cypher/language-support (see package.json)")
    unique = list(dict.fromkeys(statements))
    if not unique:
        return []
    if timeout is None:
        timeout = 30 + 3 * len(unique)
    proc = subprocess.run(
        [node, str(LINT_SCRIPT)], input=json.dumps(unique), capture_output=True,
        text=True, timeout=timeout, cwd=PROJECT_ROOT, check=False)
    if proc.returncode != 0:
        raise LinterUnavailable(f"lint.mjs exited {proc.returncode}: {proc.stderr.strip()}")
    results = json.loads(proc.stdout)
    if len(results) != len(unique):
        raise LinterUnavailable(f"lint.mjs returned {len(results)} results for {len(unique)}")
    by_statement = dict(zip(unique, results, strict=True))
    return [by_statement[s] for s in statements]


def problems(result: dict[str, Any]) -> list[str]:
    """Messages that make a statement unacceptable: every error, and deprecation warnings."""
    bad = [f"error {e['line'] + 1}:{e['character'] + 1}: {e['message']}"
           for e in result["errors"]]
    bad += [f"warning {w['line'] + 1}:{w['character'] + 1}: {w['message']}"
            for w in result["warnings"] if "deprecated" in w["message"].lower()]
    return bad


# --------------------------------------------------------------------------- #
# Source scan
# --------------------------------------------------------------------------- #


def _render_fstring(node: ast.JoinedStr) -> str:
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            parts.append(value.value)
        else:
            parts.append("{…}")
    return "".join(parts)


class _LiteralFinder(ast.NodeVisitor):
    """Non-docstring string literals and f-strings, as (line, text)."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []

    def visit_Expr(self, node: ast.Expr) -> None:
        # A bare string statement (docstring) is never sent anywhere.
        if isinstance(node.value, (ast.Constant, ast.JoinedStr)):
            return
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self.found.append((node.lineno, node.value))

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        self.found.append((node.lineno, _render_fstring(node)))
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                self.visit(value.value)


def cypher_literals(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, text) of each string literal or f-string in ``source`` that starts like a
    Cypher statement; docstrings are skipped."""
    finder = _LiteralFinder()
    finder.visit(ast.parse(source, filename))
    return [(line, text) for line, text in finder.found if looks_like_cypher_literal(text)]


def _is_builder(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for deco in func.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if isinstance(target, ast.Name) and target.id == _DECORATOR:
            return True
        if isinstance(target, ast.Attribute) and target.attr == _DECORATOR:
            return True
    return False


class _FormattingFinder(ast.NodeVisitor):
    """f-strings, ``%`` on strings and ``.format`` calls outside builder functions."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []
        self._in_builder = 0

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        builder = _is_builder(node)
        self._in_builder += builder
        self.generic_visit(node)
        self._in_builder -= builder

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def _flag(self, node: ast.AST, what: str) -> None:
        if not self._in_builder:
            self.found.append((getattr(node, "lineno", 0), what))

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        if any(isinstance(v, ast.FormattedValue) for v in node.values):
            self._flag(node, f"f-string {_render_fstring(node)!r}")
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Mod) and (
                isinstance(node.left, ast.JoinedStr)
                or (isinstance(node.left, ast.Constant) and isinstance(node.left.value, str))):
            self._flag(node, "%-formatting of a string")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "format_map"):
            self._flag(node, f".{node.func.attr}() call")
        self.generic_visit(node)


def formatting_outside_builders(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, what) of each f-string, ``%`` or ``.format`` not inside an ``@cypher_builder``
    function."""
    finder = _FormattingFinder()
    finder.visit(ast.parse(source, filename))
    return finder.found


def source_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """Python files under the shipped folders."""
    files: list[Path] = []
    for folder in SOURCE_DIRS:
        for path in sorted((root / folder).rglob("*.py")):
            if not SKIP_DIRS.intersection(path.relative_to(root).parts):
                files.append(path)
    return files


def scan_sources(root: Path = PROJECT_ROOT) -> list[str]:
    """Violations of the statement rules in the project's Python sources, as messages."""
    out: list[str] = []
    for path in source_files(root):
        rel = path.relative_to(root).as_posix()
        source = path.read_text(encoding="utf-8")
        if rel not in STATEMENT_FILES:
            for line, text in cypher_literals(source, rel):
                out.append(f"{rel}:{line}: Cypher outside graph/queries.py: {text[:80]!r}")
        if rel == "graph/queries.py":
            for line, what in formatting_outside_builders(source, rel):
                out.append(f"{rel}:{line}: {what} outside an @cypher_builder function")
    return out
