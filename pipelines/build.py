"""Assemble the Definitions: one function, so tests and the CLI can swap resources."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from assets.decisions.defs import DECISION_ASSETS
from assets.exports.defs import EXPORT_ASSETS
from assets.marts.defs import MARTS_ASSETS, MARTS_CHECKS
from assets.planning.defs import PLANNING_ASSETS
from assets.progress.deadlines import load_deadlines
from assets.progress.defs import PROGRESS_ASSETS
from assets.provinces import MEMORY_HEAVY_TAGS
from assets.quality.defs import QUALITY_ASSETS, QUALITY_CHECKS
from assets.quality.national_defs import NATIONAL_ASSETS, SparkResource
from assets.raw.defs import LANDING_SPECS, RAW_ASSETS
from assets.raw.landing import Landing
from assets.run_settings import RUN_SETTINGS
from assets.staging.defs import STAGING_ASSETS, STAGING_CHECKS
from assets.warehouse import Warehouse
from pipelines.io_managers import WarehouseIOManager
from pipelines.jobs import province_job
from pipelines.locking import with_writer_lock
from pipelines.progress import progress_job, weekly_progress_report
from pipelines.run_progress import LOGGERS
from pipelines.sensors import landing_folder_sensor, nightly_refresh
from pipelines.settings import Settings
from pipelines.surface import with_surface

ALL_ASSETS = [
    *LANDING_SPECS,
    *RAW_ASSETS,
    *STAGING_ASSETS,
    *QUALITY_ASSETS,
    *NATIONAL_ASSETS,
    *PLANNING_ASSETS,
    *MARTS_ASSETS,
    *EXPORT_ASSETS,
    *DECISION_ASSETS,
    *PROGRESS_ASSETS,
]


def build_resources(settings: Settings) -> dict[str, object]:
    """The resources of every run; the run-wide values are one resource, ``run_settings``
    (checked here, so bad rules or a bad date stop the code location from loading)."""
    run_settings = settings.run_settings()
    run_settings.check()
    return {
        "warehouse": Warehouse(settings.warehouse_url),
        "landing": Landing(settings.landing_root),
        RUN_SETTINGS: run_settings,
        "io_manager": WarehouseIOManager(url=settings.warehouse_url),
        "record_references": settings.record_references,
        "deadlines": load_deadlines(),
        # Where national duplicate detection runs: local[2] here; a master or Spark
        # Connect URL from the environment on a cluster (README, "The country on Spark").
        "spark": SparkResource(
            master=dg.EnvVar("HAMLETS_SPARK_MASTER").get_value("local[2]") or "local[2]",
            remote=dg.EnvVar("HAMLETS_SPARK_REMOTE").get_value("") or "",
        ),
    }


def build_executor(settings: Settings) -> dg.ExecutorDefinition:
    """How a run's steps execute.

    DuckDB allows one writer per file, so its steps run in one process. A PostgreSQL
    warehouse takes the multiprocess executor: independent steps in parallel, but at most
    one step tagged memory-heavy at a time (a province's person records in memory). On
    a cluster, swap in ``dagster_k8s.k8s_job_executor`` or ``dagster_celery`` with the
    same tag limits (README, "Running at scale").

    Either way the run's process holds the warehouse's writer lock for the whole run
    (pipelines.locking), waiting up to ``settings.lock_wait_s`` for another run's.
    """
    if Warehouse(settings.warehouse_url).kind == "duckdb":
        return with_writer_lock(
            dg.in_process_executor, settings.warehouse_url, settings.lock_wait_s
        )
    return with_writer_lock(
        dg.multiprocess_executor, settings.warehouse_url, settings.lock_wait_s
    ).configured(multiprocess_config(settings))


def multiprocess_config(settings: Settings) -> dict[str, object]:
    key, value = next(iter(MEMORY_HEAVY_TAGS.items()))
    return {
        "max_concurrent": settings.max_concurrent_steps,
        "tag_concurrency_limits": [{"key": key, "value": value, "limit": 1}],
    }


def build_defs(
    settings: Settings | None = None,
    resource_overrides: Mapping[str, object] | None = None,
) -> dg.Definitions:
    """The code location's Definitions."""
    settings = settings or Settings.from_env()
    settings.check()  # e.g. production without HAMLETS_HASH_SECRET: the location won't load
    resources = build_resources(settings) | dict(resource_overrides or {})
    return dg.Definitions(
        assets=with_surface(ALL_ASSETS, Warehouse(settings.warehouse_url).kind),
        asset_checks=[*STAGING_CHECKS, *QUALITY_CHECKS, *MARTS_CHECKS],
        jobs=[province_job, progress_job],
        sensors=[landing_folder_sensor],
        schedules=[nightly_refresh, weekly_progress_report],
        resources=resources,
        executor=build_executor(settings),
        loggers=LOGGERS,
    )
