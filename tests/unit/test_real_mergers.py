"""Real 2018–2019 hamlet mergers (tests/fixtures/real_mergers.csv, sources in
real_mergers.md) against both rules profiles: what each says about every unit before its
merger. The expected outcomes are written from the law as DOMAIN.md records it, not
read off the code, so a change to the rules that contradicts history fails here."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from assets.planning.compliance import hamlet_compliance
from assets.planning.rules import load_rules

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "real_mergers.csv"
OUTCOME = {
    "below_mandatory_floor": "mandatory",
    "below_standard": "encouraged",
    "meets_standard": "compliant",
}
# (ND 185/2026, TT 04/2012 as amended) for each unit before its merger:
# - Quảng Ninh (Red River Delta): ND 185 Art. 10 thôn 400 households, every unit below
#   must be rearranged (Art. 8.3); TT 04 thôn 300, below 50% (150) must merge.
# - Thái Nguyên (northern midlands and mountains): ND 185 thôn 150; TT 04 thôn 150,
#   below 75 must merge, 75–149 encouraged.
EXPECTED = {
    "thôn Tân Đức": ("mandatory", "mandatory"),  # 19 households
    "bản Khe Lánh II": ("mandatory", "mandatory"),  # 10
    "bản Pạc Này": ("mandatory", "mandatory"),  # 36
    "bản Cống Mằn Thìn": ("mandatory", "mandatory"),  # 13
    "bản Tài Phố": ("mandatory", "mandatory"),  # 53
    "xóm Mỏ Bễn": ("mandatory", "encouraged"),  # 81: at least half of 150
    "xóm Nà Lưu": ("mandatory", "mandatory"),  # 49
    "xóm Khuôn Ruộng": ("mandatory", "mandatory"),  # 66
    "xóm Tân Đào": ("mandatory", "mandatory"),  # 60
}


def _mergers() -> pd.DataFrame:
    return pd.read_csv(FIXTURE, dtype={"province_code": str})


def _outcomes(profile: str) -> dict[str, str]:
    """Each unit before its merger, under ``profile``, as mandatory/encouraged/compliant."""
    rules = load_rules(profile)
    mergers = _mergers()
    found: dict[str, str] = {}
    for province, part in mergers.groupby("province_code"):
        codes = [f"{province}{i:03d}" for i in range(len(part))]
        # One made-up commune code per commune: only the province decides the region.
        commune = part["commune"].map(
            {c: f"{province}{n:03d}" for n, c in enumerate(part["commune"].unique())}
        )
        hamlets = pd.DataFrame(
            {
                "hamlet_code": codes,
                "commune_code": commune.to_numpy(),
                "hamlet_kind": part["unit_kind"].to_numpy(),
                "declared_households": part["households_before"].to_numpy(),
                "exemption_category": None,
            }
        )
        sizes = pd.DataFrame(
            {
                "hamlet_code": codes,
                "households": part["households_before"].to_numpy(),
                "population": 0,
            }
        )
        out = hamlet_compliance(hamlets, sizes, str(province), rules).set_index("hamlet_code")
        for code, unit in zip(codes, part["unit_before"], strict=True):
            found[unit] = OUTCOME[out.at[code, "compliance_status"]]
    return found


def test_the_fixture_is_sourced_and_adds_up() -> None:
    mergers = _mergers()
    assert set(mergers["unit_before"]) == set(EXPECTED)
    assert mergers["source"].str.contains("http").all()
    assert mergers["resolution"].str.endswith("/NQ-HĐND").all()
    # Households after = the sum of the units merged, as the resolutions state.
    sums = mergers.groupby("unit_after")["households_before"].sum()
    after = mergers.drop_duplicates("unit_after").set_index("unit_after")["households_after"]
    assert sums.sort_index().to_dict() == after.sort_index().to_dict()


@pytest.mark.parametrize(("profile", "column"), [("nd185_2026", 0), ("tt04_2012", 1)])
def test_each_profile_says_what_the_law_says_of_every_unit_before(
    profile: str, column: int
) -> None:
    assert _outcomes(profile) == {unit: both[column] for unit, both in EXPECTED.items()}


def test_no_unit_merged_in_the_2018_2019_round_met_the_standard_of_its_time() -> None:
    # The round applied TT 04/2012 as amended: a unit it merged was below its standard.
    assert "compliant" not in set(_outcomes("tt04_2012").values())
