"""Dagster wiring for the raw stage: one asset per landing-file role."""

import dagster as dg
import pandas as pd

from assets.raw.landing import LANDING_ROLES, Landing, load_raw

LANDING_SPECS = [
    dg.AssetSpec(
        ["landing", role],
        description=f"The province's {role.replace('_', ' ')} file in the landing folder",
        group_name="landing",
        kinds={"file"},
    )
    for role in LANDING_ROLES
]


def _raw_asset(role: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", role],
        deps=[["landing", role]],
        group_name="raw",
        kinds={"duckdb"},
        description=f"{role.replace('_', ' ').capitalize()} as landed, every value text, "
        "plus lineage (source file, sha256, row, load id)",
    )
    def raw_asset(context: dg.AssetExecutionContext, landing: dg.ResourceParam[Landing]):
        landing_file = landing.file(role)
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
