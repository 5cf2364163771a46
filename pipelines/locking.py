"""Runs hold the warehouse's writer lock (assets.warehouse.writer_lock) from start to end,
and a run whose process died is reported failed rather than left STARTED.

Where the lock is taken:

- ``hamlets run`` takes it in the CLI process around ``execute_in_process``
  (pipelines.runner), before the run is created: a refused run leaves no record.
- Runs the daemon or the UI launch (sensor, schedules, backfills, "Materialize") go
  through the job's executor in their run worker process. :func:`with_writer_lock`
  wraps the executor so that process holds the lock around every step; with the
  multiprocess executor (PostgreSQL) the step processes are its children, so the lock
  spans them all. A run refused the lock fails with the message naming the holder.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from assets.warehouse import Warehouse
from assets.warehouse.writer_lock import process_is_gone, process_token, writer_lock

# Run tag naming the process that executes a run (machine.boot.pid.start; no personal data).
PROCESS_TAG = "hamlets/process"
PARTITION_TAG = "dagster/partition"


def run_tags() -> dict[str, str]:
    """Tags a run started by this process carries, so a later process can tell whether
    it died (see :func:`fail_abandoned_runs`)."""
    return {PROCESS_TAG: process_token()}


def fail_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Report FAILURE for every STARTED run whose process has ended (SIGKILL, power cut).

    Nothing runs in a process killed by SIGKILL, so its run stays STARTED until someone
    looks; the CLI and every run worker look when they start. Only runs whose process is
    known to have ended on this machine are touched (pipelines.runner tags them); others
    are left to the daemon's run monitoring (config/dagster.*.yaml). Returns their ids.
    """
    failed = []
    records = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    for record in records:
        run = record.dagster_run
        token = run.tags.get(PROCESS_TAG)
        if token and token != process_token() and process_is_gone(token):
            pid = token.split(".")[2]
            instance.report_run_failed(
                run,
                f"The process that ran this run (pid {pid}) ended without reporting its "
                "end (killed or crashed); marked failed. Its writer lock was released "
                "with it; the last published marts are unchanged.",
            )
            failed.append(run.run_id)
    return failed


class WriterLockedExecutor(dg.Executor):
    """An executor that holds the warehouse's writer lock around another's execution."""

    def __init__(self, inner: dg.Executor, warehouse_url: str, wait_s: float) -> None:
        self._inner = inner
        self._warehouse_url = warehouse_url
        self._wait_s = wait_s

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan) -> Iterator[dg.DagsterEvent]:
        run = plan_context.dagster_run
        instance = plan_context.instance
        fail_abandoned_runs(instance)
        instance.add_run_tags(run.run_id, run_tags())
        with writer_lock(
            self._warehouse_url,
            province_code=run.tags.get(PARTITION_TAG),
            run_id=run.run_id,
            wait_s=self._wait_s,
        ):
            plan_context.log.info(
                f"Holding the writer lock of {Warehouse(self._warehouse_url).location} for this run"
            )
            yield from self._inner.execute(plan_context, execution_plan)


def with_writer_lock(
    executor_def: dg.ExecutorDefinition, warehouse_url: str, wait_s: float
) -> dg.ExecutorDefinition:
    """``executor_def`` (same name and config) whose runs hold the writer lock."""
    inner_creation = executor_def.executor_creation_fn
    assert inner_creation is not None

    def create(init_context: dg.InitExecutorContext) -> dg.Executor:
        return WriterLockedExecutor(inner_creation(init_context), warehouse_url, wait_s)

    return dg.ExecutorDefinition(
        name=executor_def.name,
        config_schema=executor_def.config_schema,
        executor_creation_fn=create,
        requirements=executor_def.get_requirements,
        description=executor_def.description,
    )
