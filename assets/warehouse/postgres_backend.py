"""The production warehouse: PostgreSQL with PostGIS.

Rows move with COPY in both directions (CSV through memory), geometry as hex EWKB with
SRID 4326, so a million-row table loads in seconds rather than the minutes that
row-by-row INSERTs take.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import geopandas as gpd
import pandas as pd
import psycopg2
import psycopg2.errors
import shapely
from psycopg2.extensions import quote_ident
from sqlalchemy.engine import make_url

from assets.warehouse.base import (
    Partition,
    WarehouseError,
    Where,
    check_columns,
    check_identifier,
    check_scratch_name,
    columns_to_add,
    create_table_sql,
    fit_for_storage,
    from_storage,
    key_violation,
    qualified_identifier,
    read_condition,
    redacted,
)
from expectations.schemas import LAYERS, POSTGRES_TYPES
from geodata.crs import STORAGE_CRS

SRID = 4326


def _connect(url: str):
    parsed = make_url(url)
    try:
        return psycopg2.connect(
            host=parsed.host or "localhost",
            port=parsed.port or 5432,
            user=parsed.username,
            password=parsed.password,
            dbname=parsed.database,
            application_name="hamlets",
        )
    except psycopg2.OperationalError as exc:
        raise WarehouseError(f"cannot connect to {redacted(url)}: {exc}".strip()) from exc


def _prepare(con) -> None:
    """PostGIS and the layer schemas, created when this role may (else they must exist).

    Creating PostGIS takes a superuser, which the pipeline should not be: install it
    once into the database (or into ``template1``, for every database made later).
    """
    with con.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
        if cursor.fetchone() is None:
            try:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            except psycopg2.errors.InsufficientPrivilege as exc:
                raise WarehouseError(
                    f"PostGIS is not installed in database {con.info.dbname!r} and "
                    f"{con.info.user!r} may not install it; a superuser must run "
                    "CREATE EXTENSION postgis there (or in template1 before creating it)"
                ) from exc
        for layer in LAYERS:
            # pg_namespace, not information_schema: the latter hides schemas this role
            # may not use, which must not look missing.
            cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [layer])
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(layer, con)}")


@contextmanager
def postgres_session(url: str, *, transaction: bool) -> Iterator[PostgresSession]:
    con = _connect(url)
    try:
        con.autocommit = True
        _prepare(con)
        con.autocommit = not transaction
        session = PostgresSession(con, url)
        if not transaction:
            yield session
            return
        try:
            yield session
        except BaseException:
            con.rollback()
            raise
        con.commit()
    finally:
        con.close()


def _placeholders(sql: str) -> str:
    """``?`` placeholders (the DuckDB style used across the project) to psycopg2's ``%s``."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresSession:
    def __init__(self, con, url: str) -> None:
        self.con = con
        self.url = url

    def quote(self, name: str) -> str:
        """A contract's identifier quoted by the driver (psycopg's ``quote_ident``)."""
        return quote_ident(check_identifier(name), self.con)

    def execute(self, sql: str, params: list[object] | None = None) -> None:
        with self.con.cursor() as cursor:
            cursor.execute(_placeholders(sql), params or None)

    def query_df(self, sql: str, params: list[object] | None = None) -> pd.DataFrame:
        with self.con.cursor() as cursor:
            cursor.execute(_placeholders(sql), params or None)
            columns = [d.name for d in cursor.description]
            return pd.DataFrame(cursor.fetchall(), columns=columns)

    def scratch_table(self, name: str, sql: str, params: list[object] | None = None) -> None:
        table = check_scratch_name(name)
        with self.con.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")
            create = f"CREATE TEMPORARY TABLE {table} AS {_placeholders(sql)}"
            cursor.execute(create, params or None)
            cursor.execute(f"ANALYZE pg_temp.{table}")  # autovacuum never analyses it

    def table_exists(self, qualified_name: str) -> bool:
        layer, name = qualified_name.split(".", 1)
        return bool(
            len(
                self.query_df(
                    "SELECT 1 FROM information_schema.tables "
                    "WHERE table_schema = ? AND table_name = ?",
                    [layer, name],
                )
            )
        )

    def table_names(self, layer: str) -> list[str]:
        return self.query_df(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
            "ORDER BY table_name",
            [layer],
        )["table_name"].tolist()

    def _column_types(self, qualified_name: str) -> dict[str, str]:
        layer, name = qualified_name.split(".", 1)
        rows = self.query_df(
            "SELECT column_name, udt_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [layer, name],
        )
        return dict(zip(rows["column_name"], rows["udt_name"], strict=True))

    def column_names(self, qualified_name: str) -> list[str]:
        return list(self._column_types(qualified_name))

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
        types = {f.name: f.type for f in contract.fields}
        if added:
            types = {added: "string", **types}
        q = self.quote
        table = qualified_identifier(qualified_name, q)
        exists = self.table_exists(qualified_name) and (
            partition is None or partition[0] in self.column_names(qualified_name)
        )
        with self.con.cursor() as cursor:
            if replace_where is None or not exists:
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
                cursor.execute(create_table_sql(contract, POSTGRES_TYPES, added, q))
                for column in (c for c, t in types.items() if t == "geometry"):
                    cursor.execute(f"CREATE INDEX ON {table} USING GIST ({q(column)})")
            if replace_where is not None and exists:
                existing = self.column_names(qualified_name)
                for column, type_ in columns_to_add(qualified_name, contract, existing, df):
                    cursor.execute(
                        f"ALTER TABLE {table} ADD COLUMN {q(column)} {POSTGRES_TYPES[type_]}"
                    )
                if not append:
                    condition = " AND ".join(f"{q(c)} = %s" for c in replace_where) or "TRUE"
                    cursor.execute(
                        f"DELETE FROM {table} WHERE {condition}", list(replace_where.values())
                    )
            buffer = io.StringIO()
            # \N marks NULL, so an empty string stays an empty string.
            _as_copy_frame(df, types).to_csv(buffer, index=False, header=False, na_rep="\\N")
            buffer.seek(0)
            columns = ", ".join(q(c) for c in df.columns)
            # COPY FROM refuses a table under row-level security (planners' record
            # tables), so rows go through a temporary table and an INSERT its policies
            # check, triggers included.
            guarded = _row_security(cursor, qualified_name)
            target = "pg_temp.hamlets_incoming" if guarded else table
            if guarded:
                cursor.execute(f"DROP TABLE IF EXISTS {target}")
                cursor.execute(f"CREATE TEMPORARY TABLE hamlets_incoming (LIKE {table})")
            try:
                cursor.copy_expert(
                    f"COPY {target} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
                    buffer,
                )
                if guarded:
                    cursor.execute(
                        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {target}"
                    )
                    cursor.execute(f"DROP TABLE {target}")
            except psycopg2.IntegrityError:
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
            raise WarehouseError(f"table {qualified_name} not found in {redacted(self.url)}")
        udt = self._column_types(qualified_name)
        stored = list(udt)
        if columns is not None:
            check_columns(qualified_name, columns, list(udt))
            udt = {c: udt[c] for c in columns}
        q = self.quote
        select = ", ".join(
            f"encode(ST_AsEWKB({q(c)}), 'hex') AS {q(c)}" if t == "geometry" else q(c)
            for c, t in udt.items()
        )
        condition, params = read_condition(
            qualified_name, stored, partition, where, redacted(self.url)
        )
        buffer = io.StringIO()
        with self.con.cursor() as cursor:
            if condition:
                condition = cursor.mogrify(_placeholders(condition), params).decode()
            cursor.copy_expert(
                f"COPY (SELECT {select} FROM {qualified_identifier(qualified_name, q)}{condition}) "
                "TO STDOUT WITH "
                "(FORMAT csv, "
                "HEADER true, NULL '\\N', FORCE_QUOTE *)",
                buffer,
            )
        buffer.seek(0)
        text = pd.read_csv(buffer, dtype=str, keep_default_na=False, na_values=["\\N"])
        df = pd.DataFrame({c: _from_text(text[c], t) for c, t in udt.items()})
        df = from_storage(qualified_name, df, partition, columns)
        geometry_columns = [c for c, t in udt.items() if t == "geometry"]
        if not geometry_columns:
            return df
        return gpd.GeoDataFrame(df, geometry=geometry_columns[0], crs=STORAGE_CRS)


def _row_security(cursor, qualified_name: str) -> bool:
    """Whether row-level security is enabled on the table."""
    cursor.execute(
        "SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass(%s)", [qualified_name]
    )
    found = cursor.fetchone()
    return bool(found and found[0])


def _as_copy_frame(df: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    """Values as COPY reads them: geometry as hex EWKB with its SRID, booleans as t/f."""
    out = pd.DataFrame(index=df.index)
    for column, type_ in types.items():
        values = df[column]
        if type_ == "geometry":
            geometries = shapely.set_srid(gpd.GeoSeries(values).values.to_numpy(), SRID)
            out[column] = shapely.to_wkb(geometries, hex=True, include_srid=True)
        elif type_ == "bool":
            out[column] = values.map({True: "t", False: "f"})
        elif type_ == "date":
            out[column] = pd.to_datetime(values).dt.strftime("%Y-%m-%d")
        elif type_ == "timestamp":
            out[column] = pd.to_datetime(values, utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.%f%z")
        else:
            out[column] = values
    return out


def _from_text(values: pd.Series, udt: str) -> pd.Series:
    if udt == "geometry":
        return gpd.GeoSeries.from_wkb(values.to_numpy(dtype=object), crs=STORAGE_CRS)
    if udt in ("int8", "int4", "int2"):
        return pd.to_numeric(values).astype("Int64")
    if udt in ("float8", "float4", "numeric"):
        return pd.to_numeric(values).astype("float64")
    if udt == "bool":
        return values.map({"t": True, "f": False}).astype("boolean")
    if udt == "date":
        return pd.to_datetime(values).astype("datetime64[ns]")
    if udt == "timestamptz":
        return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
    return values.astype("string").where(values.notna(), pd.NA).astype("string")
