"""Every Cypher statement triedbefore sends, in the portable Neo4j 5 subset.

Statements are module-level constants (UPPER_CASE names) or builders marked
with ``@cypher_builder``, whose only arguments are ontology enums (``Label``,
``Rel``) so a builder can never splice user text into a statement. The Neo4j
conformance test collects every constant and calls every builder with every
member of its argument enums, then lints the result with Neo4j's own front end.
Engine-specific statements live in ``dialect.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., str])

#: Builders registered by ``@cypher_builder``, by name.
BUILDERS: dict[str, Callable[..., str]] = {}


def cypher_builder(func: F) -> F:
    """Register a statement builder whose arguments are all ontology enums."""
    BUILDERS[func.__name__] = func
    return func
