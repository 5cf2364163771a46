"""How values were read when they were not written as the contract writes them.

An office's file says "CH" for the head of household, loses a citizen ID's leading zero
in Excel or writes a block of birth dates month-first. Staging reads what it can read
exactly, stages with a warning what it must check, and quarantines what it cannot read;
each of these is counted here per file and field (``staging.value_readings``), so a
figure that publishes says how it was read. Only counts and the first row are kept,
never a value: the fields may be personal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from expectations.schemas import TABLES

VALUE_READINGS = "staging.value_readings"
OUTCOMES = ("recovered", "warned", "quarantined")
_KEY = ["table_name", "source_file", "field_name", "reading"]


def value_readings(
    table_name: str,
    rows: pd.DataFrame,
    mask: np.ndarray | pd.Series,
    *,
    field_name: str,
    reading: str,
    outcome: str,
) -> pd.DataFrame:
    """``staging.value_readings`` rows counting the ``rows[mask]`` per source file.

    ``rows`` needs ``source_file`` and ``source_row_number``; ``reading`` says what was
    done in words an office understands, without quoting a value.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
    hit = rows.loc[np.asarray(mask, dtype=bool), ["source_file", "source_row_number"]]
    counted = (
        hit.groupby("source_file", sort=True)["source_row_number"]
        .agg(["size", "min"])
        .reset_index()
    )
    return TABLES[VALUE_READINGS].enforce(
        pd.DataFrame(
            {
                "table_name": table_name,
                "source_file": counted["source_file"],
                "field_name": field_name,
                "reading": reading,
                "outcome": outcome,
                "records": counted["size"],
                "first_row_number": counted["min"],
            }
        )
    )


def combine_readings(frames: list[pd.DataFrame | None]) -> pd.DataFrame:
    """One row per file, field and reading, over several frames (a file staged in
    chunks counts once)."""
    present = [f for f in frames if f is not None and len(f)]
    if not present:
        return TABLES[VALUE_READINGS].enforce(
            pd.DataFrame({c: [] for c in TABLES[VALUE_READINGS].columns})
        )
    both = pd.concat(present, ignore_index=True)
    combined = both.groupby(_KEY, sort=True, dropna=False).agg(
        outcome=("outcome", "first"),
        records=("records", "sum"),
        first_row_number=("first_row_number", "min"),
    )
    return TABLES[VALUE_READINGS].enforce(combined.reset_index())


def readings_summary(readings: pd.DataFrame) -> dict[str, str]:
    """Run metadata: per outcome, the fields and how many values, e.g.
    ``values_recovered: citizen_id 12 (leading zeros restored)``."""
    summary: dict[str, str] = {}
    for outcome, group in readings.groupby("outcome", sort=True):
        summary[f"values_{outcome}"] = "; ".join(
            f"{r.source_file} {r.field_name}: {int(r.records)} ({r.reading})"
            for r in group.itertuples(index=False)
        )
    return summary
