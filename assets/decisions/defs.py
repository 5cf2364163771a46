"""Dagster wiring for planners' decisions: the approved plan and its staffing table.

``planning.decisions`` and ``planning.council_approvals`` are written by planners
(notebooks, ``hamlets decide``), never by the pipeline, so they are read here rather
than declared as assets (every asset of the graph flows from the landing files).
Materialise ``publish_approved_plan`` for the province after a council resolution (the
province job also runs it) to publish the approved units and staffing of the commune's
resolved plan.
"""

from datetime import UTC, datetime

import dagster as dg
import geopandas as gpd
import pandas as pd

from assets.decisions.approved import approved_plan, resolved_decisions
from assets.decisions.record import read_decision_assignments, read_decisions
from assets.marts.build import PublishStamp
from assets.marts.publish import publish_marts
from assets.materialised import row_count
from assets.progress.records import COUNCIL_APPROVALS, read_records
from assets.provinces import province_multi_asset
from assets.run_settings import RunSettings
from assets.warehouse import Warehouse

APPROVED_TABLES = ("approved_plan", "approved_staffing")
APPROVED_PUBLICATIONS = "marts.approved_publications"


@province_multi_asset(
    specs=[
        dg.AssetSpec(
            ["marts", name],
            group_name="marts",
            deps=[
                ["planning", "hamlet_compliance"],
                ["planning", "hamlet_adjacency"],
                ["staging", "hamlets"],
            ],
        )
        for name in APPROVED_TABLES
    ],
    ins={
        "compliance": dg.AssetIn(["planning", "hamlet_compliance"]),
        "adjacency": dg.AssetIn(["planning", "hamlet_adjacency"]),
        "hamlets": dg.AssetIn(["staging", "hamlets"]),
    },
    name="publish_approved_plan",
    description="Publish each commune's approved units and staffing from its council resolution.",
)
def publish_approved_plan(
    context: dg.AssetExecutionContext,
    warehouse: dg.ResourceParam[Warehouse],
    run_settings: RunSettings,
    compliance: pd.DataFrame,
    adjacency: pd.DataFrame,
    hamlets: gpd.GeoDataFrame,
):
    province, rules = context.partition_key, run_settings.rules
    decisions = resolved_decisions(
        read_decisions(warehouse, province), read_records(warehouse, COUNCIL_APPROVALS, province)
    )
    given = read_decision_assignments(warehouse, decisions["decision_id"].tolist())
    stamp = PublishStamp(
        province_code=province,
        rules_profile=rules.name,
        run_id=context.run.run_id,
        published_at=datetime.now(UTC),
    )
    plan = approved_plan(decisions, given, compliance, adjacency, hamlets, rules, stamp)
    for decision_id, why in plan.stale.items():
        context.log.warning(f"decision {decision_id} no longer fits the hamlets: {why}")
    publish_marts(
        warehouse,
        {"approved_plan": plan.units, "approved_staffing": plan.staffing},
        stamp,
        publications=APPROVED_PUBLICATIONS,
    )
    communes = int(plan.units["commune_code"].nunique())
    yield dg.MaterializeResult(
        asset_key=["marts", "approved_plan"],
        metadata={
            "rows": len(plan.units),
            **row_count(len(plan.units)),
            "communes_decided": communes,
            "stale_decisions": len(plan.stale),
            "rules_profile": rules.name,
        },
    )
    yield dg.MaterializeResult(
        asset_key=["marts", "approved_staffing"],
        metadata={
            "rows": len(plan.staffing),
            **row_count(len(plan.staffing)),
            "positions_ending": int(plan.staffing["positions_ending"].sum()),
            "allowance_saving_vnd_per_year": float(
                plan.staffing["allowance_saving_vnd_per_year"].sum()
            ),
        },
    )


DECISION_ASSETS = [publish_approved_plan]
