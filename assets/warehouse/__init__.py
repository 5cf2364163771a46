"""Warehouse access: every stage writes and reads its tables through here.

One SQLAlchemy-style URL selects the warehouse: a DuckDB file (the embedded default,
spatial extension loaded from its PyPI wheel) or PostgreSQL with PostGIS. Both store
geometry natively. Tables with a contract in ``expectations.schemas`` are created from
it (types, primary key), so the DDL and the contract cannot drift apart.
"""

from assets.warehouse.base import (
    DEFAULT_WAREHOUSE_URL,
    Session,
    WarehouseError,
    create_table_sql,
    duckdb_path_from_url,
)
from assets.warehouse.factory import Warehouse

__all__ = [
    "DEFAULT_WAREHOUSE_URL",
    "Session",
    "Warehouse",
    "WarehouseError",
    "create_table_sql",
    "duckdb_path_from_url",
]
