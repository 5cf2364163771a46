"""No name, citizen ID or birth date from the persons table leaves the restricted layers:
not in any mart, any export file (GeoPackage, Excel, PNG, HTML) or the Dagster event log."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from assets.warehouse import Warehouse

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def personal_values(published) -> set[str]:
    settings, _ = published
    persons = Warehouse(settings.warehouse_url).read_table("staging.persons")
    values = set(persons["citizen_id"].dropna()) | set(persons["full_name"].dropna())
    dates = persons["birth_date"].dropna()
    values |= set(dates.dt.strftime("%Y-%m-%d")) | set(dates.dt.strftime("%d/%m/%Y"))
    assert len(values) > 1000
    return values


def _hits(text: str, values: set[str]) -> list[str]:
    return sorted(v for v in values if v in text)[:5]


def _file_texts(path: Path) -> list[tuple[str, str]]:
    """Every text a file holds: xlsx members unzipped, binaries read as UTF-8 bytes."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as archive:
            return [(f"{path.name}:{n}", archive.read(n).decode("utf-8", "ignore"))
                    for n in archive.namelist()]  # fmt: skip
    return [(path.name, path.read_bytes().decode("utf-8", "ignore"))]


def test_marts_hold_no_personal_value(published, personal_values):
    settings, _ = published
    warehouse = Warehouse(settings.warehouse_url)
    for table in warehouse.table_names("marts"):
        frame = warehouse.read_table(f"marts.{table}")
        text = frame.drop(columns="geometry", errors="ignore").astype(str).to_csv()
        assert not _hits(text, personal_values), table


def test_export_files_hold_no_personal_value(published, personal_values):
    settings, _ = published
    folder = Warehouse(settings.warehouse_url).path.parent / "exports"
    files = [p for p in folder.rglob("*") if p.is_file()]
    suffixes = {p.suffix for p in files}
    assert {".gpkg", ".xlsx", ".png", ".html"} <= suffixes, suffixes
    for path in files:
        for name, text in _file_texts(path):
            assert not _hits(text, personal_values), name


def test_dagster_event_log_holds_no_personal_value(published, personal_values, pipeline_instance):
    _, report = published
    records = pipeline_instance.all_logs(report.run_id)
    assert len(records) > 50
    text = "\n".join(repr(record) for record in records)
    assert "persons" in text  # the log does speak of the persons table, by counts
    assert not _hits(text, personal_values)
