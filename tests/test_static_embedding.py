"""The static sentence model: distilled from the packaged transformer on this machine
(never fetched), made again when its table is missing, and ranking like the transformer
where it matters."""

from __future__ import annotations

import csv
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from triedbefore.graph import embedding, settings, static_embedding, vectors
from triedbefore.ontology.vocab import Label

SAMPLE = Path(__file__).resolve().parents[1] / "ingest" / "sample"
needs_model = pytest.mark.skipif(not embedding.available(),
                                 reason="the sentence model package is not installed")

#: Paraphrases of sample solutions sharing no content word with the solution's name or
#: aliases, as a nurse or a manager would put them.
PARAPHRASES = {
    "the pharmacist goes through the tablets of people living in nursing homes": "SOL-PMR",
    "a GP refers lonely patients to community groups and activities": "SOL-SPLW",
    "scans and blood tests in a local centre instead of the hospital": "SOL-CDC",
    "people who keep coming back to A&E get a named worker": "SOL-HIU",
    "helping patients understand and manage their own long-term condition": "SOL-PAC",
}


def _solutions() -> tuple[list[str], list[str]]:
    rows = list(csv.DictReader((SAMPLE / "solutions.csv").open(encoding="utf-8")))

    def node(r: dict[str, str]) -> dict[str, Any]:
        return {**r, "aliases": [a for a in r["aliases"].split("|") if a],
                "tags": [t for t in r["tags"].split("|") if t]}

    return ([r["solution_id"] for r in rows],
            [vectors.text_of(Label.SOLUTION, node(r)) for r in rows])


@needs_model
def test_static_model_ranks_a_paraphrase_s_solution_first_as_the_transformer_does() -> None:
    ids, texts = _solutions()
    for model in (static_embedding, embedding):
        rows = model.embed(texts)
        queries = model.embed(list(PARAPHRASES))
        assert np.allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-3)
        for (query, expected), vector in zip(PARAPHRASES.items(), queries, strict=True):
            cosines = rows @ vector
            ranked = [ids[i] for i in np.argsort(-cosines)]
            if model is static_embedding:
                assert ranked[0] == expected, (query, ranked[:3])
            else:  # the transformer agrees (the static model learnt from it)
                assert expected in ranked[:3], (query, ranked[:3])
    # a text of no known token is the zero vector, not a failure
    assert not static_embedding.embed(["😀🏥"]).any()


@needs_model
def test_distilled_table_is_made_again_when_missing_and_never_fetched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.MODEL_CACHE.env, str(tmp_path / "models"))
    monkeypatch.setattr(static_embedding, "DISTIL_LIMIT", 600)  # a small table: fast
    monkeypatch.setattr(static_embedding, "_model", None)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the static model must never be fetched")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    path = static_embedding.table_path()
    assert not path.exists() and path.is_relative_to(tmp_path)
    made = static_embedding.distilled
    first = static_embedding.embed(["a b c 1 2"])
    assert static_embedding.distilled == made + 1 and path.is_file()
    table = np.load(path)
    static_embedding.embed(["a b c 1 2"])  # kept: not distilled again
    assert static_embedding.distilled == made + 1

    path.unlink()
    monkeypatch.setattr(static_embedding, "_model", None)
    again = static_embedding.embed(["a b c 1 2"])
    assert static_embedding.distilled == made + 2 and path.is_file()
    assert np.array_equal(np.load(path), table)  # deterministic
    assert first.any() and np.array_equal(first, again)
