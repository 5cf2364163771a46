"""The persons suite (Great Expectations) run over a province, commune batch by batch.

Each batch is a run of its own in the Data Docs, as a table read whole is; the Data
Docs are rendered once, after the last batch. A batch holds whole households, so the
household expectations hold per batch; uniqueness is judged within each batch (the
record rules judge shared citizen IDs across the province).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from assets.quality.batches import BATCH_PERSONS, PERSONS, commune_batches, read_batch
from assets.warehouse import Session, Warehouse
from expectations.schemas import TABLES
from expectations.suites import SuiteResult, combine_results, validate_batches


def validate_persons_by_commune(
    warehouse: Warehouse,
    con: Session,
    *,
    parameters: Mapping[str, Any],
    run_name: str,
    data_docs_dir: Path | str | None = None,
    max_persons: int = BATCH_PERSONS,
) -> SuiteResult:
    """The persons suite's result on ``staging.persons``, its counts summed over the
    commune batches (runs ``"{run_name} batch N of M"``)."""
    batches = commune_batches(warehouse, con, PERSONS, max_persons)

    def frames() -> Iterator[tuple[str, pd.DataFrame]]:
        for number, batch in enumerate(batches, start=1):
            name = f"{run_name} batch {number} of {len(batches)}"
            yield name, read_batch(warehouse, con, PERSONS, batch)

    return combine_results(
        validate_batches(
            frames(), TABLES[PERSONS], parameters=parameters, data_docs_dir=data_docs_dir
        )
    )
