"""A bad upload never replaces good figures: the publication guard, materialised for real.

A province is published once; each test then lands a damaged persons file (cut by the
test itself) in a copy of that warehouse and runs the whole graph again.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from click.testing import CliRunner

from assets.marts.defs import publish_province_marts
from assets.marts.guard import judge
from assets.warehouse import Warehouse
from pipelines.build import build_resources
from pipelines.cli import main
from pipelines.runner import RunReport, run_province
from pipelines.settings import Settings, SettingsError
from synthetic.province import synthesise_province

PROVINCE = "04"
COUNTS = {"hamlets": 10, "households": 1000, "persons": 4000}
ROLES = {"communes": 2, "hamlet_boundaries": 10, "hamlet_registry": 10, "households": 1000}


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> tuple[Path, Path]:
    """A province's landing folder and the warehouse holding its good publication."""
    root = tmp_path_factory.mktemp("guarded")
    landing = root / "landing" / PROVINCE
    synthesise_province(landing, seed=11, households=800, n_communes=2, error_rate=0.01)
    warehouse = root / "w.duckdb"
    report = _run(Settings(warehouse_url=f"duckdb:///{warehouse}", landing_root=landing.parent))
    assert report.success, report
    return landing, warehouse


def _run(settings: Settings, **kwargs) -> RunReport:
    return run_province(settings, PROVINCE, instance=dg.DagsterInstance.ephemeral(), **kwargs)


def _copy(first: tuple[Path, Path], tmp_path: Path) -> Settings:
    """The published warehouse and its landing folder, copied for one test to damage."""
    landing, warehouse = first
    shutil.copytree(landing, tmp_path / "landing" / PROVINCE)
    shutil.copy(warehouse, tmp_path / "w.duckdb")
    return Settings(
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}", landing_root=tmp_path / "landing"
    )


def _keep_persons(settings: Settings, keep) -> int:
    """Cut the persons file to its header and the data rows ``keep(i)`` accepts."""
    path = settings.landing_root / PROVINCE / "persons.csv"
    header, *rows = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    kept = [row for i, row in enumerate(rows) if keep(i)]
    path.write_text(header + "".join(kept), encoding="utf-8-sig")
    return len(kept)


def _current(warehouse: Warehouse) -> dict[str, set[str]]:
    return {
        view: set(warehouse.read_table(f"marts.{view}")["run_id"])
        for view in ("commune_summary_current", "merger_options_current", "hamlets_current")
    }


def _publications(warehouse: Warehouse) -> pd.DataFrame:
    return warehouse.read_table("marts.publications").set_index("run_id")


def test_a_header_only_persons_file_is_refused_and_the_marts_keep_the_last_good_one(
    first, tmp_path, monkeypatch
):
    settings = _copy(first, tmp_path)
    warehouse = Warehouse(settings.warehouse_url)
    current, publications = _current(warehouse), _publications(warehouse)
    assert _keep_persons(settings, lambda i: False) == 0
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    args = ["run", "--landing", str(settings.landing_root), "--province", PROVINCE]
    result = CliRunner().invoke(main, [*args, "--warehouse", str(tmp_path / "w.duckdb")])
    assert result.exit_code == 1
    # One line among the run's log lines (also on stderr) says why.
    reasons = [line for line in result.stderr.splitlines() if "publication blocked" in line]
    assert len(reasons) == 1, result.stderr[-2000:]
    assert reasons[0].startswith("province 04: publication blocked: the persons file has no")
    assert "-100%" in reasons[0] and "--allow-shrink" in reasons[0]
    assert _current(warehouse) == current
    assert _publications(warehouse).index.tolist() == publications.index.tolist()


def test_a_file_that_lost_most_records_is_blocked_before_publishing(first, tmp_path):
    settings = _copy(first, tmp_path)
    warehouse = Warehouse(settings.warehouse_url)
    current, publications = _current(warehouse), _publications(warehouse)
    _keep_persons(settings, lambda i: i % 10 < 3)  # about 70% of the records lost
    instance = dg.DagsterInstance.ephemeral()
    report = run_province(settings, PROVINCE, instance=instance)
    assert not report.success
    assert "safe_to_publish" in report.failed_checks
    assert len(report.blocked_by) == 1 and "more than the 20% allowed" in report.blocked_by[0]
    # The UI shows the failed check with every count before and after.
    check = dg.AssetCheckKey(dg.AssetKey(["planning", "hamlet_compliance"]), "safe_to_publish")
    evaluation = instance.event_log_storage.get_latest_asset_check_execution_by_key([check])[
        check
    ].event.dagster_event.event_specific_data
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    persons = evaluation.metadata["persons"].value
    assert persons["after"] < 0.35 * persons["before"]
    assert persons["change_share"] < -0.6
    # The publish step never ran: nothing materialised in the marts by this run.
    assert instance.get_latest_materialization_event(dg.AssetKey(["marts", "hamlets"])) is None
    assert _current(warehouse) == current
    assert _publications(warehouse).index.tolist() == publications.index.tolist()
    # Materialising the marts alone (the check then does not run) is refused as well.
    alone = dg.materialize(
        [publish_province_marts],
        partition_key=PROVINCE,
        resources=build_resources(settings),
        raise_on_error=False,
    )
    assert not alone.success
    failure = next(e for e in alone.all_events if e.is_step_failure)
    assert "publication blocked" in failure.step_failure_data.user_failure_data.description
    assert _current(warehouse) == current
    assert _publications(warehouse).index.tolist() == publications.index.tolist()


def test_the_override_publishes_the_change_and_the_publication_records_it(first, tmp_path):
    settings = _copy(first, tmp_path)
    warehouse = Warehouse(settings.warehouse_url)
    before = warehouse.read_table("marts.commune_summary_current")["population"].sum()
    _keep_persons(settings, lambda i: i % 10 < 3)
    report = _run(settings, allow_shrink=True)
    assert report.success, report
    assert "safe_to_publish" in report.failed_checks  # still shown, as a warning
    assert _current(warehouse)["commune_summary_current"] == {report.run_id}
    after = warehouse.read_table("marts.commune_summary_current")["population"].sum()
    assert after < 0.35 * before
    override = _publications(warehouse).loc[report.run_id, "shrink_override"]
    assert f"persons {before:,} -> {after:,}" in override


def test_a_small_legitimate_change_publishes(first, tmp_path):
    settings = _copy(first, tmp_path)
    warehouse = Warehouse(settings.warehouse_url)
    before = warehouse.read_table("marts.commune_summary_current")["population"].sum()
    _keep_persons(settings, lambda i: i % 50 != 0)  # 2% fewer records
    report = _run(settings)
    assert report.success, report
    assert "safe_to_publish" not in report.failed_checks
    assert _current(warehouse)["commune_summary_current"] == {report.run_id}
    assert (
        0.95 * before
        < warehouse.read_table("marts.commune_summary_current")["population"].sum()
        < before
    )
    assert pd.isna(_publications(warehouse).loc[report.run_id, "shrink_override"])


def test_a_header_only_persons_file_is_refused_on_postgis(postgres_url, first, tmp_path):
    landing = tmp_path / "landing" / PROVINCE
    shutil.copytree(first[0], landing)
    settings = Settings(warehouse_url=postgres_url, landing_root=landing.parent)
    good = _run(settings)
    assert good.success, good
    _keep_persons(settings, lambda i: False)
    report = _run(settings)
    assert not report.success and "safe_to_publish" in report.failed_checks
    assert "the persons file has no records" in report.blocked_by[0]
    warehouse = Warehouse(postgres_url)
    assert _current(warehouse)["commune_summary_current"] == {good.run_id}
    assert _publications(warehouse).index.tolist() == [good.run_id]


# The rule itself, on counts.


def test_the_shrink_rule_blocks_beyond_the_share_and_never_growth():
    at_limit = {**COUNTS, "households": 800}  # exactly 20% fewer
    assert not judge(PROVINCE, ROLES | {"persons": 1}, COUNTS, at_limit, 0.2).blocked
    beyond = judge(PROVINCE, ROLES | {"persons": 1}, COUNTS, {**COUNTS, "households": 799}, 0.2)
    assert beyond.problems == ("households 1,000 -> 799 (-20%), more than the 20% allowed",)
    grown = {name: 10 * n for name, n in COUNTS.items()}
    assert not judge(PROVINCE, ROLES | {"persons": 1}, COUNTS, grown, 0.2).blocked


def test_a_first_publication_is_judged_only_on_empty_files_and_zero_counts():
    few = {"hamlets": 1, "households": 1, "persons": 1}
    assert not judge(PROVINCE, ROLES | {"persons": 1}, None, few, 0.2).blocked
    empty = judge(PROVINCE, ROLES | {"persons": 0}, None, {**few, "persons": 0}, 0.2)
    assert empty.problems == ("the persons file has no records", "persons 0, nothing to publish")
    assert "nothing is published" in empty.reason


def test_the_largest_allowed_fall_is_a_share(tmp_path):
    with pytest.raises(SettingsError, match="HAMLETS_MAX_SHRINK_SHARE"):
        Settings(warehouse_url=str(tmp_path / "w.duckdb"), max_shrink_share=20).check()
