"""Dagster wiring of national duplicate detection (logic: ``assets.quality.national``).

``quality/national_export`` (per province) writes the province's restricted Parquet
export; ``quality/national_duplicates`` (unpartitioned, so it depends on every
province's partition) links them on Spark and writes each province's cross-province
clusters back to its own rows of ``quality.national_duplicates``. Where Spark runs is
the ``spark`` resource: ``local[N]`` on this machine, a master URL (``spark://…``,
``yarn``, ``k8s://…``) or a Spark Connect URL (``sc://host:15002``).
"""

from pathlib import Path

import dagster as dg
import pandas as pd

from assets.materialised import row_count
from assets.privacy import RecordReferences
from assets.provinces import PROVINCE_PARTITIONS
from assets.quality.defs import PERSONS_KEY, data_docs_dir
from assets.quality.duplicates import SPLINK_COLUMNS, DuplicateSettings, trained_model
from assets.quality.national import (
    PROVINCE,
    cross_province_clusters,
    link_on_spark,
    read_restricted_persons,
    write_restricted_persons,
)
from assets.warehouse import Warehouse

EXPORT_KEY = dg.AssetKey(["quality", "national_export"])
TRAINING_SAMPLE = 50_000  # records the model is trained on, drawn across provinces


class SparkResource(dg.ConfigurableResource):
    """Where the national job runs: ``master`` (local[N], spark://host:7077, yarn,
    k8s://…) or, when set, ``remote`` (a Spark Connect URL, sc://host:15002)."""

    master: str = "local[2]"
    remote: str = ""
    conf: dict[str, str] = {}  # noqa: RUF012 (pydantic copies the default per instance)

    def session(self):
        from assets.quality.national import spark_session

        return spark_session(self.master, self.remote or None, **self.conf)


class NationalConfig(dg.Config):
    threshold: float = DuplicateSettings.threshold
    folder: str = ""  # the restricted exports' folder (default: beside the warehouse)


def national_dir(warehouse: Warehouse, configured: str = "") -> Path:
    """The restricted folder of the national exports: the warehouse's restricted zone."""
    return Path(configured) if configured else data_docs_dir(warehouse).parent / "national"


@dg.asset(
    key=EXPORT_KEY,
    deps=[PERSONS_KEY],
    group_name="national",
    partitions_def=PROVINCE_PARTITIONS,
    kinds={"parquet"},
)
def quality_national_export(
    context: dg.AssetExecutionContext,
    config: NationalConfig,
    warehouse: dg.ResourceParam[Warehouse],
) -> None:
    """The province's persons as the duplicate model compares them (restricted)."""
    code = context.partition_key
    persons = warehouse.for_province(code).read_table(
        "staging.persons", columns=list(SPLINK_COLUMNS)
    )
    write_restricted_persons(persons, code, national_dir(warehouse, config.folder))
    context.add_output_metadata({"records": len(persons)})


@dg.asset(
    key=["quality", "national_duplicates"],
    deps=[EXPORT_KEY],
    group_name="national",
    kinds={"spark"},
)
def national_duplicates(
    context: dg.AssetExecutionContext,
    config: NationalConfig,
    warehouse: dg.ResourceParam[Warehouse],
    spark: SparkResource,
    record_references: dg.ResourceParam[RecordReferences],
) -> None:
    """Persons probably registered in two provinces, written back per province."""
    session = spark.session()
    persons = read_restricted_persons(session, national_dir(warehouse, config.folder))
    total = persons.count()
    fraction = min(1.0, 2 * TRAINING_SAMPLE / max(total, 1))
    sample = persons.sample(fraction=fraction, seed=DuplicateSettings.seed).toPandas()
    sample = sample.head(TRAINING_SAMPLE)
    sample["birth_date"] = pd.to_datetime(sample["birth_date"])
    model = trained_model(sample.drop(columns=[PROVINCE]), dialect="spark")
    pairs = link_on_spark(session, persons, model, config.threshold)
    run = cross_province_clusters(pairs, record_references.secret)
    provinces = sorted(persons.select(PROVINCE).distinct().toPandas()[PROVINCE])
    for code in provinces:
        rows = run.table[run.table["province_code"] == code]
        warehouse.for_province(code).write_table("quality.national_duplicates", rows)
    metadata = {
        "records_in": int(total),
        "provinces": len(provinces),
        "pairs_linked": run.pairs_linked,
        "clusters": int(run.table["cluster_id"].nunique()),
    }
    context.add_output_metadata(metadata | row_count(len(run.table)))
    context.log.info(f"national duplicates: {metadata}")


# Not part of a province's run (pipelines.jobs): materialised for all provinces at once.
NATIONAL_ASSETS = [quality_national_export, national_duplicates]
