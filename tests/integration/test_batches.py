"""Person records staged in chunks and checked in commune batches give the same staged
rows, issues and clean/quarantine split as the whole person table in memory, including
across batches."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from assets.quality.batches import commune_batches, record_issues_by_commune
from assets.quality.holds import held_household_kinds, member_hold_issues
from assets.quality.record_checks import split_clean_quarantined
from assets.quality.settings import QualitySettings
from assets.quality.split import split_persons_by_commune
from assets.quality.validate import quality_issues
from assets.staging.chunks import stage_persons_in_chunks
from assets.staging.readings import combine_readings, readings_summary
from assets.staging.tables import stage_persons
from assets.warehouse import Warehouse

ISSUE_KEY = ["table_name", "record_id", "rule", "field_name"]
SMALL_BATCH = 1_500


@pytest.fixture
def warehouse(published, tmp_path) -> Warehouse:
    """A copy of the published warehouse with the awkward cases planted: a person of an
    unknown household, one without a household, and one citizen ID in two communes."""
    settings, _ = published
    copy = tmp_path / "w.duckdb"
    shutil.copy(Warehouse(settings.warehouse_url).path, copy)
    warehouse = Warehouse(f"duckdb:///{copy}").for_province("04")
    with warehouse.transaction() as con:
        first, last = con.query_df(
            "SELECT min(commune_code) AS a, max(commune_code) AS b FROM staging.hamlets"
        ).iloc[0]
        ids = con.query_df(
            "SELECT p.record_id, m.commune_code FROM staging.persons p "
            "JOIN staging.households h USING (household_id) "
            "JOIN staging.hamlets m USING (hamlet_code) ORDER BY p.record_id"
        )
        in_first = ids.loc[ids["commune_code"].eq(first), "record_id"].tolist()
        in_last = ids.loc[ids["commune_code"].eq(last), "record_id"].tolist()
        con.execute(
            "UPDATE staging.persons SET household_id = 'KHONG-CO' WHERE record_id = ?",
            [in_first[0]],
        )
        con.execute(
            "UPDATE staging.persons SET household_id = NULL WHERE record_id = ?", [in_first[1]]
        )
        con.execute(
            "UPDATE staging.persons SET citizen_id = "
            "(SELECT citizen_id FROM staging.persons WHERE record_id = ?) WHERE record_id = ?",
            [in_first[2], in_last[0]],
        )
    return warehouse


def _sorted(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return df.sort_values(key, ignore_index=True)


def test_batches_cover_every_record_once(warehouse):
    with warehouse.connect() as con:
        batches = commune_batches(warehouse, con, max_persons=SMALL_BATCH)
        total = con.query_df("SELECT count(*) AS n FROM staging.persons")["n"].iloc[0]
        communes = con.query_df("SELECT DISTINCT commune_code FROM staging.hamlets")
    assert len(batches) >= 3
    assert sum(b.persons for b in batches) == total
    assert batches[-1].communes == ()  # the records without a known commune
    placed = [c for b in batches for c in b.communes]
    assert sorted(placed) == sorted(placed := list(dict.fromkeys(placed)))
    assert set(placed) <= set(communes["commune_code"])
    assert all(b.persons <= SMALL_BATCH or len(b.communes) == 1 for b in batches[:-1])


def test_issues_by_commune_equal_the_whole_table(warehouse):
    settings = QualitySettings()
    persons = warehouse.read_table("staging.persons")
    households = warehouse.read_table("staging.households")
    hamlets = warehouse.read_table("staging.hamlets")
    duplicates = warehouse.read_table("quality.probable_duplicates")
    reconciliation = warehouse.read_table("quality.hamlet_count_reconciliation")
    whole = quality_issues(
        persons,
        households,
        hamlets,
        settings=settings,
        duplicates=duplicates,
        reconciliation=reconciliation,
        communes=warehouse.read_table("staging.communes"),
    )
    with warehouse.connect() as con:
        batched, batches = record_issues_by_commune(
            warehouse, con, settings, reconciliation, duplicates, max_persons=SMALL_BATCH
        )
    assert len(batches) >= 3
    # the planted cases are found across batches
    rules = set(batched["rule"])
    assert {"unknown_household", "required_missing", "person_in_two_households"} <= rules
    assert len(duplicates) and "probable_duplicate" in rules
    pd.testing.assert_frame_equal(_sorted(batched, ISSUE_KEY), _sorted(whole, ISSUE_KEY))


def test_split_by_commune_equals_the_whole_table(warehouse):
    issues = warehouse.read_table("quality.record_issues")
    persons = warehouse.read_table("staging.persons")
    errors = issues[issues["table_name"].eq("staging.persons")]
    # Members of a held household are held with it.
    kinds = held_household_kinds(issues, warehouse.read_table("staging.households"))
    errors = pd.concat([errors, member_hold_issues(persons, kinds)], ignore_index=True)
    clean, quarantined = split_clean_quarantined(persons, errors)
    with warehouse.transaction() as con:
        counts = split_persons_by_commune(warehouse, con, max_persons=SMALL_BATCH)
    assert counts.batches >= 3
    assert (counts.records_in, counts.records_clean, counts.records_quarantined) == (
        len(persons),
        len(clean),
        len(quarantined),
    )
    stored_clean = warehouse.read_table("quality.persons_clean")
    stored_quarantined = warehouse.read_table("quality.persons_quarantined")
    assert sorted(stored_clean["record_id"]) == sorted(clean["record_id"])
    pd.testing.assert_frame_equal(
        _sorted(stored_quarantined[["record_id", "reasons"]], ["record_id"]),
        _sorted(quarantined[["record_id", "reasons"]], ["record_id"]),
    )
    # re-running replaces the province's rows rather than adding to them
    with warehouse.transaction() as con:
        split_persons_by_commune(warehouse, con, max_persons=SMALL_BATCH)
    assert len(warehouse.read_table("quality.persons_clean")) == len(clean)


def test_split_refuses_issues_of_records_not_staged(warehouse):
    issues = warehouse.read_table("quality.record_issues")
    errors = issues[issues["severity"].eq("error") & issues["table_name"].eq("staging.persons")]
    stranger = errors.head(1).assign(record_id="persons.csv:0")
    warehouse.write_table("quality.record_issues", stranger, append=True)
    with warehouse.transaction() as con, pytest.raises(ValueError, match="1 person issues"):
        split_persons_by_commune(warehouse, con, SMALL_BATCH)


def test_staging_in_chunks_equals_staging_the_whole_file(warehouse):
    raw = warehouse.read_table("raw.persons")
    whole = stage_persons(raw)
    with warehouse.transaction() as con:
        counts = stage_persons_in_chunks(warehouse, con, rows=1_000)
    assert counts.chunks == -(-len(raw) // 1_000) > 3
    assert (counts.rows, counts.rows_rejected) == (len(whole.table), len(whole.rejected))
    assert counts.notes == whole.notes | readings_summary(combine_readings([whole.readings]))
    stored = warehouse.read_table("staging.persons")
    pd.testing.assert_frame_equal(
        _sorted(stored, ["record_id"]), _sorted(whole.table, ["record_id"])
    )
    rejected = warehouse.query(
        "SELECT source_row_number, reason FROM staging.rejected_rows "
        "WHERE table_name = 'staging.persons' ORDER BY 1"
    )
    assert (
        rejected["reason"].tolist()
        == whole.rejected.sort_values("source_row_number")["reason"].tolist()
    )
