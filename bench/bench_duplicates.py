"""Benchmark: probable duplicate detection alone, on the staged persons of a warehouse.

    cp /tmp/b22/main/warehouse.duckdb /tmp/mine/warehouse.duckdb   # DuckDB locks the file
    .venv/bin/python bench/bench_duplicates.py /tmp/mine/warehouse.duckdb --out a.parquet
    .venv/bin/python bench/bench_duplicates.py /tmp/mine/warehouse.duckdb --compare a.parquet

Reads the households and hamlets, then times what the ``quality__probable_duplicates``
step does with the persons: reads them (``person_slices``, a slice at a time; a checkout
from before the slices reads ``SPLINK_COLUMNS`` of ``staging.persons`` whole) and runs
``find_probable_duplicates``: CPU seconds (user + system, all threads), wall seconds, and
the process's resident memory before the step and at its peak during it (sampled every
50 ms). ``--memory-limit`` sets DuckDB's for the model's database. ``--out`` keeps
the table (record keys, no names or IDs: it is ``quality.probable_duplicates``);
``--compare`` checks the table equals one kept earlier (rows, cluster ids, probabilities
to 6 places, fields), e.g. from another checkout run with ``PYTHONPATH`` pointing at it.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from bench_pipeline import RssSampler

from assets.quality.duplicates import SPLINK_COLUMNS, DuplicateSettings, find_probable_duplicates
from assets.warehouse import Warehouse


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _persons(warehouse: Warehouse) -> Iterable[pd.DataFrame] | pd.DataFrame:
    """The persons as the step reads them: slices, or one frame before the slices."""
    try:
        from assets.quality.duplicate_records import person_slices
    except ImportError:
        return warehouse.read_table("staging.persons", columns=list(SPLINK_COLUMNS))
    return person_slices(warehouse)


def _records_in(run, warehouse: Warehouse) -> int:
    if getattr(run, "records_in", 0):
        return run.records_in
    return len(warehouse.read_table("staging.persons", columns=["record_id"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("warehouse", type=Path, help="a DuckDB warehouse file (a copy)")
    parser.add_argument("--province", default="04")
    parser.add_argument("--band-persons", type=int, help="records predicted at once")
    parser.add_argument("--memory-limit", help='DuckDB memory limit, e.g. "1GB"')
    parser.add_argument("--out", type=Path, help="write the table to this Parquet file")
    parser.add_argument("--compare", type=Path, help="Parquet table the result must equal")
    args = parser.parse_args()

    warehouse = Warehouse(f"duckdb:///{args.warehouse.resolve()}").for_province(args.province)
    households = warehouse.read_table("staging.households", columns=["household_id", "hamlet_code"])
    hamlets = warehouse.read_table("staging.hamlets", columns=["hamlet_code", "commune_code"])
    # Only when asked: a checkout from before the bands is benchmarked as it is.
    settings = DuplicateSettings(
        **({"band_persons": args.band_persons} if args.band_persons else {}),
        **({"memory_limit": args.memory_limit} if args.memory_limit else {}),
    )
    with RssSampler() as sampler:
        time.sleep(0.1)
        before = sampler.samples[-1][1] / 1024**3
        start, wall, cpu = time.time(), time.perf_counter(), _cpu_seconds()
        run = find_probable_duplicates(_persons(warehouse), households, hamlets, settings)
        cpu, wall, end = _cpu_seconds() - cpu, time.perf_counter() - wall, time.time()
    print(
        f"{_records_in(run, warehouse):,} persons: {cpu:.1f} s CPU, {wall:.1f} s wall, "
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
