"""Where personal data may live: the inventory derived from the contracts, and the Data
Docs that describe it, which are restricted and say so on every page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from expectations.schemas import (
    RESTRICTED_LAYERS,
    TABLES,
    personal_data_inventory,
)
from expectations.suites import RESTRICTED_NOTICE, build_suite, validate_frame

PERSONS = TABLES["staging.persons"]


def test_the_inventory_lists_every_table_with_personal_columns_in_restricted_layers_only():
    inventory = personal_data_inventory()
    listed = inventory.groupby("table")["column"].agg(set).to_dict()
    for name, contract in TABLES.items():
        assert listed.get(name, set()) == set(contract.personal_columns), name
    assert set(inventory["layer"]) <= set(RESTRICTED_LAYERS)
    assert {"citizen_id", "full_name", "birth_date", "household_id"} <= listed["raw.persons"]
    assert listed["raw.households"] == {"household_id", "unread_text"}
    assert listed["quality.persons_quarantined"] >= {"citizen_id", "full_name", "birth_date"}
    assert inventory["label_vi"].notna().all()


def test_no_planning_or_marts_contract_has_a_personal_column():
    for name, contract in TABLES.items():
        if contract.layer not in RESTRICTED_LAYERS:
            assert not contract.personal_columns, name


def test_raw_tables_are_those_staging_reads():
    from assets.staging.defs import STAGED_FROM

    read = {raw for raws in STAGED_FROM.values() for raw in raws}
    landed = {name for name, t in TABLES.items() if t.layer == "raw"} - {"raw.landed_files"}
    assert read == landed


def test_data_docs_say_they_are_restricted_on_every_page(tmp_path):
    df = PERSONS.enforce(
        pd.DataFrame(
            {
                "record_id": ["p:1"],
                "citizen_id": ["001090012345"],
                "full_name": ["Nguyễn Văn An"],
                "birth_date": pd.to_datetime(["1990-01-01"]),
                "birth_date_is_partial": [False],
                "birth_date_order_unproven": [False],
                "invalid_values": [None],
                "sex": ["nam"],
                "household_id": ["H1"],
                "relation_to_head": ["Chủ hộ"],
                "is_household_head": [True],
                "ethnicity": ["Kinh"],
                "source_file": ["p"],
                "source_sha256": ["0" * 64],
                "source_row_number": [1],
                "load_id": ["0"],
            }
        )
    )
    validate_frame(df, PERSONS, parameters={"as_of": "2026-01-01"}, data_docs_dir=tmp_path)
    validate_frame(df, PERSONS, parameters={"as_of": "2026-01-01"}, data_docs_dir=tmp_path)
    pages = list(tmp_path.rglob("*.html"))
    assert len(pages) >= 4  # index, suite page, two runs
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert text.count('id="hamlets-restricted"') == 1, page
        assert "RESTRICTED: validation reports on personal data" in text, page
    assert (tmp_path / "RESTRICTED.txt").read_text(encoding="utf-8").strip() == RESTRICTED_NOTICE
    suite_page = (tmp_path / "expectations" / "staging" / "persons.html").read_text("utf-8")
    assert "Personal columns of staging.persons" in suite_page
    for column in PERSONS.personal_columns:
        assert column in build_suite(PERSONS).notes[1]


def test_the_readme_lists_every_table_of_the_inventory():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Personal data", 1)[1].split("\n## ", 1)[0]
    for table, columns in personal_data_inventory().groupby("table")["column"]:
        row = next((line for line in section.splitlines() if f"`{table}`" in line), "")
        assert row, table
        assert all(column in row for column in columns), (table, row)
