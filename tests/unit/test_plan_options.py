"""plan_options: the three options per commune, their contract, reasons and guarantees."""

from __future__ import annotations

import time

import geopandas as gpd
import networkx as nx
import pandas as pd
import pytest
from planning_inputs import compliance_rows
from shapely.geometry import box

from assets.planning.assembly import SUMMARY_COLUMNS, UNIT_COLUMNS
from assets.planning.minimal import minimal_option
from assets.planning.option_kinds import OPTIONS
from assets.planning.options import consolidated_targets, plan_options
from assets.planning.rules import load_rules
from expectations.schemas import TABLES
from geodata.adjacency import hamlet_adjacency
from geodata.compactness import hamlet_measures

ND185 = load_rules("nd185_2026")
TT04 = load_rules("tt04_2012")
X0, Y0 = 600_000, 2_500_000


def _adjacency(edges, commune: str = "04001") -> pd.DataFrame:
    rows = [(commune, a, b, m) for a, b, m in edges] + [(commune, b, a, m) for a, b, m in edges]
    return pd.DataFrame(
        rows, columns=["commune_code", "hamlet_code", "neighbour_hamlet_code", "shared_boundary_m"]
    )


def _grid(rows: int, cols: int, households, commune: str = "04001", kinds=None):
    """A rows×cols grid of 1 km squares in UTM 48N: compliance, adjacency, geometry."""
    codes, geoms = [], []
    for r in range(rows):
        for c in range(cols):
            codes.append(f"{commune}{r:02d}{c:02d}")
            x, y = X0 + c * 1000, Y0 - r * 1000
            geoms.append(box(x, y - 1000, x + 1000, y))
    gdf = gpd.GeoDataFrame(
        {"hamlet_code": codes, "commune_code": commune}, geometry=geoms, crs="EPSG:32648"
    ).to_crs("EPSG:4326")
    rows_ = [(code, households[k], (kinds or {}).get(code, "thon")) for k, code in enumerate(codes)]
    return compliance_rows(rows_, commune=commune), hamlet_adjacency(gdf), gdf


def _units(out: pd.DataFrame, option: str) -> dict[str, str]:
    part = out[out["option_name"] == option]
    return dict(zip(part["hamlet_code"], part["unit_id"], strict=True))


def _check_units(result, compliance: pd.DataFrame, adjacency: pd.DataFrame) -> None:
    """Every unit: connected, of one kind, inside one commune."""
    graph = nx.Graph()
    graph.add_nodes_from(compliance["hamlet_code"])
    graph.add_edges_from(
        zip(adjacency["hamlet_code"], adjacency["neighbour_hamlet_code"], strict=True)
    )
    info = compliance.set_index("hamlet_code")
    for (_option, _unit), part in result.assignments.groupby(["option_name", "unit_id"]):
        members = part["hamlet_code"].tolist()
        assert info.loc[members, "hamlet_kind"].nunique() == 1
        assert info.loc[members, "commune_code"].nunique() == 1
        assert part["commune_code"].nunique() == 1
        assert nx.is_connected(graph.subgraph(members))
        assert _unit in members


HOUSEHOLDS_5X5 = [
    40, 120, 90, 30, 160,
    70, 20, 150, 80, 60,
    110, 45, 35, 140, 25,
    95, 130, 10, 75, 85,
    55, 65, 100, 50, 115,
]  # fmt: skip


@pytest.fixture(scope="module")
def grid_result():
    compliance, adjacency, gdf = _grid(5, 5, HOUSEHOLDS_5X5)
    names = pd.Series({c: f"Xóm {c[-4:]}" for c in compliance["hamlet_code"]})
    result = plan_options(compliance, adjacency, ND185, names=names, measures=hamlet_measures(gdf))
    return compliance, adjacency, result


def test_output_conforms_to_the_contracts(grid_result) -> None:
    compliance, _, result = grid_result
    contract = TABLES["planning.merger_assignments"]
    out = result.assignments
    assert tuple(out.columns) == contract.columns
    pd.testing.assert_frame_equal(contract.enforce(out), out)
    assert list(out["option_name"].unique()) == list(OPTIONS)
    assert len(out) == 3 * len(compliance)
    assert not out.duplicated(["option_name", "hamlet_code"]).any()
    assert out["explanation"].str.len().gt(10).all()
    assert tuple(result.units.columns) == UNIT_COLUMNS
    assert tuple(result.summary.columns) == SUMMARY_COLUMNS
    assert len(result.summary) == 3


def test_every_unit_is_connected_single_kind_single_commune(grid_result) -> None:
    compliance, adjacency, result = grid_result
    _check_units(result, compliance, adjacency)


def test_compliant_option_is_compliant_and_proven(grid_result) -> None:
    _, _, result = grid_result
    s = result.summary.set_index("option_name")
    assert s.loc["compliant", "noncompliant_units_after"] == 0
    assert s.loc["compliant", "optimality_status"] == "optimal"
    assert s.loc["compliant", "units_after"] == s.loc["compliant", "units_upper_bound"]
    # max-p keeps at least as many units as the rule-based minimal option here.
    assert s.loc["compliant", "units_after"] >= s.loc["minimal", "units_after"]
    assert s.loc["consolidated", "units_after"] <= s.loc["compliant", "units_after"]
    units = result.units
    consolidated = units[units["option_name"] == "consolidated"]
    assert (consolidated["households"] >= 700).all()  # the 8.0× tier of a thôn
    assert result.units["polsby_popper"].between(0, 1).all()


def test_minimal_option_is_unchanged(grid_result) -> None:
    compliance, adjacency, result = grid_result
    names = pd.Series({c: f"Xóm {c[-4:]}" for c in compliance["hamlet_code"]})
    alone = minimal_option(compliance, adjacency, ND185, names=names)
    mine = result.assignments[result.assignments["option_name"] == "minimal"]
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), alone)


def test_explanations_name_the_rule_and_the_choice(grid_result) -> None:
    _, _, result = grid_result
    a = result.assignments
    merged = a[(a["option_name"] == "compliant") & a["is_merged"]]
    text = merged["explanation"].iloc[0]
    assert "Nghị định 185/2026/NĐ-CP, Điều 8, 10" in text
    assert "liền kề" in text and "tối ưu, đã chứng minh" in text
    assert "Đơn vị sau sắp xếp gồm" in text
    cons = a[(a["option_name"] == "consolidated") & a["is_merged"]]["explanation"].iloc[0]
    assert "mục tiêu 700 hộ" in cons and "8,0 lần mức lương cơ sở" in cons
    kept = a[(a["option_name"] == "compliant") & ~a["is_merged"]]["explanation"]
    assert kept.str.startswith("Đạt chuẩn").all()


def test_island_and_lone_kind_are_reported_not_forced() -> None:
    compliance = compliance_rows(
        [("isl", 40), ("a", 100), ("b", 90), ("t", 50, "to_dan_pho"), ("c", 300)]
    )
    adjacency = _adjacency([("a", "b", 900), ("b", "t", 300), ("c", "t", 200)])
    result = plan_options(compliance, adjacency, ND185, time_limit_s_per_commune=1.0)
    units = _units(result.assignments, "compliant")
    assert units["isl"] == "isl" and units["t"] == "t"
    assert units["a"] == units["b"] == "a"
    bad = result.units[(result.units["option_name"] == "compliant") & ~result.units["is_compliant"]]
    reasons = dict(zip(bad["unit_id"], bad["compliance_reason"], strict=True))
    assert reasons == {
        "isl": "40 hộ < tiêu chuẩn 150 hộ: không có thôn/tổ dân phố nào liền kề (tách biệt)",
        "t": "50 hộ < tiêu chuẩn 300 hộ: là tổ dân phố duy nhất của xã",
    }
    summary = result.summary.set_index("option_name").loc["compliant"]
    assert summary["noncompliant_units_after"] == 2 and summary["optimality_status"] == "optimal"
    assert summary["noncompliant_reasons"].startswith("isl: 40 hộ < tiêu chuẩn 150 hộ: không có")
    text = result.assignments.set_index(["option_name", "hamlet_code"]).loc[
        ("compliant", "isl"), "explanation"
    ]
    assert "không thể đạt chuẩn" in text and "giữ nguyên, cần xem xét riêng" in text


def test_one_region_commune_terminates() -> None:
    """Everything can only form one unit (peers hang on this)."""
    compliance, adjacency, _ = _grid(2, 3, [20, 30, 25, 15, 35, 40])
    start = time.perf_counter()
    result = plan_options(compliance, adjacency, ND185)
    assert time.perf_counter() - start < 10
    for option in ("compliant", "consolidated"):
        assert len(set(_units(result.assignments, option).values())) == 1
    s = result.summary.set_index("option_name")
    assert (
        s.loc["compliant", "optimality_status"] == "optimal"
        and s.loc["compliant", "units_after"] == 1
    )
    cons = result.assignments[result.assignments["option_name"] == "consolidated"]
    assert cons["explanation"].str.contains("mục tiêu hợp nhất 700 hộ: áp dụng tiêu chuẩn").all()


def test_commune_below_the_standard_keeps_its_hamlets() -> None:
    compliance, adjacency, _ = _grid(1, 3, [20, 30, 25])
    result = plan_options(compliance, adjacency, ND185)
    for option in OPTIONS:
        assert not result.assignments.loc[
            result.assignments["option_name"] == option, "is_merged"
        ].any()
    reasons = result.units.loc[result.units["option_name"] == "compliant", "compliance_reason"]
    assert reasons.str.endswith(": toàn bộ thôn của xã chỉ có 75 hộ < 150").all()


def test_exempt_hamlets_stay_alone_unless_they_complete_a_neighbour() -> None:
    compliance = compliance_rows(
        [("ex", 100, "thon", "border_island"), ("a", 60), ("ex2", 20, "thon", "border_island"),
         ("big", 400)]
    )  # fmt: skip
    adjacency = _adjacency([("ex", "a", 500), ("ex2", "big", 500)])
    result = plan_options(compliance, adjacency, ND185, options=("compliant",))
    units = _units(result.assignments, "compliant")
    assert units["a"] == "ex"  # 160 ≥ 150: a is no longer short
    assert units["ex2"] == "ex2" and units["big"] == "big"  # nothing to gain: left alone
    text = result.assignments.set_index("hamlet_code").loc["a", "explanation"]
    assert "thuộc diện đặc thù nhưng được ghép để cả nhóm đạt chuẩn" in text


def test_tt04_compliant_option_also_merges_encouraged_hamlets() -> None:
    compliance = compliance_rows([("a", 90), ("b", 80), ("c", 200)], rules=TT04)
    adjacency = _adjacency([("a", "b", 400), ("b", "c", 100)])
    result = plan_options(compliance, adjacency, TT04, options=("minimal", "compliant"))
    assert set(_units(result.assignments, "minimal").values()) == {"a", "b", "c"}
    compliant = _units(result.assignments, "compliant")
    assert compliant["a"] == compliant["b"] == "a" and compliant["c"] == "c"
    text = result.assignments.set_index(["option_name", "hamlet_code"]).loc[
        ("compliant", "a"), "explanation"
    ]
    assert "khuyến khích sắp xếp" in text
    minimal_units = result.units[result.units["option_name"] == "minimal"]
    short = minimal_units[~minimal_units["is_compliant"]]
    assert short["compliance_reason"].str.contains("không bắt buộc sắp xếp").all()


def test_consolidated_target_can_be_overridden() -> None:
    assert consolidated_targets(ND185) == {"thon": 700, "to_dan_pho": 1000}
    compliance, adjacency, _ = _grid(2, 4, [100] * 8)
    result = plan_options(
        compliance,
        adjacency,
        ND185,
        options=("consolidated",),
        consolidated_target={"thon": 400, "to_dan_pho": 1000},
    )
    assert result.summary["units_after"].iloc[0] == 2


def test_deterministic_under_row_order_and_workers() -> None:
    compliance, adjacency, _ = _grid(6, 6, [(i * 37) % 170 + 10 for i in range(36)])
    first = plan_options(compliance, adjacency, ND185)
    second = plan_options(
        compliance.sample(frac=1, random_state=1),
        adjacency.sample(frac=1, random_state=2),
        ND185,
        workers=2,
    )
    pd.testing.assert_frame_equal(first.assignments, second.assignments)
    timing = ["solve_seconds", "exact_seconds"]
    pd.testing.assert_frame_equal(
        first.summary.drop(columns=timing), second.summary.drop(columns=timing)
    )


def test_communes_are_independent_and_kinds_never_mix() -> None:
    kinds = {"0400201": "to_dan_pho", "0400202": "to_dan_pho"}
    one, adj_one, _ = _grid(2, 3, [60, 100, 90, 50, 120, 40], commune="04001")
    two, adj_two, _ = _grid(1, 3, [300, 400, 500], commune="04002", kinds=kinds)
    compliance = pd.concat([one, two], ignore_index=True)
    adjacency = pd.concat([adj_one, adj_two], ignore_index=True)
    result = plan_options(compliance, adjacency, ND185)
    _check_units(result, compliance, adjacency)
    assert set(result.summary["commune_code"]) == {"04001", "04002"}


def test_profile_mismatch_and_unknown_option_are_errors() -> None:
    compliance = compliance_rows([("a", 10)])
    with pytest.raises(ValueError, match=r"computed under \['nd185_2026'\]"):
        plan_options(compliance, _adjacency([]), TT04)
    with pytest.raises(ValueError, match="unknown options"):
        plan_options(compliance, _adjacency([]), ND185, options=("bogus",))


def test_a_province_of_1500_hamlets_takes_seconds() -> None:
    frames, edges = [], []
    for k in range(30):
        commune = f"04{k:03d}"
        rows = [(f"{commune}{i:03d}", (i * 37 + k * 11) % 220 + 5) for i in range(50)]
        frames.append(compliance_rows(rows, commune=commune))
        for i in range(50):
            r, c = divmod(i, 10)
            if c < 9:
                edges.append((commune, rows[i][0], rows[i + 1][0], 700.0 + i))
            if r < 4:
                edges.append((commune, rows[i][0], rows[i + 10][0], 900.0 - i))
    compliance = pd.concat(frames, ignore_index=True)
    adjacency = pd.DataFrame(
        [*edges, *[(cm, b, a, m) for cm, a, b, m in edges]],
        columns=["commune_code", "hamlet_code", "neighbour_hamlet_code", "shared_boundary_m"],
    )
    start = time.perf_counter()
    result = plan_options(compliance, adjacency, ND185, time_limit_s_per_commune=0.5)
    elapsed = time.perf_counter() - start
    assert elapsed < 30, f"plan_options took {elapsed:.1f} s for 1,500 hamlets"
    s = result.summary.set_index(["option_name", "commune_code"])
    assert (s.loc["compliant", "noncompliant_units_after"] == 0).all()
    assert (s.loc["compliant", "optimality_status"] == "optimal").all()


def test_no_hamlets_gives_empty_frames() -> None:
    compliance = compliance_rows([("a", 10)]).iloc[:0]
    result = plan_options(compliance, _adjacency([]).iloc[:0], ND185)
    assert result.assignments.empty and result.units.empty and result.summary.empty
    assert tuple(result.assignments.columns) == TABLES["planning.merger_assignments"].columns
