"""Row-level rules: one issue per (record, rule), messages without personal values,
and clean + quarantined always reconciling with the records received."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from assets.quality.record_checks import record_issues, split_clean_quarantined
from expectations.schemas import TABLES

PERSONS = TABLES["staging.persons"]
HOUSEHOLDS = TABLES["staging.households"]
HAMLETS = TABLES["staging.hamlets"]
ISSUES = TABLES["quality.record_issues"]


def person(n: int, **overrides: object) -> dict[str, object]:
    """A valid person record; ``n`` makes record_id and citizen_id unique."""
    row: dict[str, object] = {
        "record_id": f"persons.csv:{n}",
        "citizen_id": f"0010900{n:05d}",
        "full_name": f"Nguyễn Văn {n}",
        "birth_date": "1990-05-01",
        "birth_date_is_partial": False,
        "birth_date_order_unproven": False,
        "invalid_values": None,
        "sex": "nam",
        "household_id": f"HK{n // 3:04d}",
        "relation_to_head": "chủ hộ",
        "is_household_head": n % 3 == 0,
        "ethnicity": "Kinh",
        "source_file": "persons.csv",
        "source_sha256": "a" * 64,
        "source_row_number": n,
        "load_id": "load-1",
    }
    row.update(overrides)
    return row


def persons(*rows: dict[str, object], index: list[int] | None = None) -> pd.DataFrame:
    return PERSONS.enforce(pd.DataFrame(list(rows), index=index))


def triples(issues: pd.DataFrame) -> set[tuple[str, str, str]]:
    return set(issues[["record_id", "rule", "field_name"]].itertuples(index=False, name=None))


def test_clean_records_have_no_issues_and_all_stay_clean():
    df = persons(*(person(i) for i in range(6)))
    issues = record_issues(df, PERSONS, unique_columns=("citizen_id",))
    assert issues.empty
    assert list(issues.columns) == list(ISSUES.columns)
    clean, quarantined = split_clean_quarantined(df, issues)
    assert len(clean) == 6 and quarantined.empty
    assert "reasons" in quarantined.columns


def test_each_contract_rule_is_reported_for_its_record_and_field():
    df = persons(
        person(1),
        person(2, citizen_id="01090012345"),  # 11 characters
        person(3, full_name=None),
        person(4, sex="male"),
        person(5, citizen_id="00109000001X", household_id=None),
        person(6, citizen_id=person(1)["citizen_id"]),  # same person as record 1
    )
    issues = record_issues(df, PERSONS, unique_columns=("citizen_id",))
    assert triples(issues) == {
        ("persons.csv:2", "pattern_mismatch", "citizen_id"),
        ("persons.csv:3", "required_missing", "full_name"),
        ("persons.csv:4", "not_in_allowed_values", "sex"),
        ("persons.csv:5", "pattern_mismatch", "citizen_id"),
        ("persons.csv:5", "required_missing", "household_id"),
        ("persons.csv:1", "duplicate_value", "citizen_id"),
        ("persons.csv:6", "duplicate_value", "citizen_id"),
    }
    assert set(issues["severity"]) == {"error"}
    assert set(issues["table_name"]) == {"staging.persons"}
    assert issues.equals(ISSUES.enforce(issues))


def test_without_unique_columns_a_shared_citizen_id_is_not_reported():
    df = persons(person(1), person(2, citizen_id=person(1)["citizen_id"]))
    assert record_issues(df, PERSONS).empty


def test_messages_name_the_field_and_the_fix_in_english_and_vietnamese():
    df = persons(person(1, citizen_id="01090012345"), person(2, sex="male"))
    by_record = record_issues(df, PERSONS).set_index("record_id")["message"]
    assert by_record["persons.csv:1"] == (
        "citizen_id has 11 characters (a leading 0 may have been lost), "
        "expected 12 digits or an old 9-digit number (Số ĐDCN phải gồm 12 chữ số)"
    )
    # sex is not personal: its offending value is quoted to help the fix.
    assert by_record["persons.csv:2"] == (
        "sex 'male' is not one of: nam, nu; use one of these (Giới tính phải là một trong: nam, nu)"
    )


def test_messages_never_contain_a_personal_value():
    planted_ids = ["07912345678", "0791234567AB", "079123456789"]
    planted_name = "Phạm Thị Bí Mật"
    df = persons(
        person(1, citizen_id=planted_ids[0], full_name=planted_name),
        person(2, citizen_id=planted_ids[1], full_name=planted_name, sex="x"),
        person(3, citizen_id=planted_ids[2], full_name=planted_name),
        person(4, citizen_id=planted_ids[2], full_name=planted_name),
    )
    issues = record_issues(df, PERSONS, unique_columns=("citizen_id", "full_name"))
    assert {"pattern_mismatch", "duplicate_value"} <= set(issues["rule"])
    text = " ".join(issues["message"])
    for value in [*planted_ids, planted_name]:
        assert value not in text
    assert "citizen_id has 12 characters, not all digits" in text
    assert "full_name is shared with 3 other record(s)" in text


def test_duplicate_primary_key_flags_every_sharing_record_without_personal_value():
    households = HOUSEHOLDS.enforce(
        pd.DataFrame(
            {
                "household_id": ["HK0001", "HK0001", "HK0002"],
                "hamlet_code": ["T01", "T01", "T02"],
                "longitude": [106.2, 106.2, 106.3],
                "latitude": [22.6, 22.6, 22.7],
                "record_id": ["h.csv:1", "h.csv:2", "h.csv:3"],
                "source_file": "h.csv",
                "source_sha256": "b" * 64,
                "source_row_number": [1, 2, 3],
                "load_id": "load-1",
            }
        )
    )
    issues = record_issues(
        households, HOUSEHOLDS, context_columns={"hamlet_code": households["hamlet_code"]}
    )
    assert triples(issues) == {
        ("h.csv:1", "duplicate_key", "household_id"),
        ("h.csv:2", "duplicate_key", "household_id"),
    }
    assert list(issues["hamlet_code"]) == ["T01", "T01"]
    assert issues["commune_code"].isna().all()
    assert not issues["message"].str.contains("HK0001").any()  # household_id is personal


def test_range_and_pattern_on_a_geodataframe_quote_non_personal_values():
    hamlets = gpd.GeoDataFrame(
        {
            "hamlet_code": ["T01", "T02", "T03"],
            "commune_code": ["01234", "1234", "01234"],
            "name_prefix": "Thôn",
            "hamlet_name": ["Nà Rụa", "Pác Bó", "Nà Lẹng"],
            "hamlet_kind": ["thon", "thon", "ban"],
            "declared_households": pd.array([120, -5, 80], dtype="Int64"),
            "declared_population": pd.array([500, None, 300], dtype="Int64"),
            "exemption_category": None,
            "area_km2": [1.0, 2.0, 3.0],
        },
        geometry=[Point(106.2, 22.6), Point(106.3, 22.7), None],
        crs="EPSG:4326",
    )
    hamlets = HAMLETS.enforce(hamlets)
    issues = record_issues(hamlets, HAMLETS, record_key="hamlet_code")
    assert triples(issues) == {
        ("T02", "pattern_mismatch", "commune_code"),
        ("T02", "out_of_range", "declared_households"),
        ("T03", "not_in_allowed_values", "hamlet_kind"),
        ("T03", "required_missing", "geometry"),
    }
    messages = issues.set_index(["record_id", "field_name"])["message"]
    assert messages["T02", "declared_households"] == (
        "declared_households -5 is below the minimum 0 (Số hộ phải ≥ 0)"
    )
    assert "'1234'" in messages["T02", "commune_code"]
    assert "'ban'" in messages["T03", "hamlet_kind"]


def test_context_columns_are_aligned_on_the_index_not_the_position():
    df = persons(person(1, sex="x"), person(2), person(3, sex="y"), index=[10, 20, 30])
    communes = pd.Series(["00003", "00001", "00002"], index=[30, 10, 20])
    hamlets = pd.Series(["T3", "T1", "T2"], index=[30, 10, 20])
    issues = record_issues(
        df, PERSONS, context_columns={"commune_code": communes, "hamlet_code": hamlets}
    )
    got = issues.set_index("record_id")[["commune_code", "hamlet_code"]]
    assert got.loc["persons.csv:1"].tolist() == ["00001", "T1"]
    assert got.loc["persons.csv:3"].tolist() == ["00003", "T3"]


def test_bad_arguments_fail_loudly():
    df = persons(person(1))
    with pytest.raises(ValueError, match="context_columns"):
        record_issues(df, PERSONS, context_columns={"province_code": df["sex"]})
    with pytest.raises(ValueError, match="lacks columns"):
        record_issues(df.drop(columns="ethnicity"), PERSONS)
    with pytest.raises(ValueError, match="no record_id"):
        record_issues(persons(person(1, record_id=None)), PERSONS)


def test_record_with_several_issues_is_quarantined_once_with_sorted_reasons():
    df = persons(
        person(1),
        person(2, citizen_id="123", sex="male", full_name=None),
        person(3),
        person(4, household_id=None),
    )
    issues = record_issues(df, PERSONS)
    clean, quarantined = split_clean_quarantined(df, issues)
    assert len(clean) + len(quarantined) == len(df)
    assert clean["record_id"].tolist() == ["persons.csv:1", "persons.csv:3"]
    reasons = quarantined.set_index("record_id")["reasons"]
    assert reasons["persons.csv:2"] == (
        "not_in_allowed_values:sex; pattern_mismatch:citizen_id; required_missing:full_name"
    )
    assert reasons["persons.csv:4"] == "required_missing:household_id"
    assert list(quarantined.columns) == [*df.columns, "reasons"]
    assert clean.dtypes.equals(df.dtypes)


def test_duplicate_record_keys_are_reported_once_and_both_rows_quarantined():
    df = persons(person(1), person(2, record_id="persons.csv:1"), person(3))
    issues = record_issues(df, PERSONS)
    assert triples(issues) == {("persons.csv:1", "duplicate_key", "record_id")}
    assert not issues.duplicated(list(ISSUES.primary_key)).any()
    clean, quarantined = split_clean_quarantined(df, issues)
    assert len(quarantined) == 2 and len(clean) == 1
    assert len(clean) + len(quarantined) == len(df)


def test_warnings_do_not_quarantine():
    df = persons(person(1), person(2))
    warning = ISSUES.enforce(
        pd.DataFrame(
            {
                "table_name": ["staging.persons"],
                "record_id": ["persons.csv:2"],
                "commune_code": [None],
                "hamlet_code": [None],
                "rule": ["unusual_age"],
                "field_name": ["birth_date"],
                "severity": ["warning"],
                "message": ["birth_date is unusual"],
            }
        )
    )
    clean, quarantined = split_clean_quarantined(df, warning)
    assert len(clean) == 2 and quarantined.empty


def test_split_rejects_issues_that_do_not_belong_to_the_frame():
    df = persons(person(1, sex="x"), person(2))
    issues = record_issues(df, PERSONS)
    with pytest.raises(ValueError, match="not in the frame"):
        split_clean_quarantined(df.iloc[1:], issues)
    other = issues.assign(table_name="staging.households")
    with pytest.raises(ValueError, match="several tables"):
        split_clean_quarantined(df, pd.concat([issues, other]))


def test_counts_reconcile_on_random_frames():
    rng = np.random.default_rng(7)
    for trial in range(20):
        n = int(rng.integers(1, 60))
        rows = []
        for i in range(n):
            overrides: dict[str, object] = {}
            if rng.random() < 0.2:
                overrides["sex"] = "?"
            if rng.random() < 0.2:
                overrides["citizen_id"] = "1" * int(rng.integers(1, 13))
            if rng.random() < 0.1:
                overrides["full_name"] = None
            if rng.random() < 0.05:
                overrides["record_id"] = "persons.csv:0"
            rows.append(person(i, **overrides))
        df = persons(*rows)
        issues = record_issues(df, PERSONS, unique_columns=("citizen_id",))
        clean, quarantined = split_clean_quarantined(df, issues)
        assert len(clean) + len(quarantined) == len(df), trial
        flagged = set(issues["record_id"])
        assert set(quarantined["record_id"]) == flagged
        assert not set(clean["record_id"]) & flagged
        assert quarantined["reasons"].notna().all()
