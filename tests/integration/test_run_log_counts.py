"""A run's log says how many rows each step wrote and read (the counts the progress bar
shows, and what an engineer reads in the Dagster UI while a long run advances)."""

from __future__ import annotations

import re

import dagster as dg

from assets.warehouse import Warehouse


def test_each_table_the_io_manager_writes_is_counted_in_the_run_log(published, pipeline_instance):
    settings, report = published
    assert report.success, report.failed_steps
    lines = [
        record.user_message
        for record in pipeline_instance.all_logs(report.run_id)
        if record.dagster_event is None
    ]
    written = dict(
        (m.group(1), int(m.group(2).replace(",", "")))
        for m in (re.fullmatch(r"(\w+\.\w+): ([\d,]+) rows written", line) for line in lines)
        if m
    )
    read = {
        m.group(1) for m in (re.fullmatch(r"(\w+\.\w+): [\d,]+ rows read", x) for x in lines) if m
    }
    assert {"raw.persons", "raw.households", "staging.hamlets"} <= set(written)
    assert "staging.hamlets" in read
    warehouse = Warehouse(settings.warehouse_url)
    stored = warehouse.query(
        "SELECT count(*) AS n FROM raw.persons WHERE landing_province = ?", [report.province_code]
    )
    assert written["raw.persons"] == stored["n"].item()
    # Every count line matches the rows the step's materialisation recorded.
    records = pipeline_instance.get_records_for_run(
        run_id=report.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    for record in records:
        materialisation = record.asset_materialization
        rows = materialisation.metadata.get("rows_written")
        name = ".".join(materialisation.asset_key.path)
        if rows is not None and name in written:
            assert written[name] == rows.value, name
