"""The landing-folder sensor: a new or changed file starts a run, the same file does not."""

from __future__ import annotations

import shutil

import dagster as dg

from assets.raw.landing import Landing
from pipelines.sensors import landing_folder_sensor


def _evaluate(landing_dir, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources={"landing": Landing(landing_dir)})
    return landing_folder_sensor.evaluate_tick(context)


def test_new_changed_and_identical_files(tmp_path, small_landing):
    landing = tmp_path / "landing"
    landing.mkdir()
    # Incomplete folder: nothing to run yet.
    shutil.copy(small_landing / "communes.geojson", landing)
    first = _evaluate(landing)
    assert not first.run_requests
    assert "incomplete" in first.skip_message

    for name in ("hamlet_boundaries.gpkg", "hamlet_registry.xlsx", "households.csv"):
        shutil.copy(small_landing / name, landing)
    shutil.copy(small_landing / "persons.csv", landing)
    complete = _evaluate(landing)
    assert len(complete.run_requests) == 1
    assert complete.run_requests[0].tags["landing/changed"] == (
        "communes,hamlet_boundaries,hamlet_registry,households,persons"
    )

    # The same bytes dropped again (new mtime): no run.
    shutil.copy(small_landing / "persons.csv", landing / "persons.csv")
    again = _evaluate(landing, cursor=complete.cursor)
    assert not again.run_requests
    assert again.skip_message == "no new or changed landing file"

    # A real change to one file: one run, naming that file.
    with (landing / "households.csv").open("ab") as handle:
        handle.write(b"\r\n")
    changed = _evaluate(landing, cursor=complete.cursor)
    assert len(changed.run_requests) == 1
    assert changed.run_requests[0].tags["landing/changed"] == "households"
    assert changed.run_requests[0].run_key != complete.run_requests[0].run_key
