"""Records against the registry and the map: points in hamlets, declared against counted
figures, hamlet polygons forming a partition."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from shapely.geometry import Polygon, box

from assets.quality.cross_checks import (
    hamlet_count_reconciliation,
    hamlet_geometry_problems,
    household_point_issues,
    reconciliation_issues,
)
from expectations.schemas import TABLES

HOUSEHOLDS = TABLES["staging.households"]
HAMLETS = TABLES["staging.hamlets"]
PERSONS = TABLES["staging.persons"]
# Two hamlets side by side, ~1.1 km wide each, near Cao Bằng.
WEST = box(106.20, 22.60, 106.21, 22.61)
EAST = box(106.21, 22.60, 106.22, 22.61)


def hamlets(*geoms: Polygon, households: list[int | None] | None = None) -> gpd.GeoDataFrame:
    n = len(geoms)
    declared = households or [2] * n
    return HAMLETS.enforce(
        gpd.GeoDataFrame(
            {
                "hamlet_code": [f"0400100{i + 1}" for i in range(n)],
                "commune_code": ["04001"] * n,
                "name_prefix": ["Thôn"] * n,
                "hamlet_name": [f"Nà {i}" for i in range(n)],
                "hamlet_kind": ["thon"] * n,
                "declared_households": pd.array(declared, dtype="Int64"),
                "declared_population": pd.array([None] * n, dtype="Int64"),
                "exemption_category": [None] * n,
                "area_km2": [1.0] * n,
            },
            geometry=list(geoms),
            crs="EPSG:4326",
        )
    )


def households(points: list[tuple[str, float | None, float | None]]) -> pd.DataFrame:
    n = len(points)
    return HOUSEHOLDS.enforce(
        pd.DataFrame(
            {
                "household_id": [f"H{i}" for i in range(n)],
                "hamlet_code": [p[0] for p in points],
                "longitude": [p[1] for p in points],
                "latitude": [p[2] for p in points],
                "record_id": [f"households.csv:{i + 1}" for i in range(n)],
                "source_file": ["households.csv"] * n,
                "source_sha256": ["0" * 64] * n,
                "source_row_number": list(range(1, n + 1)),
                "load_id": ["0" * 16] * n,
            }
        )
    )


def test_points_outside_their_hamlet_beyond_the_tolerance_are_warnings():
    hh = households(
        [
            ("04001001", 106.205, 22.605),  # inside
            ("04001001", 106.2102, 22.605),  # ~20 m into the neighbour: within tolerance
            ("04001001", 106.215, 22.605),  # deep in the neighbour
            ("04001002", 22.605, 106.215),  # latitude and longitude swapped
            ("04001002", None, None),  # no location
            ("04009999", 106.215, 22.605),  # unknown hamlet: another rule's business
        ]
    )
    issues = household_point_issues(hh, hamlets(WEST, EAST), tolerance_m=50)
    got = set(zip(issues["record_id"], issues["rule"], strict=True))
    assert got == {
        ("households.csv:3", "point_outside_hamlet"),
        ("households.csv:4", "point_outside_hamlet"),
        ("households.csv:5", "location_missing"),
    }
    assert set(issues["severity"]) == {"warning"}
    messages = issues.set_index("record_id")["message"]
    assert "m outside its hamlet 04001001" in messages["households.csv:3"]
    assert "more than 10 km" in messages["households.csv:4"]
    assert not messages.str.contains("106.2").any()  # coordinates stay out of messages
    strict = household_point_issues(hh, hamlets(WEST, EAST), tolerance_m=5)
    assert "households.csv:2" in set(strict["record_id"])


def test_declared_figures_are_reconciled_with_the_records_within_tolerance():
    registry = hamlets(WEST, EAST, box(106.22, 22.60, 106.23, 22.61), households=[3, 40, None])
    registry["declared_population"] = pd.array([3, 100, None], dtype="Int64")
    hh = households([("04001001", None, None)] * 3 + [("04001002", None, None)] * 41)
    people = PERSONS.enforce(
        pd.DataFrame(
            {
                "record_id": [f"p:{i}" for i in range(3 + 90)],
                "citizen_id": [None] * 93,
                "full_name": ["x"] * 93,
                "birth_date": pd.to_datetime(["1990-01-01"] * 93),
                "birth_date_is_partial": [False] * 93,
                "birth_date_order_unproven": [False] * 93,
                "invalid_values": [None] * 93,
                "sex": ["nam"] * 93,
                "household_id": ["H0", "H1", "H2"] + [f"H{3 + i % 41}" for i in range(90)],
                "relation_to_head": ["Chủ hộ"] * 93,
                "is_household_head": [True] * 93,
                "ethnicity": ["Tày"] * 93,
                "source_file": ["p"] * 93,
                "source_sha256": ["0" * 64] * 93,
                "source_row_number": list(range(93)),
                "load_id": ["0"] * 93,
            }
        )
    )
    table = hamlet_count_reconciliation(registry, hh, people, tolerance_share=0.05, tolerance_abs=1)
    assert list(table.columns) == list(TABLES["quality.hamlet_count_reconciliation"].columns)
    rows = table.set_index("hamlet_code")
    assert rows.loc["04001001", "counted_households"] == 3
    assert rows.loc["04001002", ["counted_households", "counted_population"]].tolist() == [41, 90]
    # 41 vs 40 households is within max(1, 2); 90 vs 100 residents is not (max(1, 5)).
    assert rows["within_tolerance"].tolist()[:2] == [True, False]
    assert pd.isna(rows.loc["04001003", "within_tolerance"])  # nothing declared
    issues = reconciliation_issues(table, tolerance_share=0.05, tolerance_abs=1)
    assert set(zip(issues["record_id"], issues["rule"], strict=True)) == {
        ("04001002", "declared_population_mismatch")
    }
    assert "declares population 100, the records count 90" in issues["message"].iloc[0]


def test_partition_problems_are_counted():
    assert hamlet_geometry_problems(hamlets(WEST, EAST)) == {
        "hamlets": 2,
        "invalid_polygons": 0,
        "overlapping_pairs": 0,
        "overlap_m2": 0.0,
        "collapsed_polygons": 0,
    }
    bow_tie = Polygon([(106.22, 22.60), (106.23, 22.61), (106.23, 22.60), (106.22, 22.61)])
    overlapping = box(106.205, 22.60, 106.215, 22.61)
    sliver = box(106.23, 22.60, 106.23001, 22.60001)
    problems = hamlet_geometry_problems(hamlets(WEST, EAST, overlapping, bow_tie, sliver))
    assert problems["invalid_polygons"] == 1
    assert problems["overlapping_pairs"] == 2
    assert problems["collapsed_polygons"] == 1
