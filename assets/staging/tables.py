"""The staging layer: typed, normalised tables that fit their contracts.

Each function takes raw frames (text as landed, plus lineage) and returns a frame that
passes ``TABLES["staging.<name>"].enforce``. Values that cannot be read become missing
here and are reported by the quality stage, which sees the whole record; each value read
other than as written (a local name, a decimal comma, a hamlet named instead of coded)
is counted in ``Staged.readings`` (``staging.value_readings``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from assets.planning.rules import RulesProfile
from assets.raw.headers import LandingFileError, to_canonical
from assets.raw.landing import SOURCE_CRS
from assets.staging.codes import (
    CodeReading,
    citizen_ids,
    commune_codes,
    hamlet_codes,
    household_ids,
    province_codes,
)
from assets.staging.dates import DateForms, DateOrders, read_dates
from assets.staging.hamlet_names import RESOLVED, RESOLVED_FOLDED, resolve_hamlet_names
from assets.staging.normalise import (
    THON,
    TO_DAN_PHO,
    UNIT_KINDS,
    clean_text,
    head_written_otherwise,
    invalid_value_notes,
    known_relations,
    map_vocabulary,
    parse_coordinates,
    parse_int,
    person_name_case,
    read_ethnicities,
    read_hamlet_kinds,
    read_sexes,
    relation_kinds,
    roman_to_arabic,
    split_hamlet_name,
)
from assets.staging.readings import combine_readings, value_readings
from expectations.reference import HEAD
from expectations.schemas import (
    CITIZEN_ID_PATTERN,
    FIELDS,
    LANDED_COLUMNS,
    LINEAGE,
    PERSON_READINGS,
    STAND_INS,
    TABLES,
    WORKBOOK_LINEAGE,
    Table,
)
from geodata.cleaning import clean_hamlet_geometries, valid_polygons
from geodata.crs import STORAGE_CRS, area_km2
from geodata.crs_detection import CrsDetectionError, to_storage_crs

# The kind of hamlet a commune's kind makes it (DOMAIN.md: thôn in a xã, TDP in a phường).
KIND_OF_COMMUNE = {"xa": THON, "phuong": TO_DAN_PHO}


def kind_by_commune(commune_codes: pd.Series, communes: pd.DataFrame) -> pd.Series:
    """The hamlet kind each commune's kind makes its hamlets (Art. 2.3, 10.2), aligned
    with ``commune_codes``; missing where the commune does not decide it (a đặc khu, or
    a commune not in ``communes``)."""
    unit_kind = pd.Series(
        communes["unit_kind"].astype("string").to_numpy(),
        index=communes["commune_code"].astype("string").to_numpy(),
    )
    return commune_codes.astype("string").map(unit_kind).map(KIND_OF_COMMUNE).astype("string")


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


def _sheet_places(rows: pd.DataFrame) -> pd.Series:
    """Where each row of a workbook sits as the clerk sees it (``sheet 'Thôn A' row
    12``); missing for rows of other files, whose data row says it."""
    if not set(WORKBOOK_LINEAGE) <= set(rows.columns):
        return pd.Series(pd.NA, index=rows.index, dtype="string")
    return (
        "sheet '"
        + rows["source_sheet"].astype("string")
        + "' row "
        + rows["sheet_row_number"].astype("Int64").astype("string")
    )


def _without_sheet_lineage(df: pd.DataFrame) -> pd.DataFrame:
    """A staged frame without the raw-only workbook lineage (kept for messages)."""
    return df.drop(columns=list(WORKBOOK_LINEAGE), errors="ignore")


def rejected_rows(
    table_name: str, rows: pd.DataFrame, *, field_name: str, reason: str | pd.Series
) -> pd.DataFrame:
    """Rows of ``staging.rejected_rows`` naming each row's file and 1-based data row;
    a workbook's reason starts with the sheet and the row Excel shows."""
    reasons = (
        reason.astype("string")
        if isinstance(reason, pd.Series)
        else pd.Series(reason, index=rows.index, dtype="string")
    )
    places = _sheet_places(rows)
    reasons = (places + ": " + reasons).fillna(reasons)
    return TABLES["staging.rejected_rows"].enforce(
        pd.DataFrame(
            {
                "table_name": pd.array([table_name] * len(rows), dtype="string"),
                "source_file": rows["source_file"].astype("string").to_numpy(),
                "source_row_number": rows["source_row_number"].astype("Int64").to_numpy(),
                "field_name": pd.array([field_name] * len(rows), dtype="string"),
                "reason": reasons.to_numpy(),
            }
        )
    )


def _split_duplicates(
    frame: pd.DataFrame, table_name: str, *, key: str, source_file: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the first row of each key; reject later repeats, naming the row kept. The
    value is quoted only when its field is not personal (a household number is)."""
    missing = frame[key].isna()
    repeated = frame[key].duplicated(keep="first") & ~missing
    rows = "row " + frame["source_row_number"].astype("Int64").astype("string")
    first_place = _sheet_places(frame).fillna(rows).groupby(frame[key]).transform("first")
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
                    + (
                        ""
                        if FIELDS[key].is_personal
                        else frame.loc[repeated, key].astype("string") + " "
                    )
                    + "repeats "
                    + first_place[repeated]
                    + f" of {source_file}, which is kept"
                ),
            ),
        ],
        ignore_index=True,
    )
    return frame[~missing & ~repeated], rejects


def _read_codes(
    df: pd.DataFrame, table_name: str, reading: CodeReading, *, reject: bool
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Stage the codes as read (``assets.staging.codes``) and count how they were read.

    A code that cannot be read exactly is never staged. Where it keys its row (a
    household's, hamlet's or commune's own code) the row is rejected with the reason, as
    for an empty key; where it refers to another record (a person's citizen ID or
    household, a household's hamlet) it stays missing, and the quality stage's
    ``required_missing`` error quarantines the record, as for any invalid citizen ID.
    """
    field_name = reading.field_name
    df = df.assign(**{field_name: reading.codes.set_axis(df.index)})
    readings = reading.readings(table_name, df)
    bad = reading.quarantined if reject else np.zeros(len(df), dtype=bool)
    rejects = rejected_rows(table_name, df[bad], field_name=field_name, reason=reading.problem[bad])
    return (df[~bad] if bad.any() else df), rejects, readings


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
    # Column by column, looking only at the rows blank so far: after the first column
    # almost none are left, instead of every column of every row being stripped.
    empty = np.ones(len(df), dtype=bool)
    for column in (c for c in landed if c in df.columns):
        at = np.flatnonzero(empty)
        if not len(at):
            break
        values = df[column].iloc[at]
        blank = values.isna() | values.astype("string").str.strip().eq("")
        empty[at] = blank.fillna(True).to_numpy(dtype=bool)
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


def stage_communes(raw: gpd.GeoDataFrame, rules: RulesProfile | None = None) -> Staged:
    """Communes typed and repaired; with ``rules``, the region of the standard each
    commune is held to (its own where the province's override lists it, else its
    province's; missing for a province the rules do not know)."""
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
    name = contract.qualified_name
    gdf, bad_codes, commune_readings = _read_codes(
        gdf, name, commune_codes(gdf["commune_code"]), reject=True
    )
    gdf, _, province_readings = _read_codes(
        gdf, name, province_codes(gdf["province_code"]), reject=False
    )
    readings = combine_readings([commune_readings, province_readings])
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
    gdf["region"] = _commune_regions(gdf, rules)
    gdf = _without_sheet_lineage(gdf)
    return Staged(
        gpd.GeoDataFrame(contract.enforce(gdf), geometry="geometry", crs=STORAGE_CRS),
        pd.concat([unread, bad_codes, no_geometry, repeats], ignore_index=True),
        {"crs": crs_how},
        readings=readings,
    )


def _commune_regions(communes: pd.DataFrame, rules: RulesProfile | None) -> pd.Series:
    """Region per commune (``RulesProfile.region_for_commune``); missing without rules or
    for a province code the rules do not map (planning then names the problem)."""
    region = pd.Series(pd.NA, index=communes.index, dtype="string")
    if rules is None:
        return region
    for i, province, commune in zip(
        communes.index, communes["province_code"], communes["commune_code"], strict=True
    ):
        if isinstance(province, str) and province in rules.province_regions:
            region[i] = rules.region_for_commune(province, str(commune))
    return region


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
    known = None if communes is None else communes["commune_code"]
    read = commune_codes(registry["commune_code"], known)
    registry, bad_communes, commune_readings = _read_codes(registry, name, read, reject=True)
    read = hamlet_codes(registry["hamlet_code"], communes=registry["commune_code"])
    registry, bad_hamlets, hamlet_readings = _read_codes(registry, name, read, reject=True)
    read = hamlet_codes(boundaries["hamlet_code"], known=registry["hamlet_code"])
    boundaries, bad_boundaries, boundary_readings = _read_codes(boundaries, name, read, reject=True)
    boundaries, boundary_repeats = _split_duplicates(
        boundaries, name, key="hamlet_code", source_file=boundary_file
    )
    registry, registry_repeats = _split_duplicates(
        registry, name, key="hamlet_code", source_file=registry_file
    )
    registry, kind_rejects, kind_readings = _hamlet_kinds(registry, communes, registry_file)
    only_registry = ~registry["hamlet_code"].isin(boundaries["hamlet_code"])
    only_boundary = ~boundaries["hamlet_code"].isin(registry["hamlet_code"])
    kind_unread = boundaries["hamlet_code"].isin(kind_rejects["hamlet_code"])
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
                boundaries[only_boundary & ~kind_unread],
                field_name="hamlet_code",
                reason="hamlet_code "
                + boundaries.loc[only_boundary & ~kind_unread, "hamlet_code"]
                + f" has no row in {registry_file}",
            ),
            rejected_rows(
                name,
                boundaries[kind_unread],
                field_name="hamlet_kind",
                reason="hamlet_code "
                + boundaries.loc[kind_unread, "hamlet_code"]
                + f": its row in {registry_file} was rejected (hamlet kind not recognised)",
            ),
        ],
        ignore_index=True,
    )
    registry, boundaries = registry[~only_registry], boundaries[~only_boundary]
    boundaries = repair_geometries(boundaries)
    names = split_hamlet_name(registry["hamlet_name"])
    names["hamlet_name"] = roman_to_arabic(names["hamlet_name"])
    registry = registry.drop(columns=["hamlet_name"]).join(names)
    registry["declared_households"] = parse_int(registry["declared_households"])
    registry["declared_population"] = parse_int(registry["declared_population"])
    registry["exemption_category"] = clean_text(registry["exemption_category"])
    merged = boundaries[["hamlet_code", "geometry"]].merge(
        registry.drop(columns=[*LINEAGE, *WORKBOOK_LINEAGE], errors="ignore"),
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
                bad_communes,
                bad_hamlets,
                bad_boundaries,
                no_geometry,
                boundary_repeats,
                registry_repeats,
                kind_rejects.drop(columns="hamlet_code"),
                unmatched,
            ],
            ignore_index=True,
        ),
        {"crs": crs_how},
        adjustments,
        combine_readings([commune_readings, hamlet_readings, boundary_readings, kind_readings]),
    )


def _hamlet_kinds(
    registry: pd.DataFrame, communes: gpd.GeoDataFrame | None, registry_file: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The registry's hamlet kinds read as the two legal kinds (``read_hamlet_kinds``).

    A kind left blank or not recognised ("Khu", "Thôn/TDP") is the commune's: the law
    makes every hamlet of a xã a thôn and of a phường a tổ dân phố, so it is taken from
    there with a warning. Where the commune does not decide it either (a đặc khu, or no
    communes given), the row is rejected, naming file, row and what to write. Returns the
    registry kept, its rejected rows (with their hamlet codes) and the readings.
    """
    name = "staging.hamlets"
    kinds = read_hamlet_kinds(registry["hamlet_kind"])
    by_commune = pd.Series(pd.NA, index=registry.index, dtype="string")
    if communes is not None:
        by_commune = kind_by_commune(registry["commune_code"], communes)
    unread = kinds["hamlet_kind"].isna()
    from_commune = (unread & by_commune.notna()).to_numpy(dtype=bool)
    rejected = (unread & by_commune.isna()).to_numpy(dtype=bool)
    local = kinds["how"].eq("local").fillna(False).to_numpy(dtype=bool)
    readings = combine_readings(
        [
            value_readings(
                name,
                registry,
                local,
                field_name="hamlet_kind",
                reading="a local name (Xóm, Bản, Khu phố, Tổ…) read as its legal kind",
                outcome="recovered",
            ),
            value_readings(
                name,
                registry,
                from_commune,
                field_name="hamlet_kind",
                reading="blank or not recognised: the commune's kind taken (thôn in a xã, "
                "tổ dân phố in a phường)",
                outcome="warned",
            ),
            value_readings(
                name,
                registry,
                rejected,
                field_name="hamlet_kind",
                reading="blank or not recognised, and the commune does not decide it: row rejected",
                outcome="quarantined",
            ),
        ]
    )
    rejects = rejected_rows(
        name,
        registry[rejected],
        field_name="hamlet_kind",
        reason=f"the hamlet kind in {registry_file} is blank or not recognised and the "
        "commune's kind does not decide it; write Thôn or Tổ dân phố (Loại thôn/TDP không "
        "đọc được)",
    ).assign(hamlet_code=registry.loc[rejected, "hamlet_code"].to_numpy())
    kept = registry.loc[~rejected].copy()
    kept["hamlet_kind"] = kinds["hamlet_kind"].fillna(by_commune)[~rejected]
    return kept, rejects, readings


def _landed_columns(contract: Table, derived: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The contract's columns that arrive in the landing file, and those it must have."""
    landed = tuple(c for c in contract.columns if c not in derived and c not in LINEAGE)
    return {"wanted": landed, "required": tuple(c for c in contract.required if c in landed)}


def _record_ids(raw: pd.DataFrame) -> pd.Series:
    """``file:row`` (the data row), or for a workbook ``file:sheet!row`` (the row Excel
    shows): unique in a file either way."""
    row = raw["source_row_number"].astype("string")
    if set(WORKBOOK_LINEAGE) <= set(raw.columns):
        in_sheet = (
            raw["source_sheet"] + "!" + raw["sheet_row_number"].astype("Int64").astype("string")
        )
        row = in_sheet.fillna(row)
    return (raw["source_file"] + ":" + row).astype("string")


def stage_households(raw: pd.DataFrame, hamlets: pd.DataFrame | None = None) -> Staged:
    """Households with their hamlet and location.

    A household that names its hamlet instead of coding it is resolved against
    ``hamlets`` (``staging.hamlets``; ``resolve_hamlet_names``); one whose name fits
    several hamlets or none is rejected with the candidates; a hamlet code that lost its
    leading zeros is padded to the code the registry lists. Coordinates are read in
    degrees with a decimal point or comma (``parse_coordinates``); what cannot be read
    is left missing (a location_missing issue follows) and counted.
    """
    contract = TABLES["staging.households"]
    name = contract.qualified_name
    source = _source_file(raw, "households")
    wanted, required = LANDED_COLUMNS["households"]
    df = to_canonical(
        raw, source_file=source, wanted=wanted, required=required, stand_ins=STAND_INS["households"]
    )
    df["record_id"] = _record_ids(raw)
    df, empty = _reject_empty_rows(df, name, wanted)
    df, bad_ids, id_readings = _read_codes(df, name, household_ids(df["household_id"]), reject=True)
    df, repeats = _split_duplicates(df, name, key="household_id", source_file=source)
    known = None if hamlets is None else hamlets["hamlet_code"]
    read = hamlet_codes(df["hamlet_code"], known=known)
    df, _, code_readings = _read_codes(df, name, read, reject=False)
    df, unresolved, name_readings = _hamlets_by_name(df, hamlets, source)
    readings = [id_readings, code_readings, name_readings]
    for column in ("longitude", "latitude"):
        read = parse_coordinates(df[column])
        df[column] = read["value"]
        readings += [
            value_readings(
                name,
                df,
                read["how"].eq("decimal_comma").fillna(False),
                field_name=column,
                reading="decimal comma read as the decimal point",
                outcome="recovered",
            ),
            value_readings(
                name,
                df,
                read["how"].eq("unreadable").fillna(False),
                field_name=column,
                reading="not a number in degrees (thousands separators, several decimal "
                "marks or text): left missing, flagged location_missing",
                outcome="quarantined",
            ),
        ]
    rejected = pd.concat([empty, bad_ids, repeats, unresolved], ignore_index=True)
    df = df.drop(columns=["commune_code", "hamlet_name"])  # read to find the hamlet only
    return Staged(
        contract.enforce(_without_sheet_lineage(df)),
        rejected,
        _header_notes(df),
        readings=combine_readings(readings),
    )


def _hamlets_by_name(
    df: pd.DataFrame, hamlets: pd.DataFrame | None, source: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Households without a hamlet code but with a hamlet name get the code the name
    resolves to; those whose name fits several hamlets or none are rejected with the
    candidates. Returns the households kept, the rejected rows and the readings."""
    name = "staging.households"
    named = (df["hamlet_code"].isna() & clean_text(df["hamlet_name"]).notna()).to_numpy(dtype=bool)
    if not named.any():
        return df, rejected_rows(name, df.iloc[:0], field_name="hamlet_name", reason=""), None
    if hamlets is None:
        raise ValueError("households name their hamlet: the hamlet registry is needed")
    communes = clean_text(df["commune_code"]).str.zfill(5)
    found = resolve_hamlet_names(df.loc[named, "hamlet_name"], communes[named], hamlets)
    df = df.copy()
    df.loc[named, "hamlet_code"] = found["hamlet_code"]
    resolution = pd.Series(pd.NA, index=df.index, dtype="string")
    resolution[named] = found["resolution"]
    failed = (named & df["hamlet_code"].isna()).to_numpy(dtype=bool)
    reason = found["reason"].reindex(df.index)[failed]
    rejects = rejected_rows(
        name, df[failed], field_name="hamlet_name", reason=f"{source}: " + reason
    )
    readings = combine_readings(
        [
            value_readings(
                name,
                df,
                resolution.eq(RESOLVED).fillna(False),
                field_name="hamlet_name",
                reading="hamlet given by name: its code found in the hamlet registry",
                outcome="recovered",
            ),
            value_readings(
                name,
                df,
                resolution.eq(RESOLVED_FOLDED).fillna(False),
                field_name="hamlet_name",
                reading="hamlet given by name, found only without diacritics: its code "
                "taken from the registry, to be checked",
                outcome="warned",
            ),
            value_readings(
                name,
                df,
                failed,
                field_name="hamlet_name",
                reading="hamlet name fits several hamlets or none: row rejected with the "
                "candidates",
                outcome="quarantined",
            ),
        ]
    )
    return df[~failed], rejects, readings


def stage_persons(
    raw: pd.DataFrame,
    *,
    as_of: dt.date | None = None,
    date_orders: DateOrders | None = None,
    date_forms: DateForms | None = None,
) -> Staged:
    """Persons typed; birth dates read in the day/month order their file or block shows
    (``date_orders``, from the whole files when ``raw`` is a slice of them) with
    two-digit years before ``as_of`` (default today); ``date_forms`` (of that ``as_of``)
    remembers the dates earlier slices read."""
    contract = TABLES["staging.persons"]
    name = contract.qualified_name
    columns = _landed_columns(contract, derived=("record_id", *PERSON_READINGS))
    df = to_canonical(raw, source_file=_source_file(raw, "persons"), **columns)
    df["record_id"] = _record_ids(raw)
    df, empty = _reject_empty_rows(df, name, columns["wanted"])
    typed_ids = df["citizen_id"]
    id_reading = citizen_ids(typed_ids)
    df, _, id_readings = _read_codes(df, name, id_reading, reject=False)
    # An ID typed but not readable as 12 (or old 9) digits is invalid, not missing
    # (whether it was typed is asked of the few IDs not read: they are all distinct).
    unreadable_id = ~df["citizen_id"].str.contains(CITIZEN_ID_PATTERN, regex=True, na=False)
    unreadable_id = unreadable_id.to_numpy(dtype=bool)
    unreadable_id[unreadable_id] = clean_text(typed_ids[unreadable_id]).notna().to_numpy()
    df["citizen_id"] = df["citizen_id"].mask(unreadable_id)
    df["full_name"] = person_name_case(df["full_name"])
    births = read_dates(
        df, "birth_date", table_name=name, as_of=as_of, orders=date_orders, forms=date_forms
    )
    df["birth_date"] = births.dates
    df["birth_date_is_partial"] = births.partial
    df["birth_date_order_unproven"] = births.order_unproven
    sexes = read_sexes(df["sex"])
    read = household_ids(df["household_id"])
    df, _, household_readings = _read_codes(df, name, read, reject=False)
    relations = clean_text(df["relation_to_head"])
    unknown_relation = known_relations(relations).eq(False).fillna(False).to_numpy(dtype=bool)
    ethnicities = read_ethnicities(df["ethnicity"])
    unknown_sex = sexes["how"].eq("unknown").fillna(False).to_numpy(dtype=bool)
    unknown_ethnicity = ethnicities["how"].eq("unknown").fillna(False).to_numpy(dtype=bool)
    df["invalid_values"] = invalid_value_notes(
        {
            "citizen_id": (typed_ids, unreadable_id, None),
            "sex": (df["sex"], unknown_sex, None),
            "relation_to_head": (relations, unknown_relation, None),
            "ethnicity": (df["ethnicity"], unknown_ethnicity, ethnicities["closest"]),
        }
    )
    df["sex"] = sexes["sex"]
    df["relation_to_head"] = relations.mask(unknown_relation)
    df["is_household_head"] = relation_kinds(df["relation_to_head"]).eq(HEAD).fillna(False)
    df["ethnicity"] = ethnicities["ethnicity"]
    readings = [
        id_readings,
        value_readings(
            name,
            df,
            unreadable_id & ~id_reading.quarantined,  # the code reader counted the rest
            field_name="citizen_id",
            reading="not 12 digits (nor an old 9-digit number): left missing, the record "
            "quarantined (invalid_value)",
            outcome="quarantined",
        ),
        household_readings,
        births.readings,
        value_readings(
            name,
            df,
            sexes["how"].eq("other_form").fillna(False),
            field_name="sex",
            reading="M/F or Male/Female read as Nam/Nữ",
            outcome="recovered",
        ),
        value_readings(
            name,
            df,
            unknown_sex,
            field_name="sex",
            reading="not Nam/Nữ (nor M/F, Male/Female; numeric codes are not read): left "
            "missing, the record quarantined (invalid_value)",
            outcome="quarantined",
        ),
        value_readings(
            name,
            df,
            unknown_relation,
            field_name="relation_to_head",
            reading="not a relation a household book records: left missing, flagged "
            "invalid_value (a warning)",
            outcome="warned",
        ),
        value_readings(
            name,
            df,
            ethnicities["how"].eq("alias").fillna(False),
            field_name="ethnicity",
            reading="another spelling or older name (H'Mông, Mèo, Việt…) read as the "
            "official name of the ethnic group",
            outcome="recovered",
        ),
        value_readings(
            name,
            df,
            unknown_ethnicity,
            field_name="ethnicity",
            reading="not one of the 54 ethnic groups: left missing, flagged invalid_value "
            "with the closest official names (a warning)",
            outcome="warned",
        ),
        value_readings(
            name,
            df,
            head_written_otherwise(df["relation_to_head"]),
            field_name="relation_to_head",
            reading="head of household written otherwise (CH, Chủ hộ gia đình…) read as Chủ hộ",
            outcome="recovered",
        ),
    ]
    return Staged(
        contract.enforce(_without_sheet_lineage(df)),
        empty,
        _header_notes(df),
        readings=combine_readings(readings),
    )


def province_code_of(communes: pd.DataFrame) -> str:
    """The one province a landing folder covers; several is an error (one run, one province)."""
    codes = sorted(communes["province_code"].dropna().unique())
    if len(codes) != 1:
        raise LandingFileError(f"communes file covers provinces {codes}; expected exactly one")
    return str(codes[0])
