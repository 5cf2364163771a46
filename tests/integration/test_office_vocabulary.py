"""Headers and values as commune offices type them (issue 21, office vocabulary).

The clean synthetic province is rewritten the way offices write it (office headers, GIS
field names, "CH" heads, sex as M/F, decimal-comma coordinates under "Kinh độ (X)",
hamlet kinds as local names, households naming their hamlet instead of coding it) and
must stage, and publish, exactly the figures of the clean files.
"""

from __future__ import annotations

import itertools
import unicodedata
import zipfile
from pathlib import Path

import dagster as dg
import geopandas as gpd
import openpyxl
import pandas as pd
import pytest

from assets.quality.households import relation_kinds as quality_relation_kinds
from assets.raw.headers import header_lookup, lookup_header
from assets.raw.landing import Landing, LandingFileError, load_raw
from assets.staging.hamlet_names import resolve_hamlet_names
from assets.staging.normalise import parse_coordinates, read_hamlet_kinds, read_sexes
from assets.staging.tables import (
    stage_communes,
    stage_hamlets,
    stage_households,
    stage_persons,
)
from assets.warehouse import Warehouse
from expectations.schemas import FIELDS, LANDED_COLUMNS, header_key
from pipelines.runner import run_province
from pipelines.settings import Settings
from synthetic.province import synthesise_province

# --- 1. Headers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "header", "column"),
    [
        ("persons", "Họ và tên", "full_name"),
        ("persons", "Ngày, tháng, năm sinh", "birth_date"),
        ("persons", "Ngay thang nam sinh", "birth_date"),
        ("persons", "NGÀY THÁNG NĂM SINH", "birth_date"),
        ("persons", "Số định danh cá nhân", "citizen_id"),
        ("persons", "Số CCCD", "citizen_id"),
        ("persons", "Số hộ khẩu", "household_id"),
        ("persons", "Quan hệ với chủ hộ", "relation_to_head"),
        ("persons", "Quan_he_vo", "relation_to_head"),  # cut to 10 by a Shapefile
        ("persons", "Giới tính", "sex"),
        ("persons", "Dân tộc", "ethnicity"),
        ("households", "Mã hộ", "household_id"),
        ("households", "Kinh độ (X)", "longitude"),
        ("households", "Vĩ độ (Y)", "latitude"),
        ("households", "X", "longitude"),
        ("households", "y", "latitude"),
        ("households", "Lon", "longitude"),
        ("households", "LAT", "latitude"),
        ("households", "Mã thôn", "hamlet_code"),
        ("households", "Tên thôn", "hamlet_name"),
        ("households", "Thôn", "hamlet_name"),
        ("hamlet_boundaries", "MaThon", "hamlet_code"),
        ("hamlet_boundaries", "MATHON", "hamlet_code"),
        ("hamlet_boundaries", "MaXa", "commune_code"),
        ("hamlet_registry", "TenThon", "hamlet_name"),
        ("hamlet_registry", "Ten_thon_T", "hamlet_name"),
        ("hamlet_registry", "Loại thôn/TDP", "hamlet_kind"),
        ("communes", "MaTinh", "province_code"),
        ("communes", "TenXa", "commune_name"),
        ("communes", "LoaiDVHC", "unit_kind"),
        # The head's name in a households file is no contract column: it stays data.
        ("households", "Họ tên chủ hộ", None),
        ("persons", "Họ tên chủ hộ", None),
        ("persons", "Ho_ten_chu", None),
        ("persons", "STT", None),
    ],
)
def test_office_and_gis_headers_find_their_column(role, header, column):
    wanted, _ = LANDED_COLUMNS[role]
    assert lookup_header(header, header_lookup([FIELDS[n] for n in wanted])) == column


def test_header_keys_ignore_case_diacritics_punctuation_and_spacing():
    same = ["Ngày, tháng, năm sinh", "Ngay thang nam sinh", "NGÀY THÁNG NĂM SINH", "ngay_thang"]
    assert len({header_key(h) for h in same[:3]}) == 1
    assert header_key("MaThon") == header_key("Mã thôn") == header_key("MA_THON")
    assert header_key("Kinh độ (X)") == header_key("kinh do x")


def test_no_two_landed_fields_share_a_header():
    """A header an office types must name one column: no alias of one landed field is
    the key of another's."""
    names = sorted({n for wanted, _ in LANDED_COLUMNS.values() for n in wanted})
    owners: dict[str, set[str]] = {}
    for name in names:
        for key in FIELDS[name].header_keys:
            owners.setdefault(key, set()).add(name)
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}


# --- 2. Values -------------------------------------------------------------------------


def test_every_way_of_writing_the_head_is_the_head_in_staging_and_quality(tmp_path):
    relations = ["CH", "Chủ Hộ", "chủ hộ", "Chủ hộ gia đình", "CHỦ HỘ", "Vợ", "Con"]
    rows = [
        f"00409000{i:04d},Người Số {i},05/03/1990,Nam,H{i},{r},Tày" for i, r in enumerate(relations)
    ]
    header = (
        "Số định danh cá nhân,Họ và tên,Ngày sinh,Giới tính,Số hộ khẩu,Quan hệ với chủ hộ,Dân tộc"
    )
    (tmp_path / "persons.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    staged = stage_persons(load_raw(Landing(tmp_path).file("persons")))
    assert staged.table["is_household_head"].tolist() == [True] * 5 + [False] * 2
    kinds = quality_relation_kinds(staged.table["relation_to_head"])
    assert kinds.tolist() == ["head"] * 5 + ["spouse", "child"]
    readings = staged.readings.set_index("field_name")
    assert readings.loc["relation_to_head", "records"] == 2  # CH, Chủ hộ gia đình
    assert readings.loc["relation_to_head", "outcome"] == "recovered"


def test_sex_forms_are_read_and_what_is_not_is_counted(tmp_path):
    forms = ["Nam", "NỮ", "Nu", "nữ giới", "M", "f", "Male", "FEMALE", "1", "0", ""]
    sexes = read_sexes(pd.Series(forms))
    assert sexes["sex"].tolist()[:8] == ["nam", "nu", "nu", "nu", "nam", "nu", "nam", "nu"]
    assert sexes["sex"].iloc[8:].isna().all()  # numeric codes are not guessed
    rows = [
        f"00409000{i:04d},Người {i},05/03/1990,{s},H{i},Chủ hộ,Tày" for i, s in enumerate(forms)
    ]
    header = "Số ĐDCN,Họ tên,Ngày sinh,Giới tính,Mã hộ,Quan hệ,Dân tộc"
    (tmp_path / "persons.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    readings = stage_persons(load_raw(Landing(tmp_path).file("persons"))).readings
    by_outcome = readings[readings["field_name"] == "sex"].set_index("outcome")
    assert by_outcome.loc["recovered", "records"] == 4  # M, f, Male, FEMALE
    assert by_outcome.loc["quarantined", "records"] == 2  # "1" and "0"; blank is not read
    assert by_outcome.loc["quarantined", "first_row_number"] == 9
    assert "1" not in by_outcome.loc["quarantined", "reading"].replace("Nữ", "")


@pytest.mark.parametrize(
    ("x", "y"), [("Kinh độ (X)", "Vĩ độ (Y)"), ("X", "Y"), ("Lon", "Lat"), ("Kinh độ", "Vĩ độ")]
)
def test_coordinates_under_office_headers_with_decimal_commas(tmp_path, x, y):
    text = (
        f'Mã hộ,Mã thôn,"{x}","{y}"\n'
        'H1,0400101,"106,158526","22,663205"\n'
        "H2,0400101,106.192858,22.700274\n"
        'H3,0400101,"1.234,5","22,7"\n'  # grouped: not read as degrees
    )
    (tmp_path / "households.csv").write_text(text, encoding="utf-8")
    staged = stage_households(load_raw(Landing(tmp_path).file("households")))
    assert staged.table["longitude"].tolist()[:2] == [106.158526, 106.192858]
    assert staged.table["latitude"].tolist() == [22.663205, 22.700274, 22.7]
    assert pd.isna(staged.table["longitude"].iloc[2])
    readings = staged.readings.set_index(["field_name", "outcome"])["records"].to_dict()
    assert readings == {
        ("latitude", "recovered"): 2,
        ("longitude", "recovered"): 1,
        ("longitude", "quarantined"): 1,
    }


def test_a_comma_is_only_ever_a_decimal_mark():
    read = parse_coordinates(pd.Series(["105,5", "105.5", "1,234,567", "105.123.456", " -8,25 "]))
    assert read["value"].iloc[[0, 1, 4]].tolist() == [105.5, 105.5, -8.25]
    assert read["how"].tolist()[:4] == ["decimal_comma", pd.NA, "unreadable", "unreadable"]


@pytest.mark.parametrize(
    ("written", "kind", "how"),
    [
        ("thôn", "thon", "legal"),
        ("THÔN", "thon", "legal"),
        ("Xóm", "thon", "local"),
        ("Bản", "thon", "local"),
        ("Làng", "thon", "local"),
        ("Ấp", "thon", "local"),
        ("Buôn", "thon", "local"),
        ("Thôn, xóm, bản", "thon", "legal"),
        ("Thôn/Xóm", "thon", "legal"),
        ("TDP", "to_dan_pho", "legal"),
        ("tổ dân phố", "to_dan_pho", "legal"),
        ("Tổ", "to_dan_pho", "local"),
        ("Khu phố", "to_dan_pho", "local"),
        ("Khối", "to_dan_pho", "local"),
        ("Khu", None, "unknown"),  # a thôn in some provinces, a TDP in others
        ("Thôn/TDP", None, "unknown"),
    ],
)
def test_hamlet_kinds_as_typed(written, kind, how):
    read = read_hamlet_kinds(pd.Series([written]))
    assert (None if pd.isna(read["hamlet_kind"].iloc[0]) else read["hamlet_kind"].iloc[0]) == kind
    assert read["how"].iloc[0] == how


def test_a_kind_the_registry_does_not_say_is_the_communes_or_the_row_is_rejected(provinces):
    landing = Landing(provinces[0])
    communes = stage_communes(load_raw(landing.file("communes"))).table
    boundaries = load_raw(landing.file("hamlet_boundaries"))
    registry = load_raw(landing.file("hamlet_registry"))
    registry.loc[0, "hamlet_kind"] = "Khu"  # a TDP of the phường 04001
    registry.loc[3, "hamlet_kind"] = "Thôn/TDP"  # a thôn of a xã
    staged = stage_hamlets(boundaries, registry, communes)
    kinds = staged.table.set_index("hamlet_code")["hamlet_kind"]
    assert kinds[registry.loc[0, "hamlet_code"]] == "to_dan_pho"
    assert kinds[registry.loc[3, "hamlet_code"]] == "thon"
    warned = staged.readings[staged.readings["outcome"] == "warned"]
    assert warned[["field_name", "records", "first_row_number"]].values.tolist() == [
        ["hamlet_kind", 2, 1]
    ]
    # Without the communes nothing decides it: both rows are rejected, with their boundary.
    alone = stage_hamlets(boundaries, registry)
    assert len(alone.table) == len(staged.table) - 2
    assert alone.rejected["field_name"].tolist() == ["hamlet_kind"] * 4
    assert alone.rejected["reason"].str.contains("kind").all()
    assert alone.readings.set_index("outcome").loc["quarantined", "records"] == 2


# --- 3. Hamlets named instead of coded ---------------------------------------------------

REGISTRY = pd.DataFrame(
    {
        "hamlet_code": ["A1", "A2", "A3", "A4", "B1", "B2"],
        "commune_code": ["04001", "04001", "04001", "04001", "04002", "04002"],
        "name_prefix": ["Thôn", "Xóm", "Tổ dân phố", "Thôn", "Thôn", "Xóm"],
        "hamlet_name": ["Cốc Chang", "5", "5", "Hòa Bình", "Cốc Chang", "Nà Rẻo"],
    }
)


@pytest.mark.parametrize(
    ("written", "commune", "code", "resolution"),
    [
        ("Thôn Cốc Chang", "04001", "A1", "resolved"),
        ("thôn Cốc chang", "04001", "A1", "resolved"),
        (unicodedata.normalize("NFD", "Cốc Chang"), "04001", "A1", "resolved"),
        ("Thôn Hoà Bình", "04001", "A4", "resolved"),  # old tone placement
        ("Tổ dân phố số 05", "04001", None, "ambiguous"),  # Xóm 5 and TDP 5 in 04001
        ("Xóm Nà Reo", None, "B2", "resolved_without_diacritics"),
        ("Thôn Cốc Chang", None, None, "ambiguous"),  # two communes, none given
        ("Thôn Cốc Chang", "04002", "B1", "resolved"),
        ("Thôn Mới", "04001", None, "unknown"),
    ],
)
def test_hamlet_names_resolve_within_the_commune(written, commune, code, resolution):
    got = resolve_hamlet_names(pd.Series([written]), pd.Series([commune]), REGISTRY).iloc[0]
    assert (None if pd.isna(got["hamlet_code"]) else got["hamlet_code"]) == code
    assert got["resolution"] == resolution


def test_roman_and_padded_numbers_resolve():
    registry = REGISTRY.assign(name_prefix=["Thôn", "Xóm", "Thôn", "Thôn", "Thôn", "Xóm"])
    registry.loc[2, "hamlet_name"] = "3"  # Thôn 3 beside Xóm 5
    names = pd.Series(["TDP V", "Xóm 05", "Thôn III", "tổ dân phố số 03"])
    got = resolve_hamlet_names(names, pd.Series(["04001"] * 4), registry)
    assert got["hamlet_code"].tolist() == ["A2", "A2", "A3", "A3"]


def test_ambiguous_and_unknown_names_are_rejected_with_the_candidates(tmp_path):
    text = (
        "Mã hộ,Thôn,Kinh độ,Vĩ độ\n"
        "H1,Thôn Cốc Chang,106.1,22.6\n"  # in two communes; the file gives none
        "H2,Xóm Nà Rẻo,106.1,22.6\n"
        "H3,Thôn Cốc Chanh,106.1,22.6\n"  # in no commune
    )
    (tmp_path / "households.csv").write_text(text, encoding="utf-8")
    staged = stage_households(load_raw(Landing(tmp_path).file("households")), REGISTRY)
    assert staged.table["hamlet_code"].tolist() == ["B2"]
    rejected = staged.rejected.set_index("source_row_number")
    assert rejected.loc[1, "field_name"] == "hamlet_name"
    assert (
        "fits 2 hamlets of the province: Thôn Cốc Chang (A1), Thôn Cốc Chang (B1)"
        in (rejected.loc[1, "reason"])
    )
    assert "not in the hamlet registry" in rejected.loc[3, "reason"]
    assert "closest: Thôn Cốc Chang (A1), Thôn Cốc Chang (B1)" in rejected.loc[3, "reason"]
    readings = staged.readings.set_index("outcome")["records"].to_dict()
    assert readings == {"recovered": 1, "quarantined": 2}


def test_a_households_file_without_code_or_name_is_refused(tmp_path):
    (tmp_path / "households.csv").write_text("Mã hộ,Ghi chú\nH1,x\n", encoding="utf-8")
    with pytest.raises(LandingFileError, match="'Mã thôn/TDP' \\(hamlet_code\\) or 'Tên thôn/TDP'"):
        load_raw(Landing(tmp_path).file("households"))


# --- 4. A whole province as offices make it ----------------------------------------------

THON_FORMS = itertools.cycle(["thôn", "THÔN", "Xóm", "Bản", "Thôn, xóm, bản", "Thôn/Xóm"])
TDP_FORMS = itertools.cycle(["TDP", "Tổ", "tổ dân phố", "Khu phố"])
HEAD_FORMS = itertools.cycle(["CH", "Chủ Hộ", "chủ hộ", "Chủ hộ gia đình"])
SEX_FORMS = {
    "Nam": itertools.cycle(["Nam", "M", "NAM", "Male"]),
    "Nữ": itertools.cycle(["Nu", "F", "nữ", "Female"]),
}


def _named_as_offices_write(prefix: str, name: str, i: int) -> str:
    """A registry hamlet name ("Tổ dân phố 2", "Xóm Phúc Trung") as a clerk types it."""
    if prefix == "Tổ dân phố":
        roman = {"1": "I", "2": "II", "3": "III", "4": "IV", "5": "V"}.get(name, name)
        return [f"TDP {roman}", f"Tổ dân phố số {int(name):02d}", f"tổ dân phố {name}"][i % 3]
    return [f"{prefix} {name}", f"{prefix.lower()} {name}", unicodedata.normalize("NFD", name)][
        i % 3
    ]


def _office_province(clean: Path, office: Path) -> None:
    """The clean landing folder rewritten as offices write it."""
    office.mkdir(parents=True)
    communes = gpd.read_file(clean / "communes.geojson")
    communes = communes.rename(
        columns={
            "commune_code": "MaXa",
            "name": "TenXa",
            "unit_kind": "LoaiDVHC",
            "province_code": "MaTinh",
        }
    )[["MaXa", "TenXa", "LoaiDVHC", "MaTinh", "geometry"]]
    communes.to_file(office / "communes.geojson", driver="GeoJSON", engine="pyogrio")

    boundaries = gpd.read_file(clean / "hamlet_boundaries.gpkg").rename(
        columns={"hamlet_code": "MaThon", "commune_code": "MaXa"}
    )
    shp = office / "shp"
    shp.mkdir()
    boundaries.to_file(shp / "hamlet_boundaries.shp", engine="pyogrio")
    with zipfile.ZipFile(office / "hamlet_boundaries.zip", "w") as archive:
        for part in sorted(shp.iterdir()):
            archive.write(part, part.name)
    for part in shp.iterdir():
        part.unlink()
    shp.rmdir()

    registry = pd.read_excel(clean / "hamlet_registry.xlsx", dtype=str, keep_default_na=False)
    registry["Loại"] = [
        next(THON_FORMS) if kind == "Thôn" else next(TDP_FORMS) for kind in registry["Loại"]
    ]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Mã xã", "Tên xã", "Mã thôn", "Tên thôn", "Loại thôn/TDP", "Tổng số hộ",
                  "Tổng số nhân khẩu", "Diện đặc thù"])  # fmt: skip
    for row in registry.itertuples(index=False):
        sheet.append(list(row))
    book.save(office / "hamlet_registry.xlsx")

    names = registry.set_index("Mã thôn/TDP")["Tên thôn/TDP"]
    commune_of = registry.set_index("Mã thôn/TDP")["Mã xã"]
    households = pd.read_csv(clean / "households.csv", dtype=str, encoding="utf-8-sig")
    heads = pd.read_csv(clean / "persons.csv", dtype=str, encoding="utf-8-sig")
    heads = heads[heads["Quan hệ với chủ hộ"] == "Chủ hộ"].set_index("Mã hộ")["Họ và tên"]
    written = []
    for i, code in enumerate(households["Mã thôn/TDP"]):
        prefix, _, rest = names[code].partition(" ")
        if names[code].startswith("Tổ dân phố"):
            prefix, rest = "Tổ dân phố", names[code].removeprefix("Tổ dân phố ")
        written.append(_named_as_offices_write(prefix, rest, i))
    pd.DataFrame(
        {
            "Số hộ khẩu": households["Mã hộ"],
            "Họ tên chủ hộ": households["Mã hộ"].map(heads),
            "Mã xã": households["Mã thôn/TDP"].map(commune_of),
            "Thôn": written,
            "Kinh độ (X)": households["Kinh độ"].str.replace(".", ",", regex=False),
            "Vĩ độ (Y)": households["Vĩ độ"].str.replace(".", ",", regex=False),
        }
    ).to_csv(office / "households.csv", index=False, encoding="utf-8")

    persons = pd.read_csv(clean / "persons.csv", dtype=str, encoding="utf-8-sig")
    persons["Quan hệ với chủ hộ"] = [
        next(HEAD_FORMS) if r == "Chủ hộ" else r for r in persons["Quan hệ với chủ hộ"]
    ]
    persons["Giới tính"] = [next(SEX_FORMS[s]) for s in persons["Giới tính"]]
    persons.columns = [
        "Số định danh cá nhân",
        "Họ và tên",
        "Ngày, tháng, năm sinh",
        "Giới tính",
        "Số hộ khẩu",
        "Quan hệ với chủ hộ",
        "Dân tộc",
    ]
    persons.to_csv(office / "persons.csv", index=False, encoding="utf-8")


@pytest.fixture(scope="module")
def provinces(tmp_path_factory) -> tuple[Path, Path]:
    """Landing roots of a clean province (a phường with numbered TDP, xã with named
    thôn/xóm) and of the same province as offices write it."""
    clean = tmp_path_factory.mktemp("clean") / "04"
    synthesise_province(
        clean, seed=5, households=800, n_communes=4, error_rate=0.0, geometry_errors=False
    )
    office = tmp_path_factory.mktemp("office") / "04"
    _office_province(clean, office)
    return clean, office


def _stage(folder: Path) -> dict:
    landing = Landing(folder)
    communes = stage_communes(load_raw(landing.file("communes")))
    hamlets = stage_hamlets(
        load_raw(landing.file("hamlet_boundaries")),
        load_raw(landing.file("hamlet_registry")),
        communes.table,
    )
    households = stage_households(load_raw(landing.file("households")), hamlets.table)
    persons = stage_persons(load_raw(landing.file("persons")))
    return {"communes": communes, "hamlets": hamlets, "households": households, "persons": persons}


def test_an_office_province_stages_as_the_clean_one(provinces):
    clean, office = (_stage(p) for p in provinces)
    for table in clean:
        assert office[table].rejected.empty, office[table].rejected
    columns = {
        "communes": ["commune_code", "commune_name", "unit_kind", "province_code", "area_km2"],
        "hamlets": [
            "hamlet_code",
            "commune_code",
            "name_prefix",
            "hamlet_name",
            "hamlet_kind",
            "declared_households",
            "declared_population",
            "area_km2",
        ],
        "households": ["household_id", "hamlet_code", "longitude", "latitude"],
        "persons": [
            "citizen_id",
            "full_name",
            "birth_date",
            "sex",
            "household_id",
            "is_household_head",
            "ethnicity",
        ],
    }
    for table, kept in columns.items():
        got = office[table].table[kept].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, clean[table].table[kept].reset_index(drop=True))
    households = clean["households"].table
    assert households["longitude"].notna().all() and households["latitude"].notna().all()
    heads = clean["persons"].table["is_household_head"]
    assert heads.sum() == len(households)
    kinds = set(clean["hamlets"].table["hamlet_kind"])
    assert kinds == {"thon", "to_dan_pho"}

    # Each way of reading is counted once per file and field, none quietly.
    readings = pd.concat([office[t].readings for t in office if office[t].readings is not None])
    counts = readings.set_index(["field_name", "outcome"])["records"].to_dict()
    persons_raw = pd.read_csv(provinces[1] / "persons.csv", dtype=str)
    assert (
        counts[("relation_to_head", "recovered")]
        == persons_raw["Quan hệ với chủ hộ"].isin(["CH", "Chủ hộ gia đình"]).sum()
    )
    assert (
        counts[("sex", "recovered")]
        == persons_raw["Giới tính"].isin(["M", "Male", "F", "Female"]).sum()
    )
    assert counts[("hamlet_name", "recovered")] == len(households)
    assert (
        counts[("longitude", "recovered")] == counts[("latitude", "recovered")] == len(households)
    )
    assert counts[("hamlet_kind", "recovered")] > 0
    assert {o for (_, o) in counts} == {"recovered"}


def test_an_office_province_publishes_the_clean_figures(provinces, tmp_path):
    """Through the whole job: the office files publish the clean files' hamlets,
    kinds, household and population counts."""
    published = {}
    for label, folder in zip(("clean", "office"), provinces, strict=True):
        url = f"duckdb:///{tmp_path / label}.duckdb"
        settings = Settings(
            warehouse_url=url, landing_root=folder.parent, exports_dir=tmp_path / label
        )
        report = run_province(settings, instance=dg.DagsterInstance.ephemeral())
        assert report.success, report.errors
        published[label] = (
            Warehouse(url)
            .for_province("04")
            .query(
                "SELECT hamlet_code, hamlet_kind, households, population, compliance_status "
                "FROM marts.hamlets_current ORDER BY hamlet_code"
            )
        )
    pd.testing.assert_frame_equal(published["office"], published["clean"])
    assert published["clean"]["households"].sum() == 800
