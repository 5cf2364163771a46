"""Reference lists for the synthetic province generator: provinces, names and places.

Kept apart from the generator so the (long) Vietnamese word lists do not hide its logic.
Everything here is plain data; strings are normalised to NFC on import so a list typed in
another normalisation form cannot leak decomposed diacritics into the landing files.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

# The old province codes live with the data rules that check citizen IDs; re-exported
# here for the generator, which draws the IDs it writes from them.
from expectations.reference import OLD_PROVINCE_CODES as OLD_PROVINCE_CODES

# The provinces live in geodata (CRS detection reads their centres); re-exported here.
from geodata.provinces import PROVINCES as PROVINCES
from geodata.provinces import ProvinceInfo as ProvinceInfo


def _nfc(value: Any) -> Any:
    """NFC-normalise every string inside nested tuples, dicts and dataclasses."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, tuple):
        return tuple(_nfc(v) for v in value)
    if isinstance(value, dict):
        return {_nfc(k): _nfc(v) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return type(value)(**{f.name: _nfc(getattr(value, f.name)) for f in fields(value)})
    return value


@dataclass(frozen=True)
class NameStyle:
    """How people of one ethnic group are commonly named (family, middle, given).

    Given names carry weights by birth cohort (born before 1980, 1980-1999, 2000 and
    later): fashions change, "Thơm" and "Lụa" are grandmothers' names, "Vy" and "Hân"
    granddaughters'.
    """

    family: tuple[tuple[str, float], ...]
    middle_male: tuple[str, ...]
    middle_female: tuple[str, ...]
    # Share of people with the traditional middle name (first entry) by birth cohort:
    # (born before 1980, 1980-1999, 2000 and later).
    traditional_share: tuple[float, float, float] = (0.85, 0.6, 0.3)
    given_male: tuple[tuple[str, tuple[float, float, float]], ...] | None = None
    given_female: tuple[tuple[str, tuple[float, float, float]], ...] | None = None


def _even(names: tuple[str, ...]) -> tuple[tuple[str, tuple[float, float, float]], ...]:
    return tuple((n, (1.0, 1.0, 1.0)) for n in names)


# Kinh given names with relative weights by cohort (before 1980, 1980-1999, 2000+):
# plausible readings of name-frequency lists, not census figures.
GIVEN_MALE: tuple[tuple[str, tuple[float, float, float]], ...] = _nfc(
    (
        ("Anh", (2, 4, 6)), ("Bảo", (0.2, 1, 4)), ("Bình", (3, 2, 1)), ("Cường", (3, 3, 1)),
        ("Chiến", (3, 2, 0.5)), ("Công", (2, 1.5, 0.7)), ("Dũng", (4, 4, 1.5)),
        ("Duy", (0.5, 2, 4)), ("Dương", (1, 1.5, 2)), ("Đạt", (0.5, 2, 3)), ("Đức", (3, 3, 3)),
        ("Giang", (1, 1, 1)), ("Hải", (3, 4, 2)), ("Hiếu", (1, 3, 3)), ("Hoàng", (1, 2, 3)),
        ("Hùng", (5, 4, 1)), ("Huy", (0.5, 2, 5)), ("Hưng", (3, 3, 2)), ("Khánh", (0.5, 1.5, 3)),
        ("Khoa", (0.3, 1.5, 3)), ("Khôi", (0, 0.5, 3)), ("Kiên", (1, 2, 2)), ("Lâm", (1, 1, 2)),
        ("Long", (2, 3, 3)), ("Lộc", (1.5, 1, 1)), ("Lợi", (2, 1, 0.3)), ("Mạnh", (2, 3, 2)),
        ("Minh", (3, 4, 6)), ("Nam", (3, 3, 4)), ("Nghĩa", (2, 2, 1)), ("Ngọc", (1.5, 1, 0.5)),
        ("Nhật", (0.2, 1, 3)), ("Phát", (0.5, 1, 2)), ("Phong", (1, 2, 3)), ("Phúc", (1, 2, 4)),
        ("Quang", (3, 3, 2)), ("Quân", (0.5, 2, 4)), ("Sơn", (4, 4, 2)), ("Tài", (1.5, 1.5, 1)),
        ("Tâm", (1.5, 1.5, 1)), ("Thắng", (4, 3, 1)), ("Thành", (4, 4, 2)), ("Thịnh", (1, 2, 2)),
        ("Thông", (2, 1.5, 0.5)), ("Toàn", (2, 2, 1)), ("Trung", (3, 3, 2)),
        ("Trường", (1.5, 2, 2)), ("Tuấn", (3, 5, 3)), ("Tùng", (1, 3, 2)), ("Việt", (1, 2, 2)),
        ("Vinh", (2, 2, 1)), ("Vũ", (0.5, 1.5, 2)),
    )
)  # fmt: skip
GIVEN_FEMALE: tuple[tuple[str, tuple[float, float, float]], ...] = _nfc(
    (
        ("An", (0.5, 1, 4)), ("Anh", (1, 4, 6)), ("Chi", (0.5, 2, 4)), ("Dung", (3, 2, 0.5)),
        ("Duyên", (1, 2, 2)), ("Giang", (1, 2, 2)), ("Hà", (2, 3, 3)), ("Hân", (0, 0.3, 3)),
        ("Hằng", (3, 4, 1.5)), ("Hạnh", (3, 2, 1)), ("Hiền", (3, 3, 2)), ("Hoa", (4, 3, 1)),
        ("Hòa", (3, 1, 0.3)), ("Hồng", (4, 2, 0.5)), ("Huệ", (3, 1, 0.3)), ("Huyền", (2, 4, 3)),
        ("Hương", (4, 4, 2)), ("Lan", (4, 3, 1)), ("Liên", (3, 2, 0.5)), ("Linh", (1, 4, 6)),
        ("Loan", (3, 2, 0.5)), ("Lụa", (2, 0.3, 0)), ("Mai", (3, 3, 2)), ("My", (0.2, 1, 3)),
        ("Nga", (3, 3, 1)), ("Ngân", (0.5, 2, 3)), ("Ngọc", (2, 3, 3)), ("Nhi", (0.2, 1, 4)),
        ("Nhung", (2, 3, 1)), ("Oanh", (2, 2, 1)), ("Phượng", (3, 2, 0.5)),
        ("Phương", (2, 3, 3)), ("Quỳnh", (1, 2, 3)), ("Sen", (2, 0.5, 0.2)), ("Tâm", (2, 1.5, 1)),
        ("Thảo", (1, 4, 4)), ("Thanh", (3, 2, 1)), ("Thơm", (2, 0.3, 0)), ("Thu", (3, 3, 1.5)),
        ("Thủy", (4, 4, 1.5)), ("Trang", (1, 5, 4)), ("Trâm", (0.2, 1, 3)),
        ("Tuyết", (3, 2, 0.5)), ("Uyên", (0.2, 1, 3)), ("Vân", (3, 3, 2)), ("Vy", (0, 0.5, 4)),
        ("Xuân", (3, 2, 1)), ("Yến", (3, 3, 2)),
    )
)  # fmt: skip
HMONG_GIVEN_MALE = _even(
    _nfc(
        ("Páo", "Sử", "Chứ", "Dế", "Vừ", "Tủa", "Sình", "Chơ", "Lềnh", "Nhè", "Pó", "Súa", "Chính")
    )
)
HMONG_GIVEN_FEMALE = _even(
    _nfc(("Mỷ", "Dợ", "Sua", "Chía", "Mái", "Pà", "Say", "Súa", "Lan", "Dung", "Chi", "Máy"))
)

_KINH_MIDDLE_MALE = ("Văn", "Đức", "Minh", "Quang", "Hữu", "Xuân", "Thanh", "Công", "Ngọc")
_KINH_MIDDLE_FEMALE = ("Thị", "Thu", "Ngọc", "Thanh", "Minh", "Phương", "Hồng", "Thúy", "Kim")

# Kinh family names. The national shares usually quoted (Nguyễn 38.4%, Trần 12.1%, Lê
# 9.5%, Phạm 7.0%, Hoàng/Huỳnh 5.1%, Phan 4.5%, Vũ/Võ 3.9%, Đặng 2.1%, Bùi 2.0%, Đỗ 1.4%,
# Hồ 1.3%, Ngô 1.3%, Dương 1.0%, Lý 0.5%) with the northern or southern form of the
# name; the remaining ~10% spread over rarer names.
_KINH_FAMILY_NORTH = (
    ("Nguyễn", 38.4), ("Trần", 12.1), ("Lê", 9.5), ("Phạm", 7.0), ("Hoàng", 5.1),
    ("Phan", 4.5), ("Vũ", 3.9), ("Đặng", 2.1), ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3),
    ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5),
    ("Đinh", 1.0), ("Đào", 1.0), ("Trịnh", 0.9), ("Hà", 0.9), ("Lương", 0.8), ("Mai", 0.6),
    ("Cao", 0.6), ("Trương", 0.6), ("Tạ", 0.5), ("Lưu", 0.5), ("Phùng", 0.5), ("Chu", 0.4),
    ("Kiều", 0.3), ("Lâm", 0.3), ("Tô", 0.3), ("Nghiêm", 0.2), ("Văn", 0.2), ("Thái", 0.2),
    ("Khúc", 0.1),
)  # fmt: skip
_KINH_FAMILY_SOUTH = (
    ("Nguyễn", 38.4), ("Trần", 12.1), ("Lê", 9.5), ("Phạm", 7.0), ("Huỳnh", 4.6),
    ("Hoàng", 0.5), ("Phan", 4.5), ("Võ", 3.5), ("Vũ", 0.4), ("Đặng", 2.1), ("Bùi", 2.0),
    ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5),
    ("Trương", 1.5), ("Lâm", 0.9), ("Châu", 0.7), ("Đinh", 0.6), ("Mai", 0.6), ("Cao", 0.6),
    ("Lương", 0.6), ("Tô", 0.5), ("Đào", 0.5), ("Thái", 0.5), ("Lưu", 0.4), ("Hà", 0.4),
    ("Tạ", 0.3), ("Từ", 0.3), ("La", 0.3), ("Kiều", 0.2), ("Quách", 0.2), ("Diệp", 0.2),
    ("Ông", 0.2),
)  # fmt: skip
# Hoa (ethnic Chinese) family names, in their Sino-Vietnamese reading.
_HOA_FAMILY = (
    ("Lý", 8), ("Trương", 8), ("Hoàng", 6), ("Lâm", 7), ("Quách", 4), ("Châu", 5),
    ("Mạc", 3), ("Diệp", 3), ("Tăng", 3), ("Vương", 4), ("Lưu", 4), ("Trần", 5), ("Dương", 3),
    ("Hứa", 3), ("Mã", 3), ("Tạ", 2),
)  # fmt: skip

NAME_STYLES_NORTH: dict[str, NameStyle] = _nfc(
    {
        "Kinh": NameStyle(_KINH_FAMILY_NORTH, _KINH_MIDDLE_MALE, _KINH_MIDDLE_FEMALE),
        # Tày and Nùng families of the northern border provinces.
        "Tày": NameStyle(
            (
                ("Nông", 12),
                ("Hoàng", 12),
                ("Lục", 6),
                ("Bế", 6),
                ("Ma", 5),
                ("Đàm", 5),
                ("Triệu", 4),
                ("Lý", 4),
                ("Nguyễn", 8),
                ("Lương", 4),
                ("La", 3),
                ("Lăng", 2),
                ("Hà", 3),
                ("Vi", 2),
                ("Sầm", 1.5),
                ("Mông", 1.5),
                ("Dương", 2),
                ("Chu", 2),
                ("Đinh", 1.5),
                ("Hứa", 1.5),
                ("Lưu", 1),
                ("Lành", 1),
            ),
            _KINH_MIDDLE_MALE,
            _KINH_MIDDLE_FEMALE,
            (0.9, 0.7, 0.35),
        ),
        "Nùng": NameStyle(
            (
                ("Hoàng", 12),
                ("Nông", 10),
                ("Lý", 6),
                ("Lục", 5),
                ("Triệu", 5),
                ("Lương", 4),
                ("Đàm", 4),
                ("Chu", 3),
                ("Mã", 3),
                ("Lâm", 3),
                ("Vi", 3),
                ("Lăng", 2),
                ("Hứa", 2),
                ("Bế", 2),
                ("La", 2),
                ("Nguyễn", 4),
                ("Sầm", 1),
                ("Dương", 2),
            ),
            _KINH_MIDDLE_MALE,
            _KINH_MIDDLE_FEMALE,
            (0.9, 0.7, 0.35),
        ),
        "Mông": NameStyle(
            (
                ("Giàng", 10),
                ("Sùng", 9),
                ("Vàng", 9),
                ("Lầu", 7),
                ("Thào", 7),
                ("Lý", 6),
                ("Hoàng", 5),
                ("Mua", 5),
                ("Hầu", 3),
                ("Chảo", 2),
                ("Vừ", 3),
                ("Ly", 2),
            ),
            ("A", "Seo", "Mí", "Văn"),
            ("Thị", "Mỷ"),
            (0.8, 0.75, 0.6),
            HMONG_GIVEN_MALE,
            HMONG_GIVEN_FEMALE,
        ),
        "Dao": NameStyle(
            (
                ("Triệu", 14),
                ("Bàn", 10),
                ("Đặng", 9),
                ("Lý", 8),
                ("Phùng", 5),
                ("Chảo", 4),
                ("Tẩn", 3),
                ("Lò", 2),
                ("Hoàng", 2),
            ),
            ("Văn", "Tiến", "Kim", "Tòn", "Quý"),
            ("Thị", "Mùi", "Kiều"),
            (0.85, 0.7, 0.45),
        ),
        "Thái": NameStyle(
            (
                ("Lò", 12),
                ("Lường", 10),
                ("Quàng", 8),
                ("Cầm", 7),
                ("Tòng", 6),
                ("Vì", 6),
                ("Hà", 5),
                ("Lù", 4),
                ("Điêu", 3),
                ("Bạc", 2),
                ("Mè", 2),
            ),
            _KINH_MIDDLE_MALE,
            _KINH_MIDDLE_FEMALE,
        ),
        "Mường": NameStyle(
            (("Bùi", 14), ("Đinh", 12), ("Quách", 6), ("Hà", 5), ("Xa", 3), ("Nguyễn", 4)),
            _KINH_MIDDLE_MALE,
            _KINH_MIDDLE_FEMALE,
        ),
        "Hoa": NameStyle(_HOA_FAMILY, _KINH_MIDDLE_MALE, _KINH_MIDDLE_FEMALE),
    }
)

NAME_STYLES_SOUTH: dict[str, NameStyle] = _nfc(
    {
        "Kinh": NameStyle(_KINH_FAMILY_SOUTH, _KINH_MIDDLE_MALE, _KINH_MIDDLE_FEMALE),
        "Hoa": NameStyle(_HOA_FAMILY, _KINH_MIDDLE_MALE, _KINH_MIDDLE_FEMALE),
        "Khmer": NameStyle(
            (("Thạch", 12), ("Sơn", 10), ("Danh", 9), ("Kim", 6), ("Lâm", 4), ("Châu", 3)),
            ("Văn", "Sà", "Minh"),
            ("Thị", "Sa", "Kim"),
            (0.7, 0.55, 0.35),
        ),
        "Ê Đê": NameStyle(
            (("Niê", 12), ("Mlô", 6), ("Êban", 5), ("Byă", 4), ("Ksơr", 4), ("Adrơng", 3)),
            ("Y",),
            ("H",),
            (1.0, 1.0, 1.0),
        ),
        "Gia Rai": NameStyle(
            (("Ksor", 12), ("Siu", 10), ("Rơ Mah", 8), ("Rơ Châm", 6), ("Nay", 5), ("Puih", 4)),
            ("Văn", "A"),
            ("Thị", "H"),
            (0.7, 0.6, 0.5),
        ),
    }
)

# Ethnic mix of a province (share of households), by region; Cao Bằng and Lạng Sơn get
# their own Tày/Nùng-dominated mix.
ETHNIC_MIX: dict[str, dict[str, float]] = _nfc(
    {
        "tay_nung_border": {
            "Tày": 0.40, "Nùng": 0.30, "Mông": 0.10, "Dao": 0.10, "Kinh": 0.07,
            "Sán Chay": 0.015, "Lô Lô": 0.005, "Hoa": 0.01,
        },
        "northern_midlands_mountains": {
            "Kinh": 0.40, "Tày": 0.15, "Thái": 0.15, "Mường": 0.08, "Mông": 0.10,
            "Dao": 0.06, "Nùng": 0.05, "Khơ Mú": 0.01,
        },
        "red_river_delta": {"Kinh": 0.99, "Mường": 0.004, "Tày": 0.003, "Hoa": 0.003},
        "ha_noi_hcm": {"Kinh": 0.98, "Hoa": 0.015, "Mường": 0.005},
        "north_central": {"Kinh": 0.90, "Thái": 0.05, "Mường": 0.04, "Khơ Mú": 0.01},
        "south_central_coast_highlands": {
            "Kinh": 0.78, "Ê Đê": 0.07, "Gia Rai": 0.07, "Ba Na": 0.04, "Chăm": 0.02,
            "Xơ Đăng": 0.02,
        },
        "south_east": {"Kinh": 0.93, "Hoa": 0.03, "Khmer": 0.02, "Xtiêng": 0.01, "Chơ Ro": 0.01},
        "mekong_delta": {"Kinh": 0.92, "Khmer": 0.06, "Hoa": 0.015, "Chăm": 0.005},
    }
)  # fmt: skip
TAY_NUNG_BORDER_PROVINCES: frozenset[str] = frozenset({"04", "20"})

# Place-name syllables. Sino-Vietnamese pairs make commune and lowland hamlet names;
# Tày-Nùng pairs (nà = field, khuổi = stream, pác = mouth, lũng = valley…) make the
# names of mountain hamlets.
SINO_FIRST: tuple[str, ...] = _nfc(
    (
        "An", "Bình", "Đại", "Đông", "Đức", "Hòa", "Hồng", "Hưng", "Kim", "Lạc", "Long",
        "Minh", "Nam", "Nghĩa", "Phú", "Phúc", "Quang", "Quảng", "Tân", "Thái", "Thanh",
        "Thành", "Thịnh", "Thống", "Thượng", "Thụy", "Tiên", "Trung", "Vĩnh", "Xuân",
        "Yên", "Hải", "Cẩm", "Ngọc", "Việt", "Hợp", "Liên", "Mỹ",
    )
)  # fmt: skip
SINO_SECOND: tuple[str, ...] = _nfc(
    (
        "An", "Bình", "Châu", "Cường", "Dương", "Điền", "Đoài", "Đông", "Giang", "Hà",
        "Hải", "Hạnh", "Hòa", "Hưng", "Khê", "Lạc", "Lâm", "Lập", "Lĩnh", "Lộc", "Long",
        "Lợi", "Minh", "Mỹ", "Nghĩa", "Ninh", "Phong", "Phú", "Phúc", "Quang", "Sơn",
        "Tân", "Thành", "Thịnh", "Thọ", "Thuận", "Tiến", "Trung", "Trường", "Tú", "Vinh",
        "Xá", "Yên",
    )
)  # fmt: skip
TAY_FIRST: tuple[str, ...] = _nfc(
    (
        "Nà", "Khuổi", "Pác", "Cốc", "Lũng", "Phja", "Nặm", "Bó", "Slam", "Khau", "Pò",
        "Co", "Đông", "Kéo", "Vằng", "Thang", "Tẻng", "Lủng", "Pù", "Tổng", "Phai",
    )
)  # fmt: skip
TAY_SECOND: tuple[str, ...] = _nfc(
    (
        "Mạ", "Rằng", "Vài", "Khao", "Slác", "Lẹng", "Phầy", "Nưa", "Ngà", "Chang", "Luông",
        "Sả", "Pỏ", "Ca", "Liềng", "Điểng", "Mu", "Lẻn", "Mòn", "Giàng", "Thin", "Rà",
        "Khoang", "Nặm", "Pàn", "Cáp", "Lừa", "Tầu", "Lạn", "Mè", "Hoi", "Sliểng",
    )
)  # fmt: skip
LOWLAND_SINGLE: tuple[str, ...] = _nfc(
    (
        "Đông", "Tây", "Nam", "Bắc", "Trung", "Thượng", "Hạ", "Đoài", "Chùa", "Đình",
        "Mới", "Cầu", "Chợ", "Giữa", "Ngoài", "Trong", "Đồng", "Bến",
    )
)  # fmt: skip

# Local prefixes of hamlet names, with weights by region (share of hamlets).
THON_PREFIXES: dict[str, tuple[tuple[str, float], ...]] = _nfc(
    {
        "northern_midlands_mountains": (("Xóm", 0.7), ("Bản", 0.15), ("Thôn", 0.15)),
        "red_river_delta": (("Thôn", 0.75), ("Xóm", 0.25)),
        "ha_noi_hcm": (("Thôn", 0.8), ("Xóm", 0.1), ("Ấp", 0.1)),
        "north_central": (("Thôn", 0.6), ("Xóm", 0.3), ("Bản", 0.1)),
        "south_central_coast_highlands": (("Thôn", 0.6), ("Buôn", 0.2), ("Làng", 0.2)),
        "south_east": (("Ấp", 0.85), ("Thôn", 0.15)),
        "mekong_delta": (("Ấp", 0.85), ("Khóm", 0.1), ("Sóc", 0.05)),
    }
)
# Styles of TDP names: a commune keeps one style ("{n}" is the unit's number).
TDP_STYLES_NORTH: tuple[tuple[str, float], ...] = _nfc(
    (
        ("Tổ dân phố {n}", 0.5),
        ("Tổ dân phố số {n}", 0.2),
        ("Tổ {n}", 0.2),
        ("Khu phố {n}", 0.1),
    )
)
TDP_STYLES_SOUTH: tuple[tuple[str, float], ...] = _nfc(
    (("Khu phố {n}", 0.6), ("Tổ dân phố {n}", 0.3), ("Khóm {n}", 0.1))
)
SOUTHERN_REGIONS: frozenset[str] = frozenset(
    {"south_central_coast_highlands", "south_east", "mekong_delta"}
)
