"""Scores of a plan: what a commune gains and gives up, in one registry.

Every path that scores a plan -- the engine's options as the marts publish them, the
review notebook's what-if re-run and a planner's hand-edited plan -- calls
``option_scores``, so the same plan gets the same figures whichever way it came.

The measures per option and commune: units kept, compliance, households per unit,
compactness, households moved, part-time positions, the yearly allowance fund saving in
VND under the profile's multipliers, tiers and base salary (``RulesProfile.monthly_fund_vnd``:
size and category tiers; a merged unit may cross into the higher tier, and keeps any
category of its members) and, when household points and hamlet boundaries are given, the
longest distance from a household to its unit's centre.

``SCORES`` lists each score once: name, Vietnamese label, direction, unit, the measure
it reads and how it is brought to 0-1. The composite is their weighted mean, the weights
read from the rules profile (``score_weights``; ``DEFAULT_WEIGHTS`` otherwise). Each
score is normalised against fixed references of the commune -- its current state (every
hamlet its own unit) and the legal standard -- never against the other options of the
same call, so any two plans of a commune, engine-made or hand-edited, compare:

- ``units_kept`` = units after / units today (1: nothing merges);
- ``compliance`` = units meeting the legal standard after / units after;
- ``compactness`` = mean Polsby-Popper of the units (1: a circle);
- ``households_kept`` = 1 - households moved / households of the commune;
- ``allowance_saving`` = allowance fund saved / the fund today, clipped to 0-1;
- ``household_distance`` = the longest household-to-centre distance today / after,
  capped at 1 (1: no one farther from their unit's centre than today's worst case);
- ``ethnic_cohesion`` = share of residents in their unit's largest ethnic group.

composite = sum(w_i * s_i) / sum(w_i) over the scores with a weight and a value.
The Pareto front compares the options of a commune on the weighted scores' measures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from assets.planning.rules import RulesError, RulesProfile
from geodata.crs import STORAGE_CRS, metric_crs_for

HIGHER, LOWER = "higher", "lower"


@dataclass(frozen=True)
class Score:
    """One score: the measure it reads (a column of the options) and its 0-1 form."""

    name: str
    label_vi: str
    measure: str
    better: str  # HIGHER or LOWER: which way the measure improves
    unit: str
    normalise: Callable[[pd.DataFrame], pd.Series]  # 0-1 against fixed references


def _share(part: pd.Series, whole: pd.Series) -> pd.Series:
    return (part.astype(float) / whole.astype(float).replace(0, np.nan)).clip(0, 1)


SCORES: tuple[Score, ...] = (
    Score("units_kept", "Số đơn vị giữ lại", "units_after", HIGHER, "đơn vị",
          lambda s: _share(s["units_after"], s["units_before"])),
    Score("compliance", "Tỷ lệ đạt chuẩn sau", "compliant_share_after", HIGHER, "tỷ lệ",
          lambda s: s["compliant_share_after"].astype(float)),
    Score("compactness", "Độ gọn trung bình", "mean_polsby_popper", HIGHER, "Polsby-Popper",
          lambda s: s["mean_polsby_popper"].astype(float).fillna(0).clip(0, 1)),
    Score("households_kept", "Số hộ phải chuyển", "households_moved", LOWER, "hộ",
          lambda s: 1 - _share(s["households_moved"], s["households_today"])),
    Score("allowance_saving", "Tiết kiệm phụ cấp", "allowance_saving_vnd_per_year", HIGHER,
          "đồng/năm",
          lambda s: _share(s["allowance_saving_vnd_per_year"],
                           s["allowance_fund_before_vnd_per_year"])),
    Score("household_distance", "Khoảng cách xa nhất từ hộ đến trung tâm đơn vị",
          "max_household_distance_km", LOWER, "km",
          lambda s: _share(s["household_distance_today_km"], s["max_household_distance_km"])
          .where(s["max_household_distance_km"] > 0, 1.0)),
    Score("ethnic_cohesion", "Mức đồng nhất dân tộc", "ethnic_cohesion", HIGHER, "tỷ lệ",
          lambda s: s["ethnic_cohesion"].astype(float)),
)  # fmt: skip
SCORES_BY_NAME = {score.name: score for score in SCORES}
DEFAULT_WEIGHTS = {
    "units_kept": 0.25,
    "compactness": 0.25,
    "households_kept": 0.25,
    "allowance_saving": 0.25,
}


def score_weights(rules: RulesProfile) -> dict[str, float]:
    """The composite's weights from the profile (``score_weights``), every name checked."""
    weights = dict(rules.score_weights or DEFAULT_WEIGHTS)
    unknown = sorted(set(weights) - set(SCORES_BY_NAME))
    if unknown:
        raise RulesError(
            f"{rules.source}: profiles.{rules.name}.score_weights: unknown score(s) "
            f"{', '.join(unknown)}; known: {', '.join(SCORES_BY_NAME)}"
        )
    return {name: w for name, w in weights.items() if w > 0}


def unit_categories(assignments: pd.DataFrame, hamlet_categories: pd.Series) -> pd.Series:
    """Allowance categories of each (option_name, unit_id): the union of its members'."""
    members = assignments["hamlet_code"].map(hamlet_categories)
    members = members.map(lambda cats: cats if isinstance(cats, frozenset) else frozenset())
    return members.groupby([assignments["option_name"], assignments["unit_id"]]).agg(
        lambda sets: frozenset().union(*sets)
    )


def option_scores(
    summary: pd.DataFrame,
    units: pd.DataFrame,
    assignments: pd.DataFrame,
    compliance: pd.DataFrame,
    rules: RulesProfile,
    *,
    on: date,
    hamlets: gpd.GeoDataFrame | None = None,
    households: pd.DataFrame | None = None,
    ethnicity_counts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per option and commune with every score (no publication stamp).

    ``hamlets`` (hamlet_code, commune_code, boundary) and ``households`` (hamlet_code,
    longitude, latitude: points only) give the distance score; ``ethnicity_counts``
    (hamlet_code, ethnicity, persons) the cohesion score. Without them those columns are
    present and empty, never dropped."""
    categories = rules.allowance_categories(
        compliance["hamlet_code"], compliance["commune_code"], compliance["exemption_category"]
    )
    # Before: every hamlet is its own unit.
    before = (
        compliance.assign(fund=rules.hamlet_funds_vnd(compliance, on))
        .groupby("commune_code")["fund"]
        .sum()
    )
    categories.index = compliance["hamlet_code"]
    of_unit = unit_categories(assignments, categories)
    units = units.assign(
        categories=pd.MultiIndex.from_frame(units[["option_name", "unit_id"]]).map(
            of_unit.to_dict()
        )
    )
    units["fund"] = rules.monthly_fund_vnd(
        units["households"], units["hamlet_kind"], units["categories"], on
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
    references = ["households_today", "household_distance_today_km"]
    scores["households_today"] = scores["commune_code"].map(
        compliance.groupby("commune_code")["households"].sum()
    )
    scores = scores.merge(
        _spread(assignments, hamlets, households), on=["option_name", "commune_code"], how="left"
    )
    cohesion = (
        ethnic_cohesion(assignments, ethnicity_counts)
        if ethnicity_counts is not None
        else pd.DataFrame(columns=["option_name", "commune_code", "ethnic_cohesion"])
    )
    scores = scores.merge(cohesion, on=["option_name", "commune_code"], how="left")
    weights = score_weights(rules)
    scores["composite_score"] = _composite(scores, weights)
    scores["is_pareto_optimal"] = _pareto(scores, weights)
    return scores.drop(columns=["fund_after", *references])


def _spread(
    assignments: pd.DataFrame,
    hamlets: gpd.GeoDataFrame | None,
    households: pd.DataFrame | None,
) -> pd.DataFrame:
    """Per option and commune, the distance score's measure and its reference today."""
    columns = ["option_name", "commune_code", "max_household_distance_km"]
    if hamlets is None or households is None:
        return pd.DataFrame(columns=[*columns, "household_distance_today_km"])
    shapes = hamlets[["hamlet_code", "geometry"]]
    members = assignments[["option_name", "unit_id", "hamlet_code", "commune_code"]]
    units = shapes.merge(members, on="hamlet_code").dissolve(
        by=["option_name", "unit_id"], as_index=False, aggfunc="first"
    )
    after = household_spread_km(members, units, households)
    alone = hamlets[["hamlet_code", "commune_code", "geometry"]].assign(
        option_name="today", unit_id=hamlets["hamlet_code"]
    )
    today = household_spread_km(alone.drop(columns="geometry"), alone, households)
    today = today.set_index("commune_code")["max_household_distance_km"]
    return after[columns].assign(household_distance_today_km=after["commune_code"].map(today))


def normalised_scores(scores: pd.DataFrame, names: list[str] | None = None) -> pd.DataFrame:
    """Each score (all, or ``names``) brought to 0-1 against its fixed references."""
    chosen = names if names is not None else list(SCORES_BY_NAME)
    return pd.DataFrame(
        {name: SCORES_BY_NAME[name].normalise(scores) for name in chosen}, index=scores.index
    ).astype(float)


def _composite(scores: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """Weighted mean of the normalised scores that have a value."""
    values = normalised_scores(scores, list(weights))
    w = pd.Series(weights, dtype=float)
    weight_present = values.notna().mul(w).sum(axis=1)
    return values.fillna(0).mul(w).sum(axis=1) / weight_present.replace(0, np.nan)


def _criteria(scores: pd.DataFrame, weights: Mapping[str, float]) -> pd.DataFrame:
    """The weighted scores' measures, each oriented so that more is better."""
    oriented = {}
    for name in weights:
        score = SCORES_BY_NAME[name]
        value = scores[score.measure].astype(float)
        value = value.fillna(0) if name == "compactness" else value
        oriented[name] = (value if score.better == HIGHER else -value).fillna(-np.inf)
    return pd.DataFrame(oriented, index=scores.index)


def _pareto(scores: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """True for options no other option of the same commune beats on every criterion
    (and strictly on one)."""
    criteria = _criteria(scores, weights)
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
    # Coordinate arrays through pyproj at once (what ``GeoSeries.to_crs`` computes,
    # without a point object per household).
    placed = households.dropna(subset=["hamlet_code", "longitude", "latitude"])
    x, y = Transformer.from_crs(STORAGE_CRS, metric, always_xy=True).transform(
        placed["longitude"].to_numpy(dtype=float), placed["latitude"].to_numpy(dtype=float)
    )
    located = pd.DataFrame({"hamlet_code": placed["hamlet_code"].to_numpy(), "x": x, "y": y})
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
