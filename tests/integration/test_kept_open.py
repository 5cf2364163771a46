"""A run keeps its DuckDB warehouse open: every session of the run is a connection to one
database (no new database, spatial extension loaded again, per session), and the file
is closed, its writes kept, when the run's writer lock is released."""

from __future__ import annotations

from assets.warehouse import Warehouse, duckdb_backend
from assets.warehouse.duckdb_backend import kept_open
from assets.warehouse.writer_lock import writer_lock


def _memory_limit(warehouse: Warehouse) -> str:
    with warehouse.connect() as session:
        return str(session.con.execute("SELECT current_setting('memory_limit')").fetchone()[0])


def _set_memory_limit(warehouse: Warehouse, limit: str) -> None:
    # A database-wide setting: a later session sees it only if it shares the database.
    with warehouse.connect() as session:
        session.con.execute(f"SET GLOBAL memory_limit = '{limit}'")


def test_sessions_share_one_database_while_the_writer_lock_is_held(tmp_path):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    with warehouse.connect():
        pass  # the file exists
    default = _memory_limit(warehouse)
    _set_memory_limit(warehouse, "1234MB")
    assert _memory_limit(warehouse) == default  # each session alone: a new database

    with writer_lock(warehouse.url, province_code="04"):
        _set_memory_limit(warehouse, "1234MB")
        assert _memory_limit(warehouse) != default
        # A read-only session shares it too (DuckDB refuses a second configuration).
        shared = warehouse.query("SELECT current_setting('memory_limit') AS m")["m"].iloc[0]
        assert shared == _memory_limit(warehouse)
        with warehouse.connect() as session:
            session.con.execute("CREATE TABLE raw.kept_note AS SELECT 'Xã Nà Rụa' AS note")

    # Released: the next session is a database of its own again, the write kept.
    assert _memory_limit(warehouse) == default
    assert warehouse.query("SELECT note FROM raw.kept_note")["note"].tolist() == ["Xã Nà Rụa"]


def test_keeping_open_nests_and_closes_once(tmp_path):
    path = tmp_path / "w.duckdb"
    warehouse = Warehouse(f"duckdb:///{path}")
    with kept_open(path):
        default = _memory_limit(warehouse)
        _set_memory_limit(warehouse, "777MB")
        with kept_open(path):
            assert _memory_limit(warehouse) != default
        # The inner block did not close the database the outer one keeps.
        assert _memory_limit(warehouse) != default
    assert _memory_limit(warehouse) == default


def test_a_kept_database_holding_too_much_memory_is_opened_afresh(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    warehouse = Warehouse(f"duckdb:///{path}")
    with kept_open(path):
        default = _memory_limit(warehouse)
        with warehouse.connect() as session:
            session.con.execute("CREATE TABLE raw.kept_note AS SELECT 'Pác Bó' AS note")
        _set_memory_limit(warehouse, "777MB")
        assert _memory_limit(warehouse) != default  # a small database: kept as it is
        monkeypatch.setattr(duckdb_backend, "KEPT_MEMORY_BYTES", -1)
        with warehouse.connect() as outer:
            outer.con.execute("SET GLOBAL memory_limit = '555MB'")
            with warehouse.connect():
                pass  # a session closing while another is open leaves the database be
            assert _memory_limit(warehouse) != default
        # The last open session closed: the database was opened afresh, rows kept.
        assert _memory_limit(warehouse) == default
        assert warehouse.query("SELECT note FROM raw.kept_note")["note"].tolist() == ["Pác Bó"]
