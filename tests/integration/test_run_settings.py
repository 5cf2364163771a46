"""Run-wide settings: one resource, set once per run, that every step judges by.

The as-of date decides whether a birth date is in the future; a run whose steps disagreed
on it would quarantine a record in one step and count it in another, so every step that
reads it must see one value, whether given (``hamlets run --as-of``) or not (the day the
run was created).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from click.testing import CliRunner

from assets.progress.records import day_in_vietnam
from assets.quality.person_rules import BIRTH_DATE_FUTURE
from assets.run_settings import RunSettings
from assets.warehouse import Warehouse
from pipelines.cli import main
from pipelines.runner import RunReport, run_province
from pipelines.settings import Settings, SettingsError
from synthetic.province import synthesise_province

PROVINCE = "04"
AS_OF = dt.date(2026, 1, 1)


def test_hamlets_run_passes_the_as_of_date_once_for_every_province(tmp_path, monkeypatch):
    """``--as-of`` reaches the run's settings; without it, one day (today) for all."""
    seen: list[Settings] = []

    def fake_run(settings, province_code, instance=None, **_):
        seen.append(settings)
        return RunReport(province_code, "run", False, (), (), (), str(tmp_path))

    monkeypatch.setattr("pipelines.runner.run_province", fake_run)
    where = ["--landing", str(tmp_path), "--warehouse", str(tmp_path / "w.duckdb")]
    provinces = ["--province", "04", "--province", "33"]
    given = CliRunner().invoke(main, ["run", *where, *provinces, "--as-of", "2026-01-01"])
    assert given.exit_code == 1, given.output  # the fake runs fail: no second province
    assert [s.as_of for s in seen] == [AS_OF]
    assert seen[0].run_settings().as_of == "2026-01-01"
    seen.clear()
    CliRunner().invoke(main, ["run", *where, *provinces])
    assert [s.as_of for s in seen] == [day_in_vietnam()]
    bad = CliRunner().invoke(main, ["run", *where, "--as-of", "01/01/2026"])
    assert bad.exit_code == 2 and "--as-of" in bad.output


def test_an_empty_as_of_is_the_day_in_vietnam_the_run_was_created():
    # 18:00 UTC on 31 December is already 1 January in Vietnam.
    created = dt.datetime(2025, 12, 31, 18, tzinfo=dt.UTC)
    assert RunSettings().resolve_as_of(created) == AS_OF
    assert RunSettings(as_of="2025-06-30").resolve_as_of(created) == dt.date(2025, 6, 30)
    with pytest.raises(ValueError, match=r"run_settings\.as_of: '30/06/2025'"):
        RunSettings(as_of="30/06/2025").check()


def test_the_code_location_takes_the_as_of_date_from_the_environment(monkeypatch):
    monkeypatch.setenv("HAMLETS_AS_OF", "2026-01-01")
    assert Settings.from_env().run_settings().as_of == "2026-01-01"
    monkeypatch.setenv("HAMLETS_AS_OF", "1/1/2026")
    with pytest.raises(SettingsError, match="HAMLETS_AS_OF is '1/1/2026'"):
        Settings.from_env()
    monkeypatch.delenv("HAMLETS_AS_OF")
    assert Settings.from_env().run_settings().as_of == ""


def _plant_birth_date(folder: Path, born: dt.date) -> str:
    """Give one household member (not its head) ``born`` as birth date; its citizen ID."""
    path = folder / "persons.csv"
    persons = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    member = persons.index[persons["Quan hệ với chủ hộ"] != "Chủ hộ"][0]
    persons.loc[member, "Ngày sinh"] = f"{born:%d/%m/%Y}"
    persons.to_csv(path, index=False, encoding="utf-8-sig")
    return persons.loc[member, "Số ĐDCN"]


def _as_of_seen(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """The as-of date each step of the run reported, by asset or check."""
    seen = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = record.dagster_event.event_specific_data.materialization
        metadata = materialization.metadata
        for name in ("as_of", "report_date"):
            if name in metadata:
                seen[materialization.asset_key.to_user_string()] = metadata[name].value
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.event_specific_data
        if "as_of" in evaluation.metadata:
            seen[evaluation.check_name] = evaluation.metadata["as_of"].value
    return seen


def _future_birth_issues(warehouse: Warehouse, citizen_id: str) -> pd.DataFrame:
    return warehouse.query(
        "SELECT i.severity FROM quality.record_issues AS i JOIN staging.persons AS p "
        "ON i.record_id = p.record_id AND i.table_name = 'staging.persons' "
        "WHERE p.citizen_id = ? AND i.rule = ?",
        [citizen_id, BIRTH_DATE_FUTURE],
    )


@pytest.mark.integration
def test_the_as_of_date_decides_a_future_birth_and_every_step_of_a_run_shares_it(tmp_path):
    """Born between 1 January 2026 and today: an error as of 1 January, not as of today;
    each run's staging, record issues, persons suite and progress report name one day."""
    if day_in_vietnam() - AS_OF < dt.timedelta(days=2):
        pytest.skip("needs a day strictly between the as-of date and today")
    landing = tmp_path / "landing" / PROVINCE
    synthesise_province(landing, seed=23, households=300, n_communes=2, error_rate=0.0)
    citizen_id = _plant_birth_date(landing, AS_OF + (day_in_vietnam() - AS_OF) / 2)
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    warehouse = Warehouse(url)
    instance = dg.DagsterInstance.ephemeral()

    past = run_province(
        Settings(warehouse_url=url, landing_root=landing.parent, as_of=AS_OF), instance=instance
    )
    assert past.success, past
    assert _future_birth_issues(warehouse, citizen_id)["severity"].tolist() == ["error"]
    seen = _as_of_seen(instance, past.run_id)
    assert {"staging/persons", "quality/record_issues", "marts/commune_progress"} <= set(seen)
    assert "persons_suite" in seen
    assert set(seen.values()) == {"2026-01-01"}, seen
    report_dates = warehouse.query(
        "SELECT DISTINCT report_date FROM marts.commune_progress_current"
    )["report_date"]
    assert report_dates.tolist() == [pd.Timestamp(AS_OF)]

    # The same files re-run without a date: as of today, the birth is in the past.
    current = run_province(
        Settings(warehouse_url=url, landing_root=landing.parent), instance=instance
    )
    assert current.success, current
    assert _future_birth_issues(warehouse, citizen_id).empty
    seen = _as_of_seen(instance, current.run_id)
    created = instance.get_run_record_by_id(current.run_id).create_timestamp
    assert set(seen.values()) == {day_in_vietnam(created).isoformat()}, seen
    assert len(seen) == 4
