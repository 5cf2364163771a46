"""Database roles for PostGIS: who may read which layer.

Personal data lives only in raw, staging and quality. Planners read the published
marts (and record their decisions); police/data units read staging and quality to fix
records; engineers run the pipeline and own everything. The grants cover tables that
do not exist yet (default privileges of the role that creates them), because every run
recreates its tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from assets.warehouse.base import Warehouse, WarehouseError, create_table_sql
from expectations.schemas import LAYERS, POSTGRES_TYPES, TABLES


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
# Planners write these tables (a decision and the assignment it approved; constraints on
# the engine, residents' consultation and the council's approval), nothing else.
DECISION_TABLES = (
    DECISIONS_TABLE,
    "planning.decision_assignments",
    "planning.constraints",
    "planning.consultations",
    "planning.council_approvals",
)
# Of those, a later entry replaces an earlier one here (a corrected consultation result
# for a hamlet, a corrected council approval); the rest are append-only.
CORRECTED_TABLES = ("planning.consultations", "planning.council_approvals")


def roles_sql(owner: str) -> list[str]:
    """Statements creating the group roles and their grants (idempotent).

    ``owner`` is the role the pipeline connects as; tables it creates later inherit
    the grants through ALTER DEFAULT PRIVILEGES.
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
    # Planners record decisions: those planning tables, nothing else in planning.
    statements.append(f"GRANT USAGE ON SCHEMA planning TO {PLANNER.name}")
    statements += [f"GRANT SELECT, INSERT ON {t} TO {PLANNER.name}" for t in DECISION_TABLES]
    statements += [f"GRANT DELETE ON {t} TO {PLANNER.name}" for t in CORRECTED_TABLES]
    for layer in LAYERS:
        statements += [
            f"GRANT ALL ON SCHEMA {layer} TO {ENGINEER.name}",
            f"GRANT ALL ON ALL TABLES IN SCHEMA {layer} TO {ENGINEER.name}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {layer} "
            f"GRANT ALL ON TABLES TO {ENGINEER.name}",
        ]
    return statements


def apply_roles(warehouse: Warehouse) -> list[str]:
    """Create the roles and grants in a PostGIS warehouse; returns the role names."""
    if warehouse.kind != "postgresql":
        raise WarehouseError(
            "roles exist only in PostgreSQL; a DuckDB file is protected by who may read it "
            "(give planners a copy with the marts alone)"
        )
    with warehouse.transaction() as session:
        owner = session.query_df("SELECT current_user AS u")["u"].iloc[0]
        for table in DECISION_TABLES:
            if not session.table_exists(table):
                session.execute(create_table_sql(TABLES[table], POSTGRES_TYPES))
        for statement in roles_sql(owner):
            session.execute(statement)
    return [role.name for role in ROLES]
