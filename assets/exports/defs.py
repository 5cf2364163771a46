"""Dagster wiring for the exports: files for the province and each commune's plan."""

import dagster as dg
import geopandas as gpd
import pandas as pd

from assets.exports.files import (
    hamlets_before,
    write_commune_map,
    write_commune_workbooks,
    write_province_geopackage,
    write_province_map,
)
from assets.exports.location import Exports
from assets.staging.tables import province_code_of
from assets.warehouse import Warehouse


@dg.asset(
    key=["exports", "province_files"],
    deps=[["marts", "merged_units"], ["planning", "merger_assignments"]],
    group_name="exports",
    kinds={"file"},
)
def province_files(
    warehouse: dg.ResourceParam[Warehouse], exports: dg.ResourceParam[Exports]
) -> dg.MaterializeResult:
    """GeoPackage and interactive map of the province; Excel and PNG per commune."""
    with warehouse.connect() as con:
        communes: gpd.GeoDataFrame = warehouse.read_table("staging.communes", con=con)
        hamlets = warehouse.read_table("staging.hamlets", con=con)
        compliance = warehouse.read_table("planning.hamlet_compliance", con=con)
        assignments = warehouse.read_table("planning.merger_assignments", con=con)
        units = warehouse.read_table("marts.merged_units_current", con=con)
    province = province_code_of(communes)
    units = units[units["province_code"] == province]
    folder = exports.folder_for(province)
    before = hamlets_before(hamlets, compliance)
    geopackage = write_province_geopackage(
        folder / f"tinh_{province}.gpkg",
        communes[["commune_code", "commune_name", "unit_kind", "area_km2", "geometry"]],
        before,
        units,
    )
    workbooks = write_commune_workbooks(
        folder / "xa", communes, before, pd.DataFrame(units), assignments
    )
    html = write_province_map(folder / f"ban_do_tinh_{province}.html", before, units)
    maps = [
        write_commune_map(
            folder / "xa" / f"{path.stem}.png",
            communes[communes["commune_code"] == code],
            before[before["commune_code"] == code],
            units[units["commune_code"] == code],
        )
        for code, path in zip(communes["commune_code"], workbooks, strict=True)
    ]
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(folder)),
            "geopackage": dg.MetadataValue.path(str(geopackage)),
            "interactive_map": dg.MetadataValue.path(str(html)),
            "commune_workbooks": len(workbooks),
            "commune_maps": len(maps),
        }
    )


EXPORT_ASSETS = [province_files]
