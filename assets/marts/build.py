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
    assignments: pd.DataFrame,
    hamlets: gpd.GeoDataFrame,
    compliance: pd.DataFrame,
    stamp: PublishStamp,
) -> gpd.GeoDataFrame:
    """One row per unit of each option: members, counts, compliance and dissolved geometry."""
    sizes = compliance[
        [
            "hamlet_code",
            "hamlet_kind",
            "households",
            "population",
            "standard_households",
            "compliance_status",
        ]
    ]
    members = assignments[["option_name", "commune_code", "hamlet_code", "unit_id"]].merge(
        sizes,
        on="hamlet_code",
        how="left",
        validate="many_to_one",
    )
    members = members.sort_values(["option_name", "unit_id", "hamlet_code"])
    units = members.groupby(["option_name", "unit_id"], as_index=False, sort=True).agg(
        commune_code=("commune_code", "first"),
        hamlet_kind=("hamlet_kind", "first"),
        member_hamlet_codes=("hamlet_code", ",".join),
        member_count=("hamlet_code", "size"),
        households=("households", "sum"),
        population=("population", "sum"),
        standard_households=("standard_households", "first"),
        single_status=("compliance_status", "first"),
    )
    exempt = units["member_count"].eq(1) & units["single_status"].eq("exempt")
    reaches = units["households"] >= units["standard_households"]
    units["is_compliant"] = reaches | exempt
    units["compliance_reason"] = (
        units["households"].astype(str)
        + " hộ "
        + reaches.map({True: "≥", False: "<"})
        + " tiêu chuẩn "
        + units["standard_households"].astype(str)
        + " hộ"
    ).where(~exempt, "Thuộc diện đặc thù (Điều 10.3): không bắt buộc đạt chuẩn")
    geometry = (
        hamlets[["hamlet_code", "geometry"]]
        .merge(members[["option_name", "unit_id", "hamlet_code"]], on="hamlet_code")
        .dissolve(by=["option_name", "unit_id"], as_index=False)[
            ["option_name", "unit_id", "geometry"]
        ]
    )
    gdf = gpd.GeoDataFrame(
        units.merge(geometry, on=["option_name", "unit_id"], validate="one_to_one"),
        geometry="geometry",
        crs=STORAGE_CRS,
    )
    gdf["area_km2"] = area_km2(gdf).round(4)
    gdf = stamp.apply(gdf.drop(columns=["single_status"]))
    return gpd.GeoDataFrame(
        TABLES["marts.merged_units"].enforce(gdf), geometry="geometry", crs=STORAGE_CRS
    )


def merger_options(
    assignments: pd.DataFrame, units: pd.DataFrame, compliance: pd.DataFrame, stamp: PublishStamp
) -> pd.DataFrame:
    """Per option and commune: units before and after, compliance, households moved."""
    moved = assignments.merge(compliance[["hamlet_code", "households"]], on="hamlet_code")
    moved["moved"] = moved["households"].where(moved["hamlet_code"] != moved["unit_id"], 0)
    before = assignments.groupby(["option_name", "commune_code"]).size().rename("units_before")
    after = units.groupby(["option_name", "commune_code"]).agg(
        units_after=("unit_id", "size"),
        compliant_units_after=("is_compliant", "sum"),
    )
    households_moved = moved.groupby(["option_name", "commune_code"])["moved"].sum()
    df = pd.concat([before, after, households_moved.rename("households_moved")], axis=1)
    df = df.reset_index()
    df["noncompliant_units_after"] = df["units_after"] - df["compliant_units_after"]
    return TABLES["marts.merger_options"].enforce(stamp.apply(df))


def commune_summary(
    communes: pd.DataFrame, compliance: pd.DataFrame, stamp: PublishStamp
) -> pd.DataFrame:
    """Per commune, before any merger: hamlets, households, and how many fall short."""
    status = compliance["compliance_status"]
    counts = (
        compliance.assign(
            below=status.isin(["below_standard", "below_mandatory_floor"]),
            exempt=status.eq("exempt"),
        )
        .groupby("commune_code")
        .agg(
            hamlets=("hamlet_code", "size"),
            households=("households", "sum"),
            population=("population", "sum"),
            below_standard_hamlets=("below", "sum"),
            exempt_hamlets=("exempt", "sum"),
        )
    )
    df = pd.DataFrame(communes[["commune_code", "commune_name", "unit_kind"]]).merge(
        counts, left_on="commune_code", right_index=True, how="left"
    )
    count_columns = ["hamlets", "households", "population"]
    count_columns += ["below_standard_hamlets", "exempt_hamlets"]
    df[count_columns] = df[count_columns].fillna(0)
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
