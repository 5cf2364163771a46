"""Run the whole graph for one province without the UI (CLI, tests and benchmarks)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from assets.marts.defs import ALLOW_SHRINK_TAG, PUBLISH_STEP
from assets.provinces import check_province_code
from assets.raw.landing import Landing, LandingFileError
from assets.warehouse import Warehouse
from assets.warehouse.writer_lock import writer_lock
from hamlets_config import data_path
from pipelines.build import build_defs
from pipelines.jobs import PROVINCE_JOB_NAME
from pipelines.locking import fail_abandoned_runs, run_tags
from pipelines.run_progress import progress_run_config
from pipelines.settings import Settings

DEFAULT_DAGSTER_HOME = Path("data/dagster_home")
LOCAL_INSTANCE_CONFIG = data_path("dagster.local.yaml")


@dataclass(frozen=True)
class RunReport:
    province_code: str
    run_id: str
    success: bool
    failed_steps: tuple[str, ...]
    errors: tuple[str, ...]
    failed_checks: tuple[str, ...]
    warehouse_location: str
    # The reasons blocking checks gave (one line each), e.g. why publication was refused.
    blocked_by: tuple[str, ...] = ()
    # SIGINT/SIGTERM arrived during the run: it is reported FAILURE, or, when the signal
    # came after its last step, it finished (``success``) and nothing further may start.
    interrupted: bool = False
    # The marts were published before the run stopped (a later step, e.g. exports, failed).
    published: bool = False


def local_instance(home: Path | None = None) -> dg.DagsterInstance:
    """Run history in ``home``, else DAGSTER_HOME (default data/dagster_home), shared
    with `dagster dev`.

    SQLite storage; telemetry off, since provincial machines are often offline.
    """
    from_env = home is None
    if home is None:
        home = Path(os.environ.setdefault("DAGSTER_HOME", str(DEFAULT_DAGSTER_HOME.resolve())))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copy(LOCAL_INSTANCE_CONFIG, config)
    if from_env:
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.from_config(str(home.resolve()))


def landed_province(settings: Settings, province_code: str | None = None) -> str:
    """The province to run: as given, else the only province folder under the landing root.

    Its landing folder is checked here, so a missing file is one clear message rather
    than a failed run.
    """
    root = Landing(settings.landing_root)
    if province_code is None:
        found = root.province_codes()
        if len(found) != 1:
            raise LandingFileError(
                f"{settings.landing_root}: "
                + (
                    f"several province folders ({', '.join(found)}); name one"
                    if found
                    else "no province folder; put the files in <landing root>/<province code>/"
                )
            )
        province_code = found[0]
    province_code = check_province_code(province_code)
    root.for_province(province_code).check()
    return province_code


def run_province(
    settings: Settings,
    province_code: str | None = None,
    instance: dg.DagsterInstance | None = None,
    *,
    log_level: str = "INFO",
    allow_shrink: bool = False,
    progress: str = "off",
) -> RunReport:
    """Materialise every asset and run every check for one province's landing folder.

    ``allow_shrink`` tags the run so that figures the publication guard would refuse
    (a deliberate large change) are published, and the publication records it. The run's
    settings, ``settings.as_of`` among them, reach its steps once, as the ``run_settings``
    resource of :func:`build_defs`; no step takes them as op config.

    The run holds the warehouse's writer lock from before it is created to its end,
    waiting up to ``settings.lock_wait_s`` for another run's (else WarehouseBusyError, and no
    run is recorded). Runs of this instance whose process was killed are marked failed
    first. SIGINT or SIGTERM during the run reports it FAILURE (``interrupted``).

    ``progress`` shows the run advancing on stderr (``pipelines.run_progress``): "bar"
    or "lines" (one per finished step), the console's Dagster lines then only from
    warnings up; or "off".
    """
    province_code = landed_province(settings, province_code)
    defs = build_defs(settings)
    job = defs.resolve_job_def(PROVINCE_JOB_NAME)
    loggers: dict[str, object] = {"console": {"config": {"log_level": log_level}}}
    if progress != "off":
        # The steps' count lines stay in the run's log (the UI), and on the bar.
        loggers |= progress_run_config(job, bar=progress == "bar")
        loggers["console"] = {"config": {"log_level": "WARNING"}}
    instance = instance or local_instance()
    fail_abandoned_runs(instance)
    run_id = str(uuid.uuid4())
    with (
        writer_lock(
            settings.warehouse_url,
            province_code=province_code,
            run_id=run_id,
            wait_s=settings.lock_wait_s,
        ),
        signals_received() as received,
    ):
        result = job.execute_in_process(
            partition_key=province_code,
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": loggers},
            run_id=run_id,
            tags={**run_tags(), **({ALLOW_SHRINK_TAG: "true"} if allow_shrink else {})},
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
    evaluations = [e for e in result.get_asset_check_evaluations() if not e.passed]
    failed_checks = tuple(evaluation.check_name for evaluation in evaluations)
    blocked_by = tuple(
        e.description
        for e in evaluations
        if e.severity == dg.AssetCheckSeverity.ERROR and e.blocking and e.description
    )
    return RunReport(
        province_code=province_code,
        run_id=result.run_id,
        success=result.success,
        failed_steps=failed_steps,
        errors=errors,
        failed_checks=failed_checks,
        warehouse_location=Warehouse(settings.warehouse_url).location,
        blocked_by=blocked_by,
        interrupted=_interrupted(result.all_events) or bool(received & _INTERRUPTS),
        published=any(
            event.event_type == dg.DagsterEventType.STEP_SUCCESS and event.step_key == PUBLISH_STEP
            for event in result.all_events
        ),
    )


_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def signals_received() -> Iterator[set[int]]:
    """The signals Python handled while in the block, whoever's handler ran.

    Dagster captures SIGINT/SIGTERM during a run and raises them only when a step starts;
    one that arrives after the last step is dropped when the run ends. The interpreter's
    wakeup fd sees every handled signal, so the caller can still stop. Main thread only
    (elsewhere the set stays empty).
    """
    received: set[int] = set()
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    try:
        yield received
    finally:
        signal.set_wakeup_fd(previous)
        try:
            while chunk := reader.recv(4096):
                received.update(chunk)
        except BlockingIOError:
            pass
        reader.close()
        writer.close()


def _interrupted(events: list[dg.DagsterEvent]) -> bool:
    """Whether a signal (SIGINT, SIGTERM) ended the run: Dagster turns either into
    DagsterExecutionInterruptedError and reports the run FAILURE."""
    for event in events:
        if event.event_type == dg.DagsterEventType.RUN_FAILURE:
            error = event.job_failure_data.error
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
        else:
            continue
        if error is not None and error.cls_name == "DagsterExecutionInterruptedError":
            return True
    return False
