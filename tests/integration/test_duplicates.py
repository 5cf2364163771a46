"""Probable duplicates with Splink: offline, deterministic, reported per cluster."""

from __future__ import annotations

import pandas as pd
import pytest

from assets.quality.duplicate_records import model_database, records_from_frame
from assets.quality.duplicates import (
    PRIOR_RECALL,
    SCORED_AT_LEAST,
    DuplicateSettings,
    _deterministic_rules,
    _estimated_prior,
    _predicted_pairs,
    _settings,
    _trained_linker,
    birth_year_bands,
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


def _edge_copies(persons: pd.DataFrame, band_persons: int) -> pd.DataFrame:
    """``persons`` with duplicates planted where the first two birth-year bands meet: a
    person born on 31 December of the first band's last year and one born on 1 January
    of the next year, each copied into another household with a doubled letter and
    without the ID, and a copy of the first with the year mistyped (the next year)."""
    years = pd.to_datetime(persons["birth_date"]).dt.year.astype("Int64")
    bands = birth_year_bands(years, band_persons)
    last = int(years[bands == 0].max())
    valid = persons[persons["citizen_id"].str.fullmatch(r"\d{12}", na=False)]
    sources = valid.iloc[[10, 20]].copy()
    sources["birth_date"] = pd.to_datetime([f"{last}-12-31", f"{last + 1}-01-01"])
    others = persons["household_id"].iloc[[-1, -2, -3]].to_list()
    copies = sources.copy()
    copies["record_id"] = ["edge:31-dec", "edge:1-jan"]
    copies["household_id"] = others[:2]
    copies["full_name"] = copies["full_name"].str.replace(r"(\w)$", r"\1\1", regex=True)
    mistyped = sources.iloc[[0]].copy()
    mistyped["record_id"] = "edge:year-mistyped"
    mistyped["household_id"] = others[2]
    mistyped["birth_date"] = pd.to_datetime([f"{last + 1}-12-31"])
    rest = persons[~persons["record_id"].isin(sources["record_id"])]
    planted = pd.concat([rest, sources, copies, mistyped], ignore_index=True)
    planted.loc[planted["record_id"].isin(copies["record_id"]), "citizen_id"] = pd.NA
    return planted.astype(persons.dtypes.to_dict())


def test_banded_prediction_finds_exactly_the_pairs_of_one_prediction(staged):
    band_persons = 1500  # several bands on this province
    persons = _edge_copies(staged["persons"], band_persons)
    frame = splink_input(persons)
    bands = birth_year_bands(frame["birth_year"], band_persons).set_axis(frame["unique_id"])
    assert bands.nunique() > 3
    assert bands["edge:31-dec"] != bands["edge:1-jan"]  # the planted pairs sit at an edge
    settings = DuplicateSettings(band_persons=band_persons)
    with model_database() as con:
        records = records_from_frame(con, frame)
        linker, _, db_api = _trained_linker(con, records, settings)
        whole = linker.inference.predict(threshold_match_probability=SCORED_AT_LEAST)
        whole = whole.as_pandas_dataframe()[["unique_id_l", "unique_id_r", "match_probability"]]
        scored, linked = _predicted_pairs(linker, db_api, records, settings)
    assert scored == len(whole)

    def key(pairs: pd.DataFrame) -> pd.DataFrame:
        return pairs.astype({"unique_id_l": "string", "unique_id_r": "string"}).sort_values(
            ["unique_id_l", "unique_id_r"], ignore_index=True
        )

    expected = key(whole[whole["match_probability"] >= settings.threshold])
    pd.testing.assert_frame_equal(key(linked), expected)
    planted = {"edge:31-dec", "edge:1-jan"}
    assert planted <= set(linked["unique_id_l"]) | set(linked["unique_id_r"])
    # The mistyped year is no candidate of either: the blocking rules need the year.
    assert "edge:year-mistyped" not in set(whole["unique_id_l"]) | set(whole["unique_id_r"])
    # And the clusters reported are those of one band holding the whole province.
    households, hamlets = staged["households"], staged["hamlets"]
    banded = find_probable_duplicates(persons, households, hamlets, settings)
    single = DuplicateSettings(band_persons=len(persons))
    one = find_probable_duplicates(persons, households, hamlets, single)
    pd.testing.assert_frame_equal(banded.table, one.table)
    assert (banded.pairs_scored, banded.pairs_linked) == (one.pairs_scored, one.pairs_linked)
    assert planted <= set(banded.table["record_id"])


def test_the_prior_is_splinks_estimate_over_every_column(staged):
    from splink import DuckDBAPI, Linker

    frame = splink_input(staged["persons"])
    with model_database() as con:
        db_api = DuckDBAPI(con)
        records = records_from_frame(con, frame)
        creator = _settings(records, DuplicateSettings(), 0.5)
        linker = Linker(db_api.register(frame, table_name="every_column"), creator)
        linker.training.estimate_probability_two_random_records_match(
            _deterministic_rules(), recall=PRIOR_RECALL
        )
        expected = linker.misc.save_model_to_json()["probability_two_random_records_match"]
        assert _estimated_prior(db_api, records) == expected != 0.5


def test_slices_find_the_clusters_of_one_frame_with_a_pair_across_an_edge(staged):
    """A copy of a person (a doubled letter, no ID, another household) in the slice after
    its source's: a record lost at the edge loses the pair, one read twice adds pairs."""
    persons = staged["persons"]
    source = persons[persons["citizen_id"].str.fullmatch(r"\d{12}", na=False)].iloc[[200]]
    copy = source.assign(
        record_id="slice:copy",
        household_id=persons["household_id"].iloc[-1],
        full_name=source["full_name"].str.replace(r"(\w)$", r"\1\1", regex=True),
        citizen_id=pd.NA,
    )
    edge = persons.index.get_loc(source.index[0]) + 1  # the source ends the first slice
    planted = pd.concat([persons.iloc[:edge], copy, persons.iloc[edge:]], ignore_index=True)
    planted = planted.astype(persons.dtypes.to_dict())
    slices = [planted.iloc[:edge], planted.iloc[edge : edge + 700], planted.iloc[edge + 700 :]]
    households, hamlets = staged["households"], staged["hamlets"]
    sliced = find_probable_duplicates(iter(slices), households, hamlets)
    whole = find_probable_duplicates(planted, households, hamlets)
    pd.testing.assert_frame_equal(sliced.table, whole.table)
    assert (sliced.pairs_scored, sliced.pairs_linked) == (whole.pairs_scored, whole.pairs_linked)
    assert sliced.records_in == whole.records_in == len(planted)
    members = sliced.table.loc[sliced.table["record_id"] == "slice:copy", "cluster_id"]
    assert len(members) == 1
    cluster = set(sliced.table.loc[sliced.table["cluster_id"] == members.iloc[0], "record_id"])
    assert cluster == {"slice:copy", source["record_id"].iloc[0]}
