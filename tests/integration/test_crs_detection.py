"""Geodata without a CRS, or with its axes swapped, still lands in the right place."""

from __future__ import annotations

import zipfile

import geopandas as gpd
import pytest
import shapely

from assets.raw.landing import find_landing_file, load_raw
from assets.staging.tables import stage_communes, stage_hamlets
from geodata.crs_detection import CrsDetectionError, detect_crs


@pytest.fixture(scope="module")
def staged_communes(small_landing):
    return stage_communes(load_raw(find_landing_file(small_landing, "communes"))).table


@pytest.fixture(scope="module")
def boundaries(small_landing) -> gpd.GeoDataFrame:
    return gpd.read_file(small_landing / "hamlet_boundaries.gpkg")


def _write_shapefile_without_prj(gdf: gpd.GeoDataFrame, folder) -> None:
    shp_dir = folder / "shp"
    shp_dir.mkdir()
    gdf.to_file(shp_dir / "hamlet_boundaries.shp", engine="pyogrio")
    with zipfile.ZipFile(folder / "hamlet_boundaries.zip", "w") as archive:
        for part in shp_dir.iterdir():
            if part.suffix != ".prj":
                archive.write(part, part.name)


@pytest.mark.parametrize("epsg", ["EPSG:9210", "EPSG:32648", "EPSG:3405"])
def test_projected_shapefile_without_prj_is_placed_by_the_communes(
    tmp_path, small_landing, staged_communes, boundaries, epsg
):
    _write_shapefile_without_prj(boundaries.to_crs(epsg), tmp_path)
    (tmp_path / "hamlet_registry.xlsx").write_bytes(
        (small_landing / "hamlet_registry.xlsx").read_bytes()
    )
    raw_boundaries = load_raw(find_landing_file(tmp_path, "hamlet_boundaries"))
    assert raw_boundaries["source_crs"].isna().all()
    raw_registry = load_raw(find_landing_file(tmp_path, "hamlet_registry"))
    staged = stage_hamlets(raw_boundaries, raw_registry, staged_communes)
    assert staged.notes["crs"].startswith(f"detected: {epsg}")
    declared = stage_hamlets(
        load_raw(find_landing_file(small_landing, "hamlet_boundaries")),
        raw_registry,
        staged_communes,
    )
    assert declared.notes["crs"] == "declared: EPSG:4326"
    original = declared.table.set_index("hamlet_code").to_crs(32648)
    placed = staged.table.set_index("hamlet_code").to_crs(32648)
    shift_m = original.centroid.distance(placed.centroid.reindex(original.index))
    assert shift_m.max() < 1.0


def test_swapped_axes_are_recognised_with_or_without_a_declared_crs(boundaries):
    swapped = boundaries.set_geometry(
        shapely.transform(boundaries.geometry.values, lambda xy: xy[:, ::-1])
    )
    assert detect_crs(swapped).swapped_axes
    from geodata.crs_detection import to_storage_crs

    fixed, resolved = to_storage_crs(swapped, "EPSG:4326")
    assert resolved.swapped_axes
    assert fixed.geometry.geom_equals_exact(boundaries.geometry, tolerance=1e-9).all()


def test_metres_without_crs_or_reference_is_a_clear_error(boundaries):
    with pytest.raises(CrsDetectionError, match=r"add the \.prj"):
        detect_crs(boundaries.to_crs(32648))
