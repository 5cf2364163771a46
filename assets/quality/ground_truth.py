"""Score the quality stage against a synthetic province's planted errors.

``synthetic.province`` writes ``ground_truth/planted_errors.csv`` (file, row, field,
error_type). Each person/household/registry error type is caught by one or more rules;
this module measures, per type, how many planted errors the rules found (recall) and how
many of the rules' findings are planted errors (precision). Used by the tests and the
benchmark; it reads record keys only.

Precision is per rule set: a type whose rules also catch another type (e.g. digit 4 of
the citizen ID covers both a bad century and a flipped sex) counts findings on either as
correct. Exact duplicates are pairs: the planted copy and the record it copies (which
the truth does not list) are both correct findings. Probable duplicates are scored per
reported cluster: correct when it holds exactly one planted copy and one record with
the copy's sex and birth date whose name is at most two edits from the copy's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from expectations.schemas import strip_diacritics

PERSONS_FILE = "persons.csv"
HOUSEHOLDS_FILE = "households.csv"
REGISTRY_FILE = "hamlet_registry.xlsx"
PROBABLE = "probable_duplicates"

# Planted error type -> (table of quality.record_issues, rules that catch it).
RULES_FOR_ERROR: dict[str, tuple[str, tuple[str, ...]]] = {
    "citizen_id_malformed": ("staging.persons", ("invalid_value", "pattern_mismatch")),
    "citizen_id_bad_century_digit": ("staging.persons", ("citizen_id_century_sex_mismatch",)),
    "citizen_id_sex_mismatch": ("staging.persons", ("citizen_id_century_sex_mismatch",)),
    "citizen_id_year_mismatch": ("staging.persons", ("citizen_id_year_mismatch",)),
    "citizen_id_duplicate": ("staging.persons", ("person_in_two_households",)),
    "person_duplicate_typo_no_id": ("quality.probable_duplicates", (PROBABLE,)),
    "sex_missing": ("staging.persons", ("required_missing:sex",)),
    "birth_date_unparseable": ("staging.persons", ("required_missing:birth_date",)),
    "birth_date_future": ("staging.persons", ("birth_date_future",)),
    "household_no_head": ("staging.persons", ("household_no_head",)),
    "household_two_heads": ("staging.persons", ("household_several_heads",)),
    "head_under_15": ("staging.persons", ("head_too_young",)),
    "household_unknown_hamlet_code": ("staging.households", ("unknown_hamlet_code",)),
    "household_point_outside_hamlet": ("staging.households", ("point_outside_hamlet",)),
    "registry_households_mismatch": ("staging.hamlets", ("declared_households_mismatch",)),
}
DETERMINISTIC = tuple(t for t, (_, rules) in RULES_FOR_ERROR.items() if PROBABLE not in rules)


@dataclass(frozen=True)
class Score:
    error_type: str
    rules: str
    planted: int
    found: int
    flagged: int  # findings of the rules
    correct: int  # findings that are planted errors (or their partners)

    @property
    def recall(self) -> float:
        return self.found / self.planted if self.planted else float("nan")

    @property
    def precision(self) -> float:
        return self.correct / self.flagged if self.flagged else float("nan")


def planted_keys(landing: Path) -> pd.DataFrame:
    """The planted errors with the key the quality stage reports them under.

    Person and household rows become ``record_id`` (``file:row``); registry rows become
    the hamlet code on that row of the registry workbook.
    """
    planted = pd.read_csv(landing / "ground_truth" / "planted_errors.csv", dtype=str)
    planted["key"] = planted["file"] + ":" + planted["row"]
    registry = planted["file"] == REGISTRY_FILE
    if registry.any():
        workbook = pd.read_excel(landing / REGISTRY_FILE, dtype=str)
        code_column = next(c for c in workbook.columns if "thôn" in c.lower() and "mã" in c.lower())
        codes = workbook[code_column].str.strip()
        rows = planted.loc[registry, "row"].astype(int) - 1
        planted.loc[registry, "key"] = codes.iloc[rows.to_numpy()].to_numpy()
    return planted


def _flags(issues: pd.DataFrame, table: str, rules: tuple[str, ...]) -> set[str]:
    subset = issues[issues["table_name"] == table]
    keys = subset["rule"] + ":" + subset["field_name"].fillna("")
    hit = subset["rule"].isin(rules) | keys.isin(rules)
    return set(subset.loc[hit, "record_id"])


def _one_typo_apart(a: str, b: str) -> bool:
    """Names at most two edits apart once lower-cased (a lost diacritic counts one)."""
    a, b = a.lower(), b.lower()
    if strip_diacritics(a) == strip_diacritics(b):
        return True
    if abs(len(a) - len(b)) > 2:
        return False
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1] <= 2


def _probable_score(
    duplicates: pd.DataFrame,
    persons: pd.DataFrame,
    typo_copies: set[str],
    exact_copies: set[str],
) -> tuple[int, int, int]:
    """(planted typo copies found, clusters reported, clusters correct).

    A cluster is correct when it is a pair of one person: a planted typo copy with a
    record of the same sex and birth date whose name is at most two edits away, or a
    planted exact copy with the record whose citizen ID it repeats.
    """
    people = persons.set_index("record_id")
    found, correct = set(), 0
    for _, members in duplicates.groupby("cluster_id"):
        keys = list(members["record_id"])
        if len(keys) != 2:
            continue
        a, b = people.loc[keys[0]], people.loc[keys[1]]
        if set(keys) & exact_copies:
            correct += int(pd.notna(a["citizen_id"]) and a["citizen_id"] == b["citizen_id"])
            continue
        typo = [k for k in keys if k in typo_copies]
        if len(typo) != 1:
            continue
        same = (
            a["sex"] == b["sex"]
            and a["birth_date"] == b["birth_date"]
            and _one_typo_apart(str(a["full_name"]), str(b["full_name"]))
        )
        if same:
            correct += 1
            found.add(typo[0])
    return len(found), duplicates["cluster_id"].nunique(), correct


def score(
    landing: Path,
    issues: pd.DataFrame,
    duplicates: pd.DataFrame,
    persons: pd.DataFrame,
) -> list[Score]:
    """Recall and precision per planted error type (see the module docstring)."""
    planted = planted_keys(landing)
    keys_of = planted.groupby("error_type")["key"].agg(set).to_dict()
    # Records sharing a citizen ID with a planted exact copy are its partners.
    copies = keys_of.get("citizen_id_duplicate", set())
    ids = persons.set_index("record_id")["citizen_id"].astype("string")
    copied_ids = set(ids.reindex(list(copies)).dropna())
    partners = set(ids.index[ids.isin(copied_ids).to_numpy(dtype=bool)])
    scores = []
    for error_type, (table, rules) in RULES_FOR_ERROR.items():
        wanted = keys_of.get(error_type, set())
        if PROBABLE in rules:
            found, flagged, correct = _probable_score(duplicates, persons, wanted, copies)
        else:
            flagged_keys = _flags(issues, table, rules)
            explained = set().union(
                *(
                    keys_of.get(other, set())
                    for other, (other_table, other_rules) in RULES_FOR_ERROR.items()
                    if other_table == table and set(other_rules) & set(rules)
                )
            )
            if error_type == "citizen_id_duplicate":
                explained |= partners
            found = len(wanted & flagged_keys)
            flagged, correct = len(flagged_keys), len(flagged_keys & explained)
        scores.append(Score(error_type, "+".join(rules), len(wanted), found, flagged, correct))
    return scores


def score_table(scores: list[Score]) -> pd.DataFrame:
    """The scores as a table (for printing and reports)."""
    return pd.DataFrame(
        {
            "error_type": [s.error_type for s in scores],
            "rules": [s.rules for s in scores],
            "planted": [s.planted for s in scores],
            "found": [s.found for s in scores],
            "recall": np.round([s.recall for s in scores], 4),
            "flagged": [s.flagged for s in scores],
            "precision": np.round([s.precision for s in scores], 4),
        }
    )


def evaluate_landing(landing: Path, *, as_of: str) -> tuple[pd.DataFrame, dict[str, float]]:
    """Stage a synthetic landing folder, run every rule, the suites and Splink; return
    the score table and the figures of the run: persons, and seconds per part (the
    quality benchmark)."""
    import datetime as dt
    import time

    from assets.quality.duplicates import find_probable_duplicates
    from assets.quality.settings import QualitySettings
    from assets.quality.validate import quality_issues
    from assets.raw.landing import Landing, load_raw
    from assets.staging.tables import (
        stage_communes,
        stage_hamlets,
        stage_households,
        stage_persons,
    )
    from expectations.schemas import TABLES
    from expectations.suites import KNOWN_HAMLET_CODES, validate_frame

    raw = Landing(landing)
    communes = stage_communes(load_raw(raw.file("communes"))).table
    hamlets = stage_hamlets(
        load_raw(raw.file("hamlet_boundaries")), load_raw(raw.file("hamlet_registry")), communes
    ).table
    households = stage_households(load_raw(raw.file("households")), hamlets).table
    extract_date = dt.date.fromisoformat(as_of)
    persons = stage_persons(load_raw(raw.file("persons")), as_of=extract_date).table
    figures: dict[str, float] = {"persons": len(persons)}
    start = time.perf_counter()
    validate_frame(persons, TABLES["staging.persons"], parameters={"as_of": as_of})
    validate_frame(
        households,
        TABLES["staging.households"],
        parameters={KNOWN_HAMLET_CODES: hamlets["hamlet_code"].tolist()},
    )
    validate_frame(hamlets, TABLES["staging.hamlets"])
    figures["suites_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    settings = QualitySettings(as_of=extract_date)
    quality_issues(persons, households, hamlets, settings=settings)
    figures["record_rules_seconds"] = time.perf_counter() - start
    run = find_probable_duplicates(persons, households, hamlets)
    figures["splink_seconds"] = run.seconds
    issues = quality_issues(persons, households, hamlets, settings=settings, duplicates=run.table)
    return score_table(score(landing, issues, run.table, persons)), figures


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Score the quality stage on a synthetic province")
    parser.add_argument("landing", type=Path, help="landing folder written by `hamlets synth`")
    parser.add_argument("--as-of", default="2026-01-01", help="extract date of the generator")
    args = parser.parse_args()
    table, figures = evaluate_landing(args.landing, as_of=args.as_of)
    print(table.to_string(index=False))
    print({k: round(v, 1) for k, v in figures.items()})
