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

from assets.exports.office import vn_number
from assets.exports.qgis import Category, LayerStyle, write_layer_styles
from assets.exports.safe import atomic_write, write_sheet
from assets.planning.compliance import (
    BELOW_STANDARD,
    MEETS,
    STATUS_LABELS_VI,
    region_by_commune,
)
from assets.planning.rules import HAMLET_KIND_LABELS_VI
from expectations.schemas import FIELDS, TABLES, data_dictionary
from geodata.crs import metric_crs_for

if TYPE_CHECKING:
    import folium
    from matplotlib.figure import Figure

    from assets.exports.drawing import Panel

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


def province_name(code: str) -> str:
    """The province's name (the ``vietnam-provinces`` package's, as ``assets.provinces``)."""
    from vietnam_provinces import Province

    names = {f"{int(p.code):02d}": p.name for p in Province.iter_all()}
    return names.get(code, code)


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
        write_layer_styles(partial, geopackage_styles(communes, before, units))
    return path


COMPLIANT_EXPRESSION = "CASE WHEN \"is_compliant\" THEN 'yes' ELSE 'no' END"


COMMUNE_KIND_STYLE = {  # the commune's kind decides its hamlets' kind (thôn or TDP)
    "xa": ("#33a02c", "Xã"),
    "phuong": ("#6a3d9a", "Phường"),
    "dac_khu": ("#1f78b4", "Đặc khu"),
}


def geopackage_styles(
    communes: gpd.GeoDataFrame, before: gpd.GeoDataFrame, units: gpd.GeoDataFrame
) -> list[LayerStyle]:
    """QGIS styles of the main layers: communes' borders by kind (unfilled, so the
    hamlets show through); hamlets by compliance; each option's units by unit
    (neighbours differ) and, as a second style, by compliance."""
    kinds = [
        Category(k, colour, label)
        for k, (colour, label) in COMMUNE_KIND_STYLE.items()
        if k in set(communes["unit_kind"])
    ]
    commune_fields = [c for c in communes.columns if c != "geometry"]
    statuses = [
        Category(k, c, COMPLIANCE_LABELS_VI[k])
        for k, c in COMPLIANCE_COLOURS.items()
        if k in set(before["compliance_status"])
    ]
    styles = [
        LayerStyle("communes", "Loại đơn vị hành chính", "unit_kind", kinds, commune_fields,
                   True, "Ranh giới xã, phường, đặc khu theo loại", outline_only=True),
        LayerStyle("hamlets_before", "Tình trạng đạt chuẩn", "compliance_status", statuses,
                   [c for c in before.columns if c != "geometry"], True,
                   "Thôn, tổ dân phố hiện nay theo tình trạng đạt chuẩn"),
    ]  # fmt: skip
    names = dict(zip(before["hamlet_code"], before["hamlet_name"], strict=True))
    for option, group in units.groupby("option_name", sort=True):
        layer = f"units_{option}"
        fields = [c for c in group.columns if c not in {"geometry", "run_id"}]
        label = OPTION_LABELS_VI.get(option, option)
        by_unit = [
            Category(u, c, f"{names.get(u, u)} ({u})")
            for u, c in zip(group["unit_id"], unit_colours(group), strict=True)
        ]
        compliant = [
            Category("yes", COMPLIANCE_COLOURS[MEETS], "Đạt chuẩn"),
            Category("no", COMPLIANCE_COLOURS[BELOW_STANDARD], "Chưa đạt chuẩn"),
        ]
        styles += [
            LayerStyle(layer, "Theo đơn vị", "unit_id", by_unit, fields, True,
                       f"Phương án {label}: mỗi đơn vị một màu"),
            LayerStyle(layer, "Theo đạt chuẩn", COMPLIANT_EXPRESSION, compliant, fields, False,
                       f"Phương án {label}: đơn vị đạt chuẩn hay chưa"),
        ]  # fmt: skip
    return styles


# Figures that add up over a sheet's rows: hamlets' or units' counts. A standard, a
# score or a per-option figure (the cost sheet's rows are alternatives) does not.
ADDITIVE_COLUMNS = (
    "member_count",
    "households",
    "population",
    "issue_count",
    "held_households",
    "held_persons",
    "area_km2",
)


def additive_headers(sheet: pd.DataFrame) -> list[str]:
    """The columns of ``sheet`` (Vietnamese headers) its "Tổng cộng" row sums."""
    labels = {FIELDS[c].label_vi for c in ADDITIVE_COLUMNS}
    return [c for c in sheet.columns if c in labels]


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
    """One workbook per commune: hamlets before, units after each option (each with a
    "Tổng cộng" row of its counts), part-time positions and allowance fund per option,
    and the explanation of every merge."""
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
            write_sheet(workbook, today, "Hiện trạng", totals=additive_headers(today))
            after = units_by.get(commune.commune_code, pd.DataFrame(columns=units.columns))
            for option, group in after.groupby("option_name", sort=True):
                sheet = group[[c for c in UNIT_SHEET_COLUMNS if c in group.columns]].assign(
                    is_compliant=group["is_compliant"].map({True: "Có", False: "Không"})
                )
                shown = with_vietnamese_headers(sheet)
                name = f"PA {OPTION_LABELS_VI.get(option, option)}"
                write_sheet(workbook, shown, name, totals=additive_headers(shown))
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


def map_title(before: pd.DataFrame, commune: pd.DataFrame | None = None) -> str:
    """Where a map shows: the commune (name and code) when it shows one, and the province."""
    codes = sorted(before["commune_code"].dropna().unique()) if len(before) else []
    province = province_name(str(codes[0])[:2]) if codes else ""
    place = f"tỉnh {province}" if province else ""
    if len(codes) == 1:
        named = commune is not None and "commune_name" in commune and len(commune)
        name = f"{commune['commune_name'].iloc[0]} ({codes[0]})" if named else codes[0]
        place = f"Xã {name}, {place}" if place else f"Xã {name}"
    return place[:1].upper() + place[1:]


MAX_LABELS = 80  # a province-wide map labelled hamlet by hamlet is unreadable


def unit_colours(units: gpd.GeoDataFrame) -> np.ndarray:
    """A colour per unit; units sharing a border differ (``neighbour_colouring``)."""
    return UNIT_PALETTE[neighbour_colouring(units.geometry.values) % len(UNIT_PALETTE)]


def write_commune_map(
    path: Path, commune: gpd.GeoDataFrame, before: gpd.GeoDataFrame, units: gpd.GeoDataFrame
) -> Path:
    """A printable PNG: hamlets today (coloured by compliance) beside each option's units
    (a colour per unit), labelled with names and households, with legend, scale bar,
    north arrow and a title naming the commune and province (``drawing``)."""
    from assets.exports.drawing import save_png

    figure, _ = commune_figure(commune, before, units)
    return save_png(figure, path)


def commune_figure(
    commune: gpd.GeoDataFrame, before: gpd.GeoDataFrame, units: gpd.GeoDataFrame
) -> tuple[Figure, list[Panel]]:
    """The figure ``write_commune_map`` saves, with each panel's artists."""
    from assets.exports.drawing import draw_panel, label_text, new_figure

    if not before.empty:  # the outline of every panel, projected once (``draw_panel``)
        commune = commune.to_crs(metric_crs_for(before))
    options = sorted(units["option_name"].unique())
    figure, axes = new_figure(1 + len(options), map_title(before, commune))
    status = before["compliance_status"]
    present = [k for k in COMPLIANCE_COLOURS if k in set(status)]
    panels = [
        draw_panel(
            axes[0],
            before,
            status.map(COMPLIANCE_COLOURS).fillna("#cccccc").tolist(),
            "Hiện trạng",
            labels=[
                label_text(n, h)
                for n, h in zip(before["hamlet_name"], before["households"], strict=True)
            ]
            if len(before) <= MAX_LABELS
            else [],
            outline=commune,
            legend=[(COMPLIANCE_COLOURS[k], COMPLIANCE_LABELS_VI[k]) for k in present],
        )
    ]
    names = dict(zip(before["hamlet_code"], before["hamlet_name"], strict=True))
    for ax, option in zip(axes[1:], options, strict=True):
        chosen = units[units["option_name"] == option]
        colours = unit_colours(chosen)
        shown = [names.get(u, u) for u in chosen["unit_id"]]
        legend = [
            (c, f"{n} ({u})") for c, n, u in zip(colours, shown, chosen["unit_id"], strict=True)
        ]
        panels.append(
            draw_panel(
                ax,
                chosen,
                colours.tolist(),
                f"Phương án {OPTION_LABELS_VI.get(option, option)}: {len(chosen)} đơn vị",
                labels=[label_text(n, h) for n, h in zip(shown, chosen["households"], strict=True)],
                outline=commune,
                legend=legend[:12],  # a printed legend stays readable; labels name the rest
            )
        )
    return figure, panels


def interactive_map(
    before: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    layers: Sequence[folium.Layer] = (),
    title: str | None = None,
) -> folium.Map:
    """Hamlets today and each option's units as layers (a layer switch per option, a
    colour per unit, neighbours differing), labelled with name and households, under a
    title (``map_title`` unless given) and over a legend of the standard and the
    compliance colours; openable offline (``leaflet.self_contained``). Optional columns
    add to the hover: the hamlet's ``compliance_reason``; a unit's
    ``compliance_reason`` and ``explanation`` (which rule forced the merge). Names and
    explanations reach the page as text only (``leaflet.TextTooltip``,
    ``TextLabels``, ``MapFrame``): they come from offices and residents. ``layers`` are
    further overlays, added before the layer control: folium writes the page's script
    in the order of the map's children, and a control listing a layer not yet declared
    fails (no layer control at all)."""
    import folium

    from assets.exports.leaflet import MapFrame, TextLabels, TextTooltip, self_contained

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
    today = folium.FeatureGroup(name="Hiện trạng thôn, TDP")
    hamlets = folium.GeoJson(
        shown[[*fields, "geometry"]],
        control=False,
        style_function=lambda feature: {
            "fillColor": fill.get(feature["properties"]["hamlet_code"]) or "#cccccc",
            "fillOpacity": 0.7,
            "color": "#555555",
            "weight": 1,
        },
        tooltip=TextTooltip(fields=fields, aliases=aliases, style=_TOOLTIP_STYLE),
    ).add_to(today)
    today.add_to(fmap)
    labels = folium.FeatureGroup(name="Nhãn: tên, số hộ", show=len(before) <= MAX_LABELS)
    TextLabels(hamlets, "hamlet_name", "households").add_to(labels)
    labels.add_to(fmap)
    names = dict(zip(before["hamlet_code"], before["hamlet_name"], strict=True))
    fields = ["unit_id", "unit_name", "member_hamlet_codes", "households", "population"]
    aliases = ["Đơn vị", "Tên (thôn lớn nhất)", "Gồm", "Số hộ", "Số nhân khẩu"]
    for extra, alias in (("compliance_reason", "Đạt chuẩn?"), ("explanation", "Lý do sắp xếp")):
        if extra in units.columns:
            fields, aliases = [*fields, extra], [*aliases, alias]
    option_layers = []
    for option, group in units.groupby("option_name", sort=True):
        colour = dict(zip(group["unit_id"], unit_colours(group), strict=True))
        # Leaflet's layer control shows names as HTML.
        name = f"Phương án {html.escape(OPTION_LABELS_VI.get(option, option))}"
        layer = folium.FeatureGroup(name=name, show=False)
        drawn = folium.GeoJson(
            group.assign(unit_name=group["unit_id"].map(names))[
                [*fields, "is_compliant", "geometry"]
            ],
            control=False,
            style_function=lambda feature, colour=colour: {
                "fillColor": colour.get(feature["properties"]["unit_id"], "#cccccc"),
                "fillOpacity": 0.75,
                "color": "#ffffff",
                "weight": 2,
            },
            tooltip=TextTooltip(fields=fields, aliases=aliases, style=_TOOLTIP_STYLE),
        ).add_to(layer)
        TextLabels(drawn, "unit_name", "households").add_to(layer)
        layer.add_to(fmap)
        option_layers.append(name)
    for extra_layer in layers:
        extra_layer.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    MapFrame(title or map_title(before), map_legend(before), option_layers).add_to(fmap)
    return self_contained(fmap)


def map_legend(before: pd.DataFrame) -> list[tuple[str, list[tuple[str, str]]]]:
    """The legend's sections: the standard (households per kind of unit, as the
    hamlets' compliance was judged), the compliance colours, and the options' colours."""
    sections = []
    if {"standard_households", "hamlet_kind"} <= set(before.columns):
        standard = before.dropna(subset=["standard_households"]).groupby("hamlet_kind")
        rows = []
        for kind, values in standard["standard_households"]:
            low, high = int(values.min()), int(values.max())
            span = vn_number(low) if low == high else f"{vn_number(low)}–{vn_number(high)}"
            label = HAMLET_KIND_LABELS_VI.get(kind, kind)
            rows.append(("", f"{label[:1].upper()}{label[1:]}: {span} hộ"))
        if rows:
            sections.append(("Tiêu chuẩn số hộ", rows))
    sections.append(
        ("Tình trạng", [(c, COMPLIANCE_LABELS_VI[k]) for k, c in COMPLIANCE_COLOURS.items()])
    )
    sections.append(("Phương án", [("", "Mỗi đơn vị một màu; đơn vị giáp nhau khác màu")]))
    return sections


_TOOLTIP_STYLE = "max-width: 420px; white-space: normal;"


def write_province_map(path: Path, before: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> Path:
    """An interactive HTML map: hamlets today and each option's units as layers."""
    codes = before["commune_code"].dropna()
    place = f"Tỉnh {province_name(str(codes.iloc[0])[:2])}" if len(codes) else None
    fmap = interactive_map(before, units, title=place)
    with atomic_write(path) as partial:
        fmap.save(str(partial))
    return path
