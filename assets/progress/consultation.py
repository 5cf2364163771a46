"""Residents' consultation on a drafted plan: results per affected hamlet, and the
profile's approval rule.

Residents of every hamlet whose unit merges are consulted on the plan (ND 185/2026
Art. 12); a merge passes only where more than ``consultation_approval_share`` of the
hamlet's household representatives are in favour (the rules profile; 50% by default, as
in TT 04/2012). ``households_consulted`` is the hamlet's household representatives on
the consultation list, so the share is of all of them, not only of those who answered.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from assets.decisions.record import read_decision_assignments
from assets.planning.rules import RulesProfile
from assets.progress.records import (
    CONSULTATIONS,
    ProgressRecordError,
    affected_hamlets,
    decision_of,
)
from assets.progress.status import local_day
from assets.warehouse import Warehouse
from expectations.schemas import TABLES

RESULT_COLUMNS = (
    "hamlet_code",
    "households_consulted",
    "households_in_favour",
    "households_against",
    "consulted_date",
)
NOTEBOOK = "notebook"  # source of results typed in a notebook, rather than a file


def consultation_rows(
    decision: pd.Series,
    assignment: pd.DataFrame,
    results: pd.DataFrame,
    rules: RulesProfile,
    *,
    recorded_by: str,
    source_file: str = NOTEBOOK,
) -> pd.DataFrame:
    """``results`` (``RESULT_COLUMNS``) as planning.consultations rows, the approval
    rule applied; every problem of the input in one ProgressRecordError."""
    missing = [c for c in RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise ProgressRecordError(f"kết quả lấy ý kiến thiếu cột {', '.join(missing)}")
    if not recorded_by or not recorded_by.strip():
        raise ProgressRecordError("recorded_by: the name of who records it is required")
    given = results[list(RESULT_COLUMNS)].copy()
    given["hamlet_code"] = given["hamlet_code"].astype(str).str.strip()
    counts = ["households_consulted", "households_in_favour", "households_against"]
    given[counts] = given[counts].apply(pd.to_numeric, errors="coerce").astype("Int64")
    given["consulted_date"] = pd.to_datetime(
        given["consulted_date"], errors="coerce", dayfirst=True
    )
    affected = affected_hamlets(assignment).set_index("hamlet_code")["unit_id"]
    decided = local_day(pd.Series([decision["decided_at"]])).iloc[0]
    problems = []
    for row in given.itertuples(index=False):
        where = f"thôn/TDP {row.hamlet_code}"
        if row.hamlet_code not in affected.index:
            problems.append(f"{where}: không thuộc đơn vị sáp nhập của quyết định")
        if any(pd.isna(getattr(row, c)) or getattr(row, c) < 0 for c in counts):
            problems.append(f"{where}: số hộ phải là số nguyên không âm")
        elif row.households_in_favour + row.households_against > row.households_consulted:
            problems.append(f"{where}: số hộ tán thành và không tán thành vượt số hộ lấy ý kiến")
        elif row.households_consulted == 0:
            problems.append(f"{where}: không có hộ nào được lấy ý kiến")
        if pd.isna(row.consulted_date):
            problems.append(f"{where}: thiếu hoặc sai ngày lấy ý kiến")
        elif row.consulted_date.normalize() < decided:
            problems.append(f"{where}: ngày lấy ý kiến trước ngày có đề án ({decided:%d/%m/%Y})")
    twice = sorted(given.loc[given["hamlet_code"].duplicated(), "hamlet_code"])
    if twice:
        problems.append(f"thôn/TDP có hai kết quả: {', '.join(twice)}")
    if problems:
        raise ProgressRecordError("kết quả lấy ý kiến không hợp lệ:\n- " + "\n- ".join(problems))
    share = given["households_in_favour"] / given["households_consulted"]
    rows = given.assign(
        decision_id=decision["decision_id"],
        province_code=decision["province_code"],
        commune_code=decision["commune_code"],
        unit_id=given["hamlet_code"].map(affected),
        in_favour_share=share.astype(float).round(4),
        required_share=rules.consultation_approval_share,
        is_passed=share.astype(float) > rules.consultation_approval_share,
        recorded_by=recorded_by.strip(),
        source_file=source_file,
        recorded_at=pd.Timestamp(datetime.now(UTC)),
    )
    return TABLES[CONSULTATIONS].enforce(rows)


def record_consultation(
    warehouse: Warehouse,
    province_code: str,
    decision_id: str,
    results: pd.DataFrame,
    rules: RulesProfile,
    *,
    recorded_by: str,
    source_file: str = NOTEBOOK,
) -> pd.DataFrame:
    """Check and write the results (a later entry for a hamlet replaces its earlier one);
    returns the rows written, with ``is_passed`` per hamlet."""
    decision = decision_of(warehouse, province_code, decision_id)
    assignment = read_decision_assignments(warehouse, [decision_id])
    rows = consultation_rows(
        decision, assignment, results, rules, recorded_by=recorded_by, source_file=source_file
    )
    with warehouse.transaction() as session:
        for hamlet in rows["hamlet_code"]:
            where = {"decision_id": decision_id, "hamlet_code": hamlet}
            warehouse.write_table(
                CONSULTATIONS, rows[rows["hamlet_code"] == hamlet], con=session, replace_where=where
            )
    return rows
