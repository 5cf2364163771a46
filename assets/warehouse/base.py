"""The warehouse facade and what both backends share: URLs, DDL, type mapping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import geopandas as gpd
import pandas as pd

from expectations.schemas import Table

DEFAULT_WAREHOUSE_URL = "duckdb:///data/warehouse.duckdb"


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached or a table is not where it should be."""


class Session(Protocol):
    """One open connection to a warehouse; both backends offer the same operations."""

    def query_df(self, sql: str, params: list[object] | None = None) -> pd.DataFrame: ...

    def execute(self, sql: str, params: list[object] | None = None) -> None: ...

    def table_exists(self, qualified_name: str) -> bool: ...

    def table_names(self, layer: str) -> list[str]: ...

    def read_table(self, qualified_name: str) -> pd.DataFrame: ...

    def write_table(
        self, qualified_name: str, df: pd.DataFrame, replace_where: dict[str, object] | None
    ) -> int: ...


def backend_of(url: str) -> str:
    if url.startswith("duckdb:///") or "://" not in url:
        return "duckdb"
    scheme = url.split("://", 1)[0]
    if scheme.startswith("postgresql"):
        return "postgresql"
    raise WarehouseError(
        f"warehouse URL scheme {scheme!r} is not supported; use duckdb:///PATH or "
        "postgresql+psycopg2://USER:PASSWORD@HOST:PORT/DATABASE"
    )


def duckdb_path_from_url(url: str) -> Path:
    """The DuckDB file a URL names; a bare path is accepted as a DuckDB file too."""
    if backend_of(url) != "duckdb":
        raise WarehouseError(f"{redacted(url)} is not a DuckDB warehouse")
    return Path(url.removeprefix("duckdb:///"))


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def create_table_sql(contract: Table, types: dict[str, str]) -> str:
    """DDL for a contract's table in a backend's types, primary key included."""
    columns = [f'"{f.name}" {types[f.type]}' for f in contract.fields]
    if contract.primary_key:
        columns.append(f"PRIMARY KEY ({', '.join(contract.primary_key)})")
    return f"CREATE TABLE {contract.qualified_name} (\n  " + ",\n  ".join(columns) + "\n)"


def logical_type(values: pd.Series) -> str:
    """The contract type a column without a contract (raw tables) is stored as."""
    dtype = values.dtype
    if isinstance(dtype, gpd.array.GeometryDtype):
        return "geometry"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "timestamp"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "date"
    return "string"


@dataclass(frozen=True)
class Warehouse:
    """A warehouse selected by its URL; connections are short-lived and per operation."""

    url: str = DEFAULT_WAREHOUSE_URL

    @property
    def kind(self) -> str:
        return backend_of(self.url)

    @property
    def path(self) -> Path:
        """The DuckDB file (DuckDB warehouses only)."""
        return duckdb_path_from_url(self.url)

    @property
    def location(self) -> str:
        """Where the warehouse is, for people: a resolved path or the URL sans password."""
        return str(self.path.resolve()) if self.kind == "duckdb" else redacted(self.url)

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[Session]:
        """A session with the layer schemas present (each statement commits on its own)."""
        if self.kind == "duckdb":
            from assets.warehouse.duckdb_backend import duckdb_session

            with duckdb_session(self.path, read_only=read_only) as session:
                yield session
        else:
            from assets.warehouse.postgres_backend import postgres_session

            with postgres_session(self.url, transaction=False) as session:
                yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """All writes inside commit together or not at all."""
        if self.kind == "duckdb":
            from assets.warehouse.duckdb_backend import duckdb_session

            with duckdb_session(self.path, read_only=False, transaction=True) as session:
                yield session
        else:
            from assets.warehouse.postgres_backend import postgres_session

            with postgres_session(self.url, transaction=True) as session:
                yield session

    def write_table(
        self,
        qualified_name: str,
        df: pd.DataFrame,
        *,
        con: Session | None = None,
        replace_where: dict[str, object] | None = None,
    ) -> int:
        """Write ``df`` as ``layer.table``; returns rows written.

        With a contract the table is created from it and ``df`` must fit it. Without
        ``replace_where`` the table is replaced whole; with it, only the rows matching
        those column values are replaced (one province among several).
        """
        if con is None:
            with self.transaction() as own:
                return own.write_table(qualified_name, df, replace_where)
        return con.write_table(qualified_name, df, replace_where)

    def read_table(self, qualified_name: str, *, con: Session | None = None) -> pd.DataFrame:
        """Read ``layer.table``; tables with geometry come back as GeoDataFrames in EPSG:4326."""
        if con is None:
            with self.connect() as own:
                return own.read_table(qualified_name)
        return con.read_table(qualified_name)

    def query(self, sql: str, params: list[object] | None = None) -> pd.DataFrame:
        """Run a read query (``?`` placeholders) for notebooks, tests and the CLI."""
        read_only = self.kind == "duckdb" and self.path.exists()
        with self.connect(read_only=read_only) as session:
            return session.query_df(sql, params)

    def table_names(self, layer: str) -> list[str]:
        read_only = self.kind == "duckdb" and self.path.exists()
        with self.connect(read_only=read_only) as session:
            return session.table_names(layer)
