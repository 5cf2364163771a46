"""Person records of one province, a few communes at a time.

A large province's person table need not fit in memory: the person steps read it in
batches of whole communes. Each record belongs to the commune of its household (through
the household's hamlet); records whose household or hamlet is unknown form one batch of
their own. So all members of a household share a batch and household rules see whole
households. The few rules that compare records across communes (shared record keys and
citizen IDs, probable duplicate clusters) read only the records they concern.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from assets.quality.settings import QualitySettings
from assets.quality.validate import (
    duplicate_cluster_issues,
    finish_issues,
    household_table_issues,
    person_issues,
    shared_key_issues,
)
from assets.warehouse import Session, Warehouse
from expectations.schemas import RECORD_PLACE

# Persons per batch: about 0.5 GB of frames and rule work at a time.
BATCH_PERSONS = 200_000
PERSONS = "staging.persons"


@dataclass(frozen=True)
class CommuneBatch:
    """Communes read together (none: the records that no commune can be found for)."""

    communes: tuple[str, ...]
    persons: int

    @property
    def label(self) -> str:
        if not self.communes:
            return "records without a known commune"
        return f"communes {self.communes[0]}–{self.communes[-1]} ({len(self.communes)})"


# Each household ID with a known commune, made once per step by
# :func:`commune_batches` as a temporary table of its session, so a batch's condition
# reads it rather than joining every household to its hamlet again (at 14 M persons,
# 86 batches each joined and grouped 3.5 M households: 1.5 s a batch, 0.02 s now).
PLACED = "hamlets_placed_households"


def _place_households(warehouse: Warehouse, con: Session) -> None:
    """Fill ``PLACED``: each household ID with a known commune, and that commune (the
    smallest code when an ID or a hamlet code is repeated, so every ID has exactly one)."""
    households, households_params = warehouse.rows_filter("staging.households", "h")
    hamlets, hamlets_params = warehouse.rows_filter("staging.hamlets", "m")
    con.scratch_table(
        PLACED,
        "SELECT h.household_id, min(m.commune_code) AS commune_code "
        "FROM staging.households h JOIN staging.hamlets m "
        f"ON m.hamlet_code = h.hamlet_code AND {hamlets} "
        f"WHERE {households} AND h.household_id IS NOT NULL AND m.commune_code IS NOT NULL "
        "GROUP BY h.household_id",
        [*hamlets_params, *households_params],
    )


def batch_condition(batch: CommuneBatch) -> tuple[str, list[object]]:
    """SQL condition on ``household_id`` selecting a batch's rows of any table keyed by
    household (persons, households, clean and quarantined persons), in the session
    :func:`commune_batches` made the batches in."""
    if not batch.communes:
        unplaced = f"household_id NOT IN (SELECT household_id FROM {PLACED})"
        return f"household_id IS NULL OR {unplaced}", []
    marks = ", ".join("?" for _ in batch.communes)
    return (
        f"household_id IN (SELECT household_id FROM {PLACED} WHERE commune_code IN ({marks}))",
        list(batch.communes),
    )


def commune_batches(
    warehouse: Warehouse, con: Session, table: str = PERSONS, max_persons: int = BATCH_PERSONS
) -> list[CommuneBatch]:
    """Communes packed in code order into batches of at most ``max_persons`` records
    (a larger commune is a batch alone), then the batch of records without a commune
    (also when there is no record at all, so a run always has one batch). Places the
    households in ``con`` for :func:`batch_condition` and :func:`read_batch`."""
    _place_households(warehouse, con)
    rows, rows_params = warehouse.rows_filter(table, "r")
    counts = con.query_df(
        f"SELECT p.commune_code, count(*) AS persons FROM {table} r "
        f"LEFT JOIN {PLACED} p ON p.household_id = r.household_id "
        f"WHERE {rows} GROUP BY p.commune_code ORDER BY p.commune_code",
        rows_params,
    )
    batches: list[CommuneBatch] = []
    communes: list[str] = []
    size = 0
    for code, persons in zip(counts["commune_code"], counts["persons"], strict=True):
        if pd.isna(code):
            continue
        if communes and size + persons > max_persons:
            batches.append(CommuneBatch(tuple(communes), size))
            communes, size = [], 0
        communes.append(str(code))
        size += int(persons)
    if communes:
        batches.append(CommuneBatch(tuple(communes), size))
    unplaced = counts.loc[counts["commune_code"].isna(), "persons"].sum()
    if unplaced or not batches:
        batches.append(CommuneBatch((), int(unplaced)))
    return batches


def in_file_order(df: pd.DataFrame) -> pd.DataFrame:
    """Rows as landed (file, then row): rules such as "the first head listed" rely on
    it, and SQL returns a filtered read in no particular order."""
    return df.sort_values(list(RECORD_PLACE), kind="stable", ignore_index=True)


def read_batch(
    warehouse: Warehouse,
    con: Session,
    table: str,
    batch: CommuneBatch,
    only: tuple[str, list[object]] | None = None,
) -> pd.DataFrame:
    """One batch's rows of a table keyed by household, in file order; with ``only`` (a
    SQL condition and its parameters), just the rows it also selects."""
    where, params = batch_condition(batch)
    if only is not None:
        where, params = f"({where}) AND {only[0]}", [*params, *only[1]]
    return in_file_order(warehouse.read_table(table, con=con, where=where, params=params))


def record_issues_by_commune(
    warehouse: Warehouse,
    con: Session,
    settings: QualitySettings,
    reconciliation: pd.DataFrame,
    duplicates: pd.DataFrame | None = None,
    max_persons: int = BATCH_PERSONS,
) -> tuple[pd.DataFrame, list[CommuneBatch]]:
    """``quality.record_issues`` for a province, equal to
    :func:`assets.quality.validate.quality_issues` on its whole tables.

    ``duplicates`` are the province's ``quality.probable_duplicates``, also read from
    the warehouse for their records. Returns the issues and the batches read.
    """
    households = warehouse.read_table("staging.households", con=con)
    hamlets = warehouse.read_table("staging.hamlets", con=con)
    # Kinds follow the commune (thôn in a xã, TDP in a phường).
    communes = warehouse.read_table(
        "staging.communes", con=con, columns=["commune_code", "unit_kind"]
    )
    frames = [household_table_issues(households, hamlets, settings, reconciliation, communes)]
    rows, params = warehouse.rows_filter(PERSONS)
    shared = warehouse.read_table(
        PERSONS,
        con=con,
        where=" OR ".join(
            f"{key} IN (SELECT {key} FROM {PERSONS} WHERE {rows} "
            f"GROUP BY {key} HAVING count(*) > 1)"
            for key in ("record_id", "citizen_id")
        ),
        params=[*params, *params],
    )
    frames.append(shared_key_issues(in_file_order(shared), households, hamlets))
    if duplicates is not None and len(duplicates):
        clustered, clustered_params = warehouse.rows_filter("quality.probable_duplicates")
        members = warehouse.read_table(
            PERSONS,
            con=con,
            where="record_id IN (SELECT record_id FROM quality.probable_duplicates "
            f"WHERE {clustered})",
            params=clustered_params,
        )
        frames.append(
            duplicate_cluster_issues(duplicates, in_file_order(members), households, hamlets)
        )
    batches = commune_batches(warehouse, con, PERSONS, max_persons)
    for batch in batches:
        persons = read_batch(warehouse, con, PERSONS, batch)
        in_batch = read_batch(warehouse, con, "staging.households", batch)
        frames.append(person_issues(persons, in_batch, hamlets, settings))
    return finish_issues(frames, hamlets), batches
