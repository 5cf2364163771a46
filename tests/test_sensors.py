"""The landing-folder sensor and the nightly schedule: a new or changed file starts its
province's run, the same file does not; the schedule re-runs what changed since the last
materialisation."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import dagster as dg

from assets.raw.landing import LANDING_ROLES, Landing
from assets.warehouse import Warehouse
from pipelines.build import build_defs
from pipelines.sensors import PUBLISHED_KEY, landing_folder_sensor, nightly_refresh
from pipelines.settings import Settings

FILES = (
    "communes.geojson",
    "hamlet_boundaries.gpkg",
    "hamlet_registry.xlsx",
    "households.csv",
    "persons.csv",
)


def _defs(landing_root) -> dg.Definitions:
    return build_defs(Settings(warehouse_url=str(landing_root.parent / "w.duckdb")))


def _evaluate(landing_root, cursor=None):
    context = dg.build_sensor_context(
        cursor=cursor,
        resources={
            "landing": Landing(landing_root),
            "warehouse": Warehouse(str(landing_root.parent / "w.duckdb")),
        },
        definitions=_defs(landing_root),
    )
    return landing_folder_sensor.evaluate_tick(context)


def test_new_changed_and_identical_files(tmp_path, small_landing):
    root = tmp_path / "landing"
    landing = root / "04"
    landing.mkdir(parents=True)
    (root / "not_a_province").mkdir()
    # Incomplete folder: nothing to run yet, and the skip says which folder.
    shutil.copy(small_landing / "communes.geojson", landing)
    first = _evaluate(root)
    assert not first.run_requests
    assert "04: " in first.skip_message and "incomplete" in first.skip_message

    for name in FILES:
        shutil.copy(small_landing / name, landing)
    complete = _evaluate(root)
    assert len(complete.run_requests) == 1
    assert complete.run_requests[0].partition_key == "04"
    assert complete.run_requests[0].tags["landing/changed"] == (
        "communes,hamlet_boundaries,hamlet_registry,households,persons"
    )
    # Each file's hash becomes its landing asset's data version (staleness in the UI).
    versions = {
        event.asset_key.path[1]: event.tags["dagster/data_version"]
        for event in complete.asset_events
    }
    assert versions == {f.role: f.sha256 for f in Landing(landing).check()}
    assert {event.partition for event in complete.asset_events} == {"04"}

    # The same bytes dropped again (new mtime): no run.
    shutil.copy(small_landing / "persons.csv", landing / "persons.csv")
    again = _evaluate(root, cursor=complete.cursor)
    assert not again.run_requests
    assert again.skip_message == "no new or changed landing file"

    # A real change to one file: one run, naming that file.
    with (landing / "households.csv").open("ab") as handle:
        handle.write(b"\r\n")
    changed = _evaluate(root, cursor=complete.cursor)
    assert len(changed.run_requests) == 1
    assert changed.run_requests[0].tags["landing/changed"] == "households"
    assert changed.run_requests[0].run_key != complete.run_requests[0].run_key

    # A second province arrives: only it runs; Cao Bằng's cursor is kept.
    shutil.copytree(small_landing, root / "33", ignore=shutil.ignore_patterns("ground_truth"))
    both = _evaluate(root, cursor=changed.cursor)
    assert [r.partition_key for r in both.run_requests] == ["33"]
    assert not _evaluate(root, cursor=both.cursor).run_requests


def _record_materialisations(instance, landing: Landing, code: str, *, publish: bool) -> None:
    """What a run records: the raw assets' source hashes, then the publication."""
    for landing_file in landing.for_province(code).check():
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=["raw", landing_file.role],
                partition=code,
                metadata={"source_sha256": landing_file.sha256},
            )
        )
    if publish:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=PUBLISHED_KEY, partition=code)
        )


def _nightly(instance, root):
    context = dg.build_schedule_context(
        instance=instance,
        resources={"landing": Landing(root)},
        scheduled_execution_time=datetime(2026, 11, 21, 1, tzinfo=UTC),
        repository_def=_defs(root).get_repository_def(),
    )
    return nightly_refresh.evaluate_tick(context)


def test_nightly_schedule_requests_only_changed_or_unpublished_provinces(tmp_path, small_landing):
    root = tmp_path / "landing"
    for code in ("04", "33", "01"):
        shutil.copytree(small_landing, root / code, ignore=shutil.ignore_patterns("ground_truth"))
    landing = Landing(root)
    with dg.instance_for_test() as instance:
        first = _nightly(instance, root)
        assert sorted(r.partition_key for r in first.run_requests) == ["01", "04", "33"]
        assert {r.tags["refresh/reason"] for r in first.run_requests} == {"communes never loaded"}

        _record_materialisations(instance, landing, "04", publish=True)
        _record_materialisations(instance, landing, "33", publish=True)
        _record_materialisations(instance, landing, "01", publish=False)  # failed before marts
        with (root / "33" / "persons.csv").open("ab") as handle:
            handle.write(b"\r\n")
        second = _nightly(instance, root)
        reasons = {r.partition_key: r.tags["refresh/reason"] for r in second.run_requests}
        assert reasons == {"33": "persons changed", "01": "last run did not publish"}

        _record_materialisations(instance, landing, "33", publish=True)
        _record_materialisations(instance, landing, "01", publish=True)
        quiet = _nightly(instance, root)
        assert not quiet.run_requests
        assert quiet.skip_message == "every province is up to date"
    assert len(LANDING_ROLES) == len(FILES)
