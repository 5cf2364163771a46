"""The effective rules of a province, as Vietnamese text an official can check line by
line against the legal texts: each figure with the source the rules file names for it.

Only reads a loaded ``RulesProfile`` (profile + the province's override); the command
``hamlets rules show`` prints it.
"""

from __future__ import annotations

from datetime import date

from assets.planning.rules import HAMLET_KIND_LABELS_VI, HAMLET_KINDS, RulesProfile

# Said once, so no reader takes the project's region mapping for the decree's words.
REGION_NOTE_VI = (
    "Nghị định không liệt kê vùng của từng tỉnh: bảng tỉnh → vùng là giả định của dự án "
    "(cấu hình được, tỉnh sửa trong tệp điều chỉnh)"
)


def _number(value: float) -> str:
    """1250 -> '1.250'; 6.5 -> '6,5' (Vietnamese marks)."""
    if float(value).is_integer() and not isinstance(value, float):
        return f"{int(value):,}".replace(",", ".")
    return f"{value:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def _day(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else "không ghi"


def _standards(rules: RulesProfile, region: str, province_code: str | None) -> list[str]:
    lines = []
    for kind in HAMLET_KINDS:
        std = rules.standard_for(region, kind, province_code)
        floor = rules.mandatory_floor_for(region, kind, province_code)
        lines.append(
            f"    - {HAMLET_KIND_LABELS_VI[kind]}: tối thiểu {_number(std)} hộ; "
            f"dưới {_number(floor)} hộ phải sắp xếp"
        )
    return lines


def describe_rules(rules: RulesProfile, province_code: str | None = None) -> str:
    """The rules in force for ``province_code`` (every region when None), in Vietnamese,
    each figure followed by its source as the rules file cites it."""
    share = f"{rules.mandatory_floor_share * 100:g}".replace(".", ",")
    out = [
        f"Quy tắc áp dụng: {rules.title_vi} (hồ sơ {rules.name})",
        f"Căn cứ pháp lý: {rules.legal_basis}",
        f"Hiệu lực từ: {_day(rules.effective_from)}",
        f"Tệp quy tắc: {rules.source}",
        "",
    ]
    if province_code is None:
        regions = list(rules.region_labels_vi)  # in the file's order
        out.append("Vùng của các tỉnh (" + REGION_NOTE_VI + "):")
        for region in regions:
            codes = sorted(c for c, r in rules.province_regions.items() if r == region)
            out.append(f"  - {rules.region_label(region)}: tỉnh {', '.join(codes) or 'không có'}")
    else:
        region = rules.region_for(province_code)
        out.append(f"Tỉnh {province_code}: vùng {rules.region_label(region)} ({REGION_NOTE_VI}).")
        regions = [region]
    listed = rules.commune_regions or {}
    if listed:
        out.append(
            "Xã/phường tính theo vùng khác vùng của tỉnh (tỉnh quy định trong tệp điều chỉnh):"
        )
        for other in sorted(set(listed.values())):
            codes = sorted(c for c, r in listed.items() if r == other)
            out.append(f"  - {rules.region_label(other)}: {', '.join(codes)}")
            if other not in regions:
                regions.append(other)
    out += ["", f"Tiêu chuẩn số hộ ({rules.citations['standard']}):"]
    for region in regions:
        out.append(f"  Vùng {rules.region_label(region)}:")
        out += _standards(rules, region, province_code)
    out.append(
        f"  Ngưỡng bắt buộc sắp xếp: dưới {share}% tiêu chuẩn ({rules.citations['mandatory']}); "
        "từ ngưỡng đó đến dưới tiêu chuẩn: khuyến khích sắp xếp."
    )
    out += ["", f"Trường hợp đặc thù ({rules.citations['exemption']}):"]
    if not rules.exemption_categories:
        out.append("  - không có")
    for key, label in rules.exemption_categories.items():
        out.append(f"  - {label} [{key}]: {_special_floor(rules, key)}")
        out.append(f"    {_category_list(rules, key)}")
    tiers = rules.allowance_high_tier_households
    high = ", ".join(f"{HAMLET_KIND_LABELS_VI[k]} từ {_number(tiers[k])} hộ" for k in HAMLET_KINDS)
    out += [
        "",
        f"Người hoạt động không chuyên trách và phụ cấp ({rules.allowance_basis}):",
        f"  - Tối đa {rules.part_time_positions_per_unit} người mỗi thôn, tổ dân phố.",
        f"  - Quỹ phụ cấp {_number(rules.allowance_multiplier_high)} × lương cơ sở/tháng: {high}"
        + "".join(
            f"; {label} ({_category_list(rules, key)})"
            for key, label in rules.allowance_high_tier_categories.items()
        )
        + ".",
        f"  - Quỹ phụ cấp {_number(rules.allowance_multiplier_standard)} × lương cơ sở/tháng: "
        "các thôn, tổ dân phố còn lại.",
        "  Lương cơ sở:",
    ]
    for step in rules.base_salary_vnd_per_month:
        out.append(
            f"  - {_number(step.amount_vnd)} đồng/tháng từ {_day(step.effective_from)} "
            f"({step.basis})"
        )
    out += ["", _consultation(rules)]
    return "\n".join(out) + "\n"


def _category_list(rules: RulesProfile, category: str) -> str:
    """Which units are in ``category`` and on what source: the province's list (with its
    document), else only what the registry says of each hamlet."""
    listed = rules.category_lists.get(category)
    if listed is None and category in rules.exemption_categories:
        return "danh sách: tỉnh chưa cung cấp; theo cột diện đặc thù của sổ đăng ký thôn, TDP"
    if listed is None:
        return "danh sách: tỉnh chưa cung cấp"
    return (
        f"danh sách của tỉnh: {len(listed.get('communes') or [])} xã/phường, "
        f"{len(listed.get('hamlets') or [])} thôn, tổ dân phố; nguồn: {listed['source']}"
    )


def _special_floor(rules: RulesProfile, category: str) -> str:
    """How much smaller than the standard a unit of ``category`` may be (Art. 10.3: the
    province's guidance), or that the province has not said yet."""
    form = (rules.special_case_floors or {}).get(category)
    if form is not None:
        how, value = form
        if how == "share":
            return f"tối thiểu {_number(value * 100)}% tiêu chuẩn (tỉnh quy định)"
        return f"tối thiểu {_number(int(value))} hộ (tỉnh quy định)"
    if rules.exempt_floor_households is not None:
        return (
            f"tối thiểu {_number(rules.exempt_floor_households)} hộ "
            f"({rules.citations['exemption']})"
        )
    return "mức tối thiểu chưa quy định: chờ hướng dẫn của tỉnh (dưới tiêu chuẩn vẫn ghi nhận)"


def _consultation(rules: RulesProfile) -> str:
    """The approval share is the province's choice (ND 185 sets none), said as such."""
    share = rules.consultation_approval_share
    if share is None:
        return (
            "Lấy ý kiến Nhân dân: hồ sơ quy tắc không quy định tỷ lệ tán thành (Nghị định "
            "185/2026/NĐ-CP không quy định); tỉnh cần quy định trong tệp điều chỉnh."
        )
    approval = f"{share * 100:g}".replace(".", ",")
    basis = rules.consultation_rule_basis or "không ghi căn cứ"
    return (
        f"Lấy ý kiến Nhân dân: phương án được thông qua khi trên {approval}% hộ gia đình ở mỗi "
        f"thôn, tổ dân phố liên quan đồng ý — quy định của tỉnh/hồ sơ, không phải của Nghị "
        f"định (căn cứ: {basis}; tệp {rules.source})."
    )
