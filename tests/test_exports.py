"""Export files: GeoPackage layers, Vietnamese workbook headers, maps."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from assets.exports.files import (
    hamlets_before,
    slug,
    write_commune_map,
    write_commune_workbooks,
    write_province_geopackage,
    write_province_map,
)


def _frames():
    boxes = [shapely.box(106 + i * 0.01, 22.5, 106.01 + i * 0.01, 22.51) for i in range(3)]
    hamlets = gpd.GeoDataFrame(
        {
            "hamlet_code": ["04001001", "04001002", "04001003"],
            "commune_code": ["04001"] * 3,
            "name_prefix": ["Xóm"] * 3,
            "hamlet_name": ["Nà Rẻo", "Pác Bó", "Cốc Xả"],
            "hamlet_kind": ["thon"] * 3,
        },
        geometry=boxes,
        crs="EPSG:4326",
    )
    compliance = pd.DataFrame(
        {
            "hamlet_code": ["04001001", "04001002", "04001003"],
            "households": [60, 100, 200],
            "population": [240, 400, 800],
            "standard_households": [150] * 3,
            "compliance_status": [
                "below_mandatory_floor",
                "below_mandatory_floor",
                "meets_standard",
            ],
            "compliance_reason": ["60 hộ < 150", "100 hộ < 150", "200 hộ ≥ 150"],
        }
    )
    units = gpd.GeoDataFrame(
        {
            "province_code": ["04", "04"],
            "commune_code": ["04001", "04001"],
            "option_name": ["minimal", "minimal"],
            "unit_id": ["04001002", "04001003"],
            "hamlet_kind": ["thon", "thon"],
            "member_hamlet_codes": ["04001001,04001002", "04001003"],
            "member_count": [2, 1],
            "households": [160, 200],
            "population": [640, 800],
            "standard_households": [150, 150],
            "is_compliant": [True, True],
            "compliance_reason": ["160 hộ ≥ 150", "200 hộ ≥ 150"],
            "run_id": ["r1", "r1"],
        },
        geometry=[shapely.union(boxes[0], boxes[1]), boxes[2]],
        crs="EPSG:4326",
    )
    communes = gpd.GeoDataFrame(
        {"commune_code": ["04001"], "commune_name": ["Trường Hà"], "unit_kind": ["xa"]},
        geometry=[shapely.box(106, 22.5, 106.03, 22.51)],
        crs="EPSG:4326",
    )
    assignments = pd.DataFrame(
        {
            "option_name": ["minimal"] * 3,
            "commune_code": ["04001"] * 3,
            "hamlet_code": ["04001001", "04001002", "04001003"],
            "unit_id": ["04001002", "04001002", "04001003"],
            "is_merged": [True, True, False],
            "explanation": ["sáp nhập", "sáp nhập", "giữ nguyên"],
        }
    )
    return hamlets, compliance, units, communes, assignments


def test_geopackage_has_every_layer_readable_by_qgis(tmp_path):
    hamlets, compliance, units, communes, _ = _frames()
    issues = pd.DataFrame({"hamlet_code": ["04001001", "04001001", None]})
    before = hamlets_before(hamlets, compliance, issues)
    path = write_province_geopackage(tmp_path / "tinh_04.gpkg", communes, before, units)
    counts = gpd.read_file(path, layer="hamlets_before").set_index("hamlet_code")["issue_count"]
    assert counts.to_dict() == {"04001001": 2, "04001002": 0, "04001003": 0}
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert layers == {"communes", "hamlets_before", "units_minimal", "data_dictionary"}
    read = gpd.read_file(path, layer="units_minimal")
    assert read["households"].tolist() == [160, 200]
    assert read.crs.to_epsg() == 4326
    dictionary = gpd.read_file(path, layer="data_dictionary")
    assert "citizen_id" not in set(dictionary["column"])  # personal fields are not listed


def test_commune_workbook_has_vietnamese_headers_and_sheets(tmp_path):
    hamlets, compliance, units, communes, assignments = _frames()
    before = hamlets_before(hamlets, compliance)
    options = pd.DataFrame(
        {
            "commune_code": ["04001"],
            "option_name": ["minimal"],
            "units_before": [3],
            "units_after": [2],
            "positions_before": [9],
            "positions_after": [6],
            "allowance_fund_before_vnd_per_year": [3 * 6.5 * 2_530_000 * 12],
            "allowance_fund_after_vnd_per_year": [2 * 6.5 * 2_530_000 * 12],
            "allowance_saving_vnd_per_year": [6.5 * 2_530_000 * 12],
        }
    )
    [path] = write_commune_workbooks(tmp_path, communes, before, units, assignments, options)
    assert path.name == "04001_truong_ha.xlsx"
    sheets = pd.read_excel(path, sheet_name=None)
    assert list(sheets) == ["Hiện trạng", "PA Tối thiểu", "Nhân sự, phụ cấp", "Giải thích"]
    costs = sheets["Nhân sự, phụ cấp"]
    assert costs["Tiết kiệm phụ cấp (đồng/năm)"].tolist() == [197_340_000]
    assert costs["Số người hoạt động KCT sau"].tolist() == [6]
    today = sheets["Hiện trạng"]
    assert {"Mã thôn/TDP", "Số hộ (đếm)", "Tình trạng đạt chuẩn"} <= set(today.columns)
    assert set(today["Tình trạng đạt chuẩn"]) == {"Dưới ngưỡng bắt buộc sắp xếp", "Đạt chuẩn"}
    after = sheets["PA Tối thiểu"]
    assert after["Số hộ (đếm)"].tolist() == [160, 200]
    assert set(after["Đạt chuẩn"]) == {"Có"}


def test_maps_are_written(tmp_path):
    hamlets, compliance, units, communes, _ = _frames()
    before = hamlets_before(hamlets, compliance)
    png = write_commune_map(tmp_path / "04001.png", communes, before, units)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    html = write_province_map(tmp_path / "map.html", before, units).read_text()
    for text in ("Nà Rẻo", "Phương án Tối thiểu"):  # folium may \u-escape inside JSON
        assert text in html or json.dumps(text)[1:-1] in html


def test_slug():
    assert slug("Phường Thục Phán") == "phuong_thuc_phan"
    assert slug("Đông Khê") == "dong_khe"
