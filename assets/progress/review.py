"""What the review notebook adds about planners' constraints and residents' consultation:
a table of the commune's constraints, a constraint editor call, and map layers (locked
hamlets, pairs that must not / must merge, each hamlet's consultation on the plan in
force) over the review map of ``assets.decisions.review``.

Reads the published marts and the planners' own tables (constraints, decisions,
consultations), which the planner role may read; no personal data.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd
from shapely import LineString

from assets.decisions.commune import CommuneMarts
from assets.decisions.record import latest_decisions, read_decisions
from assets.decisions.review import commune_map
from assets.exports.files import with_vietnamese_headers
from assets.exports.leaflet import TextTooltip
from assets.planning.constraints import (
    KIND_LABELS_VI,
    LOCKED,
    MUST_MERGE,
    MUST_NOT_MERGE,
    PlannerConstraints,
    read_constraints,
)
from assets.progress.consultation import consultation_status
from assets.warehouse import Warehouse

PAIR_COLOURS = {MUST_NOT_MERGE: "#d7301f", MUST_MERGE: "#238b45"}
CONSULTATION_COLOURS = {
    "passed": "#41ab5d",
    "failed": "#d7301f",
    "pending": "#fdae61",
    "not_affected": "#d9d9d9",
}
CONSULTATION_LABELS_VI = {
    "passed": "Tán thành (đạt)",
    "failed": "Không đạt",
    "pending": "Chưa lấy ý kiến",
    "not_affected": "Không sáp nhập",
}


def commune_constraints(warehouse: Warehouse, commune: CommuneMarts) -> PlannerConstraints:
    """The constraints in force in the commune."""
    rows = read_constraints(warehouse, commune.province_code)
    return PlannerConstraints.of(rows).for_communes([commune.commune_code])


def constraints_table(warehouse: Warehouse, commune: CommuneMarts) -> pd.DataFrame:
    """The commune's constraints in force, with names, who set them, why and when."""
    rows = commune_constraints(warehouse, commune).rows
    names = commune.names()
    shown = rows.assign(
        constraint_kind=rows["constraint_kind"].map(KIND_LABELS_VI),
        hamlet_code=rows["hamlet_code"].map(
            lambda c: f"{names.get(c, c)} ({c})", na_action="ignore"
        ),
        other_hamlet_code=rows["other_hamlet_code"].map(
            lambda c: f"{names.get(c, c)} ({c})", na_action="ignore"
        ),
    )
    columns = [
        "constraint_kind",
        "hamlet_code",
        "other_hamlet_code",
        "set_by",
        "constraint_reason",
        "set_at",
    ]
    return with_vietnamese_headers(shown[columns].reset_index(drop=True))


def plan_in_force(warehouse: Warehouse, commune: CommuneMarts) -> str | None:
    """The decision in force for the commune (its latest), if any."""
    decisions = read_decisions(warehouse, commune.province_code)
    mine = latest_decisions(decisions[decisions["commune_code"] == commune.commune_code])
    return None if mine.empty else str(mine["decision_id"].iloc[0])


def consultation_table(warehouse: Warehouse, commune: CommuneMarts) -> pd.DataFrame:
    """Each hamlet of the plan in force with its consultation (empty without a plan)."""
    decision = plan_in_force(warehouse, commune)
    if decision is None:
        return pd.DataFrame(columns=["hamlet_code", "unit_id", "consultation"])
    status = consultation_status(warehouse, commune.province_code, decision)
    return status.assign(consultation=status["consultation"].map(CONSULTATION_LABELS_VI))


def review_map(warehouse: Warehouse, commune: CommuneMarts) -> folium.Map:
    """The review map with a layer of the constraints and one of the consultation on the
    plan in force (hover: who set a constraint and why; the vote of each hamlet)."""
    hamlets = commune.hamlets.to_crs(4326)
    constraints = commune_constraints(warehouse, commune)
    layers: list[folium.Layer] = [constraint_layer(hamlets, constraints, commune.names())]
    decision = plan_in_force(warehouse, commune)
    if decision is not None:
        status = consultation_status(warehouse, commune.province_code, decision)
        layers.append(consultation_layer(hamlets, status))
    return commune_map(commune, layers)


def constraint_layer(
    hamlets: gpd.GeoDataFrame, constraints: PlannerConstraints, names: pd.Series
) -> folium.FeatureGroup:
    """Locked hamlets outlined; pairs as lines between the hamlets (red: must not merge,
    green: must merge). Hover: the hamlets, who set the constraint and why, as text
    (``TextTooltip``: names and reasons are typed by planners)."""
    layer = folium.FeatureGroup(name="Ràng buộc của người lập kế hoạch", show=True)
    shapes = hamlets.set_index("hamlet_code").geometry
    points = shapes.representative_point()
    locked, pairs = [], []
    for row in constraints.rows.itertuples(index=False):
        why = f"{KIND_LABELS_VI[row.constraint_kind]} – {row.set_by}: {row.constraint_reason}"
        if row.constraint_kind == LOCKED and row.hamlet_code in points.index:
            name = names.get(row.hamlet_code, row.hamlet_code)
            locked.append({"label": f"{name}: {why}", "geometry": shapes[row.hamlet_code]})
        elif row.constraint_kind in PAIR_COLOURS and {
            row.hamlet_code,
            row.other_hamlet_code,
        } <= set(points.index):
            a, b = points[row.hamlet_code], points[row.other_hamlet_code]
            label = (
                f"{names.get(row.hamlet_code, row.hamlet_code)} – "
                f"{names.get(row.other_hamlet_code, row.other_hamlet_code)}: {why}"
            )
            pairs.append(
                {"label": label, "kind": row.constraint_kind, "geometry": LineString([a, b])}
            )
    if locked:
        folium.GeoJson(
            gpd.GeoDataFrame(locked, geometry="geometry", crs=hamlets.crs),
            style_function=lambda _: {
                "fill": False,
                "color": "#000000",
                "weight": 3,
                "dashArray": "6 4",
            },
            tooltip=TextTooltip(fields=["label"], labels=False),
        ).add_to(layer)
    if pairs:
        folium.GeoJson(
            gpd.GeoDataFrame(pairs, geometry="geometry", crs=hamlets.crs),
            style_function=lambda feature: {
                "color": PAIR_COLOURS[feature["properties"]["kind"]],
                "weight": 4,
                "dashArray": "8 6" if feature["properties"]["kind"] == MUST_NOT_MERGE else None,
            },
            tooltip=TextTooltip(fields=["label"], labels=False),
        ).add_to(layer)
    return layer


def consultation_layer(hamlets: gpd.GeoDataFrame, status: pd.DataFrame) -> folium.GeoJson:
    """Hamlets coloured by their consultation on the plan in force."""
    shown = hamlets[["hamlet_code", "hamlet_name", "geometry"]].merge(
        status, on="hamlet_code", how="inner"
    )
    shown["share"] = shown["in_favour_share"].map(lambda v: f"{v:.0%}", na_action="ignore")
    shown["state"] = shown["consultation"].map(CONSULTATION_LABELS_VI)
    colour = dict(
        zip(shown["hamlet_code"], shown["consultation"].map(CONSULTATION_COLOURS), strict=True)
    )
    fields = ["hamlet_code", "hamlet_name", "unit_id", "state", "households_consulted", "share"]
    aliases = ["Mã", "Tên", "Đơn vị", "Lấy ý kiến", "Số hộ được hỏi", "Tán thành"]
    return folium.GeoJson(
        shown[[*fields, "geometry"]].astype({"households_consulted": "string", "share": "string"}),
        name="Lấy ý kiến Nhân dân (đề án hiện hành)",
        show=False,
        style_function=lambda feature: {
            "fillColor": colour.get(feature["properties"]["hamlet_code"], "#cccccc"),
            "fillOpacity": 0.7,
            "color": "#555555",
            "weight": 1,
        },
        tooltip=TextTooltip(fields=fields, aliases=aliases),
    )
