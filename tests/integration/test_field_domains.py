"""Every field has a domain (issue 18): invalid is not missing, birth dates in range,
ethnicity against the 54 official groups, foreign ID prefixes are warnings.

Inputs are written here by hand, and the planted province is built by this file's own
generator and planter, not by ``hamlets synth``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assets.quality.households import HEAD_TOO_YOUNG
from assets.quality.person_rules import BIRTH_DATE_FUTURE, BIRTH_DATE_TOO_OLD, INVALID_VALUE
from assets.quality.settings import QualitySettings
from assets.quality.validate import person_issues
from assets.raw.landing import find_landing_file, load_raw
from assets.staging.normalise import read_ethnicities, value_shapes
from assets.staging.tables import stage_persons
from expectations.citizen_id import CENTURY_SEX_MISMATCH, PREFIX_UNKNOWN, YEAR_MISMATCH
from expectations.reference import ETHNIC_FORMS, ETHNIC_GROUPS, OLD_PROVINCE_CODES

AS_OF = dt.date(2026, 6, 1)
SETTINGS = QualitySettings(as_of=AS_OF)
HEADER = [
    "Số ĐDCN",
    "Họ và tên",
    "Ngày sinh",
    "Giới tính",
    "Mã hộ",
    "Quan hệ với chủ hộ",
    "Dân tộc",
]


def _stage(tmp_path: Path, rows: list[list[str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=HEADER)
    frame.to_csv(tmp_path / "persons.csv", index=False, encoding="utf-8")
    return stage_persons(load_raw(find_landing_file(tmp_path, "persons")), as_of=AS_OF)


def _issues(persons: pd.DataFrame, settings: QualitySettings = SETTINGS) -> pd.DataFrame:
    ids = persons["household_id"].dropna().unique()
    households = pd.DataFrame(
        {"household_id": ids, "hamlet_code": "0000101", "record_id": "households.csv:" + ids}
    )
    hamlets = pd.DataFrame({"hamlet_code": ["0000101"], "commune_code": ["00001"]})
    return person_issues(persons, households, hamlets, settings)


def _row(cid: str, birth: str, sex: str = "Nam", relation: str = "Chủ hộ", ethnicity: str = "Kinh"):
    return [cid, "Nông Văn A", birth, sex, "H" + cid[-6:], relation, ethnicity]


# --- 1. Invalid is not missing ---------------------------------------------------------


def test_a_sex_outside_the_vocabulary_is_invalid_with_its_shape_and_an_empty_one_missing(
    tmp_path,
):
    staged = _stage(
        tmp_path,
        [
            _row("001090000001", "15/03/1990", sex="3"),
            _row("001090000002", "15/03/1990", sex=""),
            _row("001090000003", "15/03/1990", sex="Nam"),
        ],
    )
    table = staged.table
    assert table["sex"].isna().tolist() == [True, True, False]
    assert table["invalid_values"].tolist()[0] == "sex: 1 character, digits"
    assert table["invalid_values"].isna().tolist() == [False, True, True]
    issues = _issues(table)
    by_record = {(r.record_id, r.rule): r for r in issues.itertuples()}
    invalid = by_record[("persons.csv:1", INVALID_VALUE)]
    assert invalid.field_name == "sex" and invalid.severity == "error"
    assert "1 character, digits" in invalid.message and "Nam hoặc Nữ" in invalid.message
    assert ("persons.csv:1", "required_missing") not in by_record
    assert by_record[("persons.csv:2", "required_missing")].field_name == "sex"
    assert not any(r == "persons.csv:3" for r, _ in by_record)
    quarantined = staged.readings[staged.readings["field_name"].eq("sex")]
    assert quarantined["reading"].str.contains("invalid_value").all()


def test_no_value_of_an_invalid_field_reaches_the_message(tmp_path):
    secret = "Bí Mật 123"
    staged = _stage(
        tmp_path,
        [_row("001090000001", "15/03/1990", sex=secret, relation=secret, ethnicity=secret)],
    )
    issues = _issues(staged.table)
    assert set(issues["field_name"]) == {"sex", "relation_to_head", "ethnicity"}
    assert not issues["message"].str.contains(secret, regex=False).any()
    assert not staged.table["invalid_values"].str.contains(secret, regex=False).any()


def test_an_unknown_relation_is_an_invalid_warning_and_known_ones_pass(tmp_path):
    rows = [_row("001090000001", "15/03/1960")]
    for i, relation in enumerate(["Con dâu", "Em", "Cháu nội", "??", "xyz"], start=2):
        rows.append([f"0010{'9' if i % 2 else '8'}000000{i}", "A", "15/03/1990", "Nam",
                     "H000001", relation, "Kinh"])  # fmt: skip
    issues = _issues(_stage(tmp_path, rows).table)
    invalid = issues[issues["rule"].eq(INVALID_VALUE)]
    assert sorted(invalid["record_id"]) == ["persons.csv:5", "persons.csv:6"]
    assert set(invalid["severity"]) == {"warning"}


def test_value_shapes_describe_without_quoting():
    shapes = value_shapes(pd.Series(["3", "Nam giới", "A1", "x-1", None]))
    assert shapes.tolist()[:4] == [
        "1 character, digits",
        "8 characters, letters",
        "2 characters, letters and digits",
        "3 characters, with signs",
    ]
    assert pd.isna(shapes.iloc[4])


# --- 2. Birth dates ------------------------------------------------------------------


def test_birth_dates_in_the_future_or_beyond_the_oldest_age_are_errors(tmp_path):
    staged = _stage(
        tmp_path,
        [
            _row("001290000001", "15/03/2029"),  # after the extract date
            _row("001005000002", "15/03/1905"),  # 121 years before it
            _row("001010000003", "15/03/1910"),  # 116: old, not impossible
        ],
    )
    issues = _issues(staged.table)
    rules = {(r.record_id, r.rule) for r in issues.itertuples()}
    assert ("persons.csv:1", BIRTH_DATE_FUTURE) in rules
    assert ("persons.csv:2", BIRTH_DATE_TOO_OLD) in rules
    assert not any(r == "persons.csv:3" for r, _ in rules)
    stricter = _issues(staged.table, QualitySettings(as_of=AS_OF, max_age_years=110))
    assert ("persons.csv:3", BIRTH_DATE_TOO_OLD) in {
        (r.record_id, r.rule) for r in stricter.itertuples()
    }


def test_birth_year_disagreeing_with_the_id_century_or_year_digits_is_an_error(tmp_path):
    staged = _stage(
        tmp_path,
        [
            _row("001290000001", "15/03/1990"),  # G=2: 2000s, born 1990
            _row("001085000002", "15/03/1990"),  # YY=85, born 1990
        ],
    )
    rules = {(r.record_id, r.rule, r.severity) for r in _issues(staged.table).itertuples()}
    assert ("persons.csv:1", CENTURY_SEX_MISMATCH, "error") in rules
    assert ("persons.csv:2", YEAR_MISMATCH, "error") in rules


# --- 3. Ethnicity --------------------------------------------------------------------


def test_the_54_groups_ship_as_data_with_their_source():
    from expectations.reference import ETHNIC_GROUPS_CSV

    assert len(ETHNIC_GROUPS) == 56  # 54 groups, foreign national, not known
    assert ETHNIC_GROUPS_CSV.read_text(encoding="utf-8").startswith("# Source:")
    assert "121-TCTK-PPCĐ" in ETHNIC_GROUPS_CSV.read_text(encoding="utf-8").splitlines()[0]
    for alias, official in [("H'Mông", "Mông"), ("Hmông", "Mông"), ("Mèo", "Mông"),
                            ("Việt", "Kinh"), ("Mán", "Dao"), ("Sán chay", "Sán Chay"),
                            ("Lô lô", "Lô Lô"), ("Sán dìu", "Sán Dìu")]:  # fmt: skip
        assert read_ethnicities(pd.Series([alias]))["ethnicity"].iloc[0] == official


def test_aliases_are_recovered_and_unknown_ethnicities_invalid_with_suggestions(tmp_path):
    staged = _stage(
        tmp_path,
        [
            _row("001090000001", "15/03/1990", ethnicity="H'Mông"),
            _row("001090000002", "15/03/1990", ethnicity="Mường Mường"),
            _row("001090000003", "15/03/1990", ethnicity="Người nước ngoài"),
            _row("001090000004", "15/03/1990", ethnicity="Không xác định"),
        ],
    )
    table = staged.table
    assert table["ethnicity"].tolist()[0] == "Mông" and pd.isna(table["ethnicity"].iloc[1])
    readings = staged.readings.set_index(["field_name", "outcome"])
    assert readings.loc[("ethnicity", "recovered"), "records"] == 1
    issues = _issues(table)
    assert issues["record_id"].tolist() == ["persons.csv:2"]
    assert issues["severity"].iloc[0] == "warning"
    assert "Mường" in issues["message"].iloc[0] and "gần nhất" in issues["message"].iloc[0]


# --- 4. ID prefixes ------------------------------------------------------------------


def test_a_prefix_no_province_has_is_a_warning_and_every_old_province_passes(tmp_path):
    rows = [_row(f"0{code}0900{i:05d}", "15/03/1990") for i, code in enumerate(OLD_PROVINCE_CODES)]
    rows.append(_row("840090000999", "15/03/1990"))  # issued abroad: not a province code
    issues = _issues(_stage(tmp_path, rows).table)
    assert issues["record_id"].tolist() == [f"persons.csv:{len(rows)}"]
    assert issues["rule"].iloc[0] == PREFIX_UNKNOWN and issues["severity"].iloc[0] == "warning"


# --- 5. A planted province -----------------------------------------------------------

KINDS = {
    "sex_invalid": (INVALID_VALUE, "sex"),
    "relation_invalid": (INVALID_VALUE, "relation_to_head"),
    "ethnicity_invalid": (INVALID_VALUE, "ethnicity"),
    "birth_future": (BIRTH_DATE_FUTURE, "birth_date"),
    "birth_too_old": (BIRTH_DATE_TOO_OLD, "birth_date"),
    "id_century": (CENTURY_SEX_MISMATCH, "citizen_id"),
    "id_year": (YEAR_MISMATCH, "citizen_id"),
    "id_prefix_foreign": (PREFIX_UNKNOWN, "citizen_id"),
    "head_too_young": (HEAD_TOO_YOUNG, "relation_to_head"),
}
PER_KIND = 40


def _clean_province(rng: np.random.Generator, households: int) -> pd.DataFrame:
    """Households of a head, a spouse and children, every value in its domain."""
    groups = [g for g in ETHNIC_GROUPS[:54]]
    aliases = [form for form in ("H'Mông", "Mèo", "Việt", "Mán", "Gia-rai")]
    rows, serial = [], 0
    for h in range(households):
        head_age = int(rng.integers(40, 80))
        head_male = bool(rng.random() < 0.7)
        group = str(rng.choice(groups)) if rng.random() < 0.9 else str(rng.choice(aliases))
        members = [(head_age, head_male, "Chủ hộ")]
        members.append((head_age + int(rng.integers(-5, 6)), not head_male,
                        "Vợ" if head_male else "Chồng"))  # fmt: skip
        for _ in range(int(rng.integers(0, 4))):
            members.append((head_age - int(rng.integers(20, 30)), bool(rng.random() < 0.5), "Con"))
        for age, male, relation in members:
            serial += 1
            year = AS_OF.year - age - 1
            born = dt.date(year, int(rng.integers(1, 13)), int(rng.integers(13, 29)))
            g = (year // 100 - 19) * 2 + (0 if male else 1)
            prefix = "0" + str(rng.choice(OLD_PROVINCE_CODES))
            rows.append(
                {
                    "Số ĐDCN": f"{prefix}{g}{year % 100:02d}{serial:06d}",
                    "Họ và tên": f"Người {serial}",
                    "Ngày sinh": born.strftime("%d/%m/%Y"),
                    "Giới tính": "Nam" if male else "Nữ",
                    "Mã hộ": f"HH{h:05d}",
                    "Quan hệ với chủ hộ": relation,
                    "Dân tộc": group,
                }
            )
    return pd.DataFrame(rows)


def _plant(clean: pd.DataFrame, rng: np.random.Generator) -> dict[str, list[int]]:
    """``PER_KIND`` records of each kind, each record planted once, in place; returns
    the data rows (1-based) per kind."""
    free = list(rng.permutation(np.flatnonzero(~clean["Quan hệ với chủ hộ"].eq("Chủ hộ"))))
    heads = list(rng.permutation(np.flatnonzero(clean["Quan hệ với chủ hộ"].eq("Chủ hộ"))))
    planted: dict[str, list[int]] = {}
    cid = clean["Số ĐDCN"]
    for kind in KINDS:
        pool = heads if kind == "head_too_young" else free
        rows = [int(pool.pop()) for _ in range(PER_KIND)]
        planted[kind] = [r + 1 for r in rows]
        for r in rows:
            c = cid.iat[r]
            if kind == "sex_invalid":
                clean.iat[r, 3] = str(rng.choice(["1", "0", "2", "X", "Khác", "N/A"]))
            elif kind == "relation_invalid":
                clean.iat[r, 5] = str(rng.choice(["abc", "0", "Con cái nhà", "??", "Vợ 2"]))
            elif kind == "ethnicity_invalid":
                clean.iat[r, 6] = str(rng.choice(["Kinhh", "Xyz", "123", "Dân tộc khác", "Tàyy"]))
            elif kind == "birth_future":
                born = dt.date(int(rng.integers(2027, 2040)), 5, 20)
                clean.iat[r, 2] = born.strftime("%d/%m/%Y")
            elif kind == "birth_too_old":
                clean.iat[r, 2] = dt.date(int(rng.integers(1850, 1905)), 5, 20).strftime("%d/%m/%Y")
            elif kind == "id_century":
                g = int(c[3])
                clean.iat[r, 0] = c[:3] + str(g + 2 if g < 2 else g - 2) + c[4:]
            elif kind == "id_year":
                clean.iat[r, 0] = (
                    c[:4] + f"{(int(c[4:6]) + int(rng.integers(1, 9))) % 100:02d}" + c[6:]
                )
            elif kind == "id_prefix_foreign":
                clean.iat[r, 0] = str(rng.choice(["840", "156", "410", "100", "003"])) + c[3:]
            elif kind == "head_too_young":
                # the household reduced to its head, aged 10-14 (a lone minor as head)
                hh = clean.iat[r, 4]
                others = clean.index[clean["Mã hộ"].eq(hh)].difference([clean.index[r]])
                clean.loc[others, "Mã hộ"] = "HX" + hh  # moved to a headless household
                year = AS_OF.year - int(rng.integers(9, 14)) - 1  # aged 10-14
                male = clean.iat[r, 3] == "Nam"
                clean.iat[r, 2] = dt.date(year, 5, 20).strftime("%d/%m/%Y")
                clean.iat[r, 0] = c[:3] + str(2 + (0 if male else 1)) + f"{year % 100:02d}" + c[6:]
    return planted


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    rng = np.random.default_rng(18)
    clean = _clean_province(rng, 900)
    dirty = clean.copy()
    planted = _plant(dirty, np.random.default_rng(1818))
    staged = {}
    for name, frame in (("clean", clean), ("dirty", dirty)):
        folder = tmp_path_factory.mktemp(name)
        frame.to_csv(folder / "persons.csv", index=False, encoding="utf-8")
        persons = stage_persons(load_raw(find_landing_file(folder, "persons")), as_of=AS_OF)
        staged[name] = persons.table
    return staged, planted


def test_the_clean_province_has_no_issue(province):
    staged, _ = province
    assert len(staged["clean"]) > 2500
    assert _issues(staged["clean"]).empty


def test_planted_domain_errors_are_found_per_kind_and_nothing_else(province):
    staged, planted = province
    issues = _issues(staged["dirty"])
    issues = issues[~issues["rule"].eq("household_no_head")]  # the moved members' households
    moved = staged["dirty"]["household_id"].str.startswith("HX").fillna(False)
    moved_ids = set(staged["dirty"].loc[moved, "record_id"])
    found = set(issues[["record_id", "rule", "field_name"]].itertuples(index=False, name=None))
    for kind, (rule, field_name) in KINDS.items():
        hits = sum((f"persons.csv:{r}", rule, field_name) in found for r in planted[kind])
        assert hits / PER_KIND >= 0.99, (kind, hits)
    planted_ids = {f"persons.csv:{r}" for rows in planted.values() for r in rows}
    flagged = set(issues["record_id"]) - moved_ids
    assert len(flagged & planted_ids) / len(flagged) >= 0.99, sorted(flagged - planted_ids)[:5]
    assert ETHNIC_FORMS  # the vocabulary the planter's aliases are read against
