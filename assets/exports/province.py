"""Write every export of one province from what the warehouse has published."""

from __future__ import annotations

import pandas as pd

from assets.exports.communes import CommuneSlice, CommuneWriters
from assets.exports.files import (
    commune_layer,
    hamlets_before,
    write_province_geopackage,
    write_province_map,
)
from assets.exports.location import Exports
from assets.exports.safe import remove_partials, remove_stale
from assets.staging.tables import province_code_of
from assets.warehouse import Warehouse

HELD_COLUMNS = ("held_households", "held_persons")


def export_province(warehouse: Warehouse, exports: Exports) -> dict[str, object]:
    """GeoPackage and interactive map of the province; Excel and PNG per commune. The
    commune folder holds the published communes' files only: others are removed."""
    with warehouse.connect() as con:
        communes = warehouse.read_table("staging.communes", con=con)
        hamlets = warehouse.read_table("staging.hamlets", con=con)
        compliance = warehouse.read_table("planning.hamlet_compliance", con=con)
        assignments = warehouse.read_table("planning.merger_assignments", con=con)
        # Issues are counted per hamlet: their other columns are not needed.
        issues = warehouse.read_table("quality.record_issues", con=con, columns=["hamlet_code"])
        units = warehouse.read_table("marts.merged_units_current", con=con)
        options = warehouse.read_table("marts.merger_options_current", con=con)
        # What each hamlet's counts do not yet include: records held in quarantine.
        held = warehouse.read_table(
            "marts.hamlets_current", con=con, columns=["hamlet_code", *HELD_COLUMNS]
        )
    province = province_code_of(communes)
    folder = exports.folder_for(province)
    before = hamlets_before(hamlets, compliance, issues).merge(held, on="hamlet_code", how="left")
    before[list(HELD_COLUMNS)] = before[list(HELD_COLUMNS)].fillna(0).astype("int64")
    communes_layer = commune_layer(communes, compliance)
    del hamlets, compliance, issues, held  # in ``before`` now
    commune_rows = CommuneSlice(communes, before, units, assignments, pd.DataFrame(options))
    # The province's own files are written here while workers write the communes'.
    with CommuneWriters(folder / "xa", commune_rows) as commune_files:
        geopackage = write_province_geopackage(
            folder / f"tinh_{province}.gpkg", communes_layer, before, units
        )
        html = write_province_map(folder / f"ban_do_tinh_{province}.html", before, units)
    workbooks, maps = commune_files.workbooks, commune_files.maps
    # Communes gone from the publication (or renamed) leave no workbook or map behind.
    removed = remove_stale(folder / "xa", [*workbooks, *maps], (".xlsx", ".png"))
    removed += remove_partials(folder)
    return {
        "folder": folder,
        "geopackage": geopackage,
        "interactive_map": html,
        "commune_workbooks": len(workbooks),
        "commune_maps": len(maps),
        "removed_files": len(removed),
    }
