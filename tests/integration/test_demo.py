"""`make demo` end to end: `hamlets demo` into a temporary data root writes each
commune's đề án and annexes, whose figures are the warehouse's, with no person in them,
leaves the checkout as it was, and a second run publishes the same marts.

Rounding: the sheets and the Word tables show areas with two decimals and money in whole
đồng; each figure is compared with the warehouse's rounded to that precision. A total of
areas is the sum of the rows as shown (what a reader adding up the column gets): it is
compared with that sum, and with the warehouse's unrounded sum to within half a
hundredth per row.
"""

from __future__ import annotations

import hashlib
import html
import re
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from docx import Document
from openpyxl import load_workbook

from assets.exports.dean import CONSULTATION_LABELS_VI, DRAFT_MARK, DRAFT_OPTION
from assets.exports.office import TOTAL_LABEL
from assets.warehouse import Warehouse
from pipelines.cli import main

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# Two communes of three hamlets, most below the 150 households of a mountain thôn: merged.
HOUSEHOLDS = 600
CITIZEN_ID = re.compile(r"(?<!\d)\d{12}(?!\d)")
# What building and linting leave in a checkout (as .ci/run's own check of the tree).
BUILD_LEFTOVERS = re.compile(
    r"^!! (\.venv/|[^/]+\.egg-info/|\.pytest_cache/|\.ruff_cache/|(.*/)?__pycache__/)$"
)
PUBLISHED = (
    "hamlets_current",
    "merged_units_current",
    "merger_assignments_current",
    "merger_options_current",
    "commune_summary_current",
)
SHEETS = ["PL1 Hiện trạng", "PL2 Phương án", "PL3 Nhân sự, phụ cấp", "PL4 Lấy ý kiến"]


@dataclass(frozen=True)
class DemoRuns:
    root: Path
    outputs: tuple[str, str]
    checkout_before: tuple
    checkout_after: tuple
    landing_before: dict[str, str]  # file → sha256, after the first run
    landing_after: dict[str, str]  # after the second
    marts_before: dict[str, pd.DataFrame]  # published figures after the first run
    marts_after: dict[str, pd.DataFrame]

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(f"duckdb:///{self.root / 'warehouse.duckdb'}")


def checkout_state() -> tuple:
    """The checkout's status, ignored paths included (data/ is ignored, and is where the
    demo wrote before it took a root), and every file under its data/ if there is one."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    data = REPO / "data"
    files = sorted(
        (str(p.relative_to(REPO)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in (data.rglob("*") if data.exists() else [])
        if p.is_file()
    )
    return [line for line in status if not BUILD_LEFTOVERS.match(line)], files


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def published_figures(warehouse: Warehouse) -> dict[str, pd.DataFrame]:
    """The current marts without what differs by construction between two publications
    (run id, time) and geometry (compared through the areas)."""
    figures = {}
    for view in PUBLISHED:
        frame = warehouse.query(f"SELECT * FROM marts.{view}")  # names from PUBLISHED only
        frame = frame.drop(columns=["run_id", "published_at", "geometry"], errors="ignore")
        figures[view] = frame.sort_values(list(frame.columns[:5])).reset_index(drop=True)
    return figures


def run_demo(root: Path) -> str:
    result = CliRunner().invoke(
        main, ["demo", "--data", str(root), "--households", str(HOUSEHOLDS)]
    )
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DemoRuns:
    """`hamlets demo` run twice into a temporary root, from the checkout as `make demo`
    runs it, with no DAGSTER_HOME (the run history goes under the root too)."""
    root = tmp_path_factory.mktemp("demo") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)
        patch.delenv("DAGSTER_HOME", raising=False)
        checkout_before = checkout_state()
        first = run_demo(root)
        warehouse = Warehouse(f"duckdb:///{root / 'warehouse.duckdb'}")
        marts_before = published_figures(warehouse)
        landing_before = digests(root / "landing")
        second = run_demo(root)
        checkout_after = checkout_state()
    return DemoRuns(
        root=root,
        outputs=(first, second),
        checkout_before=checkout_before,
        checkout_after=checkout_after,
        landing_before=landing_before,
        landing_after=digests(root / "landing"),
        marts_before=marts_before,
        marts_after=published_figures(warehouse),
    )


def communes(demo: DemoRuns) -> pd.DataFrame:
    return demo.marts_after["commune_summary_current"].set_index("commune_code")


def commune_marts(demo: DemoRuns, code: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """The commune's hamlets today, its draft plan's units (the option a draft is
    written from) and that option's totals, from the warehouse."""
    marts = demo.marts_after
    hamlets = marts["hamlets_current"]
    hamlets = hamlets[hamlets["commune_code"] == code].set_index("hamlet_code")
    units = draft_units(demo)
    units = units[units["commune_code"] == code].set_index("unit_id")
    options = marts["merger_options_current"]
    [option] = options[
        (options["commune_code"] == code) & (options["option_name"] == DRAFT_OPTION)
    ].to_dict("records")
    return hamlets, units, pd.Series(option)


def draft_units(demo: DemoRuns) -> pd.DataFrame:
    """The units of the option a draft đề án is written from."""
    units = demo.marts_after["merged_units_current"]
    return units[units["option_name"] == DRAFT_OPTION]


def outputs_of(demo: DemoRuns, code: str) -> tuple[Path, Path]:
    folder = demo.root / "exports" / "04" / "de_an"
    [docx] = folder.glob(f"de_an_{code}_*.docx")
    [annexes] = folder.glob(f"de_an_{code}_*_phu_luc.xlsx")
    return docx, annexes


def figure(text: str) -> float:
    """A figure as the Word document shows it: ``1.234.567``, ``18,57``."""
    return float(text.replace(".", "").replace(",", "."))


def word_table(document, first_header: str) -> list[dict[str, str]]:
    [table] = [t for t in document.tables if t.rows[0].cells[0].text == first_header]
    headers = [c.text for c in table.rows[0].cells]
    return [dict(zip(headers, (c.text for c in row.cells), strict=True)) for row in table.rows[1:]]


def sheet_rows(book, name: str) -> tuple[list[dict], dict]:
    """A sheet's rows as dicts, and its totals row."""
    rows = list(book[name].iter_rows(values_only=True))
    headers = rows[0]
    records = [dict(zip(headers, row, strict=True)) for row in rows[1:]]
    assert records[-1][headers[0]] == TOTAL_LABEL
    return records[:-1], records[-1]


def assert_area_total(total: float, shown: list[float], warehouse: pd.Series) -> None:
    """An area total: the rows as shown, and the warehouse's to the rounding of the rows."""
    assert round(total, 2) == round(sum(shown), 2)
    assert abs(total - warehouse.sum()) <= 0.005 * len(shown) + 1e-9


def test_demo_publishes_several_communes_with_a_merger(demo):
    assert len(communes(demo)) >= 2
    units = draft_units(demo)
    assert (units["member_count"] > 1).any()
    assert (
        demo.warehouse.query("SELECT count(*) AS n FROM marts.approved_plan_current")["n"].iloc[0]
        == 0
    )  # no approval recorded: every đề án is a draft


def test_each_communes_dean_carries_the_warehouse_figures(demo):
    for code, commune in communes(demo).iterrows():
        hamlets, units, option = commune_marts(demo, code)
        docx, _ = outputs_of(demo, code)
        document = Document(str(docx))
        paragraphs = [p.text for p in document.paragraphs]
        assert DRAFT_MARK in paragraphs, code

        today = {row["Mã"]: row for row in word_table(document, "Tên")}
        assert set(today) == set(hamlets.index)
        for hamlet_code, row in today.items():
            hamlet = hamlets.loc[hamlet_code]
            assert figure(row["Số hộ"]) == hamlet["households"]
            assert figure(row["Nhân khẩu"]) == hamlet["population"]
            assert figure(row["Diện tích (km²)"]) == round(hamlet["area_km2"], 2)
        counts = re.search(
            r"Xã có (\d+) thôn, tổ dân phố với ([\d.]+) hộ, ([\d.]+) nhân khẩu",
            " ".join(paragraphs),
        )
        assert counts is not None, code
        assert [figure(g) for g in counts.groups()] == [
            commune["hamlets"],
            commune["households"],
            commune["population"],
        ]
        assert commune["households"] == hamlets["households"].sum()

        plan = {row["Mã"]: row for row in word_table(document, "Tên dự kiến")}
        assert set(plan) == set(units.index)
        for unit_id, row in plan.items():
            unit = units.loc[unit_id]
            assert figure(row["Số hộ"]) == unit["households"]
            assert figure(row["Nhân khẩu"]) == unit["population"]
            assert figure(row["Diện tích (km²)"]) == round(unit["area_km2"], 2)
            assert all(
                f"({member})" in row["Gồm"] for member in unit["member_hamlet_codes"].split(",")
            )

        staffing = word_table(document, "Đơn vị")
        assert sum(figure(r["Số chức danh trước"]) for r in staffing) == option["positions_before"]
        assert sum(figure(r["Số chức danh giữ lại"]) for r in staffing) == option["positions_after"]
        money = re.search(
            r"trước sắp xếp: ([\d.]+) đồng; sau sắp xếp: ([\d.]+) đồng; tiết kiệm: ([\d.]+) đồng",
            " ".join(paragraphs),
        )
        assert money is not None, code
        assert [figure(g) for g in money.groups()] == [
            round(option["allowance_fund_before_vnd_per_year"]),
            round(option["allowance_fund_after_vnd_per_year"]),
            round(option["allowance_saving_vnd_per_year"]),
        ]


def test_each_communes_annexes_total_the_warehouse(demo):
    for code, _ in communes(demo).iterrows():
        hamlets, units, option = commune_marts(demo, code)
        _, annexes = outputs_of(demo, code)
        book = load_workbook(annexes)
        assert book.sheetnames == SHEETS

        today, total = sheet_rows(book, "PL1 Hiện trạng")
        names = (hamlets["name_prefix"].fillna("") + " " + hamlets["hamlet_name"]).str.strip()
        assert {r["Mã"]: r["Tên"] for r in today} == names.to_dict()
        for row in today:
            hamlet = hamlets.loc[row["Mã"]]
            assert (row["Số hộ"], row["Nhân khẩu"]) == (hamlet["households"], hamlet["population"])
            assert row["Diện tích (km²)"] == round(hamlet["area_km2"], 2)
        assert total["Số hộ"] == hamlets["households"].sum()
        assert total["Nhân khẩu"] == hamlets["population"].sum()
        assert_area_total(
            total["Diện tích (km²)"], [r["Diện tích (km²)"] for r in today], hamlets["area_km2"]
        )
        assert total["Phụ cấp (đồng/năm)"] == round(option["allowance_fund_before_vnd_per_year"])

        plan, total = sheet_rows(book, "PL2 Phương án")
        assert {r["Mã"] for r in plan} == set(units.index)
        for row in plan:
            unit = units.loc[row["Mã"]]
            assert (row["Số hộ"], row["Nhân khẩu"]) == (unit["households"], unit["population"])
            assert row["Diện tích (km²)"] == round(unit["area_km2"], 2)
        assert total["Số hộ"] == units["households"].sum() == hamlets["households"].sum()
        assert total["Nhân khẩu"] == units["population"].sum()
        assert_area_total(
            total["Diện tích (km²)"], [r["Diện tích (km²)"] for r in plan], units["area_km2"]
        )

        staffing, total = sheet_rows(book, "PL3 Nhân sự, phụ cấp")
        assert {r["Mã đơn vị"] for r in staffing} == set(units.index)
        assert total["Số chức danh trước"] == option["positions_before"]
        assert total["Số chức danh giữ lại"] == option["positions_after"]
        assert total["Số chức danh thôi"] == option["positions_before"] - option["positions_after"]
        for column, published in (
            ("Phụ cấp trước (đồng/năm)", "allowance_fund_before_vnd_per_year"),
            ("Phụ cấp sau (đồng/năm)", "allowance_fund_after_vnd_per_year"),
            ("Tiết kiệm (đồng/năm)", "allowance_saving_vnd_per_year"),
        ):
            assert total[column] == round(option[published]), column

        # No consultation recorded: every hamlet listed as not yet consulted, none counted.
        consulted, total = sheet_rows(book, "PL4 Lấy ý kiến")
        assert sorted(r["Mã"] for r in consulted) == sorted(hamlets.index)
        assert {r["Kết quả"] for r in consulted} == {CONSULTATION_LABELS_VI["pending"]}
        assert (total["Số hộ được lấy ý kiến"], total["Số hộ tán thành"]) == (0, 0)


def package_text(path: Path) -> str:
    """Every XML part of a .docx/.xlsx (tags made spaces, so no two numbers join), and the
    text as python-docx/openpyxl read it (so a name split over runs is whole)."""
    with zipfile.ZipFile(path) as package:
        parts = [
            html.unescape(re.sub(r"<[^>]+>", " ", package.read(name).decode("utf-8")))
            for name in package.namelist()
            if name.endswith((".xml", ".rels"))
        ]
    if path.suffix == ".docx":
        document = Document(str(path))
        cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
        parts += [p.text for p in document.paragraphs] + cells
    else:
        book = load_workbook(path)
        parts += [
            str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row
        ]
    return "\n".join(parts)


def test_the_exports_name_no_person(demo):
    persons = pd.read_csv(
        demo.root / "landing" / "04" / "persons.csv", dtype=str, encoding="utf-8-sig"
    )
    ids = persons["Số ĐDCN"].dropna()
    names = set(persons["Họ và tên"].dropna())
    # The checks below can find them: names there are, IDs of the pattern searched for.
    assert names and ids.map(lambda i: bool(CITIZEN_ID.fullmatch(i))).mean() > 0.9
    files = sorted((demo.root / "exports" / "04" / "de_an").glob("*.docx")) + sorted(
        (demo.root / "exports" / "04" / "de_an").glob("*.xlsx")
    )
    assert len(files) == 2 * len(communes(demo))
    for path in files:
        text = package_text(path)
        assert not CITIZEN_ID.findall(text), path.name
        assert not [name for name in names if name in text], path.name


def test_the_demo_leaves_the_checkout_and_reruns_the_same(demo):
    assert demo.checkout_after == demo.checkout_before
    assert "Reusing demo landing folder" in demo.outputs[1]
    assert demo.landing_after == demo.landing_before
    assert demo.marts_after.keys() == demo.marts_before.keys()
    for view, frame in demo.marts_after.items():
        pd.testing.assert_frame_equal(frame, demo.marts_before[view], obj=view)
    runs = demo.warehouse.query("SELECT DISTINCT run_id FROM marts.publications")
    assert len(runs) == 2  # the second run published a new version of the same figures
