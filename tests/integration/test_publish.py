"""Publishing is atomic and versioned, on both warehouse backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from assets.marts.build import PublishStamp
from assets.marts.publish import publish_marts
from assets.warehouse import Warehouse


@pytest.fixture(params=["duckdb", "postgis"])
def warehouse(request, tmp_path) -> Warehouse:
    if request.param == "duckdb":
        return Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    return Warehouse(request.getfixturevalue("postgres_url"))


def _summary(stamp: PublishStamp, households: list[int]) -> pd.DataFrame:
    n = len(households)
    return stamp.apply(
        pd.DataFrame(
            {
                "commune_code": [f"0400{i}" for i in range(n)],
                "commune_name": ["Nà Rẻo"] * n,
                "unit_kind": ["xa"] * n,
                "region": ["northern_midlands_mountains"] * n,
                "hamlets": [3] * n,
                "households": households,
                "population": [h * 4 for h in households],
                "below_standard_hamlets": [1] * n,
                "exempt_hamlets": [0] * n,
                "awaiting_guidance_hamlets": [0] * n,
                "held_households": [0] * n,
                "held_persons": [0] * n,
            }
        )
    )


def _stamp(run_id: str, minutes: int) -> PublishStamp:
    at = datetime(2026, 11, 21, tzinfo=UTC) + timedelta(minutes=minutes)
    return PublishStamp("04", "nd185_2026", run_id, at)


def test_versions_are_kept_and_the_view_shows_the_latest(warehouse):
    first, second = _stamp("run-1", 0), _stamp("run-2", 5)
    publish_marts(warehouse, {"commune_summary": _summary(first, [100, 200])}, first)
    publish_marts(warehouse, {"commune_summary": _summary(second, [110, 210])}, second)
    current = warehouse.read_table("marts.commune_summary_current")
    assert set(current["run_id"]) == {"run-2"}
    assert sorted(current["households"]) == [110, 210]
    assert len(warehouse.read_table("marts.commune_summary")) == 4
    # Publishing the same run again replaces its rows instead of doubling them.
    publish_marts(warehouse, {"commune_summary": _summary(second, [110, 210])}, second)
    assert len(warehouse.read_table("marts.commune_summary")) == 4


def test_a_failing_publication_changes_nothing(warehouse):
    first, second = _stamp("run-1", 0), _stamp("run-2", 5)
    publish_marts(warehouse, {"commune_summary": _summary(first, [100, 200])}, first)
    broken = _summary(second, [110, 210])
    broken.loc[1, "commune_code"] = broken.loc[0, "commune_code"]  # duplicate key
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own error
        publish_marts(warehouse, {"commune_summary": broken}, second)
    current = warehouse.read_table("marts.commune_summary_current")
    assert set(current["run_id"]) == {"run-1"}
    assert set(warehouse.read_table("marts.publications")["run_id"]) == {"run-1"}
