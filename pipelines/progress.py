"""The weekly progress report: its job and the Monday schedule.

The directives ask each province to report progress weekly against fixed deadlines;
every Monday morning (Vietnam time) the schedule requests the report for every province
that has a landing folder, dated that Monday: the run's ``run_settings`` resource, as the
code location sets it, with that Monday as its as-of date.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import dagster as dg

from assets.progress.defs import PROGRESS_ASSETS
from assets.raw.landing import Landing
from assets.run_settings import RunSettings
from pipelines.sensors import TIMEZONE, province_folders

PROGRESS_JOB_NAME = "weekly_progress_report"
WEEKLY_CRON = "0 7 * * 1"  # Mondays 07:00, before the week's meetings

progress_job = dg.define_asset_job(
    PROGRESS_JOB_NAME,
    selection=dg.AssetSelection.assets(*PROGRESS_ASSETS),
    description="Each commune's progress against the deadlines: marts, workbook and chart",
)


@dg.schedule(
    job=progress_job,
    cron_schedule=WEEKLY_CRON,
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def weekly_progress_report(
    context: dg.ScheduleEvaluationContext,
    landing: dg.ResourceParam[Landing],
    run_settings: RunSettings,
) -> list[dg.RunRequest] | dg.SkipReason:
    """Request the progress report of every province, as of the scheduled Monday."""
    day = context.scheduled_execution_time.astimezone(ZoneInfo(TIMEZONE)).date()
    config = run_settings.run_config(as_of=day.isoformat())
    requests = [
        dg.RunRequest(
            partition_key=code,
            run_key=f"{code}:{day.isoformat()}",
            run_config=config,
            tags={"progress/report_date": day.isoformat()},
        )
        for code in province_folders(landing)
    ]
    return requests or dg.SkipReason("no province folder under the landing root")
