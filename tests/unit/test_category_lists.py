"""Special categories from the province's lists (ND 185/2026 Art. 10.3, 15; DOMAIN.md).

The law names the categories (mountainous/ethnic-minority communes and especially
disadvantaged villages, divided terrain, border/island, clearance/resettlement, isolated
islands and river islets); which communes and hamlets are in each is data the province
supplies, each list with its source. One mechanism (``category_lists``) serves the Art.
10.3 categories and the allowance ones. Where the registry's column and a list differ,
the province's list applies and the registry's value is reported for correction.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from planning_inputs import compliance_rows

from assets.planning.rules import RulesError, load_rules
from pipelines.cli import main

MOUNTAIN = "mountainous_ethnic_minority"
ISLET = "isolated_island"
SOURCE_M = "Quyết định số 861/QĐ-TTg (danh sách xã khu vực III)"
SOURCE_I = "Quyết định thử số 12/QĐ-UBND về cồn, bãi nổi"


def _override(tmp_path: Path, lists: dict, floors: dict | None = None) -> Path:
    path = tmp_path / "tinh_04.yaml"
    profile: dict = {"category_lists": lists}
    if floors is not None:
        profile["special_case_floors"] = floors
    doc = {"profiles": {"nd185_2026": profile}}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def _rows(compliance: pd.DataFrame) -> dict[str, dict]:
    return compliance.set_index("hamlet_code").to_dict("index")


def test_a_listed_commune_makes_its_small_hamlets_special_cases_with_the_lists_source(
    tmp_path: Path,
) -> None:
    # Commune 04001 is on the province's list of mountainous communes; the registry's
    # column is blank. Art. 10.3: the hamlets may be smaller than 150 households, by as
    # much as the province says; it has said nothing yet, so a 60-household thôn is
    # "awaiting guidance", not "must merge" and not compliant.
    rules = load_rules(
        "nd185_2026",
        override_path=_override(tmp_path, {MOUNTAIN: {"communes": ["04001"], "source": SOURCE_M}}),
    )
    got = _rows(compliance_rows([("a", 60), ("b", 200)], rules))
    assert got["a"]["compliance_status"] == "special_case_awaiting_guidance"
    assert got["a"]["exemption_category"] == MOUNTAIN
    assert got["a"]["special_category_source"] == "Danh sách của tỉnh: " + SOURCE_M
    assert got["a"]["compliance_reason"].endswith(
        "nguồn xác định diện: Danh sách của tỉnh: " + SOURCE_M
    )
    assert got["b"]["compliance_status"] == "meets_standard"
    # Without the list the same thôn is simply below the standard: it must merge.
    plain = _rows(compliance_rows([("a", 60)], load_rules("nd185_2026")))
    assert plain["a"]["compliance_status"] == "below_mandatory_floor"
    assert pd.isna(plain["a"]["special_category_source"])


def test_the_registry_value_stands_where_the_province_gave_no_list(tmp_path: Path) -> None:
    # A list for islets only: the registry's "divided terrain" keeps its source.
    rules = load_rules(
        "nd185_2026",
        override_path=_override(tmp_path, {ISLET: {"hamlets": ["z"], "source": SOURCE_I}}),
    )
    got = _rows(compliance_rows([("a", 60, "thon", "divided_terrain")], rules))
    assert got["a"]["exemption_category"] == "divided_terrain"
    assert got["a"]["special_category_source"] == "Sổ đăng ký thôn, tổ dân phố"
    assert pd.isna(got["a"]["registry_special_category"])


def test_the_provinces_list_wins_over_the_registry_and_the_difference_is_reported(
    tmp_path: Path,
) -> None:
    # The province lists islets (hamlet "b") and its mountainous communes (none of them
    # 04001). The registry says "a" is mountainous and "b" divided terrain: the lists
    # decide each of their categories, so "a" is no special case (it must merge below
    # the standard, Art. 8.3) and "b" is an islet; both registry values are reported.
    lists = {
        MOUNTAIN: {"communes": ["04009"], "source": SOURCE_M},
        ISLET: {"hamlets": ["b"], "source": SOURCE_I},
    }
    rules = load_rules("nd185_2026", override_path=_override(tmp_path, lists))
    rows = [("a", 60, "thon", MOUNTAIN), ("b", 60, "thon", "divided_terrain"), ("c", 60)]
    got = _rows(compliance_rows(rows, rules))
    assert got["a"]["compliance_status"] == "below_mandatory_floor"
    assert pd.isna(got["a"]["exemption_category"])
    assert got["a"]["registry_special_category"] == MOUNTAIN
    assert "cần sửa sổ đăng ký" in got["a"]["compliance_reason"]
    assert got["b"]["exemption_category"] == ISLET
    assert got["b"]["compliance_status"] == "special_case_awaiting_guidance"
    assert got["b"]["registry_special_category"] == "divided_terrain"
    assert got["b"]["special_category_source"] == "Danh sách của tỉnh: " + SOURCE_I
    assert pd.isna(got["c"]["registry_special_category"])  # nothing to report


def test_a_hamlet_on_two_lists_takes_the_lower_floor(tmp_path: Path) -> None:
    # Art. 10.3 lets either category be smaller; the province set 100 households for
    # mountainous communes and 50 for islets: a 60-household islet in a mountainous
    # commune may stay (60 >= 50), which the mountainous floor alone would forbid.
    lists = {
        MOUNTAIN: {"communes": ["04001"], "source": SOURCE_M},
        ISLET: {"hamlets": ["a"], "source": SOURCE_I},
    }
    floors = {MOUNTAIN: {"households": 100}, ISLET: {"households": 50}}
    rules = load_rules("nd185_2026", override_path=_override(tmp_path, lists, floors))
    got = _rows(compliance_rows([("a", 60), ("b", 60)], rules))
    assert got["a"]["exemption_category"] == ISLET
    assert got["a"]["compliance_status"] == "exempt"
    assert got["b"]["exemption_category"] == MOUNTAIN
    assert got["b"]["compliance_status"] == "below_mandatory_floor"  # below its 100


def test_lists_are_validated_naming_file_and_field(tmp_path: Path) -> None:
    # A list for a category the profile does not know.
    bad = _override(tmp_path, {"tea_hills": {"communes": ["04001"], "source": "x"}})
    with pytest.raises(
        RulesError, match=r"tinh_04.yaml.*category_lists.tea_hills is not a category"
    ):
        load_rules(override_path=bad)
    # A list without its source cannot be checked by anyone.
    bad = _override(tmp_path, {MOUNTAIN: {"communes": ["04001"]}})
    with pytest.raises(RulesError, match=rf"tinh_04.yaml.*category_lists.{MOUNTAIN}.source"):
        load_rules(override_path=bad)
    # A code typed as a number loses its leading zero: the position is named.
    bad = _override(tmp_path, {MOUNTAIN: {"communes": ["04001", 4002], "source": "x"}})
    with pytest.raises(RulesError, match=rf"{MOUNTAIN}.communes\[1\] must hold quoted codes"):
        load_rules(override_path=bad)


def test_codes_the_registry_does_not_know_are_rejected(tmp_path: Path) -> None:
    lists = {MOUNTAIN: {"communes": ["04001", "04777"], "hamlets": ["a"], "source": SOURCE_M}}
    rules = load_rules("nd185_2026", override_path=_override(tmp_path, lists))
    rules.check_list_codes(pd.Series(["a", "b"]), pd.Series(["04001", "04777"]))  # all known
    with pytest.raises(
        RulesError, match=r"tinh_04.yaml: .*communes\[1\] = '04777' is not a commune"
    ):
        rules.check_list_codes(pd.Series(["a"]), pd.Series(["04001"]))
    with pytest.raises(RulesError, match=r"hamlets\[0\] = 'a' is not a hamlet"):
        rules.check_list_codes(pd.Series(["b"]), pd.Series(["04001", "04777"]))


def test_rules_show_prints_each_categorys_list_and_source(tmp_path: Path) -> None:
    lists = {
        MOUNTAIN: {"communes": ["04001", "04002"], "source": SOURCE_M},
        "defence_security_key": {"communes": ["04003"], "source": "QĐ thử số 3"},
    }
    override = _override(tmp_path, lists)
    result = CliRunner().invoke(
        main, ["rules", "show", "--province", "04", "--rules-override", str(override)]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"danh sách của tỉnh: 2 xã/phường, 0 thôn, tổ dân phố; nguồn: {SOURCE_M}" in out
    assert "nguồn: QĐ thử số 3" in out
    # A category the province has not listed says so, and where it is read from instead.
    assert "tỉnh chưa cung cấp; theo cột diện đặc thù của sổ đăng ký" in out


REPO = Path(__file__).resolve().parents[2]
PLANNING_NOTEBOOKS = ("province_overview", "review_merger_options")


def _markdown(notebook: str) -> str:
    import json

    cells = json.loads((REPO / "notebooks" / f"{notebook}.ipynb").read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in cells["cells"] if c["cell_type"] == "markdown")


@pytest.mark.parametrize("notebook", PLANNING_NOTEBOOKS)
def test_notebooks_say_what_is_law_choice_and_assumption(notebook: str) -> None:
    text = _markdown(notebook)
    paragraph = next(p for p in text.split("\n\n") if "Luật, lựa chọn của tỉnh" in p)
    for part in ("*Luật*", "*Lựa chọn của tỉnh*", "*Giả định của dự án*"):
        assert part in paragraph
    # Art. 10.3: smaller, not exempt; awaiting the province's guidance until it decides.
    assert "thấp hơn" in paragraph and "chờ hướng dẫn của tỉnh" in paragraph
    for i in range(len(text)):
        if text.startswith("miễn", i):
            assert text[max(0, i - 20) : i].rstrip().endswith(("không được", "không phải được"))


def test_readme_says_what_is_law_choice_and_assumption() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("### Law, the province's choice, this project's assumptions", 1)[1]
    paragraph = section.split("\n\n")[1]
    for part in ("**Law**", "**The province's choice**", "**This project's assumptions**"):
        assert part in paragraph
    assert "not exempt" in paragraph and "lists of communes and hamlets" in paragraph
