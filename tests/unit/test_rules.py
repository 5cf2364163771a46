"""Rules profiles: loading the shipped file, lookups, overrides and validation errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from assets.planning.rules import DEFAULT_RULES_PATH, RulesError, load_rules


def _base() -> dict:
    return yaml.safe_load(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))


def _write(tmp_path: Path, data: dict, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_default_profile_is_nd185_and_reads_the_shipped_figures() -> None:
    rules = load_rules()
    assert rules.name == "nd185_2026"
    assert rules.source == "hamlets_config/rules_profiles.yaml"
    assert rules.region_for("04") == "northern_midlands_mountains"
    assert rules.region_for("33") == "red_river_delta"
    assert rules.standard_for("northern_midlands_mountains", "thon") == 150
    assert rules.standard_for("northern_midlands_mountains", "to_dan_pho") == 300
    assert rules.standard_for("ha_noi_hcm", "to_dan_pho") == 700
    # Art. 8: every unit below the standard must be rearranged.
    assert rules.mandatory_floor_for("red_river_delta", "thon") == 400
    assert rules.exempt_floor_households is None
    assert rules.region_label("northern_midlands_mountains") == "Trung du và miền núi phía Bắc"
    assert rules.base_salary_on(date(2026, 6, 30)) == 2_340_000
    assert rules.base_salary_on(date(2026, 7, 1)) == 2_530_000
    assert rules.allowance_multiplier_high == 8.0
    assert rules.citations["standard"] == "Nghị định 185/2026/NĐ-CP, Điều 10"


def test_tt04_profile_has_a_half_standard_floor() -> None:
    rules = load_rules("tt04_2012")
    assert rules.standard_for("northern_midlands_mountains", "thon") == 150
    assert rules.mandatory_floor_for("northern_midlands_mountains", "thon") == 75
    assert rules.mandatory_floor_for("south_central_coast_highlands", "thon") == 125
    assert rules.exempt_floor_households == 100
    with pytest.raises(RulesError, match="no base salary before 2019-07-01"):
        rules.base_salary_on(date(2018, 1, 1))


def test_floor_is_the_ceiling_of_standard_times_share(tmp_path: Path) -> None:
    data = _base()
    data["profiles"]["nd185_2026"]["mandatory_floor_share"] = 0.7
    data["profiles"]["nd185_2026"]["standard_households"]["red_river_delta"]["thon"] = 145
    rules = load_rules(path=_write(tmp_path, data))
    assert rules.mandatory_floor_for("red_river_delta", "thon") == 102  # 101.5 -> 102
    assert rules.mandatory_floor_for("northern_midlands_mountains", "thon") == 105  # exact


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(RulesError, match=r"unknown rules profile 'nd999'.*nd185_2026, tt04_2012"):
        load_rules("nd999")


def test_unknown_province_and_non_text_codes_are_errors() -> None:
    rules = load_rules()
    with pytest.raises(RulesError, match=r"no province '99'.*known codes: 01, 04"):
        rules.region_for("99")
    with pytest.raises(RulesError, match="must be text"):
        rules.region_for(4)  # type: ignore[arg-type]
    with pytest.raises(RulesError, match="unknown hamlet kind 'ap'"):
        rules.standard_for("mekong_delta", "ap")
    with pytest.raises(RulesError, match="no region 'atlantis'"):
        rules.standard_for("atlantis", "thon")


def test_exemption_key_accepts_keys_and_folded_labels() -> None:
    rules = load_rules()
    assert rules.exemption_key("border_island") == "border_island"
    assert rules.exemption_key("Khu vực biên giới, hải đảo") == "border_island"
    assert rules.exemption_key("  KHU VUC BIEN GIOI,  hai dao ") == "border_island"
    # NFD input (as some Excel exports produce) matches too.
    import unicodedata

    nfd = unicodedata.normalize("NFD", "Đảo, cù lao, cồn (bãi nổi giữa sông), bãi cát biệt lập")
    assert rules.exemption_key(nfd) == "isolated_island"
    assert rules.exemption_key(None) is None
    assert rules.exemption_key("") is None
    assert rules.exemption_key(float("nan")) is None  # type: ignore[arg-type]


def test_unknown_exemption_names_the_value_and_the_labels() -> None:
    rules = load_rules()
    with pytest.raises(RulesError) as err:
        rules.exemption_key("Vùng có đồi chè")
    message = str(err.value)
    assert "'Vùng có đồi chè'" in message
    assert "Khu vực biên giới, hải đảo" in message
    # A key of the other profile is not a key of tt04's border-only list.
    with pytest.raises(RulesError, match="divided_terrain"):
        load_rules("tt04_2012").exemption_key("divided_terrain")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["profiles"]["nd185_2026"]["standard_households"]["red_river_delta"].update(
                thon=-5
            ),
            "profiles.nd185_2026.standard_households.red_river_delta.thon must be a positive "
            "integer (got -5)",
        ),
        (
            lambda d: d["profiles"]["nd185_2026"]["standard_households"]["red_river_delta"].update(
                thon="400"
            ),
            "profiles.nd185_2026.standard_households.red_river_delta.thon must be a positive "
            "integer",
        ),
        (
            lambda d: d["profiles"]["tt04_2012"].update(mandatory_floor_share=1.5),
            "profiles.tt04_2012.mandatory_floor_share must be a number in (0, 1]",
        ),
        (
            lambda d: d["profiles"]["nd185_2026"].update(standard_houshold={}),
            "profiles.nd185_2026 has unknown keys ['standard_houshold']",
        ),
        (
            lambda d: d["profiles"]["nd185_2026"]["standard_households"].pop("mekong_delta"),
            "profiles.nd185_2026.standard_households has no figures for regions ['mekong_delta']",
        ),
        (
            lambda d: d["province_regions"].update({"33": "red_river"}),
            "province_regions.33 names unknown region 'red_river'",
        ),
        (
            lambda d: d["province_regions"].update({4: "red_river_delta"}),
            'province_regions.4 must be a quoted 2-digit province code such as "04"',
        ),
        (
            lambda d: d.update(default_profile="nd186"),
            "default_profile names unknown profile 'nd186'",
        ),
        (
            lambda d: d["profiles"]["nd185_2026"].pop("legal_basis"),
            "profiles.nd185_2026.legal_basis is missing",
        ),
        (
            lambda d: d["profiles"]["nd185_2026"]["base_salary_vnd_per_month"].reverse(),
            "profiles.nd185_2026.base_salary_vnd_per_month.1.from must be later",
        ),
        (
            lambda d: d["profiles"]["nd185_2026"].update(exempt_floor_households=0),
            "profiles.nd185_2026.exempt_floor_households must be a positive integer",
        ),
        (lambda d: d.update(version=2), "version must be one of [1]"),
    ],
)
def test_validation_errors_name_the_file_and_key_path(
    tmp_path: Path, mutate, expected: str
) -> None:
    data = _base()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(RulesError) as err:
        load_rules(path=path)
    assert str(err.value).startswith(f"{path}: ")
    assert expected in str(err.value)


def test_shipped_file_is_named_relative_to_the_repo_in_errors(tmp_path: Path) -> None:
    override = _write(tmp_path, {"default_profile": "nd185_2026"}, "ok.yaml")
    shipped = r"^hamlets_config/rules_profiles\.yaml"
    with pytest.raises(RulesError, match=shipped + ": unknown rules profile"):
        load_rules("missing", override_path=override)


def test_unreadable_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="rules file not found"):
        load_rules(path=tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("profiles: [unclosed", encoding="utf-8")
    with pytest.raises(RulesError, match="not valid YAML"):
        load_rules(path=bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(RulesError, match="must be a mapping at the top level"):
        load_rules(path=listy)


def test_province_override_is_deep_merged(tmp_path: Path) -> None:
    override = _write(
        tmp_path,
        {
            "province_regions": {"04": "red_river_delta"},
            "profiles": {
                "nd185_2026": {
                    "standard_households": {"red_river_delta": {"thon": 420}},
                    "citations": {"standard": "Quyết định của tỉnh, Điều 2"},
                }
            },
        },
        "province_04.yaml",
    )
    rules = load_rules(override_path=override)
    assert rules.region_for("04") == "red_river_delta"
    assert rules.standard_for("red_river_delta", "thon") == 420
    # Untouched siblings survive the merge.
    assert rules.standard_for("red_river_delta", "to_dan_pho") == 550
    assert rules.region_for("33") == "red_river_delta"
    assert rules.citations["standard"] == "Quyết định của tỉnh, Điều 2"
    assert rules.citations["exemption"] == "Nghị định 185/2026/NĐ-CP, Điều 10.3"
    assert rules.source.endswith("province_04.yaml")
    # The base file is not changed by an override.
    assert load_rules().region_for("04") == "northern_midlands_mountains"


def test_override_errors_name_the_override_file(tmp_path: Path) -> None:
    override = _write(
        tmp_path,
        {"profiles": {"tt04_2012": {"standard_households": {"mekong_delta": {"thon": 0}}}}},
        "province_96.yaml",
    )
    with pytest.raises(RulesError) as err:
        load_rules("tt04_2012", override_path=override)
    assert str(err.value) == (
        f"{override}: profiles.tt04_2012.standard_households.mekong_delta.thon "
        "must be a positive integer (got 0)"
    )


def test_override_can_add_a_profile_and_make_it_default(tmp_path: Path) -> None:
    new = _base()["profiles"]["nd185_2026"]
    new["title_vi"] = "Hướng dẫn của tỉnh"
    new["mandatory_floor_share"] = 0.6
    override = _write(
        tmp_path, {"default_profile": "province_04", "profiles": {"province_04": new}}
    )
    rules = load_rules(override_path=override)
    assert rules.name == "province_04"
    assert rules.mandatory_floor_for("northern_midlands_mountains", "thon") == 90
    assert "divided_terrain" in rules.known_exemption_categories


def test_a_profile_may_recognise_no_exemptions(tmp_path: Path) -> None:
    data = _base()
    data["profiles"]["tt04_2012"]["exemption_categories"] = None
    data["profiles"]["tt04_2012"]["exempt_floor_households"] = None
    rules = load_rules("tt04_2012", path=_write(tmp_path, data))
    assert rules.exemption_categories == {}
    assert rules.exemption_key(None) is None
    with pytest.raises(RulesError, match="known categories: none"):
        rules.exemption_key("border_island")


def test_consolidated_target_is_read_and_validated(tmp_path: Path) -> None:
    assert load_rules().consolidated_target_households == {"thon": 700, "to_dan_pho": 1000}
    override = _write(
        tmp_path,
        {"profiles": {"nd185_2026": {"consolidated_target_households": {"thon": -1}}}},
        "bad.yaml",
    )
    with pytest.raises(RulesError, match="consolidated_target_households"):
        load_rules(override_path=override)
