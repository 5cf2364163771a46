"""The duplicate step reads staged persons a range of landed rows at a time: every
record of the province once, whatever the edges, and no other province's."""

from __future__ import annotations

import pandas as pd

from assets.quality.duplicate_records import SPLINK_COLUMNS, person_slices
from assets.warehouse import Warehouse
from expectations.schemas import TABLES


def _staged(province: str, rows: list[int | None], files: list[str | None]) -> pd.DataFrame:
    n = len(rows)
    return TABLES["staging.persons"].enforce(
        pd.DataFrame(
            {
                "record_id": [f"{province}:{f}:{r}" for f, r in zip(files, rows, strict=True)],
                "citizen_id": [None] * n,
                "full_name": ["Lò Văn A"] * n,
                "birth_date": pd.to_datetime(["1990-01-01"] * n),
                "birth_date_is_partial": [False] * n,
                "birth_date_order_unproven": [False] * n,
                "invalid_values": [None] * n,
                "sex": ["nam"] * n,
                "household_id": [f"H{i}" for i in range(n)],
                "relation_to_head": ["Chủ hộ"] * n,
                "is_household_head": [True] * n,
                "ethnicity": ["Kinh"] * n,
                "source_file": files,
                "source_sha256": ["0" * 64] * n,
                "source_row_number": pd.array(rows, dtype="Int64"),
                "load_id": ["0"] * n,
            }
        )
    )


def test_every_record_is_read_once_whatever_the_edges(tmp_path):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    # Rows 1–5 of one file, 2 and 9 of another, one record without a row number; slices
    # of 2 rows cut 1–2 | 3–4 | 5, and 2 | 9 apart.
    ours = _staged(
        "04",
        [1, 2, 3, 4, 5, 2, 9, None],
        ["a.csv"] * 5 + ["b.csv"] * 2 + [None],
    )
    theirs = _staged("05", [1, 2], ["a.csv", "a.csv"])
    warehouse.for_province("04").write_table("staging.persons", ours)
    warehouse.for_province("05").write_table("staging.persons", theirs)
    slices = list(person_slices(warehouse.for_province("04"), max_persons=2))
    read = pd.concat(slices, ignore_index=True)
    assert sorted(read["record_id"]) == sorted(ours["record_id"])  # none lost, none twice
    assert list(read.columns) == list(SPLINK_COLUMNS)
    assert max(len(s) for s in slices) <= 2
