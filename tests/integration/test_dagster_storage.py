"""The documented production dagster.yaml really stores runs in PostgreSQL."""

from __future__ import annotations

import shutil

import dagster as dg

from hamlets_config import data_path

CONFIG = data_path("dagster.postgres.yaml")


@dg.asset
def tiny_asset() -> int:
    return 1


def test_runs_are_stored_in_postgres(tmp_path, monkeypatch, postgres_url):
    assert postgres_url.startswith("postgresql+psycopg2://")
    shutil.copy(CONFIG, tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_url)
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        result = dg.materialize([tiny_asset], instance=instance)
        assert result.success
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert instance.get_run_by_id(result.run_id) is not None
    finally:
        instance.dispose()
    # A second instance on the same database sees the run: it is in Postgres, not memory.
    again = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        assert again.get_run_by_id(result.run_id) is not None
    finally:
        again.dispose()
