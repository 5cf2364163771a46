"""Values that are accepted but flagged for the data unit to complete.

A 9-digit number is an old identity card (CMND) that the resident has not yet
exchanged for a 12-digit personal identification number; a bare birth year (or month
and year) is a partial date; a birth date whose day and month could be either way round,
in rows whose file shows no order, was read day-first and must be checked
(``assets.staging.dates``). None stops the person being counted, so all are warnings.
"""

from __future__ import annotations

import pandas as pd

from assets.quality.issues import issue_rows, located


def person_value_warnings(
    persons: pd.DataFrame, locations: dict[str, pd.Series] | None = None
) -> pd.DataFrame:
    old_id = persons["citizen_id"].str.fullmatch(r"\d{9}", na=False).to_numpy(dtype=bool)
    partial = persons["birth_date_is_partial"].fillna(False).to_numpy(dtype=bool)
    unproven = persons["birth_date_order_unproven"].fillna(False).to_numpy(dtype=bool)

    return pd.concat(
        [
            issue_rows(
                "staging.persons",
                persons.loc[old_id, "record_id"],
                rule="old_id_card_number",
                field_name="citizen_id",
                severity="warning",
                message="citizen_id is a 9-digit old identity card number; record the "
                "12-digit personal identification number (Số CMND cũ, cần cập nhật số ĐDCN)",
                **located(locations, old_id),
            ),
            issue_rows(
                "staging.persons",
                persons.loc[partial, "record_id"],
                rule="birth_date_partial",
                field_name="birth_date",
                severity="warning",
                message="birth_date gives only the year (or month and year); add day and "
                "month (Ngày sinh chỉ có năm hoặc tháng, năm, cần bổ sung ngày, tháng)",
                **located(locations, partial),
            ),
            issue_rows(
                "staging.persons",
                persons.loc[unproven, "record_id"],
                rule="birth_date_order_unproven",
                field_name="birth_date",
                severity="warning",
                message="day and month of birth_date could be either way round and the rows "
                "around it do not show the file's order; check both against the source "
                "record (Chưa rõ thứ tự ngày/tháng sinh, cần kiểm tra lại)",
                **located(locations, unproven),
            ),
        ],
        ignore_index=True,
    )
