"""What the validation-report notebook for police/data units shows: issue counts by
commune and rule, the records of one hamlet with what to fix, how values were read
(aliases recovered, values outside a vocabulary), households held with their members, and
the reconciliation of counts (landed = staged + rejected; records in = clean +
quarantined; registry against records).

RESTRICTED: ``hamlet_records`` returns names, citizen IDs and birth dates. It reads the
restricted layers (staging, quality), which only the data unit's role may read; its
output must stay on the data unit's machines (never in marts, exports or logs).
"""

from __future__ import annotations

import pandas as pd

from assets.quality.holds import UNKNOWN_COMMUNE
from assets.staging.defs import REJECTED_ROWS, STAGED_FROM
from assets.staging.reconcile import reconcile_counts
from assets.warehouse import Warehouse

UNKNOWN_COMMUNE_VI = "Chưa rõ xã"  # records whose household's commune is unknown
RESTRICTED_NOTICE = (
    "DỮ LIỆU HẠN CHẾ — chứa thông tin cá nhân (họ tên, số định danh, ngày sinh) theo "
    "Nghị định 13/2023/NĐ-CP và Luật Bảo vệ dữ liệu cá nhân: chỉ dùng trong đơn vị công an/"
    "dữ liệu, không sao chép, không gửi đi, không lưu kết quả của sổ tay này ra ngoài. "
    "(RESTRICTED: personal data; keep on the data unit's machines.)"
)


def issue_counts(warehouse: Warehouse, province_code: str) -> pd.DataFrame:
    """Issues per rule (rows) and commune (columns), from the published counts. Rules
    are rows: their keys (``required_missing``…) are values the notebook explains, not
    headers."""
    counts = warehouse.query(
        "SELECT commune_code, rule, severity, sum(issue_count) AS issues "
        "FROM marts.validation_summary_current WHERE province_code = ? "
        "GROUP BY commune_code, rule, severity",
        [province_code],
    )
    counts["rule"] = counts["rule"] + " (" + counts["severity"] + ")"
    counts["commune_code"] = counts["commune_code"].replace(UNKNOWN_COMMUNE, UNKNOWN_COMMUNE_VI)
    table = counts.pivot_table(
        index="rule", columns="commune_code", values="issues", aggfunc="sum", fill_value=0
    )
    table["Tổng"] = table.sum(axis=1)
    return table.astype("int64").rename_axis(index="Quy tắc (mức độ)", columns="Mã xã")


def hamlet_records(warehouse: Warehouse, province_code: str, hamlet_code: str) -> pd.DataFrame:
    """RESTRICTED: every issue of one hamlet's records, with the person's details and
    what to fix, one row per record and rule."""
    scoped = warehouse.for_province(province_code)
    issues_rows, issues_params = scoped.rows_filter("quality.record_issues", alias="i")
    persons_rows, persons_params = scoped.rows_filter("staging.persons", alias="p")
    return scoped.query(
        "SELECT i.record_id, i.table_name, p.household_id, p.full_name, p.citizen_id, "
        "p.birth_date, p.sex, p.relation_to_head, i.rule, i.field_name, i.severity, i.message "
        "FROM quality.record_issues i LEFT JOIN staging.persons p "
        f"ON p.record_id = i.record_id AND {persons_rows} "
        f"WHERE i.hamlet_code = ? AND {issues_rows} "
        "ORDER BY i.severity, i.rule, i.record_id",
        [*persons_params, hamlet_code, *issues_params],
    )


def file_reconciliation(warehouse: Warehouse, province_code: str) -> pd.DataFrame:
    """Per landed file: rows landed, staged and rejected (nothing lost)."""
    scoped = warehouse.for_province(province_code)
    frames = [
        reconcile_counts(scoped, table, raw, REJECTED_ROWS).assign(table_name=table)
        for table, raw in STAGED_FROM.items()
    ]
    return pd.concat(frames, ignore_index=True)


def person_reconciliation(warehouse: Warehouse, province_code: str) -> pd.DataFrame:
    """Person records in = clean + quarantined."""
    scoped = warehouse.for_province(province_code)
    counts = {}
    for label, table in (
        ("records_in", "staging.persons"),
        ("records_clean", "quality.persons_clean"),
        ("records_quarantined", "quality.persons_quarantined"),
    ):
        rows, params = scoped.rows_filter(table)
        counts[label] = int(
            scoped.query(f"SELECT count(*) AS n FROM {table} WHERE {rows}", params)["n"].iloc[0]
        )
    counts["balanced"] = (
        counts["records_in"] == counts["records_clean"] + counts["records_quarantined"]
    )
    return pd.DataFrame([counts])


def value_readings(warehouse: Warehouse, province_code: str) -> pd.DataFrame:
    """How person values were read other than as written, per field, reading and outcome:
    an alias read as its official ethnic group (``recovered``), a value outside the
    vocabulary (``warned`` or ``quarantined``, an ``invalid_value`` issue). Counts only."""
    scoped = warehouse.for_province(province_code)
    rows, params = scoped.rows_filter("staging.value_readings")
    return scoped.query(
        "SELECT field_name, outcome, reading, sum(records) AS records "
        "FROM staging.value_readings "
        f"WHERE table_name = ? AND {rows} "
        "GROUP BY field_name, outcome, reading ORDER BY field_name, outcome, reading",
        ["staging.persons", *params],
    )


def held_households(warehouse: Warehouse, province_code: str) -> pd.DataFrame:
    """Households held in quarantine per commune and reason (their members are held with
    them, not counted in any hamlet until corrected). Counts only."""
    scoped = warehouse.for_province(province_code)
    rows, params = scoped.rows_filter("quality.households_quarantined")
    return scoped.query(
        "SELECT commune_code, reasons, count(*) AS households "
        f"FROM quality.households_quarantined WHERE {rows} "
        "GROUP BY commune_code, reasons ORDER BY commune_code, reasons",
        params,
    )


def registry_gaps(warehouse: Warehouse, province_code: str) -> pd.DataFrame:
    """Hamlets whose registry figures and counted records disagree beyond tolerance."""
    scoped = warehouse.for_province(province_code)
    table = scoped.read_table("quality.hamlet_count_reconciliation")
    return table[~table["within_tolerance"].fillna(False).astype(bool)].reset_index(drop=True)


def hamlet_with_most_issues(warehouse: Warehouse, province_code: str) -> str:
    """The hamlet to open first: the one with the most record issues."""
    scoped = warehouse.for_province(province_code)
    rows, params = scoped.rows_filter("quality.record_issues")
    found = scoped.query(
        "SELECT hamlet_code, count(*) AS n FROM quality.record_issues "
        f"WHERE hamlet_code IS NOT NULL AND {rows} GROUP BY hamlet_code "
        "ORDER BY n DESC, hamlet_code LIMIT 1",
        params,
    )
    if found.empty:
        raise LookupError(f"province {province_code}: no record issues")
    return str(found["hamlet_code"].iloc[0])
