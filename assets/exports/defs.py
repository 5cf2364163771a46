"""Dagster wiring for the exports: files for the province and each commune's plan."""

import dagster as dg

from assets.exports.province import export_province
from assets.provinces import province_asset
from assets.run_settings import RunSettings
from assets.warehouse import Warehouse


@province_asset(
    key=["exports", "province_files"],
    deps=[["marts", "merged_units"], ["marts", "merger_options"]],
    group_name="exports",
    kinds={"file"},
)
def province_files(
    context: dg.AssetExecutionContext,
    warehouse: dg.ResourceParam[Warehouse],
    run_settings: RunSettings,
) -> dg.MaterializeResult:
    """GeoPackage and interactive map of the province; Excel and PNG per commune."""
    written = export_province(warehouse.for_province(context.partition_key), run_settings.exports())
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(written["folder"])),
            "geopackage": dg.MetadataValue.path(str(written["geopackage"])),
            "interactive_map": dg.MetadataValue.path(str(written["interactive_map"])),
            "commune_workbooks": written["commune_workbooks"],
            "commune_maps": written["commune_maps"],
            "removed_files": written["removed_files"],
        }
    )


EXPORT_ASSETS = [province_files]
