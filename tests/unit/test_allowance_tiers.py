"""Allowance tiers as data: each tier of ND 185/2026 Art. 15 and of the earlier regime
(ND 34/2019), the figures of TT 04/2012 as amended, and the consultation share as the
province's rule. Expected values come from shared/DOMAIN.md, not from the code."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from assets.planning.compliance import hamlet_compliance
from assets.planning.rules import RulesError, load_rules

BASE_2026 = 2_530_000  # VND/month from 2026-07-01 (ND 161/2026)
ON = date(2026, 11, 21)


def _override(tmp_path: Path, profile: str, **keys) -> Path:
    path = tmp_path / "province.yaml"
    path.write_text(yaml.safe_dump({"profiles": {profile: keys}}, allow_unicode=True), "utf-8")
    return path


def _multipliers(rules, rows: list[tuple[str, str, str, int, str | None]]) -> list[float]:
    """rows: (hamlet_code, commune_code, kind, households, special category)."""
    frame = pd.DataFrame(rows, columns=["hamlet", "commune", "kind", "households", "category"])
    categories = rules.allowance_categories(frame["hamlet"], frame["commune"], frame["category"])
    return rules.allowance_multipliers(frame["households"], frame["kind"], categories).tolist()


def test_each_nd185_tier_from_the_law(tmp_path: Path) -> None:
    # The province lists its defence-and-security-key commune and its especially
    # disadvantaged village (a list the state publishes), with the source of each.
    override = _override(
        tmp_path,
        "nd185_2026",
        category_lists={
            "defence_security_key": {"communes": ["04002"], "source": "QĐ thử số 1"},
            "especially_disadvantaged_village": {"hamlets": ["h7"], "source": "QĐ thử số 2"},
        },
    )
    rules = load_rules(override_path=override)
    got = _multipliers(
        rules,
        [
            ("h1", "04001", "thon", 700, None),  # thôn >= 700: 8.0
            ("h2", "04001", "thon", 699, None),  # thôn < 700: 6.5
            ("h3", "04001", "to_dan_pho", 1000, None),  # TDP >= 1,000: 8.0
            ("h4", "04001", "to_dan_pho", 999, None),  # TDP < 1,000: 6.5
            ("h5", "04001", "thon", 80, "border_island"),  # border or island commune: 8.0
            ("h6", "04002", "thon", 80, None),  # commune key for defence and security: 8.0
            ("h7", "04001", "thon", 80, None),  # especially disadvantaged village: 8.0
            # Mountainous is not "especially disadvantaged": no higher tier of its own.
            ("h8", "04001", "thon", 80, "mountainous_ethnic_minority"),
        ],
    )
    assert got == [8.0, 6.5, 8.0, 6.5, 8.0, 8.0, 8.0, 6.5]
    # Without the province's lists, the same small units are in the 6.5 tier.
    assert _multipliers(load_rules(), [("h6", "04002", "thon", 80, None)]) == [6.5]


def test_a_merged_unit_keeps_a_members_category_in_scores_and_staffing(tmp_path: Path) -> None:
    from assets.planning.scores import option_scores

    override = _override(
        tmp_path,
        "nd185_2026",
        category_lists={"especially_disadvantaged_village": {"hamlets": ["d"], "source": "QĐ thử"}},
    )
    rules = load_rules(override_path=override)
    compliance = pd.DataFrame(
        {
            "hamlet_code": ["c", "d"],
            "commune_code": ["X", "X"],
            "hamlet_kind": ["thon", "thon"],
            "households": [100, 60],
            "exemption_category": [None, None],
        }
    )
    assignments = pd.DataFrame(
        {"option_name": ["merge", "merge"], "hamlet_code": ["c", "d"], "unit_id": ["c", "c"]}
    )
    units = pd.DataFrame(
        {
            "option_name": ["merge"],
            "commune_code": ["X"],
            "unit_id": ["c"],
            "hamlet_kind": ["thon"],
            "households": [160],
            "polsby_popper": [0.5],
        }
    )
    summary = pd.DataFrame(
        {
            "option_name": ["merge"],
            "commune_code": ["X"],
            "units_before": [2],
            "units_after": [1],
            "compliant_units_after": [1],
            "households_moved": [60],
            "mean_polsby_popper": [0.5],
        }
    )
    scores = option_scores(summary, units, assignments, compliance, rules, on=ON).iloc[0]
    assert scores["allowance_fund_before_vnd_per_year"] == pytest.approx(
        (6.5 + 8.0) * BASE_2026 * 12
    )
    assert scores["allowance_fund_after_vnd_per_year"] == pytest.approx(8.0 * BASE_2026 * 12)


def test_the_tt04_profile_has_the_allowances_of_its_time() -> None:
    rules = load_rules("tt04_2012")
    assert "34/2019" in rules.allowance_basis and "secondary" in rules.allowance_basis
    got = _multipliers(
        rules,
        [
            ("a", "01001", "thon", 350, None),  # thôn >= 350: 5.0
            ("b", "01001", "thon", 349, None),  # 3.0
            ("c", "01001", "to_dan_pho", 500, None),  # TDP >= 500: 5.0
            ("d", "01001", "to_dan_pho", 499, None),  # 3.0
            ("e", "01001", "thon", 40, "border_island"),  # border or island: 5.0
        ],
    )
    assert got == [5.0, 3.0, 5.0, 3.0, 5.0]
    # The base salary of its time: 1,490,000 VND from 2019-07-01 (ND 38/2019).
    assert rules.base_salary_on(date(2020, 1, 1)) == 1_490_000


def test_the_tt04_profile_figures_from_the_secondary_sources() -> None:
    rules = load_rules("tt04_2012")
    assert "secondary" in rules.legal_basis
    thon = {
        ("northern_midlands_mountains", None): 150,
        ("red_river_delta", None): 300,
        ("north_central", None): 250,
        ("mekong_delta", None): 350,
        ("south_east", None): 350,
        ("ha_noi_hcm", "79"): 350,  # TP. Hồ Chí Minh: the south's figure
        ("ha_noi_hcm", "01"): 300,  # Hà Nội's thôn figure
    }
    tdp = {
        ("northern_midlands_mountains", None): 200,
        ("red_river_delta", None): 350,
        ("north_central", None): 300,
        ("mekong_delta", None): 400,
        ("ha_noi_hcm", "79"): 450,
        ("ha_noi_hcm", "01"): 450,
    }
    for (region, province), want in thon.items():
        assert rules.standard_for(region, "thon", province) == want, (region, province)
    for (region, province), want in tdp.items():
        assert rules.standard_for(region, "to_dan_pho", province) == want, (region, province)
        # Tổ dân phố are held to a higher figure than thôn.
        assert want > rules.standard_for(region, "thon", province)


def _hamlets(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    hamlets = pd.DataFrame(
        {
            "hamlet_code": [r[0] for r in rows],
            "commune_code": "01001",
            "hamlet_kind": [r[1] for r in rows],
            "declared_households": pd.array([None] * len(rows), dtype="Int64"),
            "exemption_category": [r[2] for r in rows],
        }
    )
    return hamlets


def test_tt04_compliance_uses_ha_noi_figures_and_half_the_border_floor() -> None:
    rules = load_rules("tt04_2012")
    hamlets = _hamlets(
        [
            ("a", "thon", None),
            ("b", "to_dan_pho", None),
            ("c", "thon", "border_island"),
            ("d", "thon", "border_island"),
            ("e", "thon", "border_island"),
        ]
    )
    sizes = pd.DataFrame(
        {
            "hamlet_code": ["a", "b", "c", "d", "e"],
            "households": [160, 300, 49, 60, 100],
            "population": [1] * 5,
        }
    )
    got = hamlet_compliance(hamlets, sizes, "01", rules).set_index("hamlet_code")
    # Hà Nội thôn standard 300 (floor 150), TDP 450 (floor 225).
    assert got.loc["a", ["standard_households", "mandatory_floor_households"]].tolist() == [
        300,
        150,
    ]
    assert got.loc["a", "compliance_status"] == "below_standard"
    assert got.loc["b", "standard_households"] == 450
    assert got.loc["b", "compliance_status"] == "below_standard"
    # Border and island units: standard 100, and as for every unit under this regime
    # only those below half of it must merge; 50-99 are encouraged.
    assert got.loc["c", "compliance_status"] == "below_mandatory_floor"
    assert got.loc["c", "mandatory_floor_households"] == 50
    assert got.loc["d", "compliance_status"] == "below_standard"
    assert "phải sắp xếp" not in got.loc["d", "compliance_reason"]
    assert got.loc["e", "compliance_status"] == "exempt"


def test_allowance_lists_are_validated(tmp_path: Path) -> None:
    bad = _override(
        tmp_path,
        "nd185_2026",
        category_lists={"defence_security_key": {"communes": [4002], "source": "x"}},
    )
    with pytest.raises(RulesError, match="must hold quoted codes as text"):
        load_rules(override_path=bad)
    unsourced = _override(
        tmp_path,
        "nd185_2026",
        category_lists={"defence_security_key": {"communes": ["04002"]}},
    )
    with pytest.raises(RulesError, match=r"defence_security_key\.source must be non-empty text"):
        load_rules(override_path=unsourced)


def test_consultation_share_is_the_provinces_rule(tmp_path: Path) -> None:
    from assets.progress.consultation import approval_rule_vi, approval_share
    from assets.progress.records import ProgressRecordError

    # ND 185/2026 sets no approval share: nothing to apply until the province sets one.
    decree = load_rules()
    assert decree.consultation_approval_share is None
    with pytest.raises(ProgressRecordError, match="không quy định tỷ lệ tán thành"):
        approval_share(decree)
    # The province's choice, with the document that sets it.
    override = _override(
        tmp_path,
        "nd185_2026",
        consultation_approval_share=0.6,
        consultation_rule_basis="Quyết định thử của UBND tỉnh",
    )
    province = load_rules(override_path=override)
    assert approval_share(province) == 0.6
    assert approval_rule_vi(province) == (
        "trên 60% số hộ tán thành, theo Quyết định thử của UBND tỉnh"
    )
    # A share without its basis is refused: it would read as nobody's rule.
    shareless = _override(tmp_path, "nd185_2026", consultation_approval_share=0.6)
    with pytest.raises(RulesError, match="consultation_rule_basis must be non-empty text"):
        load_rules(override_path=shareless)
    # The 2012 regime's >50% is the default of its own profile only.
    old = load_rules("tt04_2012")
    assert approval_share(old) == 0.5
    assert "04/2012" in approval_rule_vi(old)
