"""Scores of each merger option: what a commune gains and gives up.

Per option and commune: units kept, compliance, households per unit, compactness,
households moved, part-time positions and the yearly allowance fund saving in VND
under the profile's multipliers, tiers and base salary (a merged unit may cross into
the higher tier). A composite score with configurable weights and the Pareto front rank
the options of each commune.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd

from assets.planning.rules import RulesProfile
from geodata.crs import STORAGE_CRS, metric_crs_for

HIGH_TIER_CATEGORIES = ("border_island",)  # allowance 8.0x whatever the size (ND 185 Art. 15)


@dataclass(frozen=True)
class ScoreWeights:
    """Weights of the composite score (each criterion scaled 0-1 within a commune)."""

    units_kept: float = 0.25
    compactness: float = 0.25
    households_moved: float = 0.25
    saving: float = 0.25


def monthly_fund_vnd(
    households: pd.Series, hamlet_kind: pd.Series, high_category: pd.Series, rules: RulesProfile,
    on: date,
) -> pd.Series:  # fmt: skip
    """Each unit's monthly allowance fund: multiplier x base salary, the higher multiplier
    for units at or above the kind's tier or in a high-tier category."""
    tier = hamlet_kind.map(rules.allowance_high_tier_households)
    high = (households >= tier) | high_category.fillna(False).astype(bool)
    multiplier = np.where(
        high, rules.allowance_multiplier_high, rules.allowance_multiplier_standard
    )
    return pd.Series(multiplier * rules.base_salary_on(on), index=households.index)


def option_scores(
    summary: pd.DataFrame,
    units: pd.DataFrame,
    assignments: pd.DataFrame,
    compliance: pd.DataFrame,
    rules: RulesProfile,
    *,
    on: date,
    weights: ScoreWeights = ScoreWeights(),
) -> pd.DataFrame:
    """One row per option and commune with every score (no publication stamp)."""
    category = compliance.set_index("hamlet_code")["exemption_category"]
    high_hamlet = category.isin(HIGH_TIER_CATEGORIES)
    # Before: every hamlet is its own unit.
    before = compliance.assign(
        fund=monthly_fund_vnd(
            compliance["households"], compliance["hamlet_kind"],
            compliance["hamlet_code"].map(high_hamlet), rules, on,
        )
    ).groupby("commune_code")["fund"].sum()  # fmt: skip
    member_high = (
        assignments.assign(high=assignments["hamlet_code"].map(high_hamlet).fillna(False))
        .groupby(["option_name", "unit_id"])["high"]
        .any()
    )
    units = units.assign(
        high=pd.MultiIndex.from_frame(units[["option_name", "unit_id"]]).map(member_high.to_dict())
    )
    units["fund"] = monthly_fund_vnd(
        units["households"], units["hamlet_kind"], units["high"], rules, on
    )
    per_unit = units.groupby(["option_name", "commune_code"]).agg(
        households_per_unit_min=("households", "min"),
        households_per_unit_median=("households", "median"),
        min_polsby_popper=("polsby_popper", "min"),
        fund_after=("fund", "sum"),
    )
    scores = summary.merge(per_unit, on=["option_name", "commune_code"], how="left")
    positions = rules.part_time_positions_per_unit
    scores["compliant_share_after"] = scores["compliant_units_after"] / scores["units_after"]
    scores["positions_before"] = scores["units_before"] * positions
    scores["positions_after"] = scores["units_after"] * positions
    scores["allowance_fund_before_vnd_per_year"] = scores["commune_code"].map(before) * 12
    scores["allowance_fund_after_vnd_per_year"] = scores["fund_after"] * 12
    scores["allowance_saving_vnd_per_year"] = (
        scores["allowance_fund_before_vnd_per_year"] - scores["allowance_fund_after_vnd_per_year"]
    )
    scores["households_per_unit_median"] = (
        scores["households_per_unit_median"].round().astype("Int64")
    )
    scores["composite_score"] = _composite(scores, weights)
    scores["is_pareto_optimal"] = _pareto(scores)
    return scores.drop(columns=["fund_after"])


def _criteria(scores: pd.DataFrame) -> pd.DataFrame:
    """The criteria, each oriented so that more is better."""
    return pd.DataFrame(
        {
            "units_kept": scores["units_after"].astype(float),
            "compactness": scores["mean_polsby_popper"].astype(float).fillna(0),
            "households_moved": -scores["households_moved"].astype(float),
            "saving": scores["allowance_saving_vnd_per_year"].astype(float),
        },
        index=scores.index,
    )


def _composite(scores: pd.DataFrame, weights: ScoreWeights) -> pd.Series:
    criteria = _criteria(scores)
    grouped = criteria.groupby(scores["commune_code"])
    low, high = grouped.transform("min"), grouped.transform("max")
    scaled = ((criteria - low) / (high - low).replace(0, np.nan)).fillna(1.0)
    w = pd.Series(vars(weights))
    return (scaled[w.index] * w).sum(axis=1) / w.sum()


def _pareto(scores: pd.DataFrame) -> pd.Series:
    """True for options no other option of the same commune beats on every criterion
    (and strictly on one)."""
    criteria = _criteria(scores)
    optimal = pd.Series(True, index=scores.index)
    for _, group in criteria.groupby(scores["commune_code"]):
        values = group.to_numpy()
        for position, index in enumerate(group.index):
            others = np.delete(values, position, axis=0)
            dominated = ((others >= values[position]).all(axis=1)
                         & (others > values[position]).any(axis=1)).any()  # fmt: skip
            optimal[index] = not dominated
    return optimal


def household_spread_km(
    assignments: pd.DataFrame, unit_geometry: gpd.GeoDataFrame, households: pd.DataFrame
) -> pd.DataFrame:
    """Per option and commune, the longest distance (km) from a household to the centre
    of its unit: how far residents would be from the new unit's heart."""
    if households.empty:
        return pd.DataFrame(columns=["option_name", "commune_code", "max_household_distance_km"])
    metric = metric_crs_for(unit_geometry)
    centres = unit_geometry.to_crs(metric).assign(
        cx=lambda g: g.geometry.centroid.x, cy=lambda g: g.geometry.centroid.y
    )[["option_name", "unit_id", "commune_code", "cx", "cy"]]
    points = gpd.GeoSeries.from_xy(households["longitude"], households["latitude"], crs=STORAGE_CRS)
    points = points.to_crs(metric)
    located = pd.DataFrame(
        {"hamlet_code": households["hamlet_code"].to_numpy(), "x": points.x, "y": points.y}
    ).dropna()
    joined = located.merge(
        assignments[["option_name", "hamlet_code", "unit_id"]], on="hamlet_code"
    ).merge(centres, on=["option_name", "unit_id"])
    joined["km"] = np.hypot(joined["x"] - joined["cx"], joined["y"] - joined["cy"]) / 1000
    return (
        joined.groupby(["option_name", "commune_code"], as_index=False)["km"]
        .max()
        .rename(columns={"km": "max_household_distance_km"})
    )


def ethnic_cohesion(assignments: pd.DataFrame, ethnicity_counts: pd.DataFrame) -> pd.DataFrame:
    """Per option and commune, the share of residents who belong to their unit's largest
    ethnic group (1 = every unit is one community). ``ethnicity_counts``: hamlet_code,
    ethnicity, persons (counts only)."""
    known = ethnicity_counts.dropna(subset=["ethnicity"])
    if known.empty:
        return pd.DataFrame(columns=["option_name", "commune_code", "ethnic_cohesion"])
    per_unit = (
        known.merge(
            assignments[["option_name", "commune_code", "hamlet_code", "unit_id"]], on="hamlet_code"
        )
        .groupby(["option_name", "commune_code", "unit_id", "ethnicity"])["persons"]
        .sum()
        .reset_index()
    )
    units = per_unit.groupby(["option_name", "commune_code", "unit_id"])["persons"].agg(
        ["max", "sum"]
    )
    communes = units.groupby(["option_name", "commune_code"]).sum()
    return (communes["max"] / communes["sum"]).rename("ethnic_cohesion").reset_index()
