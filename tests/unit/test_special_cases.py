"""ND 185/2026 Art. 10.3, from the law (DOMAIN.md): special cases may be smaller than the
standard, by as much as the province's guidance says; they are not exempt.

- Until the province sets a category's floor, a unit of it below the standard is "below
  standard, special case awaiting the province's guidance", never simply compliant, and
  never silently dropped from the restructuring (Cao Bằng is wholly mountainous).
- Once it is set, a unit below that floor must be rearranged like any other.
- Options show both readings: with the special case and without it.
- "Cồn" is an islet in a river.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from planning_inputs import compliance_rows

from assets.exports.files import COMPLIANCE_COLOURS, COMPLIANCE_LABELS_VI
from assets.marts.build import PublishStamp, commune_summary
from assets.planning.minimal import minimal_option
from assets.planning.options import plan_options
from assets.planning.rules import RulesError, load_rules
from expectations.schemas import FIELDS

MOUNTAIN = "mountainous_ethnic_minority"
# A chain a - b - c - d of thôn in one commune of Cao Bằng (standard 150 households),
# every one in a mountainous, ethnic-minority commune.
CHAIN = [("a", 60, "thon", MOUNTAIN), ("b", 70, "thon", MOUNTAIN), ("c", 200, "thon", MOUNTAIN)]
CHAIN += [("d", 90, "thon", MOUNTAIN)]


def _adjacency() -> pd.DataFrame:
    edges = [("a", "b", 500.0), ("b", "c", 500.0), ("c", "d", 500.0)]
    rows = [("04001", x, y, m) for x, y, m in edges] + [("04001", y, x, m) for x, y, m in edges]
    return pd.DataFrame(
        rows, columns=["commune_code", "hamlet_code", "neighbour_hamlet_code", "shared_boundary_m"]
    )


def _override(tmp_path: Path, floor: str) -> Path:
    path = tmp_path / "cao_bang_override.yaml"
    path.write_text(
        f"profiles:\n  nd185_2026:\n    special_case_floors:\n      {MOUNTAIN}: {floor}\n",
        encoding="utf-8",
    )
    return path


def _status(compliance: pd.DataFrame) -> dict[str, str]:
    return dict(zip(compliance["hamlet_code"], compliance["compliance_status"], strict=True))


def test_wholly_mountainous_province_without_floors_awaits_guidance_not_exempt() -> None:
    rules = load_rules("nd185_2026")
    compliance = compliance_rows(CHAIN, rules)
    assert _status(compliance) == {
        "a": "special_case_awaiting_guidance",
        "b": "special_case_awaiting_guidance",
        "c": "meets_standard",
        "d": "special_case_awaiting_guidance",
    }
    reasons = compliance.set_index("hamlet_code")["compliance_reason"]
    assert "60 hộ < tiêu chuẩn 150 hộ" in reasons["a"]
    assert "chờ hướng dẫn của tỉnh" in reasons["a"]
    # The mart counts them below standard, and as awaiting, not as exempt.
    stamp = PublishStamp("04", rules.name, "run-1", datetime(2026, 8, 1, tzinfo=UTC))
    communes = pd.DataFrame(
        {"commune_code": ["04001"], "commune_name": ["Xã Một"], "unit_kind": ["xa"]}
    )
    mart = commune_summary(communes, compliance, stamp).iloc[0]
    assert mart["below_standard_hamlets"] == 3
    assert mart["awaiting_guidance_hamlets"] == 3
    assert mart["exempt_hamlets"] == 0


def test_both_readings_appear_in_the_options() -> None:
    rules = load_rules("nd185_2026")
    result = plan_options(compliance_rows(CHAIN, rules), _adjacency(), rules)
    summary = result.summary.set_index("option_name")
    for option in ("minimal", "compliant"):
        row = summary.loc[option]
        assert row["awaiting_guidance_hamlets"] == 3
        # With the special case: the small units are kept but not called compliant.
        assert row["units_after"] == 4
        assert row["noncompliant_units_after"] == 3
        # Without it: they must merge, so fewer units, and what stays short is visible.
        assert row["units_after_without_special_cases"] < 4
    compliant = summary.loc["compliant"]
    assert compliant["noncompliant_units_after_without_special_cases"] == 0
    units = result.units.set_index(["option_name", "unit_id"])
    assert "chờ hướng dẫn của tỉnh" in units.loc[("minimal", "a"), "compliance_reason"]
    assert not bool(units.loc[("minimal", "a"), "is_compliant"])


def test_with_a_floor_set_units_below_it_must_be_rearranged(tmp_path: Path) -> None:
    rules = load_rules("nd185_2026", override_path=_override(tmp_path, "{households: 80}"))
    compliance = compliance_rows(CHAIN, rules)
    assert _status(compliance) == {
        "a": "below_mandatory_floor",
        "b": "below_mandatory_floor",
        "c": "meets_standard",
        "d": "exempt",  # 90 ≥ the province's 80: smaller than 150, allowed
    }
    rows = compliance.set_index("hamlet_code")
    assert rows.loc["a", "standard_households"] == 80
    assert "60 hộ < tiêu chuẩn 80 hộ của diện này" in rows.loc["a", "compliance_reason"]
    out = minimal_option(compliance, _adjacency(), rules)
    unit = dict(zip(out["hamlet_code"], out["unit_id"], strict=True))
    assert unit["a"] == unit["b"]  # a and b merge (130 ≥ 80)
    assert unit["d"] == "d"
    # Nothing awaits any more, so both readings agree.
    summary = plan_options(compliance, _adjacency(), rules).summary
    assert summary["awaiting_guidance_hamlets"].eq(0).all()
    assert summary["units_after"].eq(summary["units_after_without_special_cases"]).all()


def test_a_floor_may_be_a_share_of_the_standard(tmp_path: Path) -> None:
    rules = load_rules("nd185_2026", override_path=_override(tmp_path, "{share: 0.5}"))
    assert rules.special_floor_for(MOUNTAIN, "northern_midlands_mountains", "thon") == 75
    assert rules.special_floor_for(MOUNTAIN, "northern_midlands_mountains", "to_dan_pho") == 150
    assert rules.special_floor_for("border_island", "northern_midlands_mountains", "thon") is None
    status = _status(compliance_rows(CHAIN, rules))
    assert status["b"] == "below_mandatory_floor"  # 70 < 75
    assert status["d"] == "exempt"


@pytest.mark.parametrize(
    ("floor", "message"),
    [
        ("{households: 80, share: 0.5}", "either households or share"),
        ("{households: -5}", "households must be a positive integer"),
        ("{share: 1.5}", r"share must be a number in \(0, 1\]"),
        ("{hộ: 80}", "unknown keys"),
    ],
)
def test_bad_floors_are_named_by_file_and_key(tmp_path: Path, floor: str, message: str) -> None:
    path = _override(tmp_path, floor)
    with pytest.raises(
        RulesError, match=rf"{path.name}.*special_case_floors.{MOUNTAIN}.*{message}"
    ):
        load_rules("nd185_2026", override_path=path)


def test_a_floor_for_a_category_the_profile_lacks_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "o.yaml"
    path.write_text(
        "profiles:\n  nd185_2026:\n    special_case_floors:\n      tea_hills: {households: 80}\n",
        encoding="utf-8",
    )
    with pytest.raises(RulesError, match=r"special_case_floors.tea_hills is not an exemption"):
        load_rules("nd185_2026", override_path=path)


def test_con_is_an_islet_in_a_river() -> None:
    label = load_rules("nd185_2026").exemption_categories["isolated_island"]
    assert "cồn (bãi nổi giữa sông)" in label
    assert "cồn cát" not in label  # a sand dune is not what Art. 10.3 means


def test_every_status_has_a_label_and_a_colour_in_workbooks_and_maps() -> None:
    statuses = FIELDS["compliance_status"].allowed_values
    assert "special_case_awaiting_guidance" in statuses
    assert set(COMPLIANCE_LABELS_VI) == set(statuses) == set(COMPLIANCE_COLOURS)
    assert COMPLIANCE_LABELS_VI["special_case_awaiting_guidance"] == (
        "Dưới chuẩn — diện đặc thù, chờ hướng dẫn của tỉnh"
    )
