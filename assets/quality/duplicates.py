"""Probable duplicate persons across households, found with Splink (DuckDB backend).

The same person may be recorded in two households under a slightly different name
(a lost diacritic, a dropped or doubled letter) and without a citizen ID, or with
another one: exact ID matching cannot see it. Splink scores candidate pairs with a
Fellegi-Sunter model, pairs above a threshold are clustered (connected components),
and each cluster whose records lie in more than one household is reported.

The model, and why it is set so (deterministic and offline by construction):

- Candidate pairs (blocking) within the province, the unit of a run: the same birth
  date and the same family name or the same given name (diacritic-free; a slip in one
  word of a name leaves the other), or the same diacritic-free name and birth year
  (catches a mistyped birth date). Same birth date alone grows with the square of the
  province (1.2 M persons: ~20 M pairs); the name halves keep it near-linear.
- Comparisons: name (Jaro-Winkler below 0.8 without diacritics: different; exact, with
  a term-frequency adjustment since common names say less; equal without diacritics;
  one edit, a swap counting one; two edits), birth date
  (exact; within a year), sex, citizen ID (exact; one missing; same last six digits;
  two valid IDs differ; other differences, e.g. a malformed one; an old 9-digit number
  is neutral) and ethnicity.
- m probabilities are fixed priors (``M_PRIORS``), not trained: EM needs a sizeable
  share of true matches among the candidate pairs, and planted or real duplicates are a
  fraction of a percent, so EM drifts towards "same family" instead of "same person".
- u probabilities are estimated by random sampling with a fixed seed; Splink 5 samples
  by hashing the record key with the seed, so the sample, and the model, is the same on
  every run (and whatever the input order or thread count). Citizen ID levels that a
  sample cannot observe get fixed or exact u values (see ``_settings``).
- The prior (probability that two random records match) follows from the expected share
  of duplicate records: ``2 × share / (N - 1)``.

Record keys, not names or IDs, leave this module; the DuckDB database is in memory.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from expectations.citizen_id import citizen_id_consistent
from expectations.schemas import TABLES, strip_diacritics

PROBABLE_DUPLICATES = TABLES["quality.probable_duplicates"]
# Jaro-Winkler similarity (names without diacritics) below which names are different.
DIFFERENT_NAMES = 0.8
# Fixed u of the citizen ID levels that random sampling cannot observe: the same ID,
# and the same six serial digits (NNNNNN) behind a different PPP G YY.
U_SAME_ID = 1e-7
U_SAME_SERIAL = 1e-6

# m priors per comparison, in level order (null levels take none): what share of true
# duplicates fall in each level. Judgement, set so that a typo'd name or a missing ID
# is common among duplicates, and two valid but different IDs almost never are.
M_PRIORS: dict[str, list[float]] = {
    "name": [0.002, 0.85, 0.07, 0.05, 0.018, 0.01],
    "birth_date": [0.95, 0.03, 0.02],
    "sex": [0.98, 0.02],
    "citizen_id": [0.563, 0.40, 0.03, 0.002, 0.005],
    "ethnicity": [0.95, 0.05],
}


@dataclass(frozen=True)
class DuplicateSettings:
    """How probable duplicates are scored and cut (see the module docstring)."""

    threshold: float = 0.9  # pairs at or above this match probability are linked
    expected_duplicate_share: float = 0.01  # share of records that copy another
    u_max_pairs: float = 2e6  # pairs sampled to estimate u
    seed: int = 2026
    threads: int | None = None  # DuckDB threads (None: DuckDB's default, all cores)
    m_priors: dict[str, list[float]] = field(default_factory=lambda: dict(M_PRIORS))


@dataclass(frozen=True)
class DuplicateRun:
    """The clusters found, with what the run cost (for metadata: counts only)."""

    table: pd.DataFrame  # quality.probable_duplicates
    pairs_scored: int
    pairs_linked: int
    seconds: float


# The person columns the model reads.
SPLINK_COLUMNS = (
    "record_id",
    "household_id",
    "full_name",
    "birth_date",
    "sex",
    "citizen_id",
    "ethnicity",
)


def splink_input(persons: pd.DataFrame) -> pd.DataFrame:
    """One row per person record in the form the model compares.

    Names are compared lower-cased (NFC) and without diacritics; text transforms run
    once per distinct name, not per record.
    """
    raw = persons["full_name"].astype("string")
    distinct = raw.dropna().unique()
    spaced = [" ".join(str(n).lower().split()) for n in distinct]
    names = raw.map(pd.Series(spaced, index=distinct, dtype="string")).astype("string")
    folded = raw.map(
        pd.Series([strip_diacritics(n) for n in spaced], index=distinct, dtype="string")
    ).astype("string")
    births = pd.to_datetime(persons["birth_date"], errors="coerce")
    ids = persons["citizen_id"].astype("string").str.strip().replace("", pd.NA)
    old = ids.str.fullmatch(r"\d{9}").fillna(False).astype(bool)
    # A well-formed ID that agrees with sex and birth year: two such IDs that differ
    # are two people, unlike a malformed or inconsistent one (likely a typing slip).
    valid = ids.str.fullmatch(r"\d{12}").fillna(False).astype(bool) & citizen_id_consistent(
        ids, persons["sex"], persons["birth_date"]
    )
    return pd.DataFrame(
        {
            "unique_id": persons["record_id"].astype("string").to_numpy(),
            "household_id": persons["household_id"].astype("string").to_numpy(),
            "name": names.to_numpy(),
            "name_folded": folded.to_numpy(),
            "family_folded": folded.str.split(" ").str[0].to_numpy(),
            "given_folded": folded.str.split(" ").str[-1].to_numpy(),
            "birth_date": births.dt.normalize().to_numpy(),
            "birth_year": births.dt.year.astype("Int64").to_numpy(),
            "sex": persons["sex"].astype("string").to_numpy(),
            "citizen_id": ids.to_numpy(),
            "old_id": old.to_numpy(),
            "valid_id": valid.to_numpy(),
            "ethnicity": persons["ethnicity"].astype("string").to_numpy(),
        }
    )


def _settings(frame: pd.DataFrame, settings: DuplicateSettings):
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    m = settings.m_priors
    n = len(frame)
    missing = float(frame["citizen_id"].isna().mean()) if n else 0.0
    u_missing = max(1 - (1 - missing) ** 2, U_SAME_ID)
    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name"),
            # First, cheaply: most candidate pairs are plainly different names, and
            # DuckDB evaluates the costlier edit distances below only for the rest.
            cll.CustomLevel(
                f"jaro_winkler_similarity(name_folded_l, name_folded_r) < {DIFFERENT_NAMES}",
                label_for_charts="different names",
            ),
            cll.ExactMatchLevel("name").configure(tf_adjustment_column="name"),
            cll.ExactMatchLevel("name_folded"),  # diacritics lost or changed
            cll.DamerauLevenshteinLevel("name_folded", 1),  # a letter lost, added, swapped
            cll.LevenshteinLevel("name_folded", 2),
            cll.ElseLevel(),
        ],
    ).configure(m_probabilities=m["name"])
    birth = cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date"),
            cll.CustomLevel(
                "abs(date_diff('day', birth_date_l, birth_date_r)) <= 366",
                label_for_charts="within a year",
            ),
            cll.ElseLevel(),
        ],
    ).configure(m_probabilities=m["birth_date"])
    # A missing ID on one side is evidence, not neutral: a double entry is often made
    # without the ID. An old 9-digit number against another number says nothing (the
    # same person may hold both). IDs are unique, so a shared one between two people
    # cannot be sampled: its u is fixed. A missing ID is rare, so a sample may hold none:
    # its u is exact instead, 1 - (1 - q)² for a share q of records without one. The
    # same six serial digits behind another PPP G YY is a slip in the structured part.
    # Two valid IDs (well-formed, consistent with sex and birth year) that differ are
    # strong evidence of two people; a malformed or inconsistent one less so.
    # No "nearly equal" level: two people born on the same day share the first six
    # digits (PPP G YY), so nearly equal IDs are common among candidate pairs.
    citizen_id = cl.CustomComparison(
        output_column_name="citizen_id",
        comparison_levels=[
            cll.ExactMatchLevel("citizen_id").configure(
                u_probability=U_SAME_ID, fix_u_probability=True
            ),
            cll.CustomLevel(
                "citizen_id_l IS NULL OR citizen_id_r IS NULL", label_for_charts="one ID missing"
            ).configure(u_probability=u_missing, fix_u_probability=True),
            cll.CustomLevel(
                "old_id_l OR old_id_r", label_for_charts="an old 9-digit number"
            ).configure(is_null_level=True),
            cll.CustomLevel(
                "right(citizen_id_l, 6) = right(citizen_id_r, 6)",
                label_for_charts="same last six digits",
            ).configure(u_probability=U_SAME_SERIAL, fix_u_probability=True),
            cll.CustomLevel("valid_id_l AND valid_id_r", label_for_charts="two valid IDs differ"),
            cll.ElseLevel(),
        ],
    ).configure(m_probabilities=m["citizen_id"])
    prior = min(0.5, 2 * settings.expected_duplicate_share / max(n - 1, 1))
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=prior,
        blocking_rules_to_generate_predictions=[
            block_on("birth_date", "family_folded"),
            block_on("birth_date", "given_folded"),
            block_on("name_folded", "birth_year"),
        ],
        comparisons=[
            name,
            birth,
            cl.ExactMatch("sex").configure(m_probabilities=m["sex"]),
            citizen_id,
            cl.ExactMatch("ethnicity").configure(m_probabilities=m["ethnicity"]),
        ],
        additional_columns_to_retain=["household_id"],
        retain_matching_columns=False,
    )


def find_probable_duplicates(
    persons: pd.DataFrame,
    households: pd.DataFrame,
    hamlets: pd.DataFrame,
    settings: DuplicateSettings | None = None,
) -> DuplicateRun:
    """Clusters of person records that are probably one person in several households.

    Returns ``quality.probable_duplicates`` rows: per record of a cluster spanning more
    than one household, the cluster (named by its smallest record_id), the record's
    household and place, and the highest match probability linking it to the cluster.
    """
    from splink import DuckDBAPI, Linker

    settings = settings or DuplicateSettings()
    start = time.perf_counter()
    frame = splink_input(persons)
    empty = DuplicateRun(PROBABLE_DUPLICATES.enforce(_empty()), 0, 0, 0.0)
    if len(frame) < 2:
        return empty
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET enable_progress_bar = false")
        if settings.threads:
            con.execute(f"SET threads = {int(settings.threads)}")
        db_api = DuckDBAPI(con)
        linker = Linker(
            db_api.register(frame, table_name="persons_for_splink"),
            _settings(frame, settings),
            log_level=logging.WARNING,
        )
        # One pass over the sample (no early stop): same work, same estimates, every run.
        linker.training.estimate_u_using_random_sampling(
            max_pairs=settings.u_max_pairs,
            seed=settings.seed,
            num_chunks=1,
            min_count_per_level=None,
        )
        predictions = linker.inference.predict(threshold_match_probability=0.01)
        columns = ["unique_id_l", "unique_id_r", "match_probability"]
        pairs = predictions.as_pandas_dataframe()[columns]
        linked = pairs[pairs["match_probability"] >= settings.threshold]
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=settings.threshold
        ).as_pandas_dataframe()[["cluster_id", "unique_id", "household_id"]]
    finally:
        con.close()
    table = _report(clusters, linked, households, hamlets)
    return DuplicateRun(
        table=table,
        pairs_scored=len(pairs),
        pairs_linked=len(linked),
        seconds=round(time.perf_counter() - start, 2),
    )


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="object") for c in PROBABLE_DUPLICATES.columns})


def _report(
    clusters: pd.DataFrame,
    linked: pd.DataFrame,
    households: pd.DataFrame,
    hamlets: pd.DataFrame,
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
    out = out.sort_values(["cluster_id", "record_id"], ignore_index=True)
    return PROBABLE_DUPLICATES.enforce(
        out.astype({c: "string" for c in ("household_id", "hamlet_code", "commune_code")})
    )


def probable_duplicate_issues(
    duplicates: pd.DataFrame, persons: pd.DataFrame, locations: dict[str, pd.Series] | None = None
) -> pd.DataFrame:
    """A warning per record of a probable duplicate cluster whose records do not all
    share one citizen ID (those are already errors: ``person_in_two_households``)."""
    from assets.quality.issues import issue_rows

    ids = persons.set_index("record_id")["citizen_id"].astype("string")
    member_ids = duplicates["record_id"].map(ids)
    same_id = member_ids.groupby(duplicates["cluster_id"]).transform(
        lambda v: v.notna().all() and v.nunique() == 1
    )
    report = duplicates[~same_id.astype(bool)]
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
