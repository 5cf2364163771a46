"""Vietnamese explanations for the optimised options (compliant, consolidated).

Every member of a merged unit carries the unit's whole story, as in the minimal option:
which rule made the merge necessary (members below the standard or the mandatory floor,
with the legal citation; for the consolidated option, the target and the allowance tier
it reaches), why this group (adjacent hamlets of one kind; the most units the cluster
allows, proven or not; then the most compact grouping and the fewest households moved),
and what the unit becomes. Units that stay as they are say why.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from assets.planning.compliance import (
    AWAITING,
    BELOW_FLOOR,
    BELOW_STANDARD,
    EXEMPT,
    SPECIAL_STATUSES,
)
from assets.planning.option_kinds import CONSOLIDATED
from assets.planning.rules import HAMLET_KIND_LABELS_VI, RulesProfile
from assets.planning.solve import FEASIBLE, OPTIMAL
from assets.planning.wording import awaiting_vi, count_vi, distance_vi, name_lookup, upper_first


@dataclass(frozen=True)
class Member:
    code: str
    households: int
    standard: int
    floor: int
    status: str
    exemption: str | None


@dataclass(frozen=True)
class UnitFacts:
    """What an explanation needs to know about one unit of a plan."""

    option: str
    kind: str
    members: tuple[Member, ...]  # the first is the largest, whose code the unit keeps
    households: int
    standard: int  # the strictest standard among members
    target: int  # households the unit was planned to: the standard, or the option's target
    aim: int  # the option's own target (consolidated), even where out of reach
    is_compliant: bool
    internal_m: float  # boundary shared inside the unit
    reason: str | None  # why it cannot comply, when it does not
    cluster_hamlets: int
    cluster_units: int
    cluster_households: int
    cluster_status: str
    cluster_bound: int
    fallback: bool  # consolidated target out of reach: the cluster uses the standard


class Explainer:
    """Sentences with hamlet names where known, codes otherwise."""

    def __init__(self, names: pd.Series | None, rules: RulesProfile) -> None:
        self.names = name_lookup(names)
        self.rules = rules
        self.allowance_cite = rules.allowance_basis.split(" (")[0]

    def name(self, code: str) -> str:
        return self.names.get(code, code)

    def listing(self, members: tuple[Member, ...] | list[Member]) -> str:
        return ", ".join(f"{self.name(m.code)} ({count_vi(m.households)} hộ)" for m in members)

    def explain(self, unit: UnitFacts) -> str:
        if len(unit.members) == 1:
            return self._single(unit)
        return self._merged(unit)

    # --- units left alone -----------------------------------------------------------

    def _single(self, unit: UnitFacts) -> str:
        m = unit.members[0]
        prefix = self._fallback(unit)
        if m.status == EXEMPT:
            label = self.rules.exemption_categories.get(m.exemption or "", m.exemption or "")
            return prefix + f"Diện đặc thù ({label}): giữ nguyên."
        if m.status == AWAITING:
            label = self.rules.exemption_categories.get(m.exemption or "", m.exemption or "")
            return prefix + awaiting_vi(label, m.households, m.standard)
        if unit.is_compliant:
            if unit.option == CONSOLIDATED and not unit.fallback:
                return prefix + (
                    f"Đạt mục tiêu hợp nhất {count_vi(m.households)} hộ ≥ "
                    f"{count_vi(unit.target)}: giữ nguyên."
                )
            return prefix + (
                f"Đạt chuẩn {count_vi(m.households)} hộ ≥ {count_vi(unit.standard)}: giữ nguyên."
            )
        return prefix + (
            f"{self.name(m.code)} ({count_vi(m.households)} hộ) dưới tiêu chuẩn "
            f"{count_vi(unit.standard)} hộ ({self.rules.citations['standard']}) nhưng không "
            f"thể đạt chuẩn: {unit.reason}; giữ nguyên, cần xem xét riêng."
        )

    def _fallback(self, unit: UnitFacts) -> str:
        if unit.option != CONSOLIDATED or not unit.fallback:
            return ""
        return (
            f"Cả cụm liền kề chỉ có {count_vi(unit.cluster_households)} hộ < mục tiêu hợp "
            f"nhất {count_vi(unit.aim)} hộ: áp dụng tiêu chuẩn như phương án đạt chuẩn. "
        )

    # --- merged units ---------------------------------------------------------------

    def _merged(self, unit: UnitFacts) -> str:
        kind = HAMLET_KIND_LABELS_VI[unit.kind]
        consolidated = unit.option == CONSOLIDATED and not unit.fallback
        parts: list[str] = []
        head = self._fallback(unit)
        below = [m for m in unit.members if m.status in (BELOW_FLOOR, BELOW_STANDARD)]
        if consolidated:
            head += (
                f"{self._consolidated_rule(unit, kind)}: sáp nhập {self.listing(unit.members)} "
                f"thành một {kind} {count_vi(unit.households)} hộ ≥ {count_vi(unit.target)} hộ"
            )
        else:
            others = [m for m in unit.members if m not in below]
            trigger = self._trigger(unit)
            head += trigger + ": sáp nhập " if trigger else "Sáp nhập "
            head += (
                f"với {self.listing(others)}"
                if others and below
                else "với nhau"
                if below
                else self.listing(unit.members)
            )
            head += f" thành một {kind} {count_vi(unit.households)} hộ"
            if unit.is_compliant:
                head += f", đạt chuẩn {count_vi(unit.standard)} hộ"
        parts.append(head)
        if consolidated and len(below) == len(unit.members):
            standard = count_vi(below[0].standard)
            parts.append(
                f"Cả {len(below)} {kind} đều dưới tiêu chuẩn {standard} hộ "
                f"({self.rules.citations['standard']})"
            )
        elif consolidated and below:
            parts.append("Trong đó " + self._trigger(unit))
        joined = [m for m in unit.members if m.status in SPECIAL_STATUSES]
        if joined:
            parts.append(
                f"{upper_first(', '.join(self.name(m.code) for m in joined))} thuộc diện đặc thù "
                "nhưng được ghép để cả nhóm đạt chuẩn"
            )
        parts.append(self._why(unit, kind))
        parts.append(
            f"Đơn vị sau sắp xếp gồm {len(unit.members)} {kind}, {count_vi(unit.households)} "
            f"hộ, giữ mã của {self.name(unit.members[0].code)} (đông hộ nhất)"
        )
        return ". ".join(parts) + "."

    def _consolidated_rule(self, unit: UnitFacts, kind: str) -> str:
        tier = self.rules.allowance_high_tier_households.get(unit.kind)
        text = f"Phương án hợp nhất: mục tiêu {count_vi(unit.target)} hộ mỗi {kind}"
        if tier == unit.target:
            multiplier = f"{self.rules.allowance_multiplier_high:.1f}".replace(".", ",")
            text += (
                f" (mức được hưởng quỹ phụ cấp {multiplier} lần mức lương cơ sở, "
                f"{self.allowance_cite}), để giảm số đơn vị và chi phụ cấp"
            )
        return text

    def _trigger(self, unit: UnitFacts) -> str:
        """Members below their standard, with the rule that makes them merge."""
        cite_m = self.rules.citations["mandatory"]
        cite_s = self.rules.citations["standard"]
        out = []
        floor = [m for m in unit.members if m.status == BELOW_FLOOR]
        encouraged = [m for m in unit.members if m.status == BELOW_STANDARD]
        if floor:
            at_standard = all(m.floor == m.standard for m in floor)
            limit = floor[0].standard if at_standard else floor[0].floor
            what = "tiêu chuẩn" if at_standard else "ngưỡng bắt buộc"
            out.append(f"{self.listing(floor)} dưới {what} {count_vi(limit)} hộ ({cite_m})")
        if encouraged:
            out.append(
                f"{self.listing(encouraged)} dưới tiêu chuẩn {count_vi(encouraged[0].standard)} "
                f"hộ ({cite_s}; khuyến khích sắp xếp, phương án này đưa mọi đơn vị về chuẩn)"
            )
        return upper_first("; ".join(out)) if out else ""

    def _why(self, unit: UnitFacts, kind: str) -> str:
        goal = "đạt mục tiêu" if unit.option == CONSOLIDATED and not unit.fallback else "đạt chuẩn"
        text = (
            f"Chọn nhóm này vì các {kind} liền kề nhau (ranh giới chung "
            f"{distance_vi(unit.internal_m)}) và cách ghép giữ được nhiều đơn vị {goal} nhất: "
            f"{unit.cluster_units} đơn vị cho {unit.cluster_hamlets} {kind} của cụm liền kề"
        )
        if unit.cluster_status == OPTIMAL:
            text += " (tối ưu, đã chứng minh)"
        elif unit.cluster_status == FEASIBLE:
            text += f" (tốt nhất tìm được; cận trên {unit.cluster_bound} đơn vị)"
        else:
            text += " (lời giải gần đúng, chưa chứng minh tối ưu)"
        return (
            text + "; trong các cách cùng số đơn vị, chọn cách gọn nhất và ít hộ phải chuyển nhất"
        )


def noncompliance_reason(
    *,
    kind: str,
    standard: int,
    cluster_hamlets: int,
    cluster_households: int,
    kind_hamlets_in_commune: int,
    has_neighbour: bool,
    other_kinds: str,
) -> str:
    """Why a unit cannot reach its standard (phrases shared with the minimal option)."""
    kind_vi = HAMLET_KIND_LABELS_VI[kind]
    if cluster_hamlets == 1:
        if kind_hamlets_in_commune == 1:
            return f"là {kind_vi} duy nhất của xã"
        if not has_neighbour:
            return "không có thôn/tổ dân phố nào liền kề (tách biệt)"
        return f"không có {kind_vi} liền kề cùng loại (chỉ giáp {other_kinds})"
    if cluster_households < standard:
        if cluster_hamlets == kind_hamlets_in_commune:
            return (
                f"toàn bộ {kind_vi} của xã chỉ có {count_vi(cluster_households)} hộ "
                f"< {count_vi(standard)}"
            )
        return f"cả cụm liền kề chỉ có {count_vi(cluster_households)} hộ < {count_vi(standard)}"
    return "chưa tìm được cách ghép liền kề nào đạt chuẩn mà không làm đơn vị khác mất chuẩn"
