"""PostGIS roles: planners see marts (and write decisions), data units see the restricted
records, engineers see everything; tables recreated by later runs keep the grants."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pandas as pd
import psycopg2
import pytest
from sqlalchemy.engine import make_url

from assets.warehouse import Warehouse, WarehouseError
from assets.warehouse.roles import apply_roles


def _write_layers(warehouse: Warehouse) -> None:
    for table in ("staging.example", "quality.example", "planning.example", "marts.example"):
        warehouse.write_table(table, pd.DataFrame({"province_code": ["04"], "n": [1]}))


@pytest.fixture
def role_urls(postgres_url):
    """The pipeline's warehouse with roles applied, and a login URL per role."""
    warehouse = Warehouse(postgres_url)
    _write_layers(warehouse)
    apply_roles(warehouse)
    _write_layers(warehouse)  # a later run drops and recreates every table
    admin = make_url(postgres_url)
    logins, urls = [], {}
    with (
        psycopg2.connect(
            host=admin.host,
            port=admin.port,
            user=admin.username,
            password=admin.password,
            dbname=admin.database,
        ) as con,
        con.cursor() as cursor,
    ):
        for group in ("hamlets_planner", "hamlets_data_unit", "hamlets_engineer"):
            login = f"t_{group.removeprefix('hamlets_')}_{uuid.uuid4().hex[:6]}"
            cursor.execute(f"CREATE ROLE {login} LOGIN PASSWORD 'pw' IN ROLE {group}")
            logins.append(login)
            urls[group] = admin.set(username=login, password="pw").render_as_string(
                hide_password=False
            )
    yield urls
    with (
        psycopg2.connect(
            host=admin.host,
            port=admin.port,
            user=admin.username,
            password=admin.password,
            dbname="postgres",
        ) as con,
        con.cursor() as cursor,
    ):
        for login in logins:
            cursor.execute(f"DROP ROLE IF EXISTS {login}")


def _can_read(url: str, table: str) -> bool:
    parsed = make_url(url)
    con = psycopg2.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
    )
    try:
        with con.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            return True
    except psycopg2.errors.InsufficientPrivilege:
        return False
    finally:
        con.close()


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


def test_planner_records_decisions_but_cannot_change_marts(role_urls):
    planner = Warehouse(role_urls["hamlets_planner"])
    with planner.transaction() as session:
        session.execute(
            "INSERT INTO planning.decisions (decision_id, province_code, commune_code, "
            "option_name, decided_by, note, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ["d1", "04", "04001", "minimal", "Nguyễn Thị Lan", "Theo ý kiến cử tri",
             datetime(2026, 11, 21, tzinfo=UTC)],
        )  # fmt: skip
        session.execute(
            "INSERT INTO planning.decision_assignments VALUES (?, ?, ?, ?, ?)",
            ["d1", "04", "04001", "04001001", "04001001"],
        )
    assert len(planner.query("SELECT * FROM planning.decisions")) == 1
    with pytest.raises(psycopg2.errors.InsufficientPrivilege), planner.transaction() as session:
        session.execute("DELETE FROM marts.example")


def test_roles_are_refused_on_duckdb(tmp_path):
    with pytest.raises(WarehouseError, match="only in PostgreSQL"):
        apply_roles(Warehouse(str(tmp_path / "w.duckdb")))


def test_planner_saves_decisions_append_only_and_corrects_approvals(role_urls):
    """The notebook API's writes under the planner role: decisions are appended (no
    DELETE needed), a council approval entered again replaces the earlier entry."""
    planner = Warehouse(role_urls["hamlets_planner"])
    when = pd.Timestamp(datetime(2026, 11, 21, tzinfo=UTC))
    decision = pd.DataFrame(
        {
            "decision_id": ["d2"],
            "province_code": ["04"],
            "commune_code": ["04001"],
            "option_name": ["compliant"],
            "decided_by": ["Nguyễn Thị Lan"],
            "note": [""],
            "decided_at": [when],
            "based_on_run_id": ["r1"],
            "rules_profile": ["nd185"],
        }
    )
    planner.write_table("planning.decisions", decision, append=True)
    planner.write_table("planning.decisions", decision.assign(decision_id="d3"), append=True)
    assert sorted(planner.query("SELECT decision_id FROM planning.decisions")["decision_id"]) == [
        "d2",
        "d3",
    ]
    approval = pd.DataFrame(
        {
            "decision_id": ["d2"],
            "province_code": ["04"],
            "commune_code": ["04001"],
            "approved_date": [pd.Timestamp("2026-06-20")],
            "resolution_number": ["12/NQ-HĐND"],
            "recorded_by": ["Nguyễn Thị Lan"],
            "note": [""],
            "recorded_at": [when],
        }
    )
    for number in ("12/NQ-HĐND", "13/NQ-HĐND"):
        planner.write_table(
            "planning.council_approvals",
            approval.assign(resolution_number=number),
            replace_where={"decision_id": "d2"},
        )
    stored = planner.query("SELECT resolution_number FROM planning.council_approvals")
    assert stored["resolution_number"].tolist() == ["13/NQ-HĐND"]
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        planner.write_table(
            "planning.decisions", decision.assign(decision_id="d4"), replace_where={}
        )
