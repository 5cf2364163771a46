"""Dagster wiring for the staging stage.

Each asset stages one table and records the landed rows it could not stage in
``staging.rejected_rows`` (its own slice, replaced on every run). A blocking check per
table proves that every landed row is either staged or rejected with a reason.
"""

import dagster as dg
import geopandas as gpd
import pandas as pd

from assets.materialised import row_count
from assets.provinces import MEMORY_HEAVY_TAGS, PROVINCE_PARTITIONS, WAREHOUSE_POOL, province_asset
from assets.run_settings import RunSettings
from assets.staging.chunks import CHUNK_ROWS, REJECTED_ROWS, stage_persons_in_chunks
from assets.staging.readings import VALUE_READINGS, combine_readings, readings_summary
from assets.staging.reconcile import reconcile_counts
from assets.staging.tables import (
    Staged,
    stage_communes,
    stage_hamlets,
    stage_households,
)
from assets.warehouse import Warehouse

GEOMETRY_ADJUSTMENTS = "staging.geometry_adjustments"


def _record(
    context: dg.AssetExecutionContext, warehouse: Warehouse, table: str, staged: Staged
) -> pd.DataFrame:
    """Write the side tables of a staged table and describe it in the run's metadata."""
    warehouse = warehouse.for_province(context.partition_key)
    warehouse.write_table(REJECTED_ROWS, staged.rejected, replace_where={"table_name": table})
    readings = combine_readings([staged.readings])
    warehouse.write_table(VALUE_READINGS, readings, replace_where={"table_name": table})
    metadata = {
        "rows": len(staged.table),
        "rows_rejected": len(staged.rejected),
        **staged.notes,
        **readings_summary(readings),
    }
    if staged.adjustments is not None:
        warehouse.write_table(GEOMETRY_ADJUSTMENTS, staged.adjustments)
        by_kind = staged.adjustments.groupby("adjustment")["area_m2"].agg(["size", "sum"])
        metadata |= {
            f"geometry_{kind}": f"{int(row['size'])} changes, {row['sum']:,.0f} m²"
            for kind, row in by_kind.iterrows()
        }
    context.add_output_metadata(metadata)
    _warn_rejected(context, table, len(staged.rejected))
    return staged.table


def _warn_rejected(context: dg.AssetExecutionContext, table: str, rows: int) -> None:
    if rows:
        context.log.warning(f"{table}: {rows} landed rows rejected; see {REJECTED_ROWS}")


@province_asset(
    key=["staging", "communes"],
    ins={"raw": dg.AssetIn(["raw", "communes"])},
    group_name="staging",
    kinds={"geopandas"},
)
def staging_communes(
    context: dg.AssetExecutionContext,
    warehouse: dg.ResourceParam[Warehouse],
    run_settings: RunSettings,
    raw: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    """Communes typed, codes zero-padded, geometry repaired, area in km² from UTM, and
    the region of the standard each is held to."""
    staged = stage_communes(raw, run_settings.rules)
    return _record(context, warehouse, "staging.communes", staged)


@province_asset(
    key=["staging", "hamlets"],
    ins={
        "raw_boundaries": dg.AssetIn(["raw", "hamlet_boundaries"]),
        "raw_registry": dg.AssetIn(["raw", "hamlet_registry"]),
        "communes": dg.AssetIn(["staging", "communes"]),
    },
    group_name="staging",
    kinds={"geopandas"},
)
def staging_hamlets(
    context: dg.AssetExecutionContext,
    warehouse: dg.ResourceParam[Warehouse],
    raw_boundaries: gpd.GeoDataFrame,
    raw_registry: pd.DataFrame,
    communes: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    """The hamlet registry joined to the hamlet boundaries (reprojected, with the communes
    as reference when the file states no CRS); names split from prefixes."""
    return _record(
        context,
        warehouse,
        "staging.hamlets",
        stage_hamlets(raw_boundaries, raw_registry, communes),
    )


@province_asset(
    key=["staging", "households"],
    ins={
        "raw": dg.AssetIn(["raw", "households"]),
        "hamlets": dg.AssetIn(["staging", "hamlets"]),
    },
    group_name="staging",
)
def staging_households(
    context: dg.AssetExecutionContext,
    warehouse: dg.ResourceParam[Warehouse],
    raw: pd.DataFrame,
    hamlets: gpd.GeoDataFrame,
) -> pd.DataFrame:
    """Households with their hamlet (a hamlet named instead of coded is resolved against
    the staged hamlets; a code that lost its leading zeros is padded to the registry's)
    and location."""
    return _record(context, warehouse, "staging.households", stage_households(raw, hamlets))


class ChunkConfig(dg.Config):
    """Landed rows staged at a time (a large province's file is never whole in memory):
    op config, since this step alone reads it."""

    chunk_rows: int = CHUNK_ROWS


@province_asset(
    key=["staging", "persons"],
    deps=[dg.AssetKey(["raw", "persons"])],
    group_name="staging",
    op_tags=MEMORY_HEAVY_TAGS,
)
def staging_persons(
    context: dg.AssetExecutionContext,
    config: ChunkConfig,
    warehouse: dg.ResourceParam[Warehouse],
    run_settings: RunSettings,
) -> dg.MaterializeResult:
    """Person records typed and normalised (restricted: personal data), staged a slice
    of landed rows at a time in one transaction; two-digit birth years do not pass the
    run's as-of date."""
    warehouse = warehouse.for_province(context.partition_key)
    as_of = run_settings.as_of_date
    with warehouse.transaction() as con:
        staged = stage_persons_in_chunks(warehouse, con, as_of=as_of, rows=config.chunk_rows)
    _warn_rejected(context, "staging.persons", staged.rows_rejected)
    return dg.MaterializeResult(
        metadata={
            "table": "staging.persons",
            "rows": staged.rows,
            **row_count(staged.rows),
            "rows_rejected": staged.rows_rejected,
            "chunks": staged.chunks,
            "as_of": as_of.isoformat(),
            **staged.notes,
        }
    )


# Landed files behind each staged table: every row of each is staged or rejected.
STAGED_FROM = {
    "staging.communes": ("raw.communes",),
    "staging.hamlets": ("raw.hamlet_boundaries", "raw.hamlet_registry"),
    "staging.households": ("raw.households",),
    "staging.persons": ("raw.persons",),
}


def _reconciliation_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(table.split(".")),
        partitions_def=PROVINCE_PARTITIONS,
        name="rows_reconcile",
        blocking=True,
        pool=WAREHOUSE_POOL,
        description="Every record of the file (counted from its lines) is landed, and every "
        "landed row is staged or rejected with a reason (nothing lost)",
    )
    def rows_reconcile(
        context: dg.AssetCheckExecutionContext, warehouse: dg.ResourceParam[Warehouse]
    ) -> dg.AssetCheckResult:
        counts = reconcile_counts(
            warehouse.for_province(context.partition_key), table, STAGED_FROM[table], REJECTED_ROWS
        )
        # Records the file holds that were not landed, and landed rows neither staged nor
        # rejected (or counted twice): what the check finds missing.
        unaccounted = (counts["in_file"] - counts["landed"]).abs() + (
            counts["landed"] - counts["staged"] - counts["rejected"]
        ).abs()
        return dg.AssetCheckResult(
            passed=bool(counts["balanced"].all()),
            metadata={
                "failing_records": int(unaccounted.sum()),
                "rows_rejected": int(counts["rejected"].sum()),
                **{
                    f"{row.source_file}": {
                        "in_file": int(row.in_file),
                        "landed": int(row.landed),
                        "staged": int(row.staged),
                        "rejected": int(row.rejected),
                    }
                    for row in counts.itertuples()
                },
            },
        )

    return rows_reconcile


STAGING_ASSETS = [staging_communes, staging_hamlets, staging_households, staging_persons]
STAGING_CHECKS = [_reconciliation_check(table) for table in STAGED_FROM]
