"""Hamlet sizes from clean records, and status against the standard under both profiles."""

from __future__ import annotations

import pandas as pd
import pytest

from assets.planning.compliance import count_hamlet_sizes, format_count, hamlet_compliance
from assets.planning.rules import RulesError, load_rules
from assets.privacy import record_reference
from expectations.schemas import TABLES

ND185 = load_rules("nd185_2026")
TT04 = load_rules("tt04_2012")


def _hamlets(rows: list[tuple[str, str, int, str | None]]) -> pd.DataFrame:
    """(code, kind, declared households, exemption) in commune 04001."""
    return pd.DataFrame(
        {
            "hamlet_code": [r[0] for r in rows],
            "commune_code": "04001",
            "name_prefix": "Xóm",
            "hamlet_name": [f"Tên {r[0]}" for r in rows],
            "hamlet_kind": [r[1] for r in rows],
            "declared_households": [r[2] for r in rows],
            "declared_population": pd.NA,
            "exemption_category": [r[3] for r in rows],
        }
    )


def _sizes(counts: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "hamlet_code": list(counts),
            "households": list(counts.values()),
            "population": [4 * v for v in counts.values()],
        }
    )


def _by_code(df: pd.DataFrame) -> dict[str, dict]:
    return df.set_index("hamlet_code").to_dict("index")


def test_count_hamlet_sizes_counts_only_households_with_clean_persons() -> None:
    households = pd.DataFrame(
        {
            "household_id": ["hh1", "hh2", "hh3", "hh4"],
            "hamlet_code": ["A", "A", "B", "B"],
        }
    )
    persons_clean = pd.DataFrame(
        {"household_id": ["hh1", "hh1", "hh1", "hh2", "hh3", "ghost"]}  # hh4 all quarantined
    )
    sizes = count_hamlet_sizes(households, persons_clean)
    assert sizes.to_dict("list") == {
        "hamlet_code": ["A", "B"],
        "households": [2, 1],
        "population": [4, 1],
    }
    assert str(sizes["households"].dtype) == "Int64"


def test_count_hamlet_sizes_takes_persons_already_counted_per_household() -> None:
    households = pd.DataFrame(
        {"household_id": ["hh1", "hh2", "hh3", "hh4"], "hamlet_code": ["A", "A", "B", "B"]}
    )
    rows = pd.DataFrame({"household_id": ["hh3", "hh1", "hh1", "ghost", "hh2", "hh1"]})
    counted = pd.DataFrame(
        {"household_id": ["hh1", "hh2", "hh3", "ghost"], "persons": [3, 1, 1, 1]}
    )
    from_rows = count_hamlet_sizes(households, rows)
    pd.testing.assert_frame_equal(count_hamlet_sizes(households, counted), from_rows)
    assert from_rows.to_dict("list") == {
        "hamlet_code": ["A", "B"],
        "households": [2, 1],
        "population": [4, 1],
    }


def test_count_hamlet_sizes_rejects_duplicate_households_naming_them_by_reference() -> None:
    households = pd.DataFrame({"household_id": ["hh1", "hh1"], "hamlet_code": ["A", "B"]})
    persons = pd.DataFrame({"household_id": ["hh1"]})
    secret = b"k" * 32
    with pytest.raises(ValueError, match="household_id must be unique; 1 repeated") as error:
        count_hamlet_sizes(households, persons, reference=lambda v: record_reference(v, secret))
    message = str(error.value)
    assert "hh1" not in message  # personal: the message reaches the run log
    assert record_reference(pd.Series(["hh1"]), secret)[0] in message
    with pytest.raises(ValueError, match="1 repeated; the quality stage") as error:
        count_hamlet_sizes(households, persons)
    assert "hh1" not in str(error.value)


def test_statuses_and_reasons_under_nd185() -> None:
    hamlets = _hamlets(
        [
            ("H1", "thon", 180, None),
            ("H2", "thon", 90, None),
            ("H3", "to_dan_pho", 320, None),
            ("H4", "to_dan_pho", 280, None),
            ("H5", "thon", 10, None),  # no clean records at all
        ]
    )
    out = hamlet_compliance(
        hamlets, _sizes({"H1": 182, "H2": 82, "H3": 1250, "H4": 299}), "04", ND185
    )
    rows = _by_code(out)
    assert {c: r["compliance_status"] for c, r in rows.items()} == {
        "H1": "meets_standard",
        "H2": "below_mandatory_floor",
        "H3": "meets_standard",
        "H4": "below_mandatory_floor",
        "H5": "below_mandatory_floor",
    }
    assert rows["H5"]["households"] == 0 and rows["H5"]["population"] == 0
    assert rows["H5"]["declared_households"] == 10
    assert rows["H3"]["standard_households"] == 300
    assert rows["H2"]["mandatory_floor_households"] == 150
    assert rows["H2"]["region"] == "northern_midlands_mountains"
    assert rows["H2"]["compliance_reason"] == (
        "82 hộ < tiêu chuẩn 150 hộ (thôn, Trung du và miền núi phía Bắc; "
        "Nghị định 185/2026/NĐ-CP, Điều 8, 10): phải sắp xếp"
    )
    assert rows["H3"]["compliance_reason"].startswith("1.250 hộ ≥ tiêu chuẩn 300 hộ (tổ dân phố")
    assert set(out["rules_profile"]) == {"nd185_2026"}


def test_output_conforms_to_the_contract() -> None:
    out = hamlet_compliance(_hamlets([("H1", "thon", 1, None)]), _sizes({}), "04", ND185)
    contract = TABLES["planning.hamlet_compliance"]
    assert tuple(out.columns) == contract.columns
    pd.testing.assert_frame_equal(contract.enforce(out), out)


def test_tt04_half_floor_separates_mandatory_from_encouraged() -> None:
    hamlets = _hamlets([("H1", "thon", 0, None), ("H2", "thon", 0, None), ("H3", "thon", 0, None)])
    sizes = _sizes({"H1": 100, "H2": 74, "H3": 75})
    nd = _by_code(hamlet_compliance(hamlets, sizes, "04", ND185))
    tt = _by_code(hamlet_compliance(hamlets, sizes, "04", TT04))
    assert [nd[c]["compliance_status"] for c in ("H1", "H2", "H3")] == ["below_mandatory_floor"] * 3
    assert [tt[c]["compliance_status"] for c in ("H1", "H2", "H3")] == [
        "below_standard",
        "below_mandatory_floor",
        "below_standard",
    ]
    assert tt["H1"]["mandatory_floor_households"] == 75
    assert tt["H2"]["compliance_reason"].startswith(
        "74 hộ < ngưỡng bắt buộc 75 hộ (50% tiêu chuẩn 150 hộ; thôn, "
    )
    assert tt["H1"]["compliance_reason"].endswith("khuyến khích sắp xếp")


def test_region_follows_the_province() -> None:
    out = hamlet_compliance(_hamlets([("H1", "thon", 0, None)]), _sizes({"H1": 390}), "33", ND185)
    row = out.iloc[0]
    assert row["region"] == "red_river_delta"
    assert row["standard_households"] == 400
    assert "Đồng bằng sông Hồng" in row["compliance_reason"]


def test_nd185_special_case_without_floor_awaits_guidance_and_accepts_labels() -> None:
    # Art. 10.3: smaller than the standard may be allowed, by the province; until it
    # says how much smaller, the unit is below standard and awaiting, never compliant.
    hamlets = _hamlets(
        [
            ("H1", "thon", 0, "border_island"),
            ("H2", "thon", 0, "Địa hình chia cắt, khó đi lại, dân cư phân tán"),
            ("H3", "thon", 0, None),
        ]
    )
    rows = _by_code(hamlet_compliance(hamlets, _sizes({"H1": 20, "H2": 40, "H3": 40}), "04", ND185))
    assert rows["H1"]["compliance_status"] == "special_case_awaiting_guidance"
    assert rows["H2"]["compliance_status"] == "special_case_awaiting_guidance"
    assert rows["H2"]["exemption_category"] == "divided_terrain"
    assert rows["H3"]["compliance_status"] == "below_mandatory_floor"
    assert pd.isna(rows["H3"]["exemption_category"])
    assert rows["H1"]["compliance_reason"] == (
        "Diện đặc thù: Khu vực biên giới, hải đảo (Nghị định 185/2026/NĐ-CP, Điều 10.3): "
        "20 hộ < tiêu chuẩn 150 hộ (thôn, Trung du và miền núi phía Bắc; Nghị định "
        "185/2026/NĐ-CP, Điều 10); tỉnh chưa quy định mức thấp hơn cho diện này: "
        "dưới chuẩn — chờ hướng dẫn của tỉnh; nguồn xác định diện: Sổ đăng ký thôn, tổ dân phố"
    )


def test_tt04_exemption_has_its_own_floor() -> None:
    hamlets = _hamlets(
        [
            ("H1", "thon", 0, "border_island"),
            ("H2", "thon", 0, "border_island"),
            ("H3", "thon", 0, "Khu vực biên giới, hải đảo"),  # nd185's label, same key
            ("H4", "thon", 0, "divided_terrain"),  # only nd185 knows this one
        ]
    )
    sizes = _sizes({"H1": 120, "H2": 40, "H3": 100, "H4": 60})
    rows = _by_code(hamlet_compliance(hamlets, sizes, "04", TT04))
    assert rows["H1"]["compliance_status"] == "exempt"
    assert rows["H3"]["compliance_status"] == "exempt"
    assert rows["H2"]["compliance_status"] == "below_mandatory_floor"
    assert rows["H2"]["standard_households"] == 100
    # Below half of the category's 100 households, as for any unit under this regime.
    assert rows["H2"]["mandatory_floor_households"] == 50
    assert "40 hộ < tiêu chuẩn 100 hộ của diện này" in rows["H2"]["compliance_reason"]
    # Not an exemption under tt04: judged on the ordinary 150/75, and the reason says so.
    assert rows["H4"]["compliance_status"] == "below_mandatory_floor"
    assert rows["H4"]["standard_households"] == 150
    assert rows["H4"]["exemption_category"] == "divided_terrain"
    assert (
        "diện divided_terrain không được miễn theo Thông tư 04/2012"
        in (rows["H4"]["compliance_reason"])
    )


def test_unknown_exemption_text_is_an_error_naming_the_hamlet() -> None:
    hamlets = _hamlets([("H1", "thon", 0, "vùng chè")])
    with pytest.raises(RulesError, match=r"hamlets \['H1'\].*'vùng chè'"):
        hamlet_compliance(hamlets, _sizes({}), "04", ND185)


def test_bad_kind_and_unknown_province_are_errors() -> None:
    with pytest.raises(ValueError, match=r"hamlet_kind must be one of.*\['ap'\]"):
        hamlet_compliance(_hamlets([("H1", "ap", 0, None)]), _sizes({}), "04", ND185)
    with pytest.raises(RulesError, match="no province '77'"):
        hamlet_compliance(_hamlets([("H1", "thon", 0, None)]), _sizes({}), "77", ND185)


def test_format_count_groups_thousands_the_vietnamese_way() -> None:
    values = pd.Series([0, 82, 999, 1000, 1250, 1234567])
    assert format_count(values).tolist() == ["0", "82", "999", "1.000", "1.250", "1.234.567"]
