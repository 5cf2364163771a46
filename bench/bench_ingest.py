"""Benchmark: ingest and stage ~1 M person rows (raw load + staging), with peak memory.

    .venv/bin/python bench/bench_ingest.py [--households 260000] [--landing DIR]

Synthesises a province (or reuses --landing), then times each step of the raw and
staging stages on persons and households, the way the assets run them (without the
warehouse write, which bench_pipeline measures with the rest of the graph).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from assets.raw.landing import find_landing_file, load_raw
from assets.staging.tables import stage_households, stage_persons
from synthetic.province import synthesise_province

GOAL_SECONDS = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=260_000)
    parser.add_argument("--landing", type=Path, default=None)
    parser.add_argument("--error-rate", type=float, default=0.01)
    args = parser.parse_args()

    landing = args.landing
    if landing is None or not (landing / "persons.csv").exists():
        landing = landing or Path(tempfile.mkdtemp(prefix="bench_ingest_"))
        started = time.perf_counter()
        synthesise_province(
            landing,
            seed=1,
            households=args.households,
            n_communes=100,
            error_rate=args.error_rate,
        )
        print(f"synthesised {landing} in {time.perf_counter() - started:.1f} s (not counted)")

    timings: dict[str, float] = {}

    def timed(name, fn, *a):
        started = time.perf_counter()
        out = fn(*a)
        timings[name] = time.perf_counter() - started
        return out

    raw_persons = timed(
        "raw persons (read, decode, lineage)", load_raw, find_landing_file(landing, "persons")
    )
    raw_households = timed("raw households", load_raw, find_landing_file(landing, "households"))
    persons = timed("staging persons", stage_persons, raw_persons)
    households = timed("staging households", stage_households, raw_households)

    total = sum(timings.values())
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"\n{len(raw_persons):,} person rows, {len(raw_households):,} household rows")
    for name, seconds in timings.items():
        print(f"  {name:<38} {seconds:6.1f} s")
    print(f"  {'total':<38} {total:6.1f} s   (goal < {GOAL_SECONDS:.0f} s)")
    print(f"  peak memory {peak_gb:.2f} GB")
    print(
        f"  staged {len(persons.table):,} persons ({len(persons.rejected):,} rejected), "
        f"{len(households.table):,} households ({len(households.rejected):,} rejected)"
    )
    return 0 if total < GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
