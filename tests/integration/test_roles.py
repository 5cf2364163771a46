"""PostGIS roles: planners see marts and record for their own provinces only (append-only,
under their own login), data units see the restricted records, engineers everything;
tables recreated by later runs keep the grants."""

from __future__ import annotations

import getpass
import os
from dataclasses import replace
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from click.testing import CliRunner
from psycopg2.errors import InsufficientPrivilege
from sqlalchemy.engine import make_url

from assets.progress.records import COUNCIL_APPROVALS, read_records, record_council_approval
from assets.warehouse import Warehouse, WarehouseError, create_table_sql
from assets.warehouse.roles import (
    DECISION_TABLES,
    apply_roles,
    grant_planner,
    recorded_author,
)
from expectations.schemas import POSTGRES_TYPES, TABLES
from pipelines.cli import main

DECISIONS = "planning.decisions"
WHEN = pd.Timestamp(datetime(2026, 11, 21, tzinfo=UTC))


def _write_layers(warehouse: Warehouse) -> None:
    """One small table per layer, made here by hand: the warehouse API itself only
    creates tables that have a contract."""
    with warehouse.transaction() as con:
        for layer in ("staging", "quality", "planning", "marts"):
            con.execute(f"DROP TABLE IF EXISTS {layer}.example")
            con.execute(f"CREATE TABLE {layer}.example (province_code TEXT, n BIGINT)")
            con.execute(f"INSERT INTO {layer}.example VALUES ('04', 1)")


@pytest.fixture
def role_urls(postgres_url, make_login):
    """The pipeline's warehouse with roles applied (again by the CLI, which also makes a
    plain login the planner of province 04), and a login URL per role."""
    warehouse = Warehouse(postgres_url)
    _write_layers(warehouse)
    apply_roles(warehouse)
    _write_layers(warehouse)  # a later run drops and recreates every table
    urls = {
        "hamlets_data_unit": make_login("data_unit", "hamlets_data_unit"),
        "hamlets_engineer": make_login("engineer", "hamlets_engineer"),
        "hamlets_planner": make_login("planner"),
    }
    login = make_url(urls["hamlets_planner"]).username
    result = CliRunner().invoke(
        main, ["roles", "--warehouse", postgres_url, "--grant-planner", login, "--province", "4"]
    )
    assert result.exit_code == 0, result.output
    assert f"{login} plans province(s) 04" in result.output
    return urls


def _login(url: str) -> str:
    return str(make_url(url).username)


def _run(url: str, statement: str, params: list[object] | None = None) -> None:
    """One statement as that login, committed."""
    with Warehouse(url).transaction() as session:
        session.execute(statement, params)


def _decision(decision_id: str, province: str, decided_by: str = "Nguyễn Thị Lan"):
    return pd.DataFrame(
        {
            "decision_id": [decision_id],
            "province_code": [province],
            "commune_code": [f"{province}001"],
            "option_name": ["compliant"],
            "decided_by": [decided_by],
            "note": [""],
            "decided_at": [WHEN],
            "based_on_run_id": ["r1"],
            "rules_profile": ["nd185"],
        }
    )


def _assignment(decision_id: str, province: str) -> pd.DataFrame:
    code = f"{province}001"
    return pd.DataFrame(
        {
            "decision_id": [decision_id],
            "province_code": [province],
            "commune_code": [code],
            "hamlet_code": [f"{code}01"],
            "unit_id": [f"{code}01"],
        }
    )


def _can_read(url: str, table: str) -> bool:
    try:
        Warehouse(url).query(f"SELECT count(*) FROM {table}")
        return True
    except InsufficientPrivilege:
        return False


@pytest.mark.parametrize(
    ("group", "readable", "refused"),
    [
        ("hamlets_planner", {"marts.example"},
         {"staging.example", "quality.example", "planning.example"}),
        ("hamlets_data_unit", {"staging.example", "quality.example"},
         {"marts.example", "planning.example"}),
        ("hamlets_engineer",
         {"staging.example", "quality.example", "planning.example", "marts.example"}, set()),
    ],
)  # fmt: skip
def test_each_role_reads_only_its_layers(role_urls, group, readable, refused):
    url = role_urls[group]
    assert {t for t in readable | refused if _can_read(url, t)} == readable


def test_a_planner_records_only_for_their_provinces(role_urls, postgres_url):
    """A planner of 04 records a decision for 04 (the API's path and plain SQL), not for
    33, and may not make themselves a planner of 33."""
    planner_url = role_urls["hamlets_planner"]
    planner = Warehouse(planner_url)
    planner.write_table(DECISIONS, _decision("d04", "04"), append=True)
    planner.write_table("planning.decision_assignments", _assignment("d04", "04"), append=True)
    with pytest.raises(InsufficientPrivilege, match="row-level security"):
        planner.write_table(DECISIONS, _decision("d33", "33"), append=True)
    with pytest.raises(InsufficientPrivilege, match="row-level security"):
        _run(
            planner_url,
            "INSERT INTO planning.decisions (decision_id, province_code, commune_code, "
            "option_name, decided_by, decided_at) VALUES (?, ?, ?, ?, ?, ?)",
            ["d33", "33", "33001", "minimal", "x", WHEN],
        )
    with pytest.raises(InsufficientPrivilege):
        _run(planner_url, "INSERT INTO planning.planner_provinces VALUES (current_user, '33')")
    # Another's decision, or one of another province, takes no assignment, consultation
    # or approval from this planner.
    Warehouse(postgres_url).write_table(DECISIONS, _decision("d33", "33"), append=True)
    Warehouse(postgres_url).write_table(DECISIONS, _decision("other04", "04"), append=True)
    with pytest.raises(InsufficientPrivilege, match="row-level security"):
        planner.write_table(
            "planning.decision_assignments", _assignment("other04", "04"), append=True
        )
    with pytest.raises(InsufficientPrivilege, match="row-level security"):
        _run(
            planner_url,
            "INSERT INTO planning.council_approvals (decision_id, province_code, "
            "commune_code, approved_date) VALUES (?, ?, ?, ?)",
            ["d33", "04", "04001", date(2026, 12, 1)],
        )
    stored = Warehouse(postgres_url).query(
        "SELECT decision_id, decided_by FROM planning.decisions ORDER BY decision_id"
    )
    assert stored["decision_id"].tolist() == ["d04", "d33", "other04"]


def test_a_planner_never_changes_or_deletes_a_record(role_urls, postgres_url):
    planner_url = role_urls["hamlets_planner"]
    Warehouse(planner_url).write_table(DECISIONS, _decision("d04", "04"), append=True)
    for table in DECISION_TABLES:
        for statement in (
            f"UPDATE {table} SET province_code = '04'",
            f"DELETE FROM {table}",
            f"TRUNCATE {table}",
        ):
            with pytest.raises(InsufficientPrivilege):
                _run(planner_url, statement)
    with pytest.raises(InsufficientPrivilege):  # replacing rows is deleting them
        Warehouse(planner_url).write_table(
            DECISIONS, _decision("d05", "04"), replace_where={"decision_id": "d04"}
        )
    with pytest.raises(InsufficientPrivilege):
        _run(planner_url, "DELETE FROM marts.example")
    assert Warehouse(postgres_url).query("SELECT decision_id FROM planning.decisions")[
        "decision_id"
    ].tolist() == ["d04"]


def test_the_author_is_the_login_whatever_the_client_sends(role_urls, postgres_url):
    planner_url = role_urls["hamlets_planner"]
    login, planner = _login(planner_url), Warehouse(planner_url)
    planner.write_table(DECISIONS, _decision("d1", "04", decided_by="Nguyễn Thị Lan"), append=True)
    _run(
        planner_url,
        "INSERT INTO planning.constraints (constraint_id, province_code, commune_code, "
        "constraint_kind, hamlet_code, set_by, constraint_reason, set_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ["c1", "04", "04001", "locked", "0400101", "Trần Văn Nam", "đình làng", WHEN],
    )
    owner = Warehouse(postgres_url)
    assert owner.query("SELECT decided_by FROM planning.decisions")["decided_by"].tolist() == [
        login
    ]
    assert owner.query("SELECT set_by FROM planning.constraints")["set_by"].tolist() == [login]
    # The Python API names nobody else on PostGIS; on DuckDB (no logins) the name given.
    with pytest.raises(WarehouseError, match="database login"):
        recorded_author(planner, "Nguyễn Thị Lan")
    assert recorded_author(planner, None) == login


def test_a_correction_is_a_later_row_and_wins_on_read(role_urls):
    """A council approval entered again by the planner (the notebook API): both rows
    are kept, stamped by the database, and readers take the later one."""
    planner_url = role_urls["hamlets_planner"]
    planner = Warehouse(planner_url)
    planner.write_table(DECISIONS, _decision("d1", "04"), append=True)
    for number in ("12/NQ-HĐND", "13/NQ-HĐND"):
        record_council_approval(
            planner,
            "04",
            "d1",
            approved_date=date(2026, 12, 1),
            resolution_number=number,
            require_consultation=False,
        )
    in_force = read_records(planner, COUNCIL_APPROVALS, "04")
    assert in_force["resolution_number"].tolist() == ["13/NQ-HĐND"]
    history = read_records(planner, COUNCIL_APPROVALS, "04", history=True)
    assert history["resolution_number"].tolist() == ["12/NQ-HĐND", "13/NQ-HĐND"]
    assert history["recorded_by"].eq(_login(planner_url)).all()
    assert history["recorded_at"].is_monotonic_increasing and history["recorded_at"].is_unique


def test_the_data_unit_writes_no_planning_record(role_urls):
    data_unit = role_urls["hamlets_data_unit"]
    for table in DECISION_TABLES:
        with pytest.raises(InsufficientPrivilege):
            _run(data_unit, f"INSERT INTO {table} (decision_id) VALUES ('d1')")
    with pytest.raises(InsufficientPrivilege):
        Warehouse(data_unit).write_table(DECISIONS, _decision("d1", "04"), append=True)


def test_engineers_and_the_pipeline_write_any_province(role_urls, postgres_url):
    """The policies bind planners only: an engineer and the pipeline's own login (the
    tables' owner, not a superuser) write any province, under their own names."""
    engineer_url = role_urls["hamlets_engineer"]
    Warehouse(engineer_url).write_table(DECISIONS, _decision("e33", "33"), append=True)
    Warehouse(postgres_url).write_table(DECISIONS, _decision("p12", "12"), append=True)
    stored = Warehouse(engineer_url).query(
        "SELECT decision_id, decided_by FROM planning.decisions ORDER BY decision_id"
    )
    owner = _login(postgres_url)
    assert stored.values.tolist() == [["e33", _login(engineer_url)], ["p12", owner]]


def test_ci_tests_as_a_role_that_is_not_a_superuser(postgres_url):
    """.ci/run uses its superuser only to create the test role and install PostGIS."""
    if not os.environ.get("CI"):
        pytest.skip("locally the test role is whatever HAMLETS_TEST_POSTGRES_URL names")
    role = Warehouse(postgres_url).query(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )
    assert role.values.tolist() == [[False, False]]


def test_planners_are_granted_checked_provinces_of_existing_logins(postgres_url, make_login):
    warehouse = Warehouse(postgres_url)
    apply_roles(warehouse)
    login = _login(make_login("planner"))
    with pytest.raises(WarehouseError, match="unknown province code '99'"):
        grant_planner(warehouse, login, ["99"])
    hostile = "x'); DROP TABLE planning.decisions; --"
    with pytest.raises(WarehouseError, match="no database login"):
        grant_planner(warehouse, hostile, ["04"])
    assert grant_planner(warehouse, login, ["33", "4", "04"]) == ["04", "33"]
    assert grant_planner(warehouse, login, ["04"]) == ["04"]  # again: nothing changes
    granted = warehouse.query(
        "SELECT province_code FROM planning.planner_provinces WHERE login = ? ORDER BY 1", [login]
    )
    assert granted["province_code"].tolist() == ["04", "33"]
    usage = CliRunner().invoke(main, ["roles", "--warehouse", postgres_url, "--province", "04"])
    assert usage.exit_code == 2 and "go together" in usage.output


def test_roles_rekey_records_kept_under_the_old_key(postgres_url):
    """Council approvals were once keyed by decision alone (corrected by deleting);
    ``hamlets roles`` moves them to the appending key and keeps their rows."""
    warehouse = Warehouse(postgres_url)
    old = replace(TABLES[COUNCIL_APPROVALS], primary_key=("decision_id",))
    with warehouse.transaction() as session:
        session.execute(create_table_sql(old, POSTGRES_TYPES))
        session.execute(
            "INSERT INTO planning.council_approvals (decision_id, province_code, commune_code, "
            "approved_date, recorded_at) VALUES ('d1', '04', '04001', '2026-12-01', now())"
        )
    apply_roles(warehouse)
    apply_roles(warehouse)  # idempotent
    key = warehouse.query(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'planning.council_approvals'::regclass "
        "AND i.indisprimary ORDER BY a.attname"
    )
    assert key["attname"].tolist() == ["decision_id", "recorded_at"]
    assert warehouse.query("SELECT decision_id FROM planning.council_approvals")[
        "decision_id"
    ].tolist() == ["d1"]


def test_roles_are_refused_on_duckdb(tmp_path):
    with pytest.raises(WarehouseError, match="only in PostgreSQL"):
        apply_roles(Warehouse(str(tmp_path / "w.duckdb")))


def test_on_duckdb_the_author_is_the_name_given_or_the_os_user(tmp_path):
    warehouse = Warehouse(str(tmp_path / "w.duckdb"))
    assert recorded_author(warehouse, " Nguyễn Thị Lan ") == "Nguyễn Thị Lan"
    assert recorded_author(warehouse, None) == recorded_author(warehouse, "") == getpass.getuser()
