"""What was knowable on a day D: the one date cut every "as of" answer applies.

With ``as_of=D`` nothing shown may have started, been published or been measured after
D (``docs/semantics.md``, "Dates of different precision": a partial date is read so that
no one is accused on a guess):

- an initiative is knowable from the **first** day of its start date (``start_lo``); one
  with no start date is not dated, so no date hides it;
- an evaluation from the **last** day of its publication date (``published_hi``);
- an outcome once its initiative has started and its measurement period has ended: the
  last day of ``period_end`` (of ``period_start`` when only that is given);
- a solution once one of its initiatives has started or one of its evaluations has been
  published;
- an initiative's end (and the status ``completed`` or ``stopped`` it brings) from the
  first day of its end date: before that, an initiative that had started was running.

Records read from the graph carry these days as ``start_lo``, ``published_hi`` and
``measured_hi`` (an outcome's row also carries its initiative's ``start_lo``).
``knowable`` decides for any such row; the paged reads of ``queries.py`` apply the same
rule in their ``$when`` filters (``STARTED_BY``, ``PUBLISHED_BY``, ``MEASURED_BY``), so
that a page of a table and its total agree with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from triedbefore.ontology.models import date_bounds

R = TypeVar("R", bound=Mapping[str, Any])

#: Statuses an initiative has only once it has ended.
ENDED = frozenset({"completed", "stopped"})


def started_by(start_lo: int | None, when: int) -> bool:
    """An initiative started (on the first day of its start date) by day ``when``."""
    return start_lo is None or int(start_lo) <= when


def published_by(published_hi: int | None, when: int) -> bool:
    """An evaluation published (on the last day of its date) by day ``when``."""
    return published_hi is not None and int(published_hi) <= when


def measured_by(measured_hi: int | None, when: int) -> bool:
    """An outcome's measurement period over by day ``when`` (no period: not dated)."""
    return measured_hi is None or int(measured_hi) <= when


def knowable(record: Mapping[str, Any], when: int) -> bool:
    """Whether a record read from the graph was knowable on day ``when``: every date it
    carries (start, publication, end of measurement) is on or before it."""
    if "published_hi" in record and not published_by(record["published_hi"], when):
        return False
    if not started_by(record.get("start_lo"), when):
        return False
    return measured_by(record.get("measured_hi"), when)


def cut(records: Iterable[R], when: int) -> list[R]:
    """The records knowable on day ``when``, in their order."""
    return [r for r in records if knowable(r, when)]


def solution_known(first_start: int | None, first_published: int | None, when: int) -> bool:
    """A solution is knowable once its first initiative started or its first evaluation was
    published (``None``: it has none)."""
    return ((first_start is not None and first_start <= when)
            or (first_published is not None and first_published <= when))


def as_then(initiative: dict[str, Any], when: int) -> dict[str, Any]:
    """An initiative's row as it stood on day ``when``: an end date after it is not yet
    known, and an initiative that had started and not yet ended was active."""
    end = initiative.get("end_date")
    if not end or date_bounds(str(end))[0] <= when:
        return initiative
    status = initiative.get("status")
    return {**initiative, "end_date": None,
            "status": "active" if status in ENDED else status}
