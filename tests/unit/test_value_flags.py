"""Accepted-but-flagged values: old 9-digit ID numbers and year-only birth dates."""

from __future__ import annotations

import pandas as pd

from assets.quality.record_checks import record_issues, split_clean_quarantined
from assets.quality.value_flags import person_value_warnings
from expectations.schemas import TABLES


def _persons() -> pd.DataFrame:
    return TABLES["staging.persons"].enforce(
        pd.DataFrame(
            {
                "record_id": ["p.csv:1", "p.csv:2", "p.csv:3"],
                "citizen_id": ["004090001234", "123456789", "12345"],
                "full_name": ["Nông Văn A", "Lý Thị B", "Ma Văn C"],
                "birth_date": pd.to_datetime(["1990-03-05", "1962-01-01", "2001-02-03"]),
                "birth_date_is_partial": [False, True, False],
                "birth_date_order_unproven": [False, False, False],
                "invalid_values": [None, None, None],
                "sex": ["nam", "nu", "nam"],
                "household_id": ["H1", "H1", "H2"],
                "relation_to_head": ["Chủ hộ", "Mẹ", "Chủ hộ"],
                "is_household_head": [True, False, True],
                "ethnicity": ["Tày", "Tày", "Nùng"],
                "source_file": ["p.csv"] * 3,
                "source_sha256": ["0" * 64] * 3,
                "source_row_number": [1, 2, 3],
                "load_id": ["0" * 16] * 3,
            }
        )
        .astype({c: "string" for c in ["record_id", "citizen_id", "full_name", "sex"]})
        .astype({c: "string" for c in ["household_id", "relation_to_head", "ethnicity"]})
        .astype({c: "string" for c in ["source_file", "source_sha256", "load_id"]})
    )


def test_old_id_and_partial_date_are_warnings_not_quarantine():
    persons = _persons()
    warnings = person_value_warnings(persons)
    assert set(zip(warnings["record_id"], warnings["rule"], strict=True)) == {
        ("p.csv:2", "old_id_card_number"),
        ("p.csv:2", "birth_date_partial"),
    }
    assert set(warnings["severity"]) == {"warning"}
    assert not warnings["message"].str.contains("123456789").any()
    errors = record_issues(persons, TABLES["staging.persons"], unique_columns=("citizen_id",))
    assert set(errors["record_id"]) == {"p.csv:3"}  # 5 digits: malformed
    clean, quarantined = split_clean_quarantined(persons, pd.concat([errors, warnings]))
    assert clean["record_id"].tolist() == ["p.csv:1", "p.csv:2"]
    assert quarantined["record_id"].tolist() == ["p.csv:3"]
