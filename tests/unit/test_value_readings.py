"""Values read other than as written are counted per file and field, never quoted."""

import numpy as np
import pandas as pd
import pytest

from assets.staging.readings import combine_readings, readings_summary, value_readings


def _rows(files: list[str], rows: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {"source_file": files, "source_row_number": rows, "citizen_id": ["x"] * len(rows)}
    )


def test_readings_count_per_file_with_the_first_row():
    rows = _rows(["a.csv", "a.csv", "b.csv", "a.csv"], [7, 3, 5, 9])
    got = value_readings(
        "staging.persons",
        rows,
        np.array([True, True, True, False]),
        field_name="citizen_id",
        reading="leading zero restored",
        outcome="recovered",
    )
    assert got[["source_file", "records", "first_row_number"]].values.tolist() == [
        ["a.csv", 2, 3],
        ["b.csv", 1, 5],
    ]
    assert "x" not in got.to_string()


def test_a_file_staged_in_chunks_counts_once():
    def chunk(rows: list[int]) -> pd.DataFrame:
        return value_readings(
            "staging.persons",
            _rows(["a.csv"] * len(rows), rows),
            np.ones(len(rows), dtype=bool),
            field_name="birth_date",
            reading="month-first block",
            outcome="warned",
        )

    combined = combine_readings([chunk([10, 11]), None, chunk([4])])
    assert combined[["records", "first_row_number"]].values.tolist() == [[3, 4]]
    assert readings_summary(combined) == {
        "values_warned": "a.csv birth_date: 3 (month-first block)"
    }


def test_an_unknown_outcome_is_refused():
    with pytest.raises(ValueError, match="outcome"):
        value_readings(
            "t", _rows(["a"], [1]), [True], field_name="f", reading="r", outcome="guessed"
        )
