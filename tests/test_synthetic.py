"""The synthetic province generator: files, geometry, persons, calibration, planted errors."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from geodata.synthetic import (
    COMMUNE_COLUMNS,
    HOUSEHOLD_HEADERS,
    PERSON_HEADERS,
    REGISTRY_HEADERS,
    REGISTRY_SHEET,
    SynthesisSummary,
    synthesise_province,
)
from geodata.synthetic_names import OLD_PROVINCE_CODES, PROVINCES

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
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
)


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
    assert list(d["errors"].columns) == ["file", "row", "field", "error_kind"]
    assert d["errors"].empty  # error_rate = 0: header only
    assert list(d["truth"].columns) == ["hamlet_code", "households", "population"]
    assert (summary.communes, summary.hamlets) == (len(d["communes"]), len(d["hamlets"]))
    assert (summary.households, summary.persons) == (2500, len(d["persons"]))


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
    declared = merged["Số hộ"].astype(int)
    assert (declared == merged["households"]).mean() > 0.5
    assert ((declared - merged["households"]).abs() <= 0.15 * merged["households"] + 2).all()
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


def test_seed_changes_data_and_errors_leave_clean_data(
    clean: tuple[SynthesisSummary, dict],
    dirty: tuple[SynthesisSummary, dict],
    tmp_path: Path,
) -> None:
    other = synthesise_province(tmp_path, seed=8, households=2500, n_communes=5)
    assert (other.out_dir / "persons.csv").read_bytes() != (
        clean[0].out_dir / "persons.csv"
    ).read_bytes()
    # Planting errors draws from its own stream: the rest of the data is unchanged.
    for name in ("communes.geojson", "households.csv", "ground_truth/hamlets_truth.csv"):
        assert (clean[0].out_dir / name).read_bytes() == (dirty[0].out_dir / name).read_bytes()


def test_planted_errors_at_ground_truth_rows(
    clean: tuple[SynthesisSummary, dict], dirty: tuple[SynthesisSummary, dict]
) -> None:
    summary, d = dirty
    p, err, base = d["persons"], d["errors"], clean[1]["persons"]
    assert summary.planted_errors == len(err) == round(ERROR_RATE * len(p))
    assert (err["file"] == "persons.csv").all() and err["row"].is_unique
    assert set(err["error_kind"]) == {
        "citizen_id_malformed",
        "citizen_id_duplicate",
        "sex_missing",
        "birth_date_unparseable",
        "household_no_head",
        "household_two_heads",
    }
    # Every changed cell is at a ground-truth row, in the field it names.
    field_column = {
        "citizen_id": "Số ĐDCN",
        "sex": "Giới tính",
        "birth_date": "Ngày sinh",
        "relation_to_head": "Quan hệ với chủ hộ",
    }
    changed = p.ne(base)
    expected = pd.DataFrame(False, index=p.index, columns=p.columns)
    for row in err.itertuples():
        expected.loc[row.row - 1, field_column[row.field]] = True
    pd.testing.assert_frame_equal(changed, expected)

    at = {k: g["row"].to_numpy() - 1 for k, g in err.groupby("error_kind")}
    valid_id = p["Số ĐDCN"].str.fullmatch(r"\d{12}")
    assert not valid_id.iloc[at["citizen_id_malformed"]].any()
    dup_ids = p["Số ĐDCN"].iloc[at["citizen_id_duplicate"]]
    for i, value in dup_ids.items():
        others = p.loc[(p["Số ĐDCN"] == value) & (p.index != i), "Mã hộ"]
        assert len(others) == 1 and others.iloc[0] != p.at[i, "Mã hộ"]
    assert (p["Giới tính"].iloc[at["sex_missing"]] == "").all()
    parsed = pd.to_datetime(p["Ngày sinh"], format="%d/%m/%Y", errors="coerce")
    assert parsed.iloc[at["birth_date_unparseable"]].isna().all()
    heads = (p["Quan hệ với chủ hộ"] == "Chủ hộ").groupby(p["Mã hộ"]).sum()
    assert (heads.loc[p["Mã hộ"].iloc[at["household_no_head"]]] == 0).all()
    assert (heads.loc[p["Mã hộ"].iloc[at["household_two_heads"]]] == 2).all()
    flagged = set(p["Mã hộ"].iloc[np.r_[at["household_no_head"], at["household_two_heads"]]])
    assert (heads.drop(list(flagged)) == 1).all()
    # Outside the ground truth the records are clean.
    other = ~p.index.isin(err["row"] - 1)
    assert valid_id[other].all() and parsed[other].notna().all()
    assert p.loc[other, "Giới tính"].isin(["Nam", "Nữ"]).all()


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
    assert 3.1 < len(persons) / delta.households < 3.7
    assert (persons["Dân tộc"] == "Kinh").mean() > 0.95
    assert persons["Số ĐDCN"].str[:3].isin(["033", "034"]).mean() > 0.85
    communes = gpd.read_file(delta.out_dir / "communes.geojson")
    assert communes["area_km2"].between(10, 60).all()  # delta communes, ~20-40 km²
    assert communes["commune_code"].str.startswith("33").all()


def test_invalid_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="error_rate"):
        synthesise_province(tmp_path, error_rate=0.9)
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
