"""Dagster wiring for the planning stage: sizes, compliance, adjacency, merger options."""

import dagster as dg
import geopandas as gpd
import pandas as pd

from assets.planning.compliance import (
    clean_persons_per_household,
    count_hamlet_sizes,
    hamlet_compliance,
    with_commune_kinds,
)
from assets.planning.constraints import PlannerConstraints, majority_ethnicity, read_constraints
from assets.planning.options import plan_options
from assets.privacy import RecordReferences
from assets.provinces import province_asset, province_multi_asset
from assets.run_settings import RunSettings
from assets.staging.tables import province_code_of
from assets.warehouse import Warehouse
from geodata.adjacency import hamlet_adjacency
from geodata.compactness import hamlet_measures


@province_asset(
    key=["planning", "hamlet_compliance"],
    ins={
        "hamlets": dg.AssetIn(["staging", "hamlets"]),
        "communes": dg.AssetIn(["staging", "communes"]),
        "households": dg.AssetIn(["staging", "households"]),
    },
    deps=[dg.AssetKey(["quality", "persons_clean"])],
    group_name="planning",
)
def planning_hamlet_compliance(
    context: dg.AssetExecutionContext,
    run_settings: RunSettings,
    record_references: dg.ResourceParam[RecordReferences],
    warehouse: dg.ResourceParam[Warehouse],
    hamlets: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    households: pd.DataFrame,
) -> pd.DataFrame:
    """Each hamlet's households counted from clean records, against its standard."""
    rules = run_settings.rules
    # Clean records per household, counted in the warehouse: no person row leaves it.
    persons_clean = clean_persons_per_household(warehouse.for_province(context.partition_key))
    sizes = count_hamlet_sizes(households, persons_clean, reference=record_references.of)
    # The province's category lists must name hamlets and communes of this registry.
    rules.check_list_codes(hamlets["hamlet_code"], communes["commune_code"])
    # Kind follows the commune (a registry's mismatch is a quality warning).
    hamlets = with_commune_kinds(pd.DataFrame(hamlets.drop(columns="geometry")), communes)
    df = hamlet_compliance(hamlets, sizes, province_code_of(communes), rules)
    contradicted = df.loc[df["registry_special_category"].notna(), "hamlet_code"]
    if len(contradicted):
        context.log.warning(
            f"{len(contradicted)} registry special categories differ from the province's "
            f"lists (the lists apply; correct the registry): hamlets "
            f"{contradicted.head(10).tolist()}; see planning.hamlet_compliance"
            ".registry_special_category"
        )
    status_counts = df["compliance_status"].value_counts()
    context.add_output_metadata(
        {
            "rows": len(df),
            "rules_profile": rules.name,
            # Registry rows whose special category the province's lists contradict.
            "special_category_disagreements": int(df["registry_special_category"].notna().sum()),
        }
        | {f"status_{k}": int(v) for k, v in status_counts.items()}
    )
    return df


@province_asset(
    key=["planning", "hamlet_adjacency"],
    ins={"hamlets": dg.AssetIn(["staging", "hamlets"])},
    group_name="planning",
    kinds={"geopandas"},
)
def planning_hamlet_adjacency(
    context: dg.AssetExecutionContext, hamlets: gpd.GeoDataFrame
) -> pd.DataFrame:
    """Pairs of hamlets of one commune whose boundaries meet (within a few metres)."""
    df = hamlet_adjacency(hamlets)
    context.add_output_metadata({"pairs": len(df) // 2})
    return df


@province_multi_asset(
    outs={
        "assignments": dg.AssetOut(key=["planning", "merger_assignments"]),
        "units": dg.AssetOut(key=["planning", "merger_units"]),
        "summary": dg.AssetOut(key=["planning", "merger_option_summary"]),
        "constraint_problems": dg.AssetOut(key=["planning", "constraint_problems"]),
    },
    ins={
        "compliance": dg.AssetIn(["planning", "hamlet_compliance"]),
        "adjacency": dg.AssetIn(["planning", "hamlet_adjacency"]),
        "hamlets": dg.AssetIn(["staging", "hamlets"]),
    },
    # Consultation results from the landing folder may add constraints: read them first.
    deps=[["planning", "consultation_file"]],
    group_name="planning",
)
def planning_merger_options(
    context: dg.AssetExecutionContext,
    run_settings: RunSettings,
    warehouse: dg.ResourceParam[Warehouse],
    compliance: pd.DataFrame,
    adjacency: pd.DataFrame,
    hamlets: gpd.GeoDataFrame,
):
    """The minimal, compliant and consolidated options for every commune, each merge
    explained; unit counts proven optimal where the exact phase finishes in time.

    Planners' constraints (``planning.constraints``, written from the notebooks) hold in
    every option; communes whose constraints contradict each other are listed in
    ``planning.constraint_problems`` and left as they are."""
    planning = run_settings.planning()
    names = (hamlets["name_prefix"].fillna("") + " " + hamlets["hamlet_name"]).str.strip()
    names.index = hamlets["hamlet_code"]
    warehouse = warehouse.for_province(context.partition_key)
    constraints = PlannerConstraints.of(read_constraints(warehouse, context.partition_key))
    ethnicity = majority_ethnicity(warehouse) if constraints.same_ethnicity_communes else None
    result = plan_options(
        compliance,
        adjacency,
        run_settings.rules,
        names=names,
        measures=hamlet_measures(hamlets),
        time_limit_s_per_commune=planning.exact_time_limit_s,
        workers=planning.workers,
        constraints=constraints,
        ethnicity=ethnicity,
    )
    for row in result.constraint_problems.itertuples(index=False):
        context.log.warning(
            f"commune {row.commune_code}: constraints cannot all hold: {row.problem}"
        )
    summary = result.summary
    per_option = summary.groupby("option_name").agg(
        units_after=("units_after", "sum"),
        noncompliant=("noncompliant_units_after", "sum"),
        optimal_communes=("optimality_status", lambda s: int((s == "optimal").sum())),
        exact_seconds=("exact_seconds", "sum"),
    )
    metadata = {
        f"{option}_{key}": (float(value) if key == "exact_seconds" else int(value))
        for option, row in per_option.iterrows()
        for key, value in row.items()
    }
    yield dg.Output(result.assignments, output_name="assignments", metadata=metadata)
    yield dg.Output(result.units, output_name="units")
    yield dg.Output(summary, output_name="summary")
    yield dg.Output(
        result.constraint_problems,
        output_name="constraint_problems",
        metadata={
            "constraints": len(constraints.rows),
            "communes_unplanned": int(result.constraint_problems["commune_code"].nunique()),
        },
    )


PLANNING_ASSETS = [
    planning_hamlet_compliance,
    planning_hamlet_adjacency,
    planning_merger_options,
]
