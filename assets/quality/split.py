"""Person records split into clean and quarantined, inside the warehouse.

Most records are clean: they are copied from ``staging.persons`` to
``quality.persons_clean`` by one ``INSERT … SELECT`` per commune batch, never read into
Python. Only the few held records (an error-level issue of their own, or a household
record with one) are read, to attach their reasons. Which records are held is decided
in SQL from the stored ``quality.record_issues``, the same rows the asset depends on.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from assets.quality.batches import (
    BATCH_PERSONS,
    PERSONS,
    batch_condition,
    commune_batches,
    read_batch,
)
from assets.quality.holds import HOUSEHOLDS, held_household_kinds, member_hold_issues
from assets.quality.record_checks import split_clean_quarantined
from assets.warehouse import Session, Warehouse
from assets.warehouse.base import qualified_identifier, quote_identifier
from expectations.schemas import RECORD_PLACE, TABLES

ISSUES = "quality.record_issues"
CLEAN = TABLES["quality.persons_clean"]
QUARANTINED = TABLES["quality.persons_quarantined"]


@dataclass(frozen=True)
class SplitCounts:
    records_in: int
    records_clean: int
    records_quarantined: int
    batches: int


def _errors_of(warehouse: Warehouse, table_name: str, alias: str) -> tuple[str, list[object]]:
    """SQL: the province's error-level issues of one table (``table_name`` bound)."""
    rows, params = warehouse.rows_filter(ISSUES, alias)
    return (
        f"{alias}.table_name = ? AND {alias}.severity = 'error' AND {rows}",
        [table_name, *params],
    )


# The records held by their own error and the households held by their household
# record's, made once per split as temporary tables of its session, so each batch's two
# statements read them instead of evaluating the issue subqueries again.
HELD_RECORDS = "hamlets_held_records"
HELD_HOUSEHOLDS = "hamlets_held_households"


def hold_records(warehouse: Warehouse, con: Session) -> tuple[str, list[object]]:
    """SQL condition on a person row (columns ``record_id``, ``household_id``): it has an
    error-level issue, or its household record has one; never null. Valid in ``con``,
    where the held records and households are made."""
    own, own_params = _errors_of(warehouse, PERSONS, "i")
    theirs, theirs_params = _errors_of(warehouse, HOUSEHOLDS, "j")
    households, households_params = warehouse.rows_filter(HOUSEHOLDS, "h")
    con.scratch_table(
        HELD_RECORDS,
        f"SELECT DISTINCT i.record_id FROM {ISSUES} i WHERE {own} AND i.record_id IS NOT NULL",
        own_params,
    )
    con.scratch_table(
        HELD_HOUSEHOLDS,
        f"SELECT DISTINCT h.household_id FROM {HOUSEHOLDS} h "
        f"JOIN {ISSUES} j ON j.record_id = h.record_id WHERE {theirs} AND {households} "
        "AND h.household_id IS NOT NULL",
        [*theirs_params, *households_params],
    )
    return (
        f"(coalesce(record_id IN (SELECT record_id FROM {HELD_RECORDS}), FALSE) "
        f"OR coalesce(household_id IN (SELECT household_id FROM {HELD_HOUSEHOLDS}), FALSE))"
    ), []


def _copy_clean(warehouse: Warehouse, con: Session, where: str, params: list[object]) -> None:
    """Copy the staged person rows ``where`` selects to ``quality.persons_clean``, in file
    order, with the province's partition column when the warehouse has one."""
    partition = warehouse.partition(CLEAN.qualified_name)
    columns = [*([partition[0]] if partition else []), *CLEAN.columns]
    names = ", ".join(quote_identifier(c) for c in columns)
    order = ", ".join(quote_identifier(c) for c in RECORD_PLACE)
    con.execute(
        f"INSERT INTO {qualified_identifier(CLEAN.qualified_name)} ({names}) "
        f"SELECT {names} FROM {PERSONS} WHERE {where} ORDER BY {order}",
        params,
    )


def _count(warehouse: Warehouse, con: Session, table: str) -> int:
    rows, params = warehouse.rows_filter(table)
    return int(con.query_df(f"SELECT count(*) AS n FROM {table} WHERE {rows}", params)["n"][0])


def split_persons_by_commune(
    warehouse: Warehouse, con: Session, max_persons: int = BATCH_PERSONS
) -> SplitCounts:
    """Write ``quality.persons_clean`` and ``quality.persons_quarantined`` batch by batch
    (in ``con``'s transaction) from the stored ``quality.record_issues``: records with an
    error-level issue, or whose household record has one, are quarantined with their
    reasons, the rest are clean, and nothing is dropped.

    Raises ValueError when an issue names a person record that is not staged: the
    issues and the records would be of different runs.
    """
    own, own_params = _errors_of(warehouse, PERSONS, "i")
    persons, persons_params = warehouse.rows_filter(PERSONS)
    strangers = con.query_df(
        f"SELECT count(*) AS n FROM {ISSUES} i WHERE {own} AND i.record_id NOT IN "
        f"(SELECT record_id FROM {PERSONS} WHERE {persons} AND record_id IS NOT NULL)",
        [*own_params, *persons_params],
    )["n"][0]
    if strangers:
        raise ValueError(
            f"{int(strangers)} person issues name records that are not in "
            f"{PERSONS}; materialise quality/record_issues again"
        )
    issues = warehouse.read_table(
        ISSUES,
        con=con,
        columns=["table_name", "record_id", "rule", "field_name", "severity"],
        where="severity = 'error'",
    )
    person_errors = issues[issues["table_name"].eq(PERSONS)]
    # Members of a held household are held with it (assets.quality.holds).
    held_kinds = held_household_kinds(
        issues,
        warehouse.read_table(HOUSEHOLDS, con=con, columns=["record_id", "household_id"]),
    )
    for table in (CLEAN, QUARANTINED):  # the province's rows replaced, then appended
        empty = table.enforce(pd.DataFrame({c: [] for c in table.columns}))
        warehouse.write_table(table.qualified_name, empty, con=con)
    held, held_params = hold_records(warehouse, con)
    quarantined_rows = 0
    batches = commune_batches(warehouse, con, PERSONS, max_persons)
    for batch in batches:
        where, params = batch_condition(batch)
        rows = read_batch(warehouse, con, PERSONS, batch, only=(held, held_params))
        reasons = person_errors[person_errors["record_id"].isin(rows["record_id"])]
        members = member_hold_issues(rows, held_kinds)
        if len(members):
            reasons = pd.concat([reasons, members[reasons.columns]], ignore_index=True)
        clean, quarantined = split_clean_quarantined(rows, reasons)
        if len(clean):
            raise RuntimeError("a record held in SQL has no error-level issue to hold it by")
        quarantined = QUARANTINED.enforce(quarantined[list(QUARANTINED.columns)])
        warehouse.write_table(QUARANTINED.qualified_name, quarantined, con=con, append=True)
        quarantined_rows += len(quarantined)
        _copy_clean(
            warehouse,
            con,
            f"({where}) AND {persons} AND NOT {held}",
            [*params, *persons_params, *held_params],
        )
    return SplitCounts(
        records_in=_count(warehouse, con, PERSONS),
        records_clean=_count(warehouse, con, CLEAN.qualified_name),
        records_quarantined=quarantined_rows,
        batches=len(batches),
    )
