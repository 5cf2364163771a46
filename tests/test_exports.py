"""Export files: GeoPackage layers, Vietnamese workbook headers, maps; hostile names
that stay text, writes that are whole or absent, no stale commune files."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from hostile import HOSTILE, assert_text_not_formulas

from assets.exports.files import (
    hamlets_before,
    slug,
    write_commune_map,
    write_commune_workbooks,
    write_province_geopackage,
    write_province_map,
)
from assets.exports.location import Exports
from assets.exports.province import export_province
from assets.exports.safe import looks_like_formula, remove_stale
from assets.planning.options import PlanResult
from assets.planning.propose import write_plan_csv
from assets.warehouse import Warehouse


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
            "hamlet_kind": ["thon"] * 3,
            "population": [240, 400, 800],
            "region": ["northern_midlands_mountains"] * 3,
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


def _hostile_frames():
    """``_frames`` with hostile names, reasons and explanations, and a control character
    (a vertical tab, as pasted from Word) that XML cannot hold."""
    hamlets, compliance, units, communes, assignments = _frames()
    hamlets["hamlet_name"] = list(HOSTILE[:3])
    compliance["compliance_reason"] = list(HOSTILE[3:6])
    assignments["explanation"] = list(HOSTILE[6:9])
    units["compliance_reason"] = [HOSTILE[3], "Nà\x0bRẻo"]
    return hamlets, compliance, units, communes, assignments


def test_workbooks_keep_hostile_names_as_text_never_formulas(tmp_path):
    hamlets, compliance, units, communes, assignments = _hostile_frames()
    before = hamlets_before(hamlets, compliance)
    [path] = write_commune_workbooks(tmp_path, communes, before, units, assignments)
    assert_text_not_formulas(path, [*HOSTILE, "Nà\ufffdRẻo"])


def test_a_failed_write_leaves_the_previous_workbook_whole(tmp_path):
    hamlets, compliance, units, communes, assignments = _frames()
    before = hamlets_before(hamlets, compliance)
    [path] = write_commune_workbooks(tmp_path, communes, before, units, assignments)
    previous = path.read_bytes()
    # The last sheet fails, after the others were written.
    broken = assignments.drop(columns="explanation")
    with pytest.raises(KeyError, match="explanation"):
        write_commune_workbooks(tmp_path, communes, before, units, broken)
    assert path.read_bytes() == previous
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    with pytest.raises(KeyError, match="explanation"):
        write_commune_workbooks(tmp_path / "new", communes, before, units, broken)
    assert not list((tmp_path / "new").iterdir())  # nothing under the final name


def test_a_killed_write_leaves_the_previous_file_and_the_next_export_sweeps(tmp_path):
    path = tmp_path / "xa" / "04001_truong_ha.xlsx"
    path.parent.mkdir()
    path.write_bytes(b"previous plan")
    killed = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from assets.exports.safe import atomic_write
        with atomic_write(Path({str(path)!r})) as partial:
            partial.write_bytes(b"half a plan")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", killed], capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert path.read_bytes() == b"previous plan"
    [left] = [p for p in path.parent.iterdir() if p != path]
    assert left.name.startswith(".") and left.read_bytes() == b"half a plan"
    assert remove_stale(path.parent, [path], (".xlsx", ".png")) == [left]
    assert list(path.parent.iterdir()) == [path]


def test_a_commune_gone_from_the_publication_leaves_no_files(published, tmp_path):
    settings, report = published
    assert report.success, report.errors
    copy = tmp_path / "w.duckdb"
    shutil.copy(Warehouse(settings.warehouse_url).path, copy)
    warehouse, exports = Warehouse(f"duckdb:///{copy}"), Exports(tmp_path / "exports")
    first = export_province(warehouse, exports)
    folder = first["folder"] / "xa"
    files = sorted(p.name for p in folder.iterdir())
    communes = warehouse.read_table("staging.communes")["commune_code"].sort_values().tolist()
    assert len(files) == 2 * len(communes)  # a workbook and a map each
    gone = communes[-1]
    with warehouse.connect() as con:
        con.execute("DELETE FROM staging.communes WHERE commune_code = ?", [gone])
    again = export_province(warehouse, exports)
    assert sorted(p.name for p in folder.iterdir()) == [f for f in files if not f.startswith(gone)]
    assert again["commune_workbooks"] == len(communes) - 1
    assert (first["removed_files"], again["removed_files"]) == (0, 2)


def test_the_plan_csv_writes_formula_like_codes_as_text(tmp_path):
    codes = ["=1+1", "+1", "-1", "@A1", "04001001"]
    assignments = pd.DataFrame(
        {
            "option_name": "minimal",
            "commune_code": "04001",
            "hamlet_code": codes,
            "unit_id": codes,
        }
    )
    plan = PlanResult(assignments=assignments, units=pd.DataFrame(), summary=pd.DataFrame())
    path = write_plan_csv(plan, tmp_path / "options.csv")
    read = pd.read_csv(path, dtype=str)
    assert read["hamlet_id"].tolist() == ["'=1+1", "'+1", "'-1", "'@A1", "04001001"]
    assert not read["unit_id"].map(looks_like_formula).any()
