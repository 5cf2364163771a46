"""The standard's region is the commune's: its province's by default, another where the
province's override lists the commune (post-2025 provinces straddle two regions)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from assets.planning.compliance import hamlet_compliance
from assets.planning.rules import RulesError, load_rules


def _override(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "province_25.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_a_listed_commune_takes_its_region_others_their_provinces(tmp_path: Path) -> None:
    # Phú Thọ (25) is a midland province that took in Vĩnh Phúc (Red River Delta).
    rules = load_rules(
        override_path=_override(tmp_path, {"commune_regions": {"red_river_delta": ["25001"]}})
    )
    hamlets = pd.DataFrame(
        {
            "hamlet_code": ["A", "B"],
            "commune_code": ["25001", "25002"],
            "hamlet_kind": ["thon", "thon"],
            "declared_households": [300, 300],
            "exemption_category": [None, None],
        }
    )
    sizes = pd.DataFrame({"hamlet_code": ["A", "B"], "households": [300, 300], "population": 0})
    out = hamlet_compliance(hamlets, sizes, "25", rules).set_index("hamlet_code")
    # Former Vĩnh Phúc: 400 households per thôn (ND 185 Art. 10, Red River Delta).
    assert out.at["A", "region"] == "red_river_delta"
    assert out.at["A", "standard_households"] == 400
    assert out.at["A", "compliance_status"] == "below_mandatory_floor"
    assert "Đồng bằng sông Hồng" in out.at["A", "compliance_reason"]
    # The rest of Phú Thọ: 150 (northern midlands and mountains).
    assert out.at["B", "region"] == "northern_midlands_mountains"
    assert out.at["B", "standard_households"] == 150
    assert out.at["B", "compliance_status"] == "meets_standard"
    assert "Trung du và miền núi phía Bắc" in out.at["B", "compliance_reason"]
    # Without the override the whole province is midland.
    assert load_rules().region_for_commune("25", "25001") == "northern_midlands_mountains"


@pytest.mark.parametrize(
    ("commune_regions", "message"),
    [
        ({"red_river": ["25001"]}, "commune_regions.red_river is not a region"),
        ({"red_river_delta": "25001"}, "commune_regions.red_river_delta must be a list"),
        ({"red_river_delta": [25001]}, "lists 25001: write quoted 5-digit commune codes"),
        (
            {"red_river_delta": ["25001"], "northern_midlands_mountains": ["25001"]},
            "lists commune 25001 also listed under red_river_delta",
        ),
    ],
)
def test_commune_regions_errors_name_the_override(
    tmp_path: Path, commune_regions: dict, message: str
) -> None:
    with pytest.raises(RulesError, match=message) as caught:
        load_rules(override_path=_override(tmp_path, {"commune_regions": commune_regions}))
    assert "province_25.yaml" in str(caught.value)
