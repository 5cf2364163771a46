"""Kind follows the commune (ND 185 Art. 2.3, 10.2): thôn only in a xã, tổ dân phố only
in a phường. A registry row saying otherwise is reported with the commune's kind as the
fix, and planning (standards, merged units) applies the commune's kind."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from assets.exports.files import hamlets_before
from assets.planning.compliance import hamlet_compliance, with_commune_kinds
from assets.planning.options import plan_options
from assets.planning.rules import load_rules
from assets.quality.cross_checks import hamlet_kind_issues

ND185 = load_rules("nd185_2026")
COMMUNES = pd.DataFrame(
    {
        "commune_code": ["33001", "33002", "33003"],
        "unit_kind": ["xa", "phuong", "dac_khu"],
    }
)


def _hamlets(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """(hamlet code, commune code, kind as the registry wrote it)."""
    return pd.DataFrame(
        {
            "hamlet_code": [r[0] for r in rows],
            "commune_code": [r[1] for r in rows],
            "hamlet_kind": [r[2] for r in rows],
            "declared_households": 0,
            "exemption_category": None,
        }
    )


def test_a_kind_that_is_not_the_communes_is_reported_with_the_communes_kind() -> None:
    hamlets = _hamlets(
        [
            ("A", "33001", "thon"),  # thôn in a xã: right
            ("B", "33002", "thon"),  # thôn in a phường: wrong
            ("C", "33001", "to_dan_pho"),  # TDP in a xã: wrong
            ("D", "33002", "to_dan_pho"),  # right
            ("E", "33003", "thon"),  # a đặc khu does not decide
            ("F", "33999", "thon"),  # commune unknown: another check's business
        ]
    )
    issues = hamlet_kind_issues(hamlets, COMMUNES).set_index("hamlet_code")
    assert sorted(issues.index) == ["B", "C"]
    assert set(issues["rule"]) == {"hamlet_kind_not_communes"}
    assert set(issues["severity"]) == {"warning"}
    assert set(issues["field_name"]) == {"hamlet_kind"}
    assert issues.at["B", "commune_code"] == "33002"
    assert "is a phường; write Tổ dân phố" in issues.at["B", "message"]
    assert "is a xã; write Thôn" in issues.at["C", "message"]
    assert "Điều 2.3, 10.2" in issues.at["C", "message"]
    assert hamlet_kind_issues(hamlets, None).empty  # no communes: nothing to compare


def test_the_standard_is_the_communes_kinds() -> None:
    # Hưng Yên (33): thôn 400, TDP 550 (ND 185 Art. 10, Red River Delta).
    hamlets = with_commune_kinds(
        _hamlets([("B", "33002", "thon"), ("E", "33003", "thon")]), COMMUNES
    )
    sizes = pd.DataFrame({"hamlet_code": ["B", "E"], "households": [500, 500], "population": 0})
    out = hamlet_compliance(hamlets, sizes, "33", ND185).set_index("hamlet_code")
    # 500 households would meet a thôn's 400; in a phường the unit is a TDP and falls short.
    assert out.at["B", "hamlet_kind"] == "to_dan_pho"
    assert out.at["B", "standard_households"] == 550
    assert out.at["B", "compliance_status"] == "below_mandatory_floor"
    assert out.at["E", "hamlet_kind"] == "thon"  # the đặc khu keeps the registry's kind
    assert out.at["E", "compliance_status"] == "meets_standard"


def test_merged_units_take_the_communes_kind() -> None:
    # A phường whose registry calls its middle unit a thôn: A - B - C in a row.
    hamlets = with_commune_kinds(
        _hamlets(
            [("A", "33002", "to_dan_pho"), ("B", "33002", "thon"), ("C", "33002", "TDP")]
        ).replace({"TDP": "to_dan_pho"}),
        COMMUNES,
    )
    sizes = pd.DataFrame(
        {"hamlet_code": ["A", "B", "C"], "households": [200, 200, 200], "population": 0}
    )
    compliance = hamlet_compliance(hamlets, sizes, "33", ND185)
    adjacency = pd.DataFrame(
        [("33002", a, b, 100.0) for a, b in (("A", "B"), ("B", "A"), ("B", "C"), ("C", "B"))],
        columns=["commune_code", "hamlet_code", "neighbour_hamlet_code", "shared_boundary_m"],
    )
    result = plan_options(compliance, adjacency, ND185, time_limit_s_per_commune=0)
    assert set(result.units["hamlet_kind"]) == {"to_dan_pho"}
    minimal = result.assignments[result.assignments["option_name"] == "minimal"]
    # 600 households together reach the TDP standard of 550: one unit of the three.
    assert minimal["unit_id"].nunique() == 1


def test_exports_show_the_kind_planning_applied() -> None:
    registry = _hamlets([("B", "33002", "thon")])
    hamlets = gpd.GeoDataFrame(
        registry.assign(name_prefix="Thôn", hamlet_name="Một"),
        geometry=[shapely.box(106, 20, 106.01, 20.01)],
        crs="EPSG:4326",
    )
    sizes = pd.DataFrame({"hamlet_code": ["B"], "households": [500], "population": 0})
    compliance = hamlet_compliance(with_commune_kinds(registry, COMMUNES), sizes, "33", ND185)
    before = hamlets_before(hamlets, compliance)
    assert before["hamlet_kind"].tolist() == ["to_dan_pho"]
    assert before["standard_households"].tolist() == [550]
