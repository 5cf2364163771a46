"""The quality stage against a synthetic province's planted errors (issue 5, "done when").

A fresh seed (not the pipeline fixtures'), staged with the staging functions, checked
with every record rule and Splink; recall and precision per planted error type come from
``ground_truth/planted_errors.csv`` (``assets.quality.ground_truth``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from assets.quality.cross_checks import hamlet_geometry_problems
from assets.quality.duplicates import find_probable_duplicates
from assets.quality.ground_truth import DETERMINISTIC, RULES_FOR_ERROR, score, score_table
from assets.quality.settings import QualitySettings
from assets.quality.validate import quality_issues
from assets.raw.landing import Landing, load_raw
from assets.staging.tables import stage_communes, stage_hamlets, stage_households, stage_persons
from synthetic.files import AS_OF
from synthetic.province import synthesise_province

SEED = 31


def stage(landing: Path) -> dict[str, pd.DataFrame]:
    raw = Landing(landing)
    communes = stage_communes(load_raw(raw.file("communes"))).table
    return {
        "communes": communes,
        "hamlets": stage_hamlets(
            load_raw(raw.file("hamlet_boundaries")), load_raw(raw.file("hamlet_registry")), communes
        ).table,
        "households": stage_households(load_raw(raw.file("households"))).table,
        "persons": stage_persons(load_raw(raw.file("persons"))).table,
    }


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> tuple[Path, dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    landing = tmp_path_factory.mktemp("truth")
    synthesise_province(landing, seed=SEED, households=6000, n_communes=6, error_rate=0.03)
    staged = stage(landing)
    # The extract date the generator wrote "future" birth dates and ages against.
    settings = QualitySettings(as_of=dt.date.fromisoformat(str(AS_OF)))
    duplicates = find_probable_duplicates(
        staged["persons"], staged["households"], staged["hamlets"]
    ).table
    issues = quality_issues(
        staged["persons"],
        staged["households"],
        staged["hamlets"],
        settings=settings,
        duplicates=duplicates,
    )
    return landing, staged, issues, duplicates


def test_every_planted_person_and_household_error_type_is_found(checked):
    landing, staged, issues, duplicates = checked
    # A staging repair that loses a hamlet polygon would put its households "outside";
    # the point rule is scored only on a partition staging got right.
    assert hamlet_geometry_problems(staged["hamlets"])["collapsed_polygons"] == 0
    table = score_table(score(landing, issues, duplicates, staged["persons"]))
    print("\n" + table.to_string(index=False))
    assert set(table["error_type"]) == set(RULES_FOR_ERROR)
    assert (table["planted"] > 0).all(), table
    deterministic = table[table["error_type"].isin(DETERMINISTIC)]
    assert (deterministic["recall"] >= 0.99).all(), deterministic
    assert (deterministic["precision"] >= 0.99).all(), deterministic
    probable = table[~table["error_type"].isin(DETERMINISTIC)].iloc[0]
    assert probable["recall"] >= 0.99 and probable["precision"] >= 0.99, probable


def test_clean_records_raise_no_error(tmp_path):
    synthesise_province(tmp_path, seed=SEED, households=1500, n_communes=3, error_rate=0.0)
    staged = stage(tmp_path)
    settings = QualitySettings(as_of=dt.date.fromisoformat(str(AS_OF)))
    duplicates = find_probable_duplicates(
        staged["persons"], staged["households"], staged["hamlets"]
    ).table
    issues = quality_issues(
        staged["persons"], staged["households"], staged["hamlets"], settings=settings
    )
    assert duplicates.empty
    assert issues.empty, issues.groupby("rule").size()


def test_a_corrected_record_loses_its_issue_on_the_next_run(checked):
    _, staged, issues, _ = checked
    persons = staged["persons"].copy()
    settings = QualitySettings(as_of=dt.date.fromisoformat(str(AS_OF)))
    year = issues[issues["rule"] == "citizen_id_year_mismatch"]["record_id"].iloc[0]
    future = issues[issues["rule"] == "birth_date_future"]["record_id"].iloc[0]
    # The data unit corrects digits 5-6 of the ID to the birth year, and the birth date
    # to the one the ID gives.
    at = persons["record_id"] == year
    wrong = persons.loc[at, "citizen_id"].iloc[0]
    yy = f"{persons.loc[at, 'birth_date'].iloc[0].year % 100:02d}"
    persons.loc[at, "citizen_id"] = wrong[:4] + yy + wrong[6:]
    at = persons["record_id"] == future
    cid, born = persons.loc[at, "citizen_id"].iloc[0], persons.loc[at, "birth_date"].iloc[0]
    year_of_id = 1900 + 100 * (int(cid[3]) // 2) + int(cid[4:6])
    persons.loc[at, "birth_date"] = born.replace(year=year_of_id)
    again = quality_issues(persons, staged["households"], staged["hamlets"], settings=settings)
    before = set(zip(issues["record_id"], issues["rule"], strict=True))
    after = set(zip(again["record_id"], again["rule"], strict=True))
    assert (year, "citizen_id_year_mismatch") in before - after
    assert (future, "birth_date_future") in before - after
    assert not {r for r, _ in after} & {year, future}
