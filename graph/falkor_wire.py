"""FalkorDB's wire format: the ``CYPHER`` parameter header and compact result sets.

The Python client's encoder and decoder are general and slow: on a bulk ingest they
cost more than the server's own work. These are specialised to the values this project
sends and reads: parameters are strings, numbers, booleans, nulls, lists and maps; results
are scalars, lists and maps. A result holding a node, an edge, a path, a point, a vector
or a temporal value is left to the client's decoder (:class:`NotPlain`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from falkordb.helpers import stringify_param_value

# Compact result-set value types (FalkorDB's ``ResultSetScalarTypes``).
_NULL, _STRING, _INTEGER, _BOOLEAN, _DOUBLE, _ARRAY, _MAP = 1, 2, 3, 4, 5, 6, 10

#: Statistics names as the server writes them.
STAT_NAMES = ("Nodes created", "Nodes deleted", "Relationships created",
              "Relationships deleted", "Properties set")


class NotPlain(Exception):  # noqa: N818 - a signal, not an error
    """The result holds a value this decoder leaves to the client (a node, an edge…)."""


# -- parameters ------------------------------------------------------------------------

_KEYS: dict[str, str] = {}


def _key(key: Any) -> str:
    """A map key or parameter name as a backticked identifier (memoised)."""
    found = _KEYS.get(key)
    if found is not None:
        return found
    text = key.decode() if isinstance(key, bytes) else str(key)
    if not text:
        raise ValueError("a Cypher map key or parameter name cannot be empty")
    if "`" in text:
        raise ValueError(f"a Cypher map key or parameter name cannot contain a backtick: "
                         f"{text!r}")
    found = f"`{text}`"
    if len(_KEYS) < 10_000:  # keys come from the ontology and bundles' extra columns
        _KEYS[key] = found
    return found


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _list(value: list[Any] | tuple[Any, ...]) -> str:
    return "[" + ",".join([_ENCODERS.get(type(v), _other)(v) for v in value]) + "]"


def _map(value: Mapping[Any, Any]) -> str:
    return "{" + ",".join([_key(k) + ":" + _ENCODERS.get(type(v), _other)(v)
                           for k, v in value.items()]) + "}"


def _other(value: Any) -> str:
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return _list(value)
    if isinstance(value, Mapping):
        return _map(value)
    return str(stringify_param_value(value))


_ENCODERS: dict[type, Callable[[Any], str]] = {
    str: _string,
    int: str,
    float: repr,
    bool: lambda v: "true" if v else "false",
    type(None): lambda v: "null",
    list: _list,
    tuple: _list,
    dict: _map,
}


def encode(value: Any) -> str:
    """One parameter value as a Cypher literal for the ``CYPHER`` header."""
    return _ENCODERS.get(type(value), _other)(value)


def params_header(params: Mapping[str, Any] | None) -> str:
    """``CYPHER name=value …`` for the start of a statement ('' without parameters)."""
    if not params:
        return ""
    return "CYPHER " + " ".join(_key(k) + "=" + encode(v) for k, v in params.items()) + " "


# -- results ---------------------------------------------------------------------------


def _value(cell: list[Any]) -> Any:
    kind, value = cell
    if kind == _STRING:
        return value if isinstance(value, str) else (
            value.decode() if isinstance(value, bytes) else str(value))
    if kind == _INTEGER:
        return int(value)
    if kind == _NULL:
        return None
    if kind == _MAP:
        return {value[i]: _value(value[i + 1]) for i in range(0, len(value), 2)}
    if kind == _ARRAY:
        return [_value(v) for v in value]
    if kind == _DOUBLE:
        return float(value)
    if kind == _BOOLEAN:
        return value == "true" or value == b"true"
    raise NotPlain(kind)


def decode_rows(response: list[Any]) -> list[dict[str, Any]]:
    """The rows of a compact ``GRAPH.QUERY`` reply as dicts keyed by column name.
    Raises :class:`NotPlain` for values left to the client's decoder."""
    if len(response) < 3:
        return []
    header = response[0]
    if not header:
        return []
    names = [col[1] if isinstance(col, list | tuple) else col for col in header]
    if len(names) == 1:
        name = names[0]
        return [{name: _value(row[0])} for row in response[1]]
    return [dict(zip(names, [_value(c) for c in row], strict=True)) for row in response[1]]


def statistics(response: list[Any]) -> dict[str, float]:
    """The statistics lines at the end of a reply ("Nodes created: 3", …)."""
    stats: dict[str, float] = {}
    for line in response[-1] if response else []:
        text = line.decode() if isinstance(line, bytes) else str(line)
        name, _, rest = text.partition(": ")
        try:
            stats[name] = float(rest.split(" ")[0])
        except ValueError:
            continue
    return stats
