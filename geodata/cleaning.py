"""Make hamlet boundaries a clean partition of their commune, reporting every change.

Digitised hamlet maps overlap their neighbours, leave slivers between them and spill
over the commune border. Merging needs a partition: each hamlet inside its commune,
no two hamlets sharing area, no small holes between them. Every change is reported
with its area so a surveyor can check it; gaps too large to be slivers are reported
and left alone.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geodata.crs import STORAGE_CRS, metric_crs_for

MIN_REPORTED_M2 = 1.0  # changes smaller than this are float noise
SLIVER_MAX_M2 = 5_000.0  # gaps up to this size are given to a neighbour


def valid_polygons(geometries: np.ndarray) -> np.ndarray:
    """Valid and polygonal: repaired by noding (make_valid's default "linework" method),
    then only the polygonal parts kept (an overlay may leave shared edges as lines).

    The "structure" method is not used: on rings that touch themselves after an overlay
    it can keep a sliver and drop the hamlet's body.
    """
    repaired = shapely.make_valid(np.asarray(geometries, dtype=object))
    mixed = np.flatnonzero(shapely.get_type_id(repaired) == 7)  # GeometryCollection
    for i in mixed:
        parts = shapely.get_parts(repaired[i])
        polygons = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
        repaired[i] = shapely.union_all(polygons) if len(polygons) else shapely.Polygon()
    return repaired


def _record(rows: list[dict], code: str, commune: str, kind: str, area: float, detail: str) -> None:
    if area >= MIN_REPORTED_M2:
        rows.append(
            {
                "hamlet_code": code,
                "commune_code": commune,
                "adjustment": kind,
                "area_m2": round(float(area), 1),
                "detail": detail,
            }
        )


def clean_hamlet_geometries(
    hamlets: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    *,
    sliver_max_m2: float = SLIVER_MAX_M2,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Clip to the commune, remove overlaps, fill slivers; returns the hamlets (EPSG:4326)
    and one row per change: hamlet_code, commune_code, adjustment, area_m2, detail."""
    metric = metric_crs_for(communes if len(communes) else hamlets)
    work = hamlets.to_crs(metric).reset_index(drop=True)
    commune_shapes = communes.to_crs(metric).set_index("commune_code").geometry
    codes = work["hamlet_code"].to_numpy()
    commune_of = work["commune_code"].to_numpy()
    geometries = valid_polygons(work.geometry.values)
    rows: list[dict] = []

    # 1. Clip each hamlet to its own commune.
    known = np.isin(commune_of, commune_shapes.index)
    if known.any():
        own = commune_shapes.reindex(commune_of[known]).values
        clipped = shapely.intersection(geometries[known], own)
        removed = shapely.area(geometries[known]) - shapely.area(clipped)
        for code, commune, area in zip(codes[known], commune_of[known], removed, strict=True):
            _record(rows, code, commune, "clipped_to_commune", area, "outside its commune")
        geometries[known] = clipped

    # 2. Overlaps: the hamlet with the lower code keeps the shared area.
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="intersects")
    pairs = (left < right) & (commune_of[left] == commune_of[right])
    left, right = left[pairs], right[pairs]
    overlapping = shapely.area(shapely.intersection(geometries[left], geometries[right]))
    significant = overlapping >= MIN_REPORTED_M2
    for i, j in zip(left[significant], right[significant], strict=True):
        keep, lose = (i, j) if codes[i] < codes[j] else (j, i)
        overlap = shapely.intersection(geometries[keep], geometries[lose])
        geometries[lose] = shapely.make_valid(shapely.difference(geometries[lose], overlap))
        _record(rows, codes[lose], commune_of[lose], "overlap_removed", shapely.area(overlap),
                f"shared with {codes[keep]}, which keeps it")  # fmt: skip

    # 3. Gaps inside the commune: slivers go to the neighbour sharing most border.
    for commune in np.unique(commune_of[known]):
        members = np.flatnonzero(commune_of == commune)
        covered = shapely.union_all(geometries[members])
        gaps = shapely.get_parts(shapely.difference(commune_shapes[commune], covered))
        for gap in gaps:
            area = shapely.area(gap)
            if area < MIN_REPORTED_M2:
                continue
            touching = members[shapely.intersects(geometries[members], shapely.buffer(gap, 0.5))]
            if area > sliver_max_m2 or len(touching) == 0:
                _record(rows, None, commune, "gap_left", area, "hole between hamlets, not filled")
                continue
            border = shapely.length(
                shapely.intersection(
                    shapely.boundary(gap), shapely.buffer(geometries[touching], 0.5)
                )
            )
            winner = touching[int(np.argmax(border))]
            geometries[winner] = shapely.union(geometries[winner], gap)
            _record(rows, codes[winner], commune, "gap_filled", area, "sliver between hamlets")

    geometries = valid_polygons(geometries)
    cleaned = work.set_geometry(gpd.GeoSeries(geometries, crs=metric)).to_crs(STORAGE_CRS)
    cleaned["geometry"] = valid_polygons(cleaned.geometry.values)
    text = ["hamlet_code", "commune_code", "adjustment", "detail"]
    adjustments = pd.DataFrame(rows, columns=[*text[:3], "area_m2", "detail"])
    return cleaned, adjustments.astype({c: "string" for c in text} | {"area_m2": float})
