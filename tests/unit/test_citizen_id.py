"""The citizen ID rules: one implementation behind the GX custom expectation and the
record rules, the official old province codes shared with the generator."""

from __future__ import annotations

import pandas as pd
import pytest

from assets.quality.person_rules import birth_date_issues, citizen_id_issues
from expectations import reference
from expectations.citizen_id import (
    CENTURY_SEX_MISMATCH,
    PREFIX_UNKNOWN,
    YEAR_MISMATCH,
    citizen_id_consistent,
    citizen_id_findings,
)
from expectations.schemas import TABLES
from expectations.suites import validate_frame
from synthetic import names as synthetic_names

PERSONS = TABLES["staging.persons"]
AS_OF = "2026-01-01"


def frame(rows: list[tuple[str | None, str | None, str | None]]) -> pd.DataFrame:
    """Persons with (citizen_id, sex, birth_date); everything else valid."""
    n = len(rows)
    return PERSONS.enforce(
        pd.DataFrame(
            {
                "record_id": [f"p.csv:{i + 1}" for i in range(n)],
                "citizen_id": [r[0] for r in rows],
                "full_name": [f"Nông Văn {i}" for i in range(n)],
                "birth_date": pd.to_datetime([r[2] for r in rows]),
                "birth_date_is_partial": [False] * n,
                "birth_date_order_unproven": [False] * n,
                "invalid_values": [None] * n,
                "sex": [r[1] for r in rows],
                "household_id": [f"H{i}" for i in range(n)],
                "relation_to_head": ["Chủ hộ"] * n,
                "is_household_head": [True] * n,
                "ethnicity": ["Tày"] * n,
                "source_file": ["p.csv"] * n,
                "source_sha256": ["0" * 64] * n,
                "source_row_number": list(range(1, n + 1)),
                "load_id": ["0" * 16] * n,
            }
        )
    )


CASES = [
    # (citizen_id, sex, birth_date), rules broken
    (("004090012345", "nam", "1990-05-01"), set()),
    (("004190012345", "nu", "1990-05-01"), set()),
    (("001305123456", "nu", "2005-12-31"), set()),
    (("096296123456", "nam", "2096-01-01"), set()),  # future birth: ID not judged
    (("003090012345", "nam", "1990-05-01"), {PREFIX_UNKNOWN}),  # 03 was never a province
    (("100090012345", "nam", "1990-05-01"), {PREFIX_UNKNOWN}),  # PPP must start with 0
    (("004190012345", "nam", "1990-05-01"), {CENTURY_SEX_MISMATCH}),  # odd G: female
    (("004290012345", "nam", "1990-05-01"), {CENTURY_SEX_MISMATCH}),  # G=2: 2000s
    (("004590012345", "nam", "1990-05-01"), {CENTURY_SEX_MISMATCH}),  # both wrong
    (("004091012345", "nam", "1990-05-01"), {YEAR_MISMATCH}),
    (("003191012345", "nam", "1990-05-01"), {PREFIX_UNKNOWN, CENTURY_SEX_MISMATCH, YEAR_MISMATCH}),
    (("123456789", "nam", "1990-05-01"), set()),  # old 9-digit card: accepted here
    (("04090012345", "nam", "1990-05-01"), set()),  # malformed: the pattern's business
    (("00409001234X", "nam", "1990-05-01"), set()),
    ((None, "nam", "1990-05-01"), set()),
    (("004190012345", None, "1990-05-01"), set()),  # no sex: parity not judged
    (("004191012345", "nu", None), set()),  # no birth date: century and year not judged
]


@pytest.mark.parametrize(("row", "broken"), CASES)
def test_rules_per_record(row, broken):
    df = frame([row])
    findings = citizen_id_findings(df["citizen_id"], df["sex"], df["birth_date"], as_of=AS_OF)
    got = {
        rule
        for rule in (PREFIX_UNKNOWN, CENTURY_SEX_MISMATCH, YEAR_MISMATCH)
        if findings[rule].iloc[0]
    }
    assert got == broken
    consistent = citizen_id_consistent(df["citizen_id"], df["sex"], df["birth_date"], as_of=AS_OF)
    assert bool(consistent.iloc[0]) == (not broken)


def test_record_rules_and_gx_expectation_count_the_same_records():
    df = frame([row for row, _ in CASES])
    issues = citizen_id_issues(df, as_of=AS_OF)
    broken_records = {f"p.csv:{i + 1}" for i, (_, rules) in enumerate(CASES) if rules}
    assert set(issues["record_id"]) == broken_records
    # An unknown prefix may be an ID issued abroad (DOMAIN.md): a warning; the rest errors.
    prefix = issues["rule"].eq(PREFIX_UNKNOWN)
    assert set(issues.loc[prefix, "severity"]) == {"warning"}
    assert set(issues.loc[~prefix, "severity"]) == {"error"}
    assert set(issues["field_name"]) == {"citizen_id"}
    result = validate_frame(df, PERSONS, parameters={"as_of": AS_OF})
    (outcome,) = [
        o for o in result.outcomes if o.expectation == "expect_citizen_id_to_be_consistent"
    ]
    assert outcome.unexpected_count == len(broken_records)
    assert outcome.severity == "warning"
    # Messages say which digits to check, never the ID.
    for value in df["citizen_id"].dropna():
        assert not issues["message"].str.contains(value, regex=False).any()
    both = issues[issues["record_id"] == "p.csv:9"]["message"].iloc[0]
    assert "both the birth year and the sex" in both


def test_birth_date_in_the_future_is_an_error_naming_no_date():
    df = frame([("004090012345", "nam", "1990-05-01"), ("004087012345", "nam", "2087-03-04")])
    issues = birth_date_issues(df, as_of=AS_OF)
    assert issues["record_id"].tolist() == ["p.csv:2"]
    assert issues["rule"].iloc[0] == "birth_date_future"
    assert "2087" not in issues["message"].iloc[0]
    gx = validate_frame(df, PERSONS, parameters={"as_of": AS_OF})
    (between,) = [
        o
        for o in gx.outcomes
        if o.expectation == "expect_column_values_to_be_between" and o.column == "birth_date"
    ]
    assert between.unexpected_count == 1


def test_old_province_codes_are_the_official_63_and_the_generator_uses_them():
    codes = reference.OLD_PROVINCE_CODES
    assert len(codes) == 63 == len(set(codes))
    assert codes[0] == "01" and codes[-1] == "96"
    assert {"03", "05", "07", "09", "13", "16", "18"}.isdisjoint(codes)
    assert synthetic_names.OLD_PROVINCE_CODES is codes  # one list, not a copy
    assert {"0" + c for c in codes} == reference.CITIZEN_ID_PREFIXES
    assert all(set(p.old_codes) <= set(codes) for p in synthetic_names.PROVINCES.values())
