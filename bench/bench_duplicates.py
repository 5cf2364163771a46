"""Benchmark: probable duplicate detection alone, on the staged persons of a warehouse.

    cp /tmp/b22/main/warehouse.duckdb /tmp/mine/warehouse.duckdb   # DuckDB locks the file
    .venv/bin/python bench/bench_duplicates.py /tmp/mine/warehouse.duckdb --out a.parquet
    .venv/bin/python bench/bench_duplicates.py /tmp/mine/warehouse.duckdb --compare a.parquet

Reads what the ``quality__probable_duplicates`` step reads (``SPLINK_COLUMNS`` of
``staging.persons``, the households and hamlets), then times ``find_probable_duplicates``
alone: CPU seconds (user + system, all threads), wall seconds, and the process's resident
memory before the step and at its peak during it (sampled every 50 ms). ``--out`` keeps
the table (record keys, no names or IDs: it is ``quality.probable_duplicates``);
``--compare`` checks the table equals one kept earlier (rows, cluster ids, probabilities
to 6 places, fields), e.g. from another checkout run with ``PYTHONPATH`` pointing at it.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import pandas as pd
from bench_pipeline import RssSampler

from assets.quality.duplicates import SPLINK_COLUMNS, DuplicateSettings, find_probable_duplicates
from assets.warehouse import Warehouse


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("warehouse", type=Path, help="a DuckDB warehouse file (a copy)")
    parser.add_argument("--province", default="04")
    parser.add_argument("--band-persons", type=int, help="records predicted at once")
    parser.add_argument("--out", type=Path, help="write the table to this Parquet file")
    parser.add_argument("--compare", type=Path, help="Parquet table the result must equal")
    args = parser.parse_args()

    warehouse = Warehouse(f"duckdb:///{args.warehouse.resolve()}").for_province(args.province)
    persons = warehouse.read_table("staging.persons", columns=list(SPLINK_COLUMNS))
    households = warehouse.read_table("staging.households", columns=["household_id", "hamlet_code"])
    hamlets = warehouse.read_table("staging.hamlets", columns=["hamlet_code", "commune_code"])
    # Only when asked: a checkout from before the bands is benchmarked as it is.
    settings = DuplicateSettings(
        **({"band_persons": args.band_persons} if args.band_persons else {})
    )
    with RssSampler() as sampler:
        time.sleep(0.1)
        before = sampler.samples[-1][1] / 1024**3
        start, wall, cpu = time.time(), time.perf_counter(), _cpu_seconds()
        run = find_probable_duplicates(persons, households, hamlets, settings)
        cpu, wall, end = _cpu_seconds() - cpu, time.perf_counter() - wall, time.time()
    print(
        f"{len(persons):,} persons: {cpu:.1f} s CPU, {wall:.1f} s wall, "
        f"RSS {before:.2f} GB before, {sampler.peak_gb(start, end):.2f} GB peak; "
        f"{run.pairs_scored:,} pairs scored, {run.pairs_linked:,} linked, "
        f"{len(run.table):,} records in {run.table['cluster_id'].nunique():,} clusters"
    )
    if args.out:
        run.table.to_parquet(args.out, index=False)
    if args.compare:
        pd.testing.assert_frame_equal(
            run.table.reset_index(drop=True),
            pd.read_parquet(args.compare).astype(run.table.dtypes.to_dict()),
        )
        print(f"identical to {args.compare}")


if __name__ == "__main__":
    main()
