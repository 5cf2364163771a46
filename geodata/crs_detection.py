"""Find the coordinate reference system of a file that does not state one.

Provincial Shapefiles often come without their .prj. Degrees are recognised from their
range (and lat/lon written the wrong way round); metres could be UTM 48N/49N or one of
the VN-2000 TM-3 provincial zones, which only a reference layer (the province's
communes) can tell apart: the right candidate puts the features inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from geodata.crs import STORAGE_CRS

# Vietnam with a margin, in degrees.
LON_RANGE = (101.0, 110.5)
LAT_RANGE = (7.5, 24.0)

# Projected candidates: UTM on WGS 84 and on VN-2000, and the VN-2000 TM-3 provincial
# zones (central meridians 102°-108°30', Circular 973/2001/TT-TCĐC).
PROJECTED_CANDIDATES: tuple[str, ...] = (
    "EPSG:32648",
    "EPSG:32649",
    "EPSG:3405",
    "EPSG:3406",
    "EPSG:5896",
    "EPSG:5897",
    "EPSG:5898",
    "EPSG:5899",
    *(f"EPSG:{code}" for code in range(9205, 9219)),
)


class CrsDetectionError(ValueError):
    """The CRS cannot be told from the coordinates; the message says what to supply."""


@dataclass(frozen=True)
class ResolvedCrs:
    crs: str
    how: str  # "declared", "detected: ..." (stated in the run's metadata)
    swapped_axes: bool = False


def _in_degrees(bounds: np.ndarray) -> bool:
    minx, miny, maxx, maxy = bounds
    return (
        LON_RANGE[0] <= minx <= maxx <= LON_RANGE[1]
        and LAT_RANGE[0] <= miny <= maxy <= LAT_RANGE[1]
    )


def _swap(geometries: np.ndarray) -> np.ndarray:
    return shapely.transform(geometries, lambda xy: xy[:, ::-1])


def _share_inside(points: gpd.GeoSeries, reference: gpd.GeoSeries) -> float:
    inside = reference.sindex.query(points.values, predicate="within")[0]
    return len(np.unique(inside)) / max(len(points), 1)


def detect_crs(gdf: gpd.GeoDataFrame, *, reference: gpd.GeoDataFrame | None = None) -> ResolvedCrs:
    """The most likely CRS of ``gdf``'s raw coordinates (its own CRS is ignored)."""
    geometries = gdf.geometry.values
    bounds = np.asarray(shapely.total_bounds(geometries))
    if _in_degrees(bounds):
        return ResolvedCrs(STORAGE_CRS, "detected: longitude/latitude in degrees")
    if _in_degrees(bounds[[1, 0, 3, 2]]):
        return ResolvedCrs(STORAGE_CRS, "detected: latitude/longitude (axes swapped)", True)
    minx, miny, maxx, maxy = bounds
    looks_projected = minx >= 0 and maxx <= 1_000_000 and miny >= 800_000 and maxy <= 2_800_000
    if not looks_projected:
        raise CrsDetectionError(
            f"coordinates span x {minx:.0f}..{maxx:.0f}, y {miny:.0f}..{maxy:.0f}: neither "
            "degrees nor metres in a Vietnamese projection; state the CRS (.prj)"
        )
    if reference is None or reference.empty:
        raise CrsDetectionError(
            "coordinates are in metres but the file states no CRS, and UTM and the VN-2000 "
            "zones cannot be told apart without the communes; add the .prj file"
        )
    sample = shapely.point_on_surface(geometries[:: max(1, len(geometries) // 500)])
    target = reference.to_crs(STORAGE_CRS).geometry
    shares = {
        candidate: _share_inside(gpd.GeoSeries(sample, crs=candidate).to_crs(STORAGE_CRS), target)
        for candidate in PROJECTED_CANDIDATES
    }
    top = max(shares.values())
    tied = [c for c, share in shares.items() if share >= top - 0.02]
    if len(tied) > 1:
        # Datum twins (WGS 84 and VN-2000, ~200 m apart) both put points inside: the
        # right one makes the features' outline coincide with the communes'. Snapped to
        # ~0.1 m so planted or digitised slivers cannot break the overlay.
        outline = shapely.union_all(shapely.make_valid(target.values), grid_size=1e-6)

        def mismatch(candidate: str) -> float:
            placed = gpd.GeoSeries(geometries, crs=candidate).to_crs(STORAGE_CRS).values
            union = shapely.union_all(shapely.make_valid(placed), grid_size=1e-6)
            return shapely.area(shapely.symmetric_difference(union, outline, grid_size=1e-6))

        scores = {c: mismatch(c) for c in tied}
        tied = [min(tied, key=lambda c: (scores[c], PROJECTED_CANDIDATES.index(c)))]
    best, share = tied[0], shares[tied[0]]
    if share < 0.5:
        raise CrsDetectionError(
            f"no UTM or VN-2000 zone puts the features inside the communes (best {best}: "
            f"{share:.0%}); add the .prj file"
        )
    return ResolvedCrs(best, f"detected: {best} ({share:.0%} of features inside the communes)")


def to_storage_crs(
    gdf: gpd.GeoDataFrame,
    declared: str | None,
    *,
    reference: gpd.GeoDataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, ResolvedCrs]:
    """``gdf`` in EPSG:4326, from its declared CRS or the detected one."""
    if declared:
        resolved = ResolvedCrs(declared, f"declared: {declared}")
        bounds = np.asarray(shapely.total_bounds(gdf.geometry.values))
        geographic = gpd.GeoSeries([], crs=declared).crs.is_geographic
        if geographic and not _in_degrees(bounds) and _in_degrees(bounds[[1, 0, 3, 2]]):
            resolved = ResolvedCrs(declared, f"declared: {declared}, axes swapped", True)
    else:
        resolved = detect_crs(gdf, reference=reference)
    out = gdf.copy()
    geometries = _swap(out.geometry.values) if resolved.swapped_axes else out.geometry.values
    out = out.set_geometry(gpd.GeoSeries(geometries, index=out.index, crs=resolved.crs))
    return out.to_crs(STORAGE_CRS), resolved
