"""Zip bomb benchmark: peak memory and time of `ingest` on a bundle built to exhaust it.

The bundle is the one of the attack report: a .zip of about half a megabyte holding a
200 MB ``sites.csv`` of 9.1 million identical rows (every row after the first repeats
its id: one problem per row). It is loaded by the real command line in a child process
(its peak RSS from ``wait4``), into a fresh embedded store:

- ``defaults``: the settings as shipped; the member is refused for its compression
  ratio (one error), the good ``solutions.csv`` beside it loads;
- ``limits_off``: the ratio and row limits raised so the rows are read (the first
  ``--rows-off`` of them, the whole file takes long): the problems are counted, the
  first ``ingest_problem_limit`` printed and every one streamed to the report, so memory
  stays flat however many there are.

Results go to ``bench/results/bomb.json`` and ``bomb.md``.

    python bench/bomb_bench.py [--rows 9100000] [--rows-off 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ingest_bench import machine, run_cli_usage  # noqa: E402

from triedbefore.graph.embedded import EmbeddedServer  # noqa: E402

RESULTS = HERE / "results"
HEADER = b"site_id,name,kind\n"
ROW = b"SITE-1,Same site,trust\n"  # 22 bytes: 9.1 M rows make 200 MB
SOLUTIONS = (b"solution_id,name,intervention_type\n"
             b"SOL-A,A solution,delivery_arrangements\n")
#: Targets of the attack report, for the same bomb with the shipped settings.
TARGET_MIB = 500
TARGET_S = 60


def build_bomb(path: Path, rows: int) -> dict[str, int]:
    """The bomb, deflated at the usual level (6: about 394 to 1, as the attack's); its sizes."""
    block = ROW * 100_000
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        with zf.open("sites.csv", "w", force_zip64=True) as fh:
            fh.write(HEADER)
            for _ in range(rows // 100_000):
                fh.write(block)
            fh.write(ROW * (rows % 100_000))
        zf.writestr("solutions.csv", SOLUTIONS)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("sites.csv")
    return {"zip_bytes": path.stat().st_size, "sites_csv_bytes": info.file_size,
            "sites_csv_rows": rows}


def one_run(name: str, bomb: Path, work: Path, env: dict[str, str]) -> dict[str, Any]:
    data_dir = work / f"store-{name}"
    reports = work / f"reports-{name}"
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.rmtree(reports, ignore_errors=True)
    server = EmbeddedServer(data_dir)
    server.ensure_running()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        run = run_cli_usage(f"embedded:{data_dir}", "ingest", str(bomb),
                            "--report-dir", str(reports))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    out = run["output"]
    report_files = sorted(reports.glob("*")) if reports.exists() else []
    result = {
        "settings": env,
        "seconds": round(run["seconds"], 2),
        "peak_rss_mib": round(run["peak_kib"] / 1024, 1),
        "stdout_bytes": len(json.dumps(out)),
        "errors_listed": len(out["errors"]),
        "problem_counts": out.get("problem_counts"),
        "loaded": out["loaded"],
        "first_error": out["errors"][0] if out["errors"] else None,
        "report_bytes": {p.name.split(".", 1)[1]: p.stat().st_size for p in report_files},
        "report_modes": sorted({oct(p.stat().st_mode & 0o777) for p in report_files}),
    }
    shutil.rmtree(reports, ignore_errors=True)
    return result


def report(results: dict[str, Any]) -> str:
    m, bomb = results["machine"], results["bomb"]
    lines = ["# Zip bomb benchmark", "",
             f"Machine: {m['cpus']} cores, {m['cpu']}, {m['memory_gib']} GiB; "
             f"Python {m['python']}. Run {results['when']}.", "",
             f"The bomb: a {bomb['zip_bytes']:,}-byte .zip holding a "
             f"{bomb['sites_csv_bytes']:,}-byte `sites.csv` of {bomb['sites_csv_rows']:,} "
             "identical rows, and a one-row `solutions.csv`.", "",
             "| run | settings | seconds | peak RSS (MiB) | errors listed | errors counted | "
             "stdout (bytes) | report (bytes) | report modes | loaded |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results["runs"].items():
        counts = r["problem_counts"] or {}
        settings = ", ".join(f"`{k}={v}`" for k, v in r["settings"].items()) or "as shipped"
        lines.append(
            f"| {name} | {settings} | {r['seconds']} | {r['peak_rss_mib']} | "
            f"{r['errors_listed']:,} | {counts.get('errors', 0):,} | {r['stdout_bytes']:,} | "
            f"{sum(r['report_bytes'].values()):,} | {' '.join(r['report_modes'])} | "
            f"{r['loaded']} |")
    first = results["runs"]["defaults"]["first_error"]
    lines += ["", f"The error with the shipped settings: `{first}`", "",
              f"Targets (the shipped settings): under {TARGET_MIB} MiB and under {TARGET_S} s, "
              "one clear error, the other files loaded. Met: "
              f"{'yes' if results['targets_met'] else 'NO'}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=9_100_000)
    parser.add_argument("--rows-off", type=int, default=1_000_000,
                        help="rows read with the limits raised (0: skip that run)")
    parser.add_argument("--work", type=Path, default=HERE / "work")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    bomb = args.work / "bomb.zip"
    sizes = build_bomb(bomb, args.rows)
    runs = {"defaults": one_run("defaults", bomb, args.work, {})}
    if args.rows_off:
        runs["limits_off"] = one_run("limits_off", bomb, args.work, {
            "TRIEDBEFORE_INGEST_MAX_RATIO": "100000",
            "TRIEDBEFORE_INGEST_MAX_ROWS": str(args.rows_off)})
    shipped = runs["defaults"]
    met = (shipped["peak_rss_mib"] < TARGET_MIB and shipped["seconds"] < TARGET_S
           and shipped["errors_listed"] == 1 and shipped["loaded"].get("solutions") == 1)
    results = {"benchmark": "bomb", "machine": machine(),
               "when": time.strftime("%Y-%m-%d %H:%M:%S"), "bomb": sizes, "runs": runs,
               "targets_met": met}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bomb.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "bomb.md").write_text(report(results))
    print(report(results))
    bomb.unlink()


if __name__ == "__main__":
    main()
