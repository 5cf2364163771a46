"""Dagster wiring for the planning stage: sizes, compliance, adjacency, merger options."""

import dagster as dg
import geopandas as gpd
import pandas as pd

from assets.planning.compliance import count_hamlet_sizes, hamlet_compliance
from assets.planning.merging import minimal_option
from assets.planning.rules import RulesProfile
from assets.staging.tables import province_code_of
from geodata.adjacency import hamlet_adjacency


@dg.asset(
    key=["planning", "hamlet_compliance"],
    ins={
        "hamlets": dg.AssetIn(["staging", "hamlets"]),
        "communes": dg.AssetIn(["staging", "communes"]),
        "households": dg.AssetIn(["staging", "households"]),
        "persons_clean": dg.AssetIn(["quality", "persons_clean"]),
    },
    group_name="planning",
    kinds={"duckdb"},
)
def planning_hamlet_compliance(
    context: dg.AssetExecutionContext,
    rules: dg.ResourceParam[RulesProfile],
    hamlets: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    households: pd.DataFrame,
    persons_clean: pd.DataFrame,
) -> pd.DataFrame:
    """Each hamlet's households counted from clean records, against its standard."""
    sizes = count_hamlet_sizes(households, persons_clean)
    hamlets = pd.DataFrame(hamlets.drop(columns="geometry"))
    df = hamlet_compliance(hamlets, sizes, province_code_of(communes), rules)
    status_counts = df["compliance_status"].value_counts()
    context.add_output_metadata(
        {"rows": len(df), "rules_profile": rules.name}
        | {f"status_{k}": int(v) for k, v in status_counts.items()}
    )
    return df


@dg.asset(
    key=["planning", "hamlet_adjacency"],
    ins={"hamlets": dg.AssetIn(["staging", "hamlets"])},
    group_name="planning",
    kinds={"duckdb", "geopandas"},
)
def planning_hamlet_adjacency(
    context: dg.AssetExecutionContext, hamlets: gpd.GeoDataFrame
) -> pd.DataFrame:
    """Pairs of hamlets of one commune whose boundaries meet (within a few metres)."""
    df = hamlet_adjacency(hamlets)
    context.add_output_metadata({"pairs": len(df) // 2})
    return df


@dg.asset(
    key=["planning", "merger_assignments"],
    ins={
        "compliance": dg.AssetIn(["planning", "hamlet_compliance"]),
        "adjacency": dg.AssetIn(["planning", "hamlet_adjacency"]),
        "hamlets": dg.AssetIn(["staging", "hamlets"]),
    },
    group_name="planning",
    kinds={"duckdb"},
)
def planning_merger_assignments(
    context: dg.AssetExecutionContext,
    rules: dg.ResourceParam[RulesProfile],
    compliance: pd.DataFrame,
    adjacency: pd.DataFrame,
    hamlets: gpd.GeoDataFrame,
) -> pd.DataFrame:
    """Each option's assignment of hamlets to units, with the reason for every move."""
    names = (hamlets["name_prefix"].fillna("") + " " + hamlets["hamlet_name"]).str.strip()
    names.index = hamlets["hamlet_code"]
    df = minimal_option(compliance, adjacency, rules, names=names)
    units = df.groupby("option_name")["unit_id"].nunique()
    context.add_output_metadata(
        {"hamlets": len(df)} | {f"units_{k}": int(v) for k, v in units.items()}
    )
    return df


PLANNING_ASSETS = [
    planning_hamlet_compliance,
    planning_hamlet_adjacency,
    planning_merger_assignments,
]
