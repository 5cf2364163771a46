"""The "minimal" merger option: expected groups, tie-breaks, termination, determinism."""

from __future__ import annotations

import time

import geopandas as gpd
import pandas as pd
import pytest
from planning_inputs import compliance_rows
from shapely.geometry import box

from assets.planning.compliance import hamlet_compliance
from assets.planning.minimal import minimal_option
from assets.planning.rules import load_rules
from expectations.schemas import TABLES
from geodata.adjacency import hamlet_adjacency

ND185 = load_rules("nd185_2026")
TT04 = load_rules("tt04_2012")
X0, Y0 = 600_000, 2_500_000

# 3×3 grid of 1 km squares, households per hamlet (thôn standard 150 in province 04):
#   h11=200  h12=60  h13=180
#   h21=90   h22=100 h23=40
#   h31=155  h32=30  h33=140
GRID = {"h11": 200, "h12": 60, "h13": 180, "h21": 90, "h22": 100, "h23": 40,
        "h31": 155, "h32": 30, "h33": 140}  # fmt: skip


def _square(row: int, col: int):
    """1 km square of the grid, row 1 at the top, in UTM 48N."""
    return box(X0 + (col - 1) * 1000, Y0 - row * 1000, X0 + col * 1000, Y0 - (row - 1) * 1000)


def _grid_inputs(households: dict[str, int], rules, kinds: dict[str, str] | None = None):
    codes = sorted(households)
    hamlets = gpd.GeoDataFrame(
        {
            "hamlet_code": codes,
            "commune_code": "04001",
            "hamlet_kind": [(kinds or {}).get(c, "thon") for c in codes],
            "declared_households": [households[c] for c in codes],
            "exemption_category": None,
        },
        geometry=[_square(int(c[1]), int(c[2])) for c in codes],
        crs="EPSG:32648",
    ).to_crs("EPSG:4326")
    sizes = pd.DataFrame(
        {"hamlet_code": codes, "households": [households[c] for c in codes], "population": 0}
    )
    compliance = hamlet_compliance(hamlets, sizes, "04", rules)
    return compliance, hamlet_adjacency(hamlets)


def _adjacency(edges, commune: str = "04001") -> pd.DataFrame:
    """Both directions from (a, b, metres)."""
    rows = [(commune, a, b, m) for a, b, m in edges] + [(commune, b, a, m) for a, b, m in edges]
    return pd.DataFrame(
        rows, columns=["commune_code", "hamlet_code", "neighbour_hamlet_code", "shared_boundary_m"]
    )


def _units(out: pd.DataFrame) -> dict[str, str]:
    return dict(zip(out["hamlet_code"], out["unit_id"], strict=True))


def _explanations(out: pd.DataFrame) -> dict[str, str]:
    return dict(zip(out["hamlet_code"], out["explanation"], strict=True))


def test_grid_nd185_expected_groups() -> None:
    compliance, adjacency = _grid_inputs(GRID, ND185)
    names = pd.Series({c: f"Xóm {c.upper()}" for c in GRID})
    out = minimal_option(compliance, adjacency, ND185, names=names)
    # h32 (30) -> h33 (170 beats h31's 185); h23 (40) -> {h32,h33} (210 beats h13's 220);
    # h12 (60) -> h22 (160 beats 240/260); h21 (90) -> h31 (245 beats 250/290).
    assert _units(out) == {
        "h11": "h11",
        "h12": "h22",
        "h13": "h13",
        "h21": "h31",
        "h22": "h22",
        "h23": "h33",
        "h31": "h31",
        "h32": "h33",
        "h33": "h33",
    }
    merged = dict(zip(out["hamlet_code"], out["is_merged"], strict=True))
    assert [c for c, m in merged.items() if not m] == ["h11", "h13"]
    text = _explanations(out)
    assert text["h11"] == "Đạt chuẩn 200 hộ ≥ 150: giữ nguyên."
    assert text["h12"] == (
        "Xóm H12 (60 hộ) dưới ngưỡng bắt buộc 150 hộ (Nghị định 185/2026/NĐ-CP, Điều 8, 10): "
        "sáp nhập với Xóm H22 (100 hộ) vì liền kề (ranh giới chung 1,0 km) "
        "và tổng 160 hộ đạt chuẩn 150 hộ với ít hộ nhất."
    )
    assert text["h12"] == text["h22"]  # both members carry the story of their unit
    # Two steps for the h33 unit, in order.
    first = text["h33"].index("Xóm H32 (30 hộ)")
    second = text["h33"].index("Xóm H23 (40 hộ)")
    assert first < second
    assert "sáp nhập với nhóm Xóm H32, Xóm H33 (170 hộ)" in text["h23"]
    assert "Xóm H32 (30 hộ)" not in text["h23"]  # a merge h23 took no part in
    assert text["h33"].endswith("Đơn vị sau sắp xếp gồm 3 thôn, 210 hộ.")
    assert set(out["option_name"]) == {"minimal"}
    assert set(out["rules_profile"]) == {"nd185_2026"}


def test_grid_tt04_leaves_encouraged_hamlets_alone() -> None:
    compliance, adjacency = _grid_inputs(GRID, TT04)
    out = minimal_option(compliance, adjacency, TT04)
    units = _units(out)
    assert units["h21"] == "h21" and units["h31"] == "h31"  # 90 ≥ floor 75: not forced
    assert units["h12"] == "h22" and units["h32"] == "h33" and units["h23"] == "h33"
    assert "không bắt buộc sáp nhập" in _explanations(out)["h21"]
    assert "dưới ngưỡng bắt buộc 75 hộ" in _explanations(out)["h12"]
    assert "H12" not in _explanations(out)["h12"]  # no names given: codes are used


def test_output_conforms_to_the_contract() -> None:
    compliance, adjacency = _grid_inputs(GRID, ND185)
    out = minimal_option(compliance, adjacency, ND185)
    contract = TABLES["planning.merger_assignments"]
    assert tuple(out.columns) == contract.columns
    pd.testing.assert_frame_equal(contract.enforce(out), out)
    assert str(out["is_merged"].dtype) == "boolean"
    assert out["explanation"].notna().all()
    assert len(out) == len(compliance)


def test_chain_merges_until_the_standard_is_reached() -> None:
    compliance = compliance_rows([("a", 40), ("b", 50), ("c", 100), ("d", 400)])
    adjacency = _adjacency([("a", "b", 800), ("b", "c", 600), ("c", "d", 50)])
    out = minimal_option(compliance, adjacency, ND185)
    # a+b = 90 (no single neighbour suffices), then +c = 190 ≥ 150.
    assert _units(out) == {"a": "c", "b": "c", "c": "c", "d": "d"}
    text = _explanations(out)["a"]
    assert "vì có ranh giới chung dài nhất (800 m)" in text and "tiếp tục ghép" in text
    assert "Nhóm a, b (90 hộ) chưa đạt chuẩn 150 hộ: sáp nhập với c (100 hộ)" in text


def test_prefers_the_smallest_sufficient_neighbour_over_the_longest_boundary() -> None:
    compliance = compliance_rows([("a", 40), ("big", 300), ("small", 120)])
    adjacency = _adjacency([("a", "big", 5000), ("a", "small", 100)])
    assert _units(minimal_option(compliance, adjacency, ND185))["a"] == "small"


def test_ties_break_on_boundary_then_code() -> None:
    compliance = compliance_rows([("a", 40), ("n1", 160), ("n2", 160), ("n3", 160)])
    adjacency = _adjacency([("a", "n1", 300), ("a", "n2", 700), ("a", "n3", 700)])
    assert _units(minimal_option(compliance, adjacency, ND185))["a"] == "n2"
    adjacency = _adjacency([("a", "n1", 700), ("a", "n2", 700), ("a", "n3", 700)])
    assert _units(minimal_option(compliance, adjacency, ND185))["a"] == "n1"


def test_smallest_mandatory_group_goes_first() -> None:
    # y (60) goes before x (70) and takes m (160); x then prefers z (165) to the m+y
    # group (230). Had x gone first it would have taken m (170) and stranded y.
    compliance = compliance_rows([("x", 70), ("y", 60), ("m", 100), ("z", 95)])
    adjacency = _adjacency([("x", "m", 500), ("y", "m", 500), ("x", "z", 100)])
    assert _units(minimal_option(compliance, adjacency, ND185)) == {
        "m": "m",
        "y": "m",
        "x": "z",
        "z": "z",
    }


def test_one_hamlet_commune_terminates_unchanged() -> None:
    out = minimal_option(compliance_rows([("solo", 40)]), _adjacency([]), ND185)
    assert _units(out) == {"solo": "solo"}
    assert not out["is_merged"].any()
    assert "không thể đạt chuẩn: là thôn duy nhất của xã" in out["explanation"].iloc[0]


def test_island_hamlet_is_reported_not_forced() -> None:
    compliance = compliance_rows([("isl", 40), ("a", 200), ("b", 300)])
    out = minimal_option(compliance, _adjacency([("a", "b", 900)]), ND185)
    assert _units(out) == {"isl": "isl", "a": "a", "b": "b"}
    assert "không có thôn/tổ dân phố nào liền kề (tách biệt)" in _explanations(out)["isl"]


def test_only_neighbours_of_the_other_kind() -> None:
    compliance = compliance_rows([("t", 40, "thon"), ("p", 500, "to_dan_pho"), ("u", 400, "thon")])
    out = minimal_option(compliance, _adjacency([("t", "p", 900), ("p", "u", 900)]), ND185)
    assert _units(out)["t"] == "t"
    assert "không có thôn liền kề cùng loại (chỉ giáp tổ dân phố)" in _explanations(out)["t"]


def test_cluster_below_the_standard_stays_and_says_so() -> None:
    compliance = compliance_rows([("a", 50), ("b", 60), ("far", 500)])
    out = minimal_option(compliance, _adjacency([("a", "b", 400)]), ND185)
    assert _units(out) == {"a": "a", "b": "b", "far": "far"}
    assert not out["is_merged"].any()
    for code in ("a", "b"):
        assert "cả cụm liền kề chỉ có 110 hộ < 150" in _explanations(out)[code]


def test_no_partial_merge_into_a_stricter_standard_that_cannot_be_reached() -> None:
    # tt04: a border hamlet's own standard is 100; its only neighbour has the ordinary 150.
    # At 40 it is below half of its 100 (the regime's mandatory floor). Together they reach
    # 110: enough for 100 but not for the merged unit's 150.
    compliance = compliance_rows([("bd", 40, "thon", "border_island"), ("n", 70)], rules=TT04)
    standards = zip(compliance["hamlet_code"], compliance["standard_households"], strict=True)
    assert dict(standards) == {
        "bd": 100,
        "n": 150,
    }
    out = minimal_option(compliance, _adjacency([("bd", "n", 500)]), TT04)
    assert _units(out) == {"bd": "bd", "n": "n"}
    assert not out["is_merged"].any()
    assert "cả cụm liền kề chỉ có 110 hộ < 150" in _explanations(out)["bd"]


def test_special_cases_awaiting_guidance_are_not_forced_but_say_so() -> None:
    # No floor set by the province: kept for now, labelled below standard and awaiting.
    compliance = compliance_rows([("ex", 20, "thon", "border_island"), ("a", 200)])
    out = minimal_option(compliance, _adjacency([("ex", "a", 500)]), ND185)
    assert _units(out) == {"ex": "ex", "a": "a"}
    assert _explanations(out)["ex"].startswith(
        "Diện đặc thù (Khu vực biên giới, hải đảo): 20 hộ < tiêu chuẩn 150 hộ, tỉnh chưa "
        "quy định mức thấp hơn: dưới chuẩn — chờ hướng dẫn của tỉnh"
    )


def test_communes_are_independent() -> None:
    one = compliance_rows([("a", 40), ("b", 200)], commune="04001")
    two = compliance_rows([("c", 40), ("d", 200)], commune="04002")
    adjacency = pd.concat(
        [_adjacency([("a", "b", 100)], "04001"), _adjacency([("c", "d", 100)], "04002")]
    )
    out = minimal_option(pd.concat([one, two]), adjacency, ND185)
    assert _units(out) == {"a": "b", "b": "b", "c": "d", "d": "d"}
    assert dict(zip(out["hamlet_code"], out["commune_code"], strict=True))["c"] == "04002"


def test_deterministic_under_row_order() -> None:
    compliance, adjacency = _grid_inputs(GRID, ND185)
    first = minimal_option(compliance, adjacency, ND185)
    shuffled = minimal_option(
        compliance.sample(frac=1, random_state=7), adjacency.sample(frac=1, random_state=3), ND185
    )
    pd.testing.assert_frame_equal(first, shuffled)


def test_profile_mismatch_is_an_error() -> None:
    compliance, adjacency = _grid_inputs(GRID, ND185)
    with pytest.raises(ValueError, match=r"computed under \['nd185_2026'\].*\(tt04_2012\)"):
        minimal_option(compliance, adjacency, TT04)


def test_a_province_of_1500_hamlets_takes_seconds() -> None:
    """30 communes of 50 hamlets (5×10 rook grids): guards against quadratic blow-ups."""
    rows, edges = [], []
    for k in range(30):
        commune = f"04{k:03d}"
        for i in range(50):
            code = f"{commune}{i:03d}"
            rows.append((commune, code, (i * 37 + k * 11) % 220 + 5))
            r, c = divmod(i, 10)
            if c < 9:
                edges.append((commune, code, f"{commune}{i + 1:03d}", 700.0 + i))
            if r < 4:
                edges.append((commune, code, f"{commune}{i + 10:03d}", 900.0 - i))
    compliance = pd.concat(
        [
            compliance_rows([(code, h) for cm, code, h in rows if cm == commune], commune=commune)
            for commune in sorted({r[0] for r in rows})
        ]
    )
    adjacency = pd.DataFrame(
        [*edges, *[(cm, b, a, m) for cm, a, b, m in edges]],
        columns=["commune_code", "hamlet_code", "neighbour_hamlet_code", "shared_boundary_m"],
    )
    start = time.perf_counter()
    out = minimal_option(compliance, adjacency, ND185)
    elapsed = time.perf_counter() - start
    assert len(out) == 1500
    assert elapsed < 20, f"minimal option took {elapsed:.1f} s for 1,500 hamlets"
    # Every unit that took in a hamlet below the floor now reaches the standard.
    size = dict(zip(compliance["hamlet_code"], compliance["households"], strict=True))
    totals = out.assign(h=out["hamlet_code"].map(size)).groupby("unit_id")["h"].sum()
    merged_units = out.loc[out["is_merged"], "unit_id"].unique()
    assert (totals[merged_units] >= 150).all()
