"""The same plan scores the same through every path: the engine's options as the marts
publish them, a planner's hand-edited plan (``plan_from_assignment``) and the notebook's
what-if re-run (``review.what_if``)."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import pandas as pd
import pytest
from test_plan_options import ND185, _grid

from assets.decisions import review
from assets.decisions.commune import CommuneMarts
from assets.planning.manual import plan_from_assignment
from assets.planning.options import plan_options
from assets.planning.scores import SCORES, option_scores
from geodata.compactness import hamlet_measures

ON = date(2026, 11, 21)
KEYS = ["option_name", "commune_code"]
# A 2x3 grid of 1 km squares; several hamlets fall below the 150-household standard.
HOUSEHOLDS = [40, 200, 60, 100, 30, 170]
MEASURES = [s.measure for s in SCORES if s.measure != "ethnic_cohesion"]


def _commune():
    compliance, adjacency, gdf = _grid(2, 3, HOUSEHOLDS)
    hamlets = gdf.merge(compliance.drop(columns="commune_code"), on="hamlet_code")
    # Two households per hamlet: at its centre and near a corner (points only, no people).
    metric = gdf.to_crs("EPSG:32648")
    cx, cy = metric.geometry.centroid.x, metric.geometry.centroid.y
    points = gpd.GeoSeries.from_xy(
        pd.concat([cx, cx + 400]), pd.concat([cy, cy - 300]), crs="EPSG:32648"
    ).to_crs("EPSG:4326")
    households = pd.DataFrame(
        {
            "hamlet_code": pd.concat([gdf["hamlet_code"]] * 2).to_numpy(),
            "longitude": points.x.to_numpy(),
            "latitude": points.y.to_numpy(),
        }
    )
    return compliance, adjacency, gdf, hamlets, households


def _published(compliance, adjacency, gdf, households) -> tuple[pd.DataFrame, object]:
    """The engine's options scored as ``assets.marts.defs`` scores them."""
    engine = plan_options(compliance, adjacency, ND185, measures=hamlet_measures(gdf))
    scores = option_scores(
        engine.summary, engine.units, engine.assignments, compliance, ND185, on=ON,
        hamlets=gdf, households=households,
    )  # fmt: skip
    return scores, engine


def test_a_hand_edited_plan_scores_as_the_same_engine_option():
    compliance, adjacency, gdf, _, households = _commune()
    published, engine = _published(compliance, adjacency, gdf, households)
    chosen = engine.assignments[engine.assignments["option_name"] == "compliant"]
    manual = plan_from_assignment(
        compliance, adjacency, ND185, chosen[["hamlet_code", "unit_id"]],
        measures=hamlet_measures(gdf), option_name="compliant",
    )  # fmt: skip
    # Scored alone, as a planner's edit is, not beside the engine's other options.
    alone = option_scores(
        manual.summary, manual.units, manual.assignments, compliance, ND185, on=ON,
        hamlets=gdf, households=households,
    ).iloc[0]  # fmt: skip
    expected = published.set_index("option_name").loc["compliant"]
    assert published["composite_score"].nunique() > 1  # the options do differ
    for column in (*MEASURES, "composite_score"):
        assert alone[column] == pytest.approx(expected[column]), column
    assert expected["max_household_distance_km"] > 0


def test_the_what_if_with_nothing_changed_reproduces_every_published_score():
    compliance, adjacency, gdf, hamlets, households = _commune()
    published, _ = _published(compliance, adjacency, gdf, households)
    commune = CommuneMarts(
        province_code="04",
        commune_code="04001",
        hamlets=hamlets.assign(
            name_prefix="Thôn",
            hamlet_name=hamlets["hamlet_code"],
            population=0,
            declared_households=hamlets["households"],
            run_id="r1",
            rules_profile=ND185.name,
        ),
        assignments=pd.DataFrame(columns=["option_name", "hamlet_code", "unit_id"]),
        units=gpd.GeoDataFrame(),
        options=published,
    )
    table = review.what_if(commune, ND185, on=ON, time_limit_s=5.0, households=households)
    assert table["max_household_distance_km"].gt(0).all()
    by_source = {
        s: t.drop(columns="source").set_index("option_name") for s, t in table.groupby("source")
    }
    pd.testing.assert_frame_equal(
        by_source[review.WHAT_IF_VI].drop(columns=["optimality_status"]),
        by_source[review.PUBLISHED_VI].drop(columns=["optimality_status"]),
        check_dtype=False,
    )
