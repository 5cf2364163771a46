"""Benchmark: the phases of probable duplicate detection, to see what grows with the province.

    cp /tmp/b22/large/warehouse.duckdb /tmp/mine/warehouse.duckdb   # DuckDB locks the file
    .venv/bin/python bench/bench_duplicate_phases.py /tmp/mine/warehouse.duckdb
    .venv/bin/python bench/bench_duplicate_phases.py /tmp/mine/14m.duckdb --bands 2

Times, on the staged persons of a warehouse, the input (``person_slices`` appended to
the model's table), the training (u, prior, m), the prediction (every birth-year band,
or the first ``--bands``: with today's blocking rules a band of 14 M persons' province
is slow), and the clusters: CPU seconds (user + system), wall seconds, and the peak
resident memory of the process up to the end of each phase (sampled every 50 ms).

Measured on the 2-core, 24 GB machine, loaded by other runs (wall not comparable),
memory limit 3 GB: 1.2 M persons (seed 7): input 10.7 s CPU, training 8.1 s, peak
0.97 GB (whole step, bench_duplicates: 68.0 s CPU, 1.00 GB); 14 M persons (TP. Hồ Chí
Minh, seed 7): input 129.0 s CPU, 1.70 GB; training 85.1 s CPU, 3.41 GB; two bands
(339,379 pairs scored) 52.3 s CPU; peak 3.41 GB. Input and training grow 12× and 10.5×
for 11.7× the persons.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from bench_pipeline import RssSampler

from assets.quality import duplicates
from assets.quality.duplicate_records import (
    SplinkRecords,
    load_records,
    model_database,
    person_slices,
)
from assets.warehouse import Warehouse


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _first_bands(records: SplinkRecords, bands: int, band_persons: int) -> SplinkRecords:
    """The records of the first ``bands`` birth-year bands, as a table: its bands are
    those of the province (they are cut from the oldest year on)."""
    per_year = records.query(
        "SELECT birth_year, count(*) AS n FROM records WHERE birth_year IS NOT NULL "
        "GROUP BY birth_year"
    ).set_index("birth_year")["n"]
    band_of_year = duplicates._bands_of_years(per_year, band_persons)
    last = int(band_of_year[band_of_year < bands].index.max())
    records.con.execute(
        f"CREATE OR REPLACE TABLE first_bands AS SELECT * FROM {records.table} "
        "WHERE birth_year <= ?",
        [last],
    )
    return SplinkRecords(records.con, "first_bands")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("warehouse", type=Path, help="a DuckDB warehouse file (a copy)")
    parser.add_argument("--province", default="04")
    parser.add_argument("--bands", type=int, help="predict only the first bands")
    parser.add_argument("--memory-limit", help='DuckDB memory limit, e.g. "3GB"')
    args = parser.parse_args()

    warehouse = Warehouse(f"duckdb:///{args.warehouse.resolve()}").for_province(args.province)
    settings = duplicates.DuplicateSettings(
        **({"memory_limit": args.memory_limit} if args.memory_limit else {})
    )
    with RssSampler() as sampler, model_database(settings.memory_limit) as con:
        start = time.time()

        def phase(label: str, cpu: float, wall: float) -> None:
            print(
                f"{label}: {_cpu_seconds() - cpu:.1f} s CPU, {time.perf_counter() - wall:.1f} s "
                f"wall, peak so far {sampler.peak_gb(start, time.time()):.2f} GB",
                flush=True,
            )

        cpu, wall = _cpu_seconds(), time.perf_counter()
        records = load_records(con, person_slices(warehouse))
        phase(f"input ({len(records):,} records)", cpu, wall)
        cpu, wall = _cpu_seconds(), time.perf_counter()
        linker, _, db_api = duplicates._trained_linker(con, records, settings)
        phase("training", cpu, wall)
        cpu, wall = _cpu_seconds(), time.perf_counter()
        predicted = records
        if args.bands:
            predicted = _first_bands(records, args.bands, settings.band_persons)
        scored, linked = duplicates._predicted_pairs(linker, db_api, predicted, settings)
        phase(f"prediction ({scored:,} pairs scored, {len(linked):,} linked)", cpu, wall)
        cpu, wall = _cpu_seconds(), time.perf_counter()
        duplicates._clusters(db_api, records, linked, settings.threshold)
        phase("clusters", cpu, wall)


if __name__ == "__main__":
    main()
