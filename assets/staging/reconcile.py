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
    with warehouse.connect(read_only=True) as con:
        columns = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
        has_lineage = "source_file" in columns
        frames = []
        for raw in raw_tables:
            landed = con.execute(
                f"SELECT source_file, count(*) AS landed FROM {raw} GROUP BY source_file"
            ).df()
            if has_lineage:
                staged = con.execute(
                    f"SELECT source_file, count(*) AS staged FROM {table} GROUP BY source_file"
                ).df()
            else:
                total = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                staged = landed[["source_file"]].assign(staged=total)
            rejected = con.execute(
                f"SELECT source_file, count(*) AS rejected FROM {rejected_table} "
                "WHERE table_name = ? GROUP BY source_file",
                [table],
            ).df()
            frames.append(
                landed.merge(staged, on="source_file", how="left").merge(
                    rejected, on="source_file", how="left"
                )
            )
    counts = pd.concat(frames, ignore_index=True).fillna({"staged": 0, "rejected": 0})
    counts["balanced"] = counts["landed"] == counts["staged"] + counts["rejected"]
    return counts
