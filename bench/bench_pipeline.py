"""Benchmark: the whole pipeline, landing files to published marts and exports.

    .venv/bin/python bench/bench_pipeline.py --size cao_bang     # ~550,000 persons
    .venv/bin/python bench/bench_pipeline.py --size small        # ~120,000 persons
    .venv/bin/python bench/bench_pipeline.py --size large        # ~1.2 M persons

Prints wall time per step (from the run's event log), the total, and peak memory
(this process: the run executes in-process on DuckDB). The landing folder is
synthesised first and not timed.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

from geodata.synthetic import synthesise_province
from pipelines.runner import run_province
from pipelines.settings import Settings

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
SIZES = {
    # name: (households, communes file or None, generated communes)
    "small": (30_000, None, 20),
    "cao_bang": (133_000, REALDATA / "communes_04_cao_bang.geojson", 56),
    "large": (300_000, None, 120),
}


def step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = record.timestamp
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            seconds[event.step_key] = record.timestamp - started.get(
                event.step_key, record.timestamp
            )
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="cao_bang")
    parser.add_argument("--work", type=Path, default=None, help="keep files here")
    args = parser.parse_args()
    households, communes, n_communes = SIZES[args.size]
    if communes is not None and not communes.exists():
        communes = None
    work = args.work or Path(tempfile.mkdtemp(prefix=f"bench_pipeline_{args.size}_"))
    landing = work / "landing"
    if not (landing / "persons.csv").exists():
        t = time.perf_counter()
        summary = synthesise_province(
            landing,
            seed=7,
            households=households,
            communes_path=communes,
            n_communes=n_communes,
            error_rate=0.01,
        )
        print(
            f"synthesised {summary.persons:,} persons in {summary.communes} communes "
            f"({time.perf_counter() - t:.1f} s, not counted)"
        )
    settings = Settings(warehouse_url=f"duckdb:///{work / 'warehouse.duckdb'}", landing_dir=landing)
    instance = dg.DagsterInstance.ephemeral()
    t = time.perf_counter()
    report = run_province(settings, instance=instance, log_level="WARNING")
    total = time.perf_counter() - t
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    for step, seconds in sorted(
        step_seconds(instance, report.run_id).items(), key=lambda kv: -kv[1]
    ):
        print(f"  {step:<48} {seconds:7.1f} s")
    print(f"  {'total (run)':<48} {total:7.1f} s   success={report.success}")
    print(f"  peak memory {peak_gb:.2f} GB")
    return 0 if report.success else 1


if __name__ == "__main__":
    sys.exit(main())
