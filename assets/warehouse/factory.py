"""The warehouse a URL selects: the one place that picks a backend.

``base`` is the interface both backends implement; this module depends on it and on the
two backends, and nothing under ``assets/warehouse`` imports this module back, so there
is no import cycle.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from assets.warehouse.base import (
    DEFAULT_WAREHOUSE_URL,
    Partition,
    Session,
    WarehouseError,
    backend_of,
    duckdb_path_from_url,
    partition_column,
    quote_identifier,
    redacted,
)
from assets.warehouse.duckdb_backend import duckdb_session
from assets.warehouse.postgres_backend import postgres_session


@dataclass(frozen=True)
class Warehouse:
    """A warehouse selected by its URL; connections are short-lived and per operation."""

    url: str = DEFAULT_WAREHOUSE_URL
    province_code: str | None = None

    def for_province(self, province_code: str) -> Warehouse:
        """The same warehouse seen as one province's rows: reads filter, writes replace
        only that province, so provinces materialise independently into shared tables."""
        return replace(self, province_code=province_code)

    def partition(self, qualified_name: str) -> Partition | None:
        if self.province_code is None:
            return None
        return (partition_column(qualified_name), self.province_code)

    def rows_filter(self, qualified_name: str, alias: str = "") -> tuple[str, list[object]]:
        """A SQL condition (``?`` placeholders) selecting this province's rows of a table,
        for the few statements that are SQL rather than :meth:`read_table`."""
        partition = self.partition(qualified_name)
        if partition is None:
            return "TRUE", []
        if alias and not re.fullmatch(r"[a-z_][a-z0-9_]*", alias):
            raise WarehouseError(f"{alias!r} is not a table alias")
        prefix = f"{alias}." if alias else ""
        return f"{prefix}{quote_identifier(partition[0])} = ?", [partition[1]]

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
            with duckdb_session(self.path, read_only=read_only) as session:
                yield session
        else:
            with postgres_session(self.url, transaction=False) as session:
                yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """All writes inside commit together or not at all."""
        if self.kind == "duckdb":
            with duckdb_session(self.path, read_only=False, transaction=True) as session:
                yield session
        else:
            with postgres_session(self.url, transaction=True) as session:
                yield session

    def write_table(
        self,
        qualified_name: str,
        df: pd.DataFrame,
        *,
        con: Session | None = None,
        replace_where: dict[str, object] | None = None,
        append: bool = False,
    ) -> int:
        """Write ``df`` as ``layer.table``; returns rows written.

        With a contract the table is created from it and ``df`` must fit it. Without
        ``replace_where`` the table is replaced whole; with it, only the rows matching
        those column values are replaced. A warehouse scoped to a province replaces only
        that province's rows. ``append`` adds the rows and replaces nothing: writing a
        table batch by batch, in one transaction, after a first write that replaced.
        """
        partition = self.partition(qualified_name)
        if partition is not None:
            replace_where = {partition[0]: partition[1], **(replace_where or {})}
        elif append:
            replace_where = replace_where or {}
        if con is None:
            with self.transaction() as own:
                return own.write_table(qualified_name, df, replace_where, partition, append=append)
        return con.write_table(qualified_name, df, replace_where, partition, append=append)

    def read_table(
        self,
        qualified_name: str,
        *,
        con: Session | None = None,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        params: list[object] | None = None,
    ) -> pd.DataFrame:
        """Read ``layer.table``; tables with geometry come back as GeoDataFrames in EPSG:4326.

        ``columns`` and ``where`` (a SQL condition, ``?`` placeholders for ``params``)
        narrow the read, so a large table is read a slice at a time.
        """
        partition = self.partition(qualified_name)
        narrowed = {"columns": columns, "where": (where, list(params or [])) if where else None}
        if con is None:
            with self.connect() as own:
                return own.read_table(qualified_name, partition, **narrowed)
        return con.read_table(qualified_name, partition, **narrowed)

    def query(self, sql: str, params: list[object] | None = None) -> pd.DataFrame:
        """Run a read query (``?`` placeholders) for notebooks, tests and the CLI."""
        read_only = self.kind == "duckdb" and self.path.exists()
        with self.connect(read_only=read_only) as session:
            return session.query_df(sql, params)

    def table_names(self, layer: str) -> list[str]:
        read_only = self.kind == "duckdb" and self.path.exists()
        with self.connect(read_only=read_only) as session:
            return session.table_names(layer)
