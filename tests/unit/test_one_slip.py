"""The duplicate model's "one slip" level asks DuckDB's cheap ``levenshtein`` before its
dear ``damerau_levenshtein``; the answer must be the latter's on every pair."""

from __future__ import annotations

import itertools

import duckdb
import pandas as pd

from assets.quality.duplicates import one_slip

# Every string of up to three letters of an alphabet with a two-byte letter (DuckDB's
# distances count bytes) and a space: all the shapes a slip can take at this length.
ALPHABET = ("a", "b", "ă", " ")
WRITTEN = [
    ("nguyen thi thu huong", "nguyen thi thu houng"),  # two letters swapped
    ("nguyen thi thu huong", "nguyen thi thu huog"),  # a letter lost
    ("nguyen thi lan", "nguyen thi linh"),  # another name
    ("004190123456", "004190124356"),  # ID digits swapped
    ("004190123456", "00419012356"),  # ID digit lost
    ("004190123456", "004190654321"),  # another ID
    ("Nguyễn", "Nguyên"),  # one letter, three bytes against two
]


def _pairs() -> pd.DataFrame:
    words = ["".join(w) for n in range(4) for w in itertools.product(ALPHABET, repeat=n)]
    pairs = list(itertools.product(words, repeat=2)) + WRITTEN
    return pd.DataFrame(pairs, columns=["l", "r"])


def test_one_slip_is_damerau_levenshtein_at_most_one_on_every_pair():
    con = duckdb.connect(":memory:")
    try:
        con.register("pairs", _pairs())
        compared = con.execute(
            f"SELECT l, r, {one_slip('l', 'r')} AS cheap, "
            "damerau_levenshtein(l, r) <= 1 AS dear FROM pairs"
        ).df()
    finally:
        con.close()
    differ = compared[compared["cheap"] != compared["dear"]]
    assert differ.empty, differ.head(10).to_dict("records")
    # The pairs hold both answers, so the test could fail either way.
    assert compared["dear"].sum() > 500 and (~compared["dear"]).sum() > 5_000
    by_pair = compared.set_index(["l", "r"])["cheap"]
    assert by_pair[WRITTEN[0]] and by_pair[WRITTEN[1]] and not by_pair[WRITTEN[2]]
    assert by_pair[WRITTEN[3]] and by_pair[WRITTEN[4]] and not by_pair[WRITTEN[5]]
