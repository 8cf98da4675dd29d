"""The triedbefore vocabulary: OWL/SKOS ontology, interchange models, RDF export."""

from __future__ import annotations

from pathlib import Path

ONTOLOGY_PATH = Path(__file__).with_name("triedbefore.ttl")
SHAPES_PATH = Path(__file__).with_name("shapes.ttl")


class OntologyError(Exception):
    """Base of every error raised by ``triedbefore.ontology``."""
