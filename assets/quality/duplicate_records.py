"""The person records the duplicate model compares, as a table of a DuckDB database.

A province's records are read a slice at a time and appended to one DuckDB table in the
form Splink compares (``splink_input``), so no whole-province pandas frame exists: at
14 M persons two such frames (the staged columns and their compared forms) were some
10 GB, while DuckDB keeps the table compressed and spills to a temporary directory.

Each distinct name's forms (as written, folded, as a word set, family and given name)
are computed in Python once, when a slice first brings the name, and joined to the
records by SQL; the forms of IDs and birth dates are computed per slice, vectorised.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from assets.warehouse import Warehouse
from expectations.citizen_id import citizen_id_consistent
from expectations.schemas import fold_text

# The person columns the model reads.
SPLINK_COLUMNS = (
    "record_id",
    "household_id",
    "full_name",
    "birth_date",
    "sex",
    "citizen_id",
    "ethnicity",
)
PERSONS = "staging.persons"
# Records read from the warehouse at once (some 100 MB of frames).
SLICE_PERSONS = 200_000
# The tables of the model's database: the distinct names' forms and the records, stored
# in the attached file and seen through a view (Splink reads a table's columns by its
# unqualified name).
STORE = "store"
NAMES, RECORDS, STORED = "name_forms", "persons_records", f"{STORE}.persons_records"


def _name_key(folded: str) -> str:
    """The folded name's words in order, y written i: a swapped given and middle name,
    and the y/i alternation ("Vy"/"Vi", "Thúy"/"Thúi"), meet."""
    return " ".join(sorted(folded.replace("y", "i").split()))


def name_forms(names: pd.Series) -> pd.DataFrame:
    """Per distinct name (``full_name`` as stored): the forms the model compares, as
    written (lower-cased, NFC, single-spaced), folded (``fold_text``: no diacritics,
    punctuation or case), as a word set (``_name_key``), and its first and last folded
    words. Missing names are dropped."""
    distinct = pd.unique(names.dropna().astype("string"))
    spaced = [" ".join(str(n).lower().split()) for n in distinct]
    folds = [fold_text(n) for n in spaced]
    return pd.DataFrame(
        {
            "full_name": pd.array(distinct, dtype="string"),
            "name": pd.array(spaced, dtype="string"),
            "name_folded": pd.array(folds, dtype="string"),
            "name_key": pd.array([_name_key(f) for f in folds], dtype="string"),
            "family_folded": pd.array([f.split(" ")[0] for f in folds], dtype="string"),
            "given_folded": pd.array([f.split(" ")[-1] for f in folds], dtype="string"),
        }
    )


def record_fields(persons: pd.DataFrame) -> pd.DataFrame:
    """Per person record, the fields the model compares but the name's forms: citizen ID
    trimmed (empty: missing), whether it is an old 9-digit number or a valid 12-digit one
    (``citizen_id_consistent``), birth date as a day and its year."""
    births = pd.to_datetime(persons["birth_date"], errors="coerce")
    ids = persons["citizen_id"].astype("string").str.strip().replace("", pd.NA)
    old = ids.str.fullmatch(r"\d{9}").fillna(False).astype(bool)
    valid = ids.str.fullmatch(r"\d{12}").fillna(False).astype(bool) & citizen_id_consistent(
        ids, persons["sex"], persons["birth_date"]
    )
    return pd.DataFrame(
        {
            "unique_id": persons["record_id"].astype("string").to_numpy(),
            "household_id": persons["household_id"].astype("string").to_numpy(),
            "full_name": persons["full_name"].astype("string").to_numpy(),
            "birth_date": births.dt.normalize().to_numpy(),
            "birth_year": births.dt.year.astype("Int64").to_numpy(),
            "sex": persons["sex"].astype("string").to_numpy(),
            "citizen_id": ids.to_numpy(),
            "old_id": old.to_numpy(),
            "valid_id": valid.to_numpy(),
            "ethnicity": persons["ethnicity"].astype("string").to_numpy(),
        }
    )


# The model's columns, in order; the name's forms come from ``name_forms``.
_FORM_COLUMNS = ("name", "name_folded", "name_key", "family_folded", "given_folded")
_SELECT_RECORDS = (
    "SELECT r.unique_id, r.household_id, n.name, n.name_folded, n.name_key, "
    "n.family_folded, n.given_folded, r.birth_date, r.birth_year, r.sex, r.citizen_id, "
    "r.old_id, r.valid_id, r.ethnicity "
    f"FROM records_slice r LEFT JOIN {NAMES} n ON n.full_name = r.full_name"
)


def splink_input(persons: pd.DataFrame) -> pd.DataFrame:
    """One row per person record in the form the model compares (the columns of
    ``SplinkRecords``), as a pandas frame: for a sample or a small province."""
    records = record_fields(persons)
    forms = name_forms(records["full_name"]).set_index("full_name")
    # Each distinct name's forms spread by position: one hash pass over the records.
    at = forms.index.get_indexer(records["full_name"].fillna(""))
    named = records["full_name"].notna().to_numpy()
    at[~named] = -1
    for column in _FORM_COLUMNS:
        records[column] = forms[column].array.take(at, allow_fill=True).to_numpy()
    return records[
        [
            "unique_id",
            "household_id",
            *_FORM_COLUMNS,
            "birth_date",
            "birth_year",
            "sex",
            "citizen_id",
            "old_id",
            "valid_id",
            "ethnicity",
        ]
    ]


@dataclass(frozen=True)
class SplinkRecords:
    """The province's records in the model's form: a table of a DuckDB connection."""

    con: duckdb.DuckDBPyConnection
    table: str = RECORDS

    def __len__(self) -> int:
        return int(self.con.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0])

    def query(self, sql: str, params: list[object] | None = None) -> pd.DataFrame:
        """A read query; ``records`` names the table."""
        return self.con.execute(f"WITH records AS (FROM {self.table}) {sql}", params).df()

    def row(self, sql: str, params: list[object] | None = None) -> tuple:
        """The first row of a read query; ``records`` names the table."""
        return self.con.execute(f"WITH records AS (FROM {self.table}) {sql}", params).fetchone()

    def at_positions(self, positions: np.ndarray) -> pd.DataFrame:
        """``name_folded`` and ``name_key`` of the named records at ``positions`` (sorted,
        distinct) in key order, indexed by position: a sample, not the province."""
        self.con.register("positions", pd.DataFrame({"position": positions}))
        try:
            return (
                self.con.execute(
                    "SELECT p.position, r.name_folded, r.name_key FROM (SELECT row_number() "
                    "OVER (ORDER BY unique_id) - 1 AS position, name_folded, name_key "
                    f"FROM {self.table} WHERE name IS NOT NULL) r "
                    "JOIN positions p ON p.position = r.position ORDER BY p.position"
                )
                .df()
                .set_index("position")
            )
        finally:
            self.con.unregister("positions")

    def of(self, unique_ids: pd.Series, columns: list[str]) -> pd.DataFrame:
        """Some records' ``columns`` (with ``unique_id``), in key order: the few records
        of linked pairs, never a copy of the province."""
        wanted = pd.DataFrame({"unique_id": pd.unique(unique_ids.dropna().astype("string"))})
        self.con.register("wanted_ids", wanted)
        try:
            selected = ", ".join(f"r.{c}" for c in ["unique_id", *columns])
            found = self.con.execute(
                f"SELECT {selected} FROM {self.table} r SEMI JOIN wanted_ids w "
                "ON w.unique_id = r.unique_id ORDER BY r.unique_id"
            ).df()
        finally:
            self.con.unregister("wanted_ids")
        text = [c for c in found.columns if c not in ("birth_date", "birth_year")]
        return found.astype({c: "string" for c in text})


@contextmanager
def model_database(memory_limit: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB database for the model, in a temporary directory of its own (never the
    working tree), removed with it. The records' table is in a file attached as
    ``STORE``: DuckDB compresses it (a name repeats across many records) and evicts its
    blocks when it nears ``memory_limit``. Splink's own tables (a band's pairs, their
    scores) stay in memory, uncompressed: they are a band's, and compressing them cost
    a fifth more CPU."""
    with tempfile.TemporaryDirectory(prefix="hamlets-duplicates-") as folder:
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET temp_directory = ?", [str(Path(folder) / "spill")])
            con.execute("SET preserve_insertion_order = false")
            if memory_limit:
                con.execute("SET memory_limit = ?", [memory_limit])
            # ATTACH takes no parameter; the path is ours (tempfile's), quoted as a literal.
            store = str(Path(folder) / "records.duckdb").replace("'", "''")
            con.execute(f"ATTACH '{store}' AS {STORE}")
            yield con
        finally:
            con.close()


def load_records(con: duckdb.DuckDBPyConnection, slices: Iterable[pd.DataFrame]) -> SplinkRecords:
    """Append slices of person records (``SPLINK_COLUMNS``) to the model's table; a
    name's forms are computed once, by the first slice that brings it."""
    con.execute(
        f"CREATE OR REPLACE TABLE {NAMES} (full_name VARCHAR PRIMARY KEY, "
        + ", ".join(f"{c} VARCHAR" for c in _FORM_COLUMNS)
        + ")"
    )
    none = pd.DataFrame({c: pd.Series([], dtype="string") for c in SPLINK_COLUMNS})
    created = False
    for persons in slices:
        _append(con, persons, created)
        created = True
    if not created:
        _append(con, none, created)
    return SplinkRecords(con)


def _append(con: duckdb.DuckDBPyConnection, persons: pd.DataFrame, created: bool) -> None:
    """Append one slice (the first creates the table, typed as ``record_fields``)."""
    con.register("records_slice", record_fields(persons))
    try:
        new = con.execute(
            f"SELECT DISTINCT r.full_name FROM records_slice r ANTI JOIN {NAMES} n "
            "ON n.full_name = r.full_name WHERE r.full_name IS NOT NULL"
        ).df()
        con.register("new_names", name_forms(new["full_name"]))
        try:
            con.execute(f"INSERT INTO {NAMES} SELECT * FROM new_names")
        finally:
            con.unregister("new_names")
        into = f"INSERT INTO {STORED} " if created else f"CREATE TABLE {STORED} AS "
        con.execute(into + _SELECT_RECORDS)
        if not created:
            con.execute(f"CREATE VIEW {RECORDS} AS SELECT * FROM {STORED}")
    finally:
        con.unregister("records_slice")


def records_from_frame(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> SplinkRecords:
    """The model's table from records already in its form (``splink_input`` rows)."""
    con.register("records_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {STORED} AS SELECT * FROM records_frame")
        con.execute(f"CREATE OR REPLACE VIEW {RECORDS} AS SELECT * FROM {STORED}")
    finally:
        con.unregister("records_frame")
    return SplinkRecords(con)


def person_slices(warehouse: Warehouse, max_persons: int = SLICE_PERSONS) -> Iterator[pd.DataFrame]:
    """The province's staged persons (``SPLINK_COLUMNS``), a range of landed rows at a
    time (each file's row numbers cut into ranges of ``max_persons``), then the records
    without a row number; one connection, open until the last slice is read.

    Ranges of row numbers, not batches of communes (``assets.quality.batches``): a
    commune batch joins the households and hamlets and scans the persons once per batch,
    which grows with the square of the province; a range reads only its own rows."""
    rows, params = warehouse.rows_filter(PERSONS)
    with warehouse.connect() as con:
        files = con.query_df(
            "SELECT source_file, min(source_row_number) AS first, "
            f"max(source_row_number) AS last FROM {PERSONS} WHERE {rows} "
            "AND source_file IS NOT NULL AND source_row_number IS NOT NULL "
            "GROUP BY source_file ORDER BY source_file",
            params,
        )
        step = max(int(max_persons), 1)
        ranges: list[tuple[str, list[object]]] = [
            ("source_file = ? AND source_row_number BETWEEN ? AND ?", [name, low, low + step - 1])
            for name, first, last in files.itertuples(index=False)
            for low in range(int(first), int(last) + 1, step)
        ]
        ranges.append(("source_file IS NULL OR source_row_number IS NULL", []))
        for where, range_params in ranges:
            yield warehouse.read_table(
                PERSONS, con=con, columns=list(SPLINK_COLUMNS), where=where, params=range_params
            )
