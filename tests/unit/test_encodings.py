"""Provincial files in every encoding still in use end as the same Unicode NFC text."""

from __future__ import annotations

import json
import unicodedata

import pytest

from assets.raw.encodings import (
    decode_tcvn3,
    decode_vni,
    encode_tcvn3,
    encode_vni,
    encode_windows_1258,
    vietnamese_score,
)
from assets.raw.landing import find_landing_file, load_raw

HEADER = "Số ĐDCN,Họ và tên,Ngày sinh,Giới tính,Mã hộ,Quan hệ với chủ hộ,Dân tộc"
ROWS = [
    "004090001234,Nguyễn Văn Ấn,05/03/1990,Nam,H1,Chủ hộ,Tày",
    "004190005678,Triệu Thị Bích Ngọc,21/07/1991,Nữ,H1,Vợ,H'Mông",
    "004210009999,Lường Văn Đức,01/01/2021,Nam,H1,Con,Nùng",
]
TEXT = "\r\n".join([HEADER, *ROWS]) + "\r\n"
ALL_LETTERS = "aàảãáạăằẳẵắặâầẩẫấậeèẻẽéẹêềểễếệiìỉĩíịoòỏõóọôồổỗốộơờởỡớợuùủũúụưừửữứựyỳỷỹýỵđ"

ENCODERS = {
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8-sig": lambda t: t.encode("utf-8-sig"),
    "utf-16": lambda t: t.encode("utf-16"),
    "windows-1258": encode_windows_1258,
    "tcvn3": encode_tcvn3,
    "vni": encode_vni,
}


def test_known_legacy_samples_decode():
    assert decode_tcvn3("TiÕng ViÖt rÊt hay".encode("latin-1")) == "Tiếng Việt rất hay"
    assert decode_vni("Tieáng Vieät raát hay".encode("cp1252")) == "Tiếng Việt rất hay"
    assert decode_vni("Xin chaøo caùc baïn".encode("cp1252")) == "Xin chào các bạn"


@pytest.mark.parametrize("letters", [ALL_LETTERS, ALL_LETTERS.upper()])
def test_every_letter_round_trips_through_vni_and_windows_1258(letters):
    assert decode_vni(encode_vni(letters)) == letters
    assert unicodedata.normalize("NFC", encode_windows_1258(letters).decode("cp1258")) == letters


def test_tcvn3_round_trips_lower_case_and_folds_missing_capitals():
    assert decode_tcvn3(encode_tcvn3(ALL_LETTERS)) == ALL_LETTERS
    # TCVN3 (ABC) lacks some capitals with tones (typed in ".VnH" fonts with the
    # lower-case code), so they come back lower case, as real files carry them.
    capitals = decode_tcvn3(encode_tcvn3(ALL_LETTERS.upper()))
    assert capitals.lower() == ALL_LETTERS
    assert "Ấ" in capitals and "Ỷ" not in capitals


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
def test_csv_in_each_encoding_is_detected_and_read_as_nfc(tmp_path, encoding):
    (tmp_path / "persons.csv").write_bytes(ENCODERS[encoding](TEXT))
    raw = load_raw(find_landing_file(tmp_path, "persons"))
    assert raw.attrs["encoding"] == encoding
    assert json.loads(raw.attrs["landed_file"]["headers_as_landed"])[:3] == [
        "Số ĐDCN",
        "Họ và tên",
        "Ngày sinh",
    ]
    assert raw["full_name"].tolist() == [
        "Nguyễn Văn Ấn",
        "Triệu Thị Bích Ngọc",
        "Lường Văn Đức",
    ]
    assert raw["citizen_id"].iloc[0] == "004090001234"
    for value in raw["full_name"]:
        assert unicodedata.is_normalized("NFC", value)


def test_nfd_text_ends_as_nfc(tmp_path):
    (tmp_path / "persons.csv").write_bytes(unicodedata.normalize("NFD", TEXT).encode("utf-8"))
    raw = load_raw(find_landing_file(tmp_path, "persons"))
    assert raw["full_name"].iloc[0] == "Nguyễn Văn Ấn"
    assert "Số ĐDCN" in json.loads(raw.attrs["landed_file"]["headers_as_landed"])


def test_semicolon_delimited_file_is_read(tmp_path):
    (tmp_path / "persons.csv").write_text(TEXT.replace(",", ";"), encoding="utf-8")
    raw = load_raw(find_landing_file(tmp_path, "persons"))
    assert len(raw) == 3 and raw["ethnicity"].tolist() == ["Tày", "H'Mông", "Nùng"]


def test_spelling_separates_a_right_guess_from_a_wrong_one():
    right = "Nguyễn Thị Bình ở xóm Nà Rẻo"
    assert vietnamese_score(right) == 1.0
    wrong = decode_tcvn3(encode_windows_1258(right))
    assert wrong != right
    assert vietnamese_score(wrong) < vietnamese_score(right)
