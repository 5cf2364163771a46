"""The staffing table of an approved plan, and which decision is in force."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from assets.decisions.approved import staffing_table
from assets.decisions.commune import open_warehouse
from assets.decisions.record import latest_decisions
from assets.decisions.review import outlines
from assets.marts.build import PublishStamp
from assets.planning.rules import load_rules

ND185 = load_rules("nd185_2026")
STAMP = PublishStamp("04", "nd185_2026", "run-1", datetime(2026, 8, 1, tzinfo=UTC))


def test_positions_of_merged_hamlets_end_and_the_fund_follows_the_tier():
    compliance = pd.DataFrame(
        {
            "hamlet_code": ["04001001", "04001002", "04001003"],
            "commune_code": "04001",
            "hamlet_kind": ["thon"] * 3,
            "households": [60, 100, 200],
            "exemption_category": [None, None, "border_island"],
        }
    )
    units = pd.DataFrame(
        {
            "province_code": "04",
            "commune_code": "04001",
            "decision_id": "d1",
            "unit_id": ["04001002", "04001003"],
            "hamlet_kind": "thon",
            "member_hamlet_codes": ["04001002,04001001", "04001003"],
            "member_count": [2, 1],
            "households": [160, 200],
        }
    )
    table = staffing_table(units, compliance, ND185, STAMP).set_index("unit_id")
    per_unit = ND185.part_time_positions_per_unit
    merged, border = table.loc["04001002"], table.loc["04001003"]
    assert (merged["positions_before"], merged["positions_kept"]) == (2 * per_unit, per_unit)
    assert merged["positions_ending"] == per_unit
    assert merged["ending_hamlet_codes"] == "04001001"
    salary = ND185.base_salary_on(STAMP.published_at.date())
    standard = ND185.allowance_multiplier_standard * salary * 12
    assert merged["allowance_saving_vnd_per_year"] == pytest.approx(standard)
    # A border hamlet keeps the high tier whatever its size: nothing ends, nothing saved.
    assert border["positions_ending"] == 0 and border["ending_hamlet_codes"] == ""
    high = ND185.allowance_multiplier_high * salary * 12
    assert border["allowance_fund_after_vnd_per_year"] == pytest.approx(high)
    assert border["allowance_saving_vnd_per_year"] == pytest.approx(0)
    assert set(table["run_id"]) == {"run-1"}


def test_the_latest_decision_of_each_commune_is_in_force():
    decisions = pd.DataFrame(
        {
            "decision_id": ["a", "b", "c"],
            "commune_code": ["04001", "04001", "04002"],
            "decided_at": pd.to_datetime(["2026-11-01", "2026-11-08", "2026-11-02"], utc=True),
        }
    )
    assert sorted(latest_decisions(decisions)["decision_id"]) == ["b", "c"]


def test_commune_outlines_close_the_gaps_between_hamlets():
    left = shapely.box(106.0, 22.0, 106.01, 22.01)
    right = shapely.box(106.0100001, 22.0, 106.02, 22.01)  # a ~1 cm sliver between them
    hamlets = gpd.GeoDataFrame(
        {"commune_code": ["04001", "04001"]}, geometry=[left, right], crs="EPSG:4326"
    )
    outline = outlines(hamlets).geometry.iloc[0]
    assert outline.geom_type == "Polygon" and not list(outline.interiors)


def test_notebooks_find_the_default_warehouse_from_the_repository_root(monkeypatch, tmp_path):
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # where Jupyter starts a notebook
    monkeypatch.delenv("HAMLETS_WAREHOUSE_URL", raising=False)
    warehouse = open_warehouse(None)
    assert warehouse.path == tmp_path.resolve() / "data" / "warehouse.duckdb"
    monkeypatch.setenv("HAMLETS_WAREHOUSE_URL", "postgresql+psycopg2://u:p@db/hamlets")
    assert open_warehouse(None).kind == "postgresql"
    assert open_warehouse("duckdb:////srv/w.duckdb").path == Path("/srv/w.duckdb")
