"""Dagster wiring for the quality stage: record issues, quarantine, duplicates, checks.

Suites run as asset checks. The hamlet suite blocks: merging on a broken registry would
publish wrong plans. The person and household suites warn: bad records are quarantined
row by row and the rest still count; instead, ``quarantine_share`` blocks publishing when
so many person records are held back that household counts would be wrong. Check and
asset metadata, and logs, carry counts only, never IDs, names or birth dates. Data Docs
(HTML) are written to a restricted folder beside the warehouse (see
:func:`data_docs_dir`).
"""

from pathlib import Path

import dagster as dg
import geopandas as gpd
import pandas as pd

from assets.materialised import row_count
from assets.provinces import (
    MEMORY_HEAVY_TAGS,
    PROVINCE_PARTITIONS,
    WAREHOUSE_POOL,
    province_asset,
    province_asset_check,
    province_multi_asset,
)
from assets.quality.batches import record_issues_by_commune
from assets.quality.cross_checks import hamlet_geometry_problems
from assets.quality.duplicate_records import person_slices
from assets.quality.duplicates import DuplicateSettings, find_probable_duplicates
from assets.quality.holds import (
    hold_households,
    persons_per_household,
    reconcile_warehouse,
    reconciliation_failures,
)
from assets.quality.persons_suite import validate_persons_by_commune
from assets.quality.settings import MAX_QUARANTINE_SHARE
from assets.quality.split import split_persons_by_commune
from assets.quality.validate import count_reconciliation
from assets.run_settings import RunSettings
from assets.warehouse import Warehouse
from expectations.schemas import TABLES
from expectations.suites import (
    AS_OF,
    HEAD_MIN_AGE,
    KNOWN_HAMLET_CODES,
    validate_frame,
)

_HOUSEHOLD_INS = {
    "households": dg.AssetIn(["staging", "households"]),
    "hamlets": dg.AssetIn(["staging", "hamlets"]),
}
# Person tables are read by the steps themselves, a slice at a time, not loaded whole.
PERSONS_KEY = dg.AssetKey(["staging", "persons"])
CLEAN_KEY = dg.AssetKey(["quality", "persons_clean"])
QUARANTINED_KEY = dg.AssetKey(["quality", "persons_quarantined"])
# Staging's repair should leave a partition; until it reliably does (see the lead's notes
# on collapsed hamlets), a broken partition warns instead of blocking.
GEOMETRY_CHECK_BLOCKS = False


class DuplicateConfig(dg.Config):
    """Run config of probable duplicate detection (defaults: ``DuplicateSettings``): op
    config, not run settings, since this step alone reads it."""

    threshold: float = DuplicateSettings.threshold
    u_max_pairs: float = DuplicateSettings.u_max_pairs
    seed: int = DuplicateSettings.seed
    threads: int = 0  # 0: DuckDB's default (all cores)


def data_docs_dir(warehouse: Warehouse, configured: str = "") -> Path:
    """The Data Docs folder: as configured, else ``restricted/data_docs`` beside the
    DuckDB warehouse file (``data/restricted/data_docs`` for a PostgreSQL warehouse).

    The folder is restricted like the warehouse: the HTML holds counts and rule
    settings only, but it describes personal data and stays with it.
    """
    if configured:
        return Path(configured)
    if getattr(warehouse, "kind", "duckdb") == "duckdb":
        return warehouse.path.parent / "restricted" / "data_docs"
    return Path("data") / "restricted" / "data_docs"


@province_asset(
    key=["quality", "hamlet_count_reconciliation"],
    ins=_HOUSEHOLD_INS,
    deps=[PERSONS_KEY],
    group_name="quality",
)
def quality_hamlet_count_reconciliation(
    context: dg.AssetExecutionContext,
    run_settings: RunSettings,
    warehouse: dg.ResourceParam[Warehouse],
    households: pd.DataFrame,
    hamlets: gpd.GeoDataFrame,
) -> pd.DataFrame:
    """Per hamlet: households and population declared by the registry against the
    staged records, within a tolerance."""
    # Only each record's household is counted: one column, not the person table.
    persons = warehouse.for_province(context.partition_key).read_table(
        "staging.persons", columns=["household_id"]
    )
    df = count_reconciliation(pd.DataFrame(hamlets), households, persons, run_settings.quality())
    context.add_output_metadata(
        {
            "hamlets": len(df),
            "out_of_tolerance": int(df["within_tolerance"].eq(False).sum()),
            "not_declared": int(df["within_tolerance"].isna().sum()),
        }
    )
    return df


@province_asset(
    key=["quality", "probable_duplicates"],
    ins={"hamlets": _HOUSEHOLD_INS["hamlets"]},
    deps=[PERSONS_KEY, _HOUSEHOLD_INS["households"].key],
    group_name="quality",
    op_tags=MEMORY_HEAVY_TAGS,
)
def quality_probable_duplicates(
    context: dg.AssetExecutionContext,
    config: DuplicateConfig,
    warehouse: dg.ResourceParam[Warehouse],
    hamlets: gpd.GeoDataFrame,
) -> pd.DataFrame:
    """Groups of person records probably of one person in several households (Splink)."""
    warehouse = warehouse.for_province(context.partition_key)
    # Splink compares the whole province in DuckDB; the compared columns are read a slice
    # at a time into its table, never as one frame. Of the households, only where each is.
    slices = person_slices(warehouse)
    households = warehouse.read_table("staging.households", columns=["household_id", "hamlet_code"])
    settings = DuplicateSettings(
        threshold=config.threshold,
        u_max_pairs=config.u_max_pairs,
        seed=config.seed,
        threads=config.threads or None,
    )
    run = find_probable_duplicates(slices, households, pd.DataFrame(hamlets), settings)
    metadata = {
        "records_in": run.records_in,
        "clusters": int(run.table["cluster_id"].nunique()),
        "records_in_clusters": len(run.table),
        "pairs_scored": run.pairs_scored,
        "pairs_linked": run.pairs_linked,
        "seconds": run.seconds,
        "threshold": settings.threshold,
    }
    context.add_output_metadata(metadata)
    context.log.info(f"probable duplicates: {metadata}")
    return run.table


@province_asset(
    key=["quality", "record_issues"],
    ins={
        "duplicates": dg.AssetIn(["quality", "probable_duplicates"]),
        "reconciliation": dg.AssetIn(["quality", "hamlet_count_reconciliation"]),
    },
    deps=[
        PERSONS_KEY,
        *(ins.key for ins in _HOUSEHOLD_INS.values()),
        dg.AssetKey(["staging", "communes"]),  # hamlet kinds follow the commune's
    ],
    group_name="quality",
    op_tags=MEMORY_HEAVY_TAGS,
)
def quality_record_issues(
    context: dg.AssetExecutionContext,
    run_settings: RunSettings,
    warehouse: dg.ResourceParam[Warehouse],
    duplicates: pd.DataFrame,
    reconciliation: pd.DataFrame,
) -> pd.DataFrame:
    """One row per record and broken rule, across persons, households and the registry;
    person records are read a few communes at a time."""
    warehouse = warehouse.for_province(context.partition_key)
    settings = run_settings.quality()
    with warehouse.connect() as con:
        issues, batches = record_issues_by_commune(
            warehouse,
            con,
            settings,
            reconciliation,
            duplicates=duplicates,
            max_persons=run_settings.batch_persons,
        )
    counts = issues.groupby(["table_name", "rule"]).size()
    context.add_output_metadata(
        {
            "person_batches": len(batches),
            "largest_batch_persons": max((b.persons for b in batches), default=0),
            "issues": len(issues),
            "errors": int(issues["severity"].eq("error").sum()),
            "warnings": int(issues["severity"].eq("warning").sum()),
            "by_rule": {f"{t}:{r}": int(n) for (t, r), n in counts.items()},
            "as_of": settings.reference_date.isoformat(),
        }
    )
    return issues


@province_multi_asset(
    specs=[
        dg.AssetSpec(
            key,
            deps=[PERSONS_KEY, dg.AssetKey(["quality", "record_issues"])],
            group_name="quality",
            description=description,
        )
        for key, description in (
            (CLEAN_KEY, "Person records without an error-level issue (restricted)"),
            (QUARANTINED_KEY, "Person records held back, each with its reasons (restricted)"),
        )
    ],
    op_tags=MEMORY_HEAVY_TAGS,
)
def quality_persons(
    context: dg.AssetExecutionContext,
    run_settings: RunSettings,
    warehouse: dg.ResourceParam[Warehouse],
):
    """Split person records into clean and quarantined, commune batch by batch, in one
    transaction; the counts always reconcile."""
    warehouse = warehouse.for_province(context.partition_key)
    with warehouse.transaction() as con:
        split = split_persons_by_commune(warehouse, con, run_settings.batch_persons)
    if split.records_clean + split.records_quarantined != split.records_in:
        raise dg.Failure(
            f"person records do not reconcile: {split.records_in} in, {split.records_clean} "
            f"clean, {split.records_quarantined} quarantined"
        )
    counts = {
        "records_in": split.records_in,
        "records_clean": split.records_clean,
        "records_quarantined": split.records_quarantined,
        "person_batches": split.batches,
    }
    context.log.info(f"person records: {counts}")
    for key, table, rows in (
        (CLEAN_KEY, "quality.persons_clean", split.records_clean),
        (QUARANTINED_KEY, "quality.persons_quarantined", split.records_quarantined),
    ):
        yield dg.MaterializeResult(
            asset_key=key, metadata={"table": table, **counts, **row_count(rows)}
        )


HOUSEHOLDS_QUARANTINED_KEY = dg.AssetKey(["quality", "households_quarantined"])


@province_asset(
    key=HOUSEHOLDS_QUARANTINED_KEY,
    ins={
        "households": dg.AssetIn(["staging", "households"]),
        "hamlets": dg.AssetIn(["staging", "hamlets"]),
        "communes": dg.AssetIn(["staging", "communes"]),
    },
    deps=[PERSONS_KEY, dg.AssetKey(["quality", "record_issues"]), CLEAN_KEY],
    group_name="quality",
)
def quality_households_quarantined(
    context: dg.AssetExecutionContext,
    warehouse: dg.ResourceParam[Warehouse],
    households: pd.DataFrame,
    hamlets: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
) -> pd.DataFrame:
    """Household records held back with their reasons (restricted): an error-level
    issue, or no member counted; their members are held in quality/persons_quarantined."""
    warehouse = warehouse.for_province(context.partition_key)
    held = hold_households(
        households,
        warehouse.read_table("quality.record_issues"),
        persons_per_household(warehouse, "staging.persons"),
        persons_per_household(warehouse, "quality.persons_clean"),
        pd.DataFrame(hamlets.drop(columns="geometry")),
        communes,
    )
    context.add_output_metadata(
        {
            "households_in": len(households),
            "households_held": len(held),
            "without_commune": int(held["commune_code"].isna().sum()),
        }
    )
    return held


@province_asset_check(
    asset=dg.AssetKey(["planning", "hamlet_compliance"]),
    name="records_counted_once",
    blocking=True,
    additional_deps=[
        HOUSEHOLDS_QUARANTINED_KEY,
        QUARANTINED_KEY,
        PERSONS_KEY,
        dg.AssetKey(["staging", "households"]),
        dg.AssetKey(["staging", "hamlets"]),
    ],
    description="Per commune, every staged household and person record is counted in a "
    "hamlet or held in quarantine, exactly once: staged = counted + held",
)
def records_counted_once(
    context: dg.AssetCheckExecutionContext, warehouse: dg.ResourceParam[Warehouse]
) -> dg.AssetCheckResult:
    table = reconcile_warehouse(warehouse.for_province(context.partition_key))
    failures = reconciliation_failures(table)
    totals = table.drop(columns=["commune_code", "reconciles"]).sum()
    # Records counted nowhere or twice, households and persons.
    gaps = sum(
        (table[f"{what}_staged"] - table[f"{what}_counted"] - table[f"{what}_held"]).abs().sum()
        for what in ("households", "persons")
    )
    return dg.AssetCheckResult(
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(failures) if failures else None,
        metadata={
            "failing_records": int(gaps),
            "communes": len(table),
            "communes_not_reconciling": len(failures),
            **{k: int(v) for k, v in totals.items()},
            "failures": "\n".join(failures),
        },
    )


def _suite_parameters(
    table_name: str, warehouse: Warehouse, run_settings: RunSettings
) -> dict[str, object]:
    """The values the table's suite parameters take in this run: the record rules'."""
    parameters: dict[str, object] = {
        HEAD_MIN_AGE: run_settings.head_min_age,
        AS_OF: run_settings.as_of_date.isoformat(),
    }
    if table_name == "staging.households":
        rows, params = warehouse.rows_filter("staging.hamlets")
        codes = warehouse.query(f"SELECT hamlet_code FROM staging.hamlets WHERE {rows}", params)[
            "hamlet_code"
        ]
        parameters[KNOWN_HAMLET_CODES] = codes.dropna().astype(str).tolist()
    return parameters


def _suite_check(table_name: str, *, blocking: bool) -> dg.AssetChecksDefinition:
    contract = TABLES[table_name]
    # The households suite checks hamlet codes against the registry, and the persons
    # suite reads persons by commune through households and hamlets: run them after.
    needs = {
        "staging.households": [dg.AssetKey(["staging", "hamlets"])],
        "staging.persons": [
            dg.AssetKey(["staging", "households"]),
            dg.AssetKey(["staging", "hamlets"]),
        ],
    }.get(table_name, [])

    @dg.asset_check(
        asset=dg.AssetKey([contract.layer, contract.name]),
        partitions_def=PROVINCE_PARTITIONS,
        name=f"{contract.name}_suite",
        blocking=blocking,
        additional_deps=needs,
        pool=WAREHOUSE_POOL,
        description=f"Great Expectations suite: the {table_name} contract and its domain rules",
    )
    def suite_check(
        context: dg.AssetCheckExecutionContext,
        warehouse: dg.ResourceParam[Warehouse],
        run_settings: RunSettings,
    ) -> dg.AssetCheckResult:
        warehouse = warehouse.for_province(context.partition_key)
        parameters = _suite_parameters(table_name, warehouse, run_settings)
        docs = data_docs_dir(warehouse, run_settings.data_docs_dir)
        if table_name != "staging.persons":
            result = validate_frame(
                warehouse.read_table(contract.qualified_name),
                contract,
                parameters=parameters,
                data_docs_dir=docs,
                run_name=context.run.run_id,
            )
        else:
            # Persons a few communes at a time; Data Docs show each batch as a run.
            with warehouse.connect() as con:
                result = validate_persons_by_commune(
                    warehouse,
                    con,
                    parameters=parameters,
                    run_name=context.run.run_id,
                    data_docs_dir=docs,
                    max_persons=run_settings.batch_persons,
                )
        # Domain rules are GX "warning" expectations: only a broken contract blocks.
        blocks = blocking and bool(result.critical_failures)
        metadata = result.as_metadata()
        # Values the failed expectations found (a record may fail several of them).
        unexpected = sum(f["unexpected_count"] or 0 for f in metadata["failures"])
        return dg.AssetCheckResult(
            passed=result.success,
            severity=dg.AssetCheckSeverity.ERROR if blocks else dg.AssetCheckSeverity.WARN,
            metadata={
                "unexpected_values": int(unexpected),
                # The day the persons suite judged birth dates and ages at.
                **({"as_of": parameters[AS_OF]} if table_name == "staging.persons" else {}),
                **metadata,
            },
        )

    return suite_check


@province_asset_check(
    asset=dg.AssetKey(["quality", "record_issues"]),
    name="quarantine_share",
    blocking=True,
    description="Few enough person records are quarantined (with their households) for "
    "hamlet counts to hold "
    f"(default at most {MAX_QUARANTINE_SHARE:.0%})",
)
def quarantine_share(
    context: dg.AssetCheckExecutionContext,
    warehouse: dg.ResourceParam[Warehouse],
    run_settings: RunSettings,
) -> dg.AssetCheckResult:
    warehouse = warehouse.for_province(context.partition_key)
    persons, persons_params = warehouse.rows_filter("staging.persons")
    issues, issues_params = warehouse.rows_filter("quality.record_issues")
    households, households_params = warehouse.rows_filter("staging.households")
    # Held: a person record with an error, or a member of a household record with one.
    errors = f"severity = 'error' AND {issues}"
    counts = warehouse.query(
        f"SELECT (SELECT count(*) FROM staging.persons WHERE {persons}) AS records_in, "
        f"(SELECT count(*) FROM staging.persons WHERE {persons} AND (record_id IN "
        "(SELECT record_id FROM quality.record_issues "
        f"WHERE table_name = 'staging.persons' AND {errors}) OR household_id IN "
        f"(SELECT household_id FROM staging.households WHERE {households} AND record_id IN "
        "(SELECT record_id FROM quality.record_issues "
        f"WHERE table_name = 'staging.households' AND {errors})))) AS records_with_errors",
        [
            *persons_params,
            *persons_params,
            *issues_params,
            *households_params,
            *issues_params,
        ],
    ).iloc[0]
    records_in = int(counts["records_in"])
    with_errors = int(counts["records_with_errors"])
    share = with_errors / records_in if records_in else 0.0
    return dg.AssetCheckResult(
        passed=share <= run_settings.max_quarantine_share,
        metadata={
            "failing_records": with_errors,
            "records_in": records_in,
            "records_with_errors": with_errors,
            "share": round(share, 4),
            "max_share": run_settings.max_quarantine_share,
        },
    )


@province_asset_check(
    asset=dg.AssetKey(["staging", "hamlets"]),
    name="hamlet_partition",
    blocking=GEOMETRY_CHECK_BLOCKS,
    description="Staged hamlet polygons are valid, do not overlap and none collapsed "
    "(staging's repairs are listed in staging.geometry_adjustments)",
)
def hamlet_partition(
    context: dg.AssetCheckExecutionContext, warehouse: dg.ResourceParam[Warehouse]
) -> dg.AssetCheckResult:
    hamlets = warehouse.for_province(context.partition_key).read_table("staging.hamlets")
    problems = hamlet_geometry_problems(hamlets)
    passed = not (
        problems["invalid_polygons"]
        or problems["overlapping_pairs"]
        or problems["collapsed_polygons"]
    )
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR
        if GEOMETRY_CHECK_BLOCKS
        else dg.AssetCheckSeverity.WARN,
        # Hamlets at fault: invalid or collapsed polygons, and both of each overlapping pair
        # (an upper bound: a hamlet may count more than once).
        metadata={
            "failing_records": int(
                problems["invalid_polygons"]
                + problems["collapsed_polygons"]
                + 2 * problems["overlapping_pairs"]
            ),
            **problems,
        },
    )


@province_asset_check(
    asset=dg.AssetKey(["quality", "hamlet_count_reconciliation"]),
    name="registry_matches_records",
    description="Every hamlet's declared households and population are within tolerance "
    "of the records (a warning: planning counts from the records)",
)
def registry_matches_records(
    context: dg.AssetCheckExecutionContext, warehouse: dg.ResourceParam[Warehouse]
) -> dg.AssetCheckResult:
    warehouse = warehouse.for_province(context.partition_key)
    table = warehouse.read_table("quality.hamlet_count_reconciliation")
    out = int(table["within_tolerance"].eq(False).sum())
    return dg.AssetCheckResult(
        passed=out == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"failing_records": out, "hamlets": len(table), "out_of_tolerance": out},
    )


QUALITY_ASSETS = [
    quality_hamlet_count_reconciliation,
    quality_probable_duplicates,
    quality_record_issues,
    quality_persons,
    quality_households_quarantined,
]
QUALITY_CHECKS = [
    _suite_check("staging.hamlets", blocking=True),
    _suite_check("staging.communes", blocking=True),
    _suite_check("staging.persons", blocking=False),
    _suite_check("staging.households", blocking=False),
    quarantine_share,
    hamlet_partition,
    registry_matches_records,
    records_counted_once,
]
