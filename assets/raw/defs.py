"""Dagster wiring for the raw stage: one asset per landing-file role."""

import json

import dagster as dg
import pandas as pd

from assets.materialised import row_count
from assets.provinces import PROVINCE_PARTITIONS, WAREHOUSE_POOL
from assets.raw.landing import (
    BLOCK_LINES,
    LANDED_FILES,
    LANDING_ROLES,
    Landing,
    LandingFile,
    landed_file_row,
    load_raw,
    load_raw_blocks,
)
from assets.warehouse import Warehouse

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


def _raw_spec(role: str, how: str = "") -> dict[str, object]:
    """What every raw asset declares: its key, landing file, group, partitions, pool and
    description (``how``: how it is read, when not whole)."""
    return {
        "key": ["raw", role],
        "deps": [["landing", role]],
        "group_name": "raw",
        "partitions_def": PROVINCE_PARTITIONS,
        "pool": WAREHOUSE_POOL,
        "description": f"{role.replace('_', ' ').capitalize()} as landed, every value text, "
        f"plus lineage (source file, sha256, row, load id){how}",
    }


def _raw_asset(role: str) -> dg.AssetsDefinition:
    @dg.asset(**_raw_spec(role))
    def raw_asset(
        context: dg.AssetExecutionContext,
        landing: dg.ResourceParam[Landing],
        warehouse: dg.ResourceParam[Warehouse],
    ):
        """Rows are stored with ``landing_province``, the folder's province (lineage);
        the file's own record count goes to ``raw.landed_files`` for reconciliation."""
        landing_file = landing.for_province(context.partition_key).file(role)
        df: pd.DataFrame = load_raw(landing_file)
        landed = landed_file_row(df)
        warehouse.for_province(context.partition_key).write_table(
            LANDED_FILES, landed, replace_where={"landing_role": role}
        )
        context.add_output_metadata(
            _described(context, landing_file, df.attrs.get("encoding", "unknown"), landed)
        )
        return df

    return raw_asset


def _raw_blocks_asset(role: str) -> dg.AssetsDefinition:
    @dg.asset(**_raw_spec(role, "; read and written a block of lines at a time"))
    def raw_asset(
        context: dg.AssetExecutionContext,
        landing: dg.ResourceParam[Landing],
        warehouse: dg.ResourceParam[Warehouse],
    ) -> dg.MaterializeResult:
        """As the other raw assets, but the file never whole in memory: each block of
        records is written as it is read, all in one transaction (a file that fails
        part way leaves the previous load)."""
        landing_file = landing.for_province(context.partition_key).file(role)
        warehouse = warehouse.for_province(context.partition_key)
        table, rows, last = f"raw.{role}", 0, None
        with warehouse.transaction() as con:
            for number, block in enumerate(load_raw_blocks(landing_file, BLOCK_LINES)):
                warehouse.write_table(table, block, con=con, append=number > 0)
                rows += len(block)
                last = block
                # The count so far, as the IO manager logs a table's (the progress bar).
                context.log.info(f"{table}: {rows:,} rows written")
            landed = landed_file_row(last)
            warehouse.write_table(
                LANDED_FILES, landed, con=con, replace_where={"landing_role": role}
            )
        encoding = last.attrs.get("encoding", "unknown")
        return dg.MaterializeResult(
            metadata={
                "table": table,
                "rows_written": rows,
                **row_count(rows),
                **_described(context, landing_file, encoding, landed),
            }
        )

    return raw_asset


def _described(
    context: dg.AssetExecutionContext,
    landing_file: LandingFile,
    encoding: str,
    landed: pd.DataFrame,
) -> dict[str, object]:
    """The load's metadata (counts and names, never a value); a warning in the run's
    log when records cannot be read."""
    file = landed.iloc[0]
    if int(file["unreadable_records"]):
        context.log.warning(
            f"{landing_file.path.name}: {int(file['unreadable_records'])} records cannot "
            "be read; staging rejects them with their row and reason"
        )
    return {
        "source_file": landing_file.path.name,
        "source_sha256": landing_file.sha256,
        "encoding": encoding,
        "rows": int(file["records"]),
        "data_lines": int(file["data_lines"]),
        "continuation_lines": int(file["continuation_lines"]),
        "unreadable_records": int(file["unreadable_records"]),
        "unrecognised_headers": file["unrecognised_headers"],
        **_workbook_metadata(file),
    }


def _workbook_metadata(file: pd.Series) -> dict[str, object]:
    """A workbook's layout: header row, rows skipped, records per data sheet and each
    skipped sheet with the reason (counts and sheet names only, never a value)."""
    if pd.isna(file["workbook_sheets"]):
        return {}
    sheets = json.loads(file["workbook_sheets"])
    return {
        "header_row": int(file["header_row_number"]),
        "rows_skipped": int(file["rows_skipped"]),
        "records_per_sheet": {s["sheet"]: s["records"] for s in sheets if "records" in s},
        "sheets_skipped": {s["sheet"]: s["skipped"] for s in sheets if "skipped" in s},
    }


# Roles no asset takes as an input (staging reads them from the warehouse in slices):
# loaded a block at a time, so a province of millions of persons is never one frame.
BLOCK_ROLES = ("persons",)
RAW_ASSETS = [
    _raw_blocks_asset(role) if role in BLOCK_ROLES else _raw_asset(role) for role in LANDING_ROLES
]
