"""Option scores: allowance saving in VND under ND 185, tiers, Pareto front."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from assets.planning.rules import load_rules
from assets.planning.scores import option_scores

BASE_2026 = 2_530_000  # VND/month from 2026-07-01 (ND 161/2026)


def _inputs():
    compliance = pd.DataFrame(
        {
            "hamlet_code": ["a", "b", "c", "d"],
            "commune_code": ["X"] * 4,
            "hamlet_kind": ["thon"] * 4,
            "households": [400, 400, 100, 60],
            "exemption_category": [None, None, None, "border_island"],
        }
    )
    # Option "merge": a+b (800 households: crosses the 700 tier) and c+d (d is border).
    # Option "keep": nothing merges.
    assignments = pd.DataFrame(
        {
            "option_name": ["merge"] * 4 + ["keep"] * 4,
            "hamlet_code": ["a", "b", "c", "d"] * 2,
            "unit_id": ["a", "a", "c", "c", "a", "b", "c", "d"],
        }
    )
    units = pd.DataFrame(
        {
            "option_name": ["merge", "merge", "keep", "keep", "keep", "keep"],
            "commune_code": ["X"] * 6,
            "unit_id": ["a", "c", "a", "b", "c", "d"],
            "hamlet_kind": ["thon"] * 6,
            "households": [800, 160, 400, 400, 100, 60],
            "polsby_popper": [0.6, 0.5, 0.7, 0.7, 0.7, 0.7],
        }
    )
    summary = pd.DataFrame(
        {
            "option_name": ["merge", "keep"],
            "commune_code": ["X", "X"],
            "units_before": [4, 4],
            "units_after": [2, 4],
            "compliant_units_after": [2, 4],
            "households_moved": [560, 0],
            "mean_polsby_popper": [0.55, 0.7],
        }
    )
    return summary, units, assignments, compliance


def test_allowance_saving_in_vnd_with_tier_crossing_and_border_units():
    scores = option_scores(*_inputs(), load_rules(), on=date(2026, 11, 21)).set_index("option_name")
    # Before: a, b, c at 6.5x; d (border) at 8.0x.
    before = (3 * 6.5 + 8.0) * BASE_2026 * 12
    # After "merge": a+b has 800 >= 700 -> 8.0x; c+d holds a border hamlet -> 8.0x.
    after = (8.0 + 8.0) * BASE_2026 * 12
    assert scores.loc["merge", "allowance_fund_before_vnd_per_year"] == pytest.approx(before)
    assert scores.loc["merge", "allowance_fund_after_vnd_per_year"] == pytest.approx(after)
    assert scores.loc["merge", "allowance_saving_vnd_per_year"] == pytest.approx(before - after)
    assert scores.loc["keep", "allowance_saving_vnd_per_year"] == 0
    assert (
        scores.loc["merge", "positions_after"] == 6 and scores.loc["keep", "positions_after"] == 12
    )
    assert scores.loc["merge", "households_per_unit_min"] == 160
    assert scores.loc["merge", "min_polsby_popper"] == pytest.approx(0.5)


def test_pareto_front_and_composite_score():
    summary, units, assignments, compliance = _inputs()
    scores = option_scores(summary, units, assignments, compliance, load_rules(),
                           on=date(2026, 11, 21)).set_index("option_name")  # fmt: skip
    # Neither dominates: "keep" keeps more units and moves no one, "merge" saves money.
    assert scores["is_pareto_optimal"].all()
    assert scores["composite_score"].between(0, 1).all()
    # A third option worse on every criterion than "keep" is off the front.
    worse = summary.iloc[[1]].assign(option_name="worse", households_moved=10,
                                     mean_polsby_popper=0.6)  # fmt: skip
    worse_units = units[units["option_name"] == "keep"].assign(option_name="worse")
    worse_assign = assignments[assignments["option_name"] == "keep"].assign(option_name="worse")
    scores = option_scores(
        pd.concat([summary, worse]), pd.concat([units, worse_units]),
        pd.concat([assignments, worse_assign]), compliance, load_rules(), on=date(2026, 11, 21),
    ).set_index("option_name")  # fmt: skip
    assert not scores.loc["worse", "is_pareto_optimal"]
    assert scores.loc[["keep", "merge"], "is_pareto_optimal"].all()


def test_household_spread_and_ethnic_cohesion():
    import geopandas as gpd
    import shapely

    from assets.planning.scores import ethnic_cohesion, household_spread_km

    assignments = pd.DataFrame(
        {
            "option_name": ["merge", "merge"],
            "commune_code": ["X", "X"],
            "hamlet_code": ["a", "b"],
            "unit_id": ["a", "a"],
        }
    )
    # One unit: a 2 km x 1 km box in UTM 48N; households at its centre and at a corner.
    box = shapely.box(500_000, 2_500_000, 502_000, 2_501_000)
    units = gpd.GeoDataFrame(
        {"option_name": ["merge"], "unit_id": ["a"], "commune_code": ["X"]},
        geometry=[box],
        crs="EPSG:32648",
    ).to_crs(4326)
    points = gpd.GeoSeries(
        [shapely.Point(501_000, 2_500_500), shapely.Point(500_000, 2_500_000)], crs="EPSG:32648"
    ).to_crs(4326)
    households = pd.DataFrame(
        {"hamlet_code": ["a", "b"], "longitude": points.x, "latitude": points.y}
    )
    spread = household_spread_km(assignments, units, households)
    assert spread["max_household_distance_km"].iloc[0] == pytest.approx(5**0.5 / 2, rel=1e-3)
    counts = pd.DataFrame(
        {
            "hamlet_code": ["a", "a", "b"],
            "ethnicity": ["Tày", "Nùng", "Tày"],
            "persons": [30, 10, 60],
        }
    )
    cohesion = ethnic_cohesion(assignments, counts)
    assert cohesion["ethnic_cohesion"].iloc[0] == pytest.approx(90 / 100)


def test_weights_come_from_the_rules_profile(tmp_path):
    from dataclasses import replace

    import yaml

    from assets.planning.rules import RulesError

    summary, units, assignments, compliance = _inputs()
    override = tmp_path / "weights.yaml"
    override.write_text(
        yaml.safe_dump({"profiles": {"nd185_2026": {"score_weights": {"allowance_saving": 3}}}})
    )
    assert load_rules(override_path=override).score_weights["allowance_saving"] == 3
    # Only the saving counts: the composite is the share of today's fund saved.
    saving_only = replace(load_rules(), score_weights={"allowance_saving": 1.0})
    scores = option_scores(summary, units, assignments, compliance, saving_only,
                           on=date(2026, 11, 21)).set_index("option_name")  # fmt: skip
    before = (3 * 6.5 + 8.0) * BASE_2026 * 12
    saving = scores.loc["merge", "allowance_saving_vnd_per_year"]
    assert scores.loc["merge", "composite_score"] == pytest.approx(saving / before)
    assert scores.loc["keep", "composite_score"] == 0
    with pytest.raises(RulesError, match="walkability"):
        option_scores(summary, units, assignments, compliance,
                      replace(saving_only, score_weights={"walkability": 1.0}),
                      on=date(2026, 11, 21))  # fmt: skip
    override.write_text(
        yaml.safe_dump({"profiles": {"nd185_2026": {"score_weights": {"units_kept": -1}}}})
    )
    with pytest.raises(RulesError, match=r"score_weights\.units_kept"):
        load_rules(override_path=override)


def test_default_composite_against_the_commune_today():
    scores = option_scores(*_inputs(), load_rules(), on=date(2026, 11, 21)).set_index("option_name")
    before = (3 * 6.5 + 8.0) * BASE_2026 * 12
    after = (8.0 + 8.0) * BASE_2026 * 12
    # units kept 2/4, compactness 0.55, households kept 1 - 560/960, saving share.
    merge = (2 / 4 + 0.55 + (1 - 560 / 960) + (before - after) / before) / 4
    assert scores.loc["merge", "composite_score"] == pytest.approx(merge)
    assert scores.loc["keep", "composite_score"] == pytest.approx((1 + 0.7 + 1 + 0) / 4)
