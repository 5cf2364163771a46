"""The 34 provinces since 2025-07-01: name, rough centre and the former provinces.

Reference data, not geometry code, but kept here because CRS detection needs a
province's centre to place a file without a .prj; the synthetic province generator
reads it too (``synthetic`` depends on ``geodata``, never the reverse).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class ProvinceInfo:
    """A post-2025 province: name, rough centre and the pre-2025 codes it absorbed.

    ``old_codes`` are the 2-digit codes of the pre-2025 provinces merged into it; they
    are what citizen IDs of people born there carry (their PPP part is "0" + old code).
    """

    name: str
    lat: float
    lon: float
    old_codes: tuple[str, ...]


# The 34 provinces after 2025-07-01 (QĐ 19/2025/QĐ-TTg). Centres are approximate and
# only place synthetic communes roughly where the province is.
PROVINCES: dict[str, ProvinceInfo] = {
    code: ProvinceInfo(unicodedata.normalize("NFC", name), lat, lon, old)
    for code, name, lat, lon, old in [
        ("01", "Hà Nội", 21.03, 105.85, ("01",)),
        ("04", "Cao Bằng", 22.67, 106.25, ("04",)),
        ("08", "Tuyên Quang", 22.30, 105.10, ("08", "02")),
        ("11", "Điện Biên", 21.60, 103.00, ("11",)),
        ("12", "Lai Châu", 22.30, 103.20, ("12",)),
        ("14", "Sơn La", 21.20, 104.00, ("14",)),
        ("15", "Lào Cai", 22.00, 104.30, ("10", "15")),
        ("19", "Thái Nguyên", 21.80, 105.80, ("19", "06")),
        ("20", "Lạng Sơn", 21.85, 106.60, ("20",)),
        ("22", "Quảng Ninh", 21.10, 107.30, ("22",)),
        ("24", "Bắc Ninh", 21.25, 106.20, ("27", "24")),
        ("25", "Phú Thọ", 21.20, 105.30, ("25", "26", "17")),
        ("31", "Hải Phòng", 20.90, 106.50, ("31", "30")),
        ("33", "Hưng Yên", 20.65, 106.25, ("33", "34")),
        ("37", "Ninh Bình", 20.30, 106.00, ("37", "35", "36")),
        ("38", "Thanh Hóa", 20.00, 105.50, ("38",)),
        ("40", "Nghệ An", 19.20, 104.90, ("40",)),
        ("42", "Hà Tĩnh", 18.30, 105.90, ("42",)),
        ("44", "Quảng Trị", 17.20, 106.60, ("45", "44")),
        ("46", "Huế", 16.40, 107.50, ("46",)),
        ("48", "Đà Nẵng", 15.70, 108.00, ("48", "49")),
        ("51", "Quảng Ngãi", 14.90, 108.40, ("51", "62")),
        ("52", "Gia Lai", 14.00, 108.50, ("64", "52")),
        ("56", "Khánh Hòa", 12.00, 109.00, ("56", "58")),
        ("66", "Đắk Lắk", 12.90, 108.50, ("66", "54")),
        ("68", "Lâm Đồng", 11.80, 108.00, ("68", "67", "60")),
        ("75", "Đồng Nai", 11.20, 107.00, ("75", "70")),
        ("79", "TP. Hồ Chí Minh", 10.80, 106.70, ("79", "74", "77")),
        ("80", "Tây Ninh", 11.00, 106.20, ("72", "80")),
        ("82", "Đồng Tháp", 10.40, 105.90, ("87", "82")),
        ("86", "Vĩnh Long", 10.00, 106.30, ("86", "83", "84")),
        ("91", "An Giang", 10.30, 105.20, ("89", "91")),
        ("92", "Cần Thơ", 9.80, 105.80, ("92", "93", "94")),
        ("96", "Cà Mau", 9.20, 105.10, ("96", "95")),
    ]
}
