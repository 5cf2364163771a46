"""The data contracts: every warehouse table and its columns, described once.

Warehouse DDL, the Great Expectations suites, the landing-file header dictionary, the
Dagster column schemas and the Vietnamese/English data dictionary are all generated from
these descriptions, so a column is renamed or re-typed here and nowhere else (the pattern
of PUDL's ``metadata/fields.py``).

A column of a person or household record is one line in ``PERSON_COLUMNS`` or
``HOUSEHOLD_COLUMNS`` and its ``Field``: the raw, staging, clean and quarantine tables
take it from there, and ``tests/integration/test_contracts.py`` holds what the stages write to these
declarations. A warehouse already holding those tables gets it by a migration step
(``assets/warehouse/migrations.py``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pandas as pd

# Logical types; each maps to a pandas dtype and to warehouse SQL types.
PANDAS_DTYPES: dict[str, str] = {
    "string": "string",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "date": "datetime64[ns]",
    "timestamp": "datetime64[ns, UTC]",
    "geometry": "geometry",
}
DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
    "geometry": "GEOMETRY",
}
POSTGRES_TYPES: dict[str, str] = {
    "string": "TEXT",
    "int": "BIGINT",
    "float": "DOUBLE PRECISION",
    "bool": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
    "geometry": "geometry(Geometry, 4326)",
}

# Flow order; ``meta`` describes the warehouse itself (its schema version), not data.
LAYERS = ("raw", "staging", "quality", "planning", "marts", "meta")
RESTRICTED_LAYERS = ("raw", "staging", "quality")

# 12-digit personal identification number, or a 9-digit old identity card number
# (CMND), still accepted and flagged by the quality stage.
CITIZEN_ID_PATTERN = r"^(?:\d{12}|\d{9})$"
COMMUNE_CODE_PATTERN = r"^\d{5}$"
PROVINCE_CODE_PATTERN = r"^\d{2}$"


class SchemaError(ValueError):
    """A DataFrame does not fit its table's contract."""


def strip_diacritics(text: str) -> str:
    """ASCII fold of Vietnamese text ("Số hộ" -> "so ho"), for header matching."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


# Anything but a letter or digit: punctuation, spaces, underscores.
_NOT_ALNUM = re.compile(r"[\W_]+")


def fold_text(text: str) -> str:
    """Text folded for comparing words: NFC, no diacritics (đ -> d), lower case, every
    run of punctuation or spacing one space ("Thôn, xóm, bản" -> "thon xom ban")."""
    folded = strip_diacritics(unicodedata.normalize("NFC", str(text))).lower()
    return " ".join(_NOT_ALNUM.sub(" ", folded).split())


def header_key(text: str) -> str:
    """A header (or a vocabulary word) as it is looked up: case, diacritics, punctuation
    and spacing ignored, so "Ngày, tháng, năm sinh", "NGAY THANG NAM SINH" and
    "Ngay_thang_nam_sinh" meet, and so do a GIS field "MaThon" and "Mã thôn"."""
    return fold_text(text).replace(" ", "")


@dataclass(frozen=True)
class Field:
    """One column, with the labels users see and the rules its values follow."""

    name: str
    type: str
    description: str
    label_vi: str
    aliases: tuple[str, ...] = ()
    is_personal: bool = False
    pattern: str | None = None
    allowed_values: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None

    def __post_init__(self) -> None:
        if self.type not in PANDAS_DTYPES:
            raise ValueError(f"field {self.name}: unknown type {self.type!r}")

    @property
    def header_keys(self) -> tuple[str, ...]:
        """Every normalised header under which this field may arrive in a landing file."""
        forms = (self.name, self.label_vi, *self.aliases)
        return tuple(dict.fromkeys(header_key(f) for f in forms))


# Families of fields that read alike, each written once.


def _households_and_persons(
    names: tuple[str, str], description: str, label_vi: str, *, persons: str = "Residents"
) -> tuple[Field, Field]:
    """A count of households and its count of persons: ``{}`` in the description takes
    "Households" then ``persons``, in the label "Số hộ" then "Số nhân khẩu"."""
    return (
        Field(names[0], "int", description.format("Households"), label_vi.format("Số hộ")),
        Field(names[1], "int", description.format(persons), label_vi.format("Số nhân khẩu")),
    )


def _before_and_after(
    name: str, type_: str, description: str, label_vi: str
) -> tuple[Field, Field]:
    """A figure before merging and after: ``{}`` in the name and description takes
    "before" then "after", in the label "trước" then "sau"."""
    return (
        Field(name.format("before"), type_, description.format("before"), label_vi.format("trước")),
        Field(name.format("after"), type_, description.format("after"), label_vi.format("sau")),
    )


def _without_special_cases(name: str, description: str, label_vi: str) -> Field:
    """A unit count of the reading that judges special cases awaiting the province's
    guidance (Art. 10.3) as ordinary units."""
    return Field(
        f"{name}_without_special_cases",
        "int",
        description,
        f"{label_vi} nếu không tính diện đặc thù chờ hướng dẫn",
    )


def _day(name: str, what: str, label_vi: str, **rules: object) -> Field:
    """A calendar day (no time of day): "Day ``what``"."""
    return Field(name, "date", f"Day {what}", label_vi, **rules)


def _moment(name: str, what: str, label_vi: str) -> Field:
    """A point in time, always stored in UTC: "When ``what`` (UTC)"."""
    return Field(name, "timestamp", f"When {what} (UTC)", label_vi)


FIELDS: dict[str, Field] = {
    f.name: f
    for f in [
        # Lineage, carried from raw onwards.
        Field("source_file", "string", "Landing file the row came from", "Tệp nguồn"),
        Field("source_sha256", "string", "SHA-256 of the landing file", "Mã băm tệp nguồn"),
        Field("source_row_number", "int", "1-based data row in the file", "Dòng dữ liệu"),
        Field("load_id", "string", "Identifier of the load (from the file hash)", "Mã lần nạp"),
        # What the raw layer keeps of a landing file besides the contract's columns.
        Field(
            "extra_values",
            "string",
            "Values of the columns no contract names, as a JSON object header -> value",
            "Giá trị các cột khác",
        ),
        Field(
            "read_problem",
            "string",
            "Why the record could not be read cleanly (empty when it could)",
            "Lỗi đọc bản ghi",
        ),
        Field(
            "unread_text",
            "string",
            "A record that could not be read, as its line stands in the file",
            "Nội dung dòng không đọc được",
            is_personal=True,
        ),
        Field(
            "source_crs",
            "string",
            "The CRS a geodata file declares (empty when it states none)",
            "Hệ tọa độ khai báo",
        ),
        Field("landing_role", "string", "Role of a landing file", "Vai trò tệp"),
        Field("text_encoding", "string", "Text encoding detected", "Bảng mã"),
        Field(
            "headers_as_landed",
            "string",
            "The file's header row as it came, a JSON list",
            "Tiêu đề cột trong tệp",
        ),
        Field(
            "header_mapping",
            "string",
            "Each recognised header and the column it fills, a JSON object",
            "Ánh xạ tiêu đề",
        ),
        Field(
            "unrecognised_headers",
            "string",
            "Headers no contract names (kept in extra_values), a JSON list",
            "Tiêu đề không nhận ra",
        ),
        Field(
            "data_lines",
            "int",
            "Physical lines (or sheet rows, or features) after the header, counted from "
            "the file itself",
            "Số dòng dữ liệu trong tệp",
        ),
        Field(
            "continuation_lines",
            "int",
            "Lines that continue a quoted cell of the record above",
            "Số dòng nối tiếp",
        ),
        Field("records", "int", "Records the file holds", "Số bản ghi"),
        # Workbooks: where a record sits as the clerk sees it in Excel, and the layout read.
        Field(
            "source_sheet",
            "string",
            "The workbook sheet the record came from (empty for other files)",
            "Trang tính nguồn",
        ),
        Field(
            "sheet_row_number",
            "int",
            "The record's row number as Excel shows it (1-based, title rows counted)",
            "Số dòng trên trang tính",
        ),
        Field(
            "header_row_number",
            "int",
            "The row holding the header in the first data sheet (Excel's number)",
            "Dòng tiêu đề",
        ),
        Field(
            "rows_skipped",
            "int",
            "Rows of the data sheets that are not records: title rows above the header, a "
            "second header row, column-number rows and empty rows",
            "Số dòng bỏ qua",
        ),
        Field(
            "workbook_sheets",
            "string",
            "Each sheet of a workbook: records read, header row, rows skipped, or why the "
            "sheet was skipped, a JSON list",
            "Các trang tính",
        ),
        Field(
            "unreadable_records",
            "int",
            "Records that could not be read cleanly (rejected at staging)",
            "Số bản ghi không đọc được",
        ),
        Field(
            "record_id",
            "string",
            "Stable record key: source file and data row",
            "Mã bản ghi",
        ),
        # Administrative units.
        Field(
            "province_code",
            "string",
            "2-digit province code (QĐ 19/2025/QĐ-TTg)",
            "Mã tỉnh",
            aliases=("ma tinh", "province code", "ma tinh/thanh pho"),
            pattern=PROVINCE_CODE_PATTERN,
        ),
        Field(
            "commune_code",
            "string",
            "5-digit commune code (QĐ 19/2025/QĐ-TTg)",
            "Mã xã",
            aliases=("ma xa/phuong", "ma phuong", "ma dvhc xa", "ma dvhc cap xa"),
            pattern=COMMUNE_CODE_PATTERN,
        ),
        Field(
            "commune_name",
            "string",
            "Commune name without its prefix",
            "Tên xã",
            aliases=("name", "ten xa/phuong", "ten phuong"),
        ),
        Field(
            "unit_kind",
            "string",
            "Kind of commune: xa, phuong or dac_khu",
            "Loại đơn vị hành chính",
            aliases=("loai dvhc", "loai xa/phuong", "unit kind"),
            allowed_values=("xa", "phuong", "dac_khu"),
        ),
        Field(
            "hamlet_code",
            "string",
            "Hamlet code, unique in the province",
            "Mã thôn/TDP",
            aliases=(
                "ma thon",
                "ma tdp",
                "ma thon/to dan pho",
                "ma to dan pho",
                "ma thon/to",
                "ma thon/xom",
                "ma xom",
                "ma thon, xom, ban",
            ),
        ),
        Field(
            "hamlet_name",
            "string",
            "Hamlet proper name without its prefix",
            "Tên thôn/TDP",
            # A households file may name its hamlet instead of coding it ("Thôn": "Xóm 5").
            aliases=(
                "ten thon",
                "ten tdp",
                "ten thon/to dan pho",
                "ten to dan pho",
                "ten thon/xom",
                "ten xom",
                "thon",
                "tdp",
                "to dan pho",
                "thon/tdp",
                "thon/to dan pho",
                "thon/xom",
                "thon, xom, ban",
            ),
        ),
        Field(
            "name_prefix",
            "string",
            "Local prefix of the hamlet name (Thôn, Xóm, Bản, Tổ dân phố…)",
            "Tiền tố tên",
        ),
        Field(
            "hamlet_kind",
            "string",
            "thon (in a xã) or to_dan_pho (in a phường)",
            "Loại thôn/TDP",
            aliases=("loai", "phan loai", "loai hinh"),
            allowed_values=("thon", "to_dan_pho"),
        ),
        Field(
            "declared_households",
            "int",
            "Households declared in the commune registry",
            "Số hộ",
            aliases=("so ho gia dinh", "tong so ho", "tong so ho gia dinh", "so hgd"),
            min_value=0,
        ),
        Field(
            "declared_population",
            "int",
            "Residents declared in the commune registry",
            "Số nhân khẩu",
            aliases=("so khau", "dan so", "so dan", "tong so nhan khau", "tong so khau", "so nk"),
            min_value=0,
        ),
        Field(
            "exemption_category",
            "string",
            "Art. 10.3 exemption category, empty when none",
            "Diện đặc thù (Điều 10.3)",
            aliases=("dien dac thu", "mien tru"),
        ),
        Field(
            "special_category_source",
            "string",
            "Where the Art. 10.3 category comes from: the registry or the province's list"
            " (its source document)",
            "Nguồn xác định diện đặc thù",
        ),
        Field(
            "registry_special_category",
            "string",
            "The registry's category where the province's lists say otherwise (a data"
            " issue: the lists apply)",
            "Diện đặc thù theo sổ đăng ký (khác danh sách của tỉnh)",
        ),
        Field("area_km2", "float", "Area in km² (computed in UTM)", "Diện tích (km²)"),
        Field("geometry", "geometry", "Geometry in EPSG:4326", "Hình học"),
        # Households and persons (restricted layer).
        Field(
            "household_id",
            "string",
            "Household book number / household code",
            "Mã hộ",
            aliases=(
                "ma ho gia dinh",
                "so ho khau",
                "ma ho khau",
                "so so ho khau",
                "ma hgd",
                "ma so ho",
            ),
            is_personal=True,
        ),
        Field(
            "longitude",
            "float",
            "Household location, WGS84 longitude",
            "Kinh độ",
            ("kinh do (x)", "x (kinh do)", "x", "lon", "long", "lng", "longitude"),
        ),
        Field(
            "latitude",
            "float",
            "Household location, WGS84 latitude",
            "Vĩ độ",
            ("vi do (y)", "y (vi do)", "y", "lat", "latitude"),
        ),
        Field(
            "citizen_id",
            "string",
            "12-digit personal identification number (số định danh cá nhân)",
            "Số ĐDCN",
            aliases=(
                "so dinh danh ca nhan",
                "so dinh danh",
                "ma dinh danh",
                "so dinh danh ca nhan/cccd",
                "cccd",
                "so cccd",
                "so cmnd/cccd",
                "so cccd/cmnd",
                "cmnd/cccd",
                "so cmnd",
                "cmnd",
            ),
            is_personal=True,
            pattern=CITIZEN_ID_PATTERN,
        ),
        Field(
            "full_name",
            "string",
            "Full name",
            "Họ và tên",
            aliases=("ho ten", "ho va ten", "ho ten khai sinh", "ho va ten khai sinh"),
            is_personal=True,
        ),
        Field(
            "birth_date",
            "date",
            "Date of birth",
            "Ngày sinh",
            aliases=("ngay thang nam sinh", "sinh ngay"),
            is_personal=True,
        ),
        Field(
            "sex",
            "string",
            "nam or nu",
            "Giới tính",
            aliases=("gioi", "gt", "nam/nu", "gioi tinh (nam/nu)"),
            allowed_values=("nam", "nu"),
        ),
        Field(
            "relation_to_head",
            "string",
            "Relation to the head of household",
            "Quan hệ với chủ hộ",
            # Not "Họ tên chủ hộ": that is the head's name, which no contract column holds.
            aliases=(
                "quan he",
                "quan he chu ho",
                "quan he voi ch",
                "qh voi chu ho",
                "qh voi ch",
                "qh chu ho",
            ),
        ),
        Field("ethnicity", "string", "Ethnic group", "Dân tộc"),
        Field(
            "birth_date_is_partial",
            "bool",
            "Birth date known only to the year, or to month and year (stored as the 1st)",
            "Chỉ có năm sinh",
        ),
        Field(
            "birth_date_order_unproven",
            "bool",
            "Birth date whose day and month could be either way round, read day-first "
            "where its file shows no order (to be checked)",
            "Chưa rõ thứ tự ngày/tháng sinh",
        ),
        Field("is_household_head", "bool", "Is the head of household (chủ hộ)", "Là chủ hộ"),
        Field(
            "invalid_values",
            "string",
            "Fields whose value was present but not in the vocabulary (staged as missing), "
            "each as 'field: shape of the value' ('sex: 1 character, digits'), ' | '-joined; "
            "the value itself is never kept. Empty when every value was read",
            "Giá trị không hợp lệ",
        ),
        # Quality.
        Field("table_name", "string", "Table the record belongs to", "Bảng"),
        Field("rule", "string", "Rule the record breaks", "Quy tắc"),
        Field("field_name", "string", "Field the rule concerns", "Trường"),
        Field(
            "severity",
            "string",
            "error (quarantined) or warning",
            "Mức độ",
            allowed_values=("error", "warning"),
        ),
        Field("message", "string", "What is wrong and what to fix", "Mô tả"),
        Field("reasons", "string", "Rules that quarantined the record", "Lý do cách ly"),
        Field("reason", "string", "Why the row could not be staged", "Lý do không nạp được"),
        Field(
            "adjustment",
            "string",
            "Geometry change: clipped_to_commune, overlap_removed, gap_filled, gap_left",
            "Điều chỉnh hình học",
            allowed_values=("clipped_to_commune", "overlap_removed", "gap_filled", "gap_left"),
        ),
        Field("area_m2", "float", "Area concerned, in m² (UTM)", "Diện tích (m²)"),
        Field(
            "reading",
            "string",
            "How values of a field were read when not as the contract writes them "
            "(e.g. leading zeros restored, day/month order decided), no value quoted",
            "Cách đọc giá trị",
        ),
        Field(
            "outcome",
            "string",
            "recovered (read exactly), warned (staged, to be checked), quarantined "
            "(not staged: rejected or missing with a record issue)",
            "Kết quả",
            allowed_values=("recovered", "warned", "quarantined"),
        ),
        Field("first_row_number", "int", "First data row it happened on", "Dòng đầu tiên"),
        Field("detail", "string", "What the change was made against", "Chi tiết"),
        Field("records_in", "int", "Records received", "Số bản ghi nhận"),
        Field("records_clean", "int", "Records that passed", "Số bản ghi hợp lệ"),
        Field("records_quarantined", "int", "Records quarantined", "Số bản ghi bị cách ly"),
        Field("issue_count", "int", "Number of issues", "Số lỗi"),
        *_households_and_persons(
            ("held_households", "held_persons"),
            "{} held in quarantine, not yet in the counts",
            "{} đang tạm giữ (chưa tính)",
            persons="Person records",
        ),
        Field(
            "cluster_id",
            "string",
            "Probable duplicate group: the smallest record_id among its records",
            "Mã nhóm nghi trùng",
        ),
        Field(
            "provinces",
            "string",
            "Provinces a national duplicate group spans, comma-separated codes",
            "Các tỉnh có bản ghi trùng",
        ),
        Field(
            "match_probability",
            "float",
            "Highest Splink match probability linking the record to its group",
            "Xác suất trùng",
            min_value=0,
            max_value=1,
        ),
        Field(
            "agreeing_fields",
            "string",
            "Fields equal in every linked pair of the group (names of fields, not values)",
            "Trường trùng khớp",
        ),
        Field(
            "differing_fields",
            "string",
            "Fields that differ in a linked pair of the group (names of fields, not values)",
            "Trường khác nhau",
        ),
        *_households_and_persons(
            ("counted_households", "counted_population"),
            "{} counted from the staged records",
            "{} (đếm từ dữ liệu)",
        ),
        Field(
            "within_tolerance",
            "bool",
            "Declared and counted figures agree within the tolerance",
            "Khớp trong ngưỡng cho phép",
        ),
        # Planning.
        Field("region", "string", "Region (vùng) of the standard", "Vùng"),
        *_households_and_persons(
            ("households", "population"), "{} counted from clean records", "{} (đếm)"
        ),
        Field(
            "standard_households",
            "int",
            "Minimum households for the unit's region and kind",
            "Tiêu chuẩn số hộ",
        ),
        Field(
            "mandatory_floor_households",
            "int",
            "Below this the unit must be rearranged",
            "Ngưỡng bắt buộc sắp xếp",
        ),
        Field(
            "compliance_status",
            "string",
            "meets_standard, below_standard, below_mandatory_floor, exempt (special case at"
            " or above its province-set floor) or special_case_awaiting_guidance (Art. 10.3)",
            "Tình trạng đạt chuẩn",
            allowed_values=(
                "meets_standard",
                "below_standard",
                "below_mandatory_floor",
                "exempt",
                "special_case_awaiting_guidance",
            ),
        ),
        Field("compliance_reason", "string", "Why the unit has that status", "Lý do"),
        Field("rules_profile", "string", "Rules profile applied", "Bộ quy tắc"),
        Field("neighbour_hamlet_code", "string", "Adjacent hamlet", "Mã thôn/TDP liền kề"),
        Field(
            "shared_boundary_m", "float", "Length of the shared boundary (m)", "Ranh giới chung (m)"
        ),
        Field("option_name", "string", "minimal, compliant or consolidated", "Phương án"),
        Field("unit_id", "string", "Unit after merging", "Mã đơn vị sau sắp xếp"),
        Field("explanation", "string", "Why this hamlet goes to this unit", "Giải thích"),
        Field("is_merged", "bool", "The hamlet joins another hamlet", "Có sáp nhập"),
        Field(
            "member_hamlet_codes", "string", "Hamlets forming the unit", "Các thôn/TDP hợp thành"
        ),
        Field("member_count", "int", "Number of hamlets in the unit", "Số thôn/TDP hợp thành"),
        Field("is_compliant", "bool", "Unit meets its standard or is exempt", "Đạt chuẩn"),
        Field("hamlets", "int", "Number of hamlets", "Số thôn/TDP"),
        *_before_and_after("units_{}", "int", "Units {} merging", "Số đơn vị {}"),
        Field("compliant_units_after", "int", "Compliant units after", "Số đơn vị đạt chuẩn sau"),
        Field("noncompliant_units_after", "int", "Units still below", "Số đơn vị chưa đạt sau"),
        Field("households_moved", "int", "Households whose unit changes", "Số hộ thay đổi đơn vị"),
        _without_special_cases(
            "units_after",
            "Units after merging if special cases awaiting guidance were judged as ordinary",
            "Số đơn vị sau",
        ),
        _without_special_cases(
            "noncompliant_units_after",
            "Units still below in that reading",
            "Số đơn vị chưa đạt sau",
        ),
        Field("below_standard_hamlets", "int", "Hamlets below standard", "Số thôn/TDP dưới chuẩn"),
        Field("exempt_hamlets", "int", "Hamlets exempt", "Số thôn/TDP đặc thù"),
        Field(
            "awaiting_guidance_hamlets",
            "int",
            "Special-case hamlets below standard, awaiting the province's floor (Art. 10.3)",
            "Số thôn/TDP đặc thù dưới chuẩn chờ hướng dẫn của tỉnh",
        ),
        # Merger plans.
        Field("target_households", "int", "Households the option aims for", "Số hộ mục tiêu"),
        Field(
            "polsby_popper", "float", "Compactness 4πA/P² (1 = a disc)", "Độ gọn (Polsby–Popper)"
        ),
        Field("noncompliant_reasons", "string", "Why units stay below", "Lý do chưa đạt chuẩn"),
        Field("mean_polsby_popper", "float", "Mean compactness of the units", "Độ gọn trung bình"),
        Field(
            "optimality_status",
            "string",
            "optimal (unit count proven), feasible (gap N) or heuristic",
            "Tình trạng tối ưu",
            pattern=r"^(optimal|heuristic|feasible \(gap \d+\))$",
        ),
        Field("units_upper_bound", "int", "Proven upper bound on units", "Cận trên số đơn vị"),
        Field("solve_seconds", "float", "Planning time (wall clock)", "Thời gian tính (giây)"),
        Field(
            "exact_seconds", "float", "Exact-solver time (wall clock)", "Thời gian giải chính xác"
        ),
        # Scores.
        Field(
            "compliant_share_after",
            "float",
            "Share of units compliant after",
            "Tỷ lệ đạt chuẩn sau",
        ),
        Field(
            "households_per_unit_min", "int", "Fewest households in a unit", "Số hộ ít nhất/đơn vị"
        ),
        Field(
            "households_per_unit_median",
            "int",
            "Median households per unit",
            "Số hộ trung vị/đơn vị",
        ),
        Field("min_polsby_popper", "float", "Least compact unit", "Độ gọn thấp nhất"),
        *_before_and_after(
            "positions_{}", "int", "Part-time positions {}", "Số người hoạt động KCT {}"
        ),
        *_before_and_after(
            "allowance_fund_{}_vnd_per_year",
            "float",
            "Yearly allowance fund {} (VND)",
            "Quỹ phụ cấp {} (đồng/năm)",
        ),
        Field(
            "allowance_saving_vnd_per_year",
            "float",
            "Yearly allowance saving (VND)",
            "Tiết kiệm phụ cấp (đồng/năm)",
        ),
        Field(
            "composite_score",
            "float",
            "Weighted score, 0-1, against the commune today",
            "Điểm tổng hợp",
        ),
        Field(
            "is_pareto_optimal",
            "bool",
            "No other option is better on every criterion",
            "Thuộc biên Pareto",
        ),
        Field(
            "max_household_distance_km",
            "float",
            "Longest distance from a household to its unit's centre (km)",
            "Khoảng cách xa nhất từ hộ đến trung tâm đơn vị (km)",
        ),
        Field(
            "ethnic_cohesion",
            "float",
            "Share of residents in their unit's largest ethnic group",
            "Mức đồng nhất dân tộc",
        ),
        Field("communes", "int", "Number of communes", "Số xã"),
        Field(
            "optimal_communes", "int", "Communes whose unit count is proven optimal", "Số xã tối ưu"
        ),
        # Decisions (planners record the chosen option per commune).
        Field("decision_id", "string", "Identifier of the decision", "Mã quyết định"),
        Field("decided_by", "string", "Planner who recorded the decision", "Người quyết định"),
        Field("note", "string", "Planner's note", "Ghi chú"),
        _moment("decided_at", "the decision was recorded", "Thời điểm"),
        Field(
            "based_on_run_id",
            "string",
            "Publication (run) whose options the planner reviewed",
            "Lần công bố được xem xét",
        ),
        Field(
            "positions_kept",
            "int",
            "Part-time positions of the new unit",
            "Số người hoạt động KCT được bố trí",
        ),
        Field(
            "positions_ending",
            "int",
            "Part-time positions of merged units that end",
            "Số người hoạt động KCT thôi bố trí",
        ),
        Field(
            "ending_hamlet_codes",
            "string",
            "Hamlets whose own part-time positions end (merged into the unit)",
            "Các thôn/TDP thôi bố trí người hoạt động KCT",
        ),
        # Planners' constraints on the merger engine (issue 11).
        Field("constraint_id", "string", "Identifier of the constraint row", "Mã ràng buộc"),
        Field(
            "constraint_kind",
            "string",
            "locked, must_not_merge, must_merge or prefer_same_ethnicity",
            "Loại ràng buộc",
            allowed_values=("locked", "must_not_merge", "must_merge", "prefer_same_ethnicity"),
        ),
        Field(
            "other_hamlet_code",
            "string",
            "Second hamlet of a pair constraint",
            "Mã thôn/TDP thứ hai",
        ),
        Field("set_by", "string", "Planner who set the constraint", "Người đặt ràng buộc"),
        Field("constraint_reason", "string", "Why the constraint was set", "Lý do ràng buộc"),
        _moment("set_at", "the constraint was set", "Thời điểm đặt"),
        Field(
            "is_active",
            "bool",
            "The constraint holds (false: lifted by this row)",
            "Đang áp dụng",
        ),
        Field("problem", "string", "Why the commune's constraints cannot all hold", "Vướng mắc"),
        # Residents' consultation, council approval and progress (issue 11).
        Field(
            "households_consulted",
            "int",
            "Household representatives consulted",
            "Số hộ được lấy ý kiến",
            aliases=("so ho lay y kien", "so cu tri dai dien ho"),
            min_value=0,
        ),
        Field(
            "households_in_favour",
            "int",
            "Household representatives in favour",
            "Số hộ tán thành",
            aliases=("tan thanh", "dong y", "so ho dong y"),
            min_value=0,
        ),
        Field(
            "households_against",
            "int",
            "Household representatives against",
            "Số hộ không tán thành",
            aliases=("khong tan thanh", "khong dong y", "so ho khong dong y"),
            min_value=0,
        ),
        _day(
            "consulted_date",
            "the residents were consulted",
            "Ngày lấy ý kiến",
            aliases=("ngay lay y kien",),
        ),
        Field(
            "in_favour_share",
            "float",
            "Share of the consulted households in favour",
            "Tỷ lệ tán thành",
            min_value=0,
            max_value=1,
        ),
        Field(
            "required_share",
            "float",
            "Share in favour the approval rule requires (more than)",
            "Tỷ lệ tán thành phải vượt",
            min_value=0,
            max_value=1,
        ),
        Field("is_passed", "bool", "The hamlet's residents approve the merge", "Đạt (tán thành)"),
        Field("recorded_by", "string", "Staff member who recorded it", "Người ghi nhận"),
        _moment("recorded_at", "it was recorded", "Thời điểm ghi nhận"),
        _day(
            "approved_date",
            "the commune People's Council approved the plan",
            "Ngày HĐND xã thông qua",
        ),
        Field(
            "resolution_number",
            "string",
            "Number of the commune People's Council resolution",
            "Số nghị quyết",
        ),
        # The commune's steps before its council resolves (DOMAIN.md "The process").
        Field(
            "step",
            "string",
            "advisory_conference (advisory group and the hamlet representatives' "
            "conference with the Fatherland Front) or party_opinion (party committee)",
            "Bước",
            allowed_values=("advisory_conference", "party_opinion"),
        ),
        _day("step_date", "the step was held or given", "Ngày thực hiện"),
        Field("document", "string", "Minutes or document of the step (number)", "Văn bản"),
        _day(
            "advisory_conference_date",
            "of the hamlet representatives' conference with the Fatherland Front",
            "Ngày hội nghị đại biểu thôn/TDP với MTTQ",
        ),
        _day(
            "party_opinion_date",
            "the commune party committee gave its opinion on the plan",
            "Ngày cấp ủy cho ý kiến",
        ),
        Field(
            "progress_status",
            "string",
            "no_plan, plan_drafted, consulted or approved",
            "Tiến độ",
            allowed_values=("no_plan", "plan_drafted", "consulted", "approved"),
        ),
        _day("plan_drafted_date", "the commune first had a plan (first decision)", "Ngày có đề án"),
        Field(
            "has_failed_consultation",
            "bool",
            "Residents of an affected hamlet rejected the plan in force",
            "Có thôn/TDP không tán thành",
        ),
        Field(
            "late_milestones",
            "string",
            "Deadlines passed without the commune reaching the status they require",
            "Mốc đã quá hạn",
        ),
        _day("report_date", "the progress report describes", "Ngày báo cáo"),
        _day("week_date", "(a Monday) of the weekly count", "Tuần (ngày)"),
        # Publishing.
        Field("run_id", "string", "Dagster run that published the row", "Mã lần chạy"),
        _moment("published_at", "the row was published", "Thời điểm công bố"),
        Field(
            "shrink_override",
            "string",
            "Figures that fell beyond the allowed share (or were empty) and were published "
            "anyway on an engineer's explicit override; empty for a normal publication",
            "Công bố dù số liệu giảm mạnh (ghi đè)",
        ),
        # Columns the notebooks and the map editor compute (no warehouse table holds them).
        Field("in_file", "int", "Records the landing file itself holds", "Số bản ghi trong tệp"),
        Field("landed", "int", "Rows of the file in the raw layer", "Số dòng đã nạp"),
        Field("staged", "int", "Rows of the file in the staging layer", "Số dòng đã chuẩn hóa"),
        Field("rejected", "int", "Rows of the file rejected at staging", "Số dòng bị loại"),
        Field("balanced", "bool", "The counts add up (nothing lost)", "Khớp số liệu"),
        Field(
            "consultation",
            "string",
            "The residents' consultation of a hamlet on the plan in force",
            "Kết quả lấy ý kiến",
        ),
        Field(
            "decision_status", "string", "Whether the commune has decided", "Tình trạng quyết định"
        ),
        Field("source", "string", "Published option, what-if or edited plan", "Nguồn"),
        Field("unit_name", "string", "Name of a unit (its largest hamlet's)", "Tên đơn vị"),
        Field("member_names", "string", "Names of a unit's hamlets", "Thôn/TDP thành viên"),
        Field("is_contiguous", "bool", "The unit's hamlets touch one another", "Liền kề"),
        Field("is_locked", "bool", "The planner locked the unit in the map editor", "Khóa"),
        # The warehouse's own schema (assets/warehouse/migrations.py).
        Field("version", "int", "Warehouse schema version", "Phiên bản lược đồ kho dữ liệu"),
        _moment("applied_at", "the version was applied", "Thời điểm áp dụng"),
        Field("description", "string", "What the version changed", "Mô tả"),
    ]
}


@dataclass(frozen=True)
class Table:
    """A warehouse table: its layer, columns and key."""

    layer: str
    name: str
    description: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    # Raw tables hold every landed value as the text it came as (lineage and geometry
    # aside): their fields keep names, labels and personal flags but are all text.
    as_landed: bool = False
    fields: tuple[Field, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.layer not in LAYERS:
            raise ValueError(f"table {self.name}: unknown layer {self.layer!r}")
        unknown = [c for c in self.columns if c not in FIELDS]
        if unknown:
            raise ValueError(f"table {self.layer}.{self.name}: undescribed columns {unknown}")
        fields = tuple(FIELDS[c] for c in self.columns)
        if self.as_landed:
            fields = tuple(
                f
                if f.type == "geometry" or f.name in (*LINEAGE, *WORKBOOK_LINEAGE)
                else replace(
                    f,
                    type="string",
                    pattern=None,
                    allowed_values=None,
                    min_value=None,
                    max_value=None,
                )
                for f in fields
            )
        object.__setattr__(self, "fields", fields)

    @property
    def qualified_name(self) -> str:
        return f"{self.layer}.{self.name}"

    def subset(self, columns: Sequence[str]) -> Table:
        """This contract narrowed to ``columns`` (in that order), for reads of a few
        columns; the key survives only when every key column is kept."""
        unknown = [c for c in columns if c not in self.columns]
        if unknown:
            raise SchemaError(f"{self.qualified_name}: no columns {unknown}")
        kept = tuple(columns)
        return replace(
            self,
            columns=kept,
            primary_key=self.primary_key if set(self.primary_key) <= set(kept) else (),
            required=tuple(c for c in self.required if c in kept),
        )

    @property
    def personal_columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.is_personal)

    @property
    def geometry_columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.type == "geometry")

    def enforce(self, df: pd.DataFrame, *, copy: bool = True) -> pd.DataFrame:
        """Return ``df`` with exactly this table's columns, in order, with their types.

        Raises SchemaError naming the table and the columns that are missing or extra,
        or a column whose values cannot take the declared type.

        ``copy=False`` is for a frame nobody else changes (one just read, one about to
        be written): the result shares the columns already of their type with ``df``
        instead of copying them (a copied text column costs a reference count per
        value; 14 M persons are read and written several times a run). A column cast
        is new either way and ``df`` itself is never changed.
        """
        missing = [c for c in self.columns if c not in df.columns]
        extra = [c for c in df.columns if c not in self.columns]
        if missing or extra:
            raise SchemaError(
                f"{self.qualified_name}: missing columns {missing}, unexpected columns {extra}"
            )
        if self.layer not in RESTRICTED_LAYERS and self.personal_columns:
            raise SchemaError(
                f"{self.qualified_name}: personal columns {list(self.personal_columns)} "
                "may not leave the restricted layers"
            )
        if copy:
            out = df.loc[:, list(self.columns)].copy()
        else:
            out = df.reindex(columns=list(self.columns), copy=False)
        for f in self.fields:
            if f.type == "geometry":
                continue
            try:
                values = out[f.name]
                cast = _cast(values, f.type)
                if cast is not values:  # text already text is kept, not copied again
                    out[f.name] = cast
            except (TypeError, ValueError):
                # The driver's text quotes the value, which may be a name or a birth date:
                # say where it is, never what it is (and drop the chained exception).
                raise SchemaError(
                    f"{self.qualified_name}.{f.name}: cannot cast to {f.type} "
                    f"(first at {_first_uncastable(out, f.name, f.type)}); value not shown"
                ) from None
        return out


def _first_uncastable(frame: pd.DataFrame, column: str, type_: str) -> str:
    """Where the first value that will not take ``type_`` is: file and row when the frame
    has lineage, else its position."""
    bad = None
    for i, value in enumerate(frame[column].tolist()):
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            continue
        try:
            _cast(pd.Series([value], dtype=object), type_)
        except (TypeError, ValueError):
            bad = i
            break
    if bad is None:
        return "an unknown row"
    if set(RECORD_PLACE) <= set(frame.columns):
        row = frame.iloc[bad]
        if pd.notna(row["source_file"]) and pd.notna(row["source_row_number"]):
            return f"{row['source_file']} row {row['source_row_number']}"
    return f"position {bad + 1} of the rows written"


def _cast(values: pd.Series, type_: str) -> pd.Series:
    if type_ == "date":
        return pd.to_datetime(values, errors="raise").astype("datetime64[ns]")
    if type_ == "timestamp":
        return pd.to_datetime(values, errors="raise", utc=True).astype("datetime64[ns, UTC]")
    if type_ == "string":
        if isinstance(values.dtype, pd.StringDtype) and values.dtype == pd.StringDtype():
            return values  # text already (every read): no per-value check needed
        # Keep leading zeros: only ever cast what is already text or missing. pandas'
        # inference walks the values in C (0.01 s for 1.2 M; a Python call per value
        # took 0.14 s, on every text column of every write).
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        # Categories, a column of missing numbers…: there the values themselves decide.
        if inferred not in ("string", "empty") and values.dropna().map(type).ne(str).any():
            raise TypeError("non-text values")
    return values.astype(PANDAS_DTYPES[type_])


LINEAGE = ("source_file", "source_sha256", "source_row_number", "load_id")
# Where a record sits in its landing file (file, data row): what a clerk needs to fix it.
RECORD_PLACE = (LINEAGE[0], LINEAGE[2])
# Raw only: a workbook record's sheet and Excel row (source_row_number stays the running
# record number of the file, so keys and record ids are unique across sheets).
WORKBOOK_LINEAGE = ("source_sheet", "sheet_row_number")
# What every raw table holds besides the landed columns its role names.
RAW_TRAILER = ("extra_values", "read_problem", "unread_text", *LINEAGE, *WORKBOOK_LINEAGE)

# Each record's own columns, declared once: the raw, staging and quality tables that
# hold the record derive theirs from these, so a new column is one line here (and its
# Field). Required: a record without them cannot be staged.
PERSON_COLUMNS = (
    "citizen_id",
    "full_name",
    "birth_date",
    "sex",
    "household_id",
    "relation_to_head",
    "ethnicity",
)
PERSON_REQUIRED = ("citizen_id", "full_name", "birth_date", "household_id", "sex")
# What staging reads from a person record's own columns (birth date, relation, values).
PERSON_READINGS = (
    "birth_date_is_partial",
    "birth_date_order_unproven",
    "is_household_head",
    "invalid_values",
)
HOUSEHOLD_COLUMNS = ("household_id", "hamlet_code", "longitude", "latitude")
HOUSEHOLD_REQUIRED = ("household_id", "hamlet_code")
# A households file may place a household by its commune and hamlet name instead of the
# hamlet code (STAND_INS); staging resolves them to hamlet_code and keeps neither.
HOUSEHOLD_LOCATORS = ("commune_code", "hamlet_name")
# What a quarantine table adds to a held record: where it is and why it is held.
QUARANTINE_TRAILER = (*RECORD_PLACE, "reasons")

# The columns each landing role may bring, and those it must (the raw contracts).
LANDED_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "communes": (
        ("commune_code", "commune_name", "unit_kind", "province_code"),
        ("commune_code", "commune_name", "province_code"),
    ),
    "hamlet_boundaries": (("hamlet_code", "commune_code"), ("hamlet_code",)),
    "hamlet_registry": (
        (
            "commune_code",
            "hamlet_code",
            "hamlet_name",
            "hamlet_kind",
            "declared_households",
            "declared_population",
            "exemption_category",
        ),
        ("commune_code", "hamlet_code", "hamlet_name", "hamlet_kind"),
    ),
    "households": ((*HOUSEHOLD_COLUMNS, *HOUSEHOLD_LOCATORS), HOUSEHOLD_REQUIRED),
    "persons": (PERSON_COLUMNS, PERSON_REQUIRED),
}
GEODATA_ROLES = ("communes", "hamlet_boundaries")
# A required column another may stand in for, per role: a households file that names
# its hamlet ("Thôn": "Xóm 5") instead of giving its code; staging resolves the name
# against the hamlet registry (within the commune when the file gives it).
STAND_INS: dict[str, dict[str, str]] = {"households": {"hamlet_code": "hamlet_name"}}


def _raw_table(role: str) -> Table:
    """A landing role's raw table: its columns as text, unrecognised columns as data."""
    landed, required = LANDED_COLUMNS[role]
    geometry = ("geometry", "source_crs") if role in GEODATA_ROLES else ()
    return Table(
        "raw",
        role,
        f"The {role.replace('_', ' ')} file as landed: every value text, headers matched "
        "to the contract, other columns kept as data in extra_values",
        (*landed, *geometry, *RAW_TRAILER),
        primary_key=("source_file", "source_row_number"),
        required=(*required, *(("geometry",) if geometry else ())),
        as_landed=True,
    )


# Columns several marts share, each family declared once.
# What every published row carries: the rules it was computed under and its publication.
PUBLICATION_STAMP = ("rules_profile", "run_id", "published_at")
# A unit after merging as planners see it, in an option or in the approved plan.
MERGED_UNIT_COLUMNS = (
    "unit_id",
    "hamlet_kind",
    "member_hamlet_codes",
    "member_count",
    "households",
    "population",
    "standard_households",
    "is_compliant",
    "compliance_reason",
    "polsby_popper",
    "area_km2",
    "geometry",
)
# A hamlet's size against its standard, as planning judges it and the marts publish it.
HAMLET_COMPLIANCE = (
    "hamlet_kind",
    "region",
    "declared_households",
    "households",
    "population",
    "standard_households",
    "mandatory_floor_households",
    "exemption_category",
    "special_category_source",
    "registry_special_category",
    "compliance_status",
    "compliance_reason",
)
# The yearly allowance funds of the part-time positions before and after, and the saving.
ALLOWANCE_FUNDS = (
    "allowance_fund_before_vnd_per_year",
    "allowance_fund_after_vnd_per_year",
    "allowance_saving_vnd_per_year",
)


TABLES: dict[str, Table] = {
    t.qualified_name: t
    for t in [
        *(_raw_table(role) for role in LANDED_COLUMNS),
        Table(
            "raw",
            "landed_files",
            "Each landing file loaded: its headers, encoding and records counted from the "
            "file itself, against which staging reconciles",
            (
                "landing_role",
                "source_file",
                "source_sha256",
                "load_id",
                "text_encoding",
                "headers_as_landed",
                "header_mapping",
                "unrecognised_headers",
                "data_lines",
                "continuation_lines",
                "records",
                "unreadable_records",
                "header_row_number",
                "rows_skipped",
                "workbook_sheets",
            ),
            primary_key=("landing_role",),
            required=("landing_role", "source_file", "source_sha256", "data_lines", "records"),
        ),
        Table(
            "staging",
            "communes",
            "Communes of the province, with boundaries",
            (
                "commune_code",
                "commune_name",
                "unit_kind",
                "province_code",
                "region",
                "area_km2",
                "geometry",
                *LINEAGE,
            ),
            primary_key=("commune_code",),
            required=("commune_code", "commune_name", "unit_kind", "province_code", "geometry"),
        ),
        Table(
            "staging",
            "hamlets",
            "Hamlet registry joined to hamlet boundaries",
            (
                "hamlet_code",
                "commune_code",
                "name_prefix",
                "hamlet_name",
                "hamlet_kind",
                "declared_households",
                "declared_population",
                "exemption_category",
                "area_km2",
                "geometry",
            ),
            primary_key=("hamlet_code",),
            required=("hamlet_code", "commune_code", "hamlet_name", "hamlet_kind", "geometry"),
        ),
        Table(
            "staging",
            "households",
            "Households with their location",
            ("record_id", *HOUSEHOLD_COLUMNS, *LINEAGE),
            primary_key=("household_id",),
            required=HOUSEHOLD_REQUIRED,
        ),
        Table(
            "staging",
            "persons",
            "Residents, one row per person record",
            ("record_id", *PERSON_COLUMNS, *PERSON_READINGS, *LINEAGE),
            primary_key=("record_id",),
            required=("record_id", *PERSON_REQUIRED),
        ),
        Table(
            "staging",
            "rejected_rows",
            "Landed rows that could not be staged, each with its file, row and reason",
            ("table_name", *RECORD_PLACE, "field_name", "reason"),
            required=("table_name", *RECORD_PLACE, "reason"),
        ),
        Table(
            "staging",
            "value_readings",
            "Per file and field, how many values were read other than as written "
            "(recovered exactly, staged with a warning, or quarantined) and why",
            (
                "table_name",
                "source_file",
                "field_name",
                "reading",
                "outcome",
                "records",
                "first_row_number",
            ),
            primary_key=("table_name", "source_file", "field_name", "reading"),
            required=("table_name", "source_file", "field_name", "reading", "outcome", "records"),
        ),
        Table(
            "staging",
            "geometry_adjustments",
            "Every change made to hamlet boundaries to make them a partition of the commune",
            ("hamlet_code", "commune_code", "adjustment", "area_m2", "detail"),
            required=("commune_code", "adjustment", "area_m2"),
        ),
        Table(
            "quality",
            "record_issues",
            "One row per record and broken rule",
            (
                "table_name",
                "record_id",
                "commune_code",
                "hamlet_code",
                "rule",
                "field_name",
                "severity",
                "message",
            ),
            primary_key=("table_name", "record_id", "rule", "field_name"),
            required=("table_name", "record_id", "rule", "severity", "message"),
        ),
        Table(
            "quality",
            "persons_clean",
            "Person records with no error-level issue",
            ("record_id", *PERSON_COLUMNS, "is_household_head"),
            primary_key=("record_id",),
        ),
        Table(
            "quality",
            "persons_quarantined",
            "Person records held back, with their reasons",
            ("record_id", *PERSON_COLUMNS, *QUARANTINE_TRAILER),
            primary_key=("record_id",),
        ),
        Table(
            "quality",
            "households_quarantined",
            "Household records held back, with their reasons; their members are held too",
            # commune_code: the hamlet's, or for an unknown hamlet the point's commune.
            ("record_id", *HOUSEHOLD_COLUMNS, "commune_code", *QUARANTINE_TRAILER),
            primary_key=("record_id",),
        ),
        Table(
            "quality",
            "probable_duplicates",
            "Records probably of one person in several households (Splink), by group",
            (
                "cluster_id",
                "record_id",
                "household_id",
                "hamlet_code",
                "commune_code",
                "match_probability",
                "agreeing_fields",
                "differing_fields",
            ),
            primary_key=("record_id",),
            required=("cluster_id", "record_id", "match_probability"),
        ),
        Table(
            "quality",
            "national_duplicates",
            "Records probably of one person registered in several provinces (Splink on Spark)",
            (
                "record_id",
                "household_id",
                "cluster_id",
                "provinces",
                "match_probability",
            ),
            primary_key=("record_id",),
            required=("cluster_id", "record_id", "match_probability"),
        ),
        Table(
            "quality",
            "hamlet_count_reconciliation",
            "Per hamlet: households and population declared by the registry and counted",
            (
                "hamlet_code",
                "commune_code",
                "declared_households",
                "counted_households",
                "declared_population",
                "counted_population",
                "within_tolerance",
            ),
            primary_key=("hamlet_code",),
            required=("hamlet_code", "counted_households", "counted_population"),
        ),
        Table(
            "planning",
            "hamlet_compliance",
            "Each hamlet's size against the standard of its region and kind",
            (
                "hamlet_code",
                "commune_code",
                *HAMLET_COMPLIANCE,
                "rules_profile",
            ),
            primary_key=("hamlet_code",),
        ),
        Table(
            "planning",
            "hamlet_adjacency",
            "Pairs of hamlets of one commune whose boundaries meet",
            ("commune_code", "hamlet_code", "neighbour_hamlet_code", "shared_boundary_m"),
            primary_key=("hamlet_code", "neighbour_hamlet_code"),
        ),
        Table(
            "planning",
            "merger_assignments",
            "Each option's assignment of hamlets to units, with the reason",
            (
                "option_name",
                "commune_code",
                "hamlet_code",
                "unit_id",
                "is_merged",
                "explanation",
                "rules_profile",
            ),
            primary_key=("option_name", "hamlet_code"),
        ),
        Table(
            "planning",
            "merger_units",
            "Each option's units: members, households, compliance, compactness",
            (
                "option_name",
                "commune_code",
                "unit_id",
                "hamlet_kind",
                "member_hamlet_codes",
                "member_count",
                "households",
                "standard_households",
                "target_households",
                "is_compliant",
                "compliance_reason",
                "polsby_popper",
                "rules_profile",
            ),
            primary_key=("option_name", "unit_id"),
        ),
        Table(
            "planning",
            "merger_option_summary",
            "Per option and commune: units, compliance, optimality and solve time",
            (
                "option_name",
                "commune_code",
                "hamlets",
                "units_before",
                "units_after",
                "compliant_units_after",
                "noncompliant_units_after",
                "noncompliant_reasons",
                "households_moved",
                "awaiting_guidance_hamlets",
                "units_after_without_special_cases",
                "noncompliant_units_after_without_special_cases",
                "mean_polsby_popper",
                "optimality_status",
                "units_upper_bound",
                "solve_seconds",
                "exact_seconds",
                "rules_profile",
            ),
            primary_key=("option_name", "commune_code"),
        ),
        Table(
            "planning",
            "decisions",
            "Planners' decisions: the option chosen for a commune, by whom, why",
            (
                "decision_id",
                "province_code",
                "commune_code",
                "option_name",
                "decided_by",
                "note",
                "decided_at",
                "based_on_run_id",
                "rules_profile",
            ),
            primary_key=("decision_id",),
            required=("decision_id", "commune_code", "option_name", "decided_by", "decided_at"),
        ),
        Table(
            "planning",
            "decision_assignments",
            "The assignment of hamlets to units each decision approved (kept with it)",
            ("decision_id", "province_code", "commune_code", "hamlet_code", "unit_id"),
            primary_key=("decision_id", "hamlet_code"),
            required=("decision_id", "province_code", "commune_code", "hamlet_code", "unit_id"),
        ),
        Table(
            "planning",
            "constraints",
            "Planners' constraints on the merger engine, who set them, why and when",
            (
                "constraint_id",
                "province_code",
                "commune_code",
                "constraint_kind",
                "hamlet_code",
                "other_hamlet_code",
                "set_by",
                "constraint_reason",
                "set_at",
                "is_active",
            ),
            primary_key=("constraint_id",),
            required=(
                "constraint_id",
                "province_code",
                "commune_code",
                "constraint_kind",
                "set_by",
                "constraint_reason",
                "set_at",
            ),
        ),
        Table(
            "planning",
            "constraint_problems",
            "Communes whose constraints cannot all hold, with the reason (left unplanned)",
            ("commune_code", "problem"),
            primary_key=("commune_code", "problem"),
        ),
        Table(
            "planning",
            "consultations",
            "Residents' consultation per affected hamlet of a drafted plan (decision)",
            (
                "decision_id",
                "province_code",
                "commune_code",
                "hamlet_code",
                "unit_id",
                "households_consulted",
                "households_in_favour",
                "households_against",
                "consulted_date",
                "in_favour_share",
                "required_share",
                "is_passed",
                "recorded_by",
                "source_file",
                "recorded_at",
            ),
            # Append-only: a correction is a later row; readers take the latest.
            primary_key=("decision_id", "hamlet_code", "recorded_at"),
            required=(
                "decision_id",
                "province_code",
                "commune_code",
                "hamlet_code",
                "households_consulted",
                "households_in_favour",
                "consulted_date",
                "is_passed",
            ),
        ),
        Table(
            "planning",
            "commune_steps",
            "A commune's steps on a drafted plan before its council resolves (conference, "
            "party committee's opinion)",
            (
                "decision_id",
                "province_code",
                "commune_code",
                "step",
                "step_date",
                "document",
                "recorded_by",
                "note",
                "recorded_at",
            ),
            # Append-only: a correction is a later row; readers take the latest.
            primary_key=("decision_id", "step", "recorded_at"),
            required=("decision_id", "province_code", "commune_code", "step", "step_date"),
        ),
        Table(
            "planning",
            "council_approvals",
            "The commune People's Council's approval of a drafted plan (decision)",
            (
                "decision_id",
                "province_code",
                "commune_code",
                "approved_date",
                "resolution_number",
                "recorded_by",
                "note",
                "recorded_at",
            ),
            primary_key=("decision_id", "recorded_at"),
            required=("decision_id", "province_code", "commune_code", "approved_date"),
        ),
        Table(
            "marts",
            "publications",
            "One row per publication of a province: which run, under which rules, when, "
            "and whether it overrode the shrink guard",
            ("province_code", "run_id", "rules_profile", "published_at", "shrink_override"),
            primary_key=("province_code", "run_id"),
        ),
        Table(
            "marts",
            "hamlets",
            "Hamlets today: counts from clean records, compliance, boundary",
            (
                "province_code",
                "commune_code",
                "hamlet_code",
                "name_prefix",
                "hamlet_name",
                *HAMLET_COMPLIANCE,
                "issue_count",
                "held_households",
                "held_persons",
                "area_km2",
                "geometry",
                *PUBLICATION_STAMP,
            ),
            primary_key=("run_id", "hamlet_code"),
        ),
        Table(
            "marts",
            "merger_assignments",
            "Each option's assignment of hamlets to units, with the reason for every merge",
            (
                "province_code",
                "commune_code",
                "option_name",
                "hamlet_code",
                "unit_id",
                "is_merged",
                "explanation",
                *PUBLICATION_STAMP,
            ),
            primary_key=("run_id", "option_name", "hamlet_code"),
        ),
        Table(
            "marts",
            "merged_units",
            "Units after merging, per option, with geometry",
            (
                "province_code",
                "commune_code",
                "option_name",
                *MERGED_UNIT_COLUMNS,
                *PUBLICATION_STAMP,
            ),
            primary_key=("run_id", "option_name", "unit_id"),
        ),
        Table(
            "marts",
            "merger_options",
            "One row per option and commune with its scores",
            (
                "province_code",
                "commune_code",
                "option_name",
                "units_before",
                "units_after",
                "compliant_units_after",
                "noncompliant_units_after",
                "noncompliant_reasons",
                "compliant_share_after",
                "households_per_unit_min",
                "households_per_unit_median",
                "mean_polsby_popper",
                "min_polsby_popper",
                "households_moved",
                "max_household_distance_km",
                "ethnic_cohesion",
                "positions_before",
                "positions_after",
                *ALLOWANCE_FUNDS,
                "composite_score",
                "is_pareto_optimal",
                "optimality_status",
                *PUBLICATION_STAMP,
            ),
            primary_key=("run_id", "option_name", "commune_code"),
        ),
        Table(
            "marts",
            "province_summary",
            "Per option, the province's totals",
            (
                "province_code",
                "option_name",
                "communes",
                "optimal_communes",
                "units_before",
                "units_after",
                "compliant_units_after",
                "noncompliant_units_after",
                "households_moved",
                "positions_before",
                "positions_after",
                *ALLOWANCE_FUNDS,
                *PUBLICATION_STAMP,
            ),
            primary_key=("run_id", "province_code", "option_name"),
        ),
        Table(
            "marts",
            "commune_summary",
            "Per commune: hamlets, households and compliance before merging",
            (
                "province_code",
                "commune_code",
                "commune_name",
                "unit_kind",
                "region",
                "hamlets",
                "households",
                "population",
                "below_standard_hamlets",
                "exempt_hamlets",
                "awaiting_guidance_hamlets",
                "held_households",
                "held_persons",
                *PUBLICATION_STAMP,
            ),
            primary_key=("run_id", "commune_code"),
        ),
        Table(
            "marts",
            "validation_summary",
            "Per commune and rule: counts of record issues (aggregates only)",
            (
                "province_code",
                "commune_code",
                "table_name",
                "rule",
                "severity",
                "issue_count",
                *PUBLICATION_STAMP,
            ),
            primary_key=("run_id", "commune_code", "table_name", "rule", "severity"),
        ),
        # Published from planners' decisions (planning.decisions), after the marts above.
        Table(
            "marts",
            "approved_publications",
            "One row per publication of a province's approved plan",
            ("province_code", "run_id", "rules_profile", "published_at"),
            primary_key=("province_code", "run_id"),
        ),
        Table(
            "marts",
            "approved_plan",
            "Units of each commune's council-resolved plan, with today's counts and geometry",
            (
                "province_code",
                "commune_code",
                "decision_id",
                "option_name",
                *MERGED_UNIT_COLUMNS,
                "decided_at",
                "resolution_number",
                "approved_date",
                *PUBLICATION_STAMP,
            ),
            primary_key=("run_id", "unit_id"),
        ),
        Table(
            "marts",
            "approved_staffing",
            "Per approved unit: part-time positions kept and those of merged units that end",
            (
                "province_code",
                "commune_code",
                "decision_id",
                "unit_id",
                "hamlet_kind",
                "member_hamlet_codes",
                "member_count",
                "households",
                "positions_before",
                "positions_kept",
                "positions_ending",
                "ending_hamlet_codes",
                *ALLOWANCE_FUNDS,
                *PUBLICATION_STAMP,
            ),
            primary_key=("run_id", "unit_id"),
        ),
        # Weekly progress against the directive's deadlines (no personal data).
        Table(
            "marts",
            "progress_publications",
            "One row per publication of a province's progress report",
            ("province_code", "run_id", "rules_profile", "published_at"),
            primary_key=("province_code", "run_id"),
        ),
        Table(
            "marts",
            "commune_progress",
            "Each commune's progress (no plan, drafted, consulted, approved) with dates",
            (
                "province_code",
                "commune_code",
                "commune_name",
                "progress_status",
                "plan_drafted_date",
                "advisory_conference_date",
                "party_opinion_date",
                "consulted_date",
                "approved_date",
                "resolution_number",
                "has_failed_consultation",
                "decision_id",
                "late_milestones",
                "report_date",
                *PUBLICATION_STAMP,
            ),
            primary_key=("run_id", "commune_code"),
        ),
        Table(
            "marts",
            "progress_timeline",
            "Communes per progress status, week by week up to the report date",
            (
                "province_code",
                "week_date",
                "progress_status",
                "communes",
                "report_date",
                *PUBLICATION_STAMP,
            ),
            primary_key=("run_id", "week_date", "progress_status"),
        ),
        Table(
            "meta",
            "schema_versions",
            "The warehouse's schema versions, one row per migration applied (a new "
            "warehouse: one row, the version its tables were created at)",
            ("version", "applied_at", "description"),
            primary_key=("version",),
            required=("version", "applied_at", "description"),
        ),
    ]
}


def table(qualified_name: str) -> Table:
    """Look a table up by ``layer.name``, with a clear error for a typo."""
    try:
        return TABLES[qualified_name]
    except KeyError:
        raise KeyError(
            f"no contract for table {qualified_name!r}; known: {sorted(TABLES)}"
        ) from None


def data_dictionary() -> pd.DataFrame:
    """Every table's columns with English and Vietnamese labels (for exports and docs)."""
    rows = [
        {
            "table": t.qualified_name,
            "column": f.name,
            "type": f.type,
            "label_vi": f.label_vi,
            "description": f.description,
            "is_personal": f.is_personal,
            "is_primary_key": f.name in t.primary_key,
        }
        for t in TABLES.values()
        for f in t.fields
    ]
    return pd.DataFrame(rows)


def _in_flow_order(item: tuple[str, object]) -> tuple[int, str]:
    """Sort key of ``(layer.table, ...)`` pairs: layers in flow order, then by name."""
    return LAYERS.index(item[0].split(".")[0]), item[0]


def personal_data_inventory() -> pd.DataFrame:
    """Every table that holds personal data, with its personal columns, derived from the
    contracts.

    The list a data protection review (Decree 13/2023/NĐ-CP) starts from; every table in
    it must be in a restricted layer, which ``Table.enforce`` and the tests hold to.
    """
    rows = [
        {
            "table": name,
            "layer": name.split(".")[0],
            "column": f.name,
            "label_vi": f.label_vi,
            "description": f.description,
        }
        for name, table in sorted(TABLES.items(), key=_in_flow_order)
        for f in table.fields
        if f.is_personal
    ]
    return pd.DataFrame(rows, columns=["table", "layer", "column", "label_vi", "description"])
