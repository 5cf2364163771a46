"""The quality stage in Dagster: new assets and checks, Data Docs in the restricted
folder, and no personal value in Data Docs, run metadata or logs."""

from __future__ import annotations

import html
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster._serdes import serialize_value

from assets.quality.defs import data_docs_dir
from assets.warehouse import Warehouse
from expectations.schemas import TABLES
from expectations.suites import validate_frame
from pipelines.build import build_defs
from pipelines.runner import run_province
from pipelines.settings import Settings
from synthetic.province import synthesise_province

pytestmark = pytest.mark.integration


def personal_values(persons: pd.DataFrame) -> set[str]:
    """Citizen IDs and full names of the records (birth dates are checked apart)."""
    values = set(persons["citizen_id"].dropna()) | set(persons["full_name"].dropna())
    return {v for v in values if len(v) >= 6}


def found_in(text: str, values: set[str]) -> set[str]:
    text = html.unescape(text)
    return {v for v in values if v in text}


def test_quality_assets_and_checks_are_defined(tmp_path):
    defs = build_defs(Settings(warehouse_url=str(tmp_path / "w.duckdb"), landing_root=tmp_path))
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"quality/probable_duplicates", "quality/hamlet_count_reconciliation"} <= keys
    checks = {
        spec.key.name: spec.blocking
        for checks_def in defs.asset_checks or []
        for spec in checks_def.check_specs
    }
    assert checks["quarantine_share"] is True
    assert {"hamlet_partition", "registry_matches_records", "households_suite"} <= set(checks)
    for table in ("quality.probable_duplicates", "quality.hamlet_count_reconciliation"):
        assert TABLES[table].layer == "quality"  # restricted: personal keys allowed


def test_data_docs_are_written_beside_the_warehouse_and_show_no_personal_value(published):
    settings, _ = published
    warehouse = Warehouse(settings.warehouse_url)
    docs = data_docs_dir(warehouse)
    assert docs == warehouse.path.parent / "restricted" / "data_docs"
    index = docs / "index.html"
    assert index.exists()
    text = index.read_text(encoding="utf-8")
    for suite in ("staging.persons", "staging.households", "staging.hamlets"):
        assert suite in text
    persons = warehouse.read_table("staging.persons")
    secrets = personal_values(persons)
    assert len(secrets) > 1000
    files = [p for p in docs.rglob("*") if p.suffix in (".html", ".json")]
    assert len(files) > 5
    for path in files:
        leaked = found_in(path.read_text(encoding="utf-8", errors="replace"), secrets)
        assert not leaked, (path, sorted(leaked)[:3])


def test_data_docs_of_failing_personal_expectations_keep_values_out(tmp_path):
    """Unexpected values are exactly what GX renders by default; ours are counts only."""
    persons = TABLES["staging.persons"]
    secret_id, secret_name = "079123456789", "Phạm Thị Bí Mật"
    df = persons.enforce(
        pd.DataFrame(
            {
                "record_id": ["p:1", "p:2", "p:3"],
                "citizen_id": [secret_id, secret_id, "07912345678X"],
                "full_name": [secret_name, secret_name, None],
                "birth_date": pd.to_datetime(["1990-01-01", "2090-01-01", None]),
                "birth_date_is_partial": [False] * 3,
                "birth_date_order_unproven": [False] * 3,
                "invalid_values": [None] * 3,
                "sex": ["nam", "nữ", None],
                "household_id": ["H1", "H1", "H2"],
                "relation_to_head": ["Chủ hộ"] * 3,
                "is_household_head": [True] * 3,
                "ethnicity": ["Kinh"] * 3,
                "source_file": ["p"] * 3,
                "source_sha256": ["0" * 64] * 3,
                "source_row_number": [1, 2, 3],
                "load_id": ["0"] * 3,
            }
        )
    )
    result = validate_frame(df, persons, parameters={"as_of": "2026-01-01"}, data_docs_dir=tmp_path)
    assert not result.success and result.data_docs == str(tmp_path / "index.html")
    pages = list(tmp_path.rglob("*.html"))
    assert any("validations" in str(p) for p in pages)
    for path in pages + list(tmp_path.rglob("*.json")):
        text = path.read_text(encoding="utf-8")
        assert not found_in(text, {secret_id, secret_name, "07912345678X", "2090-01-01"}), path


def test_run_metadata_and_logs_carry_counts_only(tmp_path):
    landing = tmp_path / "landing" / "04"
    synthesise_province(landing, seed=17, households=400, n_communes=2, error_rate=0.03)
    settings = Settings(warehouse_url=str(tmp_path / "w.duckdb"), landing_root=landing.parent)
    instance = dg.DagsterInstance.ephemeral()
    report = run_province(settings, instance=instance)
    assert report.success, report.errors
    warehouse = Warehouse(settings.warehouse_url).for_province(report.province_code)
    persons = warehouse.read_table("staging.persons")
    secrets = personal_values(persons)
    births = set(persons["birth_date"].dropna().dt.strftime("%d/%m/%Y"))
    records = instance.all_logs(report.run_id)
    assert len(records) > 50
    text = "\n".join(serialize_value(r) for r in records)
    assert not found_in(text, secrets)
    assert not found_in(text, births)
    issues = warehouse.read_table("quality.record_issues")
    assert not found_in("\n".join(issues["message"]), secrets)
    duplicates = warehouse.read_table("quality.probable_duplicates")
    assert list(duplicates.columns) == list(TABLES["quality.probable_duplicates"].columns)
    reconciliation = warehouse.read_table("quality.hamlet_count_reconciliation")
    assert len(reconciliation) == len(warehouse.read_table("staging.hamlets"))


def test_data_docs_location_is_configurable(tmp_path):
    warehouse = Warehouse(str(tmp_path / "x" / "w.duckdb"))
    assert data_docs_dir(warehouse) == tmp_path / "x" / "restricted" / "data_docs"
    assert data_docs_dir(warehouse, str(tmp_path / "docs")) == Path(tmp_path / "docs")
