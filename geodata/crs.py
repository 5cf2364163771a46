"""Coordinate reference systems: storage in WGS84, measurement in UTM.

Vietnam spans UTM zones 48N (west of 108°E) and 49N (east of it). Areas, lengths and
distances are computed in the zone that holds the data's centroid, which keeps scale
error well under 0.1% for a province.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

STORAGE_CRS = "EPSG:4326"
UTM_48N = "EPSG:32648"
UTM_49N = "EPSG:32649"


def metric_crs_for(gdf: gpd.GeoDataFrame) -> str:
    """The UTM zone (48N or 49N) holding the data's centre."""
    if gdf.empty:
        return UTM_48N
    minx, _, maxx, _ = gdf.to_crs(STORAGE_CRS).total_bounds
    return UTM_48N if (minx + maxx) / 2 < 108.0 else UTM_49N


def to_metric(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Project to the UTM zone of the data, for measuring in metres."""
    return gdf.to_crs(metric_crs_for(gdf))


def area_km2(gdf: gpd.GeoDataFrame) -> pd.Series:
    """Area of each geometry in km², measured in UTM."""
    return to_metric(gdf).geometry.area / 1_000_000
