"""The planner and validation notebooks, executed with papermill against the freshly
published small province: a cell that raises fails the test."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import papermill
import pytest

from assets.decisions import review
from assets.decisions.commune import load_commune
from assets.decisions.record import read_decisions
from assets.exports.notebook_tables import planner_table
from assets.exports.office import vn_number
from assets.planning.rules import load_rules
from assets.warehouse import Warehouse

pytestmark = pytest.mark.integration
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ("review_merger_options", "validation_report", "province_overview")


def test_notebooks_are_committed_without_outputs():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)
    for name in NAMES:
        notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        nbformat.validate(notebook)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), name
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name}: one cell tagged 'parameters' for papermill"


@pytest.fixture(scope="module")
def warehouse_copy(published, tmp_path_factory) -> tuple[str, str]:
    """A copy of the published warehouse (the review notebook records a decision)."""
    settings, report = published
    target = tmp_path_factory.mktemp("notebooks") / "w.duckdb"
    shutil.copy(Warehouse(settings.warehouse_url).path, target)
    return f"duckdb:///{target}", report.province_code


def run(name: str, tmp_path: Path, **parameters) -> nbformat.NotebookNode:
    """Execute a notebook; papermill raises PapermillExecutionError if a cell fails."""
    return papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(tmp_path / f"{name}.ipynb"),
        parameters=parameters | {"output_dir": str(tmp_path / "out")}
        if name != "validation_report"
        else parameters,
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )


def text_of(notebook: nbformat.NotebookNode) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(str(v) for v in output.get("data", {}).values())
    return "\n".join(parts)


class TableCells(HTMLParser):
    """The header and body cells of an HTML table, as text."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.cells: list[str] = []
        self._in_head = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._in_head |= tag == "thead"
        if tag in ("th", "td"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_head = False
        if tag in ("th", "td") and self._cell is not None:
            text = "".join(self._cell).strip()
            (self.headers if self._in_head else self.cells).append(text)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def shown_tables(notebook: nbformat.NotebookNode) -> list[TableCells]:
    """Every table the executed notebook displays (the maps' HTML aside)."""
    tables = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            page = output.get("data", {}).get("text/html", "")
            if "<table" in page and "leaflet" not in page:
                parsed = TableCells()
                parsed.feed(page)
                tables.append(parsed)
    return tables


IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")  # a column's code name (snake_case), not a label
# A figure in scientific notation ("1.2e+06"), alone or in text; not the "7e-4" inside a
# decision's UUID ("…-3c7e-4e72-…"), which once failed this check by chance.
SCIENTIFIC = re.compile(r"(?<![\w.-])[+-]?\d+(?:[.,]\d+)?[eE][+-]\d+(?![\w.-])")


def assert_in_planners_language(notebook: nbformat.NotebookNode) -> list[TableCells]:
    """Every displayed table has Vietnamese headers and no figure in scientific notation."""
    tables = shown_tables(notebook)
    assert tables
    for table in tables:
        assert not [h for h in table.headers if IDENTIFIER.fullmatch(h)], table.headers
        assert not [c for c in table.cells if SCIENTIFIC.search(c)], table.headers
    return tables


def vietnamese_thousands(value: float) -> str:
    """``value`` as Vietnamese write it, spelled out here apart from ``vn_number``."""
    digits = str(abs(int(value)))
    groups = [digits[max(i - 3, 0) : i] for i in range(len(digits), 0, -3)][::-1]
    return ("-" if value < 0 else "") + ".".join(groups)


def test_planner_table_writes_headers_figures_and_text_as_planners_read_them():
    why = "Thôn <b>Nà Rẻo</b> dưới 50% tiêu chuẩn (Nghị định 185/2026/NĐ-CP, Điều 8, 10): sáp nhập"
    frame = pd.DataFrame(
        {
            "explanation": [why, None],
            "households": np.array([1_234_567, 12], dtype="int64"),
            "allowance_saving_vnd_per_year": [5.92e8, np.nan],
            "area_km2": [12.5, 0.25],
            "is_compliant": [True, False],
        }
    )
    page = TableCells()
    page.feed(planner_table(frame).to_html())
    assert page.headers == ["Giải thích", "Số hộ (đếm)", "Tiết kiệm phụ cấp (đồng/năm)",
                            "Diện tích (km²)", "Đạt chuẩn"]  # fmt: skip
    assert page.cells == [why, "1.234.567", "592.000.000", "12,50", "Có",
                          "", "12", "", "0,25", "Không"]  # fmt: skip
    html = planner_table(frame).to_html()
    assert "<b>Nà" not in html and "&lt;b&gt;Nà Rẻo&lt;/b&gt;" in html  # escaped, whole
    assert "white-space:pre-wrap" in html  # long text wraps
    # numpy's figures and missing values, as the marts hand them over
    assert vn_number(np.int64(1_234_567)) == vn_number(np.float64(1_234_567.0)) == "1.234.567"
    assert vn_number(np.float32(12.5)) == "12,50" and vn_number(np.bool_(True)) == "Có"
    assert vn_number(np.nan) == vn_number(pd.NA) == vn_number(pd.NaT) == vn_number(None) == ""


def test_review_notebook_shows_the_options_and_records_a_decision(warehouse_copy, tmp_path):
    url, province = warehouse_copy
    done = run(
        "review_merger_options",
        tmp_path,
        warehouse_url=url,
        province=province,
        chosen_option="compliant",
        decided_by="Nguyễn Thị Lan",
        note="Thống nhất với ý kiến cử tri",
        record=True,
    )
    shown = text_of(done)
    assert_in_planners_language(done)
    assert "leaflet" in shown  # the interactive map
    assert "image/png" in str(done.cells)  # the static map beside it
    assert "Thuộc biên Pareto" in shown and "Giải thích" in shown
    assert "Số người hoạt động KCT thôi bố trí" in shown  # the staffing preview
    assert "Đã ghi quyết định" in shown
    decisions = read_decisions(Warehouse(url), province)
    assert decisions["decided_by"].tolist() == ["Nguyễn Thị Lan"]


def test_review_notebook_records_the_councils_resolution(warehouse_copy, tmp_path):
    """The planner's notebook path to the council's resolution: on the commune's plan
    in force, once its residents are consulted, kept with its number and day."""
    from dataclasses import replace
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from assets.decisions.record import read_decision_assignments, record_decision
    from assets.progress.consultation import record_consultation
    from assets.progress.records import COUNCIL_APPROVALS, affected_hamlets, read_records
    from assets.progress.status import TIMEZONE

    url, province = warehouse_copy
    warehouse = Warehouse(url)
    commune = review.first_commune_with_merger(warehouse, province)
    view = load_commune(warehouse, province, commune)
    # ND 185 sets no approval share: consulted under the province's own rule.
    rules = replace(
        load_rules(view.rules_profile),
        consultation_approval_share=0.5,
        consultation_rule_basis="Quyết định thử của UBND tỉnh",
    )
    plan = record_decision(warehouse, view, rules, decided_by="Lan", option_name="compliant")
    today = datetime.now(ZoneInfo(TIMEZONE)).date()
    affected = affected_hamlets(read_decision_assignments(warehouse, [plan.decision_id]))
    results = affected[["hamlet_code"]].assign(
        households_consulted=100, households_in_favour=80, households_against=20,
        consulted_date=today.isoformat(),
    )  # fmt: skip
    record_consultation(warehouse, province, plan.decision_id, results, rules, recorded_by="Lan")
    done = run(
        "review_merger_options",
        tmp_path,
        warehouse_url=url,
        province=province,
        decided_by="Nguyễn Thị Lan",
        resolution_number="12/NQ-HĐND",
        resolution_date=f"{today:%d/%m/%Y}",
        record_resolution=True,
    )
    assert f"Đã ghi nghị quyết 12/NQ-HĐND cho đề án {plan.decision_id}" in text_of(done)
    stored = read_records(warehouse, COUNCIL_APPROVALS, province)
    assert stored[["decision_id", "resolution_number", "recorded_by"]].values.tolist() == [
        [plan.decision_id, "12/NQ-HĐND", "Nguyễn Thị Lan"]
    ]


def test_validation_notebook_says_its_data_is_restricted(warehouse_copy, tmp_path):
    url, province = warehouse_copy
    done = run("validation_report", tmp_path, warehouse_url=url, province=province)
    shown = text_of(done)
    assert shown.count("DỮ LIỆU HẠN CHẾ") >= 2  # at the top and above the records
    tables = assert_in_planners_language(done)
    headers = {h for t in tables for h in t.headers}
    assert {"Số bản ghi bị cách ly", "Khớp số liệu"} <= headers
    # How values were read (aliases, invalid values) and the households held, as counts.
    assert {"Kết quả", "Cách đọc giá trị", "Lý do cách ly"} <= headers
    # A figure the warehouse holds, written as Vietnamese write it (1.234.567).
    persons = Warehouse(url).for_province(province).read_table("staging.persons")
    assert len(persons) >= 1000
    reconciled = next(t for t in tables if "Số bản ghi nhận" in t.headers)
    assert vietnamese_thousands(len(persons)) in reconciled.cells


def test_province_overview_counts_decisions(warehouse_copy, tmp_path):
    url, province = warehouse_copy
    # As papermill delivers `-p province 04`: the number 4, coerced back to "04".
    done = run("province_overview", tmp_path, warehouse_url=url, province=int(province))
    shown = text_of(done)
    assert "leaflet" in shown and "Tiết kiệm (đồng/năm)" in shown
    tables = assert_in_planners_language(done)
    # The review notebook's test recorded one decision in this warehouse.
    assert "đã có quyết định: 1;" in shown
    # The options' totals carry the warehouse's figures, as 1.234.567.
    totals = Warehouse(url).query(
        "SELECT * FROM marts.province_summary_current WHERE province_code = ?", [province]
    )
    shown_cells = {c for t in tables for c in t.cells}
    for column in ("units_before", "allowance_fund_before_vnd_per_year"):
        assert vietnamese_thousands(totals[column].iloc[0]) in shown_cells, column


def test_what_if_exempting_the_small_hamlets_leaves_nothing_mandatory(warehouse_copy):
    url, province = warehouse_copy
    warehouse = Warehouse(url)
    commune = load_commune(
        warehouse, province, review.first_commune_with_merger(warehouse, province)
    )
    rules = load_rules(commune.rules_profile)
    below = commune.hamlets[commune.hamlets["compliance_status"] != "meets_standard"]
    assert len(below)
    table = review.what_if(
        commune, rules, exemptions=dict.fromkeys(below["hamlet_code"], "border_island")
    )
    minimal = table[table["option_name"] == "minimal"].set_index("source")
    assert minimal.loc[review.PUBLISHED_VI, "units_after"] < len(commune.hamlets)
    assert minimal.loc[review.WHAT_IF_VI, "units_after"] == len(commune.hamlets)
