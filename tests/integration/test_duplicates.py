"""Probable duplicates with Splink: offline, deterministic, reported per cluster."""

from __future__ import annotations

import pandas as pd
import pytest

from assets.quality.duplicates import (
    DuplicateSettings,
    find_probable_duplicates,
    probable_duplicate_issues,
    splink_input,
)
from assets.raw.landing import Landing, load_raw
from assets.staging.tables import stage_communes, stage_hamlets, stage_households, stage_persons
from expectations.schemas import TABLES
from synthetic.province import synthesise_province


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> dict[str, pd.DataFrame]:
    landing = tmp_path_factory.mktemp("dups")
    synthesise_province(landing, seed=23, households=2500, n_communes=3, error_rate=0.03)
    raw = Landing(landing)
    communes = stage_communes(load_raw(raw.file("communes"))).table
    return {
        "hamlets": stage_hamlets(
            load_raw(raw.file("hamlet_boundaries")), load_raw(raw.file("hamlet_registry")), communes
        ).table,
        "households": stage_households(load_raw(raw.file("households"))).table,
        "persons": stage_persons(load_raw(raw.file("persons"))).table,
    }


def test_clusters_span_households_and_fit_the_contract(staged):
    run = find_probable_duplicates(staged["persons"], staged["households"], staged["hamlets"])
    table = run.table
    assert list(table.columns) == list(TABLES["quality.probable_duplicates"].columns)
    assert len(table) > 0 and run.pairs_linked >= table["cluster_id"].nunique()
    spread = table.groupby("cluster_id")["household_id"].nunique()
    assert (spread > 1).all()
    assert (table["match_probability"] >= 0.9).all() and (table["match_probability"] <= 1).all()
    # Named by its smallest record key.
    assert (table.groupby("cluster_id")["record_id"].min() == spread.index).all()
    assert table["hamlet_code"].notna().all() and table["commune_code"].notna().all()


def test_same_clusters_whatever_the_order_and_the_threads(staged):
    persons, households, hamlets = staged["persons"], staged["households"], staged["hamlets"]
    first = find_probable_duplicates(persons, households, hamlets).table
    shuffled = persons.sample(frac=1.0, random_state=1)
    again = find_probable_duplicates(
        shuffled, households, hamlets, DuplicateSettings(threads=1)
    ).table
    pd.testing.assert_frame_equal(first, again)


def test_a_typo_copy_without_id_is_found_and_reported_as_a_warning(staged):
    persons = staged["persons"]
    source = persons[persons["citizen_id"].str.fullmatch(r"\d{12}", na=False)].iloc[[100]]
    copy = source.copy()
    copy["record_id"] = "persons.csv:999999"
    copy["citizen_id"] = "000000000000"
    copy["household_id"] = persons["household_id"].iloc[-1]
    words = source["full_name"].iloc[0].split(" ")
    copy["full_name"] = " ".join([*words[:-1], words[-1] + words[-1][-1]])  # a doubled letter
    copy["relation_to_head"] = "Con"
    copy["is_household_head"] = False
    more = pd.concat([persons, copy], ignore_index=True)
    more.loc[more["record_id"] == "persons.csv:999999", "citizen_id"] = pd.NA
    source, copy = source.iloc[0], more.iloc[-1]
    table = find_probable_duplicates(more, staged["households"], staged["hamlets"]).table
    cluster = table.loc[table["record_id"] == copy["record_id"], "cluster_id"]
    assert len(cluster) == 1
    members = set(table.loc[table["cluster_id"] == cluster.iloc[0], "record_id"])
    assert members == {copy["record_id"], source["record_id"]}
    issues = probable_duplicate_issues(table, more)
    mine = issues[issues["record_id"].isin(members)]
    assert set(mine["rule"]) == {"probable_duplicate"} and set(mine["severity"]) == {"warning"}
    assert not mine["message"].str.contains(source["full_name"], regex=False).any()


def test_names_are_compared_lower_case_and_without_diacritics():
    persons = pd.DataFrame(
        {
            "record_id": ["a", "b"],
            "household_id": ["H1", "H2"],
            "full_name": ["Nguyễn  Văn Đức", None],
            "birth_date": pd.to_datetime(["1990-01-02", None]),
            "sex": ["nam", "nu"],
            "citizen_id": ["004090123456", " "],
            "ethnicity": ["Kinh", None],
        }
    )
    frame = splink_input(persons)
    assert frame.loc[0, "name"] == "nguyễn văn đức"
    assert frame.loc[0, "name_folded"] == "nguyen van duc"
    assert pd.isna(frame.loc[1, "citizen_id"]) and bool(frame.loc[0, "valid_id"])
