"""What the province-overview notebook shows: compliance across the province, the
options' totals, units and savings per commune, and decisions so far (the directives ask
for weekly progress reports). Published marts and planning.decisions only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import folium
import geopandas as gpd
import pandas as pd

from assets.decisions.commune import as_geo, select_all
from assets.decisions.record import latest_decisions, read_decisions
from assets.decisions.review import outlines
from assets.exports.files import (
    COMPLIANCE_LABELS_VI,
    OPTION_LABELS_VI,
    interactive_map,
    write_commune_map,
)
from assets.warehouse import Warehouse


@dataclass(frozen=True)
class ProvinceOverview:
    province_code: str
    hamlets: gpd.GeoDataFrame  # marts.hamlets_current of the province
    communes: pd.DataFrame  # marts.commune_summary_current
    totals: pd.DataFrame  # marts.province_summary_current
    options: pd.DataFrame  # marts.merger_options_current
    decisions: pd.DataFrame  # planning.decisions, newest first


def load_province(warehouse: Warehouse, province_code: str) -> ProvinceOverview:
    def current(mart: str, geometry: bool = False) -> pd.DataFrame:
        name = f"marts.{mart}_current"
        select = select_all(warehouse, name) if geometry else f"SELECT * FROM {name}"
        return con.query_df(f"{select} WHERE province_code = ?", [province_code])

    with warehouse.connect(read_only=warehouse.kind == "duckdb") as con:
        hamlets = as_geo(current("hamlets", geometry=True))
        communes = current("commune_summary")
        totals = current("province_summary")
        options = current("merger_options")
    return ProvinceOverview(
        province_code=province_code,
        hamlets=hamlets,
        communes=communes,
        totals=totals,
        options=options,
        decisions=read_decisions(warehouse, province_code),
    )


def compliance_counts(overview: ProvinceOverview) -> pd.DataFrame:
    """Hamlets per commune and compliance status (Vietnamese labels)."""
    counts = pd.crosstab(
        overview.hamlets["commune_code"],
        overview.hamlets["compliance_status"].map(COMPLIANCE_LABELS_VI),
        margins=True,
        margins_name="Tổng",
    )
    return counts.rename_axis(index="Mã xã", columns="Tình trạng")


def compliance_png(overview: ProvinceOverview, folder: Path) -> Path:
    """A static map of the province's hamlets coloured by compliance."""
    no_options = overview.hamlets.iloc[0:0].assign(option_name=pd.Series(dtype="string"))
    path = Path(folder) / f"tinh_{overview.province_code}_dat_chuan.png"
    return write_commune_map(path, outlines(overview.hamlets), overview.hamlets, no_options)


def units_and_savings(overview: ProvinceOverview) -> pd.DataFrame:
    """Per commune: units before, and units after and yearly saving for each option."""
    options = overview.options
    wide = options.pivot_table(
        index="commune_code",
        columns="option_name",
        values=["units_after", "allowance_saving_vnd_per_year"],
        aggfunc="sum",
    )
    wide.columns = [
        f"{'Số đơn vị sau' if v == 'units_after' else 'Tiết kiệm (đồng/năm)'} – "
        f"{OPTION_LABELS_VI.get(o, o)}"
        for v, o in wide.columns
    ]
    before = options.groupby("commune_code")["units_before"].first().rename("Số đơn vị trước")
    names = overview.communes.set_index("commune_code")["commune_name"].rename("Tên xã")
    return pd.concat([names, before, wide], axis=1).rename_axis("Mã xã")


def decision_progress(overview: ProvinceOverview) -> pd.DataFrame:
    """Every commune with the decision in force, or none yet."""
    latest = latest_decisions(overview.decisions).set_index("commune_code")
    table = overview.communes.set_index("commune_code")[["commune_name"]].join(
        latest[["option_name", "decided_by", "decided_at", "decision_id"]], how="left"
    )
    table["decision_status"] = (
        table["decision_id"].notna().map({True: "Đã quyết định", False: "Chưa"})
    )
    table["option_name"] = table["option_name"].map(
        lambda o: OPTION_LABELS_VI.get(o, "Điều chỉnh" if o == "manual" else o), na_action="ignore"
    )
    return table.reset_index()


def progress_summary(overview: ProvinceOverview) -> dict[str, int]:
    progress = decision_progress(overview)
    decided = int(progress["decision_id"].notna().sum())
    return {"communes": len(progress), "decided": decided, "pending": len(progress) - decided}


def progress_text(overview: ProvinceOverview) -> str:
    """The summary as the weekly report says it."""
    counts = progress_summary(overview)
    return (
        f"Số xã: {counts['communes']}; đã có quyết định: {counts['decided']}; "
        f"chưa có quyết định: {counts['pending']}"
    )


def compliance_map(overview: ProvinceOverview) -> folium.Map:
    """The province's hamlets on the interactive map, coloured by compliance."""
    no_options = overview.hamlets.iloc[0:0].assign(option_name=pd.Series(dtype="string"))
    return interactive_map(overview.hamlets, no_options)
