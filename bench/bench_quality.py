"""Benchmark: the validation steps after staging, each alone, on a copy of a warehouse.

    .venv/bin/python bench/bench_quality.py /tmp/w.duckdb              # every step
    .venv/bin/python bench/bench_quality.py /tmp/w.duckdb --step suite --profile

The warehouse must hold a province's staged tables, ``quality.probable_duplicates`` and
``quality.hamlet_count_reconciliation`` (a run of ``hamlets run`` leaves them); it is
copied first, and the copy is written. Each step (the plain functions its asset calls,
and the asset's write) runs in a child process of its own, in graph order, its
modules imported before the clock starts and its outputs dropped first (as in a
province's first run; ``--rerun`` keeps them), so the process' peak memory
(``ru_maxrss``) is the step's; its CPU seconds (user + sys) are
what a shared machine cannot distort, wall seconds are printed beside them. With
``--profile`` the step runs under cProfile (CPU time) and the top functions are printed.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import pstats
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

STEPS = ("record_issues", "persons", "households_quarantined", "suite")
# What each step writes, dropped before it runs, as in a province's first run (a re-run
# in a warehouse holding other provinces also pays DuckDB's deletion of the province's
# rows from a keyed table; alone in it, the table is made anew).
OUTPUTS = {
    "record_issues": ("quality.record_issues",),
    "persons": ("quality.persons_clean", "quality.persons_quarantined"),
    "households_quarantined": ("quality.households_quarantined",),
}


def _drop_outputs(step: str, url: str) -> None:
    from assets.warehouse import Warehouse

    with Warehouse(url).connect() as con:
        for table in OUTPUTS.get(step, ()):
            con.execute(f"DROP TABLE IF EXISTS {table}")


def _run_step(step: str, url: str, province: str, batch_persons: int, docs: str) -> None:
    import pandas as pd

    from assets.quality.batches import record_issues_by_commune
    from assets.quality.holds import hold_households, persons_per_household
    from assets.quality.persons_suite import validate_persons_by_commune
    from assets.quality.settings import QualitySettings
    from assets.quality.split import split_persons_by_commune
    from assets.warehouse import Warehouse
    from expectations.suites import AS_OF, HEAD_MIN_AGE

    if step == "imports":  # paid once per process, not by the step timed
        from expectations.suites import _gx

        _gx()
        return
    warehouse = Warehouse(url).for_province(province)
    settings = QualitySettings(as_of=pd.Timestamp("2026-05-31").date())
    if step == "record_issues":
        duplicates = warehouse.read_table("quality.probable_duplicates")
        reconciliation = warehouse.read_table("quality.hamlet_count_reconciliation")
        with warehouse.connect() as con:
            issues, batches = record_issues_by_commune(
                warehouse, con, settings, reconciliation, duplicates, batch_persons
            )
        warehouse.write_table("quality.record_issues", issues)
        print(f"  {len(issues)} issues, {len(batches)} batches")
    elif step == "persons":
        with warehouse.transaction() as con:
            split = split_persons_by_commune(warehouse, con, batch_persons)
        print(f"  {split}")
    elif step == "households_quarantined":
        held = hold_households(
            warehouse.read_table("staging.households"),
            warehouse.read_table("quality.record_issues"),
            persons_per_household(warehouse, "staging.persons"),
            persons_per_household(warehouse, "quality.persons_clean"),
            pd.DataFrame(warehouse.read_table("staging.hamlets").drop(columns="geometry")),
            warehouse.read_table("staging.communes"),
        )
        warehouse.write_table("quality.households_quarantined", held)
        print(f"  {len(held)} households held")
    elif step == "suite":
        parameters = {HEAD_MIN_AGE: settings.head_min_age, AS_OF: "2026-05-31"}
        with warehouse.connect() as con:
            result = validate_persons_by_commune(
                warehouse,
                con,
                parameters=parameters,
                run_name="bench",
                data_docs_dir=docs or None,
                max_persons=batch_persons,
            )
        print(f"  success={result.success} failed={result.failed} of {result.evaluated}")
        for o in result.outcomes:
            print(f"    {o.expectation} {o.column}: {o.unexpected_count}/{o.element_count}")


def _child(step: str, args: argparse.Namespace, url: str, out: multiprocessing.Queue) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    _run_step("imports", url, args.province, args.batch_persons, "")
    if not args.rerun:
        _drop_outputs(step, url)
    started, cpu = time.perf_counter(), time.process_time()
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    if profiler:
        profiler.enable()
    _run_step(step, url, args.province, args.batch_persons, args.data_docs)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(40)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put((time.perf_counter() - started, time.process_time() - cpu, usage.ru_maxrss / 1024**2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("warehouse", type=Path, help="DuckDB warehouse to copy and run on")
    parser.add_argument("--province", default="04")
    parser.add_argument("--step", choices=STEPS, action="append")
    parser.add_argument("--batch-persons", type=int, default=200_000)
    parser.add_argument("--data-docs", default="", help="write the suite's Data Docs here")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="pstats order, e.g. tottime")
    parser.add_argument("--rerun", action="store_true", help="keep the outputs (a re-run)")
    parser.add_argument("--keep", type=Path, help="copy to this path and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_quality_")) / "w.duckdb"
    shutil.copy(args.warehouse, work)
    url = f"duckdb:///{work}"
    context = multiprocessing.get_context("spawn")
    print(f"{'step':<26}{'CPU s':>8}{'wall s':>9}{'peak RSS GB':>13}")
    for step in args.step or STEPS:
        out = context.Queue()
        child = context.Process(target=_child, args=(step, args, url, out))
        child.start()
        wall, cpu, rss = out.get()
        child.join()
        print(f"{step:<26}{cpu:>8.1f}{wall:>9.1f}{rss:>13.2f}", flush=True)
    if not args.keep:
        shutil.rmtree(work.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
