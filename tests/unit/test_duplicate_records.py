"""The duplicate model's records, built slice by slice in DuckDB: the same rows as one
frame of the whole province, no record lost or repeated at a slice's edge."""

from __future__ import annotations

import pandas as pd

from assets.quality.duplicate_records import (
    SPLINK_COLUMNS,
    load_records,
    model_database,
    splink_input,
)


def _persons() -> pd.DataFrame:
    """Hand-written records: a name spelled twice (other spacing and case) on either
    side of the edge between the first two slices, a missing name, an empty, an old
    9-digit and a 12-digit ID, a missing birth date."""
    return pd.DataFrame(
        {
            "record_id": ["p:1", "p:2", "p:3", "p:4", "p:5"],
            "household_id": ["H1", "H1", "H2", "H3", None],
            "full_name": [
                "Nguyễn Văn Đức",
                "Lò Thị  Vy",
                "nguyễn  văn đức",
                None,
                "Lò Thị Vi",
            ],
            "birth_date": pd.to_datetime(
                ["1990-01-02", "1985-12-31", "1990-01-02", None, "1986-01-01"]
            ),
            "sex": ["nam", "nữ", "nam", "nam", "nữ"],
            "citizen_id": ["004090123456", " ", "123456789", None, "004185000001"],
            "ethnicity": ["Kinh", "Thái", "Kinh", None, "Thái"],
        }
    )


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values("unique_id", ignore_index=True)
    text = [c for c in frame.columns if c not in ("birth_date", "birth_year", "old_id", "valid_id")]
    return frame.astype({c: "string" for c in text} | {"birth_year": "Int64"})


def test_slices_make_the_rows_of_one_frame_each_record_once():
    persons = _persons()
    whole = splink_input(persons)
    slices = [persons.iloc[:2], persons.iloc[2:2], persons.iloc[2:4], persons.iloc[4:]]
    with model_database() as con:
        records = load_records(con, iter(slices))
        built = con.execute(f"SELECT * FROM {records.table}").df()
        count = len(records)
        names = con.execute("SELECT count(*) FROM name_forms").fetchone()[0]
    assert count == len(persons)
    assert sorted(built["unique_id"]) == sorted(persons["record_id"])  # none lost, none twice
    assert list(built.columns) == list(whole.columns)
    pd.testing.assert_frame_equal(
        _sorted(built), _sorted(whole), check_dtype=False, check_datetimelike_compat=True
    )
    assert names == 4  # each distinct spelling's forms once, across the slices


def test_no_slice_gives_an_empty_table_of_the_models_columns():
    with model_database() as con:
        records = load_records(con, [])
        assert len(records) == 0
        columns = [r[0] for r in con.execute(f"DESCRIBE {records.table}").fetchall()]
    empty = pd.DataFrame({c: pd.Series([], dtype="string") for c in SPLINK_COLUMNS})
    assert columns == list(splink_input(empty).columns)
