"""The landing-folder sensor and the nightly schedule: a new or changed file starts its
province's run, the same file does not; the schedule re-runs what changed since the last
materialisation."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime

import dagster as dg
import pytest

from assets.raw import landing as landing_module
from assets.raw.landing import LANDING_ROLES, Landing, file_sha256
from assets.warehouse import Warehouse
from pipelines import sensors
from pipelines.build import build_defs
from pipelines.sensors import (
    NIGHTLY_CRON,
    PUBLISHED_KEY,
    TIMEZONE,
    landing_folder_sensor,
    nightly_refresh,
)
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


@pytest.fixture
def provinces(tmp_path, small_landing):
    """A landing root with two complete provinces (04, 33) and an incomplete one (01)."""
    root = tmp_path / "landing"
    for code in ("04", "33"):
        shutil.copytree(small_landing, root / code, ignore=shutil.ignore_patterns("ground_truth"))
    (root / "01").mkdir()
    shutil.copy(small_landing / "communes.geojson", root / "01")
    return root


@pytest.fixture
def hashed(monkeypatch) -> list[str]:
    """The names of the files the sensor reads to hash, tick after tick."""
    names: list[str] = []

    def counting(path):
        names.append(path.name)
        return file_sha256(path)

    monkeypatch.setattr(sensors, "file_sha256", counting, raising=False)
    monkeypatch.setattr(landing_module, "file_sha256", counting)
    return names


def _requested(result) -> list[str]:
    return sorted(r.partition_key for r in result.run_requests)


def test_first_tick_requests_every_province_with_files(provinces, hashed):
    first = _evaluate(provinces)
    assert _requested(first) == ["04", "33"]
    assert len(hashed) == 2 * len(FILES)  # the incomplete folder is not read
    remembered = json.loads(first.cursor)["provinces"]
    assert sorted(remembered) == ["04", "33"]
    persons = remembered["04"]["persons"]
    stat = (provinces / "04" / "persons.csv").stat()
    assert persons == {
        "name": "persons.csv",
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": file_sha256(provinces / "04" / "persons.csv"),
    }


def test_second_tick_with_nothing_changed_requests_and_reads_nothing(provinces, hashed):
    first = _evaluate(provinces)
    hashed.clear()
    second = _evaluate(provinces, cursor=first.cursor)
    assert second.run_requests == []
    assert "no new or changed landing file" in second.skip_message
    assert hashed == []


def test_touched_file_is_hashed_once_and_requests_nothing(provinces, hashed):
    first = _evaluate(provinces)
    persons = provinces / "33" / "persons.csv"
    stat = persons.stat()
    os.utime(persons, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    hashed.clear()
    touched = _evaluate(provinces, cursor=first.cursor)
    assert touched.run_requests == []
    assert hashed == ["persons.csv"]
    # The new mtime is remembered: the next tick reads nothing again.
    hashed.clear()
    assert _evaluate(provinces, cursor=touched.cursor).run_requests == []
    assert hashed == []


def test_changing_one_province_file_requests_only_that_province(provinces, hashed):
    first = _evaluate(provinces)
    with (provinces / "33" / "households.csv").open("ab") as handle:
        handle.write(b"\r\n")
    hashed.clear()
    changed = _evaluate(provinces, cursor=first.cursor)
    assert _requested(changed) == ["33"]
    assert changed.run_requests[0].tags["landing/changed"] == "households"
    assert hashed == ["households.csv"]
    assert [e.asset_key.path for e in changed.asset_events] == [["landing", "households"]]
    assert not _evaluate(provinces, cursor=changed.cursor).run_requests


def test_cursor_of_the_previous_form_requests_only_real_changes(provinces):
    """A cursor written before the per-file cursor (a digest and each role's hash per
    province) carries over: no run for an unchanged province after the upgrade."""
    hashes = {code: sensors.landing_fingerprint(Landing(provinces / code)) for code in ("04", "33")}
    old = json.dumps({code: {"digest": d, "files": h} for code, (d, h) in hashes.items()})
    with (provinces / "04" / "persons.csv").open("ab") as handle:
        handle.write(b"\r\n")
    assert _requested(_evaluate(provinces, cursor=old)) == ["04"]


def test_nightly_schedule_is_defined_for_the_province_job(tmp_path):
    schedule = _defs(tmp_path / "landing").resolve_schedule_def("nightly_refresh")
    assert schedule.cron_schedule == NIGHTLY_CRON == "0 1 * * *"
    assert schedule.execution_timezone == TIMEZONE == "Asia/Ho_Chi_Minh"
    assert schedule.job_name == landing_folder_sensor.job_name
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


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
