"""Upgrades keep the warehouse: one written by release 2dba3cf (``tests/fixtures``, made
by that release's own code), brought to today's schema when a run starts, keeps its
decisions, consultations, council approvals and publications, on DuckDB and PostGIS."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import psycopg2
import pytest
from sqlalchemy.engine import make_url

from assets.decisions.commune import load_commune
from assets.decisions.defs import APPROVED_PUBLICATIONS, APPROVED_TABLES
from assets.decisions.record import read_decision_assignments, read_decisions
from assets.marts.defs import MART_TABLES
from assets.marts.publish import PUBLICATIONS
from assets.progress.defs import PROGRESS_PUBLICATIONS
from assets.progress.records import CONSULTATIONS, COUNCIL_APPROVALS, read_records
from assets.warehouse import Warehouse, migrations
from assets.warehouse.base import (
    PARTITION_COLUMNS,
    contract_of,
    qualified_identifier,
    quote_identifier,
)
from assets.warehouse.duckdb_backend import spatial_extension_path
from assets.warehouse.migrations import (
    LATEST_VERSION,
    SCHEMA_VERSIONS,
    Migration,
    SchemaVersionError,
    schema_version,
    upgrade,
)
from assets.warehouse.writer_lock import writer_lock
from expectations.schemas import LAYERS, TABLES

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RECORDS = (
    "planning.decisions",
    "planning.decision_assignments",
    "planning.consultations",
    "planning.council_approvals",
)
# Each set of marts today's code publishes together, and its publications table.
PUBLISHED = {
    PUBLICATIONS: MART_TABLES,
    APPROVED_PUBLICATIONS: APPROVED_TABLES,
    PROGRESS_PUBLICATIONS: ("commune_progress", "progress_timeline"),
}
KEPT = (*RECORDS, *PUBLISHED, *(f"marts.{m}" for marts in PUBLISHED.values() for m in marts))


def _load(warehouse: Warehouse, backend: str) -> None:
    """The release's dump, loaded as it is (no session of today's code touches it first)."""
    script = (FIXTURES / f"warehouse_2dba3cf.{backend}.sql").read_text()
    if warehouse.kind == "duckdb":
        con = duckdb.connect(str(warehouse.path))
        try:
            con.execute(f"LOAD '{spatial_extension_path()}'")
            con.execute(script)
        finally:
            con.close()
        return
    url = make_url(warehouse.url)
    con = psycopg2.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database
    )
    try:
        con.autocommit = True
        with con.cursor() as cursor:
            cursor.execute(script)
            # Statistics now, so no autovacuum worker is analysing the fresh rows when the
            # test's database is dropped (which cannot end a worker's session).
            cursor.execute("ANALYZE")
    finally:
        con.close()


@pytest.fixture(params=["duckdb", "postgres"])
def old_warehouse(request, tmp_path) -> Warehouse:
    """A warehouse as release 2dba3cf left it: two publications, a decision, its
    consultation and the council's approval."""
    if request.param == "duckdb":
        warehouse = Warehouse(f"duckdb:///{tmp_path / 'old.duckdb'}")
    else:
        warehouse = Warehouse(request.getfixturevalue("postgres_url"))
    _load(warehouse, request.param)
    return warehouse


def _start(warehouse: Warehouse) -> None:
    """What every run does first: take the writer lock (pipelines.runner, pipelines.locking)."""
    with writer_lock(warehouse.url, province_code="04"):
        pass


def _rows(warehouse: Warehouse, table: str, columns: list[str]) -> pd.DataFrame:
    """A table's rows in ``columns`` (geometry as text), in a stable order."""
    geometry = set(TABLES[table].geometry_columns)
    select = ", ".join(
        f"ST_AsText({quote_identifier(c)}) AS {quote_identifier(c)}"
        if c in geometry
        else quote_identifier(c)
        for c in columns
    )
    order = ", ".join(str(i + 1) for i, c in enumerate(columns) if c not in geometry)
    return warehouse.query(f"SELECT {select} FROM {qualified_identifier(table)} ORDER BY {order}")


def _snapshot(warehouse: Warehouse) -> dict[str, pd.DataFrame]:
    with warehouse.connect() as session:
        stored = {table: session.column_names(table) for table in KEPT}
    return {table: _rows(warehouse, table, columns) for table, columns in stored.items()}


def _versions(warehouse: Warehouse) -> pd.DataFrame:
    return warehouse.query(f"SELECT * FROM {SCHEMA_VERSIONS} ORDER BY version")


def test_an_old_warehouse_is_upgraded_on_start_and_keeps_its_history(old_warehouse):
    warehouse = old_warehouse
    before = _snapshot(warehouse)
    assert schema_version(warehouse) is None
    assert len(before["planning.decisions"]) == 1
    assert len(before["marts.publications"]) == 2

    _start(warehouse)

    assert _versions(warehouse)["version"].tolist() == [1, 2, 3] == [1, 2, LATEST_VERSION]
    # Every row kept, in the columns it had.
    for table, rows in before.items():
        pd.testing.assert_frame_equal(_rows(warehouse, table, list(rows.columns)), rows, obj=table)
    # Every stored table now has its contract's columns: migrated = created today.
    with warehouse.connect() as session:
        for layer in LAYERS:
            for name in session.table_names(layer):
                stored = set(session.column_names(f"{layer}.{name}")) - set(PARTITION_COLUMNS)
                contract = contract_of(f"{layer}.{name}")
                assert stored == set(contract.columns) - set(PARTITION_COLUMNS), name

    # Today's readers see the records...
    decisions = read_decisions(warehouse, "04")
    decision = before["planning.decisions"]["decision_id"].iloc[0]
    assert decisions["decision_id"].tolist() == [decision]
    assignment = read_decision_assignments(warehouse, [decision])
    assert len(assignment) == len(before["planning.decision_assignments"])
    consulted = read_records(warehouse, CONSULTATIONS, "04")
    assert len(consulted) == len(before["planning.consultations"]) > 0
    assert consulted["is_passed"].all()
    approved = read_records(warehouse, COUNCIL_APPROVALS, "04")
    assert approved["resolution_number"].tolist() == ["12/NQ-HĐND"]
    # ...and each mart's _current view its latest publication, the earlier one kept.
    for publications, marts in PUBLISHED.items():
        runs = before[publications].sort_values("published_at")["run_id"].tolist()
        assert len(runs) == 2, publications
        for mart in marts:
            current = warehouse.read_table(f"marts.{mart}_current")
            assert set(current["run_id"]) <= {runs[-1]}, mart
            stored_runs = set(before[f"marts.{mart}"]["run_id"])
            # The first publication came before the decision: no approved plan yet.
            assert stored_runs == (set(runs[1:]) if "approved" in publications else set(runs))
    assert len(warehouse.read_table("marts.hamlets_current")) > 0
    assert len(warehouse.read_table("marts.approved_plan_current")) > 0
    commune = load_commune(warehouse, "04", str(decisions["commune_code"].iloc[0]))
    assert commune.hamlets["held_households"].isna().all()  # a column added since


def test_a_second_start_applies_nothing(old_warehouse):
    assert [m.version for m in upgrade(old_warehouse)] == [2, 3]
    versions = _versions(old_warehouse)
    before = _snapshot(old_warehouse)
    assert upgrade(old_warehouse) == []
    _start(old_warehouse)
    pd.testing.assert_frame_equal(_versions(old_warehouse), versions)
    for table, rows in before.items():
        pd.testing.assert_frame_equal(
            _rows(old_warehouse, table, list(rows.columns)), rows, obj=table
        )


def test_a_warehouse_newer_than_the_code_is_refused(old_warehouse):
    upgrade(old_warehouse)
    newer = LATEST_VERSION + 1
    with old_warehouse.transaction() as session:
        session.execute(
            f"INSERT INTO {SCHEMA_VERSIONS} VALUES (?, now(), 'A later release')", [newer]
        )
    with pytest.raises(SchemaVersionError) as refused, writer_lock(old_warehouse.url):
        pytest.fail("a run started on a newer warehouse")
    message = str(refused.value)
    assert f"schema version {newer} (A later release)" in message
    assert f"this code's version {LATEST_VERSION}" in message
    assert _versions(old_warehouse)["version"].tolist() == [1, 2, 3, newer]


def test_a_new_warehouse_starts_at_the_latest_version(tmp_path):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'new.duckdb'}")
    _start(warehouse)
    versions = _versions(warehouse)
    assert versions["version"].tolist() == [LATEST_VERSION]
    assert versions["description"].str.startswith("New warehouse").all()
    assert upgrade(warehouse) == []


def test_a_failed_migration_leaves_the_warehouse_as_it_was(tmp_path, monkeypatch):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'old.duckdb'}")
    _load(warehouse, "duckdb")

    def fails(session, kind: str) -> None:
        raise RuntimeError("the last step failed")

    last = LATEST_VERSION + 1
    monkeypatch.setattr(
        migrations, "MIGRATIONS", (*migrations.MIGRATIONS, Migration(last, "fails", fails))
    )
    monkeypatch.setattr(migrations, "LATEST_VERSION", last)
    with pytest.raises(RuntimeError, match="the last step failed"):
        _start(warehouse)
    assert schema_version(warehouse) is None
    with warehouse.connect() as session:
        assert "held_households" not in session.column_names("marts.hamlets")


@pytest.mark.integration
def test_todays_pipeline_publishes_into_an_upgraded_warehouse(small_landing, tmp_path):
    """A run of today's graph on the old warehouse: it upgrades, publishes a third version
    beside the release's two, and the planner's records stay as they were."""
    import dagster as dg

    from pipelines.runner import run_province
    from pipelines.settings import Settings

    warehouse = Warehouse(f"duckdb:///{tmp_path / 'old.duckdb'}")
    _load(warehouse, "duckdb")
    before = _snapshot(warehouse)
    settings = Settings(
        warehouse_url=warehouse.url,
        landing_root=small_landing.parent,
        exports_dir=tmp_path / "exports",
    )
    report = run_province(settings, instance=dg.DagsterInstance.ephemeral())
    assert report.success, report.errors
    assert _versions(warehouse)["version"].tolist() == [1, 2, LATEST_VERSION]
    publications = warehouse.read_table(PUBLICATIONS)
    assert len(publications) == 3
    assert set(before[PUBLICATIONS]["run_id"]) < set(publications["run_id"])
    current = warehouse.read_table("marts.hamlets_current")
    assert set(current["run_id"]) == {report.run_id}
    assert current["held_households"].notna().all()  # filled by today's code
    for table in RECORDS:
        rows = before[table]
        pd.testing.assert_frame_equal(_rows(warehouse, table, list(rows.columns)), rows, obj=table)
