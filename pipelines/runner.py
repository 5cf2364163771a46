"""Run the whole graph for one landing folder without the UI (CLI and tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from assets.raw.landing import Landing
from assets.warehouse import Warehouse
from pipelines.build import build_defs
from pipelines.jobs import PROVINCE_JOB_NAME
from pipelines.settings import Settings

DEFAULT_DAGSTER_HOME = Path("data/dagster_home")


@dataclass(frozen=True)
class RunReport:
    run_id: str
    success: bool
    failed_steps: tuple[str, ...]
    errors: tuple[str, ...]
    failed_checks: tuple[str, ...]
    warehouse_location: str


def local_instance() -> dg.DagsterInstance:
    """Run history in DAGSTER_HOME (default data/dagster_home), shared with `dagster dev`.

    SQLite storage; telemetry off, since provincial machines are often offline.
    """
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(DEFAULT_DAGSTER_HOME.resolve())))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.get()


def run_province(
    settings: Settings,
    instance: dg.DagsterInstance | None = None,
    *,
    log_level: str = "INFO",
) -> RunReport:
    """Materialise every asset and run every check for the landing folder in ``settings``.

    The landing folder is checked first, so a missing file is one clear message rather
    than a failed run.
    """
    Landing(settings.landing_dir).check()
    defs = build_defs(settings)
    job = defs.resolve_job_def(PROVINCE_JOB_NAME)
    result = job.execute_in_process(
        instance=instance or local_instance(),
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    failures = [
        event for event in result.all_events if event.event_type == dg.DagsterEventType.STEP_FAILURE
    ]
    failed_steps = tuple(event.step_key or "?" for event in failures)
    errors = tuple(
        event.step_failure_data.error.cause.message.strip()
        if event.step_failure_data.error and event.step_failure_data.error.cause
        else (event.message or "")
        for event in failures
    )
    failed_checks = tuple(
        evaluation.check_name
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed
    )
    return RunReport(
        run_id=result.run_id,
        success=result.success,
        failed_steps=failed_steps,
        errors=errors,
        failed_checks=failed_checks,
        warehouse_location=Warehouse(settings.warehouse_url).location,
    )
