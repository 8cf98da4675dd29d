"""Connectors to public trial registries and the literature, and the candidate
evaluations they propose.

``client`` is the one HTTP client (a ``requests.Session`` with timeouts, retries,
an on-disk cache and a descriptive User-Agent); ``clinicaltrials`` and ``europepmc``
turn a search into :class:`~triedbefore.ingest.sources.records.Found` records;
``candidates`` stores them as ``Candidate`` nodes for a curator to accept or reject.
"""

from __future__ import annotations

from triedbefore.ingest import IngestError


class SourceError(IngestError):
    """A public source could not be read (offline, timeout, refused, malformed answer)."""


class CandidateError(IngestError):
    """A candidate decision that cannot be made (unknown id, missing facts, rejected row)."""
