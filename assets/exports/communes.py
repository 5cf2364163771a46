"""Each commune's workbook and printable map, written by worker processes.

The commune files are most of a province's export time: a PNG map is about a second of
matplotlib per commune, and a large province has over a hundred communes. Communes are
independent, so they are written in slices by ``workers`` processes, each given only
its slice's rows. Every file is the same as a serial run writes (the same functions,
each file through ``safe.atomic_write``); only the order in time differs.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from assets.exports.files import write_commune_map, write_commune_workbooks
from assets.workers import usable_cpus as _usable_cpus  # shared since merger22

EXPORT_WORKERS = 2
# Below this many communes a worker's start (importing pandas, matplotlib, openpyxl:
# seconds) costs more than it saves.
MIN_PARALLEL_COMMUNES = 6
SLICES_PER_WORKER = 4  # slices smaller than a worker's share, so the workers end together


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


def write_commune_files(
    folder: Path, province: CommuneSlice, workers: int = EXPORT_WORKERS
) -> tuple[list[Path], list[Path]]:
    """Every commune's workbook and map under ``folder``, in the communes' order:
    by ``workers`` processes (spawned, so no lock or connection of this process is
    inherited), or here when there are few communes, one worker or one usable CPU, or
    this process may not start others (a daemonic executor process).

    Two workers cost about 4 s of CPU more than one process at 20 communes (each
    imports pandas, matplotlib and openpyxl and loads its fonts): they pay on two free
    cores, not on a saturated machine."""
    codes = province.communes["commune_code"].tolist()
    workers = min(workers, _usable_cpus())
    serial = (
        workers < 2
        or len(codes) < MIN_PARALLEL_COMMUNES
        or multiprocessing.current_process().daemon
    )
    if serial:
        return write_slice(folder, province)
    size = max(1, -(-len(codes) // (workers * SLICES_PER_WORKER)))
    parts = [province.take(codes[i : i + size]) for i in range(0, len(codes), size)]
    workbooks: list[Path] = []
    maps: list[Path] = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for books, pngs in pool.map(write_slice, [folder] * len(parts), parts):
            workbooks += books
            maps += pngs
    return workbooks, maps
