"""Raw loading with lineage, and staging normalisation of provincial files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from assets.raw.headers import to_canonical
from assets.raw.landing import LandingFileError, find_landing_file, load_raw
from assets.staging.dates import parse_dates
from assets.staging.normalise import parse_int, split_hamlet_name
from assets.staging.tables import stage_persons

PERSONS_CSV = (
    "Số ĐDCN,Họ và tên,Ngày sinh,Giới tính,Mã hộ,Quan hệ với chủ hộ,Dân tộc\n"
    "004090001234, nguyễn  văn an ,05/03/1990,Nam,H1,Chủ hộ,Tày\n"
    "004190005678,Lê Thị Bình,1991-07-21,Nữ,H1,Vợ,Kinh\n"
    "0041900,Nông Văn C,ngày xấu,X,H2,Con,Nùng\n"
)


def _landing(tmp_path, text=PERSONS_CSV, name="persons.csv"):
    (tmp_path / name).write_text(text, encoding="utf-8-sig")
    return find_landing_file(tmp_path, "persons")


def test_raw_keeps_text_and_lineage_and_is_deterministic(tmp_path):
    landing_file = _landing(tmp_path)
    raw = load_raw(landing_file)
    assert raw["citizen_id"].tolist()[0] == "004090001234"
    assert json.loads(raw.attrs["landed_file"]["headers_as_landed"])[0] == "Số ĐDCN"
    assert raw["source_row_number"].tolist() == [1, 2, 3]
    assert set(raw["source_file"]) == {"persons.csv"}
    assert raw["load_id"].iloc[0] == landing_file.sha256[:16]
    again = load_raw(find_landing_file(tmp_path, "persons"))
    pd.testing.assert_frame_equal(raw, again)


def test_missing_and_ambiguous_landing_files_are_named(tmp_path):
    with pytest.raises(LandingFileError, match="no persons file"):
        find_landing_file(tmp_path, "persons")
    (tmp_path / "persons.csv").write_text("a\n1\n")
    (tmp_path / "persons.xlsx").write_text("")
    with pytest.raises(LandingFileError, match="several persons files"):
        find_landing_file(tmp_path, "persons")


def test_staging_persons_normalises_values(tmp_path):
    persons = stage_persons(load_raw(_landing(tmp_path))).table
    assert persons["record_id"].tolist() == ["persons.csv:1", "persons.csv:2", "persons.csv:3"]
    assert persons["full_name"].iloc[0] == "Nguyễn Văn An"
    assert persons["sex"].tolist()[:2] == ["nam", "nu"]
    assert pd.isna(persons["sex"].iloc[2])
    assert persons["birth_date"].iloc[1] == pd.Timestamp("1991-07-21")
    assert pd.isna(persons["birth_date"].iloc[2])
    assert persons["is_household_head"].tolist() == [True, False, False]
    # A malformed ID is not staged: it is an invalid value, noted by its shape only.
    assert pd.isna(persons["citizen_id"].iloc[2])
    assert "citizen_id: 7 characters, digits" in persons["invalid_values"].iloc[2]


def test_missing_required_header_names_file_and_vietnamese_label(tmp_path):
    text = PERSONS_CSV.replace("Số ĐDCN,", "Mystery,")
    with pytest.raises(LandingFileError, match=r"persons\.csv: missing required columns 'Số ĐDCN'"):
        load_raw(_landing(tmp_path, text))


def test_headers_match_without_diacritics_and_abbreviations():
    raw = pd.DataFrame(columns=["CCCD", "Ho va ten", "NGAY SINH", "gioi tinh", "Ma ho"])
    df = to_canonical(
        raw,
        source_file="x.csv",
        wanted=("citizen_id", "full_name", "birth_date", "sex", "household_id"),
        required=("citizen_id", "full_name", "birth_date", "sex", "household_id"),
    )
    assert list(df.columns) == ["citizen_id", "full_name", "birth_date", "sex", "household_id"]


@pytest.mark.parametrize(
    ("text", "prefix", "name"),
    [
        ("Xóm Nà Rẻo", "Xóm", "Nà Rẻo"),
        ("Tổ dân phố số 5", "Tổ dân phố", "5"),
        ("TDP 3", "Tổ dân phố", "3"),
        ("tổ 7", "Tổ", "7"),
        ("Bản Giốc", "Bản", "Giốc"),
        ("Pác Bó", None, "Pác Bó"),
    ],
)
def test_split_hamlet_name(text, prefix, name):
    out = split_hamlet_name(pd.Series([text]))
    assert (out["name_prefix"].iloc[0] if prefix else None) == (
        None if pd.isna(out["name_prefix"].iloc[0]) else out["name_prefix"].iloc[0]
    )
    assert out["hamlet_name"].iloc[0] == name


def test_parse_dates_and_counts():
    dates = parse_dates(pd.Series(["05/03/1990", "1990-03-05", "32874", "", "xx"]))
    assert dates.iloc[0] == dates.iloc[1] == pd.Timestamp("1990-03-05")
    assert dates.iloc[2] == pd.Timestamp("1990-01-01")
    assert dates.iloc[3:].isna().all()
    counts = parse_int(pd.Series(["1.234", "1,234", "150", "12.5", "abc"]))
    assert counts.tolist()[:3] == [1234, 1234, 150]
    assert counts.iloc[3:].isna().all()


def test_roman_and_padded_numbers_in_hamlet_names():
    from assets.staging.normalise import roman_to_arabic

    out = roman_to_arabic(pd.Series(["III", "IX", "XIV", "05", "Nà Rẻo", "Vi", "0"]))
    assert out.tolist() == ["3", "9", "14", "5", "Nà Rẻo", "Vi", "0"]


def test_person_names_are_cased_and_year_only_dates_flagged(tmp_path):
    text = PERSONS_CSV.replace(" nguyễn  văn an ", "NGUYỄN  VĂN AN").replace("1991-07-21", "1991")
    persons = stage_persons(load_raw(_landing(tmp_path, text))).table
    assert persons["full_name"].iloc[0] == "Nguyễn Văn An"
    assert persons["birth_date"].iloc[1] == pd.Timestamp("1991-01-01")
    assert persons["birth_date_is_partial"].tolist() == [False, True, False]


def test_blank_lines_are_rejected_not_lost_and_rows_keep_their_numbers(tmp_path):
    lines = PERSONS_CSV.splitlines()
    text = "\n".join([lines[0], lines[1], ",,,,,,", "", lines[2], lines[3]]) + "\n"
    staged = stage_persons(load_raw(_landing(tmp_path, text)))
    assert staged.table["record_id"].tolist() == ["persons.csv:1", "persons.csv:4", "persons.csv:5"]
    assert staged.rejected["source_row_number"].tolist() == [2, 3]
    assert set(staged.rejected["reason"]) == {"the row is empty (no value in any column)"}


def _hamlet_frames():
    import geopandas as gpd
    import shapely

    def lineage(df, name):
        df["source_file"] = name
        df["source_row_number"] = range(1, len(df) + 1)
        df["source_sha256"] = "0" * 64
        df["load_id"] = "0" * 16
        return df.astype({"source_file": "string", "source_row_number": "Int64"})

    boundaries = gpd.GeoDataFrame(
        lineage(pd.DataFrame({"hamlet_code": ["A", "B", "B", "C", "D"]}), "b.gpkg"),
        geometry=[shapely.box(106 + i / 100, 22, 106.01 + i / 100, 22.01) for i in range(4)]
        + [None],
        crs="EPSG:4326",
    ).astype({"hamlet_code": "string"})
    registry = (
        lineage(
            pd.DataFrame(
                {
                    "Mã xã": ["00001"] * 4,
                    "Mã thôn/TDP": ["A", "B", "E", "D"],
                    "Tên thôn/TDP": ["Xóm A", "Xóm B", "Xóm E", "Xóm D"],
                    "Loại": ["Thôn"] * 4,
                    "Số hộ": ["10", "20", "30", "40"],
                }
            ),
            "r.xlsx",
        )
        .astype("string")
        .astype({"source_row_number": "Int64"})
    )
    return boundaries, registry


def test_hamlet_mismatches_are_rejected_with_file_row_and_reason():
    from assets.staging.tables import stage_hamlets

    boundaries, registry = _hamlet_frames()
    staged = stage_hamlets(boundaries, registry)
    assert staged.table["hamlet_code"].tolist() == ["A", "B"]
    reasons = {(r.source_file, r.source_row_number): r.reason for r in staged.rejected.itertuples()}
    assert reasons == {
        ("b.gpkg", 5): "the feature in b.gpkg has no geometry",
        ("b.gpkg", 3): "hamlet_code B repeats row 2 of b.gpkg, which is kept",
        ("b.gpkg", 4): "hamlet_code C has no row in r.xlsx",
        ("r.xlsx", 3): "hamlet_code E has no boundary in b.gpkg",
        ("r.xlsx", 4): "hamlet_code D has no boundary in b.gpkg",
    }
    # Every landed row is accounted for, file by file.
    assert len(boundaries) == len(staged.table) + (staged.rejected["source_file"] == "b.gpkg").sum()
    assert len(registry) == len(staged.table) + (staged.rejected["source_file"] == "r.xlsx").sum()


def test_extra_columns_are_reported_not_fatal(tmp_path):
    lines = PERSONS_CSV.splitlines()
    text = "\n".join([lines[0] + ",Ghi chú"] + [line + ",xx" for line in lines[1:]]) + "\n"
    raw = load_raw(_landing(tmp_path, text))
    assert json.loads(raw.attrs["landed_file"]["unrecognised_headers"]) == ["Ghi chú"]
    assert [json.loads(v) for v in raw["extra_values"]] == [{"Ghi chú": "xx"}] * 3
    assert "Ghi chú" not in raw.columns
    assert len(stage_persons(raw).table) == 3


def test_invalid_values_are_shaped_one_by_one_not_every_value(tmp_path, monkeypatch):
    """Only the invalid values are shaped (a province's IDs are all distinct: shaping
    each valid one was most of the notes' time), and a row blank but for its last
    column is kept, not rejected as empty."""
    from assets.staging import normalise

    shaped: list[int] = []
    shapes = normalise.value_shapes

    def counting(values: pd.Series) -> pd.Series:
        shaped.append(len(values))
        return shapes(values)

    monkeypatch.setattr(normalise, "value_shapes", counting)
    valid = [f"00409000{i:04d},Người {i},05/03/1990,Nam,H{i},Chủ hộ,Tày" for i in range(200)]
    lines = PERSONS_CSV.splitlines()
    text = "\n".join([lines[0], *valid, lines[3], ",,,,,,Tày"]) + "\n"
    staged = stage_persons(load_raw(_landing(tmp_path, text)))
    persons = staged.table
    assert len(persons) == 202 and staged.rejected.empty
    notes = persons["invalid_values"]
    assert notes.iloc[:200].isna().all()
    assert notes.iloc[200] == "citizen_id: 7 characters, digits | sex: 1 character, letters"
    assert pd.isna(notes.iloc[201])
    assert sum(shaped) <= 2  # the invalid ID and sex; never the 200 valid rows
