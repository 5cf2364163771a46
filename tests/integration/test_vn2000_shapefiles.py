"""Zipped Shapefiles in VN-2000, as provincial GIS offices make them, publish right.

Every file is written here from the synthetic province's clean geometries: pyproj
transforms them to VN-2000 (TM-3 on the province's meridian, or UTM 48N), pyogrio
writes the Shapefile, the test writes the ``.prj`` text (GDAL's, an ArcGIS-style one
with a name of its own, hand-written WKT1 with the official TOWGS84 or with zeros, TM-3
declared on WGS 84, none at all), the DBF text in UTF-8, Windows-1258 or TCVN3 with or
without a ``.cpg``, and code fields as numbers; then zips them. Each must place every
hamlet within 1 m of the clean geometry (5 m where the datum had to be assumed, said
so in the metadata) and publish the clean files' figures.
"""

from __future__ import annotations

import shutil
import unicodedata
import zipfile
from pathlib import Path

import dagster as dg
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest

from assets.raw.encodings import decode_tcvn3, encode_tcvn3, encode_windows_1258
from assets.raw.landing import find_landing_file, load_raw
from assets.staging.tables import stage_communes, stage_hamlets
from assets.warehouse import Warehouse
from geodata.crs import STORAGE_CRS
from geodata.crs_detection import PROJECTED_CANDIDATES, to_storage_crs
from geodata.vn2000 import OFFICIAL_TOWGS84, province_meridians, tm3_meridians, vn2000_epsg
from pipelines.runner import run_province
from pipelines.settings import Settings
from synthetic.names import PROVINCES
from synthetic.province import synthesise_province

CAO_BANG_TM3 = "EPSG:9210"  # VN-2000 / TM-3 105-45, Cao Bằng's meridian
VN2000_UTM_48N = "EPSG:3405"
_OFFICIAL = ",".join(f"{v:.9g}" for v in OFFICIAL_TOWGS84)


def _wkt1(name: str, meridian: float, scale: float, towgs84: str | None, datum: str) -> str:
    """A hand-written WKT1 .prj, as surveyors type them."""
    shift = f",TOWGS84[{towgs84}]" if towgs84 is not None else ""
    return (
        f'PROJCS["{name}",GEOGCS["{datum}",DATUM["{datum}",'
        f'SPHEROID["WGS 84",6378137,298.257223563]{shift}],PRIMEM["Greenwich",0],'
        'UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
        f'PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",{meridian}],'
        f'PARAMETER["scale_factor",{scale}],PARAMETER["false_easting",500000],'
        'PARAMETER["false_northing",0],UNIT["metre",1]]'
    )


ESRI_NAMED = (
    'PROJCS["VN_2000_KT105_45_3do",GEOGCS["GCS_VN_2000",DATUM["D_Vietnam_2000",'
    'SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
    'PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",105.75],PARAMETER["Scale_Factor",0.9999],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)
GDAL = None  # keep the .prj pyogrio/GDAL writes
NO_PRJ = ""

# kind -> (CRS the coordinates are in, .prj text, the datum had to be assumed)
PRJ_KINDS: dict[str, tuple[str, str | None, bool]] = {
    "gdal_tm3": (CAO_BANG_TM3, GDAL, False),
    "gdal_utm48": (VN2000_UTM_48N, GDAL, False),
    "esri_named": (CAO_BANG_TM3, ESRI_NAMED, False),
    "wkt1_official": (
        CAO_BANG_TM3,
        _wkt1("VN2000 Cao Bang", 105.75, 0.9999, _OFFICIAL, "VN-2000"),
        False,
    ),
    "wkt1_official_utm": (
        VN2000_UTM_48N,
        _wkt1("VN2000 UTM 48N", 105, 0.9996, _OFFICIAL, "VN-2000"),
        False,
    ),
    "wkt1_zero_shift": (
        CAO_BANG_TM3,
        _wkt1("VN2000 Cao Bang", 105.75, 0.9999, "0,0,0,0,0,0,0", "Vietnam_2000"),
        True,
    ),
    "tm3_on_wgs84": (
        CAO_BANG_TM3,
        _wkt1("TM3 105-45", 105.75, 0.9999, None, "WGS_1984"),
        True,
    ),
    "no_prj": (CAO_BANG_TM3, NO_PRJ, True),
}


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    """The clean province (GeoJSON communes, GeoPackage hamlets in EPSG:4326)."""
    out = tmp_path_factory.mktemp("clean") / "04"
    synthesise_province(out, seed=11, households=1500, n_communes=4, geometry_errors=False)
    return out


@pytest.fixture(scope="module")
def clean_staged(clean) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    communes = stage_communes(load_raw(find_landing_file(clean, "communes"))).table
    hamlets = stage_hamlets(
        load_raw(find_landing_file(clean, "hamlet_boundaries")),
        load_raw(find_landing_file(clean, "hamlet_registry")),
        communes,
    ).table
    return communes, hamlets


def _zip_shapefile(
    gdf: gpd.GeoDataFrame,
    folder: Path,
    stem: str,
    *,
    crs: str,
    prj: str | None = GDAL,
    encode=str.encode,
    cpg: str | None = "UTF-8",
) -> Path:
    """``gdf`` in ``crs`` as ``<stem>.zip``: the .prj replaced by ``prj`` ("" drops
    it), text written as the bytes ``encode`` gives, ``.cpg`` as given (None: none)."""
    work = folder / f"_{stem}_parts"
    work.mkdir()
    frame = gdf.to_crs(crs)
    for column in frame.columns:
        if column != frame.geometry.name and frame[column].dtype == object:
            frame[column] = [encode(v).decode("latin-1") for v in frame[column]]
    frame.to_file(work / f"{stem}.shp", engine="pyogrio", encoding="ISO-8859-1")
    if prj is not None:
        (work / f"{stem}.prj").unlink()
        if prj:
            (work / f"{stem}.prj").write_text(prj, encoding="ascii")
    (work / f"{stem}.cpg").unlink(missing_ok=True)
    if cpg is not None:
        (work / f"{stem}.cpg").write_text(cpg, encoding="ascii")
    with zipfile.ZipFile(folder / f"{stem}.zip", "w") as archive:
        for part in sorted(work.iterdir()):
            archive.write(part, part.name)
    shutil.rmtree(work)
    return folder / f"{stem}.zip"


def _landing(clean: Path, folder: Path, communes: gpd.GeoDataFrame, hamlets: gpd.GeoDataFrame,
             **kinds) -> Path:  # fmt: skip
    """A province folder: the clean tabular files, communes and hamlets as Shapefiles
    (``kinds``: ``crs``, ``prj``, and per file ``communes_…``/``hamlets_…`` options)."""
    folder.mkdir(parents=True)
    for name in ("hamlet_registry.xlsx", "households.csv", "persons.csv"):
        shutil.copy(clean / name, folder / name)
    for stem, gdf in (("communes", communes), ("hamlet_boundaries", hamlets)):
        prefix = "communes_" if stem == "communes" else "hamlets_"
        options = {"prj": kinds.get("prj")}
        options |= {k.removeprefix(prefix): v for k, v in kinds.items() if k.startswith(prefix)}
        _zip_shapefile(gdf, folder, stem, crs=kinds["crs"], **options)
    return folder


def _clean_layers(clean: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    return gpd.read_file(clean / "communes.geojson"), gpd.read_file(
        clean / "hamlet_boundaries.gpkg"
    )


def _as_stored(raw: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The raw frame as staging gets it from the warehouse: coordinates as landed,
    labelled EPSG:4326 (``source_crs`` says what they are)."""
    return raw.set_crs(STORAGE_CRS, allow_override=True)


def _stage(folder: Path):
    communes = stage_communes(_as_stored(load_raw(find_landing_file(folder, "communes"))))
    hamlets = stage_hamlets(
        _as_stored(load_raw(find_landing_file(folder, "hamlet_boundaries"))),
        load_raw(find_landing_file(folder, "hamlet_registry")),
        communes.table,
    )
    return communes, hamlets


def _distance_m(placed: gpd.GeoDataFrame, truth: gpd.GeoDataFrame, key: str) -> pd.Series:
    """Hausdorff distance per feature, in metres (UTM 48N)."""
    truth = truth.set_index(key).to_crs(32648)
    placed = placed.set_index(key).to_crs(32648).reindex(truth.index)
    return truth.geometry.hausdorff_distance(placed.geometry)


# --- The meridian table and PROJ's definitions -----------------------------------------


def test_every_province_has_its_meridians_and_each_an_epsg_zone_with_the_official_shift():
    table = tm3_meridians()
    assert len(table) == 63 and table["former_province_code"].is_unique
    for code, info in PROVINCES.items():
        rows = table[table["province_code"] == code]
        assert sorted(rows["former_province_code"]) == sorted(info.old_codes), code
        assert province_meridians(code), code
    assert province_meridians("04") == (105.75,)  # DOMAIN.md: Cao Bằng 105°45'
    assert province_meridians("01") == (105.0,)  # Hà Nội 105°00'
    assert len(province_meridians("25")) == 3  # Phú Thọ + Vĩnh Phúc + Hòa Bình
    official = "+towgs84=" + ",".join(f"{v:.12g}" for v in OFFICIAL_TOWGS84)
    geod = pyproj.Geod(ellps="WGS84")
    for meridian in sorted(set(table["central_meridian_deg"])):
        zone = vn2000_epsg(meridian)
        assert zone in PROJECTED_CANDIDATES, meridian
        explicit = (
            f"+proj=tmerc +lat_0=0 +lon_0={meridian} +k=0.9999 +x_0=500000 +y_0=0 "
            f"+ellps=WGS84 {official} +units=m +no_defs"
        )
        x, y = 530_000.0, 1_900_000.0
        by_epsg = pyproj.Transformer.from_crs(zone, STORAGE_CRS, always_xy=True)
        by_hand = pyproj.Transformer.from_crs(explicit, STORAGE_CRS, always_xy=True)
        (lon1, lat1), (lon2, lat2) = by_epsg.transform(x, y), by_hand.transform(x, y)
        assert geod.inv(lon1, lat1, lon2, lat2)[2] < 0.01, zone


# --- Every .prj form, communes and hamlets alike ------------------------------------------


@pytest.mark.parametrize("kind", sorted(PRJ_KINDS))
def test_each_prj_form_places_every_hamlet_within_a_metre(tmp_path, clean, clean_staged, kind):
    """Before: GDAL's own .prj and the ESRI-named one failed with a CRS mismatch once
    the raw layer came back from the warehouse, hand-written WKT1 failed likewise,
    zeros placed every hamlet ~224 m off, and communes without a .prj were refused."""
    crs, prj, assumed = PRJ_KINDS[kind]
    communes, hamlets = _clean_layers(clean)
    folder = _landing(clean, tmp_path / "04", communes, hamlets, crs=crs, prj=prj)
    staged_communes, staged_hamlets = _stage(folder)
    clean_communes, clean_hamlets = clean_staged
    limit = 5.0 if assumed else 1.0
    assert _distance_m(staged_communes.table, clean_communes, "commune_code").max() < limit
    assert _distance_m(staged_hamlets.table, clean_hamlets, "hamlet_code").max() < limit
    assert len(staged_hamlets.rejected) == 0
    areas = staged_hamlets.table.set_index("hamlet_code")["area_km2"]
    expected = clean_hamlets.set_index("hamlet_code")["area_km2"]
    assert np.allclose(areas.reindex(expected.index), expected, atol=1e-4)
    note = staged_communes.notes["crs"]
    if assumed:  # said so in the run's metadata
        assert note.startswith("assumed:"), note
        assert staged_hamlets.notes["crs"].startswith(("corrected:", "detected:"))
    else:
        assert note.startswith("declared:") and crs in note, note


def test_a_zero_shift_is_settled_by_the_communes_outline(tmp_path, clean, clean_staged):
    """TOWGS84 zeros over VN-2000 coordinates (the usual error) are corrected; over
    coordinates that really were computed with no shift, the .prj is right and kept.
    Before: both were read literally, the first ~224 m off."""
    clean_communes, _ = clean_staged
    _, hamlets = _clean_layers(clean)
    zero = _wkt1("VN2000 Cao Bang", 105.75, 0.9999, "0,0,0,0,0,0,0", "Vietnam_2000")
    for coordinates, expected in ((CAO_BANG_TM3, "corrected:"), (zero, "declared:")):
        folder = tmp_path / expected.rstrip(":")
        folder.mkdir()
        _zip_shapefile(hamlets, folder, "hamlet_boundaries", crs=coordinates, prj=zero)
        raw = _as_stored(load_raw(find_landing_file(folder, "hamlet_boundaries")))
        declared = raw["source_crs"].iloc[0]
        placed, resolved = to_storage_crs(
            raw.drop(columns="source_crs"), declared, reference=clean_communes
        )
        assert resolved.how.startswith(expected), resolved.how
        placed["hamlet_code"] = placed["hamlet_code"].astype("string")
        assert _distance_m(placed, hamlets, "hamlet_code").max() < 1.0


# --- DBF text and numeric codes ---------------------------------------------------


def _as_tcvn3(text: str) -> str:
    """What TCVN3 can carry (some toned capitals only in lower case)."""
    return decode_tcvn3(encode_tcvn3(text))


DBF_TEXT = {
    "utf8_with_cpg": (lambda t: t.encode("utf-8"), "UTF-8", "utf-8"),
    "utf8_without_cpg": (lambda t: t.encode("utf-8"), None, "utf-8"),
    "cp1258_with_cpg": (encode_windows_1258, "1258", "windows-1258"),
    "cp1258_without_cpg": (encode_windows_1258, None, "windows-1258"),
    "tcvn3_without_cpg": (encode_tcvn3, None, "tcvn3"),
    "tcvn3_under_a_wrong_cpg": (encode_tcvn3, "UTF-8", "tcvn3"),
}


@pytest.mark.parametrize("kind", sorted(DBF_TEXT))
def test_dbf_text_is_decoded_by_its_spelling_whatever_the_cpg(tmp_path, clean, kind):
    """Before: GDAL read a .cpg of 1258 through iconv, which drops each string's last
    letter (field names too: ``commune_co`` became ``commune_c``, so the file was
    refused), and TCVN3 or 1258 without a .cpg as Latin-1 mojibake, published."""
    encode, cpg, expected_encoding = DBF_TEXT[kind]
    communes, _ = _clean_layers(clean)
    _zip_shapefile(communes, tmp_path, "communes", crs=CAO_BANG_TM3, encode=encode, cpg=cpg)
    raw = load_raw(find_landing_file(tmp_path, "communes"))
    assert raw.attrs["landed_file"]["text_encoding"] == f"dbf: {expected_encoding}"
    staged = stage_communes(_as_stored(raw)).table.set_index("commune_code")
    names = communes.set_index("commune_code")["name"]
    if expected_encoding == "tcvn3":
        names = names.map(_as_tcvn3)
    assert staged["commune_name"].reindex(names.index).tolist() == names.tolist()
    assert all(unicodedata.is_normalized("NFC", n) for n in staged["commune_name"])


def test_numeric_code_fields_get_their_leading_zeros_back_only_where_certain(
    tmp_path, clean, clean_staged
):
    """``MaThon`` as N(10,0): ``04001001`` lands as ``4001001``. Before: every hamlet
    was rejected as having no registry row, and nothing was published."""
    communes, hamlets = _clean_layers(clean)
    numeric_communes = communes.assign(
        commune_code=communes["commune_code"].astype(int),
        province_code=communes["province_code"].astype(int),
    )
    numeric_hamlets = hamlets.assign(
        hamlet_code=hamlets["hamlet_code"].astype(int),
        commune_code=hamlets["commune_code"].astype(int),
    )
    # One code that no registry row and no commune code makes certain: left as landed.
    numeric_hamlets.loc[0, "hamlet_code"] = 999
    folder = _landing(clean, tmp_path / "04", numeric_communes, numeric_hamlets,
                      crs=CAO_BANG_TM3)  # fmt: skip
    raw = load_raw(find_landing_file(folder, "hamlet_boundaries"))
    assert raw["hamlet_code"].iloc[1] == str(int(hamlets["hamlet_code"].iloc[1]))  # as landed
    staged_communes, staged_hamlets = _stage(folder)
    clean_communes, clean_hamlets = clean_staged
    assert staged_communes.table["commune_code"].tolist() == clean_communes["commune_code"].tolist()
    assert set(staged_communes.table["province_code"]) == {"04"}
    expected = set(clean_hamlets["hamlet_code"]) - {hamlets["hamlet_code"].iloc[0]}
    assert set(staged_hamlets.table["hamlet_code"]) == expected
    rejected = staged_hamlets.rejected
    assert sorted(rejected["reason"].str.extract(r"hamlet_code (\S+)")[0]) == sorted(
        ["999", hamlets["hamlet_code"].iloc[0]]
    )
    readings = pd.concat([staged_communes.readings, staged_hamlets.readings])
    counted = readings.set_index("field_name")["records"].to_dict()
    assert counted == {
        "commune_code": len(communes),
        "province_code": len(communes),
        "hamlet_code": len(hamlets) - 1,
    }
    assert set(readings["outcome"]) == {"recovered"}


# --- The whole pipeline: the clean files' figures -----------------------------------------


def _publish(root: Path, tmp: Path) -> tuple[Warehouse, dg.DagsterInstance]:
    instance = dg.DagsterInstance.ephemeral()
    url = f"duckdb:///{tmp / 'w.duckdb'}"
    settings = Settings(warehouse_url=url, landing_root=root, exports_dir=tmp / "exports")
    report = run_province(settings, instance=instance)
    assert report.success, report.errors
    return Warehouse(url).for_province("04"), instance


def _figures(warehouse: Warehouse) -> dict[str, object]:
    hamlets = warehouse.read_table("marts.hamlets_current").sort_values("hamlet_code")
    options = warehouse.read_table("marts.merger_options_current")
    communes = warehouse.read_table("marts.commune_summary_current")
    return {
        "hamlets": hamlets[["hamlet_code", "households", "population", "compliance_status"]]
        .reset_index(drop=True)
        .to_dict("list"),
        "area_km2": hamlets["area_km2"].round(3).tolist(),
        "units": options.set_index(["commune_code", "option_name"])["units_after"]
        .sort_index()
        .to_dict(),
        "communes": communes.set_index("commune_code")[["hamlets", "households"]]
        .sort_index()
        .to_dict("index"),
    }


@pytest.fixture(scope="module")
def clean_published(tmp_path_factory, clean):
    root = tmp_path_factory.mktemp("clean_root")
    shutil.copytree(clean, root / "04")
    warehouse, _ = _publish(root, tmp_path_factory.mktemp("clean_run"))
    return warehouse


# TM-3: communes with an ArcGIS-named .prj and TCVN3 names without .cpg, hamlets with a
# zero TOWGS84, every code a number (UTM 48N, WKT1 with the official TOWGS84 and
# Windows-1258 under a .cpg are staged above, each alone).
MESSY_LANDING = dict(
    crs=CAO_BANG_TM3,
    communes_prj=ESRI_NAMED,
    communes_encode=encode_tcvn3,
    communes_cpg=None,
    hamlets_prj=_wkt1("VN2000", 105.75, 0.9999, "0,0,0,0,0,0,0", "Vietnam_2000"),
)


def test_vn2000_shapefiles_publish_the_clean_figures(
    tmp_path, clean, clean_published, clean_staged
):
    """Before: the run failed at staging/communes with a CRS mismatch."""
    communes, hamlets = _clean_layers(clean)
    communes["commune_code"] = communes["commune_code"].astype(int)
    hamlets["hamlet_code"] = hamlets["hamlet_code"].astype(int)
    hamlets["commune_code"] = hamlets["commune_code"].astype(int)
    root = tmp_path / "landing"
    _landing(clean, root / "04", communes, hamlets, **MESSY_LANDING)
    warehouse, instance = _publish(root, tmp_path)
    published = _figures(warehouse)
    assert published == _figures(clean_published)
    names = warehouse.read_table("marts.commune_summary_current").set_index("commune_code")
    expected = _clean_layers(clean)[0].set_index("commune_code")["name"].map(_as_tcvn3)
    assert names["commune_name"].reindex(expected.index).tolist() == expected.tolist()
    placed = warehouse.read_table("staging.hamlets")
    distance = _distance_m(placed, clean_staged[1], "hamlet_code")
    assert distance.max() < 5.0  # the shift was assumed, the communes' outline confirmed it
    event = instance.get_latest_materialization_event(dg.AssetKey(["staging", "hamlets"]))
    crs_note = event.asset_materialization.metadata["crs"].value
    assert crs_note.startswith("corrected:") and "TOWGS84 all zeros" in crs_note, crs_note
    recovered = event.asset_materialization.metadata["values_recovered"].value
    assert f"hamlet_code: {len(hamlets)} (leading zeros restored" in recovered
