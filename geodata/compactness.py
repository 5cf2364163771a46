"""Compactness of hamlets and of merged units (Polsby–Popper), measured in UTM.

Polsby–Popper = 4πA / P²: 1 for a disc, near 0 for a sliver. A merged unit's area is
the sum of its hamlets' areas, and its perimeter the sum of their perimeters less twice
the boundary they share, so units are scored from per-hamlet measures and the adjacency
table without dissolving geometries (the shared lengths there are trimmed near the ends
of each stretch, so a unit's perimeter is over-stated by a few metres per internal
boundary, and its score very slightly under-stated).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geodata.crs import to_metric


def hamlet_measures(hamlets: gpd.GeoDataFrame) -> pd.DataFrame:
    """hamlet_code, area_m2 and perimeter_m of each hamlet (UTM 48N/49N)."""
    if "hamlet_code" not in hamlets.columns:
        raise ValueError("hamlet_measures: hamlets lack column hamlet_code")
    if hamlets.crs is None:
        raise ValueError("hamlet_measures: hamlets have no CRS")
    metric = to_metric(hamlets[["hamlet_code", hamlets.geometry.name]])
    return pd.DataFrame(
        {
            "hamlet_code": metric["hamlet_code"].astype(str).to_numpy(),
            "area_m2": metric.geometry.area.to_numpy(),
            "perimeter_m": metric.geometry.length.to_numpy(),
        }
    )


def polsby_popper(
    area_m2: np.ndarray | pd.Series, perimeter_m: np.ndarray | pd.Series
) -> np.ndarray:
    """4πA / P², NaN where the perimeter is not positive."""
    area = np.asarray(area_m2, dtype=float)
    perimeter = np.asarray(perimeter_m, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = 4 * np.pi * area / perimeter**2
    return np.where(perimeter > 0, score, np.nan)


def unit_compactness(
    members: pd.DataFrame, measures: pd.DataFrame, adjacency: pd.DataFrame
) -> pd.DataFrame:
    """Area, perimeter and Polsby–Popper of each unit.

    ``members`` has one row per hamlet with the unit's key columns (all columns other
    than hamlet_code identify the unit, e.g. option_name and unit_id); ``adjacency`` is
    planning.hamlet_adjacency (both directions). Units with a hamlet lacking measures
    get NaN.
    """
    keys = [c for c in members.columns if c != "hamlet_code"]
    m = members.merge(measures, on="hamlet_code", how="left")
    m["missing"] = m["area_m2"].isna() | m["perimeter_m"].isna()
    sums = m.groupby(keys, sort=False, dropna=False).agg(
        area_m2=("area_m2", "sum"), perimeter_m=("perimeter_m", "sum"), missing=("missing", "any")
    )
    sums.loc[sums["missing"], ["area_m2", "perimeter_m"]] = np.nan
    sums = sums.drop(columns="missing")
    pairs = adjacency[["hamlet_code", "neighbour_hamlet_code", "shared_boundary_m"]].merge(
        members, on="hamlet_code"
    )
    other = members.rename(columns={"hamlet_code": "neighbour_hamlet_code"})
    inside = pairs.merge(other, on=["neighbour_hamlet_code", *keys])
    # Both directions are listed, so the directed sum is twice the shared length.
    internal = inside.groupby(keys, sort=False)["shared_boundary_m"].sum()
    sums["perimeter_m"] = sums["perimeter_m"] - internal.reindex(sums.index).fillna(0.0)
    sums["polsby_popper"] = polsby_popper(sums["area_m2"], sums["perimeter_m"])
    return sums.reset_index()
