"""The staging layer: typed, normalised tables that fit their contracts.

Each function takes raw frames (text as landed, plus lineage) and returns a frame that
passes ``TABLES["staging.<name>"].enforce``. Values that cannot be read become missing
here and are reported by the quality stage, which sees the whole record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from assets.raw.headers import LandingFileError, to_canonical
from assets.raw.landing import LINEAGE_COLUMNS, SOURCE_CRS
from assets.staging.geocodes import DROPPED_ZEROS, restore_dropped_zeros
from assets.staging.normalise import (
    HAMLET_KINDS,
    SEXES,
    UNIT_KINDS,
    clean_text,
    folded,
    is_year_only,
    map_vocabulary,
    parse_dates,
    parse_float,
    parse_int,
    person_name_case,
    roman_to_arabic,
    split_hamlet_name,
)
from assets.staging.readings import combine_readings, value_readings
from expectations.schemas import TABLES, Table, header_key
from geodata.cleaning import clean_hamlet_geometries, valid_polygons
from geodata.crs import STORAGE_CRS, area_km2
from geodata.crs_detection import CrsDetectionError, to_storage_crs

HEAD_OF_HOUSEHOLD = header_key("Chủ hộ")


@dataclass(frozen=True)
class Staged:
    """A staged table, the landed rows that could not be staged (with reasons), and
    notes for the run's metadata (e.g. how the CRS was found)."""

    table: pd.DataFrame
    rejected: pd.DataFrame
    notes: dict[str, str] = field(default_factory=dict)
    adjustments: pd.DataFrame | None = None  # staging.geometry_adjustments rows
    readings: pd.DataFrame | None = None  # staging.value_readings rows


def _header_notes(*frames: pd.DataFrame) -> dict[str, str]:
    """Headers a landing file had that the data dictionary does not know (ignored)."""
    unknown = [h for f in frames for h in f.attrs.get("unrecognised_headers", [])]
    return {"unrecognised_headers": ", ".join(unknown)} if unknown else {}


def _reproject(
    gdf: gpd.GeoDataFrame,
    source_file: str,
    reference: gpd.GeoDataFrame | None = None,
    province_code: str | None = None,
) -> tuple[gpd.GeoDataFrame, str]:
    """Into EPSG:4326 from the CRS the file declared, or the one its coordinates reveal."""
    declared = next(iter(gdf[SOURCE_CRS].dropna()), None) if SOURCE_CRS in gdf else None
    try:
        out, resolved = to_storage_crs(
            gdf.drop(columns=SOURCE_CRS, errors="ignore"),
            declared,
            reference=reference,
            province_code=province_code,
        )
    except CrsDetectionError as exc:
        raise LandingFileError(f"{source_file}: {exc}") from exc
    return out, resolved.how


def rejected_rows(
    table_name: str, rows: pd.DataFrame, *, field_name: str, reason: str | pd.Series
) -> pd.DataFrame:
    """Rows of ``staging.rejected_rows`` naming each row's file and 1-based data row."""
    return TABLES["staging.rejected_rows"].enforce(
        pd.DataFrame(
            {
                "table_name": pd.array([table_name] * len(rows), dtype="string"),
                "source_file": rows["source_file"].astype("string").to_numpy(),
                "source_row_number": rows["source_row_number"].astype("Int64").to_numpy(),
                "field_name": pd.array([field_name] * len(rows), dtype="string"),
                "reason": (
                    reason.astype("string").to_numpy()
                    if isinstance(reason, pd.Series)
                    else pd.array([reason] * len(rows), dtype="string")
                ),
            }
        )
    )


def _split_duplicates(
    frame: pd.DataFrame, table_name: str, *, key: str, source_file: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the first row of each key; reject later repeats, naming the row kept."""
    missing = frame[key].isna()
    repeated = frame[key].duplicated(keep="first") & ~missing
    first_row = frame.groupby(key)["source_row_number"].transform("first")
    rejects = pd.concat(
        [
            rejected_rows(
                table_name,
                frame[missing],
                field_name=key,
                reason=f"{key} is empty in {source_file}; the row cannot be matched",
            ),
            rejected_rows(
                table_name,
                frame[repeated],
                field_name=key,
                reason=(
                    f"{key} "
                    + frame.loc[repeated, key].astype("string")
                    + " repeats row "
                    + first_row[repeated].astype("Int64").astype("string")
                    + f" of {source_file}, which is kept"
                ),
            ),
        ],
        ignore_index=True,
    )
    return frame[~missing & ~repeated], rejects


def _reject_unreadable(df: pd.DataFrame, table_name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Records the raw layer could not read cleanly (a quote left open, wrong number of
    fields…), rejected with the reason and row; their values were never guessed."""
    if "read_problem" not in df.columns:
        return df, rejected_rows(table_name, df.iloc[:0], field_name="*", reason="")
    unread = df["read_problem"].notna().to_numpy()
    rejects = rejected_rows(
        table_name,
        df[unread],
        field_name="*",
        reason="the record cannot be read: " + df.loc[unread, "read_problem"].astype("string"),
    )
    return df.loc[~unread].drop(columns="read_problem"), rejects


def _reject_empty_rows(
    df: pd.DataFrame, table_name: str, landed: tuple[str, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    df, unread = _reject_unreadable(df, table_name)
    present = [c for c in landed if c in df.columns]
    blank = [df[c].isna() | df[c].astype("string").str.strip().eq("") for c in present]
    empty = pd.concat(blank, axis=1).all(axis=1).fillna(True).to_numpy(dtype=bool)
    rejects = rejected_rows(
        table_name, df[empty], field_name="*", reason="the row is empty (no value in any column)"
    )
    return df[~empty], pd.concat([unread, rejects], ignore_index=True)


def _source_file(raw: pd.DataFrame, fallback: str) -> str:
    if "source_file" in raw and len(raw):
        return str(raw["source_file"].iloc[0])
    return fallback


def repair_geometries(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Make polygons valid, keeping them polygonal (features without geometry are
    rejected before this)."""
    out = gdf.copy()
    out["geometry"] = valid_polygons(gdf.geometry.values)
    return out.set_crs(STORAGE_CRS, allow_override=True)


def _reject_missing_geometry(
    gdf: gpd.GeoDataFrame, table_name: str, source_file: str
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    empty = (gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy()
    rejects = rejected_rows(
        table_name,
        gdf[empty],
        field_name="geometry",
        reason=f"the feature in {source_file} has no geometry",
    )
    return gdf[~empty], rejects


def stage_communes(raw: gpd.GeoDataFrame) -> Staged:
    contract = TABLES["staging.communes"]
    source = _source_file(raw, "communes")
    df = to_canonical(
        raw,
        source_file=source,
        wanted=("commune_code", "commune_name", "unit_kind", "province_code"),
        required=("commune_code", "commune_name", "province_code", "geometry"),
    )
    df, unread = _reject_unreadable(df, contract.qualified_name)
    gdf = gpd.GeoDataFrame(df, geometry="geometry", crs=raw.crs).reset_index(drop=True)
    widths = {"commune_code": 5, "province_code": 2}
    gdf, readings = _pad_codes(gdf, contract.qualified_name, widths)
    gdf, no_geometry = _reject_missing_geometry(gdf, contract.qualified_name, source)
    provinces = gdf["province_code"].dropna().unique()
    gdf, crs_how = _reproject(
        gdf, source, province_code=str(provinces[0]) if len(provinces) == 1 else None
    )
    gdf, repeats = _split_duplicates(
        gdf, contract.qualified_name, key="commune_code", source_file=source
    )
    gdf = repair_geometries(gdf)
    gdf["commune_name"] = clean_text(gdf["commune_name"])
    gdf["unit_kind"] = map_vocabulary(gdf["unit_kind"], UNIT_KINDS)
    gdf["area_km2"] = area_km2(gdf).round(4)
    return Staged(
        gpd.GeoDataFrame(contract.enforce(gdf), geometry="geometry", crs=STORAGE_CRS),
        pd.concat([unread, no_geometry, repeats], ignore_index=True),
        {"crs": crs_how},
        readings=readings,
    )


def _pad_codes(
    gdf: gpd.GeoDataFrame, table_name: str, widths: dict[str, int]
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Codes of fixed width zero-padded (a spreadsheet or a numeric .dbf field drops the
    zeros), each padding counted per file and field."""
    readings = []
    for column, width in widths.items():
        landed = clean_text(gdf[column])
        gdf[column] = landed.str.zfill(width)
        padded = (gdf[column] != landed).fillna(False).to_numpy()
        reading = f"leading zeros restored ({width} digits)"
        readings.append(
            value_readings(
                table_name, gdf, padded, field_name=column, reading=reading, outcome="recovered"
            )
        )
    return gdf, combine_readings(readings)


def stage_hamlets(
    raw_boundaries: gpd.GeoDataFrame,
    raw_registry: pd.DataFrame,
    communes: gpd.GeoDataFrame | None = None,
) -> Staged:
    """The registry's figures joined to the boundaries, one row per hamlet.

    Merging needs both, so a registry row without a boundary, a boundary without a
    registry row, a repeated code or a feature without geometry is rejected with the
    reason, naming the file and row; the rest is staged.
    """
    contract = TABLES["staging.hamlets"]
    boundary_file = _source_file(raw_boundaries, "hamlet_boundaries")
    registry_file = _source_file(raw_registry, "hamlet_registry")
    boundaries = to_canonical(
        raw_boundaries,
        source_file=boundary_file,
        wanted=("hamlet_code", "commune_code"),
        required=("hamlet_code", "geometry"),
    )
    boundaries, unread_boundaries = _reject_unreadable(boundaries, contract.qualified_name)
    boundaries = gpd.GeoDataFrame(
        boundaries, geometry="geometry", crs=raw_boundaries.crs
    ).reset_index(drop=True)
    boundaries["hamlet_code"] = clean_text(boundaries["hamlet_code"])
    landed_codes = boundaries["hamlet_code"].copy()
    name = contract.qualified_name
    boundaries, no_geometry = _reject_missing_geometry(boundaries, name, boundary_file)
    boundaries, crs_how = _reproject(boundaries, boundary_file, reference=communes)
    registry = to_canonical(
        raw_registry,
        source_file=registry_file,
        wanted=(
            "commune_code",
            "hamlet_code",
            "hamlet_name",
            "hamlet_kind",
            "declared_households",
            "declared_population",
            "exemption_category",
        ),
        required=("commune_code", "hamlet_code", "hamlet_name", "hamlet_kind"),
    )
    registry, unread = _reject_unreadable(registry, name)
    registry["hamlet_code"] = clean_text(registry["hamlet_code"])
    registry["commune_code"] = clean_text(registry["commune_code"]).str.zfill(5)
    boundaries["hamlet_code"] = restore_dropped_zeros(
        boundaries["hamlet_code"],
        boundaries.get("commune_code"),
        registry["hamlet_code"],
    )
    readings = value_readings(
        name,
        boundaries,
        (boundaries["hamlet_code"] != landed_codes.reindex(boundaries.index)).fillna(False),
        field_name="hamlet_code",
        reading=DROPPED_ZEROS,
        outcome="recovered",
    )
    boundaries, boundary_repeats = _split_duplicates(
        boundaries, name, key="hamlet_code", source_file=boundary_file
    )
    registry, registry_repeats = _split_duplicates(
        registry, name, key="hamlet_code", source_file=registry_file
    )
    only_registry = ~registry["hamlet_code"].isin(boundaries["hamlet_code"])
    only_boundary = ~boundaries["hamlet_code"].isin(registry["hamlet_code"])
    unmatched = pd.concat(
        [
            rejected_rows(
                name,
                registry[only_registry],
                field_name="hamlet_code",
                reason="hamlet_code "
                + registry.loc[only_registry, "hamlet_code"]
                + f" has no boundary in {boundary_file}",
            ),
            rejected_rows(
                name,
                boundaries[only_boundary],
                field_name="hamlet_code",
                reason="hamlet_code "
                + boundaries.loc[only_boundary, "hamlet_code"]
                + f" has no row in {registry_file}",
            ),
        ],
        ignore_index=True,
    )
    registry, boundaries = registry[~only_registry], boundaries[~only_boundary]
    boundaries = repair_geometries(boundaries)
    names = split_hamlet_name(registry["hamlet_name"])
    names["hamlet_name"] = roman_to_arabic(names["hamlet_name"])
    registry = registry.drop(columns=["hamlet_name"]).join(names)
    registry["hamlet_kind"] = map_vocabulary(registry["hamlet_kind"], HAMLET_KINDS)
    registry["declared_households"] = parse_int(registry["declared_households"])
    registry["declared_population"] = parse_int(registry["declared_population"])
    registry["exemption_category"] = clean_text(registry["exemption_category"])
    merged = boundaries[["hamlet_code", "geometry"]].merge(
        registry.drop(columns=list(LINEAGE_COLUMNS), errors="ignore"),
        on="hamlet_code",
        how="inner",
        validate="one_to_one",
    )
    gdf = gpd.GeoDataFrame(merged, geometry="geometry", crs=STORAGE_CRS)
    adjustments = None
    if communes is not None:
        gdf, changes = clean_hamlet_geometries(gdf, communes)
        adjustments = TABLES["staging.geometry_adjustments"].enforce(changes)
    gdf["area_km2"] = area_km2(gdf).round(4)
    gdf = gdf.sort_values("hamlet_code", ignore_index=True)
    return Staged(
        gpd.GeoDataFrame(contract.enforce(gdf), geometry="geometry", crs=STORAGE_CRS),
        pd.concat(
            [
                unread_boundaries,
                unread,
                no_geometry,
                boundary_repeats,
                registry_repeats,
                unmatched,
            ],
            ignore_index=True,
        ),
        {"crs": crs_how},
        adjustments,
        readings,
    )


def _landed_columns(contract: Table, derived: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The contract's columns that arrive in the landing file, and those it must have."""
    landed = tuple(c for c in contract.columns if c not in derived and c not in LINEAGE_COLUMNS)
    return {"wanted": landed, "required": tuple(c for c in contract.required if c in landed)}


def _record_ids(raw: pd.DataFrame) -> pd.Series:
    return (raw["source_file"] + ":" + raw["source_row_number"].astype("string")).astype("string")


def stage_households(raw: pd.DataFrame) -> Staged:
    contract = TABLES["staging.households"]
    columns = _landed_columns(contract, derived=("record_id",))
    df = to_canonical(raw, source_file=_source_file(raw, "households"), **columns)
    df["record_id"] = _record_ids(raw)
    df, empty = _reject_empty_rows(df, contract.qualified_name, columns["wanted"])
    df["household_id"] = clean_text(df["household_id"])
    df, repeats = _split_duplicates(
        df, contract.qualified_name, key="household_id", source_file=_source_file(raw, "households")
    )
    df["hamlet_code"] = clean_text(df["hamlet_code"])
    df["longitude"] = parse_float(df["longitude"])
    df["latitude"] = parse_float(df["latitude"])
    rejected = pd.concat([empty, repeats], ignore_index=True)
    return Staged(contract.enforce(df), rejected, _header_notes(df))


def stage_persons(raw: pd.DataFrame) -> Staged:
    contract = TABLES["staging.persons"]
    columns = _landed_columns(
        contract, derived=("record_id", "is_household_head", "birth_date_is_partial")
    )
    df = to_canonical(raw, source_file=_source_file(raw, "persons"), **columns)
    df["record_id"] = _record_ids(raw)
    df, empty = _reject_empty_rows(df, contract.qualified_name, columns["wanted"])
    df["citizen_id"] = clean_text(df["citizen_id"])
    df["full_name"] = person_name_case(df["full_name"])
    df["birth_date_is_partial"] = is_year_only(df["birth_date"])
    df["birth_date"] = parse_dates(df["birth_date"])
    df["sex"] = map_vocabulary(df["sex"], SEXES)
    df["household_id"] = clean_text(df["household_id"])
    df["relation_to_head"] = clean_text(df["relation_to_head"])
    df["is_household_head"] = folded(df["relation_to_head"]).eq(HEAD_OF_HOUSEHOLD).fillna(False)
    df["ethnicity"] = clean_text(df["ethnicity"])
    return Staged(contract.enforce(df), empty, _header_notes(df))


def province_code_of(communes: pd.DataFrame) -> str:
    """The one province a landing folder covers; several is an error (one run, one province)."""
    codes = sorted(communes["province_code"].dropna().unique())
    if len(codes) != 1:
        raise LandingFileError(f"communes file covers provinces {codes}; expected exactly one")
    return str(codes[0])
