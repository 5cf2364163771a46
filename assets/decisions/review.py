"""What the merger-review notebook shows, as functions (the notebook stays short and the
logic is tested): a commune's map before and after each option, the scores with the
Pareto front, the explanation of every merge, and a what-if re-run of the engine.

All of it from the published marts (``CommuneMarts``) and the engine's own API; the maps
are the exports' maps (``assets.exports.files``), drawn for one commune.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import folium
import geopandas as gpd
import pandas as pd
import shapely
from pandas.io.formats.style import Styler

from assets.decisions.approved import staffing_table
from assets.decisions.commune import CommuneMarts, DecisionError
from assets.exports.files import (
    OPTION_LABELS_VI,
    interactive_map,
    with_vietnamese_headers,
    write_commune_map,
)
from assets.exports.notebook_tables import planner_table
from assets.marts.build import PublishStamp
from assets.planning.assembly import PlanResult
from assets.planning.compliance import hamlet_compliance
from assets.planning.option_kinds import OPTIONS
from assets.planning.options import plan_options
from assets.planning.rules import RulesProfile
from assets.planning.scores import option_scores
from assets.warehouse import Warehouse

SCORE_COLUMNS = (
    "option_name",
    "units_before",
    "units_after",
    "compliant_units_after",
    "households_per_unit_min",
    "households_per_unit_median",
    "mean_polsby_popper",
    "households_moved",
    "max_household_distance_km",
    "positions_before",
    "positions_after",
    "allowance_saving_vnd_per_year",
    "composite_score",
    "is_pareto_optimal",
    "optimality_status",
)
PARETO_STYLE = "background-color: #e5f5e0; font-weight: bold"
PUBLISHED_VI = "đã công bố"  # scores of the published options, beside a re-run or an edit
WHAT_IF_VI = "thử lại"


def units_with_reasons(commune: CommuneMarts) -> gpd.GeoDataFrame:
    """Each option's units with the explanation of the merge (which rule forced it),
    taken from the unit's own hamlet: every member carries the unit's whole story."""
    lead = commune.assignments[commune.assignments["hamlet_code"] == commune.assignments["unit_id"]]
    return commune.units.merge(
        lead[["option_name", "unit_id", "explanation"]], on=["option_name", "unit_id"], how="left"
    )


def commune_map(commune: CommuneMarts, layers: Sequence[folium.Layer] = ()) -> folium.Map:
    """Interactive map: hamlets today, and each option's units as a layer to switch on;
    ``layers``: further overlays (``interactive_map``)."""
    return interactive_map(commune.hamlets, units_with_reasons(commune), layers)


def commune_png(commune: CommuneMarts, folder: Path) -> Path:
    """The static map (PNG) beside the interactive one, for print and slow machines."""
    outline = outlines(commune.hamlets.assign(commune_code=commune.commune_code))
    path = Path(folder) / f"{commune.commune_code}.png"
    return write_commune_map(path, outline, commune.hamlets, commune.units)


def outlines(hamlets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each commune's outline from its hamlets (the marts carry no commune boundary),
    closing the hair-thin gaps boundary cleaning may leave between hamlets (~1 m)."""
    close = 1e-5  # degrees
    shapes = [
        shapely.union_all(shapely.buffer(group.geometry.values, close)).buffer(-close)
        for _, group in hamlets.groupby("commune_code", sort=True)
    ]
    codes = sorted(hamlets["commune_code"].unique())
    return gpd.GeoDataFrame({"commune_code": codes}, geometry=shapes, crs=hamlets.crs)


def scores_table(options: pd.DataFrame) -> pd.DataFrame:
    """The options' scores, one row per option, in the engine's order."""
    rank = {name: k for k, name in enumerate(OPTIONS)}
    table = options[[c for c in SCORE_COLUMNS if c in options.columns]]
    return table.sort_values("option_name", key=lambda s: s.map(rank)).reset_index(drop=True)


def styled_scores(options: pd.DataFrame) -> Styler:
    """Scores with Vietnamese headers and the Pareto front highlighted."""
    table = scores_table(options)
    pareto = table["is_pareto_optimal"].astype(bool).to_numpy()
    shown = planner_table(
        table.assign(option_name=table["option_name"].map(lambda o: OPTION_LABELS_VI.get(o, o)))
    )
    return shown.apply(lambda row: [PARETO_STYLE if pareto[row.name] else ""] * len(row), axis=1)


def merge_explanations(commune: CommuneMarts, option_name: str | None = None) -> pd.DataFrame:
    """Why each hamlet goes where it goes, merged hamlets first."""
    names = commune.names()
    rows = commune.assignments
    if option_name is not None:
        rows = rows[rows["option_name"] == option_name]
    table = pd.DataFrame(
        {
            "option_name": rows["option_name"].map(lambda o: OPTION_LABELS_VI.get(o, o)),
            "hamlet_code": rows["hamlet_code"],
            "hamlet_name": rows["hamlet_code"].map(names),
            "unit_id": rows["unit_id"],
            "is_merged": rows["is_merged"],
            "explanation": rows["explanation"],
        }
    )
    rank = rows["option_name"].map({name: k for k, name in enumerate(OPTIONS)})
    table = table.assign(_rank=rank).sort_values(
        ["is_merged", "_rank", "unit_id", "hamlet_code"], ascending=[False, True, True, True]
    )
    return with_vietnamese_headers(table.drop(columns="_rank").reset_index(drop=True))


def what_if(
    commune: CommuneMarts,
    rules: RulesProfile,
    *,
    consolidated_target: Mapping[str, int] | None = None,
    exemptions: Mapping[str, str | None] | None = None,
    on: date | None = None,
    time_limit_s: float = 2.0,
    households: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The engine re-run for this commune with a changed consolidated target (households
    per kind) or exemptions set (hamlet_code -> category key, None to remove), through
    the same API the pipeline uses; scores beside the published ones, scored as the
    marts score them (``option_scores``). The distance score needs the household points
    (hamlet_code, longitude, latitude), which the planners' role cannot read: without
    ``households`` the what-if rows show it empty, beside the published figure."""
    hamlets = pd.DataFrame(commune.hamlets).copy()
    for code, category in (exemptions or {}).items():
        if code not in set(hamlets["hamlet_code"]):
            raise KeyError(f"hamlet {code} is not in commune {commune.commune_code}")
        hamlets.loc[hamlets["hamlet_code"] == code, "exemption_category"] = category
    compliance = hamlet_compliance(
        hamlets, hamlets[["hamlet_code", "households", "population"]], commune.province_code, rules
    )
    adjacency = commune.adjacency()
    result = plan_options(
        compliance,
        adjacency,
        rules,
        names=commune.names(),
        measures=commune.measures(),
        consolidated_target=consolidated_target,
        time_limit_s_per_commune=time_limit_s,
    )
    scores = option_scores(
        result.summary,
        result.units,
        result.assignments,
        compliance,
        rules,
        on=on or date.today(),
        hamlets=commune.hamlets,
        households=households,
    )
    what = scores_table(scores).assign(source=WHAT_IF_VI)
    published = scores_table(commune.options).assign(source=PUBLISHED_VI)
    keep = [c for c in what.columns if c in published.columns]
    return pd.concat([published[keep], what[keep]], ignore_index=True)


def first_commune_with_merger(warehouse: Warehouse, province_code: str) -> str:
    """A sensible commune to open first: the first whose compliant option merges."""
    found = warehouse.query(
        "SELECT commune_code, units_before - units_after AS merged "
        "FROM marts.merger_options_current WHERE province_code = ? AND option_name = ? "
        "ORDER BY merged DESC, commune_code",
        [province_code, "compliant"],
    )
    if found.empty:
        raise DecisionError(f"province {province_code} has no published options yet")
    return str(found["commune_code"].iloc[0])


def staffing_preview(commune: CommuneMarts, plan: PlanResult, rules: RulesProfile) -> pd.DataFrame:
    """The staffing table a plan would publish once decided (positions kept and ending,
    allowance fund), with Vietnamese headers."""
    stamp = PublishStamp(commune.province_code, rules.name, "xem-truoc", datetime.now(UTC))
    units = plan.units.assign(decision_id="(xem trước)")
    table = staffing_table(units, commune.compliance(), rules, stamp)
    return with_vietnamese_headers(
        table.drop(
            columns=["province_code", "decision_id", "rules_profile", "run_id", "published_at"]
        )
    )
