"""The standard's region is the commune's: its province's by default, another where the
province's override lists the commune (post-2025 provinces straddle two regions)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import yaml

from assets.exports.files import commune_layer, hamlets_before, write_province_geopackage
from assets.marts.build import PublishStamp, commune_summary
from assets.planning.compliance import hamlet_compliance
from assets.planning.rules import RulesError, load_rules
from assets.raw.landing import Landing, load_raw
from assets.staging.tables import stage_communes


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


def test_marts_and_exports_show_each_communes_region(tmp_path: Path) -> None:
    rules = load_rules(
        override_path=_override(tmp_path, {"commune_regions": {"red_river_delta": ["25001"]}})
    )
    hamlets = gpd.GeoDataFrame(
        {
            "hamlet_code": ["A", "B"],
            "commune_code": ["25001", "25002"],
            "name_prefix": "Thôn",
            "hamlet_name": ["Một", "Hai"],
            "hamlet_kind": "thon",
            "declared_households": [300, 300],
            "exemption_category": [None, None],
        },
        geometry=[shapely.box(105, 21, 105.01, 21.01), shapely.box(105.02, 21, 105.03, 21.01)],
        crs="EPSG:4326",
    )
    sizes = pd.DataFrame({"hamlet_code": ["A", "B"], "households": [300, 300], "population": 0})
    compliance = hamlet_compliance(pd.DataFrame(hamlets), sizes, "25", rules)
    communes = gpd.GeoDataFrame(
        {
            "commune_code": ["25001", "25002"],
            "commune_name": ["Vĩnh Yên", "Việt Trì"],
            "unit_kind": ["xa", "xa"],
            "area_km2": [1.0, 1.0],
        },
        geometry=[shapely.box(105, 21, 105.01, 21.01), shapely.box(105.02, 21, 105.03, 21.01)],
        crs="EPSG:4326",
    )
    expected = {"25001": "red_river_delta", "25002": "northern_midlands_mountains"}
    stamp = PublishStamp("25", rules.name, "r1", datetime(2026, 6, 1, tzinfo=UTC))
    summary = commune_summary(pd.DataFrame(communes), compliance, stamp)
    assert dict(zip(summary["commune_code"], summary["region"], strict=True)) == expected
    path = write_province_geopackage(
        tmp_path / "tinh_25.gpkg",
        commune_layer(communes, compliance),
        hamlets_before(hamlets, compliance),
        gpd.GeoDataFrame({"option_name": []}, geometry=[], crs="EPSG:4326"),
    )
    layer = gpd.read_file(path, layer="communes")
    assert dict(zip(layer["commune_code"], layer["region"], strict=True)) == expected
    before = gpd.read_file(path, layer="hamlets_before")
    assert dict(zip(before["commune_code"], before["region"], strict=True)) == expected


def test_staging_shows_the_region_each_commune_is_held_to(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "25"
    folder.mkdir(parents=True)
    gpd.GeoDataFrame(
        {
            "commune_code": ["25001", "25002"],
            "commune_name": ["Vĩnh Yên", "Việt Trì"],
            "unit_kind": ["phường", "phường"],
            "province_code": ["25", "25"],
        },
        geometry=[shapely.box(105, 21, 105.01, 21.01), shapely.box(105.02, 21, 105.03, 21.01)],
        crs="EPSG:4326",
    ).to_file(folder / "communes.geojson", driver="GeoJSON")
    rules = load_rules(
        override_path=_override(tmp_path, {"commune_regions": {"red_river_delta": ["25001"]}})
    )
    raw = load_raw(Landing(folder).file("communes"))
    staged = stage_communes(raw, rules).table
    assert dict(zip(staged["commune_code"], staged["region"], strict=True)) == {
        "25001": "red_river_delta",
        "25002": "northern_midlands_mountains",
    }
    assert stage_communes(raw).table["region"].isna().all()  # no rules: not guessed
