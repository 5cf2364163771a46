"""The warehouse facade and what both backends share: URLs, DDL, type mapping."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import geopandas as gpd
import pandas as pd

from expectations.schemas import FIELDS, LAYERS, TABLES, Table

DEFAULT_WAREHOUSE_URL = "duckdb:///data/warehouse.duckdb"


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached or a table is not where it should be."""


# (column, key): the rows of one province in a table that holds several.
Partition = tuple[str, str]


def partition_column(qualified_name: str) -> str:
    """The column that says which province a row belongs to.

    Raw tables keep the landed columns untouched (a communes file may carry its own
    ``province_code``), so there the partition is lineage: the landing folder's province.
    """
    return "landing_province" if qualified_name.startswith("raw.") else "province_code"


def contract_of(qualified_name: str) -> Table | None:
    """A table's contract; a mart's ``_current`` view has its mart's."""
    return TABLES.get(qualified_name) or TABLES.get(qualified_name.removesuffix("_current"))


# Names SQL text may hold: the contracts' columns and tables, the layers, and the
# columns the storage adds. Nothing read from a file or a frame's headers is ever one.
PARTITION_COLUMNS = ("landing_province", "province_code")
_TABLE_NAMES = frozenset(t.name for t in TABLES.values())
_IDENTIFIERS = (
    frozenset(FIELDS)
    | frozenset(LAYERS)
    | frozenset(PARTITION_COLUMNS)
    | _TABLE_NAMES
    | frozenset(f"{name}_current" for name in _TABLE_NAMES)
)


def check_identifier(name: str) -> str:
    """``name`` if a contract declares it (a column, a layer, a storage column), else
    WarehouseError: identifiers in SQL text come from the contracts, never from data."""
    if name not in _IDENTIFIERS:
        raise WarehouseError(f"{name!r} is not a name the contracts declare")
    return name


def quote_identifier(name: str) -> str:
    """A checked identifier in double quotes, a quote inside doubled: the identifier
    quoting of SQL that DuckDB documents (PostgreSQL's sessions use psycopg's
    ``quote_ident`` instead)."""
    return '"' + check_identifier(name).replace('"', '""') + '"'


def check_scratch_name(name: str) -> str:
    """``name`` if it is a scratch table's (``hamlets_`` and lower-case words): session
    temporary tables are named by the code, never by data."""
    if not re.fullmatch(r"hamlets_[a-z_]+", name):
        raise WarehouseError(f"{name!r} is not a scratch table name")
    return name


def qualified_identifier(qualified_name: str, quote=quote_identifier) -> str:
    """``layer.table`` of a contract (or a mart's ``_current`` view), quoted."""
    if contract_of(qualified_name) is None:
        raise WarehouseError(f"no contract for table {qualified_name!r}")
    layer, name = qualified_name.split(".", 1)
    return f"{quote(layer)}.{quote(name)}"


def contract_for_storage(qualified_name: str) -> Table:
    """The contract a stored table is created from; a table without one is refused,
    so every DDL comes from ``expectations.schemas`` and no frame adds a column."""
    contract = TABLES.get(qualified_name)
    if contract is None:
        raise WarehouseError(
            f"no contract for table {qualified_name!r}: describe it in expectations/schemas.py"
        )
    return contract


def fit_for_storage(
    qualified_name: str, df: pd.DataFrame, partition: Partition | None
) -> tuple[pd.DataFrame, Table, str | None]:
    """``df`` checked against its contract, with the partition column set.

    Returns the frame, the contract and the partition column when the storage adds it
    (the contract does not declare it). A contract column that already says which
    province a row is in must agree with the partition.
    """
    contract = contract_for_storage(qualified_name)
    # The frame returned is only written: it may share the caller's columns.
    if partition is None:
        return contract.enforce(df, copy=False), contract, None
    column, key = partition
    added = None if column in contract.columns else column
    body = df.drop(columns=[added]) if added and added in df.columns else df
    body = contract.enforce(body, copy=False)
    if added:
        body.insert(0, column, pd.Series(key, index=body.index, dtype="string"))
        return body, contract, added
    other = body[column].notna() & body[column].ne(key)
    if other.any():
        found = sorted(body.loc[other, column].astype(str).unique())[:5]
        raise WarehouseError(
            f"{qualified_name}: rows for province {', '.join(found)} written to the "
            f"partition of province {key}; the landing folder holds another province's data"
        )
    body[column] = body[column].fillna(key)
    return body, contract, None


def key_violation(qualified_name: str, contract: Table, df: pd.DataFrame) -> WarehouseError:
    """A key error in words that name the file and row, never the value: the drivers'
    own text quotes the key ("duplicate key 04, H-0001"), which may be personal."""
    key = [c for c in contract.primary_key if c in df.columns]
    where = ""
    if key:
        repeated = df.duplicated(subset=key, keep="first").to_numpy()
        if repeated.any() and {"source_file", "source_row_number"} <= set(df.columns):
            first = df[repeated].iloc[0]
            where = f"; first at {first['source_file']} row {first['source_row_number']}"
        elif repeated.any():
            where = f"; first at position {int(repeated.argmax()) + 1} of the rows written"
    return WarehouseError(
        f"{qualified_name}: rows repeat the table's key ({', '.join(key) or 'none'}), or one "
        f"is empty{where}; the values are not shown (they may be personal)"
    )


def columns_to_add(
    qualified_name: str, contract: Table, existing: list[str], df: pd.DataFrame
) -> list[tuple[str, str]]:
    """Contract columns (name, logical type) a stored table lacks, to add in place.

    Provinces share tables, so a table is extended rather than replaced when its
    contract gained a field since it was created (older rows then show it empty). A
    table holding columns its contract no longer has needs a migration, as does any
    change other than an added column.
    Only contract fields are ever added: a file's headers never become columns.
    """
    dropped = [c for c in existing if c not in df.columns]
    if dropped:
        raise WarehouseError(
            f"{qualified_name} holds columns {dropped} that its contract no longer has; "
            "a migration (assets/warehouse/migrations.py) must drop or rename them"
        )
    types = {f.name: f.type for f in contract.fields} | dict.fromkeys(PARTITION_COLUMNS, "string")
    return [(check_identifier(c), types[c]) for c in df.columns if c not in existing]


# A SQL condition (``?`` placeholders) and its parameters, narrowing a read.
Where = tuple[str, list[object]]


def check_columns(qualified_name: str, columns: Sequence[str], stored: Sequence[str]) -> None:
    """A narrowed read names only columns the table has."""
    unknown = [c for c in columns if c not in stored]
    if unknown:
        raise WarehouseError(f"table {qualified_name} has no columns {unknown}")


def read_condition(
    qualified_name: str,
    stored: Sequence[str],
    partition: Partition | None,
    where: Where | None,
    location: str,
) -> Where:
    """The WHERE clause (``?`` placeholders; empty when nothing narrows) of a read of
    one province's rows and/or a caller's condition, for either backend."""
    conditions: list[str] = []
    params: list[object] = []
    if partition is not None:
        if partition[0] not in stored:
            raise WarehouseError(
                f"table {qualified_name} in {location} predates province partitions; "
                "materialise it again"
            )
        conditions.append(f"{quote_identifier(partition[0])} = ?")
        params.append(partition[1])
    if where is not None:
        conditions.append(f"({where[0]})")
        params.extend(where[1])
    return (" WHERE " + " AND ".join(conditions) if conditions else ""), params


def from_storage(
    qualified_name: str,
    df: pd.DataFrame,
    partition: Partition | None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A stored table as its contract says (narrowed to ``columns`` when the read was);
    the storage's partition column is dropped for one province's rows and kept first
    when several provinces are read at once."""
    contract = contract_of(qualified_name)
    if contract is None:
        raise WarehouseError(f"no contract for table {qualified_name!r}")
    if columns is not None:
        contract = contract.subset(columns)
    column = partition_column(qualified_name)
    added = column in df.columns and column not in contract.columns
    provinces = df.pop(column) if added else None
    df = contract.enforce(df, copy=False)  # the frame just read: nobody else holds it
    if provinces is not None and partition is None:
        df.insert(0, column, provinces.to_numpy())
    return df


class Session(Protocol):
    """One open connection to a warehouse; both backends offer the same operations."""

    def query_df(self, sql: str, params: list[object] | None = None) -> pd.DataFrame: ...

    def execute(self, sql: str, params: list[object] | None = None) -> None: ...

    def table_exists(self, qualified_name: str) -> bool: ...

    def scratch_table(self, name: str, sql: str, params: list[object] | None = None) -> None:
        """A temporary table of this session holding ``sql``'s rows (replaced if made
        before): what many statements of one step read is computed once."""
        ...

    def table_names(self, layer: str) -> list[str]: ...

    def column_names(self, qualified_name: str) -> list[str]: ...

    def read_table(
        self,
        qualified_name: str,
        partition: Partition | None = None,
        *,
        columns: Sequence[str] | None = None,
        where: Where | None = None,
    ) -> pd.DataFrame: ...

    def write_table(
        self,
        qualified_name: str,
        df: pd.DataFrame,
        replace_where: dict[str, object] | None,
        partition: Partition | None = None,
        *,
        append: bool = False,
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


def create_table_sql(
    contract: Table,
    types: dict[str, str],
    partition_column: str | None = None,
    quote=quote_identifier,
) -> str:
    """DDL for a contract's table in a backend's types, primary key included: the only
    DDL there is, so a table's columns are its contract's.

    A partition column the storage adds comes first and leads the primary key.
    """
    columns = [f"{quote(f.name)} {types[f.type]}" for f in contract.fields]
    key = list(contract.primary_key)
    if partition_column is not None:
        columns.insert(0, f"{quote(partition_column)} {types['string']}")
        key = [partition_column, *key] if key else []
    if key:
        columns.append(f"PRIMARY KEY ({', '.join(quote(k) for k in key)})")
    table = qualified_identifier(contract.qualified_name, quote)
    return f"CREATE TABLE {table} (\n  " + ",\n  ".join(columns) + "\n)"


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
