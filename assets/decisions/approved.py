"""The approved plan of each commune and its staffing table, from the commune People's
Council's resolution on a planners' decision.

The council decides (ND 185/2026 Art. 9): a plan is approved only once its resolution
(number, date) is recorded (``planning.council_approvals``); a drafted plan without one
is not, and a plan drafted after a resolution does not replace the approved one until
the council resolves on it too. Per commune the latest resolved decision is in force.
Its stored assignment is re-planned with today's counts (``plan_from_assignment``: the
engine's rules and unit figures), so the approved units always show current households;
a decision whose hamlets no longer fit (hamlet codes changed since) is reported as stale
instead of published.

The staffing table is what a commune's plan (đề án) states about part-time staff: per
new unit, the positions it keeps (the profile's positions per unit, ND 185/2026 Art. 14)
and those of the merged units that end, with the monthly allowance fund before and after
(ND 185/2026 Art. 15, computed as for the options' scores).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from assets.marts.build import PublishStamp, merged_units
from assets.planning.manual import AssignmentError, plan_from_assignment
from assets.planning.rules import RulesProfile
from expectations.schemas import TABLES
from geodata.compactness import hamlet_measures
from geodata.crs import STORAGE_CRS

RESOLUTION_KEYS = ("decision_id", "decided_at", "resolution_number", "approved_date")


def resolved_decisions(decisions: pd.DataFrame, approvals: pd.DataFrame) -> pd.DataFrame:
    """Per commune, its latest decision that has a council resolution in force, with the
    resolution's number and day (``approvals``: planning.council_approvals in force)."""
    resolution = approvals[["decision_id", "resolution_number", "approved_date"]]
    resolved = decisions.merge(resolution, on="decision_id", how="inner", validate="one_to_one")
    ordered = resolved.sort_values(["decided_at", "decision_id"], ascending=False)
    return ordered.drop_duplicates("commune_code").reset_index(drop=True)


@dataclass(frozen=True)
class ApprovedPlan:
    units: gpd.GeoDataFrame  # marts.approved_plan
    staffing: pd.DataFrame  # marts.approved_staffing
    stale: dict[str, str]  # decision_id -> why it no longer fits the hamlets


def approved_plan(
    decisions: pd.DataFrame,
    decision_assignments: pd.DataFrame,
    compliance: pd.DataFrame,
    adjacency: pd.DataFrame,
    hamlets: gpd.GeoDataFrame,
    rules: RulesProfile,
    stamp: PublishStamp,
) -> ApprovedPlan:
    """Units and staffing of the resolved decisions (``resolved_decisions``: one per
    commune, with its resolution)."""
    names = (hamlets["name_prefix"].fillna("") + " " + hamlets["hamlet_name"]).str.strip()
    names.index = hamlets["hamlet_code"]
    measures = hamlet_measures(hamlets)
    units, assignments, stale = [], [], {}
    for decision in decisions.itertuples(index=False):
        given = decision_assignments[decision_assignments["decision_id"] == decision.decision_id]
        try:
            plan = plan_from_assignment(
                compliance,
                adjacency,
                rules,
                given[["hamlet_code", "unit_id"]],
                names=names,
                measures=measures,
                option_name=decision.option_name,
            )
        except AssignmentError as exc:
            stale[decision.decision_id] = "; ".join(exc.problems)
            continue
        keys = {k: getattr(decision, k) for k in RESOLUTION_KEYS}
        units.append(plan.units.assign(**keys))
        assignments.append(plan.assignments)
    if not units:
        empty = TABLES["marts.approved_plan"]
        frame = gpd.GeoDataFrame(
            stamp.apply(pd.DataFrame(columns=[c for c in empty.columns if c != "geometry"])),
            geometry=gpd.GeoSeries([], crs=STORAGE_CRS),
        )
        return ApprovedPlan(
            units=gpd.GeoDataFrame(empty.enforce(frame), geometry="geometry", crs=STORAGE_CRS),
            staffing=staffing_table(pd.DataFrame(columns=frame.columns), compliance, rules, stamp),
            stale=stale,
        )
    planned = pd.concat(units, ignore_index=True)
    members = pd.concat(assignments, ignore_index=True)
    published = merged_units(
        planned.drop(columns=list(RESOLUTION_KEYS)), members, hamlets, compliance, stamp
    )
    published = published.merge(
        planned[["option_name", "unit_id", *RESOLUTION_KEYS]],
        on=["option_name", "unit_id"],
        validate="one_to_one",
    )
    approved = gpd.GeoDataFrame(
        TABLES["marts.approved_plan"].enforce(published), geometry="geometry", crs=STORAGE_CRS
    )
    return ApprovedPlan(
        units=approved,
        staffing=staffing_table(approved, compliance, rules, stamp),
        stale=stale,
    )


def staffing_table(
    units: pd.DataFrame, compliance: pd.DataFrame, rules: RulesProfile, stamp: PublishStamp
) -> pd.DataFrame:
    """Per approved unit: positions before, kept and ending, and the allowance fund.

    The unit keeps the code of its largest hamlet; the positions of the other merged
    hamlets end. A unit with a member in one of the profile's high-tier categories
    (``allowance_high_tier_categories``) gets the high fund whatever its size, as in the
    options' scores (``RulesProfile.monthly_fund_vnd``).
    """
    contract = TABLES["marts.approved_staffing"]
    if units.empty:
        return contract.enforce(stamp.apply(pd.DataFrame(columns=list(contract.columns))))
    on = stamp.published_at.date()
    categories = rules.allowance_categories(
        compliance["hamlet_code"], compliance["commune_code"], compliance["exemption_category"]
    )
    hamlet_fund = rules.monthly_fund_vnd(
        compliance["households"], compliance["hamlet_kind"], categories, on
    )
    hamlet_fund.index = categories.index = compliance["hamlet_code"]
    members = units["member_hamlet_codes"].str.split(",")
    unit_cats = members.map(
        lambda codes: (
            frozenset().union(*(c for c in categories.reindex(codes) if isinstance(c, frozenset)))
            if isinstance(codes, list)
            else frozenset()
        )
    )
    fund_after = rules.monthly_fund_vnd(units["households"], units["hamlet_kind"], unit_cats, on)
    per_unit = rules.part_time_positions_per_unit
    table = pd.DataFrame(units).assign(
        positions_before=units["member_count"] * per_unit,
        positions_kept=per_unit,
        positions_ending=(units["member_count"] - 1) * per_unit,
        ending_hamlet_codes=[
            ",".join(c for c in codes if c != unit)
            for codes, unit in zip(members, units["unit_id"], strict=True)
        ],
        allowance_fund_before_vnd_per_year=members.map(
            lambda codes: float(hamlet_fund.reindex(codes).sum()) * 12
        ),
        allowance_fund_after_vnd_per_year=fund_after.to_numpy() * 12,
    )
    table["allowance_saving_vnd_per_year"] = (
        table["allowance_fund_before_vnd_per_year"] - table["allowance_fund_after_vnd_per_year"]
    )
    return contract.enforce(stamp.apply(table[[c for c in contract.columns if c in table]]))
