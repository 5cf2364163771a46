"""Staging a large landed table a slice of rows at a time.

Staging persons is row by row in its logic (every rule is vectorised, none compares
two rows), so a province's person file is staged in slices of landed rows and appended,
in one transaction: at most one slice is in memory, and a failure leaves the previous
run's rows.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pandas as pd

from assets.staging.dates import DateForms, DateOrders, order_evidence, reference_date
from assets.staging.readings import VALUE_READINGS, combine_readings, readings_summary
from assets.staging.tables import Staged, stage_persons
from assets.warehouse import Session, Warehouse

# Landed rows staged at a time: about 0.3 GB of text and typed frames.
CHUNK_ROWS = 250_000
REJECTED_ROWS = "staging.rejected_rows"


def raw_chunks(
    warehouse: Warehouse,
    con: Session,
    raw_table: str,
    rows: int = CHUNK_ROWS,
    columns: Sequence[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """The province's landed rows, file by file and in row order, ``rows`` at a time
    (only ``columns`` when given)."""
    where, params = warehouse.rows_filter(raw_table)
    files = con.query_df(
        "SELECT source_file, min(source_row_number) AS first, max(source_row_number) AS last "
        f"FROM {raw_table} WHERE {where} GROUP BY source_file ORDER BY min(load_id), source_file",
        params,
    )
    if files.empty:
        yield warehouse.read_table(raw_table, con=con, columns=columns, where="FALSE")
        return
    for source_file, first, last in files.itertuples(index=False):
        for start in range(int(first), int(last) + 1, rows):
            chunk = warehouse.read_table(
                raw_table,
                con=con,
                columns=columns,
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


def date_orders_of(
    warehouse: Warehouse,
    con: Session,
    raw_table: str,
    column: str,
    *,
    as_of: dt.date,
    rows: int = CHUNK_ROWS,
    forms: DateForms | None = None,
) -> DateOrders:
    """The day/month order of each landed file and block, from the whole file's
    ``column`` read a slice at a time: a file's order is the file's, not a slice's, and
    a block may run across slices. Rows the raw layer could not read give no evidence.
    ``forms`` (of the same ``as_of``) keeps the values read for the staging pass."""
    lineage = ("source_file", "source_row_number", "read_problem", column)
    evidence = [
        order_evidence(chunk[chunk["read_problem"].isna()], column, as_of, forms)
        for chunk in raw_chunks(warehouse, con, raw_table, rows, columns=lineage)
    ]
    return DateOrders.from_evidence(pd.concat(evidence, ignore_index=True))


def stage_persons_in_chunks(
    warehouse: Warehouse, con: Session, *, as_of: dt.date | None = None, rows: int = CHUNK_ROWS
) -> StagedCounts:
    """``staging.persons`` from ``raw.persons`` in slices, birth dates read in the order
    of their whole file (two passes: the evidence, then the staging; each distinct date
    parsed once for both)."""
    as_of = reference_date(as_of)
    forms = DateForms(as_of)
    orders = date_orders_of(
        warehouse, con, "raw.persons", "birth_date", as_of=as_of, rows=rows, forms=forms
    )
    stage = functools.partial(stage_persons, as_of=as_of, date_orders=orders, date_forms=forms)
    return stage_in_chunks(warehouse, con, "raw.persons", "staging.persons", stage, rows)
