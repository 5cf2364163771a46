"""`hamlets rules show`: the effective rules of a province (profile + override), in
Vietnamese, each figure beside its legal source."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from pipelines.cli import main


def _show(*args: str):
    return CliRunner().invoke(main, ["rules", "show", *args])


def test_shows_a_provinces_figures_with_their_sources() -> None:
    result = _show("--province", "04")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Quy tắc áp dụng: Nghị định 185/2026/NĐ-CP (hồ sơ nd185_2026)" in out
    assert "Tỉnh 04: vùng Trung du và miền núi phía Bắc" in out
    assert "giả định của dự án" in out  # the province -> region table is not the decree's
    assert "Tiêu chuẩn số hộ (Nghị định 185/2026/NĐ-CP, Điều 10):" in out
    assert "- thôn: tối thiểu 150 hộ; dưới 150 hộ phải sắp xếp" in out
    assert "- tổ dân phố: tối thiểu 300 hộ; dưới 300 hộ phải sắp xếp" in out
    assert "Vùng Đồng bằng sông Hồng" not in out  # only the province's region
    assert "Trường hợp đặc thù (Nghị định 185/2026/NĐ-CP, Điều 10.3):" in out
    assert "Quỹ phụ cấp 8,0 × lương cơ sở/tháng: thôn từ 700 hộ, tổ dân phố từ 1.000 hộ" in out
    assert "Quỹ phụ cấp 6,5 × lương cơ sở/tháng" in out
    assert "2.530.000 đồng/tháng từ 01/07/2026 (Nghị định 161/2026/NĐ-CP)" in out


def test_the_earlier_regime_and_every_region_without_a_province() -> None:
    result = _show("--profile", "tt04_2012")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Thông tư 04/2012/TT-BNV" in out
    assert "tỉnh 04, 08, 11, 12, 14, 15, 19, 20, 25" in out
    assert "dưới 50% tiêu chuẩn" in out
    assert "- thôn: tối thiểu 150 hộ; dưới 75 hộ phải sắp xếp" in out
    assert out.count("  Vùng ") == 7  # the standard of every region


def test_a_provinces_override_shows_in_the_rules(tmp_path: Path) -> None:
    override = tmp_path / "tinh_25.yaml"
    doc = {
        "commune_regions": {"red_river_delta": ["25001", "25004"]},
        "profiles": {
            "nd185_2026": {
                "special_case_floors": {"border_island": {"households": 90}},
                "citations": {"exemption": "Nghị quyết của HĐND tỉnh Phú Thọ, Điều 3"},
            }
        },
    }
    override.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    result = _show("--province", "25", "--rules-override", str(override))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "tinh_25.yaml" in out.splitlines()[3]  # "Tệp quy tắc: base + override"
    assert "  - Đồng bằng sông Hồng: 25001, 25004" in out
    # Both regions' standards: the province's and its listed communes'.
    assert "Vùng Trung du và miền núi phía Bắc:" in out
    assert "Vùng Đồng bằng sông Hồng:" in out
    assert "- thôn: tối thiểu 400 hộ; dưới 400 hộ phải sắp xếp" in out
    # Art. 10.3: the province's floor where it set one; the others await its guidance.
    assert "[border_island]: tối thiểu 90 hộ (tỉnh quy định)" in out
    assert "[divided_terrain]: mức tối thiểu chưa quy định: chờ hướng dẫn của tỉnh" in out
    assert "(Nghị định 185/2026/NĐ-CP, Điều 10.3)" not in out  # the citation the province gave
    assert "Trường hợp đặc thù (Nghị quyết của HĐND tỉnh Phú Thọ, Điều 3):" in out


def test_an_unknown_province_is_an_error_naming_it() -> None:
    result = _show("--province", "99")
    assert result.exit_code != 0
    assert "no province '99'" in result.output
