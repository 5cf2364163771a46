"""The published marts: aggregates planners may see, computed from planning tables.

No function here takes persons: marts are built from hamlet-level counts and issue
counts only, so a name, citizen ID or birth date has no path into them (and the
contracts refuse personal columns outside the restricted layers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import pandas as pd

from assets.planning.compliance import (
    AWAITING,
    BELOW_FLOOR,
    BELOW_STANDARD,
    EXEMPT,
    region_by_commune,
)
from expectations.schemas import TABLES
from geodata.crs import STORAGE_CRS, area_km2


@dataclass(frozen=True)
class PublishStamp:
    """What every published row carries: which run, under which rules, when."""

    province_code: str
    rules_profile: str
    run_id: str
    published_at: datetime

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        out = df.copy()
        out["province_code"] = self.province_code
        out["rules_profile"] = self.rules_profile
        out["run_id"] = self.run_id
        out["published_at"] = pd.Timestamp(self.published_at).tz_convert("UTC")
        return out


def merged_units(
    units: pd.DataFrame,
    assignments: pd.DataFrame,
    hamlets: gpd.GeoDataFrame,
    compliance: pd.DataFrame,
    stamp: PublishStamp,
) -> gpd.GeoDataFrame:
    """The planned units with their population and dissolved geometry."""
    members = assignments[["option_name", "unit_id", "hamlet_code"]]
    population = (
        members.merge(compliance[["hamlet_code", "population"]], on="hamlet_code", how="left")
        .groupby(["option_name", "unit_id"], as_index=False)["population"]
        .sum()
    )
    geometry = (
        hamlets[["hamlet_code", "geometry"]]
        .merge(members, on="hamlet_code")
        .dissolve(by=["option_name", "unit_id"], as_index=False)[
            ["option_name", "unit_id", "geometry"]
        ]
    )
    keys = ["option_name", "unit_id"]
    frame = units.merge(population, on=keys, how="left", validate="one_to_one").merge(
        geometry, on=keys, validate="one_to_one"
    )
    gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs=STORAGE_CRS)
    gdf["area_km2"] = area_km2(gdf).round(4)
    gdf = stamp.apply(gdf.drop(columns=["target_households", "rules_profile"]))
    return gpd.GeoDataFrame(
        TABLES["marts.merged_units"].enforce(gdf), geometry="geometry", crs=STORAGE_CRS
    )


def merger_options(scores: pd.DataFrame, stamp: PublishStamp) -> pd.DataFrame:
    """Per option and commune, every score (see ``assets.planning.scores``)."""
    columns = [c for c in TABLES["marts.merger_options"].columns if c in scores.columns]
    return TABLES["marts.merger_options"].enforce(stamp.apply(scores[columns]))


def province_summary(scores: pd.DataFrame, stamp: PublishStamp) -> pd.DataFrame:
    """Per option, the province's totals."""
    totals = scores.groupby("option_name", as_index=False).agg(
        communes=("commune_code", "size"),
        optimal_communes=("optimality_status", lambda s: int((s == "optimal").sum())),
        units_before=("units_before", "sum"),
        units_after=("units_after", "sum"),
        compliant_units_after=("compliant_units_after", "sum"),
        noncompliant_units_after=("noncompliant_units_after", "sum"),
        households_moved=("households_moved", "sum"),
        positions_before=("positions_before", "sum"),
        positions_after=("positions_after", "sum"),
        allowance_fund_before_vnd_per_year=("allowance_fund_before_vnd_per_year", "sum"),
        allowance_fund_after_vnd_per_year=("allowance_fund_after_vnd_per_year", "sum"),
        allowance_saving_vnd_per_year=("allowance_saving_vnd_per_year", "sum"),
    )
    return TABLES["marts.province_summary"].enforce(stamp.apply(totals))


def _with_held(df: pd.DataFrame, held: pd.DataFrame | None, key: str) -> pd.DataFrame:
    """``df`` with its place's held households and persons (0 when none are held)."""
    columns = ["held_households", "held_persons"]
    if held is None:
        held = pd.DataFrame(columns=[key, *columns])
    out = df.merge(held[[key, *columns]], on=key, how="left")
    out[columns] = out[columns].fillna(0).astype("int64")
    return out


def commune_summary(
    communes: pd.DataFrame,
    compliance: pd.DataFrame,
    stamp: PublishStamp,
    held: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per commune, before any merger: hamlets, households, and how many fall short;
    with the records held in quarantine (``held``, per commune_code), which the counts
    do not yet include."""
    status = compliance["compliance_status"]
    counts = (
        compliance.assign(
            below=status.isin([BELOW_STANDARD, BELOW_FLOOR, AWAITING]),
            exempt=status.eq(EXEMPT),
            awaiting=status.eq(AWAITING),
        )
        .groupby("commune_code")
        .agg(
            hamlets=("hamlet_code", "size"),
            households=("households", "sum"),
            population=("population", "sum"),
            below_standard_hamlets=("below", "sum"),
            exempt_hamlets=("exempt", "sum"),
            awaiting_guidance_hamlets=("awaiting", "sum"),
        )
    )
    df = pd.DataFrame(communes[["commune_code", "commune_name", "unit_kind"]]).merge(
        counts, left_on="commune_code", right_index=True, how="left"
    )
    # The region whose standard compliance applied (a commune's own where listed).
    region = region_by_commune(compliance)
    df.insert(3, "region", df["commune_code"].astype("string").map(region))
    count_columns = ["hamlets", "households", "population"]
    count_columns += ["below_standard_hamlets", "exempt_hamlets", "awaiting_guidance_hamlets"]
    df[count_columns] = df[count_columns].fillna(0)
    df = _with_held(df, held, "commune_code")
    return TABLES["marts.commune_summary"].enforce(stamp.apply(df))


def validation_summary(record_issues: pd.DataFrame, stamp: PublishStamp) -> pd.DataFrame:
    """Per commune, table, rule and severity: how many issues (counts only)."""
    keys = ["commune_code", "table_name", "rule", "severity"]
    df = (
        record_issues.assign(commune_code=record_issues["commune_code"].fillna("unknown"))
        .groupby(keys, dropna=False)
        .size()
        .rename("issue_count")
        .reset_index()
    )
    return TABLES["marts.validation_summary"].enforce(stamp.apply(df))


def hamlets_today(
    hamlets: gpd.GeoDataFrame,
    compliance: pd.DataFrame,
    issues: pd.DataFrame,
    stamp: PublishStamp,
    held: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Each hamlet as it is, with its counts and compliance: what planners compare the
    options against, and all a notebook needs to re-plan a commune from the marts; with
    the records held in quarantine (``held``, per hamlet_code), not yet in its counts."""
    counts = issues.dropna(subset=["hamlet_code"]).groupby("hamlet_code").size()
    frame = hamlets[["hamlet_code", "name_prefix", "hamlet_name", "geometry"]].merge(
        compliance.drop(columns=["rules_profile"]), on="hamlet_code", validate="one_to_one"
    )
    frame["issue_count"] = frame["hamlet_code"].map(counts).fillna(0).astype("int64")
    frame = _with_held(frame, held, "hamlet_code")
    gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs=STORAGE_CRS)
    gdf["area_km2"] = area_km2(gdf).round(4)
    return gpd.GeoDataFrame(
        TABLES["marts.hamlets"].enforce(stamp.apply(gdf)), geometry="geometry", crs=STORAGE_CRS
    )


def option_assignments(assignments: pd.DataFrame, stamp: PublishStamp) -> pd.DataFrame:
    """Each option's hamlet-to-unit assignment with the explanation of every merge."""
    return TABLES["marts.merger_assignments"].enforce(
        stamp.apply(assignments.drop(columns=["rules_profile"]))
    )
