"""The merger options step alone, on a province's warehouse (run on demand; not a test).

    .venv/bin/python bench/bench_merger_step.py --warehouse /tmp/b22/main/warehouse.duckdb
    .venv/bin/python bench/bench_merger_step.py --warehouse W --workers 1 2 --check

Calls what ``planning_merger_options`` calls (``plan_options`` on planning.hamlet_compliance,
planning.hamlet_adjacency and staging.hamlets) on a copy of the DuckDB file (DuckDB
locks the file it opens; the original is never written), once per ``--workers`` value,
and prints CPU seconds (this process and its worker processes), wall seconds and peak
resident memory (this process; the largest worker). CPU is the figure to compare on a
shared machine: wall time depends on the load. ``--check`` asserts that every run's
tables are equal to the first's (the seconds columns aside), as they must be whatever
the worker count.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assets.planning.assembly import PlanResult
from assets.planning.constraints import PlannerConstraints, majority_ethnicity, read_constraints
from assets.planning.options import plan_options
from assets.planning.rules import load_rules
from assets.warehouse import Warehouse
from geodata.compactness import hamlet_measures

TIMING = ["solve_seconds", "exact_seconds"]


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _peaks_gb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    return round(own, 2), round(child, 2)


def run(warehouse: Warehouse, province: str, workers: int, time_limit: float) -> PlanResult:
    """The step's plain functions, as the asset calls them; prints the figures."""
    cpu, wall = _cpu(), time.perf_counter()
    compliance = warehouse.read_table("planning.hamlet_compliance")
    adjacency = warehouse.read_table("planning.hamlet_adjacency")
    hamlets = warehouse.read_table("staging.hamlets")
    names = (hamlets["name_prefix"].fillna("") + " " + hamlets["hamlet_name"]).str.strip()
    names.index = hamlets["hamlet_code"]
    constraints = PlannerConstraints.of(read_constraints(warehouse, province))
    ethnicity = majority_ethnicity(warehouse) if constraints.same_ethnicity_communes else None
    read_cpu, read_wall = _cpu() - cpu, time.perf_counter() - wall
    cpu, wall = _cpu(), time.perf_counter()
    result = plan_options(
        compliance,
        adjacency,
        load_rules(None),
        names=names,
        measures=hamlet_measures(hamlets),
        time_limit_s_per_commune=time_limit,
        workers=workers,
        constraints=constraints,
        ethnicity=ethnicity,
    )
    own, child = _peaks_gb()
    print(
        f"workers={workers}: {len(compliance):,} hamlets in "
        f"{compliance['commune_code'].nunique()} communes; inputs {read_cpu:.1f} s CPU "
        f"({read_wall:.1f} s wall); plan_options {_cpu() - cpu:.1f} s CPU, "
        f"{time.perf_counter() - wall:.1f} s wall; peak RSS {own:.2f} GB (largest worker "
        f"so far {child:.2f} GB)",
        flush=True,
    )
    slowest = result.summary.groupby("commune_code")["solve_seconds"].sum().nlargest(3)
    print(f"  slowest communes (solve s, all options): {slowest.round(1).to_dict()}")
    return result


def same(one: PlanResult, other: PlanResult) -> None:
    for name in ("assignments", "units", "summary", "constraint_problems"):
        a, b = getattr(one, name), getattr(other, name)
        pd.testing.assert_frame_equal(
            a.drop(columns=[c for c in TIMING if c in a]),
            b.drop(columns=[c for c in TIMING if c in b]),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="a DuckDB file")
    parser.add_argument("--province", default="04")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--time-limit", type=float, default=2.0, help="deterministic s")
    parser.add_argument("--check", action="store_true", help="tables equal across runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_merger_") as tmp:
        copy = Path(tmp) / "warehouse.duckdb"
        shutil.copyfile(args.warehouse, copy)
        warehouse = Warehouse(f"duckdb:///{copy}").for_province(args.province)
        results = [run(warehouse, args.province, w, args.time_limit) for w in args.workers]
    if args.check:
        for other in results[1:]:
            same(results[0], other)
        print("tables equal across worker counts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
