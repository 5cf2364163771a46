"""The đề án ready to sign (Word and annex workbook), the office layout every exported
workbook shares, and notebook parameters as papermill delivers them."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from click.testing import CliRunner
from docx import Document
from hostile import FORMULAS, assert_text_not_formulas
from openpyxl import load_workbook

from assets.decisions.parameters import code_parameter
from assets.exports.dean import SECTIONS
from assets.exports.office import DATE_FORMAT, INTEGER_FORMAT, TOTAL_LABEL
from assets.exports.safe import write_sheet
from assets.progress.status import TIMEZONE
from assets.warehouse import Warehouse
from pipelines.cli import main
from pipelines.settings import Settings


def write_dean(settings: Settings, province: str, code: str, out: Path) -> tuple[Path, Path]:
    """``hamlets dean`` for one commune, as a planner runs it: its .docx and annexes."""
    args = ["dean", "--warehouse", settings.warehouse_url.removeprefix("duckdb:///")]
    args += ["--province", province, "--commune", code, "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    [docx_path] = out.glob("*.docx")
    [annex_path] = out.glob("*_phu_luc.xlsx")
    return docx_path, annex_path


def _formatted(path, sheet_name):
    return load_workbook(path)[sheet_name]


def assert_office_layout(sheet) -> None:
    """Bold headers, frozen header row repeated on each printed A4 landscape page."""
    assert all(cell.font.b for cell in sheet[1] if cell.value is not None)
    assert sheet.freeze_panes == "A2"
    assert sheet.print_title_rows == "$1:$1"
    assert str(sheet.page_setup.paperSize) == sheet.PAPERSIZE_A4  # "9": A4
    assert sheet.page_setup.orientation == "landscape"
    assert all(sheet.column_dimensions[c.column_letter].width >= 8 for c in sheet[1])


def test_every_sheet_is_laid_out_for_the_office(tmp_path):
    frame = pd.DataFrame(
        {
            "Tên": ["Nà Rẻo", FORMULAS[0]],
            "Số hộ": [1234567, 89],
            "Phụ cấp (đồng/năm)": [592_020_000.0, 1.0],
            "Tỷ lệ": [0.25, 0.5],
            "Ngày": [date(2026, 7, 1), date(2026, 8, 15)],
        }
    )
    path = tmp_path / "a.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as workbook:
        write_sheet(workbook, frame, "Bảng", totals=["Số hộ", "Phụ cấp (đồng/năm)"])
    sheet = _formatted(path, "Bảng")
    assert_office_layout(sheet)
    assert sheet["B2"].number_format == INTEGER_FORMAT  # shown 1.234.567
    assert sheet["C2"].number_format == INTEGER_FORMAT  # never 5.92e+08
    assert sheet["D2"].number_format == "#,##0.00"
    assert sheet["E2"].number_format == DATE_FORMAT
    assert [c.value for c in sheet[4]][:3] == [TOTAL_LABEL, 1234567 + 89, 592_020_001]
    assert sheet["A4"].font.b
    assert_text_not_formulas(path, [FORMULAS[0]])


def test_papermill_codes_are_coerced_and_checked():
    assert code_parameter("commune", 4002) == "04002"  # `-p commune 04002` arrives as 4002
    assert code_parameter("province", 4) == "04"
    assert code_parameter("province", "04") == "04"
    assert code_parameter("commune", None, optional=True) is None
    for wrong in (4.5, "4a", 1234567, True):
        with pytest.raises(ValueError, match="commune"):
            code_parameter("commune", wrong)


@pytest.mark.integration
def test_the_dean_carries_the_warehouse_figures_and_no_person(published, tmp_path):
    from test_decisions import copy_of, materialise_approved, merging_commune

    from assets.decisions.commune import load_commune
    from assets.decisions.record import record_decision
    from assets.planning.rules import load_rules
    from assets.progress.records import record_council_approval

    settings = copy_of(published, tmp_path)
    province = published[1].province_code
    warehouse = Warehouse(settings.warehouse_url)
    code = merging_commune(warehouse)
    commune = load_commune(warehouse, province, code)
    rules = load_rules(commune.rules_profile)
    decided = record_decision(
        warehouse, commune, rules, decided_by="Nguyễn Thị Lan", option_name="compliant"
    )
    assert materialise_approved(settings, province).success
    out = tmp_path / "de_an"
    docx_path, annex_path = write_dean(settings, province, code, out)

    document = Document(str(docx_path))
    heading_cells = " ".join(c.text for c in document.tables[0].rows[0].cells)
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in heading_cells
    assert "Độc lập - Tự do - Hạnh phúc" in heading_cells and "Số:" in heading_cells
    paragraphs = [p.text for p in document.paragraphs]
    title = next(p for p in document.paragraphs if p.text == "ĐỀ ÁN")
    assert title.runs[0].bold and title.alignment == 1  # centred
    assert "DỰ THẢO" in paragraphs  # no council approval yet
    assert [p.text for p in document.paragraphs if p.style.name == "Heading 1"] == list(SECTIONS)
    assert rules.legal_basis in paragraphs
    assert len(document.inline_shapes) == len(commune.units.query("option_name == 'compliant'"))
    # Each unit's map: one printable figure (5 × 5.4 in at 100 dpi).
    sizes = [png.read_bytes()[16:24] for png in sorted(out.glob("hinh/*.png"))]
    assert len(sizes) == len(document.inline_shapes)
    assert {(int.from_bytes(s[:4], "big"), int.from_bytes(s[4:], "big")) for s in sizes} == {
        (500, 540)
    }

    # A draft: the plan's own figures, the engine's option it was drafted from.
    option = commune.units.query("option_name == 'compliant'")
    plan = _formatted(annex_path, "PL2 Phương án")
    assert_office_layout(plan)
    rows = list(plan.iter_rows(values_only=True))
    headers, total = rows[0], rows[-1]
    assert total[0] == TOTAL_LABEL
    assert total[headers.index("Số hộ")] == option["households"].sum()
    assert len(rows) == len(option) + 2
    current = list(_formatted(annex_path, "PL1 Hiện trạng").iter_rows(values_only=True))
    assert current[-1][current[0].index("Số hộ")] == commune.hamlets["households"].sum()
    book = load_workbook(annex_path)
    assert book.sheetnames == [
        "PL1 Hiện trạng",
        "PL2 Phương án",
        "PL3 Nhân sự, phụ cấp",
        "PL4 Lấy ý kiến",
    ]

    # No person: neither the planner's name nor any resident's name, ID or birth date.
    persons = pd.read_csv(published[0].landing_root / province / "persons.csv", dtype=str)
    text = "\n".join(
        [*paragraphs, *(c.text for t in document.tables for r in t.rows for c in r.cells)]
        + [str(v) for s in book for r in s.iter_rows(values_only=True) for v in r if v]
    )
    assert "Nguyễn Thị Lan" not in text
    personal = set(persons.iloc[:, 0]) | set(persons.iloc[:, 1]) | set(persons.iloc[:, 2])
    assert not [v for v in personal if isinstance(v, str) and len(v) > 6 and v in text]

    # Approved by the council: the mark goes, the resolution is cited.
    resolved_on = datetime.now(ZoneInfo(TIMEZONE)).date()
    record_council_approval(
        warehouse,
        province,
        decided.decision_id,
        approved_date=resolved_on,
        recorded_by="Lan",
        resolution_number="12/NQ-HĐND",
        require_consultation=False,
    )
    assert materialise_approved(settings, province).success
    assert write_dean(settings, province, code, out) == (docx_path, annex_path)
    signed = [p.text for p in Document(str(docx_path)).paragraphs]
    assert "DỰ THẢO" not in signed
    assert any("12/NQ-HĐND" in p and f"{resolved_on:%d/%m/%Y}" in p for p in signed)

    # Approved: the annexes carry the published approved plan's and staffing's figures.
    approved = warehouse.read_table("marts.approved_plan_current")
    staffing = warehouse.read_table("marts.approved_staffing_current")
    plan = _formatted(annex_path, "PL2 Phương án")
    assert_office_layout(plan)
    rows = list(plan.iter_rows(values_only=True))
    headers, total = rows[0], rows[-1]
    assert total[0] == TOTAL_LABEL
    assert total[headers.index("Số hộ")] == approved["households"].sum()
    assert total[headers.index("Nhân khẩu")] == approved["population"].sum()
    assert len(rows) == len(approved) + 2
    assert plan.cell(row=2, column=headers.index("Số hộ") + 1).number_format == INTEGER_FORMAT
    costs = list(_formatted(annex_path, "PL3 Nhân sự, phụ cấp").iter_rows(values_only=True))
    assert costs[-1][costs[0].index("Tiết kiệm (đồng/năm)")] == pytest.approx(
        staffing["allowance_saving_vnd_per_year"].sum()
    )
    assert costs[-1][costs[0].index("Số chức danh thôi")] == staffing["positions_ending"].sum()
