"""Dagster wiring for the weekly progress report: marts and files for one province.

The statuses come from planners' records (decisions, consultations, council approvals),
which are written from the notebooks, not by the graph, so they are read here rather
than declared as assets. The ``weekly_progress_report`` schedule requests it every
Monday for every province; the province job also refreshes it.
"""

from datetime import UTC, datetime

import dagster as dg

from assets.exports.safe import remove_partials
from assets.marts.build import PublishStamp
from assets.marts.publish import publish_marts
from assets.materialised import row_count
from assets.progress.consultation import load_consultation_file
from assets.progress.deadlines import Deadlines
from assets.progress.records import load_progress_records
from assets.progress.report import ProgressReport, write_chart, write_workbook
from assets.progress.status import commune_progress, progress_timeline, status_counts
from assets.provinces import PROVINCE_NAMES, province_asset, province_multi_asset
from assets.raw.landing import Landing
from assets.run_settings import RunSettings
from assets.warehouse import Warehouse

PROGRESS_PUBLICATIONS = "marts.progress_publications"
PROGRESS_REPORT_KEY = dg.AssetKey(["exports", "progress_report"])
CONSULTATION_FILE_KEY = dg.AssetKey(["planning", "consultation_file"])


@province_multi_asset(
    specs=[
        dg.AssetSpec(
            ["marts", "commune_progress"],
            group_name="progress",
            deps=[["marts", "commune_summary"], ["marts", "approved_plan"], CONSULTATION_FILE_KEY],
        ),
        dg.AssetSpec(
            ["marts", "progress_timeline"],
            group_name="progress",
            deps=[["marts", "commune_summary"], ["marts", "approved_plan"]],
        ),
        dg.AssetSpec(
            PROGRESS_REPORT_KEY,
            group_name="progress",
            kinds={"file"},
            deps=[["marts", "commune_progress"], ["marts", "progress_timeline"]],
        ),
    ],
    name="progress_report",
    description="Each commune's progress against the directive's deadlines, weekly.",
)
def progress_report(
    context: dg.AssetExecutionContext,
    warehouse: dg.ResourceParam[Warehouse],
    run_settings: RunSettings,
    deadlines: dg.ResourceParam[Deadlines],
):
    """The report describes the run's as-of date (``run_settings.as_of``)."""
    province = context.partition_key
    as_of = run_settings.as_of_date
    records = load_progress_records(warehouse, province)
    due = deadlines.for_province(province)
    progress = commune_progress(records, as_of, due)
    timeline = progress_timeline(records, as_of, due)
    stamp = PublishStamp(
        province_code=province,
        rules_profile=run_settings.rules.name,
        run_id=context.run.run_id,
        published_at=datetime.now(UTC),
    )
    day = {"report_date": as_of}
    publish_marts(
        warehouse,
        {
            "commune_progress": stamp.apply(progress.assign(**day)),
            "progress_timeline": stamp.apply(timeline.assign(**day)),
        },
        stamp,
        publications=PROGRESS_PUBLICATIONS,
    )
    report = ProgressReport(
        province_code=province,
        province_name=PROVINCE_NAMES.get(province, province),
        as_of=as_of,
        deadlines=due,
        progress=progress,
        timeline=timeline,
    )
    folder = run_settings.exports().folder_for(province) / "tien_do"
    workbook, chart = write_workbook(report, folder), write_chart(report, folder)
    remove_partials(folder)  # what a killed run left; earlier weeks' reports stay
    counts = {f"communes_{s}": int(n) for s, n in status_counts(progress).items()}
    late = len(report.late)
    yield dg.MaterializeResult(
        asset_key=["marts", "commune_progress"],
        metadata={"rows": len(progress), "report_date": str(as_of), "late_communes": late}
        | row_count(len(progress))
        | counts,
    )
    yield dg.MaterializeResult(
        asset_key=["marts", "progress_timeline"],
        metadata={"rows": len(timeline), **row_count(len(timeline))},
    )
    yield dg.MaterializeResult(
        asset_key=PROGRESS_REPORT_KEY,
        metadata={
            "workbook": dg.MetadataValue.path(str(workbook)),
            "chart": dg.MetadataValue.path(str(chart)),
            "late_communes": late,
        },
    )


@province_asset(
    key=CONSULTATION_FILE_KEY,
    deps=[["staging", "hamlets"]],
    group_name="progress",
    kinds={"file"},
)
def consultation_file(
    context: dg.AssetExecutionContext,
    warehouse: dg.ResourceParam[Warehouse],
    landing: dg.ResourceParam[Landing],
    run_settings: RunSettings,
) -> dg.MaterializeResult:
    """Residents' consultation results from the province's landing folder (a
    ``consultations`` or ``lay_y_kien`` file), when one is there; a rejected merge
    becomes a must-not-merge constraint before the merger options are planned."""
    province = context.partition_key
    folder = landing.for_province(province).path
    outcome = load_consultation_file(warehouse, folder, province, run_settings.rules)
    if outcome is None:
        return dg.MaterializeResult(metadata={"file": "none", "hamlets": 0})
    for row in outcome.failed.itertuples(index=False):
        context.log.warning(
            f"commune {row.commune_code}: hamlet {row.hamlet_code} rejected the merge into "
            f"unit {row.unit_id} ({row.in_favour_share:.0%} in favour); re-planned without it"
        )
    return dg.MaterializeResult(
        metadata={
            "file": str(outcome.rows["source_file"].iloc[0]),
            "hamlets": len(outcome.rows),
            "failed": len(outcome.failed),
            "constraints_added": len(outcome.forbidden),
        }
    )


PROGRESS_ASSETS = [consultation_file, progress_report]
