"""Vietnamese number and length formatting shared by the planners' explanations."""

from __future__ import annotations

import pandas as pd


def name_lookup(names: pd.Series | None) -> dict[str, str]:
    """Hamlet display names by code, without blanks (a code stands in where none)."""
    if names is None:
        return {}
    return {str(k): str(v).strip() for k, v in names.items() if not pd.isna(v) and str(v).strip()}


def upper_first(text: str) -> str:
    """Capitalise a sentence that may start with a lower-case name ("nhóm …")."""
    return text[:1].upper() + text[1:]


def count_vi(n: int) -> str:
    """Vietnamese thousands grouping: 1.250."""
    return f"{n:,}".replace(",", ".")


def distance_vi(metres: float) -> str:
    """Boundary length as a planner reads it: '850 m' or '1,2 km'."""
    if metres < 1000:
        return f"{count_vi(round(metres))} m"
    return f"{metres / 1000:.1f}".replace(".", ",") + " km"


def awaiting_vi(label: str, households: int, standard: int) -> str:
    """A special-case hamlet kept while the province has not set its category's floor."""
    return (
        f"Diện đặc thù ({label}): {count_vi(households)} hộ < tiêu chuẩn {count_vi(standard)} "
        "hộ, tỉnh chưa quy định mức thấp hơn: dưới chuẩn — chờ hướng dẫn của tỉnh, tạm giữ "
        "nguyên (phương án không tính diện đặc thù: xem tổng hợp)."
    )
