"""Benchmark: national duplicate detection on Spark (local mode) across 10 provinces.

    .venv/bin/python bench/bench_national.py                       # 200,000 persons
    .venv/bin/python bench/bench_national.py --persons 10000000    # the issue's 10 M
    .venv/bin/python bench/bench_national.py --master 'local[2]' --driver-memory 16g

Generates N persons (vectorised, not ``hamlets synth``: the national job reads only the
restricted exports, so staging is not what is measured) with 0.1 % copied into another
province with a slip, writes one restricted Parquet export per province, trains the
province model once on a 50,000-record sample (DuckDB), links on Splink's Spark backend
and clusters. Prints seconds per step, pairs linked, recall of the planted copies, and
peak resident memory of this process and of the Spark JVM (its child), sampled.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from assets.quality.duplicates import trained_model
from assets.quality.national import (
    cross_province_clusters,
    link_on_spark,
    read_restricted_persons,
    spark_session,
)
from expectations.schemas import strip_diacritics

PROVINCES = ("01", "04", "08", "11", "12", "14", "15", "19", "20", "22")
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng")
FAMILY += ("Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Nông", "Lương", "Hà", "Triệu")
MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Quang", "Hữu", "Thu", "Ngọc", "Thanh", "Kim")
GIVEN = ("An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hòa")
GIVEN += ("Hùng", "Hương", "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Ngọc")
GIVEN += ("Phong", "Phúc", "Quân", "Sơn", "Tâm", "Thảo", "Thủy", "Trang", "Tú", "Vy")
SECRET = b"benchmark secret, not for real personal data!!"


class PeakRss:
    """Peak resident memory of this process and its children (the JVM), sampled."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.2):
            total = 0
            for p in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    total += p.memory_info().rss
            self.peak = max(self.peak, total)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def generate(persons: int, seed: int = 1) -> pd.DataFrame:
    """``restricted_persons``-shaped rows for ``persons`` records across ``PROVINCES``,
    0.1 % of them copied into another province (name without diacritics, no ID)."""
    rng = np.random.default_rng(seed)
    pick = lambda pool: np.asarray(pool, dtype=object)[rng.integers(0, len(pool), persons)]  # noqa: E731
    names = pick(FAMILY) + " " + pick(MIDDLE) + " " + pick(GIVEN)
    births = np.datetime64("1940-01-01") + rng.integers(0, 80 * 365, persons).astype(
        "timedelta64[D]"
    )
    ids = rng.integers(10**11, 10**12, persons).astype(str)
    frame = pd.DataFrame(
        {
            "source_dataset": np.asarray(PROVINCES)[rng.integers(0, len(PROVINCES), persons)],
            "unique_id": [f"r{i}" for i in range(persons)],
            "household_id": (rng.integers(0, persons // 4 + 1, persons)).astype(str),
            "full_name": names,
            "birth_date": pd.to_datetime(births),
            "sex": rng.choice(["Nam", "Nữ"], persons),
            "citizen_id": ids,
            "ethnicity": rng.choice(
                ["Kinh", "Tày", "Nùng", "Hoa"], persons, p=[0.85, 0.06, 0.05, 0.04]
            ),
        }
    )
    moved = frame.sample(frac=0.001, random_state=seed).copy()
    moved["unique_id"] = "moved-" + moved["unique_id"]
    moved["full_name"] = moved["full_name"].map(strip_diacritics)
    moved["citizen_id"] = None
    shift = rng.integers(1, len(PROVINCES), len(moved))
    index = pd.Index(PROVINCES).get_indexer(moved["source_dataset"])
    moved["source_dataset"] = np.asarray(PROVINCES)[(index + shift) % len(PROVINCES)]
    return pd.concat([frame, moved], ignore_index=True)


def model_input(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns the model compares, from the generated fields (``splink_input``)."""
    from assets.quality.duplicates import splink_input

    persons = frame.rename(columns={"unique_id": "record_id"})
    out = splink_input(persons)
    out.insert(0, "source_dataset", frame["source_dataset"].to_numpy())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="8g")
    args = parser.parse_args()
    memory = PeakRss()
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "national"
        start = time.perf_counter()
        frame = model_input(generate(args.persons))
        for code, part in frame.groupby("source_dataset"):
            path = folder / f"province={code}" / "persons.parquet"
            path.parent.mkdir(parents=True)
            part = part.copy()
            part["birth_date"] = part["birth_date"].dt.date
            part.to_parquet(path, index=False)
        truth = int(frame["unique_id"].str.startswith("moved-").sum())
        sample = frame.sample(n=min(len(frame), 50_000), random_state=0)
        del frame
        times["generate + export"] = time.perf_counter() - start
        start = time.perf_counter()
        model = trained_model(sample, dialect="spark")
        times["train (DuckDB, sample)"] = time.perf_counter() - start
        start = time.perf_counter()
        spark = spark_session(
            args.master,
            **{
                "spark.driver.memory": args.driver_memory,
                "spark.local.dir": str(Path(scratch) / "spark"),
                "spark.sql.warehouse.dir": str(Path(scratch) / "warehouse"),
            },
        )
        pairs = link_on_spark(spark, read_restricted_persons(spark, folder), model)
        times["link (Spark)"] = time.perf_counter() - start
        start = time.perf_counter()
        run = cross_province_clusters(pairs, SECRET)
        times["cluster"] = time.perf_counter() - start
        spark.stop()
    peak = memory.stop()
    found = int(run.table["record_id"].str.startswith("moved-").sum())
    print(f"persons {args.persons:,} across {len(PROVINCES)} provinces, master {args.master}")
    for step, seconds in times.items():
        print(f"  {step:<24} {seconds:8.1f} s")
    print(f"  {'total':<24} {sum(times.values()):8.1f} s")
    print(f"pairs linked {run.pairs_linked:,}; planted copies found {found}/{truth}")
    print(f"peak memory (python + JVM) {peak / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
