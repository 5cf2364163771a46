"""Reconcile landed rows with staged and rejected rows, file by file (nothing lost)."""

from __future__ import annotations

import pandas as pd

from assets.warehouse import Warehouse


def reconcile_counts(
    warehouse: Warehouse, table: str, raw_tables: tuple[str, ...], rejected_table: str
) -> pd.DataFrame:
    """Per landed file: rows landed, staged and rejected, and whether they balance.

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
        for raw in raw_tables:
            landed = con.query_df(
                f"SELECT source_file, count(*) AS landed FROM {raw} GROUP BY source_file"
            )
            if has_lineage:
                staged = con.query_df(
                    f"SELECT source_file, count(*) AS staged FROM {table} GROUP BY source_file"
                )
            else:
                total = int(con.query_df(f"SELECT count(*) AS n FROM {table}")["n"].iloc[0])
                staged = landed[["source_file"]].assign(staged=total)
            rejected = con.query_df(
                f"SELECT source_file, count(*) AS rejected FROM {rejected_table} "
                "WHERE table_name = ? GROUP BY source_file",
                [table],
            )
            frames.append(
                landed.merge(staged, on="source_file", how="left").merge(
                    rejected, on="source_file", how="left"
                )
            )
    counts = pd.concat(frames, ignore_index=True).fillna({"staged": 0, "rejected": 0})
    counts["balanced"] = counts["landed"] == counts["staged"] + counts["rejected"]
    return counts
