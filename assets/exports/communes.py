"""Each commune's workbook and printable map, written by worker processes.

The commune files are most of a province's export time: a PNG map is about half a
second of matplotlib per commune, and a large province has over a hundred communes.
Communes are independent, so they are written in slices by this process and worker
processes, each worker given only its slice's rows. Every file is the same as a serial
run writes (the same functions, each file through ``safe.atomic_write``); only the
order in time differs.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from assets.exports.files import write_commune_map, write_commune_workbooks
from assets.workers import may_start_workers
from assets.workers import usable_cpus as _usable_cpus  # shared since merger22

EXPORT_WORKERS = 2
# Below this many communes a worker's start (importing pandas, matplotlib, openpyxl:
# seconds) costs more than it saves.
MIN_PARALLEL_COMMUNES = 6
# Slices much smaller than a process's share, so the processes end together: a few
# communes each (three of 120 with two processes; 8 per process left one idle for
# its last slice, 35.9 against 33.7 s for the 1.2 M province's exports).
SLICES_PER_WORKER = 24


@dataclass(frozen=True)
class CommuneSlice:
    """The published rows of some communes: what their workbooks and maps show."""

    communes: gpd.GeoDataFrame
    before: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    assignments: pd.DataFrame
    options: pd.DataFrame | None

    def take(self, codes: list[str]) -> CommuneSlice:
        """The rows of the communes ``codes`` only."""

        def rows(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[frame["commune_code"].isin(codes)]

        return CommuneSlice(
            rows(self.communes),
            rows(self.before),
            rows(self.units),
            rows(self.assignments),
            None if self.options is None else rows(self.options),
        )


def write_slice(folder: Path, part: CommuneSlice) -> tuple[list[Path], list[Path]]:
    """Workbooks and maps of the communes of ``part``, in its communes' order."""
    workbooks = write_commune_workbooks(
        folder,
        part.communes,
        part.before,
        pd.DataFrame(part.units),
        part.assignments,
        None if part.options is None else pd.DataFrame(part.options),
    )
    maps = [
        write_commune_map(
            folder / f"{path.stem}.png",
            part.communes[part.communes["commune_code"] == code],
            part.before[part.before["commune_code"] == code],
            part.units[part.units["commune_code"] == code],
        )
        for code, path in zip(part.communes["commune_code"], workbooks, strict=True)
    ]
    return workbooks, maps


class CommuneWriters:
    """Every commune's workbook and map under ``folder``, in the communes' order.

    Entering hands slices of communes to ``workers - 1`` worker processes (spawned, so
    no lock or connection of this process is inherited); the block then runs here while
    they write (the province's own files); leaving, this process writes the slices no
    worker has started, from the last, and collects the others. So one process fewer is
    started than the CPUs used: each worker costs seconds of CPU to import pandas,
    matplotlib and openpyxl and a few hundred MB, and this process has them already.
    With one worker, one usable CPU, few communes, or a process that may not start
    others (a daemonic executor process), everything is written here on leaving.
    """

    def __init__(self, folder: Path, province: CommuneSlice, workers: int = EXPORT_WORKERS) -> None:
        self.folder = folder
        self.province = province
        self.workers = min(workers, _usable_cpus())
        self.workbooks: list[Path] = []
        self.maps: list[Path] = []
        self._parts: list[CommuneSlice] = []
        self._futures: list[Future[tuple[list[Path], list[Path]]]] = []
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> CommuneWriters:
        codes = self.province.communes["commune_code"].tolist()
        if self.workers < 2 or len(codes) < MIN_PARALLEL_COMMUNES or not may_start_workers():
            return self
        size = max(1, -(-len(codes) // (self.workers * SLICES_PER_WORKER)))
        self._parts = [self.province.take(codes[i : i + size]) for i in range(0, len(codes), size)]
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=self.workers - 1, mp_context=context)
        self._futures = [self._pool.submit(write_slice, self.folder, p) for p in self._parts]
        return self

    def __exit__(self, error: type[BaseException] | None, *_: object) -> None:
        if self._pool is None:
            if error is None:
                self.workbooks, self.maps = write_slice(self.folder, self.province)
            return
        try:
            if error is not None:
                return
            here = {
                index: write_slice(self.folder, self._parts[index])
                for index in reversed(range(len(self._futures)))
                if self._futures[index].cancel()
            }
            for index, future in enumerate(self._futures):
                books, pngs = here[index] if index in here else future.result()
                self.workbooks += books
                self.maps += pngs
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


def write_commune_files(
    folder: Path, province: CommuneSlice, workers: int = EXPORT_WORKERS
) -> tuple[list[Path], list[Path]]:
    """Every commune's workbook and map under ``folder``, in the communes' order, by
    this process and ``workers - 1`` others (``CommuneWriters``)."""
    with CommuneWriters(folder, province, workers) as writers:
        pass
    return writers.workbooks, writers.maps
