"""Export files: GeoPackage layers, Vietnamese workbook headers, maps; hostile names
that stay text, writes that are whole or absent, no stale commune files."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from hostile import HOSTILE, assert_text_not_formulas

from assets.exports.files import (
    OPTION_LABELS_VI,
    hamlets_before,
    slug,
    write_commune_map,
    write_commune_workbooks,
    write_province_geopackage,
    write_province_map,
)
from assets.exports.location import Exports
from assets.exports.office import TOTAL_LABEL
from assets.exports.province import export_province
from assets.exports.safe import looks_like_formula, remove_stale
from assets.planning.assembly import PlanResult
from assets.planning.propose import write_plan_csv
from assets.warehouse import Warehouse
from expectations.schemas import FIELDS


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
    assert layers == {
        "communes", "hamlets_before", "units_minimal", "data_dictionary", "layer_styles"
    }  # fmt: skip
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
    hamlets_today, total = today.iloc[:-1], today.iloc[-1]
    assert set(hamlets_today["Tình trạng đạt chuẩn"]) == {
        "Dưới ngưỡng bắt buộc sắp xếp",
        "Đạt chuẩn",
    }
    # Counts add up in a "Tổng cộng" row; the standard does not.
    assert total["Mã thôn/TDP"] == TOTAL_LABEL
    assert (total["Số hộ (đếm)"], total["Số nhân khẩu (đếm)"]) == (360, 1440)
    assert pd.isna(total["Tiêu chuẩn số hộ"])
    after = sheets["PA Tối thiểu"]
    assert after["Số hộ (đếm)"].tolist() == [160, 200, 360]
    assert after["Số thôn/TDP hợp thành"].tolist() == [2, 1, 3]
    assert after.iloc[-1]["Mã đơn vị sau sắp xếp"] == TOTAL_LABEL
    assert set(after["Đạt chuẩn"].dropna()) == {"Có"}
    assert TOTAL_LABEL not in set(costs.iloc[:, 0])  # options are alternatives: no sum


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


ADDITIVE_HAMLET_COUNTS = (
    "households",
    "population",
    "issue_count",
    "held_households",
    "held_persons",
)


@pytest.fixture(scope="module")
def exported(published, tmp_path_factory) -> tuple[Warehouse, dict[str, object]]:
    """The published province exported once, from a copy of its warehouse."""
    settings, _ = published
    folder = tmp_path_factory.mktemp("exported")
    copy = folder / "w.duckdb"
    shutil.copy(Warehouse(settings.warehouse_url).path, copy)
    warehouse = Warehouse(f"duckdb:///{copy}")
    return warehouse, export_province(warehouse, Exports(folder / "exports"))


@pytest.mark.integration
def test_commune_workbooks_total_what_the_marts_publish(exported):
    """Each commune workbook's "Tổng cộng" rows equal the published marts' sums: the
    hamlets' counts today, and each option's units."""
    from openpyxl import load_workbook

    warehouse, exported = exported
    hamlets = warehouse.read_table("marts.hamlets_current")
    units = pd.DataFrame(warehouse.read_table("marts.merged_units_current"))
    summary = warehouse.read_table("marts.commune_summary_current").set_index("commune_code")
    label = {c: FIELDS[c].label_vi for c in FIELDS}
    workbooks = sorted((exported["folder"] / "xa").glob("*.xlsx"))
    assert len(workbooks) == len(summary)
    for path in workbooks:
        code = path.name.split("_")[0]
        book = load_workbook(path)
        rows = list(book["Hiện trạng"].iter_rows(values_only=True))
        headers, total = rows[0], rows[-1]
        mine = hamlets[hamlets["commune_code"] == code]
        assert total[0] == TOTAL_LABEL and len(rows) == len(mine) + 2
        for column in ADDITIVE_HAMLET_COUNTS:
            assert total[headers.index(label[column])] == mine[column].sum(), (path, column)
        for column in ("households", "population"):
            assert total[headers.index(label[column])] == summary.loc[code, column]
        assert book["Hiện trạng"][f"A{len(rows)}"].font.b
        options = units[units["commune_code"] == code].groupby("option_name")
        assert len(options) == 3
        for option, group in options:
            rows = list(book[f"PA {OPTION_LABELS_VI[option]}"].iter_rows(values_only=True))
            headers, total = rows[0], rows[-1]
            assert total[0] == TOTAL_LABEL and len(rows) == len(group) + 2
            for column in ("member_count", "households", "population"):
                assert total[headers.index(label[column])] == group[column].sum(), (option, column)
            assert total[headers.index(label["member_count"])] == len(mine)  # every hamlet once


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


def _png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_the_commune_map_is_worth_printing(tmp_path):
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    from assets.exports.files import commune_figure

    hamlets, compliance, units, communes, _ = _frames()
    before = hamlets_before(hamlets, compliance)
    figure, panels = commune_figure(communes, before, units)
    assert figure.get_suptitle() == "Xã Trường Hà (04001), tỉnh Cao Bằng"
    assert [p.title.get_text() for p in panels] == ["Hiện trạng", "Phương án Tối thiểu: 2 đơn vị"]
    today, minimal = panels
    assert [t.get_text() for t in today.legend.get_texts()] == [
        "Đạt chuẩn",
        "Dưới ngưỡng bắt buộc sắp xếp",
    ]
    assert [t.get_text() for t in minimal.legend.get_texts()] == [
        "Pác Bó (04001002)",
        "Cốc Xả (04001003)",
    ]
    assert [a.get_text() for a in today.labels] == [
        "Nà Rẻo\n60 hộ",
        "Pác Bó\n100 hộ",
        "Cốc Xả\n200 hộ",
    ]
    assert [a.get_text() for a in minimal.labels] == ["Pác Bó\n160 hộ", "Cốc Xả\n200 hộ"]
    for panel in panels:
        assert panel.scale_bar in panel.ax.artists and isinstance(panel.scale_bar, AnchoredSizeBar)
        assert panel.north_arrow.get_text() == "B" and panel.north_arrow.arrow_patch is not None
        # Drawn in metres (UTM 48N): the three 0.01° boxes span about 3.1 km, not 0.03.
        x0, x1 = panel.ax.get_xlim()
        assert 3_000 < x1 - x0 < 4_000
        bar = panel.scale_bar.size_bar.get_children()[0]
        assert bar.get_width() == 500  # metres, the round length near a fifth of the span
        assert panel.scale_bar.txt_label.get_text() == "500 m"
    png = write_commune_map(tmp_path / "04001.png", communes, before, units)
    assert _png_size(png) == (1100, 594)  # 2 panels of 5 in (+0.4 in for the title), 110 dpi


def test_the_geopackage_opens_styled_in_qgis(tmp_path):
    hamlets, compliance, units, communes, _ = _frames()
    hamlets.loc[0, "hamlet_name"] = HOSTILE[0]
    before = hamlets_before(hamlets, compliance)
    path = write_province_geopackage(tmp_path / "tinh_04.gpkg", communes, before, units)
    with sqlite3.connect(path) as con:
        con.row_factory = sqlite3.Row
        rows = [dict(r) for r in con.execute("SELECT * FROM layer_styles ORDER BY id")]
        geometry = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
        registered = con.execute(
            "SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'"
        ).fetchone()
    assert registered[0] == "attributes"
    assert {
        "f_table_name", "f_geometry_column", "styleName", "styleQML", "styleSLD",
        "useAsDefault", "description", "owner", "ui", "update_time",
    } <= set(rows[0])  # fmt: skip
    assert [(r["f_table_name"], r["useAsDefault"]) for r in rows] == [
        ("communes", 1),
        ("hamlets_before", 1),
        ("units_minimal", 1),
        ("units_minimal", 0),
    ]
    assert all(r["f_geometry_column"] == geometry[r["f_table_name"]] for r in rows)

    def categories(row: dict) -> tuple[str, list[tuple[str, str, str]], dict[str, str]]:
        root = ET.fromstring(row["styleQML"].split("\n", 1)[1])
        renderer = root.find("renderer-v2")
        assert renderer.get("type") == "categorizedSymbol"
        colours = {
            s.get("name"): s.find("layer/Option/Option[@name='color']").get("value")
            for s in renderer.find("symbols")
        }
        shown = [
            (c.get("value"), c.get("label"), colours[c.get("symbol")])
            for c in renderer.find("categories")
        ]
        aliases = {a.get("field"): a.get("name") for a in root.find("aliases")}
        return renderer.get("attr"), shown, aliases

    attr, shown, aliases = categories(rows[1])
    assert attr == "compliance_status"
    assert shown == [
        ("meets_standard", "Đạt chuẩn", "127,191,127,255"),
        ("below_mandatory_floor", "Dưới ngưỡng bắt buộc sắp xếp", "239,101,72,255"),
    ]
    assert aliases["households"] == "Số hộ (đếm)" and aliases["hamlet_code"] == "Mã thôn/TDP"
    attr, shown, aliases = categories(rows[2])
    assert attr == "unit_id"
    assert [(v, label) for v, label, _ in shown] == [
        ("04001002", "Pác Bó (04001002)"),
        ("04001003", "Cốc Xả (04001003)"),
    ]
    assert shown[0][2] != shown[1][2]  # neighbouring units differ
    assert aliases["is_compliant"] == FIELDS["is_compliant"].label_vi
    attr, shown, _ = categories(rows[3])
    assert '"is_compliant"' in attr and [label for _, label, _ in shown] == [
        "Đạt chuẩn",
        "Chưa đạt chuẩn",
    ]
    # The hostile name was not in a category label (hamlets are by status), but every
    # style still parses as XML; the layers read back as before.
    assert gpd.read_file(path, layer="hamlets_before")["hamlet_name"][0] == HOSTILE[0]


def _style(row: dict) -> tuple[ET.Element, list[tuple[str, str]], dict[str, str]]:
    """A ``layer_styles`` row's renderer, its categories (value, label) and aliases."""
    root = ET.fromstring(row["styleQML"].split("\n", 1)[1])
    renderer = root.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol"
    shown = [(c.get("value"), c.get("label")) for c in renderer.find("categories")]
    aliases = {a.get("field"): a.get("name") for a in root.find("aliases")}
    return renderer, shown, aliases


@pytest.mark.integration
def test_every_map_layer_of_the_province_opens_styled(exported):
    """Each geometry layer of the province's GeoPackage (communes, hamlets, each option's
    units) has one default QGIS style: categories covering its features and the
    Vietnamese alias of every column the data dictionary knows."""
    _, exported = exported
    path = exported["geopackage"]
    with sqlite3.connect(path) as con:
        con.row_factory = sqlite3.Row
        styles = [dict(r) for r in con.execute("SELECT * FROM layer_styles ORDER BY id")]
        layers = [r[0] for r in con.execute("SELECT table_name FROM gpkg_geometry_columns")]
    assert sorted(layers) == [
        "communes", "hamlets_before", "units_compliant", "units_consolidated", "units_minimal"
    ]  # fmt: skip
    for layer in layers:
        [default] = [s for s in styles if s["f_table_name"] == layer and s["useAsDefault"]]
        renderer, categories, aliases = _style(default)
        features = gpd.read_file(path, layer=layer)
        attr = renderer.get("attr")
        assert categories, layer
        assert set(features[attr].astype(str)) <= {v for v, _ in categories}, layer
        assert all(label for _, label in categories), layer
        known = [c for c in features.columns if c in FIELDS and c != "geometry"]
        assert aliases == {c: FIELDS[c].label_vi for c in known} and len(aliases) >= 5, layer
    [communes] = [s for s in styles if s["f_table_name"] == "communes"]
    renderer, categories, _ = _style(communes)
    assert ("xa", "Xã") in categories
    fills = {o.get("value") for o in renderer.iter("Option") if o.get("name") == "style"}
    assert fills == {"no"}  # borders only: the hamlets under them stay visible


def test_the_dean_unit_maps_are_drawn_by_the_same_module(tmp_path):
    """The đề án's map per unit: members labelled and coloured, the commune's other
    hamlets in grey, a legend, scale bar, north arrow and a title naming the place."""
    from types import SimpleNamespace

    from matplotlib.text import Annotation
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    from assets.exports.dean import unit_figures, write_unit_maps

    hamlets, compliance, units, _, _ = _frames()
    hamlets = hamlets.merge(compliance, on="hamlet_code")
    dean = SimpleNamespace(
        commune_name="Trường Hà",
        province_name="Cao Bằng",
        option_name="minimal",
        stem="de_an_04001_truong_ha",
        hamlets=hamlets,
        current=hamlets[["hamlet_code", "hamlet_name"]],
        units=units.assign(proposed_name=["Pác Bó", "Cốc Xả"]),
    )
    figure = unit_figures(dean)["04001002"]
    assert figure.get_suptitle() == "Xã Trường Hà, tỉnh Cao Bằng – phương án Tối thiểu"
    [ax] = figure.axes
    assert ax.get_title() == "Pác Bó (04001002): 160 hộ"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "Đơn vị mới: Pác Bó",
        "Thôn, TDP khác",
    ]
    assert any(isinstance(a, AnchoredSizeBar) for a in ax.artists)
    texts = [c.get_text() for c in ax.get_children() if isinstance(c, Annotation)]
    assert {"Nà Rẻo\n60 hộ", "Pác Bó\n100 hộ", "B"} <= set(texts)
    assert "Cốc Xả\n200 hộ" not in texts  # not a member: grey, unlabelled
    written = write_unit_maps(dean, tmp_path)
    assert sorted(p.name for p in written.values()) == [
        "de_an_04001_truong_ha_04001002.png",
        "de_an_04001_truong_ha_04001003.png",
    ]
    assert _png_size(written["04001002"]) == (500, 540)
