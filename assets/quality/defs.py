"""Dagster wiring for the quality stage: record issues, quarantine, and suite checks.

Suites run as asset checks. The hamlet suite blocks: merging on a broken registry would
publish wrong plans. The person suite warns: bad person records are quarantined row by
row and the rest still count. Check metadata carries counts, never values.
"""

import dagster as dg
import pandas as pd

from assets.quality.cross_checks import (
    household_location_issues,
    person_household_issues,
    person_locations,
)
from assets.quality.record_checks import record_issues, split_clean_quarantined
from assets.quality.value_flags import person_value_warnings
from assets.warehouse import Warehouse
from expectations.schemas import TABLES
from expectations.suites import validate_frame

_STAGING_INS = {
    "persons": dg.AssetIn(["staging", "persons"]),
    "households": dg.AssetIn(["staging", "households"]),
    "hamlets": dg.AssetIn(["staging", "hamlets"]),
}


@dg.asset(
    key=["quality", "record_issues"], ins=_STAGING_INS, group_name="quality", kinds={"duckdb"}
)
def quality_record_issues(
    context: dg.AssetExecutionContext,
    persons: pd.DataFrame,
    households: pd.DataFrame,
    hamlets: pd.DataFrame,
) -> pd.DataFrame:
    """One row per record and broken rule, across persons and households."""
    locations = person_locations(persons, households, hamlets)
    issues = pd.concat(
        [
            record_issues(
                persons,
                TABLES["staging.persons"],
                unique_columns=("citizen_id",),
                context_columns=locations,
            ),
            person_value_warnings(persons, locations),
            person_household_issues(persons, households),
            record_issues(
                households,
                TABLES["staging.households"],
                context_columns={"hamlet_code": households["hamlet_code"]},
            ),
            household_location_issues(households, hamlets),
        ],
        ignore_index=True,
    )
    counts = issues.groupby(["table_name", "rule"]).size()
    context.add_output_metadata(
        {
            "issues": len(issues),
            "by_rule": {f"{t}:{r}": int(n) for (t, r), n in counts.items()},
        }
    )
    return issues


@dg.multi_asset(
    outs={
        "persons_clean": dg.AssetOut(key=["quality", "persons_clean"], kinds={"duckdb"}),
        "persons_quarantined": dg.AssetOut(
            key=["quality", "persons_quarantined"], kinds={"duckdb"}
        ),
    },
    ins={
        "persons": dg.AssetIn(["staging", "persons"]),
        "issues": dg.AssetIn(["quality", "record_issues"]),
    },
    group_name="quality",
)
def quality_persons(context: dg.AssetExecutionContext, persons: pd.DataFrame, issues: pd.DataFrame):
    """Split person records into clean and quarantined; the counts always reconcile."""
    person_issues = issues[issues["table_name"] == "staging.persons"]
    clean, quarantined = split_clean_quarantined(persons, person_issues)
    if len(clean) + len(quarantined) != len(persons):
        raise dg.Failure(
            f"person records do not reconcile: {len(persons)} in, {len(clean)} clean, "
            f"{len(quarantined)} quarantined"
        )
    clean = TABLES["quality.persons_clean"].enforce(
        clean[list(TABLES["quality.persons_clean"].columns)]
    )
    quarantined = TABLES["quality.persons_quarantined"].enforce(
        quarantined[list(TABLES["quality.persons_quarantined"].columns)]
    )
    counts = {
        "records_in": len(persons),
        "records_clean": len(clean),
        "records_quarantined": len(quarantined),
    }
    context.log.info(f"person records: {counts}")
    yield dg.Output(clean, output_name="persons_clean", metadata=counts)
    yield dg.Output(quarantined, output_name="persons_quarantined", metadata=counts)


def _suite_check(table_name: str, *, blocking: bool) -> dg.AssetChecksDefinition:
    contract = TABLES[table_name]

    @dg.asset_check(
        asset=dg.AssetKey([contract.layer, contract.name]),
        name=f"{contract.name}_suite",
        blocking=blocking,
        description=f"Great Expectations suite generated from the {table_name} contract",
    )
    def suite_check(warehouse: dg.ResourceParam[Warehouse]) -> dg.AssetCheckResult:
        df = warehouse.read_table(contract.qualified_name)
        result = validate_frame(df, contract)
        return dg.AssetCheckResult(
            passed=result.success,
            severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
            metadata=result.as_metadata(),
        )

    return suite_check


QUALITY_ASSETS = [quality_record_issues, quality_persons]
QUALITY_CHECKS = [
    _suite_check("staging.hamlets", blocking=True),
    _suite_check("staging.communes", blocking=True),
    _suite_check("staging.persons", blocking=False),
    _suite_check("staging.households", blocking=False),
]
