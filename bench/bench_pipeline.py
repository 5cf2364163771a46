"""Benchmark: the whole pipeline, landing files to published marts and exports.

    .venv/bin/python bench/bench_pipeline.py --size cao_bang     # ~550,000 persons
    .venv/bin/python bench/bench_pipeline.py --size small        # ~120,000 persons
    .venv/bin/python bench/bench_pipeline.py --size large        # ~1.2 M persons
    .venv/bin/python bench/bench_pipeline.py --size all          # the three, and growth
    .venv/bin/python bench/bench_pipeline.py --size scale        # large and hcmc (~14 M)
    .venv/bin/python bench/bench_pipeline.py --size hcmc_mountain  # 14 M shaped as Cao Bằng

Prints wall time, CPU time and peak resident memory per step (times from the run's
event log; CPU and memory of this process and its worker processes sampled every 50 ms),
the total, and peak memory of the run. CPU seconds (user + system, every thread and
worker) are what a step costs whatever else runs on the machine: on a shared machine
the wall times grow, the CPU times hardly do. The run executes
in-process on DuckDB; the landing folder is synthesised first in a child process, so
neither its time nor its memory is counted. ``all`` runs each size in
its own process and prints the table and the growth ratio between sizes (time ratio
over persons ratio: at most 2.2 for twice the data is the goal).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import json
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import dagster as dg
import psutil

from pipelines.runner import run_province
from pipelines.settings import Settings
from synthetic.province import synthesise_province

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
SIZES = {
    # name: (households, communes file or None, generated communes, province)
    "small": (30_000, None, 20, "04"),
    "cao_bang": (133_000, REALDATA / "communes_04_cao_bang.geojson", 56, "04"),
    "large": (300_000, None, 120, "04"),
    # TP. Hồ Chí Minh since the 2025 merger: ~14 M residents in ~4.2 M households, 168
    # communes and wards, calibrated as its region (khu phố and ấp of several hundred
    # households: 8,198 of them with seed 7, "several thousand").
    "hcmc": (4_240_000, None, 168, "79"),
    # As many persons shaped as Cao Bằng (thôn of ~100 households: 33,077 hamlets with
    # seed 7, ~200 a commune, more than any real commune has): the merger's hardest case.
    "hcmc_mountain": (3_500_000, None, 168, "04"),
}
# The sizes each compound choice runs, each in its own process; ``scale`` is issue 22's
# goal: 14 M persons within 25 min and 12 GB, time(14 M) / time(1.2 M) at most 12.5.
GROUPS = {"all": ("small", "cao_bang", "large"), "scale": ("large", "hcmc")}


class RssSampler:
    """Samples the resident memory of this process and of its child processes (the
    exports' worker processes) together, in a thread, so each step's peak can be read
    off its start and end times (ru_maxrss gives this process's peak only); and their
    CPU seconds so far, ended workers included, so each step's CPU time can be too."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.samples: list[tuple[float, int]] = []
        self.cpu_samples: list[tuple[float, float]] = []
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _children(me: psutil.Process) -> tuple[int, float]:
        """Resident bytes and CPU seconds of the live child processes."""
        rss, cpu = 0, 0.0
        for child in me.children(recursive=True):
            with contextlib.suppress(psutil.Error):  # ended since it was listed
                times = child.cpu_times()
                rss += child.memory_info().rss
                cpu += times.user + times.system
        return rss, cpu

    @staticmethod
    def _own_cpu(me: psutil.Process) -> float:
        """This process's CPU seconds, every thread, plus those of ended children it
        waited for (a worker pool's processes once they are joined)."""
        times = me.cpu_times()
        return times.user + times.system + times.children_user + times.children_system

    def _sample(self) -> None:
        page = resource.getpagesize()
        me = psutil.Process()
        with open("/proc/self/statm") as statm:
            while not self._stop.is_set():
                statm.seek(0)
                own = int(statm.read().split()[1]) * page
                children_rss, children_cpu = self._children(me)
                now = time.time()
                self.samples.append((now, own + children_rss))
                self.cpu_samples.append((now, self._own_cpu(me) + children_cpu))
                self._stop.wait(self._interval_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_gb(self, start: float, end: float) -> float:
        inside = [rss for t, rss in self.samples if start <= t <= end]
        return round(max(inside, default=0) / 1024**3, 2)

    def cpu_s(self, start: float, end: float) -> float:
        """CPU seconds spent between two times, from the samples nearest to them."""
        if not self.cpu_samples:
            return 0.0
        times = [t for t, _ in self.cpu_samples]
        first = min(bisect.bisect_left(times, start), len(times) - 1)
        last = max(bisect.bisect_right(times, end) - 1, first)
        return round(self.cpu_samples[last][1] - self.cpu_samples[first][1], 1)


def step_figures(
    instance: dg.DagsterInstance, run_id: str, sampler: RssSampler
) -> dict[str, tuple[float, float, float]]:
    """Per step: wall seconds, CPU seconds and peak resident GB while it ran."""
    started: dict[str, float] = {}
    figures: dict[str, tuple[float, float, float]] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = record.timestamp
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            start = started.get(event.step_key, record.timestamp)
            figures[event.step_key] = (
                record.timestamp - start,
                sampler.cpu_s(start, record.timestamp),
                sampler.peak_gb(start, record.timestamp),
            )
    return figures


def _synthesise(
    landing: Path, households: int, communes: Path | None, n_communes: int, province: str
) -> None:
    summary = synthesise_province(
        landing,
        seed=7,
        households=households,
        communes_path=communes,
        province_code=province,
        n_communes=n_communes,
        error_rate=0.01,
    )
    print(f"synthesised {summary.persons:,} persons in {summary.communes} communes", flush=True)


def run_size(size: str, work: Path | None) -> dict[str, object]:
    households, communes, n_communes, province = SIZES[size]
    if communes is not None and not communes.exists():
        communes = None
    work = work or Path(tempfile.mkdtemp(prefix=f"bench_pipeline_{size}_"))
    landing = work / "landing" / province
    if not (landing / "persons.csv").exists():
        child = multiprocessing.get_context("spawn").Process(
            target=_synthesise, args=(landing, households, communes, n_communes, province)
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"synthesis failed ({child.exitcode})")
    persons = sum(1 for _ in (landing / "persons.csv").open("rb")) - 1
    # A fresh warehouse each time: the landing files are kept, the run is measured whole
    # (re-runs into one DuckDB file accumulate deleted rows until it is checkpointed).
    for stale in (work / "warehouse.duckdb", work / "warehouse.duckdb.wal"):
        stale.unlink(missing_ok=True)
    settings = Settings(
        warehouse_url=f"duckdb:///{work / 'warehouse.duckdb'}", landing_root=landing.parent
    )
    instance = dg.DagsterInstance.ephemeral()
    t = time.perf_counter()
    with RssSampler() as sampler:
        report = run_province(settings, province, instance=instance, log_level="WARNING")
    total = time.perf_counter() - t
    return {
        "cpu_s": sampler.cpu_s(0, float("inf")),
        "size": size,
        "persons": persons,
        "success": report.success,
        "errors": list(report.errors),
        "total_s": round(total, 1),
        "peak_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
        # This process and its workers together, as sampled (the synthesis child ended
        # before the run).
        "peak_with_workers_gb": sampler.peak_gb(0, float("inf")),
        "steps": step_figures(instance, report.run_id, sampler),
    }


def print_run(result: dict) -> None:
    print(f"{result['size']}: {result['persons']:,} persons")
    print(f"  {'step':<48} {'wall':>9} {'CPU':>9} {'peak RSS':>10}")
    steps = sorted(result["steps"].items(), key=lambda kv: -kv[1][0])
    for step, (seconds, cpu_s, peak_gb) in steps:
        print(f"  {step:<48} {seconds:7.1f} s {cpu_s:7.1f} s {peak_gb:7.2f} GB")
    print(
        f"  {'total (run)':<48} {result['total_s']:7.1f} s {result['cpu_s']:7.1f} s   "
        f"success={result['success']}"
    )
    print(
        f"  peak memory {result['peak_gb']:.2f} GB (this process), "
        f"{result['peak_with_workers_gb']:.2f} GB with its worker processes",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=[*sorted(SIZES), *GROUPS], default="cao_bang")
    parser.add_argument("--work", type=Path, default=None, help="keep files here")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    if args.size not in GROUPS:
        result = run_size(args.size, args.work)
        print(json.dumps(result) if args.json else "", end="\n" if args.json else "")
        if not args.json:
            print_run(result)
        return 0 if result["success"] else 1
    results = []
    for size in GROUPS[args.size]:  # each in its own process: its own peak
        work = args.work / size if args.work else None
        command = [sys.executable, __file__, "--size", size, "--json"]
        if work is not None:
            command += ["--work", str(work)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print_run(results[-1])
    print("\n| size | persons | total s | CPU s | peak GB | time ratio / persons ratio |")
    print("|---|---|---|---|---|---|")
    for previous, result in zip([None, *results], results, strict=False):
        growth = ""
        if previous is not None:
            data = result["persons"] / previous["persons"]
            growth = f"{result['total_s'] / previous['total_s']:.2f} / {data:.2f}"
        print(
            f"| {result['size']} | {result['persons']:,} | {result['total_s']} | "
            f"{result['cpu_s']} | {result['peak_gb']} | {growth} |"
        )
    return 0 if all(r["success"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
