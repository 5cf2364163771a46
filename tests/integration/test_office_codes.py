"""Codes that Excel damaged: read back exactly, or quarantined with the reason (issue 21).

Every messy file here is made by the test from a clean synthetic province, the way a
spreadsheet damages codes: citizen IDs saved as numbers (leading zeros gone, ``.0``
kept by a float export, scientific notation where a cell showed it), typed in groups
or with no-break and zero-width spaces; hamlet and commune codes as numeric cells of a
workbook, a GeoPackage and a GeoJSON. The staged codes must equal the clean ones where
they can be read exactly, and exactly the others are quarantined with their reason,
each counted per file and field in ``staging.value_readings`` and never quoted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from assets.raw.landing import Landing, load_raw
from assets.staging.codes import (
    DECIMAL_ZERO_DROPPED,
    EXPONENT_EXPANDED,
    GROUPS_REMOVED,
    INVISIBLE_REMOVED,
    SPACES_REMOVED,
    ZEROS_RESTORED,
    ambiguous_reason,
    citizen_ids,
    commune_codes,
    hamlet_codes,
    scientific_reason,
)
from assets.staging.tables import (
    Staged,
    stage_communes,
    stage_hamlets,
    stage_households,
    stage_persons,
)
from assets.warehouse import Warehouse
from pipelines.runner import run_province
from pipelines.settings import Settings
from synthetic.province import synthesise_province

NBSP, ZWSP = "\u00a0", "\u200b"


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    """A clean synthetic province (no planted errors): the figures to match."""
    out = tmp_path_factory.mktemp("clean") / "04"
    synthesise_province(out, seed=7, households=400, n_communes=2, error_rate=0.0)
    shutil.rmtree(out / "ground_truth")
    return out


def _copy(clean: Path, tmp_path: Path) -> Path:
    out = tmp_path / "landing" / "04"
    shutil.copytree(clean, out)
    return out


def stage_all(landing: Path) -> dict[str, Staged]:
    files = Landing(landing)
    communes = stage_communes(load_raw(files.file("communes")))
    hamlets = stage_hamlets(
        load_raw(files.file("hamlet_boundaries")),
        load_raw(files.file("hamlet_registry")),
        communes.table,
    )
    return {
        "communes": communes,
        "hamlets": hamlets,
        "households": stage_households(load_raw(files.file("households")), hamlets.table),
        "persons": stage_persons(load_raw(files.file("persons"))),
    }


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _save_csv_as_excel(frame: pd.DataFrame, path: Path) -> None:
    """Excel's "CSV UTF-8": a BOM, CRLF, every cell as the sheet showed it."""
    frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")


def _as_number(code: str) -> str:
    """A code after Excel read it as a number: the leading zeros are gone."""
    return str(int(code))


def _scientific(code: str) -> str:
    """What a General cell shows for a long number, and what a CSV then keeps."""
    return f"{int(code):.5E}"


def _readings(staged: Staged, field_name: str) -> dict[tuple[str, str], int]:
    r = staged.readings
    r = r[r["field_name"] == field_name]
    return {
        (o, t): int(n) for o, t, n in zip(r["outcome"], r["reading"], r["records"], strict=True)
    }


# --- Persons as Excel saves them to CSV ---------------------------------------------


def _damage_persons(persons: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Every citizen ID saved as a number, with a few typed forms; some scientific.

    Returns the damaged frame and the rows (positions) of each form.
    """
    ids = persons["Số ĐDCN"].copy()
    n = len(ids)
    position = np.arange(n)
    # Scientific notation only in members' rows of households of several people, so
    # that no household loses every member (its count would change for another reason).
    sizes = persons.groupby("Mã hộ")["Mã hộ"].transform("size").to_numpy()
    members = np.flatnonzero((sizes > 2) & (persons["Quan hệ với chủ hộ"] != "Chủ hộ"))
    forms = {
        "scientific": members[::40][:5],
        "float": position[position % 10 == 1],
        "spaces": position[position % 10 == 2],
        "invisible": position[position % 10 == 3],
        "dots": position[position % 10 == 4],
        "hyphens": position[position % 10 == 5],
    }
    for kind in ("float", "spaces", "invisible", "dots", "hyphens"):
        forms[kind] = np.setdiff1d(forms[kind], forms["scientific"])
    forms["number"] = np.setdiff1d(position, np.concatenate(list(forms.values())))
    out = persons.copy()

    def grouped(code: str, sep: str) -> str:
        return sep.join(code[i : i + 3] for i in range(0, 12, 3))

    ids.iloc[forms["number"]] = ids.iloc[forms["number"]].map(_as_number)
    ids.iloc[forms["float"]] = ids.iloc[forms["float"]].map(lambda c: _as_number(c) + ".0")
    ids.iloc[forms["spaces"]] = ids.iloc[forms["spaces"]].map(lambda c: grouped(c, " "))
    ids.iloc[forms["invisible"]] = ids.iloc[forms["invisible"]].map(lambda c: ZWSP + c + NBSP)
    ids.iloc[forms["dots"]] = ids.iloc[forms["dots"]].map(lambda c: grouped(c, "."))
    ids.iloc[forms["hyphens"]] = ids.iloc[forms["hyphens"]].map(lambda c: grouped(c, "-"))
    ids.iloc[forms["scientific"]] = ids.iloc[forms["scientific"]].map(_scientific)
    out["Số ĐDCN"] = ids
    # Household codes copied from a web page: no-break and zero-width spaces around.
    households = out["Mã hộ"].copy()
    households.iloc[position % 7 == 3] = households.iloc[position % 7 == 3] + NBSP
    households.iloc[position % 7 == 4] = ZWSP + households.iloc[position % 7 == 4]
    out["Mã hộ"] = households
    return out, forms


def test_citizen_ids_saved_by_excel_are_read_back_or_quarantined(clean, tmp_path):
    """Today each ID staged as the spreadsheet left it: ``4077830875`` for
    ``004077830875`` (a format error for the quality stage, a lost person for the
    counts), ``4.07783E+09`` as if it were an ID, and household codes with a no-break
    space matched no household."""
    landing = _copy(clean, tmp_path)
    persons = _read_csv(landing / "persons.csv")
    damaged, forms = _damage_persons(persons)
    _save_csv_as_excel(damaged, landing / "persons.csv")

    want = stage_persons(load_raw(Landing(clean).file("persons"))).table
    staged = stage_persons(load_raw(Landing(landing).file("persons")))
    got = staged.table
    assert len(got) == len(want) and staged.rejected.empty

    lost = forms["scientific"]
    assert len(lost) == 5
    readable = np.setdiff1d(np.arange(len(got)), lost)
    assert got["citizen_id"].iloc[readable].tolist() == want["citizen_id"].iloc[readable].tolist()
    assert got["citizen_id"].iloc[lost].isna().all()  # never a wrong ID staged as right
    assert got["household_id"].tolist() == want["household_id"].tolist()
    pd.testing.assert_frame_equal(
        got.drop(columns=["citizen_id", "invalid_values", "source_sha256", "load_id"]),
        want.drop(columns=["citizen_id", "invalid_values", "source_sha256", "load_id"]),
    )
    # A present but unreadable ID is an invalid value (its shape noted), not a missing one.
    assert got["invalid_values"].iloc[lost].str.contains("citizen_id").all()
    assert got["invalid_values"].iloc[readable].isna().all()
    assert want["invalid_values"].isna().all()

    # Cao Bằng's IDs start 004 (two zeros lost); the 6% registered elsewhere 0XX (one).
    assert {len(c) for c in damaged["Số ĐDCN"].iloc[forms["number"]]} == {10, 11}
    readings = _readings(staged, "citizen_id")
    assert readings == {
        ("recovered", ZEROS_RESTORED): len(forms["number"]),
        ("recovered", f"{DECIMAL_ZERO_DROPPED}; {ZEROS_RESTORED}"): len(forms["float"]),
        ("recovered", SPACES_REMOVED): len(forms["spaces"]),
        ("recovered", f"{INVISIBLE_REMOVED}; {SPACES_REMOVED}"): len(forms["invisible"]),
        ("recovered", GROUPS_REMOVED): len(forms["dots"]) + len(forms["hyphens"]),
        ("quarantined", scientific_reason("citizen_id")): len(lost),
    }
    first = staged.readings.set_index("reading")["first_row_number"]
    assert first[scientific_reason("citizen_id")] == lost.min() + 1
    households = _readings(staged, "household_id")
    position = np.arange(len(got))
    assert households == {
        ("recovered", SPACES_REMOVED): int((position % 7 == 3).sum()),
        ("recovered", INVISIBLE_REMOVED): int((position % 7 == 4).sum()),
    }
    # Counted, never quoted: no ID, damaged or not, in a reading.
    text = staged.readings.to_string()
    assert not any(
        v in text for v in (*want["citizen_id"], *damaged["Số ĐDCN"].str.strip(NBSP + ZWSP))
    )


# --- Workbooks, GeoPackage and GeoJSON with numeric code cells -----------------------


def _numeric_workbook(frame: pd.DataFrame, path: Path, numeric: dict[str, type]) -> None:
    """An .xlsx whose ``numeric`` columns are number cells, as a clerk's sheet has them."""
    book = Workbook()
    sheet = book.active
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        sheet.append(
            [
                numeric[c](v) if c in numeric and v != "" else (v if v != "" else None)
                for c, v in zip(frame.columns, row, strict=True)
            ]
        )
    book.save(path)


def _damage_codes_to_numbers(landing: Path) -> None:
    """Hamlet and commune codes as numbers in every file that carries them; the
    households file an .xlsx of number cells (codes as int, one as float)."""
    households = _read_csv(landing / "households.csv")
    (landing / "households.csv").unlink()
    _numeric_workbook(
        households,
        landing / "households.xlsx",
        {"Mã thôn/TDP": int, "Kinh độ": float, "Vĩ độ": float},
    )
    registry = pd.read_excel(landing / "hamlet_registry.xlsx", dtype=str).fillna("")
    _numeric_workbook(
        registry,
        landing / "hamlet_registry.xlsx",
        {"Mã xã": int, "Mã thôn/TDP": float, "Số hộ": int, "Số nhân khẩu": int},
    )
    boundaries = gpd.read_file(landing / "hamlet_boundaries.gpkg")
    boundaries["hamlet_code"] = boundaries["hamlet_code"].astype("int64")
    boundaries["commune_code"] = boundaries["commune_code"].astype("int64")
    (landing / "hamlet_boundaries.gpkg").unlink()
    boundaries.to_file(landing / "hamlet_boundaries.gpkg", driver="GPKG")
    communes = gpd.read_file(landing / "communes.geojson")
    communes["commune_code"] = communes["commune_code"].astype("int64")
    (landing / "communes.geojson").unlink()
    communes.to_file(landing / "communes.geojson", driver="GeoJSON")


def test_numeric_code_cells_in_workbooks_and_gis_files_stage_as_the_clean_codes(clean, tmp_path):
    """Today a hamlet code that a workbook, a GeoPackage and a GeoJSON hold as numbers
    staged as ``4001001`` (or ``4001001.0``) against the registry's ``04001001``: the
    households matched no hamlet and the boundaries no registry row."""
    landing = _copy(clean, tmp_path)
    _damage_codes_to_numbers(landing)
    raw = load_raw(Landing(landing).file("hamlet_registry"))
    assert not raw["hamlet_code"].str.startswith("0").any()  # the damage is real

    want, got = stage_all(clean), stage_all(landing)
    lineage = ["source_file", "source_sha256", "load_id", "record_id", "geometry"]
    for name in ("communes", "hamlets", "households"):
        assert got[name].rejected.empty, got[name].rejected
        pd.testing.assert_frame_equal(
            pd.DataFrame(got[name].table).drop(columns=lineage, errors="ignore"),
            pd.DataFrame(want[name].table).drop(columns=lineage, errors="ignore"),
        )
    households = got["households"].table

    n_communes, n_hamlets = len(want["communes"].table), len(want["hamlets"].table)
    assert _readings(got["communes"], "commune_code") == {("recovered", ZEROS_RESTORED): n_communes}
    hamlet_readings = (
        got["hamlets"].readings.groupby(["source_file", "field_name", "reading"])["records"].sum()
    )
    assert hamlet_readings.to_dict() == {
        ("hamlet_boundaries.gpkg", "hamlet_code", ZEROS_RESTORED): n_hamlets,
        ("hamlet_registry.xlsx", "commune_code", ZEROS_RESTORED): n_hamlets,
        ("hamlet_registry.xlsx", "hamlet_code", ZEROS_RESTORED): n_hamlets,
    }
    assert _readings(got["households"], "hamlet_code") == {
        ("recovered", ZEROS_RESTORED): len(households)
    }
    # The clean files are read as written: nothing recovered, nothing quarantined.
    assert all(s.readings is None or s.readings.empty for s in want.values())


# --- Keys that cannot be read: the row is rejected, with the reason ------------------


def test_unreadable_keys_reject_their_rows_and_references_stay_missing(clean, tmp_path):
    """Household book numbers are long numbers in many communes, and a CSV saved by
    Excel shows some in scientific notation. Today those staged as keys: households
    whose numbers round alike became "repeats" of one another, and their persons
    pointed at the one kept. Now the households file rejects exactly those rows with the
    reason, and the persons' references stay missing (the quality stage quarantines
    those records) rather than point at another household."""
    landing = _copy(clean, tmp_path)
    households = _read_csv(landing / "households.csv")
    persons = _read_csv(landing / "persons.csv")
    numbers = {h: str(400_000_000_000 + 7 * i) for i, h in enumerate(households["Mã hộ"])}
    households["Mã hộ"] = households["Mã hộ"].map(numbers)
    persons["Mã hộ"] = persons["Mã hộ"].map(numbers)
    lost = households.index[households.index % 50 == 7]
    lost_numbers = set(households.loc[lost, "Mã hộ"])
    households.loc[lost, "Mã hộ"] = households.loc[lost, "Mã hộ"].map(_scientific)
    orphans = persons["Mã hộ"].isin(lost_numbers)
    persons.loc[orphans, "Mã hộ"] = persons.loc[orphans, "Mã hộ"].map(_scientific)
    _save_csv_as_excel(households, landing / "households.csv")
    _save_csv_as_excel(persons, landing / "persons.csv")

    staged = stage_all(landing)
    rejected = staged["households"].rejected
    assert rejected["source_row_number"].tolist() == (lost + 1).tolist()
    assert set(rejected["reason"]) == {scientific_reason("household_id")}
    assert set(rejected["field_name"]) == {"household_id"}
    kept = staged["households"].table["household_id"]
    assert kept.tolist() == households["Mã hộ"].drop(lost).tolist()
    assert _readings(staged["households"], "household_id") == {
        ("quarantined", scientific_reason("household_id")): len(lost)
    }
    people = staged["persons"].table
    assert staged["persons"].rejected.empty
    assert people["household_id"].isna().to_numpy().tolist() == orphans.tolist()
    assert people["household_id"].dropna().isin(kept).all()
    assert _readings(staged["persons"], "household_id") == {
        ("quarantined", scientific_reason("household_id")): int(orphans.sum())
    }
    shown = " ".join([*rejected["reason"], staged["persons"].readings.to_string()])
    assert not any(n in shown for n in numbers.values())


# --- One value at a time: each form and what it becomes ------------------------------

SCIENTIFIC, AMBIGUOUS = "scientific", "ambiguous"


@pytest.mark.parametrize(
    ("written", "staged", "outcome"),
    [
        ("4077830875", "004077830875", ZEROS_RESTORED),  # 004 (Cao Bằng): two zeros lost
        ("40190005678", "040190005678", ZEROS_RESTORED),  # 040 (Nghệ An): one zero lost
        ("40190005678.0", "040190005678", f"{DECIMAL_ZERO_DROPPED}; {ZEROS_RESTORED}"),
        ("4.077830875E+09", "004077830875", f"{EXPONENT_EXPANDED}; {ZEROS_RESTORED}"),
        ("40,190,005,678", "040190005678", f"{GROUPS_REMOVED}; {ZEROS_RESTORED}"),
        ("004 077 830 875", "004077830875", SPACES_REMOVED),
        ("004.077.830.875", "004077830875", GROUPS_REMOVED),
        ("004-077-830-875", "004077830875", GROUPS_REMOVED),
        (f"{ZWSP}004077830875\ufeff", "004077830875", INVISIBLE_REMOVED),
        ("004077830875", "004077830875", None),
        ("123456789", "123456789", None),  # an old 9-digit ID card number stays
        ("12345678", "12345678", None),  # not padded: the pattern rule reports it
        ("90190005678", "90190005678", None),  # 090 is no province: not padded
        ("40890005678", "40890005678", None),  # century digit 8: no living person
        ("004090O01234", "004090O01234", None),  # a letter typed: left for the rules
        ("4.07783E+09", None, SCIENTIFIC),
        ("4,07783E+09", None, SCIENTIFIC),  # the same with a decimal comma
        ("40.190", None, AMBIGUOUS),
        ("40190005678.5", None, "decimals"),
    ],
)
def test_each_citizen_id_form(written, staged, outcome):
    read = citizen_ids(pd.Series([written], dtype="string"))
    assert read.codes.iloc[0] == staged if staged else pd.isna(read.codes.iloc[0])
    recovered, problem = read.recovered.iloc[0], read.problem.iloc[0]
    if outcome == SCIENTIFIC:
        assert problem == scientific_reason("citizen_id") and pd.isna(recovered)
    elif outcome == AMBIGUOUS:
        assert problem == ambiguous_reason("citizen_id")
    elif outcome == "decimals":
        assert "number with decimals" in problem
    else:
        assert pd.isna(recovered) if outcome is None else recovered == outcome, recovered
        assert pd.isna(problem)
    if pd.notna(problem):
        assert written not in problem and "Số ĐDCN" in problem  # says what, in Vietnamese too


@pytest.mark.parametrize(
    ("written", "commune", "staged"),
    [
        ("1273001", "01273", "01273001"),  # a real Cao Bằng commune code
        ("4001", "00004", "00004001"),  # Hà Nội's: three zeros lost
        ("4001001", "04002", "4001001"),  # not its commune's prefix: left as written
        ("04001001", "04001", "04001001"),
        ("TH 01", "04001", "TH 01"),  # a code with letters is only trimmed
    ],
)
def test_hamlet_codes_take_their_communes_zeros(written, commune, staged):
    read = hamlet_codes(pd.Series([written]), communes=pd.Series([commune]))
    assert read.codes.iloc[0] == staged


def test_codes_are_padded_only_to_a_code_the_reference_lists():
    communes = commune_codes(pd.Series(["4001", "4003", "04001", "273"]), ["04001", "00273"])
    assert communes.codes.tolist() == ["04001", "4003", "04001", "00273"]
    hamlets = hamlet_codes(pd.Series(["4001001", "4009999", "4,001"]), known=["04001001"])
    assert hamlets.codes.tolist()[:2] == ["04001001", "4009999"]
    assert hamlets.problem.iloc[2] == ambiguous_reason("hamlet_code")


# --- The whole pipeline on a damaged province ----------------------------------------


def _run(landing_root: Path, warehouse: Path) -> tuple[Warehouse, dg.DagsterInstance]:
    settings = Settings(warehouse_url=f"duckdb:///{warehouse}", landing_root=landing_root)
    instance = dg.DagsterInstance.ephemeral()
    report = run_province(settings, instance=instance)
    assert report.success, report.errors
    return Warehouse(settings.warehouse_url), instance


def test_a_province_whose_codes_excel_damaged_publishes_the_clean_figures(clean, tmp_path):
    """Every file's codes damaged as above: persons saved by Excel as CSV, households
    and the registry as workbooks of number cells, the boundaries and the communes with
    numeric code fields. Today no household matches its hamlet and every person's ID is
    a format error: nothing publishes. Now the published hamlets, their households and
    compliance, and every option's units equal the clean province's; the persons whose
    ID lost its digits are exactly the records quarantined, and only they are missing
    from the population."""
    landing = _copy(clean, tmp_path)
    _damage_codes_to_numbers(landing)
    damaged, forms = _damage_persons(_read_csv(landing / "persons.csv"))
    _save_csv_as_excel(damaged, landing / "persons.csv")

    want, _ = _run(clean.parent, tmp_path / "clean.duckdb")
    got, instance = _run(landing.parent, tmp_path / "damaged.duckdb")

    lost = {f"persons.csv:{p + 1}" for p in forms["scientific"]}
    quarantined = got.read_table("quality.persons_quarantined")
    assert set(quarantined["record_id"]) == lost
    assert set(quarantined["reasons"]) == {"invalid_value:citizen_id"}
    assert want.read_table("quality.persons_quarantined").empty

    columns = ["hamlet_code", "households", "population", "compliance_status"]
    hamlets = got.read_table("marts.hamlets_current")[columns].set_index("hamlet_code")
    clean_hamlets = want.read_table("marts.hamlets_current")[columns].set_index("hamlet_code")
    pd.testing.assert_frame_equal(
        hamlets.drop(columns="population").sort_index(),
        clean_hamlets.drop(columns="population").sort_index(),
    )
    persons = want.read_table("staging.persons").set_index("record_id")
    households = want.read_table("staging.households").set_index("household_id")
    missing = households.loc[persons.loc[sorted(lost), "household_id"], "hamlet_code"]
    expected = clean_hamlets["population"].sub(missing.value_counts(), fill_value=0)
    assert hamlets["population"].sort_index().tolist() == expected.sort_index().tolist()
    options = ["commune_code", "option_name", "units_before", "units_after"]
    assert (
        got.read_table("marts.merger_options_current")[options]
        .sort_values(options[:2], ignore_index=True)
        .equals(
            want.read_table("marts.merger_options_current")[options].sort_values(
                options[:2], ignore_index=True
            )
        )
    )

    readings = got.read_table("staging.value_readings")
    ids = readings[readings["field_name"] == "citizen_id"]
    assert ids.loc[ids["outcome"] == "quarantined", "records"].sum() == len(lost)
    assert ids.loc[ids["outcome"] == "recovered", "records"].sum() == len(damaged) - len(lost)
    assert want.read_table("staging.value_readings").empty
    event = instance.get_latest_materialization_event(dg.AssetKey(["staging", "persons"]))
    metadata = event.asset_materialization.metadata
    assert (
        f"persons.csv citizen_id: {len(lost)} ({scientific_reason('citizen_id')})"
        in metadata["values_quarantined"].value
    )
