"""Raw loading with lineage, and staging normalisation of provincial files."""

from __future__ import annotations

import pandas as pd
import pytest

from assets.raw.landing import LandingFileError, find_landing_file, load_raw
from assets.staging.headers import to_canonical
from assets.staging.normalise import parse_dates, parse_int, split_hamlet_name
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
    assert raw["Số ĐDCN"].tolist()[0] == "004090001234"
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
    persons = stage_persons(load_raw(_landing(tmp_path)))
    assert persons["record_id"].tolist() == ["persons.csv:1", "persons.csv:2", "persons.csv:3"]
    assert persons["full_name"].iloc[0] == "Nguyễn Văn An"
    assert persons["sex"].tolist()[:2] == ["nam", "nu"]
    assert pd.isna(persons["sex"].iloc[2])
    assert persons["birth_date"].iloc[1] == pd.Timestamp("1991-07-21")
    assert pd.isna(persons["birth_date"].iloc[2])
    assert persons["is_household_head"].tolist() == [True, False, False]
    assert persons["citizen_id"].iloc[2] == "0041900"


def test_missing_required_header_names_file_and_vietnamese_label(tmp_path):
    text = PERSONS_CSV.replace("Số ĐDCN,", "Mystery,")
    raw = load_raw(_landing(tmp_path, text))
    with pytest.raises(LandingFileError, match=r"persons\.csv: missing required columns 'Số ĐDCN'"):
        stage_persons(raw)


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
    persons = stage_persons(load_raw(_landing(tmp_path, text)))
    assert persons["full_name"].iloc[0] == "Nguyễn Văn An"
    assert persons["birth_date"].iloc[1] == pd.Timestamp("1991-01-01")
    assert persons["birth_date_is_partial"].tolist() == [False, True, False]
