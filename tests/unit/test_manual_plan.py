"""plan_from_assignment: a planner's hand-edited plan, checked by the engine's own rules."""

from __future__ import annotations

import pandas as pd
import pytest
from planning_inputs import compliance_rows
from test_plan_options import ND185, _grid

from assets.planning.assembly import UNIT_COLUMNS
from assets.planning.manual import AssignmentError, assignment_problems, plan_from_assignment
from assets.planning.option_kinds import MANUAL
from assets.planning.options import plan_options
from geodata.compactness import hamlet_measures


def _assignment(pairs: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"hamlet_code": list(pairs), "unit_id": list(pairs.values())})


def test_a_valid_hand_edit_gets_units_like_the_engine():
    # A 1×4 strip: 40 | 200 | 60 | 100 households (standard 150 for a thôn in 04).
    compliance, adjacency, gdf = _grid(1, 4, [40, 200, 60, 100])
    a, b, c, d = compliance["hamlet_code"]
    result = plan_from_assignment(
        compliance,
        adjacency,
        ND185,
        _assignment({a: "x", b: "x", c: "y", d: "y"}),
        measures=hamlet_measures(gdf),
    )
    units = result.units.set_index("unit_id")
    assert list(result.units.columns) == list(UNIT_COLUMNS)
    # unit_id is the code of the largest member, as in the engine.
    assert set(units.index) == {b, d}
    assert units.loc[b, "households"] == 240 and units.loc[d, "households"] == 160
    assert units["is_compliant"].all()
    assert units["polsby_popper"].notna().all()
    assert (result.assignments["option_name"] == MANUAL).all()
    assert result.assignments["explanation"].str.startswith("Phương án điều chỉnh").all()
    assert result.summary.loc[0, "units_after"] == 2


def test_the_same_assignment_as_an_option_gives_the_same_units():
    compliance, adjacency, gdf = _grid(2, 3, [40, 200, 60, 100, 30, 170])
    measures = hamlet_measures(gdf)
    engine = plan_options(compliance, adjacency, ND185, measures=measures, options=["compliant"])
    again = plan_from_assignment(
        compliance,
        adjacency,
        ND185,
        engine.assignments[["hamlet_code", "unit_id"]],
        measures=measures,
        option_name="compliant",
    )
    keep = ["unit_id", "member_hamlet_codes", "households", "is_compliant", "polsby_popper"]
    pd.testing.assert_frame_equal(engine.units[keep], again.units[keep])


def test_below_standard_units_are_reported_not_refused():
    compliance, adjacency, _ = _grid(1, 3, [40, 200, 60])
    a, b, c = compliance["hamlet_code"]
    result = plan_from_assignment(compliance, adjacency, ND185, _assignment({a: a, b: b, c: c}))
    units = result.units.set_index("unit_id")
    assert not units.loc[a, "is_compliant"]
    assert "dưới tiêu chuẩn dù cụm liền kề có thể đạt" in units.loc[a, "compliance_reason"]


def test_every_broken_rule_is_listed():
    compliance, adjacency, _ = _grid(1, 4, [40, 200, 60, 100])
    a, b, c, d = compliance["hamlet_code"]
    problems = assignment_problems(
        compliance, adjacency, _assignment({a: "x", c: "x", "99999999": "z"})
    )
    text = "\n".join(problems)
    assert "99999999" in text  # unknown hamlet
    assert f"chưa được xếp vào đơn vị nào: {b}, {d}" in text  # hamlets left out
    assert f"không liền kề nhau ({a} | {c})" in text  # a and c do not touch
    with pytest.raises(AssignmentError) as raised:
        plan_from_assignment(compliance, adjacency, ND185, _assignment({a: "x", c: "x"}))
    assert len(raised.value.problems) == 2


def test_units_stay_of_one_kind_and_hamlets_in_one_unit():
    compliance = compliance_rows([("04001001", 100, "thon"), ("04001002", 100, "to_dan_pho")])
    adjacency = pd.DataFrame(
        {
            "commune_code": ["04001", "04001"],
            "hamlet_code": ["04001001", "04001002"],
            "neighbour_hamlet_code": ["04001002", "04001001"],
            "shared_boundary_m": [500.0, 500.0],
        }
    )
    assignment = _assignment({"04001001": "u", "04001002": "u"})
    assignment = pd.concat([assignment, _assignment({"04001001": "v"})])
    text = "\n".join(assignment_problems(compliance, adjacency, assignment))
    assert "ghép thôn với tổ dân phố" in text
    assert "hơn một đơn vị: 04001001" in text
