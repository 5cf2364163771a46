"""Hamlet adjacency on hand-built geometries (UTM 48N squares stored in EPSG:4326)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import MultiPolygon, Polygon, box

from expectations.schemas import TABLES
from geodata.adjacency import hamlet_adjacency

X0, Y0 = 600_000, 2_500_000  # ≈ 105.97°E 22.6°N, Cao Bằng


def _gdf(shapes: dict[str, Polygon | MultiPolygon], communes: dict[str, str] | None = None):
    """Shapes in metres relative to (X0, Y0), converted to EPSG:4326 as staging stores them."""
    from shapely import affinity

    codes = list(shapes)
    return gpd.GeoDataFrame(
        {
            "hamlet_code": codes,
            "commune_code": [(communes or {}).get(c, "04001") for c in codes],
        },
        geometry=[affinity.translate(shapes[c], X0, Y0) for c in codes],
        crs="EPSG:32648",
    ).to_crs("EPSG:4326")


def _pairs(adj: pd.DataFrame) -> dict[tuple[str, str], float]:
    return {
        (a, b): m
        for a, b, m in adj[
            ["hamlet_code", "neighbour_hamlet_code", "shared_boundary_m"]
        ].itertuples(index=False)
    }


def test_grid_rook_neighbours_only() -> None:
    shapes = {f"h{r}{c}": box(c * 1000, -r * 1000, (c + 1) * 1000, -(r - 1) * 1000)
              for r in (1, 2, 3) for c in (1, 2, 3)}  # fmt: skip
    adj = hamlet_adjacency(_gdf(shapes))
    pairs = _pairs(adj)
    expected = set()
    for r in (1, 2, 3):
        for c in (1, 2, 3):
            for dr, dc in ((0, 1), (1, 0)):
                if r + dr <= 3 and c + dc <= 3:
                    expected |= {
                        (f"h{r}{c}", f"h{r + dr}{c + dc}"),
                        (f"h{r + dr}{c + dc}", f"h{r}{c}"),
                    }
    assert set(pairs) == expected  # 12 edges, both directions, no diagonals
    assert len(adj) == 24
    for length in pairs.values():
        assert length == pytest.approx(1000, abs=1)
    assert tuple(adj.columns) == TABLES["planning.hamlet_adjacency"].columns
    assert adj.equals(TABLES["planning.hamlet_adjacency"].enforce(adj))
    assert list(adj["hamlet_code"]) == sorted(adj["hamlet_code"])


def test_small_gap_is_adjacent_large_gap_is_not() -> None:
    near = _pairs(
        hamlet_adjacency(_gdf({"a": box(0, 0, 1000, 1000), "b": box(1002, 0, 2002, 1000)}))
    )
    assert set(near) == {("a", "b"), ("b", "a")}
    assert near[("a", "b")] == pytest.approx(996, abs=2)  # the gap eats 2 m at each end
    far = hamlet_adjacency(_gdf({"a": box(0, 0, 1000, 1000), "b": box(1050, 0, 2050, 1000)}))
    assert far.empty
    # A wider tolerance makes the 50 m gap count.
    wide = hamlet_adjacency(
        _gdf({"a": box(0, 0, 1000, 1000), "b": box(1050, 0, 2050, 1000)}), tolerance_m=60
    )
    assert len(wide) == 2


def test_sliver_overlap_is_adjacent() -> None:
    adj = _pairs(hamlet_adjacency(_gdf({"a": box(0, 0, 1000, 1000), "b": box(999, 0, 1999, 1000)})))
    assert adj[("a", "b")] == pytest.approx(1000, abs=3)


def test_corner_touch_is_not_adjacent() -> None:
    adj = hamlet_adjacency(_gdf({"a": box(0, 0, 1000, 1000), "b": box(1000, 1000, 2000, 2000)}))
    assert adj.empty
    # Nor a near-touch of corners within the tolerance.
    adj = hamlet_adjacency(_gdf({"a": box(0, 0, 1000, 1000), "b": box(1002, 1002, 2000, 2000)}))
    assert adj.empty


def test_short_contact_below_min_shared_is_dropped() -> None:
    shapes = {"a": box(0, 0, 1000, 1000), "b": box(997, 1000, 1997, 2000)}  # 3 m overlap of edges
    assert hamlet_adjacency(_gdf(shapes)).empty
    kept = _pairs(hamlet_adjacency(_gdf(shapes), min_shared_m=1.0))
    assert kept[("a", "b")] == pytest.approx(3, abs=1)


def test_multipart_hamlet_measures_all_its_parts() -> None:
    # m has two parts: one between a and x, one (half as tall) between x and b.
    shapes = {
        "a": box(0, 0, 1000, 1000),
        "m": MultiPolygon([box(1000, 0, 2000, 1000), box(3000, 0, 4000, 500)]),
        "x": box(2000, 0, 3000, 1000),
        "b": box(4000, 0, 5000, 1000),
    }
    pairs = _pairs(hamlet_adjacency(_gdf(shapes)))
    assert pairs[("m", "a")] == pytest.approx(1000, abs=1)
    assert pairs[("m", "x")] == pytest.approx(1500, abs=1)  # 1000 + 500 over both parts
    assert pairs[("m", "b")] == pytest.approx(500, abs=1)
    assert ("a", "x") not in pairs and ("x", "b") not in pairs  # 1 km apart


def test_enclave_shares_its_whole_perimeter() -> None:
    outer = Polygon(
        [(0, 0), (3000, 0), (3000, 3000), (0, 3000)],
        holes=[[(1000, 1000), (2000, 1000), (2000, 2000), (1000, 2000)]],
    )
    pairs = _pairs(hamlet_adjacency(_gdf({"outer": outer, "inner": box(1000, 1000, 2000, 2000)})))
    assert pairs[("inner", "outer")] == pytest.approx(4000, abs=1)


def test_island_has_no_rows_and_communes_are_not_crossed() -> None:
    shapes = {
        "a": box(0, 0, 1000, 1000),
        "b": box(1000, 0, 2000, 1000),  # touches a but lies in another commune
        "c": box(2000, 0, 3000, 1000),
        "island": box(10_000, 10_000, 11_000, 11_000),
    }
    adj = hamlet_adjacency(_gdf(shapes, {"b": "04002", "c": "04002"}))
    assert set(_pairs(adj)) == {("b", "c"), ("c", "b")}
    assert set(adj["commune_code"]) == {"04002"}


def test_invalid_geometry_is_repaired_not_fatal() -> None:
    bowtie = Polygon([(0, 0), (1000, 1000), (1000, 0), (0, 1000)])
    pairs = _pairs(hamlet_adjacency(_gdf({"bow": bowtie, "b": box(1000, 0, 2000, 1000)})))
    assert pairs[("bow", "b")] == pytest.approx(1000, abs=1)


def test_degenerate_inputs() -> None:
    one = hamlet_adjacency(_gdf({"a": box(0, 0, 10, 10)}))
    assert one.empty and tuple(one.columns) == TABLES["planning.hamlet_adjacency"].columns
    no_crs = _gdf({"a": box(0, 0, 10, 10), "b": box(10, 0, 20, 10)}).set_crs(
        None, allow_override=True
    )
    with pytest.raises(ValueError, match="no CRS"):
        hamlet_adjacency(no_crs)
    dup = pd.concat([_gdf({"a": box(0, 0, 10, 10)})] * 2)
    with pytest.raises(ValueError, match=r"duplicated hamlet_code \['a'\]"):
        hamlet_adjacency(dup)
