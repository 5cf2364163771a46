"""The candidate pairs of the duplicate model (its blocking rules): every kind of
duplicate the model can link is a candidate, and the pairs follow the duplicates, not
the square of the province. Records are written by hand, not synthesised."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from splink import DuckDBAPI
from splink.blocking_analysis import count_comparisons_from_blocking_rules

from assets.quality.duplicates import _prediction_rules, splink_input

PERSON = {
    "full_name": "Nguyễn Thị Thu Hương",
    "birth_date": "1990-03-05",
    "sex": "Nữ",
    "citizen_id": "004190123456",
    "ethnicity": "Kinh",
}


def _persons(records: list[dict]) -> pd.DataFrame:
    """``PERSON`` with each record's changes, each record in a household of its own."""
    frame = pd.DataFrame(
        [
            {**PERSON, **changes, "record_id": f"r{i:05d}", "household_id": f"H{i:05d}"}
            for i, changes in enumerate(records)
        ]
    )
    return frame.astype({"birth_date": "datetime64[ns]"})


def _candidate_pairs(persons: pd.DataFrame) -> int:
    """Pairs the model's blocking rules make of ``persons`` (Splink's exact count)."""
    frame = splink_input(persons)
    con = duckdb.connect(":memory:")
    try:
        counts = count_comparisons_from_blocking_rules(
            DuckDBAPI(con).register(frame),
            blocking_rules=_prediction_rules(),
            link_type="dedupe_only",
            record_sample_proportion=1.0,
        )
    finally:
        con.close()
    return int(counts[-1]["cumulative_comparison_count"])


# Two records of one person, as registers differ: (first record's changes, second's).
SAME_PERSON = {
    "written the same": ({}, {}),
    "diacritics lost in one word": ({}, {"full_name": "Nguyen Thị Thu Hương"}),
    "a letter doubled in the family name": ({}, {"full_name": "Nguyễnn Thị Thu Hương"}),
    "two letters swapped in a middle name": ({}, {"full_name": "Nguyễn Thị Tuh Hương"}),
    "a letter lost in the given name, no ID": (
        {},
        {"full_name": "Nguyễn Thị Thu Hươg", "citizen_id": None},
    ),
    "given and middle name swapped": ({}, {"full_name": "Nguyễn Thị Hương Thu"}),
    "y written i": ({"full_name": "Lê Thúy Vy"}, {"full_name": "Lê Thúi Vi", "citizen_id": None}),
    "day and month swapped": ({}, {"birth_date": "1990-05-03"}),
    "same ID, day mistyped, middle name dropped": (
        {},
        {"birth_date": "1990-03-25", "full_name": "Nguyễn Thị Hương"},
    ),
    "ID digit mistyped, another given name": (
        {},
        {"citizen_id": "004190123457", "full_name": "Nguyễn Thị Thu Hà"},
    ),
    "ID digits 9 and 10 swapped, another given name": (
        {},
        {"citizen_id": "004190124356", "full_name": "Nguyễn Thị Thu Hà"},
    ),
    "ID digit 7 lost, another family name": (
        {},
        {"citizen_id": "00419023456", "full_name": "Trần Thị Thu Hương"},
    ),
    "ID digit 10 lost, a letter lost in the family name": (
        {},
        {"citizen_id": "00419012356", "full_name": "Ngyễn Thị Thu Hương"},
    ),
}


@pytest.mark.parametrize("first, second", SAME_PERSON.values(), ids=SAME_PERSON.keys())
def test_two_records_of_one_person_are_a_candidate_pair(first, second):
    assert _candidate_pairs(_persons([first, second])) == 1


# Pairs the rules leave out on purpose.
NOT_CANDIDATES = {
    # The old rules paired everyone sharing a birth date and family (or given) name:
    # with Nguyễn ≈ 38 %, the square of the province.
    "another person, same family name and birth date": {
        "full_name": "Nguyễn Văn Nam",
        "sex": "Nam",
        "citizen_id": "004090654321",
    },
    "another person, same given name and birth date": {
        "full_name": "Trần Thị Mai Hương",
        "citizen_id": "004190654321",
    },
    # Every rule needs the same birth year: the prediction runs band by band of years.
    "the birth year mistyped": {"birth_date": "1991-03-05"},
}


@pytest.mark.parametrize("other", NOT_CANDIDATES.values(), ids=NOT_CANDIDATES.keys())
def test_records_left_out_on_purpose_are_no_candidate_pair(other):
    assert _candidate_pairs(_persons([{}, other])) == 0


def _crowd(people: int) -> pd.DataFrame:
    """``people`` persons all named Nguyễn and born on one day, no two of the same name
    (middle and given names made of distinct syllables) and none with an ID, every
    fifth also recorded in another household with a letter of the given name doubled.

    Without IDs: two IDs of such a crowd share the serial digits an ID rule keeps by
    chance, once in 1,000 pairs (``ID_WINDOWS``), a small square term of its own."""
    onsets, rhymes = "bcdghklmnpqrstvx", "aeiou"  # no y: y and i are one (name_key)

    def syllable(i: int, start: str) -> str:
        return start + rhymes[i % 5] + onsets[i // 5 % 16] + rhymes[i // 80 % 5]

    records = []
    for i in range(people):
        name = f"Nguyễn {syllable(i, 'th')} {syllable(i, 'ng')}"
        records.append({"full_name": name, "citizen_id": None})
        if i % 5 == 0:
            records.append({"full_name": name + name[-1], "citizen_id": None})
    return _persons(records)


def test_candidate_pairs_of_a_crowd_sharing_family_name_and_birth_date_grow_linearly():
    small, large = _candidate_pairs(_crowd(200)), _candidate_pairs(_crowd(400))
    # The planted duplicates are candidates, the people are not paired with one another
    # (the old rules: 28,680 and 114,960 pairs, four times as many for twice the people).
    assert small >= 200 // 5 and large >= 400 // 5
    assert large <= 2.2 * small
