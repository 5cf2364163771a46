"""Probable duplicate persons across households, found with Splink (DuckDB backend).

The same person may be recorded in two households under a slightly different name
(a lost diacritic, a dropped or doubled letter) and without a citizen ID, or with
another one: exact ID matching cannot see it. Splink scores candidate pairs with a
Fellegi-Sunter model, pairs above a threshold are clustered (connected components),
and each cluster whose records lie in more than one household is reported.

The model, and why it is set so (deterministic and offline by construction):

- Candidate pairs (blocking) within the province, the unit of a run, each rule on a key
  few records share (``_prediction_rules``): the same name and the same day and month
  in either order; the same birth date and the folded name with one word cut to its
  first letter (a slip in that word); the same citizen ID; an ID one slip away with the
  same birth date and family or given name. Every rule needs the same birth year.
  Vietnamese names concentrate (Nguyễn ≈ 38 %), so a key of birth date and family name,
  or of name and birth year, grows with the square of the province (1.2 M persons:
  5.9 M pairs; 14 M: ≈ 800 M); these keys make 78,000 and 10.3 M (Cao Bằng's shape),
  25.9 M at 14 M shaped as TP. Hồ Chí Minh, mostly people of one name born on one day
  (6.4 M) or of one family and middle name and given names of one initial (15.9 M; a
  synthetic province has 66,000 names for 14 M persons).
- Comparisons, as people err: name (exact as written, lower case; equal once folded
  by ``fold_text``: diacritics, case, spacing; the same words in another order with y
  written i: a swapped given/middle name, "Vy"/"Vi"; folded names one edit apart: a
  letter lost, doubled or swapped, as clerks slip; Jaro-Winkler ≥ 0.95, ≥ 0.88 on the
  folded name; different), birth date (exact; within a year), sex, citizen ID
  (exact; one missing; an old 9-digit number is neutral; Damerau-Levenshtein ≤ 1, one
  digit mistyped or two swapped anywhere in the 12; same last six digits; different)
  and ethnicity.
- u: every level's is set from the data (``data_u``), none by Splink's sampler, which
  scores each comparison on its own sample of pairs (most of a small province's run):
  equalities and ID slips from value counts, birth dates within a year from the sorted
  dates, and the two name similarity levels from one seeded sample of record pairs
  drawn in key order (same sample whatever the order or the thread count). No level is
  left untrained, so Splink does not warn.
- The prior (probability that two random records match) is estimated from
  deterministic rules (same ID; same folded name, birth date and sex) at an assumed
  recall; with no such pair, that of one missed pair.
- m: EM on same-birth-date pairs, when the data hold at least ``MIN_FOR_EM``
  deterministic matches (a clean register has no "same person" class to learn),
  starting from ``M_PRIORS``; birth date and the levels only a duplicate shows
  (``FIXED_M``) keep their priors, since EM cannot observe them in every register.

- Scale: the records are a DuckDB table built a slice at a time
  (``assets.quality.duplicate_records``), never a pandas frame of the province; the
  model (u, prior, m) is trained once on it, its statistics counted by DuckDB, then
  pairs are predicted band by band of whole birth years (``birth_year_bands``): every
  blocking rule needs the same birth year, so no pair is lost and memory follows the
  band. Only the linked pairs and their records are brought out of DuckDB and
  clustered (Splink's connected components).

Record keys, not names or IDs, leave this module; the DuckDB database is in memory and
spills to a temporary directory of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from assets.quality.duplicate_records import (
    SPLINK_COLUMNS as SPLINK_COLUMNS,
)
from assets.quality.duplicate_records import (
    SplinkRecords,
    load_records,
    model_database,
    records_from_frame,
)
from assets.quality.duplicate_records import (
    splink_input as splink_input,
)
from expectations.schemas import TABLES

PROBABLE_DUPLICATES = TABLES["quality.probable_duplicates"]
# Splink's Jaro-Winkler levels on the folded name: nearly the same, and alike.
NAME_CLOSE, NAME_ALIKE = 0.95, 0.88
# Neighbours of a 6-digit serial one slip away: 6 × 9 substitutions, 5 transpositions.
SERIAL_NEIGHBOURS = 6 * 9 + 5
# Deterministic rules of the prior (pairs they find are taken as matches) and the share
# of all matches they are expected to find; below MIN_FOR_EM such pairs, EM has nothing
# to learn a "same person" class from and the m priors stand.
PRIOR_RECALL = 0.8
MIN_FOR_EM = 10

# m priors per comparison, in level order (null levels take none): what share of true
# duplicates fall in each level. EM starts from them and replaces each level it
# observes; the levels only a duplicate shows (``FIXED_M``) keep them.
M_PRIORS: dict[str, list[float]] = {
    "name": [0.70, 0.12, 0.06, 0.06, 0.03, 0.02, 0.01],
    "birth_date": [0.98, 0.01, 0.01],
    "sex": [0.98, 0.02],
    "citizen_id": [0.50, 0.30, 0.12, 0.03, 0.05],
    "ethnicity": [0.95, 0.05],
}
# (comparison, level label) whose m stays the prior: a clean register holds no pair at
# these levels, so EM cannot observe them (and Splink warns when it tries).
FIXED_M = {
    ("name", "same words in another order"),
    ("name", "one letter lost, doubled or swapped"),
    ("name", "nearly the same"),
    ("citizen_id", "one digit mistyped or two swapped"),
    ("citizen_id", "same last six digits"),
}
# The comparisons and the record fields they compare (reported per cluster).
FIELDS = {
    "name": "full_name",
    "birth_date": "birth_date",
    "sex": "sex",
    "citizen_id": "citizen_id",
    "ethnicity": "ethnicity",
}


@dataclass(frozen=True)
class DuplicateSettings:
    """How probable duplicates are scored and cut (see the module docstring)."""

    threshold: float = 0.9  # pairs at or above this match probability are linked
    # Random pairs sampled for the u of the name similarity levels (every other u is
    # counted from the data): 2e5 sees some 300 pairs in the rarer level.
    u_max_pairs: float = 2e5
    seed: int = 2026
    threads: int | None = None  # DuckDB threads (None: DuckDB's default, all cores)
    m_priors: dict[str, list[float]] = field(default_factory=lambda: dict(M_PRIORS))
    em: bool = True  # train m by expectation maximisation (False: the priors)
    # Same-birth-date pairs EM trains on at most (Splink's hash sample of records, the
    # same whatever the order): they grow with the square of the province (120,000
    # persons: 372,000 pairs, 17 s of comparison vectors; 1.2 M: ~37 M).
    em_max_pairs: float = 2e5
    # Records predicted at once (consecutive birth years, whole years): the candidate
    # pairs and comparison vectors of one band, not of the province, are in memory.
    band_persons: int = 250_000
    # DuckDB's memory limit for the model's database (None: DuckDB's default, 80% of
    # the machine); above it DuckDB evicts its tables' blocks and spills to a temporary
    # directory. Without it, 14 M persons peaked at 6.1 GB (the records' table, training).
    memory_limit: str | None = "3GB"


@dataclass(frozen=True)
class DuplicateRun:
    """The clusters found, with what the run cost (for metadata: counts only)."""

    table: pd.DataFrame  # quality.probable_duplicates
    pairs_scored: int
    pairs_linked: int
    seconds: float
    records_in: int = 0  # person records compared


def _equal_share(records: SplinkRecords, value: str) -> float:
    """Share of pairs of records (both with a value) whose values are equal: the exact
    u of an equality level, from value counts (``value``: a SQL expression of a record,
    written here, never from data). Counted in integers, as exact as before in pandas."""
    same, n = records.row(
        f"SELECT sum(c * (c - 1)), sum(c) FROM (SELECT count(*) AS c FROM "
        f"(SELECT {value} AS v FROM records) WHERE v IS NOT NULL GROUP BY v)"
    )
    n = int(n or 0)
    return float(int(same) / (n * (n - 1))) if n > 1 else 0.0


def _within_a_year_share(records: SplinkRecords) -> float:
    """Share of pairs of records (both with a birth date) born on different days at
    most 366 days apart, counted exactly from the records per birth date."""
    per_day = records.query(
        "SELECT CAST(birth_date AS DATE) - DATE '1970-01-01' AS day, count(*) AS n "
        "FROM records WHERE birth_date IS NOT NULL GROUP BY day ORDER BY day"
    )
    days = per_day["day"].to_numpy(dtype="int64")
    counts = per_day["n"].to_numpy(dtype="int64")
    n = int(counts.sum())
    if n < 2:
        return 0.0
    before = np.concatenate([[0], np.cumsum(counts)])  # records of earlier days
    near = (
        before[np.searchsorted(days, days + 366, side="right")]
        - before[np.searchsorted(days, days - 366, side="left")]
    )
    return float(int((counts * (near - counts)).sum()) / (n * (n - 1)))


def _name_similarity_shares(
    records: SplinkRecords, pairs: int, seed: int
) -> tuple[float, float, float]:
    """Shares of record pairs whose names fall in the similarity levels (folded names one
    edit apart, Jaro-Winkler "nearly the same", "alike") and in no earlier level, from
    ``pairs`` random pairs drawn with ``seed`` over the records in key order (same
    sample whatever the input order).

    Only the two similarity levels need a sample; drawing it here scores one comparison
    on it instead of Splink's sampler scoring every comparison on its own sample. Only
    the names of the records drawn leave DuckDB."""
    (n,) = records.row("SELECT count(*) FROM records WHERE name IS NOT NULL")
    if n < 2:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    size = int(min(pairs, n * (n - 1) / 2))
    left = rng.integers(0, n, size)
    right = (left + rng.integers(1, n, size)) % n  # never the same record
    drawn = records.at_positions(np.union1d(left, right))
    left, right = np.searchsorted(drawn.index, left), np.searchsorted(drawn.index, right)
    # Equal names are equal once folded, and then as word sets: a pair is in no earlier
    # level exactly when its word sets differ.
    keys = drawn["name_key"].to_numpy(dtype=object)
    apart = keys[left] != keys[right]
    folded = drawn["name_folded"].to_numpy(dtype=object)
    sample = pd.DataFrame({"l": folded[left[apart]], "r": folded[right[apart]]})
    con = duckdb.connect(":memory:")
    try:
        con.register("sample", sample)
        slip, close, alike = con.execute(
            f"""
            select count(*) filter (where slip), count(*) filter (where not slip and jw >= ?),
                count(*) filter (where not slip and jw < ? and jw >= ?)
            from (
                select {one_slip("l", "r")} as slip, jaro_winkler_similarity(l, r) as jw
                from sample
            )
            """,
            [NAME_CLOSE, NAME_CLOSE, NAME_ALIKE],
        ).fetchone()
    finally:
        con.close()
    return slip / size, close / size, alike / size


# A citizen ID of 12 digits (``\d`` as Python reads it: any decimal digit), else null.
_TWELVE_DIGITS = r"CASE WHEN regexp_full_match(citizen_id, '\p{Nd}{12}') THEN citizen_id END"


def data_u(
    records: SplinkRecords, pairs: float = 2e6, seed: int = 0
) -> dict[tuple[str, str], float]:
    """u of every level, set from the data: equality levels from value counts, an ID
    one slip away from the share of pairs with the same first six digits (the serial
    part is drawn at random), birth dates within a year from the counts per date, the
    name similarity levels from a seeded sample of ``pairs`` pairs, and each "different"
    level as what the others leave. Each is at least one pair's worth, so no level is
    left untrained (Splink's "u values not fully trained"). Counted by DuckDB over the
    records' table: no column of the province is brought into Python."""
    n, missing_ids = records.row("SELECT count(*), count(*) - count(citizen_id) FROM records")
    floor = 2.0 / max(n * (n - 1), 2)
    same_name, same_fold = _equal_share(records, "name"), _equal_share(records, "name_folded")
    same_key = _equal_share(records, "name_key")
    slip, close, alike = _name_similarity_shares(records, int(pairs), seed)
    same_prefix = _equal_share(records, f"left({_TWELVE_DIGITS}, 6)")
    u = {
        ("name", "exact"): same_name,
        ("name", "same without diacritics, case or spacing"): same_fold - same_name,
        ("name", "same words in another order"): same_key - same_fold,
        ("name", "one letter lost, doubled or swapped"): slip,
        ("name", "nearly the same"): close,
        ("name", "alike"): alike,
        ("name", "different"): 1 - same_key - slip - close - alike,
        ("birth_date", "exact"): _equal_share(records, "birth_date"),
        ("birth_date", "within a year"): _within_a_year_share(records),
        ("citizen_id", "exact"): _equal_share(records, _TWELVE_DIGITS),
        ("citizen_id", "one digit mistyped or two swapped"): same_prefix
        * SERIAL_NEIGHBOURS
        / 10**6,
        ("citizen_id", "same last six digits"): _equal_share(
            records, f"right({_TWELVE_DIGITS}, 6)"
        ),
        ("sex", "exact"): _equal_share(records, "sex"),
        ("ethnicity", "exact"): _equal_share(records, "ethnicity"),
    }
    u[("birth_date", "different")] = (
        1 - u[("birth_date", "exact")] - u[("birth_date", "within a year")]
    )
    u[("sex", "different")] = 1 - u[("sex", "exact")]
    u[("ethnicity", "different")] = 1 - u[("ethnicity", "exact")]
    missing = missing_ids / n if n else 0.0
    u[("citizen_id", "one ID missing")] = 1 - (1 - missing) ** 2
    u[("citizen_id", "different")] = 1 - sum(
        v for (comparison, _), v in u.items() if comparison == "citizen_id"
    )
    return {k: min(max(v, floor), 1 - floor) for k, v in u.items()}


def _settings(records: SplinkRecords, settings: DuplicateSettings, prior: float):
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator

    m = settings.m_priors
    u = data_u(records, settings.u_max_pairs, settings.seed)

    def level(comparison: str, creator, label: str):
        """A level labelled for charts, with its u set from the data where
        ``data_u`` has one, and its m fixed where EM cannot observe it."""
        configured = {"label_for_charts": label}
        if (comparison, label) in u:
            configured |= {"u_probability": u[(comparison, label)], "fix_u_probability": True}
        if (comparison, label) in FIXED_M:
            index = _level_labels(comparison).index(label)
            configured |= {"m_probability": m[comparison][index], "fix_m_probability": True}
        return creator.configure(**configured)

    def jaro_winkler(at_least: float) -> object:
        return cll.JaroWinklerLevel("name_folded", at_least)

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name"),
            level(
                "name",
                cll.ExactMatchLevel("name").configure(tf_adjustment_column="name"),
                "exact",
            ),
            level(
                "name",
                cll.ExactMatchLevel("name_folded"),
                "same without diacritics, case or spacing",
            ),
            level("name", cll.ExactMatchLevel("name_key"), "same words in another order"),
            level(
                "name",
                cll.CustomLevel(one_slip("name_folded_l", "name_folded_r")),
                "one letter lost, doubled or swapped",
            ),
            level("name", jaro_winkler(NAME_CLOSE), "nearly the same"),
            level("name", jaro_winkler(NAME_ALIKE), "alike"),
            level("name", cll.ElseLevel(), "different"),
        ],
    ).configure(m_probabilities=m["name"])
    birth = cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            level("birth_date", cll.ExactMatchLevel("birth_date"), "exact"),
            level(
                "birth_date",
                cll.CustomLevel(
                    "abs(date_diff('day', birth_date_l, birth_date_r)) <= 366",
                    base_dialect_str="duckdb",
                ),
                "within a year",
            ),
            level("birth_date", cll.ElseLevel(), "different"),
        ],
    ).configure(m_probabilities=m["birth_date"])
    # A missing ID on one side is evidence, not neutral: a double entry is often made
    # without the ID. An old 9-digit number against another number says nothing (the
    # same person may hold both). The slips people make typing 12 digits: one digit
    # wrong or two neighbours swapped, anywhere; or a wrong PPP G YY before the right
    # serial. Levels whose u a sample cannot see take it from ``data_u``.
    citizen_id = cl.CustomComparison(
        output_column_name="citizen_id",
        comparison_levels=[
            level("citizen_id", cll.ExactMatchLevel("citizen_id"), "exact"),
            level(
                "citizen_id",
                cll.CustomLevel("citizen_id_l IS NULL OR citizen_id_r IS NULL"),
                "one ID missing",
            ),
            cll.CustomLevel(
                "old_id_l OR old_id_r", label_for_charts="an old 9-digit number"
            ).configure(is_null_level=True),
            level(
                "citizen_id",
                cll.CustomLevel(one_slip("citizen_id_l", "citizen_id_r")),
                "one digit mistyped or two swapped",
            ),
            level(
                "citizen_id",
                cll.CustomLevel("right(citizen_id_l, 6) = right(citizen_id_r, 6)"),
                "same last six digits",
            ),
            level("citizen_id", cll.ElseLevel(), "different"),
        ],
    ).configure(m_probabilities=m["citizen_id"])

    def exact(comparison: str) -> object:
        return cl.CustomComparison(
            output_column_name=comparison,
            comparison_levels=[
                cll.NullLevel(comparison),
                level(comparison, cll.ExactMatchLevel(comparison), "exact"),
                level(comparison, cll.ElseLevel(), "different"),
            ],
        ).configure(m_probabilities=m[comparison])

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=prior,
        blocking_rules_to_generate_predictions=_prediction_rules(),
        comparisons=[name, birth, exact("sex"), citizen_id, exact("ethnicity")],
        additional_columns_to_retain=["household_id"],
        retain_matching_columns=False,
    )


def one_slip(left: str, right: str) -> str:
    """SQL: the two texts are at most one slip apart (Damerau-Levenshtein ≤ 1: a
    character lost, added, mistyped, or two neighbours swapped).

    DuckDB's ``damerau_levenshtein`` costs some 2 µs a pair, its ``levenshtein`` 0.4 µs:
    the second, at most 2 for any such pair (a swap is two of its edits), is asked
    first, so most pairs never reach the first. The same answer, a fifth of the cost on
    the tens of millions of pairs of a large province."""
    return f"levenshtein({left}, {right}) <= 2 AND damerau_levenshtein({left}, {right}) <= 1"


# The folded name with one word cut to its first letter: the family name, the middle
# words (the first one's initial kept), the given name. SQL on the columns
# ``splink_input`` makes, the same on every engine.
FAMILY_CUT = "left(name_folded, 1) || substr(name_folded, length(family_folded) + 1)"
MIDDLE_INITIAL = "substr(name_folded, length(family_folded) + 2, 1)"
GIVEN_CUT = "left(name_folded, length(name_folded) - length(given_folded) + 1)"
# Windows of a 12-digit ID (first and last digit, from 1), one of which holds any one
# slip: a digit mistyped, lost or added, or two neighbours swapped. Digits 1-6 (birth
# province, century and sex, year) are alike among the born on one day; without its
# window an ID keeps 4 or 3 of the 6 serial digits. Three rules, not six of narrower
# windows: a rule's join costs some 0.8 µs a record, the more pairs of wider windows
# (14 M persons: 230,000) less.
ID_WINDOWS = ((1, 8), (8, 10), (10, 12))


def _id_without(first: int, last: int) -> str:
    """SQL: the citizen ID without digits ``first``-``last``, the rest kept from both
    ends so that a digit lost or added inside the window leaves it aligned."""
    kept = [f"left(citizen_id, {first - 1})"] if first > 1 else []
    return " || ".join([*kept, f"right(citizen_id, {12 - last})"] if last < 12 else kept)


def _prediction_rules() -> list:
    """The candidate pairs the model scores: every kind of duplicate it can link, on
    keys few records of a province share, so that the pairs follow the duplicates
    rather than the square of the province. Every rule needs the same birth year, so
    predicting band by band of birth years (``birth_year_bands``) loses no pair.

    No longer candidates, as the model would not link them: a wrong birth day or month
    (not swapped), or two words of a name changed, with no ID agreeing. Against the
    prior of a province such a pair stays far below the threshold (1.2 M persons: at
    best 0.0005 for a wrong day and the rarest name, 0.03 for a name "alike" on the
    same day, ID missing). There, every pair the earlier rules linked is still linked,
    and three pairs more (a family and a given name swapped: "Hà Thị Vy", "Vi Thị Hà")."""
    from splink import block_on
    from splink.blocking_rule_library import And, CustomRule

    return [
        # The same name as the name comparison sees it equal (as written, without
        # diacritics or case, words in another order, y written i: ``name_key``), and
        # the same birth year, day and month, the day and month in either order: the
        # same birth date, or 05/03 read as 3 May.
        block_on(
            "name_key",
            "birth_year",
            "least(month(birth_date), day(birth_date))",
            "greatest(month(birth_date), day(birth_date))",
        ),
        # A slip in one word (a letter lost, doubled or swapped: the model's "one
        # letter lost, doubled or swapped") leaves the other words whole and the
        # word's first letter as it was, on the same birth date. A key per word: the
        # family name cut to its initial, the middle words (family and given name
        # whole, the middle's initial), the given name cut to its initial.
        block_on("birth_date", FAMILY_CUT),
        block_on("birth_date", "family_folded", "given_folded", MIDDLE_INITIAL),
        block_on("birth_date", GIVEN_CUT),
        # The same citizen ID in the same birth year, whatever the name or the day.
        block_on("citizen_id", "birth_year"),
        # An ID one slip away (the model's "one digit mistyped or two swapped") on the
        # same birth date, with the family or the given name the same, as the earlier
        # rules asked: by chance alone, IDs one slip apart are common among the many
        # born on one day. The slip lies in one of the windows, so the ID without
        # that window is the same.
        *(
            And(
                block_on("birth_date", _id_without(first, last)),
                CustomRule("l.family_folded = r.family_folded OR l.given_folded = r.given_folded"),
            )
            for first, last in ID_WINDOWS
        ),
    ]


LEVEL_LABELS: dict[str, tuple[str, ...]] = {
    "name": (
        "exact",
        "same without diacritics, case or spacing",
        "same words in another order",
        "one letter lost, doubled or swapped",
        "nearly the same",
        "alike",
        "different",
    ),
    "birth_date": ("exact", "within a year", "different"),
    "sex": ("exact", "different"),
    "citizen_id": (
        "exact",
        "one ID missing",
        "one digit mistyped or two swapped",
        "same last six digits",
        "different",
    ),
    "ethnicity": ("exact", "different"),
}


def _level_labels(comparison: str) -> tuple[str, ...]:
    """The non-null levels of a comparison, in the order of ``M_PRIORS``."""
    return LEVEL_LABELS[comparison]


def _deterministic_rules():
    """Pairs taken as the same person for the prior: the same citizen ID, or the same
    folded name, birth date and sex."""
    from splink import block_on

    return [block_on("citizen_id"), block_on("name_folded", "birth_date", "sex")]


def _deterministic_pairs(records: SplinkRecords) -> int:
    """How many pairs the deterministic rules find (an upper bound: pairs both rules
    find count twice), counted from value counts; records missing a key are in no pair,
    as the rules' SQL equality has it."""
    (pairs,) = records.row(
        "SELECT coalesce(sum(c * (c - 1) // 2), 0) FROM ("
        "SELECT count(*) AS c FROM records WHERE citizen_id IS NOT NULL GROUP BY citizen_id "
        "UNION ALL SELECT count(*) AS c FROM records WHERE name_folded IS NOT NULL "
        "AND birth_date IS NOT NULL AND sex IS NOT NULL GROUP BY name_folded, birth_date, sex)"
    )
    return int(pairs)


# EM sessions, each blocked on a field the model then does not train there (Splink's
# advice): the same birth date trains name, sex, citizen ID and ethnicity. Birth date
# keeps its priors: a block on names that keeps the pairs few (same birth year) cannot
# observe its "different" level.
def _training_rules():
    from splink import block_on

    return [block_on("birth_date")]


# The record columns the deterministic rules read.
PRIOR_COLUMNS = ["unique_id", "citizen_id", "name_folded", "birth_date", "sex"]


def _estimated_prior(db_api, records: SplinkRecords) -> float:
    """Splink's estimate of the prior from the deterministic rules at ``PRIOR_RECALL``,
    made on a view of the columns those rules read only: Splink copies its input for the
    self-join, and a copy of every compared column was the step's memory peak."""
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator

    view = "persons_for_prior"
    columns = ", ".join(PRIOR_COLUMNS)
    records.con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT {columns} FROM {records.table}")
    try:
        # The comparison is a placeholder: the estimate reads the rules and counts only.
        creator = SettingsCreator(
            link_type="dedupe_only",
            unique_id_column_name="unique_id",
            comparisons=[cl.ExactMatch("sex")],
        )
        linker = Linker(db_api.register(view), creator, log_level=logging.WARNING)
        linker.training.estimate_probability_two_random_records_match(
            _deterministic_rules(), recall=PRIOR_RECALL
        )
        return linker.misc.save_model_to_json()["probability_two_random_records_match"]
    finally:
        records.con.execute(f"DROP VIEW IF EXISTS {view}")


def _trained_linker(
    con: duckdb.DuckDBPyConnection, records: SplinkRecords, settings: DuplicateSettings
) -> tuple:
    """A DuckDB Splink linker over ``records`` (the model's table in ``con``) with the
    model trained on it: u from the data, the prior from the deterministic rules, m by
    EM. Returns the linker, its settings creator and its database API."""
    from splink import DuckDBAPI, Linker

    n = len(records)
    total = n * (n - 1) / 2
    deterministic = _deterministic_pairs(records)
    con.execute("SET enable_progress_bar = false")
    if settings.threads:
        con.execute(f"SET threads = {int(settings.threads)}")
    db_api = DuckDBAPI(con)
    # With no deterministic match the prior is that of one pair the rules missed.
    prior = _estimated_prior(db_api, records) if deterministic else 1 / (PRIOR_RECALL * total)
    creator = _settings(records, settings, prior)
    linker = Linker(
        db_api.register(records.table, table_name="persons_for_splink"),
        creator,
        log_level=logging.WARNING,
    )
    if settings.em and deterministic >= MIN_FOR_EM:
        for rule in _training_rules():
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule,
                estimate_without_term_frequencies=True,
                max_pairs=settings.em_max_pairs,
                record_sample_proportion=min(1.0, 2e4 / n),
            )
    return linker, creator, db_api


def trained_model(
    frame: pd.DataFrame, settings: DuplicateSettings | None = None, dialect: str = "duckdb"
) -> dict:
    """The province model (``_settings``) trained on ``frame`` (``splink_input`` rows)
    with DuckDB, as Splink's JSON settings in ``dialect`` ("duckdb", "spark"): trained
    once on a sample, then reused by other engines (``assets.quality.national``).

    Splink writes a model's SQL in the dialect it was trained in; for another, the same
    comparisons are rendered in that dialect and the trained probabilities copied over
    level by level."""
    if len(frame) < 2:
        raise ValueError("training the duplicate model needs at least two records")
    settings = settings or DuplicateSettings()
    with model_database(settings.memory_limit) as con:
        records = records_from_frame(con, frame)
        linker, creator, _ = _trained_linker(con, records, settings)
        trained = linker.misc.save_model_to_json()
    if dialect == trained.get("sql_dialect", "duckdb"):
        return trained
    model = creator.create_settings_dict(dialect)
    model["probability_two_random_records_match"] = trained["probability_two_random_records_match"]
    for ours, theirs in zip(model["comparisons"], trained["comparisons"], strict=True):
        pairs = zip(ours["comparison_levels"], theirs["comparison_levels"], strict=True)
        for level, learnt in pairs:
            for key in ("m_probability", "u_probability"):
                if key in learnt:
                    level[key] = learnt[key]
    return model


def find_probable_duplicates(
    persons: pd.DataFrame | Iterable[pd.DataFrame],
    households: pd.DataFrame,
    hamlets: pd.DataFrame,
    settings: DuplicateSettings | None = None,
) -> DuplicateRun:
    """Clusters of person records that are probably one person in several households.

    ``persons`` (``SPLINK_COLUMNS``) is a frame or slices of one (``person_slices``):
    they are appended to a DuckDB table one at a time, so the province is never a
    pandas frame. Returns ``quality.probable_duplicates`` rows: per record of a cluster
    spanning more than one household, the cluster (named by its smallest record_id), the
    record's household and place, the highest match probability linking it to the
    cluster, and the fields on which the cluster's linked pairs agree and differ (names,
    not values).

    The model is trained once on the whole province; pairs are predicted band by band
    of birth years (``birth_year_bands``), so memory follows the band, not the province.
    """
    settings = settings or DuplicateSettings()
    start = time.perf_counter()
    slices = [persons] if isinstance(persons, pd.DataFrame) else persons
    with model_database(settings.memory_limit) as con:
        records = load_records(con, slices)
        records_in = len(records)
        if records_in < 2:
            return DuplicateRun(PROBABLE_DUPLICATES.enforce(_empty()), 0, 0, 0.0, records_in)
        linker, _, db_api = _trained_linker(con, records, settings)
        scored, linked = _predicted_pairs(linker, db_api, records, settings)
        clusters = _clusters(db_api, records, linked, settings.threshold)
        linked_ids = pd.concat([linked["unique_id_l"], linked["unique_id_r"]])
        compared = records.of(linked_ids, list(FIELDS))
    table = _report(clusters, linked, households, hamlets, compared)
    return DuplicateRun(
        table=table,
        pairs_scored=scored,
        pairs_linked=len(linked),
        seconds=round(time.perf_counter() - start, 2),
        records_in=records_in,
    )


# Pairs scored below this probability are neither kept nor counted (``pairs_scored``).
SCORED_AT_LEAST = 0.01


def birth_year_bands(birth_years: pd.Series, band_persons: int) -> pd.Series:
    """The band of each record: consecutive whole birth years holding about
    ``band_persons`` records (a year of more is a band of its own); no band for a
    record without a birth year.

    Every blocking rule pairs records of the same birth date or the same birth year
    only, and SQL equality never holds for a missing value, so no pair spans two bands
    and a record without a birth date is in no pair: predicting band by band finds
    exactly the pairs of one prediction over the province."""
    counts = birth_years.dropna().value_counts()
    return birth_years.map(_bands_of_years(counts, band_persons)).astype("Int64")


def _bands_of_years(counts: pd.Series, band_persons: int) -> pd.Series:
    """The band of each birth year (``counts``: records per year), as ``birth_year_bands``."""
    counts = counts.sort_index()
    before = counts.cumsum() - counts  # records of earlier years
    band_of_year = before // max(int(band_persons), 1)
    # Renumber 0, 1, 2… (the floor division skips numbers where a year is large).
    return pd.Series(pd.factorize(band_of_year)[0], index=counts.index)


def _predicted_pairs(
    linker, db_api, records: SplinkRecords, settings: DuplicateSettings
) -> tuple[int, pd.DataFrame]:
    """The count of pairs scored (at least ``SCORED_AT_LEAST``) and the pairs linked (at
    least the threshold: record keys and probability), predicted band by band with the
    model trained on the whole province.

    A band is a table of its records, the years between its first and last (the bands
    cut the sorted years). Name term frequencies are those of the whole province,
    computed once, as a single prediction would use them; only the linked pairs leave
    DuckDB."""
    from duckdb import ColumnExpression, ConstantExpression

    linker.table_management.compute_tf_table("name")
    per_year = records.query(
        "SELECT birth_year, count(*) AS n FROM records WHERE birth_year IS NOT NULL "
        "GROUP BY birth_year"
    )
    band_of_year = _bands_of_years(per_year.set_index("birth_year")["n"], settings.band_persons)
    years = band_of_year.index.to_series().groupby(band_of_year.to_numpy()).agg(["min", "max"])
    at_threshold = ColumnExpression("match_probability") >= ConstantExpression(settings.threshold)
    scored, linked = 0, []
    for first, last in years.itertuples(index=False):
        records.con.execute(
            f"CREATE OR REPLACE TABLE persons_band AS SELECT * FROM {records.table} "
            "WHERE birth_year BETWEEN ? AND ?",
            [int(first), int(last)],
        )
        band = db_api.register("persons_band")
        try:
            predictions = linker.inference.predict_within(
                band, threshold_match_probability=SCORED_AT_LEAST, warning_mode="never"
            )
            relation = predictions.as_duckdbpyrelation()
            scored += relation.aggregate("count(*)").fetchone()[0]
            linked.append(
                relation.filter(at_threshold)
                .select("unique_id_l", "unique_id_r", "match_probability")
                .df()
            )
            predictions.drop_table_from_database_and_remove_from_cache()
        finally:
            records.con.execute("DROP TABLE IF EXISTS persons_band")
    columns = {"unique_id_l": "string", "unique_id_r": "string", "match_probability": "float64"}
    if not linked:
        return scored, pd.DataFrame({c: pd.Series([], dtype=t) for c, t in columns.items()})
    return scored, pd.concat(linked, ignore_index=True).astype(columns)


def _clusters(
    db_api, records: SplinkRecords, linked: pd.DataFrame, threshold: float
) -> pd.DataFrame:
    """Splink's connected components of the linked pairs: cluster, record key and
    household of every record in a linked pair (a record in none is a cluster of its
    own, which the report drops)."""
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    nodes = records.of(pd.concat([linked["unique_id_l"], linked["unique_id_r"]]), ["household_id"])
    if nodes.empty:
        return pd.DataFrame(
            {c: pd.Series([], dtype="string") for c in ("cluster_id", "unique_id", "household_id")}
        )
    clusters = cluster_pairwise_predictions_at_threshold(
        nodes, linked, db_api, "unique_id", threshold_match_probability=threshold
    )
    found = clusters.as_pandas_dataframe()[["cluster_id", "unique_id"]]
    return found.merge(nodes, on="unique_id", how="left")


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="object") for c in PROBABLE_DUPLICATES.columns})


def _fields_compared(
    linked: pd.DataFrame, cluster_of: pd.Series, frame: pd.DataFrame
) -> pd.DataFrame:
    """Per cluster, the fields equal in all its linked pairs (agreeing) and those that
    differ or are missing on one side in some pair (differing); a field missing on both
    sides of every pair is neither. Names are compared as written (lower case)."""
    pairs = linked[linked["unique_id_l"].isin(cluster_of.index)]
    # The compared fields of the clusters' records only, not a copy of the province.
    members = frame["unique_id"].isin(cluster_of.index).to_numpy(dtype=bool)
    values = frame.loc[members, ["unique_id", *FIELDS]].set_index("unique_id")
    left, right = values.loc[pairs["unique_id_l"]], values.loc[pairs["unique_id_r"]]
    cluster = pairs["unique_id_l"].map(cluster_of).to_numpy()
    agree: dict[str, list[str]] = {}
    differ: dict[str, list[str]] = {}
    for column, field_name in FIELDS.items():
        a, b = left[column].reset_index(drop=True), right[column].reset_index(drop=True)
        both_missing = (a.isna() & b.isna()).groupby(cluster).all()
        equal = (a == b).fillna(False).astype(bool).groupby(cluster).all()
        for cluster_id in equal.index:
            if not both_missing[cluster_id]:
                target = agree if equal[cluster_id] else differ
                target.setdefault(cluster_id, []).append(field_name)
    ids = sorted(set(cluster))
    return pd.DataFrame(
        {
            "cluster_id": ids,
            "agreeing_fields": [", ".join(agree.get(c, [])) for c in ids],
            "differing_fields": [", ".join(differ.get(c, [])) for c in ids],
        }
    )


def _report(
    clusters: pd.DataFrame,
    linked: pd.DataFrame,
    households: pd.DataFrame,
    hamlets: pd.DataFrame,
    frame: pd.DataFrame,
) -> pd.DataFrame:
    """Clusters spanning several households, one row per record, in stable order."""
    clusters = clusters.astype({"cluster_id": "string", "unique_id": "string"})
    size = clusters.groupby("cluster_id")["unique_id"].transform("size")
    grouped = clusters[size > 1].copy()
    grouped["household_id"] = grouped["household_id"].fillna("")  # no household: one of its own
    spread = grouped.groupby("cluster_id")["household_id"].transform("nunique")
    kept = grouped[spread > 1].copy()
    kept["household_id"] = kept["household_id"].replace("", pd.NA)
    if kept.empty:
        return PROBABLE_DUPLICATES.enforce(_empty())
    # Name each cluster by its smallest record key: stable across runs and engines.
    kept["cluster_id"] = kept.groupby("cluster_id")["unique_id"].transform("min")
    edges = pd.concat(
        [
            linked[[side, "match_probability"]].rename(columns={side: "unique_id"})
            for side in ("unique_id_l", "unique_id_r")
        ]
    )
    best = edges.groupby("unique_id")["match_probability"].max()
    place = households[["household_id", "hamlet_code"]].drop_duplicates("household_id")
    place = place.merge(hamlets[["hamlet_code", "commune_code"]], on="hamlet_code", how="left")
    out = kept.rename(columns={"unique_id": "record_id"}).merge(
        place, on="household_id", how="left"
    )
    out["match_probability"] = out["record_id"].map(best).astype("float64").round(6)
    cluster_of = kept.set_index("unique_id")["cluster_id"]
    out = out.merge(_fields_compared(linked, cluster_of, frame), on="cluster_id", how="left")
    out = out.sort_values(["cluster_id", "record_id"], ignore_index=True)
    return PROBABLE_DUPLICATES.enforce(
        out.astype(
            {
                c: "string"
                for c in (
                    "household_id",
                    "hamlet_code",
                    "commune_code",
                    "agreeing_fields",
                    "differing_fields",
                )
            }
        )
    )


def probable_duplicate_issues(
    duplicates: pd.DataFrame, persons: pd.DataFrame, locations: dict[str, pd.Series] | None = None
) -> pd.DataFrame:
    """A warning per record of a probable duplicate cluster whose records do not all
    share one citizen ID (those are already errors: ``person_in_two_households``)."""
    from assets.quality.issues import issue_rows

    ids = persons.set_index("record_id")["citizen_id"].astype("string")
    member_ids = duplicates["record_id"].map(ids)
    # Grouped by cluster in C, not a Python call per cluster (81,444 cluster members at
    # 14 M persons: 4.9 s of CPU before, 0.6 s).
    cluster = duplicates["cluster_id"]
    all_known = member_ids.notna().groupby(cluster).transform("all")
    one_id = member_ids.groupby(cluster).transform("nunique").eq(1)
    report = duplicates[~(all_known & one_id).to_numpy(dtype=bool)]
    mask = persons["record_id"].isin(report["record_id"]).to_numpy(dtype=bool)
    row = report.set_index("record_id").reindex(persons.loc[mask, "record_id"])
    others = report.groupby("cluster_id")["record_id"].agg(lambda r: ", ".join(sorted(r)[:4]))
    message = (
        "probably the same person as another record in another household (group "
        + row["cluster_id"].map(others).astype("string").reset_index(drop=True)
        + ", match probability "
        + row["match_probability"].round(3).astype("string").reset_index(drop=True)
        + "); check both records, keep the person where they live and strike off the "
        "other (Nghi trùng nhân khẩu giữa các hộ)"
    )
    return issue_rows(
        "staging.persons",
        persons.loc[mask, "record_id"],
        rule="probable_duplicate",
        field_name="full_name",
        severity="warning",
        message=message,
        **{k: v[mask] for k, v in (locations or {}).items()},
    )
