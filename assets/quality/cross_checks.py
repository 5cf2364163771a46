"""Checks that span tables: records against the registry and the map.

A household in a hamlet the registry does not know, or a person in a household that
was never declared, cannot be counted towards any hamlet; both are quarantined with a
reason so the data unit can fix the record rather than lose it. A household point
outside its hamlet, or a registry whose declared figures disagree with the records, is
a warning: the records still count, but one side must be corrected. Staged hamlet
polygons must form a partition (valid, no overlaps), which staging's repair promises.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from assets.quality.issues import issue_rows
from assets.quality.settings import QualitySettings
from assets.staging.tables import kind_by_commune
from expectations.schemas import TABLES
from geodata.crs import STORAGE_CRS, metric_crs_for

HAMLET_KIND_NOT_COMMUNES = "hamlet_kind_not_communes"
_KIND_NAMES = {"thon": "Thôn", "to_dan_pho": "Tổ dân phố"}
_COMMUNE_OF_KIND = {"thon": "xã", "to_dan_pho": "phường"}


def hamlet_kind_issues(hamlets: pd.DataFrame, communes: pd.DataFrame | None) -> pd.DataFrame:
    """A warning per registry row whose kind is not its commune's, suggesting the
    commune's: thôn exist only in a xã and tổ dân phố only in a phường (ND 185 Art. 2.3,
    10.2). A warning, not a quarantine: planning applies the commune's kind meanwhile."""
    if communes is None:
        expected = pd.Series(pd.NA, index=hamlets.index, dtype="string")
    else:
        expected = kind_by_commune(hamlets["commune_code"], communes)
    written = hamlets["hamlet_kind"].astype("string")
    bad = (expected.notna() & written.notna() & expected.ne(written)).fillna(False)
    bad = bad.to_numpy(dtype=bool)
    rows = hamlets[bad]
    want = expected[bad].reset_index(drop=True)
    got = written[bad].reset_index(drop=True)
    message = (
        "the registry says "
        + got.map(_KIND_NAMES)
        + " but commune "
        + rows["commune_code"].astype("string").reset_index(drop=True)
        + " is a "
        + want.map(_COMMUNE_OF_KIND)
        + "; write "
        + want.map(_KIND_NAMES)
        + " (Loại thôn/TDP phải theo loại xã/phường, Nghị định 185/2026/NĐ-CP Điều 2.3, 10.2)"
    )
    return issue_rows(
        "staging.hamlets",
        rows["hamlet_code"],
        rule=HAMLET_KIND_NOT_COMMUNES,
        field_name="hamlet_kind",
        severity="warning",
        message=message,
        commune_code=rows["commune_code"],
        hamlet_code=rows["hamlet_code"],
    )


def household_location_issues(households: pd.DataFrame, hamlets: pd.DataFrame) -> pd.DataFrame:
    """Households whose hamlet code is not in the hamlet registry."""
    unknown = ~households["hamlet_code"].isin(hamlets["hamlet_code"])
    bad = households[unknown]
    return issue_rows(
        "staging.households",
        bad["record_id"],
        rule="unknown_hamlet_code",
        field_name="hamlet_code",
        message="hamlet_code is not in the hamlet registry; correct the code "
        "(Mã thôn/TDP không có trong danh sách thôn, TDP)",
        hamlet_code=bad["hamlet_code"],
    )


def person_household_issues(persons: pd.DataFrame, households: pd.DataFrame) -> pd.DataFrame:
    """Persons whose household is not declared in the households file."""
    unknown = persons["household_id"].notna() & ~persons["household_id"].isin(
        households["household_id"]
    )
    bad = persons[unknown]
    return issue_rows(
        "staging.persons",
        bad["record_id"],
        rule="unknown_household",
        field_name="household_id",
        message="household_id is not in the households file; add the household or "
        "correct the code (Mã hộ không có trong danh sách hộ)",
    )


def person_locations(
    persons: pd.DataFrame, households: pd.DataFrame, hamlets: pd.DataFrame
) -> dict[str, pd.Series]:
    """Commune and hamlet of each person record, through its household (for grouping)."""
    place = households[["household_id", "hamlet_code"]].drop_duplicates("household_id")
    place = place.merge(hamlets[["hamlet_code", "commune_code"]], on="hamlet_code", how="left")
    located = persons[["household_id"]].merge(place, on="household_id", how="left")
    located.index = persons.index
    return {
        "commune_code": located["commune_code"].astype("string"),
        "hamlet_code": located["hamlet_code"].astype("string"),
    }


POINT_OUTSIDE_HAMLET = "point_outside_hamlet"
LOCATION_MISSING = "location_missing"
DECLARED_HOUSEHOLDS_MISMATCH = "declared_households_mismatch"
DECLARED_POPULATION_MISMATCH = "declared_population_mismatch"


def household_point_issues(
    households: pd.DataFrame, hamlets: gpd.GeoDataFrame, *, tolerance_m: float = 50.0
) -> pd.DataFrame:
    """Households whose point lies outside their hamlet's polygon (by more than
    ``tolerance_m``), or that have no point. Warnings: the household is still counted
    under its hamlet code, but either the code or the coordinates are wrong.

    Households of unknown hamlets are left to ``unknown_hamlet_code``. Point-in-polygon
    runs on all households at once (``shapely.contains_xy`` on prepared polygons); only
    the few points outside are projected to UTM to measure how far out they are.
    """
    x = households["longitude"].to_numpy(dtype="float64", na_value=np.nan)
    y = households["latitude"].to_numpy(dtype="float64", na_value=np.nan)
    missing = np.isnan(x) | np.isnan(y)
    polygons = hamlets.set_index("hamlet_code").geometry
    which = polygons.index.get_indexer(households["hamlet_code"].astype("string"))
    known = which >= 0
    geoms = polygons.to_numpy()
    shapely.prepare(geoms)
    check = known & ~missing
    inside = np.ones(len(households), dtype=bool)
    inside[check] = shapely.contains_xy(geoms[which[check]], x[check], y[check])
    outside = np.flatnonzero(~inside)
    distance = np.zeros(len(outside))
    if len(outside):
        metric = metric_crs_for(hamlets)
        points = gpd.GeoSeries(shapely.points(x[outside], y[outside]), crs=STORAGE_CRS).to_crs(
            metric
        )
        shapes = gpd.GeoSeries(geoms[which[outside]], crs=STORAGE_CRS).to_crs(metric)
        with np.errstate(invalid="ignore"):
            distance = shapely.distance(shapes.to_numpy(), points.to_numpy())
        # Not measurable (an empty polygon, a point projected to infinity): far away.
        distance = np.where(np.isfinite(distance), distance, np.inf)
    far = outside[distance > tolerance_m]
    far_mask = np.zeros(len(households), dtype=bool)
    far_mask[far] = True
    metres = np.round(np.minimum(distance[distance > tolerance_m], 10_000), -1).astype(np.int64)
    away = pd.Series(
        np.where(metres >= 10_000, "more than 10 km", metres.astype(str) + " m"), dtype="string"
    )
    no_point = missing & known
    return pd.concat(
        [
            issue_rows(
                "staging.households",
                households.loc[far_mask, "record_id"],
                rule=POINT_OUTSIDE_HAMLET,
                field_name="longitude+latitude",
                severity="warning",
                message="the household's location is "
                + away
                + " outside its hamlet "
                + households.loc[far_mask, "hamlet_code"].astype("string").reset_index(drop=True)
                + "; check the coordinates (latitude and longitude may be swapped) or the "
                "hamlet code (Vị trí hộ nằm ngoài ranh giới thôn/TDP)",
                hamlet_code=households.loc[far_mask, "hamlet_code"],
            ),
            issue_rows(
                "staging.households",
                households.loc[no_point, "record_id"],
                rule=LOCATION_MISSING,
                field_name="longitude+latitude",
                severity="warning",
                message="the household has no location; record its longitude and latitude "
                "(Hộ chưa có tọa độ)",
                hamlet_code=households.loc[no_point, "hamlet_code"],
            ),
        ],
        ignore_index=True,
    )


def hamlet_count_reconciliation(
    hamlets: pd.DataFrame,
    households: pd.DataFrame,
    persons: pd.DataFrame,
    *,
    tolerance_share: float = QualitySettings.count_tolerance_share,
    tolerance_abs: int = QualitySettings.count_tolerance_abs,
) -> pd.DataFrame:
    """Per hamlet: the registry's declared households and population against the records.

    Counted from the staged records as landed (every household row with the hamlet's
    code; every person row of those households), before any quarantine: the question is
    whether registry and records describe the same hamlet, not which records pass. A
    figure is within tolerance when ``|counted - declared| <= max(tolerance_abs,
    tolerance_share × declared)``; ``within_tolerance`` needs both figures within, and is
    null when the registry declares neither.
    """
    place = households[["household_id", "hamlet_code"]].drop_duplicates("household_id")
    counted_households = place.groupby("hamlet_code")["household_id"].size()
    located = persons[["household_id"]].merge(place, on="household_id", how="inner")
    counted_population = located.groupby("hamlet_code").size()
    codes = hamlets["hamlet_code"].astype("string")

    def counted(per_hamlet: pd.Series) -> np.ndarray:
        return codes.map(per_hamlet).fillna(0).astype("Int64").to_numpy()

    out = pd.DataFrame(
        {
            "hamlet_code": codes.to_numpy(),
            "commune_code": hamlets["commune_code"].astype("string").to_numpy(),
            "declared_households": hamlets["declared_households"].astype("Int64").to_numpy(),
            "counted_households": codes.map(counted_households)
            .fillna(0)
            .astype("Int64")
            .to_numpy(),
            "declared_population": hamlets["declared_population"].astype("Int64").to_numpy(),
            "counted_population": codes.map(counted_population)
            .fillna(0)
            .astype("Int64")
            .to_numpy(),
        }
    )
    checks = []
    for figure in ("households", "population"):
        declared = out[f"declared_{figure}"].astype("Float64")
        gap = (out[f"counted_{figure}"].astype("Float64") - declared).abs()
        allowed = np.maximum(tolerance_abs, tolerance_share * declared)
        checks.append(gap <= allowed)
    households_ok, population_ok = checks
    within = (households_ok.fillna(True) & population_ok.fillna(True)).astype("boolean")
    within[households_ok.isna() & population_ok.isna()] = pd.NA
    out["within_tolerance"] = within.to_numpy()
    return TABLES["quality.hamlet_count_reconciliation"].enforce(out)


def reconciliation_issues(
    reconciliation: pd.DataFrame,
    *,
    tolerance_share: float = QualitySettings.count_tolerance_share,
    tolerance_abs: int = QualitySettings.count_tolerance_abs,
) -> pd.DataFrame:
    """A warning per hamlet and figure out of tolerance, keyed by hamlet code.

    Warnings: planning counts from the records anyway; the registry figure is what the
    commune declared and must be brought in line (or the records completed).
    """
    frames = []
    for figure, rule, label in (
        ("households", DECLARED_HOUSEHOLDS_MISMATCH, "Số hộ"),
        ("population", DECLARED_POPULATION_MISMATCH, "Số nhân khẩu"),
    ):
        declared = reconciliation[f"declared_{figure}"].astype("Float64")
        counted = reconciliation[f"counted_{figure}"].astype("Float64")
        allowed = np.maximum(tolerance_abs, tolerance_share * declared)
        bad = ((counted - declared).abs() > allowed).fillna(False).to_numpy(dtype=bool)
        rows = reconciliation[bad]
        message = (
            f"the registry declares {figure} "
            + rows[f"declared_{figure}"].astype("string").reset_index(drop=True)
            + ", the records count "
            + rows[f"counted_{figure}"].astype("string").reset_index(drop=True)
            + f" (tolerance {tolerance_share:.0%} or {tolerance_abs}); update the registry or "
            f"complete the records ({label} kê khai khác số đếm từ dữ liệu dân cư)"
        )
        frames.append(
            issue_rows(
                "staging.hamlets",
                rows["hamlet_code"],
                rule=rule,
                field_name=f"declared_{figure}",
                severity="warning",
                message=message,
                commune_code=rows["commune_code"],
                hamlet_code=rows["hamlet_code"],
            )
        )
    return pd.concat(frames, ignore_index=True)


def hamlet_geometry_problems(
    hamlets: gpd.GeoDataFrame, *, min_overlap_m2: float = 100.0, collapsed_share: float = 0.01
) -> dict[str, float]:
    """Counts for the check that staged hamlets form a partition: invalid polygons,
    pairs of hamlets sharing more than ``min_overlap_m2`` of area (less is float residue
    of reprojecting repaired boundaries, a few m² along a border), and collapsed
    hamlets (empty, or smaller than ``collapsed_share`` of their commune's median
    hamlet: a repair that lost the polygon, not a real hamlet).

    Staging repairs boundaries and lists every change in staging.geometry_adjustments;
    this check proves the repair left no invalid polygon, overlap or lost hamlet behind.
    """
    geoms = hamlets.geometry.to_numpy()
    invalid = int((~shapely.is_valid(geoms)).sum())
    metric = gpd.GeoSeries(geoms, crs=STORAGE_CRS).to_crs(metric_crs_for(hamlets)).to_numpy()
    # Reprojection can make a valid ring touch itself; measure on repaired copies.
    metric = shapely.make_valid(metric)
    tree = shapely.STRtree(metric)
    left, right = tree.query(metric, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    area = shapely.area(shapely.intersection(metric[left], metric[right]))
    overlapping = area > min_overlap_m2
    own_area = pd.Series(shapely.area(metric), index=hamlets.index)
    median = own_area.groupby(hamlets["commune_code"].to_numpy()).transform("median")
    collapsed = shapely.is_empty(metric) | (own_area < collapsed_share * median).to_numpy()
    return {
        "hamlets": len(geoms),
        "invalid_polygons": invalid,
        "overlapping_pairs": int(overlapping.sum()),
        "overlap_m2": round(float(area[overlapping].sum()), 1),
        "collapsed_polygons": int(collapsed.sum()),
    }
