"""The maps' polygons and outlines drawn from shapely's coordinate arrays are the paths
``GeoSeries.plot`` draws (holes, multi-part and empty geometries included), so the
PNGs stay the same while skipping geopandas' patch-by-patch plotting."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.figure import Figure

from assets.exports.drawing import add_boundaries, add_polygons

SHAPES = [
    shapely.box(0, 0, 10, 10).difference(shapely.box(2, 2, 4, 4)),  # a hole
    shapely.MultiPolygon([shapely.box(20, 0, 22, 2), shapely.box(30, 0, 31, 5)]),
    shapely.Polygon(),  # empty: not drawn
    shapely.Polygon([(40, 0), (50, 0), (45, 8)]),
]
COLOURS = ["#111111", "#222222", "#333333", "#444444"]


def _paths(collection) -> list[tuple[list, list]]:
    return [(p.vertices.tolist(), None if p.codes is None else p.codes.tolist())
            for p in collection.get_paths()]  # fmt: skip


def _drawn(draw) -> tuple[list, object]:
    ax = Figure().subplots()
    draw(ax)
    return [c for c in ax.collections], (ax.dataLim.bounds, ax.get_xlim(), ax.get_ylim())


def test_polygons_are_the_paths_geopandas_draws():
    frame = gpd.GeoDataFrame(geometry=SHAPES)
    [theirs], their_view = _drawn(
        lambda ax: frame.plot(ax=ax, color=COLOURS, edgecolor="white", linewidth=0.8)
    )
    [ours], our_view = _drawn(
        lambda ax: add_polygons(
            ax, np.asarray(frame.geometry.values), COLOURS, edgecolor="white", linewidth=0.8
        )
    )
    assert isinstance(ours, PatchCollection)
    assert _paths(ours) == _paths(theirs)
    assert ours.get_facecolor().tolist() == theirs.get_facecolor().tolist()
    assert ours.get_edgecolor().tolist() == theirs.get_edgecolor().tolist()
    assert ours.get_linewidth().tolist() == theirs.get_linewidth().tolist()
    assert our_view == their_view


def test_outlines_are_the_lines_geopandas_draws():
    frame = gpd.GeoDataFrame(geometry=SHAPES)
    [theirs], their_view = _drawn(
        lambda ax: frame.boundary.plot(ax=ax, color="black", linewidth=1.2)
    )
    [ours], our_view = _drawn(
        lambda ax: add_boundaries(
            ax, np.asarray(frame.geometry.values), color="black", linewidth=1.2
        )
    )
    assert isinstance(ours, LineCollection)
    assert [s.tolist() for s in ours.get_segments()] == [s.tolist() for s in theirs.get_segments()]
    assert ours.get_color().tolist() == theirs.get_color().tolist()
    assert our_view == their_view


def test_nothing_to_draw_draws_nothing():
    empty = np.asarray([shapely.Polygon(), None], dtype=object)
    collections, _ = _drawn(
        lambda ax: (add_polygons(ax, empty, "#000000"), add_boundaries(ax, empty))
    )
    assert collections == []
