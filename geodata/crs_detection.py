"""Find the coordinate reference system of a file that does not state one.

Provincial Shapefiles often come without their .prj. Degrees are recognised from their
range (and lat/lon written the wrong way round); metres could be UTM 48N/49N or one of
the VN-2000 TM-3 provincial zones, which only a reference layer (the province's
communes) can tell apart: the right candidate puts the features inside it. Without the
communes (the communes file itself), the province's own TM-3 meridians are tried and
the one placing the features where the province lies is taken, as an assumption said so.
A declared VN-2000 CRS is read by ``geodata.vn2000``; when its datum shift is doubtful
(zeros), the communes' outline decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from geodata.crs import STORAGE_CRS
from geodata.provinces import PROVINCES
from geodata.vn2000 import meridian_label, province_meridians, read_vn2000, vn2000_epsg

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


def _outline(reference: gpd.GeoDataFrame) -> shapely.Geometry:
    """The communes' union, snapped to ~0.1 m so planted or digitised slivers cannot
    break the overlay."""
    target = reference.to_crs(STORAGE_CRS).geometry
    return shapely.union_all(shapely.make_valid(target.values), grid_size=1e-6)


def _mismatch(geometries: np.ndarray, candidate: str, outline: shapely.Geometry) -> float:
    """Area (square degrees) where the features read in ``candidate`` and the communes'
    outline disagree: the right datum makes the two coincide."""
    placed = gpd.GeoSeries(geometries, crs=candidate).to_crs(STORAGE_CRS).values
    union = shapely.union_all(shapely.make_valid(placed), grid_size=1e-6)
    return shapely.area(shapely.symmetric_difference(union, outline, grid_size=1e-6))


def detect_crs(
    gdf: gpd.GeoDataFrame,
    *,
    reference: gpd.GeoDataFrame | None = None,
    province_code: str | None = None,
) -> ResolvedCrs:
    """The most likely CRS of ``gdf``'s raw coordinates (its own CRS is ignored)."""
    geometries = np.asarray(gdf.geometry.values)
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
    if (reference is None or reference.empty) and province_meridians(province_code or ""):
        return _by_province(geometries, str(province_code))
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
        # right one makes the features' outline coincide with the communes'.
        outline = _outline(reference)
        scores = {c: _mismatch(geometries, c, outline) for c in tied}
        tied = [min(tied, key=lambda c: (scores[c], PROJECTED_CANDIDATES.index(c)))]
    best, share = tied[0], shares[tied[0]]
    if share < 0.5:
        raise CrsDetectionError(
            f"no UTM or VN-2000 zone puts the features inside the communes (best {best}: "
            f"{share:.0%}); add the .prj file"
        )
    return ResolvedCrs(best, f"detected: {best} ({share:.0%} of features inside the communes)")


# How far (km) the features' centre may lie from the province's rough centre when the
# zone is inferred from the province alone, and how much nearer than the next zone.
_PROVINCE_REACH_KM = 150.0
_PROVINCE_MARGIN = 2.0


def _by_province(geometries: np.ndarray, province_code: str) -> ResolvedCrs:
    """No .prj and no communes to compare with: the province's TM-3 zones (and VN-2000
    UTM) are tried, and the one that puts the features' centre nearest the province's
    is taken if no other comes close. An assumption, stated as such."""
    meridians = province_meridians(province_code)
    zones = [code for m in meridians if (code := vn2000_epsg(m))]
    candidates = [*zones, "EPSG:3405", "EPSG:3406"]
    sample = shapely.point_on_surface(geometries[:: max(1, len(geometries) // 500)])
    centre = PROVINCES[province_code]
    geod = pyproj.Geod(ellps="WGS84")
    distance_km = {}
    for candidate in candidates:
        placed = gpd.GeoSeries(sample, crs=candidate).to_crs(STORAGE_CRS)
        lon, lat = float(placed.x.mean()), float(placed.y.mean())
        distance_km[candidate] = geod.inv(lon, lat, centre.lon, centre.lat)[2] / 1000
    ranked = sorted(candidates, key=distance_km.__getitem__)
    best, runner_up = ranked[0], ranked[1]
    if (
        distance_km[best] > _PROVINCE_REACH_KM
        or distance_km[runner_up] < _PROVINCE_MARGIN * distance_km[best]
    ):
        raise CrsDetectionError(
            "coordinates are in metres but the file states no CRS, and no zone of "
            f"{centre.name} (TM-3 {', '.join(meridian_label(m) for m in meridians)}, UTM) "
            "clearly places them in the province; add the .prj file"
        )
    return ResolvedCrs(
        best,
        f"assumed: no .prj; {best} places the features in {centre.name} "
        f"({distance_km[best]:.0f} km from its centre, the next zone "
        f"{distance_km[runner_up]:.0f} km; TM-3 meridians of the province per "
        "TT 973/2001/TT-TCĐC), datum VN-2000",
    )


def _declared(
    geometries: np.ndarray, declared: str, reference: gpd.GeoDataFrame | None
) -> ResolvedCrs:
    """The declared CRS, read through ``geodata.vn2000``; a doubtful datum shift is
    settled by the communes' outline when there is one, else the official one assumed."""
    reading = read_vn2000(declared)
    if reading is None:
        resolved = ResolvedCrs(declared, f"declared: {declared}")
    elif reading.as_declared is None:
        resolved = ResolvedCrs(reading.crs, f"declared: {reading.description}")
    elif reference is None or reference.empty:
        resolved = ResolvedCrs(
            reading.crs,
            f"assumed: {reading.description}; no communes to check it against",
        )
    else:
        outline = _outline(reference)
        official = _mismatch(geometries, reading.crs, outline)
        literal = _mismatch(geometries, reading.as_declared, outline)
        if literal < official:
            resolved = ResolvedCrs(
                reading.as_declared,
                "declared: the .prj as written (no datum shift): the communes' outline "
                "fits it better than the official VN-2000 shift",
            )
        else:
            resolved = ResolvedCrs(
                reading.crs,
                f"corrected: {reading.description}; the communes' outline confirms it",
            )
    bounds = np.asarray(shapely.total_bounds(geometries))
    geographic = pyproj.CRS.from_user_input(resolved.crs).is_geographic
    if geographic and not _in_degrees(bounds) and _in_degrees(bounds[[1, 0, 3, 2]]):
        return ResolvedCrs(resolved.crs, f"{resolved.how}, axes swapped", True)
    return resolved


def to_storage_crs(
    gdf: gpd.GeoDataFrame,
    declared: str | None,
    *,
    reference: gpd.GeoDataFrame | None = None,
    province_code: str | None = None,
) -> tuple[gpd.GeoDataFrame, ResolvedCrs]:
    """``gdf`` in EPSG:4326, from its declared CRS or the detected one.

    ``gdf``'s own CRS label is ignored: the raw layer stores coordinates as they
    landed, whatever they are, and only ``declared`` says what they are.
    """
    geometries = np.asarray(gdf.geometry.values)
    if declared:
        resolved = _declared(geometries, declared, reference)
    else:
        resolved = detect_crs(gdf, reference=reference, province_code=province_code)
    if resolved.swapped_axes:
        geometries = _swap(geometries)
    out = gdf.copy()
    out = out.set_geometry(gpd.GeoSeries(geometries, index=out.index, crs=resolved.crs))
    return out.to_crs(STORAGE_CRS), resolved
