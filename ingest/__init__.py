"""Ingest jobs: read interchange bundles and public sources, write to the graph."""

from __future__ import annotations


class IngestError(Exception):
    """Base of every error raised by ``triedbefore.ingest``."""


class BundleUnreadable(IngestError):
    """The path is not a bundle folder nor a .zip of one: nothing could be read."""


class CandidateError(IngestError):
    """A candidate decision that cannot be made (unknown id, missing facts, rejected row)."""
