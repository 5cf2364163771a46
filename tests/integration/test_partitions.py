"""Provinces as partitions: two provinces materialise into one warehouse independently."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from assets.warehouse import Warehouse
from pipelines.runner import landed_province, run_province
from pipelines.settings import Settings
from synthetic.province import synthesise_province

PROVINCES = {"04": 11, "33": 12}  # code -> seed


@pytest.fixture(scope="module")
def two_provinces(tmp_path_factory) -> tuple[Settings, dg.DagsterInstance, dict]:
    root = tmp_path_factory.mktemp("landing")
    for code, seed in PROVINCES.items():
        synthesise_province(
            root / code, seed=seed, households=500, n_communes=2, province_code=code
        )
    warehouse = tmp_path_factory.mktemp("warehouse") / "w.duckdb"
    settings = Settings(warehouse_url=f"duckdb:///{warehouse}", landing_root=root)
    instance = dg.DagsterInstance.ephemeral()
    reports = {code: run_province(settings, code, instance=instance) for code in PROVINCES}
    return settings, instance, reports


def _counts(warehouse: Warehouse, table: str) -> dict[str, int]:
    column = "landing_province" if table.startswith("raw.") else "province_code"
    df = warehouse.query(f"SELECT {column} AS p, count(*) AS n FROM {table} GROUP BY 1")
    return dict(zip(df["p"], df["n"].astype(int), strict=True))


def test_two_provinces_share_the_warehouse(two_provinces):
    settings, instance, reports = two_provinces
    assert all(r.success for r in reports.values()), {c: r.errors for c, r in reports.items()}
    warehouse = Warehouse(settings.warehouse_url)
    for table in ("raw.persons", "staging.persons", "staging.hamlets", "planning.merger_units"):
        assert set(_counts(warehouse, table)) == set(PROVINCES), table
    # Each province's rows come from its own files: households per province as landed.
    for code in PROVINCES:
        landed = pd.read_csv(settings.landing_root / code / "households.csv", dtype=str)
        staged = warehouse.for_province(code).read_table("staging.households")
        assert len(staged) == len(landed)
        assert "province_code" not in staged.columns  # the storage column stays in storage
    current = warehouse.query(
        "SELECT DISTINCT province_code FROM marts.merger_options_current ORDER BY 1"
    )
    assert current["province_code"].tolist() == sorted(PROVINCES)
    # Dagster knows both partitions as materialised.
    materialised = instance.get_materialized_partitions(dg.AssetKey(["marts", "merger_options"]))
    assert materialised == set(PROVINCES)
    # Exports: one folder per province.
    for code in PROVINCES:
        assert list((settings.exports_root).glob(f"*{code}*/*.gpkg")), code


def test_rerunning_one_province_leaves_the_other_untouched(two_provinces):
    settings, instance, reports = two_provinces
    warehouse = Warehouse(settings.warehouse_url)
    other = warehouse.for_province("33")
    before = other.read_table("planning.merger_assignments")
    before_counts = {t: _counts(warehouse, t)["33"] for t in ("raw.persons", "staging.persons")}
    again = run_province(settings, "04", instance=instance)
    assert again.success
    pd.testing.assert_frame_equal(other.read_table("planning.merger_assignments"), before)
    assert {t: _counts(warehouse, t)["33"] for t in before_counts} == before_counts
    latest = warehouse.query(
        "SELECT province_code, run_id FROM marts.publications p WHERE published_at = "
        "(SELECT max(published_at) FROM marts.publications q "
        "WHERE q.province_code = p.province_code) ORDER BY 1"
    )
    assert dict(zip(latest["province_code"], latest["run_id"], strict=True)) == {
        "04": again.run_id,
        "33": reports["33"].run_id,
    }


def test_a_run_names_its_province_or_says_which(two_provinces, tmp_path):
    settings, _, _ = two_provinces
    with pytest.raises(ValueError, match="several province folders \\(04, 33\\)"):
        landed_province(settings)
    with pytest.raises(ValueError, match="unknown province code '99'"):
        landed_province(settings, "99")
    empty = Settings(warehouse_url=settings.warehouse_url, landing_root=tmp_path)
    with pytest.raises(ValueError, match="no province folder"):
        landed_province(empty)
