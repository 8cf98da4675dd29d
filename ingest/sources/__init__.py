"""Connectors to public trial registries and the literature, and the candidate
evaluations they propose.

``client`` is the one HTTP client (a ``requests.Session`` with timeouts, retries,
an on-disk cache and a descriptive User-Agent); ``clinicaltrials`` and ``europepmc``
turn a search into :class:`~triedbefore.ingest.records.Found` records;
``candidates`` runs them for a solution and stores what they find as candidates
(:mod:`triedbefore.ingest.candidates`) for a curator to accept or reject.
"""

from __future__ import annotations

from triedbefore.ingest import IngestError


class SourceError(IngestError):
    """A public source could not be read (offline, timeout, refused, malformed answer)."""
