"""Dagster wiring for publishing: all marts in one transaction, or none.

The publish step runs only after the blocking checks upstream have passed (Dagster
skips it otherwise), and it replaces this province's rows in every mart inside one
transaction, so readers see either the previous publication or the new one, whole.
Among those checks, ``safe_to_publish`` refuses figures that fell beyond the allowed
share against the last publication (``assets.marts.guard``); the run tag
``hamlets/allow_shrink=true`` overrides it for one run, and the publication records it.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import geopandas as gpd
import pandas as pd

from assets.marts.build import (
    PublishStamp,
    commune_summary,
    hamlets_today,
    merged_units,
    merger_options,
    option_assignments,
    province_summary,
    validation_summary,
)
from assets.marts.publish import publish_marts
from assets.materialised import row_count
from assets.planning.scores import option_scores
from assets.provinces import province_asset_check, province_multi_asset
from assets.quality.holds import held_by_place
from assets.run_settings import RunSettings
from assets.staging.tables import province_code_of
from assets.warehouse import Warehouse

# The directives ask for weekly progress reports: marts older than a week are flagged.
MARTS_FRESHNESS = dg.FreshnessPolicy.time_window(
    warn_window=timedelta(days=7), fail_window=timedelta(days=14)
)
# A run carrying this tag publishes figures the shrink guard would refuse (deliberate
# changes only); a tag, not an environment setting, so no standing override outlives it.
ALLOW_SHRINK_TAG = "hamlets/allow_shrink"
PUBLISH_STEP = "publish_marts"  # the step after which the marts are public
MART_TABLES = (
    "hamlets",
    "merger_assignments",
    "merged_units",
    "merger_options",
    "province_summary",
    "commune_summary",
    "validation_summary",
)


@province_multi_asset(
    specs=[
        dg.AssetSpec(
            ["marts", name],
            group_name="marts",
            freshness_policy=MARTS_FRESHNESS,
            deps=[
                ["planning", "merger_assignments"],
                ["planning", "merger_units"],
                ["planning", "merger_option_summary"],
                ["planning", "hamlet_compliance"],
                ["staging", "hamlets"],
                ["staging", "communes"],
                ["quality", "record_issues"],
                ["quality", "households_quarantined"],
                ["quality", "persons_quarantined"],
            ],
        )
        for name in MART_TABLES
    ],
    name=PUBLISH_STEP,
    description="Publish the marts for the province atomically (aggregates only).",
)
def publish_province_marts(
    context: dg.AssetExecutionContext,
    warehouse: dg.ResourceParam[Warehouse],
    run_settings: RunSettings,
):
    warehouse = warehouse.for_province(context.partition_key)
    rules = run_settings.rules
    # Judged again here, so materialising the marts alone cannot skip the guard.
    verdict = run_settings.publish_guard().verdict(warehouse)
    if verdict.blocked and not shrink_allowed(context):
        raise dg.Failure(description=verdict.reason, metadata=verdict.metadata)
    override = verdict.summary if verdict.blocked else None
    if override:
        context.log.warning(f"publishing on the {ALLOW_SHRINK_TAG} override: {override}")
    households_rows, households_params = warehouse.rows_filter("staging.households")
    persons_rows, persons_params = warehouse.rows_filter("quality.persons_clean", alias="p")
    with warehouse.connect() as con:
        assignments = warehouse.read_table("planning.merger_assignments", con=con)
        planned_units = warehouse.read_table("planning.merger_units", con=con)
        summary = warehouse.read_table("planning.merger_option_summary", con=con)
        compliance = warehouse.read_table("planning.hamlet_compliance", con=con)
        hamlets: gpd.GeoDataFrame = warehouse.read_table("staging.hamlets", con=con)
        communes = warehouse.read_table("staging.communes", con=con)
        issues = warehouse.read_table("quality.record_issues", con=con)
        held_households = warehouse.read_table("quality.households_quarantined", con=con)
        keyed_households = warehouse.read_table(
            "staging.households", con=con, columns=["record_id", "household_id", "hamlet_code"]
        )
        held_rows, held_params = warehouse.rows_filter("quality.persons_quarantined")
        held_persons = con.query_df(
            "SELECT household_id, count(*) AS n FROM quality.persons_quarantined "
            f"WHERE {held_rows} GROUP BY household_id",
            held_params,
        )
        # Restricted tables enter only as counts and points, never as person rows.
        households = con.query_df(
            "SELECT hamlet_code, longitude, latitude FROM staging.households "
            f"WHERE {households_rows}",
            households_params,
        )
        ethnicity_counts = con.query_df(
            "SELECT h.hamlet_code, p.ethnicity, count(*) AS persons "
            "FROM quality.persons_clean p JOIN staging.households h "
            "ON h.household_id = p.household_id AND h.province_code = p.province_code "
            f"WHERE {persons_rows} GROUP BY h.hamlet_code, p.ethnicity",
            persons_params,
        )
    stamp = PublishStamp(
        province_code=province_code_of(communes),
        rules_profile=rules.name,
        run_id=context.run.run_id,
        published_at=datetime.now(UTC),
    )
    scores = option_scores(
        summary, planned_units, assignments, compliance, rules, on=stamp.published_at.date(),
        hamlets=hamlets, households=households, ethnicity_counts=ethnicity_counts,
    )  # fmt: skip
    units = merged_units(planned_units, assignments, hamlets, compliance, stamp)
    held_hamlets, held_communes = held_by_place(
        keyed_households,
        pd.DataFrame(hamlets[["hamlet_code", "commune_code"]]),
        held_households,
        pd.Series(
            held_persons["n"].to_numpy(dtype="int64"),
            index=held_persons["household_id"].astype("string"),
        ),
    )
    tables: dict[str, pd.DataFrame] = {
        "hamlets": hamlets_today(hamlets, compliance, issues, stamp, held_hamlets),
        "merger_assignments": option_assignments(assignments, stamp),
        "merged_units": units,
        "merger_options": merger_options(scores, stamp),
        "province_summary": province_summary(scores, stamp),
        "commune_summary": commune_summary(communes, compliance, stamp, held_communes),
        "validation_summary": validation_summary(issues, stamp),
    }
    publish_marts(warehouse, tables, stamp, details={"shrink_override": override})
    for name, df in tables.items():
        yield dg.MaterializeResult(
            asset_key=["marts", name],
            metadata={
                "rows": len(df),
                **row_count(len(df)),
                "province_code": stamp.province_code,
                "rules_profile": stamp.rules_profile,
                "shrink_override": override or "",
            },
        )


def shrink_allowed(context: dg.OpExecutionContext | dg.AssetCheckExecutionContext) -> bool:
    """Whether the run carries the explicit override tag."""
    return context.run.tags.get(ALLOW_SHRINK_TAG, "").strip().lower() == "true"


@province_asset_check(
    asset=dg.AssetKey(["planning", "hamlet_compliance"]),
    name="safe_to_publish",
    blocking=True,
    description="No required landing file is empty and the province's hamlets, households "
    "and persons did not fall beyond the allowed share (HAMLETS_MAX_SHRINK_SHARE) against "
    f"its last publication; run tag {ALLOW_SHRINK_TAG}=true publishes a deliberate change",
)
def safe_to_publish(
    context: dg.AssetCheckExecutionContext,
    warehouse: dg.ResourceParam[Warehouse],
    run_settings: RunSettings,
) -> dg.AssetCheckResult:
    """Blocks everything built on the new counts (merger options, marts, exports) until
    the figures are believable, so a bad upload never replaces the published ones."""
    verdict = run_settings.publish_guard().verdict(warehouse.for_province(context.partition_key))
    overridden = verdict.blocked and shrink_allowed(context)
    if overridden:
        context.log.warning(f"{ALLOW_SHRINK_TAG} override: {verdict.reason}")
    return dg.AssetCheckResult(
        passed=not verdict.blocked,
        # With the override the failure stays visible, as a warning that does not block.
        severity=dg.AssetCheckSeverity.WARN if overridden else dg.AssetCheckSeverity.ERROR,
        description=verdict.reason,
        metadata={**verdict.metadata, "overridden": overridden},
    )


MARTS_ASSETS = [publish_province_marts]
MARTS_CHECKS = [safe_to_publish]
