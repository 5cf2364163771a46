"""Great Expectations suites generated from the contracts: what they check, that they run
offline on pandas nullable dtypes, and that results carry counts, never values."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from assets.quality.record_checks import record_issues
from expectations import suites
from expectations.schemas import CITIZEN_ID_PATTERN, TABLES, Table
from expectations.suites import (
    _runner,
    build_suite,
    to_gx_frame,
    validate_frame,
)

PERSONS = TABLES["staging.persons"]
HAMLETS = TABLES["staging.hamlets"]
REPO = Path(__file__).resolve().parents[2]


def person(n: int, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "record_id": f"persons.csv:{n}",
        "citizen_id": f"0010900{n:05d}",
        "full_name": f"Nguyễn Văn {n}",
        "birth_date": "1990-05-01",
        "birth_date_is_partial": False,
        "birth_date_order_unproven": False,
        "invalid_values": None,
        "sex": "nam",
        "household_id": f"HK{n:04d}",
        "relation_to_head": "Chủ hộ",
        "is_household_head": True,
        "ethnicity": "Kinh",
        "source_file": "persons.csv",
        "source_sha256": "a" * 64,
        "source_row_number": n,
        "load_id": "load-1",
    }
    row.update(overrides)
    return row


def persons(*rows: dict[str, object]) -> pd.DataFrame:
    return PERSONS.enforce(pd.DataFrame(list(rows)))


def hamlets() -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {
            "hamlet_code": ["T01", "T02"],
            "commune_code": ["01234", "01234"],
            "name_prefix": "Thôn",
            "hamlet_name": ["Nà Rụa", "Pác Bó"],
            "hamlet_kind": ["thon", "to_dan_pho"],
            "declared_households": pd.array([120, 300], dtype="Int64"),
            "declared_population": pd.array([500, None], dtype="Int64"),
            "exemption_category": [None, "border"],
            "area_km2": [1.0, 2.0],
        },
        geometry=[Point(106.2, 22.6), Point(106.3, 22.7)],
        crs="EPSG:4326",
    )
    return HAMLETS.enforce(frame)


def expectations_of(table: Table) -> dict[tuple[str, str | None], dict]:
    suite = build_suite(table)
    out = {}
    for e in suite.expectations:
        config = e.configuration
        column = config.kwargs.get("column") or ",".join(config.kwargs.get("column_list", []))
        out[config.type, column] = dict(config.kwargs)
    return out


def outcome(result, expectation: str, column: str):
    (found,) = [o for o in result.outcomes if (o.expectation, o.column) == (expectation, column)]
    return found


def test_persons_suite_is_derived_from_the_contract():
    suite = build_suite(PERSONS)
    assert suite.name == "staging.persons"
    got = expectations_of(PERSONS)
    for column in PERSONS.columns:
        assert ("expect_column_to_exist", column) in got
    not_null = {c for (kind, c) in got if kind == "expect_column_values_to_not_be_null"}
    assert not_null == set(PERSONS.required)
    assert got["expect_column_values_to_match_regex", "citizen_id"]["regex"] == CITIZEN_ID_PATTERN
    assert got["expect_column_values_to_be_in_set", "sex"]["value_set"] == ["nam", "nu"]
    assert ("expect_column_values_to_be_unique", "record_id") in got
    assert not any(c == "full_name" for (kind, c) in got if "regex" in kind or "set" in kind)


def test_geometry_is_skipped_and_ranges_and_compound_keys_are_used():
    got = expectations_of(HAMLETS)
    assert not [key for key in got if key[1] == "geometry"]
    between = got["expect_column_values_to_be_between", "declared_households"]
    assert between["min_value"] == 0 and between.get("max_value") is None
    assert ("expect_column_values_to_be_in_set", "hamlet_kind") in got
    compound = expectations_of(TABLES["quality.record_issues"])
    key = ",".join(TABLES["quality.record_issues"].primary_key)
    assert ("expect_compound_columns_to_be_unique", key) in compound


def test_clean_frame_passes_every_expectation():
    result = validate_frame(persons(*(person(i) for i in range(5))), PERSONS)
    assert result.success and result.failed == 0
    assert result.evaluated == len(build_suite(PERSONS).expectations)
    assert not any(o.raised_exception for o in result.outcomes)


def test_failures_are_counted_per_expectation():
    df = persons(
        person(1),
        person(2, citizen_id="12345"),
        person(3, citizen_id="12345", sex="male"),
        person(4, full_name=None, sex=None),
        person(5, record_id="persons.csv:1"),
    )
    result = validate_frame(df, PERSONS)
    assert not result.success
    assert (
        outcome(result, "expect_column_values_to_match_regex", "citizen_id").unexpected_count == 2
    )
    assert outcome(result, "expect_column_values_to_be_in_set", "sex").unexpected_count == 1
    assert outcome(result, "expect_column_values_to_not_be_null", "sex").unexpected_count == 1
    assert outcome(result, "expect_column_values_to_not_be_null", "full_name").unexpected_count == 1
    assert outcome(result, "expect_column_values_to_be_unique", "record_id").unexpected_count == 2
    assert outcome(result, "expect_column_values_to_be_unique", "record_id").element_count == 5
    assert len(result.critical_failures) == 5
    # The shared (malformed) ID also breaks the domain rule of unique IDs, at warning level.
    unique_id = outcome(result, "expect_column_values_to_be_unique", "citizen_id")
    assert unique_id.unexpected_count == 2 and unique_id.severity == "warning"
    assert result.failed == 6 == len([o for o in result.outcomes if not o.success])


def test_nullable_dtypes_with_missing_values_validate_with_right_counts():
    df = persons(
        person(1, is_household_head=None, source_row_number=None, ethnicity=None),
        person(2, citizen_id=None, sex=None),
        person(3, citizen_id="12"),
    )
    assert isinstance(df["citizen_id"].dtype, pd.StringDtype)
    assert isinstance(df["is_household_head"].dtype, pd.BooleanDtype)
    assert isinstance(df["source_row_number"].dtype, pd.Int64Dtype)
    assert df["sex"].isna().sum() == 1 and df["sex"].iloc[1] is pd.NA
    result = validate_frame(df, PERSONS)
    assert not any(o.raised_exception for o in result.outcomes)
    counts = {(o.expectation, o.column): o.unexpected_count for o in result.outcomes}
    assert counts["expect_column_values_to_not_be_null", "citizen_id"] == 1
    assert counts["expect_column_values_to_match_regex", "citizen_id"] == 1  # NA is not a mismatch
    assert counts["expect_column_values_to_not_be_null", "sex"] == 1
    assert counts["expect_column_values_to_be_in_set", "sex"] == 0
    assert counts["expect_column_values_to_be_unique", "record_id"] == 0
    assert len(result.critical_failures) == 3
    # A head flag that is NA is no head: the domain rule sees a household without one.
    assert counts["expect_household_to_have_one_head", "household_id,is_household_head"] == 1
    assert result.failed == 4
    # Nullable integers with NA in a range check (hamlets' declared counts).
    frame = hamlets()
    frame["declared_households"] = pd.array([None, -2], dtype="Int64")
    ranges = validate_frame(frame, HAMLETS)
    between = outcome(ranges, "expect_column_values_to_be_between", "declared_households")
    assert between.unexpected_count == 1 and not between.raised_exception


def test_geodataframe_validates_without_its_geometry():
    df = hamlets()
    assert "geometry" not in to_gx_frame(df, HAMLETS).columns
    assert validate_frame(df, HAMLETS).success
    bad = df.copy()
    bad["declared_households"] = pd.array([-1, 300], dtype="Int64")
    result = validate_frame(bad, HAMLETS)
    between = outcome(result, "expect_column_values_to_be_between", "declared_households")
    assert not result.success and between.unexpected_count == 1


def test_missing_column_fails_the_suite_instead_of_crashing():
    df = persons(person(1)).drop(columns=["sex"])
    result = validate_frame(df, PERSONS)
    assert not result.success
    assert not outcome(result, "expect_column_to_exist", "sex").success
    assert outcome(result, "expect_column_values_to_be_in_set", "sex").raised_exception


def test_suite_and_record_issues_agree_on_counts():
    df = persons(
        person(1, citizen_id="1"),
        person(2, sex="x"),
        person(3, household_id=None),
        person(4, record_id="persons.csv:5"),
        person(5),
    )
    result = validate_frame(df, PERSONS)
    issues = record_issues(df, PERSONS)
    rule_of = {
        "expect_column_values_to_match_regex": "pattern_mismatch",
        "expect_column_values_to_be_in_set": "not_in_allowed_values",
        "expect_column_values_to_not_be_null": "required_missing",
    }
    for o in result.outcomes:
        if o.expectation in rule_of:
            matching = issues[
                (issues.rule == rule_of[o.expectation]) & (issues.field_name == o.column)
            ]
            assert len(matching) == o.unexpected_count, o
    unique = outcome(result, "expect_column_values_to_be_unique", "record_id")
    assert unique.unexpected_count == 2  # record_issues reports the shared key once
    assert len(issues[issues.rule == "duplicate_key"]) == 1


def test_results_and_metadata_never_carry_personal_values():
    planted_id = "079123456789"
    planted_bad_id = "07912345678X"
    planted_name = "Phạm Thị Bí Mật"
    # A contract keyed on full_name, so the name itself is an unexpected (duplicate) value.
    by_name = Table(
        "staging",
        "persons_by_name",
        "test table keyed on a personal column",
        PERSONS.columns,
        primary_key=("full_name",),
        required=PERSONS.required,
    )
    df = persons(
        person(1, citizen_id=planted_id, full_name=planted_name),
        person(2, citizen_id=planted_id, full_name=planted_name),
        person(3, citizen_id=planted_bad_id, full_name=planted_name, sex="nữ"),
    )
    for table in (PERSONS, by_name):
        result = validate_frame(df, table)
        assert not result.success
        text = repr(result) + json.dumps(result.as_metadata(), ensure_ascii=False)
        for value in (planted_id, planted_bad_id, planted_name, "nữ"):
            assert value not in text
    unique = outcome(validate_frame(df, by_name), "expect_column_values_to_be_unique", "full_name")
    assert unique.unexpected_count == 3

    # The guard is real: asked for full results, GX itself would hand these values out.
    raw = _runner(by_name).validation.run(
        batch_parameters={"dataframe": to_gx_frame(df, by_name)}, result_format="COMPLETE"
    )
    raw_text = json.dumps(raw.to_json_dict(), ensure_ascii=False)
    assert planted_name in raw_text and planted_bad_id in raw_text


def test_metadata_is_json_and_lists_only_failures():
    result = validate_frame(persons(person(1), person(2, sex="x")), PERSONS)
    metadata = json.loads(json.dumps(result.as_metadata()))
    assert metadata["suite"] == "staging.persons"
    assert metadata["failed_expectations"] == 1
    assert metadata["evaluated_expectations"] == result.evaluated
    assert metadata["failures"] == [
        {
            "expectation": "expect_column_values_to_be_in_set",
            "column": "sex",
            "unexpected_count": 1,
            "element_count": 2,
            "raised_exception": False,
            "severity": "critical",
        }
    ]


def test_cached_runner_keeps_no_state_and_no_frame_between_runs(monkeypatch):
    assert _runner(PERSONS) is _runner(PERSONS)
    seen: list[weakref.ref] = []

    def spy(df: pd.DataFrame, table: Table) -> pd.DataFrame:
        frame = to_gx_frame(df, table)
        seen.append(weakref.ref(frame))
        return frame

    monkeypatch.setattr(suites, "to_gx_frame", spy)
    first = validate_frame(persons(person(1)), PERSONS)
    second = validate_frame(persons(person(1), person(2, sex="x")), PERSONS)
    assert first.success and not second.success
    gc.collect()
    # GX would otherwise pin the last (personal, possibly huge) frame until the next run.
    assert [ref() for ref in seen] == [None, None]


def test_frames_are_validated_without_fingerprinting_their_cells(monkeypatch):
    """GX would hash every cell of each batch to label it (a tenth of its time)."""
    from great_expectations.execution_engine import pandas_execution_engine

    hashed: list[int] = []

    def fingerprint(df: pd.DataFrame) -> str:
        hashed.append(len(df))
        return "fingerprint"

    monkeypatch.setattr(pandas_execution_engine, "hash_pandas_dataframe", fingerprint)
    clean = validate_frame(persons(*(person(i) for i in range(5))), PERSONS)
    failing = validate_frame(persons(person(1), person(2, sex="x")), PERSONS)
    assert clean.success and not failing.success
    assert hashed == []


def test_validation_runs_offline_without_hanging(tmp_path: Path):
    """Import GX, build a context and validate with every network connection refused."""
    script = textwrap.dedent(
        """
        import socket

        attempts = []

        def refuse(*args, **kwargs):
            attempts.append(args)
            raise OSError("network disabled in this test")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        import os
        import pandas as pd
        from expectations.schemas import TABLES
        from expectations.suites import validate_frame

        table = TABLES["staging.communes"]
        df = pd.DataFrame({c: pd.Series([], dtype=object) for c in table.columns})
        result = validate_frame(table.enforce(df), table)
        assert os.environ["GX_ANALYTICS_ENABLED"] == "false"
        print("evaluated", result.evaluated, "network attempts", len(attempts))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "network attempts 0" in done.stdout, done.stdout
    assert "network disabled" not in done.stderr


def test_batches_combine_into_the_whole_frame_counts():
    """The persons suite runs commune batch by batch; summed, the counts are the whole
    frame's (batches hold whole households; here no key is shared across them)."""
    first = persons(person(1), person(2, citizen_id="12345"), person(3, sex=None))
    second = persons(person(4, sex="male"), person(5), person(6, citizen_id="999"))
    whole = validate_frame(pd.concat([first, second], ignore_index=True), PERSONS)
    combined = suites.combine_results(
        [validate_frame(first, PERSONS), validate_frame(second, PERSONS)]
    )
    assert not combined.success and combined.failed == whole.failed == 3
    assert combined.outcomes == whole.outcomes
    passing = suites.combine_results([validate_frame(persons(person(7)), PERSONS)] * 2)
    assert passing.success and passing.failed == 0
    assert outcome(passing, "expect_column_values_to_not_be_null", "sex").element_count == 2


def test_batches_are_runs_of_their_own_with_data_docs_built_once(tmp_path, monkeypatch):
    """Validating batches gives each batch's own result and Data Docs page, as one
    validate_frame per batch does, but renders the Data Docs once, after the last."""
    frames = [
        persons(person(1), person(2, citizen_id="12345")),
        persons(person(3, sex=None)),
        persons(person(4)),
    ]
    alone = [validate_frame(f, PERSONS) for f in frames]
    builds: list[int] = []
    original = suites._write_data_docs

    def counted(runner, run_ids, suite_name):
        builds.append(len(run_ids))
        return original(runner, run_ids, suite_name)

    monkeypatch.setattr(suites, "_write_data_docs", counted)
    results = suites.validate_batches(
        ((f"run batch {n} of 3", f) for n, f in enumerate(frames, start=1)),
        PERSONS,
        data_docs_dir=tmp_path,
    )
    assert builds == [3]
    assert [r.outcomes for r in results] == [r.outcomes for r in alone]
    assert {r.data_docs for r in results} == {str(tmp_path.resolve() / "index.html")}
    pages = sorted(p.parts[-3] for p in (tmp_path / "validations").rglob("*.html"))
    assert pages == [f"run batch {n} of 3" for n in (1, 2, 3)]
