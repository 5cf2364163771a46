"""The warehouse schema's version, and the migrations that bring an older warehouse to it.

Tables are created from their contracts (``expectations/schemas.py``) when a stage first
writes them, so a new warehouse is at this code's version from the start. A warehouse
an earlier release wrote holds what no run can rebuild — planners' decisions,
consultations, council approvals and every publication of the marts — so it is migrated
in place, never re-created:

- ``meta.schema_versions`` (a contract like any table) holds a row per version applied;
  a new warehouse gets one row, the version it was created at.
- A warehouse holding tables but no version row was written before versions existed:
  it is taken as version 1, the schema of release 2dba3cf (5 Dec 2026).
- :data:`MIGRATIONS` is the ordered list. Their steps run the same on DuckDB and PostGIS,
  name only contract identifiers (quoted by ``assets.warehouse.base``), and are
  idempotent (``ADD COLUMN IF NOT EXISTS``, ``CREATE OR REPLACE VIEW``), so a warehouse
  written by a release between two versions comes through as well. A migration's steps
  are frozen as they were written: a later contract change is a later migration.
- Every run upgrades on start, holding the writer lock (``writer_lock``), all pending
  migrations in one transaction: a failure leaves the warehouse at its version.
- A warehouse newer than the code is refused, naming both versions: an older release
  would write tables it does not know.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from assets.warehouse.base import (
    Session,
    WarehouseError,
    create_table_sql,
    qualified_identifier,
    quote_identifier,
)
from assets.warehouse.factory import Warehouse
from expectations.schemas import DUCKDB_TYPES, LAYERS, POSTGRES_TYPES, TABLES

logger = logging.getLogger(__name__)

SCHEMA_VERSIONS = "meta.schema_versions"
# PostgreSQL: runs of several provinces start side by side; a transaction-level advisory
# lock (writer_lock's namespace "HAML", an objid no province has) lets one upgrade at a
# time, and the others find the work done.
UPGRADE_LOCK = (0x48414D4C, 1000)


class SchemaVersionError(WarehouseError):
    """The warehouse's schema is newer than this code's."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    # Applies the migration in an open transaction: (session, "duckdb" | "postgresql").
    apply: Callable[[Session, str], None]


def _types(kind: str) -> dict[str, str]:
    """The backend's SQL type of each logical type."""
    return POSTGRES_TYPES if kind == "postgresql" else DUCKDB_TYPES


def _baseline(session: Session, kind: str) -> None:
    """Nothing to change: the version a warehouse without a version row is taken at."""


# Columns the contracts gained after release 2dba3cf, as (table, column, logical type),
# frozen here: they are what version 2 added, whatever the contracts later become.
_COLUMNS_SINCE_2DBA3CF = (
    *(
        (f"raw.{role}", column, type_)
        for role in ("communes", "hamlet_boundaries", "hamlet_registry", "households", "persons")
        for column, type_ in (("source_sheet", "string"), ("sheet_row_number", "int"))
    ),
    ("raw.households", "commune_code", "string"),
    ("raw.households", "hamlet_name", "string"),
    ("raw.landed_files", "header_row_number", "int"),
    ("raw.landed_files", "rows_skipped", "int"),
    ("raw.landed_files", "workbook_sheets", "string"),
    ("staging.communes", "region", "string"),
    ("staging.persons", "birth_date_order_unproven", "bool"),
    ("staging.persons", "invalid_values", "string"),
    ("quality.probable_duplicates", "agreeing_fields", "string"),
    ("quality.probable_duplicates", "differing_fields", "string"),
    ("planning.hamlet_compliance", "special_category_source", "string"),
    ("planning.hamlet_compliance", "registry_special_category", "string"),
    ("planning.merger_option_summary", "awaiting_guidance_hamlets", "int"),
    ("planning.merger_option_summary", "units_after_without_special_cases", "int"),
    ("planning.merger_option_summary", "noncompliant_units_after_without_special_cases", "int"),
    ("marts.hamlets", "special_category_source", "string"),
    ("marts.hamlets", "registry_special_category", "string"),
    ("marts.hamlets", "held_households", "int"),
    ("marts.hamlets", "held_persons", "int"),
    ("marts.commune_summary", "region", "string"),
    ("marts.commune_summary", "awaiting_guidance_hamlets", "int"),
    ("marts.commune_summary", "held_households", "int"),
    ("marts.commune_summary", "held_persons", "int"),
    ("marts.approved_plan", "resolution_number", "string"),
    ("marts.approved_plan", "approved_date", "date"),
    ("marts.commune_progress", "advisory_conference_date", "date"),
    ("marts.commune_progress", "party_opinion_date", "date"),
    ("marts.commune_progress", "resolution_number", "string"),
)
# Each set of marts published together and the table of its publications, whose latest
# one per province the marts' ``_current`` views show; frozen as at version 2 (the
# publishing assets' own lists may grow: a new mart's view is made by its publication).
_CURRENT_VIEWS = {
    "marts.publications": (
        "hamlets",
        "merger_assignments",
        "merged_units",
        "merger_options",
        "province_summary",
        "commune_summary",
        "validation_summary",
    ),
    "marts.approved_publications": ("approved_plan", "approved_staffing"),
    "marts.progress_publications": ("commune_progress", "progress_timeline"),
}


def _current_view_sql(mart: str, publications: str) -> str:
    """A mart's ``_current`` view as version 2 defines it: each province's latest
    publication (the definition ``assets.marts.publish`` writes at each publication)."""
    province, at = quote_identifier("province_code"), quote_identifier("published_at")
    return (
        f"CREATE OR REPLACE VIEW {qualified_identifier(mart + '_current')} AS SELECT m.* "
        f"FROM {qualified_identifier(mart)} m JOIN (SELECT {province}, max({at}) AS {at} "
        f"FROM {qualified_identifier(publications)} GROUP BY {province}) latest "
        f"ON m.{province} = latest.{province} AND m.{at} = latest.{at}"
    )


def _add_columns(session: Session, kind: str, columns: tuple[tuple[str, str, str], ...]) -> None:
    """Each (table, column, logical type) added to its table where the table is stored
    (older rows show it empty); a table not stored yet is created whole by its first
    write."""
    types = _types(kind)
    for table, column, type_ in columns:
        if session.table_exists(table):
            session.execute(
                f"ALTER TABLE {qualified_identifier(table)} "
                f"ADD COLUMN IF NOT EXISTS {quote_identifier(column)} {types[type_]}"
            )


def _since_2dba3cf(session: Session, kind: str) -> None:
    """Release 2dba3cf's tables to today's: the columns added since (older rows show them
    empty), and every ``_current`` view re-created over them. Tables added since are
    created from their contracts by the first run that writes them."""
    _add_columns(session, kind, _COLUMNS_SINCE_2DBA3CF)
    for publications, marts in _CURRENT_VIEWS.items():
        if not session.table_exists(publications):
            continue
        for mart in marts:
            if session.table_exists(f"marts.{mart}"):
                session.execute(_current_view_sql(f"marts.{mart}", publications))


# Quarantine tables derived from their record's columns (expectations.schemas): a held
# record keeps every column it was staged with. Frozen as at version 3.
_QUARANTINE_COLUMNS = (
    ("quality.persons_quarantined", "ethnicity", "string"),
    ("quality.households_quarantined", "longitude", "float"),
    ("quality.households_quarantined", "latitude", "float"),
)


def _whole_quarantined_records(session: Session, kind: str) -> None:
    """Quarantine tables hold the whole record: held rows written before show the added
    columns empty until the next run rewrites the province's quarantine."""
    _add_columns(session, kind, _QUARANTINE_COLUMNS)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "Baseline: the schema of release 2dba3cf (5 Dec 2026)", _baseline),
    Migration(
        2,
        "Columns added since 2dba3cf (workbook lineage, special-case sources, held "
        "records, commune steps' dates, resolution numbers…); _current views re-created",
        _since_2dba3cf,
    ),
    Migration(
        3,
        "Quarantined records keep all their columns (persons: ethnicity; households: "
        "longitude, latitude)",
        _whole_quarantined_records,
    ),
)
LATEST_VERSION = MIGRATIONS[-1].version


def _stored_version(session: Session) -> tuple[int, str] | None:
    """(version, its description) of the warehouse, or None without a version table."""
    if not session.table_exists(SCHEMA_VERSIONS):
        return None
    table = qualified_identifier(SCHEMA_VERSIONS)
    rows = session.query_df(
        f"SELECT {quote_identifier('version')}, {quote_identifier('description')} "
        f"FROM {table} ORDER BY {quote_identifier('version')} DESC LIMIT 1"
    )
    return None if rows.empty else (int(rows.iloc[0, 0]), str(rows.iloc[0, 1]))


def _holds_tables(session: Session) -> bool:
    """Whether any data layer holds a table: a warehouse, not an empty database."""
    return any(session.table_names(layer) for layer in LAYERS if layer != "meta")


def _record(session: Session, version: int, description: str) -> None:
    columns = ", ".join(quote_identifier(c) for c in TABLES[SCHEMA_VERSIONS].columns)
    session.execute(
        f"INSERT INTO {qualified_identifier(SCHEMA_VERSIONS)} ({columns}) VALUES (?, ?, ?)",
        [version, datetime.now(UTC), description],
    )


def schema_version(warehouse: Warehouse) -> int | None:
    """The version the warehouse is at; None before its first run (new, or written
    before versions existed)."""
    read_only = warehouse.kind == "duckdb" and warehouse.path.exists()
    with warehouse.connect(read_only=read_only) as session:
        stored = _stored_version(session)
    return None if stored is None else stored[0]


def upgrade(warehouse: Warehouse) -> list[Migration]:
    """Bring the warehouse to :data:`LATEST_VERSION` in one transaction; returns the
    migrations applied (none when it was there already, or is new).

    Call it holding the writer lock (``writer_lock`` does). Raises
    :class:`SchemaVersionError`, changing nothing, for a warehouse newer than the code.
    """
    started = time.monotonic()
    with warehouse.transaction() as session:
        if warehouse.kind == "postgresql":
            session.execute("SELECT pg_advisory_xact_lock(?, ?)", list(UPGRADE_LOCK))
        stored = _stored_version(session)
        if stored is None:
            if not session.table_exists(SCHEMA_VERSIONS):
                session.execute(create_table_sql(TABLES[SCHEMA_VERSIONS], _types(warehouse.kind)))
            if not _holds_tables(session):
                _record(session, LATEST_VERSION, "New warehouse, created from the contracts")
                return []
            baseline = MIGRATIONS[0]
            stored = (baseline.version, baseline.description)
            _record(session, baseline.version, f"{baseline.description}: found without a version")
        version, description = stored
        if version > LATEST_VERSION:
            raise SchemaVersionError(
                f"warehouse {warehouse.location} is at schema version {version} "
                f"({description}), newer than this code's version {LATEST_VERSION}: a later "
                "release upgraded it. Run that release or a later one (or restore the "
                "backup taken before that upgrade); this one refuses to write it"
            )
        pending = [m for m in MIGRATIONS if m.version > version]
        for migration in pending:
            migration.apply(session, warehouse.kind)
            _record(session, migration.version, migration.description)
    if pending:
        logger.info(
            "warehouse %s upgraded from schema version %d to %d in %.1f s",
            warehouse.location,
            version,
            LATEST_VERSION,
            time.monotonic() - started,
        )
    return pending
