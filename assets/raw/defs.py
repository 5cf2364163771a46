"""Dagster wiring for the raw stage: one asset per landing-file role."""

import dagster as dg
import pandas as pd

from assets.provinces import PROVINCE_PARTITIONS, WAREHOUSE_POOL
from assets.raw.landing import LANDING_ROLES, Landing, load_raw

LANDING_SPECS = [
    dg.AssetSpec(
        ["landing", role],
        description=f"The province's {role.replace('_', ' ')} file in its landing folder "
        "(<landing root>/<province code>/)",
        group_name="landing",
        partitions_def=PROVINCE_PARTITIONS,
        kinds={"file"},
    )
    for role in LANDING_ROLES
]


def _raw_asset(role: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", role],
        deps=[["landing", role]],
        group_name="raw",
        partitions_def=PROVINCE_PARTITIONS,
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        description=f"{role.replace('_', ' ').capitalize()} as landed, every value text, "
        "plus lineage (source file, sha256, row, load id)",
    )
    def raw_asset(context: dg.AssetExecutionContext, landing: dg.ResourceParam[Landing]):
        """Rows are stored with ``landing_province``, the folder's province (lineage)."""
        landing_file = landing.for_province(context.partition_key).file(role)
        df: pd.DataFrame = load_raw(landing_file)
        context.add_output_metadata(
            {
                "source_file": landing_file.path.name,
                "source_sha256": landing_file.sha256,
                "encoding": df.attrs.get("encoding", "unknown"),
                "rows": len(df),
            }
        )
        return df

    return raw_asset


RAW_ASSETS = [_raw_asset(role) for role in LANDING_ROLES]
