"""Benchmark: the exports step alone (``exports__province_files``) on a warehouse a run
already published, e.g. ``bench_pipeline.py --size large --work DIR``'s.

    .venv/bin/python bench/bench_exports.py --warehouse DIR/warehouse.duckdb --out /tmp/x
    .venv/bin/python bench/bench_exports.py --warehouse W --out /tmp/x --profile 30

Copies the warehouse first (DuckDB locks the file it opens), then calls the plain
function the asset calls (``export_province``). Prints CPU seconds of this process and
of its worker processes, the peak resident memory of both together (sampled every
50 ms), and wall and CPU seconds of the province's own files, written while the workers
write the communes' (wall means little on a busy machine).
``--profile N`` instead profiles (cProfile) reading the inputs and writing the first
``N`` communes' files in this process, the way one worker writes them, and prints the
top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import RssSampler

from assets.exports import communes as commune_files
from assets.exports import province as province_export
from assets.exports.location import Exports
from assets.warehouse import Warehouse


def _cpu_s() -> tuple[float, float]:
    """User+system CPU seconds of this process and of its ended children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


class PhaseTimer:
    """Wall and CPU seconds of the functions ``export_province`` calls, by name."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, float, float, float]] = []

    def wrap(self, module: object, name: str) -> None:
        function = getattr(module, name)

        def timed(*args: object, **kwargs: object) -> object:
            wall, (own, children) = time.perf_counter(), _cpu_s()
            try:
                return function(*args, **kwargs)
            finally:
                now_own, now_children = _cpu_s()
                self.phases.append(
                    (name, time.perf_counter() - wall, now_own - own, now_children - children)
                )

        setattr(module, name, timed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="exports root")
    parser.add_argument("--province", default="04")
    parser.add_argument("--workers", type=int, default=commune_files.EXPORT_WORKERS)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args()
    copy = Path(tempfile.mkdtemp(prefix="bench_exports_")) / "warehouse.duckdb"
    shutil.copyfile(args.warehouse, copy)
    warehouse = Warehouse(url=f"duckdb:///{copy}").for_province(args.province)
    try:
        if args.profile:
            return profile(warehouse, args.out, args.profile)
        commune_files.EXPORT_WORKERS = args.workers
        timer = PhaseTimer()
        for name in ("write_province_geopackage", "write_province_map"):
            timer.wrap(province_export, name)
        wall, (own_before, _) = time.perf_counter(), _cpu_s()  # imports (dagster) left out
        with RssSampler() as sampler:
            written = province_export.export_province(warehouse, Exports(args.out))
        wall = time.perf_counter() - wall
        own, children = _cpu_s()
        own -= own_before
        print(f"communes {written['commune_workbooks']}, maps {written['commune_maps']}")
        for name, seconds, cpu, child_cpu in timer.phases:
            print(
                f"  {name:<28} wall {seconds:6.1f} s, cpu {cpu:6.1f} s + workers {child_cpu:6.1f} s"
            )
        print(f"total: wall {wall:.1f} s, cpu {own:.1f} s + workers {children:.1f} s")
        print(
            f"peak RSS {sampler.peak_gb(0, float('inf')):.2f} GB with workers, "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.2f} GB this process"
        )
    finally:
        shutil.rmtree(copy.parent, ignore_errors=True)
    return 0


def profile(warehouse: Warehouse, out: Path, communes: int) -> int:
    """cProfile of the inputs' read and ``communes`` communes written in this process."""
    captured: dict[str, object] = {}

    class Capture(commune_files.CommuneWriters):
        def __enter__(self) -> Capture:
            captured["folder"], captured["province"] = self.folder, self.province
            return self

        def __exit__(self, *_: object) -> None:
            self.folder.mkdir(parents=True, exist_ok=True)

    stubbed = {
        name: getattr(province_export, name)
        for name in ("write_province_geopackage", "write_province_map", "CommuneWriters")
    }
    province_export.write_province_geopackage = lambda path, *a: path
    province_export.write_province_map = lambda path, *a: path
    province_export.CommuneWriters = Capture
    reading = cProfile.Profile(time.process_time)
    reading.enable()
    province_export.export_province(warehouse, Exports(out))
    reading.disable()
    for name, function in stubbed.items():
        setattr(province_export, name, function)
    print("== reading the inputs")
    pstats.Stats(reading).sort_stats("cumulative").print_stats(15)
    province = captured["province"]
    codes = province.communes["commune_code"].tolist()[:communes]
    part = province.take(codes)
    writing = cProfile.Profile(time.process_time)
    t = time.process_time()
    writing.enable()
    commune_files.write_slice(Path(captured["folder"]), part)
    writing.disable()
    print(f"== {len(codes)} communes written: {time.process_time() - t:.1f} s CPU")
    pstats.Stats(writing).sort_stats("cumulative").print_stats(45)
    pstats.Stats(writing).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
