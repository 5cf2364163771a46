"""The synthetic province generator: files, geometry, persons, calibration, planted errors."""

from __future__ import annotations

import difflib
import unicodedata
from collections import defaultdict
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from expectations.schemas import header_key
from synthetic.names import OLD_PROVINCE_CODES, PROVINCES
from synthetic.province import (
    COMMUNE_COLUMNS,
    ERROR_TYPE_NAMES,
    HOUSEHOLD_HEADERS,
    PERSON_HEADERS,
    REGISTRY_HEADERS,
    REGISTRY_SHEET,
    SynthesisSummary,
    synthesise_province,
)

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
CAO_BANG = REALDATA / "communes_04_cao_bang.geojson"
HUNG_YEN = REALDATA / "communes_33_hung_yen.geojson"
LANDING = (
    "communes.geojson",
    "hamlet_boundaries.gpkg",
    "hamlet_registry.xlsx",
    "households.csv",
    "persons.csv",
)
ERROR_RATE = 0.04
TEXT_FILES = (
    "communes.geojson",
    "households.csv",
    "persons.csv",
    "ground_truth/planted_errors.csv",
    "ground_truth/hamlets_truth.csv",
    "ground_truth/file_mess.csv",
)
# Error types the lead's integration test expects the pipeline to flag (test_pipeline.py).
PIPELINE_TYPES = {
    "citizen_id_malformed",
    "citizen_id_duplicate",
    "sex_missing",
    "birth_date_unparseable",
}
AS_OF = pd.Timestamp("2026-01-01")
METRE = 1 / 111_320  # degrees, roughly


def _read(out: Path) -> dict[str, pd.DataFrame]:
    """Read a landing folder the way a loader would: every code as text."""
    return {
        "communes": gpd.read_file(out / "communes.geojson"),
        "hamlets": gpd.read_file(out / "hamlet_boundaries.gpkg", layer="hamlets"),
        "registry": pd.read_excel(
            out / "hamlet_registry.xlsx", sheet_name=REGISTRY_SHEET, dtype=str
        ),
        "households": pd.read_csv(out / "households.csv", dtype={"Mã hộ": str, "Mã thôn/TDP": str}),
        "persons": pd.read_csv(out / "persons.csv", dtype=str, keep_default_na=False),
        "errors": pd.read_csv(out / "ground_truth/planted_errors.csv"),
        "truth": pd.read_csv(out / "ground_truth/hamlets_truth.csv", dtype={"hamlet_code": str}),
        "mess": pd.read_csv(out / "ground_truth/file_mess.csv"),
    }


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthesisSummary, dict]:
    out = tmp_path_factory.mktemp("clean")
    summary = synthesise_province(out, seed=7, households=2500, n_communes=5)
    return summary, _read(out)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthesisSummary, dict]:
    out = tmp_path_factory.mktemp("dirty")
    summary = synthesise_province(out, seed=7, households=2500, n_communes=5, error_rate=ERROR_RATE)
    return summary, _read(out)


def test_files_and_headers(clean: tuple[SynthesisSummary, dict]) -> None:
    summary, d = clean
    for name in LANDING:
        assert (summary.out_dir / name).is_file()
    assert {p.name for p in summary.files} >= {Path(n).name for n in LANDING + TEXT_FILES}
    for name in ("households.csv", "persons.csv"):
        assert (summary.out_dir / name).read_bytes().startswith(b"\xef\xbb\xbf")
    assert tuple(d["households"].columns) == HOUSEHOLD_HEADERS
    assert tuple(d["persons"].columns) == PERSON_HEADERS
    assert tuple(d["registry"].columns) == REGISTRY_HEADERS
    assert list(d["communes"].columns) == [*COMMUNE_COLUMNS, "geometry"]
    assert list(d["hamlets"].columns) == ["hamlet_code", "commune_code", "geometry"]
    assert list(d["errors"].columns) == ["file", "row", "field", "error_type"]
    assert d["errors"].empty  # error_rate = 0: header only
    assert list(d["mess"].columns) == ["file", "kind", "detail"]
    assert set(zip(d["mess"]["file"], d["mess"]["kind"], strict=True)) == {
        ("households.csv", "utf8_bom"),
        ("persons.csv", "utf8_bom"),
    }
    assert list(d["truth"].columns) == ["hamlet_code", "households", "population"]
    assert (summary.communes, summary.hamlets) == (len(d["communes"]), len(d["hamlets"]))
    assert (summary.households, summary.persons) == (2500, len(d["persons"]))
    assert summary.file_mess == 0
    assert set(summary.timings) >= {"hamlets", "persons", "errors", "write"}


def test_communes_generated(clean: tuple[SynthesisSummary, dict]) -> None:
    _, d = clean
    c = d["communes"]
    assert c.crs.to_epsg() == 4326
    assert c["commune_code"].tolist() == [f"04{i:03d}" for i in range(1, 6)]
    assert set(c["province_code"]) == {"04"}
    assert (c["unit_kind"] == "phuong").sum() >= 1
    assert set(c["unit_kind"]) <= {"xa", "phuong"}
    prefix = np.where(c["unit_kind"] == "phuong", "Phường ", "Xã ")
    assert (c["full_name"] == prefix + c["name"]).all()
    assert c["name"].is_unique
    assert c["area_km2"].between(40, 250).all()  # mountain communes, ~60-150 km²
    # Placed roughly where Cao Bằng is.
    centre = shapely.centroid(shapely.union_all(c.geometry.array))
    info = PROVINCES["04"]
    assert abs(centre.x - info.lon) < 0.3 and abs(centre.y - info.lat) < 0.3
    # Communes tile without overlaps.
    geoms = c.geometry.to_numpy()
    assert abs(shapely.area(geoms).sum() - shapely.union_all(geoms).area) < 1e-9


def _assert_tessellation(communes: gpd.GeoDataFrame, hamlets: gpd.GeoDataFrame) -> None:
    assert hamlets.crs.to_epsg() == 4326
    assert set(hamlets.geom_type) <= {"Polygon", "MultiPolygon"}
    assert not hamlets.geometry.is_empty.any() and hamlets.geometry.is_valid.all()
    assert hamlets["hamlet_code"].is_unique
    assert (hamlets["hamlet_code"].str[:5] == hamlets["commune_code"]).all()
    assert hamlets["hamlet_code"].str.fullmatch(r"\d{8}").all()
    assert set(hamlets["commune_code"]) == set(communes["commune_code"])
    for code, group in hamlets.groupby("commune_code"):
        commune = communes.loc[communes["commune_code"] == code].geometry.iloc[0]
        geoms = group.geometry.to_numpy()
        union = shapely.union_all(geoms)
        assert shapely.symmetric_difference(union, commune).area / commune.area < 1e-4, code
        outside = shapely.area(shapely.difference(geoms, commune)) / commune.area
        assert outside.max() < 1e-9, code
        tree = shapely.STRtree(geoms)
        left, right = tree.query(geoms, predicate="intersects")
        keep = left < right
        overlap = shapely.area(shapely.intersection(geoms[left[keep]], geoms[right[keep]])).sum()
        assert overlap / commune.area < 1e-9, code


def test_hamlets_tessellate_communes(clean: tuple[SynthesisSummary, dict]) -> None:
    _, d = clean
    _assert_tessellation(d["communes"], d["hamlets"])


def test_households_inside_their_hamlet(clean: tuple[SynthesisSummary, dict]) -> None:
    _, d = clean
    hh, hamlets = d["households"], d["hamlets"].set_index("hamlet_code")
    assert hh["Mã hộ"].is_unique
    assert hh["Mã thôn/TDP"].isin(hamlets.index).all()
    assert (hh["Mã hộ"].str.split("-").str[0] == hh["Mã thôn/TDP"]).all()
    geoms = hamlets.geometry.loc[hh["Mã thôn/TDP"]].to_numpy()
    assert shapely.contains_xy(geoms, hh["Kinh độ"], hh["Vĩ độ"]).all()


def test_records_consistent_and_one_head(clean: tuple[SynthesisSummary, dict]) -> None:
    _, d = clean
    p, hh, truth = d["persons"], d["households"], d["truth"]
    assert p["Mã hộ"].isin(hh["Mã hộ"]).all()
    assert hh["Mã hộ"].isin(p["Mã hộ"]).all()
    heads = p.assign(head=p["Quan hệ với chủ hộ"] == "Chủ hộ").groupby("Mã hộ")["head"].sum()
    assert (heads == 1).all()
    assert set(p["Quan hệ với chủ hộ"]) <= {
        "Chủ hộ", "Vợ", "Chồng", "Con", "Cháu", "Bố", "Mẹ", "Anh", "Chị", "Em"
    }  # fmt: skip
    assert set(p["Giới tính"]) == {"Nam", "Nữ"}
    hamlet_of = hh.set_index("Mã hộ")["Mã thôn/TDP"]
    counted = pd.DataFrame(
        {
            "households": hh.groupby("Mã thôn/TDP").size(),
            "population": p["Mã hộ"].map(hamlet_of).value_counts(),
        }
    )
    expected = truth.set_index("hamlet_code")[["households", "population"]]
    pd.testing.assert_frame_equal(
        counted.loc[expected.index], expected, check_names=False, check_dtype=False
    )
    assert set(truth["hamlet_code"]) == set(d["hamlets"]["hamlet_code"])


def test_persons_plausible(clean: tuple[SynthesisSummary, dict]) -> None:
    _, d = clean
    p = d["persons"]
    birth = pd.to_datetime(p["Ngày sinh"], format="%d/%m/%Y")
    age = (pd.Timestamp("2026-01-01") - birth).dt.days / 365.2425
    rel = p["Quan hệ với chủ hộ"]
    assert age[rel == "Chủ hộ"].between(19.99, 86).all()
    assert age.between(0, 100).all()
    head_age = age.where(rel == "Chủ hộ").groupby(p["Mã hộ"]).transform("max")
    gap = head_age - age
    assert gap[rel == "Con"].between(17.9, 40.1).all()
    assert gap[rel == "Cháu"].between(37.9, 70.1).all()
    assert (gap[rel.isin(["Vợ", "Chồng"])].abs() < 12).all()
    assert (p.loc[rel.isin(["Vợ", "Mẹ", "Chị"]), "Giới tính"] == "Nữ").all()
    assert (p.loc[rel.isin(["Chồng", "Bố", "Anh"]), "Giới tính"] == "Nam").all()
    assert 3.6 < p.groupby("Mã hộ").size().mean() < 4.4  # mountains: ~4 persons
    names = p["Họ và tên"]
    assert (names == names.map(lambda s: unicodedata.normalize("NFC", s))).all()
    assert names.str.split().str.len().ge(3).all()
    shares = p["Dân tộc"].value_counts(normalize=True)
    assert shares.get("Tày", 0) + shares.get("Nùng", 0) > 0.5


def test_citizen_ids_match_sex_and_birth_year(clean: tuple[SynthesisSummary, dict]) -> None:
    _, d = clean
    p = d["persons"]
    cid = p["Số ĐDCN"]
    assert cid.str.fullmatch(r"\d{12}").all() and cid.is_unique
    year = p["Ngày sinh"].str[-4:].astype(int)
    female = (p["Giới tính"] == "Nữ").astype(int)
    expected_g = (year // 100 - 19) * 2 + female
    assert (cid.str[3].astype(int) == expected_g).all()
    assert (cid.str[4:6].astype(int) == year % 100).all()
    assert cid.str[0].eq("0").all()
    assert cid.str[1:3].isin(OLD_PROVINCE_CODES).all()
    own = cid.str[:3].eq("004").mean()
    assert 0.85 < own < 0.99  # mostly born in the province, some elsewhere


def test_registry(clean: tuple[SynthesisSummary, dict]) -> None:
    summary, d = clean
    r, c, truth = d["registry"], d["communes"], d["truth"]
    wb = openpyxl.load_workbook(summary.out_dir / "hamlet_registry.xlsx")
    assert wb.sheetnames == [REGISTRY_SHEET]
    ws = wb[REGISTRY_SHEET]
    assert all(ws.cell(row=2, column=col).data_type == "s" for col in (1, 3))
    assert r["Mã thôn/TDP"].tolist() == d["hamlets"]["hamlet_code"].tolist()
    kind = r["Mã xã"].map(c.set_index("commune_code")["unit_kind"])
    assert ((kind == "phuong") == (r["Loại"] == "Tổ dân phố")).all()
    assert (r.loc[kind == "xa", "Loại"] == "Thôn").all()
    tdp = r.loc[r["Loại"] == "Tổ dân phố", "Tên thôn/TDP"]
    assert tdp.str.fullmatch(r"(Tổ dân phố( số)?|Khu phố|Tổ) \d+").all()
    thon = r.loc[r["Loại"] == "Thôn", "Tên thôn/TDP"]
    assert thon.str.split().str[0].isin(["Xóm", "Bản", "Thôn"]).all()
    assert r.groupby("Mã xã")["Tên thôn/TDP"].apply(lambda s: s.is_unique).all()
    merged = r.merge(truth, left_on="Mã thôn/TDP", right_on="hamlet_code")
    # Without planted errors the declared figures are the records' own.
    assert (merged["Số hộ"].astype(int) == merged["households"]).all()
    assert (merged["Số nhân khẩu"].astype(int) == merged["population"]).all()
    assert r.loc[r["Loại"] == "Tổ dân phố", "Diện đặc thù"].isna().all()


def test_deterministic(dirty: tuple[SynthesisSummary, dict], tmp_path: Path) -> None:
    first, d = dirty
    second = synthesise_province(
        tmp_path, seed=7, households=2500, n_communes=5, error_rate=ERROR_RATE
    )
    for name in (*TEXT_FILES, "hamlet_registry.xlsx", "hamlet_boundaries.gpkg"):
        assert (first.out_dir / name).read_bytes() == (tmp_path / name).read_bytes(), name
    again = _read(tmp_path)
    pd.testing.assert_frame_equal(again["registry"], d["registry"])
    pd.testing.assert_frame_equal(again["hamlets"], d["hamlets"])
    assert second.out_dir == tmp_path
    assert (second.hamlets, second.persons, second.planted_errors) == (
        first.hamlets,
        first.persons,
        first.planted_errors,
    )


def test_seed_changes_data(clean: tuple[SynthesisSummary, dict], tmp_path: Path) -> None:
    other = synthesise_province(tmp_path, seed=8, households=2500, n_communes=5)
    assert (other.out_dir / "persons.csv").read_bytes() != (
        clean[0].out_dir / "persons.csv"
    ).read_bytes()


def _planted(d: dict) -> defaultdict[tuple[str, str], np.ndarray]:
    """0-based rows of each (file, error_type) in the manifest (none: an empty array)."""
    err = d["errors"]
    rows: defaultdict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.array([], int))
    for (f, k), g in err.groupby(["file", "error_type"]):
        rows[f, k] = g["row"].to_numpy() - 1
    return rows


def test_manifest_lists_every_type_once_per_row(dirty: tuple[SynthesisSummary, dict]) -> None:
    summary, d = dirty
    err = d["errors"]
    assert list(err.columns) == ["file", "row", "field", "error_type"]
    assert summary.planted_errors == len(err)
    assert set(err["error_type"]) == set(ERROR_TYPE_NAMES)
    assert not err.duplicated(["file", "row"]).any()  # one error per row / feature
    assert set(err["file"]) == {
        "persons.csv",
        "households.csv",
        "hamlet_registry.xlsx",
        "hamlet_boundaries.gpkg",
    }
    n = {
        "persons.csv": len(d["persons"]),
        "households.csv": len(d["households"]),
        "hamlet_registry.xlsx": len(d["registry"]),
        "hamlet_boundaries.gpkg": len(d["hamlets"]),
    }
    assert (err["row"] >= 1).all() and (err["row"] <= err["file"].map(n)).all()
    # error_rate is the share of person rows given an error (each type at least once).
    persons = err["file"] == "persons.csv"
    assert abs(persons.sum() - ERROR_RATE * len(d["persons"])) <= 12
    assert err.loc[persons, "error_type"].isin(PIPELINE_TYPES).sum() >= 4


def _person_frame(p: pd.DataFrame) -> pd.DataFrame:
    """Derived columns of a persons file for the checks below."""
    birth = pd.to_datetime(p["Ngày sinh"], format="%d/%m/%Y", errors="coerce")
    cid = p["Số ĐDCN"]
    well_formed = cid.str.fullmatch(r"\d{12}")
    g = pd.to_numeric(cid.str[3].where(well_formed), errors="coerce")
    yy = pd.to_numeric(cid.str[4:6].where(well_formed), errors="coerce")
    female = (p["Giới tính"] == "Nữ").astype(int)
    head = p["Quan hệ với chủ hộ"] == "Chủ hộ"
    return pd.DataFrame(
        {
            "birth": birth,
            "age": (AS_OF - birth).dt.days / 365.2425,
            "well_formed": well_formed,
            "century_ok": g // 2 == birth.dt.year // 100 - 19,
            "sex_ok": (g % 2 == female) & p["Giới tính"].isin(["Nam", "Nữ"]),
            "year_ok": yy == birth.dt.year % 100,
            "head": head,
            "heads": head.groupby(p["Mã hộ"]).transform("sum"),
        }
    )


def test_planted_person_errors_are_in_the_file(dirty: tuple[SynthesisSummary, dict]) -> None:
    _, d = dirty
    p = d["persons"]
    f = _person_frame(p)
    planted = _planted(d)
    at = {k: planted["persons.csv", k] for k in ERROR_TYPE_NAMES}
    assert not f["well_formed"].iloc[at["citizen_id_malformed"]].any()
    century = at["citizen_id_bad_century_digit"]
    assert f["well_formed"].iloc[century].all()
    assert p["Số ĐDCN"].iloc[century].str[3].isin(list("456789")).all()
    sex = at["citizen_id_sex_mismatch"]
    assert (f["century_ok"] & f["year_ok"] & ~f["sex_ok"]).iloc[sex].all()
    year = at["citizen_id_year_mismatch"]
    assert (f["century_ok"] & f["sex_ok"] & ~f["year_ok"]).iloc[year].all()
    # The same person (ID, name, birth, sex) in another household.
    same = ["Số ĐDCN", "Họ và tên", "Ngày sinh", "Giới tính"]
    for i in at["citizen_id_duplicate"]:
        twins = p[(p[same] == p.loc[i, same]).all(axis=1) & (p.index != i)]
        assert len(twins) == 1 and twins["Mã hộ"].iloc[0] != p.at[i, "Mã hộ"]
    # The same person again, with a typo in the name and no ID.
    for i in at["person_duplicate_typo_no_id"]:
        assert p.at[i, "Số ĐDCN"] == ""
        twins = p[
            (p["Ngày sinh"] == p.at[i, "Ngày sinh"])
            & (p["Giới tính"] == p.at[i, "Giới tính"])
            & (p["Mã hộ"] != p.at[i, "Mã hộ"])
            & (p["Họ và tên"] != p.at[i, "Họ và tên"])
        ]
        ratio = twins["Họ và tên"].map(
            lambda s, name=p.at[i, "Họ và tên"]: difflib.SequenceMatcher(None, s, name).ratio()
        )
        assert (ratio > 0.75).any(), p.at[i, "Họ và tên"]
    assert (p["Giới tính"].iloc[at["sex_missing"]] == "").all()
    assert f["birth"].iloc[at["birth_date_unparseable"]].isna().all()
    assert (f["birth"].iloc[at["birth_date_future"]] > AS_OF).all()
    no_head = at["household_no_head"]
    assert (f["heads"].iloc[no_head] == 0).all()
    assert (p["Quan hệ với chủ hộ"].iloc[no_head] == "").all()
    two = at["household_two_heads"]
    assert (f["head"] & (f["heads"] == 2)).iloc[two].all()
    young = at["head_under_15"]
    assert (f["head"] & (f["heads"] == 1) & (f["age"] < 15)).iloc[young].all()


def test_planted_household_registry_and_geometry_errors_are_in_the_files(
    dirty: tuple[SynthesisSummary, dict],
) -> None:
    _, d = dirty
    at = _planted(d)
    hh, hamlets, registry = d["households"], d["hamlets"], d["registry"]
    codes = set(registry["Mã thôn/TDP"])
    assert (
        not hh["Mã thôn/TDP"]
        .iloc[at["households.csv", "household_unknown_hamlet_code"]]
        .isin(codes)
        .any()
    )
    out = hh.iloc[at["households.csv", "household_point_outside_hamlet"]]
    assert out["Mã thôn/TDP"].isin(codes).all()
    geoms = hamlets.set_index("hamlet_code").geometry.loc[out["Mã thôn/TDP"]].to_numpy()
    assert not shapely.contains_xy(geoms, out["Kinh độ"], out["Vĩ độ"]).any()

    declared = registry["Số hộ"].astype(int)
    true = registry["Mã thôn/TDP"].map(d["truth"].set_index("hamlet_code")["households"])
    rows = at["hamlet_registry.xlsx", "registry_households_mismatch"]
    assert (declared.iloc[rows] != true.iloc[rows]).all()
    assert (declared >= 0).all()

    g = hamlets.geometry.to_numpy()
    for i in at["hamlet_boundaries.gpkg", "hamlet_self_intersection"]:
        assert "Self-intersection" in shapely.is_valid_reason(g[i])
    commune = hamlets["commune_code"].to_numpy()
    for i in at["hamlet_boundaries.gpkg", "hamlet_sliver"]:
        near = shapely.distance(g, g[i])
        gap = (commune == commune[i]) & (near > 0) & (near < 5 * METRE)
        assert g[i].is_valid and gap.any()  # a thin gap along a former shared border
    valid = shapely.is_valid(g)
    for i in at["hamlet_boundaries.gpkg", "hamlet_overlap"]:
        overlap = shapely.area(shapely.intersection(g[valid], g[i]))
        overlap[np.flatnonzero(valid) == i] = 0
        assert g[i].is_valid and overlap.max() > 0
    # Every boundary stays usable: non-empty, polygonal once repaired, one per code.
    fixed = shapely.make_valid(g, method="structure", keep_collapsed=False)
    assert not shapely.is_empty(fixed).any()
    assert set(shapely.get_type_id(fixed)) <= {3, 6}
    assert hamlets["hamlet_code"].tolist() == registry["Mã thôn/TDP"].tolist()


def test_clean_part_of_dirty_data_is_clean(dirty: tuple[SynthesisSummary, dict]) -> None:
    _, d = dirty
    err, at = d["errors"], _planted(d)
    p, hh, hamlets, registry = d["persons"], d["households"], d["hamlets"], d["registry"]
    f = _person_frame(p)
    listed = np.zeros(len(p), dtype=bool)
    listed[err.loc[err["file"] == "persons.csv", "row"].to_numpy() - 1] = True
    # Citizen IDs: valid, unique and consistent with sex and birth year.
    ok = f["well_formed"] & f["century_ok"] & f["sex_ok"] & f["year_ok"]
    assert ok[~listed].all()
    assert p.loc[~listed, "Số ĐDCN"].is_unique
    assert f.loc[~listed, "birth"].le(AS_OF).all()
    # One head per household, except households given a household-level error.
    household_level = ("household_no_head", "household_two_heads", "head_under_15")
    touched = set(p["Mã hộ"].iloc[np.concatenate([at["persons.csv", k] for k in household_level])])
    untouched = ~p["Mã hộ"].isin(touched)
    assert (f.loc[untouched, "heads"] == 1).all()
    assert (f.loc[untouched & f["head"] & ~listed, "age"] >= 15).all()
    # Households: known hamlet and a point inside it (boundaries not self-intersecting).
    listed_hh = np.zeros(len(hh), dtype=bool)
    listed_hh[err.loc[err["file"] == "households.csv", "row"].to_numpy() - 1] = True
    clean_hh = hh[~listed_hh]
    assert clean_hh["Mã thôn/TDP"].isin(registry["Mã thôn/TDP"]).all()
    crossing = hamlets["hamlet_code"].iloc[at["hamlet_boundaries.gpkg", "hamlet_self_intersection"]]
    clean_hh = clean_hh[~clean_hh["Mã thôn/TDP"].isin(crossing)]
    geoms = hamlets.set_index("hamlet_code").geometry.loc[clean_hh["Mã thôn/TDP"]].to_numpy()
    assert shapely.contains_xy(geoms, clean_hh["Kinh độ"], clean_hh["Vĩ độ"]).all()
    # ... and inside the repaired boundary of every hamlet, self-intersecting ones too.
    fixed = pd.Series(
        shapely.make_valid(hamlets.geometry.to_numpy(), method="structure"),
        index=hamlets["hamlet_code"],
    )
    all_clean = hh[~listed_hh]
    inside = shapely.contains_xy(
        fixed.loc[all_clean["Mã thôn/TDP"]].to_numpy(), all_clean["Kinh độ"], all_clean["Vĩ độ"]
    )
    assert inside.all()
    # Registry figures equal the records.
    listed_reg = err.loc[err["file"] == "hamlet_registry.xlsx", "row"].to_numpy() - 1
    truth = d["truth"].set_index("hamlet_code")
    reg = registry.drop(index=listed_reg)
    assert (reg["Số hộ"].astype(int) == reg["Mã thôn/TDP"].map(truth["households"])).all()
    # Boundaries not listed are valid and neither overlap nor leave slivers between them.
    listed_geo = err.loc[err["file"] == "hamlet_boundaries.gpkg", "row"].to_numpy() - 1
    g = hamlets.geometry.to_numpy()
    keep = np.setdiff1d(np.arange(len(g)), listed_geo)
    assert shapely.is_valid(g[keep]).all()
    tree = shapely.STRtree(g[keep])
    left, right = tree.query(g[keep], predicate="dwithin", distance=5 * METRE)
    commune = hamlets["commune_code"].to_numpy()[keep]
    pair = (left < right) & (commune[left] == commune[right])  # (real communes may overlap)
    a, b = g[keep][left[pair]], g[keep][right[pair]]
    assert (shapely.area(shapely.intersection(a, b)) < 1e-14).all()
    assert (shapely.distance(a, b) < 1e-9).all()  # shared borders, up to rounding


def test_errors_change_only_the_listed_rows(
    clean: tuple[SynthesisSummary, dict], dirty: tuple[SynthesisSummary, dict]
) -> None:
    (clean_summary, base), (dirty_summary, d) = clean, dirty
    # Errors draw from their own streams: the data underneath is the clean data.
    for name in ("communes.geojson", "ground_truth/hamlets_truth.csv"):
        assert (clean_summary.out_dir / name).read_bytes() == (
            dirty_summary.out_dir / name
        ).read_bytes()
    err = d["errors"]
    columns = {
        "citizen_id": ["Số ĐDCN"],
        "sex": ["Giới tính"],
        "birth_date": ["Ngày sinh"],
        "relation_to_head": ["Quan hệ với chủ hộ"],
        "hamlet_code": ["Mã thôn/TDP"],
        "longitude+latitude": ["Kinh độ", "Vĩ độ"],
        "declared_households": ["Số hộ"],
    }
    # A duplicated person brings their whole identity along.
    identity = ["Số ĐDCN", "Họ và tên", "Ngày sinh", "Giới tính", "Dân tộc"]
    for file, key, extra in (
        ("persons.csv", "persons", identity),
        ("households.csv", "households", []),
        ("hamlet_registry.xlsx", "registry", []),
    ):
        now, before = d[key], base[key]
        changed = now.astype(str).ne(before.astype(str))
        allowed = pd.DataFrame(False, index=now.index, columns=now.columns)
        for row in err[err["file"] == file].itertuples():
            cols = columns[row.field]
            if row.error_type in ("citizen_id_duplicate", "person_duplicate_typo_no_id"):
                cols = extra
            allowed.loc[row.row - 1, cols] = True
            assert changed.loc[row.row - 1, cols].any(), row
            if row.error_type == "head_under_15":  # the real head now shows as a parent
                household = before["Mã hộ"] == before.at[row.row - 1, "Mã hộ"]
                head = before.index[household & (before["Quan hệ với chủ hộ"] == "Chủ hộ")]
                allowed.loc[head, "Quan hệ với chủ hộ"] = True
        assert not (changed & ~allowed).any().any(), file
    geo = err.loc[err["file"] == "hamlet_boundaries.gpkg", "row"].to_numpy() - 1
    same = shapely.equals_exact(d["hamlets"].geometry.array, base["hamlets"].geometry.array, 0)
    assert not same[geo].any() and same[np.setdiff1d(np.arange(len(same)), geo)].all()


def test_defaults_stay_readable_by_the_current_ingestion(
    dirty: tuple[SynthesisSummary, dict],
) -> None:
    """With errors but without file mess: UTF-8 (BOM), exact headers, NFC, codes 1:1."""
    summary, d = dirty
    for name, headers in (("households.csv", HOUSEHOLD_HEADERS), ("persons.csv", PERSON_HEADERS)):
        raw = (summary.out_dir / name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        text = raw.decode("utf-8-sig")
        assert text == unicodedata.normalize("NFC", text)
        assert tuple(text.split("\r\n", 1)[0].split(",")) == headers
    assert tuple(d["registry"].columns) == REGISTRY_HEADERS
    assert d["registry"]["Mã thôn/TDP"].is_unique
    assert d["registry"]["Mã thôn/TDP"].tolist() == d["hamlets"]["hamlet_code"].tolist()
    assert set(d["mess"]["kind"]) == {"utf8_bom"}


def test_error_rates_per_type_and_geometry_switch(tmp_path: Path) -> None:
    only = synthesise_province(
        tmp_path / "a", seed=3, households=600, n_communes=2, error_rates={"sex_missing": 0.05}
    )
    err = pd.read_csv(only.out_dir / "ground_truth/planted_errors.csv")
    assert set(err["error_type"]) == {"sex_missing"}
    assert len(err) == round(0.05 * only.persons)
    no_geometry = synthesise_province(
        tmp_path / "b",
        seed=3,
        households=600,
        n_communes=2,
        error_rate=0.02,
        geometry_errors=False,
        error_rates={"birth_date_future": 0.0},
    )
    err = pd.read_csv(no_geometry.out_dir / "ground_truth/planted_errors.csv")
    assert "hamlet_boundaries.gpkg" not in set(err["file"])
    assert "birth_date_future" not in set(err["error_type"])
    assert "registry_households_mismatch" in set(err["error_type"])


def test_progress_messages(tmp_path: Path) -> None:
    messages: list[str] = []
    summary = synthesise_province(
        tmp_path, seed=1, households=1200, n_communes=3, progress=messages.append
    )
    assert "communes 3/3" in messages
    assert f"persons {summary.persons:,}" in messages
    assert "households 1,200" in messages
    assert any(m.startswith("writing persons.csv") for m in messages)


def _decoded(out: Path, mess: pd.DataFrame, name: str) -> str:
    legacy = set(mess.loc[mess["kind"] == "legacy_encoding", "file"])
    raw = (out / name).read_bytes()
    if name in legacy:
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        assert not raw.startswith(b"\xef\xbb\xbf")
        return raw.decode("windows-1258")
    assert raw.startswith(b"\xef\xbb\xbf")
    return raw.decode("utf-8-sig")


@pytest.mark.parametrize("seed", [0, 2])  # seed 0: households.csv legacy; 2: persons.csv
def test_file_mess_is_listed_and_only_skin_deep(seed: int, tmp_path: Path) -> None:
    kwargs = {"seed": seed, "households": 800, "n_communes": 3, "error_rate": 0.02}
    plain = synthesise_province(tmp_path / "plain", **kwargs)
    messy = synthesise_province(tmp_path / "messy", file_mess=True, **kwargs)
    mess = pd.read_csv(messy.out_dir / "ground_truth/file_mess.csv")
    kinds = mess.groupby("kind")["file"].apply(set).to_dict()
    assert messy.file_mess == 4 and plain.file_mess == 0
    assert len(kinds["legacy_encoding"]) == 1 and len(kinds["nfd_names"]) == 1
    legacy = next(iter(kinds["legacy_encoding"]))
    other = ({"persons.csv", "households.csv"} - {legacy}).pop()
    assert kinds["header_variants"] == {other, "hamlet_registry.xlsx"}
    assert kinds["utf8_bom"] == {other}
    nfd_file = next(iter(kinds["nfd_names"]))
    assert nfd_file == ("hamlet_registry.xlsx" if legacy == "persons.csv" else "persons.csv")
    # Ground truth and the data underneath are unchanged.
    for name in ("ground_truth/planted_errors.csv", "ground_truth/hamlets_truth.csv"):
        assert (plain.out_dir / name).read_bytes() == (messy.out_dir / name).read_bytes()
    for name in ("persons.csv", "households.csv"):
        text = _decoded(messy.out_dir, mess, name)
        assert (text != unicodedata.normalize("NFC", text)) == (name in (legacy, nfd_file))
        messy_header, messy_body = unicodedata.normalize("NFC", text).split("\r\n", 1)
        plain_header, plain_body = (
            (plain.out_dir / name).read_bytes().decode("utf-8-sig").split("\r\n", 1)
        )
        assert messy_body == plain_body
        messy_cols, plain_cols = messy_header.split(","), plain_header.split(",")
        assert [header_key(c) for c in messy_cols] == [header_key(c) for c in plain_cols]
        assert (messy_cols != plain_cols) == (name == other)
        if name == other:  # no diacritics left in the headers
            assert messy_header.isascii()
    registry = pd.read_excel(messy.out_dir / "hamlet_registry.xlsx", dtype=str)
    plain_registry = pd.read_excel(plain.out_dir / "hamlet_registry.xlsx", dtype=str)
    assert [header_key(c) for c in registry.columns] == [
        header_key(c) for c in plain_registry.columns
    ]
    assert all(c.isascii() for c in registry.columns)
    nfc = registry.apply(lambda s: s.str.normalize("NFC"))
    pd.testing.assert_frame_equal(nfc.set_axis(plain_registry.columns, axis=1), plain_registry)
    decomposed = (registry.iloc[:, 3] != nfc.iloc[:, 3]).any()  # Tên thôn/TDP
    assert decomposed == (nfd_file == "hamlet_registry.xlsx")


def _thon_sizes(out: Path) -> pd.Series:
    registry = pd.read_excel(out / "hamlet_registry.xlsx", dtype={"Mã thôn/TDP": str})
    truth = pd.read_csv(out / "ground_truth/hamlets_truth.csv", dtype={"hamlet_code": str})
    kind = truth["hamlet_code"].map(registry.set_index("Mã thôn/TDP")["Loại"])
    return truth.loc[kind == "Thôn", "households"]


def test_calibration_mountain_and_delta(tmp_path: Path) -> None:
    mountain = synthesise_province(tmp_path / "m", seed=1, households=20_000, n_communes=8)
    sizes = _thon_sizes(mountain.out_dir)
    assert 60 <= sizes.median() <= 110
    assert sizes.max() > 200 and sizes.min() < 50  # long tail both ways
    assert (sizes < 150).mean() > 0.4  # the merger engine has real work
    delta = synthesise_province(
        tmp_path / "d", seed=1, households=20_000, n_communes=8, province_code="33"
    )
    d_sizes = _thon_sizes(delta.out_dir)
    assert 250 <= d_sizes.median() <= 400
    persons = pd.read_csv(delta.out_dir / "persons.csv", dtype=str)
    # Kinh family names at their national shares: Nguyễn ~38%, Trần ~12%, Lê ~9.5%.
    family = persons.loc[persons["Dân tộc"] == "Kinh", "Họ và tên"].str.split().str[0]
    shares = family.value_counts(normalize=True)
    assert 0.34 < shares["Nguyễn"] < 0.43
    assert 0.09 < shares["Trần"] < 0.15 and 0.07 < shares["Lê"] < 0.12
    assert 0.05 < shares["Phạm"] < 0.09
    assert 3.1 < len(persons) / delta.households < 3.7
    assert (persons["Dân tộc"] == "Kinh").mean() > 0.95
    assert persons["Số ĐDCN"].str[:3].isin(["033", "034"]).mean() > 0.85
    communes = gpd.read_file(delta.out_dir / "communes.geojson")
    assert communes["area_km2"].between(10, 60).all()  # delta communes, ~20-40 km²
    assert communes["commune_code"].str.startswith("33").all()


def test_invalid_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="error_rate"):
        synthesise_province(tmp_path, error_rate=0.9)
    with pytest.raises(ValueError, match="unknown error types"):
        synthesise_province(tmp_path, error_rates={"no_such_error": 0.1})
    with pytest.raises(ValueError, match="sex_missing"):
        synthesise_province(tmp_path, error_rates={"sex_missing": 0.5})
    with pytest.raises(ValueError, match="no region"):
        synthesise_province(tmp_path, province_code="99")
    with pytest.raises(ValueError, match="at least one household"):
        synthesise_province(tmp_path, households=3, n_communes=6)


@pytest.mark.skipif(not CAO_BANG.is_file(), reason="shared/realdata not present")
def test_real_communes_kept(tmp_path: Path) -> None:
    summary = synthesise_province(tmp_path, seed=2, households=12_000, communes_path=CAO_BANG)
    assert summary.province_code == "04"
    source = gpd.read_file(CAO_BANG)
    d = _read(tmp_path)
    written = d["communes"]
    assert len(written) == len(source) == summary.communes == 56
    pd.testing.assert_frame_equal(
        written[["commune_code", "name", "full_name", "unit_kind", "province_code"]],
        source.sort_values("commune_code")[
            ["commune_code", "name", "full_name", "unit_kind", "province_code"]
        ].reset_index(drop=True),
    )
    # Areas are re-measured in UTM; the source's figures differ by a few per cent.
    source_area = source.set_index("commune_code").loc[written["commune_code"], "area_km2"]
    assert np.allclose(written["area_km2"], source_area, rtol=0.05)
    _assert_tessellation(written, d["hamlets"])
    assert d["hamlets"].groupby("commune_code").size().min() >= 1
    with pytest.raises(ValueError, match="no commune of province"):
        synthesise_province(tmp_path / "x", communes_path=CAO_BANG, province_code="33")


@pytest.mark.skipif(not HUNG_YEN.is_file(), reason="shared/realdata not present")
def test_real_delta_province_code_from_file(tmp_path: Path) -> None:
    summary = synthesise_province(tmp_path, seed=3, households=3000, communes_path=HUNG_YEN)
    assert summary.province_code == "33" and summary.communes == 104
    registry = pd.read_excel(tmp_path / "hamlet_registry.xlsx", dtype=str)
    assert registry["Mã xã"].str.fullmatch(r"\d{5}").all()
    assert registry["Mã thôn/TDP"].str.fullmatch(r"\d{8}").all()
