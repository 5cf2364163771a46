"""Staging a large landed table a slice of rows at a time.

Staging persons is row by row in its logic (every rule is vectorised, none compares
two rows), so a province's person file is staged in slices of landed rows and appended,
in one transaction: at most one slice is in memory, and a failure leaves the previous
run's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pandas as pd

from assets.staging.readings import VALUE_READINGS, combine_readings, readings_summary
from assets.staging.tables import Staged
from assets.warehouse import Session, Warehouse

# Landed rows staged at a time: about 0.3 GB of text and typed frames.
CHUNK_ROWS = 250_000
REJECTED_ROWS = "staging.rejected_rows"


def raw_chunks(
    warehouse: Warehouse, con: Session, raw_table: str, rows: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The province's landed rows, file by file and in row order, ``rows`` at a time."""
    where, params = warehouse.rows_filter(raw_table)
    files = con.query_df(
        "SELECT source_file, min(source_row_number) AS first, max(source_row_number) AS last "
        f"FROM {raw_table} WHERE {where} GROUP BY source_file ORDER BY min(load_id), source_file",
        params,
    )
    if files.empty:
        yield warehouse.read_table(raw_table, con=con, where="FALSE")
        return
    for source_file, first, last in files.itertuples(index=False):
        for start in range(int(first), int(last) + 1, rows):
            chunk = warehouse.read_table(
                raw_table,
                con=con,
                where="source_file = ? AND source_row_number BETWEEN ? AND ?",
                params=[source_file, start, start + rows - 1],
            )
            yield chunk.sort_values("source_row_number", ignore_index=True)


@dataclass(frozen=True)
class StagedCounts:
    """What a chunked staging wrote: rows staged and rejected, notes, chunks read."""

    rows: int
    rows_rejected: int
    notes: dict[str, str]
    chunks: int


def stage_in_chunks(
    warehouse: Warehouse,
    con: Session,
    raw_table: str,
    table: str,
    stage: Callable[[pd.DataFrame], Staged],
    rows: int = CHUNK_ROWS,
) -> StagedCounts:
    """Stage ``raw_table`` into ``table`` chunk by chunk, with its rejected rows (in
    ``con``'s transaction; the first chunk replaces the province's rows)."""
    staged_rows = rejected_rows = chunks = 0
    notes: dict[str, str] = {}
    readings: list[pd.DataFrame | None] = []
    for number, raw in enumerate(raw_chunks(warehouse, con, raw_table, rows)):
        staged = stage(raw)
        warehouse.write_table(table, staged.table, con=con, append=number > 0)
        warehouse.write_table(
            REJECTED_ROWS,
            staged.rejected,
            con=con,
            replace_where={"table_name": table},
            append=number > 0,
        )
        staged_rows += len(staged.table)
        rejected_rows += len(staged.rejected)
        notes |= staged.notes
        readings.append(staged.readings)
        chunks += 1
    combined = combine_readings(readings)
    warehouse.write_table(VALUE_READINGS, combined, con=con, replace_where={"table_name": table})
    return StagedCounts(staged_rows, rejected_rows, notes | readings_summary(combined), chunks)
