"""The measured MPNet forward pass (``bench/mpnet_encoder.py``): the pieces that can be
checked without its 400 MB of weights (the split zip read as one file, the relative
position buckets), and, where the parts are installed, torch's values."""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import mpnet_encoder  # noqa: E402


def test_split_zip_reads_as_one_file(tmp_path: Path) -> None:
    """The registry's parts are byte ranges of one zip: joined in order, the members read
    back whole, across part boundaries."""
    payload = np.random.default_rng(7).bytes(50_000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("m/config.json", '{"model_type": "mpnet"}')
        zf.writestr("m/model.bin", payload)
    whole = buffer.getvalue()
    cuts = [0, 7_000, 31_000, len(whole)]
    parts = []
    for n, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False), 1):
        path = tmp_path / f"m.zip.{n:03d}"
        path.write_bytes(whole[a:b])
        parts.append(path)
    with zipfile.ZipFile(io.BufferedReader(mpnet_encoder.Joined(parts), 4096)) as zf:
        assert zf.read("m/model.bin") == payload
        assert zf.read("m/config.json") == b'{"model_type": "mpnet"}'


def test_relative_position_buckets() -> None:
    """32 buckets: keys before the query in 0-15, after it in 16-31; distances 0-7 exact,
    then logarithmic to 128, beyond it the last bucket of the half."""
    buckets = mpnet_encoder.relative_buckets(300)
    assert buckets.shape == (300, 300)
    query = 150
    expected = {150: 0, 149: 1, 143: 7, 142: 8, 151: 17, 157: 23, 158: 24,
                # log(d / 8) / log(16) * 8, floored: 16 → 10, 32 → 12, 127 → 15
                134: 10, 118: 12, 23: 15, 0: 15, 166: 26, 182: 28, 299: 31}
    for key, bucket in expected.items():
        assert buckets[query, key] == bucket, (key, buckets[query, key])
    assert buckets.min() == 0 and buckets.max() == 31


@pytest.mark.skipif(not mpnet_encoder.available(),
                    reason="the all-mpnet-base-v2 parts are not installed")
def test_forward_pass_gives_torchs_values() -> None:
    """torch's vector of "Hello world" and cosines of "dog" (another project's published
    fixtures), to float32 precision; a batch gives each text's vector alone."""
    sys.path.insert(0, str(ROOT / "bench"))
    import quality_model_mpnet as measured

    enc = mpnet_encoder.MPNetEncoder()
    hello = enc.encode(["Hello world"])[0]
    assert hello.shape == (768,)
    assert np.allclose(hello[:5], measured.REFERENCE_HELLO, atol=1e-6)
    texts = ["dog", *measured.REFERENCE_COSINES]
    batch = enc.encode(texts)
    for i, text in enumerate(measured.REFERENCE_COSINES, 1):
        assert abs(float(batch[0] @ batch[i]) - measured.REFERENCE_COSINES[text]) < 1e-5
    alone = np.stack([enc.encode([t])[0] for t in texts])
    assert np.abs(alone - batch).max() < 1e-6
