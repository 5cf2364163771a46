"""The country on Spark (issue 22): the same person registered in two provinces.

Three small clean synthetic provinces; this test's own planter copies records of one
province into another with the slips a clerk makes (diacritics lost, ID left out, one
ID digit mistyped, given and middle name swapped). The province model, trained once
with DuckDB, links the provinces on Splink's Spark backend in local mode (no network):
precision and recall of the planted pairs ≥ 0.95, and DuckDB gives the same clusters.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from assets.quality.duplicates import trained_model
from assets.quality.national import (
    cross_province_clusters,
    link_on_duckdb,
    link_on_spark,
    read_restricted_persons,
    restricted_persons,
    spark_session,
    write_restricted_persons,
)
from assets.raw.landing import Landing, load_raw
from assets.staging.tables import stage_persons
from assets.warehouse import Warehouse
from expectations.schemas import strip_diacritics
from synthetic.province import synthesise_province

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java")

PROVINCES = ("04", "08", "11")
PER_PAIR = 12  # planted copies per ordered pair of provinces (6 pairs: 72 copies)
SECRET = b"test secret for national duplicates, 32+ bytes long"


def _slip(source: pd.Series, i: int) -> pd.Series:
    """A copy of ``source`` with one kind of slip, by ``i``."""
    copy = source.copy()
    kind = i % 4
    if kind == 0:
        copy["full_name"] = strip_diacritics(str(source["full_name"]))
        copy["citizen_id"] = pd.NA
    elif kind == 1:
        cid = str(source["citizen_id"])
        copy["citizen_id"] = cid[:-1] + str((int(cid[-1]) + 1) % 10)
    elif kind == 2:
        words = str(source["full_name"]).split()
        if len(words) >= 3:
            words[-1], words[-2] = words[-2], words[-1]
        copy["full_name"] = " ".join(words)
    else:
        copy["full_name"] = str(source["full_name"]).upper()
        copy["citizen_id"] = pd.NA
    return copy


def plant_across(
    provinces: dict[str, pd.DataFrame], seed: int = 5
) -> tuple[dict[str, pd.DataFrame], set[tuple[str, str]]]:
    """Copy records of each province into each other (a new record in a random household
    there); the truth is the set of planted pairs as sorted ``province:record`` keys."""
    rng = np.random.default_rng(seed)
    added: dict[str, list[pd.Series]] = {code: [] for code in provinces}
    truth: set[tuple[str, str]] = set()
    for source_code, persons in provinces.items():
        valid = persons[persons["citizen_id"].str.fullmatch(r"\d{12}", na=False)]
        picks = rng.choice(len(valid), size=PER_PAIR * (len(provinces) - 1), replace=False)
        targets = [c for c in provinces if c != source_code]
        for n, pick in enumerate(picks):
            target = targets[n % len(targets)]
            source = valid.iloc[pick]
            copy = _slip(source, n)
            copy["record_id"] = f"moved:{source_code}:{n}"
            homes = provinces[target]["household_id"].unique()
            copy["household_id"] = rng.choice(homes)
            added[target].append(copy)
            pair = sorted([f"{source_code}:{source['record_id']}", f"{target}:{copy['record_id']}"])
            truth.add((pair[0], pair[1]))
    planted = {
        code: pd.concat([persons, pd.DataFrame(added[code])], ignore_index=True).astype(
            persons.dtypes.to_dict()
        )
        for code, persons in provinces.items()
    }
    return planted, truth


@pytest.fixture(scope="module")
def provinces(tmp_path_factory) -> tuple[dict[str, pd.DataFrame], set[tuple[str, str]]]:
    staged = {}
    for n, code in enumerate(PROVINCES):
        landing = tmp_path_factory.mktemp(f"p{code}")
        synthesise_province(
            landing, seed=40 + n, households=400, n_communes=2, province_code=code, error_rate=0
        )
        staged[code] = stage_persons(load_raw(Landing(landing).file("persons"))).table
    return plant_across(staged)


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """One local-mode session for the module, writing only under pytest's tmp dir."""
    scratch = tmp_path_factory.mktemp("spark")
    session = spark_session(
        "local[1]",
        **{
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "1",
            "spark.sql.warehouse.dir": str(scratch / "warehouse"),
            "spark.local.dir": str(scratch / "local"),
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={scratch}",
        },
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def models(provinces) -> dict[str, dict]:
    """The province model trained on a sample of the country (one province), rendered
    for each engine (training is deterministic: the same probabilities in both)."""
    planted, _ = provinces
    sample = restricted_persons(planted["04"], "04")
    return {dialect: trained_model(sample, dialect=dialect) for dialect in ("duckdb", "spark")}


def _pairs_of(table: pd.DataFrame) -> set[tuple[str, str]]:
    keys = table["province_code"] + ":" + table["record_id"]
    found = set()
    for _, members in keys.groupby(table["cluster_id"]):
        ordered = sorted(members)
        found |= {(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :]}
    return found


def test_spark_finds_the_planted_cross_province_duplicates(provinces, spark, models, tmp_path):
    planted, truth = provinces
    for code, persons in planted.items():
        write_restricted_persons(persons, code, tmp_path / "national")
    persons = read_restricted_persons(spark, tmp_path / "national")
    pairs = link_on_spark(spark, persons, models["spark"])
    run = cross_province_clusters(pairs, SECRET)
    found = _pairs_of(run.table)
    hits = len(found & truth)
    precision, recall = hits / max(len(found), 1), hits / len(truth)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall, len(found), len(truth))
    # Each cluster spans provinces and is named by a keyed reference, no record key.
    assert (run.table.groupby("cluster_id")["province_code"].nunique() > 1).all()
    assert run.table["cluster_id"].str.fullmatch(r"[0-9a-f]{64}").all()
    # Written back to each province's quality layer, under the table's contract.
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    for code in planted:
        rows = run.table[run.table["province_code"] == code]
        warehouse.for_province(code).write_table("quality.national_duplicates", rows)
    stored = warehouse.read_table("quality.national_duplicates")
    assert len(stored) == len(run.table)
    assert set(stored["province_code"]) == set(run.table["province_code"])


def test_duckdb_and_spark_give_the_same_clusters(provinces, spark, models):
    planted, _ = provinces
    frame = pd.concat([restricted_persons(p, code) for code, p in planted.items()])
    on_duckdb = cross_province_clusters(link_on_duckdb(frame, models["duckdb"]), SECRET).table
    on_spark = cross_province_clusters(link_on_spark(spark, frame, models["spark"]), SECRET).table
    assert len(on_duckdb) > 0
    key = ["cluster_id", "province_code", "record_id", "household_id", "provinces"]
    pd.testing.assert_frame_equal(on_duckdb[key], on_spark[key])
    np.testing.assert_allclose(
        on_duckdb["match_probability"], on_spark["match_probability"], atol=1e-4
    )


def test_national_assets_are_outside_the_province_job(tmp_path):
    """The national job depends on every province: a province run must not start it."""
    from pipelines.build import build_defs
    from pipelines.jobs import PROVINCE_JOB_NAME
    from pipelines.settings import Settings

    settings = Settings(warehouse_url=f"duckdb:///{tmp_path}/w.duckdb", landing_root=tmp_path)
    defs = build_defs(settings)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"quality/national_export", "quality/national_duplicates"} <= keys
    job = defs.resolve_job_def(PROVINCE_JOB_NAME)
    in_job = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert "quality/record_issues" in in_job
    assert not in_job & {"quality/national_export", "quality/national_duplicates"}
