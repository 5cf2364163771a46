"""The planner and validation notebooks, executed with papermill against the freshly
published small province: a cell that raises fails the test."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import papermill
import pytest

from assets.decisions import review
from assets.decisions.commune import load_commune
from assets.decisions.record import read_decisions
from assets.planning.rules import load_rules
from assets.warehouse import Warehouse

pytestmark = pytest.mark.integration
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
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
    shown = text_of(run("validation_report", tmp_path, warehouse_url=url, province=province))
    assert shown.count("DỮ LIỆU HẠN CHẾ") >= 2  # at the top and above the records
    assert "records_quarantined" in shown and "balanced" in shown
    # How values were read (aliases, invalid values) and the households held, as counts.
    assert "outcome" in shown and "reading" in shown and "reasons" in shown


def test_province_overview_counts_decisions(warehouse_copy, tmp_path):
    url, province = warehouse_copy
    # As papermill delivers `-p province 04`: the number 4, coerced back to "04".
    shown = text_of(run("province_overview", tmp_path, warehouse_url=url, province=int(province)))
    assert "leaflet" in shown and "Tiết kiệm (đồng/năm)" in shown
    # The review notebook's test recorded one decision in this warehouse.
    assert "'decided': 1" in shown


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
    assert minimal.loc["published", "units_after"] < len(commune.hamlets)
    assert minimal.loc["what-if", "units_after"] == len(commune.hamlets)
