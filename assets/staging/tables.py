"""The staging layer: typed, normalised tables that fit their contracts.

Each function takes raw frames (text as landed, plus lineage) and returns a frame that
passes ``TABLES["staging.<name>"].enforce``. Values that cannot be read become missing
here and are reported by the quality stage, which sees the whole record.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from assets.raw.landing import LINEAGE_COLUMNS, LandingFileError
from assets.staging.headers import to_canonical
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
from expectations.schemas import TABLES, Table, header_key
from geodata.crs import STORAGE_CRS, area_km2

HEAD_OF_HOUSEHOLD = header_key("Chủ hộ")


def _source_file(raw: pd.DataFrame, fallback: str) -> str:
    if "source_file" in raw and len(raw):
        return str(raw["source_file"].iloc[0])
    return fallback


def repair_geometries(gdf: gpd.GeoDataFrame, *, source_file: str, key: str) -> gpd.GeoDataFrame:
    """Make polygons valid (keeping them polygonal); a missing or empty one is an error."""
    empty = gdf.geometry.isna() | gdf.geometry.is_empty
    if empty.any():
        keys = gdf.loc[empty, key].astype(str).head(5).tolist()
        raise LandingFileError(f"{source_file}: features without geometry ({key} {keys})")
    out = gdf.copy()
    out["geometry"] = shapely.make_valid(
        gdf.geometry.values, method="structure", keep_collapsed=False
    )
    return out.set_crs(STORAGE_CRS, allow_override=True)


def stage_communes(raw: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    contract = TABLES["staging.communes"]
    source = _source_file(raw, "communes")
    df = to_canonical(
        raw.drop(columns=["full_name"], errors="ignore"),
        source_file=source,
        wanted=("commune_code", "commune_name", "unit_kind", "province_code"),
        required=("commune_code", "commune_name", "province_code", "geometry"),
    )
    gdf = gpd.GeoDataFrame(df, geometry=raw.geometry.values, crs=raw.crs).reset_index(drop=True)
    gdf = repair_geometries(gdf, source_file=source, key="commune_code")
    gdf["commune_code"] = clean_text(gdf["commune_code"]).str.zfill(5)
    gdf["province_code"] = clean_text(gdf["province_code"]).str.zfill(2)
    gdf["commune_name"] = clean_text(gdf["commune_name"])
    gdf["unit_kind"] = map_vocabulary(gdf["unit_kind"], UNIT_KINDS)
    gdf["area_km2"] = area_km2(gdf).round(4)
    return gpd.GeoDataFrame(contract.enforce(gdf), geometry="geometry", crs=STORAGE_CRS)


def stage_hamlets(raw_boundaries: gpd.GeoDataFrame, raw_registry: pd.DataFrame) -> gpd.GeoDataFrame:
    """The registry's figures joined to the boundaries, one row per hamlet.

    A hamlet in the registry without a boundary, or a boundary without a registry row,
    is an error naming both files and the codes: merging needs both.
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
    boundaries = gpd.GeoDataFrame(
        boundaries, geometry=raw_boundaries.geometry.values, crs=raw_boundaries.crs
    ).reset_index(drop=True)
    boundaries = repair_geometries(boundaries, source_file=boundary_file, key="hamlet_code")
    boundaries["hamlet_code"] = clean_text(boundaries["hamlet_code"])
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
    registry["hamlet_code"] = clean_text(registry["hamlet_code"])
    registry["commune_code"] = clean_text(registry["commune_code"]).str.zfill(5)
    for side, frame, name in (
        ("registry", registry, registry_file),
        ("boundaries", boundaries, boundary_file),
    ):
        duplicated = frame["hamlet_code"][frame["hamlet_code"].duplicated()].dropna().unique()
        if len(duplicated):
            raise LandingFileError(
                f"{name}: hamlet_code repeated in {side}: {list(duplicated[:5])}"
            )
    only_registry = sorted(set(registry["hamlet_code"]) - set(boundaries["hamlet_code"]))
    only_boundary = sorted(set(boundaries["hamlet_code"]) - set(registry["hamlet_code"]))
    if only_registry or only_boundary:
        raise LandingFileError(
            f"{registry_file} / {boundary_file}: hamlet codes without a boundary "
            f"{only_registry[:5]} and boundaries without a registry row {only_boundary[:5]}"
        )
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
    gdf["area_km2"] = area_km2(gdf).round(4)
    gdf = gdf.sort_values("hamlet_code", ignore_index=True)
    return gpd.GeoDataFrame(contract.enforce(gdf), geometry="geometry", crs=STORAGE_CRS)


def _landed_columns(contract: Table, derived: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The contract's columns that arrive in the landing file, and those it must have."""
    landed = tuple(c for c in contract.columns if c not in derived and c not in LINEAGE_COLUMNS)
    return {"wanted": landed, "required": tuple(c for c in contract.required if c in landed)}


def _record_ids(raw: pd.DataFrame) -> pd.Series:
    return (raw["source_file"] + ":" + raw["source_row_number"].astype("string")).astype("string")


def stage_households(raw: pd.DataFrame) -> pd.DataFrame:
    contract = TABLES["staging.households"]
    df = to_canonical(
        raw,
        source_file=_source_file(raw, "households"),
        **_landed_columns(contract, derived=("record_id",)),
    )
    df["household_id"] = clean_text(df["household_id"])
    df["hamlet_code"] = clean_text(df["hamlet_code"])
    df["longitude"] = parse_float(df["longitude"])
    df["latitude"] = parse_float(df["latitude"])
    df["record_id"] = _record_ids(raw)
    return contract.enforce(df)


def stage_persons(raw: pd.DataFrame) -> pd.DataFrame:
    contract = TABLES["staging.persons"]
    df = to_canonical(
        raw,
        source_file=_source_file(raw, "persons"),
        **_landed_columns(
            contract, derived=("record_id", "is_household_head", "birth_date_is_partial")
        ),
    )
    df["record_id"] = _record_ids(raw)
    df["citizen_id"] = clean_text(df["citizen_id"])
    df["full_name"] = person_name_case(df["full_name"])
    df["birth_date_is_partial"] = is_year_only(df["birth_date"])
    df["birth_date"] = parse_dates(df["birth_date"])
    df["sex"] = map_vocabulary(df["sex"], SEXES)
    df["household_id"] = clean_text(df["household_id"])
    df["relation_to_head"] = clean_text(df["relation_to_head"])
    df["is_household_head"] = folded(df["relation_to_head"]).eq(HEAD_OF_HOUSEHOLD).fillna(False)
    df["ethnicity"] = clean_text(df["ethnicity"])
    return contract.enforce(df)


def province_code_of(communes: pd.DataFrame) -> str:
    """The one province a landing folder covers; several is an error (one run, one province)."""
    codes = sorted(communes["province_code"].dropna().unique())
    if len(codes) != 1:
        raise LandingFileError(f"communes file covers provinces {codes}; expected exactly one")
    return str(codes[0])
