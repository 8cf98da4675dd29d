"""The static sentence model against the transformer it is distilled from: what the
distillation costs, how fast each embeds, and search quality with each.

Distils the table into a temporary cache folder (as ``.ci/setup`` does; wall and CPU
seconds), embeds the first ``--rows`` initiatives of a generated bundle with the static
model and a few hundred with the transformer (rows/s, in this process, one after the
other), and gathers the quality harness's figures for the three ``search_model``
settings (``bench/quality_search.py`` run with ``TRIEDBEFORE_SEARCH_MODEL`` set, named
``quality_search-model-<setting>``; both splits). Results go to
``bench/results/static-model.json`` and ``.md``.

    for m in transformer mixed static; do
      TRIEDBEFORE_SEARCH_MODEL=$m python bench/quality_search.py --name quality_search-model-$m
    done
    python bench/static_model_bench.py
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import ensure_bundle  # noqa: E402

from triedbefore.graph import embedding, settings, static_embedding, vectors  # noqa: E402
from triedbefore.ontology.vocab import Label  # noqa: E402

RESULTS = HERE / "results"
SETTINGS = ("transformer", "mixed", "static")
FIGURES = (("paraphrases", "top3", "paraphrase top-3"), ("typos", "top3", "typo top-3"),
           ("existing_queries", "top1", "existing queries top-1"),
           ("resolution", "top1", "resolution top-1"),
           ("resolution", "auto_link_precision", "auto-link precision"),
           ("proposals", "first_initiative", "proposal: first similar initiative"))


def distillation() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="static-model-") as tmp:
        os.environ[settings.MODEL_CACHE.env] = tmp
        load = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        path = static_embedding.ensure()
        out = {"wall_s": round(time.perf_counter() - wall, 1),
               "cpu_s": round(time.process_time() - cpu, 1),
               "table_mib": round(path.stat().st_size / 2**20, 1),
               "load_average": round((load + os.getloadavg()[0]) / 2, 1)}
    del os.environ[settings.MODEL_CACHE.env]
    static_embedding._model = None
    return out


def rates(bundle: Path, rows: int) -> dict[str, Any]:
    with (bundle / "initiatives.csv").open(newline="", encoding="utf-8") as f:
        texts = [vectors.text_of(Label.INITIATIVE, r)
                 for _, r in zip(range(rows), csv.DictReader(f), strict=False)]
    static_embedding.embed(["warm up"])
    embedding.embed(["warm up"])
    load = os.getloadavg()[0]
    start = time.perf_counter()
    static_embedding.embed(texts)
    static_s = time.perf_counter() - start
    few = texts[:300]
    embedding._remembered.clear()
    start = time.perf_counter()
    embedding.embed(few)
    transformer_s = time.perf_counter() - start
    return {"static_rows": len(texts), "static_rows_per_s": round(len(texts) / static_s),
            "transformer_rows": len(few),
            "transformer_rows_per_s": round(len(few) / transformer_s, 1),
            "mean_chars": round(sum(map(len, texts)) / len(texts)),
            "load_average": round((load + os.getloadavg()[0]) / 2, 1)}


def quality() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in SETTINGS:
        path = RESULTS / f"quality_search-model-{name}.json"
        if path.exists():
            data = json.loads(path.read_text())
            out[name] = {"run_at": data["run_at"], "commit": data.get("commit"),
                         "figures": {label: {split: data["figures"][group][split].get(key)
                                             for split in ("dev", "test")}
                                     for group, key, label in FIGURES},
                         "speed": data["speed"]}
    return out


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def report(r: dict[str, Any]) -> str:
    d, e, q = r["distillation"], r["rates"], r["quality"]
    lines = [
        "# The static sentence model against the transformer",
        "",
        f"Run {r['at']} on {os.cpu_count()} cores shared with other workers.",
        "",
        f"- Distillation (`static_embedding.ensure()`, as `.ci/setup` runs it): "
        f"{d['wall_s']} s wall, {d['cpu_s']} s CPU (load average {d['load_average']}); "
        f"table {d['table_mib']} MiB (30,522 tokens × {static_embedding.DIMENSIONS}, "
        "float16).",
        f"- Embedding ({e['mean_chars']} characters per initiative on average, load average "
        f"{e['load_average']}): static model {e['static_rows_per_s']:,} rows/s "
        f"({e['static_rows']:,} rows); transformer {e['transformer_rows_per_s']} rows/s "
        f"({e['transformer_rows']} rows): "
        f"{e['static_rows_per_s'] / e['transformer_rows_per_s']:.0f} times faster.",
        "",
        "Quality on the harness (`bench/quality_search.py`, demo graph), development / "
        "held-out split:",
        "",
        "| measure | " + " | ".join(f"`{n}`" for n in q) + " |",
        "|---|" + "---|" * len(q),
    ]
    for _group, _key, label in FIGURES:
        lines.append(f"| {label} | " + " | ".join(
            f"{_pct(v['figures'][label]['dev'])} / {_pct(v['figures'][label]['test'])}"
            for v in q.values()) + " |")
    lines += ["", *(f"- {note}" for note in r.get("notes", [])), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--note", action="append", default=[],
                        help="a line for the report's notes")
    args = parser.parse_args()
    bundle = ensure_bundle(args.work / "bundle-100000", 100_000)
    result = {"at": time.strftime("%Y-%m-%d %H:%M:%S"), "distillation": distillation(),
              "rates": rates(bundle, args.rows), "quality": quality(), "notes": args.note}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "static-model.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "static-model.md").write_text(report(result))
    print(report(result))


if __name__ == "__main__":
    main()
