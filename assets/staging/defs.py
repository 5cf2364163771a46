"""Dagster wiring for the staging stage."""

import dagster as dg
import geopandas as gpd
import pandas as pd

from assets.staging.tables import stage_communes, stage_hamlets, stage_households, stage_persons


def _rows(df: pd.DataFrame) -> dict[str, int]:
    return {"rows": len(df)}


@dg.asset(
    key=["staging", "communes"],
    ins={"raw": dg.AssetIn(["raw", "communes"])},
    group_name="staging",
    kinds={"duckdb", "geopandas"},
)
def staging_communes(context: dg.AssetExecutionContext, raw: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Communes typed, codes zero-padded, geometry repaired, area in km² from UTM."""
    df = stage_communes(raw)
    context.add_output_metadata(_rows(df))
    return df


@dg.asset(
    key=["staging", "hamlets"],
    ins={
        "raw_boundaries": dg.AssetIn(["raw", "hamlet_boundaries"]),
        "raw_registry": dg.AssetIn(["raw", "hamlet_registry"]),
    },
    group_name="staging",
    kinds={"duckdb", "geopandas"},
)
def staging_hamlets(
    context: dg.AssetExecutionContext,
    raw_boundaries: gpd.GeoDataFrame,
    raw_registry: pd.DataFrame,
) -> gpd.GeoDataFrame:
    """The hamlet registry joined to the hamlet boundaries; names split from prefixes."""
    df = stage_hamlets(raw_boundaries, raw_registry)
    context.add_output_metadata(_rows(df))
    return df


@dg.asset(
    key=["staging", "households"],
    ins={"raw": dg.AssetIn(["raw", "households"])},
    group_name="staging",
    kinds={"duckdb"},
)
def staging_households(context: dg.AssetExecutionContext, raw: pd.DataFrame) -> pd.DataFrame:
    """Households with their hamlet and location."""
    df = stage_households(raw)
    context.add_output_metadata(_rows(df))
    return df


@dg.asset(
    key=["staging", "persons"],
    ins={"raw": dg.AssetIn(["raw", "persons"])},
    group_name="staging",
    kinds={"duckdb"},
)
def staging_persons(context: dg.AssetExecutionContext, raw: pd.DataFrame) -> pd.DataFrame:
    """Person records typed and normalised (restricted: personal data)."""
    df = stage_persons(raw)
    context.add_output_metadata(_rows(df))
    return df


STAGING_ASSETS = [staging_communes, staging_hamlets, staging_households, staging_persons]
