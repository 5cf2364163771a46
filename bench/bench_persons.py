"""Benchmark: the raw and staging persons steps alone, as a run materialises them.

    .venv/bin/python bench/bench_persons.py --landing /tmp/b22/large/landing \
        --warehouse /tmp/persons.duckdb [--province 04]

Each step runs in a child process of its own (``read persons``: the persons file read
block by block as ``raw/persons`` reads it, nothing written, the reader's own memory;
``raw/persons`` into a fresh warehouse, then ``staging/persons`` from it), so each one's
peak resident memory is its own; it prints the step's CPU seconds (user + system, the
figure to compare on a shared machine), wall seconds and peak memory. The landing
folder is only read.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

READ = "read persons"
STEPS = (READ, "raw/persons", "staging/persons")
AS_OF = "2026-05-31"


def _child(landing: Path, warehouse: Path, province: str, step: str) -> dict[str, object]:
    """Materialise ``step`` (in this process) and return its figures."""
    import datetime as dt
    import warnings

    import dagster as dg

    from assets.raw.defs import RAW_ASSETS
    from assets.staging.defs import STAGING_ASSETS
    from pipelines.build import build_resources
    from pipelines.settings import Settings

    warnings.filterwarnings("ignore")
    if step == READ:
        return _read(landing, province)
    settings = Settings(
        warehouse_url=f"duckdb:///{warehouse}",
        landing_root=landing,
        as_of=dt.date.fromisoformat(AS_OF),
    )
    asset = next(a for a in [*RAW_ASSETS, *STAGING_ASSETS] if a.key.to_user_string() == step)
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_SELF)
    result = dg.materialize(
        [asset], partition_key=province, resources=build_resources(settings), selection=[asset.key]
    )
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "step": step,
        "success": result.success,
        "cpu_s": round(cpu, 1),
        "wall_s": round(time.perf_counter() - started, 1),
        "peak_gb": round(after.ru_maxrss / 1024**2, 2),
    }


def _read(landing: Path, province: str) -> dict[str, object]:
    """The persons file read as ``raw/persons`` reads it, block by block, nothing kept."""
    from assets.raw.landing import BLOCK_LINES, Landing, load_raw_blocks

    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_SELF)
    landing_file = Landing(landing).for_province(province).file("persons")
    rows = sum(len(block) for block in load_raw_blocks(landing_file, BLOCK_LINES))
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "step": READ,
        "success": rows > 0,
        "cpu_s": round((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), 1),
        "wall_s": round(time.perf_counter() - started, 1),
        "peak_gb": round(after.ru_maxrss / 1024**2, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True, help="landing root")
    parser.add_argument("--warehouse", type=Path, required=True, help="a new DuckDB file")
    parser.add_argument("--province", default="04")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)  # the child's
    args = parser.parse_args()
    if args.step:
        print(json.dumps(_child(args.landing, args.warehouse, args.province, args.step)))
        return 0
    if args.warehouse.exists():
        parser.error(f"{args.warehouse} exists; give a new file")
    ok = True
    print(f"{'step':<18}{'CPU':>9}{'wall':>9}{'peak RSS':>11}")
    for step in STEPS:
        child = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--step", step],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
        if child.returncode or not lines:
            print(f"{step}: failed\n{child.stderr[-2000:]}")
            return 1
        figures = json.loads(lines[-1])
        ok &= bool(figures["success"])
        print(
            f"{step:<18}{figures['cpu_s']:>7.1f} s{figures['wall_s']:>7.1f} s"
            f"{figures['peak_gb']:>8.2f} GB"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
