"""Birth dates in every form offices write, with each file's day/month order read from
its own evidence: no date is swapped, guessed or dropped without being counted."""

from __future__ import annotations

import csv
import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from assets.quality.record_checks import record_issues, split_clean_quarantined
from assets.quality.value_flags import person_value_warnings
from assets.raw.defs import RAW_ASSETS
from assets.raw.landing import find_landing_file, load_raw
from assets.staging.defs import staging_persons
from assets.staging.tables import Staged, stage_persons
from assets.warehouse import Warehouse
from expectations.schemas import TABLES
from pipelines.build import build_resources
from pipelines.settings import Settings
from synthetic.province import synthesise_province

HEADER = ["Số ĐDCN", "Họ và tên", "Ngày sinh", "Giới tính", "Mã hộ", "Quan hệ với chủ hộ"]
AS_OF = dt.date(2026, 1, 15)
DAY_FIRST_PROOF = "25/12/1980"  # day > 12: this file writes day first


def _stage(tmp_path, births: list[str], **kwargs) -> Staged:
    """A persons CSV typed by hand, one person per birth date, staged."""
    with open(tmp_path / "persons.csv", "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i, birth in enumerate(births, start=1):
            writer.writerow([f"0040900{i:05d}", "Nông Văn A", birth, "Nam", f"H{i}", "Chủ hộ"])
    return stage_persons(load_raw(find_landing_file(tmp_path, "persons")), **kwargs)


def _readings(staged: Staged, outcome: str) -> dict[str, int]:
    """How many values were read each way, for one outcome (none before this feature)."""
    if staged.readings is None:
        return {}
    rows = staged.readings[staged.readings["outcome"].eq(outcome)]
    return dict(zip(rows["reading"], rows["records"].astype(int), strict=True))


def _flags(staged: Staged) -> list[bool]:
    return staged.table["birth_date_order_unproven"].tolist()


def _dates(staged: Staged) -> list[str | None]:
    return [None if pd.isna(d) else f"{d:%Y-%m-%d}" for d in staged.table["birth_date"]]


@pytest.mark.parametrize(
    ("written", "expected", "partial"),
    [
        ("5/3/1990", "1990-03-05", False),
        ("5.3.1990", "1990-03-05", False),
        ("05-03-1990", "1990-03-05", False),
        ("05/03/1990 00:00:00", "1990-03-05", False),
        ("5/3/1990 14:30", "1990-03-05", False),
        ("5/3/90", "1990-03-05", False),
        ("1990-03-05 00:00:00", "1990-03-05", False),
        ("1990-3-5", "1990-03-05", False),
        ("ngày 05 tháng 3 năm 1990", "1990-03-05", False),
        ("Ngày 5, tháng 03, năm 1990", "1990-03-05", False),
        ("ngay 5 thang 3 nam 1990", "1990-03-05", False),
        ("ngày 5/3/1990", "1990-03-05", False),
        ("tháng 3 năm 1990", "1990-03-01", True),
        ("3/1990", "1990-03-01", True),
        ("năm 1990", "1990-01-01", True),
    ],
)
def test_each_office_form_is_read_as_written(tmp_path, written, expected, partial):
    staged = _stage(tmp_path, [DAY_FIRST_PROOF, written], as_of=AS_OF)
    assert _dates(staged) == ["1980-12-25", expected]
    assert staged.table["birth_date_is_partial"].tolist() == [False, partial]
    assert _flags(staged) == [False, False]
    assert _readings(staged, "quarantined") == {}


def test_forms_read_before_still_read_and_serials_and_years_are_counted(tmp_path):
    staged = _stage(
        tmp_path, [DAY_FIRST_PROOF, "05/03/1990", "05.03.1990", "1990-03-05", "32874", "1990"]
    )
    assert _dates(staged) == [
        "1980-12-25",
        *["1990-03-05"] * 3,
        "1990-01-01",  # Excel serial 32874
        "1990-01-01",  # a bare year: partial, as before
    ]
    assert staged.table["birth_date_is_partial"].tolist() == [False] * 5 + [True]
    assert _readings(staged, "recovered") == {"Excel serial day number read as a date": 1}
    assert _readings(staged, "warned") == {
        "only the year given: stored as 1 January, flagged as partial": 1
    }


def test_two_digit_years_fall_on_or_before_the_as_of_date(tmp_path):
    births = ["10/01/26", "15/01/26", "16/01/26", "20/01/26", "01/01/00", "31/12/99", "4/7/25"]
    staged = _stage(tmp_path, births, as_of=AS_OF)
    assert _dates(staged) == [
        "2026-01-10",
        "2026-01-15",  # the as-of date itself
        "1926-01-16",  # the day after it would be a future birth
        "1926-01-20",
        "2000-01-01",
        "1999-12-31",
        "2025-07-04",
    ]
    reading = "two-digit year put in the century that makes the date on or before 2026-01-15"
    assert _readings(staged, "recovered") == {reading: 7}
    # Another extract date moves the boundary: no birth is ever after the as-of date.
    earlier = _stage(tmp_path, births, as_of=dt.date(2025, 6, 30))
    assert _dates(earlier)[:4] == ["1926-01-10", "1926-01-15", "1926-01-16", "1926-01-20"]
    assert _dates(earlier)[6] == "1925-07-04"


# Three communes pasted into one file; the second from a PC with US settings.
COMMUNE_A = [
    ("25/03/1980", "1980-03-25"),
    ("05/04/1982", "1982-04-05"),
    ("13/11/1975", "1975-11-13"),
    ("02/03/1990", "1990-03-02"),
    ("17/08/2001", "2001-08-17"),
]
COMMUNE_B_US = [
    ("03/25/1985", "1985-03-25"),
    ("04/05/1979", "1979-04-05"),
    ("11/13/1990", "1990-11-13"),
    ("02/03/1960", "1960-02-03"),
    ("12/12/2012", "2012-12-12"),
    ("08/17/2003", "2003-08-17"),
    ("12/31/1999", "1999-12-31"),
]
COMMUNE_C = [
    ("14/02/1970", "1970-02-14"),
    ("01/06/1994", "1994-06-01"),
    ("30/09/1966", "1966-09-30"),
    ("28/07/1988", "1988-07-28"),
]


def test_a_month_first_commune_block_among_day_first_blocks_is_read_right_and_counted(
    tmp_path,
):
    pasted = COMMUNE_A + COMMUNE_B_US + COMMUNE_C
    staged = _stage(tmp_path, [written for written, _ in pasted])
    assert _dates(staged) == [truth for _, truth in pasted]
    assert not any(_flags(staged))
    # Rows 6-12 are commune B: 4 dates prove month-first, 6 values read so (12/12 reads
    # the same either way, so it is not counted as read month-first).
    assert _readings(staged, "recovered") == {
        "month-first order (US settings) shown by 4 dates with day > 12 in rows 6–12": 6
    }
    assert _readings(staged, "warned") == _readings(staged, "quarantined") == {}
    first = staged.readings.set_index("outcome").loc["recovered", "first_row_number"]
    assert first == 6


def test_rows_between_blocks_of_different_order_are_warned_not_guessed(tmp_path):
    # An ambiguous date after commune A's last proof and before commune B's first: the
    # block it belongs to cannot be told, so it is read day-first and flagged.
    pasted = [*COMMUNE_A, ("07/08/1970", "1970-08-07"), *COMMUNE_B_US]
    staged = _stage(tmp_path, [written for written, _ in pasted])
    assert _dates(staged) == [truth for _, truth in pasted]
    assert _flags(staged) == [False] * 5 + [True] + [False] * 7
    assert _readings(staged, "warned") == {
        "between the dates of two blocks in different orders (rows 5–7): read day-first, "
        "to be checked": 1
    }
    warnings = person_value_warnings(staged.table)
    flagged = warnings[warnings["rule"].eq("birth_date_order_unproven")]
    assert flagged["record_id"].tolist() == ["persons.csv:6"]
    assert set(flagged["severity"]) == {"warning"}


def test_a_file_whose_order_cannot_be_told_is_staged_with_warnings(tmp_path):
    births = ["05/03/1990", "11/12/1985", "01/02/2000", "07/07/1977", "1991-07-21"]
    staged = _stage(tmp_path, births)
    assert _dates(staged) == ["1990-03-05", "1985-12-11", "2000-02-01", "1977-07-07", "1991-07-21"]
    # 07/07 and the ISO date read the same either way: nothing to check.
    assert _flags(staged) == [True, True, True, False, False]
    assert _readings(staged, "warned") == {
        "no date of the file shows the day/month order (none with day > 12): read "
        "day-first, to be checked": 3
    }
    warnings = person_value_warnings(staged.table)
    assert (warnings["rule"] == "birth_date_order_unproven").sum() == 3
    assert not warnings["message"].str.contains("1990|1985|2000").any()
    errors = record_issues(staged.table, TABLES["staging.persons"], checks="fields")
    clean, _ = split_clean_quarantined(staged.table, pd.concat([errors, warnings]))
    assert len(clean) == 5  # warned, not quarantined


def test_a_date_contradicting_its_block_is_not_swapped_but_quarantined(tmp_path):
    births = [written for written, _ in COMMUNE_A] + ["03/25/1985"] + ["28/07/1988"]
    staged = _stage(tmp_path, births)
    assert _dates(staged)[5] is None
    assert _readings(staged, "quarantined") == {
        "day and month in the opposite order to the day-first dates of rows 1–7: not "
        "swapped, left missing": 1
    }
    errors = record_issues(staged.table, TABLES["staging.persons"], checks="fields")
    assert errors[["record_id", "rule", "field_name"]].values.tolist() == [
        ["persons.csv:6", "required_missing", "birth_date"]
    ]


def test_a_file_mixing_both_orders_without_blocks_is_read_only_where_it_can_be(tmp_path):
    births = ["25/03/1980", "03/25/1985", "05/04/1982", "13/11/1975", "11/13/1990"]
    staged = _stage(tmp_path, births)
    assert _dates(staged) == ["1980-03-25", "1985-03-25", "1982-04-05", "1975-11-13", "1990-11-13"]
    assert _flags(staged) == [False, True, True, False, True]
    why = "dates with day > 12 show both orders and no block of rows"
    assert _readings(staged, "warned") == {
        f"{why}: read day-first, to be checked": 1,
        f"{why}: readable only month-first, read so, to be checked": 2,
    }


def test_unreadable_dates_stay_missing_are_counted_and_raise_the_one_rule(tmp_path):
    births = [DAY_FIRST_PROOF, "31/02/1990", "15/13/1990", "không rõ", "??/??/1990", ""]
    staged = _stage(tmp_path, births)
    assert _dates(staged) == ["1980-12-25", None, None, None, None, None]
    assert _readings(staged, "quarantined") == {
        "not a calendar date (such as 31/02 or month 13): left missing": 2,
        "not a date in any known form: left missing": 2,
    }
    errors = record_issues(staged.table, TABLES["staging.persons"], checks="fields")
    assert set(errors["rule"]) == {"required_missing"}
    assert len(errors) == 5  # the empty one is missing, not unreadable: not a reading
    assert "1990" not in staged.readings.to_string()


def _rewrite_births(persons: pd.DataFrame, us_commune: str) -> tuple[pd.Series, pd.Series]:
    """The clean day-first dates rewritten in the office forms, one commune's block
    month-first (from its first to its last date with day > 12)."""
    births = pd.to_datetime(persons["Ngày sinh"], format="%d/%m/%Y")
    forms = [
        lambda d: f"{d.day}/{d.month}/{d.year}",
        lambda d: f"{d:%d-%m-%Y}",
        lambda d: f"{d:%d.%m.%Y}",
        lambda d: f"{d:%d/%m/%Y} 00:00:00",
        lambda d: f"{d:%Y-%m-%d}",
        lambda d: f"ngày {d.day:02d} tháng {d.month} năm {d.year}",
        lambda d: f"{d.day}/{d.month}/{d:%y}",
    ]
    written = [forms[i % len(forms)](d) for i, d in enumerate(births)]
    commune = persons["Mã hộ"].str.slice(0, 5)
    proves = births.dt.day.gt(12) & commune.eq(us_commune)
    first, last = proves[proves].index.min(), proves[proves].index.max()
    us = births.loc[first:last]
    written[first : last + 1] = [f"{d.month}/{d.day}/{d.year}" for d in us]
    return pd.Series(written, index=persons.index), us


def test_a_synthetic_province_rewritten_in_office_forms_stages_the_same_birth_dates(
    tmp_path,
):
    landing = tmp_path / "landing" / "04"
    synthesise_province(landing, seed=5, households=300, n_communes=3, error_rate=0.0)
    path = landing / "persons.csv"
    persons = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    clean = stage_persons(load_raw(find_landing_file(landing, "persons")), as_of=AS_OF).table
    persons["Ngày sinh"], us_block = _rewrite_births(persons, us_commune="04002")
    persons.to_csv(path, index=False, encoding="utf-8-sig")

    # The Dagster assets, staging in slices smaller than the month-first block.
    settings = Settings(
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}", landing_root=landing.parent, as_of=AS_OF
    )
    raw_persons = next(a for a in RAW_ASSETS if a.key == dg.AssetKey(["raw", "persons"]))
    result = dg.materialize(
        [raw_persons, staging_persons],
        partition_key="04",
        resources=build_resources(settings),
        run_config={"ops": {"staging__persons": {"config": {"chunk_rows": 97}}}},
    )
    assert result.success
    metadata = result.asset_materializations_for_node("staging__persons")[0].metadata
    assert metadata["chunks"].value >= 10  # the block runs across several slices
    assert "month-first order (US settings)" in metadata["values_recovered"].value
    warehouse = Warehouse(settings.warehouse_url)
    staged = warehouse.read_table("staging.persons").sort_values("source_row_number")
    assert len(staged) == len(clean) == len(persons)
    pd.testing.assert_series_equal(
        staged["birth_date"].reset_index(drop=True),
        clean["birth_date"].reset_index(drop=True),
        check_names=False,
    )
    readings = warehouse.read_table("staging.value_readings").set_index("reading")
    month_first = readings[readings.index.str.startswith("month-first order")]
    assert len(month_first) == 1 and month_first["outcome"].iloc[0] == "recovered"
    # Every date of the block whose day and month differ was read month-first.
    assert month_first["records"].iloc[0] == us_block.dt.day.ne(us_block.dt.month).sum()
    assert month_first["first_row_number"].iloc[0] == us_block.index[0] + 1
    # Only the ambiguous dates between the blocks are warned, each read day-first and
    # right here because those rows were written day-first.
    warned = readings[readings["outcome"].eq("warned")]["records"].sum()
    assert warned == staged["birth_date_order_unproven"].sum() < 10
    assert not readings["outcome"].eq("quarantined").any()
