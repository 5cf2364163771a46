"""Benchmark: candidate pairs of the duplicate model's blocking rules, rule by rule, on a
province of any size (the 14 M landing file included).

    cp /tmp/b22/large/warehouse.duckdb /tmp/mine/w.duckdb   # DuckDB locks the file
    .venv/bin/python bench/bench_blocking.py /tmp/mine/w.duckdb --earlier
    .venv/bin/python bench/bench_blocking.py /tmp/synth14m/hcmc/landing/04/persons.csv \\
        --earlier --earlier-sample 0.05

The records are the persons of a warehouse's ``staging.persons`` or of a landing persons
file (its Vietnamese headers, dates as dd/mm/yyyy). They never make one pandas frame:
the model's name forms (``name_forms``) are made once per distinct name (a few ten thousand) and
joined to the records in a DuckDB file under ``--work`` (a temporary folder unless
given). Splink's blocking analysis then counts each rule's pairs that no earlier rule
found and the running total: exactly for the model's rules, from a sample of records for
the rules before issue 22 (``--earlier``: some 800 M pairs at 14 M). Prints CPU seconds
and the peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import duckdb
from bench_pipeline import RssSampler

from assets.quality.duplicate_records import name_forms
from assets.quality.duplicates import SPLINK_COLUMNS, _prediction_rules
from expectations.schemas import FIELDS

# The rules before issue 22, to count against.
EARLIER_RULES = (
    ("birth_date", "family_folded"),
    ("birth_date", "given_folded"),
    ("name_folded", "birth_year"),
)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _persons(con: duckdb.DuckDBPyConnection, source: Path) -> duckdb.DuckDBPyRelation:
    """record_id, full_name, birth_date (DATE) and citizen_id of every person."""
    if source.suffix.lower() == ".csv":
        landing = con.read_csv(str(source), header=True, all_varchar=True)
        label = {c: duckdb.ColumnExpression(FIELDS[c].label_vi) for c in SPLINK_COLUMNS[2:]}
        return landing.select(
            duckdb.SQLExpression("row_number() over ()").cast("VARCHAR").alias("record_id"),
            label["full_name"].alias("full_name"),
            duckdb.FunctionExpression(
                "try_strptime", label["birth_date"], duckdb.ConstantExpression("%d/%m/%Y")
            )
            .cast("DATE")
            .alias("birth_date"),
            label["citizen_id"].alias("citizen_id"),
        )
    warehouse = duckdb.connect(str(source), read_only=True)
    batches = warehouse.table("staging.persons").select(
        "record_id", "full_name", "birth_date", "citizen_id"
    )
    return con.from_arrow(batches.to_arrow_reader(250_000))


def blocking_keys(con: duckdb.DuckDBPyConnection, source: Path) -> int:
    """Table ``blocking_keys``: the columns the rules read, one row per person."""
    _persons(con, source).create("persons")
    names = con.table("persons").select("full_name").filter("full_name IS NOT NULL").distinct()
    forms = name_forms(names.df()["full_name"])
    con.register("name_forms", forms)
    con.execute(
        """
        CREATE TABLE blocking_keys AS
        SELECT p.record_id AS unique_id, f.* EXCLUDE (full_name), p.birth_date,
            year(p.birth_date) AS birth_year, nullif(trim(p.citizen_id), '') AS citizen_id
        FROM persons AS p LEFT JOIN name_forms AS f USING (full_name)
        """
    )
    con.execute("DROP TABLE persons")
    return con.table("blocking_keys").aggregate("count(*)").fetchone()[0]


def _count(con: duckdb.DuckDBPyConnection, rules: list, sample: float) -> list[dict]:
    from splink import DuckDBAPI
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    records = DuckDBAPI(con).register("blocking_keys")
    return count_comparisons_from_blocking_rules(
        records, blocking_rules=rules, link_type="dedupe_only", record_sample_proportion=sample
    )


def main() -> None:
    from splink import block_on

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="a warehouse copy (.duckdb) or persons.csv")
    parser.add_argument("--earlier", action="store_true", help="count the earlier rules too")
    parser.add_argument("--earlier-sample", type=float, default=1.0, help="records sampled")
    parser.add_argument("--work", type=Path, help="folder of the DuckDB work file")
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB's memory limit")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.work) as work, RssSampler() as sampler:
        start, cpu = time.time(), _cpu_seconds()
        con = duckdb.connect(str(Path(work) / "blocking.duckdb"))
        con.execute("SET memory_limit = ?", [args.memory_limit])
        con.execute("SET temp_directory = ?", [str(Path(work) / "spill")])
        con.execute("SET preserve_insertion_order = false")
        records = blocking_keys(con, args.source)
        print(f"{records:,} persons, keys in {_cpu_seconds() - cpu:.1f} s CPU")
        sets = [("rules", _prediction_rules(), 1.0)]
        if args.earlier:
            earlier = [block_on(*columns) for columns in EARLIER_RULES]
            sets.append(("earlier rules", earlier, args.earlier_sample))
        for label, rules, sample in sets:
            counted = _cpu_seconds()
            counts = _count(con, rules, sample)
            estimate = " (estimated from a sample)" if sample < 1 else ""
            print(f"{label}{estimate}: marginal, cumulative pairs")
            for row in counts:
                rule = " ".join(row["blocking_rule"].split())
                print(
                    f"  {row['marginal_comparison_count']:>13,} "
                    f"{row['cumulative_comparison_count']:>13,}  {rule[:110]}"
                )
            print(f"  counted in {_cpu_seconds() - counted:.1f} s CPU")
        con.close()
        end = time.time()
    print(f"{_cpu_seconds() - cpu:.1f} s CPU, peak RSS {sampler.peak_gb(start, end):.2f} GB")


if __name__ == "__main__":
    main()
