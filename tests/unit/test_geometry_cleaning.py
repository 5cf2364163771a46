"""Hamlet boundaries become a partition of their commune; every change has its area."""

from __future__ import annotations

import geopandas as gpd
import shapely

from geodata.cleaning import clean_hamlet_geometries

UTM = "EPSG:32648"


def _frames():
    # Commune: 2000 m x 1000 m. Hamlets A | B split at x=1000, with
    # - A spilling 50 m west of the commune (100,000 m² outside; 50 x 1000 m),
    # - B overlapping A by 20 m (20,000 m²),
    # - a 2 m sliver between B and C (C covers the east strip from x=1600),
    # - a 100 x 100 m hole inside B (10,000 m², too large to fill).
    commune = shapely.box(0, 0, 2000, 1000)
    a = shapely.box(-50, 0, 1000, 1000)
    b = shapely.box(980, 0, 1598, 1000).difference(shapely.box(1200, 400, 1300, 500))
    c = shapely.box(1600, 0, 2000, 1000)
    hamlets = gpd.GeoDataFrame(
        {"hamlet_code": ["A", "B", "C"], "commune_code": ["X", "X", "X"]},
        geometry=[a, b, c],
        crs=UTM,
    ).to_crs(4326)
    communes = gpd.GeoDataFrame({"commune_code": ["X"]}, geometry=[commune], crs=UTM).to_crs(4326)
    return hamlets, communes


def test_clip_overlap_sliver_and_hole_are_each_handled_and_reported():
    hamlets, communes = _frames()
    cleaned, changes = clean_hamlet_geometries(hamlets, communes)
    by = {(r.hamlet_code, r.adjustment): r.area_m2 for r in changes.itertuples()}
    assert abs(by[("A", "clipped_to_commune")] - 50_000) < 500
    assert abs(by[("B", "overlap_removed")] - 20_000) < 300
    sliver = by[("B", "gap_filled")] if ("B", "gap_filled") in by else by[("C", "gap_filled")]
    assert abs(sliver - 2_000) < 100
    hole = changes[changes["adjustment"] == "gap_left"]
    assert len(hole) == 1 and abs(hole["area_m2"].iloc[0] - 10_000) < 200
    assert hole["hamlet_code"].isna().all()

    metric = cleaned.to_crs(UTM)
    geometries = shapely.make_valid(metric.geometry.values)
    commune = communes.to_crs(UTM).geometry.iloc[0]
    # Inside the commune, no overlaps, and covering it but for the reported hole.
    assert shapely.area(shapely.difference(shapely.union_all(geometries), commune)) < 5
    pairwise = [
        shapely.area(shapely.intersection(geometries[i], geometries[j]))
        for i in range(3)
        for j in range(i + 1, 3)
    ]
    assert max(pairwise) < 5
    uncovered = shapely.area(shapely.difference(commune, shapely.union_all(geometries)))
    assert abs(uncovered - 10_000) < 200
    assert cleaned.is_valid.all()
