"""National duplicate detection: is the same person registered in two provinces?

Each province's run exports its persons, in the form the duplicate model compares
(``splink_input``), to a restricted Parquet file (``restricted_persons``): names, birth
dates and citizen IDs stay raw because the model compares them fuzzily (a keyed hash
only says equal or not), so the files live in the restricted zone like the warehouse.

The national job links those files with the SAME model as a province's run
(``assets.quality.duplicates``): the model is trained once on a sample with DuckDB
(``trained_model``) and reused as it is, switched to ``link_only`` across provinces (a
province's own pairs are its own run's work). Prediction runs on Splink's Spark backend
(a cluster in the police's data centre; local mode in tests), or on DuckDB for the same
answer on one machine. Only pairs at or above the threshold leave the engine; they are
clustered here (connected components, as Splink clusters) and each cluster spanning
provinces becomes one row per record, for the province that holds it. The cluster is
named by a keyed reference (``assets.privacy.record_reference``), so a province learns
that its record has a twin elsewhere without the other province's record key.
"""

from __future__ import annotations

import copy
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from assets.privacy import record_reference
from assets.quality.duplicates import splink_input

# One row per person record of a cross-province cluster, stored in the province's
# quality layer (restricted: record keys, no names or IDs).
NATIONAL_COLUMNS = (
    "province_code",
    "record_id",
    "household_id",
    "cluster_id",
    "provinces",
    "match_probability",
)
PROVINCE = "source_dataset"  # Splink's column naming the dataset a record comes from


def restricted_persons(persons: pd.DataFrame, province_code: str) -> pd.DataFrame:
    """A province's persons as the model compares them, with the province: the content
    of its restricted national export."""
    frame = splink_input(persons)
    frame.insert(0, PROVINCE, province_code)
    return frame


def write_restricted_persons(persons: pd.DataFrame, province_code: str, folder: Path) -> Path:
    """Write the province's restricted export to ``folder/province=<code>/persons.parquet``
    (a Hive-style partition Spark reads as one dataset) and return its path."""
    path = Path(folder) / f"province={province_code}" / "persons.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = restricted_persons(persons, province_code)
    # A date, not pandas' nanosecond timestamp (which Spark's Parquet reader refuses).
    frame["birth_date"] = frame["birth_date"].dt.date
    frame.to_parquet(path, index=False)
    return path


def national_model(model: dict) -> dict:
    """A province model (Splink JSON settings) linking across provinces instead."""
    linked = copy.deepcopy(model)
    linked["link_type"] = "link_only"
    linked["source_dataset_column_name"] = PROVINCE
    return linked


@dataclass(frozen=True)
class NationalRun:
    """Cross-province clusters, with counts for metadata."""

    table: pd.DataFrame  # NATIONAL_COLUMNS
    pairs_linked: int


def _linked_pairs(db_api, table, model: dict, threshold: float) -> pd.DataFrame:
    """Pairs of records in different provinces at or above ``threshold``."""
    from splink import Linker

    # A fresh name per run: a Spark session keeps its temporary views between runs.
    name = f"national_persons_{uuid.uuid4().hex}"
    linker = Linker(db_api.register(table, table_name=name), national_model(model))
    logging.getLogger("splink").setLevel(logging.WARNING)
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    columns = [
        f"{PROVINCE}_l",
        "unique_id_l",
        "household_id_l",
        f"{PROVINCE}_r",
        "unique_id_r",
        "household_id_r",
        "match_probability",
    ]
    return predictions.as_pandas_dataframe()[columns]


def link_on_duckdb(frame: pd.DataFrame, model: dict, threshold: float = 0.9) -> pd.DataFrame:
    """Linked cross-province pairs of ``frame`` (``restricted_persons`` rows) on DuckDB."""
    import duckdb
    from splink import DuckDBAPI

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET enable_progress_bar = false")
        return _linked_pairs(DuckDBAPI(con), frame, model, threshold)
    finally:
        con.close()


def link_on_spark(spark, persons, model: dict, threshold: float = 0.9) -> pd.DataFrame:
    """Linked cross-province pairs on Splink's Spark backend. ``persons`` is a Spark
    DataFrame of ``restricted_persons`` rows (``read_restricted_persons``) or a pandas
    frame of them. The session must carry Splink's similarity jar (``spark_session``)."""
    from splink.backends.spark import SparkAPI

    # persist, not Parquet checkpoints: works on Spark Connect and writes no files.
    api = SparkAPI(spark_session=spark, break_lineage_method="persist")
    return _linked_pairs(api, persons, model, threshold)


def read_restricted_persons(spark, folder: Path | str):
    """Every province's restricted export under ``folder`` as one Spark DataFrame. The
    province is the files' own column: Spark would read the folder name "04" as 4."""
    return spark.read.parquet(str(folder)).drop("province")


def spark_session(master: str = "local[1]", remote: str | None = None, **conf: str):
    """A SparkSession with Splink's similarity functions: classic (``master``: local[N],
    spark://host:7077, yarn, k8s://…) or Spark Connect (``remote``: sc://host:15002,
    where the server must have been started with Splink's jar)."""
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    builder = SparkSession.builder.appName("hamlets-national-duplicates")
    if remote:
        builder = builder.remote(remote)
    else:
        builder = builder.master(master).config("spark.jars", similarity_jar_location())
        builder = builder.config("spark.ui.enabled", "false")
        builder = builder.config("spark.ui.showConsoleProgress", "false")
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def cross_province_clusters(pairs: pd.DataFrame, secret: bytes) -> NationalRun:
    """Connected components of the linked pairs, one row per record, named by the keyed
    reference of their smallest ``province:record`` key (same whatever the engine)."""
    if pairs.empty:
        empty = pd.DataFrame({c: pd.Series([], dtype="string") for c in NATIONAL_COLUMNS})
        return NationalRun(empty.astype({"match_probability": "float64"}), 0)
    sides = []
    for side in ("l", "r"):
        sides.append(
            pd.DataFrame(
                {
                    "province_code": pairs[f"{PROVINCE}_{side}"].astype("string"),
                    "record_id": pairs[f"unique_id_{side}"].astype("string"),
                    "household_id": pairs[f"household_id_{side}"].astype("string"),
                    "match_probability": pairs["match_probability"].astype("float64"),
                }
            )
        )
    edges = pd.concat(sides, ignore_index=True)
    edges["key"] = edges["province_code"] + ":" + edges["record_id"]
    codes, keys = pd.factorize(edges["key"])
    half = len(pairs)
    graph = coo_matrix((np.ones(half), (codes[:half], codes[half:])), shape=(len(keys),) * 2)
    _, component = connected_components(graph, directed=False)
    records = (
        edges.groupby("key", sort=False)
        .agg(
            province_code=("province_code", "first"),
            record_id=("record_id", "first"),
            household_id=("household_id", "first"),
            match_probability=("match_probability", "max"),
        )
        .reindex(pd.Index(keys, name="key"))
        .reset_index()
    )
    records["component"] = component
    smallest = records.groupby("component")["key"].transform("min")
    records["cluster_id"] = record_reference(smallest, secret)
    records["provinces"] = records.groupby("component")["province_code"].transform(
        lambda p: ", ".join(sorted(set(p)))
    )
    records["match_probability"] = records["match_probability"].round(6)
    table = records.sort_values(["cluster_id", "province_code", "record_id"], ignore_index=True)
    return NationalRun(table[list(NATIONAL_COLUMNS)], len(pairs))
