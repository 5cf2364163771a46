"""Planners' constraints hold in every option: locked hamlets alone, must-not-merge pairs
apart, must-merge pairs together; contradictions are reported, not relaxed."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pandas as pd
import pytest
from test_plan_options import HOUSEHOLDS_5X5, ND185, _check_units, _grid

from assets.planning.constraints import (
    LOCKED,
    MUST_MERGE,
    MUST_NOT_MERGE,
    SAME_ETHNICITY,
    ConstraintError,
    PlannerConstraints,
    read_constraints,
    set_constraint,
)
from assets.planning.option_kinds import OPTIONS
from assets.planning.options import plan_options
from assets.warehouse import Warehouse
from expectations.schemas import TABLES
from geodata.compactness import hamlet_measures

COMMUNE = "04001"


def _rows(*given: tuple[str, str | None, str | None]) -> pd.DataFrame:
    """planning.constraints rows from (kind, hamlet, other hamlet)."""
    return TABLES["planning.constraints"].enforce(
        pd.DataFrame(
            {
                "constraint_id": [f"c{k}" for k in range(len(given))],
                "province_code": "04",
                "commune_code": COMMUNE,
                "constraint_kind": [g[0] for g in given],
                "hamlet_code": [g[1] for g in given],
                "other_hamlet_code": [g[2] for g in given],
                "set_by": "Chuyên viên Sở Nội vụ",
                "constraint_reason": "khác dân tộc, có sông ngăn cách",
                "set_at": pd.Timestamp("2026-06-01T03:00Z"),
                "is_active": True,
            }
        )
    )


def _code(r: int, c: int) -> str:
    return f"{COMMUNE}{r:02d}{c:02d}"


@pytest.fixture(scope="module")
def grid():
    compliance, adjacency, gdf = _grid(5, 5, HOUSEHOLDS_5X5)
    free = plan_options(compliance, adjacency, ND185, measures=hamlet_measures(gdf))
    return compliance, adjacency, gdf, free


def _unit_of(result, option: str) -> dict[str, str]:
    part = result.assignments[result.assignments["option_name"] == option]
    return dict(zip(part["hamlet_code"], part["unit_id"], strict=True))


def _merged_pair(free) -> tuple[str, str]:
    """Two adjacent hamlets the unconstrained compliant option puts in one unit."""
    unit = _unit_of(free, "compliant")
    for r in range(5):
        for c in range(4):
            a, b = _code(r, c), _code(r, c + 1)
            if unit[a] == unit[b]:
                return a, b
    raise AssertionError("the grid should merge neighbours")


def test_a_must_not_merge_pair_is_never_merged_in_any_option(grid):
    compliance, adjacency, gdf, free = grid
    a, b = _merged_pair(free)
    names = pd.Series({c: f"Xóm {c[-4:]}" for c in compliance["hamlet_code"]})
    result = plan_options(
        compliance,
        adjacency,
        ND185,
        names=names,
        measures=hamlet_measures(gdf),
        constraints=_rows((MUST_NOT_MERGE, b, a)),
    )
    assert result.constraint_problems.empty
    for option in OPTIONS:
        unit = _unit_of(result, option)
        assert unit[a] != unit[b], option
    _check_units(result, compliance, adjacency)
    # Both hamlets say why, who set it and when.
    told = result.assignments.set_index(["option_name", "hamlet_code"])["explanation"]
    note = f"Ràng buộc: không ghép với Xóm {b[-4:]} (Chuyên viên Sở Nội vụ, 01/06/2026: khác"
    assert note in told[("compliant", a)]
    assert f"không ghép với Xóm {a[-4:]}" in told[("minimal", b)]
    # Compliance is kept wherever the pair allows it.
    summary = result.summary.set_index("option_name")
    assert (
        summary.loc["compliant", "noncompliant_units_after"]
        == (free.summary.set_index("option_name").loc["compliant", "noncompliant_units_after"])
    )


def test_a_locked_hamlet_stays_alone_in_every_option(grid):
    compliance, adjacency, gdf, free = grid
    small = _code(3, 2)  # 10 households: below the mandatory floor, merged when free
    assert (free.assignments.query("hamlet_code == @small")["is_merged"]).all()
    result = plan_options(
        compliance,
        adjacency,
        ND185,
        measures=hamlet_measures(gdf),
        constraints=_rows((LOCKED, small, None)),
    )
    for option in OPTIONS:
        unit = _unit_of(result, option)
        assert unit[small] == small
        assert [h for h, u in unit.items() if u == small] == [small], option
    units = result.units.set_index(["option_name", "unit_id"])
    assert "giữ nguyên theo ràng buộc" in units.loc[("compliant", small), "compliance_reason"]
    told = result.assignments.query("hamlet_code == @small")["explanation"]
    assert told.str.contains("Ràng buộc: giữ nguyên").all()


def test_a_must_merge_pair_shares_a_unit_in_every_option(grid):
    compliance, adjacency, gdf, free = grid
    a, b = _code(0, 4), _code(1, 4)  # 160 and 60 households
    assert _unit_of(free, "minimal")[a] != _unit_of(free, "minimal")[b]
    result = plan_options(
        compliance,
        adjacency,
        ND185,
        measures=hamlet_measures(gdf),
        constraints=_rows((MUST_MERGE, a, b)),
    )
    for option in OPTIONS:
        unit = _unit_of(result, option)
        assert unit[a] == unit[b], option
    _check_units(result, compliance, adjacency)


def test_contradictory_constraints_are_reported_and_the_commune_left_as_it_is(grid):
    compliance, adjacency, gdf, _ = grid
    a, b, c = _code(0, 0), _code(0, 1), _code(0, 2)
    far = _code(4, 4)
    result = plan_options(
        compliance,
        adjacency,
        ND185,
        measures=hamlet_measures(gdf),
        constraints=_rows((MUST_MERGE, a, b), (MUST_MERGE, b, c), (MUST_NOT_MERGE, a, c)),
    )
    problems = result.constraint_problems
    assert problems["commune_code"].tolist() == [COMMUNE]
    assert f"không ghép {a} với {c}" in problems["problem"].iloc[0]
    assert not result.assignments["is_merged"].any()  # not planned under a relaxed set
    assert result.assignments["explanation"].str.startswith("Các ràng buộc").all()
    # A must-merge pair that does not touch is reported too.
    apart = plan_options(compliance, adjacency, ND185, constraints=_rows((MUST_MERGE, a, far)))
    assert "không liền kề" in apart.constraint_problems["problem"].iloc[0]


def test_constraints_hold_on_random_grids_heuristic_and_exact():
    rng = random.Random(7)
    checked = 0
    for trial in range(4):
        households = [rng.randint(5, 170) for _ in range(36)]
        compliance, adjacency, _ = _grid(6, 6, households)
        codes = sorted(compliance["hamlet_code"])
        apart = [tuple(rng.sample(codes, 2)) for _ in range(6)]
        neighbours = adjacency.sample(n=4, random_state=trial)
        together = [
            (a, b)
            for a, b in zip(
                neighbours["hamlet_code"], neighbours["neighbour_hamlet_code"], strict=True
            )
            if not any({a, b} & set(p) for p in apart)
        ][:1]
        locked = [c for c in rng.sample(codes, 2) if not any(c in p for p in together)]
        rows = _rows(
            *[(MUST_NOT_MERGE, a, b) for a, b in apart],
            *[(MUST_MERGE, a, b) for a, b in together],
            *[(LOCKED, c, None) for c in locked],
        )
        for limit in (0.0, 0.5):
            result = plan_options(
                compliance, adjacency, ND185, constraints=rows, time_limit_s_per_commune=limit
            )
            assert result.constraint_problems.empty
            checked += 1
            for option in OPTIONS:
                unit = _unit_of(result, option)
                assert all(unit[a] != unit[b] for a, b in apart), (trial, option)
                assert all(unit[a] == unit[b] for a, b in together), (trial, option)
                assert all(
                    [h for h, u in unit.items() if u == c] == [c] and unit[c] == c for c in locked
                ), (trial, option)
            _check_units(result, compliance, adjacency)
        # Deterministic: the same constraints give the same plans.
        again = plan_options(
            compliance, adjacency, ND185, constraints=rows, time_limit_s_per_commune=0.5
        )
        pd.testing.assert_frame_equal(again.assignments, result.assignments)
    assert checked == 8


def test_same_ethnicity_is_preferred_where_it_costs_no_unit():
    # A row of three: the middle hamlet (60) must merge with one side (each 200, one
    # Tày like it, one Kinh); both choices give the same units and compliance.
    compliance, adjacency, _ = _grid(1, 3, [200, 60, 200])
    left, middle, right = (_code(0, c) for c in range(3))
    ethnicity = pd.Series({left: "Kinh", middle: "Tày", right: "Tày"})
    prefer = _rows((SAME_ETHNICITY, None, None))
    for option in ("minimal", "compliant"):
        free = _unit_of(plan_options(compliance, adjacency, ND185, ethnicity=ethnicity), option)
        chosen = _unit_of(
            plan_options(compliance, adjacency, ND185, constraints=prefer, ethnicity=ethnicity),
            option,
        )
        assert chosen[middle] == chosen[right] != chosen[left], (option, free)


def test_constraints_are_kept_with_who_and_why_and_can_be_lifted(tmp_path):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    when = datetime(2026, 6, 1, 3, tzinfo=UTC)
    set_constraint(
        warehouse,
        "04",
        COMMUNE,
        MUST_NOT_MERGE,
        set_by="Chuyên viên",
        reason="khác tôn giáo",
        hamlet_code="0400102",
        other_hamlet_code="0400101",
        set_at=when,
    )
    with pytest.raises(ConstraintError, match="reason is required"):
        set_constraint(warehouse, "04", COMMUNE, LOCKED, set_by="", reason="", hamlet_code="x")
    rows = read_constraints(warehouse, "04")
    assert rows[["hamlet_code", "other_hamlet_code"]].values.tolist() == [["0400101", "0400102"]]
    assert PlannerConstraints.of(rows).apart == [("0400101", "0400102")]
    set_constraint(
        warehouse,
        "04",
        COMMUNE,
        MUST_NOT_MERGE,
        set_by="Chuyên viên",
        reason="đã xây cầu",
        hamlet_code="0400101",
        other_hamlet_code="0400102",
        is_active=False,
        set_at=datetime(2026, 6, 2, tzinfo=UTC),
    )
    history = read_constraints(warehouse, "04")
    assert len(history) == 2
    assert PlannerConstraints.of(history).apart == []
