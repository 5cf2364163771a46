"""Static maps worth printing: the one drawing module for every PNG the project writes
(commune maps beside the workbooks, the đề án's map per unit).

Each panel is drawn in the data's UTM zone (``geodata.crs``), so the axes are metres and
the scale bar is a true length, and carries what a printed map needs: labels (name and
households), a legend, a scale bar, a north arrow and a title. Hamlets and units only:
no person appears. Drawn on a bare ``Figure``, not through pyplot, whose figures redraw
after every layer.

A province's maps are most of its export time, so each layer is one collection built
from shapely's coordinate arrays (``GeoSeries.plot`` builds a patch per polygon), the
axes' hidden tick machinery is switched off, and the artists that sit inside the frame
(labels, scale bar, arrow) are left out of the layout pass, which measured every one of
them to the same result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.offsetbox import AnchoredOffsetbox
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.text import Annotation, Text
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from assets.exports.office import vn_number
from assets.exports.safe import atomic_write
from geodata.crs import metric_crs_for

NORTH_LABEL = "B"  # Bắc
OTHER_COLOUR = "#eeeeee"


@dataclass
class Panel:
    """The artists a panel carries, so a test can check the figure, not its pixels."""

    ax: Axes
    title: Text
    legend: Legend | None
    scale_bar: AnchoredOffsetbox
    north_arrow: Annotation
    labels: list[Annotation]


def nice_length(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 × 10ⁿ metres) near a fifth of ``span_m``."""
    target = max(span_m / 5, 1.0)
    power = 10 ** np.floor(np.log10(target))
    return float(max(s * power for s in (1, 2, 5) if s * power <= target))


def scale_label(metres: float) -> str:
    return f"{vn_number(metres / 1000)} km" if metres >= 1000 else f"{vn_number(metres)} m"


def label_text(name: object, households: object) -> str:
    """A hamlet's or unit's label: its name over its households (``1.234 hộ``)."""
    return f"{name}\n{vn_number(int(households))} hộ"


def polygon_paths(geometries: np.ndarray) -> list[MplPath]:
    """One compound path per (multi)polygon, every ring closed, as ``GeoSeries.plot``
    builds them (normalised rings, so holes wind against their shell), but from
    shapely's coordinate arrays at once instead of a patch built ring by ring."""
    kind, coords, offsets = shapely.to_ragged_array(shapely.normalize(geometries), include_z=False)
    rings = offsets[0]
    polygons = offsets[1] if kind == shapely.GeometryType.POLYGON else offsets[1][offsets[2]]
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    codes[rings[:-1]] = MplPath.MOVETO
    codes[rings[1:] - 1] = MplPath.CLOSEPOLY
    bounds = rings[polygons]
    return [MplPath(coords[a:b], codes[a:b]) for a, b in pairwise(bounds)]


def add_polygons(
    ax: Axes, geometries: np.ndarray, colours: Sequence[str] | str, **style: object
) -> None:
    """``geometries`` filled with ``colours`` (one, or one per geometry) as a single
    collection; empty or missing geometries are skipped, as ``GeoSeries.plot`` does."""
    present = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    if not present.any():
        return
    if not isinstance(colours, str):
        colours = list(np.asarray(colours, dtype=object)[present])
    patches = [PathPatch(path) for path in polygon_paths(geometries[present])]
    ax.add_collection(PatchCollection(patches, facecolor=colours, **style), autolim=True)


def add_boundaries(ax: Axes, geometries: np.ndarray, **style: object) -> None:
    """The boundaries of ``geometries`` as one collection of lines (``GeoSeries.plot``
    of their normalised boundary parts)."""
    present = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    lines = shapely.get_parts(shapely.normalize(shapely.boundary(geometries[present])))
    if len(lines) == 0:
        return
    coords, index = shapely.get_coordinates(lines, return_index=True)
    segments = np.split(coords, np.flatnonzero(np.diff(index)) + 1)
    ax.add_collection(LineCollection(segments, **style), autolim=True)


def draw_panel(
    ax: Axes,
    shapes: gpd.GeoDataFrame,
    colours: Sequence[str],
    title: str,
    *,
    labels: Sequence[str] = (),
    context: gpd.GeoDataFrame | None = None,
    outline: gpd.GeoDataFrame | None = None,
    legend: Sequence[tuple[str, str]] = (),
) -> Panel:
    """``shapes`` filled with ``colours`` (one per row) on ``ax``, over ``context`` in
    grey and under ``outline``'s boundary; ``labels`` (one per row, or none) at each
    shape's representative point; ``legend`` as (colour, text) pairs."""
    crs = metric_crs_for(shapes if context is None or context.empty else context)
    if context is not None and not context.empty:
        add_polygons(ax, context.to_crs(crs).geometry.values, OTHER_COLOUR, edgecolor="white",
                     linewidth=0.5)  # fmt: skip
    metric = shapes.to_crs(crs)
    if not metric.empty:
        add_polygons(ax, metric.geometry.values, colours, edgecolor="white", linewidth=0.8)
    if outline is not None and not outline.empty:
        add_boundaries(ax, outline.to_crs(crs).geometry.values, color="black", linewidth=1.2)
    texts = []
    for text, geometry in zip(labels, metric.geometry, strict=False):
        point = geometry.representative_point()
        texts.append(
            ax.annotate(text, (point.x, point.y), ha="center", va="center", fontsize=6,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.6, "lw": 0},
                        annotation_clip=False, in_layout=False)
        )  # fmt: skip
    # Room inside the frame for the scale bar and the arrow, the frame filled (datalim).
    ax.margins(0.12)
    ax.set_aspect("equal", adjustable="datalim")
    ax.apply_aspect()
    ax.set_axis_off()
    ax.xaxis.set_visible(False)
    ax.yaxis.set_visible(False)
    drawn = ax.set_title(title, fontsize=9)
    shown = None
    if legend:
        handles = [Patch(facecolor=c, edgecolor="#888888", label=t) for c, t in legend]
        # Below the map, not over it.
        shown = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, 0), fontsize=6,
                          frameon=False, ncol=2 if len(handles) > 4 else 1)  # fmt: skip
    x0, x1 = ax.get_xlim()
    length = nice_length(x1 - x0)
    bar = AnchoredSizeBar(
        ax.transData, length, scale_label(length), loc="lower right", frameon=False,
        size_vertical=(x1 - x0) / 200, fontproperties={"size": 6},
    )  # fmt: skip
    bar.set_in_layout(False)
    ax.add_artist(bar)
    arrow = ax.annotate(
        NORTH_LABEL, xy=(0.95, 0.97), xytext=(0.95, 0.86), xycoords="axes fraction",
        ha="center", va="center", fontsize=8, fontweight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2}, in_layout=False,
    )  # fmt: skip
    return Panel(ax, drawn, shown, bar, arrow, texts)


def new_figure(panels: int, title: str, size: float = 5.0) -> tuple[Figure, list[Axes]]:
    """A figure of ``panels`` side by side under ``title``."""
    figure = Figure(figsize=(size * panels, size + 0.4))
    axes = list(figure.subplots(1, panels, squeeze=False)[0])
    figure.suptitle(title, fontsize=11, fontweight="bold")
    return figure, axes


def save_png(figure: Figure, path: Path, dpi: int = 110) -> Path:
    """The figure as a PNG, whole or not at all (``safe.atomic_write``).

    Laid out once: ``tight_layout`` leaves a placeholder layout engine behind, for which
    ``savefig`` lays the whole figure out a second time (a fifth of a map's time) to
    the same result; without an engine it draws once, and the bytes are the same."""
    figure.tight_layout()
    figure.set_layout_engine(None)
    with atomic_write(path) as partial:
        figure.savefig(partial, dpi=dpi, metadata={"Software": "hamlets", "Title": path.stem})
    return path
