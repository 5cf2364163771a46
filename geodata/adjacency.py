"""Which hamlets of a commune share a boundary, and how long that boundary is.

Digitised boundaries do not meet exactly: neighbours overlap in slivers or leave gaps of
a few metres. Two hamlets therefore count as adjacent when they come within
``tolerance_m`` of each other along a stretch of boundary, not merely at a point.

Shared length, measured in UTM (``geodata.crs``): the part of A's boundary within
``tol`` of B is ``boundary(A) ∩ buffer(B, tol)``. Where a shared stretch ends, A's
boundary turns away from B yet stays within ``tol`` of it for about ``tol`` more metres
(more at acute angles), so each open stretch is shortened by ``2·tol``; a closed one (an
enclave's whole ring) is kept whole. The shared length is the smaller of the A→B and B→A
measures, which cancels most of the acute-angle excess. An exact shared edge of length L
measures L, a gap of g metres about L − 2g, and two squares touching only at a corner
≈ 0. Pairs whose shared length is below ``min_shared_m`` (default: the tolerance itself,
which cannot be told apart from a point contact) are not adjacent. Candidate pairs come
from a spatial index query (``dwithin``), so the cost grows with the number of real
neighbours, not with n².
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from expectations.schemas import TABLES
from geodata.crs import to_metric


def hamlet_adjacency(
    hamlets: gpd.GeoDataFrame,
    *,
    tolerance_m: float = 5.0,
    min_shared_m: float | None = None,
) -> pd.DataFrame:
    """Adjacent hamlet pairs of the same commune, both directions, with shared length (m).

    ``hamlets`` needs hamlet_code, commune_code and a geometry with a CRS. Hamlets with
    no neighbour simply have no row (islands and enclaves are handled by the merger).
    Multi-part hamlets are measured over all their parts.
    """
    if tolerance_m < 0:
        raise ValueError(f"tolerance_m must be >= 0, got {tolerance_m}")
    min_shared = tolerance_m if min_shared_m is None else min_shared_m
    missing = [c for c in ("hamlet_code", "commune_code") if c not in hamlets.columns]
    if missing:
        raise ValueError(f"hamlet_adjacency: hamlets lack columns {missing}")
    if hamlets.crs is None:
        raise ValueError("hamlet_adjacency: hamlets have no CRS; expected EPSG:4326")
    dup = hamlets["hamlet_code"].duplicated()
    if dup.any():
        examples = hamlets.loc[dup, "hamlet_code"].head(5).tolist()
        raise ValueError(f"hamlet_adjacency: duplicated hamlet_code {examples}")
    contract = TABLES["planning.hamlet_adjacency"]
    usable = hamlets[hamlets.geometry.notna() & ~hamlets.geometry.is_empty]
    if len(usable) < 2:
        return contract.enforce(
            pd.DataFrame({c: pd.Series(dtype=object) for c in contract.columns})
        )

    metric = to_metric(usable[["hamlet_code", "commune_code", usable.geometry.name]])
    geoms = metric.geometry.to_numpy()
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms = geoms.copy()
        # Staging repairs geometries; this guards callers that pass raw ones.
        geoms[invalid] = shapely.make_valid(
            geoms[invalid], method="structure", keep_collapsed=False
        )
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=tolerance_m)
    communes = metric["commune_code"].astype(str).to_numpy()
    keep = (left < right) & (communes[left] == communes[right])
    left, right = left[keep], right[keep]

    boundaries = shapely.boundary(geoms)
    if tolerance_m > 0:
        buffered = shapely.buffer(geoms, tolerance_m)
        a_to_b = _near_length(boundaries[left], buffered[right], tolerance_m)
        b_to_a = _near_length(boundaries[right], buffered[left], tolerance_m)
        shared = np.minimum(a_to_b, b_to_a)
    else:
        shared = shapely.length(shapely.intersection(boundaries[left], boundaries[right]))
    adjacent = shared >= min_shared if min_shared > 0 else shared > 0
    left, right, shared = left[adjacent], right[adjacent], shared[adjacent]

    codes = metric["hamlet_code"].astype(str).to_numpy()
    pairs = pd.DataFrame(
        {
            "commune_code": np.concatenate([communes[left], communes[right]]),
            "hamlet_code": np.concatenate([codes[left], codes[right]]),
            "neighbour_hamlet_code": np.concatenate([codes[right], codes[left]]),
            "shared_boundary_m": np.round(np.concatenate([shared, shared]), 1),
        }
    )
    pairs = pairs.sort_values(["commune_code", "hamlet_code", "neighbour_hamlet_code"])
    return contract.enforce(pairs.reset_index(drop=True))


def _near_length(lines: np.ndarray, zones: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Per pair: length of ``lines`` inside ``zones``, less ``2·tol`` per open stretch."""
    near = shapely.line_merge(shapely.intersection(lines, zones))
    parts, owner = shapely.get_parts(near, return_index=True)
    if len(parts) == 0:
        return np.zeros(len(lines))
    lengths = shapely.length(parts)
    # Points or polygons can appear in degenerate intersections; they add no length.
    closed = shapely.is_closed(parts) & (shapely.get_type_id(parts) == 1)
    trimmed = np.where(closed, lengths, np.maximum(0.0, lengths - 2 * tolerance_m))
    return np.bincount(owner, weights=trimmed, minlength=len(lines))
