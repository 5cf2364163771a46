"""Operations: every step is partitioned and pooled, heavy steps tagged, instances and
executors configured for one machine (DuckDB) and for production (PostgreSQL)."""

from __future__ import annotations

import shutil

import dagster as dg

from assets.provinces import MEMORY_HEAVY_TAGS, PROVINCE_CODES, WAREHOUSE_POOL
from hamlets_config import data_path
from pipelines.build import build_defs, multiprocess_config
from pipelines.settings import Settings

CONFIG = data_path("dagster.local.yaml").parent


def _job(settings: Settings) -> dg.JobDefinition:
    return build_defs(settings).resolve_job_def("restructure_province")


def test_every_step_is_a_province_partition_in_the_warehouse_pool(tmp_path):
    job = _job(Settings(warehouse_url=str(tmp_path / "w.duckdb")))
    assert list(job.partitions_def.get_partition_keys()) == list(PROVINCE_CODES)
    assert len(PROVINCE_CODES) == 34 and "04" in PROVINCE_CODES and "79" in PROVINCE_CODES
    ops = list(job.graph.iterate_op_defs())
    assert ops
    assert {op.name: op.pool for op in ops if op.pool != WAREHOUSE_POOL} == {}
    heavy = {op.name for op in ops if op.tags.get("hamlets/memory") == "heavy"}
    assert {"staging__persons", "quality__probable_duplicates", "quality_persons"} <= heavy


def test_executor_follows_the_warehouse(tmp_path):
    duckdb = build_defs(Settings(warehouse_url=str(tmp_path / "w.duckdb")))
    assert duckdb.resolve_job_def("restructure_province").executor_def.name == "in_process"
    postgres = build_defs(
        Settings(warehouse_url="postgresql+psycopg2://u:p@h/db", max_concurrent_steps=3)
    )
    executor = postgres.resolve_job_def("restructure_province").executor_def
    assert executor.name == "multiprocess"
    key, value = next(iter(MEMORY_HEAVY_TAGS.items()))
    assert multiprocess_config(Settings(max_concurrent_steps=3)) == {
        "max_concurrent": 3,
        "tag_concurrency_limits": [{"key": key, "value": value, "limit": 1}],
    }


def test_instance_configs_limit_the_warehouse_pool(tmp_path):
    local = tmp_path / "local"
    local.mkdir()
    shutil.copy(CONFIG / "dagster.local.yaml", local / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(local))
    try:
        pools = instance.get_concurrency_config().pool_config
        assert pools.default_pool_limit == 1
        assert pools.pool_granularity.value == "run"
        info = instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
        assert info.limit == 1
    finally:
        instance.dispose()
    production = (CONFIG / "dagster.postgres.yaml").read_text()
    assert "default_limit: 4" in production and "granularity: op" in production


def test_instance_configs_monitor_runs(tmp_path, monkeypatch, postgres_url):
    """A run whose worker dies or hangs ends FAILURE instead of showing STARTED for ever."""
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_url)
    for name in ("dagster.local.yaml", "dagster.postgres.yaml"):
        home = tmp_path / name
        home.mkdir()
        shutil.copy(CONFIG / name, home / "dagster.yaml")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert instance.run_monitoring_enabled, name
            assert instance.run_monitoring_start_timeout_seconds == 180
            assert instance.run_monitoring_cancel_timeout_seconds == 180
            assert instance.run_monitoring_max_runtime_seconds == 6 * 3600
            # The default run launcher cannot resume a run's worker.
            assert instance.run_monitoring_max_resume_run_attempts == 0
            assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
