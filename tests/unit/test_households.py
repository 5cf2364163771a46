"""Household integrity rules: heads, relations, sizes and one person in two households."""

from __future__ import annotations

import pandas as pd

from assets.quality.households import (
    citizen_id_duplicate_issues,
    household_issues,
    relation_kinds,
)
from expectations.schemas import TABLES
from expectations.suites import validate_frame

PERSONS = TABLES["staging.persons"]
HOUSEHOLDS = TABLES["staging.households"]
AS_OF = "2026-01-01"
_ids = iter(range(1, 10_000))


def member(household: str, relation: str, born: str, **overrides: object) -> dict[str, object]:
    n = next(_ids)
    sex = str(overrides.get("sex", "nam"))
    century = (int(born[:4]) // 100 - 19) * 2 + (sex == "nu")
    row: dict[str, object] = {
        "record_id": f"persons.csv:{n}",
        "citizen_id": f"004{century}{born[2:4]}{n:06d}",
        "full_name": f"Hoàng Văn {n}",
        "birth_date": born,
        "birth_date_is_partial": False,
        "birth_date_order_unproven": False,
        "invalid_values": None,
        "sex": "nam",
        "household_id": household,
        "relation_to_head": relation,
        "is_household_head": relation == "Chủ hộ",
        "ethnicity": "Tày",
        "source_file": "persons.csv",
        "source_sha256": "0" * 64,
        "source_row_number": n,
        "load_id": "0" * 16,
    }
    row.update(overrides)
    return row


def persons(*rows: dict[str, object]) -> pd.DataFrame:
    return PERSONS.enforce(pd.DataFrame(list(rows)))


def households(*ids: str, hamlet: str = "04001001") -> pd.DataFrame:
    return HOUSEHOLDS.enforce(
        pd.DataFrame(
            {
                "household_id": list(ids),
                "hamlet_code": [hamlet] * len(ids),
                "longitude": [106.2] * len(ids),
                "latitude": [22.6] * len(ids),
                "record_id": [f"households.csv:{i + 1}" for i in range(len(ids))],
                "source_file": ["households.csv"] * len(ids),
                "source_sha256": ["0" * 64] * len(ids),
                "source_row_number": list(range(1, len(ids) + 1)),
                "load_id": ["0" * 16] * len(ids),
            }
        )
    )


def issues_of(df: pd.DataFrame, hh: pd.DataFrame, **kwargs) -> pd.DataFrame:
    return household_issues(df, hh, as_of=AS_OF, **kwargs)


def rules(issues: pd.DataFrame) -> set[tuple[str, str, str]]:
    return set(zip(issues["record_id"], issues["rule"], issues["severity"], strict=True))


def test_a_plausible_household_has_no_issue():
    df = persons(
        member("H1", "Chủ hộ", "1970-03-01"),
        member("H1", "Vợ", "1972-06-01", sex="nu"),
        member("H1", "Con", "1995-01-01"),
        member("H1", "Mẹ", "1945-01-01", sex="nu"),
        member("H1", "Cháu", "2020-01-01"),
    )
    assert issues_of(df, households("H1")).empty
    result = validate_frame(df, PERSONS, parameters={"as_of": AS_OF})
    assert result.success, result.failed_outcomes


def test_no_head_goes_to_the_member_with_a_blank_relation_else_to_everyone():
    df = persons(
        member("H1", "", "1970-03-01"),  # the head whose relation was lost
        member("H1", "Con", "1995-01-01"),
        member("H2", "Vợ", "1970-03-01", sex="nu"),  # no head, no blank relation
        member("H2", "Con", "1995-01-01"),
    )
    issues = issues_of(df, households("H1", "H2"))
    no_head = issues[issues["rule"] == "household_no_head"]
    assert set(no_head["record_id"]) == {df["record_id"][0], df["record_id"][2], df["record_id"][3]}
    assert set(no_head["severity"]) == {"warning"}


def test_the_first_head_listed_stays_head_and_later_heads_are_errors():
    df = persons(
        member("H1", "Chủ hộ", "1970-03-01"),
        member("H1", "Chủ hộ", "1975-03-01"),
        member("H1", "Chủ hộ", "1980-03-01"),
    )
    issues = issues_of(df, households("H1"))
    several = issues[issues["rule"] == "household_several_heads"]
    assert several["record_id"].tolist() == df["record_id"][1:].tolist()
    assert set(several["severity"]) == {"error"}
    assert several["message"].str.contains(df["record_id"][0], regex=False).all()
    assert several["message"].str.startswith("the household has 3 heads").all()


def test_head_under_the_minimum_age_is_an_error_and_the_age_is_configurable():
    df = persons(
        member("H1", "Chủ hộ", "2012-06-01"),  # 13 at the extract date
        member("H1", "Mẹ", "1985-01-01", sex="nu"),
    )
    hh = households("H1")
    young = issues_of(df, hh)
    assert rules(young) == {(df["record_id"][0], "head_too_young", "error")}
    assert issues_of(df, hh, head_min_age=13).empty
    result = validate_frame(df, PERSONS, parameters={"as_of": AS_OF})
    (age,) = [o for o in result.outcomes if o.expectation == "expect_household_head_to_be_of_age"]
    assert age.unexpected_count == 1


def test_implausible_relations_are_warnings():
    df = persons(
        member("H1", "Chủ hộ", "1970-03-01"),
        member("H1", "Vợ", "1980-01-01", sex="nu"),
        member("H1", "Con", "1975-01-01"),  # older than the head's wife
        member("H1", "Bố", "1990-01-01"),  # younger than the head
        member("H1", "Cháu nội", "1960-01-01"),  # older than the head
        member("H1", "Con dâu", "1960-01-01"),  # in-laws: not judged
    )
    issues = issues_of(df, households("H1"))
    assert rules(issues) == {
        (df["record_id"][i], "relation_implausible", "warning") for i in (2, 3, 4)
    }
    kinds = relation_kinds(pd.Series(["Chủ hộ", "VỢ", "con ruột", "Con dâu", None]))
    assert kinds.tolist()[:3] == ["head", "spouse", "child"] and kinds[3:].isna().all()


def test_household_size_bounds_and_empty_households_are_flagged_on_the_household():
    df = persons(
        member("H1", "Chủ hộ", "1960-01-01"),
        *(member("H1", "Con", f"199{i}-01-01") for i in range(3)),
    )
    issues = issues_of(df, households("H1", "H2"), max_members=3)
    assert rules(issues) == {
        ("households.csv:1", "household_too_large", "warning"),
        ("households.csv:2", "household_without_members", "warning"),
    }
    assert set(issues["table_name"]) == {"staging.households"}
    assert "lists 4 members, more than 3" in issues["message"].iloc[0]


def test_one_id_in_two_households_names_the_other_household_without_the_id():
    shared = "004090123456"
    df = persons(
        member("H1", "Chủ hộ", "1990-01-01", citizen_id=shared),
        member("H2", "Chủ hộ", "1960-01-01"),
        member("H2", "Con", "1990-01-01", citizen_id=shared),
        member("H3", "Chủ hộ", "1960-01-01", citizen_id="004060999999"),
        member("H3", "Con", "1960-01-01", citizen_id="004060999999"),
    )
    hh = pd.concat([households("H1", hamlet="04001001"), households("H2", "H3", hamlet="04001002")])
    hh["record_id"] = ["households.csv:1", "households.csv:2", "households.csv:3"]
    issues = citizen_id_duplicate_issues(df, HOUSEHOLDS.enforce(hh))
    assert rules(issues) == {
        (df["record_id"][0], "person_in_two_households", "error"),
        (df["record_id"][2], "person_in_two_households", "error"),
        (df["record_id"][3], "duplicate_value", "error"),
        (df["record_id"][4], "duplicate_value", "error"),
    }
    first = issues.set_index("record_id").loc[df["record_id"][0], "message"]
    assert df["record_id"][2] in first and "households.csv:2" in first and "04001002" in first
    assert not issues["message"].str.contains(shared).any()
    assert not issues["message"].str.contains("004060999999").any()
