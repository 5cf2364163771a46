"""The IO manager that stores every intermediate asset as a warehouse table.

An asset keyed ``["staging", "persons"]`` lives in table ``staging.persons``: queryable
with SQL, typed by its contract, never an opaque pickle. Provinces share the tables; a
partition (province) reads and replaces only its own rows.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from assets.materialised import row_count
from assets.warehouse import Warehouse


def table_name(key: dg.AssetKey) -> str:
    if len(key.path) != 2:
        raise ValueError(f"asset key {key.to_user_string()} must be [layer, table]")
    return ".".join(key.path)


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Writes each asset's DataFrame to ``layer.table`` and reads it back."""

    url: str

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        name = table_name(context.asset_key)
        warehouse = Warehouse(self.url)
        if context.has_asset_partitions:
            warehouse = warehouse.for_province(context.asset_partition_key)
        rows = warehouse.write_table(name, obj)
        context.log.info(f"{name}: {rows:,} rows written")  # a count, on the progress bar
        context.add_output_metadata({"table": name, "rows_written": rows, **row_count(rows)})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        warehouse = Warehouse(self.url)
        if context.has_asset_partitions:
            warehouse = warehouse.for_province(context.asset_partition_key)
        frame = warehouse.read_table(table_name(context.asset_key))
        context.log.info(f"{table_name(context.asset_key)}: {len(frame):,} rows read")
        return frame
