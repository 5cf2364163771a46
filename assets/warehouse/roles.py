"""Database roles for PostGIS: who may read which layer, and write which records.

Personal data lives only in raw, staging and quality. Planners read the published
marts and record their decisions, constraints, consultations and council approvals;
police/data units read staging and quality to fix records; engineers run the pipeline
and own everything. The grants cover tables that do not exist yet (default privileges
of the role that creates them), because every run recreates its tables.

What planners write is scoped in the database, not by the notebooks: row-level
security lets a planner insert only rows of the provinces they are assigned to
(``planning.planner_provinces``, kept by engineers; ``grant_planner``), never update or
delete (a correction is a new row, and readers take the latest), and a trigger writes
the database login as the author whatever the client sends. The pipeline's own login
owns the tables and so is not subject to these policies (no FORCE): it is the trusted
writer, and planners must never be given it.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

import psycopg2.errors
from psycopg2 import sql

from assets.warehouse.base import Session, WarehouseError, create_table_sql
from assets.warehouse.factory import Warehouse
from expectations.schemas import DUCKDB_TYPES, LAYERS, POSTGRES_TYPES, TABLES


@dataclass(frozen=True)
class Role:
    name: str
    reads: tuple[str, ...]
    description: str


PLANNER = Role("hamlets_planner", ("marts",), "Planners: published marts only")
DATA_UNIT = Role(
    "hamlets_data_unit", ("staging", "quality"), "Police/data units: restricted records"
)
ENGINEER = Role("hamlets_engineer", LAYERS, "Engineers: every layer, read and write")
ROLES = (PLANNER, DATA_UNIT, ENGINEER)
DECISIONS_TABLE = "planning.decisions"


@dataclass(frozen=True)
class RecordTable:
    """A planning table planners write: the column the database fills with the login
    (and the one it stamps with the time of writing, where reads take the latest row)."""

    name: str
    author: str | None = None
    stamped_at: str | None = None
    # What else an inserted row must satisfy (SQL over the row's columns), besides
    # belonging to one of the planner's provinces.
    check: str = "TRUE"


# Planners write these tables (a decision and the assignment it approved; constraints on
# the engine, the commune's steps, residents' consultation and the council's approval),
# nothing else; every one is append-only for them.
RECORD_TABLES = (
    RecordTable(DECISIONS_TABLE, author="decided_by"),
    # Only to a decision of one's own (the one just recorded, in the same transaction).
    RecordTable(
        "planning.decision_assignments",
        check="planning.is_own_decision(decision_id, province_code)",
    ),
    RecordTable("planning.constraints", author="set_by"),
    RecordTable(
        "planning.consultations",
        author="recorded_by",
        stamped_at="recorded_at",
        check="planning.is_decision_of(decision_id, province_code)",
    ),
    RecordTable(
        "planning.commune_steps",
        author="recorded_by",
        stamped_at="recorded_at",
        check="planning.is_decision_of(decision_id, province_code)",
    ),
    RecordTable(
        "planning.council_approvals",
        author="recorded_by",
        stamped_at="recorded_at",
        check="planning.is_decision_of(decision_id, province_code)",
    ),
)
DECISION_TABLES = tuple(t.name for t in RECORD_TABLES)
PLANNER_PROVINCES = "planning.planner_provinces"

_FUNCTIONS = [
    # Plain SQL functions (not SECURITY DEFINER): they run as the caller, so
    # current_user is the planner's login and planner_provinces' own policy applies.
    f"""CREATE OR REPLACE FUNCTION planning.plans_province(code text) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
      SELECT EXISTS (SELECT 1 FROM {PLANNER_PROVINCES} p
                     WHERE p.login = current_user AND p.province_code = code)
    $$""",
    f"""CREATE OR REPLACE FUNCTION planning.is_decision_of(id text, code text)
    RETURNS boolean LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
      SELECT EXISTS (SELECT 1 FROM {DECISIONS_TABLE} d
                     WHERE d.decision_id = id AND d.province_code = code)
    $$""",
    f"""CREATE OR REPLACE FUNCTION planning.is_own_decision(id text, code text)
    RETURNS boolean LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
      SELECT EXISTS (SELECT 1 FROM {DECISIONS_TABLE} d
                     WHERE d.decision_id = id AND d.province_code = code
                       AND d.decided_by = current_user)
    $$""",
    # The author is the login, whatever the client sent; an update keeps the original
    # author and time (only engineers may update at all).
    """CREATE OR REPLACE FUNCTION planning.stamp_author() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
    DECLARE
      stamp jsonb;
    BEGIN
      IF TG_OP = 'UPDATE' THEN
        stamp := jsonb_build_object(TG_ARGV[0], to_jsonb(OLD) -> TG_ARGV[0]);
        IF TG_NARGS > 1 THEN
          stamp := stamp || jsonb_build_object(TG_ARGV[1], to_jsonb(OLD) -> TG_ARGV[1]);
        END IF;
      ELSE
        stamp := jsonb_build_object(TG_ARGV[0], current_user);
        IF TG_NARGS > 1 THEN
          stamp := stamp || jsonb_build_object(TG_ARGV[1], clock_timestamp());
        END IF;
      END IF;
      NEW := jsonb_populate_record(NEW, stamp);
      RETURN NEW;
    END $$""",
]


def _literal(text: str) -> str:
    """A constant of this module as a SQL string literal (never data)."""
    return "'" + text.replace("'", "''") + "'"


def _record_table_sql(table: RecordTable) -> list[str]:
    """Row-level security, grants and the author trigger of one planning record table."""
    t, planner, engineer = table.name, PLANNER.name, ENGINEER.name
    statements = [
        f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY",
        f"REVOKE ALL ON {t} FROM {planner}",
        f"GRANT SELECT, INSERT ON {t} TO {planner}",
    ]
    policies = {
        "planners_read": f"FOR SELECT TO {planner} USING (TRUE)",
        "planners_insert": (
            f"FOR INSERT TO {planner} "
            f"WITH CHECK (planning.plans_province(province_code) AND {table.check})"
        ),
        "engineers_all": f"FOR ALL TO {engineer} USING (TRUE) WITH CHECK (TRUE)",
    }
    for name, body in policies.items():
        statements.append(f"DROP POLICY IF EXISTS {name} ON {t}")
        statements.append(f"CREATE POLICY {name} ON {t} {body}")
    statements.append(f"DROP TRIGGER IF EXISTS stamp_author ON {t}")
    if table.author is not None:
        args = ", ".join(_literal(c) for c in (table.author, table.stamped_at) if c)
        statements.append(
            f"CREATE TRIGGER stamp_author BEFORE INSERT OR UPDATE ON {t} "
            f"FOR EACH ROW EXECUTE FUNCTION planning.stamp_author({args})"
        )
    return statements


def roles_sql(owner: str) -> list[str]:
    """Statements creating the group roles, their grants and the planners' row-level
    security (idempotent); the planning record tables must exist.

    ``owner`` is the role the pipeline connects as, already quoted as an identifier;
    tables it creates later inherit the grants through ALTER DEFAULT PRIVILEGES.
    """
    statements = []
    for role in ROLES:
        statements.append(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
            f"'{role.name}') THEN CREATE ROLE {role.name} NOLOGIN; END IF; END $$"
        )
        statements.append(f"COMMENT ON ROLE {role.name} IS '{role.description}'")
    for layer in LAYERS:
        statements.append(f"REVOKE ALL ON SCHEMA {layer} FROM PUBLIC")
        statements.append(f"REVOKE ALL ON ALL TABLES IN SCHEMA {layer} FROM PUBLIC")
    for role in (PLANNER, DATA_UNIT):
        for layer in role.reads:
            statements += [
                f"GRANT USAGE ON SCHEMA {layer} TO {role.name}",
                f"GRANT SELECT ON ALL TABLES IN SCHEMA {layer} TO {role.name}",
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {layer} "
                f"GRANT SELECT ON TABLES TO {role.name}",
            ]
    for layer in LAYERS:
        statements += [
            f"GRANT ALL ON SCHEMA {layer} TO {ENGINEER.name}",
            f"GRANT ALL ON ALL TABLES IN SCHEMA {layer} TO {ENGINEER.name}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {layer} "
            f"GRANT ALL ON TABLES TO {ENGINEER.name}",
        ]
    # Planners: the record tables, nothing else in planning. Which provinces each planner
    # login may write: engineers keep the list, a planner sees only their own rows.
    statements += [
        f"GRANT USAGE ON SCHEMA planning TO {PLANNER.name}",
        f"""CREATE TABLE IF NOT EXISTS {PLANNER_PROVINCES} (
          login TEXT NOT NULL,
          province_code TEXT NOT NULL,
          granted_by TEXT NOT NULL DEFAULT current_user,
          granted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
          PRIMARY KEY (login, province_code))""",
        f"ALTER TABLE {PLANNER_PROVINCES} ENABLE ROW LEVEL SECURITY",
        f"REVOKE ALL ON {PLANNER_PROVINCES} FROM {PLANNER.name}",
        f"GRANT SELECT ON {PLANNER_PROVINCES} TO {PLANNER.name}",
        f"DROP POLICY IF EXISTS own_rows ON {PLANNER_PROVINCES}",
        f"CREATE POLICY own_rows ON {PLANNER_PROVINCES} FOR SELECT TO {PLANNER.name} "
        "USING (login = current_user)",
        f"DROP POLICY IF EXISTS engineers_all ON {PLANNER_PROVINCES}",
        f"CREATE POLICY engineers_all ON {PLANNER_PROVINCES} FOR ALL TO {ENGINEER.name} "
        "USING (TRUE) WITH CHECK (TRUE)",
        *_FUNCTIONS,
    ]
    for table in RECORD_TABLES:
        statements += _record_table_sql(table)
    return statements


def upgrade_primary_key(warehouse: Warehouse, session: Session, qualified_name: str) -> None:
    """Rebuild a table whose primary key is not its contract's (either backend).

    Consultations and council approvals were once keyed without ``recorded_at`` and
    corrected by deleting; now a correction is a new row, which the old key refuses.
    The rows are kept. On PostGIS only the owner may (and only the owner sees the key
    in information_schema): ``hamlets roles`` does it there.
    """
    contract = TABLES[qualified_name]
    layer, name = qualified_name.split(".", 1)
    if not session.table_exists(qualified_name):
        return
    stored = session.query_df(
        "SELECT k.column_name FROM information_schema.table_constraints c "
        "JOIN information_schema.key_column_usage k "
        "ON k.constraint_schema = c.constraint_schema AND k.constraint_name = c.constraint_name "
        "AND k.table_name = c.table_name "
        "WHERE c.table_schema = ? AND c.table_name = ? AND c.constraint_type = 'PRIMARY KEY' "
        "ORDER BY k.ordinal_position",
        [layer, name],
    )["column_name"].tolist()
    if stored == list(contract.primary_key):
        return
    types = POSTGRES_TYPES if warehouse.kind == "postgresql" else DUCKDB_TYPES
    columns = ", ".join(f'"{c}"' for c in contract.columns)
    previous = f"{qualified_name}_before_rekey"
    session.execute(f"ALTER TABLE {qualified_name} RENAME TO {name}_before_rekey")
    session.execute(create_table_sql(contract, types))
    session.execute(f"INSERT INTO {qualified_name} ({columns}) SELECT {columns} FROM {previous}")
    session.execute(f"DROP TABLE {previous}")


def apply_roles(warehouse: Warehouse) -> list[str]:
    """Create the roles, grants and planners' row-level security in a PostGIS
    warehouse; returns the role names."""
    _require_postgres(warehouse)
    with warehouse.transaction() as session:
        owner = session.query_df("SELECT quote_ident(current_user) AS u")["u"].iloc[0]
        for name in DECISION_TABLES:
            if session.table_exists(name):
                upgrade_primary_key(warehouse, session, name)
            else:
                session.execute(create_table_sql(TABLES[name], POSTGRES_TYPES))
        for statement in roles_sql(owner):
            session.execute(statement)
    return [role.name for role in ROLES]


def grant_planner(warehouse: Warehouse, login: str, provinces: list[str]) -> list[str]:
    """Let an existing database login plan ``provinces``: membership of the planner
    role and a row per province in ``planning.planner_provinces`` (idempotent).

    Returns the province codes granted. Run as the pipeline's login (the tables' owner)
    or an engineer, after ``apply_roles``.
    """
    from assets.provinces import check_province_code  # the 34 codes

    _require_postgres(warehouse)
    try:
        codes = sorted({check_province_code(p) for p in provinces})
    except ValueError as exc:
        raise WarehouseError(str(exc)) from exc
    if not codes:
        raise WarehouseError("name at least one province to grant")
    with warehouse.transaction() as session:
        found = session.query_df(
            "SELECT rolcanlogin, pg_has_role(oid, ?, 'MEMBER') AS is_planner "
            "FROM pg_roles WHERE rolname = ?",
            [PLANNER.name, login],
        )
        if found.empty or not found["rolcanlogin"].iloc[0]:
            raise WarehouseError(f"no database login {login!r}; create it first (CREATE ROLE)")
        if not found["is_planner"].iloc[0]:
            statement = sql.SQL("GRANT {} TO {}").format(
                sql.Identifier(PLANNER.name), sql.Identifier(login)
            )
            try:
                with session.con.cursor() as cursor:
                    cursor.execute(statement)
            except psycopg2.errors.InsufficientPrivilege as exc:
                raise WarehouseError(
                    f"may not grant {PLANNER.name} to {login!r}; a role administrator must "
                    f"run GRANT {PLANNER.name} TO that login"
                ) from exc
        for code in codes:
            session.execute(
                f"INSERT INTO {PLANNER_PROVINCES} (login, province_code) VALUES (?, ?) "
                "ON CONFLICT DO NOTHING",
                [login, code],
            )
    return codes


def recorded_author(warehouse: Warehouse, given: str | None) -> str:
    """Who a planning record names as its author.

    On PostGIS the database login, which the database writes whatever the client sends
    (so a name given here must be that login, or nothing). DuckDB has no logins: the
    name given, else the operating-system user.
    """
    name = (given or "").strip()
    if warehouse.kind != "postgresql":
        return name or getpass.getuser()
    login = str(warehouse.query("SELECT current_user AS u")["u"].iloc[0])
    if name and name != login:
        raise WarehouseError(
            f"on PostGIS the author is the database login ({login}), not {name!r}: "
            "leave the name out"
        )
    return login


def _require_postgres(warehouse: Warehouse) -> None:
    if warehouse.kind != "postgresql":
        raise WarehouseError(
            "roles exist only in PostgreSQL; a DuckDB file is protected by who may read it "
            "(give planners a copy with the marts alone)"
        )
