"""A static sentence model distilled from all-MiniLM-L6-v2: a table of token vectors.

A transformer costs about a gigaflop per row (12 ms on a core), so embedding the bulk rows
of a large graph (100,000 initiatives and their evaluations) with it would multiply the
first ingest's time by ten. This model costs a table look-up per token.

It is made the way model2vec makes its static models (Tulkens and van Dongen, 2024), with
the packaged transformer (:mod:`graph.embedding`) and numpy only, on this machine:

1. each token of the transformer's vocabulary goes through the encoder once, alone
   (``[CLS] token [SEP]``, mean-pooled as for a sentence);
2. the token vectors are centred and rotated onto their principal axes (PCA; all
   ``DIMENSIONS`` kept, so every vector index of the graph has one dimension whichever
   model fills it);
3. each is weighted by SIF with Zipf's law for the token's frequency (the vocabulary is
   roughly in frequency order: rank = id), so frequent tokens weigh less (``SIF``).

A sentence's vector is the unit-length mean of its tokens' vectors. The table is written
once into ``settings.MODEL_CACHE`` (by ``.ci/setup``, or on first use, under a file lock
so that concurrent processes distil it once), never into the repository and never
fetched: it is deterministic, made again whenever it is missing.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import threading
import time
import zipfile
from pathlib import Path

import numpy as np

from triedbefore.graph import embedding, settings

#: What the vectors are called in a node's text hash (with the distillation's version:
#: a changed method re-embeds).
MODEL_NAME = f"{embedding.MODEL_NAME}-static-v1"
DIMENSIONS = embedding.DIMENSIONS
#: The SIF coefficient: model2vec's is 1e-4; with 1e-5 frequent tokens weigh less, and
#: on the development split of ``bench/quality`` paraphrases found their solution in the
#: top 3 by meaning alone 75 % of the time (1e-4: 71 %), with cosines spread like the
#: transformer's (a paraphrase and an unrelated initiative: median 0.23 against 0.35),
#: so that the relevance floors set for the transformer still hold.
SIF = 1e-5
#: Tokens of a text looked up at most (a long description's tail changes its mean little).
MAX_TOKENS = 512
#: Texts summed at once: their token vectors stay a few MiB (a cache's worth), not the
#: gigabyte of a whole ingest batch's.
CHUNK = 128
#: Tokens run through the encoder at once during distillation.
DISTIL_BATCH = 512
#: Tokens of the vocabulary distilled (None: all); tests make a small table.
DISTIL_LIMIT: int | None = None

_lock = threading.Lock()
_model: _Static | None = None
#: Texts embedded in this process (tests count them) and tables distilled.
calls = 0
distilled = 0
#: Seconds the last distillation in this process took.
last_distil_seconds: float | None = None


def available() -> bool:
    return embedding.available()


def text_hash(text: str) -> str:
    """As :func:`graph.embedding.text_hash`, marked ``static:`` so that a node embedded by
    the other model is told apart (and embedded again) when the setting changes."""
    return "static:" + hashlib.sha1(f"{MODEL_NAME}\n{text}".encode()).hexdigest()[:16]


def table_path() -> Path:
    """Where the distilled table lives: named by the transformer package's version and the
    method's, so that either changing makes a new one."""
    try:
        version = importlib.metadata.version(embedding.MODEL_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    name = f"{MODEL_NAME}-{DIMENSIONS}-sif{SIF:g}-{version}"
    if DISTIL_LIMIT is not None:
        name += f"-first{DISTIL_LIMIT}"
    return Path(settings.MODEL_CACHE.get()).expanduser() / f"{name}.npy"


def embed(texts: list[str]) -> np.ndarray:
    """One unit vector (float32, ``DIMENSIONS``) per text, in order; a text without a
    known token gets the zero vector."""
    global calls
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    if not texts:
        return out
    calls += len(texts)
    return _load().embed(texts)


def ensure() -> Path:
    """The table's path, distilling it first when it is missing."""
    path = table_path()
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be distilling it
        if not path.is_file():
            table = distil()
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                np.save(f, table)
            os.replace(tmp, path)
    return path


def distil() -> np.ndarray:
    """The token table (float16, vocabulary × ``DIMENSIONS``) from the packaged
    transformer: see the module docstring. Deterministic."""
    global distilled, last_distil_seconds
    start = time.perf_counter()
    encoder = embedding.encoder()
    vocab: dict[str, int] = encoder.tokenizer.get_vocab()
    size = max(vocab.values()) + 1
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    # Special and unused tokens never occur in a tokenized text: their rows stay zero.
    ids = np.array(sorted(i for t, i in vocab.items()
                          if not (t.startswith("[") and t.endswith("]"))), dtype=np.int64)
    if DISTIL_LIMIT is not None:
        ids = ids[:DISTIL_LIMIT]
    rotated = weighted(token_vectors(encoder, ids, cls, sep), ids, size)
    table = np.zeros((size, DIMENSIONS), dtype=np.float16)
    table[ids] = rotated.astype(np.float16)
    distilled += 1
    last_distil_seconds = time.perf_counter() - start
    return table


def token_vectors(encoder: embedding._Encoder, ids: np.ndarray, cls: int,
                  sep: int) -> np.ndarray:
    """Each token's vector by the encoder, alone (``[CLS] token [SEP]``, mean-pooled)."""
    vectors = np.zeros((len(ids), DIMENSIONS), dtype=np.float64)
    mask = np.ones((DISTIL_BATCH, 3), dtype=np.float32)
    for at in range(0, len(ids), DISTIL_BATCH):
        part = ids[at:at + DISTIL_BATCH]
        seq = np.stack([np.full(len(part), cls), part, np.full(len(part), sep)], axis=1)
        vectors[at:at + len(part)] = encoder.forward(seq, mask[:len(part)])
    return vectors


def weighted(vectors: np.ndarray, ids: np.ndarray, size: int) -> np.ndarray:
    """The token vectors centred, rotated onto their principal axes and weighted by SIF
    with Zipf's law for the frequencies (rank = id)."""
    centred = vectors - vectors.mean(0)
    values, axes = np.linalg.eigh(centred.T @ centred)
    axes = axes[:, np.argsort(-values)]
    # An axis's sign is arbitrary: fix it (largest component positive) for a stable table.
    axes *= np.sign(axes[np.abs(axes).argmax(0), np.arange(axes.shape[1])])
    rotated = centred @ axes[:, :DIMENSIONS]
    inverse_rank = 1.0 / np.arange(2, size + 2, dtype=np.float64)
    frequency = inverse_rank / inverse_rank.sum()
    return np.asarray(rotated * (SIF / (SIF + frequency[ids]))[:, None])


def _load() -> _Static:
    global _model
    with _lock:
        path = table_path()
        if _model is None or _model.path != path:
            _model = _Static(ensure())
        return _model


class _Static:
    """The table and the transformer's tokenizer (not its weights: they are not needed)."""

    def __init__(self, path: Path) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never a hub download
        from tokenizers import Tokenizer

        with zipfile.ZipFile(embedding.model_zip()) as zf:
            self.tokenizer = Tokenizer.from_str(zf.read("tokenizer.json").decode())
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.path = path
        self.table = np.load(path).astype(np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.table.shape[1]), dtype=np.float32)
        for at in range(0, len(texts), CHUNK):
            out[at:at + CHUNK] = self._sums(texts[at:at + CHUNK])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.asarray(out / np.maximum(norms, 1e-12), dtype=np.float32)

    def _sums(self, texts: list[str]) -> np.ndarray:
        """The sum of each text's token vectors."""
        encoded = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        lengths = np.array([len(e.ids) for e in encoded], dtype=np.int64)
        out = np.zeros((len(texts), self.table.shape[1]), dtype=np.float32)
        some = lengths > 0
        if some.any():
            ids = np.concatenate([np.asarray(e.ids, dtype=np.int64) for e in encoded])
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[some]
            out[some] = np.add.reduceat(self.table[ids], starts, axis=0)
        return out


__all__ = ["DIMENSIONS", "MODEL_NAME", "distil", "embed", "ensure", "table_path",
           "text_hash"]
