"""Warehouse access: every stage writes and reads its tables through here.

One SQLAlchemy-style URL selects the warehouse. The embedded default is a DuckDB file
with the spatial extension loaded from its PyPI wheel (``duckdb-extension-spatial``), so
nothing is downloaded at run time and geometry is stored as native ``GEOMETRY``.
Tables with a contract in ``expectations.schemas`` are created from it (types, primary
key), so the DDL and the contract cannot drift apart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import geopandas as gpd
import pandas as pd
import pyarrow as pa
import shapely

from expectations.schemas import DUCKDB_TYPES, LAYERS, TABLES, Table
from geodata.crs import STORAGE_CRS

DEFAULT_WAREHOUSE_URL = "duckdb:///data/warehouse.duckdb"
_LOCK_RETRY_SECONDS = 30.0

_ARROW_TO_PANDAS = {
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.int32(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached or a table is not where it should be."""


def duckdb_path_from_url(url: str) -> Path:
    """The DuckDB file a URL names; a bare path is accepted as a DuckDB file too."""
    if url.startswith("duckdb:///"):
        return Path(url.removeprefix("duckdb:///"))
    if "://" not in url:
        return Path(url)
    scheme = url.split("://", 1)[0]
    if scheme.startswith("postgresql"):
        raise WarehouseError(
            f"warehouse URL scheme {scheme!r}: PostgreSQL/PostGIS is not supported yet "
            "in this version; use a DuckDB path or duckdb:///path/to/file.duckdb"
        )
    raise WarehouseError(f"warehouse URL scheme {scheme!r} is not supported; use duckdb:///PATH")


def spatial_extension_path() -> Path:
    """The spatial extension file shipped in the duckdb-extension-spatial wheel."""
    import duckdb_extension_spatial

    root = Path(duckdb_extension_spatial.__file__).parent / "extensions"
    candidates = sorted(root.glob(f"v{duckdb.__version__}/*.duckdb_extension"))
    if not candidates:
        raise WarehouseError(
            f"no spatial extension for duckdb {duckdb.__version__} under {root}; "
            "reinstall with `make` so duckdb and duckdb-extension-spatial match"
        )
    return candidates[0]


def create_table_sql(contract: Table) -> str:
    """DDL for a contract's table, primary key included."""
    columns = [f'"{f.name}" {DUCKDB_TYPES[f.type]}' for f in contract.fields]
    if contract.primary_key:
        columns.append(f"PRIMARY KEY ({', '.join(contract.primary_key)})")
    return f"CREATE TABLE {contract.qualified_name} (\n  " + ",\n  ".join(columns) + "\n)"


def _to_arrow(df: pd.DataFrame, geometry_columns: list[str]) -> pa.Table:
    frame = pd.DataFrame(df).copy()
    for column in geometry_columns:
        frame[column] = shapely.to_wkb(gpd.GeoSeries(df[column]).values, hex=False)
    return pa.Table.from_pandas(frame, preserve_index=False)


@dataclass(frozen=True)
class Warehouse:
    """A warehouse selected by its URL; connections are short-lived and per operation."""

    url: str = DEFAULT_WAREHOUSE_URL

    @property
    def path(self) -> Path:
        return duckdb_path_from_url(self.url)

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with spatial loaded and the layer schemas present.

        DuckDB lets one process write a file at a time; a second writer (the UI and the
        CLI at once) waits for the lock instead of failing at once.
        """
        path = self.path
        if read_only and not path.exists():
            raise WarehouseError(f"warehouse {path} does not exist yet; run the pipeline first")
        path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + _LOCK_RETRY_SECONDS
        while True:
            try:
                con = duckdb.connect(str(path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise WarehouseError(f"cannot open warehouse {path}: {exc}") from exc
                time.sleep(0.5)
        try:
            con.execute("SET autoinstall_known_extensions = false")
            con.execute("SET autoload_known_extensions = false")
            con.execute(f"LOAD '{spatial_extension_path()}'")
            if not read_only:
                for layer in LAYERS:
                    con.execute(f"CREATE SCHEMA IF NOT EXISTS {layer}")
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All writes inside commit together or not at all."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def write_table(
        self,
        qualified_name: str,
        df: pd.DataFrame,
        *,
        con: duckdb.DuckDBPyConnection | None = None,
        replace_where: dict[str, object] | None = None,
    ) -> int:
        """Write ``df`` as ``layer.table``; returns rows written.

        With a contract the table is created from it and ``df`` must fit it. Without
        ``replace_where`` the table is replaced whole; with it, only the rows matching
        those column values are replaced (one province among several).
        """
        if con is None:
            with self.transaction() as own:
                return self.write_table(qualified_name, df, con=own, replace_where=replace_where)
        contract = TABLES.get(qualified_name)
        if contract is not None:
            df = contract.enforce(df)
            geometry_columns = list(contract.geometry_columns)
        else:
            geometry_columns = [
                c for c in df.columns if isinstance(df[c].dtype, gpd.array.GeometryDtype)
            ]
        arrow = _to_arrow(df, geometry_columns)
        view = f"_incoming_{qualified_name.replace('.', '_')}"
        con.register(view, arrow)
        try:
            select = ", ".join(
                f'ST_GeomFromWKB("{c}") AS "{c}"' if c in geometry_columns else f'"{c}"'
                for c in df.columns
            )
            exists = self._table_exists(con, qualified_name)
            if replace_where is None or not exists:
                con.execute(f"DROP TABLE IF EXISTS {qualified_name}")
                if contract is not None:
                    con.execute(create_table_sql(contract))
                else:
                    con.execute(
                        f"CREATE TABLE {qualified_name} AS SELECT {select} FROM {view} LIMIT 0"
                    )
            if replace_where is not None and exists:
                condition = " AND ".join(f'"{c}" = ?' for c in replace_where)
                con.execute(
                    f"DELETE FROM {qualified_name} WHERE {condition}", list(replace_where.values())
                )
            con.execute(f"INSERT INTO {qualified_name} SELECT {select} FROM {view}")
        finally:
            con.unregister(view)
        return len(df)

    def read_table(
        self,
        qualified_name: str,
        *,
        con: duckdb.DuckDBPyConnection | None = None,
    ) -> pd.DataFrame:
        """Read ``layer.table``; tables with geometry come back as GeoDataFrames in EPSG:4326."""
        if con is None:
            with self.connect(read_only=False) as own:
                return self.read_table(qualified_name, con=own)
        if not self._table_exists(con, qualified_name):
            raise WarehouseError(f"table {qualified_name} not found in {self.path}")
        described = con.execute(f"DESCRIBE {qualified_name}").fetchall()
        geometry_columns = [name for name, type_, *_ in described if type_ == "GEOMETRY"]
        replace = ", ".join(f'ST_AsWKB("{c}") AS "{c}"' for c in geometry_columns)
        query = f"SELECT * {f'REPLACE ({replace})' if replace else ''} FROM {qualified_name}"
        arrow = con.execute(query).fetch_arrow_table()
        df = arrow.to_pandas(types_mapper=_ARROW_TO_PANDAS.get, date_as_object=False)
        for column in geometry_columns:
            df[column] = gpd.GeoSeries.from_wkb(df[column].to_numpy(), crs=STORAGE_CRS)
        contract = TABLES.get(qualified_name)
        if contract is not None:
            df = contract.enforce(df)
        if not geometry_columns:
            return df
        return gpd.GeoDataFrame(df, geometry=geometry_columns[0], crs=STORAGE_CRS)

    def query(self, sql: str, params: list[object] | None = None) -> pd.DataFrame:
        """Run a read query (for notebooks, tests and the CLI summary)."""
        with self.connect(read_only=self.path.exists()) as con:
            return con.execute(sql, params or []).df()

    def table_names(self, layer: str) -> list[str]:
        with self.connect(read_only=self.path.exists()) as con:
            rows = con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                "ORDER BY table_name",
                [layer],
            ).fetchall()
        return [r[0] for r in rows]

    @staticmethod
    def _table_exists(con: duckdb.DuckDBPyConnection, qualified_name: str) -> bool:
        layer, name = qualified_name.split(".", 1)
        return bool(
            con.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = ? AND table_name = ?",
                [layer, name],
            ).fetchone()[0]
        )
