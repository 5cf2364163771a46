"""Reconcile landed rows with staged and rejected rows, file by file (nothing lost)."""

from __future__ import annotations

import pandas as pd

from assets.raw.landing import LANDED_FILES
from assets.warehouse import Warehouse


def reconcile_counts(
    warehouse: Warehouse, table: str, raw_tables: tuple[str, ...], rejected_table: str
) -> pd.DataFrame:
    """Per landed file: records in the file, rows landed, staged and rejected, and
    whether they balance.

    ``in_file`` is what the file itself holds, counted by the raw reader from its lines
    (or sheet rows, or features) apart from any parser's view: its data lines less the
    lines that continue a quoted cell. A reader that swallowed lines, or a raw table
    missing rows, leaves it unequal to ``landed``.

    A staged table with lineage counts its rows per source file; one without (hamlets,
    which pairs a registry row with a boundary feature) counts each staged row once
    against each file it came from.
    """
    layer, name = table.split(".", 1)
    with warehouse.connect() as con:
        columns = con.query_df(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [layer, name],
        )["column_name"]
        has_lineage = "source_file" in set(columns)
        frames = []
        staged_rows, staged_params = warehouse.rows_filter(table)
        rejected_rows, rejected_params = warehouse.rows_filter(rejected_table)
        files_rows, files_params = warehouse.rows_filter(LANDED_FILES)
        for raw in raw_tables:
            landed_rows, landed_params = warehouse.rows_filter(raw)
            landed = con.query_df(
                f"SELECT source_file, count(*) AS landed FROM {raw} WHERE {landed_rows} "
                "GROUP BY source_file",
                landed_params,
            )
            in_file = con.query_df(
                "SELECT source_file, data_lines - continuation_lines AS in_file "
                f"FROM {LANDED_FILES} WHERE landing_role = ? AND {files_rows}",
                [raw.removeprefix("raw."), *files_params],
            )
            landed = in_file.merge(landed, on="source_file", how="outer")
            if has_lineage:
                staged = con.query_df(
                    f"SELECT source_file, count(*) AS staged FROM {table} WHERE {staged_rows} "
                    "GROUP BY source_file",
                    staged_params,
                )
            else:
                total = con.query_df(
                    f"SELECT count(*) AS n FROM {table} WHERE {staged_rows}", staged_params
                )["n"].iloc[0]
                staged = landed[["source_file"]].assign(staged=int(total))
            rejected = con.query_df(
                f"SELECT source_file, count(*) AS rejected FROM {rejected_table} "
                f"WHERE table_name = ? AND {rejected_rows} GROUP BY source_file",
                [table, *rejected_params],
            )
            frames.append(
                landed.merge(staged, on="source_file", how="left").merge(
                    rejected, on="source_file", how="left"
                )
            )
    counts = pd.concat(frames, ignore_index=True)
    for column in ("in_file", "landed", "staged", "rejected"):
        counts[column] = pd.to_numeric(counts[column]).fillna(0).astype("int64")
    counts["balanced"] = (counts["in_file"] == counts["landed"]) & (
        counts["landed"] == counts["staged"] + counts["rejected"]
    )
    return counts
