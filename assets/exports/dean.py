"""A commune's đề án (plan) ready to sign: a Word document and an Excel annex workbook.

The figures are those the warehouse publishes: the plan is the commune's decision in
force, re-planned with today's counts by ``decisions.approved.approved_plan`` (the
function that publishes ``marts.approved_plan`` and ``marts.approved_staffing``), so
the document's totals are the marts'. Without a council approval the document is a
draft and says so (DỰ THẢO); a commune without any decision gets the engine's
compliant option as a draft. Hamlets and units only: no person appears.

The Word document starts from ``hamlets_config/de_an_xa.docx``, which a province may
replace (same placeholders: ``{ten_tinh}``, ``{ten_xa}``, in capitals ``{TEN_TINH}``,
``{TEN_XA}``, and ``{du_thao}`` for the draft mark); the sections
follow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from assets.decisions.approved import approved_plan
from assets.decisions.commune import load_commune
from assets.decisions.record import latest_decisions, read_decision_assignments, read_decisions
from assets.exports.files import (
    COMPLIANCE_LABELS_VI,
    OPTION_LABELS_VI,
    UNIT_PALETTE,
    province_name,
    slug,
)
from assets.exports.office import vn_number
from assets.exports.safe import atomic_write, write_sheet
from assets.marts.build import PublishStamp
from assets.planning.rules import RulesProfile
from assets.progress.consultation import consultation_status
from assets.progress.deadlines import Milestone
from assets.progress.records import COUNCIL_APPROVALS, read_records
from assets.warehouse import Warehouse
from hamlets_config import data_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_TEMPLATE = data_path("de_an_xa.docx")
DRAFT_MARK = "DỰ THẢO"
DRAFT_OPTION = "compliant"  # a commune without a decision: the engine's compliant option
KIND_LABELS_VI = {"thon": "Thôn", "to_dan_pho": "Tổ dân phố"}
CONSULTATION_LABELS_VI = {
    "not_affected": "Không sáp nhập",
    "pending": "Chưa lấy ý kiến",
    "passed": "Tán thành",
    "failed": "Không tán thành",
}
SECTIONS = (
    "I. CĂN CỨ PHÁP LÝ",
    "II. THỰC TRẠNG THÔN, TỔ DÂN PHỐ",
    "III. PHƯƠNG ÁN SẮP XẾP",
    "IV. BỐ TRÍ NGƯỜI HOẠT ĐỘNG KHÔNG CHUYÊN TRÁCH",
    "V. KINH PHÍ VÀ TIẾT KIỆM",
    "VI. KẾT QUẢ LẤY Ý KIẾN NHÂN DÂN",
    "VII. TỔ CHỨC THỰC HIỆN",
    "VIII. BẢN ĐỒ",
)


@dataclass(frozen=True)
class Dean:
    """What a commune's đề án says (aggregates of hamlets and units only)."""

    province_code: str
    province_name: str
    commune_code: str
    commune_name: str
    is_draft: bool
    decision_id: str | None
    option_name: str
    approval: dict[str, object] | None  # approved_date, resolution_number
    current: pd.DataFrame  # one row per hamlet today (``current_table``)
    units: gpd.GeoDataFrame  # marts.approved_plan's columns, with ``proposed_name``
    staffing: pd.DataFrame  # marts.approved_staffing's columns
    consultation: pd.DataFrame  # hamlet_code, unit_id, consultation, counts
    hamlets: gpd.GeoDataFrame  # boundaries, for the maps
    legal_basis: tuple[str, ...]
    milestones: tuple[Milestone, ...]
    directive: str

    @property
    def stem(self) -> str:
        return f"de_an_{self.commune_code}_{slug(self.commune_name)}"


def load_dean(
    warehouse: Warehouse,
    province_code: str,
    commune_code: str,
    rules: RulesProfile,
    milestones: tuple[Milestone, ...] = (),
    directive: str = "",
) -> Dean:
    """The commune's đề án from the current publication and its decision in force."""
    commune = load_commune(warehouse, province_code, commune_code)
    decisions = latest_decisions(read_decisions(warehouse, province_code))
    decisions = decisions[decisions["commune_code"] == commune_code]
    if decisions.empty:
        option = DRAFT_OPTION
        decisions = pd.DataFrame(
            {
                "decision_id": [f"{commune_code}-{option}"],
                "option_name": [option],
                "decided_at": [pd.Timestamp(datetime.now(UTC))],
            }
        )
        given = commune.option_assignment(option).assign(decision_id=decisions["decision_id"][0])
        decision_id = None
    else:
        decision_id = str(decisions["decision_id"].iloc[0])
        option = str(decisions["option_name"].iloc[0])
        given = read_decision_assignments(warehouse, [decision_id])
    stamp = PublishStamp(
        province_code=province_code,
        rules_profile=rules.name,
        run_id=commune.run_id,
        published_at=datetime.now(UTC),
    )
    approval = None
    if decision_id is not None:
        approvals = read_records(warehouse, COUNCIL_APPROVALS, province_code)
        approvals = approvals[approvals["decision_id"] == decision_id]
        if not approvals.empty:
            row = approvals.iloc[-1]
            approval = {
                "approved_date": pd.Timestamp(row["approved_date"]).date(),
                "resolution_number": row["resolution_number"] or "",
            }
    # A draft is planned like a resolved plan, without a resolution to cite.
    decisions = decisions.assign(
        resolution_number=approval["resolution_number"] if approval else None,
        approved_date=approval["approved_date"] if approval else None,
    )
    compliance = commune.compliance()
    plan = approved_plan(
        decisions, given, compliance, commune.adjacency(), commune.hamlets, rules, stamp
    )
    if plan.stale:
        raise ValueError(f"xã {commune_code}: " + "; ".join(plan.stale.values()))
    names = commune.names()
    units = plan.units.sort_values("unit_id").reset_index(drop=True)
    # The new unit takes its largest hamlet's name (its code is that hamlet's code).
    units["proposed_name"] = units["unit_id"].map(names)
    units["why"] = why_merged(
        units, commune.assignments[commune.assignments["option_name"] == option]
    )
    consultation = (
        consultation_status(warehouse, province_code, decision_id)
        if decision_id is not None
        else pd.DataFrame(columns=["hamlet_code", "unit_id", "consultation"])
    )
    summary = warehouse.query(
        "SELECT commune_name FROM marts.commune_summary_current "
        "WHERE province_code = ? AND commune_code = ?",
        [province_code, commune_code],
    )
    return Dean(
        province_code=province_code,
        province_name=province_name(province_code),
        commune_code=commune_code,
        commune_name=str(summary["commune_name"].iloc[0]) if len(summary) else commune_code,
        is_draft=approval is None,
        decision_id=decision_id,
        option_name=option,
        approval=approval,
        current=current_table(commune.hamlets, rules, stamp.published_at.date()),
        units=units,
        staffing=plan.staffing.sort_values("unit_id").reset_index(drop=True),
        consultation=consultation,
        hamlets=commune.hamlets,
        legal_basis=(rules.legal_basis, *dict.fromkeys(rules.citations.values())),
        milestones=milestones,
        directive=directive,
    )


def why_merged(units: pd.DataFrame, published: pd.DataFrame) -> pd.Series:
    """The engine's explanation of each unit when the published option has the same unit
    (same hamlets); else, for a hand-edited unit, its compliance reason."""
    members = published.groupby("unit_id")["hamlet_code"].agg(lambda c: frozenset(c))
    explained = published.drop_duplicates("unit_id").set_index("unit_id")["explanation"]
    same = pd.Series(
        [
            members.get(unit) == frozenset(codes.split(","))
            for unit, codes in zip(units["unit_id"], units["member_hamlet_codes"], strict=True)
        ],
        index=units.index,
    )
    engine = units["unit_id"].map(explained)
    return engine.where(same & engine.notna(), units["compliance_reason"]).fillna("")


def current_table(hamlets: pd.DataFrame, rules: RulesProfile, on: date) -> pd.DataFrame:
    """Each hamlet today: name, code, kind, households, population, area, compliance and
    the yearly allowance fund (computed as for the approved staffing)."""
    fund = rules.hamlet_funds_vnd(hamlets, on) * 12
    names = (hamlets["name_prefix"].fillna("") + " " + hamlets["hamlet_name"]).str.strip()
    return pd.DataFrame(
        {
            "hamlet_name": names.to_numpy(),
            "hamlet_code": hamlets["hamlet_code"].to_numpy(),
            "hamlet_kind": hamlets["hamlet_kind"].map(KIND_LABELS_VI).to_numpy(),
            "households": hamlets["households"].astype("int64").to_numpy(),
            "population": hamlets["population"].astype("int64").to_numpy(),
            "area_km2": hamlets["area_km2"].astype(float).round(2).to_numpy(),
            "compliance_status": hamlets["compliance_status"].map(COMPLIANCE_LABELS_VI).to_numpy(),
            "allowance_vnd_per_year": fund.to_numpy(),
        }
    ).sort_values("hamlet_code", ignore_index=True)


# --- the Word document ---------------------------------------------------------------


def write_default_template(path: Path) -> Path:
    """The standard administrative heading (Nghị định 30/2020/NĐ-CP layout): issuing
    body and number on the left, the national motto on the right, the place and date
    left for the signature, and the bold centred title, on A4 with the decree's margins
    (python-docx's own default is US Letter). A province replaces the file with its own,
    keeping the placeholders."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt

    document = Document()
    for section in document.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin = section.bottom_margin = Mm(20)
        section.left_margin, section.right_margin = Mm(30), Mm(15)
    style = document.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(13)
    heading = document.add_table(rows=1, cols=2)
    left, right = heading.rows[0].cells
    lines = (
        (
            left,
            ("UBND TỈNH {TEN_TINH}", False),
            ("ỦY BAN NHÂN DÂN XÃ {TEN_XA}", True),
            ("Số:       /ĐA-UBND", False),
        ),
        (
            right,
            ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", True),
            ("Độc lập - Tự do - Hạnh phúc", True),
            ("{ten_xa}, ngày     tháng     năm 20   ", False),
        ),
    )
    for cell, *texts in lines:
        cell.paragraphs[0].text = ""
        for k, (text, bold) in enumerate(texts):
            paragraph = cell.paragraphs[0] if k == 0 else cell.add_paragraph()
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = paragraph.add_run(text)
            run.bold = bold
    mark = document.add_paragraph()
    mark.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    mark.add_run("{du_thao}").bold = True
    for text in ("ĐỀ ÁN", "Sắp xếp thôn, tổ dân phố xã {ten_xa}, tỉnh {ten_tinh}"):
        title = document.add_paragraph()
        title.alignment = WD_ALIGN_PARAGRAPH.CENTER
        title.add_run(text).bold = True
    with atomic_write(path) as partial:
        document.save(str(partial))
    return path


def _fill_placeholders(document, values: dict[str, str]) -> None:
    """Replace ``{key}`` in every paragraph of the body and tables, run by run (a
    template typed in Word keeps each placeholder in one run when typed at once)."""
    paragraphs = list(document.paragraphs)
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                paragraphs.extend(cell.paragraphs)
    for paragraph in paragraphs:
        for run in paragraph.runs:
            for key, value in values.items():
                if f"{{{key}}}" in run.text:
                    run.text = run.text.replace(f"{{{key}}}", value)


def _table(document, frame: pd.DataFrame, headers: list[str]) -> None:
    """A bordered table with bold headers; numbers as ``1.234.567``."""
    table = document.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    for cell, header in zip(table.rows[0].cells, headers, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(header).bold = True
    for row in frame.itertuples(index=False):
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = vn_number(value)


def current_headers() -> list[str]:
    return [
        "Tên",
        "Mã",
        "Loại",
        "Số hộ",
        "Nhân khẩu",
        "Diện tích (km²)",
        "Tình trạng",
        "Phụ cấp (đồng/năm)",
    ]


def plan_table(dean: Dean) -> pd.DataFrame:
    """Each new unit: proposed name, code, members, households, population, area, why."""
    names = dict(zip(dean.current["hamlet_code"], dean.current["hamlet_name"], strict=True))
    return pd.DataFrame(
        {
            "proposed_name": dean.units["proposed_name"],
            "unit_id": dean.units["unit_id"],
            "members": dean.units["member_hamlet_codes"].map(
                lambda codes: ", ".join(f"{names.get(c, c)} ({c})" for c in codes.split(","))
            ),
            "households": dean.units["households"].astype("int64"),
            "population": dean.units["population"].astype("int64"),
            "area_km2": dean.units["area_km2"].astype(float).round(2),
            "reason": dean.units["why"],
        }
    )


def staffing_sheet(dean: Dean) -> pd.DataFrame:
    s = dean.staffing
    return pd.DataFrame(
        {
            "Đơn vị": s["unit_id"].map(
                dict(zip(dean.units["unit_id"], dean.units["proposed_name"], strict=True))
            ),
            "Mã đơn vị": s["unit_id"],
            "Số chức danh trước": s["positions_before"].astype("int64"),
            "Số chức danh giữ lại": s["positions_kept"].astype("int64"),
            "Số chức danh thôi": s["positions_ending"].astype("int64"),
            "Người đảm nhiệm (xã điền)": "",
            "Phụ cấp trước (đồng/năm)": s["allowance_fund_before_vnd_per_year"].astype(float),
            "Phụ cấp sau (đồng/năm)": s["allowance_fund_after_vnd_per_year"].astype(float),
            "Tiết kiệm (đồng/năm)": s["allowance_saving_vnd_per_year"].astype(float),
        }
    )


def consultation_sheet(dean: Dean) -> pd.DataFrame:
    names = dict(zip(dean.current["hamlet_code"], dean.current["hamlet_name"], strict=True))
    c = dean.consultation.sort_values("hamlet_code") if len(dean.consultation) else None
    if c is None:
        frame = dean.current[["hamlet_code"]].assign(unit_id="", consultation="pending")
        frame["households_consulted"] = pd.NA
        frame["households_in_favour"] = pd.NA
    else:
        frame = c
    return pd.DataFrame(
        {
            "Thôn, TDP": frame["hamlet_code"].map(names),
            "Mã": frame["hamlet_code"],
            "Đơn vị mới": frame["unit_id"],
            "Kết quả": frame["consultation"].map(CONSULTATION_LABELS_VI),
            "Số hộ được lấy ý kiến": pd.to_numeric(frame.get("households_consulted")),
            "Số hộ tán thành": pd.to_numeric(frame.get("households_in_favour")),
        }
    )


def write_dean_docx(
    dean: Dean, path: Path, maps: dict[str, Path], template: Path = DEFAULT_TEMPLATE
) -> Path:
    """The đề án as a Word document, from ``template`` (see the module docstring)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm

    document = Document(str(template))
    _fill_placeholders(
        document,
        {
            "TEN_TINH": dean.province_name.upper(),
            "TEN_XA": dean.commune_name.upper(),
            "ten_tinh": dean.province_name,
            "ten_xa": dean.commune_name,
            "du_thao": DRAFT_MARK if dean.is_draft else "",
        },
    )
    if dean.approval is not None:
        document.add_paragraph(
            "Đã được Hội đồng nhân dân xã thông qua ngày "
            + vn_number(dean.approval["approved_date"])
            + (
                f", Nghị quyết số {dean.approval['resolution_number']}"
                if dean.approval["resolution_number"]
                else ""
            )
        ).alignment = WD_ALIGN_PARAGRAPH.CENTER
    sections = iter(SECTIONS)
    document.add_heading(next(sections), level=1)
    for basis in dean.legal_basis:
        document.add_paragraph(basis, style="List Bullet")
    if dean.directive:
        document.add_paragraph(dean.directive, style="List Bullet")

    document.add_heading(next(sections), level=1)
    document.add_paragraph(
        f"Xã có {len(dean.current)} thôn, tổ dân phố với "
        f"{vn_number(int(dean.current['households'].sum()))} hộ, "
        f"{vn_number(int(dean.current['population'].sum()))} nhân khẩu."
    )
    _table(document, dean.current, current_headers())

    document.add_heading(next(sections), level=1)
    option = OPTION_LABELS_VI.get(dean.option_name, dean.option_name)
    document.add_paragraph(
        f"Phương án {option}: sau sắp xếp xã có {len(dean.units)} thôn, tổ dân phố "
        f"(giảm {len(dean.current) - len(dean.units)}). Tên dự kiến lấy theo thôn, tổ dân "
        "phố lớn nhất của đơn vị mới; xã có thể đề xuất tên khác."
    )
    _table(
        document,
        plan_table(dean),
        ["Tên dự kiến", "Mã", "Gồm", "Số hộ", "Nhân khẩu", "Diện tích (km²)", "Lý do"],
    )

    document.add_heading(next(sections), level=1)
    staffing = staffing_sheet(dean)
    _table(document, staffing.iloc[:, :6], list(staffing.columns[:6]))

    document.add_heading(next(sections), level=1)
    before = float(dean.staffing["allowance_fund_before_vnd_per_year"].sum())
    after = float(dean.staffing["allowance_fund_after_vnd_per_year"].sum())
    document.add_paragraph(
        f"Quỹ phụ cấp hằng năm trước sắp xếp: {vn_number(before)} đồng; sau sắp xếp: "
        f"{vn_number(after)} đồng; tiết kiệm: {vn_number(before - after)} đồng/năm."
    )

    document.add_heading(next(sections), level=1)
    consultation = consultation_sheet(dean)
    _table(document, consultation.iloc[:, :4], list(consultation.columns[:4]))

    document.add_heading(next(sections), level=1)
    if dean.milestones:
        _table(
            document,
            pd.DataFrame(
                {
                    "Mốc": [m.label_vi for m in dean.milestones],
                    "Hạn": [m.due_vi for m in dean.milestones],
                }
            ),
            ["Nội dung", "Thời hạn"],
        )
    else:
        document.add_paragraph("Tỉnh chưa quy định thời hạn.")

    document.add_heading(next(sections), level=1)
    for unit_id, figure in maps.items():
        name = dict(zip(dean.units["unit_id"], dean.units["proposed_name"], strict=True))[unit_id]
        document.add_picture(str(figure), width=Cm(12))
        document.add_paragraph(f"Hình: {name} ({unit_id})").alignment = WD_ALIGN_PARAGRAPH.CENTER
    with atomic_write(path) as partial:
        document.save(str(partial))
    return path


def write_unit_maps(dean: Dean, folder: Path) -> dict[str, Path]:
    """One PNG per new unit: its member hamlets labelled (name, households), the
    commune's others in grey, with legend, scale bar, north arrow and title
    (``drawing``)."""
    from assets.exports.drawing import save_png

    written = {}
    for unit_id, figure in unit_figures(dean).items():
        path = folder / f"{dean.stem}_{unit_id}.png"
        written[unit_id] = save_png(figure, path, dpi=100)
    return written


def unit_figures(dean: Dean) -> dict[str, Figure]:
    """The figure of each new unit, by unit id (what ``write_unit_maps`` saves)."""
    from assets.exports.drawing import OTHER_COLOUR, draw_panel, label_text, new_figure

    hamlets = dean.hamlets.merge(
        dean.current[["hamlet_code", "hamlet_name"]], on="hamlet_code", suffixes=("_raw", "")
    )
    place = f"Xã {dean.commune_name}, tỉnh {dean.province_name}"
    figures = {}
    for k, unit in enumerate(dean.units.itertuples()):
        members = unit.member_hamlet_codes.split(",")
        mine = hamlets[hamlets["hamlet_code"].isin(members)]
        colour = UNIT_PALETTE[k % len(UNIT_PALETTE)]
        option = OPTION_LABELS_VI.get(dean.option_name, dean.option_name)
        figure, [ax] = new_figure(1, f"{place} – phương án {option}")
        draw_panel(
            ax,
            mine,
            [colour] * len(mine),
            f"{unit.proposed_name} ({unit.unit_id}): {vn_number(int(unit.households))} hộ",
            labels=[
                label_text(n, h)
                for n, h in zip(mine["hamlet_name"], mine["households"], strict=True)
            ],
            context=hamlets[~hamlets["hamlet_code"].isin(members)],
            legend=[
                (colour, f"Đơn vị mới: {unit.proposed_name}"),
                (OTHER_COLOUR, "Thôn, TDP khác"),
            ],
        )
        figures[unit.unit_id] = figure
    return figures


def write_dean_annexes(dean: Dean, path: Path) -> Path:
    """The annex workbook: current units, plan, staffing and allowances, consultation."""
    current = dean.current.rename(
        columns=dict(zip(dean.current.columns, current_headers(), strict=True))
    )
    plan = plan_table(dean)
    plan.columns = ["Tên dự kiến", "Mã", "Gồm", "Số hộ", "Nhân khẩu", "Diện tích (km²)", "Lý do"]
    staffing = staffing_sheet(dean)
    consultation = consultation_sheet(dean)
    with atomic_write(path) as partial, pd.ExcelWriter(partial, engine="openpyxl") as workbook:
        write_sheet(
            workbook,
            current,
            "PL1 Hiện trạng",
            totals=["Số hộ", "Nhân khẩu", "Diện tích (km²)", "Phụ cấp (đồng/năm)"],
        )
        write_sheet(
            workbook, plan, "PL2 Phương án", totals=["Số hộ", "Nhân khẩu", "Diện tích (km²)"]
        )
        write_sheet(
            workbook,
            staffing,
            "PL3 Nhân sự, phụ cấp",
            totals=list(staffing.columns[2:5]) + list(staffing.columns[6:]),
        )
        write_sheet(
            workbook,
            consultation,
            "PL4 Lấy ý kiến",
            totals=["Số hộ được lấy ý kiến", "Số hộ tán thành"],
        )
    return path


def write_dean(dean: Dean, folder: Path, template: Path = DEFAULT_TEMPLATE) -> dict[str, Path]:
    """The Word document, its annex workbook and one map per unit, into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    maps = write_unit_maps(dean, folder / "hinh")
    return {
        "docx": write_dean_docx(dean, folder / f"{dean.stem}.docx", maps, template),
        "annexes": write_dean_annexes(dean, folder / f"{dean.stem}_phu_luc.xlsx"),
    }


def write_commune_deans(
    warehouse: Warehouse,
    province_code: str,
    folder: Path,
    communes: list[str] | None = None,
    template: Path = DEFAULT_TEMPLATE,
) -> list[dict[str, Path]]:
    """The đề án of each named commune (default: every published commune) into
    ``folder``, under the rules profile its publication used and the province's
    deadlines (``hamlets_config/deadlines.yaml``)."""
    from assets.planning.rules import load_rules
    from assets.progress.deadlines import load_deadlines

    if communes is None:
        communes = warehouse.query(
            "SELECT commune_code FROM marts.commune_summary_current WHERE province_code = ? "
            "ORDER BY commune_code",
            [province_code],
        )["commune_code"].tolist()
    deadlines = load_deadlines().for_province(province_code)
    profile = warehouse.query(
        "SELECT DISTINCT rules_profile FROM marts.publications WHERE province_code = ? "
        "AND run_id IN (SELECT run_id FROM marts.hamlets_current)",
        [province_code],
    )["rules_profile"].tolist()
    rules = load_rules(profile[0] if profile else None)
    return [
        write_dean(
            load_dean(
                warehouse, province_code, code, rules, deadlines.milestones, deadlines.directive_vi
            ),
            folder,
            template,
        )
        for code in communes
    ]
