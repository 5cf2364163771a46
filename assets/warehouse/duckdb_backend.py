"""The embedded warehouse: a DuckDB file with the spatial extension from its PyPI wheel."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import duckdb
import geopandas as gpd
import pandas as pd
import pyarrow as pa
import shapely

from assets.warehouse.base import (
    Partition,
    WarehouseError,
    Where,
    check_columns,
    check_scratch_name,
    columns_to_add,
    create_table_sql,
    fit_for_storage,
    from_storage,
    key_violation,
    qualified_identifier,
    quote_identifier,
    read_condition,
)
from expectations.schemas import DUCKDB_TYPES, LAYERS
from geodata.crs import STORAGE_CRS

_LOCK_RETRY_SECONDS = 30.0
_ARROW_TO_PANDAS = {
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.int32(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def spatial_extension_path() -> Path:
    """The spatial extension file shipped in the duckdb-extension-spatial wheel."""
    # A path, not a Traversable: DuckDB's LOAD takes a file name (wheels install unzipped).
    root = Path(str(files("duckdb_extension_spatial").joinpath("extensions")))
    candidates = sorted(root.glob(f"v{duckdb.__version__}/*.duckdb_extension"))
    if not candidates:
        raise WarehouseError(
            f"no spatial extension for duckdb {duckdb.__version__} under {root}; "
            "reinstall with `make` so duckdb and duckdb-extension-spatial match"
        )
    return candidates[0]


# Memory a kept database may hold while none of its sessions is open (the indexes of the
# keyed tables a step wrote, blocks it read) before it is closed and opened afresh: at
# 14 M persons the keyed person tables' indexes alone are gigabytes, which a database
# kept for the whole run would hold to its end.
KEPT_MEMORY_BYTES = 256 * 1024**2


@dataclass
class _KeptDatabase:
    """A warehouse this process keeps open: the connection holding its database, and
    how many sessions are open on it now."""

    path: Path
    con: duckdb.DuckDBPyConnection
    sessions: int = 0

    @classmethod
    def open(cls, path: Path) -> _KeptDatabase:
        return cls(path, _opened(path, read_only=False))

    def session_closed(self) -> None:
        """Between sessions, open the database afresh if it holds more than
        ``KEPT_MEMORY_BYTES`` (closing its last connection frees all of it)."""
        self.sessions -= 1
        if self.sessions or self.memory_bytes() <= KEPT_MEMORY_BYTES:
            return
        self.con.close()
        self.con = _opened(self.path, read_only=False)

    def memory_bytes(self) -> int:
        used = self.con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()
        return int(used[0] or 0)


# The warehouses this process keeps open (``kept_open``), by resolved file.
_KEPT: dict[Path, _KeptDatabase] = {}
_KEPT_LOCK = threading.Lock()


@contextmanager
def kept_open(path: Path) -> Iterator[None]:
    """Keep the warehouse's database open in this process for the block.

    Opening the file makes a new DuckDB database, which loads the spatial extension
    (~140 ms), and a run opens about a hundred sessions (~14 s of every run, whatever
    the province's size). While it is kept open, a session is a new connection to the
    same database (~2 ms). The writer lock's holder keeps it open for its run
    (``writer_lock``): another process cannot open the file meanwhile, as it could not
    write it anyway. A session asking for read-only shares the open database too. What
    the database holds in memory is bounded (``KEPT_MEMORY_BYTES``).
    """
    key = path.resolve()
    if key in _KEPT:
        yield
        return
    kept = _KeptDatabase.open(path)
    _KEPT[key] = kept
    try:
        yield
    finally:
        del _KEPT[key]
        kept.con.close()


def _opened(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """The file opened as a new database: extensions only from the wheel (nothing
    downloaded), the spatial one loaded."""
    con = _open(path, read_only)
    try:
        with _interrupts_deferred():
            con.execute("SET autoinstall_known_extensions = false")
            con.execute("SET autoload_known_extensions = false")
            con.execute(f"LOAD '{spatial_extension_path()}'")
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def _connection(path: Path, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection of its own to the warehouse: to the database this process keeps
    open if it keeps one (``kept_open``), else to the file opened for it alone."""
    with _KEPT_LOCK:
        kept = _KEPT.get(path.resolve())
        if kept is not None:
            kept.sessions += 1
            con = kept.con.cursor()
    if kept is None:
        con = _opened(path, read_only)
    try:
        yield con
    finally:
        con.close()
        if kept is not None:
            with _KEPT_LOCK:
                kept.session_closed()


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """DuckDB lets one process write a file at a time; a second writer (the UI and the CLI
    at once) waits for the lock instead of failing at once."""
    if read_only and not path.exists():
        raise WarehouseError(f"warehouse {path} does not exist yet; run the pipeline first")
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + _LOCK_RETRY_SECONDS
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise WarehouseError(f"cannot open warehouse {path}: {exc}") from exc
            time.sleep(0.5)


_INTERRUPTS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Handle Ctrl-C and SIGTERM only once the block is done.

    DuckDB interrupted while it loads the spatial extension into a new connection
    (duckdb 1.5) hangs at the next close or connect of the file, so a run told to stop
    would hang instead. The signal's handler runs right after the block (Python handlers
    only; outside the main thread nothing can be deferred, nor needs to be).
    """
    previous = {signo: signal.getsignal(signo) for signo in _INTERRUPTS}
    if threading.current_thread() is not threading.main_thread() or None in previous.values():
        yield
        return
    received: list[int] = []
    for signo in _INTERRUPTS:
        signal.signal(signo, lambda number, _frame: received.append(number))
    try:
        yield
    finally:
        for signo, handler in previous.items():
            signal.signal(signo, handler)
        if received:
            handler = previous[received[0]]
            if callable(handler):
                handler(received[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(received[0])


@contextmanager
def duckdb_session(
    path: Path, *, read_only: bool, transaction: bool = False
) -> Iterator[DuckDBSession]:
    with _connection(path, read_only) as con:
        yield from _session(con, path, read_only=read_only, transaction=transaction)


def _session(
    con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool, transaction: bool
) -> Iterator[DuckDBSession]:
    try:
        if not read_only:
            with _interrupts_deferred():
                for layer in LAYERS:
                    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(layer)}")
        session = DuckDBSession(con, path)
        if not transaction:
            yield session
            return
        con.execute("BEGIN TRANSACTION")
        try:
            yield session
        except BaseException as exc:
            if _interrupt_of(exc) is not None:
                con.interrupt()
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    except BaseException as exc:
        interrupt = _interrupt_of(exc)
        if interrupt is None:
            raise
        # A query with parameters runs on after the interrupt, and close() would wait for
        # it to finish (duckdb 1.5): stop it.
        con.interrupt()
        if interrupt is exc:
            raise
        exc.__cause__ = None  # no cycle between the two
        raise interrupt from None


def _interrupt_of(exc: BaseException) -> BaseException | None:
    """The interrupt (KeyboardInterrupt, Dagster's DagsterExecutionInterruptedError) that
    ``exc`` is, or that DuckDB's ``RuntimeError("Query interrupted")`` hides.

    A signal arriving during a query (Ctrl-C, or SIGTERM, which Dagster's handlers turn
    into an interrupt) surfaces as that RuntimeError; left so, Dagster fails one step and
    runs the next instead of stopping the run.
    """
    if not isinstance(exc, Exception):
        return exc
    cause = exc.__cause__
    if isinstance(exc, RuntimeError) and cause is not None and not isinstance(cause, Exception):
        return cause
    return None


class DuckDBSession:
    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con = con
        self.path = path

    def execute(self, sql: str, params: list[object] | None = None) -> None:
        self.con.execute(sql, params or [])

    def query_df(self, sql: str, params: list[object] | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()

    def scratch_table(self, name: str, sql: str, params: list[object] | None = None) -> None:
        table = check_scratch_name(name)
        self.con.execute(f"CREATE OR REPLACE TEMPORARY TABLE {table} AS {sql}", params or [])

    def table_exists(self, qualified_name: str) -> bool:
        layer, name = qualified_name.split(".", 1)
        found = self.con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [layer, name],
        ).fetchone()
        return bool(found and found[0])

    def table_names(self, layer: str) -> list[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
            "ORDER BY table_name",
            [layer],
        ).fetchall()
        return [r[0] for r in rows]

    def column_names(self, qualified_name: str) -> list[str]:
        return [name for name, _ in self._described(qualified_name)]

    def _described(self, qualified_name: str) -> list[tuple[str, str]]:
        """(column, type) of a stored table, asked with parameters, not its name in SQL."""
        layer, name = qualified_name.split(".", 1)
        return [
            (column, type_)
            for column, type_ in self.con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [layer, name],
            ).fetchall()
        ]

    def _replaces_every_row(self, table: str, condition: str, params: list[object]) -> bool:
        """Whether the rows ``condition`` matches are all the table's rows (a province
        re-run alone in its warehouse).

        Then the table is made anew rather than its rows deleted: DuckDB deletes a row
        of a keyed table from its index at COMMIT, fetching the row's key back one row
        at a time (re-staging 1.2 M persons: 67 s of CPU against 20 s into a new
        table), and an empty table made from the contract is what the DELETE leaves."""
        (kept,) = self.con.execute(
            f"SELECT count(*) FROM {table} WHERE ({condition}) IS NOT TRUE", params
        ).fetchone()
        return kept == 0

    def write_table(
        self,
        qualified_name: str,
        df: pd.DataFrame,
        replace_where: dict[str, object] | None,
        partition: Partition | None = None,
        *,
        append: bool = False,
    ) -> int:
        df, contract, added = fit_for_storage(qualified_name, df, partition)
        geometry_columns = list(contract.geometry_columns)
        frame = pd.DataFrame(df).copy(deep=False)  # geometry columns replaced, not changed
        for column in geometry_columns:
            frame[column] = shapely.to_wkb(gpd.GeoSeries(df[column]).values, hex=False)
        table = qualified_identifier(qualified_name)
        incoming = pa.Table.from_pandas(frame, preserve_index=False)
        exists = self.table_exists(qualified_name) and (
            partition is None or partition[0] in self.column_names(qualified_name)
        )
        where = replace_where or {}
        condition = " AND ".join(f"{quote_identifier(c)} = ?" for c in where) or "TRUE"
        params = list(where.values())
        if (
            replace_where is None
            or not exists
            or (not append and self._replaces_every_row(table, condition, params))
        ):
            self.con.execute(f"DROP TABLE IF EXISTS {table}")
            self.con.execute(create_table_sql(contract, DUCKDB_TYPES, added))
        else:
            existing = self.column_names(qualified_name)
            for column, type_ in columns_to_add(qualified_name, contract, existing, df):
                self.con.execute(
                    f"ALTER TABLE {table} ADD COLUMN {quote_identifier(column)} "
                    f"{DUCKDB_TYPES[type_]}"
                )
            if not append:
                self.con.execute(f"DELETE FROM {table} WHERE {condition}", params)
        if not len(df):
            # Nothing to insert; and an empty relation's INSERT hides the rows later
            # statements of the same transaction insert from its reads (duckdb 1.5.5).
            return 0
        # The stored columns in their order, from the frame (geometry from WKB) or empty.
        select = ", ".join(
            (
                f"ST_GeomFromWKB({quote_identifier(c)})"
                if c in geometry_columns
                else quote_identifier(c)
            )
            if c in df.columns
            else "NULL"
            for c in self.column_names(qualified_name)
        )
        try:
            # The frame is a relation inserted into the table, not a query over a view
            # named in SQL text: inside a transaction DuckDB keeps every Arrow table a
            # query scanned until COMMIT, so a file written block by block in one
            # transaction held all its blocks (14 M persons: 0.1 GB more per block).
            self.con.from_arrow(incoming).project(select).insert_into(qualified_name)
        except duckdb.ConstraintException:
            raise key_violation(qualified_name, contract, df) from None
        return len(df)

    def read_table(
        self,
        qualified_name: str,
        partition: Partition | None = None,
        *,
        columns: Sequence[str] | None = None,
        where: Where | None = None,
    ) -> pd.DataFrame:
        if not self.table_exists(qualified_name):
            raise WarehouseError(f"table {qualified_name} not found in {self.path}")
        described = self._described(qualified_name)
        stored = [name for name, _ in described]
        geometry_columns = [name for name, type_ in described if type_.startswith("GEOMETRY")]
        if columns is not None:
            check_columns(qualified_name, columns, stored)
            geometry_columns = [c for c in geometry_columns if c in columns]
        selected = ", ".join(
            f"ST_AsWKB({quote_identifier(c)}) AS {quote_identifier(c)}"
            if c in geometry_columns
            else quote_identifier(c)
            for c in (stored if columns is None else columns)
        )
        condition, params = read_condition(qualified_name, stored, partition, where, str(self.path))
        query = f"SELECT {selected} FROM {qualified_identifier(qualified_name)}{condition}"
        arrow = self.con.execute(query, params).fetch_arrow_table()
        df = arrow.to_pandas(types_mapper=_ARROW_TO_PANDAS.get, date_as_object=False)
        for column in geometry_columns:
            df[column] = gpd.GeoSeries.from_wkb(df[column].to_numpy(), crs=STORAGE_CRS)
        df = from_storage(qualified_name, df, partition, columns)
        if not geometry_columns:
            return df
        return gpd.GeoDataFrame(df, geometry=geometry_columns[0], crs=STORAGE_CRS)
