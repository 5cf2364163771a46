"""Record rules on one person record at a time: citizen ID structure, birth date, and
values present but outside their field's vocabulary.

The citizen ID rules come from ``expectations.citizen_id``, the same function the
Great Expectations custom expectation calls. Messages say which part of the ID is wrong
and what to check, never the ID or the birth date itself.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from assets.quality.issues import issue_rows, located
from assets.quality.record_checks import REQUIRED_MISSING
from assets.staging.normalise import INVALID_SEPARATOR
from expectations.citizen_id import (
    CENTURY_SEX_MISMATCH,
    PREFIX_UNKNOWN,
    YEAR_MISMATCH,
    as_of_timestamp,
    citizen_id_findings,
)

PERSONS = "staging.persons"
# Oldest plausible age at the extract date, in years (the oldest recorded Vietnamese
# lived to about 120): older is a typing error. QualitySettings.max_age_years sets it.
MAX_AGE_YEARS = 120
BIRTH_DATE_FUTURE = "birth_date_future"
BIRTH_DATE_TOO_OLD = "birth_date_too_old"
INVALID_VALUE = "invalid_value"
# A value outside the vocabulary of a field the record cannot be counted without is an
# error; of a field it can (relation, ethnicity) a warning: the person still counts.
INVALID_SEVERITY = {
    "citizen_id": "error",
    "sex": "error",
    "relation_to_head": "warning",
    "ethnicity": "warning",
}
_INVALID_MESSAGES = {
    "citizen_id": (
        "citizen_id cannot be read as a 12-digit ID (or an old 9-digit number) ({shape}); "
        "copy it again from the citizen's card: a digit may be lost or added, or a letter "
        "typed for a digit (Số ĐDCN không đọc được, giá trị {shape_vi}: nhập lại theo thẻ "
        "CCCD, có thể thiếu, thừa chữ số hoặc gõ chữ thay số)"
    ),
    "sex": (
        "sex is written as a value that is not Nam or Nữ ({shape}); write Nam or Nữ as on "
        "the source record, numeric codes are not read (Giới tính ghi sai, giá trị "
        "{shape_vi}: ghi lại Nam hoặc Nữ theo hồ sơ gốc, không dùng mã số)"
    ),
    "relation_to_head": (
        "relation_to_head is not a relation a household book records ({shape}); write it "
        "as in the household book, e.g. Chủ hộ, Vợ, Chồng, Con, Bố, Mẹ, Cháu (Quan hệ với "
        "chủ hộ không hợp lệ, giá trị {shape_vi}: ghi lại theo sổ hộ khẩu, ví dụ Chủ hộ, "
        "Vợ, Chồng, Con, Bố, Mẹ, Cháu)"
    ),
    "ethnicity": (
        "ethnicity is not one of the 54 recognised ethnic groups ({shape}){closest}; write "
        "the official name, or Người nước ngoài / Không xác định (Dân tộc không có trong "
        "danh mục 54 dân tộc, giá trị {shape_vi}{closest_vi}: ghi tên dân tộc chính thức, "
        "hoặc Người nước ngoài / Không xác định)"
    ),
}
_SHAPE_VI = (
    ("characters", "ký tự"),
    ("character", "ký tự"),
    ("letters and digits", "chữ cái và chữ số"),
    ("with signs", "có ký hiệu"),
    ("digits", "chữ số"),
    ("letters", "chữ cái"),
)

_MESSAGES = {
    PREFIX_UNKNOWN: "the first 3 digits of citizen_id are not the code of any province "
    "(0 + one of the 63 pre-2025 codes): an ID issued abroad or to a foreign national may "
    "carry another prefix; check the ID on the citizen's card and correct it if mistyped "
    "(Mã tỉnh trong số ĐDCN không phải mã tỉnh Việt Nam: đối chiếu với thẻ, sửa nếu nhập "
    "sai; số cấp ở nước ngoài hoặc cho người nước ngoài có thể có mã khác)",
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
                # DOMAIN.md: an unknown prefix may be a country code (birth registered
                # abroad, 2023 Identity Law): to verify, not grounds to quarantine.
                severity="warning" if rule == PREFIX_UNKNOWN else "error",
                message=message,
                **located(locations, mask),
            )
        )
    return pd.concat(frames, ignore_index=True)


def birth_date_issues(
    persons: pd.DataFrame,
    locations: dict[str, pd.Series] | None = None,
    *,
    as_of: dt.date | str,
    max_age_years: int = MAX_AGE_YEARS,
) -> pd.DataFrame:
    """Birth dates after the extract date (often 20xx typed for 19xx) or more than
    ``max_age_years`` before it (often 18xx or a lost digit): errors."""
    limit = as_of_timestamp(as_of)
    assert limit is not None
    oldest = limit - pd.DateOffset(years=max_age_years)
    births = pd.to_datetime(persons["birth_date"], errors="coerce")
    future = (births > limit).fillna(False).to_numpy(dtype=bool)
    too_old = (births < oldest).fillna(False).to_numpy(dtype=bool)
    return pd.concat(
        [
            issue_rows(
                PERSONS,
                persons.loc[future, "record_id"],
                rule=BIRTH_DATE_FUTURE,
                field_name="birth_date",
                message=f"birth_date is after the extract date {limit:%Y-%m-%d}; correct it "
                "from the birth certificate, often 20xx was typed for 19xx (Ngày sinh sau "
                "ngày trích xuất: sửa theo giấy khai sinh, thường do gõ 20xx thay cho 19xx)",
                **located(locations, future),
            ),
            issue_rows(
                PERSONS,
                persons.loc[too_old, "record_id"],
                rule=BIRTH_DATE_TOO_OLD,
                field_name="birth_date",
                message=f"birth_date is before {oldest:%Y-%m-%d}, more than {max_age_years} "
                "years before the extract date; correct it from the birth certificate or "
                "the citizen ID card, often a digit of the year was mistyped (Ngày sinh "
                f"cách ngày trích xuất hơn {max_age_years} năm: sửa theo giấy khai sinh "
                "hoặc thẻ CCCD, thường do gõ sai một chữ số của năm)",
                **located(locations, too_old),
            ),
        ],
        ignore_index=True,
    )


def invalid_values(persons: pd.DataFrame) -> pd.DataFrame:
    """Per record and field, the shape noted by staging for a value outside the field's
    vocabulary (``invalid_values``): columns record_id, field_name, shape, closest."""
    notes = persons["invalid_values"].astype("string").dropna()
    entries = notes.str.split(INVALID_SEPARATOR, regex=False).explode().astype("string")
    parts = entries.str.extract(
        r"^(?P<field_name>[^:]+): (?P<shape>[^;]*)(?:; closest: (?P<closest>.*))?$"
    )
    parts.insert(0, "record_id", persons.loc[entries.index, "record_id"].astype("string"))
    return parts.astype("string")


def invalid_value_issues(
    persons: pd.DataFrame, locations: dict[str, pd.Series] | None = None
) -> pd.DataFrame:
    """``invalid_value`` per record and field whose value is present but not in the
    field's vocabulary, naming only the value's shape (and for ethnicity the closest
    official names); an empty cell is ``required_missing`` instead."""
    found = invalid_values(persons)
    frames = []
    for field_name, template in _INVALID_MESSAGES.items():
        hit = found[found["field_name"].eq(field_name).fillna(False)].drop_duplicates("record_id")
        mask = persons["record_id"].astype("string").isin(hit["record_id"]).to_numpy(dtype=bool)
        shape = hit.set_index("record_id")["shape"]
        closest = hit.set_index("record_id")["closest"]
        ids = persons.loc[mask, "record_id"].astype("string")
        messages = [
            template.format(
                shape=shape[r],
                shape_vi=_shape_vi(str(shape[r])),
                closest="" if pd.isna(closest[r]) else f"; closest: {closest[r]}",
                closest_vi="" if pd.isna(closest[r]) else f"; gần nhất: {closest[r]}",
            )
            for r in ids
        ]
        frames.append(
            issue_rows(
                PERSONS,
                persons.loc[mask, "record_id"],
                rule=INVALID_VALUE,
                field_name=field_name,
                severity=INVALID_SEVERITY[field_name],
                message=pd.Series(messages, dtype="string"),
                **located(locations, mask),
            )
        )
    return pd.concat(frames, ignore_index=True)


def _shape_vi(shape: str) -> str:
    for english, vietnamese in _SHAPE_VI:
        shape = shape.replace(english, vietnamese)
    return shape


def without_missing_where_invalid(issues: pd.DataFrame, invalid: pd.DataFrame) -> pd.DataFrame:
    """``issues`` less the ``required_missing`` of fields whose value was present but
    invalid (staged as missing): that value is reported as ``invalid_value`` instead."""
    if not len(invalid):
        return issues
    pairs = invalid["record_id"].astype("string") + "\x1f" + invalid["field_name"]
    keys = issues["record_id"].astype("string") + "\x1f" + issues["field_name"].astype("string")
    drop = issues["rule"].eq(REQUIRED_MISSING) & keys.isin(pairs)
    return issues[~drop.fillna(False).to_numpy(dtype=bool)]
