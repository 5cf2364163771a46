"""Record rules on one person record at a time: citizen ID structure and birth date.

The citizen ID rules come from ``expectations.citizen_id``, the same function the
Great Expectations custom expectation calls. Messages say which part of the ID is wrong
and what to check, never the ID or the birth date itself.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from assets.quality.issues import issue_rows
from expectations.citizen_id import (
    CENTURY_SEX_MISMATCH,
    PREFIX_UNKNOWN,
    YEAR_MISMATCH,
    as_of_timestamp,
    citizen_id_findings,
)

PERSONS = "staging.persons"
BIRTH_DATE_FUTURE = "birth_date_future"

_MESSAGES = {
    PREFIX_UNKNOWN: "the first 3 digits of citizen_id are not the code of any province "
    "(0 + one of the 63 pre-2025 codes); check the ID on the citizen's card "
    "(Mã tỉnh trong số ĐDCN không hợp lệ)",
    YEAR_MISMATCH: "digits 5-6 of citizen_id are not the last two digits of the birth "
    "year; check the ID or the birth date (Chữ số 5-6 của số ĐDCN không khớp năm sinh)",
}
_CENTURY = (
    "digit 4 of citizen_id (century and sex) gives another century than the birth year; "
    "check the ID or the birth date (Chữ số thứ 4 của số ĐDCN không khớp thế kỷ năm sinh)"
)
_SEX = (
    "digit 4 of citizen_id (century and sex: even male, odd female) disagrees with the sex; "
    "check the ID or the sex (Chữ số thứ 4 của số ĐDCN không khớp giới tính)"
)
_BOTH = (
    "digit 4 of citizen_id (century and sex) disagrees with both the birth year and the "
    "sex; check the ID (Chữ số thứ 4 của số ĐDCN không khớp năm sinh và giới tính)"
)


def _located(locations: dict[str, pd.Series] | None, mask: np.ndarray) -> dict[str, pd.Series]:
    return {k: v[mask] for k, v in (locations or {}).items()}


def citizen_id_issues(
    persons: pd.DataFrame,
    locations: dict[str, pd.Series] | None = None,
    *,
    as_of: dt.date | str | None = None,
) -> pd.DataFrame:
    """One error per person record and broken citizen ID rule (12-digit IDs only)."""
    findings = citizen_id_findings(
        persons["citizen_id"], persons["sex"], persons["birth_date"], as_of=as_of
    )
    frames = []
    for rule in (PREFIX_UNKNOWN, CENTURY_SEX_MISMATCH, YEAR_MISMATCH):
        mask = findings[rule].to_numpy(dtype=bool)
        if rule == CENTURY_SEX_MISMATCH:
            century = findings["century_wrong"].to_numpy(dtype=bool)[mask]
            sex = findings["sex_wrong"].to_numpy(dtype=bool)[mask]
            message: str | pd.Series = pd.Series(
                np.where(century & sex, _BOTH, np.where(century, _CENTURY, _SEX)),
                dtype="string",
            )
        else:
            message = _MESSAGES[rule]
        frames.append(
            issue_rows(
                PERSONS,
                persons.loc[mask, "record_id"],
                rule=rule,
                field_name="citizen_id",
                message=message,
                **_located(locations, mask),
            )
        )
    return pd.concat(frames, ignore_index=True)


def birth_date_issues(
    persons: pd.DataFrame,
    locations: dict[str, pd.Series] | None = None,
    *,
    as_of: dt.date | str,
) -> pd.DataFrame:
    """Birth dates after the extract date: an error (often 20xx typed for 19xx)."""
    limit = as_of_timestamp(as_of)
    births = pd.to_datetime(persons["birth_date"], errors="coerce")
    mask = (births > limit).fillna(False).to_numpy(dtype=bool)
    return issue_rows(
        PERSONS,
        persons.loc[mask, "record_id"],
        rule=BIRTH_DATE_FUTURE,
        field_name="birth_date",
        message=f"birth_date is after the extract date {limit:%Y-%m-%d}; correct it from the "
        "birth certificate, often 20xx was typed for 19xx (Ngày sinh sau ngày trích xuất)",
        **_located(locations, mask),
    )
