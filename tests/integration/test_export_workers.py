"""Commune workbooks and maps written by worker processes are the files a serial run
writes, and a map is laid out and drawn once."""

from __future__ import annotations

from concurrent.futures import Future

import geopandas as gpd
import pandas as pd
import shapely
from matplotlib.figure import Figure
from openpyxl import load_workbook
from test_exports import _frames

from assets.exports import communes as commune_files
from assets.exports.communes import CommuneSlice, CommuneWriters, write_commune_files
from assets.exports.files import hamlets_before, write_commune_map


def _province(communes: int) -> CommuneSlice:
    """``_frames``' commune repeated ``communes`` times under its own codes, each moved
    east, so each commune's files differ."""
    hamlets, compliance, units, outline, assignments = _frames()
    before = hamlets_before(hamlets, compliance)
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in ("c", "b", "u", "a")}
    for k in range(communes):
        code = f"040{k + 1:02d}"

        def moved(frame: gpd.GeoDataFrame, k: int = k) -> gpd.GeoDataFrame:
            return frame.set_geometry(shapely.transform(frame.geometry.values, lambda xy: xy + k))

        def coded(frame: pd.DataFrame, code: str = code) -> pd.DataFrame:
            out = frame.copy()
            for column in ("hamlet_code", "unit_id", "member_hamlet_codes"):
                if column in out:
                    out[column] = out[column].str.replace("04001", code)
            return out.assign(commune_code=code)

        parts["c"].append(moved(coded(outline)).assign(commune_name=f"Xã số {k}"))
        parts["b"].append(moved(coded(before)).assign(households=before["households"] + k))
        parts["u"].append(moved(coded(units)))
        parts["a"].append(coded(assignments))
    frames = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
    return CommuneSlice(
        gpd.GeoDataFrame(frames["c"], crs="EPSG:4326"),
        gpd.GeoDataFrame(frames["b"], crs="EPSG:4326"),
        gpd.GeoDataFrame(frames["u"], crs="EPSG:4326"),
        frames["a"],
        None,
    )


def _cells(path) -> dict[str, list[tuple]]:
    book = load_workbook(path)
    return {
        sheet.title: [
            tuple((c.value, c.number_format, c.quotePrefix, c.font.b) for c in row)
            for row in sheet.iter_rows()
        ]
        for sheet in book.worksheets
    }


def test_worker_processes_write_the_files_a_serial_run_writes(tmp_path, monkeypatch):
    province = _province(commune_files.MIN_PARALLEL_COMMUNES)
    pools: list[int] = []
    executor = commune_files.ProcessPoolExecutor

    def counted(*args, **kwargs):
        pools.append(kwargs["max_workers"])
        return executor(*args, **kwargs)

    monkeypatch.setattr(commune_files, "ProcessPoolExecutor", counted)
    serial = write_commune_files(tmp_path / "serial", province, workers=1)
    monkeypatch.setattr(commune_files, "_usable_cpus", lambda: 1)
    write_commune_files(tmp_path / "one_cpu", province, workers=2)
    assert pools == []  # one worker, or one CPU to run on: no pool
    monkeypatch.setattr(commune_files, "_usable_cpus", lambda: 2)
    parallel = write_commune_files(tmp_path / "parallel", province, workers=2)
    assert pools == [1]  # two processes: this one and one worker
    codes = province.communes["commune_code"].tolist()
    for files in (serial, parallel):
        workbooks, maps = files
        assert [p.name[:5] for p in workbooks] == [p.name[:5] for p in maps] == codes
        assert [p.suffix for p in workbooks + maps] == [".xlsx"] * len(codes) + [".png"] * len(
            codes
        )
    for one, other in zip(serial[1], parallel[1], strict=True):
        assert one.read_bytes() == other.read_bytes(), one.name  # maps: byte for byte
    for one, other in zip(serial[0], parallel[0], strict=True):
        assert _cells(one) == _cells(other), one.name  # workbooks: cell by cell
    # Each commune's own figures, not another's.
    households = [_cells(p)["Hiện trạng"][1][4][0] for p in parallel[0]]
    assert households == [60 + k for k in range(len(codes))]


def test_this_process_writes_the_slices_no_worker_has_started(tmp_path, monkeypatch):
    """While the workers are busy (here: never start), this process writes the rest
    itself, and the files come back in the communes' order."""

    class Idle:
        def __init__(self, *args, **kwargs) -> None:
            self.futures: list[Future] = []

        def submit(self, *args, **kwargs) -> Future:
            self.futures.append(Future())
            return self.futures[-1]

        def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
            assert all(f.cancelled() for f in self.futures)

    province = _province(commune_files.MIN_PARALLEL_COMMUNES)
    monkeypatch.setattr(commune_files, "_usable_cpus", lambda: 2)
    monkeypatch.setattr(commune_files, "ProcessPoolExecutor", Idle)
    with CommuneWriters(tmp_path, province, workers=2) as writers:
        assert writers.workbooks == []  # nothing written before leaving the block
    codes = province.communes["commune_code"].tolist()
    assert [p.name[:5] for p in writers.workbooks] == [p.name[:5] for p in writers.maps] == codes
    assert all(p.exists() for p in writers.workbooks + writers.maps)


def test_a_commune_map_is_laid_out_and_drawn_once(tmp_path, monkeypatch):
    """tight_layout's leftover layout engine made savefig lay the figure out again."""
    hamlets, compliance, units, communes, _ = _frames()
    before = hamlets_before(hamlets, compliance)
    draws: list[int] = []
    draw = Figure.draw

    def counted(self, renderer):
        draws.append(1)
        return draw(self, renderer)

    monkeypatch.setattr(Figure, "draw", counted)
    png = write_commune_map(tmp_path / "04001.png", communes, before, units)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(draws) == 1
