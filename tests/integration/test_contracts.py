"""Each table's declared columns are what its stage writes (the idea of PUDL's metadata
tests): after a whole run every stored table holds exactly its contract's columns, in
order, and a stage frame with a column more or fewer than its contract is refused when
the IO manager writes it."""

from __future__ import annotations

import dagster as dg
import geopandas as gpd
import pandas as pd
import pytest

from assets.warehouse import Warehouse
from assets.warehouse.base import fit_for_storage, partition_column
from expectations.schemas import (
    FIELDS,
    HOUSEHOLD_COLUMNS,
    PERSON_COLUMNS,
    TABLES,
    SchemaError,
    Table,
)
from pipelines.io_managers import WarehouseIOManager

PROVINCE = "04"


def _stored_columns(warehouse: Warehouse) -> dict[str, list[str]]:
    """Every contract table the warehouse holds, with its columns as stored."""
    with warehouse.connect() as session:
        return {name: session.column_names(name) for name in TABLES if session.table_exists(name)}


def _as_declared(name: str, stored: list[str]) -> list[str]:
    """Stored columns without the province column the storage puts first (in a table
    whose contract does not declare it)."""
    column = partition_column(name)
    if column not in TABLES[name].columns and stored[:1] == [column]:
        return stored[1:]
    return stored


@pytest.mark.integration
def test_every_stored_table_has_its_contract_columns_in_order(published, pipeline_instance):
    settings, report = published
    assert report.success, report.failed_steps
    records = pipeline_instance.get_records_for_run(
        run_id=report.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    materialised = {".".join(r.asset_materialization.asset_key.path) for r in records}
    stored = _stored_columns(Warehouse(settings.warehouse_url))
    # Every table the run materialised is there to compare, in every layer.
    assert materialised & set(TABLES) <= set(stored)
    assert {name.split(".")[0] for name in stored} >= {
        "raw",
        "staging",
        "quality",
        "planning",
        "marts",
        "meta",
    }
    assert len(stored) >= 35
    differing = {
        name: {"stored": _as_declared(name, columns), "declared": list(TABLES[name].columns)}
        for name, columns in stored.items()
        if _as_declared(name, columns) != list(TABLES[name].columns)
    }
    assert differing == {}


@pytest.mark.integration
def test_quarantined_records_keep_their_whole_record(published):
    """Held records keep every column of the record (persons: ethnicity included), so a
    clerk fixing one sees it as it was staged."""
    settings, _ = published
    warehouse = Warehouse(settings.warehouse_url).for_province(PROVINCE)
    held = warehouse.read_table("quality.persons_quarantined")
    assert len(held) > 0
    staged = warehouse.read_table("staging.persons").set_index("record_id")
    mine = staged.loc[held["record_id"], list(PERSON_COLUMNS)].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        held[list(PERSON_COLUMNS)].reset_index(drop=True), mine, check_names=False
    )
    assert held["ethnicity"].notna().any()
    households = warehouse.read_table("quality.households_quarantined")
    assert set(HOUSEHOLD_COLUMNS) <= set(households.columns)


def _empty_frame(contract: Table) -> pd.DataFrame:
    """A frame of the contract's columns and types, without rows."""
    frame = contract.enforce(pd.DataFrame({c: pd.Series(dtype=object) for c in contract.columns}))
    if contract.geometry_columns:
        frame = gpd.GeoDataFrame(frame, geometry=contract.geometry_columns[0], crs=4326)
    return frame


def _write(io_manager: WarehouseIOManager, name: str, frame: pd.DataFrame) -> None:
    """``frame`` handed to the IO manager as the output of the asset keyed by ``name``,
    for one province as the stage assets are."""
    context = dg.build_output_context(
        asset_key=dg.AssetKey(name.split(".")),
        partition_key=PROVINCE,
        asset_partitions_def=dg.StaticPartitionsDefinition([PROVINCE]),
    )
    io_manager.handle_output(context, frame)


def _stray_and_dropped(contract: Table) -> tuple[str, str]:
    """A column another contract declares but this one does not, and one of its own."""
    stray = next(c for c in FIELDS if c not in contract.columns)
    return stray, contract.columns[len(contract.columns) // 2]


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_contract_refuses_a_frame_with_a_column_more_or_fewer(name):
    """What every write checks first (``fit_for_storage``), for every table."""
    contract = TABLES[name]
    declared = _empty_frame(contract)
    partition = (partition_column(name), PROVINCE)
    fitted, _, _ = fit_for_storage(name, declared, partition)
    assert _as_declared(name, list(fitted.columns)) == list(contract.columns)
    stray, dropped = _stray_and_dropped(contract)
    with pytest.raises(SchemaError, match=rf"^{name}: missing columns \[\], .*'{stray}'"):
        fit_for_storage(name, declared.assign(**{stray: pd.Series(dtype="string")}), partition)
    with pytest.raises(SchemaError, match=rf"^{name}: missing columns \['{dropped}'\]"):
        fit_for_storage(name, declared.drop(columns=dropped), partition)


@pytest.mark.parametrize(
    "name",
    [
        "quality.persons_quarantined",
        "quality.households_quarantined",
        "staging.persons",
        "marts.merged_units",
    ],
)
def test_the_io_manager_writes_a_stage_frame_only_with_exactly_its_columns(tmp_path, name):
    io_manager = WarehouseIOManager(url=f"duckdb:///{tmp_path / 'w.duckdb'}")
    contract = TABLES[name]
    declared = _empty_frame(contract)
    _write(io_manager, name, declared)
    stored = _stored_columns(Warehouse(io_manager.url))[name]
    assert _as_declared(name, stored) == list(contract.columns)

    stray, dropped = _stray_and_dropped(contract)
    with pytest.raises(SchemaError, match=rf"^{name}: missing columns \[\], .*'{stray}'"):
        _write(io_manager, name, declared.assign(**{stray: pd.Series(dtype="string")}))
    with pytest.raises(SchemaError, match=rf"^{name}: missing columns \['{dropped}'\]"):
        _write(io_manager, name, declared.drop(columns=dropped))
    # Neither refused frame changed the table.
    assert _stored_columns(Warehouse(io_manager.url))[name] == stored


def test_a_person_column_is_declared_once_for_every_table_of_the_record():
    """The tables holding a person or household record take its columns from one
    declaration (in its order), each adding only its own."""
    for name in (
        "raw.persons",
        "staging.persons",
        "quality.persons_clean",
        "quality.persons_quarantined",
    ):
        columns = TABLES[name].columns
        assert tuple(c for c in columns if c in PERSON_COLUMNS) == PERSON_COLUMNS, name
    for name in ("raw.households", "staging.households", "quality.households_quarantined"):
        columns = TABLES[name].columns
        assert tuple(c for c in columns if c in HOUSEHOLD_COLUMNS) == HOUSEHOLD_COLUMNS, name
