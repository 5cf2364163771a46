"""The files planners hand on: a GeoPackage for QGIS, an Excel workbook per commune for
its plan (đề án), and maps. Aggregates only: hamlets and units, never persons.

Headers are Vietnamese, taken from the data dictionary in ``expectations.schemas``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from assets.exports.safe import atomic_write, write_sheet
from assets.planning.compliance import STATUS_LABELS_VI, region_by_commune
from expectations.schemas import FIELDS, TABLES, data_dictionary

if TYPE_CHECKING:
    import folium

COMPLIANCE_LABELS_VI = STATUS_LABELS_VI
# A unit's sheet shows the published unit minus what the file and sheet already say
# (province, commune, option) and the publication stamp.
UNIT_SHEET_COLUMNS = tuple(
    c
    for c in TABLES["marts.merged_units"].columns
    if c not in {"province_code", "commune_code", "option_name", "geometry", "area_km2"}
    and c not in {"rules_profile", "run_id", "published_at"}
)
OPTION_LABELS_VI = {
    "minimal": "Tối thiểu",
    "compliant": "Đạt chuẩn",
    "consolidated": "Hợp nhất lớn",
}


def slug(text: str) -> str:
    """ASCII file-name form of a Vietnamese name ("Nà Rẻo" -> "na_reo")."""
    folded = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    ascii_text = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")


def with_vietnamese_headers(df: pd.DataFrame) -> pd.DataFrame:
    """Columns renamed to their Vietnamese labels (unknown columns keep their name)."""
    return df.rename(columns={c: FIELDS[c].label_vi for c in df.columns if c in FIELDS})


def hamlets_before(
    hamlets: gpd.GeoDataFrame, compliance: pd.DataFrame, issues: pd.DataFrame | None = None
) -> gpd.GeoDataFrame:
    """Each hamlet as it is today, with its counts, compliance and record-issue count;
    its kind as planning applied it (the commune's: thôn in a xã, TDP in a phường)."""
    columns = [
        "hamlet_code",
        "hamlet_kind",
        "households",
        "population",
        "region",
        "standard_households",
        "compliance_status",
        "compliance_reason",
    ]
    out = hamlets[["hamlet_code", "commune_code", "name_prefix", "hamlet_name", "geometry"]].merge(
        compliance[columns], on="hamlet_code", how="left"
    )
    if issues is not None:
        counts = issues.dropna(subset=["hamlet_code"]).groupby("hamlet_code").size()
        out["issue_count"] = out["hamlet_code"].map(counts).fillna(0).astype(int)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=hamlets.crs)


def commune_layer(communes: gpd.GeoDataFrame, compliance: pd.DataFrame) -> gpd.GeoDataFrame:
    """Communes for the GeoPackage, with the region whose standard their hamlets were
    held to (a commune's own where the province's override lists it)."""
    out = communes[["commune_code", "commune_name", "unit_kind", "area_km2", "geometry"]].copy()
    region = region_by_commune(compliance)
    out.insert(3, "region", out["commune_code"].astype("string").map(region))
    return out


def write_province_geopackage(
    path: Path,
    communes: gpd.GeoDataFrame,
    before: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
) -> Path:
    """One GeoPackage: communes, hamlets today, units after each option, and the
    dictionary of column names (English and Vietnamese) for QGIS users."""
    dictionary = data_dictionary()
    dictionary = dictionary[~dictionary["is_personal"]].drop(columns="is_personal")
    with atomic_write(path) as partial:
        communes.to_file(partial, layer="communes", driver="GPKG")
        before.to_file(partial, layer="hamlets_before", driver="GPKG")
        for option, group in units.groupby("option_name", sort=True):
            group.drop(columns=["run_id"]).to_file(partial, layer=f"units_{option}", driver="GPKG")
        # An attribute table (no geometry) in the same GeoPackage.
        pyogrio.write_dataframe(dictionary, partial, layer="data_dictionary", driver="GPKG")
    return path


COST_SHEET_COLUMNS = (
    "option_name",
    "units_before",
    "units_after",
    "positions_before",
    "positions_after",
    "allowance_fund_before_vnd_per_year",
    "allowance_fund_after_vnd_per_year",
    "allowance_saving_vnd_per_year",
)


def write_commune_workbooks(
    folder: Path,
    communes: pd.DataFrame,
    before: pd.DataFrame,
    units: pd.DataFrame,
    assignments: pd.DataFrame,
    options: pd.DataFrame | None = None,
) -> list[Path]:
    """One workbook per commune: hamlets before, units after each option, part-time
    positions and allowance fund per option, and the explanation of every merge."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    before_by = dict(tuple(pd.DataFrame(before).drop(columns="geometry").groupby("commune_code")))
    units_by = dict(tuple(pd.DataFrame(units).drop(columns="geometry").groupby("commune_code")))
    why_by = dict(tuple(assignments.groupby("commune_code")))
    cost_by = dict(tuple(options.groupby("commune_code"))) if options is not None else {}
    for commune in communes.itertuples():
        path = folder / f"{commune.commune_code}_{slug(commune.commune_name)}.xlsx"
        with atomic_write(path) as partial, pd.ExcelWriter(partial, engine="openpyxl") as workbook:
            hamlets = before_by.get(commune.commune_code, pd.DataFrame(columns=before.columns))
            hamlets = hamlets.assign(
                compliance_status=hamlets["compliance_status"].map(COMPLIANCE_LABELS_VI)
            ).sort_values("hamlet_code")
            today = with_vietnamese_headers(hamlets.drop(columns=["commune_code"]))
            write_sheet(workbook, today, "Hiện trạng")
            after = units_by.get(commune.commune_code, pd.DataFrame(columns=units.columns))
            for option, group in after.groupby("option_name", sort=True):
                sheet = group[[c for c in UNIT_SHEET_COLUMNS if c in group.columns]].assign(
                    is_compliant=group["is_compliant"].map({True: "Có", False: "Không"})
                )
                write_sheet(
                    workbook,
                    with_vietnamese_headers(sheet),
                    f"PA {OPTION_LABELS_VI.get(option, option)}",
                )
            costs = cost_by.get(commune.commune_code)
            if costs is not None:
                sheet = costs[list(COST_SHEET_COLUMNS)].assign(
                    option_name=costs["option_name"].map(OPTION_LABELS_VI)
                )
                write_sheet(workbook, with_vietnamese_headers(sheet), "Nhân sự, phụ cấp")
            reasons = why_by.get(commune.commune_code, pd.DataFrame(columns=assignments.columns))
            why = with_vietnamese_headers(
                reasons[["option_name", "hamlet_code", "unit_id", "is_merged", "explanation"]]
                .assign(option_name=reasons["option_name"].map(OPTION_LABELS_VI))
                .sort_values(["option_name", "hamlet_code"])
            )
            write_sheet(workbook, why, "Giải thích")
        written.append(path)
    return written


COMPLIANCE_COLOURS = {
    "meets_standard": "#7fbf7f",
    "exempt": "#9ecae1",
    "below_standard": "#fdd49e",
    "below_mandatory_floor": "#ef6548",
    "special_case_awaiting_guidance": "#bcbddc",
}
UNIT_PALETTE = np.array(
    ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4"]
)


def neighbour_colouring(geometries: np.ndarray) -> np.ndarray:
    """A colour index per unit such that units sharing a border differ (greedy, in order;
    a commune's units are few, and planar maps rarely need more than five colours)."""
    tree = shapely.STRtree(geometries)
    left, right = tree.query(shapely.buffer(geometries, 1e-6), predicate="intersects")
    neighbours: dict[int, set[int]] = {}
    for i, j in zip(left, right, strict=True):
        if i != j:
            neighbours.setdefault(int(i), set()).add(int(j))
    colour = np.full(len(geometries), -1)
    for i in range(len(geometries)):
        used = {colour[j] for j in neighbours.get(i, ()) if colour[j] >= 0}
        colour[i] = next(c for c in range(len(geometries) + 1) if c not in used)
    return colour


def write_commune_map(
    path: Path, commune: gpd.GeoDataFrame, before: gpd.GeoDataFrame, units: gpd.GeoDataFrame
) -> Path:
    """A static PNG: hamlets today (coloured by compliance) beside each option's units.

    Drawn on a bare Figure, not through pyplot, whose figures redraw after every layer
    (a dozen full renders per map).
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    options = sorted(units["option_name"].unique())
    figure = Figure(figsize=(5 * (1 + len(options)), 5))
    axes = list(figure.subplots(1, 1 + len(options), squeeze=False)[0])
    colours = COMPLIANCE_COLOURS
    before.plot(ax=axes[0], color=before["compliance_status"].map(colours).fillna("#cccccc"),
                edgecolor="white", linewidth=0.6)  # fmt: skip
    axes[0].set_title("Hiện trạng")
    axes[0].legend(
        handles=[Patch(color=c, label=COMPLIANCE_LABELS_VI[k]) for k, c in colours.items()],
        loc="lower left",
        fontsize=7,
        frameon=False,
    )
    for ax, option in zip(axes[1:], options, strict=True):
        chosen = units[units["option_name"] == option]
        palette = UNIT_PALETTE[neighbour_colouring(chosen.geometry.values) % len(UNIT_PALETTE)]
        chosen.plot(ax=ax, color=palette, edgecolor="white", linewidth=1.0)
        ax.set_title(f"Phương án {OPTION_LABELS_VI.get(option, option)}: {len(chosen)} đơn vị")
    for ax in axes:
        commune.boundary.plot(ax=ax, color="black", linewidth=1.2)
        ax.set_axis_off()
    figure.tight_layout()
    with atomic_write(path) as partial:
        figure.savefig(partial, dpi=110, metadata={"Software": "hamlets", "Title": path.stem})
    return path


def interactive_map(
    before: gpd.GeoDataFrame, units: gpd.GeoDataFrame, layers: Sequence[folium.Layer] = ()
) -> folium.Map:
    """Hamlets today and each option's units as layers, with hover details, openable
    offline (``leaflet.self_contained``). Optional columns add to the hover: the
    hamlet's ``compliance_reason``; a unit's ``compliance_reason`` and ``explanation``
    (which rule forced the merge). Names and explanations reach the page as text only
    (``leaflet.TextTooltip``): they come from offices and residents. ``layers`` are
    further overlays, added before the layer control: folium writes the page's script
    in the order of the map's children, and a control listing a layer not yet declared
    fails (no layer control at all)."""
    import folium

    from assets.exports.leaflet import TextTooltip, self_contained

    centre = before.geometry.union_all().centroid
    fmap = folium.Map(location=[centre.y, centre.x], zoom_start=10, tiles=None)
    folium.TileLayer("OpenStreetMap", name="Nền bản đồ").add_to(fmap)
    minx, miny, maxx, maxy = before.total_bounds
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    status = before["compliance_status"].map(COMPLIANCE_COLOURS)
    fill = dict(zip(before["hamlet_code"], status, strict=True))
    shown = before.assign(compliance_status=before["compliance_status"].map(COMPLIANCE_LABELS_VI))
    fields = ["hamlet_code", "hamlet_name", "households", "population", "compliance_status"]
    aliases = ["Mã", "Tên", "Số hộ", "Số nhân khẩu", "Tình trạng"]
    if "compliance_reason" in shown.columns:
        fields, aliases = [*fields, "compliance_reason"], [*aliases, "Lý do"]
    folium.GeoJson(
        shown[[*fields, "geometry"]],
        name="Hiện trạng thôn, TDP",
        style_function=lambda feature: {
            "fillColor": fill.get(feature["properties"]["hamlet_code"]) or "#cccccc",
            "fillOpacity": 0.7,
            "color": "#555555",
            "weight": 1,
        },
        tooltip=TextTooltip(fields=fields, aliases=aliases, style=_TOOLTIP_STYLE),
    ).add_to(fmap)
    fields = ["unit_id", "member_hamlet_codes", "households", "population"]
    aliases = ["Đơn vị", "Gồm", "Số hộ", "Số nhân khẩu"]
    for extra, alias in (("compliance_reason", "Đạt chuẩn?"), ("explanation", "Lý do sắp xếp")):
        if extra in units.columns:
            fields, aliases = [*fields, extra], [*aliases, alias]
    for option, group in units.groupby("option_name", sort=True):
        folium.GeoJson(
            group[[*fields, "is_compliant", "geometry"]],
            # Leaflet's layer control shows names as HTML.
            name=f"Phương án {html.escape(OPTION_LABELS_VI.get(option, option))}",
            show=False,
            tooltip=TextTooltip(fields=fields, aliases=aliases, style=_TOOLTIP_STYLE),
        ).add_to(fmap)
    for layer in layers:
        layer.add_to(fmap)
    folium.LayerControl().add_to(fmap)
    return self_contained(fmap)


_TOOLTIP_STYLE = "max-width: 420px; white-space: normal;"


def write_province_map(path: Path, before: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> Path:
    """An interactive HTML map: hamlets today and each option's units as layers."""
    fmap = interactive_map(before, units)
    with atomic_write(path) as partial:
        fmap.save(str(partial))
    return path
